/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "tincan-protocols-private.h"

/* socketio: Engine.IO v4 / Socket.IO v5 over the WebSocket transport.
 *
 * Engine.IO packets are one digit then data: 0 open, 1 close, 2 ping,
 * 3 pong, 4 message, 5 upgrade, 6 noop. A message carries a Socket.IO
 * packet: <type>[<attachments>-][<namespace>,][<ack id>][JSON], types
 * 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT,
 * 6 BINARY_ACK; binary attachments follow as binary frames and replace
 * {"_placeholder":true,"num":N} in the JSON. */

#define MAX_ATTACHMENTS 64

enum
{
  SIO_CONNECT,
  SIO_DISCONNECT,
  SIO_EVENT,
  SIO_ACK,
  SIO_CONNECT_ERROR,
  SIO_BINARY_EVENT,
  SIO_BINARY_ACK,
};

typedef struct
{
  int       type;
  char     *nsp;
  gint64    ack_id;     /* -1 if none */
  JsonNode *data;       /* may be NULL */
  GBytes   *raw;        /* the text frame, for unmapped */
  guint     needed;     /* attachments still to come */
  GPtrArray *buffers;   /* GBytes */
} Packet;

struct _TincanProtocolSocketio
{
  GObject parent_instance;

  char       *namespace;
  char       *send_event;
  char       *receive_event;

  char       *user;
  char       *token;

  gboolean    opened;
  gboolean    connect_sent;
  gint64      ping_interval;
  gint64      ping_timeout;
  guint       next_ack_id;   /* never reset: a late ack of an old socket matches nothing */
  GHashTable *acks;          /* ack id → cid */
  Packet     *partial;       /* a binary packet waiting for its attachments */
};

enum {
  PROP_0,
  PROP_NAMESPACE,
  PROP_SEND_EVENT,
  PROP_RECEIVE_EVENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void tincan_protocol_socketio_iface_init (TincanProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanProtocolSocketio, tincan_protocol_socketio, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TINCAN_TYPE_PROTOCOL,
                                                      tincan_protocol_socketio_iface_init))

static void
packet_free (Packet *packet)
{
  g_free (packet->nsp);
  g_clear_pointer (&packet->data, json_node_unref);
  g_clear_pointer (&packet->raw, g_bytes_unref);
  g_clear_pointer (&packet->buffers, g_ptr_array_unref);
  g_free (packet);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Packet, packet_free)

static const char *
tincan_protocol_socketio_get_name (TincanProtocol *protocol)
{
  return "socketio";
}

static TincanProtocolFlags
tincan_protocol_socketio_get_flags (TincanProtocol *protocol)
{
  return TINCAN_PROTOCOL_FLAG_ACKS | TINCAN_PROTOCOL_FLAG_WELCOME;
}

static const char *
get_namespace (TincanProtocolSocketio *self)
{
  return self->namespace != NULL && *self->namespace != '\0' ? self->namespace : "/";
}

/* "42" + "/chat," for a namespace other than "/". */
static GString *
begin_packet (TincanProtocolSocketio *self,
              int                     type)
{
  GString *out = g_string_new (NULL);
  const char *nsp = get_namespace (self);

  g_string_append_printf (out, "4%d", type);
  if (!g_str_equal (nsp, "/"))
    g_string_append_printf (out, "%s,", nsp);

  return out;
}

static char *
build_connect (TincanProtocolSocketio *self)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) auth = NULL;
  g_autofree char *json = NULL;
  GString *out = begin_packet (self, SIO_CONNECT);

  json_builder_begin_object (builder);
  if (self->token != NULL)
    {
      json_builder_set_member_name (builder, "token");
      json_builder_add_string_value (builder, self->token);
    }
  if (self->user != NULL)
    {
      json_builder_set_member_name (builder, "user");
      json_builder_add_string_value (builder, self->user);
    }
  json_builder_end_object (builder);
  auth = json_builder_get_root (builder);
  json = _tincan_json_to_string (auth);
  g_string_append (out, json);

  self->connect_sent = TRUE;

  return g_string_free (out, FALSE);
}

static GBytes *
tincan_protocol_socketio_encode (TincanProtocol     *protocol,
                                 const TincanFrame  *frame,
                                 gboolean           *binary,
                                 GError            **error)
{
  TincanProtocolSocketio *self = TINCAN_PROTOCOL_SOCKETIO (protocol);

  *binary = FALSE;

  switch (frame->type)
    {
    case TINCAN_FRAME_HELLO:
      _tincan_set_str (&self->user, frame->user);
      _tincan_set_str (&self->token, frame->token);
      /* Normally the open packet comes after the hello and answers it. */
      if (self->opened && !self->connect_sent)
        {
          char *connect = build_connect (self);

          return g_bytes_new_take (connect, strlen (connect));
        }
      return NULL;

    case TINCAN_FRAME_SEND:
      {
        g_autoptr (JsonBuilder) builder = json_builder_new ();
        g_autoptr (JsonNode) args = NULL;
        g_autofree char *json = NULL;
        GString *out;
        guint ack_id;
        const char *user = frame->user != NULL ? frame->user : self->user;

        if (frame->text == NULL)
          {
            g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                                 _("a message to send has no text"));
            return NULL;
          }

        json_builder_begin_array (builder);
        json_builder_add_string_value (builder, self->send_event);
        json_builder_begin_object (builder);
        json_builder_set_member_name (builder, "text");
        json_builder_add_string_value (builder, frame->text);
        if (frame->room != NULL)
          {
            json_builder_set_member_name (builder, "room");
            json_builder_add_string_value (builder, frame->room);
          }
        if (frame->cid != NULL)
          {
            json_builder_set_member_name (builder, "cid");
            json_builder_add_string_value (builder, frame->cid);
          }
        if (user != NULL)
          {
            json_builder_set_member_name (builder, "user");
            json_builder_add_string_value (builder, user);
          }
        json_builder_end_object (builder);
        json_builder_end_array (builder);
        args = json_builder_get_root (builder);
        json = _tincan_json_to_string (args);

        ack_id = self->next_ack_id++;
        if (frame->cid != NULL)
          g_hash_table_insert (self->acks, GUINT_TO_POINTER (ack_id), g_strdup (frame->cid));

        out = begin_packet (self, SIO_EVENT);
        g_string_append_printf (out, "%u%s", ack_id, json);

        return g_string_free_to_bytes (out);
      }

    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
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
}

static void
add_error (GPtrArray  *frames,
           const char *code,
           const char *message)
{
  TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_ERROR);

  frame->code = g_strdup (code);
  frame->message = g_strdup (message);
  g_ptr_array_add (frames, frame);
}

static gboolean
decode_open (TincanProtocolSocketio  *self,
             const char              *data,
             gsize                    length,
             GPtrArray               *frames,
             GError                 **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  JsonNode *interval;
  JsonNode *timeout;
  g_autofree char *connect = NULL;

  root = _tincan_dialect_parse (data, length, error);
  if (root == NULL)
    return FALSE;

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_NOT_OBJECT,
                           _("the Engine.IO open packet is not an object"));
      return FALSE;
    }

  object = json_node_get_object (root);
  interval = json_object_get_member (object, "pingInterval");
  timeout = json_object_get_member (object, "pingTimeout");
  if (interval == NULL || timeout == NULL)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                           _("the Engine.IO open packet has no pingInterval or pingTimeout"));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (interval) || json_node_get_value_type (interval) != G_TYPE_INT64 ||
      !JSON_NODE_HOLDS_VALUE (timeout) || json_node_get_value_type (timeout) != G_TYPE_INT64)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                           _("pingInterval and pingTimeout must be integers"));
      return FALSE;
    }
  if (json_node_get_int (interval) < 0 || json_node_get_int (interval) > G_MAXINT32 ||
      json_node_get_int (timeout) < 0 || json_node_get_int (timeout) > G_MAXINT32)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                           _("pingInterval or pingTimeout is out of range"));
      return FALSE;
    }

  self->ping_interval = json_node_get_int (interval);
  self->ping_timeout = json_node_get_int (timeout);
  self->opened = TRUE;

  connect = build_connect (self);
  _tincan_frames_add_reply (frames, connect);

  return TRUE;
}

/* Parses "<type>[<n>-][<nsp>,][<id>][JSON]" after the Engine.IO "4". */
static Packet *
parse_packet (const char  *data,
              gsize        length,
              GError     **error)
{
  g_autoptr (Packet) packet = g_new0 (Packet, 1);
  gsize i = 1;

  packet->ack_id = -1;

  if (length == 0 || data[0] < '0' || data[0] > '6')
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR,
                   length == 0 ? TINCAN_PROTOCOL_ERROR_MISSING_FIELD : TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE,
                   length == 0 ? _("the Socket.IO packet is empty")
                               : _("unknown Socket.IO packet type"));
      return NULL;
    }
  packet->type = data[0] - '0';

  if (packet->type == SIO_BINARY_EVENT || packet->type == SIO_BINARY_ACK)
    {
      guint64 n = 0;
      gsize start = i;

      while (i < length && g_ascii_isdigit (data[i]))
        i++;
      if (i == start || i >= length || data[i] != '-' || i - start > 6)
        {
          g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                               _("a binary Socket.IO packet has no attachment count"));
          return NULL;
        }
      {
        g_autofree char *digits = g_strndup (data + start, i - start);

        g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT32, &n, NULL);
      }
      if (n > MAX_ATTACHMENTS)
        {
          g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE,
                       _("a Socket.IO packet announces %u attachments (limit %d)"),
                       (guint) n, MAX_ATTACHMENTS);
          return NULL;
        }
      packet->needed = (guint) n;
      i++;
    }

  if (i < length && data[i] == '/')
    {
      gsize start = i;

      while (i < length && data[i] != ',')
        i++;
      packet->nsp = g_strndup (data + start, i - start);
      if (i < length)
        i++;
    }
  else
    packet->nsp = g_strdup ("/");

  if (i < length && g_ascii_isdigit (data[i]))
    {
      g_autofree char *digits = NULL;
      guint64 id = 0;
      gsize start = i;

      while (i < length && g_ascii_isdigit (data[i]))
        i++;
      digits = g_strndup (data + start, i - start);
      if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT32, &id, NULL))
        {
          g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                               _("a Socket.IO ack id is out of range"));
          return NULL;
        }
      packet->ack_id = (gint64) id;
    }

  if (i < length)
    {
      packet->data = _tincan_dialect_parse (data + i, length - i, error);
      if (packet->data == NULL)
        return NULL;
    }

  return g_steal_pointer (&packet);
}

static char *
describe_attachment (GBytes *bytes)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, _("[binary, %lu bytes:"), (gulong) size);
  for (gsize i = 0; i < MIN (size, 16); i++)
    g_string_append_printf (out, " %02x", data[i]);
  if (size > 16)
    g_string_append (out, " …");
  g_string_append_c (out, ']');

  return g_string_free (out, FALSE);
}

/* Replaces each placeholder by a description of its attachment. */
static JsonNode *
fill_placeholders (JsonNode  *node,
                   GPtrArray *buffers)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *in = json_node_get_object (node);
      g_autoptr (JsonObject) out = NULL;
      g_autoptr (GList) members = NULL;

      JsonNode *flag = json_object_get_member (in, "_placeholder");
      JsonNode *num_node = json_object_get_member (in, "num");

      if (flag != NULL && JSON_NODE_HOLDS_VALUE (flag) &&
          json_node_get_value_type (flag) == G_TYPE_BOOLEAN && json_node_get_boolean (flag) &&
          num_node != NULL && JSON_NODE_HOLDS_VALUE (num_node))
        {
          gint64 num = json_node_get_value_type (num_node) == G_TYPE_INT64 ? json_node_get_int (num_node) : -1;
          g_autofree char *text = NULL;

          if (num >= 0 && num < buffers->len)
            text = describe_attachment (g_ptr_array_index (buffers, num));
          else
            text = g_strdup (_("[missing binary attachment]"));

          return json_node_init_string (json_node_alloc (), text);
        }

      out = json_object_new ();
      members = json_object_get_members (in);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (out, l->data,
                                fill_placeholders (json_object_get_member (in, l->data), buffers));
      return json_node_init_object (json_node_alloc (), out);
    }

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *in = json_node_get_array (node);
      g_autoptr (JsonArray) out = json_array_new ();

      for (guint i = 0; i < json_array_get_length (in); i++)
        json_array_add_element (out, fill_placeholders (json_array_get_element (in, i), buffers));
      return json_node_init_array (json_node_alloc (), out);
    }

  return json_node_copy (node);
}

static void
reply_ack (TincanProtocolSocketio *self,
           gint64                  ack_id,
           GPtrArray              *frames)
{
  GString *out = begin_packet (self, SIO_ACK);
  g_autofree char *text = NULL;

  g_string_append_printf (out, "%" G_GINT64_FORMAT "[]", ack_id);
  text = g_string_free (out, FALSE);
  _tincan_frames_add_reply (frames, text);
}

static gboolean
handle_packet (TincanProtocolSocketio  *self,
               Packet                  *packet,
               GPtrArray               *frames,
               GError                 **error)
{
  JsonNode *data = packet->data;

  if (!g_str_equal (packet->nsp, get_namespace (self)))
    {
      _tincan_frames_add_unmapped (frames, packet->raw, FALSE);
      return TRUE;
    }

  if (packet->buffers != NULL && data != NULL)
    {
      JsonNode *filled = fill_placeholders (data, packet->buffers);

      json_node_unref (packet->data);
      packet->data = data = filled;
    }

  switch (packet->type)
    {
    case SIO_CONNECT:
      {
        TincanFrame *welcome = tincan_frame_new (TINCAN_FRAME_WELCOME);
        double seconds = (double) (self->ping_interval + self->ping_timeout) / 1000.0;

        if (data != NULL && JSON_NODE_HOLDS_OBJECT (data))
          welcome->session = _tincan_json_node_dup_text (
            json_object_get_member (json_node_get_object (data), "sid"));
        welcome->user = g_strdup (self->user);
        welcome->heartbeat = (int) ceil (seconds);
        g_ptr_array_add (frames, welcome);
        return TRUE;
      }

    case SIO_DISCONNECT:
      add_error (frames, "server_disconnect", _("The server ended the Socket.IO session"));
      return TRUE;

    case SIO_CONNECT_ERROR:
      {
        g_autofree char *message = NULL;

        if (data != NULL && JSON_NODE_HOLDS_OBJECT (data))
          message = _tincan_json_node_dup_text (
            json_object_get_member (json_node_get_object (data), "message"));
        else if (data != NULL)
          message = _tincan_json_node_dup_text (data);
        add_error (frames, "connect_error",
                   message != NULL ? message : _("The server refused the connection"));
        return TRUE;
      }

    case SIO_EVENT:
    case SIO_BINARY_EVENT:
      {
        JsonArray *args;
        JsonNode *name;
        JsonNode *first;
        g_autoptr (TincanFrame) message = NULL;

        if (data == NULL || !JSON_NODE_HOLDS_ARRAY (data) ||
            json_array_get_length (json_node_get_array (data)) == 0)
          {
            g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                                 _("a Socket.IO event is not a non-empty array"));
            return FALSE;
          }

        args = json_node_get_array (data);
        name = json_array_get_element (args, 0);
        if (!JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING)
          {
            g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                                 _("a Socket.IO event name is not a string"));
            return FALSE;
          }

        /* The server asked for an ack: give it, whatever the event. */
        if (packet->ack_id >= 0)
          reply_ack (self, packet->ack_id, frames);

        message = tincan_frame_new (TINCAN_FRAME_MESSAGE);
        first = json_array_get_length (args) > 1 ? json_array_get_element (args, 1) : NULL;
        if (g_strcmp0 (json_node_get_string (name), self->receive_event) == 0 && first != NULL &&
            (_tincan_frame_fill_from_object (message, first) ||
             (message->text = _tincan_json_node_dup_text (first)) != NULL))
          g_ptr_array_add (frames, g_steal_pointer (&message));
        else
          _tincan_frames_add_unmapped (frames, packet->raw, FALSE);
        return TRUE;
      }

    case SIO_ACK:
    case SIO_BINARY_ACK:
      {
        const char *cid = NULL;
        TincanFrame *ack;

        if (packet->ack_id >= 0)
          cid = g_hash_table_lookup (self->acks, GUINT_TO_POINTER ((guint) packet->ack_id));
        if (cid == NULL)
          {
            _tincan_frames_add_unmapped (frames, packet->raw, FALSE);
            return TRUE;
          }
        if (data != NULL && !JSON_NODE_HOLDS_ARRAY (data))
          {
            g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                                 _("a Socket.IO ack is not an array"));
            return FALSE;
          }

        ack = tincan_frame_new (TINCAN_FRAME_ACK);
        ack->cid = g_strdup (cid);
        if (data != NULL && json_array_get_length (json_node_get_array (data)) > 0)
          {
            JsonNode *first = json_array_get_element (json_node_get_array (data), 0);
            static const char * const id_names[] = { "id", "_id", NULL };
            static const char * const ts_names[] = { "ts", "timestamp", NULL };

            ack->id = _tincan_json_node_dup_text (_tincan_json_object_find (first, id_names));
            ack->ts = _tincan_json_node_get_ts (_tincan_json_object_find (first, ts_names));
          }
        g_hash_table_remove (self->acks, GUINT_TO_POINTER ((guint) packet->ack_id));
        g_ptr_array_add (frames, ack);
        return TRUE;
      }

    default:
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE,
                           _("unknown Socket.IO packet type"));
      return FALSE;
    }
}

static gboolean
tincan_protocol_socketio_decode (TincanProtocol  *protocol,
                                 gboolean         binary,
                                 GBytes          *payload,
                                 GPtrArray       *frames,
                                 GError         **error)
{
  TincanProtocolSocketio *self = TINCAN_PROTOCOL_SOCKETIO (protocol);
  g_autoptr (Packet) packet = NULL;
  const char *data;
  gsize length = 0;

  if (binary)
    {
      _tincan_frames_add_unmapped (frames, payload, TRUE);
      if (self->partial == NULL)
        return TRUE;

      g_ptr_array_add (self->partial->buffers, g_bytes_ref (payload));
      if (--self->partial->needed > 0)
        return TRUE;

      packet = g_steal_pointer (&self->partial);
      return handle_packet (self, packet, frames, error);
    }

  data = g_bytes_get_data (payload, &length);
  if (!_tincan_dialect_check_text (data, length, error))
    return FALSE;

  if (length == 0)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                           _("empty Engine.IO packet"));
      return FALSE;
    }

  /* A text packet while attachments were due: the sender gave up on them. */
  if (self->partial != NULL)
    {
      _tincan_frames_add_unmapped (frames, self->partial->raw, FALSE);
      g_clear_pointer (&self->partial, packet_free);
    }

  switch (data[0])
    {
    case '0':
      return decode_open (self, data + 1, length - 1, frames, error);

    case '2':
      {
        /* The ping may carry a probe payload, echoed back. */
        g_autofree char *pong = g_strndup (data, length);

        pong[0] = '3';
        _tincan_frames_add_reply (frames, pong);
        return TRUE;
      }

    case '3':
    case '6':
      return TRUE;

    case '1':
    case '5':
    case 'b':
      _tincan_frames_add_unmapped (frames, payload, FALSE);
      return TRUE;

    case '4':
      packet = parse_packet (data + 1, length - 1, error);
      if (packet == NULL)
        return FALSE;
      packet->raw = g_bytes_ref (payload);
      if (packet->needed > 0)
        {
          packet->buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
          self->partial = g_steal_pointer (&packet);
          return TRUE;
        }
      return handle_packet (self, packet, frames, error);

    default:
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE,
                   _("unknown Engine.IO packet type “%c”"),
                   g_ascii_isprint (data[0]) ? data[0] : '?');
      return FALSE;
    }
}

static void
tincan_protocol_socketio_reset (TincanProtocol *protocol)
{
  TincanProtocolSocketio *self = TINCAN_PROTOCOL_SOCKETIO (protocol);

  self->opened = FALSE;
  self->connect_sent = FALSE;
  self->ping_interval = 0;
  self->ping_timeout = 0;
  g_hash_table_remove_all (self->acks);
  g_clear_pointer (&self->partial, packet_free);
}

static void
tincan_protocol_socketio_iface_init (TincanProtocolInterface *iface)
{
  iface->get_name = tincan_protocol_socketio_get_name;
  iface->get_flags = tincan_protocol_socketio_get_flags;
  iface->encode = tincan_protocol_socketio_encode;
  iface->decode = tincan_protocol_socketio_decode;
  iface->reset = tincan_protocol_socketio_reset;
}

static void
tincan_protocol_socketio_finalize (GObject *object)
{
  TincanProtocolSocketio *self = TINCAN_PROTOCOL_SOCKETIO (object);

  g_free (self->namespace);
  g_free (self->send_event);
  g_free (self->receive_event);
  g_free (self->user);
  g_free (self->token);
  g_clear_pointer (&self->acks, g_hash_table_unref);
  g_clear_pointer (&self->partial, packet_free);

  G_OBJECT_CLASS (tincan_protocol_socketio_parent_class)->finalize (object);
}

static void
tincan_protocol_socketio_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  TincanProtocolSocketio *self = TINCAN_PROTOCOL_SOCKETIO (object);

  switch (prop_id)
    {
    case PROP_NAMESPACE:
      g_value_set_string (value, self->namespace);
      break;
    case PROP_SEND_EVENT:
      g_value_set_string (value, self->send_event);
      break;
    case PROP_RECEIVE_EVENT:
      g_value_set_string (value, self->receive_event);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_string_prop (TincanProtocolSocketio *self,
                 char                  **field,
                 const char             *value,
                 const char             *fallback,
                 guint                   prop_id)
{
  if (value == NULL || *value == '\0')
    value = fallback;

  if (_tincan_set_str (field, value))
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
tincan_protocol_socketio_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  TincanProtocolSocketio *self = TINCAN_PROTOCOL_SOCKETIO (object);

  switch (prop_id)
    {
    case PROP_NAMESPACE:
      {
        const char *nsp = g_value_get_string (value);
        g_autofree char *slashed = NULL;

        /* "chat" means "/chat", as in the JavaScript client. */
        if (nsp != NULL && *nsp != '\0' && *nsp != '/')
          nsp = slashed = g_strconcat ("/", nsp, NULL);
        set_string_prop (self, &self->namespace, nsp, "/", prop_id);
      }
      break;
    case PROP_SEND_EVENT:
      set_string_prop (self, &self->send_event, g_value_get_string (value), "message", prop_id);
      break;
    case PROP_RECEIVE_EVENT:
      set_string_prop (self, &self->receive_event, g_value_get_string (value), "message", prop_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_protocol_socketio_class_init (TincanProtocolSocketioClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tincan_protocol_socketio_finalize;
  object_class->get_property = tincan_protocol_socketio_get_property;
  object_class->set_property = tincan_protocol_socketio_set_property;

  properties[PROP_NAMESPACE] =
    g_param_spec_string ("namespace", NULL, NULL, "/",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SEND_EVENT] =
    g_param_spec_string ("send-event", NULL, NULL, "message",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RECEIVE_EVENT] =
    g_param_spec_string ("receive-event", NULL, NULL, "message",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_protocol_socketio_init (TincanProtocolSocketio *self)
{
  self->namespace = g_strdup ("/");
  self->send_event = g_strdup ("message");
  self->receive_event = g_strdup ("message");
  self->next_ack_id = 0;
  self->acks = g_hash_table_new_full (NULL, NULL, NULL, g_free);
}

TincanProtocol *
tincan_protocol_socketio_new (void)
{
  return g_object_new (TINCAN_TYPE_PROTOCOL_SOCKETIO, NULL);
}
