/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-connection"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>
#include <sys/socket.h>

#include "tincan-connection.h"
#include "tincan-connection-private.h"
#include "tincan-message-private.h"
#include "tincan-connection-raw.h"
#include "tincan-core-enums.h"
#include "tincan-protocols.h"
#include "tincan-util.h"

/* One WebSocket to one server profile.
 *
 * Delivery: send() saves the message (store batch) and appends it to the
 * in-memory outbox (waiting). The pump, an idle at default priority,
 * commits the store batch FIRST and only then writes frames, moving
 * messages to inflight, up to send-window unacknowledged. An ack (or the
 * echo carrying our cid) makes a message delivered and takes it out; an
 * error frame with its cid makes it failed. When a socket goes away, the
 * inflight messages go back in front of the waiting ones, in order, and
 * are sent again with the same cid on the next socket: the server
 * deduplicates by cid, so the effect is exactly once.
 *
 * Liveness: libsoup sends WebSocket pings (keepalive); an application
 * ping, where the dialect has one, measures the latency. One lazily
 * re-armed watchdog declares the socket dead when nothing at all arrived
 * for heartbeat-interval + heartbeat-timeout, or when the oldest inflight
 * message has waited that long for its ack; it also notices suspend
 * (wall time running ahead of monotonic time), as logind's PrepareForSleep
 * does, and then probes the socket at once. */

/* How far wall time may run ahead of monotonic time between two watchdog
 * runs before we assume the machine was suspended. */
#define CLOCK_JUMP_US      (5 * G_USEC_PER_SEC)
/* Longest wait for an answer to the probe sent after a wake-up. */
#define PROBE_TIMEOUT_S    5
/* Connect (TCP + TLS + upgrade) deadline when the heartbeat is disabled. */
#define CONNECT_TIMEOUT_S  30
/* Acked messages kept in memory until their echo arrives. */
#define MAX_AWAITING_ECHO  4096
/* Incoming message ids remembered to report one the server reuses. */
#define MAX_RECENT_IDS     4096

struct _TincanConnection
{
  GObject                  parent_instance;

  TincanProfile           *profile;
  TincanStore             *store;
  GNetworkMonitor         *monitor;
  TincanBackoff           *backoff;
  TincanProtocol          *protocol;
  char                    *protocol_name;    /* what @protocol was built from */
  GStrv                    protocol_options;
  SoupSession             *session;
  GCancellable            *life_cancellable;

  TincanTokenProvider      token_provider;
  gpointer                 token_data;
  GDestroyNotify           token_destroy;

  TincanConnectionState    state;
  guint                    attempt;
  gint64                   retry_at;
  int                      latency;
  guint                    close_code;
  char                    *close_reason;
  GError                  *last_error;
  char                    *user;
  char                    *session_id;
  GStrv                    rooms;
  GPtrArray               *extra_rooms;

  gboolean                 want_connected;
  gboolean                 monitor_is_default;
  gboolean                 network_available;

  /* The current attempt / socket. */
  guint                    generation;
  GCancellable            *attempt_cancellable;
  char                    *hello_token;
  SoupWebsocketConnection *ws;
  gboolean                 established;
  GError                  *socket_error;
  /* TLS: what the server presented on the latest attempt, and why this
   * attempt refused it (then the connection fails: no retry loop). */
  GTlsCertificate         *peer_certificate;
  GTlsCertificateFlags     peer_certificate_errors;
  char                    *peer_fingerprint;
  GError                  *certificate_error;

  guint                    retry_source;
  guint                    connect_timeout_source;
  guint                    watchdog_source;
  guint                    heartbeat_source;
  guint                    pump_source;
  gboolean                 pump_waits_store;  /* for the store's "written" */
  guint                    expire_source;
  guint                    welcome_heartbeat; /* s, the dialect's liveness window; 0 = the profile's */
  gint64                   last_rx_us;
  gint64                   last_beat_us;     /* the previous heartbeat tick */
  gboolean                 awaiting_beat;    /* a heartbeat went out, nothing received since */
  guint                    missed_beats;     /* ticks in a row with nothing received */
  gint64                   probe_deadline_us;
  gint64                   probe_start_us;
  gint64                   ping_id;
  gint64                   ping_sent_us;
  gint64                   clock_mono_us;
  gint64                   clock_real_us;

  /* Frames received and not handled yet (IncomingFrame), oldest first
   * from @incoming_head on: an array, so a frame costs no allocation.
   * They are handled in slices of at most INCOMING_SLICE_US below GTK's
   * redraw priority, so a flood never starves the window's frames; when
   * more than INCOMING_MAX wait (the main loop cannot keep up), at once,
   * which slows the reading down instead of growing the queue. */
  GArray                  *incoming;
  guint                    incoming_head;
  guint                    incoming_source;
  gboolean                 handling_incoming;
  /* While a received frame is handled: when it arrived (real time, ms),
   * the local timestamp of the messages in it. */
  gint64                   incoming_received_ms;
  /* The frames decoded from it (reused, emptied after each). */
  GPtrArray               *decoded;

  /* The outbox, in memory: messages not yet sent on the current socket
   * (waiting) and sent but unacknowledged (inflight), both in send order. */
  GQueue                   waiting;
  GQueue                   inflight;
  GHashTable              *pending;       /* cid → TincanMessage (borrowed from the queues) */
  GHashTable              *awaiting_echo; /* cid → TincanMessage (owned) */
  GQueue                   awaiting_order; /* cids, oldest first (owned by awaiting_echo keys) */
  GHashTable              *last_seq;      /* room → gint64* */
  /* The ids of the last MAX_RECENT_IDS incoming messages, as
   * fingerprints of room and id. */
  TincanRecentSet         *recent_ids;

  GDBusConnection         *system_bus;
  guint                    sleep_subscription;

  TincanClockFunc          real_clock;
  gpointer                 real_clock_data;

  /* Network simulation (the inspector's "Network" section). */
  guint                    sim_latency_ms;
  GQueue                   delayed;           /* DelayedFrame, due in order */
  guint                    delayed_source;
  gboolean                 sim_offline;
  guint                    sim_offline_source;
  gboolean                 abrupt;            /* release without a close frame */
};

/* An outgoing frame held back by the simulated latency. */
typedef struct
{
  gint64                    due_us;
  SoupWebsocketDataType     type;
  TincanOpcode              opcode;
  GBytes                   *payload;
} DelayedFrame;

static void
delayed_frame_free (DelayedFrame *delayed)
{
  g_bytes_unref (delayed->payload);
  g_free (delayed);
}

/* A frame received on @ws, waiting to be handled. */
typedef struct
{
  SoupWebsocketConnection  *ws;       /* not a reference: compared only */
  GBytes                   *payload;
  gint64                    received_us;  /* real time */
  gboolean                  binary;
} IncomingFrame;

#define INCOMING_MAX      1024
#define INCOMING_COMPACT  64
#define INCOMING_SLICE_US 5000
/* Below GDK_PRIORITY_REDRAW (G_PRIORITY_HIGH_IDLE + 20), without
 * depending on GDK here. */
#define INCOMING_PRIORITY G_PRIORITY_DEFAULT_IDLE

G_DEFINE_FINAL_TYPE (TincanConnection, tincan_connection, G_TYPE_OBJECT)

G_DEFINE_QUARK (tincan-connection-error-quark, tincan_connection_error)
/* On an inflight message: when it went out (monotonic ms). */
static GQuark sent_at_quark;
/* On an outbox message: how many sockets died while it was the oldest
 * unacknowledged message on them. */
static GQuark lost_with_quark;

/* A message that takes the connection down this many times in a row (a
 * server that closes with 1009 on a frame it finds too big, or crashes on
 * it) fails with a reason instead of looping in "sending" for ever. */
#define MAX_LOST_WITH_MESSAGE 3
#define SUSPECT_WINDOW_MS 5000

enum
{
  PROP_0,
  PROP_PROFILE,
  PROP_STORE,
  PROP_STATE,
  PROP_ATTEMPT,
  PROP_RETRY_AT,
  PROP_LATENCY,
  PROP_CLOSE_CODE,
  PROP_CLOSE_REASON,
  PROP_LAST_ERROR,
  PROP_QUEUED_COUNT,
  PROP_URL,
  PROP_PROTOCOL,
  PROP_USER,
  PROP_SESSION,
  PROP_ROOMS,
  PROP_NETWORK_MONITOR,
  PROP_SIMULATED_LATENCY,
  PROP_SIMULATED_OFFLINE,
  PROP_PEER_CERTIFICATE,
  PROP_PEER_CERTIFICATE_ERRORS,
  PROP_PEER_CERTIFICATE_FINGERPRINT,
  N_PROPS
};

enum
{
  MESSAGE_RECEIVED,
  MESSAGE_QUEUED,
  MESSAGE_UPDATED,
  MESSAGE_DISCARDED,
  PRESENCE,
  MEMBERS,
  RESUMED,
  FRAME,
  ERROR,
  UNMAPPED,
  HANDSHAKE,
  HEARTBEAT_MISSED,
  DUPLICATE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void start_attempt        (TincanConnection *self);
static void schedule_reconnect   (TincanConnection *self);
static void socket_lost          (TincanConnection *self,
                                  guint             code,
                                  const char       *reason);
static void schedule_pump        (TincanConnection *self);
static void arm_watchdog         (TincanConnection *self);
static void check_connection_now (TincanConnection *self);

/* Small property helpers (notify only on change) */

static void
set_state (TincanConnection     *self,
           TincanConnectionState state)
{
  if (self->state == state)
    return;

  g_debug ("%s → %s", tincan_connection_state_to_string (self->state),
           tincan_connection_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_attempt (TincanConnection *self,
             guint             attempt)
{
  if (self->attempt == attempt)
    return;

  self->attempt = attempt;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPT]);
}

static void
set_retry_at (TincanConnection *self,
              gint64            retry_at)
{
  if (self->retry_at == retry_at)
    return;

  self->retry_at = retry_at;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRY_AT]);
}

static void
set_latency (TincanConnection *self,
             int               latency)
{
  if (self->latency == latency)
    return;

  self->latency = latency;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LATENCY]);
}

static void
set_close (TincanConnection *self,
           guint             code,
           const char       *reason)
{
  if (self->close_code != code)
    {
      self->close_code = code;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSE_CODE]);
    }

  if (g_strcmp0 (self->close_reason, reason) != 0)
    {
      g_free (self->close_reason);
      self->close_reason = g_strdup (reason);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSE_REASON]);
    }
}

/* Takes @error. */
static void
take_last_error (TincanConnection *self,
                 GError           *error)
{
  if (self->last_error == NULL && error == NULL)
    return;

  if (self->last_error != NULL && error != NULL &&
      self->last_error->domain == error->domain &&
      self->last_error->code == error->code &&
      g_strcmp0 (self->last_error->message, error->message) == 0)
    {
      g_error_free (error);
      return;
    }

  if (error != NULL)
    g_debug ("last error: %s", error->message);

  g_clear_error (&self->last_error);
  self->last_error = error;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
set_string_prop (TincanConnection *self,
                 char            **field,
                 const char       *value,
                 guint             prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;

  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_rooms (TincanConnection   *self,
           const char * const *rooms)
{
  if (self->rooms != NULL && rooms != NULL &&
      g_strv_equal ((const char * const *) self->rooms, rooms))
    return;

  g_strfreev (self->rooms);
  self->rooms = rooms != NULL ? g_strdupv ((char **) rooms) : g_new0 (char *, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROOMS]);
}

static void
notify_queued_count (TincanConnection *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QUEUED_COUNT]);
}

static guint
outbox_count (TincanConnection *self)
{
  return self->waiting.length + self->inflight.length;
}

static void
report_error (TincanConnection *self,
              const GError     *error)
{
  g_debug ("reported: %s", error->message);
  g_signal_emit (self, signals[ERROR], 0, error);
}

static guint
profile_uint (TincanConnection *self,
              const char       *name)
{
  guint value = 0;

  g_object_get (self->profile, name, &value, NULL);
  return value;
}

static const char *
sender_name (TincanConnection *self)
{
  const char *user;

  if (self->user != NULL)
    return self->user;

  user = tincan_profile_get_user (self->profile);
  return user != NULL && *user != '\0' ? user : g_get_user_name ();
}

static gboolean
protocol_has (TincanConnection   *self,
              TincanProtocolFlags flag)
{
  return self->protocol != NULL && (tincan_protocol_get_flags (self->protocol) & flag) != 0;
}

/* Network */

static gboolean
host_is_loopback (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *host;

  if (url == NULL || (uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL)) == NULL)
    return FALSE;

  host = g_uri_get_host (uri);
  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;

  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

static gboolean
network_ok (TincanConnection *self)
{
  if (self->sim_offline)
    return FALSE;

  if (self->network_available)
    return TRUE;

  /* The system monitor speaks of routes to the outside; a local server is
   * reachable without them. A monitor given to us is taken at its word. */
  return self->monitor_is_default && host_is_loopback (tincan_profile_get_url (self->profile));
}

/* Timers */

static void
stop_liveness (TincanConnection *self)
{
  g_clear_handle_id (&self->watchdog_source, g_source_remove);
  g_clear_handle_id (&self->heartbeat_source, g_source_remove);
  g_clear_handle_id (&self->expire_source, g_source_remove);
  self->probe_deadline_us = 0;
  self->probe_start_us = 0;
  self->ping_sent_us = 0;
  self->awaiting_beat = FALSE;
}

/* Frames out */

static void
emit_frame_at (TincanConnection    *self,
               TincanFrameDirection direction,
               TincanOpcode         opcode,
               GBytes              *payload,
               gint64               real_us)
{
  g_signal_emit (self, signals[FRAME], 0, direction, opcode, payload, real_us);
}

static void
emit_frame (TincanConnection    *self,
            TincanFrameDirection direction,
            TincanOpcode         opcode,
            GBytes              *payload)
{
  emit_frame_at (self, direction, opcode, payload, g_get_real_time ());
}

static void arm_delayed (TincanConnection *self);

static void
send_now (TincanConnection      *self,
          SoupWebsocketDataType  type,
          TincanOpcode           opcode,
          GBytes                *payload)
{
  soup_websocket_connection_send_message (self->ws, type, payload);
  emit_frame (self, TINCAN_FRAME_DIRECTION_OUT, opcode, payload);
}

static gboolean
delayed_cb (gpointer user_data)
{
  TincanConnection *self = user_data;
  gint64 now = g_get_monotonic_time ();
  DelayedFrame *head;

  self->delayed_source = 0;

  g_object_ref (self);
  while ((head = g_queue_peek_head (&self->delayed)) != NULL && head->due_us <= now)
    {
      g_queue_pop_head (&self->delayed);
      if (self->ws != NULL &&
          soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        send_now (self, head->type, head->opcode, head->payload);
      delayed_frame_free (head);
    }
  arm_delayed (self);
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

/* One timer for the head of the queue: no polling. */
static void
arm_delayed (TincanConnection *self)
{
  DelayedFrame *head = g_queue_peek_head (&self->delayed);
  gint64 delay_ms;

  if (head == NULL || self->delayed_source != 0)
    return;

  delay_ms = MAX (0, (head->due_us - g_get_monotonic_time () + 999) / 1000);
  self->delayed_source = g_timeout_add_full (G_PRIORITY_HIGH, (guint) delay_ms, delayed_cb, self, NULL);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->delayed_source),
                            "[tincan] simulated latency");
}

static void
drop_delayed (TincanConnection *self)
{
  g_clear_handle_id (&self->delayed_source, g_source_remove);
  g_queue_clear_full (&self->delayed, (GDestroyNotify) delayed_frame_free);
}

/* Every data frame goes out here: at once, or after the simulated
 * latency, always in order (and reported on "frame" when it leaves). */
static void
ws_send (TincanConnection      *self,
         SoupWebsocketDataType  type,
         TincanOpcode           opcode,
         GBytes                *payload)
{
  DelayedFrame *delayed;
  DelayedFrame *tail;

  if (self->sim_latency_ms == 0 && self->delayed.length == 0)
    {
      send_now (self, type, opcode, payload);
      return;
    }

  delayed = g_new0 (DelayedFrame, 1);
  delayed->due_us = g_get_monotonic_time () + (gint64) self->sim_latency_ms * 1000;
  tail = g_queue_peek_tail (&self->delayed);
  if (tail != NULL && tail->due_us > delayed->due_us)
    delayed->due_us = tail->due_us;
  delayed->type = type;
  delayed->opcode = opcode;
  delayed->payload = g_bytes_ref (payload);
  g_queue_push_tail (&self->delayed, delayed);
  arm_delayed (self);
}

static gboolean
transmit (TincanConnection  *self,
          const TincanFrame *frame,
          GError           **error)
{
  g_autoptr (GBytes) payload = NULL;
  gboolean binary = FALSE;

  g_assert (self->ws != NULL);

  payload = tincan_protocol_encode (self->protocol, frame, &binary, error);
  if (payload == NULL)
    return error == NULL || *error == NULL;

  if (soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           _("The connection is closed."));
      return FALSE;
    }

  ws_send (self, binary ? SOUP_WEBSOCKET_DATA_BINARY : SOUP_WEBSOCKET_DATA_TEXT,
           binary ? TINCAN_OPCODE_BINARY : TINCAN_OPCODE_TEXT, payload);
  return TRUE;
}

static gboolean
transmit_simple (TincanConnection *self,
                 TincanFrameType   type,
                 const char       *room)
{
  g_autoptr (TincanFrame) frame = tincan_frame_new (type);
  g_autoptr (GError) error = NULL;

  frame->room = g_strdup (room);
  if (!transmit (self, frame, &error))
    {
      report_error (self, error);
      return FALSE;
    }

  return TRUE;
}

/* Sends an application-level ping (when the dialect has one) for the
 * latency, and as a liveness probe. Returns FALSE if it cannot. */
static gboolean
send_app_ping (TincanConnection *self)
{
  g_autoptr (TincanFrame) frame = NULL;
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) error = NULL;
  gboolean binary = FALSE;

  if (self->ws == NULL)
    return FALSE;

  frame = tincan_frame_new (TINCAN_FRAME_PING);
  frame->ping_id = ++self->ping_id;

  payload = tincan_protocol_encode (self->protocol, frame, &binary, &error);
  if (payload == NULL)
    return FALSE;

  if (soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;

  self->ping_sent_us = g_get_monotonic_time ();
  ws_send (self, binary ? SOUP_WEBSOCKET_DATA_BINARY : SOUP_WEBSOCKET_DATA_TEXT,
           binary ? TINCAN_OPCODE_BINARY : TINCAN_OPCODE_TEXT, payload);
  return TRUE;
}

/* Liveness */

static gint64
liveness_window_us (TincanConnection *self)
{
  guint interval = profile_uint (self, "heartbeat-interval");
  guint timeout = profile_uint (self, "heartbeat-timeout");

  /* A dialect whose server drives the heartbeat (Socket.IO's pingInterval
   * + pingTimeout) knows the window better than the profile. */
  if (self->welcome_heartbeat > 0)
    return (gint64) self->welcome_heartbeat * G_USEC_PER_SEC;

  if (interval == 0)
    return 0;

  return (gint64) (interval + timeout) * G_USEC_PER_SEC;
}

/* TRUE if wall time ran ahead of monotonic time since the last check:
 * monotonic time stands still while the machine sleeps. */
static gboolean
clock_jumped (TincanConnection *self)
{
  gint64 mono = g_get_monotonic_time ();
  gint64 real = self->real_clock != NULL ? self->real_clock (self->real_clock_data)
                                         : g_get_real_time ();
  gboolean jumped = FALSE;

  if (self->clock_mono_us != 0)
    {
      gint64 skew = (real - self->clock_real_us) - (mono - self->clock_mono_us);

      jumped = skew > CLOCK_JUMP_US;
    }

  self->clock_mono_us = mono;
  self->clock_real_us = real;
  return jumped;
}

static void
declare_dead (TincanConnection *self)
{
  g_autoptr (GError) error = NULL;

  error = g_error_new_literal (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT,
                               _("The server stopped answering."));
  g_debug ("watchdog: nothing received in time, the connection is dead");
  /* The last miss, the one that ends the socket. */
  self->missed_beats++;
  g_signal_emit (self, signals[HEARTBEAT_MISSED], 0, self->missed_beats,
                 (g_get_monotonic_time () - self->last_rx_us) / 1000);
  g_clear_error (&self->socket_error);
  self->socket_error = g_steal_pointer (&error);
  socket_lost (self, 0, NULL);
}

static gboolean
watchdog_cb (gpointer user_data)
{
  TincanConnection *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 window = liveness_window_us (self);

  self->watchdog_source = 0;

  if (clock_jumped (self))
    {
      g_debug ("watchdog: clock jump (suspend?), checking the connection");
      check_connection_now (self);
      if (self->ws == NULL)
        return G_SOURCE_REMOVE;
    }

  if (self->probe_deadline_us != 0 && now >= self->probe_deadline_us)
    {
      if (self->last_rx_us < self->probe_start_us)
        {
          declare_dead (self);
          return G_SOURCE_REMOVE;
        }
      self->probe_deadline_us = 0;
    }

  if (window != 0 && now - self->last_rx_us >= window)
    {
      declare_dead (self);
      return G_SOURCE_REMOVE;
    }

  /* Alive but not acknowledging: a message the server lost must not stay
   * in "sending" forever. A new socket re-sends it (same cid). Unless the
   * dialect times its requests out itself (JSON-RPC): then it fails them. */
  if (window != 0 && self->inflight.length > 0 && self->expire_source == 0)
    {
      TincanMessage *oldest = g_queue_peek_head (&self->inflight);
      gint64 sent_ms = (gint64) GPOINTER_TO_SIZE (g_object_get_qdata (G_OBJECT (oldest),
                                                                      sent_at_quark));

      if (sent_ms != 0 && now / 1000 - sent_ms >= window / 1000)
        {
          g_debug ("watchdog: no ack for %" G_GINT64_FORMAT " ms, reconnecting",
                   now / 1000 - sent_ms);
          g_clear_error (&self->socket_error);
          self->socket_error = g_error_new_literal (TINCAN_CONNECTION_ERROR,
                                                    TINCAN_CONNECTION_ERROR_TIMEOUT,
                                                    _("The server did not acknowledge a message in time."));
          socket_lost (self, 0, NULL);
          return G_SOURCE_REMOVE;
        }
    }

  arm_watchdog (self);
  return G_SOURCE_REMOVE;
}

/* TRUE when the heartbeat timer ticks more often than the liveness
 * window: every tick then re-arms the watchdog, which need not run
 * between an answered heartbeat and the next one. */
static gboolean
heartbeat_drives_watchdog (TincanConnection *self)
{
  gint64 interval = (gint64) profile_uint (self, "heartbeat-interval") * G_USEC_PER_SEC;

  return self->heartbeat_source != 0 && interval > 0 && interval < liveness_window_us (self);
}

/* Something arrived: the heartbeat in flight is answered. The watchdog
 * is dropped when it has nothing left to watch (cheap: only the first
 * frame after a heartbeat gets past the flag). */
static inline void
note_rx (TincanConnection *self)
{
  self->last_rx_us = g_get_monotonic_time ();
  if (G_UNLIKELY (self->awaiting_beat))
    {
      self->awaiting_beat = FALSE;
      if (self->inflight.length == 0 && self->probe_deadline_us == 0 &&
          heartbeat_drives_watchdog (self))
        g_clear_handle_id (&self->watchdog_source, g_source_remove);
    }
}

/* One timer, re-armed lazily: it fires at the earliest deadline and only
 * then looks at when something last arrived, so traffic costs nothing. */
static void
arm_watchdog (TincanConnection *self)
{
  gint64 window = liveness_window_us (self);
  gint64 deadline = G_MAXINT64;
  gint64 now = g_get_monotonic_time ();
  gint64 delay_ms;

  g_clear_handle_id (&self->watchdog_source, g_source_remove);

  if (self->ws == NULL)
    return;

  /* With a heartbeat running, an idle link is watched only between a
   * heartbeat and whatever answers it (see note_rx()), so an idle
   * connection wakes up for the heartbeat alone. Unacknowledged sends
   * are always watched. */
  if (window != 0 &&
      (!heartbeat_drives_watchdog (self) || self->awaiting_beat || self->inflight.length > 0))
    deadline = self->last_rx_us + window;
  if (self->probe_deadline_us != 0)
    deadline = MIN (deadline, self->probe_deadline_us);
  if (deadline == G_MAXINT64)
    return;

  delay_ms = MAX (0, (deadline - now + 999) / 1000);
  self->watchdog_source = g_timeout_add ((guint) MIN (delay_ms, G_MAXUINT), watchdog_cb, self);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->watchdog_source),
                            "[tincan] connection watchdog");
}

static gboolean
heartbeat_cb (gpointer user_data)
{
  TincanConnection *self = user_data;

  /* Timers run on monotonic time, which stands still during suspend, so
   * this one fires within an interval of waking up: a good moment to look
   * for a jump when there is no traffic to run the watchdog. */
  if (clock_jumped (self))
    {
      g_debug ("heartbeat: clock jump (suspend?), checking the connection");
      check_connection_now (self);
      return G_SOURCE_CONTINUE;
    }

  if (self->ws != NULL && self->established)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 window = liveness_window_us (self);
      gint64 half = (gint64) profile_uint (self, "heartbeat-interval") * G_USEC_PER_SEC / 2;

      /* Nothing at all (pong, app pong, data) since the previous tick: a
       * heartbeat went unanswered. When the watchdog is about to give up,
       * it reports that miss itself, right before the reconnect. */
      if (self->last_beat_us != 0 && self->last_rx_us < self->last_beat_us &&
          (window == 0 || now + half < self->last_rx_us + window))
        {
          self->missed_beats++;
          g_debug ("heartbeat missed (%u in a row)", self->missed_beats);
          g_signal_emit (self, signals[HEARTBEAT_MISSED], 0, self->missed_beats,
                         (now - self->last_rx_us) / 1000);
        }
      else if (self->last_rx_us >= self->last_beat_us)
        self->missed_beats = 0;
      self->last_beat_us = now;
      send_app_ping (self);
      self->awaiting_beat = TRUE;
      if (self->watchdog_source == 0)
        arm_watchdog (self);
    }

  return G_SOURCE_CONTINUE;
}

static void
start_liveness (TincanConnection *self)
{
  guint interval = profile_uint (self, "heartbeat-interval");

  stop_liveness (self);
  self->last_rx_us = g_get_monotonic_time ();
  self->last_beat_us = 0;
  self->missed_beats = 0;
  clock_jumped (self);
  arm_watchdog (self);

  if (interval > 0)
    self->heartbeat_source = g_timeout_add_seconds (interval, heartbeat_cb, self);
}

/* After a wake-up (or a clock jump): is the socket still there? */
static void
check_connection_now (TincanConnection *self)
{
  switch (self->state)
    {
    case TINCAN_CONNECTION_STATE_CONNECTED:
    case TINCAN_CONNECTION_STATE_CONNECTING:
      if (self->ws == NULL)
        break;
      if (send_app_ping (self))
        {
          guint timeout = CLAMP (profile_uint (self, "heartbeat-timeout"), 1, PROBE_TIMEOUT_S);

          self->probe_start_us = g_get_monotonic_time ();
          self->probe_deadline_us = self->probe_start_us + (gint64) timeout * G_USEC_PER_SEC;
          arm_watchdog (self);
        }
      else
        {
          /* No way to probe: a fresh socket is cheaper than a dead one. */
          g_debug ("cannot probe the connection, reconnecting");
          socket_lost (self, 0, NULL);
        }
      break;

    case TINCAN_CONNECTION_STATE_RECONNECTING:
    case TINCAN_CONNECTION_STATE_OFFLINE:
      if (self->want_connected && network_ok (self))
        start_attempt (self);
      break;

    case TINCAN_CONNECTION_STATE_DISCONNECTED:
    case TINCAN_CONNECTION_STATE_FAILED:
    default:
      break;
    }
}

/* Outbox */

static void
pending_add_tail (TincanConnection *self,
                  TincanMessage    *message)
{
  g_queue_push_tail (&self->waiting, g_object_ref (message));
  g_hash_table_insert (self->pending, (char *) tincan_message_get_cid (message), message);
}

/* Removes @message from the outbox; returns the reference the queue held. */
static TincanMessage *
pending_steal (TincanConnection *self,
               TincanMessage    *message)
{
  GList *link;

  g_hash_table_remove (self->pending, tincan_message_get_cid (message));

  if ((link = g_queue_find (&self->inflight, message)) != NULL)
    g_queue_delete_link (&self->inflight, link);
  else if ((link = g_queue_find (&self->waiting, message)) != NULL)
    g_queue_delete_link (&self->waiting, link);
  else
    return NULL;

  return message;
}

static void
remember_awaiting_echo (TincanConnection *self,
                        TincanMessage    *message)
{
  char *cid = g_strdup (tincan_message_get_cid (message));

  if (cid == NULL || g_hash_table_contains (self->awaiting_echo, cid))
    {
      g_free (cid);
      return;
    }

  g_hash_table_insert (self->awaiting_echo, cid, g_object_ref (message));
  g_queue_push_tail (&self->awaiting_order, cid);

  while (self->awaiting_order.length > MAX_AWAITING_ECHO)
    {
      char *oldest = g_queue_pop_head (&self->awaiting_order);

      g_hash_table_remove (self->awaiting_echo, oldest);
    }
}

static void
forget_awaiting_echo (TincanConnection *self,
                      const char       *cid)
{
  GList *link;
  char *key = NULL;

  if (!g_hash_table_lookup_extended (self->awaiting_echo, cid, (gpointer *) &key, NULL))
    return;

  /* The echo usually comes right after the ack: search from the tail. */
  for (link = self->awaiting_order.tail; link != NULL; link = link->prev)
    if (link->data == key)
      {
        g_queue_delete_link (&self->awaiting_order, link);
        break;
      }

  g_hash_table_remove (self->awaiting_echo, key);
}

/* Adds @id of @room to the recent ones, in place of the oldest; FALSE
 * if it is among them already. */
static gboolean
remember_id (TincanConnection *self,
             const char       *room,
             const char       *id)
{
  return tincan_recent_set_add (self->recent_ids, tincan_fingerprint2 (room, id));
}

static gint64 *
last_seq_slot (TincanConnection *self,
               const char       *room)
{
  gint64 *slot = g_hash_table_lookup (self->last_seq, room);

  if (slot == NULL)
    {
      slot = g_new (gint64, 1);
      *slot = tincan_store_get_last_seq (self->store, room);
      g_hash_table_insert (self->last_seq, g_strdup (room), slot);
    }

  return slot;
}

static void
note_seq (TincanConnection *self,
          const char       *room,
          gint64            seq)
{
  gint64 *slot;

  if (room == NULL || seq <= 0)
    return;

  slot = last_seq_slot (self, room);
  if (seq > *slot)
    *slot = seq;
}

static void
mark_delivered (TincanConnection  *self,
                TincanMessage     *message,
                const TincanFrame *frame)
{
  g_autoptr (TincanMessage) owned = NULL;

  if (frame->id != NULL)
    tincan_message_set_id (message, frame->id);
  if (frame->seq > 0)
    tincan_message_set_seq (message, frame->seq);
  if (frame->ts > 0)
    tincan_message_set_timestamp (message, frame->ts);
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_store_save (self->store, message);

  owned = pending_steal (self, message);
  remember_awaiting_echo (self, message);
  g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
  notify_queued_count (self);
  schedule_pump (self);
}

static void
mark_failed (TincanConnection *self,
             TincanMessage    *message,
             const char       *reason)
{
  g_autoptr (TincanMessage) owned = NULL;

  tincan_message_set_failed (message, reason);
  tincan_store_save (self->store, message);

  owned = pending_steal (self, message);
  g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
  notify_queued_count (self);
  schedule_pump (self);
}

/* Puts every message sent on a socket that is gone back in front of the
 * waiting ones, in order, to be sent again with the same cid. */
static void
requeue_inflight (TincanConnection *self)
{
  g_autoptr (GPtrArray) changed = g_ptr_array_new_with_free_func (g_object_unref);
  TincanMessage *message;
  TincanMessage *oldest = g_queue_peek_head (&self->inflight);
  guint lost_with = 0;

  if (oldest != NULL)
    {
      gint64 sent_at = (gint64) GPOINTER_TO_SIZE (g_object_get_qdata (G_OBJECT (oldest), sent_at_quark));
      gboolean alone = self->inflight.length == 1;
      gboolean soon = g_get_monotonic_time () / 1000 - sent_at < SUSPECT_WINDOW_MS;

      /* The first loss only makes it a suspect, which is then sent alone
       * (see pump_cb); after that only a loss while it was alone on the
       * wire, soon after it went out, counts against it. A server that
       * keeps restarting cannot frame a message this way. */
      lost_with = GPOINTER_TO_UINT (g_object_get_qdata (G_OBJECT (oldest), lost_with_quark));
      if (lost_with == 0 || (alone && soon))
        lost_with++;
      g_object_set_qdata (G_OBJECT (oldest), lost_with_quark, GUINT_TO_POINTER (lost_with));
    }

  while ((message = g_queue_pop_tail (&self->inflight)) != NULL)
    {
      g_queue_push_head (&self->waiting, message);
      if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_SENDING)
        g_ptr_array_add (changed, g_object_ref (message));
    }

  for (guint i = changed->len; i > 0; i--)
    {
      message = g_ptr_array_index (changed, i - 1);
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_QUEUED);
      g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
    }

  if (lost_with >= MAX_LOST_WITH_MESSAGE)
    {
      g_autofree char *reason = NULL;

      reason = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                             "The connection was lost each time this message was sent (%u time); the server may refuse it (too large?)",
                                             "The connection was lost each time this message was sent (%u times); the server may refuse it (too large?)",
                                             lost_with),
                                lost_with);
      g_object_set_qdata (G_OBJECT (oldest), lost_with_quark, NULL);
      mark_failed (self, oldest, reason);
    }
}

static void handle_frame (TincanConnection *self,
                          TincanFrame      *frame);

/* JSON-RPC requests time out in the dialect; a timer asks it which did,
 * only while requests are outstanding. */
static gboolean
expire_cb (gpointer user_data)
{
  TincanConnection *self = user_data;
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  gboolean keep = TRUE;

  if (self->ws == NULL || self->inflight.length == 0 ||
      !TINCAN_IS_PROTOCOL_JSONRPC (self->protocol))
    {
      self->expire_source = 0;
      return G_SOURCE_REMOVE;
    }

  tincan_protocol_jsonrpc_expire (TINCAN_PROTOCOL_JSONRPC (self->protocol),
                                  tincan_now_ms (), frames);

  g_object_ref (self);
  for (guint i = 0; i < frames->len; i++)
    handle_frame (self, g_ptr_array_index (frames, i));

  /* Handling the frames may have stopped the timer (socket gone). */
  if (self->expire_source == 0)
    keep = FALSE;
  else if (self->ws == NULL || self->inflight.length == 0)
    {
      self->expire_source = 0;
      keep = FALSE;
    }
  g_object_unref (self);

  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
arm_expiry (TincanConnection *self)
{
  guint timeout_ms = 0;

  if (self->expire_source != 0 || self->inflight.length == 0 ||
      !TINCAN_IS_PROTOCOL_JSONRPC (self->protocol))
    return;

  g_object_get (self->protocol, "request-timeout-ms", &timeout_ms, NULL);
  if (timeout_ms == 0)
    return;

  self->expire_source = g_timeout_add (CLAMP (timeout_ms / 4, 50, 1000), expire_cb, self);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->expire_source),
                            "[tincan] request timeouts");
}

static gboolean
is_suspect (TincanMessage *message)
{
  return message != NULL && g_object_get_qdata (G_OBJECT (message), lost_with_quark) != NULL;
}

/* With acks: room in the window, and a suspect (a message that was the
 * oldest unacknowledged one when a socket died) travels alone, so a
 * further loss can be pinned on it or cleared by its ack. */
static gboolean
may_transmit_next (TincanConnection *self,
                   guint             window)
{
  if (self->inflight.length >= window)
    return FALSE;
  if (is_suspect (g_queue_peek_head (&self->inflight)))
    return FALSE;
  if (is_suspect (g_queue_peek_head (&self->waiting)) && self->inflight.length > 0)
    return FALSE;
  return TRUE;
}

/* Puts on disk the messages the pump may send now (the next @window
 * unacknowledged ones, or all of them without acks). */
static TincanStoreDurability
make_outbox_durable (TincanConnection  *self,
                     gboolean           acks,
                     guint              window,
                     GError           **error)
{
  guint room = !acks ? G_MAXUINT : self->inflight.length < window ? window - self->inflight.length : 1;
  g_autoptr (GPtrArray) next = g_ptr_array_new ();
  guint n = 0;

  for (GList *l = self->waiting.head; l != NULL && n < room; l = l->next, n++)
    g_ptr_array_add (next, l->data);

  return tincan_store_make_durable (self->store, (TincanMessage * const *) next->pdata, next->len, error);
}

static void
on_store_written (TincanConnection *self)
{
  if (!self->pump_waits_store)
    return;

  self->pump_waits_store = FALSE;
  schedule_pump (self);
}

static gboolean
pump_cb (gpointer user_data)
{
  TincanConnection *self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean acks = protocol_has (self, TINCAN_PROTOCOL_FLAG_ACKS);
  guint window = MAX (1, profile_uint (self, "send-window"));
  self->pump_source = 0;

  if (self->state != TINCAN_CONNECTION_STATE_CONNECTED || self->ws == NULL)
    return G_SOURCE_REMOVE;
  if (self->waiting.length == 0 || (acks && self->inflight.length >= window))
    return G_SOURCE_REMOVE;

  /* Nothing goes on the wire before it is on disk. (Only the messages
   * about to go out need it: other saves, such as the states acks just
   * set, wait for the store's own batch.) While the store's worker writes
   * a batch that holds them, the pump waits for it ("written"), and the
   * main loop goes on meanwhile. */
  switch (make_outbox_durable (self, acks, window, &error))
    {
    case TINCAN_STORE_DURABLE:
      break;
    case TINCAN_STORE_BUSY:
      self->pump_waits_store = TRUE;
      return G_SOURCE_REMOVE;
    case TINCAN_STORE_FAILED:
    default:
      {
        g_autoptr (GError) reported = NULL;

        reported = g_error_new (TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_IO,
                                _("Could not save the outbox, not sending: %s"), error->message);
        report_error (self, reported);
        self->pump_source = g_timeout_add_seconds (1, pump_cb, self);
        return G_SOURCE_REMOVE;
      }
    }

  g_object_ref (self);

  while (self->ws != NULL && self->state == TINCAN_CONNECTION_STATE_CONNECTED &&
         self->waiting.length > 0 && (!acks || may_transmit_next (self, window)))
    {
      g_autoptr (TincanMessage) message = g_queue_pop_head (&self->waiting);
      g_autoptr (TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_SEND);
      g_autoptr (GError) local_error = NULL;

      frame->room = g_strdup (tincan_message_get_room (message));
      frame->cid = g_strdup (tincan_message_get_cid (message));
      frame->text = g_strdup (tincan_message_get_text (message));

      if (!transmit (self, frame, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED))
            {
              g_queue_push_head (&self->waiting, g_steal_pointer (&message));
              break;
            }

          /* The dialect cannot encode it: that message fails, not the rest. */
          g_queue_push_head (&self->inflight, g_object_ref (message));
          mark_failed (self, message, local_error->message);
          continue;
        }

      if (acks)
        {
          /* Not saved: queued and sending are both "in the outbox" on disk,
           * and a write per transmission would only slow the stream. */
          tincan_message_set_state (message, TINCAN_MESSAGE_STATE_SENDING);
          g_object_set_qdata (G_OBJECT (message), sent_at_quark,
                              GSIZE_TO_POINTER ((gsize) (g_get_monotonic_time () / 1000)));
          g_queue_push_tail (&self->inflight, g_object_ref (message));
          g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
          arm_expiry (self);
          if (self->watchdog_source == 0)
            arm_watchdog (self);
        }
      else
        {
          g_hash_table_remove (self->pending, tincan_message_get_cid (message));
          tincan_message_set_state (message, TINCAN_MESSAGE_STATE_SENT);
          tincan_store_save (self->store, message);
          g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
          notify_queued_count (self);
        }
    }

  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_pump (TincanConnection *self)
{
  if (self->pump_source != 0 || self->waiting.length == 0)
    return;
  if (self->state != TINCAN_CONNECTION_STATE_CONNECTED)
    return;

  self->pump_source = g_idle_add_full (G_PRIORITY_DEFAULT, pump_cb, self, NULL);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->pump_source),
                            "[tincan] outbox pump");
}

/* Incoming frames */

/* A message the connection recognised as a repeat and dropped, for
 * "duplicate": not stored, not shown. */
static void
emit_duplicate_frame (TincanConnection  *self,
                      const char        *room,
                      const TincanFrame *frame)
{
  g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);

  tincan_message_set_room (message, room);
  tincan_message_set_id (message, frame->id);
  tincan_message_set_cid (message, frame->cid);
  tincan_message_set_sender (message, frame->user);
  tincan_message_set_text (message, frame->text);
  tincan_message_set_seq (message, frame->seq);
  tincan_message_set_timestamp (message, frame->ts);
  tincan_message_set_local_timestamp (message, tincan_now_ms ());
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  g_signal_emit (self, signals[DUPLICATE], 0, message);
}

static void
handle_own_echo (TincanConnection  *self,
                 TincanMessage     *message,
                 const TincanFrame *frame)
{
  gboolean changed = FALSE;

  /* A delivered message has its place; the same cid broadcast again with
   * another seq is a server that did not deduplicate a re-send. */
  if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_DELIVERED &&
      tincan_message_get_seq (message) > 0 && frame->seq > 0 &&
      tincan_message_get_seq (message) != frame->seq)
    {
      g_debug ("message %s #%" G_GINT64_FORMAT " repeats #%" G_GINT64_FORMAT " (same cid)",
               tincan_message_get_room (message), frame->seq, tincan_message_get_seq (message));
      emit_duplicate_frame (self, tincan_message_get_room (message), frame);
      return;
    }

  if (frame->id != NULL && g_strcmp0 (tincan_message_get_id (message), frame->id) != 0)
    {
      tincan_message_set_id (message, frame->id);
      changed = TRUE;
    }
  if (frame->seq > 0 && tincan_message_get_seq (message) != frame->seq)
    {
      tincan_message_set_seq (message, frame->seq);
      changed = TRUE;
    }
  if (frame->ts > 0 && tincan_message_get_timestamp (message) != frame->ts)
    {
      tincan_message_set_timestamp (message, frame->ts);
      changed = TRUE;
    }
  if (tincan_message_get_state (message) != TINCAN_MESSAGE_STATE_DELIVERED)
    {
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
      changed = TRUE;
    }

  if (changed)
    {
      tincan_store_save (self->store, message);
      g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
    }
}

/* Where a frame with no room goes: the backend has no notion of rooms
 * (plain, most Socket.IO and JSON-RPC chats), so it is the profile's
 * first room, or the first one joined later, or "lobby". */
static const char *
default_room (TincanConnection *self)
{
  const char * const *rooms = tincan_profile_get_rooms (self->profile);

  if (rooms != NULL && rooms[0] != NULL && *rooms[0] != '\0')
    return rooms[0];
  if (self->extra_rooms->len > 0)
    return g_ptr_array_index (self->extra_rooms, 0);

  return "lobby";
}

/* Takes the strings the new message keeps from @frame. */
static void
handle_message (TincanConnection *self,
                TincanFrame      *frame)
{
  g_autoptr (TincanMessage) message = NULL;
  const char *room = frame->room != NULL ? frame->room : default_room (self);
  TincanMessage *own;
  gint64 *slot;

  if (frame->cid != NULL)
    {
      /* The echo of a message of ours: it updates the local one. */
      if ((own = g_hash_table_lookup (self->pending, frame->cid)) != NULL)
        {
          note_seq (self, room, frame->seq);
          mark_delivered (self, own, frame);
          forget_awaiting_echo (self, frame->cid);
          return;
        }

      if ((own = g_hash_table_lookup (self->awaiting_echo, frame->cid)) != NULL)
        {
          note_seq (self, room, frame->seq);
          handle_own_echo (self, own, frame);
          forget_awaiting_echo (self, frame->cid);
          return;
        }

      /* Ours from an earlier run or another device of the same user? */
      if (g_strcmp0 (frame->user, sender_name (self)) == 0)
        {
          g_autoptr (TincanMessage) stored = tincan_store_lookup_cid (self->store, frame->cid);

          if (stored != NULL && tincan_message_is_outgoing (stored))
            {
              note_seq (self, room, frame->seq);
              handle_own_echo (self, stored, frame);
              return;
            }
        }
    }

  slot = last_seq_slot (self, room);
  if (frame->seq > 0 && frame->seq <= *slot)
    {
      g_debug ("duplicate message %s #%" G_GINT64_FORMAT " ignored", room, frame->seq);
      emit_duplicate_frame (self, room, frame);
      return;
    }
  if (frame->seq > 0)
    *slot = frame->seq;

  /* A new seq under an id already seen: shown (it is another message),
   * but the server is told off. */
  if (frame->id != NULL && !remember_id (self, room, frame->id))
    {
      g_autoptr (GError) error = NULL;

      error = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_PROTOCOL,
                           _("The server reused the id “%s” for another message."),
                           frame->id);
      report_error (self, error);
    }

  /* Nothing reads the frame after this: its strings move to the message. */
  message = _tincan_message_new_take (TINCAN_MESSAGE_DIRECTION_INCOMING,
                                      room == frame->room ? g_steal_pointer (&frame->room)
                                                          : g_strdup (room),
                                      g_steal_pointer (&frame->id),
                                      g_steal_pointer (&frame->cid),
                                      g_steal_pointer (&frame->user),
                                      g_steal_pointer (&frame->text),
                                      frame->seq, frame->ts,
                                      self->incoming_received_ms != 0 ? self->incoming_received_ms
                                                                      : tincan_now_ms (),
                                      TINCAN_MESSAGE_STATE_DELIVERED, NULL);
  tincan_store_save (self->store, message);

  g_signal_emit (self, signals[MESSAGE_RECEIVED], 0, message);
}

/* A frame the dialect maps to nothing: kept as an incoming message, shown
 * as unmapped (tincan_connection_message_is_unmapped()), never dropped. */
static void
handle_unmapped (TincanConnection  *self,
                 const TincanFrame *frame)
{
  g_autoptr (TincanMessage) message = NULL;
  g_autofree char *uuid = tincan_uuid_new ();
  g_autofree char *id = g_strconcat (TINCAN_UNMAPPED_ID_PREFIX, uuid, NULL);
  g_autofree char *text = NULL;
  gsize size = 0;
  const guint8 *data = NULL;

  if (frame->raw != NULL)
    data = g_bytes_get_data (frame->raw, &size);

  if (frame->binary || (size > 0 && memchr (data, '\0', size) != NULL))
    {
      g_autoptr (GString) hex = g_string_new (NULL);
      gsize shown = MIN (size, 32);

      for (gsize i = 0; i < shown; i++)
        g_string_append_printf (hex, i == 0 ? "%02x" : " %02x", data[i]);
      if (shown < size)
        g_string_append (hex, " …");

      text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "Binary frame, %lu byte: %s",
                                           "Binary frame, %lu bytes: %s",
                                           (gulong) size),
                              (unsigned long) size, hex->str);
    }
  else
    text = g_utf8_make_valid (size > 0 ? (const char *) data : "", size);

  message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  tincan_message_set_room (message, frame->room != NULL ? frame->room : default_room (self));
  tincan_message_set_id (message, id);
  tincan_message_set_text (message, text);
  tincan_message_set_local_timestamp (message, tincan_now_ms ());
  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
  tincan_store_save (self->store, message);

  g_signal_emit (self, signals[UNMAPPED], 0, message, frame->raw, frame->binary);
  g_signal_emit (self, signals[MESSAGE_RECEIVED], 0, message);
}

static gboolean
strv_contains0 (const char * const *strv,
                const char         *str)
{
  return strv != NULL && str != NULL && g_strv_contains (strv, str);
}

static GPtrArray *
rooms_wanted (TincanConnection *self)
{
  GPtrArray *rooms = g_ptr_array_new ();
  const char * const *profile_rooms = tincan_profile_get_rooms (self->profile);

  for (guint i = 0; profile_rooms != NULL && profile_rooms[i] != NULL; i++)
    g_ptr_array_add (rooms, (char *) profile_rooms[i]);

  for (guint i = 0; i < self->extra_rooms->len; i++)
    if (!strv_contains0 (profile_rooms, g_ptr_array_index (self->extra_rooms, i)))
      g_ptr_array_add (rooms, g_ptr_array_index (self->extra_rooms, i));

  return rooms;
}

static void
established (TincanConnection   *self,
             const char * const *welcomed_rooms)
{
  g_autoptr (GPtrArray) wanted = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) joined = NULL;

  if (self->established)
    return;

  self->established = TRUE;
  g_clear_error (&self->socket_error);
  tincan_backoff_connected (self->backoff, g_get_monotonic_time ());

  wanted = rooms_wanted (self);
  if (welcomed_rooms != NULL)
    g_strv_builder_addv (builder, (const char **) welcomed_rooms);

  if (protocol_has (self, TINCAN_PROTOCOL_FLAG_ROOMS))
    for (guint i = 0; i < wanted->len && self->ws != NULL; i++)
      {
        const char *room = g_ptr_array_index (wanted, i);

        if (strv_contains0 (welcomed_rooms, room))
          continue;
        if (transmit_simple (self, TINCAN_FRAME_JOIN, room))
          g_strv_builder_add (builder, room);
      }
  else if (welcomed_rooms == NULL)
    /* No rooms on the wire: the profile's rooms are where messages go. */
    for (guint i = 0; i < wanted->len; i++)
      g_strv_builder_add (builder, g_ptr_array_index (wanted, i));

  if (self->ws == NULL)
    return;

  joined = g_strv_builder_end (builder);
  set_rooms (self, (const char * const *) joined);
  take_last_error (self, NULL);
  set_close (self, 0, NULL);
  set_state (self, TINCAN_CONNECTION_STATE_CONNECTED);

  send_app_ping (self);
  schedule_pump (self);
}

static void release_socket (TincanConnection *self,
                            gushort           code,
                            const char       *reason);
static void fail           (TincanConnection *self,
                            GError           *error);

/* An error that ends the session for good: a Socket.IO CONNECT_ERROR or
 * server-side disconnect, an authentication refusal. (tincan.v1 follows
 * its unauthorized error with close code 4001, which says the same.) */
static gboolean
is_terminal_error (TincanConnection  *self,
                   const TincanFrame *frame)
{
  if (frame->cid != NULL || frame->code == NULL || TINCAN_IS_PROTOCOL_V1 (self->protocol))
    return FALSE;

  return g_str_equal (frame->code, "connect_error") ||
         g_str_equal (frame->code, "unauthorized") ||
         g_str_equal (frame->code, "server_disconnect");
}

static void
fail_terminal (TincanConnection  *self,
               const TincanFrame *frame)
{
  const char *why = frame->message != NULL && *frame->message != '\0' ? frame->message
                                                                        : frame->code;
  GError *error;

  error = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TERMINAL,
                       _("The server ended the session: %s"), why);
  g_debug ("terminal error from the server (%s), not reconnecting", frame->code);

  self->generation++;
  stop_liveness (self);
  g_clear_handle_id (&self->pump_source, g_source_remove);
  release_socket (self, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  self->established = FALSE;
  g_clear_error (&self->socket_error);
  tincan_protocol_reset (self->protocol);
  tincan_backoff_disconnected (self->backoff, g_get_monotonic_time ());
  requeue_inflight (self);
  fail (self, error);
}

/* handle_message() takes strings from @frame: it is freed after. */
static void
handle_frame (TincanConnection *self,
              TincanFrame      *frame)
{
  TincanMessage *message;

  switch (frame->type)
    {
    case TINCAN_FRAME_WELCOME:
      if (frame->heartbeat > 0 && !TINCAN_IS_PROTOCOL_V1 (self->protocol) &&
          self->welcome_heartbeat != (guint) frame->heartbeat)
        {
          self->welcome_heartbeat = (guint) frame->heartbeat;
          arm_watchdog (self);
        }
      set_string_prop (self, &self->user, frame->user, PROP_USER);
      set_string_prop (self, &self->session_id, frame->session, PROP_SESSION);
      if (self->established)
        set_rooms (self, (const char * const *) frame->rooms);
      else
        established (self, (const char * const *) frame->rooms);
      break;

    case TINCAN_FRAME_ACK:
      if (frame->cid != NULL && (message = g_hash_table_lookup (self->pending, frame->cid)) != NULL)
        mark_delivered (self, message, frame);
      else if (frame->cid != NULL &&
               (message = g_hash_table_lookup (self->awaiting_echo, frame->cid)) != NULL)
        {
          g_debug ("repeated ack for a delivered message");
          g_signal_emit (self, signals[DUPLICATE], 0, message);
        }
      else
        g_debug ("ack for a message that is not pending");
      break;

    case TINCAN_FRAME_MESSAGE:
      handle_message (self, frame);
      break;

    case TINCAN_FRAME_PRESENCE:
      g_signal_emit (self, signals[PRESENCE], 0, frame->room, frame->user, frame->online);
      break;

    case TINCAN_FRAME_MEMBERS:
      g_signal_emit (self, signals[MEMBERS], 0, frame->room, frame->users);
      break;

    case TINCAN_FRAME_RESUMED:
      note_seq (self, frame->room, frame->seq);
      g_signal_emit (self, signals[RESUMED], 0, frame->room, frame->gap);
      break;

    case TINCAN_FRAME_PONG:
      if (self->ping_sent_us != 0 && frame->ping_id == self->ping_id)
        {
          gint64 rtt = g_get_monotonic_time () - self->ping_sent_us;

          self->ping_sent_us = 0;
          set_latency (self, (int) MIN (rtt / 1000, G_MAXINT));
        }
      break;

    case TINCAN_FRAME_ERROR:
      if (frame->cid != NULL && (message = g_hash_table_lookup (self->pending, frame->cid)) != NULL)
        {
          g_autoptr (GError) error = NULL;
          const char *reason = frame->message != NULL ? frame->message : frame->code;

          error = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_REJECTED,
                               _("The server rejected a message: %s"),
                               reason != NULL ? reason : _("no reason given"));
          mark_failed (self, message, reason != NULL ? reason : _("Rejected by the server"));
          report_error (self, error);
        }
      else if (is_terminal_error (self, frame))
        {
          fail_terminal (self, frame);
        }
      else
        {
          g_autoptr (GError) error = NULL;

          error = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_REJECTED,
                               _("The server reported an error: %s (%s)"),
                               frame->message != NULL ? frame->message : "",
                               frame->code != NULL ? frame->code : "");
          report_error (self, error);
        }
      break;

    case TINCAN_FRAME_REPLY:
      if (frame->raw != NULL && self->ws != NULL)
        {
          ws_send (self, frame->binary ? SOUP_WEBSOCKET_DATA_BINARY : SOUP_WEBSOCKET_DATA_TEXT,
                   frame->binary ? TINCAN_OPCODE_BINARY : TINCAN_OPCODE_TEXT, frame->raw);
        }
      break;

    case TINCAN_FRAME_UNMAPPED:
      handle_unmapped (self, frame);
      break;

    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_HELLO:
    case TINCAN_FRAME_JOIN:
    case TINCAN_FRAME_LEAVE:
    case TINCAN_FRAME_SEND:
    case TINCAN_FRAME_PING:
    default:
      {
        g_autoptr (GError) error = NULL;

        error = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_PROTOCOL,
                             _("The server sent an unexpected “%s” frame."),
                             tincan_frame_type_to_string (frame->type) ?: "invalid");
        report_error (self, error);
      }
      break;
    }
}

/* Socket callbacks */

/* Decodes and handles one received frame, if its socket is still ours. */
static void
handle_incoming (TincanConnection    *self,
                 const IncomingFrame *incoming)
{
  GPtrArray *frames = self->decoded;
  g_autoptr (GError) error = NULL;

  if (self->ws != incoming->ws)
    return;

  if (!tincan_protocol_decode (self->protocol, incoming->binary, incoming->payload, frames, &error))
    {
      g_autoptr (GError) reported = NULL;

      reported = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_PROTOCOL,
                              _("Could not read a frame from the server: %s"), error->message);
      report_error (self, reported);
    }

  self->incoming_received_ms = incoming->received_us / 1000;
  for (guint i = 0; i < frames->len && self->ws == incoming->ws; i++)
    handle_frame (self, g_ptr_array_index (frames, i));
  self->incoming_received_ms = 0;
  g_ptr_array_set_size (frames, 0);
}

static guint
incoming_length (TincanConnection *self)
{
  return self->incoming->len - self->incoming_head;
}

/* Takes the oldest frame waiting. */
static IncomingFrame
incoming_pop (TincanConnection *self)
{
  IncomingFrame frame = g_array_index (self->incoming, IncomingFrame, self->incoming_head++);

  /* The frames handled go once they are INCOMING_COMPACT or more and at
   * least half of the array: at most one frame moved per frame taken,
   * on average. An empty queue goes the same way. */
  if (self->incoming_head >= INCOMING_COMPACT && self->incoming_head * 2 >= self->incoming->len)
    {
      g_array_remove_range (self->incoming, 0, self->incoming_head);
      self->incoming_head = 0;
    }

  return frame;
}

/* Handles queued frames, oldest first, until no more than @keep wait or
 * @deadline_us (monotonic; 0 = no limit) has passed. */
static void
handle_incoming_until (TincanConnection *self,
                       gint64            deadline_us,
                       guint             keep)
{
  if (self->handling_incoming)
    return;

  g_object_ref (self);
  self->handling_incoming = TRUE;

  /* A copy: handling may queue more, which may move the array. */
  while (incoming_length (self) > keep)
    {
      IncomingFrame incoming = incoming_pop (self);

      handle_incoming (self, &incoming);
      g_bytes_unref (incoming.payload);
      if (deadline_us != 0 && g_get_monotonic_time () >= deadline_us)
        break;
    }

  self->handling_incoming = FALSE;
  g_object_unref (self);
}

static gboolean
incoming_cb (gpointer user_data)
{
  TincanConnection *self = user_data;

  handle_incoming_until (self, g_get_monotonic_time () + INCOMING_SLICE_US, 0);

  if (incoming_length (self) > 0)
    return G_SOURCE_CONTINUE;

  self->incoming_source = 0;
  return G_SOURCE_REMOVE;
}

/* Everything received so far is handled now (the socket is about to go). */
static void
drain_incoming (TincanConnection *self)
{
  handle_incoming_until (self, 0, 0);
  if (incoming_length (self) == 0)
    g_clear_handle_id (&self->incoming_source, g_source_remove);
}

static void
drop_incoming (TincanConnection *self)
{
  for (guint i = self->incoming_head; i < self->incoming->len; i++)
    g_bytes_unref (g_array_index (self->incoming, IncomingFrame, i).payload);
  g_array_set_size (self->incoming, 0);
  self->incoming_head = 0;
  g_clear_handle_id (&self->incoming_source, g_source_remove);
}

static void
on_ws_message (SoupWebsocketConnection *ws,
               int                      type,
               GBytes                  *payload,
               gpointer                 user_data)
{
  TincanConnection *self = user_data;
  IncomingFrame incoming = {
    .ws = ws,
    .payload = g_bytes_ref (payload),
    .received_us = g_get_real_time (),
    .binary = type == SOUP_WEBSOCKET_DATA_BINARY,
  };

  note_rx (self);

  emit_frame_at (self, TINCAN_FRAME_DIRECTION_IN,
                 incoming.binary ? TINCAN_OPCODE_BINARY : TINCAN_OPCODE_TEXT, payload,
                 incoming.received_us);

  g_array_append_val (self->incoming, incoming);

  /* Not keeping up: one handled for each one read, so reading goes at
   * the pace of handling and the queue stops growing. */
  handle_incoming_until (self, 0, INCOMING_MAX);

  if (self->incoming_source == 0)
    {
      self->incoming_source = g_idle_add_full (INCOMING_PRIORITY, incoming_cb, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->incoming_source),
                                "[tincan] incoming frames");
    }
}

/* libsoup declares "message" without a C marshaller: every frame would
 * reach on_ws_message() through libffi (g_cclosure_marshal_generic),
 * about 1 000 instructions. This calls it directly. */
static void
marshal_ws_message (GClosure     *closure,
                    GValue       *return_value,
                    guint         n_param_values,
                    const GValue *param_values,
                    gpointer      invocation_hint,
                    gpointer      marshal_data)
{
  g_return_if_fail (n_param_values == 3);

  on_ws_message (g_value_get_object (&param_values[0]),
                 g_value_get_int (&param_values[1]),
                 g_value_get_boxed (&param_values[2]),
                 closure->data);
}

static void
on_ws_pong (SoupWebsocketConnection *ws,
            GByteArray              *message,
            gpointer                 user_data)
{
  TincanConnection *self = user_data;

  note_rx (self);

  if (g_signal_has_handler_pending (self, signals[FRAME], 0, FALSE))
    {
      g_autoptr (GBytes) payload = g_bytes_new (message->data, message->len);

      emit_frame (self, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_PONG, payload);
    }
}

static void
on_ws_error (SoupWebsocketConnection *ws,
             GError                  *error,
             gpointer                 user_data)
{
  TincanConnection *self = user_data;

  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    {
      g_autoptr (GError) reported = NULL;

      reported = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TOO_LARGE,
                              _("The server sent a frame larger than %u bytes."),
                              profile_uint (self, "max-payload"));
      report_error (self, reported);
      g_clear_error (&self->socket_error);
      self->socket_error = g_steal_pointer (&reported);
      return;
    }

  g_debug ("socket error: %s", error->message);
  if (self->socket_error == NULL)
    self->socket_error = g_error_copy (error);
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  TincanConnection *self = user_data;
  guint code = soup_websocket_connection_get_close_code (ws);
  const char *reason = soup_websocket_connection_get_close_data (ws);

  g_object_ref (self);

  if (code != 0 && g_signal_has_handler_pending (self, signals[FRAME], 0, FALSE))
    {
      gsize len = reason != NULL ? strlen (reason) : 0;
      g_autofree guint8 *data = g_malloc (2 + len);
      g_autoptr (GBytes) payload = NULL;

      data[0] = (code >> 8) & 0xff;
      data[1] = code & 0xff;
      if (len > 0)
        memcpy (data + 2, reason, len);
      payload = g_bytes_new (data, 2 + len);
      emit_frame (self, TINCAN_FRAME_DIRECTION_IN, TINCAN_OPCODE_CLOSE, payload);
    }

  if (self->ws == ws)
    drain_incoming (self);
  if (self->ws == ws)
    socket_lost (self, code, reason);

  g_object_unref (self);
}

static void
release_socket (TincanConnection *self,
                gushort           code,
                const char       *reason)
{
  g_autoptr (SoupWebsocketConnection) ws = NULL;
  gboolean abrupt;

  /* What arrived before the end is handled before it (in order: an
   * error frame, then the close that follows it). */
  drain_incoming (self);

  ws = g_steal_pointer (&self->ws);
  abrupt = self->abrupt;
  self->abrupt = FALSE;
  drop_delayed (self);
  if (!self->handling_incoming)
    drop_incoming (self);

  if (ws == NULL)
    return;

  g_signal_handlers_disconnect_by_data (ws, self);

  if (abrupt)
    {
      /* Like a cable pulled: no close frame, the peer sees the TCP
       * connection end. */
      g_io_stream_close (soup_websocket_connection_get_io_stream (ws), NULL, NULL);
    }
  else if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      gsize len = reason != NULL ? strlen (reason) : 0;
      g_autofree guint8 *data = g_malloc (2 + len);
      g_autoptr (GBytes) payload = NULL;

      data[0] = (code >> 8) & 0xff;
      data[1] = code & 0xff;
      if (len > 0)
        memcpy (data + 2, reason, len);
      payload = g_bytes_new (data, 2 + len);
      emit_frame (self, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_CLOSE, payload);

      /* Let the closing handshake finish on its own; it holds the last ref. */
      soup_websocket_connection_close (ws, code, reason);
    }

  if (soup_websocket_connection_get_state (ws) != SOUP_WEBSOCKET_STATE_CLOSED)
    g_signal_connect (ws, "closed", G_CALLBACK (g_object_unref), g_object_ref (ws));
}

static gboolean
is_terminal_code (TincanConnection *self,
                  guint             code)
{
  g_auto (GStrv) extra = NULL;

  if (code == 4001 || code == 4003)
    return TRUE;
  if (code == 0)
    return FALSE;

  g_object_get (self->profile, "terminal-codes", &extra, NULL);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    {
      guint64 value = 0;

      if (g_ascii_string_to_unsigned (g_strstrip (extra[i]), 10, 1000, 4999, &value, NULL) &&
          value == code)
        return TRUE;
    }

  return FALSE;
}

static void
fail (TincanConnection *self,
      GError           *error)
{
  g_clear_handle_id (&self->retry_source, g_source_remove);
  set_retry_at (self, 0);
  take_last_error (self, error);
  set_state (self, TINCAN_CONNECTION_STATE_FAILED);
}

/* The socket is gone (closed by the peer, dropped, or declared dead):
 * decide between failed, disconnected and a new attempt. */
static void
socket_lost (TincanConnection *self,
             guint             code,
             const char       *reason)
{
  g_autoptr (GError) cause = g_steal_pointer (&self->socket_error);

  g_debug ("socket lost (close code %u)", code);

  self->generation++;
  stop_liveness (self);
  release_socket (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  self->established = FALSE;
  tincan_protocol_reset (self->protocol);
  tincan_backoff_disconnected (self->backoff, g_get_monotonic_time ());
  set_attempt (self, tincan_backoff_get_attempt (self->backoff));
  set_close (self, code, reason);
  requeue_inflight (self);

  if (!self->want_connected)
    {
      set_state (self, TINCAN_CONNECTION_STATE_DISCONNECTED);
      return;
    }

  if (is_terminal_code (self, code))
    {
      fail (self, g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TERMINAL,
                               _("The server closed the connection for good (code %u: %s)."),
                               code, reason != NULL && *reason != '\0' ? reason : _("no reason")));
      return;
    }

  if (cause == NULL)
    cause = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                         _("The connection was closed (code %u)."), code);
  take_last_error (self, g_steal_pointer (&cause));
  schedule_reconnect (self);
}

static gboolean
retry_cb (gpointer user_data)
{
  TincanConnection *self = user_data;

  self->retry_source = 0;
  start_attempt (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (TincanConnection *self)
{
  guint delay;

  g_clear_handle_id (&self->retry_source, g_source_remove);

  if (!self->want_connected)
    return;

  if (!network_ok (self))
    {
      set_retry_at (self, 0);
      set_state (self, TINCAN_CONNECTION_STATE_OFFLINE);
      return;
    }

  if (tincan_backoff_is_exhausted (self->backoff))
    {
      fail (self, g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_EXHAUSTED,
                               _("Gave up after %u attempts."),
                               tincan_backoff_get_attempt (self->backoff) + 1));
      return;
    }

  delay = tincan_backoff_next_delay (self->backoff);
  g_debug ("reconnecting in %u ms", delay);
  set_attempt (self, tincan_backoff_get_attempt (self->backoff));
  set_state (self, TINCAN_CONNECTION_STATE_RECONNECTING);
  self->retry_source = g_timeout_add (delay, retry_cb, self);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->retry_source),
                            "[tincan] reconnect");
  set_retry_at (self, g_get_monotonic_time () + (gint64) delay * 1000);
}

/* Connecting */

typedef struct
{
  TincanConnection *self;
  guint             generation;
} AttemptData;

/* libsoup reads the socket at G_PRIORITY_DEFAULT, and reads all that is
 * there in one go: a flood would then starve GTK's redraws and make one
 * long main-loop turn. Its input source goes below the redraw priority,
 * like the handling of what it reads, and the kernel buffers less, so a
 * turn of reading is short and a sender faster than us is slowed by TCP
 * instead of queued here. (libsoup has no API for either; without the
 * source found, nothing changes.) */
#define SOCKET_RCVBUF (256 * 1024)

static void
tame_socket_input (SoupWebsocketConnection *ws)
{
  GIOStream *io = soup_websocket_connection_get_io_stream (ws);
  GInputStream *input = g_io_stream_get_input_stream (io);
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  GIOStream *base = io;

  if (G_IS_POLLABLE_INPUT_STREAM (input) &&
      g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (input)))
    {
      g_autoptr (GSource) probe = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
      GSource *source = g_main_context_find_source_by_funcs_user_data (context, (GSourceFuncs *) probe->source_funcs, ws);

      if (source != NULL)
        g_source_set_priority (source, INCOMING_PRIORITY);
      else
        g_debug ("libsoup's input source not found: reading at its own priority");
    }

  while (base != NULL && !G_IS_SOCKET_CONNECTION (base))
    {
      GIOStream *next = NULL;

      if (g_object_class_find_property (G_OBJECT_GET_CLASS (base), "base-io-stream") == NULL)
        break;
      g_object_get (base, "base-io-stream", &next, NULL);
      if (next != NULL)
        g_object_unref (next);  /* still owned by @base */
      base = next;
    }
  if (base != NULL && G_IS_SOCKET_CONNECTION (base))
    {
      GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (base));
      g_autoptr (GError) error = NULL;

      if (!g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, SOCKET_RCVBUF, &error))
        g_debug ("cannot set the receive buffer: %s", error->message);
    }
}

static void
open_socket (TincanConnection        *self,
             SoupWebsocketConnection *ws)
{
  g_autoptr (TincanFrame) hello = NULL;
  g_autoptr (GPtrArray) wanted = NULL;
  g_autoptr (GError) error = NULL;
  const char *user;

  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws, profile_uint (self, "max-payload"));
  soup_websocket_connection_set_keepalive_interval (ws, profile_uint (self, "heartbeat-interval"));
#if SOUP_CHECK_VERSION(3, 6, 0)
  soup_websocket_connection_set_keepalive_pong_timeout (ws, profile_uint (self, "heartbeat-timeout"));
#endif

  tame_socket_input (ws);

  {
    GClosure *closure = g_cclosure_new (G_CALLBACK (on_ws_message), self, NULL);

    g_closure_set_marshal (closure, marshal_ws_message);
    g_signal_connect_closure (ws, "message", closure, FALSE);
  }
  g_signal_connect (ws, "pong", G_CALLBACK (on_ws_pong), self);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);

  tincan_protocol_reset (self->protocol);
  self->established = FALSE;
  self->welcome_heartbeat = 0;
  start_liveness (self);

  hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  user = tincan_profile_get_user (self->profile);
  hello->user = g_strdup (user != NULL && *user != '\0' ? user : g_get_user_name ());
  hello->token = g_steal_pointer (&self->hello_token);

  if (protocol_has (self, TINCAN_PROTOCOL_FLAG_RESUME))
    {
      wanted = rooms_wanted (self);
      for (guint i = 0; i < wanted->len; i++)
        {
          const char *room = g_ptr_array_index (wanted, i);

          tincan_frame_add_resume (hello, room, *last_seq_slot (self, room));
        }
    }

  if (!transmit (self, hello, &error))
    {
      report_error (self, error);
      socket_lost (self, 0, NULL);
      return;
    }

  if (!protocol_has (self, TINCAN_PROTOCOL_FLAG_WELCOME))
    established (self, NULL);
}

static void set_peer_certificate (TincanConnection     *self,
                                  GTlsCertificate      *certificate,
                                  GTlsCertificateFlags  errors);

static void
on_connect_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AttemptData *data = user_data;
  TincanConnection *self = data->self;
  g_autoptr (SoupWebsocketConnection) ws = NULL;
  g_autoptr (GError) error = NULL;
  SoupMessage *msg;
  guint status;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);

  if (data->generation != self->generation)
    {
      /* A connection nobody waits for any more. */
      if (ws != NULL)
        soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_object_unref (self);
      g_free (data);
      return;
    }

  g_free (data);
  g_clear_handle_id (&self->connect_timeout_source, g_source_remove);
  g_clear_object (&self->attempt_cancellable);
  msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  status = msg != NULL ? soup_message_get_status (msg) : 0;

  if (ws == NULL)
    {
      g_debug ("connection attempt failed: %s (HTTP %u)", error->message, status);
      self->generation++;

      if (self->certificate_error != NULL ||
          g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
        {
          GError *reason = g_steal_pointer (&self->certificate_error);

          if (reason == NULL)
            reason = g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_CERTIFICATE,
                                  _("The server's certificate was refused: %s"), error->message);
          g_debug ("certificate refused, not retrying");
          fail (self, reason);
          g_object_unref (self);
          return;
        }

      if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
        {
          fail (self, g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TERMINAL,
                                   _("The server refused the credentials (HTTP %u)."), status));
          g_object_unref (self);
          return;
        }

      tincan_backoff_disconnected (self->backoff, g_get_monotonic_time ());
      take_last_error (self, g_steal_pointer (&error));
      schedule_reconnect (self);
      g_object_unref (self);
      return;
    }

  g_debug ("socket open (subprotocol %s)", soup_websocket_connection_get_protocol (ws));
  if (msg != NULL)
    set_peer_certificate (self, soup_message_get_tls_peer_certificate (msg),
                          soup_message_get_tls_peer_certificate_errors (msg));
  open_socket (self, g_steal_pointer (&ws));
  g_object_unref (self);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  TincanConnection *self = user_data;

  self->connect_timeout_source = 0;
  g_debug ("connection attempt timed out");

  self->generation++;
  g_cancellable_cancel (self->attempt_cancellable);
  g_clear_object (&self->attempt_cancellable);
  tincan_backoff_disconnected (self->backoff, g_get_monotonic_time ());
  take_last_error (self, g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_TIMEOUT,
                                      _("The server did not answer in time.")));
  schedule_reconnect (self);
  return G_SOURCE_REMOVE;
}

static void
set_peer_certificate (TincanConnection     *self,
                      GTlsCertificate      *certificate,
                      GTlsCertificateFlags  errors)
{
  g_autofree char *fingerprint = tincan_certificate_fingerprint (certificate);

  if (g_set_object (&self->peer_certificate, certificate))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_CERTIFICATE]);

  if (self->peer_certificate_errors != errors)
    {
      self->peer_certificate_errors = errors;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_CERTIFICATE_ERRORS]);
    }

  if (g_strcmp0 (self->peer_fingerprint, fingerprint) != 0)
    {
      g_free (self->peer_fingerprint);
      self->peer_fingerprint = g_steal_pointer (&fingerprint);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_CERTIFICATE_FINGERPRINT]);
    }
}

/* Only the hex digits count, in any case: "AB:cd" pins "abcd". */
static char *
normalize_fingerprint (const char *fingerprint)
{
  GString *hex = g_string_new (NULL);

  for (const char *p = fingerprint; p != NULL && *p != '\0'; p++)
    if (g_ascii_isxdigit (*p))
      g_string_append_c (hex, g_ascii_tolower (*p));

  return g_string_free (hex, FALSE);
}

/* libsoup asks only when verification found a problem: accept the
 * certificate the user pinned for this profile, refuse anything else
 * and remember why, so the attempt fails with a reason a person can
 * act on instead of a generic TLS error and a retry loop. */
static gboolean
on_accept_certificate (SoupMessage         *msg,
                       GTlsCertificate     *certificate,
                       GTlsCertificateFlags errors,
                       gpointer             user_data)
{
  TincanConnection *self = user_data;
  g_autofree char *pinned = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *problems = NULL;

  set_peer_certificate (self, certificate, errors);
  g_clear_error (&self->certificate_error);

  g_object_get (self->profile, "accept-certificate", &pinned, NULL);
  fingerprint = tincan_certificate_fingerprint (certificate);
  problems = tincan_certificate_describe_errors (certificate, errors,
                                                 g_uri_get_host (soup_message_get_uri (msg)));

  if (pinned != NULL && *pinned != '\0' && fingerprint != NULL)
    {
      g_autofree char *want = normalize_fingerprint (pinned);
      g_autofree char *have = normalize_fingerprint (fingerprint);

      if (*want != '\0' && g_str_equal (want, have))
        {
          g_debug ("accepting the pinned certificate despite: %s", problems);
          return TRUE;
        }

      self->certificate_error =
        g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_CERTIFICATE,
                     _("The server presented a different certificate (SHA-256 %s) from the one you trusted for this server (SHA-256 %s). %s"),
                     fingerprint, pinned, problems);
      return FALSE;
    }

  self->certificate_error =
    g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_CERTIFICATE,
                 _("%s Its SHA-256 fingerprint is %s."),
                 problems, fingerprint != NULL ? fingerprint : _("unknown"));
  return FALSE;
}

static char *
build_url (TincanConnection *self,
           const char       *token,
           GError          **error)
{
  const char *url = tincan_profile_get_url (self->profile);
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GUri) with_token = NULL;
  g_autofree char *param = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *query = NULL;
  g_autofree char *joined = NULL;
  GError *local_error = NULL;

  if (!tincan_profile_validate_url (url, &local_error))
    {
      g_set_error_literal (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_INVALID_URL,
                           local_error->message);
      g_error_free (local_error);
      return NULL;
    }

  if (tincan_profile_get_auth_method (self->profile) != TINCAN_AUTH_QUERY || token == NULL)
    return self->protocol != NULL ? tincan_protocol_adjust_url (self->protocol, url)
                                  : g_strdup (url);

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_object_get (self->profile, "auth-param", &param, NULL);
  escaped = g_uri_escape_string (token, NULL, FALSE);
  if (g_uri_get_query (uri) != NULL && *g_uri_get_query (uri) != '\0')
    query = g_strdup_printf ("%s&%s=%s", g_uri_get_query (uri), param ?: "token", escaped);
  else
    query = g_strdup_printf ("%s=%s", param ?: "token", escaped);

  with_token = g_uri_build (G_URI_FLAGS_ENCODED,
                            g_uri_get_scheme (uri), g_uri_get_userinfo (uri),
                            g_uri_get_host (uri), g_uri_get_port (uri),
                            g_uri_get_path (uri), query, g_uri_get_fragment (uri));
  joined = g_uri_to_string (with_token);

  return self->protocol != NULL ? tincan_protocol_adjust_url (self->protocol, joined)
                                : g_steal_pointer (&joined);
}

static gboolean
strv_equal0 (const char * const *a,
             const char * const *b)
{
  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);

  return g_strv_equal (a, b);
}

/* (Re)builds the dialect from the profile's protocol and options when they
 * changed since it was built; never while a socket uses it. */
static gboolean
ensure_protocol (TincanConnection *self,
                 GError          **error)
{
  const char *name = tincan_profile_get_protocol (self->profile);
  g_auto (GStrv) options = NULL;
  g_autoptr (GError) local_error = NULL;

  g_object_get (self->profile, "protocol-options", &options, NULL);

  if (self->protocol != NULL && g_strcmp0 (self->protocol_name, name) == 0 &&
      strv_equal0 ((const char * const *) self->protocol_options, (const char * const *) options))
    return TRUE;

  g_assert (self->ws == NULL);

  g_clear_object (&self->protocol);
  g_clear_pointer (&self->protocol_name, g_free);
  g_clear_pointer (&self->protocol_options, g_strfreev);

  self->protocol = tincan_protocol_new_with_options (name, (const char * const *) options,
                                                     &local_error);
  if (self->protocol != NULL)
    {
      self->protocol_name = g_strdup (name);
      self->protocol_options = g_steal_pointer (&options);
    }
  else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    {
      g_set_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_PROTOCOL,
                   _("The options of the “%s” protocol are not valid: %s"),
                   name, local_error->message);
    }
  else
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROTOCOL]);
  return self->protocol != NULL;
}

static void
sync_backoff (TincanConnection *self)
{
  TincanJitter jitter = TINCAN_JITTER_FULL;

  g_object_get (self->profile, "reconnect-jitter", &jitter, NULL);
  tincan_backoff_set_base_ms (self->backoff, profile_uint (self, "reconnect-base-ms"));
  tincan_backoff_set_cap_ms (self->backoff, profile_uint (self, "reconnect-cap-ms"));
  tincan_backoff_set_jitter (self->backoff, jitter);
  tincan_backoff_set_max_attempts (self->backoff, profile_uint (self, "reconnect-max-attempts"));
  tincan_backoff_set_stable_ms (self->backoff, profile_uint (self, "reconnect-stable-ms"));
}

/* The upgrade, for the inspector: each side once per attempt. */
static GQuark handshake_quark;

static void
emit_handshake (TincanConnection    *self,
                SoupMessage         *msg,
                TincanFrameDirection direction)
{
  guint seen = GPOINTER_TO_UINT (g_object_get_qdata (G_OBJECT (msg), handshake_quark));
  guint bit = 1u << direction;

  if ((seen & bit) != 0)
    return;

  g_object_set_qdata (G_OBJECT (msg), handshake_quark, GUINT_TO_POINTER (seen | bit));
  g_signal_emit (self, signals[HANDSHAKE], 0, direction, msg, g_get_real_time ());
}

static void
on_msg_wrote_headers (SoupMessage *msg,
                      gpointer     user_data)
{
  emit_handshake (TINCAN_CONNECTION (user_data), msg, TINCAN_FRAME_DIRECTION_OUT);
}

static void
on_msg_got_headers (SoupMessage *msg,
                    gpointer     user_data)
{
  emit_handshake (TINCAN_CONNECTION (user_data), msg, TINCAN_FRAME_DIRECTION_IN);
}

/* libsoup reports 101 Switching Protocols as informational, not with
 * got-headers; other 1xx are not the answer. */
static void
on_msg_got_informational (SoupMessage *msg,
                          gpointer     user_data)
{
  if (soup_message_get_status (msg) == SOUP_STATUS_SWITCHING_PROTOCOLS)
    emit_handshake (TINCAN_CONNECTION (user_data), msg, TINCAN_FRAME_DIRECTION_IN);
}

static void
start_attempt (TincanConnection *self)
{
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *url = NULL;
  g_autofree char *origin = NULL;
  g_auto (GStrv) headers = NULL;
  g_auto (GStrv) subprotocols = NULL;
  const char * const *protocols;
  gboolean deflate = FALSE;
  TincanAuthMethod auth;
  AttemptData *data;
  guint interval;

  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_clear_handle_id (&self->connect_timeout_source, g_source_remove);
  set_retry_at (self, 0);

  /* Any attempt or socket in progress is abandoned. */
  self->generation++;
  if (self->attempt_cancellable != NULL)
    g_cancellable_cancel (self->attempt_cancellable);
  g_clear_object (&self->attempt_cancellable);
  stop_liveness (self);
  if (self->ws != NULL)
    {
      release_socket (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      self->established = FALSE;
      requeue_inflight (self);
    }

  if (!network_ok (self))
    {
      set_state (self, TINCAN_CONNECTION_STATE_OFFLINE);
      return;
    }

  if (!ensure_protocol (self, &error))
    {
      fail (self, g_steal_pointer (&error));
      return;
    }

  sync_backoff (self);

  auth = tincan_profile_get_auth_method (self->profile);
  if (self->token_provider != NULL)
    token = self->token_provider (self->token_data);

  if ((url = build_url (self, token, &error)) == NULL)
    {
      fail (self, g_steal_pointer (&error));
      return;
    }

  msg = soup_message_new (SOUP_METHOD_GET, url);
  if (msg == NULL)
    {
      fail (self, g_error_new (TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_INVALID_URL,
                               _("“%s” is not a valid address."),
                               tincan_profile_get_url (self->profile)));
      return;
    }

  g_object_get (self->profile,
                "headers", &headers,
                "subprotocols", &subprotocols,
                "origin", &origin,
                "deflate", &deflate,
                NULL);

  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    {
      const char *colon = strchr (headers[i], ':');
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      if (colon == NULL || colon == headers[i])
        continue;

      name = g_strstrip (g_strndup (headers[i], colon - headers[i]));
      value = g_strstrip (g_strdup (colon + 1));
      soup_message_headers_append (soup_message_get_request_headers (msg), name, value);
    }

  if (auth == TINCAN_AUTH_BEARER && token != NULL)
    {
      g_autofree char *bearer = g_strdup_printf ("Bearer %s", token);

      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Authorization", bearer);
    }

  g_clear_pointer (&self->hello_token, g_free);
  if (auth == TINCAN_AUTH_HELLO || (auth == TINCAN_AUTH_NONE && token != NULL))
    self->hello_token = g_strdup (token);

  /* permessage-deflate is opt-in: libsoup 3.2 sessions come without the
   * extension manager (later ones may have it), so add it when asked and
   * switch it off per message otherwise. */
  if (deflate && !soup_session_has_feature (self->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER))
    soup_session_add_feature_by_type (self->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  if (!deflate)
    soup_message_disable_feature (msg, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);

  g_clear_error (&self->certificate_error);
  g_signal_connect_object (msg, "accept-certificate",
                           G_CALLBACK (on_accept_certificate), self, 0);
  g_signal_connect_object (msg, "wrote-headers", G_CALLBACK (on_msg_wrote_headers), self, 0);
  g_signal_connect_object (msg, "got-informational",
                           G_CALLBACK (on_msg_got_informational), self, 0);
  g_signal_connect_object (msg, "got-headers", G_CALLBACK (on_msg_got_headers), self, 0);

  if (subprotocols != NULL && subprotocols[0] != NULL)
    protocols = (const char * const *) subprotocols;
  else
    protocols = tincan_protocol_get_subprotocols (self->protocol);
  if (protocols != NULL && protocols[0] == NULL)
    protocols = NULL;

  g_debug ("connecting to %s (attempt %u)", tincan_profile_get_url (self->profile),
           tincan_backoff_get_attempt (self->backoff));

  self->attempt_cancellable = g_cancellable_new ();
  set_state (self, TINCAN_CONNECTION_STATE_CONNECTING);

  data = g_new0 (AttemptData, 1);
  data->self = g_object_ref (self);
  data->generation = self->generation;
  soup_session_websocket_connect_async (self->session, msg,
                                        origin != NULL && *origin != '\0' ? origin : NULL,
                                        (char **) protocols,
                                        G_PRIORITY_DEFAULT,
                                        self->attempt_cancellable,
                                        on_connect_done, data);

  interval = profile_uint (self, "heartbeat-interval");
  self->connect_timeout_source =
    g_timeout_add_seconds (interval > 0 ? interval + profile_uint (self, "heartbeat-timeout")
                                        : CONNECT_TIMEOUT_S,
                           connect_timeout_cb, self);
}

/* Network monitor and sleep */

static void
on_network_changed (GNetworkMonitor *monitor,
                    gboolean         available,
                    gpointer         user_data)
{
  TincanConnection *self = user_data;
  gboolean was_ok = network_ok (self);

  available = g_network_monitor_get_network_available (monitor);
  if (available == self->network_available)
    return;

  self->network_available = available;
  g_debug ("network %s", available ? "available" : "gone");

  if (!self->want_connected)
    return;

  if (network_ok (self) && !was_ok)
    {
      if (self->state == TINCAN_CONNECTION_STATE_OFFLINE ||
          self->state == TINCAN_CONNECTION_STATE_RECONNECTING)
        start_attempt (self);
    }
  else if (!network_ok (self) && self->state == TINCAN_CONNECTION_STATE_RECONNECTING)
    {
      g_clear_handle_id (&self->retry_source, g_source_remove);
      set_retry_at (self, 0);
      set_state (self, TINCAN_CONNECTION_STATE_OFFLINE);
    }
}

static void
on_prepare_for_sleep (GDBusConnection *bus,
                      const char      *sender,
                      const char      *path,
                      const char      *interface,
                      const char      *signal,
                      GVariant        *parameters,
                      gpointer         user_data)
{
  TincanConnection *self = user_data;
  gboolean sleeping = FALSE;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    return;

  g_variant_get (parameters, "(b)", &sleeping);
  g_debug ("system %s", sleeping ? "going to sleep" : "woke up");

  if (!sleeping)
    check_connection_now (self);
}

static void
on_system_bus (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr (TincanConnection) self = g_weak_ref_get (weak);
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GError) error = NULL;

  g_weak_ref_clear (weak);
  g_free (weak);

  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      g_debug ("no system bus, no sleep notifications: %s", error->message);
      return;
    }

  if (self == NULL)
    return;

  self->system_bus = g_steal_pointer (&bus);
  self->sleep_subscription =
    g_dbus_connection_signal_subscribe (self->system_bus,
                                        "org.freedesktop.login1",
                                        "org.freedesktop.login1.Manager",
                                        "PrepareForSleep",
                                        "/org/freedesktop/login1",
                                        NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_prepare_for_sleep, self, NULL);
}

/* GObject */

static void
on_profile_url_changed (TincanProfile *profile,
                        GParamSpec    *pspec,
                        gpointer       user_data)
{
  g_object_notify_by_pspec (G_OBJECT (user_data), properties[PROP_URL]);
}

/* A new dialect or new options: rebuilt now if no socket uses the current
 * one, else at the next attempt (start_attempt() calls ensure_protocol()). */
static void
on_profile_protocol_changed (TincanProfile *profile,
                             GParamSpec    *pspec,
                             gpointer       user_data)
{
  TincanConnection *self = user_data;
  g_autoptr (GError) error = NULL;

  if (self->ws != NULL || self->attempt_cancellable != NULL)
    return;

  if (!ensure_protocol (self, &error))
    g_debug ("%s", error->message);
}

static void
tincan_connection_constructed (GObject *object)
{
  TincanConnection *self = TINCAN_CONNECTION (object);
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;
  GWeakRef *weak;

  G_OBJECT_CLASS (tincan_connection_parent_class)->constructed (object);

  g_assert (self->profile != NULL);
  g_assert (self->store != NULL);

  if (self->monitor == NULL)
    {
      self->monitor = g_object_ref (g_network_monitor_get_default ());
      self->monitor_is_default = TRUE;
    }
  self->network_available = g_network_monitor_get_network_available (self->monitor);
  g_signal_connect_object (self->monitor, "network-changed",
                           G_CALLBACK (on_network_changed), self, 0);
  g_signal_connect_object (self->profile, "notify::url",
                           G_CALLBACK (on_profile_url_changed), self, 0);
  g_signal_connect_object (self->store, "written",
                           G_CALLBACK (on_store_written), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (self->profile, "notify::protocol",
                           G_CALLBACK (on_profile_protocol_changed), self, 0);
  g_signal_connect_object (self->profile, "notify::protocol-options",
                           G_CALLBACK (on_profile_protocol_changed), self, 0);

  if (!ensure_protocol (self, &error))
    {
      g_debug ("%s", error->message);
      g_clear_error (&error);
    }

  sync_backoff (self);

  /* Crash survival: whatever was queued or in flight is pending again. */
  outbox = tincan_store_load_outbox (self->store, &error);
  if (outbox == NULL)
    {
      report_error (self, error);
    }
  else
    {
      for (guint i = 0; i < outbox->len; i++)
        {
          TincanMessage *message = g_ptr_array_index (outbox, i);

          if (tincan_message_get_cid (message) == NULL ||
              g_hash_table_contains (self->pending, tincan_message_get_cid (message)))
            continue;
          if (tincan_message_get_state (message) != TINCAN_MESSAGE_STATE_QUEUED)
            tincan_message_set_state (message, TINCAN_MESSAGE_STATE_QUEUED);
          pending_add_tail (self, message);
        }
      if (outbox->len > 0)
        g_debug ("%u messages pending from the outbox", outbox->len);
    }

  weak = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak, self);
  g_bus_get (G_BUS_TYPE_SYSTEM, self->life_cancellable, on_system_bus, weak);
}

static void
tincan_connection_dispose (GObject *object)
{
  TincanConnection *self = TINCAN_CONNECTION (object);
  TincanMessage *message;

  self->want_connected = FALSE;
  self->generation++;
  g_cancellable_cancel (self->life_cancellable);
  if (self->attempt_cancellable != NULL)
    g_cancellable_cancel (self->attempt_cancellable);
  g_clear_object (&self->attempt_cancellable);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_clear_handle_id (&self->connect_timeout_source, g_source_remove);
  g_clear_handle_id (&self->pump_source, g_source_remove);
  g_clear_handle_id (&self->sim_offline_source, g_source_remove);
  stop_liveness (self);
  /* Not handled while being disposed: never stored, so the next session
   * resumes from before them. */
  drop_incoming (self);
  release_socket (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  drop_delayed (self);
  if (self->sleep_subscription != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->sleep_subscription);
  self->sleep_subscription = 0;
  g_clear_object (&self->system_bus);

  while ((message = g_queue_pop_head (&self->inflight)) != NULL)
    g_object_unref (message);
  while ((message = g_queue_pop_head (&self->waiting)) != NULL)
    g_object_unref (message);
  g_hash_table_remove_all (self->pending);
  g_queue_clear (&self->awaiting_order);
  g_hash_table_remove_all (self->awaiting_echo);

  if (self->token_destroy != NULL)
    g_clear_pointer (&self->token_data, self->token_destroy);
  self->token_provider = NULL;

  g_clear_object (&self->session);
  g_clear_object (&self->peer_certificate);
  g_clear_object (&self->protocol);
  g_clear_object (&self->monitor);
  g_clear_object (&self->store);
  g_clear_object (&self->profile);

  G_OBJECT_CLASS (tincan_connection_parent_class)->dispose (object);
}

static void
tincan_connection_finalize (GObject *object)
{
  TincanConnection *self = TINCAN_CONNECTION (object);

  g_clear_object (&self->backoff);
  g_clear_object (&self->life_cancellable);
  g_clear_pointer (&self->close_reason, g_free);
  g_clear_error (&self->last_error);
  g_clear_error (&self->socket_error);
  g_clear_error (&self->certificate_error);
  g_clear_pointer (&self->peer_fingerprint, g_free);
  g_clear_pointer (&self->user, g_free);
  g_clear_pointer (&self->session_id, g_free);
  g_clear_pointer (&self->rooms, g_strfreev);
  g_clear_pointer (&self->extra_rooms, g_ptr_array_unref);
  g_clear_pointer (&self->hello_token, g_free);
  g_clear_pointer (&self->protocol_name, g_free);
  g_clear_pointer (&self->protocol_options, g_strfreev);
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->awaiting_echo, g_hash_table_unref);
  g_clear_pointer (&self->last_seq, g_hash_table_unref);
  g_clear_pointer (&self->incoming, g_array_unref);
  g_clear_pointer (&self->decoded, g_ptr_array_unref);
  g_clear_pointer (&self->recent_ids, tincan_recent_set_free);

  G_OBJECT_CLASS (tincan_connection_parent_class)->finalize (object);
}

static void
tincan_connection_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  TincanConnection *self = TINCAN_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_PROFILE: g_value_set_object (value, self->profile); break;
    case PROP_STORE: g_value_set_object (value, self->store); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_ATTEMPT: g_value_set_uint (value, self->attempt); break;
    case PROP_RETRY_AT: g_value_set_int64 (value, self->retry_at); break;
    case PROP_LATENCY: g_value_set_int (value, self->latency); break;
    case PROP_CLOSE_CODE: g_value_set_uint (value, self->close_code); break;
    case PROP_CLOSE_REASON: g_value_set_string (value, self->close_reason); break;
    case PROP_LAST_ERROR: g_value_set_boxed (value, self->last_error); break;
    case PROP_QUEUED_COUNT: g_value_set_uint (value, outbox_count (self)); break;
    case PROP_URL: g_value_set_string (value, tincan_connection_get_url (self)); break;
    case PROP_PROTOCOL: g_value_set_string (value, tincan_connection_get_protocol_name (self)); break;
    case PROP_USER: g_value_set_string (value, self->user); break;
    case PROP_SESSION: g_value_set_string (value, self->session_id); break;
    case PROP_ROOMS: g_value_set_boxed (value, self->rooms); break;
    case PROP_NETWORK_MONITOR: g_value_set_object (value, self->monitor); break;
    case PROP_SIMULATED_LATENCY: g_value_set_uint (value, self->sim_latency_ms); break;
    case PROP_SIMULATED_OFFLINE: g_value_set_boolean (value, self->sim_offline); break;
    case PROP_PEER_CERTIFICATE: g_value_set_object (value, self->peer_certificate); break;
    case PROP_PEER_CERTIFICATE_ERRORS: g_value_set_flags (value, self->peer_certificate_errors); break;
    case PROP_PEER_CERTIFICATE_FINGERPRINT: g_value_set_string (value, self->peer_fingerprint); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_connection_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  TincanConnection *self = TINCAN_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_PROFILE:
      self->profile = g_value_dup_object (value);
      break;
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    case PROP_NETWORK_MONITOR:
      self->monitor = g_value_dup_object (value);
      break;
    case PROP_SIMULATED_LATENCY:
      tincan_connection_simulate_latency (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_connection_class_init (TincanConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  sent_at_quark = g_quark_from_static_string ("tincan-connection-sent-at");
  lost_with_quark = g_quark_from_static_string ("tincan-connection-lost-with");
  handshake_quark = g_quark_from_static_string ("tincan-connection-handshake");

  object_class->constructed = tincan_connection_constructed;
  object_class->dispose = tincan_connection_dispose;
  object_class->finalize = tincan_connection_finalize;
  object_class->get_property = tincan_connection_get_property;
  object_class->set_property = tincan_connection_set_property;

  properties[PROP_PROFILE] =
    g_param_spec_object ("profile", NULL, NULL, TINCAN_TYPE_PROFILE, co);
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, TINCAN_TYPE_STORE, co);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, TINCAN_TYPE_CONNECTION_STATE,
                       TINCAN_CONNECTION_STATE_DISCONNECTED, ro);
  properties[PROP_ATTEMPT] =
    g_param_spec_uint ("attempt", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_RETRY_AT] =
    g_param_spec_int64 ("retry-at", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_LATENCY] =
    g_param_spec_int ("latency", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_CLOSE_CODE] =
    g_param_spec_uint ("close-code", NULL, NULL, 0, G_MAXUINT16, 0, ro);
  properties[PROP_CLOSE_REASON] =
    g_param_spec_string ("close-reason", NULL, NULL, NULL, ro);
  properties[PROP_LAST_ERROR] =
    g_param_spec_boxed ("last-error", NULL, NULL, G_TYPE_ERROR, ro);
  properties[PROP_QUEUED_COUNT] =
    g_param_spec_uint ("queued-count", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_URL] =
    g_param_spec_string ("url", NULL, NULL, NULL, ro);
  properties[PROP_PROTOCOL] =
    g_param_spec_string ("protocol", NULL, NULL, NULL, ro);
  properties[PROP_USER] =
    g_param_spec_string ("user", NULL, NULL, NULL, ro);
  properties[PROP_SESSION] =
    g_param_spec_string ("session", NULL, NULL, NULL, ro);
  properties[PROP_ROOMS] =
    g_param_spec_boxed ("rooms", NULL, NULL, G_TYPE_STRV, ro);
  properties[PROP_NETWORK_MONITOR] =
    g_param_spec_object ("network-monitor", NULL, NULL, G_TYPE_NETWORK_MONITOR, co);
  properties[PROP_SIMULATED_LATENCY] =
    g_param_spec_uint ("simulated-latency", NULL, NULL, 0, 60000, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SIMULATED_OFFLINE] =
    g_param_spec_boolean ("simulated-offline", NULL, NULL, FALSE, ro);
  properties[PROP_PEER_CERTIFICATE] =
    g_param_spec_object ("peer-certificate", NULL, NULL, G_TYPE_TLS_CERTIFICATE, ro);
  properties[PROP_PEER_CERTIFICATE_ERRORS] =
    g_param_spec_flags ("peer-certificate-errors", NULL, NULL,
                        G_TYPE_TLS_CERTIFICATE_FLAGS, 0, ro);
  properties[PROP_PEER_CERTIFICATE_FINGERPRINT] =
    g_param_spec_string ("peer-certificate-fingerprint", NULL, NULL, NULL, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TINCAN_TYPE_MESSAGE);
  signals[MESSAGE_QUEUED] =
    g_signal_new ("message-queued", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TINCAN_TYPE_MESSAGE);
  signals[MESSAGE_UPDATED] =
    g_signal_new ("message-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TINCAN_TYPE_MESSAGE);
  signals[MESSAGE_DISCARDED] =
    g_signal_new ("message-discarded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TINCAN_TYPE_MESSAGE);
  signals[PRESENCE] =
    g_signal_new ("presence", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[MEMBERS] =
    g_signal_new ("members", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRV);
  signals[RESUMED] =
    g_signal_new ("resumed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[FRAME] =
    g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  TINCAN_TYPE_FRAME_DIRECTION, TINCAN_TYPE_OPCODE,
                  G_TYPE_BYTES, G_TYPE_INT64);
  signals[ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[UNMAPPED] =
    g_signal_new ("unmapped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  TINCAN_TYPE_MESSAGE, G_TYPE_BYTES, G_TYPE_BOOLEAN);
  signals[HANDSHAKE] =
    g_signal_new ("handshake", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  TINCAN_TYPE_FRAME_DIRECTION, SOUP_TYPE_MESSAGE, G_TYPE_INT64);
  signals[HEARTBEAT_MISSED] =
    g_signal_new ("heartbeat-missed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_INT64);
  signals[DUPLICATE] =
    g_signal_new ("duplicate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TINCAN_TYPE_MESSAGE);
}

static void
tincan_connection_init (TincanConnection *self)
{
  self->latency = -1;
  self->state = TINCAN_CONNECTION_STATE_DISCONNECTED;
  self->rooms = g_new0 (char *, 1);
  self->extra_rooms = g_ptr_array_new_with_free_func (g_free);
  self->backoff = tincan_backoff_new ();
  self->life_cancellable = g_cancellable_new ();
  self->session = soup_session_new_with_options ("user-agent", "Tincan/" PACKAGE_VERSION, NULL);
  self->pending = g_hash_table_new (g_str_hash, g_str_equal);
  self->awaiting_echo = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->last_seq = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->recent_ids = tincan_recent_set_new (MAX_RECENT_IDS);
  self->incoming = g_array_new (FALSE, FALSE, sizeof (IncomingFrame));
  self->decoded = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
  g_queue_init (&self->waiting);
  g_queue_init (&self->inflight);
  g_queue_init (&self->awaiting_order);
  g_queue_init (&self->delayed);
}

/* Public API */

TincanConnection *
tincan_connection_new (TincanProfile *profile,
                       TincanStore   *store)
{
  return tincan_connection_new_full (profile, store, NULL);
}

TincanConnection *
tincan_connection_new_full (TincanProfile   *profile,
                            TincanStore     *store,
                            GNetworkMonitor *monitor)
{
  g_return_val_if_fail (TINCAN_IS_PROFILE (profile), NULL);
  g_return_val_if_fail (TINCAN_IS_STORE (store), NULL);
  g_return_val_if_fail (monitor == NULL || G_IS_NETWORK_MONITOR (monitor), NULL);

  return g_object_new (TINCAN_TYPE_CONNECTION,
                       "profile", profile,
                       "store", store,
                       "network-monitor", monitor,
                       NULL);
}

void
tincan_connection_set_token_provider (TincanConnection   *self,
                                      TincanTokenProvider provider,
                                      gpointer            user_data,
                                      GDestroyNotify      destroy)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));

  if (self->token_destroy != NULL)
    g_clear_pointer (&self->token_data, self->token_destroy);

  self->token_provider = provider;
  self->token_data = user_data;
  self->token_destroy = destroy;
}

void
tincan_connection_connect (TincanConnection *self)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));

  self->want_connected = TRUE;

  switch (self->state)
    {
    case TINCAN_CONNECTION_STATE_CONNECTED:
    case TINCAN_CONNECTION_STATE_CONNECTING:
      break;

    case TINCAN_CONNECTION_STATE_RECONNECTING:
      start_attempt (self);
      break;

    case TINCAN_CONNECTION_STATE_OFFLINE:
      if (network_ok (self))
        start_attempt (self);
      break;

    case TINCAN_CONNECTION_STATE_DISCONNECTED:
    case TINCAN_CONNECTION_STATE_FAILED:
    default:
      tincan_backoff_reset (self->backoff);
      set_attempt (self, 0);
      start_attempt (self);
      break;
    }
}

void
tincan_connection_disconnect (TincanConnection *self)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));

  self->want_connected = FALSE;
  self->generation++;

  if (self->attempt_cancellable != NULL)
    g_cancellable_cancel (self->attempt_cancellable);
  g_clear_object (&self->attempt_cancellable);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_clear_handle_id (&self->connect_timeout_source, g_source_remove);
  g_clear_handle_id (&self->pump_source, g_source_remove);
  stop_liveness (self);

  if (self->ws != NULL)
    {
      release_socket (self, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      tincan_backoff_disconnected (self->backoff, g_get_monotonic_time ());
      tincan_protocol_reset (self->protocol);
    }

  self->established = FALSE;
  g_clear_error (&self->socket_error);
  requeue_inflight (self);
  set_retry_at (self, 0);
  set_state (self, TINCAN_CONNECTION_STATE_DISCONNECTED);
}

TincanMessage *
tincan_connection_send (TincanConnection *self,
                        const char       *room,
                        const char       *text,
                        GError          **error)
{
  g_autoptr (TincanMessage) message = NULL;
  guint limit;

  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (room != NULL && *room != '\0', NULL);
  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  limit = profile_uint (self, "outbox-limit");
  if (outbox_count (self) >= limit)
    {
      g_set_error (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_OUTBOX_FULL,
                   g_dngettext (GETTEXT_PACKAGE,
                                "The outbox is full: %u message is waiting to be sent.",
                                "The outbox is full: %u messages are waiting to be sent.",
                                limit),
                   limit);
      return NULL;
    }

  message = tincan_message_new_outgoing (room, sender_name (self), text);
  tincan_store_save (self->store, message);
  pending_add_tail (self, message);

  g_signal_emit (self, signals[MESSAGE_QUEUED], 0, message);
  notify_queued_count (self);
  schedule_pump (self);

  return g_steal_pointer (&message);
}

gboolean
tincan_connection_retry (TincanConnection *self,
                         TincanMessage    *message,
                         GError          **error)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (TINCAN_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!tincan_message_is_outgoing (message) ||
      tincan_message_get_state (message) != TINCAN_MESSAGE_STATE_FAILED)
    {
      g_set_error_literal (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_NOT_FAILED,
                           _("Only a message that failed can be sent again."));
      return FALSE;
    }

  if (outbox_count (self) >= profile_uint (self, "outbox-limit"))
    {
      g_set_error_literal (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_OUTBOX_FULL,
                           _("The outbox is full."));
      return FALSE;
    }

  tincan_message_set_state (message, TINCAN_MESSAGE_STATE_QUEUED);
  tincan_store_save (self->store, message);
  pending_add_tail (self, message);

  g_signal_emit (self, signals[MESSAGE_UPDATED], 0, message);
  notify_queued_count (self);
  schedule_pump (self);

  return TRUE;
}

gboolean
tincan_connection_discard (TincanConnection *self,
                           TincanMessage    *message,
                           GError          **error)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (TINCAN_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!tincan_message_is_outgoing (message) ||
      tincan_message_get_state (message) != TINCAN_MESSAGE_STATE_FAILED)
    {
      g_set_error_literal (error, TINCAN_CONNECTION_ERROR, TINCAN_CONNECTION_ERROR_NOT_FAILED,
                           _("Only a message that failed can be deleted."));
      return FALSE;
    }

  if (!tincan_store_delete (self->store, message, error))
    return FALSE;

  g_signal_emit (self, signals[MESSAGE_DISCARDED], 0, message);
  return TRUE;
}

void
tincan_connection_join (TincanConnection *self,
                        const char       *room)
{
  g_autoptr (GStrvBuilder) builder = NULL;
  g_auto (GStrv) rooms = NULL;

  g_return_if_fail (TINCAN_IS_CONNECTION (self));
  g_return_if_fail (room != NULL && *room != '\0');

  if (!g_ptr_array_find_with_equal_func (self->extra_rooms, room, g_str_equal, NULL) &&
      !strv_contains0 (tincan_profile_get_rooms (self->profile), room))
    g_ptr_array_add (self->extra_rooms, g_strdup (room));

  if (self->state != TINCAN_CONNECTION_STATE_CONNECTED || self->ws == NULL ||
      strv_contains0 ((const char * const *) self->rooms, room))
    return;

  if (!transmit_simple (self, TINCAN_FRAME_JOIN, room))
    return;

  builder = g_strv_builder_new ();
  g_strv_builder_addv (builder, (const char **) self->rooms);
  g_strv_builder_add (builder, room);
  rooms = g_strv_builder_end (builder);
  set_rooms (self, (const char * const *) rooms);
}

void
tincan_connection_leave (TincanConnection *self,
                         const char       *room)
{
  g_autoptr (GStrvBuilder) builder = NULL;
  g_auto (GStrv) rooms = NULL;
  guint index;

  g_return_if_fail (TINCAN_IS_CONNECTION (self));
  g_return_if_fail (room != NULL && *room != '\0');

  if (g_ptr_array_find_with_equal_func (self->extra_rooms, room, g_str_equal, &index))
    g_ptr_array_remove_index (self->extra_rooms, index);

  if (self->ws != NULL && self->state == TINCAN_CONNECTION_STATE_CONNECTED)
    transmit_simple (self, TINCAN_FRAME_LEAVE, room);

  builder = g_strv_builder_new ();
  for (guint i = 0; self->rooms[i] != NULL; i++)
    if (!g_str_equal (self->rooms[i], room))
      g_strv_builder_add (builder, self->rooms[i]);
  rooms = g_strv_builder_end (builder);
  set_rooms (self, (const char * const *) rooms);
}

TincanProfile *
tincan_connection_get_profile (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->profile;
}

TincanStore *
tincan_connection_get_store (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->store;
}

TincanBackoff *
tincan_connection_get_backoff (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->backoff;
}

TincanConnectionState
tincan_connection_get_state (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), TINCAN_CONNECTION_STATE_DISCONNECTED);

  return self->state;
}

guint
tincan_connection_get_attempt (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), 0);

  return self->attempt;
}

gint64
tincan_connection_get_retry_at (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), 0);

  return self->retry_at;
}

int
tincan_connection_get_latency (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), -1);

  return self->latency;
}

guint
tincan_connection_get_close_code (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), 0);

  return self->close_code;
}

const char *
tincan_connection_get_close_reason (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->close_reason;
}

const GError *
tincan_connection_get_last_error (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->last_error;
}

guint
tincan_connection_get_queued_count (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), 0);

  return outbox_count (self);
}

const char *
tincan_connection_get_url (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->profile != NULL ? tincan_profile_get_url (self->profile) : NULL;
}

const char *
tincan_connection_get_protocol_name (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  if (self->protocol != NULL)
    return tincan_protocol_get_name (self->protocol);

  return self->profile != NULL ? tincan_profile_get_protocol (self->profile) : NULL;
}

const char *
tincan_connection_get_user (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->user;
}

const char * const *
tincan_connection_get_rooms (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return (const char * const *) self->rooms;
}

void
_tincan_connection_set_real_clock (TincanConnection *self,
                                   TincanClockFunc   func,
                                   gpointer          user_data)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));

  self->real_clock = func;
  self->real_clock_data = user_data;
  self->clock_mono_us = 0;
}

void
_tincan_connection_set_tls_database (TincanConnection *self,
                                     GTlsDatabase     *database)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));
  g_return_if_fail (database == NULL || G_IS_TLS_DATABASE (database));

  if (database == NULL)
    database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  else
    g_object_ref (database);
  g_object_set (self->session, "tls-database", database, NULL);
  g_object_unref (database);
}

GTlsCertificate *
tincan_connection_get_peer_certificate (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->peer_certificate;
}

GTlsCertificateFlags
tincan_connection_get_peer_certificate_errors (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), 0);

  return self->peer_certificate_errors;
}

const char *
tincan_connection_get_peer_certificate_fingerprint (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->peer_fingerprint;
}

char *
tincan_certificate_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr (GByteArray) der = NULL;
  g_autofree char *hex = NULL;
  GString *out;

  if (certificate == NULL)
    return NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;

  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
  out = g_string_sized_new (96);
  for (guint i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2)
    {
      if (i > 0)
        g_string_append_c (out, ':');
      g_string_append_c (out, g_ascii_toupper (hex[i]));
      g_string_append_c (out, g_ascii_toupper (hex[i + 1]));
    }

  return g_string_free (out, FALSE);
}

static char *
certificate_names (GTlsCertificate *certificate)
{
  g_autoptr (GPtrArray) dns = NULL;
  g_autoptr (GPtrArray) ips = NULL;
  g_autofree char *subject = NULL;
  GString *names = g_string_new (NULL);

  if (certificate == NULL)
    return g_string_free (names, FALSE);

  subject = g_tls_certificate_get_subject_name (certificate);
  if (subject != NULL)
    g_string_append (names, subject);

  dns = g_tls_certificate_get_dns_names (certificate);
  for (guint i = 0; dns != NULL && i < dns->len; i++)
    {
      gsize size = 0;
      const char *name = g_bytes_get_data (g_ptr_array_index (dns, i), &size);

      g_string_append (names, names->len > 0 ? ", " : "");
      g_string_append_len (names, name, size);
    }

  ips = g_tls_certificate_get_ip_addresses (certificate);
  for (guint i = 0; ips != NULL && i < ips->len; i++)
    {
      g_autofree char *ip = g_inet_address_to_string (g_ptr_array_index (ips, i));

      g_string_append (names, names->len > 0 ? ", " : "");
      g_string_append (names, ip);
    }

  return g_string_free (names, FALSE);
}

static char *
certificate_date (GDateTime *date)
{
  return date != NULL ? g_date_time_format (date, "%Y-%m-%d %H:%M UTC") : g_strdup (_("unknown"));
}

char *
tincan_certificate_describe_errors (GTlsCertificate      *certificate,
                                    GTlsCertificateFlags  errors,
                                    const char           *host)
{
  GString *text = g_string_new (NULL);

  g_return_val_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate), NULL);

  if (errors & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_string_append_printf (text, "%s ",
                            _("The server's certificate is not signed by a trusted authority (self-signed?)."));

  if (errors & G_TLS_CERTIFICATE_BAD_IDENTITY)
    {
      g_autofree char *names = certificate_names (certificate);

      g_string_append_printf (text, _("The server's certificate was issued for another host (CN/SAN %s), not for %s."),
                              *names != '\0' ? names : _("none"),
                              host != NULL ? host : _("this server"));
      g_string_append_c (text, ' ');
    }

  if (errors & G_TLS_CERTIFICATE_EXPIRED)
    {
      g_autoptr (GDateTime) after = certificate != NULL ? g_tls_certificate_get_not_valid_after (certificate) : NULL;
      g_autofree char *date = certificate_date (after);

      g_string_append_printf (text, _("The server's certificate has expired (it was valid until %s)."), date);
      g_string_append_c (text, ' ');
    }

  if (errors & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    {
      g_autoptr (GDateTime) before = certificate != NULL ? g_tls_certificate_get_not_valid_before (certificate) : NULL;
      g_autofree char *date = certificate_date (before);

      g_string_append_printf (text, _("The server's certificate is not valid yet (it is valid from %s)."), date);
      g_string_append_c (text, ' ');
    }

  if (errors & G_TLS_CERTIFICATE_REVOKED)
    g_string_append_printf (text, "%s ", _("The server's certificate has been revoked."));

  if (errors & G_TLS_CERTIFICATE_INSECURE)
    g_string_append_printf (text, "%s ", _("The server's certificate uses an insecure algorithm."));

  if ((errors & G_TLS_CERTIFICATE_GENERIC_ERROR) || text->len == 0)
    g_string_append_printf (text, "%s ", _("The server's certificate could not be verified."));

  g_string_truncate (text, text->len - 1);
  return g_string_free (text, FALSE);
}

char *
_tincan_connection_dup_token (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), NULL);

  return self->token_provider != NULL ? self->token_provider (self->token_data) : NULL;
}

/* Raw frames (tincan-connection-raw.h), for the inspector's composer */

static gboolean
check_open (TincanConnection *self,
            GError          **error)
{
  if (self->ws == NULL ||
      soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           _("There is no open connection to send on."));
      return FALSE;
    }

  return TRUE;
}

gboolean
tincan_connection_send_raw (TincanConnection *self,
                            TincanOpcode      opcode,
                            GBytes           *payload,
                            GError          **error)
{
  gsize size = 0;
  const char *data;

  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  data = g_bytes_get_data (payload, &size);

  switch (opcode)
    {
    case TINCAN_OPCODE_TEXT:
      if (!g_utf8_validate_len (data, size, NULL))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("A text frame must be valid UTF-8."));
          return FALSE;
        }
      G_GNUC_FALLTHROUGH;
    case TINCAN_OPCODE_BINARY:
      if (!check_open (self, error))
        return FALSE;
      ws_send (self, opcode == TINCAN_OPCODE_TEXT ? SOUP_WEBSOCKET_DATA_TEXT
                                                  : SOUP_WEBSOCKET_DATA_BINARY,
               opcode, payload);
      return TRUE;

    case TINCAN_OPCODE_PING:
      return tincan_connection_send_ping (self, payload, error);

    case TINCAN_OPCODE_CLOSE:
      {
        g_autofree char *reason = NULL;
        gushort code;

        if (size == 0)
          return tincan_connection_close_with (self, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL, error);
        if (size < 2)
          {
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                 _("A close frame starts with a two-byte code."));
            return FALSE;
          }
        code = ((guint8) data[0] << 8) | (guint8) data[1];
        reason = g_strndup (data + 2, size - 2);
        if (size > 2 && !g_utf8_validate_len (data + 2, size - 2, NULL))
          {
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                 _("A close reason must be valid UTF-8."));
            return FALSE;
          }
        return tincan_connection_close_with (self, code, reason, error);
      }

    case TINCAN_OPCODE_PONG:
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("This kind of frame cannot be sent by hand."));
      return FALSE;
    }
}

gboolean
tincan_connection_send_ping (TincanConnection *self,
                             GBytes           *payload,
                             GError          **error)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (payload != NULL && g_bytes_get_size (payload) > 125)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("A ping carries at most 125 bytes."));
      return FALSE;
    }

  if (!check_open (self, error))
    return FALSE;

  /* libsoup sends its keepalive pings itself and has no API to send one
   * on request. */
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("This version of libsoup cannot send a ping on request."));
  return FALSE;
}

gboolean
tincan_connection_close_with (TincanConnection *self,
                              gushort           code,
                              const char       *reason,
                              GError          **error)
{
  g_autoptr (GBytes) payload = NULL;
  g_autofree guint8 *data = NULL;
  gsize len = reason != NULL ? strlen (reason) : 0;

  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (code < 1000 || code > 4999 || (code >= 1004 && code <= 1006) || code == 1015)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%u is not a close code that can be sent."), code);
      return FALSE;
    }
  if (len > 123)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("A close reason is at most 123 bytes long."));
      return FALSE;
    }
  if (!check_open (self, error))
    return FALSE;

  data = g_malloc (2 + len);
  data[0] = (code >> 8) & 0xff;
  data[1] = code & 0xff;
  if (len > 0)
    memcpy (data + 2, reason, len);
  payload = g_bytes_new (data, 2 + len);
  emit_frame (self, TINCAN_FRAME_DIRECTION_OUT, TINCAN_OPCODE_CLOSE, payload);

  /* The peer answers, "closed" follows, and the state machine decides
   * what comes next, as for a close from the server. */
  soup_websocket_connection_close (self->ws, code, reason);
  return TRUE;
}

gboolean
tincan_connection_message_is_unmapped (TincanMessage *message)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE (message), FALSE);

  return g_str_has_prefix (tincan_message_get_id (message) ?: "", TINCAN_UNMAPPED_ID_PREFIX);
}

const char *
tincan_connection_state_to_string (TincanConnectionState state)
{
  switch (state)
    {
    case TINCAN_CONNECTION_STATE_DISCONNECTED: return "disconnected";
    case TINCAN_CONNECTION_STATE_CONNECTING: return "connecting";
    case TINCAN_CONNECTION_STATE_CONNECTED: return "connected";
    case TINCAN_CONNECTION_STATE_RECONNECTING: return "reconnecting";
    case TINCAN_CONNECTION_STATE_OFFLINE: return "offline";
    case TINCAN_CONNECTION_STATE_FAILED: return "failed";
    default: return "unknown";
    }
}

/* Network simulation */

void
tincan_connection_simulate_latency (TincanConnection *self,
                                    guint             latency_ms)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));

  if (self->sim_latency_ms == latency_ms)
    return;

  g_debug ("simulated latency: %u ms", latency_ms);
  self->sim_latency_ms = latency_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIMULATED_LATENCY]);
}

guint
tincan_connection_get_simulated_latency (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), 0);

  return self->sim_latency_ms;
}

/* Ends the socket without a closing handshake; the caller says what
 * comes next through network_ok() (simulated offline) or not (reconnect). */
static void
drop_abruptly (TincanConnection *self,
               const char       *why)
{
  g_clear_error (&self->socket_error);
  self->socket_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, why);
  self->abrupt = TRUE;
  socket_lost (self, 0, NULL);
}

gboolean
tincan_connection_simulate_drop (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);

  if (self->ws == NULL)
    return FALSE;

  g_debug ("simulated drop");
  drop_abruptly (self, _("The connection was dropped (simulated)."));
  return TRUE;
}

static gboolean
sim_offline_cb (gpointer user_data)
{
  TincanConnection *self = user_data;

  self->sim_offline_source = 0;
  tincan_connection_simulate_offline_for (self, 0);
  return G_SOURCE_REMOVE;
}

void
tincan_connection_simulate_offline_for (TincanConnection *self,
                                        guint             seconds)
{
  g_return_if_fail (TINCAN_IS_CONNECTION (self));

  g_clear_handle_id (&self->sim_offline_source, g_source_remove);

  if (seconds == 0)
    {
      if (!self->sim_offline)
        return;

      g_debug ("simulated offline period over");
      self->sim_offline = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIMULATED_OFFLINE]);
      if (self->want_connected && network_ok (self) &&
          (self->state == TINCAN_CONNECTION_STATE_OFFLINE ||
           self->state == TINCAN_CONNECTION_STATE_RECONNECTING))
        start_attempt (self);
      return;
    }

  g_debug ("simulated offline for %u s", seconds);
  self->sim_offline_source = g_timeout_add_seconds (seconds, sim_offline_cb, self);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->sim_offline_source),
                            "[tincan] simulated offline");
  if (self->sim_offline)
    return;

  self->sim_offline = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIMULATED_OFFLINE]);

  if (self->ws != NULL)
    {
      /* socket_lost() → schedule_reconnect() finds the network gone. */
      drop_abruptly (self, _("The network went away (simulated)."));
    }
  else if (self->attempt_cancellable != NULL || self->retry_source != 0)
    {
      self->generation++;
      g_cancellable_cancel (self->attempt_cancellable);
      g_clear_object (&self->attempt_cancellable);
      g_clear_handle_id (&self->connect_timeout_source, g_source_remove);
      g_clear_handle_id (&self->retry_source, g_source_remove);
      set_retry_at (self, 0);
      set_state (self, TINCAN_CONNECTION_STATE_OFFLINE);
    }
}

gboolean
tincan_connection_get_simulated_offline (TincanConnection *self)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (self), FALSE);

  return self->sim_offline;
}
