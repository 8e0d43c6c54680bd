/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-profile"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "tincan-backoff.h"
#include "tincan-core-enums.h"
#include "tincan-profile.h"
#include "tincan-util.h"

struct _TincanProfile
{
  GObject          parent_instance;

  char            *id;
  char            *name;
  char            *url;
  char            *protocol;
  char            *user;
  TincanAuthMethod auth_method;
  char            *auth_param;
  GStrv            headers;
  GStrv            subprotocols;
  GStrv            protocol_options;
  char            *origin;
  gboolean         deflate;
  GStrv            rooms;
  guint            heartbeat_interval;
  guint            heartbeat_timeout;
  guint            reconnect_base_ms;
  guint            reconnect_cap_ms;
  TincanJitter     reconnect_jitter;
  guint            reconnect_max_attempts;
  guint            reconnect_stable_ms;
  GStrv            terminal_codes;
  guint            send_window;
  guint            outbox_limit;
  guint            max_payload;
  char            *accept_certificate;
};

G_DEFINE_FINAL_TYPE (TincanProfile, tincan_profile, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_URL,
  PROP_PROTOCOL,
  PROP_USER,
  PROP_AUTH_METHOD,
  PROP_AUTH_PARAM,
  PROP_HEADERS,
  PROP_SUBPROTOCOLS,
  PROP_PROTOCOL_OPTIONS,
  PROP_ORIGIN,
  PROP_DEFLATE,
  PROP_ROOMS,
  PROP_HEARTBEAT_INTERVAL,
  PROP_HEARTBEAT_TIMEOUT,
  PROP_RECONNECT_BASE_MS,
  PROP_RECONNECT_CAP_MS,
  PROP_RECONNECT_JITTER,
  PROP_RECONNECT_MAX_ATTEMPTS,
  PROP_RECONNECT_STABLE_MS,
  PROP_TERMINAL_CODES,
  PROP_SEND_WINDOW,
  PROP_OUTBOX_LIMIT,
  PROP_MAX_PAYLOAD,
  PROP_ACCEPT_CERTIFICATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char * const default_rooms[] = { "lobby", NULL };

static void
set_string (TincanProfile *self,
            char         **field,
            const char    *value,
            guint          prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;

  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static gboolean
strv_equal0 (const char * const *a,
             const char * const *b)
{
  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);

  return g_strv_equal (a, b);
}

static void
set_strv (TincanProfile      *self,
          GStrv              *field,
          const char * const *value,
          guint               prop)
{
  if (strv_equal0 ((const char * const *) *field, value))
    return;

  g_strfreev (*field);
  *field = value != NULL ? g_strdupv ((char **) value) : g_new0 (char *, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_uint (TincanProfile *self,
          guint         *field,
          guint          value,
          guint          prop)
{
  if (*field == value)
    return;

  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
tincan_profile_constructed (GObject *object)
{
  TincanProfile *self = TINCAN_PROFILE (object);

  G_OBJECT_CLASS (tincan_profile_parent_class)->constructed (object);

  if (self->id == NULL)
    self->id = tincan_uuid_new ();
}

static void
tincan_profile_finalize (GObject *object)
{
  TincanProfile *self = TINCAN_PROFILE (object);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->url, g_free);
  g_clear_pointer (&self->protocol, g_free);
  g_clear_pointer (&self->user, g_free);
  g_clear_pointer (&self->auth_param, g_free);
  g_clear_pointer (&self->headers, g_strfreev);
  g_clear_pointer (&self->subprotocols, g_strfreev);
  g_clear_pointer (&self->protocol_options, g_strfreev);
  g_clear_pointer (&self->origin, g_free);
  g_clear_pointer (&self->rooms, g_strfreev);
  g_clear_pointer (&self->terminal_codes, g_strfreev);
  g_clear_pointer (&self->accept_certificate, g_free);

  G_OBJECT_CLASS (tincan_profile_parent_class)->finalize (object);
}

static void
tincan_profile_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TincanProfile *self = TINCAN_PROFILE (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, self->id); break;
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_URL: g_value_set_string (value, self->url); break;
    case PROP_PROTOCOL: g_value_set_string (value, self->protocol); break;
    case PROP_USER: g_value_set_string (value, self->user); break;
    case PROP_AUTH_METHOD: g_value_set_enum (value, self->auth_method); break;
    case PROP_AUTH_PARAM: g_value_set_string (value, self->auth_param); break;
    case PROP_HEADERS: g_value_set_boxed (value, self->headers); break;
    case PROP_SUBPROTOCOLS: g_value_set_boxed (value, self->subprotocols); break;
    case PROP_PROTOCOL_OPTIONS: g_value_set_boxed (value, self->protocol_options); break;
    case PROP_ORIGIN: g_value_set_string (value, self->origin); break;
    case PROP_DEFLATE: g_value_set_boolean (value, self->deflate); break;
    case PROP_ROOMS: g_value_set_boxed (value, self->rooms); break;
    case PROP_HEARTBEAT_INTERVAL: g_value_set_uint (value, self->heartbeat_interval); break;
    case PROP_HEARTBEAT_TIMEOUT: g_value_set_uint (value, self->heartbeat_timeout); break;
    case PROP_RECONNECT_BASE_MS: g_value_set_uint (value, self->reconnect_base_ms); break;
    case PROP_RECONNECT_CAP_MS: g_value_set_uint (value, self->reconnect_cap_ms); break;
    case PROP_RECONNECT_JITTER: g_value_set_enum (value, self->reconnect_jitter); break;
    case PROP_RECONNECT_MAX_ATTEMPTS: g_value_set_uint (value, self->reconnect_max_attempts); break;
    case PROP_RECONNECT_STABLE_MS: g_value_set_uint (value, self->reconnect_stable_ms); break;
    case PROP_TERMINAL_CODES: g_value_set_boxed (value, self->terminal_codes); break;
    case PROP_SEND_WINDOW: g_value_set_uint (value, self->send_window); break;
    case PROP_OUTBOX_LIMIT: g_value_set_uint (value, self->outbox_limit); break;
    case PROP_MAX_PAYLOAD: g_value_set_uint (value, self->max_payload); break;
    case PROP_ACCEPT_CERTIFICATE: g_value_set_string (value, self->accept_certificate); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_profile_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TincanProfile *self = TINCAN_PROFILE (object);

  switch (prop_id)
    {
    case PROP_ID:
      /* Construct-only: a stable identity. */
      g_free (self->id);
      self->id = g_value_dup_string (value);
      break;
    case PROP_NAME:
      set_string (self, &self->name, g_value_get_string (value), prop_id);
      break;
    case PROP_URL:
      set_string (self, &self->url, g_value_get_string (value), prop_id);
      break;
    case PROP_PROTOCOL:
      tincan_profile_set_protocol (self, g_value_get_string (value));
      break;
    case PROP_USER:
      set_string (self, &self->user, g_value_get_string (value), prop_id);
      break;
    case PROP_AUTH_METHOD:
      tincan_profile_set_auth_method (self, g_value_get_enum (value));
      break;
    case PROP_AUTH_PARAM:
      set_string (self, &self->auth_param, g_value_get_string (value), prop_id);
      break;
    case PROP_HEADERS:
      set_strv (self, &self->headers, g_value_get_boxed (value), prop_id);
      break;
    case PROP_SUBPROTOCOLS:
      set_strv (self, &self->subprotocols, g_value_get_boxed (value), prop_id);
      break;
    case PROP_PROTOCOL_OPTIONS:
      set_strv (self, &self->protocol_options, g_value_get_boxed (value), prop_id);
      break;
    case PROP_ORIGIN:
      set_string (self, &self->origin, g_value_get_string (value), prop_id);
      break;
    case PROP_DEFLATE:
      if (self->deflate != g_value_get_boolean (value))
        {
          self->deflate = g_value_get_boolean (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_ROOMS:
      tincan_profile_set_rooms (self, g_value_get_boxed (value));
      break;
    case PROP_HEARTBEAT_INTERVAL:
      set_uint (self, &self->heartbeat_interval, g_value_get_uint (value), prop_id);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      set_uint (self, &self->heartbeat_timeout, g_value_get_uint (value), prop_id);
      break;
    case PROP_RECONNECT_BASE_MS:
      set_uint (self, &self->reconnect_base_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_RECONNECT_CAP_MS:
      set_uint (self, &self->reconnect_cap_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_RECONNECT_JITTER:
      if (self->reconnect_jitter != (TincanJitter) g_value_get_enum (value))
        {
          self->reconnect_jitter = g_value_get_enum (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_RECONNECT_MAX_ATTEMPTS:
      set_uint (self, &self->reconnect_max_attempts, g_value_get_uint (value), prop_id);
      break;
    case PROP_RECONNECT_STABLE_MS:
      set_uint (self, &self->reconnect_stable_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_TERMINAL_CODES:
      set_strv (self, &self->terminal_codes, g_value_get_boxed (value), prop_id);
      break;
    case PROP_SEND_WINDOW:
      set_uint (self, &self->send_window, g_value_get_uint (value), prop_id);
      break;
    case PROP_OUTBOX_LIMIT:
      set_uint (self, &self->outbox_limit, g_value_get_uint (value), prop_id);
      break;
    case PROP_MAX_PAYLOAD:
      set_uint (self, &self->max_payload, g_value_get_uint (value), prop_id);
      break;
    case PROP_ACCEPT_CERTIFICATE:
      set_string (self, &self->accept_certificate, g_value_get_string (value), prop_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_profile_class_init (TincanProfileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = tincan_profile_constructed;
  object_class->finalize = tincan_profile_finalize;
  object_class->get_property = tincan_profile_get_property;
  object_class->set_property = tincan_profile_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, rw);
  properties[PROP_URL] = g_param_spec_string ("url", NULL, NULL, NULL, rw);
  properties[PROP_PROTOCOL] = g_param_spec_string ("protocol", NULL, NULL, "tincan", rw);
  properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, rw);
  properties[PROP_AUTH_METHOD] =
    g_param_spec_enum ("auth-method", NULL, NULL,
                       TINCAN_TYPE_AUTH_METHOD, TINCAN_AUTH_NONE, rw);
  properties[PROP_AUTH_PARAM] = g_param_spec_string ("auth-param", NULL, NULL, "token", rw);
  properties[PROP_HEADERS] = g_param_spec_boxed ("headers", NULL, NULL, G_TYPE_STRV, rw);
  properties[PROP_SUBPROTOCOLS] =
    g_param_spec_boxed ("subprotocols", NULL, NULL, G_TYPE_STRV, rw);
  properties[PROP_PROTOCOL_OPTIONS] =
    g_param_spec_boxed ("protocol-options", NULL, NULL, G_TYPE_STRV, rw);
  properties[PROP_ORIGIN] = g_param_spec_string ("origin", NULL, NULL, NULL, rw);
  properties[PROP_DEFLATE] = g_param_spec_boolean ("deflate", NULL, NULL, FALSE, rw);
  properties[PROP_ROOMS] = g_param_spec_boxed ("rooms", NULL, NULL, G_TYPE_STRV, rw);
  properties[PROP_HEARTBEAT_INTERVAL] =
    g_param_spec_uint ("heartbeat-interval", NULL, NULL, 0, 24 * 3600, 20, rw);
  properties[PROP_HEARTBEAT_TIMEOUT] =
    g_param_spec_uint ("heartbeat-timeout", NULL, NULL, 1, 24 * 3600, 10, rw);
  properties[PROP_RECONNECT_BASE_MS] =
    g_param_spec_uint ("reconnect-base-ms", NULL, NULL, 1, G_MAXUINT, 500, rw);
  properties[PROP_RECONNECT_CAP_MS] =
    g_param_spec_uint ("reconnect-cap-ms", NULL, NULL, 1, G_MAXUINT, 30000, rw);
  properties[PROP_RECONNECT_JITTER] =
    g_param_spec_enum ("reconnect-jitter", NULL, NULL,
                       TINCAN_TYPE_JITTER, TINCAN_JITTER_FULL, rw);
  properties[PROP_RECONNECT_MAX_ATTEMPTS] =
    g_param_spec_uint ("reconnect-max-attempts", NULL, NULL, 0, G_MAXUINT, 0, rw);
  properties[PROP_RECONNECT_STABLE_MS] =
    g_param_spec_uint ("reconnect-stable-ms", NULL, NULL, 0, G_MAXUINT, 5000, rw);
  properties[PROP_TERMINAL_CODES] =
    g_param_spec_boxed ("terminal-codes", NULL, NULL, G_TYPE_STRV, rw);
  properties[PROP_SEND_WINDOW] =
    g_param_spec_uint ("send-window", NULL, NULL, 1, G_MAXUINT, 64, rw);
  properties[PROP_OUTBOX_LIMIT] =
    g_param_spec_uint ("outbox-limit", NULL, NULL, 1, G_MAXUINT, 10000, rw);
  properties[PROP_MAX_PAYLOAD] =
    g_param_spec_uint ("max-payload", NULL, NULL, 1024, G_MAXUINT, 1024 * 1024, rw);
  properties[PROP_ACCEPT_CERTIFICATE] =
    g_param_spec_string ("accept-certificate", NULL, NULL, NULL, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_profile_init (TincanProfile *self)
{
  self->protocol = g_strdup ("tincan");
  self->auth_method = TINCAN_AUTH_NONE;
  self->auth_param = g_strdup ("token");
  self->headers = g_new0 (char *, 1);
  self->subprotocols = g_new0 (char *, 1);
  self->protocol_options = g_new0 (char *, 1);
  self->rooms = g_strdupv ((char **) default_rooms);
  self->heartbeat_interval = 20;
  self->heartbeat_timeout = 10;
  self->reconnect_base_ms = 500;
  self->reconnect_cap_ms = 30000;
  self->reconnect_jitter = TINCAN_JITTER_FULL;
  self->reconnect_max_attempts = 0;
  self->reconnect_stable_ms = 5000;
  self->terminal_codes = g_new0 (char *, 1);
  self->send_window = 64;
  self->outbox_limit = 10000;
  self->max_payload = 1024 * 1024;
}

TincanProfile *
tincan_profile_new (void)
{
  return g_object_new (TINCAN_TYPE_PROFILE, NULL);
}

TincanProfile *
tincan_profile_copy (TincanProfile *self)
{
  g_autofree GParamSpec **pspecs = NULL;
  TincanProfile *copy;
  guint n_pspecs = 0;

  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  copy = g_object_new (TINCAN_TYPE_PROFILE, "id", self->id, NULL);
  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_pspecs);

  for (guint i = 0; i < n_pspecs; i++)
    {
      g_auto (GValue) value = G_VALUE_INIT;

      if ((pspecs[i]->flags & G_PARAM_CONSTRUCT_ONLY) != 0)
        continue;

      g_value_init (&value, pspecs[i]->value_type);
      g_object_get_property (G_OBJECT (self), pspecs[i]->name, &value);
      g_object_set_property (G_OBJECT (copy), pspecs[i]->name, &value);
    }

  return copy;
}

const char *
tincan_profile_get_id (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  return self->id;
}

const char *
tincan_profile_get_name (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  return self->name;
}

void
tincan_profile_set_name (TincanProfile *self,
                         const char    *name)
{
  g_return_if_fail (TINCAN_IS_PROFILE (self));

  set_string (self, &self->name, name, PROP_NAME);
}

const char *
tincan_profile_get_url (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  return self->url;
}

void
tincan_profile_set_url (TincanProfile *self,
                        const char    *url)
{
  g_return_if_fail (TINCAN_IS_PROFILE (self));

  set_string (self, &self->url, url, PROP_URL);
}

const char *
tincan_profile_get_protocol (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  return self->protocol;
}

void
tincan_profile_set_protocol (TincanProfile *self,
                             const char    *protocol)
{
  g_return_if_fail (TINCAN_IS_PROFILE (self));

  if (protocol == NULL || *protocol == '\0')
    protocol = "tincan";

  set_string (self, &self->protocol, protocol, PROP_PROTOCOL);
}

const char *
tincan_profile_get_user (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  return self->user;
}

void
tincan_profile_set_user (TincanProfile *self,
                         const char    *user)
{
  g_return_if_fail (TINCAN_IS_PROFILE (self));

  set_string (self, &self->user, user, PROP_USER);
}

TincanAuthMethod
tincan_profile_get_auth_method (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), TINCAN_AUTH_NONE);

  return self->auth_method;
}

void
tincan_profile_set_auth_method (TincanProfile   *self,
                                TincanAuthMethod method)
{
  g_return_if_fail (TINCAN_IS_PROFILE (self));

  if (self->auth_method == method)
    return;

  self->auth_method = method;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_METHOD]);
}

const char * const *
tincan_profile_get_rooms (TincanProfile *self)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (self), NULL);

  return (const char * const *) self->rooms;
}

void
tincan_profile_set_rooms (TincanProfile      *self,
                          const char * const *rooms)
{
  g_return_if_fail (TINCAN_IS_PROFILE (self));

  set_strv (self, &self->rooms, rooms, PROP_ROOMS);
}

gboolean
tincan_profile_validate_url (const char *url,
                             GError    **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;
  const char *host;

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Enter the address of a WebSocket server."));
      return FALSE;
    }

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a valid address."), url);
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The address must start with ws:// or wss://, not %s://."), scheme);
      return FALSE;
    }

  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The address has no server name."));
      return FALSE;
    }

  /* GUri is lenient about host names; a server name has no spaces. */
  for (const char *p = host; *p != '\0'; p++)
    if (g_ascii_iscntrl (*p) || strchr (" <>\"{}|\\^`", *p) != NULL)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("“%s” is not a valid server name."), host);
        return FALSE;
      }

  return TRUE;
}

/* The keys of a group are the property names, so new properties need
 * no extra code here. */
void
tincan_profile_save_to_keyfile (TincanProfile *self,
                                GKeyFile      *keyfile)
{
  g_autofree GParamSpec **pspecs = NULL;
  guint n_pspecs = 0;

  g_return_if_fail (TINCAN_IS_PROFILE (self));
  g_return_if_fail (keyfile != NULL);

  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_pspecs);

  for (guint i = 0; i < n_pspecs; i++)
    {
      GParamSpec *pspec = pspecs[i];
      const char *key = pspec->name;
      g_auto (GValue) value = G_VALUE_INIT;

      if (g_str_equal (key, "id"))
        continue;

      g_value_init (&value, pspec->value_type);
      g_object_get_property (G_OBJECT (self), key, &value);

      if (G_VALUE_HOLDS_STRING (&value))
        {
          if (g_value_get_string (&value) != NULL)
            g_key_file_set_string (keyfile, self->id, key, g_value_get_string (&value));
        }
      else if (G_VALUE_HOLDS (&value, G_TYPE_STRV))
        {
          const char * const *strv = g_value_get_boxed (&value);

          g_key_file_set_string_list (keyfile, self->id, key, strv,
                                      strv != NULL ? g_strv_length ((char **) strv) : 0);
        }
      else if (G_VALUE_HOLDS_BOOLEAN (&value))
        g_key_file_set_boolean (keyfile, self->id, key, g_value_get_boolean (&value));
      else if (G_VALUE_HOLDS_UINT (&value))
        g_key_file_set_uint64 (keyfile, self->id, key, g_value_get_uint (&value));
      else if (G_VALUE_HOLDS_ENUM (&value))
        {
          GEnumClass *enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
          GEnumValue *ev = g_enum_get_value (enum_class, g_value_get_enum (&value));

          if (ev != NULL)
            g_key_file_set_string (keyfile, self->id, key, ev->value_nick);
        }
      else
        g_assert_not_reached ();
    }
}

TincanProfile *
tincan_profile_new_from_keyfile (GKeyFile   *keyfile,
                                 const char *group,
                                 GError    **error)
{
  g_autoptr (TincanProfile) self = NULL;
  g_autofree GParamSpec **pspecs = NULL;
  guint n_pspecs = 0;

  g_return_val_if_fail (keyfile != NULL, NULL);
  g_return_val_if_fail (group != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_key_file_has_group (keyfile, group))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                   _("The server “%s” is not in the settings file."), group);
      return NULL;
    }

  self = g_object_new (TINCAN_TYPE_PROFILE, "id", group, NULL);
  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_pspecs);

  for (guint i = 0; i < n_pspecs; i++)
    {
      GParamSpec *pspec = pspecs[i];
      const char *key = pspec->name;
      g_autoptr (GError) local_error = NULL;
      g_auto (GValue) value = G_VALUE_INIT;

      if (g_str_equal (key, "id") || !g_key_file_has_key (keyfile, group, key, NULL))
        continue;

      g_value_init (&value, pspec->value_type);

      if (G_VALUE_HOLDS_STRING (&value))
        {
          g_autofree char *str = g_key_file_get_string (keyfile, group, key, &local_error);
          g_value_take_string (&value, g_steal_pointer (&str));
        }
      else if (G_VALUE_HOLDS (&value, G_TYPE_STRV))
        {
          g_auto (GStrv) strv = g_key_file_get_string_list (keyfile, group, key, NULL,
                                                            &local_error);
          if (strv == NULL && local_error == NULL)
            strv = g_new0 (char *, 1);
          g_value_take_boxed (&value, g_steal_pointer (&strv));
        }
      else if (G_VALUE_HOLDS_BOOLEAN (&value))
        g_value_set_boolean (&value,
                             g_key_file_get_boolean (keyfile, group, key, &local_error));
      else if (G_VALUE_HOLDS_UINT (&value))
        {
          guint64 v = g_key_file_get_uint64 (keyfile, group, key, &local_error);
          GParamSpecUInt *uspec = G_PARAM_SPEC_UINT (pspec);

          if (local_error == NULL && (v < uspec->minimum || v > uspec->maximum))
            g_set_error (&local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                         _("The value %llu is out of range."), (unsigned long long) v);
          g_value_set_uint (&value, (guint) v);
        }
      else if (G_VALUE_HOLDS_ENUM (&value))
        {
          g_autofree char *nick = g_key_file_get_string (keyfile, group, key, &local_error);
          GEnumValue *ev = NULL;

          if (nick != NULL)
            ev = g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (pspec)->enum_class, nick);
          if (ev == NULL && local_error == NULL)
            g_set_error (&local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                         _("“%s” is not a known value."), nick);
          if (ev != NULL)
            g_value_set_enum (&value, ev->value);
        }
      else
        g_assert_not_reached ();

      if (local_error != NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      _("Server “%s”, setting “%s”: "), group, key);
          return NULL;
        }

      g_object_set_property (G_OBJECT (self), key, &value);
    }

  return g_steal_pointer (&self);
}

static char *
default_profiles_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "tincan", "servers.ini", NULL);
}

GPtrArray *
tincan_profile_load_all (const char *path,
                         GError    **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GPtrArray) profiles = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *default_path = NULL;
  g_auto (GStrv) groups = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (path == NULL)
    path = default_path = default_profiles_path ();

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_KEEP_COMMENTS, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&profiles);

      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  groups = g_key_file_get_groups (keyfile, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      TincanProfile *profile = tincan_profile_new_from_keyfile (keyfile, groups[i], error);

      if (profile == NULL)
        return NULL;

      g_ptr_array_add (profiles, profile);
    }

  return g_steal_pointer (&profiles);
}

gboolean
tincan_profile_save_all (GPtrArray  *profiles,
                         const char *path,
                         GError    **error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autofree char *default_path = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (profiles != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (path == NULL)
    path = default_path = default_profiles_path ();

  for (guint i = 0; i < profiles->len; i++)
    tincan_profile_save_to_keyfile (g_ptr_array_index (profiles, i), keyfile);

  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   _("Could not create the folder “%s”: %s"), dir, g_strerror (errsv));
      return FALSE;
    }

  return g_key_file_save_to_file (keyfile, path, error);
}
