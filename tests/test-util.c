/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-util"

#include "config.h"

#include "tincan-util.h"

static void
test_timestamp_format (void)
{
  struct {
    gint64 ms;
    const char *text;
  } cases[] = {
    { 0, "1970-01-01T00:00:00.000Z" },
    { 1795341600000, "2026-11-22T10:00:00.000Z" },
    { 1795341600042, "2026-11-22T10:00:00.042Z" },
    { 1795341600999, "2026-11-22T10:00:00.999Z" },
    { -1, "1969-12-31T23:59:59.999Z" },
    /* Years before 1000 keep four digits (found by fuzz-v1-decode). */
    { G_GINT64_CONSTANT (-32819212800000), "0930-01-01T00:00:00.000Z" },
    { G_GINT64_CONSTANT (-62135596800000), "0001-01-01T00:00:00.000Z" },
    { G_GINT64_CONSTANT (253402300799999), "9999-12-31T23:59:59.999Z" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = tincan_timestamp_format (cases[i].ms);
      gint64 back = 0;

      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_true (tincan_timestamp_parse (text, &back));
      g_assert_cmpint (back, ==, cases[i].ms);
    }
}

static void
test_timestamp_parse (void)
{
  gint64 ms = 0;

  /* Other zones and precisions are accepted and normalised to UTC. */
  g_assert_true (tincan_timestamp_parse ("2026-11-22T11:00:00.500+01:00", &ms));
  g_assert_cmpint (ms, ==, 1795341600500);
  g_assert_true (tincan_timestamp_parse ("2026-11-22T10:00:00Z", &ms));
  g_assert_cmpint (ms, ==, 1795341600000);
  g_assert_true (tincan_timestamp_parse ("2026-11-22T10:00:00.123456Z", &ms));
  g_assert_cmpint (ms, ==, 1795341600123);

  /* No zone, garbage, empty: refused, output untouched. */
  ms = 7;
  g_assert_false (tincan_timestamp_parse ("2026-11-22T10:00:00", &ms));
  g_assert_false (tincan_timestamp_parse ("yesterday", &ms));
  g_assert_false (tincan_timestamp_parse ("", &ms));
  g_assert_false (tincan_timestamp_parse (NULL, &ms));
  /* Valid where written but outside years 1–9999 in UTC (found by fuzz-v1-decode). */
  g_assert_false (tincan_timestamp_parse ("0001-01-01T00:00:00+01:00", &ms));
  g_assert_false (tincan_timestamp_parse ("9999-12-31T23:59:59.999-01:00", &ms));
  g_assert_cmpint (ms, ==, 7);

  /* The very ends of the range are kept. */
  g_assert_true (tincan_timestamp_parse ("0001-01-01T00:00:00Z", &ms));
  g_assert_cmpint (ms, ==, G_GINT64_CONSTANT (-62135596800000));
  g_assert_true (tincan_timestamp_parse ("9999-12-31T23:59:59.999Z", &ms));
  g_assert_cmpint (ms, ==, G_GINT64_CONSTANT (253402300799999));
}

static void
test_now (void)
{
  gint64 before = g_get_real_time () / 1000;
  gint64 now = tincan_now_ms ();
  gint64 after = g_get_real_time () / 1000;

  g_assert_cmpint (now, >=, before);
  g_assert_cmpint (now, <=, after);
}

/* The common "…T…Z" and "….fffZ" forms are read without GLib's parser:
 * for any such text, valid or not, the result is GLib's. */
static void
test_timestamp_parse_matches_glib (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (8);

  for (guint i = 0; i < 50000; i++)
    {
      g_autofree char *text = NULL;
      g_autoptr (GDateTime) reference = NULL;
      gint64 ms = -1;
      gboolean ok;
      /* Some out of range (day 31 of any month, hour 24, second 60…). */
      int year = g_rand_int_range (rand, 0, 10000);
      int month = g_rand_int_range (rand, 0, 14);
      int day = g_rand_int_range (rand, 0, 33);
      int hour = g_rand_int_range (rand, 0, 25);
      int minute = g_rand_int_range (rand, 0, 61);
      int second = g_rand_int_range (rand, 0, 61);

      if (i % 2 == 0)
        text = g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day, hour,
                                minute, second, g_rand_int_range (rand, 0, 1000));
      else
        text = g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day, hour,
                                minute, second);

      ok = tincan_timestamp_parse (text, &ms);
      reference = g_date_time_new_from_iso8601 (text, NULL);
      if (reference == NULL)
        {
          g_assert_false (ok);
          continue;
        }
      g_assert_true (ok);
      g_assert_cmpint (ms, ==, g_date_time_to_unix (reference) * 1000 +
                               g_date_time_get_microsecond (reference) / 1000);
    }
}

static void
test_uuid (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 1000; i++)
    {
      char *uuid = tincan_uuid_new ();

      g_assert_cmpuint (strlen (uuid), ==, 36);
      g_assert_true (g_uuid_string_is_valid (uuid));
      g_assert_cmpint (uuid[14], ==, '4');
      g_assert_nonnull (strchr ("89ab", uuid[19]));
      for (const char *p = uuid; *p; p++)
        g_assert_false (g_ascii_isupper (*p));
      g_assert_true (g_hash_table_add (seen, uuid));
    }
}

static void
test_mask_secret (void)
{
  g_autofree char *masked = tincan_mask_secret ("abcdefghijkl");
  g_autofree char *masked_none = tincan_mask_secret (NULL);

  g_assert_cmpstr (masked, ==, "••••(12)");
  g_assert_null (strstr (masked, "a"));
  g_assert_nonnull (masked_none);
}

static void
test_anonymize (void)
{
  g_autofree char *tag = tincan_anonymize ("the secret plan for tomorrow at the docks");
  g_autofree char *tag_null = tincan_anonymize (NULL);

  g_assert_cmpstr (tag, ==, "<text 41 bytes>");
  g_assert_null (strstr (tag, "secret"));
  g_assert_nonnull (tag_null);
}

/* Two strings, not their concatenation; never 0; the same every time. */
static void
test_fingerprint2 (void)
{
  g_assert_cmpuint (tincan_fingerprint2 ("a", "bc"), !=, tincan_fingerprint2 ("ab", "c"));
  g_assert_cmpuint (tincan_fingerprint2 ("lobby", "m-1"), !=, tincan_fingerprint2 ("lobby", "m-2"));
  g_assert_cmpuint (tincan_fingerprint2 ("lobby", "m-1"), ==, tincan_fingerprint2 ("lobby", "m-1"));
  g_assert_cmpuint (tincan_fingerprint2 ("", ""), !=, 0);
}

/* It remembers the last @capacity added, in order. */
static void
test_recent_set_window (void)
{
  g_autoptr (TincanRecentSet) set = tincan_recent_set_new (8);

  for (guint64 i = 1; i <= 9; i++)
    g_assert_true (tincan_recent_set_add (set, i));
  g_assert_false (tincan_recent_set_contains (set, 1));
  for (guint64 i = 2; i <= 9; i++)
    g_assert_true (tincan_recent_set_contains (set, i));

  /* Already there: nothing changes, 2 is still the oldest. */
  g_assert_false (tincan_recent_set_add (set, 5));
  g_assert_true (tincan_recent_set_contains (set, 2));

  /* Forgotten, so new again: it takes the place of the oldest. */
  g_assert_true (tincan_recent_set_add (set, 1));
  g_assert_false (tincan_recent_set_contains (set, 2));
  g_assert_true (tincan_recent_set_contains (set, 3));
  g_assert_false (tincan_recent_set_contains (set, 0));
}

/* Against a GHashTable and a queue, with fingerprints that crowd a few
 * slots of the table (and wrap around its end), so that probes are long
 * and removals move entries. */
static void
test_recent_set_matches_hash_table (void)
{
  const guint capacity = 512;
  g_autoptr (TincanRecentSet) set = tincan_recent_set_new (capacity);
  g_autoptr (GHashTable) reference = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autofree guint64 *ring = g_new0 (guint64, capacity);
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261122);
  guint next = 0;

  for (guint n = 0; n < 400000; n++)
    {
      /* Low bits (the slot) from a handful of values next to the end of
       * the table; high bits from a range twice the capacity, so that
       * some come back while remembered and some after. */
      guint64 fingerprint = ((guint64) g_rand_int_range (rand, 1, 2 * capacity) << 20) |
                            (guint64) (1024 - g_rand_int_range (rand, 1, 5));
      gboolean known = g_hash_table_contains (reference, &fingerprint);

      g_assert_cmpint (tincan_recent_set_contains (set, fingerprint), ==, known);
      g_assert_cmpint (tincan_recent_set_add (set, fingerprint), ==, !known);
      if (known)
        continue;

      if (ring[next] != 0)
        g_hash_table_remove (reference, &ring[next]);
      ring[next] = fingerprint;
      g_hash_table_add (reference, &ring[next]);
      next = (next + 1) % capacity;
    }

  for (guint i = 0; i < capacity; i++)
    g_assert_true (tincan_recent_set_contains (set, ring[i]));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/util/timestamp/format", test_timestamp_format);
  g_test_add_func ("/util/timestamp/parse", test_timestamp_parse);
  g_test_add_func ("/util/timestamp/parse-matches-glib", test_timestamp_parse_matches_glib);
  g_test_add_func ("/util/now", test_now);
  g_test_add_func ("/util/uuid", test_uuid);
  g_test_add_func ("/util/mask-secret", test_mask_secret);
  g_test_add_func ("/util/anonymize", test_anonymize);
  g_test_add_func ("/util/fingerprint2", test_fingerprint2);
  g_test_add_func ("/util/recent-set/window", test_recent_set_window);
  g_test_add_func ("/util/recent-set/matches-hash-table", test_recent_set_matches_hash_table);

  return g_test_run ();
}
