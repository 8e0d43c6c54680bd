/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-backoff.h"
#include "tincan-message.h"
#include "tincan-profile.h"
#include "tincan-protocol.h"
#include "tincan-store.h"

G_BEGIN_DECLS

typedef enum
{
  TINCAN_CONNECTION_STATE_DISCONNECTED,
  TINCAN_CONNECTION_STATE_CONNECTING,
  TINCAN_CONNECTION_STATE_CONNECTED,
  TINCAN_CONNECTION_STATE_RECONNECTING,
  TINCAN_CONNECTION_STATE_OFFLINE,
  TINCAN_CONNECTION_STATE_FAILED,
} TincanConnectionState;

typedef enum
{
  TINCAN_FRAME_DIRECTION_IN,
  TINCAN_FRAME_DIRECTION_OUT,
} TincanFrameDirection;

/* WebSocket opcodes as on the wire (RFC 6455), for the "frame" signal. */
typedef enum
{
  TINCAN_OPCODE_TEXT   = 0x1,
  TINCAN_OPCODE_BINARY = 0x2,
  TINCAN_OPCODE_CLOSE  = 0x8,
  TINCAN_OPCODE_PING   = 0x9,
  TINCAN_OPCODE_PONG   = 0xA,
} TincanOpcode;

#define TINCAN_CONNECTION_ERROR (tincan_connection_error_quark ())

typedef enum
{
  TINCAN_CONNECTION_ERROR_OUTBOX_FULL,   /* send(): the outbox holds outbox-limit messages */
  TINCAN_CONNECTION_ERROR_INVALID_URL,
  TINCAN_CONNECTION_ERROR_REJECTED,      /* the server refused a message (error frame) */
  TINCAN_CONNECTION_ERROR_TOO_LARGE,     /* an incoming frame over max-payload */
  TINCAN_CONNECTION_ERROR_PROTOCOL,      /* a frame we could not decode (see the GError cause in the message) */
  TINCAN_CONNECTION_ERROR_TIMEOUT,       /* liveness watchdog fired */
  TINCAN_CONNECTION_ERROR_TERMINAL,      /* terminal close code (4001, 4003, profile's list) */
  TINCAN_CONNECTION_ERROR_EXHAUSTED,     /* reconnect attempts exhausted */
  TINCAN_CONNECTION_ERROR_NOT_FAILED,    /* retry()/discard() on a message that is not failed */
  TINCAN_CONNECTION_ERROR_CERTIFICATE,   /* the server's TLS certificate was refused (terminal) */
} TincanConnectionError;

GQuark tincan_connection_error_quark (void);

/* Returns a newly allocated token, or NULL for none. Runs before every
 * connection attempt, so a token can be refreshed. */
typedef char *(*TincanTokenProvider) (gpointer user_data);

#define TINCAN_TYPE_CONNECTION (tincan_connection_get_type ())

G_DECLARE_FINAL_TYPE (TincanConnection, tincan_connection, TINCAN, CONNECTION, GObject)

/* Properties (read-only unless said, notify on change):
 *   profile (TincanProfile, construct-only), store (TincanStore,
 *   construct-only), state (TincanConnectionState), attempt (uint),
 *   retry-at (int64: g_get_monotonic_time() µs of the next attempt, 0 if none),
 *   latency (int ms, -1 = unknown), close-code (uint), close-reason (string),
 *   last-error (GError boxed, NULL if none), queued-count (uint: outbox size),
 *   url (string), protocol (string: the dialect's name), user (string: as
 *   the server welcomed us), session (string), rooms (GStrv: joined rooms),
 *   network-monitor (GNetworkMonitor, construct-only, default the system's).
 *
 * Signals:
 *   message-received (TincanMessage *)  a new incoming message (deduplicated;
 *                                       the echo of our own message is NOT
 *                                       emitted here, it updates the local one)
 *   message-queued   (TincanMessage *)  an outgoing message just created by send()
 *   message-updated  (TincanMessage *)  an outgoing message changed state
 *   message-discarded (TincanMessage *) a failed message removed by discard()
 *   presence         (char *room, char *user, gboolean online)
 *   members          (char *room, GStrv users)
 *   resumed          (char *room, gboolean gap)
 *   frame            (TincanFrameDirection, TincanOpcode, GBytes *payload, gint64 real_time_us)
 *                    every frame in and out, ping/pong/close included;
 *                    payload secrets are NOT masked here (the inspector masks).
 *   error            (GError *)         a reported problem that did not change
 *                                       state (bad frame, rejected message…)
 *   unmapped         (TincanMessage *, GBytes *payload, gboolean binary)
 *                                       an incoming frame the dialect maps to
 *                                       nothing; it is also kept as a message
 *                                       (see tincan_connection_message_is_unmapped())
 *                                       and emitted on message-received.
 *   handshake        (TincanFrameDirection, SoupMessage *, gint64 real_time_us)
 *                    the HTTP upgrade: OUT once the request headers are
 *                    written, IN when the response headers arrive (also a
 *                    refusal such as 401). Headers are NOT masked here.
 *   heartbeat-missed (guint missed_in_a_row, gint64 ms_since_last_rx)
 *                    a heartbeat interval passed with nothing received.
 *   duplicate        (TincanMessage *)  an incoming message (same room and
 *                                       seq already seen, or our cid again
 *                                       with another seq) or a repeated ack
 *                                       that was recognised and dropped.
 *
 * Dialects (issue #5): the protocol is built from the profile's protocol
 * and protocol-options, again when they change (at once when no socket
 * is open, else at the next attempt); the URL goes through
 * tincan_protocol_adjust_url(). A MESSAGE frame with no room goes to the
 * profile's first room. An ERROR frame with no cid and code
 * connect_error, unauthorized or server_disconnect (other dialects than
 * tincan.v1) is terminal: state failed with the server's message in
 * last-error, no reconnect. A WELCOME heartbeat from such a dialect is its
 * liveness window (seconds). JSON-RPC requests time out while outstanding.
 */
TincanConnection     *tincan_connection_new              (TincanProfile        *profile,
                                                          TincanStore          *store);
TincanConnection     *tincan_connection_new_full         (TincanProfile        *profile,
                                                          TincanStore          *store,
                                                          GNetworkMonitor      *monitor);
void                  tincan_connection_set_token_provider (TincanConnection   *self,
                                                          TincanTokenProvider   provider,
                                                          gpointer              user_data,
                                                          GDestroyNotify        destroy);
/* Connects; while reconnecting it tries at once; a no-op when connected. */
void                  tincan_connection_connect          (TincanConnection     *self);
/* Stops everything, cancels what is pending; state → disconnected.
 * The outbox is kept. */
void                  tincan_connection_disconnect       (TincanConnection     *self);

/* The optimistic send: commits to the outbox, returns the message in state
 * QUEUED at once (emitting message-queued), transmits when connected.
 * Returns a new reference (transfer full).
 * NULL + TINCAN_CONNECTION_ERROR_OUTBOX_FULL when the outbox is full. */
TincanMessage        *tincan_connection_send             (TincanConnection     *self,
                                                          const char           *room,
                                                          const char           *text,
                                                          GError              **error);
/* For a FAILED outgoing message: back to the outbox (same cid). */
gboolean              tincan_connection_retry            (TincanConnection     *self,
                                                          TincanMessage        *message,
                                                          GError              **error);
/* For a FAILED outgoing message: removes it from the outbox and the store. */
gboolean              tincan_connection_discard          (TincanConnection     *self,
                                                          TincanMessage        *message,
                                                          GError              **error);
void                  tincan_connection_join             (TincanConnection     *self,
                                                          const char           *room);
void                  tincan_connection_leave            (TincanConnection     *self,
                                                          const char           *room);

TincanProfile        *tincan_connection_get_profile      (TincanConnection     *self);
TincanStore          *tincan_connection_get_store        (TincanConnection     *self);
TincanBackoff        *tincan_connection_get_backoff      (TincanConnection     *self);
TincanConnectionState tincan_connection_get_state        (TincanConnection     *self);
guint                 tincan_connection_get_attempt      (TincanConnection     *self);
gint64                tincan_connection_get_retry_at     (TincanConnection     *self);
int                   tincan_connection_get_latency      (TincanConnection     *self);
guint                 tincan_connection_get_close_code   (TincanConnection     *self);
const char           *tincan_connection_get_close_reason (TincanConnection     *self);
const GError         *tincan_connection_get_last_error   (TincanConnection     *self);
guint                 tincan_connection_get_queued_count (TincanConnection     *self);
const char           *tincan_connection_get_url          (TincanConnection     *self);
const char           *tincan_connection_get_protocol_name (TincanConnection    *self);
const char           *tincan_connection_get_user         (TincanConnection     *self);
const char * const   *tincan_connection_get_rooms        (TincanConnection     *self);
const char           *tincan_connection_state_to_string  (TincanConnectionState state);

/* An unmapped frame kept as an incoming message: its id starts with this
 * prefix, it has no sender, and its text is the frame's text or, for a
 * binary frame, "Binary frame, N bytes: " and a hex preview. */
#define TINCAN_UNMAPPED_ID_PREFIX "unmapped:"
gboolean              tincan_connection_message_is_unmapped (TincanMessage *message);

/* Network simulation, for backend developers (issue #6):
 *
 * simulate_latency: every outgoing data frame (messages, joins, pings,
 *   raw frames) leaves @latency_ms later, in order; 0 = off. Property
 *   "simulated-latency" (uint, read-write).
 * simulate_drop: ends the WebSocket now without a closing handshake (as a
 *   pulled cable would); the normal reconnect policy takes over. FALSE if
 *   there was no socket.
 * simulate_offline_for: behaves as if the network went away for @seconds:
 *   the socket is dropped, state offline, no attempts; then back (an
 *   attempt at once if connecting was wanted). 0 ends a simulated period
 *   now. Property "simulated-offline" (bool, read-only). */
void                  tincan_connection_simulate_latency     (TincanConnection *self,
                                                              guint             latency_ms);
guint                 tincan_connection_get_simulated_latency (TincanConnection *self);
gboolean              tincan_connection_simulate_drop        (TincanConnection *self);
void                  tincan_connection_simulate_offline_for (TincanConnection *self,
                                                              guint             seconds);
gboolean              tincan_connection_get_simulated_offline (TincanConnection *self);

/* TLS (issue #9). A wss:// server whose certificate does not verify
 * (self-signed, expired, for another host…) is refused: state failed,
 * no retry loop, last-error TINCAN_CONNECTION_ERROR_CERTIFICATE naming
 * the problems and the certificate's fingerprint. The exception is the
 * profile's accept-certificate: a certificate with that SHA-256
 * fingerprint is accepted for that profile; another one is refused with
 * both fingerprints named.
 * Properties (read-only, notify on change): peer-certificate
 * (GTlsCertificate, what the server presented on the latest attempt),
 * peer-certificate-errors (GTlsCertificateFlags, what verification found),
 * peer-certificate-fingerprint (string, "AB:CD:…", SHA-256 of the DER). */
GTlsCertificate      *tincan_connection_get_peer_certificate (TincanConnection *self);
GTlsCertificateFlags  tincan_connection_get_peer_certificate_errors (TincanConnection *self);
const char           *tincan_connection_get_peer_certificate_fingerprint (TincanConnection *self);

/* SHA-256 of the DER certificate, upper-case hex pairs joined by colons
 * (the form accept-certificate takes). NULL for NULL. */
char                 *tincan_certificate_fingerprint     (GTlsCertificate      *certificate);
/* One sentence per problem in @errors, for a person (translated). */
char                 *tincan_certificate_describe_errors (GTlsCertificate      *certificate,
                                                          GTlsCertificateFlags  errors,
                                                          const char           *host);

G_END_DECLS
