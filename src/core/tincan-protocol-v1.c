/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "tincan-frame-private.h"
#include "tincan-protocol.h"

/* The native dialect: a thin adapter over the shared tincan.v1 codec that
 * adds the client's point of view (what it may send, what it may receive). */

struct _TincanProtocolV1
{
  GObject parent_instance;
};

static void tincan_protocol_v1_iface_init (TincanProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanProtocolV1, tincan_protocol_v1, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TINCAN_TYPE_PROTOCOL,
                                                      tincan_protocol_v1_iface_init))

static const char * const subprotocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };

static gboolean
is_client_frame (TincanFrameType type)
{
  switch (type)
    {
    case TINCAN_FRAME_HELLO:
    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
    case TINCAN_FRAME_SEND:
    case TINCAN_FRAME_PING:
      return TRUE;

    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_WELCOME:
    case TINCAN_FRAME_ACK:
    case TINCAN_FRAME_MESSAGE:
    case TINCAN_FRAME_PRESENCE:
    case TINCAN_FRAME_MEMBERS:
    case TINCAN_FRAME_RESUMED:
    case TINCAN_FRAME_PONG:
    case TINCAN_FRAME_ERROR:
    case TINCAN_FRAME_UNMAPPED:
    case TINCAN_FRAME_REPLY:
    default:
      return FALSE;
    }
}

static const char *
tincan_protocol_v1_get_name (TincanProtocol *protocol)
{
  return "tincan";
}

static const char * const *
tincan_protocol_v1_get_subprotocols (TincanProtocol *protocol)
{
  return subprotocols;
}

static TincanProtocolFlags
tincan_protocol_v1_get_flags (TincanProtocol *protocol)
{
  return TINCAN_PROTOCOL_FLAG_ACKS |
         TINCAN_PROTOCOL_FLAG_WELCOME |
         TINCAN_PROTOCOL_FLAG_RESUME |
         TINCAN_PROTOCOL_FLAG_ROOMS;
}

static GBytes *
tincan_protocol_v1_encode (TincanProtocol     *protocol,
                           const TincanFrame  *frame,
                           gboolean           *binary,
                           GError            **error)
{
  char *json;
  gsize length = 0;

  if (!is_client_frame (frame->type))
    {
      const char *name = tincan_frame_type_to_string (frame->type);

      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED,
                   _("A tincan.v1 client cannot send “%s” frames"),
                   name != NULL ? name : "invalid");
      return NULL;
    }

  json = _tincan_v1_encode_full (frame, &length, error);
  if (json == NULL)
    return NULL;

  *binary = FALSE;

  return g_bytes_new_take (json, length);
}

static gboolean
tincan_protocol_v1_decode (TincanProtocol  *protocol,
                           gboolean         binary,
                           GBytes          *payload,
                           GPtrArray       *frames,
                           GError         **error)
{
  g_autoptr (TincanFrame) frame = NULL;
  const char *data;
  gsize length = 0;

  if (binary)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_BINARY,
                   _("tincan.v1 uses text frames; got a binary frame of %lu bytes"),
                   (unsigned long) g_bytes_get_size (payload));
      return FALSE;
    }

  data = g_bytes_get_data (payload, &length);
  frame = tincan_v1_decode (data != NULL ? data : "", length, error);
  if (frame == NULL)
    return FALSE;

  if (is_client_frame (frame->type))
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNEXPECTED,
                   _("“%s” is a client frame; a server must not send it"),
                   tincan_frame_type_to_string (frame->type));
      return FALSE;
    }

  g_ptr_array_add (frames, g_steal_pointer (&frame));

  return TRUE;
}

static void
tincan_protocol_v1_iface_init (TincanProtocolInterface *iface)
{
  iface->get_name = tincan_protocol_v1_get_name;
  iface->get_subprotocols = tincan_protocol_v1_get_subprotocols;
  iface->get_flags = tincan_protocol_v1_get_flags;
  iface->encode = tincan_protocol_v1_encode;
  iface->decode = tincan_protocol_v1_decode;
}

static void
tincan_protocol_v1_class_init (TincanProtocolV1Class *klass)
{
}

static void
tincan_protocol_v1_init (TincanProtocolV1 *self)
{
}

TincanProtocol *
tincan_protocol_v1_new (void)
{
  return g_object_new (TINCAN_TYPE_PROTOCOL_V1, NULL);
}
