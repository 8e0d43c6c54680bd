/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-startup"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench-history.h"
#include "bench-common.h"

/* Issue #8, target 5: `tincan` to its first frame with a 1 000 000-message
 * history in the room it opens, against an empty history: ≤ 1.2×.
 *
 * Two data directories (tincan --data-dir) with the same saved server
 * (nothing listens at its URL, so both keep retrying alike) and its room
 * "lobby": one history holds a million short messages, the other none.
 * The real binary (TINCAN_APP_BIN) runs with TINCAN_EXIT_AFTER_FIRST_FRAME=1,
 * which prints the monotonic time of the main window's first frame and
 * quits; the time from just before the exec is the startup time. Runs
 * alternate between the two (after one warm-up each); medians compared.
 * BENCH_STARTUP_MESSAGES and BENCH_STARTUP_RUNS override the workload,
 * BENCH_STARTUP_KEEP=1 keeps the data directories (to profile).
 * Needs a display (xvfb-run). */

#define LIMIT 1.2

static void
make_data_dir (const char *dir,
               guint       n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (GPtrArray) profiles = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (TincanStore) store = NULL;
  g_autofree char *ini = g_build_filename (dir, "servers.ini", NULL);
  g_autofree char *db = NULL;
  g_autofree char *file = NULL;

  profile = g_object_new (TINCAN_TYPE_PROFILE, "id", "bench", NULL);
  tincan_profile_set_name (profile, "Bench");
  tincan_profile_set_url (profile, "ws://127.0.0.1:9/ws");
  tincan_profile_set_user (profile, "alice");
  g_ptr_array_add (profiles, g_object_ref (profile));
  if (!tincan_profile_save_all (profiles, ini, &error))
    g_error ("Cannot save %s: %s", ini, error->message);

  file = g_strdup_printf ("%s.sqlite", tincan_profile_get_id (profile));
  db = g_build_filename (dir, file, NULL);
  store = tincan_store_new (db, &error);
  if (store == NULL)
    g_error ("Cannot create %s: %s", db, error->message);
  if (n > 0)
    bench_fill_history (store, "lobby", n);
}

/* One start: exec → the first frame, in ms; @cpu_ms: the app's CPU time
 * until then (what a loaded machine cannot inflate). */
static double
run_once (const char *app,
          const char *data_dir,
          const char *home,
          double     *cpu_ms)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                          G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *config = g_build_filename (home, "config", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  const char *line;
  gint64 start, frame;

  g_subprocess_launcher_setenv (launcher, "TINCAN_EXIT_AFTER_FIRST_FRAME", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_BACKEND", "memory", TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "NO_AT_BRIDGE", "1", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  /* Under Xvfb, GL is llvmpipe: compiling shaders in software is not what
   * a desktop's first frame costs. */
  if (g_getenv ("GSK_RENDERER") == NULL)
    g_subprocess_launcher_setenv (launcher, "GSK_RENDERER", "cairo", TRUE);

  start = g_get_monotonic_time ();
  process = g_subprocess_launcher_spawn (launcher, &error, app, "--data-dir", data_dir, NULL);
  if (process == NULL)
    g_error ("Cannot run %s: %s", app, error->message);
  if (!g_subprocess_communicate_utf8 (process, NULL, NULL, &output, NULL, &error))
    g_error ("%s: %s", app, error->message);
  g_subprocess_wait (process, NULL, NULL);

  line = output != NULL ? strstr (output, "first-frame ") : NULL;
  if (line == NULL)
    g_error ("%s drew no frame (output: %s)", app, output != NULL ? output : "");
  frame = g_ascii_strtoll (line + strlen ("first-frame "), NULL, 10);
  line = strstr (line, " cpu ");
  *cpu_ms = line != NULL ? g_ascii_strtoll (line + strlen (" cpu "), NULL, 10) / 1000.0 : 0;

  return (frame - start) / 1000.0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = NULL;
  g_autofree char *empty_dir = NULL;
  g_autofree char *big_dir = NULL;
  g_autofree char *home = NULL;
  g_autoptr (GArray) empty = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) big = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) empty_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) big_cpu = g_array_new (FALSE, FALSE, sizeof (double));
  const char *app = g_getenv ("TINCAN_APP_BIN");
  guint n = 1000000;
  guint runs = 11;
  double empty_ms, big_ms, ratio, cpu, empty_cpu_ms, big_cpu_ms;
  gboolean ok;

  if (app == NULL)
    g_error ("TINCAN_APP_BIN is not set");
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      printf ("no display: run under xvfb-run\n");
      return 77;
    }
  n = bench_env_uint ("BENCH_STARTUP_MESSAGES", n, 1);
  runs = bench_env_uint ("BENCH_STARTUP_RUNS", runs, 1);

  root = g_dir_make_tmp ("tincan-bench-startup-XXXXXX", &error);
  g_assert_no_error (error);
  empty_dir = g_build_filename (root, "empty", NULL);
  big_dir = g_build_filename (root, "big", NULL);
  home = g_build_filename (root, "home", NULL);
  g_mkdir_with_parents (empty_dir, 0700);
  g_mkdir_with_parents (big_dir, 0700);
  g_mkdir_with_parents (home, 0700);
  make_data_dir (empty_dir, 0);
  make_data_dir (big_dir, n);

  /* Warm-up: libraries, fonts and icons into the page cache. */
  run_once (app, empty_dir, home, &cpu);
  run_once (app, big_dir, home, &cpu);

  for (guint i = 0; i < runs; i++)
    {
      double value;

      value = run_once (app, empty_dir, home, &cpu);
      g_array_append_val (empty, value);
      g_array_append_val (empty_cpu, cpu);
      value = run_once (app, big_dir, home, &cpu);
      g_array_append_val (big, value);
      g_array_append_val (big_cpu, cpu);
    }

  empty_ms = bench_percentile (empty, 0.5);
  big_ms = bench_percentile (big, 0.5);
  empty_cpu_ms = bench_percentile (empty_cpu, 0.5);
  big_cpu_ms = bench_percentile (big_cpu, 0.5);
  ratio = big_ms / empty_ms;
  ok = ratio <= LIMIT;

  printf ("startup: `tincan` to its first frame, %u-message history in the room it opens\n"
          "vs an empty one, median of %u runs each, GSK_RENDERER=%s (target 5 of issue #8)\n\n",
          n, runs, g_getenv ("GSK_RENDERER") != NULL ? g_getenv ("GSK_RENDERER") : "cairo");
  printf ("%-32s %10s %10s %8s\n", "", "big", "empty", "ratio");
  printf ("%-32s %10.1f %10.1f %7.2fx\n", "exec → first frame (ms, median)", big_ms, empty_ms, ratio);
  printf ("%-32s %10.1f %10.1f %7.2fx\n", "CPU time until then (ms, median)", big_cpu_ms, empty_cpu_ms,
          big_cpu_ms / empty_cpu_ms);
  printf ("%-32s %10.1f %10.1f\n", "fastest (ms)", g_array_index (big, double, 0),
          g_array_index (empty, double, 0));
  printf ("%-32s %10.1f %10.1f\n", "slowest (ms)", g_array_index (big, double, big->len - 1),
          g_array_index (empty, double, empty->len - 1));
  printf ("\ntarget 5 (≤ %.1fx the empty history): %s\n", LIMIT, ok ? "HOLDS" : "MISSED");
  printf ("RESULT target=5 ratio=%.2f limit=%.1f holds=%s "
          "detail=\"first frame %.0f ms (%u msgs) vs %.0f ms (empty), median of %u; CPU %.0f vs %.0f ms\"\n",
          ratio, LIMIT, ok ? "yes" : "no", big_ms, n, empty_ms, runs, big_cpu_ms, empty_cpu_ms);

  if (g_getenv ("BENCH_STARTUP_KEEP") != NULL)
    printf ("kept %s\n", root);
  else
    bench_remove_tree (root);

  return ok ? 0 : 1;
}
