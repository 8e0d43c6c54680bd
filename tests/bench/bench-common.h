/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What every benchmark in tests/bench needs. */

typedef gboolean (*BenchCondition) (gpointer data);

/* Runs the default main context until @condition holds; aborts the
 * benchmark after @timeout_ms, naming @what. */
void    bench_wait_for      (BenchCondition  condition,
                             gpointer        data,
                             guint           timeout_ms,
                             const char     *what);
/* Runs the default main context for @ms. */
void    bench_iterate_for   (guint           ms);
/* The @p quantile (0..1) of @values (doubles; sorted in place), 0 when empty. */
double  bench_percentile    (GArray         *values,
                             double          p);
/* CPU time of the calling thread, µs: what it spent itself, which other
 * processes on a loaded machine cannot inflate. */
gint64  bench_thread_cpu_us (void);
/* CPU time of the whole process (all its threads), µs. */
gint64  bench_process_cpu_us (void);
/* The environment variable @name as a number (at least @min), or
 * @fallback when it is not set: each benchmark's knobs. */
guint   bench_env_uint      (const char     *name,
                             guint           fallback,
                             guint           min);

G_END_DECLS
