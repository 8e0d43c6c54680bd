/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tincan-application.h"
#include "tincan-session.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_SERVER_DIALOG (tincan_server_dialog_get_type ())

G_DECLARE_FINAL_TYPE (TincanServerDialog, tincan_server_dialog, TINCAN, SERVER_DIALOG, AdwWindow)

/* Adds a server (@session NULL) or edits @session's. The URL is checked
 * as it is typed; the token goes to the keyring and is never shown again. */
GtkWidget *tincan_server_dialog_new (GtkWindow         *parent,
                                     TincanApplication *application,
                                     TincanSession     *session);

G_END_DECLS
