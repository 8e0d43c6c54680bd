/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-store"

#include "config.h"

#include <errno.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "tincan-store-private.h"
#include "tincan-message-private.h"
#include "tincan-util.h"

/* Schema migrations: migrations[i] brings a database from user_version i
 * to i + 1, in one transaction. Append, never edit a released entry.
 *
 * v1: rooms get small integer ids so a message row carries one varint,
 * not the room name. "pk" is declared INTEGER PRIMARY KEY (the rowid) so
 * that VACUUM keeps it: it is the insertion order the outbox and the
 * unsequenced messages are sorted by. direction and state are the
 * TincanMessageDirection / TincanMessageState values. seq and ts are NULL
 * until the server assigns them. UNIQUE (room_id, seq) also indexes the
 * per-room queries; SQLite treats NULLs as distinct, so any number of
 * unsequenced rows fit. */
static const char * const migrations[] = {
  /* 0 -> 1 */
  "CREATE TABLE rooms ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE"
  ");"
  "CREATE TABLE messages ("
  "  pk INTEGER PRIMARY KEY,"
  "  room_id INTEGER NOT NULL REFERENCES rooms (id),"
  "  seq INTEGER,"
  "  id TEXT,"
  "  cid TEXT,"
  "  sender TEXT,"
  "  text TEXT,"
  "  ts INTEGER,"
  "  local_ts INTEGER,"
  "  direction INTEGER NOT NULL,"
  "  state INTEGER NOT NULL,"
  "  reason TEXT"
  ");"
  "CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);"
  "CREATE UNIQUE INDEX messages_cid ON messages (cid) WHERE cid IS NOT NULL;"
  "CREATE INDEX messages_outbox ON messages (direction)"
  "  WHERE direction = 1 AND state IN (0, 1);",
  /* 1 -> 2: the write-ahead journal of tincan_store_flush(). One row per
   * saved message (a journal record, see JournalRecord), no index but the
   * rowid, so a flush dirties one or two pages; the rows are applied to
   * messages and deleted by the next batch commit, or at open after a
   * crash, in pk order. */
  "CREATE TABLE journal ("
  "  pk INTEGER PRIMARY KEY,"
  "  data BLOB NOT NULL"
  ");",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS (migrations))

#define MESSAGE_COLUMNS \
  "m.pk, r.name, m.seq, m.id, m.cid, m.sender, m.text, m.ts, m.local_ts, m.direction, m.state, m.reason"
#define MESSAGE_FROM \
  " FROM messages m JOIN rooms r ON r.id = m.room_id "

typedef enum
{
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_ROOM_LOOKUP,
  STMT_ROOM_INSERT,
  STMT_INSERT,
  STMT_UPDATE,
  STMT_UPDATE_STATE,
  STMT_FIND_CID,
  STMT_FIND_SEQ,
  STMT_SELECT_ROW,
  STMT_DELETE,
  STMT_PAGE,
  STMT_PAGE_AFTER,
  STMT_UNSEQUENCED,
  STMT_OUTBOX,
  STMT_COUNT_OUTBOX,
  STMT_LOOKUP_CID,
  STMT_LAST_SEQ,
  STMT_COUNT_ROOM,
  STMT_COUNT_ALL,
  STMT_LIST_ROOMS,
  STMT_JOURNAL_INSERT,
  STMT_JOURNAL_READ,
  STMT_JOURNAL_CLEAR,
  N_STMTS
} StmtId;

static const char * const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_ROOM_LOOKUP] = "SELECT id FROM rooms WHERE name = ?1",
  [STMT_ROOM_INSERT] = "INSERT INTO rooms (name) VALUES (?1)",
  [STMT_INSERT] =
    "INSERT INTO messages (room_id, seq, id, cid, sender, text, ts, local_ts, direction, state, reason)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
  /* A stored field is never cleared by a save that lacks it: an ack or
   * an echo fills in what was missing. */
  [STMT_UPDATE] =
    "UPDATE messages SET"
    " seq = COALESCE (?2, seq), id = COALESCE (?3, id), cid = COALESCE (?4, cid),"
    " sender = COALESCE (?5, sender), text = COALESCE (?6, text), ts = COALESCE (?7, ts),"
    " state = ?8, reason = ?9"
    " WHERE pk = ?1",
  /* The same, for a message whose cid, sender and text are as stored:
   * leaves the cid index alone. */
  [STMT_UPDATE_STATE] =
    "UPDATE messages SET"
    " seq = COALESCE (?2, seq), id = COALESCE (?3, id), ts = COALESCE (?7, ts),"
    " state = ?8, reason = ?9"
    " WHERE pk = ?1",
  [STMT_FIND_CID] = "SELECT pk, direction FROM messages WHERE cid = ?1",
  [STMT_FIND_SEQ] = "SELECT pk FROM messages WHERE room_id = ?1 AND seq = ?2",
  [STMT_SELECT_ROW] = "SELECT " MESSAGE_COLUMNS MESSAGE_FROM "WHERE m.pk = ?1",
  [STMT_DELETE] = "DELETE FROM messages WHERE pk = ?1",
  [STMT_PAGE] =
    "SELECT " MESSAGE_COLUMNS MESSAGE_FROM
    "WHERE m.room_id = ?1 AND m.seq IS NOT NULL AND m.seq < ?2"
    " ORDER BY m.seq DESC LIMIT ?3",
  [STMT_PAGE_AFTER] =
    "SELECT " MESSAGE_COLUMNS MESSAGE_FROM
    "WHERE m.room_id = ?1 AND m.seq > ?2"
    " ORDER BY m.seq LIMIT ?3",
  [STMT_UNSEQUENCED] =
    "SELECT " MESSAGE_COLUMNS MESSAGE_FROM
    "WHERE m.room_id = ?1 AND m.seq IS NULL AND m.direction = 1"
    " ORDER BY m.pk",
  [STMT_OUTBOX] =
    "SELECT " MESSAGE_COLUMNS MESSAGE_FROM
    "WHERE m.direction = 1 AND m.state IN (0, 1)"
    " ORDER BY m.pk",
  [STMT_COUNT_OUTBOX] =
    "SELECT COUNT(*) FROM messages WHERE direction = 1 AND state IN (0, 1)",
  [STMT_LOOKUP_CID] = "SELECT " MESSAGE_COLUMNS MESSAGE_FROM "WHERE m.cid = ?1",
  [STMT_LAST_SEQ] =
    "SELECT seq FROM messages WHERE room_id = ?1 AND seq IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1",
  [STMT_COUNT_ROOM] = "SELECT COUNT(*) FROM messages WHERE room_id = ?1",
  [STMT_COUNT_ALL] = "SELECT COUNT(*) FROM messages",
  [STMT_LIST_ROOMS] =
    "SELECT name FROM rooms r"
    " WHERE EXISTS (SELECT 1 FROM messages m WHERE m.room_id = r.id)"
    " ORDER BY name",
  [STMT_JOURNAL_INSERT] = "INSERT INTO journal (data) VALUES (?1)",
  [STMT_JOURNAL_READ] = "SELECT pk, data FROM journal ORDER BY pk",
  [STMT_JOURNAL_CLEAR] = "DELETE FROM journal WHERE pk <= ?1",
};

/* A journal record, serialized by hand (a GVariant cost more than the
 * commit): the byte JOURNAL_FORMAT, direction and state (one byte each),
 * ref, pk, seq, ts and local_ts (64-bit little endian), then room, cid,
 * id, sender, text and reason, each a 32-bit little-endian length L and
 * L bytes: the string and its NUL, or nothing (L = 0) for NULL.
 *
 * pk is the row the message already has (0: none yet); ref is the
 * journal pk of an earlier record of the same, not yet applied, message
 * (0: none), so that records of one message without cid or seq still end
 * up in one row. */
#define JOURNAL_FORMAT 1
#define JOURNAL_N_INTS 5
#define JOURNAL_N_STRINGS 6

typedef struct
{
  gint64      ref;
  gint64      pk;
  gint64      seq;
  gint64      ts;
  gint64      local_ts;
  int         direction;
  int         state;
  /* Point into the serialized record. */
  const char *room;
  const char *cid;
  const char *id;
  const char *sender;
  const char *text;
  const char *reason;
} JournalRecord;

/* Cached statements are handed out with g_autoptr (TincanStmt): leaving
 * the scope resets them for the next use. */
typedef sqlite3_stmt TincanStmt;

static void
tincan_stmt_release (TincanStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TincanStmt, tincan_stmt_release)

typedef enum
{
  OUTCOME_INSERTED,
  OUTCOME_UPDATED,
  OUTCOME_DUPLICATE,
} OutcomeKind;

/* What writing a message needs of it, copied on the main thread when its
 * batch is taken: the batch is written on the store's worker thread,
 * which never touches the object. */
typedef struct
{
  /* The strings point into one block, @strings. */
  char          *strings;
  const char    *room;
  const char    *cid;
  const char    *id;
  const char    *sender;
  const char    *text;
  const char    *reason;     /* only for TINCAN_MESSAGE_STATE_FAILED */
  gint64         seq;
  gint64         ts;
  gint64         local_ts;
  gint64         live_pk;    /* the row the object stands for, or 0 */
  int            direction;
  int            state;
} Row;

typedef struct
{
  TincanMessage *message;    /* main thread only */
  Row            row;
  /* The stored row after an update through another object (same cid). */
  TincanMessage *merged;
  gint64         pk;
  OutcomeKind    kind;
  gboolean       content_dirty;  /* taken from the message; given back on a rollback */
} Outcome;

typedef struct _Batch Batch;

struct _TincanStore
{
  GObject      parent_instance;

  char        *path;
  sqlite3     *db;
  sqlite3_stmt *stmts[N_STMTS];
  int          schema_version;

  /* Saved, not yet committed: save order, each message once. */
  GPtrArray   *pending;
  GHashTable  *pending_set;
  guint        flush_id;
  guint        apply_id;

  /* Batches are written on a worker thread (NULL: on the main thread),
   * in order: while any is in flight the worker alone uses db, stmts,
   * rooms and wal_frames, and the main thread waits for them all
   * (batch_wait()) before it touches those. A message is in one batch in
   * flight at most: saved again meanwhile, it waits in pending. */
  GThreadPool *worker;
  GMainContext *context;
  GQueue       in_flight;         /* Batch *, oldest first */
  GHashTable  *in_flight_set;     /* the saves they hold */
  gboolean     journal_in_flight; /* one of them applies the journal */

  /* Flushed into the journal, not yet applied to messages: journal
   * order, each message once; message -> journal pk (gint64 *) of its
   * first record. */
  GPtrArray   *journaled;
  GHashTable  *journaled_refs;
  gint64       journal_last_pk;
  /* "c" cid and "s" room "\n" seq of the journaled messages, for dedup
   * before they are applied; the journaled messages already announced
   * by "committed" (their apply inserts them). */
  GHashTable  *journaled_keys;
  GHashTable  *announced;

  /* Frames in the WAL after the last commit. */
  int          wal_frames;
  /* What the last batch cost per message written (ns). */
  gint64       write_ns;
  /* Reused for each journal record. */
  GByteArray  *record_buf;

  /* room name -> room id (gint64 *) */
  GHashTable  *rooms;

  /* Objects standing for stored rows, so reads hand out the same object
   * the rest of the app holds: pk (see live_key()) -> TincanMessage * and
   * back. Weak: an entry goes away with its object. */
  GHashTable  *live_by_pk;

  guint        finalizing : 1;
};

G_DEFINE_FINAL_TYPE (TincanStore, tincan_store, G_TYPE_OBJECT)

G_DEFINE_QUARK (tincan-store-error-quark, tincan_store_error)

enum {
  PROP_0,
  PROP_PATH,
  N_PROPS
};

enum {
  COMMITTED,
  WRITTEN,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
set_db_error (TincanStore      *self,
              GError          **error,
              TincanStoreError  code,
              const char       *what)
{
  g_set_error (error, TINCAN_STORE_ERROR, code,
               "%s: %s", what,
               self->db != NULL ? sqlite3_errmsg (self->db) : "no database");
}

static TincanStmt *
get_stmt (TincanStore  *self,
          StmtId        id,
          GError      **error)
{
  if (self->stmts[id] == NULL)
    {
      int rc = sqlite3_prepare_v3 (self->db, stmt_sql[id], -1,
                                   SQLITE_PREPARE_PERSISTENT,
                                   &self->stmts[id], NULL);

      if (rc != SQLITE_OK)
        {
          set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot prepare a statement");
          self->stmts[id] = NULL;
          return NULL;
        }
    }

  return self->stmts[id];
}

static void
bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, index);
}

/* 0 means "not assigned" in TincanMessage and NULL in the database. */
static void
bind_int64_or_null (sqlite3_stmt *stmt,
                    int           index,
                    gint64        value)
{
  if (value != 0)
    sqlite3_bind_int64 (stmt, index, value);
  else
    sqlite3_bind_null (stmt, index);
}

static gboolean
exec_simple (TincanStore  *self,
             StmtId        id,
             GError      **error)
{
  g_autoptr (TincanStmt) stmt = get_stmt (self, id, error);

  if (stmt == NULL)
    return FALSE;

  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, stmt_sql[id]);
      return FALSE;
    }

  return TRUE;
}

/* Live objects */

/* The keys of live_by_pk. Where a pk fits in a pointer, as on every
 * 64-bit platform, the key is the pk itself: a lookup, and a resize of
 * the table (it grows and shrinks by a whole batch at a time in a flood),
 * then reads no memory but the table's own, where a copied key cost a
 * cache miss per entry. */
#if GLIB_SIZEOF_VOID_P >= 8
static GHashTable *
live_table_new (void)
{
  return g_hash_table_new (NULL, NULL);
}

static gpointer
live_key (const gint64 *pk)
{
  return GSIZE_TO_POINTER ((gsize) *pk);
}

static gpointer
live_key_new (gint64 pk)
{
  return GSIZE_TO_POINTER ((gsize) pk);
}
#else
static GHashTable *
live_table_new (void)
{
  return g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

static gpointer
live_key (const gint64 *pk)
{
  return (gpointer) pk;
}

static gpointer
live_key_new (gint64 pk)
{
  return g_memdup2 (&pk, sizeof pk);
}
#endif

/* A message the store mapped to a row is gone: so is the mapping. */
static void
live_message_gone (gpointer       data,
                   TincanMessage *message,
                   gint64         pk)
{
  TincanStore *self = data;

  if (self->live_by_pk != NULL && g_hash_table_lookup (self->live_by_pk, live_key (&pk)) == message)
    g_hash_table_remove (self->live_by_pk, live_key (&pk));
}

static TincanMessage *
live_lookup (TincanStore *self,
             gint64       pk)
{
  return g_hash_table_lookup (self->live_by_pk, live_key (&pk));
}

static gboolean
is_live (TincanStore   *self,
         TincanMessage *message)
{
  gint64 pk = _tincan_message_get_store_id (message);

  return pk != 0 && live_lookup (self, pk) == message;
}

/* Makes @message the object that stands for row @pk, unless another
 * object already does. */
static void
live_track (TincanStore   *self,
            TincanMessage *message,
            gint64         pk)
{
  gint64 old_pk = 0;
  gpointer owner;

  if (live_lookup (self, pk) != NULL)
    return;

  owner = _tincan_message_get_tracker_data (message, &old_pk);
  if (owner != NULL && owner != self)
    return;  /* another store's object: it stays that store's */
  if (owner == self)
    live_message_gone (self, message, old_pk);

  _tincan_message_set_tracker (message, live_message_gone, self, pk);
  g_hash_table_insert (self->live_by_pk, live_key_new (pk), message);
  _tincan_message_set_store_id (message, pk);
}

static void
live_untrack (TincanStore   *self,
              TincanMessage *message)
{
  gint64 pk = 0;

  if (_tincan_message_get_tracker_data (message, &pk) != self)
    return;

  live_message_gone (self, message, pk);
  _tincan_message_set_tracker (message, NULL, NULL, 0);
}

/* Rows to objects */

static TincanMessage *
message_from_row (TincanStore  *self,
                  sqlite3_stmt *stmt)
{
  TincanMessage *message;
  gint64 pk = sqlite3_column_int64 (stmt, 0);
  TincanMessageState state;

  message = live_lookup (self, pk);
  if (message != NULL)
    return g_object_ref (message);

  state = CLAMP (sqlite3_column_int (stmt, 10),
                 TINCAN_MESSAGE_STATE_QUEUED, TINCAN_MESSAGE_STATE_FAILED);
  message = _tincan_message_new_full (sqlite3_column_int (stmt, 9) == TINCAN_MESSAGE_DIRECTION_OUTGOING
                                      ? TINCAN_MESSAGE_DIRECTION_OUTGOING
                                      : TINCAN_MESSAGE_DIRECTION_INCOMING,
                                      (const char *) sqlite3_column_text (stmt, 1),
                                      (const char *) sqlite3_column_text (stmt, 3),
                                      (const char *) sqlite3_column_text (stmt, 4),
                                      (const char *) sqlite3_column_text (stmt, 5),
                                      (const char *) sqlite3_column_text (stmt, 6),
                                      sqlite3_column_int64 (stmt, 2),
                                      sqlite3_column_int64 (stmt, 7),
                                      sqlite3_column_int64 (stmt, 8),
                                      state,
                                      (const char *) sqlite3_column_text (stmt, 11));
  /* It is what the row holds. */
  _tincan_message_take_content_dirty (message);

  live_track (self, message, pk);

  return message;
}

/* Copies what the store knows of a message after a merge. */
static void
message_copy_stored (TincanMessage *dest,
                     TincanMessage *src)
{
  if (dest == src)
    return;

  g_object_freeze_notify (G_OBJECT (dest));

  if (tincan_message_get_seq (src) != 0)
    tincan_message_set_seq (dest, tincan_message_get_seq (src));
  if (tincan_message_get_id (src) != NULL)
    tincan_message_set_id (dest, tincan_message_get_id (src));
  if (tincan_message_get_timestamp (src) != 0)
    tincan_message_set_timestamp (dest, tincan_message_get_timestamp (src));
  if (tincan_message_get_state (src) == TINCAN_MESSAGE_STATE_FAILED)
    tincan_message_set_failed (dest, tincan_message_get_reason (src));
  else
    tincan_message_set_state (dest, tincan_message_get_state (src));

  g_object_thaw_notify (G_OBJECT (dest));
}

static GPtrArray *
collect_rows (TincanStore   *self,
              sqlite3_stmt  *stmt,
              GError       **error)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (messages, message_from_row (self, stmt));

  if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot read messages");
      return NULL;
    }

  return g_steal_pointer (&messages);
}

/* Rooms */

static gboolean
find_room (TincanStore  *self,
           const char   *name,
           gint64       *room_id,
           GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  gint64 *cached;
  int rc;

  *room_id = 0;

  if (name == NULL)
    return TRUE;

  cached = g_hash_table_lookup (self->rooms, name);
  if (cached != NULL)
    {
      *room_id = *cached;
      return TRUE;
    }

  if (!(stmt = get_stmt (self, STMT_ROOM_LOOKUP, error)))
    return FALSE;

  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    {
      *room_id = sqlite3_column_int64 (stmt, 0);
      g_hash_table_insert (self->rooms, g_strdup (name), g_memdup2 (room_id, sizeof *room_id));
      return TRUE;
    }
  else if (rc == SQLITE_DONE)
    {
      return TRUE;
    }

  set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot look up a room");
  return FALSE;
}

static gboolean
ensure_room (TincanStore  *self,
             const char   *name,
             gint64       *room_id,
             GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;

  if (!find_room (self, name, room_id, error))
    return FALSE;

  if (*room_id != 0)
    return TRUE;

  if (!(stmt = get_stmt (self, STMT_ROOM_INSERT, error)))
    return FALSE;

  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot add a room");
      return FALSE;
    }

  *room_id = sqlite3_last_insert_rowid (self->db);
  g_hash_table_insert (self->rooms, g_strdup (name), g_memdup2 (room_id, sizeof *room_id));

  return TRUE;
}

/* Writing one message inside the batch transaction */

static gboolean
find_pk (TincanStore  *self,
         StmtId        id,
         gint64       *pk,
         int          *direction,
         GError      **error)
{
  sqlite3_stmt *stmt = self->stmts[id];
  int rc = sqlite3_step (stmt);

  *pk = 0;

  if (rc == SQLITE_ROW)
    {
      *pk = sqlite3_column_int64 (stmt, 0);
      if (direction != NULL)
        *direction = sqlite3_column_int (stmt, 1);
      return TRUE;
    }
  else if (rc == SQLITE_DONE)
    {
      return TRUE;
    }

  set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot look up a message");
  return FALSE;
}

/* Returns the sqlite3_step() result. */
static int
update_row (TincanStore        *self,
            gint64              pk,
            const Row          *row,
            gboolean            keep_seq,
            gboolean            content,
            TincanMessageState  state,
            const char         *reason,
            GError            **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  int rc;

  if (!(stmt = get_stmt (self, content ? STMT_UPDATE : STMT_UPDATE_STATE, error)))
    return SQLITE_ERROR;

  sqlite3_bind_int64 (stmt, 1, pk);
  if (!keep_seq)
    bind_int64_or_null (stmt, 2, row->seq);
  bind_text (stmt, 3, row->id);
  if (content)
    {
      bind_text (stmt, 4, row->cid);
      bind_text (stmt, 5, row->sender);
      bind_text (stmt, 6, row->text);
    }
  bind_int64_or_null (stmt, 7, row->ts);
  sqlite3_bind_int (stmt, 8, state);
  bind_text (stmt, 9, state == TINCAN_MESSAGE_STATE_FAILED ? reason : NULL);

  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
    set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot update a message");

  return rc;
}

/* Updates row @pk from @message. A seq already taken by another row of
 * the room (a backend that echoes without the cid) is left alone rather
 * than failing the batch. */
static gboolean
update_row_or_keep_seq (TincanStore        *self,
                        gint64              pk,
                        const Row          *row,
                        gboolean            content,
                        TincanMessageState  state,
                        const char         *reason,
                        GError            **error)
{
  int rc = update_row (self, pk, row, FALSE, content, state, reason, error);

  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    {
      g_debug ("seq %" G_GINT64_FORMAT " already stored for another message; keeping the old one",
               row->seq);
      rc = update_row (self, pk, row, TRUE, content, state, reason, error);
    }

  if (rc != SQLITE_DONE)
    {
      if (error != NULL && *error == NULL)
        set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot update a message");
      return FALSE;
    }

  return TRUE;
}

static TincanMessage *
select_row (TincanStore  *self,
            gint64        pk,
            GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  TincanMessage *message;
  TincanMessageState state;
  int rc;

  if (!(stmt = get_stmt (self, STMT_SELECT_ROW, error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, pk);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot read a message back");
      return NULL;
    }

  /* A detached snapshot: never tracked, only copied from. */
  message = tincan_message_new (TINCAN_MESSAGE_DIRECTION_INCOMING);
  tincan_message_set_seq (message, sqlite3_column_int64 (stmt, 2));
  tincan_message_set_id (message, (const char *) sqlite3_column_text (stmt, 3));
  tincan_message_set_timestamp (message, sqlite3_column_int64 (stmt, 7));
  state = CLAMP (sqlite3_column_int (stmt, 10),
                 TINCAN_MESSAGE_STATE_QUEUED, TINCAN_MESSAGE_STATE_FAILED);
  if (state == TINCAN_MESSAGE_STATE_FAILED)
    tincan_message_set_failed (message, (const char *) sqlite3_column_text (stmt, 11));
  else
    tincan_message_set_state (message, state);

  return message;
}

static gboolean
insert_row (TincanStore   *self,
            gint64         room_id,
            const Row     *row,
            gint64        *pk,
            GError       **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  int rc;

  *pk = 0;

  if (!(stmt = get_stmt (self, STMT_INSERT, error)))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, room_id);
  bind_int64_or_null (stmt, 2, row->seq);
  bind_text (stmt, 3, row->id);
  bind_text (stmt, 4, row->cid);
  bind_text (stmt, 5, row->sender);
  bind_text (stmt, 6, row->text);
  bind_int64_or_null (stmt, 7, row->ts);
  sqlite3_bind_int64 (stmt, 8, row->local_ts);
  sqlite3_bind_int (stmt, 9, row->direction);
  sqlite3_bind_int (stmt, 10, row->state);
  bind_text (stmt, 11, row->reason);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      *pk = sqlite3_last_insert_rowid (self->db);
      return TRUE;
    }
  else if ((rc & 0xff) == SQLITE_CONSTRAINT)
    {
      /* A unique index refused it: the caller finds the row it matches. */
      return TRUE;
    }

  set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot insert a message");
  return FALSE;
}

/* Takes what writing @message needs, on the main thread. */
static void
outcome_init (TincanStore   *self,
              Outcome       *outcome,
              TincanMessage *message)
{
  Row *row = &outcome->row;
  const char *strings[6];
  const char **fields[6] = { &row->room, &row->cid, &row->id, &row->sender, &row->text, &row->reason };
  gsize lengths[6];
  gsize total = 0;
  char *out;

  outcome->message = g_object_ref (message);
  outcome->content_dirty = _tincan_message_take_content_dirty (message);

  row->seq = tincan_message_get_seq (message);
  row->ts = tincan_message_get_timestamp (message);
  row->local_ts = tincan_message_get_local_timestamp (message);
  row->direction = tincan_message_get_direction (message);
  row->state = tincan_message_get_state (message);
  row->live_pk = is_live (self, message) ? _tincan_message_get_store_id (message) : 0;

  /* One allocation for the six strings, not six. */
  strings[0] = tincan_message_get_room (message);
  strings[1] = tincan_message_get_cid (message);
  strings[2] = tincan_message_get_id (message);
  strings[3] = tincan_message_get_sender (message);
  strings[4] = tincan_message_get_text (message);
  strings[5] = row->state == TINCAN_MESSAGE_STATE_FAILED ? tincan_message_get_reason (message) : NULL;
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      lengths[i] = strings[i] != NULL ? strlen (strings[i]) + 1 : 0;
      total += lengths[i];
    }
  out = row->strings = g_malloc (MAX (total, 1));
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      if (strings[i] == NULL)
        {
          *fields[i] = NULL;
          continue;
        }
      memcpy (out, strings[i], lengths[i]);
      *fields[i] = out;
      out += lengths[i];
    }
}

/* Writes outcome->row inside the batch transaction; on the worker
 * thread when there is one. */
static gboolean
write_message (TincanStore   *self,
               Outcome       *outcome,
               GError       **error)
{
  const Row *row = &outcome->row;
  gint64 room_id;
  gint64 pk;

  /* The same object saved again: its row follows it. */
  if (row->live_pk != 0)
    {
      pk = row->live_pk;
      if (!update_row_or_keep_seq (self, pk, row, outcome->content_dirty,
                                   row->state, row->reason, error))
        return FALSE;

      if (sqlite3_changes (self->db) > 0)
        {
          outcome->kind = OUTCOME_UPDATED;
          outcome->pk = pk;
          return TRUE;
        }

      /* The row vanished (deleted by another process): store it anew. */
    }

  if (!ensure_room (self, row->room, &room_id, error))
    return FALSE;

  /* Most messages are new: insert first, and only when a unique index
   * refuses (same cid, or same seq in the room) look for the row it
   * matches. One statement per new message instead of three. */
  if (!insert_row (self, room_id, row, &pk, error))
    return FALSE;
  if (pk != 0)
    {
      outcome->kind = OUTCOME_INSERTED;
      outcome->pk = pk;
      return TRUE;
    }

  if (row->cid != NULL)
    {
      g_autoptr (TincanStmt) stmt = NULL;
      int direction = TINCAN_MESSAGE_DIRECTION_INCOMING;

      if (!(stmt = get_stmt (self, STMT_FIND_CID, error)))
        return FALSE;

      sqlite3_bind_text (stmt, 1, row->cid, -1, SQLITE_STATIC);
      if (!find_pk (self, STMT_FIND_CID, &pk, &direction, error))
        return FALSE;

      if (pk != 0)
        {
          TincanMessageState state = row->state;
          const char *reason = row->reason;

          /* The server echoing our own message proves it stored it. */
          if (direction == TINCAN_MESSAGE_DIRECTION_OUTGOING &&
              row->direction != TINCAN_MESSAGE_DIRECTION_OUTGOING)
            {
              state = TINCAN_MESSAGE_STATE_DELIVERED;
              reason = NULL;
            }

          if (!update_row_or_keep_seq (self, pk, row, TRUE, state, reason, error))
            return FALSE;

          outcome->kind = OUTCOME_UPDATED;
          outcome->pk = pk;
          outcome->merged = select_row (self, pk, error);

          return outcome->merged != NULL;
        }
    }

  if (row->seq != 0)
    {
      g_autoptr (TincanStmt) stmt = NULL;

      if (!(stmt = get_stmt (self, STMT_FIND_SEQ, error)))
        return FALSE;

      sqlite3_bind_int64 (stmt, 1, room_id);
      sqlite3_bind_int64 (stmt, 2, row->seq);
      if (!find_pk (self, STMT_FIND_SEQ, &pk, NULL, error))
        return FALSE;

      if (pk != 0)
        {
          outcome->kind = OUTCOME_DUPLICATE;
          outcome->pk = pk;
          return TRUE;
        }
    }

  /* Refused, yet neither its cid nor its seq is there: another process
   * won a race for the row; it is there, which is all a duplicate needs. */
  outcome->kind = OUTCOME_DUPLICATE;
  outcome->pk = 0;

  return TRUE;
}

static void
outcome_clear (Outcome *outcome)
{
  Row *row = &outcome->row;

  g_clear_object (&outcome->message);
  g_clear_object (&outcome->merged);
  g_clear_pointer (&row->strings, g_free);
  row->room = row->cid = row->id = row->sender = row->text = row->reason = NULL;
}

/* After the commit: objects learn their rows, other objects for the
 * same row learn what was merged into it. */
static void
apply_outcome (TincanStore *self,
               Outcome     *outcome,
               GPtrArray   *inserted)
{
  TincanMessage *message = outcome->message;
  TincanMessage *live;

  switch (outcome->kind)
    {
    case OUTCOME_INSERTED:
      live_track (self, message, outcome->pk);
      if (inserted != NULL)
        g_ptr_array_add (inserted, g_object_ref (message));
      break;

    /* Another object saved for a stored row (an echo, a replay) never
     * becomes the live one: its own fields (direction, text) may differ
     * from the row's, and reads must hand out what is stored. */
    case OUTCOME_UPDATED:
      if (outcome->merged != NULL)
        {
          live = live_lookup (self, outcome->pk);
          if (live != NULL && live != message)
            message_copy_stored (live, outcome->merged);
          message_copy_stored (message, outcome->merged);
        }
      if (!is_live (self, message))
        _tincan_message_set_store_id (message, outcome->pk);
      break;

    case OUTCOME_DUPLICATE:
      if (outcome->pk != 0 && !is_live (self, message))
        _tincan_message_set_store_id (message, outcome->pk);
      break;

    default:
      g_assert_not_reached ();
    }
}

static gboolean flush_idle_cb (gpointer data);
static gboolean apply_timeout_cb (gpointer data);

/* Journaled messages are applied in batches, never in the flush itself:
 * at the next batch commit of plain saves, before a read, in the idle
 * after a flush once this many wait, or after APPLY_DELAY_MS. A flush of
 * this many or more is applied directly: a batch that size costs about
 * the same either way. */
#define APPLY_BATCH    64
#define APPLY_DELAY_MS 100

/* SQLite's default: a WAL of about 4 MiB at most between checkpoints. */
#define CHECKPOINT_FRAMES 1000

static int
wal_hook_cb (void       *data,
             sqlite3    *db,
             const char *name,
             int         n_frames)
{
  TincanStore *self = data;

  self->wal_frames = n_frames;

  return SQLITE_OK;
}

static void
maybe_checkpoint (TincanStore *self)
{
  int rc;

  if (self->wal_frames < CHECKPOINT_FRAMES)
    return;

  /* No other connection can read (exclusive lock): a passive checkpoint
   * copies the whole WAL, and the next commit starts it over. */
  rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  if (rc != SQLITE_OK)
    g_debug ("Checkpoint failed: %s", sqlite3_errmsg (self->db));
  self->wal_frames = 0;
}

static void
rollback (TincanStore *self)
{
  g_autoptr (GError) rollback_error = NULL;

  if (!exec_simple (self, STMT_ROLLBACK, &rollback_error))
    g_debug ("Rollback failed: %s", rollback_error->message);
}

static void
schedule_flush (TincanStore *self)
{
  /* Above the default idle so the batch is written before GTK redraws,
   * yet after the I/O of this main-loop turn queued everything. */
  if (self->flush_id == 0)
    {
      self->flush_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE, flush_idle_cb, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->flush_id),
                                "[tincan] store flush");
    }
}

/* Batches
 *
 * A batch applies the journaled messages, then the pending saves, to
 * messages in one transaction that also empties the journal. Each
 * message is written once, from a copy taken when the batch is taken
 * (its newest save). Taken and finished on the main thread; written on
 * the worker thread, or on the main thread when a caller needs it done
 * now (flush_pending()). */
struct _Batch
{
  gatomicrefcount  ref;
  TincanStore     *store;        /* main thread; NULL once finished */
  GMainContext    *context;
  GPtrArray       *saved;        /* the pending saves it took, for a retry */
  Outcome         *outcomes;
  guint            n;
  guint            n_journaled;
  gint64           journal_last_pk;
  gint64           run_us;
  gboolean         ok;
  GError          *error;
  GMutex           lock;
  GCond            cond;
  gboolean         done;
};

static Batch *
batch_ref (Batch *batch)
{
  g_atomic_ref_count_inc (&batch->ref);
  return batch;
}

static void
batch_unref (gpointer data)
{
  Batch *batch = data;

  if (!g_atomic_ref_count_dec (&batch->ref))
    return;

  /* Finished on the main thread: the objects are gone already. */
  g_assert (batch->saved == NULL && batch->outcomes == NULL);
  g_clear_pointer (&batch->context, g_main_context_unref);
  g_clear_error (&batch->error);
  g_mutex_clear (&batch->lock);
  g_cond_clear (&batch->cond);
  g_free (batch);
}

/* A batch for the worker holds as many saves as it writes in about
 * WORKER_BATCH_US (from the cost per message of the last batch), and at
 * least WORKER_BATCH_MIN: a read that waits for it (the worker holds the
 * database meanwhile) waits about a frame at most (4 096 rows take the
 * worker 7–10 ms), and the worker still keeps up with a flood, one batch
 * per main-loop turn. In a flood of 150 000 msg/s, batches of 4 096
 * received 10% more a second than batches of 1 024, and batches of 256
 * 8% less (bench-receive, alternating runs). */
#define WORKER_BATCH_US  15000
#define WORKER_BATCH_MIN 4096

/* At most this many batches wait for the worker: past that, saves wait
 * in pending (and the next batches are bigger). */
#define WORKER_MAX_IN_FLIGHT 64

/* Whether @message must wait for a batch in flight before it is taken
 * again: it is in one, or the journal record that one applies is its. */
static gboolean
is_held (TincanStore   *self,
         TincanMessage *message)
{
  return g_hash_table_contains (self->in_flight_set, message) ||
         (self->journal_in_flight && g_hash_table_contains (self->journaled_refs, message));
}

/* Takes the journaled messages (unless a batch in flight applies them)
 * and the oldest @max pending saves that no batch in flight holds into a
 * batch, or returns NULL when there is nothing to write. */
static Batch *
batch_take (TincanStore *self,
            guint        max)
{
  g_autoptr (GPtrArray) kept = NULL;
  Batch *batch;
  guint n_journaled = self->journal_in_flight ? 0 : self->journaled->len;
  guint i, n = 0;

  if (self->pending->len == 0 && n_journaled == 0)
    return NULL;

  batch = g_new0 (Batch, 1);
  g_atomic_ref_count_init (&batch->ref);
  g_mutex_init (&batch->lock);
  g_cond_init (&batch->cond);
  batch->store = self;
  batch->context = g_main_context_ref (self->context);

  /* Saves made while this batch is written (from signal handlers, or
   * while the worker writes it) go into a later one. */
  if (self->pending->len <= max && g_queue_is_empty (&self->in_flight))
    {
      batch->saved = g_steal_pointer (&self->pending);
      self->pending = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_remove_all (self->pending_set);
    }
  else
    {
      batch->saved = g_ptr_array_new_full (MIN (max, self->pending->len), g_object_unref);
      kept = g_ptr_array_new_with_free_func (g_object_unref);
      for (i = 0; i < self->pending->len; i++)
        {
          TincanMessage *message = g_ptr_array_index (self->pending, i);

          if (batch->saved->len < max && !is_held (self, message))
            {
              g_ptr_array_add (batch->saved, g_object_ref (message));
              g_hash_table_remove (self->pending_set, message);
            }
          else
            {
              g_ptr_array_add (kept, g_object_ref (message));
            }
        }
      g_ptr_array_unref (self->pending);
      self->pending = g_steal_pointer (&kept);
    }

  if (batch->saved->len == 0 && n_journaled == 0)
    {
      g_clear_pointer (&batch->saved, g_ptr_array_unref);
      batch_unref (batch);
      return NULL;
    }

  batch->n_journaled = n_journaled;
  if (n_journaled > 0)
    {
      batch->journal_last_pk = self->journal_last_pk;
      self->journal_in_flight = TRUE;
    }
  batch->outcomes = g_new0 (Outcome, n_journaled + batch->saved->len);
  for (i = 0; i < n_journaled; i++)
    outcome_init (self, &batch->outcomes[n++], g_ptr_array_index (self->journaled, i));
  for (i = 0; i < batch->saved->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (batch->saved, i);

      g_hash_table_add (self->in_flight_set, message);
      /* Its journal record, applied in this batch, is its newest save. */
      if (n_journaled == 0 || !g_hash_table_contains (self->journaled_refs, message))
        outcome_init (self, &batch->outcomes[n++], message);
    }
  batch->n = n;

  return batch;
}

/* Writes @batch: on the worker thread, or on the main thread when none
 * is in flight. Touches only the database side of the store. */
static void
batch_run (TincanStore *self,
           Batch       *batch)
{
  g_autoptr (GError) local_error = NULL;
  gint64 start_us = g_get_monotonic_time ();
  guint i;

  batch->ok = FALSE;

  if (self->db == NULL)
    {
      g_set_error_literal (&batch->error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_IO,
                           "The database is closed");
      return;
    }

  if (!exec_simple (self, STMT_BEGIN, &local_error))
    goto failed;

  for (i = 0; i < batch->n; i++)
    {
      if (!write_message (self, &batch->outcomes[i], &local_error))
        {
          rollback (self);
          goto failed;
        }
    }

  if (batch->journal_last_pk != 0)
    {
      g_autoptr (TincanStmt) stmt = get_stmt (self, STMT_JOURNAL_CLEAR, &local_error);

      if (stmt == NULL)
        {
          rollback (self);
          goto failed;
        }
      sqlite3_bind_int64 (stmt, 1, batch->journal_last_pk);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          set_db_error (self, &local_error, TINCAN_STORE_ERROR_IO, "Cannot clear the journal");
          rollback (self);
          goto failed;
        }
    }

  if (!exec_simple (self, STMT_COMMIT, &local_error))
    {
      rollback (self);
      goto failed;
    }

  maybe_checkpoint (self);
  batch->ok = TRUE;
  batch->run_us = g_get_monotonic_time () - start_us;
  return;

failed:
  /* Rooms added in the rolled back transaction are gone again. */
  g_hash_table_remove_all (self->rooms);
  batch->error = g_steal_pointer (&local_error);
}

/* Whether the two references a batch takes to each message it writes
 * (its list of saves, and the outcome) are all there are. */
static gboolean
only_batch_holds (TincanMessage *message)
{
  return g_atomic_int_get (&G_OBJECT (message)->ref_count) == 2;
}

/* On the main thread, once @batch is written: objects learn their rows
 * and "committed" announces the new ones; or, when it failed, its saves
 * go back ahead of the newer ones for the next attempt. */
static gboolean
batch_finish (TincanStore  *self,
              Batch        *batch,
              GError      **error)
{
  g_autoptr (GPtrArray) inserted = NULL;
  g_autoptr (GPtrArray) saved = g_steal_pointer (&batch->saved);
  g_autofree Outcome *outcomes = g_steal_pointer (&batch->outcomes);
  gboolean ok = batch->ok;
  guint i;

  g_assert (batch->store == self);
  batch->store = NULL;
  for (i = 0; i < saved->len; i++)
    g_hash_table_remove (self->in_flight_set, g_ptr_array_index (saved, i));
  if (batch->n_journaled > 0)
    self->journal_in_flight = FALSE;

  if (!ok)
    {
      for (i = 0; i < batch->n; i++)
        {
          if (outcomes[i].content_dirty)
            _tincan_message_set_content_dirty (outcomes[i].message);
          outcome_clear (&outcomes[i]);
        }

      /* The journal stays as it is. The saves go back ahead of the newer
       * ones (once: one saved again meanwhile is pending already). */
      {
        g_autoptr (GPtrArray) back = g_ptr_array_new_with_free_func (g_object_unref);

        for (i = 0; i < saved->len; i++)
          {
            TincanMessage *message = g_ptr_array_index (saved, i);

            if (g_hash_table_add (self->pending_set, message))
              g_ptr_array_add (back, g_object_ref (message));
          }
        for (i = 0; i < self->pending->len; i++)
          g_ptr_array_add (back, g_object_ref (g_ptr_array_index (self->pending, i)));
        g_ptr_array_unref (self->pending);
        self->pending = g_steal_pointer (&back);
      }

      g_propagate_error (error, g_steal_pointer (&batch->error));
      return FALSE;
    }

  g_debug ("Committed %u messages (%u journaled) in %" G_GINT64_FORMAT " µs",
           batch->n, batch->n_journaled, batch->run_us);
  if (batch->n >= 64)
    self->write_ns = batch->run_us * 1000 / batch->n;

  /* Journal records taken into the batch are applied and gone; none
   * was added while it was in flight (journal_pending() waits). */
  if (batch->n_journaled > 0)
    {
      g_ptr_array_set_size (self->journaled, 0);
      g_hash_table_remove_all (self->journaled_refs);
      g_hash_table_remove_all (self->journaled_keys);
      self->journal_last_pk = 0;
    }

  /* Nobody listening (the app): no list of the new ones to build. */
  if (!self->finalizing && g_signal_has_handler_pending (self, signals[COMMITTED], 0, FALSE))
    inserted = g_ptr_array_new_with_free_func (g_object_unref);
  for (i = 0; i < batch->n; i++)
    {
      Outcome *outcome = &outcomes[i];

      /* A new row whose object only this batch holds (a message of a
       * flood, gone from the view already) is written and done: nothing
       * can save it again or read it, so no object stands for its row. */
      if (outcome->kind == OUTCOME_INSERTED && inserted == NULL &&
          i >= batch->n_journaled && only_batch_holds (outcome->message))
        _tincan_message_set_store_id (outcome->message, outcome->pk);
      else
        apply_outcome (self, outcome, inserted);
      outcome_clear (outcome);
    }

  /* Announced when they were journaled. */
  if (inserted != NULL && g_hash_table_size (self->announced) > 0)
    {
      for (i = inserted->len; i > 0; i--)
        if (g_hash_table_contains (self->announced, g_ptr_array_index (inserted, i - 1)))
          g_ptr_array_remove_index (inserted, i - 1);
    }

  g_hash_table_remove_all (self->announced);
  if (inserted != NULL && inserted->len > 0)
    g_signal_emit (self, signals[COMMITTED], 0, inserted);

  return TRUE;
}

static void batch_start (TincanStore *self);

static gboolean
batch_is_done (Batch *batch)
{
  gboolean done;

  g_mutex_lock (&batch->lock);
  done = batch->done;
  g_mutex_unlock (&batch->lock);

  return done;
}

/* Finishes the batches the worker is done with, oldest first. */
static gboolean
batch_done_cb (gpointer data)
{
  Batch *done = data;
  TincanStore *self = done->store;
  gboolean any = FALSE;
  gboolean failed = FALSE;

  /* Already finished by a caller that waited for it. */
  if (self == NULL)
    return G_SOURCE_REMOVE;

  g_object_ref (self);

  while (!g_queue_is_empty (&self->in_flight) && batch_is_done (g_queue_peek_head (&self->in_flight)))
    {
      Batch *batch = g_queue_pop_head (&self->in_flight);
      g_autoptr (GError) error = NULL;

      /* Kept pending when it fails: the next save or read tries again
       * (not at once: a full disk stays full). */
      if (!batch_finish (self, batch, &error))
        {
          g_warning ("Could not save %u messages: %s", self->pending->len, error->message);
          failed = TRUE;
        }
      batch_unref (batch);  /* in_flight's */
      any = TRUE;
    }

  /* The worker goes on with what waited. */
  if (any && !failed && self->pending->len > 0)
    batch_start (self);

  if (any && !self->finalizing)
    g_signal_emit (self, signals[WRITTEN], 0);
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

static void
batch_worker (gpointer data,
              gpointer user_data)
{
  Batch *batch = data;
  TincanStore *self = user_data;
  GSource *source;

#ifdef __linux__
  /* The store's own thread (an exclusive pool): writing history is
   * background work, and when the cores are busy the main thread, which
   * receives and draws, goes first. */
  {
    static GPrivate reniced;

    if (g_private_get (&reniced) == NULL)
      {
        setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);
        g_private_set (&reniced, GINT_TO_POINTER (1));
      }
  }
#endif

  batch_run (self, batch);

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_HIGH_IDLE);
  g_source_set_static_name (source, "[tincan] store batch written");
  g_source_set_callback (source, batch_done_cb, batch_ref (batch), batch_unref);

  /* From here on the store may be gone: batch_wait() returns. */
  g_mutex_lock (&batch->lock);
  batch->done = TRUE;
  g_cond_signal (&batch->cond);
  g_mutex_unlock (&batch->lock);

  g_source_attach (source, batch->context);
  g_source_unref (source);
  batch_unref (batch);  /* the push's */
}

/* Waits for the batches in flight, if any, and finishes them: afterwards
 * the main thread may use the database. A failed batch's saves are
 * pending again, for the caller's own attempt. */
static void
batch_wait (TincanStore *self)
{
  Batch *batch;

  while ((batch = g_queue_pop_head (&self->in_flight)) != NULL)
    {
      g_autoptr (GError) error = NULL;

      g_mutex_lock (&batch->lock);
      while (!batch->done)
        g_cond_wait (&batch->cond, &batch->lock);
      g_mutex_unlock (&batch->lock);

      if (!batch_finish (self, batch, &error))
        g_debug ("A batch of %u messages failed: %s", self->pending->len, error->message);

      batch_unref (batch);
    }
}

/* Hands the oldest pending saves to the worker, behind the batches in
 * flight (a few at most). */
static void
batch_start (TincanStore *self)
{
  Batch *batch;

  if (g_queue_get_length (&self->in_flight) >= WORKER_MAX_IN_FLIGHT)
    return;

  batch = batch_take (self, MAX (WORKER_BATCH_MIN, WORKER_BATCH_US * 1000 / MAX (self->write_ns, 1)));
  if (batch == NULL)
    return;

  g_queue_push_tail (&self->in_flight, batch);
  g_thread_pool_push (self->worker, batch_ref (batch), NULL);
}

/* Writes everything saved and journaled now, on the main thread. */
static gboolean
flush_pending (TincanStore  *self,
               GError      **error)
{
  Batch *batch;
  gboolean ok;

  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->apply_id, g_source_remove);

  batch_wait (self);

  batch = batch_take (self, G_MAXUINT);
  if (batch == NULL)
    return TRUE;

  batch_run (self, batch);
  ok = batch_finish (self, batch, error);
  batch_unref (batch);

  return ok;
}

/* The journal */

static void
record_put_string (GByteArray *buf,
                   const char *str)
{
  guint32 len = str != NULL ? (guint32) strlen (str) + 1 : 0;
  guint32 le = GUINT32_TO_LE (len);

  g_byte_array_append (buf, (const guint8 *) &le, sizeof le);
  if (len > 0)
    g_byte_array_append (buf, (const guint8 *) str, len);
}

/* Serializes @message into @buf (emptied first). */
static void
journal_record_write (GByteArray    *buf,
                      gint64         ref,
                      gint64         pk,
                      TincanMessage *message)
{
  TincanMessageState state = tincan_message_get_state (message);
  gint64 ints[JOURNAL_N_INTS] = {
    ref, pk,
    tincan_message_get_seq (message),
    tincan_message_get_timestamp (message),
    tincan_message_get_local_timestamp (message),
  };
  guint8 head[3] = {
    JOURNAL_FORMAT,
    (guint8) tincan_message_get_direction (message),
    (guint8) state,
  };

  g_byte_array_set_size (buf, 0);
  g_byte_array_append (buf, head, sizeof head);
  for (guint i = 0; i < JOURNAL_N_INTS; i++)
    {
      guint64 le = GUINT64_TO_LE ((guint64) ints[i]);

      g_byte_array_append (buf, (const guint8 *) &le, sizeof le);
    }
  record_put_string (buf, tincan_message_get_room (message));
  record_put_string (buf, tincan_message_get_cid (message));
  record_put_string (buf, tincan_message_get_id (message));
  record_put_string (buf, tincan_message_get_sender (message));
  record_put_string (buf, tincan_message_get_text (message));
  record_put_string (buf, state == TINCAN_MESSAGE_STATE_FAILED ? tincan_message_get_reason (message) : NULL);
}

/* Parses what journal_record_write() wrote; FALSE if @data is not that
 * (truncated, another format). The strings point into @data. */
static gboolean
journal_record_read (const guint8  *data,
                     gsize          size,
                     JournalRecord *record)
{
  const char **strings[JOURNAL_N_STRINGS] = {
    &record->room, &record->cid, &record->id, &record->sender, &record->text, &record->reason,
  };
  gint64 *ints[JOURNAL_N_INTS] = {
    &record->ref, &record->pk, &record->seq, &record->ts, &record->local_ts,
  };
  gsize offset = 3;

  if (data == NULL || size < 3 + JOURNAL_N_INTS * 8 || data[0] != JOURNAL_FORMAT)
    return FALSE;

  record->direction = data[1];
  record->state = data[2];

  for (guint i = 0; i < JOURNAL_N_INTS; i++)
    {
      guint64 le;

      memcpy (&le, data + offset, sizeof le);
      *ints[i] = (gint64) GUINT64_FROM_LE (le);
      offset += sizeof le;
    }

  for (guint i = 0; i < JOURNAL_N_STRINGS; i++)
    {
      guint32 len;

      if (size - offset < sizeof len)
        return FALSE;
      memcpy (&len, data + offset, sizeof len);
      len = GUINT32_FROM_LE (len);
      offset += sizeof len;

      if (len == 0)
        {
          *strings[i] = NULL;
          continue;
        }

      if (size - offset < len ||
          data[offset + len - 1] != '\0' ||
          !g_utf8_validate ((const char *) data + offset, len - 1, NULL))
        return FALSE;

      *strings[i] = (const char *) data + offset;
      offset += len;
    }

  return offset == size;
}

/* Adds the keys of @message to journaled_keys; the new ones to @added
 * too, so a failed journal commit can take them back. */
static void
add_journal_keys (TincanStore   *self,
                  TincanMessage *message,
                  GPtrArray     *added)
{
  char *keys[2] = { NULL, NULL };

  if (tincan_message_get_cid (message) != NULL)
    keys[0] = g_strconcat ("c", tincan_message_get_cid (message), NULL);
  if (tincan_message_get_seq (message) != 0)
    keys[1] = g_strdup_printf ("s%s\n%" G_GINT64_FORMAT,
                               tincan_message_get_room (message),
                               tincan_message_get_seq (message));

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      if (keys[i] == NULL)
        continue;
      if (g_hash_table_contains (self->journaled_keys, keys[i]))
        {
          g_free (keys[i]);
          continue;
        }
      g_hash_table_add (self->journaled_keys, keys[i]);
      g_ptr_array_add (added, keys[i]);
    }
}

/* Whether applying @message will insert a row, as write_message() will
 * decide it: not for a message that has a row or a journal record, nor
 * for one whose cid or (room, seq) is stored or journaled. */
static gboolean
will_insert (TincanStore    *self,
             TincanMessage  *message,
             gboolean       *insert,
             GError        **error)
{
  const char *cid = tincan_message_get_cid (message);
  gint64 seq = tincan_message_get_seq (message);
  gint64 pk = 0;

  *insert = FALSE;

  if (is_live (self, message) || g_hash_table_contains (self->journaled_refs, message))
    return TRUE;

  if (cid != NULL)
    {
      g_autofree char *key = g_strconcat ("c", cid, NULL);
      g_autoptr (TincanStmt) stmt = NULL;

      if (g_hash_table_contains (self->journaled_keys, key))
        return TRUE;
      if (!(stmt = get_stmt (self, STMT_FIND_CID, error)))
        return FALSE;
      sqlite3_bind_text (stmt, 1, cid, -1, SQLITE_STATIC);
      if (!find_pk (self, STMT_FIND_CID, &pk, NULL, error))
        return FALSE;
      if (pk != 0)
        return TRUE;
    }

  if (seq != 0)
    {
      g_autofree char *key = g_strdup_printf ("s%s\n%" G_GINT64_FORMAT,
                                              tincan_message_get_room (message), seq);
      g_autoptr (TincanStmt) stmt = NULL;
      gint64 room_id;

      if (g_hash_table_contains (self->journaled_keys, key))
        return TRUE;
      if (!find_room (self, tincan_message_get_room (message), &room_id, error))
        return FALSE;
      if (room_id != 0)
        {
          if (!(stmt = get_stmt (self, STMT_FIND_SEQ, error)))
            return FALSE;
          sqlite3_bind_int64 (stmt, 1, room_id);
          sqlite3_bind_int64 (stmt, 2, seq);
          if (!find_pk (self, STMT_FIND_SEQ, &pk, NULL, error))
            return FALSE;
          if (pk != 0)
            return TRUE;
        }
    }

  *insert = TRUE;

  return TRUE;
}

/* Removes @messages (journaled now) from the pending saves. They are
 * the oldest saves, most of the time: the array is scanned until all of
 * them are found, and the rest moved down once. */
static void
drop_from_pending (TincanStore *self,
                   GPtrArray   *messages)
{
  guint found = 0, kept = 0, i;

  if (messages == self->pending)
    {
      g_ptr_array_set_size (self->pending, 0);
      g_hash_table_remove_all (self->pending_set);
      return;
    }

  for (i = 0; i < messages->len; i++)
    g_hash_table_remove (self->pending_set, g_ptr_array_index (messages, i));

  for (i = 0; i < self->pending->len && found < messages->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (self->pending, i);

      if (g_hash_table_contains (self->pending_set, message))
        self->pending->pdata[kept++] = message;
      else
        {
          g_object_unref (message);
          found++;
        }
    }
  if (kept < i)
    {
      memmove (self->pending->pdata + kept, self->pending->pdata + i,
               (self->pending->len - i) * sizeof (gpointer));
      /* The tail slots hold pointers moved down: shrink without unref. */
      g_ptr_array_set_free_func (self->pending, NULL);
      g_ptr_array_set_size (self->pending, self->pending->len - (i - kept));
      g_ptr_array_set_free_func (self->pending, g_object_unref);
    }
}

/* Writes @messages (pending saves: all of them, or those a send needs)
 * into the journal, one row each, in one transaction: durable when it
 * returns TRUE, applied to messages later (flush_pending()). The new
 * messages among them are announced now. */
static gboolean
journal_messages (TincanStore  *self,
                  GPtrArray    *messages,
                  GError      **error)
{
  g_autoptr (GPtrArray) added = NULL;
  g_autoptr (GPtrArray) announce = NULL;
  g_autofree gint64 *jpks = NULL;
  g_autofree gboolean *inserts = NULL;
  guint i;

  if (messages->len == 0)
    return TRUE;

  if (self->db == NULL)
    {
      g_set_error_literal (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_IO,
                           "The database is closed");
      return FALSE;
    }

  jpks = g_new0 (gint64, messages->len);
  inserts = g_new0 (gboolean, messages->len);
  added = g_ptr_array_new ();

  if (!exec_simple (self, STMT_BEGIN, error))
    return FALSE;

  for (i = 0; i < messages->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (messages, i);
      g_autoptr (TincanStmt) stmt = NULL;
      gint64 *ref = g_hash_table_lookup (self->journaled_refs, message);

      if (!will_insert (self, message, &inserts[i], error))
        goto failed;
      add_journal_keys (self, message, added);

      journal_record_write (self->record_buf,
                            ref != NULL ? *ref : 0,
                            is_live (self, message) ? _tincan_message_get_store_id (message) : 0,
                            message);

      if (!(stmt = get_stmt (self, STMT_JOURNAL_INSERT, error)))
        goto failed;

      sqlite3_bind_blob (stmt, 1, self->record_buf->data, (int) self->record_buf->len, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot write the journal");
          goto failed;
        }
      jpks[i] = sqlite3_last_insert_rowid (self->db);
    }

  if (!exec_simple (self, STMT_COMMIT, error))
    goto failed;

  announce = g_ptr_array_new_with_free_func (g_object_unref);
  for (i = 0; i < messages->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (messages, i);

      if (inserts[i])
        {
          g_hash_table_add (self->announced, message);
          g_ptr_array_add (announce, g_object_ref (message));
        }
      if (g_hash_table_contains (self->journaled_refs, message))
        continue;
      g_ptr_array_add (self->journaled, g_object_ref (message));
      g_hash_table_insert (self->journaled_refs, message, g_memdup2 (&jpks[i], sizeof jpks[i]));
    }
  self->journal_last_pk = jpks[messages->len - 1];

  drop_from_pending (self, messages);

  /* Durable now: "committed" as for a batch commit. */
  if (announce->len > 0 && !self->finalizing)
    g_signal_emit (self, signals[COMMITTED], 0, announce);

  return TRUE;

failed:
  rollback (self);
  for (i = 0; i < added->len; i++)
    g_hash_table_remove (self->journaled_keys, g_ptr_array_index (added, i));

  return FALSE;
}

static gboolean
journal_pending (TincanStore  *self,
                 GError      **error)
{
  return journal_messages (self, self->pending, error);
}

/* Sets every stored field of @message from a journal record. */
static void
message_fill_from_record (TincanMessage       *message,
                          const JournalRecord *record)
{
  TincanMessageState state = CLAMP (record->state, TINCAN_MESSAGE_STATE_QUEUED,
                                    TINCAN_MESSAGE_STATE_FAILED);

  g_object_freeze_notify (G_OBJECT (message));
  tincan_message_set_room (message, record->room);
  tincan_message_set_cid (message, record->cid);
  tincan_message_set_id (message, record->id);
  tincan_message_set_sender (message, record->sender);
  tincan_message_set_text (message, record->text);
  tincan_message_set_seq (message, record->seq);
  tincan_message_set_timestamp (message, record->ts);
  tincan_message_set_local_timestamp (message, record->local_ts);
  if (state == TINCAN_MESSAGE_STATE_FAILED)
    tincan_message_set_failed (message, record->reason);
  else
    tincan_message_set_state (message, state);
  g_object_thaw_notify (G_OBJECT (message));
}

/* At open: the records a crash left between a flush and its apply are
 * applied, in order, before anything else reads or writes. */
static gboolean
replay_journal (TincanStore  *self,
                GError      **error)
{
  g_autoptr (GHashTable) by_jpk = NULL;
  g_autoptr (GPtrArray) inserted = NULL;
  g_autoptr (TincanStmt) clear = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 last_jpk = 0;
  guint n = 0;
  int rc;

  by_jpk = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  inserted = g_ptr_array_new_with_free_func (g_object_unref);

  if (!exec_simple (self, STMT_BEGIN, error))
    return FALSE;

  if (sqlite3_prepare_v2 (self->db, stmt_sql[STMT_JOURNAL_READ], -1, &stmt, NULL) != SQLITE_OK)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot read the journal");
      sqlite3_finalize (stmt);
      rollback (self);
      return FALSE;
    }

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (TincanMessage) message = NULL;
      Outcome outcome = { NULL, };
      JournalRecord record;
      gint64 jpk = sqlite3_column_int64 (stmt, 0);
      const guint8 *data = sqlite3_column_blob (stmt, 1);
      gboolean ok;

      last_jpk = jpk;

      /* Never written by this format, or torn: nothing to apply. */
      if (!journal_record_read (data, sqlite3_column_bytes (stmt, 1), &record) ||
          record.room == NULL || *record.room == '\0')
        {
          g_warning ("%s: journal record %" G_GINT64_FORMAT " is unreadable; skipped",
                     self->path, jpk);
          continue;
        }

      if (record.ref != 0 && g_hash_table_contains (by_jpk, &record.ref))
        message = g_object_ref (g_hash_table_lookup (by_jpk, &record.ref));
      else if (record.pk != 0 && live_lookup (self, record.pk) != NULL)
        message = g_object_ref (live_lookup (self, record.pk));
      else
        {
          message = tincan_message_new (record.direction == TINCAN_MESSAGE_DIRECTION_OUTGOING
                                        ? TINCAN_MESSAGE_DIRECTION_OUTGOING
                                        : TINCAN_MESSAGE_DIRECTION_INCOMING);
          if (record.pk != 0)
            live_track (self, message, record.pk);
        }
      message_fill_from_record (message, &record);

      outcome_init (self, &outcome, message);
      ok = write_message (self, &outcome, error);
      if (ok)
        apply_outcome (self, &outcome, inserted);
      outcome_clear (&outcome);
      if (!ok)
        {
          sqlite3_finalize (stmt);
          rollback (self);
          g_hash_table_remove_all (self->rooms);
          return FALSE;
        }

      if (record.ref == 0)
        g_hash_table_insert (by_jpk, g_memdup2 (&jpk, sizeof jpk), g_object_ref (message));
      n++;
    }
  sqlite3_finalize (stmt);

  if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot read the journal");
      rollback (self);
      return FALSE;
    }

  if (last_jpk != 0)
    {
      if (!(clear = get_stmt (self, STMT_JOURNAL_CLEAR, error)))
        {
          rollback (self);
          return FALSE;
        }
      sqlite3_bind_int64 (clear, 1, last_jpk);
      if (sqlite3_step (clear) != SQLITE_DONE)
        {
          set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot clear the journal");
          rollback (self);
          return FALSE;
        }
    }

  if (!exec_simple (self, STMT_COMMIT, error))
    {
      rollback (self);
      g_hash_table_remove_all (self->rooms);
      return FALSE;
    }

  if (n > 0)
    g_debug ("%s: applied %u journaled messages left by an unclean exit", self->path, n);

  return TRUE;
}

/* The saves and journal records waiting go to the worker; without one,
 * they are written here. A failure keeps them for the next attempt. */
static void
write_in_background (TincanStore *self)
{
  g_autoptr (GError) error = NULL;

  if (self->worker != NULL)
    batch_start (self);
  else if (!flush_pending (self, &error))
    g_warning ("Could not save %u messages: %s", self->pending->len + self->journaled->len,
               error->message);
}

static gboolean
flush_idle_cb (gpointer data)
{
  TincanStore *self = data;

  self->flush_id = 0;

  /* Only journaled messages, not many yet: they wait a little longer. */
  if (self->pending->len == 0 && self->journaled->len < APPLY_BATCH)
    {
      if (self->journaled->len > 0 && self->apply_id == 0)
        {
          self->apply_id = g_timeout_add (APPLY_DELAY_MS, apply_timeout_cb, self);
          g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->apply_id),
                                    "[tincan] store apply");
        }
      return G_SOURCE_REMOVE;
    }

  write_in_background (self);

  return G_SOURCE_REMOVE;
}

static gboolean
apply_timeout_cb (gpointer data)
{
  TincanStore *self = data;

  self->apply_id = 0;
  write_in_background (self);

  return G_SOURCE_REMOVE;
}

/* Opening */

static gboolean
query_int (TincanStore  *self,
           const char   *sql,
           int          *value,
           GError      **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);

  if (rc != SQLITE_ROW)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_OPEN, "Cannot read the database");
      sqlite3_finalize (stmt);
      return FALSE;
    }

  *value = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);

  return TRUE;
}

static gboolean
exec_sql (TincanStore       *self,
          const char        *sql,
          TincanStoreError   code,
          GError           **error)
{
  char *errmsg = NULL;

  if (sqlite3_exec (self->db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
    {
      g_set_error (error, TINCAN_STORE_ERROR, code, "%s", errmsg ? errmsg : "unknown error");
      sqlite3_free (errmsg);
      return FALSE;
    }

  return TRUE;
}

static gboolean
migrate (TincanStore  *self,
         int           from,
         GError      **error)
{
  for (int v = from; v < SCHEMA_VERSION; v++)
    {
      g_autofree char *sql = NULL;

      sql = g_strdup_printf ("BEGIN IMMEDIATE;\n%s;\nPRAGMA user_version = %d;\nCOMMIT;",
                             migrations[v], v + 1);

      if (!exec_sql (self, sql, TINCAN_STORE_ERROR_SCHEMA, error))
        {
          exec_sql (self, "ROLLBACK", TINCAN_STORE_ERROR_SCHEMA, NULL);
          g_prefix_error (error, "Migration to version %d failed: ", v + 1);
          return FALSE;
        }

      g_debug ("Migrated %s to schema version %d", self->path, v + 1);
    }

  return TRUE;
}

/* SQLite counts every allocation for sqlite3_status() under a global
 * mutex unless told not to, before it is first used: a lock and an
 * unlock per allocation, several per insert, for figures we never read.
 * Too late when something else in the process has used SQLite already;
 * then it stays on, and nothing else changes. */
static void
configure_sqlite_once (void)
{
  static gsize configured = 0;

  if (g_once_init_enter (&configured))
    {
      if (sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        g_debug ("SQLite is initialized already; its memory statistics stay on");
      g_once_init_leave (&configured, 1);
    }
}

static gboolean
open_database (TincanStore  *self,
               GError      **error)
{
  g_autofree char *dir = g_path_get_dirname (self->path);
  char *journal_mode = NULL;
  sqlite3_stmt *stmt = NULL;
  int version = 0;
  int rc;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_OPEN,
                   "Cannot create %s: %s", dir, g_strerror (errsv));
      return FALSE;
    }

  configure_sqlite_once ();
  rc = sqlite3_open_v2 (self->path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_OPEN, "Cannot open the database");
      return FALSE;
    }

  sqlite3_extended_result_codes (self->db, TRUE);
  /* Short: the only other party is another process holding the store,
   * and a second tincan-cli on the same data dir should fail at once. */
  sqlite3_busy_timeout (self->db, 100);

  /* One process owns a store (the app is single-instance, each tincan-cli
   * run has its data dir): an exclusive lock, taken on the first access
   * and held until close, spares every commit its file locking and lets
   * the WAL index live in heap memory instead of a shared-memory file. A
   * second process opening the same store gets a clear "locked" error
   * rather than a second copy of the outbox sending the same messages. */
  if (!exec_sql (self, "PRAGMA locking_mode = EXCLUSIVE", TINCAN_STORE_ERROR_OPEN, error))
    return FALSE;

  /* Also the first read: a file that is not a database fails here. Then
   * the exclusive lock, held until close: a store that another process
   * has open fails here, clearly, not at the first save. */
  if (!query_int (self, "PRAGMA user_version", &version, NULL) ||
      sqlite3_exec (self->db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    {
      int code = sqlite3_errcode (self->db) & 0xff;

      if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        g_set_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_OPEN,
                     "%s is in use by another process (database is locked)", self->path);
      else
        set_db_error (self, error, TINCAN_STORE_ERROR_OPEN, "Cannot read the database");
      return FALSE;
    }

  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, TINCAN_STORE_ERROR, TINCAN_STORE_ERROR_SCHEMA,
                   "%s has schema version %d, newer than %d: written by a newer Tincan",
                   self->path, version, SCHEMA_VERSION);
      return FALSE;
    }

  /* WAL: a crash (even kill -9) loses at most the transaction being
   * written; synchronous=NORMAL only gives up durability on power loss. */
  rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
    journal_mode = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);

  if (g_strcmp0 (journal_mode, "wal") != 0)
    g_debug ("%s: journal mode is %s, not wal", self->path, journal_mode ? journal_mode : "unknown");
  g_free (journal_mode);

  if (!exec_sql (self, "PRAGMA synchronous = NORMAL", TINCAN_STORE_ERROR_OPEN, error))
    return FALSE;

  /* Checkpoints only after a batch commit (maybe_checkpoint()), never in
   * the flush the send path waits for. */
  if (!exec_sql (self, "PRAGMA wal_autocheckpoint = 0", TINCAN_STORE_ERROR_OPEN, error))
    return FALSE;
  sqlite3_wal_hook (self->db, wal_hook_cb, self);

  if (!migrate (self, version, error))
    return FALSE;

  self->schema_version = SCHEMA_VERSION;

  if (!replay_journal (self, error))
    {
      g_prefix_error (error, "%s: ", self->path);
      return FALSE;
    }

  return TRUE;
}

static void
close_database (TincanStore *self)
{
  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);

  if (self->db != NULL)
    {
      sqlite3_close_v2 (self->db);
      self->db = NULL;
    }
}

/* GObject */

static void
tincan_store_dispose (GObject *object)
{
  TincanStore *self = (TincanStore *)object;

  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->apply_id, g_source_remove);

  G_OBJECT_CLASS (tincan_store_parent_class)->dispose (object);
}

static void
tincan_store_finalize (GObject *object)
{
  TincanStore *self = (TincanStore *)object;
  GHashTableIter iter;
  gpointer value;

  self->finalizing = TRUE;

  /* A batch in flight is finished first (its saves come back if it failed). */
  batch_wait (self);

  if (self->db != NULL && (self->pending->len > 0 || self->journaled->len > 0))
    {
      g_autoptr (GError) error = NULL;

      /* What cannot be applied is at least journaled, for the next open. */
      if (!flush_pending (self, &error) && !journal_pending (self, NULL))
        g_warning ("Could not save %u messages before closing: %s",
                   self->pending->len, error->message);
    }

  /* Nothing is in flight any more: the worker is idle or finishing. */
  if (self->worker != NULL)
    g_thread_pool_free (g_steal_pointer (&self->worker), FALSE, TRUE);

  close_database (self);

  g_hash_table_iter_init (&iter, self->live_by_pk);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    _tincan_message_set_tracker (value, NULL, NULL, 0);

  g_clear_pointer (&self->live_by_pk, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->pending_set, g_hash_table_unref);
  g_clear_pointer (&self->journaled, g_ptr_array_unref);
  g_clear_pointer (&self->journaled_refs, g_hash_table_unref);
  g_clear_pointer (&self->journaled_keys, g_hash_table_unref);
  g_clear_pointer (&self->announced, g_hash_table_unref);
  g_clear_pointer (&self->record_buf, g_byte_array_unref);
  g_clear_pointer (&self->rooms, g_hash_table_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->in_flight_set, g_hash_table_unref);

  G_OBJECT_CLASS (tincan_store_parent_class)->finalize (object);
}

static void
tincan_store_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TincanStore *self = TINCAN_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_store_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  TincanStore *self = TINCAN_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_assert (self->path == NULL);
      self->path = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_store_class_init (TincanStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tincan_store_dispose;
  object_class->finalize = tincan_store_finalize;
  object_class->get_property = tincan_store_get_property;
  object_class->set_property = tincan_store_set_property;

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[COMMITTED] =
    g_signal_new ("committed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, G_TYPE_PTR_ARRAY);

  signals[WRITTEN] =
    g_signal_new ("written",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 0);
}

static void
tincan_store_init (TincanStore *self)
{
  self->pending = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_set = g_hash_table_new (NULL, NULL);
  self->journaled = g_ptr_array_new_with_free_func (g_object_unref);
  self->journaled_refs = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->journaled_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->announced = g_hash_table_new (NULL, NULL);
  self->record_buf = g_byte_array_sized_new (256);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->live_by_pk = live_table_new ();
  self->context = g_main_context_ref_thread_default ();
  self->in_flight_set = g_hash_table_new (NULL, NULL);
}

/* Public API */

char *
tincan_store_get_default_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "tincan", NULL);
}

TincanStore *
tincan_store_new (const char  *path,
                  GError     **error)
{
  g_autoptr (TincanStore) self = NULL;
  g_autofree char *default_path = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (path == NULL)
    {
      g_autofree char *dir = tincan_store_get_default_dir ();

      default_path = g_build_filename (dir, "history.db", NULL);
      path = default_path;
    }

  self = g_object_new (TINCAN_TYPE_STORE,
                       "path", path,
                       NULL);

  if (!open_database (self, error))
    {
      close_database (self);
      return NULL;
    }

  /* Batches are written on a thread of their own, so the main thread
   * goes on decoding and drawing meanwhile; unless SQLite was built
   * without threads, or TINCAN_STORE_SYNC asks (debugging). */
  if (sqlite3_threadsafe () != 0 && g_getenv ("TINCAN_STORE_SYNC") == NULL)
    self->worker = g_thread_pool_new (batch_worker, self, 1, TRUE, NULL);

  return g_steal_pointer (&self);
}

const char *
tincan_store_get_path (TincanStore *self)
{
  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);

  return self->path;
}

int
tincan_store_get_schema_version (TincanStore *self)
{
  g_return_val_if_fail (TINCAN_IS_STORE (self), 0);

  return self->schema_version;
}

void
tincan_store_save (TincanStore   *self,
                   TincanMessage *message)
{
  g_return_if_fail (TINCAN_IS_STORE (self));
  g_return_if_fail (TINCAN_IS_MESSAGE (message));
  g_return_if_fail (tincan_message_get_room (message) != NULL);

  if (!g_hash_table_add (self->pending_set, message))
    return;

  g_ptr_array_add (self->pending, g_object_ref (message));

  /* A flood handled in one long main-loop turn does not wait for the
   * turn to end: the worker gets a batch as soon as there is one. */
  if (self->worker != NULL && self->pending->len >= WORKER_BATCH_MIN)
    batch_start (self);
  schedule_flush (self);
}

gboolean
tincan_store_is_pending (TincanStore   *self,
                         TincanMessage *message)
{
  g_return_val_if_fail (TINCAN_IS_STORE (self), FALSE);
  g_return_val_if_fail (TINCAN_IS_MESSAGE (message), FALSE);

  return g_hash_table_contains (self->pending_set, message) ||
         g_hash_table_contains (self->in_flight_set, message);
}

gboolean
tincan_store_flush (TincanStore  *self,
                    GError      **error)
{
  g_return_val_if_fail (TINCAN_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  batch_wait (self);

  if (self->pending->len >= APPLY_BATCH)
    return flush_pending (self, error);

  /* The latency-critical path (nothing is sent before this returns):
   * one small journal row per message now; indexes and dedup when it is
   * applied, later (flush_idle_cb()). */
  if (!journal_pending (self, error))
    return FALSE;

  if (self->journaled->len > 0)
    schedule_flush (self);

  return TRUE;
}

void
_tincan_store_set_max_pages (TincanStore *self,
                             guint        max_pages)
{
  g_autofree char *sql = NULL;

  g_return_if_fail (TINCAN_IS_STORE (self));

  batch_wait (self);
  /* 0 is not "no cap" for SQLite: the largest count it allows is. */
  sql = g_strdup_printf ("PRAGMA max_page_count = %u", max_pages > 0 ? max_pages : G_MAXINT32);
  if (self->db != NULL)
    sqlite3_exec (self->db, sql, NULL, NULL, NULL);
}

TincanStoreDurability
tincan_store_make_durable (TincanStore          *self,
                           TincanMessage * const *messages,
                           guint                 n_messages,
                           GError              **error)
{
  g_autoptr (GPtrArray) needed = NULL;
  gboolean in_flight = FALSE;

  g_return_val_if_fail (TINCAN_IS_STORE (self), TINCAN_STORE_FAILED);
  g_return_val_if_fail (messages != NULL || n_messages == 0, TINCAN_STORE_FAILED);
  g_return_val_if_fail (error == NULL || *error == NULL, TINCAN_STORE_FAILED);

  for (guint i = 0; i < n_messages; i++)
    {
      TincanMessage *message = messages[i];

      if (g_hash_table_contains (self->in_flight_set, message))
        in_flight = TRUE;
      else if (g_hash_table_contains (self->pending_set, message))
        {
          if (needed == NULL)
            needed = g_ptr_array_new ();
          g_ptr_array_add (needed, message);
        }
    }

  if (!in_flight && needed == NULL)
    return TINCAN_STORE_DURABLE;

  /* The worker has the database: "written" says when it is done. */
  if (!g_queue_is_empty (&self->in_flight))
    return TINCAN_STORE_BUSY;

  if (!journal_messages (self, needed, error))
    return TINCAN_STORE_FAILED;
  if (self->journaled->len > 0)
    schedule_flush (self);

  return TINCAN_STORE_DURABLE;
}

gboolean
tincan_store_delete (TincanStore    *self,
                     TincanMessage  *message,
                     GError        **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  TincanMessage *live;
  gint64 pk = 0;

  g_return_val_if_fail (TINCAN_IS_STORE (self), FALSE);
  g_return_val_if_fail (TINCAN_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!flush_pending (self, error))
    return FALSE;

  if (is_live (self, message))
    {
      pk = _tincan_message_get_store_id (message);
    }
  else if (tincan_message_get_cid (message) != NULL)
    {
      g_autoptr (TincanStmt) find = NULL;

      if (!(find = get_stmt (self, STMT_FIND_CID, error)))
        return FALSE;
      sqlite3_bind_text (find, 1, tincan_message_get_cid (message), -1, SQLITE_STATIC);
      if (!find_pk (self, STMT_FIND_CID, &pk, NULL, error))
        return FALSE;
    }
  else if (tincan_message_get_seq (message) != 0)
    {
      g_autoptr (TincanStmt) find = NULL;
      gint64 room_id;

      if (!find_room (self, tincan_message_get_room (message), &room_id, error))
        return FALSE;
      if (room_id != 0)
        {
          if (!(find = get_stmt (self, STMT_FIND_SEQ, error)))
            return FALSE;
          sqlite3_bind_int64 (find, 1, room_id);
          sqlite3_bind_int64 (find, 2, tincan_message_get_seq (message));
          if (!find_pk (self, STMT_FIND_SEQ, &pk, NULL, error))
            return FALSE;
        }
    }

  if (pk != 0)
    {
      if (!(stmt = get_stmt (self, STMT_DELETE, error)))
        return FALSE;

      sqlite3_bind_int64 (stmt, 1, pk);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot delete a message");
          return FALSE;
        }

      live = live_lookup (self, pk);
      if (live != NULL)
        {
          _tincan_message_set_store_id (live, 0);
          live_untrack (self, live);
        }
    }

  live_untrack (self, message);
  _tincan_message_set_store_id (message, 0);

  return TRUE;
}

/* A page of @room's sequenced messages around @seq: the statement binds
 * the room, @seq and @limit. */
static GPtrArray *
load_page (TincanStore  *self,
           StmtId        id,
           const char   *room,
           gint64        seq,
           guint         limit,
           GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  gint64 room_id;

  if (!flush_pending (self, error))
    return NULL;

  if (!find_room (self, room, &room_id, error))
    return NULL;

  if (room_id == 0 || limit == 0)
    return g_ptr_array_new_with_free_func (g_object_unref);

  if (!(stmt = get_stmt (self, id, error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, room_id);
  sqlite3_bind_int64 (stmt, 2, seq);
  sqlite3_bind_int64 (stmt, 3, limit);

  return collect_rows (self, stmt, error);
}

GPtrArray *
tincan_store_load_page (TincanStore  *self,
                        const char   *room,
                        gint64        before_seq,
                        guint         limit,
                        GError      **error)
{
  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);
  g_return_val_if_fail (room != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return load_page (self, STMT_PAGE, room, before_seq > 0 ? before_seq : G_MAXINT64, limit, error);
}

GPtrArray *
tincan_store_load_page_after (TincanStore  *self,
                              const char   *room,
                              gint64        after_seq,
                              guint         limit,
                              GError      **error)
{
  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);
  g_return_val_if_fail (room != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return load_page (self, STMT_PAGE_AFTER, room, MAX (after_seq, 0), limit, error);
}

GPtrArray *
tincan_store_load_unsequenced (TincanStore  *self,
                               const char   *room,
                               GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  gint64 room_id;

  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);
  g_return_val_if_fail (room != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!flush_pending (self, error))
    return NULL;

  if (!find_room (self, room, &room_id, error))
    return NULL;

  if (room_id == 0)
    return g_ptr_array_new_with_free_func (g_object_unref);

  if (!(stmt = get_stmt (self, STMT_UNSEQUENCED, error)))
    return NULL;

  sqlite3_bind_int64 (stmt, 1, room_id);

  return collect_rows (self, stmt, error);
}

GPtrArray *
tincan_store_load_outbox (TincanStore  *self,
                          GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;

  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!flush_pending (self, error))
    return NULL;

  if (!(stmt = get_stmt (self, STMT_OUTBOX, error)))
    return NULL;

  return collect_rows (self, stmt, error);
}

static gboolean
query_count (TincanStore  *self,
             StmtId        id,
             gint64        room_id,
             gint64       *count,
             GError      **error)
{
  g_autoptr (TincanStmt) stmt = NULL;
  int rc;

  *count = 0;

  if (!flush_pending (self, error))
    return FALSE;

  if (!(stmt = get_stmt (self, id, error)))
    return FALSE;

  if (room_id != 0)
    sqlite3_bind_int64 (stmt, 1, room_id);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *count = sqlite3_column_int64 (stmt, 0);
  else if (rc != SQLITE_DONE)
    {
      set_db_error (self, error, TINCAN_STORE_ERROR_IO, "Cannot count messages");
      return FALSE;
    }

  return TRUE;
}

guint
tincan_store_count_outbox (TincanStore *self)
{
  g_autoptr (GError) error = NULL;
  gint64 count;

  g_return_val_if_fail (TINCAN_IS_STORE (self), 0);

  if (!query_count (self, STMT_COUNT_OUTBOX, 0, &count, &error))
    {
      g_warning ("Cannot count the outbox: %s", error->message);
      return 0;
    }

  return (guint) MIN (count, G_MAXUINT);
}

TincanMessage *
tincan_store_lookup_cid (TincanStore *self,
                         const char  *cid)
{
  g_autoptr (TincanStmt) stmt = NULL;
  g_autoptr (GError) error = NULL;
  int rc;

  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);
  g_return_val_if_fail (cid != NULL, NULL);

  if (!flush_pending (self, &error) ||
      !(stmt = get_stmt (self, STMT_LOOKUP_CID, &error)))
    {
      g_warning ("Cannot look up a message: %s", error->message);
      return NULL;
    }

  sqlite3_bind_text (stmt, 1, cid, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return message_from_row (self, stmt);

  if (rc != SQLITE_DONE)
    g_warning ("Cannot look up a message: %s", sqlite3_errmsg (self->db));

  return NULL;
}

gint64
tincan_store_get_last_seq (TincanStore *self,
                           const char  *room)
{
  g_autoptr (GError) error = NULL;
  gint64 room_id;
  gint64 last_seq = 0;

  g_return_val_if_fail (TINCAN_IS_STORE (self), 0);
  g_return_val_if_fail (room != NULL, 0);

  if (!flush_pending (self, &error) ||
      !find_room (self, room, &room_id, &error) ||
      (room_id != 0 && !query_count (self, STMT_LAST_SEQ, room_id, &last_seq, &error)))
    {
      g_warning ("Cannot read the last seq: %s", error->message);
      return 0;
    }

  return last_seq;
}

guint64
tincan_store_count_messages (TincanStore *self,
                             const char  *room)
{
  g_autoptr (GError) error = NULL;
  gint64 room_id = 0;
  gint64 count = 0;

  g_return_val_if_fail (TINCAN_IS_STORE (self), 0);

  if (!flush_pending (self, &error) ||
      (room != NULL && !find_room (self, room, &room_id, &error)))
    {
      g_warning ("Cannot count messages: %s", error->message);
      return 0;
    }

  if (room != NULL && room_id == 0)
    return 0;

  if (!query_count (self, room != NULL ? STMT_COUNT_ROOM : STMT_COUNT_ALL,
                    room_id, &count, &error))
    {
      g_warning ("Cannot count messages: %s", error->message);
      return 0;
    }

  return (guint64) count;
}

GStrv
tincan_store_list_rooms (TincanStore *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (TincanStmt) stmt = NULL;
  g_autoptr (GError) error = NULL;
  int rc;

  g_return_val_if_fail (TINCAN_IS_STORE (self), NULL);

  if (!flush_pending (self, &error) ||
      !(stmt = get_stmt (self, STMT_LIST_ROOMS, &error)))
    {
      g_warning ("Cannot list rooms: %s", error->message);
      return g_strv_builder_end (builder);
    }

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_strv_builder_add (builder, (const char *) sqlite3_column_text (stmt, 0));

  if (rc != SQLITE_DONE)
    g_warning ("Cannot list rooms: %s", sqlite3_errmsg (self->db));

  return g_strv_builder_end (builder);
}
