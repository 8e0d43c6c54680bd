/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

G_BEGIN_DECLS

/* The token of a server profile lives in the user's keyring (libsecret),
 * schema "io.github.tincan.Tincan.Token" with one attribute, "profile-id".
 * Never in GSettings, SQLite, key files or logs. */
const SecretSchema *tincan_secrets_get_schema    (void) G_GNUC_CONST;

void                tincan_secrets_store_async   (const char          *profile_id,
                                                  const char          *label,
                                                  const char          *token,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean            tincan_secrets_store_finish  (GAsyncResult        *result,
                                                  GError             **error);

void                tincan_secrets_lookup_async  (const char          *profile_id,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
/* Returns the token (free with tincan_secrets_free) or NULL if none. */
char               *tincan_secrets_lookup_finish (GAsyncResult        *result,
                                                  GError             **error);
/* Blocking: for the connection's token provider, which runs right before
 * a connection attempt. */
char               *tincan_secrets_lookup_sync   (const char          *profile_id,
                                                  GCancellable        *cancellable,
                                                  GError             **error);

void                tincan_secrets_clear_async   (const char          *profile_id,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean            tincan_secrets_clear_finish  (GAsyncResult        *result,
                                                  GError             **error);

/* Wipes and frees a token returned by the lookups. NULL-safe. */
void                tincan_secrets_free          (char                *token);

/* A TincanTokenProvider: @user_data is the profile id (a string). */
char               *tincan_secrets_token_provider (gpointer            user_data);

G_END_DECLS
