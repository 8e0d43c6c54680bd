# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue #8, target 1, the Python peer: a python3-websockets client that
says hello to blaster.js and receives COUNT messages, parsing each frame's
JSON and keeping its text. Prints one line:
  RATE <messages per second> <messages> <seconds>
timed from the hello to the COUNT-th message.

Usage: /usr/bin/python3 receive-python.py URL COUNT
"""

import asyncio
import json
import sys
import time

try:
    import websockets
except ImportError:
    print("SKIP python3-websockets not installed")
    sys.exit(77)


async def main(url, count):
    texts = []
    async with websockets.connect(url, subprotocols=["tincan.v1"], compression=None,
                                  max_size=1 << 20, max_queue=None) as ws:
        start = time.monotonic()
        await ws.send(json.dumps({"type": "hello", "user": "python"}))
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") != "message":
                continue
            texts.append(msg["text"])
            if len(texts) == count:
                seconds = time.monotonic() - start
                print(f"RATE {count / seconds:.0f} {count} {seconds:.3f}", flush=True)
                return


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
