/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-delivery-stats"

#include "config.h"

#include <glib/gstdio.h>
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

#define WAIT_FOR(cond, data, timeout_ms, what)                                  \
  G_STMT_START {                                                                \
    if (!wait_for (cond, data, timeout_ms))                                     \
      g_error ("timed out after %u ms waiting for %s", (guint) (timeout_ms), what); \
  } G_STMT_END

static void
drain_main_loop (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static TincanMessage *
outgoing (const char *cid,
          gint64      age_ms)
{
  TincanMessage *message = tincan_message_new_outgoing ("lobby", "alice", "hi");

  tincan_message_set_cid (message, cid);
  tincan_message_set_local_timestamp (message, tincan_now_ms () - age_ms);
  return message;
}

static void
set_and_add (TincanDeliveryStats *stats,
             TincanMessage       *message,
             TincanMessageState   state)
{
  tincan_message_set_state (message, state);
  tincan_delivery_stats_add_message (stats, message);
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           guint      *count)
{
  (*count)++;
}

static void
test_counters (void)
{
  g_autoptr (TincanDeliveryStats) stats = tincan_delivery_stats_new ();
  g_autoptr (TincanMessage) a = outgoing ("cid-a", 100);
  g_autoptr (TincanMessage) b = outgoing ("cid-b", 300);
  g_autoptr (TincanMessage) c = outgoing ("cid-c", 0);
  guint p50_notifies = 0;

  g_signal_connect (stats, "notify::ack-latency-p50", G_CALLBACK (on_notify), &p50_notifies);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p50 (stats), ==, -1);
  g_assert_cmpint (tincan_delivery_stats_get_rtt (stats), ==, -1);

  /* queued → sending → delivered, each counted once even if repeated. */
  set_and_add (stats, a, TINCAN_MESSAGE_STATE_SENDING);
  set_and_add (stats, a, TINCAN_MESSAGE_STATE_SENDING);
  set_and_add (stats, b, TINCAN_MESSAGE_STATE_SENDING);
  set_and_add (stats, c, TINCAN_MESSAGE_STATE_SENDING);
  g_assert_cmpuint (tincan_delivery_stats_get_sent (stats), ==, 3);

  set_and_add (stats, a, TINCAN_MESSAGE_STATE_DELIVERED);
  set_and_add (stats, b, TINCAN_MESSAGE_STATE_DELIVERED);
  g_assert_cmpuint (tincan_delivery_stats_get_delivered (stats), ==, 2);

  /* Updated again once delivered (its echo): still one delivery. */
  tincan_message_set_room (a, "elsewhere");
  tincan_message_set_seq (a, 3);
  tincan_delivery_stats_add_message (stats, a);
  g_assert_cmpuint (tincan_delivery_stats_get_delivered (stats), ==, 2);
  g_assert_cmpuint (tincan_delivery_stats_get_duplicates (stats), ==, 0);
  tincan_delivery_stats_add_duplicate (stats);
  g_assert_cmpuint (tincan_delivery_stats_get_duplicates (stats), ==, 1);

  /* Failed, retried (back to queued), failed again: two failures. */
  set_and_add (stats, c, TINCAN_MESSAGE_STATE_FAILED);
  set_and_add (stats, c, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_cmpuint (tincan_delivery_stats_get_failed (stats), ==, 1);
  set_and_add (stats, c, TINCAN_MESSAGE_STATE_QUEUED);
  set_and_add (stats, c, TINCAN_MESSAGE_STATE_SENDING);
  set_and_add (stats, c, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_cmpuint (tincan_delivery_stats_get_failed (stats), ==, 2);
  g_assert_cmpuint (tincan_delivery_stats_get_sent (stats), ==, 3);

  /* Latencies 100 and 300 ms (nearest rank: p50 = 100, p95 = 300). */
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p50 (stats), >=, 100);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p50 (stats), <, 200);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p95 (stats), >=, 300);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p95 (stats), <, 400);
  drain_main_loop ();
  g_assert_cmpuint (p50_notifies, ==, 1);

  /* Incoming seqs 1, 2, 5: a gap; 2 again: a duplicate. Our own message
   * with seq 6 is part of the sequence, so 7 is no gap. */
  for (guint i = 0; i < 5; i++)
    {
      const gint64 seqs[] = { 1, 2, 5, 2, 7 };
      g_autoptr (TincanMessage) in = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);

      tincan_message_set_room (in, "lobby");
      tincan_message_set_seq (in, seqs[i]);
      if (seqs[i] == 7)
        {
          tincan_message_set_seq (b, 6);
          tincan_delivery_stats_add_message (stats, b);
        }
      tincan_delivery_stats_add_message (stats, in);
    }
  g_assert_cmpuint (tincan_delivery_stats_get_gaps (stats), ==, 1);
  g_assert_cmpuint (tincan_delivery_stats_get_duplicates (stats), ==, 2);

  tincan_delivery_stats_reset (stats);
  g_assert_cmpuint (tincan_delivery_stats_get_sent (stats), ==, 0);
  g_assert_cmpuint (tincan_delivery_stats_get_gaps (stats), ==, 0);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p95 (stats), ==, -1);
}

typedef struct
{
  TincanDeliveryStats *stats;
  guint64              delivered;
} DeliveredWait;

static gboolean
delivered_at_least (gpointer data)
{
  DeliveredWait *w = data;

  return tincan_delivery_stats_get_delivered (w->stats) >= w->delivered;
}

static void
test_live (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanServer) server = tincan_server_new ();
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanDeliveryStats) stats = tincan_delivery_stats_new ();
  g_autofree char *tmpdir = g_dir_make_tmp ("tincan-test-stats-XXXXXX", &error);
  g_autofree char *path = g_build_filename (tmpdir, "store.db", NULL);
  DeliveredWait five = { stats, 5 };

  g_assert_no_error (error);
  g_assert_true (tincan_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  tincan_profile_set_url (profile, tincan_server_get_uri (server));
  tincan_profile_set_user (profile, "alice");
  connection = tincan_connection_new (profile, store);
  tincan_delivery_stats_attach (stats, connection);

  /* Sent while still connecting: queued first, delivered later. */
  tincan_connection_connect (connection);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autoptr (TincanMessage) message = tincan_connection_send (connection, "lobby", text, &error);

      g_assert_no_error (error);
      g_assert_nonnull (message);
    }

  WAIT_FOR (delivered_at_least, &five, 10000, "five deliveries");
  g_assert_cmpuint (tincan_delivery_stats_get_sent (stats), ==, 5);
  g_assert_cmpuint (tincan_delivery_stats_get_delivered (stats), ==, 5);
  g_assert_cmpuint (tincan_delivery_stats_get_failed (stats), ==, 0);
  g_assert_cmpuint (tincan_delivery_stats_get_duplicates (stats), ==, 0);
  g_assert_cmpuint (tincan_delivery_stats_get_gaps (stats), ==, 0);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p50 (stats), >=, 0);
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p95 (stats), >=,
                   tincan_delivery_stats_get_ack_latency_p50 (stats));
  g_assert_cmpint (tincan_delivery_stats_get_ack_latency_p95 (stats), <, 10000);
  g_assert_cmpint (tincan_delivery_stats_get_rtt (stats), ==, tincan_connection_get_latency (connection));

  tincan_connection_disconnect (connection);
  tincan_delivery_stats_attach (stats, NULL);
  tincan_server_stop (server);
  g_clear_object (&connection);
  g_clear_object (&store);
  {
    g_autoptr (GDir) dir = g_dir_open (tmpdir, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (tmpdir, name, NULL);

        g_unlink (child);
      }
    g_rmdir (tmpdir);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/delivery-stats/counters", test_counters);
  g_test_add_func ("/delivery-stats/live", test_live);

  return g_test_run ();
}
