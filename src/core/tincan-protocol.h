/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-frame.h"

G_BEGIN_DECLS

#define TINCAN_PROTOCOL_ERROR (tincan_protocol_error_quark ())

typedef enum
{
  TINCAN_PROTOCOL_ERROR_INVALID_JSON,   /* not parseable as JSON */
  TINCAN_PROTOCOL_ERROR_INVALID_UTF8,   /* payload is not valid UTF-8 */
  TINCAN_PROTOCOL_ERROR_NOT_OBJECT,     /* top level is not an object */
  TINCAN_PROTOCOL_ERROR_MISSING_FIELD,  /* a required member is absent */
  TINCAN_PROTOCOL_ERROR_WRONG_TYPE,     /* a member has the wrong JSON type */
  TINCAN_PROTOCOL_ERROR_INVALID_VALUE,  /* right type, bad value (negative seq, bad timestamp, empty room…) */
  TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE,   /* "type" names no frame we know */
  TINCAN_PROTOCOL_ERROR_UNEXPECTED,     /* a known frame in the wrong direction or state */
  TINCAN_PROTOCOL_ERROR_BINARY,         /* a binary frame where text is expected */
  TINCAN_PROTOCOL_ERROR_TOO_LARGE,      /* over a size or nesting limit */
  TINCAN_PROTOCOL_ERROR_UNSUPPORTED,    /* the dialect cannot encode this frame */
} TincanProtocolError;

typedef enum
{
  TINCAN_PROTOCOL_FLAG_NONE    = 0,
  TINCAN_PROTOCOL_FLAG_ACKS    = 1 << 0, /* sends are acknowledged → delivered; else they stop at sent */
  TINCAN_PROTOCOL_FLAG_WELCOME = 1 << 1, /* connected only after a WELCOME frame */
  TINCAN_PROTOCOL_FLAG_RESUME  = 1 << 2, /* HELLO carries per-room resume points */
  TINCAN_PROTOCOL_FLAG_ROOMS   = 1 << 3, /* JOIN/LEAVE mean something */
} TincanProtocolFlags;

GQuark tincan_protocol_error_quark (void);

#define TINCAN_TYPE_PROTOCOL (tincan_protocol_get_type ())

G_DECLARE_INTERFACE (TincanProtocol, tincan_protocol, TINCAN, PROTOCOL, GObject)

struct _TincanProtocolInterface
{
  GTypeInterface parent_iface;

  const char          *(*get_name)         (TincanProtocol    *self);
  const char * const  *(*get_subprotocols) (TincanProtocol    *self);
  TincanProtocolFlags  (*get_flags)        (TincanProtocol    *self);
  /* Encodes a client → server frame (HELLO, JOIN, LEAVE, SEND, PING).
   * Returns NULL with no error when the dialect has nothing to send for it
   * (e.g. no hello). *binary tells the WebSocket opcode. */
  GBytes              *(*encode)           (TincanProtocol    *self,
                                            const TincanFrame *frame,
                                            gboolean          *binary,
                                            GError           **error);
  /* Decodes one incoming WebSocket message into zero or more frames,
   * appended to @frames (element free func tincan_frame_free). */
  gboolean             (*decode)           (TincanProtocol    *self,
                                            gboolean           binary,
                                            GBytes            *payload,
                                            GPtrArray         *frames,
                                            GError           **error);
  /* Called when a socket opens/closes so stateful dialects can reset. */
  void                 (*reset)            (TincanProtocol    *self);
};

const char          *tincan_protocol_get_name         (TincanProtocol    *self);
const char * const  *tincan_protocol_get_subprotocols (TincanProtocol    *self);
TincanProtocolFlags  tincan_protocol_get_flags        (TincanProtocol    *self);
GBytes              *tincan_protocol_encode           (TincanProtocol    *self,
                                                       const TincanFrame *frame,
                                                       gboolean          *binary,
                                                       GError           **error);
gboolean             tincan_protocol_decode           (TincanProtocol    *self,
                                                       gboolean           binary,
                                                       GBytes            *payload,
                                                       GPtrArray         *frames,
                                                       GError           **error);
void                 tincan_protocol_reset            (TincanProtocol    *self);

/* Creates the implementation named @name ("tincan" now; "plain", "json",
 * "socketio", "jsonrpc" in issue #5). NULL + G_IO_ERROR_NOT_SUPPORTED for
 * an unknown name. */
TincanProtocol      *tincan_protocol_new_for_name     (const char        *name,
                                                       GError           **error);
/* NULL-terminated list of the names tincan_protocol_new_for_name knows. */
const char * const  *tincan_protocol_list_names       (void);

/* The native tincan.v1 implementation. */
#define TINCAN_TYPE_PROTOCOL_V1 (tincan_protocol_v1_get_type ())

G_DECLARE_FINAL_TYPE (TincanProtocolV1, tincan_protocol_v1, TINCAN, PROTOCOL_V1, GObject)

TincanProtocol *tincan_protocol_v1_new (void);

G_END_DECLS
