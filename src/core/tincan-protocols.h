/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-protocol.h"

G_BEGIN_DECLS

/* The dialects for backends that are not ours (issue #5). Each is a pure
 * TincanProtocol: no sockets, no main loop. Options are GObject properties,
 * set by name with tincan_protocol_new_with_options().
 *
 * Conventions TincanConnection relies on:
 *
 * - Flags. plain: NONE (no ack, delivery stops at sent). json: ACKS only if
 *   ack-pointer is set, ROOMS only if a join-template is set. socketio:
 *   ACKS | WELCOME. jsonrpc: ACKS.
 * - Encoding a frame the dialect has nothing for (a HELLO in plain, a PING
 *   anywhere but tincan) returns NULL with no error: send nothing.
 * - A frame the dialect must answer on the wire by itself (Engine.IO ping
 *   "2" → "3", the Socket.IO CONNECT "40{auth}" once the open packet came,
 *   a JSON-RPC error for a server request we do not serve) is decoded into
 *   a TINCAN_FRAME_REPLY whose raw is the payload to send and binary its
 *   opcode. The connection sends it verbatim, in order with other frames.
 * - An incoming frame that maps to nothing becomes TINCAN_FRAME_UNMAPPED
 *   with raw (and binary) set: kept and shown, never dropped. Binary frames
 *   in plain are UNMAPPED with binary TRUE (the UI shows size + hex).
 * - Malformed input (invalid UTF-8, invalid JSON, nesting deeper than
 *   TINCAN_DIALECT_MAX_DEPTH, payload over TINCAN_DIALECT_MAX_SIZE, wrong
 *   member types) fails decode() with a TINCAN_PROTOCOL_ERROR; the
 *   connection reports it and carries on.
 * - MESSAGE frames have room NULL when the backend has no notion of rooms
 *   (plain, socketio and jsonrpc without a room field, json without a room
 *   pointer match): the connection puts them in the profile's first room.
 * - socketio: HELLO is not sent; its user and token are kept for the
 *   Socket.IO CONNECT auth payload ({"token":…,"user":…}), which is emitted
 *   as a REPLY once the Engine.IO open packet is decoded (or by the HELLO
 *   encode itself if the open packet came first). The CONNECT acknowledgement
 *   becomes WELCOME whose heartbeat is ⌈(pingInterval + pingTimeout) / 1000⌉
 *   seconds from the open packet, for the connection's watchdog. CONNECT_ERROR
 *   → ERROR code "connect_error" with the server's message and no cid; a
 *   server-side disconnect "41" → ERROR code "server_disconnect", no cid.
 *   Both are terminal: the connection goes FAILED and does not reconnect
 *   (as it must for an ERROR with code "unauthorized" and no cid). SEND
 *   becomes "42<ackid>[send-event,{"text":…,"room":…,"cid":…}]"; the
 *   matching "43<ackid>[…]" becomes ACK with the cid. The endpoint is
 *   /socket.io/?EIO=4&transport=websocket: see tincan_protocol_adjust_url().
 * - jsonrpc: SEND → {"jsonrpc":"2.0","id":ID,"method":send-method,
 *   "params":params-template}; ids are strings "<random session prefix>-<n>"
 *   with n never reset, so they never collide across reconnects. A result
 *   → ACK with the cid; an error → ERROR with the cid, code the error's code
 *   as a string, message the error's message. A notification whose method is
 *   notify-method → MESSAGE. The connection calls
 *   tincan_protocol_jsonrpc_expire() on a timer (e.g. every second) to fail
 *   requests older than request-timeout-ms; reset() forgets pending
 *   requests (the connection re-sends unacked messages with the same cid).
 */

#define TINCAN_DIALECT_MAX_SIZE  (16 * 1024 * 1024)
#define TINCAN_DIALECT_MAX_DEPTH 64

/* plain: every text frame is a message, sending sends the text. */
#define TINCAN_TYPE_PROTOCOL_PLAIN (tincan_protocol_plain_get_type ())
G_DECLARE_FINAL_TYPE (TincanProtocolPlain, tincan_protocol_plain, TINCAN, PROTOCOL_PLAIN, GObject)
TincanProtocol *tincan_protocol_plain_new (void);

/* json: mapped by JSON Pointers (RFC 6901) and templates.
 * Properties (strings): text-pointer, sender-pointer, id-pointer,
 * room-pointer, ts-pointer, ack-pointer (the client id echoed back),
 * send-template, join-template, leave-template, hello-template, preset.
 * A pointer left NULL is looked for in the common shapes ({"text","user"},
 * {"message","username"}, {"data":{…}}). Templates are JSON; a string whose
 * whole value is a placeholder is replaced by a JSON value: {{text}},
 * {{user}}, {{room}}, {{cid}}, {{token}}, {{uuid}} (fresh UUIDv4), {{now}}
 * (RFC 3339 string), {{now_ms}} (number). An unset value becomes null.
 * Setting preset sets the other options to the preset's values. */
#define TINCAN_TYPE_PROTOCOL_JSON (tincan_protocol_json_get_type ())
G_DECLARE_FINAL_TYPE (TincanProtocolJson, tincan_protocol_json, TINCAN, PROTOCOL_JSON, GObject)
TincanProtocol     *tincan_protocol_json_new          (void);
/* "auto", "text-user", "message-username", "data", "pubsub" */
const char * const *tincan_protocol_json_list_presets (void);

/* socketio: Engine.IO v4 / Socket.IO v5 over WebSocket.
 * Properties: namespace (default "/"), send-event (default "message"),
 * receive-event (default "message"). */
#define TINCAN_TYPE_PROTOCOL_SOCKETIO (tincan_protocol_socketio_get_type ())
G_DECLARE_FINAL_TYPE (TincanProtocolSocketio, tincan_protocol_socketio, TINCAN, PROTOCOL_SOCKETIO, GObject)
TincanProtocol *tincan_protocol_socketio_new (void);

/* jsonrpc: JSON-RPC 2.0. Properties: send-method (default "send"),
 * params-template (default {"room":"{{room}}","text":"{{text}}",
 * "cid":"{{cid}}","user":"{{user}}"}), notify-method (default "message"),
 * request-timeout-ms (uint, default 30000). */
#define TINCAN_TYPE_PROTOCOL_JSONRPC (tincan_protocol_jsonrpc_get_type ())
G_DECLARE_FINAL_TYPE (TincanProtocolJsonrpc, tincan_protocol_jsonrpc, TINCAN, PROTOCOL_JSONRPC, GObject)
TincanProtocol *tincan_protocol_jsonrpc_new    (void);
/* Appends an ERROR frame (code "timeout", the request's cid) for each
 * request sent more than request-timeout-ms before @now_ms (the
 * tincan_now_ms() clock) and forgets it. Returns how many expired. */
guint           tincan_protocol_jsonrpc_expire (TincanProtocolJsonrpc *self,
                                                gint64                 now_ms,
                                                GPtrArray             *frames);

/* Creates the dialect @name (as tincan_protocol_new_for_name()) and sets
 * each "key=value" of @options (NULL-terminated, may be NULL) on the
 * property of that name; "preset" is applied first. An unknown key, a
 * value of the wrong kind, an invalid template or an unknown preset give
 * NULL and G_IO_ERROR_INVALID_ARGUMENT. */
TincanProtocol *tincan_protocol_new_with_options (const char          *name,
                                                  const char * const  *options,
                                                  GError             **error);

/* The URL to open for @url with @protocol: for socketio, a URL with no
 * path (or "/") gets "/socket.io/", and EIO=4 and transport=websocket are
 * added to the query if absent. Other dialects: a copy of @url. */
char           *tincan_protocol_adjust_url       (TincanProtocol      *protocol,
                                                  const char          *url);

G_END_DECLS
