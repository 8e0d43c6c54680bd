/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-store.h"

G_BEGIN_DECLS

/* Caps the database at @max_pages pages (SQLite's max_page_count), so a
 * test can make writes fail as on a full disk; 0 lifts the cap. Waits for
 * the batches in flight first. */
void _tincan_store_set_max_pages (TincanStore *self,
                                  guint        max_pages);

G_END_DECLS
