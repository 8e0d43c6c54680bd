/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-peer"

#include "config.h"

#include "tincan-core.h"

#include "bench-peer.h"

static void
on_message (SoupWebsocketConnection *conn,
            int                      type,
            GBytes                  *payload,
            BenchPeer               *peer)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (payload, &size);
  g_autoptr (TincanFrame) frame = tincan_v1_decode (data, size, NULL);

  if (frame == NULL)
    return;

  if (frame->type == TINCAN_FRAME_HELLO)
    {
      soup_websocket_connection_send_text (conn, "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"alice\",\"rooms\":[\"lobby\"]}");
      soup_websocket_connection_send_text (conn, "{\"type\":\"resumed\",\"room\":\"lobby\",\"seq\":0,\"gap\":false}");
      if (peer->hello != NULL)
        peer->hello (peer, peer->hello_data);
    }
  else if (frame->type == TINCAN_FRAME_PING)
    {
      g_autofree char *pong = g_strdup_printf ("{\"type\":\"pong\",\"id\":%" G_GINT64_FORMAT "}",
                                               frame->ping_id);

      soup_websocket_connection_send_text (conn, pong);
    }
}

static void
on_websocket (SoupServer              *server,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *conn,
              gpointer                 user_data)
{
  BenchPeer *peer = user_data;

  if (peer->conn != NULL)
    return;
  g_set_object (&peer->conn, conn);
  g_signal_connect (conn, "message", G_CALLBACK (on_message), peer);
}

static gpointer
peer_thread (gpointer user_data)
{
  BenchPeer *peer = user_data;
  g_autoptr (GError) error = NULL;
  const char *protocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };
  GSList *uris;

  g_main_context_push_thread_default (peer->context);
  peer->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (peer->server, "/ws", NULL, (char **) protocols,
                                     on_websocket, peer, NULL);
  if (!soup_server_listen_local (peer->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("cannot listen: %s", error->message);
  uris = soup_server_get_uris (peer->server);

  g_mutex_lock (&peer->lock);
  peer->port = g_uri_get_port (uris->data);
  g_cond_signal (&peer->ready);
  g_mutex_unlock (&peer->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (peer->loop);

  if (peer->conn != NULL &&
      soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (peer->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_clear_object (&peer->conn);
  soup_server_disconnect (peer->server);
  g_clear_object (&peer->server);
  g_main_context_pop_thread_default (peer->context);
  return NULL;
}

static gboolean
flood_tick (gpointer user_data)
{
  BenchPeer *peer = user_data;
  gint64 now = g_get_monotonic_time ();
  guint64 due;

  if (peer->conn == NULL ||
      soup_websocket_connection_get_state (peer->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return G_SOURCE_CONTINUE;

  if (peer->flood_start == 0)
    peer->flood_start = now;
  if (now - peer->flood_start >= (gint64) peer->seconds * G_USEC_PER_SEC)
    {
      g_atomic_int_set (&peer->flood_done, TRUE);
      return G_SOURCE_REMOVE;
    }

  /* Catch up on time lost: the rate holds even if a tick is late. */
  due = (guint64) ((now - peer->flood_start) * peer->rate / G_USEC_PER_SEC) +
        peer->rate * peer->tick_ms / 1000;
  due = MIN (due, (guint64) peer->rate * peer->seconds);
  while (peer->sent < due)
    {
      g_autofree char *json = peer->frame (++peer->seq, peer->frame_data);

      soup_websocket_connection_send_text (peer->conn, json);
      g_atomic_pointer_set (&peer->sent, peer->sent + 1);
    }

  return G_SOURCE_CONTINUE;
}

void
bench_peer_flood (BenchPeer          *peer,
                  guint               rate,
                  guint               seconds,
                  guint               tick_ms,
                  BenchPeerFrameFunc  frame,
                  gpointer            data)
{
  GSource *source = g_timeout_source_new (tick_ms);

  peer->rate = rate;
  peer->seconds = seconds;
  peer->tick_ms = tick_ms;
  peer->frame = frame;
  peer->frame_data = data;
  g_source_set_callback (source, flood_tick, peer, NULL);
  g_source_attach (source, peer->context);
  g_source_unref (source);
}

BenchPeer *
bench_peer_start (BenchPeerHello hello,
                  gpointer       data)
{
  BenchPeer *peer = g_new0 (BenchPeer, 1);

  peer->hello = hello;
  peer->hello_data = data;
  peer->context = g_main_context_new ();
  peer->loop = g_main_loop_new (peer->context, FALSE);
  g_mutex_init (&peer->lock);
  g_cond_init (&peer->ready);
  peer->thread = g_thread_new ("bench-peer", peer_thread, peer);

  g_mutex_lock (&peer->lock);
  while (peer->port == 0)
    g_cond_wait (&peer->ready, &peer->lock);
  g_mutex_unlock (&peer->lock);

  return peer;
}

void
bench_peer_stop (BenchPeer *peer)
{
  g_main_loop_quit (peer->loop);
  g_thread_join (peer->thread);
  g_main_loop_unref (peer->loop);
  g_main_context_unref (peer->context);
  g_mutex_clear (&peer->lock);
  g_cond_clear (&peer->ready);
  g_free (peer);
}
