#!/usr/bin/env python3
"""Peer: a picows broadcast server doing the job of bench/broadcast.yaml.

At --rate events/s (or --max: as fast as every client's write buffer drains), from the first connection on,
sends bench/peers/message.py's ~200-byte JSON message, encoded once, to every connected client.
"""
import asyncio
import time

from message import HIGH_WATER, arguments, make
from picows import WSListener, WSMsgType, ws_create_server

CLIENTS = set()
FIRST = asyncio.Event()


class Listener(WSListener):
    def on_ws_connected(self, transport):
        CLIENTS.add(transport)
        FIRST.set()

    def on_ws_frame(self, transport, frame):
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport):
        CLIENTS.discard(transport)


def broadcast(data):
    for t in list(CLIENTS):
        t.send(WSMsgType.TEXT, data)


async def fixed_rate(rate):
    await FIRST.wait()
    start = time.monotonic()
    k = 0
    while True:
        due = int((time.monotonic() - start) * rate) + 1
        while k < due:
            broadcast(make(k + 1, k / rate).encode())
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
        broadcast(make(k + 1, time.monotonic() - start).encode())
        k += 1
        if k % 16 == 0:
            while any(t.underlying_transport.get_write_buffer_size() > HIGH_WATER for t in list(CLIENTS)):
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)


async def main():
    args = arguments(__doc__)
    server = await ws_create_server(lambda request: Listener(), args.host, args.port)
    print(f"listening on ws://{args.host}:{args.port}", flush=True)
    async with server:
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
