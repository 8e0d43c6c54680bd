/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-probes"

#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tincan-core.h"
#include "tincan-server.h"

/* Helpers */

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

typedef struct
{
  char             *tmpdir;
  TincanStore      *store;
  TincanProfile    *profile;
  TincanConnection *connection;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  fixture->tmpdir = g_dir_make_tmp ("tincan-test-probes-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (fixture->tmpdir, "alice.db", NULL);
  fixture->store = tincan_store_new (path, &error);
  g_assert_no_error (error);
  fixture->profile = tincan_profile_new ();
  tincan_profile_set_user (fixture->profile, "alice");
  g_object_set (fixture->profile,
                "reconnect-base-ms", 20,
                "reconnect-cap-ms", 100,
                NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  if (fixture->connection != NULL)
    {
      tincan_connection_disconnect (fixture->connection);
      run_for (50);
      g_assert_finalize_object (fixture->connection);
    }
  g_clear_object (&fixture->profile);
  tincan_store_flush (fixture->store, NULL);
  g_clear_object (&fixture->store);
  rm_rf (fixture->tmpdir);
  g_clear_pointer (&fixture->tmpdir, g_free);
}

static gboolean
cond_connected (gpointer data)
{
  return tincan_connection_get_state (data) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static void
connect_to (Fixture    *fixture,
            const char *url)
{
  tincan_profile_set_url (fixture->profile, url);
  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);
  tincan_connection_connect (fixture->connection);
  if (!wait_for (cond_connected, fixture->connection, 5000))
    g_error ("could not connect to %s", url);
}

typedef struct
{
  TincanProbeResult *result;
  GError            *error;
  gboolean           done;
} ProbeWait;

static void
on_probe_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ProbeWait *wait = user_data;

  wait->result = tincan_probe_run_finish (TINCAN_CONNECTION (source), result, &wait->error);
  wait->done = TRUE;
}

static gboolean
cond_probe_done (gpointer data)
{
  return ((ProbeWait *) data)->done;
}

/* Runs a probe to its end; NULL + @error when it could not run. */
static TincanProbeResult *
run_probe (TincanConnection *connection,
           TincanProbeKind   kind,
           GError          **error)
{
  ProbeWait wait = { 0 };

  tincan_probe_run_async (connection, kind, NULL, on_probe_done, &wait);
  if (!wait_for (cond_probe_done, &wait, 20000))
    g_error ("the %s probe did not end within 20 s", tincan_probe_kind_get_title (kind));

  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  else
    g_test_message ("%s: %s\n%s", tincan_probe_kind_get_title (kind),
                    tincan_probe_result_get_summary (wait.result),
                    tincan_probe_result_get_evidence (wait.result));
  return wait.result;
}

/* A deliberately broken tincan.v1 server */

typedef enum
{
  BROKEN_NO_DEDUP,           /* a repeated cid is stored and broadcast again */
  BROKEN_IGNORE_RESUME,      /* hello's resume is ignored: no replay, no resumed */
  BROKEN_CLOSE_ON_MALFORMED, /* a frame it cannot parse closes the connection */
} BrokenMode;

typedef struct
{
  char   *room;
  char   *id;
  char   *cid;
  char   *user;
  char   *text;
  gint64  seq;
  gint64  ts;
} Stored;

typedef struct
{
  SoupServer *server;
  BrokenMode  mode;
  GPtrArray  *conns;      /* SoupWebsocketConnection */
  GPtrArray  *history;    /* Stored */
  GHashTable *by_cid;     /* cid → Stored (borrowed) */
  char       *url;
} Broken;

static void
stored_free (Stored *stored)
{
  g_free (stored->room);
  g_free (stored->id);
  g_free (stored->cid);
  g_free (stored->user);
  g_free (stored->text);
  g_free (stored);
}

static void
broken_send (SoupWebsocketConnection *conn,
             TincanFrame             *frame)
{
  gsize length = 0;
  g_autofree char *json = tincan_v1_encode (frame, &length);

  if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (conn, json);
}

static TincanFrame *
message_frame (Stored *stored)
{
  TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_MESSAGE);

  frame->room = g_strdup (stored->room);
  frame->id = g_strdup (stored->id);
  frame->cid = g_strdup (stored->cid);
  frame->user = g_strdup (stored->user);
  frame->text = g_strdup (stored->text);
  frame->seq = stored->seq;
  frame->ts = stored->ts;
  return frame;
}

static void
broken_on_message (SoupWebsocketConnection *conn,
                   int                      type,
                   GBytes                  *payload,
                   Broken                  *broken)
{
  g_autoptr (TincanFrame) frame = NULL;
  g_autoptr (GError) error = NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (payload, &size);
  const char *user = g_object_get_data (G_OBJECT (conn), "user");

  frame = tincan_v1_decode (data, size, &error);
  if (frame == NULL)
    {
      if (broken->mode == BROKEN_CLOSE_ON_MALFORMED)
        {
          soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "bad frame");
        }
      else
        {
          g_autoptr (TincanFrame) reply = tincan_frame_new (TINCAN_FRAME_ERROR);

          reply->code = g_strdup ("bad_request");
          reply->message = g_strdup ("not a frame");
          broken_send (conn, reply);
        }
      return;
    }

  switch ((int) frame->type)
    {
    case TINCAN_FRAME_HELLO:
      {
        g_autoptr (TincanFrame) welcome = tincan_frame_new (TINCAN_FRAME_WELCOME);
        const char * const rooms[] = { "lobby", NULL };
        GHashTableIter iter;
        gpointer key, value;

        g_object_set_data_full (G_OBJECT (conn), "user", g_strdup (frame->user), g_free);
        welcome->session = g_strdup ("s1");
        welcome->user = g_strdup (frame->user);
        welcome->rooms = g_strdupv ((char **) rooms);
        broken_send (conn, welcome);

        if (broken->mode == BROKEN_IGNORE_RESUME || frame->resume == NULL)
          break;

        g_hash_table_iter_init (&iter, frame->resume);
        while (g_hash_table_iter_next (&iter, &key, &value))
          {
            g_autoptr (TincanFrame) resumed = tincan_frame_new (TINCAN_FRAME_RESUMED);
            gint64 after = *(gint64 *) value;
            gint64 last = 0;

            for (guint i = 0; i < broken->history->len; i++)
              {
                Stored *stored = g_ptr_array_index (broken->history, i);

                if (!g_str_equal (stored->room, key))
                  continue;
                last = stored->seq;
                if (stored->seq > after)
                  {
                    g_autoptr (TincanFrame) replay = message_frame (stored);

                    broken_send (conn, replay);
                  }
              }
            resumed->room = g_strdup (key);
            resumed->seq = last;
            broken_send (conn, resumed);
          }
      }
      break;

    case TINCAN_FRAME_SEND:
      {
        g_autoptr (TincanFrame) ack = tincan_frame_new (TINCAN_FRAME_ACK);
        g_autoptr (TincanFrame) broadcast = NULL;
        Stored *stored = g_hash_table_lookup (broken->by_cid, frame->cid);
        gboolean fresh = stored == NULL || broken->mode == BROKEN_NO_DEDUP;

        if (fresh)
          {
            stored = g_new0 (Stored, 1);
            stored->room = g_strdup (frame->room);
            stored->cid = g_strdup (frame->cid);
            stored->user = g_strdup (user);
            stored->text = g_strdup (frame->text);
            stored->seq = broken->history->len + 1;
            stored->id = g_strdup_printf ("m-%" G_GINT64_FORMAT, stored->seq);
            stored->ts = 1700000000000 + stored->seq;
            g_ptr_array_add (broken->history, stored);
            g_hash_table_replace (broken->by_cid, g_strdup (frame->cid), stored);
          }

        ack->cid = g_strdup (frame->cid);
        ack->id = g_strdup (stored->id);
        ack->seq = stored->seq;
        ack->ts = stored->ts;
        broken_send (conn, ack);

        if (!fresh)
          break;
        broadcast = message_frame (stored);
        for (guint i = 0; i < broken->conns->len; i++)
          broken_send (g_ptr_array_index (broken->conns, i), broadcast);
      }
      break;

    case TINCAN_FRAME_PING:
      {
        g_autoptr (TincanFrame) pong = tincan_frame_new (TINCAN_FRAME_PONG);

        pong->ping_id = frame->ping_id;
        broken_send (conn, pong);
      }
      break;

    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
    default:
      break;
    }
}

static void
broken_on_closed (SoupWebsocketConnection *conn,
                  Broken                  *broken)
{
  g_signal_handlers_disconnect_by_data (conn, broken);
  g_ptr_array_remove (broken->conns, conn);
}

static void
broken_on_websocket (SoupServer              *server,
                     SoupServerMessage       *msg,
                     const char              *path,
                     SoupWebsocketConnection *conn,
                     gpointer                 user_data)
{
  Broken *broken = user_data;

  g_ptr_array_add (broken->conns, g_object_ref (conn));
  g_signal_connect (conn, "message", G_CALLBACK (broken_on_message), broken);
  g_signal_connect (conn, "closed", G_CALLBACK (broken_on_closed), broken);
}

static Broken *
broken_new (BrokenMode mode)
{
  Broken *broken = g_new0 (Broken, 1);
  g_autoptr (GError) error = NULL;
  const char *protocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };
  GSList *uris;

  broken->mode = mode;
  broken->conns = g_ptr_array_new_with_free_func (g_object_unref);
  broken->history = g_ptr_array_new_with_free_func ((GDestroyNotify) stored_free);
  broken->by_cid = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  broken->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (broken->server, "/ws", NULL, (char **) protocols,
                                     broken_on_websocket, broken, NULL);
  soup_server_listen_local (broken->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (broken->server);
  broken->url = g_strdup_printf ("ws://127.0.0.1:%d/ws", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return broken;
}

static void
broken_free (Broken *broken)
{
  while (broken->conns->len > 0)
    {
      SoupWebsocketConnection *conn = g_ptr_array_index (broken->conns, 0);

      g_signal_handlers_disconnect_by_data (conn, broken);
      if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_ptr_array_remove_index (broken->conns, 0);
    }
  run_for (50);
  soup_server_disconnect (broken->server);
  g_object_unref (broken->server);
  g_ptr_array_unref (broken->conns);
  g_hash_table_unref (broken->by_cid);
  g_ptr_array_unref (broken->history);
  g_free (broken->url);
  g_free (broken);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Broken, broken_free)

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("“%s” not found in:\n%s", needle, haystack);
}

/* Tests */

static void
test_reference_server (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr (TincanServer) server = tincan_server_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (tincan_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  connect_to (fixture, tincan_server_get_uri (server));

  for (TincanProbeKind kind = TINCAN_PROBE_DEDUP; kind <= TINCAN_PROBE_MALFORMED; kind++)
    {
      g_autoptr (TincanProbeResult) result = NULL;
      const char *evidence;

      g_assert_true (tincan_probe_is_supported (fixture->connection, kind, NULL));
      result = run_probe (fixture->connection, kind, &error);
      g_assert_no_error (error);
      evidence = tincan_probe_result_get_evidence (result);
      if (!tincan_probe_result_get_passed (result))
        g_error ("%s failed against tincan-server: %s\n%s", tincan_probe_kind_get_title (kind),
                 tincan_probe_result_get_summary (result), evidence);
      g_assert_cmpint (tincan_probe_result_get_kind (result), ==, kind);
      assert_contains (evidence, "PASS");
      assert_contains (evidence, "Frames: ");

      switch (kind)
        {
        case TINCAN_PROBE_DEDUP:
          assert_contains (evidence, "re-sending cid");
          assert_contains (evidence, "0 further broadcast");
          break;
        case TINCAN_PROBE_RESUME:
          assert_contains (evidence, "← resumed room lobby");
          assert_contains (evidence, "never arrived: —; arrived more than once: —");
          break;
        case TINCAN_PROBE_MALFORMED:
          assert_contains (evidence, "← error bad_request");
          assert_contains (evidence, "← pong id");
          break;
        default:
          g_assert_not_reached ();
        }

      /* The probed connection is usable afterwards. */
      if (!wait_for (cond_connected, fixture->connection, 5000))
        g_error ("not connected after the %s probe", tincan_probe_kind_get_title (kind));
    }

  tincan_connection_disconnect (fixture->connection);
  tincan_server_stop (server);
}

static void
test_no_dedup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (Broken) broken = broken_new (BROKEN_NO_DEDUP);
  g_autoptr (TincanProbeResult) result = NULL;
  g_autoptr (GError) error = NULL;
  const char *summary;

  connect_to (fixture, broken->url);
  result = run_probe (fixture->connection, TINCAN_PROBE_DEDUP, &error);
  g_assert_no_error (error);
  g_assert_false (tincan_probe_result_get_passed (result));

  /* The original was seq 1; the re-send was stored again as seq 2. */
  summary = tincan_probe_result_get_summary (result);
  assert_contains (summary, "NEW ack (id m-2, seq 2)");
  assert_contains (summary, "original (id m-1, seq 1)");
  assert_contains (tincan_probe_result_get_evidence (result), "1 further broadcast");
  assert_contains (tincan_probe_result_get_evidence (result), "FAIL");
  g_assert_cmpuint (broken->history->len, ==, 2);

  tincan_connection_disconnect (fixture->connection);
}

static void
test_ignore_resume (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr (Broken) broken = broken_new (BROKEN_IGNORE_RESUME);
  g_autoptr (TincanProbeResult) result = NULL;
  g_autoptr (GError) error = NULL;
  const char *evidence;

  connect_to (fixture, broken->url);
  result = run_probe (fixture->connection, TINCAN_PROBE_RESUME, &error);
  g_assert_no_error (error);
  g_assert_false (tincan_probe_result_get_passed (result));

  evidence = tincan_probe_result_get_evidence (result);
  assert_contains (tincan_probe_result_get_summary (result), "no “resumed” frame");
  assert_contains (tincan_probe_result_get_summary (result), "missing seqs: ");
  /* The stream was 12 messages; the last one is certainly missing. */
  assert_contains (evidence, "seqs 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12");
  assert_contains (evidence, "never arrived: ");
  g_assert_null (strstr (evidence, "never arrived: —"));
  assert_contains (tincan_probe_result_get_summary (result), "12");

  /* Back online afterwards. */
  if (!wait_for (cond_connected, fixture->connection, 5000))
    g_error ("the probe left the connection offline");
  g_assert_false (tincan_connection_get_simulated_offline (fixture->connection));

  tincan_connection_disconnect (fixture->connection);
}

static void
test_close_on_malformed (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr (Broken) broken = broken_new (BROKEN_CLOSE_ON_MALFORMED);
  g_autoptr (TincanProbeResult) result = NULL;
  g_autoptr (GError) error = NULL;

  connect_to (fixture, broken->url);
  result = run_probe (fixture->connection, TINCAN_PROBE_MALFORMED, &error);
  g_assert_no_error (error);
  g_assert_false (tincan_probe_result_get_passed (result));
  assert_contains (tincan_probe_result_get_summary (result), "closed the connection (code 1008)");
  assert_contains (tincan_probe_result_get_evidence (result), "← close 1008");

  tincan_connection_disconnect (fixture->connection);
}

static void
test_cannot_run (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr (Broken) broken = broken_new (BROKEN_NO_DEDUP);
  g_autoptr (TincanProbeResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *reason = NULL;

  /* Not connected. */
  tincan_profile_set_url (fixture->profile, broken->url);
  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);
  result = run_probe (fixture->connection, TINCAN_PROBE_MALFORMED, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_assert_null (result);
  g_clear_error (&error);

  /* A dialect without acks, resume or error frames. */
  tincan_profile_set_protocol (fixture->profile, "plain");
  for (TincanProbeKind kind = TINCAN_PROBE_DEDUP; kind <= TINCAN_PROBE_MALFORMED; kind++)
    {
      g_assert_false (tincan_probe_is_supported (fixture->connection, kind, &reason));
      g_assert_nonnull (reason);
      assert_contains (reason, "plain");
      g_clear_pointer (&reason, g_free);

      result = run_probe (fixture->connection, kind, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_assert_null (result);
      g_clear_error (&error);
    }

  /* socketio acknowledges, but promises no dedup by cid. */
  tincan_profile_set_protocol (fixture->profile, "socketio");
  g_assert_false (tincan_probe_is_supported (fixture->connection, TINCAN_PROBE_DEDUP, &reason));
  assert_contains (reason, "acknowledges");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/probes/reference-server", Fixture, NULL, fixture_setup,
              test_reference_server, fixture_teardown);
  g_test_add ("/probes/no-dedup", Fixture, NULL, fixture_setup,
              test_no_dedup, fixture_teardown);
  g_test_add ("/probes/ignore-resume", Fixture, NULL, fixture_setup,
              test_ignore_resume, fixture_teardown);
  g_test_add ("/probes/close-on-malformed", Fixture, NULL, fixture_setup,
              test_close_on_malformed, fixture_teardown);
  g_test_add ("/probes/cannot-run", Fixture, NULL, fixture_setup,
              test_cannot_run, fixture_teardown);

  return g_test_run ();
}
