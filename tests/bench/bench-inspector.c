/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-inspector"

#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <stdio.h>

#include "tincan-core.h"
#include "tincan-inspector-pane.h"
#include "tincan-session.h"
#include "tincan-window.h"

/* Is the window still smooth while 10 000 frames/s arrive with the
 * inspector open? A tincan.v1 server in a thread of this process (its own
 * main context, as a real server is another process) floods the room;
 * the UI thread runs the whole client (connection, store, conversation,
 * inspector) while a 10 ms timer measures how late the main loop lets it
 * run. The budget: no stall of more than 100 ms (the inspector refreshes
 * at most every 100 ms). Run under xvfb-run. */

#define RATE          10000   /* frames per second */
#define DURATION_S    5
#define TICK_MS       10
#define PER_TICK      (RATE * TICK_MS / 1000)

typedef struct
{
  GMainContext            *context;
  GMainLoop               *loop;
  SoupServer              *server;
  SoupWebsocketConnection *conn;
  guint                    port;
  gint64                   seq;
  gint64                   flood_start;
  guint64                  sent;
  gboolean                 done;
  gboolean                 pongs;     /* frames the chat layer ignores */
  GMutex                   lock;
  GCond                    ready;
} Flood;

static gboolean
flood_tick (gpointer user_data)
{
  Flood *flood = user_data;
  gint64 now = g_get_monotonic_time ();
  guint64 due;

  if (flood->conn == NULL ||
      soup_websocket_connection_get_state (flood->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return G_SOURCE_CONTINUE;

  if (flood->flood_start == 0)
    flood->flood_start = now;
  if (now - flood->flood_start >= (gint64) DURATION_S * G_USEC_PER_SEC)
    {
      g_atomic_int_set (&flood->done, TRUE);
      return G_SOURCE_REMOVE;
    }

  /* Catch up on time lost: the rate holds even if a tick is late. */
  due = (guint64) ((now - flood->flood_start) * RATE / G_USEC_PER_SEC) + PER_TICK;
  while (flood->sent < due)
    {
      g_autofree char *json = NULL;

      flood->seq++;
      if (flood->pongs)
        json = g_strdup_printf ("{\"type\":\"pong\",\"id\":%" G_GINT64_FORMAT "}", -flood->seq);
      else
        json = g_strdup_printf ("{\"type\":\"message\",\"room\":\"lobby\",\"seq\":%" G_GINT64_FORMAT
                              ",\"id\":\"m-%" G_GINT64_FORMAT "\",\"from\":\"flood\","
                              "\"text\":\"frame %" G_GINT64_FORMAT " of the flood, {\\\"json\\\": true}\","
                              "\"ts\":\"2026-11-22T10:00:00.000Z\"}",
                              flood->seq, flood->seq, flood->seq);
      soup_websocket_connection_send_text (flood->conn, json);
      flood->sent++;
    }

  return G_SOURCE_CONTINUE;
}

static void
flood_on_message (SoupWebsocketConnection *conn,
                  int                      type,
                  GBytes                  *payload,
                  Flood                   *flood)
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
      {
        GSource *source = g_timeout_source_new (TICK_MS);

        g_source_set_callback (source, flood_tick, flood, NULL);
        g_source_attach (source, flood->context);
        g_source_unref (source);
      }
    }
  else if (frame->type == TINCAN_FRAME_PING)
    {
      g_autofree char *pong = g_strdup_printf ("{\"type\":\"pong\",\"id\":%" G_GINT64_FORMAT "}",
                                               frame->ping_id);

      soup_websocket_connection_send_text (conn, pong);
    }
}

static void
flood_on_websocket (SoupServer              *server,
                    SoupServerMessage       *msg,
                    const char              *path,
                    SoupWebsocketConnection *conn,
                    gpointer                 user_data)
{
  Flood *flood = user_data;

  /* The server keeps no reference of its own. */
  g_set_object (&flood->conn, conn);
  g_signal_connect (conn, "message", G_CALLBACK (flood_on_message), flood);
}

static gpointer
flood_thread (gpointer user_data)
{
  Flood *flood = user_data;
  g_autoptr (GError) error = NULL;
  const char *protocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };
  GSList *uris;

  g_main_context_push_thread_default (flood->context);
  flood->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (flood->server, "/ws", NULL, (char **) protocols,
                                     flood_on_websocket, flood, NULL);
  if (!soup_server_listen_local (flood->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("cannot listen: %s", error->message);
  uris = soup_server_get_uris (flood->server);

  g_mutex_lock (&flood->lock);
  flood->port = g_uri_get_port (uris->data);
  g_cond_signal (&flood->ready);
  g_mutex_unlock (&flood->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (flood->loop);

  if (flood->conn != NULL &&
      soup_websocket_connection_get_state (flood->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (flood->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_clear_object (&flood->conn);
  soup_server_disconnect (flood->server);
  g_clear_object (&flood->server);
  g_main_context_pop_thread_default (flood->context);
  return NULL;
}

typedef struct
{
  gint64  frame_start;
  gint64  max_frame_us;
  gint64  phase_start;
  gint64  max_layout_us;
  gint64  max_paint_us;
  gint64  last;
  gint64  max_late_us;
  GArray *lateness;      /* gint64 µs */
} Probe;

static gboolean
stall_tick (gpointer user_data)
{
  Probe *probe = user_data;
  gint64 now = g_get_monotonic_time ();

  if (probe->last != 0)
    {
      gint64 late = MAX (0, now - probe->last - TICK_MS * 1000);

      probe->max_late_us = MAX (probe->max_late_us, late);
      g_array_append_val (probe->lateness, late);
    }
  probe->last = now;
  return G_SOURCE_CONTINUE;
}

static void
on_before_paint (GdkFrameClock *clock,
                 gpointer       user_data)
{
  Probe *probe = user_data;

  probe->frame_start = g_get_monotonic_time ();
}

static void
on_layout (GdkFrameClock *clock,
           gpointer       user_data)
{
  Probe *probe = user_data;

  probe->phase_start = g_get_monotonic_time ();
}

static void
on_paint (GdkFrameClock *clock,
          gpointer       user_data)
{
  Probe *probe = user_data;
  gint64 now = g_get_monotonic_time ();

  probe->max_layout_us = MAX (probe->max_layout_us, now - probe->phase_start);
  probe->phase_start = now;
}

static void
on_after_paint (GdkFrameClock *clock,
                gpointer       user_data)
{
  Probe *probe = user_data;
  gint64 now = g_get_monotonic_time ();

  probe->max_paint_us = MAX (probe->max_paint_us, now - probe->phase_start);
  probe->max_frame_us = MAX (probe->max_frame_us, now - probe->frame_start);
}

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

int
main (int   argc,
      char *argv[])
{
  Flood flood = { 0 };
  Probe probe = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *store_path = NULL;
  g_autofree char *url = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanSession) session = NULL;
  g_autoptr (GListStore) sessions = NULL;
  TincanWindow *window;
  TincanInspectorPane *pane;
  GThread *thread;
  guint tick;
  gint64 deadline;
  guint64 frames_in = 0;

  if (!gtk_init_check ())
    {
      g_print ("no display: run under xvfb-run\n");
      return 77;
    }
  adw_init ();

  /* BENCH_FRAMES=pong: frames that only the inspector sees, to tell its
   * cost from the conversation's. */
  flood.pongs = g_strcmp0 (g_getenv ("BENCH_FRAMES"), "pong") == 0;
  flood.context = g_main_context_new ();
  flood.loop = g_main_loop_new (flood.context, FALSE);
  g_mutex_init (&flood.lock);
  g_cond_init (&flood.ready);
  thread = g_thread_new ("flood", flood_thread, &flood);
  g_mutex_lock (&flood.lock);
  while (flood.port == 0)
    g_cond_wait (&flood.ready, &flood.lock);
  g_mutex_unlock (&flood.lock);

  dir = g_dir_make_tmp ("tincan-bench-inspector-XXXXXX", &error);
  g_assert_no_error (error);
  store_path = g_build_filename (dir, "alice.sqlite", NULL);
  store = tincan_store_new (store_path, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", flood.port);
  profile = tincan_profile_new ();
  tincan_profile_set_name (profile, "Flood");
  tincan_profile_set_url (profile, url);
  tincan_profile_set_user (profile, "alice");
  g_object_set (profile, "max-payload", 1024 * 1024, NULL);
  connection = tincan_connection_new (profile, store);
  session = tincan_session_new (connection, FALSE);
  sessions = g_list_store_new (TINCAN_TYPE_SESSION);
  if (g_getenv ("BENCH_NO_SESSION") == NULL)
    g_list_store_append (sessions, session);
  else
    g_clear_object (&session);

  window = tincan_window_new (NULL, G_LIST_MODEL (sessions), NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 700);
  if (g_getenv ("BENCH_NO_WINDOW") == NULL)
    gtk_window_present (GTK_WINDOW (window));
  if (g_getenv ("BENCH_NO_PANE") == NULL)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-inspector", NULL);
  pane = tincan_window_get_inspector (window);

  tincan_connection_connect (connection);

  probe.lateness = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (gtk_widget_get_realized (GTK_WIDGET (window)))
    {
      GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));

      g_signal_connect (clock, "before-paint", G_CALLBACK (on_before_paint), &probe);
      g_signal_connect (clock, "layout", G_CALLBACK (on_layout), &probe);
      g_signal_connect (clock, "paint", G_CALLBACK (on_paint), &probe);
      g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &probe);
    }
  tick = g_timeout_add (TICK_MS, stall_tick, &probe);

  deadline = g_get_monotonic_time () + (gint64) (DURATION_S + 10) * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&flood.done) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  /* What arrived late still has to be drawn. */
  deadline = g_get_monotonic_time () + 500 * 1000;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);

  if (pane != NULL)
    frames_in = g_list_model_get_n_items (G_LIST_MODEL (tincan_inspector_pane_get_frame_log (pane))) +
                tincan_frame_log_get_n_evicted (tincan_inspector_pane_get_frame_log (pane));
  g_array_sort (probe.lateness, compare_int64);

  printf ("flood: %" G_GUINT64_FORMAT " %s frames in %d s (%d/s), inspector %s\n",
          flood.sent, flood.pongs ? "pong" : "chat message", DURATION_S, RATE,
          pane != NULL ? "open" : "closed");
  printf ("frames logged by the inspector: %" G_GUINT64_FORMAT "\n", frames_in);
  if (probe.lateness->len > 0)
    {
      printf ("main-loop lateness over %u ticks of %d ms: p50 %.1f ms, p99 %.1f ms, max stall %.1f ms\n",
              probe.lateness->len, TICK_MS,
              g_array_index (probe.lateness, gint64, probe.lateness->len / 2) / 1000.0,
              g_array_index (probe.lateness, gint64, probe.lateness->len * 99 / 100) / 1000.0,
              probe.max_late_us / 1000.0);
      printf ("longest frame (update to after-paint): %.1f ms; longest layout %.1f ms, paint %.1f ms\n",
              probe.max_frame_us / 1000.0, probe.max_layout_us / 1000.0, probe.max_paint_us / 1000.0);
    }

  tincan_connection_disconnect (connection);
  gtk_window_destroy (GTK_WINDOW (window));
  g_main_loop_quit (flood.loop);
  g_thread_join (thread);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_main_loop_unref (flood.loop);
  g_main_context_unref (flood.context);
  g_array_unref (probe.lateness);
  g_unlink (store_path);
  {
    g_autofree char *wal = g_strconcat (store_path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (store_path, "-shm", NULL);

    g_unlink (wal);
    g_unlink (shm);
  }
  g_rmdir (dir);

  return probe.max_late_us <= 100 * 1000 ? 0 : 1;
}
