/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-backoff"

#include "config.h"

#include "tincan-backoff.h"

#define SEED 0x7ea5eed

static double
rand_double (gpointer user_data)
{
  return g_rand_double (user_data);
}

static double
fixed_double (gpointer user_data)
{
  return *(double *) user_data;
}

static TincanBackoff *
backoff_new_seeded (TincanJitter jitter,
                    guint32      seed)
{
  TincanBackoff *backoff = tincan_backoff_new ();

  tincan_backoff_set_jitter (backoff, jitter);
  tincan_backoff_set_random_func (backoff, rand_double, g_rand_new_with_seed (seed),
                                  (GDestroyNotify) g_rand_free);

  return backoff;
}

/* min (cap, base * 2^n), computed the slow and obviously right way. */
static guint64
expected_ceiling (guint base,
                  guint cap,
                  guint n)
{
  guint64 d = base;

  for (guint i = 0; i < n && d < cap; i++)
    d *= 2;

  return MIN (d, (guint64) cap);
}

static void
test_defaults (void)
{
  g_autoptr (TincanBackoff) backoff = tincan_backoff_new ();

  g_assert_cmpuint (tincan_backoff_get_base_ms (backoff), ==, 500);
  g_assert_cmpuint (tincan_backoff_get_cap_ms (backoff), ==, 30000);
  g_assert_cmpint (tincan_backoff_get_jitter (backoff), ==, TINCAN_JITTER_FULL);
  g_assert_cmpuint (tincan_backoff_get_max_attempts (backoff), ==, 0);
  g_assert_cmpuint (tincan_backoff_get_stable_ms (backoff), ==, 5000);
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 0);
  g_assert_false (tincan_backoff_is_exhausted (backoff));

  /* The default random source stays within the bounds too. */
  for (guint n = 0; n < 20; n++)
    {
      guint64 ceiling = expected_ceiling (500, 30000, n);
      guint delay = tincan_backoff_next_delay (backoff);

      g_assert_cmpuint (delay, <=, ceiling);
    }
}

static void
test_bounds (void)
{
  const guint base = 250;
  const guint cap = 20000;

  for (TincanJitter jitter = TINCAN_JITTER_NONE; jitter <= TINCAN_JITTER_DECORRELATED; jitter++)
    {
      for (guint32 seed = SEED; seed < SEED + 20; seed++)
        {
          g_autoptr (TincanBackoff) backoff = backoff_new_seeded (jitter, seed);
          guint64 prev = base;

          tincan_backoff_set_base_ms (backoff, base);
          tincan_backoff_set_cap_ms (backoff, cap);

          for (guint n = 0; n < 40; n++)
            {
              guint64 d = expected_ceiling (base, cap, n);
              guint delay = tincan_backoff_next_delay (backoff);

              g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, n + 1);
              g_assert_cmpuint (delay, <=, cap);

              switch (jitter)
                {
                case TINCAN_JITTER_NONE:
                  g_assert_cmpuint (delay, ==, d);
                  break;

                case TINCAN_JITTER_FULL:
                  g_assert_cmpuint (delay, <=, d);
                  break;

                case TINCAN_JITTER_EQUAL:
                  g_assert_cmpuint (delay, >=, d / 2);
                  g_assert_cmpuint (delay, <=, d);
                  break;

                case TINCAN_JITTER_DECORRELATED:
                  g_assert_cmpuint (delay, >=, MIN (base, cap));
                  g_assert_cmpuint (delay, <=, MIN (prev * 3, (guint64) cap));
                  prev = delay;
                  break;

                default:
                  g_assert_not_reached ();
                }
            }
        }
    }
}

static void
test_extremes_of_random (void)
{
  double r;
  g_autoptr (TincanBackoff) backoff = tincan_backoff_new ();

  tincan_backoff_set_base_ms (backoff, 1000);
  tincan_backoff_set_random_func (backoff, fixed_double, &r, NULL);

  r = 0.0;
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_FULL);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), ==, 0);
  tincan_backoff_reset (backoff);
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_EQUAL);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), ==, 500);
  tincan_backoff_reset (backoff);
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_DECORRELATED);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), ==, 1000);

  r = 0.99999999;
  tincan_backoff_reset (backoff);
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_FULL);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), >=, 999);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), <=, 2000);
  tincan_backoff_reset (backoff);
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_DECORRELATED);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), >=, 2999);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), >=, 8990);

  /* A broken source (out of [0, 1)) cannot push a delay past the bounds. */
  r = 7.5;
  tincan_backoff_reset (backoff);
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_FULL);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), <=, 1000);
  r = -3.0;
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), ==, 0);
}

static void
test_full_jitter_distribution (void)
{
  g_autoptr (TincanBackoff) backoff = backoff_new_seeded (TINCAN_JITTER_FULL, SEED);
  const guint d = 1000;
  const guint n_samples = 20000;
  guint buckets[10] = { 0, };
  guint min = G_MAXUINT;
  guint max = 0;
  double sum = 0;
  double mean;

  tincan_backoff_set_base_ms (backoff, d);

  for (guint i = 0; i < n_samples; i++)
    {
      guint delay;

      /* Attempt 0 every time, so every sample is random(0, d). */
      tincan_backoff_reset (backoff);
      delay = tincan_backoff_next_delay (backoff);

      g_assert_cmpuint (delay, <=, d);
      min = MIN (min, delay);
      max = MAX (max, delay);
      sum += delay;
      buckets[MIN (delay * 10 / d, 9)]++;
    }

  mean = sum / n_samples;
  g_test_message ("full jitter: mean %.1f, min %u, max %u", mean, min, max);

  /* The standard error of the mean is about 2 ms here; 15 is over 7 of them. */
  g_assert_cmpfloat_with_epsilon (mean, d / 2.0, 15.0);
  g_assert_cmpuint (min, <, d / 100);
  g_assert_cmpuint (max, >, d - d / 100);

  /* Roughly uniform: every tenth of the range gets its share. */
  for (guint i = 0; i < G_N_ELEMENTS (buckets); i++)
    {
      g_assert_cmpuint (buckets[i], >, n_samples / 10 * 8 / 10);
      g_assert_cmpuint (buckets[i], <, n_samples / 10 * 12 / 10);
    }
}

static void
test_cap (void)
{
  for (TincanJitter jitter = TINCAN_JITTER_NONE; jitter <= TINCAN_JITTER_DECORRELATED; jitter++)
    {
      g_autoptr (TincanBackoff) backoff = backoff_new_seeded (jitter, SEED);
      guint max_seen = 0;

      tincan_backoff_set_base_ms (backoff, 500);
      tincan_backoff_set_cap_ms (backoff, 30000);

      for (guint n = 0; n < 300; n++)
        {
          guint delay = tincan_backoff_next_delay (backoff);

          g_assert_cmpuint (delay, <=, 30000);
          max_seen = MAX (max_seen, delay);

          /* 500 * 2^6 > 30000: without jitter the cap holds from there. */
          if (jitter == TINCAN_JITTER_NONE && n >= 6)
            g_assert_cmpuint (delay, ==, 30000);
        }

      g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 300);
      /* Jittered or not, the cap is reached (or nearly) and never passed. */
      g_assert_cmpuint (max_seen, >=, 29000);
    }
}

static void
test_cap_no_overflow (void)
{
  g_autoptr (TincanBackoff) backoff = backoff_new_seeded (TINCAN_JITTER_NONE, SEED);

  /* base * 2^n overflows 32 and 64 bits long before attempt 100. */
  tincan_backoff_set_base_ms (backoff, G_MAXUINT / 2);
  tincan_backoff_set_cap_ms (backoff, G_MAXUINT);
  for (guint n = 0; n < 130; n++)
    {
      guint delay = tincan_backoff_next_delay (backoff);

      g_assert_cmpuint (delay, ==, expected_ceiling (G_MAXUINT / 2, G_MAXUINT, n));
      if (n >= 2)
        g_assert_cmpuint (delay, ==, G_MAXUINT);
    }

  tincan_backoff_reset (backoff);
  tincan_backoff_set_base_ms (backoff, 3);
  tincan_backoff_set_cap_ms (backoff, 60000);
  for (guint n = 0; n < 130; n++)
    {
      guint delay = tincan_backoff_next_delay (backoff);

      if (n >= 100)
        g_assert_cmpuint (delay, ==, 60000);
      else
        g_assert_cmpuint (delay, ==, expected_ceiling (3, 60000, n));
    }

  /* Full and equal jitter at attempt 100+ stay within the cap. */
  tincan_backoff_set_jitter (backoff, TINCAN_JITTER_EQUAL);
  for (guint n = 0; n < 50; n++)
    {
      guint delay = tincan_backoff_next_delay (backoff);

      g_assert_cmpuint (delay, >=, 30000);
      g_assert_cmpuint (delay, <=, 60000);
    }
}

static void
test_max_attempts (void)
{
  g_autoptr (TincanBackoff) backoff = backoff_new_seeded (TINCAN_JITTER_FULL, SEED);

  tincan_backoff_set_max_attempts (backoff, 3);

  for (guint n = 0; n < 3; n++)
    {
      g_assert_false (tincan_backoff_is_exhausted (backoff));
      tincan_backoff_next_delay (backoff);
    }

  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 3);
  g_assert_true (tincan_backoff_is_exhausted (backoff));

  /* Raising the limit gives more attempts; a reset starts over. */
  tincan_backoff_set_max_attempts (backoff, 4);
  g_assert_false (tincan_backoff_is_exhausted (backoff));
  tincan_backoff_next_delay (backoff);
  g_assert_true (tincan_backoff_is_exhausted (backoff));
  tincan_backoff_reset (backoff);
  g_assert_false (tincan_backoff_is_exhausted (backoff));
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 0);

  /* 0 means unlimited. */
  tincan_backoff_set_max_attempts (backoff, 0);
  for (guint n = 0; n < 1000; n++)
    tincan_backoff_next_delay (backoff);
  g_assert_false (tincan_backoff_is_exhausted (backoff));
}

static void
on_notify_attempt (GObject    *object,
                   GParamSpec *pspec,
                   guint      *count)
{
  (*count)++;
}

static void
test_reset_after_stable_uptime (void)
{
  g_autoptr (TincanBackoff) backoff = backoff_new_seeded (TINCAN_JITTER_NONE, SEED);
  gint64 now_us = 1000 * G_USEC_PER_SEC;
  guint notifies = 0;

  g_signal_connect (backoff, "notify::attempt", G_CALLBACK (on_notify_attempt), &notifies);

  tincan_backoff_set_base_ms (backoff, 100);
  tincan_backoff_set_stable_ms (backoff, 5000);

  for (guint n = 0; n < 4; n++)
    tincan_backoff_next_delay (backoff);
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 4);
  g_assert_cmpuint (notifies, ==, 4);

  /* Up for 4.999 s: a flapping server, the delays keep growing. */
  tincan_backoff_connected (backoff, now_us);
  now_us += 4999 * 1000;
  tincan_backoff_disconnected (backoff, now_us);
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 4);
  g_assert_cmpuint (notifies, ==, 4);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), ==, 1600);

  /* A failed attempt (never connected) does not reset either. */
  now_us += 10 * G_USEC_PER_SEC;
  tincan_backoff_disconnected (backoff, now_us);
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 5);

  /* Up for 5 s: stable, start again from the base delay. */
  tincan_backoff_connected (backoff, now_us);
  now_us += 5000 * 1000;
  tincan_backoff_disconnected (backoff, now_us);
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 0);
  g_assert_cmpuint (notifies, ==, 6);
  g_assert_cmpuint (tincan_backoff_next_delay (backoff), ==, 100);

  /* A second disconnected() without connected() is no new uptime. */
  now_us += 60 * G_USEC_PER_SEC;
  tincan_backoff_disconnected (backoff, now_us);
  g_assert_cmpuint (tincan_backoff_get_attempt (backoff), ==, 1);
}

static void
test_decorrelated_reset (void)
{
  g_autoptr (TincanBackoff) backoff = backoff_new_seeded (TINCAN_JITTER_DECORRELATED, SEED);
  double r = 0.99999999;
  guint delay = 0;

  tincan_backoff_set_base_ms (backoff, 100);
  tincan_backoff_set_random_func (backoff, fixed_double, &r, NULL);

  for (guint n = 0; n < 5; n++)
    delay = tincan_backoff_next_delay (backoff);
  g_assert_cmpuint (delay, >, 10000);

  /* After a reset the previous delay is forgotten too. */
  tincan_backoff_reset (backoff);
  delay = tincan_backoff_next_delay (backoff);
  g_assert_cmpuint (delay, <=, 300);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/backoff/defaults", test_defaults);
  g_test_add_func ("/backoff/bounds", test_bounds);
  g_test_add_func ("/backoff/extremes-of-random", test_extremes_of_random);
  g_test_add_func ("/backoff/full-jitter-distribution", test_full_jitter_distribution);
  g_test_add_func ("/backoff/cap", test_cap);
  g_test_add_func ("/backoff/cap-no-overflow", test_cap_no_overflow);
  g_test_add_func ("/backoff/max-attempts", test_max_attempts);
  g_test_add_func ("/backoff/reset-after-stable-uptime", test_reset_after_stable_uptime);
  g_test_add_func ("/backoff/decorrelated-reset", test_decorrelated_reset);

  return g_test_run ();
}
