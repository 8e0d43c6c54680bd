/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-connection.h"

G_BEGIN_DECLS

/* Raw frames for the inspector's composer (issue #6): written as is on the
 * current WebSocket, bypassing the protocol, the outbox and acks. Each
 * fails with G_IO_ERROR_NOT_CONNECTED when there is no open WebSocket,
 * G_IO_ERROR_INVALID_ARGUMENT for a ping payload over 125 bytes, a close
 * code outside 1000–4999 (or a reserved one: 1004–1006, 1015) or a close
 * reason over 123 bytes. The frames are reported on "frame" like any other. */

gboolean tincan_connection_send_raw  (TincanConnection *self,
                                      TincanOpcode      opcode,
                                      GBytes           *payload,
                                      GError          **error);
gboolean tincan_connection_send_ping (TincanConnection *self,
                                      GBytes           *payload,
                                      GError          **error);
gboolean tincan_connection_close_with (TincanConnection *self,
                                      gushort           code,
                                      const char       *reason,
                                      GError          **error);

G_END_DECLS
