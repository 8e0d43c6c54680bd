/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-backoff"

#include "config.h"

#include "tincan-backoff.h"
#include "tincan-core-enums.h"

struct _TincanBackoff
{
  GObject           parent_instance;

  TincanRandomFunc  random_func;
  gpointer          random_data;
  GDestroyNotify    random_destroy;

  guint             base_ms;
  guint             cap_ms;
  TincanJitter      jitter;
  guint             max_attempts;
  guint             stable_ms;
  guint             attempt;

  /* The previous delay, for decorrelated jitter (0 = none yet). */
  guint64           prev_ms;
  /* Monotonic µs of the last connected(), valid while is_up. */
  gint64            up_since_us;
  guint             is_up : 1;
};

G_DEFINE_FINAL_TYPE (TincanBackoff, tincan_backoff, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BASE_MS,
  PROP_CAP_MS,
  PROP_JITTER,
  PROP_MAX_ATTEMPTS,
  PROP_STABLE_MS,
  PROP_ATTEMPT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static double
default_random (gpointer user_data)
{
  return g_random_double ();
}

static void
set_uint_prop (TincanBackoff *self,
               guint         *field,
               guint          value,
               int            prop_id)
{
  if (*field == value)
    return;

  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static double
next_random (TincanBackoff *self)
{
  double r = self->random_func (self->random_data);

  /* Keep a misbehaving source from producing delays outside the bounds. */
  if (!(r >= 0.0))
    r = 0.0;
  if (r >= 1.0)
    r = 1.0;

  return r;
}

/* min (cap, base * 2^n) without overflowing: once the shift would pass
 * the cap, the answer is the cap. */
static guint64
exponential_ms (TincanBackoff *self,
                guint          n)
{
  guint64 d;

  if (self->base_ms == 0)
    return 0;

  if (n >= 32)
    return self->cap_ms;

  d = (guint64) self->base_ms << n;

  return MIN (d, (guint64) self->cap_ms);
}

static void
tincan_backoff_finalize (GObject *object)
{
  TincanBackoff *self = (TincanBackoff *)object;

  if (self->random_destroy != NULL)
    self->random_destroy (self->random_data);

  G_OBJECT_CLASS (tincan_backoff_parent_class)->finalize (object);
}

static void
tincan_backoff_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TincanBackoff *self = TINCAN_BACKOFF (object);

  switch (prop_id)
    {
    case PROP_BASE_MS:
      g_value_set_uint (value, self->base_ms);
      break;

    case PROP_CAP_MS:
      g_value_set_uint (value, self->cap_ms);
      break;

    case PROP_JITTER:
      g_value_set_enum (value, self->jitter);
      break;

    case PROP_MAX_ATTEMPTS:
      g_value_set_uint (value, self->max_attempts);
      break;

    case PROP_STABLE_MS:
      g_value_set_uint (value, self->stable_ms);
      break;

    case PROP_ATTEMPT:
      g_value_set_uint (value, self->attempt);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_backoff_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TincanBackoff *self = TINCAN_BACKOFF (object);

  switch (prop_id)
    {
    case PROP_BASE_MS:
      tincan_backoff_set_base_ms (self, g_value_get_uint (value));
      break;

    case PROP_CAP_MS:
      tincan_backoff_set_cap_ms (self, g_value_get_uint (value));
      break;

    case PROP_JITTER:
      tincan_backoff_set_jitter (self, g_value_get_enum (value));
      break;

    case PROP_MAX_ATTEMPTS:
      tincan_backoff_set_max_attempts (self, g_value_get_uint (value));
      break;

    case PROP_STABLE_MS:
      tincan_backoff_set_stable_ms (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_backoff_class_init (TincanBackoffClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tincan_backoff_finalize;
  object_class->get_property = tincan_backoff_get_property;
  object_class->set_property = tincan_backoff_set_property;

  properties[PROP_BASE_MS] =
    g_param_spec_uint ("base-ms", NULL, NULL,
                       0, G_MAXUINT, 500,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CAP_MS] =
    g_param_spec_uint ("cap-ms", NULL, NULL,
                       0, G_MAXUINT, 30000,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_JITTER] =
    g_param_spec_enum ("jitter", NULL, NULL,
                       TINCAN_TYPE_JITTER,
                       TINCAN_JITTER_FULL,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_MAX_ATTEMPTS] =
    g_param_spec_uint ("max-attempts", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_STABLE_MS] =
    g_param_spec_uint ("stable-ms", NULL, NULL,
                       0, G_MAXUINT, 5000,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_ATTEMPT] =
    g_param_spec_uint ("attempt", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_backoff_init (TincanBackoff *self)
{
  self->random_func = default_random;
  self->base_ms = 500;
  self->cap_ms = 30000;
  self->jitter = TINCAN_JITTER_FULL;
  self->max_attempts = 0;
  self->stable_ms = 5000;
}

TincanBackoff *
tincan_backoff_new (void)
{
  return g_object_new (TINCAN_TYPE_BACKOFF, NULL);
}

void
tincan_backoff_set_random_func (TincanBackoff    *self,
                                TincanRandomFunc  func,
                                gpointer          user_data,
                                GDestroyNotify    destroy)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  if (self->random_destroy != NULL)
    self->random_destroy (self->random_data);

  if (func != NULL)
    {
      self->random_func = func;
      self->random_data = user_data;
      self->random_destroy = destroy;
    }
  else
    {
      self->random_func = default_random;
      self->random_data = NULL;
      self->random_destroy = NULL;
    }
}

guint
tincan_backoff_get_base_ms (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), 0);

  return self->base_ms;
}

void
tincan_backoff_set_base_ms (TincanBackoff *self,
                            guint          base_ms)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  set_uint_prop (self, &self->base_ms, base_ms, PROP_BASE_MS);
}

guint
tincan_backoff_get_cap_ms (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), 0);

  return self->cap_ms;
}

void
tincan_backoff_set_cap_ms (TincanBackoff *self,
                           guint          cap_ms)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  set_uint_prop (self, &self->cap_ms, cap_ms, PROP_CAP_MS);
}

TincanJitter
tincan_backoff_get_jitter (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), TINCAN_JITTER_NONE);

  return self->jitter;
}

void
tincan_backoff_set_jitter (TincanBackoff *self,
                           TincanJitter   jitter)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));
  g_return_if_fail (jitter <= TINCAN_JITTER_DECORRELATED);

  if (self->jitter == jitter)
    return;

  self->jitter = jitter;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JITTER]);
}

guint
tincan_backoff_get_max_attempts (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), 0);

  return self->max_attempts;
}

void
tincan_backoff_set_max_attempts (TincanBackoff *self,
                                 guint          max_attempts)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  set_uint_prop (self, &self->max_attempts, max_attempts, PROP_MAX_ATTEMPTS);
}

guint
tincan_backoff_get_stable_ms (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), 0);

  return self->stable_ms;
}

void
tincan_backoff_set_stable_ms (TincanBackoff *self,
                              guint          stable_ms)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  set_uint_prop (self, &self->stable_ms, stable_ms, PROP_STABLE_MS);
}

guint
tincan_backoff_get_attempt (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), 0);

  return self->attempt;
}

gboolean
tincan_backoff_is_exhausted (TincanBackoff *self)
{
  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), FALSE);

  return self->max_attempts > 0 && self->attempt >= self->max_attempts;
}

guint
tincan_backoff_next_delay (TincanBackoff *self)
{
  guint64 d;
  guint64 delay = 0;
  guint n;

  g_return_val_if_fail (TINCAN_IS_BACKOFF (self), 0);

  n = self->attempt;
  d = exponential_ms (self, n);

  switch (self->jitter)
    {
    case TINCAN_JITTER_NONE:
      delay = d;
      break;

    case TINCAN_JITTER_FULL:
      delay = (guint64) (next_random (self) * (double) d);
      break;

    case TINCAN_JITTER_EQUAL:
      {
        guint64 half = d / 2;

        delay = half + (guint64) (next_random (self) * (double) (d - half));
      }
      break;

    case TINCAN_JITTER_DECORRELATED:
      {
        guint64 prev = self->prev_ms > 0 ? self->prev_ms : self->base_ms;
        guint64 hi = MAX (prev * 3, (guint64) self->base_ms);

        delay = self->base_ms + (guint64) (next_random (self) * (double) (hi - self->base_ms));
        delay = MIN (delay, (guint64) self->cap_ms);
        self->prev_ms = MAX (delay, 1);
      }
      break;

    default:
      g_assert_not_reached ();
    }

  delay = MIN (delay, (guint64) self->cap_ms);

  if (self->attempt < G_MAXUINT)
    {
      self->attempt++;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPT]);
    }

  g_debug ("Attempt %u: retry in %" G_GUINT64_FORMAT " ms", self->attempt, delay);

  return (guint) delay;
}

void
tincan_backoff_reset (TincanBackoff *self)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  self->prev_ms = 0;
  set_uint_prop (self, &self->attempt, 0, PROP_ATTEMPT);
}

void
tincan_backoff_connected (TincanBackoff *self,
                          gint64         now_us)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  self->up_since_us = now_us;
  self->is_up = TRUE;
}

void
tincan_backoff_disconnected (TincanBackoff *self,
                             gint64         now_us)
{
  g_return_if_fail (TINCAN_IS_BACKOFF (self));

  if (!self->is_up)
    return;

  self->is_up = FALSE;

  /* A connection that dies right after opening must not reset the
   * counter, or a flapping server would be retried at full speed. */
  if (now_us - self->up_since_us >= (gint64) self->stable_ms * 1000)
    {
      g_debug ("Up for %" G_GINT64_FORMAT " ms: backoff reset",
               (now_us - self->up_since_us) / 1000);
      tincan_backoff_reset (self);
    }
}
