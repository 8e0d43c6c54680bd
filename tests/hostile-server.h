/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A tincan.v1 server that misbehaves on purpose, for tests. It speaks raw
 * RFC 6455 on its own threads (blocking I/O, one thread per connection), so
 * it can put on the wire what no WebSocket library would send: invalid
 * UTF-8 in text frames, reserved close codes, 10 MB frames.
 *
 * It welcomes every client, stores what clients send (deduplicated by cid,
 * acked with the original id and seq on a repeat, echoed back), replays on
 * resume, and runs the armed attack once, on the next connection, right
 * after the welcome. After the attack the connection behaves sanely unless
 * the attack ends it. */

typedef enum
{
  HOSTILE_ATTACK_NONE,
  HOSTILE_ATTACK_MALFORMED,       /* bad JSON and wrong types */
  HOSTILE_ATTACK_HUGE_FRAME,      /* a 10 MB text frame */
  HOSTILE_ATTACK_BINARY,          /* binary frames where text is expected */
  HOSTILE_ATTACK_INVALID_UTF8,    /* raw invalid UTF-8 in a text frame */
  HOSTILE_ATTACK_PRESENCE_FLOOD,  /* HOSTILE_FLOOD_COUNT presence events */
  HOSTILE_ATTACK_SEQ_BACKWARDS,   /* seq going backwards, duplicate ids */
  HOSTILE_ATTACK_MARKUP,          /* Pango markup, bidi, zero-width chars */
  HOSTILE_ATTACK_LONG_LINE,       /* HOSTILE_LONG_LINE_BYTES without a newline */
  HOSTILE_ATTACK_CLOSE_999,       /* close codes outside the valid range */
  HOSTILE_ATTACK_CLOSE_5000,
  HOSTILE_ATTACK_CLOSE_1005,
} HostileAttack;

#define HOSTILE_FLOOD_COUNT 50000
#define HOSTILE_HUGE_BYTES (10 * 1024 * 1024)
#define HOSTILE_LONG_LINE_BYTES 1000000
#define HOSTILE_N_MALFORMED 12

/* The names and texts the markup attack sends (sender, text pairs). */
#define HOSTILE_N_MARKUP 4
extern const char * const hostile_markup[HOSTILE_N_MARKUP][2];

typedef struct _HostileServer HostileServer;

HostileServer *hostile_server_new             (void);
void           hostile_server_free            (HostileServer *self);
char          *hostile_server_dup_url         (HostileServer *self);
/* Arms @attack for the next connection that says hello. */
void           hostile_server_arm             (HostileServer *self,
                                               HostileAttack  attack);
/* Attacks written to the wire completely (or until the peer went away). */
guint          hostile_server_get_attacks_done (HostileServer *self);
guint          hostile_server_get_connections (HostileServer *self);
/* Messages stored from clients, and how many of them carry @cid. */
guint          hostile_server_get_stored      (HostileServer *self);
guint          hostile_server_count_cid       (HostileServer *self,
                                               const char    *cid);
/* Seq of the stored message with @cid, 0 if none. */
gint64         hostile_server_get_seq_of      (HostileServer *self,
                                               const char    *cid);

const char    *hostile_attack_name            (HostileAttack  attack);

G_END_DECLS
