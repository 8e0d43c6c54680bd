/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Shared by the inspector's models (frame log, timeline, delivery stats). */
gboolean _tincan_signal_has_signature (gpointer     instance,
                                       const char  *name,
                                       guint        n_params,
                                       const GType *params);

G_END_DECLS
