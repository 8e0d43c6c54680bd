/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-ui"

#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tincan-conversation-view.h"
#include "tincan-message-row.h"
#include "tincan-protocols.h"
#include "tincan-server-dialog.h"
#include "tincan-server.h"
#include "tincan-session.h"
#include "tincan-util.h"
#include "tincan-window.h"

#define TIMEOUT_MS 15000

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TIMEOUT_MS * 1000;
  /* Blocking iterations come back at least this often for the deadline. */
  guint wake_id = g_timeout_add (10, wake_up, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u ms waiting for %s", TIMEOUT_MS, what);
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (wake_id);
}

typedef struct
{
  char             *dir;
  char             *server_db;
  TincanServer     *server;
  guint             port;
  TincanStore      *store;
  TincanProfile    *profile;
  TincanConnection *connection;
  TincanSession    *session;
  GListStore       *sessions;
  TincanWindow     *window;

  /* Scratch for conditions. */
  TincanMessage    *message;
  const char       *cid;
  const char       *text;
} Fixture;

typedef struct
{
  double      rate;
  guint       burst;
  guint       fill;
  const char *token;
} Options;

static void
start_server (Fixture       *fixture,
              const Options *options)
{
  g_autoptr (GError) error = NULL;

  fixture->server = tincan_server_new ();
  g_object_set (fixture->server, "db-path", fixture->server_db, NULL);
  if (options != NULL && options->rate > 0)
    g_object_set (fixture->server, "rate", options->rate, "burst", options->burst, NULL);
  if (options != NULL && options->token != NULL)
    g_object_set (fixture->server, "token", options->token, NULL);
  tincan_server_listen (fixture->server, "127.0.0.1", fixture->port, &error);
  g_assert_no_error (error);
  fixture->port = tincan_server_get_port (fixture->server);
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
      g_autofree char *id = g_strdup_printf ("old%u", i);

      tincan_message_set_id (message, id);
      tincan_message_set_room (message, room);
      tincan_message_set_sender (message, "history");
      tincan_message_set_text (message, "an old message");
      tincan_message_set_seq (message, i);
      tincan_message_set_timestamp (message, base + (gint64) i * 1000);
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
      tincan_store_save (store, message);
    }

  tincan_store_flush (store, &error);
  g_assert_no_error (error);
}

static gboolean
is_connected (gpointer data)
{
  Fixture *fixture = data;

  return tincan_connection_get_state (fixture->connection) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  const Options *options = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *store_path = NULL;

  fixture->dir = g_dir_make_tmp ("tincan-ui-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->server_db = g_build_filename (fixture->dir, "server.sqlite", NULL);
  start_server (fixture, options);

  store_path = g_build_filename (fixture->dir, "alice.sqlite", NULL);
  fixture->store = tincan_store_new (store_path, &error);
  g_assert_no_error (error);
  if (options != NULL && options->fill > 0)
    fill_room (fixture->store, "lobby", options->fill);

  fixture->profile = tincan_profile_new ();
  tincan_profile_set_name (fixture->profile, "Test Server");
  tincan_profile_set_url (fixture->profile, tincan_server_get_uri (fixture->server));
  tincan_profile_set_user (fixture->profile, "alice");
  g_object_set (fixture->profile,
                "reconnect-base-ms", 100,
                "reconnect-cap-ms", 400,
                NULL);

  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);
  fixture->session = tincan_session_new (fixture->connection, FALSE);
  fixture->sessions = g_list_store_new (TINCAN_TYPE_SESSION);
  g_list_store_append (fixture->sessions, fixture->session);

  fixture->window = tincan_window_new (NULL, G_LIST_MODEL (fixture->sessions), NULL);
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 900, 700);
  gtk_window_present (GTK_WINDOW (fixture->window));

  tincan_connection_connect (fixture->connection);
  /* With a token on the server (and none here) the test watches it fail. */
  if (options == NULL || options->token == NULL)
    wait_for (is_connected, fixture, "the connection to the server");
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
  gtk_window_destroy (GTK_WINDOW (fixture->window));
  tincan_server_stop (fixture->server);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);

  g_clear_object (&fixture->message);
  g_clear_object (&fixture->sessions);
  g_clear_object (&fixture->session);
  g_clear_object (&fixture->connection);
  g_clear_object (&fixture->profile);
  g_clear_object (&fixture->store);
  g_clear_object (&fixture->server);
  remove_dir (fixture->dir);
  g_clear_pointer (&fixture->dir, g_free);
  g_clear_pointer (&fixture->server_db, g_free);
}

static TincanConversationView *
get_view (Fixture *fixture)
{
  TincanConversationView *view = tincan_window_get_conversation (fixture->window);

  g_assert_nonnull (view);
  g_assert_cmpstr (tincan_conversation_view_get_room (view), ==, "lobby");

  return view;
}

static TincanMessageRow *
find_row_in (GtkWidget  *widget,
             const char *cid)
{
  if (TINCAN_IS_MESSAGE_ROW (widget))
    {
      TincanMessage *message = tincan_message_row_get_message (TINCAN_MESSAGE_ROW (widget));

      if (message != NULL && g_strcmp0 (tincan_message_get_cid (message), cid) == 0)
        return TINCAN_MESSAGE_ROW (widget);
      return NULL;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      TincanMessageRow *row = find_row_in (child, cid);

      if (row != NULL)
        return row;
    }

  return NULL;
}

static TincanMessageRow *
find_row (Fixture    *fixture,
          const char *cid)
{
  return find_row_in (GTK_WIDGET (tincan_conversation_view_get_list_view (get_view (fixture))), cid);
}

static gboolean
row_exists (gpointer data)
{
  Fixture *fixture = data;

  return find_row (fixture, fixture->cid) != NULL;
}

static gboolean
row_delivered (gpointer data)
{
  Fixture *fixture = data;
  TincanMessageRow *row = find_row (fixture, fixture->cid);

  return row != NULL && g_strcmp0 (tincan_message_row_get_state_name (row), "delivered") == 0;
}

static gboolean
subtitle_has_prefix (gpointer data)
{
  Fixture *fixture = data;
  const char *subtitle = tincan_window_get_subtitle (fixture->window);

  return subtitle != NULL && g_str_has_prefix (subtitle, fixture->text);
}

/* Types @text into the composer and sends it as a user would. */
static TincanMessage *
send_text (Fixture    *fixture,
           const char *text)
{
  TincanConversationView *view = get_view (fixture);
  GtkTextView *composer = tincan_conversation_view_get_composer (view);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (composer);
  TincanMessageList *model = tincan_conversation_view_get_model (view);
  guint before = g_list_model_get_n_items (G_LIST_MODEL (model));
  TincanMessage *message = NULL;

  gtk_text_buffer_set_text (buffer, text, -1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "conversation.send", NULL));

  /* The composer is cleared and the message is in the model at once,
   * before any network round trip. */
  {
    GtkTextIter start, end;
    g_autofree char *left = NULL;

    gtk_text_buffer_get_bounds (buffer, &start, &end);
    left = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
    g_assert_cmpstr (left, ==, "");
  }

  /* One idle turn adds it to the list. */
  g_main_context_iteration (NULL, FALSE);
  while (g_list_model_get_n_items (G_LIST_MODEL (model)) == before)
    g_main_context_iteration (NULL, TRUE);

  message = g_list_model_get_item (G_LIST_MODEL (model), g_list_model_get_n_items (G_LIST_MODEL (model)) - 1);
  g_assert_cmpstr (tincan_message_get_text (message), ==, text);
  g_assert_true (tincan_message_is_outgoing (message));

  return message;
}

static void
test_send_optimistic (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr (TincanMessage) message = NULL;
  TincanMessageRow *row;
  const char *state;

  fixture->text = "Connected";
  wait_for (subtitle_has_prefix, fixture, "the header to say connected");

  message = send_text (fixture, "hello, optimistic world");
  /* Created queued: the list already holds it, nothing was acked yet. */
  g_assert_cmpint (tincan_message_get_seq (message), ==, 0);
  g_assert_cmpint (tincan_message_get_state (message), <=, TINCAN_MESSAGE_STATE_SENDING);

  fixture->cid = tincan_message_get_cid (message);
  wait_for (row_exists, fixture, "the row of the sent message");
  row = find_row (fixture, fixture->cid);
  state = tincan_message_row_get_state_name (row);
  g_assert_true (g_strcmp0 (state, "queued") == 0 ||
                 g_strcmp0 (state, "sending") == 0 ||
                 g_strcmp0 (state, "delivered") == 0);
  g_assert_cmpstr (gtk_label_get_text (tincan_message_row_get_text_label (row)), ==,
                   "hello, optimistic world");

  wait_for (row_delivered, fixture, "the row to show delivered");
  g_assert_cmpint (tincan_message_get_seq (message), >, 0);
  g_assert_false (gtk_widget_is_visible (tincan_message_row_get_retry_button (row)));
}

static gboolean
is_reconnecting (gpointer data)
{
  Fixture *fixture = data;
  TincanConnectionState state = tincan_connection_get_state (fixture->connection);

  return state == TINCAN_CONNECTION_STATE_RECONNECTING;
}

static void
test_reconnect (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr (TincanMessage) before = NULL;
  g_autoptr (TincanMessage) away = NULL;
  g_autoptr (TincanMessage) away2 = NULL;
  TincanMessageRow *row;
  TincanConversationView *view = get_view (fixture);

  before = send_text (fixture, "before the outage");
  fixture->cid = tincan_message_get_cid (before);
  wait_for (row_delivered, fixture, "the first message to be delivered");

  /* The server goes away. */
  tincan_server_stop (fixture->server);
  g_clear_object (&fixture->server);
  wait_for (is_reconnecting, fixture, "the connection to start reconnecting");
  fixture->text = "Reconnecting";
  wait_for (subtitle_has_prefix, fixture, "the header to say reconnecting");

  /* The composer still works, and what is sent now waits as queued. */
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (tincan_conversation_view_get_composer (view))));
  away = send_text (fixture, "sent while the server was down");
  away2 = send_text (fixture, "and another one");
  fixture->cid = tincan_message_get_cid (away);
  wait_for (row_exists, fixture, "the row of the queued message");
  row = find_row (fixture, fixture->cid);
  g_assert_cmpstr (tincan_message_row_get_state_name (row), ==, "queued");
  g_assert_cmpint (tincan_connection_get_queued_count (fixture->connection), >=, 2);

  /* It comes back on the same port; "Retry Now" reconnects at once. */
  start_server (fixture, NULL);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window), "win.reconnect", NULL));

  wait_for (row_delivered, fixture, "the queued message to be delivered");
  fixture->cid = tincan_message_get_cid (away2);
  wait_for (row_delivered, fixture, "the second queued message to be delivered");
  g_assert_cmpint (tincan_message_get_seq (away2), >, tincan_message_get_seq (away));
  fixture->text = "Connected";
  wait_for (subtitle_has_prefix, fixture, "the header to say connected again");
}

static gboolean
message_failed (gpointer data)
{
  Fixture *fixture = data;
  TincanMessageList *model = tincan_conversation_view_get_model (get_view (fixture));
  guint n = g_list_model_get_n_items (G_LIST_MODEL (model));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMessage) message = g_list_model_get_item (G_LIST_MODEL (model), i);

      if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_FAILED)
        {
          g_set_object (&fixture->message, message);
          fixture->cid = tincan_message_get_cid (message);
          return TRUE;
        }
    }

  return FALSE;
}

typedef struct
{
  Fixture *fixture;
  guint    clicks;
} RetryLoop;

/* Clicks Retry whenever the row shows failed, until it is delivered. */
static gboolean
retried_until_delivered (gpointer data)
{
  RetryLoop *loop = data;
  TincanMessageRow *row = find_row (loop->fixture, loop->fixture->cid);

  if (row == NULL)
    return FALSE;

  if (g_strcmp0 (tincan_message_row_get_state_name (row), "failed") == 0)
    {
      GtkWidget *retry = tincan_message_row_get_retry_button (row);

      g_assert_true (gtk_widget_is_visible (retry));
      g_assert_true (gtk_widget_activate (retry));
      loop->clicks++;
    }

  return g_strcmp0 (tincan_message_row_get_state_name (row), "delivered") == 0;
}

static void
test_rejected (Fixture       *fixture,
               gconstpointer  user_data)
{
  RetryLoop loop = { fixture, 0 };
  TincanMessageRow *row;
  GtkWidget *retry;

  /* The server allows 1 frame/s after a small burst: a quick series of
   * sends gets some of them rejected as rate limited. */
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *text = g_strdup_printf ("burst %u", i);
      g_autoptr (TincanMessage) message = send_text (fixture, text);
    }

  wait_for (message_failed, fixture, "a message to be rejected");
  wait_for (row_exists, fixture, "the row of the rejected message");
  row = find_row (fixture, fixture->cid);
  g_assert_cmpstr (tincan_message_row_get_state_name (row), ==, "failed");
  g_assert_nonnull (tincan_message_get_reason (fixture->message));
  retry = tincan_message_row_get_retry_button (row);
  g_assert_true (gtk_widget_is_visible (retry));
  g_assert_true (gtk_widget_is_sensitive (retry));

  /* The reason is shown next to the message. */
  {
    gboolean found = FALSE;

    for (GtkWidget *w = gtk_widget_get_first_child (GTK_WIDGET (row)); w != NULL && !found;
         w = gtk_widget_get_next_sibling (w))
      {
        GtkWidget *stack[64];
        guint depth = 0;

        stack[depth++] = w;
        while (depth > 0 && !found)
          {
            GtkWidget *cur = stack[--depth];

            if (GTK_IS_LABEL (cur) && gtk_widget_get_visible (cur) &&
                strstr (gtk_label_get_text (GTK_LABEL (cur)),
                        tincan_message_get_reason (fixture->message)) != NULL)
              found = TRUE;
            for (GtkWidget *c = gtk_widget_get_first_child (cur); c != NULL && depth < 64;
                 c = gtk_widget_get_next_sibling (c))
              stack[depth++] = c;
          }
      }
    g_assert_true (found);
  }

  wait_for (retried_until_delivered, &loop, "Retry to get the message delivered");
  g_assert_cmpuint (loop.clicks, >=, 1);
  g_assert_false (gtk_widget_is_visible (tincan_message_row_get_retry_button (row)));
}

static gboolean
row_gone (gpointer data)
{
  Fixture *fixture = data;

  return find_row (fixture, fixture->cid) == NULL;
}

/* Delete takes a failed message out of the conversation and the store. */
static void
test_rejected_delete (Fixture       *fixture,
                      gconstpointer  user_data)
{
  TincanConversationView *view = get_view (fixture);
  TincanMessageList *model = tincan_conversation_view_get_model (view);
  g_autofree char *cid = NULL;
  guint before;

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *text = g_strdup_printf ("burst %u", i);
      g_autoptr (TincanMessage) message = send_text (fixture, text);
    }

  wait_for (message_failed, fixture, "a message to be rejected");
  cid = g_strdup (fixture->cid);
  fixture->cid = cid;
  wait_for (row_exists, fixture, "the row of the rejected message");
  before = g_list_model_get_n_items (G_LIST_MODEL (model));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "conversation.discard", "s", cid));
  wait_for (row_gone, fixture, "the deleted message's row to go away");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, before - 1);
  g_assert_null (tincan_store_lookup_cid (fixture->store, cid));
}

static gboolean
is_failed (gpointer data)
{
  Fixture *fixture = data;

  return tincan_connection_get_state (fixture->connection) == TINCAN_CONNECTION_STATE_FAILED;
}

static gboolean
is_not_failed (gpointer data)
{
  return !is_failed (data);
}

static GtkWidget *
find_button_with_label (GtkWidget  *widget,
                        const char *label)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0)
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button_with_label (child, label);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static gboolean
is_shown (GtkWidget *widget)
{
  GtkWidget *revealer;

  if (widget == NULL || !gtk_widget_is_visible (widget))
    return FALSE;

  revealer = gtk_widget_get_ancestor (widget, GTK_TYPE_REVEALER);
  return revealer == NULL || gtk_revealer_get_reveal_child (GTK_REVEALER (revealer));
}

/* A terminal close: the header says why (code and reason), the composer
 * is disabled, and Reconnect is offered. */
static void
test_failed (Fixture       *fixture,
             gconstpointer  user_data)
{
  TincanConversationView *view;
  GtkWidget *reconnect;
  const char *subtitle;

  wait_for (is_failed, fixture, "the connection to fail with 4001");
  fixture->text = "Failed";
  wait_for (subtitle_has_prefix, fixture, "the header to say failed");
  subtitle = tincan_window_get_subtitle (fixture->window);
  g_assert_nonnull (strstr (subtitle, "4001"));
  g_assert_nonnull (strstr (subtitle, "unauthorized"));

  view = get_view (fixture);
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (tincan_conversation_view_get_composer (view))));
  g_assert_false (tincan_conversation_view_send (view));

  reconnect = find_button_with_label (GTK_WIDGET (fixture->window), "_Reconnect");
  g_assert_true (is_shown (reconnect));
  g_assert_false (is_shown (find_button_with_label (GTK_WIDGET (fixture->window), "Retry _Now")));

  /* Reconnect tries again (and fails again the same way). */
  g_assert_true (gtk_widget_activate (reconnect));
  wait_for (is_not_failed, fixture, "Reconnect to start a new attempt");
  wait_for (is_failed, fixture, "the connection to fail again");
}

/* The window remembers its size and the last room in GSettings. */
static void
test_settings (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr (GSettings) settings = g_settings_new ("io.github.tincan.Tincan");
  g_autofree char *expected = NULL;
  g_autofree char *last = NULL;
  TincanWindow *window;
  int width, height;

  g_settings_set_int (settings, "window-width", 777);
  g_settings_set_int (settings, "window-height", 555);
  window = tincan_window_new (NULL, G_LIST_MODEL (fixture->sessions), settings);
  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  g_assert_cmpint (width, ==, 777);
  g_assert_cmpint (height, ==, 555);

  gtk_window_present (GTK_WINDOW (window));
  tincan_window_open_room (window, fixture->session, "lobby");
  expected = g_strdup_printf ("%s/lobby", tincan_profile_get_id (fixture->profile));
  last = g_settings_get_string (settings, "last-room");
  g_assert_cmpstr (last, ==, expected);

  gtk_window_set_default_size (GTK_WINDOW (window), 640, 480);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 640);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 480);
}

static void
test_markup_is_literal (Fixture       *fixture,
                        gconstpointer  user_data)
{
  const char *text = "<b>bold?</b> &amp; <span foreground=\"red\">red?</span> <i";
  g_autoptr (TincanMessage) message = NULL;
  TincanMessageRow *row;
  GtkLabel *label;

  message = send_text (fixture, text);
  fixture->cid = tincan_message_get_cid (message);
  wait_for (row_delivered, fixture, "the markup-like message to be delivered");
  row = find_row (fixture, fixture->cid);
  label = tincan_message_row_get_text_label (row);

  g_assert_false (gtk_label_get_use_markup (label));
  g_assert_cmpstr (gtk_label_get_text (label), ==, text);
  g_assert_cmpstr (gtk_label_get_label (label), ==, text);
  /* No Pango attributes were parsed out of it. */
  g_assert_null (gtk_label_get_attributes (label));
}

static void
test_big_room (Fixture       *fixture,
               gconstpointer  user_data)
{
  TincanConversationView *view = get_view (fixture);
  TincanMessageList *model = tincan_conversation_view_get_model (view);
  guint page = 0;
  guint n;

  /* The view opens with about a screenful and pages by page-size. */
  g_object_get (model, "page-size", &page, NULL);
  g_assert_cmpuint (page, >=, 30);
  g_assert_cmpuint (page, <=, 100);

  g_assert_cmpuint (tincan_store_count_messages (fixture->store, "lobby"), >=, 100000);
  /* The window, not the history. */
  n = g_list_model_get_n_items (G_LIST_MODEL (model));
  g_assert_cmpuint (n, <=, 2 * page);
  g_assert_cmpuint (n, >=, 10);
  g_assert_true (tincan_message_list_get_has_more (model));
  g_assert_cmpuint (tincan_message_list_load_older (model), ==, page);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), >=, n + page - 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), <=, n + page);
}

/* Accessibility: every control has a name a screen reader can say. */
static gboolean
has_accessible_name (GtkWidget *widget)
{
  GtkAccessible *accessible = GTK_ACCESSIBLE (widget);

  /* Not the labelled-by relation: GTK 4.8 reports it on every button. */
  if (gtk_test_accessible_has_property (accessible, GTK_ACCESSIBLE_PROPERTY_LABEL))
    return TRUE;

  if (GTK_IS_BUTTON (widget))
    {
      const char *label = gtk_button_get_label (GTK_BUTTON (widget));
      GtkWidget *child = gtk_button_get_child (GTK_BUTTON (widget));

      if (label != NULL && *label != '\0' && !gtk_button_get_icon_name (GTK_BUTTON (widget)))
        return TRUE;
      if (GTK_IS_LABEL (child) && *gtk_label_get_text (GTK_LABEL (child)) != '\0')
        return TRUE;
    }

  if (GTK_IS_MENU_BUTTON (widget))
    {
      const char *label = gtk_menu_button_get_label (GTK_MENU_BUTTON (widget));

      return label != NULL && *label != '\0';
    }

  if (GTK_IS_CHECK_BUTTON (widget))
    {
      const char *label = gtk_check_button_get_label (GTK_CHECK_BUTTON (widget));

      return label != NULL && *label != '\0';
    }

  return FALSE;
}

static gboolean
is_control (GtkWidget *widget)
{
  return GTK_IS_BUTTON (widget) || GTK_IS_MENU_BUTTON (widget) || GTK_IS_TEXT_VIEW (widget) ||
         GTK_IS_ENTRY (widget) || GTK_IS_SWITCH (widget) || GTK_IS_CHECK_BUTTON (widget) ||
         GTK_IS_SPIN_BUTTON (widget) || GTK_IS_LIST_BOX_ROW (widget);
}

static void
collect_unlabelled (GtkWidget *widget,
                    GPtrArray *missing,
                    guint     *checked)
{
  if (!gtk_widget_get_visible (widget))
    return;

  if (is_control (widget))
    {
      (*checked)++;
      if (!has_accessible_name (widget))
        {
          GString *description = g_string_new (G_OBJECT_TYPE_NAME (widget));

          for (GtkWidget *parent = gtk_widget_get_parent (widget); parent != NULL;
               parent = gtk_widget_get_parent (parent))
            g_string_append_printf (description, " < %s", G_OBJECT_TYPE_NAME (parent));
          g_ptr_array_add (missing, g_string_free (description, FALSE));
        }

      /* Composite controls name their inner parts themselves. */
      if (GTK_IS_MENU_BUTTON (widget) || GTK_IS_SPIN_BUTTON (widget) || GTK_IS_BUTTON (widget))
        return;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_unlabelled (child, missing, checked);
}

static void
test_accessible_labels (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (TincanMessage) message = NULL;
  guint checked = 0;

  message = send_text (fixture, "a row with a link https://example.org/x to check");
  fixture->cid = tincan_message_get_cid (message);
  wait_for (row_delivered, fixture, "the message to be delivered");

  collect_unlabelled (GTK_WIDGET (fixture->window), missing, &checked);

  for (guint i = 0; i < missing->len; i++)
    g_test_message ("No accessible name: %s", (char *) g_ptr_array_index (missing, i));
  /* The composer, send, jump, menus, the room row at least. */
  g_assert_cmpuint (checked, >=, 6);
  g_assert_cmpuint (missing->len, ==, 0);

  /* The composer says what it is for. */
  g_assert_true (gtk_test_accessible_has_property (
                   GTK_ACCESSIBLE (tincan_conversation_view_get_composer (get_view (fixture))),
                   GTK_ACCESSIBLE_PROPERTY_LABEL));
}

static gboolean
find_widget (GtkWidget  *widget,
             const char *label_text,
             const char *tooltip_part)
{
  if (label_text != NULL && GTK_IS_LABEL (widget) &&
      g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), label_text) == 0 &&
      gtk_widget_get_visible (widget))
    return TRUE;
  if (tooltip_part != NULL && gtk_widget_get_tooltip_text (widget) != NULL &&
      strstr (gtk_widget_get_tooltip_text (widget), tooltip_part) != NULL &&
      gtk_widget_get_visible (widget))
    return TRUE;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (find_widget (child, label_text, tooltip_part))
      return TRUE;

  return FALSE;
}

/* Issue #5 in a row: a protocol without acks stops at sent and the row
 * says why; a frame no mapping matched is shown as unmapped, raw. */
static void
test_message_row_dialects (void)
{
  GtkWidget *row = g_object_ref_sink (tincan_message_row_new ());
  g_autoptr (TincanMessage) sent = tincan_message_new_outgoing ("lobby", "alice", "hi");
  g_autoptr (TincanMessage) unmapped = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autoptr (TincanMessage) plain = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  GtkLabel *text;

  tincan_message_set_state (sent, TINCAN_MESSAGE_STATE_SENT);
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), sent);
  g_assert_cmpstr (tincan_message_row_get_state_name (TINCAN_MESSAGE_ROW (row)), ==, "sent");
  g_assert_true (find_widget (row, NULL, "no acknowledgements"));

  tincan_message_set_id (unmapped, TINCAN_UNMAPPED_ID_PREFIX "1");
  tincan_message_set_room (unmapped, "lobby");
  tincan_message_set_text (unmapped, "Binary frame, 4 bytes: 00 01 fe ff");
  tincan_message_set_state (unmapped, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), unmapped);
  text = tincan_message_row_get_text_label (TINCAN_MESSAGE_ROW (row));
  g_assert_true (find_widget (row, "Unmapped frame", NULL));
  g_assert_cmpstr (gtk_label_get_text (text), ==, "Binary frame, 4 bytes: 00 01 fe ff");
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (text), "monospace"));
  g_assert_false (find_widget (row, NULL, "no acknowledgements"));

  /* The same row reused for an ordinary message loses the marks. */
  tincan_message_set_id (plain, "m1");
  tincan_message_set_sender (plain, "bob");
  tincan_message_set_text (plain, "hello");
  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), plain);
  g_assert_false (find_widget (row, "Unmapped frame", NULL));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (text), "monospace"));

  tincan_message_row_set_message (TINCAN_MESSAGE_ROW (row), NULL);
  g_object_unref (row);
}

static AdwComboRow *
find_combo (GtkWidget  *widget,
            const char *title)
{
  if (ADW_IS_COMBO_ROW (widget) &&
      g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0)
    return ADW_COMBO_ROW (widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwComboRow *found = find_combo (child, title);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static gboolean
find_visible_row (GtkWidget  *widget,
                  const char *title_part)
{
  if (ADW_IS_PREFERENCES_ROW (widget) && gtk_widget_get_visible (widget) &&
      strstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title_part) != NULL)
    return TRUE;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (find_visible_row (child, title_part))
      return TRUE;

  return FALSE;
}

static guint
combo_index (AdwComboRow *combo,
             const char  *name)
{
  GListModel *model = adw_combo_row_get_model (combo);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (GtkStringObject) item = g_list_model_get_item (model, i);

      if (g_str_equal (gtk_string_object_get_string (item), name))
        return i;
    }

  g_error ("“%s” is not in the list", name);
  return 0;
}

/* The server dialog offers every dialect, and each one's own options. */
static void
test_server_dialog_protocols (void)
{
  g_autoptr (TincanApplication) app = tincan_application_new ();
  GtkWidget *dialog = tincan_server_dialog_new (NULL, app, NULL);
  AdwComboRow *protocol = find_combo (dialog, "Protocol");
  AdwComboRow *preset = find_combo (dialog, "JSON Mapping");
  const char * const *names = tincan_protocol_list_names ();

  g_assert_nonnull (protocol);
  g_assert_nonnull (preset);
  for (guint i = 0; names[i] != NULL; i++)
    combo_index (protocol, names[i]);
  for (guint i = 0; tincan_protocol_json_list_presets ()[i] != NULL; i++)
    combo_index (preset, tincan_protocol_json_list_presets ()[i]);

  adw_combo_row_set_selected (protocol, combo_index (protocol, "tincan"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (preset)));
  g_assert_false (find_visible_row (dialog, "Event to Send"));

  adw_combo_row_set_selected (protocol, combo_index (protocol, "json"));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (preset)));

  adw_combo_row_set_selected (protocol, combo_index (protocol, "socketio"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (preset)));
  g_assert_true (find_visible_row (dialog, "Event to Send"));
  g_assert_true (find_visible_row (dialog, "Event to Receive"));
  g_assert_true (find_visible_row (dialog, "Namespace"));
  g_assert_false (find_visible_row (dialog, "JSON-RPC"));

  adw_combo_row_set_selected (protocol, combo_index (protocol, "jsonrpc"));
  g_assert_true (find_visible_row (dialog, "JSON-RPC Method to Send"));
  g_assert_false (find_visible_row (dialog, "Event to Send"));

  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
test_first_run (void)
{
  g_autoptr (GListStore) sessions = g_list_store_new (TINCAN_TYPE_SESSION);
  TincanWindow *window = tincan_window_new (NULL, G_LIST_MODEL (sessions), NULL);
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  guint checked = 0;

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (tincan_window_is_first_run (window));
  g_assert_null (tincan_window_get_conversation (window));

  collect_unlabelled (GTK_WIDGET (window), missing, &checked);
  for (guint i = 0; i < missing->len; i++)
    g_test_message ("No accessible name: %s", (char *) g_ptr_array_index (missing, i));
  g_assert_cmpuint (missing->len, ==, 0);
  /* "Add a Server…" and "Try the Built-in Server", at least. */
  g_assert_cmpuint (checked, >=, 2);

  gtk_window_destroy (GTK_WINDOW (window));
}

static const Options default_options = { 0, 0, 0, NULL };
static const Options limited_options = { 1.0, 3, 0, NULL };
static const Options big_options = { 0, 0, 100000, NULL };
static const Options token_options = { 0, 0, 0, "sekrit" };

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  gtk_icon_theme_add_resource_path (gtk_icon_theme_get_for_display (gdk_display_get_default ()),
                                    "/io/github/tincan/Tincan/icons");

  g_test_add_func ("/ui/first-run", test_first_run);
  g_test_add ("/ui/send-optimistic", Fixture, &default_options,
              fixture_set_up, test_send_optimistic, fixture_tear_down);
  g_test_add ("/ui/reconnect", Fixture, &default_options,
              fixture_set_up, test_reconnect, fixture_tear_down);
  g_test_add ("/ui/rejected-retry", Fixture, &limited_options,
              fixture_set_up, test_rejected, fixture_tear_down);
  g_test_add ("/ui/rejected-delete", Fixture, &limited_options,
              fixture_set_up, test_rejected_delete, fixture_tear_down);
  g_test_add ("/ui/failed", Fixture, &token_options,
              fixture_set_up, test_failed, fixture_tear_down);
  g_test_add ("/ui/settings", Fixture, &default_options,
              fixture_set_up, test_settings, fixture_tear_down);
  g_test_add ("/ui/markup-is-literal", Fixture, &default_options,
              fixture_set_up, test_markup_is_literal, fixture_tear_down);
  g_test_add ("/ui/big-room", Fixture, &big_options,
              fixture_set_up, test_big_room, fixture_tear_down);
  g_test_add ("/ui/accessible-labels", Fixture, &default_options,
              fixture_set_up, test_accessible_labels, fixture_tear_down);
  g_test_add_func ("/ui/message-row-dialects", test_message_row_dialects);
  g_test_add_func ("/ui/server-dialog-protocols", test_server_dialog_protocols);

  return g_test_run ();
}
