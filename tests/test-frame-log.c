/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-frame-log"

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

/* Runs every pending main-loop source once, without blocking: what
 * "the end of this main-loop turn" means for the log's idle. */
static void
drain_main_loop (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static GBytes *
text_bytes (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
append_text (TincanFrameLog       *log,
             TincanFrameDirection  direction,
             const char           *text,
             gint64                t)
{
  g_autoptr (GBytes) bytes = text_bytes (text);

  tincan_frame_log_append (log, direction, TINCAN_OPCODE_TEXT, bytes, t);
}

static void
append_numbered (TincanFrameLog *log,
                 guint           from,
                 guint           count)
{
  for (guint i = from; i < from + count; i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"type\":\"message\",\"seq\":%u}", i);

      append_text (log, TINCAN_FRAME_DIRECTION_IN, text, 1000 + i);
    }
}

/* The seq in the payload of item @i of @model. */
static guint
item_seq (GListModel *model,
          guint       i)
{
  g_autoptr (TincanFrameRecord) record = g_list_model_get_item (model, i);
  const char *text;

  g_assert_nonnull (record);
  text = tincan_frame_record_get_text (record);
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "\"seq\":"));
  return (guint) g_ascii_strtoull (strstr (text, "\"seq\":") + 6, NULL, 10);
}

/* A GListStore that follows the log only through items-changed, as a
 * GtkListView would, and the list of every signal seen. */
typedef struct
{
  GListStore *mirror;
  GArray     *signals;   /* guint triples: position, removed, added */
} Mirror;

static void
mirror_items_changed (GListModel *model,
                      guint       position,
                      guint       removed,
                      guint       added,
                      Mirror     *mirror)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  guint triple[3] = { position, removed, added };

  g_assert_cmpuint (position + removed, <=, g_list_model_get_n_items (G_LIST_MODEL (mirror->mirror)));
  g_assert_cmpuint (position + added, <=, g_list_model_get_n_items (model));

  for (guint i = position; i < position + added; i++)
    g_ptr_array_add (items, g_list_model_get_item (model, i));
  g_list_store_splice (mirror->mirror, position, removed, items->pdata, items->len);
  g_array_append_vals (mirror->signals, triple, 3);

  /* At every signal the model must already be in the announced state. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (mirror->mirror)), ==,
                    g_list_model_get_n_items (model));
}

static void
mirror_init (Mirror         *mirror,
             TincanFrameLog *log)
{
  mirror->mirror = g_list_store_new (TINCAN_TYPE_FRAME_RECORD);
  mirror->signals = g_array_new (FALSE, FALSE, sizeof (guint));
  g_signal_connect (log, "items-changed", G_CALLBACK (mirror_items_changed), mirror);
}

static void
mirror_clear (Mirror *mirror)
{
  g_clear_object (&mirror->mirror);
  g_clear_pointer (&mirror->signals, g_array_unref);
}

/* The mirror holds the same objects as the log, in the same order. */
static void
assert_mirror (Mirror         *mirror,
               TincanFrameLog *log)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (log));

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (mirror->mirror)), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GObject) a = g_list_model_get_item (G_LIST_MODEL (log), i);
      g_autoptr (GObject) b = g_list_model_get_item (G_LIST_MODEL (mirror->mirror), i);

      g_assert_true (a == b);
    }
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (log), n));
}

static void
assert_signals (Mirror      *mirror,
                const guint *expected,
                guint        n_expected)
{
  if (mirror->signals->len != n_expected * 3 ||
      memcmp (mirror->signals->data, expected, n_expected * 3 * sizeof (guint)) != 0)
    {
      GString *got = g_string_new (NULL);

      for (guint i = 0; i < mirror->signals->len; i += 3)
        g_string_append_printf (got, "(%u,%u,%u) ",
                                g_array_index (mirror->signals, guint, i),
                                g_array_index (mirror->signals, guint, i + 1),
                                g_array_index (mirror->signals, guint, i + 2));
      g_error ("unexpected items-changed: %s", got->str);
    }

  g_array_set_size (mirror->signals, 0);
}

/* Ring buffer */

static void
test_ring_bounds (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (5);
  Mirror mirror;

  mirror_init (&mirror, log);
  g_assert_cmpuint (tincan_frame_log_get_capacity (log), ==, 5);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (log)) == TINCAN_TYPE_FRAME_RECORD);

  /* Three appends in one turn: nothing until the turn ends, then one
   * signal for all three. */
  append_numbered (log, 0, 3);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 0);
  g_assert_cmpuint (mirror.signals->len, ==, 0);
  drain_main_loop ();
  {
    const guint expected[] = { 0, 0, 3 };
    assert_signals (&mirror, expected, 1);
  }
  assert_mirror (&mirror, log);

  /* Four more: two fall off the front, four are added at the end. */
  append_numbered (log, 3, 4);
  drain_main_loop ();
  {
    const guint expected[] = { 0, 2, 0, 1, 0, 4 };
    assert_signals (&mirror, expected, 2);
  }
  assert_mirror (&mirror, log);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (item_seq (G_LIST_MODEL (log), i), ==, 2 + i);

  /* More than the capacity in one turn: the whole window turns over, and
   * only the newest five are kept. */
  append_numbered (log, 7, 12);
  drain_main_loop ();
  {
    const guint expected[] = { 0, 5, 0, 0, 0, 5 };
    assert_signals (&mirror, expected, 2);
  }
  assert_mirror (&mirror, log);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (item_seq (G_LIST_MODEL (log), i), ==, 14 + i);
  g_assert_cmpuint (tincan_frame_log_get_n_evicted (log), ==, 14);

  /* One at a time, many turns: always bounded, always in order. */
  for (guint i = 19; i < 40; i++)
    {
      append_numbered (log, i, 1);
      drain_main_loop ();
      {
        const guint expected[] = { 0, 1, 0, 4, 0, 1 };
        assert_signals (&mirror, expected, 2);
      }
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 5);
      g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 4), ==, i);
    }
  assert_mirror (&mirror, log);

  /* Shrinking the capacity drops the oldest at once. */
  tincan_frame_log_set_capacity (log, 2);
  {
    const guint expected[] = { 0, 3, 0 };
    assert_signals (&mirror, expected, 1);
  }
  assert_mirror (&mirror, log);
  g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 0), ==, 38);
  g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 1), ==, 39);

  /* Growing it keeps everything and makes room. */
  tincan_frame_log_set_capacity (log, 4);
  append_numbered (log, 40, 2);
  drain_main_loop ();
  {
    const guint expected[] = { 2, 0, 2 };
    assert_signals (&mirror, expected, 1);
  }
  assert_mirror (&mirror, log);

  g_signal_handlers_disconnect_by_data (log, &mirror);
  mirror_clear (&mirror);
}

static void
test_ring_default_capacity (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (0);
  Mirror mirror;

  mirror_init (&mirror, log);
  g_assert_cmpuint (tincan_frame_log_get_capacity (log), ==, TINCAN_FRAME_LOG_DEFAULT_CAPACITY);
  g_assert_cmpuint (TINCAN_FRAME_LOG_DEFAULT_CAPACITY, ==, 10000);

  append_numbered (log, 0, 10000 + 2500);
  drain_main_loop ();
  {
    const guint expected[] = { 0, 0, 10000 };
    assert_signals (&mirror, expected, 1);
  }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 10000);
  g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 0), ==, 2500);
  g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 9999), ==, 12499);

  append_numbered (log, 12500, 100);
  drain_main_loop ();
  {
    const guint expected[] = { 0, 100, 0, 9900, 0, 100 };
    assert_signals (&mirror, expected, 2);
  }
  assert_mirror (&mirror, log);
  g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 0), ==, 2600);

  g_signal_handlers_disconnect_by_data (log, &mirror);
  mirror_clear (&mirror);
}

static void
test_ring_byte_capacity (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (100);
  g_autofree char *big = g_strnfill (10000, 'x');

  /* Room for about three of these. */
  tincan_frame_log_set_byte_capacity (log, 35000);
  for (guint i = 0; i < 10; i++)
    append_text (log, TINCAN_FRAME_DIRECTION_IN, big, i);
  drain_main_loop ();

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 3);
  g_assert_cmpuint (tincan_frame_log_get_n_evicted (log), ==, 7);
}

static gboolean has_items (gpointer data);

/* Frames arriving so fast that a default-priority source is always ready
 * (a busy socket): idles never run, the log must publish anyway. */
typedef struct
{
  TincanFrameLog *log;
  guint           appended;
} Busy;

static gboolean
busy_cb (gpointer data)
{
  Busy *busy = data;

  append_numbered (busy->log, busy->appended++, 1);
  return G_SOURCE_CONTINUE;
}

static void
test_ring_busy_main_loop (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (100);
  Busy busy = { log, 0 };
  guint source = g_idle_add_full (G_PRIORITY_DEFAULT, busy_cb, &busy, NULL);
  gint64 start = g_get_monotonic_time ();

  g_assert_true (wait_for (has_items, log, 5000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (busy.appended, >, 1);
  g_source_remove (source);
}

static void
test_pause_resume (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (5);
  Mirror mirror;

  mirror_init (&mirror, log);
  append_numbered (log, 0, 2);
  drain_main_loop ();
  g_array_set_size (mirror.signals, 0);

  tincan_frame_log_set_paused (log, TRUE);
  g_assert_true (tincan_frame_log_get_paused (log));

  /* Recorded but not shown, over several turns. */
  for (guint i = 2; i < 5; i++)
    {
      append_numbered (log, i, 1);
      drain_main_loop ();
    }
  g_assert_cmpuint (mirror.signals->len, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 2);
  g_assert_cmpuint (tincan_frame_log_get_n_pending (log), ==, 3);
  /* flush() does not get around a pause. */
  tincan_frame_log_flush (log);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 2);

  /* Resuming publishes all of them in one signal. */
  tincan_frame_log_set_paused (log, FALSE);
  {
    const guint expected[] = { 2, 0, 3 };
    assert_signals (&mirror, expected, 1);
  }
  assert_mirror (&mirror, log);
  g_assert_cmpuint (tincan_frame_log_get_n_pending (log), ==, 0);

  /* Paused while far more than the capacity arrives: the newest five are
   * what shows after resuming. */
  tincan_frame_log_set_paused (log, TRUE);
  append_numbered (log, 5, 50);
  drain_main_loop ();
  g_assert_cmpuint (mirror.signals->len, ==, 0);
  g_assert_cmpuint (tincan_frame_log_get_n_pending (log), ==, 5);
  tincan_frame_log_set_paused (log, FALSE);
  {
    const guint expected[] = { 0, 5, 0, 0, 0, 5 };
    assert_signals (&mirror, expected, 2);
  }
  assert_mirror (&mirror, log);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (item_seq (G_LIST_MODEL (log), i), ==, 50 + i);

  g_signal_handlers_disconnect_by_data (log, &mirror);
  mirror_clear (&mirror);
}

static gboolean
has_items (gpointer data)
{
  return g_list_model_get_n_items (G_LIST_MODEL (data)) > 0;
}

static void
test_clear (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (10);
  Mirror mirror;

  mirror_init (&mirror, log);
  append_numbered (log, 0, 4);
  g_assert_true (wait_for (has_items, log, 5000));
  g_array_set_size (mirror.signals, 0);

  /* Pending records go too. */
  append_numbered (log, 4, 3);
  tincan_frame_log_clear (log);
  {
    const guint expected[] = { 0, 4, 0 };
    assert_signals (&mirror, expected, 1);
  }
  drain_main_loop ();
  g_assert_cmpuint (mirror.signals->len, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 0);
  g_assert_cmpuint (tincan_frame_log_get_n_pending (log), ==, 0);

  append_numbered (log, 7, 1);
  drain_main_loop ();
  assert_mirror (&mirror, log);
  g_assert_cmpuint (item_seq (G_LIST_MODEL (log), 0), ==, 7);

  g_signal_handlers_disconnect_by_data (log, &mirror);
  mirror_clear (&mirror);
}

/* Records */

static TincanFrameRecord *
record_new (TincanFrameDirection direction,
            TincanOpcode         opcode,
            const void          *data,
            gsize                len)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, len);

  return tincan_frame_record_new (TINCAN_FRAME_RECORD_KIND_FRAME, direction, opcode,
                                  bytes, G_MAXSIZE, 1763805600123456, NULL);
}

static TincanFrameRecord *
text_record (TincanFrameDirection direction,
             const char          *text)
{
  return record_new (direction, TINCAN_OPCODE_TEXT, text, strlen (text));
}

static void
test_record_fields (void)
{
  g_autoptr (TincanFrameRecord) text = text_record (TINCAN_FRAME_DIRECTION_IN, "{\"type\":\"welcome\",\"user\":\"alice\"}");
  g_autoptr (TincanFrameRecord) close = record_new (TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_CLOSE, "\x03\xe8" "bye", 5);
  g_autoptr (TincanFrameRecord) binary = record_new (TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_BINARY, "\x00\x01\xff" "AB", 5);
  g_autofree char *hex = NULL;
  g_autofree char *copy = NULL;

  g_assert_cmpint (tincan_frame_record_get_kind (text), ==, TINCAN_FRAME_RECORD_KIND_FRAME);
  g_assert_cmpint (tincan_frame_record_get_direction (text), ==, TINCAN_FRAME_DIRECTION_IN);
  g_assert_cmpint (tincan_frame_record_get_opcode (text), ==, TINCAN_OPCODE_TEXT);
  g_assert_cmpstr (tincan_frame_record_get_opcode_name (text), ==, "text");
  g_assert_cmpint (tincan_frame_record_get_time (text), ==, 1763805600123456);
  g_assert_cmpuint (tincan_frame_record_get_size (text), ==, 33);
  g_assert_cmpstr (tincan_frame_record_get_json_type (text), ==, "welcome");
  g_assert_false (tincan_frame_record_get_masked (text));

  g_assert_cmpuint (tincan_frame_record_get_close_code (close), ==, 1000);
  g_assert_cmpstr (tincan_frame_record_get_close_reason (close), ==, "bye");
  g_assert_cmpstr (tincan_frame_record_get_opcode_name (close), ==, "close");
  copy = tincan_frame_record_dup_copy_text (close);
  g_assert_cmpstr (copy, ==, "1000 bye");
  g_clear_pointer (&copy, g_free);

  g_assert_null (tincan_frame_record_get_text (binary));
  g_assert_null (tincan_frame_record_get_json_type (binary));
  hex = tincan_frame_record_dup_hex_dump (binary);
  g_assert_cmpstr (hex, ==, "00000000  00 01 ff 41 42                                    |...AB|\n");
  copy = tincan_frame_record_dup_copy_text (binary);
  g_assert_cmpstr (copy, ==, hex);
}

/* Filters */

typedef struct
{
  TincanFrameFilterChange last;
  guint                   count;
} ChangeLog;

static void
on_filter_changed (TincanFrameFilter      *filter,
                   TincanFrameFilterChange change,
                   ChangeLog              *log)
{
  log->last = change;
  log->count++;
}

static void
on_notify_count (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

/* Which of @records pass, as a string of 0 and 1. */
static char *
matches (TincanFrameFilter *filter,
         GPtrArray         *records)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < records->len; i++)
    g_string_append_c (out, tincan_frame_filter_match (filter, g_ptr_array_index (records, i)) ? '1' : '0');

  return g_string_free (out, FALSE);
}

#define ASSERT_MATCHES(filter, records, expected)           \
  G_STMT_START {                                            \
    g_autofree char *got_ = matches (filter, records);      \
    g_assert_cmpstr (got_, ==, expected);                   \
  } G_STMT_END

static void
test_filter (void)
{
  g_autoptr (TincanFrameFilter) filter = tincan_frame_filter_new ();
  g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GBytes) handshake = text_bytes ("GET ws://127.0.0.1/ws HTTP/1.1\nHost: 127.0.0.1");
  ChangeLog changes = { 0 };
  guint regex_error_notifies = 0;

  /* 0 */ g_ptr_array_add (records, text_record (TINCAN_FRAME_DIRECTION_IN,
                                                 "{\"type\":\"message\",\"room\":\"lobby\",\"seq\":42,\"text\":\"Hello Wörld\"}"));
  /* 1 */ g_ptr_array_add (records, text_record (TINCAN_FRAME_DIRECTION_OUT,
                                                 "{\"type\":\"send\",\"room\":\"lobby\",\"text\":\"hello again\"}"));
  /* 2 */ g_ptr_array_add (records, record_new (TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_PING, "p1", 2));
  /* 3 */ g_ptr_array_add (records, record_new (TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_PONG, "p1", 2));
  /* 4 */ g_ptr_array_add (records, record_new (TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_BINARY, "hello\xff", 6));
  /* 5 */ g_ptr_array_add (records, record_new (TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_CLOSE, "\x0f\xa1" "Hello unauthorized", 20));
  /* 6 */ g_ptr_array_add (records, tincan_frame_record_new (TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST,
                                                           TINCAN_FRAME_DIRECTION_OUT, 0, handshake,
                                                           G_MAXSIZE, 1, NULL));
  /* 7 */ g_ptr_array_add (records, text_record (TINCAN_FRAME_DIRECTION_IN,
                                                 "42[\"chat message\",{\"text\":\"hi\"}]"));
  /* 8 */ g_ptr_array_add (records, text_record (TINCAN_FRAME_DIRECTION_IN, "not json at all"));

  g_signal_connect (filter, "changed", G_CALLBACK (on_filter_changed), &changes);
  g_signal_connect (filter, "notify::regex-error", G_CALLBACK (on_notify_count), &regex_error_notifies);

  g_assert_true (tincan_frame_filter_is_empty (filter));
  ASSERT_MATCHES (filter, records, "111111111");

  /* Direction */
  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_OUT);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT);
  ASSERT_MATCHES (filter, records, "011000100");
  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_IN);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_DIFFERENT);
  ASSERT_MATCHES (filter, records, "100111011");
  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_ANY);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT);

  /* Opcodes */
  tincan_frame_filter_set_opcodes (filter, TINCAN_FRAME_OPCODE_MASK_CLOSE | TINCAN_FRAME_OPCODE_MASK_HANDSHAKE);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT);
  ASSERT_MATCHES (filter, records, "000001100");
  tincan_frame_filter_set_opcodes (filter, TINCAN_FRAME_OPCODE_MASK_ALL);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT);

  /* Hide ping/pong */
  tincan_frame_filter_set_hide_control (filter, TRUE);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT);
  ASSERT_MATCHES (filter, records, "110011111");
  tincan_frame_filter_set_hide_control (filter, FALSE);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT);

  /* Text: case-insensitive, in text payloads, close reasons and
   * handshakes; never in binary payloads. */
  tincan_frame_filter_set_text (filter, "HELLO");
  ASSERT_MATCHES (filter, records, "110001000");
  tincan_frame_filter_set_text (filter, "HELLO W");
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT);
  ASSERT_MATCHES (filter, records, "100000000");
  tincan_frame_filter_set_text (filter, "wÖrld");
  ASSERT_MATCHES (filter, records, "100000000");
  tincan_frame_filter_set_text (filter, "host:");
  ASSERT_MATCHES (filter, records, "000000100");
  tincan_frame_filter_set_text (filter, "");
  g_assert_null (tincan_frame_filter_get_text (filter));
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT);
  ASSERT_MATCHES (filter, records, "111111111");

  /* Regex */
  tincan_frame_filter_set_regex (filter, "\"seq\":4[0-9]\\b");
  g_assert_null (tincan_frame_filter_get_regex_error (filter));
  ASSERT_MATCHES (filter, records, "100000000");
  tincan_frame_filter_set_regex (filter, "^\\{\"type\":\"(send|message)\"");
  ASSERT_MATCHES (filter, records, "110000000");
  tincan_frame_filter_set_regex (filter, "(?i)^hello");
  ASSERT_MATCHES (filter, records, "000001000");

  /* An invalid regex: the error is exposed, and nothing matches. */
  changes.count = 0;
  tincan_frame_filter_set_regex (filter, "(unclosed");
  g_assert_cmpuint (changes.count, ==, 1);
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT);
  g_assert_cmpuint (regex_error_notifies, ==, 1);
  g_assert_error (tincan_frame_filter_get_regex_error (filter), G_REGEX_ERROR, G_REGEX_ERROR_UNMATCHED_PARENTHESIS);
  {
    GError *error = NULL;

    g_object_get (filter, "regex-error", &error, NULL);
    g_assert_nonnull (error);
    g_error_free (error);
  }
  ASSERT_MATCHES (filter, records, "000000000");

  /* Fixing it clears the error. */
  tincan_frame_filter_set_regex (filter, "(closed)?again");
  g_assert_cmpuint (regex_error_notifies, ==, 2);
  g_assert_null (tincan_frame_filter_get_regex_error (filter));
  g_assert_cmpint (changes.last, ==, TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT);
  ASSERT_MATCHES (filter, records, "010000000");
  tincan_frame_filter_set_regex (filter, NULL);
  ASSERT_MATCHES (filter, records, "111111111");

  /* JSON type / event */
  tincan_frame_filter_set_json_type (filter, "message");
  ASSERT_MATCHES (filter, records, "100000000");
  tincan_frame_filter_set_json_type (filter, "chat message");
  ASSERT_MATCHES (filter, records, "000000010");
  tincan_frame_filter_set_json_type (filter, "send");
  ASSERT_MATCHES (filter, records, "010000000");

  /* Criteria combine. */
  tincan_frame_filter_set_json_type (filter, NULL);
  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_IN);
  tincan_frame_filter_set_text (filter, "hello");
  tincan_frame_filter_set_opcodes (filter, TINCAN_FRAME_OPCODE_MASK_TEXT);
  ASSERT_MATCHES (filter, records, "100000000");

  /* Properties work too (for GtkExpression / bindings). */
  g_object_set (filter, "direction", TINCAN_FRAME_FILTER_DIRECTION_ANY, "text", NULL,
                "opcodes", TINCAN_FRAME_OPCODE_MASK_ALL, "hide-control", TRUE, NULL);
  ASSERT_MATCHES (filter, records, "110011111");
}

/* Export and import */

static TincanFrameLog *
log_with_every_kind (void)
{
  TincanFrameLog *log = tincan_frame_log_new (100);
  g_autoptr (SoupMessageHeaders) request = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr (SoupMessageHeaders) response = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr (GBytes) binary = g_bytes_new ("\x00\x01\x02\xfe\xff\x80 binary", 13);
  g_autoptr (GBytes) ping = g_bytes_new ("ping-7", 6);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) close = g_bytes_new ("\x03\xe9" "going away", 12);
  g_autoptr (GBytes) close_odd = g_bytes_new ("\x03", 1);
  g_autoptr (GBytes) ping_binary = g_bytes_new ("\xff\x00\x01", 3);

  soup_message_headers_append (request, "Host", "127.0.0.1:8080");
  soup_message_headers_append (request, "Sec-WebSocket-Protocol", "tincan.v1");
  soup_message_headers_append (response, "Upgrade", "websocket");

  tincan_frame_log_append_handshake_request (log, "GET", "ws://127.0.0.1:8080/ws", request, 1763805600000000);
  tincan_frame_log_append_handshake_response (log, 101, NULL, response, 1763805600001000);
  append_text (log, TINCAN_FRAME_DIRECTION_OUT,
               "{\"type\":\"hello\",\"user\":\"zoë\",\"text\":\"line\\nbreak \\\"quoted\\\" tab\\t ✓\"}",
               1763805600002001);
  append_text (log, TINCAN_FRAME_DIRECTION_IN, "plain text with\nnewline and \"quotes\" and \\ backslash", 1763805600003999);
  append_text (log, TINCAN_FRAME_DIRECTION_IN, "", 1763805600004000);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_BINARY, binary, 1763805600005000);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_PING, ping, 1763805600006000);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_PONG, ping, 1763805600007000);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_PING, empty, 1763805600007500);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_PING, ping_binary, 1763805600007600);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_CLOSE, close, 1763805600008000);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_CLOSE, empty, 1763805600009000);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_CLOSE, close_odd, 1763805600009001);
  tincan_frame_log_flush (log);

  return log;
}

static GBytes *
export_bytes (TincanFrameLog *log)
{
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GError) error = NULL;

  g_assert_true (tincan_frame_log_export (log, out, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static gboolean
import_text (TincanFrameLog  *log,
             const char      *text,
             GError         **error)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (g_strdup (text), strlen (text), g_free);

  return tincan_frame_log_import (log, in, error);
}

static void
assert_records_equal (TincanFrameRecord *a,
                      TincanFrameRecord *b)
{
  g_assert_cmpint (tincan_frame_record_get_kind (a), ==, tincan_frame_record_get_kind (b));
  g_assert_cmpint (tincan_frame_record_get_direction (a), ==, tincan_frame_record_get_direction (b));
  g_assert_cmpint (tincan_frame_record_get_opcode (a), ==, tincan_frame_record_get_opcode (b));
  g_assert_cmpint (tincan_frame_record_get_time (a), ==, tincan_frame_record_get_time (b));
  g_assert_cmpuint (tincan_frame_record_get_size (a), ==, tincan_frame_record_get_size (b));
  g_assert_true (g_bytes_equal (tincan_frame_record_get_payload (a), tincan_frame_record_get_payload (b)));
  g_assert_cmpuint (tincan_frame_record_get_close_code (a), ==, tincan_frame_record_get_close_code (b));
  g_assert_cmpstr (tincan_frame_record_get_close_reason (a), ==, tincan_frame_record_get_close_reason (b));
  g_assert_cmpstr (tincan_frame_record_get_text (a), ==, tincan_frame_record_get_text (b));
}

static void
test_export_import (void)
{
  g_autoptr (TincanFrameLog) log = log_with_every_kind ();
  g_autoptr (TincanFrameLog) back = tincan_frame_log_new (100);
  g_autoptr (GBytes) exported = export_bytes (log);
  g_autoptr (GBytes) again = NULL;
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (exported);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *text = g_strndup (g_bytes_get_data (exported, NULL), g_bytes_get_size (exported));
  guint n = g_list_model_get_n_items (G_LIST_MODEL (log));

  g_assert_cmpuint (n, ==, 13);

  /* One line per frame, in the documented shape. */
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, n + 1);
  g_assert_cmpstr (lines[n], ==, "");
  g_assert_true (g_str_has_prefix (lines[0], "{\"t\":\"2025-11-22T10:00:00.000Z\",\"t_us\":1763805600000000,\"dir\":\"out\",\"opcode\":\"handshake\",\"size\":"));
  g_assert_nonnull (strstr (lines[1], "\"dir\":\"in\",\"opcode\":\"handshake\""));
  g_assert_nonnull (strstr (lines[1], "HTTP/1.1 101 Switching Protocols"));
  g_assert_true (g_str_has_prefix (lines[2], "{\"t\":\"2025-11-22T10:00:00.002Z\",\"t_us\":1763805600002001,\"dir\":\"out\",\"opcode\":\"text\",\"size\":"));
  g_assert_nonnull (strstr (lines[2], "\"payload\":\"{\\\"type\\\":\\\"hello\\\""));
  g_assert_nonnull (strstr (lines[5], "\"opcode\":\"binary\",\"size\":13,\"payload_b64\":\"AAEC/v+AIGJpbmFyeQ==\""));
  g_assert_true (g_str_has_suffix (lines[6], "\"opcode\":\"ping\",\"size\":6,\"payload\":\"ping-7\"}"));
  g_assert_true (g_str_has_suffix (lines[10], "\"opcode\":\"close\",\"size\":12,\"close_code\":1001,\"close_reason\":\"going away\"}"));

  /* Each line alone parses back too (the CLI writes them one by one). */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanFrameRecord) a = g_list_model_get_item (G_LIST_MODEL (log), i);
      g_autoptr (TincanFrameRecord) b = tincan_frame_record_new_from_json_line (lines[i], &error);
      g_autofree char *line = tincan_frame_record_to_json_line (a);

      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, lines[i]);
      assert_records_equal (a, b);
    }

  /* The whole file imports back, record for record, byte for byte. */
  g_assert_true (tincan_frame_log_import (back, in, &error));
  g_assert_no_error (error);
  tincan_frame_log_flush (back);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (back)), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanFrameRecord) a = g_list_model_get_item (G_LIST_MODEL (log), i);
      g_autoptr (TincanFrameRecord) b = g_list_model_get_item (G_LIST_MODEL (back), i);

      assert_records_equal (a, b);
    }

  again = export_bytes (back);
  g_assert_true (g_bytes_equal (exported, again));
}

static void
test_export_pending_and_bounds (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (3);
  g_autoptr (GBytes) exported = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  /* Paused: the export still has what was recorded, newest 3. */
  append_numbered (log, 0, 2);
  tincan_frame_log_flush (log);
  tincan_frame_log_set_paused (log, TRUE);
  append_numbered (log, 2, 2);

  exported = export_bytes (log);
  text = g_strndup (g_bytes_get_data (exported, NULL), g_bytes_get_size (exported));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_nonnull (strstr (lines[0], "\\\"seq\\\":1}"));
  g_assert_nonnull (strstr (lines[2], "\\\"seq\\\":3}"));
}

static void
test_import_malformed (void)
{
  const struct { const char *text; const char *message; } cases[] = {
    { "{\"t_us\":1,\"dir\":\"in\",\"opcode\":\"text\",\"size\":1,\"payload\":\"a\"}\n"
      "\n"
      "this is not json\n", "line 3:" },
    { "{\"t_us\":1,\"dir\":\"sideways\",\"opcode\":\"text\",\"payload\":\"a\"}", "line 1:" },
    { "{\"t_us\":1,\"dir\":\"in\",\"opcode\":\"text\",\"payload\":\"a\"}\r\n"
      "{\"t_us\":1,\"dir\":\"in\",\"opcode\":\"continuation\",\"payload\":\"a\"}", "line 2:" },
    { "{\"t_us\":1,\"dir\":\"in\",\"opcode\":\"binary\",\"payload_b64\":\"!!!!\"}", "line 1:" },
    { "{\"dir\":\"in\",\"opcode\":\"text\",\"payload\":\"no time\"}", "line 1:" },
    { "{\"t_us\":\"soon\",\"dir\":\"in\",\"opcode\":\"text\",\"payload\":\"a\"}", "line 1:" },
    { "{\"t_us\":1,\"dir\":\"in\",\"opcode\":\"text\",\"size\":-4,\"payload\":\"a\"}", "line 1:" },
    { "[1,2,3]", "line 1:" },
    { "{\"t_us\":1,\"dir\":\"in\",\"opcode\":\"close\",\"close_code\":70000}", "line 1:" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TincanFrameLog) log = tincan_frame_log_new (10);
      g_autoptr (GError) error = NULL;

      g_assert_false (import_text (log, cases[i].text, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      if (!g_str_has_prefix (error->message, cases[i].message))
        g_error ("case %u: “%s” does not start with “%s”", i, error->message, cases[i].message);

      /* All or nothing: the good first line was not appended either. */
      drain_main_loop ();
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 0);
      g_assert_cmpuint (tincan_frame_log_get_n_pending (log), ==, 0);
    }

  /* The "t" string alone is enough; blank lines and CRLF are fine. */
  {
    g_autoptr (TincanFrameLog) log = tincan_frame_log_new (10);
    g_autoptr (GError) error = NULL;
    g_autoptr (TincanFrameRecord) record = NULL;

    g_assert_true (import_text (log,
                                "\r\n{\"t\":\"2025-11-22T10:00:00.250Z\",\"dir\":\"out\",\"opcode\":\"text\",\"payload\":\"hi\"}\r\n\r\n",
                                &error));
    g_assert_no_error (error);
    tincan_frame_log_flush (log);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 1);
    record = g_list_model_get_item (G_LIST_MODEL (log), 0);
    g_assert_cmpint (tincan_frame_record_get_time (record), ==, 1763805600250000);
    g_assert_cmpuint (tincan_frame_record_get_size (record), ==, 2);
    g_assert_cmpstr (tincan_frame_record_get_text (record), ==, "hi");
  }
}

/* Masking */

#define TOKEN_HELLO   "hello-tok-9f8e7d6c5b4a"
#define TOKEN_BEARER  "bearer-tok-0123456789abcdef"
#define TOKEN_COOKIE  "cookie-sess-5a5a5a5a"
#define TOKEN_PROTO   "proto-tok-1122334455"
#define TOKEN_QUERY   "query-tok-abcabcabc"
#define TOKEN_ACCESS  "access-tok-zyxwvut"
#define TOKEN_LITERAL "literal-tok-QWERTYUIOP"
#define TOKEN_SETCOOK "set-cookie-tok-998877"

static void
assert_no_secret (const char *haystack,
                  gsize       len,
                  const char *where)
{
  const char *secrets[] = {
    TOKEN_HELLO, TOKEN_BEARER, TOKEN_COOKIE, TOKEN_PROTO, TOKEN_QUERY,
    TOKEN_ACCESS, TOKEN_LITERAL, TOKEN_SETCOOK,
  };

  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    for (gsize k = 0; k + strlen (secrets[i]) <= len; k++)
      if (memcmp (haystack + k, secrets[i], strlen (secrets[i])) == 0)
        g_error ("%s: the secret %s leaked: %.*s", where, secrets[i], (int) len, haystack);
}

static void
test_masking (void)
{
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (100);
  g_autoptr (SoupMessageHeaders) request = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr (SoupMessageHeaders) response = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr (GBytes) exported = NULL;
  g_autoptr (GBytes) binary = g_bytes_new ("\x01\x02" TOKEN_LITERAL "\x03", 3 + strlen (TOKEN_LITERAL));
  g_autoptr (TincanFrameRecord) hello = NULL;
  g_autoptr (TincanFrameRecord) handshake = NULL;
  g_autoptr (TincanFrameRecord) handshake_in = NULL;
  g_autoptr (TincanFrameRecord) url_frame = NULL;
  g_autoptr (TincanFrameRecord) bin = NULL;
  const char *text;

  tincan_frame_log_add_secret (log, TOKEN_LITERAL);

  /* The tincan.v1 hello, a Socket.IO auth packet, a numeric secret. */
  append_text (log, TINCAN_FRAME_DIRECTION_OUT,
               "{\"type\":\"hello\",\"user\":\"alice\",\"token\":\"" TOKEN_HELLO "\",\"resume\":{\"lobby\":42}}", 1);
  append_text (log, TINCAN_FRAME_DIRECTION_OUT,
               "40{\"auth\":{\"accessToken\" : \"" TOKEN_ACCESS "\"},\"pin\":1234,\"password\":987654}", 2);

  /* The handshake: Authorization, Cookie, a token riding in the
   * subprotocols, and one in the query. */
  soup_message_headers_append (request, "Host", "127.0.0.1:8080");
  soup_message_headers_append (request, "Authorization", "Bearer " TOKEN_BEARER);
  soup_message_headers_append (request, "Cookie", "theme=dark; session=" TOKEN_COOKIE);
  soup_message_headers_append (request, "Sec-WebSocket-Protocol", "tincan.v1, access_token, " TOKEN_PROTO);
  soup_message_headers_append (request, "X-Api-Key", TOKEN_LITERAL "x");
  soup_message_headers_append (response, "Set-Cookie", "sid=" TOKEN_SETCOOK "; Path=/; HttpOnly");
  soup_message_headers_append (response, "Sec-WebSocket-Protocol", "tincan.v1");
  tincan_frame_log_append_handshake_request (log, "GET",
                                             "ws://127.0.0.1:8080/ws?room=lobby&token=" TOKEN_QUERY "&v=1",
                                             request, 3);
  tincan_frame_log_append_handshake_response (log, 101, "Switching Protocols", response, 4);

  /* A URL inside a frame, and the literal secret in a binary frame. */
  append_text (log, TINCAN_FRAME_DIRECTION_IN,
               "{\"type\":\"redirect\",\"url\":\"wss://h.example/ws#access_token=" TOKEN_ACCESS "&x=1\"}", 5);
  tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_BINARY, binary, 6);
  tincan_frame_log_flush (log);

  hello = g_list_model_get_item (G_LIST_MODEL (log), 0);
  text = tincan_frame_record_get_text (hello);
  g_assert_true (tincan_frame_record_get_masked (hello));
  /* Masked, with everything else kept as it was. */
  g_assert_cmpstr (text, ==, "{\"type\":\"hello\",\"user\":\"alice\",\"token\":\"••••(22)\",\"resume\":{\"lobby\":42}}");
  /* The size is the size on the wire. */
  g_assert_cmpuint (tincan_frame_record_get_size (hello), ==, strlen (TOKEN_HELLO) + 64);

  {
    g_autoptr (TincanFrameRecord) sio = g_list_model_get_item (G_LIST_MODEL (log), 1);

    g_assert_cmpstr (tincan_frame_record_get_text (sio), ==,
                     "40{\"auth\":{\"accessToken\" : \"••••(18)\"},\"pin\":1234,\"password\":\"••••(6)\"}");
  }

  handshake = g_list_model_get_item (G_LIST_MODEL (log), 2);
  text = tincan_frame_record_get_text (handshake);
  g_assert_cmpint (tincan_frame_record_get_kind (handshake), ==, TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST);
  g_assert_cmpint (tincan_frame_record_get_direction (handshake), ==, TINCAN_FRAME_DIRECTION_OUT);
  g_assert_true (g_str_has_prefix (text, "GET ws://127.0.0.1:8080/ws?room=lobby&token=••••(19)&v=1 HTTP/1.1\n"));
  g_assert_nonnull (strstr (text, "\nHost: 127.0.0.1:8080"));
  g_assert_nonnull (strstr (text, "\nAuthorization: Bearer ••••(27)"));
  g_assert_nonnull (strstr (text, "\nCookie: theme=••••(4); session=••••(20)"));
  g_assert_nonnull (strstr (text, "\nSec-WebSocket-Protocol: tincan.v1, access_token, ••••(20)"));
  g_assert_nonnull (strstr (text, "\nX-Api-Key: ••••(23)"));

  handshake_in = g_list_model_get_item (G_LIST_MODEL (log), 3);
  text = tincan_frame_record_get_text (handshake_in);
  g_assert_true (g_str_has_prefix (text, "HTTP/1.1 101 Switching Protocols\n"));
  g_assert_nonnull (strstr (text, "\nSet-Cookie: sid=••••(21); Path=/; HttpOnly"));
  g_assert_nonnull (strstr (text, "\nSec-WebSocket-Protocol: tincan.v1"));

  url_frame = g_list_model_get_item (G_LIST_MODEL (log), 4);
  g_assert_cmpstr (tincan_frame_record_get_text (url_frame), ==,
                   "{\"type\":\"redirect\",\"url\":\"wss://h.example/ws#access_token=••••(18)&x=1\"}");

  bin = g_list_model_get_item (G_LIST_MODEL (log), 5);
  g_assert_true (tincan_frame_record_get_masked (bin));

  /* The export: grep for every token. */
  exported = export_bytes (log);
  assert_no_secret (g_bytes_get_data (exported, NULL), g_bytes_get_size (exported), "export");
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (exported, NULL), g_bytes_get_size (exported), "room=lobby"));

  /* The line the CLI's --frames writes, record by record. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (log)); i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (G_LIST_MODEL (log), i);
      g_autofree char *line = tincan_frame_record_to_json_line (record);
      g_autofree char *copy = tincan_frame_record_dup_copy_text (record);

      assert_no_secret (line, strlen (line), "json line");
      assert_no_secret (copy, strlen (copy), "copy text");
    }

  /* Masking is idempotent: an export imports back unchanged. */
  {
    g_autoptr (TincanFrameLog) back = tincan_frame_log_new (100);
    g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (exported);
    g_autoptr (GBytes) again = NULL;
    g_autoptr (GError) error = NULL;

    g_assert_true (tincan_frame_log_import (back, in, &error));
    g_assert_no_error (error);
    again = export_bytes (back);
    g_assert_true (g_bytes_equal (exported, again));
  }

  /* A record made by hand (as the CLI does) masks too. */
  {
    g_autoptr (GBytes) bytes = text_bytes ("{\"type\":\"hello\",\"token\":\"" TOKEN_HELLO "\"}");
    g_autoptr (TincanFrameRecord) record =
      tincan_frame_record_new (TINCAN_FRAME_RECORD_KIND_FRAME, TINCAN_FRAME_DIRECTION_OUT,
                               TINCAN_OPCODE_TEXT, bytes, G_MAXSIZE, 0, NULL);
    g_autofree char *line = tincan_frame_record_to_json_line (record);

    assert_no_secret (line, strlen (line), "hand-made record");
  }

  /* Helpers for the UI */
  {
    g_autofree char *url = tincan_frame_mask_url ("wss://x/ws?access_token=" TOKEN_ACCESS);
    g_autofree char *plain = tincan_frame_mask_url ("wss://x/ws?room=lobby");
    g_autofree char *auth = tincan_frame_mask_header ("authorization", "Basic " TOKEN_BEARER);
    g_autofree char *agent = tincan_frame_mask_header ("User-Agent", "tincan/0.1");

    g_autofree char *userinfo = tincan_frame_mask_url ("ws://bob:" TOKEN_QUERY "@h:1/ws?token=" TOKEN_QUERY);
    g_autofree char *user_only = tincan_frame_mask_url ("ws://bob@h:1/ws");

    g_assert_cmpstr (url, ==, "wss://x/ws?access_token=••••(18)");
    g_assert_cmpstr (userinfo, ==, "ws://bob:••••(19)@h:1/ws?token=••••(19)");
    g_assert_cmpstr (user_only, ==, "ws://bob@h:1/ws");
    g_assert_cmpstr (plain, ==, "wss://x/ws?room=lobby");
    g_assert_cmpstr (auth, ==, "Basic ••••(27)");
    g_assert_cmpstr (agent, ==, "tincan/0.1");
  }
}

/* A real connection: its frames reach the log, the hello's token does
 * not reach the export. */
#define LIVE_TOKEN "live-token-7c6b5a493827"

static char *
live_token (gpointer data)
{
  return g_strdup (LIVE_TOKEN);
}

static gboolean
connected (gpointer data)
{
  return tincan_connection_get_state (TINCAN_CONNECTION (data)) == TINCAN_CONNECTION_STATE_CONNECTED;
}

typedef struct
{
  TincanFrameLog *log;
  const char     *needle;
} Needle;

static gboolean
log_has_text (gpointer data)
{
  Needle *n = data;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (n->log)); i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (G_LIST_MODEL (n->log), i);
      const char *text = tincan_frame_record_get_text (record);

      if (text != NULL && strstr (text, n->needle) != NULL)
        return TRUE;
    }

  return FALSE;
}

static void
test_live_connection (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanServer) server = g_object_new (TINCAN_TYPE_SERVER, "token", LIVE_TOKEN, NULL);
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanFrameLog) log = tincan_frame_log_new (0);
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GBytes) exported = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("tincan-test-frame-log-XXXXXX", &error);
  g_autofree char *path = g_build_filename (tmpdir, "store.db", NULL);
  Needle hello = { log, "\"type\":\"hello\"" };
  Needle ack = { log, "\"type\":\"ack\"" };
  gboolean saw_out = FALSE, saw_in = FALSE;

  g_assert_no_error (error);
  g_assert_true (tincan_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  tincan_profile_set_url (profile, tincan_server_get_uri (server));
  tincan_profile_set_user (profile, "alice");
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_HELLO);
  connection = tincan_connection_new (profile, store);
  tincan_connection_set_token_provider (connection, live_token, NULL, NULL);
  tincan_frame_log_attach (log, connection);

  tincan_connection_connect (connection);
  g_assert_true (wait_for (connected, connection, 10000));
  message = tincan_connection_send (connection, "lobby", "hello from the test", &error);
  g_assert_no_error (error);
  g_assert_true (wait_for (log_has_text, &hello, 10000));
  g_assert_true (wait_for (log_has_text, &ack, 10000));

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (log)); i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (G_LIST_MODEL (log), i);
      const char *text = tincan_frame_record_get_text (record);

      saw_out |= tincan_frame_record_get_direction (record) == TINCAN_FRAME_DIRECTION_OUT;
      saw_in |= tincan_frame_record_get_direction (record) == TINCAN_FRAME_DIRECTION_IN;
      g_assert_cmpint (tincan_frame_record_get_time (record), >, 0);
      if (text != NULL && strstr (text, "\"type\":\"hello\"") != NULL)
        {
          g_assert_nonnull (strstr (text, "\"token\":\"••••("));
          g_assert_true (tincan_frame_record_get_masked (record));
          g_assert_cmpuint (tincan_frame_record_get_size (record), ==, strlen (text) - strlen ("••••(23)") + strlen (LIVE_TOKEN));
        }
    }
  g_assert_true (saw_out);
  g_assert_true (saw_in);

  exported = export_bytes (log);
  g_assert_null (g_strstr_len (g_bytes_get_data (exported, NULL), g_bytes_get_size (exported), LIVE_TOKEN));
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (exported, NULL), g_bytes_get_size (exported), "hello from the test"));

  /* Detached: no more frames. */
  tincan_frame_log_attach (log, NULL);
  tincan_connection_disconnect (connection);
  drain_main_loop ();
  {
    guint n = g_list_model_get_n_items (G_LIST_MODEL (log));
    g_autoptr (TincanMessage) later = tincan_connection_send (connection, "lobby", "unseen", &error);

    g_assert_no_error (error);
    tincan_connection_connect (connection);
    g_assert_true (wait_for (connected, connection, 10000));
    drain_main_loop ();
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, n);
  }

  tincan_connection_disconnect (connection);
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

/* A hostile server's payload must not take the JSON-type lookup (the
 * inspector's filter) down: deep nesting is refused, not recursed into. */
static void
test_json_type_hostile (void)
{
  g_autofree char *deep = g_strnfill (200000, '[');
  g_autoptr (TincanFrameRecord) nested = text_record (TINCAN_FRAME_DIRECTION_IN, deep);
  g_autoptr (TincanFrameRecord) twice = text_record (TINCAN_FRAME_DIRECTION_IN, "{\"type\":\"a\"}{}");

  g_assert_null (tincan_frame_record_get_json_type (nested));
  g_assert_null (tincan_frame_record_get_json_type (twice));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/frame-log/ring/bounds", test_ring_bounds);
  g_test_add_func ("/frame-log/json-type/hostile", test_json_type_hostile);
  g_test_add_func ("/frame-log/ring/default-capacity", test_ring_default_capacity);
  g_test_add_func ("/frame-log/ring/byte-capacity", test_ring_byte_capacity);
  g_test_add_func ("/frame-log/ring/busy-main-loop", test_ring_busy_main_loop);
  g_test_add_func ("/frame-log/pause-resume", test_pause_resume);
  g_test_add_func ("/frame-log/clear", test_clear);
  g_test_add_func ("/frame-log/record/fields", test_record_fields);
  g_test_add_func ("/frame-log/filter", test_filter);
  g_test_add_func ("/frame-log/export-import/round-trip", test_export_import);
  g_test_add_func ("/frame-log/export-import/pending-and-bounds", test_export_pending_and_bounds);
  g_test_add_func ("/frame-log/export-import/malformed", test_import_malformed);
  g_test_add_func ("/frame-log/masking", test_masking);
  g_test_add_func ("/frame-log/live-connection", test_live_connection);

  return g_test_run ();
}
