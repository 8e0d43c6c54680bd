/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench"

#include "config.h"

#include <time.h>

#include "bench-common.h"

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
bench_wait_for (BenchCondition  condition,
                gpointer        data,
                guint           timeout_ms,
                const char     *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  /* The deadline is checked even when nothing else wakes the loop. */
  guint wake = g_timeout_add (50, wake_up, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("benchmark stuck waiting for %s", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (wake);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
bench_iterate_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

double
bench_percentile (GArray *values,
                  double  p)
{
  if (values->len == 0)
    return 0;

  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, (guint) (CLAMP (p, 0, 1) * (values->len - 1) + 0.5));
}

gint64
bench_thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

gint64
bench_process_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

guint
bench_env_uint (const char *name,
                guint       fallback,
                guint       min)
{
  const char *value = g_getenv (name);

  if (value == NULL)
    return fallback;

  return MAX (min, (guint) g_ascii_strtoull (value, NULL, 10));
}
