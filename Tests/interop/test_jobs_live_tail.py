"""jobs-live-tail, driven by an independent client (Python `websockets`) against the real
`tapedeck serve` binary (env TAPEDECK_BIN, default .build/debug/tapedeck).

Run: python3 -m venv .venv && .venv/bin/pip install websockets pytest
     .venv/bin/pytest Tests/interop/test_jobs_live_tail.py
"""
import asyncio
import json

import websockets

from conftest import recv_until, run, serve_host as serve, status, token  # shared helpers

QUICK = "scenarios/jobs-live-tail/quick-check.yaml"
EXAMPLE = "scenarios/jobs-live-tail/job-run-with-live-tail.yaml"
FLOOD = "scenarios/jobs-live-tail/flood.yaml"   # the quick check plus a 20000-entry flood


def test_missing_or_invalid_token_is_401():
    with serve(QUICK) as host:
        assert status(f"ws://{host}/api/v1/ws") == 401
        assert status(f"ws://{host}/api/v1/ws?token=not.a.jwt") == 401
        assert status(f"ws://{host}/api/v1/ws?token={token('--user', 'ana', '--tenant', '')}") == 401  # no tenant_id
        assert status(f"ws://{host}/api/v1/ws?token={token('--user', 'ana', '--tenant', 't1')}") == 101


def test_job_progress_completion_tenant_scope_and_unknown_jobs():
    with serve(QUICK) as host:
        jwt = token("--user", "ana", "--tenant", "t1")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}") as ws:
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "nope"}}))
                unknown = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "job-t2"}}))
                foreign = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "job-1"}}))
                rest = await recv_until(ws, lambda m: m["type"] == "job_complete")
                return unknown, foreign, rest

        unknown, foreign, rest = run(go())
        for e in (unknown, foreign):
            assert e["type"] == "error"
            assert e["payload"]["code"] == "subscription_failed"
            assert e["payload"]["message"] == "Job not found"
        progress = [m for m in rest if m["type"] == "job_progress"]
        assert [p["payload"]["progress_pct"] for p in progress] == [0, 25, 50, 75]
        assert all(list(p) == ["type", "payload"] for p in rest)
        assert all(p["payload"]["message"] != "other tenant" for p in progress)
        assert list(progress[0]["payload"]) == ["job_id", "status", "progress_pct", "processed_lines", "total_lines", "message"]
        done = rest[-1]["payload"]
        assert done["status"] == "complete" and done["log_duration"] == "7d 23h 59m 59s"
        assert done["log_start"] == "2026-02-01T00:00:00Z" and done["log_end"] == "2026-02-08T23:59:59Z"
        assert {"api_count", "sql_count", "filter_count", "esc_count"} <= set(done)


def test_live_tail_filters_and_unsubscribe():
    with serve(QUICK) as host:
        jwt = token("--user", "ana", "--tenant", "t1")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}") as ws:
                await ws.send(json.dumps({"type": "subscribe_live_tail", "payload": {"job_id": "job-1", "filters": {
                    "log_types": ["API", "SQL"], "min_duration_ms": 1000, "users": ["Demo"]}}}))
                await asyncio.sleep(2.0)  # the tail stream (30 entries) has played by now
                await ws.send(json.dumps({"type": "unsubscribe_live_tail", "payload": {"job_id": "job-1"}}))
                await ws.send(json.dumps({"type": "ping"}))
                return await recv_until(ws, lambda m: m["type"] == "pong")

        got = run(go())
        entries = [m["payload"]["entry"] for m in got if m["type"] == "live_tail_entry"]
        # line n: log_type API/SQL/FLTR by n mod 3, user Demo for odd n, duration n*100.
        expected = [n for n in range(1, 31) if (n - 1) % 3 != 2 and n % 2 == 1 and n * 100 >= 1000]
        assert [e["line_number"] for e in entries] == expected
        assert list(entries[0]) == ["line_number", "timestamp", "log_type", "trace_id", "rpc_id", "queue", "user",
                                    "api_code", "form", "duration_ms", "success", "raw_text"]


def test_eleventh_subscription_is_refused_first_ten_keep_working():
    with serve(QUICK) as host:
        jwt = token("--user", "ana", "--tenant", "t1")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}") as ws:
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "job-1"}}))
                await ws.send(json.dumps({"type": "subscribe_live_tail", "payload": {"job_id": "job-1"}}))
                for j in ["job-flood", "j3", "j4", "j5", "j6", "j7", "j8", "j9"]:
                    await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": j}}))
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "j10"}}))
                return await recv_until(ws, lambda m: m["type"] == "job_complete")

        got = run(go())
        errors = [m for m in got if m["type"] == "error"]
        assert len(errors) == 1 and errors[0]["payload"]["code"] == "subscription_limit_exceeded"
        assert any(m["type"] == "live_tail_entry" for m in got)
        assert any(m["type"] == "job_progress" for m in got)


def test_ping_pong_and_timeout_close():
    with serve("scenarios/jobs-live-tail/short-ping-timeout.yaml") as host:  # settings.ping_timeout: 1
        jwt = token("--user", "ana", "--tenant", "t1")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}") as ws:
                pongs = []
                for _ in range(4):  # 2 s of pings every 0.5 s keeps it open past the 1 s timeout
                    await ws.send(json.dumps({"type": "ping"}))
                    pongs.append(json.loads(await ws.recv()))
                    await asyncio.sleep(0.5)
                try:
                    while True:
                        await ws.recv()
                except websockets.exceptions.ConnectionClosed as e:
                    return pongs, e.rcvd.code if e.rcvd else None

        pongs, code = run(go())
        assert pongs == [{"type": "pong"}] * 4
        assert code == 1001


def test_backpressure_drops_oldest_and_warns():
    with serve(FLOOD, "--speed", "10") as host:
        jwt = token("--user", "ana", "--tenant", "t1")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}", max_queue=1, max_size=None) as ws:
                await ws.send(json.dumps({"type": "subscribe_live_tail", "payload": {"job_id": "job-flood"}}))
                await asyncio.sleep(5)  # a slow reader: the 20000-entry flood plays meanwhile
                entries, dropped, warnings = 0, 0, []
                while entries + dropped < 20000:
                    m = json.loads(await ws.recv())
                    if m["type"] == "live_tail_entry":
                        entries += 1
                    elif m["type"] == "backpressure_warning":
                        warnings.append(m)
                        dropped += m["payload"]["dropped"]
                return entries, dropped, warnings

        entries, dropped, warnings = run(go(), 120)
        assert dropped > 0 and warnings
        assert entries + dropped == 20000
        w = warnings[0]["payload"]
        assert w["job_id"] == "job-flood" and w["subscription"] == "live_tail" and w["dropped"] > 0


def test_example_scenario_serves():
    with serve(EXAMPLE, "--speed", "20") as host:
        jwt = token("--user", "ana", "--tenant", "acme")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}") as ws:
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "job-7d-arserver"}}))
                return await recv_until(ws, lambda m: m["type"] == "job_complete")

        got = run(go())
        assert got[-1]["payload"]["log_duration"] == "7d 23h 59m 59s"


def test_demo_serves_jobs_live_tail_at_its_spec_path():
    with serve() as host:  # no scenario: the built-in demo, every profile on one port
        jwt = token("--user", "ana", "--tenant", "acme")

        async def go():
            async with websockets.connect(f"ws://{host}/api/v1/ws?token={jwt}") as ws:
                await ws.send(json.dumps({"type": "subscribe_job_progress", "payload": {"job_id": "job-7d-arserver"}}))
                return json.loads(await ws.recv())

        m = run(go())
        assert m["type"] == "job_progress" and m["payload"]["job_id"] == "job-7d-arserver"
