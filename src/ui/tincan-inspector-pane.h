/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tincan-frame-filter.h"
#include "tincan-frame-log.h"
#include "tincan-probes.h"
#include "tincan-session.h"

G_BEGIN_DECLS

#define TINCAN_TYPE_INSPECTOR_PANE (tincan_inspector_pane_get_type ())

G_DECLARE_FINAL_TYPE (TincanInspectorPane, tincan_inspector_pane, TINCAN, INSPECTOR_PANE, GtkWidget)

/* The frame inspector of one session (issue #6): a GtkColumnView of the
 * session's TincanFrameLog through a TincanFrameFilter, the selected
 * frame's detail (pretty JSON coloured with attributes, never markup; a hex
 * dump for binary), pause/clear, JSON Lines export and import, a raw
 * composer with per-server templates, the connection timeline and the
 * delivery stats.
 *
 * Properties: session (TincanSession, construct-only),
 * templates-path (string, construct-only: the GKeyFile of saved templates;
 * NULL = "templates.ini" next to the session's store),
 * viewing-import (bool, read-only: an imported file is shown instead of the
 * live log), relative-to-start (bool: the relative time column counts from
 * the start of the connection attempt instead of the previous frame; the
 * "inspector.relative-to-start" action, in the time columns' header menu). */
GtkWidget         *tincan_inspector_pane_new              (TincanSession       *session);
TincanSession     *tincan_inspector_pane_get_session      (TincanInspectorPane *self);
/* The rows shown: a GtkSingleSelection over the filtered frames. */
GtkSelectionModel *tincan_inspector_pane_get_model        (TincanInspectorPane *self);
GtkColumnView     *tincan_inspector_pane_get_column_view  (TincanInspectorPane *self);
TincanFrameFilter *tincan_inspector_pane_get_filter       (TincanInspectorPane *self);
/* The log shown: the session's, or the imported one. */
TincanFrameLog    *tincan_inspector_pane_get_frame_log    (TincanInspectorPane *self);
/* The label of the selected frame's detail (plain text + attributes). */
GtkLabel          *tincan_inspector_pane_get_detail_label (TincanInspectorPane *self);
void               tincan_inspector_pane_select           (TincanInspectorPane *self,
                                                           guint                position);
/* The shown log as JSON Lines (what Export writes). */
GBytes            *tincan_inspector_pane_export_bytes     (TincanInspectorPane *self,
                                                           GError             **error);
/* Shows @contents (JSON Lines) instead of the live log; all or nothing. */
gboolean           tincan_inspector_pane_import_bytes     (TincanInspectorPane *self,
                                                           GBytes              *contents,
                                                           GError             **error);
/* Back to the session's live log. */
void               tincan_inspector_pane_show_live        (TincanInspectorPane *self);
gboolean           tincan_inspector_pane_get_viewing_import (TincanInspectorPane *self);

/* For tests and the composer: pretty-prints a JSON text and fills @attrs
 * (may be NULL) with its colouring; NULL if @json is not JSON. */
char              *tincan_inspector_format_json           (const char          *json,
                                                           gboolean             dark,
                                                           PangoAttrList       *attrs);
/* Fills {{uuid}}, {{now}} and {{text}} in @template_text; inside a JSON
 * string a value is escaped, elsewhere it becomes a quoted JSON string. */
char              *tincan_inspector_fill_template         (const char          *template_text,
                                                           const char          *text);

/* The Probes page (tests use these): the button that runs @kind (insensitive
 * with a tooltip saying why when it cannot run), its status ("Passed",
 * "Failed"…) and its summary + evidence; the Network section's added
 * latency (bound to the connection's "simulated-latency"), "Drop Now" and
 * "Go Offline" / "Back Online" (for the seconds in the spin button next to it). */
GtkButton         *tincan_inspector_pane_get_probe_button (TincanInspectorPane *self,
                                                           TincanProbeKind      kind);
GtkLabel          *tincan_inspector_pane_get_probe_status_label (TincanInspectorPane *self,
                                                           TincanProbeKind      kind);
GtkLabel          *tincan_inspector_pane_get_probe_evidence_label (TincanInspectorPane *self,
                                                           TincanProbeKind      kind);
GtkSpinButton     *tincan_inspector_pane_get_latency_spin (TincanInspectorPane *self);
GtkButton         *tincan_inspector_pane_get_drop_button  (TincanInspectorPane *self);
GtkButton         *tincan_inspector_pane_get_offline_button (TincanInspectorPane *self);

G_END_DECLS
