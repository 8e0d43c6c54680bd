/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-window"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "tincan-application.h"
#include "tincan-inspector-pane.h"
#include "tincan-member.h"
#include "tincan-room.h"
#include "tincan-server-dialog.h"
#include "tincan-window.h"

#define NOTIFY_BODY_MAX 200

struct _TincanWindow
{
  AdwApplicationWindow parent_instance;

  GListModel          *sessions;
  GSettings           *settings;
  TincanSession       *session;
  char                *room;
  GSignalGroup        *session_signals;
  GBindingGroup       *room_bindings;
  GPtrArray           *list_boxes;
  char                *restore_room;

  AdwToastOverlay     *toast_overlay;
  GtkStack            *main_stack;
  AdwLeaflet          *leaflet;
  GtkWidget           *sidebar;
  GtkWidget           *sidebar_box;
  GtkWidget           *content;
  AdwWindowTitle      *window_title;
  GtkWidget           *members_button;
  GtkLabel            *members_count_label;
  GtkListView         *members_list;
  GtkWidget           *server_menu_button;
  GtkRevealer         *status_revealer;
  GtkWidget           *status_bar;
  GtkLabel            *status_label;
  GtkWidget           *retry_now_button;
  GtkWidget           *reconnect_button;
  GtkWidget           *edit_server_button;
  GtkStack            *conversation_stack;
  AdwFlap             *inspector_flap;
  GtkStack            *inspector_stack;

  guint                reveal_tick_id;
  /* room → PendingNotification: incoming messages of this main-loop turn,
   * one notification per room and batch (notify_id). */
  GHashTable          *pending_notifications;
  guint                notify_id;
  guint                inspector_visible : 1;
};

enum {
  PROP_0,
  PROP_SESSIONS,
  PROP_SETTINGS,
  PROP_INSPECTOR_VISIBLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanWindow, tincan_window, ADW_TYPE_APPLICATION_WINDOW)

static void rebuild_sidebar (TincanWindow *self);

/* Inspector: one pane per session, in a flap that folds into an overlay
 * on a narrow window. */

static GtkWidget *
find_inspector (TincanWindow  *self,
                TincanSession *session)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->inspector_stack));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (TINCAN_IS_INSPECTOR_PANE (child) &&
          tincan_inspector_pane_get_session (TINCAN_INSPECTOR_PANE (child)) == session)
        return child;
    }

  return NULL;
}

static gboolean
reveal_on_tick (GtkWidget     *widget,
                GdkFrameClock *frame_clock,
                gpointer       user_data)
{
  TincanWindow *self = TINCAN_WINDOW (widget);

  self->reveal_tick_id = 0;
  adw_flap_set_reveal_flap (self->inspector_flap, self->inspector_visible && self->session != NULL);

  return G_SOURCE_REMOVE;
}

/* The flap's spring animation starts from the frame clock's time, which is
 * stale outside a frame (an idle window): its first step then comes out as
 * NaN and the content gets allocated a width of INT_MIN. Inside a tick the
 * time is current. */
static void
queue_reveal (TincanWindow *self)
{
  if (self->reveal_tick_id == 0)
    self->reveal_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), reveal_on_tick, NULL, NULL);
}

static void
sync_inspector (TincanWindow *self)
{
  GtkWidget *pane;

  if (!self->inspector_visible || self->session == NULL)
    {
      queue_reveal (self);
      return;
    }

  pane = find_inspector (self, self->session);
  if (pane == NULL)
    {
      pane = tincan_inspector_pane_new (self->session);
      gtk_stack_add_child (self->inspector_stack, pane);
    }
  gtk_stack_set_visible_child (self->inspector_stack, pane);
  queue_reveal (self);
}

static void
drop_stale_inspectors (TincanWindow *self)
{
  GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->inspector_stack));

  while (child != NULL)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      TincanSession *session = TINCAN_IS_INSPECTOR_PANE (child)
                               ? tincan_inspector_pane_get_session (TINCAN_INSPECTOR_PANE (child))
                               : NULL;
      gboolean found = FALSE;

      for (guint i = 0; session != NULL && i < g_list_model_get_n_items (self->sessions) && !found; i++)
        {
          g_autoptr (TincanSession) item = g_list_model_get_item (self->sessions, i);

          found = item == session;
        }
      if (!found)
        gtk_stack_remove (self->inspector_stack, child);
      child = next;
    }
}

static void
set_inspector_visible (TincanWindow *self,
                       gboolean      visible)
{
  visible = !!visible;
  if (self->inspector_visible != visible)
    {
      self->inspector_visible = visible;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INSPECTOR_VISIBLE]);
    }
  sync_inspector (self);
}

static void
on_flap_revealed (TincanWindow *self)
{
  /* Closed by a swipe or a click outside the folded overlay. */
  if (!adw_flap_get_reveal_flap (self->inspector_flap) && self->inspector_visible &&
      adw_flap_get_folded (self->inspector_flap))
    set_inspector_visible (self, FALSE);
}

TincanInspectorPane *
tincan_window_get_inspector (TincanWindow *self)
{
  g_return_val_if_fail (TINCAN_IS_WINDOW (self), NULL);

  if (!self->inspector_visible || self->session == NULL)
    return NULL;

  return (TincanInspectorPane *) find_inspector (self, self->session);
}

void
tincan_window_add_toast (TincanWindow *self,
                         const char   *title)
{
  AdwToast *toast;

  g_return_if_fail (TINCAN_IS_WINDOW (self));

  toast = adw_toast_new (title);
  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static char *
view_name (TincanSession *session,
           const char    *room)
{
  return g_strdup_printf ("%s/%s",
                          tincan_profile_get_id (tincan_session_get_profile (session)),
                          room);
}

static void
update_status_bar (TincanWindow *self)
{
  TincanConnectionState state;
  gboolean reveal = FALSE;
  g_autofree char *text = NULL;

  if (self->session == NULL)
    {
      adw_window_title_set_subtitle (self->window_title, "");
      gtk_revealer_set_reveal_child (self->status_revealer, FALSE);
      return;
    }

  adw_window_title_set_subtitle (self->window_title, tincan_session_get_status (self->session));

  state = tincan_connection_get_state (tincan_session_get_connection (self->session));
  gtk_widget_set_visible (self->retry_now_button, state == TINCAN_CONNECTION_STATE_RECONNECTING);
  gtk_widget_set_visible (self->reconnect_button,
                          state == TINCAN_CONNECTION_STATE_FAILED ||
                          state == TINCAN_CONNECTION_STATE_DISCONNECTED);
  gtk_widget_set_visible (self->edit_server_button,
                          state == TINCAN_CONNECTION_STATE_FAILED &&
                          tincan_session_get_persistent (self->session));

  gtk_widget_remove_css_class (self->status_bar, "error");
  gtk_widget_remove_css_class (self->status_bar, "warning");

  switch (state)
    {
    case TINCAN_CONNECTION_STATE_RECONNECTING:
    case TINCAN_CONNECTION_STATE_OFFLINE:
    case TINCAN_CONNECTION_STATE_DISCONNECTED:
      reveal = TRUE;
      text = g_strdup (tincan_session_get_status (self->session));
      gtk_widget_add_css_class (self->status_bar, "warning");
      break;

    case TINCAN_CONNECTION_STATE_FAILED:
      reveal = TRUE;
      text = tincan_session_dup_failure (self->session);
      gtk_widget_add_css_class (self->status_bar, "error");
      break;

    case TINCAN_CONNECTION_STATE_CONNECTED:
    case TINCAN_CONNECTION_STATE_CONNECTING:
      break;

    default:
      g_assert_not_reached ();
    }

  gtk_label_set_text (self->status_label, text != NULL ? text : "");
  gtk_revealer_set_reveal_child (self->status_revealer, reveal);
}

static void
update_first_run (TincanWindow *self)
{
  gboolean empty = self->sessions == NULL || g_list_model_get_n_items (self->sessions) == 0;

  gtk_stack_set_visible_child_name (self->main_stack, empty ? "welcome" : "chat");
}

static void
unselect_other_lists (TincanWindow *self,
                      GtkListBox   *keep)
{
  for (guint i = 0; i < self->list_boxes->len; i++)
    {
      GtkListBox *box = g_ptr_array_index (self->list_boxes, i);

      if (box != keep)
        gtk_list_box_unselect_all (box);
    }
}

static void
select_sidebar_row (TincanWindow  *self,
                    TincanSession *session,
                    const char    *room)
{
  for (guint i = 0; i < self->list_boxes->len; i++)
    {
      GtkListBox *box = g_ptr_array_index (self->list_boxes, i);

      if (g_object_get_data (G_OBJECT (box), "session") != session)
        continue;

      for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (box));
           child != NULL;
           child = gtk_widget_get_next_sibling (child))
        {
          TincanRoom *row_room;

          if (!GTK_IS_LIST_BOX_ROW (child))
            continue;
          row_room = g_object_get_data (G_OBJECT (child), "room");
          if (row_room != NULL && g_strcmp0 (tincan_room_get_name (row_room), room) == 0)
            {
              gtk_list_box_select_row (box, GTK_LIST_BOX_ROW (child));
              unselect_other_lists (self, box);
              return;
            }
        }
    }
}

void
tincan_window_open_room (TincanWindow  *self,
                         TincanSession *session,
                         const char    *room)
{
  g_autofree char *name = NULL;
  GtkWidget *view;
  TincanRoom *room_object;

  g_return_if_fail (TINCAN_IS_WINDOW (self));
  g_return_if_fail (TINCAN_IS_SESSION (session));
  g_return_if_fail (room != NULL);

  if (self->session != NULL && self->session != session)
    tincan_session_set_active_room (self->session, NULL);

  g_set_object (&self->session, session);
  g_free (self->room);
  self->room = g_strdup (room);

  room_object = tincan_session_ensure_room (session, room, FALSE);
  tincan_session_set_active_room (session, room);

  name = view_name (session, room);
  view = gtk_stack_get_child_by_name (self->conversation_stack, name);
  if (view == NULL)
    {
      view = tincan_conversation_view_new (session, room);
      gtk_stack_add_named (self->conversation_stack, view, name);
    }
  gtk_stack_set_visible_child (self->conversation_stack, view);

  {
    g_autofree char *title = g_strdup_printf ("#%s", room);
    g_autofree char *window_title = g_strdup_printf ("#%s — %s", room, tincan_session_get_name (session));

    adw_window_title_set_title (self->window_title, title);
    gtk_window_set_title (GTK_WINDOW (self), window_title);
  }

  g_signal_group_set_target (self->session_signals, session);
  g_binding_group_set_source (self->room_bindings, room_object);
  gtk_list_view_set_model (self->members_list,
                           GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (tincan_room_get_members (room_object)))));
  g_object_unref (gtk_list_view_get_model (self->members_list));
  gtk_widget_set_sensitive (self->members_button, TRUE);
  gtk_widget_set_sensitive (self->server_menu_button, TRUE);
  update_status_bar (self);

  select_sidebar_row (self, session, room);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.edit-server",
                                 tincan_session_get_persistent (session));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.remove-server",
                                 tincan_session_get_persistent (session));

  adw_leaflet_set_visible_child (self->leaflet, self->content);
  tincan_conversation_view_focus_composer (TINCAN_CONVERSATION_VIEW (view));
  sync_inspector (self);

  if (self->settings != NULL)
    {
      g_autofree char *last = view_name (session, room);

      g_settings_set_string (self->settings, "last-room", last);
    }
}

TincanConversationView *
tincan_window_get_conversation (TincanWindow *self)
{
  GtkWidget *child;

  g_return_val_if_fail (TINCAN_IS_WINDOW (self), NULL);

  child = gtk_stack_get_visible_child (self->conversation_stack);
  if (TINCAN_IS_CONVERSATION_VIEW (child))
    return TINCAN_CONVERSATION_VIEW (child);

  return NULL;
}

TincanSession *
tincan_window_get_session (TincanWindow *self)
{
  g_return_val_if_fail (TINCAN_IS_WINDOW (self), NULL);

  return self->session;
}

const char *
tincan_window_get_subtitle (TincanWindow *self)
{
  g_return_val_if_fail (TINCAN_IS_WINDOW (self), NULL);

  return adw_window_title_get_subtitle (self->window_title);
}

gboolean
tincan_window_is_first_run (TincanWindow *self)
{
  g_return_val_if_fail (TINCAN_IS_WINDOW (self), FALSE);

  return g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "welcome") == 0;
}

/* Sidebar */

static gboolean
unread_to_label (GBinding     *binding,
                 const GValue *from,
                 GValue       *to,
                 gpointer      user_data)
{
  guint unread = g_value_get_uint (from);

  if (unread == 0)
    g_value_set_string (to, "");
  else if (unread > 999)
    g_value_set_string (to, "999+");
  else
    g_value_take_string (to, g_strdup_printf ("%u", unread));

  return TRUE;
}

static gboolean
unread_to_visible (GBinding     *binding,
                   const GValue *from,
                   GValue       *to,
                   gpointer      user_data)
{
  g_value_set_boolean (to, g_value_get_uint (from) > 0);
  return TRUE;
}

static void
update_row_accessible (GtkWidget *row)
{
  TincanRoom *room = g_object_get_data (G_OBJECT (row), "room");
  g_autofree char *label = NULL;
  guint unread = tincan_room_get_unread (room);

  if (unread > 0)
    label = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Room %s, %u unread message",
                                          "Room %s, %u unread messages", unread),
                             tincan_room_get_name (room), unread);
  else
    label = g_strdup_printf (_("Room %s"), tincan_room_get_name (room));

  gtk_accessible_update_property (GTK_ACCESSIBLE (row),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
}

static GtkWidget *
create_room_row (gpointer item,
                 gpointer user_data)
{
  TincanRoom *room = item;
  GtkWidget *row;
  GtkWidget *box;
  GtkWidget *label;
  GtkWidget *badge;
  GtkWidget *icon;

  row = gtk_list_box_row_new ();
  g_object_set_data_full (G_OBJECT (row), "room", g_object_ref (room), g_object_unref);

  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  icon = gtk_image_new_from_icon_name ("tincan-room-symbolic");
  gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Room"), -1);
  gtk_box_append (GTK_BOX (box), icon);

  label = gtk_label_new (NULL);
  gtk_label_set_use_markup (GTK_LABEL (label), FALSE);
  gtk_label_set_text (GTK_LABEL (label), tincan_room_get_name (room));
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 20);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);

  badge = gtk_label_new (NULL);
  gtk_widget_add_css_class (badge, "unread-badge");
  gtk_widget_add_css_class (badge, "numeric");
  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  g_object_bind_property_full (room, "unread", badge, "label", G_BINDING_SYNC_CREATE,
                               unread_to_label, NULL, NULL, NULL);
  g_object_bind_property_full (room, "unread", badge, "visible", G_BINDING_SYNC_CREATE,
                               unread_to_visible, NULL, NULL, NULL);
  gtk_box_append (GTK_BOX (box), badge);

  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  update_row_accessible (row);
  g_signal_connect_object (room, "notify::unread", G_CALLBACK (update_row_accessible), row,
                           G_CONNECT_SWAPPED);

  return row;
}

static void
on_room_row_activated (GtkListBox    *box,
                       GtkListBoxRow *row,
                       TincanWindow  *self)
{
  TincanSession *session = g_object_get_data (G_OBJECT (box), "session");
  TincanRoom *room = g_object_get_data (G_OBJECT (row), "room");

  if (session == NULL || room == NULL)
    return;

  unselect_other_lists (self, box);
  tincan_window_open_room (self, session, tincan_room_get_name (room));
}

static void
update_section_state (GtkWidget *dot)
{
  TincanSession *session = g_object_get_data (G_OBJECT (dot), "session");
  TincanConnectionState state = tincan_connection_get_state (tincan_session_get_connection (session));
  static const char *classes[] = { "connected", "connecting", "reconnecting", "failed", "offline" };
  const char *klass;

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (dot, classes[i]);

  switch (state)
    {
    case TINCAN_CONNECTION_STATE_CONNECTED:
      klass = "connected";
      break;

    case TINCAN_CONNECTION_STATE_CONNECTING:
      klass = "connecting";
      break;

    case TINCAN_CONNECTION_STATE_RECONNECTING:
      klass = "reconnecting";
      break;

    case TINCAN_CONNECTION_STATE_FAILED:
      klass = "failed";
      break;

    case TINCAN_CONNECTION_STATE_OFFLINE:
    case TINCAN_CONNECTION_STATE_DISCONNECTED:
      klass = "offline";
      break;

    default:
      g_assert_not_reached ();
    }

  gtk_widget_add_css_class (dot, klass);
}

static GtkWidget *
create_section (TincanWindow  *self,
                TincanSession *session)
{
  GtkWidget *section;
  GtkWidget *header;
  GtkWidget *dot;
  GtkWidget *labels;
  GtkWidget *name;
  GtkWidget *status;
  GtkWidget *list;

  section = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_add_css_class (section, "server-section");

  header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  gtk_widget_add_css_class (header, "server-header");
  gtk_widget_set_tooltip_text (header, tincan_connection_get_url (tincan_session_get_connection (session)));

  dot = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_widget_add_css_class (dot, "status-dot");
  gtk_widget_set_valign (dot, GTK_ALIGN_CENTER);
  g_object_set_data_full (G_OBJECT (dot), "session", g_object_ref (session), g_object_unref);
  g_signal_connect_object (session, "notify::state", G_CALLBACK (update_section_state), dot,
                           G_CONNECT_SWAPPED);
  update_section_state (dot);
  gtk_box_append (GTK_BOX (header), dot);

  labels = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_hexpand (labels, TRUE);
  name = gtk_label_new (NULL);
  gtk_label_set_use_markup (GTK_LABEL (name), FALSE);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (name), 20);
  gtk_widget_add_css_class (name, "heading");
  g_object_bind_property (session, "name", name, "label", G_BINDING_SYNC_CREATE);
  gtk_box_append (GTK_BOX (labels), name);

  status = gtk_label_new (NULL);
  gtk_label_set_use_markup (GTK_LABEL (status), FALSE);
  gtk_label_set_xalign (GTK_LABEL (status), 0);
  gtk_label_set_ellipsize (GTK_LABEL (status), PANGO_ELLIPSIZE_END);
  /* A long status must not widen the sidebar. */
  gtk_label_set_max_width_chars (GTK_LABEL (status), 20);
  gtk_widget_add_css_class (status, "caption");
  gtk_widget_add_css_class (status, "dim-label");
  g_object_bind_property (session, "status", status, "label", G_BINDING_SYNC_CREATE);
  g_object_bind_property (session, "status", status, "tooltip-text", G_BINDING_SYNC_CREATE);
  gtk_box_append (GTK_BOX (labels), status);
  gtk_box_append (GTK_BOX (header), labels);
  gtk_box_append (GTK_BOX (section), header);

  list = gtk_list_box_new ();
  gtk_widget_add_css_class (list, "navigation-sidebar");
  g_object_set_data_full (G_OBJECT (list), "session", g_object_ref (session), g_object_unref);
  {
    g_autofree char *label = g_strdup_printf (_("Rooms of %s"), tincan_session_get_name (session));

    gtk_accessible_update_property (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  }
  gtk_list_box_bind_model (GTK_LIST_BOX (list), tincan_session_get_rooms (session),
                           create_room_row, NULL, NULL);
  g_signal_connect_object (list, "row-activated", G_CALLBACK (on_room_row_activated), self, 0);
  gtk_box_append (GTK_BOX (section), list);
  g_ptr_array_add (self->list_boxes, list);

  return section;
}

static void
rebuild_sidebar (TincanWindow *self)
{
  GtkWidget *child;
  guint n;

  g_ptr_array_set_size (self->list_boxes, 0);
  while ((child = gtk_widget_get_first_child (self->sidebar_box)) != NULL)
    gtk_box_remove (GTK_BOX (self->sidebar_box), child);

  n = self->sessions != NULL ? g_list_model_get_n_items (self->sessions) : 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (self->sessions, i);

      gtk_box_append (GTK_BOX (self->sidebar_box), create_section (self, session));
    }

  if (self->session != NULL && self->room != NULL)
    select_sidebar_row (self, self->session, self->room);
}

static gboolean
session_in_model (TincanWindow  *self,
                  TincanSession *session)
{
  guint n = g_list_model_get_n_items (self->sessions);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanSession) item = g_list_model_get_item (self->sessions, i);

      if (item == session)
        return TRUE;
    }

  return FALSE;
}

static void
open_default_room (TincanWindow *self)
{
  guint n = g_list_model_get_n_items (self->sessions);

  if (n == 0)
    return;

  /* The last room of the previous run, if it is still there. */
  for (guint i = 0; i < n && self->restore_room != NULL; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (self->sessions, i);
      GListModel *rooms = tincan_session_get_rooms (session);

      for (guint j = 0; j < g_list_model_get_n_items (rooms); j++)
        {
          g_autoptr (TincanRoom) room = g_list_model_get_item (rooms, j);
          g_autofree char *name = view_name (session, tincan_room_get_name (room));

          if (g_strcmp0 (name, self->restore_room) == 0)
            {
              tincan_window_open_room (self, session, tincan_room_get_name (room));
              return;
            }
        }
    }

  {
    g_autoptr (TincanSession) session = g_list_model_get_item (self->sessions, n - 1);
    GListModel *rooms = tincan_session_get_rooms (session);
    g_autoptr (TincanRoom) room = NULL;

    if (g_list_model_get_n_items (rooms) > 0)
      room = g_list_model_get_item (rooms, 0);
    tincan_window_open_room (self, session, room != NULL ? tincan_room_get_name (room) : "lobby");
  }
}

static void
on_sessions_changed (TincanWindow *self,
                     guint         position,
                     guint         removed,
                     guint         added)
{
  rebuild_sidebar (self);
  update_first_run (self);
  drop_stale_inspectors (self);

  if (self->session != NULL && !session_in_model (self, self->session))
    {
      GtkWidget *child;

      /* Drop the conversations of a removed server. */
      while (TRUE)
        {
          gboolean found = FALSE;

          for (child = gtk_widget_get_first_child (GTK_WIDGET (self->conversation_stack));
               child != NULL;
               child = gtk_widget_get_next_sibling (child))
            {
              if (TINCAN_IS_CONVERSATION_VIEW (child) &&
                  tincan_conversation_view_get_session (TINCAN_CONVERSATION_VIEW (child)) == self->session)
                {
                  gtk_stack_remove (self->conversation_stack, child);
                  found = TRUE;
                  break;
                }
            }
          if (!found)
            break;
        }

      g_clear_object (&self->session);
      g_clear_pointer (&self->room, g_free);
      g_signal_group_set_target (self->session_signals, NULL);
      gtk_stack_set_visible_child_name (self->conversation_stack, "empty");
      update_status_bar (self);
      sync_inspector (self);
    }

  /* A newly added server is opened at once. */
  if (added > 0)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (self->sessions, position + added - 1);
      GListModel *rooms = tincan_session_get_rooms (session);
      g_autoptr (TincanRoom) room = NULL;

      if (g_list_model_get_n_items (rooms) > 0)
        room = g_list_model_get_item (rooms, 0);
      tincan_window_open_room (self, session, room != NULL ? tincan_room_get_name (room) : "lobby");
    }
}

/* Session events */

static void
on_session_status (TincanWindow *self)
{
  update_status_bar (self);
}

static gboolean
settings_allow_notifications (TincanWindow *self)
{
  return self->settings == NULL || g_settings_get_boolean (self->settings, "notifications");
}

typedef struct
{
  guint  count;
  char  *sender;   /* of the newest message */
  char  *text;
} PendingNotification;

static void
pending_notification_free (gpointer data)
{
  PendingNotification *pending = data;

  g_free (pending->sender);
  g_free (pending->text);
  g_free (pending);
}

static gboolean
send_notifications (gpointer user_data)
{
  TincanWindow *self = user_data;
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  GHashTableIter iter;
  gpointer key, value;

  self->notify_id = 0;

  g_hash_table_iter_init (&iter, self->pending_notifications);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      PendingNotification *pending = value;
      const char *room = key;
      g_autoptr (GNotification) notification = NULL;
      g_autofree char *title = NULL;
      g_autofree char *body = NULL;
      g_autofree char *escaped = NULL;
      g_autofree char *id = NULL;
      const char *text = pending->text != NULL ? pending->text : "";

      if (app == NULL)
        break;

      if (pending->count > 1)
        /* Translators: notification title for several messages at once, "12 new messages in #lobby" */
        title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u new message in #%s",
                                              "%u new messages in #%s", pending->count),
                                 pending->count, room);
      else
        /* Translators: notification title, "alice in #lobby" */
        title = g_strdup_printf (_("%s in #%s"),
                                 pending->sender != NULL ? pending->sender : _("Someone"), room);
      if (g_utf8_strlen (text, -1) > NOTIFY_BODY_MAX)
        {
          g_autofree char *cut = g_utf8_substring (text, 0, NOTIFY_BODY_MAX);

          body = g_strconcat (cut, "…", NULL);
        }
      else
        body = g_strdup (text);

      notification = g_notification_new (title);
      /* Notification servers may read the body as markup (GNOME Shell
       * does): message text must show as typed. */
      escaped = g_markup_escape_text (body, -1);
      g_notification_set_body (notification, escaped);
      g_notification_set_default_action (notification, "app.activate");
      id = g_strdup_printf ("message-%s", room);
      g_application_send_notification (app, id, notification);
    }
  g_hash_table_remove_all (self->pending_notifications);

  return G_SOURCE_REMOVE;
}

static void
on_message_received (TincanWindow     *self,
                     TincanMessage    *message,
                     TincanConnection *connection)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  PendingNotification *pending;
  const char *room = tincan_message_get_room (message);

  if (app == NULL || room == NULL || self->pending_notifications == NULL ||
      gtk_window_is_active (GTK_WINDOW (self)) ||
      !settings_allow_notifications (self))
    return;
  /* A frame the protocol could not map is shown, but is nobody speaking. */
  if (tincan_connection_message_is_unmapped (message))
    return;

  /* A flood makes one notification per room and main-loop turn, not one
   * D-Bus call per message. */
  pending = g_hash_table_lookup (self->pending_notifications, room);
  if (pending == NULL)
    {
      pending = g_new0 (PendingNotification, 1);
      g_hash_table_insert (self->pending_notifications, g_strdup (room), pending);
    }
  pending->count++;
  g_free (pending->sender);
  pending->sender = g_strdup (tincan_message_get_sender (message));
  g_free (pending->text);
  pending->text = g_strdup (tincan_message_get_text (message));

  if (self->notify_id == 0)
    self->notify_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, send_notifications, self, NULL);
}

static void
on_connection_error (TincanWindow     *self,
                     const GError     *error,
                     TincanConnection *connection)
{
  if (error != NULL)
    tincan_window_add_toast (self, error->message);
}

static void
on_connection_state (TincanWindow     *self,
                     GParamSpec       *pspec,
                     TincanConnection *connection)
{
  if (tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_FAILED)
    {
      for (guint i = 0; i < g_list_model_get_n_items (self->sessions); i++)
        {
          g_autoptr (TincanSession) session = g_list_model_get_item (self->sessions, i);

          if (tincan_session_get_connection (session) == connection)
            {
              g_autofree char *failure = tincan_session_dup_failure (session);
              /* Translators: "Local: Closed by the server: 4001 unauthorized" */
              g_autofree char *title = g_strdup_printf (_("%s: %s"), tincan_session_get_name (session), failure);

              tincan_window_add_toast (self, title);
              break;
            }
        }
    }
}

static void
watch_sessions (TincanWindow *self,
                guint         position,
                guint         removed,
                guint         added)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (self->sessions, i);
      TincanConnection *connection = tincan_session_get_connection (session);

      g_signal_connect_object (connection, "message-received",
                               G_CALLBACK (on_message_received), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (connection, "error",
                               G_CALLBACK (on_connection_error), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (connection, "notify::state",
                               G_CALLBACK (on_connection_state), self, G_CONNECT_SWAPPED);
    }
}

static void
on_sessions_items_changed (GListModel   *model,
                           guint         position,
                           guint         removed,
                           guint         added,
                           TincanWindow *self)
{
  watch_sessions (self, position, removed, added);
  on_sessions_changed (self, position, removed, added);
}

/* Members */

static void
setup_member (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *avatar = adw_avatar_new (24, NULL, TRUE);
  GtkWidget *label = gtk_label_new (NULL);
  GtkWidget *dot = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);

  gtk_label_set_use_markup (GTK_LABEL (label), FALSE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_width_chars (GTK_LABEL (label), 12);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 24);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_add_css_class (dot, "status-dot");
  gtk_widget_set_valign (dot, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), avatar);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), dot);
  gtk_list_item_set_child (item, box);
  gtk_list_item_set_activatable (item, FALSE);
}

static void
update_member_row (GtkWidget    *box,
                   TincanMember *member)
{
  GtkWidget *avatar = gtk_widget_get_first_child (box);
  GtkWidget *label = gtk_widget_get_next_sibling (avatar);
  GtkWidget *dot = gtk_widget_get_next_sibling (label);
  gboolean online = tincan_member_get_online (member);
  g_autofree char *accessible = NULL;

  adw_avatar_set_text (ADW_AVATAR (avatar), tincan_member_get_name (member));
  gtk_label_set_text (GTK_LABEL (label), tincan_member_get_name (member));
  gtk_widget_remove_css_class (dot, online ? "offline" : "connected");
  gtk_widget_add_css_class (dot, online ? "connected" : "offline");
  gtk_widget_set_opacity (box, online ? 1.0 : 0.55);
  accessible = g_strdup_printf (online ? _("%s, online") : _("%s, offline"),
                                tincan_member_get_name (member));
  gtk_accessible_update_property (GTK_ACCESSIBLE (box), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

static void
on_member_online (TincanMember *member,
                  GParamSpec   *pspec,
                  GtkWidget    *box)
{
  update_member_row (box, member);
}

static void
bind_member (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  GtkWidget *box = gtk_list_item_get_child (item);
  TincanMember *member = gtk_list_item_get_item (item);

  update_member_row (box, member);
  g_signal_connect_object (member, "notify::online", G_CALLBACK (on_member_online), box, 0);
}

static void
unbind_member (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  GtkWidget *box = gtk_list_item_get_child (item);
  TincanMember *member = gtk_list_item_get_item (item);

  if (member != NULL)
    g_signal_handlers_disconnect_by_func (member, on_member_online, box);
}

static gboolean
n_online_to_label (GBinding     *binding,
                   const GValue *from,
                   GValue       *to,
                   gpointer      user_data)
{
  g_value_take_string (to, g_strdup_printf ("%u", g_value_get_uint (from)));
  return TRUE;
}

/* Actions */

static TincanApplication *
get_app (TincanWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return TINCAN_IS_APPLICATION (app) ? TINCAN_APPLICATION (app) : NULL;
}

static void
add_server_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);
  TincanApplication *app = get_app (self);
  GtkWidget *dialog;

  if (app == NULL)
    return;

  dialog = tincan_server_dialog_new (GTK_WINDOW (self), app, NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
edit_server_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);
  TincanApplication *app = get_app (self);
  GtkWidget *dialog;

  if (app == NULL || self->session == NULL || !tincan_session_get_persistent (self->session))
    return;

  dialog = tincan_server_dialog_new (GTK_WINDOW (self), app, self->session);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
remove_server_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);
  TincanApplication *app = get_app (self);
  g_autoptr (TincanSession) session = NULL;

  if (app == NULL || self->session == NULL)
    return;

  session = g_object_ref (self->session);
  tincan_application_remove_session (app, session);
  {
    g_autofree char *title = g_strdup_printf (_("Removed %s"), tincan_session_get_name (session));

    tincan_window_add_toast (self, title);
  }
}

static void
on_join_response (AdwMessageDialog *dialog,
                  const char       *response,
                  TincanWindow     *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *name = NULL;
  TincanApplication *app = get_app (self);
  TincanProfile *profile;
  g_autoptr (GStrvBuilder) builder = NULL;
  g_auto (GStrv) rooms = NULL;

  if (g_strcmp0 (response, "join") != 0 || self->session == NULL)
    return;

  name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  if (name[0] == '#')
    memmove (name, name + 1, strlen (name));
  if (*name == '\0')
    return;

  /* Kept in the profile, so it is joined again on every connection. */
  profile = tincan_session_get_profile (self->session);
  builder = g_strv_builder_new ();
  if (tincan_profile_get_rooms (profile) != NULL)
    {
      if (g_strv_contains (tincan_profile_get_rooms (profile), name))
        {
          tincan_window_open_room (self, self->session, name);
          return;
        }
      g_strv_builder_addv (builder, (const char **) tincan_profile_get_rooms (profile));
    }
  g_strv_builder_add (builder, name);
  rooms = g_strv_builder_end (builder);
  tincan_profile_set_rooms (profile, (const char * const *) rooms);
  if (app != NULL && tincan_session_get_persistent (self->session))
    tincan_application_save_profiles (app);

  tincan_session_ensure_room (self->session, name, TRUE);
  tincan_window_open_room (self, self->session, name);
}

static void
on_join_entry_changed (GtkEditable      *entry,
                       AdwMessageDialog *dialog)
{
  const char *text = gtk_editable_get_text (entry);

  while (*text == '#' || *text == ' ')
    text++;
  adw_message_dialog_set_response_enabled (dialog, "join", *text != '\0');
}

static void
join_room_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);
  AdwMessageDialog *dialog;
  GtkWidget *entry;

  if (self->session == NULL)
    return;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Join a Room"), NULL));
  adw_message_dialog_format_body (dialog, _("Rooms on %s are created when someone joins them."),
                                  tincan_session_get_name (self->session));
  entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("Room name, e.g. dev"));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Room name"), -1);
  adw_message_dialog_set_extra_child (dialog, entry);
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "join", _("_Join"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "join", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_enabled (dialog, "join", FALSE);
  adw_message_dialog_set_default_response (dialog, "join");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (entry, "changed", G_CALLBACK (on_join_entry_changed), dialog, 0);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_join_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
reconnect_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);

  if (self->session != NULL)
    tincan_connection_connect (tincan_session_get_connection (self->session));
}

static void
disconnect_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);

  if (self->session != NULL)
    tincan_connection_disconnect (tincan_session_get_connection (self->session));
}

static void
show_sidebar_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  TincanWindow *self = TINCAN_WINDOW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
}

static void
on_window_active (TincanWindow *self)
{
  if (self->session == NULL)
    return;

  /* Unread counts only count what the user has not looked at. */
  if (gtk_window_is_active (GTK_WINDOW (self)))
    tincan_session_set_active_room (self->session, self->room);
  else
    tincan_session_set_active_room (self->session, NULL);
}

static gboolean
tincan_window_close_request (GtkWindow *window)
{
  TincanWindow *self = TINCAN_WINDOW (window);

  if (self->settings != NULL)
    {
      int width, height;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_delay (self->settings);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
      g_settings_apply (self->settings);
    }

  return GTK_WINDOW_CLASS (tincan_window_parent_class)->close_request (window);
}

static void
tincan_window_constructed (GObject *object)
{
  TincanWindow *self = TINCAN_WINDOW (object);

  G_OBJECT_CLASS (tincan_window_parent_class)->constructed (object);

  if (self->settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (self->settings, "window-width"),
                                   g_settings_get_int (self->settings, "window-height"));
      if (g_settings_get_boolean (self->settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
      self->restore_room = g_settings_get_string (self->settings, "last-room");
      if (self->restore_room[0] == '\0')
        g_clear_pointer (&self->restore_room, g_free);
    }
  else
    gtk_window_set_default_size (GTK_WINDOW (self), 1000, 700);

  if (self->sessions == NULL)
    self->sessions = G_LIST_MODEL (g_list_store_new (TINCAN_TYPE_SESSION));

  g_signal_connect_object (self->sessions, "items-changed",
                           G_CALLBACK (on_sessions_items_changed), self, 0);
  watch_sessions (self, 0, 0, g_list_model_get_n_items (self->sessions));
  rebuild_sidebar (self);
  update_first_run (self);
  open_default_room (self);
}

static void
tincan_window_dispose (GObject *object)
{
  TincanWindow *self = TINCAN_WINDOW (object);

  if (self->reveal_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->reveal_tick_id);
  self->reveal_tick_id = 0;
  g_clear_handle_id (&self->notify_id, g_source_remove);
  g_clear_pointer (&self->pending_notifications, g_hash_table_unref);
  g_clear_object (&self->session_signals);
  g_clear_object (&self->room_bindings);
  g_clear_object (&self->session);
  g_clear_object (&self->sessions);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (tincan_window_parent_class)->dispose (object);
}

static void
tincan_window_finalize (GObject *object)
{
  TincanWindow *self = TINCAN_WINDOW (object);

  g_clear_pointer (&self->list_boxes, g_ptr_array_unref);
  g_clear_pointer (&self->room, g_free);
  g_clear_pointer (&self->restore_room, g_free);

  G_OBJECT_CLASS (tincan_window_parent_class)->finalize (object);
}

static void
tincan_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TincanWindow *self = TINCAN_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSIONS:
      g_value_set_object (value, self->sessions);
      break;

    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    case PROP_INSPECTOR_VISIBLE:
      g_value_set_boolean (value, self->inspector_visible);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TincanWindow *self = TINCAN_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSIONS:
      self->sessions = g_value_dup_object (value);
      break;

    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    case PROP_INSPECTOR_VISIBLE:
      set_inspector_visible (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_window_class_init (TincanWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = tincan_window_constructed;
  object_class->dispose = tincan_window_dispose;
  object_class->finalize = tincan_window_finalize;
  object_class->get_property = tincan_window_get_property;
  object_class->set_property = tincan_window_set_property;
  window_class->close_request = tincan_window_close_request;

  properties[PROP_SESSIONS] =
    g_param_spec_object ("sessions", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_INSPECTOR_VISIBLE] =
    g_param_spec_boolean ("inspector-visible", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (TINCAN_TYPE_CONVERSATION_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, sidebar_box);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, content);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, members_button);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, members_count_label);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, members_list);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, server_menu_button);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, status_revealer);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, status_bar);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, retry_now_button);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, reconnect_button);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, edit_server_button);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, conversation_stack);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, inspector_flap);
  gtk_widget_class_bind_template_child (widget_class, TincanWindow, inspector_stack);

  gtk_widget_class_install_action (widget_class, "win.add-server", NULL, add_server_action);
  gtk_widget_class_install_action (widget_class, "win.edit-server", NULL, edit_server_action);
  gtk_widget_class_install_action (widget_class, "win.remove-server", NULL, remove_server_action);
  gtk_widget_class_install_action (widget_class, "win.reconnect", NULL, reconnect_action);
  gtk_widget_class_install_action (widget_class, "win.join-room", NULL, join_room_action);
  gtk_widget_class_install_action (widget_class, "win.disconnect", NULL, disconnect_action);
  gtk_widget_class_install_action (widget_class, "win.show-sidebar", NULL, show_sidebar_action);
  gtk_widget_class_install_property_action (widget_class, "win.toggle-inspector", "inspector-visible");
}

static void
tincan_window_init (TincanWindow *self)
{
  GtkListItemFactory *factory;

  self->list_boxes = g_ptr_array_new ();
  self->pending_notifications = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       pending_notification_free);

  gtk_widget_init_template (GTK_WIDGET (self));

  if (g_strcmp0 (PROFILE, "development") == 0)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");

  self->session_signals = g_signal_group_new (TINCAN_TYPE_SESSION);
  g_signal_group_connect_swapped (self->session_signals, "notify::status",
                                  G_CALLBACK (on_session_status), self);
  g_signal_group_connect_swapped (self->session_signals, "notify::state",
                                  G_CALLBACK (on_session_status), self);

  self->room_bindings = g_binding_group_new ();
  g_binding_group_bind_full (self->room_bindings, "n-online",
                             self->members_count_label, "label",
                             G_BINDING_SYNC_CREATE,
                             n_online_to_label, NULL, NULL, NULL);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_member), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_member), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_member), NULL);
  gtk_list_view_set_factory (self->members_list, factory);
  g_object_unref (factory);

  gtk_widget_set_sensitive (self->members_button, FALSE);
  gtk_widget_set_sensitive (self->server_menu_button, FALSE);

  g_signal_connect (self, "notify::is-active", G_CALLBACK (on_window_active), NULL);
  g_signal_connect_swapped (self->inspector_flap, "notify::reveal-flap", G_CALLBACK (on_flap_revealed), self);
}

TincanWindow *
tincan_window_new (GtkApplication *application,
                   GListModel     *sessions,
                   GSettings      *settings)
{
  return g_object_new (TINCAN_TYPE_WINDOW,
                       "application", application,
                       "sessions", sessions,
                       "settings", settings,
                       NULL);
}
