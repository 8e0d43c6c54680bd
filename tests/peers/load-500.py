# SPDX-License-Identifier: GPL-3.0-or-later
"""Load test: many concurrent tincan.v1 clients against tincan-server.

Usage: /usr/bin/python3 load-500.py PATH/TO/tincan-server [CLIENTS [MESSAGES]]
(defaults 500 clients, 3 messages each). Prints TAP and the numbers.

Starts the server on a free port, connects every client at once (each
says hello and waits for its welcome), then every client sends MESSAGES
messages to the lobby. Every client must receive every message exactly
once (nothing lost, nothing duplicated), in seq order, and an ack for
each of its own.
"""

import asyncio
import json
import os
import signal
import sys
import time
import traceback
import uuid

try:
    import websockets
except ImportError:
    print("1..0 # SKIP python3-websockets not installed")
    sys.exit(0)

CONNECT_TIMEOUT = 60
DELIVERY_TIMEOUT = 120


class Client:
    def __init__(self, index):
        self.index = index
        self.user = f"load{index:04d}"
        self.ws = None
        self.welcome = asyncio.Event()
        self.done = asyncio.Event()
        self.received = {}   # cid -> number of times received
        self.seqs = []
        self.acks = set()
        self.sent = []
        self.expected = 0
        self.frames = 0
        self.errors = []

    def check_done(self):
        if self.expected and len(self.received) >= self.expected and len(self.acks) >= len(self.sent):
            self.done.set()

    async def reader(self):
        async for raw in self.ws:
            self.frames += 1
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "welcome":
                self.welcome.set()
            elif kind == "message":
                cid = frame.get("cid")
                self.received[cid] = self.received.get(cid, 0) + 1
                self.seqs.append(frame["seq"])
                self.check_done()
            elif kind == "ack":
                self.acks.add(frame.get("cid"))
                self.check_done()
            elif kind == "error":
                self.errors.append(frame)


async def connect(client, uri):
    client.ws = await websockets.connect(uri, subprotocols=["tincan.v1"], max_size=None,
                                         open_timeout=CONNECT_TIMEOUT, ping_interval=None,
                                         max_queue=None)
    asyncio.get_running_loop().create_task(client.reader())
    await client.ws.send(json.dumps({"type": "hello", "user": client.user}))
    await client.welcome.wait()


async def run(server_bin, n_clients, n_messages):
    names = [
        f"{n_clients} clients connect and are welcomed",
        f"every client sends {n_messages} messages and gets an ack for each",
        "every client receives every message exactly once (lost = 0, duplicated = 0)",
        "every client receives the lobby's messages in seq order",
        "no error frames",
    ]
    print(f"1..{len(names)}", flush=True)
    index = 0

    def ok(name, good=True, detail=""):
        nonlocal index
        index += 1
        print(f"{'ok' if good else 'not ok'} {index} - {name}", flush=True)
        if detail:
            print(f"# {detail}", flush=True)
        return good

    server = await asyncio.create_subprocess_exec(
        server_bin, "--port", "0", "--max-clients", str(n_clients + 10),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        line = (await asyncio.wait_for(server.stdout.readline(), 10)).decode().strip()
        uri = line.split()[-1]
        clients = [Client(i) for i in range(n_clients)]

        start = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(connect(c, uri) for c in clients), return_exceptions=True),
            CONNECT_TIMEOUT)
        failed = [r for r in results if isinstance(r, BaseException)]
        connect_s = time.monotonic() - start
        if not ok(names[0], not failed,
                  f"connected in {connect_s:.2f} s" + (f"; {len(failed)} failed: {failed[0]!r}" if failed else "")):
            for i in range(1, len(names)):
                ok(names[i], False)
            return 1

        total = n_clients * n_messages
        for c in clients:
            c.expected = total
        start = time.monotonic()
        for c in clients:
            for _ in range(n_messages):
                cid = str(uuid.uuid4())
                c.sent.append(cid)
                await c.ws.send(json.dumps({"type": "send", "room": "lobby", "cid": cid,
                                            "text": f"{c.user} says hi"}))
        try:
            await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in clients)), DELIVERY_TIMEOUT)
        except asyncio.TimeoutError:
            pass
        deliver_s = time.monotonic() - start

        all_cids = {cid for c in clients for cid in c.sent}
        acked = sum(len(c.acks & set(c.sent)) for c in clients)
        lost = sum(len(all_cids - set(c.received)) for c in clients)
        duplicated = sum(n - 1 for c in clients for n in c.received.values() if n > 1)
        unexpected = sum(1 for c in clients for cid in c.received if cid not in all_cids)
        out_of_order = sum(1 for c in clients if c.seqs != sorted(c.seqs) or len(set(c.seqs)) != len(c.seqs))
        frames = sum(c.frames for c in clients)
        errors = sum(len(c.errors) for c in clients)

        ok(names[1], acked == total, f"{acked}/{total} acks")
        ok(names[2], lost == 0 and duplicated == 0 and unexpected == 0,
           f"messages checked = {total * n_clients}, lost = {lost}, duplicated = {duplicated}, "
           f"unexpected = {unexpected}; delivered in {deliver_s:.2f} s, "
           f"{frames} frames received in all ({frames / max(deliver_s + connect_s, 0.001):.0f}/s)")
        ok(names[3], out_of_order == 0, f"{out_of_order} clients saw seq out of order")
        ok(names[4], errors == 0, f"{errors} error frames" + (f", first {clients[0].errors[:1]}" if errors else ""))

        await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)
        return 0
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 10)
            except asyncio.TimeoutError:
                server.kill()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    n_clients = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    n_messages = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    try:
        return asyncio.run(run(sys.argv[1], n_clients, n_messages))
    except Exception as error:  # noqa: BLE001 - report anything as TAP
        for line in "".join(traceback.format_exception(error)).splitlines():
            print(f"# {line}", flush=True)
        print("Bail out! load test crashed", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
