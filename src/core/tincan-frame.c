/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-frame"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "tincan-frame.h"
#include "tincan-frame-private.h"
#include "tincan-protocol.h"
#include "tincan-util.h"

G_DEFINE_BOXED_TYPE (TincanFrame, tincan_frame, tincan_frame_copy, tincan_frame_free)

/* Indexed by TincanFrameType. */
static const char * const frame_type_names[] = {
  NULL,
  "hello",
  "join",
  "leave",
  "send",
  "ping",
  "welcome",
  "ack",
  "message",
  "presence",
  "members",
  "resumed",
  "pong",
  "error",
  "unmapped",
  "reply",
};

G_STATIC_ASSERT (G_N_ELEMENTS (frame_type_names) == TINCAN_FRAME_REPLY + 1);

TincanFrame *
tincan_frame_new (TincanFrameType type)
{
  TincanFrame *frame = g_new0 (TincanFrame, 1);

  frame->type = type;

  return frame;
}

static GHashTable *
resume_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

TincanFrame *
tincan_frame_copy (const TincanFrame *frame)
{
  TincanFrame *copy;

  g_return_val_if_fail (frame != NULL, NULL);

  copy = g_memdup2 (frame, sizeof *frame);
  copy->room = g_strdup (frame->room);
  copy->user = g_strdup (frame->user);
  copy->token = g_strdup (frame->token);
  copy->session = g_strdup (frame->session);
  copy->cid = g_strdup (frame->cid);
  copy->id = g_strdup (frame->id);
  copy->text = g_strdup (frame->text);
  copy->code = g_strdup (frame->code);
  copy->message = g_strdup (frame->message);
  copy->rooms = g_strdupv (frame->rooms);
  copy->users = g_strdupv (frame->users);
  copy->raw = frame->raw != NULL ? g_bytes_ref (frame->raw) : NULL;
  copy->resume = NULL;

  if (frame->resume != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      copy->resume = resume_table_new ();
      g_hash_table_iter_init (&iter, frame->resume);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (copy->resume,
                             g_strdup (key),
                             g_memdup2 (value, sizeof (gint64)));
    }

  return copy;
}

void
tincan_frame_free (TincanFrame *frame)
{
  if (frame == NULL)
    return;

  g_free (frame->room);
  g_free (frame->user);
  g_free (frame->token);
  g_free (frame->session);
  g_free (frame->cid);
  g_free (frame->id);
  g_free (frame->text);
  g_free (frame->code);
  g_free (frame->message);
  g_strfreev (frame->rooms);
  g_strfreev (frame->users);
  g_clear_pointer (&frame->resume, g_hash_table_unref);
  g_clear_pointer (&frame->raw, g_bytes_unref);
  g_free (frame);
}

void
tincan_frame_add_resume (TincanFrame *frame,
                         const char  *room,
                         gint64       seq)
{
  g_return_if_fail (frame != NULL);
  g_return_if_fail (room != NULL);

  if (frame->resume == NULL)
    frame->resume = resume_table_new ();

  g_hash_table_insert (frame->resume,
                       g_strdup (room),
                       g_memdup2 (&seq, sizeof seq));
}

const char *
tincan_frame_type_to_string (TincanFrameType type)
{
  if ((guint) type >= G_N_ELEMENTS (frame_type_names))
    return NULL;

  return frame_type_names[type];
}

static TincanFrameType
frame_type_from_span (const char *name,
                      gsize       len)
{
  for (guint i = 1; i < G_N_ELEMENTS (frame_type_names); i++)
    {
      if (strlen (frame_type_names[i]) == len &&
          memcmp (frame_type_names[i], name, len) == 0)
        return (TincanFrameType) i;
    }

  return TINCAN_FRAME_INVALID;
}

TincanFrameType
tincan_frame_type_from_string (const char *name)
{
  if (name == NULL)
    return TINCAN_FRAME_INVALID;

  return frame_type_from_span (name, strlen (name));
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

#define APPEND_LITERAL(out, lit) g_string_append_len ((out), (lit), sizeof (lit) - 1)

static const char hex_digits[] = "0123456789abcdef";

/* Escapes what JSON requires (quote, backslash, C0 controls) and keeps
 * everything else, UTF-8 included, byte for byte. */
static void
append_escaped (GString    *out,
                const char *str)
{
  const guchar *p = (const guchar *) str;
  const guchar *run = p;

  for (; *p != '\0'; p++)
    {
      guchar c = *p;

      if (G_LIKELY (c >= 0x20 && c != '"' && c != '\\'))
        continue;

      if (p > run)
        g_string_append_len (out, (const char *) run, p - run);
      run = p + 1;

      switch (c)
        {
        case '"':
          APPEND_LITERAL (out, "\\\"");
          break;
        case '\\':
          APPEND_LITERAL (out, "\\\\");
          break;
        case '\n':
          APPEND_LITERAL (out, "\\n");
          break;
        case '\r':
          APPEND_LITERAL (out, "\\r");
          break;
        case '\t':
          APPEND_LITERAL (out, "\\t");
          break;
        case '\b':
          APPEND_LITERAL (out, "\\b");
          break;
        case '\f':
          APPEND_LITERAL (out, "\\f");
          break;
        default:
          {
            char esc[6] = { '\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xf] };

            g_string_append_len (out, esc, sizeof esc);
          }
          break;
        }
    }

  if (p > run)
    g_string_append_len (out, (const char *) run, p - run);
}

static void
append_string (GString    *out,
               const char *str)
{
  g_string_append_c (out, '"');

  /* A frame built from bad input must still encode to valid UTF-8. */
  if (G_LIKELY (g_utf8_validate (str, -1, NULL)))
    {
      append_escaped (out, str);
    }
  else
    {
      g_autofree char *valid = g_utf8_make_valid (str, -1);

      append_escaped (out, valid);
    }

  g_string_append_c (out, '"');
}

static void
append_int (GString *out,
            gint64   value)
{
  char buf[24];
  char *p = buf + sizeof buf;
  guint64 v = value < 0 ? -(guint64) value : (guint64) value;

  do
    {
      *--p = '0' + (v % 10);
      v /= 10;
    }
  while (v != 0);

  if (value < 0)
    *--p = '-';

  g_string_append_len (out, p, buf + sizeof buf - p);
}

/* ,"key": */
static void
append_key (GString    *out,
            const char *key)
{
  g_string_append_c (out, ',');
  g_string_append_c (out, '"');
  g_string_append (out, key);
  g_string_append_c (out, '"');
  g_string_append_c (out, ':');
}

static void
append_strv (GString            *out,
             const char * const *strv)
{
  g_string_append_c (out, '[');
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_string (out, strv[i]);
    }
  g_string_append_c (out, ']');
}

static int
compare_keys (const void *a,
              const void *b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
append_resume (GString    *out,
               GHashTable *resume)
{
  g_autofree gpointer *keys = NULL;
  guint n_keys = 0;

  /* Sorted so that the same frame always encodes to the same bytes. */
  keys = g_hash_table_get_keys_as_array (resume, &n_keys);
  qsort (keys, n_keys, sizeof (gpointer), compare_keys);

  g_string_append_c (out, '{');
  for (guint i = 0; i < n_keys; i++)
    {
      const gint64 *seq = g_hash_table_lookup (resume, keys[i]);

      if (i > 0)
        g_string_append_c (out, ',');
      append_string (out, keys[i]);
      g_string_append_c (out, ':');
      append_int (out, *seq);
    }
  g_string_append_c (out, '}');
}

static gboolean
encode_fail (GError         **error,
             TincanProtocolError code,
             const char      *type_name,
             const char      *field,
             const char      *problem)
{
  g_set_error (error, TINCAN_PROTOCOL_ERROR, code,
               /* Translators: e.g. Field “room” in “join”: not set */
               _("Field “%s” in “%s”: %s"), field, type_name, problem);
  return FALSE;
}

static gboolean
check_string (const char  *value,
              gboolean     non_empty,
              const char  *type_name,
              const char  *field,
              GError     **error)
{
  if (value == NULL)
    return encode_fail (error, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                        type_name, field, _("not set"));

  if (non_empty && value[0] == '\0')
    return encode_fail (error, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                        type_name, field, _("must not be empty"));

  return TRUE;
}

static gboolean
check_range (gint64       value,
             gint64       min,
             gint64       max,
             const char  *type_name,
             const char  *field,
             GError     **error)
{
  if (value < min || value > max)
    return encode_fail (error, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                        type_name, field, _("out of range"));

  return TRUE;
}

static gboolean
check_strv (const char * const *strv,
            const char         *type_name,
            const char         *field,
            GError            **error)
{
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    {
      if (strv[i][0] == '\0')
        return encode_fail (error, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                            type_name, field, _("contains an empty string"));
    }

  return TRUE;
}

static gboolean
check_resume (GHashTable  *resume,
              const char  *type_name,
              GError     **error)
{
  GHashTableIter iter;
  gpointer key, value;

  if (resume == NULL)
    return TRUE;

  g_hash_table_iter_init (&iter, resume);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      gint64 seq = *(const gint64 *) value;

      if (((const char *) key)[0] == '\0')
        return encode_fail (error, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                            type_name, "resume", _("has an empty room name"));
      if (seq < 0 || seq > TINCAN_V1_MAX_INT)
        return encode_fail (error, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                            type_name, "resume", _("out of range"));
    }

  return TRUE;
}

static gboolean
append_timestamp (GString     *out,
                  gint64       ts,
                  const char  *type_name,
                  GError     **error)
{
  g_autofree char *text = tincan_timestamp_format (ts);

  if (text == NULL)
    return encode_fail (error, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                        type_name, "ts", _("not a representable time"));

  append_key (out, "ts");
  append_string (out, text);

  return TRUE;
}

/* Validates and writes every member after "type". */
static gboolean
encode_members (GString            *out,
                const TincanFrame  *frame,
                const char         *type_name,
                GError            **error)
{
  switch (frame->type)
    {
    case TINCAN_FRAME_HELLO:
      if (!check_string (frame->user, TRUE, type_name, "user", error) ||
          !check_resume (frame->resume, type_name, error))
        return FALSE;
      append_key (out, "user");
      append_string (out, frame->user);
      if (frame->token != NULL)
        {
          append_key (out, "token");
          append_string (out, frame->token);
        }
      if (frame->resume != NULL && g_hash_table_size (frame->resume) > 0)
        {
          append_key (out, "resume");
          append_resume (out, frame->resume);
        }
      return TRUE;

    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
      if (!check_string (frame->room, TRUE, type_name, "room", error))
        return FALSE;
      append_key (out, "room");
      append_string (out, frame->room);
      return TRUE;

    case TINCAN_FRAME_SEND:
      if (!check_string (frame->room, TRUE, type_name, "room", error) ||
          !check_string (frame->cid, TRUE, type_name, "cid", error) ||
          !check_string (frame->text, FALSE, type_name, "text", error))
        return FALSE;
      append_key (out, "room");
      append_string (out, frame->room);
      append_key (out, "cid");
      append_string (out, frame->cid);
      append_key (out, "text");
      append_string (out, frame->text);
      return TRUE;

    case TINCAN_FRAME_PING:
    case TINCAN_FRAME_PONG:
      if (!check_range (frame->ping_id, 0, TINCAN_V1_MAX_INT, type_name, "id", error))
        return FALSE;
      append_key (out, "id");
      append_int (out, frame->ping_id);
      return TRUE;

    case TINCAN_FRAME_WELCOME:
      if (!check_string (frame->session, TRUE, type_name, "session", error) ||
          !check_string (frame->user, TRUE, type_name, "user", error) ||
          !check_strv ((const char * const *) frame->rooms, type_name, "rooms", error) ||
          !check_range (frame->heartbeat, 0, G_MAXINT32, type_name, "heartbeat", error))
        return FALSE;
      append_key (out, "session");
      append_string (out, frame->session);
      append_key (out, "user");
      append_string (out, frame->user);
      append_key (out, "rooms");
      append_strv (out, (const char * const *) frame->rooms);
      if (frame->heartbeat > 0)
        {
          append_key (out, "heartbeat");
          append_int (out, frame->heartbeat);
        }
      return TRUE;

    case TINCAN_FRAME_ACK:
      if (!check_string (frame->cid, TRUE, type_name, "cid", error) ||
          !check_string (frame->id, TRUE, type_name, "id", error) ||
          !check_range (frame->seq, 1, TINCAN_V1_MAX_INT, type_name, "seq", error) ||
          (frame->room != NULL && !check_string (frame->room, TRUE, type_name, "room", error)))
        return FALSE;
      append_key (out, "cid");
      append_string (out, frame->cid);
      append_key (out, "id");
      append_string (out, frame->id);
      append_key (out, "seq");
      append_int (out, frame->seq);
      if (frame->room != NULL)
        {
          append_key (out, "room");
          append_string (out, frame->room);
        }
      return append_timestamp (out, frame->ts, type_name, error);

    case TINCAN_FRAME_MESSAGE:
      if (!check_string (frame->room, TRUE, type_name, "room", error) ||
          !check_range (frame->seq, 1, TINCAN_V1_MAX_INT, type_name, "seq", error) ||
          !check_string (frame->id, TRUE, type_name, "id", error) ||
          (frame->cid != NULL && !check_string (frame->cid, TRUE, type_name, "cid", error)) ||
          !check_string (frame->user, TRUE, type_name, "from", error) ||
          !check_string (frame->text, FALSE, type_name, "text", error))
        return FALSE;
      append_key (out, "room");
      append_string (out, frame->room);
      append_key (out, "seq");
      append_int (out, frame->seq);
      append_key (out, "id");
      append_string (out, frame->id);
      if (frame->cid != NULL)
        {
          append_key (out, "cid");
          append_string (out, frame->cid);
        }
      append_key (out, "from");
      append_string (out, frame->user);
      append_key (out, "text");
      append_string (out, frame->text);
      return append_timestamp (out, frame->ts, type_name, error);

    case TINCAN_FRAME_PRESENCE:
      if (!check_string (frame->room, TRUE, type_name, "room", error) ||
          !check_string (frame->user, TRUE, type_name, "user", error))
        return FALSE;
      append_key (out, "room");
      append_string (out, frame->room);
      append_key (out, "user");
      append_string (out, frame->user);
      append_key (out, "online");
      if (frame->online)
        APPEND_LITERAL (out, "true");
      else
        APPEND_LITERAL (out, "false");
      return TRUE;

    case TINCAN_FRAME_MEMBERS:
      if (!check_string (frame->room, TRUE, type_name, "room", error) ||
          !check_strv ((const char * const *) frame->users, type_name, "users", error))
        return FALSE;
      append_key (out, "room");
      append_string (out, frame->room);
      append_key (out, "users");
      append_strv (out, (const char * const *) frame->users);
      return TRUE;

    case TINCAN_FRAME_RESUMED:
      if (!check_string (frame->room, TRUE, type_name, "room", error) ||
          !check_range (frame->seq, 0, TINCAN_V1_MAX_INT, type_name, "seq", error))
        return FALSE;
      append_key (out, "room");
      append_string (out, frame->room);
      append_key (out, "seq");
      append_int (out, frame->seq);
      append_key (out, "gap");
      if (frame->gap)
        APPEND_LITERAL (out, "true");
      else
        APPEND_LITERAL (out, "false");
      return TRUE;

    case TINCAN_FRAME_ERROR:
      if (!check_string (frame->code, TRUE, type_name, "code", error) ||
          (frame->cid != NULL && !check_string (frame->cid, TRUE, type_name, "cid", error)) ||
          (frame->room != NULL && !check_string (frame->room, TRUE, type_name, "room", error)))
        return FALSE;
      append_key (out, "code");
      append_string (out, frame->code);
      if (frame->message != NULL)
        {
          append_key (out, "message");
          append_string (out, frame->message);
        }
      if (frame->cid != NULL)
        {
          append_key (out, "cid");
          append_string (out, frame->cid);
        }
      if (frame->room != NULL)
        {
          append_key (out, "room");
          append_string (out, frame->room);
        }
      return TRUE;

    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_UNMAPPED:
    case TINCAN_FRAME_REPLY:
    default:
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNSUPPORTED,
                   _("tincan.v1 has no “%s” frame"),
                   type_name != NULL ? type_name : "invalid");
      return FALSE;
    }
}

char *
_tincan_v1_encode_full (const TincanFrame  *frame,
                        gsize              *length,
                        GError            **error)
{
  g_autoptr (GString) out = NULL;
  const char *type_name;
  gsize hint = 64;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  type_name = tincan_frame_type_to_string (frame->type);

  if (frame->text != NULL)
    hint += strlen (frame->text) + 16;

  out = g_string_sized_new (hint);
  APPEND_LITERAL (out, "{\"type\":\"");
  if (type_name != NULL)
    g_string_append (out, type_name);
  g_string_append_c (out, '"');

  if (!encode_members (out, frame, type_name, error))
    return NULL;

  g_string_append_c (out, '}');

  if (length != NULL)
    *length = out->len;

  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
tincan_v1_encode (const TincanFrame *frame,
                  gsize             *length)
{
  g_autoptr (GError) error = NULL;
  char *json;

  g_return_val_if_fail (frame != NULL, NULL);

  json = _tincan_v1_encode_full (frame, length, &error);
  if (json == NULL)
    g_critical ("Cannot encode a tincan.v1 frame: %s", error->message);

  return json;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

/* The decoder is a strict RFC 8259 scanner written for this one shape
 * (a flat object of known members): it validates the whole payload once,
 * remembers where the members it knows are, and converts only those.
 * Unknown members are checked for syntax and otherwise ignored. */

typedef enum
{
  VAL_ABSENT = 0,
  VAL_NULL,
  VAL_FALSE,
  VAL_TRUE,
  VAL_INT,
  VAL_BIGINT,
  VAL_FLOAT,
  VAL_STRING,
  VAL_ARRAY,
  VAL_OBJECT,
} ValKind;

typedef struct
{
  ValKind     kind;
  gboolean    escaped;  /* VAL_STRING: has backslash escapes */
  const char *start;    /* strings: after the opening quote; containers: the bracket */
  const char *end;      /* strings: the closing quote; containers: after the closing bracket */
  gint64      num;      /* VAL_INT: the value; VAL_BIGINT: its sign */
} Val;

typedef enum
{
  FIELD_TYPE,
  FIELD_USER,
  FIELD_TOKEN,
  FIELD_RESUME,
  FIELD_ROOM,
  FIELD_CID,
  FIELD_TEXT,
  FIELD_ID,
  FIELD_SESSION,
  FIELD_ROOMS,
  FIELD_HEARTBEAT,
  FIELD_SEQ,
  FIELD_TS,
  FIELD_FROM,
  FIELD_ONLINE,
  FIELD_USERS,
  FIELD_GAP,
  FIELD_CODE,
  FIELD_MESSAGE,
  N_FIELDS
} Field;

static const struct
{
  const char *name;
  guint       len;
} fields[N_FIELDS] = {
  [FIELD_TYPE] = { "type", 4 },
  [FIELD_USER] = { "user", 4 },
  [FIELD_TOKEN] = { "token", 5 },
  [FIELD_RESUME] = { "resume", 6 },
  [FIELD_ROOM] = { "room", 4 },
  [FIELD_CID] = { "cid", 3 },
  [FIELD_TEXT] = { "text", 4 },
  [FIELD_ID] = { "id", 2 },
  [FIELD_SESSION] = { "session", 7 },
  [FIELD_ROOMS] = { "rooms", 5 },
  [FIELD_HEARTBEAT] = { "heartbeat", 9 },
  [FIELD_SEQ] = { "seq", 3 },
  [FIELD_TS] = { "ts", 2 },
  [FIELD_FROM] = { "from", 4 },
  [FIELD_ONLINE] = { "online", 6 },
  [FIELD_USERS] = { "users", 5 },
  [FIELD_GAP] = { "gap", 3 },
  [FIELD_CODE] = { "code", 4 },
  [FIELD_MESSAGE] = { "message", 7 },
};

typedef struct
{
  const char          *base;
  const char          *p;
  const char          *end;
  TincanProtocolError  code;
  const char          *problem;  /* static, untranslated until reported */
  gsize                offset;
  gboolean             failed;
} Scanner;

static gboolean scan_value (Scanner *s,
                            Val     *v,
                            guint    depth);

static gboolean
scan_fail (Scanner             *s,
           TincanProtocolError  code,
           const char          *problem)
{
  if (!s->failed)
    {
      s->failed = TRUE;
      s->code = code;
      s->problem = problem;
      s->offset = MIN (s->p, s->end) - s->base;
    }

  return FALSE;
}

static inline void
skip_ws (Scanner *s)
{
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
}

static inline gboolean
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

/* Eight bytes at a time: whether any of them ends a plain run of string
 * text (a quote, a backslash, a control character or a byte beyond ASCII).
 * The "has a zero byte" and "has a byte below n" tests are exact for the
 * word as a whole; which byte it was, the byte loop finds. */
#define ONE_BYTES  G_GUINT64_CONSTANT (0x0101010101010101)
#define HIGH_BITS  G_GUINT64_CONSTANT (0x8080808080808080)

static inline gboolean
word_is_plain (guint64 w)
{
  guint64 quote = w ^ (ONE_BYTES * '"');
  guint64 backslash = w ^ (ONE_BYTES * '\\');

  return ((w & HIGH_BITS) |
          ((quote - ONE_BYTES) & ~quote & HIGH_BITS) |
          ((backslash - ONE_BYTES) & ~backslash & HIGH_BITS) |
          ((w - ONE_BYTES * 0x20) & ~w & HIGH_BITS)) == 0;
}

/* s->p is at the opening quote. */
static gboolean
scan_string (Scanner *s,
             Val     *v)
{
  const guchar *p = (const guchar *) s->p + 1;
  const guchar *end = (const guchar *) s->end;
  gboolean escaped = FALSE;

  v->start = (const char *) p;

  for (;;)
    {
      const guchar *run = p;
      guchar high = 0;
      const char *bad = NULL;

      /* Plain text eight bytes at a time, then byte by byte. */
      while (end - p >= 8)
        {
          guint64 w;

          memcpy (&w, p, sizeof w);
          if (!word_is_plain (w))
            break;
          p += 8;
        }
      while (p < end && *p != '"' && *p != '\\' && *p >= 0x20)
        high |= *p++;

      /* Beyond ASCII: the run must be UTF-8 (a quote, backslash or
       * control character is ASCII, so it never splits a valid one). */
      if (G_UNLIKELY (high & 0x80) &&
          !g_utf8_validate_len ((const char *) run, p - run, &bad))
        {
          s->p = bad;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_UTF8, NULL);  /* reported by offset */
        }

      if (p >= end)
        {
          s->p = s->end;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                            N_("unterminated string"));
        }

      if (*p == '"')
        break;

      if (*p < 0x20)
        {
          s->p = (const char *) p;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                            N_("unescaped control character in a string"));
        }

      /* A backslash. */
      escaped = TRUE;
      p++;
      if (p >= end)
        {
          s->p = s->end;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                            N_("unterminated string"));
        }

      switch (*p)
        {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          p++;
          break;

        case 'u':
          if (end - p < 5 ||
              !g_ascii_isxdigit (p[1]) || !g_ascii_isxdigit (p[2]) ||
              !g_ascii_isxdigit (p[3]) || !g_ascii_isxdigit (p[4]))
            {
              s->p = (const char *) p;
              return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                                N_("invalid \\u escape"));
            }
          p += 5;
          break;

        default:
          s->p = (const char *) p;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                            N_("invalid escape sequence"));
        }
    }

  v->kind = VAL_STRING;
  v->escaped = escaped;
  v->end = (const char *) p;
  s->p = (const char *) p + 1;

  return TRUE;
}

static gboolean
scan_number (Scanner *s,
             Val     *v)
{
  const char *p = s->p;
  const char *end = s->end;
  gboolean negative = FALSE;
  gboolean integer = TRUE;
  gboolean overflow = FALSE;
  guint64 acc = 0;

  v->start = p;

  if (*p == '-')
    {
      negative = TRUE;
      p++;
    }

  if (p >= end || !is_digit (*p))
    {
      s->p = p;
      return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("invalid number"));
    }

  if (*p == '0')
    {
      p++;
    }
  else
    {
      for (; p < end && is_digit (*p); p++)
        {
          guint digit = *p - '0';

          if (acc > (G_MAXUINT64 - digit) / 10)
            overflow = TRUE;
          else
            acc = acc * 10 + digit;
        }
    }

  if (p < end && *p == '.')
    {
      integer = FALSE;
      p++;
      if (p >= end || !is_digit (*p))
        {
          s->p = p;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("invalid number"));
        }
      while (p < end && is_digit (*p))
        p++;
    }

  if (p < end && (*p == 'e' || *p == 'E'))
    {
      integer = FALSE;
      p++;
      if (p < end && (*p == '+' || *p == '-'))
        p++;
      if (p >= end || !is_digit (*p))
        {
          s->p = p;
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("invalid number"));
        }
      while (p < end && is_digit (*p))
        p++;
    }

  v->end = p;
  s->p = p;

  if (!integer)
    {
      v->kind = VAL_FLOAT;
    }
  else if (overflow ||
           (!negative && acc > (guint64) G_MAXINT64) ||
           (negative && acc > (guint64) G_MAXINT64 + 1))
    {
      v->kind = VAL_BIGINT;
      v->num = negative ? -1 : 1;
    }
  else
    {
      v->kind = VAL_INT;
      v->num = negative ? (gint64) (0 - acc) : (gint64) acc;
    }

  return TRUE;
}

static gboolean
scan_literal (Scanner    *s,
              Val        *v,
              const char *word,
              gsize       len,
              ValKind     kind)
{
  if ((gsize) (s->end - s->p) < len || memcmp (s->p, word, len) != 0)
    return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("unexpected character"));

  v->kind = kind;
  v->start = s->p;
  s->p += len;
  v->end = s->p;

  return TRUE;
}

/* Decodes the body of a scanned (hence syntactically valid) string into
 * newly allocated UTF-8. Fails on an unpaired surrogate or a U+0000,
 * neither of which a C string can carry. */
static char *
val_to_string (const Val           *v,
               TincanProtocolError *code,
               const char         **problem)
{
  const char *p = v->start;
  char *out;
  char *q;

  if (!v->escaped)
    return g_strndup (v->start, v->end - v->start);

  /* Escapes only ever shrink. */
  out = g_malloc (v->end - v->start + 1);
  q = out;

  while (p < v->end)
    {
      const char *bs = memchr (p, '\\', v->end - p);
      gunichar ch;

      if (bs == NULL)
        bs = v->end;
      memcpy (q, p, bs - p);
      q += bs - p;
      p = bs;
      if (p >= v->end)
        break;

      p++;
      switch (*p)
        {
        case 'b':
          *q++ = '\b';
          p++;
          continue;
        case 'f':
          *q++ = '\f';
          p++;
          continue;
        case 'n':
          *q++ = '\n';
          p++;
          continue;
        case 'r':
          *q++ = '\r';
          p++;
          continue;
        case 't':
          *q++ = '\t';
          p++;
          continue;
        case 'u':
          ch = (g_ascii_xdigit_value (p[1]) << 12) | (g_ascii_xdigit_value (p[2]) << 8) |
               (g_ascii_xdigit_value (p[3]) << 4) | g_ascii_xdigit_value (p[4]);
          p += 5;
          if (ch >= 0xd800 && ch <= 0xdbff)
            {
              gunichar low;

              if (v->end - p < 6 || p[0] != '\\' || p[1] != 'u')
                goto bad_surrogate;
              low = (g_ascii_xdigit_value (p[2]) << 12) | (g_ascii_xdigit_value (p[3]) << 8) |
                    (g_ascii_xdigit_value (p[4]) << 4) | g_ascii_xdigit_value (p[5]);
              if (low < 0xdc00 || low > 0xdfff)
                goto bad_surrogate;
              ch = 0x10000 + ((ch - 0xd800) << 10) + (low - 0xdc00);
              p += 6;
            }
          else if (ch >= 0xdc00 && ch <= 0xdfff)
            {
              goto bad_surrogate;
            }
          else if (ch == 0)
            {
              g_free (out);
              *code = TINCAN_PROTOCOL_ERROR_INVALID_VALUE;
              *problem = N_("contains a NUL character");
              return NULL;
            }
          q += g_unichar_to_utf8 (ch, q);
          continue;
        default:
          /* '"', '\\' and '/' stand for themselves. */
          *q++ = *p++;
          continue;
        }
    }

  *q = '\0';

  return out;

bad_surrogate:
  g_free (out);
  *code = TINCAN_PROTOCOL_ERROR_INVALID_UTF8;
  *problem = N_("contains an unpaired UTF-16 surrogate");
  return NULL;
}

static int
lookup_field (const Val *key)
{
  const char *name = key->start;
  gsize len = key->end - key->start;
  g_autofree char *decoded = NULL;

  if (G_UNLIKELY (key->escaped))
    {
      TincanProtocolError code;
      const char *problem;

      /* No known name is longer than 9 characters, i.e. 54 escaped bytes. */
      if (len > 64)
        return -1;
      decoded = val_to_string (key, &code, &problem);
      if (decoded == NULL)
        return -1;
      name = decoded;
      len = strlen (decoded);
    }

  for (guint i = 0; i < N_FIELDS; i++)
    {
      if (fields[i].len == len && memcmp (fields[i].name, name, len) == 0)
        return (int) i;
    }

  return -1;
}

/* s->p is at '{'. With @slots, the members we know are recorded there
 * (the last one wins when a name repeats). */
static gboolean
scan_object (Scanner *s,
             Val     *v,
             guint    depth,
             Val     *slots)
{
  if (depth > TINCAN_V1_MAX_DEPTH)
    return scan_fail (s, TINCAN_PROTOCOL_ERROR_TOO_LARGE, N_("nested too deeply"));

  v->start = s->p;
  s->p++;
  skip_ws (s);

  if (s->p < s->end && *s->p == '}')
    {
      s->p++;
    }
  else
    {
      for (;;)
        {
          Val key = { 0 };
          Val value = { 0 };

          skip_ws (s);
          if (s->p >= s->end || *s->p != '"')
            return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                              N_("expected a member name"));
          if (!scan_string (s, &key))
            return FALSE;

          skip_ws (s);
          if (s->p >= s->end || *s->p != ':')
            return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("expected ‘:’"));
          s->p++;

          if (!scan_value (s, &value, depth))
            return FALSE;

          if (slots != NULL)
            {
              int field = lookup_field (&key);

              if (field >= 0)
                slots[field] = value;
            }

          skip_ws (s);
          if (s->p < s->end && *s->p == ',')
            {
              s->p++;
              continue;
            }
          if (s->p < s->end && *s->p == '}')
            {
              s->p++;
              break;
            }
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                            N_("expected ‘,’ or ‘}’"));
        }
    }

  v->kind = VAL_OBJECT;
  v->end = s->p;

  return TRUE;
}

/* s->p is at '['. */
static gboolean
scan_array (Scanner *s,
            Val     *v,
            guint    depth)
{
  if (depth > TINCAN_V1_MAX_DEPTH)
    return scan_fail (s, TINCAN_PROTOCOL_ERROR_TOO_LARGE, N_("nested too deeply"));

  v->start = s->p;
  s->p++;
  skip_ws (s);

  if (s->p < s->end && *s->p == ']')
    {
      s->p++;
    }
  else
    {
      for (;;)
        {
          Val element = { 0 };

          if (!scan_value (s, &element, depth))
            return FALSE;

          skip_ws (s);
          if (s->p < s->end && *s->p == ',')
            {
              s->p++;
              continue;
            }
          if (s->p < s->end && *s->p == ']')
            {
              s->p++;
              break;
            }
          return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                            N_("expected ‘,’ or ‘]’"));
        }
    }

  v->kind = VAL_ARRAY;
  v->end = s->p;

  return TRUE;
}

/* @depth is the nesting of the container holding the value. */
static gboolean
scan_value (Scanner *s,
            Val     *v,
            guint    depth)
{
  skip_ws (s);

  if (s->p >= s->end)
    return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("unexpected end of data"));

  switch (*s->p)
    {
    case '{':
      return scan_object (s, v, depth + 1, NULL);
    case '[':
      return scan_array (s, v, depth + 1);
    case '"':
      return scan_string (s, v);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return scan_number (s, v);
    case 't':
      return scan_literal (s, v, "true", 4, VAL_TRUE);
    case 'f':
      return scan_literal (s, v, "false", 5, VAL_FALSE);
    case 'n':
      return scan_literal (s, v, "null", 4, VAL_NULL);
    default:
      return scan_fail (s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("unexpected character"));
    }
}

/* Field extraction, once "type" is known. */

typedef struct
{
  const Val   *slots;
  const char  *type_name;
  GError     **error;
} Ctx;

typedef enum
{
  OPTIONAL  = 0,
  REQUIRED  = 1 << 0,
  NON_EMPTY = 1 << 1,
} Need;

static const char *
kind_name (ValKind kind)
{
  switch (kind)
    {
    case VAL_NULL:
      return "null";
    case VAL_FALSE:
    case VAL_TRUE:
      return "a boolean";
    case VAL_INT:
    case VAL_BIGINT:
      return "an integer";
    case VAL_FLOAT:
      return "a fractional number";
    case VAL_STRING:
      return "a string";
    case VAL_ARRAY:
      return "an array";
    case VAL_OBJECT:
      return "an object";
    case VAL_ABSENT:
    default:
      return "absent";
    }
}

static gboolean
field_missing (Ctx   *c,
               Field  field)
{
  g_set_error (c->error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
               _("missing field “%s” in “%s”"), fields[field].name, c->type_name);
  return FALSE;
}

static gboolean
field_wrong_type (Ctx        *c,
                  Field       field,
                  const char *expected)
{
  g_set_error (c->error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
               _("field “%s” in “%s” must be %s, not %s"),
               fields[field].name, c->type_name, expected, kind_name (c->slots[field].kind));
  return FALSE;
}

static gboolean
field_invalid (Ctx        *c,
               Field       field,
               const char *problem)
{
  g_set_error (c->error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
               _("field “%s” in “%s” %s"), fields[field].name, c->type_name, _(problem));
  return FALSE;
}

/* Absent (or null when optional) leaves @out untouched and returns TRUE. */
static gboolean
present (Ctx   *c,
         Field  field,
         Need   need)
{
  ValKind kind = c->slots[field].kind;

  if (kind == VAL_ABSENT)
    return (need & REQUIRED) ? field_missing (c, field) : FALSE;
  if (kind == VAL_NULL && !(need & REQUIRED))
    return FALSE;

  return TRUE;
}

static gboolean
get_string (Ctx    *c,
            Field   field,
            Need    need,
            char  **out)
{
  const Val *v = &c->slots[field];
  TincanProtocolError code;
  const char *problem;
  char *str;

  if (!present (c, field, need))
    return !(need & REQUIRED);

  if (v->kind != VAL_STRING)
    return field_wrong_type (c, field, "a string");

  if ((need & NON_EMPTY) && v->end == v->start)
    return field_invalid (c, field, N_("must not be empty"));

  str = val_to_string (v, &code, &problem);
  if (str == NULL)
    {
      g_set_error (c->error, TINCAN_PROTOCOL_ERROR, code,
                   _("field “%s” in “%s” %s"), fields[field].name, c->type_name, _(problem));
      return FALSE;
    }

  g_free (*out);
  *out = str;

  return TRUE;
}

static gboolean
get_int (Ctx    *c,
         Field   field,
         Need    need,
         gint64  min,
         gint64  max,
         gint64 *out)
{
  const Val *v = &c->slots[field];

  if (!present (c, field, need))
    return !(need & REQUIRED);

  if (v->kind != VAL_INT && v->kind != VAL_BIGINT)
    return field_wrong_type (c, field, "an integer");

  if (v->kind == VAL_BIGINT || v->num < min || v->num > max)
    {
      g_set_error (c->error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_INVALID_VALUE,
                   _("field “%s” in “%s” is out of range (%lld to %lld)"),
                   fields[field].name, c->type_name, (long long) min, (long long) max);
      return FALSE;
    }

  *out = v->num;

  return TRUE;
}

static gboolean
get_bool (Ctx      *c,
          Field     field,
          Need      need,
          gboolean *out)
{
  const Val *v = &c->slots[field];

  if (!present (c, field, need))
    return !(need & REQUIRED);

  if (v->kind != VAL_TRUE && v->kind != VAL_FALSE)
    return field_wrong_type (c, field, "a boolean");

  *out = v->kind == VAL_TRUE;

  return TRUE;
}

static gboolean
get_timestamp (Ctx    *c,
               Field   field,
               gint64 *out)
{
  const Val *v = &c->slots[field];
  char buf[64];
  gsize len;

  if (!present (c, field, REQUIRED))
    return FALSE;

  if (v->kind != VAL_STRING)
    return field_wrong_type (c, field, "an RFC 3339 timestamp string");

  /* No escapes in a timestamp; nothing valid is anywhere near 64 bytes. */
  len = v->end - v->start;
  if (v->escaped || len >= sizeof buf)
    return field_invalid (c, field, N_("is not an RFC 3339 timestamp"));

  memcpy (buf, v->start, len);
  buf[len] = '\0';

  if (!tincan_timestamp_parse (buf, out))
    return field_invalid (c, field, N_("is not an RFC 3339 timestamp"));

  return TRUE;
}

/* An array of non-empty strings. */
static gboolean
get_strv (Ctx     *c,
          Field    field,
          Need     need,
          GStrv   *out)
{
  const Val *v = &c->slots[field];
  g_autoptr (GPtrArray) strv = NULL;
  Scanner s = { 0 };

  if (!present (c, field, need))
    return !(need & REQUIRED);

  if (v->kind != VAL_ARRAY)
    return field_wrong_type (c, field, "an array of strings");

  /* The span was validated by the first pass: walk its elements. */
  s.base = s.p = v->start + 1;
  s.end = v->end - 1;
  strv = g_ptr_array_new_with_free_func (g_free);

  for (;;)
    {
      Val element = { 0 };
      TincanProtocolError code;
      const char *problem;
      char *str;

      skip_ws (&s);
      if (s.p >= s.end)
        break;
      if (*s.p == ',')
        {
          s.p++;
          skip_ws (&s);
        }
      if (!scan_value (&s, &element, 1))
        return field_wrong_type (c, field, "an array of strings");
      if (element.kind != VAL_STRING)
        {
          g_set_error (c->error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                       _("field “%s” in “%s” must be an array of strings; it contains %s"),
                       fields[field].name, c->type_name, kind_name (element.kind));
          return FALSE;
        }
      if (element.end == element.start)
        return field_invalid (c, field, N_("contains an empty string"));

      str = val_to_string (&element, &code, &problem);
      if (str == NULL)
        {
          g_set_error (c->error, TINCAN_PROTOCOL_ERROR, code,
                       _("field “%s” in “%s” %s"), fields[field].name, c->type_name, _(problem));
          return FALSE;
        }
      g_ptr_array_add (strv, str);
    }

  g_ptr_array_add (strv, NULL);
  g_strfreev (*out);
  *out = (GStrv) g_ptr_array_free (g_steal_pointer (&strv), FALSE);

  return TRUE;
}

/* An object mapping non-empty room names to last seen seqs. */
static gboolean
get_resume (Ctx          *c,
            Field         field,
            GHashTable  **out)
{
  const Val *v = &c->slots[field];
  g_autoptr (GHashTable) table = NULL;
  Scanner s = { 0 };

  if (!present (c, field, OPTIONAL))
    return TRUE;

  if (v->kind != VAL_OBJECT)
    return field_wrong_type (c, field, "an object of integers");

  s.base = s.p = v->start + 1;
  s.end = v->end - 1;
  table = resume_table_new ();

  for (;;)
    {
      Val key = { 0 };
      Val value = { 0 };
      TincanProtocolError code;
      const char *problem;
      char *room;

      skip_ws (&s);
      if (s.p >= s.end)
        break;
      if (*s.p == ',')
        {
          s.p++;
          skip_ws (&s);
        }
      if (!scan_string (&s, &key))
        return field_wrong_type (c, field, "an object of integers");
      skip_ws (&s);
      s.p++; /* ':' */
      if (!scan_value (&s, &value, 1))
        return field_wrong_type (c, field, "an object of integers");

      if (value.kind != VAL_INT && value.kind != VAL_BIGINT)
        {
          g_set_error (c->error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                       _("field “%s” in “%s” must be an object of integers; it contains %s"),
                       fields[field].name, c->type_name, kind_name (value.kind));
          return FALSE;
        }
      if (value.kind == VAL_BIGINT || value.num < 0 || value.num > TINCAN_V1_MAX_INT)
        return field_invalid (c, field, N_("has a seq out of range"));
      if (key.end == key.start)
        return field_invalid (c, field, N_("has an empty room name"));

      room = val_to_string (&key, &code, &problem);
      if (room == NULL)
        {
          g_set_error (c->error, TINCAN_PROTOCOL_ERROR, code,
                       _("field “%s” in “%s” %s"), fields[field].name, c->type_name, _(problem));
          return FALSE;
        }
      g_hash_table_insert (table, room, g_memdup2 (&value.num, sizeof value.num));
    }

  g_clear_pointer (out, g_hash_table_unref);
  *out = g_steal_pointer (&table);

  return TRUE;
}

static gboolean
decode_members (Ctx         *c,
                TincanFrame *f)
{
  gint64 num = 0;

  switch (f->type)
    {
    case TINCAN_FRAME_HELLO:
      return get_string (c, FIELD_USER, REQUIRED | NON_EMPTY, &f->user) &&
             get_string (c, FIELD_TOKEN, OPTIONAL, &f->token) &&
             get_resume (c, FIELD_RESUME, &f->resume);

    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
      return get_string (c, FIELD_ROOM, REQUIRED | NON_EMPTY, &f->room);

    case TINCAN_FRAME_SEND:
      return get_string (c, FIELD_ROOM, REQUIRED | NON_EMPTY, &f->room) &&
             get_string (c, FIELD_CID, REQUIRED | NON_EMPTY, &f->cid) &&
             get_string (c, FIELD_TEXT, REQUIRED, &f->text);

    case TINCAN_FRAME_PING:
    case TINCAN_FRAME_PONG:
      return get_int (c, FIELD_ID, REQUIRED, 0, TINCAN_V1_MAX_INT, &f->ping_id);

    case TINCAN_FRAME_WELCOME:
      if (!get_string (c, FIELD_SESSION, REQUIRED | NON_EMPTY, &f->session) ||
          !get_string (c, FIELD_USER, REQUIRED | NON_EMPTY, &f->user) ||
          !get_strv (c, FIELD_ROOMS, OPTIONAL, &f->rooms) ||
          !get_int (c, FIELD_HEARTBEAT, OPTIONAL, 0, G_MAXINT32, &num))
        return FALSE;
      f->heartbeat = (gint) num;
      if (f->rooms == NULL)
        f->rooms = g_new0 (char *, 1);
      return TRUE;

    case TINCAN_FRAME_ACK:
      return get_string (c, FIELD_CID, REQUIRED | NON_EMPTY, &f->cid) &&
             get_string (c, FIELD_ID, REQUIRED | NON_EMPTY, &f->id) &&
             get_int (c, FIELD_SEQ, REQUIRED, 1, TINCAN_V1_MAX_INT, &f->seq) &&
             get_string (c, FIELD_ROOM, OPTIONAL | NON_EMPTY, &f->room) &&
             get_timestamp (c, FIELD_TS, &f->ts);

    case TINCAN_FRAME_MESSAGE:
      return get_string (c, FIELD_ROOM, REQUIRED | NON_EMPTY, &f->room) &&
             get_int (c, FIELD_SEQ, REQUIRED, 1, TINCAN_V1_MAX_INT, &f->seq) &&
             get_string (c, FIELD_ID, REQUIRED | NON_EMPTY, &f->id) &&
             get_string (c, FIELD_CID, OPTIONAL | NON_EMPTY, &f->cid) &&
             get_string (c, FIELD_FROM, REQUIRED | NON_EMPTY, &f->user) &&
             get_string (c, FIELD_TEXT, REQUIRED, &f->text) &&
             get_timestamp (c, FIELD_TS, &f->ts);

    case TINCAN_FRAME_PRESENCE:
      return get_string (c, FIELD_ROOM, REQUIRED | NON_EMPTY, &f->room) &&
             get_string (c, FIELD_USER, REQUIRED | NON_EMPTY, &f->user) &&
             get_bool (c, FIELD_ONLINE, REQUIRED, &f->online);

    case TINCAN_FRAME_MEMBERS:
      return get_string (c, FIELD_ROOM, REQUIRED | NON_EMPTY, &f->room) &&
             get_strv (c, FIELD_USERS, REQUIRED, &f->users);

    case TINCAN_FRAME_RESUMED:
      return get_string (c, FIELD_ROOM, REQUIRED | NON_EMPTY, &f->room) &&
             get_int (c, FIELD_SEQ, REQUIRED, 0, TINCAN_V1_MAX_INT, &f->seq) &&
             get_bool (c, FIELD_GAP, REQUIRED, &f->gap);

    case TINCAN_FRAME_ERROR:
      return get_string (c, FIELD_CODE, REQUIRED | NON_EMPTY, &f->code) &&
             get_string (c, FIELD_MESSAGE, OPTIONAL, &f->message) &&
             get_string (c, FIELD_CID, OPTIONAL | NON_EMPTY, &f->cid) &&
             get_string (c, FIELD_ROOM, OPTIONAL | NON_EMPTY, &f->room);

    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_UNMAPPED:
    case TINCAN_FRAME_REPLY:
    default:
      g_assert_not_reached ();
    }
}

/* The frame type in a message, cut short so a hostile one cannot flood a log. */
static char *
describe_type (const Val *v)
{
  TincanProtocolError code;
  const char *problem;
  g_autofree char *name = val_to_string (v, &code, &problem);
  const char *cut;

  if (name == NULL)
    return g_strdup ("?");

  if (g_utf8_strlen (name, 33) <= 32)
    return g_steal_pointer (&name);

  cut = g_utf8_offset_to_pointer (name, 32);
  return g_strdup_printf ("%.*s…", (int) (cut - name), name);
}

TincanFrame *
tincan_v1_decode (const char  *data,
                  gsize        length,
                  GError     **error)
{
  Val slots[N_FIELDS] = { { 0 } };
  Val top = { 0 };
  Scanner s = { 0 };
  g_autoptr (TincanFrame) frame = NULL;
  const Val *type;
  TincanFrameType frame_type;
  Ctx ctx;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length > TINCAN_V1_MAX_SIZE)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_TOO_LARGE,
                   _("frame of %lu bytes is over the limit of %d bytes"),
                   (unsigned long) length, TINCAN_V1_MAX_SIZE);
      return NULL;
    }

  /* No UTF-8 pass over the whole frame: scan_string() validates the
   * strings, and a byte beyond ASCII anywhere else is not JSON. */
  s.base = s.p = data;
  s.end = data + length;

  skip_ws (&s);
  if (s.p >= s.end)
    scan_fail (&s, TINCAN_PROTOCOL_ERROR_INVALID_JSON, N_("empty frame"));
  else if (*s.p == '{')
    scan_object (&s, &top, 1, slots);
  else
    scan_value (&s, &top, 0);

  if (!s.failed)
    {
      skip_ws (&s);
      if (s.p != s.end)
        scan_fail (&s, TINCAN_PROTOCOL_ERROR_INVALID_JSON,
                   N_("unexpected data after the JSON value"));
    }

  if (s.failed)
    {
      if (s.code == TINCAN_PROTOCOL_ERROR_INVALID_JSON)
        g_set_error (error, TINCAN_PROTOCOL_ERROR, s.code,
                     _("invalid JSON at byte %lu: %s"),
                     (unsigned long) s.offset, _(s.problem));
      else if (s.code == TINCAN_PROTOCOL_ERROR_INVALID_UTF8)
        g_set_error (error, TINCAN_PROTOCOL_ERROR, s.code,
                     _("frame is not valid UTF-8 (at byte %lu)"),
                     (unsigned long) s.offset);
      else
        g_set_error (error, TINCAN_PROTOCOL_ERROR, s.code,
                     _("frame is %s (limit %d levels)"), _(s.problem), TINCAN_V1_MAX_DEPTH);
      return NULL;
    }

  if (top.kind != VAL_OBJECT)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_NOT_OBJECT,
                   _("frame is %s, not a JSON object"), kind_name (top.kind));
      return NULL;
    }

  type = &slots[FIELD_TYPE];
  if (type->kind == VAL_ABSENT)
    {
      g_set_error_literal (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_MISSING_FIELD,
                           _("missing field “type”"));
      return NULL;
    }
  if (type->kind != VAL_STRING)
    {
      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_WRONG_TYPE,
                   _("field “type” must be a string, not %s"), kind_name (type->kind));
      return NULL;
    }

  if (G_LIKELY (!type->escaped))
    {
      frame_type = frame_type_from_span (type->start, type->end - type->start);
    }
  else
    {
      TincanProtocolError code;
      const char *problem;
      g_autofree char *name = val_to_string (type, &code, &problem);

      frame_type = tincan_frame_type_from_string (name);
    }

  if (frame_type == TINCAN_FRAME_INVALID ||
      frame_type == TINCAN_FRAME_UNMAPPED ||
      frame_type == TINCAN_FRAME_REPLY)
    {
      g_autofree char *name = describe_type (type);

      g_set_error (error, TINCAN_PROTOCOL_ERROR, TINCAN_PROTOCOL_ERROR_UNKNOWN_TYPE,
                   _("unknown frame type “%s”"), name);
      return NULL;
    }

  frame = tincan_frame_new (frame_type);
  ctx.slots = slots;
  ctx.type_name = frame_type_names[frame_type];
  ctx.error = error;

  if (!decode_members (&ctx, frame))
    return NULL;

  return g_steal_pointer (&frame);
}
