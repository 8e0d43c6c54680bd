/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "tincan-protocols-private.h"

/* json: incoming objects become messages through JSON Pointers, outgoing
 * frames come from JSON templates filled node by node (never by pasting
 * strings), so any text stays valid JSON. */

typedef enum
{
  PTR_TEXT,
  PTR_SENDER,
  PTR_ID,
  PTR_ROOM,
  PTR_TS,
  PTR_ACK,
  N_POINTERS
} Pointer;

typedef enum
{
  TPL_SEND,
  TPL_JOIN,
  TPL_LEAVE,
  TPL_HELLO,
  N_TEMPLATES
} Template;

struct _TincanProtocolJson
{
  GObject parent_instance;

  char     *preset;
  char     *pointers[N_POINTERS];
  char     *templates[N_TEMPLATES];
  JsonNode *template_nodes[N_TEMPLATES];
  char     *template_errors[N_TEMPLATES];

  /* From the last HELLO, for templates of frames that do not carry them. */
  char     *user;
  char     *token;
};

enum {
  PROP_0,
  PROP_TEXT_POINTER,
  PROP_SENDER_POINTER,
  PROP_ID_POINTER,
  PROP_ROOM_POINTER,
  PROP_TS_POINTER,
  PROP_ACK_POINTER,
  PROP_SEND_TEMPLATE,
  PROP_JOIN_TEMPLATE,
  PROP_LEAVE_TEMPLATE,
  PROP_HELLO_TEMPLATE,
  PROP_PRESET,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define FIRST_POINTER_PROP  PROP_TEXT_POINTER
#define FIRST_TEMPLATE_PROP PROP_SEND_TEMPLATE

typedef struct
{
  const char *name;
  const char *pointers[N_POINTERS];
  const char *templates[N_TEMPLATES];
} Preset;

#define SEND_TEXT_USER "{\"text\":\"{{text}}\",\"user\":\"{{user}}\"}"

/* Pointers left NULL are looked for in the common shapes. */
static const Preset presets[] = {
  {
    "auto",
    { NULL, NULL, NULL, NULL, NULL, NULL },
    { SEND_TEXT_USER, NULL, NULL, NULL },
  },
  {
    "text-user",
    { "/text", "/user", "/id", "/room", "/ts", NULL },
    { SEND_TEXT_USER, NULL, NULL, NULL },
  },
  {
    "message-username",
    { "/message", "/username", "/id", "/room", "/timestamp", NULL },
    { "{\"message\":\"{{text}}\",\"username\":\"{{user}}\"}", NULL, NULL, NULL },
  },
  {
    "data",
    { "/data/text", "/data/user", "/data/id", "/room", "/data/ts", NULL },
    { "{\"data\":{\"text\":\"{{text}}\",\"user\":\"{{user}}\"}}", NULL, NULL, NULL },
  },
  {
    "pubsub",
    { "/data/text", "/data/user", "/data/id", "/channel", "/data/ts", NULL },
    {
      "{\"type\":\"publish\",\"channel\":\"{{room}}\",\"data\":{\"text\":\"{{text}}\",\"user\":\"{{user}}\"}}",
      "{\"type\":\"subscribe\",\"channel\":\"{{room}}\"}",
      "{\"type\":\"unsubscribe\",\"channel\":\"{{room}}\"}",
      NULL,
    },
  },
};

static void tincan_protocol_json_iface_init (TincanProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanProtocolJson, tincan_protocol_json, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TINCAN_TYPE_PROTOCOL,
                                                      tincan_protocol_json_iface_init))

/* The names of presets[], in the same order. */
static const char * const preset_names[] = {
  "auto", "text-user", "message-username", "data", "pubsub", NULL,
};

G_STATIC_ASSERT (G_N_ELEMENTS (preset_names) == G_N_ELEMENTS (presets) + 1);

const char * const *
tincan_protocol_json_list_presets (void)
{
  return preset_names;
}

static void
set_pointer (TincanProtocolJson *self,
             Pointer             which,
             const char         *value)
{
  if (value != NULL && *value == '\0')
    value = NULL;

  if (value != NULL && !_tincan_json_pointer_is_valid (value))
    {
      g_debug ("ignoring an invalid JSON Pointer for %s",
               properties[FIRST_POINTER_PROP + which]->name);
      return;
    }

  if (_tincan_set_str (&self->pointers[which], value))
    g_object_notify_by_pspec (G_OBJECT (self), properties[FIRST_POINTER_PROP + which]);
}

static void
set_template (TincanProtocolJson *self,
              Template            which,
              const char         *value)
{
  g_autoptr (GError) error = NULL;

  if (value != NULL && *value == '\0')
    value = NULL;

  if (!_tincan_set_str (&self->templates[which], value))
    return;

  g_clear_pointer (&self->template_nodes[which], json_node_unref);
  g_clear_pointer (&self->template_errors[which], g_free);
  self->template_nodes[which] = _tincan_template_parse (value, &error);
  if (error != NULL)
    self->template_errors[which] = g_strdup (error->message);

  g_object_notify_by_pspec (G_OBJECT (self), properties[FIRST_TEMPLATE_PROP + which]);
}

static void
set_preset (TincanProtocolJson *self,
            const char         *name)
{
  const Preset *preset = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_strcmp0 (presets[i].name, name) == 0)
      preset = &presets[i];

  if (preset == NULL)
    {
      g_debug ("unknown preset, ignored");
      return;
    }

  g_object_freeze_notify (G_OBJECT (self));
  for (guint i = 0; i < N_POINTERS; i++)
    set_pointer (self, i, preset->pointers[i]);
  for (guint i = 0; i < N_TEMPLATES; i++)
    set_template (self, i, preset->templates[i]);
  if (_tincan_set_str (&self->preset, name))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRESET]);
  g_object_thaw_notify (G_OBJECT (self));
}

static const char *
tincan_protocol_json_get_name (TincanProtocol *protocol)
{
  return "json";
}

static TincanProtocolFlags
tincan_protocol_json_get_flags (TincanProtocol *protocol)
{
  TincanProtocolJson *self = TINCAN_PROTOCOL_JSON (protocol);
  TincanProtocolFlags flags = TINCAN_PROTOCOL_FLAG_NONE;

  if (self->pointers[PTR_ACK] != NULL)
    flags |= TINCAN_PROTOCOL_FLAG_ACKS;
  if (self->template_nodes[TPL_JOIN] != NULL)
    flags |= TINCAN_PROTOCOL_FLAG_ROOMS;

  return flags;
}

static GBytes *
tincan_protocol_json_encode (TincanProtocol     *protocol,
                             const TincanFrame  *frame,
                             gboolean           *binary,
                             GError            **error)
{
  TincanProtocolJson *self = TINCAN_PROTOCOL_JSON (protocol);
  TincanTemplateValues values = { 0 };
  g_autoptr (JsonNode) filled = NULL;
  Template which;

  switch (frame->type)
    {
    case TINCAN_FRAME_SEND:
      which = TPL_SEND;
      break;
    case TINCAN_FRAME_JOIN:
      which = TPL_JOIN;
      break;
    case TINCAN_FRAME_LEAVE:
      which = TPL_LEAVE;
      break;
    case TINCAN_FRAME_HELLO:
      _tincan_set_str (&self->user, frame->user);
      _tincan_set_str (&self->token, frame->token);
      which = TPL_HELLO;
      break;

    case TINCAN_FRAME_PING:
      return NULL;

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
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED,
                   _("A client cannot send “%s” frames"),
                   tincan_frame_type_to_string (frame->type) ?: "invalid");
      return NULL;
    }

  if (self->template_errors[which] != NULL)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED,
                   "%s", self->template_errors[which]);
      return NULL;
    }

  if (self->template_nodes[which] == NULL)
    {
      if (which == TPL_SEND)
        g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED,
                             _("The profile has no send template"));
      return NULL;
    }

  values.text = frame->text;
  values.user = frame->user != NULL ? frame->user : self->user;
  values.room = frame->room;
  values.cid = frame->cid;
  values.token = frame->token != NULL ? frame->token : self->token;

  filled = _tincan_template_fill (self->template_nodes[which], &values);
  *binary = FALSE;

  return _tincan_json_to_bytes (filled);
}

static gboolean
dup_pointer_text (JsonNode    *root,
                  const char  *pointer,
                  char       **out,
                  GError     **error)
{
  JsonNode *node = _tincan_json_pointer_get (root, pointer);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  g_free (*out);
  *out = _tincan_json_node_dup_text (node);
  if (*out == NULL)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                   _("%s is not a string"), pointer);
      return FALSE;
    }

  return TRUE;
}

static gboolean
tincan_protocol_json_decode (TincanProtocol  *protocol,
                             gboolean         binary,
                             GBytes          *payload,
                             GPtrArray       *frames,
                             GError         **error)
{
  TincanProtocolJson *self = TINCAN_PROTOCOL_JSON (protocol);
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (TincanFrame) message = NULL;
  g_autofree char *ack_cid = NULL;
  const char *data;
  gsize length = 0;
  gboolean have_text;

  if (binary)
    {
      _tincan_frames_add_unmapped (frames, payload, TRUE);
      return TRUE;
    }

  data = g_bytes_get_data (payload, &length);
  root = _tincan_dialect_parse (data, length, error);
  if (root == NULL)
    return FALSE;

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      _tincan_frames_add_unmapped (frames, payload, FALSE);
      return TRUE;
    }

  message = tincan_frame_new (TINCAN_FRAME_MESSAGE);

  /* The common shapes first, then what the profile names explicitly. */
  have_text = _tincan_frame_fill_from_object (message, root);
  if (self->pointers[PTR_TEXT] != NULL)
    {
      JsonNode *text = _tincan_json_pointer_get (root, self->pointers[PTR_TEXT]);

      g_clear_pointer (&message->text, g_free);
      have_text = text != NULL && !JSON_NODE_HOLDS_NULL (text);
      if (have_text && !dup_pointer_text (root, self->pointers[PTR_TEXT], &message->text, error))
        return FALSE;
    }

  if ((self->pointers[PTR_SENDER] != NULL &&
       !dup_pointer_text (root, self->pointers[PTR_SENDER], &message->user, error)) ||
      (self->pointers[PTR_ID] != NULL &&
       !dup_pointer_text (root, self->pointers[PTR_ID], &message->id, error)) ||
      (self->pointers[PTR_ROOM] != NULL &&
       !dup_pointer_text (root, self->pointers[PTR_ROOM], &message->room, error)) ||
      (self->pointers[PTR_ACK] != NULL &&
       !dup_pointer_text (root, self->pointers[PTR_ACK], &ack_cid, error)))
    return FALSE;

  if (self->pointers[PTR_TS] != NULL)
    message->ts = _tincan_json_node_get_ts (_tincan_json_pointer_get (root, self->pointers[PTR_TS]));

  if (ack_cid != NULL)
    {
      TincanFrame *ack = tincan_frame_new (TINCAN_FRAME_ACK);

      ack->cid = g_strdup (ack_cid);
      ack->id = g_strdup (message->id);
      ack->ts = message->ts;
      g_ptr_array_add (frames, ack);
      _tincan_set_str (&message->cid, ack_cid);
    }

  if (have_text)
    g_ptr_array_add (frames, g_steal_pointer (&message));
  else if (ack_cid == NULL)
    _tincan_frames_add_unmapped (frames, payload, FALSE);

  return TRUE;
}

static void
tincan_protocol_json_iface_init (TincanProtocolInterface *iface)
{
  iface->get_name = tincan_protocol_json_get_name;
  iface->get_flags = tincan_protocol_json_get_flags;
  iface->encode = tincan_protocol_json_encode;
  iface->decode = tincan_protocol_json_decode;
}

static void
tincan_protocol_json_finalize (GObject *object)
{
  TincanProtocolJson *self = TINCAN_PROTOCOL_JSON (object);

  g_free (self->preset);
  for (guint i = 0; i < N_POINTERS; i++)
    g_free (self->pointers[i]);
  for (guint i = 0; i < N_TEMPLATES; i++)
    {
      g_free (self->templates[i]);
      g_clear_pointer (&self->template_nodes[i], json_node_unref);
      g_free (self->template_errors[i]);
    }
  g_free (self->user);
  g_free (self->token);

  G_OBJECT_CLASS (tincan_protocol_json_parent_class)->finalize (object);
}

static void
tincan_protocol_json_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  TincanProtocolJson *self = TINCAN_PROTOCOL_JSON (object);

  if (prop_id >= FIRST_POINTER_PROP && prop_id < FIRST_POINTER_PROP + N_POINTERS)
    g_value_set_string (value, self->pointers[prop_id - FIRST_POINTER_PROP]);
  else if (prop_id >= FIRST_TEMPLATE_PROP && prop_id < FIRST_TEMPLATE_PROP + N_TEMPLATES)
    g_value_set_string (value, self->templates[prop_id - FIRST_TEMPLATE_PROP]);
  else if (prop_id == PROP_PRESET)
    g_value_set_string (value, self->preset);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
tincan_protocol_json_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  TincanProtocolJson *self = TINCAN_PROTOCOL_JSON (object);

  if (prop_id >= FIRST_POINTER_PROP && prop_id < FIRST_POINTER_PROP + N_POINTERS)
    set_pointer (self, prop_id - FIRST_POINTER_PROP, g_value_get_string (value));
  else if (prop_id >= FIRST_TEMPLATE_PROP && prop_id < FIRST_TEMPLATE_PROP + N_TEMPLATES)
    set_template (self, prop_id - FIRST_TEMPLATE_PROP, g_value_get_string (value));
  else if (prop_id == PROP_PRESET)
    set_preset (self, g_value_get_string (value) ?: "auto");
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
tincan_protocol_json_class_init (TincanProtocolJsonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  static const char * const pointer_names[N_POINTERS] = {
    "text-pointer", "sender-pointer", "id-pointer", "room-pointer", "ts-pointer", "ack-pointer",
  };
  static const char * const template_names[N_TEMPLATES] = {
    "send-template", "join-template", "leave-template", "hello-template",
  };

  object_class->finalize = tincan_protocol_json_finalize;
  object_class->get_property = tincan_protocol_json_get_property;
  object_class->set_property = tincan_protocol_json_set_property;

  for (guint i = 0; i < N_POINTERS; i++)
    properties[FIRST_POINTER_PROP + i] =
      g_param_spec_string (pointer_names[i], NULL, NULL, NULL,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  for (guint i = 0; i < N_TEMPLATES; i++)
    properties[FIRST_TEMPLATE_PROP + i] =
      g_param_spec_string (template_names[i], NULL, NULL, NULL,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PRESET] =
    g_param_spec_string ("preset", NULL, NULL, "auto",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_protocol_json_init (TincanProtocolJson *self)
{
  set_preset (self, "auto");
}

TincanProtocol *
tincan_protocol_json_new (void)
{
  return g_object_new (TINCAN_TYPE_PROTOCOL_JSON, NULL);
}
