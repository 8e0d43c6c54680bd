/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 3339 UTC with milliseconds: "2026-11-22T10:00:00.000Z". */
char     *tincan_timestamp_format     (gint64      ms_since_epoch);
/* Accepts any RFC 3339 / ISO 8601 time with a zone; FALSE if unparsable. */
gboolean  tincan_timestamp_parse      (const char *text,
                                       gint64     *ms_since_epoch);
gint64    tincan_now_ms               (void);
/* A fresh random UUIDv4 (lowercase, 36 characters). */
char     *tincan_uuid_new             (void);
/* Masks a secret for logs and exports: "abcd…" → "••••(12)"; NULL-safe. */
char     *tincan_mask_secret          (const char *secret);
/* A short, non-reversible tag for a message body or id in debug logs:
 * "<text 42 bytes>". Bodies never reach logs. */
char     *tincan_anonymize            (const char *value);

/* A 64-bit fingerprint of two strings (FNV-1a over @a, a NUL and @b, then
 * MurmurHash3's finalizer); never 0. Two different pairs share one with a
 * chance of 1 in 2⁶⁴. */
guint64   tincan_fingerprint2         (const char *a,
                                       const char *b);

/* The last @capacity fingerprints added: a ring, oldest first, and an
 * open-addressing table of twice as many slots (linear probing,
 * backward-shift deletion). Nothing is allocated per fingerprint. */
typedef struct _TincanRecentSet TincanRecentSet;

TincanRecentSet *tincan_recent_set_new      (guint            capacity);
void             tincan_recent_set_free     (TincanRecentSet *self);
gboolean         tincan_recent_set_contains (TincanRecentSet *self,
                                             guint64          fingerprint);
/* Adds @fingerprint (not 0) in place of the oldest when full; FALSE, and
 * nothing changes, if it is among them already. */
gboolean         tincan_recent_set_add      (TincanRecentSet *self,
                                             guint64          fingerprint);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TincanRecentSet, tincan_recent_set_free)

G_END_DECLS
