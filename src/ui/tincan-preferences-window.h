/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define TINCAN_TYPE_PREFERENCES_WINDOW (tincan_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (TincanPreferencesWindow, tincan_preferences_window, TINCAN, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* The app's preferences, bound to GSettings (@settings may be NULL when
 * the schema is not installed: the switches are then insensitive). */
GtkWidget *tincan_preferences_window_new (GtkWindow *parent,
                                          GSettings *settings);

G_END_DECLS
