/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-preferences"

#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "tincan-application.h"
#include "tincan-preferences-window.h"
#include "tincan-server-dialog.h"

/* The preferences window writes GSettings, and what it writes is used:
 * new servers take the connection defaults and the user name. */

#define TIMEOUT_MS 10000

static GSettings *
new_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;
  GSettings *settings;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, "io.github.tincan.Tincan", TRUE);
  if (schema == NULL)
    return NULL;

  settings = g_settings_new ("io.github.tincan.Tincan");
  /* The memory backend is shared by the process: start from the defaults. */
  g_settings_reset (settings, "default-user-name");
  g_settings_reset (settings, "heartbeat-interval");
  g_settings_reset (settings, "heartbeat-timeout");
  g_settings_reset (settings, "reconnect-base-ms");
  g_settings_reset (settings, "reconnect-cap-ms");
  g_settings_reset (settings, "inspector-ring-size");
  g_settings_reset (settings, "history-retention");
  g_settings_reset (settings, "notifications");

  return settings;
}

/* The control a screen reader calls @name. */
static GtkWidget *
find_by_accessible_label (GtkWidget  *widget,
                          GType       type,
                          const char *name)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    {
      g_autofree char *mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget),
                                                                      GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                                      name);

      if (mismatch == NULL)
        return widget;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_by_accessible_label (child, type, name);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* One registered (started up) application for the process: it can be
 * exported on the bus once. */
static TincanApplication *
get_application (void)
{
  static TincanApplication *application;

  if (application == NULL)
    {
      application = tincan_application_new ();
      g_application_set_flags (G_APPLICATION (application),
                               g_application_get_flags (G_APPLICATION (application)) | G_APPLICATION_NON_UNIQUE);
      g_assert_true (g_application_register (G_APPLICATION (application), NULL, NULL));
    }

  return g_object_ref (application);
}

static void
test_window_binds_settings (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  GtkWidget *window;
  GtkWidget *spin;
  GtkWidget *toggle;
  GtkWidget *user;
  g_autofree char *stored = NULL;
  const struct
  {
    const char *label;
    const char *key;
    guint       value;
  } spins[] = {
    { "Heartbeat interval in seconds", "heartbeat-interval", 45 },
    { "Heartbeat timeout in seconds", "heartbeat-timeout", 7 },
    { "First reconnect delay in milliseconds", "reconnect-base-ms", 1500 },
    { "Longest reconnect delay in milliseconds", "reconnect-cap-ms", 90000 },
    { "Frames kept by the inspector", "inspector-ring-size", 2000 },
    { "Messages kept per room, 0 for all", "history-retention", 5000 },
  };

  if (settings == NULL)
    {
      g_test_skip ("The io.github.tincan.Tincan schema is not compiled");
      return;
    }

  window = tincan_preferences_window_new (NULL, settings);
  g_assert_true (ADW_IS_PREFERENCES_WINDOW (window));

  for (gsize i = 0; i < G_N_ELEMENTS (spins); i++)
    {
      spin = find_by_accessible_label (window, GTK_TYPE_SPIN_BUTTON, spins[i].label);
      g_assert_nonnull (spin);

      /* It shows the setting... */
      g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==,
                         g_settings_get_uint (settings, spins[i].key));
      /* ...and writes it back. */
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), spins[i].value);
      g_assert_cmpuint (g_settings_get_uint (settings, spins[i].key), ==, spins[i].value);
      /* A change elsewhere shows up. */
      g_settings_set_uint (settings, spins[i].key, spins[i].value + 1);
      g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==, spins[i].value + 1);
    }

  toggle = find_by_accessible_label (window, GTK_TYPE_SWITCH, "Notify about new messages");
  g_assert_nonnull (toggle);
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (toggle)));
  gtk_switch_set_active (GTK_SWITCH (toggle), FALSE);
  g_assert_false (g_settings_get_boolean (settings, "notifications"));

  user = find_by_accessible_label (window, ADW_TYPE_ENTRY_ROW, "Default user name");
  g_assert_nonnull (user);
  gtk_editable_set_text (GTK_EDITABLE (user), "zoe");
  stored = g_settings_get_string (settings, "default-user-name");
  g_assert_cmpstr (stored, ==, "zoe");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_defaults_for_new_profiles (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  g_autoptr (TincanProfile) fresh = tincan_profile_new ();
  g_autoptr (TincanProfile) named = tincan_profile_new ();
  g_autofree char *user = NULL;
  guint interval, timeout, base, cap;

  if (settings == NULL)
    {
      g_test_skip ("The io.github.tincan.Tincan schema is not compiled");
      return;
    }

  /* No preferred name: the login name (or "me"). */
  user = tincan_preferences_dup_user_name (settings);
  g_assert_nonnull (user);
  g_assert_cmpstr (user, !=, "");
  g_assert_cmpstr (user, !=, "root");
  g_clear_pointer (&user, g_free);

  g_settings_set_string (settings, "default-user-name", "  zoe ");
  g_settings_set_uint (settings, "heartbeat-interval", 5);
  g_settings_set_uint (settings, "heartbeat-timeout", 3);
  g_settings_set_uint (settings, "reconnect-base-ms", 2000);
  g_settings_set_uint (settings, "reconnect-cap-ms", 60000);

  user = tincan_preferences_dup_user_name (settings);
  g_assert_cmpstr (user, ==, "zoe");

  tincan_preferences_apply_defaults (settings, fresh);
  g_object_get (fresh,
                "heartbeat-interval", &interval,
                "heartbeat-timeout", &timeout,
                "reconnect-base-ms", &base,
                "reconnect-cap-ms", &cap,
                NULL);
  g_assert_cmpuint (interval, ==, 5);
  g_assert_cmpuint (timeout, ==, 3);
  g_assert_cmpuint (base, ==, 2000);
  g_assert_cmpuint (cap, ==, 60000);
  g_assert_cmpstr (tincan_profile_get_user (fresh), ==, "zoe");

  /* A name given (--user, the dialog) is kept. */
  tincan_profile_set_user (named, "alice");
  tincan_preferences_apply_defaults (settings, named);
  g_assert_cmpstr (tincan_profile_get_user (named), ==, "alice");

  /* A cap below the base would make the backoff shrink: the base wins. */
  g_settings_set_uint (settings, "reconnect-cap-ms", 1000);
  tincan_preferences_apply_defaults (settings, named);
  g_object_get (named, "reconnect-cap-ms", &cap, NULL);
  g_assert_cmpuint (cap, ==, 2000);
}

/* The inspector of every server keeps as many frames as the preference
 * says, also after it changes. */
static void
test_ring_size_follows_setting (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  g_autoptr (TincanApplication) application = NULL;
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  TincanSession *session;
  TincanFrameLog *log;

  if (settings == NULL)
    {
      g_test_skip ("The io.github.tincan.Tincan schema is not compiled");
      return;
    }

  g_settings_set_uint (settings, "inspector-ring-size", 500);

  application = get_application ();

  /* Nothing listens there: the connection only retries. */
  tincan_profile_set_name (profile, "Nowhere");
  tincan_profile_set_url (profile, "ws://127.0.0.1:9/ws");
  session = tincan_application_add_profile (application, profile, FALSE);
  g_assert_nonnull (session);
  log = tincan_session_get_frame_log (session);
  g_assert_cmpuint (tincan_frame_log_get_capacity (log), ==, 500);

  g_settings_set_uint (settings, "inspector-ring-size", 2500);
  g_assert_cmpuint (tincan_frame_log_get_capacity (log), ==, 2500);

  tincan_application_remove_session (application, session);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) handle = g_dir_open (path, 0, NULL);
      const char *name;

      while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
save_incoming (TincanStore *store,
               const char  *room,
               gint64       seq)
{
  g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autofree char *id = g_strdup_printf ("%s-%" G_GINT64_FORMAT, room, seq);

  tincan_message_set_id (message, id);
  tincan_message_set_room (message, room);
  tincan_message_set_sender (message, "bob");
  tincan_message_set_text (message, "old news");
  tincan_message_set_seq (message, seq);
  tincan_message_set_timestamp (message, 1700000000000 + seq * 1000);
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_store_save (store, message);
}

static void
test_prune_history (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-prune-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanMessage) queued = tincan_message_new_outgoing ("lobby", "alice", "not sent yet");
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GPtrArray) outbox = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "history.sqlite", NULL);
  store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  /* 2500 in the lobby (more than a page), 5 in dev, one unsent. */
  for (gint64 seq = 1; seq <= 2500; seq++)
    save_incoming (store, "lobby", seq);
  for (gint64 seq = 1; seq <= 5; seq++)
    save_incoming (store, "dev", seq);
  tincan_store_save (store, queued);
  tincan_store_flush (store, &error);
  g_assert_no_error (error);

  /* 0 keeps everything. */
  g_assert_cmpint (tincan_preferences_prune_history (store, 0, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (tincan_store_count_messages (store, "lobby"), ==, 2501);

  g_assert_cmpint (tincan_preferences_prune_history (store, 10, &error), ==, 2490);
  g_assert_no_error (error);

  /* The newest ten are left, and the unsent message is still queued. */
  page = tincan_store_load_page (store, "lobby", 0, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 10);
  g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (page, 0)), ==, 2500);
  g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (page, 9)), ==, 2491);
  outbox = tincan_store_load_outbox (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 1);
  g_assert_cmpstr (tincan_message_get_cid (g_ptr_array_index (outbox, 0)), ==, tincan_message_get_cid (queued));
  /* A room under the limit is left alone. */
  g_assert_cmpuint (tincan_store_count_messages (store, "dev"), ==, 5);
  /* Resuming still starts after the newest message. */
  g_assert_cmpint (tincan_store_get_last_seq (store, "lobby"), ==, 2500);

  /* Already within the limit: nothing more to do. */
  g_assert_cmpint (tincan_preferences_prune_history (store, 10, &error), ==, 0);

  g_clear_object (&store);
  remove_tree (dir);
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
test_server_dialog_uses_defaults (void)
{
  g_autoptr (GSettings) settings = new_settings ();
  g_autoptr (TincanApplication) application = NULL;
  GtkWidget *dialog;
  GtkWidget *spin;
  gint64 deadline;
  guint wake_id;

  if (settings == NULL)
    {
      g_test_skip ("The io.github.tincan.Tincan schema is not compiled");
      return;
    }

  g_settings_set_uint (settings, "heartbeat-interval", 42);
  g_settings_set_uint (settings, "reconnect-base-ms", 1234);

  /* The dialog reads the application's settings: they exist once it
   * has started up. */
  application = get_application ();
  g_assert_nonnull (tincan_application_get_settings (application));

  dialog = tincan_server_dialog_new (NULL, application, NULL);
  spin = find_by_accessible_label (dialog, GTK_TYPE_SPIN_BUTTON, "Heartbeat interval in seconds");
  g_assert_nonnull (spin);
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==, 42);
  spin = find_by_accessible_label (dialog, GTK_TYPE_SPIN_BUTTON, "First reconnect delay in milliseconds");
  g_assert_nonnull (spin);
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==, 1234);

  gtk_window_destroy (GTK_WINDOW (dialog));

  /* Let the destroyed dialog go before the application does. */
  deadline = g_get_monotonic_time () + (gint64) TIMEOUT_MS * 1000;
  wake_id = g_timeout_add (10, wake_up, NULL);
  while (g_main_context_pending (NULL) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_source_remove (wake_id);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data_home = NULL;
  int status;

  /* The application keeps histories in the user data dir: a fresh one. */
  data_home = g_dir_make_tmp ("tincan-prefs-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);

  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();

  g_test_add_func ("/preferences/window-binds-settings", test_window_binds_settings);
  g_test_add_func ("/preferences/defaults-for-new-profiles", test_defaults_for_new_profiles);
  g_test_add_func ("/preferences/server-dialog-uses-defaults", test_server_dialog_uses_defaults);
  g_test_add_func ("/preferences/prune-history", test_prune_history);
  g_test_add_func ("/preferences/ring-size-follows-setting", test_ring_size_follows_setting);

  status = g_test_run ();
  remove_tree (data_home);

  return status;
}
