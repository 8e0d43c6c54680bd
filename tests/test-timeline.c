/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-timeline"

#include "config.h"

#include <glib/gstdio.h>
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

#define WAIT_FOR(cond, data, timeout_ms, what)                                  \
  G_STMT_START {                                                                \
    if (!wait_for (cond, data, timeout_ms))                                     \
      g_error ("timed out after %u ms waiting for %s", (guint) (timeout_ms), what); \
  } G_STMT_END

typedef struct
{
  char        *tmpdir;
  TincanStore *store;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  fixture->tmpdir = g_dir_make_tmp ("tincan-test-timeline-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (fixture->tmpdir, "store.db", NULL);
  fixture->store = tincan_store_new (path, &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_object (&fixture->store);
  remove_tree (fixture->tmpdir);
  g_clear_pointer (&fixture->tmpdir, g_free);
}

/* A port on 127.0.0.1 where nothing listens: bound, noted, closed. */
static guint
dead_port (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  return port;
}

static guint
count_kind (TincanTimeline          *timeline,
            TincanTimelineEventKind  kind)
{
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (timeline)); i++)
    {
      g_autoptr (TincanTimelineEvent) event = g_list_model_get_item (G_LIST_MODEL (timeline), i);

      n += tincan_timeline_event_get_kind (event) == kind;
    }

  return n;
}

typedef struct
{
  TincanTimeline          *timeline;
  TincanTimelineEventKind  kind;
  guint                    count;
} KindCount;

static gboolean
has_kind_count (gpointer data)
{
  KindCount *k = data;

  return count_kind (k->timeline, k->kind) >= k->count;
}

static TincanProfile *
profile_for (const char   *url,
             TincanJitter  jitter)
{
  TincanProfile *profile = tincan_profile_new ();

  tincan_profile_set_url (profile, url);
  tincan_profile_set_user (profile, "alice");
  g_object_set (profile,
                "reconnect-base-ms", 20,
                "reconnect-cap-ms", 80,
                "reconnect-jitter", jitter,
                "reconnect-stable-ms", 60000,
                NULL);
  return profile;
}

/* Checks that every backoff event of @timeline is followed by the attempt
 * it announced, after the delay it announced: the delay actually used. */
static guint
check_backoffs_used (TincanTimeline *timeline,
                     guint           cap_ms)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (timeline));
  guint checked = 0;
  guint last_attempt = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanTimelineEvent) backoff = g_list_model_get_item (G_LIST_MODEL (timeline), i);
      guint delay, attempt;

      if (tincan_timeline_event_get_kind (backoff) != TINCAN_TIMELINE_EVENT_BACKOFF)
        continue;

      delay = tincan_timeline_event_get_delay_ms (backoff);
      attempt = tincan_timeline_event_get_attempt (backoff);
      g_assert_cmpuint (delay, <=, cap_ms);
      g_assert_nonnull (strstr (tincan_timeline_event_get_description (backoff), "ms"));

      /* Attempts are numbered one by one. */
      if (last_attempt != 0)
        g_assert_cmpuint (attempt, ==, last_attempt + 1);
      last_attempt = attempt;

      /* The next state change is the attempt itself. */
      for (guint j = i + 1; j < n; j++)
        {
          g_autoptr (TincanTimelineEvent) next = g_list_model_get_item (G_LIST_MODEL (timeline), j);
          gint64 waited_us;

          if (tincan_timeline_event_get_kind (next) != TINCAN_TIMELINE_EVENT_STATE)
            continue;
          if (tincan_timeline_event_get_state (next) != TINCAN_CONNECTION_STATE_CONNECTING)
            break;

          waited_us = tincan_timeline_event_get_monotonic_time (next) -
                      tincan_timeline_event_get_monotonic_time (backoff);
          /* Never early (GLib timeouts have ms granularity), and not much
           * late on an idle machine. */
          if (waited_us < (gint64) delay * 1000 - 1500 || waited_us > (gint64) delay * 1000 + 250000)
            g_error ("attempt %u: announced %u ms, waited %" G_GINT64_FORMAT " µs",
                     attempt, delay, waited_us);
          checked++;
          break;
        }
    }

  return checked;
}

static void
test_backoff_delays (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", dead_port ());
  g_autoptr (TincanProfile) profile = profile_for (url, TINCAN_JITTER_NONE);
  g_autoptr (TincanConnection) connection = tincan_connection_new (profile, fixture->store);
  g_autoptr (TincanTimeline) timeline = tincan_timeline_new ();
  KindCount six = { timeline, TINCAN_TIMELINE_EVENT_BACKOFF, 6 };
  guint first_attempt = 0;
  guint n_backoff = 0;

  tincan_timeline_attach (timeline, connection);
  tincan_connection_connect (connection);
  WAIT_FOR (has_kind_count, &six, 10000, "six reconnect delays");
  tincan_connection_disconnect (connection);

  /* No jitter: 20, 40, 80, 80… for attempts 1, 2, 3, 4… */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (timeline)); i++)
    {
      g_autoptr (TincanTimelineEvent) event = g_list_model_get_item (G_LIST_MODEL (timeline), i);
      guint attempt, expected;

      if (tincan_timeline_event_get_kind (event) != TINCAN_TIMELINE_EVENT_BACKOFF)
        continue;

      attempt = tincan_timeline_event_get_attempt (event);
      if (first_attempt == 0)
        first_attempt = attempt;
      g_assert_cmpuint (attempt, ==, first_attempt + n_backoff);
      g_assert_cmpuint (attempt, >=, 1);
      expected = MIN (80, 20u << MIN (attempt - 1, 8));
      g_assert_cmpuint (tincan_timeline_event_get_delay_ms (event), ==, expected);
      n_backoff++;
    }
  g_assert_cmpuint (first_attempt, ==, 1);
  g_assert_cmpuint (n_backoff, >=, 6);

  /* And each was the delay actually waited. */
  g_assert_cmpuint (check_backoffs_used (timeline, 80), >=, 5);

  /* The state changes are there too, with their reasons. */
  {
    g_autoptr (TincanTimelineEvent) first = g_list_model_get_item (G_LIST_MODEL (timeline), 0);
    g_autoptr (TincanTimelineEvent) last = NULL;
    gboolean saw_reconnecting = FALSE;

    g_assert_cmpint (tincan_timeline_event_get_kind (first), ==, TINCAN_TIMELINE_EVENT_STATE);
    g_assert_cmpint (tincan_timeline_event_get_previous_state (first), ==, TINCAN_CONNECTION_STATE_DISCONNECTED);
    g_assert_cmpint (tincan_timeline_event_get_state (first), ==, TINCAN_CONNECTION_STATE_CONNECTING);

    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (timeline)); i++)
      {
        g_autoptr (TincanTimelineEvent) event = g_list_model_get_item (G_LIST_MODEL (timeline), i);

        if (tincan_timeline_event_get_kind (event) == TINCAN_TIMELINE_EVENT_STATE &&
            tincan_timeline_event_get_state (event) == TINCAN_CONNECTION_STATE_RECONNECTING)
          {
            saw_reconnecting = TRUE;
            /* Why: the connection was refused. */
            g_assert_nonnull (tincan_timeline_event_get_error (event));
            g_assert_nonnull (strstr (tincan_timeline_event_get_description (event), "reconnecting"));
          }
      }
    g_assert_true (saw_reconnecting);

    last = g_list_model_get_item (G_LIST_MODEL (timeline), g_list_model_get_n_items (G_LIST_MODEL (timeline)) - 1);
    g_assert_cmpint (tincan_timeline_event_get_kind (last), ==, TINCAN_TIMELINE_EVENT_STATE);
    g_assert_cmpint (tincan_timeline_event_get_state (last), ==, TINCAN_CONNECTION_STATE_DISCONNECTED);
  }

  tincan_timeline_attach (timeline, NULL);
}

/* With jitter the delays cannot be predicted: the timeline must still say
 * exactly which one was used each time. */
static void
test_backoff_jitter (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", dead_port ());
  g_autoptr (TincanProfile) profile = profile_for (url, TINCAN_JITTER_EQUAL);
  g_autoptr (TincanConnection) connection = tincan_connection_new (profile, fixture->store);
  g_autoptr (TincanTimeline) timeline = tincan_timeline_new ();
  KindCount six = { timeline, TINCAN_TIMELINE_EVENT_BACKOFF, 6 };

  g_object_set (timeline, "connection", connection, NULL);
  tincan_connection_connect (connection);
  WAIT_FOR (has_kind_count, &six, 10000, "six reconnect delays");
  tincan_connection_disconnect (connection);

  g_assert_cmpuint (check_backoffs_used (timeline, 80), >=, 5);
  tincan_timeline_attach (timeline, NULL);
}

/* Resume against the real server: leave, come back, get "recovered". */
typedef struct
{
  TincanConnection     *connection;
  TincanConnectionState state;
} StateWait;

static gboolean
in_state (gpointer data)
{
  StateWait *w = data;

  return tincan_connection_get_state (w->connection) == w->state;
}

static gboolean
message_delivered (gpointer data)
{
  return tincan_message_get_state (TINCAN_MESSAGE (data)) == TINCAN_MESSAGE_STATE_DELIVERED;
}

static void
test_resume (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr (TincanServer) server = tincan_server_new ();
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanTimeline) timeline = tincan_timeline_new ();
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GError) error = NULL;
  KindCount one_resume = { timeline, TINCAN_TIMELINE_EVENT_RESUME, 1 };
  StateWait connected;
  gboolean came_back = FALSE;
  gboolean found = FALSE;

  g_assert_true (tincan_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);

  profile = profile_for (tincan_server_get_uri (server), TINCAN_JITTER_NONE);
  connection = tincan_connection_new (profile, fixture->store);
  connected = (StateWait) { connection, TINCAN_CONNECTION_STATE_CONNECTED };
  tincan_timeline_attach (timeline, connection);

  tincan_connection_connect (connection);
  WAIT_FOR (in_state, &connected, 10000, "connected");
  message = tincan_connection_send (connection, "lobby", "before the break", &error);
  g_assert_no_error (error);
  WAIT_FOR (message_delivered, message, 10000, "the message delivered");

  tincan_connection_disconnect (connection);
  one_resume.count = count_kind (timeline, TINCAN_TIMELINE_EVENT_RESUME) + 1;
  tincan_connection_connect (connection);
  WAIT_FOR (has_kind_count, &one_resume, 10000, "a resume result");

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (timeline)); i++)
    {
      g_autoptr (TincanTimelineEvent) event = g_list_model_get_item (G_LIST_MODEL (timeline), i);

      if (tincan_timeline_event_get_kind (event) == TINCAN_TIMELINE_EVENT_STATE &&
          tincan_timeline_event_get_state (event) == TINCAN_CONNECTION_STATE_DISCONNECTED)
        came_back = TRUE;
      if (tincan_timeline_event_get_kind (event) != TINCAN_TIMELINE_EVENT_RESUME || !came_back)
        continue;
      g_assert_cmpstr (tincan_timeline_event_get_room (event), ==, "lobby");
      g_assert_false (tincan_timeline_event_get_gap (event));
      g_assert_nonnull (strstr (tincan_timeline_event_get_description (event), "recovered"));
      found = TRUE;
    }
  g_assert_true (found);

  tincan_connection_disconnect (connection);
  tincan_timeline_attach (timeline, NULL);
  tincan_server_stop (server);
}

/* A server that completes the handshake, welcomes the client, then never
 * says another word (nor reads): the heartbeat must go unanswered. */
typedef struct
{
  GSocketService *service;
  GPtrArray      *connections;
  guint           port;
} SilentServer;

typedef struct
{
  SilentServer      *server;
  GSocketConnection *connection;
  GString           *request;
  char               buffer[4096];
} SilentClient;

static void
silent_client_free (SilentClient *client)
{
  g_object_unref (client->connection);
  g_string_free (client->request, TRUE);
  g_free (client);
}

static void
silent_answer (SilentClient *client)
{
  static const char welcome[] =
    "{\"type\":\"welcome\",\"session\":\"s1\",\"user\":\"alice\",\"rooms\":[\"lobby\"],\"heartbeat\":1}";
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (client->connection));
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autoptr (GError) error = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *response = NULL;
  g_autofree char *key = NULL;
  const char *line;
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  guint8 header[2];

  line = strstr (client->request->str, "Sec-WebSocket-Key:");
  if (line == NULL)
    line = strstr (client->request->str, "sec-websocket-key:");
  g_assert_nonnull (line);
  key = g_strndup (line + 18, strcspn (line + 18, "\r\n"));
  g_strstrip (key);

  g_checksum_update (sha1, (const guchar *) key, -1);
  g_checksum_update (sha1, (const guchar *) "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", -1);
  g_checksum_get_digest (sha1, digest, &digest_len);
  accept = g_base64_encode (digest, digest_len);

  response = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: %s\r\n"
                              "Sec-WebSocket-Protocol: tincan.v1\r\n"
                              "\r\n", accept);
  header[0] = 0x81;
  header[1] = sizeof welcome - 1;
  g_assert_true (g_output_stream_write_all (out, response, strlen (response), NULL, NULL, &error) &&
                 g_output_stream_write_all (out, header, 2, NULL, NULL, &error) &&
                 g_output_stream_write_all (out, welcome, sizeof welcome - 1, NULL, NULL, &error));
  g_assert_no_error (error);
  /* …and silence from now on. */
}

static void
silent_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  SilentClient *client = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    return;

  g_string_append_len (client->request, client->buffer, n);
  if (strstr (client->request->str, "\r\n\r\n") != NULL)
    {
      silent_answer (client);
      return;
    }

  g_input_stream_read_async (G_INPUT_STREAM (source), client->buffer, sizeof client->buffer,
                             G_PRIORITY_DEFAULT, NULL, silent_read_cb, client);
}

static gboolean
silent_incoming (GSocketService    *service,
                 GSocketConnection *connection,
                 GObject           *source_object,
                 gpointer           user_data)
{
  SilentServer *server = user_data;
  SilentClient *client = g_new0 (SilentClient, 1);

  client->server = server;
  client->connection = g_object_ref (connection);
  client->request = g_string_new (NULL);
  g_ptr_array_add (server->connections, client);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             client->buffer, sizeof client->buffer,
                             G_PRIORITY_DEFAULT, NULL, silent_read_cb, client);
  return TRUE;
}

static void
test_heartbeat_miss (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) effective = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanTimeline) timeline = tincan_timeline_new ();
  g_autofree char *url = NULL;
  KindCount one_miss = { timeline, TINCAN_TIMELINE_EVENT_HEARTBEAT_MISS, 1 };
  SilentServer server = { 0 };
  gboolean saw_connected = FALSE, miss_then_reconnecting = FALSE;

  server.service = g_socket_service_new ();
  server.connections = g_ptr_array_new_with_free_func ((GDestroyNotify) silent_client_free);
  g_socket_listener_add_address (G_SOCKET_LISTENER (server.service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  server.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (server.service, "incoming", G_CALLBACK (silent_incoming), &server);
  g_socket_service_start (server.service);

  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", server.port);
  profile = profile_for (url, TINCAN_JITTER_NONE);
  g_object_set (profile, "heartbeat-interval", 1, "heartbeat-timeout", 1, NULL);
  connection = tincan_connection_new (profile, fixture->store);
  tincan_timeline_attach (timeline, connection);

  tincan_connection_connect (connection);
  WAIT_FOR (has_kind_count, &one_miss, 15000, "a heartbeat miss");
  tincan_connection_disconnect (connection);
  tincan_timeline_attach (timeline, NULL);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (timeline)); i++)
    {
      g_autoptr (TincanTimelineEvent) event = g_list_model_get_item (G_LIST_MODEL (timeline), i);
      TincanTimelineEventKind kind = tincan_timeline_event_get_kind (event);

      if (kind == TINCAN_TIMELINE_EVENT_STATE &&
          tincan_timeline_event_get_state (event) == TINCAN_CONNECTION_STATE_CONNECTED)
        saw_connected = TRUE;

      if (kind == TINCAN_TIMELINE_EVENT_HEARTBEAT_MISS)
        {
          g_autoptr (TincanTimelineEvent) next = g_list_model_get_item (G_LIST_MODEL (timeline), i + 1);

          /* Missed while connected, and the reason for what followed. */
          g_assert_true (saw_connected);
          g_assert_cmpuint (tincan_timeline_event_get_missed (event), >=, 1);
          g_assert_nonnull (next);
          if (tincan_timeline_event_get_kind (next) == TINCAN_TIMELINE_EVENT_STATE &&
              tincan_timeline_event_get_state (next) == TINCAN_CONNECTION_STATE_RECONNECTING &&
              tincan_timeline_event_get_error (next) != NULL)
            miss_then_reconnecting = TRUE;
          break;
        }
    }
  g_assert_true (miss_then_reconnecting);

  g_socket_service_stop (server.service);
  g_socket_listener_close (G_SOCKET_LISTENER (server.service));
  g_clear_object (&server.service);
  g_clear_pointer (&server.connections, g_ptr_array_unref);
}

static void
test_append_api (void)
{
  g_autoptr (TincanTimeline) timeline = tincan_timeline_new ();
  g_autoptr (GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "Connection refused");
  g_autoptr (TincanTimelineEvent) state = NULL;
  g_autoptr (TincanTimelineEvent) miss = NULL;
  g_autoptr (TincanTimelineEvent) gap = NULL;

  tincan_timeline_append_state (timeline, TINCAN_CONNECTION_STATE_RECONNECTING,
                                TINCAN_CONNECTION_STATE_CONNECTED, 1006, NULL, error);
  tincan_timeline_append_heartbeat_miss (timeline, 2, 30000);
  tincan_timeline_append_resume (timeline, "lobby", TRUE);

  state = g_list_model_get_item (G_LIST_MODEL (timeline), 0);
  g_assert_cmpuint (tincan_timeline_event_get_close_code (state), ==, 1006);
  g_assert_cmpstr (tincan_timeline_event_get_error (state), ==, "Connection refused");
  g_assert_nonnull (strstr (tincan_timeline_event_get_description (state), "1006"));
  g_assert_nonnull (strstr (tincan_timeline_event_get_description (state), "Connection refused"));

  miss = g_list_model_get_item (G_LIST_MODEL (timeline), 1);
  g_assert_cmpint (tincan_timeline_event_get_kind (miss), ==, TINCAN_TIMELINE_EVENT_HEARTBEAT_MISS);
  g_assert_cmpuint (tincan_timeline_event_get_missed (miss), ==, 2);
  g_assert_cmpint (tincan_timeline_event_get_silence_ms (miss), ==, 30000);

  gap = g_list_model_get_item (G_LIST_MODEL (timeline), 2);
  g_assert_true (tincan_timeline_event_get_gap (gap));
  g_assert_nonnull (strstr (tincan_timeline_event_get_description (gap), "gap"));

  /* Bounded: the oldest go first. */
  tincan_timeline_set_capacity (timeline, 2);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 2);
  for (guint i = 0; i < 5; i++)
    tincan_timeline_append_backoff (timeline, i + 1, 10);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 2);
  {
    g_autoptr (TincanTimelineEvent) newest = g_list_model_get_item (G_LIST_MODEL (timeline), 1);

    g_assert_cmpuint (tincan_timeline_event_get_attempt (newest), ==, 5);
  }

  tincan_timeline_clear (timeline);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/timeline/backoff/delays", Fixture, NULL, fixture_setup, test_backoff_delays, fixture_teardown);
  g_test_add ("/timeline/backoff/jitter", Fixture, NULL, fixture_setup, test_backoff_jitter, fixture_teardown);
  g_test_add ("/timeline/resume", Fixture, NULL, fixture_setup, test_resume, fixture_teardown);
  g_test_add ("/timeline/heartbeat-miss", Fixture, NULL, fixture_setup, test_heartbeat_miss, fixture_teardown);
  g_test_add_func ("/timeline/append-api", test_append_api);

  return g_test_run ();
}
