// SPDX-License-Identifier: GPL-3.0-or-later
// A pub-sub server written with npm's `ws` for the tests of Tincan's
// `json` dialect (preset pubsub):
//   {"type":"subscribe","channel":C} / {"type":"unsubscribe","channel":C}
//   {"type":"publish","channel":C,"data":D} → {"channel":C,"data":D} to
//   every subscriber of C, the sender included.
// Answers each (un)subscribe with {"type":"subscribed"|"unsubscribed",...}.
// Prints "PORT <n>" once listening on 127.0.0.1; exits when stdin closes.
'use strict';

let WebSocketServer;
try {
  ({ WebSocketServer } = require('ws'));
} catch (e) {
  console.log('SKIP npm ws (run npm ci --prefix tests/peers)');
  process.exit(77);
}

const channels = new Map();   // channel → Set of sockets
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });

server.on('connection', (ws) => {
  ws.on('message', (raw, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(raw.toString());
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', message: 'bad json' }));
      return;
    }
    const channel = msg.channel;
    if (msg.type === 'subscribe') {
      if (!channels.has(channel))
        channels.set(channel, new Set());
      channels.get(channel).add(ws);
      ws.send(JSON.stringify({ type: 'subscribed', channel }));
    } else if (msg.type === 'unsubscribe') {
      if (channels.has(channel))
        channels.get(channel).delete(ws);
      ws.send(JSON.stringify({ type: 'unsubscribed', channel }));
    } else if (msg.type === 'publish') {
      const out = JSON.stringify({ channel, data: msg.data });
      console.log('PUBLISH ' + channel);
      for (const peer of channels.get(channel) || [])
        peer.send(out);
    } else {
      ws.send(JSON.stringify({ type: 'error', message: 'unknown type' }));
    }
  });
  ws.on('close', () => {
    for (const set of channels.values())
      set.delete(ws);
  });
});

server.on('listening', () => {
  console.log('PORT ' + server.address().port);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
