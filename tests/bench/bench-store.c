/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-store"

#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>

#include "tincan-core.h"
#include "bench-common.h"

/* The send path's write: tincan_store_save() of a new outgoing message,
 * then tincan_store_flush() (what must finish before the frame goes out),
 * then the batch commit that follows in the idle. One message at a time,
 * as the latency benchmark sends, into a store that has a history. */

#define N_MESSAGES 2000
/* A history to write into: random cids spread the index pages. */
#define N_HISTORY  20000

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bench-store-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (GArray) flush_us = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) idle_us = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) ack_us = g_array_new (FALSE, FALSE, sizeof (double));

  g_assert_no_error (error);
  path = g_build_filename (dir, "history.db", NULL);
  store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < N_HISTORY; i++)
    {
      g_autoptr (TincanMessage) message = tincan_message_new_outgoing ("lobby", "alice", "history");

      tincan_message_set_seq (message, i + 1);
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
      tincan_store_save (store, message);
    }
  g_assert_cmpuint (tincan_store_count_messages (store, "lobby"), ==, N_HISTORY);

  for (guint i = 0; i < N_MESSAGES; i++)
    {
      g_autoptr (TincanMessage) message = tincan_message_new_outgoing ("lobby", "alice", "bench message");
      gint64 t0, t1, t2, t3;
      double us;

      t0 = g_get_monotonic_time ();
      tincan_store_save (store, message);
      if (!tincan_store_flush (store, &error))
        g_error ("flush: %s", error->message);
      t1 = g_get_monotonic_time ();
      while (g_main_context_iteration (NULL, FALSE))
        ;
      t2 = g_get_monotonic_time ();

      /* The ack: seq, id, ts and the state, committed in the idle. */
      tincan_message_set_seq (message, N_HISTORY + i + 1);
      tincan_message_set_timestamp (message, 1795341600000 + i);
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
      tincan_store_save (store, message);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      t3 = g_get_monotonic_time ();

      us = t1 - t0;
      g_array_append_val (flush_us, us);
      us = t2 - t1;
      g_array_append_val (idle_us, us);
      us = t3 - t2;
      g_array_append_val (ack_us, us);
    }

  printf ("store with %u messages, %u more outgoing one at a time (µs)\n", N_HISTORY, N_MESSAGES);
  printf ("%-32s %8s %8s %8s\n", "", "p50", "p90", "p99");
  printf ("%-32s %8.1f %8.1f %8.1f\n", "save + flush (before sending)",
          bench_percentile (flush_us, 0.5), bench_percentile (flush_us, 0.9), bench_percentile (flush_us, 0.99));
  printf ("%-32s %8.1f %8.1f %8.1f\n", "idle after the flush",
          bench_percentile (idle_us, 0.5), bench_percentile (idle_us, 0.9), bench_percentile (idle_us, 0.99));
  printf ("%-32s %8.1f %8.1f %8.1f\n", "ack save + idle commit",
          bench_percentile (ack_us, 0.5), bench_percentile (ack_us, 0.9), bench_percentile (ack_us, 0.99));

  g_assert_cmpuint (tincan_store_count_messages (store, "lobby"), ==, N_HISTORY + N_MESSAGES);
  g_clear_object (&store);

  for (guint i = 0; i < 3; i++)
    {
      static const char * const suffixes[] = { "", "-wal", "-shm" };
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);

      g_remove (file);
    }
  g_rmdir (dir);

  return 0;
}
