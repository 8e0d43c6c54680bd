/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "tincan-protocols-private.h"

/* plain: a text frame is a message and a message is a text frame. There is
 * no ack, no hello, no room: delivery stops at sent. */

struct _TincanProtocolPlain
{
  GObject parent_instance;
};

static void tincan_protocol_plain_iface_init (TincanProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanProtocolPlain, tincan_protocol_plain, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TINCAN_TYPE_PROTOCOL,
                                                      tincan_protocol_plain_iface_init))

static const char *
tincan_protocol_plain_get_name (TincanProtocol *protocol)
{
  return "plain";
}

static TincanProtocolFlags
tincan_protocol_plain_get_flags (TincanProtocol *protocol)
{
  return TINCAN_PROTOCOL_FLAG_NONE;
}

static GBytes *
tincan_protocol_plain_encode (TincanProtocol     *protocol,
                              const TincanFrame  *frame,
                              gboolean           *binary,
                              GError            **error)
{
  if (frame->type != TINCAN_FRAME_SEND)
    return NULL;

  if (frame->text == NULL)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                           _("a message to send has no text"));
      return NULL;
    }

  *binary = FALSE;
  return g_bytes_new (frame->text, strlen (frame->text));
}

static gboolean
tincan_protocol_plain_decode (TincanProtocol  *protocol,
                              gboolean         binary,
                              GBytes          *payload,
                              GPtrArray       *frames,
                              GError         **error)
{
  TincanFrame *frame;
  const char *data;
  gsize length = 0;

  if (binary)
    {
      _tincan_frames_add_unmapped (frames, payload, TRUE);
      return TRUE;
    }

  data = g_bytes_get_data (payload, &length);
  if (!_tincan_dialect_check_text (data, length, error))
    return FALSE;

  frame = tincan_frame_new (TINCAN_FRAME_MESSAGE);
  frame->text = g_strndup (data != NULL ? data : "", length);
  g_ptr_array_add (frames, frame);

  return TRUE;
}

static void
tincan_protocol_plain_iface_init (TincanProtocolInterface *iface)
{
  iface->get_name = tincan_protocol_plain_get_name;
  iface->get_flags = tincan_protocol_plain_get_flags;
  iface->encode = tincan_protocol_plain_encode;
  iface->decode = tincan_protocol_plain_decode;
}

static void
tincan_protocol_plain_class_init (TincanProtocolPlainClass *klass)
{
}

static void
tincan_protocol_plain_init (TincanProtocolPlain *self)
{
}

TincanProtocol *
tincan_protocol_plain_new (void)
{
  return g_object_new (TINCAN_TYPE_PROTOCOL_PLAIN, NULL);
}
