/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-util"

#include "config.h"

#include <string.h>

#include "tincan-util.h"

/* 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, GDateTime's range. */
#define MIN_TIMESTAMP_MS (G_GINT64_CONSTANT (-62135596800) * 1000)
#define MAX_TIMESTAMP_MS (G_GINT64_CONSTANT (253402300799) * 1000 + 999)

char *
tincan_timestamp_format (gint64 ms_since_epoch)
{
  g_autoptr (GDateTime) dt = NULL;
  gint64 secs;
  int ms;

  /* Floor division so times before 1970 keep a positive millisecond part. */
  secs = ms_since_epoch / 1000;
  ms = (int) (ms_since_epoch % 1000);
  if (ms < 0)
    {
      ms += 1000;
      secs -= 1;
    }

  dt = g_date_time_new_from_unix_utc (secs);
  if (dt == NULL)
    return NULL;

  /* Not g_date_time_format(): its %Y does not pad years before 1000 to
   * the four digits RFC 3339 requires. */
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                          g_date_time_get_year (dt),
                          g_date_time_get_month (dt),
                          g_date_time_get_day_of_month (dt),
                          g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt),
                          g_date_time_get_second (dt),
                          ms);
}

static gboolean
read_digits (const char *p,
             guint       n,
             int        *value)
{
  *value = 0;
  for (guint i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit (p[i]))
        return FALSE;
      *value = *value * 10 + (p[i] - '0');
    }
  return TRUE;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static gint64
days_from_civil (int y,
                 int m,
                 int d)
{
  gint64 era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

  return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.fffZ", and only a valid
 * date and time: FALSE sends everything else to GLib's parser. */
static gboolean
parse_utc_timestamp (const char *text,
                     gint64     *ms)
{
  int year, month, day, hour, minute, second, milli = 0;
  gsize len = strlen (text);

  if (len != 20 && len != 24)
    return FALSE;
  if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[len - 1] != 'Z')
    return FALSE;
  if (!read_digits (text, 4, &year) || !read_digits (text + 5, 2, &month) ||
      !read_digits (text + 8, 2, &day) || !read_digits (text + 11, 2, &hour) ||
      !read_digits (text + 14, 2, &minute) || !read_digits (text + 17, 2, &second))
    return FALSE;
  if (len == 24 && (text[19] != '.' || !read_digits (text + 20, 3, &milli)))
    return FALSE;

  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > g_date_get_days_in_month (month, year) ||
      hour > 23 || minute > 59 || second > 59)
    return FALSE;

  *ms = ((days_from_civil (year, month, day) * 24 + hour) * 60 + minute) * 60000 +
        (gint64) second * 1000 + milli;

  return TRUE;
}

gboolean
tincan_timestamp_parse (const char *text,
                        gint64     *ms_since_epoch)
{
  g_autoptr (GDateTime) dt = NULL;
  gint64 ms;

  if (text == NULL || *text == '\0')
    return FALSE;

  /* Nearly every server writes "2026-11-22T10:00:00.000Z" (what
   * JavaScript's toISOString() gives): read that directly, as GLib
   * would. Anything else goes to GLib's parser. */
  if (!parse_utc_timestamp (text, &ms))
    {
      /* With a NULL default zone, a time without a zone is rejected. */
      dt = g_date_time_new_from_iso8601 (text, NULL);
      if (dt == NULL)
        return FALSE;

      ms = g_date_time_to_unix (dt) * 1000 + g_date_time_get_microsecond (dt) / 1000;
    }

  /* Year 1 or 9999 with an offset can fall outside 0001–9999 once in UTC,
   * where tincan_timestamp_format() could not write it back. */
  if (ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS)
    return FALSE;

  if (ms_since_epoch != NULL)
    *ms_since_epoch = ms;

  return TRUE;
}

gint64
tincan_now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* A random (version 4) UUID. g_uuid_string_random() seeds a new GRand
 * from /dev/urandom on every call, three system calls per message sent;
 * GLib's global generator is seeded from it once, which is as unique. */
char *
tincan_uuid_new (void)
{
  static const char hex[] = "0123456789abcdef";
  guint8 bytes[16];
  char *uuid = g_malloc (37);
  char *out = uuid;

  for (guint i = 0; i < 4; i++)
    {
      guint32 r = g_random_int ();

      bytes[4 * i] = r >> 24;
      bytes[4 * i + 1] = r >> 16;
      bytes[4 * i + 2] = r >> 8;
      bytes[4 * i + 3] = r;
    }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;   /* version 4 */
  bytes[8] = (bytes[8] & 0x3f) | 0x80;   /* RFC 4122 variant */

  for (guint i = 0; i < 16; i++)
    {
      if (i == 4 || i == 6 || i == 8 || i == 10)
        *out++ = '-';
      *out++ = hex[bytes[i] >> 4];
      *out++ = hex[bytes[i] & 0x0f];
    }
  *out = '\0';

  return uuid;
}

char *
tincan_mask_secret (const char *secret)
{
  if (secret == NULL)
    return g_strdup ("(none)");

  /* Only the length leaks, never a character of the secret. */
  if (g_utf8_validate (secret, -1, NULL))
    return g_strdup_printf ("••••(%ld)", g_utf8_strlen (secret, -1));
  else
    return g_strdup_printf ("••••(%" G_GSIZE_FORMAT ")", strlen (secret));
}

char *
tincan_anonymize (const char *value)
{
  if (value == NULL)
    return g_strdup ("<null>");

  return g_strdup_printf ("<text %" G_GSIZE_FORMAT " bytes>", strlen (value));
}

guint64
tincan_fingerprint2 (const char *a,
                     const char *b)
{
  const guint64 prime = G_GUINT64_CONSTANT (0x100000001b3);
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  const guchar *p;

  g_return_val_if_fail (a != NULL && b != NULL, 1);

  for (p = (const guchar *) a; *p != '\0'; p++)
    h = (h ^ *p) * prime;
  h *= prime;
  for (p = (const guchar *) b; *p != '\0'; p++)
    h = (h ^ *p) * prime;

  h ^= h >> 33;
  h *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  h ^= h >> 33;

  return h != 0 ? h : 1;
}

struct _TincanRecentSet
{
  guint64 *ring;    /* @capacity entries, the oldest at @next; 0 = unused */
  guint64 *slots;   /* @mask + 1 entries; 0 = empty */
  guint    capacity;
  guint    next;
  guint    mask;
};

TincanRecentSet *
tincan_recent_set_new (guint capacity)
{
  TincanRecentSet *self;

  g_return_val_if_fail (capacity > 0 && capacity <= G_MAXUINT / 4, NULL);

  self = g_new0 (TincanRecentSet, 1);
  self->capacity = capacity;
  /* A power of two, at least twice @capacity: at most half full, so
   * probes stay short. */
  self->mask = (1u << g_bit_storage (2 * capacity - 1)) - 1;
  self->ring = g_new0 (guint64, capacity);
  self->slots = g_new0 (guint64, self->mask + 1);

  return self;
}

void
tincan_recent_set_free (TincanRecentSet *self)
{
  if (self == NULL)
    return;

  g_free (self->ring);
  g_free (self->slots);
  g_free (self);
}

/* The slot of @fingerprint, or of the empty one where it would go. */
static guint
recent_set_slot (TincanRecentSet *self,
                 guint64          fingerprint)
{
  guint i = fingerprint & self->mask;

  while (self->slots[i] != 0 && self->slots[i] != fingerprint)
    i = (i + 1) & self->mask;

  return i;
}

/* Empties slot @i, moving up the entries after it that would no longer be
 * found past the hole (backward-shift deletion: no tombstones). */
static void
recent_set_remove_at (TincanRecentSet *self,
                      guint            i)
{
  guint j = i;

  for (;;)
    {
      guint home;

      j = (j + 1) & self->mask;
      if (self->slots[j] == 0)
        break;
      home = self->slots[j] & self->mask;
      /* It may fill the hole if the hole lies between its home and it. */
      if (((j - home) & self->mask) >= ((j - i) & self->mask))
        {
          self->slots[i] = self->slots[j];
          i = j;
        }
    }
  self->slots[i] = 0;
}

gboolean
tincan_recent_set_contains (TincanRecentSet *self,
                            guint64          fingerprint)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return fingerprint != 0 && self->slots[recent_set_slot (self, fingerprint)] == fingerprint;
}

gboolean
tincan_recent_set_add (TincanRecentSet *self,
                       guint64          fingerprint)
{
  guint64 *oldest;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (fingerprint != 0, FALSE);

  if (self->slots[recent_set_slot (self, fingerprint)] == fingerprint)
    return FALSE;

  oldest = &self->ring[self->next];
  if (*oldest != 0)
    recent_set_remove_at (self, recent_set_slot (self, *oldest));
  *oldest = fingerprint;
  /* The removal may have moved entries: look for the free slot again. */
  self->slots[recent_set_slot (self, fingerprint)] = fingerprint;
  self->next = (self->next + 1) % self->capacity;

  return TRUE;
}
