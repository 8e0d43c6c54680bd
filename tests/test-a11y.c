/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-a11y"

#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "tincan-application.h"
#include "tincan-message-row.h"
#include "tincan-preferences-window.h"
#include "tincan-server-dialog.h"
#include "tincan-session.h"
#include "tincan-window.h"

/* What a screen reader gets, checked with GTK's accessible test API
 * (GTK_A11Y=test): every control has a name, and a message row says who
 * wrote what, when, and how far it got. The running app is walked over
 * AT-SPI by tests/a11y/atspi-walk.py. */

#define TIMEOUT_MS 10000

/* 12 March 2026, 09:41:00 UTC. */
#define MESSAGE_TIME_MS G_GINT64_CONSTANT (1773308460000)

static char *
expected_time (gint64 ms)
{
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (ms / 1000);

  return g_date_time_format (when, "%H:%M");
}

static void
assert_row_label (GtkWidget  *row,
                  const char *expected)
{
  g_autofree char *mismatch = NULL;

  mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                 expected);
  if (mismatch != NULL)
    g_error ("The row's accessible label is “%s”, expected “%s”", mismatch, expected);
}

static void
test_message_row_outgoing (void)
{
  GtkWidget *row = g_object_ref_sink (tincan_message_row_new ());
  g_autoptr (TincanMessage) message = tincan_message_new_outgoing ("lobby", "alice", "hello there");
  g_autofree char *time = NULL;
  g_autofree char *expected = NULL;

  tincan_message_set_local_timestamp (message, MESSAGE_TIME_MS);
  time = expected_time (MESSAGE_TIME_MS);
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), message);

  gtk_test_accessible_assert_role (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_ROLE_GROUP);
  expected = g_strdup_printf ("alice, %s, Queued: hello there", time);
  assert_row_label (row, expected);

  /* The label follows the message as it travels. */
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_SENDING);
  g_free (expected);
  expected = g_strdup_printf ("alice, %s, Sending: hello there", time);
  assert_row_label (row, expected);

  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  g_free (expected);
  expected = g_strdup_printf ("alice, %s, Delivered: hello there", time);
  assert_row_label (row, expected);

  /* The server's timestamp replaces the local one. */
  tincan_message_set_timestamp (message, MESSAGE_TIME_MS + 60 * 60 * 1000);
  g_free (time);
  time = expected_time (MESSAGE_TIME_MS + 60 * 60 * 1000);
  g_free (expected);
  expected = g_strdup_printf ("alice, %s, Delivered: hello there", time);
  assert_row_label (row, expected);

  g_object_unref (row);
}

static void
test_message_row_failed (void)
{
  GtkWidget *row = g_object_ref_sink (tincan_message_row_new ());
  g_autoptr (TincanMessage) message = tincan_message_new_outgoing ("lobby", "alice", "too fast");
  g_autofree char *time = NULL;
  g_autofree char *expected = NULL;

  tincan_message_set_local_timestamp (message, MESSAGE_TIME_MS);
  time = expected_time (MESSAGE_TIME_MS);
  tincan_message_set_failed (message, "rate limited");
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), message);

  /* The reason is part of it: it is what the user acts on. */
  expected = g_strdup_printf ("alice, %s, Not sent: rate limited: too fast", time);
  assert_row_label (row, expected);

  /* The Retry button of the failed row is named too. */
  g_assert_true (gtk_widget_get_visible (tincan_message_row_get_retry_button (TINCAN_MESSAGE_ROW (row))));
  g_assert_true (gtk_test_accessible_has_property (
                   GTK_ACCESSIBLE (tincan_message_row_get_retry_button (TINCAN_MESSAGE_ROW (row))),
                   GTK_ACCESSIBLE_PROPERTY_LABEL) ||
                 gtk_button_get_label (GTK_BUTTON (tincan_message_row_get_retry_button (TINCAN_MESSAGE_ROW (row)))) != NULL);

  g_object_unref (row);
}

static void
test_message_row_incoming (void)
{
  GtkWidget *row = g_object_ref_sink (tincan_message_row_new ());
  g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autoptr (TincanMessage) other = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autofree char *time = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *long_text = NULL;
  g_autofree char *mismatch = NULL;

  tincan_message_set_room (message, "lobby");
  tincan_message_set_sender (message, "bob");
  tincan_message_set_text (message, "<b>not markup</b>");
  tincan_message_set_timestamp (message, MESSAGE_TIME_MS);
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  time = expected_time (MESSAGE_TIME_MS);
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), message);

  /* No delivery state for what others sent; the text as it is. */
  expected = g_strdup_printf ("bob, %s: <b>not markup</b>", time);
  assert_row_label (row, expected);

  tincan_message_set_text (message, "edited");
  g_free (expected);
  expected = g_strdup_printf ("bob, %s: edited", time);
  assert_row_label (row, expected);

  /* A row reused for another message says the new one. */
  long_text = g_strnfill (5000, 'x');
  tincan_message_set_room (other, "lobby");
  tincan_message_set_sender (other, "carol");
  tincan_message_set_text (other, long_text);
  tincan_message_set_timestamp (other, MESSAGE_TIME_MS);
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), other);
  mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                 "carol");
  g_assert_nonnull (mismatch);
  g_assert_true (g_str_has_prefix (mismatch, "carol, "));
  /* A long text is cut for the screen reader, not read out in full. */
  g_assert_cmpuint (strlen (mismatch), <, 1000);
  g_assert_true (g_str_has_suffix (mismatch, "xxx…"));

  g_object_unref (row);
}

/* Every control has a name. */

/* A button's name can come from the text it shows. */
static gboolean
has_label_text (GtkWidget *widget)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget) &&
      *gtk_label_get_text (GTK_LABEL (widget)) != '\0')
    return TRUE;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (has_label_text (child))
      return TRUE;

  return FALSE;
}

static gboolean
has_accessible_name (GtkWidget *widget)
{
  GtkAccessible *accessible = GTK_ACCESSIBLE (widget);

  if (gtk_test_accessible_has_property (accessible, GTK_ACCESSIBLE_PROPERTY_LABEL))
    return TRUE;

  if (GTK_IS_BUTTON (widget))
    {
      const char *label = gtk_button_get_label (GTK_BUTTON (widget));
      GtkWidget *child = gtk_button_get_child (GTK_BUTTON (widget));

      if (label != NULL && *label != '\0' && gtk_button_get_icon_name (GTK_BUTTON (widget)) == NULL)
        return TRUE;
      if (GTK_IS_LABEL (child) && *gtk_label_get_text (GTK_LABEL (child)) != '\0')
        return TRUE;
      if (has_label_text (widget))
        return TRUE;
    }

  if (GTK_IS_MENU_BUTTON (widget))
    {
      const char *label = gtk_menu_button_get_label (GTK_MENU_BUTTON (widget));

      return label != NULL && *label != '\0';
    }

  if (GTK_IS_CHECK_BUTTON (widget))
    {
      const char *label = gtk_check_button_get_label (GTK_CHECK_BUTTON (widget));

      return label != NULL && *label != '\0';
    }

  /* An entry row's text field is named by the row's title. */
  if (GTK_IS_TEXT (widget))
    {
      GtkWidget *row = gtk_widget_get_ancestor (widget, ADW_TYPE_ENTRY_ROW);

      if (row != NULL)
        {
          const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row));

          return title != NULL && *title != '\0';
        }
    }

  return FALSE;
}

static gboolean
is_control (GtkWidget *widget)
{
  return GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget) || GTK_IS_TEXT_VIEW (widget) ||
         GTK_IS_ENTRY (widget) || GTK_IS_TEXT (widget) || GTK_IS_SWITCH (widget) ||
         GTK_IS_CHECK_BUTTON (widget) || GTK_IS_SPIN_BUTTON (widget) || GTK_IS_DROP_DOWN (widget) ||
         GTK_IS_SCALE (widget);
}

static void
collect_unlabelled (GtkWidget *widget,
                    GPtrArray *missing,
                    guint     *checked)
{
  /* What is on screen: not the narrow variant of a squeezer, a page
   * not shown, a popover not open. */
  if (!gtk_widget_get_mapped (widget))
    return;

  if (is_control (widget))
    {
      (*checked)++;
      if (!has_accessible_name (widget))
        {
          GString *description = g_string_new (G_OBJECT_TYPE_NAME (widget));

          if (GTK_IS_BUTTON (widget) && gtk_button_get_icon_name (GTK_BUTTON (widget)) != NULL)
            g_string_append_printf (description, " (icon %s)", gtk_button_get_icon_name (GTK_BUTTON (widget)));
          for (GtkWidget *parent = gtk_widget_get_parent (widget); parent != NULL;
               parent = gtk_widget_get_parent (parent))
            g_string_append_printf (description, " < %s", G_OBJECT_TYPE_NAME (parent));
          g_ptr_array_add (missing, g_string_free (description, FALSE));
        }

      /* Composite controls name their inner parts themselves. */
      if (GTK_IS_MENU_BUTTON (widget) || GTK_IS_SPIN_BUTTON (widget) || GTK_IS_BUTTON (widget) ||
          GTK_IS_DROP_DOWN (widget) || GTK_IS_ENTRY (widget))
        return;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_unlabelled (child, missing, checked);
}

static void
assert_all_named (GtkWidget  *root,
                  guint       at_least,
                  const char *what)
{
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  guint checked = 0;

  collect_unlabelled (root, missing, &checked);
  for (guint i = 0; i < missing->len; i++)
    g_test_message ("%s: no accessible name: %s", what, (char *) g_ptr_array_index (missing, i));
  g_test_message ("%s: %u controls checked", what, checked);
  g_assert_cmpuint (checked, >=, at_least);
  g_assert_cmpuint (missing->len, ==, 0);
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

static void
wait_mapped (GtkWidget *widget)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TIMEOUT_MS * 1000;
  guint wake_id = g_timeout_add (10, wake_up, NULL);

  while (!is_mapped (widget))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u ms waiting for a %s to be shown", TIMEOUT_MS,
                 G_OBJECT_TYPE_NAME (widget));
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (wake_id);
}

static GSettings *
new_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, "io.github.tincan.Tincan", TRUE);
  if (schema == NULL)
    return NULL;

  return g_settings_new ("io.github.tincan.Tincan");
}

static void
test_first_run_named (void)
{
  g_autoptr (GListStore) sessions = g_list_store_new (TINCAN_TYPE_SESSION);
  TincanWindow *window = tincan_window_new (NULL, G_LIST_MODEL (sessions), NULL);

  gtk_window_present (GTK_WINDOW (window));
  wait_mapped (GTK_WIDGET (window));
  g_assert_true (tincan_window_is_first_run (window));

  /* Menu, add server, the two first-run buttons at least. */
  assert_all_named (GTK_WIDGET (window), 4, "first-run window");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_preferences_named (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window;

  if (settings == NULL)
    {
      g_test_skip ("The io.github.tincan.Tincan schema is not compiled");
      return;
    }

  window = tincan_preferences_window_new (NULL, settings);
  gtk_window_present (GTK_WINDOW (window));
  wait_mapped (window);

  /* User name, notifications, retention, the page switcher. */
  assert_all_named (window, 5, "preferences, general");

  /* Four connection defaults, the inspector's ring size. */
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (window), "connections");
  wait_mapped (GTK_WIDGET (adw_preferences_window_get_visible_page (ADW_PREFERENCES_WINDOW (window))));
  assert_all_named (window, 7, "preferences, connections");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_server_dialog_named (void)
{
  g_autoptr (TincanApplication) application = tincan_application_new ();
  GtkWidget *dialog = tincan_server_dialog_new (NULL, application, NULL);

  gtk_window_present (GTK_WINDOW (dialog));
  wait_mapped (dialog);

  /* Name, URL, protocol, user, rooms, auth, the spin buttons, save, cancel. */
  assert_all_named (dialog, 10, "server dialog");

  gtk_window_destroy (GTK_WINDOW (dialog));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();

  g_test_add_func ("/a11y/message-row/outgoing", test_message_row_outgoing);
  g_test_add_func ("/a11y/message-row/failed", test_message_row_failed);
  g_test_add_func ("/a11y/message-row/incoming", test_message_row_incoming);
  g_test_add_func ("/a11y/named/first-run", test_first_run_named);
  g_test_add_func ("/a11y/named/preferences", test_preferences_named);
  g_test_add_func ("/a11y/named/server-dialog", test_server_dialog_named);

  return g_test_run ();
}
