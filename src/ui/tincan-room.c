/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-room"

#include "config.h"

#include <string.h>

#include "tincan-member.h"
#include "tincan-room.h"

struct _TincanRoom
{
  GObject     parent_instance;
  char       *name;
  char       *title;
  GListStore *members;
  GHashTable *by_name;      /* user → TincanMember (owned) */
  GPtrArray  *joining;      /* TincanMember not in @members yet */
  guint       reorder_id;
  guint       unread;
  guint       n_online;
};

/* Presence can arrive by the tens of thousands in one main-loop turn (a
 * hostile or just busy server): each event is O(1) here, and the list
 * model changes once per turn (new members spliced in, then one sort),
 * so a bound view rebinds its rows once, not once per event. */
static GQuark collate_key_quark;

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

  g_clear_handle_id (&self->reorder_id, g_source_remove);
  g_clear_pointer (&self->joining, g_ptr_array_unref);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
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

  collate_key_quark = g_quark_from_static_string ("tincan-room-collate-key");
}

static void
tincan_room_init (TincanRoom *self)
{
  self->members = g_list_store_new (TINCAN_TYPE_MEMBER);
  self->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->joining = g_ptr_array_new_with_free_func (g_object_unref);
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
set_n_online (TincanRoom *self,
              guint       n_online)
{
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

  /* Online first, then by name as people sort it. */
  if (tincan_member_get_online (ma) != tincan_member_get_online (mb))
    return tincan_member_get_online (ma) ? -1 : 1;

  return strcmp (g_object_get_qdata (G_OBJECT (ma), collate_key_quark),
                 g_object_get_qdata (G_OBJECT (mb), collate_key_quark));
}

static gboolean
reorder_cb (gpointer user_data)
{
  TincanRoom *self = user_data;

  self->reorder_id = 0;

  if (self->joining->len > 0)
    {
      g_list_store_splice (self->members,
                           g_list_model_get_n_items (G_LIST_MODEL (self->members)), 0,
                           self->joining->pdata, self->joining->len);
      g_ptr_array_set_size (self->joining, 0);
    }
  g_list_store_sort (self->members, compare_members, NULL);

  return G_SOURCE_REMOVE;
}

static void
schedule_reorder (TincanRoom *self)
{
  if (self->reorder_id == 0)
    self->reorder_id = g_idle_add_full (G_PRIORITY_DEFAULT, reorder_cb, self, NULL);
}

static TincanMember *
add_member (TincanRoom *self,
            const char *user,
            gboolean    online)
{
  TincanMember *member = tincan_member_new (user, online);

  g_object_set_qdata_full (G_OBJECT (member), collate_key_quark,
                           g_utf8_collate_key (user, -1), g_free);
  g_hash_table_insert (self->by_name, g_strdup (user), member);
  g_ptr_array_add (self->joining, g_object_ref (member));
  schedule_reorder (self);

  return member;
}

void
tincan_room_set_presence (TincanRoom *self,
                          const char *user,
                          gboolean    online)
{
  TincanMember *member;

  g_return_if_fail (TINCAN_IS_ROOM (self));
  g_return_if_fail (user != NULL);

  online = !!online;
  member = g_hash_table_lookup (self->by_name, user);

  if (member == NULL)
    add_member (self, user, online);
  else if (tincan_member_get_online (member) != online)
    {
      tincan_member_set_online (member, online);
      /* Online members stay first. */
      schedule_reorder (self);
    }
  else
    return;

  set_n_online (self, online ? self->n_online + 1 : self->n_online - 1);
}

void
tincan_room_set_members (TincanRoom         *self,
                         const char * const *users)
{
  g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  TincanMember *member;

  g_return_if_fail (TINCAN_IS_ROOM (self));

  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    {
      g_hash_table_add (listed, (gpointer) users[i]);
      member = g_hash_table_lookup (self->by_name, users[i]);
      if (member != NULL)
        tincan_member_set_online (member, TRUE);
      else
        add_member (self, users[i], TRUE);
    }

  g_hash_table_iter_init (&iter, self->by_name);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
    if (!g_hash_table_contains (listed, tincan_member_get_name (member)))
      tincan_member_set_online (member, FALSE);

  schedule_reorder (self);
  set_n_online (self, g_hash_table_size (listed));
}

void
tincan_room_clear_presence (TincanRoom *self)
{
  GHashTableIter iter;
  TincanMember *member;

  g_return_if_fail (TINCAN_IS_ROOM (self));

  g_hash_table_iter_init (&iter, self->by_name);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
    tincan_member_set_online (member, FALSE);

  schedule_reorder (self);
  set_n_online (self, 0);
}
