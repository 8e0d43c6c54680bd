/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "tincan-protocols-private.h"
#include "tincan-util.h"

/* jsonrpc: JSON-RPC 2.0 over WebSocket. A message is a request whose result
 * acks it; incoming notifications of notify-method are messages. */

#define DEFAULT_PARAMS "{\"room\":\"{{room}}\",\"text\":\"{{text}}\",\"cid\":\"{{cid}}\",\"user\":\"{{user}}\"}"
#define DEFAULT_TIMEOUT_MS 30000

typedef struct
{
  char   *cid;
  gint64  sent_ms;
} Pending;

struct _TincanProtocolJsonrpc
{
  GObject parent_instance;

  char       *send_method;
  char       *params_template;
  JsonNode   *params_node;
  char       *params_error;
  char       *notify_method;
  guint       request_timeout_ms;

  char       *user;
  char       *token;

  /* Request ids are "<prefix>-<n>": a random prefix per object and a
   * counter never reset, so no id repeats across reconnects (or runs). */
  char       *id_prefix;
  guint64     next_id;
  GHashTable *pending;   /* id → Pending */
};

enum {
  PROP_0,
  PROP_SEND_METHOD,
  PROP_PARAMS_TEMPLATE,
  PROP_NOTIFY_METHOD,
  PROP_REQUEST_TIMEOUT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void tincan_protocol_jsonrpc_iface_init (TincanProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanProtocolJsonrpc, tincan_protocol_jsonrpc, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TINCAN_TYPE_PROTOCOL,
                                                      tincan_protocol_jsonrpc_iface_init))

static void
pending_free (Pending *pending)
{
  g_free (pending->cid);
  g_free (pending);
}

static const char *
tincan_protocol_jsonrpc_get_name (TincanProtocol *protocol)
{
  return "jsonrpc";
}

static TincanProtocolFlags
tincan_protocol_jsonrpc_get_flags (TincanProtocol *protocol)
{
  return TINCAN_PROTOCOL_FLAG_ACKS;
}

static GBytes *
tincan_protocol_jsonrpc_encode (TincanProtocol     *protocol,
                                const TincanFrame  *frame,
                                gboolean           *binary,
                                GError            **error)
{
  TincanProtocolJsonrpc *self = TINCAN_PROTOCOL_JSONRPC (protocol);
  TincanTemplateValues values = { 0 };
  g_autoptr (JsonObject) request = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *id = NULL;

  *binary = FALSE;

  switch (frame->type)
    {
    case TINCAN_FRAME_HELLO:
      _tincan_set_str (&self->user, frame->user);
      _tincan_set_str (&self->token, frame->token);
      return NULL;

    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
    case TINCAN_FRAME_PING:
      return NULL;

    case TINCAN_FRAME_SEND:
      break;

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

  if (self->params_error != NULL)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED,
                   "%s", self->params_error);
      return NULL;
    }

  values.text = frame->text;
  values.user = frame->user != NULL ? frame->user : self->user;
  values.room = frame->room;
  values.cid = frame->cid;
  values.token = self->token;

  id = g_strdup_printf ("%s-%" G_GUINT64_FORMAT, self->id_prefix, ++self->next_id);

  request = json_object_new ();
  json_object_set_string_member (request, "jsonrpc", "2.0");
  json_object_set_string_member (request, "id", id);
  json_object_set_string_member (request, "method", self->send_method);
  if (self->params_node != NULL)
    json_object_set_member (request, "params", _tincan_template_fill (self->params_node, &values));

  if (frame->cid != NULL)
    {
      Pending *pending = g_new0 (Pending, 1);

      pending->cid = g_strdup (frame->cid);
      pending->sent_ms = tincan_now_ms ();
      g_hash_table_insert (self->pending, g_steal_pointer (&id), pending);
    }

  root = json_node_init_object (json_node_alloc (), request);

  return _tincan_json_to_bytes (root);
}

static char *
error_text (JsonNode  *error_node,
            char     **code)
{
  JsonNode *message;
  JsonNode *code_node;

  if (error_node == NULL || !JSON_NODE_HOLDS_OBJECT (error_node))
    {
      *code = g_strdup ("invalid_error");
      return g_strdup (_("The server answered with a malformed error"));
    }

  message = json_object_get_member (json_node_get_object (error_node), "message");
  code_node = json_object_get_member (json_node_get_object (error_node), "code");
  *code = _tincan_json_node_dup_text (code_node);
  if (*code == NULL)
    *code = g_strdup ("error");

  return _tincan_json_node_dup_text (message) ?: g_strdup (_("The server reported an error"));
}

static gboolean
decode_one (TincanProtocolJsonrpc  *self,
            JsonNode               *node,
            GBytes                 *payload,
            GPtrArray              *frames,
            GError                **error)
{
  JsonObject *object;
  JsonNode *version;
  JsonNode *method;
  JsonNode *id;
  JsonNode *result;
  JsonNode *err;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_NOT_OBJECT,
                           _("a JSON-RPC message is not an object"));
      return FALSE;
    }

  object = json_node_get_object (node);
  version = json_object_get_member (object, "jsonrpc");
  if (version == NULL)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                           _("a JSON-RPC message has no “jsonrpc” member"));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (version) || json_node_get_value_type (version) != G_TYPE_STRING ||
      !g_str_equal (json_node_get_string (version), "2.0"))
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                           _("“jsonrpc” is not \"2.0\""));
      return FALSE;
    }

  method = json_object_get_member (object, "method");
  id = json_object_get_member (object, "id");
  result = json_object_get_member (object, "result");
  err = json_object_get_member (object, "error");

  if (id != NULL && !JSON_NODE_HOLDS_NULL (id) &&
      (!JSON_NODE_HOLDS_VALUE (id) ||
       (json_node_get_value_type (id) != G_TYPE_STRING && json_node_get_value_type (id) != G_TYPE_INT64)))
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                           _("a JSON-RPC id is neither a string nor an integer"));
      return FALSE;
    }

  if (method != NULL)
    {
      g_autoptr (TincanFrame) message = NULL;
      JsonNode *params;

      if (!JSON_NODE_HOLDS_VALUE (method) || json_node_get_value_type (method) != G_TYPE_STRING)
        {
          g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                               _("a JSON-RPC method is not a string"));
          return FALSE;
        }

      params = json_object_get_member (object, "params");
      message = tincan_frame_new (TINCAN_FRAME_MESSAGE);
      if (g_strcmp0 (json_node_get_string (method), self->notify_method) == 0 && params != NULL)
        {
          if (JSON_NODE_HOLDS_ARRAY (params) && json_array_get_length (json_node_get_array (params)) > 0)
            params = json_array_get_element (json_node_get_array (params), 0);
          if (!_tincan_frame_fill_from_object (message, params))
            message->text = _tincan_json_node_dup_text (params);
        }

      /* A request (with an id) gets an answer, so the server is not left waiting. */
      if (id != NULL && !JSON_NODE_HOLDS_NULL (id))
        {
          g_autoptr (JsonObject) reply = json_object_new ();
          g_autoptr (JsonNode) root = NULL;
          g_autofree char *text = NULL;

          json_object_set_string_member (reply, "jsonrpc", "2.0");
          json_object_set_member (reply, "id", json_node_copy (id));
          if (message->text != NULL)
            json_object_set_null_member (reply, "result");
          else
            {
              JsonObject *e = json_object_new ();

              json_object_set_int_member (e, "code", -32601);
              json_object_set_string_member (e, "message", "Method not found");
              json_object_set_object_member (reply, "error", e);
            }
          root = json_node_init_object (json_node_alloc (), reply);
          text = _tincan_json_to_string (root);
          _tincan_frames_add_reply (frames, text);
        }

      if (message->text != NULL)
        g_ptr_array_add (frames, g_steal_pointer (&message));
      else
        _tincan_frames_add_unmapped (frames, payload, FALSE);
      return TRUE;
    }

  if (result != NULL || err != NULL)
    {
      g_autofree char *key = _tincan_json_node_dup_text (id);
      Pending *pending = key != NULL ? g_hash_table_lookup (self->pending, key) : NULL;

      if (pending == NULL && err != NULL)
        {
          TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_ERROR);

          frame->message = error_text (err, &frame->code);
          g_ptr_array_add (frames, frame);
          return TRUE;
        }
      if (pending == NULL)
        {
          _tincan_frames_add_unmapped (frames, payload, FALSE);
          return TRUE;
        }

      if (err != NULL)
        {
          TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_ERROR);

          frame->cid = g_strdup (pending->cid);
          frame->message = error_text (err, &frame->code);
          g_ptr_array_add (frames, frame);
        }
      else
        {
          TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_ACK);
          static const char * const id_names[] = { "id", "_id", NULL };
          static const char * const ts_names[] = { "ts", "timestamp", NULL };

          frame->cid = g_strdup (pending->cid);
          frame->id = _tincan_json_node_dup_text (_tincan_json_object_find (result, id_names));
          frame->ts = _tincan_json_node_get_ts (_tincan_json_object_find (result, ts_names));
          g_ptr_array_add (frames, frame);
        }

      g_hash_table_remove (self->pending, key);
      return TRUE;
    }

  g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                       _("a JSON-RPC message has neither “method” nor “result” nor “error”"));
  return FALSE;
}

static gboolean
tincan_protocol_jsonrpc_decode (TincanProtocol  *protocol,
                                gboolean         binary,
                                GBytes          *payload,
                                GPtrArray       *frames,
                                GError         **error)
{
  TincanProtocolJsonrpc *self = TINCAN_PROTOCOL_JSONRPC (protocol);
  g_autoptr (JsonNode) root = NULL;
  const char *data;
  gsize length = 0;

  if (binary)
    {
      _tincan_frames_add_unmapped (frames, payload, TRUE);
      return TRUE;
    }

  data = g_bytes_get_data (payload, &length);
  root = _tincan_dialect_parse (data, length, error);
  if (root == NULL)
    return FALSE;

  if (JSON_NODE_HOLDS_ARRAY (root))
    {
      JsonArray *batch = json_node_get_array (root);

      if (json_array_get_length (batch) == 0)
        {
          g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                               _("an empty JSON-RPC batch"));
          return FALSE;
        }

      for (guint i = 0; i < json_array_get_length (batch); i++)
        if (!decode_one (self, json_array_get_element (batch, i), payload, frames, error))
          return FALSE;

      return TRUE;
    }

  return decode_one (self, root, payload, frames, error);
}

static void
tincan_protocol_jsonrpc_reset (TincanProtocol *protocol)
{
  TincanProtocolJsonrpc *self = TINCAN_PROTOCOL_JSONRPC (protocol);

  /* Answers to requests of a closed socket never come; the connection
   * re-sends those messages (same cid, new request id). */
  g_hash_table_remove_all (self->pending);
}

guint
tincan_protocol_jsonrpc_expire (TincanProtocolJsonrpc *self,
                                gint64                 now_ms,
                                GPtrArray             *frames)
{
  GHashTableIter iter;
  gpointer value;
  guint expired = 0;

  g_return_val_if_fail (TINCAN_IS_PROTOCOL_JSONRPC (self), 0);
  g_return_val_if_fail (frames != NULL, 0);

  if (self->request_timeout_ms == 0)
    return 0;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Pending *pending = value;
      TincanFrame *frame;

      if (now_ms - pending->sent_ms < (gint64) self->request_timeout_ms)
        continue;

      frame = tincan_frame_new (TINCAN_FRAME_ERROR);
      frame->cid = g_strdup (pending->cid);
      frame->code = g_strdup ("timeout");
      frame->message = g_strdup_printf (_("No answer from the server within %u ms"),
                                        self->request_timeout_ms);
      g_ptr_array_add (frames, frame);
      g_hash_table_iter_remove (&iter);
      expired++;
    }

  return expired;
}

static void
tincan_protocol_jsonrpc_iface_init (TincanProtocolInterface *iface)
{
  iface->get_name = tincan_protocol_jsonrpc_get_name;
  iface->get_flags = tincan_protocol_jsonrpc_get_flags;
  iface->encode = tincan_protocol_jsonrpc_encode;
  iface->decode = tincan_protocol_jsonrpc_decode;
  iface->reset = tincan_protocol_jsonrpc_reset;
}

static void
set_params_template (TincanProtocolJsonrpc *self,
                     const char            *value)
{
  g_autoptr (GError) error = NULL;

  if (value != NULL && *value == '\0')
    value = NULL;
  if (!_tincan_set_str (&self->params_template, value))
    return;

  g_clear_pointer (&self->params_node, json_node_unref);
  g_clear_pointer (&self->params_error, g_free);
  self->params_node = _tincan_template_parse (value, &error);
  if (error != NULL)
    self->params_error = g_strdup (error->message);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PARAMS_TEMPLATE]);
}

static void
tincan_protocol_jsonrpc_finalize (GObject *object)
{
  TincanProtocolJsonrpc *self = TINCAN_PROTOCOL_JSONRPC (object);

  g_free (self->send_method);
  g_free (self->params_template);
  g_clear_pointer (&self->params_node, json_node_unref);
  g_free (self->params_error);
  g_free (self->notify_method);
  g_free (self->user);
  g_free (self->token);
  g_free (self->id_prefix);
  g_clear_pointer (&self->pending, g_hash_table_unref);

  G_OBJECT_CLASS (tincan_protocol_jsonrpc_parent_class)->finalize (object);
}

static void
tincan_protocol_jsonrpc_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  TincanProtocolJsonrpc *self = TINCAN_PROTOCOL_JSONRPC (object);

  switch (prop_id)
    {
    case PROP_SEND_METHOD:
      g_value_set_string (value, self->send_method);
      break;
    case PROP_PARAMS_TEMPLATE:
      g_value_set_string (value, self->params_template);
      break;
    case PROP_NOTIFY_METHOD:
      g_value_set_string (value, self->notify_method);
      break;
    case PROP_REQUEST_TIMEOUT_MS:
      g_value_set_uint (value, self->request_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_protocol_jsonrpc_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  TincanProtocolJsonrpc *self = TINCAN_PROTOCOL_JSONRPC (object);
  const char *s;

  switch (prop_id)
    {
    case PROP_SEND_METHOD:
      s = g_value_get_string (value);
      if (_tincan_set_str (&self->send_method, s != NULL && *s != '\0' ? s : "send"))
        g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_PARAMS_TEMPLATE:
      set_params_template (self, g_value_get_string (value));
      break;
    case PROP_NOTIFY_METHOD:
      s = g_value_get_string (value);
      if (_tincan_set_str (&self->notify_method, s != NULL && *s != '\0' ? s : "message"))
        g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_REQUEST_TIMEOUT_MS:
      if (self->request_timeout_ms != g_value_get_uint (value))
        {
          self->request_timeout_ms = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_protocol_jsonrpc_class_init (TincanProtocolJsonrpcClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tincan_protocol_jsonrpc_finalize;
  object_class->get_property = tincan_protocol_jsonrpc_get_property;
  object_class->set_property = tincan_protocol_jsonrpc_set_property;

  properties[PROP_SEND_METHOD] =
    g_param_spec_string ("send-method", NULL, NULL, "send",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PARAMS_TEMPLATE] =
    g_param_spec_string ("params-template", NULL, NULL, DEFAULT_PARAMS,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_NOTIFY_METHOD] =
    g_param_spec_string ("notify-method", NULL, NULL, "message",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* 0 = never time out */
  properties[PROP_REQUEST_TIMEOUT_MS] =
    g_param_spec_uint ("request-timeout-ms", NULL, NULL, 0, G_MAXINT, DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_protocol_jsonrpc_init (TincanProtocolJsonrpc *self)
{
  g_autofree char *uuid = tincan_uuid_new ();

  self->send_method = g_strdup ("send");
  self->notify_method = g_strdup ("message");
  self->request_timeout_ms = DEFAULT_TIMEOUT_MS;
  self->id_prefix = g_strndup (uuid, 8);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) pending_free);
  set_params_template (self, DEFAULT_PARAMS);
}

TincanProtocol *
tincan_protocol_jsonrpc_new (void)
{
  return g_object_new (TINCAN_TYPE_PROTOCOL_JSONRPC, NULL);
}
