/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-connection.h"

G_BEGIN_DECLS

/* Returns wall-clock time in µs since the Unix epoch. */
typedef gint64 (*TincanClockFunc) (gpointer user_data);

/* Replaces g_get_real_time() for the suspend detection (wall time running
 * ahead of monotonic time), so tests can make the wall clock jump.
 * NULL restores the real clock. */
void _tincan_connection_set_real_clock (TincanConnection *self,
                                        TincanClockFunc   func,
                                        gpointer          user_data);

G_END_DECLS
