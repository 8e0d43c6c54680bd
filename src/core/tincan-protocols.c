/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-protocol"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "tincan-protocols-private.h"
#include "tincan-util.h"

/* Shared helpers of the dialects, and creation with options. */

gboolean
_tincan_set_str (char       **str_pointer,
                 const char  *new_str)
{
  char *copy;

  if (*str_pointer == new_str || g_strcmp0 (*str_pointer, new_str) == 0)
    return FALSE;

  copy = g_strdup (new_str);
  g_free (*str_pointer);
  *str_pointer = copy;

  return TRUE;
}

gboolean
_tincan_dialect_check_text (const char  *data,
                            gsize        length,
                            GError     **error)
{
  const char *end = NULL;

  if (length > TINCAN_DIALECT_MAX_SIZE)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE,
                   _("frame is %lu bytes (limit %d)"),
                   (gulong) length, TINCAN_DIALECT_MAX_SIZE);
      return FALSE;
    }

  if (length > 0 && !g_utf8_validate_len (data, length, &end))
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_UTF8,
                   _("frame is not valid UTF-8 (at byte %lu)"),
                   (gulong) (end - data));
      return FALSE;
    }

  return TRUE;
}

/* The value of the "uXXXX" escape at @data[@i] (after the backslash), or
 * -1 if there is none. */
static int
hex4 (const char *data,
      gsize       length,
      gsize       i)
{
  int value = 0;

  if (i + 4 >= length || data[i] != 'u')
    return -1;

  for (gsize k = i + 1; k <= i + 4; k++)
    {
      int digit = g_ascii_xdigit_value (data[k]);

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }

  return value;
}

/* json-glib parses recursively: bound the nesting before it sees the text.
 * json-glib 1.6 also accepts a scalar followed by more ("1{}",
 * "\"a\"[1]"): it returns the scalar and leaks what it parsed after it. So
 * the text must hold exactly one value, followed by nothing but
 * whitespace. Outside strings only JSON's own characters are allowed, so no
 * comment or quote that json-glib's scanner knows and JSON does not can
 * hide where a string starts or ends, and escapes in strings must be
 * valid. Other syntax inside the value is left to json-glib. */
static gboolean
check_shape (const char  *data,
             gsize        length,
             GError     **error)
{
  gboolean in_string = FALSE;
  gboolean in_scalar = FALSE;
  gboolean ended = FALSE;
  gboolean started = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            {
              /* json-glib 1.6 reads invalid escapes ("\\q", "\\u0")
               * as it likes, and leaks what it read when a surrogate is
               * followed by a "\\u" that does not complete a pair: check
               * them first. */
              int unit = hex4 (data, length, i + 1);

              if (i + 1 < length && strchr ("\"\\/bfnrt", data[i + 1]) != NULL &&
                  data[i + 1] != '\0')
                i++;
              else if (unit >= 0xdc00 && unit <= 0xdfff)
                {
                  /* What a lone low surrogate stands for is not a character. */
                  g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_UTF8,
                                       _("frame has a \\u escape that is not a valid character"));
                  return FALSE;
                }
              else if (unit >= 0 && (unit < 0xd800 || unit > 0xdbff))
                i += 5;
              else if (unit >= 0 && i + 6 < length && data[i + 6] == '\\' &&
                       hex4 (data, length, i + 7) >= 0xdc00 &&
                       hex4 (data, length, i + 7) <= 0xdfff)
                i += 11;
              else
                {
                  g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                               _("frame is not valid JSON: invalid escape in a string (at byte %lu)"),
                               (gulong) i);
                  return FALSE;
                }
            }
          else if (c == '"')
            {
              in_string = FALSE;
              if (depth == 0)
                ended = TRUE;
            }
          continue;
        }

      if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        {
          if (in_scalar)
            {
              in_scalar = FALSE;
              ended = TRUE;
            }
          continue;
        }

      if (in_scalar && (g_ascii_isalnum (c) || c == '-' || c == '+' || c == '.'))
        continue;

      if (ended || in_scalar)
        {
          g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                       _("frame is not valid JSON: data after the value (at byte %lu)"),
                       (gulong) i);
          return FALSE;
        }

      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > TINCAN_DIALECT_MAX_DEPTH)
            {
              g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE,
                           _("frame is nested too deeply (limit %d levels)"),
                           TINCAN_DIALECT_MAX_DEPTH);
              return FALSE;
            }
        }
      else if (c == ']' || c == '}')
        {
          if (depth == 0)
            {
              g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                           _("frame is not valid JSON: unbalanced ‘%c’ (at byte %lu)"),
                           c, (gulong) i);
              return FALSE;
            }
          if (--depth == 0)
            ended = TRUE;
        }
      else if (c == ',' || c == ':')
        {
          if (depth == 0)
            {
              g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                           _("frame is not valid JSON: unexpected ‘%c’ (at byte %lu)"),
                           c, (gulong) i);
              return FALSE;
            }
        }
      else if (g_ascii_isalnum (c) || c == '-' || c == '+' || c == '.')
        {
          if (depth == 0)
            in_scalar = TRUE;
        }
      else
        {
          g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                       _("frame is not valid JSON: unexpected character (at byte %lu)"),
                       (gulong) i);
          return FALSE;
        }

      started = TRUE;
    }

  if (started && !ended && !in_scalar)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                           _("frame is not valid JSON: it ends inside a value"));
      return FALSE;
    }

  return TRUE;
}

/* json-glib turns a lone "\udc00" escape into bytes that are not UTF-8. */
static gboolean
strings_are_utf8 (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &name, &member))
          if (!g_utf8_validate (name, -1, NULL) || !strings_are_utf8 (member))
            return FALSE;
        return TRUE;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!strings_are_utf8 (json_array_get_element (array, i)))
            return FALSE;
        return TRUE;
      }

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        return g_utf8_validate (json_node_get_string (node), -1, NULL);
      return TRUE;

    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

JsonNode *
_tincan_dialect_parse (const char  *data,
                       gsize        length,
                       GError     **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;

  if (!_tincan_dialect_check_text (data, length, error) ||
      !check_shape (data, length, error))
    return NULL;

  if (length == 0)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                           _("frame is empty, not JSON"));
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) length, &local_error))
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                   _("frame is not valid JSON: %s"), local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                           _("frame holds no JSON value"));
      return NULL;
    }

  if (!strings_are_utf8 (root))
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_UTF8,
                           _("frame has a \\u escape that is not a valid character"));
      return NULL;
    }

  return json_node_ref (root);
}

gboolean
_tincan_json_pointer_is_valid (const char *pointer)
{
  if (pointer == NULL)
    return FALSE;
  if (*pointer == '\0')
    return TRUE;
  if (*pointer != '/')
    return FALSE;

  for (const char *p = pointer; *p != '\0'; p++)
    if (*p == '~' && p[1] != '0' && p[1] != '1')
      return FALSE;

  return g_utf8_validate (pointer, -1, NULL);
}

JsonNode *
_tincan_json_pointer_get (JsonNode   *root,
                          const char *pointer)
{
  g_auto (GStrv) tokens = NULL;
  JsonNode *node = root;

  if (root == NULL || !_tincan_json_pointer_is_valid (pointer))
    return NULL;
  if (*pointer == '\0')
    return root;

  tokens = g_strsplit (pointer + 1, "/", -1);
  for (guint i = 0; tokens[i] != NULL && node != NULL; i++)
    {
      g_autoptr (GString) token = g_string_new (NULL);

      for (const char *p = tokens[i]; *p != '\0'; p++)
        {
          if (p[0] == '~' && p[1] == '1')
            {
              g_string_append_c (token, '/');
              p++;
            }
          else if (p[0] == '~' && p[1] == '0')
            {
              g_string_append_c (token, '~');
              p++;
            }
          else
            g_string_append_c (token, *p);
        }

      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          node = json_object_get_member (json_node_get_object (node), token->str);
        }
      else if (JSON_NODE_HOLDS_ARRAY (node))
        {
          JsonArray *array = json_node_get_array (node);
          guint64 index = 0;

          if (!g_ascii_string_to_unsigned (token->str, 10, 0, G_MAXUINT, &index, NULL) ||
              (token->len > 1 && token->str[0] == '0') ||
              index >= json_array_get_length (array))
            return NULL;
          node = json_array_get_element (array, (guint) index);
        }
      else
        return NULL;
    }

  return node;
}

char *
_tincan_json_node_dup_text (JsonNode *node)
{
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    {
      const char *s = json_node_get_string (node);

      return g_utf8_validate (s, -1, NULL) ? g_strdup (s) : NULL;
    }
  if (type == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));

  return NULL;
}

gint64
_tincan_json_node_get_ts (JsonNode *node)
{
  GType type;
  double value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    {
      gint64 ms = 0;

      return tincan_timestamp_parse (json_node_get_string (node), &ms) ? ms : 0;
    }
  if (type == G_TYPE_INT64)
    value = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    value = json_node_get_double (node);
  else
    return 0;

  /* Seconds or milliseconds since the epoch; anything else is not a time. */
  if (!isfinite (value) || value <= 0 || value > 9007199254740992.0)
    return 0;
  if (value < 1e11)
    value *= 1000;

  return (gint64) value;
}

JsonNode *
_tincan_json_object_find (JsonNode           *node,
                          const char * const *names)
{
  JsonObject *object;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  object = json_node_get_object (node);
  for (guint i = 0; names[i] != NULL; i++)
    {
      JsonNode *member = json_object_get_member (object, names[i]);

      if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
        return member;
    }

  return NULL;
}

char *
_tincan_json_to_string (JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  GString *escaped;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);

  /* json-glib 1.6 writes U+001F raw, which is not valid JSON and strict
   * peers reject. Compact output has control bytes only inside strings. */
  if (strchr (text, 0x1f) == NULL)
    return g_steal_pointer (&text);

  escaped = g_string_sized_new (strlen (text) + 16);
  for (const char *p = text; *p != '\0'; p++)
    {
      if ((guchar) *p < 0x20)
        g_string_append_printf (escaped, "\\u%04x", (guint) (guchar) *p);
      else
        g_string_append_c (escaped, *p);
    }

  return g_string_free (escaped, FALSE);
}

GBytes *
_tincan_json_to_bytes (JsonNode *node)
{
  char *text = _tincan_json_to_string (node);

  return g_bytes_new_take (text, strlen (text));
}

/* Whether @text is one JSON number (RFC 8259), nothing more. */
static gboolean
is_json_number (const char *text)
{
  const char *p = text;

  if (*p == '-')
    p++;
  if (*p == '0')
    p++;
  else if (g_ascii_isdigit (*p))
    while (g_ascii_isdigit (*p))
      p++;
  else
    return FALSE;

  if (*p == '.')
    {
      p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }

  if (*p == 'e' || *p == 'E')
    {
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }

  return *p == '\0';
}

/* json-glib 1.6 reads every number but cannot write them all back: it
 * writes a double of 1e17 or more as "1e+17.0", an overflowing one as
 * "inf.0" (neither is JSON), and reads an integer past 64 bits as -1. A
 * template is sent as json-glib writes it, so refuse such numbers when the
 * option is set rather than send frames the server cannot read. */
static gboolean
template_numbers_are_writable (const char  *text,
                               JsonNode    *node,
                               GError     **error)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          if (!template_numbers_are_writable (NULL, member, error))
            return FALSE;
        break;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!template_numbers_are_writable (NULL, json_array_get_element (array, i), error))
            return FALSE;
        break;
      }

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          g_autofree char *written = _tincan_json_to_string (node);

          if (!is_json_number (written) ||
              g_ascii_strtod (written, NULL) != json_node_get_double (node))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The template has a number that cannot be sent as JSON "
                             "(%g): use a smaller number or a string"),
                           json_node_get_double (node));
              return FALSE;
            }
        }
      break;

    case JSON_NODE_NULL:
    default:
      break;
    }

  if (text == NULL)
    return TRUE;

  /* Integers past 64 bits: only the text still has them. */
  for (const char *p = text; *p != '\0'; p++)
    {
      gsize n;

      if (*p == '"')
        {
          for (p++; *p != '\0' && *p != '"'; p++)
            if (*p == '\\' && p[1] != '\0')
              p++;
          if (*p == '\0')
            break;
          continue;
        }

      if (*p != '-' && !g_ascii_isdigit (*p))
        continue;

      n = strspn (p, "-+.eE0123456789");
      if (strcspn (p, ".eE") >= n)
        {
          g_autofree char *literal = g_strndup (p, n);

          if (!g_ascii_string_to_signed (literal, 10, G_MININT64, G_MAXINT64, NULL, NULL))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The template has an integer outside the 64-bit range "
                             "(%s): use a smaller number or a string"),
                           literal);
              return FALSE;
            }
        }
      p += n - 1;
    }

  return TRUE;
}

JsonNode *
_tincan_template_parse (const char  *text,
                        GError     **error)
{
  g_autoptr (GError) local_error = NULL;
  JsonNode *node;

  if (text == NULL || *text == '\0')
    return NULL;

  node = _tincan_dialect_parse (text, strlen (text), &local_error);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The template is not valid JSON: %s"), local_error->message);
      return NULL;
    }

  if (!template_numbers_are_writable (text, node, error))
    {
      json_node_unref (node);
      return NULL;
    }

  return node;
}

static JsonNode *
placeholder_value (const char                 *name,
                   const TincanTemplateValues *values,
                   gboolean                   *known)
{
  const char *value = NULL;
  g_autofree char *owned = NULL;

  *known = TRUE;

  if (g_str_equal (name, "text"))
    value = values->text;
  else if (g_str_equal (name, "user"))
    value = values->user;
  else if (g_str_equal (name, "room"))
    value = values->room;
  else if (g_str_equal (name, "cid"))
    value = values->cid;
  else if (g_str_equal (name, "token"))
    value = values->token;
  else if (g_str_equal (name, "uuid"))
    value = owned = tincan_uuid_new ();
  else if (g_str_equal (name, "now"))
    value = owned = tincan_timestamp_format (tincan_now_ms ());
  else if (g_str_equal (name, "now_ms"))
    return json_node_init_int (json_node_alloc (), tincan_now_ms ());
  else
    {
      *known = FALSE;
      return NULL;
    }

  if (value == NULL)
    return json_node_init_null (json_node_alloc ());

  return json_node_init_string (json_node_alloc (), value);
}

JsonNode *
_tincan_template_fill (JsonNode                   *template_node,
                       const TincanTemplateValues *values)
{
  switch (JSON_NODE_TYPE (template_node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *in = json_node_get_object (template_node);
        g_autoptr (JsonObject) out = json_object_new ();
        g_autoptr (GList) members = json_object_get_members (in);

        for (GList *l = members; l != NULL; l = l->next)
          json_object_set_member (out, l->data,
                                  _tincan_template_fill (json_object_get_member (in, l->data),
                                                         values));

        return json_node_init_object (json_node_alloc (), out);
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *in = json_node_get_array (template_node);
        g_autoptr (JsonArray) out = json_array_new ();

        for (guint i = 0; i < json_array_get_length (in); i++)
          json_array_add_element (out, _tincan_template_fill (json_array_get_element (in, i),
                                                              values));

        return json_node_init_array (json_node_alloc (), out);
      }

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (template_node) == G_TYPE_STRING)
        {
          const char *s = json_node_get_string (template_node);
          gsize len = strlen (s);

          if (len > 4 && g_str_has_prefix (s, "{{") && g_str_has_suffix (s, "}}"))
            {
              g_autofree char *name = g_strndup (s + 2, len - 4);
              gboolean known = FALSE;
              JsonNode *value = placeholder_value (g_strstrip (name), values, &known);

              if (known)
                return value;
            }
        }
      return json_node_copy (template_node);

    case JSON_NODE_NULL:
    default:
      return json_node_copy (template_node);
    }
}

GPtrArray *
_tincan_frames_add_unmapped (GPtrArray *frames,
                             GBytes    *payload,
                             gboolean   binary)
{
  TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_UNMAPPED);

  frame->raw = g_bytes_ref (payload);
  frame->binary = binary;
  g_ptr_array_add (frames, frame);

  return frames;
}

void
_tincan_frames_add_reply (GPtrArray  *frames,
                          const char *text)
{
  TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_REPLY);

  /* NUL-terminated past its size, like libsoup's payloads. */
  frame->raw = g_bytes_new_take (g_strdup (text), strlen (text));
  frame->binary = FALSE;
  g_ptr_array_add (frames, frame);
}

static const char * const text_names[] = { "text", "message", "msg", "body", "content", NULL };
static const char * const user_names[] = { "user", "username", "from", "sender", "author", "name", "nick", NULL };
static const char * const room_names[] = { "room", "channel", "topic", NULL };
static const char * const id_names[] = { "id", "_id", "messageId", NULL };
static const char * const cid_names[] = { "cid", "clientId", NULL };
static const char * const ts_names[] = { "ts", "timestamp", "time", "date", "createdAt", NULL };

gboolean
_tincan_frame_fill_from_object (TincanFrame *frame,
                                JsonNode    *node)
{
  JsonNode *text;
  JsonNode *data;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;

  text = _tincan_json_object_find (node, text_names);
  if (text == NULL || !JSON_NODE_HOLDS_VALUE (text) ||
      json_node_get_value_type (text) != G_TYPE_STRING)
    {
      static const char * const data_names[] = { "data", "payload", NULL };

      /* {"data":{"text":…}}: the envelope carries the room, the inner object the rest. */
      data = _tincan_json_object_find (node, data_names);
      if (data != NULL && JSON_NODE_HOLDS_OBJECT (data) && _tincan_frame_fill_from_object (frame, data))
        {
          if (frame->room == NULL)
            frame->room = _tincan_json_node_dup_text (_tincan_json_object_find (node, room_names));
          return TRUE;
        }
      return FALSE;
    }

  frame->text = _tincan_json_node_dup_text (text);
  if (frame->text == NULL)
    return FALSE;

  g_free (frame->user);
  frame->user = _tincan_json_node_dup_text (_tincan_json_object_find (node, user_names));
  g_free (frame->room);
  frame->room = _tincan_json_node_dup_text (_tincan_json_object_find (node, room_names));
  g_free (frame->id);
  frame->id = _tincan_json_node_dup_text (_tincan_json_object_find (node, id_names));
  g_free (frame->cid);
  frame->cid = _tincan_json_node_dup_text (_tincan_json_object_find (node, cid_names));
  frame->ts = _tincan_json_node_get_ts (_tincan_json_object_find (node, ts_names));

  return TRUE;
}

/* Creation with options */

static gboolean
set_option (GObject     *object,
            const char  *option,
            GError     **error)
{
  g_auto (GStrv) pair = g_strsplit (option, "=", 2);
  g_auto (GValue) value = G_VALUE_INIT;
  GParamSpec *pspec;
  GType type;

  if (pair[0] == NULL || pair[1] == NULL || *pair[0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The option “%s” is not of the form key=value"), option);
      return FALSE;
    }

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), pair[0]);
  if (pspec == NULL || !(pspec->flags & G_PARAM_WRITABLE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The protocol “%s” has no option “%s”"),
                   tincan_protocol_get_name (TINCAN_PROTOCOL (object)), pair[0]);
      return FALSE;
    }

  type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  g_value_init (&value, type);

  if (type == G_TYPE_STRING)
    {
      if (g_str_has_suffix (pair[0], "-template") && *pair[1] != '\0')
        {
          g_autoptr (JsonNode) node = NULL;
          g_autoptr (GError) local_error = NULL;

          node = _tincan_template_parse (pair[1], &local_error);
          if (node == NULL)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The option “%s”: %s"), pair[0], local_error->message);
              return FALSE;
            }
        }
      else if (g_str_has_suffix (pair[0], "-pointer") && *pair[1] != '\0' &&
               !_tincan_json_pointer_is_valid (pair[1]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The option “%s” is not a JSON Pointer such as /data/text"), pair[0]);
          return FALSE;
        }
      else if (g_str_equal (pair[0], "preset") &&
               !g_strv_contains (tincan_protocol_json_list_presets (), pair[1]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Unknown preset “%s”"), pair[1]);
          return FALSE;
        }
      g_value_set_string (&value, *pair[1] != '\0' ? pair[1] : NULL);
    }
  else if (type == G_TYPE_UINT || type == G_TYPE_INT || type == G_TYPE_BOOLEAN)
    {
      guint64 number = 0;

      if (type == G_TYPE_BOOLEAN)
        {
          if (g_str_equal (pair[1], "true") || g_str_equal (pair[1], "1"))
            g_value_set_boolean (&value, TRUE);
          else if (g_str_equal (pair[1], "false") || g_str_equal (pair[1], "0"))
            g_value_set_boolean (&value, FALSE);
          else
            goto bad_value;
        }
      else if (!g_ascii_string_to_unsigned (pair[1], 10, 0, G_MAXINT, &number, NULL))
        goto bad_value;
      else if (type == G_TYPE_UINT)
        g_value_set_uint (&value, (guint) number);
      else
        g_value_set_int (&value, (int) number);

      if (g_param_value_validate (pspec, &value))
        goto bad_value;
    }
  else
    goto bad_value;

  g_object_set_property (object, pair[0], &value);
  return TRUE;

bad_value:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("The option “%s” has an invalid value"), pair[0]);
  return FALSE;
}

TincanProtocol *
tincan_protocol_new_with_options (const char          *name,
                                  const char * const  *options,
                                  GError             **error)
{
  g_autoptr (TincanProtocol) protocol = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  protocol = tincan_protocol_new_for_name (name, error);
  if (protocol == NULL)
    return NULL;

  if (options == NULL)
    return g_steal_pointer (&protocol);

  /* The preset first, so the other options refine it whatever their order. */
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; options[i] != NULL; i++)
      {
        gboolean is_preset = g_str_has_prefix (options[i], "preset=");

        if ((pass == 0) != is_preset)
          continue;
        if (!set_option (G_OBJECT (protocol), options[i], error))
          return NULL;
      }

  return g_steal_pointer (&protocol);
}

static gboolean
query_has_key (const char *query,
               const char *key)
{
  g_auto (GStrv) params = NULL;
  gsize key_len = strlen (key);

  if (query == NULL)
    return FALSE;

  params = g_strsplit (query, "&", -1);
  for (guint i = 0; params[i] != NULL; i++)
    if (strncmp (params[i], key, key_len) == 0 &&
        (params[i][key_len] == '=' || params[i][key_len] == '\0'))
      return TRUE;

  return FALSE;
}

char *
tincan_protocol_adjust_url (TincanProtocol *protocol,
                            const char     *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GUri) adjusted = NULL;
  g_autoptr (GString) query = NULL;
  const char *path;

  g_return_val_if_fail (TINCAN_IS_PROTOCOL (protocol), NULL);
  g_return_val_if_fail (url != NULL, NULL);

  if (!TINCAN_IS_PROTOCOL_SOCKETIO (protocol))
    return g_strdup (url);

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return g_strdup (url);

  path = g_uri_get_path (uri);
  if (path == NULL || *path == '\0' || g_str_equal (path, "/"))
    path = "/socket.io/";

  query = g_string_new (g_uri_get_query (uri));
  if (!query_has_key (query->str, "EIO"))
    g_string_append_printf (query, "%sEIO=4", query->len > 0 ? "&" : "");
  if (!query_has_key (query->str, "transport"))
    g_string_append_printf (query, "%stransport=websocket", query->len > 0 ? "&" : "");

  adjusted = g_uri_build (G_URI_FLAGS_ENCODED,
                          g_uri_get_scheme (uri), g_uri_get_userinfo (uri),
                          g_uri_get_host (uri), g_uri_get_port (uri),
                          path, query->str, g_uri_get_fragment (uri));
  return g_uri_to_string (adjusted);
}
