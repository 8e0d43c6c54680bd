/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-frame-filter"

#include "config.h"

#include <string.h>

#include "tincan-core-enums.h"
#include "tincan-frame-filter.h"

struct _TincanFrameFilter
{
  GObject                    parent_instance;

  TincanFrameFilterDirection direction;
  TincanFrameOpcodeMask      opcodes;
  gboolean                   hide_control;
  char                      *text;
  char                      *text_folded;
  gboolean                   text_ascii;
  char                      *regex_pattern;
  GRegex                    *regex;
  GError                    *regex_error;
  char                      *json_type;
  gboolean                   json_type_plain;
};

G_DEFINE_FINAL_TYPE (TincanFrameFilter, tincan_frame_filter, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DIRECTION,
  PROP_OPCODES,
  PROP_HIDE_CONTROL,
  PROP_TEXT,
  PROP_REGEX,
  PROP_REGEX_ERROR,
  PROP_JSON_TYPE,
  N_PROPS
};

enum {
  CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
emit_changed (TincanFrameFilter      *self,
              TincanFrameFilterChange change)
{
  g_signal_emit (self, signals[CHANGED], 0, change);
}

static gboolean
is_empty_string (const char *s)
{
  return s == NULL || *s == '\0';
}

/* Case-insensitive substring: ASCII needles are searched without
 * allocating, which is the common case (JSON keys, ids, words). */
static gboolean
contains_folded (const char *haystack,
                 const char *folded_needle,
                 gboolean    needle_ascii)
{
  if (needle_ascii)
    {
      gsize nlen = strlen (folded_needle);

      for (const char *p = haystack; *p != '\0'; p++)
        {
          gsize i;

          for (i = 0; i < nlen && p[i] != '\0' && g_ascii_tolower (p[i]) == folded_needle[i]; i++)
            ;
          if (i == nlen)
            return TRUE;
          if (p[i] == '\0')
            return FALSE;
        }
      return FALSE;
    }
  else
    {
      g_autofree char *folded = g_utf8_casefold (haystack, -1);

      return strstr (folded, folded_needle) != NULL;
    }
}

gboolean
tincan_frame_filter_match (TincanFrameFilter *self,
                           TincanFrameRecord *record)
{
  TincanFrameOpcodeMask mask;
  TincanFrameDirection direction;
  const char *text;

  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), FALSE);
  g_return_val_if_fail (TINCAN_IS_FRAME_RECORD (record), FALSE);

  direction = tincan_frame_record_get_direction (record);
  if ((self->direction == TINCAN_FRAME_FILTER_DIRECTION_IN && direction != TINCAN_FRAME_DIRECTION_IN) ||
      (self->direction == TINCAN_FRAME_FILTER_DIRECTION_OUT && direction != TINCAN_FRAME_DIRECTION_OUT))
    return FALSE;

  mask = tincan_frame_record_get_opcode_mask (record);
  if ((self->opcodes & mask) == 0)
    return FALSE;
  if (self->hide_control && (mask & (TINCAN_FRAME_OPCODE_MASK_PING | TINCAN_FRAME_OPCODE_MASK_PONG)) != 0)
    return FALSE;

  if (self->regex_error != NULL)
    return FALSE;

  if (self->json_type != NULL)
    {
      /* Most records can be ruled out without parsing their JSON. */
      if (self->json_type_plain)
        {
          text = tincan_frame_record_get_text (record);
          if (text == NULL || strstr (text, self->json_type) == NULL)
            return FALSE;
        }
      if (g_strcmp0 (tincan_frame_record_get_json_type (record), self->json_type) != 0)
        return FALSE;
    }

  if (self->text_folded == NULL && self->regex == NULL)
    return TRUE;

  text = tincan_frame_record_get_text (record);
  if (text == NULL)
    return FALSE;

  if (self->text_folded != NULL && !contains_folded (text, self->text_folded, self->text_ascii))
    return FALSE;

  if (self->regex != NULL && !g_regex_match (self->regex, text, 0, NULL))
    return FALSE;

  return TRUE;
}

gboolean
tincan_frame_filter_is_empty (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), TRUE);

  return self->direction == TINCAN_FRAME_FILTER_DIRECTION_ANY &&
         self->opcodes == TINCAN_FRAME_OPCODE_MASK_ALL &&
         !self->hide_control &&
         self->text == NULL &&
         self->regex_pattern == NULL &&
         self->json_type == NULL;
}

static void
tincan_frame_filter_finalize (GObject *object)
{
  TincanFrameFilter *self = TINCAN_FRAME_FILTER (object);

  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->text_folded, g_free);
  g_clear_pointer (&self->regex_pattern, g_free);
  g_clear_pointer (&self->regex, g_regex_unref);
  g_clear_error (&self->regex_error);
  g_clear_pointer (&self->json_type, g_free);

  G_OBJECT_CLASS (tincan_frame_filter_parent_class)->finalize (object);
}

static void
tincan_frame_filter_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TincanFrameFilter *self = TINCAN_FRAME_FILTER (object);

  switch (prop_id)
    {
    case PROP_DIRECTION: g_value_set_enum (value, self->direction); break;
    case PROP_OPCODES: g_value_set_flags (value, self->opcodes); break;
    case PROP_HIDE_CONTROL: g_value_set_boolean (value, self->hide_control); break;
    case PROP_TEXT: g_value_set_string (value, self->text); break;
    case PROP_REGEX: g_value_set_string (value, self->regex_pattern); break;
    case PROP_REGEX_ERROR: g_value_set_boxed (value, self->regex_error); break;
    case PROP_JSON_TYPE: g_value_set_string (value, self->json_type); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_frame_filter_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  TincanFrameFilter *self = TINCAN_FRAME_FILTER (object);

  switch (prop_id)
    {
    case PROP_DIRECTION: tincan_frame_filter_set_direction (self, g_value_get_enum (value)); break;
    case PROP_OPCODES: tincan_frame_filter_set_opcodes (self, g_value_get_flags (value)); break;
    case PROP_HIDE_CONTROL: tincan_frame_filter_set_hide_control (self, g_value_get_boolean (value)); break;
    case PROP_TEXT: tincan_frame_filter_set_text (self, g_value_get_string (value)); break;
    case PROP_REGEX: tincan_frame_filter_set_regex (self, g_value_get_string (value)); break;
    case PROP_JSON_TYPE: tincan_frame_filter_set_json_type (self, g_value_get_string (value)); break;
    case PROP_REGEX_ERROR:
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_frame_filter_class_init (TincanFrameFilterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = tincan_frame_filter_finalize;
  object_class->get_property = tincan_frame_filter_get_property;
  object_class->set_property = tincan_frame_filter_set_property;

  properties[PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL, TINCAN_TYPE_FRAME_FILTER_DIRECTION,
                       TINCAN_FRAME_FILTER_DIRECTION_ANY, rw);
  properties[PROP_OPCODES] =
    g_param_spec_flags ("opcodes", NULL, NULL, TINCAN_TYPE_FRAME_OPCODE_MASK,
                        TINCAN_FRAME_OPCODE_MASK_ALL, rw);
  properties[PROP_HIDE_CONTROL] =
    g_param_spec_boolean ("hide-control", NULL, NULL, FALSE, rw);
  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL, rw);
  properties[PROP_REGEX] =
    g_param_spec_string ("regex", NULL, NULL, NULL, rw);
  properties[PROP_REGEX_ERROR] =
    g_param_spec_boxed ("regex-error", NULL, NULL, G_TYPE_ERROR,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_JSON_TYPE] =
    g_param_spec_string ("json-type", NULL, NULL, NULL, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TINCAN_TYPE_FRAME_FILTER_CHANGE);
}

static void
tincan_frame_filter_init (TincanFrameFilter *self)
{
  self->direction = TINCAN_FRAME_FILTER_DIRECTION_ANY;
  self->opcodes = TINCAN_FRAME_OPCODE_MASK_ALL;
}

TincanFrameFilter *
tincan_frame_filter_new (void)
{
  return g_object_new (TINCAN_TYPE_FRAME_FILTER, NULL);
}

TincanFrameFilterDirection
tincan_frame_filter_get_direction (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), 0);
  return self->direction;
}

void
tincan_frame_filter_set_direction (TincanFrameFilter          *self,
                                   TincanFrameFilterDirection  direction)
{
  TincanFrameFilterChange change;

  g_return_if_fail (TINCAN_IS_FRAME_FILTER (self));
  g_return_if_fail (direction <= TINCAN_FRAME_FILTER_DIRECTION_OUT);

  if (self->direction == direction)
    return;

  if (self->direction == TINCAN_FRAME_FILTER_DIRECTION_ANY)
    change = TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT;
  else if (direction == TINCAN_FRAME_FILTER_DIRECTION_ANY)
    change = TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT;
  else
    change = TINCAN_FRAME_FILTER_CHANGE_DIFFERENT;

  self->direction = direction;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIRECTION]);
  emit_changed (self, change);
}

TincanFrameOpcodeMask
tincan_frame_filter_get_opcodes (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), 0);
  return self->opcodes;
}

void
tincan_frame_filter_set_opcodes (TincanFrameFilter     *self,
                                 TincanFrameOpcodeMask  opcodes)
{
  TincanFrameFilterChange change;

  g_return_if_fail (TINCAN_IS_FRAME_FILTER (self));

  opcodes &= TINCAN_FRAME_OPCODE_MASK_ALL;
  if (self->opcodes == opcodes)
    return;

  if ((opcodes & self->opcodes) == opcodes)
    change = TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT;
  else if ((opcodes & self->opcodes) == self->opcodes)
    change = TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT;
  else
    change = TINCAN_FRAME_FILTER_CHANGE_DIFFERENT;

  self->opcodes = opcodes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPCODES]);
  emit_changed (self, change);
}

gboolean
tincan_frame_filter_get_hide_control (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), FALSE);
  return self->hide_control;
}

void
tincan_frame_filter_set_hide_control (TincanFrameFilter *self,
                                      gboolean           hide_control)
{
  g_return_if_fail (TINCAN_IS_FRAME_FILTER (self));

  hide_control = !!hide_control;
  if (self->hide_control == hide_control)
    return;

  self->hide_control = hide_control;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HIDE_CONTROL]);
  emit_changed (self, hide_control ? TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT
                                   : TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT);
}

const char *
tincan_frame_filter_get_text (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), NULL);
  return self->text;
}

static gboolean
is_ascii (const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar) *s >= 0x80)
      return FALSE;
  return TRUE;
}

void
tincan_frame_filter_set_text (TincanFrameFilter *self,
                              const char        *text)
{
  TincanFrameFilterChange change;
  g_autofree char *old_folded = NULL;

  g_return_if_fail (TINCAN_IS_FRAME_FILTER (self));

  if (is_empty_string (text))
    text = NULL;
  if (g_strcmp0 (self->text, text) == 0)
    return;

  old_folded = g_steal_pointer (&self->text_folded);
  g_free (self->text);
  self->text = g_strdup (text);
  if (text != NULL)
    {
      self->text_folded = g_utf8_casefold (text, -1);
      self->text_ascii = is_ascii (self->text_folded);
    }

  if (old_folded == NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT;
  else if (self->text_folded == NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT;
  else if (strstr (self->text_folded, old_folded) != NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT;
  else if (strstr (old_folded, self->text_folded) != NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT;
  else
    change = TINCAN_FRAME_FILTER_CHANGE_DIFFERENT;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
  emit_changed (self, change);
}

const char *
tincan_frame_filter_get_regex (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), NULL);
  return self->regex_pattern;
}

void
tincan_frame_filter_set_regex (TincanFrameFilter *self,
                               const char        *regex)
{
  TincanFrameFilterChange change;
  gboolean was_any, had_error;

  g_return_if_fail (TINCAN_IS_FRAME_FILTER (self));

  if (is_empty_string (regex))
    regex = NULL;
  if (g_strcmp0 (self->regex_pattern, regex) == 0)
    return;

  was_any = self->regex_pattern == NULL;
  had_error = self->regex_error != NULL;

  g_free (self->regex_pattern);
  self->regex_pattern = g_strdup (regex);
  g_clear_pointer (&self->regex, g_regex_unref);
  g_clear_error (&self->regex_error);

  if (regex != NULL)
    {
      GError *error = NULL;

      self->regex = g_regex_new (regex, G_REGEX_OPTIMIZE, 0, &error);
      self->regex_error = error;
    }

  if (self->regex_error != NULL || was_any)
    change = TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT;
  else if (had_error || regex == NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT;
  else
    change = TINCAN_FRAME_FILTER_CHANGE_DIFFERENT;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGEX]);
  if (had_error || self->regex_error != NULL)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGEX_ERROR]);
  emit_changed (self, change);
}

const GError *
tincan_frame_filter_get_regex_error (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), NULL);
  return self->regex_error;
}

const char *
tincan_frame_filter_get_json_type (TincanFrameFilter *self)
{
  g_return_val_if_fail (TINCAN_IS_FRAME_FILTER (self), NULL);
  return self->json_type;
}

void
tincan_frame_filter_set_json_type (TincanFrameFilter *self,
                                   const char        *json_type)
{
  TincanFrameFilterChange change;

  g_return_if_fail (TINCAN_IS_FRAME_FILTER (self));

  if (is_empty_string (json_type))
    json_type = NULL;
  if (g_strcmp0 (self->json_type, json_type) == 0)
    return;

  if (self->json_type == NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT;
  else if (json_type == NULL)
    change = TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT;
  else
    change = TINCAN_FRAME_FILTER_CHANGE_DIFFERENT;

  g_free (self->json_type);
  self->json_type = g_strdup (json_type);
  /* Written as is in any JSON that holds it (nothing to escape). */
  self->json_type_plain = json_type != NULL && is_ascii (json_type) &&
                          strpbrk (json_type, "\"\\/") == NULL;
  for (const char *p = json_type; self->json_type_plain && *p != '\0'; p++)
    if ((guchar) *p < 0x20)
      self->json_type_plain = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JSON_TYPE]);
  emit_changed (self, change);
}
