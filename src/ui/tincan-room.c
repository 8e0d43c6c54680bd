/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-room"

#include "config.h"

#include "tincan-member.h"
#include "tincan-room.h"

struct _TincanRoom
{
  GObject     parent_instance;
  char       *name;
  char       *title;
  GListStore *members;
  guint       unread;
  guint       n_online;
};

enum {
  PROP_0,
  PROP_NAME,
  PROP_TITLE,
  PROP_UNREAD,
  PROP_MEMBERS,
  PROP_N_ONLINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanRoom, tincan_room, G_TYPE_OBJECT)

static void
tincan_room_dispose (GObject *object)
{
  TincanRoom *self = TINCAN_ROOM (object);

  g_clear_object (&self->members);

  G_OBJECT_CLASS (tincan_room_parent_class)->dispose (object);
}

static void
tincan_room_finalize (GObject *object)
{
  TincanRoom *self = TINCAN_ROOM (object);

  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->title, g_free);

  G_OBJECT_CLASS (tincan_room_parent_class)->finalize (object);
}

static void
tincan_room_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  TincanRoom *self = TINCAN_ROOM (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;

    case PROP_UNREAD:
      g_value_set_uint (value, self->unread);
      break;

    case PROP_MEMBERS:
      g_value_set_object (value, self->members);
      break;

    case PROP_N_ONLINE:
      g_value_set_uint (value, self->n_online);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_room_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  TincanRoom *self = TINCAN_ROOM (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      self->title = g_strconcat ("#", self->name, NULL);
      break;

    case PROP_UNREAD:
      tincan_room_set_unread (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_room_class_init (TincanRoomClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tincan_room_dispose;
  object_class->finalize = tincan_room_finalize;
  object_class->get_property = tincan_room_get_property;
  object_class->set_property = tincan_room_set_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNREAD] =
    g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MEMBERS] =
    g_param_spec_object ("members", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_ONLINE] =
    g_param_spec_uint ("n-online", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_room_init (TincanRoom *self)
{
  self->members = g_list_store_new (TINCAN_TYPE_MEMBER);
}

TincanRoom *
tincan_room_new (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  return g_object_new (TINCAN_TYPE_ROOM, "name", name, NULL);
}

const char *
tincan_room_get_name (TincanRoom *self)
{
  g_return_val_if_fail (TINCAN_IS_ROOM (self), NULL);

  return self->name;
}

guint
tincan_room_get_unread (TincanRoom *self)
{
  g_return_val_if_fail (TINCAN_IS_ROOM (self), 0);

  return self->unread;
}

void
tincan_room_set_unread (TincanRoom *self,
                        guint       unread)
{
  g_return_if_fail (TINCAN_IS_ROOM (self));

  if (self->unread == unread)
    return;

  self->unread = unread;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}

GListModel *
tincan_room_get_members (TincanRoom *self)
{
  g_return_val_if_fail (TINCAN_IS_ROOM (self), NULL);

  return G_LIST_MODEL (self->members);
}

guint
tincan_room_get_n_online (TincanRoom *self)
{
  g_return_val_if_fail (TINCAN_IS_ROOM (self), 0);

  return self->n_online;
}

static void
update_n_online (TincanRoom *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  guint n_online = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMember) member = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (tincan_member_get_online (member))
        n_online++;
    }

  if (n_online == self->n_online)
    return;

  self->n_online = n_online;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ONLINE]);
}

static int
compare_members (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  TincanMember *ma = (TincanMember *) a;
  TincanMember *mb = (TincanMember *) b;

  /* Online first, then by name. */
  if (tincan_member_get_online (ma) != tincan_member_get_online (mb))
    return tincan_member_get_online (ma) ? -1 : 1;

  return g_utf8_collate (tincan_member_get_name (ma), tincan_member_get_name (mb));
}

static TincanMember *
find_member (TincanRoom *self,
             const char *user,
             guint      *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->members));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMember) member = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (g_strcmp0 (tincan_member_get_name (member), user) == 0)
        {
          if (position != NULL)
            *position = i;
          return member;
        }
    }

  return NULL;
}

void
tincan_room_set_presence (TincanRoom *self,
                          const char *user,
                          gboolean    online)
{
  TincanMember *member;
  guint position = 0;

  g_return_if_fail (TINCAN_IS_ROOM (self));
  g_return_if_fail (user != NULL);

  member = find_member (self, user, &position);
  if (member != NULL)
    {
      g_autoptr (TincanMember) keep = g_object_ref (member);

      if (tincan_member_get_online (member) == !!online)
        return;
      /* Re-inserted so the online members stay first. */
      g_list_store_remove (self->members, position);
      tincan_member_set_online (keep, online);
      g_list_store_insert_sorted (self->members, keep, compare_members, NULL);
    }
  else
    {
      g_autoptr (TincanMember) added = tincan_member_new (user, online);

      g_list_store_insert_sorted (self->members, added, compare_members, NULL);
    }

  update_n_online (self);
}

void
tincan_room_set_members (TincanRoom         *self,
                         const char * const *users)
{
  guint n;

  g_return_if_fail (TINCAN_IS_ROOM (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMember) member = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (users == NULL || !g_strv_contains (users, tincan_member_get_name (member)))
        tincan_member_set_online (member, FALSE);
    }

  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    {
      TincanMember *member = find_member (self, users[i], NULL);

      if (member != NULL)
        tincan_member_set_online (member, TRUE);
      else
        {
          g_autoptr (TincanMember) added = tincan_member_new (users[i], TRUE);

          g_list_store_append (self->members, added);
        }
    }

  g_list_store_sort (self->members, compare_members, NULL);
  update_n_online (self);
}

void
tincan_room_clear_presence (TincanRoom *self)
{
  guint n;

  g_return_if_fail (TINCAN_IS_ROOM (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanMember) member = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      tincan_member_set_online (member, FALSE);
    }

  update_n_online (self);
}
