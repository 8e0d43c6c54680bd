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

G_END_DECLS
