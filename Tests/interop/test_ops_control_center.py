"""ops-control-center, driven by an independent client (Python `websockets`) against the real
`tapedeck serve` binary."""
import asyncio
import json
import re
import signal

import websockets

from conftest import run, serve, status, token

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STORM = "scenarios/ops-control-center/incident-storm.yaml"
QUICK = "scenarios/ops-control-center/quick-check.yaml"


def test_missing_or_bad_token_is_401(binary):
    with serve(STORM) as (host, _):
        url = f"ws://{host}/api/ws"
        assert status(url) == 401
        assert status(url, {"Authorization": "Bearer not.a.jwt"}) == 401
        wrong_secret = token("--user", "eve", "--secret", "x" * 40)
        assert status(url, {"Authorization": f"Bearer {wrong_secret}"}) == 401
        expired = token("--user", "old", "--expires", "1s")
        import time; time.sleep(2)
        assert status(url, {"Authorization": f"Bearer {expired}"}) == 401
        assert status(url, {"Authorization": f"Bearer {token('--user', 'nobody', '--permissions', '')}"}) in (401, 403)


def test_squad_filter_ping_errors(binary):
    with serve(STORM, "--speed", "100") as (host, _):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents"], "filters": {"squad": "platform"}}))
                incidents = []
                while len(incidents) < 3:
                    incidents.append(json.loads(await ws.recv()))
                await ws.send(json.dumps({"action": "ping"}))
                await ws.send("{this is not json")
                await ws.send(json.dumps({"id": "msg-123", "action": "explode"}))
                rest = []
                while len([m for m in rest if m.get("type") == "error"]) < 2 or not any(m.get("action") == "pong" for m in rest):
                    rest.append(json.loads(await ws.recv()))
                return incidents, rest

        incidents, rest = run(go())
        for m in incidents + [m for m in rest if m.get("type") == "incident"]:
            assert list(m.keys()) == ["type", "action", "data", "timestamp"]
            assert m["type"] == "incident" and m["action"] in ("created", "updated")
            assert m["data"]["squad"] == "platform"
            assert ISO.match(m["timestamp"])
            assert {"id", "jira_id", "title", "severity", "status", "squad", "created_at"} <= set(m["data"])
        assert all(m.get("type") in ("incident", "error", None) for m in rest)
        pong = next(m for m in rest if m.get("action") == "pong")
        assert set(pong) == {"action", "timestamp"} and ISO.match(pong["timestamp"])
        errors = [m for m in rest if m.get("type") == "error"]
        assert errors[0]["action"] == "created"
        assert errors[0]["data"] == {"code": "INVALID_MESSAGE", "message": "Message format is invalid"}
        assert errors[1]["data"] == {"code": "INVALID_MESSAGE", "message": "Message format is invalid", "original_message_id": "msg-123"}
        assert ISO.match(errors[0]["timestamp"])


def test_the_101st_message_in_a_minute_is_refused(binary):
    with serve(STORM) as (host, _):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Cookie": f"session={jwt}"}) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["none"]}))
                for _ in range(99):
                    await ws.send(json.dumps({"action": "ping"}))
                await ws.send(json.dumps({"action": "ping"}))  # the 101st
                replies = [json.loads(await ws.recv()) for _ in range(100)]
                return replies

        replies = run(go())
        assert [r.get("action") for r in replies[:99]] == ["pong"] * 99
        assert replies[99]["type"] == "error"
        assert replies[99]["data"]["code"] == "RATE_LIMITED"


def collect(speed, count=22):
    with serve(QUICK, "--speed", speed, "--timeline", "per-connection") as (host, _):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents", "alerts", "metrics"]}))
                out = []
                while len(out) < count:
                    m = json.loads(await ws.recv())
                    m.pop("timestamp")
                    out.append(m)
                return out
        return run(go())


def test_speed_changes_timing_not_the_sequence(binary):
    normal = collect("1")
    assert len(normal) == 22
    assert collect("10") == normal
    assert collect("max") == normal
    assert collect("max") == normal  # two runs with the same seed are identical


def test_sigterm_closes_clients_with_1001(binary):
    with serve(STORM) as (host, proc):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["none"]}))
                await asyncio.sleep(0.2)
                proc.send_signal(signal.SIGTERM)
                try:
                    while True:
                        await ws.recv()
                except websockets.exceptions.ConnectionClosed as e:
                    return e.rcvd.code if e.rcvd else None

        assert run(go()) == 1001
        assert proc.wait(timeout=10) == 0


def test_a_client_that_only_pings_receives_events(binary):
    """Subscribing is optional: a ping is a first message, and the timeline starts with it."""
    with serve(STORM, "--speed", "10") as (host, _):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send(json.dumps({"action": "ping"}))
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if m.get("type") in ("incident", "metric", "alert"):
                        return m["type"]

        assert run(go(), 20) in ("incident", "metric", "alert")


def test_a_silent_client_receives_events_after_the_grace(binary):
    with serve(STORM, "--speed", "10") as (host, _):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]

        assert run(go(), 20) in ("incident", "metric", "alert")
