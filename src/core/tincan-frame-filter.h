/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "tincan-frame-log.h"

G_BEGIN_DECLS

typedef enum
{
  TINCAN_FRAME_FILTER_DIRECTION_ANY,
  TINCAN_FRAME_FILTER_DIRECTION_IN,
  TINCAN_FRAME_FILTER_DIRECTION_OUT,
} TincanFrameFilterDirection;

/* The same values as GtkFilterChange, so the UI passes it straight on to
 * gtk_filter_changed(). */
typedef enum
{
  TINCAN_FRAME_FILTER_CHANGE_DIFFERENT,
  TINCAN_FRAME_FILTER_CHANGE_LESS_STRICT,
  TINCAN_FRAME_FILTER_CHANGE_MORE_STRICT,
} TincanFrameFilterChange;

/* A filter over TincanFrameRecord, with no GTK in it: the UI wraps it in a
 * GtkCustomFilter (match function = tincan_frame_filter_match, "changed" →
 * gtk_filter_changed).
 *
 * Properties (read-write, notify on change):
 *   direction (TincanFrameFilterDirection, default ANY),
 *   opcodes (TincanFrameOpcodeMask, default all),
 *   hide-control (bool: hide ping and pong, default FALSE),
 *   text (string: a case-insensitive substring of the payload text or
 *     close reason; NULL or "" = any),
 *   regex (string: a GRegex pattern matched against the same text, as is:
 *     write (?i) for caseless; NULL or "" = any),
 *   regex-error (GError boxed, read-only: why regex does not compile; while
 *     set, the filter matches nothing),
 *   json-type (string: equal to the record's json-type, i.e. the "type",
 *     "event" or "method" of a JSON payload; NULL or "" = any).
 * All criteria must hold. Records without text (binary) never match a
 * text or regex criterion.
 *
 * Signals: changed (TincanFrameFilterChange) after any criterion changed. */
#define TINCAN_TYPE_FRAME_FILTER (tincan_frame_filter_get_type ())

G_DECLARE_FINAL_TYPE (TincanFrameFilter, tincan_frame_filter, TINCAN, FRAME_FILTER, GObject)

TincanFrameFilter         *tincan_frame_filter_new              (void);
gboolean                   tincan_frame_filter_match            (TincanFrameFilter          *self,
                                                                 TincanFrameRecord          *record);
/* TRUE if no criterion is set: everything matches. */
gboolean                   tincan_frame_filter_is_empty         (TincanFrameFilter          *self);

TincanFrameFilterDirection tincan_frame_filter_get_direction    (TincanFrameFilter          *self);
void                       tincan_frame_filter_set_direction    (TincanFrameFilter          *self,
                                                                 TincanFrameFilterDirection  direction);
TincanFrameOpcodeMask      tincan_frame_filter_get_opcodes      (TincanFrameFilter          *self);
void                       tincan_frame_filter_set_opcodes      (TincanFrameFilter          *self,
                                                                 TincanFrameOpcodeMask       opcodes);
gboolean                   tincan_frame_filter_get_hide_control (TincanFrameFilter          *self);
void                       tincan_frame_filter_set_hide_control (TincanFrameFilter          *self,
                                                                 gboolean                    hide_control);
const char                *tincan_frame_filter_get_text         (TincanFrameFilter          *self);
void                       tincan_frame_filter_set_text         (TincanFrameFilter          *self,
                                                                 const char                 *text);
const char                *tincan_frame_filter_get_regex        (TincanFrameFilter          *self);
void                       tincan_frame_filter_set_regex        (TincanFrameFilter          *self,
                                                                 const char                 *regex);
const GError              *tincan_frame_filter_get_regex_error  (TincanFrameFilter          *self);
const char                *tincan_frame_filter_get_json_type    (TincanFrameFilter          *self);
void                       tincan_frame_filter_set_json_type    (TincanFrameFilter          *self,
                                                                 const char                 *json_type);

G_END_DECLS
