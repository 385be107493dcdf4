"""permessage-deflate through `tapedeck record`, with Python `websockets` (compression on by default)
on both sides: the proxy negotiates faithfully, relays compressed frames as they are, records them
decompressed, and refuses a deflate bomb with 1009 (limits apply after decompression)."""
import asyncio
import json
import os
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.dirname(__file__))
from test_recorder_support import read_connections, read_frames, start_recorder, stop_recorder  # noqa: E402


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


MESSAGES = [json.dumps({"type": "metric", "seq": i, "host": "web-01", "pad": "x" * 2000}) for i in range(20)]


def test_compression_is_negotiated_through_the_proxy_and_recorded_in_clear(tmp_path):
    out = tmp_path / "deflate.sqlite"

    async def scenario():
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", out)
            try:
                async with connect(f"ws://{address}/ws") as ws:
                    agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
                    for m in MESSAGES:
                        await ws.send(m)
                        assert await ws.recv() == m
                    await ws.send(["frag-one ", "frag-two ", "frag-three"])
                    assert await ws.recv() == "frag-one frag-two frag-three"
                    await ws.send(b"\x00\x01" * 3000)
                    assert await ws.recv() == b"\x00\x01" * 3000
            finally:
                await stop_recorder(proc)
        return agreed

    agreed = run(scenario())
    assert agreed.startswith("permessage-deflate"), agreed
    conn = read_connections(out)[0]
    assert conn["extensions"].startswith("permessage-deflate"), "the connection records what was agreed"
    frames = [f for f in read_frames(out) if f["opcode"] in ("text", "binary")]
    texts = [bytes(f["payload"]).decode() for f in frames if f["opcode"] == "text"]
    # Every message in both directions, decompressed: as sent, and decodable.
    assert texts.count(MESSAGES[0]) == 2 and texts.count(MESSAGES[-1]) == 2
    assert texts.count("frag-one frag-two frag-three") == 2
    assert all(f["decoded"] is None or json.loads(f["decoded"])["type"] == "metric" for f in frames if f["opcode"] == "text")
    binaries = [bytes(f["payload"]) for f in frames if f["opcode"] == "binary"]
    assert binaries == [b"\x00\x01" * 3000] * 2


def test_an_upstream_without_compression_leaves_the_client_leg_uncompressed(tmp_path):
    out = tmp_path / "plain.sqlite"

    async def scenario():
        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", out)
            try:
                async with connect(f"ws://{address}/ws") as ws:
                    agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
                    await ws.send(MESSAGES[0])
                    assert await ws.recv() == MESSAGES[0]
            finally:
                await stop_recorder(proc)
        return agreed

    assert run(scenario()) is None
    assert read_connections(out)[0]["extensions"] is None
    assert [bytes(f["payload"]).decode() for f in read_frames(out) if f["opcode"] == "text"] == [MESSAGES[0]] * 2


def test_a_deflate_bomb_is_refused_with_1009_and_recorded(tmp_path):
    out = tmp_path / "bomb.sqlite"

    async def scenario():
        async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", out, "--max-message-size", "1MiB")
            try:
                async with connect(f"ws://{address}/ws", max_size=None) as ws:
                    # 16 MiB of zeros compress to a few KiB: small on the wire, too big once inflated.
                    await ws.send(b"\x00" * (16 << 20))
                    try:
                        await asyncio.wait_for(ws.recv(), 30)
                        raise AssertionError("the bomb was relayed")
                    except ConnectionClosed:
                        pass
                    code = ws.close_code
                # The recorder is still there for the next client.
                async with connect(f"ws://{address}/ws") as ws:
                    await ws.send("after")
                    assert await ws.recv() == "after"
            finally:
                await stop_recorder(proc)
        return code

    assert run(scenario()) == 1009
    first = read_connections(out)[0]
    assert "inflates to more than 1048576 bytes" in first["error"], first["error"]
