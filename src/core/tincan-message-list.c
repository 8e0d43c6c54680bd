/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-message-list"

#include "config.h"

#include "tincan-message-list.h"

struct _TincanMessageList
{
  GObject           parent_instance;

  TincanConnection *connection;
  char             *room;
  guint             page_size;
  guint             max_size;
  guint             tail_size;

  /* The window, oldest first. */
  GPtrArray        *items;
  /* Messages that arrived this main-loop turn, not yet in @items. */
  GPtrArray        *pending;
  /* The same messages as a set: "already queued?" in O(1) even when a
   * flood queues thousands in one turn. */
  GHashTable       *pending_set;
  /* cid → TincanMessage (borrowed from @items or @pending). */
  GHashTable       *by_cid;
  /* Exclusive upper bound for the next older page (0 = nothing loaded). */
  gint64            older_than_seq;
  /* Exclusive lower bound for the next newer page, while has-newer. */
  gint64            newer_than_seq;
  guint             flush_id;
  guint             caught_up_flush_id;  /* the same batch, sooner when nothing else waits */
  gint64            last_flush_us;   /* monotonic, the previous items-changed of a batch */
  gint64            flush_cost_us;   /* what the view spent on that batch, in items-changed */

  guint             has_more : 1;
  guint             has_newer : 1;
  guint             loading : 1;
  guint             loaded : 1;
};

enum {
  PROP_0,
  PROP_CONNECTION,
  PROP_ROOM,
  PROP_PAGE_SIZE,
  PROP_MAX_SIZE,
  PROP_TAIL_SIZE,
  PROP_HAS_MORE,
  PROP_HAS_NEWER,
  PROP_LOADING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanMessageList, tincan_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
tincan_message_list_get_item_type (GListModel *model)
{
  return TINCAN_TYPE_MESSAGE;
}

static guint
tincan_message_list_get_n_items (GListModel *model)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (model);

  return self->items->len;
}

static gpointer
tincan_message_list_get_item (GListModel *model,
                              guint       position)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (model);

  if (position >= self->items->len)
    return NULL;

  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = tincan_message_list_get_item_type;
  iface->get_n_items = tincan_message_list_get_n_items;
  iface->get_item = tincan_message_list_get_item;
}

static void
set_has_more (TincanMessageList *self,
              gboolean           has_more)
{
  has_more = !!has_more;
  if (self->has_more == has_more)
    return;
  self->has_more = has_more;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MORE]);
}

static void
set_has_newer (TincanMessageList *self,
               gboolean           has_newer)
{
  has_newer = !!has_newer;
  if (self->has_newer == has_newer)
    return;
  self->has_newer = has_newer;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_NEWER]);
}

static void
set_loading (TincanMessageList *self,
             gboolean           loading)
{
  loading = !!loading;
  if (self->loading == loading)
    return;
  self->loading = loading;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
index_message (TincanMessageList *self,
               TincanMessage     *message)
{
  const char *cid = tincan_message_get_cid (message);

  if (cid != NULL && *cid != '\0')
    g_hash_table_insert (self->by_cid, g_strdup (cid), message);
}

static void
unindex_message (TincanMessageList *self,
                 TincanMessage     *message)
{
  const char *cid = tincan_message_get_cid (message);

  if (cid != NULL && g_hash_table_lookup (self->by_cid, cid) == message)
    g_hash_table_remove (self->by_cid, cid);
}

/* Removes the @n oldest items, keeping track of where older pages start. */
static void
drop_oldest (TincanMessageList *self,
             guint              n)
{
  gint64 max_removed_seq = 0;
  gboolean found = FALSE;

  if (n == 0)
    return;

  for (guint i = 0; i < n; i++)
    {
      TincanMessage *message = g_ptr_array_index (self->items, i);
      gint64 seq = tincan_message_get_seq (message);

      if (seq > max_removed_seq)
        max_removed_seq = seq;
      unindex_message (self, message);
    }

  g_ptr_array_remove_range (self->items, 0, n);

  for (guint i = 0; i < self->items->len; i++)
    {
      gint64 seq = tincan_message_get_seq (g_ptr_array_index (self->items, i));

      if (seq > 0)
        {
          self->older_than_seq = seq;
          found = TRUE;
          break;
        }
    }

  if (!found && max_removed_seq > 0)
    self->older_than_seq = max_removed_seq + 1;

  if (max_removed_seq > 0)
    set_has_more (self, TRUE);

  g_list_model_items_changed (G_LIST_MODEL (self), 0, n, 0);
}

/* Forgets the @n oldest pending messages: a batch bigger than the window
 * would only be appended to be trimmed again at once. */
static void
drop_oldest_pending (TincanMessageList *self,
                     guint              n)
{
  gint64 max_removed_seq = 0;

  for (guint i = 0; i < n; i++)
    {
      TincanMessage *message = g_ptr_array_index (self->pending, i);

      max_removed_seq = MAX (max_removed_seq, tincan_message_get_seq (message));
      unindex_message (self, message);
      g_hash_table_remove (self->pending_set, message);
    }
  g_ptr_array_remove_range (self->pending, 0, n);

  if (max_removed_seq > 0)
    {
      set_has_more (self, TRUE);
      /* Older pages start below what is left (or below what was dropped). */
      if (self->items->len == 0)
        self->older_than_seq = 0;
      for (guint i = 0; i < self->pending->len && self->items->len == 0; i++)
        {
          gint64 seq = tincan_message_get_seq (g_ptr_array_index (self->pending, i));

          if (seq > 0)
            {
              self->older_than_seq = seq;
              break;
            }
        }
      if (self->items->len == 0 && self->older_than_seq == 0)
        self->older_than_seq = max_removed_seq + 1;
    }
}

/* Forgets every message that arrived but is not in @items yet. */
static void
clear_pending (TincanMessageList *self)
{
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->caught_up_flush_id, g_source_remove);
  for (guint i = 0; i < self->pending->len; i++)
    unindex_message (self, g_ptr_array_index (self->pending, i));
  g_ptr_array_set_size (self->pending, 0);
  g_hash_table_remove_all (self->pending_set);
}

/* Removes the @n newest items (and any unsequenced ones left at the end):
 * the window moved up, the newest messages stay in the store and come
 * back with load_newer(). Live messages are not appended meanwhile. */
static void
drop_newest (TincanMessageList *self,
             guint              n)
{
  guint old_len = self->items->len;
  guint keep;

  if (n == 0)
    return;

  keep = old_len - MIN (n, old_len);
  while (keep > 0 && tincan_message_get_seq (g_ptr_array_index (self->items, keep - 1)) <= 0)
    keep--;
  if (keep == 0)
    return;

  for (guint i = keep; i < old_len; i++)
    unindex_message (self, g_ptr_array_index (self->items, i));
  g_ptr_array_remove_range (self->items, keep, old_len - keep);
  clear_pending (self);

  self->newer_than_seq = tincan_message_get_seq (g_ptr_array_index (self->items, keep - 1));
  set_has_newer (self, TRUE);

  g_list_model_items_changed (G_LIST_MODEL (self), keep, old_len - keep, 0);
}

/* A batch shows up in the next main-loop turn; in a flood, at most every
 * FLOOD_INTERVAL_US, so the view builds its rows at a pace it can draw
 * (each batch costs it up to tail-size new rows). A batch that cost the
 * view a lot spaces the next one further: FLOOD_COST_FACTOR times as long
 * as its items-changed took (at most FLOOD_INTERVAL_MAX_US). Creating the
 * rows there is about half of what the view spends on a batch, measuring
 * and drawing them the rest, so the view's share of the main thread stays
 * near an eighth, on a slow or busy machine too, and the rest is left for
 * receiving, drawing and input. The user's own messages never wait. */
#define FLOOD_INTERVAL_US     (100 * 1000)
#define FLOOD_INTERVAL_MAX_US (500 * 1000)
#define FLOOD_COST_FACTOR     16

/* When the main loop has nothing else to do (no frame waiting, no input,
 * no drawing), the batch need not wait out FLOOD_INTERVAL_US: the spacing
 * by cost alone keeps the view's share as low, and at least a frame
 * apart. So the last batch of a flood shows once the flood is handled,
 * not up to FLOOD_INTERVAL_US later; while the flood lasts there is
 * rarely a moment with nothing else to do. */
#define FLOOD_CAUGHT_UP_MIN_US (16 * 1000)

/* How many items the list keeps (0: no limit). */
static guint
window_limit (TincanMessageList *self)
{
  return self->tail_size > 0 ? MIN (self->tail_size, self->max_size) : self->max_size;
}

static gboolean
flush_pending (gpointer user_data)
{
  TincanMessageList *self = user_data;
  guint position;
  guint added;
  guint excess = 0;
  guint limit = window_limit (self);

  self->flush_id = 0;
  g_clear_handle_id (&self->caught_up_flush_id, g_source_remove);

  if (self->pending->len == 0)
    return G_SOURCE_REMOVE;

  self->last_flush_us = g_get_monotonic_time ();

  /* Trim in the same batch: what would not survive it never enters. */
  if (limit > 0 && self->pending->len > limit)
    drop_oldest_pending (self, self->pending->len - limit);
  if (limit > 0 && self->items->len + self->pending->len > limit)
    excess = MIN (self->items->len, self->items->len + self->pending->len - limit);

  position = self->items->len;
  added = self->pending->len;
  g_ptr_array_extend_and_steal (self->items, g_steal_pointer (&self->pending));
  self->pending = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_remove_all (self->pending_set);

  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, added);

  if (excess > 0)
    drop_oldest (self, excess);

  /* What the view did with it, rows built and dropped (GTK 4.8 does that
   * in items-changed; later versions at the next layout, not seen here). */
  self->flush_cost_us = g_get_monotonic_time () - self->last_flush_us;

  return G_SOURCE_REMOVE;
}

static gboolean
flush_caught_up (gpointer user_data)
{
  TincanMessageList *self = user_data;

  self->caught_up_flush_id = 0;
  g_clear_handle_id (&self->flush_id, g_source_remove);
  flush_pending (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_flush (TincanMessageList *self,
                gboolean           now)
{
  gint64 interval_us = CLAMP (FLOOD_COST_FACTOR * self->flush_cost_us,
                              FLOOD_INTERVAL_US, FLOOD_INTERVAL_MAX_US);
  gint64 wait_us = self->last_flush_us + interval_us - g_get_monotonic_time ();

  if (self->flush_id != 0 && !now)
    return;

  if (now || wait_us <= 0)
    {
      g_clear_handle_id (&self->flush_id, g_source_remove);
      self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush_pending, self, NULL);
    }
  else
    {
      gint64 caught_up_wait_us = self->last_flush_us - g_get_monotonic_time () +
                                 MAX (FLOOD_CAUGHT_UP_MIN_US, FLOOD_COST_FACTOR * self->flush_cost_us);

      self->flush_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) ((wait_us + 999) / 1000),
                                           flush_pending, self, NULL);
      /* Dispatched only when no source of a higher priority is ready. */
      g_clear_handle_id (&self->caught_up_flush_id, g_source_remove);
      self->caught_up_flush_id = g_timeout_add_full (G_PRIORITY_LOW,
                                                     (guint) ((MAX (caught_up_wait_us, 0) + 999) / 1000),
                                                     flush_caught_up, self, NULL);
    }
}

static gboolean
contains_message (TincanMessageList *self,
                  TincanMessage     *message)
{
  const char *cid = tincan_message_get_cid (message);

  if (cid != NULL && *cid != '\0')
    return g_hash_table_contains (self->by_cid, cid);

  /* Incoming messages without a cid: the connection deduplicates; we only
   * guard against the very same object being queued twice. */
  return g_hash_table_contains (self->pending_set, message);
}

static void
queue_message (TincanMessageList *self,
               TincanMessage     *message)
{
  guint limit;

  if (g_strcmp0 (tincan_message_get_room (message), self->room) != 0)
    return;

  /* The window shows older history: the message is in the store and
   * load_newer() brings it when the window gets there. */
  if (self->has_newer)
    return;

  if (contains_message (self, message))
    return;

  g_ptr_array_add (self->pending, g_object_ref (message));
  g_hash_table_add (self->pending_set, message);
  index_message (self, message);

  /* In a flood, a batch gathers far more than the window keeps (15 000
   * messages in 100 ms at 150 000 a second, for a window of 1 000). The
   * ones the flush would drop go now, while they are still in the CPU's
   * caches, a quarter window at a time: the list holds little more than a
   * window, and its tables stay small. */
  limit = window_limit (self);
  if (limit > 0 && self->pending->len >= limit + MAX (limit / 4, 16))
    drop_oldest_pending (self, self->pending->len - limit);

  schedule_flush (self, tincan_message_is_outgoing (message));
}

static void
on_message_received (TincanMessageList *self,
                     TincanMessage     *message,
                     TincanConnection  *connection)
{
  queue_message (self, message);
}

static void reset_to_latest (TincanMessageList *self);

static void
on_message_queued (TincanMessageList *self,
                   TincanMessage     *message,
                   TincanConnection  *connection)
{
  /* Sending from far up the history: the user wants to see it, so the
   * window goes back to the newest messages (the send is already in the
   * outbox, hence among them). */
  if (self->has_newer && g_strcmp0 (tincan_message_get_room (message), self->room) == 0)
    reset_to_latest (self);

  queue_message (self, message);
}

/* The connection updates its own objects; when the window holds another
 * instance of the same message (loaded from the store), mirror the change. */
static void
on_message_updated (TincanMessageList *self,
                    TincanMessage     *message,
                    TincanConnection  *connection)
{
  const char *cid = tincan_message_get_cid (message);
  TincanMessage *ours;

  if (cid == NULL || g_strcmp0 (tincan_message_get_room (message), self->room) != 0)
    return;

  ours = g_hash_table_lookup (self->by_cid, cid);
  if (ours == NULL || ours == message)
    return;

  if (tincan_message_get_id (message) != NULL)
    tincan_message_set_id (ours, tincan_message_get_id (message));
  if (tincan_message_get_seq (message) > 0)
    tincan_message_set_seq (ours, tincan_message_get_seq (message));
  if (tincan_message_get_timestamp (message) > 0)
    tincan_message_set_timestamp (ours, tincan_message_get_timestamp (message));

  if (tincan_message_get_state (message) == TINCAN_MESSAGE_STATE_FAILED)
    tincan_message_set_failed (ours, tincan_message_get_reason (message));
  else
    tincan_message_set_state (ours, tincan_message_get_state (message));
}

static void
on_message_discarded (TincanMessageList *self,
                      TincanMessage     *message,
                      TincanConnection  *connection)
{
  if (g_strcmp0 (tincan_message_get_room (message), self->room) == 0)
    tincan_message_list_remove_message (self, message);
}

/* Loads up to page-size messages older than @before_seq (0 = newest),
 * returned OLDEST FIRST; updates has-more. */
static GPtrArray *
load_page (TincanMessageList *self,
           gint64             before_seq)
{
  TincanStore *store = tincan_connection_get_store (self->connection);
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *result;

  result = g_ptr_array_new_with_free_func (g_object_unref);

  if (store == NULL || self->page_size == 0)
    return result;

  /* One more than a page tells whether anything older remains. */
  page = tincan_store_load_page (store, self->room, before_seq, self->page_size + 1, &error);
  if (page == NULL)
    {
      g_warning ("Cannot load messages of a room: %s", error->message);
      return result;
    }

  set_has_more (self, page->len > self->page_size);

  for (guint i = MIN (page->len, self->page_size); i > 0; i--)
    g_ptr_array_add (result, g_object_ref (g_ptr_array_index (page, i - 1)));

  if (result->len > 0)
    self->older_than_seq = tincan_message_get_seq (g_ptr_array_index (result, 0));

  return result;
}

static void
load_initial (TincanMessageList *self)
{
  TincanStore *store = tincan_connection_get_store (self->connection);
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GPtrArray) unsequenced = NULL;
  g_autoptr (GError) error = NULL;

  page = load_page (self, 0);
  for (guint i = 0; i < page->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (page, i);

      g_ptr_array_add (self->items, g_object_ref (message));
      index_message (self, message);
    }

  if (store == NULL)
    return;

  unsequenced = tincan_store_load_unsequenced (store, self->room, &error);
  if (unsequenced == NULL)
    {
      g_warning ("Cannot load unsent messages of a room: %s", error->message);
      return;
    }

  for (guint i = 0; i < unsequenced->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (unsequenced, i);

      if (contains_message (self, message))
        continue;
      g_ptr_array_add (self->items, g_object_ref (message));
      index_message (self, message);
    }
}

/* Replaces the window with the newest page (and the unsent messages). */
static void
reset_to_latest (TincanMessageList *self)
{
  guint removed = self->items->len;

  set_loading (self, TRUE);
  clear_pending (self);
  g_ptr_array_set_size (self->items, 0);
  g_hash_table_remove_all (self->by_cid);
  self->older_than_seq = 0;
  self->newer_than_seq = 0;
  set_has_newer (self, FALSE);
  load_initial (self);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, self->items->len);
  set_loading (self, FALSE);
}

static void
tincan_message_list_constructed (GObject *object)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (object);

  G_OBJECT_CLASS (tincan_message_list_parent_class)->constructed (object);

  g_return_if_fail (TINCAN_IS_CONNECTION (self->connection));
  g_return_if_fail (self->room != NULL);

  load_initial (self);
  self->loaded = TRUE;

  g_signal_connect_object (self->connection, "message-received",
                           G_CALLBACK (on_message_received), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "message-queued",
                           G_CALLBACK (on_message_queued), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->connection, "message-updated",
                           G_CALLBACK (on_message_updated), self, G_CONNECT_SWAPPED);
  /* Not in every version of the connection's API. */
  if (g_signal_lookup ("message-discarded", TINCAN_TYPE_CONNECTION) != 0)
    g_signal_connect_object (self->connection, "message-discarded",
                             G_CALLBACK (on_message_discarded), self, G_CONNECT_SWAPPED);
}

static void
tincan_message_list_dispose (GObject *object)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (object);

  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->caught_up_flush_id, g_source_remove);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (tincan_message_list_parent_class)->dispose (object);
}

static void
tincan_message_list_finalize (GObject *object)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (object);

  g_clear_pointer (&self->by_cid, g_hash_table_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->pending_set, g_hash_table_unref);
  g_clear_pointer (&self->room, g_free);

  G_OBJECT_CLASS (tincan_message_list_parent_class)->finalize (object);
}

static void
tincan_message_list_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      g_value_set_object (value, self->connection);
      break;

    case PROP_ROOM:
      g_value_set_string (value, self->room);
      break;

    case PROP_PAGE_SIZE:
      g_value_set_uint (value, self->page_size);
      break;

    case PROP_MAX_SIZE:
      g_value_set_uint (value, self->max_size);
      break;

    case PROP_TAIL_SIZE:
      g_value_set_uint (value, self->tail_size);
      break;

    case PROP_HAS_MORE:
      g_value_set_boolean (value, self->has_more);
      break;

    case PROP_HAS_NEWER:
      g_value_set_boolean (value, self->has_newer);
      break;

    case PROP_LOADING:
      g_value_set_boolean (value, self->loading);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_message_list_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  TincanMessageList *self = TINCAN_MESSAGE_LIST (object);

  switch (prop_id)
    {
    case PROP_CONNECTION:
      self->connection = g_value_dup_object (value);
      break;

    case PROP_ROOM:
      self->room = g_value_dup_string (value);
      break;

    case PROP_PAGE_SIZE:
      if (self->page_size != g_value_get_uint (value))
        {
          self->page_size = g_value_get_uint (value);
          if (self->loaded)
            g_object_notify_by_pspec (object, pspec);
        }
      break;

    case PROP_MAX_SIZE:
      if (self->max_size != g_value_get_uint (value))
        {
          self->max_size = g_value_get_uint (value);
          if (self->loaded)
            g_object_notify_by_pspec (object, pspec);
        }
      break;

    case PROP_TAIL_SIZE:
      if (self->tail_size != g_value_get_uint (value))
        {
          self->tail_size = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;

    case PROP_LOADING:
      set_loading (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_message_list_class_init (TincanMessageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = tincan_message_list_constructed;
  object_class->dispose = tincan_message_list_dispose;
  object_class->finalize = tincan_message_list_finalize;
  object_class->get_property = tincan_message_list_get_property;
  object_class->set_property = tincan_message_list_set_property;

  properties[PROP_CONNECTION] =
    g_param_spec_object ("connection", NULL, NULL,
                         TINCAN_TYPE_CONNECTION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_ROOM] =
    g_param_spec_string ("room", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /* Construct properties so that the first page honours them. */
  properties[PROP_PAGE_SIZE] =
    g_param_spec_uint ("page-size", NULL, NULL,
                       1, G_MAXUINT, 100,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  properties[PROP_MAX_SIZE] =
    g_param_spec_uint ("max-size", NULL, NULL,
                       1, G_MAXUINT, 1000,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  properties[PROP_TAIL_SIZE] =
    g_param_spec_uint ("tail-size", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_HAS_MORE] =
    g_param_spec_boolean ("has-more", NULL, NULL,
                          FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_HAS_NEWER] =
    g_param_spec_boolean ("has-newer", NULL, NULL,
                          FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tincan_message_list_init (TincanMessageList *self)
{
  self->page_size = 100;
  self->max_size = 1000;
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_set = g_hash_table_new (NULL, NULL);
  self->by_cid = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * tincan_message_list_new:
 * @connection: the connection whose store and signals feed the list
 * @room: the room
 *
 * Returns: (transfer full): a list holding the newest page of @room
 */
TincanMessageList *
tincan_message_list_new (TincanConnection *connection,
                         const char       *room)
{
  g_return_val_if_fail (TINCAN_IS_CONNECTION (connection), NULL);
  g_return_val_if_fail (room != NULL, NULL);

  return g_object_new (TINCAN_TYPE_MESSAGE_LIST,
                       "connection", connection,
                       "room", room,
                       NULL);
}

const char *
tincan_message_list_get_room (TincanMessageList *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), NULL);

  return self->room;
}

gboolean
tincan_message_list_get_has_more (TincanMessageList *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), FALSE);

  return self->has_more;
}

gboolean
tincan_message_list_get_has_newer (TincanMessageList *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), FALSE);

  return self->has_newer;
}

gboolean
tincan_message_list_get_loading (TincanMessageList *self)
{
  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), FALSE);

  return self->loading;
}

guint
tincan_message_list_load_older (TincanMessageList *self)
{
  g_autoptr (GPtrArray) page = NULL;
  guint added = 0;

  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), 0);

  if (!self->has_more || self->loading || self->older_than_seq <= 1)
    return 0;

  set_loading (self, TRUE);

  page = load_page (self, self->older_than_seq);

  for (guint i = 0; i < page->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (page, i);
      const char *cid = tincan_message_get_cid (message);

      /* A message already in the window (e.g. a live one that raced the
       * page) is not shown twice. */
      if (cid != NULL && *cid != '\0' && g_hash_table_contains (self->by_cid, cid))
        continue;

      g_ptr_array_insert (self->items, added++, g_object_ref (message));
      index_message (self, message);
    }

  if (added > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, added);

  /* Never the whole history in memory: paging up past max-size lets go
   * of the newest messages instead. */
  if (self->items->len > self->max_size)
    drop_newest (self, self->items->len - self->max_size);

  set_loading (self, FALSE);

  return added;
}

guint
tincan_message_list_load_newer (TincanMessageList *self)
{
  TincanStore *store;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GPtrArray) unsequenced = NULL;
  g_autoptr (GError) error = NULL;
  guint position;
  guint added = 0;
  gboolean at_end;

  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), 0);

  store = tincan_connection_get_store (self->connection);
  if (!self->has_newer || self->loading || store == NULL)
    return 0;

  set_loading (self, TRUE);

  /* One more than a page tells whether this reaches the newest. */
  page = tincan_store_load_page_after (store, self->room, self->newer_than_seq,
                                       self->page_size + 1, &error);
  if (page == NULL)
    {
      g_warning ("Cannot load messages of a room: %s", error->message);
      set_loading (self, FALSE);
      return 0;
    }

  at_end = page->len <= self->page_size;
  if (!at_end)
    g_ptr_array_set_size (page, self->page_size);

  if (at_end)
    {
      unsequenced = tincan_store_load_unsequenced (store, self->room, &error);
      if (unsequenced == NULL)
        g_warning ("Cannot load unsent messages of a room: %s", error->message);
      else
        g_ptr_array_extend (page, unsequenced, (GCopyFunc) g_object_ref, NULL);
    }

  position = self->items->len;
  for (guint i = 0; i < page->len; i++)
    {
      TincanMessage *message = g_ptr_array_index (page, i);

      if (contains_message (self, message))
        continue;
      g_ptr_array_add (self->items, g_object_ref (message));
      index_message (self, message);
      added++;
    }

  for (guint i = page->len; i > 0; i--)
    {
      gint64 seq = tincan_message_get_seq (g_ptr_array_index (page, i - 1));

      if (seq > 0)
        {
          self->newer_than_seq = seq;
          break;
        }
    }
  if (at_end)
    {
      self->newer_than_seq = 0;
      set_has_newer (self, FALSE);
    }

  if (added > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), position, 0, added);

  if (self->items->len > self->max_size)
    drop_oldest (self, self->items->len - self->max_size);

  set_loading (self, FALSE);

  return added;
}

void
tincan_message_list_trim_to_latest (TincanMessageList *self)
{
  g_return_if_fail (TINCAN_IS_MESSAGE_LIST (self));

  if (self->has_newer)
    reset_to_latest (self);
  else if (self->items->len > self->page_size)
    drop_oldest (self, self->items->len - self->page_size);
}

/**
 * tincan_message_list_remove_message:
 * @self: a list
 * @message: a message of the window (e.g. one just discarded)
 *
 * Takes @message (or the item with the same cid) out of the window.
 *
 * Returns: %TRUE if it was there
 */
gboolean
tincan_message_list_remove_message (TincanMessageList *self,
                                    TincanMessage     *message)
{
  const char *cid;
  guint position;

  g_return_val_if_fail (TINCAN_IS_MESSAGE_LIST (self), FALSE);
  g_return_val_if_fail (TINCAN_IS_MESSAGE (message), FALSE);

  cid = tincan_message_get_cid (message);
  if (cid != NULL && g_hash_table_lookup (self->by_cid, cid) != NULL)
    message = g_hash_table_lookup (self->by_cid, cid);

  if (g_ptr_array_find (self->pending, message, &position))
    {
      unindex_message (self, message);
      g_hash_table_remove (self->pending_set, message);
      g_ptr_array_remove_index (self->pending, position);
      return TRUE;
    }

  if (!g_ptr_array_find (self->items, message, &position))
    return FALSE;

  unindex_message (self, message);
  g_ptr_array_remove_index (self->items, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);

  return TRUE;
}
