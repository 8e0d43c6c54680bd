/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tincan-message-list.h"
#include "tincan-session.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_CONVERSATION_VIEW (tincan_conversation_view_get_type ())

G_DECLARE_FINAL_TYPE (TincanConversationView, tincan_conversation_view, TINCAN, CONVERSATION_VIEW, GtkWidget)

/* The messages of one room (a GtkListView over a TincanMessageList that
 * follows the bottom, loads older pages at the top and offers "jump to
 * latest") and the composer (Enter sends, Shift+Enter adds a newline;
 * works offline; disabled only when the connection failed).
 *
 * Properties: session (construct-only), room (string, construct-only),
 * model (TincanMessageList, read-only), at-bottom (bool, read-only),
 * unseen (uint, read-only: messages that arrived while scrolled up). */
GtkWidget         *tincan_conversation_view_new          (TincanSession          *session,
                                                          const char             *room);
TincanSession     *tincan_conversation_view_get_session  (TincanConversationView *self);
const char        *tincan_conversation_view_get_room     (TincanConversationView *self);
TincanMessageList *tincan_conversation_view_get_model    (TincanConversationView *self);
GtkTextView       *tincan_conversation_view_get_composer (TincanConversationView *self);
GtkListView       *tincan_conversation_view_get_list_view (TincanConversationView *self);
/* Sends the composer's text; FALSE if there was nothing to send or the
 * send failed (then a toast says why). */
gboolean           tincan_conversation_view_send         (TincanConversationView *self);
void               tincan_conversation_view_scroll_to_bottom (TincanConversationView *self);
gboolean           tincan_conversation_view_get_at_bottom (TincanConversationView *self);
void               tincan_conversation_view_focus_composer (TincanConversationView *self);

G_END_DECLS
