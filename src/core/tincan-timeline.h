/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-connection.h"

G_BEGIN_DECLS

typedef enum
{
  TINCAN_TIMELINE_EVENT_STATE,           /* state, previous-state, close-code/-reason, error */
  TINCAN_TIMELINE_EVENT_BACKOFF,         /* attempt, delay-ms: a reconnect delay chosen */
  TINCAN_TIMELINE_EVENT_HEARTBEAT_MISS,  /* missed (count), silence-ms */
  TINCAN_TIMELINE_EVENT_RESUME,          /* room, gap (FALSE = recovered) */
} TincanTimelineEventKind;

/* TincanTimelineEvent: one immutable line of the connection timeline.
 * Properties (read-only): kind, time (int64 real time µs), monotonic-time
 * (int64 µs), state, previous-state (TincanConnectionState), attempt (uint),
 * delay-ms (uint), close-code (uint), close-reason (string), error (string:
 * the GError message), room (string), gap (bool), missed (uint),
 * silence-ms (int64), description (string: one translated sentence). */
#define TINCAN_TYPE_TIMELINE_EVENT (tincan_timeline_event_get_type ())

G_DECLARE_FINAL_TYPE (TincanTimelineEvent, tincan_timeline_event, TINCAN, TIMELINE_EVENT, GObject)

TincanTimelineEventKind tincan_timeline_event_get_kind           (TincanTimelineEvent *self);
gint64                  tincan_timeline_event_get_time           (TincanTimelineEvent *self);
gint64                  tincan_timeline_event_get_monotonic_time (TincanTimelineEvent *self);
TincanConnectionState   tincan_timeline_event_get_state          (TincanTimelineEvent *self);
TincanConnectionState   tincan_timeline_event_get_previous_state (TincanTimelineEvent *self);
guint                   tincan_timeline_event_get_attempt        (TincanTimelineEvent *self);
guint                   tincan_timeline_event_get_delay_ms       (TincanTimelineEvent *self);
guint                   tincan_timeline_event_get_close_code     (TincanTimelineEvent *self);
const char             *tincan_timeline_event_get_close_reason   (TincanTimelineEvent *self);
const char             *tincan_timeline_event_get_error          (TincanTimelineEvent *self);
const char             *tincan_timeline_event_get_room           (TincanTimelineEvent *self);
gboolean                tincan_timeline_event_get_gap            (TincanTimelineEvent *self);
guint                   tincan_timeline_event_get_missed         (TincanTimelineEvent *self);
gint64                  tincan_timeline_event_get_silence_ms     (TincanTimelineEvent *self);
const char             *tincan_timeline_event_get_description    (TincanTimelineEvent *self);

/* TincanTimeline: a GListModel of TincanTimelineEvent, oldest first,
 * bounded by capacity (default 1000; the oldest events go first).
 * Properties: capacity (uint), connection (TincanConnection or NULL). */
#define TINCAN_TYPE_TIMELINE (tincan_timeline_get_type ())

G_DECLARE_FINAL_TYPE (TincanTimeline, tincan_timeline, TINCAN, TIMELINE, GObject)

TincanTimeline *tincan_timeline_new                   (void);
guint           tincan_timeline_get_capacity          (TincanTimeline        *self);
void            tincan_timeline_set_capacity          (TincanTimeline        *self,
                                                       guint                  capacity);
/* Follows @connection (NULL detaches): notify::state (with close-code,
 * close-reason and last-error as the reason), notify::retry-at (the delay
 * chosen = retry-at − now, with the attempt number), a last-error
 * TINCAN_CONNECTION_ERROR_TIMEOUT while connected (a heartbeat miss), and
 * "resumed". */
void            tincan_timeline_attach                (TincanTimeline        *self,
                                                       TincanConnection      *connection);
void            tincan_timeline_clear                 (TincanTimeline        *self);

/* For the connection's own signals, or tests. */
void            tincan_timeline_append_state          (TincanTimeline        *self,
                                                       TincanConnectionState  state,
                                                       TincanConnectionState  previous_state,
                                                       guint                  close_code,
                                                       const char            *close_reason,
                                                       const GError          *error);
void            tincan_timeline_append_backoff        (TincanTimeline        *self,
                                                       guint                  attempt,
                                                       guint                  delay_ms);
/* @missed: consecutive heartbeats without an answer; @silence_ms: time
 * since anything was received (-1 if unknown). */
void            tincan_timeline_append_heartbeat_miss (TincanTimeline        *self,
                                                       guint                  missed,
                                                       gint64                 silence_ms);
void            tincan_timeline_append_resume         (TincanTimeline        *self,
                                                       const char            *room,
                                                       gboolean               gap);

G_END_DECLS
