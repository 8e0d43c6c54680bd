/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-preferences"

#include "config.h"

#include "tincan-preferences-window.h"

struct _TincanPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GtkWidget           *user_name_row;
  GtkWidget           *notifications_switch;
  GtkWidget           *retention_spin;
  GtkWidget           *heartbeat_spin;
  GtkWidget           *timeout_spin;
  GtkWidget           *base_spin;
  GtkWidget           *cap_spin;
  GtkWidget           *ring_spin;
};

G_DEFINE_FINAL_TYPE (TincanPreferencesWindow, tincan_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
tincan_preferences_window_class_init (TincanPreferencesWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, user_name_row);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, retention_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, heartbeat_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, timeout_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, base_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, cap_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, ring_spin);
}

static void
tincan_preferences_window_init (TincanPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
tincan_preferences_window_new (GtkWindow *parent,
                               GSettings *settings)
{
  TincanPreferencesWindow *self;
  const struct
  {
    const char *key;
    gsize       offset;
    const char *property;
  } bindings[] = {
    { "default-user-name", G_STRUCT_OFFSET (TincanPreferencesWindow, user_name_row), "text" },
    { "notifications", G_STRUCT_OFFSET (TincanPreferencesWindow, notifications_switch), "active" },
    { "history-retention", G_STRUCT_OFFSET (TincanPreferencesWindow, retention_spin), "value" },
    { "heartbeat-interval", G_STRUCT_OFFSET (TincanPreferencesWindow, heartbeat_spin), "value" },
    { "heartbeat-timeout", G_STRUCT_OFFSET (TincanPreferencesWindow, timeout_spin), "value" },
    { "reconnect-base-ms", G_STRUCT_OFFSET (TincanPreferencesWindow, base_spin), "value" },
    { "reconnect-cap-ms", G_STRUCT_OFFSET (TincanPreferencesWindow, cap_spin), "value" },
    { "inspector-ring-size", G_STRUCT_OFFSET (TincanPreferencesWindow, ring_spin), "value" },
  };

  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  self = g_object_new (TINCAN_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (bindings); i++)
    {
      GtkWidget *widget = G_STRUCT_MEMBER (GtkWidget *, self, bindings[i].offset);

      if (settings != NULL)
        g_settings_bind (settings, bindings[i].key, widget, bindings[i].property,
                         G_SETTINGS_BIND_DEFAULT);
      else
        gtk_widget_set_sensitive (widget, FALSE);
    }

  return GTK_WIDGET (self);
}

char *
tincan_preferences_dup_user_name (GSettings *settings)
{
  g_autofree char *preferred = NULL;
  const char *login;

  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  if (settings != NULL)
    {
      preferred = g_strstrip (g_settings_get_string (settings, "default-user-name"));
      if (*preferred != '\0')
        return g_steal_pointer (&preferred);
    }

  login = g_get_user_name ();
  if (login == NULL || *login == '\0' || g_strcmp0 (login, "root") == 0)
    return g_strdup ("me");

  return g_strdup (login);
}

void
tincan_preferences_apply_defaults (GSettings     *settings,
                                   TincanProfile *profile)
{
  g_return_if_fail (settings == NULL || G_IS_SETTINGS (settings));
  g_return_if_fail (TINCAN_IS_PROFILE (profile));

  if (settings != NULL)
    {
      guint base = g_settings_get_uint (settings, "reconnect-base-ms");
      guint cap = g_settings_get_uint (settings, "reconnect-cap-ms");

      g_object_set (profile,
                    "heartbeat-interval", g_settings_get_uint (settings, "heartbeat-interval"),
                    "heartbeat-timeout", g_settings_get_uint (settings, "heartbeat-timeout"),
                    "reconnect-base-ms", base,
                    "reconnect-cap-ms", MAX (base, cap),
                    NULL);
    }

  if (tincan_profile_get_user (profile) == NULL || *tincan_profile_get_user (profile) == '\0')
    {
      g_autofree char *user = tincan_preferences_dup_user_name (settings);

      tincan_profile_set_user (profile, user);
    }
}

#define PRUNE_PAGE 1000

/* The seq of the oldest message to keep in @room, or 0 if the room has
 * no more than @keep messages with a seq. */
static gboolean
find_oldest_kept (TincanStore  *store,
                  const char   *room,
                  guint         keep,
                  gint64       *oldest_kept,
                  GError      **error)
{
  gint64 before = 0;
  guint seen = 0;

  *oldest_kept = 0;
  while (seen < keep)
    {
      g_autoptr (GPtrArray) page = tincan_store_load_page (store, room, before, MIN (PRUNE_PAGE, keep - seen),
                                                           error);

      if (page == NULL)
        return FALSE;
      if (page->len == 0)
        return TRUE;
      seen += page->len;
      before = tincan_message_get_seq (g_ptr_array_index (page, page->len - 1));
    }

  *oldest_kept = before;
  return TRUE;
}

gint64
tincan_preferences_prune_history (TincanStore  *store,
                                  guint         keep_per_room,
                                  GError      **error)
{
  g_auto (GStrv) rooms = NULL;
  gint64 deleted = 0;

  g_return_val_if_fail (TINCAN_IS_STORE (store), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (keep_per_room == 0)
    return 0;

  rooms = tincan_store_list_rooms (store);
  for (guint i = 0; rooms != NULL && rooms[i] != NULL; i++)
    {
      gint64 oldest_kept;

      if (tincan_store_count_messages (store, rooms[i]) <= keep_per_room)
        continue;
      if (!find_oldest_kept (store, rooms[i], keep_per_room, &oldest_kept, error))
        return -1;
      if (oldest_kept == 0)
        continue;

      /* Everything older, a page at a time, until none is left. */
      for (;;)
        {
          g_autoptr (GPtrArray) older = tincan_store_load_page (store, rooms[i], oldest_kept, PRUNE_PAGE, error);

          if (older == NULL)
            return -1;
          if (older->len == 0)
            break;
          for (guint j = 0; j < older->len; j++)
            {
              if (!tincan_store_delete (store, g_ptr_array_index (older, j), error))
                return -1;
              deleted++;
            }
        }
    }

  if (deleted > 0)
    g_debug ("History retention: deleted %" G_GINT64_FORMAT " old messages", deleted);

  return deleted;
}
