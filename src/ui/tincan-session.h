/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-connection.h"
#include "tincan-delivery-stats.h"
#include "tincan-frame-log.h"
#include "tincan-timeline.h"
#include "tincan-room.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_SESSION (tincan_session_get_type ())

G_DECLARE_FINAL_TYPE (TincanSession, tincan_session, TINCAN, SESSION, GObject)

/* One server as the window shows it: a TincanConnection plus what the UI
 * derives from it (rooms with unread counts and members, a status line).
 * It holds no socket of its own.
 *
 * Properties: connection (construct-only), name (the profile's),
 * state (int, a TincanConnectionState), status (string: one line for the header
 * subtitle, e.g. "Reconnecting in 4 s — attempt 3"), can-send (bool: not
 * failed), online (bool: connected), builtin (bool, construct-only:
 * the in-process server), persistent (bool, construct-only: saved in
 * the profile list), rooms (GListModel of TincanRoom). */
TincanSession    *tincan_session_new            (TincanConnection *connection,
                                                 gboolean          persistent);
TincanConnection *tincan_session_get_connection (TincanSession    *self);
TincanProfile    *tincan_session_get_profile    (TincanSession    *self);
const char       *tincan_session_get_name       (TincanSession    *self);
const char       *tincan_session_get_status     (TincanSession    *self);
gboolean          tincan_session_get_persistent (TincanSession    *self);
gboolean          tincan_session_get_builtin    (TincanSession    *self);
void              tincan_session_set_builtin    (TincanSession    *self,
                                                 gboolean          builtin);
GListModel       *tincan_session_get_rooms      (TincanSession    *self);
TincanRoom       *tincan_session_lookup_room    (TincanSession    *self,
                                                 const char       *name);
/* Adds the room if unknown (and joins it when @join). */
TincanRoom       *tincan_session_ensure_room    (TincanSession    *self,
                                                 const char       *name,
                                                 gboolean          join);
/* The room the user is looking at: its unread count stays 0. */
void              tincan_session_set_active_room (TincanSession   *self,
                                                 const char       *name);
/* The inspector's models, attached to the connection from the start so
 * the first frames (handshake, hello) are kept before anyone looks. */
TincanFrameLog      *tincan_session_get_frame_log      (TincanSession *self);
TincanTimeline      *tincan_session_get_timeline       (TincanSession *self);
TincanDeliveryStats *tincan_session_get_delivery_stats (TincanSession *self);
/* "Failed: 4001 unauthorized" etc. NULL unless failed. */
char             *tincan_session_dup_failure    (TincanSession    *self);

G_END_DECLS
