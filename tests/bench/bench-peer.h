/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* A tincan.v1 peer in a thread of the benchmark's process, with its own
 * main context (as a real server is another process): it welcomes the
 * first client to "lobby", answers its pings, and calls @hello in its
 * thread once the client said hello, for whatever the benchmark sends. */
typedef struct _BenchPeer BenchPeer;

typedef void (*BenchPeerHello) (BenchPeer *peer,
                                gpointer   data);
/* The text of the @seq-th frame of a flood (1, 2, …). */
typedef char *(*BenchPeerFrameFunc) (gint64   seq,
                                     gpointer data);

struct _BenchPeer
{
  GMainContext            *context;  /* the peer thread's */
  SoupWebsocketConnection *conn;     /* the client's, in the peer thread */
  guint                    port;
  guint64                  sent;       /* frames of the flood sent (atomic) */
  int                      flood_done; /* the flood is over (atomic) */

  /* private */
  GMainLoop               *loop;
  SoupServer              *server;
  GThread                 *thread;
  BenchPeerHello           hello;
  gpointer                 hello_data;
  GMutex                   lock;
  GCond                    ready;
  BenchPeerFrameFunc       frame;
  gpointer                 frame_data;
  guint                    rate;
  guint                    seconds;
  guint                    tick_ms;
  gint64                   flood_start;
  gint64                   seq;
};

/* Returns once the peer listens on 127.0.0.1:peer->port, path /ws. */
BenchPeer *bench_peer_start (BenchPeerHello  hello,
                             gpointer        data);
/* In the peer thread (from @hello): sends @rate frames a second made by
 * @frame for @seconds, on a @tick_ms timer that catches up when late. */
void       bench_peer_flood (BenchPeer          *peer,
                             guint               rate,
                             guint               seconds,
                             guint               tick_ms,
                             BenchPeerFrameFunc  frame,
                             gpointer            data);
/* Closes the client's socket, stops the thread and frees @peer. */
void       bench_peer_stop  (BenchPeer      *peer);

G_END_DECLS
