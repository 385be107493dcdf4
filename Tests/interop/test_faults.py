"""The faults of issue 14 beyond close, reset, stall of writing and drop/duplicate, on the wire of
the real `tapedeck serve` binary, seen by independent clients (Python `websockets`, Google's
`protobuf` for binary frames): delay and jitter, reorder, corrupt, bandwidth cap, stall of
reading, and a scenario's `faults:` on `--timeline per-connection`."""
import asyncio
import json
import os
import time

import pytest
import websockets
from google.protobuf.message import DecodeError

from conftest import run, serve, tapedeck
from test_control_api import bearer, jcall
from test_workitems_protobuf import SCENARIO as WORKITEMS, decode, frame, headers

# One metric at the start, then only what the tests emit.
QUIET = """\
scenario: faults-interop
profile: ops-control-center
seed: 7
start: immediately
streams:
  - name: once
    every: 1h
    count: 1
    event: { type: metric, action: updated, data: { seq: "{{ seq() }}" } }
"""


@pytest.fixture()
def quiet(tmp_path):
    path = tmp_path / "quiet.yaml"
    path.write_text(QUIET)
    return str(path)


def emit(host, ident, **data):
    c, r = jcall(host, "POST", "/_tapedeck/emit", {"event": {"type": "incident", "action": "created", "data": {"id": ident, **data}}})
    assert c == 200 and len(r["delivered_to"]) == 1, r


def fault(host, body):
    c, r = jcall(host, "POST", "/_tapedeck/faults", body)
    assert c == 200, r
    assert len(r["connections"]) == 1, r
    return r


async def ready(ws):
    await ws.send(json.dumps({"action": "ping"}))
    while json.loads(await ws.recv()).get("action") != "pong":
        pass


async def incidents_until_close(ws, timeout=15):
    """Every text message up to the server's close: (raw text, arrival time)."""
    out = []
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        while True:
            m = await asyncio.wait_for(ws.recv(), timeout)
            assert isinstance(m, str), "a text frame"
            out.append((m, time.monotonic()))
    return out


def test_delay_and_jitter_hold_events_back_in_order(binary, quiet):
    with serve(quiet) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("dee")) as ws:
                await ready(ws)
                # Without the fault: an event arrives at once.
                sent = time.monotonic()
                emit(host, "base")
                while json.loads(await ws.recv()).get("data", {}).get("id") != "base":
                    pass
                baseline = time.monotonic() - sent
                r = fault(host, {"kind": "delay", "ms": 400, "jitter_ms": 100, "seconds": 30})
                assert r["ms"] == 400 and r["jitter_ms"] == 100
                posted = []
                for i in range(5):
                    posted.append(time.monotonic())
                    emit(host, f"d{i}")
                # A reply is not delayed: it overtakes the events.
                await ws.send(json.dumps({"action": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5)).get("action") == "pong"
                got = []
                while len(got) < 5:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if m.get("type") == "incident":
                        got.append((m["data"]["id"], time.monotonic()))
                assert [i for i, _ in got] == [f"d{i}" for i in range(5)], "in order"
                for (_, arrived), p in zip(got, posted):
                    # 400 ± 100 ms: never before 300 ms.
                    assert arrived - p >= 0.3 > baseline, (arrived - p, baseline)
                    assert arrived - p < 2.0
        run(go())


def test_reorder_sends_a_share_of_events_after_the_next_one(binary, quiet):
    with serve(quiet) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("ray")) as ws:
                await ready(ws)
                r = fault(host, {"kind": "reorder", "percent": 20, "seconds": 60})
                assert r["percent"] == 20
                for i in range(100):
                    emit(host, i)
                jcall(host, "POST", "/_tapedeck/faults", {"kind": "close", "code": 4000})
                ids = [json.loads(t)["data"]["id"] for t, _ in await incidents_until_close(ws) if "incident" in t]
                assert sorted(ids) == list(range(100)), "none lost, none repeated"
                swaps = [k for k in range(99) if ids[k] > ids[k + 1]]
                assert 5 <= len(swaps) <= 35, (len(swaps), ids)
                # Each held event comes right after the one that followed it.
                for k in swaps:
                    assert ids[k] == ids[k + 1] + 1, ids
        run(go())


def test_corrupt_text_is_valid_utf8_but_not_json(binary, quiet):
    with serve(quiet) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("cory")) as ws:
                await ready(ws)
                fault(host, {"kind": "corrupt", "percent": 50, "seconds": 60})
                for i in range(40):
                    emit(host, f"c{i}", title="déjà vu ✓")
                jcall(host, "POST", "/_tapedeck/faults", {"kind": "corrupt", "count": 3})
                for i in range(5):
                    emit(host, f"n{i}")
                jcall(host, "POST", "/_tapedeck/faults", {"kind": "close", "code": 4000})
                texts = [t for t, _ in await incidents_until_close(ws)]
                bad = []
                good = []
                for t in texts:
                    try:
                        good.append(json.loads(t)["data"]["id"])
                    except json.JSONDecodeError:
                        bad.append(t)
                # websockets hands over a text frame as str only if it is valid UTF-8.
                first = [t for t in bad if "déjà" in t or len(t) > 40]
                assert 8 <= len(bad) - 3 <= 32, (len(bad), bad)
                assert all(t.startswith('{"') for t in bad)
                assert len(first) >= 1
                # The count: the first 3 of the n-events are cut, the last 2 are whole.
                assert good[-2:] == ["n3", "n4"]
                assert not any(g in ("n0", "n1", "n2") for g in good)
        run(go())


def test_corrupt_binary_is_a_truncated_protobuf_message(binary):
    with serve(WORKITEMS, "--speed", "4") as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=headers("acme", "user-1")) as ws:
                await ws.send(frame(messageId="sub-1", timestamp=1, subscribe={"projectIds": ["project-1"], "sprintIds": ["sprint-5"]}))
                assert decode(await asyncio.wait_for(ws.recv(), 10)).WhichOneof("payload") == "subscription_confirmed"
                c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "corrupt", "count": 2})
                assert c == 200 and r["connections"], r
                # Events already on their way when the fault came arrive whole; then two are cut.
                out = ""
                while "tt" not in out or not out.endswith("tto"):
                    data = await asyncio.wait_for(ws.recv(), 20)
                    assert isinstance(data, bytes), "still a binary frame"
                    try:
                        decode(data)
                        out += "o"
                    except DecodeError:
                        out += "t"
                    assert len(out) < 60, out
                assert out.count("t") == 2, out
        run(go())


def test_bandwidth_cap_paces_what_the_client_receives(binary, quiet):
    cap = 16384
    with serve(quiet) as (host, _):
        async def go():
            # Uncompressed, so that the bytes the client counts are the bytes on the wire.
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("bea"), compression=None) as ws:
                await ready(ws)
                r = fault(host, {"kind": "bandwidth", "bytes_per_second": cap, "seconds": 60})
                assert r["bytes_per_second"] == cap
                for i in range(60):
                    emit(host, f"b{i}", padding="x" * 1000)
                conn = jcall(host, "GET", "/_tapedeck/connections")[1]["connections"][0]
                assert conn["queue_depth"] > 0, "the queue fills"
                got = []
                while len(got) < 60:
                    m = await asyncio.wait_for(ws.recv(), 20)
                    if '"incident"' in m:
                        got.append((len(m.encode()), time.monotonic()))
                # Bytes after the first message over the time they took.
                rate = sum(n for n, _ in got[1:]) / (got[-1][1] - got[0][1])
                assert 0.75 * cap <= rate <= 1.1 * cap, rate
        run(go())


def test_read_stall_leaves_a_ping_unanswered_until_it_ends(binary, quiet):
    with serve(quiet) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("rita")) as ws:
                await ready(ws)
                r = fault(host, {"kind": "stall", "direction": "read", "seconds": 2})
                assert r["direction"] == "read"
                started = time.monotonic()
                pong = await ws.ping()
                await ws.send(json.dumps({"action": "ping"}))
                # Writing goes on while reading stalls.
                emit(host, "during")
                m = json.loads(await asyncio.wait_for(ws.recv(), 1.5))
                assert m["data"]["id"] == "during"
                conn = jcall(host, "GET", "/_tapedeck/connections")[1]["connections"][0]
                assert conn["read_stalled"] is True and conn["messages_received"] == 1
                await asyncio.wait_for(pong, 10)
                assert time.monotonic() - started >= 1.8
                assert json.loads(await asyncio.wait_for(ws.recv(), 5)).get("action") == "pong"
                assert jcall(host, "GET", "/_tapedeck/connections")[1]["connections"][0]["messages_received"] == 2
        run(go())


def test_stall_of_both_directions_holds_events_and_pings(binary, quiet):
    with serve(quiet) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("bo")) as ws:
                await ready(ws)
                r = fault(host, {"kind": "stall", "direction": "both", "seconds": 2})
                assert r["direction"] == "both"
                started = time.monotonic()
                pong = await ws.ping()
                emit(host, "held")
                conn = jcall(host, "GET", "/_tapedeck/connections")[1]["connections"][0]
                assert conn["stalled"] is True and conn["read_stalled"] is True and conn["queue_depth"] == 1
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert m["data"]["id"] == "held"
                assert time.monotonic() - started >= 1.8
                await asyncio.wait_for(pong, 5)
        run(go())


def test_scenario_faults_on_per_connection_timelines(binary, tmp_path):
    path = tmp_path / "per-connection.yaml"
    path.write_text(QUIET.replace("start: immediately", "start: first-connection") + """\
faults:
  - { at: 200ms, kind: reorder, percent: 100, seconds: 60s }
  - { at: 2s, kind: close, code: 4001, reason: per connection }
""")
    with serve(str(path), "--timeline", "per-connection") as (host, _):
        async def client(user, started):
            auth = bearer(user)
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=auth) as ws:
                opened = time.monotonic()
                ids = []
                with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                    while True:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        # The timeline's first event, at 0 s: it runs.
                        if m.get("type") == "metric":
                            started.set()
                        if m.get("type") == "incident":
                            ids.append(m["data"]["id"])
                return user, opened, time.monotonic(), e.value.rcvd, ids

        async def go():
            a_started, b_started = asyncio.Event(), asyncio.Event()
            a = asyncio.create_task(client("ann", a_started))
            await asyncio.wait_for(a_started.wait(), 10)
            await asyncio.sleep(0.5)
            b = asyncio.create_task(client("ben", b_started))
            # ann's timeline holds each event back for after the next one since 200 ms.
            for i in range(4):
                c, r = jcall(host, "POST", "/_tapedeck/emit", {"event": {"type": "incident", "action": "created", "data": {"id": i}}, "to": {"user": "ann"}})
                assert c == 200 and len(r["delivered_to"]) == 1
            await asyncio.wait_for(b_started.wait(), 10)
            return await a, await b

        (_, a_open, a_closed, a_close, a_ids), (_, b_open, b_closed, b_close, _) = run(go())
        assert a_ids == [1, 0, 3, 2]
        for opened, closed, close in ((a_open, a_closed, a_close), (b_open, b_closed, b_close)):
            assert close is not None and close.code == 4001 and close.reason == "per connection"
            # At 2 s of each connection's own timeline.
            assert 1.7 <= closed - opened <= 3.5, closed - opened
        assert b_closed - a_closed >= 0.4


def test_a_fault_set_off_by_a_client_message(binary, tmp_path):
    """`on_message`: the fault happens to the connection that sent a matching message, and only then."""
    path = tmp_path / "trigger.yaml"
    path.write_text(QUIET + """\
faults:
  - { on_message: { action: subscribe, topics: [incidents] }, kind: close, code: 4002, reason: subscribed to incidents }
""")
    with serve(str(path)) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("ann")) as ann, \
                    websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("ben")) as ben:
                await ready(ann)
                await ready(ben)
                # A message that does not match (other topics) sets nothing off.
                await ann.send(json.dumps({"action": "subscribe", "topics": ["metrics"]}))
                await ready(ann)
                # ben's matching message closes ben's connection, not ann's.
                await ben.send(json.dumps({"action": "subscribe", "topics": ["incidents"]}))
                with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                    while True:
                        await asyncio.wait_for(ben.recv(), 10)
                await ready(ann)
                return e.value.rcvd
        close = run(go())
        assert close is not None and close.code == 4002 and close.reason == "subscribed to incidents"
    bad = tmp_path / "bad-trigger.yaml"
    bad.write_text(QUIET + """\
faults:
  - { at: 1s, on_message: { action: ping }, kind: reset }
  - { on_message: ping, kind: reset }
""")
    out = tapedeck("validate", str(bad))
    assert out.returncode != 0
    assert "has both 'at' and 'on_message'" in out.stdout + out.stderr
    assert "expected 'on_message' to be a mapping" in out.stdout + out.stderr
    assert f"{bad}:11:27:" in out.stdout and f"{bad}:12:19:" in out.stdout


def test_bad_fault_fields_get_400_and_validate_names_the_place(binary, quiet, tmp_path):
    with serve(quiet) as (host, _):
        for body, words in [
            ({"kind": "delay", "seconds": 5}, "'ms' is required"),
            ({"kind": "reorder", "seconds": 5}, "'percent' is required"),
            ({"kind": "corrupt", "seconds": 5}, "'count'"),
            ({"kind": "bandwidth", "seconds": 5}, "'bytes_per_second' is required"),
            ({"kind": "stall", "direction": "up", "seconds": 5}, "write, read, both"),
            ({"kind": "meteor"}, "delay, reorder, corrupt, bandwidth"),
        ]:
            c, r = jcall(host, "POST", "/_tapedeck/faults", body)
            assert c == 400 and words in r["message"], (body, r)
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUIET + """\
faults:
  - { at: 1s, kind: delay, seconds: 5s }
  - { at: 1s, kind: bandwidth, bytes_per_second: 0, seconds: 5s }
  - { at: 1s, kind: stall, direction: up, seconds: 5s }
""")
    p = tapedeck("validate", str(bad))
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert f"{bad}:11:5: a delay fault needs 'ms'" in out, out
    assert f"{bad}:12:50: 'bytes_per_second' must be" in out, out
    assert f"{bad}:13:39: 'direction' must be one of write, read, both" in out, out
