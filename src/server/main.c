/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-server"

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>

#include "tincan-server.h"

#define EXIT_USAGE 64
/* How long a shutdown waits for clients to finish their close handshake. */
#define DRAIN_TIMEOUT_MS 2000

typedef struct
{
  GMainLoop    *loop;
  TincanServer *server;
  guint         drain_id;
  gboolean      stopping;
} App;

static void
maybe_quit (App *app)
{
  if (app->stopping && tincan_server_get_n_clients (app->server) == 0)
    g_main_loop_quit (app->loop);
}

static void
on_client_count_changed (TincanServer *server,
                         guint         n_clients,
                         App          *app)
{
  maybe_quit (app);
}

static gboolean
on_drain_timeout (gpointer user_data)
{
  App *app = user_data;

  app->drain_id = 0;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  App *app = user_data;

  if (app->stopping)
    return G_SOURCE_CONTINUE;

  g_message ("Shutting down");
  app->stopping = TRUE;
  tincan_server_stop (app->server);
  app->drain_id = g_timeout_add (DRAIN_TIMEOUT_MS, on_drain_timeout, app);
  maybe_quit (app);
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_uint (const char *option,
            const char *text,
            guint64     min,
            guint64     max,
            guint64    *out)
{
  g_autoptr(GError) error = NULL;

  if (!g_ascii_string_to_unsigned (text, 10, min, max, out, &error))
    {
      g_printerr ("tincan-server: invalid value for %s: %s\n", option, error->message);
      return FALSE;
    }
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *host = NULL;
  g_autofree char *port_text = NULL;
  g_autofree char *max_frame_text = NULL;
  g_autofree char *rate_text = NULL;
  g_autofree char *burst_text = NULL;
  g_autofree char *history_text = NULL;
  g_autofree char *token = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *max_clients_text = NULL;
  g_autofree char *max_rooms_text = NULL;
  g_autofree char *handshake_text = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  gboolean deflate = FALSE;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host,
      "Address to listen on (default 127.0.0.1)", "HOST" },
    { "port", 0, 0, G_OPTION_ARG_STRING, &port_text,
      "TCP port, 0 for any free port (default 0)", "PORT" },
    { "max-frame", 0, 0, G_OPTION_ARG_STRING, &max_frame_text,
      "Largest accepted frame (default 1048576)", "BYTES" },
    { "rate", 0, 0, G_OPTION_ARG_STRING, &rate_text,
      "Frames per second per connection, 0 = unlimited (default 0)", "N" },
    { "burst", 0, 0, G_OPTION_ARG_STRING, &burst_text,
      "Rate limit burst (default 2 * rate)", "N" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token,
      "Token every hello must carry (or TINCAN_SERVER_TOKEN)", "TOKEN" },
    { "history", 0, 0, G_OPTION_ARG_STRING, &history_text,
      "Messages kept per room (default 10000)", "N" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db_path,
      "SQLite file to persist history in", "FILE" },
    { "max-clients", 0, 0, G_OPTION_ARG_STRING, &max_clients_text,
      "Most clients at once, 0 = unlimited (default 1000)", "N" },
    { "max-rooms", 0, 0, G_OPTION_ARG_STRING, &max_rooms_text,
      "Most rooms per connection, 0 = unlimited (default 100)", "N" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_STRING, &handshake_text,
      "Seconds to complete the WebSocket upgrade, 0 = no limit (default 10)", "SECONDS" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert,
      "PEM certificate (chain): serve wss:// instead of ws://", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
      "PEM private key of --tls-cert (default: in the same file)", "FILE" },
    { "deflate", 0, 0, G_OPTION_ARG_NONE, &deflate,
      "Offer permessage-deflate (costs a compression per recipient of each frame)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TincanServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  guint64 port = 0;
  guint64 value;
  App app = { 0 };
  guint sigint_id;
  guint sigterm_id;

  /* stdout carries only the "listening on" line. */
  g_log_writer_default_set_use_stderr (TRUE);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "The reference tincan.v1 chat server (ws://HOST:PORT/ws, or wss:// with --tls-cert).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("tincan-server: %s\n", error->message);
      return EXIT_USAGE;
    }

  if (version)
    {
      g_print ("tincan-server %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (argc > 1)
    {
      g_printerr ("tincan-server: unexpected argument: %s\n", argv[1]);
      return EXIT_USAGE;
    }

  server = tincan_server_new ();

  if (port_text != NULL && !parse_uint ("--port", port_text, 0, G_MAXUINT16, &port))
    return EXIT_USAGE;

  if (max_frame_text != NULL)
    {
      if (!parse_uint ("--max-frame", max_frame_text, 1, G_MAXUINT32, &value))
        return EXIT_USAGE;
      g_object_set (server, "max-frame", (guint) value, NULL);
    }

  if (rate_text != NULL)
    {
      char *end = NULL;
      double rate;

      errno = 0;
      rate = g_ascii_strtod (rate_text, &end);
      if (errno != 0 || end == rate_text || *end != '\0' || !(rate >= 0) || rate > 1e9)
        {
          g_printerr ("tincan-server: invalid value for --rate: %s\n", rate_text);
          return EXIT_USAGE;
        }
      g_object_set (server, "rate", rate, NULL);
    }

  if (burst_text != NULL)
    {
      if (!parse_uint ("--burst", burst_text, 0, G_MAXUINT32, &value))
        return EXIT_USAGE;
      g_object_set (server, "burst", (guint) value, NULL);
    }

  if (history_text != NULL)
    {
      if (!parse_uint ("--history", history_text, 0, G_MAXUINT32 / 2, &value))
        return EXIT_USAGE;
      g_object_set (server, "history", (guint) value, NULL);
    }

  if (token == NULL && g_getenv ("TINCAN_SERVER_TOKEN") != NULL)
    token = g_strdup (g_getenv ("TINCAN_SERVER_TOKEN"));
  if (token != NULL)
    {
      if (*token == '\0')
        {
          g_printerr ("tincan-server: --token must not be empty\n");
          return EXIT_USAGE;
        }
      g_object_set (server, "token", token, NULL);
    }

  if (db_path != NULL)
    g_object_set (server, "db-path", db_path, NULL);

  if (max_clients_text != NULL)
    {
      if (!parse_uint ("--max-clients", max_clients_text, 0, G_MAXUINT32, &value))
        return EXIT_USAGE;
      g_object_set (server, "max-clients", (guint) value, NULL);
    }

  if (max_rooms_text != NULL)
    {
      if (!parse_uint ("--max-rooms", max_rooms_text, 0, G_MAXUINT32, &value))
        return EXIT_USAGE;
      g_object_set (server, "max-rooms", (guint) value, NULL);
    }

  if (handshake_text != NULL)
    {
      if (!parse_uint ("--handshake-timeout", handshake_text, 0, 3600, &value))
        return EXIT_USAGE;
      g_object_set (server, "handshake-timeout", (guint) value, NULL);
    }

  if (deflate)
    g_object_set (server, "deflate", TRUE, NULL);

  if (tls_key != NULL && tls_cert == NULL)
    {
      g_printerr ("tincan-server: --tls-key needs --tls-cert\n");
      return EXIT_USAGE;
    }
  if (tls_cert != NULL)
    {
      g_autoptr(GTlsCertificate) certificate = NULL;

      certificate = g_tls_certificate_new_from_files (tls_cert, tls_key != NULL ? tls_key : tls_cert,
                                                      &error);
      if (certificate == NULL)
        {
          g_printerr ("tincan-server: cannot load the TLS certificate: %s\n", error->message);
          return EXIT_FAILURE;
        }
      g_object_set (server, "tls-certificate", certificate, NULL);
    }

  if (!tincan_server_listen (server, host, (guint) port, &error))
    {
      g_printerr ("tincan-server: %s\n", error->message);
      return EXIT_FAILURE;
    }

  loop = g_main_loop_new (NULL, FALSE);
  app.loop = loop;
  app.server = server;
  g_signal_connect (server, "client-count-changed", G_CALLBACK (on_client_count_changed), &app);
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &app);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &app);

  g_message ("Serving %s%s%s", tincan_server_get_uri (server),
             token != NULL ? " (token required)" : "",
             db_path != NULL ? " with a database" : "");

  printf ("listening on %s\n", tincan_server_get_uri (server));
  fflush (stdout);

  g_main_loop_run (loop);

  g_clear_handle_id (&app.drain_id, g_source_remove);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_signal_handlers_disconnect_by_data (server, &app);

  return EXIT_SUCCESS;
}
