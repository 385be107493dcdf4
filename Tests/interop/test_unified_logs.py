"""unified-logs, driven by an independent client (Python `websockets`) against the real
`tapedeck serve` binary (env TAPEDECK_BIN, default .build/debug/tapedeck).

Run: python3 -m venv .venv && .venv/bin/pip install websockets pytest
     .venv/bin/pytest Tests/interop/test_unified_logs.py
"""
import asyncio
import json

import websockets

from conftest import recv_until, run, serve_host as serve, status, token  # shared helpers

EXAMPLE = "scenarios/unified-logs/user-log-session.yaml"
COOKIE = "better-auth.session_token"


def session(token):
    return {"Cookie": f"{COOKIE}={token}"}


def test_no_valid_session_is_401():
    with serve(EXAMPLE) as host:
        url = f"ws://{host}/ws"
        assert status(url) == 401
        assert status(url, session("nope")) == 401
        assert status(url, session("sess-expired")) == 401
        assert status(url, {"Authorization": f"Bearer {token()}"}) == 401
        assert status(url, session("sess-alice")) == 101
        assert status(url, session("sess-alice.c2lnbmF0dXJl")) == 101   # signed better-auth value


def test_initial_logs_live_logs_and_job_events_are_the_users():
    with serve(EXAMPLE, "--speed", "20") as host:
        async def go():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-alice")) as ws:
                return await recv_until(ws, lambda m: m["type"] == "job-event")

        msgs = run(go())
        initial = msgs[0]
        assert list(initial) == ["type", "logs", "timestamp"] and initial["type"] == "initial-logs"
        assert [l["id"] for l in initial["logs"]] == ["past-1"]          # bob's past log is not there
        logs = [m for m in msgs if m["type"] == "log"]
        assert logs and all(m["log"]["userId"] == "user-alice" for m in logs)
        assert all(list(m) == ["type", "log", "timestamp"] for m in logs)
        job = msgs[-1]
        assert list(job) == ["type", "channel", "data", "timestamp"] and job["channel"] == "jobs"


def test_channels_ping_errors():
    with serve(EXAMPLE, "--speed", "20") as host:
        async def go():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-alice")) as ws:
                await recv_until(ws, lambda m: m["type"] == "initial-logs")
                await ws.send("not json")
                await ws.send(json.dumps({"type": "dance"}))
                await ws.send(json.dumps({"type": "subscribe"}))
                await ws.send(json.dumps({"type": "unsubscribe", "channel": "all"}))
                await ws.send(json.dumps({"type": "subscribe", "channel": "jobs"}))
                await ws.send(json.dumps({"type": "ping"}))
                replies = [m for m in await recv_until(ws, lambda m: m["type"] == "pong") if m["type"] in ("error", "pong")]
                jobs_only = [json.loads(await ws.recv()) for _ in range(2)]
                return replies, jobs_only

        replies, jobs_only = run(go())
        assert replies == [{"type": "error", "error": "Invalid message format"},
                           {"type": "error", "error": "Unknown message type: dance"},
                           {"type": "error", "error": "Channel is required"},
                           {"type": "pong"}]
        assert all(m["type"] == "job-event" for m in jobs_only)


def test_clear_logs_empties_the_next_initial_logs():
    with serve(EXAMPLE) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-alice")) as ws:
                first = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "clear-logs"}))
                cleared = await recv_until(ws, lambda m: m["type"] == "logs-cleared")
            async with websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-alice")) as ws:
                again = json.loads(await ws.recv())
            async with websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-bob")) as ws:
                bob = json.loads(await ws.recv())
            return first, cleared[-1], again, bob

        first, cleared, again, bob = run(go())
        assert first["type"] == "initial-logs" and len(first["logs"]) >= 1
        assert list(cleared) == ["type", "timestamp"]
        assert again["type"] == "initial-logs"
        assert [l for l in again["logs"] if l["id"] == "past-1"] == []
        assert [l["id"] for l in bob["logs"]][:1] == ["past-2"]


def test_shutdown_sends_close_frame():
    with serve(EXAMPLE) as host:
        async def go():
            ws = await websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-alice"))
            await ws.recv()
            return ws

        async def scenario():
            ws = await go()
            return ws

        loop = asyncio.new_event_loop()
        ws = loop.run_until_complete(scenario())
    # serve() has sent SIGTERM on exit: the client got a close frame 1001.
    async def closed():
        try:
            while True:
                await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None
    assert loop.run_until_complete(asyncio.wait_for(closed(), 20)) == 1001
    loop.close()


def test_demo_serves_unified_logs_at_its_spec_path():
    with serve() as host:  # no scenario: the built-in demo, every profile on one port
        async def go():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=session("sess-alice")) as ws:
                return json.loads(await ws.recv())

        m = run(go())
        assert m["type"] == "initial-logs" and [l["id"] for l in m["logs"]] == ["past-1"]
