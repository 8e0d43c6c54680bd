/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-server"

#include "config.h"

#include <math.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libsoup/soup.h>
#include <sqlite3.h>

#include "tincan-frame.h"
#include "tincan-util.h"
#include "tincan-server.h"
#include "tincan-server-private.h"

#define DEFAULT_MAX_FRAME    (1024 * 1024)
#define DEFAULT_HISTORY      10000
#define HEARTBEAT_SECONDS    20
#define MIN_DEDUP_ENTRIES    20000
#define FLUSH_RETRY_MS       1000
#define LOBBY                "lobby"
#define LISTEN_BACKLOG       1024
#define DEFAULT_MAX_CLIENTS  1000
#define DEFAULT_MAX_ROOMS    100
#define DEFAULT_HANDSHAKE_S  10
#define RETRY_AFTER_S        "5"
/* A client corked for a flush gets at least this many frames in it. */
#define CORK_MIN_FRAMES      2

/* One accepted message as held in a room's history. Shared (refcounted)
 * between the history and a pending delivery, because a tiny history may
 * evict a message before the batch holding it is committed. */
typedef struct
{
  char   *room;
  char   *id;
  char   *cid;
  char   *from;
  char   *text;
  gint64  seq;
  gint64  ts;
} Msg;

/* The cid dedup table holds only what an ack needs, not the body, so it
 * can be much larger than the histories without costing much memory. */
typedef struct
{
  char   *cid;
  char   *room;
  char   *id;
  gint64  seq;
  gint64  ts;
} Dedup;

typedef struct _Client Client;

typedef struct
{
  char      *name;
  GPtrArray *members;       /* Client*, in join order, borrowed */
  GQueue     history;       /* Msg*, oldest first, owned */
  gint64     last_seq;      /* highest seq assigned */
  gint64     committed_seq; /* highest seq durably stored (== last_seq without a db) */
} Room;

struct _Client
{
  TincanServer            *server;
  SoupWebsocketConnection *conn;    /* NULL for a test client */
  GSocket                 *socket;  /* conn's TCP socket, NULL for a test client */
  GPtrArray               *replies; /* a test client's sent text, owned */
  char                    *peer;
  char                    *user;
  char                    *session;
  GHashTable              *rooms;   /* name → Room*, borrowed */
  gboolean                 said_hello;
  gboolean                 closing;
  double                   tokens;
  gint64                   refilled_us;
  gulong                   message_id;
  gulong                   closed_id;
  gulong                   error_id;
  guint                    batch_frames; /* frames for it in the flush being sent */
};

/* A reply that must wait until the batch it belongs to is committed. */
typedef struct
{
  Client      *client;  /* NULL once the client has gone */
  TincanFrame *ack;
  Msg         *msg;     /* NULL for the ack of a repeated cid */
} Pending;

struct _TincanServer
{
  GObject        parent_instance;

  guint          max_frame;
  double         rate;
  guint          burst;
  char          *token;
  guint          history;
  char          *db_path;
  GTlsCertificate *tls_certificate;
  guint          max_clients;
  guint          max_rooms;
  guint          handshake_timeout;
  gboolean       deflate;

  SoupServer    *soup;
  GHashTable    *handshakes; /* SoupServerMessage* → Handshake*, owned */
  char          *uri;
  guint          port;

  GHashTable    *clients;   /* Client* set, owned */
  GHashTable    *rooms;     /* name → Room*, owned */
  GHashTable    *dedup;     /* cid → Dedup*, owned */
  GQueue         dedup_order;
  guint          dedup_max;

  sqlite3       *db;
  sqlite3_stmt  *insert_msg;
  sqlite3_stmt  *insert_cid;
  sqlite3_stmt  *upsert_room;
  sqlite3_stmt  *delete_msg;
  sqlite3_stmt  *delete_cid;

  GPtrArray     *pending;         /* Pending* */
  GPtrArray     *pending_inserts; /* Msg* (ref) */
  GPtrArray     *pending_msg_deletes; /* Msg* (ref) */
  GPtrArray     *pending_cid_deletes; /* char* */
  GPtrArray     *batch_clients;   /* Client* with batch_frames > 0, borrowed */
  guint          flush_id;
};

G_DEFINE_FINAL_TYPE (TincanServer, tincan_server, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_MAX_FRAME,
  PROP_RATE,
  PROP_BURST,
  PROP_TOKEN,
  PROP_HISTORY,
  PROP_DB_PATH,
  PROP_TLS_CERTIFICATE,
  PROP_MAX_CLIENTS,
  PROP_MAX_ROOMS,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_DEFLATE,
  PROP_PORT,
  PROP_URI,
  PROP_N_CLIENTS,
  N_PROPS
};

enum
{
  CLIENT_COUNT_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void server_flush (TincanServer *self);

/* Messages and dedup entries */

static void
msg_clear (gpointer data)
{
  Msg *msg = data;

  g_free (msg->room);
  g_free (msg->id);
  g_free (msg->cid);
  g_free (msg->from);
  g_free (msg->text);
}

static Msg *
msg_new (const char *room,
         gint64      seq,
         const char *id,
         const char *cid,
         const char *from,
         const char *text,
         gint64      ts)
{
  Msg *msg = g_rc_box_new0 (Msg);

  msg->room = g_strdup (room);
  msg->seq = seq;
  msg->id = g_strdup (id);
  msg->cid = g_strdup (cid);
  msg->from = g_strdup (from);
  msg->text = g_strdup (text);
  msg->ts = ts;

  return msg;
}

static Msg *
msg_ref (Msg *msg)
{
  return g_rc_box_acquire (msg);
}

static void
msg_unref (gpointer msg)
{
  g_rc_box_release_full (msg, msg_clear);
}

static void
dedup_free (gpointer data)
{
  Dedup *entry = data;

  g_free (entry->cid);
  g_free (entry->room);
  g_free (entry->id);
  g_free (entry);
}

static TincanFrame *
ack_frame_new (const char *room,
               const char *cid,
               const char *id,
               gint64      seq,
               gint64      ts)
{
  TincanFrame *ack = tincan_frame_new (TINCAN_FRAME_ACK);

  ack->room = g_strdup (room);
  ack->cid = g_strdup (cid);
  ack->id = g_strdup (id);
  ack->seq = seq;
  ack->ts = ts;

  return ack;
}

static void
pending_free (gpointer data)
{
  Pending *pending = data;

  g_clear_pointer (&pending->ack, tincan_frame_free);
  g_clear_pointer (&pending->msg, msg_unref);
  g_free (pending);
}

static void
room_free (gpointer data)
{
  Room *room = data;

  g_free (room->name);
  g_ptr_array_unref (room->members);
  g_queue_clear_full (&room->history, msg_unref);
  g_free (room);
}

static Room *
server_ensure_room (TincanServer *self,
                    const char   *name)
{
  Room *room = g_hash_table_lookup (self->rooms, name);

  if (room == NULL)
    {
      room = g_new0 (Room, 1);
      room->name = g_strdup (name);
      room->members = g_ptr_array_new ();
      g_queue_init (&room->history);
      g_hash_table_insert (self->rooms, room->name, room);
    }

  return room;
}

/* Appends to the room's history, evicting the oldest beyond the bound. */
static void
server_remember_msg (TincanServer *self,
                     Room         *room,
                     Msg          *msg)
{
  g_queue_push_tail (&room->history, msg_ref (msg));
  room->last_seq = MAX (room->last_seq, msg->seq);

  while (room->history.length > self->history)
    {
      Msg *old = g_queue_pop_head (&room->history);

      if (self->db != NULL)
        g_ptr_array_add (self->pending_msg_deletes, old);
      else
        msg_unref (old);
    }
}

static void
server_remember_cid (TincanServer *self,
                     const char   *cid,
                     const char   *room,
                     const char   *id,
                     gint64        seq,
                     gint64        ts)
{
  Dedup *entry;

  if (cid == NULL || g_hash_table_contains (self->dedup, cid))
    return;

  entry = g_new0 (Dedup, 1);
  entry->cid = g_strdup (cid);
  entry->room = g_strdup (room);
  entry->id = g_strdup (id);
  entry->seq = seq;
  entry->ts = ts;
  g_hash_table_insert (self->dedup, entry->cid, entry);
  g_queue_push_tail (&self->dedup_order, entry);

  while (self->dedup_order.length > self->dedup_max)
    {
      Dedup *old = g_queue_pop_head (&self->dedup_order);

      if (self->db != NULL)
        g_ptr_array_add (self->pending_cid_deletes, g_strdup (old->cid));
      g_hash_table_remove (self->dedup, old->cid);
    }
}

/* SQLite persistence */

static gboolean
db_error (TincanServer  *self,
          const char    *what,
          GError       **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "%s: %s", what, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
db_exec (TincanServer  *self,
         const char    *sql,
         GError       **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_error (self, sql, error);
  return TRUE;
}

static gboolean
db_step_done (TincanServer  *self,
              sqlite3_stmt  *stmt,
              GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    return db_error (self, "step", error);
  return TRUE;
}

static gboolean
db_prepare (TincanServer  *self,
            const char    *sql,
            sqlite3_stmt **stmt,
            GError       **error)
{
  if (sqlite3_prepare_v2 (self->db, sql, -1, stmt, NULL) != SQLITE_OK)
    return db_error (self, sql, error);
  return TRUE;
}

static const char *
column_text (sqlite3_stmt *stmt,
             int           column)
{
  return (const char *) sqlite3_column_text (stmt, column);
}

/* Writes the current batch in one transaction. */
static gboolean
db_commit (TincanServer  *self,
           GError       **error)
{
  if (!db_exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;

  for (guint i = 0; i < self->pending_inserts->len; i++)
    {
      Msg *msg = g_ptr_array_index (self->pending_inserts, i);

      sqlite3_bind_text (self->insert_msg, 1, msg->room, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (self->insert_msg, 2, msg->seq);
      sqlite3_bind_text (self->insert_msg, 3, msg->id, -1, SQLITE_STATIC);
      sqlite3_bind_text (self->insert_msg, 4, msg->cid, -1, SQLITE_STATIC);
      sqlite3_bind_text (self->insert_msg, 5, msg->from, -1, SQLITE_STATIC);
      sqlite3_bind_text (self->insert_msg, 6, msg->text, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (self->insert_msg, 7, msg->ts);
      if (!db_step_done (self, self->insert_msg, error))
        goto rollback;

      if (msg->cid != NULL)
        {
          sqlite3_bind_text (self->insert_cid, 1, msg->cid, -1, SQLITE_STATIC);
          sqlite3_bind_text (self->insert_cid, 2, msg->room, -1, SQLITE_STATIC);
          sqlite3_bind_int64 (self->insert_cid, 3, msg->seq);
          sqlite3_bind_text (self->insert_cid, 4, msg->id, -1, SQLITE_STATIC);
          sqlite3_bind_int64 (self->insert_cid, 5, msg->ts);
          if (!db_step_done (self, self->insert_cid, error))
            goto rollback;
        }

      sqlite3_bind_text (self->upsert_room, 1, msg->room, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (self->upsert_room, 2, msg->seq);
      if (!db_step_done (self, self->upsert_room, error))
        goto rollback;
    }

  for (guint i = 0; i < self->pending_msg_deletes->len; i++)
    {
      Msg *msg = g_ptr_array_index (self->pending_msg_deletes, i);

      sqlite3_bind_text (self->delete_msg, 1, msg->room, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (self->delete_msg, 2, msg->seq);
      if (!db_step_done (self, self->delete_msg, error))
        goto rollback;
    }

  for (guint i = 0; i < self->pending_cid_deletes->len; i++)
    {
      const char *cid = g_ptr_array_index (self->pending_cid_deletes, i);

      sqlite3_bind_text (self->delete_cid, 1, cid, -1, SQLITE_STATIC);
      if (!db_step_done (self, self->delete_cid, error))
        goto rollback;
    }

  if (!db_exec (self, "COMMIT", error))
    goto rollback;

  g_ptr_array_set_size (self->pending_inserts, 0);
  g_ptr_array_set_size (self->pending_msg_deletes, 0);
  g_ptr_array_set_size (self->pending_cid_deletes, 0);
  return TRUE;

rollback:
  sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

static gboolean
db_open (TincanServer  *self,
         GError       **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_open_v2 (self->db_path, &self->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot open database %s: %s", self->db_path,
                   self->db ? sqlite3_errmsg (self->db) : "out of memory");
      g_clear_pointer (&self->db, sqlite3_close);
      return FALSE;
    }

  sqlite3_busy_timeout (self->db, 5000);

  /* WAL with synchronous=FULL: a commit is durable before we ack. */
  if (!db_exec (self, "PRAGMA journal_mode=WAL", error) ||
      !db_exec (self, "PRAGMA synchronous=FULL", error) ||
      !db_exec (self,
                "CREATE TABLE IF NOT EXISTS messages ("
                "  room TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
                "  cid TEXT, sender TEXT NOT NULL, body TEXT NOT NULL,"
                "  ts INTEGER NOT NULL, PRIMARY KEY (room, seq));"
                "CREATE TABLE IF NOT EXISTS cids ("
                "  cid TEXT PRIMARY KEY, room TEXT NOT NULL, seq INTEGER NOT NULL,"
                "  id TEXT NOT NULL, ts INTEGER NOT NULL);"
                "CREATE TABLE IF NOT EXISTS rooms ("
                "  name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);",
                error))
    goto fail;

  if (!db_prepare (self,
                   "INSERT OR REPLACE INTO messages (room, seq, id, cid, sender, body, ts)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   &self->insert_msg, error) ||
      !db_prepare (self,
                   "INSERT OR REPLACE INTO cids (cid, room, seq, id, ts) VALUES (?, ?, ?, ?, ?)",
                   &self->insert_cid, error) ||
      !db_prepare (self,
                   "INSERT INTO rooms (name, last_seq) VALUES (?1, ?2)"
                   " ON CONFLICT (name) DO UPDATE SET last_seq = MAX (last_seq, ?2)",
                   &self->upsert_room, error) ||
      !db_prepare (self, "DELETE FROM messages WHERE room = ? AND seq = ?",
                   &self->delete_msg, error) ||
      !db_prepare (self, "DELETE FROM cids WHERE cid = ?",
                   &self->delete_cid, error))
    goto fail;

  /* Reload the state: histories, then the dedup table in arrival order,
   * then each room's last seq (which outlives its pruned messages). */
  if (!db_prepare (self,
                   "SELECT room, seq, id, cid, sender, body, ts FROM messages"
                   " ORDER BY room, seq",
                   &stmt, error))
    goto fail;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Room *room = server_ensure_room (self, column_text (stmt, 0));
      Msg *msg = msg_new (column_text (stmt, 0),
                          sqlite3_column_int64 (stmt, 1),
                          column_text (stmt, 2),
                          column_text (stmt, 3),
                          column_text (stmt, 4),
                          column_text (stmt, 5),
                          sqlite3_column_int64 (stmt, 6));

      server_remember_msg (self, room, msg);
      msg_unref (msg);
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  if (rc != SQLITE_DONE)
    {
      db_error (self, "load messages", error);
      goto fail;
    }

  if (!db_prepare (self, "SELECT cid, room, seq, id, ts FROM cids ORDER BY rowid",
                   &stmt, error))
    goto fail;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    server_remember_cid (self,
                         column_text (stmt, 0),
                         column_text (stmt, 1),
                         column_text (stmt, 3),
                         sqlite3_column_int64 (stmt, 2),
                         sqlite3_column_int64 (stmt, 4));
  g_clear_pointer (&stmt, sqlite3_finalize);
  if (rc != SQLITE_DONE)
    {
      db_error (self, "load cids", error);
      goto fail;
    }

  if (!db_prepare (self, "SELECT name, last_seq FROM rooms", &stmt, error))
    goto fail;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Room *room = server_ensure_room (self, column_text (stmt, 0));

      room->last_seq = MAX (room->last_seq, sqlite3_column_int64 (stmt, 1));
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  if (rc != SQLITE_DONE)
    {
      db_error (self, "load rooms", error);
      goto fail;
    }

  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->rooms);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        Room *room = value;

        room->committed_seq = room->last_seq;
      }
  }

  /* Prune what a smaller --history (or dedup bound) no longer keeps. */
  if (!db_commit (self, error))
    goto fail;

  return TRUE;

fail:
  g_clear_pointer (&stmt, sqlite3_finalize);
  g_clear_pointer (&self->insert_msg, sqlite3_finalize);
  g_clear_pointer (&self->insert_cid, sqlite3_finalize);
  g_clear_pointer (&self->upsert_room, sqlite3_finalize);
  g_clear_pointer (&self->delete_msg, sqlite3_finalize);
  g_clear_pointer (&self->delete_cid, sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);
  return FALSE;
}

/* Sending */

static gboolean
client_is_open (Client *client)
{
  return !client->closing &&
         (client->conn == NULL ||
          soup_websocket_connection_get_state (client->conn) == SOUP_WEBSOCKET_STATE_OPEN);
}

static void
client_send_text (Client     *client,
                  const char *text)
{
  if (text == NULL || !client_is_open (client))
    return;

  if (client->conn != NULL)
    soup_websocket_connection_send_text (client->conn, text);
  else
    g_ptr_array_add (client->replies, g_strdup (text));
}

/* A test client records the close as "#close CODE REASON" (never JSON). */
static void
client_close (Client     *client,
              gushort     code,
              const char *reason)
{
  if (!client_is_open (client))
    return;

  client->closing = TRUE;
  if (client->conn != NULL)
    soup_websocket_connection_close (client->conn, code, reason);
  else
    g_ptr_array_add (client->replies, g_strdup_printf ("#close %u %s", code, reason));
}

static void
client_send_frame (Client            *client,
                   const TincanFrame *frame)
{
  g_autofree char *text = NULL;

  if (!client_is_open (client))
    return;

  text = tincan_v1_encode (frame, NULL);
  client_send_text (client, text);
}

static void
client_send_error (Client     *client,
                   const char *code,
                   const char *message,
                   const char *cid,
                   const char *room)
{
  g_autoptr(TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_ERROR);

  frame->code = g_strdup (code);
  frame->message = g_strdup (message);
  frame->cid = g_strdup (cid);
  frame->room = g_strdup (room);
  client_send_frame (client, frame);
}

static TincanFrame *
message_frame_new (const Msg *msg)
{
  TincanFrame *frame = tincan_frame_new (TINCAN_FRAME_MESSAGE);

  frame->room = g_strdup (msg->room);
  frame->seq = msg->seq;
  frame->id = g_strdup (msg->id);
  frame->cid = g_strdup (msg->cid);
  frame->user = g_strdup (msg->from);
  frame->text = g_strdup (msg->text);
  frame->ts = msg->ts;

  return frame;
}

static void
room_broadcast (Room              *room,
                const TincanFrame *frame,
                Client            *except)
{
  g_autofree char *text = NULL;

  if (room->members->len == 0 ||
      (room->members->len == 1 && g_ptr_array_index (room->members, 0) == except))
    return;

  text = tincan_v1_encode (frame, NULL);
  for (guint i = 0; i < room->members->len; i++)
    {
      Client *member = g_ptr_array_index (room->members, i);

      if (member != except)
        client_send_text (member, text);
    }
}

static void
room_send_members (Room   *room,
                   Client *to)
{
  g_autoptr(TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_MEMBERS);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < room->members->len; i++)
    {
      Client *member = g_ptr_array_index (room->members, i);

      if (g_hash_table_add (seen, member->user))
        g_strv_builder_add (builder, member->user);
    }

  frame->room = g_strdup (room->name);
  frame->users = g_strv_builder_end (builder);
  client_send_frame (to, frame);
}

static void
room_send_presence (Room   *room,
                    Client *about,
                    gboolean online)
{
  g_autoptr(TincanFrame) frame = tincan_frame_new (TINCAN_FRAME_PRESENCE);

  frame->room = g_strdup (room->name);
  frame->user = g_strdup (about->user);
  frame->online = online;
  room_broadcast (room, frame, about);
}

/* Rooms */

static void server_maybe_drop_room (TincanServer *self,
                                    Room         *room);

static void
client_join (Client     *client,
             const char *name)
{
  TincanServer *self = client->server;
  Room *room = server_ensure_room (self, name);

  if (g_hash_table_contains (client->rooms, room->name))
    {
      room_send_members (room, client);
      return;
    }

  if (self->max_rooms > 0 && g_hash_table_size (client->rooms) >= self->max_rooms)
    {
      g_autofree char *message = g_strdup_printf ("at most %u rooms per connection", self->max_rooms);

      client_send_error (client, "too_many_rooms", message, NULL, name);
      server_maybe_drop_room (self, room);
      return;
    }

  g_hash_table_insert (client->rooms, room->name, room);
  g_ptr_array_add (room->members, client);
  room_send_members (room, client);
  room_send_presence (room, client, TRUE);
}

/* A room that nobody is in and that never held a message is forgotten,
 * so joining made-up names cannot grow the server without bound. */
static void
server_maybe_drop_room (TincanServer *self,
                        Room         *room)
{
  if (room->members->len == 0 && room->last_seq == 0 && strcmp (room->name, LOBBY) != 0)
    g_hash_table_remove (self->rooms, room->name);
}

static void
client_leave (Client *client,
              Room   *room,
              gboolean notify_self)
{
  g_hash_table_remove (client->rooms, room->name);
  g_ptr_array_remove (room->members, client);
  if (notify_self)
    room_send_members (room, client);
  room_send_presence (room, client, FALSE);
  server_maybe_drop_room (client->server, room);
}

static void
client_resume (Client     *client,
               const char *name,
               gint64      after)
{
  Room *room = g_hash_table_lookup (client->rooms, name);
  g_autoptr(TincanFrame) resumed = tincan_frame_new (TINCAN_FRAME_RESUMED);
  gint64 oldest;

  g_assert (room != NULL);

  /* Messages of a batch still being committed are not replayed: they
   * reach this client by the broadcast that follows the commit. */
  for (GList *l = room->history.head; l != NULL; l = l->next)
    {
      Msg *msg = l->data;

      if (msg->seq > room->committed_seq)
        break;
      if (msg->seq > after)
        {
          g_autoptr(TincanFrame) frame = message_frame_new (msg);

          client_send_frame (client, frame);
        }
    }

  if (room->history.head != NULL)
    oldest = ((Msg *) room->history.head->data)->seq;
  else
    oldest = room->last_seq + 1;

  resumed->room = g_strdup (room->name);
  resumed->seq = room->committed_seq;
  resumed->gap = after < room->committed_seq && oldest > after + 1;
  client_send_frame (client, resumed);
}

/* Frame handling */

static void
server_schedule_flush (TincanServer *self);

static int
compare_names (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static void
client_handle_hello (Client      *client,
                     TincanFrame *frame)
{
  TincanServer *self = client->server;
  g_autoptr(TincanFrame) welcome = tincan_frame_new (TINCAN_FRAME_WELCOME);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char **resume_rooms = NULL;
  guint n_resume = 0;

  if (client->said_hello)
    {
      client_send_error (client, "bad_request", "hello was already received", NULL, NULL);
      return;
    }

  if (self->token != NULL && g_strcmp0 (frame->token, self->token) != 0)
    {
      g_message ("Client %s rejected: unauthorized", client->peer);
      client_send_error (client, "unauthorized", "invalid or missing token", NULL, NULL);
      client_close (client, 4001, "unauthorized");
      return;
    }

  client->said_hello = TRUE;
  client->user = g_strdup (frame->user != NULL && frame->user[0] != '\0'
                           ? frame->user : "anonymous");
  client->session = tincan_uuid_new ();

  g_strv_builder_add (builder, LOBBY);
  if (frame->resume != NULL)
    {
      resume_rooms = (char **) g_hash_table_get_keys_as_array (frame->resume, &n_resume);
      g_qsort_with_data (resume_rooms, n_resume, sizeof (char *), compare_names, NULL);
      for (guint i = 0; i < n_resume; i++)
        if (strcmp (resume_rooms[i], LOBBY) != 0)
          g_strv_builder_add (builder, resume_rooms[i]);
    }

  welcome->session = g_strdup (client->session);
  welcome->user = g_strdup (client->user);
  welcome->rooms = g_strv_builder_end (builder);
  welcome->heartbeat = HEARTBEAT_SECONDS;
  client_send_frame (client, welcome);

  g_message ("Client %s said hello", client->peer);

  for (guint i = 0; welcome->rooms[i] != NULL; i++)
    client_join (client, welcome->rooms[i]);

  for (guint i = 0; i < n_resume; i++)
    {
      const gint64 *after = g_hash_table_lookup (frame->resume, resume_rooms[i]);

      client_resume (client, resume_rooms[i], after != NULL ? *after : 0);
    }
}

static void
client_handle_send (Client      *client,
                    TincanFrame *frame)
{
  TincanServer *self = client->server;
  Room *room = frame->room ? g_hash_table_lookup (client->rooms, frame->room) : NULL;
  Dedup *seen;
  Pending *pending;
  g_autofree char *id = NULL;
  Msg *msg;

  seen = frame->cid != NULL ? g_hash_table_lookup (self->dedup, frame->cid) : NULL;
  if (seen != NULL)
    {
      Room *seen_room = g_hash_table_lookup (self->rooms, seen->room);
      g_autoptr(TincanFrame) ack = ack_frame_new (seen->room, seen->cid, seen->id,
                                                  seen->seq, seen->ts);

      g_debug ("Repeated cid from %s, acking seq %" G_GINT64_FORMAT " again",
               client->peer, seen->seq);
      if (seen_room != NULL && seen->seq > seen_room->committed_seq)
        {
          pending = g_new0 (Pending, 1);
          pending->client = client;
          pending->ack = g_steal_pointer (&ack);
          g_ptr_array_add (self->pending, pending);
          server_schedule_flush (self);
        }
      else
        {
          client_send_frame (client, ack);
        }
      return;
    }

  if (room == NULL)
    {
      client_send_error (client, "unknown_room", "not a member of this room",
                         frame->cid, frame->room);
      return;
    }

  id = tincan_uuid_new ();
  msg = msg_new (room->name, room->last_seq + 1, id, frame->cid, client->user,
                 frame->text != NULL ? frame->text : "", tincan_now_ms ());
  server_remember_msg (self, room, msg);
  server_remember_cid (self, msg->cid, msg->room, msg->id, msg->seq, msg->ts);

  if (self->db != NULL)
    g_ptr_array_add (self->pending_inserts, msg_ref (msg));

  pending = g_new0 (Pending, 1);
  pending->client = client;
  pending->ack = ack_frame_new (msg->room, msg->cid, msg->id, msg->seq, msg->ts);
  pending->msg = msg;
  g_ptr_array_add (self->pending, pending);
  server_schedule_flush (self);
}

static void
client_handle_frame (Client      *client,
                     TincanFrame *frame)
{
  if (!client->said_hello &&
      frame->type != TINCAN_FRAME_HELLO &&
      frame->type != TINCAN_FRAME_PING)
    {
      client_send_error (client, "bad_request", "the first frame must be hello", frame->cid, NULL);
      return;
    }

  switch (frame->type)
    {
    case TINCAN_FRAME_HELLO:
      client_handle_hello (client, frame);
      break;

    case TINCAN_FRAME_JOIN:
      if (frame->room == NULL || frame->room[0] == '\0')
        client_send_error (client, "bad_request", "join needs a room", NULL, NULL);
      else
        client_join (client, frame->room);
      break;

    case TINCAN_FRAME_LEAVE:
      {
        Room *room = frame->room ? g_hash_table_lookup (client->rooms, frame->room) : NULL;

        if (room == NULL)
          client_send_error (client, "unknown_room", "not a member of this room",
                             NULL, frame->room);
        else
          client_leave (client, room, TRUE);
      }
      break;

    case TINCAN_FRAME_SEND:
      client_handle_send (client, frame);
      break;

    case TINCAN_FRAME_PING:
      {
        g_autoptr(TincanFrame) pong = tincan_frame_new (TINCAN_FRAME_PONG);

        pong->ping_id = frame->ping_id;
        client_send_frame (client, pong);
      }
      break;

    case TINCAN_FRAME_INVALID:
    case TINCAN_FRAME_WELCOME:
    case TINCAN_FRAME_ACK:
    case TINCAN_FRAME_MESSAGE:
    case TINCAN_FRAME_PRESENCE:
    case TINCAN_FRAME_MEMBERS:
    case TINCAN_FRAME_RESUMED:
    case TINCAN_FRAME_PONG:
    case TINCAN_FRAME_ERROR:
    case TINCAN_FRAME_UNMAPPED:
    case TINCAN_FRAME_REPLY:
    default:
      client_send_error (client, "bad_request", "unexpected frame type for a client",
                         frame->cid, NULL);
      break;
    }
}

static gboolean
client_take_token (Client *client)
{
  TincanServer *self = client->server;
  double burst;
  gint64 now;

  if (self->rate <= 0)
    return TRUE;

  burst = self->burst > 0 ? self->burst : MAX (1.0, ceil (2 * self->rate));
  now = g_get_monotonic_time ();
  if (client->refilled_us == 0)
    client->tokens = burst;
  else
    client->tokens = MIN (burst,
                          client->tokens +
                          (now - client->refilled_us) * self->rate / G_USEC_PER_SEC);
  client->refilled_us = now;

  if (client->tokens < 1.0)
    return FALSE;

  client->tokens -= 1.0;
  return TRUE;
}

static void
on_client_message (SoupWebsocketConnection *conn,
                   SoupWebsocketDataType    type,
                   GBytes                  *message,
                   gpointer                 user_data)
{
  Client *client = user_data;
  g_autoptr(TincanFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize length;

  if (client->closing)
    return;

  data = g_bytes_get_data (message, &length);
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    frame = tincan_v1_decode (data != NULL ? data : "", length, &error);

  if (!client_take_token (client))
    {
      client_send_error (client, "rate_limited", "too many frames, slow down",
                         frame != NULL ? frame->cid : NULL, NULL);
      return;
    }

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      client_send_error (client, "bad_request", "binary frames are not supported", NULL, NULL);
      return;
    }

  if (frame == NULL)
    {
      g_debug ("Bad frame from %s: %s", client->peer, error ? error->message : "?");
      client_send_error (client, "bad_request",
                         error ? error->message : "invalid frame", NULL, NULL);
      return;
    }

  client_handle_frame (client, frame);
}

/* Clients */

static void
client_free (Client *client)
{
  g_clear_signal_handler (&client->message_id, client->conn);
  g_clear_signal_handler (&client->closed_id, client->conn);
  g_clear_signal_handler (&client->error_id, client->conn);
  g_clear_object (&client->conn);
  g_clear_object (&client->socket);
  g_clear_pointer (&client->replies, g_ptr_array_unref);
  g_clear_pointer (&client->rooms, g_hash_table_unref);
  g_free (client->peer);
  g_free (client->user);
  g_free (client->session);
  g_free (client);
}

static void
server_remove_client (TincanServer *self,
                      Client       *client)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, client->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Room *room = value;

      g_hash_table_iter_remove (&iter);
      g_ptr_array_remove (room->members, client);
      room_send_presence (room, client, FALSE);
      server_maybe_drop_room (self, room);
    }

  for (guint i = 0; i < self->pending->len; i++)
    {
      Pending *pending = g_ptr_array_index (self->pending, i);

      if (pending->client == client)
        pending->client = NULL;
    }
  g_ptr_array_remove_fast (self->batch_clients, client);

  g_hash_table_remove (self->clients, client);
  g_signal_emit (self, signals[CLIENT_COUNT_CHANGED], 0, g_hash_table_size (self->clients));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CLIENTS]);
}

static void
on_client_closed (SoupWebsocketConnection *conn,
                  gpointer                 user_data)
{
  Client *client = user_data;
  TincanServer *self = client->server;

  g_message ("Client %s disconnected (close code %u, %u clients)",
             client->peer,
             soup_websocket_connection_get_close_code (conn),
             g_hash_table_size (self->clients) - 1);
  server_remove_client (self, client);
}

/* libsoup 3.2 drops the socket at once on a protocol error (an oversized
 * frame is WebSocket error 1009), before its close frame can leave, so
 * the peer may only see the connection go: the log says why. */
static void
on_client_error (SoupWebsocketConnection *conn,
                 GError                  *error,
                 gpointer                 user_data)
{
  Client *client = user_data;

  if (error->domain == SOUP_WEBSOCKET_ERROR)
    g_message ("Client %s: WebSocket error %d (%s), closing",
               client->peer, error->code,
               error->code == SOUP_WEBSOCKET_CLOSE_TOO_BIG ? "frame too large" : error->message);
  else
    g_debug ("Client %s: %s", client->peer, error->message);
}

/* Over max-clients the upgrade is refused before it happens: HTTP 503
 * with Retry-After, which clients treat as "try again later". */
static void
on_early_request (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  TincanServer *self = user_data;

  if (self->max_clients == 0 || g_hash_table_size (self->clients) < self->max_clients)
    return;

  g_message ("Refusing a client: %u clients already (--max-clients)",
             g_hash_table_size (self->clients));
  soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Retry-After", RETRY_AFTER_S);
}

/* Handshake deadline: a TCP connection that has not completed its HTTP
 * request (the WebSocket upgrade) within handshake-timeout seconds is
 * shut down, so slow or idle connections (slowloris) cannot pile up. */
typedef struct
{
  TincanServer      *server;
  SoupServerMessage *msg;
  guint              source;
} Handshake;

static void
handshake_free (gpointer data)
{
  Handshake *handshake = data;

  g_clear_handle_id (&handshake->source, g_source_remove);
  g_clear_object (&handshake->msg);
  g_free (handshake);
}

static gboolean
handshake_timeout_cb (gpointer user_data)
{
  Handshake *handshake = user_data;
  GSocket *socket = soup_server_message_get_socket (handshake->msg);

  handshake->source = 0;
  g_message ("Closing a connection that did not finish its handshake in %u s",
             handshake->server->handshake_timeout);
  /* Shut down, not closed: libsoup owns the socket and notices EOF. */
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  g_hash_table_remove (handshake->server->handshakes, handshake->msg);
  return G_SOURCE_REMOVE;
}

static void
on_request_started (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  TincanServer *self = user_data;
  Handshake *handshake;

  if (self->handshake_timeout == 0)
    return;

  handshake = g_new0 (Handshake, 1);
  handshake->server = self;
  handshake->msg = g_object_ref (msg);
  /* Not g_timeout_add_seconds (): its first tick may come up to a second early. */
  handshake->source = g_timeout_add (self->handshake_timeout * 1000, handshake_timeout_cb, handshake);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, handshake->source),
                            "[tincan-server] handshake timeout");
  g_hash_table_replace (self->handshakes, msg, handshake);
}

static void
on_request_done (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  TincanServer *self = user_data;

  g_hash_table_remove (self->handshakes, msg);
}

static void
on_websocket (SoupServer              *server,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *conn,
              gpointer                 user_data)
{
  TincanServer *self = user_data;
  GSocketAddress *address = soup_server_message_get_remote_address (msg);
  GSocket *socket = soup_server_message_get_socket (msg);
  Client *client;

  g_hash_table_remove (self->handshakes, msg);

  /* libsoup writes each frame with its own write(): with Nagle's
   * algorithm, a frame written while the previous one is unacknowledged
   * waits for the peer's (delayed) ACK, so a broadcast trickles out. */
  if (socket != NULL)
    g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  client = g_new0 (Client, 1);
  client->server = self;
  client->conn = g_object_ref (conn);
  client->socket = socket != NULL ? g_object_ref (socket) : NULL;
  client->rooms = g_hash_table_new (g_str_hash, g_str_equal);

  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      client->peer = g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (inet));
    }
  else
    {
      client->peer = g_strdup ("(unknown)");
    }

  /* libsoup answers an oversized frame with close code 1009 by itself. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, self->max_frame);
  soup_websocket_connection_set_keepalive_interval (conn, HEARTBEAT_SECONDS);

  client->message_id = g_signal_connect (conn, "message", G_CALLBACK (on_client_message), client);
  client->closed_id = g_signal_connect (conn, "closed", G_CALLBACK (on_client_closed), client);
  client->error_id = g_signal_connect (conn, "error", G_CALLBACK (on_client_error), client);
  g_hash_table_add (self->clients, client);

  g_message ("Client %s connected (%u clients)", client->peer, g_hash_table_size (self->clients));
  g_signal_emit (self, signals[CLIENT_COUNT_CHANGED], 0, g_hash_table_size (self->clients));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CLIENTS]);
}

/* Batches */

static gboolean
flush_cb (gpointer user_data)
{
  TincanServer *self = user_data;

  self->flush_id = 0;
  server_flush (self);
  return G_SOURCE_REMOVE;
}

/* Everything accepted in one main-loop turn is committed (with a
 * database) and sent in one flush, so a burst goes out in a few large
 * writes per client rather than one write per frame and recipient.
 * Without a database nothing waits for a commit: the flush runs in the
 * next turn even while input keeps coming. With one it runs when input
 * pauses, so a busy server commits (and fsyncs) larger batches. */
static void
server_schedule_flush (TincanServer *self)
{
  GSource *source;

  if (self->flush_id != 0)
    return;

  source = g_idle_source_new ();
  g_source_set_priority (source, self->db == NULL ? G_PRIORITY_DEFAULT : G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (source, flush_cb, self, NULL);
  g_source_set_static_name (source, "[tincan-server] flush");
  self->flush_id = g_source_attach (source, NULL);
  g_source_unref (source);
}

static void
server_count_batch_frame (TincanServer *self,
                          Client       *client)
{
  if (client->batch_frames++ == 0)
    g_ptr_array_add (self->batch_clients, client);
}

/* TCP_CORK holds a client's frames back until uncorked, so the kernel
 * sends them in full segments instead of one small segment (and one
 * wake-up of the peer) per frame: with hundreds of clients, per-frame
 * segments are most of the cost of a broadcast. */
static void
client_set_corked (Client  *client,
                   gboolean corked)
{
#ifdef TCP_CORK
  if (client->socket != NULL)
    g_socket_set_option (client->socket, IPPROTO_TCP, TCP_CORK, corked ? 1 : 0, NULL);
#endif
}

static void
server_flush (TincanServer *self)
{
  g_autoptr(GPtrArray) batch = NULL;

  g_clear_handle_id (&self->flush_id, g_source_remove);

  if (self->db != NULL &&
      (self->pending_inserts->len > 0 ||
       self->pending_msg_deletes->len > 0 ||
       self->pending_cid_deletes->len > 0))
    {
      g_autoptr(GError) error = NULL;

      if (!db_commit (self, &error))
        {
          /* Nothing of this batch is acked: retry later. */
          g_warning ("Cannot store messages: %s", error->message);
          self->flush_id = g_timeout_add (FLUSH_RETRY_MS, flush_cb, self);
          return;
        }
    }

  batch = g_steal_pointer (&self->pending);
  self->pending = g_ptr_array_new_with_free_func (pending_free);

  for (guint i = 0; i < batch->len; i++)
    {
      Pending *pending = g_ptr_array_index (batch, i);

      if (pending->msg != NULL)
        {
          Room *room = g_hash_table_lookup (self->rooms, pending->msg->room);

          room->committed_seq = MAX (room->committed_seq, pending->msg->seq);
        }
    }

  for (guint i = 0; i < batch->len; i++)
    {
      Pending *pending = g_ptr_array_index (batch, i);

      if (pending->client != NULL)
        server_count_batch_frame (self, pending->client);

      if (pending->msg != NULL)
        {
          Room *room = g_hash_table_lookup (self->rooms, pending->msg->room);

          for (guint j = 0; j < room->members->len; j++)
            server_count_batch_frame (self, g_ptr_array_index (room->members, j));
        }
    }

  for (guint i = 0; i < self->batch_clients->len; i++)
    {
      Client *client = g_ptr_array_index (self->batch_clients, i);

      if (client->batch_frames >= CORK_MIN_FRAMES && client_is_open (client))
        client_set_corked (client, TRUE);
      else
        client->batch_frames = 0;
    }

  /* Each message is encoded once; every recipient gets the same text. */
  for (guint i = 0; i < batch->len; i++)
    {
      Pending *pending = g_ptr_array_index (batch, i);

      if (pending->client != NULL)
        client_send_frame (pending->client, pending->ack);

      if (pending->msg != NULL)
        {
          Room *room = g_hash_table_lookup (self->rooms, pending->msg->room);
          g_autoptr(TincanFrame) frame = message_frame_new (pending->msg);

          room_broadcast (room, frame, NULL);
        }
    }

  for (guint i = 0; i < self->batch_clients->len; i++)
    {
      Client *client = g_ptr_array_index (self->batch_clients, i);

      if (client->batch_frames > 0)
        client_set_corked (client, FALSE);
      client->batch_frames = 0;
    }
  g_ptr_array_set_size (self->batch_clients, 0);
}

/* GObject */

static void
soup_server_close_and_unref (SoupServer *soup)
{
  soup_server_disconnect (soup);
  g_object_unref (soup);
}

static void
tincan_server_dispose (GObject *object)
{
  TincanServer *self = (TincanServer *) object;

  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_pointer (&self->handshakes, g_hash_table_unref);
  g_clear_pointer (&self->soup, soup_server_close_and_unref);
  g_clear_pointer (&self->clients, g_hash_table_unref);
  g_clear_object (&self->tls_certificate);

  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->pending_inserts, g_ptr_array_unref);
  g_clear_pointer (&self->pending_msg_deletes, g_ptr_array_unref);
  g_clear_pointer (&self->pending_cid_deletes, g_ptr_array_unref);
  g_clear_pointer (&self->batch_clients, g_ptr_array_unref);

  g_clear_pointer (&self->insert_msg, sqlite3_finalize);
  g_clear_pointer (&self->insert_cid, sqlite3_finalize);
  g_clear_pointer (&self->upsert_room, sqlite3_finalize);
  g_clear_pointer (&self->delete_msg, sqlite3_finalize);
  g_clear_pointer (&self->delete_cid, sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);

  G_OBJECT_CLASS (tincan_server_parent_class)->dispose (object);
}

static void
tincan_server_finalize (GObject *object)
{
  TincanServer *self = (TincanServer *) object;

  g_queue_clear (&self->dedup_order);
  g_hash_table_unref (self->dedup);
  g_hash_table_unref (self->rooms);
  g_free (self->token);
  g_free (self->db_path);
  g_free (self->uri);

  G_OBJECT_CLASS (tincan_server_parent_class)->finalize (object);
}

static void
tincan_server_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TincanServer *self = TINCAN_SERVER (object);

  switch (prop_id)
    {
    case PROP_MAX_FRAME:
      g_value_set_uint (value, self->max_frame);
      break;

    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;

    case PROP_BURST:
      g_value_set_uint (value, self->burst);
      break;

    case PROP_TOKEN:
      g_value_set_string (value, self->token);
      break;

    case PROP_HISTORY:
      g_value_set_uint (value, self->history);
      break;

    case PROP_DB_PATH:
      g_value_set_string (value, self->db_path);
      break;

    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->tls_certificate);
      break;

    case PROP_MAX_CLIENTS:
      g_value_set_uint (value, self->max_clients);
      break;

    case PROP_MAX_ROOMS:
      g_value_set_uint (value, self->max_rooms);
      break;

    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout);
      break;

    case PROP_DEFLATE:
      g_value_set_boolean (value, self->deflate);
      break;

    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;

    case PROP_URI:
      g_value_set_string (value, self->uri);
      break;

    case PROP_N_CLIENTS:
      g_value_set_uint (value, tincan_server_get_n_clients (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_uint_prop (TincanServer *self,
               guint        *field,
               guint         value,
               guint         prop_id)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
set_string_prop (TincanServer *self,
                 char        **field,
                 const char   *value,
                 guint         prop_id)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

static void
tincan_server_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TincanServer *self = TINCAN_SERVER (object);

  switch (prop_id)
    {
    case PROP_MAX_FRAME:
      set_uint_prop (self, &self->max_frame, g_value_get_uint (value), prop_id);
      break;

    case PROP_RATE:
      if (self->rate != g_value_get_double (value))
        {
          self->rate = g_value_get_double (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;

    case PROP_BURST:
      set_uint_prop (self, &self->burst, g_value_get_uint (value), prop_id);
      break;

    case PROP_TOKEN:
      set_string_prop (self, &self->token, g_value_get_string (value), prop_id);
      break;

    case PROP_HISTORY:
      set_uint_prop (self, &self->history, g_value_get_uint (value), prop_id);
      self->dedup_max = MAX (2 * self->history, MIN_DEDUP_ENTRIES);
      break;

    case PROP_DB_PATH:
      set_string_prop (self, &self->db_path, g_value_get_string (value), prop_id);
      break;

    case PROP_TLS_CERTIFICATE:
      if (g_set_object (&self->tls_certificate, g_value_get_object (value)))
        g_object_notify_by_pspec (object, pspec);
      break;

    case PROP_MAX_CLIENTS:
      set_uint_prop (self, &self->max_clients, g_value_get_uint (value), prop_id);
      break;

    case PROP_MAX_ROOMS:
      set_uint_prop (self, &self->max_rooms, g_value_get_uint (value), prop_id);
      break;

    case PROP_HANDSHAKE_TIMEOUT:
      set_uint_prop (self, &self->handshake_timeout, g_value_get_uint (value), prop_id);
      break;

    case PROP_DEFLATE:
      if (self->deflate != g_value_get_boolean (value))
        {
          self->deflate = g_value_get_boolean (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_server_class_init (TincanServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tincan_server_dispose;
  object_class->finalize = tincan_server_finalize;
  object_class->get_property = tincan_server_get_property;
  object_class->set_property = tincan_server_set_property;

  properties[PROP_MAX_FRAME] =
    g_param_spec_uint ("max-frame", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_MAX_FRAME,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_RATE] =
    g_param_spec_double ("rate", NULL, NULL,
                         0, G_MAXDOUBLE, 0,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* 0 means 2 × rate (at least 1). */
  properties[PROP_BURST] =
    g_param_spec_uint ("burst", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_TOKEN] =
    g_param_spec_string ("token", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_HISTORY] =
    g_param_spec_uint ("history", NULL, NULL,
                       0, G_MAXUINT / 2, DEFAULT_HISTORY,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_DB_PATH] =
    g_param_spec_string ("db-path", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* With a certificate the server speaks wss:// only. */
  properties[PROP_TLS_CERTIFICATE] =
    g_param_spec_object ("tls-certificate", NULL, NULL,
                         G_TYPE_TLS_CERTIFICATE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* 0 = unlimited. Over the limit a client is closed with 1013 (try again later). */
  properties[PROP_MAX_CLIENTS] =
    g_param_spec_uint ("max-clients", NULL, NULL,
                       0, G_MAXUINT, DEFAULT_MAX_CLIENTS,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* 0 = unlimited; the lobby counts. Over it: error too_many_rooms. */
  properties[PROP_MAX_ROOMS] =
    g_param_spec_uint ("max-rooms", NULL, NULL,
                       0, G_MAXUINT, DEFAULT_MAX_ROOMS,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* Seconds a connection has to complete its HTTP request; 0 = forever. */
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("handshake-timeout", NULL, NULL,
                       0, 3600, DEFAULT_HANDSHAKE_S,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* Offer permessage-deflate (RFC 7692). Off by default: each frame is
   * compressed once per recipient, which a broadcast pays per member. */
  properties[PROP_DEFLATE] =
    g_param_spec_boolean ("deflate", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL,
                       0, G_MAXUINT16, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_URI] =
    g_param_spec_string ("uri", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_N_CLIENTS] =
    g_param_spec_uint ("n-clients", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CLIENT_COUNT_CHANGED] =
    g_signal_new ("client-count-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
tincan_server_init (TincanServer *self)
{
  self->max_frame = DEFAULT_MAX_FRAME;
  self->history = DEFAULT_HISTORY;
  self->max_clients = DEFAULT_MAX_CLIENTS;
  self->max_rooms = DEFAULT_MAX_ROOMS;
  self->handshake_timeout = DEFAULT_HANDSHAKE_S;
  self->handshakes = g_hash_table_new_full (NULL, NULL, NULL, handshake_free);
  self->dedup_max = MAX (2 * DEFAULT_HISTORY, MIN_DEDUP_ENTRIES);
  self->clients = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) client_free, NULL);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, room_free);
  self->dedup = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, dedup_free);
  g_queue_init (&self->dedup_order);
  self->pending = g_ptr_array_new_with_free_func (pending_free);
  self->pending_inserts = g_ptr_array_new_with_free_func (msg_unref);
  self->pending_msg_deletes = g_ptr_array_new_with_free_func (msg_unref);
  self->pending_cid_deletes = g_ptr_array_new_with_free_func (g_free);
  self->batch_clients = g_ptr_array_new ();
}

TincanServer *
tincan_server_new (void)
{
  return g_object_new (TINCAN_TYPE_SERVER, NULL);
}

static GInetAddress *
resolve_host (const char  *host,
              GError     **error)
{
  g_autoptr(GResolver) resolver = NULL;
  GList *addresses;
  GInetAddress *address;

  address = g_inet_address_new_from_string (host);
  if (address != NULL)
    return address;

  /* Only at start-up, before the main loop serves anyone. */
  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (addresses == NULL)
    return NULL;

  address = g_object_ref (addresses->data);
  g_resolver_free_addresses (addresses);
  return address;
}

/**
 * tincan_server_listen:
 * @host: (nullable): address or name to bind, default 127.0.0.1
 * @port: TCP port, 0 for any free port
 *
 * Opens the database (if #TincanServer:db-path is set) and starts
 * serving ws://HOST:PORT/ws.
 */
gboolean
tincan_server_listen (TincanServer  *self,
                      const char    *host,
                      guint          port,
                      GError       **error)
{
  const char *protocols[] = { TINCAN_V1_SUBPROTOCOL, NULL };
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(SoupServer) soup = NULL;
  g_autoptr(GSocket) listen_socket = NULL;
  guint bound_port;

  g_return_val_if_fail (TINCAN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (port <= G_MAXUINT16, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->soup != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY, "The server is already listening");
      return FALSE;
    }

  if (host == NULL)
    host = "127.0.0.1";

  address = resolve_host (host, error);
  if (address == NULL)
    return FALSE;

  if (self->db_path != NULL && self->db == NULL && !db_open (self, error))
    return FALSE;

  server_ensure_room (self, LOBBY);

  soup = soup_server_new ("server-header", "tincan-server/" PACKAGE_VERSION " ",
                          "tls-certificate", self->tls_certificate,
                          NULL);
  g_signal_connect_object (soup, "request-started", G_CALLBACK (on_request_started), self, 0);
  g_signal_connect_object (soup, "request-finished", G_CALLBACK (on_request_done), self, 0);
  g_signal_connect_object (soup, "request-aborted", G_CALLBACK (on_request_done), self, 0);
  /* SoupServer offers permessage-deflate by default. It compresses each
   * frame separately for each recipient (every connection has its own
   * zlib stream), so a broadcast costs a deflate per member: at a few
   * hundred clients that was most of the server's time. Opt-in. */
  if (!self->deflate)
    soup_server_remove_websocket_extension (soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_early_handler (soup, "/ws", on_early_request, self, NULL);
  soup_server_add_websocket_handler (soup, "/ws", NULL, (char **) protocols,
                                     on_websocket, self, NULL);

  /* Our own socket for a deep accept queue: GSocket's default backlog
   * of 10 drops SYNs when hundreds of clients connect at once. */
  bind_address = g_inet_socket_address_new (address, port);
  listen_socket = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (listen_socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (listen_socket, LISTEN_BACKLOG);
  if (!g_socket_bind (listen_socket, bind_address, TRUE, error) ||
      !g_socket_listen (listen_socket, error) ||
      !soup_server_listen_socket (soup, listen_socket,
                                  self->tls_certificate != NULL ? SOUP_SERVER_LISTEN_HTTPS : 0,
                                  error))
    return FALSE;

  local = g_socket_get_local_address (listen_socket, error);
  if (local == NULL)
    {
      soup_server_disconnect (soup);
      return FALSE;
    }
  bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  self->soup = g_steal_pointer (&soup);
  self->port = bound_port;
  g_free (self->uri);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 && strchr (host, ':') != NULL)
    self->uri = g_strdup_printf ("%s://[%s]:%u/ws", self->tls_certificate != NULL ? "wss" : "ws",
                                 host, bound_port);
  else
    self->uri = g_strdup_printf ("%s://%s:%u/ws", self->tls_certificate != NULL ? "wss" : "ws",
                                 host, bound_port);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_URI]);

  return TRUE;
}

/**
 * tincan_server_stop:
 *
 * Stops listening, commits what is pending and closes every client with
 * 1001. Clients leave (and #TincanServer::client-count-changed fires) as
 * their connections finish closing.
 */
void
tincan_server_stop (TincanServer *self)
{
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (TINCAN_IS_SERVER (self));

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_hash_table_remove_all (self->handshakes);

  if (self->pending->len > 0 || self->pending_inserts->len > 0)
    server_flush (self);

  /* Closing never removes a client synchronously ("closed" comes later),
   * so iterating the table here is safe. */
  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Client *client = key;

      client_close (client, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
    }
}

guint
tincan_server_get_port (TincanServer *self)
{
  g_return_val_if_fail (TINCAN_IS_SERVER (self), 0);

  return self->port;
}

const char *
tincan_server_get_uri (TincanServer *self)
{
  g_return_val_if_fail (TINCAN_IS_SERVER (self), NULL);

  return self->uri;
}

guint
tincan_server_get_n_clients (TincanServer *self)
{
  g_return_val_if_fail (TINCAN_IS_SERVER (self), 0);

  return self->clients != NULL ? g_hash_table_size (self->clients) : 0;
}

/* Tests and fuzzing (tincan-server-private.h): clients without a socket. */

TincanServerTestClient *
_tincan_server_add_test_client (TincanServer *self,
                                const char   *peer,
                                GPtrArray    *replies)
{
  Client *client;

  g_return_val_if_fail (TINCAN_IS_SERVER (self), NULL);
  g_return_val_if_fail (replies != NULL, NULL);

  client = g_new0 (Client, 1);
  client->server = self;
  client->replies = g_ptr_array_ref (replies);
  client->rooms = g_hash_table_new (g_str_hash, g_str_equal);
  client->peer = g_strdup (peer != NULL ? peer : "(test)");
  g_hash_table_add (self->clients, client);
  g_signal_emit (self, signals[CLIENT_COUNT_CHANGED], 0, g_hash_table_size (self->clients));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CLIENTS]);

  return client;
}

static void
test_client_handle (Client                *client,
                    SoupWebsocketDataType  type,
                    const void            *data,
                    gsize                  length)
{
  g_autoptr(GBytes) message = g_bytes_new (data, length);

  g_return_if_fail (client != NULL && client->conn == NULL);

  on_client_message (NULL, type, message, client);
}

void
_tincan_server_client_handle_text (TincanServerTestClient *client,
                                   const char             *data,
                                   gsize                   length)
{
  test_client_handle (client, SOUP_WEBSOCKET_DATA_TEXT, data, length);
}

void
_tincan_server_client_handle_binary (TincanServerTestClient *client,
                                     const guint8           *data,
                                     gsize                   length)
{
  test_client_handle (client, SOUP_WEBSOCKET_DATA_BINARY, data, length);
}

void
_tincan_server_remove_test_client (TincanServer           *self,
                                   TincanServerTestClient *client)
{
  g_return_if_fail (TINCAN_IS_SERVER (self));
  g_return_if_fail (client != NULL && client->conn == NULL);

  server_remove_client (self, client);
}

void
_tincan_server_flush (TincanServer *self)
{
  g_return_if_fail (TINCAN_IS_SERVER (self));

  server_flush (self);
}
