/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-server.h"

G_BEGIN_DECLS

/* For tests and fuzzing only: a client without a socket.
 *
 * A test client goes through the same frame handling as a WebSocket one,
 * but what the server sends it is appended to @replies (char*, the text of
 * each frame; the array should free its elements with g_free) and a close
 * is appended as "#close CODE REASON", which is never JSON. The server
 * counts it like any other client. Remove it with
 * _tincan_server_remove_test_client() (as if its socket had closed), or
 * leave it to the server's finalization. */
typedef struct _Client TincanServerTestClient;

TincanServerTestClient *_tincan_server_add_test_client    (TincanServer           *self,
                                                           const char             *peer,
                                                           GPtrArray              *replies);
/* A text (or binary) WebSocket message from the client, as "message". */
void                    _tincan_server_client_handle_text (TincanServerTestClient *client,
                                                           const char             *data,
                                                           gsize                   length);
void                    _tincan_server_client_handle_binary (TincanServerTestClient *client,
                                                             const guint8           *data,
                                                             gsize                   length);
void                    _tincan_server_remove_test_client (TincanServer           *self,
                                                           TincanServerTestClient *client);
/* Commits the pending batch and sends its acks and messages now. The
 * ack and broadcast of a `send` otherwise wait for the server's flush,
 * which runs in a later main-loop turn (with or without a database). */
void                    _tincan_server_flush              (TincanServer           *self);

G_END_DECLS
