/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-timeline"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "tincan-core-enums.h"
#include "tincan-inspector-private.h"
#include "tincan-timeline.h"

#define DEFAULT_CAPACITY 1000

/* TincanTimelineEvent */

struct _TincanTimelineEvent
{
  GObject                 parent_instance;

  TincanTimelineEventKind kind;
  gint64                  time;
  gint64                  monotonic_time;
  TincanConnectionState   state;
  TincanConnectionState   previous_state;
  guint                   attempt;
  guint                   delay_ms;
  guint                   close_code;
  char                   *close_reason;
  char                   *error;
  char                   *room;
  gboolean                gap;
  guint                   missed;
  gint64                  silence_ms;
  char                   *description;
};

G_DEFINE_FINAL_TYPE (TincanTimelineEvent, tincan_timeline_event, G_TYPE_OBJECT)

enum {
  EV_PROP_0,
  EV_PROP_KIND,
  EV_PROP_TIME,
  EV_PROP_MONOTONIC_TIME,
  EV_PROP_STATE,
  EV_PROP_PREVIOUS_STATE,
  EV_PROP_ATTEMPT,
  EV_PROP_DELAY_MS,
  EV_PROP_CLOSE_CODE,
  EV_PROP_CLOSE_REASON,
  EV_PROP_ERROR,
  EV_PROP_ROOM,
  EV_PROP_GAP,
  EV_PROP_MISSED,
  EV_PROP_SILENCE_MS,
  EV_PROP_DESCRIPTION,
  EV_N_PROPS
};

static GParamSpec *event_properties[EV_N_PROPS];

static void
tincan_timeline_event_finalize (GObject *object)
{
  TincanTimelineEvent *self = TINCAN_TIMELINE_EVENT (object);

  g_clear_pointer (&self->close_reason, g_free);
  g_clear_pointer (&self->error, g_free);
  g_clear_pointer (&self->room, g_free);
  g_clear_pointer (&self->description, g_free);

  G_OBJECT_CLASS (tincan_timeline_event_parent_class)->finalize (object);
}

static void
tincan_timeline_event_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  TincanTimelineEvent *self = TINCAN_TIMELINE_EVENT (object);

  switch (prop_id)
    {
    case EV_PROP_KIND: g_value_set_enum (value, self->kind); break;
    case EV_PROP_TIME: g_value_set_int64 (value, self->time); break;
    case EV_PROP_MONOTONIC_TIME: g_value_set_int64 (value, self->monotonic_time); break;
    case EV_PROP_STATE: g_value_set_enum (value, self->state); break;
    case EV_PROP_PREVIOUS_STATE: g_value_set_enum (value, self->previous_state); break;
    case EV_PROP_ATTEMPT: g_value_set_uint (value, self->attempt); break;
    case EV_PROP_DELAY_MS: g_value_set_uint (value, self->delay_ms); break;
    case EV_PROP_CLOSE_CODE: g_value_set_uint (value, self->close_code); break;
    case EV_PROP_CLOSE_REASON: g_value_set_string (value, self->close_reason); break;
    case EV_PROP_ERROR: g_value_set_string (value, self->error); break;
    case EV_PROP_ROOM: g_value_set_string (value, self->room); break;
    case EV_PROP_GAP: g_value_set_boolean (value, self->gap); break;
    case EV_PROP_MISSED: g_value_set_uint (value, self->missed); break;
    case EV_PROP_SILENCE_MS: g_value_set_int64 (value, self->silence_ms); break;
    case EV_PROP_DESCRIPTION: g_value_set_string (value, self->description); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_timeline_event_class_init (TincanTimelineEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = tincan_timeline_event_finalize;
  object_class->get_property = tincan_timeline_event_get_property;

  event_properties[EV_PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, TINCAN_TYPE_TIMELINE_EVENT_KIND,
                       TINCAN_TIMELINE_EVENT_STATE, ro);
  event_properties[EV_PROP_TIME] =
    g_param_spec_int64 ("time", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
  event_properties[EV_PROP_MONOTONIC_TIME] =
    g_param_spec_int64 ("monotonic-time", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
  event_properties[EV_PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, TINCAN_TYPE_CONNECTION_STATE,
                       TINCAN_CONNECTION_STATE_DISCONNECTED, ro);
  event_properties[EV_PROP_PREVIOUS_STATE] =
    g_param_spec_enum ("previous-state", NULL, NULL, TINCAN_TYPE_CONNECTION_STATE,
                       TINCAN_CONNECTION_STATE_DISCONNECTED, ro);
  event_properties[EV_PROP_ATTEMPT] =
    g_param_spec_uint ("attempt", NULL, NULL, 0, G_MAXUINT, 0, ro);
  event_properties[EV_PROP_DELAY_MS] =
    g_param_spec_uint ("delay-ms", NULL, NULL, 0, G_MAXUINT, 0, ro);
  event_properties[EV_PROP_CLOSE_CODE] =
    g_param_spec_uint ("close-code", NULL, NULL, 0, G_MAXUINT16, 0, ro);
  event_properties[EV_PROP_CLOSE_REASON] =
    g_param_spec_string ("close-reason", NULL, NULL, NULL, ro);
  event_properties[EV_PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL, ro);
  event_properties[EV_PROP_ROOM] =
    g_param_spec_string ("room", NULL, NULL, NULL, ro);
  event_properties[EV_PROP_GAP] =
    g_param_spec_boolean ("gap", NULL, NULL, FALSE, ro);
  event_properties[EV_PROP_MISSED] =
    g_param_spec_uint ("missed", NULL, NULL, 0, G_MAXUINT, 0, ro);
  event_properties[EV_PROP_SILENCE_MS] =
    g_param_spec_int64 ("silence-ms", NULL, NULL, -1, G_MAXINT64, -1, ro);
  event_properties[EV_PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL, ro);

  g_object_class_install_properties (object_class, EV_N_PROPS, event_properties);
}

static void
tincan_timeline_event_init (TincanTimelineEvent *self)
{
  self->silence_ms = -1;
}

static TincanTimelineEvent *
event_new (TincanTimelineEventKind kind)
{
  TincanTimelineEvent *self = g_object_new (TINCAN_TYPE_TIMELINE_EVENT, NULL);

  self->kind = kind;
  self->time = g_get_real_time ();
  self->monotonic_time = g_get_monotonic_time ();
  return self;
}

TincanTimelineEventKind
tincan_timeline_event_get_kind (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->kind;
}

gint64
tincan_timeline_event_get_time (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->time;
}

gint64
tincan_timeline_event_get_monotonic_time (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->monotonic_time;
}

TincanConnectionState
tincan_timeline_event_get_state (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->state;
}

TincanConnectionState
tincan_timeline_event_get_previous_state (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->previous_state;
}

guint
tincan_timeline_event_get_attempt (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->attempt;
}

guint
tincan_timeline_event_get_delay_ms (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->delay_ms;
}

guint
tincan_timeline_event_get_close_code (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->close_code;
}

const char *
tincan_timeline_event_get_close_reason (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), NULL);
  return self->close_reason;
}

const char *
tincan_timeline_event_get_error (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), NULL);
  return self->error;
}

const char *
tincan_timeline_event_get_room (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), NULL);
  return self->room;
}

gboolean
tincan_timeline_event_get_gap (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), FALSE);
  return self->gap;
}

guint
tincan_timeline_event_get_missed (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), 0);
  return self->missed;
}

gint64
tincan_timeline_event_get_silence_ms (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), -1);
  return self->silence_ms;
}

const char *
tincan_timeline_event_get_description (TincanTimelineEvent *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE_EVENT (self), NULL);
  return self->description;
}

/* TincanTimeline */

struct _TincanTimeline
{
  GObject                parent_instance;

  GPtrArray             *events;
  guint                  capacity;

  TincanConnection      *connection;
  TincanConnectionState  last_state;
  gboolean               close_fresh;
  gboolean               miss_recorded;
  gboolean               own_miss_signal;
};

static void tincan_timeline_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanTimeline, tincan_timeline, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      tincan_timeline_list_model_init))

enum {
  PROP_0,
  PROP_CAPACITY,
  PROP_CONNECTION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
tincan_timeline_get_item_type (GListModel *model)
{
  return TINCAN_TYPE_TIMELINE_EVENT;
}

static guint
tincan_timeline_get_n_items (GListModel *model)
{
  return TINCAN_TIMELINE (model)->events->len;
}

static gpointer
tincan_timeline_get_item (GListModel *model,
                          guint       position)
{
  TincanTimeline *self = TINCAN_TIMELINE (model);

  if (position >= self->events->len)
    return NULL;

  return g_object_ref (g_ptr_array_index (self->events, position));
}

static void
tincan_timeline_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = tincan_timeline_get_item_type;
  iface->get_n_items = tincan_timeline_get_n_items;
  iface->get_item = tincan_timeline_get_item;
}

static void
trim (TincanTimeline *self,
      guint           keep)
{
  guint removed;

  if (self->events->len <= keep)
    return;

  removed = self->events->len - keep;
  g_ptr_array_remove_range (self->events, 0, removed);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);
}

/* Takes @event. */
static void
take_event (TincanTimeline      *self,
            TincanTimelineEvent *event)
{
  g_debug ("%s", event->description);

  trim (self, self->capacity - 1);
  g_ptr_array_add (self->events, event);
  g_list_model_items_changed (G_LIST_MODEL (self), self->events->len - 1, 0, 1);
}

static void
tincan_timeline_dispose (GObject *object)
{
  TincanTimeline *self = TINCAN_TIMELINE (object);

  g_clear_object (&self->connection);

  G_OBJECT_CLASS (tincan_timeline_parent_class)->dispose (object);
}

static void
tincan_timeline_finalize (GObject *object)
{
  TincanTimeline *self = TINCAN_TIMELINE (object);

  g_clear_pointer (&self->events, g_ptr_array_unref);

  G_OBJECT_CLASS (tincan_timeline_parent_class)->finalize (object);
}

static void
tincan_timeline_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  TincanTimeline *self = TINCAN_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_CAPACITY: g_value_set_uint (value, self->capacity); break;
    case PROP_CONNECTION: g_value_set_object (value, self->connection); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_timeline_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  TincanTimeline *self = TINCAN_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_CAPACITY: tincan_timeline_set_capacity (self, g_value_get_uint (value)); break;
    case PROP_CONNECTION: tincan_timeline_attach (self, g_value_get_object (value)); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_timeline_class_init (TincanTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = tincan_timeline_dispose;
  object_class->finalize = tincan_timeline_finalize;
  object_class->get_property = tincan_timeline_get_property;
  object_class->set_property = tincan_timeline_set_property;

  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL, 1, G_MAXUINT, DEFAULT_CAPACITY, rw);
  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL, TINCAN_TYPE_CONNECTION, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_timeline_init (TincanTimeline *self)
{
  self->events = g_ptr_array_new_with_free_func (g_object_unref);
  self->capacity = DEFAULT_CAPACITY;
}

TincanTimeline *
tincan_timeline_new (void)
{
  return g_object_new (TINCAN_TYPE_TIMELINE, NULL);
}

guint
tincan_timeline_get_capacity (TincanTimeline *self)
{
  g_return_val_if_fail (TINCAN_IS_TIMELINE (self), 0);
  return self->capacity;
}

void
tincan_timeline_set_capacity (TincanTimeline *self,
                              guint           capacity)
{
  g_return_if_fail (TINCAN_IS_TIMELINE (self));
  g_return_if_fail (capacity > 0);

  if (self->capacity == capacity)
    return;

  self->capacity = capacity;
  trim (self, capacity);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPACITY]);
}

void
tincan_timeline_clear (TincanTimeline *self)
{
  g_return_if_fail (TINCAN_IS_TIMELINE (self));

  trim (self, 0);
}

static char *
describe_state (TincanTimelineEvent *event)
{
  const char *name = tincan_connection_state_to_string (event->state);
  g_autofree char *reason = NULL;

  if (event->close_code != 0 && event->error != NULL)
    reason = g_strdup_printf (_("close code %u%s%s; %s"), event->close_code,
                              event->close_reason != NULL ? " " : "",
                              event->close_reason != NULL ? event->close_reason : "",
                              event->error);
  else if (event->close_code != 0)
    reason = g_strdup_printf (_("close code %u%s%s"), event->close_code,
                              event->close_reason != NULL ? " " : "",
                              event->close_reason != NULL ? event->close_reason : "");
  else if (event->error != NULL)
    reason = g_strdup (event->error);

  if (reason != NULL)
    /* Translators: "reconnecting (close code 1006; The connection was closed.)" */
    return g_strdup_printf (_("%s → %s (%s)"),
                            tincan_connection_state_to_string (event->previous_state), name, reason);

  return g_strdup_printf (_("%s → %s"),
                          tincan_connection_state_to_string (event->previous_state), name);
}

void
tincan_timeline_append_state (TincanTimeline        *self,
                              TincanConnectionState  state,
                              TincanConnectionState  previous_state,
                              guint                  close_code,
                              const char            *close_reason,
                              const GError          *error)
{
  TincanTimelineEvent *event;

  g_return_if_fail (TINCAN_IS_TIMELINE (self));

  event = event_new (TINCAN_TIMELINE_EVENT_STATE);
  event->state = state;
  event->previous_state = previous_state;
  event->close_code = close_code;
  event->close_reason = close_reason != NULL && *close_reason != '\0' ? g_strdup (close_reason) : NULL;
  event->error = error != NULL ? g_strdup (error->message) : NULL;
  event->description = describe_state (event);
  take_event (self, event);
}

void
tincan_timeline_append_backoff (TincanTimeline *self,
                                guint           attempt,
                                guint           delay_ms)
{
  TincanTimelineEvent *event;

  g_return_if_fail (TINCAN_IS_TIMELINE (self));

  event = event_new (TINCAN_TIMELINE_EVENT_BACKOFF);
  event->attempt = attempt;
  event->delay_ms = delay_ms;
  event->description = g_strdup_printf (_("Attempt %u in %u ms"), attempt, delay_ms);
  take_event (self, event);
}

void
tincan_timeline_append_heartbeat_miss (TincanTimeline *self,
                                       guint           missed,
                                       gint64          silence_ms)
{
  TincanTimelineEvent *event;

  g_return_if_fail (TINCAN_IS_TIMELINE (self));

  event = event_new (TINCAN_TIMELINE_EVENT_HEARTBEAT_MISS);
  event->missed = missed;
  event->silence_ms = silence_ms;
  if (silence_ms >= 0)
    event->description = g_strdup_printf (_("Heartbeat missed (%u in a row, nothing received for %lld ms)"),
                                           missed, (long long) silence_ms);
  else
    event->description = g_strdup_printf (_("Heartbeat missed (%u in a row)"), missed);
  take_event (self, event);
}

void
tincan_timeline_append_resume (TincanTimeline *self,
                               const char     *room,
                               gboolean        gap)
{
  TincanTimelineEvent *event;

  g_return_if_fail (TINCAN_IS_TIMELINE (self));

  event = event_new (TINCAN_TIMELINE_EVENT_RESUME);
  event->room = g_strdup (room);
  event->gap = !!gap;
  event->description = gap
    ? g_strdup_printf (_("Resumed %s with a gap: history no longer reaches back"), room != NULL ? room : "")
    : g_strdup_printf (_("Resumed %s: recovered"), room != NULL ? room : "");
  take_event (self, event);
}

/* Connection signals */

static void
on_state (TincanConnection *connection,
          GParamSpec       *pspec,
          gpointer          user_data)
{
  TincanTimeline *self = user_data;
  TincanConnectionState state = tincan_connection_get_state (connection);
  TincanConnectionState previous = self->last_state;
  const GError *error = NULL;
  guint code = 0;
  const char *reason = NULL;

  if (state == previous)
    return;
  self->last_state = state;

  switch (state)
    {
    case TINCAN_CONNECTION_STATE_RECONNECTING:
    case TINCAN_CONNECTION_STATE_FAILED:
    case TINCAN_CONNECTION_STATE_OFFLINE:
      error = tincan_connection_get_last_error (connection);
      G_GNUC_FALLTHROUGH;
    case TINCAN_CONNECTION_STATE_DISCONNECTED:
      /* A close code is the reason only if it came with this change, not
       * left over from an earlier session. */
      if (self->close_fresh)
        {
          code = tincan_connection_get_close_code (connection);
          reason = tincan_connection_get_close_reason (connection);
        }
      break;
    case TINCAN_CONNECTION_STATE_CONNECTED:
      self->miss_recorded = FALSE;
      break;
    case TINCAN_CONNECTION_STATE_CONNECTING:
    default:
      break;
    }

  self->close_fresh = FALSE;
  tincan_timeline_append_state (self, state, previous, code, reason, error);
}

static void
on_close (TincanConnection *connection,
          GParamSpec       *pspec,
          gpointer          user_data)
{
  TincanTimeline *self = user_data;

  self->close_fresh = TRUE;
}

static void
on_retry_at (TincanConnection *connection,
             GParamSpec       *pspec,
             gpointer          user_data)
{
  TincanTimeline *self = user_data;
  gint64 retry_at = tincan_connection_get_retry_at (connection);
  gint64 delay_us;

  if (retry_at == 0)
    return;

  /* retry-at is set right after the delay was chosen: what is left of it
   * now is the delay, to well under a millisecond. */
  delay_us = MAX (0, retry_at - g_get_monotonic_time ());
  tincan_timeline_append_backoff (self, tincan_connection_get_attempt (connection),
                                  (guint) ((delay_us + 500) / 1000));
}

static void
on_last_error (TincanConnection *connection,
               GParamSpec       *pspec,
               gpointer          user_data)
{
  TincanTimeline *self = user_data;
  const GError *error = tincan_connection_get_last_error (connection);

  /* The liveness watchdog gives up on a connected socket with a TIMEOUT
   * error: that is a missed heartbeat (the connection has no signal of
   * its own for it yet). */
  if (!self->own_miss_signal &&
      error != NULL &&
      g_error_matches (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT) &&
      tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_CONNECTED &&
      !self->miss_recorded)
    {
      self->miss_recorded = TRUE;
      tincan_timeline_append_heartbeat_miss (self, 1, -1);
    }
}

static void
on_heartbeat_missed (TincanConnection *connection,
                     guint             missed,
                     gint64            silence_ms,
                     gpointer          user_data)
{
  tincan_timeline_append_heartbeat_miss (TINCAN_TIMELINE (user_data), missed, silence_ms);
}

static void
on_resumed (TincanConnection *connection,
            const char       *room,
            gboolean          gap,
            gpointer          user_data)
{
  tincan_timeline_append_resume (TINCAN_TIMELINE (user_data), room, gap);
}

void
tincan_timeline_attach (TincanTimeline   *self,
                        TincanConnection *connection)
{
  const GType miss_params[] = { G_TYPE_UINT, G_TYPE_INT64 };

  g_return_if_fail (TINCAN_IS_TIMELINE (self));
  g_return_if_fail (connection == NULL || TINCAN_IS_CONNECTION (connection));

  if (self->connection == connection)
    return;

  if (self->connection != NULL)
    g_signal_handlers_disconnect_by_data (self->connection, self);
  g_set_object (&self->connection, connection);

  if (connection != NULL)
    {
      self->last_state = tincan_connection_get_state (connection);
      self->close_fresh = FALSE;
      self->miss_recorded = FALSE;
      g_signal_connect_object (connection, "notify::close-code", G_CALLBACK (on_close), self, 0);
      g_signal_connect_object (connection, "notify::close-reason", G_CALLBACK (on_close), self, 0);
      g_signal_connect_object (connection, "notify::last-error", G_CALLBACK (on_last_error), self, 0);
      g_signal_connect_object (connection, "notify::state", G_CALLBACK (on_state), self, 0);
      g_signal_connect_object (connection, "notify::retry-at", G_CALLBACK (on_retry_at), self, 0);
      g_signal_connect_object (connection, "resumed", G_CALLBACK (on_resumed), self, 0);

      /* Proposed: "heartbeat-missed" (guint missed in a row, gint64 ms since
       * anything was received), for each probe left unanswered. Until it
       * exists, a TIMEOUT last-error while connected stands for it. */
      self->own_miss_signal = _tincan_signal_has_signature (connection, "heartbeat-missed",
                                                            2, miss_params);
      if (self->own_miss_signal)
        g_signal_connect_object (connection, "heartbeat-missed",
                                 G_CALLBACK (on_heartbeat_missed), self, 0);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION]);
}
