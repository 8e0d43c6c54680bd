/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-message.h"

G_BEGIN_DECLS

/* The SQLite rowid of the message in its TincanStore, 0 if not stored yet. */
gint64 _tincan_message_get_store_id (TincanMessage *self);
void   _tincan_message_set_store_id (TincanMessage *self,
                                     gint64         store_id);

G_END_DECLS
