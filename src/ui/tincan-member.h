/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define TINCAN_TYPE_MEMBER (tincan_member_get_type ())

G_DECLARE_FINAL_TYPE (TincanMember, tincan_member, TINCAN, MEMBER, GObject)

/* A user seen in a room. Properties: name (construct-only), online. */
TincanMember *tincan_member_new        (const char   *name,
                                        gboolean      online);
const char   *tincan_member_get_name   (TincanMember *self);
gboolean      tincan_member_get_online (TincanMember *self);
void          tincan_member_set_online (TincanMember *self,
                                        gboolean      online);

G_END_DECLS
