/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tincan-conversation-view.h"
#include "tincan-inspector-pane.h"
#include "tincan-session.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_WINDOW (tincan_window_get_type ())

G_DECLARE_FINAL_TYPE (TincanWindow, tincan_window, TINCAN, WINDOW, AdwApplicationWindow)

/* The main window: a first-run page when there are no servers, else a
 * leaflet with the sidebar (servers with their status and rooms with
 * unread counts) and the conversation of the selected room.
 *
 * Properties: sessions (GListModel of TincanSession, construct-only),
 * settings (GSettings, construct-only, may be NULL). */
TincanWindow           *tincan_window_new              (GtkApplication *application,
                                                        GListModel     *sessions,
                                                        GSettings      *settings);
void                    tincan_window_open_room        (TincanWindow   *self,
                                                        TincanSession  *session,
                                                        const char     *room);
TincanConversationView *tincan_window_get_conversation (TincanWindow   *self);
TincanSession          *tincan_window_get_session      (TincanWindow   *self);
void                    tincan_window_add_toast        (TincanWindow   *self,
                                                        const char     *title);
/* The status line shown in the header for the current session. */
const char             *tincan_window_get_subtitle     (TincanWindow   *self);
/* The inspector pane of the current session while it is shown (Ctrl+I,
 * the "win.toggle-inspector" action, property "inspector-visible"), else NULL. */
TincanInspectorPane    *tincan_window_get_inspector    (TincanWindow   *self);
/* TRUE when the first-run page is shown. */
gboolean                tincan_window_is_first_run     (TincanWindow   *self);

G_END_DECLS
