/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-delivery-stats"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tincan-delivery-stats.h"
#include "tincan-inspector-private.h"
#include "tincan-util.h"

#define N_SAMPLES 1024

/* What we counted for one cid already. */
typedef enum
{
  SEEN_SENT      = 1 << 0,
  SEEN_DELIVERED = 1 << 1,
  SEEN_FAILED    = 1 << 2,
} Seen;

struct _TincanDeliveryStats
{
  GObject           parent_instance;

  guint64           sent;
  guint64           delivered;
  guint64           failed;
  guint64           duplicates;
  guint64           gaps;
  int               p50;
  int               p95;
  int               rtt;

  gint64            samples[N_SAMPLES];
  guint             n_samples;
  guint             next_sample;
  guint             percentile_source;

  GHashTable       *seen;      /* cid → Seen */
  GHashTable       *last_seq;  /* room → gint64* highest seq seen */

  TincanConnection *connection;
};

G_DEFINE_FINAL_TYPE (TincanDeliveryStats, tincan_delivery_stats, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SENT,
  PROP_DELIVERED,
  PROP_FAILED,
  PROP_DUPLICATES,
  PROP_GAPS,
  PROP_ACK_LATENCY_P50,
  PROP_ACK_LATENCY_P95,
  PROP_RTT,
  PROP_CONNECTION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
bump (TincanDeliveryStats *self,
      guint64             *counter,
      guint                prop)
{
  (*counter)++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the samples kept. */
static void
compute_percentiles (TincanDeliveryStats *self,
                     int                 *p50,
                     int                 *p95)
{
  gint64 sorted[N_SAMPLES];
  guint n = self->n_samples;

  if (n == 0)
    {
      *p50 = *p95 = -1;
      return;
    }

  memcpy (sorted, self->samples, n * sizeof (gint64));
  qsort (sorted, n, sizeof (gint64), compare_gint64);
  *p50 = (int) MIN (sorted[(n * 50 + 99) / 100 - 1], G_MAXINT);
  *p95 = (int) MIN (sorted[(n * 95 + 99) / 100 - 1], G_MAXINT);
}

static gboolean
percentile_cb (gpointer user_data)
{
  TincanDeliveryStats *self = user_data;
  int p50, p95;

  self->percentile_source = 0;
  compute_percentiles (self, &p50, &p95);

  if (p50 != self->p50)
    {
      self->p50 = p50;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACK_LATENCY_P50]);
    }
  if (p95 != self->p95)
    {
      self->p95 = p95;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACK_LATENCY_P95]);
    }

  return G_SOURCE_REMOVE;
}

static void
add_sample (TincanDeliveryStats *self,
            gint64               latency_ms)
{
  self->samples[self->next_sample] = MAX (latency_ms, 0);
  self->next_sample = (self->next_sample + 1) % N_SAMPLES;
  self->n_samples = MIN (self->n_samples + 1, N_SAMPLES);

  if (self->percentile_source == 0)
    {
      self->percentile_source = g_idle_add (percentile_cb, self);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->percentile_source),
                                "[tincan] ack latency percentiles");
    }
}

static void
add_outgoing (TincanDeliveryStats *self,
              TincanMessage       *message)
{
  const char *cid = tincan_message_get_cid (message);
  guint seen;

  if (cid == NULL)
    return;

  seen = GPOINTER_TO_UINT (g_hash_table_lookup (self->seen, cid));

  switch (tincan_message_get_state (message))
    {
    case TINCAN_MESSAGE_STATE_SENDING:
    case TINCAN_MESSAGE_STATE_SENT:
      if ((seen & SEEN_SENT) == 0)
        {
          seen |= SEEN_SENT;
          bump (self, &self->sent, PROP_SENT);
        }
      break;

    case TINCAN_MESSAGE_STATE_DELIVERED:
      /* Updated again after delivery (the echo sets seq and ts): not a
       * second ack. Duplicate acks are not visible through
       * message-updated; see tincan_delivery_stats_add_duplicate(). */
      if ((seen & SEEN_DELIVERED) != 0)
        break;
      if ((seen & SEEN_SENT) == 0)
        {
          seen |= SEEN_SENT;
          bump (self, &self->sent, PROP_SENT);
        }
      seen |= SEEN_DELIVERED;
      bump (self, &self->delivered, PROP_DELIVERED);
      if (tincan_message_get_local_timestamp (message) > 0)
        add_sample (self, tincan_now_ms () - tincan_message_get_local_timestamp (message));
      break;

    case TINCAN_MESSAGE_STATE_FAILED:
      if ((seen & SEEN_FAILED) == 0)
        {
          seen |= SEEN_FAILED;
          bump (self, &self->failed, PROP_FAILED);
        }
      break;

    case TINCAN_MESSAGE_STATE_QUEUED:
      /* Retried after failing: a new failure counts again. */
      seen &= ~SEEN_FAILED;
      break;

    default:
      break;
    }

  g_hash_table_insert (self->seen, g_strdup (cid), GUINT_TO_POINTER (seen));
}

static void
note_seq (TincanDeliveryStats *self,
          TincanMessage       *message,
          gboolean             check)
{
  const char *room = tincan_message_get_room (message);
  gint64 seq = tincan_message_get_seq (message);
  gint64 *last;

  if (room == NULL || seq <= 0)
    return;

  last = g_hash_table_lookup (self->last_seq, room);
  if (last == NULL)
    {
      last = g_new (gint64, 1);
      *last = seq;
      g_hash_table_insert (self->last_seq, g_strdup (room), last);
      return;
    }

  if (check && seq <= *last)
    bump (self, &self->duplicates, PROP_DUPLICATES);
  else if (check && seq > *last + 1)
    bump (self, &self->gaps, PROP_GAPS);

  *last = MAX (*last, seq);
}

void
tincan_delivery_stats_add_message (TincanDeliveryStats *self,
                                   TincanMessage       *message)
{
  g_return_if_fail (TINCAN_IS_DELIVERY_STATS (self));
  g_return_if_fail (TINCAN_IS_MESSAGE (message));

  if (tincan_message_is_outgoing (message))
    {
      add_outgoing (self, message);
      /* Our own message's seq is part of the room's sequence, but its echo
       * never comes through message-received: noted, not checked. */
      note_seq (self, message, FALSE);
    }
  else
    note_seq (self, message, TRUE);
}

void
tincan_delivery_stats_add_duplicate (TincanDeliveryStats *self)
{
  g_return_if_fail (TINCAN_IS_DELIVERY_STATS (self));
  bump (self, &self->duplicates, PROP_DUPLICATES);
}

void
tincan_delivery_stats_add_gap (TincanDeliveryStats *self)
{
  g_return_if_fail (TINCAN_IS_DELIVERY_STATS (self));
  bump (self, &self->gaps, PROP_GAPS);
}

void
tincan_delivery_stats_set_rtt (TincanDeliveryStats *self,
                               int                  rtt_ms)
{
  g_return_if_fail (TINCAN_IS_DELIVERY_STATS (self));

  rtt_ms = MAX (rtt_ms, -1);
  if (self->rtt == rtt_ms)
    return;

  self->rtt = rtt_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT]);
}

static void
reset_counter (TincanDeliveryStats *self,
               guint64             *counter,
               guint                prop)
{
  if (*counter == 0)
    return;
  *counter = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
tincan_delivery_stats_reset (TincanDeliveryStats *self)
{
  g_return_if_fail (TINCAN_IS_DELIVERY_STATS (self));

  g_object_freeze_notify (G_OBJECT (self));
  reset_counter (self, &self->sent, PROP_SENT);
  reset_counter (self, &self->delivered, PROP_DELIVERED);
  reset_counter (self, &self->failed, PROP_FAILED);
  reset_counter (self, &self->duplicates, PROP_DUPLICATES);
  reset_counter (self, &self->gaps, PROP_GAPS);
  g_hash_table_remove_all (self->seen);
  g_hash_table_remove_all (self->last_seq);
  self->n_samples = 0;
  self->next_sample = 0;
  g_clear_handle_id (&self->percentile_source, g_source_remove);
  percentile_cb (self);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
on_message (TincanConnection *connection,
            TincanMessage    *message,
            gpointer          user_data)
{
  tincan_delivery_stats_add_message (TINCAN_DELIVERY_STATS (user_data), message);
}

static void
on_resumed (TincanConnection *connection,
            const char       *room,
            gboolean          gap,
            gpointer          user_data)
{
  if (gap)
    tincan_delivery_stats_add_gap (TINCAN_DELIVERY_STATS (user_data));
}

static void
on_latency (TincanConnection *connection,
            GParamSpec       *pspec,
            gpointer          user_data)
{
  tincan_delivery_stats_set_rtt (TINCAN_DELIVERY_STATS (user_data),
                                 tincan_connection_get_latency (connection));
}

static void
on_duplicate (TincanConnection *connection,
              TincanMessage    *message,
              gpointer          user_data)
{
  tincan_delivery_stats_add_duplicate (TINCAN_DELIVERY_STATS (user_data));
}

void
tincan_delivery_stats_attach (TincanDeliveryStats *self,
                              TincanConnection    *connection)
{
  const GType duplicate_params[] = { TINCAN_TYPE_MESSAGE };

  g_return_if_fail (TINCAN_IS_DELIVERY_STATS (self));
  g_return_if_fail (connection == NULL || TINCAN_IS_CONNECTION (connection));

  if (self->connection == connection)
    return;

  if (self->connection != NULL)
    g_signal_handlers_disconnect_by_data (self->connection, self);
  g_set_object (&self->connection, connection);

  if (connection != NULL)
    {
      g_signal_connect_object (connection, "message-updated", G_CALLBACK (on_message), self, 0);
      g_signal_connect_object (connection, "message-received", G_CALLBACK (on_message), self, 0);
      g_signal_connect_object (connection, "resumed", G_CALLBACK (on_resumed), self, 0);
      g_signal_connect_object (connection, "notify::latency", G_CALLBACK (on_latency), self, 0);
      /* Proposed: "duplicate" (TincanMessage *), for each incoming message
       * or ack the connection recognised as a repeat and dropped. */
      if (_tincan_signal_has_signature (connection, "duplicate", 1, duplicate_params))
        g_signal_connect_object (connection, "duplicate", G_CALLBACK (on_duplicate), self, 0);
      tincan_delivery_stats_set_rtt (self, tincan_connection_get_latency (connection));
    }
  else
    tincan_delivery_stats_set_rtt (self, -1);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION]);
}

guint64
tincan_delivery_stats_get_sent (TincanDeliveryStats *self)
{
  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), 0);
  return self->sent;
}

guint64
tincan_delivery_stats_get_delivered (TincanDeliveryStats *self)
{
  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), 0);
  return self->delivered;
}

guint64
tincan_delivery_stats_get_failed (TincanDeliveryStats *self)
{
  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), 0);
  return self->failed;
}

guint64
tincan_delivery_stats_get_duplicates (TincanDeliveryStats *self)
{
  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), 0);
  return self->duplicates;
}

guint64
tincan_delivery_stats_get_gaps (TincanDeliveryStats *self)
{
  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), 0);
  return self->gaps;
}

/* Computed now, so a caller never sees a value a turn old. */
int
tincan_delivery_stats_get_ack_latency_p50 (TincanDeliveryStats *self)
{
  int p50, p95;

  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), -1);
  compute_percentiles (self, &p50, &p95);
  return p50;
}

int
tincan_delivery_stats_get_ack_latency_p95 (TincanDeliveryStats *self)
{
  int p50, p95;

  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), -1);
  compute_percentiles (self, &p50, &p95);
  return p95;
}

int
tincan_delivery_stats_get_rtt (TincanDeliveryStats *self)
{
  g_return_val_if_fail (TINCAN_IS_DELIVERY_STATS (self), -1);
  return self->rtt;
}

static void
tincan_delivery_stats_dispose (GObject *object)
{
  TincanDeliveryStats *self = TINCAN_DELIVERY_STATS (object);

  g_clear_handle_id (&self->percentile_source, g_source_remove);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (tincan_delivery_stats_parent_class)->dispose (object);
}

static void
tincan_delivery_stats_finalize (GObject *object)
{
  TincanDeliveryStats *self = TINCAN_DELIVERY_STATS (object);

  g_clear_pointer (&self->seen, g_hash_table_unref);
  g_clear_pointer (&self->last_seq, g_hash_table_unref);

  G_OBJECT_CLASS (tincan_delivery_stats_parent_class)->finalize (object);
}

static void
tincan_delivery_stats_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  TincanDeliveryStats *self = TINCAN_DELIVERY_STATS (object);

  switch (prop_id)
    {
    case PROP_SENT: g_value_set_uint64 (value, self->sent); break;
    case PROP_DELIVERED: g_value_set_uint64 (value, self->delivered); break;
    case PROP_FAILED: g_value_set_uint64 (value, self->failed); break;
    case PROP_DUPLICATES: g_value_set_uint64 (value, self->duplicates); break;
    case PROP_GAPS: g_value_set_uint64 (value, self->gaps); break;
    case PROP_ACK_LATENCY_P50: g_value_set_int (value, tincan_delivery_stats_get_ack_latency_p50 (self)); break;
    case PROP_ACK_LATENCY_P95: g_value_set_int (value, tincan_delivery_stats_get_ack_latency_p95 (self)); break;
    case PROP_RTT: g_value_set_int (value, self->rtt); break;
    case PROP_CONNECTION: g_value_set_object (value, self->connection); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_delivery_stats_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  TincanDeliveryStats *self = TINCAN_DELIVERY_STATS (object);

  switch (prop_id)
    {
    case PROP_CONNECTION: tincan_delivery_stats_attach (self, g_value_get_object (value)); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_delivery_stats_class_init (TincanDeliveryStatsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = tincan_delivery_stats_dispose;
  object_class->finalize = tincan_delivery_stats_finalize;
  object_class->get_property = tincan_delivery_stats_get_property;
  object_class->set_property = tincan_delivery_stats_set_property;

  properties[PROP_SENT] = g_param_spec_uint64 ("sent", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_DELIVERED] = g_param_spec_uint64 ("delivered", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_FAILED] = g_param_spec_uint64 ("failed", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_DUPLICATES] = g_param_spec_uint64 ("duplicates", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_GAPS] = g_param_spec_uint64 ("gaps", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_ACK_LATENCY_P50] = g_param_spec_int ("ack-latency-p50", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_ACK_LATENCY_P95] = g_param_spec_int ("ack-latency-p95", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_RTT] = g_param_spec_int ("rtt", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL, TINCAN_TYPE_CONNECTION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_delivery_stats_init (TincanDeliveryStats *self)
{
  self->p50 = -1;
  self->p95 = -1;
  self->rtt = -1;
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->last_seq = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

TincanDeliveryStats *
tincan_delivery_stats_new (void)
{
  return g_object_new (TINCAN_TYPE_DELIVERY_STATS, NULL);
}
