/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-inspector-ui"

#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "tincan-inspector-pane.h"
#include "tincan-server.h"
#include "tincan-session.h"
#include "tincan-util.h"
#include "tincan-window.h"

#define TIMEOUT_MS 15000
#define TOKEN "inspector-hello-token-5f2c9a"

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

/* Runs the main loop until nothing is pending (at most a deadline). */
static void
drain (void)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TIMEOUT_MS * 1000;

  while (g_main_context_pending (NULL) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
}

typedef struct
{
  char                *dir;
  TincanServer        *server;
  TincanStore         *store;
  TincanProfile       *profile;
  TincanConnection    *connection;
  TincanSession       *session;
  GListStore          *sessions;
  TincanWindow        *window;
  TincanInspectorPane *pane;

  /* Scratch for conditions. */
  const char          *needle;
  TincanMessage       *message;
  guint                count;
} Fixture;

static char *
token_provider (gpointer user_data)
{
  return g_strdup (TOKEN);
}

static gboolean
is_connected (gpointer data)
{
  Fixture *fixture = data;

  return tincan_connection_get_state (fixture->connection) == TINCAN_CONNECTION_STATE_CONNECTED;
}

static GListModel *
rows (Fixture *fixture)
{
  return G_LIST_MODEL (tincan_inspector_pane_get_model (fixture->pane));
}

/* The position of the first shown row whose text contains @needle. */
static guint
find_row (Fixture    *fixture,
          const char *needle)
{
  guint n = g_list_model_get_n_items (rows (fixture));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (rows (fixture), i);
      const char *text = tincan_frame_record_get_text (record);

      if (text != NULL && strstr (text, needle) != NULL)
        return i;
    }

  return G_MAXUINT;
}

static gboolean
row_with_needle (gpointer data)
{
  Fixture *fixture = data;

  return find_row (fixture, fixture->needle) != G_MAXUINT;
}

static gboolean
message_delivered (gpointer data)
{
  Fixture *fixture = data;

  return tincan_message_get_state (fixture->message) == TINCAN_MESSAGE_STATE_DELIVERED;
}

static gboolean
pane_mapped (gpointer data)
{
  Fixture *fixture = data;

  return gtk_widget_get_mapped (GTK_WIDGET (fixture->pane));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *server_db = NULL;
  g_autofree char *store_path = NULL;

  fixture->dir = g_dir_make_tmp ("tincan-inspector-ui-XXXXXX", &error);
  g_assert_no_error (error);

  server_db = g_build_filename (fixture->dir, "server.sqlite", NULL);
  fixture->server = tincan_server_new ();
  g_object_set (fixture->server, "db-path", server_db, "token", TOKEN, NULL);
  tincan_server_listen (fixture->server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);

  store_path = g_build_filename (fixture->dir, "alice.sqlite", NULL);
  fixture->store = tincan_store_new (store_path, &error);
  g_assert_no_error (error);

  fixture->profile = tincan_profile_new ();
  tincan_profile_set_name (fixture->profile, "Inspected Server");
  tincan_profile_set_url (fixture->profile, tincan_server_get_uri (fixture->server));
  tincan_profile_set_user (fixture->profile, "alice");
  tincan_profile_set_auth_method (fixture->profile, TINCAN_AUTH_HELLO);

  fixture->connection = tincan_connection_new (fixture->profile, fixture->store);
  tincan_connection_set_token_provider (fixture->connection, token_provider, NULL, NULL);
  fixture->session = tincan_session_new (fixture->connection, FALSE);
  fixture->sessions = g_list_store_new (TINCAN_TYPE_SESSION);
  g_list_store_append (fixture->sessions, fixture->session);

  fixture->window = tincan_window_new (NULL, G_LIST_MODEL (fixture->sessions), NULL);
  gtk_window_set_default_size (GTK_WINDOW (fixture->window), 1200, 700);
  gtk_window_present (GTK_WINDOW (fixture->window));

  tincan_connection_connect (fixture->connection);
  wait_for (is_connected, fixture, "the connection to the server");

  /* What Ctrl+I does. */
  g_assert_null (tincan_window_get_inspector (fixture->window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (fixture->window), "win.toggle-inspector", NULL));
  fixture->pane = tincan_window_get_inspector (fixture->window);
  g_assert_nonnull (fixture->pane);
  g_assert_true (tincan_inspector_pane_get_session (fixture->pane) == fixture->session);
  wait_for (pane_mapped, fixture, "the inspector pane to be shown");

  /* The handshake frames were kept before the pane existed. */
  fixture->needle = "\"welcome\"";
  wait_for (row_with_needle, fixture, "the welcome frame in the inspector");
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
  drain ();

  g_clear_object (&fixture->message);
  g_clear_object (&fixture->sessions);
  g_clear_object (&fixture->session);
  g_clear_object (&fixture->connection);
  g_clear_object (&fixture->profile);
  g_clear_object (&fixture->store);
  g_clear_object (&fixture->server);
  remove_dir (fixture->dir);
  g_clear_pointer (&fixture->dir, g_free);
}

static void
send_and_wait (Fixture    *fixture,
               const char *text)
{
  g_autoptr (GError) error = NULL;

  g_clear_object (&fixture->message);
  fixture->message = tincan_connection_send (fixture->connection, "lobby", text, &error);
  g_assert_no_error (error);
  wait_for (message_delivered, fixture, "the message to be delivered");
}

static void
test_frames_and_direction (Fixture       *fixture,
                           gconstpointer  user_data)
{
  TincanFrameFilter *filter = tincan_inspector_pane_get_filter (fixture->pane);
  guint all, in = 0, out = 0;

  send_and_wait (fixture, "first inspected message");
  fixture->needle = "first inspected message";
  wait_for (row_with_needle, fixture, "the sent message's frames in the column view");

  /* The column view shows this very model. */
  g_assert_true (gtk_column_view_get_model (tincan_inspector_pane_get_column_view (fixture->pane)) ==
                 tincan_inspector_pane_get_model (fixture->pane));

  /* Hold the view still (heartbeats keep coming) while counting. */
  tincan_frame_log_set_paused (tincan_inspector_pane_get_frame_log (fixture->pane), TRUE);
  drain ();
  all = g_list_model_get_n_items (rows (fixture));
  for (guint i = 0; i < all; i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (rows (fixture), i);

      if (tincan_frame_record_get_direction (record) == TINCAN_FRAME_DIRECTION_IN)
        in++;
      else
        out++;
    }
  g_assert_cmpuint (in, >, 0);
  g_assert_cmpuint (out, >, 0);

  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_OUT);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, out);
  for (guint i = 0; i < out; i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (rows (fixture), i);

      g_assert_cmpint (tincan_frame_record_get_direction (record), ==, TINCAN_FRAME_DIRECTION_OUT);
    }

  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_IN);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, in);

  tincan_frame_filter_set_direction (filter, TINCAN_FRAME_FILTER_DIRECTION_ANY);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, all);
}

static void
test_pause_resume (Fixture       *fixture,
                   gconstpointer  user_data)
{
  TincanFrameLog *log = tincan_inspector_pane_get_frame_log (fixture->pane);
  guint before;

  tincan_frame_log_set_paused (log, TRUE);
  drain ();
  before = g_list_model_get_n_items (rows (fixture));

  send_and_wait (fixture, "sent while paused");
  drain ();
  /* Kept, not shown. */
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, before);
  g_assert_cmpuint (find_row (fixture, "sent while paused"), ==, G_MAXUINT);
  g_assert_cmpuint (tincan_frame_log_get_n_pending (log), >, 0);

  tincan_frame_log_set_paused (log, FALSE);
  fixture->needle = "sent while paused";
  wait_for (row_with_needle, fixture, "the paused frames to show after resume");
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), >, before);
}

static void
test_json_detail_is_plain (Fixture       *fixture,
                           gconstpointer  user_data)
{
  const char *text = "<span foreground=\"red\">not red</span> and </tt> & <b";
  g_autoptr (TincanFrameRecord) record = NULL;
  g_autofree char *pretty = NULL;
  GtkLabel *label;
  PangoAttrList *attrs;
  guint position;

  send_and_wait (fixture, text);
  fixture->needle = "foreground";
  wait_for (row_with_needle, fixture, "the markup-like frame");

  position = find_row (fixture, "foreground");
  record = g_list_model_get_item (rows (fixture), position);
  tincan_inspector_pane_select (fixture->pane, position);
  drain ();

  pretty = tincan_inspector_format_json (tincan_frame_record_get_text (record), FALSE, NULL);
  g_assert_nonnull (pretty);
  g_assert_nonnull (strstr (pretty, "<span foreground=\\\"red\\\">"));
  g_assert_nonnull (strstr (pretty, "</tt>"));

  label = tincan_inspector_pane_get_detail_label (fixture->pane);
  g_assert_false (gtk_label_get_use_markup (label));
  /* What is drawn is the pretty JSON itself, character for character. */
  g_assert_cmpstr (gtk_label_get_text (label), ==, pretty);
  g_assert_cmpstr (gtk_label_get_label (label), ==, pretty);
  /* The colouring is attributes, and none of them came from the content:
   * the span's "red" would be a foreground attribute on "not red". */
  attrs = gtk_label_get_attributes (label);
  g_assert_nonnull (attrs);
  {
    const char *inner = strstr (pretty, "not red");
    guint start = (guint) (inner - pretty);
    g_autoptr (GSList) list = pango_attr_list_get_attributes (attrs);
    gboolean covered_once = FALSE;

    for (GSList *l = list; l != NULL; l = l->next)
      {
        PangoAttribute *attr = l->data;

        /* Only the token colouring: the whole string is one range that
         * starts at its opening quote, before the '<'. */
        if (attr->klass->type == PANGO_ATTR_FOREGROUND &&
            attr->start_index <= start && attr->end_index > start)
          {
            g_assert_false (covered_once);
            covered_once = TRUE;
            g_assert_cmpint (pretty[attr->start_index], ==, '"');
          }
      }
    g_slist_free_full (g_steal_pointer (&list), (GDestroyNotify) pango_attribute_destroy);
    g_assert_true (covered_once);
  }
}

/* After tincan_connection_disconnect() the close frame it sends is the
 * last row: the connection stops listening to the socket when it closes,
 * so the server's answer is not recorded. */
static gboolean
close_is_last_row (gpointer data)
{
  Fixture *fixture = data;
  guint n = g_list_model_get_n_items (rows (fixture));
  g_autoptr (TincanFrameRecord) last = NULL;

  if (tincan_connection_get_state (fixture->connection) != TINCAN_CONNECTION_STATE_DISCONNECTED ||
      n == 0)
    return FALSE;

  last = g_list_model_get_item (rows (fixture), n - 1);
  return tincan_frame_record_get_kind (last) == TINCAN_FRAME_RECORD_KIND_FRAME &&
         tincan_frame_record_get_opcode (last) == TINCAN_OPCODE_CLOSE &&
         tincan_frame_record_get_direction (last) == TINCAN_FRAME_DIRECTION_OUT;
}

static char *
dup_lines (GListModel *model)
{
  GString *out = g_string_new (NULL);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (model, i);
      g_autofree char *line = tincan_frame_record_to_json_line (record);

      g_string_append (out, line);
      g_string_append_c (out, '\n');
    }

  return g_string_free (out, FALSE);
}

static void
test_export_import (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) exported = NULL;
  g_autoptr (GBytes) read_back = NULL;
  g_autofree char *path = g_build_filename (fixture->dir, "frames.jsonl", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *live_rows = NULL;
  g_autofree char *imported_rows = NULL;
  gsize length = 0;

  send_and_wait (fixture, "exported message");
  fixture->needle = "exported message";
  wait_for (row_with_needle, fixture, "the exported message's frame");
  /* No more frames after this (the close is the last one). */
  tincan_connection_disconnect (fixture->connection);
  fixture->needle = NULL;
  wait_for (close_is_last_row, fixture, "the close frame as the last row");
  fixture->count = g_list_model_get_n_items (rows (fixture));
  live_rows = dup_lines (rows (fixture));

  exported = tincan_inspector_pane_export_bytes (fixture->pane, &error);
  g_assert_no_error (error);
  g_file_set_contents (path, g_bytes_get_data (exported, NULL), (gssize) g_bytes_get_size (exported), &error);
  g_assert_no_error (error);

  /* The file holds the hello frame, but not the token it carried. */
  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, "\\\"hello\\\""));
  g_assert_null (strstr (contents, TOKEN));

  read_back = g_bytes_new_take (g_steal_pointer (&contents), length);
  g_assert_true (tincan_inspector_pane_import_bytes (fixture->pane, read_back, &error));
  g_assert_no_error (error);
  g_assert_true (tincan_inspector_pane_get_viewing_import (fixture->pane));
  drain ();

  imported_rows = dup_lines (rows (fixture));
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, fixture->count);
  g_assert_cmpstr (imported_rows, ==, live_rows);

  /* A broken file changes nothing. */
  {
    g_autoptr (GBytes) bad = g_bytes_new_static ("{\"t\":1}\nnot json\n", 17);

    g_assert_false (tincan_inspector_pane_import_bytes (fixture->pane, bad, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
    g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, fixture->count);
  }

  tincan_inspector_pane_show_live (fixture->pane);
  g_assert_false (tincan_inspector_pane_get_viewing_import (fixture->pane));
  g_assert_true (tincan_inspector_pane_get_frame_log (fixture->pane) ==
                 tincan_session_get_frame_log (fixture->session));
}

/* A flood past the log's capacity: the pane keeps showing the newest
 * frame at the bottom, stops following while the user looks further up,
 * and follows again once they scroll back down. */
static GtkAdjustment *
frames_adjustment (Fixture *fixture)
{
  return gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (tincan_inspector_pane_get_column_view (fixture->pane)));
}

static gboolean
newest_in_model (gpointer data)
{
  Fixture *fixture = data;
  GListModel *log = G_LIST_MODEL (tincan_inspector_pane_get_frame_log (fixture->pane));
  guint n = g_list_model_get_n_items (rows (fixture));
  guint n_log = g_list_model_get_n_items (log);
  g_autoptr (TincanFrameRecord) shown = n > 0 ? g_list_model_get_item (rows (fixture), n - 1) : NULL;
  g_autoptr (TincanFrameRecord) newest = n_log > 0 ? g_list_model_get_item (log, n_log - 1) : NULL;

  return tincan_frame_log_get_n_pending (TINCAN_FRAME_LOG (log)) == 0 && shown != NULL && shown == newest;
}

/* A label showing @text that is drawn inside @viewport. */
static gboolean
shows_text (GtkWidget  *widget,
            GtkWidget  *viewport,
            const char *text)
{
  graphene_rect_t bounds;

  if (!gtk_widget_get_mapped (widget))
    return FALSE;

  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return gtk_widget_compute_bounds (widget, viewport, &bounds) &&
           bounds.origin.y >= 0 &&
           bounds.origin.y + bounds.size.height <= gtk_widget_get_height (viewport) + 1;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (shows_text (child, viewport, text))
      return TRUE;

  return FALSE;
}

static gboolean
newest_at_bottom (gpointer data)
{
  Fixture *fixture = data;
  GtkAdjustment *adjustment = frames_adjustment (fixture);
  GListModel *log = G_LIST_MODEL (tincan_inspector_pane_get_frame_log (fixture->pane));
  GtkWidget *view = GTK_WIDGET (tincan_inspector_pane_get_column_view (fixture->pane));
  double upper = gtk_adjustment_get_upper (adjustment);
  double page = gtk_adjustment_get_page_size (adjustment);
  g_autoptr (TincanFrameRecord) newest = NULL;

  if (!newest_in_model (fixture) || upper <= page ||
      gtk_adjustment_get_value (adjustment) < upper - page - 1)
    return FALSE;

  /* Its row is really there, on screen. */
  newest = g_list_model_get_item (log, g_list_model_get_n_items (log) - 1);
  return shows_text (view, view, tincan_frame_record_get_text (newest));
}

static gboolean
frames_drawn (gpointer data)
{
  Fixture *fixture = data;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (fixture->pane));

  return gdk_frame_clock_get_frame_counter (clock) >= (gint64) fixture->count;
}

static void
wait_frames (Fixture *fixture,
             guint    n)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (fixture->pane));

  fixture->count = (guint) gdk_frame_clock_get_frame_counter (clock) + n;
  gtk_widget_queue_draw (GTK_WIDGET (fixture->pane));
  wait_for (frames_drawn, fixture, "frames to be drawn");
}

static void
flood (Fixture *fixture,
       guint    n,
       guint    per_turn)
{
  TincanFrameLog *log = tincan_inspector_pane_get_frame_log (fixture->pane);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"type\":\"pong\",\"id\":%u}", i);
      g_autoptr (GBytes) payload = g_bytes_new (json, strlen (json));

      tincan_frame_log_append (log, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_TEXT, payload,
                               g_get_real_time ());
      if ((i + 1) % per_turn == 0)
        g_main_context_iteration (NULL, FALSE);
    }
}

static void
test_follows_newest (Fixture       *fixture,
                     gconstpointer  user_data)
{
  TincanFrameLog *log = tincan_inspector_pane_get_frame_log (fixture->pane);
  GtkAdjustment *adjustment = frames_adjustment (fixture);

  tincan_frame_log_set_capacity (log, 3000);
  flood (fixture, 5000, 250);
  wait_for (newest_at_bottom, fixture, "the newest frame at the bottom of the pane");
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, 3000);
  g_assert_cmpuint (tincan_frame_log_get_n_evicted (log), >, 0);

  /* The user scrolls up: what they look at stays put. */
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) / 2);
  wait_frames (fixture, 2);
  flood (fixture, 500, 100);
  wait_for (newest_in_model, fixture, "the frames added while scrolled up");
  wait_frames (fixture, 3);
  g_assert_cmpfloat (gtk_adjustment_get_value (adjustment), <,
                     gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment) - 100);

  /* Back at the bottom, it follows again. */
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment));
  wait_frames (fixture, 2);
  flood (fixture, 1000, 100);
  wait_for (newest_at_bottom, fixture, "the newest frame at the bottom again");
}

static void
test_regex_error (Fixture       *fixture,
                  gconstpointer  user_data)
{
  TincanFrameFilter *filter = tincan_inspector_pane_get_filter (fixture->pane);

  tincan_frame_filter_set_regex (filter, "welcome(");
  drain ();
  g_assert_nonnull (tincan_frame_filter_get_regex_error (filter));
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, 0);

  tincan_frame_filter_set_regex (filter, "\"type\":\"welc.me\"");
  drain ();
  g_assert_null (tincan_frame_filter_get_regex_error (filter));
  g_assert_cmpuint (g_list_model_get_n_items (rows (fixture)), ==, 1);
}

static void
test_fill_template (void)
{
  g_autofree char *json = tincan_inspector_fill_template ("{\"type\":\"send\",\"cid\":\"{{uuid}}\",\"text\":\"{{text}}\",\"raw\":{{text}}}",
                                                          "say \"hi\"\n");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *object;
  g_autofree char *plain = tincan_inspector_fill_template ("hello {{text}}", "\"you\"");

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "text"), ==, "say \"hi\"\n");
  g_assert_cmpstr (json_object_get_string_member (object, "raw"), ==, "say \"hi\"\n");
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "cid")), ==, 36);
  g_assert_cmpstr (plain, ==, "hello \"you\"");
}

/* Probes and network simulation */

typedef struct
{
  Fixture         *fixture;
  TincanProbeKind  kind;
} ProbeWatch;

static gboolean
probe_finished (gpointer data)
{
  ProbeWatch *watch = data;
  const char *status = gtk_label_get_text (tincan_inspector_pane_get_probe_status_label (watch->fixture->pane,
                                                                                        watch->kind));

  return g_str_equal (status, "Passed") || g_str_equal (status, "Failed") ||
         g_str_equal (status, "Could not run");
}

static void
test_probes (Fixture       *fixture,
             gconstpointer  user_data)
{
  const TincanProbeKind kinds[] = { TINCAN_PROBE_MALFORMED, TINCAN_PROBE_DEDUP };
  GtkButton *button;

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      ProbeWatch watch = { fixture, kinds[i] };
      GtkLabel *evidence = tincan_inspector_pane_get_probe_evidence_label (fixture->pane, kinds[i]);

      button = tincan_inspector_pane_get_probe_button (fixture->pane, kinds[i]);
      g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (button)));
      g_signal_emit_by_name (button, "clicked");
      g_assert_cmpstr (gtk_label_get_text (tincan_inspector_pane_get_probe_status_label (fixture->pane, kinds[i])),
                       ==, "Running…");
      /* One probe at a time. */
      for (TincanProbeKind kind = TINCAN_PROBE_DEDUP; kind <= TINCAN_PROBE_MALFORMED; kind++)
        g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (tincan_inspector_pane_get_probe_button (fixture->pane, kind))));

      wait_for (probe_finished, &watch, "the probe's result");
      g_assert_cmpstr (gtk_label_get_text (tincan_inspector_pane_get_probe_status_label (fixture->pane, kinds[i])),
                       ==, "Passed");
      g_assert_true (gtk_widget_get_visible (GTK_WIDGET (evidence)));
      g_assert_false (gtk_label_get_use_markup (evidence));
      g_assert_nonnull (strstr (gtk_label_get_text (evidence),
                                kinds[i] == TINCAN_PROBE_MALFORMED ? "← pong id" : "re-sending cid"));
      g_assert_null (strstr (gtk_label_get_text (evidence), TOKEN));
      wait_for (is_connected, fixture, "the connection after the probe");
    }

  /* A dialect that cannot be probed: insensitive, and the tooltip says why. */
  tincan_connection_disconnect (fixture->connection);
  tincan_profile_set_protocol (fixture->profile, "plain");
  drain ();
  button = tincan_inspector_pane_get_probe_button (fixture->pane, TINCAN_PROBE_RESUME);
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (button)));
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (GTK_WIDGET (button)), "no resume"));
}

static gboolean
is_offline (gpointer data)
{
  Fixture *fixture = data;

  return tincan_connection_get_state (fixture->connection) == TINCAN_CONNECTION_STATE_OFFLINE;
}

static void
test_network (Fixture       *fixture,
              gconstpointer  user_data)
{
  GtkSpinButton *latency = tincan_inspector_pane_get_latency_spin (fixture->pane);
  GtkButton *drop = tincan_inspector_pane_get_drop_button (fixture->pane);
  GtkButton *offline = tincan_inspector_pane_get_offline_button (fixture->pane);

  /* The spin button is the connection's simulated latency, both ways. */
  gtk_spin_button_set_value (latency, 250);
  g_assert_cmpuint (tincan_connection_get_simulated_latency (fixture->connection), ==, 250);
  tincan_connection_simulate_latency (fixture->connection, 0);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (latency), ==, 0);

  /* Drop now: gone, then back by the reconnect policy. */
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (drop)));
  g_signal_emit_by_name (drop, "clicked");
  g_assert_false (is_connected (fixture));
  wait_for (is_connected, fixture, "the reconnect after a drop");

  /* Offline, then back on request. */
  g_signal_emit_by_name (offline, "clicked");
  wait_for (is_offline, fixture, "offline");
  g_assert_true (tincan_connection_get_simulated_offline (fixture->connection));
  g_assert_cmpstr (gtk_button_get_label (offline), ==, "_Back Online");
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (drop)));
  g_signal_emit_by_name (offline, "clicked");
  wait_for (is_connected, fixture, "the connection after going back online");
  g_assert_cmpstr (gtk_button_get_label (offline), ==, "Go _Offline");
}

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

  g_test_add_func ("/inspector-ui/fill-template", test_fill_template);
  g_test_add ("/inspector-ui/frames-and-direction", Fixture, NULL,
              fixture_set_up, test_frames_and_direction, fixture_tear_down);
  g_test_add ("/inspector-ui/pause-resume", Fixture, NULL,
              fixture_set_up, test_pause_resume, fixture_tear_down);
  g_test_add ("/inspector-ui/json-detail-is-plain", Fixture, NULL,
              fixture_set_up, test_json_detail_is_plain, fixture_tear_down);
  g_test_add ("/inspector-ui/export-import", Fixture, NULL,
              fixture_set_up, test_export_import, fixture_tear_down);
  g_test_add ("/inspector-ui/follows-newest", Fixture, NULL,
              fixture_set_up, test_follows_newest, fixture_tear_down);
  g_test_add ("/inspector-ui/regex-error", Fixture, NULL,
              fixture_set_up, test_regex_error, fixture_tear_down);
  g_test_add ("/inspector-ui/probes", Fixture, NULL,
              fixture_set_up, test_probes, fixture_tear_down);
  g_test_add ("/inspector-ui/network", Fixture, NULL,
              fixture_set_up, test_network, fixture_tear_down);

  return g_test_run ();
}
