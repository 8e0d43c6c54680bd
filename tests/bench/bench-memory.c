/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-memory"

#include "config.h"

#include <adwaita.h>
#include <stdio.h>
#include <string.h>

#include "bench-common.h"
#include "bench-history.h"
#include "tincan-conversation-view.h"
#include "tincan-message-list.h"
#include "tincan-session.h"
#include "tincan-window.h"

/* Issue #8, target 4: a room holding 1 000 000 messages, opened, scrolled
 * to the top and back: RSS ≤ 1.3× RSS with 1 000 messages; the history
 * database costs ≤ 300 bytes per short message beyond its text.
 *
 * The parent writes both histories through the store's batch path, then
 * runs one child process per history (so that neither run's heap pollutes
 * the other) that opens the room in the real window (session, window,
 * conversation view), pages up to the first message and back down to the
 * newest, drawing a frame every few pages, and reports its RSS.
 * BENCH_MEMORY_MESSAGES overrides the 1 000 000. Needs a display
 * (xvfb-run). */

#define SMALL_ROOM      1000
#define RSS_LIMIT       1.3
#define BYTES_LIMIT     300
/* A frame every this many pages, where the view happens to be (moving
 * the scroll position in between makes the view page in by itself). */
#define PAGES_PER_FRAME 200

typedef struct
{
  guint64 rss_open_kb;
  guint64 rss_top_kb;
  guint64 rss_back_kb;
  guint64 hwm_kb;
  guint   items_top;
  guint   items_back;
  guint   max_items;
  guint   pages;
  gint64  first_seq;
  gint64  last_seq;
  double  seconds;
  double  load_s;
  double  frame_s;
  guint   binds;
} Usage;

static guint64
status_kb (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, field);
  if (line == NULL)
    return 0;
  return g_ascii_strtoull (line + strlen (field), NULL, 10);
}

static guint frames;
static guint binds;

static void
on_bind (void)
{
  binds++;
}
static gint64 load_us;
static gint64 frame_us;

static void
on_after_paint (GdkFrameClock *clock,
                gpointer       user_data)
{
  frames++;
}

static gboolean
wake_up (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Until the window has drawn @n more frames (or 5 s passed). */
static void
wait_frames (GtkWidget *window,
             guint      n)
{
  guint target = frames + n;
  gint64 t0 = g_get_monotonic_time ();
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint wake = g_timeout_add (20, wake_up, NULL);

  gtk_widget_queue_draw (window);
  while (frames < target && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  frame_us += g_get_monotonic_time () - t0;
}

static void
note_window (GListModel *model,
             Usage      *usage)
{
  usage->max_items = MAX (usage->max_items, g_list_model_get_n_items (model));
}

static int
run_child (const char *path,
           guint       page_size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  g_autoptr (TincanSession) session = NULL;
  g_autoptr (GListStore) sessions = NULL;
  TincanWindow *window;
  TincanConversationView *view;
  TincanMessageList *list;
  GListModel *model;
  GtkAdjustment *adjustment;
  Usage usage = { 0 };
  gint64 start;

  store = tincan_store_new (path, &error);
  if (store == NULL)
    g_error ("Cannot open %s: %s", path, error->message);
  profile = tincan_profile_new ();
  tincan_profile_set_name (profile, "Memory");
  /* Nothing listens there; the room is only read. */
  tincan_profile_set_url (profile, "ws://127.0.0.1:9/ws");
  tincan_profile_set_user (profile, "alice");
  connection = tincan_connection_new (profile, store);
  session = tincan_session_new (connection, FALSE);
  sessions = g_list_store_new (TINCAN_TYPE_SESSION);
  g_list_store_append (sessions, session);

  start = g_get_monotonic_time ();
  window = tincan_window_new (NULL, G_LIST_MODEL (sessions), NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  gtk_window_present (GTK_WINDOW (window));
  tincan_window_open_room (window, session, "lobby");
  view = tincan_window_get_conversation (window);
  g_assert (view != NULL);
  list = tincan_conversation_view_get_model (view);
  model = G_LIST_MODEL (list);
  adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (tincan_conversation_view_get_list_view (view)));
  while (gtk_widget_get_frame_clock (GTK_WIDGET (window)) == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_signal_connect (gtk_list_view_get_factory (tincan_conversation_view_get_list_view (view)), "bind",
                    G_CALLBACK (on_bind), NULL);
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "after-paint",
                    G_CALLBACK (on_after_paint), NULL);
  wait_frames (GTK_WIDGET (window), 3);
  usage.rss_open_kb = status_kb ("VmRSS:");
  note_window (model, &usage);
  /* Pages of a thousand, a fling rather than a wheel click: with GTK 4.8
   * each page costs a few hundred row binds (every row whose position
   * shifts is bound again), whatever its size, so a million messages in
   * pages of 40 would take most of an hour. The window stays bounded by
   * max-size all the same. BENCH_MEMORY_PAGE overrides it. */
  g_object_set (list, "page-size", page_size, NULL);

  /* Up to the first message, as the view pages when scrolled to the top. */
  while (tincan_message_list_get_has_more (list))
    {
      gint64 t0 = g_get_monotonic_time ();

      if (tincan_message_list_load_older (list) == 0)
        g_error ("load_older() added nothing while has-more");
      load_us += g_get_monotonic_time () - t0;
      usage.pages++;
      note_window (model, &usage);
      if (usage.pages % PAGES_PER_FRAME == 0)
        wait_frames (GTK_WIDGET (window), 1);
    }
  gtk_adjustment_set_value (adjustment, 0);
  wait_frames (GTK_WIDGET (window), 2);
  usage.items_top = g_list_model_get_n_items (model);
  {
    g_autoptr (TincanMessage) first = g_list_model_get_item (model, 0);

    usage.first_seq = first != NULL ? tincan_message_get_seq (first) : -1;
  }
  usage.rss_top_kb = status_kb ("VmRSS:");

  /* And back down to the newest, page by page. */
  while (tincan_message_list_get_has_newer (list))
    {
      gint64 t0 = g_get_monotonic_time ();

      tincan_message_list_load_newer (list);
      load_us += g_get_monotonic_time () - t0;
      usage.pages++;
      note_window (model, &usage);
      if (usage.pages % PAGES_PER_FRAME == 0)
        wait_frames (GTK_WIDGET (window), 1);
    }
  tincan_conversation_view_scroll_to_bottom (view);
  wait_frames (GTK_WIDGET (window), 3);
  usage.items_back = g_list_model_get_n_items (model);
  {
    g_autoptr (TincanMessage) last = g_list_model_get_item (model, usage.items_back - 1);

    usage.last_seq = last != NULL ? tincan_message_get_seq (last) : -1;
  }
  usage.rss_back_kb = status_kb ("VmRSS:");
  usage.hwm_kb = status_kb ("VmHWM:");
  usage.seconds = (g_get_monotonic_time () - start) / 1e6;

  printf ("CHILD rss_open=%" G_GUINT64_FORMAT " rss_top=%" G_GUINT64_FORMAT
          " rss_back=%" G_GUINT64_FORMAT " hwm=%" G_GUINT64_FORMAT
          " items_top=%u items_back=%u max_items=%u pages=%u first=%" G_GINT64_FORMAT
          " last=%" G_GINT64_FORMAT " seconds=%.2f load=%.2f frames=%.2f binds=%u\n",
          usage.rss_open_kb, usage.rss_top_kb, usage.rss_back_kb, usage.hwm_kb,
          usage.items_top, usage.items_back, usage.max_items, usage.pages,
          usage.first_seq, usage.last_seq, usage.seconds,
          load_us / 1e6, frame_us / 1e6, binds);
  fflush (stdout);

  gtk_window_destroy (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;

  return 0;
}

static gboolean
parse_child (const char *output,
             Usage      *usage)
{
  const char *line = output != NULL ? strstr (output, "CHILD ") : NULL;

  if (line == NULL)
    return FALSE;

  return sscanf (line, "CHILD rss_open=%" G_GUINT64_FORMAT " rss_top=%" G_GUINT64_FORMAT
                 " rss_back=%" G_GUINT64_FORMAT " hwm=%" G_GUINT64_FORMAT
                 " items_top=%u items_back=%u max_items=%u pages=%u first=%" G_GINT64_FORMAT
                 " last=%" G_GINT64_FORMAT " seconds=%lf load=%lf frames=%lf binds=%u",
                 &usage->rss_open_kb, &usage->rss_top_kb, &usage->rss_back_kb, &usage->hwm_kb,
                 &usage->items_top, &usage->items_back, &usage->max_items, &usage->pages,
                 &usage->first_seq, &usage->last_seq, &usage->seconds,
                 &usage->load_s, &usage->frame_s, &usage->binds) == 14;
}

static void
measure (const char *exe,
         const char *path,
         guint       page_size,
         Usage      *usage)
{
  g_autoptr (GSubprocess) child = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *page = g_strdup_printf ("%u", page_size);

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            exe, "--child", path, page, NULL);
  if (child == NULL)
    g_error ("Cannot start %s: %s", exe, error->message);
  if (!g_subprocess_communicate_utf8 (child, NULL, NULL, &output, NULL, &error))
    g_error ("Child: %s", error->message);
  g_subprocess_wait (child, NULL, NULL);
  if (!g_subprocess_get_successful (child) || !parse_child (output, usage))
    g_error ("The child for %s failed: %s", path, output != NULL ? output : "");
}

static guint64
make_history (const char *path,
              guint       n,
              guint64    *db_bytes,
              double     *seconds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanStore) store = tincan_store_new (path, &error);
  gint64 start = g_get_monotonic_time ();
  guint64 text_bytes;

  if (store == NULL)
    g_error ("Cannot create %s: %s", path, error->message);
  text_bytes = bench_fill_history (store, "lobby", n);
  g_assert_cmpuint (tincan_store_count_messages (store, "lobby"), ==, n);
  /* Closing checkpoints the WAL into the database. */
  g_clear_object (&store);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  *db_bytes = bench_database_size (path);

  return text_bytes;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *small_path = NULL;
  g_autofree char *big_path = NULL;
  guint big_n = 1000000;
  guint page_size = 1000;
  guint64 small_db, big_db, small_text, big_text;
  double small_s, big_s, ratio, peak_ratio, per_message;
  Usage small = { 0 }, big = { 0 };
  gboolean rss_ok, bytes_ok, bounded;

  if (argc == 4 && g_str_equal (argv[1], "--child"))
    {
      if (!gtk_init_check ())
        g_error ("no display");
      adw_init ();
      return run_child (argv[2], MAX (1, (guint) g_ascii_strtoull (argv[3], NULL, 10)));
    }

  if (!gtk_init_check ())
    {
      printf ("no display: run under xvfb-run\n");
      return 77;
    }

  big_n = bench_env_uint ("BENCH_MEMORY_MESSAGES", big_n, SMALL_ROOM);
  page_size = bench_env_uint ("BENCH_MEMORY_PAGE", page_size, 1);

  exe = g_file_read_link ("/proc/self/exe", &error);
  g_assert_no_error (error);
  dir = g_dir_make_tmp ("tincan-bench-memory-XXXXXX", &error);
  g_assert_no_error (error);
  small_path = g_build_filename (dir, "small.sqlite", NULL);
  big_path = g_build_filename (dir, "big.sqlite", NULL);

  small_text = make_history (small_path, SMALL_ROOM, &small_db, &small_s);
  big_text = make_history (big_path, big_n, &big_db, &big_s);

  measure (exe, small_path, page_size, &small);
  measure (exe, big_path, page_size, &big);

  ratio = big.rss_back_kb / (double) MAX (small.rss_back_kb, 1);
  peak_ratio = big.hwm_kb / (double) MAX (small.hwm_kb, 1);
  per_message = (big_db - (double) big_text) / big_n;

  printf ("memory: a room of %u vs %u short messages, opened in the window, paged to the first\n"
          "message and back to the newest, %u at a time (target 4 of issue #8)\n\n",
          big_n, SMALL_ROOM, page_size);
  printf ("%-40s %12s %12s %8s\n", "", "big room", "small room", "ratio");
  printf ("%-40s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT " %7.2fx\n", "RSS opened (KiB)",
          big.rss_open_kb, small.rss_open_kb, big.rss_open_kb / (double) MAX (small.rss_open_kb, 1));
  printf ("%-40s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT " %7.2fx\n", "RSS at the first message (KiB)",
          big.rss_top_kb, small.rss_top_kb, big.rss_top_kb / (double) MAX (small.rss_top_kb, 1));
  printf ("%-40s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT " %7.2fx\n", "RSS back at the newest (KiB)",
          big.rss_back_kb, small.rss_back_kb, ratio);
  printf ("%-40s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT " %7.2fx\n", "peak RSS (KiB)",
          big.hwm_kb, small.hwm_kb, peak_ratio);
  printf ("%-40s %12u %12u\n", "pages loaded (up and down)", big.pages, small.pages);
  printf ("%-40s %12u %12u\n", "largest window (items)", big.max_items, small.max_items);
  printf ("%-40s %12" G_GINT64_FORMAT " %12" G_GINT64_FORMAT "\n", "first seq reached", big.first_seq,
          small.first_seq);
  printf ("%-40s %12" G_GINT64_FORMAT " %12" G_GINT64_FORMAT "\n", "newest seq back at the bottom",
          big.last_seq, small.last_seq);
  printf ("%-40s %12.1f %12.1f\n", "time to open, scroll up and back (s)", big.seconds, small.seconds);
  printf ("%-40s %12.1f %12.1f\n", "  of which paging, rows bound (s)", big.load_s, small.load_s);
  printf ("%-40s %12u %12u\n", "rows bound by the list view", big.binds, small.binds);
  printf ("%-40s %12.1f %12.1f\n", "time to write the history (s)", big_s, small_s);
  printf ("%-40s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT "\n", "database + WAL (bytes)", big_db, small_db);
  printf ("%-40s %12.1f %12.1f\n", "text per message (bytes)", big_text / (double) big_n,
          small_text / (double) SMALL_ROOM);
  printf ("%-40s %12.1f %12.1f\n", "database per message beyond its text",
          per_message, (small_db - (double) small_text) / SMALL_ROOM);

  bounded = big.first_seq == 1 && small.first_seq == 1 &&
            big.last_seq == big_n && small.last_seq == SMALL_ROOM;
  rss_ok = ratio <= RSS_LIMIT && bounded;
  bytes_ok = per_message <= BYTES_LIMIT;
  printf ("\ntarget 4 (RSS ≤ %.1fx the %u-message room, ≤ %d bytes per message beyond its text): %s\n",
          RSS_LIMIT, SMALL_ROOM, BYTES_LIMIT, rss_ok && bytes_ok ? "HOLDS" : "MISSED");
  printf ("RESULT target=4 ratio=%.2f limit=%.1f holds=%s "
          "detail=\"RSS %.1f MiB (%u msgs) vs %.1f MiB (%u), peak %.2fx; DB %.0f B/msg beyond text (<= %d): %s\"\n",
          ratio, RSS_LIMIT, rss_ok && bytes_ok ? "yes" : "no",
          big.rss_back_kb / 1024.0, big_n, small.rss_back_kb / 1024.0, SMALL_ROOM, peak_ratio, per_message, BYTES_LIMIT,
          bytes_ok ? "yes" : "no");

  bench_remove_tree (dir);

  return rss_ok && bytes_ok ? 0 : 1;
}
