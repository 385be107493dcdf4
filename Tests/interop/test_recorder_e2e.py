"""End to end: a Python `websockets` client and server with `tapedeck record` in between.

Run from the repository root after `swift build`:
    python3 -m venv .venv && .venv/bin/pip install websockets pytest
    TAPEDECK_BIN=.build/debug/tapedeck .venv/bin/pytest Tests/interop/test_recorder_e2e.py
"""
import asyncio
import http
import json
import os
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, os.path.dirname(__file__))
from test_recorder_support import read_connections, read_frames, start_recorder, stop_recorder  # noqa: E402


async def upstream_handler(ws):
    try:
        async for message in ws:
            if isinstance(message, bytes):
                await ws.send(message[::-1])
            elif message == "please-ping":
                pong = await ws.ping(b"sping")
                await pong
                await ws.send("pinged")
            elif message.startswith("frag1"):
                await ws.send("got:" + message)
            else:
                await ws.send("echo:" + message)
    except ConnectionClosed:
        pass


def refuse_bad_token(connection, request):
    if request.headers.get("Authorization") == "Bearer bad":
        response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "nope: invalid token\n")
        response.headers["WWW-Authenticate"] = 'Bearer realm="test"'
        return response
    return None


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_records_every_frame_in_order(tmp_path):
    out = tmp_path / "session.sqlite"

    async def scenario():
        async with serve(upstream_handler, "127.0.0.1", 0, process_request=refuse_bad_token,
                         compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", out)
            try:
                url = f"ws://{address}/ws?room=blue&token=SUPERSECRET123"
                headers = {"Authorization": "Bearer TOPSECRETJWT", "Cookie": "session=COOKIESECRET; theme=dark"}
                async with connect(url, additional_headers=headers, subprotocols=["tapedeck.v1", "other"]) as ws:
                    await ws.send("hello")
                    assert await ws.recv() == "echo:hello"
                    await ws.send(b"\x00\x01\x02\xff")
                    assert await ws.recv() == b"\xff\x02\x01\x00"
                    await (await ws.ping(b"cping"))
                    await ws.send("please-ping")
                    assert await ws.recv() == "pinged"
                    await ws.send(["frag1-", "frag2-", "frag3"])
                    assert await ws.recv() == "got:frag1-frag2-frag3"
                    await ws.close(4000, "bye now")
                    assert ws.close_code == 4000
                    assert ws.close_reason == "bye now"
            finally:
                await stop_recorder(proc)

    # The upstream does not know the subprotocol: it answers without one, and that is what is relayed.
    run(scenario())

    frames = [(r["direction"], r["opcode"], r["fin"], bytes(r["payload"])) for r in read_frames(out)]
    close = (4000).to_bytes(2, "big") + b"bye now"
    assert frames == [
        ("c2s", "text", 1, b"hello"),
        ("s2c", "text", 1, b"echo:hello"),
        ("c2s", "binary", 1, b"\x00\x01\x02\xff"),
        ("s2c", "binary", 1, b"\xff\x02\x01\x00"),
        ("c2s", "ping", 1, b"cping"),
        ("s2c", "pong", 1, b"cping"),
        ("c2s", "text", 1, b"please-ping"),
        ("s2c", "ping", 1, b"sping"),
        ("c2s", "pong", 1, b"sping"),
        ("s2c", "text", 1, b"pinged"),
        ("c2s", "text", 0, b"frag1-"),
        ("c2s", "continuation", 0, b"frag2-"),
        ("c2s", "continuation", 0, b"frag3"),
        # websockets ends a message sent from an iterable with an empty final fragment.
        ("c2s", "continuation", 1, b""),
        ("s2c", "text", 1, b"got:frag1-frag2-frag3"),
        ("c2s", "close", 1, close),
        ("s2c", "close", 1, close),
    ]
    offsets = [r["offset_ns"] for r in read_frames(out)]
    assert offsets == sorted(offsets)

    [conn] = read_connections(out)
    assert conn["path"] == "/ws"
    assert conn["upgrade_status"] == 101
    assert conn["client_close_code"] == 4000 and conn["client_close_reason"] == "bye now"
    assert conn["server_close_code"] == 4000 and conn["server_close_reason"] == "bye now"
    assert "room=blue" in conn["query"] and "token=[REDACTED]" in conn["query"]
    headers = dict((k.lower(), v) for k, v in json.loads(conn["request_headers"]))
    assert headers["authorization"] == "Bearer [REDACTED]"
    assert headers["cookie"] == "session=[REDACTED]; theme=[REDACTED]"
    assert "tapedeck.v1" in headers["sec-websocket-protocol"]

    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"SUPERSECRET123", b"TOPSECRETJWT", b"COOKIESECRET"):
        assert secret not in raw


def test_relays_an_upstream_401(tmp_path):
    out = tmp_path / "refused.sqlite"

    async def scenario():
        async with serve(upstream_handler, "127.0.0.1", 0, process_request=refuse_bad_token) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", out)
            try:
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(f"ws://{address}/ws", additional_headers={"Authorization": "Bearer bad"}):
                        pass
                response = refused.value.response
                assert response.status_code == 401
                assert response.headers["WWW-Authenticate"] == 'Bearer realm="test"'
                assert response.body == b"nope: invalid token\n"
            finally:
                await stop_recorder(proc)

    run(scenario())
    [conn] = read_connections(out)
    assert conn["upgrade_status"] == 401
    assert bytes(conn["response_body"]) == b"nope: invalid token\n"
    assert read_frames(out) == []


def test_concurrent_clients_are_separate_connections(tmp_path):
    out = tmp_path / "many.sqlite"

    async def one_client(address, n):
        async with connect(f"ws://{address}/ws") as ws:
            for i in range(20):
                await ws.send(f"c{n}-m{i}")
                assert await ws.recv() == f"echo:c{n}-m{i}"

    async def scenario():
        async with serve(upstream_handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", out)
            try:
                await asyncio.gather(*(one_client(address, n) for n in range(8)))
            finally:
                await stop_recorder(proc)

    run(scenario())
    conns = read_connections(out)
    assert len(conns) == 8
    frames = read_frames(out)
    for conn in conns:
        texts = [bytes(r["payload"]).decode() for r in frames
                 if r["connection_id"] == conn["id"] and r["opcode"] == "text"]
        n = texts[0].split("-")[0]
        expected = []
        for i in range(20):
            expected += [f"{n}-m{i}", f"echo:{n}-m{i}"]
        assert texts == expected


def test_max_frames_and_max_duration_stop_cleanly(tmp_path):
    limited = tmp_path / "limited.sqlite"
    timed = tmp_path / "timed.sqlite"

    async def scenario():
        async with serve(upstream_handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", limited, "--max-frames", "5")
            async with connect(f"ws://{address}/ws") as ws:
                await ws.send("a")
                await ws.recv()
                await ws.send("b")
                await ws.recv()
                await ws.send("c")  # the fifth frame; its echo would be the sixth
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1001
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0
            assert "--max-frames reached" in out.decode()

            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/ws", timed, "--max-duration", "300ms")
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0
            assert "--max-duration reached" in out.decode()

    run(scenario())
    assert [bytes(r["payload"]) for r in read_frames(limited)] == [b"a", b"echo:a", b"b", b"echo:b", b"c"]
    assert read_frames(timed) == []


def test_bad_or_slow_upgrade_requests_are_answered_or_dropped(tmp_path):
    """Headers over the limit get 431 and garbage 400 at once; a client that never finishes its
    request (slowloris) or never sends one is dropped after --handshake-timeout."""
    async def raw(host, port, data, wait):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(data)
        await writer.drain()
        loop = asyncio.get_running_loop()
        start = loop.time()
        received = await asyncio.wait_for(reader.read(), wait)  # until the proxy closes
        writer.close()
        return received, loop.time() - start

    async def main():
        proc, address = await start_recorder("ws://127.0.0.1:9/ws", tmp_path / "bad.sqlite", "--handshake-timeout", "1s")
        host, port = address.rsplit(":", 1)
        try:
            big, t = await raw(host, port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 5)
            assert big.startswith(b"HTTP/1.1 431 "), big[:80]
            assert t < 1
            garbage, t = await raw(host, port, b"\x00\x01 not http\r\n\r\n", 5)
            assert garbage.startswith(b"HTTP/1.1 400 "), garbage[:80]
            slow, t = await raw(host, port, b"GET / HTTP/1.1\r\nHost: x\r\n", 5)
            assert slow == b"" and 0.9 < t < 4, (slow, t)
            idle, t = await raw(host, port, b"", 5)
            assert idle == b"" and 0.9 < t < 4, (idle, t)
        finally:
            await stop_recorder(proc)

    asyncio.run(main())


def test_an_origin_not_allowed_is_refused_with_403(tmp_path):
    out = tmp_path / "origin.sqlite"

    async def main():
        async with serve(upstream_handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc, address = await start_recorder(f"ws://127.0.0.1:{port}/", out, "--allow-origin", "http://localhost:3000")
            try:
                async with connect(f"ws://{address}/", origin="http://localhost:3000") as ws:
                    await ws.send("hello")
                    assert (await ws.recv()).startswith("echo:")
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(f"ws://{address}/", origin="http://evil.example"):
                        pass
                assert refused.value.response.status_code == 403
                # Not a browser: no Origin, forwarded.
                async with connect(f"ws://{address}/") as ws:
                    await ws.send("hello")
                    assert (await ws.recv()).startswith("echo:")
            finally:
                await stop_recorder(proc)

    asyncio.run(main())
    connections = read_connections(out)
    assert [c["upgrade_status"] for c in connections] == [101, 403, 101], connections
    assert "origin http://evil.example is not in --allow-origin" in connections[1]["error"]
