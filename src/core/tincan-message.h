/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  TINCAN_MESSAGE_STATE_QUEUED,
  TINCAN_MESSAGE_STATE_SENDING,
  TINCAN_MESSAGE_STATE_SENT,
  TINCAN_MESSAGE_STATE_DELIVERED,
  TINCAN_MESSAGE_STATE_FAILED,
} TincanMessageState;

typedef enum
{
  TINCAN_MESSAGE_DIRECTION_INCOMING,
  TINCAN_MESSAGE_DIRECTION_OUTGOING,
} TincanMessageDirection;

#define TINCAN_TYPE_MESSAGE (tincan_message_get_type ())

G_DECLARE_FINAL_TYPE (TincanMessage, tincan_message, TINCAN, MESSAGE, GObject)

/* Properties (all notify only on change):
 *   id (string, server id), cid (string, client idempotency key, UUIDv4),
 *   room, sender, text (strings),
 *   seq (int64, 0 = not assigned yet),
 *   timestamp (int64, server time in ms since the Unix epoch, 0 = unknown),
 *   local-timestamp (int64, ms since epoch when created/received locally),
 *   direction (TincanMessageDirection, construct-only),
 *   state (TincanMessageState), reason (string, why it failed; NULL otherwise).
 */
TincanMessage          *tincan_message_new                 (TincanMessageDirection  direction);
/* An outgoing message in state QUEUED with a fresh cid and local-timestamp = now. */
TincanMessage          *tincan_message_new_outgoing        (const char             *room,
                                                            const char             *sender,
                                                            const char             *text);

const char             *tincan_message_get_id              (TincanMessage          *self);
void                    tincan_message_set_id              (TincanMessage          *self,
                                                            const char             *id);
const char             *tincan_message_get_cid             (TincanMessage          *self);
void                    tincan_message_set_cid             (TincanMessage          *self,
                                                            const char             *cid);
const char             *tincan_message_get_room            (TincanMessage          *self);
void                    tincan_message_set_room            (TincanMessage          *self,
                                                            const char             *room);
const char             *tincan_message_get_sender          (TincanMessage          *self);
void                    tincan_message_set_sender          (TincanMessage          *self,
                                                            const char             *sender);
const char             *tincan_message_get_text            (TincanMessage          *self);
void                    tincan_message_set_text            (TincanMessage          *self,
                                                            const char             *text);
gint64                  tincan_message_get_seq             (TincanMessage          *self);
void                    tincan_message_set_seq             (TincanMessage          *self,
                                                            gint64                  seq);
gint64                  tincan_message_get_timestamp       (TincanMessage          *self);
void                    tincan_message_set_timestamp       (TincanMessage          *self,
                                                            gint64                  timestamp_ms);
gint64                  tincan_message_get_local_timestamp (TincanMessage          *self);
void                    tincan_message_set_local_timestamp (TincanMessage          *self,
                                                            gint64                  timestamp_ms);
TincanMessageDirection  tincan_message_get_direction       (TincanMessage          *self);
gboolean                tincan_message_is_outgoing         (TincanMessage          *self);
TincanMessageState      tincan_message_get_state           (TincanMessage          *self);
void                    tincan_message_set_state           (TincanMessage          *self,
                                                            TincanMessageState      state);
const char             *tincan_message_get_reason          (TincanMessage          *self);
/* Sets state FAILED and the reason in one go (one notify each). */
void                    tincan_message_set_failed          (TincanMessage          *self,
                                                            const char             *reason);
const char             *tincan_message_state_to_string     (TincanMessageState      state);

G_END_DECLS
