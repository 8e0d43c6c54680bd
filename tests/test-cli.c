/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-cli"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "tincan-core.h"
#include "tincan-server.h"

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
wait_for (ConditionFunc condition,
          gpointer      data,
          guint         timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint tick = g_timeout_add (10, tick_cb, NULL);
  gboolean ok = TRUE;

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        {
          ok = FALSE;
          break;
        }
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (tick);
  return ok;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static void
run_for (guint ms)
{
  wait_for (never, NULL, ms);
}

static const char *
cli_bin (void)
{
  const char *bin = g_getenv ("TINCAN_CLI_BIN");

  if (bin == NULL)
    g_error ("TINCAN_CLI_BIN is not set");
  return bin;
}

static guint
free_port (void)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
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

/* A running tincan-cli: its events as they come, and its exit status. */
typedef struct
{
  GSubprocess      *process;
  GOutputStream    *stdin_pipe;
  GDataInputStream *stdout_lines;
  GPtrArray        *events;      /* JsonObject */
  gboolean          exited;
  gboolean          stdout_done;
  int               status;
} Cli;

static void cli_read_line (Cli *cli);

static void
cli_on_line (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                     NULL, &error);
  if (line == NULL)
    {
      cli->stdout_done = TRUE;
      return;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, line, -1, &error))
    g_error ("tincan-cli printed a line that is not JSON: %s (%s)", line, error->message);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  g_assert_true (json_object_has_member (json_node_get_object (root), "event"));
  g_ptr_array_add (cli->events, json_object_ref (json_node_get_object (root)));

  cli_read_line (cli);
}

static void
cli_read_line (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->stdout_lines, G_PRIORITY_DEFAULT, NULL,
                                       cli_on_line, cli);
}

static void
cli_on_exit (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  if (g_subprocess_get_if_exited (G_SUBPROCESS (source)))
    cli->status = g_subprocess_get_exit_status (G_SUBPROCESS (source));
  else
    cli->status = -g_subprocess_get_term_sig (G_SUBPROCESS (source));
  cli->exited = TRUE;
}

static Cli *
cli_spawn (const char * const *args)
{
  Cli *cli = g_new0 (Cli, 1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;

  g_ptr_array_add (argv, (char *) cli_bin ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  cli->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  cli->process = g_subprocess_newv ((const char * const *) argv->pdata,
                                    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                    &error);
  g_assert_no_error (error);
  cli->stdin_pipe = g_object_ref (g_subprocess_get_stdin_pipe (cli->process));
  cli->stdout_lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (cli->process));
  cli_read_line (cli);
  g_subprocess_wait_async (cli->process, NULL, cli_on_exit, cli);
  return cli;
}

static void
cli_write (Cli        *cli,
           const char *text)
{
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all (cli->stdin_pipe, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (cli->stdin_pipe, NULL, &error);
  g_assert_no_error (error);
}

static void
cli_close_stdin (Cli *cli)
{
  g_output_stream_close (cli->stdin_pipe, NULL, NULL);
}

static gboolean
cli_finished (gpointer data)
{
  Cli *cli = data;

  return cli->exited && cli->stdout_done;
}

static int
cli_wait (Cli  *cli,
          guint timeout_ms)
{
  if (!wait_for (cli_finished, cli, timeout_ms))
    g_error ("tincan-cli did not exit within %u ms", timeout_ms);
  return cli->status;
}

static void
cli_free (Cli *cli)
{
  if (!cli->exited)
    {
      g_subprocess_force_exit (cli->process);
      wait_for (cli_finished, cli, 5000);
    }
  g_clear_object (&cli->stdin_pipe);
  g_clear_object (&cli->stdout_lines);
  g_clear_object (&cli->process);
  g_ptr_array_unref (cli->events);
  g_free (cli);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cli, cli_free)

static guint
cli_count (Cli        *cli,
           const char *event)
{
  guint n = 0;

  for (guint i = 0; i < cli->events->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (cli->events, i), "event"),
                   event) == 0)
      n++;
  return n;
}

/* The values of @member of every @event, in order. */
static GPtrArray *
cli_collect (Cli        *cli,
             const char *event,
             const char *member)
{
  GPtrArray *values = g_ptr_array_new ();

  for (guint i = 0; i < cli->events->len; i++)
    {
      JsonObject *object = g_ptr_array_index (cli->events, i);

      if (g_strcmp0 (json_object_get_string_member (object, "event"), event) == 0)
        g_ptr_array_add (values, (char *) json_object_get_string_member (object, member));
    }
  return values;
}

typedef struct
{
  Cli        *cli;
  const char *event;
  guint       n;
} EventWait;

static gboolean
has_events (gpointer data)
{
  EventWait *wait = data;

  return cli_count (wait->cli, wait->event) >= wait->n;
}

static void
cli_wait_events (Cli        *cli,
                 const char *event,
                 guint       n,
                 guint       timeout_ms)
{
  EventWait wait = { cli, event, n };

  if (!wait_for (has_events, &wait, timeout_ms))
    g_error ("timed out waiting for %u \"%s\" events (got %u)", n, event, cli_count (cli, event));
}

static TincanServer *
server_new (guint       port,
            const char *token)
{
  g_autoptr (GError) error = NULL;
  TincanServer *server = g_object_new (TINCAN_TYPE_SERVER, "token", token, NULL);

  tincan_server_listen (server, "127.0.0.1", port, &error);
  g_assert_no_error (error);
  return server;
}

static void
server_free (TincanServer *server)
{
  tincan_server_stop (server);
  run_for (20);
  g_object_unref (server);
}

/* Tests */

static void
test_usage (void)
{
  const char *cases[][4] = {
    { "http://example.org/", NULL },
    { "not a url at all", NULL },
    { "--protocol", "no-such-dialect", "ws://127.0.0.1:1/ws", NULL },
    { "--no-such-option", "ws://127.0.0.1:1/ws", NULL },
    { NULL },
    { "ws://a/", "ws://b/", NULL },
    { "--header", "no colon", "ws://127.0.0.1:1/ws", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Cli) cli = cli_spawn (cases[i]);

      cli_close_stdin (cli);
      g_assert_cmpint (cli_wait (cli, 5000), ==, 64);
      g_assert_cmpuint (cli->events->len, ==, 0);
    }
}

static void
test_deliver (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-cli-XXXXXX", &error);
  g_autofree char *alice_dir = g_build_filename (dir, "alice", NULL);
  g_autofree char *bob_dir = g_build_filename (dir, "bob", NULL);
  TincanServer *server = server_new (0, NULL);
  const char *url = tincan_server_get_uri (server);
  const char *bob_args[] = { "--user", "bob", "--data-dir", bob_dir,
                             "--exit-after-messages", "3", "--heartbeat", "1", url, NULL };
  const char *alice_args[] = { "--user", "alice", "--data-dir", alice_dir, url, NULL };
  g_autoptr (Cli) bob = cli_spawn (bob_args);
  g_autoptr (Cli) alice = NULL;
  g_autoptr (GPtrArray) queued = NULL;
  g_autoptr (GPtrArray) delivered = NULL;
  g_autoptr (GPtrArray) texts = NULL;

  g_assert_no_error (error);

  /* Bob listens first. */
  {
    EventWait wait = { bob, "state", 2 };

    if (!wait_for (has_events, &wait, 5000))
      g_error ("bob never connected");
  }

  alice = cli_spawn (alice_args);
  cli_write (alice, "hello\nsecond line\r\n\nthird ✓\n");
  cli_close_stdin (alice);

  g_assert_cmpint (cli_wait (alice, 10000), ==, 0);
  g_assert_cmpint (cli_wait (bob, 10000), ==, 0);

  /* The empty line is not a message. */
  queued = cli_collect (alice, "queued", "cid");
  delivered = cli_collect (alice, "delivered", "cid");
  g_assert_cmpuint (queued->len, ==, 3);
  g_assert_cmpuint (delivered->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpstr (g_ptr_array_index (queued, i), ==, g_ptr_array_index (delivered, i));
  g_assert_cmpuint (cli_count (alice, "message"), ==, 0);

  texts = cli_collect (bob, "message", "text");
  g_assert_cmpuint (texts->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (texts, 0), ==, "hello");
  g_assert_cmpstr (g_ptr_array_index (texts, 1), ==, "second line");
  g_assert_cmpstr (g_ptr_array_index (texts, 2), ==, "third ✓");
  {
    g_autoptr (GPtrArray) from = cli_collect (bob, "message", "from");
    g_autoptr (GPtrArray) cids = cli_collect (bob, "message", "cid");

    g_assert_cmpstr (g_ptr_array_index (from, 0), ==, "alice");
    for (guint i = 0; i < 3; i++)
      g_assert_cmpstr (g_ptr_array_index (cids, i), ==, g_ptr_array_index (delivered, i));
  }

  server_free (server);
  rm_rf (dir);
}

static void
test_drain_timeout (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-cli-XXXXXX", &error);
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", free_port ());
  const char *args[] = { "--data-dir", dir, "--drain-timeout", "1", url, NULL };
  g_autoptr (Cli) cli = cli_spawn (args);
  gint64 start = g_get_monotonic_time ();

  cli_write (cli, "nobody hears this\n");
  cli_close_stdin (cli);
  g_assert_cmpint (cli_wait (cli, 10000), ==, 2);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpuint (cli_count (cli, "queued"), ==, 1);
  g_assert_cmpuint (cli_count (cli, "delivered"), ==, 0);
  g_assert_cmpuint (cli_count (cli, "error"), >=, 1);

  rm_rf (dir);
}

static void
test_failed (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-cli-XXXXXX", &error);
  TincanServer *server = server_new (0, "s3cret");
  const char *url = tincan_server_get_uri (server);
  const char *wrong[] = { "--data-dir", dir, "--token", "guess", url, NULL };
  const char *right[] = { "--data-dir", dir, "--token", "s3cret", url, NULL };
  g_autoptr (Cli) cli = cli_spawn (wrong);
  g_autoptr (Cli) again = NULL;
  g_autoptr (GPtrArray) states = NULL;

  cli_write (cli, "let me in\n");
  cli_close_stdin (cli);
  g_assert_cmpint (cli_wait (cli, 10000), ==, 1);
  states = cli_collect (cli, "state", "state");
  g_assert_cmpstr (g_ptr_array_index (states, states->len - 1), ==, "failed");

  /* The message stayed in the outbox: the right token delivers it. */
  again = cli_spawn (right);
  cli_close_stdin (again);
  g_assert_cmpint (cli_wait (again, 10000), ==, 0);
  g_assert_cmpuint (cli_count (again, "delivered"), ==, 1);

  server_free (server);
  rm_rf (dir);
}

static void
on_message (TincanConnection *connection,
            TincanMessage    *message,
            GPtrArray        *texts)
{
  g_ptr_array_add (texts, g_strdup (tincan_message_get_text (message)));
}

static gboolean
connected (gpointer data)
{
  return tincan_connection_get_state (data) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static void
test_killed (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-cli-XXXXXX", &error);
  g_autofree char *data_dir = g_build_filename (dir, "cli", NULL);
  g_autofree char *observer_db = g_build_filename (dir, "observer.db", NULL);
  guint port = free_port ();
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
  const char *args[] = { "--user", "alice", "--data-dir", data_dir, url, NULL };
  g_autoptr (Cli) first = cli_spawn (args);
  g_autoptr (Cli) second = NULL;
  g_autoptr (Cli) third = NULL;
  g_autoptr (GPtrArray) queued = NULL;
  g_autoptr (GPtrArray) delivered = NULL;
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanConnection) observer = NULL;
  g_autoptr (GString) input = g_string_new (NULL);
  TincanServer *server;

  /* The server is down: the lines can only be queued. */
  for (guint i = 0; i < 25; i++)
    g_string_append_printf (input, "line %02u\n", i);
  cli_write (first, input->str);
  cli_wait_events (first, "queued", 25, 10000);
  g_assert_false (first->exited);

  g_subprocess_send_signal (first->process, SIGKILL);
  g_assert_cmpint (cli_wait (first, 5000), ==, -SIGKILL);
  g_assert_cmpuint (cli_count (first, "delivered"), ==, 0);
  queued = cli_collect (first, "queued", "cid");

  /* The server comes up, someone listens. */
  server = server_new (port, NULL);
  store = tincan_store_new (observer_db, &error);
  g_assert_no_error (error);
  tincan_profile_set_url (profile, url);
  tincan_profile_set_user (profile, "bob");
  observer = tincan_connection_new (profile, store);
  g_signal_connect (observer, "message-received", G_CALLBACK (on_message), texts);
  tincan_connection_connect (observer);
  if (!wait_for (connected, observer, 5000))
    g_error ("observer did not connect");

  /* Run again with the same data dir and nothing new on stdin. */
  second = cli_spawn (args);
  cli_close_stdin (second);
  g_assert_cmpint (cli_wait (second, 10000), ==, 0);
  delivered = cli_collect (second, "delivered", "cid");
  g_assert_cmpuint (delivered->len, ==, 25);
  for (guint i = 0; i < 25; i++)
    g_assert_cmpstr (g_ptr_array_index (delivered, i), ==, g_ptr_array_index (queued, i));

  /* A third run has nothing left to send. */
  third = cli_spawn (args);
  cli_close_stdin (third);
  g_assert_cmpint (cli_wait (third, 10000), ==, 0);
  g_assert_cmpuint (cli_count (third, "delivered"), ==, 0);

  run_for (200);
  g_assert_cmpuint (texts->len, ==, 25);
  for (guint i = 0; i < 25; i++)
    {
      g_autofree char *expected = g_strdup_printf ("line %02u", i);

      g_assert_cmpstr (g_ptr_array_index (texts, i), ==, expected);
    }

  tincan_connection_disconnect (observer);
  g_clear_object (&observer);
  server_free (server);
  rm_rf (dir);
}

/* --frames FILE: the inspector's export format, live, secrets masked. */
static void
test_frames (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-cli-XXXXXX", &error);
  g_autofree char *frames = g_build_filename (dir, "frames.jsonl", NULL);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  const char *hello_token = "hello-s3cr3t-7788";
  const char *bearer = "b3arer-s3cr3t-9911";
  TincanServer *server = server_new (0, hello_token);
  const char *url = tincan_server_get_uri (server);
  g_autofree char *header = g_strdup_printf ("Authorization: Bearer %s", bearer);
  const char *args[] = { "--user", "alice", "--data-dir", dir, "--token", hello_token,
                         "--header", header, "--frames", frames, url, NULL };
  g_autoptr (Cli) cli = NULL;
  guint n_request = 0, n_response = 0, n_hello = 0, n_send = 0, n_ack = 0, n_close = 0;

  g_assert_no_error (error);
  cli = cli_spawn (args);
  cli_write (cli, "first\nsecond\n");
  cli_close_stdin (cli);
  g_assert_cmpint (cli_wait (cli, 10000), ==, 0);
  g_assert_cmpuint (cli_count (cli, "delivered"), ==, 2);

  g_file_get_contents (frames, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (strstr (contents, hello_token));
  g_assert_null (strstr (contents, bearer));

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (TincanFrameRecord) record = NULL;
      const char *text;

      if (*lines[i] == '\0')
        continue;
      record = tincan_frame_record_new_from_json_line (lines[i], &error);
      g_assert_no_error (error);
      text = tincan_frame_record_get_text (record);

      switch (tincan_frame_record_get_kind (record))
        {
        case TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST:
          n_request++;
          g_assert_nonnull (strstr (text, "Authorization: Bearer "));
          break;
        case TINCAN_FRAME_RECORD_KIND_HANDSHAKE_RESPONSE:
          n_response++;
          g_assert_true (g_str_has_prefix (text, "HTTP/1.1 101"));
          break;
        case TINCAN_FRAME_RECORD_KIND_FRAME:
        default:
          if (tincan_frame_record_get_opcode (record) == TINCAN_OPCODE_CLOSE)
            n_close++;
          else if (g_strcmp0 (tincan_frame_record_get_json_type (record), "hello") == 0)
            {
              n_hello++;
              g_assert_nonnull (strstr (text, "\"token\""));
            }
          else if (g_strcmp0 (tincan_frame_record_get_json_type (record), "send") == 0)
            n_send++;
          else if (g_strcmp0 (tincan_frame_record_get_json_type (record), "ack") == 0)
            n_ack++;
          break;
        }
    }

  g_assert_cmpuint (n_request, ==, 1);
  g_assert_cmpuint (n_response, ==, 1);
  g_assert_cmpuint (n_hello, ==, 1);
  g_assert_cmpuint (n_send, ==, 2);
  g_assert_cmpuint (n_ack, ==, 2);
  g_assert_cmpuint (n_close, >=, 1);

  server_free (server);
  rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/usage", test_usage);
  g_test_add_func ("/cli/deliver", test_deliver);
  g_test_add_func ("/cli/frames", test_frames);
  g_test_add_func ("/cli/drain-timeout", test_drain_timeout);
  g_test_add_func ("/cli/failed", test_failed);
  g_test_add_func ("/cli/killed", test_killed);

  return g_test_run ();
}
