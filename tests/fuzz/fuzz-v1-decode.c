/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-fuzz"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "tincan-frame.h"
#include "tincan-frame-private.h"
#include "tincan-protocol.h"

/* The tincan.v1 codec: any input either fails to decode with a GError, or
 * decodes to a frame that encodes again, and that encoding decodes to the
 * same frame and re-encodes to the same bytes (the encoding is canonical). */

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

static gboolean
resume_equal (GHashTable *a,
              GHashTable *b)
{
  GHashTableIter iter;
  gpointer key, value;

  if (a == NULL || b == NULL)
    return (a == NULL || g_hash_table_size (a) == 0) &&
           (b == NULL || g_hash_table_size (b) == 0);

  if (g_hash_table_size (a) != g_hash_table_size (b))
    return FALSE;

  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const gint64 *other = g_hash_table_lookup (b, key);

      if (other == NULL || *other != *(const gint64 *) value)
        return FALSE;
    }

  return TRUE;
}

static gboolean
strv_equal (char **a,
            char **b)
{
  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);

  return g_strv_equal ((const char * const *) a, (const char * const *) b);
}

#define CHECK(cond) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        fprintf (stderr, "round trip: %s differs (%s)\n", #cond, tincan_frame_type_to_string (a->type)); \
        abort (); \
      } \
  } G_STMT_END

static void
assert_frames_equal (const TincanFrame *a,
                     const TincanFrame *b)
{
  CHECK (a->type == b->type);
  CHECK (g_strcmp0 (a->room, b->room) == 0);
  CHECK (g_strcmp0 (a->user, b->user) == 0);
  CHECK (g_strcmp0 (a->token, b->token) == 0);
  CHECK (g_strcmp0 (a->session, b->session) == 0);
  CHECK (g_strcmp0 (a->cid, b->cid) == 0);
  CHECK (g_strcmp0 (a->id, b->id) == 0);
  CHECK (g_strcmp0 (a->text, b->text) == 0);
  CHECK (g_strcmp0 (a->code, b->code) == 0);
  CHECK (g_strcmp0 (a->message, b->message) == 0);
  CHECK (a->seq == b->seq);
  CHECK (a->ts == b->ts);
  CHECK (a->ping_id == b->ping_id);
  CHECK (a->heartbeat == b->heartbeat);
  CHECK (!a->online == !b->online);
  CHECK (!a->gap == !b->gap);
  CHECK (strv_equal (a->rooms, b->rooms));
  CHECK (strv_equal (a->users, b->users));
  CHECK (resume_equal (a->resume, b->resume));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static gboolean initialized = FALSE;
  g_autoptr (TincanFrame) first = NULL;
  g_autoptr (TincanFrame) second = NULL;
  g_autoptr (TincanFrame) copy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *reencoded = NULL;
  gsize encoded_len = 0;
  gsize reencoded_len = 0;

  if (!initialized)
    {
      fuzz_init_logging ();
      initialized = TRUE;
    }

  first = tincan_v1_decode ((const char *) data, size, &error);
  if (first == NULL)
    {
      /* A failure always says why, in the protocol's error domain. */
      if (error == NULL || error->domain != TINCAN_PROTOCOL_ERROR || error->message == NULL)
        {
          fprintf (stderr, "decode failed without a TINCAN_PROTOCOL_ERROR\n");
          abort ();
        }
      return 0;
    }

  if (error != NULL)
    {
      fprintf (stderr, "decode returned a frame and set an error\n");
      abort ();
    }

  fuzz_check_frame (first);

  copy = tincan_frame_copy (first);
  assert_frames_equal (first, copy);

  encoded = _tincan_v1_encode_full (first, &encoded_len, &error);
  if (encoded == NULL)
    {
      fprintf (stderr, "a decoded %s frame does not encode again: %s\n",
               tincan_frame_type_to_string (first->type), error->message);
      abort ();
    }
  if (strlen (encoded) != encoded_len || !g_utf8_validate (encoded, encoded_len, NULL))
    {
      fprintf (stderr, "encoding has a wrong length or is not UTF-8\n");
      abort ();
    }

  second = tincan_v1_decode (encoded, encoded_len, &error);
  if (second == NULL)
    {
      fprintf (stderr, "the encoding of a decoded %s frame does not decode: %s\n",
               tincan_frame_type_to_string (first->type), error->message);
      abort ();
    }
  assert_frames_equal (first, second);

  reencoded = _tincan_v1_encode_full (second, &reencoded_len, &error);
  if (reencoded == NULL ||
      reencoded_len != encoded_len ||
      memcmp (encoded, reencoded, encoded_len) != 0)
    {
      fprintf (stderr, "encoding is not canonical:\n%s\n%s\n", encoded,
               reencoded != NULL ? reencoded : "(null)");
      abort ();
    }

  return 0;
}
