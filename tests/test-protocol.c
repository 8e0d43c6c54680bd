/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-test-protocol"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "tincan-core.h"
#include "tincan-frame-private.h"

/* 2026-11-22T10:00:00.000Z */
#define TS_BASE G_GINT64_CONSTANT (1795341600000)

/* Text that has broken chat codecs before: every string field of every
 * frame type goes through each of these. */
static const char * const tricky_texts[] = {
  "hi",
  "héllo wörld — ünïcode ✓ 日本語",
  "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
  "quotes \"double\" and 'single'",
  "back\\slash \\n \\u0041 \\\" not escapes",
  "multi\nline\r\nwith\ttabs",
  "controls \x01\x02\x07\x08\x0b\x0c\x1b\x1f and DEL \x7f",
  "<b>bold</b> &amp; <script>alert(1)</script> <a href=\"x\">",
  "{\"type\":\"ack\",\"json\":[1,2]}",
  "line\xe2\x80\xa8separators\xe2\x80\xa9here",
  "RTL עברית العربية",
  "/slashes/ and </script>",
  "   leading and trailing spaces   ",
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static G_GNUC_NULL_TERMINATED GStrv
strv_of (const char *first,
         ...)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  va_list args;

  va_start (args, first);
  for (const char *s = first; s != NULL; s = va_arg (args, const char *))
    g_strv_builder_add (builder, s);
  va_end (args);

  return g_strv_builder_end (builder);
}

static TincanFrame *
make_frame (TincanFrameType  type,
            const char      *text)
{
  TincanFrame *frame = tincan_frame_new (type);

  switch (type)
    {
    case TINCAN_FRAME_HELLO:
      frame->user = g_strdup (text);
      frame->token = g_strdup ("s3cr3t \"token\"");
      tincan_frame_add_resume (frame, "lobby", 42);
      tincan_frame_add_resume (frame, text, 7);
      tincan_frame_add_resume (frame, "zero", 0);
      break;
    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
      frame->room = g_strdup (text);
      break;
    case TINCAN_FRAME_SEND:
      frame->room = g_strdup ("lobby");
      frame->cid = g_strdup ("0b8f7c2e-8d1a-4c55-9f3e-5a6b7c8d9e0f");
      frame->text = g_strdup (text);
      break;
    case TINCAN_FRAME_PING:
    case TINCAN_FRAME_PONG:
      frame->ping_id = 7;
      break;
    case TINCAN_FRAME_WELCOME:
      frame->session = g_strdup ("sess-1");
      frame->user = g_strdup (text);
      frame->rooms = strv_of ("lobby", text, NULL);
      frame->heartbeat = 20;
      break;
    case TINCAN_FRAME_ACK:
      frame->cid = g_strdup ("0b8f7c2e-8d1a-4c55-9f3e-5a6b7c8d9e0f");
      frame->id = g_strdup (text);
      frame->room = g_strdup ("lobby");
      frame->seq = 43;
      frame->ts = TS_BASE + 123;
      break;
    case TINCAN_FRAME_MESSAGE:
      frame->room = g_strdup (text);
      frame->seq = TINCAN_V1_MAX_INT;
      frame->id = g_strdup ("m-43");
      frame->cid = g_strdup ("c-1");
      frame->user = g_strdup (text);
      frame->text = g_strdup (text);
      frame->ts = TS_BASE + 999;
      break;
    case TINCAN_FRAME_PRESENCE:
      frame->room = g_strdup ("lobby");
      frame->user = g_strdup (text);
      frame->online = TRUE;
      break;
    case TINCAN_FRAME_MEMBERS:
      frame->room = g_strdup ("lobby");
      frame->users = strv_of ("alice", text, "bob", NULL);
      break;
    case TINCAN_FRAME_RESUMED:
      frame->room = g_strdup (text);
      frame->seq = 57;
      frame->gap = TRUE;
      break;
    case TINCAN_FRAME_ERROR:
      frame->code = g_strdup ("rate_limited");
      frame->message = g_strdup (text);
      frame->cid = g_strdup ("c-1");
      frame->room = g_strdup ("lobby");
      break;
    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_UNMAPPED:
    case TINCAN_FRAME_REPLY:
    default:
      g_assert_not_reached ();
    }

  return frame;
}

static void
assert_resume_equal (GHashTable *a,
                     GHashTable *b)
{
  GHashTableIter iter;
  gpointer key, value;

  g_assert_true ((a == NULL) == (b == NULL));
  if (a == NULL)
    return;

  g_assert_cmpuint (g_hash_table_size (a), ==, g_hash_table_size (b));
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const gint64 *other = g_hash_table_lookup (b, key);

      g_assert_nonnull (other);
      g_assert_cmpint (*(const gint64 *) value, ==, *other);
    }
}

static void
assert_strv_equal0 (GStrv a,
                    GStrv b)
{
  g_assert_true ((a == NULL) == (b == NULL));
  if (a != NULL)
    g_assert_true (g_strv_equal ((const char * const *) a, (const char * const *) b));
}

static void
assert_frames_equal (const TincanFrame *a,
                     const TincanFrame *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpstr (a->room, ==, b->room);
  g_assert_cmpstr (a->user, ==, b->user);
  g_assert_cmpstr (a->token, ==, b->token);
  g_assert_cmpstr (a->session, ==, b->session);
  g_assert_cmpstr (a->cid, ==, b->cid);
  g_assert_cmpstr (a->id, ==, b->id);
  g_assert_cmpstr (a->text, ==, b->text);
  g_assert_cmpstr (a->code, ==, b->code);
  g_assert_cmpstr (a->message, ==, b->message);
  g_assert_cmpint (a->seq, ==, b->seq);
  g_assert_cmpint (a->ts, ==, b->ts);
  g_assert_cmpint (a->ping_id, ==, b->ping_id);
  g_assert_cmpint (a->heartbeat, ==, b->heartbeat);
  g_assert_cmpint (a->online, ==, b->online);
  g_assert_cmpint (a->gap, ==, b->gap);
  assert_strv_equal0 (a->rooms, b->rooms);
  assert_strv_equal0 (a->users, b->users);
  assert_resume_equal (a->resume, b->resume);
}

/* What the connection relies on: a decoded frame never lacks a required field. */
static void
assert_frame_complete (const TincanFrame *f)
{
  switch (f->type)
    {
    case TINCAN_FRAME_HELLO:
      g_assert_nonnull (f->user);
      break;
    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
      g_assert_nonnull (f->room);
      break;
    case TINCAN_FRAME_SEND:
      g_assert_nonnull (f->room);
      g_assert_nonnull (f->cid);
      g_assert_nonnull (f->text);
      break;
    case TINCAN_FRAME_PING:
    case TINCAN_FRAME_PONG:
      g_assert_cmpint (f->ping_id, >=, 0);
      break;
    case TINCAN_FRAME_WELCOME:
      g_assert_nonnull (f->session);
      g_assert_nonnull (f->user);
      g_assert_nonnull (f->rooms);
      break;
    case TINCAN_FRAME_ACK:
      g_assert_nonnull (f->cid);
      g_assert_nonnull (f->id);
      g_assert_cmpint (f->seq, >, 0);
      break;
    case TINCAN_FRAME_MESSAGE:
      g_assert_nonnull (f->room);
      g_assert_nonnull (f->id);
      g_assert_nonnull (f->user);
      g_assert_nonnull (f->text);
      g_assert_cmpint (f->seq, >, 0);
      break;
    case TINCAN_FRAME_PRESENCE:
      g_assert_nonnull (f->room);
      g_assert_nonnull (f->user);
      break;
    case TINCAN_FRAME_MEMBERS:
      g_assert_nonnull (f->room);
      g_assert_nonnull (f->users);
      break;
    case TINCAN_FRAME_RESUMED:
      g_assert_nonnull (f->room);
      g_assert_cmpint (f->seq, >=, 0);
      break;
    case TINCAN_FRAME_ERROR:
      g_assert_nonnull (f->code);
      break;
    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_UNMAPPED:
    case TINCAN_FRAME_REPLY:
    default:
      g_assert_not_reached ();
    }
}

static TincanFrame *
decode_str (const char  *json,
            GError     **error)
{
  return tincan_v1_decode (json, strlen (json), error);
}

static TincanFrame *
decode_ok (const char *json)
{
  g_autoptr (GError) error = NULL;
  TincanFrame *frame = decode_str (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (frame);
  assert_frame_complete (frame);

  return frame;
}

static char *
encode_ok (const TincanFrame *frame)
{
  gsize length = 0;
  char *json = tincan_v1_encode (frame, &length);

  g_assert_nonnull (json);
  g_assert_cmpuint (length, ==, strlen (json));
  g_assert_true (g_utf8_validate (json, length, NULL));

  return json;
}

/* ------------------------------------------------------------------ */
/* TincanFrame                                                         */
/* ------------------------------------------------------------------ */

static void
test_frame_copy (void)
{
  g_autoptr (TincanFrame) frame = make_frame (TINCAN_FRAME_HELLO, "alice");
  g_autoptr (TincanFrame) copy = NULL;
  g_autoptr (TincanFrame) boxed = NULL;
  g_autoptr (GBytes) raw = g_bytes_new_static ("\x01\x02", 2);

  frame->rooms = strv_of ("a", "b", NULL);
  frame->raw = g_bytes_ref (raw);
  frame->binary = TRUE;

  copy = tincan_frame_copy (frame);
  assert_frames_equal (frame, copy);
  g_assert_true (copy->binary);
  g_assert_true (g_bytes_equal (copy->raw, raw));

  /* Deep: changing the original leaves the copy alone. */
  g_assert_true (copy->user != frame->user);
  g_assert_true (copy->resume != frame->resume);
  tincan_frame_add_resume (frame, "lobby", 100);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (copy->resume, "lobby"), ==, 42);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (frame->resume, "lobby"), ==, 100);

  boxed = g_boxed_copy (TINCAN_TYPE_FRAME, copy);
  assert_frames_equal (copy, boxed);

  tincan_frame_free (NULL);
}

static void
test_frame_add_resume (void)
{
  g_autoptr (TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_HELLO);

  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_HELLO);
  g_assert_null (frame->resume);

  tincan_frame_add_resume (frame, "lobby", 5);
  tincan_frame_add_resume (frame, "dev", 0);
  tincan_frame_add_resume (frame, "lobby", 9);

  g_assert_cmpuint (g_hash_table_size (frame->resume), ==, 2);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (frame->resume, "lobby"), ==, 9);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (frame->resume, "dev"), ==, 0);
}

static void
test_frame_type_strings (void)
{
  static const char * const names[] = {
    "hello", "join", "leave", "send", "ping", "welcome", "ack", "message",
    "presence", "members", "resumed", "pong", "error",
  };

  g_assert_null (tincan_frame_type_to_string (TINCAN_FRAME_INVALID));
  g_assert_null (tincan_frame_type_to_string ((TincanFrameType) 9999));
  g_assert_cmpint (tincan_frame_type_from_string (NULL), ==, TINCAN_FRAME_INVALID);
  g_assert_cmpint (tincan_frame_type_from_string (""), ==, TINCAN_FRAME_INVALID);
  g_assert_cmpint (tincan_frame_type_from_string ("HELLO"), ==, TINCAN_FRAME_INVALID);
  g_assert_cmpint (tincan_frame_type_from_string ("hell"), ==, TINCAN_FRAME_INVALID);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      TincanFrameType type = TINCAN_FRAME_HELLO + i;

      g_assert_cmpstr (tincan_frame_type_to_string (type), ==, names[i]);
      g_assert_cmpint (tincan_frame_type_from_string (names[i]), ==, type);
    }

  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_REPLY; type++)
    g_assert_cmpint (tincan_frame_type_from_string (tincan_frame_type_to_string (type)), ==, type);
}

/* ------------------------------------------------------------------ */
/* tincan.v1 codec                                                     */
/* ------------------------------------------------------------------ */

static void
test_v1_round_trip (void)
{
  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_ERROR; type++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (tricky_texts); i++)
        {
          g_autoptr (TincanFrame) frame = make_frame (type, tricky_texts[i]);
          g_autoptr (TincanFrame) decoded = NULL;
          g_autoptr (TincanFrame) again = NULL;
          g_autofree char *json = encode_ok (frame);
          g_autofree char *json2 = NULL;

          /* Nothing below 0x20 survives unescaped. */
          for (const char *p = json; *p; p++)
            g_assert_cmpint ((guchar) *p, >=, 0x20);

          decoded = decode_ok (json);
          assert_frames_equal (frame, decoded);

          /* Encoding is deterministic (resume keys are sorted). */
          json2 = encode_ok (decoded);
          g_assert_cmpstr (json, ==, json2);

          again = decode_ok (json2);
          assert_frames_equal (frame, again);
        }
    }
}

static void
test_v1_empty_text (void)
{
  g_autoptr (TincanFrame) frame = make_frame (TINCAN_FRAME_SEND, "");
  g_autoptr (TincanFrame) decoded = NULL;
  g_autofree char *json = encode_ok (frame);

  g_assert_cmpstr (json, ==,
                   "{\"type\":\"send\",\"room\":\"lobby\","
                   "\"cid\":\"0b8f7c2e-8d1a-4c55-9f3e-5a6b7c8d9e0f\",\"text\":\"\"}");
  decoded = decode_ok (json);
  g_assert_cmpstr (decoded->text, ==, "");
}

static void
assert_json_string (JsonObject *object,
                    const char *member,
                    const char *expected)
{
  JsonNode *node = json_object_get_member (object, member);

  g_assert_nonnull (node);
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
  g_assert_cmpstr (json_node_get_string (node), ==, expected);
}

static void
assert_json_int (JsonObject *object,
                 const char *member,
                 gint64      expected)
{
  JsonNode *node = json_object_get_member (object, member);

  g_assert_nonnull (node);
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (node), ==, expected);
}

static void
assert_json_bool (JsonObject *object,
                  const char *member,
                  gboolean    expected)
{
  JsonNode *node = json_object_get_member (object, member);

  g_assert_nonnull (node);
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
  g_assert_cmpint (json_node_get_boolean (node), ==, expected);
}

static void
assert_json_strv (JsonObject *object,
                  const char *member,
                  GStrv       expected)
{
  JsonArray *array = json_object_get_array_member (object, member);

  g_assert_nonnull (array);
  g_assert_cmpuint (json_array_get_length (array), ==, g_strv_length (expected));
  for (guint i = 0; expected[i] != NULL; i++)
    g_assert_cmpstr (json_array_get_string_element (array, i), ==, expected[i]);
}

static void
assert_json_ts (JsonObject *object,
                gint64      ts)
{
  g_autofree char *expected = tincan_timestamp_format (ts);

  assert_json_string (object, "ts", expected);
  /* RFC 3339 UTC with milliseconds, exactly. */
  g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
                                       json_object_get_string_member (object, "ts"), 0, 0));
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
assert_members (JsonObject *object,
                const char *expected)
{
  g_autoptr (GList) members = json_object_get_members (object);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autofree char *joined = NULL;

  for (GList *l = members; l != NULL; l = l->next)
    g_ptr_array_add (names, l->data);
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  joined = g_strjoinv (",", (char **) names->pdata);

  g_assert_cmpstr (joined, ==, expected);
}

static void
test_v1_json_glib (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_ERROR; type++)
    {
      const char *text = "say \"hi\"\n\\ 😀 <i>";
      g_autoptr (TincanFrame) f = make_frame (type, text);
      g_autofree char *json = encode_ok (f);
      g_autoptr (GError) error = NULL;
      JsonObject *o;

      json_parser_load_from_data (parser, json, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (JSON_NODE_TYPE (json_parser_get_root (parser)), ==, JSON_NODE_OBJECT);
      o = json_node_get_object (json_parser_get_root (parser));

      assert_json_string (o, "type", tincan_frame_type_to_string (type));

      switch (type)
        {
        case TINCAN_FRAME_HELLO:
          {
            JsonObject *resume;

            assert_members (o, "resume,token,type,user");
            assert_json_string (o, "user", text);
            assert_json_string (o, "token", "s3cr3t \"token\"");
            resume = json_object_get_object_member (o, "resume");
            g_assert_cmpuint (json_object_get_size (resume), ==, 3);
            assert_json_int (resume, "lobby", 42);
            assert_json_int (resume, text, 7);
            assert_json_int (resume, "zero", 0);
          }
          break;
        case TINCAN_FRAME_JOIN:
        case TINCAN_FRAME_LEAVE:
          assert_members (o, "room,type");
          assert_json_string (o, "room", text);
          break;
        case TINCAN_FRAME_SEND:
          assert_members (o, "cid,room,text,type");
          assert_json_string (o, "room", "lobby");
          assert_json_string (o, "cid", f->cid);
          assert_json_string (o, "text", text);
          break;
        case TINCAN_FRAME_PING:
        case TINCAN_FRAME_PONG:
          assert_members (o, "id,type");
          assert_json_int (o, "id", 7);
          break;
        case TINCAN_FRAME_WELCOME:
          assert_members (o, "heartbeat,rooms,session,type,user");
          assert_json_string (o, "session", "sess-1");
          assert_json_string (o, "user", text);
          assert_json_strv (o, "rooms", f->rooms);
          assert_json_int (o, "heartbeat", 20);
          break;
        case TINCAN_FRAME_ACK:
          assert_members (o, "cid,id,room,seq,ts,type");
          assert_json_string (o, "room", "lobby");
          assert_json_string (o, "cid", f->cid);
          assert_json_string (o, "id", text);
          assert_json_int (o, "seq", 43);
          assert_json_ts (o, f->ts);
          assert_json_string (o, "ts", "2026-11-22T10:00:00.123Z");
          break;
        case TINCAN_FRAME_MESSAGE:
          assert_members (o, "cid,from,id,room,seq,text,ts,type");
          assert_json_string (o, "room", text);
          assert_json_int (o, "seq", TINCAN_V1_MAX_INT);
          assert_json_string (o, "id", "m-43");
          assert_json_string (o, "cid", "c-1");
          assert_json_string (o, "from", text);
          assert_json_string (o, "text", text);
          assert_json_ts (o, f->ts);
          break;
        case TINCAN_FRAME_PRESENCE:
          assert_members (o, "online,room,type,user");
          assert_json_string (o, "room", "lobby");
          assert_json_string (o, "user", text);
          assert_json_bool (o, "online", TRUE);
          break;
        case TINCAN_FRAME_MEMBERS:
          assert_members (o, "room,type,users");
          assert_json_string (o, "room", "lobby");
          assert_json_strv (o, "users", f->users);
          break;
        case TINCAN_FRAME_RESUMED:
          assert_members (o, "gap,room,seq,type");
          assert_json_string (o, "room", text);
          assert_json_int (o, "seq", 57);
          assert_json_bool (o, "gap", TRUE);
          break;
        case TINCAN_FRAME_ERROR:
          assert_members (o, "cid,code,message,room,type");
          assert_json_string (o, "code", "rate_limited");
          assert_json_string (o, "message", text);
          assert_json_string (o, "cid", "c-1");
          assert_json_string (o, "room", "lobby");
          break;
        case TINCAN_FRAME_INVALID:
        case TINCAN_FRAME_UNMAPPED:
        case TINCAN_FRAME_REPLY:
        default:
          g_assert_not_reached ();
        }
    }
}

static void
test_v1_escaping (void)
{
  g_autoptr (TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_JOIN);
  g_autoptr (TincanFrame) decoded = NULL;
  g_autofree char *json = NULL;
  g_autofree char *fixed = NULL;

  frame->room = g_strdup ("a\"b\\c\nd\te\x01" "f\x1f" "g/é😀<x>\x7f");
  json = encode_ok (frame);
  /* JSON's mandatory escapes only; UTF-8, '/', '<' and DEL stay as they are. */
  g_assert_cmpstr (json, ==,
                   "{\"type\":\"join\",\"room\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u001fg/é😀<x>\x7f\"}");

  /* A frame built from bytes that are not UTF-8 still encodes to valid UTF-8. */
  g_free (frame->room);
  frame->room = g_strdup ("bad \xff\xfe bytes \xc3");
  fixed = encode_ok (frame);
  decoded = decode_ok (fixed);
  g_assert_true (g_utf8_validate (decoded->room, -1, NULL));
  g_assert_true (g_str_has_prefix (decoded->room, "bad "));
  g_assert_nonnull (strstr (decoded->room, "\xef\xbf\xbd"));
}

/* The decoder reads plain string text eight bytes at a time: whatever
 * ends a plain run (the closing quote, a backslash, a control character, a
 * byte beyond ASCII, valid or not) is found at every offset in a word. */
static void
test_v1_string_scan_offsets (void)
{
  static const char head[] = "{\"type\":\"message\",\"room\":\"r\",\"seq\":1,\"id\":\"i\","
                             "\"from\":\"u\",\"ts\":\"2026-11-22T10:00:00Z\",\"text\":\"";

  for (guint k = 0; k < 24; k++)
    {
      g_autofree char *plain = g_strnfill (k, 'a');
      g_autofree char *tail = g_strnfill (19 - k % 8, 'b');
      struct
      {
        const char *inner;      /* after k × 'a' */
        const char *text;       /* the decoded text after k × 'a'; NULL: an error */
        TincanProtocolError code;  /* reported at the byte after k × 'a' */
      } cases[] = {
        { "", "", 0 },
        { "\\\"", "\"", 0 },
        { "\\n", "\n", 0 },
        { "\xc3\xa9", "\xc3\xa9", 0 },
        { "\xe2\x82\xac", "\xe2\x82\xac", 0 },
        { "\xff", NULL, TINCAN_PROTOCOL_ERROR_INVALID_UTF8 },
        { "\xc3", NULL, TINCAN_PROTOCOL_ERROR_INVALID_UTF8 },
        { "\x01", NULL, TINCAN_PROTOCOL_ERROR_INVALID_JSON },
        { "\x1f", NULL, TINCAN_PROTOCOL_ERROR_INVALID_JSON },
      };

      for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          /* The tail (plain text) runs past the special byte, so it falls
           * inside a word the fast path reads. */
          g_autofree char *json = g_strconcat (head, plain, cases[i].inner, tail, "\"}", NULL);
          g_autofree char *expected = g_strconcat (plain, cases[i].text, tail, NULL);
          g_autoptr (GError) error = NULL;
          g_autoptr (TincanFrame) frame = tincan_v1_decode (json, strlen (json), &error);

          if (cases[i].text != NULL)
            {
              g_assert_no_error (error);
              g_assert_nonnull (frame);
              g_assert_cmpstr (frame->text, ==, expected);
            }
          else
            {
              g_autofree char *at = g_strdup_printf ("byte %u", (guint) (strlen (head) + k));

              g_assert_null (frame);
              g_assert_error (error, TINCAN_PROTOCOL_ERROR, cases[i].code);
              g_assert_nonnull (strstr (error->message, at));
            }
        }
    }
}

static void
test_v1_unescaping (void)
{
  g_autoptr (TincanFrame) frame = NULL;

  /* Every JSON escape, surrogate pairs included, decodes to UTF-8. */
  frame = decode_ok ("{\"type\":\"join\",\"room\":"
                     "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"}");
  g_assert_cmpstr (frame->room, ==, "\"\\/\b\f\n\r\tAé€😀");
  g_clear_pointer (&frame, tincan_frame_free);

  /* Escaped member names and type values are the same names. */
  frame = decode_ok ("{\"\\u0074ype\":\"\\u0070ing\",\"i\\u0064\":3}");
  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_PING);
  g_assert_cmpint (frame->ping_id, ==, 3);
}

static void
test_v1_optional_fields (void)
{
  g_autoptr (TincanFrame) hello = NULL;
  g_autoptr (TincanFrame) welcome = NULL;
  g_autoptr (TincanFrame) message = NULL;
  g_autoptr (TincanFrame) ack = NULL;
  g_autoptr (TincanFrame) error = NULL;
  g_autoptr (TincanFrame) minimal = NULL;
  g_autofree char *json = NULL;

  hello = decode_ok ("{\"type\":\"hello\",\"user\":\"alice\"}");
  g_assert_cmpstr (hello->user, ==, "alice");
  g_assert_null (hello->token);
  g_assert_null (hello->resume);
  g_clear_pointer (&hello, tincan_frame_free);

  /* null stands for absent in an optional field. */
  hello = decode_ok ("{\"type\":\"hello\",\"user\":\"alice\",\"token\":null,\"resume\":null}");
  g_assert_null (hello->token);
  g_assert_null (hello->resume);
  g_clear_pointer (&hello, tincan_frame_free);

  hello = decode_ok ("{\"type\":\"hello\",\"user\":\"alice\",\"resume\":{}}");
  g_assert_nonnull (hello->resume);
  g_assert_cmpuint (g_hash_table_size (hello->resume), ==, 0);

  welcome = decode_ok ("{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"alice\"}");
  g_assert_nonnull (welcome->rooms);
  g_assert_null (welcome->rooms[0]);
  g_assert_cmpint (welcome->heartbeat, ==, 0);

  message = decode_ok ("{\"type\":\"message\",\"room\":\"lobby\",\"seq\":1,\"id\":\"m1\","
                       "\"from\":\"bob\",\"text\":\"\",\"ts\":\"2026-11-22T10:00:00.000Z\"}");
  g_assert_null (message->cid);
  g_assert_cmpstr (message->text, ==, "");
  g_assert_cmpint (message->ts, ==, TS_BASE);

  ack = decode_ok ("{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"seq\":1,"
                   "\"ts\":\"2026-11-22T10:00:00.000Z\"}");
  g_assert_null (ack->room);
  g_assert_cmpstr (ack->cid, ==, "c");

  error = decode_ok ("{\"type\":\"error\",\"code\":\"unknown_room\"}");
  g_assert_cmpstr (error->code, ==, "unknown_room");
  g_assert_null (error->message);
  g_assert_null (error->cid);
  g_assert_null (error->room);

  /* Unset optional fields are left out when encoding. */
  minimal = tincan_frame_new (TINCAN_FRAME_WELCOME);
  minimal->session = g_strdup ("s");
  minimal->user = g_strdup ("alice");
  json = encode_ok (minimal);
  g_assert_cmpstr (json, ==,
                   "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"alice\",\"rooms\":[]}");
}

static void
test_v1_forward_compat (void)
{
  g_autoptr (TincanFrame) frame = NULL;

  /* Unknown members of any shape are ignored, wherever they are, and
   * the member order does not matter. */
  frame = decode_ok (" \r\n\t{ \"x-trace\" : {\"a\":[1,2.5e-3,{\"b\":null}],\"c\":true} ,"
                     "\"text\":\"hi\", \"cid\":\"c1\",\"room\":\"lobby\","
                     "\"seq\":\"not-for-send\", \"future\":[[[]]], \"type\" : \"send\" } \n");
  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_SEND);
  g_assert_cmpstr (frame->room, ==, "lobby");
  g_assert_cmpstr (frame->cid, ==, "c1");
  g_assert_cmpstr (frame->text, ==, "hi");
  g_assert_cmpint (frame->seq, ==, 0);
  g_clear_pointer (&frame, tincan_frame_free);

  /* A repeated member: the last one wins, as in most JSON parsers. */
  frame = decode_ok ("{\"type\":\"join\",\"room\":\"first\",\"room\":\"second\"}");
  g_assert_cmpstr (frame->room, ==, "second");
  g_clear_pointer (&frame, tincan_frame_free);

  /* A new error code is passed on, not rejected. */
  frame = decode_ok ("{\"type\":\"error\",\"code\":\"quota_exceeded\",\"message\":\"later\"}");
  g_assert_cmpstr (frame->code, ==, "quota_exceeded");
  g_clear_pointer (&frame, tincan_frame_free);

  /* A resumed frame for an empty room carries seq 0. */
  frame = decode_ok ("{\"type\":\"resumed\",\"room\":\"new\",\"seq\":0,\"gap\":false}");
  g_assert_cmpint (frame->seq, ==, 0);
  g_assert_false (frame->gap);
}

static void
test_v1_timestamps (void)
{
  static const struct
  {
    const char *ts;
    gint64      ms;
  } cases[] = {
    { "2026-11-22T10:00:00.000Z", TS_BASE },
    { "2026-11-22T10:00:00.5Z", TS_BASE + 500 },
    { "2026-11-22T10:00:00Z", TS_BASE },
    { "2026-11-22T11:30:00.250+01:30", TS_BASE + 250 },
    { "2026-11-22T05:00:00.001-05:00", TS_BASE + 1 },
    { "1970-01-01T00:00:00.000Z", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\","
                                               "\"seq\":1,\"ts\":\"%s\"}", cases[i].ts);
      g_autoptr (TincanFrame) frame = decode_ok (json);
      g_autofree char *encoded = NULL;
      g_autofree char *canonical = tincan_timestamp_format (cases[i].ms);

      g_assert_cmpint (frame->ts, ==, cases[i].ms);

      /* Whatever the zone on the wire, we write UTC with milliseconds. */
      encoded = encode_ok (frame);
      g_assert_nonnull (strstr (encoded, canonical));
      g_assert_true (g_str_has_suffix (canonical, "Z"));
    }
}

static void
test_v1_limits (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanFrame) frame = NULL;
  g_autoptr (GString) deep = g_string_new ("{\"type\":\"ping\",\"id\":1,\"x\":");
  g_autofree char *big = NULL;

  /* 2^53 is the largest seq; one more is refused. */
  frame = decode_ok ("{\"type\":\"resumed\",\"room\":\"r\",\"seq\":9007199254740992,\"gap\":false}");
  g_assert_cmpint (frame->seq, ==, TINCAN_V1_MAX_INT);
  g_clear_pointer (&frame, tincan_frame_free);

  frame = decode_str ("{\"type\":\"resumed\",\"room\":\"r\",\"seq\":9007199254740993,\"gap\":false}",
                      &error);
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE);
  g_assert_null (frame);
  g_clear_error (&error);

  /* Exactly TINCAN_V1_MAX_DEPTH levels of nesting pass, one more does not. */
  for (guint i = 1; i < TINCAN_V1_MAX_DEPTH; i++)
    g_string_append_c (deep, '[');
  for (guint i = 1; i < TINCAN_V1_MAX_DEPTH; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  frame = decode_ok (deep->str);
  g_assert_cmpint (frame->type, ==, TINCAN_FRAME_PING);
  g_clear_pointer (&frame, tincan_frame_free);

  g_string_insert_c (deep, deep->len - 1 - (TINCAN_V1_MAX_DEPTH - 1), '[');
  g_string_insert_c (deep, deep->len - 1, ']');
  frame = decode_str (deep->str, &error);
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE);
  g_assert_null (frame);
  g_clear_error (&error);

  /* A payload over the size limit is refused before anything else is done
   * with it; one at the limit is decoded. */
  big = g_malloc (TINCAN_V1_MAX_SIZE + 2);
  {
    static const char head[] = "{\"type\":\"send\",\"room\":\"r\",\"cid\":\"c\",\"text\":\"";
    gsize n = TINCAN_V1_MAX_SIZE;

    memcpy (big, head, sizeof head - 1);
    memset (big + sizeof head - 1, 'x', n - (sizeof head - 1) - 2);
    memcpy (big + n - 2, "\"}", 2);
    frame = tincan_v1_decode (big, n, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (strlen (frame->text), ==, n - (sizeof head - 1) - 2);
    g_clear_pointer (&frame, tincan_frame_free);

    memcpy (big + n - 2, "x\"}", 3);
    frame = tincan_v1_decode (big, n + 1, &error);
    g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE);
    g_assert_null (frame);
  }
}

typedef struct
{
  const char          *name;
  const char          *data;
  gssize               length;   /* -1: NUL-terminated */
  TincanProtocolError  code;
  const char          *message;  /* a part of the error message, or NULL */
} Malformed;

#define MSG_OK "{\"type\":\"message\",\"room\":\"lobby\",\"seq\":43,\"id\":\"m\",\"from\":\"a\",\"text\":\"hi\",\"ts\":\"2026-11-22T10:00:00.000Z\""
#define ACK_HEAD "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"ts\":\"2026-11-22T10:00:00.000Z\""
#define ACK_NO_TS "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"seq\":1"
#define SEND_HEAD "{\"type\":\"send\",\"room\":\"lobby\",\"cid\":\"c\""

static const Malformed malformed[] = {
  /* Bytes that are not UTF-8. */
  { "invalid-utf8-byte", "{\"type\":\"ping\",\"id\":1,\"x\":\"\xff\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, "UTF-8" },
  { "overlong-utf8", SEND_HEAD ",\"text\":\"\xc0\xaf\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, NULL },
  { "truncated-utf8", SEND_HEAD ",\"text\":\"\xe2\x82\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, NULL },
  { "utf8-encoded-surrogate", SEND_HEAD ",\"text\":\"\xed\xa0\x80\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, NULL },
  { "latin1-text", SEND_HEAD ",\"text\":\"caf\xe9\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, NULL },
  { "utf8-in-member-name", "{\"type\":\"ping\",\"id\":1,\"x\xff\":1}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, "UTF-8" },
  /* Outside strings, any byte beyond ASCII is not JSON; so is a NUL byte
   * (valid UTF-8, U+0000), inside a string or out. */
  { "non-ascii-outside-strings", "{\"type\":\"ping\",\"id\":1}\xff", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "nul-byte", "{\"type\":\"ping\",\"id\":1}\0", 23, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "nul-in-string", "{\"type\":\"ping\",\"id\":1,\"x\":\"a\0b\"}", 32, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "lone-high-surrogate-escape", SEND_HEAD ",\"text\":\"\\ud83d\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, "“text”" },
  { "lone-low-surrogate-escape", SEND_HEAD ",\"text\":\"a\\ude00b\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, NULL },
  /* Not JSON. */
  { "empty", "", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "whitespace-only", " \n\t ", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "truncated-object", "{\"type\":\"ping\",\"id\":7", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, "byte" },
  { "truncated-string", "{\"type\":\"pi", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "truncated-escape", "{\"type\":\"ping\\", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "trailing-comma", "{\"type\":\"ping\",\"id\":7,}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "single-quotes", "{'type':'ping','id':7}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "unquoted-key", "{type:\"ping\",\"id\":7}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "missing-colon", "{\"type\" \"ping\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "trailing-garbage", "{\"type\":\"ping\",\"id\":7}x", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, "after" },
  { "two-objects", "{\"type\":\"ping\",\"id\":7}{\"type\":\"ping\",\"id\":8}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "raw-newline-in-string", SEND_HEAD ",\"text\":\"a\nb\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, "control" },
  { "invalid-escape", SEND_HEAD ",\"text\":\"\\x41\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, "escape" },
  { "short-unicode-escape", SEND_HEAD ",\"text\":\"\\u12\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "leading-zero", "{\"type\":\"ping\",\"id\":07}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "plus-sign", "{\"type\":\"ping\",\"id\":+7}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "bare-dot", "{\"type\":\"ping\",\"id\":1.}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "nan", "{\"type\":\"ping\",\"id\":NaN}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "infinity", "{\"type\":\"ping\",\"id\":-Infinity}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "misspelt-literal", "{\"type\":\"presence\",\"room\":\"r\",\"user\":\"u\",\"online\":tru}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "comment", "{\"type\":\"ping\",/* hi */\"id\":7}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  { "unclosed-array", "{\"type\":\"members\",\"room\":\"r\",\"users\":[\"a\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_JSON, NULL },
  /* Valid JSON, but not an object. */
  { "array-top-level", "[{\"type\":\"ping\",\"id\":1}]", -1, TINCAN_PROTOCOL_ERROR_NOT_OBJECT, "array" },
  { "string-top-level", "\"ping\"", -1, TINCAN_PROTOCOL_ERROR_NOT_OBJECT, NULL },
  { "number-top-level", " 42 ", -1, TINCAN_PROTOCOL_ERROR_NOT_OBJECT, NULL },
  { "null-top-level", "null", -1, TINCAN_PROTOCOL_ERROR_NOT_OBJECT, NULL },
  /* The type. */
  { "empty-object", "{}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“type”" },
  { "no-type", "{\"id\":7}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“type”" },
  { "type-number", "{\"type\":7}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“type”" },
  { "type-null", "{\"type\":null}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "type-array", "{\"type\":[\"ping\"]}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "type-unknown", "{\"type\":\"shout\",\"room\":\"r\"}", -1, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, "“shout”" },
  { "type-empty", "{\"type\":\"\"}", -1, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, NULL },
  { "type-wrong-case", "{\"type\":\"PING\",\"id\":1}", -1, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, NULL },
  { "type-internal", "{\"type\":\"unmapped\"}", -1, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE, NULL },
  /* Required members missing. */
  { "send-no-cid", "{\"type\":\"send\",\"room\":\"lobby\",\"text\":\"hi\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "missing field “cid” in “send”" },
  { "send-no-text", SEND_HEAD "}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“text”" },
  { "send-no-room", "{\"type\":\"send\",\"cid\":\"c\",\"text\":\"hi\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“room”" },
  { "join-no-room", "{\"type\":\"join\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "missing field “room” in “join”" },
  { "hello-no-user", "{\"type\":\"hello\",\"token\":\"t\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“user”" },
  { "ping-no-id", "{\"type\":\"ping\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“id”" },
  { "welcome-no-session", "{\"type\":\"welcome\",\"user\":\"a\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“session”" },
  { "ack-no-ts", ACK_NO_TS "}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“ts”" },
  { "ack-no-seq", ACK_HEAD "}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“seq”" },
  { "message-no-from", "{\"type\":\"message\",\"room\":\"r\",\"seq\":1,\"id\":\"m\",\"text\":\"t\",\"ts\":\"2026-11-22T10:00:00.000Z\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“from”" },
  { "presence-no-online", "{\"type\":\"presence\",\"room\":\"r\",\"user\":\"u\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“online”" },
  { "members-no-users", "{\"type\":\"members\",\"room\":\"r\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“users”" },
  { "resumed-no-gap", "{\"type\":\"resumed\",\"room\":\"r\",\"seq\":3}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“gap”" },
  { "pong-no-id", "{\"type\":\"pong\",\"ID\":7}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, NULL },
  { "error-no-code", "{\"type\":\"error\",\"message\":\"m\"}", -1, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "“code”" },
  /* Members of the wrong JSON type. */
  { "seq-string", ACK_HEAD ",\"seq\":\"43\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“seq”" },
  { "seq-float", ACK_HEAD ",\"seq\":1.5}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "integer" },
  { "seq-float-whole", ACK_HEAD ",\"seq\":43.0}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "seq-exponent", ACK_HEAD ",\"seq\":1e3}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "seq-bool", ACK_HEAD ",\"seq\":true}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "text-number", SEND_HEAD ",\"text\":42}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“text”" },
  { "text-null", SEND_HEAD ",\"text\":null}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "null" },
  { "room-null", "{\"type\":\"join\",\"room\":null}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "cid-object", "{\"type\":\"send\",\"room\":\"r\",\"cid\":{},\"text\":\"t\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“cid”" },
  { "ping-id-string", "{\"type\":\"ping\",\"id\":\"7\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "ack-id-number", "{\"type\":\"ack\",\"cid\":\"c\",\"id\":5,\"seq\":1,\"ts\":\"2026-11-22T10:00:00.000Z\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "rooms-string", "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"u\",\"rooms\":\"lobby\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“rooms”" },
  { "rooms-number-element", "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"u\",\"rooms\":[\"a\",1]}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "users-null-element", "{\"type\":\"members\",\"room\":\"r\",\"users\":[\"a\",null]}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“users”" },
  { "users-nested-array", "{\"type\":\"members\",\"room\":\"r\",\"users\":[[\"a\"]]}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "online-string", "{\"type\":\"presence\",\"room\":\"r\",\"user\":\"u\",\"online\":\"true\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“online”" },
  { "online-number", "{\"type\":\"presence\",\"room\":\"r\",\"user\":\"u\",\"online\":1}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "gap-null", "{\"type\":\"resumed\",\"room\":\"r\",\"seq\":3,\"gap\":null}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "heartbeat-string", "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"u\",\"heartbeat\":\"20\"}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "resume-array", "{\"type\":\"hello\",\"user\":\"u\",\"resume\":[42]}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“resume”" },
  { "resume-string-value", "{\"type\":\"hello\",\"user\":\"u\",\"resume\":{\"lobby\":\"42\"}}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "resume-float-value", "{\"type\":\"hello\",\"user\":\"u\",\"resume\":{\"lobby\":4.2}}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, NULL },
  { "ts-number", ACK_NO_TS ",\"ts\":1795341600000}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“ts”" },
  { "token-number", "{\"type\":\"hello\",\"user\":\"u\",\"token\":1234}", -1, TINCAN_PROTOCOL_ERROR_WRONG_TYPE, "“token”" },
  /* Right type, bad value. */
  { "seq-zero", "{\"type\":\"message\",\"room\":\"r\",\"seq\":0,\"id\":\"m\",\"from\":\"a\",\"text\":\"t\",\"ts\":\"2026-11-22T10:00:00.000Z\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "“seq”" },
  { "seq-negative", ACK_HEAD ",\"seq\":-5}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "range" },
  { "seq-over-2^53", ACK_HEAD ",\"seq\":9007199254740993}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "seq-over-int64", ACK_HEAD ",\"seq\":9223372036854775808}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "seq-huge", ACK_HEAD ",\"seq\":123456789012345678901234567890123456789}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "seq-huge-negative", ACK_HEAD ",\"seq\":-99999999999999999999999}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "ping-id-negative", "{\"type\":\"ping\",\"id\":-1}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "“id”" },
  { "room-empty", "{\"type\":\"join\",\"room\":\"\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "empty" },
  { "cid-empty", "{\"type\":\"send\",\"room\":\"r\",\"cid\":\"\",\"text\":\"t\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "“cid”" },
  { "message-cid-empty", MSG_OK ",\"cid\":\"\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "“cid”" },
  { "user-empty", "{\"type\":\"hello\",\"user\":\"\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "ack-id-empty", "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"\",\"seq\":1,\"ts\":\"2026-11-22T10:00:00.000Z\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "ts-words", "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"seq\":1,\"ts\":\"yesterday\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "RFC 3339" },
  { "ts-no-zone", "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"seq\":1,\"ts\":\"2026-11-22T10:00:00.000\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "ts-bad-date", "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"seq\":1,\"ts\":\"2026-13-45T10:00:00Z\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "ts-empty", "{\"type\":\"ack\",\"cid\":\"c\",\"id\":\"i\",\"seq\":1,\"ts\":\"\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "heartbeat-negative", "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"u\",\"heartbeat\":-20}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "“heartbeat”" },
  { "heartbeat-huge", "{\"type\":\"welcome\",\"session\":\"s\",\"user\":\"u\",\"heartbeat\":4294967296}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "resume-negative", "{\"type\":\"hello\",\"user\":\"u\",\"resume\":{\"lobby\":-1}}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "“resume”" },
  { "resume-empty-room", "{\"type\":\"hello\",\"user\":\"u\",\"resume\":{\"\":4}}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "users-empty-string", "{\"type\":\"members\",\"room\":\"r\",\"users\":[\"a\",\"\"]}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  { "text-nul-escape", SEND_HEAD ",\"text\":\"a\\u0000b\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "NUL" },
  { "error-code-empty", "{\"type\":\"error\",\"code\":\"\"}", -1, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, NULL },
  /* Over the limits. */
  { "deep-nesting-unknown-member", "{\"type\":\"ping\",\"id\":1,\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", -1, TINCAN_PROTOCOL_ERROR_TOO_LARGE, "nested" },
};

static void
test_v1_malformed (void)
{
  g_assert_cmpuint (G_N_ELEMENTS (malformed), >=, 30);

  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      const Malformed *m = &malformed[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanFrame) frame = NULL;
      gsize length = m->length >= 0 ? (gsize) m->length : strlen (m->data);
      /* Exactly @length bytes, so a missing terminator is noticed. */
      g_autofree char *data = g_memdup2 (m->data, length);

      g_test_message ("malformed frame “%s”", m->name);

      frame = tincan_v1_decode (data, length, &error);
      if (error != NULL)
        g_test_message ("  → %s", error->message);
      g_assert_error (error, TINCAN_PROTOCOL_ERROR, m->code);
      g_assert_null (frame);
      if (m->message != NULL)
        g_assert_nonnull (strstr (error->message, m->message));
    }
}

static void
test_v1_deep_nesting (void)
{
  gsize n = 1000000;
  g_autofree char *deep = g_malloc (n);
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanFrame) frame = NULL;

  /* A million brackets must fail cleanly, not exhaust the stack. */
  memset (deep, '[', n);
  frame = tincan_v1_decode (deep, n, &error);
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE);
  g_clear_error (&error);

  deep[0] = '{';
  memcpy (deep + 1, "\"a\":", 4);
  for (gsize i = 5; i + 5 < n; i += 5)
    memcpy (deep + i, "{\"a\":", 5);
  frame = tincan_v1_decode (deep, n, &error);
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE);
  g_assert_null (frame);
}

static void
test_v1_truncated (void)
{
  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_ERROR; type++)
    {
      g_autoptr (TincanFrame) f = make_frame (type, "héllo 😀 \"q\" \\ \n");
      gsize length = 0;
      g_autofree char *json = tincan_v1_encode (f, &length);

      /* Every proper prefix is an error, never a frame or a crash. */
      for (gsize n = 0; n < length; n++)
        {
          g_autoptr (GError) error = NULL;
          /* A copy of exactly @n bytes, so that reading past it is caught
           * by valgrind or ASan. */
          g_autofree char *prefix = g_memdup2 (json, n);
          g_autoptr (TincanFrame) frame = tincan_v1_decode (prefix, n, &error);

          g_assert_null (frame);
          g_assert_nonnull (error);
          g_assert_true (error->domain == TINCAN_PROTOCOL_ERROR);
          g_assert_true (error->code == TINCAN_PROTOCOL_ERROR_INVALID_JSON ||
                         error->code == TINCAN_PROTOCOL_ERROR_INVALID_UTF8);
        }
    }
}

static void
test_v1_mutations (void)
{
  static const char alphabet[] = "{}[]\":,\\ 0123456789.-+eEtrufalsn\x01\xc3\xff";
  guint decoded = 0;
  guint rejected = 0;

  /* Random damage to valid frames: the decoder either returns a complete
   * frame or a protocol error, and never crashes (run under valgrind or
   * ASan for more than that). */
  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_ERROR; type++)
    {
      g_autoptr (TincanFrame) f = make_frame (type, "mutate me 😀");
      gsize length = 0;
      g_autofree char *json = tincan_v1_encode (f, &length);

      for (guint round = 0; round < 3000; round++)
        {
          g_autoptr (GString) buf = g_string_new_len (json, length);
          g_autofree char *exact = NULL;
          g_autoptr (GError) error = NULL;
          g_autoptr (TincanFrame) frame = NULL;
          guint n_edits = g_test_rand_int_range (1, 4);

          for (guint e = 0; e < n_edits && buf->len > 0; e++)
            {
              guint pos = g_test_rand_int_range (0, buf->len);
              char c = alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];

              switch (g_test_rand_int_range (0, 3))
                {
                case 0:
                  buf->str[pos] = c;
                  break;
                case 1:
                  g_string_erase (buf, pos, 1);
                  break;
                default:
                  g_string_insert_c (buf, pos, c);
                  break;
                }
            }

          exact = g_memdup2 (buf->str, buf->len);
          frame = tincan_v1_decode (exact, buf->len, &error);
          if (frame != NULL)
            {
              g_assert_no_error (error);
              assert_frame_complete (frame);
              decoded++;
            }
          else
            {
              g_assert_nonnull (error);
              g_assert_true (error->domain == TINCAN_PROTOCOL_ERROR);
              rejected++;
            }
        }
    }

  /* Both outcomes happen, or the mutations did not exercise anything. */
  g_assert_cmpuint (decoded, >, 0);
  g_assert_cmpuint (rejected, >, 0);
}

static void
test_v1_encode_invalid (void)
{
  static const struct
  {
    TincanFrameType      type;
    TincanProtocolError  code;
    const char          *field;
  } cases[] = {
    { TINCAN_FRAME_JOIN, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "room" },
    { TINCAN_FRAME_SEND, TINCAN_PROTOCOL_ERROR_MISSING_FIELD, "cid" },
    { TINCAN_FRAME_ACK, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "seq" },
    { TINCAN_FRAME_PING, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "id" },
    { TINCAN_FRAME_MESSAGE, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "room" },
    { TINCAN_FRAME_WELCOME, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "heartbeat" },
    { TINCAN_FRAME_HELLO, TINCAN_PROTOCOL_ERROR_INVALID_VALUE, "resume" },
    { TINCAN_FRAME_UNMAPPED, TINCAN_PROTOCOL_ERROR_UNSUPPORTED, NULL },
    { TINCAN_FRAME_INVALID, TINCAN_PROTOCOL_ERROR_UNSUPPORTED, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TincanFrame) f = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *json = NULL;

      if (cases[i].type == TINCAN_FRAME_UNMAPPED || cases[i].type == TINCAN_FRAME_INVALID)
        f = tincan_frame_new (cases[i].type);
      else
        f = make_frame (cases[i].type, "x");

      switch (cases[i].type)
        {
        case TINCAN_FRAME_JOIN:
          g_clear_pointer (&f->room, g_free);
          break;
        case TINCAN_FRAME_SEND:
          g_clear_pointer (&f->cid, g_free);
          break;
        case TINCAN_FRAME_ACK:
          f->seq = 0;
          break;
        case TINCAN_FRAME_PING:
          f->ping_id = -1;
          break;
        case TINCAN_FRAME_MESSAGE:
          f->room[0] = '\0';
          break;
        case TINCAN_FRAME_WELCOME:
          f->heartbeat = -1;
          break;
        case TINCAN_FRAME_HELLO:
          tincan_frame_add_resume (f, "lobby", -3);
          break;
        case TINCAN_FRAME_INVALID:
        case TINCAN_FRAME_UNMAPPED:
        case TINCAN_FRAME_LEAVE:
        case TINCAN_FRAME_PRESENCE:
        case TINCAN_FRAME_MEMBERS:
        case TINCAN_FRAME_RESUMED:
        case TINCAN_FRAME_PONG:
        case TINCAN_FRAME_ERROR:
        case TINCAN_FRAME_REPLY:
        default:
          break;
        }

      json = _tincan_v1_encode_full (f, NULL, &error);
      g_assert_null (json);
      g_assert_error (error, TINCAN_PROTOCOL_ERROR, cases[i].code);
      if (cases[i].field != NULL)
        {
          g_autofree char *quoted = g_strdup_printf ("“%s”", cases[i].field);

          g_assert_nonnull (strstr (error->message, quoted));
        }
    }
}

/* The public encoder treats an ill-formed frame as a programming error. */
static void
test_v1_encode_critical (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (TincanFrame) f = tincan_frame_new (TINCAN_FRAME_JOIN);
      g_autofree char *json = tincan_v1_encode (f, NULL);

      /* Not reached: criticals are fatal in tests. */
      g_assert_null (json);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*Cannot encode a tincan.v1 frame*room*join*");
}

/* ------------------------------------------------------------------ */
/* TincanProtocol                                                      */
/* ------------------------------------------------------------------ */

static void
test_protocol_registry (void)
{
  const char * const *names = tincan_protocol_list_names ();
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanProtocol) protocol = NULL;
  g_autoptr (TincanProtocol) direct = NULL;
  g_autoptr (TincanProtocol) unknown = NULL;

  g_assert_nonnull (names);
  g_assert_true (g_strv_contains (names, "tincan"));
  g_assert_true (names == tincan_protocol_list_names ());

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr (TincanProtocol) p = tincan_protocol_new_for_name (names[i], &error);

      g_assert_no_error (error);
      g_assert_true (TINCAN_IS_PROTOCOL (p));
      g_assert_cmpstr (tincan_protocol_get_name (p), ==, names[i]);
    }

  protocol = tincan_protocol_new_for_name ("tincan", &error);
  g_assert_no_error (error);
  g_assert_true (TINCAN_IS_PROTOCOL_V1 (protocol));
  g_assert_cmpstr (tincan_protocol_get_name (protocol), ==, "tincan");
  g_assert_true (g_strv_equal (tincan_protocol_get_subprotocols (protocol),
                               (const char * const[]) { "tincan.v1", NULL }));
  g_assert_cmpint (tincan_protocol_get_flags (protocol), ==,
                   TINCAN_PROTOCOL_FLAG_ACKS | TINCAN_PROTOCOL_FLAG_WELCOME |
                   TINCAN_PROTOCOL_FLAG_RESUME | TINCAN_PROTOCOL_FLAG_ROOMS);
  tincan_protocol_reset (protocol);

  direct = tincan_protocol_v1_new ();
  g_assert_cmpstr (tincan_protocol_get_name (direct), ==, "tincan");

  unknown = tincan_protocol_new_for_name ("carrier-pigeon", &error);
  g_assert_null (unknown);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "carrier-pigeon"));

  g_assert_finalize_object (g_steal_pointer (&protocol));
  g_assert_finalize_object (g_steal_pointer (&direct));
}

static void
test_protocol_encode (void)
{
  g_autoptr (TincanProtocol) protocol = tincan_protocol_v1_new ();

  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_REPLY; type++)
    {
      g_autoptr (TincanFrame) f = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) bytes = NULL;
      gboolean binary = TRUE;

      if (type <= TINCAN_FRAME_ERROR)
        f = make_frame (type, "hi there");
      else
        f = tincan_frame_new (type);

      bytes = tincan_protocol_encode (protocol, f, &binary, &error);

      if (type <= TINCAN_FRAME_PING)
        {
          g_autoptr (TincanFrame) back = NULL;
          gsize size = 0;
          const char *data = g_bytes_get_data (bytes, &size);

          g_assert_no_error (error);
          g_assert_nonnull (bytes);
          g_assert_false (binary);
          back = tincan_v1_decode (data, size, &error);
          g_assert_no_error (error);
          assert_frames_equal (f, back);
        }
      else
        {
          /* A client never sends server frames. */
          g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED);
          g_assert_null (bytes);
        }
    }

  /* An ill-formed client frame is an error, not a critical. */
  {
    g_autoptr (TincanFrame) f = tincan_frame_new (TINCAN_FRAME_SEND);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) bytes = NULL;

    f->room = g_strdup ("lobby");
    f->text = g_strdup ("hi");
    bytes = tincan_protocol_encode (protocol, f, NULL, &error);
    g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD);
    g_assert_null (bytes);
  }
}

static gboolean
decode_with (TincanProtocol  *protocol,
             gboolean         binary,
             const char      *json,
             GPtrArray       *frames,
             GError         **error)
{
  g_autoptr (GBytes) payload = g_bytes_new (json, strlen (json));

  return tincan_protocol_decode (protocol, binary, payload, frames, error);
}

static void
test_protocol_decode (void)
{
  g_autoptr (TincanProtocol) protocol = tincan_protocol_new_for_name ("tincan", NULL);
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  guint expected = 0;

  /* Every server frame decodes to one frame, appended in order. */
  for (TincanFrameType type = TINCAN_FRAME_WELCOME; type <= TINCAN_FRAME_ERROR; type++)
    {
      g_autoptr (TincanFrame) f = make_frame (type, "ünïcode 😀");
      g_autofree char *json = encode_ok (f);

      g_assert_true (decode_with (protocol, FALSE, json, frames, &error));
      g_assert_no_error (error);
      expected++;
      g_assert_cmpuint (frames->len, ==, expected);
      assert_frames_equal (f, g_ptr_array_index (frames, frames->len - 1));
    }

  /* Client frames coming from a server are wrong-direction. */
  for (TincanFrameType type = TINCAN_FRAME_HELLO; type <= TINCAN_FRAME_PING; type++)
    {
      g_autoptr (TincanFrame) f = make_frame (type, "x");
      g_autofree char *json = encode_ok (f);

      g_assert_false (decode_with (protocol, FALSE, json, frames, &error));
      g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNEXPECTED);
      g_assert_nonnull (strstr (error->message, tincan_frame_type_to_string (type)));
      g_clear_error (&error);
      g_assert_cmpuint (frames->len, ==, expected);
    }

  /* tincan.v1 is text only, even when the bytes are fine JSON. */
  g_assert_false (decode_with (protocol, TRUE, "{\"type\":\"pong\",\"id\":1}", frames, &error));
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_BINARY);
  g_clear_error (&error);

  /* Malformed payloads leave the array as it was. */
  g_assert_false (decode_with (protocol, FALSE, "{\"type\":\"ack\"", frames, &error));
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON);
  g_clear_error (&error);

  g_assert_false (tincan_protocol_decode (protocol, FALSE, empty, frames, &error));
  g_assert_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON);
  g_clear_error (&error);

  g_assert_cmpuint (frames->len, ==, expected);

  g_ptr_array_set_size (frames, 0);
  g_assert_finalize_object (g_steal_pointer (&protocol));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/protocol/frame/copy", test_frame_copy);
  g_test_add_func ("/protocol/frame/add-resume", test_frame_add_resume);
  g_test_add_func ("/protocol/frame/type-strings", test_frame_type_strings);
  g_test_add_func ("/protocol/v1/round-trip", test_v1_round_trip);
  g_test_add_func ("/protocol/v1/empty-text", test_v1_empty_text);
  g_test_add_func ("/protocol/v1/json-glib", test_v1_json_glib);
  g_test_add_func ("/protocol/v1/escaping", test_v1_escaping);
  g_test_add_func ("/protocol/v1/unescaping", test_v1_unescaping);
  g_test_add_func ("/protocol/v1/string-scan-offsets", test_v1_string_scan_offsets);
  g_test_add_func ("/protocol/v1/optional-fields", test_v1_optional_fields);
  g_test_add_func ("/protocol/v1/forward-compat", test_v1_forward_compat);
  g_test_add_func ("/protocol/v1/timestamps", test_v1_timestamps);
  g_test_add_func ("/protocol/v1/limits", test_v1_limits);
  g_test_add_func ("/protocol/v1/malformed", test_v1_malformed);
  g_test_add_func ("/protocol/v1/deep-nesting", test_v1_deep_nesting);
  g_test_add_func ("/protocol/v1/truncated", test_v1_truncated);
  g_test_add_func ("/protocol/v1/mutations", test_v1_mutations);
  g_test_add_func ("/protocol/v1/encode-invalid", test_v1_encode_invalid);
  g_test_add_func ("/protocol/v1/encode-critical", test_v1_encode_critical);
  g_test_add_func ("/protocol/object/registry", test_protocol_registry);
  g_test_add_func ("/protocol/object/encode", test_protocol_encode);
  g_test_add_func ("/protocol/object/decode", test_protocol_decode);

  return g_test_run ();
}
