/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-message"

#include "config.h"

#include "tincan-core-enums.h"
#include "tincan-message.h"
#include "tincan-util.h"

/* Counts "notify" emissions per property name. */
typedef struct
{
  GHashTable *counts;
} NotifyLog;

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           NotifyLog  *log)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (log->counts, pspec->name));

  g_hash_table_insert (log->counts, (gpointer) pspec->name, GUINT_TO_POINTER (n + 1));
}

static guint
notify_count (NotifyLog  *log,
              const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (log->counts, name));
}

static guint
notify_total (NotifyLog *log)
{
  GHashTableIter iter;
  gpointer value;
  guint total = 0;

  g_hash_table_iter_init (&iter, log->counts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    total += GPOINTER_TO_UINT (value);

  return total;
}

static gboolean
is_uuid_v4 (const char *text)
{
  return text != NULL &&
         strlen (text) == 36 &&
         g_uuid_string_is_valid (text) &&
         text[14] == '4' &&
         strchr ("89ab", text[19]) != NULL;
}

static void
test_new_outgoing (void)
{
  g_autoptr (TincanMessage) a = NULL;
  g_autoptr (TincanMessage) b = NULL;
  gint64 before = tincan_now_ms ();
  gint64 after;

  a = tincan_message_new_outgoing ("lobby", "alice", "hi");
  b = tincan_message_new_outgoing ("lobby", "alice", "hi");
  after = tincan_now_ms ();

  g_assert_true (is_uuid_v4 (tincan_message_get_cid (a)));
  g_assert_true (is_uuid_v4 (tincan_message_get_cid (b)));
  g_assert_cmpstr (tincan_message_get_cid (a), !=, tincan_message_get_cid (b));

  g_assert_cmpint (tincan_message_get_state (a), ==, TINCAN_MESSAGE_STATE_QUEUED);
  g_assert_cmpint (tincan_message_get_direction (a), ==, TINCAN_MESSAGE_DIRECTION_OUTGOING);
  g_assert_true (tincan_message_is_outgoing (a));
  g_assert_cmpstr (tincan_message_get_room (a), ==, "lobby");
  g_assert_cmpstr (tincan_message_get_sender (a), ==, "alice");
  g_assert_cmpstr (tincan_message_get_text (a), ==, "hi");
  g_assert_cmpint (tincan_message_get_seq (a), ==, 0);
  g_assert_null (tincan_message_get_id (a));
  g_assert_cmpint (tincan_message_get_timestamp (a), ==, 0);
  g_assert_cmpint (tincan_message_get_local_timestamp (a), >=, before);
  g_assert_cmpint (tincan_message_get_local_timestamp (a), <=, after);
  g_assert_null (tincan_message_get_reason (a));

  g_assert_finalize_object (g_steal_pointer (&a));
  g_assert_finalize_object (g_steal_pointer (&b));
}

static void
test_new_incoming (void)
{
  g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  g_autoptr (TincanMessage) outgoing = tincan_message_new (TINCAN_MESSAGE_DIRECTION_OUTGOING);

  g_assert_false (tincan_message_is_outgoing (message));
  g_assert_cmpint (tincan_message_get_state (message), ==, TINCAN_MESSAGE_STATE_DELIVERED);
  g_assert_null (tincan_message_get_cid (message));

  g_assert_true (tincan_message_is_outgoing (outgoing));
  g_assert_cmpint (tincan_message_get_state (outgoing), ==, TINCAN_MESSAGE_STATE_QUEUED);
  /* A bare outgoing message gets no cid: only new_outgoing() mints one. */
  g_assert_null (tincan_message_get_cid (outgoing));
}

static void
note_reason_present (TincanMessage *message,
                     GParamSpec    *pspec,
                     gboolean      *present)
{
  *present = tincan_message_get_reason (message) != NULL;
}

static void
test_notify_on_change (void)
{
  g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  NotifyLog log = { g_hash_table_new (g_str_hash, g_str_equal) };
  const char *string_props[] = { "id", "cid", "room", "sender", "text" };
  const char *int64_props[] = { "seq", "timestamp", "local-timestamp" };

  g_signal_connect (message, "notify", G_CALLBACK (on_notify), &log);

  for (guint i = 0; i < G_N_ELEMENTS (string_props); i++)
    {
      const char *name = string_props[i];
      g_autofree char *value = NULL;

      g_object_set (message, name, "one", NULL);
      g_object_set (message, name, "one", NULL);
      g_assert_cmpuint (notify_count (&log, name), ==, 1);

      g_object_set (message, name, "two", NULL);
      g_assert_cmpuint (notify_count (&log, name), ==, 2);

      g_object_get (message, name, &value, NULL);
      g_assert_cmpstr (value, ==, "two");

      g_object_set (message, name, NULL, NULL);
      g_object_set (message, name, NULL, NULL);
      g_assert_cmpuint (notify_count (&log, name), ==, 3);
    }

  for (guint i = 0; i < G_N_ELEMENTS (int64_props); i++)
    {
      const char *name = int64_props[i];
      gint64 value = 0;

      g_object_set (message, name, (gint64) 42, NULL);
      g_object_set (message, name, (gint64) 42, NULL);
      g_assert_cmpuint (notify_count (&log, name), ==, 1);

      g_object_set (message, name, (gint64) 43, NULL);
      g_assert_cmpuint (notify_count (&log, name), ==, 2);

      g_object_get (message, name, &value, NULL);
      g_assert_cmpint (value, ==, 43);
    }

  /* The setters behave like g_object_set. */
  tincan_message_set_text (message, "same");
  tincan_message_set_text (message, "same");
  g_assert_cmpuint (notify_count (&log, "text"), ==, 4);
  tincan_message_set_seq (message, 43);
  g_assert_cmpuint (notify_count (&log, "seq"), ==, 2);

  /* An incoming message starts delivered. */
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  g_assert_cmpuint (notify_count (&log, "state"), ==, 0);
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_SENDING);
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_SENDING);
  g_assert_cmpuint (notify_count (&log, "state"), ==, 1);

  /* set_failed: one notify for state and one for reason. */
  tincan_message_set_failed (message, "too_large");
  g_assert_cmpuint (notify_count (&log, "state"), ==, 2);
  g_assert_cmpuint (notify_count (&log, "reason"), ==, 1);
  g_assert_cmpint (tincan_message_get_state (message), ==, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_cmpstr (tincan_message_get_reason (message), ==, "too_large");

  tincan_message_set_failed (message, "too_large");
  g_assert_cmpuint (notify_count (&log, "state"), ==, 2);
  g_assert_cmpuint (notify_count (&log, "reason"), ==, 1);

  /* A new reason for a message already failed changes only the reason. */
  tincan_message_set_failed (message, "rate_limited");
  g_assert_cmpuint (notify_count (&log, "state"), ==, 2);
  g_assert_cmpuint (notify_count (&log, "reason"), ==, 2);

  /* Retrying clears the reason, before either notification: a row that
   * redraws on notify::state never shows the old reason for a queued
   * message. */
  {
    gboolean reason_seen = TRUE;
    gulong id = g_signal_connect (message, "notify::state", G_CALLBACK (note_reason_present),
                                  &reason_seen);

    tincan_message_set_state (message, TINCAN_MESSAGE_STATE_QUEUED);
    g_signal_handler_disconnect (message, id);
    g_assert_false (reason_seen);
  }
  g_assert_cmpuint (notify_count (&log, "state"), ==, 3);
  g_assert_cmpuint (notify_count (&log, "reason"), ==, 3);
  g_assert_null (tincan_message_get_reason (message));

  /* No stray notifications for untouched properties. */
  g_assert_cmpuint (notify_count (&log, "direction"), ==, 0);
  g_assert_cmpuint (notify_total (&log), ==,
                    5 * 3 + 3 * 2 + 1 + 0 + 3 + 3);

  g_signal_handlers_disconnect_by_data (message, &log);
  g_hash_table_unref (log.counts);
  g_assert_finalize_object (g_steal_pointer (&message));
}

static void
test_properties_construct (void)
{
  g_autoptr (TincanMessage) message = NULL;
  TincanMessageDirection direction;
  TincanMessageState state;

  message = g_object_new (TINCAN_TYPE_MESSAGE,
                          "direction", TINCAN_MESSAGE_DIRECTION_OUTGOING,
                          "state", TINCAN_MESSAGE_STATE_SENT,
                          "seq", (gint64) 7,
                          NULL);

  g_object_get (message, "direction", &direction, "state", &state, NULL);
  g_assert_cmpint (direction, ==, TINCAN_MESSAGE_DIRECTION_OUTGOING);
  g_assert_cmpint (state, ==, TINCAN_MESSAGE_STATE_SENT);
  g_assert_cmpint (tincan_message_get_seq (message), ==, 7);
}

static void
test_state_to_string (void)
{
  g_assert_cmpstr (tincan_message_state_to_string (TINCAN_MESSAGE_STATE_QUEUED), ==, "queued");
  g_assert_cmpstr (tincan_message_state_to_string (TINCAN_MESSAGE_STATE_SENDING), ==, "sending");
  g_assert_cmpstr (tincan_message_state_to_string (TINCAN_MESSAGE_STATE_SENT), ==, "sent");
  g_assert_cmpstr (tincan_message_state_to_string (TINCAN_MESSAGE_STATE_DELIVERED), ==, "delivered");
  g_assert_cmpstr (tincan_message_state_to_string (TINCAN_MESSAGE_STATE_FAILED), ==, "failed");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/message/new-outgoing", test_new_outgoing);
  g_test_add_func ("/message/new-incoming", test_new_incoming);
  g_test_add_func ("/message/notify-on-change", test_notify_on_change);
  g_test_add_func ("/message/properties-construct", test_properties_construct);
  g_test_add_func ("/message/state-to-string", test_state_to_string);

  return g_test_run ();
}
