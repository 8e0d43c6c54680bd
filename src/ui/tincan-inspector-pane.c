/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan-inspector"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <time.h>

#include "tincan-connection-raw.h"
#include "tincan-inspector-pane.h"
#include "tincan-probes.h"
#include "tincan-timeline.h"
#include "tincan-util.h"
#include "tincan-window.h"

/* The detail view shows at most this much text: a label is not an editor. */
#define DETAIL_MAX_BYTES (256 * 1024)
/* Bytes of a binary payload shown in its row. */
#define PREVIEW_HEX_BYTES 24
#define PREVIEW_MAX_BYTES 120

typedef enum
{
  COMPOSE_TEXT,
  COMPOSE_HEX,
  COMPOSE_BASE64,
  COMPOSE_PING,
  COMPOSE_CLOSE,
} ComposeKind;

typedef enum
{
  STAT_SENT,
  STAT_DELIVERED,
  STAT_FAILED,
  STAT_DUPLICATES,
  STAT_GAPS,
  STAT_P50,
  STAT_P95,
  STAT_RTT,
  N_STATS
} StatRow;

#define N_PROBES (TINCAN_PROBE_MALFORMED + 1)

#define TINCAN_TYPE_FRAME_BATCHER (tincan_frame_batcher_get_type ())

G_DECLARE_FINAL_TYPE (TincanFrameBatcher, tincan_frame_batcher, TINCAN, FRAME_BATCHER, GObject)

struct _TincanInspectorPane
{
  GtkWidget            parent_instance;

  TincanSession       *session;
  char                *templates_path;
  TincanFrameLog      *shown_log;
  TincanFrameBatcher  *batcher;
  TincanFrameFilter   *filter;
  GtkCustomFilter     *custom_filter;
  GtkFilterListModel  *filter_model;
  GtkSingleSelection  *selection;
  GBindingGroup       *log_bindings;
  GSignalGroup        *log_signals;
  TincanFrameRecord   *detail_record;
  GArray              *connect_times;
  GKeyFile            *templates;
  GtkStringList       *template_names;
  GPtrArray           *template_groups;
  GCancellable        *cancellable;
  GtkLabel            *stat_labels[N_STATS];
  GtkCheckButton      *opcode_checks[6];

  GtkWidget           *root_box;
  GtkRevealer         *import_revealer;
  GtkLabel            *import_label;
  GtkWidget           *live_button;
  GtkStack            *page_stack;
  GtkSearchEntry      *search_entry;
  GtkToggleButton     *regex_toggle;
  GtkDropDown         *direction_dropdown;
  GtkFlowBox          *opcode_box;
  GtkCheckButton      *hide_control_check;
  GtkEntry            *json_type_entry;
  GtkLabel            *regex_error_label;
  GtkScrolledWindow   *frames_scroller;
  GtkColumnView       *column_view;
  GtkLabel            *detail_title;
  GtkWidget           *copy_button;
  GtkLabel            *detail_label;
  GtkToggleButton     *pause_toggle;
  GtkWidget           *clear_button;
  GtkLabel            *count_label;
  GtkWidget           *export_button;
  GtkWidget           *import_button;
  GtkDropDown         *template_dropdown;
  GtkWidget           *save_template_button;
  GtkWidget           *delete_template_button;
  GtkDropDown         *kind_dropdown;
  GtkWidget           *payload_frame;
  GtkTextView         *payload_view;
  GtkEntry            *text_var_entry;
  GtkWidget           *close_box;
  GtkSpinButton       *close_code_spin;
  GtkEntry            *close_reason_entry;
  GtkLabel            *composer_error_label;
  GtkWidget           *send_button;
  GtkColumnView       *timeline_view;
  GtkListBox          *stats_list;
  GtkWidget           *reset_stats_button;
  GtkListBox          *probes_list;
  GtkSpinButton       *latency_spin;
  GtkWidget           *drop_button;
  GtkSpinButton       *offline_spin;
  GtkButton           *offline_button;

  GtkButton           *probe_buttons[N_PROBES];
  GtkLabel            *probe_status[N_PROBES];
  GtkLabel            *probe_evidence[N_PROBES];
  gboolean             probe_running[N_PROBES];

  GtkColumnViewColumn *relative_column;
  GtkListItemFactory  *delta_factory;
  GtkListItemFactory  *since_start_factory;

  /* See "Publication and following". */
  guint                tick_id;
  guint                wait_id;
  guint                fallback_id;
  GdkFrameClock       *measured_clock;
  gulong               after_paint_id;
  gint64               tick_start;
  gint64               next_publish;
  gint64               batch_work_us;
  gint64               follow_frame;
  guint                n_rows;

  guint                stick_to_bottom : 1;
  guint                follow_pending : 1;
  guint                publish_requested : 1;
  guint                count_dirty : 1;
  guint                frame_has_work : 1;
  guint                batch_open : 1;
  guint                viewing_import : 1;
  guint                relative_to_start : 1;
};

enum {
  PROP_0,
  PROP_SESSION,
  PROP_TEMPLATES_PATH,
  PROP_VIEWING_IMPORT,
  PROP_RELATIVE_TO_START,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (TincanInspectorPane, tincan_inspector_pane, GTK_TYPE_WIDGET)


/* TincanFrameBatcher: the frame log as the view sees it, changed only when
 * the pane publishes (see "Publication" below). GtkListView (4.8) rebinds
 * or rebuilds the rows near its anchor on every items-changed, so at 10 000
 * frames/s following the log on every main-loop turn would spend the whole
 * turn on rows nobody can read. The log only ever drops records at the
 * front and adds them at the end, so the batcher keeps its own ring of
 * references and replays both at once: one items-changed for the records
 * dropped at the front, one for those added at the end. */

struct _TincanFrameBatcher
{
  GObject      parent_instance;

  GListModel  *source;
  gpointer    *ring;
  guint        capacity;
  guint        head;
  guint        length;
  GPtrArray   *pending;
  guint        pending_removed;
  /* Records dropped at the front, released a chunk per idle: finalizing
   * thousands of them would otherwise weigh on the frame that drops them. */
  GPtrArray   *dropped;
  guint        release_id;

  /* Told when something is pending (the pane schedules a publication). */
  void       (*pending_func) (gpointer data);
  gpointer     pending_data;
};

static GType
tincan_frame_batcher_get_item_type (GListModel *model)
{
  return TINCAN_TYPE_FRAME_RECORD;
}

static guint
tincan_frame_batcher_get_n_items (GListModel *model)
{
  return TINCAN_FRAME_BATCHER (model)->length;
}

static gpointer
tincan_frame_batcher_get_item (GListModel *model,
                               guint       position)
{
  TincanFrameBatcher *self = TINCAN_FRAME_BATCHER (model);
  guint k;

  if (position >= self->length)
    return NULL;

  k = self->head + position;
  return g_object_ref (self->ring[k >= self->capacity ? k - self->capacity : k]);
}

static void
tincan_frame_batcher_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = tincan_frame_batcher_get_item_type;
  iface->get_n_items = tincan_frame_batcher_get_n_items;
  iface->get_item = tincan_frame_batcher_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TincanFrameBatcher, tincan_frame_batcher, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, tincan_frame_batcher_list_model_init))

#define BATCHER_RELEASE_CHUNK 1000
#define BATCHER_MAX_DROPPED   100000

static gboolean
release_dropped_cb (gpointer user_data)
{
  TincanFrameBatcher *self = user_data;
  guint n = MIN (self->dropped->len, BATCHER_RELEASE_CHUNK);

  g_ptr_array_remove_range (self->dropped, self->dropped->len - n, n);
  if (self->dropped->len > 0)
    return G_SOURCE_CONTINUE;

  self->release_id = 0;
  return G_SOURCE_REMOVE;
}

static void
batcher_drop_front (TincanFrameBatcher *self,
                    guint               n)
{
  for (guint i = 0; i < n && self->length > 0; i++)
    {
      g_ptr_array_add (self->dropped, self->ring[self->head]);
      self->ring[self->head] = NULL;
      self->head = self->head + 1 == self->capacity ? 0 : self->head + 1;
      self->length--;
    }

  /* A main loop too busy for idles must not hoard them. */
  if (self->dropped->len > BATCHER_MAX_DROPPED)
    g_ptr_array_remove_range (self->dropped, BATCHER_MAX_DROPPED / 2,
                              self->dropped->len - BATCHER_MAX_DROPPED / 2);

  if (self->dropped->len > 0 && self->release_id == 0)
    {
      self->release_id = g_idle_add (release_dropped_cb, self);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->release_id),
                                "[tincan] inspector release dropped frames");
    }
}

static void
batcher_push (TincanFrameBatcher *self,
              gpointer            item)
{
  guint k;

  if (self->length == self->capacity)
    {
      guint capacity = MAX (64, self->capacity * 2);
      gpointer *ring = g_new0 (gpointer, capacity);

      for (guint i = 0; i < self->length; i++)
        ring[i] = self->ring[(self->head + i) % self->capacity];
      g_free (self->ring);
      self->ring = ring;
      self->capacity = capacity;
      self->head = 0;
    }

  k = self->head + self->length;
  self->ring[k >= self->capacity ? k - self->capacity : k] = item;
  self->length++;
}

static gboolean
tincan_frame_batcher_has_pending (TincanFrameBatcher *self)
{
  return self->pending_removed > 0 || self->pending->len > 0;
}

/* Publishes what is pending, but at most @max_added of the records added
 * (the oldest); FALSE if nothing was pending. */
static gboolean
tincan_frame_batcher_flush (TincanFrameBatcher *self,
                            guint               max_added)
{
  guint removed = self->pending_removed;
  guint added = MIN (self->pending->len, max_added);

  if (removed == 0 && added == 0)
    return FALSE;

  batcher_drop_front (self, removed);
  for (guint i = 0; i < added; i++)
    batcher_push (self, g_object_ref (g_ptr_array_index (self->pending, i)));
  g_ptr_array_remove_range (self->pending, 0, added);
  self->pending_removed = 0;

  if (removed > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);
  if (added > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), self->length - added, 0, added);

  return TRUE;
}

static void
batcher_resync (TincanFrameBatcher *self)
{
  guint old_length = self->length;
  guint n = self->source != NULL ? g_list_model_get_n_items (self->source) : 0;

  g_ptr_array_set_size (self->pending, 0);
  self->pending_removed = 0;
  batcher_drop_front (self, self->length);
  for (guint i = 0; i < n; i++)
    batcher_push (self, g_list_model_get_item (self->source, i));

  if (old_length > 0 || n > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, old_length, n);
}

static void
on_source_items_changed (GListModel         *source,
                         guint               position,
                         guint               removed,
                         guint               added,
                         TincanFrameBatcher *self)
{
  if (removed > 0)
    {
      guint shown_left = self->length - self->pending_removed;

      if (position != 0)
        {
          /* Not the ring buffer's pattern: start over. */
          batcher_resync (self);
          return;
        }

      if (removed <= shown_left)
        self->pending_removed += removed;
      else
        {
          /* Dropped before it was ever shown. */
          self->pending_removed = self->length;
          g_ptr_array_remove_range (self->pending, 0, MIN (removed - shown_left, self->pending->len));
        }
    }

  for (guint i = 0; i < added; i++)
    g_ptr_array_add (self->pending, g_list_model_get_item (source, position + i));

  if (tincan_frame_batcher_has_pending (self) && self->pending_func != NULL)
    self->pending_func (self->pending_data);
}

static void
tincan_frame_batcher_set_source (TincanFrameBatcher *self,
                                 GListModel         *source)
{
  if (self->source != NULL)
    g_signal_handlers_disconnect_by_func (self->source, on_source_items_changed, self);
  g_set_object (&self->source, source);
  if (source != NULL)
    g_signal_connect_object (source, "items-changed", G_CALLBACK (on_source_items_changed), self, 0);
  batcher_resync (self);
}

static void
tincan_frame_batcher_dispose (GObject *object)
{
  TincanFrameBatcher *self = TINCAN_FRAME_BATCHER (object);

  if (self->source != NULL)
    g_signal_handlers_disconnect_by_func (self->source, on_source_items_changed, self);
  g_clear_handle_id (&self->release_id, g_source_remove);
  g_clear_object (&self->source);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->dropped, g_ptr_array_unref);

  G_OBJECT_CLASS (tincan_frame_batcher_parent_class)->dispose (object);
}

static void
tincan_frame_batcher_finalize (GObject *object)
{
  TincanFrameBatcher *self = TINCAN_FRAME_BATCHER (object);

  for (guint i = 0; i < self->length; i++)
    g_object_unref (self->ring[(self->head + i) % self->capacity]);
  g_free (self->ring);

  G_OBJECT_CLASS (tincan_frame_batcher_parent_class)->finalize (object);
}

static void
tincan_frame_batcher_class_init (TincanFrameBatcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tincan_frame_batcher_dispose;
  object_class->finalize = tincan_frame_batcher_finalize;
}

static void
tincan_frame_batcher_init (TincanFrameBatcher *self)
{
  self->pending = g_ptr_array_new_with_free_func (g_object_unref);
  self->dropped = g_ptr_array_new_with_free_func (g_object_unref);
}

/* JSON colouring
 *
 * The text shown is exactly the pretty-printed JSON; colours are
 * PangoAttributes over byte ranges of it, so nothing in the content is
 * ever parsed as markup. */

typedef enum
{
  JSON_TOKEN_KEY,
  JSON_TOKEN_STRING,
  JSON_TOKEN_NUMBER,
  JSON_TOKEN_LITERAL,
  JSON_TOKEN_PUNCTUATION,
} JsonToken;

static void
add_token (PangoAttrList *attrs,
           JsonToken      token,
           gboolean       dark,
           gsize          start,
           gsize          end)
{
  /* GNOME palette: readable on the light and the dark background. */
  static const guint16 light[][3] = {
    { 0x1a, 0x5f, 0xb4 },  /* key: blue 5 */
    { 0x26, 0xa2, 0x69 },  /* string: green 5 */
    { 0xc6, 0x46, 0x00 },  /* number: orange 5 */
    { 0x81, 0x3d, 0x9c },  /* literal: purple 3 */
    { 0x77, 0x76, 0x7b },  /* punctuation: dark 1 */
  };
  static const guint16 dark_rgb[][3] = {
    { 0x99, 0xc1, 0xf1 },  /* blue 1 */
    { 0x8f, 0xf0, 0xa4 },  /* green 1 */
    { 0xff, 0xbe, 0x6f },  /* orange 1 */
    { 0xdc, 0x8a, 0xdd },  /* purple 1 */
    { 0x9a, 0x99, 0x96 },  /* light 5 */
  };
  const guint16 *rgb = dark ? dark_rgb[token] : light[token];
  PangoAttribute *attr;

  if (attrs == NULL || end <= start)
    return;

  attr = pango_attr_foreground_new (rgb[0] * 257, rgb[1] * 257, rgb[2] * 257);
  attr->start_index = (guint) start;
  attr->end_index = (guint) end;
  pango_attr_list_insert (attrs, attr);

  if (token == JSON_TOKEN_KEY)
    {
      attr = pango_attr_weight_new (PANGO_WEIGHT_BOLD);
      attr->start_index = (guint) start;
      attr->end_index = (guint) end;
      pango_attr_list_insert (attrs, attr);
    }
}

/* A tokenizer, not a parser: it only ever reads @text (which json-glib
 * wrote, but it copes with anything) and emits byte ranges. */
static void
highlight_json (const char    *text,
                gboolean       dark,
                PangoAttrList *attrs)
{
  gsize i = 0;
  gsize len = strlen (text);

  while (i < len)
    {
      char c = text[i];

      if (c == '"')
        {
          gsize start = i++;
          gsize j;

          while (i < len && text[i] != '"')
            i += (text[i] == '\\' && i + 1 < len) ? 2 : 1;
          if (i < len)
            i++;

          /* A string followed by ':' is a key. */
          for (j = i; j < len && (text[j] == ' ' || text[j] == '\n' || text[j] == '\t' || text[j] == '\r'); j++)
            ;
          add_token (attrs, (j < len && text[j] == ':') ? JSON_TOKEN_KEY : JSON_TOKEN_STRING,
                     dark, start, i);
        }
      else if (c == '-' || g_ascii_isdigit (c))
        {
          gsize start = i;

          while (i < len && (g_ascii_isdigit (text[i]) || strchr ("+-.eE", text[i]) != NULL))
            i++;
          add_token (attrs, JSON_TOKEN_NUMBER, dark, start, i);
        }
      else if (g_ascii_isalpha (c))
        {
          gsize start = i;

          while (i < len && g_ascii_isalpha (text[i]))
            i++;
          add_token (attrs, JSON_TOKEN_LITERAL, dark, start, i);
        }
      else if (strchr ("{}[]:,", c) != NULL)
        {
          add_token (attrs, JSON_TOKEN_PUNCTUATION, dark, i, i + 1);
          i++;
        }
      else
        i++;
    }
}

char *
tincan_inspector_format_json (const char    *json,
                              gboolean       dark,
                              PangoAttrList *attrs)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (JsonGenerator) generator = NULL;
  const char *p;
  char *pretty;

  g_return_val_if_fail (json != NULL, NULL);

  for (p = json; g_ascii_isspace (*p); p++)
    ;
  if (*p != '{' && *p != '[')
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, -1, NULL) || json_parser_get_root (parser) == NULL)
    return NULL;

  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, json_parser_get_root (parser));
  pretty = json_generator_to_data (generator, NULL);

  highlight_json (pretty, dark, attrs);

  return pretty;
}

/* Templates */

static gboolean
looks_like_json (const char *text)
{
  while (g_ascii_isspace (*text))
    text++;

  return *text == '{' || *text == '[';
}

static void
append_json_escaped (GString    *out,
                     const char *value,
                     gboolean    quoted)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *encoded = NULL;
  gsize len;

  /* json-glib does the escaping, so every control character and quote is
   * handled the way a JSON parser expects. */
  json_node_set_string (node, value);
  encoded = json_to_string (node, FALSE);
  len = strlen (encoded);
  if (quoted || len < 2)
    g_string_append (out, encoded);
  else
    g_string_append_len (out, encoded + 1, (gssize) len - 2);
}

static char *
now_rfc3339 (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *base = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", base, g_date_time_get_microsecond (now) / 1000);
}

char *
tincan_inspector_fill_template (const char *template_text,
                                const char *text)
{
  GString *out;
  gboolean json;
  gboolean in_string = FALSE;
  const char *p;

  g_return_val_if_fail (template_text != NULL, NULL);

  if (text == NULL)
    text = "";

  out = g_string_sized_new (strlen (template_text) + 64);
  json = looks_like_json (template_text);

  for (p = template_text; *p != '\0';)
    {
      const char *value = NULL;
      g_autofree char *owned = NULL;
      gsize skip = 0;

      if (g_str_has_prefix (p, "{{uuid}}"))
        {
          value = owned = tincan_uuid_new ();
          skip = 8;
        }
      else if (g_str_has_prefix (p, "{{now}}"))
        {
          value = owned = now_rfc3339 ();
          skip = 7;
        }
      else if (g_str_has_prefix (p, "{{text}}"))
        {
          value = text;
          skip = 8;
        }

      if (value != NULL)
        {
          if (json)
            append_json_escaped (out, value, !in_string);
          else
            g_string_append (out, value);
          p += skip;
          continue;
        }

      if (json && *p == '"')
        in_string = !in_string;
      else if (json && in_string && *p == '\\' && p[1] != '\0')
        {
          g_string_append_c (out, *p++);
        }

      g_string_append_c (out, *p++);
    }

  return g_string_free (out, FALSE);
}

/* Rows */

static TincanInspectorPane *
pane_from_factory (GtkListItemFactory *factory)
{
  return g_object_get_data (G_OBJECT (factory), "pane");
}

/* GtkSignalListItemFactory (4.8) unbinds and binds a row again whenever
 * only its position changes, which every eviction at the front does to
 * every row. A cell remembers the record (and, for the delta, the record
 * before it) it shows, and skips the work when nothing changed. The
 * references keep the pointers from being reused by new records. */
static gboolean
cell_shows (GtkWidget         *label,
            TincanFrameRecord *record,
            TincanFrameRecord *previous)
{
  static GQuark record_quark, previous_quark;

  if (record_quark == 0)
    {
      record_quark = g_quark_from_static_string ("tincan-inspector-record");
      previous_quark = g_quark_from_static_string ("tincan-inspector-previous");
    }

  if (g_object_get_qdata (G_OBJECT (label), record_quark) == record &&
      g_object_get_qdata (G_OBJECT (label), previous_quark) == previous)
    return TRUE;

  g_object_set_qdata_full (G_OBJECT (label), record_quark, g_object_ref (record), g_object_unref);
  if (previous != NULL)
    g_object_set_qdata_full (G_OBJECT (label), previous_quark, g_object_ref (previous), g_object_unref);
  else
    g_object_set_qdata (G_OBJECT (label), previous_quark, NULL);
  return FALSE;
}

static void
setup_label (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  const char *kind = user_data;
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_single_line_mode (GTK_LABEL (label), TRUE);
  if (g_strcmp0 (kind, "numeric") == 0)
    {
      gtk_widget_add_css_class (label, "numeric");
      gtk_label_set_xalign (GTK_LABEL (label), 1);
    }
  else if (g_strcmp0 (kind, "mono") == 0)
    {
      gtk_widget_add_css_class (label, "monospace");
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_width_chars (GTK_LABEL (label), 12);
    }
  else if (g_strcmp0 (kind, "wrap") == 0)
    {
      gtk_label_set_single_line_mode (GTK_LABEL (label), FALSE);
      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
    }
  gtk_list_item_set_child (item, label);
}

static void
format_clock (char   *buf,
              gsize   size,
              gint64  real_time_us)
{
  time_t seconds = (time_t) (real_time_us / G_USEC_PER_SEC);
  struct tm tm;

  if (localtime_r (&seconds, &tm) == NULL)
    {
      g_strlcpy (buf, "?", size);
      return;
    }
  g_snprintf (buf, size, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int) ((real_time_us / 1000) % 1000));
}

static void
format_delta (char   *buf,
              gsize   size,
              gint64  delta_us)
{
  gint64 ms = delta_us / 1000;

  if (delta_us < 0)
    g_strlcpy (buf, "—", size);
  else if (ms < 10000)
    g_snprintf (buf, size, "+%" G_GINT64_FORMAT " ms", ms);
  else
    g_snprintf (buf, size, "+%" G_GINT64_FORMAT ".%03d s", ms / 1000, (int) (ms % 1000));
}

static void
bind_time (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  char buf[32];

  if (cell_shows (gtk_list_item_get_child (item), record, NULL))
    return;

  format_clock (buf, sizeof buf, tincan_frame_record_get_time (record));
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), buf);
}

static void
bind_delta (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            gpointer                  user_data)
{
  TincanInspectorPane *self = pane_from_factory (GTK_LIST_ITEM_FACTORY (factory));
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  guint position = gtk_list_item_get_position (item);
  g_autoptr (TincanFrameRecord) previous = NULL;
  gint64 delta = -1;
  char buf[32];

  if (position > 0 && position != GTK_INVALID_LIST_POSITION)
    previous = g_list_model_get_item (G_LIST_MODEL (self->filter_model), position - 1);

  if (cell_shows (gtk_list_item_get_child (item), record, previous))
    return;

  if (previous != NULL)
    delta = MAX (0, tincan_frame_record_get_time (record) - tincan_frame_record_get_time (previous));

  format_delta (buf, sizeof buf, delta);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), buf);
}

static gint64
find_connect_time (TincanInspectorPane *self,
                   gint64               time)
{
  guint lo = 0, hi = self->connect_times->len;

  /* The last connection attempt that started before @time. */
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (g_array_index (self->connect_times, gint64, mid) <= time)
        lo = mid + 1;
      else
        hi = mid;
    }

  return lo == 0 ? -1 : g_array_index (self->connect_times, gint64, lo - 1);
}

static void
bind_since_start (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  gpointer                  user_data)
{
  TincanInspectorPane *self = pane_from_factory (GTK_LIST_ITEM_FACTORY (factory));
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  gint64 time = tincan_frame_record_get_time (record);
  gint64 start = self->viewing_import ? -1 : find_connect_time (self, time);
  char buf[32];

  format_delta (buf, sizeof buf, start < 0 ? -1 : time - start);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), buf);
}

static void
bind_direction (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  user_data)
{
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  gboolean in = tincan_frame_record_get_direction (record) == TINCAN_FRAME_DIRECTION_IN;

  if (cell_shows (label, record, NULL))
    return;

  /* Translators: direction of a frame, with an arrow: received */
  gtk_label_set_text (GTK_LABEL (label), in ? _("↓ In") : _("↑ Out"));
  if (in)
    {
      gtk_widget_remove_css_class (label, "accent");
      gtk_widget_add_css_class (label, "success");
    }
  else
    {
      gtk_widget_remove_css_class (label, "success");
      gtk_widget_add_css_class (label, "accent");
    }
}

static void
bind_opcode (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  TincanOpcode opcode = tincan_frame_record_get_opcode (record);

  if (cell_shows (label, record, NULL))
    return;

  gtk_label_set_text (GTK_LABEL (label), tincan_frame_record_get_opcode_name (record));
  if (opcode == TINCAN_OPCODE_CLOSE)
    gtk_widget_add_css_class (label, "warning");
  else
    gtk_widget_remove_css_class (label, "warning");
}

static void
bind_size (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  char buf[32];

  if (cell_shows (gtk_list_item_get_child (item), record, NULL))
    return;

  g_snprintf (buf, sizeof buf, "%" G_GSIZE_FORMAT, tincan_frame_record_get_size (record));
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), buf);
}

static void
format_preview (TincanFrameRecord *record,
                char              *buf,
                gsize              size)
{
  const char *text = tincan_frame_record_get_text (record);
  gsize n = 0;

  if (tincan_frame_record_get_opcode (record) == TINCAN_OPCODE_CLOSE)
    {
      const char *reason = tincan_frame_record_get_close_reason (record);

      g_snprintf (buf, size, "%u %s", tincan_frame_record_get_close_code (record),
                  reason != NULL ? reason : "");
      return;
    }

  if (text != NULL)
    {
      const char *p = text;

      /* One line: control characters become spaces; cut on a character. */
      while (*p != '\0' && n + 8 < size && n < PREVIEW_MAX_BYTES)
        {
          const char *next = g_utf8_next_char (p);
          gsize len = (gsize) (next - p);

          if ((guchar) *p < 0x20)
            buf[n++] = ' ';
          else
            {
              memcpy (buf + n, p, len);
              n += len;
            }
          p = next;
        }
      if (*p != '\0' && n + 4 <= size)
        {
          memcpy (buf + n, "…", 3);
          n += 3;
        }
      buf[n] = '\0';
      return;
    }

  {
    GBytes *payload = tincan_frame_record_get_payload (record);
    gsize length = 0;
    const guint8 *data = payload != NULL ? g_bytes_get_data (payload, &length) : NULL;

    for (gsize i = 0; i < length && i < PREVIEW_HEX_BYTES && n + 4 < size; i++)
      {
        g_snprintf (buf + n, size - n, "%02x ", data[i]);
        n += 3;
      }
    if (length > PREVIEW_HEX_BYTES && n + 4 <= size)
      {
        memcpy (buf + n, "…", 3);
        n += 3;
      }
    buf[n] = '\0';
  }
}

static void
bind_preview (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  TincanFrameRecord *record = gtk_list_item_get_item (item);
  char buf[PREVIEW_MAX_BYTES + 16];

  if (cell_shows (gtk_list_item_get_child (item), record, NULL))
    return;

  format_preview (record, buf, sizeof buf);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), buf);
}

static GtkListItemFactory *
label_factory (TincanInspectorPane *self,
               const char          *kind,
               GCallback            bind)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_object_set_data (G_OBJECT (factory), "pane", self);
  g_signal_connect (factory, "setup", G_CALLBACK (setup_label), (gpointer) kind);
  g_signal_connect (factory, "bind", bind, NULL);

  return factory;
}

static GtkColumnViewColumn *
add_column (TincanInspectorPane *self,
            GtkColumnView       *view,
            const char          *title,
            const char          *kind,
            GCallback            bind,
            gboolean             expand)
{
  GtkColumnViewColumn *column;

  column = gtk_column_view_column_new (title, label_factory (self, kind, bind));
  gtk_column_view_column_set_resizable (column, TRUE);
  gtk_column_view_column_set_expand (column, expand);
  gtk_column_view_append_column (view, column);
  g_object_unref (column);

  return column;
}

static void
set_relative_to_start (TincanInspectorPane *self,
                       gboolean             relative_to_start)
{
  relative_to_start = !!relative_to_start;
  if (self->relative_to_start == relative_to_start)
    return;

  self->relative_to_start = relative_to_start;
  if (self->relative_column != NULL)
    {
      /* A new factory rebinds every row. */
      gtk_column_view_column_set_factory (self->relative_column,
                                          relative_to_start ? self->since_start_factory : self->delta_factory);
      gtk_column_view_column_set_title (self->relative_column,
                                        relative_to_start ? _("Since Start") : _("Δ Previous"));
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RELATIVE_TO_START]);
}

/* Timeline rows */

static void
bind_event_time (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  TincanTimelineEvent *event = gtk_list_item_get_item (item);
  char buf[32];

  format_clock (buf, sizeof buf, tincan_timeline_event_get_time (event));
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), buf);
}

static void
bind_event_description (GtkSignalListItemFactory *factory,
                        GtkListItem              *item,
                        gpointer                  user_data)
{
  TincanTimelineEvent *event = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  const char *description = tincan_timeline_event_get_description (event);
  gboolean bad = FALSE;

  switch (tincan_timeline_event_get_kind (event))
    {
    case TINCAN_TIMELINE_EVENT_HEARTBEAT_MISS:
      bad = TRUE;
      break;

    case TINCAN_TIMELINE_EVENT_RESUME:
      bad = tincan_timeline_event_get_gap (event);
      break;

    case TINCAN_TIMELINE_EVENT_STATE:
      bad = tincan_timeline_event_get_state (event) == TINCAN_CONNECTION_STATE_FAILED;
      break;

    case TINCAN_TIMELINE_EVENT_BACKOFF:
    default:
      break;
    }

  gtk_label_set_text (GTK_LABEL (label), description != NULL ? description : "");
  if (bad)
    gtk_widget_add_css_class (label, "warning");
  else
    gtk_widget_remove_css_class (label, "warning");
}

static void
update_connect_times (TincanInspectorPane *self)
{
  GListModel *timeline = G_LIST_MODEL (tincan_session_get_timeline (self->session));
  guint n = g_list_model_get_n_items (timeline);

  g_array_set_size (self->connect_times, 0);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (TincanTimelineEvent) event = g_list_model_get_item (timeline, i);

      if (tincan_timeline_event_get_kind (event) == TINCAN_TIMELINE_EVENT_STATE &&
          tincan_timeline_event_get_state (event) == TINCAN_CONNECTION_STATE_CONNECTING)
        {
          gint64 time = tincan_timeline_event_get_time (event);

          g_array_append_val (self->connect_times, time);
        }
    }
}

static void
on_timeline_items_changed (TincanInspectorPane *self)
{
  update_connect_times (self);
}

/* Detail */

static void
show_detail (TincanInspectorPane *self)
{
  TincanFrameRecord *record = self->detail_record;
  g_autoptr (PangoAttrList) attrs = NULL;
  g_autofree char *body = NULL;
  g_autofree char *title = NULL;
  const char *text;
  char clock[32];
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());

  gtk_widget_set_sensitive (self->copy_button, record != NULL);
  gtk_label_set_attributes (self->detail_label, NULL);

  if (record == NULL)
    {
      gtk_label_set_text (self->detail_title, _("No frame selected"));
      gtk_label_set_text (self->detail_label, "");
      return;
    }

  format_clock (clock, sizeof clock, tincan_frame_record_get_time (record));
  title = g_strdup_printf (
    /* Translators: "text · in · 120 bytes · 12:00:01.123" */
    g_dngettext (GETTEXT_PACKAGE, "%s · %s · %lu byte · %s",
                 "%s · %s · %lu bytes · %s",
                 tincan_frame_record_get_size (record)),
    tincan_frame_record_get_opcode_name (record),
    tincan_frame_record_get_direction (record) == TINCAN_FRAME_DIRECTION_IN ? _("in") : _("out"),
    (unsigned long) tincan_frame_record_get_size (record), clock);
  gtk_label_set_text (self->detail_title, title);

  text = tincan_frame_record_get_text (record);

  if (tincan_frame_record_get_opcode (record) == TINCAN_OPCODE_CLOSE)
    {
      const char *reason = tincan_frame_record_get_close_reason (record);

      body = g_strdup_printf (_("Close code: %u\nReason: %s"),
                              tincan_frame_record_get_close_code (record),
                              reason != NULL ? reason : "");
    }
  else if (text != NULL)
    {
      attrs = pango_attr_list_new ();
      body = tincan_inspector_format_json (text, dark, attrs);
      if (body == NULL)
        {
          g_clear_pointer (&attrs, pango_attr_list_unref);
          body = g_strdup (text);
        }
    }
  else
    body = tincan_frame_record_dup_hex_dump (record);

  if (body != NULL && strlen (body) > DETAIL_MAX_BYTES)
    {
      const char *end = g_utf8_find_prev_char (body, body + DETAIL_MAX_BYTES);
      g_autofree char *cut = g_strndup (body, end != NULL ? (gsize) (end - body) : 0);

      g_free (body);
      /* Translators: shown after a detail view cut for size */
      body = g_strdup_printf ("%s\n%s", cut, _("… (truncated; Copy or Export for all of it)"));
    }

  /* Plain text, always: the attributes are the only styling. */
  gtk_label_set_use_markup (self->detail_label, FALSE);
  gtk_label_set_text (self->detail_label, body != NULL ? body : "");
  gtk_label_set_attributes (self->detail_label, attrs);
}

static void
on_selection_changed (TincanInspectorPane *self)
{
  TincanFrameRecord *record = gtk_single_selection_get_selected_item (self->selection);

  if (record == self->detail_record)
    return;

  g_set_object (&self->detail_record, record);
  show_detail (self);
}

static void
on_dark_changed (TincanInspectorPane *self)
{
  show_detail (self);
}

static void
copy_clicked (TincanInspectorPane *self)
{
  g_autofree char *text = NULL;

  if (self->detail_record == NULL)
    return;

  text = tincan_frame_record_dup_copy_text (self->detail_record);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text != NULL ? text : "");
}

/* Frames list */

static void
update_count (TincanInspectorPane *self)
{
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filter_model));
  /* What the view has, which may lag the log by one publication. */
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->batcher));
  guint pending = tincan_frame_log_get_n_pending (self->shown_log);
  guint64 evicted = tincan_frame_log_get_n_evicted (self->shown_log);
  char buf[160];
  gsize n;

  if (shown == total)
    n = (gsize) g_snprintf (buf, sizeof buf,
                            g_dngettext (GETTEXT_PACKAGE, "%u frame", "%u frames", total), total);
  else
    /* Translators: "12 of 340 frames" */
    n = (gsize) g_snprintf (buf, sizeof buf, _("%u of %u frames"), shown, total);

  if (pending > 0 && n < sizeof buf)
    /* Translators: frames kept while paused, not shown yet */
    n += (gsize) g_snprintf (buf + n, sizeof buf - n, _(" · %u paused"), pending);
  if (evicted > 0 && n < sizeof buf)
    /* Translators: old frames dropped from the bounded log */
    g_snprintf (buf + n, sizeof buf - n, _(" · %llu dropped"), (unsigned long long) evicted);

  gtk_label_set_text (self->count_label, buf);
}

/* Publication and following
 *
 * The batcher's pending records reach the view on a tick of the pane's
 * frame clock, right before layout and paint: at most one batch (one
 * items-changed for the records gone at the front, one for those added at
 * the end) per frame, however many frames arrived.
 *
 * Following the newest frame: GtkListView (4.8) keeps its ~200 rows around
 * an anchor item, and only moves the anchor when the adjustment's value is
 * set from outside its own layout (it blocks its handler while it sets the
 * adjustment itself). So the view is scrolled to the bottom on the tick of
 * the frame after a batch, once the batch's height is known: the anchor
 * goes to the newest row and the rows are recycled there. Setting the value
 * from notify::upper instead (inside the list's layout) moves the scroll
 * position but leaves the anchor and its rows behind, and each eviction at
 * the front then destroys and rebuilds all of them.
 *
 * A batch costs the rows it rebinds (at most those ~200) and their layout,
 * measured from the batch's tick to the end of the frame that followed it;
 * the next batch waits at least PUBLISH_IDLE_FACTOR times that, at most
 * PUBLISH_MAX_INTERVAL_MS, so the main loop stays free for input and the
 * sockets. Nothing is published while the pane is not mapped; the batcher
 * only holds references then, bounded by the log's capacity.
 *
 * GTK 4.8 also puts the list's focus and selection trackers on row 0 when
 * its model goes from empty to non-empty, and they stay there: each
 * eviction at the front then destroys and rebuilds that row, which resizes
 * every cell of every column. Setting the model again leaves them unset
 * (until the user focuses or selects a row, which puts them elsewhere). */

#define PUBLISH_IDLE_FACTOR       3
#define PUBLISH_MAX_INTERVAL_MS   250
/* Building a row costs several times rebinding one: while the view has
 * fewer records than the rows the list keeps (~200), add at most this
 * many per frame. */
#define PUBLISH_RAMP_ROWS         256
#define PUBLISH_RAMP_STEP         16
/* If the frame clock does not tick (a window that is not drawn), publish
 * anyway after this long so the model does not go stale. */
#define PUBLISH_FALLBACK_MS       1000

static void schedule_tick (TincanInspectorPane *self);

static void
scroll_to_bottom (TincanInspectorPane *self)
{
  GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (self->frames_scroller);

  gtk_adjustment_set_value (adjustment,
                            gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment));
}

static void
on_frames_changed (TincanInspectorPane *self)
{
  GdkFrameClock *frame_clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->filter_model));

  /* The list has handled this change already (its selection model was
   * connected first): see "Publication and following" on row 0. */
  if (self->n_rows == 0 && n > 0)
    {
      gtk_column_view_set_model (self->column_view, NULL);
      gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
    }
  self->n_rows = n;

  update_count (self);

  if (self->stick_to_bottom)
    {
      self->follow_pending = TRUE;
      self->follow_frame = frame_clock != NULL ? gdk_frame_clock_get_frame_counter (frame_clock) : 0;
      schedule_tick (self);
    }
}

static void
on_vadjustment_value_changed (GtkAdjustment       *adjustment,
                              TincanInspectorPane *self)
{
  double bottom = gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment);

  /* While following, the list keeps the newest row at the bottom edge
   * (also when rows go at the front); only rows added below it and not
   * followed yet, or the user's scrolling, leave the bottom. */
  if (gtk_adjustment_get_value (adjustment) >= bottom - 4)
    self->stick_to_bottom = TRUE;
  else if (!self->follow_pending)
    self->stick_to_bottom = FALSE;
}

static gboolean
publication_allowed (TincanInspectorPane *self)
{
  return g_get_monotonic_time () >= self->next_publish;
}

static void
publish (TincanInspectorPane *self)
{
  gboolean ramp = g_list_model_get_n_items (G_LIST_MODEL (self->batcher)) < PUBLISH_RAMP_ROWS;
  gboolean changed;

  self->publish_requested = FALSE;
  g_clear_handle_id (&self->fallback_id, g_source_remove);

  changed = tincan_frame_batcher_flush (self->batcher, ramp ? PUBLISH_RAMP_STEP : G_MAXUINT);
  if (self->count_dirty)
    {
      self->count_dirty = FALSE;
      update_count (self);
    }

  if (tincan_frame_batcher_has_pending (self->batcher))
    self->publish_requested = TRUE;

  if (ramp)
    {
      /* Few rows yet: the list builds a row for each record added, so
       * let it build them a few per frame, on every frame. */
      self->next_publish = 0;
      self->batch_open = FALSE;
    }
  else if (changed)
    {
      /* Until the end of this batch's work says better. */
      self->next_publish = g_get_monotonic_time () + (gint64) PUBLISH_MAX_INTERVAL_MS * 1000;
      self->batch_work_us = 0;
      self->batch_open = TRUE;
    }
}

static gboolean
pane_tick (GtkWidget     *widget,
           GdkFrameClock *frame_clock,
           gpointer       user_data)
{
  TincanInspectorPane *self = TINCAN_INSPECTOR_PANE (widget);
  gint64 frame = gdk_frame_clock_get_frame_counter (frame_clock);

  self->tick_start = g_get_monotonic_time ();

  if (self->follow_pending && frame > self->follow_frame)
    {
      self->follow_pending = FALSE;
      if (self->stick_to_bottom)
        scroll_to_bottom (self);
      self->frame_has_work = TRUE;
    }

  if (self->publish_requested && publication_allowed (self))
    {
      publish (self);
      self->frame_has_work = TRUE;
    }

  if (self->follow_pending || (self->publish_requested && publication_allowed (self)))
    return G_SOURCE_CONTINUE;

  self->tick_id = 0;
  if (self->publish_requested)
    schedule_tick (self);

  return G_SOURCE_REMOVE;
}

static void
on_after_paint (GdkFrameClock       *frame_clock,
                TincanInspectorPane *self)
{
  gint64 now;

  if (!self->frame_has_work)
    return;

  now = g_get_monotonic_time ();
  self->frame_has_work = FALSE;
  self->batch_work_us += now - self->tick_start;
  if (self->batch_open && !self->follow_pending)
    {
      self->batch_open = FALSE;
      self->next_publish = now + MIN (PUBLISH_IDLE_FACTOR * self->batch_work_us,
                                      (gint64) PUBLISH_MAX_INTERVAL_MS * 1000);
    }
}

static gboolean
publish_fallback_cb (gpointer user_data)
{
  TincanInspectorPane *self = user_data;

  self->fallback_id = 0;
  publish (self);

  return G_SOURCE_REMOVE;
}

static gboolean
publish_wait_cb (gpointer user_data)
{
  TincanInspectorPane *self = user_data;

  self->wait_id = 0;
  schedule_tick (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_tick (TincanInspectorPane *self)
{
  gint64 now;

  if (!gtk_widget_get_mapped (GTK_WIDGET (self)) || self->tick_id != 0)
    return;

  now = g_get_monotonic_time ();
  if (!self->follow_pending && now < self->next_publish)
    {
      if (self->wait_id == 0)
        {
          self->wait_id = g_timeout_add ((guint) ((self->next_publish - now + 999) / 1000), publish_wait_cb, self);
          g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->wait_id),
                                    "[tincan] inspector publication wait");
        }
      return;
    }

  g_clear_handle_id (&self->wait_id, g_source_remove);
  self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), pane_tick, NULL, NULL);
  if (self->publish_requested && self->fallback_id == 0)
    {
      self->fallback_id = g_timeout_add (PUBLISH_FALLBACK_MS, publish_fallback_cb, self);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->fallback_id),
                                "[tincan] inspector publication fallback");
    }
}

static void
request_publication (TincanInspectorPane *self)
{
  self->publish_requested = TRUE;
  schedule_tick (self);
}

static void
cancel_publication (TincanInspectorPane *self)
{
  if (self->tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
  self->tick_id = 0;
  g_clear_handle_id (&self->wait_id, g_source_remove);
  g_clear_handle_id (&self->fallback_id, g_source_remove);
}

static void
on_batcher_pending (gpointer data)
{
  request_publication (TINCAN_INSPECTOR_PANE (data));
}

static void
on_count_changed (TincanInspectorPane *self)
{
  /* The log changes its counts on every main-loop turn while flooded:
   * the label follows on the next publication, not on each of them. */
  self->count_dirty = TRUE;
  request_publication (self);
}

static void
on_pane_realize (TincanInspectorPane *self)
{
  GdkFrameClock *frame_clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

  g_set_object (&self->measured_clock, frame_clock);
  if (frame_clock != NULL)
    self->after_paint_id = g_signal_connect (frame_clock, "after-paint", G_CALLBACK (on_after_paint), self);
}

static void
on_pane_unrealize (TincanInspectorPane *self)
{
  if (self->measured_clock != NULL)
    g_clear_signal_handler (&self->after_paint_id, self->measured_clock);
  g_clear_object (&self->measured_clock);
}

static void
on_pane_map (TincanInspectorPane *self)
{
  self->count_dirty = TRUE;
  request_publication (self);
}

static void
on_pane_unmap (TincanInspectorPane *self)
{
  cancel_publication (self);
  self->follow_pending = FALSE;
  self->frame_has_work = FALSE;
  self->batch_open = FALSE;
}

static gboolean
custom_filter_match (gpointer item,
                     gpointer user_data)
{
  return tincan_frame_filter_match (TINCAN_FRAME_FILTER (user_data), TINCAN_FRAME_RECORD (item));
}

static void
on_filter_changed (TincanInspectorPane     *self,
                   TincanFrameFilterChange  change)
{
  gtk_filter_changed (GTK_FILTER (self->custom_filter), (GtkFilterChange) change);
}

static void
apply_search (TincanInspectorPane *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));

  if (gtk_toggle_button_get_active (self->regex_toggle))
    {
      tincan_frame_filter_set_text (self->filter, NULL);
      tincan_frame_filter_set_regex (self->filter, text);
    }
  else
    {
      tincan_frame_filter_set_regex (self->filter, NULL);
      tincan_frame_filter_set_text (self->filter, text);
    }
}

static void
on_regex_error (TincanInspectorPane *self)
{
  const GError *error = tincan_frame_filter_get_regex_error (self->filter);

  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Invalid regular expression: %s"), error->message);

      gtk_label_set_text (self->regex_error_label, text);
      gtk_widget_add_css_class (GTK_WIDGET (self->search_entry), "error");
    }
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->search_entry), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->regex_error_label), error != NULL);
}

static void
on_direction_selected (TincanInspectorPane *self)
{
  switch (gtk_drop_down_get_selected (self->direction_dropdown))
    {
    case 1:
      tincan_frame_filter_set_direction (self->filter, TINCAN_FRAME_FILTER_DIRECTION_IN);
      break;

    case 2:
      tincan_frame_filter_set_direction (self->filter, TINCAN_FRAME_FILTER_DIRECTION_OUT);
      break;

    default:
      tincan_frame_filter_set_direction (self->filter, TINCAN_FRAME_FILTER_DIRECTION_ANY);
      break;
    }
}

static const struct {
  const char            *label;
  TincanFrameOpcodeMask  mask;
} opcode_filters[] = {
  { N_("Text"), TINCAN_FRAME_OPCODE_MASK_TEXT },
  { N_("Binary"), TINCAN_FRAME_OPCODE_MASK_BINARY },
  { N_("Close"), TINCAN_FRAME_OPCODE_MASK_CLOSE },
  { N_("Ping"), TINCAN_FRAME_OPCODE_MASK_PING },
  { N_("Pong"), TINCAN_FRAME_OPCODE_MASK_PONG },
  { N_("Handshake"), TINCAN_FRAME_OPCODE_MASK_HANDSHAKE },
};

static void
on_opcode_toggled (TincanInspectorPane *self)
{
  TincanFrameOpcodeMask mask = 0;

  for (guint i = 0; i < G_N_ELEMENTS (opcode_filters); i++)
    if (gtk_check_button_get_active (self->opcode_checks[i]))
      mask |= opcode_filters[i].mask;

  tincan_frame_filter_set_opcodes (self->filter, mask);
}

static void
on_json_type_changed (TincanInspectorPane *self)
{
  tincan_frame_filter_set_json_type (self->filter,
                                     gtk_editable_get_text (GTK_EDITABLE (self->json_type_entry)));
}

static void
on_pause_toggled (TincanInspectorPane *self)
{
  gboolean paused = gtk_toggle_button_get_active (self->pause_toggle);

  gtk_button_set_icon_name (GTK_BUTTON (self->pause_toggle),
                            paused ? "media-playback-start-symbolic" : "media-playback-pause-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_toggle),
                               paused ? _("Resume Live Updates") : _("Pause Live Updates"));
}

static void
on_log_paused (TincanInspectorPane *self)
{
  /* Pausing freezes what is shown now, not what arrives next. */
  tincan_frame_batcher_flush (self->batcher, G_MAXUINT);
}

static void
clear_clicked (TincanInspectorPane *self)
{
  tincan_frame_log_clear (self->shown_log);
  update_count (self);
}

static void
set_shown_log (TincanInspectorPane *self,
               TincanFrameLog      *log,
               gboolean             imported)
{
  g_set_object (&self->shown_log, log);
  tincan_frame_batcher_set_source (self->batcher, G_LIST_MODEL (log));
  g_binding_group_set_source (self->log_bindings, log);
  g_signal_group_set_target (self->log_signals, log);

  if (self->viewing_import != !!imported)
    {
      self->viewing_import = !!imported;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VIEWING_IMPORT]);
    }
  gtk_revealer_set_reveal_child (self->import_revealer, imported);
  update_count (self);
}

static void
toast (TincanInspectorPane *self,
       const char          *message)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (TINCAN_IS_WINDOW (root))
    tincan_window_add_toast (TINCAN_WINDOW (root), message);
  else
    g_debug ("%s", message);
}

/* Export and import */

static void
export_written_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        toast (self, error->message);
      return;
    }

  toast (self, _("Frames exported"));
}

static void
export_to (TincanInspectorPane *self,
           GFile               *file)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = tincan_inspector_pane_export_bytes (self, &error);

  if (bytes == NULL)
    {
      toast (self, error->message);
      return;
    }

  g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                                       self->cancellable, export_written_cb, g_object_ref (self));
}

static void
import_loaded_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  char *contents = NULL;
  gsize length = 0;

  if (!g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        toast (self, error->message);
      return;
    }

  bytes = g_bytes_new_take (contents, length);
  if (!tincan_inspector_pane_import_bytes (self, bytes, &error))
    {
      g_autofree char *message = g_strdup_printf (_("Cannot import the file: %s"), error->message);

      toast (self, message);
      return;
    }

  {
    g_autofree char *name = g_file_get_basename (G_FILE (object));
    g_autofree char *text = g_strdup_printf (_("Viewing %s"), name);

    gtk_label_set_text (self->import_label, text);
  }
}

static void
import_from (TincanInspectorPane *self,
             GFile               *file)
{
  g_file_load_contents_async (file, self->cancellable, import_loaded_cb, g_object_ref (self));
}

static GtkFileFilter *
jsonl_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("JSON Lines"));
  gtk_file_filter_add_pattern (filter, "*.jsonl");
  gtk_file_filter_add_pattern (filter, "*.ndjson");
  gtk_file_filter_add_mime_type (filter, "application/jsonl");

  return filter;
}

static char *
default_export_name (TincanInspectorPane *self)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *name = g_strdup (tincan_session_get_name (self->session));

  g_strdelimit (name, "/\\:*?\"<>| ", '-');

  return g_strdup_printf ("%s-frames-%s.jsonl", name, stamp);
}

#if GTK_CHECK_VERSION (4, 10, 0)
static void
save_dialog_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  g_autoptr (GFile) file = gtk_file_dialog_save_finish (GTK_FILE_DIALOG (object), result, NULL);

  if (file != NULL)
    export_to (self, file);
}

static void
open_dialog_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  g_autoptr (GFile) file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (object), result, NULL);

  if (file != NULL)
    import_from (self, file);
}

static void
run_file_dialog (TincanInspectorPane *self,
                 gboolean             save)
{
  g_autoptr (GtkFileDialog) dialog = gtk_file_dialog_new ();
  g_autoptr (GtkFileFilter) filter = jsonl_filter ();
  g_autoptr (GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
  GtkWindow *parent = GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self)));

  g_list_store_append (filters, filter);
  gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
  gtk_file_dialog_set_modal (dialog, TRUE);

  if (save)
    {
      g_autofree char *name = default_export_name (self);

      gtk_file_dialog_set_title (dialog, _("Export Frames"));
      gtk_file_dialog_set_initial_name (dialog, name);
      gtk_file_dialog_save (dialog, parent, self->cancellable, save_dialog_cb, g_object_ref (self));
    }
  else
    {
      gtk_file_dialog_set_title (dialog, _("Import Frames"));
      gtk_file_dialog_open (dialog, parent, self->cancellable, open_dialog_cb, g_object_ref (self));
    }
}
#else
static void
native_response_cb (GtkNativeDialog *native,
                    int              response,
                    gpointer         user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  gboolean save = gtk_file_chooser_get_action (GTK_FILE_CHOOSER (native)) == GTK_FILE_CHOOSER_ACTION_SAVE;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));

      if (file != NULL && save)
        export_to (self, file);
      else if (file != NULL)
        import_from (self, file);
    }

  gtk_native_dialog_destroy (native);
  g_object_unref (native);
}

static void
run_file_dialog (TincanInspectorPane *self,
                 gboolean             save)
{
  GtkWindow *parent = GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self)));
  GtkFileChooserNative *native;
  g_autoptr (GtkFileFilter) filter = jsonl_filter ();

  native = gtk_file_chooser_native_new (save ? _("Export Frames") : _("Import Frames"),
                                        parent,
                                        save ? GTK_FILE_CHOOSER_ACTION_SAVE : GTK_FILE_CHOOSER_ACTION_OPEN,
                                        save ? _("_Export") : _("_Import"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
  if (save)
    {
      g_autofree char *name = default_export_name (self);

      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), name);
    }
  g_signal_connect (native, "response", G_CALLBACK (native_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}
#endif

static void
export_clicked (TincanInspectorPane *self)
{
  run_file_dialog (self, TRUE);
}

static void
import_clicked (TincanInspectorPane *self)
{
  run_file_dialog (self, FALSE);
}

static void
live_clicked (TincanInspectorPane *self)
{
  tincan_inspector_pane_show_live (self);
}

/* Composer */

static void
set_composer_error (TincanInspectorPane *self,
                    const char          *message)
{
  gtk_label_set_text (self->composer_error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->composer_error_label), message != NULL);
}

static char *
dup_payload_text (TincanInspectorPane *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->payload_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);

  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static GBytes *
parse_hex (const char  *text,
           GError     **error)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  int high = -1;

  for (const char *p = text; *p != '\0'; p++)
    {
      int value;

      if (g_ascii_isspace (*p) || *p == ':' || *p == '-')
        continue;
      if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        {
          p++;
          continue;
        }
      value = g_ascii_xdigit_value (*p);
      if (value < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("“%c” is not a hexadecimal digit"), g_ascii_isprint (*p) ? *p : '?');
          return NULL;
        }
      if (high < 0)
        high = value;
      else
        {
          guint8 byte = (guint8) (high << 4 | value);

          g_byte_array_append (bytes, &byte, 1);
          high = -1;
        }
    }

  if (high >= 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The hex payload has an odd number of digits"));
      return NULL;
    }

  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
}

static GBytes *
parse_base64 (const char  *text,
              GError     **error)
{
  g_autoptr (GString) clean = g_string_new (NULL);
  guchar *data;
  gsize length = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p))
        continue;
      if (!g_ascii_isalnum (*p) && strchr ("+/=-_", *p) == NULL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("The payload is not valid Base64"));
          return NULL;
        }
      /* URL-safe Base64 too. */
      g_string_append_c (clean, *p == '-' ? '+' : *p == '_' ? '/' : *p);
    }
  while (clean->len % 4 != 0)
    g_string_append_c (clean, '=');

  data = g_base64_decode (clean->str, &length);

  return g_bytes_new_take (data, length);
}

static gboolean
compose_and_send (TincanInspectorPane  *self,
                  GError              **error)
{
  TincanConnection *connection = tincan_session_get_connection (self->session);
  g_autofree char *text = dup_payload_text (self);
  g_autoptr (GBytes) payload = NULL;

  switch ((ComposeKind) gtk_drop_down_get_selected (self->kind_dropdown))
    {
    case COMPOSE_TEXT:
      {
        const char *var = gtk_editable_get_text (GTK_EDITABLE (self->text_var_entry));
        char *filled = tincan_inspector_fill_template (text, var);

        payload = g_bytes_new_take (filled, strlen (filled));
        return tincan_connection_send_raw (connection, TINCAN_OPCODE_TEXT, payload, error);
      }

    case COMPOSE_HEX:
      payload = parse_hex (text, error);
      return payload != NULL &&
             tincan_connection_send_raw (connection, TINCAN_OPCODE_BINARY, payload, error);

    case COMPOSE_BASE64:
      payload = parse_base64 (text, error);
      return payload != NULL &&
             tincan_connection_send_raw (connection, TINCAN_OPCODE_BINARY, payload, error);

    case COMPOSE_PING:
      if (strlen (text) > 125)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("A ping payload is at most 125 bytes"));
          return FALSE;
        }
      payload = g_bytes_new (text, strlen (text));
      return tincan_connection_send_ping (connection, payload, error);

    case COMPOSE_CLOSE:
      {
        const char *reason = gtk_editable_get_text (GTK_EDITABLE (self->close_reason_entry));
        int code = gtk_spin_button_get_value_as_int (self->close_code_spin);

        if (strlen (reason) > 123)
          {
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                 _("A close reason is at most 123 bytes"));
            return FALSE;
          }
        return tincan_connection_close_with (connection, (gushort) code, reason, error);
      }

    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown frame kind");
      return FALSE;
    }
}

static void
send_clicked (TincanInspectorPane *self)
{
  g_autoptr (GError) error = NULL;

  if (!compose_and_send (self, &error))
    set_composer_error (self, error->message);
  else
    set_composer_error (self, NULL);
}

static void
update_composer_kind (TincanInspectorPane *self)
{
  ComposeKind kind = (ComposeKind) gtk_drop_down_get_selected (self->kind_dropdown);

  gtk_widget_set_visible (self->close_box, kind == COMPOSE_CLOSE);
  gtk_widget_set_visible (self->payload_frame, kind != COMPOSE_CLOSE);
  gtk_widget_set_visible (GTK_WIDGET (self->text_var_entry), kind == COMPOSE_TEXT);
  set_composer_error (self, NULL);
}

/* Saved templates, per server, in a GKeyFile: one group per template. */

static const char *
profile_id (TincanInspectorPane *self)
{
  return tincan_profile_get_id (tincan_session_get_profile (self->session));
}

static void
reload_template_names (TincanInspectorPane *self)
{
  g_auto (GStrv) groups = g_key_file_get_groups (self->templates, NULL);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->template_names));
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_set_size (self->template_groups, 0);
  g_ptr_array_add (names, g_strdup (_("New Message")));
  g_ptr_array_add (self->template_groups, NULL);

  for (guint i = 0; groups != NULL && groups[i] != NULL; i++)
    {
      g_autofree char *server = g_key_file_get_string (self->templates, groups[i], "server", NULL);
      g_autofree char *name = NULL;

      if (g_strcmp0 (server, profile_id (self)) != 0)
        continue;
      name = g_key_file_get_string (self->templates, groups[i], "name", NULL);
      g_ptr_array_add (names, g_steal_pointer (&name));
      g_ptr_array_add (self->template_groups, g_strdup (groups[i]));
    }
  g_ptr_array_add (names, NULL);

  gtk_string_list_splice (self->template_names, 0, n, (const char * const *) names->pdata);
}

static void
templates_saved_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast (self, error->message);
}

static void
save_templates (TincanInspectorPane *self)
{
  g_autoptr (GFile) file = g_file_new_for_path (self->templates_path);
  g_autoptr (GFile) parent = g_file_get_parent (file);
  gsize length = 0;
  char *data = g_key_file_to_data (self->templates, &length, NULL);
  g_autoptr (GBytes) bytes = g_bytes_new_take (data, length);

  if (parent != NULL)
    g_file_make_directory_with_parents (parent, NULL, NULL);
  g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE, G_FILE_CREATE_PRIVATE,
                                       self->cancellable, templates_saved_cb, g_object_ref (self));
}

static void
templates_loaded_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr (TincanInspectorPane) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Cannot read the message templates: %s", error->message);
      return;
    }

  if (!g_key_file_load_from_data (self->templates, contents, length,
                                  G_KEY_FILE_KEEP_COMMENTS, &error))
    {
      g_debug ("Cannot parse the message templates: %s", error->message);
      return;
    }

  reload_template_names (self);
}

static void
on_template_selected (TincanInspectorPane *self)
{
  guint selected = gtk_drop_down_get_selected (self->template_dropdown);
  const char *group;
  g_autofree char *body = NULL;
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->payload_view);

  gtk_widget_set_sensitive (self->delete_template_button, selected > 0 && selected != GTK_INVALID_LIST_POSITION);

  if (selected == 0 || selected >= self->template_groups->len)
    return;

  group = g_ptr_array_index (self->template_groups, selected);
  body = g_key_file_get_string (self->templates, group, "body", NULL);
  gtk_drop_down_set_selected (self->kind_dropdown,
                              (guint) CLAMP (g_key_file_get_integer (self->templates, group, "kind", NULL),
                                             COMPOSE_TEXT, COMPOSE_CLOSE));
  if (g_key_file_has_key (self->templates, group, "close-code", NULL))
    gtk_spin_button_set_value (self->close_code_spin,
                               g_key_file_get_integer (self->templates, group, "close-code", NULL));
  {
    g_autofree char *reason = g_key_file_get_string (self->templates, group, "close-reason", NULL);

    gtk_editable_set_text (GTK_EDITABLE (self->close_reason_entry), reason != NULL ? reason : "");
  }
  gtk_text_buffer_set_text (buffer, body != NULL ? body : "", -1);
}

static void
on_save_template_response (AdwMessageDialog    *dialog,
                           const char          *response,
                           TincanInspectorPane *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *name = NULL;
  g_autofree char *body = NULL;
  g_autofree char *uuid = NULL;
  g_autofree char *group = NULL;

  if (g_strcmp0 (response, "save") != 0)
    return;

  name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  if (*name == '\0')
    return;

  body = dup_payload_text (self);
  uuid = tincan_uuid_new ();
  group = g_strdup_printf ("template %s", uuid);
  g_key_file_set_string (self->templates, group, "server", profile_id (self));
  g_key_file_set_string (self->templates, group, "name", name);
  g_key_file_set_integer (self->templates, group, "kind", (int) gtk_drop_down_get_selected (self->kind_dropdown));
  g_key_file_set_string (self->templates, group, "body", body);
  g_key_file_set_integer (self->templates, group, "close-code",
                          gtk_spin_button_get_value_as_int (self->close_code_spin));
  g_key_file_set_string (self->templates, group, "close-reason",
                         gtk_editable_get_text (GTK_EDITABLE (self->close_reason_entry)));
  save_templates (self);
  reload_template_names (self);
  gtk_drop_down_set_selected (self->template_dropdown, self->template_groups->len - 1);
}

static void
save_template_clicked (TincanInspectorPane *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  AdwMessageDialog *dialog;
  GtkWidget *entry;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                       _("Save Template"),
                                                       _("Templates are kept per server. {{uuid}}, {{now}} and {{text}} are filled in when sending.")));
  entry = gtk_entry_new ();
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("Template name"));
  adw_message_dialog_set_extra_child (dialog, entry);
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "save", _("_Save"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "save", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "save");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_save_template_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
delete_template_clicked (TincanInspectorPane *self)
{
  guint selected = gtk_drop_down_get_selected (self->template_dropdown);

  if (selected == 0 || selected >= self->template_groups->len)
    return;

  g_key_file_remove_group (self->templates, g_ptr_array_index (self->template_groups, selected), NULL);
  save_templates (self);
  reload_template_names (self);
  gtk_drop_down_set_selected (self->template_dropdown, 0);
}

/* Stats */

static void
format_ms (char   *buf,
           gsize   size,
           int     ms)
{
  if (ms < 0)
    g_strlcpy (buf, "—", size);
  else
    g_snprintf (buf, size, "%d ms", ms);
}

static void
update_stats (TincanInspectorPane *self)
{
  TincanDeliveryStats *stats = tincan_session_get_delivery_stats (self->session);
  guint64 counts[] = {
    tincan_delivery_stats_get_sent (stats),
    tincan_delivery_stats_get_delivered (stats),
    tincan_delivery_stats_get_failed (stats),
    tincan_delivery_stats_get_duplicates (stats),
    tincan_delivery_stats_get_gaps (stats),
  };
  char buf[32];

  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, counts[i]);
      gtk_label_set_text (self->stat_labels[i], buf);
    }

  format_ms (buf, sizeof buf, tincan_delivery_stats_get_ack_latency_p50 (stats));
  gtk_label_set_text (self->stat_labels[STAT_P50], buf);
  format_ms (buf, sizeof buf, tincan_delivery_stats_get_ack_latency_p95 (stats));
  gtk_label_set_text (self->stat_labels[STAT_P95], buf);
  format_ms (buf, sizeof buf, tincan_delivery_stats_get_rtt (stats));
  gtk_label_set_text (self->stat_labels[STAT_RTT], buf);

  for (guint i = STAT_FAILED; i <= STAT_GAPS; i++)
    {
      if (counts[i] > 0)
        gtk_widget_add_css_class (GTK_WIDGET (self->stat_labels[i]), "warning");
      else
        gtk_widget_remove_css_class (GTK_WIDGET (self->stat_labels[i]), "warning");
    }
}

static void
build_stats (TincanInspectorPane *self)
{
  const struct {
    const char *title;
    const char *subtitle;
  } rows[N_STATS] = {
    { N_("Sent"), N_("Messages transmitted, each client id once") },
    { N_("Delivered"), N_("Acknowledged by the server") },
    { N_("Failed"), N_("Rejected or given up") },
    { N_("Duplicates"), N_("Messages received twice") },
    { N_("Gaps"), N_("Missed sequence numbers, or a resume with a gap") },
    { N_("Ack Latency p50"), N_("Median, over the last 1024 acks") },
    { N_("Ack Latency p95"), NULL },
    { N_("Round-Trip Time"), N_("Current ping round trip") },
  };

  for (guint i = 0; i < N_STATS; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *label = gtk_label_new ("—");

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _(rows[i].title));
      if (rows[i].subtitle != NULL)
        adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _(rows[i].subtitle));
      gtk_widget_add_css_class (label, "numeric");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
      gtk_list_box_append (self->stats_list, row);
      self->stat_labels[i] = GTK_LABEL (label);
    }
}

static void
reset_stats_clicked (TincanInspectorPane *self)
{
  tincan_delivery_stats_reset (tincan_session_get_delivery_stats (self->session));
  update_stats (self);
}

/* Probes and network simulation */

static const char *
probe_description (TincanProbeKind kind)
{
  switch (kind)
    {
    case TINCAN_PROBE_DEDUP:
      return _("Sends a message, then its client id again: the server must answer with the original ack and not broadcast it twice.");
    case TINCAN_PROBE_RESUME:
      return _("A second connection sends messages while this one drops mid-stream: after the resume each missed message must arrive exactly once, or a gap must be reported.");
    case TINCAN_PROBE_MALFORMED:
      return _("Sends a frame that is not valid JSON: the server must answer with an error and keep the connection.");
    default:
      return NULL;
    }
}

static void
update_probes (TincanInspectorPane *self)
{
  TincanConnection *connection = tincan_session_get_connection (self->session);
  gboolean connected = connection != NULL &&
                       tincan_connection_get_state (connection) == TINCAN_CONNECTION_STATE_CONNECTED;
  gboolean any_running = FALSE;

  for (guint i = 0; i < N_PROBES; i++)
    any_running |= self->probe_running[i];

  for (guint i = 0; i < N_PROBES; i++)
    {
      g_autofree char *reason = NULL;
      gboolean supported;

      if (self->probe_buttons[i] == NULL)
        continue;

      supported = connection != NULL && tincan_probe_is_supported (connection, i, &reason);
      if (!supported)
        gtk_widget_set_tooltip_text (GTK_WIDGET (self->probe_buttons[i]), reason);
      else if (!connected)
        gtk_widget_set_tooltip_text (GTK_WIDGET (self->probe_buttons[i]),
                                     _("Connect first: a probe talks to the server."));
      else
        gtk_widget_set_tooltip_text (GTK_WIDGET (self->probe_buttons[i]), probe_description (i));
      gtk_widget_set_sensitive (GTK_WIDGET (self->probe_buttons[i]),
                                supported && connected && !any_running);
    }

  if (self->drop_button != NULL)
    gtk_widget_set_sensitive (self->drop_button, connected);
  if (self->offline_button != NULL && connection != NULL)
    gtk_button_set_label (self->offline_button,
                          tincan_connection_get_simulated_offline (connection)
                          ? _("_Back Online") : _("Go _Offline"));
}

typedef struct
{
  TincanInspectorPane *self;
  TincanProbeKind      kind;
} ProbeClosure;

static void
set_probe_status (TincanInspectorPane *self,
                  TincanProbeKind      kind,
                  const char          *text,
                  const char          *css_class)
{
  GtkWidget *label = GTK_WIDGET (self->probe_status[kind]);

  gtk_label_set_text (self->probe_status[kind], text);
  gtk_widget_remove_css_class (label, "success");
  gtk_widget_remove_css_class (label, "error");
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
}

static void
probe_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ProbeClosure *closure = user_data;
  TincanInspectorPane *self = closure->self;
  TincanProbeKind kind = closure->kind;
  g_autoptr (TincanProbeResult) probe_result = NULL;
  g_autoptr (GError) error = NULL;

  probe_result = tincan_probe_run_finish (TINCAN_CONNECTION (source), result, &error);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self->probe_running[kind] = FALSE;
      if (probe_result == NULL)
        {
          set_probe_status (self, kind, _("Could not run"), "error");
          gtk_label_set_text (self->probe_evidence[kind], error->message);
        }
      else
        {
          g_autofree char *text = NULL;
          gboolean passed = tincan_probe_result_get_passed (probe_result);

          set_probe_status (self, kind, passed ? _("Passed") : _("Failed"),
                            passed ? "success" : "error");
          text = g_strdup_printf ("%s\n\n%s", tincan_probe_result_get_summary (probe_result),
                                  tincan_probe_result_get_evidence (probe_result));
          gtk_label_set_text (self->probe_evidence[kind], text);
        }
      gtk_widget_set_visible (GTK_WIDGET (self->probe_evidence[kind]), TRUE);
      update_probes (self);
    }

  g_object_unref (closure->self);
  g_free (closure);
}

static void
probe_clicked (GtkButton           *button,
               TincanInspectorPane *self)
{
  TincanProbeKind kind = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "probe-kind"));
  ProbeClosure *closure = g_new0 (ProbeClosure, 1);

  closure->self = g_object_ref (self);
  closure->kind = kind;
  self->probe_running[kind] = TRUE;
  set_probe_status (self, kind, _("Running…"), NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->probe_evidence[kind]), FALSE);
  update_probes (self);

  tincan_probe_run_async (tincan_session_get_connection (self->session), kind,
                          self->cancellable, probe_done_cb, closure);
}

static void
build_probes (TincanInspectorPane *self)
{
  for (guint i = 0; i < N_PROBES; i++)
    {
      GtkWidget *row = gtk_list_box_row_new ();
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
      GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
      GtkWidget *title = gtk_label_new (tincan_probe_kind_get_title (i));
      GtkWidget *description = gtk_label_new (probe_description (i));
      GtkWidget *status = gtk_label_new (NULL);
      GtkWidget *button = gtk_button_new_with_mnemonic (_("_Run"));
      GtkWidget *evidence = gtk_label_new (NULL);

      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
      gtk_widget_set_margin_start (box, 12);
      gtk_widget_set_margin_end (box, 12);
      gtk_widget_set_margin_top (box, 8);
      gtk_widget_set_margin_bottom (box, 8);

      gtk_widget_set_hexpand (title, TRUE);
      gtk_label_set_xalign (GTK_LABEL (title), 0);
      gtk_widget_add_css_class (title, "heading");
      gtk_box_append (GTK_BOX (header), title);
      gtk_box_append (GTK_BOX (header), status);
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      g_object_set_data (G_OBJECT (button), "probe-kind", GUINT_TO_POINTER (i));
      g_signal_connect (button, "clicked", G_CALLBACK (probe_clicked), self);
      gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, tincan_probe_kind_get_title (i),
                                      -1);
      gtk_box_append (GTK_BOX (header), button);
      gtk_box_append (GTK_BOX (box), header);

      gtk_label_set_wrap (GTK_LABEL (description), TRUE);
      gtk_label_set_xalign (GTK_LABEL (description), 0);
      gtk_widget_add_css_class (description, "dim-label");
      gtk_widget_add_css_class (description, "caption");
      gtk_box_append (GTK_BOX (box), description);

      /* Server-controlled text (error codes, ids): never markup. */
      gtk_label_set_use_markup (GTK_LABEL (evidence), FALSE);
      gtk_label_set_wrap (GTK_LABEL (evidence), TRUE);
      gtk_label_set_wrap_mode (GTK_LABEL (evidence), PANGO_WRAP_WORD_CHAR);
      gtk_label_set_selectable (GTK_LABEL (evidence), TRUE);
      gtk_label_set_xalign (GTK_LABEL (evidence), 0);
      gtk_widget_add_css_class (evidence, "monospace");
      gtk_widget_add_css_class (evidence, "caption");
      gtk_widget_set_visible (evidence, FALSE);
      gtk_box_append (GTK_BOX (box), evidence);

      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
      gtk_list_box_append (self->probes_list, row);

      self->probe_buttons[i] = GTK_BUTTON (button);
      self->probe_status[i] = GTK_LABEL (status);
      self->probe_evidence[i] = GTK_LABEL (evidence);
    }
}

static void
drop_clicked (TincanInspectorPane *self)
{
  tincan_connection_simulate_drop (tincan_session_get_connection (self->session));
}

static void
offline_clicked (TincanInspectorPane *self)
{
  TincanConnection *connection = tincan_session_get_connection (self->session);

  if (tincan_connection_get_simulated_offline (connection))
    tincan_connection_simulate_offline_for (connection, 0);
  else
    tincan_connection_simulate_offline_for (connection,
                                            (guint) gtk_spin_button_get_value_as_int (self->offline_spin));
}

static void
setup_network (TincanInspectorPane *self)
{
  TincanConnection *connection = tincan_session_get_connection (self->session);

  if (connection == NULL)
    return;

  g_object_bind_property (connection, "simulated-latency",
                          gtk_spin_button_get_adjustment (self->latency_spin), "value",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_signal_connect_object (connection, "notify::state", G_CALLBACK (update_probes), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (connection, "notify::protocol", G_CALLBACK (update_probes), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (connection, "notify::simulated-offline", G_CALLBACK (update_probes), self,
                           G_CONNECT_SWAPPED);
}

/* GObject */

static void
tincan_inspector_pane_constructed (GObject *object)
{
  TincanInspectorPane *self = TINCAN_INSPECTOR_PANE (object);
  TincanTimeline *timeline;
  GtkListItemFactory *factory;
  GtkColumnViewColumn *column;

  G_OBJECT_CLASS (tincan_inspector_pane_parent_class)->constructed (object);

  g_return_if_fail (TINCAN_IS_SESSION (self->session));

  /* Frames */
  self->filter = tincan_frame_filter_new ();
  self->custom_filter = gtk_custom_filter_new (custom_filter_match, g_object_ref (self->filter),
                                               g_object_unref);
  g_signal_connect_object (self->filter, "changed", G_CALLBACK (on_filter_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->filter, "notify::regex-error", G_CALLBACK (on_regex_error), self,
                           G_CONNECT_SWAPPED);
  self->batcher = g_object_new (TINCAN_TYPE_FRAME_BATCHER, NULL);
  self->batcher->pending_func = on_batcher_pending;
  self->batcher->pending_data = self;
  self->filter_model = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->batcher)),
                                                  g_object_ref (GTK_FILTER (self->custom_filter)));
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->filter_model)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect_object (self->selection, "notify::selected-item", G_CALLBACK (on_selection_changed),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->filter_model, "items-changed", G_CALLBACK (on_frames_changed), self,
                           G_CONNECT_SWAPPED);
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));

  {
    GtkColumnViewColumn *column_time;
    g_autoptr (GMenu) menu = g_menu_new ();

    g_menu_append (menu, _("Relative to Connection _Start"), "inspector.relative-to-start");

    column_time = add_column (self, self->column_view, _("Time"), "numeric", G_CALLBACK (bind_time), FALSE);
    gtk_column_view_column_set_header_menu (column_time, G_MENU_MODEL (menu));

    self->delta_factory = label_factory (self, "numeric", G_CALLBACK (bind_delta));
    self->since_start_factory = label_factory (self, "numeric", G_CALLBACK (bind_since_start));
    /* Translators: column: time since the previous frame */
    self->relative_column = gtk_column_view_column_new (_("Δ Previous"), g_object_ref (self->delta_factory));
    gtk_column_view_column_set_header_menu (self->relative_column, G_MENU_MODEL (menu));
    gtk_column_view_column_set_resizable (self->relative_column, TRUE);
    gtk_column_view_append_column (self->column_view, self->relative_column);
    g_object_unref (self->relative_column);
  }
  add_column (self, self->column_view, _("Dir"), NULL, G_CALLBACK (bind_direction), FALSE);
  add_column (self, self->column_view, _("Opcode"), NULL, G_CALLBACK (bind_opcode), FALSE);
  add_column (self, self->column_view, _("Size"), "numeric", G_CALLBACK (bind_size), FALSE);
  add_column (self, self->column_view, _("Preview"), "mono", G_CALLBACK (bind_preview), TRUE);

  self->log_bindings = g_binding_group_new ();
  g_binding_group_bind (self->log_bindings, "paused", self->pause_toggle, "active",
                        G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  self->log_signals = g_signal_group_new (TINCAN_TYPE_FRAME_LOG);
  g_signal_group_connect_swapped (self->log_signals, "notify::n-pending", G_CALLBACK (on_count_changed), self);
  g_signal_group_connect_swapped (self->log_signals, "notify::n-evicted", G_CALLBACK (on_count_changed), self);
  g_signal_group_connect_swapped (self->log_signals, "notify::paused", G_CALLBACK (on_log_paused), self);
  set_shown_log (self, tincan_session_get_frame_log (self->session), FALSE);

  /* Timeline */
  timeline = tincan_session_get_timeline (self->session);
  gtk_column_view_set_model (self->timeline_view,
                             GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (timeline)))));
  g_object_unref (gtk_column_view_get_model (self->timeline_view));
  add_column (self, self->timeline_view, _("Time"), "numeric", G_CALLBACK (bind_event_time), FALSE);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_label), (gpointer) "wrap");
  g_signal_connect (factory, "bind", G_CALLBACK (bind_event_description), NULL);
  column = gtk_column_view_column_new (_("Event"), factory);
  gtk_column_view_column_set_expand (column, TRUE);
  gtk_column_view_append_column (self->timeline_view, column);
  g_object_unref (column);

  g_signal_connect_object (timeline, "items-changed", G_CALLBACK (on_timeline_items_changed), self,
                           G_CONNECT_SWAPPED);
  update_connect_times (self);

  /* Probes and network */
  build_probes (self);
  setup_network (self);
  update_probes (self);

  /* Stats */
  build_stats (self);
  g_signal_connect_object (tincan_session_get_delivery_stats (self->session), "notify",
                           G_CALLBACK (update_stats), self, G_CONNECT_SWAPPED);
  update_stats (self);

  /* Templates */
  if (self->templates_path == NULL)
    {
      TincanStore *store = tincan_connection_get_store (tincan_session_get_connection (self->session));
      const char *store_path = store != NULL ? tincan_store_get_path (store) : NULL;
      g_autofree char *dir = store_path != NULL ? g_path_get_dirname (store_path) : tincan_store_get_default_dir ();

      self->templates_path = g_build_filename (dir, "templates.ini", NULL);
    }
  reload_template_names (self);
  {
    g_autoptr (GFile) file = g_file_new_for_path (self->templates_path);

    g_file_load_contents_async (file, self->cancellable, templates_loaded_cb, g_object_ref (self));
  }
  update_composer_kind (self);

  update_count (self);
}

static void
tincan_inspector_pane_dispose (GObject *object)
{
  TincanInspectorPane *self = TINCAN_INSPECTOR_PANE (object);

  g_cancellable_cancel (self->cancellable);
  cancel_publication (self);
  on_pane_unrealize (self);
  if (self->batcher != NULL)
    self->batcher->pending_func = NULL;
  if (self->column_view != NULL)
    gtk_column_view_set_model (self->column_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), TINCAN_TYPE_INSPECTOR_PANE);
  g_clear_object (&self->log_bindings);
  g_clear_object (&self->log_signals);
  g_clear_object (&self->selection);
  g_clear_object (&self->filter_model);
  g_clear_object (&self->batcher);
  g_clear_object (&self->custom_filter);
  g_clear_object (&self->filter);
  g_clear_object (&self->detail_record);
  g_clear_object (&self->shown_log);
  g_clear_object (&self->template_names);
  g_clear_object (&self->delta_factory);
  g_clear_object (&self->since_start_factory);
  self->relative_column = NULL;
  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (tincan_inspector_pane_parent_class)->dispose (object);
}

static void
tincan_inspector_pane_finalize (GObject *object)
{
  TincanInspectorPane *self = TINCAN_INSPECTOR_PANE (object);

  g_clear_pointer (&self->templates_path, g_free);
  g_clear_pointer (&self->connect_times, g_array_unref);
  g_clear_pointer (&self->templates, g_key_file_unref);
  g_clear_pointer (&self->template_groups, g_ptr_array_unref);

  G_OBJECT_CLASS (tincan_inspector_pane_parent_class)->finalize (object);
}

static void
tincan_inspector_pane_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  TincanInspectorPane *self = TINCAN_INSPECTOR_PANE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;

    case PROP_TEMPLATES_PATH:
      g_value_set_string (value, self->templates_path);
      break;

    case PROP_VIEWING_IMPORT:
      g_value_set_boolean (value, self->viewing_import);
      break;

    case PROP_RELATIVE_TO_START:
      g_value_set_boolean (value, self->relative_to_start);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_inspector_pane_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  TincanInspectorPane *self = TINCAN_INSPECTOR_PANE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;

    case PROP_TEMPLATES_PATH:
      g_free (self->templates_path);
      self->templates_path = g_value_dup_string (value);
      break;

    case PROP_RELATIVE_TO_START:
      set_relative_to_start (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tincan_inspector_pane_class_init (TincanInspectorPaneClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = tincan_inspector_pane_constructed;
  object_class->dispose = tincan_inspector_pane_dispose;
  object_class->finalize = tincan_inspector_pane_finalize;
  object_class->get_property = tincan_inspector_pane_get_property;
  object_class->set_property = tincan_inspector_pane_set_property;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, TINCAN_TYPE_SESSION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TEMPLATES_PATH] =
    g_param_spec_string ("templates-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_VIEWING_IMPORT] =
    g_param_spec_boolean ("viewing-import", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RELATIVE_TO_START] =
    g_param_spec_boolean ("relative-to-start", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_property_action (widget_class, "inspector.relative-to-start", "relative-to-start");

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "inspector");
  g_type_ensure (ADW_TYPE_ACTION_ROW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/tincan/Tincan/ui/tincan-inspector-pane.ui");
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, root_box);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, import_revealer);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, import_label);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, live_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, page_stack);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, regex_toggle);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, direction_dropdown);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, opcode_box);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, hide_control_check);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, json_type_entry);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, regex_error_label);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, frames_scroller);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, column_view);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, detail_title);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, copy_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, detail_label);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, pause_toggle);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, clear_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, count_label);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, export_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, import_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, template_dropdown);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, save_template_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, delete_template_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, kind_dropdown);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, payload_frame);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, payload_view);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, text_var_entry);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, close_box);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, close_code_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, close_reason_entry);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, composer_error_label);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, send_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, timeline_view);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, stats_list);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, reset_stats_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, probes_list);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, latency_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, drop_button);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, offline_spin);
  gtk_widget_class_bind_template_child (widget_class, TincanInspectorPane, offline_button);
}

static void
tincan_inspector_pane_init (TincanInspectorPane *self)
{
  GtkAdjustment *vadjustment;

  self->connect_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->templates = g_key_file_new ();
  self->template_names = gtk_string_list_new (NULL);
  self->template_groups = g_ptr_array_new_with_free_func (g_free);
  self->cancellable = g_cancellable_new ();
  self->stick_to_bottom = TRUE;

  gtk_widget_init_template (GTK_WIDGET (self));

  for (guint i = 0; i < G_N_ELEMENTS (opcode_filters); i++)
    {
      GtkWidget *check = gtk_check_button_new_with_label (_(opcode_filters[i].label));

      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
      g_signal_connect_swapped (check, "toggled", G_CALLBACK (on_opcode_toggled), self);
      gtk_flow_box_append (self->opcode_box, check);
      self->opcode_checks[i] = GTK_CHECK_BUTTON (check);
    }

  g_signal_connect_swapped (self->search_entry, "search-changed", G_CALLBACK (apply_search), self);
  g_signal_connect_swapped (self->regex_toggle, "toggled", G_CALLBACK (apply_search), self);
  g_signal_connect_swapped (self->direction_dropdown, "notify::selected",
                            G_CALLBACK (on_direction_selected), self);
  g_signal_connect_swapped (self->json_type_entry, "changed", G_CALLBACK (on_json_type_changed), self);
  g_signal_connect_swapped (self->pause_toggle, "toggled", G_CALLBACK (on_pause_toggled), self);
  g_signal_connect_swapped (self->clear_button, "clicked", G_CALLBACK (clear_clicked), self);
  g_signal_connect_swapped (self->copy_button, "clicked", G_CALLBACK (copy_clicked), self);
  g_signal_connect_swapped (self->export_button, "clicked", G_CALLBACK (export_clicked), self);
  g_signal_connect_swapped (self->import_button, "clicked", G_CALLBACK (import_clicked), self);
  g_signal_connect_swapped (self->live_button, "clicked", G_CALLBACK (live_clicked), self);
  g_signal_connect_swapped (self->kind_dropdown, "notify::selected", G_CALLBACK (update_composer_kind), self);
  g_signal_connect_swapped (self->send_button, "clicked", G_CALLBACK (send_clicked), self);
  g_signal_connect_swapped (self->save_template_button, "clicked", G_CALLBACK (save_template_clicked), self);
  g_signal_connect_swapped (self->delete_template_button, "clicked", G_CALLBACK (delete_template_clicked), self);
  g_signal_connect_swapped (self->reset_stats_button, "clicked", G_CALLBACK (reset_stats_clicked), self);
  g_signal_connect_swapped (self->drop_button, "clicked", G_CALLBACK (drop_clicked), self);
  g_signal_connect_swapped (self->offline_button, "clicked", G_CALLBACK (offline_clicked), self);

  gtk_drop_down_set_model (self->template_dropdown, G_LIST_MODEL (self->template_names));
  g_signal_connect_swapped (self->template_dropdown, "notify::selected", G_CALLBACK (on_template_selected), self);

  vadjustment = gtk_scrolled_window_get_vadjustment (self->frames_scroller);
  g_signal_connect (vadjustment, "value-changed", G_CALLBACK (on_vadjustment_value_changed), self);
  g_signal_connect (self, "realize", G_CALLBACK (on_pane_realize), NULL);
  g_signal_connect (self, "unrealize", G_CALLBACK (on_pane_unrealize), NULL);
  g_signal_connect (self, "map", G_CALLBACK (on_pane_map), NULL);
  g_signal_connect (self, "unmap", G_CALLBACK (on_pane_unmap), NULL);

  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (on_dark_changed), self, G_CONNECT_SWAPPED);
}

GtkWidget *
tincan_inspector_pane_new (TincanSession *session)
{
  g_return_val_if_fail (TINCAN_IS_SESSION (session), NULL);

  return g_object_new (TINCAN_TYPE_INSPECTOR_PANE, "session", session, NULL);
}

TincanSession *
tincan_inspector_pane_get_session (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->session;
}

GtkSelectionModel *
tincan_inspector_pane_get_model (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return GTK_SELECTION_MODEL (self->selection);
}

GtkColumnView *
tincan_inspector_pane_get_column_view (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->column_view;
}

TincanFrameFilter *
tincan_inspector_pane_get_filter (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->filter;
}

TincanFrameLog *
tincan_inspector_pane_get_frame_log (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->shown_log;
}

GtkLabel *
tincan_inspector_pane_get_detail_label (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->detail_label;
}

void
tincan_inspector_pane_select (TincanInspectorPane *self,
                              guint                position)
{
  g_return_if_fail (TINCAN_IS_INSPECTOR_PANE (self));

  gtk_single_selection_set_selected (self->selection, position);
}

GBytes *
tincan_inspector_pane_export_bytes (TincanInspectorPane  *self,
                                    GError              **error)
{
  g_autoptr (GOutputStream) stream = NULL;

  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  /* A memory stream: the log is read on this thread, the file written
   * asynchronously afterwards. */
  stream = g_memory_output_stream_new_resizable ();
  if (!tincan_frame_log_export (self->shown_log, stream, error) ||
      !g_output_stream_close (stream, NULL, error))
    return NULL;

  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (stream));
}

gboolean
tincan_inspector_pane_import_bytes (TincanInspectorPane  *self,
                                    GBytes               *contents,
                                    GError              **error)
{
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (TincanFrameLog) log = NULL;

  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), FALSE);
  g_return_val_if_fail (contents != NULL, FALSE);

  log = tincan_frame_log_new (tincan_frame_log_get_capacity (tincan_session_get_frame_log (self->session)));
  stream = g_memory_input_stream_new_from_bytes (contents);
  if (!tincan_frame_log_import (log, stream, error))
    return FALSE;
  tincan_frame_log_flush (log);

  gtk_label_set_text (self->import_label, _("Viewing an imported file"));
  set_shown_log (self, log, TRUE);

  return TRUE;
}

void
tincan_inspector_pane_show_live (TincanInspectorPane *self)
{
  g_return_if_fail (TINCAN_IS_INSPECTOR_PANE (self));

  set_shown_log (self, tincan_session_get_frame_log (self->session), FALSE);
}

gboolean
tincan_inspector_pane_get_viewing_import (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), FALSE);

  return self->viewing_import;
}

GtkButton *
tincan_inspector_pane_get_probe_button (TincanInspectorPane *self,
                                        TincanProbeKind      kind)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);
  g_return_val_if_fail (kind < N_PROBES, NULL);

  return self->probe_buttons[kind];
}

GtkLabel *
tincan_inspector_pane_get_probe_status_label (TincanInspectorPane *self,
                                              TincanProbeKind      kind)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);
  g_return_val_if_fail (kind < N_PROBES, NULL);

  return self->probe_status[kind];
}

GtkLabel *
tincan_inspector_pane_get_probe_evidence_label (TincanInspectorPane *self,
                                                TincanProbeKind      kind)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);
  g_return_val_if_fail (kind < N_PROBES, NULL);

  return self->probe_evidence[kind];
}

GtkSpinButton *
tincan_inspector_pane_get_latency_spin (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->latency_spin;
}

GtkButton *
tincan_inspector_pane_get_drop_button (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return GTK_BUTTON (self->drop_button);
}

GtkButton *
tincan_inspector_pane_get_offline_button (TincanInspectorPane *self)
{
  g_return_val_if_fail (TINCAN_IS_INSPECTOR_PANE (self), NULL);

  return self->offline_button;
}
