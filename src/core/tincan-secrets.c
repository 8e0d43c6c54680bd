/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-secrets"

#include "config.h"

#include <string.h>

#include "tincan-secrets.h"

const SecretSchema *
tincan_secrets_get_schema (void)
{
  static const SecretSchema schema = {
    "io.github.tincan.Tincan.Token", SECRET_SCHEMA_NONE,
    {
      { "profile-id", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  };

  return &schema;
}

static void
store_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
tincan_secrets_store_async (const char          *profile_id,
                            const char          *label,
                            const char          *token,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (profile_id != NULL);
  g_return_if_fail (token != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tincan_secrets_store_async);

  secret_password_store (tincan_secrets_get_schema (), SECRET_COLLECTION_DEFAULT,
                         label != NULL ? label : "Tincan server token",
                         token, cancellable, store_cb, g_steal_pointer (&task),
                         "profile-id", profile_id,
                         NULL);
}

gboolean
tincan_secrets_store_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lookup_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  char *token;

  token = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, token, (GDestroyNotify) tincan_secrets_free);
}

void
tincan_secrets_lookup_async (const char          *profile_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (profile_id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tincan_secrets_lookup_async);

  secret_password_lookup (tincan_secrets_get_schema (), cancellable,
                          lookup_cb, g_steal_pointer (&task),
                          "profile-id", profile_id,
                          NULL);
}

char *
tincan_secrets_lookup_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

char *
tincan_secrets_lookup_sync (const char    *profile_id,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_return_val_if_fail (profile_id != NULL, NULL);

  return secret_password_lookup_sync (tincan_secrets_get_schema (), cancellable, error,
                                      "profile-id", profile_id,
                                      NULL);
}

static void
clear_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  /* FALSE without an error: there was nothing to clear, which is fine. */
  secret_password_clear_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
tincan_secrets_clear_async (const char          *profile_id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (profile_id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tincan_secrets_clear_async);

  secret_password_clear (tincan_secrets_get_schema (), cancellable,
                         clear_cb, g_steal_pointer (&task),
                         "profile-id", profile_id,
                         NULL);
}

gboolean
tincan_secrets_clear_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
tincan_secrets_free (char *token)
{
  if (token != NULL)
    secret_password_free (token);
}

char *
tincan_secrets_token_provider (gpointer user_data)
{
  const char *profile_id = user_data;
  g_autoptr (GError) error = NULL;
  char *token;
  char *copy;

  if (profile_id == NULL)
    return NULL;

  token = tincan_secrets_lookup_sync (profile_id, NULL, &error);
  if (error != NULL)
    {
      g_debug ("No token from the keyring: %s", error->message);
      return NULL;
    }

  /* The connection frees with g_free. */
  copy = g_strdup (token);
  tincan_secrets_free (token);

  return copy;
}
