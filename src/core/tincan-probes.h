/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-connection.h"

G_BEGIN_DECLS

/* Conformance probes (issue #6): one click each in the inspector, each
 * checking one promise of PROTOCOL.md against the server a connection
 * talks to, with the frames and timings as evidence.
 *
 *   DEDUP      an already delivered message's cid is sent again (raw):
 *              the server must answer with the ORIGINAL ack (same id and
 *              seq) and must not broadcast the message a second time.
 *   RESUME     a second, probe-owned connection sends a stream of messages;
 *              mid-stream the link drops (the connection goes offline);
 *              after the reconnect and resume every message missed must
 *              arrive exactly once, or the server must report a gap.
 *   MALFORMED  a frame that is not valid JSON: the server must answer with
 *              an error frame and keep the connection (a ping still gets
 *              its pong afterwards).
 *
 * The probes speak tincan.v1 on the wire; tincan_probe_is_supported()
 * says why another dialect cannot be probed. They need a connected
 * connection and never run two at a time on one connection. */
typedef enum
{
  TINCAN_PROBE_DEDUP,
  TINCAN_PROBE_RESUME,
  TINCAN_PROBE_MALFORMED,
} TincanProbeKind;

#define TINCAN_TYPE_PROBE_RESULT (tincan_probe_result_get_type ())

G_DECLARE_FINAL_TYPE (TincanProbeResult, tincan_probe_result, TINCAN, PROBE_RESULT, GObject)

/* Properties (read-only): kind (TincanProbeKind), passed (bool), summary
 * (string: one line), evidence (string: one line per frame or finding,
 * "+MS ms" from the start; message texts and tokens are never included). */
TincanProbeKind  tincan_probe_result_get_kind     (TincanProbeResult *self);
gboolean         tincan_probe_result_get_passed   (TincanProbeResult *self);
const char      *tincan_probe_result_get_summary  (TincanProbeResult *self);
const char      *tincan_probe_result_get_evidence (TincanProbeResult *self);

/* A short translated name: "Deduplication", "Resume", "Malformed frame". */
const char      *tincan_probe_kind_get_title      (TincanProbeKind    kind);

/* TRUE if @kind makes sense for @connection's dialect; else FALSE and, if
 * @reason is not NULL, a translated sentence saying why. */
gboolean         tincan_probe_is_supported        (TincanConnection  *connection,
                                                   TincanProbeKind    kind,
                                                   char             **reason);

/* Runs the probe. Fails (no result) with G_IO_ERROR_NOT_SUPPORTED for a
 * dialect that cannot be probed, G_IO_ERROR_NOT_CONNECTED when not
 * connected, G_IO_ERROR_BUSY when a probe already runs on @connection,
 * G_IO_ERROR_CANCELLED. A probe that ran gives a result, passed or not. */
void               tincan_probe_run_async         (TincanConnection    *connection,
                                                   TincanProbeKind      kind,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
TincanProbeResult *tincan_probe_run_finish        (TincanConnection    *connection,
                                                   GAsyncResult        *result,
                                                   GError             **error);

G_END_DECLS
