/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib/gstdio.h>

#include "tincan-core.h"

/* A long history for the memory and startup benchmarks: @n short
 * incoming messages in @room, as tincan-server sends them (a UUID id, the
 * sender's UUID cid, a short sender name, server and local timestamps),
 * through the store's own batch path: tincan_store_save() and a commit
 * every BENCH_HISTORY_BATCH. Returns the bytes of text written. */

#define BENCH_HISTORY_BATCH 20000

static inline guint64
bench_fill_history (TincanStore *store,
                    const char  *room,
                    guint        n)
{
  static const char * const senders[] = { "alice", "bob", "carol", "dave", "erin" };
  g_autoptr (GError) error = NULL;
  gint64 base = 1795341600000 - (gint64) n * 1000;
  guint64 text_bytes = 0;

  for (guint i = 1; i <= n; i++)
    {
      g_autoptr (TincanMessage) message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
      g_autofree char *id = tincan_uuid_new ();
      g_autofree char *cid = tincan_uuid_new ();
      g_autofree char *text = g_strdup_printf ("short message number %u", i);

      tincan_message_set_id (message, id);
      tincan_message_set_cid (message, cid);
      tincan_message_set_room (message, room);
      tincan_message_set_sender (message, senders[i % G_N_ELEMENTS (senders)]);
      tincan_message_set_text (message, text);
      tincan_message_set_seq (message, i);
      tincan_message_set_timestamp (message, base + (gint64) i * 1000);
      tincan_message_set_local_timestamp (message, base + (gint64) i * 1000 + 7);
      tincan_message_set_state (message, TINCAN_MESSAGE_STATE_DELIVERED);
      tincan_store_save (store, message);
      text_bytes += strlen (text);

      if (i % BENCH_HISTORY_BATCH == 0 && !tincan_store_flush (store, &error))
        g_error ("Cannot write the history: %s", error->message);
    }

  if (!tincan_store_flush (store, &error))
    g_error ("Cannot write the history: %s", error->message);

  return text_bytes;
}

/* The database file and its WAL (if any), in bytes. */
static inline guint64
bench_database_size (const char *path)
{
  static const char * const suffixes[] = { "", "-wal" };
  guint64 size = 0;

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);
      GStatBuf buf;

      if (g_stat (file, &buf) == 0)
        size += buf.st_size;
    }

  return size;
}

static inline void
bench_remove_tree (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        bench_remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}
