/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-tls"

#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tincan-connection-private.h"
#include "tincan-core.h"
#include "tincan-server.h"

/* wss:// against an in-process tincan-server with certificates made by
 * openssl for this run: a self-signed one, one signed by a test CA that
 * has expired, one for another host, a good one; and pinning. */

#define TIMEOUT_MS 10000

typedef gboolean (*ConditionFunc) (gpointer data);

static char *certs_dir;

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
wait_for (ConditionFunc condition,
          gpointer      data,
          guint         timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint tick = g_timeout_add (10, tick_cb, NULL);
  gboolean ok = TRUE;

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        {
          ok = FALSE;
          break;
        }
      g_main_context_iteration (NULL, TRUE);
    }

  g_source_remove (tick);
  return ok;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* Certificates */

static gboolean
run_openssl (const char * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) "openssl");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (certs_dir, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, &error) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      g_printerr ("# openssl %s failed: %s\n", args[0], error != NULL ? error->message : err);
      return FALSE;
    }
  return TRUE;
}

#define EC_KEY "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"
#define LOCAL_SAN "subjectAltName=IP:127.0.0.1,DNS:localhost"

static gboolean
make_certificates (void)
{
  const char *ca_cnf =
    "[ca]\ndefault_ca=d\n"
    "[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\n"
    "policy=p\ncopy_extensions=copy\nunique_subject=no\n"
    "[p]\ncommonName=supplied\n";
  g_autofree char *cnf = g_build_filename (certs_dir, "ca.cnf", NULL);
  g_autofree char *index = g_build_filename (certs_dir, "index.txt", NULL);
  g_autofree char *serial = g_build_filename (certs_dir, "serial", NULL);

  if (!g_file_set_contents (cnf, ca_cnf, -1, NULL) ||
      !g_file_set_contents (index, "", 0, NULL) ||
      !g_file_set_contents (serial, "01\n", -1, NULL))
    return FALSE;

  return
    /* A self-signed certificate, valid, for this host. */
    run_openssl ((const char *[]) { "req", "-x509", EC_KEY, "-keyout", "self.key", "-out", "self.pem",
                                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", LOCAL_SAN, NULL }) &&
    /* Another one, only for its fingerprint (a wrong pin). */
    run_openssl ((const char *[]) { "req", "-x509", EC_KEY, "-keyout", "other-self.key", "-out", "other-self.pem",
                                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", LOCAL_SAN, NULL }) &&
    /* The test CA, and three leaves it signs. */
    run_openssl ((const char *[]) { "req", "-x509", EC_KEY, "-keyout", "ca.key", "-out", "ca.pem",
                                    "-days", "2", "-subj", "/CN=Tincan Test CA",
                                    "-addext", "basicConstraints=critical,CA:TRUE",
                                    "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL }) &&
    run_openssl ((const char *[]) { "req", EC_KEY, "-keyout", "expired.key", "-out", "expired.csr",
                                    "-subj", "/CN=127.0.0.1", "-addext", LOCAL_SAN, NULL }) &&
    run_openssl ((const char *[]) { "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                                    "-in", "expired.csr", "-out", "expired.pem", "-notext",
                                    "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", NULL }) &&
    run_openssl ((const char *[]) { "req", EC_KEY, "-keyout", "elsewhere.key", "-out", "elsewhere.csr",
                                    "-subj", "/CN=chat.example.org",
                                    "-addext", "subjectAltName=DNS:chat.example.org", NULL }) &&
    run_openssl ((const char *[]) { "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                                    "-in", "elsewhere.csr", "-out", "elsewhere.pem", "-notext",
                                    "-days", "2", NULL }) &&
    run_openssl ((const char *[]) { "req", EC_KEY, "-keyout", "good.key", "-out", "good.csr",
                                    "-subj", "/CN=127.0.0.1", "-addext", LOCAL_SAN, NULL }) &&
    run_openssl ((const char *[]) { "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                                    "-in", "good.csr", "-out", "good.pem", "-notext",
                                    "-days", "2", NULL });
}

static GTlsCertificate *
load_certificate (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cert = g_strdup_printf ("%s/%s.pem", certs_dir, name);
  g_autofree char *key = g_strdup_printf ("%s/%s.key", certs_dir, name);
  GTlsCertificate *certificate = g_tls_certificate_new_from_files (cert, key, &error);

  g_assert_no_error (error);
  return certificate;
}

static char *
fingerprint_of (const char *name)
{
  g_autoptr (GTlsCertificate) certificate = load_certificate (name);

  return tincan_certificate_fingerprint (certificate);
}

static GTlsDatabase *
test_ca_database (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (certs_dir, "ca.pem", NULL);
  GTlsDatabase *database = g_tls_file_database_new (path, &error);

  g_assert_no_error (error);
  return database;
}

/* Fixture: a wss:// server with one of the certificates */

typedef struct
{
  char             *tmpdir;
  TincanServer     *server;
  TincanConnection *connection;
  TincanStore      *store;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  fixture->tmpdir = g_dir_make_tmp ("tincan-test-tls-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  if (fixture->connection != NULL)
    tincan_connection_disconnect (fixture->connection);
  if (fixture->server != NULL)
    tincan_server_stop (fixture->server);
  wait_for (never, NULL, 50);

  if (fixture->connection != NULL)
    g_assert_finalize_object (g_steal_pointer (&fixture->connection));
  g_clear_object (&fixture->store);
  g_clear_object (&fixture->server);
  rm_rf (fixture->tmpdir);
  g_clear_pointer (&fixture->tmpdir, g_free);
}

static void
start_server (Fixture    *fixture,
              const char *certificate_name)
{
  g_autoptr (GTlsCertificate) certificate = load_certificate (certificate_name);
  g_autoptr (GError) error = NULL;

  fixture->server = g_object_new (TINCAN_TYPE_SERVER, "tls-certificate", certificate, NULL);
  tincan_server_listen (fixture->server, "127.0.0.1", 0, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (tincan_server_get_uri (fixture->server), "wss://127.0.0.1:"));
}

static void
connect_client (Fixture      *fixture,
                const char   *pin,
                GTlsDatabase *database)
{
  g_autoptr (TincanProfile) profile = tincan_profile_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fixture->tmpdir, "client.db", NULL);

  tincan_profile_set_url (profile, tincan_server_get_uri (fixture->server));
  tincan_profile_set_user (profile, "alice");
  g_object_set (profile,
                "accept-certificate", pin,
                "reconnect-base-ms", 20,
                "reconnect-cap-ms", 100,
                NULL);

  fixture->store = tincan_store_new (path, &error);
  g_assert_no_error (error);
  fixture->connection = tincan_connection_new (profile, fixture->store);
  if (database != NULL)
    _tincan_connection_set_tls_database (fixture->connection, database);
  tincan_connection_connect (fixture->connection);
}

static gboolean
settled (gpointer data)
{
  Fixture *fixture = data;
  TincanConnectionState state = tincan_connection_get_state (fixture->connection);

  return state == TINCAN_CONNECTION_STATE_CONNECTED || state == TINCAN_CONNECTION_STATE_FAILED;
}

/* The attempt must end failed, with a certificate error that contains
 * every string of @expected, and stay failed (no retry loop). */
static void
assert_refused (Fixture            *fixture,
                const char * const *expected,
                const char * const *unexpected)
{
  const GError *error;
  guint attempt;

  if (!wait_for (settled, fixture, TIMEOUT_MS))
    g_error ("timed out waiting for the connection to settle (state %s)",
             tincan_connection_state_to_string (tincan_connection_get_state (fixture->connection)));

  g_assert_cmpstr (tincan_connection_state_to_string (tincan_connection_get_state (fixture->connection)),
                   ==, "failed");
  error = tincan_connection_get_last_error (fixture->connection);
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  g_assert_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_CERTIFICATE);
  for (guint i = 0; expected[i] != NULL; i++)
    if (strstr (error->message, expected[i]) == NULL)
      g_error ("the error \"%s\" does not say \"%s\"", error->message, expected[i]);
  for (guint i = 0; unexpected != NULL && unexpected[i] != NULL; i++)
    if (strstr (error->message, unexpected[i]) != NULL)
      g_error ("the error \"%s\" wrongly says \"%s\"", error->message, unexpected[i]);

  g_assert_cmpint (tincan_connection_get_retry_at (fixture->connection), ==, 0);
  g_assert_cmpuint (tincan_server_get_n_clients (fixture->server), ==, 0);

  /* Not retried: a while later it is still failed, after no new attempt. */
  attempt = tincan_connection_get_attempt (fixture->connection);
  wait_for (never, NULL, 500);
  g_assert_cmpint (tincan_connection_get_state (fixture->connection), ==, TINCAN_CONNECTION_STATE_FAILED);
  g_assert_cmpuint (tincan_connection_get_attempt (fixture->connection), ==, attempt);
}

static gboolean
message_delivered (gpointer data)
{
  return tincan_message_get_state (data) == TINCAN_MESSAGE_STATE_DELIVERED;
}

static void
assert_chats (Fixture *fixture)
{
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GError) error = NULL;

  if (!wait_for (settled, fixture, TIMEOUT_MS))
    g_error ("timed out waiting for the connection to settle");
  if (tincan_connection_get_state (fixture->connection) != TINCAN_CONNECTION_STATE_CONNECTED)
    {
      const GError *last = tincan_connection_get_last_error (fixture->connection);

      g_error ("not connected: %s", last != NULL ? last->message : "(no error)");
    }

  message = tincan_connection_send (fixture->connection, "lobby", "over TLS", &error);
  g_assert_no_error (error);
  if (!wait_for (message_delivered, message, TIMEOUT_MS))
    g_error ("the message over wss:// was not acknowledged");
}

/* Tests */

static void
test_self_signed (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *fingerprint = fingerprint_of ("self");

  start_server (fixture, "self");
  connect_client (fixture, NULL, NULL);
  assert_refused (fixture,
                  (const char *[]) { "not signed by a trusted authority (self-signed?)", fingerprint, NULL },
                  NULL);

  /* What the "Trust This Certificate…" dialog shows and pins. */
  g_assert_cmpstr (tincan_connection_get_peer_certificate_fingerprint (fixture->connection), ==, fingerprint);
  g_assert_nonnull (tincan_connection_get_peer_certificate (fixture->connection));
  g_assert_true (tincan_connection_get_peer_certificate_errors (fixture->connection) & G_TLS_CERTIFICATE_UNKNOWN_CA);
  g_assert_cmpuint (strlen (fingerprint), ==, 32 * 3 - 1);
}

static void
test_expired (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr (GTlsDatabase) database = test_ca_database ();

  start_server (fixture, "expired");
  connect_client (fixture, NULL, database);
  assert_refused (fixture,
                  (const char *[]) { "has expired", "2020-01-02", NULL },
                  (const char *[]) { "trusted authority", "another host", NULL });
  g_assert_cmpint (tincan_connection_get_peer_certificate_errors (fixture->connection), ==,
                   G_TLS_CERTIFICATE_EXPIRED);
}

static void
test_other_host (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr (GTlsDatabase) database = test_ca_database ();

  start_server (fixture, "elsewhere");
  connect_client (fixture, NULL, database);
  assert_refused (fixture,
                  (const char *[]) { "issued for another host", "chat.example.org", "127.0.0.1", NULL },
                  (const char *[]) { "trusted authority", "expired", NULL });
  g_assert_cmpint (tincan_connection_get_peer_certificate_errors (fixture->connection), ==,
                   G_TLS_CERTIFICATE_BAD_IDENTITY);
}

/* The control: a certificate that verifies is accepted, so the refusals
 * above are about the certificates, not TLS itself. */
static void
test_trusted (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr (GTlsDatabase) database = test_ca_database ();
  g_autofree char *fingerprint = fingerprint_of ("good");

  start_server (fixture, "good");
  connect_client (fixture, NULL, database);
  assert_chats (fixture);
  g_assert_cmpstr (tincan_connection_get_peer_certificate_fingerprint (fixture->connection), ==, fingerprint);
  g_assert_cmpint (tincan_connection_get_peer_certificate_errors (fixture->connection), ==, 0);
}

static void
test_pinned (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *fingerprint = fingerprint_of ("self");
  g_autofree char *lower = g_ascii_strdown (fingerprint, -1);

  start_server (fixture, "self");
  /* The pin is compared by its hex digits: case does not matter. */
  connect_client (fixture, lower, NULL);
  assert_chats (fixture);
  g_assert_cmpstr (tincan_connection_get_peer_certificate_fingerprint (fixture->connection), ==, fingerprint);
  g_assert_true (tincan_connection_get_peer_certificate_errors (fixture->connection) & G_TLS_CERTIFICATE_UNKNOWN_CA);
}

static void
test_wrong_pin (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *fingerprint = fingerprint_of ("self");
  g_autofree char *pinned = fingerprint_of ("other-self");

  start_server (fixture, "self");
  connect_client (fixture, pinned, NULL);
  assert_refused (fixture,
                  (const char *[]) { "different certificate", fingerprint, pinned, NULL },
                  NULL);
}

/* A pin is for the certificate it names: pinning the self-signed
 * certificate does not make an expired one acceptable. */
static void
test_pin_other_problem (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *pinned = fingerprint_of ("self");
  g_autofree char *fingerprint = fingerprint_of ("expired");

  start_server (fixture, "expired");
  connect_client (fixture, pinned, NULL);
  assert_refused (fixture,
                  (const char *[]) { "different certificate", fingerprint, pinned, NULL },
                  NULL);
}

static void
test_describe (void)
{
  g_autoptr (GTlsCertificate) certificate = load_certificate ("elsewhere");
  g_autofree char *all = tincan_certificate_describe_errors (certificate,
                                                             G_TLS_CERTIFICATE_UNKNOWN_CA |
                                                             G_TLS_CERTIFICATE_EXPIRED |
                                                             G_TLS_CERTIFICATE_BAD_IDENTITY |
                                                             G_TLS_CERTIFICATE_NOT_ACTIVATED |
                                                             G_TLS_CERTIFICATE_REVOKED |
                                                             G_TLS_CERTIFICATE_INSECURE,
                                                             "127.0.0.1");
  g_autofree char *none = tincan_certificate_describe_errors (NULL, G_TLS_CERTIFICATE_GENERIC_ERROR, NULL);

  g_assert_nonnull (strstr (all, "self-signed?"));
  g_assert_nonnull (strstr (all, "expired"));
  g_assert_nonnull (strstr (all, "another host (CN/SAN "));
  g_assert_nonnull (strstr (all, "chat.example.org"));
  g_assert_nonnull (strstr (all, "not valid yet"));
  g_assert_nonnull (strstr (all, "revoked"));
  g_assert_nonnull (strstr (all, "insecure"));
  g_assert_cmpstr (none, ==, "The server's certificate could not be verified.");
  g_assert_null (tincan_certificate_fingerprint (NULL));
}

static void
test_skip (void)
{
  g_test_skip ("openssl is not installed (or failed): cannot make test certificates");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *openssl = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  certs_dir = g_dir_make_tmp ("tincan-test-certs-XXXXXX", &error);
  g_assert_no_error (error);

  openssl = g_find_program_in_path ("openssl");
  if (openssl == NULL || !make_certificates ())
    {
      g_test_add_func ("/tls/skipped", test_skip);
    }
  else
    {
      g_test_add_func ("/tls/describe", test_describe);
      g_test_add ("/tls/self-signed", Fixture, NULL, fixture_setup, test_self_signed, fixture_teardown);
      g_test_add ("/tls/expired", Fixture, NULL, fixture_setup, test_expired, fixture_teardown);
      g_test_add ("/tls/other-host", Fixture, NULL, fixture_setup, test_other_host, fixture_teardown);
      g_test_add ("/tls/trusted", Fixture, NULL, fixture_setup, test_trusted, fixture_teardown);
      g_test_add ("/tls/pinned", Fixture, NULL, fixture_setup, test_pinned, fixture_teardown);
      g_test_add ("/tls/wrong-pin", Fixture, NULL, fixture_setup, test_wrong_pin, fixture_teardown);
      g_test_add ("/tls/pin-other-problem", Fixture, NULL, fixture_setup, test_pin_other_problem,
                  fixture_teardown);
    }

  status = g_test_run ();
  rm_rf (certs_dir);
  g_free (certs_dir);
  return status;
}
