/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tincan-message.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_MESSAGE_ROW (tincan_message_row_get_type ())

G_DECLARE_FINAL_TYPE (TincanMessageRow, tincan_message_row, TINCAN, MESSAGE_ROW, GtkWidget)

/* One message in a conversation: avatar, sender, time, the text as plain
 * selectable text (never markup), safe links, and for our own messages
 * the delivery state, with Retry and Delete ("conversation.retry" and
 * "conversation.discard" actions, target the cid) when it failed.
 *
 * Properties: message (TincanMessage), day (string: a day separator shown
 * above, NULL for none), continuation (bool: same sender as the row above,
 * so no avatar and no name). */
GtkWidget     *tincan_message_row_new              (void);
TincanMessage *tincan_message_row_get_message      (TincanMessageRow *self);
void           tincan_message_row_set_message      (TincanMessageRow *self,
                                                    TincanMessage    *message);
void           tincan_message_row_set_day          (TincanMessageRow *self,
                                                    const char       *day);
void           tincan_message_row_set_continuation (TincanMessageRow *self,
                                                    gboolean          continuation);
/* For tests and accessibility checks. */
GtkLabel      *tincan_message_row_get_text_label   (TincanMessageRow *self);
/* "queued", "sending", "sent", "delivered", "failed", or NULL (incoming). */
const char    *tincan_message_row_get_state_name   (TincanMessageRow *self);
GtkWidget     *tincan_message_row_get_retry_button (TincanMessageRow *self);

/* "Today", "Yesterday", or the date, for a time in ms since the epoch. */
char          *tincan_format_day                   (gint64            ms);
/* A local time for @ms since the epoch (NULL if out of range), without
 * asking the system for its time zone each time (g_date_time_new_from_unix_local
 * reads /etc/localtime on every call): the zone is looked up again at most
 * every few seconds. */
GDateTime     *tincan_date_time_new_local          (gint64            ms);

G_END_DECLS
