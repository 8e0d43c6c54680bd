/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-probes"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "tincan-connection-private.h"
#include "tincan-connection-raw.h"
#include "tincan-core-enums.h"
#include "tincan-frame.h"
#include "tincan-probes.h"
#include "tincan-protocol.h"
#include "tincan-protocols.h"
#include "tincan-util.h"

/* How long each step may take before the probe gives up on it. */
#define STEP_TIMEOUT_MS      5000
/* After our message was acked: time for its echo to come back. */
#define SETTLE_MS            300
/* After the re-send's ack: how long a second broadcast is watched for. */
#define DUPLICATE_WINDOW_MS  1000
/* Resume: messages the second connection sends, the one after which the
 * link drops, and the pause between two. */
#define RESUME_MESSAGES      12
#define RESUME_DROP_AFTER    4
#define RESUME_INTERVAL_MS   25
/* Offline for at most this long; the probe ends it as soon as the
 * stream is complete. */
#define RESUME_OFFLINE_S     30

/* TincanProbeResult */

struct _TincanProbeResult
{
  GObject          parent_instance;

  TincanProbeKind  kind;
  gboolean         passed;
  char            *summary;
  char            *evidence;
};

G_DEFINE_FINAL_TYPE (TincanProbeResult, tincan_probe_result, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_KIND,
  PROP_PASSED,
  PROP_SUMMARY,
  PROP_EVIDENCE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
tincan_probe_result_finalize (GObject *object)
{
  TincanProbeResult *self = TINCAN_PROBE_RESULT (object);

  g_clear_pointer (&self->summary, g_free);
  g_clear_pointer (&self->evidence, g_free);

  G_OBJECT_CLASS (tincan_probe_result_parent_class)->finalize (object);
}

static void
tincan_probe_result_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TincanProbeResult *self = TINCAN_PROBE_RESULT (object);

  switch (prop_id)
    {
    case PROP_KIND: g_value_set_enum (value, self->kind); break;
    case PROP_PASSED: g_value_set_boolean (value, self->passed); break;
    case PROP_SUMMARY: g_value_set_string (value, self->summary); break;
    case PROP_EVIDENCE: g_value_set_string (value, self->evidence); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_probe_result_class_init (TincanProbeResultClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = tincan_probe_result_finalize;
  object_class->get_property = tincan_probe_result_get_property;

  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, TINCAN_TYPE_PROBE_KIND, TINCAN_PROBE_DEDUP, ro);
  properties[PROP_PASSED] =
    g_param_spec_boolean ("passed", NULL, NULL, FALSE, ro);
  properties[PROP_SUMMARY] =
    g_param_spec_string ("summary", NULL, NULL, NULL, ro);
  properties[PROP_EVIDENCE] =
    g_param_spec_string ("evidence", NULL, NULL, NULL, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_probe_result_init (TincanProbeResult *self)
{
}

TincanProbeKind
tincan_probe_result_get_kind (TincanProbeResult *self)
{
  g_return_val_if_fail (TINCAN_IS_PROBE_RESULT (self), TINCAN_PROBE_DEDUP);

  return self->kind;
}

gboolean
tincan_probe_result_get_passed (TincanProbeResult *self)
{
  g_return_val_if_fail (TINCAN_IS_PROBE_RESULT (self), FALSE);

  return self->passed;
}

const char *
tincan_probe_result_get_summary (TincanProbeResult *self)
{
  g_return_val_if_fail (TINCAN_IS_PROBE_RESULT (self), NULL);

  return self->summary;
}

const char *
tincan_probe_result_get_evidence (TincanProbeResult *self)
{
  g_return_val_if_fail (TINCAN_IS_PROBE_RESULT (self), NULL);

  return self->evidence;
}

/* Kinds and support */

const char *
tincan_probe_kind_get_title (TincanProbeKind kind)
{
  switch (kind)
    {
    case TINCAN_PROBE_DEDUP: return _("Deduplication");
    case TINCAN_PROBE_RESUME: return _("Resume");
    case TINCAN_PROBE_MALFORMED: return _("Malformed frame");
    default: return NULL;
    }
}

gboolean
tincan_probe_is_supported (TincanConnection  *connection,
                           TincanProbeKind    kind,
                           char             **reason)
{
  g_autoptr (TincanProtocol) protocol = NULL;
  const char *name;
  TincanProtocolFlags flags = TINCAN_PROTOCOL_FLAG_NONE;
  g_autofree char *why = NULL;

  g_return_val_if_fail (TINCAN_IS_CONNECTION (connection), FALSE);

  name = tincan_connection_get_protocol_name (connection);
  if (g_strcmp0 (name, "tincan") == 0)
    return TRUE;

  protocol = tincan_protocol_new_for_name (name != NULL ? name : "", NULL);
  if (protocol != NULL)
    flags = tincan_protocol_get_flags (protocol);

  switch (kind)
    {
    case TINCAN_PROBE_DEDUP:
      if ((flags & TINCAN_PROTOCOL_FLAG_ACKS) == 0)
        why = g_strdup_printf (_("The “%s” dialect has no acknowledgements, so a repeated send cannot be told apart from a new one."),
                               name);
      else
        why = g_strdup_printf (_("The “%s” dialect acknowledges sends, but its servers make no promise to deduplicate a repeated client id and answer with the original ack; only the tincan protocol does."),
                               name);
      break;

    case TINCAN_PROBE_RESUME:
      if ((flags & TINCAN_PROTOCOL_FLAG_RESUME) == 0)
        why = g_strdup_printf (_("The “%s” dialect has no resume: nothing is replayed after a reconnect, so there is no gap to check."),
                               name);
      else
        why = g_strdup_printf (_("Resume can only be checked with the tincan protocol."));
      break;

    case TINCAN_PROBE_MALFORMED:
    default:
      why = g_strdup_printf (_("The “%s” dialect defines no error reply to a malformed frame that Tincan can recognise."),
                             name);
      break;
    }

  if (reason != NULL)
    *reason = g_steal_pointer (&why);
  return FALSE;
}

/* A running probe */

typedef enum
{
  STEP_START,
  /* dedup */
  STEP_FIRST_SEND,
  STEP_SETTLE,
  STEP_RESEND,
  STEP_WINDOW,
  /* resume */
  STEP_HELPER_CONNECT,
  STEP_STREAM,
  STEP_RECONNECT,
  STEP_AFTER_RESUME,
  /* malformed */
  STEP_WAIT_ERROR,
  STEP_WAIT_PONG,
  STEP_DONE,
} Step;

typedef struct
{
  TincanConnection  *connection;
  TincanProbeKind    kind;
  Step               step;
  gint64             start_us;
  GString           *evidence;
  char              *room;
  guint              n_out;
  guint              n_in;
  guint              step_source;
  gulong             cancel_id;
  GCancellable      *cancellable;

  /* dedup */
  TincanMessage     *message;
  char              *cid;
  char              *original_id;
  gint64             original_seq;
  char              *resend_id;
  gint64             resend_seq;
  guint              n_broadcasts;        /* of our cid, before the re-send */
  guint              n_broadcasts_after;  /* after it */
  gint64             resend_us;
  gint64             resend_ack_us;

  /* resume */
  TincanConnection  *helper;
  TincanStore       *helper_store;
  char              *helper_dir;
  guint              n_helper_queued;
  GArray            *helper_seqs;         /* gint64, from the helper's acks */
  GHashTable        *arrivals;            /* seq → count of "message" frames on the probed link */
  GHashTable        *before_drop;         /* seq → 1, arrived before the drop */
  gboolean           dropped;
  gboolean           resumed;
  gboolean           gap;
  gint64             resumed_seq;

  /* malformed */
  gboolean           got_error;
  char              *error_code;
  gint64             ping_id;
  gint64             ping_us;
  gboolean           got_pong;
  gboolean           lost;
  guint              close_code;
} Probe;

static GQuark busy_quark;

static void
probe_free (Probe *probe)
{
  g_clear_handle_id (&probe->step_source, g_source_remove);
  if (probe->cancellable != NULL)
    g_cancellable_disconnect (probe->cancellable, probe->cancel_id);
  g_clear_object (&probe->cancellable);
  if (probe->helper != NULL)
    {
      g_signal_handlers_disconnect_by_data (probe->helper, probe);
      tincan_connection_disconnect (probe->helper);
      g_clear_object (&probe->helper);
    }
  if (probe->helper_store != NULL)
    {
      tincan_store_flush (probe->helper_store, NULL);
      g_clear_object (&probe->helper_store);
    }
  if (probe->helper_dir != NULL)
    {
      g_autoptr (GDir) dir = g_dir_open (probe->helper_dir, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (probe->helper_dir, name, NULL);

          g_unlink (path);
        }
      g_rmdir (probe->helper_dir);
      g_clear_pointer (&probe->helper_dir, g_free);
    }
  g_clear_object (&probe->message);
  g_clear_object (&probe->connection);
  g_string_free (probe->evidence, TRUE);
  g_free (probe->room);
  g_free (probe->cid);
  g_free (probe->original_id);
  g_free (probe->resend_id);
  g_free (probe->error_code);
  g_clear_pointer (&probe->helper_seqs, g_array_unref);
  g_clear_pointer (&probe->arrivals, g_hash_table_unref);
  g_clear_pointer (&probe->before_drop, g_hash_table_unref);
  g_free (probe);
}

static gint64
elapsed_ms (Probe *probe)
{
  return (g_get_monotonic_time () - probe->start_us) / 1000;
}

static void note (Probe      *probe,
                  const char *format,
                  ...) G_GNUC_PRINTF (2, 3);

static void
note (Probe      *probe,
      const char *format,
      ...)
{
  va_list args;

  g_string_append_printf (probe->evidence, "+%" G_GINT64_FORMAT " ms  ", elapsed_ms (probe));
  va_start (args, format);
  g_string_append_vprintf (probe->evidence, format, args);
  va_end (args);
  g_string_append_c (probe->evidence, '\n');
}

/* Ends the probe (once): a result, passed or not. */
static void
finish (GTask      *task,
        gboolean    passed,
        const char *summary)
{
  Probe *probe = g_task_get_task_data (task);
  TincanProbeResult *result;

  if (probe->step == STEP_DONE)
    return;

  probe->step = STEP_DONE;
  g_clear_handle_id (&probe->step_source, g_source_remove);
  g_signal_handlers_disconnect_by_data (probe->connection, task);
  if (probe->helper != NULL)
    g_signal_handlers_disconnect_by_data (probe->helper, task);
  g_object_set_qdata (G_OBJECT (probe->connection), busy_quark, NULL);

  /* Never leave the connection offline because of a probe. */
  if (probe->dropped && tincan_connection_get_simulated_offline (probe->connection))
    tincan_connection_simulate_offline_for (probe->connection, 0);

  note (probe, "%s: %s", passed ? "PASS" : "FAIL", summary);
  g_string_append_printf (probe->evidence, _("Frames: %u sent, %u received on the probed connection."),
                          probe->n_out, probe->n_in);

  result = g_object_new (TINCAN_TYPE_PROBE_RESULT, NULL);
  result->kind = probe->kind;
  result->passed = passed;
  result->summary = g_strdup (summary);
  result->evidence = g_strdup (probe->evidence->str);
  g_debug ("probe %d: %s", probe->kind, passed ? "pass" : "fail");

  g_task_return_pointer (task, result, g_object_unref);
  g_object_unref (task);
}

static void
fail_with_error (GTask  *task,
                 GError *error)
{
  Probe *probe = g_task_get_task_data (task);

  if (probe->step == STEP_DONE)
    {
      g_error_free (error);
      return;
    }

  probe->step = STEP_DONE;
  g_clear_handle_id (&probe->step_source, g_source_remove);
  g_signal_handlers_disconnect_by_data (probe->connection, task);
  if (probe->helper != NULL)
    g_signal_handlers_disconnect_by_data (probe->helper, task);
  g_object_set_qdata (G_OBJECT (probe->connection), busy_quark, NULL);
  if (probe->dropped && tincan_connection_get_simulated_offline (probe->connection))
    tincan_connection_simulate_offline_for (probe->connection, 0);

  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
arm_step (GTask       *task,
          guint        ms,
          GSourceFunc  func)
{
  Probe *probe = g_task_get_task_data (task);

  g_clear_handle_id (&probe->step_source, g_source_remove);
  probe->step_source = g_timeout_add (ms, func, task);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, probe->step_source),
                            "[tincan] probe step");
}

static gboolean
send_raw_frame (GTask       *task,
                TincanFrame *frame)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gsize length = 0;
  char *json = tincan_v1_encode (frame, &length);

  bytes = g_bytes_new_take (json, length);
  if (!tincan_connection_send_raw (probe->connection, TINCAN_OPCODE_TEXT, bytes, &error))
    {
      g_autofree char *why = g_strdup_printf (_("Could not send the probe frame: %s"), error->message);

      finish (task, FALSE, why);
      return FALSE;
    }

  return TRUE;
}

/* Dedup */

static void dedup_resend (GTask *task);

static gboolean
dedup_window_over (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);
  gboolean same_ack;
  g_autofree char *summary = NULL;

  probe->step_source = 0;

  same_ack = probe->resend_seq == probe->original_seq &&
             g_strcmp0 (probe->resend_id, probe->original_id) == 0;
  note (probe, _("%u further broadcast(s) of the cid within %d ms after the re-send"),
        probe->n_broadcasts_after, DUPLICATE_WINDOW_MS);

  if (same_ack && probe->n_broadcasts_after == 0)
    summary = g_strdup_printf (_("The re-sent cid got the original ack (id %s, seq %lld) in %lld ms and no second broadcast."),
                               probe->original_id, (long long) probe->original_seq,
                               (long long) ((probe->resend_ack_us - probe->resend_us) / 1000));
  else if (!same_ack)
    summary = g_strdup_printf (_("The re-sent cid got a NEW ack (id %s, seq %lld) instead of the original (id %s, seq %lld): the server stored the message twice."),
                               probe->resend_id ?: "?", (long long) probe->resend_seq,
                               probe->original_id ?: "?", (long long) probe->original_seq);
  else
    summary = g_strdup_printf (_("The ack was the original one, but the message was broadcast again (%u time(s)): the server does not deduplicate broadcasts."),
                               probe->n_broadcasts_after);

  finish (task, same_ack && probe->n_broadcasts_after == 0, summary);
  return G_SOURCE_REMOVE;
}

static gboolean
dedup_step_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  probe->step_source = 0;
  if (probe->step == STEP_FIRST_SEND)
    finish (task, FALSE, _("The probe message was never acknowledged, so there was nothing to re-send."));
  else
    finish (task, FALSE, _("The re-sent cid got no ack at all: the server must answer a repeated send with the original ack."));
  return G_SOURCE_REMOVE;
}

static gboolean
dedup_settled (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  probe->step_source = 0;
  dedup_resend (task);
  return G_SOURCE_REMOVE;
}

static void
dedup_resend (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_SEND);

  probe->step = STEP_RESEND;
  frame->room = g_strdup (probe->room);
  frame->cid = g_strdup (probe->cid);
  frame->text = g_strdup (tincan_message_get_text (probe->message));
  note (probe, _("→ re-sending cid %s as a raw frame"), probe->cid);
  probe->resend_us = g_get_monotonic_time ();
  if (!send_raw_frame (task, frame))
    return;
  arm_step (task, STEP_TIMEOUT_MS, dedup_step_timeout);
}

static void
dedup_on_frame (Probe             *probe,
                GTask             *task,
                const TincanFrame *frame)
{
  if (g_strcmp0 (frame->cid, probe->cid) != 0)
    return;

  switch ((int) frame->type)
    {
    case TINCAN_FRAME_ACK:
      note (probe, "← ack cid %s id %s seq %" G_GINT64_FORMAT,
            frame->cid, frame->id ?: "-", frame->seq);
      if (probe->step <= STEP_SETTLE && probe->original_id == NULL)
        {
          probe->original_id = g_strdup (frame->id);
          probe->original_seq = frame->seq;
        }
      else if (probe->step == STEP_RESEND)
        {
          probe->resend_id = g_strdup (frame->id);
          probe->resend_seq = frame->seq;
          probe->resend_ack_us = g_get_monotonic_time ();
          probe->step = STEP_WINDOW;
          arm_step (task, DUPLICATE_WINDOW_MS, dedup_window_over);
        }
      break;

    case TINCAN_FRAME_MESSAGE:
      note (probe, "← message room %s id %s seq %" G_GINT64_FORMAT " cid %s",
            frame->room ?: "-", frame->id ?: "-", frame->seq, frame->cid);
      if (probe->step >= STEP_RESEND)
        probe->n_broadcasts_after++;
      else
        probe->n_broadcasts++;
      break;

    case TINCAN_FRAME_ERROR:
      note (probe, "← error %s cid %s", frame->code ?: "-", frame->cid);
      if (probe->step >= STEP_RESEND)
        {
          g_autofree char *summary = NULL;

          summary = g_strdup_printf (_("The server answered the re-sent cid with an error (%s) instead of the original ack."),
                                     frame->code ?: "?");
          finish (task, FALSE, summary);
        }
      break;

    default:
      break;
    }
}

static void
dedup_on_updated (TincanConnection *connection,
                  TincanMessage    *message,
                  GTask            *task)
{
  Probe *probe = g_task_get_task_data (task);

  if (message != probe->message || probe->step != STEP_FIRST_SEND)
    return;

  if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_FAILED)
    {
      finish (task, FALSE, _("The server rejected the probe message, so there was nothing to re-send."));
      return;
    }
  if (tincan_message_get_state (message) != TINCAN_MESSAGE_STATE_DELIVERED)
    return;

  if (probe->original_id == NULL)
    {
      probe->original_id = g_strdup (tincan_message_get_id (message));
      probe->original_seq = tincan_message_get_seq (message);
    }
  note (probe, _("delivered: id %s seq %lld; waiting %d ms for its broadcast"),
        probe->original_id ?: "-", (long long) probe->original_seq, SETTLE_MS);
  probe->step = STEP_SETTLE;
  arm_step (task, SETTLE_MS, dedup_settled);
}

static void
dedup_start (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autofree char *uuid = tincan_uuid_new ();
  g_autofree char *text = g_strdup_printf ("Tincan conformance probe (dedup) %.8s", uuid);

  g_signal_connect (probe->connection, "message-updated", G_CALLBACK (dedup_on_updated), task);
  probe->step = STEP_FIRST_SEND;
  probe->message = tincan_connection_send (probe->connection, probe->room, text, &error);
  if (probe->message == NULL)
    {
      g_autofree char *why = g_strdup_printf (_("Could not send the probe message: %s"), error->message);

      finish (task, FALSE, why);
      return;
    }

  probe->cid = g_strdup (tincan_message_get_cid (probe->message));
  note (probe, _("→ sending a probe message to %s, cid %s"), probe->room, probe->cid);
  arm_step (task, STEP_TIMEOUT_MS, dedup_step_timeout);
}

/* Resume */

static void resume_evaluate (GTask *task);

static gboolean
resume_step_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  probe->step_source = 0;
  switch (probe->step)
    {
    case STEP_HELPER_CONNECT:
      finish (task, FALSE, _("The probe's second connection could not connect to the server."));
      break;
    case STEP_STREAM:
      finish (task, FALSE, _("The second connection's messages were not all acknowledged in time."));
      break;
    case STEP_RECONNECT:
      note (probe, _("no “resumed” frame within %d ms of the reconnect"), STEP_TIMEOUT_MS);
      resume_evaluate (task);
      break;
    case STEP_AFTER_RESUME:
      resume_evaluate (task);
      break;
    case STEP_START:
    case STEP_FIRST_SEND:
    case STEP_SETTLE:
    case STEP_RESEND:
    case STEP_WINDOW:
    case STEP_WAIT_ERROR:
    case STEP_WAIT_PONG:
    case STEP_DONE:
    default:
      break;
    }
  return G_SOURCE_REMOVE;
}

static char *
format_seqs (GArray *seqs)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < seqs->len; i++)
    g_string_append_printf (text, i == 0 ? "%" G_GINT64_FORMAT : ", %" G_GINT64_FORMAT,
                            g_array_index (seqs, gint64, i));
  if (seqs->len == 0)
    g_string_append (text, "—");
  return g_string_free (text, FALSE);
}

static void
resume_evaluate (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (GArray) missing = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) doubled = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) missed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *missing_text = NULL;
  g_autofree char *doubled_text = NULL;
  g_autofree char *missed_text = NULL;
  g_autofree char *summary = NULL;
  gboolean passed;

  for (guint i = 0; i < probe->helper_seqs->len; i++)
    {
      gint64 seq = g_array_index (probe->helper_seqs, gint64, i);
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (probe->arrivals, &seq));

      if (!g_hash_table_contains (probe->before_drop, &seq))
        g_array_append_val (missed, seq);
      if (count == 0)
        g_array_append_val (missing, seq);
      else if (count > 1)
        g_array_append_val (doubled, seq);
    }

  missed_text = format_seqs (missed);
  missing_text = format_seqs (missing);
  doubled_text = format_seqs (doubled);
  note (probe, _("missed while offline: %s"), missed_text);
  note (probe, _("never arrived: %s; arrived more than once: %s"), missing_text, doubled_text);

  passed = doubled->len == 0 && (missing->len == 0 || probe->gap);
  if (!probe->resumed)
    summary = g_strdup_printf (_("The server sent no “resumed” frame after the reconnect; missing seqs: %s."),
                               missing_text);
  else if (doubled->len > 0)
    summary = g_strdup_printf (_("Resume delivered seqs %s more than once."), doubled_text);
  else if (missing->len > 0 && probe->gap)
    summary = g_strdup_printf (_("Seqs %s were not replayed, and the server honestly reported a gap."),
                               missing_text);
  else if (missing->len > 0)
    summary = g_strdup_printf (_("Seqs %s were never replayed, and the server claimed there was no gap."),
                               missing_text);
  else
    summary = g_strdup_printf (ngettext ("The %u message missed during the drop arrived exactly once after the resume.",
                                         "All %u messages missed during the drop arrived exactly once after the resume.",
                                         missed->len),
                               missed->len);

  finish (task, passed, summary);
}

static void
resume_on_frame (Probe             *probe,
                 GTask             *task,
                 const TincanFrame *frame)
{
  if (g_strcmp0 (frame->room, probe->room) != 0)
    return;

  if (frame->type == TINCAN_FRAME_MESSAGE && frame->seq > 0)
    {
      gint64 *key = g_new (gint64, 1);
      guint count;

      *key = frame->seq;
      count = GPOINTER_TO_UINT (g_hash_table_lookup (probe->arrivals, key)) + 1;
      if (count > 1)
        note (probe, _("← message seq %lld AGAIN (%u times)"), (long long) frame->seq, count);
      else if (probe->dropped)
        note (probe, "← message seq %" G_GINT64_FORMAT, frame->seq);
      if (!probe->dropped)
        {
          gint64 *before = g_new (gint64, 1);

          *before = frame->seq;
          g_hash_table_add (probe->before_drop, before);
        }
      g_hash_table_insert (probe->arrivals, key, GUINT_TO_POINTER (count));
    }
  else if (frame->type == TINCAN_FRAME_RESUMED && probe->step == STEP_RECONNECT)
    {
      probe->resumed = TRUE;
      probe->gap = frame->gap;
      probe->resumed_seq = frame->seq;
      note (probe, "← resumed room %s seq %" G_GINT64_FORMAT " gap %s",
            frame->room, frame->seq, frame->gap ? "true" : "false");
      probe->step = STEP_AFTER_RESUME;
      arm_step (task, SETTLE_MS, resume_step_timeout);
    }
}

static void
resume_on_helper_updated (TincanConnection *helper,
                          TincanMessage    *message,
                          GTask            *task)
{
  Probe *probe = g_task_get_task_data (task);
  gint64 seq;

  if (probe->step != STEP_STREAM ||
      tincan_message_get_state (message) != TINCAN_MESSAGE_STATE_DELIVERED)
    return;

  seq = tincan_message_get_seq (message);
  for (guint i = 0; i < probe->helper_seqs->len; i++)
    if (g_array_index (probe->helper_seqs, gint64, i) == seq)
      return;
  g_array_append_val (probe->helper_seqs, seq);

  if (!probe->dropped && probe->helper_seqs->len >= RESUME_DROP_AFTER)
    {
      probe->dropped = TRUE;
      note (probe, _("dropping the link mid-stream (offline until the stream ends), after seq %lld"),
            (long long) seq);
      tincan_connection_simulate_offline_for (probe->connection, RESUME_OFFLINE_S);
    }

  if (probe->helper_seqs->len == RESUME_MESSAGES)
    {
      g_autofree char *seqs = format_seqs (probe->helper_seqs);

      note (probe, _("the second connection's %u messages were acknowledged: seqs %s"),
            RESUME_MESSAGES, seqs);
      note (probe, _("back online: reconnecting with resume"));
      probe->step = STEP_RECONNECT;
      arm_step (task, STEP_TIMEOUT_MS, resume_step_timeout);
      tincan_connection_simulate_offline_for (probe->connection, 0);
    }
}

static gboolean
resume_send_next (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (TincanMessage) message = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  probe->step_source = 0;

  text = g_strdup_printf ("Tincan conformance probe (resume) %u/%u",
                          probe->n_helper_queued + 1, RESUME_MESSAGES);
  message = tincan_connection_send (probe->helper, probe->room, text, &error);
  if (message == NULL)
    {
      g_autofree char *why = g_strdup_printf (_("The second connection could not send: %s"), error->message);

      finish (task, FALSE, why);
      return G_SOURCE_REMOVE;
    }

  probe->n_helper_queued++;
  if (probe->n_helper_queued < RESUME_MESSAGES)
    arm_step (task, RESUME_INTERVAL_MS, resume_send_next);
  else
    arm_step (task, STEP_TIMEOUT_MS, resume_step_timeout);

  return G_SOURCE_REMOVE;
}

static void
resume_on_helper_state (TincanConnection *helper,
                        GParamSpec       *pspec,
                        GTask            *task)
{
  Probe *probe = g_task_get_task_data (task);

  if (probe->step != STEP_HELPER_CONNECT ||
      tincan_connection_get_state (helper) != TINCAN_CONNECTION_STATE_CONNECTED)
    return;

  note (probe, _("second connection up; it sends %u messages, %d ms apart"),
        RESUME_MESSAGES, RESUME_INTERVAL_MS);
  probe->step = STEP_STREAM;
  arm_step (task, 0, resume_send_next);
}

static char *
helper_token (gpointer user_data)
{
  g_autoptr (TincanConnection) connection = g_weak_ref_get (user_data);

  return connection != NULL ? _tincan_connection_dup_token (connection) : NULL;
}

static void
weak_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
resume_start (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (TincanProfile) profile = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *user = NULL;
  const char *rooms[] = { probe->room, NULL };
  const char *own_user = tincan_connection_get_user (probe->connection);
  GWeakRef *weak;

  probe->helper_seqs = g_array_new (FALSE, FALSE, sizeof (gint64));
  probe->arrivals = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  probe->before_drop = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  probe->helper_dir = g_dir_make_tmp ("tincan-probe-XXXXXX", &error);
  if (probe->helper_dir == NULL)
    {
      g_autofree char *why = g_strdup_printf (_("Could not prepare the second connection: %s"), error->message);

      finish (task, FALSE, why);
      return;
    }
  path = g_build_filename (probe->helper_dir, "probe.sqlite", NULL);
  probe->helper_store = tincan_store_new (path, &error);
  if (probe->helper_store == NULL)
    {
      g_autofree char *why = g_strdup_printf (_("Could not prepare the second connection: %s"), error->message);

      finish (task, FALSE, why);
      return;
    }

  profile = tincan_profile_copy (tincan_connection_get_profile (probe->connection));
  user = g_strdup_printf ("%s-probe", own_user != NULL && *own_user != '\0' ? own_user : "tincan");
  tincan_profile_set_user (profile, user);
  tincan_profile_set_rooms (profile, rooms);
  probe->helper = tincan_connection_new (profile, probe->helper_store);
  weak = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak, probe->connection);
  tincan_connection_set_token_provider (probe->helper, helper_token, weak, weak_ref_free);

  g_signal_connect (probe->helper, "notify::state", G_CALLBACK (resume_on_helper_state), task);
  g_signal_connect (probe->helper, "message-updated", G_CALLBACK (resume_on_helper_updated), task);

  probe->step = STEP_HELPER_CONNECT;
  note (probe, _("opening a second connection to %s as %s"), probe->room, user);
  tincan_connection_connect (probe->helper);
  arm_step (task, STEP_TIMEOUT_MS, resume_step_timeout);
}

/* Malformed */

static gboolean
malformed_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  probe->step_source = 0;
  if (probe->step == STEP_WAIT_ERROR)
    finish (task, FALSE, _("The server did not answer the malformed frame with an error frame."));
  else
    finish (task, FALSE, _("The server answered with an error, but then did not answer a ping: the connection is not usable any more."));
  return G_SOURCE_REMOVE;
}

static void
malformed_send_ping (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (TincanFrame) ping = tincan_frame_new (TINCAN_FRAME_PING);

  probe->step = STEP_WAIT_PONG;
  /* Far from the connection's own ping ids. */
  probe->ping_id = ((gint64) 1 << 40) + g_random_int_range (1, G_MAXINT32);
  ping->ping_id = probe->ping_id;
  note (probe, "→ ping id %" G_GINT64_FORMAT, probe->ping_id);
  probe->ping_us = g_get_monotonic_time ();
  if (send_raw_frame (task, ping))
    arm_step (task, STEP_TIMEOUT_MS, malformed_timeout);
}

static void
malformed_on_frame (Probe             *probe,
                    GTask             *task,
                    const TincanFrame *frame)
{
  if (frame->type == TINCAN_FRAME_ERROR && probe->step == STEP_WAIT_ERROR)
    {
      probe->got_error = TRUE;
      probe->error_code = g_strdup (frame->code);
      note (probe, "← error %s", frame->code ?: "-");
      malformed_send_ping (task);
    }
  else if (frame->type == TINCAN_FRAME_PONG && probe->step == STEP_WAIT_PONG &&
           frame->ping_id == probe->ping_id)
    {
      g_autofree char *summary = NULL;

      note (probe, "← pong id %" G_GINT64_FORMAT, frame->ping_id);
      summary = g_strdup_printf (_("The server answered with an error (%s) and kept the connection: the ping after it was answered in %lld ms."),
                                 probe->error_code ?: "?",
                                 (long long) ((g_get_monotonic_time () - probe->ping_us) / 1000));
      finish (task, TRUE, summary);
    }
}

static void
malformed_start (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  static const char truncated[] = "{\"type\":\"send\",\"room\":";
  g_autoptr (GBytes) bytes = g_bytes_new_static (truncated, strlen (truncated));

  probe->step = STEP_WAIT_ERROR;
  note (probe, _("→ a truncated JSON frame (%zu bytes)"), strlen (truncated));
  if (!tincan_connection_send_raw (probe->connection, TINCAN_OPCODE_TEXT, bytes, &error))
    {
      g_autofree char *why = g_strdup_printf (_("Could not send the probe frame: %s"), error->message);

      finish (task, FALSE, why);
      return;
    }
  arm_step (task, STEP_TIMEOUT_MS, malformed_timeout);
}

/* Common */

static void
on_frame (TincanConnection    *connection,
          TincanFrameDirection direction,
          TincanOpcode         opcode,
          GBytes              *payload,
          gint64               real_time_us,
          GTask               *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (TincanFrame) frame = NULL;
  gsize size = 0;
  const char *data;

  if (direction == TINCAN_FRAME_DIRECTION_OUT)
    {
      probe->n_out++;
      return;
    }

  probe->n_in++;
  if (opcode == TINCAN_OPCODE_CLOSE)
    {
      data = payload != NULL ? g_bytes_get_data (payload, &size) : NULL;
      probe->close_code = size >= 2 ? ((guint8) data[0] << 8 | (guint8) data[1]) : 0;
      note (probe, "← close %u", probe->close_code);
      return;
    }
  if (opcode != TINCAN_OPCODE_TEXT || payload == NULL)
    return;

  data = g_bytes_get_data (payload, &size);
  frame = tincan_v1_decode (data, size, NULL);
  if (frame == NULL)
    return;

  switch (probe->kind)
    {
    case TINCAN_PROBE_DEDUP: dedup_on_frame (probe, task, frame); break;
    case TINCAN_PROBE_RESUME: resume_on_frame (probe, task, frame); break;
    case TINCAN_PROBE_MALFORMED: malformed_on_frame (probe, task, frame); break;
    default: break;
    }
}

static void
on_state (TincanConnection *connection,
          GParamSpec       *pspec,
          GTask            *task)
{
  Probe *probe = g_task_get_task_data (task);
  TincanConnectionState state = tincan_connection_get_state (connection);
  g_autofree char *summary = NULL;

  note (probe, _("connection %s"), tincan_connection_state_to_string (state));

  if (state == TINCAN_CONNECTION_STATE_CONNECTED || probe->step == STEP_DONE)
    return;

  /* The resume probe takes the link down itself. */
  if (probe->kind == TINCAN_PROBE_RESUME && probe->dropped)
    return;

  if (probe->kind == TINCAN_PROBE_MALFORMED)
    {
      if (probe->close_code != 0)
        summary = g_strdup_printf (_("The server closed the connection (code %u) instead of answering the malformed frame with an error and keeping it."),
                                   probe->close_code);
      else
        summary = g_strdup (_("The connection was lost after the malformed frame: the server must answer with an error and keep it."));
    }
  else
    summary = g_strdup (_("The connection was lost during the probe."));

  finish (task, FALSE, summary);
}

static gboolean
check_cancelled (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  if (probe->step != STEP_DONE && probe->cancellable != NULL &&
      g_cancellable_is_cancelled (probe->cancellable))
    fail_with_error (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                _("The probe was cancelled.")));
  return G_SOURCE_REMOVE;
}

static void
on_cancelled_idle (GCancellable *cancellable,
                   GTask        *task)
{
  g_idle_add_full (G_PRIORITY_DEFAULT, check_cancelled, g_object_ref (task), g_object_unref);
}

void
tincan_probe_run_async (TincanConnection    *connection,
                        TincanProbeKind      kind,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *reason = NULL;
  const char * const *rooms;
  Probe *probe;

  g_return_if_fail (TINCAN_IS_CONNECTION (connection));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (busy_quark == 0)
    busy_quark = g_quark_from_static_string ("tincan-probe-busy");

  task = g_task_new (connection, cancellable, callback, user_data);
  g_task_set_source_tag (task, tincan_probe_run_async);
  g_task_set_check_cancellable (task, FALSE);

  if (!tincan_probe_is_supported (connection, kind, &reason))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s", reason);
      return;
    }
  if (tincan_connection_get_state (connection) != TINCAN_CONNECTION_STATE_CONNECTED)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "%s",
                               _("Connect first: a probe talks to the server."));
      return;
    }
  if (g_object_get_qdata (G_OBJECT (connection), busy_quark) != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY, "%s",
                               _("Another probe is running on this connection."));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  probe = g_new0 (Probe, 1);
  probe->connection = g_object_ref (connection);
  probe->kind = kind;
  probe->start_us = g_get_monotonic_time ();
  probe->evidence = g_string_new (NULL);
  rooms = tincan_connection_get_rooms (connection);
  probe->room = g_strdup (rooms != NULL && rooms[0] != NULL ? rooms[0] : "lobby");
  g_task_set_task_data (task, probe, (GDestroyNotify) probe_free);
  g_object_set_qdata (G_OBJECT (connection), busy_quark, GINT_TO_POINTER (1));

  note (probe, _("%s probe on %s, room %s"), tincan_probe_kind_get_title (kind),
        tincan_connection_get_url (connection), probe->room);

  /* The running probe holds the task; finish() drops it. */
  g_object_ref (task);
  g_signal_connect (connection, "frame", G_CALLBACK (on_frame), task);
  g_signal_connect (connection, "notify::state", G_CALLBACK (on_state), task);
  if (cancellable != NULL)
    {
      probe->cancellable = g_object_ref (cancellable);
      probe->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled_idle),
                                                task, NULL);
    }

  switch (kind)
    {
    case TINCAN_PROBE_DEDUP: dedup_start (task); break;
    case TINCAN_PROBE_RESUME: resume_start (task); break;
    case TINCAN_PROBE_MALFORMED: malformed_start (task); break;
    default: g_assert_not_reached ();
    }
}

TincanProbeResult *
tincan_probe_run_finish (TincanConnection  *connection,
                         GAsyncResult      *result,
                         GError           **error)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (connection), NULL);
  g_return_val_if_fail (g_task_is_valid (result, connection), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tincan_probe_run_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
