/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tincan-message.h"

G_BEGIN_DECLS

#define TINCAN_STORE_ERROR (tincan_store_error_quark ())

typedef enum
{
  TINCAN_STORE_ERROR_OPEN,      /* cannot open or create the database */
  TINCAN_STORE_ERROR_SCHEMA,    /* the schema is newer than this build, or a migration failed */
  TINCAN_STORE_ERROR_IO,        /* an SQLite statement failed */
} TincanStoreError;

GQuark tincan_store_error_quark (void);

#define TINCAN_TYPE_STORE (tincan_store_get_type ())

G_DECLARE_FINAL_TYPE (TincanStore, tincan_store, TINCAN, STORE, GObject)

/* The history of one server profile: one SQLite database in WAL mode.
 * Holds every message, incoming and outgoing; the outbox is the set of
 * outgoing messages not yet acknowledged (TincanOutbox sits on top).
 *
 * Writes are batched: tincan_store_save() queues a message and one
 * transaction per main-loop turn commits the batch (or tincan_store_flush()
 * commits it now). The batch is written on a worker thread while the main
 * thread goes on; what was saved meanwhile goes into the next batch. Reads
 * wait for it and flush first, so they always see every save. Use a store
 * from the thread (and main context) that created it.
 *
 * Dedup: a message with a cid already stored updates that row (the echo
 * of our own message, an ack filling in seq/id/ts); a message whose
 * (room, seq) is already stored is a duplicate and ignored.
 *
 * Signals:
 *   "committed" (GPtrArray *messages): after a batch commit, the messages
 *   newly inserted in it, in save order (duplicates excluded).
 *   "written": after each batch the worker wrote, committed or not. */

/* Default directory: g_get_user_data_dir()/tincan. */
char          *tincan_store_get_default_dir   (void);
/* Opens (creating and migrating if needed) the database at @path; its
 * directory is created. */
TincanStore   *tincan_store_new               (const char     *path,
                                               GError        **error);
const char    *tincan_store_get_path          (TincanStore    *self);
int            tincan_store_get_schema_version (TincanStore   *self);

/* Queues an insert-or-update of @message; returns at once. */
void           tincan_store_save              (TincanStore    *self,
                                               TincanMessage  *message);
/* TRUE while @message has a save queued that is not on disk yet (not
 * committed, not journaled): tincan_store_flush() would write it. */
gboolean       tincan_store_is_pending        (TincanStore    *self,
                                               TincanMessage  *message);
/* Commits the pending batch now. */
gboolean       tincan_store_flush             (TincanStore    *self,
                                               GError        **error);
typedef enum
{
  TINCAN_STORE_DURABLE,   /* on disk: committed, or journaled */
  TINCAN_STORE_BUSY,      /* not yet, and the worker holds the database: wait for "written" */
  TINCAN_STORE_FAILED,    /* could not be written (see the error) */
} TincanStoreDurability;

/* What a send needs before a frame goes out: @messages on disk. The
 * pending ones among them are journaled now, not the other pending saves
 * (they wait for their batch); unless a batch is being written, which
 * holds the database: then BUSY, and "written" follows. Ask for the
 * oldest unsent messages first (the outbox is kept in the order its
 * messages reach the disk). */
TincanStoreDurability tincan_store_make_durable (TincanStore          *self,
                                                 TincanMessage * const *messages,
                                                 guint                 n_messages,
                                                 GError              **error);
/* Removes a message (e.g. a discarded failed send). */
gboolean       tincan_store_delete            (TincanStore    *self,
                                               TincanMessage  *message,
                                               GError        **error);

/* Messages of @room with a seq, seq < @before_seq (0 = from the newest),
 * at most @limit, NEWEST FIRST. Element type TincanMessage. */
GPtrArray     *tincan_store_load_page         (TincanStore    *self,
                                               const char     *room,
                                               gint64          before_seq,
                                               guint           limit,
                                               GError        **error);
/* Messages of @room with seq > @after_seq, at most @limit, OLDEST FIRST
 * (the page below a window that was moved up). */
GPtrArray     *tincan_store_load_page_after   (TincanStore    *self,
                                               const char     *room,
                                               gint64          after_seq,
                                               guint           limit,
                                               GError        **error);
/* Outgoing messages of @room that have no seq yet (queued, sending, sent,
 * failed), oldest first. */
GPtrArray     *tincan_store_load_unsequenced  (TincanStore    *self,
                                               const char     *room,
                                               GError        **error);
/* The outbox: outgoing messages in state queued/sending (not failed, not
 * acknowledged), all rooms, in the order they were sent. */
GPtrArray     *tincan_store_load_outbox       (TincanStore    *self,
                                               GError        **error);
guint          tincan_store_count_outbox      (TincanStore    *self);
TincanMessage *tincan_store_lookup_cid        (TincanStore    *self,
                                               const char     *cid);
/* Highest seq stored for @room, 0 if none. */
gint64         tincan_store_get_last_seq      (TincanStore    *self,
                                               const char     *room);
guint64        tincan_store_count_messages    (TincanStore    *self,
                                               const char     *room);
/* Rooms that have messages, sorted. */
GStrv          tincan_store_list_rooms        (TincanStore    *self);

G_END_DECLS
