/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-trust-ui"

#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tincan-application.h"
#include "tincan-core.h"
#include "tincan-server.h"
#include "tincan-server-dialog.h"
#include "tincan-session.h"

/* "Trust This Certificate…": a wss:// server with a self-signed
 * certificate is refused; the dialog shows the certificate's fingerprint,
 * subject and validity; trusting pins it and the new session connects. */

#define TIMEOUT_MS 15000

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TIMEOUT_MS * 1000;
  guint tick = g_timeout_add (10, tick_cb, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        g_error ("timed out after %u ms waiting for %s", TIMEOUT_MS, what);
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (tick);
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static GTlsCertificate *
make_self_signed (const char *dir)
{
  g_autofree char *cert = g_build_filename (dir, "self.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "self.key", NULL);
  const char *argv[] = {
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL
  };
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, NULL))
    return NULL;

  return g_tls_certificate_new_from_files (cert, key, NULL);
}

/* Depth-first: a label (or row) whose text (or title) is @text. */
static GtkWidget *
find_text (GtkWidget  *widget,
           const char *text)
{
  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return widget;
  if (ADW_IS_PREFERENCES_ROW (widget) &&
      g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), text) == 0)
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_text (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
first_session_state (GListModel            *sessions,
                     TincanConnectionState  state)
{
  g_autoptr (TincanSession) session = g_list_model_get_item (sessions, 0);

  return session != NULL &&
         tincan_connection_get_state (tincan_session_get_connection (session)) == state;
}

static gboolean
first_failed (gpointer data)
{
  return first_session_state (data, TINCAN_CONNECTION_STATE_FAILED);
}

static gboolean
first_connected (gpointer data)
{
  return first_session_state (data, TINCAN_CONNECTION_STATE_CONNECTED);
}

static void
test_trust_certificate (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-trust-XXXXXX", &error);
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (TincanServer) server = NULL;
  g_autoptr (TincanApplication) app = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanSession) failed = NULL;
  g_autoptr (TincanSession) trusted = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *pinned = NULL;
  GListModel *sessions;
  GtkWidget *editor;
  GtkWidget *dialog;

  g_assert_no_error (error);
  certificate = make_self_signed (dir);
  if (certificate == NULL)
    {
      g_test_skip ("openssl cannot make a test certificate");
      rm_rf (dir);
      return;
    }
  fingerprint = tincan_certificate_fingerprint (certificate);

  server = g_object_new (TINCAN_TYPE_SERVER, "tls-certificate", certificate, NULL);
  tincan_server_listen (server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);

  app = tincan_application_new ();
  sessions = tincan_application_get_sessions (app);
  profile = tincan_profile_new ();
  tincan_profile_set_name (profile, "Self-signed");
  tincan_profile_set_url (profile, tincan_server_get_uri (server));
  tincan_profile_set_user (profile, "alice");
  tincan_application_add_profile (app, profile, FALSE);

  wait_for (first_failed, sessions, "the certificate to be refused");
  failed = g_list_model_get_item (sessions, 0);
  g_assert_true (tincan_server_dialog_can_trust_certificate (failed));

  /* The Edit Server dialog offers it. */
  editor = tincan_server_dialog_new (NULL, app, failed);
  g_assert_nonnull (find_text (editor, "The Server’s Certificate Was Refused"));
  g_assert_nonnull (find_text (editor, "Trust This Certificate…"));
  gtk_window_destroy (GTK_WINDOW (editor));

  /* The dialog shows what is trusted, literally. */
  dialog = tincan_server_dialog_trust_certificate (NULL, app, failed);
  g_assert_nonnull (dialog);
  g_assert_nonnull (find_text (dialog, fingerprint));
  g_assert_nonnull (find_text (dialog, "CN=127.0.0.1"));
  g_assert_nonnull (find_text (dialog, "Valid Until"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "self-signed?"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "intercept"));
  /* Enter does not trust. */
  g_assert_cmpstr (adw_message_dialog_get_default_response (ADW_MESSAGE_DIALOG (dialog)), ==, "cancel");

  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "trust");

  /* Pinned in the profile, and the new session connects. */
  wait_for (first_connected, sessions, "the trusted server to connect");
  trusted = g_list_model_get_item (sessions, 0);
  g_assert_true (trusted != failed);
  g_object_get (tincan_session_get_profile (trusted), "accept-certificate", &pinned, NULL);
  g_assert_cmpstr (pinned, ==, fingerprint);
  /* The original profile was not changed behind the user's back. */
  g_clear_pointer (&pinned, g_free);
  g_object_get (profile, "accept-certificate", &pinned, NULL);
  g_assert_null (pinned);

  tincan_connection_disconnect (tincan_session_get_connection (trusted));
  tincan_server_stop (server);
  rm_rf (dir);
}

/* Cancel changes nothing. */
static void
test_cancel (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-trust-XXXXXX", &error);
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (TincanServer) server = NULL;
  g_autoptr (TincanApplication) app = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanSession) failed = NULL;
  g_autoptr (TincanSession) after = NULL;
  GListModel *sessions;
  GtkWidget *dialog;

  g_assert_no_error (error);
  certificate = make_self_signed (dir);
  if (certificate == NULL)
    {
      g_test_skip ("openssl cannot make a test certificate");
      rm_rf (dir);
      return;
    }

  server = g_object_new (TINCAN_TYPE_SERVER, "tls-certificate", certificate, NULL);
  tincan_server_listen (server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);

  app = tincan_application_new ();
  sessions = tincan_application_get_sessions (app);
  profile = tincan_profile_new ();
  tincan_profile_set_url (profile, tincan_server_get_uri (server));
  tincan_application_add_profile (app, profile, FALSE);
  wait_for (first_failed, sessions, "the certificate to be refused");
  failed = g_list_model_get_item (sessions, 0);

  dialog = tincan_server_dialog_trust_certificate (NULL, app, failed);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  after = g_list_model_get_item (sessions, 0);
  g_assert_true (after == failed);
  g_assert_cmpint (tincan_connection_get_state (tincan_session_get_connection (after)), ==,
                   TINCAN_CONNECTION_STATE_FAILED);

  tincan_server_stop (server);
  rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *home = g_dir_make_tmp ("tincan-test-trust-home-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  g_autofree char *config = g_build_filename (home, "config", NULL);
  int status;

  /* The sessions' stores go to the user data dir: a throw-away one.
   * (Not G_TEST_OPTION_ISOLATE_DIRS: it hides the system's GSettings
   * schemas, which GIO's proxy resolver needs.) */
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      rm_rf (home);
      return 0;
    }
  adw_init ();

  g_test_add_func ("/trust-ui/trust-certificate", test_trust_certificate);
  g_test_add_func ("/trust-ui/cancel", test_cancel);

  status = g_test_run ();
  rm_rf (home);
  return status;
}
