/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-message-list"

#include "config.h"

#include <glib/gstdio.h>

#include "tincan-connection.h"
#include "tincan-message-list.h"
#include "tincan-server.h"
#include "tincan-store.h"
#include "tincan-util.h"

#define BIG_ROOM_SIZE 100000
#define TIMEOUT_MS 10000

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          guint          timeout_ms,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  /* Blocking iterations return at least this often to check the deadline. */
  guint wake_id = g_timeout_add (10, wake_up, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u ms waiting for %s", timeout_ms, what);
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (wake_id);
}

/* Runs every source that is ready now: one main-loop turn's worth. */
static void
run_pending (void)
{
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

typedef struct
{
  char             *dir;
  TincanStore      *store;
  TincanProfile    *profile;
  TincanConnection *connection;
} Fixture;

static TincanStore *
open_store (const char *dir,
            const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  TincanStore *store = tincan_store_new (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);

  return store;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("tincan-message-list-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->store = open_store (fixture->dir, "history.sqlite");
  fixture->profile = tincan_profile_new ();
  tincan_profile_set_name (fixture->profile, "Test");
  /* Nothing listens there: the connection stays offline unless a test
   * points it at a real server. */
  tincan_profile_set_url (fixture->profile, "ws://127.0.0.1:9/ws");
  tincan_profile_set_user (fixture->profile, "alice");
  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);
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
  tincan_connection_disconnect (fixture->connection);
  g_clear_object (&fixture->connection);
  g_clear_object (&fixture->profile);
  g_clear_object (&fixture->store);
  run_pending ();
  remove_dir (fixture->dir);
  g_clear_pointer (&fixture->dir, g_free);
}

static void
fill_room (TincanStore *store,
           const char  *room,
           guint        count)
{
  g_autoptr (GError) error = NULL;
  gint64 base = tincan_now_ms () - (gint64) count * 1000;

  for (guint i = 1; i <= count; i++)
    {
      g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
      g_autofree char *id = g_strdup_printf ("m%u", i);
      g_autofree char *text = g_strdup_printf ("message %u", i);

      tincan_message_set_id (message, id);
      tincan_message_set_room (message, room);
      tincan_message_set_sender (message, i % 2 ? "bob" : "carol");
      tincan_message_set_text (message, text);
      tincan_message_set_seq (message, i);
      tincan_message_set_timestamp (message, base + (gint64) i * 1000);
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
      tincan_store_save (store, message);
    }

  tincan_store_flush (store, &error);
  g_assert_no_error (error);
}

static gint64
seq_at (GListModel *model,
        guint       position)
{
  g_autoptr (TincanMessage) message = g_list_model_get_item (model, position);

  g_assert_nonnull (message);
  return tincan_message_get_seq (message);
}

typedef struct
{
  guint emissions;
  guint added;
  guint removed;
} Changes;

static void
count_changes (GListModel *model,
               guint       position,
               guint       removed,
               guint       added,
               Changes    *changes)
{
  changes->emissions++;
  changes->added += added;
  changes->removed += removed;
}

/* A room with 100 000 messages opens with one page, not the history. */
static void
test_bounded_window (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  GListModel *model;
  guint added;

  fill_room (fixture->store, "lobby", BIG_ROOM_SIZE);
  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), ==, BIG_ROOM_SIZE);

  list = tincan_message_list_new (fixture->connection, "lobby");
  model = G_LIST_MODEL (list);

  g_assert_cmpstr (tincan_message_list_get_room (list), ==, "lobby");
  g_assert_true (g_list_model_get_item_type (model) == TINCAN_TYPE_MESSAGE);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 100);
  g_assert_true (tincan_message_list_get_has_more (list));
  /* Oldest first: the window is the newest page. */
  g_assert_cmpint (seq_at (model, 0), ==, BIG_ROOM_SIZE - 99);
  g_assert_cmpint (seq_at (model, 99), ==, BIG_ROOM_SIZE);
  g_assert_null (g_list_model_get_item (model, 100));

  added = tincan_message_list_load_older (list);
  g_assert_cmpuint (added, ==, 100);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 200);
  g_assert_cmpint (seq_at (model, 0), ==, BIG_ROOM_SIZE - 199);
  g_assert_cmpint (seq_at (model, 100), ==, BIG_ROOM_SIZE - 99);
  g_assert_cmpint (seq_at (model, 199), ==, BIG_ROOM_SIZE);

  tincan_message_list_trim_to_latest (list);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 100);
  g_assert_cmpint (seq_at (model, 0), ==, BIG_ROOM_SIZE - 99);
  g_assert_true (tincan_message_list_get_has_more (list));

  /* And it pages again from there. */
  g_assert_cmpuint (tincan_message_list_load_older (list), ==, 100);
  g_assert_cmpint (seq_at (model, 0), ==, BIG_ROOM_SIZE - 199);

  g_assert_finalize_object (g_steal_pointer (&list));
}

/* Paging reaches the start of the room and says so. */
static void
test_load_to_start (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  GListModel *model;

  fill_room (fixture->store, "small", 250);
  fill_room (fixture->store, "other", 10);

  list = g_object_new (TINCAN_TYPE_MESSAGE_LIST,
                       "connection", fixture->connection,
                       "room", "small",
                       "page-size", 100,
                       NULL);
  model = G_LIST_MODEL (list);

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 100);
  g_assert_cmpuint (tincan_message_list_load_older (list), ==, 100);
  g_assert_true (tincan_message_list_get_has_more (list));
  g_assert_cmpuint (tincan_message_list_load_older (list), ==, 50);
  g_assert_false (tincan_message_list_get_has_more (list));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 250);
  g_assert_cmpint (seq_at (model, 0), ==, 1);
  g_assert_cmpuint (tincan_message_list_load_older (list), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 250);

  /* Only the room's own messages. */
  for (guint i = 0; i < 250; i++)
    {
      g_autoptr (TincanMessage) message = g_list_model_get_item (model, i);

      g_assert_cmpstr (tincan_message_get_room (message), ==, "small");
      g_assert_cmpint (tincan_message_get_seq (message), ==, i + 1);
    }
}

/* Many optimistic sends in one main-loop turn: one items-changed, at the
 * bottom, and each message shows as queued at once (the connection is
 * offline). */
static void
test_batching (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  Changes changes = { 0, };
  GListModel *model;

  fill_room (fixture->store, "lobby", 20);
  list = tincan_message_list_new (fixture->connection, "lobby");
  model = G_LIST_MODEL (list);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 20);
  g_signal_connect (list, "items-changed", G_CALLBACK (count_changes), &changes);

  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *text = g_strdup_printf ("offline %u", i);
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanMessage) message = tincan_connection_send (fixture->connection, "lobby",
                                                                 text, &error);

      g_assert_no_error (error);
      g_assert_nonnull (message);
      g_assert_cmpint (tincan_message_get_state (message), ==, TINCAN_MESSAGE_STATE_QUEUED);
    }

  /* Nothing yet: the batch lands on the next main-loop turn. */
  g_assert_cmpuint (changes.emissions, ==, 0);
  run_pending ();
  g_assert_cmpuint (changes.emissions, ==, 1);
  g_assert_cmpuint (changes.added, ==, 50);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 70);

  {
    g_autoptr (TincanMessage) last = g_list_model_get_item (model, 69);

    g_assert_cmpstr (tincan_message_get_text (last), ==, "offline 49");
    g_assert_true (tincan_message_is_outgoing (last));
  }

  /* A message of another room does not enter this list. */
  {
    g_autoptr (TincanMessage) other = tincan_connection_send (fixture->connection, "elsewhere",
                                                             "not here", NULL);

    g_assert_nonnull (other);
    run_pending ();
    g_assert_cmpuint (g_list_model_get_n_items (model), ==, 70);
  }
}

/* Reopening the room shows the unsent messages after the history. */
static void
test_unsequenced (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  g_autoptr (TincanMessage) sent = NULL;
  g_autoptr (TincanMessage) last = NULL;
  GListModel *model;

  fill_room (fixture->store, "lobby", 30);
  sent = tincan_connection_send (fixture->connection, "lobby", "still queued", NULL);
  g_assert_nonnull (sent);
  tincan_store_flush (fixture->store, NULL);

  list = tincan_message_list_new (fixture->connection, "lobby");
  model = G_LIST_MODEL (list);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 31);
  last = g_list_model_get_item (model, 30);
  g_assert_cmpstr (tincan_message_get_cid (last), ==, tincan_message_get_cid (sent));
  g_assert_cmpint (tincan_message_get_state (last), ==, TINCAN_MESSAGE_STATE_QUEUED);

  /* Queued again with the same cid: not shown twice. */
  run_pending ();
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 31);
}

/* New messages at the bottom push the oldest out beyond max-size. */
static void
test_max_size (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  GListModel *model;

  fill_room (fixture->store, "lobby", 10);
  list = g_object_new (TINCAN_TYPE_MESSAGE_LIST,
                       "connection", fixture->connection,
                       "room", "lobby",
                       "page-size", 10,
                       "max-size", 25,
                       NULL);
  model = G_LIST_MODEL (list);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 10);
  g_assert_false (tincan_message_list_get_has_more (list));

  for (guint i = 0; i < 40; i++)
    {
      g_autoptr (TincanMessage) message = tincan_connection_send (fixture->connection, "lobby",
                                                                 "more", NULL);
      g_assert_nonnull (message);
    }
  run_pending ();

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 25);
  g_assert_true (tincan_message_list_get_has_more (list));
  {
    g_autoptr (TincanMessage) first = g_list_model_get_item (model, 0);

    /* Only sends remain; the stored history is reachable again. */
    g_assert_true (tincan_message_is_outgoing (first));
  }
  g_assert_cmpuint (tincan_message_list_load_older (list), ==, 10);
  g_assert_cmpint (seq_at (model, 0), ==, 1);
}

/* Live: against a real server, our send shows at once and becomes
 * delivered; someone else's message appears. */
typedef struct
{
  GListModel    *model;
  guint          n;
  TincanMessage *message;
  TincanConnection *connection;
  const char       *text;
} Waiter;

static gboolean
has_n_items (gpointer data)
{
  Waiter *waiter = data;

  return g_list_model_get_n_items (waiter->model) >= waiter->n;
}

static gboolean
is_delivered (gpointer data)
{
  Waiter *waiter = data;

  return tincan_message_get_state (waiter->message) == TINCAN_MESSAGE_STATE_DELIVERED;
}

static gboolean
is_connected (gpointer data)
{
  Waiter *waiter = data;

  return tincan_connection_get_state (waiter->connection) == TINCAN_CONNECTION_STATE_CONNECTED;
}

/* Alice (the fixture's connection) and bob, both connected to a real
 * server; alice's list of "lobby" made before she connects. */
typedef struct
{
  TincanServer      *server;
  TincanStore       *bob_store;
  TincanProfile     *bob_profile;
  TincanConnection  *bob;
  TincanMessageList *list;
} Live;

static void
live_start (Fixture *fixture,
            Live    *live,
            Waiter  *waiter)
{
  g_autoptr (GError) error = NULL;

  live->server = tincan_server_new ();
  tincan_server_listen (live->server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);

  tincan_profile_set_url (fixture->profile, tincan_server_get_uri (live->server));
  g_clear_object (&fixture->connection);
  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);

  live->list = tincan_message_list_new (fixture->connection, "lobby");
  waiter->model = G_LIST_MODEL (live->list);

  tincan_connection_connect (fixture->connection);
  waiter->connection = fixture->connection;
  wait_for (is_connected, waiter, TIMEOUT_MS, "alice to connect");
}

static void
live_start_bob (Fixture *fixture,
                Live    *live,
                Waiter  *waiter)
{
  live->bob_store = open_store (fixture->dir, "bob.sqlite");
  live->bob_profile = tincan_profile_new ();
  tincan_profile_set_url (live->bob_profile, tincan_server_get_uri (live->server));
  tincan_profile_set_user (live->bob_profile, "bob");
  live->bob = tincan_connection_new (live->bob_profile, live->bob_store);
  tincan_connection_connect (live->bob);
  waiter->connection = live->bob;
  wait_for (is_connected, waiter, TIMEOUT_MS, "bob to connect");
}

static void
live_stop (Fixture *fixture,
           Live    *live)
{
  tincan_connection_disconnect (live->bob);
  tincan_connection_disconnect (fixture->connection);
  tincan_server_stop (live->server);
  g_clear_object (&live->list);
  g_clear_object (&live->bob);
  g_clear_object (&live->bob_profile);
  g_clear_object (&live->bob_store);
  g_clear_object (&live->server);
}

static void
test_live (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr (TincanMessage) mine = NULL;
  g_autoptr (GError) error = NULL;
  Waiter waiter = { 0, };
  Live live = { 0, };
  guint n;

  live_start (fixture, &live, &waiter);
  g_assert_cmpuint (g_list_model_get_n_items (waiter.model), ==, 0);

  mine = tincan_connection_send (fixture->connection, "lobby", "hello from alice", &error);
  g_assert_no_error (error);
  run_pending ();
  n = g_list_model_get_n_items (waiter.model);
  g_assert_cmpuint (n, ==, 1);
  {
    g_autoptr (TincanMessage) shown = g_list_model_get_item (waiter.model, 0);

    g_assert_true (shown == mine);
  }
  waiter.message = mine;
  wait_for (is_delivered, &waiter, TIMEOUT_MS, "our message to be delivered");
  g_assert_cmpint (tincan_message_get_seq (mine), >, 0);

  live_start_bob (fixture, &live, &waiter);

  {
    g_autoptr (TincanMessage) theirs_sent = tincan_connection_send (live.bob, "lobby", "hi alice", &error);

    g_assert_no_error (error);
    g_assert_nonnull (theirs_sent);
  }
  waiter.n = 2;
  wait_for (has_n_items, &waiter, TIMEOUT_MS, "bob's message in alice's list");
  {
    g_autoptr (TincanMessage) theirs = g_list_model_get_item (waiter.model, 1);

    g_assert_cmpstr (tincan_message_get_sender (theirs), ==, "bob");
    g_assert_cmpstr (tincan_message_get_text (theirs), ==, "hi alice");
    g_assert_false (tincan_message_is_outgoing (theirs));
  }
  /* Our own echo did not add a row. */
  run_pending ();
  g_assert_cmpuint (g_list_model_get_n_items (waiter.model), ==, 2);

  live_stop (fixture, &live);
}

/* A view following the bottom sets tail-size: a batch bigger than the
 * tail lands as the newest tail-size messages, in one append, and the
 * older ones stay reachable through load_older(). */
static void
test_tail_size (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  Changes changes = { 0, };
  GListModel *model;

  fill_room (fixture->store, "lobby", 20);
  list = tincan_message_list_new (fixture->connection, "lobby");
  model = G_LIST_MODEL (list);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 20);
  g_object_set (list, "tail-size", 10, NULL);
  /* Nothing happens before a batch arrives. */
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 20);
  g_signal_connect (list, "items-changed", G_CALLBACK (count_changes), &changes);

  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *text = g_strdup_printf ("burst %u", i);
      g_autoptr (TincanMessage) message = tincan_connection_send (fixture->connection, "lobby",
                                                                 text, NULL);

      g_assert_nonnull (message);
    }
  run_pending ();

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 10);
  /* Only what survives the batch was appended. */
  g_assert_cmpuint (changes.added, ==, 10);
  {
    g_autoptr (TincanMessage) first = g_list_model_get_item (model, 0);
    g_autoptr (TincanMessage) last = g_list_model_get_item (model, 9);

    g_assert_cmpstr (tincan_message_get_text (first), ==, "burst 490");
    g_assert_cmpstr (tincan_message_get_text (last), ==, "burst 499");
  }
  g_assert_true (tincan_message_list_get_has_more (list));
  g_assert_cmpuint (tincan_message_list_load_older (list), ==, 20);
  g_assert_cmpint (seq_at (model, 0), ==, 1);

  /* Off again: the window grows up to max-size. */
  g_object_set (list, "tail-size", 0, NULL);
  {
    g_autoptr (TincanMessage) message = tincan_connection_send (fixture->connection, "lobby",
                                                               "one more", NULL);
    g_assert_nonnull (message);
  }
  run_pending ();
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 31);
}

typedef struct
{
  GArray  *batch_times;   /* gint64, monotonic µs of each batch that added rows */
  gboolean gap;
} FloodWatch;

/* The view's work for a batch: the first one is slow (20 ms, as a slow
 * machine building a screenful of rows). */
static void
watch_flood (GListModel *model,
             guint       position,
             guint       removed,
             guint       added,
             FloodWatch *watch)
{
  gint64 now = g_get_monotonic_time ();

  if (added == 0)
    return;

  g_array_append_val (watch->batch_times, now);
  if (watch->batch_times->len == 1)
    while (g_get_monotonic_time () < now + 20 * 1000)
      ;
}

typedef struct
{
  Waiter     *waiter;
  FloodWatch *watch;
} FloodWait;

/* Between main-loop turns, as the user would see it. */
static gboolean
flood_shown (gpointer data)
{
  FloodWait *wait = data;
  GListModel *model = wait->waiter->model;
  guint n = g_list_model_get_n_items (model);
  g_autoptr (TincanMessage) last = n > 0 ? g_list_model_get_item (model, n - 1) : NULL;

  for (guint i = 1; i < n; i++)
    if (seq_at (model, i) != seq_at (model, i - 1) + 1)
      wait->watch->gap = TRUE;

  return last != NULL && g_strcmp0 (tincan_message_get_text (last), wait->waiter->text) == 0;
}

/* A flood while the view follows the newest messages: a batch that cost
 * the view a lot spaces the next one further (16× its cost), the view is
 * consecutive after every turn, and it ends on the newest message. */
static void
test_flood_spacing (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr (GArray) batch_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;
  FloodWatch watch = { batch_times, FALSE };
  Waiter waiter = { 0, };
  FloodWait wait = { &waiter, &watch };
  Live live = { 0, };
  gint64 first, second;
  const guint n = 600;

  live_start (fixture, &live, &waiter);
  g_object_set (live.list, "tail-size", 30, NULL);
  live_start_bob (fixture, &live, &waiter);

  g_signal_connect (live.list, "items-changed", G_CALLBACK (watch_flood), &watch);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("flood %u", i);
      g_autoptr (TincanMessage) sent = tincan_connection_send (live.bob, "lobby", text, &error);

      g_assert_no_error (error);
      g_assert_nonnull (sent);
    }

  waiter.text = "flood 599";
  wait_for (flood_shown, &wait, TIMEOUT_MS, "the newest message in alice's view");

  g_assert_cmpuint (g_list_model_get_n_items (waiter.model), ==, 30);
  g_assert_false (watch.gap);
  /* The slow batch (20 ms) held the next one back 16 times as long. */
  g_assert_cmpuint (batch_times->len, >=, 2);
  first = g_array_index (batch_times, gint64, 0);
  second = g_array_index (batch_times, gint64, 1);
  g_assert_cmpint (second - first, >=, 300 * 1000);

  g_signal_handlers_disconnect_by_data (live.list, &watch);
  live_stop (fixture, &live);
}

/* Scrolling up a long history keeps the window bounded: past max-size
 * the newest messages go (has-newer), load_newer() brings them back, and
 * the whole way up and down shows every message once, in order. */
static void
test_scroll_bounded (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr (TincanMessageList) list = NULL;
  g_autoptr (TincanMessage) sent = NULL;
  g_autoptr (TincanMessage) last = NULL;
  GListModel *model;
  gint64 expected;
  guint pages = 0;

  fill_room (fixture->store, "lobby", 2000);
  list = g_object_new (TINCAN_TYPE_MESSAGE_LIST,
                       "connection", fixture->connection,
                       "room", "lobby",
                       "page-size", 100,
                       "max-size", 300,
                       NULL);
  model = G_LIST_MODEL (list);
  g_assert_false (tincan_message_list_get_has_newer (list));

  /* Up to the start: each page is the 100 just above the window. */
  expected = 2000 - 99;
  while (tincan_message_list_get_has_more (list))
    {
      g_assert_cmpuint (tincan_message_list_load_older (list), ==, 100);
      expected -= 100;
      g_assert_cmpint (seq_at (model, 0), ==, expected);
      g_assert_cmpuint (g_list_model_get_n_items (model), <=, 300);
      g_assert_false (tincan_message_list_get_loading (list));
      pages++;
    }
  g_assert_cmpuint (pages, ==, 19);
  g_assert_cmpint (seq_at (model, 0), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 300);
  g_assert_cmpint (seq_at (model, 299), ==, 300);
  g_assert_true (tincan_message_list_get_has_newer (list));

  /* And down to the newest again, consecutive all the way. */
  while (tincan_message_list_get_has_newer (list))
    {
      guint n = g_list_model_get_n_items (model);

      g_assert_cmpuint (tincan_message_list_load_newer (list), >, 0);
      n = g_list_model_get_n_items (model);
      g_assert_cmpuint (n, <=, 300);
      for (guint i = 1; i < n; i++)
        g_assert_cmpint (seq_at (model, i), ==, seq_at (model, i - 1) + 1);
    }
  g_assert_cmpint (seq_at (model, g_list_model_get_n_items (model) - 1), ==, 2000);
  g_assert_true (tincan_message_list_get_has_more (list));
  g_assert_cmpuint (tincan_message_list_load_newer (list), ==, 0);

  /* Far up again, a send brings the window back to the newest, with it. */
  while (tincan_message_list_get_has_more (list))
    tincan_message_list_load_older (list);
  g_assert_true (tincan_message_list_get_has_newer (list));
  sent = tincan_connection_send (fixture->connection, "lobby", "from far up", NULL);
  g_assert_nonnull (sent);
  run_pending ();
  g_assert_false (tincan_message_list_get_has_newer (list));
  last = g_list_model_get_item (model, g_list_model_get_n_items (model) - 1);
  g_assert_cmpstr (tincan_message_get_cid (last), ==, tincan_message_get_cid (sent));
  g_assert_cmpint (seq_at (model, g_list_model_get_n_items (model) - 2), ==, 2000);
  g_assert_cmpuint (g_list_model_get_n_items (model), <=, 300);

  /* Jump to the latest from far up reloads the newest page. */
  while (tincan_message_list_get_has_more (list))
    tincan_message_list_load_older (list);
  tincan_message_list_trim_to_latest (list);
  g_assert_false (tincan_message_list_get_has_newer (list));
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 101);
  g_assert_cmpint (seq_at (model, 99), ==, 2000);

  g_clear_object (&last);
  g_assert_finalize_object (g_steal_pointer (&list));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/message-list/bounded-window", Fixture, NULL,
              fixture_set_up, test_bounded_window, fixture_tear_down);
  g_test_add ("/message-list/load-to-start", Fixture, NULL,
              fixture_set_up, test_load_to_start, fixture_tear_down);
  g_test_add ("/message-list/batching", Fixture, NULL,
              fixture_set_up, test_batching, fixture_tear_down);
  g_test_add ("/message-list/unsequenced", Fixture, NULL,
              fixture_set_up, test_unsequenced, fixture_tear_down);
  g_test_add ("/message-list/max-size", Fixture, NULL,
              fixture_set_up, test_max_size, fixture_tear_down);
  g_test_add ("/message-list/tail-size", Fixture, NULL,
              fixture_set_up, test_tail_size, fixture_tear_down);
  g_test_add ("/message-list/flood-spacing", Fixture, NULL,
              fixture_set_up, test_flood_spacing, fixture_tear_down);
  g_test_add ("/message-list/live", Fixture, NULL,
              fixture_set_up, test_live, fixture_tear_down);
  g_test_add ("/message-list/scroll-bounded", Fixture, NULL,
              fixture_set_up, test_scroll_bounded, fixture_tear_down);

  return g_test_run ();
}
