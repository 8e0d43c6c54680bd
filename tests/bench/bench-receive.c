/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-receive"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#include "tincan-core.h"
#include "tincan-message-list.h"
#include "bench-common.h"

/* Issue #8, target 1: receive.
 *
 * A tincan.v1 server on npm's `ws` (tests/peers/blaster.js) blasts
 * BENCH_RECEIVE_COUNT (default 200 000) messages into one room on each
 * connection. Each client below is timed from its hello to the last
 * message, in the same run, best of three rounds, alternating:
 *
 *   tincan        TincanConnection + TincanStore + TincanMessageList, the
 *                 whole path to the view's model, committed to disk;
 *   bare json     a bare libsoup client parsing each frame with json-glib
 *                 (one reused parser) and doing nothing else;
 *   bare count    a bare libsoup client only counting frames: the
 *                 transport's limit;
 *   node ws       npm's `ws` client: parse the JSON, keep the text;
 *   python        python3-websockets: parse the JSON, keep the text.
 *
 * Targets: tincan ≥ 1.0× bare json, ≥ 1.0× node, ≥ 1.5× python. */

#define ROOM "bench"
#define ROUNDS 3

static guint count = 200000;
/* CPU per message in the best round: the main thread, and the whole
 * process (for tincan, the store's worker thread is the difference). */
static double tincan_main_us, tincan_process_us, json_main_us;
/* In the fastest tincan round: how long after the last message arrived
 * the view's model showed it, and the store's thread had written it. */
static double tincan_best = 0, tincan_model_ms, tincan_store_ms;
static const char *peers_dir;
static const char *only;   /* BENCH_RECEIVE_ONLY: run just this client (profiling) */

static gboolean
wanted (const char *client)
{
  return only == NULL || g_str_equal (only, client);
}

/* The blaster */

static GSubprocess *
start_blaster (char **url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  g_autofree char *script = g_build_filename (peers_dir, "blaster.js", NULL);
  g_autofree char *n = g_strdup_printf ("%u", count);
  GSubprocess *blaster;

  blaster = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                              &error, "node", script, n, NULL);
  if (blaster == NULL)
    {
      printf ("SKIP: cannot run node: %s\n", error->message);
      exit (77);
    }
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (blaster));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL || !g_str_has_prefix (line, "PORT "))
    {
      printf ("SKIP: the blaster did not start: %s\n", line != NULL ? line : "(no output)");
      exit (77);
    }
  *url = g_strdup_printf ("ws://127.0.0.1:%s/ws", line + strlen ("PORT "));
  return blaster;
}

/* The bare libsoup clients */

typedef struct
{
  SoupSession             *session;
  SoupWebsocketConnection *ws;
  JsonParser              *parser;   /* NULL: count frames only */
  GPtrArray               *texts;
  guint                    frames;
  guint                    messages;
  gboolean                 failed;
} Bare;

static void
bare_on_message (SoupWebsocketConnection *ws,
                 int                      type,
                 GBytes                  *payload,
                 Bare                    *bare)
{
  gsize size = 0;
  const char *data;
  JsonObject *object;

  bare->frames++;
  if (bare->parser == NULL)
    return;

  data = g_bytes_get_data (payload, &size);
  if (!json_parser_load_from_data (bare->parser, data, size, NULL))
    return;
  object = json_node_get_object (json_parser_get_root (bare->parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (object, "type", ""), "message") == 0)
    bare->messages++;
}

static void
on_bare_connected (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Bare *bare = user_data;
  g_autoptr (GError) error = NULL;

  bare->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (bare->ws == NULL)
    {
      g_printerr ("bare client: %s\n", error->message);
      bare->failed = TRUE;
      return;
    }

  soup_websocket_connection_set_max_incoming_payload_size (bare->ws, 1024 * 1024);
  g_signal_connect (bare->ws, "message", G_CALLBACK (bare_on_message), bare);
  soup_websocket_connection_send_text (bare->ws, "{\"type\":\"hello\",\"user\":\"bare\"}");
}

static gboolean
bare_done (gpointer data)
{
  Bare *bare = data;

  /* Counting only: welcome and resumed come before the messages. */
  return bare->failed ||
         (bare->parser != NULL ? bare->messages >= count : bare->frames >= count + 2);
}

static double
measure_bare (const char *url,
              gboolean    parse)
{
  Bare bare = { 0, };
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  const char *protocols[] = { "tincan.v1", NULL };
  gint64 start, cpu_start;
  double seconds;

  bare.session = soup_session_new ();
  if (parse)
    bare.parser = json_parser_new ();
  soup_message_disable_feature (msg, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);

  start = g_get_monotonic_time ();
  cpu_start = bench_thread_cpu_us ();
  soup_session_websocket_connect_async (bare.session, msg, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, NULL, on_bare_connected, &bare);
  bench_wait_for (bare_done, &bare, 300000, parse ? "the json-glib client" : "the counting client");
  seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  if (bare.failed)
    g_error ("a bare client failed");
  if (parse)
    {
      double main_us = (bench_thread_cpu_us () - cpu_start) / (double) count;

      json_main_us = json_main_us > 0 ? MIN (json_main_us, main_us) : main_us;
    }

  g_signal_handlers_disconnect_by_data (bare.ws, &bare);
  soup_websocket_connection_close (bare.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_object_unref (bare.ws);
  g_clear_object (&bare.parser);
  g_object_unref (bare.session);
  return count / seconds;
}

/* Tincan: connection, store, model */

typedef struct
{
  TincanStore       *store;
  TincanMessageList *list;
  guint              received;
  gint64             last_received_us;
} Tc;

static void
tc_on_received (TincanConnection *connection,
                TincanMessage    *message,
                Tc               *tc)
{
  if (++tc->received == count)
    tc->last_received_us = g_get_monotonic_time ();
}

static gboolean
tc_done (gpointer data)
{
  Tc *tc = data;
  GListModel *model = G_LIST_MODEL (tc->list);
  guint n = g_list_model_get_n_items (model);
  g_autoptr (TincanMessage) last = NULL;

  if (tc->received < count || n == 0)
    return FALSE;
  last = g_list_model_get_item (model, n - 1);
  return tincan_message_get_seq (last) == (gint64) count;
}

static double
measure_tincan (const char *url,
                const char *dir,
                guint       round)
{
  Tc tc = { 0, };
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("receive-%u.db", round);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  const char *rooms[] = { ROOM, NULL };
  gint64 start, cpu_start, process_start, shown_us;
  double seconds, main_us;

  tc.store = tincan_store_new (path, &error);
  g_assert_no_error (error);
  tincan_profile_set_url (profile, url);
  tincan_profile_set_user (profile, "tincan");
  tincan_profile_set_rooms (profile, rooms);

  connection = tincan_connection_new (profile, tc.store);
  tc.list = tincan_message_list_new (connection, ROOM);
  g_signal_connect (connection, "message-received", G_CALLBACK (tc_on_received), &tc);

  start = g_get_monotonic_time ();
  cpu_start = bench_thread_cpu_us ();
  process_start = bench_process_cpu_us ();
  tincan_connection_connect (connection);
  bench_wait_for (tc_done, &tc, 300000, "TincanConnection receiving");
  shown_us = g_get_monotonic_time ();
  /* Stored means on disk: the last batch is committed too. */
  if (!tincan_store_flush (tc.store, &error))
    g_error ("store: %s", error->message);
  seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  if (count / seconds > tincan_best)
    {
      tincan_best = count / seconds;
      tincan_model_ms = (shown_us - tc.last_received_us) / 1000.0;
      tincan_store_ms = (g_get_monotonic_time () - shown_us) / 1000.0;
    }
  main_us = (bench_thread_cpu_us () - cpu_start) / (double) count;
  if (tincan_main_us <= 0 || main_us < tincan_main_us)
    {
      tincan_main_us = main_us;
      tincan_process_us = (bench_process_cpu_us () - process_start) / (double) count;
    }

  if (tincan_store_count_messages (tc.store, ROOM) != count)
    g_error ("the store holds %" G_GUINT64_FORMAT " messages, not %u",
             tincan_store_count_messages (tc.store, ROOM), count);

  tincan_connection_disconnect (connection);
  g_signal_handlers_disconnect_by_data (connection, &tc);
  g_object_unref (tc.list);
  g_object_unref (tc.store);
  g_unlink (path);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (path, "-shm", NULL);

    g_unlink (wal);
    g_unlink (shm);
  }
  return count / seconds;
}

/* The node and python peers: subprocesses that print "RATE n ..." */

static double
measure_peer (const char *const *argv)
{
  g_autoptr (GSubprocess) peer = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;

  peer = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  if (peer == NULL)
    {
      printf ("(%s not available: %s)\n", argv[0], error->message);
      return 0;
    }
  if (!g_subprocess_communicate_utf8 (peer, NULL, NULL, &out, NULL, &error))
    g_error ("%s: %s", argv[0], error->message);
  if (out == NULL || !g_str_has_prefix (out, "RATE "))
    {
      printf ("(%s: %s)\n", argv[1], out != NULL ? g_strstrip (out) : "no output");
      return 0;
    }
  return g_ascii_strtod (out + strlen ("RATE "), NULL);
}

static void
row (const char *what,
     double      rate,
     double      tincan,
     const char *note)
{
  if (rate <= 0)
    printf ("%-34s %12s %10s   %s\n", what, "n/a", "", note);
  else
    printf ("%-34s %12.0f %9.2fx   %s\n", what, rate, tincan / rate, note);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GSubprocess) blaster = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-bench-receive-XXXXXX", &error);
  g_autofree char *node_script = NULL;
  g_autofree char *python_script = NULL;
  g_autofree char *n = NULL;
  double tincan = 0, bare_json = 0, bare_count = 0, node = 0, python = 0;
  gboolean holds;

  g_assert_no_error (error);
  count = bench_env_uint ("BENCH_RECEIVE_COUNT", count, 1);
  only = g_getenv ("BENCH_RECEIVE_ONLY");
  peers_dir = g_getenv ("TINCAN_PEERS_DIR");
  if (peers_dir == NULL)
    g_error ("TINCAN_PEERS_DIR is not set");

  blaster = start_blaster (&url);
  n = g_strdup_printf ("%u", count);
  node_script = g_build_filename (peers_dir, "receive-node.js", NULL);
  python_script = g_build_filename (peers_dir, "receive-python.py", NULL);

  for (guint round = 0; round < ROUNDS; round++)
    {
      const char *node_argv[] = { "node", node_script, url, n, NULL };
      const char *python_argv[] = { "/usr/bin/python3", python_script, url, n, NULL };
      double value;

      /* (MAX() evaluates its arguments twice: measure first.) */
      value = wanted ("tincan") ? measure_tincan (url, dir, round) : 0;
      tincan = MAX (tincan, value);
      value = wanted ("json") ? measure_bare (url, TRUE) : 0;
      bare_json = MAX (bare_json, value);
      value = wanted ("count") ? measure_bare (url, FALSE) : 0;
      bare_count = MAX (bare_count, value);
      value = wanted ("node") ? measure_peer (node_argv) : 0;
      node = MAX (node, value);
      value = wanted ("python") ? measure_peer (python_argv) : 0;
      python = MAX (python, value);
      printf ("round %u: tincan %.0f, bare json %.0f, bare count %.0f, node %.0f, python %.0f msg/s\n",
              round + 1, tincan, bare_json, bare_count, node, python);
    }

  printf ("\nReceive: %u messages blasted into one room by a tincan.v1 server on npm ws,\n"
          "hello → last message, best of %u rounds (ratio = tincan / that client)\n\n",
          count, ROUNDS);
  printf ("%-34s %12s %10s   %s\n", "client", "msg/s", "ratio", "target");
  row ("tincan (decode+store+model)", tincan, tincan, "");
  row ("bare libsoup + json-glib", bare_json, tincan, "≥ 1.0x");
  row ("node ws (parse, keep text)", node, tincan, "≥ 1.0x");
  row ("python3-websockets (same)", python, tincan, "≥ 1.5x");
  row ("bare libsoup, counting only", bare_count, tincan, "(the transport's limit)");

  if (tincan_main_us > 0 || json_main_us > 0)
    printf ("\nCPU per message: tincan %.2f µs on the main thread, %.2f µs in all (the store's\n"
            "thread does the rest); bare libsoup + json-glib %.2f µs\n",
            tincan_main_us, tincan_process_us, json_main_us);
  if (tincan_best > 0)
    printf ("After the last message arrived (fastest tincan round): %.0f ms more until the\n"
            "model showed it (flood spacing), then %.0f ms until the store's thread had\n"
            "written the rest (%.0f ms of %.0f in all)\n",
            tincan_model_ms, tincan_store_ms, tincan_model_ms + tincan_store_ms,
            count / tincan_best * 1000);

  /* Not measured (BENCH_RECEIVE_ONLY) is not held. */
  holds = bare_json > 0 && tincan >= bare_json && (node <= 0 || tincan >= node) &&
          (python <= 0 || tincan >= 1.5 * python);
  printf ("\ntarget 1 (receive): %s\n", holds ? "HOLDS" : "MISSED");
  printf ("RESULT target=1 ratio=%.2f limit=1.0 holds=%s detail=\"tincan %.0f msg/s; x%.2f bare json-glib, x%.2f node ws, x%.2f python (needs 1.5), x%.2f counting-only\"\n",
          bare_json > 0 ? tincan / bare_json : 0, holds ? "yes" : "no", tincan,
          bare_json > 0 ? tincan / bare_json : 0, node > 0 ? tincan / node : 0,
          python > 0 ? tincan / python : 0, bare_count > 0 ? tincan / bare_count : 0);

  g_subprocess_force_exit (blaster);
  g_subprocess_wait (blaster, NULL, NULL);
  g_rmdir (dir);
  return 0;
}
