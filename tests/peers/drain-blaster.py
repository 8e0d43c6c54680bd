#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""How fast the blaster (blaster.js) sends to a client that costs nothing.

    /usr/bin/python3 tests/peers/drain-blaster.py [COUNT]

Starts the blaster, connects with a plain socket (a WebSocket handshake
and a hello, no frame parsing), reads in 1 MiB gulps until the last
message's seq went by, and prints messages/s for three rounds. This is
the upper bound of bench-receive's workload as the server sees it: a
client that reads faster than the blaster writes gets each frame in its
own write() and is not faster for it (on the 2-core test machine it is
slower than the clients that parse).
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def drain_round(port, count):
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            raise SystemExit("the blaster closed the connection during the handshake")
        head += data
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit("no WebSocket upgrade: %r" % head.split(b"\r\n", 1)[0])

    payload = json.dumps({"type": "hello", "user": "drain", "rooms": ["bench"]}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + \
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    last = ('"seq":%d,' % count).encode()
    tail = b""
    start = time.monotonic()
    sock.sendall(frame)
    while True:
        data = sock.recv(1 << 20)
        if not data:
            raise SystemExit("the blaster closed the connection before the last message")
        chunk = tail + data
        if last in chunk:
            break
        tail = chunk[-64:]
    elapsed = time.monotonic() - start
    sock.close()
    return count / elapsed


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    blaster = subprocess.Popen(["node", os.path.join(HERE, "blaster.js"), str(count)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = blaster.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit("the blaster did not start: %r" % line)
        port = int(line.split()[1])
        for round_ in range(3):
            print("round %d: %.0f msg/s" % (round_ + 1, drain_round(port, count)), flush=True)
    finally:
        blaster.stdin.close()
        blaster.wait()


if __name__ == "__main__":
    main()
