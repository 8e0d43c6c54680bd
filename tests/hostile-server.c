/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-hostile-server"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "hostile-server.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_CLIENT_FRAME (4 * 1024 * 1024)
#define ROOM "lobby"

const char * const hostile_markup[HOSTILE_N_MARKUP][2] = {
  { "<b>mallory</b>", "<span foreground=\"red\">red</span> &amp; <a href=\"https://evil.example\">click</a> &lt;" },
  { "\u202Eevil\u202C", "abc\u202Edef\u202Cghi \u2067isolate\u2069 \u200F" },
  { "zero\u200Bwidth\u200D", "in\u200Bvis\u200Cible\u200D\uFEFF text \u2060 joined" },
  { "&lt;amp&gt;", "<markup attr='x'>unclosed & <i>italic" },
};

typedef struct
{
  gint64  seq;
  char   *id;
  char   *cid;
  char   *user;
  char   *text;
} Msg;

struct _HostileServer
{
  GSocketListener *listener;
  GCancellable    *cancellable;
  guint16          port;
  GThread         *accept_thread;

  GMutex           lock;
  GPtrArray       *threads;       /* GThread, one per connection */
  GPtrArray       *sockets;       /* GSocketConnection, to shut down */
  HostileAttack    armed;
  guint            attacks_done;
  guint            connections;
  gint64           last_seq;
  guint            next_id;
  GPtrArray       *messages;      /* Msg, seq order */
  GHashTable      *by_cid;        /* cid → Msg */
};

typedef struct
{
  HostileServer     *server;
  GSocketConnection *connection;
  GDataInputStream  *input;
  GOutputStream     *output;
  char              *user;
} Conn;

static void
msg_free (Msg *msg)
{
  g_free (msg->id);
  g_free (msg->cid);
  g_free (msg->user);
  g_free (msg->text);
  g_free (msg);
}

const char *
hostile_attack_name (HostileAttack attack)
{
  switch (attack)
    {
    case HOSTILE_ATTACK_NONE: return "none";
    case HOSTILE_ATTACK_MALFORMED: return "malformed";
    case HOSTILE_ATTACK_HUGE_FRAME: return "huge-frame";
    case HOSTILE_ATTACK_BINARY: return "binary";
    case HOSTILE_ATTACK_INVALID_UTF8: return "invalid-utf8";
    case HOSTILE_ATTACK_PRESENCE_FLOOD: return "presence-flood";
    case HOSTILE_ATTACK_SEQ_BACKWARDS: return "seq-backwards";
    case HOSTILE_ATTACK_MARKUP: return "markup";
    case HOSTILE_ATTACK_LONG_LINE: return "long-line";
    case HOSTILE_ATTACK_CLOSE_999: return "close-999";
    case HOSTILE_ATTACK_CLOSE_5000: return "close-5000";
    case HOSTILE_ATTACK_CLOSE_1005: return "close-1005";
    default: return "unknown";
    }
}

/* Wire */

static gboolean
write_bytes (Conn         *conn,
             const void   *data,
             gsize         len)
{
  return g_output_stream_write_all (conn->output, data, len, NULL,
                                    conn->server->cancellable, NULL);
}

static void
frame_header (GByteArray *out,
              guint8      opcode,
              guint64     len)
{
  guint8 head[10];
  gsize n = 0;

  head[n++] = 0x80 | opcode;
  if (len < 126)
    head[n++] = (guint8) len;
  else if (len <= G_MAXUINT16)
    {
      head[n++] = 126;
      head[n++] = (len >> 8) & 0xff;
      head[n++] = len & 0xff;
    }
  else
    {
      head[n++] = 127;
      for (int shift = 56; shift >= 0; shift -= 8)
        head[n++] = (len >> shift) & 0xff;
    }
  g_byte_array_append (out, head, n);
}

/* Appends a whole frame to @out (server frames are not masked). */
static void
frame_append (GByteArray *out,
              guint8      opcode,
              const void *data,
              gsize       len)
{
  frame_header (out, opcode, len);
  if (len > 0)
    g_byte_array_append (out, data, len);
}

static gboolean
send_frame (Conn       *conn,
            guint8      opcode,
            const void *data,
            gsize       len)
{
  g_autoptr (GByteArray) out = g_byte_array_sized_new (len + 10);

  frame_append (out, opcode, data, len);
  return write_bytes (conn, out->data, out->len);
}

static gboolean
send_text (Conn       *conn,
           const char *text)
{
  return send_frame (conn, 0x1, text, strlen (text));
}

static char *
node_to_string (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static char *
message_json (gint64      seq,
              const char *id,
              const char *cid,
              const char *from,
              const char *text)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "message");
  json_builder_set_member_name (builder, "room");
  json_builder_add_string_value (builder, ROOM);
  json_builder_set_member_name (builder, "seq");
  json_builder_add_int_value (builder, seq);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, id);
  if (cid != NULL)
    {
      json_builder_set_member_name (builder, "cid");
      json_builder_add_string_value (builder, cid);
    }
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, from);
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, text);
  json_builder_set_member_name (builder, "ts");
  json_builder_add_string_value (builder, "2026-11-22T10:00:00.000Z");
  json_builder_end_object (builder);

  return node_to_string (builder);
}

static gint64
take_seq (HostileServer *self)
{
  gint64 seq;

  g_mutex_lock (&self->lock);
  seq = ++self->last_seq;
  g_mutex_unlock (&self->lock);
  return seq;
}

/* Attacks */

static gboolean
attack_malformed (Conn *conn)
{
  static const char * const frames[HOSTILE_N_MALFORMED] = {
    "{",
    "not json at all",
    "[1,2,3]",
    "null",
    "{\"type\":42}",
    "{\"type\":\"message\",\"room\":7,\"seq\":\"x\",\"id\":[],\"from\":{},\"text\":false}",
    "{\"type\":\"ack\",\"cid\":5,\"seq\":-1,\"id\":null}",
    "{\"type\":\"presence\",\"room\":null,\"user\":[],\"online\":\"yes\"}",
    "{\"type\":\"members\",\"room\":\"lobby\",\"users\":\"bob\"}",
    "{\"type\":\"message\",\"room\":\"lobby\",\"seq\":1e400,\"id\":\"big\",\"from\":\"x\",\"text\":\"t\"}",
    "{\"type\":\"resumed\",\"room\":\"lobby\",\"seq\":{\"a\":1},\"gap\":\"no\"}",
    "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    if (!send_text (conn, frames[i]))
      return FALSE;
  return TRUE;
}

static gboolean
attack_huge (Conn *conn)
{
  g_autoptr (GByteArray) head = g_byte_array_new ();
  g_autofree char *chunk = g_malloc (64 * 1024);
  guint64 left = HOSTILE_HUGE_BYTES;

  /* Streamed: the test measures the client's memory, not ours. */
  frame_header (head, 0x1, HOSTILE_HUGE_BYTES);
  if (!write_bytes (conn, head->data, head->len))
    return FALSE;
  memset (chunk, 'a', 64 * 1024);
  while (left > 0)
    {
      gsize n = MIN (left, 64 * 1024);

      if (!write_bytes (conn, chunk, n))
        return FALSE;   /* the client hung up, as it should */
      left -= n;
    }
  return TRUE;
}

static gboolean
attack_binary (Conn *conn)
{
  g_autofree char *json = message_json (take_seq (conn->server), "binary-1", NULL, "eve",
                                        "binary where text is expected");
  static const guint8 junk[] = { 0x00, 0xff, 0xfe, 0x7b, 0x22, 0x00, 0x80 };

  return send_frame (conn, 0x2, json, strlen (json)) &&
         send_frame (conn, 0x2, junk, sizeof junk);
}

static gboolean
attack_invalid_utf8 (Conn *conn)
{
  g_autofree char *head = g_strdup_printf ("{\"type\":\"message\",\"room\":\"lobby\",\"seq\":%"
                                           G_GINT64_FORMAT ",\"id\":\"bad-utf8\",\"from\":\"eve\",\"text\":\"",
                                           take_seq (conn->server));
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  static const guint8 bad[] = { 0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 'x' };

  g_byte_array_append (payload, (const guint8 *) head, strlen (head));
  g_byte_array_append (payload, bad, sizeof bad);
  g_byte_array_append (payload, (const guint8 *) "\"}", 2);
  return send_frame (conn, 0x1, payload->data, payload->len);
}

static gboolean
attack_presence_flood (Conn *conn)
{
  g_autoptr (GByteArray) out = g_byte_array_sized_new (1024 * 1024);

  for (guint i = 0; i < HOSTILE_FLOOD_COUNT; i++)
    {
      char json[128];
      int n = g_snprintf (json, sizeof json,
                          "{\"type\":\"presence\",\"room\":\"lobby\",\"user\":\"flood%u\",\"online\":%s}",
                          i % 500, (i / 500) % 2 == 0 ? "true" : "false");

      frame_append (out, 0x1, json, n);
      if (out->len > 512 * 1024 || i + 1 == HOSTILE_FLOOD_COUNT)
        {
          if (!write_bytes (conn, out->data, out->len))
            return FALSE;
          g_byte_array_set_size (out, 0);
        }
    }
  return TRUE;
}

static gboolean
attack_seq_backwards (Conn *conn)
{
  gint64 a = take_seq (conn->server);
  gint64 b = take_seq (conn->server);
  gint64 c = take_seq (conn->server);
  g_autofree char *mb = message_json (b, "back-b", NULL, "eve", "second, sent first");
  g_autofree char *ma = message_json (a, "back-a", NULL, "eve", "first, sent second");
  g_autofree char *mc = message_json (c, "back-b", NULL, "eve", "an old id with a new seq");

  return send_text (conn, mb) &&
         send_text (conn, ma) &&   /* seq goes backwards */
         send_text (conn, mb) &&   /* the same message again */
         send_text (conn, mc);     /* a duplicate id */
}

static gboolean
attack_markup (Conn *conn)
{
  for (guint i = 0; i < HOSTILE_N_MARKUP; i++)
    {
      g_autofree char *id = g_strdup_printf ("markup-%u", i);
      g_autofree char *json = message_json (take_seq (conn->server), id, NULL,
                                            hostile_markup[i][0], hostile_markup[i][1]);
      g_autofree char *presence = NULL;
      g_autoptr (JsonBuilder) builder = json_builder_new ();

      if (!send_text (conn, json))
        return FALSE;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "presence");
      json_builder_set_member_name (builder, "room");
      json_builder_add_string_value (builder, ROOM);
      json_builder_set_member_name (builder, "user");
      json_builder_add_string_value (builder, hostile_markup[i][0]);
      json_builder_set_member_name (builder, "online");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_end_object (builder);
      presence = node_to_string (builder);
      if (!send_text (conn, presence))
        return FALSE;
    }
  return TRUE;
}

static gboolean
attack_long_line (Conn *conn)
{
  g_autoptr (GString) text = g_string_sized_new (HOSTILE_LONG_LINE_BYTES);
  g_autofree char *json = NULL;

  while (text->len < HOSTILE_LONG_LINE_BYTES)
    g_string_append (text, "long-line-without-any-newline ");
  g_string_truncate (text, HOSTILE_LONG_LINE_BYTES);
  json = message_json (take_seq (conn->server), "long-line", NULL, "eve", text->str);
  return send_text (conn, json);
}

static gboolean
attack_close (Conn  *conn,
              guint  code)
{
  guint8 payload[2 + 6] = { (code >> 8) & 0xff, code & 0xff, 'h', 'o', 's', 't', 'i', 'l' };

  return send_frame (conn, 0x8, payload, sizeof payload);
}

static gboolean
run_attack (Conn          *conn,
            HostileAttack  attack)
{
  switch (attack)
    {
    case HOSTILE_ATTACK_MALFORMED: return attack_malformed (conn);
    case HOSTILE_ATTACK_HUGE_FRAME: return attack_huge (conn);
    case HOSTILE_ATTACK_BINARY: return attack_binary (conn);
    case HOSTILE_ATTACK_INVALID_UTF8: return attack_invalid_utf8 (conn);
    case HOSTILE_ATTACK_PRESENCE_FLOOD: return attack_presence_flood (conn);
    case HOSTILE_ATTACK_SEQ_BACKWARDS: return attack_seq_backwards (conn);
    case HOSTILE_ATTACK_MARKUP: return attack_markup (conn);
    case HOSTILE_ATTACK_LONG_LINE: return attack_long_line (conn);
    case HOSTILE_ATTACK_CLOSE_999: return attack_close (conn, 999);
    case HOSTILE_ATTACK_CLOSE_5000: return attack_close (conn, 5000);
    case HOSTILE_ATTACK_CLOSE_1005: return attack_close (conn, 1005);
    case HOSTILE_ATTACK_NONE:
    default:
      return TRUE;
    }
}

/* The sane part */

static gboolean
handle_hello (Conn       *conn,
              JsonObject *object)
{
  HostileServer *self = conn->server;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *welcome = NULL;
  g_autofree char *resumed = NULL;
  g_autoptr (GPtrArray) replay = g_ptr_array_new_with_free_func (g_free);
  JsonObject *resume = NULL;
  gint64 after = -1;
  gint64 last;
  HostileAttack attack;

  conn->user = g_strdup (json_object_get_string_member_with_default (object, "user", "anonymous"));
  if (json_object_has_member (object, "resume") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (object, "resume")))
    {
      resume = json_object_get_object_member (object, "resume");
      if (json_object_has_member (resume, ROOM))
        after = json_object_get_int_member (resume, ROOM);
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "welcome");
  json_builder_set_member_name (builder, "session");
  json_builder_add_string_value (builder, "hostile-session");
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, conn->user);
  json_builder_set_member_name (builder, "rooms");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, ROOM);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "heartbeat");
  json_builder_add_int_value (builder, 20);
  json_builder_end_object (builder);
  welcome = node_to_string (builder);
  if (!send_text (conn, welcome))
    return FALSE;

  g_mutex_lock (&self->lock);
  last = self->last_seq;
  for (guint i = 0; after >= 0 && i < self->messages->len; i++)
    {
      Msg *msg = g_ptr_array_index (self->messages, i);

      if (msg->seq > after)
        g_ptr_array_add (replay, message_json (msg->seq, msg->id, msg->cid, msg->user, msg->text));
    }
  attack = self->armed;
  self->armed = HOSTILE_ATTACK_NONE;
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < replay->len; i++)
    if (!send_text (conn, g_ptr_array_index (replay, i)))
      return FALSE;
  if (after >= 0)
    {
      resumed = g_strdup_printf ("{\"type\":\"resumed\",\"room\":\"lobby\",\"seq\":%" G_GINT64_FORMAT
                                 ",\"gap\":false}", last);
      if (!send_text (conn, resumed))
        return FALSE;
    }

  if (attack != HOSTILE_ATTACK_NONE)
    {
      gboolean ok = run_attack (conn, attack);

      g_debug ("attack %s written%s", hostile_attack_name (attack), ok ? "" : " (peer went away)");
      g_mutex_lock (&self->lock);
      self->attacks_done++;
      g_mutex_unlock (&self->lock);
      return ok;
    }

  return TRUE;
}

static gboolean
handle_send (Conn       *conn,
             JsonObject *object)
{
  HostileServer *self = conn->server;
  const char *cid = json_object_get_string_member_with_default (object, "cid", NULL);
  const char *text = json_object_get_string_member_with_default (object, "text", "");
  g_autofree char *ack = NULL;
  g_autofree char *echo = NULL;
  Msg *msg;
  gboolean repeated;

  if (cid == NULL)
    return send_text (conn, "{\"type\":\"error\",\"code\":\"bad_request\",\"message\":\"no cid\"}");

  g_mutex_lock (&self->lock);
  msg = g_hash_table_lookup (self->by_cid, cid);
  repeated = msg != NULL;
  if (msg == NULL)
    {
      msg = g_new0 (Msg, 1);
      msg->seq = ++self->last_seq;
      msg->id = g_strdup_printf ("m%u", ++self->next_id);
      msg->cid = g_strdup (cid);
      msg->user = g_strdup (conn->user);
      msg->text = g_strdup (text);
      g_ptr_array_add (self->messages, msg);
      g_hash_table_insert (self->by_cid, msg->cid, msg);
    }
  ack = g_strdup_printf ("{\"type\":\"ack\",\"cid\":\"%s\",\"id\":\"%s\",\"seq\":%" G_GINT64_FORMAT
                         ",\"ts\":\"2026-11-22T10:00:00.000Z\"}", msg->cid, msg->id, msg->seq);
  if (!repeated)
    echo = message_json (msg->seq, msg->id, msg->cid, msg->user, msg->text);
  g_mutex_unlock (&self->lock);

  return send_text (conn, ack) && (echo == NULL || send_text (conn, echo));
}

static gboolean
handle_text (Conn       *conn,
             const char *data,
             gsize       len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;
  const char *type;

  if (!json_parser_load_from_data (parser, data, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return TRUE;

  object = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (object, "type", "");

  if (g_str_equal (type, "hello"))
    return handle_hello (conn, object);
  if (g_str_equal (type, "send"))
    return handle_send (conn, object);
  if (g_str_equal (type, "ping"))
    {
      g_autofree char *pong = g_strdup_printf ("{\"type\":\"pong\",\"id\":%" G_GINT64_FORMAT "}",
                                               json_object_get_int_member_with_default (object, "id", 0));

      return send_text (conn, pong);
    }
  if (g_str_equal (type, "join"))
    return send_text (conn, "{\"type\":\"members\",\"room\":\"lobby\",\"users\":[\"alice\"]}");

  return TRUE;
}

static gboolean
read_exact (Conn  *conn,
            void  *buffer,
            gsize  len)
{
  gsize got = 0;

  return g_input_stream_read_all (G_INPUT_STREAM (conn->input), buffer, len, &got,
                                  conn->server->cancellable, NULL) && got == len;
}

/* One client frame (masked); FALSE at the end of the connection. */
static gboolean
read_frame (Conn   *conn,
            guint8 *opcode,
            GBytes **payload)
{
  guint8 head[2];
  guint8 mask[4];
  guint64 len;
  guint8 *data;

  if (!read_exact (conn, head, 2))
    return FALSE;
  *opcode = head[0] & 0x0f;
  len = head[1] & 0x7f;
  if (len == 126)
    {
      guint8 ext[2];

      if (!read_exact (conn, ext, 2))
        return FALSE;
      len = ((guint64) ext[0] << 8) | ext[1];
    }
  else if (len == 127)
    {
      guint8 ext[8];

      if (!read_exact (conn, ext, 8))
        return FALSE;
      len = 0;
      for (guint i = 0; i < 8; i++)
        len = (len << 8) | ext[i];
    }
  if (len > MAX_CLIENT_FRAME)
    return FALSE;
  if ((head[1] & 0x80) != 0 && !read_exact (conn, mask, 4))
    return FALSE;

  data = g_malloc (len + 1);
  if (len > 0 && !read_exact (conn, data, len))
    {
      g_free (data);
      return FALSE;
    }
  if ((head[1] & 0x80) != 0)
    for (guint64 i = 0; i < len; i++)
      data[i] ^= mask[i % 4];
  data[len] = '\0';
  *payload = g_bytes_new_take (data, len);
  return TRUE;
}

static gboolean
handshake (Conn *conn)
{
  g_autofree char *key = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *response = NULL;
  gboolean offered = FALSE;

  for (;;)
    {
      gsize len = 0;
      g_autofree char *line = g_data_input_stream_read_line (conn->input, &len,
                                                             conn->server->cancellable, NULL);

      if (line == NULL)
        return FALSE;
      g_strchomp (line);
      if (*line == '\0')
        break;
      if (g_ascii_strncasecmp (line, "Sec-WebSocket-Key:", 18) == 0)
        key = g_strstrip (g_strdup (line + 18));
      else if (g_ascii_strncasecmp (line, "Sec-WebSocket-Protocol:", 23) == 0 &&
               strstr (line, "tincan.v1") != NULL)
        offered = TRUE;
    }

  if (key == NULL)
    return FALSE;

  {
    g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
    guint8 digest[20];
    gsize digest_len = sizeof digest;

    g_checksum_update (sha1, (const guchar *) key, -1);
    g_checksum_update (sha1, (const guchar *) WS_GUID, -1);
    g_checksum_get_digest (sha1, digest, &digest_len);
    accept = g_base64_encode (digest, digest_len);
  }

  response = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: %s\r\n"
                              "%s"
                              "\r\n",
                              accept, offered ? "Sec-WebSocket-Protocol: tincan.v1\r\n" : "");
  return write_bytes (conn, response, strlen (response));
}

static gpointer
conn_thread (gpointer data)
{
  Conn *conn = data;

  if (handshake (conn))
    {
      for (;;)
        {
          g_autoptr (GBytes) payload = NULL;
          guint8 opcode = 0;
          gsize len = 0;
          const char *bytes;

          if (!read_frame (conn, &opcode, &payload))
            break;
          bytes = g_bytes_get_data (payload, &len);
          if (opcode == 0x8)
            {
              /* Echo the close and hang up. */
              send_frame (conn, 0x8, bytes, MIN (len, 2));
              break;
            }
          if (opcode == 0x9)
            {
              if (!send_frame (conn, 0xA, bytes, len))
                break;
              continue;
            }
          if (opcode == 0x1 && !handle_text (conn, bytes, len))
            break;
        }
    }

  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  g_clear_object (&conn->input);
  g_clear_object (&conn->connection);
  g_free (conn->user);
  g_free (conn);
  return NULL;
}

static gpointer
accept_thread (gpointer data)
{
  HostileServer *self = data;

  for (;;)
    {
      g_autoptr (GSocketConnection) connection = NULL;
      Conn *conn;
      GThread *thread;

      connection = g_socket_listener_accept (self->listener, NULL, self->cancellable, NULL);
      if (connection == NULL)
        break;

      conn = g_new0 (Conn, 1);
      conn->server = self;
      conn->connection = g_object_ref (connection);
      conn->input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
      g_data_input_stream_set_newline_type (conn->input, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
      conn->output = g_io_stream_get_output_stream (G_IO_STREAM (connection));

      g_mutex_lock (&self->lock);
      self->connections++;
      g_ptr_array_add (self->sockets, g_object_ref (connection));
      thread = g_thread_new ("hostile-conn", conn_thread, conn);
      g_ptr_array_add (self->threads, thread);
      g_mutex_unlock (&self->lock);
    }

  return NULL;
}

HostileServer *
hostile_server_new (void)
{
  HostileServer *self = g_new0 (HostileServer, 1);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) effective = NULL;
  g_autoptr (GError) error = NULL;

  g_mutex_init (&self->lock);
  self->cancellable = g_cancellable_new ();
  self->threads = g_ptr_array_new ();
  self->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  self->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) msg_free);
  self->by_cid = g_hash_table_new (g_str_hash, g_str_equal);
  self->listener = g_socket_listener_new ();
  g_socket_listener_add_address (self->listener, address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  self->accept_thread = g_thread_new ("hostile-accept", accept_thread, self);

  return self;
}

void
hostile_server_free (HostileServer *self)
{
  g_cancellable_cancel (self->cancellable);
  g_thread_join (self->accept_thread);
  g_socket_listener_close (self->listener);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->sockets->len; i++)
    {
      GSocket *socket = g_socket_connection_get_socket (g_ptr_array_index (self->sockets, i));

      /* Wakes a thread blocked in a write to a peer that does not read. */
      g_socket_shutdown (socket, TRUE, TRUE, NULL);
    }
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < self->threads->len; i++)
    g_thread_join (g_ptr_array_index (self->threads, i));

  g_ptr_array_unref (self->threads);
  g_ptr_array_unref (self->sockets);
  g_hash_table_unref (self->by_cid);
  g_ptr_array_unref (self->messages);
  g_object_unref (self->listener);
  g_object_unref (self->cancellable);
  g_mutex_clear (&self->lock);
  g_free (self);
}

char *
hostile_server_dup_url (HostileServer *self)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/ws", self->port);
}

void
hostile_server_arm (HostileServer *self,
                    HostileAttack  attack)
{
  g_mutex_lock (&self->lock);
  self->armed = attack;
  g_mutex_unlock (&self->lock);
}

guint
hostile_server_get_attacks_done (HostileServer *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->attacks_done;
  g_mutex_unlock (&self->lock);
  return n;
}

guint
hostile_server_get_connections (HostileServer *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->connections;
  g_mutex_unlock (&self->lock);
  return n;
}

guint
hostile_server_get_stored (HostileServer *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->messages->len;
  g_mutex_unlock (&self->lock);
  return n;
}

guint
hostile_server_count_cid (HostileServer *self,
                          const char    *cid)
{
  guint n = 0;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->messages->len; i++)
    if (g_strcmp0 (((Msg *) g_ptr_array_index (self->messages, i))->cid, cid) == 0)
      n++;
  g_mutex_unlock (&self->lock);
  return n;
}

gint64
hostile_server_get_seq_of (HostileServer *self,
                           const char    *cid)
{
  Msg *msg;
  gint64 seq;

  g_mutex_lock (&self->lock);
  msg = g_hash_table_lookup (self->by_cid, cid);
  seq = msg != NULL ? msg->seq : 0;
  g_mutex_unlock (&self->lock);
  return seq;
}
