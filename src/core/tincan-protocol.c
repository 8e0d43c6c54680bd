/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "tincan-protocol.h"
#include "tincan-protocols.h"

G_DEFINE_QUARK (tincan-protocol-error-quark, tincan_protocol_error)

G_DEFINE_INTERFACE (TincanProtocol, tincan_protocol, G_TYPE_OBJECT)

/* Every dialect tincan_protocol_new_for_name() knows, in the order the UI
 * offers them. Adding a dialect is one line here. */
static const struct
{
  const char *name;
  GType     (*get_type) (void);
} registry[] = {
  { "tincan", tincan_protocol_v1_get_type },
  { "plain", tincan_protocol_plain_get_type },
  { "json", tincan_protocol_json_get_type },
  { "socketio", tincan_protocol_socketio_get_type },
  { "jsonrpc", tincan_protocol_jsonrpc_get_type },
};

static void
tincan_protocol_default_init (TincanProtocolInterface *iface)
{
}

const char *
tincan_protocol_get_name (TincanProtocol *self)
{
  g_return_val_if_fail (TINCAN_IS_PROTOCOL (self), NULL);

  return TINCAN_PROTOCOL_GET_IFACE (self)->get_name (self);
}

const char * const *
tincan_protocol_get_subprotocols (TincanProtocol *self)
{
  TincanProtocolInterface *iface;

  g_return_val_if_fail (TINCAN_IS_PROTOCOL (self), NULL);

  iface = TINCAN_PROTOCOL_GET_IFACE (self);
  if (iface->get_subprotocols == NULL)
    return NULL;

  return iface->get_subprotocols (self);
}

TincanProtocolFlags
tincan_protocol_get_flags (TincanProtocol *self)
{
  TincanProtocolInterface *iface;

  g_return_val_if_fail (TINCAN_IS_PROTOCOL (self), TINCAN_PROTOCOL_FLAG_NONE);

  iface = TINCAN_PROTOCOL_GET_IFACE (self);
  if (iface->get_flags == NULL)
    return TINCAN_PROTOCOL_FLAG_NONE;

  return iface->get_flags (self);
}

GBytes *
tincan_protocol_encode (TincanProtocol     *self,
                        const TincanFrame  *frame,
                        gboolean           *binary,
                        GError            **error)
{
  gboolean is_binary = FALSE;
  GBytes *bytes;

  g_return_val_if_fail (TINCAN_IS_PROTOCOL (self), NULL);
  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  bytes = TINCAN_PROTOCOL_GET_IFACE (self)->encode (self, frame, &is_binary, error);

  if (binary != NULL)
    *binary = is_binary;

  return bytes;
}

gboolean
tincan_protocol_decode (TincanProtocol  *self,
                        gboolean         binary,
                        GBytes          *payload,
                        GPtrArray       *frames,
                        GError         **error)
{
  g_return_val_if_fail (TINCAN_IS_PROTOCOL (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);
  g_return_val_if_fail (frames != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return TINCAN_PROTOCOL_GET_IFACE (self)->decode (self, binary, payload, frames, error);
}

void
tincan_protocol_reset (TincanProtocol *self)
{
  TincanProtocolInterface *iface;

  g_return_if_fail (TINCAN_IS_PROTOCOL (self));

  iface = TINCAN_PROTOCOL_GET_IFACE (self);
  if (iface->reset != NULL)
    iface->reset (self);
}

TincanProtocol *
tincan_protocol_new_for_name (const char  *name,
                              GError     **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (registry); i++)
    {
      if (g_str_equal (registry[i].name, name))
        return g_object_new (registry[i].get_type (), NULL);
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Unknown protocol “%s”"), name);

  return NULL;
}

const char * const *
tincan_protocol_list_names (void)
{
  static const char **names = NULL;

  if (g_once_init_enter (&names))
    {
      const char **list = g_new0 (const char *, G_N_ELEMENTS (registry) + 1);

      for (guint i = 0; i < G_N_ELEMENTS (registry); i++)
        list[i] = registry[i].name;

      g_once_init_leave (&names, list);
    }

  return names;
}
