/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "tincan-connection.h"

G_BEGIN_DECLS

/* What a TincanFrameRecord stands for: a WebSocket frame, or one side of
 * the HTTP upgrade (its headers as text, secrets masked). */
typedef enum
{
  TINCAN_FRAME_RECORD_KIND_FRAME,
  TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST,   /* direction OUT */
  TINCAN_FRAME_RECORD_KIND_HANDSHAKE_RESPONSE,  /* direction IN */
} TincanFrameRecordKind;

/* One bit per opcode, and one for the handshake, for filters. */
typedef enum /*< flags >*/
{
  TINCAN_FRAME_OPCODE_MASK_TEXT      = 1 << 0,
  TINCAN_FRAME_OPCODE_MASK_BINARY    = 1 << 1,
  TINCAN_FRAME_OPCODE_MASK_CLOSE     = 1 << 2,
  TINCAN_FRAME_OPCODE_MASK_PING      = 1 << 3,
  TINCAN_FRAME_OPCODE_MASK_PONG      = 1 << 4,
  TINCAN_FRAME_OPCODE_MASK_HANDSHAKE = 1 << 5,
} TincanFrameOpcodeMask;

#define TINCAN_FRAME_OPCODE_MASK_ALL ((TincanFrameOpcodeMask) 0x3f)

/* The default number of records a TincanFrameLog keeps. */
#define TINCAN_FRAME_LOG_DEFAULT_CAPACITY 10000

/* TincanFrameRecord: one immutable frame as the inspector shows it.
 *
 * Properties (read-only, immutable): kind, direction, opcode (TincanOpcode;
 * 0 for a handshake), time (int64, real time µs), size (uint64: the size on
 * the wire, before masking), payload (GBytes, secrets masked), text (string:
 * the payload if it is UTF-8, else NULL), close-code, close-reason (close
 * frames), json-type (the "type", "event" or "method" of a JSON payload, or
 * the event name of a Socket.IO packet; NULL if none), masked (TRUE if a
 * secret was masked in this record). */
#define TINCAN_TYPE_FRAME_RECORD (tincan_frame_record_get_type ())

G_DECLARE_FINAL_TYPE (TincanFrameRecord, tincan_frame_record, TINCAN, FRAME_RECORD, GObject)

/* Secrets are masked here, at creation, so nothing that reads a record
 * (the UI, exports, --frames files) can see them: JSON members named like a
 * secret ("token", "access_token", "password", "apiKey"…), URL query values
 * of such names (?token=, &access_token=), and every literal value in
 * @secrets (NULL-terminated, may be NULL). @size is the size on the wire;
 * pass G_MAXSIZE for the payload's own size. */
TincanFrameRecord     *tincan_frame_record_new            (TincanFrameRecordKind kind,
                                                           TincanFrameDirection  direction,
                                                           TincanOpcode          opcode,
                                                           GBytes               *payload,
                                                           gsize                 size,
                                                           gint64                real_time_us,
                                                           const char * const   *secrets);
/* Parses one line of tincan_frame_record_to_json_line(); masks again. */
TincanFrameRecord     *tincan_frame_record_new_from_json_line (const char       *line,
                                                           GError              **error);

TincanFrameRecordKind  tincan_frame_record_get_kind       (TincanFrameRecord    *self);
TincanFrameDirection   tincan_frame_record_get_direction  (TincanFrameRecord    *self);
TincanOpcode           tincan_frame_record_get_opcode     (TincanFrameRecord    *self);
/* "text", "binary", "ping", "pong", "close", "handshake". */
const char            *tincan_frame_record_get_opcode_name (TincanFrameRecord   *self);
TincanFrameOpcodeMask  tincan_frame_record_get_opcode_mask (TincanFrameRecord   *self);
gint64                 tincan_frame_record_get_time       (TincanFrameRecord    *self);
gsize                  tincan_frame_record_get_size       (TincanFrameRecord    *self);
/* The masked payload. Its data is always followed by a NUL byte that the
 * size does not count, so a text payload can be read as a C string. */
GBytes                *tincan_frame_record_get_payload    (TincanFrameRecord    *self);
/* The masked payload as a string if it is valid UTF-8 (text frames,
 * handshakes, most pings), else NULL. For close frames: the reason. */
const char            *tincan_frame_record_get_text       (TincanFrameRecord    *self);
guint                  tincan_frame_record_get_close_code (TincanFrameRecord    *self);
const char            *tincan_frame_record_get_close_reason (TincanFrameRecord  *self);
const char            *tincan_frame_record_get_json_type  (TincanFrameRecord    *self);
gboolean               tincan_frame_record_get_masked     (TincanFrameRecord    *self);

/* One JSON Lines line, without the trailing newline:
 * {"t":"2026-11-22T10:00:00.123Z","t_us":…,"dir":"in|out",
 *  "opcode":"text|binary|ping|pong|close|handshake","size":N,
 *  "payload":"…" (UTF-8 payloads) or "payload_b64":"…" (other payloads),
 *  "close_code":N,"close_reason":"…" (close frames only)}.
 * A handshake request is "dir":"out", a response "dir":"in". */
char                  *tincan_frame_record_to_json_line   (TincanFrameRecord    *self);
/* What "Copy" puts on the clipboard: the text payload as is; a hex dump for
 * binary payloads; "CODE reason" for a close. */
char                  *tincan_frame_record_dup_copy_text  (TincanFrameRecord    *self);
/* A classic hex dump: offset, 16 bytes in hex, their printable ASCII. */
char                  *tincan_frame_record_dup_hex_dump   (TincanFrameRecord    *self);

/* Masking helpers, also for showing a URL or a header outside the log. */
/* The query and fragment values of secret-looking names replaced. */
char                  *tincan_frame_mask_url              (const char           *url);
/* The value of one header with its secrets masked ("Bearer ••••(40)"). */
char                  *tincan_frame_mask_header           (const char           *name,
                                                           const char           *value);

/* TincanFrameLog: a GListModel of TincanFrameRecord that is a ring buffer.
 *
 * It keeps the newest `capacity` records (default 10 000) and at most
 * `byte-capacity` payload bytes (default 256 MiB; the newest record is
 * always kept). Appending is O(1); the records appended in one main-loop
 * turn are published together at idle: one items-changed for the records
 * evicted at the front (position 0), then one for the records added at the
 * end. While `paused`, records are still kept (the newest `capacity` of them;
 * `n-pending` counts them) but the model does not change until unpaused,
 * which publishes them at once.
 *
 * Properties: capacity (uint, default 10 000), byte-capacity (uint64),
 * paused (bool), n-pending (uint, read-only: kept but not yet published),
 * n-evicted (uint64, read-only: dropped for capacity since the last clear),
 * connection (TincanConnection, the attached one or NULL). */
#define TINCAN_TYPE_FRAME_LOG (tincan_frame_log_get_type ())

G_DECLARE_FINAL_TYPE (TincanFrameLog, tincan_frame_log, TINCAN, FRAME_LOG, GObject)

/* @capacity 0 means TINCAN_FRAME_LOG_DEFAULT_CAPACITY. */
TincanFrameLog *tincan_frame_log_new                  (guint                 capacity);
guint           tincan_frame_log_get_capacity         (TincanFrameLog       *self);
void            tincan_frame_log_set_capacity         (TincanFrameLog       *self,
                                                       guint                 capacity);
guint64         tincan_frame_log_get_byte_capacity    (TincanFrameLog       *self);
void            tincan_frame_log_set_byte_capacity    (TincanFrameLog       *self,
                                                       guint64               byte_capacity);
gboolean        tincan_frame_log_get_paused           (TincanFrameLog       *self);
void            tincan_frame_log_set_paused           (TincanFrameLog       *self,
                                                       gboolean              paused);
guint           tincan_frame_log_get_n_pending        (TincanFrameLog       *self);
guint64         tincan_frame_log_get_n_evicted        (TincanFrameLog       *self);
/* Publishes the pending records now instead of at idle (no-op if paused). */
void            tincan_frame_log_flush                (TincanFrameLog       *self);
/* Drops every record, published or pending. */
void            tincan_frame_log_clear                (TincanFrameLog       *self);

/* A literal secret (e.g. the token the connection uses) to mask wherever
 * it appears in later records. Strings shorter than 4 bytes are ignored. */
void            tincan_frame_log_add_secret           (TincanFrameLog       *self,
                                                       const char           *secret);

/* Records one frame; @payload may be NULL (empty). Masks (see
 * tincan_frame_record_new()). */
void            tincan_frame_log_append               (TincanFrameLog       *self,
                                                       TincanFrameDirection  direction,
                                                       TincanOpcode          opcode,
                                                       GBytes               *payload,
                                                       gint64                real_time_us);
/* Records a record made elsewhere (import); it is masked already. */
void            tincan_frame_log_append_record        (TincanFrameLog       *self,
                                                       TincanFrameRecord    *record);
/* The handshake request: "GET URI HTTP/1.1" and the headers, masked. */
void            tincan_frame_log_append_handshake_request  (TincanFrameLog  *self,
                                                       const char           *method,
                                                       const char           *uri,
                                                       SoupMessageHeaders   *headers,
                                                       gint64                real_time_us);
/* The handshake response: "HTTP/1.1 101 Switching Protocols" and the headers. */
void            tincan_frame_log_append_handshake_response (TincanFrameLog  *self,
                                                       guint                 status,
                                                       const char           *reason_phrase,
                                                       SoupMessageHeaders   *headers,
                                                       gint64                real_time_us);
/* Both of the above from a SoupMessage: OUT records its request, IN its
 * response. */
void            tincan_frame_log_append_handshake     (TincanFrameLog       *self,
                                                       SoupMessage          *message,
                                                       TincanFrameDirection  direction,
                                                       gint64                real_time_us);

/* Follows @connection's "frame" signal (NULL detaches). */
void            tincan_frame_log_attach               (TincanFrameLog       *self,
                                                       TincanConnection     *connection);

/* Writes every record kept (published and pending), oldest first, as JSON
 * Lines (see tincan_frame_record_to_json_line()). Blocking: call it from a
 * thread or on a memory stream. */
gboolean        tincan_frame_log_export               (TincanFrameLog       *self,
                                                       GOutputStream        *stream,
                                                       GError              **error);
/* Reads JSON Lines and appends them. All or nothing: a malformed line makes
 * it fail with G_IO_ERROR_INVALID_DATA naming the line ("line 3: …") and
 * append nothing. Blank lines are skipped. Blocking, like export. */
gboolean        tincan_frame_log_import               (TincanFrameLog       *self,
                                                       GInputStream         *stream,
                                                       GError              **error);

G_END_DECLS
