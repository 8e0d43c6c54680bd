/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-connection.h"

G_BEGIN_DECLS

/* TincanDeliveryStats: delivery counters of one connection, for the
 * inspector. Properties (read-only unless said, notify on change):
 *   sent (uint64: outgoing messages transmitted, each cid once),
 *   delivered (uint64: acked, each cid once),
 *   failed (uint64: became failed),
 *   duplicates (uint64: an incoming message whose seq was already seen in
 *     its room, plus what tincan_delivery_stats_add_duplicate() reports),
 *   gaps (uint64: a resume with gap, or an incoming seq that skipped some),
 *   ack-latency-p50, ack-latency-p95 (int ms, -1 = no sample yet: from the
 *     message's local-timestamp to message-updated saying delivered, over
 *     the last 1024 deliveries; updated once per main-loop turn),
 *   rtt (int ms, -1 = unknown: the connection's latency),
 *   connection (TincanConnection, read-write; NULL detaches). */
#define TINCAN_TYPE_DELIVERY_STATS (tincan_delivery_stats_get_type ())

G_DECLARE_FINAL_TYPE (TincanDeliveryStats, tincan_delivery_stats, TINCAN, DELIVERY_STATS, GObject)

TincanDeliveryStats *tincan_delivery_stats_new             (void);
void                 tincan_delivery_stats_attach          (TincanDeliveryStats *self,
                                                            TincanConnection    *connection);
void                 tincan_delivery_stats_reset           (TincanDeliveryStats *self);

guint64              tincan_delivery_stats_get_sent        (TincanDeliveryStats *self);
guint64              tincan_delivery_stats_get_delivered   (TincanDeliveryStats *self);
guint64              tincan_delivery_stats_get_failed      (TincanDeliveryStats *self);
guint64              tincan_delivery_stats_get_duplicates  (TincanDeliveryStats *self);
guint64              tincan_delivery_stats_get_gaps        (TincanDeliveryStats *self);
int                  tincan_delivery_stats_get_ack_latency_p50 (TincanDeliveryStats *self);
int                  tincan_delivery_stats_get_ack_latency_p95 (TincanDeliveryStats *self);
int                  tincan_delivery_stats_get_rtt         (TincanDeliveryStats *self);

/* Feeding by hand (what attach does from the connection's signals), for a
 * connection signal that does not exist yet, or tests. */
void                 tincan_delivery_stats_add_message     (TincanDeliveryStats *self,
                                                            TincanMessage       *message);
void                 tincan_delivery_stats_add_duplicate   (TincanDeliveryStats *self);
void                 tincan_delivery_stats_add_gap         (TincanDeliveryStats *self);
void                 tincan_delivery_stats_set_rtt         (TincanDeliveryStats *self,
                                                            int                  rtt_ms);

G_END_DECLS
