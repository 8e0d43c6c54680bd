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

/* The token the next attempt would use (the provider's answer), or NULL:
 * for a second, probe-owned connection to the same server. */
char *_tincan_connection_dup_token (TincanConnection *self);

/* Replaces the TLS trust (the system's by default): for tests that trust
 * a test CA. NULL restores the system's. */
void _tincan_connection_set_tls_database (TincanConnection *self,
                                          GTlsDatabase     *database);

G_END_DECLS
