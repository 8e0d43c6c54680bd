/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-application"

#include "config.h"

#include <glib/gi18n.h>
#include <time.h>

#include "tincan-application.h"
#include "tincan-preferences-window.h"
#include "tincan-protocols.h"
#include "tincan-secrets.h"
#include "tincan-server.h"
#include "tincan-window.h"

#define BUILTIN_PROFILE_ID "builtin"

struct _TincanApplication
{
  AdwApplication parent_instance;

  GListStore    *sessions;
  GSettings     *settings;
  TincanServer  *server;
  char          *data_dir;
  char          *profiles_path;
  gboolean       loaded;
};

G_DEFINE_FINAL_TYPE (TincanApplication, tincan_application, ADW_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "local", 'l', G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, NULL,
    N_("Start the built-in server and connect to it"), NULL },
  { "protocol", 'p', G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, NULL,
    N_("The protocol of the server at URL (default: tincan)"), N_("PROTOCOL") },
  { "preset", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, NULL,
    N_("For the json protocol: a preset mapping (e.g. pubsub)"), N_("NAME") },
  { "option", 'o', G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING_ARRAY, NULL,
    N_("A protocol option (repeatable), e.g. send-event=chat"), N_("KEY=VALUE") },
  { "user", 'u', G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, NULL,
    N_("The user name to connect as"), N_("NAME") },
  { "data-dir", 'd', G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, NULL,
    N_("Keep history and servers in DIR (runs a separate instance)"), N_("DIR") },
  { "version", 'v', G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, NULL,
    N_("Show the version and exit"), NULL },
  { G_OPTION_REMAINING, 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING_ARRAY, NULL,
    NULL, NULL },
  { NULL }
};

static const char *
get_data_dir (TincanApplication *self)
{
  if (self->data_dir == NULL)
    self->data_dir = tincan_store_get_default_dir ();

  return self->data_dir;
}

static void
save_profiles (TincanApplication *self)
{
  g_autoptr (GPtrArray) profiles = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sessions));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (G_LIST_MODEL (self->sessions), i);

      if (tincan_session_get_persistent (session))
        g_ptr_array_add (profiles, g_object_ref (tincan_session_get_profile (session)));
    }

  if (!tincan_profile_save_all (profiles, self->profiles_path, &error))
    g_warning ("Cannot save the list of servers: %s", error->message);
}

void
tincan_application_save_profiles (TincanApplication *self)
{
  g_return_if_fail (TINCAN_IS_APPLICATION (self));

  save_profiles (self);
}

static TincanSession *
find_session (TincanApplication *self,
              const char        *profile_id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sessions));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (G_LIST_MODEL (self->sessions), i);

      if (g_strcmp0 (tincan_profile_get_id (tincan_session_get_profile (session)), profile_id) == 0)
        return session;
    }

  return NULL;
}

/* The history-retention preference, applied when a history is opened
 * and when the preference changes. */
static void
prune_history (TincanApplication *self,
               TincanStore       *store)
{
  g_autoptr (GError) error = NULL;

  if (tincan_preferences_prune_history (store, g_settings_get_uint (self->settings, "history-retention"),
                                        &error) < 0)
    g_warning ("Cannot trim the history: %s", error->message);
}

static void
on_history_retention_changed (TincanApplication *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sessions));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (G_LIST_MODEL (self->sessions), i);

      prune_history (self, tincan_connection_get_store (tincan_session_get_connection (session)));
    }
}

static TincanSession *
create_session (TincanApplication *self,
                TincanProfile     *profile,
                gboolean           persistent,
                GError           **error)
{
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  g_autoptr (TincanStore) store = NULL;
  g_autoptr (TincanConnection) connection = NULL;
  TincanSession *existing;
  TincanSession *session;

  /* An edited profile (same id) keeps its store: the store is locked
   * exclusively while open, and whoever still holds the old session
   * (an open dialog) keeps it open. */
  existing = find_session (self, tincan_profile_get_id (profile));
  if (existing != NULL)
    {
      store = g_object_ref (tincan_connection_get_store (tincan_session_get_connection (existing)));
    }
  else
    {
      file = g_strdup_printf ("%s.sqlite", tincan_profile_get_id (profile));
      path = g_build_filename (get_data_dir (self), file, NULL);
      store = tincan_store_new (path, error);
      if (store == NULL)
        return NULL;
      if (self->settings != NULL)
        prune_history (self, store);
    }

  connection = tincan_connection_new (profile, store);
  if (tincan_profile_get_auth_method (profile) != TINCAN_AUTH_NONE)
    tincan_connection_set_token_provider (connection, tincan_secrets_token_provider,
                                          g_strdup (tincan_profile_get_id (profile)), g_free);

  session = tincan_session_new (connection, persistent);
  /* The inspector's ring follows the preference, also when it changes. */
  if (self->settings != NULL)
    g_settings_bind (self->settings, "inspector-ring-size",
                     tincan_session_get_frame_log (session), "capacity", G_SETTINGS_BIND_GET);

  return session;
}

TincanSession *
tincan_application_add_profile (TincanApplication *self,
                                TincanProfile     *profile,
                                gboolean           persistent)
{
  g_autoptr (TincanSession) session = NULL;
  g_autoptr (GError) error = NULL;
  TincanSession *existing;

  g_return_val_if_fail (TINCAN_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (TINCAN_IS_PROFILE (profile), NULL);

  existing = find_session (self, tincan_profile_get_id (profile));
  if (existing != NULL)
    {
      tincan_connection_connect (tincan_session_get_connection (existing));
      return existing;
    }

  session = create_session (self, profile, persistent, &error);
  if (session == NULL)
    {
      GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

      g_warning ("Cannot open the history of a server: %s", error->message);
      if (TINCAN_IS_WINDOW (window))
        tincan_window_add_toast (TINCAN_WINDOW (window), error->message);
      return NULL;
    }

  g_list_store_append (self->sessions, session);
  if (persistent)
    save_profiles (self);

  tincan_connection_connect (tincan_session_get_connection (session));

  return session;
}

TincanSession *
tincan_application_update_profile (TincanApplication *self,
                                   TincanSession     *session,
                                   TincanProfile     *profile)
{
  g_autoptr (TincanSession) replacement = NULL;
  g_autoptr (GError) error = NULL;
  guint position;

  g_return_val_if_fail (TINCAN_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (TINCAN_IS_SESSION (session), NULL);
  g_return_val_if_fail (TINCAN_IS_PROFILE (profile), NULL);

  if (!g_list_store_find (self->sessions, session, &position))
    return NULL;

  /* The old connection lets go of the store before the new one opens it. */
  tincan_connection_disconnect (tincan_session_get_connection (session));
  tincan_store_flush (tincan_connection_get_store (tincan_session_get_connection (session)), NULL);

  replacement = create_session (self, profile, tincan_session_get_persistent (session), &error);
  if (replacement == NULL)
    {
      g_warning ("Cannot reopen the history of a server: %s", error->message);
      return NULL;
    }

  g_list_store_splice (self->sessions, position, 1, (gpointer *) &replacement, 1);
  save_profiles (self);
  tincan_connection_connect (tincan_session_get_connection (replacement));

  return replacement;
}

static void
clear_secret_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  if (!tincan_secrets_clear_finish (result, &error))
    g_debug ("Could not clear a token: %s", error->message);
}

void
tincan_application_remove_session (TincanApplication *self,
                                   TincanSession     *session)
{
  guint position;
  gboolean persistent;
  TincanProfile *profile;

  g_return_if_fail (TINCAN_IS_APPLICATION (self));
  g_return_if_fail (TINCAN_IS_SESSION (session));

  if (!g_list_store_find (self->sessions, session, &position))
    return;

  g_object_ref (session);
  persistent = tincan_session_get_persistent (session);
  profile = tincan_session_get_profile (session);
  tincan_connection_disconnect (tincan_session_get_connection (session));
  g_list_store_remove (self->sessions, position);

  if (persistent)
    {
      save_profiles (self);
      if (tincan_profile_get_auth_method (profile) != TINCAN_AUTH_NONE)
        tincan_secrets_clear_async (tincan_profile_get_id (profile), NULL, clear_secret_cb, NULL);
    }

  g_object_unref (session);
}

static TincanSession *
start_builtin (TincanApplication *self,
               const char        *user,
               GError           **error);

TincanSession *
tincan_application_start_builtin (TincanApplication *self,
                                  GError           **error)
{
  g_return_val_if_fail (TINCAN_IS_APPLICATION (self), NULL);

  return start_builtin (self, NULL, error);
}

static TincanSession *
start_builtin (TincanApplication *self,
               const char        *user,
               GError           **error)
{
  g_autoptr (TincanProfile) profile = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *default_user = NULL;
  TincanSession *session;

  session = find_session (self, BUILTIN_PROFILE_ID);
  if (session != NULL && self->server != NULL)
    return session;

  if (self->server == NULL)
    {
      g_autoptr (TincanServer) server = tincan_server_new ();

      /* The server keeps its history next to ours, so the seq numbers it
       * gives out never go back to 1 under our stored history. */
      db_path = g_build_filename (get_data_dir (self), "builtin-server.sqlite", NULL);
      if (g_mkdir_with_parents (get_data_dir (self), 0700) != 0)
        g_debug ("Cannot create %s", get_data_dir (self));
      g_object_set (server, "db-path", db_path, NULL);

      if (!tincan_server_listen (server, "127.0.0.1", 0, error))
        return NULL;

      self->server = g_steal_pointer (&server);
      g_debug ("Built-in server listening on port %u", tincan_server_get_port (self->server));
    }

  if (user == NULL || *user == '\0')
    user = default_user = tincan_preferences_dup_user_name (self->settings);

  profile = g_object_new (TINCAN_TYPE_PROFILE, "id", BUILTIN_PROFILE_ID, NULL);
  tincan_preferences_apply_defaults (self->settings, profile);
  tincan_profile_set_name (profile, _("Built-in Server"));
  tincan_profile_set_url (profile, tincan_server_get_uri (self->server));
  tincan_profile_set_user (profile, user);

  session = find_session (self, BUILTIN_PROFILE_ID);
  if (session != NULL)
    tincan_application_remove_session (self, session);

  session = tincan_application_add_profile (self, profile, FALSE);
  if (session != NULL)
    tincan_session_set_builtin (session, TRUE);

  return session;
}

static void
load_profiles (TincanApplication *self)
{
  g_autoptr (GPtrArray) profiles = NULL;
  g_autoptr (GError) error = NULL;

  if (self->loaded)
    return;
  self->loaded = TRUE;

  profiles = tincan_profile_load_all (self->profiles_path, &error);
  if (profiles == NULL)
    {
      g_warning ("Cannot load the list of servers: %s", error->message);
      return;
    }

  for (guint i = 0; i < profiles->len; i++)
    {
      g_autoptr (TincanSession) session = NULL;
      g_autoptr (GError) local_error = NULL;

      session = create_session (self, g_ptr_array_index (profiles, i), TRUE, &local_error);
      if (session == NULL)
        {
          g_warning ("Cannot open the history of a server: %s", local_error->message);
          continue;
        }
      g_list_store_append (self->sessions, session);
      tincan_connection_connect (tincan_session_get_connection (session));
    }
}

/* TINCAN_EXIT_AFTER_FIRST_FRAME=1 (the startup benchmark): print the
 * monotonic time when the main window has drawn its first frame and the
 * CPU time used so far (µs), then quit. */
static void
on_first_frame (GdkFrameClock *clock,
                gpointer       user_data)
{
  struct timespec cpu;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &cpu);
  g_print ("first-frame %" G_GINT64_FORMAT " cpu %" G_GINT64_FORMAT "\n", g_get_monotonic_time (),
           (gint64) cpu.tv_sec * G_USEC_PER_SEC + cpu.tv_nsec / 1000);
  g_signal_handlers_disconnect_by_func (clock, on_first_frame, user_data);
  g_application_quit (G_APPLICATION (user_data));
}

static void
on_window_realize (GtkWidget *window,
                   gpointer   user_data)
{
  g_signal_connect_object (gtk_widget_get_frame_clock (window), "after-paint",
                           G_CALLBACK (on_first_frame), user_data, 0);
}

static TincanWindow *
ensure_window (TincanApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  TincanWindow *created;

  if (TINCAN_IS_WINDOW (window))
    return TINCAN_WINDOW (window);

  created = tincan_window_new (GTK_APPLICATION (self), G_LIST_MODEL (self->sessions), self->settings);
  if (g_strcmp0 (g_getenv ("TINCAN_EXIT_AFTER_FIRST_FRAME"), "1") == 0)
    g_signal_connect_object (created, "realize", G_CALLBACK (on_window_realize), self, 0);

  return created;
}

static void
tincan_application_activate (GApplication *application)
{
  TincanApplication *self = TINCAN_APPLICATION (application);

  load_profiles (self);
  gtk_window_present (GTK_WINDOW (ensure_window (self)));
}

static char *
url_profile_id (const char *url,
                const char *user,
                const char *protocol)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%s", url, user ? user : "", protocol ? protocol : "");
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);

  return g_strdup_printf ("url-%.16s", digest);
}

static int
tincan_application_command_line (GApplication            *application,
                                 GApplicationCommandLine *cmdline)
{
  TincanApplication *self = TINCAN_APPLICATION (application);
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  g_autofree char *protocol = NULL;
  g_autofree char *preset = NULL;
  g_autofree char *user = NULL;
  g_autofree const char **rest = NULL;
  g_autofree const char **option_args = NULL;
  g_autoptr (GStrvBuilder) options_builder = g_strv_builder_new ();
  g_auto (GStrv) protocol_options = NULL;
  gboolean local = FALSE;
  TincanWindow *window;

  load_profiles (self);

  g_variant_dict_lookup (options, "local", "b", &local);
  g_variant_dict_lookup (options, "protocol", "s", &protocol);
  g_variant_dict_lookup (options, "user", "s", &user);
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&s", &rest);
  g_variant_dict_lookup (options, "preset", "s", &preset);
  g_variant_dict_lookup (options, "option", "^a&s", &option_args);

  if (preset != NULL)
    {
      g_autofree char *option = g_strconcat ("preset=", preset, NULL);

      g_strv_builder_add (options_builder, option);
    }
  if (option_args != NULL)
    g_strv_builder_addv (options_builder, option_args);
  protocol_options = g_strv_builder_end (options_builder);

  if (protocol != NULL || protocol_options[0] != NULL)
    {
      g_autoptr (TincanProtocol) check = NULL;
      g_autoptr (GError) error = NULL;

      check = tincan_protocol_new_with_options (protocol != NULL ? protocol : "tincan",
                                                (const char * const *) protocol_options,
                                                &error);
      if (check == NULL)
        {
          g_application_command_line_printerr (cmdline, "%s\n", error->message);
          return EXIT_FAILURE;
        }
    }

  if (rest != NULL && rest[0] != NULL && rest[1] != NULL)
    {
      g_application_command_line_printerr (cmdline, "%s\n", _("Give at most one URL."));
      return EXIT_FAILURE;
    }

  window = ensure_window (self);
  gtk_window_present (GTK_WINDOW (window));

  if (local)
    {
      g_autoptr (GError) error = NULL;

      if (start_builtin (self, user, &error) == NULL && error != NULL)
        {
          g_application_command_line_printerr (cmdline, "%s\n", error->message);
          tincan_window_add_toast (window, error->message);
        }
      else if (self->server != NULL)
        /* So a second client (tincan URL, tincan-cli URL) can join. */
        g_application_command_line_print (cmdline, _("Built-in server: %s\n"),
                                          tincan_server_get_uri (self->server));
    }

  if (rest != NULL && rest[0] != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanProfile) profile = NULL;
      g_autoptr (GUri) uri = NULL;
      g_autofree char *id = NULL;
      TincanSession *session;

      if (!tincan_profile_validate_url (rest[0], &error))
        {
          g_application_command_line_printerr (cmdline, "%s\n", error->message);
          tincan_window_add_toast (window, error->message);
          return EXIT_FAILURE;
        }

      if (protocol_options[0] != NULL)
        {
          /* Another mapping of the same server is another profile. */
          g_autofree char *joined = g_strjoinv ("\n", protocol_options);
          g_autofree char *dialect = g_strconcat (protocol != NULL ? protocol : "tincan",
                                                  "\n", joined, NULL);

          id = url_profile_id (rest[0], user, dialect);
        }
      else
        id = url_profile_id (rest[0], user, protocol);
      profile = g_object_new (TINCAN_TYPE_PROFILE, "id", id, NULL);
      uri = g_uri_parse (rest[0], G_URI_FLAGS_NONE, NULL);
      if (uri != NULL && g_uri_get_host (uri) != NULL)
        {
          g_autofree char *host = g_uri_get_port (uri) > 0
                                  ? g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri))
                                  : g_strdup (g_uri_get_host (uri));
          g_autofree char *name = user != NULL ? g_strdup_printf ("%s@%s", user, host) : g_strdup (host);

          tincan_profile_set_name (profile, name);
        }
      else
        tincan_profile_set_name (profile, rest[0]);
      tincan_profile_set_url (profile, rest[0]);
      if (protocol != NULL)
        tincan_profile_set_protocol (profile, protocol);
      g_object_set (profile, "protocol-options", protocol_options, NULL);
      if (user != NULL)
        tincan_profile_set_user (profile, user);
      tincan_preferences_apply_defaults (self->settings, profile);

      session = tincan_application_add_profile (self, profile, FALSE);
      if (session != NULL)
        tincan_window_open_room (window, session, "lobby");
    }

  return EXIT_SUCCESS;
}

static int
tincan_application_handle_local_options (GApplication *application,
                                         GVariantDict *options)
{
  TincanApplication *self = TINCAN_APPLICATION (application);
  const char *data_dir = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("tincan %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (g_variant_dict_lookup (options, "data-dir", "^&ay", &data_dir))
    {
      /* A separate data directory is a separate instance (tests, or two
       * users side by side). */
      g_free (self->data_dir);
      self->data_dir = g_canonicalize_filename (data_dir, NULL);
      g_free (self->profiles_path);
      self->profiles_path = g_build_filename (self->data_dir, "servers.ini", NULL);
      g_application_set_flags (application,
                               g_application_get_flags (application) | G_APPLICATION_NON_UNIQUE);
    }

  return -1;
}

/* Actions */

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  TincanApplication *self = user_data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));

  /* Closing saves each window's size. */
  for (GList *l = windows; l != NULL;)
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }

  g_application_quit (G_APPLICATION (self));
}

static void
activate_action (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  g_application_activate (G_APPLICATION (user_data));
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  TincanApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  static const char *developers[] = { "The Tincan developers", NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", parent,
                        "application-name", "Tincan",
                        "application-icon", "io.github.tincan.Tincan",
                        "version", PACKAGE_VERSION,
                        "developer-name", _("The Tincan developers"),
                        "developers", developers,
                        "comments", _("A chat client for WebSocket chat backends: chat, and see at a glance whether your backend behaves."),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "website", "https://github.com/tincan/tincan",
                        "issue-url", "https://github.com/tincan/tincan/issues",
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  TincanApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWidget *preferences;

  preferences = tincan_preferences_window_new (parent, self->settings);
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
try_builtin_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  TincanApplication *self = user_data;
  TincanWindow *window = ensure_window (self);
  g_autoptr (GError) error = NULL;
  TincanSession *session;

  gtk_window_present (GTK_WINDOW (window));
  session = tincan_application_start_builtin (self, &error);
  if (session == NULL)
    {
      if (error != NULL)
        tincan_window_add_toast (window, error->message);
      return;
    }

  tincan_window_open_room (window, session, "lobby");
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action, NULL, NULL, NULL, { 0 } },
  { "activate", activate_action, NULL, NULL, NULL, { 0 } },
  { "about", about_action, NULL, NULL, NULL, { 0 } },
  { "preferences", preferences_action, NULL, NULL, NULL, { 0 } },
  { "try-builtin", try_builtin_action, NULL, NULL, NULL, { 0 } },
};

static void
tincan_application_startup (GApplication *application)
{
  TincanApplication *self = TINCAN_APPLICATION (application);
  static const char *quit_accels[] = { "<Primary>q", NULL };
  static const char *close_accels[] = { "<Primary>w", NULL };
  static const char *add_accels[] = { "<Primary>n", NULL };
  static const char *preferences_accels[] = { "<Primary>comma", NULL };
  static const char *help_accels[] = { "<Primary>question", NULL };
  static const char *inspector_accels[] = { "<Primary>i", NULL };
  GSettingsSchemaSource *source;
  g_autoptr (GSettingsSchema) schema = NULL;

  G_APPLICATION_CLASS (tincan_application_parent_class)->startup (application);

  source = g_settings_schema_source_get_default ();
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, "io.github.tincan.Tincan", TRUE);
  if (schema != NULL)
    {
      self->settings = g_settings_new ("io.github.tincan.Tincan");
      g_signal_connect_object (self->settings, "changed::history-retention",
                               G_CALLBACK (on_history_retention_changed), self, G_CONNECT_SWAPPED);
    }
  else
    g_debug ("The io.github.tincan.Tincan schema is not installed; settings are not kept");

  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.add-server", add_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay", help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.toggle-inspector", inspector_accels);
}

static void
tincan_application_shutdown (GApplication *application)
{
  TincanApplication *self = TINCAN_APPLICATION (application);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sessions));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanSession) session = g_list_model_get_item (G_LIST_MODEL (self->sessions), i);
      TincanConnection *connection = tincan_session_get_connection (session);

      tincan_connection_disconnect (connection);
      tincan_store_flush (tincan_connection_get_store (connection), NULL);
    }

  if (self->server != NULL)
    tincan_server_stop (self->server);

  G_APPLICATION_CLASS (tincan_application_parent_class)->shutdown (application);
}

static void
tincan_application_dispose (GObject *object)
{
  TincanApplication *self = TINCAN_APPLICATION (object);

  g_clear_object (&self->sessions);
  g_clear_object (&self->settings);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (tincan_application_parent_class)->dispose (object);
}

static void
tincan_application_finalize (GObject *object)
{
  TincanApplication *self = TINCAN_APPLICATION (object);

  g_clear_pointer (&self->data_dir, g_free);
  g_clear_pointer (&self->profiles_path, g_free);

  G_OBJECT_CLASS (tincan_application_parent_class)->finalize (object);
}

static void
tincan_application_class_init (TincanApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = tincan_application_dispose;
  object_class->finalize = tincan_application_finalize;
  app_class->activate = tincan_application_activate;
  app_class->command_line = tincan_application_command_line;
  app_class->handle_local_options = tincan_application_handle_local_options;
  app_class->startup = tincan_application_startup;
  app_class->shutdown = tincan_application_shutdown;
}

static void
tincan_application_init (TincanApplication *self)
{
  self->sessions = g_list_store_new (TINCAN_TYPE_SESSION);

  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
  g_application_set_option_context_parameter_string (G_APPLICATION (self), _("[URL]"));
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Chat over WebSocket backends.\n\n"
                                              "  tincan --local        try the built-in server\n"
                                              "  tincan ws://HOST/ws   connect to a server and open its lobby"));
}

TincanApplication *
tincan_application_new (void)
{
  return g_object_new (TINCAN_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/io/github/tincan/Tincan",
                       NULL);
}

GListModel *
tincan_application_get_sessions (TincanApplication *self)
{
  g_return_val_if_fail (TINCAN_IS_APPLICATION (self), NULL);

  return G_LIST_MODEL (self->sessions);
}

GSettings *
tincan_application_get_settings (TincanApplication *self)
{
  g_return_val_if_fail (TINCAN_IS_APPLICATION (self), NULL);

  return self->settings;
}
