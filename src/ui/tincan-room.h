/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TINCAN_TYPE_ROOM (tincan_room_get_type ())

G_DECLARE_FINAL_TYPE (TincanRoom, tincan_room, TINCAN, ROOM, GObject)

/* A room of a session, as the sidebar and the conversation show it.
 * Properties: name (construct-only), title ("#name"), unread (uint),
 * members (GListModel of TincanMember, read-only), n-online (uint). */
TincanRoom *tincan_room_new            (const char         *name);
const char *tincan_room_get_name       (TincanRoom         *self);
guint       tincan_room_get_unread     (TincanRoom         *self);
void        tincan_room_set_unread     (TincanRoom         *self,
                                        guint               unread);
GListModel *tincan_room_get_members    (TincanRoom         *self);
guint       tincan_room_get_n_online   (TincanRoom         *self);
/* Everyone in @users is online; the others that were known go offline. */
void        tincan_room_set_members    (TincanRoom         *self,
                                        const char * const *users);
void        tincan_room_set_presence   (TincanRoom         *self,
                                        const char         *user,
                                        gboolean            online);
/* Marks every member offline (e.g. when the connection drops). */
void        tincan_room_clear_presence (TincanRoom         *self);

G_END_DECLS
