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

/* When @session's connection failed because the server's TLS certificate
 * was refused: whether it can be trusted, and the "Trust This
 * Certificate?" dialog, which shows its SHA-256 fingerprint, subject,
 * issuer, validity and problems with a warning. Trusting pins the
 * fingerprint in the profile (accept-certificate), saves it and
 * reconnects. NULL (and no dialog) when there is nothing to trust.
 * The Edit Server dialog offers it too. */
gboolean   tincan_server_dialog_can_trust_certificate (TincanSession     *session);
GtkWidget *tincan_server_dialog_trust_certificate     (GtkWindow         *parent,
                                                       TincanApplication *application,
                                                       TincanSession     *session);

G_END_DECLS
