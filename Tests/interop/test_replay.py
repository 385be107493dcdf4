"""Interop: a Python `websockets` client against `tapedeck replay` of a recording.

The recording is written here as JSON Lines and imported with `tapedeck import`, so nothing in it
comes from Tapedeck's own writer. Run from the repository root after `swift build`:
    TAPEDECK_BIN=.build/debug/tapedeck .venv/bin/pytest Tests/interop/test_replay.py
"""
import asyncio
import base64
import json
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import replay, run, serve, tapedeck, token

MS = 1_000_000


def close_payload(code, reason):
    return {"base64": base64.b64encode(code.to_bytes(2, "big") + reason.encode()).decode()}


def write_recording(path):
    """Connection 1 (/ws): hello, waits for a subscribe, an event, a binary frame, a fragmented text
    message, then the server closes with 4001. Connection 2 (/ws): the upgrade was refused with 401."""
    lines = [
        {"kind": "recording", "format_version": 1, "name": "interop", "tool_version": "python", "started_at_ns": 1,
         "finished_at_ns": 2, "upstream": None, "scenario": None, "profile": None, "tags": []},
        {"kind": "connection", "id": 1, "path": "/ws", "query": None, "request_headers": [],
         "subprotocol": "tapedeck.v1", "extensions": None, "upgrade_status": 101, "response_headers": [],
         "response_body": None, "peer": None, "upstream": None, "error": None, "opened_offset_ns": 0,
         "opened_at_ns": 1, "closed_offset_ns": 60 * MS, "closed_at_ns": 2, "client_close_code": 4001,
         "client_close_reason": "done", "server_close_code": 4001, "server_close_reason": "done"},
        {"kind": "connection", "id": 2, "path": "/ws", "query": None, "request_headers": [],
         "subprotocol": None, "extensions": None, "upgrade_status": 401,
         "response_headers": [["WWW-Authenticate", "Bearer realm=\"interop\""], ["Content-Type", "text/plain"]],
         "response_body": {"text": "token expired\n"}, "peer": None, "upstream": None, "error": None,
         "opened_offset_ns": 70 * MS, "opened_at_ns": 3, "closed_offset_ns": None, "closed_at_ns": None,
         "client_close_code": None, "client_close_reason": None, "server_close_code": None,
         "server_close_reason": None},
        {"kind": "batch", "id": 1, "first_seq": 1, "last_seq": 8, "frame_count": 8, "committed_at_ns": 2},
    ]
    frames = [
        ("s2c", "text", True, {"text": '{"type":"hello"}'}, 1),
        ("c2s", "text", True, {"text": '{"type":"subscribe","topic":"jobs","timestamp":"2026-01-01T00:00:00Z"}'}, 10),
        ("s2c", "text", True, {"text": '{"type":"event","n":1}'}, 20),
        ("s2c", "binary", True, {"base64": base64.b64encode(bytes([0, 1, 2, 255])).decode()}, 30),
        ("s2c", "text", False, {"text": "frag"}, 40),
        ("s2c", "continuation", True, {"text": "mented"}, 40),
        ("s2c", "close", True, close_payload(4001, "done"), 50),
        ("c2s", "close", True, close_payload(4001, "done"), 51),
    ]
    for seq, (direction, opcode, fin, payload, ms) in enumerate(frames, start=1):
        lines.append({"kind": "frame", "seq": seq, "connection": 1, "batch": 1, "direction": direction,
                      "opcode": opcode, "fin": fin, "offset_ns": ms * MS, "wall_time_ns": ms, "payload": payload,
                      "decoded": None, "redacted": False})
    jsonl = path.with_suffix(".jsonl")
    jsonl.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    p = tapedeck("import", str(jsonl), "--out", str(path))
    assert p.returncode == 0, p.stderr


def server_log(proc):
    proc.log.seek(0)
    return proc.log.read()


def test_replays_frames_close_and_401(tmp_path):
    rec = tmp_path / "interop.sqlite"
    write_recording(rec)
    with replay(str(rec), "--speed", "max") as (host, proc):
        async def session():
            async with connect(f"ws://{host}/ws", subprotocols=["tapedeck.v1"], compression=None) as ws:
                assert ws.subprotocol == "tapedeck.v1"
                assert json.loads(await ws.recv()) == {"type": "hello"}
                # Reactive: nothing more comes until the client sends the recorded subscribe
                # (the timestamp is a volatile field and may differ).
                try:
                    await asyncio.wait_for(ws.recv(), 0.5)
                    raise AssertionError("the replay did not wait for the client")
                except asyncio.TimeoutError:
                    pass
                await ws.send(json.dumps({"type": "subscribe", "topic": "jobs", "timestamp": "2030-05-05T00:00:00Z"}))
                assert json.loads(await ws.recv()) == {"type": "event", "n": 1}
                assert await ws.recv() == bytes([0, 1, 2, 255])
                assert await ws.recv() == "fragmented"
                try:
                    await ws.recv()
                    raise AssertionError("expected the recorded close")
                except ConnectionClosed as e:
                    assert e.rcvd is not None
                    assert e.rcvd.code == 4001
                    assert e.rcvd.reason == "done"

            # The second recorded connection on /ws was refused with 401: replayed with its headers and body.
            try:
                async with connect(f"ws://{host}/ws"):
                    raise AssertionError("expected the recorded 401")
            except InvalidStatus as e:
                assert e.response.status_code == 401
                assert e.response.headers["WWW-Authenticate"] == 'Bearer realm="interop"'
                assert e.response.body == b"token expired\n"

            # Both recorded connections are used up.
            try:
                async with connect(f"ws://{host}/ws"):
                    raise AssertionError("expected 410")
            except InvalidStatus as e:
                assert e.response.status_code == 410
        run(session())
        log = server_log(proc)
    assert "replaying connection 1" in log


def test_mismatch_close_gives_1008(tmp_path):
    rec = tmp_path / "interop.sqlite"
    write_recording(rec)
    with replay(str(rec), "--speed", "max", "--on-mismatch", "close") as (host, proc):
        async def session():
            async with connect(f"ws://{host}/ws", subprotocols=["tapedeck.v1"]) as ws:
                assert json.loads(await ws.recv()) == {"type": "hello"}
                await ws.send(json.dumps({"type": "subscribe", "topic": "logs"}))
                try:
                    await ws.recv()
                    raise AssertionError("expected a close")
                except ConnectionClosed as e:
                    assert e.rcvd is not None and e.rcvd.code == 1008
        run(session())
        time.sleep(0.2)
        log = server_log(proc)
    assert "$.topic" in log and '"jobs"' in log and '"logs"' in log


def test_as_client_against_its_own_replay(tmp_path):
    """Replaying the client side against a replay of the same recording completes (exit 0) and records it."""
    rec = tmp_path / "interop.sqlite"
    write_recording(rec)
    out = tmp_path / "again.sqlite"
    with replay(str(rec), "--speed", "max") as (host, _):
        p = tapedeck("replay", str(rec), "--as-client", "--target", f"ws://{host}", "--speed", "max",
                     "--out", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 of 2 connection(s) completed" in p.stdout
    assert out.exists()


def test_serve_record_stores_decoded_protobuf(tmp_path):
    """`serve --record` fills `decoded` for binary protobuf frames through the profile's codec; the
    client side comes from replaying the sample recording as a client."""
    import sqlite3
    out = tmp_path / "served.sqlite"
    sample = "recordings/workitems-protobuf-sprint-day.sqlite"
    with serve("scenarios/workitems-protobuf/sprint-day.yaml", "--speed", "10", "--record", str(out)) as (host, _):
        p = tapedeck("replay", sample, "--as-client", "--target", f"ws://{host}", "--speed", "10", "--timeout", "2s",
                     "--header", "Authorization: Bearer " + token("--tenant", "acme", "--user", "user-1"))
        assert p.returncode in (0, 1), p.stdout + p.stderr
    db = sqlite3.connect(out)
    rows = db.execute("SELECT direction, decoded FROM frames WHERE opcode = 'binary'").fetchall()
    db.close()
    assert rows, "no binary frames recorded"
    assert all(decoded is not None for _, decoded in rows)
    client = [json.loads(d) for direction, d in rows if direction == "c2s"]
    assert client[0]["subscribe"]["sprintIds"] == ["sprint-5"]
