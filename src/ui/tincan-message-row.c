/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-message-row"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <string.h>

#include "tincan-connection.h"
#include "tincan-message-row.h"

#define MAX_LINKS 3
/* Longest text a row lays out (bytes); the rest is summarised. */
#define MAX_SHOWN_BYTES 2048
/* Longest run of characters without a place to wrap that a row shows as is. */
#define LONG_RUN 64

struct _TincanMessageRow
{
  GtkWidget      parent_instance;

  TincanMessage *message;
  GSignalGroup  *message_signals;
  char          *day;
  gboolean       continuation;
  /* What the header shows (and screen readers hear) even while the
   * header itself is not built: continuation rows never build it. */
  char          *sender_text;
  char          *time_text;
  gboolean       sender_dim;

  /* Created the first time they are needed: most rows never show them,
   * and a flood builds hundreds of rows a second. */
  GtkWidget     *day_box;
  GtkLabel      *day_label;
  GtkWidget     *main_box;
  AdwAvatar     *avatar;
  GtkWidget     *content_box;
  GtkWidget     *header_box;
  GtkLabel      *sender_label;
  GtkLabel      *time_label;
  GtkLabel      *text_label;
  GtkWidget     *links_box;
  GtkLabel      *note_label;
  GtkWidget     *failed_box;
  GtkWidget     *retry_button;
  GtkWidget     *delete_button;
  GtkImage      *state_image;
};

enum {
  PROP_0,
  PROP_MESSAGE,
  PROP_DAY,
  PROP_CONTINUATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanMessageRow, tincan_message_row, GTK_TYPE_WIDGET)

static GRegex *
get_link_regex (void)
{
  static GRegex *regex;

  if (g_once_init_enter (&regex))
    {
      /* Only web links: no javascript:, file: or custom schemes. */
      GRegex *compiled = g_regex_new ("\\bhttps?://[^\\s<>\"'`]+[^\\s<>\"'`.,;:!?)\\]}]",
                                      G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&regex, compiled);
    }

  return regex;
}

static gint64
message_time_ms (TincanMessage *message)
{
  gint64 ts = tincan_message_get_timestamp (message);

  return ts > 0 ? ts : tincan_message_get_local_timestamp (message);
}

#define TIME_ZONE_CHECK_US (10 * G_USEC_PER_SEC)

static GTimeZone *
get_local_time_zone (void)
{
  static GTimeZone *zone;
  static gint64 looked_up;
  gint64 now = g_get_monotonic_time ();

  /* UI thread only. */
  if (zone == NULL || now - looked_up > TIME_ZONE_CHECK_US)
    {
      g_clear_pointer (&zone, g_time_zone_unref);
      zone = g_time_zone_new_local ();
      looked_up = now;
    }

  return zone;
}

GDateTime *
tincan_date_time_new_local (gint64 ms)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (ms / 1000);

  if (utc == NULL)
    return NULL;

  return g_date_time_to_timezone (utc, get_local_time_zone ());
}

char *
tincan_format_day (gint64 ms)
{
  g_autoptr (GDateTime) when = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now (get_local_time_zone ());
  int y1, m1, d1, y2, m2, d2;
  g_autoptr (GDateTime) yesterday = NULL;

  when = tincan_date_time_new_local (ms);
  if (when == NULL)
    return g_strdup ("");

  g_date_time_get_ymd (when, &y1, &m1, &d1);
  g_date_time_get_ymd (now, &y2, &m2, &d2);
  if (y1 == y2 && m1 == m2 && d1 == d2)
    return g_strdup (_("Today"));

  yesterday = g_date_time_add_days (now, -1);
  g_date_time_get_ymd (yesterday, &y2, &m2, &d2);
  if (y1 == y2 && m1 == m2 && d1 == d2)
    return g_strdup (_("Yesterday"));

  /* Translators: a day separator in a conversation, strftime format */
  return g_date_time_format (when, _("%A, %B %-e, %Y"));
}

static void
update_time (TincanMessageRow *self)
{
  g_autoptr (GDateTime) when = NULL;
  g_autofree char *text = NULL;
  gint64 ms = message_time_ms (self->message);

  when = tincan_date_time_new_local (ms);
  /* Translators: message time, strftime format */
  text = when != NULL ? g_date_time_format (when, _("%H:%M")) : NULL;
  g_free (self->time_text);
  self->time_text = g_strdup (text != NULL ? text : "");
  if (self->time_label != NULL)
    gtk_label_set_text (self->time_label, self->time_text);
  /* The full date is formatted when the tooltip is asked for
   * (on_time_query_tooltip): setting a tooltip on every bind would cost
   * a pointer query each time a row is reused. */
}

static gboolean
on_time_query_tooltip (GtkWidget        *widget,
                       int               x,
                       int               y,
                       gboolean          keyboard_mode,
                       GtkTooltip       *tooltip,
                       TincanMessageRow *self)
{
  g_autoptr (GDateTime) when = NULL;
  g_autofree char *full = NULL;

  if (self->message == NULL)
    return FALSE;

  when = tincan_date_time_new_local (message_time_ms (self->message));
  if (when == NULL)
    return FALSE;

  full = g_date_time_format (when, "%c");
  gtk_tooltip_set_text (tooltip, full);
  return TRUE;
}

/* The lazily built parts */

static void
ensure_day_box (TincanMessageRow *self)
{
  GtkWidget *separator;

  if (self->day_box != NULL)
    return;

  self->day_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_widget_set_margin_top (self->day_box, 12);
  gtk_widget_set_margin_bottom (self->day_box, 6);
  gtk_widget_add_css_class (self->day_box, "day-separator");

  separator = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_widget_set_hexpand (separator, TRUE);
  gtk_widget_set_valign (separator, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->day_box), separator);

  self->day_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_use_markup (self->day_label, FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->day_label), "caption-heading");
  gtk_widget_add_css_class (GTK_WIDGET (self->day_label), "dim-label");
  gtk_box_append (GTK_BOX (self->day_box), GTK_WIDGET (self->day_label));

  separator = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_widget_set_hexpand (separator, TRUE);
  gtk_widget_set_valign (separator, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->day_box), separator);

  /* Above the message. */
  gtk_widget_insert_after (self->day_box, GTK_WIDGET (self), NULL);
}

/* Under the text, in this order: links, note, failed box. */
static GtkWidget *
content_tail_before (TincanMessageRow *self,
                     GtkWidget        *widget)
{
  GtkWidget *after = GTK_WIDGET (self->text_label);

  if (self->links_box != NULL && widget != self->links_box)
    after = self->links_box;
  if (self->note_label != NULL && widget == self->failed_box)
    after = GTK_WIDGET (self->note_label);

  return after;
}

static void
ensure_links_box (TincanMessageRow *self)
{
  if (self->links_box != NULL)
    return;

  self->links_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_halign (self->links_box, GTK_ALIGN_START);
  gtk_widget_insert_after (self->links_box, self->content_box,
                           content_tail_before (self, self->links_box));
}

static void
ensure_note_label (TincanMessageRow *self)
{
  if (self->note_label != NULL)
    return;

  self->note_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_use_markup (self->note_label, FALSE);
  gtk_label_set_xalign (self->note_label, 0);
  gtk_label_set_wrap (self->note_label, TRUE);
  gtk_label_set_wrap_mode (self->note_label, PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (GTK_WIDGET (self->note_label), "caption");
  gtk_widget_insert_after (GTK_WIDGET (self->note_label), self->content_box,
                           content_tail_before (self, GTK_WIDGET (self->note_label)));
}

static void
ensure_failed_box (TincanMessageRow *self)
{
  if (self->failed_box != NULL)
    return;

  self->failed_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_visible (self->failed_box, FALSE);
  gtk_widget_set_margin_top (self->failed_box, 4);

  self->retry_button = gtk_button_new_with_mnemonic (_("_Retry"));
  gtk_widget_add_css_class (self->retry_button, "pill");
  gtk_widget_add_css_class (self->retry_button, "small-pill");
  gtk_widget_set_tooltip_text (self->retry_button, _("Send this message again"));
  gtk_box_append (GTK_BOX (self->failed_box), self->retry_button);

  self->delete_button = gtk_button_new_with_mnemonic (_("_Delete"));
  gtk_widget_add_css_class (self->delete_button, "flat");
  gtk_widget_add_css_class (self->delete_button, "delete-button");
  gtk_widget_add_css_class (self->delete_button, "small-pill");
  gtk_widget_set_tooltip_text (self->delete_button, _("Delete this unsent message"));
  gtk_box_append (GTK_BOX (self->failed_box), self->delete_button);

  gtk_widget_insert_after (self->failed_box, self->content_box,
                           content_tail_before (self, self->failed_box));
}

static void
update_links (TincanMessageRow *self)
{
  g_autoptr (GMatchInfo) match = NULL;
  GtkWidget *child;
  guint n = 0;
  const char *text = self->message ? tincan_message_get_text (self->message) : NULL;

  while (self->links_box != NULL &&
         (child = gtk_widget_get_first_child (self->links_box)) != NULL)
    gtk_box_remove (GTK_BOX (self->links_box), child);

  /* Most messages have no link: skip the regex for them. */
  if (text != NULL && strstr (text, "://") != NULL)
    g_regex_match (get_link_regex (), text, 0, &match);

  while (match != NULL && g_match_info_matches (match) && n < MAX_LINKS)
    {
      g_autofree char *uri = g_match_info_fetch (match, 0);
      GtkWidget *button;

      if (g_uri_is_valid (uri, G_URI_FLAGS_NONE, NULL))
        {
          /* The label is set as plain text, never as markup. */
          button = gtk_link_button_new_with_label (uri, uri);
          gtk_widget_set_halign (button, GTK_ALIGN_START);
          gtk_widget_add_css_class (button, "message-link");
          if (GTK_IS_LABEL (gtk_button_get_child (GTK_BUTTON (button))))
            {
              GtkLabel *label = GTK_LABEL (gtk_button_get_child (GTK_BUTTON (button)));

              gtk_label_set_use_markup (label, FALSE);
              gtk_label_set_ellipsize (label, PANGO_ELLIPSIZE_MIDDLE);
              gtk_label_set_max_width_chars (label, 60);
            }
          ensure_links_box (self);
          gtk_box_append (GTK_BOX (self->links_box), button);
          n++;
        }

      g_match_info_next (match, NULL);
    }

  if (self->links_box != NULL)
    gtk_widget_set_visible (self->links_box, n > 0);
}

static void update_actions (TincanMessageRow *self);

static void
update_state (TincanMessageRow *self)
{
  TincanMessageState state;
  const char *icon = NULL;
  const char *accessible = NULL;
  g_autofree char *note = NULL;
  gboolean failed = FALSE;

  gtk_widget_remove_css_class (GTK_WIDGET (self), "failed");
  gtk_widget_remove_css_class (GTK_WIDGET (self), "pending");

  if (self->message == NULL || !tincan_message_is_outgoing (self->message))
    {
      gtk_widget_set_visible (GTK_WIDGET (self->state_image), FALSE);
      if (self->note_label != NULL)
        gtk_widget_set_visible (GTK_WIDGET (self->note_label), FALSE);
      if (self->failed_box != NULL)
        gtk_widget_set_visible (self->failed_box, FALSE);
      update_actions (self);
      return;
    }

  state = tincan_message_get_state (self->message);
  switch (state)
    {
    case TINCAN_MESSAGE_STATE_QUEUED:
      icon = "tincan-queued-symbolic";
      accessible = _("Queued");
      note = g_strdup (_("Queued — it will be sent when the connection is back"));
      gtk_widget_add_css_class (GTK_WIDGET (self), "pending");
      break;

    case TINCAN_MESSAGE_STATE_SENDING:
      icon = "tincan-sending-symbolic";
      accessible = _("Sending");
      gtk_widget_add_css_class (GTK_WIDGET (self), "pending");
      break;

    case TINCAN_MESSAGE_STATE_SENT:
      /* Only a protocol without acknowledgements stops here. */
      icon = "tincan-sent-symbolic";
      accessible = _("Sent (this protocol has no acknowledgements, so delivery cannot be confirmed)");
      break;

    case TINCAN_MESSAGE_STATE_DELIVERED:
      icon = "tincan-delivered-symbolic";
      accessible = _("Delivered");
      break;

    case TINCAN_MESSAGE_STATE_FAILED:
      {
        const char *reason = tincan_message_get_reason (self->message);

        icon = "tincan-failed-symbolic";
        accessible = _("Not sent");
        failed = TRUE;
        if (reason != NULL && *reason != '\0')
          /* Translators: %s is the reason the server gave */
          note = g_strdup_printf (_("Not sent: %s"), reason);
        else
          note = g_strdup (_("Not sent"));
        gtk_widget_add_css_class (GTK_WIDGET (self), "failed");
      }
      break;

    default:
      g_assert_not_reached ();
    }

  gtk_image_set_from_icon_name (self->state_image, icon);
  /* Setting a tooltip makes GTK query the pointer (a round trip to the
   * display server): only when it changes. */
  if (g_strcmp0 (gtk_widget_get_tooltip_text (GTK_WIDGET (self->state_image)), accessible) != 0)
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_image), accessible);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->state_image),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                  -1);
  gtk_widget_set_visible (GTK_WIDGET (self->state_image), TRUE);

  if (note != NULL)
    ensure_note_label (self);
  if (self->note_label != NULL)
    {
      gtk_label_set_text (self->note_label, note != NULL ? note : "");
      gtk_widget_set_visible (GTK_WIDGET (self->note_label), note != NULL);
      if (failed)
        gtk_widget_add_css_class (GTK_WIDGET (self->note_label), "error");
      else
        gtk_widget_remove_css_class (GTK_WIDGET (self->note_label), "error");
    }
  if (failed)
    ensure_failed_box (self);
  if (self->failed_box != NULL)
    gtk_widget_set_visible (self->failed_box, failed);
  update_actions (self);
}

/* Fills the header, when it is built, from what it should show. */
static void
update_header (TincanMessageRow *self)
{
  if (self->header_box == NULL)
    return;

  if (self->sender_dim)
    gtk_widget_add_css_class (GTK_WIDGET (self->sender_label), "dim-label");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->sender_label), "dim-label");

  /* Plain text: a sender name is user input too. */
  gtk_label_set_text (self->sender_label, self->sender_text != NULL ? self->sender_text : "");
  gtk_label_set_text (self->time_label, self->time_text != NULL ? self->time_text : "");
  /* Recomputing initials and colour is not free: only on a new sender. */
  if (g_strcmp0 (adw_avatar_get_text (self->avatar), self->sender_text) != 0)
    adw_avatar_set_text (self->avatar, self->sender_text);
}

/* The avatar and the sender/time header, built for the first row of a
 * run of messages: the rows that continue it (most rows in a busy room)
 * never show them. */
static void
ensure_header (TincanMessageRow *self)
{
  if (self->header_box != NULL)
    return;

  self->avatar = ADW_AVATAR (adw_avatar_new (36, NULL, TRUE));
  gtk_widget_set_valign (GTK_WIDGET (self->avatar), GTK_ALIGN_START);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->avatar),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Avatar"),
                                  -1);
  gtk_widget_insert_after (GTK_WIDGET (self->avatar), self->main_box, NULL);

  self->header_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);

  self->sender_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_use_markup (self->sender_label, FALSE);
  gtk_label_set_xalign (self->sender_label, 0);
  gtk_label_set_ellipsize (self->sender_label, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->sender_label), "sender");
  gtk_box_append (GTK_BOX (self->header_box), GTK_WIDGET (self->sender_label));

  self->time_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_use_markup (self->time_label, FALSE);
  gtk_label_set_xalign (self->time_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->time_label), "caption");
  gtk_widget_add_css_class (GTK_WIDGET (self->time_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->time_label), "numeric");
  gtk_widget_set_has_tooltip (GTK_WIDGET (self->time_label), TRUE);
  g_signal_connect_object (self->time_label, "query-tooltip",
                           G_CALLBACK (on_time_query_tooltip), self, 0);
  gtk_box_append (GTK_BOX (self->header_box), GTK_WIDGET (self->time_label));

  gtk_widget_insert_after (self->header_box, self->content_box, NULL);
  update_header (self);
}

static void
update_sender (TincanMessageRow *self)
{
  const char *sender = self->message ? tincan_message_get_sender (self->message) : NULL;
  gboolean unmapped = self->message != NULL &&
                      tincan_connection_message_is_unmapped (self->message);

  /* A frame the protocol could not map: shown as such, raw. */
  if (unmapped)
    sender = _("Unmapped frame");
  else if (sender == NULL || *sender == '\0')
    sender = _("Unknown");

  if (unmapped)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self), "unmapped");
      gtk_widget_add_css_class (GTK_WIDGET (self->text_label), "monospace");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self), "unmapped");
      gtk_widget_remove_css_class (GTK_WIDGET (self->text_label), "monospace");
    }

  g_free (self->sender_text);
  self->sender_text = g_strdup (sender);
  self->sender_dim = unmapped;
  if (!self->continuation)
    ensure_header (self);
  update_header (self);
}

/* Pango breaks a word that has no break opportunity in time that grows
 * with the square of its length: a zero-width space every LONG_RUN
 * characters of such a run gives it places to wrap. NULL if not needed. */
static char *
add_break_opportunities (const char *text)
{
  GString *out = NULL;
  guint run = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || c == '-' || c == '/')
        run = 0;
      else if (++run > LONG_RUN)
        {
          if (out == NULL)
            out = g_string_new_len (text, p - text);
          g_string_append_unichar (out, 0x200B);
          run = 1;
        }
      if (out != NULL)
        g_string_append_unichar (out, c);
    }

  return out != NULL ? g_string_free (out, FALSE) : NULL;
}

static void
update_text (TincanMessageRow *self)
{
  const char *text = self->message ? tincan_message_get_text (self->message) : NULL;
  gsize length = text != NULL ? strlen (text) : 0;
  g_autofree char *shown = NULL;
  g_autofree char *breakable = NULL;

  gtk_label_set_use_markup (self->text_label, FALSE);
  if (length > MAX_SHOWN_BYTES)
    {
      /* Laying out megabytes in a label takes seconds: the row shows the
       * start, cut at a character boundary, and says how much is left. */
      const char *end = g_utf8_find_prev_char (text, text + MAX_SHOWN_BYTES + 1);
      g_autofree char *head = g_strndup (text, end != NULL ? (gsize) (end - text) : 0);
      glong rest = g_utf8_strlen (text + strlen (head), -1);

      /* Translators: a very long message is cut; %s is its start, %ld how many characters are not shown */
      shown = g_strdup_printf (_("%s… (%ld more characters)"), head, rest);
      text = shown;
    }
  if (text != NULL)
    breakable = add_break_opportunities (text);
  gtk_label_set_text (self->text_label, breakable != NULL ? breakable : text != NULL ? text : "");
  update_links (self);
}

static void
update_layout (TincanMessageRow *self)
{
  if (self->day != NULL)
    ensure_day_box (self);
  if (self->day_box != NULL)
    {
      gtk_widget_set_visible (self->day_box, self->day != NULL);
      gtk_label_set_text (self->day_label, self->day != NULL ? self->day : "");
    }

  if (!self->continuation)
    ensure_header (self);
  if (self->header_box != NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->avatar), !self->continuation);
      gtk_widget_set_visible (self->header_box, !self->continuation);
    }
  gtk_widget_set_margin_start (self->content_box, self->continuation ? 48 : 0);
  if (self->continuation)
    gtk_widget_add_css_class (GTK_WIDGET (self), "continuation");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "continuation");
}

/* The retry and delete buttons are bound to their actions only while
 * they are shown (a failed message): binding an action registers the
 * button with every action muxer up the tree, which is not free and
 * would be paid by every row as it is reused during a flood. */
static void
update_actions (TincanMessageRow *self)
{
  gboolean failed = self->message != NULL &&
                    tincan_message_is_outgoing (self->message) &&
                    tincan_message_get_state (self->message) == TINCAN_MESSAGE_STATE_FAILED;

  if (failed)
    ensure_failed_box (self);
  else if (self->failed_box == NULL)
    return;

  if (failed)
    {
      const char *cid = tincan_message_get_cid (self->message);
      g_autoptr (GVariant) target = g_variant_ref_sink (g_variant_new_string (cid != NULL ? cid : ""));

      gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->retry_button), target);
      gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->delete_button), target);
      /* Named only once there is a target, so the "s" actions match. */
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->retry_button), "conversation.retry");
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->delete_button), "conversation.discard");
    }
  else if (gtk_actionable_get_action_name (GTK_ACTIONABLE (self->retry_button)) != NULL)
    {
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->retry_button), NULL);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->delete_button), NULL);
    }
}

#define ACCESSIBLE_TEXT_MAX 500

/* What a screen reader says for the row: sender, time, delivery state
 * (our own messages) and text, e.g. "alice, 10:42, Delivered: hello". */
static void
update_accessible_label (TincanMessageRow *self)
{
  g_autofree char *label = NULL;
  g_autofree char *head = NULL;
  g_autofree char *cut = NULL;
  const char *text;
  const char *state = NULL;

  if (self->message == NULL)
    return;

  text = tincan_message_get_text (self->message);
  if (text == NULL)
    text = "";
  else if (g_utf8_strlen (text, ACCESSIBLE_TEXT_MAX * 4 + 1) > ACCESSIBLE_TEXT_MAX)
    {
      head = g_utf8_substring (text, 0, ACCESSIBLE_TEXT_MAX);
      text = cut = g_strconcat (head, "…", NULL);
    }

  if (tincan_message_is_outgoing (self->message))
    {
      switch (tincan_message_get_state (self->message))
        {
        case TINCAN_MESSAGE_STATE_QUEUED:
          state = _("Queued");
          break;

        case TINCAN_MESSAGE_STATE_SENDING:
          state = _("Sending");
          break;

        case TINCAN_MESSAGE_STATE_SENT:
          state = _("Sent");
          break;

        case TINCAN_MESSAGE_STATE_DELIVERED:
          state = _("Delivered");
          break;

        case TINCAN_MESSAGE_STATE_FAILED:
          state = self->note_label != NULL ? gtk_label_get_text (self->note_label) : NULL;
          if (state == NULL || *state == '\0')
            state = _("Not sent");
          break;

        default:
          g_assert_not_reached ();
        }
    }

  if (state != NULL)
    /* Translators: a message for screen readers: sender, time, delivery
     * state, text; e.g. "alice, 10:42, Delivered: hello" */
    label = g_strdup_printf (_("%s, %s, %s: %s"), self->sender_text ? self->sender_text : "",
                             self->time_text ? self->time_text : "", state, text);
  else
    /* Translators: a received message for screen readers: sender, time,
     * text; e.g. "bob, 10:42: hi" */
    label = g_strdup_printf (_("%s, %s: %s"), self->sender_text ? self->sender_text : "",
                             self->time_text ? self->time_text : "", text);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static void
update_all (TincanMessageRow *self)
{
  update_sender (self);
  update_text (self);
  update_state (self);

  if (self->message != NULL)
    update_time (self);
  update_accessible_label (self);
}

static void
on_state_notify (TincanMessageRow *self)
{
  update_state (self);
  update_accessible_label (self);
}

static void
on_time_notify (TincanMessageRow *self)
{
  if (self->message != NULL)
    update_time (self);
  update_accessible_label (self);
}

static void
on_text_notify (TincanMessageRow *self)
{
  update_text (self);
  update_accessible_label (self);
}

static void
tincan_message_row_dispose (GObject *object)
{
  TincanMessageRow *self = TINCAN_MESSAGE_ROW (object);

  /* The day separator is the row's own child; the rest of the lazily
   * built parts go with the template's content box. */
  g_clear_pointer (&self->day_box, gtk_widget_unparent);
  self->day_label = NULL;
  gtk_widget_dispose_template (GTK_WIDGET (self), TINCAN_TYPE_MESSAGE_ROW);
  self->avatar = NULL;
  self->header_box = NULL;
  self->sender_label = NULL;
  self->time_label = NULL;
  self->links_box = NULL;
  self->note_label = NULL;
  self->failed_box = NULL;
  self->retry_button = NULL;
  self->delete_button = NULL;
  g_clear_object (&self->message_signals);
  g_clear_object (&self->message);

  G_OBJECT_CLASS (tincan_message_row_parent_class)->dispose (object);
}

static void
tincan_message_row_finalize (GObject *object)
{
  TincanMessageRow *self = TINCAN_MESSAGE_ROW (object);

  g_clear_pointer (&self->day, g_free);
  g_clear_pointer (&self->sender_text, g_free);
  g_clear_pointer (&self->time_text, g_free);

  G_OBJECT_CLASS (tincan_message_row_parent_class)->finalize (object);
}

static void
tincan_message_row_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  TincanMessageRow *self = TINCAN_MESSAGE_ROW (object);

  switch (prop_id)
    {
    case PROP_MESSAGE:
      g_value_set_object (value, self->message);
      break;

    case PROP_DAY:
      g_value_set_string (value, self->day);
      break;

    case PROP_CONTINUATION:
      g_value_set_boolean (value, self->continuation);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_message_row_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  TincanMessageRow *self = TINCAN_MESSAGE_ROW (object);

  switch (prop_id)
    {
    case PROP_MESSAGE:
      tincan_message_row_set_message (self, g_value_get_object (value));
      break;

    case PROP_DAY:
      tincan_message_row_set_day (self, g_value_get_string (value));
      break;

    case PROP_CONTINUATION:
      tincan_message_row_set_continuation (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_message_row_class_init (TincanMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tincan_message_row_dispose;
  object_class->finalize = tincan_message_row_finalize;
  object_class->get_property = tincan_message_row_get_property;
  object_class->set_property = tincan_message_row_set_property;

  properties[PROP_MESSAGE] =
    g_param_spec_object ("message", NULL, NULL, TINCAN_TYPE_MESSAGE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DAY] =
    g_param_spec_string ("day", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONTINUATION] =
    g_param_spec_boolean ("continuation", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanMessageRow, main_box);
  gtk_widget_class_bind_template_child (widget_class, TincanMessageRow, content_box);
  gtk_widget_class_bind_template_child (widget_class, TincanMessageRow, text_label);
  gtk_widget_class_bind_template_child (widget_class, TincanMessageRow, state_image);

  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
tincan_message_row_init (TincanMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->message_signals = g_signal_group_new (TINCAN_TYPE_MESSAGE);
  g_signal_group_connect_swapped (self->message_signals, "notify::state",
                                  G_CALLBACK (on_state_notify), self);
  g_signal_group_connect_swapped (self->message_signals, "notify::reason",
                                  G_CALLBACK (on_state_notify), self);
  g_signal_group_connect_swapped (self->message_signals, "notify::timestamp",
                                  G_CALLBACK (on_time_notify), self);
  g_signal_group_connect_swapped (self->message_signals, "notify::text",
                                  G_CALLBACK (on_text_notify), self);

}

GtkWidget *
tincan_message_row_new (void)
{
  return g_object_new (TINCAN_TYPE_MESSAGE_ROW, NULL);
}

TincanMessage *
tincan_message_row_get_message (TincanMessageRow *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_ROW (self), NULL);

  return self->message;
}

void
tincan_message_row_set_message (TincanMessageRow *self,
                                TincanMessage    *message)
{
  g_return_if_fail (TINCAN_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || TINCAN_IS_MESSAGE (message));

  if (!g_set_object (&self->message, message))
    return;

  g_signal_group_set_target (self->message_signals, message);
  /* An unbound row is not shown: it is filled again on the next bind. */
  if (message != NULL)
    update_all (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}

void
tincan_message_row_set_day (TincanMessageRow *self,
                            const char       *day)
{
  g_return_if_fail (TINCAN_IS_MESSAGE_ROW (self));

  if (g_strcmp0 (self->day, day) == 0)
    return;

  g_free (self->day);
  self->day = g_strdup (day);
  update_layout (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DAY]);
}

void
tincan_message_row_set_continuation (TincanMessageRow *self,
                                     gboolean          continuation)
{
  g_return_if_fail (TINCAN_IS_MESSAGE_ROW (self));

  continuation = !!continuation;
  if (self->continuation == continuation)
    return;

  self->continuation = continuation;
  update_layout (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTINUATION]);
}

GtkLabel *
tincan_message_row_get_text_label (TincanMessageRow *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_ROW (self), NULL);

  return self->text_label;
}

const char *
tincan_message_row_get_state_name (TincanMessageRow *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_ROW (self), NULL);

  if (self->message == NULL || !tincan_message_is_outgoing (self->message))
    return NULL;

  return tincan_message_state_to_string (tincan_message_get_state (self->message));
}

GtkWidget *
tincan_message_row_get_retry_button (TincanMessageRow *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_ROW (self), NULL);

  ensure_failed_box (self);
  return self->retry_button;
}
