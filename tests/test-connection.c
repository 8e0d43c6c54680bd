/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-connection"

#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tincan-connection-private.h"
#include "tincan-connection-raw.h"
#include "tincan-core.h"
#include "tincan-server.h"

/* Helpers */

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the main loop until @condition holds or @timeout_ms pass. */
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

/* Runs the main loop for @ms: to show that something does NOT happen. */
static void
run_for (guint ms)
{
  wait_for (never, NULL, ms);
}

#define WAIT_FOR(cond, timeout_ms, what)                                  \
  G_STMT_START {                                                          \
    if (!wait_for ((ConditionFunc) (cond), fixture, (timeout_ms)))        \
      g_error ("timed out after %u ms waiting for %s", (guint) (timeout_ms), (what)); \
  } G_STMT_END

typedef struct
{
  char             *tmpdir;
  TincanServer     *server;
  char             *db_path;
  guint             port;
  GPtrArray        *connections;  /* TincanConnection, all disconnected at teardown */
  GPtrArray        *stores;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  fixture->tmpdir = g_dir_make_tmp ("tincan-test-connection-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->db_path = g_build_filename (fixture->tmpdir, "server.db", NULL);
  fixture->connections = g_ptr_array_new_with_free_func (g_object_unref);
  fixture->stores = g_ptr_array_new_with_free_func (g_object_unref);
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

static void
server_stop (Fixture *fixture)
{
  if (fixture->server == NULL)
    return;

  tincan_server_stop (fixture->server);
  g_clear_object (&fixture->server);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  for (guint i = 0; i < fixture->connections->len; i++)
    tincan_connection_disconnect (g_ptr_array_index (fixture->connections, i));
  server_stop (fixture);
  run_for (50);

  g_clear_pointer (&fixture->connections, g_ptr_array_unref);
  g_clear_pointer (&fixture->stores, g_ptr_array_unref);
  rm_rf (fixture->tmpdir);
  g_clear_pointer (&fixture->tmpdir, g_free);
  g_clear_pointer (&fixture->db_path, g_free);
}

/* Starts the reference server (on the fixture's port once it has one, so
 * a restart comes back at the same address, with the same database). */
static void
server_start (Fixture    *fixture,
              const char *token,
              guint       history)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (fixture->server);
  fixture->server = g_object_new (TINCAN_TYPE_SERVER,
                                  "db-path", fixture->db_path,
                                  "token", token,
                                  NULL);
  if (history > 0)
    g_object_set (fixture->server, "history", history, NULL);

  for (guint tries = 0; ; tries++)
    {
      if (tincan_server_listen (fixture->server, "127.0.0.1", fixture->port, &error))
        break;
      /* The old listening socket may linger for a moment. */
      if (tries > 50 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        g_error ("cannot listen on port %u: %s", fixture->port, error->message);
      g_clear_error (&error);
      run_for (20);
    }

  fixture->port = tincan_server_get_port (fixture->server);
}

static char *
fixture_url (Fixture *fixture)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/ws", fixture->port);
}

static TincanStore *
new_store (Fixture    *fixture,
           const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fixture->tmpdir, name, NULL);
  TincanStore *store = tincan_store_new (path, &error);

  g_assert_no_error (error);
  g_ptr_array_add (fixture->stores, g_object_ref (store));
  return store;
}

static TincanProfile *
new_profile (const char *url,
             const char *user)
{
  TincanProfile *profile = tincan_profile_new ();

  tincan_profile_set_url (profile, url);
  tincan_profile_set_user (profile, user);
  g_object_set (profile,
                "reconnect-base-ms", 20,
                "reconnect-cap-ms", 200,
                "reconnect-stable-ms", 200,
                NULL);
  return profile;
}

static TincanConnection *
new_connection (Fixture         *fixture,
                TincanProfile   *profile,
                const char      *store_name,
                GNetworkMonitor *monitor)
{
  g_autoptr (TincanStore) store = new_store (fixture, store_name);
  TincanConnection *connection = tincan_connection_new_full (profile, store, monitor);

  g_ptr_array_add (fixture->connections, g_object_ref (connection));
  return connection;
}

typedef struct
{
  TincanConnection     *connection;
  TincanConnectionState state;
} StateWait;

static gboolean
state_is (gpointer data)
{
  StateWait *wait = data;

  return tincan_connection_get_state (wait->connection) == wait->state;
}

static void
wait_state (TincanConnection     *connection,
            TincanConnectionState state,
            guint                 timeout_ms)
{
  StateWait wait = { connection, state };

  if (!wait_for (state_is, &wait, timeout_ms))
    g_error ("timed out after %u ms waiting for state %s (state is %s, last error: %s)",
             timeout_ms, tincan_connection_state_to_string (state),
             tincan_connection_state_to_string (tincan_connection_get_state (connection)),
             tincan_connection_get_last_error (connection)
               ? tincan_connection_get_last_error (connection)->message : "none");
}

/* Collects what a connection reports. */
typedef struct
{
  TincanConnection *connection;
  GPtrArray *received;   /* TincanMessage */
  GPtrArray *updated;    /* TincanMessage (every update) */
  GPtrArray *errors;     /* GError */
  GPtrArray *resumed;    /* char * "room:gap" */
  guint      n_frames_in;
  guint      n_frames_out;
  guint      n_delivered;
} Recorder;

static void
on_received (TincanConnection *connection,
             TincanMessage    *message,
             Recorder         *rec)
{
  g_ptr_array_add (rec->received, g_object_ref (message));
}

static void
on_updated (TincanConnection *connection,
            TincanMessage    *message,
            Recorder         *rec)
{
  g_ptr_array_add (rec->updated, g_object_ref (message));
  if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_DELIVERED)
    rec->n_delivered++;
}

static void
on_error (TincanConnection *connection,
          const GError     *error,
          Recorder         *rec)
{
  g_ptr_array_add (rec->errors, g_error_copy (error));
}

static void
on_resumed (TincanConnection *connection,
            const char       *room,
            gboolean          gap,
            Recorder         *rec)
{
  g_ptr_array_add (rec->resumed, g_strdup_printf ("%s:%s", room, gap ? "gap" : "nogap"));
}

static void
on_frame (TincanConnection    *connection,
          TincanFrameDirection direction,
          TincanOpcode         opcode,
          GBytes              *payload,
          gint64               time,
          Recorder            *rec)
{
  g_assert_cmpint (time, >, 0);
  if (direction == TINCAN_FRAME_DIRECTION_IN)
    rec->n_frames_in++;
  else
    rec->n_frames_out++;
}

static Recorder *
recorder_new (TincanConnection *connection)
{
  Recorder *rec = g_new0 (Recorder, 1);

  rec->connection = g_object_ref (connection);
  rec->received = g_ptr_array_new_with_free_func (g_object_unref);
  rec->updated = g_ptr_array_new_with_free_func (g_object_unref);
  rec->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  rec->resumed = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (connection, "message-received", G_CALLBACK (on_received), rec);
  g_signal_connect (connection, "message-updated", G_CALLBACK (on_updated), rec);
  g_signal_connect (connection, "error", G_CALLBACK (on_error), rec);
  g_signal_connect (connection, "resumed", G_CALLBACK (on_resumed), rec);
  g_signal_connect (connection, "frame", G_CALLBACK (on_frame), rec);
  return rec;
}

static void
recorder_free (Recorder *rec)
{
  g_signal_handlers_disconnect_by_data (rec->connection, rec);
  g_object_unref (rec->connection);
  g_ptr_array_unref (rec->received);
  g_ptr_array_unref (rec->updated);
  g_ptr_array_unref (rec->errors);
  g_ptr_array_unref (rec->resumed);
  g_free (rec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Recorder, recorder_free)

static gboolean
has_error (Recorder *rec,
           GQuark    domain,
           int       code)
{
  for (guint i = 0; i < rec->errors->len; i++)
    {
      GError *error = g_ptr_array_index (rec->errors, i);

      if (g_error_matches (error, domain, code))
        return TRUE;
    }
  return FALSE;
}

typedef struct
{
  GPtrArray *messages;
  guint      n;
} AllDelivered;

static gboolean
all_delivered (gpointer data)
{
  AllDelivered *all = data;

  for (guint i = 0; i < all->messages->len; i++)
    if (tincan_message_get_state (g_ptr_array_index (all->messages, i)) !=
        TINCAN_MESSAGE_STATE_DELIVERED)
      return FALSE;
  return TRUE;
}

static void
wait_all_delivered (GPtrArray *messages,
                    guint      timeout_ms)
{
  AllDelivered all = { messages, 0 };

  if (!wait_for (all_delivered, &all, timeout_ms))
    {
      g_autoptr (GString) stuck = g_string_new (NULL);
      guint n = 0;

      for (guint i = 0; i < messages->len; i++)
        {
          TincanMessage *message = g_ptr_array_index (messages, i);

          if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_DELIVERED)
            n++;
          else if (stuck->len < 400)
            g_string_append_printf (stuck, " #%u:%s%s%s", i,
                                    tincan_message_state_to_string (tincan_message_get_state (message)),
                                    tincan_message_get_reason (message) ? "/" : "",
                                    tincan_message_get_reason (message) ? tincan_message_get_reason (message) : "");
        }
      g_error ("timed out: %u of %u messages delivered; not delivered:%s", n, messages->len, stuck->str);
    }
}

typedef struct
{
  Recorder *rec;
  guint     n;
} CountWait;

static gboolean
received_at_least (gpointer data)
{
  CountWait *wait = data;

  return wait->rec->received->len >= wait->n;
}

static void
wait_received (Recorder *rec,
               guint     n,
               guint     timeout_ms)
{
  CountWait wait = { rec, n };

  if (!wait_for (received_at_least, &wait, timeout_ms))
    g_error ("timed out: %u of %u messages received", rec->received->len, n);
}

/* A fake tincan.v1 server on SoupServer, for what the reference server
 * never does: close with 4001 at once, send broken or oversize frames,
 * reject a message. */

typedef enum
{
  FAKE_NORMAL,
  FAKE_CLOSE_4001,
  FAKE_CLOSE_4100,
} FakeMode;

typedef struct
{
  SoupServer *server;
  GPtrArray  *conns;           /* SoupWebsocketConnection */
  GHashTable *seq_by_cid;      /* cid → seq */
  FakeMode    mode;
  guint       n_handshakes;
  gint64      next_seq;
  gboolean    reject_prefix;   /* texts starting "reject" get an error frame */
  gboolean    drop_prefix;     /* on the first connection, "drop…" texts vanish */
  gboolean    garbage_after_ack;
  gboolean    oversize_after_garbage;
  gboolean    garbage_sent;
  gboolean    broadcast_twice; /* each accepted message is broadcast twice */
  GPtrArray  *accepted;        /* texts in seq order */
  /* The last handshake, as the server saw it. */
  char       *last_authorization;
  char       *last_origin;
  char       *last_custom;
  char       *last_query;
  char       *last_protocol;
  guint       last_n_extensions;
  char       *url;
} FakeServer;

static void
fake_send_frame (SoupWebsocketConnection *conn,
                 TincanFrame             *frame)
{
  gsize length = 0;
  g_autofree char *json = tincan_v1_encode (frame, &length);

  soup_websocket_connection_send_text (conn, json);
}

static void
fake_on_message (SoupWebsocketConnection *conn,
                 int                      type,
                 GBytes                  *payload,
                 FakeServer              *fake)
{
  g_autoptr (TincanFrame) frame = NULL;
  g_autoptr (GError) error = NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (payload, &size);

  frame = tincan_v1_decode (data, size, &error);
  g_assert_no_error (error);

  switch ((int) frame->type)
    {
    case TINCAN_FRAME_HELLO:
      {
        g_autoptr (TincanFrame) welcome = tincan_frame_new (TINCAN_FRAME_WELCOME);
        const char * const rooms[] = { "lobby", NULL };

        welcome->session = g_strdup ("s1");
        welcome->user = g_strdup (frame->user);
        welcome->rooms = g_strdupv ((char **) rooms);
        fake_send_frame (conn, welcome);
      }
      break;

    case TINCAN_FRAME_SEND:
      {
        g_autoptr (TincanFrame) reply = NULL;
        gpointer seq_ptr = NULL;
        gint64 seq;

        if (fake->drop_prefix && fake->n_handshakes == 1 && g_str_has_prefix (frame->text, "drop"))
          break;

        if (fake->reject_prefix && g_str_has_prefix (frame->text, "reject"))
          {
            reply = tincan_frame_new (TINCAN_FRAME_ERROR);
            reply->code = g_strdup ("bad_request");
            reply->message = g_strdup ("rejected by the test");
            reply->cid = g_strdup (frame->cid);
            fake_send_frame (conn, reply);
            break;
          }

        if (g_hash_table_lookup_extended (fake->seq_by_cid, frame->cid, NULL, &seq_ptr))
          seq = GPOINTER_TO_SIZE (seq_ptr);
        else
          {
            seq = ++fake->next_seq;
            g_hash_table_insert (fake->seq_by_cid, g_strdup (frame->cid), GSIZE_TO_POINTER (seq));
            g_ptr_array_add (fake->accepted, g_strdup (frame->text));
          }

        reply = tincan_frame_new (TINCAN_FRAME_ACK);
        reply->cid = g_strdup (frame->cid);
        reply->room = g_strdup (frame->room);
        reply->id = g_strdup_printf ("id-%" G_GINT64_FORMAT, seq);
        reply->seq = seq;
        reply->ts = 1700000000000 + seq;
        fake_send_frame (conn, reply);

        if (fake->broadcast_twice)
          {
            g_autoptr (TincanFrame) broadcast = tincan_frame_new (TINCAN_FRAME_MESSAGE);

            broadcast->room = g_strdup (frame->room);
            broadcast->id = g_strdup_printf ("id-%" G_GINT64_FORMAT, seq);
            broadcast->user = g_strdup ("bob");
            broadcast->text = g_strdup (frame->text);
            broadcast->seq = seq;
            broadcast->ts = 1700000000000 + seq;
            for (guint i = 0; i < fake->conns->len; i++)
              {
                SoupWebsocketConnection *other = g_ptr_array_index (fake->conns, i);

                if (other == conn ||
                    soup_websocket_connection_get_state (other) != SOUP_WEBSOCKET_STATE_OPEN)
                  continue;
                fake_send_frame (other, broadcast);
                fake_send_frame (other, broadcast);
              }
          }

        if (fake->garbage_after_ack && !fake->garbage_sent)
          {
            const guint8 binary[] = { 0xff, 0x00, 0x13 };

            fake->garbage_sent = TRUE;
            soup_websocket_connection_send_text (conn, "this is not json");
            soup_websocket_connection_send_text (conn, "{\"type\":\"no-such-frame\"}");
            soup_websocket_connection_send_binary (conn, binary, sizeof binary);

            if (fake->oversize_after_garbage)
              {
                g_autofree char *big = g_strnfill (4096, 'x');

                soup_websocket_connection_send_text (conn, big);
              }
          }
      }
      break;

    case TINCAN_FRAME_PING:
      {
        g_autoptr (TincanFrame) pong = tincan_frame_new (TINCAN_FRAME_PONG);

        pong->ping_id = frame->ping_id;
        fake_send_frame (conn, pong);
      }
      break;

    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
    default:
      break;
    }
}

static void
fake_on_websocket (SoupServer              *server,
                   SoupServerMessage       *msg,
                   const char              *path,
                   SoupWebsocketConnection *conn,
                   gpointer                 user_data)
{
  FakeServer *fake = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  GList *extensions = soup_websocket_connection_get_extensions (conn);

  fake->n_handshakes++;
  g_ptr_array_add (fake->conns, g_object_ref (conn));
  g_free (fake->last_authorization);
  fake->last_authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  g_free (fake->last_origin);
  fake->last_origin = g_strdup (soup_message_headers_get_one (headers, "Origin"));
  g_free (fake->last_custom);
  fake->last_custom = g_strdup (soup_message_headers_get_one (headers, "X-Tincan-Test"));
  g_free (fake->last_query);
  fake->last_query = g_strdup (g_uri_get_query (soup_server_message_get_uri (msg)));
  g_free (fake->last_protocol);
  fake->last_protocol = g_strdup (soup_websocket_connection_get_protocol (conn));
  fake->last_n_extensions = g_list_length (extensions);

  switch (fake->mode)
    {
    case FAKE_CLOSE_4001:
      soup_websocket_connection_close (conn, 4001, "unauthorized");
      return;
    case FAKE_CLOSE_4100:
      soup_websocket_connection_close (conn, 4100, "banned");
      return;
    case FAKE_NORMAL:
    default:
      break;
    }

  g_signal_connect (conn, "message", G_CALLBACK (fake_on_message), fake);
}

static FakeServer *
fake_server_new (FakeMode mode)
{
  FakeServer *fake = g_new0 (FakeServer, 1);
  g_autoptr (GError) error = NULL;
  const char *protocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };
  GSList *uris;

  fake->mode = mode;
  fake->conns = g_ptr_array_new_with_free_func (g_object_unref);
  fake->seq_by_cid = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fake->accepted = g_ptr_array_new_with_free_func (g_free);
  fake->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (fake->server, "/ws", NULL, (char **) protocols,
                                     fake_on_websocket, fake, NULL);
  soup_server_listen_local (fake->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (fake->server);
  fake->url = g_strdup_printf ("ws://127.0.0.1:%d/ws", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return fake;
}

static void
fake_server_free (FakeServer *fake)
{
  for (guint i = 0; i < fake->conns->len; i++)
    {
      SoupWebsocketConnection *conn = g_ptr_array_index (fake->conns, i);

      g_signal_handlers_disconnect_by_data (conn, fake);
      if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
  soup_server_disconnect (fake->server);
  g_object_unref (fake->server);
  g_ptr_array_unref (fake->conns);
  g_ptr_array_unref (fake->accepted);
  g_hash_table_unref (fake->seq_by_cid);
  g_free (fake->url);
  g_free (fake->last_authorization);
  g_free (fake->last_origin);
  g_free (fake->last_custom);
  g_free (fake->last_query);
  g_free (fake->last_protocol);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeServer, fake_server_free)

/* A port where nothing listens. */
static guint
refused_port (void)
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

/* Tests */

static gboolean
cond_latency_known (gpointer d)
{
  return tincan_connection_get_latency (d) >= 0;
}

static gboolean
cond_retried (gpointer d)
{
  return ((FakeServer *) d)->n_handshakes >= 3;
}

static gboolean
cond_got_resumed (gpointer d)
{
  return ((Recorder *) d)->resumed->len > 0;
}

static gboolean
cond_three_errors (gpointer d)
{
  return ((Recorder *) d)->errors->len >= 3;
}

static gboolean
cond_reconnected (gpointer d)
{
  return ((FakeServer *) d)->n_handshakes >= 2;
}

static gboolean
cond_drained (gpointer d)
{
  return tincan_connection_get_queued_count (d) == 0;
}

static gboolean
cond_too_large (gpointer d)
{
  return has_error (d, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TOO_LARGE);
}

static gboolean
cond_failed (gpointer d)
{
  return tincan_message_get_state (d) == TINCAN_MESSAGE_STATE_FAILED;
}

static void
count_connected (TincanConnection *connection,
                 GParamSpec       *pspec,
                 guint            *count)
{
  if (tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_CONNECTED)
    (*count)++;
}

static void
count_queued (TincanConnection *connection,
              TincanMessage    *message,
              guint            *count)
{
  (*count)++;
}

static gboolean
connection_connected (TincanConnection *connection)
{
  return tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static void
test_deliver (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (Recorder) rec = NULL;
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  guint queued_signals = 0;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  g_object_set (profile, "heartbeat-interval", 1, NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  rec = recorder_new (connection);
  g_signal_connect (connection, "message-queued", G_CALLBACK (count_queued), &queued_signals);

  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_DISCONNECTED);
  g_assert_cmpint (tincan_connection_get_latency (connection), ==, -1);
  g_assert_cmpstr (tincan_connection_get_url (connection), ==, url);
  g_assert_cmpstr (tincan_connection_get_protocol_name (connection), ==, "tincan");

  /* Optimistic: queued at once, before any connection exists. */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("early %u", i);
      TincanMessage *message = tincan_connection_send (connection, "lobby", text, &error);

      g_assert_no_error (error);
      g_assert_nonnull (message);
      g_assert_cmpint (tincan_message_get_state (message), ==, TINCAN_MESSAGE_STATE_QUEUED);
      g_assert_cmpuint (strlen (tincan_message_get_cid (message)), ==, 36);
      g_ptr_array_add (sent, message);
    }
  g_assert_cmpuint (tincan_connection_get_queued_count (connection), ==, 5);

  tincan_connection_connect (connection);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_CONNECTING);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_assert_cmpstr (tincan_connection_get_user (connection), ==, "alice");
  g_assert_true (g_strv_contains (tincan_connection_get_rooms (connection), "lobby"));

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("late %u", i);

      g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", text, &error));
      g_assert_no_error (error);
    }

  wait_all_delivered (sent, 5000);
  g_assert_cmpuint (tincan_connection_get_queued_count (connection), ==, 0);
  for (guint i = 0; i < sent->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (sent, i);

      g_assert_cmpint (tincan_message_get_seq (message), ==, i + 1);
      g_assert_nonnull (tincan_message_get_id (message));
      g_assert_cmpint (tincan_message_get_timestamp (message), >, 0);
    }

  /* Echoes come back to us: never a message-received, never a second row. */
  run_for (200);
  g_assert_cmpuint (rec->received->len, ==, 0);
  g_assert_cmpuint (tincan_store_count_messages (tincan_connection_get_store (connection), "lobby"), ==, 10);
  page = tincan_store_load_page (tincan_connection_get_store (connection), "lobby", 0, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 10);
  for (guint i = 0; i < page->len; i++)
    {
      TincanMessage *stored = g_ptr_array_index (page, i);

      g_assert_true (tincan_message_is_outgoing (stored));
      g_assert_cmpint (tincan_message_get_state (stored), ==, TINCAN_MESSAGE_STATE_DELIVERED);
      g_assert_cmpint (tincan_message_get_seq (stored), ==, 10 - i);
    }

  /* Every frame in and out is reported. */
  g_assert_cmpuint (rec->n_frames_out, >=, 11);   /* hello + 10 sends */
  g_assert_cmpuint (rec->n_frames_in, >=, 21);    /* welcome + 10 acks + 10 echoes */

  /* The latency comes from a ping/pong round trip. */
  {

    if (!wait_for (cond_latency_known, connection, 3000))
      g_error ("no latency measured");
  }

  tincan_connection_disconnect (connection);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_DISCONNECTED);
  g_assert_cmpuint (queued_signals, ==, 10);
}

/* Backoff */

typedef struct
{
  TincanConnection *connection;
  GArray           *delays;   /* guint ms */
} BackoffRec;

static void
on_retry_at (TincanConnection *connection,
             GParamSpec       *pspec,
             BackoffRec       *rec)
{
  gint64 retry_at = tincan_connection_get_retry_at (connection);
  guint delay;

  if (retry_at == 0)
    return;

  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_RECONNECTING);
  delay = (guint) ((retry_at - g_get_monotonic_time () + 500) / 1000);
  g_array_append_val (rec->delays, delay);
}

static double
half_random (gpointer data)
{
  return 0.5;
}

static void
test_backoff (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", refused_port ());
  g_autoptr (TincanProfile) profile = new_profile (url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  BackoffRec rec = { NULL, g_array_new (FALSE, FALSE, sizeof (guint)) };
  const guint expected_none[] = { 20, 40, 80, 160, 160, 160 };
  const GError *error;

  g_object_set (profile,
                "reconnect-base-ms", 20,
                "reconnect-cap-ms", 160,
                "reconnect-jitter", TINCAN_JITTER_NONE,
                "reconnect-max-attempts", 6,
                NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  rec.connection = connection;
  g_signal_connect (connection, "notify::retry-at", G_CALLBACK (on_retry_at), &rec);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_FAILED, 5000);

  /* Refused 7 times: 6 delays, exponential and capped, then failed. */
  g_assert_cmpuint (rec.delays->len, ==, G_N_ELEMENTS (expected_none));
  for (guint i = 0; i < rec.delays->len; i++)
    {
      guint delay = g_array_index (rec.delays, guint, i);

      g_assert_cmpuint (delay, <=, expected_none[i]);
      g_assert_cmpuint (delay + 5, >=, expected_none[i]);
    }
  error = tincan_connection_get_last_error (connection);
  g_assert_error ((GError *) error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_EXHAUSTED);
  g_assert_cmpint (tincan_connection_get_retry_at (connection), ==, 0);

  /* Full jitter (the default) with a fixed random source: half of each. */
  g_array_set_size (rec.delays, 0);
  g_object_set (profile,
                "reconnect-jitter", TINCAN_JITTER_FULL,
                "reconnect-max-attempts", 4,
                "reconnect-base-ms", 40,
                "reconnect-cap-ms", 1000,
                NULL);
  tincan_backoff_set_random_func (tincan_connection_get_backoff (connection),
                                  half_random, NULL, NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_FAILED, 5000);
  g_assert_cmpuint (rec.delays->len, ==, 4);
  {
    const guint expected_full[] = { 20, 40, 80, 160 };

    for (guint i = 0; i < rec.delays->len; i++)
      {
        guint delay = g_array_index (rec.delays, guint, i);

        g_assert_cmpuint (delay, <=, expected_full[i]);
        g_assert_cmpuint (delay + 5, >=, expected_full[i]);
      }
  }

  /* connect() while reconnecting tries at once, not after the delay. */
  g_object_set (profile,
                "reconnect-max-attempts", 0,
                "reconnect-base-ms", 60000,
                "reconnect-cap-ms", 60000,
                NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_RECONNECTING, 5000);
  g_assert_cmpuint (tincan_connection_get_attempt (connection), ==, 1);
  {
    gint64 before = g_get_monotonic_time ();

    tincan_connection_connect (connection);
    wait_state (connection, TINCAN_CONNECTION_STATE_RECONNECTING, 5000);
    g_assert_cmpint (g_get_monotonic_time () - before, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpuint (tincan_connection_get_attempt (connection), ==, 2);
  }

  /* disconnect() stops everything: no timer, no attempt. */
  tincan_connection_disconnect (connection);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_DISCONNECTED);
  g_assert_cmpint (tincan_connection_get_retry_at (connection), ==, 0);
  run_for (100);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_DISCONNECTED);

  g_array_unref (rec.delays);
}

static gboolean
cond_attempt_at_least_3 (gpointer d)
{
  return tincan_connection_get_attempt (d) >= 3;
}

/* The attempt counter resets only after reconnect-stable-ms of uptime. */
static void
test_stable_reset (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  guint attempt;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  g_object_set (profile,
                "reconnect-base-ms", 20,
                "reconnect-cap-ms", 400,
                "reconnect-jitter", TINCAN_JITTER_NONE,
                "reconnect-stable-ms", 600,
                NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  /* Dropped at once, then refused a few times: the counter climbs. */
  server_stop (fixture);
  wait_state (connection, TINCAN_CONNECTION_STATE_RECONNECTING, 3000);
  g_assert_cmpuint (tincan_connection_get_attempt (connection), ==, 1);
  if (!wait_for (cond_attempt_at_least_3, connection, 3000))
    g_error ("the counter did not climb while the server was down");

  /* Back, but only briefly: not stable, so no reset. */
  server_start (fixture, NULL, 0);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);
  attempt = tincan_connection_get_attempt (connection);
  server_stop (fixture);
  wait_state (connection, TINCAN_CONNECTION_STATE_RECONNECTING, 3000);
  g_assert_cmpuint (tincan_connection_get_attempt (connection), ==, attempt + 1);

  /* Up for longer than stable-ms: the next drop starts again at 1. */
  server_start (fixture, NULL, 0);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);
  run_for (800);
  server_stop (fixture);
  wait_state (connection, TINCAN_CONNECTION_STATE_RECONNECTING, 3000);
  g_assert_cmpuint (tincan_connection_get_attempt (connection), ==, 1);

  tincan_connection_disconnect (connection);
}

static char *
fixed_token (gpointer data)
{
  return g_strdup (data);
}

/* What goes into the handshake: headers, Origin, subprotocol, the token
 * (bearer or query), permessage-deflate only when asked for. */
static void
test_handshake (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  const char * const headers[] = { "X-Tincan-Test: yes it is", "Broken header", NULL };

  g_object_set (profile,
                "headers", headers,
                "origin", "https://tincan.example",
                NULL);
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_BEARER);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_set_token_provider (connection, fixed_token, g_strdup ("t0k en"), g_free);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_assert_cmpstr (fake->last_custom, ==, "yes it is");
  g_assert_cmpstr (fake->last_origin, ==, "https://tincan.example");
  g_assert_cmpstr (fake->last_authorization, ==, "Bearer t0k en");
  g_assert_cmpstr (fake->last_protocol, ==, "tincan.v1");
  g_assert_null (fake->last_query);
  g_assert_cmpuint (fake->last_n_extensions, ==, 0);
  tincan_connection_disconnect (connection);

  /* Query auth and deflate on request. */
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_QUERY);
  g_object_set (profile, "auth-param", "access_token", "deflate", TRUE, NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_assert_cmpuint (fake->n_handshakes, ==, 2);
  g_assert_cmpstr (fake->last_query, ==, "access_token=t0k%20en");
  g_assert_null (fake->last_authorization);
  g_assert_cmpuint (fake->last_n_extensions, ==, 1);
  tincan_connection_disconnect (connection);
}

static void
test_terminal_close (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_CLOSE_4001);
  g_autoptr (FakeServer) fake2 = fake_server_new (FAKE_CLOSE_4100);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanProfile) profile2 = new_profile (fake2->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanConnection) connection2 = NULL;
  const char * const codes[] = { "4100", NULL };

  connection = new_connection (fixture, profile, "a.db", NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_FAILED, 5000);
  g_assert_cmpuint (tincan_connection_get_close_code (connection), ==, 4001);
  g_assert_cmpstr (tincan_connection_get_close_reason (connection), ==, "unauthorized");
  g_assert_error ((GError *) tincan_connection_get_last_error (connection),
                  TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TERMINAL);

  /* No retry loop: many base delays later, still one handshake. */
  run_for (300);
  g_assert_cmpuint (fake->n_handshakes, ==, 1);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_FAILED);

  /* A code the profile lists is terminal too. */
  g_object_set (profile2, "terminal-codes", codes, NULL);
  connection2 = new_connection (fixture, profile2, "b.db", NULL);
  tincan_connection_connect (connection2);
  wait_state (connection2, TINCAN_CONNECTION_STATE_FAILED, 5000);
  g_assert_cmpuint (tincan_connection_get_close_code (connection2), ==, 4100);
  run_for (200);
  g_assert_cmpuint (fake2->n_handshakes, ==, 1);

  /* Without the list it is an ordinary close: retried. */
  g_object_set (profile2, "terminal-codes", NULL, NULL);
  tincan_connection_connect (connection2);
  {

    if (!wait_for (cond_retried, fake2, 5000))
      g_error ("close 4100 without the profile list was not retried");
  }
  tincan_connection_disconnect (connection2);
}

typedef struct
{
  guint  calls;
  char  *token;
} TokenSource;

static char *
provide_token (gpointer data)
{
  TokenSource *source = data;

  source->calls++;
  return g_strdup (source->token);
}

static void
test_token (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  TokenSource source = { 0, g_strdup ("wrong") };

  server_start (fixture, "s3cret", 0);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_HELLO);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_set_token_provider (connection, provide_token, &source, NULL);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_FAILED, 5000);
  g_assert_cmpuint (tincan_connection_get_close_code (connection), ==, 4001);
  g_assert_cmpuint (source.calls, ==, 1);

  /* The token is asked for again on the next attempt: now it is right. */
  g_free (source.token);
  source.token = g_strdup ("s3cret");
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_assert_cmpuint (source.calls, ==, 2);

  tincan_connection_disconnect (connection);
  g_free (source.token);
}

/* Heartbeat: a raw peer that completes the handshake, says welcome, and
 * then never sends anything again (not even a pong). */

typedef struct
{
  GSocketService *service;
  guint           port;
  GPtrArray      *conns;
  GArray         *accept_times;  /* gint64 monotonic µs of each handshake */
} SilentPeer;

typedef struct
{
  SilentPeer        *peer;
  GSocketConnection *conn;
  GString           *request;
  guint8             buffer[4096];
  gboolean           upgraded;
} SilentClient;

static void silent_read (SilentClient *client);

static void
silent_upgrade (SilentClient *client)
{
  const char *key_start = strstr (client->request->str, "Sec-WebSocket-Key:");
  g_autofree char *key = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *response = NULL;
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  const char *welcome = "{\"type\":\"welcome\",\"session\":\"x\",\"user\":\"alice\",\"rooms\":[\"lobby\"]}";
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (client->conn));
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  guint8 header[2];

  g_assert_nonnull (key_start);
  key_start += strlen ("Sec-WebSocket-Key:");
  key = g_strndup (key_start, strcspn (key_start, "\r\n"));
  g_strstrip (key);

  g_checksum_update (sha1, (const guchar *) key, -1);
  g_checksum_update (sha1, (const guchar *) "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", -1);
  g_checksum_get_digest (sha1, digest, &digest_len);
  accept = g_base64_encode (digest, digest_len);

  response = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: %s\r\n"
                              "Sec-WebSocket-Protocol: tincan.v1\r\n\r\n", accept);
  g_output_stream_write_all (out, response, strlen (response), NULL, NULL, NULL);

  header[0] = 0x81;
  header[1] = (guint8) strlen (welcome);
  g_byte_array_append (frame, header, 2);
  g_byte_array_append (frame, (const guint8 *) welcome, strlen (welcome));
  g_output_stream_write_all (out, frame->data, frame->len, NULL, NULL, NULL);

  client->upgraded = TRUE;
}

static void
silent_on_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  SilentClient *client = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      g_object_unref (client->conn);
      g_string_free (client->request, TRUE);
      g_free (client);
      return;
    }

  if (!client->upgraded)
    {
      g_string_append_len (client->request, (const char *) client->buffer, n);
      if (strstr (client->request->str, "\r\n\r\n") != NULL)
        silent_upgrade (client);
    }
  /* After the upgrade: swallow everything, pings included. */

  silent_read (client);
}

static void
silent_read (SilentClient *client)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (client->conn)),
                             client->buffer, sizeof client->buffer, G_PRIORITY_DEFAULT,
                             NULL, silent_on_read, client);
}

static gboolean
silent_on_incoming (GSocketService    *service,
                    GSocketConnection *conn,
                    GObject           *source_object,
                    gpointer           user_data)
{
  SilentPeer *peer = user_data;
  SilentClient *client = g_new0 (SilentClient, 1);
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (peer->accept_times, now);
  client->peer = peer;
  client->conn = g_object_ref (conn);
  client->request = g_string_new (NULL);
  g_ptr_array_add (peer->conns, g_object_ref (conn));
  silent_read (client);
  return TRUE;
}

static gboolean
cond_not_connected (gpointer d)
{
  return !connection_connected (d);
}


static void
silent_peer_start (SilentPeer *peer)
{
  g_autoptr (GError) error = NULL;

  peer->service = g_socket_service_new ();
  peer->conns = g_ptr_array_new_with_free_func (g_object_unref);
  peer->accept_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  peer->port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (peer->service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (peer->service, "incoming", G_CALLBACK (silent_on_incoming), peer);
  g_socket_service_start (peer->service);
}

static void
silent_peer_stop (SilentPeer *peer)
{
  g_socket_service_stop (peer->service);
  g_socket_listener_close (G_SOCKET_LISTENER (peer->service));
  for (guint i = 0; i < peer->conns->len; i++)
    g_io_stream_close (g_ptr_array_index (peer->conns, i), NULL, NULL);
  run_for (50);
  g_ptr_array_unref (peer->conns);
  g_array_unref (peer->accept_times);
  g_object_unref (peer->service);
}

static gboolean
cond_two_accepts (gpointer d)
{
  return ((SilentPeer *) d)->accept_times->len >= 2;
}

static void
test_heartbeat (Fixture       *fixture,
                gconstpointer  data)
{
  SilentPeer peer = { 0 };
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  gint64 connected_at, lost_at;

  silent_peer_start (&peer);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", peer.port);
  profile = new_profile (url, "alice");
  g_object_set (profile,
                "heartbeat-interval", 1,
                "heartbeat-timeout", 1,
                "reconnect-base-ms", 10,
                "reconnect-cap-ms", 10,
                NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  connected_at = g_get_monotonic_time ();

  /* interval + timeout = 2 s of silence: declared dead, then reconnected. */
  if (!wait_for (cond_not_connected, connection, 4000))
    g_error ("the silent peer was not detected within 4 s");
  lost_at = g_get_monotonic_time ();
  g_assert_cmpint (lost_at - connected_at, >=, 1800 * 1000);
  g_assert_cmpint (lost_at - connected_at, <=, 3000 * 1000);
  g_assert_error ((GError *) tincan_connection_get_last_error (connection),
                  TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT);

  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);
  g_assert_cmpuint (peer.accept_times->len, ==, 2);

  tincan_connection_disconnect (connection);
  silent_peer_stop (&peer);
}

/* Wake from sleep: logind's PrepareForSleep(false) on the system bus makes
 * the connection check itself at once instead of after interval + timeout.
 * Runs in a subprocess whose "system bus" is a private dbus-daemon. */
static void
test_wake_child (void)
{
  g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autoptr (GDBusConnection) logind = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("tincan-test-wake-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (tmpdir, "alice.db", NULL);
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  SilentPeer peer = { 0 };
  gint64 woke_at;

  if (!g_test_subprocess ())
    {
      g_test_skip ("runs only as the subprocess of /connection/wake");
      return;
    }

  g_test_dbus_up (bus);
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), TRUE);

  logind = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus),
                                                   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                   NULL, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (logind, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", "org.freedesktop.login1", 0),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);

  silent_peer_start (&peer);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", peer.port);
  profile = new_profile (url, "alice");
  g_object_set (profile,
                "heartbeat-interval", 60,
                "heartbeat-timeout", 1,
                "reconnect-base-ms", 10,
                "reconnect-cap-ms", 10,
                NULL);
  store = tincan_store_new (db, &error);
  g_assert_no_error (error);
  connection = tincan_connection_new (profile, store);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  /* Let the connection find the bus and subscribe. */
  run_for (300);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);

  g_dbus_connection_emit_signal (logind, NULL, "/org/freedesktop/login1",
                                 "org.freedesktop.login1.Manager", "PrepareForSleep",
                                 g_variant_new ("(b)", TRUE), &error);
  g_assert_no_error (error);
  g_dbus_connection_emit_signal (logind, NULL, "/org/freedesktop/login1",
                                 "org.freedesktop.login1.Manager", "PrepareForSleep",
                                 g_variant_new ("(b)", FALSE), &error);
  g_assert_no_error (error);
  g_dbus_connection_flush_sync (logind, NULL, &error);
  g_assert_no_error (error);
  woke_at = g_get_monotonic_time ();

  /* The probe goes unanswered: dead after heartbeat-timeout, not 61 s. */
  if (!wait_for (cond_two_accepts, &peer, 5000))
    g_error ("no reconnect after waking up");
  g_assert_cmpint (g_get_monotonic_time () - woke_at, <, 3 * G_USEC_PER_SEC);
  g_assert_error ((GError *) tincan_connection_get_last_error (connection),
                  TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT);

  tincan_connection_disconnect (connection);
  g_clear_object (&connection);
  silent_peer_stop (&peer);
  g_clear_object (&logind);
  g_test_dbus_down (bus);
  g_clear_object (&store);
  rm_rf (tmpdir);
}

static void
test_wake (void)
{
  if (!g_file_test ("/usr/bin/dbus-daemon", G_FILE_TEST_IS_EXECUTABLE) &&
      g_find_program_in_path ("dbus-daemon") == NULL)
    {
      g_test_skip ("no dbus-daemon");
      return;
    }

  g_test_trap_subprocess ("/connection/wake/subprocess", 20 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static gboolean
cond_two_handshakes (gpointer d)
{
  return ((FakeServer *) d)->n_handshakes >= 2;
}

static gint64
jumpy_clock (gpointer data)
{
  return g_get_real_time () + *(gint64 *) data;
}

/* Suspend noticed from the clocks alone (no logind): when wall time runs
 * ahead of monotonic time, the connection is probed at once instead of
 * waiting for interval + timeout. */
static void
test_clock_jump (Fixture       *fixture,
                 gconstpointer  data)
{
  SilentPeer peer = { 0 };
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  gint64 offset = 0;
  gint64 jumped_at;

  silent_peer_start (&peer);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", peer.port);
  profile = new_profile (url, "alice");
  /* Silence alone would be noticed after 11 s. */
  g_object_set (profile, "heartbeat-interval", 1, "heartbeat-timeout", 10, NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  _tincan_connection_set_real_clock (connection, jumpy_clock, &offset);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  run_for (1200);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);

  /* "Slept" for an hour: noticed within an interval, probed, the probe
   * goes unanswered for 5 s, reconnected. */
  offset = (gint64) 3600 * G_USEC_PER_SEC;
  jumped_at = g_get_monotonic_time ();
  if (!wait_for (cond_two_accepts, &peer, 8000))
    g_error ("the clock jump was not noticed");
  g_assert_cmpint (g_get_monotonic_time () - jumped_at, <, 7500 * 1000);
  g_assert_error ((GError *) tincan_connection_get_last_error (connection),
                  TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT);
  tincan_connection_disconnect (connection);
  silent_peer_stop (&peer);
}

/* Fault injection: the server goes down and comes back on the same port,
 * with its database, again and again while 2000 messages stream out. */

typedef struct
{
  Fixture          *fixture;
  TincanConnection *sender;
  GPtrArray        *sent;
  guint             to_send;
  guint             restarts;
  guint             send_source;
  guint             restart_source;
  gboolean          server_down;
} Stream;

static gboolean
stream_send_batch (gpointer data)
{
  Stream *stream = data;

  for (guint i = 0; i < 20 && stream->sent->len < stream->to_send; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("m%05u", stream->sent->len);
      TincanMessage *message = tincan_connection_send (stream->sender, "lobby", text, &error);

      g_assert_no_error (error);
      g_ptr_array_add (stream->sent, message);
    }

  if (stream->sent->len < stream->to_send)
    return G_SOURCE_CONTINUE;

  stream->send_source = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
stream_restart (gpointer data)
{
  Stream *stream = data;

  if (!stream->server_down)
    {
      server_stop (stream->fixture);
      stream->server_down = TRUE;
      stream->restart_source = g_timeout_add (60, stream_restart, stream);
    }
  else
    {
      server_start (stream->fixture, NULL, 0);
      stream->server_down = FALSE;
      stream->restarts++;
      /* Up longer than the backoff cap: the sender gets in every time. */
      if (stream->restarts < 12)
        stream->restart_source = g_timeout_add (200, stream_restart, stream);
      else
        stream->restart_source = 0;
    }

  return G_SOURCE_REMOVE;
}

static gboolean
cond_stream_done (gpointer d)
{
  Stream *s = d;

  return s->restart_source == 0 && s->send_source == 0;
}


static void
test_fault_injection (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanProfile) observer_profile = NULL;
  g_autoptr (TincanConnection) sender = NULL;
  g_autoptr (TincanConnection) observer = NULL;
  g_autoptr (Recorder) sender_rec = NULL;
  g_autoptr (Recorder) observer_rec = NULL;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  Stream stream = { 0 };
  guint n_connected = 0;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  observer_profile = new_profile (url, "bob");
  g_object_set (profile, "reconnect-cap-ms", 80, NULL);
  g_object_set (observer_profile, "reconnect-cap-ms", 80, NULL);
  sender = new_connection (fixture, profile, "alice.db", NULL);
  observer = new_connection (fixture, observer_profile, "bob.db", NULL);
  sender_rec = recorder_new (sender);
  observer_rec = recorder_new (observer);
  g_signal_connect (sender, "notify::state", G_CALLBACK (count_connected), &n_connected);

  tincan_connection_connect (observer);
  tincan_connection_connect (sender);
  wait_state (observer, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  wait_state (sender, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  stream.fixture = fixture;
  stream.sender = sender;
  stream.sent = g_ptr_array_new_with_free_func (g_object_unref);
  stream.to_send = 2000;
  /* 20 every 30 ms: the stream spans the restarts. */
  stream.send_source = g_timeout_add (30, stream_send_batch, &stream);
  stream.restart_source = g_timeout_add (100, stream_restart, &stream);

  {

    if (!wait_for (cond_stream_done, &stream, 30000))
      g_error ("stream did not finish: %u sent, %u restarts", stream.sent->len, stream.restarts);
  }
  g_assert_cmpuint (stream.restarts, >=, 10);
  /* The sender really lost its link each time, mid-stream. */
  g_assert_cmpuint (n_connected, >=, 11);

  wait_all_delivered (stream.sent, 20000);
  wait_received (observer_rec, 2000, 20000);
  run_for (200);

  /* Delivered exactly once, in order: seqs 1..2000 in send order. */
  for (guint i = 0; i < stream.sent->len; i++)
    g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (stream.sent, i)), ==, i + 1);

  /* The other client saw each message once, in order. */
  g_assert_cmpuint (observer_rec->received->len, ==, 2000);
  for (guint i = 0; i < observer_rec->received->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (observer_rec->received, i);
      g_autofree char *text = g_strdup_printf ("m%05u", i);

      g_assert_cmpint (tincan_message_get_seq (message), ==, i + 1);
      g_assert_cmpstr (tincan_message_get_text (message), ==, text);
      g_assert_cmpstr (tincan_message_get_cid (message), ==,
                       tincan_message_get_cid (g_ptr_array_index (stream.sent, i)));
    }

  /* No duplicate row in either store. */
  g_assert_cmpuint (tincan_store_count_messages (tincan_connection_get_store (sender), "lobby"), ==, 2000);
  g_assert_cmpuint (tincan_store_count_messages (tincan_connection_get_store (observer), "lobby"), ==, 2000);
  g_assert_cmpuint (tincan_store_count_outbox (tincan_connection_get_store (sender)), ==, 0);
  page = tincan_store_load_page (tincan_connection_get_store (sender), "lobby", 0, 5000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 2000);
  for (guint i = 0; i < page->len; i++)
    {
      TincanMessage *stored = g_ptr_array_index (page, i);

      g_assert_false (g_hash_table_contains (seen, tincan_message_get_cid (stored)));
      g_hash_table_add (seen, (char *) tincan_message_get_cid (stored));
      g_assert_cmpint (tincan_message_get_state (stored), ==, TINCAN_MESSAGE_STATE_DELIVERED);
    }

  /* Nothing is stuck in sending. */
  for (guint i = 0; i < sender_rec->updated->len; i++)
    g_assert_cmpint (tincan_message_get_state (g_ptr_array_index (sender_rec->updated, i)), ==,
                     TINCAN_MESSAGE_STATE_DELIVERED);
  g_assert_cmpuint (sender_rec->received->len, ==, 0);

  g_ptr_array_unref (stream.sent);
}

/* Resume */

static void
test_resume (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) alice_profile = NULL;
  g_autoptr (TincanProfile) bob_profile = NULL;
  g_autoptr (TincanConnection) alice = NULL;
  g_autoptr (TincanConnection) bob = NULL;
  g_autoptr (Recorder) alice_rec = NULL;
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  alice_profile = new_profile (url, "alice");
  bob_profile = new_profile (url, "bob");
  alice = new_connection (fixture, alice_profile, "alice.db", NULL);
  bob = new_connection (fixture, bob_profile, "bob.db", NULL);
  alice_rec = recorder_new (alice);

  tincan_connection_connect (alice);
  tincan_connection_connect (bob);
  wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  wait_state (bob, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  g_ptr_array_add (sent, tincan_connection_send (bob, "lobby", "before", &error));
  g_assert_no_error (error);
  wait_received (alice_rec, 1, 5000);

  /* Alice goes away; Bob keeps talking. */
  tincan_connection_disconnect (alice);
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *text = g_strdup_printf ("while away %u", i);

      g_ptr_array_add (sent, tincan_connection_send (bob, "lobby", text, &error));
      g_assert_no_error (error);
    }
  wait_all_delivered (sent, 5000);
  g_ptr_array_set_size (alice_rec->resumed, 0);

  tincan_connection_connect (alice);
  wait_received (alice_rec, 31, 5000);
  run_for (200);

  g_assert_cmpuint (alice_rec->received->len, ==, 31);
  for (guint i = 0; i < alice_rec->received->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (alice_rec->received, i);

      g_assert_cmpint (tincan_message_get_seq (message), ==, i + 1);
      g_assert_cmpstr (tincan_message_get_text (message), ==,
                       tincan_message_get_text (g_ptr_array_index (sent, i)));
      g_assert_cmpstr (tincan_message_get_sender (message), ==, "bob");
    }
  g_assert_cmpuint (alice_rec->resumed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (alice_rec->resumed, 0), ==, "lobby:nogap");
  g_assert_cmpuint (tincan_store_count_messages (tincan_connection_get_store (alice), "lobby"), ==, 31);

  /* A gap the server cannot fill is reported. */
  tincan_connection_disconnect (alice);
  tincan_connection_disconnect (bob);
  server_stop (fixture);
  server_start (fixture, NULL, 5);
  tincan_connection_connect (bob);
  wait_state (bob, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_ptr_array_set_size (sent, 0);
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *text = g_strdup_printf ("gap %u", i);

      g_ptr_array_add (sent, tincan_connection_send (bob, "lobby", text, &error));
    }
  wait_all_delivered (sent, 5000);
  g_ptr_array_set_size (alice_rec->resumed, 0);
  g_ptr_array_set_size (alice_rec->received, 0);
  tincan_connection_connect (alice);
  {

    if (!wait_for (cond_got_resumed, alice_rec, 5000))
      g_error ("no resumed signal");
  }
  g_assert_cmpstr (g_ptr_array_index (alice_rec->resumed, 0), ==, "lobby:gap");
  /* What the history still has arrives, in order. */
  g_assert_cmpuint (alice_rec->received->len, ==, 5);
  for (guint i = 1; i < alice_rec->received->len; i++)
    g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (alice_rec->received, i)), ==,
                     tincan_message_get_seq (g_ptr_array_index (alice_rec->received, i - 1)) + 1);
}

/* Network awareness, with a GNetworkMonitor test double. */

#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject)

struct _TestMonitor
{
  GObject  parent_instance;
  gboolean available;
};

enum
{
  MON_PROP_0,
  MON_PROP_AVAILABLE,
  MON_PROP_METERED,
  MON_PROP_CONNECTIVITY,
};

static void test_monitor_iface_init (GNetworkMonitorInterface *iface);

static gboolean
test_monitor_initable_init (GInitable     *initable,
                            GCancellable  *cancellable,
                            GError       **error)
{
  return TRUE;
}

static void
test_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = test_monitor_initable_init;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestMonitor, test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, test_monitor_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, test_monitor_iface_init))

static gboolean
test_monitor_can_reach (GNetworkMonitor     *monitor,
                        GSocketConnectable  *connectable,
                        GCancellable        *cancellable,
                        GError             **error)
{
  if (TEST_MONITOR (monitor)->available)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "offline");
  return FALSE;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
  iface->can_reach = test_monitor_can_reach;
}

static void
test_monitor_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TestMonitor *self = TEST_MONITOR (object);

  switch (prop_id)
    {
    case MON_PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case MON_PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MON_PROP_CONNECTIVITY:
      g_value_set_enum (value, self->available ? G_NETWORK_CONNECTIVITY_FULL
                                               : G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_monitor_class_init (TestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_monitor_get_property;
  g_object_class_override_property (object_class, MON_PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, MON_PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, MON_PROP_CONNECTIVITY, "connectivity");
}

static void
test_monitor_init (TestMonitor *self)
{
}

static void
test_monitor_set_available (TestMonitor *self,
                            gboolean     available)
{
  self->available = available;
  g_object_notify (G_OBJECT (self), "network-available");
  g_signal_emit_by_name (self, "network-changed", available);
}

static void
on_client_count (TincanServer *server,
                 guint         count,
                 guint        *max_seen)
{
  *max_seen = MAX (*max_seen, count);
}

static void
test_network (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr (TestMonitor) monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanMessage) message = NULL;
  guint clients = 0;
  gint64 back_at;

  server_start (fixture, NULL, 0);
  g_signal_connect (fixture->server, "client-count-changed", G_CALLBACK (on_client_count), &clients);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  /* A long backoff: only an immediate attempt can connect in time. */
  g_object_set (profile, "reconnect-base-ms", 60000, "reconnect-cap-ms", 60000, NULL);
  connection = new_connection (fixture, profile, "alice.db", G_NETWORK_MONITOR (monitor));

  tincan_connection_connect (connection);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_OFFLINE);
  message = tincan_connection_send (connection, "lobby", "sent while offline", &error);
  g_assert_no_error (error);
  run_for (300);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_OFFLINE);
  g_assert_cmpuint (tincan_connection_get_attempt (connection), ==, 0);
  g_assert_cmpuint (clients, ==, 0);
  g_assert_cmpuint (tincan_server_get_n_clients (fixture->server), ==, 0);

  back_at = g_get_monotonic_time ();
  test_monitor_set_available (monitor, TRUE);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);
  g_assert_cmpint (g_get_monotonic_time () - back_at, <, 3 * G_USEC_PER_SEC);
  {
    g_autoptr (GPtrArray) sent = g_ptr_array_new ();

    g_ptr_array_add (sent, message);
    wait_all_delivered (sent, 3000);
  }

  /* The link drops while the network is gone: offline, not retrying. */
  test_monitor_set_available (monitor, FALSE);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);
  server_stop (fixture);
  wait_state (connection, TINCAN_CONNECTION_STATE_OFFLINE, 3000);
  g_assert_cmpint (tincan_connection_get_retry_at (connection), ==, 0);

  server_start (fixture, NULL, 0);
  run_for (200);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_OFFLINE);
  test_monitor_set_available (monitor, TRUE);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);

  tincan_connection_disconnect (connection);
}

/* Bad frames: reported, nothing lost, the connection recovers. */

static void
test_bad_frames (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (Recorder) rec = NULL;
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;

  fake->garbage_after_ack = TRUE;
  g_object_set (profile, "max-payload", 1024, NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  rec = recorder_new (connection);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  /* Malformed frames: errors, and the connection stays. */
  g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", "one", &error));
  wait_all_delivered (sent, 5000);
  {

    if (!wait_for (cond_three_errors, rec, 3000))
      g_error ("malformed frames not reported (%u errors)", rec->errors->len);
  }
  g_assert_true (has_error (rec, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_PROTOCOL));
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);
  g_assert_cmpuint (fake->n_handshakes, ==, 1);

  g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", "two", &error));
  wait_all_delivered (sent, 5000);
  g_assert_cmpuint (fake->n_handshakes, ==, 1);

  /* An oversize frame: reported as too large, then a new connection. */
  fake->garbage_sent = FALSE;
  fake->oversize_after_garbage = TRUE;
  g_ptr_array_set_size (rec->errors, 0);
  g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", "three", &error));
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("after %u", i);

      g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", text, &error));
    }
  {

    if (!wait_for (cond_too_large, rec, 5000))
      g_error ("the oversize frame was not reported");
  }
  {

    if (!wait_for (cond_reconnected, fake, 5000))
      g_error ("no reconnect after the oversize frame");
  }
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  wait_all_delivered (sent, 5000);

  /* Nothing lost, nothing twice: the server accepted each text once. */
  g_assert_cmpuint (fake->accepted->len, ==, 13);
  for (guint i = 0; i < sent->len; i++)
    g_assert_cmpstr (g_ptr_array_index (fake->accepted, i), ==,
                     tincan_message_get_text (g_ptr_array_index (sent, i)));
  g_assert_cmpuint (tincan_store_count_messages (tincan_connection_get_store (connection), "lobby"), ==, 13);

  tincan_connection_disconnect (connection);
}

/* A rejected message fails with the reason; the rest go on; retry, discard. */

static void
test_reject (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (Recorder) rec = NULL;
  g_autoptr (GPtrArray) others = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (TincanMessage) bad = NULL;
  g_autoptr (TincanMessage) bad2 = NULL;
  g_autoptr (TincanMessage) found = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *cid = NULL;
  TincanStore *store;

  fake->reject_prefix = TRUE;
  connection = new_connection (fixture, profile, "alice.db", NULL);
  store = tincan_connection_get_store (connection);
  rec = recorder_new (connection);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  g_ptr_array_add (others, tincan_connection_send (connection, "lobby", "first", &error));
  bad = tincan_connection_send (connection, "lobby", "reject me", &error);
  g_ptr_array_add (others, tincan_connection_send (connection, "lobby", "last", &error));
  g_assert_no_error (error);
  wait_all_delivered (others, 5000);

  {

    if (!wait_for (cond_failed, bad, 3000))
      g_error ("rejected message did not fail");
  }
  g_assert_cmpstr (tincan_message_get_reason (bad), ==, "rejected by the test");
  g_assert_true (has_error (rec, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_REJECTED));
  g_assert_cmpuint (tincan_connection_get_queued_count (connection), ==, 0);
  g_assert_cmpuint (tincan_store_count_outbox (store), ==, 0);

  /* retry()/discard() only for failed messages. */
  g_assert_false (tincan_connection_retry (connection, g_ptr_array_index (others, 0), &error));
  g_assert_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_NOT_FAILED);
  g_clear_error (&error);

  /* Retry: same cid, accepted this time. */
  cid = g_strdup (tincan_message_get_cid (bad));
  fake->reject_prefix = FALSE;
  g_assert_true (tincan_connection_retry (connection, bad, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tincan_message_get_state (bad), !=, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_null (tincan_message_get_reason (bad));
  {
    g_autoptr (GPtrArray) one = g_ptr_array_new ();

    g_ptr_array_add (one, bad);
    wait_all_delivered (one, 3000);
  }
  g_assert_cmpstr (tincan_message_get_cid (bad), ==, cid);
  g_assert_cmpint (tincan_message_get_seq (bad), ==, 3);

  /* Discard: gone from the store. */
  fake->reject_prefix = TRUE;
  bad2 = tincan_connection_send (connection, "lobby", "reject again", &error);
  {

    if (!wait_for (cond_failed, bad2, 3000))
      g_error ("rejected message did not fail");
  }
  g_assert_true (tincan_connection_discard (connection, bad2, &error));
  g_assert_no_error (error);
  found = tincan_store_lookup_cid (store, tincan_message_get_cid (bad2));
  g_assert_null (found);
  g_assert_cmpuint (tincan_store_count_messages (store, "lobby"), ==, 3);

  tincan_connection_disconnect (connection);
}

/* A message that makes the server drop the connection every time (here:
 * bigger than its frame limit, so it closes with 1009) fails with a reason
 * after a few tries instead of looping in "sending"; the messages behind
 * it are delivered. */
static void
test_poison (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (GPtrArray) fine = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (TincanMessage) big = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *huge = g_strnfill (8000, 'x');

  fixture->server = g_object_new (TINCAN_TYPE_SERVER, "max-frame", 4096, NULL);
  g_assert_true (tincan_server_listen (fixture->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  fixture->port = tincan_server_get_port (fixture->server);
  url = fixture_url (fixture);

  profile = new_profile (url, "alice");
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  g_ptr_array_add (fine, tincan_connection_send (connection, "lobby", "before", &error));
  big = tincan_connection_send (connection, "lobby", huge, &error);
  g_ptr_array_add (fine, tincan_connection_send (connection, "lobby", "after", &error));
  g_assert_no_error (error);

  if (!wait_for (cond_failed, big, 10000))
    g_error ("the oversized message never failed (state %s)",
             tincan_message_state_to_string (tincan_message_get_state (big)));
  g_assert_nonnull (strstr (tincan_message_get_reason (big), "lost each time"));
  wait_all_delivered (fine, 10000);
  g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (fine, 0)), <,
                   tincan_message_get_seq (g_ptr_array_index (fine, 1)));
  g_assert_cmpuint (tincan_connection_get_queued_count (connection), ==, 0);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  tincan_connection_disconnect (connection);
}

/* A server that is alive but never acks one message: not stuck in
 * sending; a new socket re-sends it. */
static void
test_lost_ack (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;

  fake->drop_prefix = TRUE;
  g_object_set (profile, "heartbeat-interval", 1, "heartbeat-timeout", 1, NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", "before", &error));
  g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", "drop me", &error));
  g_ptr_array_add (sent, tincan_connection_send (connection, "lobby", "after", &error));
  g_assert_no_error (error);

  wait_all_delivered (sent, 8000);
  g_assert_cmpuint (fake->n_handshakes, ==, 2);
  g_assert_cmpuint (fake->accepted->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (fake->accepted, 2), ==, "drop me");
  tincan_connection_disconnect (connection);
}

static gboolean
cond_one_accepted (gpointer d)
{
  return ((FakeServer *) d)->accepted->len >= 1;
}

/* Raw frames for the inspector: written as is, validated, reported. */
static void
test_raw (Fixture       *fixture,
          gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (Recorder) rec = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GBytes) bad_utf8 = g_bytes_new ("\xff\xfe", 2);
  g_autoptr (GBytes) big_ping = g_bytes_new_take (g_malloc0 (126), 126);
  g_autoptr (GBytes) ping = g_bytes_new ("abcd", 4);
  const char *json = "{\"type\":\"send\",\"room\":\"lobby\",\"cid\":\"raw-1\",\"text\":\"raw hello\"}";
  guint frames_out;

  connection = new_connection (fixture, profile, "alice.db", NULL);
  rec = recorder_new (connection);
  frame = g_bytes_new (json, strlen (json));

  g_assert_false (tincan_connection_send_raw (connection, TINCAN_OPCODE_TEXT, frame, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  frames_out = rec->n_frames_out;
  g_assert_true (tincan_connection_send_raw (connection, TINCAN_OPCODE_TEXT, frame, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec->n_frames_out, ==, frames_out + 1);
  if (!wait_for (cond_one_accepted, fake, 3000))
    g_error ("the raw frame did not reach the server");
  g_assert_cmpstr (g_ptr_array_index (fake->accepted, 0), ==, "raw hello");

  g_assert_false (tincan_connection_send_raw (connection, TINCAN_OPCODE_TEXT, bad_utf8, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (tincan_connection_send_ping (connection, big_ping, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (tincan_connection_send_ping (connection, ping, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_false (tincan_connection_close_with (connection, 1005, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A close by hand: the state machine takes it like a server close. */
  g_assert_true (tincan_connection_close_with (connection, 4000, "by hand", &error));
  g_assert_no_error (error);
  if (!wait_for (cond_two_handshakes, fake, 5000))
    g_error ("no new connection after a close by hand");
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  tincan_connection_disconnect (connection);
}

/* The outbox is bounded, durable, and picked up again at start-up. */

static void
test_outbox (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanConnection) again = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) cids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *path = g_build_filename (fixture->tmpdir, "alice.db", NULL);
  TincanMessage *message;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  g_object_set (profile, "outbox-limit", 3, NULL);

  store = tincan_store_new (path, &error);
  g_assert_no_error (error);
  connection = tincan_connection_new (profile, store);

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("kept %u", i);

      message = tincan_connection_send (connection, "lobby", text, &error);
      g_assert_no_error (error);
      g_hash_table_add (cids, g_strdup (tincan_message_get_cid (message)));
      g_object_unref (message);
    }

  /* Full: a clear error, nothing dropped. */
  message = tincan_connection_send (connection, "lobby", "one too many", &error);
  g_assert_null (message);
  g_assert_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_OUTBOX_FULL);
  g_assert_nonnull (error->message);
  g_clear_error (&error);
  g_assert_cmpuint (tincan_connection_get_queued_count (connection), ==, 3);

  /* Committed before anything is sent. */
  outbox = tincan_store_load_outbox (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  g_clear_pointer (&outbox, g_ptr_array_unref);

  /* "Crash": a new connection on the same store finds them pending. */
  g_assert_finalize_object (g_steal_pointer (&connection));
  g_clear_object (&store);
  store = tincan_store_new (path, &error);
  g_assert_no_error (error);
  g_object_set (profile, "outbox-limit", 10, NULL);
  again = tincan_connection_new (profile, store);
  g_ptr_array_add (fixture->connections, g_object_ref (again));
  g_assert_cmpuint (tincan_connection_get_queued_count (again), ==, 3);

  tincan_connection_connect (again);
  {

    if (!wait_for (cond_drained, again, 5000))
      g_error ("the outbox was not sent after the restart");
  }
  outbox = tincan_store_load_page (store, "lobby", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  for (guint i = 0; i < outbox->len; i++)
    {
      TincanMessage *stored = g_ptr_array_index (outbox, i);

      g_assert_true (g_hash_table_contains (cids, tincan_message_get_cid (stored)));
      g_assert_cmpint (tincan_message_get_state (stored), ==, TINCAN_MESSAGE_STATE_DELIVERED);
    }

  tincan_connection_disconnect (again);
}

/* Issue #6: the inspector's models follow "handshake", "duplicate" and
 * "heartbeat-missed". */

static gboolean
log_has_both_handshakes (gpointer data)
{
  TincanFrameLog *log = data;
  guint n = 0;

  tincan_frame_log_flush (log);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (log)); i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (G_LIST_MODEL (log), i);

      if (tincan_frame_record_get_kind (record) != TINCAN_FRAME_RECORD_KIND_FRAME)
        n++;
    }

  return n >= 2;
}

static void
test_handshake_signal (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (0);
  g_autoptr (TincanFrameRecord) request = NULL;
  g_autoptr (TincanFrameRecord) response = NULL;
  const char *token = "sekr1t-bearer-token-42";

  tincan_profile_set_auth_method (profile, TINCAN_AUTH_BEARER);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_set_token_provider (connection, fixed_token, g_strdup (token), g_free);
  tincan_frame_log_attach (log, connection);

  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  if (!wait_for (log_has_both_handshakes, log, 5000))
    g_error ("the handshake rows did not appear in the frame log");
  g_assert_cmpstr (fake->last_authorization, ==, "Bearer sekr1t-bearer-token-42");

  request = g_list_model_get_item (G_LIST_MODEL (log), 0);
  response = g_list_model_get_item (G_LIST_MODEL (log), 1);
  g_assert_cmpint (tincan_frame_record_get_kind (request), ==,
                   TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST);
  g_assert_cmpint (tincan_frame_record_get_direction (request), ==, TINCAN_FRAME_DIRECTION_OUT);
  g_assert_true (g_str_has_prefix (tincan_frame_record_get_text (request), "GET "));
  g_assert_nonnull (strstr (tincan_frame_record_get_text (request), "Authorization: Bearer "));
  g_assert_nonnull (strstr (tincan_frame_record_get_text (request), "Sec-WebSocket-Key"));
  g_assert_null (strstr (tincan_frame_record_get_text (request), token));
  g_assert_cmpint (tincan_frame_record_get_kind (response), ==,
                   TINCAN_FRAME_RECORD_KIND_HANDSHAKE_RESPONSE);
  g_assert_cmpint (tincan_frame_record_get_direction (response), ==, TINCAN_FRAME_DIRECTION_IN);
  g_assert_true (g_str_has_prefix (tincan_frame_record_get_text (response), "HTTP/1.1 101"));

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (log)); i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (G_LIST_MODEL (log), i);
      g_autofree char *line = tincan_frame_record_to_json_line (record);

      g_assert_null (strstr (line, token));
    }

  tincan_connection_disconnect (connection);
}

static void
refuse_handler (SoupServer        *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  soup_server_message_set_status (msg, SOUP_STATUS_UNAUTHORIZED, NULL);
}

static gboolean
cond_failed_state (gpointer data)
{
  return tincan_connection_get_state (data) == TINCAN_CONNECTION_STATE_FAILED;
}

/* A refused upgrade is shown too: the 401 is the evidence. */
static void
test_handshake_refused (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (0);
  g_autoptr (TincanFrameRecord) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  GSList *uris;

  soup_server_add_handler (server, "/ws", refuse_handler, NULL, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("ws://127.0.0.1:%d/ws", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  profile = new_profile (url, "alice");
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_BEARER);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_set_token_provider (connection, fixed_token, g_strdup ("refused-token-77"), g_free);
  tincan_frame_log_attach (log, connection);
  tincan_connection_connect (connection);
  if (!wait_for (cond_failed_state, connection, 5000))
    g_error ("a 401 did not fail the connection");
  if (!wait_for (log_has_both_handshakes, log, 5000))
    g_error ("the refused handshake is not in the frame log");

  response = g_list_model_get_item (G_LIST_MODEL (log), 1);
  g_assert_cmpint (tincan_frame_record_get_kind (response), ==,
                   TINCAN_FRAME_RECORD_KIND_HANDSHAKE_RESPONSE);
  g_assert_true (g_str_has_prefix (tincan_frame_record_get_text (response), "HTTP/1.1 401"));
  soup_server_disconnect (server);
}

static gboolean
cond_duplicates_counted (gpointer data)
{
  return tincan_delivery_stats_get_duplicates (data) >= 2;
}

static void
count_signal (gpointer  instance,
              TincanMessage *message,
              guint    *count)
{
  (*count)++;
}

static void
test_duplicate_signal (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) alice_profile = new_profile (fake->url, "alice");
  g_autoptr (TincanProfile) bob_profile = new_profile (fake->url, "bob");
  g_autoptr (TincanConnection) alice = NULL;
  g_autoptr (TincanConnection) bob = NULL;
  g_autoptr (TincanDeliveryStats) stats = tincan_delivery_stats_new ();
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  Recorder *rec;
  guint duplicates = 0;

  fake->broadcast_twice = TRUE;
  alice = new_connection (fixture, alice_profile, "alice.db", NULL);
  bob = new_connection (fixture, bob_profile, "bob.db", NULL);
  rec = recorder_new (alice);
  tincan_delivery_stats_attach (stats, alice);
  g_signal_connect (alice, "duplicate", G_CALLBACK (count_signal), &duplicates);

  tincan_connection_connect (alice);
  tincan_connection_connect (bob);
  wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  wait_state (bob, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *text = g_strdup_printf ("twice %u", i);

      g_ptr_array_add (sent, tincan_connection_send (bob, "lobby", text, &error));
      g_assert_no_error (error);
    }
  wait_all_delivered (sent, 5000);
  wait_received (rec, 2, 5000);
  if (!wait_for (cond_duplicates_counted, stats, 5000))
    g_error ("the repeated broadcasts were not counted as duplicates");

  /* Shown once each, counted as duplicates once each. */
  run_for (100);
  g_assert_cmpuint (rec->received->len, ==, 2);
  g_assert_cmpuint (duplicates, ==, 2);
  g_assert_cmpuint (tincan_delivery_stats_get_duplicates (stats), ==, 2);

  recorder_free (rec);
}

/* The connection remembers the ids of the last 4 096 messages (its
 * MAX_RECENT_IDS): a new seq under one of those is reported, under an
 * older one not; every message is shown either way. */
#define RECENT_IDS 4096

static void
fake_send_message (SoupWebsocketConnection *conn,
                   gint64                   seq,
                   guint                    id)
{
  g_autoptr (TincanFrame) message = tincan_frame_new (TINCAN_FRAME_MESSAGE);

  message->room = g_strdup ("lobby");
  message->id = g_strdup_printf ("id-%u", id);
  message->user = g_strdup ("bob");
  message->text = g_strdup_printf ("message %" G_GINT64_FORMAT, seq);
  message->seq = seq;
  message->ts = 1700000000000 + seq;
  fake_send_frame (conn, message);
}

static guint
count_reused (Recorder *rec)
{
  guint n = 0;

  for (guint i = 0; i < rec->errors->len; i++)
    if (strstr (((GError *) g_ptr_array_index (rec->errors, i))->message, "reused the id") != NULL)
      n++;
  return n;
}

static void
test_reused_ids (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) alice = NULL;
  SoupWebsocketConnection *conn;
  Recorder *rec;
  gint64 seq = 0;

  alice = new_connection (fixture, profile, "alice.db", NULL);
  rec = recorder_new (alice);
  tincan_connection_connect (alice);
  wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_assert_cmpuint (fake->conns->len, ==, 1);
  conn = g_ptr_array_index (fake->conns, 0);

  /* One more than it remembers: id-1 is forgotten, id-2 … id-4097 not. */
  for (guint id = 1; id <= RECENT_IDS + 1; id++)
    fake_send_message (conn, ++seq, id);
  wait_received (rec, RECENT_IDS + 1, 20000);
  g_assert_cmpuint (count_reused (rec), ==, 0);

  /* Forgotten: not reported (and remembered again, in place of id-2). */
  fake_send_message (conn, ++seq, 1);
  /* Remembered: the oldest, the newest and one between are reported. */
  fake_send_message (conn, ++seq, 3);
  fake_send_message (conn, ++seq, RECENT_IDS + 1);
  fake_send_message (conn, ++seq, 2000);
  /* id-2 went for id-1: no longer remembered. */
  fake_send_message (conn, ++seq, 2);
  wait_received (rec, RECENT_IDS + 6, 5000);

  g_assert_cmpuint (count_reused (rec), ==, 3);
  g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (rec->received, rec->received->len - 1)), ==, seq);

  recorder_free (rec);
}

typedef struct
{
  guint  count;
  guint  last_in_a_row;
  gint64 last_silence_ms;
} Misses;

static void
on_heartbeat_missed (TincanConnection *connection,
                     guint             in_a_row,
                     gint64            silence_ms,
                     Misses           *misses)
{
  misses->count++;
  misses->last_in_a_row = in_a_row;
  misses->last_silence_ms = silence_ms;
}

static gboolean
cond_two_misses (gpointer data)
{
  return ((Misses *) data)->count >= 2;
}

static void
test_heartbeat_missed (Fixture       *fixture,
                       gconstpointer  data)
{
  SilentPeer peer = { 0 };
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanTimeline) timeline = tincan_timeline_new ();
  g_autofree char *url = NULL;
  Misses misses = { 0 };

  silent_peer_start (&peer);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", peer.port);
  profile = new_profile (url, "alice");
  g_object_set (profile, "heartbeat-interval", 1, "heartbeat-timeout", 10, NULL);
  connection = new_connection (fixture, profile, "alice.db", NULL);
  g_signal_connect (connection, "heartbeat-missed", G_CALLBACK (on_heartbeat_missed), &misses);
  tincan_timeline_attach (timeline, connection);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  if (!wait_for (cond_two_misses, &misses, 6000))
    g_error ("no heartbeat-missed from a silent server");
  g_assert_cmpuint (misses.last_in_a_row, ==, misses.count);
  g_assert_cmpint (misses.last_silence_ms, >=, 1000);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);

  g_signal_handlers_disconnect_by_data (connection, &misses);
  tincan_timeline_attach (timeline, NULL);
  tincan_connection_disconnect (connection);
  silent_peer_stop (&peer);
}

/* Network simulation */

static gboolean
cond_latency_at_least_300 (gpointer d)
{
  return tincan_connection_get_latency (d) >= 300;
}

static gboolean
cond_ack_p50_known (gpointer d)
{
  return tincan_delivery_stats_get_ack_latency_p50 (d) >= 0;
}

static void
test_simulate_latency (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (TincanDeliveryStats) stats = tincan_delivery_stats_new ();
  g_autoptr (GError) error = NULL;
  gint64 sent_at;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  profile = new_profile (url, "alice");
  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_delivery_stats_attach (stats, connection);

  /* Without: a local server answers within a few ms. */
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  if (!wait_for (cond_latency_known, connection, 5000))
    g_error ("no latency measured");
  g_assert_cmpint (tincan_connection_get_latency (connection), <, 300);
  tincan_connection_disconnect (connection);

  /* With 300 ms on every outgoing frame: the ping (sent on welcome) and
   * the ack come back 300 ms later at least. */
  tincan_connection_simulate_latency (connection, 300);
  g_assert_cmpuint (tincan_connection_get_simulated_latency (connection), ==, 300);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  if (!wait_for (cond_latency_at_least_300, connection, 5000))
    g_error ("the simulated latency does not show in the measured latency (%d ms)",
             tincan_connection_get_latency (connection));
  g_assert_cmpint (tincan_connection_get_latency (connection), <, 2000);

  sent_at = g_get_monotonic_time ();
  message = tincan_connection_send (connection, "lobby", "slow", &error);
  g_assert_no_error (error);
  if (!wait_for (cond_ack_p50_known, stats, 5000))
    g_error ("the message was not acknowledged");
  g_assert_cmpint (g_get_monotonic_time () - sent_at, >=, 300 * 1000);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p50 (stats), >=, 300);
  g_assert_cmpint (tincan_message_get_state (message), ==, TINCAN_MESSAGE_STATE_DELIVERED);

  tincan_connection_simulate_latency (connection, 0);
  tincan_connection_disconnect (connection);
}

typedef struct
{
  TincanConnection *connection;
  guint             n_reconnecting;
  guint             n_connected;
} StateCounter;

static void
count_states (TincanConnection *connection,
              GParamSpec       *pspec,
              StateCounter     *counter)
{
  switch (tincan_connection_get_state (connection))
    {
    case TINCAN_CONNECTION_STATE_RECONNECTING:
      counter->n_reconnecting++;
      break;
    case TINCAN_CONNECTION_STATE_CONNECTED:
      counter->n_connected++;
      break;
    case TINCAN_CONNECTION_STATE_DISCONNECTED:
    case TINCAN_CONNECTION_STATE_CONNECTING:
    case TINCAN_CONNECTION_STATE_OFFLINE:
    case TINCAN_CONNECTION_STATE_FAILED:
    default:
      break;
    }
}

static gboolean
cond_reconnected_once (gpointer d)
{
  StateCounter *counter = d;

  return counter->n_connected >= 2 &&
         tincan_connection_get_state (counter->connection) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static void
test_simulate_drop (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autoptr (TincanProfile) alice_profile = NULL;
  g_autoptr (TincanProfile) bob_profile = NULL;
  g_autoptr (TincanConnection) alice = NULL;
  g_autoptr (TincanConnection) bob = NULL;
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GHashTable) texts = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  StateCounter counter = { 0 };
  Recorder *rec;

  server_start (fixture, NULL, 0);
  url = fixture_url (fixture);
  alice_profile = new_profile (url, "alice");
  bob_profile = new_profile (url, "bob");
  alice = new_connection (fixture, alice_profile, "alice.db", NULL);
  bob = new_connection (fixture, bob_profile, "bob.db", NULL);
  rec = recorder_new (bob);
  counter.connection = alice;
  g_signal_connect (alice, "notify::state", G_CALLBACK (count_states), &counter);

  g_assert_false (tincan_connection_simulate_drop (alice));
  tincan_connection_connect (alice);
  tincan_connection_connect (bob);
  wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  wait_state (bob, TINCAN_CONNECTION_STATE_CONNECTED, 5000);

  /* Ten messages, the link dropped after the first few went out. */
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("m%u", i);

      g_ptr_array_add (sent, tincan_connection_send (alice, "lobby", text, &error));
      g_assert_no_error (error);
      if (i == 4)
        {
          run_for (5);
          g_assert_true (tincan_connection_simulate_drop (alice));
          g_assert_cmpint (tincan_connection_get_state (alice), ==,
                           TINCAN_CONNECTION_STATE_RECONNECTING);
        }
    }

  if (!wait_for (cond_reconnected_once, &counter, 5000))
    g_error ("no reconnect after the simulated drop");
  g_assert_cmpuint (counter.n_reconnecting, >=, 1);
  wait_all_delivered (sent, 5000);
  wait_received (rec, 10, 5000);
  run_for (100);

  /* Each exactly once on the other side. */
  g_assert_cmpuint (rec->received->len, ==, 10);
  for (guint i = 0; i < rec->received->len; i++)
    g_assert_true (g_hash_table_add (texts, (char *) tincan_message_get_text (g_ptr_array_index (rec->received, i))));

  g_signal_handlers_disconnect_by_data (alice, &counter);
  recorder_free (rec);
}

static gboolean
cond_offline (gpointer d)
{
  return tincan_connection_get_state (d) == TINCAN_CONNECTION_STATE_OFFLINE;
}

static void
test_simulate_offline (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr (FakeServer) fake = fake_server_new (FAKE_NORMAL);
  g_autoptr (TincanProfile) profile = new_profile (fake->url, "alice");
  g_autoptr (TincanConnection) connection = NULL;
  gint64 offline_at;

  connection = new_connection (fixture, profile, "alice.db", NULL);
  tincan_connection_connect (connection);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 5000);
  g_assert_cmpuint (fake->n_handshakes, ==, 1);

  tincan_connection_simulate_offline_for (connection, 2);
  offline_at = g_get_monotonic_time ();
  g_assert_true (tincan_connection_get_simulated_offline (connection));
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_OFFLINE);

  /* Offline: connect() and the backoff make no attempt. */
  tincan_connection_connect (connection);
  run_for (1500);
  g_assert_cmpint (tincan_connection_get_state (connection), ==, TINCAN_CONNECTION_STATE_OFFLINE);
  g_assert_cmpuint (fake->n_handshakes, ==, 1);
  g_assert_cmpuint (tincan_connection_get_retry_at (connection), ==, 0);

  /* Back after 2 s, at once. */
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);
  g_assert_cmpint (g_get_monotonic_time () - offline_at, >=, 1900 * 1000);
  g_assert_false (tincan_connection_get_simulated_offline (connection));
  g_assert_cmpuint (fake->n_handshakes, ==, 2);

  /* And 0 ends a period early. */
  tincan_connection_simulate_offline_for (connection, 60);
  if (!wait_for (cond_offline, connection, 1000))
    g_error ("not offline");
  tincan_connection_simulate_offline_for (connection, 0);
  wait_state (connection, TINCAN_CONNECTION_STATE_CONNECTED, 3000);
  g_assert_cmpuint (fake->n_handshakes, ==, 3);

  tincan_connection_disconnect (connection);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/connection/deliver", Fixture, NULL, fixture_setup, test_deliver, fixture_teardown);
  g_test_add ("/connection/reused-ids", Fixture, NULL, fixture_setup, test_reused_ids, fixture_teardown);
  g_test_add ("/connection/backoff", Fixture, NULL, fixture_setup, test_backoff, fixture_teardown);
  g_test_add ("/connection/stable-reset", Fixture, NULL, fixture_setup, test_stable_reset, fixture_teardown);
  g_test_add ("/connection/handshake", Fixture, NULL, fixture_setup, test_handshake, fixture_teardown);
  g_test_add ("/connection/terminal-close", Fixture, NULL, fixture_setup, test_terminal_close, fixture_teardown);
  g_test_add ("/connection/token", Fixture, NULL, fixture_setup, test_token, fixture_teardown);
  g_test_add ("/connection/heartbeat", Fixture, NULL, fixture_setup, test_heartbeat, fixture_teardown);
  g_test_add_func ("/connection/wake", test_wake);
  g_test_add_func ("/connection/wake/subprocess", test_wake_child);
  g_test_add ("/connection/clock-jump", Fixture, NULL, fixture_setup, test_clock_jump, fixture_teardown);
  g_test_add ("/connection/fault-injection", Fixture, NULL, fixture_setup, test_fault_injection, fixture_teardown);
  g_test_add ("/connection/resume", Fixture, NULL, fixture_setup, test_resume, fixture_teardown);
  g_test_add ("/connection/network", Fixture, NULL, fixture_setup, test_network, fixture_teardown);
  g_test_add ("/connection/bad-frames", Fixture, NULL, fixture_setup, test_bad_frames, fixture_teardown);
  g_test_add ("/connection/reject", Fixture, NULL, fixture_setup, test_reject, fixture_teardown);
  g_test_add ("/connection/poison", Fixture, NULL, fixture_setup, test_poison, fixture_teardown);
  g_test_add ("/connection/lost-ack", Fixture, NULL, fixture_setup, test_lost_ack, fixture_teardown);
  g_test_add ("/connection/raw", Fixture, NULL, fixture_setup, test_raw, fixture_teardown);
  g_test_add ("/connection/outbox", Fixture, NULL, fixture_setup, test_outbox, fixture_teardown);
  g_test_add ("/connection/handshake-signal", Fixture, NULL, fixture_setup,
              test_handshake_signal, fixture_teardown);
  g_test_add ("/connection/handshake-refused", Fixture, NULL, fixture_setup,
              test_handshake_refused, fixture_teardown);
  g_test_add ("/connection/duplicate-signal", Fixture, NULL, fixture_setup,
              test_duplicate_signal, fixture_teardown);
  g_test_add ("/connection/heartbeat-missed", Fixture, NULL, fixture_setup,
              test_heartbeat_missed, fixture_teardown);
  g_test_add ("/connection/simulate-latency", Fixture, NULL, fixture_setup,
              test_simulate_latency, fixture_teardown);
  g_test_add ("/connection/simulate-drop", Fixture, NULL, fixture_setup,
              test_simulate_drop, fixture_teardown);
  g_test_add ("/connection/simulate-offline", Fixture, NULL, fixture_setup,
              test_simulate_offline, fixture_teardown);

  return g_test_run ();
}
