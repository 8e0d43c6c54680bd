/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-test-dialects"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tincan-core.h"
#include "tincan-protocols.h"

/* Texts that break naive JSON building. */
static const char * const tricky_texts[] = {
  "hi",
  "quotes \"double\" and 'single'",
  "back\\slash \\n \\u0041 \\\" not escapes",
  "multi\nline\r\nwith\ttabs",
  "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
  "<b>markup</b> &amp; <script>alert(1)</script>",
  "{{text}} {{user}} placeholders in the text",
  "\"}, \"injected\": true, \"x\": {\"",
  "controls \x01\x1f and DEL \x7f",
  "line\xe2\x80\xa8separators\xe2\x80\xa9here",
  "",
};

/* Helpers */

/* Frame payloads are not NUL-terminated: copy one for comparisons. */
static const char *
raw_text (GBytes *bytes)
{
  static GPtrArray *keep = NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);

  if (keep == NULL)
    keep = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (keep, g_strndup (data != NULL ? data : "", size));

  return g_ptr_array_index (keep, keep->len - 1);
}

static TincanProtocol *
new_dialect (const char         *name,
             const char * const *options)
{
  g_autoptr (GError) error = NULL;
  TincanProtocol *protocol = tincan_protocol_new_with_options (name, options, &error);

  g_assert_no_error (error);
  g_assert_nonnull (protocol);
  g_assert_cmpstr (tincan_protocol_get_name (protocol), ==, name);

  return protocol;
}

static GPtrArray *
decode_ok (TincanProtocol *protocol,
           const char     *text)
{
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  g_autoptr (GBytes) payload = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;

  if (!tincan_protocol_decode (protocol, FALSE, payload, frames, &error))
    g_error ("decoding %s failed: %s", text, error->message);

  return g_steal_pointer (&frames);
}

static guint
decode_count (TincanProtocol *protocol,
              const char     *text)
{
  g_autoptr (GPtrArray) frames = decode_ok (protocol, text);

  return frames->len;
}

static TincanFrame *
decode_one (TincanProtocol  *protocol,
            const char      *text,
            TincanFrameType  type)
{
  g_autoptr (GPtrArray) frames = decode_ok (protocol, text);
  TincanFrame *frame;

  g_assert_cmpuint (frames->len, ==, 1);
  frame = g_ptr_array_steal_index (frames, 0);
  g_assert_cmpstr (tincan_frame_type_to_string (frame->type), ==, tincan_frame_type_to_string (type));

  return frame;
}

static char *
encode_text (TincanProtocol    *protocol,
             const TincanFrame *frame)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gboolean binary = TRUE;
  gsize size = 0;
  const char *data;

  bytes = tincan_protocol_encode (protocol, frame, &binary, &error);
  g_assert_no_error (error);
  if (bytes == NULL)
    return NULL;
  g_assert_false (binary);

  data = g_bytes_get_data (bytes, &size);
  if (size == 0)
    return g_strdup ("");
  g_assert_true (g_utf8_validate_len (data, size, NULL));

  return g_strndup (data, size);
}

static char *
encode_send (TincanProtocol *protocol,
             const char     *room,
             const char     *text,
             const char     *cid)
{
  g_autoptr (TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_SEND);

  frame->room = g_strdup (room);
  frame->text = g_strdup (text);
  frame->cid = g_strdup (cid);
  frame->user = g_strdup ("alice");

  return encode_text (protocol, frame);
}

/* Strict JSON: no raw control character (json-glib's parser is lenient). */
static void
assert_strict_json (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    g_assert_cmpint ((guchar) *p, >=, 0x20);
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("not valid JSON (%s): %s", error->message, text);
  assert_strict_json (text);

  return json_node_ref (json_parser_get_root (parser));
}

static const char *
json_at (JsonNode   *root,
         const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) result = json_path_query (path, root, &error);
  JsonArray *array;

  g_assert_no_error (error);
  array = json_node_get_array (result);
  if (json_array_get_length (array) != 1)
    return NULL;

  return json_node_get_string (json_array_get_element (array, 0));
}

/* The registry and options */

static void
test_registry (void)
{
  const char * const names[] = { "tincan", "plain", "json", "socketio", "jsonrpc" };
  const char * const *listed = tincan_protocol_list_names ();

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (TincanProtocol) protocol = new_dialect (names[i], NULL);

      g_assert_true (g_strv_contains (listed, names[i]));
    }
}

static void
test_options (void)
{
  const struct
  {
    const char *name;
    const char *option;
  } bad[] = {
    { "json", "no-such-option=1" },
    { "json", "text-pointer" },
    { "json", "text-pointer=no-leading-slash" },
    { "json", "send-template={\"text\":" },
    { "json", "preset=nonsense" },
    { "plain", "preset=pubsub" },
    { "socketio", "text-pointer=/text" },
    { "jsonrpc", "request-timeout-ms=-5" },
    { "jsonrpc", "request-timeout-ms=ten" },
    { "jsonrpc", "params-template=[1,2" },
    { "jsonrpc", "params-template=[\"{{room}}\\udc00\"]" },
    /* Numbers json-glib 1.6 would write as "1e+20.0", "inf.0" or -1. */
    { "json", "send-template={\"text\":\"{{text}}\",\"ts\":1e20}" },
    { "json", "join-template={\"room\":\"{{room}}\",\"n\":[1e400]}" },
    { "jsonrpc", "params-template=[\"{{text}}\",99999999999999999999]" },
    { "jsonrpc", "params-template=[-99999999999999999999]" },
    /* Data after the template's value. */
    { "json", "send-template=1{\"text\":\"{{text}}\"}" },
  };
  const char * const good[] = {
    "send-template={\"say\":\"{{text}}\"}", "preset=pubsub", "ack-pointer=/cid", NULL,
  };
  const char * const sio[] = { "namespace=chat", "send-event=chat message", "receive-event=chat", NULL };
  const char * const rpc[] = { "send-method=post", "request-timeout-ms=1500", NULL };
  g_autoptr (TincanProtocol) json = NULL;
  g_autoptr (TincanProtocol) socketio = NULL;
  g_autoptr (TincanProtocol) jsonrpc = NULL;
  g_autofree char *send_template = NULL;
  g_autofree char *join_template = NULL;
  g_autofree char *nsp = NULL;
  guint timeout = 0;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char * const options[] = { bad[i].option, NULL };
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanProtocol) protocol = NULL;

      protocol = tincan_protocol_new_with_options (bad[i].name, options, &error);
      g_assert_null (protocol);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_test_message ("%s %s: %s", bad[i].name, bad[i].option, error->message);
    }

  /* Numbers json-glib writes back as they were are fine in templates. */
  {
    const char * const numbers[] = {
      "send-template={\"text\":\"{{text}}\",\"n\":[0.5,1e16,-2.25e-7,-9223372036854775808,9223372036854775807,0]}",
      NULL,
    };
    g_autoptr (TincanProtocol) with_numbers = new_dialect ("json", numbers);

    g_assert_nonnull (with_numbers);
  }

  /* The preset applies first, the explicit template refines it. */
  json = new_dialect ("json", good);
  g_object_get (json, "send-template", &send_template, "join-template", &join_template, NULL);
  g_assert_cmpstr (send_template, ==, "{\"say\":\"{{text}}\"}");
  g_assert_cmpstr (join_template, ==, "{\"type\":\"subscribe\",\"channel\":\"{{room}}\"}");
  g_assert_cmpint (tincan_protocol_get_flags (json), ==,
                   TINCAN_PROTOCOL_FLAG_ACKS | TINCAN_PROTOCOL_FLAG_ROOMS);

  socketio = new_dialect ("socketio", sio);
  g_object_get (socketio, "namespace", &nsp, NULL);
  g_assert_cmpstr (nsp, ==, "/chat");

  jsonrpc = new_dialect ("jsonrpc", rpc);
  g_object_get (jsonrpc, "request-timeout-ms", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 1500);

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TincanProtocol) none = tincan_protocol_new_with_options ("irc", NULL, &error);

    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  }
}

static void
test_adjust_url (void)
{
  g_autoptr (TincanProtocol) socketio = new_dialect ("socketio", NULL);
  g_autoptr (TincanProtocol) plain = new_dialect ("plain", NULL);
  const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "ws://127.0.0.1:3000", "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket" },
    { "ws://h/", "ws://h/socket.io/?EIO=4&transport=websocket" },
    { "wss://h/custom/?x=1", "wss://h/custom/?x=1&EIO=4&transport=websocket" },
    { "ws://h/socket.io/?EIO=4&transport=websocket", "ws://h/socket.io/?EIO=4&transport=websocket" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = tincan_protocol_adjust_url (socketio, cases[i].in);
      g_autofree char *same = tincan_protocol_adjust_url (plain, cases[i].in);

      g_assert_cmpstr (url, ==, cases[i].out);
      g_assert_cmpstr (same, ==, cases[i].in);
    }
}

/* plain */

static void
test_plain (void)
{
  g_autoptr (TincanProtocol) plain = new_dialect ("plain", NULL);
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  g_autoptr (GBytes) blob = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 bytes[] = { 0x00, 0xff, 0x10, 0x80 };
  TincanFrame *frame;

  g_assert_cmpint (tincan_protocol_get_flags (plain), ==, TINCAN_PROTOCOL_FLAG_NONE);
  g_assert_null (tincan_protocol_get_subprotocols (plain));
  hello->user = g_strdup ("alice");
  g_assert_null (encode_text (plain, hello));

  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    {
      g_autofree char *wire = encode_send (plain, "lobby", tricky_texts[i], "c1");
      g_autoptr (TincanFrame) message = decode_one (plain, wire, TINCAN_FRAME_MESSAGE);

      g_assert_cmpstr (wire, ==, tricky_texts[i]);
      g_assert_cmpstr (message->text, ==, tricky_texts[i]);
      g_assert_null (message->cid);
    }

  blob = g_bytes_new_static (bytes, sizeof bytes);
  g_assert_true (tincan_protocol_decode (plain, TRUE, blob, frames, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (frames->len, ==, 1);
  frame = g_ptr_array_index (frames, 0);
  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_UNMAPPED);
  g_assert_true (frame->binary);
  g_assert_true (g_bytes_equal (frame->raw, blob));
}

/* json */

static void
test_json_templates (void)
{
  const char * const presets[] = { "auto", "text-user", "message-username", "data", "pubsub" };
  const char * const text_paths[] = { "$.text", "$.text", "$.message", "$.data.text", "$.data.text" };

  g_assert_cmpuint (g_strv_length ((GStrv) tincan_protocol_json_list_presets ()), ==, G_N_ELEMENTS (presets));

  for (guint p = 0; p < G_N_ELEMENTS (presets); p++)
    {
      g_autofree char *option = g_strconcat ("preset=", presets[p], NULL);
      const char * const options[] = { option, NULL };
      g_autoptr (TincanProtocol) json = new_dialect ("json", options);

      for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
        {
          g_autofree char *wire = encode_send (json, "room \"1\"", tricky_texts[i], "c1");
          g_autoptr (JsonNode) root = parse_json (wire);
          g_autoptr (TincanFrame) back = NULL;

          /* json-glib reads back exactly the text, and so does the dialect. */
          g_assert_cmpstr (json_at (root, text_paths[p]), ==, tricky_texts[i]);
          back = decode_one (json, wire, TINCAN_FRAME_MESSAGE);
          g_assert_cmpstr (back->text, ==, tricky_texts[i]);
          g_assert_cmpstr (back->user, ==, "alice");
          if (g_str_equal (presets[p], "pubsub"))
            g_assert_cmpstr (back->room, ==, "room \"1\"");
        }
    }
}

static void
test_json_all_placeholders (void)
{
  const char * const options[] = {
    "send-template={\"a\":[\"{{text}}\",{\"u\":\"{{ user }}\"}],\"r\":\"{{room}}\",\"c\":\"{{cid}}\","
    "\"k\":\"{{token}}\",\"id\":\"{{uuid}}\",\"t\":\"{{now}}\",\"ms\":\"{{now_ms}}\",\"keep\":\"{{nope}}\","
    "\"lit\":\"x {{text}}\",\"n\":[1,true,null]}",
    "hello-template={\"auth\":\"{{token}}\",\"user\":\"{{user}}\"}",
    NULL,
  };
  g_autoptr (TincanProtocol) json = new_dialect ("json", options);
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autofree char *hello_wire = NULL;
  g_autofree char *wire = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  gint64 ms = 0;

  hello->user = g_strdup ("bob \"the\" builder");
  hello->token = g_strdup ("s3cr\\et\n");
  hello_wire = encode_text (json, hello);
  root = parse_json (hello_wire);
  g_assert_cmpstr (json_at (root, "$.auth"), ==, "s3cr\\et\n");
  g_assert_cmpstr (json_at (root, "$.user"), ==, "bob \"the\" builder");
  g_clear_pointer (&root, json_node_unref);

  wire = encode_send (json, NULL, "hé \"x\"", "cid-1");
  root = parse_json (wire);
  object = json_node_get_object (root);
  g_assert_cmpstr (json_at (root, "$.a[0]"), ==, "hé \"x\"");
  g_assert_cmpstr (json_at (root, "$.a[1].u"), ==, "alice");
  g_assert_true (json_node_is_null (json_object_get_member (object, "r")));
  g_assert_cmpstr (json_at (root, "$.c"), ==, "cid-1");
  g_assert_cmpstr (json_at (root, "$.k"), ==, "s3cr\\et\n");
  g_assert_true (g_uuid_string_is_valid (json_at (root, "$.id")));
  g_assert_true (tincan_timestamp_parse (json_at (root, "$.t"), &ms));
  g_assert_cmpint (json_object_get_int_member (object, "ms"), >, 0);
  g_assert_cmpstr (json_at (root, "$.keep"), ==, "{{nope}}");
  g_assert_cmpstr (json_at (root, "$.lit"), ==, "x {{text}}");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "n")), ==, 3);
}

static void
test_json_pubsub (void)
{
  const char * const options[] = { "preset=pubsub", NULL };
  g_autoptr (TincanProtocol) json = new_dialect ("json", options);
  g_autoptr (TincanFrame) join = tincan_frame_new (TINCAN_FRAME_JOIN);
  g_autoptr (TincanFrame) leave = tincan_frame_new (TINCAN_FRAME_LEAVE);
  g_autoptr (TincanFrame) message = NULL;
  g_autoptr (TincanFrame) other = NULL;
  g_autofree char *sub = NULL;
  g_autofree char *unsub = NULL;
  g_autofree char *pub = NULL;

  g_assert_cmpint (tincan_protocol_get_flags (json), ==, TINCAN_PROTOCOL_FLAG_ROOMS);

  join->room = g_strdup ("news");
  leave->room = g_strdup ("news");
  sub = encode_text (json, join);
  unsub = encode_text (json, leave);
  pub = encode_send (json, "news", "hi", "c1");
  g_assert_cmpstr (sub, ==, "{\"type\":\"subscribe\",\"channel\":\"news\"}");
  g_assert_cmpstr (unsub, ==, "{\"type\":\"unsubscribe\",\"channel\":\"news\"}");
  g_assert_cmpstr (pub, ==, "{\"type\":\"publish\",\"channel\":\"news\",\"data\":{\"text\":\"hi\",\"user\":\"alice\"}}");

  message = decode_one (json, "{\"channel\":\"news\",\"data\":{\"text\":\"hello\",\"user\":\"bob\"}}",
                        TINCAN_FRAME_MESSAGE);
  g_assert_cmpstr (message->room, ==, "news");
  g_assert_cmpstr (message->user, ==, "bob");
  g_assert_cmpstr (message->text, ==, "hello");

  /* Control frames of the server map to nothing: kept, not dropped. */
  other = decode_one (json, "{\"type\":\"subscribed\",\"channel\":\"news\"}", TINCAN_FRAME_UNMAPPED);
  g_assert_cmpstr (raw_text (other->raw), ==, "{\"type\":\"subscribed\",\"channel\":\"news\"}");
}

static void
test_json_shapes (void)
{
  g_autoptr (TincanProtocol) json = new_dialect ("json", NULL);
  const struct
  {
    const char *wire;
    const char *text;
    const char *user;
    const char *room;
    const char *id;
    gint64      ts;
  } cases[] = {
    { "{\"text\":\"a\",\"user\":\"u1\"}", "a", "u1", NULL, NULL, 0 },
    { "{\"message\":\"b\",\"username\":\"u2\",\"id\":42}", "b", "u2", NULL, "42", 0 },
    { "{\"data\":{\"text\":\"c\",\"user\":\"u3\",\"ts\":1795341600000}}", "c", "u3", NULL, NULL, 1795341600000 },
    { "{\"room\":\"r\",\"data\":{\"message\":\"d\",\"from\":\"u4\"}}", "d", "u4", "r", NULL, 0 },
    { "{\"text\":\"e\",\"ts\":\"2026-11-22T10:00:00.000Z\",\"channel\":\"c\"}", "e", NULL, "c", NULL, 1795341600000 },
    { "{\"text\":\"f\",\"timestamp\":1795341600}", "f", NULL, NULL, NULL, 1795341600000 },
  };

  g_assert_cmpint (tincan_protocol_get_flags (json), ==, TINCAN_PROTOCOL_FLAG_NONE);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TincanFrame) frame = decode_one (json, cases[i].wire, TINCAN_FRAME_MESSAGE);

      g_assert_cmpstr (frame->text, ==, cases[i].text);
      g_assert_cmpstr (frame->user, ==, cases[i].user);
      g_assert_cmpstr (frame->room, ==, cases[i].room);
      g_assert_cmpstr (frame->id, ==, cases[i].id);
      g_assert_cmpint (frame->ts, ==, cases[i].ts);
    }
}

static void
test_json_pointers_and_ack (void)
{
  const char * const options[] = {
    "text-pointer=/payload/0/body", "sender-pointer=/meta/a~1b", "id-pointer=/meta/m~0id",
    "room-pointer=/where", "ts-pointer=/when", "ack-pointer=/echo", NULL,
  };
  g_autoptr (TincanProtocol) json = new_dialect ("json", options);
  g_autoptr (GPtrArray) frames = NULL;
  g_autoptr (TincanFrame) ack = NULL;
  TincanFrame *frame;

  g_assert_cmpint (tincan_protocol_get_flags (json), ==, TINCAN_PROTOCOL_FLAG_ACKS);

  frames = decode_ok (json, "{\"payload\":[{\"body\":\"hey\"}],\"meta\":{\"a/b\":\"zoe\",\"m~id\":\"m7\"},"
                            "\"where\":\"lobby\",\"when\":1795341600000,\"echo\":\"cid-9\"}");
  g_assert_cmpuint (frames->len, ==, 2);
  frame = g_ptr_array_index (frames, 0);
  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_ACK);
  g_assert_cmpstr (frame->cid, ==, "cid-9");
  g_assert_cmpstr (frame->id, ==, "m7");
  frame = g_ptr_array_index (frames, 1);
  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_MESSAGE);
  g_assert_cmpstr (frame->text, ==, "hey");
  g_assert_cmpstr (frame->user, ==, "zoe");
  g_assert_cmpstr (frame->room, ==, "lobby");
  g_assert_cmpstr (frame->cid, ==, "cid-9");
  g_assert_cmpint (frame->ts, ==, 1795341600000);

  /* An ack alone. */
  ack = decode_one (json, "{\"echo\":\"cid-10\"}", TINCAN_FRAME_ACK);
  g_assert_cmpstr (ack->cid, ==, "cid-10");
}

/* socketio */

static void
test_socketio_session (void)
{
  g_autoptr (TincanProtocol) sio = new_dialect ("socketio", NULL);
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autoptr (TincanFrame) reply = NULL;
  g_autoptr (TincanFrame) welcome = NULL;
  g_autoptr (TincanFrame) pong = NULL;
  g_autoptr (JsonNode) args = NULL;
  g_autofree char *wire = NULL;
  g_autofree char *wire2 = NULL;

  g_assert_cmpint (tincan_protocol_get_flags (sio), ==,
                   TINCAN_PROTOCOL_FLAG_ACKS | TINCAN_PROTOCOL_FLAG_WELCOME);

  hello->user = g_strdup ("alice \"a\"");
  hello->token = g_strdup ("tok");
  g_assert_null (encode_text (sio, hello));

  reply = decode_one (sio, "0{\"sid\":\"e1\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20001,\"maxPayload\":1000000}",
                      TINCAN_FRAME_REPLY);
  g_assert_false (reply->binary);
  g_assert_cmpstr (raw_text (reply->raw), ==, "40{\"token\":\"tok\",\"user\":\"alice \\\"a\\\"\"}");

  welcome = decode_one (sio, "40{\"sid\":\"s1\"}", TINCAN_FRAME_WELCOME);
  g_assert_cmpstr (welcome->session, ==, "s1");
  g_assert_cmpstr (welcome->user, ==, "alice \"a\"");
  g_assert_cmpint (welcome->heartbeat, ==, 46);

  pong = decode_one (sio, "2", TINCAN_FRAME_REPLY);
  g_assert_cmpstr (raw_text (pong->raw), ==, "3");
  g_assert_cmpuint (decode_count (sio, "6"), ==, 0);

  wire = encode_send (sio, "lobby", "hi \"there\"\n😀", "cid-1");
  g_assert_true (g_str_has_prefix (wire, "420["));
  args = parse_json (wire + 3);
  g_assert_cmpstr (json_at (args, "$[0]"), ==, "message");
  g_assert_cmpstr (json_at (args, "$[1].text"), ==, "hi \"there\"\n😀");
  g_assert_cmpstr (json_at (args, "$[1].cid"), ==, "cid-1");
  g_assert_cmpstr (json_at (args, "$[1].room"), ==, "lobby");
  wire2 = encode_send (sio, "lobby", "two", "cid-2");
  g_assert_true (g_str_has_prefix (wire2, "421["));

  {
    g_autoptr (TincanFrame) ack = decode_one (sio, "431[{\"id\":\"m2\"}]", TINCAN_FRAME_ACK);
    g_autoptr (TincanFrame) ack0 = decode_one (sio, "430[]", TINCAN_FRAME_ACK);
    g_autoptr (TincanFrame) again = decode_one (sio, "430[]", TINCAN_FRAME_UNMAPPED);

    g_assert_cmpstr (ack->cid, ==, "cid-2");
    g_assert_cmpstr (ack->id, ==, "m2");
    g_assert_cmpstr (ack0->cid, ==, "cid-1");
  }

  {
    g_autoptr (TincanFrame) string_payload = decode_one (sio, "42[\"message\",\"plain string\"]", TINCAN_FRAME_MESSAGE);
    g_autoptr (TincanFrame) object_payload =
      decode_one (sio, "42[\"message\",{\"text\":\"obj\",\"user\":\"bob\",\"room\":\"r\",\"cid\":\"x\",\"id\":\"7\"}]",
                  TINCAN_FRAME_MESSAGE);
    g_autoptr (TincanFrame) other_event = decode_one (sio, "42[\"typing\",{\"user\":\"bob\"}]", TINCAN_FRAME_UNMAPPED);
    g_autoptr (GPtrArray) wants_ack = decode_ok (sio, "4217[\"message\",\"ack me\"]");

    g_assert_cmpstr (string_payload->text, ==, "plain string");
    g_assert_null (string_payload->user);
    g_assert_cmpstr (object_payload->text, ==, "obj");
    g_assert_cmpstr (object_payload->user, ==, "bob");
    g_assert_cmpstr (object_payload->room, ==, "r");
    g_assert_cmpstr (object_payload->cid, ==, "x");
    g_assert_cmpstr (object_payload->id, ==, "7");
    g_assert_cmpuint (wants_ack->len, ==, 2);
    g_assert_cmpint (((TincanFrame *) wants_ack->pdata[0])->type, ==, TINCAN_FRAME_REPLY);
    g_assert_cmpstr (raw_text (((TincanFrame *) wants_ack->pdata[0])->raw), ==, "4317[]");
    g_assert_cmpstr (((TincanFrame *) wants_ack->pdata[1])->text, ==, "ack me");
  }

  {
    g_autoptr (TincanFrame) error = decode_one (sio, "41", TINCAN_FRAME_ERROR);

    g_assert_cmpstr (error->code, ==, "server_disconnect");
    g_assert_null (error->cid);
  }

  /* After a reset (new socket), old ack ids match nothing and new ones do not repeat. */
  tincan_protocol_reset (sio);
  g_assert_cmpuint (decode_count (sio, "431[]"), ==, 1);
  g_clear_pointer (&wire, g_free);
  wire = encode_send (sio, "lobby", "three", "cid-3");
  g_assert_true (g_str_has_prefix (wire, "422["));
}

static void
test_socketio_connect_error (void)
{
  const char * const options[] = { "namespace=/chat", "send-event=say", "receive-event=said", NULL };
  g_autoptr (TincanProtocol) sio = new_dialect ("socketio", options);
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autoptr (TincanFrame) reply = NULL;
  g_autoptr (TincanFrame) error = NULL;
  g_autoptr (TincanFrame) other = NULL;
  g_autoptr (TincanFrame) said = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *wire = NULL;

  /* The open packet first: then HELLO itself carries the CONNECT. */
  reply = decode_one (sio, "0{\"sid\":\"e1\",\"pingInterval\":100,\"pingTimeout\":100}", TINCAN_FRAME_REPLY);
  g_assert_cmpstr (raw_text (reply->raw), ==, "40/chat,{}");
  tincan_protocol_reset (sio);
  g_clear_pointer (&reply, tincan_frame_free);
  g_assert_cmpuint (decode_count (sio, "0{\"sid\":\"e2\",\"pingInterval\":100,\"pingTimeout\":100}"), ==, 1);
  hello->user = g_strdup ("al");
  g_assert_null (encode_text (sio, hello));   /* already answered by the REPLY */

  tincan_protocol_reset (sio);
  g_assert_null (encode_text (sio, hello));
  g_assert_cmpuint (decode_count (sio, "0{\"sid\":\"e3\",\"pingInterval\":100,\"pingTimeout\":100}"), ==, 1);

  tincan_protocol_reset (sio);
  {
    g_autoptr (GPtrArray) frames = NULL;

    g_clear_object (&sio);
    sio = new_dialect ("socketio", options);
    frames = decode_ok (sio, "0{\"sid\":\"e4\",\"pingInterval\":100,\"pingTimeout\":100}");
    g_assert_cmpuint (frames->len, ==, 1);
  }
  connect = encode_text (sio, hello);
  g_assert_null (connect);

  error = decode_one (sio, "44/chat,{\"message\":\"Not authorized: bad token\"}", TINCAN_FRAME_ERROR);
  g_assert_cmpstr (error->code, ==, "connect_error");
  g_assert_cmpstr (error->message, ==, "Not authorized: bad token");
  g_assert_null (error->cid);

  /* Other namespaces are shown, not mixed in. */
  other = decode_one (sio, "42[\"said\",\"root ns\"]", TINCAN_FRAME_UNMAPPED);
  said = decode_one (sio, "42/chat,[\"said\",\"in chat\"]", TINCAN_FRAME_MESSAGE);
  g_assert_cmpstr (said->text, ==, "in chat");

  wire = encode_send (sio, NULL, "x", "c");
  g_assert_true (g_str_has_prefix (wire, "42/chat,0[\"say\","));
}

static void
test_socketio_binary (void)
{
  g_autoptr (TincanProtocol) sio = new_dialect ("socketio", NULL);
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  g_autoptr (GBytes) one = g_bytes_new_static ("\x01\x02\xff", 3);
  g_autoptr (GBytes) two = g_bytes_new_static ("abcd", 4);
  g_autoptr (GError) error = NULL;
  TincanFrame *message;

  g_assert_cmpuint (decode_count (sio, "452-[\"message\",{\"text\":{\"_placeholder\":true,\"num\":0},"
                                    "\"file\":{\"_placeholder\":true,\"num\":1}}]"), ==, 0);
  g_assert_true (tincan_protocol_decode (sio, TRUE, one, frames, &error));
  g_assert_cmpuint (frames->len, ==, 1);
  g_assert_true (tincan_protocol_decode (sio, TRUE, two, frames, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (frames->len, ==, 3);
  g_assert_cmpint (((TincanFrame *) frames->pdata[0])->type, ==, TINCAN_FRAME_UNMAPPED);
  g_assert_true (((TincanFrame *) frames->pdata[0])->binary);
  message = frames->pdata[2];
  g_assert_cmpint (message->type, ==, TINCAN_FRAME_MESSAGE);
  g_assert_cmpstr (message->text, ==, "[binary, 3 bytes: 01 02 ff]");

  /* A binary frame nobody announced. */
  g_ptr_array_set_size (frames, 0);
  g_assert_true (tincan_protocol_decode (sio, TRUE, one, frames, &error));
  g_assert_cmpuint (frames->len, ==, 1);
  g_assert_true (((TincanFrame *) frames->pdata[0])->binary);
}

/* jsonrpc */

static void
test_jsonrpc (void)
{
  const char * const options[] = { "send-method=chat.send", "request-timeout-ms=1000", NULL };
  g_autoptr (TincanProtocol) rpc = new_dialect ("jsonrpc", options);
  g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  char *request_ids[3] = { NULL, };

  g_assert_cmpint (tincan_protocol_get_flags (rpc), ==, TINCAN_PROTOCOL_FLAG_ACKS);

  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    {
      g_autofree char *cid = g_strdup_printf ("cid-%u", i);
      g_autofree char *wire = encode_send (rpc, "lobby", tricky_texts[i], cid);
      g_autoptr (JsonNode) root = parse_json (wire);

      g_assert_cmpstr (json_at (root, "$.jsonrpc"), ==, "2.0");
      g_assert_cmpstr (json_at (root, "$.method"), ==, "chat.send");
      g_assert_cmpstr (json_at (root, "$.params.text"), ==, tricky_texts[i]);
      g_assert_cmpstr (json_at (root, "$.params.cid"), ==, cid);
      g_assert_true (g_hash_table_add (ids, g_strdup (json_at (root, "$.id"))));
      if (i < G_N_ELEMENTS (request_ids))
        request_ids[i] = g_strdup (json_at (root, "$.id"));
      /* A new socket: ids go on, never repeat. */
      tincan_protocol_reset (rpc);
    }

  /* The last request is still pending (reset forgets the others). */
  {
    g_autofree char *wire = encode_send (rpc, "lobby", "a", "cid-a");
    g_autofree char *wire2 = encode_send (rpc, "lobby", "b", "cid-b");
    g_autofree char *wire3 = encode_send (rpc, "lobby", "c", "cid-c");
    g_autoptr (JsonNode) a = parse_json (wire);
    g_autoptr (JsonNode) b = parse_json (wire2);
    g_autofree char *result = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":{\"id\":\"srv-1\"}}",
                                               json_at (a, "$.id"));
    g_autofree char *failure = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"error\":{\"code\":-32000,\"message\":\"rate limited\"}}",
                                                json_at (b, "$.id"));
    g_autofree char *stale = g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"result\":true}", request_ids[0]);
    g_autoptr (TincanFrame) ack = decode_one (rpc, result, TINCAN_FRAME_ACK);
    g_autoptr (TincanFrame) error = decode_one (rpc, failure, TINCAN_FRAME_ERROR);
    g_autoptr (TincanFrame) unknown = decode_one (rpc, stale, TINCAN_FRAME_UNMAPPED);
    g_autoptr (TincanFrame) again = decode_one (rpc, result, TINCAN_FRAME_UNMAPPED);

    g_assert_cmpstr (ack->cid, ==, "cid-a");
    g_assert_cmpstr (ack->id, ==, "srv-1");
    g_assert_cmpstr (error->cid, ==, "cid-b");
    g_assert_cmpstr (error->message, ==, "rate limited");
    g_assert_cmpstr (error->code, ==, "-32000");

    /* cid-c has no answer: it times out, once. */
    g_assert_cmpuint (tincan_protocol_jsonrpc_expire (TINCAN_PROTOCOL_JSONRPC (rpc), tincan_now_ms (), expired), ==, 0);
    g_assert_cmpuint (tincan_protocol_jsonrpc_expire (TINCAN_PROTOCOL_JSONRPC (rpc), tincan_now_ms () + 1001, expired), ==, 1);
    g_assert_cmpuint (expired->len, ==, 1);
    g_assert_cmpint (((TincanFrame *) expired->pdata[0])->type, ==, TINCAN_FRAME_ERROR);
    g_assert_cmpstr (((TincanFrame *) expired->pdata[0])->cid, ==, "cid-c");
    g_assert_cmpstr (((TincanFrame *) expired->pdata[0])->code, ==, "timeout");
    g_assert_cmpuint (tincan_protocol_jsonrpc_expire (TINCAN_PROTOCOL_JSONRPC (rpc), tincan_now_ms () + 5000, expired), ==, 0);
  }

  {
    g_autoptr (TincanFrame) note = decode_one (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":"
                                                    "{\"room\":\"lobby\",\"user\":\"bob\",\"text\":\"yo\",\"id\":\"5\"}}",
                                               TINCAN_FRAME_MESSAGE);
    g_autoptr (TincanFrame) positional = decode_one (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":[\"just text\"]}",
                                                     TINCAN_FRAME_MESSAGE);
    g_autoptr (TincanFrame) other = decode_one (rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"presence\",\"params\":{}}",
                                                TINCAN_FRAME_UNMAPPED);
    g_autoptr (GPtrArray) request = decode_ok (rpc, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ask\"}");
    g_autoptr (GPtrArray) batch = decode_ok (rpc, "[{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":[\"1\"]},"
                                                  "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":[\"2\"]}]");
    g_autoptr (JsonNode) answer = NULL;

    g_assert_cmpstr (note->text, ==, "yo");
    g_assert_cmpstr (note->user, ==, "bob");
    g_assert_cmpstr (note->room, ==, "lobby");
    g_assert_cmpstr (note->id, ==, "5");
    g_assert_cmpstr (positional->text, ==, "just text");
    g_assert_cmpuint (request->len, ==, 2);
    g_assert_cmpint (((TincanFrame *) request->pdata[0])->type, ==, TINCAN_FRAME_REPLY);
    answer = parse_json (raw_text (((TincanFrame *) request->pdata[0])->raw));
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (answer), "id"), ==, 9);
    g_assert_cmpint (((TincanFrame *) request->pdata[1])->type, ==, TINCAN_FRAME_UNMAPPED);
    g_assert_cmpuint (batch->len, ==, 2);
    g_assert_cmpstr (((TincanFrame *) batch->pdata[1])->text, ==, "2");
  }

  for (guint i = 0; i < G_N_ELEMENTS (request_ids); i++)
    g_free (request_ids[i]);
}

/* End to end: the dialects against real third-party servers */

#define TIMEOUT_MS 15000

typedef gboolean (*ConditionFunc) (gpointer data);

static gboolean
deadline_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
wait_for (ConditionFunc  condition,
          gpointer       data,
          guint          timeout_ms,
          const char    *what)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (timeout_ms, deadline_cb, &expired);

  while (!condition (data) && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (expired)
    g_error ("Timed out after %u ms waiting for %s", timeout_ms, what);

  g_source_remove (id);
}

/* A child process whose stdout lines are collected as they come. */
typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  GCancellable     *cancellable;
  GPtrArray        *lines;
  gboolean          eof;
  gboolean          exited;
  int               status;
  guint             port;
} Child;

static void child_read_next (Child *child);

static void
on_child_line (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Child *child = user_data;
  g_autoptr (GError) error = NULL;
  char *line;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (line == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        child->eof = TRUE;
      return;
    }

  g_test_message ("  child: %s", line);
  if (g_str_has_prefix (line, "PORT "))
    child->port = (guint) g_ascii_strtoull (line + 5, NULL, 10);
  g_ptr_array_add (child->lines, line);
  child_read_next (child);
}

static void
child_read_next (Child *child)
{
  g_data_input_stream_read_line_async (child->out, G_PRIORITY_DEFAULT, child->cancellable,
                                       on_child_line, child);
}

static void
on_child_exited (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Child *child = user_data;

  if (g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL))
    {
      child->exited = TRUE;
      child->status = g_subprocess_get_if_exited (child->process)
                      ? g_subprocess_get_exit_status (child->process) : -1;
    }
}

static Child *
child_spawn (const char * const *argv,
             GError            **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  Child *child = g_new0 (Child, 1);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  child->process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (child->process == NULL)
    {
      g_free (child);
      return NULL;
    }

  child->cancellable = g_cancellable_new ();
  child->lines = g_ptr_array_new_with_free_func (g_free);
  child->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child->process));
  child_read_next (child);
  g_subprocess_wait_async (child->process, child->cancellable, on_child_exited, child);

  return child;
}

static gboolean
child_done (gpointer data)
{
  Child *child = data;

  return child->exited && child->eof;
}

static void
child_close_stdin (Child *child)
{
  g_output_stream_close (g_subprocess_get_stdin_pipe (child->process), NULL, NULL);
}

static void
child_free (Child *child)
{
  child_close_stdin (child);
  if (!child->exited)
    wait_for (child_done, child, TIMEOUT_MS, "a child process to exit");
  g_cancellable_cancel (child->cancellable);
  g_clear_object (&child->out);
  g_clear_object (&child->process);
  g_clear_object (&child->cancellable);
  g_ptr_array_unref (child->lines);
  g_free (child);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Child, child_free)

static guint
child_count_lines (Child      *child,
                   const char *line)
{
  guint n = 0;

  for (guint i = 0; i < child->lines->len; i++)
    if (g_str_equal (g_ptr_array_index (child->lines, i), line))
      n++;

  return n;
}

typedef struct
{
  Child      *child;
  const char *line;
} WantLine;

static gboolean
want_line_cb (gpointer data)
{
  WantLine *want = data;

  return child_count_lines (want->child, want->line) > 0;
}

/* The peer logs after the client is done with it: wait for the line. */
static void
child_wait_line (Child      *child,
                 const char *line)
{
  WantLine want = { child, line };
  g_autofree char *what = g_strdup_printf ("the line “%s”", line);

  wait_for (want_line_cb, &want, TIMEOUT_MS, what);
}

static gboolean
child_ready (gpointer data)
{
  Child *child = data;

  return child->port != 0 || child->exited;
}

/* Starts a peer from tests/peers, or skips the test naming what is missing. */
static Child *
peer_start (const char *script)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "peers", script, NULL);
  g_autofree char *node = g_find_program_in_path ("node");
  g_autoptr (GError) error = NULL;
  const char *interpreter;
  Child *child;

  if (g_str_has_suffix (script, ".js"))
    {
      g_autofree char *modules = g_test_build_filename (G_TEST_DIST, "peers", "node_modules", NULL);

      if (node == NULL)
        {
          g_test_skip ("node is not installed");
          return NULL;
        }
      if (!g_file_test (modules, G_FILE_TEST_IS_DIR))
        {
          g_test_skip ("npm packages ws and socket.io missing: run npm ci --prefix tests/peers");
          return NULL;
        }
      interpreter = node;
    }
  else
    {
      /* Debian's python3-websockets imports only under /usr/bin/python3. */
      if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
        {
          g_test_skip ("/usr/bin/python3 is not installed");
          return NULL;
        }
      interpreter = "/usr/bin/python3";
    }

  {
    const char * const argv[] = { interpreter, path, NULL };

    child = child_spawn (argv, &error);
    g_assert_no_error (error);
  }

  wait_for (child_ready, child, TIMEOUT_MS, "the peer to listen");
  if (child->port == 0)
    {
      g_autofree char *message = g_strdup_printf ("%s did not start (%s)", script,
                                                  child->lines->len > 0
                                                  ? (char *) g_ptr_array_index (child->lines, 0)
                                                  : "no output");

      if (child->status == 77)
        g_test_skip (message);
      else
        g_test_fail_printf ("%s", message);
      child_free (child);
      return NULL;
    }

  return child;
}

/* A minimal client over libsoup: what TincanConnection does, minus the
 * state machine, so the dialect alone meets the real server. */
typedef struct
{
  TincanProtocol          *protocol;
  SoupSession             *session;
  SoupWebsocketConnection *ws;
  GError                  *connect_error;
  GPtrArray               *frames;    /* every decoded frame but REPLY */
  GPtrArray               *errors;    /* decode errors, as strings */
  guint                    pongs;     /* Engine.IO pongs we sent */
  gboolean                 done;
  gboolean                 closed;
} Driver;

static void
driver_send_bytes (Driver  *driver,
                   GBytes  *bytes,
                   gboolean binary)
{
  soup_websocket_connection_send_message (driver->ws,
                                          binary ? SOUP_WEBSOCKET_DATA_BINARY : SOUP_WEBSOCKET_DATA_TEXT,
                                          bytes);
}

static void
driver_transmit (Driver            *driver,
                 const TincanFrame *frame)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gboolean binary = FALSE;

  bytes = tincan_protocol_encode (driver->protocol, frame, &binary, &error);
  g_assert_no_error (error);
  if (bytes != NULL)
    driver_send_bytes (driver, bytes, binary);
}

static void
on_driver_message (SoupWebsocketConnection *ws,
                   int                      type,
                   GBytes                  *payload,
                   gpointer                 user_data)
{
  Driver *driver = user_data;
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  g_autoptr (GError) error = NULL;

  if (!tincan_protocol_decode (driver->protocol, type == SOUP_WEBSOCKET_DATA_BINARY, payload, frames, &error))
    g_ptr_array_add (driver->errors, g_strdup (error->message));

  for (guint i = 0; i < frames->len; i++)
    {
      TincanFrame *frame = g_ptr_array_index (frames, i);

      if (frame->type == TINCAN_FRAME_REPLY)
        {
          if (g_bytes_get_size (frame->raw) == 1 && *(const char *) g_bytes_get_data (frame->raw, NULL) == '3')
            driver->pongs++;
          driver_send_bytes (driver, frame->raw, frame->binary);
        }
      else
        g_ptr_array_add (driver->frames, tincan_frame_copy (frame));
    }
}

static void
on_driver_closed (SoupWebsocketConnection *ws,
                  gpointer                 user_data)
{
  ((Driver *) user_data)->closed = TRUE;
}

static void
on_driver_connected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Driver *driver = user_data;

  driver->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &driver->connect_error);
  driver->done = TRUE;
}

static gboolean
driver_connected (gpointer data)
{
  return ((Driver *) data)->done;
}

static Driver *
driver_new (const char         *dialect,
            const char * const *options,
            guint               port,
            const char         *user,
            const char         *token)
{
  Driver *driver = g_new0 (Driver, 1);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autofree char *base = g_strdup_printf ("ws://127.0.0.1:%u/", port);
  g_autofree char *url = NULL;

  driver->protocol = new_dialect (dialect, options);
  driver->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  driver->errors = g_ptr_array_new_with_free_func (g_free);
  driver->session = soup_session_new ();

  url = tincan_protocol_adjust_url (driver->protocol, base);
  msg = soup_message_new ("GET", url);
  soup_session_websocket_connect_async (driver->session, msg, NULL,
                                        (char **) tincan_protocol_get_subprotocols (driver->protocol),
                                        G_PRIORITY_DEFAULT, NULL, on_driver_connected, driver);
  wait_for (driver_connected, driver, TIMEOUT_MS, "the WebSocket handshake");
  g_assert_no_error (driver->connect_error);

  g_signal_connect (driver->ws, "message", G_CALLBACK (on_driver_message), driver);
  g_signal_connect (driver->ws, "closed", G_CALLBACK (on_driver_closed), driver);

  tincan_protocol_reset (driver->protocol);
  hello->user = g_strdup (user);
  hello->token = g_strdup (token);
  driver_transmit (driver, hello);

  return driver;
}

static gboolean
driver_is_closed (gpointer data)
{
  return ((Driver *) data)->closed;
}

static void
driver_free (Driver *driver)
{
  if (driver->ws != NULL && !driver->closed)
    {
      soup_websocket_connection_close (driver->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      wait_for (driver_is_closed, driver, TIMEOUT_MS, "the WebSocket to close");
    }
  if (driver->ws != NULL)
    g_signal_handlers_disconnect_by_data (driver->ws, driver);
  g_clear_object (&driver->ws);
  g_clear_object (&driver->session);
  g_clear_object (&driver->protocol);
  g_ptr_array_unref (driver->frames);
  g_ptr_array_unref (driver->errors);
  g_free (driver);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Driver, driver_free)

static void
driver_send (Driver     *driver,
             const char *room,
             const char *text,
             const char *cid)
{
  g_autoptr (TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_SEND);

  frame->room = g_strdup (room);
  frame->text = g_strdup (text);
  frame->cid = g_strdup (cid);
  driver_transmit (driver, frame);
}

static void
driver_room (Driver          *driver,
             TincanFrameType  type,
             const char      *room)
{
  g_autoptr (TincanFrame) frame = tincan_frame_new (type);

  frame->room = g_strdup (room);
  driver_transmit (driver, frame);
}

/* What a wait looks for: a frame of @type whose text (MESSAGE), cid (ACK,
 * ERROR with a cid) or code (ERROR) or raw content (UNMAPPED) is @key. */
typedef struct
{
  Driver          *driver;
  TincanFrameType  type;
  const char      *key;
} Want;

static TincanFrame *
driver_find (Driver          *driver,
             TincanFrameType  type,
             const char      *key)
{
  for (guint i = 0; i < driver->frames->len; i++)
    {
      TincanFrame *frame = g_ptr_array_index (driver->frames, i);
      g_autofree char *raw = NULL;

      if (frame->type != type)
        continue;
      if (key == NULL)
        return frame;
      if (frame->raw != NULL)
        raw = g_strndup (g_bytes_get_data (frame->raw, NULL), g_bytes_get_size (frame->raw));
      if (g_strcmp0 (frame->text, key) == 0 || g_strcmp0 (frame->cid, key) == 0 ||
          g_strcmp0 (frame->code, key) == 0 || (raw != NULL && strstr (raw, key) != NULL))
        return frame;
    }

  return NULL;
}

static gboolean
want_cb (gpointer data)
{
  Want *want = data;

  return driver_find (want->driver, want->type, want->key) != NULL;
}

static TincanFrame *
driver_wait (Driver          *driver,
             TincanFrameType  type,
             const char      *key)
{
  Want want = { driver, type, key };
  g_autofree char *what = g_strdup_printf ("a %s frame %s", tincan_frame_type_to_string (type), key ? key : "");

  wait_for (want_cb, &want, TIMEOUT_MS, what);
  return driver_find (driver, type, key);
}

static guint
driver_count (Driver          *driver,
              TincanFrameType  type)
{
  guint n = 0;

  for (guint i = 0; i < driver->frames->len; i++)
    if (((TincanFrame *) g_ptr_array_index (driver->frames, i))->type == type)
      n++;

  return n;
}

static gboolean
all_texts_cb (gpointer data)
{
  return driver_count (data, TINCAN_FRAME_MESSAGE) >= G_N_ELEMENTS (tricky_texts);
}

static gboolean
four_pongs_cb (gpointer data)
{
  return ((Driver *) data)->pongs >= 4 || ((Driver *) data)->closed;
}

static void
test_e2e_plain (void)
{
  g_autoptr (Child) peer = peer_start ("plain-server.py");
  g_autoptr (Driver) a = NULL;
  g_autoptr (Driver) b = NULL;
  TincanFrame *blob;

  if (peer == NULL)
    return;

  a = driver_new ("plain", NULL, peer->port, "alice", NULL);
  b = driver_new ("plain", NULL, peer->port, "bob", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    driver_send (a, "lobby", tricky_texts[i], "c");
  driver_wait (b, TINCAN_FRAME_MESSAGE, "line\xe2\x80\xa8separators\xe2\x80\xa9here");
  driver_wait (a, TINCAN_FRAME_MESSAGE, "line\xe2\x80\xa8separators\xe2\x80\xa9here");
  wait_for (all_texts_cb, b, TIMEOUT_MS, "every text at bob");
  /* The empty text comes after the one waited for above: wait for it too
   * before reading alice's frames. */
  wait_for (all_texts_cb, a, TIMEOUT_MS, "every text at alice");

  /* Both see every text, exactly, in order (the echo included). */
  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    {
      TincanFrame *at_a = g_ptr_array_index (a->frames, i);
      TincanFrame *at_b = g_ptr_array_index (b->frames, i);

      g_assert_cmpint (at_b->type, ==, TINCAN_FRAME_MESSAGE);
      g_assert_cmpstr (at_a->text, ==, tricky_texts[i]);
      g_assert_cmpstr (at_b->text, ==, tricky_texts[i]);
    }

  /* A binary frame is kept, with its bytes. */
  driver_send (a, "lobby", "!binary", NULL);
  blob = driver_wait (a, TINCAN_FRAME_UNMAPPED, NULL);
  g_assert_true (blob->binary);
  g_assert_cmpuint (g_bytes_get_size (blob->raw), ==, 4);
  g_assert_cmpmem (g_bytes_get_data (blob->raw, NULL), 4, "\x00\x01\xfe\xff", 4);
  g_assert_cmpuint (a->errors->len, ==, 0);
}

static void
test_e2e_pubsub (void)
{
  const char * const options[] = { "preset=pubsub", NULL };
  g_autoptr (Child) peer = peer_start ("pubsub-server.js");
  g_autoptr (Driver) a = NULL;
  g_autoptr (Driver) b = NULL;
  g_autoptr (Driver) c = NULL;
  TincanFrame *frame;

  if (peer == NULL)
    return;

  a = driver_new ("json", options, peer->port, "alice", NULL);
  b = driver_new ("json", options, peer->port, "bob", NULL);
  c = driver_new ("json", options, peer->port, "carol", NULL);
  driver_room (a, TINCAN_FRAME_JOIN, "news");
  driver_room (b, TINCAN_FRAME_JOIN, "news");
  driver_room (c, TINCAN_FRAME_JOIN, "sports");
  driver_wait (a, TINCAN_FRAME_UNMAPPED, "\"subscribed\"");
  driver_wait (b, TINCAN_FRAME_UNMAPPED, "\"subscribed\"");
  driver_wait (c, TINCAN_FRAME_UNMAPPED, "\"subscribed\"");

  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    {
      g_autofree char *cid = g_strdup_printf ("c%u", i);

      driver_send (a, "news", tricky_texts[i], cid);
      frame = driver_wait (b, TINCAN_FRAME_MESSAGE, tricky_texts[i]);
      g_assert_cmpstr (frame->room, ==, "news");
      g_assert_cmpstr (frame->user, ==, "alice");
      driver_wait (a, TINCAN_FRAME_MESSAGE, tricky_texts[i]);
    }

  /* carol is on another channel: the first message she sees is hers. */
  driver_send (a, "sports", "goal", "s1");
  frame = driver_wait (c, TINCAN_FRAME_MESSAGE, NULL);
  g_assert_cmpstr (frame->text, ==, "goal");
  g_assert_cmpstr (frame->room, ==, "sports");

  /* bob leaves news: what follows on news does not reach him. */
  driver_room (b, TINCAN_FRAME_LEAVE, "news");
  driver_wait (b, TINCAN_FRAME_UNMAPPED, "\"unsubscribed\"");
  driver_room (b, TINCAN_FRAME_JOIN, "marker");
  driver_wait (b, TINCAN_FRAME_UNMAPPED, "\"channel\":\"marker\"");
  driver_send (a, "news", "after leave", "c-after");
  driver_send (a, "marker", "marker", "c-marker");
  driver_wait (b, TINCAN_FRAME_MESSAGE, "marker");
  g_assert_null (driver_find (b, TINCAN_FRAME_MESSAGE, "after leave"));
  g_assert_cmpuint (a->errors->len + b->errors->len + c->errors->len, ==, 0);
}

static void
test_e2e_socketio (void)
{
  g_autoptr (Child) peer = peer_start ("socketio-server.js");
  g_autoptr (Driver) a = NULL;
  g_autoptr (Driver) b = NULL;
  g_autoptr (Driver) refused = NULL;
  TincanFrame *frame;

  if (peer == NULL)
    return;

  a = driver_new ("socketio", NULL, peer->port, "alice", "good");
  b = driver_new ("socketio", NULL, peer->port, "bob", NULL);
  frame = driver_wait (a, TINCAN_FRAME_WELCOME, NULL);
  /* pingInterval 300 + pingTimeout 1000 ms, rounded up. */
  g_assert_cmpint (frame->heartbeat, ==, 2);
  g_assert_nonnull (frame->session);
  driver_wait (b, TINCAN_FRAME_WELCOME, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    {
      g_autofree char *cid = g_strdup_printf ("cid-%u", i);
      TincanFrame *ack;

      driver_send (a, "lobby", tricky_texts[i], cid);
      ack = driver_wait (a, TINCAN_FRAME_ACK, cid);
      g_assert_nonnull (ack->id);
      frame = driver_wait (b, TINCAN_FRAME_MESSAGE, tricky_texts[i]);
      g_assert_cmpstr (frame->cid, ==, cid);
      g_assert_cmpstr (frame->user, ==, "alice");
      g_assert_cmpstr (frame->room, ==, "lobby");
      g_assert_cmpstr (frame->id, ==, ack->id);
    }

  /* The server pings every 300 ms and drops us after 1 s more without
   * a pong: still here after several, because each was answered. */
  wait_for (four_pongs_cb, a, TIMEOUT_MS, "four server pings");
  g_assert_false (a->closed);

  driver_send (a, "lobby", "!binary", "cid-bin");
  frame = driver_wait (a, TINCAN_FRAME_MESSAGE, "[binary, 3 bytes: 01 02 ff]");
  g_assert_nonnull (driver_find (a, TINCAN_FRAME_UNMAPPED, NULL));

  driver_send (a, "lobby", "!disconnect", "cid-bye");
  frame = driver_wait (a, TINCAN_FRAME_ERROR, "server_disconnect");
  g_assert_null (frame->cid);

  refused = driver_new ("socketio", NULL, peer->port, "mallory", "bad");
  frame = driver_wait (refused, TINCAN_FRAME_ERROR, "connect_error");
  g_assert_cmpstr (frame->message, ==, "Not authorized: bad token");
  g_assert_null (frame->cid);
  g_assert_cmpuint (a->errors->len + b->errors->len + refused->errors->len, ==, 0);
}

typedef struct
{
  Driver    *driver;
  GPtrArray *expired;
} Expiry;

static gboolean
expired_cb (gpointer data)
{
  Expiry *expiry = data;

  tincan_protocol_jsonrpc_expire (TINCAN_PROTOCOL_JSONRPC (expiry->driver->protocol),
                                  tincan_now_ms (), expiry->expired);
  return expiry->expired->len > 0;
}

/* Wakes the main loop now and then, for conditions that depend on time. */
static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
test_e2e_jsonrpc (void)
{
  const char * const options[] = { "request-timeout-ms=300", NULL };
  g_autoptr (Child) peer = peer_start ("jsonrpc-server.py");
  g_autoptr (Driver) a = NULL;
  g_autoptr (Driver) b = NULL;
  g_autoptr (GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  Expiry expiry;
  TincanFrame *frame;
  guint tick;

  if (peer == NULL)
    return;

  a = driver_new ("jsonrpc", options, peer->port, "alice", NULL);
  b = driver_new ("jsonrpc", options, peer->port, "bob", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
    {
      g_autofree char *cid = g_strdup_printf ("cid-%u", i);
      TincanFrame *ack;

      driver_send (a, "lobby", tricky_texts[i], cid);
      ack = driver_wait (a, TINCAN_FRAME_ACK, cid);
      frame = driver_wait (b, TINCAN_FRAME_MESSAGE, tricky_texts[i]);
      g_assert_cmpstr (frame->cid, ==, cid);
      g_assert_cmpstr (frame->user, ==, "alice");
      g_assert_cmpstr (frame->id, ==, ack->id);
    }

  /* A re-sent cid (after a reconnect) is acked again, not notified again. */
  tincan_protocol_reset (a->protocol);
  driver_send (a, "lobby", "once", "cid-once");
  driver_wait (a, TINCAN_FRAME_ACK, "cid-once");
  g_ptr_array_set_size (a->frames, 0);
  driver_send (a, "lobby", "once", "cid-once");
  driver_wait (a, TINCAN_FRAME_ACK, "cid-once");
  g_assert_cmpuint (child_count_lines (peer, "NOTIFY cid-once"), ==, 1);

  driver_send (a, "lobby", "!fail", "cid-fail");
  frame = driver_wait (a, TINCAN_FRAME_ERROR, "cid-fail");
  g_assert_cmpstr (frame->message, ==, "Refused by the test server");

  driver_send (a, "lobby", "!silent", "cid-silent");
  expiry.driver = a;
  expiry.expired = expired;
  tick = g_timeout_add (20, tick_cb, NULL);
  wait_for (expired_cb, &expiry, TIMEOUT_MS, "the request to time out");
  g_source_remove (tick);
  g_assert_cmpuint (expired->len, ==, 1);
  frame = g_ptr_array_index (expired, 0);
  g_assert_cmpstr (frame->cid, ==, "cid-silent");
  g_assert_cmpstr (frame->code, ==, "timeout");
  g_assert_cmpuint (a->errors->len + b->errors->len, ==, 0);
}

/* End to end through the real tincan-cli (TincanConnection and all) */

typedef struct
{
  char  *dir;
  Child *cli;
} CliRun;

static void
remove_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_remove (child);
    }
  g_rmdir (path);
}

static Child *
cli_start (const char         *protocol,
           const char         *url,
           const char         *user,
           const char * const *extra,
           char              **data_dir)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) error = NULL;
  const char *bin = g_getenv ("TINCAN_CLI_BIN");
  Child *child;

  if (bin == NULL)
    {
      g_test_skip ("TINCAN_CLI_BIN is not set");
      return NULL;
    }

  if (*data_dir == NULL)
    {
      *data_dir = g_dir_make_tmp ("tincan-dialects-XXXXXX", &error);
      g_assert_no_error (error);
    }

  g_strv_builder_add_many (builder, bin, "--protocol", protocol, "--user", user,
                           "--data-dir", *data_dir, "--drain-timeout", "6", NULL);
  if (extra != NULL)
    g_strv_builder_addv (builder, (const char **) extra);
  g_strv_builder_add (builder, url);
  argv = g_strv_builder_end (builder);

  child = child_spawn ((const char * const *) argv, &error);
  g_assert_no_error (error);

  return child;
}

static void
child_write (Child      *child,
             const char *line)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *with_newline = g_strconcat (line, "\n", NULL);

  g_output_stream_write_all (g_subprocess_get_stdin_pipe (child->process),
                             with_newline, strlen (with_newline), NULL, NULL, &error);
  g_assert_no_error (error);
}

/* The CLI's JSON Lines events named @event (and, if @member is set, whose
 * @member is @value), each as a JsonNode. */
static GPtrArray *
cli_events (Child      *child,
            const char *event,
            const char *member,
            const char *value)
{
  GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  for (guint i = 0; i < child->lines->len; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *object;

      if (!json_parser_load_from_data (parser, g_ptr_array_index (child->lines, i), -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      object = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (object, "event", ""), event) != 0)
        continue;
      if (member != NULL &&
          (!json_object_has_member (object, member) ||
           !JSON_NODE_HOLDS_VALUE (json_object_get_member (object, member)) ||
           g_strcmp0 (json_object_get_string_member (object, member), value) != 0))
        continue;
      g_ptr_array_add (events, json_node_ref (json_parser_get_root (parser)));
    }

  return events;
}

static const char *
event_string (GPtrArray  *events,
              guint       index,
              const char *member)
{
  JsonObject *object = json_node_get_object (g_ptr_array_index (events, index));

  return json_object_get_string_member_with_default (object, member, NULL);
}

typedef struct
{
  Child      *child;
  const char *event;
  const char *member;
  const char *value;
  guint       count;
} WantEvent;

static gboolean
want_event_cb (gpointer data)
{
  WantEvent *want = data;
  g_autoptr (GPtrArray) events = cli_events (want->child, want->event, want->member, want->value);

  return events->len >= want->count || want->child->exited;
}

static void
cli_wait_event (Child      *child,
                const char *event,
                const char *member,
                const char *value,
                guint       count)
{
  WantEvent want = { child, event, member, value, count };
  g_autofree char *what = g_strdup_printf ("%u “%s” event(s) from tincan-cli", count, event);

  wait_for (want_event_cb, &want, TIMEOUT_MS, what);
}

static void
cli_finish (Child *child)
{
  child_close_stdin (child);
  wait_for (child_done, child, TIMEOUT_MS, "tincan-cli to exit");
}

static void
test_cli_plain (void)
{
  g_autoptr (Child) peer = peer_start ("plain-server.py");
  g_autoptr (Child) cli = NULL;
  g_autoptr (GPtrArray) sent = NULL;
  g_autoptr (GPtrArray) delivered = NULL;
  g_autofree char *url = NULL;
  g_autofree char *dir = NULL;
  const char *two = "two \"quoted\" 😀";
  g_autofree char *two_line = g_strdup_printf ("TEXT %" G_GSIZE_FORMAT, strlen (two));

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  cli = cli_start ("plain", url, "alice", NULL, &dir);
  if (cli == NULL)
    return;
  child_write (cli, "one");
  child_write (cli, two);
  cli_finish (cli);

  /* No ack in plain: each line stops at sent, and the CLI says so. */
  g_assert_cmpint (cli->status, ==, 0);
  sent = cli_events (cli, "sent", NULL, NULL);
  delivered = cli_events (cli, "delivered", NULL, NULL);
  g_assert_cmpuint (sent->len, ==, 2);
  g_assert_cmpuint (delivered->len, ==, 0);
  child_wait_line (peer, "TEXT 3");
  child_wait_line (peer, two_line);
  g_assert_cmpuint (child_count_lines (peer, "TEXT 3"), ==, 1);
  g_assert_cmpuint (child_count_lines (peer, two_line), ==, 1);
  remove_dir (dir);
}

static void
test_cli_plain_receive (void)
{
  g_autoptr (Child) peer = peer_start ("plain-server.py");
  g_autoptr (Child) bob = NULL;
  g_autoptr (Child) alice = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  const char * const receive[] = { "--exit-after-messages", "1", NULL };
  g_autofree char *url = NULL;
  g_autofree char *dir_a = NULL;
  g_autofree char *dir_b = NULL;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  bob = cli_start ("plain", url, "bob", receive, &dir_b);
  if (bob == NULL)
    return;
  cli_wait_event (bob, "state", "state", "connected", 1);
  alice = cli_start ("plain", url, "alice", NULL, &dir_a);
  child_write (alice, "hello bob");
  cli_finish (alice);
  g_assert_cmpint (alice->status, ==, 0);

  /* plain has no rooms: the message lands in the profile's first room. */
  cli_wait_event (bob, "message", NULL, NULL, 1);
  messages = cli_events (bob, "message", NULL, NULL);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (event_string (messages, 0, "text"), ==, "hello bob");
  g_assert_cmpstr (event_string (messages, 0, "room"), ==, "lobby");
  cli_finish (bob);
  g_assert_cmpint (bob->status, ==, 0);
  remove_dir (dir_a);
  remove_dir (dir_b);
}

/* Unmapped frames reach the CLI as {"event":"unmapped",…}; every control
 * character is escaped, so each line is strict JSON. */
static void
test_cli_unmapped_and_controls (void)
{
  g_autoptr (Child) peer = peer_start ("plain-server.py");
  g_autoptr (Child) bob = NULL;
  g_autoptr (Child) alice = NULL;
  g_autoptr (GPtrArray) unmapped = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  const char * const receive[] = { "--exit-after-messages", "1", NULL };
  const char *controls = "unit\x1fsep \x01 bell\x07 del\x7f";
  g_autofree char *url = NULL;
  g_autofree char *dir_a = NULL;
  g_autofree char *dir_b = NULL;
  JsonObject *object;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  bob = cli_start ("plain", url, "bob", receive, &dir_b);
  if (bob == NULL)
    return;
  cli_wait_event (bob, "state", "state", "connected", 1);
  alice = cli_start ("plain", url, "alice", NULL, &dir_a);
  child_write (alice, "!binary");
  cli_wait_event (alice, "unmapped", NULL, NULL, 1);
  child_write (alice, controls);
  cli_finish (alice);
  g_assert_cmpint (alice->status, ==, 0);

  unmapped = cli_events (alice, "unmapped", NULL, NULL);
  g_assert_cmpuint (unmapped->len, ==, 1);
  object = json_node_get_object (g_ptr_array_index (unmapped, 0));
  g_assert_true (json_object_get_boolean_member (object, "binary"));
  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (object, "hex"), ==, "0001feff");
  g_assert_cmpstr (json_object_get_string_member (object, "room"), ==, "lobby");

  cli_wait_event (bob, "message", NULL, NULL, 1);
  cli_finish (bob);
  g_assert_cmpint (bob->status, ==, 0);
  messages = cli_events (bob, "message", NULL, NULL);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (event_string (messages, 0, "text"), ==, controls);

  /* Strict JSON: no raw control byte on any line, of either process. */
  for (guint i = 0; i < bob->lines->len; i++)
    for (const char *p = g_ptr_array_index (bob->lines, i); *p != '\0'; p++)
      g_assert_cmpint ((guchar) *p, >=, 0x20);
  for (guint i = 0; i < alice->lines->len; i++)
    for (const char *p = g_ptr_array_index (alice->lines, i); *p != '\0'; p++)
      g_assert_cmpint ((guchar) *p, >=, 0x20);
  remove_dir (dir_a);
  remove_dir (dir_b);
}

static void
test_cli_socketio_reconnect (void)
{
  g_autoptr (Child) peer = peer_start ("socketio-server.js");
  g_autoptr (Child) cli = NULL;
  g_autoptr (GPtrArray) queued = NULL;
  g_autoptr (GPtrArray) delivered = NULL;
  g_autofree char *url = NULL;
  g_autofree char *dir = NULL;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/socket.io/?EIO=4&transport=websocket", peer->port);
  cli = cli_start ("socketio", url, "alice", NULL, &dir);
  if (cli == NULL)
    return;

  /* "drop:" makes the server cut the transport without acking, and refuse
   * connections for a while: what is typed meanwhile waits in the outbox. */
  child_write (cli, "first");
  child_write (cli, "drop: the second");
  cli_wait_event (cli, "state", "state", "reconnecting", 1);
  child_write (cli, "third, typed while away");
  child_write (cli, "fourth \"quoted\"\\ 😀");
  cli_finish (cli);

  g_assert_cmpint (cli->status, ==, 0);
  queued = cli_events (cli, "queued", NULL, NULL);
  delivered = cli_events (cli, "delivered", NULL, NULL);
  g_assert_cmpuint (queued->len, ==, 4);
  g_assert_cmpuint (delivered->len, ==, 4);

  /* Each message reached the chat exactly once, re-sends included. */
  for (guint i = 0; i < queued->len; i++)
    {
      g_autofree char *line = g_strdup_printf ("BROADCAST %s", event_string (queued, i, "cid"));

      g_assert_cmpuint (child_count_lines (peer, line), ==, 1);
    }
  g_assert_cmpuint (child_count_lines (peer, "CONNECT alice"), >=, 2);
  remove_dir (dir);
}

static void
test_cli_socketio_refused (void)
{
  g_autoptr (Child) peer = peer_start ("socketio-server.js");
  g_autoptr (Child) cli = NULL;
  g_autoptr (GPtrArray) failed = NULL;
  const char * const token[] = { "--token", "bad", NULL };
  g_autofree char *url = NULL;
  g_autofree char *dir = NULL;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/socket.io/?EIO=4&transport=websocket", peer->port);
  cli = cli_start ("socketio", url, "mallory", token, &dir);
  if (cli == NULL)
    return;
  child_write (cli, "let me in");
  cli_finish (cli);

  /* CONNECT_ERROR is terminal: failed with the server's words, no retry. */
  failed = cli_events (cli, "state", "state", "failed");
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpint (cli->status, ==, 1);
  g_assert_nonnull (strstr (event_string (failed, 0, "error"), "Not authorized: bad token"));
  {
    g_autoptr (GPtrArray) reconnecting = cli_events (cli, "state", "state", "reconnecting");

    g_assert_cmpuint (reconnecting->len, ==, 0);
  }
  remove_dir (dir);
}

static void
test_cli_socketio_server_disconnect (void)
{
  g_autoptr (Child) peer = peer_start ("socketio-server.js");
  g_autoptr (Child) cli = NULL;
  g_autoptr (GPtrArray) failed = NULL;
  g_autofree char *url = NULL;
  g_autofree char *dir = NULL;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/socket.io/?EIO=4&transport=websocket", peer->port);
  cli = cli_start ("socketio", url, "alice", NULL, &dir);
  if (cli == NULL)
    return;
  child_write (cli, "!disconnect");
  cli_finish (cli);

  /* "41" from the server: failed, and no second CONNECT. */
  failed = cli_events (cli, "state", "state", "failed");
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpint (cli->status, ==, 1);
  g_assert_nonnull (event_string (failed, 0, "error"));
  g_assert_cmpuint (child_count_lines (peer, "CONNECT alice"), ==, 1);
  remove_dir (dir);
}

static void
test_cli_jsonrpc (void)
{
  g_autoptr (Child) peer = peer_start ("jsonrpc-server.py");
  g_autoptr (Child) alice = NULL;
  g_autoptr (Child) bob = NULL;
  g_autoptr (GPtrArray) delivered = NULL;
  g_autoptr (GPtrArray) failed = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  const char * const receive[] = { "--exit-after-messages", "2", NULL };
  g_autofree char *url = NULL;
  g_autofree char *dir_a = NULL;
  g_autofree char *dir_b = NULL;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  bob = cli_start ("jsonrpc", url, "bob", receive, &dir_b);
  if (bob == NULL)
    return;
  cli_wait_event (bob, "state", "state", "connected", 1);

  alice = cli_start ("jsonrpc", url, "alice", NULL, &dir_a);
  child_write (alice, "a \"quoted\" line");
  child_write (alice, "!fail");
  child_write (alice, "b\\n 😀");
  cli_finish (alice);

  /* One refused line: exit 1, the others delivered, the reason shown. */
  g_assert_cmpint (alice->status, ==, 1);
  delivered = cli_events (alice, "delivered", NULL, NULL);
  failed = cli_events (alice, "failed", NULL, NULL);
  g_assert_cmpuint (delivered->len, ==, 2);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpstr (event_string (failed, 0, "reason"), ==, "Refused by the test server");

  cli_finish (bob);
  g_assert_cmpint (bob->status, ==, 0);
  messages = cli_events (bob, "message", NULL, NULL);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpstr (event_string (messages, 0, "text"), ==, "a \"quoted\" line");
  g_assert_cmpstr (event_string (messages, 0, "from"), ==, "alice");
  g_assert_cmpstr (event_string (messages, 1, "text"), ==, "b\\n 😀");
  remove_dir (dir_a);
  remove_dir (dir_b);
}

static gboolean
cli_has_option (const char *option)
{
  const char *bin = g_getenv ("TINCAN_CLI_BIN");
  g_autofree char *out = NULL;
  const char *argv[] = { bin, "--help", NULL };

  if (bin == NULL ||
      !g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                     &out, NULL, NULL, NULL))
    return FALSE;

  return strstr (out, option) != NULL;
}

static void
test_cli_pubsub (void)
{
  g_autoptr (Child) peer = NULL;
  g_autoptr (Child) alice = NULL;
  g_autoptr (Child) bob = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GPtrArray) sent = NULL;
  const char * const sender[] = { "--preset", "pubsub", "--room", "news", NULL };
  const char * const receive[] = { "--preset", "pubsub", "--room", "news", "--exit-after-messages", "1", NULL };
  g_autofree char *url = NULL;
  g_autofree char *dir_a = NULL;
  g_autofree char *dir_b = NULL;

  g_assert_true (cli_has_option ("--preset"));

  peer = peer_start ("pubsub-server.js");
  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  bob = cli_start ("json", url, "bob", receive, &dir_b);
  cli_wait_event (bob, "state", "state", "connected", 1);
  alice = cli_start ("json", url, "alice", sender, &dir_a);
  child_write (alice, "breaking \"news\" 😀");
  cli_finish (alice);
  g_assert_cmpint (alice->status, ==, 0);
  sent = cli_events (alice, "sent", NULL, NULL);
  g_assert_cmpuint (sent->len, ==, 1);

  cli_finish (bob);
  g_assert_cmpint (bob->status, ==, 0);
  messages = cli_events (bob, "message", NULL, NULL);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (event_string (messages, 0, "text"), ==, "breaking \"news\" 😀");
  g_assert_cmpstr (event_string (messages, 0, "room"), ==, "news");
  g_assert_cmpstr (event_string (messages, 0, "from"), ==, "alice");
  remove_dir (dir_a);
  remove_dir (dir_b);
}

/* Through TincanConnection itself: the wiring of the dialects */

typedef struct
{
  char             *dir;
  TincanStore      *store;
  TincanProfile    *profile;
  TincanConnection *connection;
  GPtrArray        *received;   /* TincanMessage, message-received */
  GPtrArray        *unmapped;   /* TincanMessage, unmapped */
  GArray           *states;     /* TincanConnectionState, each change */
  gboolean          last_binary;
} Conn;

static void
on_conn_received (TincanConnection *connection,
                  TincanMessage    *message,
                  Conn             *conn)
{
  g_ptr_array_add (conn->received, g_object_ref (message));
}

static void
on_conn_unmapped (TincanConnection *connection,
                  TincanMessage    *message,
                  GBytes           *payload,
                  gboolean          binary,
                  Conn             *conn)
{
  g_assert_nonnull (payload);
  g_ptr_array_add (conn->unmapped, g_object_ref (message));
  conn->last_binary = binary;
}

static void
on_conn_state (TincanConnection *connection,
               GParamSpec       *pspec,
               Conn             *conn)
{
  TincanConnectionState state = tincan_connection_get_state (connection);

  g_array_append_val (conn->states, state);
}

static Conn *
conn_new (const char         *protocol,
          const char * const *options,
          const char         *url,
          const char         *user,
          const char * const *rooms)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  Conn *conn = g_new0 (Conn, 1);

  conn->dir = g_dir_make_tmp ("tincan-dialects-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (conn->dir, "store.sqlite", NULL);
  conn->store = tincan_store_new (path, &error);
  g_assert_no_error (error);

  conn->profile = tincan_profile_new ();
  tincan_profile_set_url (conn->profile, url);
  tincan_profile_set_protocol (conn->profile, protocol);
  tincan_profile_set_user (conn->profile, user);
  if (rooms != NULL)
    tincan_profile_set_rooms (conn->profile, rooms);
  if (options != NULL)
    g_object_set (conn->profile, "protocol-options", options, NULL);
  g_object_set (conn->profile,
                "reconnect-base-ms", 50,
                "reconnect-cap-ms", 200,
                NULL);

  conn->received = g_ptr_array_new_with_free_func (g_object_unref);
  conn->unmapped = g_ptr_array_new_with_free_func (g_object_unref);
  conn->states = g_array_new (FALSE, FALSE, sizeof (TincanConnectionState));
  conn->connection = tincan_connection_new (conn->profile, conn->store);
  g_signal_connect (conn->connection, "message-received", G_CALLBACK (on_conn_received), conn);
  g_signal_connect (conn->connection, "unmapped", G_CALLBACK (on_conn_unmapped), conn);
  g_signal_connect (conn->connection, "notify::state", G_CALLBACK (on_conn_state), conn);

  return conn;
}

static void
conn_free (Conn *conn)
{
  g_signal_handlers_disconnect_by_data (conn->connection, conn);
  tincan_connection_disconnect (conn->connection);
  g_clear_object (&conn->connection);
  tincan_store_flush (conn->store, NULL);
  g_clear_object (&conn->store);
  g_clear_object (&conn->profile);
  g_clear_pointer (&conn->received, g_ptr_array_unref);
  g_clear_pointer (&conn->unmapped, g_ptr_array_unref);
  g_clear_pointer (&conn->states, g_array_unref);
  remove_dir (conn->dir);
  g_free (conn->dir);
  g_free (conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conn, conn_free)

static gboolean
conn_saw_state (Conn                 *conn,
                TincanConnectionState state)
{
  for (guint i = 0; i < conn->states->len; i++)
    if (g_array_index (conn->states, TincanConnectionState, i) == state)
      return TRUE;

  return FALSE;
}

typedef struct
{
  Conn                 *conn;
  TincanConnectionState state;
} WantState;

static gboolean
want_state_cb (gpointer data)
{
  WantState *want = data;

  return tincan_connection_get_state (want->conn->connection) == want->state;
}

static void
conn_wait_state (Conn                 *conn,
                 TincanConnectionState state)
{
  WantState want = { conn, state };
  g_autofree char *what = g_strdup_printf ("the connection to be %s",
                                           tincan_connection_state_to_string (state));

  wait_for (want_state_cb, &want, TIMEOUT_MS, what);
}

typedef struct
{
  TincanMessage     *message;
  TincanMessageState state;
} WantMessage;

static gboolean
want_message_cb (gpointer data)
{
  WantMessage *want = data;

  return tincan_message_get_state (want->message) == want->state;
}

static void
message_wait_state (TincanMessage     *message,
                    TincanMessageState state)
{
  WantMessage want = { message, state };
  g_autofree char *what = g_strdup_printf ("the message to be %s",
                                           tincan_message_state_to_string (state));

  wait_for (want_message_cb, &want, TIMEOUT_MS, what);
}

typedef struct
{
  GPtrArray *array;
  guint      count;
} WantCount;

static gboolean
want_count_cb (gpointer data)
{
  WantCount *want = data;

  return want->array->len >= want->count;
}

static void
array_wait_count (GPtrArray  *array,
                  guint       count,
                  const char *what)
{
  WantCount want = { array, count };

  wait_for (want_count_cb, &want, TIMEOUT_MS, what);
}

static TincanMessage *
conn_send (Conn       *conn,
           const char *room,
           const char *text)
{
  g_autoptr (GError) error = NULL;
  TincanMessage *message = tincan_connection_send (conn->connection, room, text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);

  return message;
}

/* plain: no rooms, no acks, binary frames. */
static void
test_connection_plain (void)
{
  const char * const rooms[] = { "general", NULL };
  g_autoptr (Child) peer = peer_start ("plain-server.py");
  g_autoptr (Conn) alice = NULL;
  g_autoptr (Conn) bob = NULL;
  g_autoptr (TincanMessage) hello = NULL;
  g_autoptr (TincanMessage) ask = NULL;
  g_autofree char *url = NULL;
  TincanMessage *message;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  alice = conn_new ("plain", NULL, url, "alice", rooms);
  bob = conn_new ("plain", NULL, url, "bob", rooms);
  tincan_connection_connect (alice->connection);
  tincan_connection_connect (bob->connection);
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED);
  conn_wait_state (bob, TINCAN_CONNECTION_STATE_CONNECTED);
  /* No rooms on the wire: the profile's are where messages go. */
  g_assert_true (g_strv_equal (tincan_connection_get_rooms (alice->connection), rooms));

  /* No ack: delivery stops at sent, and the outbox is empty. */
  hello = conn_send (alice, "general", "hello \"bob\" 😀");
  message_wait_state (hello, TINCAN_MESSAGE_STATE_SENT);
  g_assert_cmpuint (tincan_connection_get_queued_count (alice->connection), ==, 0);

  /* A frame with no room lands in the profile's first room. */
  array_wait_count (bob->received, 1, "bob to receive the message");
  message = g_ptr_array_index (bob->received, 0);
  g_assert_cmpstr (tincan_message_get_text (message), ==, "hello \"bob\" 😀");
  g_assert_cmpstr (tincan_message_get_room (message), ==, "general");
  g_assert_false (tincan_connection_message_is_unmapped (message));

  /* A binary frame is kept and shown: size and hex, never dropped. */
  ask = conn_send (alice, "general", "!binary");
  array_wait_count (alice->unmapped, 1, "the binary frame");
  message = g_ptr_array_index (alice->unmapped, 0);
  g_assert_true (alice->last_binary);
  g_assert_true (tincan_connection_message_is_unmapped (message));
  g_assert_cmpstr (tincan_message_get_room (message), ==, "general");
  g_assert_null (tincan_message_get_sender (message));
  g_assert_cmpstr (tincan_message_get_text (message), ==, "Binary frame, 4 bytes: 00 01 fe ff");
  /* …and it reaches the views like any message. */
  g_assert_true (g_ptr_array_find (alice->received, message, NULL));
  g_assert_false (tincan_message_is_outgoing (message));
  g_assert_cmpint (tincan_connection_get_state (alice->connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);
}

/* json with options from the profile: the pubsub preset, rooms as
 * channels; options rebuilt when they change, bad ones fail clearly. */
static void
test_connection_pubsub (void)
{
  const char * const pubsub[] = { "preset=pubsub", NULL };
  const char * const bogus[] = { "preset=no-such-preset", NULL };
  const char * const rooms[] = { "news", NULL };
  g_autoptr (Child) peer = peer_start ("pubsub-server.js");
  g_autoptr (Conn) alice = NULL;
  g_autoptr (Conn) bob = NULL;
  g_autoptr (TincanMessage) sent = NULL;
  g_autofree char *url = NULL;
  const GError *error;
  TincanMessage *message;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  alice = conn_new ("json", pubsub, url, "alice", rooms);
  bob = conn_new ("json", pubsub, url, "bob", rooms);
  g_assert_cmpstr (tincan_connection_get_protocol_name (alice->connection), ==, "json");
  tincan_connection_connect (bob->connection);
  conn_wait_state (bob, TINCAN_CONNECTION_STATE_CONNECTED);
  /* The server's {"type":"subscribed"} maps to no message: shown as unmapped. */
  array_wait_count (bob->unmapped, 1, "bob's subscription to be confirmed");
  message = g_ptr_array_index (bob->unmapped, 0);
  g_assert_false (bob->last_binary);
  g_assert_nonnull (strstr (tincan_message_get_text (message), "subscribed"));
  g_assert_cmpstr (tincan_message_get_room (message), ==, "news");

  tincan_connection_connect (alice->connection);
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED);
  array_wait_count (alice->unmapped, 1, "alice's subscription to be confirmed");
  sent = conn_send (alice, "news", "breaking \"news\" \x1f 😀");
  message_wait_state (sent, TINCAN_MESSAGE_STATE_SENT);

  wait_for (want_count_cb, &(WantCount) { bob->received, bob->unmapped->len + 1 }, TIMEOUT_MS,
            "bob to receive the news");
  message = NULL;
  for (guint i = 0; i < bob->received->len; i++)
    if (!tincan_connection_message_is_unmapped (g_ptr_array_index (bob->received, i)))
      message = g_ptr_array_index (bob->received, i);
  g_assert_nonnull (message);
  g_assert_cmpstr (tincan_message_get_text (message), ==, "breaking \"news\" \x1f 😀");
  g_assert_cmpstr (tincan_message_get_room (message), ==, "news");
  g_assert_cmpstr (tincan_message_get_sender (message), ==, "alice");

  /* New options while disconnected: rebuilt at once; invalid ones make
   * the next attempt fail with a reason, not crash or loop. */
  tincan_connection_disconnect (alice->connection);
  g_object_set (alice->profile, "protocol-options", bogus, NULL);
  tincan_connection_connect (alice->connection);
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_FAILED);
  error = tincan_connection_get_last_error (alice->connection);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "no-such-preset"));

  g_object_set (alice->profile, "protocol-options", pubsub, NULL);
  tincan_connection_connect (alice->connection);
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED);

  /* Another dialect entirely: the protocol follows the profile. */
  tincan_connection_disconnect (alice->connection);
  tincan_profile_set_protocol (alice->profile, "plain");
  g_object_set (alice->profile, "protocol-options", NULL, NULL);
  g_assert_cmpstr (tincan_connection_get_protocol_name (alice->connection), ==, "plain");
}

static char *
bad_token (gpointer data)
{
  return g_strdup ("bad");
}

/* socketio: the URL gets /socket.io/?EIO=4&transport=websocket, acks make
 * messages delivered, CONNECT_ERROR and a server disconnect are terminal. */
static void
test_connection_socketio (void)
{
  g_autoptr (Child) peer = peer_start ("socketio-server.js");
  g_autoptr (Conn) alice = NULL;
  g_autoptr (Conn) mallory = NULL;
  g_autoptr (TincanMessage) hi = NULL;
  g_autoptr (TincanMessage) bye = NULL;
  g_autofree char *url = NULL;
  const GError *error;

  if (peer == NULL)
    return;

  /* No path at all: the dialect supplies Engine.IO's. */
  url = g_strdup_printf ("ws://127.0.0.1:%u", peer->port);
  alice = conn_new ("socketio", NULL, url, "alice", NULL);
  tincan_connection_connect (alice->connection);
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED);
  child_wait_line (peer, "CONNECT alice");

  hi = conn_send (alice, "lobby", "hi \"all\"");
  message_wait_state (hi, TINCAN_MESSAGE_STATE_DELIVERED);

  /* Refused: failed with the server's message, and no retry loop. */
  mallory = conn_new ("socketio", NULL, url, "mallory", NULL);
  tincan_profile_set_auth_method (mallory->profile, TINCAN_AUTH_HELLO);
  tincan_connection_set_token_provider (mallory->connection, bad_token, NULL, NULL);
  tincan_connection_connect (mallory->connection);
  conn_wait_state (mallory, TINCAN_CONNECTION_STATE_FAILED);
  error = tincan_connection_get_last_error (mallory->connection);
  g_assert_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TERMINAL);
  g_assert_nonnull (strstr (error->message, "Not authorized: bad token"));
  g_assert_cmpint (tincan_connection_get_retry_at (mallory->connection), ==, 0);
  g_assert_false (conn_saw_state (mallory, TINCAN_CONNECTION_STATE_RECONNECTING));

  /* The server ends the session (41): failed, not reconnecting. */
  bye = conn_send (alice, "lobby", "!disconnect");
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_FAILED);
  error = tincan_connection_get_last_error (alice->connection);
  g_assert_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TERMINAL);
  g_assert_cmpint (tincan_connection_get_retry_at (alice->connection), ==, 0);
  g_assert_false (conn_saw_state (alice, TINCAN_CONNECTION_STATE_RECONNECTING));
  g_assert_cmpuint (child_count_lines (peer, "CONNECT alice"), ==, 1);
  /* The message the server never answered is still in the outbox. */
  g_assert_cmpint (tincan_message_get_state (bye), ==, TINCAN_MESSAGE_STATE_QUEUED);
}

/* A minimal Engine.IO server that opens, accepts the CONNECT and then
 * says nothing, not even a ping. */
static void
on_silent_eio_message (SoupWebsocketConnection *ws,
                       int                      type,
                       GBytes                  *message,
                       gpointer                 user_data)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (message, &size);

  if (size >= 2 && data[0] == '4' && data[1] == '0')
    soup_websocket_connection_send_text (ws, "40{\"sid\":\"silent-1\"}");
}

static void
on_silent_eio (SoupServer              *server,
               SoupServerMessage       *msg,
               const char              *path,
               SoupWebsocketConnection *ws,
               gpointer                 user_data)
{
  GPtrArray *sockets = user_data;

  g_ptr_array_add (sockets, g_object_ref (ws));
  g_signal_connect (ws, "message", G_CALLBACK (on_silent_eio_message), NULL);
  soup_websocket_connection_send_text (ws, "0{\"sid\":\"e1\",\"upgrades\":[],"
                                           "\"pingInterval\":300,\"pingTimeout\":200,"
                                           "\"maxPayload\":1000000}");
}

/* The liveness window comes from the open packet (pingInterval +
 * pingTimeout, here 1 s), not from the profile (heartbeat off here). */
static void
test_connection_socketio_heartbeat (void)
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GPtrArray) sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  g_autoptr (Conn) conn = NULL;
  g_autofree char *url = NULL;
  GSList *uris;
  gint64 connected_at;
  gint64 silence_ms;

  soup_server_add_websocket_handler (server, NULL, NULL, NULL, on_silent_eio, sockets, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("ws://127.0.0.1:%d/", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  conn = conn_new ("socketio", NULL, url, "alice", NULL);
  g_object_set (conn->profile, "heartbeat-interval", 0, NULL);
  tincan_connection_connect (conn->connection);
  conn_wait_state (conn, TINCAN_CONNECTION_STATE_CONNECTED);
  connected_at = g_get_monotonic_time ();

  conn_wait_state (conn, TINCAN_CONNECTION_STATE_RECONNECTING);
  silence_ms = (g_get_monotonic_time () - connected_at) / 1000;
  g_test_message ("declared dead after %lld ms of silence", (long long) silence_ms);
  g_assert_cmpint (silence_ms, >=, 700);
  g_assert_cmpint (silence_ms, <, 5000);
  g_assert_error (tincan_connection_get_last_error (conn->connection),
                  TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT);
  tincan_connection_disconnect (conn->connection);
  soup_server_disconnect (server);
}

/* jsonrpc: result → delivered, error → failed with the server's words,
 * no answer → failed after request-timeout-ms, the socket stays up. */
static void
test_connection_jsonrpc (void)
{
  const char * const options[] = { "request-timeout-ms=300", NULL };
  g_autoptr (Child) peer = peer_start ("jsonrpc-server.py");
  g_autoptr (Conn) alice = NULL;
  g_autoptr (TincanMessage) ok = NULL;
  g_autoptr (TincanMessage) refused = NULL;
  g_autoptr (TincanMessage) silent = NULL;
  g_autoptr (TincanMessage) after = NULL;
  g_autofree char *url = NULL;

  if (peer == NULL)
    return;

  url = g_strdup_printf ("ws://127.0.0.1:%u/", peer->port);
  alice = conn_new ("jsonrpc", options, url, "alice", NULL);
  tincan_connection_connect (alice->connection);
  conn_wait_state (alice, TINCAN_CONNECTION_STATE_CONNECTED);

  ok = conn_send (alice, "lobby", "fine");
  refused = conn_send (alice, "lobby", "!fail");
  silent = conn_send (alice, "lobby", "!silent");
  message_wait_state (ok, TINCAN_MESSAGE_STATE_DELIVERED);
  message_wait_state (refused, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_cmpstr (tincan_message_get_reason (refused), ==, "Refused by the test server");
  message_wait_state (silent, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_nonnull (strstr (tincan_message_get_reason (silent), "300 ms"));
  g_assert_cmpint (tincan_connection_get_state (alice->connection), ==, TINCAN_CONNECTION_STATE_CONNECTED);

  /* The timer went with the last request; a new one is timed again. */
  after = conn_send (alice, "lobby", "!silent");
  message_wait_state (after, TINCAN_MESSAGE_STATE_FAILED);
  g_assert_cmpuint (tincan_connection_get_queued_count (alice->connection), ==, 0);
}

/* Malformed input, every dialect */

#define OK_FRAMES (-1)

typedef struct
{
  const char *dialect;
  const char *what;
  const char *data;
  int         expect;         /* a TincanProtocolError, or OK_FRAMES */
  int         first_type;     /* with OK_FRAMES: the first frame's type */
} BadCase;

static char *
nested (const char *open,
        guint       depth,
        const char *prefix)
{
  GString *out = g_string_new (prefix);

  for (guint i = 0; i < depth; i++)
    g_string_append (out, open);

  return g_string_free (out, FALSE);
}

static void
test_malformed (void)
{
  g_autofree char *deep_array = nested ("[", 100000, "");
  g_autofree char *deep_object = nested ("{\"a\":", 1000, "");
  g_autofree char *deep_sio = nested ("[", 5000, "42[\"message\",");
  g_autofree char *deep_rpc = nested ("[", 65, "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":");
  g_autofree char *huge_text = g_strnfill (TINCAN_DIALECT_MAX_SIZE + 1, 'a');
  const BadCase cases[] = {
    { "plain", "invalid UTF-8", "ab\xff\xfe", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "plain", "truncated UTF-8", "h\xc3", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "plain", "overlong UTF-8", "\xc0\xaf", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "plain", "JSON is just text", "{\"text\":", OK_FRAMES, TINCAN_FRAME_MESSAGE },
    { "plain", "over the size limit", huge_text, TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },

    { "json", "empty", "", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "truncated", "{\"text\":\"hi", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "not JSON", "hello there", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "invalid UTF-8", "{\"text\":\"\xff\"}", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "json", "deep arrays", deep_array, TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },
    { "json", "deep objects", deep_object, TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },
    { "json", "a number", "123456789012345678901234567890", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "json", "null", "null", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "json", "array", "[\"text\",\"x\"]", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "json", "text of the wrong type", "{\"text\":12,\"user\":\"u\"}", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "json", "text an object", "{\"text\":{\"a\":1}}", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "json", "no text", "{\"user\":\"u\"}", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "json", "huge numbers", "{\"text\":\"t\",\"id\":1e400,\"ts\":-99999999999999999999999}", OK_FRAMES, TINCAN_FRAME_MESSAGE },
    { "json", "lone surrogate", "{\"text\":\"\\ud800\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    /* json-glib 1.6 would return the first value and leak the rest. */
    { "json", "number then object", "40{\"sid\":\"x\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "string then object", "\"a\"{\"text\":\"b\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "two objects", "{\"text\":\"a\"} {\"text\":\"b\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "number then number", "1 2", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "comment after", "{\"text\":\"a\"}/*x*/", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "object then whitespace", "{\"text\":\"a\",\"user\":\"u\"} \r\n\t", OK_FRAMES, TINCAN_FRAME_MESSAGE },
    { "jsonrpc", "number then object", "1{}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    /* Escapes json-glib 1.6 would read as it likes, or leak on. */
    { "json", "unknown escape", "{\"text\":\"\\q\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "short \\u escape", "{\"text\":\"\\u0\\\\28\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "high surrogate then a letter", "{\"text\":\"\\ud83d\\u0041\"}", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "surrogate pair", "{\"text\":\"\\ud83d\\ude00\",\"user\":\"u\"}", OK_FRAMES, TINCAN_FRAME_MESSAGE },
    { "jsonrpc", "two low surrogates", "[\"\\udc00\\udc00\"]", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "socketio", "event then array", "42[\"message\",\"x\"][1]", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "socketio", "open then number", "0{\"sid\":\"x\",\"pingInterval\":1,\"pingTimeout\":1}7", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "json", "over the size limit", huge_text, TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },
    { "json", "lone low surrogate", "{\"text\":\"a\\udc00b\"}", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "jsonrpc", "lone low surrogate", "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":[\"a\\udc00b\"]}", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },

    { "socketio", "empty", "", TINCAN_PROTOCOL_ERROR_MISSING_FIELD, 0 },
    { "socketio", "unknown Engine.IO type", "9", TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, 0 },
    { "socketio", "not a packet", "hello", TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, 0 },
    { "socketio", "empty message", "4", TINCAN_PROTOCOL_ERROR_MISSING_FIELD, 0 },
    { "socketio", "unknown Socket.IO type", "47[]", TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, 0 },
    { "socketio", "open without JSON", "0", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "socketio", "open truncated", "0{\"sid\":\"x\",\"pingInt", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "socketio", "open without timers", "0{\"sid\":\"x\"}", TINCAN_PROTOCOL_ERROR_MISSING_FIELD, 0 },
    { "socketio", "open timers wrong type", "0{\"pingInterval\":\"25000\",\"pingTimeout\":1}", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "socketio", "open timers huge", "0{\"pingInterval\":1e300,\"pingTimeout\":1}", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "socketio", "open timers out of range", "0{\"pingInterval\":99999999999,\"pingTimeout\":1}", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "socketio", "open an array", "0[]", TINCAN_PROTOCOL_ERROR_NOT_OBJECT, 0 },
    { "socketio", "event without data", "42", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "socketio", "event truncated", "42[\"message\",\"hi", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "socketio", "event an object", "42{\"a\":1}", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "socketio", "event empty array", "42[]", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "socketio", "event name a number", "42[1,\"x\"]", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "socketio", "event invalid UTF-8", "42[\"message\",\"\xed\xa0\x80\"]", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "socketio", "event deep", deep_sio, TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },
    { "socketio", "huge ack id", "4299999999999999999999[\"message\",\"x\"]", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "socketio", "binary without count", "45-[\"message\"]", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "socketio", "binary count without dash", "452[\"message\"]", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "socketio", "too many attachments", "45999-[\"message\"]", TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },
    { "socketio", "event payload wrong type", "42[\"message\",{\"text\":5}]", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "socketio", "event without payload", "42[\"message\"]", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "socketio", "ack for nothing", "43[]", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "socketio", "namespace never closed", "42/chat", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "socketio", "engine close", "1", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "socketio", "connect error as string", "44\"nope\"", OK_FRAMES, TINCAN_FRAME_ERROR },
    { "socketio", "connect error empty", "44", OK_FRAMES, TINCAN_FRAME_ERROR },

    { "jsonrpc", "empty", "", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "jsonrpc", "truncated", "{\"jsonrpc\":\"2.0\",\"met", TINCAN_PROTOCOL_ERROR_INVALID_JSON, 0 },
    { "jsonrpc", "invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":[\"\xf8\x88\x80\x80\x80\"]}", TINCAN_PROTOCOL_ERROR_INVALID_UTF8, 0 },
    { "jsonrpc", "a number", "5", TINCAN_PROTOCOL_ERROR_NOT_OBJECT, 0 },
    { "jsonrpc", "empty object", "{}", TINCAN_PROTOCOL_ERROR_MISSING_FIELD, 0 },
    { "jsonrpc", "version a number", "{\"jsonrpc\":2,\"method\":\"message\"}", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "jsonrpc", "version 1.0", "{\"jsonrpc\":\"1.0\",\"method\":\"message\"}", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "jsonrpc", "nothing inside", "{\"jsonrpc\":\"2.0\"}", TINCAN_PROTOCOL_ERROR_MISSING_FIELD, 0 },
    { "jsonrpc", "method a number", "{\"jsonrpc\":\"2.0\",\"method\":5}", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "jsonrpc", "id an object", "{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":1}", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "jsonrpc", "id huge", "{\"jsonrpc\":\"2.0\",\"id\":1e999,\"result\":1}", TINCAN_PROTOCOL_ERROR_WRONG_TYPE, 0 },
    { "jsonrpc", "empty batch", "[]", TINCAN_PROTOCOL_ERROR_INVALID_VALUE, 0 },
    { "jsonrpc", "batch of numbers", "[1,2]", TINCAN_PROTOCOL_ERROR_NOT_OBJECT, 0 },
    { "jsonrpc", "deep params", deep_rpc, TINCAN_PROTOCOL_ERROR_TOO_LARGE, 0 },
    { "jsonrpc", "params text wrong type", "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"text\":[\"x\"]}}", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "jsonrpc", "params missing", "{\"jsonrpc\":\"2.0\",\"method\":\"message\"}", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "jsonrpc", "result for nothing", "{\"jsonrpc\":\"2.0\",\"id\":\"zz-1\",\"result\":{}}", OK_FRAMES, TINCAN_FRAME_UNMAPPED },
    { "jsonrpc", "error for nothing", "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}", OK_FRAMES, TINCAN_FRAME_ERROR },
    { "jsonrpc", "error malformed", "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":\"boom\"}", OK_FRAMES, TINCAN_FRAME_ERROR },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TincanProtocol) protocol = new_dialect (cases[i].dialect, NULL);
      g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
      g_autoptr (GBytes) payload = g_bytes_new (cases[i].data, strlen (cases[i].data));
      g_autoptr (GError) error = NULL;
      gboolean ok;

      g_test_message ("%s: %s", cases[i].dialect, cases[i].what);
      ok = tincan_protocol_decode (protocol, FALSE, payload, frames, &error);

      if (cases[i].expect == OK_FRAMES)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (frames->len, >=, 1);
          g_assert_cmpint (((TincanFrame *) frames->pdata[0])->type, ==, cases[i].first_type);
          if (cases[i].first_type == TINCAN_FRAME_UNMAPPED)
            g_assert_true (g_bytes_equal (((TincanFrame *) frames->pdata[0])->raw, payload));
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, TINCAN_PROTOCOL_ERROR, cases[i].expect);
          g_assert_cmpuint (strlen (error->message), >, 0);
          g_test_message ("  → %s", error->message);
        }

      /* The dialect survives: the next good frame still decodes. */
      if (g_str_equal (cases[i].dialect, "plain"))
        g_ptr_array_unref (decode_ok (protocol, "fine"));
      else if (g_str_equal (cases[i].dialect, "json"))
        g_ptr_array_unref (decode_ok (protocol, "{\"text\":\"fine\"}"));
      else if (g_str_equal (cases[i].dialect, "socketio"))
        g_ptr_array_unref (decode_ok (protocol, "42[\"message\",\"fine\"]"));
      else
        g_ptr_array_unref (decode_ok (protocol, "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":[\"fine\"]}"));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dialects/registry", test_registry);
  g_test_add_func ("/dialects/options", test_options);
  g_test_add_func ("/dialects/adjust-url", test_adjust_url);
  g_test_add_func ("/dialects/plain", test_plain);
  g_test_add_func ("/dialects/json/templates", test_json_templates);
  g_test_add_func ("/dialects/json/placeholders", test_json_all_placeholders);
  g_test_add_func ("/dialects/json/pubsub", test_json_pubsub);
  g_test_add_func ("/dialects/json/shapes", test_json_shapes);
  g_test_add_func ("/dialects/json/pointers-and-ack", test_json_pointers_and_ack);
  g_test_add_func ("/dialects/socketio/session", test_socketio_session);
  g_test_add_func ("/dialects/socketio/connect-error", test_socketio_connect_error);
  g_test_add_func ("/dialects/socketio/binary", test_socketio_binary);
  g_test_add_func ("/dialects/jsonrpc", test_jsonrpc);
  g_test_add_func ("/dialects/malformed", test_malformed);
  g_test_add_func ("/dialects/e2e/plain", test_e2e_plain);
  g_test_add_func ("/dialects/e2e/pubsub", test_e2e_pubsub);
  g_test_add_func ("/dialects/e2e/socketio", test_e2e_socketio);
  g_test_add_func ("/dialects/e2e/jsonrpc", test_e2e_jsonrpc);
  g_test_add_func ("/dialects/cli/plain", test_cli_plain);
  g_test_add_func ("/dialects/cli/plain-receive", test_cli_plain_receive);
  g_test_add_func ("/dialects/cli/unmapped-and-controls", test_cli_unmapped_and_controls);
  g_test_add_func ("/dialects/cli/pubsub", test_cli_pubsub);
  g_test_add_func ("/dialects/cli/socketio-reconnect", test_cli_socketio_reconnect);
  g_test_add_func ("/dialects/cli/socketio-refused", test_cli_socketio_refused);
  g_test_add_func ("/dialects/cli/socketio-server-disconnect", test_cli_socketio_server_disconnect);
  g_test_add_func ("/dialects/cli/jsonrpc", test_cli_jsonrpc);
  g_test_add_func ("/dialects/connection/plain", test_connection_plain);
  g_test_add_func ("/dialects/connection/pubsub", test_connection_pubsub);
  g_test_add_func ("/dialects/connection/socketio", test_connection_socketio);
  g_test_add_func ("/dialects/connection/socketio-heartbeat", test_connection_socketio_heartbeat);
  g_test_add_func ("/dialects/connection/jsonrpc", test_connection_jsonrpc);

  return g_test_run ();
}
