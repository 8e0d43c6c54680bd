/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-secrets"

#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tincan-core.h"
#include "tincan-frame-log.h"
#include "tincan-secrets.h"
#include "tincan-server.h"

/* Tokens live only in the keyring (issue #9). Runs under
 * `dbus-run-session` with a gnome-keyring-daemon started and unlocked
 * for the test in a throw-away HOME: a real Secret Service, not a mock.
 * Then the token must be nowhere else: not in the profiles key file,
 * the store, the logs, the inspector's export or tincan-cli --frames. */

#define TIMEOUT_MS 15000

typedef gboolean (*ConditionFunc) (gpointer data);

static char *home_dir;
static GString *log_text;

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

/* Every log line of the process, debug included, as it would be printed. */
static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  g_autofree char *line = g_log_writer_format_fields (level, fields, n_fields, FALSE);

  g_string_append (log_text, line);
  g_string_append_c (log_text, '\n');

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static gboolean
contains (const char *haystack,
          gsize       length,
          const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; n > 0 && i + n <= length; i++)
    if (haystack[i] == needle[0] && memcmp (haystack + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* Every file under @path (recursively) must not hold @token. */
static void
assert_no_token_in_dir (const char *path,
                        const char *token,
                        guint      *n_files)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_autofree char *data = NULL;
      gsize length = 0;

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        {
          assert_no_token_in_dir (child, token, n_files);
          continue;
        }
      if (!g_file_get_contents (child, &data, &length, NULL))
        continue;
      (*n_files)++;
      if (contains (data, length, token))
        g_error ("the token is in %s", child);
    }
}

/* Keyring */

static void
on_name_appeared (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
start_keyring (GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) daemon = NULL;
  g_autoptr (GBytes) password = g_bytes_new_static ("tincan-test", strlen ("tincan-test"));

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  /* Our G_DEBUG=fatal-warnings is for us, not for the daemon. */
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  g_subprocess_launcher_unsetenv (launcher, "MALLOC_CHECK_");
  daemon = g_subprocess_launcher_spawn (launcher, error,
                                        "gnome-keyring-daemon", "--unlock", "--components=secrets", NULL);
  if (daemon == NULL)
    return FALSE;

  /* It reads the password of the login keyring (created now) on stdin,
   * forks the daemon, which takes org.freedesktop.secrets on our bus. */
  if (!g_subprocess_communicate (daemon, password, NULL, NULL, NULL, error) ||
      !g_subprocess_wait_check (daemon, NULL, error))
    return FALSE;

  /* Wait until it owns the name: asking earlier would make the bus
   * activate another daemon, with the real home's keyring. */
  {
    gboolean appeared = FALSE;
    guint watch = g_bus_watch_name (G_BUS_TYPE_SESSION, "org.freedesktop.secrets",
                                    G_BUS_NAME_WATCHER_FLAGS_NONE,
                                    on_name_appeared, NULL, &appeared, NULL);

    wait_for (is_true, &appeared, "gnome-keyring-daemon to own org.freedesktop.secrets");
    g_bus_unwatch_name (watch);
  }
  return TRUE;
}

typedef struct
{
  GAsyncResult *result;
} Async;

static gboolean
async_done (gpointer data)
{
  return ((Async *) data)->result != NULL;
}

static void
async_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  ((Async *) user_data)->result = g_object_ref (result);
}

static void
store_token (const char *profile_id,
             const char *token)
{
  g_autoptr (GError) error = NULL;
  Async async = { NULL };

  tincan_secrets_store_async (profile_id, "Tincan test token", token, NULL, async_cb, &async);
  wait_for (async_done, &async, "the keyring to store the token");
  g_assert_true (tincan_secrets_store_finish (async.result, &error));
  g_assert_no_error (error);
  g_object_unref (async.result);
}

static char *
lookup_token (const char *profile_id)
{
  g_autoptr (GError) error = NULL;
  Async async = { NULL };
  char *token;

  tincan_secrets_lookup_async (profile_id, NULL, async_cb, &async);
  wait_for (async_done, &async, "the keyring to look the token up");
  token = tincan_secrets_lookup_finish (async.result, &error);
  g_assert_no_error (error);
  g_object_unref (async.result);
  return token;
}

static void
clear_token (const char *profile_id)
{
  g_autoptr (GError) error = NULL;
  Async async = { NULL };

  tincan_secrets_clear_async (profile_id, NULL, async_cb, &async);
  wait_for (async_done, &async, "the keyring to clear the token");
  g_assert_true (tincan_secrets_clear_finish (async.result, &error));
  g_assert_no_error (error);
  g_object_unref (async.result);
}

/* Tests */

static void
test_roundtrip (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *other_uuid = g_uuid_string_random ();
  g_autofree char *token = g_strdup_printf ("tok-%s", uuid);
  g_autofree char *other = g_strdup_printf ("tok-%s", other_uuid);
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *other_id = g_uuid_string_random ();
  g_autoptr (GError) error = NULL;
  char *found;
  char *from_provider;

  g_assert_null (lookup_token (id));

  store_token (id, token);
  store_token (other_id, other);

  found = lookup_token (id);
  g_assert_cmpstr (found, ==, token);
  tincan_secrets_free (found);

  found = tincan_secrets_lookup_sync (other_id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, other);
  tincan_secrets_free (found);

  from_provider = tincan_secrets_token_provider (id);
  g_assert_cmpstr (from_provider, ==, token);
  g_free (from_provider);

  /* Storing again replaces. */
  store_token (id, other);
  found = lookup_token (id);
  g_assert_cmpstr (found, ==, other);
  tincan_secrets_free (found);

  clear_token (id);
  g_assert_null (lookup_token (id));
  g_assert_null (tincan_secrets_token_provider (id));
  /* Clearing nothing is fine. */
  clear_token (id);
  /* The other profile's token was not touched. */
  found = lookup_token (other_id);
  g_assert_cmpstr (found, ==, other);
  tincan_secrets_free (found);
  clear_token (other_id);
}

static gboolean
is_connected (gpointer data)
{
  TincanConnectionState state = tincan_connection_get_state (data);

  if (state == TINCAN_CONNECTION_STATE_FAILED)
    g_error ("the connection failed: %s", tincan_connection_get_last_error (data)->message);
  return state == TINCAN_CONNECTION_STATE_CONNECTED;
}

static gboolean
message_delivered (gpointer data)
{
  return tincan_message_get_state (data) == TINCAN_MESSAGE_STATE_DELIVERED;
}

typedef struct
{
  gboolean  done;
  GBytes   *out;
  GBytes   *err;
  GError   *error;
} Communicate;

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Communicate *data = user_data;

  g_subprocess_communicate_finish (G_SUBPROCESS (source), result, &data->out, &data->err, &data->error);
  data->done = TRUE;
}

static gboolean
communicated (gpointer data)
{
  return ((Communicate *) data)->done;
}

static void
test_token_nowhere_else (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *token = g_strdup_printf ("tok-%s", uuid);
  g_autofree char *dir = NULL;
  g_autofree char *store_dir = NULL;
  g_autofree char *profiles_path = NULL;
  g_autofree char *store_path = NULL;
  g_autofree char *frames_path = NULL;
  g_autofree char *cli_dir = NULL;
  g_autofree char *frames = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanServer) server = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanFrameLog) inspector = NULL;
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GOutputStream) export = NULL;
  g_autoptr (GPtrArray) profiles = NULL;
  g_autoptr (GSubprocess) cli = NULL;
  Communicate communicate = { FALSE, NULL, NULL, NULL };
  const char *cli_bin = g_getenv ("TINCAN_CLI_BIN");
  gsize frames_length = 0;
  guint n_files = 0;

  dir = g_dir_make_tmp ("tincan-test-secrets-XXXXXX", &error);
  g_assert_no_error (error);
  profiles_path = g_build_filename (dir, "servers.ini", NULL);
  store_dir = g_build_filename (dir, "store", NULL);
  store_path = g_build_filename (store_dir, "history.db", NULL);
  frames_path = g_build_filename (dir, "frames.jsonl", NULL);
  cli_dir = g_build_filename (dir, "cli", NULL);
  g_assert_cmpint (g_mkdir_with_parents (cli_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (store_dir, 0700), ==, 0);

  /* A server that wants exactly this token. */
  server = g_object_new (TINCAN_TYPE_SERVER, "token", token, NULL);
  tincan_server_listen (server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);

  profile = tincan_profile_new ();
  tincan_profile_set_name (profile, "Secret test");
  tincan_profile_set_url (profile, tincan_server_get_uri (server));
  tincan_profile_set_user (profile, "alice");
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_HELLO);
  store_token (tincan_profile_get_id (profile), token);

  /* The app's wiring: the keyring is the connection's token provider,
   * and the inspector follows the connection. */
  store = tincan_store_new (store_path, &error);
  g_assert_no_error (error);
  connection = tincan_connection_new (profile, store);
  tincan_connection_set_token_provider (connection, tincan_secrets_token_provider,
                                        g_strdup (tincan_profile_get_id (profile)), g_free);
  inspector = tincan_frame_log_new (0);
  tincan_frame_log_attach (inspector, connection);

  tincan_connection_connect (connection);
  /* The server accepts only the keyring's token: the provider used it. */
  wait_for (is_connected, connection, "the connection with the keyring's token");
  message = tincan_connection_send (connection, "lobby", "a message", &error);
  g_assert_no_error (error);
  wait_for (message_delivered, message, "the message to be acknowledged");

  /* The profiles key file. */
  profiles = g_ptr_array_new ();
  g_ptr_array_add (profiles, profile);
  tincan_profile_save_all (profiles, profiles_path, &error);
  g_assert_no_error (error);

  /* The inspector's export. */
  tincan_frame_log_flush (inspector);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (inspector)), >, 2);
  export = g_memory_output_stream_new_resizable ();
  tincan_frame_log_export (inspector, export, &error);
  g_assert_no_error (error);
  g_output_stream_close (export, NULL, NULL);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (export)), >, 0);
  if (contains (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (export)),
                g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (export)), token))
    g_error ("the token is in the inspector's export");
  /* The hello was recorded, masked. */
  g_assert_true (contains (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (export)),
                           g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (export)),
                           "hello"));

  /* tincan-cli --frames, to the same server (its token comes from the
   * command line: the CLI has no keyring). */
  if (cli_bin == NULL)
    g_error ("TINCAN_CLI_BIN is not set");
  cli = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                          G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                          cli_bin, "--user", "bob", "--token", token, "--frames", frames_path,
                          "--data-dir", cli_dir, "--drain-timeout", "10",
                          tincan_server_get_uri (server), NULL);
  g_assert_no_error (error);
  {
    g_autoptr (GBytes) input = g_bytes_new_static ("from the cli\n", strlen ("from the cli\n"));

    g_subprocess_communicate_async (cli, input, NULL, on_communicated, &communicate);
  }
  wait_for (communicated, &communicate, "tincan-cli to send and exit");
  g_assert_no_error (communicate.error);
  g_assert_true (g_subprocess_get_if_exited (cli));
  g_assert_cmpint (g_subprocess_get_exit_status (cli), ==, 0);
  if (contains (g_bytes_get_data (communicate.out, NULL), g_bytes_get_size (communicate.out), token) ||
      contains (g_bytes_get_data (communicate.err, NULL), g_bytes_get_size (communicate.err), token))
    g_error ("tincan-cli printed the token");
  g_assert_true (g_file_get_contents (frames_path, &frames, &frames_length, NULL));
  g_assert_true (contains (frames, frames_length, "hello"));
  g_clear_pointer (&communicate.out, g_bytes_unref);
  g_clear_pointer (&communicate.err, g_bytes_unref);

  tincan_connection_disconnect (connection);
  tincan_server_stop (server);
  tincan_frame_log_attach (inspector, NULL);
  g_clear_object (&message);
  g_assert_finalize_object (g_steal_pointer (&connection));
  g_assert_finalize_object (g_steal_pointer (&store));

  /* Everything written under the test's directory: the key file, the
   * store (and its journal), the CLI's store and the --frames file. */
  assert_no_token_in_dir (dir, token, &n_files);
  g_assert_cmpuint (n_files, >=, 4);
  /* The logs, debug included. */
  g_assert_cmpuint (log_text->len, >, 0);
  if (contains (log_text->str, log_text->len, token))
    g_error ("the token is in the log");

  /* And the keyring does hold it: the only place. */
  {
    g_autofree char *kept = tincan_secrets_token_provider ((gpointer) tincan_profile_get_id (profile));

    g_assert_cmpstr (kept, ==, token);
  }
  clear_token (tincan_profile_get_id (profile));

  rm_rf (dir);
}

static void
test_skip (void)
{
  g_test_skip ("needs dbus-run-session and gnome-keyring-daemon (run through meson test)");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *keyring = NULL;
  gboolean ready = FALSE;
  int status;

  /* Before anything caches the user directories: a throw-away home for
   * the keyring, on the private bus dbus-run-session gave us. */
  if (g_getenv ("TINCAN_TEST_PRIVATE_BUS") != NULL && g_getenv ("DBUS_SESSION_BUS_ADDRESS") != NULL)
    {
      keyring = g_find_program_in_path ("gnome-keyring-daemon");
      if (keyring != NULL)
        {
          g_autofree char *data = NULL;
          g_autofree char *runtime = NULL;

          home_dir = g_dir_make_tmp ("tincan-test-keyring-XXXXXX", &error);
          g_assert_no_error (error);
          data = g_build_filename (home_dir, "data", NULL);
          runtime = g_build_filename (home_dir, "runtime", NULL);
          g_mkdir_with_parents (data, 0700);
          g_mkdir_with_parents (runtime, 0700);
          g_setenv ("HOME", home_dir, TRUE);
          g_setenv ("XDG_DATA_HOME", data, TRUE);
          g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
          g_setenv ("XDG_CONFIG_HOME", data, TRUE);
        }
    }

  /* Let debug messages reach the capturing writer. */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_test_init (&argc, &argv, NULL);
  log_text = g_string_new (NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  if (home_dir != NULL)
    {
      ready = start_keyring (&error);
      if (!ready)
        g_printerr ("# cannot start gnome-keyring-daemon: %s\n", error->message);
    }

  if (ready)
    {
      g_test_add_func ("/secrets/roundtrip", test_roundtrip);
      g_test_add_func ("/secrets/token-nowhere-else", test_token_nowhere_else);
    }
  else
    {
      g_test_add_func ("/secrets/skipped", test_skip);
    }

  status = g_test_run ();

  if (home_dir != NULL)
    rm_rf (home_dir);
  g_free (home_dir);
  g_string_free (log_text, TRUE);
  return status;
}
