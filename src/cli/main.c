/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-cli"

#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <json-glib/json-glib.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include "tincan-core.h"
#include "tincan-protocols-private.h"

#define EXIT_DELIVERED   0
#define EXIT_NOT_ALL     1
#define EXIT_TIMEOUT     2
#define EXIT_USAGE       64

typedef struct
{
  GMainLoop         *loop;
  TincanConnection  *connection;
  TincanStore       *store;
  GDataInputStream  *input;
  GCancellable      *cancellable;
  char              *room;
  char              *pending_line;  /* read while the outbox was full */

  GHashTable        *ours;          /* cid → NULL: messages this run waits for */
  guint              n_failed;
  guint              n_received;
  guint              exit_after;
  guint              drain_timeout;  /* seconds */
  guint              drain_source;
  gboolean           acks;
  gboolean           eof;
  int                status;

  /* --frames FILE: every frame, live, in the inspector's export format. */
  TincanFrameLog    *frame_log;
  FILE              *frames_file;
  guint              frames_trim_source;
} Cli;

static void read_next_line (Cli *cli);

/* The log only masks and batches; once written, records are dropped so a
 * long run does not grow (nor lose records to the ring buffer). */
static gboolean
trim_frame_log (gpointer user_data)
{
  Cli *cli = user_data;

  cli->frames_trim_source = 0;
  tincan_frame_log_clear (cli->frame_log);
  return G_SOURCE_REMOVE;
}

static void
on_frame_records (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Cli        *cli)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (TincanFrameRecord) record = g_list_model_get_item (model, i);
      g_autofree char *line = tincan_frame_record_to_json_line (record);

      fputs (line, cli->frames_file);
      fputc ('\n', cli->frames_file);
    }

  if (added > 0)
    {
      fflush (cli->frames_file);
      if (cli->frames_trim_source == 0 && g_list_model_get_n_items (model) >= 1000)
        cli->frames_trim_source = g_idle_add (trim_frame_log, cli);
    }
}

static void
emit_event (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  /* Not json_generator_to_data(): json-glib 1.6 writes U+001F raw, which
   * is not JSON; this one escapes every control character. */
  text = _tincan_json_to_string (root);
  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static JsonBuilder *
begin_event (const char *event)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  return builder;
}

static void
add_string (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
quit (Cli *cli,
      int  status)
{
  cli->status = status;
  g_main_loop_quit (cli->loop);
}

static void
check_done (Cli *cli)
{
  if (!cli->eof || cli->exit_after > 0)
    return;

  if (g_hash_table_size (cli->ours) == 0 &&
      tincan_connection_get_queued_count (cli->connection) == 0)
    quit (cli, cli->n_failed > 0 ? EXIT_NOT_ALL : EXIT_DELIVERED);
}

static void
on_state (TincanConnection *connection,
          GParamSpec       *pspec,
          Cli              *cli)
{
  g_autoptr (JsonBuilder) builder = NULL;
  TincanConnectionState state = tincan_connection_get_state (connection);
  const GError *error = tincan_connection_get_last_error (connection);

  builder = begin_event ("state");
  add_string (builder, "state", tincan_connection_state_to_string (state));
  add_int (builder, "attempt", tincan_connection_get_attempt (connection));
  if (tincan_connection_get_close_code (connection) != 0)
    {
      add_int (builder, "close_code", tincan_connection_get_close_code (connection));
      add_string (builder, "close_reason", tincan_connection_get_close_reason (connection));
    }
  if (state == TINCAN_CONNECTION_STATE_RECONNECTING)
    {
      gint64 in_ms = (tincan_connection_get_retry_at (connection) - g_get_monotonic_time ()) / 1000;

      add_int (builder, "retry_in_ms", MAX (0, in_ms));
    }
  if (error != NULL && state != TINCAN_CONNECTION_STATE_CONNECTED)
    add_string (builder, "error", error->message);
  emit_event (builder);

  /* Failed needs a person: a script gets an answer instead of a hang. */
  if (state == TINCAN_CONNECTION_STATE_FAILED)
    quit (cli, EXIT_NOT_ALL);
}

static void
on_message_received (TincanConnection *connection,
                     TincanMessage    *message,
                     Cli              *cli)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autofree char *ts = NULL;

  /* Printed by on_unmapped(); not a chat message. */
  if (tincan_connection_message_is_unmapped (message))
    return;

  builder = begin_event ("message");

  add_string (builder, "room", tincan_message_get_room (message));
  add_int (builder, "seq", tincan_message_get_seq (message));
  add_string (builder, "id", tincan_message_get_id (message));
  add_string (builder, "from", tincan_message_get_sender (message));
  add_string (builder, "text", tincan_message_get_text (message));
  add_string (builder, "cid", tincan_message_get_cid (message));
  if (tincan_message_get_timestamp (message) > 0)
    {
      ts = tincan_timestamp_format (tincan_message_get_timestamp (message));
      add_string (builder, "ts", ts);
    }
  emit_event (builder);

  cli->n_received++;
  if (cli->exit_after > 0 && cli->n_received >= cli->exit_after)
    quit (cli, EXIT_DELIVERED);
}

/* A frame the dialect could not map: shown, never dropped. */
static void
on_unmapped (TincanConnection *connection,
             TincanMessage    *message,
             GBytes           *payload,
             gboolean          binary,
             Cli              *cli)
{
  g_autoptr (JsonBuilder) builder = begin_event ("unmapped");
  gsize size = 0;
  const guint8 *data = payload != NULL ? g_bytes_get_data (payload, &size) : NULL;

  add_string (builder, "room", tincan_message_get_room (message));
  json_builder_set_member_name (builder, "binary");
  json_builder_add_boolean_value (builder, binary);
  add_int (builder, "size", (gint64) size);
  if (binary || data == NULL || !g_utf8_validate_len ((const char *) data, size, NULL))
    {
      g_autoptr (GString) hex = g_string_sized_new (size * 2 + 1);

      for (gsize i = 0; i < size; i++)
        g_string_append_printf (hex, "%02x", data[i]);
      add_string (builder, "hex", hex->str);
    }
  else
    {
      g_autofree char *text = g_strndup ((const char *) data, size);

      add_string (builder, "text", text);
    }
  emit_event (builder);
}

static void
on_message_updated (TincanConnection *connection,
                    TincanMessage    *message,
                    Cli              *cli)
{
  g_autoptr (JsonBuilder) builder = NULL;
  const char *cid = tincan_message_get_cid (message);

  switch (tincan_message_get_state (message))
    {
    case TINCAN_MESSAGE_STATE_DELIVERED:
      builder = begin_event ("delivered");
      add_string (builder, "cid", cid);
      add_int (builder, "seq", tincan_message_get_seq (message));
      add_string (builder, "room", tincan_message_get_room (message));
      break;

    case TINCAN_MESSAGE_STATE_SENT:
      if (cli->acks)
        return;
      builder = begin_event ("sent");
      add_string (builder, "cid", cid);
      add_string (builder, "room", tincan_message_get_room (message));
      break;

    case TINCAN_MESSAGE_STATE_FAILED:
      builder = begin_event ("failed");
      add_string (builder, "cid", cid);
      add_string (builder, "reason", tincan_message_get_reason (message));
      if (g_hash_table_contains (cli->ours, cid))
        cli->n_failed++;
      break;

    case TINCAN_MESSAGE_STATE_QUEUED:
    case TINCAN_MESSAGE_STATE_SENDING:
    default:
      return;
    }

  /* The echo of a delivered message may update it again: one event each. */
  if (!g_hash_table_remove (cli->ours, cid))
    return;

  emit_event (builder);
  check_done (cli);
}

static void
on_resumed (TincanConnection *connection,
            const char       *room,
            gboolean          gap,
            Cli              *cli)
{
  g_autoptr (JsonBuilder) builder = begin_event ("resumed");

  add_string (builder, "room", room);
  json_builder_set_member_name (builder, "gap");
  json_builder_add_boolean_value (builder, gap);
  emit_event (builder);
}

static void
on_error (TincanConnection *connection,
          const GError     *error,
          Cli              *cli)
{
  g_autoptr (JsonBuilder) builder = begin_event ("error");

  add_string (builder, "message", error->message);
  emit_event (builder);
}

/* A line is durable once the store committed it. */
static void
on_committed (TincanStore *store,
              GPtrArray   *messages,
              Cli         *cli)
{
  for (guint i = 0; i < messages->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (messages, i);
      g_autoptr (JsonBuilder) builder = NULL;

      if (!tincan_message_is_outgoing (message) ||
          !g_hash_table_contains (cli->ours, tincan_message_get_cid (message)))
        continue;

      builder = begin_event ("queued");
      add_string (builder, "cid", tincan_message_get_cid (message));
      add_string (builder, "room", tincan_message_get_room (message));
      emit_event (builder);
    }
}

static void
on_queued_count (TincanConnection *connection,
                 GParamSpec       *pspec,
                 Cli              *cli)
{
  /* Room again in a full outbox: take up the line that waited. */
  if (cli->pending_line != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (TincanMessage) message = NULL;

      message = tincan_connection_send (connection, cli->room, cli->pending_line, &error);
      if (message == NULL)
        return;

      g_hash_table_add (cli->ours, g_strdup (tincan_message_get_cid (message)));
      g_clear_pointer (&cli->pending_line, g_free);
      read_next_line (cli);
      return;
    }

  check_done (cli);
}

static gboolean
on_drain_timeout (gpointer user_data)
{
  Cli *cli = user_data;
  g_autoptr (JsonBuilder) builder = begin_event ("error");

  cli->drain_source = 0;
  add_string (builder, "message", "drain timeout: not every message was delivered");
  emit_event (builder);
  quit (cli, EXIT_TIMEOUT);
  return G_SOURCE_REMOVE;
}

static void
send_line (Cli        *cli,
           const char *line)
{
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GError) error = NULL;

  message = tincan_connection_send (cli->connection, cli->room, line, &error);
  if (message != NULL)
    {
      g_hash_table_add (cli->ours, g_strdup (tincan_message_get_cid (message)));
      return;
    }

  if (g_error_matches (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_OUTBOX_FULL))
    {
      /* Back-pressure: stop reading until the outbox has room. */
      cli->pending_line = g_strdup (line);
      return;
    }

  on_error (cli->connection, error, cli);
  cli->n_failed++;
}

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                     &length, &error);
  if (error != NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      on_error (cli->connection, error, cli);
      if (!g_error_matches (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE))
        line = NULL;
      else
        {
          /* Not UTF-8: that line is skipped (and counts as not delivered). */
          cli->n_failed++;
          read_next_line (cli);
          return;
        }
    }

  if (line == NULL)
    {
      cli->eof = TRUE;
      if (cli->drain_timeout > 0 && cli->drain_source == 0)
        cli->drain_source = g_timeout_add (cli->drain_timeout * 1000, on_drain_timeout, cli);
      check_done (cli);
      return;
    }

  if (length > 0 && line[length - 1] == '\r')
    line[--length] = '\0';

  if (length > 0)
    send_line (cli, line);

  if (cli->pending_line == NULL)
    read_next_line (cli);
}

static void
read_next_line (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->input, G_PRIORITY_DEFAULT, cli->cancellable,
                                       on_line, cli);
}

static gboolean
on_unix_signal (gpointer user_data)
{
  Cli *cli = user_data;

  quit (cli, EXIT_NOT_ALL);
  return G_SOURCE_REMOVE;
}

static char *
store_path_for (const char *data_dir,
                const char *url,
                const char *user,
                const char *protocol)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%s", url, user, protocol);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_autofree char *name = g_strdup_printf ("cli-%.16s.sqlite", digest);

  return g_build_filename (data_dir, name, NULL);
}

static int
usage_error (const char *format,
             ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("tincan-cli: %s\n", message);
  return EXIT_USAGE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (TincanProtocol) protocol_check = NULL;
  g_autoptr (GInputStream) stdin_stream = NULL;
  g_autofree char *protocol = NULL;
  g_autofree char *user = NULL;
  g_autofree char *room = NULL;
  g_autofree char *token = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *store_path = NULL;
  g_auto (GStrv) headers = NULL;
  g_auto (GStrv) subprotocols = NULL;
  g_auto (GStrv) rest = NULL;
  g_auto (GStrv) options = NULL;
  g_autofree char *preset = NULL;
  g_autofree char *send_event = NULL;
  g_autofree char *receive_event = NULL;
  g_autofree char *frames_path = NULL;
  g_autoptr (GStrvBuilder) options_builder = g_strv_builder_new ();
  g_auto (GStrv) protocol_options = NULL;
  int heartbeat = -1;
  int drain_timeout = 0;
  int exit_after = 0;
  const char *rooms[2] = { NULL, NULL };
  Cli cli = { 0 };
  GOptionEntry entries[] = {
    { "protocol", 'p', 0, G_OPTION_ARG_STRING, &protocol, "Backend dialect: tincan (default), plain, json, socketio, jsonrpc", "NAME" },
    { "preset", 0, 0, G_OPTION_ARG_STRING, &preset, "json: a preset mapping (auto, text-user, message-username, data, pubsub)", "NAME" },
    { "send-event", 0, 0, G_OPTION_ARG_STRING, &send_event, "socketio: the event to send messages with (default message)", "NAME" },
    { "receive-event", 0, 0, G_OPTION_ARG_STRING, &receive_event, "socketio: the event messages arrive with (default message)", "NAME" },
    { "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &options, "A dialect option (repeatable), e.g. namespace=/chat", "KEY=VALUE" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "User name (default: the login name)", "NAME" },
    { "room", 'r', 0, G_OPTION_ARG_STRING, &room, "Room to send to (default lobby)", "ROOM" },
    { "token", 't', 0, G_OPTION_ARG_STRING, &token, "Authentication token", "TOKEN" },
    { "header", 'H', 0, G_OPTION_ARG_STRING_ARRAY, &headers, "Extra handshake header", "'Name: value'" },
    { "subprotocol", 0, 0, G_OPTION_ARG_STRING_ARRAY, &subprotocols, "WebSocket subprotocol to offer", "P" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Where the outbox and history live", "DIR" },
    { "heartbeat", 0, 0, G_OPTION_ARG_INT, &heartbeat, "Heartbeat interval, 0 = off (default 20)", "SECONDS" },
    { "drain-timeout", 0, 0, G_OPTION_ARG_INT, &drain_timeout, "At end of input, wait at most this long (exit 2)", "SECONDS" },
    { "exit-after-messages", 0, 0, G_OPTION_ARG_INT, &exit_after, "Exit 0 once N messages were received", "N" },
    { "frames", 0, 0, G_OPTION_ARG_FILENAME, &frames_path, "Write every frame, live, to FILE as JSON Lines (secrets masked)", "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  /* One event per line, as it happens, even into a pipe. */
  setvbuf (stdout, NULL, _IOLBF, 0);

  context = g_option_context_new ("URL");
  g_option_context_set_summary (context,
                                "Sends each line of stdin as a chat message; prints events as JSON Lines.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error ("%s", error->message);

  if (rest == NULL || rest[0] == NULL)
    return usage_error ("a server URL is required (ws://HOST:PORT/PATH)");
  if (rest[1] != NULL)
    return usage_error ("unexpected argument: %s", rest[1]);
  if (!tincan_profile_validate_url (rest[0], &error))
    return usage_error ("%s", error->message);

  if (protocol == NULL)
    protocol = g_strdup ("tincan");
  protocol_check = tincan_protocol_new_for_name (protocol, &error);
  if (protocol_check == NULL)
    {
      g_autofree char *known = g_strjoinv (", ", (char **) tincan_protocol_list_names ());

      return usage_error ("unknown protocol “%s” (known: %s)", protocol, known);
    }
  g_clear_object (&protocol_check);

  {
    const char *named[][2] = {
      { "preset", preset }, { "send-event", send_event }, { "receive-event", receive_event },
    };

    for (guint i = 0; i < G_N_ELEMENTS (named); i++)
      if (named[i][1] != NULL)
        {
          g_autofree char *option = g_strconcat (named[i][0], "=", named[i][1], NULL);

          g_strv_builder_add (options_builder, option);
        }
  }
  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    {
      const char *eq = strchr (options[i], '=');

      if (eq == NULL || eq == options[i])
        return usage_error ("--option must look like KEY=VALUE, not “%s”", options[i]);
      g_strv_builder_add (options_builder, options[i]);
    }
  protocol_options = g_strv_builder_end (options_builder);

  /* The dialect with its options, as the connection will build it: a bad
   * preset, key or value is a usage error now, not a failed state later. */
  protocol_check = tincan_protocol_new_with_options (protocol,
                                                     (const char * const *) protocol_options,
                                                     &error);
  if (protocol_check == NULL)
    return usage_error ("%s", error->message);

  if (heartbeat < -1 || heartbeat > 24 * 3600)
    return usage_error ("--heartbeat must be between 0 and 86400");
  if (drain_timeout < 0)
    return usage_error ("--drain-timeout must not be negative");
  if (exit_after < 0)
    return usage_error ("--exit-after-messages must not be negative");
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    {
      const char *colon = strchr (headers[i], ':');

      if (colon == NULL || colon == headers[i])
        return usage_error ("--header must look like 'Name: value', not “%s”", headers[i]);
    }
  if (room != NULL && *room == '\0')
    return usage_error ("--room must not be empty");

  if (frames_path != NULL)
    {
      if (*frames_path == '\0')
        return usage_error ("--frames needs a file name");
      cli.frames_file = g_str_equal (frames_path, "-") ? stdout : fopen (frames_path, "w");
      if (cli.frames_file == NULL)
        return usage_error ("cannot write %s: %s", frames_path, g_strerror (errno));
    }

  if (user == NULL)
    user = g_strdup (g_get_user_name ());
  if (room == NULL)
    room = g_strdup ("lobby");
  if (data_dir == NULL)
    data_dir = tincan_store_get_default_dir ();

  profile = tincan_profile_new ();
  rooms[0] = room;
  tincan_profile_set_url (profile, rest[0]);
  tincan_profile_set_protocol (profile, protocol);
  tincan_profile_set_user (profile, user);
  tincan_profile_set_rooms (profile, rooms);
  g_object_set (profile, "protocol-options", protocol_options, NULL);
  if (headers != NULL)
    g_object_set (profile, "headers", headers, NULL);
  if (subprotocols != NULL)
    g_object_set (profile, "subprotocols", subprotocols, NULL);
  if (heartbeat >= 0)
    g_object_set (profile, "heartbeat-interval", (guint) heartbeat, NULL);
  if (token != NULL)
    tincan_profile_set_auth_method (profile,
                                    (tincan_protocol_get_flags (protocol_check) &
                                     TINCAN_PROTOCOL_FLAG_WELCOME)
                                    ? TINCAN_AUTH_HELLO : TINCAN_AUTH_BEARER);

  {
    /* Another mapping is another conversation: its own outbox. */
    g_autofree char *joined = g_strjoinv ("\n", protocol_options);
    g_autofree char *dialect = g_strconcat (protocol, "\n", joined, NULL);

    store_path = store_path_for (data_dir, rest[0], user,
                                 protocol_options[0] != NULL ? dialect : protocol);
  }
  cli.store = tincan_store_new (store_path, &error);
  if (cli.store == NULL)
    {
      g_printerr ("tincan-cli: %s\n", error->message);
      return EXIT_NOT_ALL;
    }

  cli.loop = g_main_loop_new (NULL, FALSE);
  cli.cancellable = g_cancellable_new ();
  cli.room = g_strdup (room);
  cli.ours = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  cli.exit_after = exit_after;
  cli.drain_timeout = drain_timeout;
  cli.acks = (tincan_protocol_get_flags (protocol_check) & TINCAN_PROTOCOL_FLAG_ACKS) != 0;
  cli.status = EXIT_NOT_ALL;

  cli.connection = tincan_connection_new (profile, cli.store);
  if (token != NULL)
    tincan_connection_set_token_provider (cli.connection,
                                          (TincanTokenProvider) g_strdup,
                                          g_strdup (token), g_free);

  if (cli.frames_file != NULL)
    {
      /* Attached before connecting, so the handshake is in the file. */
      cli.frame_log = tincan_frame_log_new (0);
      tincan_frame_log_add_secret (cli.frame_log, token);
      for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
        {
          /* A literal header value that looks like a credential. */
          const char *value = strchr (headers[i], ':') + 1;
          g_autofree char *name = g_strndup (headers[i], value - 1 - headers[i]);
          g_autofree char *stripped = g_strstrip (g_strdup (value));
          const char *space = strrchr (stripped, ' ');

          if (g_ascii_strcasecmp (g_strstrip (name), "Authorization") == 0)
            tincan_frame_log_add_secret (cli.frame_log, space != NULL ? space + 1 : stripped);
        }
      g_signal_connect (cli.frame_log, "items-changed", G_CALLBACK (on_frame_records), &cli);
      tincan_frame_log_attach (cli.frame_log, cli.connection);
    }

  /* A previous run's leftovers: this run waits for them too. */
  {
    g_autoptr (GPtrArray) outbox = tincan_store_load_outbox (cli.store, NULL);

    for (guint i = 0; outbox != NULL && i < outbox->len; i++)
      g_hash_table_add (cli.ours,
                        g_strdup (tincan_message_get_cid (g_ptr_array_index (outbox, i))));
  }

  g_signal_connect (cli.connection, "notify::state", G_CALLBACK (on_state), &cli);
  g_signal_connect (cli.connection, "notify::queued-count", G_CALLBACK (on_queued_count), &cli);
  g_signal_connect (cli.connection, "message-received", G_CALLBACK (on_message_received), &cli);
  g_signal_connect (cli.connection, "message-updated", G_CALLBACK (on_message_updated), &cli);
  g_signal_connect (cli.connection, "unmapped", G_CALLBACK (on_unmapped), &cli);
  g_signal_connect (cli.connection, "resumed", G_CALLBACK (on_resumed), &cli);
  g_signal_connect (cli.connection, "error", G_CALLBACK (on_error), &cli);
  g_signal_connect (cli.store, "committed", G_CALLBACK (on_committed), &cli);

  g_unix_signal_add (SIGINT, on_unix_signal, &cli);
  g_unix_signal_add (SIGTERM, on_unix_signal, &cli);

  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  cli.input = g_data_input_stream_new (stdin_stream);
  g_data_input_stream_set_newline_type (cli.input, G_DATA_STREAM_NEWLINE_TYPE_LF);

  tincan_connection_connect (cli.connection);
  read_next_line (&cli);

  g_main_loop_run (cli.loop);

  g_cancellable_cancel (cli.cancellable);
  g_signal_handlers_disconnect_by_data (cli.connection, &cli);
  g_signal_handlers_disconnect_by_data (cli.store, &cli);
  tincan_connection_disconnect (cli.connection);
  tincan_store_flush (cli.store, NULL);

  /* Let the close frame go out. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  if (cli.frame_log != NULL)
    {
      tincan_frame_log_flush (cli.frame_log);
      g_signal_handlers_disconnect_by_data (cli.frame_log, &cli);
      tincan_frame_log_attach (cli.frame_log, NULL);
      g_clear_handle_id (&cli.frames_trim_source, g_source_remove);
      g_clear_object (&cli.frame_log);
    }
  if (cli.frames_file != NULL && cli.frames_file != stdout)
    fclose (cli.frames_file);

  g_clear_handle_id (&cli.drain_source, g_source_remove);
  g_clear_object (&cli.connection);
  g_clear_object (&cli.input);
  g_clear_object (&cli.store);
  g_clear_object (&cli.cancellable);
  g_clear_pointer (&cli.ours, g_hash_table_unref);
  g_clear_pointer (&cli.room, g_free);
  g_clear_pointer (&cli.pending_line, g_free);
  g_clear_pointer (&cli.loop, g_main_loop_unref);

  return cli.status;
}
