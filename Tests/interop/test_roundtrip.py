"""Record → replay → record again → diff, with peers nobody here wrote.

A Python `websockets` upstream speaks first, pushes JSON and binary frames, answers the client and
closes with 4001. Its session with a Python client is recorded through `tapedeck record` (A). A is
replayed by `tapedeck replay`, and the same Python client's session with the replay is recorded
again through the proxy (B): `tapedeck diff A B` must exit 0. Upstreams that change one field, or
insert one message, must make `diff` exit 1 and say where, without a cascade.
"""
import asyncio
import json
import os
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.dirname(__file__))
from conftest import replay, run, tapedeck  # noqa: E402
from test_recorder_support import start_recorder, stop_recorder  # noqa: E402

BLOB = bytes([0, 1, 2, 254, 255]) + b"binary"


def make_upstream(variant):
    async def handler(ws):
        await ws.send(json.dumps({"type": "welcome", "server": "python"}))
        await ws.send(BLOB)
        try:
            async for message in ws:
                msg = json.loads(message)
                if msg["type"] == "subscribe":
                    await ws.send(json.dumps({"type": "subscribed", "topic": msg["topic"]}))
                    for i in range(3):
                        if variant == "insert" and i == 2:
                            await ws.send(json.dumps({"type": "notice", "text": "maintenance at noon"}))
                        value = 10 * i + (1 if variant == "changed" and i == 1 else 0)
                        await ws.send(json.dumps({"type": "tick", "seq": i, "data": {"value": value, "unit": "ms"}}))
                elif msg["type"] == "bye":
                    await ws.close(4001, "session over")
                    return
        except ConnectionClosed:
            pass
    return handler


async def client_session(url):
    """What the app under test does: read the greeting, subscribe, read three ticks, say bye."""
    async with connect(url, compression=None) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        assert await ws.recv() == BLOB
        await ws.send(json.dumps({"type": "subscribe", "topic": "metrics"}))
        ticks = 0
        while ticks < 3:
            m = json.loads(await ws.recv())
            ticks += m["type"] == "tick"
        await ws.send(json.dumps({"type": "bye"}))
        try:
            await asyncio.wait_for(ws.recv(), 10)
            raise AssertionError("expected the server to close")
        except ConnectionClosed:
            pass
        assert ws.close_code == 4001
        assert ws.close_reason == "session over"


async def record_session(upstream_url, out):
    proc, address = await start_recorder(upstream_url, out)
    try:
        await client_session(f"ws://{address}/ws")
    finally:
        await stop_recorder(proc)


async def record_against_python(variant, out):
    async with serve(make_upstream(variant), "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        await record_session(f"ws://127.0.0.1:{port}/ws", out)


def diff(a, b, *args):
    return tapedeck("diff", str(a), str(b), "--no-color", *args)


def test_record_replay_record_diffs_clean(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    run(record_against_python("same", a))
    with replay(str(a)) as (host, _):
        run(record_session(f"ws://{host}/ws", b))
    p = diff(a, b)
    assert p.returncode == 0, p.stdout + p.stderr


def test_one_changed_field_is_named_by_connection_message_and_path(tmp_path):
    a, c = tmp_path / "a.sqlite", tmp_path / "c.sqlite"
    run(record_against_python("same", a))
    run(record_against_python("changed", c))
    p = diff(a, c)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "$.data.value" in p.stdout
    report = json.loads(diff(a, c, "--format", "json").stdout)
    found = [d for conn in report["connections"] for d in conn["findings"]]
    assert len(found) == 1, found
    assert found[0]["path"] == "$.data.value"
    assert found[0]["expected"] == 10 and found[0]["actual"] == 11


def test_an_inserted_message_is_one_added_message_not_a_cascade(tmp_path):
    a, d = tmp_path / "a.sqlite", tmp_path / "d.sqlite"
    run(record_against_python("same", a))
    run(record_against_python("insert", d))
    p = diff(a, d, "--format", "json")
    assert p.returncode == 1, p.stdout + p.stderr
    found = [x for conn in json.loads(p.stdout)["connections"] for x in conn["findings"]]
    assert len(found) == 1, found
    assert "added" in found[0]["kind"]
