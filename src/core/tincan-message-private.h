/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-message.h"

G_BEGIN_DECLS

/* The SQLite rowid of the message in its TincanStore, 0 if not stored yet. */
gint64 _tincan_message_get_store_id (TincanMessage *self);
void   _tincan_message_set_store_id (TincanMessage *self,
                                     gint64         store_id);

/* One observer of the message's end (the TincanStore that maps a row to
 * this object): cheaper than a weak reference. @func runs in finalize
 * with the data and pk given here. */
typedef void (*TincanMessageGoneFunc) (gpointer       data,
                                       TincanMessage *message,
                                       gint64         tracked_pk);

void     _tincan_message_set_tracker      (TincanMessage         *self,
                                           TincanMessageGoneFunc  func,
                                           gpointer               data,
                                           gint64                 tracked_pk);
gpointer _tincan_message_get_tracker_data (TincanMessage         *self,
                                           gint64                *tracked_pk);

/* TRUE if cid, room, sender or text changed since the last call (or the
 * message is new); clears the flag. The store writes those columns only
 * then. */
gboolean _tincan_message_take_content_dirty (TincanMessage *self);
void     _tincan_message_set_content_dirty  (TincanMessage *self);

TincanMessage *_tincan_message_new_take (TincanMessageDirection  direction,
                                         char                   *room,
                                         char                   *id,
                                         char                   *cid,
                                         char                   *sender,
                                         char                   *text,
                                         gint64                  seq,
                                         gint64                  timestamp,
                                         gint64                  local_timestamp,
                                         TincanMessageState      state,
                                         const char             *reason);
TincanMessage *_tincan_message_new_full (TincanMessageDirection  direction,
                                         const char             *room,
                                         const char             *id,
                                         const char             *cid,
                                         const char             *sender,
                                         const char             *text,
                                         gint64                  seq,
                                         gint64                  timestamp,
                                         gint64                  local_timestamp,
                                         TincanMessageState      state,
                                         const char             *reason);

G_END_DECLS
