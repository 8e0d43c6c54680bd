/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-frame-log"

#include "config.h"

#include <stdio.h>

#include "tincan-core.h"

/* How many frames per second the inspector's model takes: appends with
 * masking, publication in batches as one main-loop turn would, a consumer
 * that reads every added item (as a list view would), and a filter pass
 * over the full ring. The budget: 10 000 frames/s, so anything well above
 * that leaves the UI its time. */

#define N_FRAMES   500000
#define CAPACITY   10000
/* 10 000 frames/s at 60 frames per second of drawing. */
#define PER_TURN   170

typedef struct
{
  guint64 added;
  guint64 removed;
  guint64 bytes_seen;
} Consumer;

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Consumer   *consumer)
{
  consumer->removed += removed;
  consumer->added += added;
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (model, i);

      consumer->bytes_seen += tincan_frame_record_get_size (record);
    }
}

static GBytes *
make_payload (guint i)
{
  char *text;

  switch (i % 10)
    {
    case 0:
      text = g_strdup_printf ("{\"type\":\"hello\",\"user\":\"alice\",\"token\":\"s3cr3t-%u\",\"resume\":{\"lobby\":%u}}", i, i);
      break;
    case 1:
    case 2:
      text = g_strdup_printf ("{\"type\":\"ack\",\"cid\":\"6f1c2b1e-0000-4000-8000-%012u\",\"id\":\"m%u\",\"seq\":%u,\"ts\":\"2026-11-22T10:00:00.000Z\"}", i, i, i);
      break;
    default:
      text = g_strdup_printf ("{\"type\":\"message\",\"room\":\"lobby\",\"seq\":%u,\"id\":\"m%u\",\"cid\":\"6f1c2b1e-0000-4000-8000-%012u\",\"from\":\"bob\",\"text\":\"message number %u with some words in it\",\"ts\":\"2026-11-22T10:00:00.000Z\"}", i, i, i, i);
      break;
    }

  return g_bytes_new_take (text, strlen (text));
}

static double
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (CAPACITY);
  g_autoptr (TincanFrameFilter) filter = tincan_frame_filter_new ();
  g_autoptr (GPtrArray) payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  Consumer consumer = { 0 };
  gint64 start;
  double secs;
  guint matched;

  for (guint i = 0; i < 1000; i++)
    g_ptr_array_add (payloads, make_payload (i));

  g_signal_connect (log, "items-changed", G_CALLBACK (on_items_changed), &consumer);

  /* 1. Appends, published every PER_TURN frames. */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_FRAMES; i++)
    {
      tincan_frame_log_append (log, i % 3 == 0 ? TINCAN_FRAME_DIRECTION_OUT : TINCAN_FRAME_DIRECTION_IN,
                               i % 50 == 49 ? TINCAN_OPCODE_PING : TINCAN_OPCODE_TEXT,
                               g_ptr_array_index (payloads, i % payloads->len),
                               g_get_real_time ());
      if (i % PER_TURN == PER_TURN - 1)
        tincan_frame_log_flush (log);
    }
  tincan_frame_log_flush (log);
  secs = seconds_since (start);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, CAPACITY);
  g_assert_cmpuint (consumer.added - consumer.removed, ==, CAPACITY);

  printf ("append+publish (batches of %u, a consumer reading each new item): "
          "%u frames in %.3f s = %.0f frames/s (%.2f µs/frame)\n",
          PER_TURN, N_FRAMES, secs, N_FRAMES / secs, secs * 1e6 / N_FRAMES);

  /* 2. Appends while paused (the ring still turns over). */
  tincan_frame_log_set_paused (log, TRUE);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_FRAMES; i++)
    tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_TEXT,
                             g_ptr_array_index (payloads, i % payloads->len), g_get_real_time ());
  secs = seconds_since (start);
  printf ("append while paused: %.0f frames/s\n", N_FRAMES / secs);

  start = g_get_monotonic_time ();
  tincan_frame_log_set_paused (log, FALSE);
  printf ("resume (publishing %u records): %.3f ms\n", CAPACITY, seconds_since (start) * 1000);

  /* 3. Filter passes over the whole ring (what GtkFilterListModel does on
   * every filter change). */
  {
    struct { const char *what; const char *text; const char *regex; const char *json_type; } passes[] = {
      { "text \"words\"", "WORDS", NULL, NULL },
      { "regex seq\":[0-9]*7,", NULL, "seq\":[0-9]*7,", NULL },
      { "json-type ack (first pass parses)", NULL, NULL, "ack" },
      { "json-type ack (cached)", NULL, NULL, "ack" },
    };

    for (guint p = 0; p < G_N_ELEMENTS (passes); p++)
      {
        tincan_frame_filter_set_text (filter, passes[p].text);
        tincan_frame_filter_set_regex (filter, passes[p].regex);
        tincan_frame_filter_set_json_type (filter, passes[p].json_type);

        matched = 0;
        start = g_get_monotonic_time ();
        for (guint i = 0; i < CAPACITY; i++)
          {
            g_autoptr (TincanFrameRecord) record = g_list_model_get_item (G_LIST_MODEL (log), i);

            matched += tincan_frame_filter_match (filter, record);
          }
        printf ("filter %s over %u records: %.2f ms (%u match)\n",
                passes[p].what, CAPACITY, seconds_since (start) * 1000, matched);
      }
  }

  /* 4. Export of the full ring. */
  {
    g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
    g_autoptr (GError) error = NULL;

    start = g_get_monotonic_time ();
    tincan_frame_log_export (log, out, &error);
    g_assert_no_error (error);
    printf ("export %u records: %.2f ms (%zu bytes)\n", CAPACITY, seconds_since (start) * 1000,
            g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)));
  }

  return 0;
}
