/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tincan-profile.h"
#include "tincan-store.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_PREFERENCES_WINDOW (tincan_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (TincanPreferencesWindow, tincan_preferences_window, TINCAN, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* The app's preferences, bound to GSettings (@settings may be NULL when
 * the schema is not installed: the controls are then insensitive).
 * Keys: default-user-name, notifications, history-retention,
 * heartbeat-interval, heartbeat-timeout, reconnect-base-ms,
 * reconnect-cap-ms, inspector-ring-size. */
GtkWidget *tincan_preferences_window_new (GtkWindow *parent,
                                          GSettings *settings);

/* The user name for a new server: the default-user-name preference, else
 * the login name, else (root, or none) "me". @settings may be NULL. */
char      *tincan_preferences_dup_user_name (GSettings     *settings);

/* Gives a NEW @profile the preferred defaults: heartbeat interval and
 * timeout, reconnect base and cap, and the user name when it has none.
 * With @settings NULL only the user name is filled in. */
void       tincan_preferences_apply_defaults (GSettings     *settings,
                                              TincanProfile *profile);

/* History retention: deletes all but the newest @keep_per_room messages
 * (those with a seq) of each room of @store; messages not yet
 * acknowledged are never deleted. 0 keeps everything. Returns how many
 * were deleted, or -1 with @error set. */
gint64     tincan_preferences_prune_history (TincanStore   *store,
                                             guint          keep_per_room,
                                             GError       **error);

G_END_DECLS
