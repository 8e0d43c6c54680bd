/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-frame-log"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "tincan-core-enums.h"
#include "tincan-frame-log.h"
#include "tincan-protocols-private.h"
#include "tincan-inspector-private.h"
#include "tincan-util.h"

#define DEFAULT_BYTE_CAPACITY (G_GUINT64_CONSTANT (256) * 1024 * 1024)
/* What tincan_mask_secret() output starts with: never masked twice, so
 * masking is idempotent and an export imports back unchanged. */
#define MASK_PREFIX "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2("
#define MASK_PREFIX_LEN (sizeof (MASK_PREFIX) - 1)
/* Bookkeeping per record on top of its payload, for byte-capacity. */
#define RECORD_OVERHEAD 96
/* Longest a busy main loop may hold back a publication. */
#define FALLBACK_PUBLISH_MS 50

/* Masking */

static gboolean
is_secret_name (const char *name,
                gsize       len)
{
  static const char * const suffixes[] = {
    "token", "secret", "password", "passwd", "apikey", "authorization",
    "credentials", "credential", "jwt",
  };
  static const char * const exact[] = { "auth", "bearer", "pwd", "pass" };
  char buf[64];
  gsize n = 0;

  if (len > 96)
    return FALSE;

  /* "access_token", "accessToken", "X-Auth-Token" are all "accesstoken"… */
  for (gsize i = 0; i < len; i++)
    {
      char c = name[i];

      if (c == '_' || c == '-' || c == '.' || c == ' ')
        continue;
      if (n >= sizeof buf - 1)
        return FALSE;
      buf[n++] = g_ascii_tolower (c);
    }
  buf[n] = '\0';

  /* Every name below ends in one of these: most member names ("type",
   * "room", "seq") stop here, on the path every frame takes. */
  if (n == 0 || strchr ("ntdyslhr", buf[n - 1]) == NULL)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (exact); i++)
    if (strcmp (buf, exact[i]) == 0)
      return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      gsize slen = strlen (suffixes[i]);

      if (n >= slen && memcmp (buf + n - slen, suffixes[i], slen) == 0)
        return TRUE;
    }

  return FALSE;
}

static gboolean
is_masked (const char *value,
           gsize       len)
{
  return len >= MASK_PREFIX_LEN && memcmp (value, MASK_PREFIX, MASK_PREFIX_LEN) == 0;
}

static void
append_mask (GString    *out,
             const char *value,
             gsize       len)
{
  g_autofree char *copy = g_strndup (value, len);
  g_autofree char *masked = tincan_mask_secret (copy);

  g_string_append (out, masked);
}

/* Finds the end of the JSON string starting at s[i] == '"'; FALSE if it
 * does not end. */
static gboolean
json_string_end (const char *s,
                 gsize       len,
                 gsize       i,
                 gsize      *end)
{
  for (i++; i < len; i++)
    {
      if (s[i] == '\\')
        i++;
      else if (s[i] == '"')
        {
          *end = i + 1;
          return TRUE;
        }
    }

  return FALSE;
}

/* Decodes the inside of a JSON string (no quotes). Lenient: what it cannot
 * decode it copies. */
static char *
json_unescape (const char *s,
               gsize       len)
{
  GString *out = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      if (s[i] != '\\' || i + 1 >= len)
        {
          g_string_append_c (out, s[i]);
          continue;
        }

      i++;
      switch (s[i])
        {
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          if (i + 4 < len)
            {
              char hex[5] = { s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0 };
              char *endp = NULL;
              gunichar c = (gunichar) strtoul (hex, &endp, 16);

              if (endp == hex + 4)
                {
                  g_string_append_unichar (out, c);
                  i += 4;
                  break;
                }
            }
          g_string_append_c (out, 'u');
          break;
        default:
          g_string_append_c (out, s[i]);
          break;
        }
    }

  return g_string_free (out, FALSE);
}

/* Masks the values of JSON members with secret names, anywhere in the
 * text, keeping everything else byte for byte. NULL if nothing changed. */
static GString *
mask_json_members (const char *s,
                   gsize       len)
{
  GString *out = NULL;
  gsize copied = 0;
  gsize i = 0;

  while (i < len)
    {
      gsize kend, j;

      if (s[i] != '"')
        {
          i++;
          continue;
        }

      if (!json_string_end (s, len, i, &kend))
        break;

      for (j = kend; j < len && g_ascii_isspace (s[j]); j++)
        ;

      if (j >= len || s[j] != ':')
        {
          i = kend;
          continue;
        }

      {
        const char *key = s + i + 1;
        gsize key_len = kend - i - 2;
        gboolean secret;
        gsize v, vend;

        if (memchr (key, '\\', key_len) != NULL)
          {
            g_autofree char *decoded = json_unescape (key, key_len);

            secret = is_secret_name (decoded, strlen (decoded));
          }
        else
          secret = is_secret_name (key, key_len);

        i = j + 1;
        if (!secret)
          continue;

        for (v = j + 1; v < len && g_ascii_isspace (s[v]); v++)
          ;
        if (v >= len)
          break;

        if (s[v] == '"')
          {
            g_autofree char *value = NULL;

            if (!json_string_end (s, len, v, &vend))
              break;

            value = json_unescape (s + v + 1, vend - v - 2);
            if (!is_masked (value, strlen (value)))
              {
                if (out == NULL)
                  out = g_string_sized_new (len + 16);
                g_string_append_len (out, s + copied, v - copied);
                g_string_append_c (out, '"');
                append_mask (out, value, strlen (value));
                g_string_append_c (out, '"');
                copied = vend;
              }
            i = vend;
          }
        else if (s[v] != '{' && s[v] != '[')
          {
            /* A number (a PIN, a numeric key): masked as a string. */
            for (vend = v; vend < len && strchr (",}] \t\r\n", s[vend]) == NULL; vend++)
              ;
            if (vend > v &&
                !(vend - v == 4 && memcmp (s + v, "null", 4) == 0) &&
                !(vend - v == 4 && memcmp (s + v, "true", 4) == 0) &&
                !(vend - v == 5 && memcmp (s + v, "false", 5) == 0))
              {
                if (out == NULL)
                  out = g_string_sized_new (len + 16);
                g_string_append_len (out, s + copied, v - copied);
                g_string_append_c (out, '"');
                append_mask (out, s + v, vend - v);
                g_string_append_c (out, '"');
                copied = vend;
              }
            i = vend;
          }
      }
    }

  if (out != NULL)
    g_string_append_len (out, s + copied, len - copied);

  return out;
}

static gboolean
is_query_value_end (char c)
{
  return c == '&' || c == '#' || c == ';' || c == '"' || c == '\'' ||
         c == '<' || c == '>' || c == '\\' || c == ' ' || c == '\t' ||
         c == '\r' || c == '\n';
}

/* Masks ?name=value / &name=value / #name=value for secret names. */
static GString *
mask_query_values (const char *s,
                   gsize       len)
{
  GString *out = NULL;
  gsize copied = 0;

  for (gsize i = 0; i < len; i++)
    {
      gsize name, eq, vend;

      if (s[i] != '?' && s[i] != '&' && s[i] != '#' && s[i] != ';')
        continue;

      name = i + 1;
      for (eq = name; eq < len && s[eq] != '=' && !is_query_value_end (s[eq]) && s[eq] != '?'; eq++)
        ;
      if (eq >= len || s[eq] != '=' || eq == name || !is_secret_name (s + name, eq - name))
        continue;

      for (vend = eq + 1; vend < len && !is_query_value_end (s[vend]); vend++)
        ;
      if (vend == eq + 1 || is_masked (s + eq + 1, vend - eq - 1))
        continue;

      if (out == NULL)
        out = g_string_sized_new (len + 16);
      g_string_append_len (out, s + copied, eq + 1 - copied);
      append_mask (out, s + eq + 1, vend - eq - 1);
      copied = vend;
      i = vend - 1;
    }

  if (out != NULL)
    g_string_append_len (out, s + copied, len - copied);

  return out;
}

static const char *
find_bytes (const char *haystack,
            gsize       haystack_len,
            const char *needle,
            gsize       needle_len)
{
  const char *end = haystack + haystack_len;
  const char *p = haystack;

  while (needle_len <= (gsize) (end - p))
    {
      p = memchr (p, needle[0], (end - p) - needle_len + 1);
      if (p == NULL)
        return NULL;
      if (memcmp (p, needle, needle_len) == 0)
        return p;
      p++;
    }

  return NULL;
}

static GString *
mask_literals (const char         *s,
               gsize               len,
               const char * const *secrets)
{
  GString *out = NULL;

  for (guint k = 0; secrets != NULL && secrets[k] != NULL; k++)
    {
      const char *secret = secrets[k];
      gsize slen = strlen (secret);
      g_autofree char *masked = NULL;
      const char *src = out != NULL ? out->str : s;
      gsize src_len = out != NULL ? out->len : len;
      const char *hit;
      GString *next;
      gsize copied = 0;

      if (slen < 4 || (hit = find_bytes (src, src_len, secret, slen)) == NULL)
        continue;

      masked = tincan_mask_secret (secret);
      next = g_string_sized_new (src_len);
      while (hit != NULL)
        {
          g_string_append_len (next, src + copied, (hit - src) - copied);
          g_string_append (next, masked);
          copied = (hit - src) + slen;
          hit = find_bytes (src + copied, src_len - copied, secret, slen);
        }
      g_string_append_len (next, src + copied, src_len - copied);

      if (out != NULL)
        g_string_free (out, TRUE);
      out = next;
    }

  return out;
}

static void
replace_stage (GString **current,
               GString  *next)
{
  if (next == NULL)
    return;
  if (*current != NULL)
    g_string_free (*current, TRUE);
  *current = next;
}

/* Returns a new NUL-terminated buffer with the secrets of @data masked;
 * @is_utf8 tells whether it is valid UTF-8. */
static char *
mask_buffer (const char         *data,
             gsize               len,
             const char * const *secrets,
             gsize              *out_len,
             gboolean           *changed,
             gboolean           *is_utf8)
{
  GString *cur = NULL;
  char *result;
  gboolean valid = len == 0 || g_utf8_validate_len (data, len, NULL);

  if (len > 0 && valid)
    {
      replace_stage (&cur, mask_json_members (data, len));
      replace_stage (&cur, mask_query_values (cur != NULL ? cur->str : data,
                                              cur != NULL ? cur->len : len));
    }
  replace_stage (&cur, mask_literals (cur != NULL ? cur->str : data,
                                      cur != NULL ? cur->len : len, secrets));

  *changed = cur != NULL;
  if (cur != NULL)
    {
      *out_len = cur->len;
      *is_utf8 = g_utf8_validate_len (cur->str, cur->len, NULL);
      return g_string_free (cur, FALSE);
    }

  *is_utf8 = valid;

  result = g_malloc (len + 1);
  if (len > 0)
    memcpy (result, data, len);
  result[len] = '\0';
  *out_len = len;
  return result;
}

char *
tincan_frame_mask_url (const char *url)
{
  g_autoptr (GString) masked = NULL;
  const char *scheme_end, *authority, *authority_end, *at, *colon;

  if (url == NULL)
    return NULL;

  masked = mask_query_values (url, strlen (url));
  if (masked == NULL)
    masked = g_string_new (url);

  /* The password of "ws://user:password@host/". */
  scheme_end = strstr (masked->str, "://");
  if (scheme_end == NULL)
    return g_string_free (g_steal_pointer (&masked), FALSE);

  authority = scheme_end + 3;
  authority_end = authority + strcspn (authority, "/?#");
  at = NULL;
  for (const char *p = authority; p < authority_end; p++)
    if (*p == '@')
      at = p;
  colon = at != NULL ? memchr (authority, ':', at - authority) : NULL;

  if (colon != NULL && at > colon + 1 && !is_masked (colon + 1, at - colon - 1))
    {
      g_autoptr (GString) out = g_string_new (NULL);

      g_string_append_len (out, masked->str, colon + 1 - masked->str);
      append_mask (out, colon + 1, at - colon - 1);
      g_string_append (out, at);
      return g_string_free (g_steal_pointer (&out), FALSE);
    }

  return g_string_free (g_steal_pointer (&masked), FALSE);
}

static gboolean
looks_like_token (const char *item)
{
  return strlen (item) >= 32 || g_str_has_prefix (item, "eyJ");
}

char *
tincan_frame_mask_header (const char *name,
                          const char *value)
{
  g_autofree char *lower = NULL;
  GString *out;

  g_return_val_if_fail (name != NULL, NULL);

  if (value == NULL)
    return NULL;

  lower = g_ascii_strdown (name, -1);
  out = g_string_new (NULL);

  if (strcmp (lower, "authorization") == 0 || strcmp (lower, "proxy-authorization") == 0)
    {
      const char *space = strchr (value, ' ');

      if (space != NULL && space != value)
        {
          g_string_append_len (out, value, space - value + 1);
          if (is_masked (space + 1, strlen (space + 1)))
            g_string_append (out, space + 1);
          else
            append_mask (out, space + 1, strlen (space + 1));
        }
      else if (is_masked (value, strlen (value)))
        g_string_append (out, value);
      else
        append_mask (out, value, strlen (value));
    }
  else if (strcmp (lower, "cookie") == 0 || strcmp (lower, "set-cookie") == 0)
    {
      g_auto (GStrv) parts = g_strsplit (value, ";", -1);
      gboolean only_first = lower[0] == 's';

      for (guint i = 0; parts[i] != NULL; i++)
        {
          const char *part = parts[i];
          const char *eq;

          if (i > 0)
            g_string_append_c (out, ';');
          if (only_first && i > 0)
            {
              g_string_append (out, part);
              continue;
            }
          eq = strchr (part, '=');
          if (eq == NULL)
            {
              append_mask (out, part, strlen (part));
              continue;
            }
          g_string_append_len (out, part, eq - part + 1);
          if (is_masked (eq + 1, strlen (eq + 1)))
            g_string_append (out, eq + 1);
          else
            append_mask (out, eq + 1, strlen (eq + 1));
        }
    }
  else if (strcmp (lower, "sec-websocket-protocol") == 0)
    {
      g_auto (GStrv) items = g_strsplit (value, ",", -1);
      gboolean after_secret_name = FALSE;

      /* Browsers cannot set headers, so tokens ride here: "access_token,
       * TOKEN", "bearer, TOKEN", or a long opaque item. */
      for (guint i = 0; items[i] != NULL; i++)
        {
          char *item = g_strstrip (items[i]);

          if (i > 0)
            g_string_append (out, ", ");
          if ((after_secret_name || looks_like_token (item)) && !is_masked (item, strlen (item)))
            append_mask (out, item, strlen (item));
          else
            g_string_append (out, item);
          after_secret_name = is_secret_name (item, strlen (item));
        }
    }
  else if (is_secret_name (name, strlen (name)) ||
           strstr (lower, "token") != NULL || strstr (lower, "secret") != NULL ||
           strstr (lower, "api-key") != NULL || strstr (lower, "apikey") != NULL)
    {
      if (is_masked (value, strlen (value)))
        g_string_append (out, value);
      else
        append_mask (out, value, strlen (value));
    }
  else
    {
      g_autoptr (GString) masked = mask_query_values (value, strlen (value));

      g_string_append (out, masked != NULL ? masked->str : value);
    }

  return g_string_free (out, FALSE);
}

/* TincanFrameRecord */

struct _TincanFrameRecord
{
  GObject               parent_instance;

  gint64                time;
  GBytes               *payload;
  char                 *close_reason;
  char                 *json_type;
  gsize                 size;
  TincanFrameRecordKind kind;
  TincanFrameDirection  direction;
  TincanOpcode          opcode;
  guint                 close_code;
  guint                 is_utf8 : 1;
  guint                 masked : 1;
  guint                 json_type_done : 1;
};

G_DEFINE_FINAL_TYPE (TincanFrameRecord, tincan_frame_record, G_TYPE_OBJECT)

enum {
  REC_PROP_0,
  REC_PROP_KIND,
  REC_PROP_DIRECTION,
  REC_PROP_OPCODE,
  REC_PROP_TIME,
  REC_PROP_SIZE,
  REC_PROP_PAYLOAD,
  REC_PROP_TEXT,
  REC_PROP_CLOSE_CODE,
  REC_PROP_CLOSE_REASON,
  REC_PROP_JSON_TYPE,
  REC_PROP_MASKED,
  REC_N_PROPS
};

static GParamSpec *record_properties[REC_N_PROPS];

static void
tincan_frame_record_finalize (GObject *object)
{
  TincanFrameRecord *self = TINCAN_FRAME_RECORD (object);

  g_clear_pointer (&self->payload, g_bytes_unref);
  g_clear_pointer (&self->close_reason, g_free);
  g_clear_pointer (&self->json_type, g_free);

  G_OBJECT_CLASS (tincan_frame_record_parent_class)->finalize (object);
}

static void
tincan_frame_record_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TincanFrameRecord *self = TINCAN_FRAME_RECORD (object);

  switch (prop_id)
    {
    case REC_PROP_KIND: g_value_set_enum (value, self->kind); break;
    case REC_PROP_DIRECTION: g_value_set_enum (value, self->direction); break;
    case REC_PROP_OPCODE: g_value_set_uint (value, self->opcode); break;
    case REC_PROP_TIME: g_value_set_int64 (value, self->time); break;
    case REC_PROP_SIZE: g_value_set_uint64 (value, self->size); break;
    case REC_PROP_PAYLOAD: g_value_set_boxed (value, self->payload); break;
    case REC_PROP_TEXT: g_value_set_string (value, tincan_frame_record_get_text (self)); break;
    case REC_PROP_CLOSE_CODE: g_value_set_uint (value, self->close_code); break;
    case REC_PROP_CLOSE_REASON: g_value_set_string (value, self->close_reason); break;
    case REC_PROP_JSON_TYPE: g_value_set_string (value, tincan_frame_record_get_json_type (self)); break;
    case REC_PROP_MASKED: g_value_set_boolean (value, self->masked); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_frame_record_class_init (TincanFrameRecordClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = tincan_frame_record_finalize;
  object_class->get_property = tincan_frame_record_get_property;

  record_properties[REC_PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, TINCAN_TYPE_FRAME_RECORD_KIND,
                       TINCAN_FRAME_RECORD_KIND_FRAME, ro);
  record_properties[REC_PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL, TINCAN_TYPE_FRAME_DIRECTION,
                       TINCAN_FRAME_DIRECTION_IN, ro);
  record_properties[REC_PROP_OPCODE] =
    g_param_spec_uint ("opcode", NULL, NULL, 0, 15, 0, ro);
  record_properties[REC_PROP_TIME] =
    g_param_spec_int64 ("time", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
  record_properties[REC_PROP_SIZE] =
    g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  record_properties[REC_PROP_PAYLOAD] =
    g_param_spec_boxed ("payload", NULL, NULL, G_TYPE_BYTES, ro);
  record_properties[REC_PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL, ro);
  record_properties[REC_PROP_CLOSE_CODE] =
    g_param_spec_uint ("close-code", NULL, NULL, 0, G_MAXUINT16, 0, ro);
  record_properties[REC_PROP_CLOSE_REASON] =
    g_param_spec_string ("close-reason", NULL, NULL, NULL, ro);
  record_properties[REC_PROP_JSON_TYPE] =
    g_param_spec_string ("json-type", NULL, NULL, NULL, ro);
  record_properties[REC_PROP_MASKED] =
    g_param_spec_boolean ("masked", NULL, NULL, FALSE, ro);

  g_object_class_install_properties (object_class, REC_N_PROPS, record_properties);
}

static void
tincan_frame_record_init (TincanFrameRecord *self)
{
}

static gboolean
is_valid_opcode (TincanOpcode opcode)
{
  switch (opcode)
    {
    case TINCAN_OPCODE_TEXT:
    case TINCAN_OPCODE_BINARY:
    case TINCAN_OPCODE_CLOSE:
    case TINCAN_OPCODE_PING:
    case TINCAN_OPCODE_PONG:
      return TRUE;
    default:
      return FALSE;
    }
}

TincanFrameRecord *
tincan_frame_record_new (TincanFrameRecordKind kind,
                         TincanFrameDirection  direction,
                         TincanOpcode          opcode,
                         GBytes               *payload,
                         gsize                 size,
                         gint64                real_time_us,
                         const char * const   *secrets)
{
  TincanFrameRecord *self;
  const char *data = NULL;
  gsize len = 0;
  gsize out_len = 0;
  gboolean changed = FALSE;
  gboolean is_utf8 = FALSE;
  char *buf;

  g_return_val_if_fail (kind != TINCAN_FRAME_RECORD_KIND_FRAME || is_valid_opcode (opcode), NULL);

  if (payload != NULL)
    data = g_bytes_get_data (payload, &len);

  self = g_object_new (TINCAN_TYPE_FRAME_RECORD, NULL);
  self->kind = kind;
  self->direction = direction;
  self->opcode = kind == TINCAN_FRAME_RECORD_KIND_FRAME ? opcode : 0;
  self->time = real_time_us;
  self->size = size == G_MAXSIZE ? len : size;

  if (self->opcode == TINCAN_OPCODE_CLOSE && len >= 2)
    {
      g_autofree char *reason = NULL;
      gsize reason_len = 0;

      self->close_code = ((guint8) data[0] << 8) | (guint8) data[1];
      reason = mask_buffer (data + 2, len - 2, secrets, &reason_len, &changed, &is_utf8);

      buf = g_malloc (reason_len + 3);
      buf[0] = data[0];
      buf[1] = data[1];
      memcpy (buf + 2, reason, reason_len + 1);
      out_len = reason_len + 2;

      if (reason_len > 0)
        self->close_reason = g_utf8_make_valid (reason, reason_len);
      self->is_utf8 = FALSE;
    }
  else
    {
      buf = mask_buffer (data, len, secrets, &out_len, &changed, &is_utf8);
      self->is_utf8 = is_utf8;
    }

  self->masked = changed;
  self->payload = g_bytes_new_take (buf, out_len);

  return self;
}

TincanFrameRecordKind
tincan_frame_record_get_kind (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);
  return self->kind;
}

TincanFrameDirection
tincan_frame_record_get_direction (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);
  return self->direction;
}

TincanOpcode
tincan_frame_record_get_opcode (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);
  return self->opcode;
}

const char *
tincan_frame_record_get_opcode_name (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);

  if (self->kind != TINCAN_FRAME_RECORD_KIND_FRAME)
    return "handshake";

  switch (self->opcode)
    {
    case TINCAN_OPCODE_TEXT: return "text";
    case TINCAN_OPCODE_BINARY: return "binary";
    case TINCAN_OPCODE_CLOSE: return "close";
    case TINCAN_OPCODE_PING: return "ping";
    case TINCAN_OPCODE_PONG: return "pong";
    default: return "unknown";
    }
}

TincanFrameOpcodeMask
tincan_frame_record_get_opcode_mask (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);

  if (self->kind != TINCAN_FRAME_RECORD_KIND_FRAME)
    return TINCAN_FRAME_OPCODE_MASK_HANDSHAKE;

  switch (self->opcode)
    {
    case TINCAN_OPCODE_TEXT: return TINCAN_FRAME_OPCODE_MASK_TEXT;
    case TINCAN_OPCODE_BINARY: return TINCAN_FRAME_OPCODE_MASK_BINARY;
    case TINCAN_OPCODE_CLOSE: return TINCAN_FRAME_OPCODE_MASK_CLOSE;
    case TINCAN_OPCODE_PING: return TINCAN_FRAME_OPCODE_MASK_PING;
    case TINCAN_OPCODE_PONG: return TINCAN_FRAME_OPCODE_MASK_PONG;
    default: return 0;
    }
}

gint64
tincan_frame_record_get_time (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);
  return self->time;
}

gsize
tincan_frame_record_get_size (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);
  return self->size;
}

GBytes *
tincan_frame_record_get_payload (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);
  return self->payload;
}

const char *
tincan_frame_record_get_text (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);

  if (self->opcode == TINCAN_OPCODE_CLOSE)
    return self->close_reason;

  return self->is_utf8 ? g_bytes_get_data (self->payload, NULL) : NULL;
}

guint
tincan_frame_record_get_close_code (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), 0);
  return self->close_code;
}

const char *
tincan_frame_record_get_close_reason (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);
  return self->close_reason;
}

gboolean
tincan_frame_record_get_masked (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), FALSE);
  return self->masked;
}

static char *
find_json_type (const char *text,
                gsize       len)
{
  g_autoptr (JsonNode) root = NULL;
  const char *p = text;
  const char *end = text + len;

  while (p < end && g_ascii_isspace (*p))
    p++;
  /* Engine.IO / Socket.IO packets: "42[\"event\",…]". */
  if (p < end && g_ascii_isdigit (*p))
    {
      while (p < end && g_ascii_isdigit (*p))
        p++;
      if (p < end && *p == '/')
        {
          /* namespace: "42/chat,[…]" */
          while (p < end && *p != ',')
            p++;
          if (p < end)
            p++;
        }
    }
  if (p >= end || (*p != '{' && *p != '['))
    return NULL;

  /* The payload is the server's: the dialects' parser bounds its size and
   * nesting (json-glib alone recurses without limit) and its shape. */
  root = _tincan_dialect_parse (p, end - p, NULL);
  if (root == NULL)
    return NULL;

  if (JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *object = json_node_get_object (root);
      static const char * const names[] = { "type", "event", "method" };

      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          JsonNode *member = json_object_get_member (object, names[i]);

          if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
              json_node_get_value_type (member) == G_TYPE_STRING)
            return g_strdup (json_node_get_string (member));
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (root))
    {
      JsonArray *array = json_node_get_array (root);
      JsonNode *first = json_array_get_length (array) > 0 ? json_array_get_element (array, 0) : NULL;

      if (first != NULL && JSON_NODE_HOLDS_VALUE (first) &&
          json_node_get_value_type (first) == G_TYPE_STRING)
        return g_strdup (json_node_get_string (first));
    }

  return NULL;
}

const char *
tincan_frame_record_get_json_type (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);

  if (!self->json_type_done)
    {
      self->json_type_done = TRUE;
      if (self->kind == TINCAN_FRAME_RECORD_KIND_FRAME && self->is_utf8 &&
          (self->opcode == TINCAN_OPCODE_TEXT || self->opcode == TINCAN_OPCODE_BINARY))
        {
          gsize len;
          const char *data = g_bytes_get_data (self->payload, &len);

          self->json_type = find_json_type (data, len);
        }
    }

  return self->json_type;
}

static const char *
direction_to_string (TincanFrameDirection direction)
{
  return direction == TINCAN_FRAME_DIRECTION_OUT ? "out" : "in";
}

static gboolean
close_payload_is_canonical (TincanFrameRecord *self)
{
  gsize len = g_bytes_get_size (self->payload);

  if (len == 0)
    return TRUE;
  if (len == 1)
    return FALSE;
  if (len == 2)
    return self->close_reason == NULL;

  return self->close_reason != NULL &&
         strlen (self->close_reason) == len - 2 &&
         memcmp (self->close_reason, (const char *) g_bytes_get_data (self->payload, NULL) + 2, len - 2) == 0;
}

char *
tincan_frame_record_to_json_line (TincanFrameRecord *self)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonGenerator) generator = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *t = NULL;
  gint64 ms;
  gsize len;
  const char *data;

  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);

  data = g_bytes_get_data (self->payload, &len);
  ms = self->time >= 0 ? self->time / 1000 : -((-self->time + 999) / 1000);
  t = tincan_timestamp_format (ms);

  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "t");
  json_builder_add_string_value (builder, t);
  json_builder_set_member_name (builder, "t_us");
  json_builder_add_int_value (builder, self->time);
  json_builder_set_member_name (builder, "dir");
  json_builder_add_string_value (builder, direction_to_string (self->direction));
  json_builder_set_member_name (builder, "opcode");
  json_builder_add_string_value (builder, tincan_frame_record_get_opcode_name (self));
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) self->size);

  if (self->opcode == TINCAN_OPCODE_CLOSE)
    {
      if (len >= 2)
        {
          json_builder_set_member_name (builder, "close_code");
          json_builder_add_int_value (builder, self->close_code);
        }
      if (self->close_reason != NULL)
        {
          json_builder_set_member_name (builder, "close_reason");
          json_builder_add_string_value (builder, self->close_reason);
        }
      if (!close_payload_is_canonical (self))
        {
          g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);

          json_builder_set_member_name (builder, "payload_b64");
          json_builder_add_string_value (builder, b64);
        }
    }
  else if (self->is_utf8 && self->opcode != TINCAN_OPCODE_BINARY)
    {
      json_builder_set_member_name (builder, "payload");
      json_builder_add_string_value (builder, data);
    }
  else
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);

      json_builder_set_member_name (builder, "payload_b64");
      json_builder_add_string_value (builder, b64);
    }

  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static gboolean
base64_is_valid (const char *text)
{
  gsize len = strlen (text);

  if (len % 4 != 0)
    return FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (g_ascii_isalnum (c) || c == '+' || c == '/')
        continue;
      if (c == '=' && i >= len - 2 && (i == len - 1 || text[len - 1] == '='))
        continue;
      return FALSE;
    }

  return TRUE;
}

static gboolean
get_int_member (JsonObject  *object,
                const char  *name,
                gint64      *value,
                gboolean    *present,
                GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *present = node != NULL;
  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” is not an integer"), name);
      return FALSE;
    }

  *value = json_node_get_int (node);
  return TRUE;
}

static const char *
get_string_member (JsonObject  *object,
                   const char  *name,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return NULL;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” is not a string"), name);
      return NULL;
    }

  return json_node_get_string (node);
}

TincanFrameRecord *
tincan_frame_record_new_from_json_line (const char  *line,
                                        GError     **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) local_error = NULL;
  TincanFrameRecordKind kind = TINCAN_FRAME_RECORD_KIND_FRAME;
  TincanFrameDirection direction;
  TincanOpcode opcode = 0;
  JsonObject *object;
  const char *dir, *op, *text, *b64, *t, *reason;
  gint64 time_us = 0, size = -1, code = 0;
  gboolean present = FALSE, has_code = FALSE;

  g_return_val_if_fail (line != NULL, NULL);

  if (!json_parser_load_from_data (parser, line, -1, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("not JSON: %s"), local_error->message);
      return NULL;
    }

  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("not a JSON object"));
      return NULL;
    }
  object = json_node_get_object (json_parser_get_root (parser));

  if (!get_int_member (object, "t_us", &time_us, &present, error))
    return NULL;
  if (!present)
    {
      gint64 ms = 0;

      t = get_string_member (object, "t", &local_error);
      if (t == NULL || !tincan_timestamp_parse (t, &ms))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("missing or invalid time (“t” or “t_us”)"));
          return NULL;
        }
      time_us = ms * 1000;
    }

  dir = get_string_member (object, "dir", NULL);
  if (g_strcmp0 (dir, "in") == 0)
    direction = TINCAN_FRAME_DIRECTION_IN;
  else if (g_strcmp0 (dir, "out") == 0)
    direction = TINCAN_FRAME_DIRECTION_OUT;
  else
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("“dir” must be “in” or “out”"));
      return NULL;
    }

  op = get_string_member (object, "opcode", NULL);
  if (g_strcmp0 (op, "text") == 0)
    opcode = TINCAN_OPCODE_TEXT;
  else if (g_strcmp0 (op, "binary") == 0)
    opcode = TINCAN_OPCODE_BINARY;
  else if (g_strcmp0 (op, "close") == 0)
    opcode = TINCAN_OPCODE_CLOSE;
  else if (g_strcmp0 (op, "ping") == 0)
    opcode = TINCAN_OPCODE_PING;
  else if (g_strcmp0 (op, "pong") == 0)
    opcode = TINCAN_OPCODE_PONG;
  else if (g_strcmp0 (op, "handshake") == 0)
    kind = direction == TINCAN_FRAME_DIRECTION_OUT ? TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST
                                                   : TINCAN_FRAME_RECORD_KIND_HANDSHAKE_RESPONSE;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("unknown opcode “%s”"), op != NULL ? op : "");
      return NULL;
    }

  if (!get_int_member (object, "size", &size, &present, error))
    return NULL;
  if (present && size < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("negative size"));
      return NULL;
    }
  if (!present)
    size = -1;

  text = get_string_member (object, "payload", &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  b64 = get_string_member (object, "payload_b64", &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (text != NULL && b64 != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("both “payload” and “payload_b64”"));
      return NULL;
    }

  if (b64 != NULL)
    {
      guchar *data;
      gsize len = 0;

      if (!base64_is_valid (b64))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("“payload_b64” is not valid base64"));
          return NULL;
        }
      data = g_base64_decode (b64, &len);
      payload = g_bytes_new_take (data, len);
    }
  else if (text != NULL)
    payload = g_bytes_new (text, strlen (text));
  else if (opcode == TINCAN_OPCODE_CLOSE)
    {
      if (!get_int_member (object, "close_code", &code, &has_code, error))
        return NULL;
      reason = get_string_member (object, "close_reason", &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (has_code)
        {
          gsize rlen = reason != NULL ? strlen (reason) : 0;
          guint8 *data;

          if (code < 0 || code > G_MAXUINT16)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                   _("“close_code” out of range"));
              return NULL;
            }
          data = g_malloc (rlen + 2);
          data[0] = (code >> 8) & 0xff;
          data[1] = code & 0xff;
          if (rlen > 0)
            memcpy (data + 2, reason, rlen);
          payload = g_bytes_new_take (data, rlen + 2);
        }
    }

  return tincan_frame_record_new (kind, direction, opcode, payload,
                                  size >= 0 ? (gsize) size : G_MAXSIZE, time_us, NULL);
}

char *
tincan_frame_record_dup_hex_dump (TincanFrameRecord *self)
{
  const guint8 *data;
  gsize len;
  GString *out;

  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);

  data = g_bytes_get_data (self->payload, &len);
  out = g_string_sized_new (len * 4 + 16);

  for (gsize row = 0; row < len; row += 16)
    {
      g_string_append_printf (out, "%08" G_GSIZE_MODIFIER "x  ", row);
      for (gsize i = row; i < row + 16; i++)
        {
          if (i < len)
            g_string_append_printf (out, "%02x ", data[i]);
          else
            g_string_append (out, "   ");
          if (i == row + 7)
            g_string_append_c (out, ' ');
        }
      g_string_append (out, " |");
      for (gsize i = row; i < row + 16 && i < len; i++)
        g_string_append_c (out, g_ascii_isprint (data[i]) ? (char) data[i] : '.');
      g_string_append (out, "|\n");
    }

  return g_string_free (out, FALSE);
}

char *
tincan_frame_record_dup_copy_text (TincanFrameRecord *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (self), NULL);

  if (self->opcode == TINCAN_OPCODE_CLOSE)
    {
      if (g_bytes_get_size (self->payload) < 2)
        return g_strdup ("");
      return g_strdup_printf ("%u%s%s", self->close_code,
                              self->close_reason != NULL ? " " : "",
                              self->close_reason != NULL ? self->close_reason : "");
    }

  if (self->is_utf8 && self->opcode != TINCAN_OPCODE_BINARY)
    return g_strdup (g_bytes_get_data (self->payload, NULL));

  return tincan_frame_record_dup_hex_dump (self);
}

/* Ring: a fixed-capacity FIFO of records */

typedef struct
{
  TincanFrameRecord **items;
  guint               cap;
  guint               head;
  guint               len;
  guint64             bytes;
} Ring;

static guint64
record_cost (TincanFrameRecord *record)
{
  return g_bytes_get_size (record->payload) + RECORD_OVERHEAD;
}

static void
ring_init (Ring  *ring,
           guint  cap)
{
  ring->items = g_new0 (TincanFrameRecord *, MAX (cap, 1));
  ring->cap = MAX (cap, 1);
  ring->head = 0;
  ring->len = 0;
  ring->bytes = 0;
}

static inline TincanFrameRecord *
ring_get (Ring  *ring,
          guint  i)
{
  guint k = ring->head + i;

  return ring->items[k >= ring->cap ? k - ring->cap : k];
}

static void
ring_push (Ring              *ring,
           TincanFrameRecord *record)
{
  guint k = ring->head + ring->len;

  g_assert (ring->len < ring->cap);
  ring->items[k >= ring->cap ? k - ring->cap : k] = record;
  ring->len++;
  ring->bytes += record_cost (record);
}

static TincanFrameRecord *
ring_pop (Ring *ring)
{
  TincanFrameRecord *record;

  g_assert (ring->len > 0);
  record = ring->items[ring->head];
  ring->items[ring->head] = NULL;
  ring->head = ring->head + 1 == ring->cap ? 0 : ring->head + 1;
  ring->len--;
  ring->bytes -= record_cost (record);
  return record;
}

static void
ring_resize (Ring  *ring,
             guint  cap)
{
  TincanFrameRecord **items;

  cap = MAX (cap, 1);
  g_assert (ring->len <= cap);
  items = g_new0 (TincanFrameRecord *, cap);
  for (guint i = 0; i < ring->len; i++)
    items[i] = ring_get (ring, i);
  g_free (ring->items);
  ring->items = items;
  ring->cap = cap;
  ring->head = 0;
}

static void
ring_clear (Ring *ring)
{
  while (ring->len > 0)
    g_object_unref (ring_pop (ring));
}

static void
ring_free (Ring *ring)
{
  ring_clear (ring);
  g_clear_pointer (&ring->items, g_free);
}

/* TincanFrameLog */

struct _TincanFrameLog
{
  GObject           parent_instance;

  Ring              published;   /* what the model shows */
  Ring              pending;     /* appended since the last publication */
  guint             capacity;
  guint64           byte_capacity;
  guint64           n_evicted;
  guint             notified_pending;
  guint             idle_source;
  guint             fallback_source;
  gboolean          paused;

  GPtrArray        *secrets;     /* NULL-terminated */
  TincanConnection *connection;
};

static void tincan_frame_log_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanFrameLog, tincan_frame_log, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      tincan_frame_log_list_model_init))

enum {
  PROP_0,
  PROP_CAPACITY,
  PROP_BYTE_CAPACITY,
  PROP_PAUSED,
  PROP_N_PENDING,
  PROP_N_EVICTED,
  PROP_CONNECTION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
tincan_frame_log_get_item_type (GListModel *model)
{
  return TINCAN_TYPE_FRAME_RECORD;
}

static guint
tincan_frame_log_get_n_items (GListModel *model)
{
  return TINCAN_FRAME_LOG (model)->published.len;
}

static gpointer
tincan_frame_log_get_item (GListModel *model,
                           guint       position)
{
  TincanFrameLog *self = TINCAN_FRAME_LOG (model);

  if (position >= self->published.len)
    return NULL;

  return g_object_ref (ring_get (&self->published, position));
}

static void
tincan_frame_log_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = tincan_frame_log_get_item_type;
  iface->get_n_items = tincan_frame_log_get_n_items;
  iface->get_item = tincan_frame_log_get_item;
}

static void
notify_pending (TincanFrameLog *self)
{
  if (self->notified_pending == self->pending.len)
    return;

  self->notified_pending = self->pending.len;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PENDING]);
}

static void
add_evicted (TincanFrameLog *self,
             guint64         n)
{
  if (n == 0)
    return;

  self->n_evicted += n;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_EVICTED]);
}

/* How many published records the next publication removes at the front. */
static guint
count_front_evictions (TincanFrameLog *self)
{
  guint64 bytes = self->published.bytes + self->pending.bytes;
  guint len = self->published.len + self->pending.len;
  guint n = 0;

  while (n < self->published.len && (len > self->capacity || bytes > self->byte_capacity))
    {
      bytes -= record_cost (ring_get (&self->published, n));
      len--;
      n++;
    }

  return n;
}

static void
publish (TincanFrameLog *self)
{
  guint removed, position, added;

  if (self->pending.len == 0)
    {
      notify_pending (self);
      return;
    }

  removed = count_front_evictions (self);
  for (guint i = 0; i < removed; i++)
    g_object_unref (ring_pop (&self->published));
  if (removed > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);

  position = self->published.len;
  added = self->pending.len;
  while (self->pending.len > 0)
    ring_push (&self->published, ring_pop (&self->pending));
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, added);

  add_evicted (self, removed);
  notify_pending (self);
}

static void
cancel_publication (TincanFrameLog *self)
{
  g_clear_handle_id (&self->idle_source, g_source_remove);
  g_clear_handle_id (&self->fallback_source, g_source_remove);
}

static gboolean
idle_cb (gpointer user_data)
{
  TincanFrameLog *self = user_data;

  /* Whichever fires first; the other is dropped (removing the source
   * being dispatched is allowed). */
  cancel_publication (self);
  if (self->paused)
    notify_pending (self);
  else
    publish (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_idle (TincanFrameLog *self)
{
  if (self->idle_source != 0)
    return;

  /* Before GTK's layout and redraw (G_PRIORITY_HIGH_IDLE + 10 / + 20),
   * after the sockets' own sources: one publication per main-loop turn. */
  self->idle_source = g_idle_add_full (G_PRIORITY_HIGH_IDLE + 5, idle_cb, self, NULL);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->idle_source),
                            "[tincan] frame log publish");

  /* A socket that is always ready would starve idles: then this one, at
   * the sockets' own priority, publishes anyway. */
  self->fallback_source = g_timeout_add_full (G_PRIORITY_DEFAULT, FALLBACK_PUBLISH_MS,
                                              idle_cb, self, NULL);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->fallback_source),
                            "[tincan] frame log publish (busy)");
}

/* Takes @record. */
static void
take_record (TincanFrameLog    *self,
             TincanFrameRecord *record)
{
  guint64 dropped = 0;

  if (self->pending.len == self->pending.cap)
    {
      g_object_unref (ring_pop (&self->pending));
      dropped++;
    }
  ring_push (&self->pending, record);

  while (self->pending.len > 1 && self->pending.bytes > self->byte_capacity)
    {
      g_object_unref (ring_pop (&self->pending));
      dropped++;
    }

  /* Never shown: counted now rather than at publication. */
  if (dropped > 0)
    self->n_evicted += dropped;

  schedule_idle (self);
}

static void
tincan_frame_log_dispose (GObject *object)
{
  TincanFrameLog *self = TINCAN_FRAME_LOG (object);

  g_clear_handle_id (&self->idle_source, g_source_remove);
  g_clear_handle_id (&self->fallback_source, g_source_remove);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (tincan_frame_log_parent_class)->dispose (object);
}

static void
tincan_frame_log_finalize (GObject *object)
{
  TincanFrameLog *self = TINCAN_FRAME_LOG (object);

  ring_free (&self->published);
  ring_free (&self->pending);
  g_clear_pointer (&self->secrets, g_ptr_array_unref);

  G_OBJECT_CLASS (tincan_frame_log_parent_class)->finalize (object);
}

static void
tincan_frame_log_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  TincanFrameLog *self = TINCAN_FRAME_LOG (object);

  switch (prop_id)
    {
    case PROP_CAPACITY: g_value_set_uint (value, self->capacity); break;
    case PROP_BYTE_CAPACITY: g_value_set_uint64 (value, self->byte_capacity); break;
    case PROP_PAUSED: g_value_set_boolean (value, self->paused); break;
    case PROP_N_PENDING: g_value_set_uint (value, self->pending.len); break;
    case PROP_N_EVICTED: g_value_set_uint64 (value, self->n_evicted); break;
    case PROP_CONNECTION: g_value_set_object (value, self->connection); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_frame_log_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  TincanFrameLog *self = TINCAN_FRAME_LOG (object);

  switch (prop_id)
    {
    case PROP_CAPACITY: tincan_frame_log_set_capacity (self, g_value_get_uint (value)); break;
    case PROP_BYTE_CAPACITY: tincan_frame_log_set_byte_capacity (self, g_value_get_uint64 (value)); break;
    case PROP_PAUSED: tincan_frame_log_set_paused (self, g_value_get_boolean (value)); break;
    case PROP_CONNECTION: tincan_frame_log_attach (self, g_value_get_object (value)); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_frame_log_class_init (TincanFrameLogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = tincan_frame_log_dispose;
  object_class->finalize = tincan_frame_log_finalize;
  object_class->get_property = tincan_frame_log_get_property;
  object_class->set_property = tincan_frame_log_set_property;

  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL, 1, G_MAXINT, TINCAN_FRAME_LOG_DEFAULT_CAPACITY, rw);
  properties[PROP_BYTE_CAPACITY] =
    g_param_spec_uint64 ("byte-capacity", NULL, NULL, 1, G_MAXUINT64, DEFAULT_BYTE_CAPACITY, rw);
  properties[PROP_PAUSED] =
    g_param_spec_boolean ("paused", NULL, NULL, FALSE, rw);
  properties[PROP_N_PENDING] =
    g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_N_EVICTED] =
    g_param_spec_uint64 ("n-evicted", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL, TINCAN_TYPE_CONNECTION, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_frame_log_init (TincanFrameLog *self)
{
  self->capacity = TINCAN_FRAME_LOG_DEFAULT_CAPACITY;
  self->byte_capacity = DEFAULT_BYTE_CAPACITY;
  ring_init (&self->published, self->capacity);
  ring_init (&self->pending, self->capacity);
  self->secrets = g_ptr_array_new_null_terminated (0, g_free, TRUE);
}

TincanFrameLog *
tincan_frame_log_new (guint capacity)
{
  return g_object_new (TINCAN_TYPE_FRAME_LOG,
                       "capacity", capacity > 0 ? capacity : TINCAN_FRAME_LOG_DEFAULT_CAPACITY,
                       NULL);
}

guint
tincan_frame_log_get_capacity (TincanFrameLog *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), 0);
  return self->capacity;
}

void
tincan_frame_log_set_capacity (TincanFrameLog *self,
                               guint           capacity)
{
  guint64 dropped = 0;
  guint removed = 0;

  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));
  g_return_if_fail (capacity > 0);

  if (self->capacity == capacity)
    return;

  self->capacity = capacity;

  while (self->pending.len > capacity)
    {
      g_object_unref (ring_pop (&self->pending));
      dropped++;
    }
  self->n_evicted += dropped;

  /* A smaller window shows at once, even while paused: the user asked. */
  while (self->published.len > capacity)
    {
      g_object_unref (ring_pop (&self->published));
      removed++;
    }

  ring_resize (&self->pending, capacity);
  ring_resize (&self->published, capacity);

  if (removed > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPACITY]);
  add_evicted (self, removed);
  notify_pending (self);
}

guint64
tincan_frame_log_get_byte_capacity (TincanFrameLog *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), 0);
  return self->byte_capacity;
}

void
tincan_frame_log_set_byte_capacity (TincanFrameLog *self,
                                    guint64         byte_capacity)
{
  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));
  g_return_if_fail (byte_capacity > 0);

  if (self->byte_capacity == byte_capacity)
    return;

  self->byte_capacity = byte_capacity;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTE_CAPACITY]);
  /* Applied at the next publication. */
}

gboolean
tincan_frame_log_get_paused (TincanFrameLog *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), FALSE);
  return self->paused;
}

void
tincan_frame_log_set_paused (TincanFrameLog *self,
                             gboolean        paused)
{
  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));

  paused = !!paused;
  if (self->paused == paused)
    return;

  self->paused = paused;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAUSED]);

  if (!paused)
    {
      cancel_publication (self);
      publish (self);
    }
}

guint
tincan_frame_log_get_n_pending (TincanFrameLog *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), 0);
  return self->pending.len;
}

guint64
tincan_frame_log_get_n_evicted (TincanFrameLog *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), 0);
  return self->n_evicted;
}

void
tincan_frame_log_flush (TincanFrameLog *self)
{
  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));

  if (self->paused)
    return;

  cancel_publication (self);
  publish (self);
}

void
tincan_frame_log_clear (TincanFrameLog *self)
{
  guint removed;

  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));

  ring_clear (&self->pending);
  removed = self->published.len;
  ring_clear (&self->published);
  if (removed > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);

  if (self->n_evicted != 0)
    {
      self->n_evicted = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_EVICTED]);
    }
  notify_pending (self);
}

void
tincan_frame_log_add_secret (TincanFrameLog *self,
                             const char     *secret)
{
  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));

  if (secret == NULL || strlen (secret) < 4)
    return;

  for (guint i = 0; i < self->secrets->len; i++)
    if (strcmp (g_ptr_array_index (self->secrets, i), secret) == 0)
      return;

  g_ptr_array_add (self->secrets, g_strdup (secret));
}

void
tincan_frame_log_append (TincanFrameLog       *self,
                         TincanFrameDirection  direction,
                         TincanOpcode          opcode,
                         GBytes               *payload,
                         gint64                real_time_us)
{
  TincanFrameRecord *record;

  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));
  g_return_if_fail (is_valid_opcode (opcode));

  record = tincan_frame_record_new (TINCAN_FRAME_RECORD_KIND_FRAME, direction, opcode,
                                    payload, G_MAXSIZE, real_time_us,
                                    (const char * const *) self->secrets->pdata);
  take_record (self, record);
}

void
tincan_frame_log_append_record (TincanFrameLog    *self,
                                TincanFrameRecord *record)
{
  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));
  g_return_if_fail (TINCAN_IS_FRAME_RECORD (record));

  take_record (self, g_object_ref (record));
}

static void
append_headers (GString            *text,
                SoupMessageHeaders *headers)
{
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (headers == NULL)
    return;

  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      g_autofree char *masked = tincan_frame_mask_header (name, value);

      g_string_append_printf (text, "\n%s: %s", name, masked);
    }
}

static void
take_handshake (TincanFrameLog        *self,
                TincanFrameRecordKind  kind,
                GString               *text,
                gint64                 real_time_us)
{
  gsize len = text->len;
  g_autoptr (GBytes) bytes = g_string_free_to_bytes (text);
  TincanFrameDirection direction = kind == TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST
                                   ? TINCAN_FRAME_DIRECTION_OUT : TINCAN_FRAME_DIRECTION_IN;

  take_record (self, tincan_frame_record_new (kind, direction, 0, bytes, len, real_time_us,
                                              (const char * const *) self->secrets->pdata));
}

void
tincan_frame_log_append_handshake_request (TincanFrameLog     *self,
                                           const char         *method,
                                           const char         *uri,
                                           SoupMessageHeaders *headers,
                                           gint64              real_time_us)
{
  g_autofree char *masked_uri = NULL;
  GString *text;

  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));

  masked_uri = tincan_frame_mask_url (uri != NULL ? uri : "");
  text = g_string_new (NULL);
  g_string_append_printf (text, "%s %s HTTP/1.1", method != NULL ? method : "GET", masked_uri);
  append_headers (text, headers);
  take_handshake (self, TINCAN_FRAME_RECORD_KIND_HANDSHAKE_REQUEST, text, real_time_us);
}

void
tincan_frame_log_append_handshake_response (TincanFrameLog     *self,
                                            guint               status,
                                            const char         *reason_phrase,
                                            SoupMessageHeaders *headers,
                                            gint64              real_time_us)
{
  GString *text;

  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));

  text = g_string_new (NULL);
  g_string_append_printf (text, "HTTP/1.1 %u %s", status,
                          reason_phrase != NULL ? reason_phrase : soup_status_get_phrase (status));
  append_headers (text, headers);
  take_handshake (self, TINCAN_FRAME_RECORD_KIND_HANDSHAKE_RESPONSE, text, real_time_us);
}

void
tincan_frame_log_append_handshake (TincanFrameLog       *self,
                                   SoupMessage          *message,
                                   TincanFrameDirection  direction,
                                   gint64                real_time_us)
{
  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));
  g_return_if_fail (SOUP_IS_MESSAGE (message));

  if (direction == TINCAN_FRAME_DIRECTION_OUT)
    {
      g_autofree char *uri = g_uri_to_string (soup_message_get_uri (message));

      tincan_frame_log_append_handshake_request (self, soup_message_get_method (message), uri,
                                                 soup_message_get_request_headers (message),
                                                 real_time_us);
    }
  else
    tincan_frame_log_append_handshake_response (self, soup_message_get_status (message),
                                                soup_message_get_reason_phrase (message),
                                                soup_message_get_response_headers (message),
                                                real_time_us);
}

static void
on_frame (TincanConnection     *connection,
          TincanFrameDirection  direction,
          TincanOpcode          opcode,
          GBytes               *payload,
          gint64                real_time_us,
          gpointer              user_data)
{
  TincanFrameLog *self = user_data;

  if (!is_valid_opcode (opcode))
    return;

  tincan_frame_log_append (self, direction, opcode, payload, real_time_us);
}

static void
on_handshake (TincanConnection     *connection,
              TincanFrameDirection  direction,
              SoupMessage          *message,
              gint64                real_time_us,
              gpointer              user_data)
{
  tincan_frame_log_append_handshake (TINCAN_FRAME_LOG (user_data), message, direction, real_time_us);
}

/* TRUE if @instance has a signal @name taking exactly these parameters:
 * signals proposed to TincanConnection are followed as soon as they
 * exist with that signature, and never called with another. */
gboolean
_tincan_signal_has_signature (gpointer     instance,
                              const char  *name,
                              guint        n_params,
                              const GType *params)
{
  GSignalQuery query;
  guint id = g_signal_lookup (name, G_TYPE_FROM_INSTANCE (instance));

  if (id == 0)
    return FALSE;

  g_signal_query (id, &query);
  if (query.n_params != n_params)
    return FALSE;
  for (guint i = 0; i < n_params; i++)
    if ((query.param_types[i] & ~G_SIGNAL_TYPE_STATIC_SCOPE) != params[i])
      return FALSE;

  return TRUE;
}

void
tincan_frame_log_attach (TincanFrameLog   *self,
                         TincanConnection *connection)
{
  const GType handshake_params[] = { TINCAN_TYPE_FRAME_DIRECTION, SOUP_TYPE_MESSAGE, G_TYPE_INT64 };

  g_return_if_fail (TINCAN_IS_FRAME_LOG (self));
  g_return_if_fail (connection == NULL || TINCAN_IS_CONNECTION (connection));

  if (self->connection == connection)
    return;

  if (self->connection != NULL)
    g_signal_handlers_disconnect_by_data (self->connection, self);
  g_set_object (&self->connection, connection);
  if (connection != NULL)
    {
      g_signal_connect_object (connection, "frame", G_CALLBACK (on_frame), self, 0);
      /* Proposed: "handshake" (TincanFrameDirection, SoupMessage *, gint64),
       * OUT when the request headers are written, IN when the response
       * headers arrive. */
      if (_tincan_signal_has_signature (connection, "handshake", 3, handshake_params))
        g_signal_connect_object (connection, "handshake", G_CALLBACK (on_handshake), self, 0);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION]);
}

static gboolean
write_record (GOutputStream      *stream,
              GString            *buffer,
              TincanFrameRecord  *record,
              GError            **error)
{
  g_autofree char *line = tincan_frame_record_to_json_line (record);

  g_string_append (buffer, line);
  g_string_append_c (buffer, '\n');
  if (buffer->len < 64 * 1024)
    return TRUE;

  if (!g_output_stream_write_all (stream, buffer->str, buffer->len, NULL, NULL, error))
    return FALSE;
  g_string_truncate (buffer, 0);
  return TRUE;
}

gboolean
tincan_frame_log_export (TincanFrameLog  *self,
                         GOutputStream   *stream,
                         GError         **error)
{
  g_autoptr (GString) buffer = NULL;
  guint skip;

  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  buffer = g_string_sized_new (64 * 1024 + 4096);
  /* What is kept: the newest capacity of published + pending. */
  skip = count_front_evictions (self);

  for (guint i = skip; i < self->published.len; i++)
    if (!write_record (stream, buffer, ring_get (&self->published, i), error))
      return FALSE;
  for (guint i = 0; i < self->pending.len; i++)
    if (!write_record (stream, buffer, ring_get (&self->pending, i), error))
      return FALSE;

  if (buffer->len > 0 &&
      !g_output_stream_write_all (stream, buffer->str, buffer->len, NULL, NULL, error))
    return FALSE;

  return g_output_stream_flush (stream, NULL, error);
}

gboolean
tincan_frame_log_import (TincanFrameLog  *self,
                         GInputStream    *stream,
                         GError         **error)
{
  g_autoptr (GDataInputStream) data = NULL;
  g_autoptr (GPtrArray) records = NULL;
  guint line_number = 0;

  g_return_val_if_fail (TINCAN_IS_FRAME_LOG (self), FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  data = g_data_input_stream_new (stream);
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (data), FALSE);
  g_data_input_stream_set_newline_type (data, G_DATA_STREAM_NEWLINE_TYPE_ANY);
  records = g_ptr_array_new_with_free_func (g_object_unref);

  for (;;)
    {
      g_autoptr (GError) local_error = NULL;
      g_autofree char *line = NULL;
      TincanFrameRecord *record;
      gsize len = 0;

      line = g_data_input_stream_read_line (data, &len, NULL, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (line == NULL)
        break;

      line_number++;
      g_strstrip (line);
      if (*line == '\0')
        continue;

      record = tincan_frame_record_new_from_json_line (line, &local_error);
      if (record == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("line %u: %s"), line_number, local_error->message);
          return FALSE;
        }
      g_ptr_array_add (records, record);
    }

  for (guint i = 0; i < records->len; i++)
    take_record (self, g_object_ref (g_ptr_array_index (records, i)));

  return TRUE;
}
