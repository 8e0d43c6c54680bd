/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-message"

#include "config.h"

#include "tincan-message.h"
#include "tincan-message-private.h"
#include "tincan-core-enums.h"
#include "tincan-util.h"

struct _TincanMessage
{
  GObject                 parent_instance;

  char                   *id;
  char                   *cid;
  char                   *room;
  char                   *sender;
  char                   *text;
  char                   *reason;
  gint64                  seq;
  gint64                  timestamp;
  gint64                  local_timestamp;
  gint64                  store_id;
  TincanMessageDirection  direction;
  TincanMessageState      state;

  /* cid, room, sender or text changed since the store last took the
   * flag: an update of the row must then write them too. */
  gboolean                content_dirty;

  TincanMessageGoneFunc   tracker;
  gpointer                tracker_data;
  gint64                  tracked_pk;
};

G_DEFINE_FINAL_TYPE (TincanMessage, tincan_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_CID,
  PROP_ROOM,
  PROP_SENDER,
  PROP_TEXT,
  PROP_SEQ,
  PROP_TIMESTAMP,
  PROP_LOCAL_TIMESTAMP,
  PROP_DIRECTION,
  PROP_STATE,
  PROP_REASON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
set_string_prop (TincanMessage  *self,
                 char          **field,
                 const char     *value,
                 int             prop_id)
{
  if (g_strcmp0 (*field, value) == 0)
    return;

  g_free (*field);
  *field = g_strdup (value);
  if (prop_id == PROP_CID || prop_id == PROP_ROOM || prop_id == PROP_SENDER || prop_id == PROP_TEXT)
    self->content_dirty = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
set_int64_prop (TincanMessage *self,
                gint64        *field,
                gint64         value,
                int            prop_id)
{
  if (*field == value)
    return;

  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
tincan_message_finalize (GObject *object)
{
  TincanMessage *self = (TincanMessage *)object;

  if (self->tracker != NULL)
    self->tracker (self->tracker_data, self, self->tracked_pk);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->cid, g_free);
  g_clear_pointer (&self->room, g_free);
  g_clear_pointer (&self->sender, g_free);
  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->reason, g_free);

  G_OBJECT_CLASS (tincan_message_parent_class)->finalize (object);
}

static void
tincan_message_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TincanMessage *self = TINCAN_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_CID:
      g_value_set_string (value, self->cid);
      break;

    case PROP_ROOM:
      g_value_set_string (value, self->room);
      break;

    case PROP_SENDER:
      g_value_set_string (value, self->sender);
      break;

    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;

    case PROP_SEQ:
      g_value_set_int64 (value, self->seq);
      break;

    case PROP_TIMESTAMP:
      g_value_set_int64 (value, self->timestamp);
      break;

    case PROP_LOCAL_TIMESTAMP:
      g_value_set_int64 (value, self->local_timestamp);
      break;

    case PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_REASON:
      g_value_set_string (value, self->reason);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_message_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TincanMessage *self = TINCAN_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      tincan_message_set_id (self, g_value_get_string (value));
      break;

    case PROP_CID:
      tincan_message_set_cid (self, g_value_get_string (value));
      break;

    case PROP_ROOM:
      tincan_message_set_room (self, g_value_get_string (value));
      break;

    case PROP_SENDER:
      tincan_message_set_sender (self, g_value_get_string (value));
      break;

    case PROP_TEXT:
      tincan_message_set_text (self, g_value_get_string (value));
      break;

    case PROP_SEQ:
      tincan_message_set_seq (self, g_value_get_int64 (value));
      break;

    case PROP_TIMESTAMP:
      tincan_message_set_timestamp (self, g_value_get_int64 (value));
      break;

    case PROP_LOCAL_TIMESTAMP:
      tincan_message_set_local_timestamp (self, g_value_get_int64 (value));
      break;

    case PROP_DIRECTION:
      self->direction = g_value_get_enum (value);
      /* Whatever reached us has been delivered to us; an outgoing message
       * starts queued. Set here, before any state passed to g_object_new. */
      if (self->direction == TINCAN_MESSAGE_DIRECTION_OUTGOING)
        self->state = TINCAN_MESSAGE_STATE_QUEUED;
      else
        self->state = TINCAN_MESSAGE_STATE_DELIVERED;
      break;

    case PROP_STATE:
      tincan_message_set_state (self, g_value_get_enum (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_message_class_init (TincanMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tincan_message_finalize;
  object_class->get_property = tincan_message_get_property;
  object_class->set_property = tincan_message_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CID] =
    g_param_spec_string ("cid", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_ROOM] =
    g_param_spec_string ("room", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_SENDER] =
    g_param_spec_string ("sender", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_SEQ] =
    g_param_spec_int64 ("seq", NULL, NULL,
                        0, G_MAXINT64, 0,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_TIMESTAMP] =
    g_param_spec_int64 ("timestamp", NULL, NULL,
                        G_MININT64, G_MAXINT64, 0,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_LOCAL_TIMESTAMP] =
    g_param_spec_int64 ("local-timestamp", NULL, NULL,
                        G_MININT64, G_MAXINT64, 0,
                        (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL,
                       TINCAN_TYPE_MESSAGE_DIRECTION,
                       TINCAN_MESSAGE_DIRECTION_INCOMING,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       TINCAN_TYPE_MESSAGE_STATE,
                       TINCAN_MESSAGE_STATE_QUEUED,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_REASON] =
    g_param_spec_string ("reason", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_message_init (TincanMessage *self)
{
  self->direction = TINCAN_MESSAGE_DIRECTION_INCOMING;
  self->state = TINCAN_MESSAGE_STATE_DELIVERED;
}

TincanMessage *
tincan_message_new (TincanMessageDirection direction)
{
  return g_object_new (TINCAN_TYPE_MESSAGE,
                       "direction", direction,
                       NULL);
}

TincanMessage *
tincan_message_new_outgoing (const char *room,
                             const char *sender,
                             const char *text)
{
  g_autofree char *cid = tincan_uuid_new ();

  return _tincan_message_new_full (TINCAN_MESSAGE_DIRECTION_OUTGOING, room, NULL, cid, sender,
                                   text, 0, 0, tincan_now_ms (), TINCAN_MESSAGE_STATE_QUEUED,
                                   NULL);
}

const char *
tincan_message_get_id (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  return self->id;
}

void
tincan_message_set_id (TincanMessage *self,
                       const char    *id)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_string_prop (self, &self->id, id, PROP_ID);
}

const char *
tincan_message_get_cid (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  return self->cid;
}

void
tincan_message_set_cid (TincanMessage *self,
                        const char    *cid)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_string_prop (self, &self->cid, cid, PROP_CID);
}

const char *
tincan_message_get_room (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  return self->room;
}

void
tincan_message_set_room (TincanMessage *self,
                         const char    *room)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_string_prop (self, &self->room, room, PROP_ROOM);
}

const char *
tincan_message_get_sender (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  return self->sender;
}

void
tincan_message_set_sender (TincanMessage *self,
                           const char    *sender)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_string_prop (self, &self->sender, sender, PROP_SENDER);
}

const char *
tincan_message_get_text (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  return self->text;
}

void
tincan_message_set_text (TincanMessage *self,
                         const char    *text)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_string_prop (self, &self->text, text, PROP_TEXT);
}

gint64
tincan_message_get_seq (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), 0);

  return self->seq;
}

void
tincan_message_set_seq (TincanMessage *self,
                        gint64         seq)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));
  g_return_if_fail (seq >= 0);

  set_int64_prop (self, &self->seq, seq, PROP_SEQ);
}

gint64
tincan_message_get_timestamp (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), 0);

  return self->timestamp;
}

void
tincan_message_set_timestamp (TincanMessage *self,
                              gint64         timestamp_ms)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_int64_prop (self, &self->timestamp, timestamp_ms, PROP_TIMESTAMP);
}

gint64
tincan_message_get_local_timestamp (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), 0);

  return self->local_timestamp;
}

void
tincan_message_set_local_timestamp (TincanMessage *self,
                                    gint64         timestamp_ms)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  set_int64_prop (self, &self->local_timestamp, timestamp_ms, PROP_LOCAL_TIMESTAMP);
}

TincanMessageDirection
tincan_message_get_direction (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), TINCAN_MESSAGE_DIRECTION_INCOMING);

  return self->direction;
}

gboolean
tincan_message_is_outgoing (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), FALSE);

  return self->direction == TINCAN_MESSAGE_DIRECTION_OUTGOING;
}

TincanMessageState
tincan_message_get_state (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), TINCAN_MESSAGE_STATE_QUEUED);

  return self->state;
}

void
tincan_message_set_state (TincanMessage      *self,
                          TincanMessageState  state)
{
  gboolean drop_reason;

  g_return_if_fail (TINCAN_IS_MESSAGE (self));
  g_return_if_fail (state <= TINCAN_MESSAGE_STATE_FAILED);

  /* A reason only explains a failure; a retried message loses it. */
  drop_reason = state != TINCAN_MESSAGE_STATE_FAILED && self->reason != NULL;

  /* Both notifications once both fields changed. Freezing costs more than
   * the rest of a state change (two of them for every message sent), so
   * only then. */
  if (drop_reason)
    g_object_freeze_notify (G_OBJECT (self));

  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }

  if (drop_reason)
    {
      set_string_prop (self, &self->reason, NULL, PROP_REASON);
      g_object_thaw_notify (G_OBJECT (self));
    }
}

const char *
tincan_message_get_reason (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  return self->reason;
}

void
tincan_message_set_failed (TincanMessage *self,
                           const char    *reason)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  g_object_freeze_notify (G_OBJECT (self));
  set_string_prop (self, &self->reason, reason, PROP_REASON);
  tincan_message_set_state (self, TINCAN_MESSAGE_STATE_FAILED);
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
tincan_message_state_to_string (TincanMessageState state)
{
  switch (state)
    {
    case TINCAN_MESSAGE_STATE_QUEUED:
      return "queued";

    case TINCAN_MESSAGE_STATE_SENDING:
      return "sending";

    case TINCAN_MESSAGE_STATE_SENT:
      return "sent";

    case TINCAN_MESSAGE_STATE_DELIVERED:
      return "delivered";

    case TINCAN_MESSAGE_STATE_FAILED:
      return "failed";

    default:
      return "unknown";
    }
}

gint64
_tincan_message_get_store_id (TincanMessage *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), 0);

  return self->store_id;
}

void
_tincan_message_set_store_id (TincanMessage *self,
                              gint64         store_id)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  self->store_id = store_id;
}

/* A message with every field set at once, without a notification per
 * field: nobody can be connected to an object that does not exist yet.
 * For the hot paths (a frame received, a row read back); @reason is kept
 * only for the failed state, as tincan_message_set_failed() does.
 * _tincan_message_new_take() takes the strings it is given (a received
 * frame's, which nothing needs after); _tincan_message_new_full() copies
 * them. */
TincanMessage *
_tincan_message_new_take (TincanMessageDirection  direction,
                          char                   *room,
                          char                   *id,
                          char                   *cid,
                          char                   *sender,
                          char                   *text,
                          gint64                  seq,
                          gint64                  timestamp,
                          gint64                  local_timestamp,
                          TincanMessageState      state,
                          const char             *reason)
{
  TincanMessage *self = g_object_new (TINCAN_TYPE_MESSAGE, NULL);

  g_return_val_if_fail (state <= TINCAN_MESSAGE_STATE_FAILED, self);

  self->direction = direction;
  self->room = room;
  self->id = id;
  self->cid = cid;
  self->sender = sender;
  self->text = text;
  self->seq = seq;
  self->timestamp = timestamp;
  self->local_timestamp = local_timestamp;
  self->state = state;
  if (state == TINCAN_MESSAGE_STATE_FAILED)
    self->reason = g_strdup (reason);
  self->content_dirty = TRUE;

  return self;
}

TincanMessage *
_tincan_message_new_full (TincanMessageDirection  direction,
                          const char             *room,
                          const char             *id,
                          const char             *cid,
                          const char             *sender,
                          const char             *text,
                          gint64                  seq,
                          gint64                  timestamp,
                          gint64                  local_timestamp,
                          TincanMessageState      state,
                          const char             *reason)
{
  return _tincan_message_new_take (direction, g_strdup (room), g_strdup (id), g_strdup (cid),
                                   g_strdup (sender), g_strdup (text), seq, timestamp,
                                   local_timestamp, state, reason);
}

void
_tincan_message_set_tracker (TincanMessage         *self,
                             TincanMessageGoneFunc  func,
                             gpointer               data,
                             gint64                 tracked_pk)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  self->tracker = func;
  self->tracker_data = func != NULL ? data : NULL;
  self->tracked_pk = func != NULL ? tracked_pk : 0;
}

gpointer
_tincan_message_get_tracker_data (TincanMessage *self,
                                  gint64        *tracked_pk)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), NULL);

  if (tracked_pk != NULL)
    *tracked_pk = self->tracked_pk;
  return self->tracker_data;
}

gboolean
_tincan_message_take_content_dirty (TincanMessage *self)
{
  gboolean dirty;

  g_return_val_if_fail (TINCAN_IS_MESSAGE (self), TRUE);

  dirty = self->content_dirty;
  self->content_dirty = FALSE;
  return dirty;
}

void
_tincan_message_set_content_dirty (TincanMessage *self)
{
  g_return_if_fail (TINCAN_IS_MESSAGE (self));

  self->content_dirty = TRUE;
}
