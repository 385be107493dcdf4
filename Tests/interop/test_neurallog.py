"""neurallog, driven by an independent client (Python `websockets`) against the real
`tapedeck serve` binary (env TAPEDECK_BIN, default .build/debug/tapedeck).

Run: python3 -m venv .venv && .venv/bin/pip install websockets pytest
     .venv/bin/pytest Tests/interop/test_neurallog.py
"""
import asyncio
import json
import urllib.parse

import websockets

from conftest import recv_until, run, serve_host as serve, status, token  # shared helpers

QUICK = "scenarios/neurallog/quick-check.yaml"
SHORT_HB = "scenarios/neurallog/short-heartbeat.yaml"
EXAMPLE = "scenarios/neurallog/error-burst-with-notifications.yaml"


async def recv_all(ws):
    out = []
    try:
        while True:
            out.append(json.loads(await ws.recv()))
    except websockets.exceptions.ConnectionClosed as e:
        return out, (e.rcvd.code if e.rcvd else None)


def q(**params):
    return urllib.parse.urlencode(params)


def test_token_or_api_key_and_tenant_from_host():
    with serve(QUICK) as host:
        base = f"ws://{host}/v1/logs/stream"
        assert status(base) == 401
        assert status(base + "?apiKey=nope") == 401
        assert status(base + "?apiKey=key-acme") == 101
        assert status(f"ws://{host}/v1/notifications?token={token('--tenant', 'acme')}") == 101
        bare = token("--user", "u", "--tenant", "")
        assert status(base + f"?token={bare}") == 403
        assert status(base + f"?token={bare}", {"Host": "api.acme.neurallog.com"}) == 101
        assert status(base + f"?token={token('--tenant', 'globex')}", {"Host": "api.acme.neurallog.com"}) == 403


def test_stream_start_history_limit_and_stream_end():
    with serve(QUICK) as host:
        url = f"ws://{host}/v1/logs/stream?apiKey=key-acme&" + q(query="level:ERROR", filter='{"source":"api-service"}',
                                                                 history="true", limit="2", follow="false")

        async def go():
            async with websockets.connect(url) as ws:
                return await recv_all(ws)

        msgs, code = run(go())
        assert [m["type"] for m in msgs] == ["stream_start", "log", "log", "stream_end"]
        assert msgs[0]["data"] == {"query": "level:ERROR", "filter": {"source": "api-service"}, "follow": False}
        assert [m["data"]["id"] for m in msgs[1:3]] == ["p5", "p6"]
        assert all(list(m) == ["type", "id", "data", "timestamp"] for m in msgs)
        assert len({m["id"] for m in msgs}) == len(msgs)
        assert code == 1000


def test_follow_with_query_language_and_tenant_scope():
    with serve(QUICK) as host:
        url = f"ws://{host}/v1/logs/stream?apiKey=key-acme&" + q(query="level:ERROR AND NOT (source:auth OR message:nothing)")

        async def go():
            async with websockets.connect(url) as ws:
                logs = []
                start = json.loads(await ws.recv())
                while len(logs) < 4:
                    m = json.loads(await ws.recv())
                    if m["type"] == "log":
                        logs.append(m)
                return start, logs

        start, logs = run(go())
        assert start["type"] == "stream_start" and start["data"]["follow"] is True
        assert [m["data"]["id"] for m in logs] == ["log-1", "log-5", "log-9", "log-13"]


def test_pause_drops_logs_and_resume_restarts():
    with serve(QUICK) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/v1/logs/stream?apiKey=key-acme") as ws:
                barrier = json.dumps({"type": "command", "id": "sync", "data": {"action": "sync"}})
                before = await recv_until(ws, lambda m: m["type"] == "log" and m["data"]["id"] == "log-2")
                await ws.send(json.dumps({"type": "command", "id": "c1", "data": {"action": "pause"}}))
                await ws.send(barrier)
                before += await recv_until(ws, lambda m: m["type"] == "error")
                await asyncio.sleep(0.5)
                await ws.send(json.dumps({"type": "command", "id": "c2", "data": {"action": "resume"}}))
                await ws.send(barrier)
                during = await recv_until(ws, lambda m: m["type"] == "error")
                after = await recv_until(ws, lambda m: m["type"] == "log")
                return before, during, after

        before, during, after = run(go())
        last = max(int(m["data"]["id"][4:]) for m in before if m["type"] == "log")
        assert [m["type"] for m in during] == ["error"] and during[0]["data"]["code"] == "unknown_command"
        assert int(after[-1]["data"]["id"][4:]) > last + 5   # the ~10 logs of the pause never arrive


def test_update_filter_and_invalid_filter():
    with serve(QUICK) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/v1/logs/stream?apiKey=key-acme") as ws:
                await ws.send(json.dumps({"type": "command", "id": "c1", "data": {"action": "update_filter", "filter": {"invalid": "field"}}}))
                bad = await recv_until(ws, lambda m: m["type"] == "error")
                await ws.send(json.dumps({"type": "command", "id": "c2", "data": {"action": "update_filter", "filter": {"level": ["ERROR", "WARN"], "source": "auth"}}}))
                await ws.send(json.dumps({"type": "command", "id": "sync", "data": {"action": "sync"}}))
                await recv_until(ws, lambda m: m["type"] == "error")
                logs = []
                while len(logs) < 3:
                    m = json.loads(await ws.recv())
                    if m["type"] == "log":
                        logs.append(m)
                return bad[-1], logs

        bad, logs = run(go())
        assert bad["data"]["code"] == "invalid_filter"
        assert bad["data"]["details"]["filter"] == {"invalid": "field"}
        assert all(m["data"]["level"] == "ERROR" and m["data"]["source"] == "auth" for m in logs)


def test_heartbeat_ack_and_close_without_ack():
    with serve(SHORT_HB) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/v1/notifications?apiKey=key-acme") as ws:
                ids = []
                while len(ids) < 4:
                    m = json.loads(await ws.recv())
                    if m["type"] == "heartbeat":
                        ids.append(m["id"])
                        await ws.send(json.dumps({"type": "heartbeat_ack", "id": m["id"], "timestamp": m["timestamp"]}))
                _, code = await recv_all(ws)
                return ids, code

        ids, code = run(go())
        assert len(set(ids)) == 4
        assert code == 1001


def test_notifications_endpoint():
    with serve(QUICK) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/v1/notifications?apiKey=key-acme") as ws:
                return await recv_until(ws, lambda m: m["type"] == "system_notification")

        msgs = run(go())
        assert [m["type"] for m in msgs] == ["rule_triggered", "action_executed", "system_notification"]
        assert msgs[0]["data"]["ruleId"] == "rule-456"


def test_per_tenant_connection_limit():
    with serve(QUICK) as host:
        async def go():
            url = f"ws://{host}/v1/notifications?apiKey=key-acme"
            async with websockets.connect(url), websockets.connect(f"ws://{host}/v1/logs/stream?apiKey=key-acme"):
                try:
                    async with websockets.connect(url):
                        third = 101
                except websockets.exceptions.InvalidStatus as e:
                    third = e.response.status_code
                async with websockets.connect(f"ws://{host}/v1/notifications?apiKey=key-globex"):
                    other = 101
                return third, other

        assert run(go()) == (429, 101)


def test_invalid_query_is_an_error():
    with serve(QUICK) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/v1/logs/stream?apiKey=key-acme&" + q(query="level:ERROR AND (")) as ws:
                return await recv_all(ws)

        msgs, code = run(go())
        assert msgs[0]["data"]["code"] == "invalid_query" and code == 1008


def test_example_scenario_serves():
    with serve(EXAMPLE, "--speed", "10") as host:
        async def go():
            url = f"ws://{host}/v1/logs/stream?apiKey=api-key-123&" + q(query="level:ERROR", history="true", limit="10")
            async with websockets.connect(url) as ws:
                return await recv_until(ws, lambda m: m["type"] == "log" and m["data"]["id"].startswith("log-db-"))

        msgs = run(go())
        assert msgs[0]["type"] == "stream_start"
        assert msgs[1]["data"]["id"] == "log-past-2"


def test_demo_serves_neurallog_at_its_spec_paths():
    with serve() as host:  # no scenario: the built-in demo, every profile on one port
        async def go():
            url = f"ws://{host}/v1/logs/stream?apiKey=api-key-123&" + q(history="true", limit="3", follow="false")
            async with websockets.connect(url) as ws:
                msgs, code = await recv_all(ws)
            async with websockets.connect(f"ws://{host}/v1/notifications?apiKey=api-key-123") as ws:
                await ws.send(json.dumps({"type": "command", "id": "x", "data": {"action": "sync"}}))
                err = await recv_until(ws, lambda m: m["type"] == "error")
            return msgs, code, err

        msgs, code, err = run(go())
        assert [m["type"] for m in msgs] == ["stream_start", "log", "log", "log", "stream_end"] and code == 1000
        assert err[-1]["data"]["code"] == "unknown_command"
