/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-preferences"

#include "config.h"

#include "tincan-preferences-window.h"

struct _TincanPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GtkWidget           *notifications_switch;
};

G_DEFINE_FINAL_TYPE (TincanPreferencesWindow, tincan_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
tincan_preferences_window_class_init (TincanPreferencesWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanPreferencesWindow, notifications_switch);
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

  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  self = g_object_new (TINCAN_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       NULL);

  if (settings != NULL)
    g_settings_bind (settings, "notifications", self->notifications_switch, "active",
                     G_SETTINGS_BIND_DEFAULT);
  else
    gtk_widget_set_sensitive (self->notifications_switch, FALSE);

  return GTK_WIDGET (self);
}
