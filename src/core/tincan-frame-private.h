/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-frame.h"

G_BEGIN_DECLS

/* Payload and nesting limits of the tincan.v1 decoder. */
#define TINCAN_V1_MAX_SIZE  (16 * 1024 * 1024)
#define TINCAN_V1_MAX_DEPTH 64
/* Largest seq / ping id: 2^53, the last integer every JSON peer holds exactly. */
#define TINCAN_V1_MAX_INT   G_GINT64_CONSTANT (9007199254740992)

/* Like tincan_v1_encode() but reports an ill-formed frame (a required
 * field unset, a value out of range, a type tincan.v1 has no frame for) as
 * a TINCAN_PROTOCOL_ERROR instead of a critical. */
char *_tincan_v1_encode_full (const TincanFrame  *frame,
                              gsize              *length,
                              GError            **error);

G_END_DECLS
