/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  TINCAN_JITTER_NONE,         /* delay = min(cap, base * 2^n) */
  TINCAN_JITTER_FULL,         /* delay = random(0, min(cap, base * 2^n)) */
  TINCAN_JITTER_EQUAL,        /* delay = d/2 + random(0, d/2) */
  TINCAN_JITTER_DECORRELATED, /* delay = min(cap, random(base, prev * 3)) */
} TincanJitter;

/* Returns a uniformly distributed double in [0, 1). */
typedef double (*TincanRandomFunc) (gpointer user_data);

#define TINCAN_TYPE_BACKOFF (tincan_backoff_get_type ())

G_DECLARE_FINAL_TYPE (TincanBackoff, tincan_backoff, TINCAN, BACKOFF, GObject)

/* Properties: base-ms (default 500), cap-ms (default 30000), jitter
 * (default FULL), max-attempts (0 = unlimited, default 0), stable-ms
 * (default 5000: uptime after which the attempt counter resets), attempt
 * (read-only). */
TincanBackoff *tincan_backoff_new                (void);
void           tincan_backoff_set_random_func    (TincanBackoff   *self,
                                                  TincanRandomFunc func,
                                                  gpointer         user_data,
                                                  GDestroyNotify   destroy);
guint          tincan_backoff_get_base_ms        (TincanBackoff   *self);
void           tincan_backoff_set_base_ms        (TincanBackoff   *self,
                                                  guint            base_ms);
guint          tincan_backoff_get_cap_ms         (TincanBackoff   *self);
void           tincan_backoff_set_cap_ms         (TincanBackoff   *self,
                                                  guint            cap_ms);
TincanJitter   tincan_backoff_get_jitter         (TincanBackoff   *self);
void           tincan_backoff_set_jitter         (TincanBackoff   *self,
                                                  TincanJitter     jitter);
guint          tincan_backoff_get_max_attempts   (TincanBackoff   *self);
void           tincan_backoff_set_max_attempts   (TincanBackoff   *self,
                                                  guint            max_attempts);
guint          tincan_backoff_get_stable_ms      (TincanBackoff   *self);
void           tincan_backoff_set_stable_ms      (TincanBackoff   *self,
                                                  guint            stable_ms);
/* Number of failed attempts since the last reset. */
guint          tincan_backoff_get_attempt        (TincanBackoff   *self);
/* TRUE when max-attempts is set and reached. */
gboolean       tincan_backoff_is_exhausted       (TincanBackoff   *self);
/* Counts one more attempt and returns the delay in ms before it. */
guint          tincan_backoff_next_delay         (TincanBackoff   *self);
void           tincan_backoff_reset              (TincanBackoff   *self);
/* Uptime bookkeeping (monotonic µs): the counter resets on disconnect only
 * if the connection was up for at least stable-ms. */
void           tincan_backoff_connected          (TincanBackoff   *self,
                                                  gint64           now_us);
void           tincan_backoff_disconnected       (TincanBackoff   *self,
                                                  gint64           now_us);

G_END_DECLS
