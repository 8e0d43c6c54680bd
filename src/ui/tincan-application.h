/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tincan-session.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_APPLICATION (tincan_application_get_type ())

G_DECLARE_FINAL_TYPE (TincanApplication, tincan_application, TINCAN, APPLICATION, AdwApplication)

/* The `tincan` application: owns the sessions (one per server), the
 * saved profiles, and the built-in server when one runs in-process. */
TincanApplication *tincan_application_new            (void);
GListModel        *tincan_application_get_sessions   (TincanApplication *self);
GSettings         *tincan_application_get_settings   (TincanApplication *self);
/* Creates a store and a connection for @profile, adds the session and
 * connects. A persistent profile is saved to the profile list. */
TincanSession     *tincan_application_add_profile    (TincanApplication *self,
                                                      TincanProfile     *profile,
                                                      gboolean           persistent);
/* Replaces the session of @session's profile with one for @profile
 * (edited), keeping its history. */
TincanSession     *tincan_application_update_profile (TincanApplication *self,
                                                      TincanSession     *session,
                                                      TincanProfile     *profile);
void               tincan_application_remove_session (TincanApplication *self,
                                                      TincanSession     *session);
/* Writes the persistent profiles to the profile list. */
void               tincan_application_save_profiles  (TincanApplication *self);
/* Starts the in-process reference server (once) and connects to it. */
TincanSession     *tincan_application_start_builtin  (TincanApplication *self,
                                                      GError           **error);

G_END_DECLS
