// SPDX-License-Identifier: GPL-3.0-or-later
// A Socket.IO v4 chat server (npm `socket.io`) for the tests of Tincan's
// `socketio` dialect.
// - auth {token, user}: token "bad" is refused (CONNECT_ERROR
//   "Not authorized: bad token").
// - event "message" {text, room, cid, user} with an ack: broadcast to all
//   as {id, cid, user, text, room} and acked with {id}; a repeated cid is
//   acked with the original id and not broadcast again.
// - text "!disconnect": the server disconnects the socket (41).
// - text "!binary": the server emits "message" with a 3-byte Buffer.
// - text starting "drop:": broadcast but not acked; the transport is closed
//   and new connections are refused for DROP_MS, so the client reconnects
//   and re-sends it (and whatever was typed meanwhile).
// Prints "PORT <n>" once listening on 127.0.0.1, "BROADCAST <cid>" per
// broadcast; exits when stdin closes.
'use strict';

let Server;
try {
  ({ Server } = require('socket.io'));
} catch (e) {
  console.log('SKIP npm socket.io (run npm ci --prefix tests/peers)');
  process.exit(77);
}
const http = require('http');

const DROP_MS = 800;
const seen = new Map();   // cid → id
let refuseUntil = 0;
let nextId = 1;

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  pingInterval: 300,
  pingTimeout: 1000,
});

// While "down", upgrades are cut (like a restarting server), not refused
// with an HTTP status a client would take as final.
const upgradeListeners = httpServer.listeners('upgrade');
httpServer.removeAllListeners('upgrade');
httpServer.on('upgrade', (req, socket, head) => {
  if (Date.now() < refuseUntil) {
    socket.destroy();
    return;
  }
  for (const listener of upgradeListeners)
    listener.call(httpServer, req, socket, head);
});

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === 'bad')
    return next(new Error('Not authorized: bad token'));
  next();
});

io.on('connection', (socket) => {
  const user = (socket.handshake.auth || {}).user || 'anonymous';
  console.log('CONNECT ' + user);

  socket.on('message', (payload, ack) => {
    const text = typeof payload === 'string' ? payload : payload && payload.text;
    const cid = payload && payload.cid;
    if (text === '!disconnect') {
      socket.disconnect(true);
      return;
    }
    if (text === '!binary') {
      socket.emit('message', Buffer.from([1, 2, 255]));
      if (typeof ack === 'function')
        ack({ id: 'bin' });
      return;
    }
    if (cid && seen.has(cid)) {
      if (typeof ack === 'function')
        ack({ id: seen.get(cid) });
      return;
    }
    const id = 'm' + nextId++;
    if (cid)
      seen.set(cid, id);
    console.log('BROADCAST ' + cid);
    io.emit('message', { id, cid, user, text, room: payload && payload.room });
    if (typeof text === 'string' && text.startsWith('drop:')) {
      refuseUntil = Date.now() + DROP_MS;
      socket.conn.close();
      return;
    }
    if (typeof ack === 'function')
      ack({ id });
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  console.log('PORT ' + httpServer.address().port);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
