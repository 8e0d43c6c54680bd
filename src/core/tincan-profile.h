/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  TINCAN_AUTH_NONE,
  TINCAN_AUTH_BEARER,  /* "Authorization: Bearer TOKEN" on the handshake */
  TINCAN_AUTH_QUERY,   /* ?<auth-param>=TOKEN on the URL (auth-param default "token") */
  TINCAN_AUTH_HELLO,   /* the token in the protocol's hello frame */
} TincanAuthMethod;

#define TINCAN_TYPE_PROFILE (tincan_profile_get_type ())

G_DECLARE_FINAL_TYPE (TincanProfile, tincan_profile, TINCAN, PROFILE, GObject)

/* A saved server. Every field is a GObject property (notify on change):
 *   id (string, stable UUID, set at creation), name, url, protocol
 *   (default "tincan"), user, auth-method, auth-param, headers (GStrv of
 *   "Name: value"), subprotocols (GStrv; empty = the protocol's own),
 *   protocol-options (GStrv of "key=value": the dialect's options, see
 *   tincan_protocol_new_with_options() in tincan-protocols.h),
 *   origin, deflate (bool), rooms (GStrv, rooms to join; default {"lobby"}),
 *   heartbeat-interval (uint s, default 20), heartbeat-timeout (uint s,
 *   default 10), reconnect-base-ms (500), reconnect-cap-ms (30000),
 *   reconnect-jitter (TincanJitter, FULL), reconnect-max-attempts (0 = ∞),
 *   reconnect-stable-ms (5000), terminal-codes (GStrv of numbers, extra
 *   close codes that mean failed, on top of 4001 and 4003), send-window
 *   (uint, default 64), outbox-limit (uint, default 10000), max-payload
 *   (uint bytes, default 1 MiB), accept-certificate (string: the pinned
 *   SHA-256 fingerprint, hex with colons, of a certificate the user
 *   trusts for this server; NULL = normal verification).
 * The token is NOT a property: it lives in libsecret (TincanSecrets). */
TincanProfile *tincan_profile_new             (void);
TincanProfile *tincan_profile_copy            (TincanProfile  *self);

const char    *tincan_profile_get_id          (TincanProfile  *self);
const char    *tincan_profile_get_name        (TincanProfile  *self);
void           tincan_profile_set_name        (TincanProfile  *self,
                                               const char     *name);
const char    *tincan_profile_get_url         (TincanProfile  *self);
void           tincan_profile_set_url         (TincanProfile  *self,
                                               const char     *url);
const char    *tincan_profile_get_protocol    (TincanProfile  *self);
void           tincan_profile_set_protocol    (TincanProfile  *self,
                                               const char     *protocol);
const char    *tincan_profile_get_user        (TincanProfile  *self);
void           tincan_profile_set_user        (TincanProfile  *self,
                                               const char     *user);
TincanAuthMethod tincan_profile_get_auth_method (TincanProfile *self);
void           tincan_profile_set_auth_method (TincanProfile  *self,
                                               TincanAuthMethod method);
const char * const *tincan_profile_get_rooms  (TincanProfile  *self);
void           tincan_profile_set_rooms       (TincanProfile  *self,
                                               const char * const *rooms);
/* Other properties: use g_object_get/set. */

/* Checks a URL a user typed: ws:// or wss://, a host, parseable.
 * FALSE with a G_IO_ERROR_INVALID_ARGUMENT whose message is a
 * translated sentence fit for the UI. */
gboolean       tincan_profile_validate_url    (const char     *url,
                                               GError        **error);

/* Persistence: one group per profile in a GKeyFile (no secrets in it). */
void           tincan_profile_save_to_keyfile (TincanProfile  *self,
                                               GKeyFile       *keyfile);
TincanProfile *tincan_profile_new_from_keyfile (GKeyFile      *keyfile,
                                               const char     *group,
                                               GError        **error);
/* Loads/saves every profile of @path (default: user config dir
 * tincan/servers.ini). Element type TincanProfile. Missing file → empty. */
GPtrArray     *tincan_profile_load_all        (const char     *path,
                                               GError        **error);
gboolean       tincan_profile_save_all        (GPtrArray      *profiles,
                                               const char     *path,
                                               GError        **error);

G_END_DECLS
