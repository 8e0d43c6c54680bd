/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-fuzz"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "fuzz-common.h"
#include "tincan-protocols.h"

/* The JSON mapping of the json dialect (JSON Pointers, presets, templates)
 * and the params template of jsonrpc, under hostile options and frames.
 *
 * Input: parts separated by a 0xFF byte.
 *   part 0: byte 0 picks the dialect (even: json, odd: jsonrpc); the rest
 *           is options, one "key=value" per line, as a profile stores them;
 *   last part (if there are three or more): the text, user and room a
 *           user would send, separated by '\n';
 *   the parts between: server frames (0xFE first: binary).
 *
 * Checked: options are accepted or refused with G_IO_ERROR_INVALID_ARGUMENT,
 * never a crash or critical; decoding keeps the protocol contract; every
 * client frame encodes (or fails with an error) to a text frame that is
 * valid UTF-8 and valid JSON, whatever the text holds: a template is
 * filled with JSON values, never pasted as text. */

#define MAX_PARTS 12

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

/* A strict RFC 8259 syntax check: json-glib's own parser is lenient
 * (it reads "1e+17.0" and data after the value), so it cannot tell
 * whether what we send is JSON a strict peer accepts. Depth is bounded
 * by the caller's input size. */
static gboolean strict_value (const char **p, const char *end, guint depth);

static void
strict_ws (const char **p,
           const char  *end)
{
  while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
    (*p)++;
}

static gboolean
strict_digits (const char **p,
               const char  *end)
{
  const char *start = *p;

  while (*p < end && g_ascii_isdigit (**p))
    (*p)++;
  return *p > start;
}

static gboolean
strict_string (const char **p,
               const char  *end)
{
  (*p)++;
  while (*p < end)
    {
      guchar c = (guchar) **p;

      if (c == '"')
        {
          (*p)++;
          return TRUE;
        }
      if (c < 0x20)
        return FALSE;
      if (c == '\\')
        {
          (*p)++;
          if (*p >= end)
            return FALSE;
          if (**p == 'u')
            {
              for (int i = 0; i < 4; i++)
                {
                  (*p)++;
                  if (*p >= end || !g_ascii_isxdigit (**p))
                    return FALSE;
                }
            }
          else if (strchr ("\"\\/bfnrt", **p) == NULL || **p == '\0')
            return FALSE;
        }
      (*p)++;
    }
  return FALSE;
}

static gboolean
strict_number (const char **p,
               const char  *end)
{
  if (**p == '-')
    (*p)++;
  if (*p < end && **p == '0')
    (*p)++;
  else if (!strict_digits (p, end))
    return FALSE;
  if (*p < end && **p == '.')
    {
      (*p)++;
      if (!strict_digits (p, end))
        return FALSE;
    }
  if (*p < end && (**p == 'e' || **p == 'E'))
    {
      (*p)++;
      if (*p < end && (**p == '+' || **p == '-'))
        (*p)++;
      if (!strict_digits (p, end))
        return FALSE;
    }
  return TRUE;
}

static gboolean
strict_container (const char **p,
                  const char  *end,
                  guint        depth,
                  char         close)
{
  (*p)++;
  strict_ws (p, end);
  if (*p < end && **p == close)
    {
      (*p)++;
      return TRUE;
    }
  for (;;)
    {
      strict_ws (p, end);
      if (close == '}')
        {
          if (*p >= end || **p != '"' || !strict_string (p, end))
            return FALSE;
          strict_ws (p, end);
          if (*p >= end || **p != ':')
            return FALSE;
          (*p)++;
        }
      if (!strict_value (p, end, depth + 1))
        return FALSE;
      strict_ws (p, end);
      if (*p >= end)
        return FALSE;
      if (**p == close)
        {
          (*p)++;
          return TRUE;
        }
      if (**p != ',')
        return FALSE;
      (*p)++;
    }
}

static gboolean
strict_literal (const char **p,
                const char  *end,
                const char  *word)
{
  gsize n = strlen (word);

  if ((gsize) (end - *p) < n || memcmp (*p, word, n) != 0)
    return FALSE;
  *p += n;
  return TRUE;
}

static gboolean
strict_value (const char **p,
              const char  *end,
              guint        depth)
{
  strict_ws (p, end);
  if (*p >= end || depth > 200)
    return FALSE;

  switch (**p)
    {
    case '{':
      return strict_container (p, end, depth, '}');
    case '[':
      return strict_container (p, end, depth, ']');
    case '"':
      return strict_string (p, end);
    case 't':
      return strict_literal (p, end, "true");
    case 'f':
      return strict_literal (p, end, "false");
    case 'n':
      return strict_literal (p, end, "null");
    default:
      return (**p == '-' || g_ascii_isdigit (**p)) && strict_number (p, end);
    }
}

static gboolean
is_strict_json (const char *text,
                gsize       len)
{
  const char *p = text;
  const char *end = text + len;

  if (!strict_value (&p, end, 0))
    return FALSE;
  strict_ws (&p, end);
  return p == end;
}

static void
check_encoded (TincanProtocol    *protocol,
               const TincanFrame *frame)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (JsonParser) parser = NULL;
  gboolean binary = FALSE;
  const char *text;
  gsize len = 0;

  bytes = tincan_protocol_encode (protocol, frame, &binary, &error);
  if (bytes == NULL)
    return;

  if (error != NULL || binary)
    {
      fprintf (stderr, "%s: encode gave bytes with an error or as binary\n",
               tincan_protocol_get_name (protocol));
      abort ();
    }

  text = g_bytes_get_data (bytes, &len);
  if (len == 0 || !g_utf8_validate_len (text, len, NULL))
    {
      fprintf (stderr, "%s: encoded %s frame is empty or not UTF-8\n",
               tincan_protocol_get_name (protocol),
               tincan_frame_type_to_string (frame->type));
      abort ();
    }

  parser = json_parser_new_immutable ();
  if (!is_strict_json (text, len) ||
      !json_parser_load_from_data (parser, text, len, &error) ||
      json_parser_get_root (parser) == NULL)
    {
      fprintf (stderr, "%s: encoded %s frame is not JSON: %s\n%.*s\n",
               tincan_protocol_get_name (protocol),
               tincan_frame_type_to_string (frame->type),
               error != NULL ? error->message : "not strict RFC 8259 JSON", (int) MIN (len, 400), text);
      abort ();
    }
}

static void
encode_all (TincanProtocol *protocol,
            const char     *text,
            const char     *user,
            const char     *room)
{
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autoptr (TincanFrame) join = tincan_frame_new (TINCAN_FRAME_JOIN);
  g_autoptr (TincanFrame) leave = tincan_frame_new (TINCAN_FRAME_LEAVE);
  g_autoptr (TincanFrame) send = tincan_frame_new (TINCAN_FRAME_SEND);

  hello->user = g_strdup (user);
  hello->token = g_strdup (text);
  check_encoded (protocol, hello);

  join->room = g_strdup (room);
  check_encoded (protocol, join);
  leave->room = g_strdup (room);
  check_encoded (protocol, leave);

  send->room = g_strdup (room);
  send->cid = g_strdup ("3b241101-e2bb-4255-8caf-4136c566a962");
  send->text = g_strdup (text);
  send->user = g_strdup (user);
  check_encoded (protocol, send);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static gboolean initialized = FALSE;
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) options = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (TincanProtocol) protocol = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) values = NULL;
  const char *name;
  const uint8_t *p = data;
  const uint8_t *end = data + size;
  const char *opts;
  gsize opts_len = 0;
  guint n_frames;

  if (!initialized)
    {
      fuzz_init_logging ();
      initialized = TRUE;
    }

  if (size == 0)
    return 0;

  while (parts->len < MAX_PARTS && p <= end)
    {
      const uint8_t *sep = memchr (p, 0xff, end - p);
      const uint8_t *stop = sep != NULL ? sep : end;

      g_ptr_array_add (parts, g_bytes_new (p, stop - p));
      if (sep == NULL)
        break;
      p = sep + 1;
    }

  opts = g_bytes_get_data (g_ptr_array_index (parts, 0), &opts_len);
  if (opts_len == 0)
    return 0;
  name = (opts[0] & 1) ? "jsonrpc" : "json";

  /* Option lines: NUL-free text, as GSettings could hold them. */
  {
    g_autofree char *text = g_strndup (opts + 1, opts_len - 1);
    g_auto (GStrv) lines = g_strsplit (text, "\n", 16);

    for (guint i = 0; lines[i] != NULL; i++)
      {
        if (lines[i][0] != '\0' && g_utf8_validate (lines[i], -1, NULL))
          g_ptr_array_add (options, g_strdup (lines[i]));
      }
    g_ptr_array_add (options, NULL);
  }

  protocol = tincan_protocol_new_with_options (name, (const char * const *) options->pdata, &error);
  if (protocol == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        {
          fprintf (stderr, "%s: options refused without G_IO_ERROR_INVALID_ARGUMENT\n", name);
          abort ();
        }
      return 0;
    }
  if (error != NULL)
    {
      fprintf (stderr, "%s: options accepted with an error set\n", name);
      abort ();
    }

  /* What the user sends: the last part when there are three or more. */
  n_frames = parts->len >= 3 ? parts->len - 2 : parts->len - 1;
  if (parts->len >= 3)
    {
      gsize len = 0;
      const char *str = g_bytes_get_data (g_ptr_array_index (parts, parts->len - 1), &len);
      g_autofree char *text = g_strndup (str != NULL ? str : "", len);

      if (text[0] != '\0' && g_utf8_validate (text, -1, NULL))
        values = g_strsplit (text, "\n", 3);
    }
  /* g_strsplit() of "" is an empty vector. */
  if (values == NULL)
    values = g_strsplit ("héllo \"world\" \\ {{text}}\nalice\nlobby", "\n", 3);

  tincan_protocol_reset (protocol);
  encode_all (protocol,
              values[0],
              values[1] != NULL ? values[1] : "alice",
              values[1] != NULL && values[2] != NULL && values[2][0] != '\0' ? values[2] : "lobby");

  for (guint i = 1; i <= n_frames; i++)
    {
      g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
      g_autoptr (GError) decode_error = NULL;
      g_autoptr (GBytes) payload = NULL;
      GBytes *part = g_ptr_array_index (parts, i);
      gsize len = 0;
      const uint8_t *bytes = g_bytes_get_data (part, &len);
      gboolean binary = len > 0 && bytes[0] == 0xfe;
      gboolean ok;

      payload = binary ? g_bytes_new (bytes + 1, len - 1) : g_bytes_new (bytes, len);
      ok = tincan_protocol_decode (protocol, binary, payload, frames, &decode_error);
      if (ok != (decode_error == NULL))
        {
          fprintf (stderr, "%s: decode returned %s %s an error\n", name,
                   ok ? "TRUE" : "FALSE", ok ? "with" : "without");
          abort ();
        }

      for (guint k = 0; k < frames->len; k++)
        {
          const TincanFrame *frame = g_ptr_array_index (frames, k);

          fuzz_check_frame (frame);
          if (frame->type == TINCAN_FRAME_MESSAGE && frame->text != NULL)
            encode_all (protocol, frame->text,
                        frame->user != NULL ? frame->user : "alice",
                        frame->room != NULL && frame->room[0] != '\0' ? frame->room : "lobby");
        }
    }

  if (TINCAN_IS_PROTOCOL_JSONRPC (protocol))
    {
      g_autoptr (GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
      guint n = tincan_protocol_jsonrpc_expire (TINCAN_PROTOCOL_JSONRPC (protocol),
                                                G_MAXINT64 / 2, expired);

      if (n != expired->len)
        {
          fprintf (stderr, "jsonrpc: expire returned %u for %u frames\n", n, expired->len);
          abort ();
        }
      for (guint k = 0; k < expired->len; k++)
        fuzz_check_frame (g_ptr_array_index (expired, k));
    }

  return 0;
}
