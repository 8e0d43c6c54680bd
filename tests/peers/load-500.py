# SPDX-License-Identifier: GPL-3.0-or-later
"""Load test: many concurrent tincan.v1 clients against tincan-server.

Usage: /usr/bin/python3 load-500.py PATH/TO/tincan-server
           [CLIENTS [ROOM_MESSAGES [ROOM_SIZE [LOBBY_MESSAGES]]]] [-- SERVER-OPTION...]
(defaults 500 clients, 2 room messages, rooms of 25, 1 lobby message;
server options after "--", e.g. -- --db /tmp/load.db --rate 10).
Prints TAP and the numbers.

The shape (every connection is live and checked):

- the server runs with its default limits (rate limit off, at most 100
  rooms per connection), and --max-clients just above CLIENTS;
- all CLIENTS connect at once; each says hello, is welcomed (into the
  lobby, with every other client) and joins one room of ROOM_SIZE clients
  ("room-000", "room-001", ...; ROOM_SIZE = 0 means no rooms); all of them
  stay connected until the end;
- only when every client is welcomed and joined does anyone send: each
  client sends ROOM_MESSAGES messages to its room and LOBBY_MESSAGES to
  the lobby (one burst, all clients at once);
- every client must then get an ack for each of its messages, matching the
  seq its message was delivered with, and receive every message of its two
  rooms exactly once (by cid: lost = 0, duplicated = 0), with seq 1, 2, 3...
  in order and no gap, and no error frame.

With the defaults that is 1500 messages, 275 000 message frames delivered
and about 410 000 frames in all (125 000 of them presence, as 500 clients
join the lobby): the load-500 test, 6-15 s on 2 shared cores.
`load-500.py SERVER 500 0 0 3` is the heavier all-in-the-lobby shape
(every message to every client: 750 000 message frames, about 880 000 in
all) that the load-500-lobby benchmark runs, 15-25 s.

The Python clients share one event loop, and parsing the fan-out costs
them more CPU than the server spends producing it (the numbers printed at
the end include the server's CPU time and peak RSS).
"""

import asyncio
import json
import os
import resource
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

CONNECT_TIMEOUT = 90
DELIVERY_TIMEOUT = 120
LOBBY = "lobby"


class Client:
    def __init__(self, index, room):
        self.index = index
        self.user = f"load{index:04d}"
        self.room = room
        self.ws = None
        self.welcome = asyncio.Event()
        self.joined = asyncio.Event()
        self.done = asyncio.Event()
        self.expected = {}   # room -> number of messages expected in it
        self.received = {}   # cid -> number of times received
        self.seqs = {}       # room -> seqs in arrival order
        self.delivered_seq = {}  # cid -> seq it was delivered with
        self.acks = {}       # cid -> seq in the ack
        self.sent = []
        self.frames = 0
        self.messages = 0
        self.errors = []
        self.closed_early = False

    def check_done(self):
        if (self.expected and
                all(len(self.seqs.get(room, ())) >= n for room, n in self.expected.items()) and
                len(self.acks) >= len(self.sent)):
            self.done.set()

    async def reader(self):
        try:
            async for raw in self.ws:
                self.frames += 1
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    self.messages += 1
                    cid = frame.get("cid")
                    self.received[cid] = self.received.get(cid, 0) + 1
                    self.delivered_seq[cid] = frame["seq"]
                    self.seqs.setdefault(frame["room"], []).append(frame["seq"])
                    self.check_done()
                elif kind == "ack":
                    self.acks[frame.get("cid")] = frame.get("seq")
                    self.check_done()
                elif kind == "welcome":
                    self.welcome.set()
                elif kind == "members":
                    if frame.get("room") == self.room:
                        self.joined.set()
                elif kind == "error":
                    self.errors.append(frame)
        finally:
            if not self.done.is_set():
                self.closed_early = True
            # Wake the waiters: a dead client must fail the checks, not hang them.
            self.welcome.set()
            self.joined.set()
            self.done.set()


async def connect(client, uri):
    client.ws = await websockets.connect(uri, subprotocols=["tincan.v1"], max_size=None,
                                         open_timeout=CONNECT_TIMEOUT, ping_interval=None,
                                         max_queue=None)
    asyncio.get_running_loop().create_task(client.reader())
    await client.ws.send(json.dumps({"type": "hello", "user": client.user}))
    await client.welcome.wait()
    if client.room is None:
        client.joined.set()
    else:
        await client.ws.send(json.dumps({"type": "join", "room": client.room}))
    await client.joined.wait()
    if client.closed_early:
        raise ConnectionError(f"{client.user} was closed while connecting")


def raise_fd_limit(n_clients):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * n_clients + 64   # the server inherits it too
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def proc_numbers(pid):
    """Peak RSS (kB) and CPU seconds of a live process, from /proc."""
    rss_kb = cpu_s = None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    rss_kb = int(line.split()[1])
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
            cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return rss_kb, cpu_s


async def run(server_bin, server_args, n_clients, room_messages, room_size, lobby_messages):
    names = [
        f"{n_clients} clients connect at once, are welcomed and join their rooms",
        "every client gets an ack for each of its messages, with the seq it was delivered with",
        "every client receives every message of its rooms exactly once (lost = 0, duplicated = 0)",
        "every client receives each room's messages in seq order, without gaps",
        "no error frames, and every connection stays open to the end",
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

    raise_fd_limit(n_clients)
    wall_start = time.monotonic()
    server = await asyncio.create_subprocess_exec(
        server_bin, "--port", "0", "--max-clients", str(n_clients + 10), *server_args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        line = (await asyncio.wait_for(server.stdout.readline(), 10)).decode().strip()
        if not line.startswith("listening on "):
            print(f"Bail out! the server did not start (exit status {await server.wait()})", flush=True)
            return 1
        uri = line.split()[-1]

        def room_of(i):
            return f"room-{i // room_size:03d}" if room_size > 0 else None

        clients = [Client(i, room_of(i)) for i in range(n_clients)]
        members = {}
        for c in clients:
            if c.room is not None:
                members.setdefault(c.room, []).append(c)

        start = time.monotonic()
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(connect(c, uri) for c in clients), return_exceptions=True),
                CONNECT_TIMEOUT)
        except asyncio.TimeoutError as error:
            results = [error]
        failed = [r for r in results if isinstance(r, BaseException)]
        connect_s = time.monotonic() - start
        _, connect_cpu_s = proc_numbers(server.pid)
        if not ok(names[0], not failed,
                  f"connected and joined in {connect_s:.2f} s, {len(members)} rooms of up to "
                  f"{room_size} + the lobby" +
                  (f"; {len(failed)} failed: {failed[0]!r}" if failed else "")):
            for i in range(1, len(names)):
                ok(names[i], False)
            return 1

        # Everybody is in; now every client sends its burst.
        sent_to = {}   # cid -> room
        for c in clients:
            c.expected[LOBBY] = n_clients * lobby_messages
            if c.room is not None:
                c.expected[c.room] = len(members[c.room]) * room_messages
        start = time.monotonic()
        for m in range(max(room_messages, lobby_messages)):
            for c in clients:
                targets = ([c.room] if c.room is not None and m < room_messages else []) + \
                          ([LOBBY] if m < lobby_messages else [])
                for room in targets:
                    cid = str(uuid.uuid4())
                    c.sent.append(cid)
                    sent_to[cid] = room
                    await c.ws.send(json.dumps({"type": "send", "room": room, "cid": cid,
                                                "text": f"{c.user} says hi to {room}"}))
        try:
            await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in clients)),
                                   DELIVERY_TIMEOUT)
        except asyncio.TimeoutError:
            pass
        deliver_s = time.monotonic() - start
        rss_kb, server_cpu_s = proc_numbers(server.pid)

        total_sent = len(sent_to)
        acked = bad_ack_seq = lost = duplicated = unexpected = 0
        out_of_order = []
        for c in clients:
            rooms = set(c.expected)
            wanted = {cid for cid, room in sent_to.items() if room in rooms}
            lost += len(wanted - set(c.received))
            duplicated += sum(n - 1 for n in c.received.values() if n > 1)
            unexpected += sum(1 for cid in c.received if cid not in wanted)
            for room, n in c.expected.items():
                if c.seqs.get(room, []) != list(range(1, n + 1)):
                    out_of_order.append((c.user, room))
        # An ack's seq must be the seq every member saw the message with.
        for c in clients:
            for cid in c.sent:
                if cid in c.acks:
                    acked += 1
                    if c.acks[cid] != c.delivered_seq.get(cid):
                        bad_ack_seq += 1
        frames = sum(c.frames for c in clients)
        messages = sum(c.messages for c in clients)
        expected_messages = sum(sum(c.expected.values()) for c in clients)
        errors = sum(len(c.errors) for c in clients)
        dead = sum(1 for c in clients if c.closed_early or not c.ws.open)

        ok(names[1], acked == total_sent and bad_ack_seq == 0,
           f"{acked}/{total_sent} acks, {bad_ack_seq} with a seq other than the delivered one")
        ok(names[2], lost == 0 and duplicated == 0 and unexpected == 0 and
           messages == expected_messages,
           f"messages delivered = {messages}/{expected_messages}, lost = {lost}, "
           f"duplicated = {duplicated}, unexpected = {unexpected}")
        ok(names[3], not out_of_order,
           f"{len(out_of_order)} client rooms out of order or with gaps" +
           (f", first {out_of_order[0]}" if out_of_order else ""))
        first_error = next((c.errors[0] for c in clients if c.errors), None)
        ok(names[4], errors == 0 and dead == 0,
           f"{errors} error frames, {dead} connections closed early" +
           (f", first error {first_error}" if first_error else ""))

        await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)
        wall_s = time.monotonic() - wall_start
        print(f"# load: clients = {n_clients}, rooms = {len(members)} of {room_size} + lobby, "
              f"messages sent = {total_sent}, message frames delivered = {messages}, "
              f"frames delivered in all = {frames}, lost = {lost}, duplicated = {duplicated}", flush=True)
        print(f"# time: connect {connect_s:.2f} s, deliver {deliver_s:.2f} s "
              f"({messages / max(deliver_s, 0.001):.0f} messages/s), wall {wall_s:.2f} s; "
              f"server peak RSS = {rss_kb / 1024 if rss_kb else float('nan'):.1f} MiB, "
              f"server CPU = {server_cpu_s if server_cpu_s is not None else float('nan'):.2f} s "
              f"({connect_cpu_s if connect_cpu_s is not None else float('nan'):.2f} s of it connecting)",
              flush=True)
        return 0
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 10)
            except asyncio.TimeoutError:
                server.kill()
                await server.wait()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    args = sys.argv[2:]
    server_args = []
    if "--" in args:
        server_args = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    numbers = [int(a) for a in args[:4]]
    n_clients, room_messages, room_size, lobby_messages = numbers + [500, 2, 25, 1][len(numbers):]
    try:
        return asyncio.run(run(sys.argv[1], server_args, n_clients, room_messages, room_size,
                               lobby_messages))
    except Exception as error:  # noqa: BLE001 - report anything as TAP
        for line in "".join(traceback.format_exception(error)).splitlines():
            print(f"# {line}", flush=True)
        print("Bail out! load test crashed", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
