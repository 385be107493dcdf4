"""The control API (`/_tapedeck/`), faults and `/metrics` of the real `tapedeck serve` binary,
checked by independent clients: Python `websockets` for the WebSocket side, `urllib` for HTTP,
`openapi-spec-validator` for the OpenAPI document and `prometheus_client`'s parser for metrics."""
import asyncio
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import websockets
import yaml
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, run, serve, status, tapedeck, token

SCENARIO = """\
scenario: control-interop
profile: ops-control-center
seed: 7
start: immediately
streams:
  - name: ticks
    every: 100ms
    count: 100000
    event: { type: metric, action: updated, data: { seq: "{{ seq() }}" } }
"""

# Every route of the control API and metrics: (method, path).
ROUTES = {
    ("get", "/_tapedeck/health"), ("get", "/_tapedeck/version"), ("get", "/_tapedeck/connections"),
    ("get", "/_tapedeck/timeline"), ("post", "/_tapedeck/timeline/pause"), ("post", "/_tapedeck/timeline/resume"),
    ("post", "/_tapedeck/timeline/speed"), ("post", "/_tapedeck/emit"), ("post", "/_tapedeck/faults"),
    ("get", "/_tapedeck/metrics"), ("get", "/metrics"), ("get", "/_tapedeck/openapi.yaml"),
    ("post", "/_tapedeck/timeline/seek"), ("get", "/_tapedeck/scenarios"), ("post", "/_tapedeck/scenarios"),
    ("delete", "/_tapedeck/scenarios/{name}"), ("get", "/_tapedeck/recording"), ("post", "/_tapedeck/recording/start"),
    ("post", "/_tapedeck/recording/stop"),
    # The dashboard (see test_dashboard.py).
    ("get", "/_tapedeck"), ("get", "/_tapedeck/ui/{file}"), ("get", "/_tapedeck/events"), ("get", "/_tapedeck/recordings"),
    ("get", "/_tapedeck/recordings/{name}"), ("get", "/_tapedeck/recordings/{name}/connections/{id}/frames"),
}


@pytest.fixture(scope="module")
def scenario_file():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "control.yaml")
    with open(path, "w") as f:
        f.write(SCENARIO)
    return path


def call(host, method, path, body=None, auth=None, content_type="application/json", raw=None):
    """An HTTP request: (status, headers, text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None))
    req = urllib.request.Request(f"http://{host}{path}", data=data, method=method)
    if data and content_type:
        req.add_header("Content-Type", content_type)
    if auth:
        req.add_header("Authorization", f"Bearer {auth}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def jcall(host, method, path, body=None, **kw):
    code, _, text = call(host, method, path, body, **kw)
    return code, json.loads(text)


def bearer(user):
    return {"Authorization": f"Bearer {token('--user', user)}"}


async def next_seq(ws, timeout):
    """The next metric's seq, skipping other messages; raises TimeoutError after `timeout` s."""
    async def go():
        while True:
            m = json.loads(await ws.recv())
            if m.get("type") == "metric":
                return int(m["data"]["seq"])
    return await asyncio.wait_for(go(), timeout)


def test_plain_get_on_a_websocket_path_is_426(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        code, headers, text = call(host, "GET", "/api/ws")
        assert code == 426
        assert headers["Upgrade"] == "websocket"
        assert "ops-control-center" in text
        assert call(host, "GET", "/no/such/path")[0] == 404


def test_health_version_and_connections(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        assert jcall(host, "GET", "/_tapedeck/health") == (200, {"status": "ok", "connections": 0})
        code, version = jcall(host, "GET", "/_tapedeck/version")
        assert code == 200 and version["name"] == "tapedeck" and version["version"]

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("alice")) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents"], "filters": {"squad": "platform"}}))
                await ws.send(json.dumps({"action": "ping"}))
                while json.loads(await ws.recv()).get("action") != "pong":
                    pass
                code, body = jcall(host, "GET", "/_tapedeck/connections")
                assert code == 200
                [c] = body["connections"]
                assert c["user"] == "alice" and c["profile"] == "ops-control-center" and c["path"] == "/api/ws"
                assert c["messages_received"] == 2
                assert c["messages_sent"] >= 1
                assert any(s["topics"] == ["incidents"] for s in c["subscriptions"])
                assert c["connected_since"].endswith("Z")
                assert isinstance(c["queue_depth"], int)
        run(go())


def test_pause_stops_events_and_resume_restarts_them(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("qa")) as ws:
                await next_seq(ws, 5)
                code, t = jcall(host, "POST", "/_tapedeck/timeline/pause")
                assert code == 200 and t["paused"] is True
                # What was in flight when the pause came.
                last = None
                try:
                    while True:
                        last = await next_seq(ws, 0.3)
                except asyncio.TimeoutError:
                    pass
                # Paused: nothing for a second (ten periods of the stream).
                with pytest.raises(asyncio.TimeoutError):
                    await next_seq(ws, 1.0)
                frozen = jcall(host, "GET", "/_tapedeck/timeline")[1]["scenario_time"]
                assert jcall(host, "GET", "/_tapedeck/timeline")[1]["scenario_time"] == frozen
                assert jcall(host, "POST", "/_tapedeck/timeline/resume")[1]["paused"] is False
                first = await next_seq(ws, 2)
                # No event skipped across the pause.
                if last is not None:
                    assert first == last + 1
                code, t = jcall(host, "POST", "/_tapedeck/timeline/speed", {"speed": 4})
                assert code == 200 and t["speed"] == 4
                code, t = jcall(host, "POST", "/_tapedeck/timeline/speed", {"speed": "max"})
                assert t["speed"] == "max"
                # At max speed, a burst: 200 events in far less than the 20 s they would take at 1x.
                start = time.monotonic()
                n = first
                while n < first + 200:
                    n = await next_seq(ws, 5)
                assert time.monotonic() - start < 10
                t = jcall(host, "GET", "/_tapedeck/timeline")[1]
                assert t["events_sent"] >= n and t["scenario_time"] > 0
        run(go())


def test_emit_goes_through_the_profile_to_the_selected_user(binary, scenario_file):
    with serve(scenario_file, "--speed", "0.1") as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("alice")) as alice, \
                    websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("bob")) as bob:
                for ws in (alice, bob):
                    await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents"]}))
                    await ws.send(json.dumps({"action": "ping"}))
                    while json.loads(await ws.recv()).get("action") != "pong":
                        pass
                event = {"type": "incident", "action": "created", "data": {"id": "inc-{{ 40 + 2 }}", "squad": "platform"}}
                code, r = jcall(host, "POST", "/_tapedeck/emit", {"event": event, "to": {"user": "bob"}})
                assert code == 200 and len(r["delivered_to"]) == 1
                code, r = jcall(host, "POST", "/_tapedeck/emit", {"event": {**event, "data": {"id": "all"}}, "profile": "ops-control-center"})
                assert code == 200 and len(r["delivered_to"]) == 2

                async def incidents(ws, n):
                    out = []
                    while len(out) < n:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if m.get("type") == "incident":
                            out.append(m)
                    return out
                b = await incidents(bob, 2)
                assert [m["data"]["id"] for m in b] == ["inc-42", "all"]
                assert b[0]["action"] == "created" and "timestamp" in b[0]
                a = await incidents(alice, 1)
                assert [m["data"]["id"] for m in a] == ["all"]
        run(go())


@pytest.mark.parametrize("code", [1001, 1011, 1012, 4000])
def test_close_fault_is_seen_with_its_code_and_reason(binary, scenario_file, code):
    with serve(scenario_file) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("carol")) as ws:
                await next_seq(ws, 5)
                c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "close", "code": code, "reason": "fault test", "to": {"user": "carol"}})
                assert c == 200 and len(r["connections"]) == 1
                with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                assert e.value.rcvd is not None
                assert e.value.rcvd.code == code and e.value.rcvd.reason == "fault test"
        run(go())


def test_reset_fault_is_a_tcp_reset_without_close_frame(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        h, p = host.split(":")
        s = socket.create_connection((h, int(p)))
        jwt = token("--user", "dave")
        s.sendall((f"GET /api/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   f"Authorization: Bearer {jwt}\r\n\r\n").encode())
        s.settimeout(10)
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        assert got.startswith(b"HTTP/1.1 101")
        c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "reset", "to": {"user": "dave"}})
        assert c == 200 and len(r["connections"]) == 1
        with pytest.raises(ConnectionResetError):
            while True:
                chunk = s.recv(65536)
                assert chunk, "the connection ended cleanly instead of with a reset"
                # Server frames are unmasked: a close frame starts with 0x88.
                got += chunk
        s.close()
        body = got.split(b"\r\n\r\n", 1)[1]
        i = 0
        while i + 2 <= len(body):
            assert body[i] & 0x0F != 8, "a close frame was sent before the reset"
            n = body[i + 1] & 0x7F
            j = i + 2
            if n == 126:
                n = int.from_bytes(body[j:j + 2], "big"); j += 2
            elif n == 127:
                n = int.from_bytes(body[j:j + 8], "big"); j += 8
            i = j + n

        # The websockets client sees the same: closed, and no close frame received.
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("erin")) as ws:
                await next_seq(ws, 5)
                jcall(host, "POST", "/_tapedeck/faults", {"kind": "reset", "to": {"user": "erin"}})
                with pytest.raises(websockets.exceptions.ConnectionClosedError) as e:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                assert e.value.rcvd is None
        run(go())


def test_refuse_upgrades_for_a_while(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        url = f"ws://{host}/api/ws"
        headers = bearer("frank")
        c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "refuse_upgrades", "seconds": 2, "status": 503, "retry_after": 2})
        assert c == 200 and r["status"] == 503

        async def refused():
            try:
                async with websockets.connect(url, additional_headers=headers):
                    return None
            except websockets.exceptions.InvalidStatus as e:
                return e.response
        response = run(refused())
        assert response is not None and response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        jcall(host, "POST", "/_tapedeck/faults", {"kind": "refuse_upgrades", "seconds": 60, "status": 429, "to": {"path": "/elsewhere"}})
        time.sleep(2.2)
        assert status(url, headers) == 101
        families = {f.name: f for f in text_string_to_metric_families(call(host, "GET", "/metrics")[2])}
        refused_by_status = {s.labels["status"]: s.value for s in families["tapedeck_upgrades_refused"].samples if s.name.endswith("_total")}
        assert refused_by_status.get("503") == 1


def test_stall_stops_writing_for_a_while(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("gina")) as ws:
                await next_seq(ws, 5)
                c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "stall", "seconds": 2, "to": {"user": "gina"}})
                assert c == 200 and len(r["connections"]) == 1
                try:
                    while True:
                        await next_seq(ws, 0.3)
                except asyncio.TimeoutError:
                    pass
                started = time.monotonic()
                # Nothing while stalled, though the stream runs at 10 events a second...
                with pytest.raises(asyncio.TimeoutError):
                    await next_seq(ws, 1.0)
                conns = jcall(host, "GET", "/_tapedeck/connections")[1]["connections"]
                assert conns[0]["stalled"] is True and conns[0]["queue_depth"] > 0
                # The gauge sums the queues of the profile's connections when /metrics is read.
                families = {f.name: f for f in text_string_to_metric_families(call(host, "GET", "/metrics")[2])}
                depth = [x.value for x in families["tapedeck_queue_depth"].samples if x.labels.get("profile") == "ops-control-center"]
                assert depth and depth[0] > 0
                # ...then what waited comes at once, in order.
                a = await next_seq(ws, 5)
                b = await next_seq(ws, 5)
                assert b == a + 1
                assert time.monotonic() - started >= 1.0
        run(go())


def test_openapi_document_is_valid_and_matches_the_routes(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        code, headers, text = call(host, "GET", "/_tapedeck/openapi.yaml")
        assert code == 200 and "yaml" in headers["Content-Type"]
        with open(os.path.join(ROOT, "docs", "control-api.yaml")) as f:
            assert text == f.read(), "the served document is docs/control-api.yaml"
        doc = yaml.safe_load(text)
        validate(doc)
        documented = {(m, p) for p, item in doc["paths"].items() for m in item if m in ("get", "post", "put", "delete", "patch")}
        assert documented == ROUTES
        for method, path in sorted(documented):
            c, _, text = call(host, method.upper(), path.replace("{name}", "no-such-scenario"), {} if method == "post" else None)
            if "{" in path and c == 404:
                # A templated path called with a name that does not exist: the route exists when it
                # answers its own JSON 404, not the router's empty one.
                assert json.loads(text)["error"] == "not_found", f"{method.upper()} {path} answered {c} {text!r}"
                continue
            assert c not in (404, 405), f"{method.upper()} {path} answered {c}"
        assert call(host, "GET", "/_tapedeck/nothing-here")[0] == 404


def test_metrics_parse_with_prometheus_client(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("hank")) as ws:
                await ws.send(json.dumps({"action": "ping"}))
                for _ in range(3):
                    await next_seq(ws, 5)
                code, headers, text = call(host, "GET", "/metrics")
                assert code == 200 and headers["Content-Type"].startswith("text/plain")
                families = {f.name: f for f in text_string_to_metric_families(text)}

                def sample(family, name, **labels):
                    for s in families[family].samples:
                        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                            return s.value
                    return None
                assert sample("tapedeck_connections", "tapedeck_connections", profile="ops-control-center") == 1
                assert sample("tapedeck_messages_in", "tapedeck_messages_in_total", profile="ops-control-center") == 1
                assert sample("tapedeck_messages_out", "tapedeck_messages_out_total", profile="ops-control-center") >= 3
                assert sample("tapedeck_bytes_out", "tapedeck_bytes_out_total", profile="ops-control-center") > 0
                assert sample("tapedeck_events_scheduled", "tapedeck_events_scheduled_total") >= 3
                assert sample("tapedeck_schedule_lag_seconds", "tapedeck_schedule_lag_seconds_count") >= 3
                assert "tapedeck_dropped_events" in families
                assert sample("tapedeck_queue_depth", "tapedeck_queue_depth", profile="ops-control-center") is not None
                assert call(host, "GET", "/_tapedeck/metrics")[0] == 200
        run(go())


def test_control_token_and_no_control(binary, scenario_file):
    with serve(scenario_file, "--control-token", "t0ken") as (host, _):
        code, body = jcall(host, "GET", "/_tapedeck/health")
        assert code == 401 and body["error"] == "unauthorized"
        assert call(host, "GET", "/metrics")[0] == 401
        assert call(host, "POST", "/_tapedeck/timeline/pause", auth="wrong")[0] == 401
        assert call(host, "GET", "/_tapedeck/health", auth="t0ken")[0] == 200
        assert call(host, "GET", "/metrics", auth="t0ken")[0] == 200
    with serve(scenario_file, "--no-control") as (host, _):
        assert call(host, "GET", "/_tapedeck/health")[0] == 404
        assert call(host, "POST", "/_tapedeck/faults", {"kind": "reset"})[0] == 404
        assert call(host, "GET", "/metrics")[0] == 200


def test_bad_input_gets_a_json_error(binary, scenario_file):
    with serve(scenario_file) as (host, _):
        code, body = jcall(host, "POST", "/_tapedeck/emit", raw=b"{oops")
        assert code == 400 and body["error"] == "bad_request" and "JSON" in body["message"]
        code, body = jcall(host, "POST", "/_tapedeck/faults", {"kind": "meteor"})
        assert code == 400 and all(k in body["message"] for k in ("close", "reset", "refuse_upgrades", "stall", "drop", "duplicate"))
        code, body = jcall(host, "POST", "/_tapedeck/timeline/speed", {"speed": 0})
        assert code == 400
        code, body = jcall(host, "POST", "/_tapedeck/emit", {"event": {"type": "x"}, "profile": "nope"})
        assert code == 400 and "ops-control-center" in body["message"]
        code, body = jcall(host, "POST", "/_tapedeck/faults", {"kind": "reset"}, content_type="text/plain")
        assert code == 415


def test_status_line_on_a_terminal_only(binary, scenario_file):
    import pty
    import re
    import select
    import subprocess
    master, slave = pty.openpty()
    tty = subprocess.Popen([binary, "serve", scenario_file, "--port", "0", "--log-level", "warning"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    try:
        with serve(scenario_file) as (_, piped):
            seen = ""
            deadline = time.time() + 15
            while "[status]" not in seen and time.time() < deadline:
                ready, _, _ = select.select([master], [], [], 1)
                if ready:
                    seen += os.read(master, 4096).decode(errors="replace")
            line = next((l for l in seen.splitlines() if l.startswith("[status]")), None)
            assert line is not None, seen
            assert re.match(r"^\[status\] \d+ connections?, \d+ events sent \(\d+/s\), \d+ dropped, lag \d+ ms", line), line
            # The same seconds with standard error not a terminal: no status line.
            piped.log.seek(0)
            assert "[status]" not in piped.log.read()
    finally:
        tty.terminate()
        tty.wait(timeout=10)
        os.close(master)


def test_a_scenario_schedules_faults(binary, tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text(SCENARIO + """\
faults:
  - { at: 1s, kind: refuse_upgrades, seconds: 30s, status: 429, retry_after: 9 }
  - { at: 2s, kind: close, code: 1011, reason: scheduled failure }
""")
    with serve(str(path)) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("ivy")) as ws:
                started = time.monotonic()
                with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                assert e.value.rcvd is not None and e.value.rcvd.code == 1011 and e.value.rcvd.reason == "scheduled failure"
                assert time.monotonic() - started > 1.0
            # The refusal scheduled at 1 s holds for 30 s.
            try:
                async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("ivy")):
                    return None
            except websockets.exceptions.InvalidStatus as r:
                return r.response
        response = run(go())
        assert response is not None and response.status_code == 429 and response.headers["Retry-After"] == "9"


def test_drop_and_duplicate_faults(binary, scenario_file):
    with serve(scenario_file, "--speed", "0.1") as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("jill")) as ws:
                await ws.send(json.dumps({"action": "ping"}))
                while json.loads(await ws.recv()).get("action") != "pong":
                    pass

                def emit(i):
                    c, r = jcall(host, "POST", "/_tapedeck/emit", {"event": {"type": "incident", "action": "created", "data": {"id": i}}})
                    assert c == 200 and len(r["delivered_to"]) == 1

                c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "duplicate", "percent": 100, "seconds": 60})
                assert c == 200 and len(r["connections"]) == 1
                emit("twice")
                c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "drop", "percent": 100, "seconds": 60})
                assert c == 200
                for i in range(5):
                    emit(f"dropped-{i}")
                c, r = jcall(host, "POST", "/_tapedeck/faults", {"kind": "drop", "percent": 50, "seconds": 60})
                for i in range(200):
                    emit(f"half-{i}")
                # A close after the events, to know when they are all in.
                jcall(host, "POST", "/_tapedeck/faults", {"kind": "close", "code": 4000})
                ids = []
                with pytest.raises(websockets.exceptions.ConnectionClosed):
                    while True:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if m.get("type") == "incident":
                            ids.append(m["data"]["id"])
                assert ids[:2] == ["twice", "twice"]
                assert not any(i.startswith("dropped") for i in ids)
                half = [i for i in ids if i.startswith("half")]
                assert 60 <= len(half) <= 140, len(half)
                assert half == sorted(half, key=lambda s: int(s.split("-")[1]))
                code, body = jcall(host, "POST", "/_tapedeck/faults", {"kind": "drop", "seconds": 1})
                assert code == 400 and "percent" in body["message"]
        run(go())


async def next_message(ws, accept, timeout):
    """The next JSON message for which `accept(message)` is true; TimeoutError after `timeout` s."""
    async def go():
        while True:
            m = json.loads(await ws.recv())
            if accept(m):
                return m
    return await asyncio.wait_for(go(), timeout)


def test_seek_forward_skips_and_seek_back_starts_over(binary, scenario_file):
    # A tick every 100 ms: tick n is at scenario time (n - 1) / 10 s.
    with serve(scenario_file) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("qa")) as ws:
                await next_seq(ws, 5)
                code, t = jcall(host, "POST", "/_tapedeck/timeline/seek", {"to": 1000})
                assert code == 200 and 1000 <= t["scenario_time"] < 1001, t
                # What was in flight, then tick 10001 (1000 s): the ones between were skipped, not sent.
                before, n = [], await next_seq(ws, 5)
                while n < 10001:
                    before.append(n)
                    n = await next_seq(ws, 5)
                assert n == 10001 and len(before) < 20, (before, n)
                assert jcall(host, "GET", "/_tapedeck/timeline")[1]["scenario_time"] >= 1000
                code, t = jcall(host, "POST", "/_tapedeck/timeline/seek", {"to": "5s"})
                assert code == 200 and 5 <= t["scenario_time"] < 6, t
                n = await next_seq(ws, 5)
                while n > 10000:
                    n = await next_seq(ws, 5)
                # Back: the scenario starts over from 5 s, tick 51, then on in order.
                assert n == 51
                assert await next_seq(ws, 5) == 52
                for body in ({"to": -1}, {"to": "soon"}, {}):
                    code, e = jcall(host, "POST", "/_tapedeck/timeline/seek", body)
                    assert code == 400 and e["error"] == "bad_request" and "'to'" in e["message"], e
        run(go())
    with serve(scenario_file, "--timeline", "per-connection") as (host, _):
        code, e = jcall(host, "POST", "/_tapedeck/timeline/seek", {"to": 5})
        assert code == 409 and e["error"] == "per_connection_timelines"


EXTRA = """\
scenario: extra
profile: ops-control-center
seed: 3
streams:
  - name: x
    every: 100ms
    count: 100000
    event: { type: incident, action: created, data: { id: "x-{{ seq() }}", squad: platform } }
"""


def test_load_and_unload_scenarios(binary, scenario_file, tmp_path):
    with serve(scenario_file) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("qa")) as ws:
                await next_seq(ws, 5)
                code, body = jcall(host, "GET", "/_tapedeck/scenarios")
                assert code == 200 and body["timeline"] == "shared"
                [first] = body["scenarios"]
                assert first["name"] == "control-interop" and first["streams"] == ["ticks"] and first["paths"] == ["/api/ws"]
                assert first["loaded_at_start"] is True
                code, loaded = jcall(host, "POST", "/_tapedeck/scenarios", {"yaml": EXTRA})
                assert code == 200, loaded
                assert loaded["name"] == "extra" and loaded["file"] == "request.yaml" and loaded["starts_at"] > 0
                # Its events start now, on the shared timeline, beside the ticks.
                m = await next_message(ws, lambda m: m.get("type") == "incident", 5)
                assert m["data"]["id"] == "x-1"
                assert (await next_message(ws, lambda m: m.get("type") == "incident", 5))["data"]["id"] == "x-2"
                # A file on the server, by path.
                other = tmp_path / "other.yaml"
                other.write_text(EXTRA.replace("scenario: extra", "scenario: other"))
                code, loaded = jcall(host, "POST", "/_tapedeck/scenarios", {"path": str(other)})
                assert code == 200 and loaded["name"] == "other" and loaded["file"] == str(other), loaded
                names = [s["name"] for s in jcall(host, "GET", "/_tapedeck/scenarios")[1]["scenarios"]]
                assert names == ["control-interop", "extra", "other"]
                for name in ("extra", "other"):
                    code, gone = jcall(host, "DELETE", f"/_tapedeck/scenarios/{name}")
                    assert code == 200 and gone["unloaded"] is True
                # What was in flight, then no incident for a second while the ticks go on.
                try:
                    while True:
                        await next_message(ws, lambda m: m.get("type") == "incident", 0.5)
                except asyncio.TimeoutError:
                    pass
                with pytest.raises(asyncio.TimeoutError):
                    await next_message(ws, lambda m: m.get("type") == "incident", 1.0)
                await next_seq(ws, 2)
                code, e = jcall(host, "DELETE", "/_tapedeck/scenarios/extra")
                assert code == 404 and e["error"] == "not_found"
        run(go())
        # Checked as `tapedeck validate` checks it: the same messages, naming line and column.
        bad = tmp_path / "bad.yaml"
        bad.write_text("scenario: bad\nprofile: ops-control-center\nstreams:\n  - name: s\n    every: often\n    event: {}\n")
        expected = tapedeck("validate", str(bad)).stdout.strip()
        code, e = jcall(host, "POST", "/_tapedeck/scenarios", {"path": str(bad)})
        assert code == 422 and e["error"] == "invalid_scenario", e
        assert e["message"] == expected
        assert e["problems"][0]["line"] == 5 and e["problems"][0]["column"] > 0
        code, e = jcall(host, "POST", "/_tapedeck/scenarios", {"yaml": bad.read_text()})
        assert code == 422 and e["message"].startswith("request.yaml:5:"), e
        code, e = jcall(host, "POST", "/_tapedeck/scenarios", {"path": "scenarios/jobs-live-tail/quick-check.yaml"})
        assert code == 409 and e["error"] == "profile_not_served" and "fixed at start" in e["message"], e
        code, e = jcall(host, "POST", "/_tapedeck/scenarios", {"yaml": SCENARIO})
        assert code == 409 and e["error"] == "scenario_loaded"
        code, e = jcall(host, "POST", "/_tapedeck/scenarios", {"path": "a.yaml", "yaml": EXTRA})
        assert code == 400
        assert [s["name"] for s in jcall(host, "GET", "/_tapedeck/scenarios")[1]["scenarios"]] == ["control-interop"]


def test_start_and_stop_a_recording(binary, scenario_file, tmp_path):
    path = str(tmp_path / "out.sqlite")
    with serve(scenario_file) as (host, _):
        assert jcall(host, "GET", "/_tapedeck/recording") == (200, {"recording": False})

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("rita")) as ws:
                await ws.send(json.dumps({"action": "ping", "id": "before"}))
                await next_message(ws, lambda m: m.get("action") == "pong", 5)
                code, r = jcall(host, "POST", "/_tapedeck/recording/start", {"path": path})
                assert code == 200 and r["recording"] is True and r["path"] == path, r
                code, e = jcall(host, "POST", "/_tapedeck/recording/start", {"path": path + "2"})
                assert code == 409 and e["error"] == "recording_running"
                # An open connection is recorded from the start on.
                await ws.send(json.dumps({"action": "ping", "id": "after"}))
                await next_message(ws, lambda m: m.get("action") == "pong", 5)
                for _ in range(5):
                    await next_seq(ws, 5)
                # A connection opened while recording, from its upgrade.
                async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("sam")) as other:
                    await next_seq(other, 5)
                code, r = jcall(host, "GET", "/_tapedeck/recording")
                assert code == 200 and r["recording"] is True and r["connections"] == 2, r
                code, r = jcall(host, "POST", "/_tapedeck/recording/stop")
                assert code == 200 and r["recording"] is False and r["frames_written"] >= 7, r
                return r
        stopped = run(go())
        code, e = jcall(host, "POST", "/_tapedeck/recording/stop")
        assert code == 409 and e["error"] == "not_recording"
        # The file is closed: inspect reads it while the server still runs.
        p = tapedeck("inspect", path, "--json")
        assert p.returncode == 0, p.stderr
        report = json.loads(p.stdout)
        assert report["frames"] == stopped["frames_written"]
        first, second = report["connections"]
        # The first client from the start on: its second ping (not the first), the pong, the ticks.
        assert first["frames_c2s"] == 1 and first["frames_s2c"] >= 6, report
        assert second["upgrade_status"] == 101 and second["client_close_code"] == 1000
        assert report["by_type"]["ping"] == 1 and report["by_type"]["pong"] == 1
        export = tapedeck("export", path)
        assert export.returncode == 0, export.stderr
        assert '\\"after\\"' in export.stdout and "before" not in export.stdout
        # Refuses to overwrite, unless asked.
        code, e = jcall(host, "POST", "/_tapedeck/recording/start", {"path": path})
        assert code == 409 and e["error"] == "file_exists" and "overwrite" in e["message"]
        code, r = jcall(host, "POST", "/_tapedeck/recording/start", {"path": path, "overwrite": True})
        assert code == 200, r
        assert jcall(host, "POST", "/_tapedeck/recording/stop")[0] == 200
        code, e = jcall(host, "POST", "/_tapedeck/recording/start", {"path": str(tmp_path / "no" / "dir.sqlite")})
        assert code == 400 and e["error"] == "cannot_record", e
        assert jcall(host, "POST", "/_tapedeck/recording/start", {})[0] == 400
        # The recorder's metrics: frames committed and the write latency, per batch.
        families = {f.name: f for f in text_string_to_metric_families(call(host, "GET", "/metrics")[2])}
        committed = [s.value for s in families["tapedeck_recorder_frames_committed"].samples
                     if s.name == "tapedeck_recorder_frames_committed_total"]
        assert committed and committed[0] >= stopped["frames_written"]
        latency = {s.name: s.value for s in families["tapedeck_recorder_write_seconds"].samples if not s.labels.get("le")}
        assert latency["tapedeck_recorder_write_seconds_count"] >= 1
        assert latency["tapedeck_recorder_write_seconds_sum"] >= 0


LOOPING = """\
scenario: looping
profile: ops-control-center
seed: 5
start: immediately
loop: true
streams:
  - name: ticks
    every: 100ms
    count: 20
    event: { type: metric, action: updated, data: { seq: "{{ seq() }}" } }
faults:
  - { at: 30s, kind: close, code: 4001, reason: jumped over }
  - { at: 90s, kind: close, code: 4002, reason: reached }
"""


def test_seek_in_a_looping_scenario_skips_the_faults_it_jumps_over(binary, tmp_path):
    path = tmp_path / "looping.yaml"
    path.write_text(LOOPING)
    with serve(str(path)) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("qa")) as ws:
                await next_seq(ws, 5)
                # Past the 30 s fault, far past the scenario's 2 s: it loops on.
                code, t = jcall(host, "POST", "/_tapedeck/timeline/seek", {"to": "1m"})
                assert code == 200 and t["scenario_time"] >= 60
                await next_seq(ws, 3)
                await next_seq(ws, 3)
                # Just before the 90 s fault: it comes, the 30 s one never did.
                jcall(host, "POST", "/_tapedeck/timeline/seek", {"to": 89.5})
                with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd.code == 4002, closed.value
        run(go())


def test_a_recording_is_finished_on_shutdown_and_runs_beside_record(binary, scenario_file, tmp_path):
    beside, api = str(tmp_path / "beside.sqlite"), str(tmp_path / "api.sqlite")
    with serve(scenario_file, "--record", beside) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers=bearer("qa")) as ws:
                await next_seq(ws, 5)
                assert jcall(host, "POST", "/_tapedeck/recording/start", {"path": api})[0] == 200
                for _ in range(5):
                    await next_seq(ws, 5)
        run(go())
    # serve stopped (SIGTERM) with the recording running: the file is finished and complete.
    for path in (beside, api):
        p = tapedeck("inspect", path, "--json")
        assert p.returncode == 0, p.stderr
        report = json.loads(p.stdout)
        assert report["frames"] >= 5 and len(report["connections"]) == 1, report
