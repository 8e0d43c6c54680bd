/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server-limits"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tincan-server.h"

/* The server's protections (issue #9): connections over --max-clients
 * are closed with 1013, joins over --max-rooms are refused, and a TCP
 * connection that does not complete its upgrade within
 * --handshake-timeout is closed (slowloris), while good clients go on. */

#define TIMEOUT_MS 10000

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          guint          timeout_ms,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint tick = g_timeout_add (10, tick_cb, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        g_error ("timed out after %u ms waiting for %s", timeout_ms, what);
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (tick);
}

/* The server logs with g_message: keep the test output quiet. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags   level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

/* A WebSocket client */

typedef struct
{
  SoupSession             *session;
  SoupWebsocketConnection *conn;
  GError                  *error;
  gboolean                 connect_done;
  GPtrArray               *frames;  /* JsonObject */
  gboolean                 closed;
  guint                    close_code;
} Peer;

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Peer *peer = user_data;

  peer->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &peer->error);
  peer->connect_done = TRUE;
}

static void
on_message (SoupWebsocketConnection *conn,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            Peer                    *peer)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize length;
  const char *text = g_bytes_get_data (message, &length);

  g_assert_true (json_parser_load_from_data (parser, text, length, NULL));
  g_ptr_array_add (peer->frames, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
}

static void
on_closed (SoupWebsocketConnection *conn,
           Peer                    *peer)
{
  peer->closed = TRUE;
  peer->close_code = soup_websocket_connection_get_close_code (conn);
}

static gboolean
peer_connect_done (gpointer data)
{
  return ((Peer *) data)->connect_done;
}

static gboolean
peer_is_closed (gpointer data)
{
  return ((Peer *) data)->closed;
}

static Peer *
peer_try_connect (TincanServer *server,
                  guint        *status)
{
  const char *protocols[] = { "tincan.v1", NULL };
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u/ws", tincan_server_get_port (server));
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  Peer *peer = g_new0 (Peer, 1);

  peer->session = soup_session_new ();
  peer->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  soup_session_websocket_connect_async (peer->session, msg, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, NULL, on_connected, peer);
  wait_for (peer_connect_done, peer, TIMEOUT_MS, "the WebSocket handshake");
  *status = soup_message_get_status (msg);
  if (peer->conn == NULL)
    return peer;
  g_signal_connect (peer->conn, "message", G_CALLBACK (on_message), peer);
  g_signal_connect (peer->conn, "closed", G_CALLBACK (on_closed), peer);
  return peer;
}

static Peer *
peer_connect (TincanServer *server)
{
  guint status = 0;
  Peer *peer = peer_try_connect (server, &status);

  g_assert_no_error (peer->error);
  g_assert_cmpuint (status, ==, SOUP_STATUS_SWITCHING_PROTOCOLS);
  return peer;
}

static void
peer_free (Peer *peer)
{
  if (peer->conn != NULL)
    {
      if (!peer->closed && soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (peer->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      if (!peer->closed)
        wait_for (peer_is_closed, peer, TIMEOUT_MS, "the client to close");
      g_signal_handlers_disconnect_by_data (peer->conn, peer);
      g_clear_object (&peer->conn);
    }
  g_clear_object (&peer->session);
  g_ptr_array_unref (peer->frames);
  g_clear_error (&peer->error);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

typedef struct
{
  Peer       *peer;
  const char *type;
  const char *code;
} Wanted;

static JsonObject *
find_frame (Peer       *peer,
            const char *type,
            const char *code)
{
  for (guint i = 0; i < peer->frames->len; i++)
    {
      JsonObject *frame = g_ptr_array_index (peer->frames, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (frame, "type", NULL), type) == 0 &&
          (code == NULL ||
           g_strcmp0 (json_object_get_string_member_with_default (frame, "code", NULL), code) == 0))
        return frame;
    }
  return NULL;
}

static gboolean
has_wanted (gpointer data)
{
  Wanted *wanted = data;

  return find_frame (wanted->peer, wanted->type, wanted->code) != NULL || wanted->peer->closed;
}

/* Waits for a frame of @type (and error @code) and removes what came
 * before it and it. */
static void
peer_expect (Peer       *peer,
             const char *type,
             const char *code)
{
  Wanted wanted = { peer, type, code };
  JsonObject *frame;
  guint index = 0;

  wait_for (has_wanted, &wanted, TIMEOUT_MS, type);
  frame = find_frame (peer, type, code);
  if (frame == NULL)
    g_error ("the server closed (code %u) instead of sending %s %s", peer->close_code, type, code ? code : "");
  g_assert_true (g_ptr_array_find (peer->frames, frame, &index));
  g_ptr_array_remove_range (peer->frames, 0, index + 1);
}

static void
peer_hello (Peer       *peer,
            const char *user)
{
  g_autofree char *hello = g_strdup_printf ("{\"type\":\"hello\",\"user\":\"%s\"}", user);

  soup_websocket_connection_send_text (peer->conn, hello);
  peer_expect (peer, "welcome", NULL);
}

static void
peer_join (Peer       *peer,
           const char *room)
{
  g_autofree char *join = g_strdup_printf ("{\"type\":\"join\",\"room\":\"%s\"}", room);

  soup_websocket_connection_send_text (peer->conn, join);
}

/* A good client can still chat: a message comes back acknowledged. */
static void
peer_assert_chats (Peer *peer)
{
  g_autofree char *cid = g_uuid_string_random ();
  g_autofree char *send = g_strdup_printf ("{\"type\":\"send\",\"room\":\"lobby\",\"cid\":\"%s\",\"text\":\"hi\"}", cid);

  soup_websocket_connection_send_text (peer->conn, send);
  peer_expect (peer, "ack", NULL);
}

static TincanServer *
start_server (const char *first_property,
              ...)
{
  g_autoptr (GError) error = NULL;
  TincanServer *server;
  va_list args;

  va_start (args, first_property);
  server = TINCAN_SERVER (g_object_new_valist (TINCAN_TYPE_SERVER, first_property, args));
  va_end (args);

  tincan_server_listen (server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);
  return server;
}

static gboolean
no_clients (gpointer data)
{
  return tincan_server_get_n_clients (data) == 0;
}

static void
stop_server (TincanServer *server)
{
  tincan_server_stop (server);
  wait_for (no_clients, server, TIMEOUT_MS, "the server to drop its clients");
  g_assert_finalize_object (server);
}

/* Tests */

static void
test_max_clients (void)
{
  TincanServer *server = start_server ("max-clients", 2, NULL);
  g_autoptr (Peer) alice = peer_connect (server);
  g_autoptr (Peer) bob = peer_connect (server);
  g_autoptr (Peer) carol = NULL;
  guint status = 0;

  peer_hello (alice, "alice");
  peer_hello (bob, "bob");

  /* The third is told to try again later, and the others go on. */
  carol = peer_try_connect (server, &status);
  g_assert_null (carol->conn);
  g_assert_cmpuint (status, ==, SOUP_STATUS_SERVICE_UNAVAILABLE);
  g_assert_cmpuint (tincan_server_get_n_clients (server), ==, 2);
  peer_assert_chats (alice);

  peer_assert_chats (bob);

  g_clear_pointer (&alice, peer_free);
  g_clear_pointer (&bob, peer_free);
  g_clear_pointer (&carol, peer_free);
  stop_server (server);
}

static gboolean
one_client (gpointer data)
{
  return tincan_server_get_n_clients (data) == 1;
}

static void
test_max_clients_frees (void)
{
  TincanServer *server = start_server ("max-clients", 1, NULL);
  g_autoptr (Peer) alice = peer_connect (server);
  g_autoptr (Peer) bob = NULL;
  g_autoptr (Peer) carol = NULL;
  guint status = 0;

  peer_hello (alice, "alice");
  bob = peer_try_connect (server, &status);
  g_assert_cmpuint (status, ==, SOUP_STATUS_SERVICE_UNAVAILABLE);

  g_clear_pointer (&alice, peer_free);
  wait_for (no_clients, server, TIMEOUT_MS, "alice to leave");
  carol = peer_connect (server);
  peer_hello (carol, "carol");
  wait_for (one_client, server, TIMEOUT_MS, "carol to be served");
  peer_assert_chats (carol);

  g_clear_pointer (&carol, peer_free);
  g_clear_pointer (&bob, peer_free);
  stop_server (server);
}

static void
test_max_rooms (void)
{
  TincanServer *server = start_server ("max-rooms", 3, NULL);
  g_autoptr (Peer) alice = peer_connect (server);

  peer_hello (alice, "alice");   /* lobby: 1 */
  peer_join (alice, "a");
  peer_expect (alice, "members", NULL);
  peer_join (alice, "b");
  peer_expect (alice, "members", NULL);
  peer_join (alice, "c");
  peer_expect (alice, "error", "too_many_rooms");

  /* Joining a room one is in is not a new room. */
  peer_join (alice, "b");
  peer_expect (alice, "members", NULL);

  /* Leaving makes room. */
  soup_websocket_connection_send_text (alice->conn, "{\"type\":\"leave\",\"room\":\"a\"}");
  peer_expect (alice, "members", NULL);
  peer_join (alice, "c");
  peer_expect (alice, "members", NULL);
  g_assert_null (find_frame (alice, "error", NULL));

  g_clear_pointer (&alice, peer_free);
  stop_server (server);
}

/* Slowloris */

typedef struct
{
  GSocketConnection *connection;
  char               buffer[256];
  gboolean           done;
  gssize             read;
  gint64             closed_at;
} RawClient;

static void
on_raw_read (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RawClient *raw = user_data;

  raw->read = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
  raw->done = TRUE;
  raw->closed_at = g_get_monotonic_time ();
}

static RawClient *
raw_connect (TincanServer *server,
             const char   *partial_request)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  RawClient *raw = g_new0 (RawClient, 1);

  raw->connection = g_socket_client_connect_to_host (client, "127.0.0.1", tincan_server_get_port (server),
                                                     NULL, &error);
  g_assert_no_error (error);
  if (partial_request != NULL)
    {
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (raw->connection)),
                                 partial_request, strlen (partial_request), NULL, NULL, &error);
      g_assert_no_error (error);
    }
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (raw->connection)),
                             raw->buffer, sizeof raw->buffer, G_PRIORITY_DEFAULT, NULL,
                             on_raw_read, raw);
  return raw;
}

static void
raw_free (RawClient *raw)
{
  g_io_stream_close (G_IO_STREAM (raw->connection), NULL, NULL);
  g_object_unref (raw->connection);
  g_free (raw);
}

static gboolean
raws_closed (gpointer data)
{
  GPtrArray *raws = data;

  for (guint i = 0; i < raws->len; i++)
    if (!((RawClient *) g_ptr_array_index (raws, i))->done)
      return FALSE;
  return TRUE;
}

static void
test_handshake_timeout (void)
{
  TincanServer *server = start_server ("handshake-timeout", 1, NULL);
  g_autoptr (GPtrArray) raws = g_ptr_array_new_with_free_func ((GDestroyNotify) raw_free);
  g_autoptr (Peer) early = NULL;
  g_autoptr (Peer) late = NULL;
  gint64 start;

  /* A good client that connected before the slow ones. */
  early = peer_connect (server);
  peer_hello (early, "early");

  start = g_get_monotonic_time ();
  for (guint i = 0; i < 20; i++)
    g_ptr_array_add (raws, raw_connect (server, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"));
  /* …and connections that say nothing at all. */
  for (guint i = 0; i < 5; i++)
    g_ptr_array_add (raws, raw_connect (server, NULL));

  /* A good client still gets in while they hang. */
  late = peer_connect (server);
  peer_hello (late, "late");
  peer_assert_chats (late);

  wait_for (raws_closed, raws, 5000, "the server to close the half-open connections");
  for (guint i = 0; i < raws->len; i++)
    {
      RawClient *raw = g_ptr_array_index (raws, i);
      gint64 after_ms = (raw->closed_at - start) / 1000;

      /* Closed (EOF or reset), without an answer, after the timeout. */
      g_assert_cmpint (raw->read, <=, 0);
      g_assert_cmpint (after_ms, >=, 900);
      g_assert_cmpint (after_ms, <, 3000);
    }

  /* The good clients were not touched by the timer. */
  g_assert_false (early->closed);
  g_assert_false (late->closed);
  peer_assert_chats (early);
  peer_assert_chats (late);
  g_assert_cmpuint (tincan_server_get_n_clients (server), ==, 2);

  g_clear_pointer (&early, peer_free);
  g_clear_pointer (&late, peer_free);
  stop_server (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (quiet_writer, NULL, NULL);

  g_test_add_func ("/server-limits/max-clients", test_max_clients);
  g_test_add_func ("/server-limits/max-clients-frees", test_max_clients_frees);
  g_test_add_func ("/server-limits/max-rooms", test_max_rooms);
  g_test_add_func ("/server-limits/handshake-timeout", test_handshake_timeout);

  return g_test_run ();
}
