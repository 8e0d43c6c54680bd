/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "tincan-protocols.h"

G_BEGIN_DECLS

/* Helpers shared by the dialects. */

/* g_set_str() of GLib 2.76. */
gboolean    _tincan_set_str                (char              **str_pointer,
                                            const char         *new_str);

/* Checks size, UTF-8 and nesting, then parses. */
JsonNode   *_tincan_dialect_parse          (const char         *data,
                                            gsize               length,
                                            GError            **error);
gboolean    _tincan_dialect_check_text     (const char         *data,
                                            gsize               length,
                                            GError            **error);
/* RFC 6901; NULL if the pointer is malformed or names nothing. */
JsonNode   *_tincan_json_pointer_get       (JsonNode           *root,
                                            const char         *pointer);
gboolean    _tincan_json_pointer_is_valid  (const char         *pointer);
/* A string, or an integer rendered as decimal; NULL otherwise or if not
 * valid UTF-8. */
char       *_tincan_json_node_dup_text     (JsonNode           *node);
/* Milliseconds since the epoch from a number (ms, or s if < 1e11) or an
 * RFC 3339 string; 0 if neither. */
gint64      _tincan_json_node_get_ts       (JsonNode           *node);
/* Looks up @names in order in an object node. */
JsonNode   *_tincan_json_object_find       (JsonNode           *node,
                                            const char * const *names);
GBytes     *_tincan_json_to_bytes          (JsonNode           *node);
char       *_tincan_json_to_string         (JsonNode           *node);

typedef struct
{
  const char *text;
  const char *user;
  const char *room;
  const char *cid;
  const char *token;
} TincanTemplateValues;

/* Parses a template (NULL/empty → NULL with no error). */
JsonNode   *_tincan_template_parse         (const char         *text,
                                            GError            **error);
/* A deep copy of @template with every string node whose whole value is a
 * known placeholder replaced by its value, as a JSON value. */
JsonNode   *_tincan_template_fill          (JsonNode           *template_node,
                                            const TincanTemplateValues *values);

GPtrArray  *_tincan_frames_add_unmapped    (GPtrArray          *frames,
                                            GBytes             *payload,
                                            gboolean            binary);
void        _tincan_frames_add_reply       (GPtrArray          *frames,
                                            const char         *text);

/* Fills a MESSAGE frame from an object with the usual member names. */
gboolean    _tincan_frame_fill_from_object (TincanFrame        *frame,
                                            JsonNode           *node);

G_END_DECLS
