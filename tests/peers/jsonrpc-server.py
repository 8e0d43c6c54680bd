# SPDX-License-Identifier: GPL-3.0-or-later
"""A JSON-RPC 2.0 chat server (python3-websockets) for the tests of
Tincan's `jsonrpc` dialect.

Method "send" (params {room, text, cid, user}) answers {"id": ...} and
notifies every client with method "message" (the sender included); a
repeated cid is answered with the original id and not notified again.
Text "!fail" is answered with error -32001 "Refused by the test server";
text "!silent" is never answered. Prints "PORT <n>" once listening on
127.0.0.1, "NOTIFY <cid>" for each notification; exits when stdin closes.
"""

import asyncio
import json
import sys

try:
    import websockets
except ImportError:
    print("SKIP python3-websockets")
    sys.exit(77)

clients = set()
seen = {}


async def handle(ws, request):
    rid = request.get("id")
    method = request.get("method")
    params = request.get("params") or {}
    if method != "send" or not isinstance(params, dict):
        return {"jsonrpc": "2.0", "id": rid,
                "error": {"code": -32601, "message": "Method not found"}}
    text = params.get("text")
    cid = params.get("cid")
    if text == "!silent":
        return None
    if text == "!fail":
        return {"jsonrpc": "2.0", "id": rid,
                "error": {"code": -32001, "message": "Refused by the test server"}}
    if cid in seen:
        return {"jsonrpc": "2.0", "id": rid, "result": {"id": seen[cid]}}
    mid = "m%d" % (len(seen) + 1)
    seen[cid] = mid
    note = {"jsonrpc": "2.0", "method": "message",
            "params": {"room": params.get("room"), "user": params.get("user"),
                       "text": text, "cid": cid, "id": mid}}
    print("NOTIFY", cid, flush=True)
    for client in list(clients):
        try:
            await client.send(json.dumps(note))
        except websockets.ConnectionClosed:
            pass
    return {"jsonrpc": "2.0", "id": rid, "result": {"id": mid}}


async def handler(ws, path=None):
    clients.add(ws)
    try:
        async for message in ws:
            try:
                request = json.loads(message)
            except ValueError:
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": None,
                                          "error": {"code": -32700, "message": "Parse error"}}))
                continue
            answer = await handle(ws, request)
            if answer is not None:
                await ws.send(json.dumps(answer))
    finally:
        clients.discard(ws)


async def main():
    server = await websockets.serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print("PORT", port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
