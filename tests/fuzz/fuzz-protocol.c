/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-fuzz"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "tincan-protocol.h"

/* Every dialect in the registry (tincan_protocol_list_names()), fed the
 * same input, so a dialect is fuzzed as soon as it is registered.
 *
 * Input: WebSocket messages separated by a 0xFF byte (which valid UTF-8
 * never holds); a message starting with 0xFE is binary (the rest of it is
 * the payload), any other is text. The messages go in order to one
 * protocol instance per dialect, as they would on one connection, so
 * stateful dialects (Socket.IO's handshake) get past their first frame.
 *
 * Checked: decode never crashes, warns or goes critical; FALSE comes with
 * an error and TRUE without; decoded frames are well-formed and valid
 * UTF-8; client frames built from the decoded strings encode (or fail with
 * an error) to valid UTF-8 when sent as text. */

#define MAX_MESSAGES 16

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

static void
check_encode (TincanProtocol    *protocol,
              const TincanFrame *frame)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gboolean binary = FALSE;

  bytes = tincan_protocol_encode (protocol, frame, &binary, &error);
  if (bytes == NULL)
    return;

  if (error != NULL)
    {
      fprintf (stderr, "%s: encode returned bytes and set an error\n",
               tincan_protocol_get_name (protocol));
      abort ();
    }

  if (!binary)
    {
      gsize len = 0;
      const char *text = g_bytes_get_data (bytes, &len);

      if (len > 0 && !g_utf8_validate_len (text, len, NULL))
        {
          fprintf (stderr, "%s: encoded %s text frame is not valid UTF-8\n",
                   tincan_protocol_get_name (protocol),
                   tincan_frame_type_to_string (frame->type));
          abort ();
        }
    }
}

/* Sends back what a hostile server handed us: the strings a user would
 * echo (room names, texts, ids) are the nastiest input an encoder gets. */
static void
encode_from (TincanProtocol    *protocol,
             const TincanFrame *decoded)
{
  const char *room = decoded->room != NULL ? decoded->room : "lobby";
  g_autoptr (TincanFrame) hello = tincan_frame_new (TINCAN_FRAME_HELLO);
  g_autoptr (TincanFrame) join = tincan_frame_new (TINCAN_FRAME_JOIN);
  g_autoptr (TincanFrame) leave = tincan_frame_new (TINCAN_FRAME_LEAVE);
  g_autoptr (TincanFrame) send = tincan_frame_new (TINCAN_FRAME_SEND);
  g_autoptr (TincanFrame) ping = tincan_frame_new (TINCAN_FRAME_PING);

  hello->user = g_strdup (decoded->user != NULL ? decoded->user : "alice");
  hello->token = g_strdup (decoded->token);
  if (decoded->room != NULL)
    tincan_frame_add_resume (hello, decoded->room, MAX (decoded->seq, 0));
  check_encode (protocol, hello);

  join->room = g_strdup (room);
  check_encode (protocol, join);
  leave->room = g_strdup (room);
  check_encode (protocol, leave);

  send->room = g_strdup (room);
  send->cid = g_strdup (decoded->cid != NULL ? decoded->cid : "3b241101-e2bb-4255-8caf-4136c566a962");
  send->text = g_strdup (decoded->text != NULL ? decoded->text :
                         decoded->message != NULL ? decoded->message : "");
  check_encode (protocol, send);

  ping->ping_id = decoded->ping_id;
  check_encode (protocol, ping);
}

static void
run_dialect (const char    *name,
             const uint8_t *data,
             size_t         size)
{
  g_autoptr (TincanProtocol) protocol = NULL;
  g_autoptr (GError) error = NULL;
  const uint8_t *p = data;
  const uint8_t *end = data + size;

  protocol = tincan_protocol_new_for_name (name, &error);
  if (protocol == NULL)
    {
      fprintf (stderr, "registered dialect %s cannot be created: %s\n", name, error->message);
      abort ();
    }

  tincan_protocol_reset (protocol);

  for (guint n = 0; n < MAX_MESSAGES && p <= end; n++)
    {
      const uint8_t *sep = memchr (p, 0xff, end - p);
      const uint8_t *stop = sep != NULL ? sep : end;
      g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) tincan_frame_free);
      g_autoptr (GBytes) payload = NULL;
      g_autoptr (GError) decode_error = NULL;
      gboolean binary = FALSE;
      const uint8_t *start = p;
      gboolean ok;

      if (start < stop && *start == 0xfe)
        {
          binary = TRUE;
          start++;
        }

      /* A fresh copy, so ASan sees any read past the payload. */
      payload = g_bytes_new (start, stop - start);
      ok = tincan_protocol_decode (protocol, binary, payload, frames, &decode_error);

      if (ok != (decode_error == NULL))
        {
          fprintf (stderr, "%s: decode returned %s %s an error\n", name,
                   ok ? "TRUE" : "FALSE", ok ? "with" : "without");
          abort ();
        }

      for (guint i = 0; i < frames->len; i++)
        {
          const TincanFrame *frame = g_ptr_array_index (frames, i);
          g_autoptr (TincanFrame) copy = NULL;

          fuzz_check_frame (frame);
          copy = tincan_frame_copy (frame);
          encode_from (protocol, frame);
        }

      if (sep == NULL)
        break;
      p = sep + 1;
    }

  tincan_protocol_reset (protocol);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static gboolean initialized = FALSE;
  const char * const *names;
  const char *only;

  if (!initialized)
    {
      fuzz_init_logging ();
      initialized = TRUE;
    }

  /* TINCAN_FUZZ_DIALECT=json limits a run (or a reproduction) to one. */
  only = g_getenv ("TINCAN_FUZZ_DIALECT");
  names = tincan_protocol_list_names ();
  for (guint i = 0; names[i] != NULL; i++)
    {
      if (only == NULL || g_str_equal (only, names[i]))
        run_dialect (names[i], data, size);
    }

  return 0;
}
