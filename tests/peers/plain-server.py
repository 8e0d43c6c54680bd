# SPDX-License-Identifier: GPL-3.0-or-later
"""A plain WebSocket echo/broadcast server (python3-websockets) for the
tests of Tincan's `plain` dialect.

Every text frame is sent to every connected client, the sender included.
The text "!binary" is answered with a binary frame of 4 bytes. Prints
"PORT <n>" once listening on 127.0.0.1; exits when stdin closes.
"""

import asyncio
import sys

try:
    import websockets
except ImportError:
    print("SKIP python3-websockets")
    sys.exit(77)

clients = set()


async def handler(ws, path=None):
    clients.add(ws)
    try:
        async for message in ws:
            if isinstance(message, bytes):
                await ws.send(message)
            elif message == "!binary":
                await ws.send(b"\x00\x01\xfe\xff")
            else:
                print("TEXT", len(message.encode()), flush=True)
                for client in list(clients):
                    try:
                        await client.send(message)
                    except websockets.ConnectionClosed:
                        pass
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
