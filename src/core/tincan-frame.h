/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A protocol-neutral frame: the native tincan.v1 frames map onto it one to
 * one, and every other dialect decodes into (and encodes from) the same
 * struct, so TincanConnection speaks only TincanFrame. */
typedef enum
{
  TINCAN_FRAME_INVALID = 0,
  /* client → server */
  TINCAN_FRAME_HELLO,
  TINCAN_FRAME_JOIN,
  TINCAN_FRAME_LEAVE,
  TINCAN_FRAME_SEND,
  TINCAN_FRAME_PING,
  /* server → client */
  TINCAN_FRAME_WELCOME,
  TINCAN_FRAME_ACK,
  TINCAN_FRAME_MESSAGE,
  TINCAN_FRAME_PRESENCE,
  TINCAN_FRAME_MEMBERS,
  TINCAN_FRAME_RESUMED,
  TINCAN_FRAME_PONG,
  TINCAN_FRAME_ERROR,
  /* dialects other than tincan.v1 (issue #5): a frame that maps to nothing
   * (kept and shown, never dropped) and a frame the dialect must answer
   * on the wire by itself (e.g. Engine.IO pong). */
  TINCAN_FRAME_UNMAPPED,
  TINCAN_FRAME_REPLY,
} TincanFrameType;

typedef struct _TincanFrame TincanFrame;

struct _TincanFrame
{
  TincanFrameType type;

  char        *room;      /* join, leave, send, message, presence, members, resumed, error? */
  char        *user;      /* hello, welcome, presence; "from" for message */
  char        *token;     /* hello (optional) */
  char        *session;   /* welcome */
  char        *cid;       /* send, ack, message (optional), error (optional) */
  char        *id;        /* ack, message */
  char        *text;      /* send, message */
  char        *code;      /* error: bad_request|rate_limited|too_large|unauthorized|unknown_room */
  char        *message;   /* error: human-readable */

  gint64       seq;       /* ack, message, resumed */
  gint64       ts;        /* ack, message: ms since the Unix epoch */
  gint64       ping_id;   /* ping, pong */
  gint         heartbeat; /* welcome: seconds, 0 if absent */
  gboolean     online;    /* presence */
  gboolean     gap;       /* resumed */

  GStrv        rooms;     /* welcome */
  GStrv        users;     /* members */
  GHashTable  *resume;    /* hello (optional): room (char*) → last seen seq (gint64*) */

  /* UNMAPPED / REPLY: the raw payload and whether it is binary. */
  GBytes      *raw;
  gboolean     binary;
};

#define TINCAN_TYPE_FRAME (tincan_frame_get_type ())

GType            tincan_frame_get_type        (void) G_GNUC_CONST;
TincanFrame     *tincan_frame_new             (TincanFrameType    type);
TincanFrame     *tincan_frame_copy            (const TincanFrame *frame);
void             tincan_frame_free            (TincanFrame       *frame);
/* Adds room → seq to frame->resume, creating the table if needed. */
void             tincan_frame_add_resume      (TincanFrame       *frame,
                                               const char        *room,
                                               gint64             seq);
/* "hello", "ack", …; NULL for INVALID. */
const char      *tincan_frame_type_to_string  (TincanFrameType    type);
TincanFrameType  tincan_frame_type_from_string (const char       *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TincanFrame, tincan_frame_free)

/* The native tincan.v1 JSON codec, both directions (the client and the
 * reference server share it). Encoding never fails for a well-formed frame
 * (the required fields are set) and returns compact JSON, valid UTF-8.
 * Decoding is strict: see TincanProtocolError. */
#define TINCAN_V1_SUBPROTOCOL "tincan.v1"

char            *tincan_v1_encode             (const TincanFrame *frame,
                                               gsize             *length);
TincanFrame     *tincan_v1_decode             (const char        *data,
                                               gsize              length,
                                               GError           **error);

G_END_DECLS
