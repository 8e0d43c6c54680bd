/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-connection.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_MESSAGE_LIST (tincan_message_list_get_type ())

G_DECLARE_FINAL_TYPE (TincanMessageList, tincan_message_list, TINCAN, MESSAGE_LIST, GObject)

/* A GListModel of TincanMessage over one room, OLDEST FIRST (index 0 is the
 * oldest loaded, the last item the newest): a bounded window of the history.
 * It starts with the newest page-size messages plus the room's unsequenced
 * outgoing ones at the end, grows by a page with load_older(), follows the
 * connection (new incoming messages and optimistic sends appear at once,
 * in batches: one items-changed per main-loop turn, and in a flood at
 * most one every 100 ms; the user's own sends at once) and trims its oldest
 * items beyond max-size when new ones arrive at the bottom.
 *
 * Properties: connection (construct-only), room (construct-only),
 * page-size (uint, default 100), max-size (uint, default 1000),
 * tail-size (uint, default 0 = off: while set, e.g. by a view that follows
 * the newest messages, a batch arriving at the bottom trims the window to
 * the newest tail-size items instead of max-size, so that a flood never
 * makes the view build more than tail-size rows per batch),
 * has-more (bool, read-only: older messages exist in the store),
 * has-newer (bool, read-only: load_older() went past max-size and let go
 * of the newest messages; they are in the store, load_newer() brings them
 * back, and live messages are not appended until it reaches the newest),
 * loading (bool). */
TincanMessageList *tincan_message_list_new        (TincanConnection  *connection,
                                                   const char        *room);
const char        *tincan_message_list_get_room   (TincanMessageList *self);
gboolean           tincan_message_list_get_has_more (TincanMessageList *self);
gboolean           tincan_message_list_get_has_newer (TincanMessageList *self);
/* TRUE while load_older()/load_newer() change the window (their
 * items-changed are history paged in, not new messages). */
gboolean           tincan_message_list_get_loading (TincanMessageList *self);
/* Prepends the next older page; returns how many were added. Beyond
 * max-size the newest items go (has-newer). */
guint              tincan_message_list_load_older (TincanMessageList *self);
/* Appends the next newer page while has-newer (beyond max-size the oldest
 * items go); the last one adds the unsent messages too. */
guint              tincan_message_list_load_newer (TincanMessageList *self);
/* Drops the older pages again, back to the newest page-size window (from
 * an older window: reloads the newest page). */
void               tincan_message_list_trim_to_latest (TincanMessageList *self);
/* Takes @message (or the item with its cid) out of the window, e.g. after
 * tincan_connection_discard(); TRUE if it was there. */
gboolean           tincan_message_list_remove_message (TincanMessageList *self,
                                                       TincanMessage     *message);

G_END_DECLS
