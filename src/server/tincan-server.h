/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TINCAN_TYPE_SERVER (tincan_server_get_type ())

G_DECLARE_FINAL_TYPE (TincanServer, tincan_server, TINCAN, SERVER, GObject)

/* The reference tincan.v1 backend (a SoupServer at ws://HOST:PORT/ws),
 * embeddable: `tincan --local` runs it in-process, tests run it in-process
 * or as the `tincan-server` binary.
 *
 * Construct properties (set before tincan_server_listen()):
 *   max-frame (uint, bytes, default 1 MiB), rate (double, frames/s per
 *   connection, 0 = unlimited, default 0), burst (uint, default = 2*rate or 20),
 *   token (string, NULL = none required), history (uint, per room, default 10000),
 *   db-path (string, NULL = memory only), tls-certificate (GTlsCertificate,
 *   NULL = plain ws://; else wss:// only), max-clients (uint, default 1000,
 *   0 = unlimited; over it the upgrade is refused with HTTP 503 and
 *   Retry-After), max-rooms
 *   (uint, rooms per connection, lobby included, default 100, 0 = unlimited;
 *   over it: error "too_many_rooms"), handshake-timeout (uint s, default 10,
 *   0 = none: a connection that has not completed its HTTP request — the
 *   WebSocket upgrade — in time is shut down), deflate (boolean, default
 *   FALSE: offer permessage-deflate; it costs a compression per recipient
 *   of every broadcast frame).
 * Read-only: port (uint), uri (string, "ws://HOST:PORT/ws" or "wss://…").
 * Signals: "client-count-changed" (uint). */
TincanServer *tincan_server_new         (void);
gboolean      tincan_server_listen      (TincanServer  *self,
                                         const char    *host,
                                         guint          port,
                                         GError       **error);
void          tincan_server_stop        (TincanServer  *self);
guint         tincan_server_get_port    (TincanServer  *self);
/* "ws://HOST:PORT/ws"; NULL before listening. */
const char   *tincan_server_get_uri     (TincanServer  *self);
guint         tincan_server_get_n_clients (TincanServer *self);

G_END_DECLS
