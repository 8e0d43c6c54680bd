/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-session"

#include "config.h"

#include <glib/gi18n.h>

#include "tincan-session.h"

struct _TincanSession
{
  GObject           parent_instance;

  TincanConnection *connection;
  GListStore       *rooms;
  TincanFrameLog   *frame_log;
  TincanTimeline   *timeline;
  TincanDeliveryStats *delivery_stats;
  char             *status;
  char             *active_room;
  guint             tick_id;
  /* room name → PendingRoom: what incoming messages changed this
   * main-loop turn, applied once per turn (flush_id). */
  GHashTable       *pending;
  guint             flush_id;

  guint             persistent : 1;
  guint             builtin : 1;
};

enum {
  PROP_0,
  PROP_CONNECTION,
  PROP_NAME,
  PROP_STATE,
  PROP_STATUS,
  PROP_CAN_SEND,
  PROP_ONLINE,
  PROP_BUILTIN,
  PROP_PERSISTENT,
  PROP_ROOMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanSession, tincan_session, G_TYPE_OBJECT)

typedef struct
{
  guint       unread;
  /* user → GINT_TO_POINTER (online + 1): the last word on each user's
   * presence this turn (a presence frame, or speaking, which means being
   * there). A presence flood costs one update per user and batch. */
  GHashTable *presence;
} PendingRoom;

static void
pending_room_free (gpointer data)
{
  PendingRoom *pending = data;

  g_clear_pointer (&pending->presence, g_hash_table_unref);
  g_free (pending);
}

char *
tincan_session_dup_failure (TincanSession *self)
{
  const GError *error;
  guint code;
  const char *reason;

  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  if (tincan_connection_get_state (self->connection) != TINCAN_CONNECTION_STATE_FAILED)
    return NULL;

  code = tincan_connection_get_close_code (self->connection);
  reason = tincan_connection_get_close_reason (self->connection);
  error = tincan_connection_get_last_error (self->connection);

  if (code != 0 && reason != NULL && *reason != '\0')
    /* Translators: %u is a WebSocket close code, %s the server's reason */
    return g_strdup_printf (_("Closed by the server: %u %s"), code, reason);
  if (code != 0)
    return g_strdup_printf (_("Closed by the server with code %u"), code);
  if (error != NULL)
    return g_strdup (error->message);

  return g_strdup (_("The connection failed"));
}

static char *
compute_status (TincanSession *self)
{
  TincanConnectionState state = tincan_connection_get_state (self->connection);
  guint queued = tincan_connection_get_queued_count (self->connection);
  g_autofree char *base = NULL;

  switch (state)
    {
    case TINCAN_CONNECTION_STATE_CONNECTED:
      {
        int latency = tincan_connection_get_latency (self->connection);

        if (latency >= 0)
          /* Translators: %d is a round-trip time in milliseconds */
          return g_strdup_printf (_("Connected · %d ms"), latency);
        return g_strdup (_("Connected"));
      }

    case TINCAN_CONNECTION_STATE_CONNECTING:
      base = g_strdup (_("Connecting…"));
      break;

    case TINCAN_CONNECTION_STATE_RECONNECTING:
      {
        gint64 retry_at = tincan_connection_get_retry_at (self->connection);
        gint64 left_us = retry_at - g_get_monotonic_time ();
        guint seconds = left_us > 0 ? (guint) ((left_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
        guint attempt = tincan_connection_get_attempt (self->connection);

        if (retry_at == 0 || seconds == 0)
          /* Translators: %u is the attempt number */
          base = g_strdup_printf (_("Reconnecting — attempt %u"), attempt);
        else
          /* Translators: "Reconnecting in 4 s — attempt 3" */
          base = g_strdup_printf (_("Reconnecting in %u s — attempt %u"), seconds, attempt);
      }
      break;

    case TINCAN_CONNECTION_STATE_OFFLINE:
      base = g_strdup (_("Offline — waiting for network"));
      break;

    case TINCAN_CONNECTION_STATE_FAILED:
      {
        g_autofree char *failure = tincan_session_dup_failure (self);

        /* Translators: %s says why, e.g. "Closed by the server: 4001 unauthorized" */
        return g_strdup_printf (_("Failed — %s"), failure);
      }

    case TINCAN_CONNECTION_STATE_DISCONNECTED:
      base = g_strdup (_("Disconnected"));
      break;

    default:
      g_assert_not_reached ();
    }

  if (queued > 0)
    /* Translators: "Connecting… · 3 queued" */
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s · %u queued", "%s · %u queued", queued),
                            base, queued);

  return g_steal_pointer (&base);
}

static gboolean
on_tick (gpointer user_data);

static void
update_status (TincanSession *self)
{
  g_autofree char *status = compute_status (self);
  gboolean reconnecting =
    tincan_connection_get_state (self->connection) == TINCAN_CONNECTION_STATE_RECONNECTING;

  /* The countdown needs a clock only while it runs. */
  if (reconnecting && self->tick_id == 0)
    self->tick_id = g_timeout_add (250, on_tick, self);
  else if (!reconnecting)
    g_clear_handle_id (&self->tick_id, g_source_remove);

  if (g_strcmp0 (status, self->status) == 0)
    return;

  g_free (self->status);
  self->status = g_steal_pointer (&status);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static gboolean
on_tick (gpointer user_data)
{
  TincanSession *self = user_data;

  update_status (self);

  return G_SOURCE_CONTINUE;
}

static void
on_state_changed (TincanSession *self)
{
  TincanConnectionState state = tincan_connection_get_state (self->connection);

  if (state != TINCAN_CONNECTION_STATE_CONNECTED)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->rooms));
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->pending);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_clear_pointer (&((PendingRoom *) value)->presence, g_hash_table_unref);

      for (guint i = 0; i < n; i++)
        {
          g_autoptr (TincanRoom) room = g_list_model_get_item (G_LIST_MODEL (self->rooms), i);

          tincan_room_clear_presence (room);
        }
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_SEND]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);
  update_status (self);
}

static void
on_status_input_changed (TincanSession *self)
{
  update_status (self);
}

static void
on_rooms_changed (TincanSession *self)
{
  const char * const *rooms = tincan_connection_get_rooms (self->connection);

  for (guint i = 0; rooms != NULL && rooms[i] != NULL; i++)
    tincan_session_ensure_room (self, rooms[i], FALSE);
}

static gboolean
flush_pending (gpointer user_data)
{
  TincanSession *self = user_data;
  g_autoptr (GHashTable) pending = g_steal_pointer (&self->pending);
  gboolean connected =
    tincan_connection_get_state (self->connection) == TINCAN_CONNECTION_STATE_CONNECTED;
  GHashTableIter iter;
  gpointer key, value;

  self->flush_id = 0;
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pending_room_free);

  g_hash_table_iter_init (&iter, pending);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      PendingRoom *changes = value;
      TincanRoom *room = tincan_session_ensure_room (self, key, FALSE);

      /* One notify::unread per room and batch, not one per message. */
      if (changes->unread > 0 && g_strcmp0 (key, self->active_room) != 0)
        tincan_room_set_unread (room, tincan_room_get_unread (room) + changes->unread);

      if (connected && changes->presence != NULL)
        {
          GHashTableIter users;
          gpointer user, online;

          g_hash_table_iter_init (&users, changes->presence);
          while (g_hash_table_iter_next (&users, &user, &online))
            tincan_room_set_presence (room, user, GPOINTER_TO_INT (online) - 1);
        }
    }

  return G_SOURCE_REMOVE;
}

static PendingRoom *
get_pending (TincanSession *self,
             const char    *room_name)
{
  PendingRoom *changes = g_hash_table_lookup (self->pending, room_name);

  if (changes == NULL)
    {
      changes = g_new0 (PendingRoom, 1);
      g_hash_table_insert (self->pending, g_strdup (room_name), changes);
    }
  if (self->flush_id == 0)
    self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush_pending, self, NULL);

  return changes;
}

static void
pending_presence (PendingRoom *changes,
                  const char  *user,
                  gboolean     online)
{
  if (changes->presence == NULL)
    changes->presence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_replace (changes->presence, g_strdup (user), GINT_TO_POINTER (!!online + 1));
}

static void
on_message_received (TincanSession    *self,
                     TincanMessage    *message,
                     TincanConnection *connection)
{
  const char *room_name = tincan_message_get_room (message);
  const char *sender = tincan_message_get_sender (message);
  PendingRoom *changes;

  if (room_name == NULL)
    return;

  changes = get_pending (self, room_name);

  if (g_strcmp0 (room_name, self->active_room) != 0)
    changes->unread++;
  /* Someone who speaks is there, even without a presence frame. */
  if (sender != NULL &&
      tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_CONNECTED)
    pending_presence (changes, sender, TRUE);
}

static void
on_presence (TincanSession    *self,
             const char       *room_name,
             const char       *user,
             gboolean          online,
             TincanConnection *connection)
{
  if (room_name == NULL || user == NULL)
    return;

  pending_presence (get_pending (self, room_name), user, online);
}

static void
on_members (TincanSession    *self,
            const char       *room_name,
            GStrv             users,
            TincanConnection *connection)
{
  PendingRoom *changes;

  if (room_name == NULL)
    return;

  /* The full list supersedes the presence changes before it. */
  changes = g_hash_table_lookup (self->pending, room_name);
  if (changes != NULL)
    g_clear_pointer (&changes->presence, g_hash_table_unref);
  tincan_room_set_members (tincan_session_ensure_room (self, room_name, FALSE),
                           (const char * const *) users);
}

static void
on_name_changed (TincanSession *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

static void
tincan_session_constructed (GObject *object)
{
  TincanSession *self = TINCAN_SESSION (object);
  TincanProfile *profile;
  TincanStore *store;
  const char * const *rooms;

  G_OBJECT_CLASS (tincan_session_parent_class)->constructed (object);

  g_return_if_fail (TINCAN_IS_CONNECTION (self->connection));

  profile = tincan_connection_get_profile (self->connection);
  store = tincan_connection_get_store (self->connection);

  rooms = tincan_profile_get_rooms (profile);
  for (guint i = 0; rooms != NULL && rooms[i] != NULL; i++)
    tincan_session_ensure_room (self, rooms[i], FALSE);

  if (store != NULL)
    {
      g_auto (GStrv) stored = tincan_store_list_rooms (store);

      for (guint i = 0; stored != NULL && stored[i] != NULL; i++)
        tincan_session_ensure_room (self, stored[i], FALSE);
    }

  on_rooms_changed (self);

  self->frame_log = tincan_frame_log_new (0);
  tincan_frame_log_attach (self->frame_log, self->connection);
  self->timeline = tincan_timeline_new ();
  tincan_timeline_attach (self->timeline, self->connection);
  self->delivery_stats = tincan_delivery_stats_new ();
  tincan_delivery_stats_attach (self->delivery_stats, self->connection);

  g_signal_connect_object (self->connection, "notify::state",
                           G_CALLBACK (on_state_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "notify::latency",
                           G_CALLBACK (on_status_input_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "notify::attempt",
                           G_CALLBACK (on_status_input_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "notify::retry-at",
                           G_CALLBACK (on_status_input_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "notify::queued-count",
                           G_CALLBACK (on_status_input_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "notify::close-code",
                           G_CALLBACK (on_status_input_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "notify::rooms",
                           G_CALLBACK (on_rooms_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "message-received",
                           G_CALLBACK (on_message_received), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "presence",
                           G_CALLBACK (on_presence), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "members",
                           G_CALLBACK (on_members), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (profile, "notify::name",
                           G_CALLBACK (on_name_changed), self, G_CONNECT_SWAPPED);

  update_status (self);
}

static void
tincan_session_dispose (GObject *object)
{
  TincanSession *self = TINCAN_SESSION (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_object (&self->rooms);
  g_clear_object (&self->frame_log);
  g_clear_object (&self->timeline);
  g_clear_object (&self->delivery_stats);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (tincan_session_parent_class)->dispose (object);
}

static void
tincan_session_finalize (GObject *object)
{
  TincanSession *self = TINCAN_SESSION (object);

  g_clear_pointer (&self->status, g_free);
  g_clear_pointer (&self->active_room, g_free);
  g_clear_pointer (&self->pending, g_hash_table_unref);

  G_OBJECT_CLASS (tincan_session_parent_class)->finalize (object);
}

static void
tincan_session_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TincanSession *self = TINCAN_SESSION (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      g_value_set_object (value, self->connection);
      break;

    case PROP_NAME:
      g_value_set_string (value, tincan_session_get_name (self));
      break;

    case PROP_STATE:
      g_value_set_int (value, (int) tincan_connection_get_state (self->connection));
      break;

    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;

    case PROP_CAN_SEND:
      g_value_set_boolean (value,
                           tincan_connection_get_state (self->connection) != TINCAN_CONNECTION_STATE_FAILED);
      break;

    case PROP_ONLINE:
      g_value_set_boolean (value,
                           tincan_connection_get_state (self->connection) == TINCAN_CONNECTION_STATE_CONNECTED);
      break;

    case PROP_BUILTIN:
      g_value_set_boolean (value, self->builtin);
      break;

    case PROP_PERSISTENT:
      g_value_set_boolean (value, self->persistent);
      break;

    case PROP_ROOMS:
      g_value_set_object (value, self->rooms);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_session_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TincanSession *self = TINCAN_SESSION (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      self->connection = g_value_dup_object (value);
      break;

    case PROP_BUILTIN:
      tincan_session_set_builtin (self, g_value_get_boolean (value));
      break;

    case PROP_PERSISTENT:
      self->persistent = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_session_class_init (TincanSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = tincan_session_constructed;
  object_class->dispose = tincan_session_dispose;
  object_class->finalize = tincan_session_finalize;
  object_class->get_property = tincan_session_get_property;
  object_class->set_property = tincan_session_set_property;

  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL, TINCAN_TYPE_CONNECTION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL,
                      0, G_MAXINT, TINCAN_CONNECTION_STATE_DISCONNECTED,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_string ("status", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAN_SEND] =
    g_param_spec_boolean ("can-send", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ONLINE] =
    g_param_spec_boolean ("online", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUILTIN] =
    g_param_spec_boolean ("builtin", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PERSISTENT] =
    g_param_spec_boolean ("persistent", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ROOMS] =
    g_param_spec_object ("rooms", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_session_init (TincanSession *self)
{
  self->rooms = g_list_store_new (TINCAN_TYPE_ROOM);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pending_room_free);
}

TincanSession *
tincan_session_new (TincanConnection *connection,
                    gboolean          persistent)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (connection), NULL);

  return g_object_new (TINCAN_TYPE_SESSION,
                       "connection", connection,
                       "persistent", persistent,
                       NULL);
}

TincanConnection *
tincan_session_get_connection (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return self->connection;
}

TincanProfile *
tincan_session_get_profile (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return tincan_connection_get_profile (self->connection);
}

const char *
tincan_session_get_name (TincanSession *self)
{
  TincanProfile *profile;
  const char *name;

  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  profile = tincan_connection_get_profile (self->connection);
  name = profile != NULL ? tincan_profile_get_name (profile) : NULL;
  if (name != NULL && *name != '\0')
    return name;

  return tincan_connection_get_url (self->connection);
}

const char *
tincan_session_get_status (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return self->status;
}

gboolean
tincan_session_get_persistent (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), FALSE);

  return self->persistent;
}

gboolean
tincan_session_get_builtin (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), FALSE);

  return self->builtin;
}

void
tincan_session_set_builtin (TincanSession *self,
                            gboolean       builtin)
{
  g_return_if_fail (TINCAN_IS_SESSION (self));

  builtin = !!builtin;
  if (self->builtin == builtin)
    return;

  self->builtin = builtin;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUILTIN]);
}

GListModel *
tincan_session_get_rooms (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return G_LIST_MODEL (self->rooms);
}

TincanRoom *
tincan_session_lookup_room (TincanSession *self,
                            const char    *name)
{
  guint n;

  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->rooms));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanRoom) room = g_list_model_get_item (G_LIST_MODEL (self->rooms), i);

      if (g_strcmp0 (tincan_room_get_name (room), name) == 0)
        return room;
    }

  return NULL;
}

TincanRoom *
tincan_session_ensure_room (TincanSession *self,
                            const char    *name,
                            gboolean       join)
{
  TincanRoom *room;

  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  room = tincan_session_lookup_room (self, name);
  if (room == NULL)
    {
      g_autoptr (TincanRoom) added = tincan_room_new (name);

      g_list_store_append (self->rooms, added);
      room = added;
    }

  if (join)
    tincan_connection_join (self->connection, name);

  return room;
}

void
tincan_session_set_active_room (TincanSession *self,
                                const char    *name)
{
  g_return_if_fail (TINCAN_IS_SESSION (self));

  g_free (self->active_room);
  self->active_room = g_strdup (name);

  if (name != NULL)
    {
      TincanRoom *room = tincan_session_lookup_room (self, name);
      PendingRoom *changes = g_hash_table_lookup (self->pending, name);

      /* What arrived this turn is seen now too. */
      if (changes != NULL)
        changes->unread = 0;

      if (room != NULL)
        tincan_room_set_unread (room, 0);
    }
}

TincanFrameLog *
tincan_session_get_frame_log (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return self->frame_log;
}

TincanTimeline *
tincan_session_get_timeline (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return self->timeline;
}

TincanDeliveryStats *
tincan_session_get_delivery_stats (TincanSession *self)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (self), NULL);

  return self->delivery_stats;
}
