/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-member"

#include "config.h"

#include "tincan-member.h"

struct _TincanMember
{
  GObject  parent_instance;
  char    *name;
  gboolean online;
};

enum {
  PROP_0,
  PROP_NAME,
  PROP_ONLINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanMember, tincan_member, G_TYPE_OBJECT)

static void
tincan_member_finalize (GObject *object)
{
  TincanMember *self = TINCAN_MEMBER (object);

  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (tincan_member_parent_class)->finalize (object);
}

static void
tincan_member_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TincanMember *self = TINCAN_MEMBER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_member_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TincanMember *self = TINCAN_MEMBER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;

    case PROP_ONLINE:
      tincan_member_set_online (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_member_class_init (TincanMemberClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tincan_member_finalize;
  object_class->get_property = tincan_member_get_property;
  object_class->set_property = tincan_member_set_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ONLINE] =
    g_param_spec_boolean ("online", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_member_init (TincanMember *self)
{
}

TincanMember *
tincan_member_new (const char *name,
                   gboolean    online)
{
  g_return_val_if_fail (name != NULL, NULL);

  return g_object_new (TINCAN_TYPE_MEMBER, "name", name, "online", online, NULL);
}

const char *
tincan_member_get_name (TincanMember *self)
{
  g_return_val_if_fail (TINCAN_IS_MEMBER (self), NULL);

  return self->name;
}

gboolean
tincan_member_get_online (TincanMember *self)
{
  g_return_val_if_fail (TINCAN_IS_MEMBER (self), FALSE);

  return self->online;
}

void
tincan_member_set_online (TincanMember *self,
                          gboolean      online)
{
  g_return_if_fail (TINCAN_IS_MEMBER (self));

  online = !!online;
  if (self->online == online)
    return;

  self->online = online;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);
}
