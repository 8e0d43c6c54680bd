# SPDX-License-Identifier: GPL-3.0-or-later
"""A third-party tincan.v1 client (Python websockets) against tincan-server.

Usage: /usr/bin/python3 python-client.py PATH/TO/tincan-server
Prints TAP. Starts the server on a free port, talks to it with two
clients and stops it with SIGTERM.
"""

import asyncio
import json
import signal
import sys
import traceback
import uuid

try:
    import websockets
except ImportError:
    print("1..0 # SKIP python3-websockets not installed")
    sys.exit(0)

TIMEOUT = 10


class Checks:
    """Runs named steps in order and prints TAP for each."""

    def __init__(self, names):
        self.names = names
        self.index = 0
        self.failed = False
        print(f"1..{len(names)}", flush=True)

    def ok(self, name):
        assert self.names[self.index] == name, (self.names[self.index], name)
        self.index += 1
        print(f"ok {self.index} - {name}", flush=True)

    def fail_rest(self, error):
        self.failed = True
        for line in "".join(traceback.format_exception(error)).splitlines():
            print(f"# {line}", flush=True)
        while self.index < len(self.names):
            self.index += 1
            print(f"not ok {self.index} - {self.names[self.index - 1]}", flush=True)


NAMES = [
    "server prints its listening line",
    "connects with subprotocol tincan.v1",
    "hello gets a welcome",
    "members and presence on connect",
    "send gets an ack",
    "every member gets the messages in seq order",
    "a repeated cid gets the original ack",
    "a repeated cid is not broadcast again",
    "ping gets pong",
    "WebSocket ping gets a pong",
    "a malformed frame gets bad_request and the connection stays",
    "SIGTERM closes clients with 1001 and exits 0",
]


async def recv(ws, skip=("presence", "members")):
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame.get("type") not in skip:
            return frame


async def expect(ws, kind, skip=("presence", "members")):
    frame = await recv(ws, skip)
    assert frame.get("type") == kind, f"expected {kind}, got {frame!r}"
    return frame


async def send(ws, **frame):
    await ws.send(json.dumps(frame))


async def hello(ws, user):
    await send(ws, type="hello", user=user)
    welcome = await expect(ws, "welcome", skip=())
    assert welcome["user"] == user, welcome
    assert welcome["rooms"] == ["lobby"], welcome
    assert welcome["heartbeat"] == 20, welcome
    assert isinstance(welcome["session"], str) and welcome["session"], welcome
    return welcome


async def run(server_bin, checks):
    proc = await asyncio.create_subprocess_exec(
        server_bin, "--port", "0", stdout=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        prefix = "listening on "
        assert line.startswith(prefix + "ws://127.0.0.1:"), line
        assert line.endswith("/ws\n"), line
        uri = line[len(prefix):].strip()
        checks.ok(NAMES[0])

        async with websockets.connect(uri, subprotocols=["tincan.v1"]) as alice, \
                websockets.connect(uri, subprotocols=["tincan.v1"]) as bob:
            assert alice.subprotocol == "tincan.v1", alice.subprotocol
            assert bob.subprotocol == "tincan.v1", bob.subprotocol
            checks.ok(NAMES[1])

            await hello(alice, "alice")
            members = await expect(alice, "members", skip=())
            assert members["users"] == ["alice"], members
            await hello(bob, "bob")
            checks.ok(NAMES[2])

            members = await expect(bob, "members", skip=())
            assert members["room"] == "lobby" and members["users"] == ["alice", "bob"], members
            presence = await expect(alice, "presence", skip=())
            assert presence == {"type": "presence", "room": "lobby",
                                "user": "bob", "online": True}, presence
            checks.ok(NAMES[3])

            acks = []
            seen = {alice: [], bob: []}
            for i in range(6):
                sender = alice if i % 2 == 0 else bob
                cid = str(uuid.uuid4())
                await send(sender, type="send", room="lobby", cid=cid, text=f"text {i}")
                while True:
                    frame = await recv(sender)
                    if frame["type"] == "message":
                        seen[sender].append(frame)
                        continue
                    break
                ack = frame
                assert ack["type"] == "ack" and ack["cid"] == cid, ack
                assert isinstance(ack["id"], str) and ack["id"], ack
                assert ack["ts"].endswith("Z") and len(ack["ts"]) == 24, ack
                acks.append(ack)
            assert [a["seq"] for a in acks] == list(range(1, 7)), acks
            checks.ok(NAMES[4])

            for ws in (alice, bob):
                got = seen[ws]
                while len(got) < len(acks):
                    got.append(await expect(ws, "message"))
                for i, (frame, ack) in enumerate(zip(got, acks)):
                    assert frame["seq"] == ack["seq"], (frame, ack)
                    assert frame["id"] == ack["id"] and frame["cid"] == ack["cid"], frame
                    assert frame["from"] == ("alice" if i % 2 == 0 else "bob"), frame
                    assert frame["text"] == f"text {i}", frame
                    assert frame["room"] == "lobby" and frame["ts"] == ack["ts"], frame
            checks.ok(NAMES[5])

            first = acks[0]
            await send(alice, type="send", room="lobby", cid=first["cid"], text="text 0")
            again = await expect(alice, "ack")
            for key in ("cid", "id", "seq", "ts"):
                assert again[key] == first[key], (again, first)
            checks.ok(NAMES[6])

            cid = str(uuid.uuid4())
            await send(alice, type="send", room="lobby", cid=cid, text="fresh")
            ack = await expect(alice, "ack")
            assert ack["seq"] == acks[-1]["seq"] + 1, ack
            nxt = await expect(bob, "message")
            assert nxt["cid"] == cid and nxt["text"] == "fresh", nxt
            nxt = await expect(alice, "message")
            assert nxt["cid"] == cid, nxt
            checks.ok(NAMES[7])

            await send(bob, type="ping", id=42)
            pong = await expect(bob, "pong")
            assert pong["id"] == 42, pong
            checks.ok(NAMES[8])

            waiter = await bob.ping(b"tincan")
            await asyncio.wait_for(waiter, TIMEOUT)
            checks.ok(NAMES[9])

            await bob.send("{this is not json")
            error = await expect(bob, "error")
            assert error["code"] == "bad_request" and error["message"], error
            cid = str(uuid.uuid4())
            await send(bob, type="send", room="lobby", cid=cid, text="still here")
            ack = await expect(bob, "ack")
            assert ack["cid"] == cid, ack
            checks.ok(NAMES[10])

            proc.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(proc.wait(), TIMEOUT)
            assert status == 0, status
            await asyncio.wait_for(alice.wait_closed(), TIMEOUT)
            assert alice.close_code == 1001, alice.close_code
            checks.ok(NAMES[11])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def main():
    if len(sys.argv) != 2:
        print("usage: python-client.py TINCAN-SERVER", file=sys.stderr)
        return 2
    checks = Checks(NAMES)
    try:
        asyncio.run(run(sys.argv[1], checks))
    except BaseException as error:  # report, do not crash the TAP stream
        checks.fail_rest(error)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
