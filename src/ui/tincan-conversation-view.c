/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-conversation-view"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "tincan-conversation-view.h"
#include "tincan-message-row.h"

/* How close to an edge (px) still counts as "at" it. */
#define EDGE_SLACK 48
/* While the view follows the newest messages, the model keeps only
 * about this many screens of them (at least TAIL_MIN rows of
 * TAIL_ROW_PX): GtkListView builds a row for every new item near the
 * bottom, so under a flood the cost of a batch is bounded by the tail,
 * not by the batch. Scrolling up pages older messages in again. */
#define TAIL_MIN 30
#define TAIL_ROW_PX 25
/* The first page: GTK 4.8's list view builds and measures a row for every
 * item of a short model before its first frame (~1.2 ms of CPU a row here,
 * half of it text shaping), so it opens with about a screenful and a
 * window taller than that pages in more at once (on_upper_changed()).
 * Then pages of PAGE_SIZE as the user scrolls up. */
#define FIRST_PAGE 20
#define PAGE_SIZE 100
/* Messages of the same sender closer than this are grouped. */
#define GROUP_MS (5 * 60 * 1000)

struct _TincanConversationView
{
  GtkWidget          parent_instance;

  TincanSession     *session;
  char              *room;
  TincanMessageList *model;
  GtkNoSelection    *selection;
  GtkAdjustment     *vadjustment;

  GtkWidget         *overlay;
  GtkWidget         *scrolled_window;
  GtkListView       *list_view;
  GtkRevealer       *jump_revealer;
  GtkLabel          *jump_label;
  GtkRevealer       *notice_revealer;
  GtkImage          *notice_image;
  GtkLabel          *notice_label;
  GtkWidget         *composer_box;
  GtkTextView       *composer;
  GtkLabel          *placeholder_label;
  GtkWidget         *send_button;

  guint              unseen;
  guint              load_older_id;
  guint              load_newer_id;
  guint              scroll_id;
  guint              scroll_tick_id;

  guint              sticky : 1;
  guint              scrolling : 1;
};

enum {
  PROP_0,
  PROP_SESSION,
  PROP_ROOM,
  PROP_MODEL,
  PROP_AT_BOTTOM,
  PROP_UNSEEN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanConversationView, tincan_conversation_view, GTK_TYPE_WIDGET)

static void
show_toast (TincanConversationView *self,
            const char             *title)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (title));
  else
    g_debug ("%s", title);
}

static void
set_unseen (TincanConversationView *self,
            guint                   unseen)
{
  g_autofree char *text = NULL;

  if (self->unseen == unseen)
    return;

  self->unseen = unseen;
  if (unseen > 0)
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u new message", "%u new messages", unseen),
                            unseen);
  else
    text = g_strdup (_("Jump to Latest"));
  gtk_label_set_text (self->jump_label, text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNSEEN]);
}

static gboolean
compute_at_bottom (TincanConversationView *self)
{
  double value = gtk_adjustment_get_value (self->vadjustment);
  double upper = gtk_adjustment_get_upper (self->vadjustment);
  double page = gtk_adjustment_get_page_size (self->vadjustment);

  return value + page >= upper - EDGE_SLACK;
}

static void
update_tail (TincanConversationView *self)
{
  guint tail = 0;

  if (self->model == NULL)
    return;

  if (self->sticky)
    {
      double page = self->vadjustment != NULL ? gtk_adjustment_get_page_size (self->vadjustment) : 0;

      tail = MAX (TAIL_MIN, (guint) (page / TAIL_ROW_PX));
    }
  g_object_set (self->model, "tail-size", tail, NULL);
}

static void
set_sticky (TincanConversationView *self,
            gboolean                sticky)
{
  sticky = !!sticky;
  if (self->sticky == sticky)
    return;

  self->sticky = sticky;
  update_tail (self);
  gtk_revealer_set_reveal_child (self->jump_revealer, !sticky);
  if (sticky)
    set_unseen (self, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AT_BOTTOM]);
}

static void
scroll_to_end_now (TincanConversationView *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->model));
  double upper = gtk_adjustment_get_upper (self->vadjustment);
  double page = gtk_adjustment_get_page_size (self->vadjustment);

  self->scrolling = TRUE;
  if (n > 0)
    gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", n - 1);
  gtk_adjustment_set_value (self->vadjustment, MAX (0, upper - page));
  self->scrolling = FALSE;
}

static gboolean
scroll_to_end_idle (gpointer user_data)
{
  TincanConversationView *self = user_data;

  self->scroll_id = 0;
  if (self->sticky)
    scroll_to_end_now (self);

  return G_SOURCE_REMOVE;
}

static gboolean
scroll_to_end_tick (GtkWidget     *widget,
                    GdkFrameClock *clock,
                    gpointer       user_data)
{
  TincanConversationView *self = user_data;

  self->scroll_tick_id = 0;
  if (self->sticky)
    scroll_to_end_now (self);

  return G_SOURCE_REMOVE;
}

/* At most once per frame, however many batches arrive: a tick callback
 * of the frame clock while the view is shown, an idle otherwise. */
static void
queue_scroll_to_end (TincanConversationView *self)
{
  if (self->scroll_tick_id != 0 || self->scroll_id != 0)
    return;

  if (gtk_widget_get_mapped (GTK_WIDGET (self->list_view)))
    self->scroll_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self->list_view),
                                                         scroll_to_end_tick, self, NULL);
  else
    self->scroll_id = g_idle_add_full (GDK_PRIORITY_REDRAW + 1, scroll_to_end_idle, self, NULL);
}

static gboolean
load_older_idle (gpointer user_data)
{
  TincanConversationView *self = user_data;

  self->load_older_id = 0;
  tincan_message_list_load_older (self->model);

  return G_SOURCE_REMOVE;
}

static gboolean
load_newer_idle (gpointer user_data)
{
  TincanConversationView *self = user_data;

  self->load_newer_id = 0;
  tincan_message_list_load_newer (self->model);

  return G_SOURCE_REMOVE;
}

static void
on_value_changed (TincanConversationView *self,
                  GtkAdjustment          *adjustment)
{
  gboolean has_newer;

  if (self->scrolling)
    return;

  /* The bottom of a window that was paged up is not the newest message. */
  has_newer = tincan_message_list_get_has_newer (self->model);
  set_sticky (self, compute_at_bottom (self) && !has_newer);

  if (has_newer &&
      gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment) * 1.5 >=
      gtk_adjustment_get_upper (adjustment) &&
      self->load_newer_id == 0)
    self->load_newer_id = g_idle_add (load_newer_idle, self);

  if (gtk_adjustment_get_value (adjustment) <= gtk_adjustment_get_page_size (adjustment) / 2 &&
      gtk_adjustment_get_upper (adjustment) > gtk_adjustment_get_page_size (adjustment) &&
      tincan_message_list_get_has_more (self->model) &&
      self->load_older_id == 0)
    self->load_older_id = g_idle_add (load_older_idle, self);
}

static void
on_upper_changed (TincanConversationView *self)
{
  /* A page shorter than the view (a tall window) cannot be scrolled up to
   * ask for more: page in until it is filled. */
  if (gtk_adjustment_get_upper (self->vadjustment) <= gtk_adjustment_get_page_size (self->vadjustment) &&
      gtk_adjustment_get_page_size (self->vadjustment) > 0 &&
      tincan_message_list_get_has_more (self->model) &&
      self->load_older_id == 0)
    self->load_older_id = g_idle_add (load_older_idle, self);

  if (self->sticky)
    {
      double upper = gtk_adjustment_get_upper (self->vadjustment);
      double page = gtk_adjustment_get_page_size (self->vadjustment);

      self->scrolling = TRUE;
      gtk_adjustment_set_value (self->vadjustment, MAX (0, upper - page));
      self->scrolling = FALSE;
    }
}

static void
on_items_changed (TincanConversationView *self,
                  guint                   position,
                  guint                   removed,
                  guint                   added,
                  GListModel             *model)
{
  guint n = g_list_model_get_n_items (model);

  /* History paged in, not new messages. */
  if (tincan_message_list_get_loading (self->model))
    return;

  /* Appended at the bottom: new messages. */
  if (added > 0 && position + added == n)
    {
      gboolean own = FALSE;

      for (guint i = position; i < n; i++)
        {
          g_autoptr (TincanMessage) message = g_list_model_get_item (model, i);

          if (tincan_message_is_outgoing (message))
            own = TRUE;
        }

      /* Sending something means the user wants to see it. */
      if (own)
        set_sticky (self, TRUE);

      if (self->sticky)
        queue_scroll_to_end (self);
      else
        set_unseen (self, self->unseen + added);
    }
}

static gint64
message_time (TincanMessage *message)
{
  gint64 ts = tincan_message_get_timestamp (message);

  return ts > 0 ? ts : tincan_message_get_local_timestamp (message);
}

/* The local calendar day of @ms as one comparable number. */
static int
local_day (gint64 ms)
{
  g_autoptr (GDateTime) when = tincan_date_time_new_local (ms);
  int y, m, d;

  if (when == NULL)
    return 0;
  g_date_time_get_ymd (when, &y, &m, &d);
  return (y * 100 + m) * 100 + d;
}

/* What a row's day separator and grouping were computed from: they are
 * recomputed only when the message or its predecessor changes, not each
 * time positions shift (as when the oldest messages are trimmed). */
typedef struct
{
  gpointer message;   /* compared, never dereferenced */
  gpointer previous;
} RowContext;

static void
update_row_context (GtkListItem            *item,
                    TincanConversationView *self)
{
  GtkWidget *row = gtk_list_item_get_child (item);
  TincanMessage *message = gtk_list_item_get_item (item);
  guint position = gtk_list_item_get_position (item);
  g_autoptr (TincanMessage) previous = NULL;
  g_autofree char *day = NULL;
  gboolean continuation = FALSE;
  RowContext *context;
  gint64 ts;

  if (row == NULL || message == NULL || position == GTK_INVALID_LIST_POSITION)
    return;

  if (position > 0)
    previous = g_list_model_get_item (G_LIST_MODEL (self->model), position - 1);

  context = g_object_get_data (G_OBJECT (item), "tincan-row-context");
  if (context == NULL)
    {
      context = g_new0 (RowContext, 1);
      g_object_set_data_full (G_OBJECT (item), "tincan-row-context", context, g_free);
    }
  else if (context->message == (gpointer) message && context->previous == (gpointer) previous)
    return;
  context->message = message;
  context->previous = previous;

  ts = message_time (message);

  if (previous != NULL)
    {
      gint64 pts = message_time (previous);

      if (local_day (pts) != local_day (ts))
        day = tincan_format_day (ts);

      continuation = day == NULL &&
                     g_strcmp0 (tincan_message_get_sender (previous),
                                tincan_message_get_sender (message)) == 0 &&
                     ts - pts < GROUP_MS && ts >= pts;
    }
  else
    day = tincan_format_day (ts);

  tincan_message_row_set_day (TINCAN_MESSAGE_ROW (row), day);
  tincan_message_row_set_continuation (TINCAN_MESSAGE_ROW (row), continuation);
}

static void
on_list_item_notify (GtkListItem *item,
                     GParamSpec  *pspec,
                     gpointer     user_data)
{
  update_row_context (item, user_data);
}

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           TincanConversationView   *self)
{
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  gtk_list_item_set_child (item, tincan_message_row_new ());
  g_signal_connect_object (item, "notify::position", G_CALLBACK (on_list_item_notify), self, 0);
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          TincanConversationView   *self)
{
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (gtk_list_item_get_child (item)),
                                  gtk_list_item_get_item (item));
  update_row_context (item, self);
}

static void
unbind_row (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            TincanConversationView   *self)
{
  RowContext *context = g_object_get_data (G_OBJECT (item), "tincan-row-context");

  /* The row keeps its message: GTK 4.8 unbinds and binds every row whose
   * position shifts (each page of history paged in above them), and
   * binding the same message again is then free. */
  if (context != NULL)
    context->previous = context;  /* unknown: recomputed on the next bind */
}

static void
update_notice (TincanConversationView *self)
{
  TincanConnection *connection = tincan_session_get_connection (self->session);
  TincanConnectionState state = tincan_connection_get_state (connection);
  guint queued = tincan_connection_get_queued_count (connection);
  g_autofree char *text = NULL;
  gboolean failed = state == TINCAN_CONNECTION_STATE_FAILED;

  switch (state)
    {
    case TINCAN_CONNECTION_STATE_CONNECTED:
      break;

    case TINCAN_CONNECTION_STATE_FAILED:
      {
        g_autofree char *failure = tincan_session_dup_failure (self->session);

        /* Translators: %s says why the connection failed */
        text = g_strdup_printf (_("You can’t send messages: %s"), failure);
      }
      break;

    case TINCAN_CONNECTION_STATE_OFFLINE:
    case TINCAN_CONNECTION_STATE_RECONNECTING:
    case TINCAN_CONNECTION_STATE_CONNECTING:
    case TINCAN_CONNECTION_STATE_DISCONNECTED:
      if (queued > 0)
        text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                             "Not connected — %u message is queued and will be sent when the connection is back",
                                             "Not connected — %u messages are queued and will be sent when the connection is back",
                                             queued),
                                queued);
      else
        text = g_strdup (_("Not connected — messages you send are queued until the connection is back"));
      break;

    default:
      g_assert_not_reached ();
    }

  gtk_label_set_text (self->notice_label, text != NULL ? text : "");
  gtk_image_set_from_icon_name (self->notice_image,
                                failed ? "dialog-error-symbolic" : "tincan-queued-symbolic");
  if (failed)
    gtk_widget_add_css_class (GTK_WIDGET (self->notice_revealer), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->notice_revealer), "error");
  gtk_revealer_set_reveal_child (self->notice_revealer, text != NULL);

  gtk_widget_set_sensitive (GTK_WIDGET (self->composer), !failed);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.send", !failed);
}

static gboolean
on_composer_key_pressed (GtkEventControllerKey  *controller,
                         guint                   keyval,
                         guint                   keycode,
                         GdkModifierType         state,
                         TincanConversationView *self)
{
  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;

  /* Shift+Enter (and Ctrl/Alt+Enter) insert a newline as usual. */
  if ((state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0)
    return GDK_EVENT_PROPAGATE;

  tincan_conversation_view_send (self);

  return GDK_EVENT_STOP;
}

static void
on_buffer_changed (TincanConversationView *self,
                   GtkTextBuffer          *buffer)
{
  gtk_widget_set_visible (GTK_WIDGET (self->placeholder_label),
                          gtk_text_buffer_get_char_count (buffer) == 0);
}

static TincanMessage *
find_message_by_cid (TincanConversationView *self,
                     const char             *cid)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->model));

  for (guint i = n; i > 0; i--)
    {
      g_autoptr (TincanMessage) message = g_list_model_get_item (G_LIST_MODEL (self->model), i - 1);

      if (g_strcmp0 (tincan_message_get_cid (message), cid) == 0)
        return g_steal_pointer (&message);
    }

  return NULL;
}

static void
send_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  tincan_conversation_view_send (TINCAN_CONVERSATION_VIEW (widget));
  tincan_conversation_view_focus_composer (TINCAN_CONVERSATION_VIEW (widget));
}

static void
retry_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (widget);
  g_autoptr (TincanMessage) message = find_message_by_cid (self, g_variant_get_string (parameter, NULL));
  g_autoptr (GError) error = NULL;

  if (message == NULL)
    return;

  if (!tincan_connection_retry (tincan_session_get_connection (self->session), message, &error))
    show_toast (self, error->message);
  else if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_FAILED)
    /* The connection changed its own instance; show the retry at once. */
    tincan_message_set_state (message, TINCAN_MESSAGE_STATE_QUEUED);
}

static void
discard_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (widget);
  g_autoptr (TincanMessage) message = find_message_by_cid (self, g_variant_get_string (parameter, NULL));
  g_autoptr (GError) error = NULL;

  if (message == NULL)
    return;

  if (!tincan_connection_discard (tincan_session_get_connection (self->session), message, &error))
    {
      show_toast (self, error->message);
      return;
    }

  tincan_message_list_remove_message (self->model, message);
  show_toast (self, _("Message deleted"));
}

static void
jump_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  tincan_conversation_view_scroll_to_bottom (TINCAN_CONVERSATION_VIEW (widget));
}

static void
tincan_conversation_view_constructed (GObject *object)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (object);
  TincanConnection *connection;
  GtkListItemFactory *factory;

  G_OBJECT_CLASS (tincan_conversation_view_parent_class)->constructed (object);

  g_return_if_fail (TINCAN_IS_SESSION (self->session));
  g_return_if_fail (self->room != NULL);

  connection = tincan_session_get_connection (self->session);
  self->model = g_object_new (TINCAN_TYPE_MESSAGE_LIST,
                              "connection", connection,
                              "room", self->room,
                              "page-size", FIRST_PAGE,
                              NULL);
  g_object_set (self->model, "page-size", PAGE_SIZE, NULL);
  self->selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->model)));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect_object (factory, "setup", G_CALLBACK (setup_row), self, 0);
  g_signal_connect_object (factory, "bind", G_CALLBACK (bind_row), self, 0);
  g_signal_connect_object (factory, "unbind", G_CALLBACK (unbind_row), self, 0);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));

  g_signal_connect_object (self->model, "items-changed",
                           G_CALLBACK (on_items_changed), self, G_CONNECT_SWAPPED);

  self->vadjustment = g_object_ref (gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->list_view)));
  g_signal_connect_object (self->vadjustment, "value-changed",
                           G_CALLBACK (on_value_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "notify::upper",
                           G_CALLBACK (on_upper_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "notify::page-size",
                           G_CALLBACK (on_upper_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "notify::page-size",
                           G_CALLBACK (update_tail), self, G_CONNECT_SWAPPED);
  update_tail (self);

  g_signal_connect_object (connection, "notify::state",
                           G_CALLBACK (update_notice), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (connection, "notify::queued-count",
                           G_CALLBACK (update_notice), self, G_CONNECT_SWAPPED);
  update_notice (self);

  {
    g_autofree char *label = g_strdup_printf (_("Message #%s"), self->room);

    gtk_accessible_update_property (GTK_ACCESSIBLE (self->composer),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                    -1);
    gtk_label_set_text (self->placeholder_label, label);
  }

  queue_scroll_to_end (self);
}

static void
tincan_conversation_view_dispose (GObject *object)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (object);

  g_clear_handle_id (&self->load_older_id, g_source_remove);
  g_clear_handle_id (&self->load_newer_id, g_source_remove);
  g_clear_handle_id (&self->scroll_id, g_source_remove);
  if (self->scroll_tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->scroll_tick_id);
      self->scroll_tick_id = 0;
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), TINCAN_TYPE_CONVERSATION_VIEW);
  g_clear_object (&self->vadjustment);
  g_clear_object (&self->selection);
  g_clear_object (&self->model);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (tincan_conversation_view_parent_class)->dispose (object);
}

static void
tincan_conversation_view_finalize (GObject *object)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (object);

  g_clear_pointer (&self->room, g_free);

  G_OBJECT_CLASS (tincan_conversation_view_parent_class)->finalize (object);
}

static void
tincan_conversation_view_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;

    case PROP_ROOM:
      g_value_set_string (value, self->room);
      break;

    case PROP_MODEL:
      g_value_set_object (value, self->model);
      break;

    case PROP_AT_BOTTOM:
      g_value_set_boolean (value, self->sticky);
      break;

    case PROP_UNSEEN:
      g_value_set_uint (value, self->unseen);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_conversation_view_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  TincanConversationView *self = TINCAN_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;

    case PROP_ROOM:
      self->room = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_conversation_view_class_init (TincanConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = tincan_conversation_view_constructed;
  object_class->dispose = tincan_conversation_view_dispose;
  object_class->finalize = tincan_conversation_view_finalize;
  object_class->get_property = tincan_conversation_view_get_property;
  object_class->set_property = tincan_conversation_view_set_property;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, TINCAN_TYPE_SESSION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ROOM] =
    g_param_spec_string ("room", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, TINCAN_TYPE_MESSAGE_LIST,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_AT_BOTTOM] =
    g_param_spec_boolean ("at-bottom", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNSEEN] =
    g_param_spec_uint ("unseen", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, overlay);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, scrolled_window);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, list_view);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, jump_revealer);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, jump_label);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, notice_revealer);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, notice_image);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, notice_label);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, composer_box);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, composer);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, placeholder_label);
  gtk_widget_class_bind_template_child (widget_class, TincanConversationView, send_button);

  gtk_widget_class_install_action (widget_class, "conversation.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "conversation.retry", "s", retry_action);
  gtk_widget_class_install_action (widget_class, "conversation.discard", "s", discard_action);
  gtk_widget_class_install_action (widget_class, "conversation.jump-to-latest", NULL, jump_action);

  gtk_widget_class_set_css_name (widget_class, "conversation");
}

static void
tincan_conversation_view_init (TincanConversationView *self)
{
  GtkEventController *controller;

  self->sticky = TRUE;

  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_label_set_text (self->jump_label, _("Jump to Latest"));

  controller = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_object (controller, "key-pressed",
                           G_CALLBACK (on_composer_key_pressed), self, 0);
  gtk_widget_add_controller (GTK_WIDGET (self->composer), controller);

  g_signal_connect_object (gtk_text_view_get_buffer (self->composer), "changed",
                           G_CALLBACK (on_buffer_changed), self, G_CONNECT_SWAPPED);
}

GtkWidget *
tincan_conversation_view_new (TincanSession *session,
                              const char    *room)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (session), NULL);
  g_return_val_if_fail (room != NULL, NULL);

  return g_object_new (TINCAN_TYPE_CONVERSATION_VIEW,
                       "session", session,
                       "room", room,
                       NULL);
}

TincanSession *
tincan_conversation_view_get_session (TincanConversationView *self)
{
  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), NULL);

  return self->session;
}

const char *
tincan_conversation_view_get_room (TincanConversationView *self)
{
  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), NULL);

  return self->room;
}

TincanMessageList *
tincan_conversation_view_get_model (TincanConversationView *self)
{
  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), NULL);

  return self->model;
}

GtkTextView *
tincan_conversation_view_get_composer (TincanConversationView *self)
{
  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), NULL);

  return self->composer;
}

GtkListView *
tincan_conversation_view_get_list_view (TincanConversationView *self)
{
  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), NULL);

  return self->list_view;
}

gboolean
tincan_conversation_view_send (TincanConversationView *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  g_autofree char *trimmed = NULL;
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), FALSE);

  if (!gtk_widget_get_sensitive (GTK_WIDGET (self->composer)))
    return FALSE;

  buffer = gtk_text_view_get_buffer (self->composer);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  trimmed = g_strstrip (g_strdup (text));
  if (*trimmed == '\0')
    return FALSE;

  message = tincan_connection_send (tincan_session_get_connection (self->session),
                                    self->room, trimmed, &error);
  if (message == NULL)
    {
      /* The text stays in the composer so nothing is lost. */
      show_toast (self, error->message);
      return FALSE;
    }

  gtk_text_buffer_set_text (buffer, "", 0);
  set_sticky (self, TRUE);
  queue_scroll_to_end (self);

  return TRUE;
}

void
tincan_conversation_view_scroll_to_bottom (TincanConversationView *self)
{
  g_return_if_fail (TINCAN_IS_CONVERSATION_VIEW (self));

  /* Back to a bounded window when the user had paged far up. */
  tincan_message_list_trim_to_latest (self->model);
  set_sticky (self, TRUE);
  scroll_to_end_now (self);
  queue_scroll_to_end (self);
}

gboolean
tincan_conversation_view_get_at_bottom (TincanConversationView *self)
{
  g_return_val_if_fail (TINCAN_IS_CONVERSATION_VIEW (self), FALSE);

  return self->sticky;
}

void
tincan_conversation_view_focus_composer (TincanConversationView *self)
{
  g_return_if_fail (TINCAN_IS_CONVERSATION_VIEW (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->composer));
}
