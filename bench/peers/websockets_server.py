#!/usr/bin/env python3
"""Peer: a Python `websockets` broadcast server doing the job of bench/broadcast.yaml.

At --rate events/s (or --max: as fast as every client's write buffer drains), from the first connection on,
sends bench/peers/message.py's ~200-byte JSON message to every connected client.
"""
import asyncio
import time

from message import HIGH_WATER, arguments, make
from websockets.asyncio.server import broadcast, serve

CLIENTS = set()
FIRST = asyncio.Event()


async def handler(ws):
    CLIENTS.add(ws)
    FIRST.set()
    try:
        async for _ in ws:
            pass
    except Exception:
        pass
    finally:
        CLIENTS.discard(ws)


async def fixed_rate(rate):
    await FIRST.wait()
    start = time.monotonic()
    k = 0
    while True:
        due = int((time.monotonic() - start) * rate) + 1
        while k < due:
            broadcast(CLIENTS, make(k + 1, k / rate))
            k += 1
        await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))


async def as_fast_as_read():
    await FIRST.wait()
    start = time.monotonic()
    k = 0
    while True:
        if not CLIENTS:
            await asyncio.sleep(0.01)
            continue
        broadcast(CLIENTS, make(k + 1, time.monotonic() - start))
        k += 1
        if k % 16 == 0:
            while any(ws.transport.get_write_buffer_size() > HIGH_WATER for ws in list(CLIENTS)):
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)


async def main():
    args = arguments(__doc__)
    async with serve(handler, args.host, args.port, compression=None, max_queue=None, ping_interval=None):
        print(f"listening on ws://{args.host}:{args.port}", flush=True)
        if args.max:
            await as_fast_as_read()
        elif args.rate > 0:
            await fixed_rate(args.rate)
        else:
            await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
