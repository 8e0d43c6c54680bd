// SPDX-License-Identifier: GPL-3.0-or-later
// Issue #8, target 1: a tincan.v1 server on npm's `ws` that blasts
// messages into one room. For each connection: hello → welcome (the
// room "bench") and resumed, then COUNT message frames with seq 1..COUNT
// as fast as the socket takes them, then an idle connection.
//
//   node blaster.js COUNT     prints "PORT <n>"; exits when stdin closes
//
// The frames are encoded once, up front, so the server is not what a
// client's rate measures.
'use strict';

let WebSocketServer;
try {
  ({ WebSocketServer } = require('ws'));
} catch (e) {
  console.log('SKIP npm ws (run npm ci --prefix tests/peers)');
  process.exit(77);
}

const count = parseInt(process.argv[2] || '200000', 10);
const room = 'bench';
const frames = new Array(count);
for (let i = 0; i < count; i++) {
  frames[i] = JSON.stringify({
    type: 'message', room, seq: i + 1, id: 'm-' + (i + 1), from: 'blaster',
    text: 'message number ' + (i + 1) + ' of the flood, with a few more words',
    ts: '2026-11-22T10:00:00.000Z',
  });
}

const HIGH_WATER = 4 * 1024 * 1024;

function blast(ws) {
  let next = 0;
  const pump = () => {
    while (next < count && ws.readyState === ws.OPEN) {
      ws.send(frames[next++]);
      if (ws.bufferedAmount > HIGH_WATER) {
        // Wait for the kernel to take it: the client reads at its pace.
        ws._socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false,
                                     maxPayload: 1 << 20 });

server.on('connection', (ws) => {
  let welcomed = false;
  ws.on('message', (raw) => {
    let msg;
    try {
      msg = JSON.parse(raw.toString());
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', code: 'bad_request', message: 'bad json' }));
      return;
    }
    if (msg.type === 'hello' && !welcomed) {
      welcomed = true;
      ws.send(JSON.stringify({ type: 'welcome', session: 's', user: msg.user, rooms: [room] }));
      ws.send(JSON.stringify({ type: 'resumed', room, seq: 0, gap: false }));
      blast(ws);
    } else if (msg.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', id: msg.id }));
    }
  });
});

server.on('listening', () => {
  console.log('PORT ' + server.address().port);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
