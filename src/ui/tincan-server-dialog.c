/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-server-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "tincan-connection.h"
#include "tincan-preferences-window.h"
#include "tincan-protocols.h"
#include "tincan-secrets.h"
#include "tincan-server-dialog.h"

struct _TincanServerDialog
{
  AdwWindow          parent_instance;

  TincanApplication *application;
  TincanSession     *session;
  GCancellable      *cancellable;
  TincanProfile     *pending;

  AdwWindowTitle    *title_widget;
  GtkWidget         *save_button;
  AdwToastOverlay   *toast_overlay;
  AdwEntryRow       *name_row;
  AdwEntryRow       *url_row;
  AdwComboRow       *protocol_row;
  AdwComboRow       *preset_row;
  AdwEntryRow       *namespace_row;
  AdwEntryRow       *send_event_row;
  AdwEntryRow       *receive_event_row;
  AdwEntryRow       *send_method_row;
  AdwEntryRow       *notify_method_row;
  AdwEntryRow       *user_row;
  AdwEntryRow       *rooms_row;
  GtkLabel          *url_error_label;
  AdwComboRow       *auth_row;
  AdwEntryRow       *token_row;
  AdwEntryRow       *auth_param_row;
  GtkLabel          *token_hint_label;
  AdwEntryRow       *subprotocols_row;
  GtkSpinButton     *heartbeat_spin;
  GtkSpinButton     *timeout_spin;
  GtkSpinButton     *base_spin;
  GtkSpinButton     *cap_spin;
  GtkSpinButton     *attempts_spin;
  GtkTextView       *headers_view;
  AdwExpanderRow    *certificate_row;
  AdwEntryRow       *fingerprint_row;
  AdwActionRow      *trust_row;
};

G_DEFINE_FINAL_TYPE (TincanServerDialog, tincan_server_dialog, ADW_TYPE_WINDOW)

static GStrv
split_list (const char *text,
            const char *separators)
{
  g_auto (GStrv) parts = g_strsplit_set (text != NULL ? text : "", separators, -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      if (parts[i][0] != '\0')
        g_strv_builder_add (builder, parts[i]);
    }

  return g_strv_builder_end (builder);
}

static gboolean
validate (TincanServerDialog *self)
{
  g_autoptr (GError) error = NULL;
  const char *url = gtk_editable_get_text (GTK_EDITABLE (self->url_row));
  gboolean valid;

  valid = tincan_profile_validate_url (url, &error);

  if (!valid && *url != '\0')
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->url_row), "error");
      gtk_label_set_text (self->url_error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->url_error_label), TRUE);
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->url_row), "error");
      gtk_widget_set_visible (GTK_WIDGET (self->url_error_label), FALSE);
    }

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.save", valid);

  return valid;
}

static void
on_url_changed (TincanServerDialog *self)
{
  validate (self);
}

static void
on_auth_changed (TincanServerDialog *self)
{
  guint method = adw_combo_row_get_selected (self->auth_row);

  gtk_widget_set_visible (GTK_WIDGET (self->token_row), method != TINCAN_AUTH_NONE);
  gtk_widget_set_visible (GTK_WIDGET (self->token_hint_label), method != TINCAN_AUTH_NONE);
  gtk_widget_set_visible (GTK_WIDGET (self->auth_param_row), method == TINCAN_AUTH_QUERY);
}

/* The dialect options the dialog edits, per protocol; any other option
 * of the profile is kept as it is while the protocol stays the same. */
typedef struct
{
  const char *protocol;
  const char *key;
  const char *fallback;  /* the dialect's default: not written */
  gsize       row_offset;
} OptionRow;

static const OptionRow option_rows[] = {
  { "socketio", "namespace", "/", G_STRUCT_OFFSET (TincanServerDialog, namespace_row) },
  { "socketio", "send-event", "message", G_STRUCT_OFFSET (TincanServerDialog, send_event_row) },
  { "socketio", "receive-event", "message", G_STRUCT_OFFSET (TincanServerDialog, receive_event_row) },
  { "jsonrpc", "send-method", "send", G_STRUCT_OFFSET (TincanServerDialog, send_method_row) },
  { "jsonrpc", "notify-method", "message", G_STRUCT_OFFSET (TincanServerDialog, notify_method_row) },
};

#define OPTION_ROW(self, i) (*(AdwEntryRow **) G_STRUCT_MEMBER_P ((self), option_rows[i].row_offset))

static const char *
selected_protocol (TincanServerDialog *self)
{
  GtkStringObject *item = adw_combo_row_get_selected_item (self->protocol_row);

  return item != NULL ? gtk_string_object_get_string (item) : "tincan";
}

static gboolean
option_is_edited_here (const char *protocol,
                       const char *option)
{
  const char *eq = strchr (option, '=');
  gsize key_len = eq != NULL ? (gsize) (eq - option) : strlen (option);

  if (g_str_equal (protocol, "json") && key_len == 6 && strncmp (option, "preset", 6) == 0)
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (option_rows); i++)
    if (g_str_equal (option_rows[i].protocol, protocol) &&
        strlen (option_rows[i].key) == key_len &&
        strncmp (option_rows[i].key, option, key_len) == 0)
      return TRUE;

  return FALSE;
}

static void
on_protocol_changed (TincanServerDialog *self)
{
  const char *protocol = selected_protocol (self);

  gtk_widget_set_visible (GTK_WIDGET (self->preset_row), g_str_equal (protocol, "json"));
  for (guint i = 0; i < G_N_ELEMENTS (option_rows); i++)
    gtk_widget_set_visible (GTK_WIDGET (OPTION_ROW (self, i)),
                            g_str_equal (option_rows[i].protocol, protocol));
}

/* The protocol-options for the dialog's fields, plus the profile's other
 * options when the protocol did not change. */
static GStrv
build_protocol_options (TincanServerDialog *self,
                        const char         *protocol,
                        TincanProfile      *previous)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (g_str_equal (protocol, "json"))
    {
      GtkStringObject *preset = adw_combo_row_get_selected_item (self->preset_row);

      if (preset != NULL && !g_str_equal (gtk_string_object_get_string (preset), "auto"))
        {
          g_autofree char *option = g_strconcat ("preset=", gtk_string_object_get_string (preset), NULL);

          g_strv_builder_add (builder, option);
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (option_rows); i++)
    {
      g_autofree char *value = NULL;
      g_autofree char *option = NULL;

      if (!g_str_equal (option_rows[i].protocol, protocol))
        continue;

      value = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (OPTION_ROW (self, i)))));
      if (*value == '\0' || g_str_equal (value, option_rows[i].fallback))
        continue;

      option = g_strconcat (option_rows[i].key, "=", value, NULL);
      g_strv_builder_add (builder, option);
    }

  if (previous != NULL && g_strcmp0 (tincan_profile_get_protocol (previous), protocol) == 0)
    {
      g_auto (GStrv) old = NULL;

      g_object_get (previous, "protocol-options", &old, NULL);
      for (guint i = 0; old != NULL && old[i] != NULL; i++)
        if (!option_is_edited_here (protocol, old[i]))
          g_strv_builder_add (builder, old[i]);
    }

  return g_strv_builder_end (builder);
}

static void
load_protocol_options (TincanServerDialog *self,
                       TincanProfile      *profile)
{
  g_auto (GStrv) options = NULL;
  GListModel *presets = adw_combo_row_get_model (self->preset_row);

  g_object_get (profile, "protocol-options", &options, NULL);

  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    {
      const char *eq = strchr (options[i], '=');
      g_autofree char *key = NULL;

      if (eq == NULL)
        continue;
      key = g_strndup (options[i], eq - options[i]);

      if (g_str_equal (key, "preset"))
        {
          for (guint j = 0; j < g_list_model_get_n_items (presets); j++)
            {
              g_autoptr (GtkStringObject) item = g_list_model_get_item (presets, j);

              if (g_str_equal (gtk_string_object_get_string (item), eq + 1))
                adw_combo_row_set_selected (self->preset_row, j);
            }
          continue;
        }

      for (guint j = 0; j < G_N_ELEMENTS (option_rows); j++)
        if (g_str_equal (option_rows[j].key, key) &&
            g_str_equal (option_rows[j].protocol, tincan_profile_get_protocol (profile)))
          gtk_editable_set_text (GTK_EDITABLE (OPTION_ROW (self, j)), eq + 1);
    }
}

static void
finish_save (TincanServerDialog *self)
{
  g_autoptr (TincanProfile) profile = g_steal_pointer (&self->pending);

  if (self->session != NULL)
    tincan_application_update_profile (self->application, self->session, profile);
  else
    tincan_application_add_profile (self->application, profile, TRUE);

  gtk_window_destroy (GTK_WINDOW (self));
}

static void
store_token_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (TincanServerDialog) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!tincan_secrets_store_finish (result, &error))
    {
      g_autofree char *title = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      gtk_widget_set_sensitive (self->save_button, TRUE);
      /* Translators: %s is the keyring's error */
      title = g_strdup_printf (_("Cannot store the token in the keyring: %s"), error->message);
      adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (title));
      return;
    }

  finish_save (self);
}

static void
clear_token_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  if (!tincan_secrets_clear_finish (result, &error))
    g_debug ("Could not clear a token: %s", error->message);
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  TincanServerDialog *self = TINCAN_SERVER_DIALOG (widget);
  g_autoptr (TincanProfile) profile = NULL;
  g_auto (GStrv) rooms = NULL;
  g_auto (GStrv) subprotocols = NULL;
  g_auto (GStrv) headers = NULL;
  g_auto (GStrv) protocol_options = NULL;
  g_autoptr (TincanProtocol) protocol_check = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *headers_text = NULL;
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  const char *name;
  const char *url;
  const char *token;
  const char *fingerprint = NULL;
  const char *protocol;
  guint method;

  if (!validate (self))
    return;

  url = gtk_editable_get_text (GTK_EDITABLE (self->url_row));
  name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  token = gtk_editable_get_text (GTK_EDITABLE (self->token_row));
  method = adw_combo_row_get_selected (self->auth_row);

  if (adw_expander_row_get_enable_expansion (self->certificate_row))
    {
      fingerprint = gtk_editable_get_text (GTK_EDITABLE (self->fingerprint_row));
      if (fingerprint == NULL || *fingerprint == '\0')
        {
          gtk_widget_add_css_class (GTK_WIDGET (self->fingerprint_row), "error");
          adw_toast_overlay_add_toast (self->toast_overlay,
                                       adw_toast_new (_("Paste the SHA-256 fingerprint of the certificate to accept")));
          return;
        }
    }

  /* The dialect with its options must be buildable, or the connection
   * could only fail: say what is wrong here instead. */
  protocol = selected_protocol (self);
  protocol_options = build_protocol_options (self, protocol,
                                             self->session != NULL
                                               ? tincan_session_get_profile (self->session)
                                               : NULL);
  protocol_check = tincan_protocol_new_with_options (protocol,
                                                     (const char * const *) protocol_options,
                                                     &error);
  if (protocol_check == NULL)
    {
      adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (error->message));
      return;
    }

  if (self->session != NULL)
    profile = tincan_profile_copy (tincan_session_get_profile (self->session));
  else
    profile = tincan_profile_new ();

  if (*name == '\0')
    {
      g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

      name = uri != NULL && g_uri_get_host (uri) != NULL ? g_uri_get_host (uri) : url;
    }

  tincan_profile_set_name (profile, name);
  tincan_profile_set_url (profile, url);
  tincan_profile_set_protocol (profile, protocol);
  g_object_set (profile, "protocol-options", protocol_options, NULL);
  tincan_profile_set_user (profile, gtk_editable_get_text (GTK_EDITABLE (self->user_row)));
  tincan_profile_set_auth_method (profile, method);

  rooms = split_list (gtk_editable_get_text (GTK_EDITABLE (self->rooms_row)), ",");
  if (rooms[0] == NULL)
    {
      const char *lobby[] = { "lobby", NULL };

      tincan_profile_set_rooms (profile, lobby);
    }
  else
    tincan_profile_set_rooms (profile, (const char * const *) rooms);

  subprotocols = split_list (gtk_editable_get_text (GTK_EDITABLE (self->subprotocols_row)), ", ");
  buffer = gtk_text_view_get_buffer (self->headers_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  headers_text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  headers = split_list (headers_text, "\n");

  g_object_set (profile,
                "subprotocols", subprotocols,
                "headers", headers,
                "heartbeat-interval", (guint) gtk_spin_button_get_value_as_int (self->heartbeat_spin),
                "heartbeat-timeout", (guint) gtk_spin_button_get_value_as_int (self->timeout_spin),
                "reconnect-base-ms", (guint) gtk_spin_button_get_value_as_int (self->base_spin),
                "reconnect-cap-ms", (guint) gtk_spin_button_get_value_as_int (self->cap_spin),
                "reconnect-max-attempts", (guint) gtk_spin_button_get_value_as_int (self->attempts_spin),
                "accept-certificate", fingerprint,
                NULL);
  if (method == TINCAN_AUTH_QUERY)
    {
      const char *param = gtk_editable_get_text (GTK_EDITABLE (self->auth_param_row));

      g_object_set (profile, "auth-param", *param != '\0' ? param : "token", NULL);
    }

  g_set_object (&self->pending, profile);

  if (method != TINCAN_AUTH_NONE && token != NULL && *token != '\0')
    {
      g_autofree char *label = g_strdup_printf (_("Tincan token for %s"), name);

      gtk_widget_set_sensitive (self->save_button, FALSE);
      tincan_secrets_store_async (tincan_profile_get_id (profile), label, token,
                                  self->cancellable, store_token_cb, g_object_ref (self));
      return;
    }

  if (method == TINCAN_AUTH_NONE && self->session != NULL)
    tincan_secrets_clear_async (tincan_profile_get_id (profile), NULL, clear_token_cb, NULL);

  finish_save (self);
}

static void
load_profile (TincanServerDialog *self,
              TincanProfile      *profile)
{
  g_auto (GStrv) subprotocols = NULL;
  g_auto (GStrv) headers = NULL;
  g_autofree char *auth_param = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *rooms = NULL;
  g_autofree char *subprotocols_text = NULL;
  g_autofree char *headers_text = NULL;
  guint heartbeat, timeout, base, cap, attempts;
  GListModel *protocols = adw_combo_row_get_model (self->protocol_row);

  g_object_get (profile,
                "subprotocols", &subprotocols,
                "headers", &headers,
                "auth-param", &auth_param,
                "accept-certificate", &fingerprint,
                "heartbeat-interval", &heartbeat,
                "heartbeat-timeout", &timeout,
                "reconnect-base-ms", &base,
                "reconnect-cap-ms", &cap,
                "reconnect-max-attempts", &attempts,
                NULL);

  gtk_editable_set_text (GTK_EDITABLE (self->name_row), tincan_profile_get_name (profile) ?: "");
  gtk_editable_set_text (GTK_EDITABLE (self->url_row), tincan_profile_get_url (profile) ?: "");
  gtk_editable_set_text (GTK_EDITABLE (self->user_row), tincan_profile_get_user (profile) ?: "");
  if (tincan_profile_get_rooms (profile) != NULL)
    rooms = g_strjoinv (", ", (GStrv) tincan_profile_get_rooms (profile));
  gtk_editable_set_text (GTK_EDITABLE (self->rooms_row), rooms ?: "");

  for (guint i = 0; i < g_list_model_get_n_items (protocols); i++)
    {
      g_autoptr (GtkStringObject) item = g_list_model_get_item (protocols, i);

      if (g_strcmp0 (gtk_string_object_get_string (item), tincan_profile_get_protocol (profile)) == 0)
        adw_combo_row_set_selected (self->protocol_row, i);
    }

  load_protocol_options (self, profile);
  on_protocol_changed (self);

  adw_combo_row_set_selected (self->auth_row, tincan_profile_get_auth_method (profile));
  gtk_editable_set_text (GTK_EDITABLE (self->auth_param_row), auth_param ?: "token");

  if (subprotocols != NULL)
    subprotocols_text = g_strjoinv (", ", subprotocols);
  gtk_editable_set_text (GTK_EDITABLE (self->subprotocols_row), subprotocols_text ?: "");
  if (headers != NULL)
    headers_text = g_strjoinv ("\n", headers);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->headers_view), headers_text ?: "", -1);

  gtk_spin_button_set_value (self->heartbeat_spin, heartbeat);
  gtk_spin_button_set_value (self->timeout_spin, timeout);
  gtk_spin_button_set_value (self->base_spin, base);
  gtk_spin_button_set_value (self->cap_spin, cap);
  gtk_spin_button_set_value (self->attempts_spin, attempts);

  adw_expander_row_set_enable_expansion (self->certificate_row, fingerprint != NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->fingerprint_row), fingerprint ?: "");

  /* The stored token is never shown: typing replaces it. */
  if (tincan_profile_get_auth_method (profile) != TINCAN_AUTH_NONE)
    gtk_label_set_text (self->token_hint_label,
                        _("A token is stored in your keyring. Type a new one to replace it."));
}

/* Trusting a certificate */

gboolean
tincan_server_dialog_can_trust_certificate (TincanSession *session)
{
  TincanConnection *connection;
  const GError *error;

  g_return_val_if_fail (TINCAN_IS_SESSION (session), FALSE);

  connection = tincan_session_get_connection (session);
  error = tincan_connection_get_last_error (connection);

  return tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_FAILED &&
         g_error_matches (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_CERTIFICATE) &&
         tincan_connection_get_peer_certificate (connection) != NULL &&
         tincan_connection_get_peer_certificate_fingerprint (connection) != NULL;
}

typedef struct
{
  TincanApplication *application;
  TincanSession     *session;
  char              *fingerprint;
  GtkWindow         *close_too;   /* the server dialog it came from, weak */
} TrustData;

static void
trust_data_free (TrustData *data)
{
  g_clear_object (&data->application);
  g_clear_object (&data->session);
  g_free (data->fingerprint);
  g_clear_weak_pointer (&data->close_too);
  g_free (data);
}

static void
on_trust_response (AdwMessageDialog *dialog,
                   const char       *response,
                   TrustData        *data)
{
  g_autoptr (TincanProfile) profile = NULL;

  if (g_strcmp0 (response, "trust") != 0)
    return;

  /* Pinned for this profile only; the new session connects at once. */
  profile = tincan_profile_copy (tincan_session_get_profile (data->session));
  g_object_set (profile, "accept-certificate", data->fingerprint, NULL);
  tincan_application_update_profile (data->application, data->session, profile);

  if (data->close_too != NULL)
    gtk_window_destroy (data->close_too);
}

static char *
format_date (GDateTime *date)
{
  return date != NULL ? g_date_time_format (date, "%Y-%m-%d %H:%M UTC") : g_strdup (_("Unknown"));
}

static void
add_detail (GtkGrid    *grid,
            int         row,
            const char *title,
            const char *value,
            gboolean    monospace)
{
  GtkWidget *name = gtk_label_new (title);
  GtkWidget *text = gtk_label_new (value != NULL && *value != '\0' ? value : _("Unknown"));

  gtk_widget_add_css_class (name, "dim-label");
  gtk_label_set_xalign (GTK_LABEL (name), 1.0);
  gtk_widget_set_valign (name, GTK_ALIGN_START);
  gtk_label_set_xalign (GTK_LABEL (text), 0.0);
  gtk_label_set_wrap (GTK_LABEL (text), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (text), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (text), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (text), 48);
  if (monospace)
    gtk_widget_add_css_class (text, "monospace");
  gtk_accessible_update_relation (GTK_ACCESSIBLE (text), GTK_ACCESSIBLE_RELATION_LABELLED_BY, name, NULL, -1);

  gtk_grid_attach (grid, name, 0, row, 1, 1);
  gtk_grid_attach (grid, text, 1, row, 1, 1);
}

GtkWidget *
tincan_server_dialog_trust_certificate (GtkWindow         *parent,
                                        TincanApplication *application,
                                        TincanSession     *session)
{
  TincanConnection *connection;
  GTlsCertificate *certificate;
  const GError *error;
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autofree char *from = NULL;
  g_autofree char *until = NULL;
  g_autofree char *body = NULL;
  g_autoptr (GDateTime) not_before = NULL;
  g_autoptr (GDateTime) not_after = NULL;
  g_autofree char *problems = NULL;
  GtkWidget *dialog;
  GtkWidget *grid;
  TrustData *data;

  g_return_val_if_fail (TINCAN_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (TINCAN_IS_SESSION (session), NULL);

  if (!tincan_server_dialog_can_trust_certificate (session))
    return NULL;

  connection = tincan_session_get_connection (session);
  certificate = tincan_connection_get_peer_certificate (connection);
  error = tincan_connection_get_last_error (connection);
  subject = g_tls_certificate_get_subject_name (certificate);
  issuer = g_tls_certificate_get_issuer_name (certificate);
  not_before = g_tls_certificate_get_not_valid_before (certificate);
  not_after = g_tls_certificate_get_not_valid_after (certificate);
  from = format_date (not_before);
  until = format_date (not_after);
  {
    g_autoptr (GUri) uri = g_uri_parse (tincan_profile_get_url (tincan_session_get_profile (session)),
                                        G_URI_FLAGS_NONE, NULL);

    problems = tincan_certificate_describe_errors (certificate,
                                                   tincan_connection_get_peer_certificate_errors (connection),
                                                   uri != NULL ? g_uri_get_host (uri) : NULL);
  }

  /* Translators: %s names the certificate's problems */
  body = g_strdup_printf (_("%s\n\nAnyone who can intercept this connection could read and change your messages. "
                            "Trust this certificate only if you checked its fingerprint yourself, for example "
                            "on the server, and only on a server you control. It will be accepted for this "
                            "server only, and no other certificate will be."),
                          problems != NULL ? problems : error->message);

  dialog = adw_message_dialog_new (parent, _("Trust This Certificate?"), body);
  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  add_detail (GTK_GRID (grid), 0, _("SHA-256 Fingerprint"),
              tincan_connection_get_peer_certificate_fingerprint (connection), TRUE);
  add_detail (GTK_GRID (grid), 1, _("Subject"), subject, FALSE);
  add_detail (GTK_GRID (grid), 2, _("Issuer"), issuer, FALSE);
  add_detail (GTK_GRID (grid), 3, _("Valid From"), from, FALSE);
  add_detail (GTK_GRID (grid), 4, _("Valid Until"), until, FALSE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), grid);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "trust", _("_Trust and Connect"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "trust",
                                              ADW_RESPONSE_DESTRUCTIVE);
  /* Trusting must be a deliberate choice, never the Enter key. */
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");

  data = g_new0 (TrustData, 1);
  data->application = g_object_ref (application);
  data->session = g_object_ref (session);
  data->fingerprint = g_strdup (tincan_connection_get_peer_certificate_fingerprint (connection));
  if (TINCAN_IS_SERVER_DIALOG (parent))
    g_set_weak_pointer (&data->close_too, parent);
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_trust_response), data,
                         (GClosureNotify) trust_data_free, 0);

  gtk_window_present (GTK_WINDOW (dialog));
  return dialog;
}

static void
on_trust_clicked (TincanServerDialog *self)
{
  if (self->session != NULL)
    tincan_server_dialog_trust_certificate (GTK_WINDOW (self), self->application, self->session);
}

/* Offered when the connection failed on the server's certificate. */
static void
add_trust_row (TincanServerDialog *self)
{
  GtkWidget *group = gtk_widget_get_ancestor (GTK_WIDGET (self->certificate_row), ADW_TYPE_PREFERENCES_GROUP);
  const GError *error = tincan_connection_get_last_error (tincan_session_get_connection (self->session));
  GtkWidget *button;

  if (group == NULL || !tincan_server_dialog_can_trust_certificate (self->session))
    return;

  self->trust_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->trust_row), _("The Server’s Certificate Was Refused"));
  adw_action_row_set_subtitle (self->trust_row, error->message);
  adw_action_row_set_subtitle_lines (self->trust_row, 0);
  adw_action_row_set_icon_name (self->trust_row, "dialog-warning-symbolic");
  button = gtk_button_new_with_mnemonic (_("_Trust This Certificate…"));
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_signal_connect_object (button, "clicked", G_CALLBACK (on_trust_clicked), self, G_CONNECT_SWAPPED);
  adw_action_row_add_suffix (self->trust_row, button);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->trust_row));
}

static void
tincan_server_dialog_dispose (GObject *object)
{
  TincanServerDialog *self = TINCAN_SERVER_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->pending);
  g_clear_object (&self->session);
  g_clear_object (&self->application);

  G_OBJECT_CLASS (tincan_server_dialog_parent_class)->dispose (object);
}

static void
tincan_server_dialog_class_init (TincanServerDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tincan_server_dialog_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-server-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, title_widget);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, save_button);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, url_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, protocol_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, preset_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, namespace_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, send_event_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, receive_event_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, send_method_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, notify_method_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, user_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, rooms_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, url_error_label);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, auth_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, token_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, auth_param_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, token_hint_label);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, subprotocols_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, heartbeat_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, timeout_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, base_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, cap_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, attempts_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, headers_view);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, certificate_row);
  gtk_widget_class_bind_template_child (widget_class, TincanServerDialog, fingerprint_row);
  gtk_widget_class_bind_template_callback (widget_class, on_url_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_auth_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_protocol_changed);

  gtk_widget_class_install_action (widget_class, "dialog.save", NULL, save_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

/* The expander row's own switch has no name of its own in libadwaita
 * 1.2: a screen reader would say only "switch". */
static void
name_enable_switch (GtkWidget  *widget,
                    const char *name)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_SWITCH (child))
        gtk_accessible_update_property (GTK_ACCESSIBLE (child), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
      else
        name_enable_switch (child, name);
    }
}

static void
tincan_server_dialog_init (TincanServerDialog *self)
{
  g_autoptr (GtkStringList) protocols = NULL;
  g_autoptr (GtkStringList) presets = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  name_enable_switch (GTK_WIDGET (self->certificate_row),
                      adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->certificate_row)));

  self->cancellable = g_cancellable_new ();

  presets = gtk_string_list_new (tincan_protocol_json_list_presets ());
  adw_combo_row_set_model (self->preset_row, G_LIST_MODEL (presets));
  protocols = gtk_string_list_new ((const char * const *) tincan_protocol_list_names ());
  adw_combo_row_set_model (self->protocol_row, G_LIST_MODEL (protocols));
  on_protocol_changed (self);

  gtk_editable_set_text (GTK_EDITABLE (self->rooms_row), "lobby");
  gtk_editable_set_text (GTK_EDITABLE (self->auth_param_row), "token");
  on_auth_changed (self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.save", FALSE);
}

GtkWidget *
tincan_server_dialog_new (GtkWindow         *parent,
                          TincanApplication *application,
                          TincanSession     *session)
{
  TincanServerDialog *self;

  g_return_val_if_fail (TINCAN_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (session == NULL || TINCAN_IS_SESSION (session), NULL);

  self = g_object_new (TINCAN_TYPE_SERVER_DIALOG,
                       "transient-for", parent,
                       NULL);
  self->application = g_object_ref (application);

  if (session != NULL)
    {
      self->session = g_object_ref (session);
      adw_window_title_set_title (self->title_widget, _("Edit Server"));
      gtk_window_set_title (GTK_WINDOW (self), _("Edit Server"));
      load_profile (self, tincan_session_get_profile (session));
      add_trust_row (self);
    }
  else
    {
      g_autoptr (TincanProfile) defaults = tincan_profile_new ();

      adw_window_title_set_title (self->title_widget, _("Add Server"));
      gtk_window_set_title (GTK_WINDOW (self), _("Add Server"));
      /* The preferred user name, heartbeat and reconnect defaults. */
      tincan_preferences_apply_defaults (tincan_application_get_settings (application), defaults);
      load_profile (self, defaults);
    }

  validate (self);

  return GTK_WIDGET (self);
}
