/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-hostile"

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "hostile-server.h"
#include "tincan-core.h"

/* TincanConnection against a server that sends what no sane server would:
 * every case must be reported, nothing may crash, and the client's own
 * messages (queued before and during the attack) must all be delivered
 * exactly once once the server behaves again. */

#define TIMEOUT_MS 30000
#define N_BEFORE 10
#define N_DURING 10

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TIMEOUT_MS * 1000;
  guint tick = g_timeout_add (10, tick_cb, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        g_error ("Timed out after %u ms waiting for %s", TIMEOUT_MS, what);
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (tick);
}

typedef struct
{
  HostileServer    *server;
  char             *dir;
  TincanStore      *store;
  TincanProfile    *profile;
  TincanConnection *connection;

  GPtrArray        *ours;           /* TincanMessage we sent */
  GHashTable       *delivered;      /* cid → transitions into delivered */
  GHashTable       *last_state;     /* cid → last TincanMessageState + 1 */
  GPtrArray        *received;       /* TincanMessage */
  GPtrArray        *reports;        /* char *: "error: …", "last-error: …", "unmapped: …" */
  guint             n_errors;
  guint             n_unmapped;
  guint             n_duplicates;
  guint             n_presence;
  guint             n_reconnecting;
  guint             n_failed;
  gboolean          sent_during;
  GPtrArray        *presence_users;
} Fixture;

static void
send_batch (Fixture    *fixture,
            guint       count,
            const char *label)
{
  for (guint i = 0; i < count; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("%s %u", label, i);
      TincanMessage *message;

      message = tincan_connection_send (fixture->connection, "lobby", text, &error);
      g_assert_no_error (error);
      g_assert_nonnull (message);
      g_ptr_array_add (fixture->ours, message);
    }
}

static void
on_state (TincanConnection *connection,
          GParamSpec       *pspec,
          Fixture          *fixture)
{
  switch (tincan_connection_get_state (connection))
    {
    case TINCAN_CONNECTION_STATE_CONNECTED:
      /* The attack follows the welcome at once: these go out while it
       * arrives. */
      if (!fixture->sent_during)
        {
          fixture->sent_during = TRUE;
          send_batch (fixture, N_DURING, "during");
        }
      break;
    case TINCAN_CONNECTION_STATE_RECONNECTING:
      fixture->n_reconnecting++;
      break;
    case TINCAN_CONNECTION_STATE_FAILED:
      fixture->n_failed++;
      break;
    case TINCAN_CONNECTION_STATE_DISCONNECTED:
    case TINCAN_CONNECTION_STATE_CONNECTING:
    case TINCAN_CONNECTION_STATE_OFFLINE:
    default:
      break;
    }
}

static void
on_last_error (TincanConnection *connection,
               GParamSpec       *pspec,
               Fixture          *fixture)
{
  const GError *error = tincan_connection_get_last_error (connection);

  if (error != NULL)
    g_ptr_array_add (fixture->reports, g_strdup_printf ("last-error: %s", error->message));
}

static void
on_error (TincanConnection *connection,
          const GError     *error,
          Fixture          *fixture)
{
  fixture->n_errors++;
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  g_ptr_array_add (fixture->reports, g_strdup_printf ("error: %s", error->message));
}

static void
on_unmapped (TincanConnection *connection,
             TincanMessage    *message,
             GBytes           *payload,
             gboolean          binary,
             Fixture          *fixture)
{
  fixture->n_unmapped++;
  g_ptr_array_add (fixture->reports,
                   g_strdup_printf ("unmapped %s frame, %zu bytes", binary ? "binary" : "text",
                                    payload != NULL ? g_bytes_get_size (payload) : 0));
}

static void
on_duplicate (TincanConnection *connection,
              TincanMessage    *message,
              Fixture          *fixture)
{
  fixture->n_duplicates++;
  g_ptr_array_add (fixture->reports,
                   g_strdup_printf ("duplicate: id %s seq %" G_GINT64_FORMAT,
                                    tincan_message_get_id (message),
                                    tincan_message_get_seq (message)));
}

static void
on_presence (TincanConnection *connection,
             const char       *room,
             const char       *user,
             gboolean          online,
             Fixture          *fixture)
{
  fixture->n_presence++;
  if (fixture->presence_users->len < 100)
    g_ptr_array_add (fixture->presence_users, g_strdup (user));
}

static void
on_received (TincanConnection *connection,
             TincanMessage    *message,
             Fixture          *fixture)
{
  if (tincan_connection_message_is_unmapped (message))
    return;
  g_ptr_array_add (fixture->received, g_object_ref (message));
}

static void
on_updated (TincanConnection *connection,
            TincanMessage    *message,
            Fixture          *fixture)
{
  const char *cid = tincan_message_get_cid (message);
  TincanMessageState state = tincan_message_get_state (message);
  guint previous = GPOINTER_TO_UINT (g_hash_table_lookup (fixture->last_state, cid));

  if (state == TINCAN_MESSAGE_STATE_DELIVERED && previous != TINCAN_MESSAGE_STATE_DELIVERED + 1)
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (fixture->delivered, cid));

      g_hash_table_insert (fixture->delivered, g_strdup (cid), GUINT_TO_POINTER (n + 1));
    }
  g_hash_table_insert (fixture->last_state, g_strdup (cid), GUINT_TO_POINTER (state + 1));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;

  fixture->server = hostile_server_new ();
  fixture->dir = g_dir_make_tmp ("tincan-hostile-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (fixture->dir, "alice.sqlite", NULL);
  fixture->store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  url = hostile_server_dup_url (fixture->server);
  fixture->profile = tincan_profile_new ();
  tincan_profile_set_url (fixture->profile, url);
  tincan_profile_set_user (fixture->profile, "alice");
  g_object_set (fixture->profile,
                "reconnect-base-ms", 50,
                "reconnect-cap-ms", 200,
                NULL);
  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);

  fixture->ours = g_ptr_array_new_with_free_func (g_object_unref);
  fixture->received = g_ptr_array_new_with_free_func (g_object_unref);
  fixture->reports = g_ptr_array_new_with_free_func (g_free);
  fixture->presence_users = g_ptr_array_new_with_free_func (g_free);
  fixture->delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fixture->last_state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_signal_connect (fixture->connection, "notify::state", G_CALLBACK (on_state), fixture);
  g_signal_connect (fixture->connection, "notify::last-error", G_CALLBACK (on_last_error), fixture);
  g_signal_connect (fixture->connection, "error", G_CALLBACK (on_error), fixture);
  g_signal_connect (fixture->connection, "unmapped", G_CALLBACK (on_unmapped), fixture);
  g_signal_connect (fixture->connection, "duplicate", G_CALLBACK (on_duplicate), fixture);
  g_signal_connect (fixture->connection, "presence", G_CALLBACK (on_presence), fixture);
  g_signal_connect (fixture->connection, "message-received", G_CALLBACK (on_received), fixture);
  g_signal_connect (fixture->connection, "message-updated", G_CALLBACK (on_updated), fixture);
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_signal_handlers_disconnect_by_data (fixture->connection, fixture);
  tincan_connection_disconnect (fixture->connection);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&fixture->connection);
  hostile_server_free (fixture->server);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&fixture->profile);
  g_clear_object (&fixture->store);
  remove_dir (fixture->dir);
  g_free (fixture->dir);
  g_ptr_array_unref (fixture->ours);
  g_ptr_array_unref (fixture->received);
  g_ptr_array_unref (fixture->reports);
  g_ptr_array_unref (fixture->presence_users);
  g_hash_table_unref (fixture->delivered);
  g_hash_table_unref (fixture->last_state);
}

/* Conditions */

static gboolean
attack_written (gpointer data)
{
  Fixture *fixture = data;

  return hostile_server_get_attacks_done (fixture->server) >= 1;
}

static gboolean
all_delivered (gpointer data)
{
  Fixture *fixture = data;

  if (fixture->ours->len < N_BEFORE + N_DURING)
    return FALSE;
  for (guint i = 0; i < fixture->ours->len; i++)
    if (tincan_message_get_state (g_ptr_array_index (fixture->ours, i)) != TINCAN_MESSAGE_STATE_DELIVERED)
      return FALSE;
  return TRUE;
}

static gboolean
is_connected (gpointer data)
{
  Fixture *fixture = data;

  return tincan_connection_get_state (fixture->connection) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static gboolean
reconnected (gpointer data)
{
  Fixture *fixture = data;

  return hostile_server_get_connections (fixture->server) >= 2 && is_connected (fixture);
}

static gboolean
flood_received (gpointer data)
{
  Fixture *fixture = data;

  return fixture->n_presence >= HOSTILE_FLOOD_COUNT;
}

static guint
count_reports (Fixture    *fixture,
               const char *needle)
{
  guint n = 0;

  for (guint i = 0; i < fixture->reports->len; i++)
    {
      g_autofree char *folded = g_utf8_casefold (g_ptr_array_index (fixture->reports, i), -1);

      if (strstr (folded, needle) != NULL)
        n++;
    }
  return n;
}

static void
print_reports (Fixture *fixture)
{
  for (guint i = 0; i < fixture->reports->len && i < 40; i++)
    g_test_message ("  reported: %s", (const char *) g_ptr_array_index (fixture->reports, i));
  if (fixture->reports->len > 40)
    g_test_message ("  … %u reports in all", fixture->reports->len);
}

/* Under AddressSanitizer the RSS says little about what was buffered:
 * freed blocks sit in ASan's quarantine (256 MB) instead of being reused,
 * so every short-lived read buffer adds to the RSS. There the peak of the
 * live heap is measured instead, with ASan's allocation hooks. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_HOOKS 1
#endif
#endif

#ifdef HEAP_HOOKS
/* From <sanitizer/allocator_interface.h>, which GCC does not ship. */
extern int __sanitizer_install_malloc_and_free_hooks (void (*malloc_hook) (const volatile void *, size_t),
                                                      void (*free_hook) (const volatile void *));
extern size_t __sanitizer_get_allocated_size (const volatile void *p);

static gint64 heap_live;    /* bytes allocated since heap_peak_reset () */
static gint64 heap_peak;    /* the most heap_live has been */
static gint heap_counting;  /* the hooks count only while this is set */

/* Called by ASan on every allocation and free, on every thread. */
static void
heap_malloc_hook (const volatile void *ptr,
                  size_t               size)
{
  gint64 live;
  gint64 peak;

  if (!g_atomic_int_get (&heap_counting))
    return;
  live = __atomic_add_fetch (&heap_live, (gint64) size, __ATOMIC_SEQ_CST);
  peak = __atomic_load_n (&heap_peak, __ATOMIC_SEQ_CST);
  while (live > peak &&
         !__atomic_compare_exchange_n (&heap_peak, &peak, live, FALSE, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
    ;
}

static void
heap_free_hook (const volatile void *ptr)
{
  if (!g_atomic_int_get (&heap_counting))
    return;
  __atomic_sub_fetch (&heap_live, (gint64) __sanitizer_get_allocated_size (ptr), __ATOMIC_SEQ_CST);
}

/* From now on, the heap's growth in KiB is tracked (freeing what was
 * allocated before counts as negative growth, so the peak is a bound). */
static void
heap_peak_reset (void)
{
  static gsize installed = 0;

  if (g_once_init_enter (&installed))
    {
      g_assert_cmpint (__sanitizer_install_malloc_and_free_hooks (heap_malloc_hook, heap_free_hook), !=, 0);
      g_once_init_leave (&installed, 1);
    }
  g_atomic_int_set (&heap_counting, 0);
  __atomic_store_n (&heap_live, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n (&heap_peak, 0, __ATOMIC_SEQ_CST);
  g_atomic_int_set (&heap_counting, 1);
}

/* The most the live heap grew since heap_peak_reset (), in KiB. */
static gint64
heap_peak_growth_kib (void)
{
  g_atomic_int_set (&heap_counting, 0);
  return __atomic_load_n (&heap_peak, __ATOMIC_SEQ_CST) / 1024;
}
#else

/* VmRSS / VmHWM of this process, in KiB. */
static gint64
proc_status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, field);
  if (line == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen (field), NULL, 10);
}

static void
reset_peak_rss (void)
{
  /* "5" resets VmHWM to the current RSS (Linux 4.0+). */
  g_file_set_contents ("/proc/self/clear_refs", "5", 1, NULL);
}
#endif

/* The common part: queued before, attack, queued during, all delivered
 * exactly once afterwards. */
static void
run_attack (Fixture       *fixture,
            HostileAttack  attack)
{
  g_test_message ("attack: %s", hostile_attack_name (attack));

  send_batch (fixture, N_BEFORE, "before");
  g_assert_cmpuint (tincan_connection_get_queued_count (fixture->connection), ==, N_BEFORE);
  hostile_server_arm (fixture->server, attack);
  tincan_connection_connect (fixture->connection);
  wait_for (attack_written, fixture, "the server to write its attack");
}

static void
check_delivered_exactly_once (Fixture *fixture)
{
  wait_for (all_delivered, fixture, "every queued message to be delivered");
  wait_for (is_connected, fixture, "the connection to be up");

  g_assert_cmpuint (fixture->ours->len, ==, N_BEFORE + N_DURING);
  for (guint i = 0; i < fixture->ours->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (fixture->ours, i);
      const char *cid = tincan_message_get_cid (message);

      /* Stored once by the server, delivered once here, with the seq the
       * server gave it. */
      g_assert_cmpuint (hostile_server_count_cid (fixture->server, cid), ==, 1);
      g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (fixture->delivered, cid)), ==, 1);
      g_assert_cmpint (tincan_message_get_seq (message), ==,
                       hostile_server_get_seq_of (fixture->server, cid));
      /* Our own echo is not a new incoming message. */
      for (guint j = 0; j < fixture->received->len; j++)
        g_assert_cmpstr (tincan_message_get_cid (g_ptr_array_index (fixture->received, j)), !=, cid);
    }
  g_assert_cmpuint (hostile_server_get_stored (fixture->server), ==, N_BEFORE + N_DURING);
  g_assert_cmpuint (tincan_connection_get_queued_count (fixture->connection), ==, 0);
  g_assert_cmpuint (fixture->n_failed, ==, 0);
  print_reports (fixture);
}

/* Tests */

static void
test_malformed (Fixture       *fixture,
                gconstpointer  user_data)
{
  run_attack (fixture, HOSTILE_ATTACK_MALFORMED);
  check_delivered_exactly_once (fixture);

  /* One report per bad frame, and the connection stayed up. */
  g_assert_cmpuint (fixture->n_errors + fixture->n_unmapped, ==, HOSTILE_N_MALFORMED);
  g_assert_cmpuint (hostile_server_get_connections (fixture->server), ==, 1);
  g_assert_cmpuint (fixture->n_reconnecting, ==, 0);
  for (guint i = 0; i < fixture->received->len; i++)
    g_assert_cmpstr (tincan_message_get_id (g_ptr_array_index (fixture->received, i)), !=, "big");
}

static void
test_huge_frame (Fixture       *fixture,
                 gconstpointer  user_data)
{
#ifndef HEAP_HOOKS
  gint64 rss_before;
#endif
  gint64 peak;

  while (g_main_context_iteration (NULL, FALSE))
    ;
#ifdef HEAP_HOOKS
  /* The measure sees a 10 MB buffer, even a short-lived one (less what
   * other threads free meanwhile: a few KiB, which count as negative). */
  heap_peak_reset ();
  g_free (g_malloc (10 * 1024 * 1024));
  g_assert_cmpint (heap_peak_growth_kib (), >=, 9 * 1024);

  heap_peak_reset ();
#else
  rss_before = proc_status_kib ("VmRSS:");
  reset_peak_rss ();
#endif

  run_attack (fixture, HOSTILE_ATTACK_HUGE_FRAME);
  wait_for (reconnected, fixture, "a reconnect after the 10 MB frame");
  check_delivered_exactly_once (fixture);

  /* Refused by max-payload, not buffered: the peak stayed far below 10 MB
   * above where it started. */
#ifdef HEAP_HOOKS
  peak = heap_peak_growth_kib ();
  g_test_message ("the live heap grew by at most %" G_GINT64_FORMAT " KiB during the attack", peak);
  g_assert_cmpint (peak, <, 4 * 1024);
#else
  peak = proc_status_kib ("VmHWM:");
  g_test_message ("RSS before %" G_GINT64_FORMAT " KiB, peak during the attack %" G_GINT64_FORMAT " KiB",
                  rss_before, peak);
  if (rss_before > 0 && peak > 0)
    g_assert_cmpint (peak - rss_before, <, 4 * 1024);
#endif

  g_assert_cmpuint (count_reports (fixture, "larger than"), >=, 1);
}

static void
test_binary (Fixture       *fixture,
             gconstpointer  user_data)
{
  run_attack (fixture, HOSTILE_ATTACK_BINARY);
  check_delivered_exactly_once (fixture);

  /* Both binary frames are reported (an error, or shown as unmapped). */
  g_assert_cmpuint (fixture->n_errors + fixture->n_unmapped, ==, 2);
  g_assert_cmpuint (hostile_server_get_connections (fixture->server), ==, 1);
  for (guint i = 0; i < fixture->received->len; i++)
    g_assert_cmpstr (tincan_message_get_id (g_ptr_array_index (fixture->received, i)), !=, "binary-1");
}

static void
test_invalid_utf8 (Fixture       *fixture,
                   gconstpointer  user_data)
{
  run_attack (fixture, HOSTILE_ATTACK_INVALID_UTF8);
  wait_for (reconnected, fixture, "a reconnect after invalid UTF-8");
  check_delivered_exactly_once (fixture);

  g_assert_cmpuint (count_reports (fixture, "utf-8") + count_reports (fixture, "invalid"), >=, 1);
  for (guint i = 0; i < fixture->received->len; i++)
    g_assert_cmpstr (tincan_message_get_id (g_ptr_array_index (fixture->received, i)), !=, "bad-utf8");
}

typedef struct
{
  gint64 last;
  gint64 max_late;
} Probe;

static gboolean
probe_tick (gpointer data)
{
  Probe *probe = data;
  gint64 now = g_get_monotonic_time ();

  probe->max_late = MAX (probe->max_late, now - probe->last - 10000);
  probe->last = now;
  return G_SOURCE_CONTINUE;
}

static void
test_presence_flood (Fixture       *fixture,
                     gconstpointer  user_data)
{
  gint64 start = g_get_monotonic_time ();
  Probe probe = { start, 0 };
  guint probe_id = g_timeout_add (10, probe_tick, &probe);

  run_attack (fixture, HOSTILE_ATTACK_PRESENCE_FLOOD);
  wait_for (flood_received, fixture, "the whole presence flood");
  probe_tick (&probe);
  g_source_remove (probe_id);
  /* Informative: the core's own share of a main loop iteration. */
  g_test_message ("%u presence events in %" G_GINT64_FORMAT " ms; a 10 ms timer was at most %"
                  G_GINT64_FORMAT " ms late", fixture->n_presence,
                  (g_get_monotonic_time () - start) / 1000, probe.max_late / 1000);
  check_delivered_exactly_once (fixture);

  g_assert_cmpuint (fixture->n_presence, ==, HOSTILE_FLOOD_COUNT);
  g_assert_cmpuint (fixture->n_errors, ==, 0);
  g_assert_cmpuint (hostile_server_get_connections (fixture->server), ==, 1);
}

static guint
count_received_id (Fixture    *fixture,
                   const char *id)
{
  guint n = 0;

  for (guint i = 0; i < fixture->received->len; i++)
    if (g_strcmp0 (tincan_message_get_id (g_ptr_array_index (fixture->received, i)), id) == 0)
      n++;
  return n;
}

static void
test_seq_backwards (Fixture       *fixture,
                    gconstpointer  user_data)
{
  run_attack (fixture, HOSTILE_ATTACK_SEQ_BACKWARDS);
  check_delivered_exactly_once (fixture);

  /* seq 2, then seq 1: the late one is older than what was seen, so it
   * is reported as a duplicate and not shown; seq 2 again likewise. */
  g_assert_cmpuint (count_received_id (fixture, "back-a"), ==, 0);
  g_assert_cmpuint (fixture->n_duplicates, ==, 2);
  /* The id of seq 2 again under seq 3: a new message (nothing dropped),
   * but the reuse is reported. */
  g_assert_cmpuint (count_received_id (fixture, "back-b"), ==, 2);
  g_assert_cmpuint (count_reports (fixture, "back-b"), >=, 1 + 1);
  g_assert_cmpuint (fixture->n_errors, ==, 1);
}

static gboolean
markup_received (gpointer data)
{
  Fixture *fixture = data;
  guint n = 0;

  for (guint i = 0; i < fixture->received->len; i++)
    if (g_str_has_prefix (tincan_message_get_id (g_ptr_array_index (fixture->received, i)), "markup-"))
      n++;
  return n >= HOSTILE_N_MARKUP && fixture->n_presence >= HOSTILE_N_MARKUP;
}

static void
test_markup (Fixture       *fixture,
             gconstpointer  user_data)
{
  run_attack (fixture, HOSTILE_ATTACK_MARKUP);
  wait_for (markup_received, fixture, "the markup messages");
  check_delivered_exactly_once (fixture);

  /* Byte for byte: nothing escaped, stripped or interpreted in the core. */
  for (guint i = 0; i < HOSTILE_N_MARKUP; i++)
    {
      g_autofree char *id = g_strdup_printf ("markup-%u", i);
      TincanMessage *found = NULL;

      for (guint j = 0; j < fixture->received->len; j++)
        if (g_strcmp0 (tincan_message_get_id (g_ptr_array_index (fixture->received, j)), id) == 0)
          found = g_ptr_array_index (fixture->received, j);
      g_assert_nonnull (found);
      g_assert_cmpstr (tincan_message_get_sender (found), ==, hostile_markup[i][0]);
      g_assert_cmpstr (tincan_message_get_text (found), ==, hostile_markup[i][1]);
      g_assert_cmpstr (g_ptr_array_index (fixture->presence_users, i), ==, hostile_markup[i][0]);
    }
  g_assert_cmpuint (fixture->n_errors, ==, 0);
}

static gboolean
long_line_received (gpointer data)
{
  Fixture *fixture = data;

  return count_received_id (fixture, "long-line") >= 1;
}

static void
test_long_line (Fixture       *fixture,
                gconstpointer  user_data)
{
  TincanMessage *found = NULL;

  run_attack (fixture, HOSTILE_ATTACK_LONG_LINE);
  wait_for (long_line_received, fixture, "the 1 MB line");
  check_delivered_exactly_once (fixture);

  for (guint i = 0; i < fixture->received->len; i++)
    if (g_strcmp0 (tincan_message_get_id (g_ptr_array_index (fixture->received, i)), "long-line") == 0)
      found = g_ptr_array_index (fixture->received, i);
  g_assert_nonnull (found);
  g_assert_cmpuint (strlen (tincan_message_get_text (found)), ==, HOSTILE_LONG_LINE_BYTES);
  g_assert_null (strchr (tincan_message_get_text (found), '\n'));
  g_assert_cmpuint (count_received_id (fixture, "long-line"), ==, 1);
}

static void
test_close_code (Fixture       *fixture,
                 gconstpointer  user_data)
{
  HostileAttack attack = GPOINTER_TO_INT (user_data);

  run_attack (fixture, attack);
  wait_for (reconnected, fixture, "a reconnect after an invalid close code");
  check_delivered_exactly_once (fixture);

  /* An invalid close code is a protocol error, not a terminal close: the
   * client said so and reconnected. */
  g_assert_cmpuint (fixture->reports->len, >=, 1);
  g_assert_cmpuint (fixture->n_reconnecting, >=, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, data) \
  g_test_add ("/hostile/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)

  /* First: it measures this process's peak memory. */
  ADD ("huge-frame", test_huge_frame, NULL);
  ADD ("malformed", test_malformed, NULL);
  ADD ("binary", test_binary, NULL);
  ADD ("invalid-utf8", test_invalid_utf8, NULL);
  ADD ("presence-flood", test_presence_flood, NULL);
  ADD ("seq-backwards", test_seq_backwards, NULL);
  ADD ("markup", test_markup, NULL);
  ADD ("long-line", test_long_line, NULL);
  ADD ("close-999", test_close_code, GINT_TO_POINTER (HOSTILE_ATTACK_CLOSE_999));
  ADD ("close-5000", test_close_code, GINT_TO_POINTER (HOSTILE_ATTACK_CLOSE_5000));
  ADD ("close-1005", test_close_code, GINT_TO_POINTER (HOSTILE_ATTACK_CLOSE_1005));

#undef ADD

  return g_test_run ();
}
