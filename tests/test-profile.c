/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-profile"

#include "config.h"

#include <glib/gstdio.h>

#include "tincan-core.h"

static void
test_defaults (void)
{
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanProfile) other = tincan_profile_new ();
  g_auto (GStrv) headers = NULL;
  guint interval, timeout, base, cap, stable, window, limit, payload, max_attempts;
  TincanJitter jitter;
  gboolean deflate;

  g_assert_nonnull (tincan_profile_get_id (profile));
  g_assert_cmpuint (strlen (tincan_profile_get_id (profile)), ==, 36);
  g_assert_cmpstr (tincan_profile_get_id (profile), !=, tincan_profile_get_id (other));
  g_assert_cmpstr (tincan_profile_get_protocol (profile), ==, "tincan");
  g_assert_cmpint (tincan_profile_get_auth_method (profile), ==, TINCAN_AUTH_NONE);
  g_assert_cmpuint (g_strv_length ((char **) tincan_profile_get_rooms (profile)), ==, 1);
  g_assert_cmpstr (tincan_profile_get_rooms (profile)[0], ==, "lobby");

  g_object_get (profile,
                "heartbeat-interval", &interval,
                "heartbeat-timeout", &timeout,
                "reconnect-base-ms", &base,
                "reconnect-cap-ms", &cap,
                "reconnect-jitter", &jitter,
                "reconnect-max-attempts", &max_attempts,
                "reconnect-stable-ms", &stable,
                "send-window", &window,
                "outbox-limit", &limit,
                "max-payload", &payload,
                "deflate", &deflate,
                "headers", &headers,
                NULL);
  g_assert_cmpuint (interval, ==, 20);
  g_assert_cmpuint (timeout, ==, 10);
  g_assert_cmpuint (base, ==, 500);
  g_assert_cmpuint (cap, ==, 30000);
  g_assert_cmpint (jitter, ==, TINCAN_JITTER_FULL);
  g_assert_cmpuint (max_attempts, ==, 0);
  g_assert_cmpuint (stable, ==, 5000);
  g_assert_cmpuint (window, ==, 64);
  g_assert_cmpuint (limit, ==, 10000);
  g_assert_cmpuint (payload, ==, 1024 * 1024);
  g_assert_false (deflate);
  g_assert_nonnull (headers);
  g_assert_cmpuint (g_strv_length (headers), ==, 0);
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           guint      *count)
{
  (*count)++;
}

static void
test_notify (void)
{
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  const char * const rooms[] = { "a", "b", NULL };
  guint count = 0;

  g_signal_connect (profile, "notify", G_CALLBACK (on_notify), &count);
  tincan_profile_set_url (profile, "ws://example.org/ws");
  tincan_profile_set_url (profile, "ws://example.org/ws");
  g_assert_cmpuint (count, ==, 1);
  tincan_profile_set_rooms (profile, rooms);
  tincan_profile_set_rooms (profile, rooms);
  g_assert_cmpuint (count, ==, 2);
  g_object_set (profile, "send-window", 8, NULL);
  g_object_set (profile, "send-window", 8, NULL);
  g_assert_cmpuint (count, ==, 3);
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_BEARER);
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_BEARER);
  g_assert_cmpuint (count, ==, 4);
}

static void
test_validate_url (void)
{
  const char *good[] = {
    "ws://localhost:8080/ws", "wss://chat.example.org/socket?x=1", "WS://127.0.0.1/",
    "ws://[::1]:9000/ws",
  };
  const char *bad[] = {
    "", "http://example.org/", "example.org", "ws://", "ws:///path", "wss://exa mple.org/",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (tincan_profile_validate_url (good[i], &error));
      g_assert_no_error (error);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (tincan_profile_validate_url (bad[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, !=, "");
    }

  g_assert_false (tincan_profile_validate_url (NULL, NULL));
}

static void
test_keyfile (void)
{
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanProfile) loaded = NULL;
  g_autoptr (TincanProfile) copy = NULL;
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  const char * const headers[] = { "X-Test: 1", "X-Other: two words", NULL };
  const char * const codes[] = { "4100", NULL };
  const char * const rooms[] = { "lobby", "dev", NULL };
  g_auto (GStrv) loaded_headers = NULL;
  g_auto (GStrv) loaded_codes = NULL;
  guint window = 0;
  TincanJitter jitter;
  gboolean deflate;

  tincan_profile_set_name (profile, "Local");
  tincan_profile_set_url (profile, "ws://127.0.0.1:8080/ws");
  tincan_profile_set_user (profile, "alice");
  tincan_profile_set_auth_method (profile, TINCAN_AUTH_QUERY);
  tincan_profile_set_rooms (profile, rooms);
  g_object_set (profile,
                "headers", headers,
                "terminal-codes", codes,
                "send-window", 7,
                "reconnect-jitter", TINCAN_JITTER_EQUAL,
                "deflate", TRUE,
                NULL);

  tincan_profile_save_to_keyfile (profile, keyfile);
  data = g_key_file_to_data (keyfile, NULL, NULL);
  /* No secret-looking key in there. */
  g_assert_null (strstr (data, "token="));

  loaded = tincan_profile_new_from_keyfile (keyfile, tincan_profile_get_id (profile), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tincan_profile_get_id (loaded), ==, tincan_profile_get_id (profile));
  g_assert_cmpstr (tincan_profile_get_name (loaded), ==, "Local");
  g_assert_cmpstr (tincan_profile_get_url (loaded), ==, "ws://127.0.0.1:8080/ws");
  g_assert_cmpstr (tincan_profile_get_user (loaded), ==, "alice");
  g_assert_cmpint (tincan_profile_get_auth_method (loaded), ==, TINCAN_AUTH_QUERY);
  g_assert_true (g_strv_equal (tincan_profile_get_rooms (loaded), rooms));
  g_object_get (loaded,
                "headers", &loaded_headers,
                "terminal-codes", &loaded_codes,
                "send-window", &window,
                "reconnect-jitter", &jitter,
                "deflate", &deflate,
                NULL);
  g_assert_true (g_strv_equal ((const char * const *) loaded_headers, headers));
  g_assert_true (g_strv_equal ((const char * const *) loaded_codes, codes));
  g_assert_cmpuint (window, ==, 7);
  g_assert_cmpint (jitter, ==, TINCAN_JITTER_EQUAL);
  g_assert_true (deflate);

  copy = tincan_profile_copy (loaded);
  g_assert_cmpstr (tincan_profile_get_id (copy), ==, tincan_profile_get_id (profile));
  g_assert_cmpstr (tincan_profile_get_url (copy), ==, "ws://127.0.0.1:8080/ws");

  /* Bad values are errors, not silent defaults. */
  g_key_file_set_string (keyfile, tincan_profile_get_id (profile), "reconnect-jitter", "wobbly");
  g_clear_object (&loaded);
  loaded = tincan_profile_new_from_keyfile (keyfile, tincan_profile_get_id (profile), &error);
  g_assert_null (loaded);
  g_assert_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
  g_clear_error (&error);

  loaded = tincan_profile_new_from_keyfile (keyfile, "no-such-group", &error);
  g_assert_null (loaded);
  g_assert_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND);
}

/* Dialect options survive the keyfile whatever their values hold: list
 * separators, '=', quotes, newlines, templates. */
static void
test_protocol_options (void)
{
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (TincanProfile) loaded = NULL;
  g_autoptr (TincanProfile) copy = NULL;
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) defaults = NULL;
  g_auto (GStrv) loaded_options = NULL;
  g_auto (GStrv) copied_options = NULL;
  const char * const options[] = {
    "preset=pubsub",
    "send-template={\"type\":\"publish\",\"channel\":\"{{room}}\",\"x\":\"a;b,c\"}",
    "text-pointer=/data/te~1xt",
    "namespace=/chat; with \\ backslash\nand newline",
    NULL
  };
  guint notified = 0;

  g_object_get (profile, "protocol-options", &defaults, NULL);
  g_assert_nonnull (defaults);
  g_assert_null (defaults[0]);

  g_signal_connect (profile, "notify::protocol-options", G_CALLBACK (on_notify), &notified);
  g_object_set (profile, "protocol-options", options, NULL);
  g_object_set (profile, "protocol-options", options, NULL);
  g_assert_cmpuint (notified, ==, 1);

  tincan_profile_save_to_keyfile (profile, keyfile);
  loaded = tincan_profile_new_from_keyfile (keyfile, tincan_profile_get_id (profile), &error);
  g_assert_no_error (error);
  g_object_get (loaded, "protocol-options", &loaded_options, NULL);
  g_assert_true (g_strv_equal ((const char * const *) loaded_options, options));

  copy = tincan_profile_copy (loaded);
  g_object_get (copy, "protocol-options", &copied_options, NULL);
  g_assert_true (g_strv_equal ((const char * const *) copied_options, options));
}

static void
test_load_save_all (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tincan-test-profile-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "sub", "servers.ini", NULL);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autoptr (GPtrArray) profiles = NULL;
  g_autoptr (GPtrArray) loaded = NULL;

  g_assert_no_error (error);

  profiles = tincan_profile_load_all (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (profiles->len, ==, 0);

  for (guint i = 0; i < 3; i++)
    {
      TincanProfile *profile = tincan_profile_new ();
      g_autofree char *url = g_strdup_printf ("ws://host%u/ws", i);

      tincan_profile_set_url (profile, url);
      g_ptr_array_add (profiles, profile);
    }

  g_assert_true (tincan_profile_save_all (profiles, path, &error));
  g_assert_no_error (error);

  loaded = tincan_profile_load_all (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      TincanProfile *a = g_ptr_array_index (profiles, i);
      TincanProfile *b = g_ptr_array_index (loaded, i);

      g_assert_cmpstr (tincan_profile_get_id (a), ==, tincan_profile_get_id (b));
      g_assert_cmpstr (tincan_profile_get_url (a), ==, tincan_profile_get_url (b));
    }

  g_unlink (path);
  g_rmdir (sub);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/profile/defaults", test_defaults);
  g_test_add_func ("/profile/notify", test_notify);
  g_test_add_func ("/profile/validate-url", test_validate_url);
  g_test_add_func ("/profile/keyfile", test_keyfile);
  g_test_add_func ("/profile/protocol-options", test_protocol_options);
  g_test_add_func ("/profile/load-save-all", test_load_save_all);

  return g_test_run ();
}
