/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-fuzz"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include <libsoup/soup.h>

#include "fuzz-common.h"
#include "tincan-frame.h"
#include "tincan-protocol.h"
#include "tincan-server.h"
#include "tincan-server-private.h"

/* The reference server's frame handling.
 *
 * Input: WebSocket messages a client sends, separated by a 0xFF byte; a
 * message starting with 0xFE, or one that is not valid UTF-8, goes as a
 * binary message, any other as text.
 *
 * 1. Each message goes through the decoder the server uses
 *    (tincan_v1_decode on text frames) and must decode or fail cleanly.
 * 2. The messages then go to a real in-process TincanServer, through a
 *    test client without a socket (tincan-server-private.h): the same
 *    frame handling as a WebSocket client's, without a loopback round trip
 *    per input. Everything the server sends back must decode with the
 *    client's tincan.v1 codec. State carries over between inputs, as it
 *    does on a real connection; the client is renewed every CONN_INPUTS
 *    inputs (or when the server closed it) and the server every
 *    SERVER_INPUTS, so the state stays bounded. A crash found this way may
 *    need the inputs before it: run with -runs on the crash file first,
 *    then on the corpus, to reproduce.
 *
 * With TINCAN_FUZZ_SOCKET=1 in the environment the messages go over one
 * real loopback WebSocket instead (kept open across inputs), each input
 * followed by a ping whose pong proves the server has handled it all:
 * slower, but it covers libsoup's side of the frame handling too. */

#define MAX_MESSAGES   16
#define CONN_INPUTS    2000
#define SERVER_INPUTS  20000
#define BARRIER_BASE   G_GINT64_CONSTANT (9000000000000000)
#define DEADLINE_US    (10 * G_USEC_PER_SEC)

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

typedef struct
{
  TincanServer            *server;
  SoupSession             *session;
  SoupWebsocketConnection *conn;
  gboolean                 connect_done;
  GError                  *connect_error;
  gboolean                 closed;
  gint64                   barrier;
  gboolean                 got_pong;
  guint                    conn_inputs;
  guint                    server_inputs;
  gboolean                 use_socket;
  TincanServerTestClient  *client;
  GPtrArray               *replies;
} Harness;

static Harness h;

static void
iterate_until (gboolean   *flag,
               const char *what)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;

  while (!*flag)
    {
      if (g_get_monotonic_time () > deadline)
        {
          fprintf (stderr, "server-frames: timed out waiting for %s\n", what);
          abort ();
        }
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Every frame the server sends must decode with the client's codec. */
static void
check_reply (const char *data,
             gsize       length)
{
  g_autoptr (TincanFrame) frame = NULL;
  g_autoptr (GError) error = NULL;

  frame = tincan_v1_decode (data != NULL ? data : "", length, &error);
  if (frame == NULL)
    {
      fprintf (stderr, "server-frames: the server sent a frame the client cannot decode: %s\n",
               error->message);
      abort ();
    }
  fuzz_check_frame (frame);

  if (frame->type == TINCAN_FRAME_PONG && frame->ping_id == h.barrier)
    h.got_pong = TRUE;
}

static void
on_message (SoupWebsocketConnection *conn,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            gpointer                 user_data)
{
  const char *data;
  gsize length = 0;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      fprintf (stderr, "server-frames: the server sent a binary message\n");
      abort ();
    }

  data = g_bytes_get_data (message, &length);
  check_reply (data, length);
}

static void
on_closed (SoupWebsocketConnection *conn,
           gpointer                 user_data)
{
  h.closed = TRUE;
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  h.conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
                                                  &h.connect_error);
  h.connect_done = TRUE;
}

static void
harness_disconnect (void)
{
  if (h.client != NULL)
    {
      _tincan_server_remove_test_client (h.server, h.client);
      h.client = NULL;
      g_ptr_array_set_size (h.replies, 0);
    }

  if (h.conn == NULL)
    return;

  if (!h.closed)
    {
      soup_websocket_connection_close (h.conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      iterate_until (&h.closed, "the close handshake");
    }

  g_signal_handlers_disconnect_by_data (h.conn, &h);
  g_clear_object (&h.conn);
}

static void
harness_stop_server (void)
{
  harness_disconnect ();
  if (h.server != NULL)
    {
      tincan_server_stop (h.server);
      g_clear_object (&h.server);
    }
  /* Let the sources the server and its connections left behind run. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
harness_start_server (void)
{
  g_autoptr (GError) error = NULL;

  h.server = tincan_server_new ();
  if (!tincan_server_listen (h.server, "127.0.0.1", 0, &error))
    {
      fprintf (stderr, "server-frames: cannot start the server: %s\n", error->message);
      abort ();
    }
  h.server_inputs = 0;
}

static void
harness_connect (void)
{
  g_autoptr (SoupMessage) msg = NULL;
  const char *protocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };

  if (!h.use_socket)
    {
      h.client = _tincan_server_add_test_client (h.server, "fuzz", h.replies);
      h.closed = FALSE;
      h.conn_inputs = 0;
      return;
    }

  msg = soup_message_new ("GET", tincan_server_get_uri (h.server));
  h.connect_done = FALSE;
  h.closed = FALSE;
  soup_session_websocket_connect_async (h.session, msg, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, NULL, connect_cb, NULL);
  iterate_until (&h.connect_done, "the WebSocket handshake");
  if (h.conn == NULL)
    {
      fprintf (stderr, "server-frames: cannot connect: %s\n", h.connect_error->message);
      abort ();
    }

  /* The server allows 1 MiB; the fuzzer stays far below. */
  soup_websocket_connection_set_max_incoming_payload_size (h.conn, 16 * 1024 * 1024);
  g_signal_connect (h.conn, "message", G_CALLBACK (on_message), &h);
  g_signal_connect (h.conn, "closed", G_CALLBACK (on_closed), &h);
  h.conn_inputs = 0;
}

static void
decode_like_the_server (gboolean  binary,
                        GBytes   *payload)
{
  g_autoptr (TincanFrame) frame = NULL;
  g_autoptr (GError) error = NULL;
  const char *data;
  gsize length = 0;

  if (binary)
    return;

  data = g_bytes_get_data (payload, &length);
  frame = tincan_v1_decode (data != NULL ? data : "", length, &error);
  if ((frame == NULL) == (error == NULL))
    {
      fprintf (stderr, "server-frames: decode gave %s frame and %s error\n",
               frame != NULL ? "a" : "no", error != NULL ? "an" : "no");
      abort ();
    }
  if (frame != NULL)
    fuzz_check_frame (frame);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GArray) binary = g_array_new (FALSE, FALSE, sizeof (gboolean));
  g_autofree char *barrier = NULL;
  const uint8_t *p = data;
  const uint8_t *end = data + size;

  if (h.replies == NULL)
    {
      fuzz_init_logging ();
      h.replies = g_ptr_array_new_with_free_func (g_free);
      h.use_socket = g_strcmp0 (g_getenv ("TINCAN_FUZZ_SOCKET"), "1") == 0;
      /* No proxy lookup: it runs in a thread per connection. */
      if (h.use_socket)
        h.session = soup_session_new_with_options ("proxy-resolver", NULL, NULL);
    }

  for (guint n = 0; n < MAX_MESSAGES && p <= end; n++)
    {
      const uint8_t *sep = memchr (p, 0xff, end - p);
      const uint8_t *stop = sep != NULL ? sep : end;
      const uint8_t *start = p;
      gboolean is_binary = FALSE;
      GBytes *payload;

      if (start < stop && *start == 0xfe)
        {
          is_binary = TRUE;
          start++;
        }
      if (!is_binary && !g_utf8_validate_len ((const char *) start, stop - start, NULL))
        is_binary = TRUE;

      payload = g_bytes_new (start, stop - start);
      decode_like_the_server (is_binary, payload);
      g_ptr_array_add (messages, payload);
      g_array_append_val (binary, is_binary);

      if (sep == NULL)
        break;
      p = sep + 1;
    }

  if (h.server != NULL && h.server_inputs >= SERVER_INPUTS)
    harness_stop_server ();
  if (h.server == NULL)
    harness_start_server ();
  if ((h.conn != NULL || h.client != NULL) && (h.closed || h.conn_inputs >= CONN_INPUTS))
    harness_disconnect ();
  if (h.conn == NULL && h.client == NULL)
    harness_connect ();
  h.server_inputs++;
  h.conn_inputs++;

  if (!h.use_socket)
    {
      for (guint i = 0; i < messages->len; i++)
        {
          gsize length = 0;
          const char *message = g_bytes_get_data (g_ptr_array_index (messages, i), &length);

          if (g_array_index (binary, gboolean, i))
            _tincan_server_client_handle_binary (h.client, (const guint8 *) message, length);
          else
            _tincan_server_client_handle_text (h.client, message, length);
        }
      /* Acks and messages wait for the batch to commit: send them now. */
      _tincan_server_flush (h.server);

      for (guint i = 0; i < h.replies->len; i++)
        {
          const char *reply = g_ptr_array_index (h.replies, i);

          if (g_str_has_prefix (reply, "#close "))
            h.closed = TRUE;
          else
            check_reply (reply, strlen (reply));
        }
      g_ptr_array_set_size (h.replies, 0);
      return 0;
    }

  for (guint i = 0; i < messages->len; i++)
    {
      soup_websocket_connection_send_message (h.conn,
                                              g_array_index (binary, gboolean, i)
                                                ? SOUP_WEBSOCKET_DATA_BINARY
                                                : SOUP_WEBSOCKET_DATA_TEXT,
                                              g_ptr_array_index (messages, i));
    }

  /* The server handles a connection's frames in order, so once the pong
   * of this ping is back it has handled everything above. */
  h.barrier = BARRIER_BASE + h.conn_inputs;
  h.got_pong = FALSE;
  barrier = g_strdup_printf ("{\"type\":\"ping\",\"id\":%" G_GINT64_FORMAT "}", h.barrier);
  soup_websocket_connection_send_text (h.conn, barrier);

  {
    gint64 deadline = g_get_monotonic_time () + DEADLINE_US;

    while (!h.got_pong && !h.closed)
      {
        if (g_get_monotonic_time () > deadline)
          {
            fprintf (stderr, "server-frames: the server did not answer a ping within %d s\n",
                     (int) (DEADLINE_US / G_USEC_PER_SEC));
            abort ();
          }
        g_main_context_iteration (NULL, TRUE);
      }
  }

  /* Let batched replies (acks after a commit) go out before the next input. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  return 0;
}
