// SPDX-License-Identifier: GPL-3.0-or-later
// Issue #8, target 1, the node peer: an npm `ws` client that says hello to
// blaster.js and receives COUNT messages, parsing each frame's JSON and
// keeping its text (as a chat client would). Prints one line:
//   RATE <messages per second> <messages> <seconds>
// timed from the hello to the COUNT-th message.
'use strict';

let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  console.log('SKIP npm ws (run npm ci --prefix tests/peers)');
  process.exit(77);
}

const url = process.argv[2];
const count = parseInt(process.argv[3] || '200000', 10);
const texts = [];
let start = 0;

const ws = new WebSocket(url, 'tincan.v1', { perMessageDeflate: false, maxPayload: 1 << 20 });
ws.on('open', () => {
  start = process.hrtime.bigint();
  ws.send(JSON.stringify({ type: 'hello', user: 'node' }));
});
ws.on('message', (raw) => {
  const msg = JSON.parse(raw.toString());
  if (msg.type !== 'message')
    return;
  texts.push(msg.text);
  if (texts.length === count) {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`RATE ${(count / seconds).toFixed(0)} ${count} ${seconds.toFixed(3)}`);
    ws.terminate();
    process.exit(0);
  }
});
ws.on('error', (e) => {
  console.error('error: ' + e.message);
  process.exit(1);
});
