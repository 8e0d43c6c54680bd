/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-store"

#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include "tincan-message.h"
#include "tincan-store.h"
#include "tincan-store-private.h"
#include "tincan-util.h"

#define CURRENT_SCHEMA 2
#define CHILD_DIR_ENV "TINCAN_TEST_CHILD_DIR"
#define CHILD_STEP_ENV "TINCAN_TEST_CHILD_STEP"

typedef struct
{
  char        *dir;
  char        *path;
  TincanStore *store;
  /* "committed" emissions: one GPtrArray copy each. */
  GPtrArray   *emissions;
} Fixture;

/* Helpers */

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    {
      g_remove (path);
    }
}

static void
on_committed (TincanStore *store,
              GPtrArray   *messages,
              Fixture     *fixture)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < messages->len; i++)
    g_ptr_array_add (copy, g_object_ref (g_ptr_array_index (messages, i)));

  g_ptr_array_add (fixture->emissions, copy);
}

static TincanStore *
open_store (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  TincanStore *store = tincan_store_new (fixture->path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_signal_connect (store, "committed", G_CALLBACK (on_committed), fixture);

  return store;
}

static void
close_store (Fixture *fixture)
{
  g_signal_handlers_disconnect_by_data (fixture->store, fixture);
  g_assert_finalize_object (g_steal_pointer (&fixture->store));
}

static void
reopen_store (Fixture *fixture)
{
  close_store (fixture);
  fixture->store = open_store (fixture);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("tincan-store-XXXXXX", &error);
  g_assert_no_error (error);
  /* A directory that does not exist yet: the store creates it. */
  fixture->path = g_build_filename (fixture->dir, "profile", "history.db", NULL);
  fixture->emissions = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);

  if (data == NULL)
    fixture->store = open_store (fixture);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  if (fixture->store != NULL)
    close_store (fixture);

  remove_tree (fixture->dir);
  g_clear_pointer (&fixture->emissions, g_ptr_array_unref);
  g_clear_pointer (&fixture->path, g_free);
  g_clear_pointer (&fixture->dir, g_free);
}

typedef gboolean (*ConditionFunc) (gpointer data);

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          guint          timeout_ms,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u ms waiting for %s", timeout_ms, what);

      g_main_context_iteration (NULL, FALSE);
      if (!condition (data) && !g_main_context_pending (NULL))
        {
          /* Nothing ready: block until something is, or the deadline. */
          GSource *timeout = g_timeout_source_new (10);

          g_source_set_dummy_callback (timeout);
          g_source_attach (timeout, NULL);
          g_main_context_iteration (NULL, TRUE);
          g_source_destroy (timeout);
          g_source_unref (timeout);
        }
    }
}

static gboolean
has_emission (gpointer data)
{
  Fixture *fixture = data;

  return fixture->emissions->len > 0;
}

/* Runs everything that is ready now. */
static void
drain_main_loop (void)
{
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

static TincanMessage *
incoming_new (const char *room,
              gint64      seq,
              const char *sender,
              const char *text)
{
  TincanMessage *message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autofree char *id = g_strdup_printf ("%s-%" G_GINT64_FORMAT, room, seq);

  tincan_message_set_room (message, room);
  tincan_message_set_seq (message, seq);
  tincan_message_set_id (message, id);
  tincan_message_set_sender (message, sender);
  tincan_message_set_text (message, text);
  tincan_message_set_timestamp (message, 1795341600000 + seq);
  tincan_message_set_local_timestamp (message, 1795341601000 + seq);

  return message;
}

/* What the send path does (durable now, in the journal), then a read,
 * which applies the journal: the messages have their rows, and the store
 * lets go of them. */
static void
flush (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (tincan_store_flush (fixture->store, &error));
  g_assert_no_error (error);
  (void) tincan_store_count_outbox (fixture->store);
}

static gint64
raw_int (const char *path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);

  return value;
}

static char *
raw_text (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);

  return value;
}

static void
raw_exec (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
assert_same_message (TincanMessage *a,
                     TincanMessage *b)
{
  g_assert_cmpstr (tincan_message_get_room (a), ==, tincan_message_get_room (b));
  g_assert_cmpint (tincan_message_get_seq (a), ==, tincan_message_get_seq (b));
  g_assert_cmpstr (tincan_message_get_id (a), ==, tincan_message_get_id (b));
  g_assert_cmpstr (tincan_message_get_cid (a), ==, tincan_message_get_cid (b));
  g_assert_cmpstr (tincan_message_get_sender (a), ==, tincan_message_get_sender (b));
  g_assert_cmpstr (tincan_message_get_text (a), ==, tincan_message_get_text (b));
  g_assert_cmpint (tincan_message_get_timestamp (a), ==, tincan_message_get_timestamp (b));
  g_assert_cmpint (tincan_message_get_local_timestamp (a), ==, tincan_message_get_local_timestamp (b));
  g_assert_cmpint (tincan_message_get_direction (a), ==, tincan_message_get_direction (b));
  g_assert_cmpint (tincan_message_get_state (a), ==, tincan_message_get_state (b));
  g_assert_cmpstr (tincan_message_get_reason (a), ==, tincan_message_get_reason (b));
}

/* Tests */

static void
test_open_creates (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *mode = NULL;

  g_assert_cmpstr (tincan_store_get_path (fixture->store), ==, fixture->path);
  g_assert_true (g_file_test (fixture->path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (tincan_store_get_schema_version (fixture->store), ==, CURRENT_SCHEMA);

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, 0);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 0);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "lobby"), ==, 0);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 0);

  /* The store holds the file exclusively: looked at once it is closed. */
  close_store (fixture);
  mode = raw_text (fixture->path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
}

static void
test_default_path (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *expected = g_build_filename (fixture->dir, "tincan", "history.db", NULL);

  if (g_test_subprocess ())
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanStore) store = NULL;
      g_autoptr (TincanMessage) message = incoming_new ("lobby", 1, "bob", "x");
      g_autofree char *dir = tincan_store_get_default_dir ();
      g_autofree char *expected_dir = NULL;
      const char *data_home = g_getenv (CHILD_DIR_ENV);

      /* The parent pointed XDG_DATA_HOME at its scratch directory. */
      g_assert_nonnull (data_home);
      expected_dir = g_build_filename (data_home, "tincan", NULL);
      g_assert_cmpstr (g_get_user_data_dir (), ==, data_home);
      g_assert_cmpstr (dir, ==, expected_dir);

      store = tincan_store_new (NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (tincan_store_get_path (store), expected_dir));
      g_assert_true (g_str_has_suffix (tincan_store_get_path (store), "/history.db"));
      tincan_store_save (store, message);
      return;
    }

  g_setenv ("XDG_DATA_HOME", fixture->dir, TRUE);
  g_setenv (CHILD_DIR_ENV, fixture->dir, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv (CHILD_DIR_ENV);
  g_unsetenv ("XDG_DATA_HOME");
  g_test_trap_assert_passed ();

  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (raw_int (expected, "SELECT COUNT(*) FROM messages"), ==, 1);
}

static void
test_insert_reload (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr (GPtrArray) saved = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) lobby = NULL;
  g_autoptr (GPtrArray) random = NULL;
  g_autoptr (GPtrArray) unsequenced = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) rooms = NULL;
  TincanMessage *failed;

  g_ptr_array_add (saved, incoming_new ("lobby", 1, "bob", "hello"));
  g_ptr_array_add (saved, incoming_new ("lobby", 2, "carol", "héllo wörld ✓"));
  g_ptr_array_add (saved, incoming_new ("random", 1, "bob", ""));
  g_ptr_array_add (saved, tincan_message_new_outgoing ("lobby", "alice", "queued one"));
  failed = tincan_message_new_outgoing ("lobby", "alice", "rejected one");
  tincan_message_set_failed (failed, "too_large");
  g_ptr_array_add (saved, failed);

  for (guint i = 0; i < saved->len; i++)
    tincan_store_save (fixture->store, g_ptr_array_index (saved, i));

  /* Reads see every save, even before the batch idle ran. */
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, 5);

  reopen_store (fixture);

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, 5);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 4);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "random"), ==, 1);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "nowhere"), ==, 0);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "lobby"), ==, 2);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "random"), ==, 1);

  rooms = tincan_store_list_rooms (fixture->store);
  g_assert_cmpstrv (rooms, ((const char * const[]) { "lobby", "random", NULL }));

  lobby = tincan_store_load_page (fixture->store, "lobby", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lobby->len, ==, 2);
  /* Fresh objects, equal in every field to what was saved. */
  g_assert_true (g_ptr_array_index (lobby, 0) != g_ptr_array_index (saved, 1));
  assert_same_message (g_ptr_array_index (lobby, 0), g_ptr_array_index (saved, 1));
  assert_same_message (g_ptr_array_index (lobby, 1), g_ptr_array_index (saved, 0));

  random = tincan_store_load_page (fixture->store, "random", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (random->len, ==, 1);
  assert_same_message (g_ptr_array_index (random, 0), g_ptr_array_index (saved, 2));

  unsequenced = tincan_store_load_unsequenced (fixture->store, "lobby", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unsequenced->len, ==, 2);
  assert_same_message (g_ptr_array_index (unsequenced, 0), g_ptr_array_index (saved, 3));
  assert_same_message (g_ptr_array_index (unsequenced, 1), g_ptr_array_index (saved, 4));
  g_assert_cmpstr (tincan_message_get_reason (g_ptr_array_index (unsequenced, 1)), ==, "too_large");
}

static void
test_dedup_seq (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (TincanMessage) first = incoming_new ("lobby", 5, "bob", "original");
  g_autoptr (TincanMessage) again = incoming_new ("lobby", 5, "bob", "replayed after resume");
  g_autoptr (TincanMessage) other_room = incoming_new ("random", 5, "bob", "same seq, other room");
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *inserted;

  tincan_store_save (fixture->store, first);
  flush (fixture);
  g_assert_cmpuint (fixture->emissions->len, ==, 1);
  g_ptr_array_set_size (fixture->emissions, 0);
  /* Nobody holds the stored object any more. */
  g_assert_finalize_object (g_steal_pointer (&first));

  tincan_store_save (fixture->store, again);
  tincan_store_save (fixture->store, other_room);
  flush (fixture);

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 1);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "random"), ==, 1);

  /* The duplicate is not announced as new. */
  g_assert_cmpuint (fixture->emissions->len, ==, 1);
  inserted = g_ptr_array_index (fixture->emissions, 0);
  g_assert_cmpuint (inserted->len, ==, 1);
  g_assert_true (g_ptr_array_index (inserted, 0) == other_room);

  /* What is stored wins, and the duplicate object does not stand in for it. */
  page = tincan_store_load_page (fixture->store, "lobby", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 1);
  g_assert_true (g_ptr_array_index (page, 0) != again);
  g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (page, 0)), ==, "original");
}

static void
test_echo_of_forgotten_message (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr (TincanMessage) mine = tincan_message_new_outgoing ("lobby", "alice", "hi");
  g_autoptr (TincanMessage) echo = incoming_new ("lobby", 7, "alice", "hi");
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  TincanMessage *stored;

  tincan_message_set_cid (echo, tincan_message_get_cid (mine));
  tincan_store_save (fixture->store, mine);
  flush (fixture);
  g_ptr_array_set_size (fixture->emissions, 0);
  g_assert_finalize_object (g_steal_pointer (&mine));

  /* The echo arrives when the app no longer holds our message. */
  tincan_store_save (fixture->store, echo);
  flush (fixture);
  g_assert_cmpuint (fixture->emissions->len, ==, 0);

  page = tincan_store_load_page (fixture->store, "lobby", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 1);
  stored = g_ptr_array_index (page, 0);
  g_assert_true (stored != echo);
  g_assert_true (tincan_message_is_outgoing (stored));
  g_assert_cmpint (tincan_message_get_seq (stored), ==, 7);
  g_assert_cmpint (tincan_message_get_state (stored), ==, TINCAN_MESSAGE_STATE_DELIVERED);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 0);
}

static void
test_dedup_cid (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (TincanMessage) mine = tincan_message_new_outgoing ("lobby", "alice", "hi");
  g_autoptr (TincanMessage) before = incoming_new ("lobby", 10, "bob", "earlier");
  g_autoptr (TincanMessage) echo = NULL;
  g_autoptr (TincanMessage) found = NULL;
  g_autoptr (GPtrArray) unsequenced = NULL;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;

  /* Sent first, sequenced after bob's message: the row keeps its place
   * in insertion order and takes its seq from the echo. */
  tincan_message_set_state (mine, TINCAN_MESSAGE_STATE_SENDING);
  tincan_store_save (fixture->store, mine);
  flush (fixture);
  tincan_store_save (fixture->store, before);
  flush (fixture);

  unsequenced = tincan_store_load_unsequenced (fixture->store, "lobby", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unsequenced->len, ==, 1);
  g_assert_true (g_ptr_array_index (unsequenced, 0) == mine);
  g_clear_pointer (&unsequenced, g_ptr_array_unref);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 1);

  /* The server's broadcast of our message, as the protocol parses it. */
  echo = incoming_new ("lobby", 11, "alice", "hi");
  tincan_message_set_cid (echo, tincan_message_get_cid (mine));
  tincan_store_save (fixture->store, echo);
  flush (fixture);

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 2);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "lobby"), ==, 11);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 0);

  /* Only the two inserts were announced, never the update. */
  g_assert_cmpuint (fixture->emissions->len, ==, 2);

  /* The object the app already shows learnt the seq and the delivery. */
  g_assert_cmpint (tincan_message_get_seq (mine), ==, 11);
  g_assert_cmpstr (tincan_message_get_id (mine), ==, "lobby-11");
  g_assert_cmpint (tincan_message_get_state (mine), ==, TINCAN_MESSAGE_STATE_DELIVERED);

  page = tincan_store_load_page (fixture->store, "lobby", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_true (g_ptr_array_index (page, 0) == mine);
  g_assert_true (g_ptr_array_index (page, 1) == before);
  g_clear_pointer (&page, g_ptr_array_unref);

  found = tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (mine));
  g_assert_true (found == mine);
  g_clear_object (&found);

  unsequenced = tincan_store_load_unsequenced (fixture->store, "lobby", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unsequenced->len, ==, 0);

  /* On disk: one row, outgoing, delivered, in its original place. */
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages WHERE seq = 11"), ==, 1);
  g_assert_cmpint (raw_int (fixture->path,
                            "SELECT direction FROM messages WHERE seq = 11"),
                   ==, TINCAN_MESSAGE_DIRECTION_OUTGOING);
  g_assert_cmpint (raw_int (fixture->path,
                            "SELECT (SELECT pk FROM messages WHERE seq = 11) <"
                            " (SELECT pk FROM messages WHERE seq = 10)"),
                   ==, 1);

  fixture->store = open_store (fixture);

  found = tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (mine));
  g_assert_nonnull (found);
  g_assert_true (found != mine);
  g_assert_cmpint (tincan_message_get_seq (found), ==, 11);
  g_assert_true (tincan_message_is_outgoing (found));
  g_assert_cmpint (tincan_message_get_state (found), ==, TINCAN_MESSAGE_STATE_DELIVERED);
  g_assert_cmpint (tincan_message_get_timestamp (found), ==, 1795341600011);
  g_assert_cmpstr (tincan_message_get_text (found), ==, "hi");
}

static void
test_ack_same_object (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr (TincanMessage) mine = tincan_message_new_outgoing ("lobby", "alice", "hi");
  g_autoptr (TincanMessage) found = NULL;
  g_autoptr (GError) error = NULL;

  tincan_store_save (fixture->store, mine);
  flush (fixture);
  g_assert_cmpuint (fixture->emissions->len, ==, 1);

  /* What the connection does on "ack": fill in and save the same object. */
  tincan_message_set_seq (mine, 43);
  tincan_message_set_id (mine, "m-43");
  tincan_message_set_timestamp (mine, 1795341600000);
  tincan_message_set_state (mine, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_store_save (fixture->store, mine);
  flush (fixture);

  g_assert_cmpuint (fixture->emissions->len, ==, 1);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, 1);

  reopen_store (fixture);
  found = tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (mine));
  g_assert_nonnull (found);
  assert_same_message (found, mine);
}

static void
test_paging (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) seqs = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 before_seq = 0;
  guint pages = 0;

  /* Gaps on purpose: paging must follow seq values, not positions. */
  for (gint64 i = 1; i <= 250; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i * 3 + (i % 2), "bob", "x");

      tincan_store_save (fixture->store, message);
    }
  for (gint64 i = 1; i <= 20; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("random", i, "bob", "other room");

      tincan_store_save (fixture->store, message);
    }

  for (;;)
    {
      g_autoptr (GPtrArray) page = NULL;
      g_autoptr (GError) error = NULL;

      page = tincan_store_load_page (fixture->store, "lobby", before_seq, 100, &error);
      g_assert_no_error (error);
      if (page->len == 0)
        break;

      pages++;
      g_assert_cmpuint (page->len, <=, 100);

      for (guint i = 0; i < page->len; i++)
        {
          TincanMessage *message = g_ptr_array_index (page, i);
          gint64 seq = tincan_message_get_seq (message);

          g_assert_cmpstr (tincan_message_get_room (message), ==, "lobby");
          /* Newest first, strictly below the previous page. */
          if (before_seq != 0)
            g_assert_cmpint (seq, <, before_seq);
          if (i > 0)
            g_assert_cmpint (seq, <, tincan_message_get_seq (g_ptr_array_index (page, i - 1)));
          g_array_append_val (seqs, seq);
        }

      before_seq = tincan_message_get_seq (g_ptr_array_index (page, page->len - 1));
    }

  g_assert_cmpuint (pages, ==, 3);
  g_assert_cmpuint (seqs->len, ==, 250);

  /* Every message exactly once: no gap, no overlap. */
  for (guint i = 0; i < seqs->len; i++)
    g_assert_true (g_hash_table_add (seen, &g_array_index (seqs, gint64, i)));
  for (gint64 i = 1; i <= 250; i++)
    {
      gint64 seq = i * 3 + (i % 2);

      g_assert_true (g_hash_table_contains (seen, &seq));
    }

  /* before_seq inside a gap and past the end. */
  {
    g_autoptr (GPtrArray) page = tincan_store_load_page (fixture->store, "lobby", 8, 10, NULL);

    /* seqs 4 (i=1) and 6 (i=2) are below 8. */
    g_assert_cmpuint (page->len, ==, 2);
    g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (page, 0)), ==, 6);
    g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (page, 1)), ==, 4);
  }
  {
    g_autoptr (GPtrArray) page = tincan_store_load_page (fixture->store, "lobby", 100000, 1, NULL);

    g_assert_cmpuint (page->len, ==, 1);
    g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (page, 0)), ==, 750);
  }
  {
    g_autoptr (GPtrArray) page = tincan_store_load_page (fixture->store, "nowhere", 0, 10, NULL);

    g_assert_cmpuint (page->len, ==, 0);
  }
}

static void
test_outbox_order (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr (TincanMessage) m1 = tincan_message_new_outgoing ("lobby", "alice", "one");
  g_autoptr (TincanMessage) m2 = tincan_message_new_outgoing ("random", "alice", "two");
  g_autoptr (TincanMessage) m3 = tincan_message_new_outgoing ("lobby", "alice", "three");
  g_autoptr (TincanMessage) m4 = tincan_message_new_outgoing ("random", "alice", "four");
  g_autoptr (TincanMessage) m5 = tincan_message_new_outgoing ("lobby", "alice", "five");
  g_autoptr (TincanMessage) incoming = incoming_new ("lobby", 1, "bob", "queued? no");
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;
  const char *expected[] = { "one", "two", "five" };

  /* Insertion order counts, not the clock. */
  tincan_message_set_local_timestamp (m5, 1);
  tincan_store_save (fixture->store, m1);
  tincan_store_save (fixture->store, m2);
  tincan_store_save (fixture->store, incoming);
  tincan_store_save (fixture->store, m3);
  flush (fixture);
  tincan_store_save (fixture->store, m4);
  tincan_store_save (fixture->store, m5);
  flush (fixture);

  /* m1 is on the wire, m3 was rejected, m4 acknowledged. */
  tincan_message_set_state (m1, TINCAN_MESSAGE_STATE_SENDING);
  tincan_message_set_failed (m3, "too_large");
  tincan_message_set_seq (m4, 2);
  tincan_message_set_state (m4, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_store_save (fixture->store, m1);
  tincan_store_save (fixture->store, m3);
  tincan_store_save (fixture->store, m4);

  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 3);
  outbox = tincan_store_load_outbox (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  g_assert_true (g_ptr_array_index (outbox, 0) == m1);
  g_assert_true (g_ptr_array_index (outbox, 1) == m2);
  g_assert_true (g_ptr_array_index (outbox, 2) == m5);
  g_clear_pointer (&outbox, g_ptr_array_unref);

  /* The same after a restart, from the database alone. */
  reopen_store (fixture);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 3);
  outbox = tincan_store_load_outbox (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  for (guint i = 0; i < outbox->len; i++)
    g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (outbox, i)), ==, expected[i]);
  g_assert_cmpint (tincan_message_get_state (g_ptr_array_index (outbox, 0)), ==,
                   TINCAN_MESSAGE_STATE_SENDING);
  g_assert_cmpstr (tincan_message_get_cid (g_ptr_array_index (outbox, 2)), ==,
                   tincan_message_get_cid (m5));
}

static void
test_delete (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr (TincanMessage) failed = tincan_message_new_outgoing ("lobby", "alice", "oops");
  g_autoptr (TincanMessage) kept = tincan_message_new_outgoing ("lobby", "alice", "fine");
  g_autoptr (TincanMessage) found = NULL;
  g_autoptr (GError) error = NULL;

  tincan_message_set_failed (failed, "too_large");
  tincan_store_save (fixture->store, failed);
  tincan_store_save (fixture->store, kept);

  g_assert_true (tincan_store_delete (fixture->store, failed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 1);
  g_assert_null (tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (failed)));

  found = tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (kept));
  g_assert_true (found == kept);

  /* Saved again (Retry after Delete is a new send): a new row. */
  tincan_message_set_state (failed, TINCAN_MESSAGE_STATE_QUEUED);
  tincan_store_save (fixture->store, failed);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 2);
}

static gboolean
weak_ref_is_empty (gpointer data)
{
  g_autoptr (GObject) object = g_weak_ref_get (data);

  return object == NULL;
}

static void
test_live_objects (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr (GPtrArray) first = NULL;
  g_autoptr (GPtrArray) second = NULL;
  GWeakRef weak;

  for (gint64 seq = 1; seq <= 5; seq++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", seq, "bob", "x");

      tincan_store_save (fixture->store, message);
    }

  first = tincan_store_load_page (fixture->store, "lobby", 0, 5, NULL);
  second = tincan_store_load_page (fixture->store, "lobby", 0, 5, NULL);
  g_assert_cmpuint (first->len, ==, 5);
  for (guint i = 0; i < first->len; i++)
    g_assert_true (g_ptr_array_index (first, i) == g_ptr_array_index (second, i));

  /* A state change through the loaded object is what the next read sees. */
  tincan_message_set_text (g_ptr_array_index (first, 0), "edited");
  tincan_store_save (fixture->store, g_ptr_array_index (first, 0));
  flush (fixture);

  /* The store itself holds no strong reference to what it committed,
   * once it has applied the journal (on its own, soon). */
  g_weak_ref_init (&weak, g_ptr_array_index (first, 0));
  g_clear_pointer (&first, g_ptr_array_unref);
  g_clear_pointer (&second, g_ptr_array_unref);
  g_ptr_array_set_size (fixture->emissions, 0);
  wait_for (weak_ref_is_empty, &weak, 5000, "the store to let go of a message");
  g_weak_ref_clear (&weak);

  /* Once nobody holds them, reads build new objects from the rows. */
  first = tincan_store_load_page (fixture->store, "lobby", 0, 5, NULL);
  g_assert_cmpuint (first->len, ==, 5);
  g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (first, 0)), ==, "edited");
}

static gboolean
not_pending (gpointer data)
{
  gpointer *store_and_message = data;

  return !tincan_store_is_pending (store_and_message[0], store_and_message[1]);
}

/* With nobody listening to "committed" (the app), a batch drops the
 * messages only it holds as soon as they are written, and still maps a
 * row to the object someone else holds: a read hands out that object,
 * and saving it again updates its row. */
static void
test_live_without_listeners (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr (TincanMessage) held = incoming_new ("lobby", 2, "bob", "held");
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  GWeakRef dropped;
  gpointer store_and_message[2];
  const guint n = 9000;  /* over two batches for the worker */

  g_signal_handlers_disconnect_by_data (fixture->store, fixture);
  drain_main_loop ();

  {
    g_autoptr (TincanMessage) first = incoming_new ("lobby", 1, "bob", "dropped");

    g_weak_ref_init (&dropped, first);
    tincan_store_save (fixture->store, first);
  }
  tincan_store_save (fixture->store, held);
  for (guint i = 3; i <= n; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i, "bob", "burst");

      tincan_store_save (fixture->store, message);
    }

  store_and_message[0] = fixture->store;
  store_and_message[1] = held;
  wait_for (not_pending, store_and_message, 10000, "the batch that holds the message");
  wait_for (weak_ref_is_empty, &dropped, 5000, "the store to let go of the others");
  g_weak_ref_clear (&dropped);

  /* Newest first: seq 3, 2, 1. */
  page = tincan_store_load_page (fixture->store, "lobby", 4, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 3);
  g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (page, 2)), ==, "dropped");
  g_assert_true (g_ptr_array_index (page, 1) == held);

  tincan_message_set_text (held, "held, edited");
  tincan_store_save (fixture->store, held);
  flush (fixture);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, n);
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages WHERE text = 'held, edited'"), ==, 1);
}

/* A save is pending until it is on disk; a flush, or the store's own
 * batch, writes it. */
static void
test_is_pending (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr (TincanMessage) first = incoming_new ("lobby", 1, "bob", "one");
  g_autoptr (TincanMessage) second = incoming_new ("lobby", 2, "bob", "two");
  g_autoptr (GError) error = NULL;

  g_assert_false (tincan_store_is_pending (fixture->store, first));
  tincan_store_save (fixture->store, first);
  g_assert_true (tincan_store_is_pending (fixture->store, first));
  g_assert_false (tincan_store_is_pending (fixture->store, second));

  g_assert_true (tincan_store_flush (fixture->store, &error));
  g_assert_no_error (error);
  g_assert_false (tincan_store_is_pending (fixture->store, first));

  /* Saved again after a change: pending again. */
  tincan_message_set_state (first, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_message_set_text (first, "one, edited");
  tincan_store_save (fixture->store, first);
  g_assert_true (tincan_store_is_pending (fixture->store, first));
  flush (fixture);
  g_assert_false (tincan_store_is_pending (fixture->store, first));
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 1);
}

static gboolean
count_is (gpointer data)
{
  Fixture *fixture = data;

  return fixture->emissions->len >= 1;
}

static void
test_batching (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (TincanStore) other = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanMessage) dup = NULL;
  GPtrArray *inserted;
  const guint n = 200;

  drain_main_loop ();

  for (guint i = 0; i < n; i++)
    {
      TincanMessage *message;

      if (i % 2 == 0)
        message = incoming_new ("lobby", i + 1, "bob", "burst");
      else
        message = tincan_message_new_outgoing ("lobby", "alice", "burst");

      g_ptr_array_add (messages, message);
      tincan_store_save (fixture->store, message);
    }
  /* Saving the same object twice in a turn stores it once. */
  tincan_store_save (fixture->store, g_ptr_array_index (messages, 0));

  /* Nothing written yet: the writes wait for the idle. */
  g_assert_cmpuint (fixture->emissions->len, ==, 0);

  wait_for (has_emission, fixture, 5000, "the batch commit");
  drain_main_loop ();

  /* One transaction, one emission, every message in save order. */
  g_assert_cmpuint (fixture->emissions->len, ==, 1);
  inserted = g_ptr_array_index (fixture->emissions, 0);
  g_assert_cmpuint (inserted->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_true (g_ptr_array_index (inserted, i) == g_ptr_array_index (messages, i));

  /* Written by the idle alone: closing the store has nothing left to
   * write, and a fresh connection sees all of it. */
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, n);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), ==, 0);
  other = tincan_store_new (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tincan_store_count_messages (other, "lobby"), ==, n);
  g_assert_cmpuint (tincan_store_count_outbox (other), ==, n / 2);
  g_clear_object (&other);
  fixture->store = open_store (fixture);

  /* A later turn with a duplicate and an update: only the new one counts. */
  dup = incoming_new ("lobby", 1, "bob", "burst again");
  tincan_message_set_state (g_ptr_array_index (messages, 1), TINCAN_MESSAGE_STATE_SENDING);
  tincan_store_save (fixture->store, dup);
  tincan_store_save (fixture->store, g_ptr_array_index (messages, 1));
  {
    g_autoptr (TincanMessage) fresh = incoming_new ("lobby", 100000, "bob", "new");

    tincan_store_save (fixture->store, fresh);
  }
  g_ptr_array_set_size (fixture->emissions, 0);
  wait_for (count_is, fixture, 5000, "the second batch");
  drain_main_loop ();
  g_assert_cmpuint (fixture->emissions->len, ==, 1);
  inserted = g_ptr_array_index (fixture->emissions, 0);
  g_assert_cmpuint (inserted->len, ==, 1);
  g_assert_cmpint (tincan_message_get_seq (g_ptr_array_index (inserted, 0)), ==, 100000);
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, n + 1);
}

/* The batch commit runs on the store's worker thread. A message saved
 * again while its first batch is being written, and reads meanwhile, must
 * see one row per message with its newest save; each new message is
 * announced once. */
static void
test_worker_in_flight (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr (TincanMessage) outgoing = tincan_message_new_outgoing ("lobby", "alice", "first draft");
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GHashTable) announced = g_hash_table_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  const guint n = 9000;  /* over two batches for the worker (4 096 saves each) */

  drain_main_loop ();

  tincan_store_save (fixture->store, outgoing);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i + 1, "bob", "burst");

      tincan_store_save (fixture->store, message);
    }

  /* The burst handed batches to the worker, the first with "outgoing" in
   * it; none is finished before the main loop runs. */
  g_assert_true (tincan_store_is_pending (fixture->store, outgoing));

  /* Changed and saved again while the first write may be running. */
  tincan_message_set_text (outgoing, "final text");
  tincan_message_set_state (outgoing, TINCAN_MESSAGE_STATE_SENDING);
  tincan_store_save (fixture->store, outgoing);
  g_assert_true (tincan_store_is_pending (fixture->store, outgoing));

  /* A read waits for the worker and sees everything. */
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, n + 1);
  g_assert_false (tincan_store_is_pending (fixture->store, outgoing));
  outbox = tincan_store_load_outbox (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 1);
  g_assert_true (g_ptr_array_index (outbox, 0) == outgoing);

  drain_main_loop ();
  for (guint i = 0; i < fixture->emissions->len; i++)
    {
      GPtrArray *inserted = g_ptr_array_index (fixture->emissions, i);

      for (guint j = 0; j < inserted->len; j++)
        g_assert_true (g_hash_table_add (announced, g_ptr_array_index (inserted, j)));
    }
  g_assert_cmpuint (g_hash_table_size (announced), ==, n + 1);
  g_assert_true (g_hash_table_contains (announced, outgoing));

  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, n + 1);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages WHERE direction = 1"), ==, 1);
  {
    g_autofree char *text = raw_text (fixture->path, "SELECT text FROM messages WHERE direction = 1");

    g_assert_cmpstr (text, ==, "final text");
  }
  g_assert_cmpint (raw_int (fixture->path, "SELECT state FROM messages WHERE direction = 1"),
                   ==, TINCAN_MESSAGE_STATE_SENDING);
}

static void
on_written (TincanStore *store,
            guint       *count)
{
  (*count)++;
}

static gboolean
count_changed (gpointer data)
{
  guint *counts = data;

  return counts[0] != counts[1];
}

/* A send needs its own message on disk, not every pending save: those
 * are journaled at once; while the worker writes a batch that holds
 * one, the store says BUSY and "written" follows. */
static void
test_make_durable (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr (TincanMessage) first = tincan_message_new_outgoing ("lobby", "alice", "first");
  g_autoptr (TincanMessage) second = tincan_message_new_outgoing ("lobby", "alice", "second");
  g_autoptr (TincanMessage) third = tincan_message_new_outgoing ("lobby", "alice", "third");
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;
  TincanStoreDurability durability;
  guint counts[2] = { 0, 0 };
  const guint n = 9000;  /* over two batches for the worker (4 096 saves each) */

  drain_main_loop ();
  g_signal_connect (fixture->store, "written", G_CALLBACK (on_written), &counts[0]);

  tincan_store_save (fixture->store, first);
  tincan_store_save (fixture->store, second);
  durability = tincan_store_make_durable (fixture->store, &first, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (durability, ==, TINCAN_STORE_DURABLE);
  g_assert_false (tincan_store_is_pending (fixture->store, first));
  g_assert_true (tincan_store_is_pending (fixture->store, second));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i + 1, "bob", "burst");

      tincan_store_save (fixture->store, message);
    }
  tincan_store_save (fixture->store, third);

  /* A burst hands batches to the worker as it is saved, the first with
   * "second" in it; none is finished before the main loop runs. */
  if (g_getenv ("TINCAN_STORE_SYNC") == NULL)
    {
      durability = tincan_store_make_durable (fixture->store, &second, 1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (durability, ==, TINCAN_STORE_BUSY);
    }

  /* The next ones to send, in order, asked again after each batch, as
   * the outbox pump does. */
  {
    TincanMessage *next[] = { second, third };

    while ((durability = tincan_store_make_durable (fixture->store, next, G_N_ELEMENTS (next), &error)) == TINCAN_STORE_BUSY)
      {
        counts[1] = counts[0];
        wait_for (count_changed, counts, 5000, "the store's \"written\"");
      }
  }
  g_assert_no_error (error);
  g_assert_cmpint (durability, ==, TINCAN_STORE_DURABLE);
  g_assert_false (tincan_store_is_pending (fixture->store, second));
  g_assert_false (tincan_store_is_pending (fixture->store, third));

  g_signal_handlers_disconnect_by_data (fixture->store, &counts[0]);
  reopen_store (fixture);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, n + 3);
  outbox = tincan_store_load_outbox (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (outbox, 0)), ==, "first");
  g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (outbox, 1)), ==, "second");
  g_assert_cmpstr (tincan_message_get_text (g_ptr_array_index (outbox, 2)), ==, "third");
}

/* A flood handled without a main-loop turn hands batches to the worker
 * as it goes. A message saved again while a batch holds it waits for that
 * batch: a message with neither cid nor seq (a plain-text backend) still
 * ends up in one row, with its newest text. */
static void
test_worker_held (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr (TincanMessage) plain = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autoptr (GError) error = NULL;
  const guint n = 12000;

  drain_main_loop ();
  tincan_message_set_room (plain, "lobby");
  tincan_message_set_sender (plain, "bob");
  tincan_message_set_text (plain, "first text");
  tincan_store_save (fixture->store, plain);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i + 1, "bob", "burst");

      tincan_store_save (fixture->store, message);
      /* Saved again while the first batch (which holds it: the worker
       * gets 4 096 saves at a time) may be written. */
      if (i == 6000)
        {
          tincan_message_set_text (plain, "second text");
          tincan_store_save (fixture->store, plain);
        }
    }
  g_assert_true (tincan_store_is_pending (fixture->store, plain));

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, n + 1);
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages WHERE seq IS NULL"), ==, 1);
  {
    g_autofree char *text = raw_text (fixture->path, "SELECT text FROM messages WHERE seq IS NULL");

    g_assert_cmpstr (text, ==, "second text");
  }
}

/* Writes that fail (a full disk) lose nothing: the saves wait (the
 * failure is logged as a warning), and once there is room again every
 * message is stored exactly once, each announced once. */
static void
run_disk_full (Fixture  *fixture,
               gboolean  listening)
{
  g_autoptr (GHashTable) announced = g_hash_table_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  guint counts[2] = { 0, 0 };
  GLogLevelFlags fatal;
  const guint n = 9000;  /* over two batches for the worker (4 096 saves each) */

  /* Nobody listening to "committed" (the app), and nobody else holding
   * the messages: still, a failed batch loses none. */
  if (!listening)
    g_signal_handlers_disconnect_by_data (fixture->store, fixture);
  drain_main_loop ();
  g_signal_connect (fixture->store, "written", G_CALLBACK (on_written), &counts[0]);
  /* The warnings are expected here. */
  fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);

  /* The schema's pages and a few more: far from 3000 messages. */
  _tincan_store_set_max_pages (fixture->store, 12);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i + 1, "bob", "burst");

      tincan_store_save (fixture->store, message);
    }
  counts[1] = counts[0];
  if (g_getenv ("TINCAN_STORE_SYNC") != NULL)
    drain_main_loop ();  /* no worker: the batch fails in an idle */
  else
    wait_for (count_changed, counts, 5000, "a batch to fail");
  g_log_set_always_fatal (fatal);

  _tincan_store_set_max_pages (fixture->store, 0);
  g_assert_true (tincan_store_flush (fixture->store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, n);

  drain_main_loop ();
  for (guint i = 0; i < fixture->emissions->len; i++)
    {
      GPtrArray *inserted = g_ptr_array_index (fixture->emissions, i);

      for (guint j = 0; j < inserted->len; j++)
        g_assert_true (g_hash_table_add (announced, g_ptr_array_index (inserted, j)));
    }
  g_assert_cmpuint (g_hash_table_size (announced), ==, listening ? n : 0);

  g_signal_handlers_disconnect_by_data (fixture->store, &counts[0]);
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, n);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(DISTINCT seq) FROM messages"), ==, n);
  /* Every field of every message. */
  g_assert_cmpint (raw_int (fixture->path,
                            "SELECT COUNT(*) FROM messages WHERE text = 'burst' AND sender = 'bob'"
                            " AND id = 'lobby-' || seq AND ts = 1795341600000 + seq"
                            " AND local_ts = 1795341601000 + seq AND direction = 0"), ==, n);
  g_assert_cmpint (raw_int (fixture->path, "SELECT MIN(seq) FROM messages"), ==, 1);
  g_assert_cmpint (raw_int (fixture->path, "SELECT MAX(seq) FROM messages"), ==, n);
}

static void
test_worker_disk_full (Fixture       *fixture,
                       gconstpointer  data)
{
  run_disk_full (fixture, TRUE);
}

static void
test_worker_disk_full_unheard (Fixture       *fixture,
                               gconstpointer  data)
{
  run_disk_full (fixture, FALSE);
}

/* Dropping the store while the worker writes a batch loses nothing. */
static void
test_worker_close (Fixture       *fixture,
                   gconstpointer  data)
{
  const guint n = 9000;  /* over two batches for the worker (4 096 saves each) */

  drain_main_loop ();

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", i + 1, "bob", "burst");

      tincan_store_save (fixture->store, message);
    }
  g_main_context_iteration (NULL, FALSE);
  {
    g_autoptr (TincanMessage) late = incoming_new ("lobby", n + 1, "bob", "late");

    tincan_store_save (fixture->store, late);
  }

  close_store (fixture);
  /* The idle that would have finished the batch finds nothing to do. */
  drain_main_loop ();
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, n + 1);
  fixture->store = open_store (fixture);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "lobby"), ==, n + 1);
}

static void
test_finalize_flushes (Fixture       *fixture,
                       gconstpointer  data)
{
  for (gint64 seq = 1; seq <= 10; seq++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", seq, "bob", "x");

      tincan_store_save (fixture->store, message);
    }

  /* Dropped before the idle could run. */
  reopen_store (fixture);
  g_assert_cmpuint (fixture->emissions->len, ==, 0);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 10);
}

static void
test_migrate_from_empty (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanMessage) message = NULL;
  g_autofree char *dir = g_path_get_dirname (fixture->path);

  /* A database at version 0: it exists, holds nothing of ours. */
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  raw_exec (fixture->path, "CREATE TABLE unrelated (x); DROP TABLE unrelated;");
  g_assert_cmpint (raw_int (fixture->path, "PRAGMA user_version"), ==, 0);

  fixture->store = open_store (fixture);
  g_assert_cmpint (tincan_store_get_schema_version (fixture->store), ==, CURRENT_SCHEMA);

  message = incoming_new ("lobby", 1, "bob", "works");
  tincan_store_save (fixture->store, message);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 1);

  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "PRAGMA user_version"), ==, CURRENT_SCHEMA);
  g_assert_cmpint (raw_int (fixture->path,
                            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                            " AND name IN ('rooms', 'messages', 'journal')"), ==, 3);

  /* Reopening an up-to-date database migrates nothing and loses nothing. */
  fixture->store = open_store (fixture);
  g_assert_cmpint (tincan_store_get_schema_version (fixture->store), ==, CURRENT_SCHEMA);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 1);
}

static void
test_migrate_zero_byte_file (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (fixture->path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (fixture->path, "", 0, &error));

  fixture->store = open_store (fixture);
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "PRAGMA user_version"), ==, CURRENT_SCHEMA);
}

static void
test_refuse_newer_schema (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autofree char *dir = g_path_get_dirname (fixture->path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  raw_exec (fixture->path, "CREATE TABLE future (x); PRAGMA user_version = 99;");

  store = tincan_store_new (fixture->path, &error);
  g_assert_null (store);
  g_assert_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_SCHEMA);
  g_test_message ("%s", error->message);

  /* Left as it was found. */
  g_assert_cmpint (raw_int (fixture->path, "PRAGMA user_version"), ==, 99);
  g_assert_cmpint (raw_int (fixture->path,
                            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages'"), ==, 0);
}

static void
test_refuse_garbage (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autofree char *dir = g_path_get_dirname (fixture->path);
  char garbage[4096];

  memset (garbage, 'x', sizeof garbage);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (fixture->path, garbage, sizeof garbage, &error));

  store = tincan_store_new (fixture->path, &error);
  g_assert_null (store);
  g_assert_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_OPEN);
}

/* Runs in child processes. Step "store": commits 300 messages through
 * the store, queues 50 more that never reach a commit, and is killed with
 * SIGKILL. Step "spill" (the store holds its file exclusively, so in a
 * second process once the first is gone): writes a big transaction
 * through a plain connection and is killed before it commits. */
#define CRASH_COMMITTED 300

static void
crash_child (Fixture *fixture)
{
  const char *dir = g_getenv (CHILD_DIR_ENV);
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  TincanStore *store;
  sqlite3 *db = NULL;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "profile", "history.db", NULL);

  if (g_strcmp0 (g_getenv (CHILD_STEP_ENV), "spill") == 0)
    goto spill;

  store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  for (gint64 seq = 1; seq <= CRASH_COMMITTED; seq++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", seq, "bob", "committed");

      tincan_store_save (store, message);
      if (seq % 100 == 0)
        {
          g_assert_true (tincan_store_flush (store, &error));
          g_assert_no_error (error);
        }
    }

  for (gint64 seq = CRASH_COMMITTED + 1; seq <= CRASH_COMMITTED + 50; seq++)
    {
      g_autoptr (TincanMessage) message = incoming_new ("lobby", seq, "bob", "pending");

      tincan_store_save (store, message);
    }

  remove_tree (fixture->dir);
  kill (getpid (), SIGKILL);
  g_assert_not_reached ();

spill:
  /* Mid-write: a small page cache makes SQLite spill the uncommitted
   * pages of this transaction into the WAL before the kill. */
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
                                 "PRAGMA cache_size = 2;"
                                 "BEGIN IMMEDIATE;"
                                 "INSERT INTO messages (room_id, seq, text, direction, state)"
                                 " WITH RECURSIVE n(i) AS (SELECT 100000 UNION ALL SELECT i + 1 FROM n WHERE i < 102000)"
                                 " SELECT 1, i, printf('%.500c', 'z'), 0, 3 FROM n;",
                                 NULL, NULL, NULL), ==, SQLITE_OK);

  /* This process' own (unused) scratch directory would outlive it. */
  remove_tree (fixture->dir);
  kill (getpid (), SIGKILL);
  g_assert_not_reached ();
}

static void
test_unclean_close (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
  g_autofree char *check = NULL;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanMessage) after = NULL;
  GStatBuf st;

  if (g_test_subprocess ())
    {
      crash_child (fixture);
      return;
    }

  g_setenv (CHILD_DIR_ENV, fixture->dir, TRUE);
  g_setenv (CHILD_STEP_ENV, "store", TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_failed ();
  g_setenv (CHILD_STEP_ENV, "spill", TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_failed ();
  g_unsetenv (CHILD_STEP_ENV);
  g_unsetenv (CHILD_DIR_ENV);

  /* The child never closed: its WAL (with the uncommitted tail) is there. */
  g_assert_cmpint (g_stat (wal, &st), ==, 0);
  g_test_message ("WAL left behind: %" G_GINT64_FORMAT " bytes", (gint64) st.st_size);
  /* Far more than the committed rows need: the spilled transaction. */
  g_assert_cmpint (st.st_size, >, 256 * 1024);

  fixture->store = open_store (fixture);

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, CRASH_COMMITTED);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "lobby"), ==, CRASH_COMMITTED);

  for (gint64 before_seq = 0;;)
    {
      g_autoptr (GPtrArray) chunk = tincan_store_load_page (fixture->store, "lobby", before_seq, 128, &error);

      g_assert_no_error (error);
      if (chunk->len == 0)
        break;
      for (guint i = 0; i < chunk->len; i++)
        {
          TincanMessage *message = g_ptr_array_index (chunk, i);

          g_assert_cmpstr (tincan_message_get_text (message), ==, "committed");
          g_assert_cmpint (tincan_message_get_seq (message), ==,
                           (before_seq ? before_seq : CRASH_COMMITTED + 1) - 1 - i);
        }
      before_seq = tincan_message_get_seq (g_ptr_array_index (chunk, chunk->len - 1));
    }

  close_store (fixture);
  check = raw_text (fixture->path, "PRAGMA integrity_check");
  g_assert_cmpstr (check, ==, "ok");
  fixture->store = open_store (fixture);

  /* And it takes new writes. */
  after = incoming_new ("lobby", CRASH_COMMITTED + 1, "bob", "after the crash");
  tincan_store_save (fixture->store, after);
  flush (fixture);
  g_assert_cmpint (tincan_store_get_last_seq (fixture->store, "lobby"), ==, CRASH_COMMITTED + 1);
}

static void
test_query_plans (Fixture       *fixture,
                  gconstpointer  data)
{
  struct {
    const char *sql;
    const char *index;
  } plans[] = {
    { "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE room_id = 1 AND seq IS NOT NULL AND seq < 5"
      " ORDER BY seq DESC LIMIT 10", "messages_room_seq" },
    { "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE cid = 'x'", "messages_cid" },
    { "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE direction = 1 AND state IN (0, 1)"
      " ORDER BY pk", "messages_outbox" },
    { "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE room_id = 1 AND seq IS NULL"
      " AND direction = 1 ORDER BY pk", "messages_room_seq" },
  };

  /* Big rooms stay fast only if these go through their indexes. */
  close_store (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (plans); i++)
    {
      sqlite3 *db = NULL;
      sqlite3_stmt *stmt = NULL;
      g_autoptr (GString) plan = g_string_new (NULL);

      g_assert_cmpint (sqlite3_open_v2 (fixture->path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_prepare_v2 (db, plans[i].sql, -1, &stmt, NULL), ==, SQLITE_OK);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        g_string_append_printf (plan, "%s; ", sqlite3_column_text (stmt, 3));
      sqlite3_finalize (stmt);
      sqlite3_close (db);

      g_test_message ("%s -> %s", plans[i].sql, plan->str);
      g_assert_nonnull (strstr (plan->str, plans[i].index));
      g_assert_null (strstr (plan->str, "SCAN messages;"));
    }
}

/* The journal of tincan_store_flush() */

static char *
child_store_path (void)
{
  const char *dir = g_getenv (CHILD_DIR_ENV);

  g_assert_nonnull (dir);
  return g_build_filename (dir, "profile", "history.db", NULL);
}

/* Never returns: the child's own scratch directory goes, then the child,
 * the hard way (no finalize, no idle, no atexit). */
static void
kill_child (Fixture *fixture)
{
  remove_tree (fixture->dir);
  kill (getpid (), SIGKILL);
  g_assert_not_reached ();
}

static void
run_child (Fixture *fixture)
{
  g_setenv (CHILD_DIR_ENV, fixture->dir, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv (CHILD_DIR_ENV);
}

/* The same fields in every process. */
static TincanMessage *
scripted_outgoing (guint i)
{
  TincanMessage *message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_OUTGOING);
  g_autofree char *cid = g_strdup_printf ("00000000-0000-4000-8000-%012u", i);
  g_autofree char *text = g_strdup_printf ("message %u", i);

  tincan_message_set_room (message, i % 4 == 3 ? "random" : "lobby");
  tincan_message_set_cid (message, cid);
  tincan_message_set_sender (message, "alice");
  tincan_message_set_text (message, text);
  tincan_message_set_local_timestamp (message, 1795341700000 + i);

  return message;
}

static void
test_open_in_use (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanStore) second = NULL;
  g_autoptr (TincanMessage) message = incoming_new ("lobby", 1, "bob", "x");
  sqlite3 *db = NULL;
  gint64 start_us;
  int rc;

  if (g_test_subprocess ())
    {
      /* A second tincan-cli on the same data dir. */
      g_autofree char *path = child_store_path ();

      start_us = g_get_monotonic_time ();
      second = tincan_store_new (path, &error);
      g_assert_null (second);
      g_assert_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_OPEN);
      g_assert_nonnull (strstr (error->message, "in use by another process"));
      g_assert_cmpint (g_get_monotonic_time () - start_us, <, G_USEC_PER_SEC);
      g_test_message ("%s", error->message);
      return;
    }

  fixture->store = open_store (fixture);
  tincan_store_save (fixture->store, message);
  flush (fixture);

  run_child (fixture);
  g_test_trap_assert_passed ();

  /* In this process too, and a plain connection: a clear error at once,
   * not a hang. */
  start_us = g_get_monotonic_time ();
  second = tincan_store_new (fixture->path, &error);
  g_assert_null (second);
  g_assert_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_OPEN);
  g_assert_cmpint (g_get_monotonic_time () - start_us, <, G_USEC_PER_SEC);
  g_clear_error (&error);

  g_assert_cmpint (sqlite3_open_v2 (fixture->path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  rc = sqlite3_exec (db, "SELECT COUNT(*) FROM messages", NULL, NULL, NULL);
  g_assert_cmpint (rc & 0xff, ==, SQLITE_BUSY);
  sqlite3_close (db);

  /* The owner is unharmed, and once it closes the next one opens. */
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 1);
  close_store (fixture);
  second = tincan_store_new (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tincan_store_count_messages (second, "lobby"), ==, 1);
}

#define DURABLE_OUTGOING 3

static void
test_flush_durable (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanMessage) incoming = incoming_new ("lobby", 1, "bob", "hello");

  if (g_test_subprocess ())
    {
      g_autofree char *path = child_store_path ();
      TincanStore *store = tincan_store_new (path, &error);

      g_assert_no_error (error);
      for (guint i = 0; i < DURABLE_OUTGOING; i++)
        {
          g_autoptr (TincanMessage) message = scripted_outgoing (i * 4);

          tincan_store_save (store, message);
        }
      tincan_store_save (store, incoming);

      /* What the send path waits for, and then the frame would go out:
       * killed before the main loop runs the batch commit. */
      g_assert_true (tincan_store_flush (store, &error));
      g_assert_no_error (error);
      kill_child (fixture);
    }

  run_child (fixture);
  g_test_trap_assert_failed ();

  /* Only the journal was written before the kill. */
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), ==, DURABLE_OUTGOING + 1);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, 0);

  /* Opening applies it: every message, once, with its fields, in order. */
  fixture->store = open_store (fixture);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, DURABLE_OUTGOING + 1);
  outbox = tincan_store_load_outbox (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, DURABLE_OUTGOING);
  for (guint i = 0; i < DURABLE_OUTGOING; i++)
    {
      g_autoptr (TincanMessage) expected = scripted_outgoing (i * 4);

      assert_same_message (g_ptr_array_index (outbox, i), expected);
    }
  page = tincan_store_load_page (fixture->store, "lobby", 0, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 1);
  assert_same_message (g_ptr_array_index (page, 0), incoming);

  /* Applied once: the journal is empty, a second open adds nothing. */
  g_clear_pointer (&outbox, g_ptr_array_unref);
  g_clear_pointer (&page, g_ptr_array_unref);
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), ==, 0);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, DURABLE_OUTGOING + 1);
  fixture->store = open_store (fixture);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, DURABLE_OUTGOING + 1);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, DURABLE_OUTGOING);
}

/* A session of the send path, flushing as the pump does: 100 sends, acks
 * for some, failures, incoming messages (saved, flushed with the next
 * send), echoes of our own messages as separate objects, a read halfway
 * (which applies what was journaled), and a message with neither cid nor
 * seq saved twice. Never runs the main loop. */
#define SCRIPT_SENDS 100

static void
script_flush (TincanStore *store)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (tincan_store_flush (store, &error));
  g_assert_no_error (error);
}

static void
run_script (TincanStore *store)
{
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (TincanMessage) unmapped = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  gint64 next_seq = 1;

  for (guint i = 0; i < SCRIPT_SENDS; i++)
    {
      TincanMessage *message = scripted_outgoing (i);

      g_ptr_array_add (sent, message);
      tincan_store_save (store, message);
      script_flush (store);

      if (i % 3 == 1)
        {
          /* The ack of the previous one. */
          TincanMessage *acked = g_ptr_array_index (sent, i - 1);
          g_autofree char *id = g_strdup_printf ("srv-%u", i - 1);

          tincan_message_set_seq (acked, next_seq++);
          tincan_message_set_id (acked, id);
          tincan_message_set_timestamp (acked, 1795341800000 + i);
          tincan_message_set_state (acked, TINCAN_MESSAGE_STATE_DELIVERED);
          tincan_store_save (store, acked);
        }

      if (i % 10 == 5)
        {
          g_autoptr (TincanMessage) incoming = incoming_new ("lobby", next_seq++, "bob", "from bob");

          tincan_store_save (store, incoming);
        }

      if (i % 17 == 16)
        {
          TincanMessage *failed = g_ptr_array_index (sent, i - 1);

          tincan_message_set_failed (failed, "too large");
          tincan_store_save (store, failed);
          script_flush (store);
        }

      if (i % 25 == 24)
        {
          /* The server's broadcast of an earlier message of ours. */
          TincanMessage *own = g_ptr_array_index (sent, i - 2);
          gint64 seq = tincan_message_get_seq (own) != 0 ? tincan_message_get_seq (own) : next_seq++;
          g_autoptr (TincanMessage) echo = incoming_new (tincan_message_get_room (own), seq,
                                                         "alice", tincan_message_get_text (own));

          tincan_message_set_cid (echo, tincan_message_get_cid (own));
          tincan_store_save (store, echo);
          script_flush (store);
        }

      if (i == SCRIPT_SENDS / 2)
        g_assert_cmpuint (tincan_store_count_outbox (store), >, 0);

      if (i == 60)
        {
          tincan_message_set_room (unmapped, "lobby");
          tincan_message_set_id (unmapped, "unmapped-1");
          tincan_message_set_text (unmapped, "first");
          tincan_message_set_local_timestamp (unmapped, 1795341900000);
          tincan_message_set_state (unmapped, TINCAN_MESSAGE_STATE_DELIVERED);
          tincan_store_save (store, unmapped);
          script_flush (store);
        }
      if (i == 62)
        {
          tincan_message_set_text (unmapped, "second");
          tincan_store_save (store, unmapped);
          script_flush (store);
        }
    }

  script_flush (store);
}

static void
assert_same_lists (GPtrArray *a,
                   GPtrArray *b)
{
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    assert_same_message (g_ptr_array_index (a, i), g_ptr_array_index (b, i));
}

static void
test_journal_crash (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *reference_path = g_build_filename (fixture->dir, "reference", "history.db", NULL);
  g_autoptr (TincanStore) reference = NULL;
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;
  const char *rooms[] = { "lobby", "random" };
  g_autofree char *unmapped_text = NULL;
  guint64 total;

  if (g_test_subprocess ())
    {
      g_autofree char *path = child_store_path ();
      TincanStore *store = tincan_store_new (path, &error);

      g_assert_no_error (error);
      run_script (store);
      kill_child (fixture);
    }

  run_child (fixture);
  g_test_trap_assert_failed ();
  /* Killed with applied rows and journaled ones. */
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), >, 0);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), >, 0);

  /* The same session, run to a clean close. */
  reference = tincan_store_new (reference_path, &error);
  g_assert_no_error (error);
  run_script (reference);
  g_assert_finalize_object (g_steal_pointer (&reference));
  reference = tincan_store_new (reference_path, &error);
  g_assert_no_error (error);

  fixture->store = open_store (fixture);

  total = tincan_store_count_messages (reference, NULL);
  /* 100 sends, 10 from bob, the unmapped one; the echoes merged. */
  g_assert_cmpuint (total, ==, SCRIPT_SENDS + 10 + 1);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, NULL), ==, total);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==,
                    tincan_store_count_outbox (reference));

  outbox = tincan_store_load_outbox (fixture->store, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GPtrArray) expected = tincan_store_load_outbox (reference, NULL);

    assert_same_lists (outbox, expected);
  }
  /* In the order they were sent. */
  for (guint i = 1; i < outbox->len; i++)
    g_assert_cmpstr (tincan_message_get_cid (g_ptr_array_index (outbox, i - 1)), <,
                     tincan_message_get_cid (g_ptr_array_index (outbox, i)));

  for (guint r = 0; r < G_N_ELEMENTS (rooms); r++)
    {
      g_autoptr (GPtrArray) page = tincan_store_load_page (fixture->store, rooms[r], 0, 1000, NULL);
      g_autoptr (GPtrArray) expected_page = tincan_store_load_page (reference, rooms[r], 0, 1000, NULL);
      g_autoptr (GPtrArray) unsequenced = tincan_store_load_unsequenced (fixture->store, rooms[r], NULL);
      g_autoptr (GPtrArray) expected_unsequenced = tincan_store_load_unsequenced (reference, rooms[r], NULL);

      assert_same_lists (page, expected_page);
      assert_same_lists (unsequenced, expected_unsequenced);
      g_assert_cmpint (tincan_store_get_last_seq (fixture->store, rooms[r]), ==,
                       tincan_store_get_last_seq (reference, rooms[r]));
    }

  for (guint i = 0; i < SCRIPT_SENDS; i++)
    {
      g_autoptr (TincanMessage) scripted = scripted_outgoing (i);
      g_autoptr (TincanMessage) found = tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (scripted));
      g_autoptr (TincanMessage) expected = tincan_store_lookup_cid (reference, tincan_message_get_cid (scripted));

      g_assert_nonnull (found);
      assert_same_message (found, expected);
      g_assert_true (tincan_message_is_outgoing (found));
      g_assert_cmpstr (tincan_message_get_text (found), ==, tincan_message_get_text (scripted));
      if (i % 3 == 0 && i + 1 < SCRIPT_SENDS && i % 17 != 15)
        {
          g_assert_cmpint (tincan_message_get_state (found), ==, TINCAN_MESSAGE_STATE_DELIVERED);
          g_assert_cmpint (tincan_message_get_seq (found), >, 0);
        }
      if (i % 17 == 15)
        g_assert_cmpstr (tincan_message_get_reason (found), ==, "too large");
    }

  /* The message with neither cid nor seq: one row, its last save. */
  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages WHERE id = 'unmapped-1'"), ==, 1);
  unmapped_text = raw_text (fixture->path, "SELECT text FROM messages WHERE id = 'unmapped-1'");
  g_assert_cmpstr (unmapped_text, ==, "second");
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), ==, 0);
}

static void
test_journal_dedup (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr (TincanMessage) mine = scripted_outgoing (1);
  g_autoptr (TincanMessage) replayed = scripted_outgoing (1);
  g_autoptr (TincanMessage) first = incoming_new ("lobby", 5, "bob", "original");
  g_autoptr (TincanMessage) again = incoming_new ("lobby", 5, "bob", "replayed after resume");
  g_autoptr (TincanMessage) found = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *inserted;

  drain_main_loop ();

  /* Each flushed on its own, none applied yet. */
  tincan_store_save (fixture->store, mine);
  g_assert_true (tincan_store_flush (fixture->store, &error));
  tincan_store_save (fixture->store, first);
  g_assert_true (tincan_store_flush (fixture->store, &error));
  tincan_store_save (fixture->store, replayed);
  g_assert_true (tincan_store_flush (fixture->store, &error));
  tincan_store_save (fixture->store, again);
  g_assert_true (tincan_store_flush (fixture->store, &error));
  g_assert_no_error (error);

  /* Announced as soon as they are durable, the two new ones only. */
  g_assert_cmpuint (fixture->emissions->len, ==, 2);
  inserted = g_ptr_array_index (fixture->emissions, 0);
  g_assert_cmpuint (inserted->len, ==, 1);
  g_assert_true (g_ptr_array_index (inserted, 0) == mine);
  inserted = g_ptr_array_index (fixture->emissions, 1);
  g_assert_cmpuint (inserted->len, ==, 1);
  g_assert_true (g_ptr_array_index (inserted, 0) == first);

  /* A read applies the journal first: one row per cid, per seq, and
   * nothing announced twice. */
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, 2);
  g_assert_cmpuint (tincan_store_count_outbox (fixture->store), ==, 1);
  g_assert_cmpuint (fixture->emissions->len, ==, 2);
  g_assert_cmpint (tincan_message_get_seq (mine), ==, 0);
  g_assert_cmpstr (tincan_message_get_text (first), ==, "original");

  found = tincan_store_lookup_cid (fixture->store, tincan_message_get_cid (mine));
  g_assert_true (found == mine);

  close_store (fixture);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, 2);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), ==, 0);
}

static void
test_journal_unreadable (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr (TincanMessage) message = incoming_new ("lobby", 1, "bob", "kept");

  if (g_test_subprocess ())
    {
      g_autofree char *path = child_store_path ();
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanStore) store = NULL;

      /* The warning is expected here (structured logging escapes
       * g_test_expect_message () in this GLib): only errors are fatal. */
      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
      store = tincan_store_new (path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (tincan_store_count_messages (store, NULL), ==, 1);
      return;
    }

  fixture->store = open_store (fixture);
  tincan_store_save (fixture->store, message);
  flush (fixture);
  close_store (fixture);

  /* Not a record (another format, or damaged): reported and skipped, the
   * store still opens with what it has. */
  raw_exec (fixture->path, "INSERT INTO journal (data) VALUES (x'02000000');");
  g_setenv (CHILD_DIR_ENV, fixture->dir, TRUE);
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv (CHILD_DIR_ENV);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*journal record * is unreadable; skipped*");

  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM journal"), ==, 0);
  g_assert_cmpint (raw_int (fixture->path, "SELECT COUNT(*) FROM messages"), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_UNOPENED(path, func) \
  g_test_add (path, Fixture, GINT_TO_POINTER (1), fixture_setup, func, fixture_teardown)

  ADD ("/store/open-creates", test_open_creates);
  ADD ("/store/insert-reload", test_insert_reload);
  ADD ("/store/dedup/seq", test_dedup_seq);
  ADD ("/store/dedup/cid", test_dedup_cid);
  ADD ("/store/dedup/ack-same-object", test_ack_same_object);
  ADD ("/store/dedup/echo-of-forgotten-message", test_echo_of_forgotten_message);
  ADD ("/store/paging", test_paging);
  ADD ("/store/outbox-order", test_outbox_order);
  ADD ("/store/delete", test_delete);
  ADD ("/store/live-objects", test_live_objects);
  ADD ("/store/is-pending", test_is_pending);
  ADD ("/store/live-without-listeners", test_live_without_listeners);
  ADD ("/store/batching", test_batching);
  ADD ("/store/finalize-flushes", test_finalize_flushes);
  ADD ("/store/worker/in-flight", test_worker_in_flight);
  ADD ("/store/worker/close", test_worker_close);
  ADD ("/store/worker/held", test_worker_held);
  ADD ("/store/worker/disk-full", test_worker_disk_full);
  ADD ("/store/worker/disk-full-unheard", test_worker_disk_full_unheard);
  ADD ("/store/worker/make-durable", test_make_durable);
  ADD ("/store/query-plans", test_query_plans);
  ADD_UNOPENED ("/store/migrate/from-empty", test_migrate_from_empty);
  ADD_UNOPENED ("/store/migrate/zero-byte-file", test_migrate_zero_byte_file);
  ADD_UNOPENED ("/store/migrate/refuse-newer", test_refuse_newer_schema);
  ADD_UNOPENED ("/store/open/refuse-garbage", test_refuse_garbage);
  ADD_UNOPENED ("/store/unclean-close", test_unclean_close);
  ADD_UNOPENED ("/store/default-path", test_default_path);
  ADD_UNOPENED ("/store/open/in-use", test_open_in_use);
  ADD_UNOPENED ("/store/journal/flush-durable", test_flush_durable);
  ADD_UNOPENED ("/store/journal/crash-replay", test_journal_crash);
  ADD ("/store/journal/dedup", test_journal_dedup);
  ADD_UNOPENED ("/store/journal/unreadable", test_journal_unreadable);

#undef ADD
#undef ADD_UNOPENED

  return g_test_run ();
}
