"""workitems-protobuf, driven by an independent client: Python `websockets` plus Google's `protobuf`
package reading the same descriptor set, against the real `tapedeck serve` binary."""
import asyncio
import json
import os
import time
import urllib.request

import pytest
import websockets
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from conftest import ROOT, run, serve, status, token

SCENARIO = "scenarios/workitems-protobuf/sprint-day.yaml"


def message_class():
    fds = descriptor_pb2.FileDescriptorSet()
    with open(os.path.join(ROOT, "protos", "workitems.pb"), "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("workitems.v1.WebSocketMessage"))


WSM = message_class()
RELATED_ACME = {"project-1"}


def frame(**kw):
    return json_format.ParseDict(kw, WSM()).SerializeToString()


def decode(data):
    assert isinstance(data, bytes), f"expected a binary frame, got {data!r}"
    m = WSM()
    m.ParseFromString(data)
    return m


def headers(tenant, user):
    return {"Authorization": "Bearer " + token("--tenant", tenant, "--user", user)}


def project_of(m):
    """The project an event is about, from the decoded payload."""
    kind = m.WhichOneof("payload")
    body = getattr(m, kind)
    for path in ("work_item.project_id", "project_id", "comment.work_item_id", "time_entry.work_item_id", "dependency.blocked_item_id", "sprint_id"):
        obj = body
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj:
            return {"task-1": "project-1", "task-2": "project-1", "sprint-5": "project-1"}.get(obj, obj)
    return None


async def collect(ws, quiet=1.5, limit=200):
    out = []
    while len(out) < limit:
        try:
            out.append(decode(await asyncio.wait_for(ws.recv(), quiet)))
        except asyncio.TimeoutError:
            break
    return out


def test_auth_subscribe_relates_to_and_pong(binary):
    with serve(SCENARIO, "--speed", "4") as (host, _):
        url = f"ws://{host}/ws"

        assert status(url) == 401
        assert status(url, {"Authorization": "Bearer nope"}) == 401
        assert status(url, {"Authorization": "Bearer " + token("--user", "no-tenant", "--tenant", "")}) == 401

        async def go():
            async with websockets.connect(url, additional_headers=headers("acme", "user-1")) as ws:
                await ws.send(frame(messageId="sub-1", timestamp=1, subscribe={"projectIds": ["project-1"], "sprintIds": ["sprint-5"]}))
                events = await collect(ws)
                sent = int(time.time() * 1000)
                await ws.send(frame(messageId="ping-1", timestamp=sent, ping={"timestamp": sent}))
                pong = None
                while pong is None:
                    m = decode(await ws.recv())
                    if m.WhichOneof("payload") == "pong":
                        pong = m
                return events, pong, sent

        events, pong, sent = run(go())
        confirmed = events[0]
        assert confirmed.WhichOneof("payload") == "subscription_confirmed"
        assert list(confirmed.subscription_confirmed.subscribed_project_ids) == ["project-1"]
        assert list(confirmed.subscription_confirmed.subscribed_sprint_ids) == ["sprint-5"]
        assert list(confirmed.subscription_confirmed.subscribed_work_item_ids) == []
        rest = events[1:]
        kinds = {m.WhichOneof("payload") for m in rest}
        assert {"work_item_created", "work_item_updated", "comment_added", "user_presence"} <= kinds
        for m in rest:
            assert m.message_id and m.timestamp > 0
            assert project_of(m) in RELATED_ACME, json_format.MessageToDict(m)
        assert len({m.message_id for m in rest}) == len(rest)
        assert pong.pong.client_timestamp == sent
        assert pong.pong.timestamp >= sent


def test_tenants_are_isolated(binary):
    with serve(SCENARIO, "--speed", "4") as (host, _):
        url = f"ws://{host}/ws"

        async def go():
            async with websockets.connect(url, additional_headers=headers("acme", "user-1")) as acme, \
                       websockets.connect(url, additional_headers=headers("globex", "g-1")) as globex:
                # A malicious subscription to another tenant's resources is refused.
                await acme.send(frame(messageId="evil", subscribe={"projectIds": ["project-9"], "workItemIds": ["task-90"]}))
                err = decode(await acme.recv())
                await acme.send(frame(messageId="ok", subscribe={"projectIds": ["project-1", "project-2"]}))
                await globex.send(frame(messageId="g", subscribe={"projectIds": ["project-9"]}))
                a, g = await asyncio.gather(collect(acme), collect(globex))
                return err, a, g

        err, a, g = run(go())
        assert err.WhichOneof("payload") == "error"
        assert err.error.error_code == "AUTHORIZATION_FAILED"
        assert err.error.request_message_id == "evil"
        acme_events = [m for m in a if m.WhichOneof("payload") != "subscription_confirmed"]
        globex_events = [m for m in g if m.WhichOneof("payload") != "subscription_confirmed"]
        assert acme_events and globex_events
        assert all(project_of(m) in {"project-1", "project-2"} for m in acme_events)
        assert all(project_of(m) == "project-9" for m in globex_events)
        acme_ids = {m.message_id for m in acme_events}
        assert not acme_ids & {m.message_id for m in globex_events}


def test_rate_limit_triggers_at_message_101(binary):
    with serve(SCENARIO) as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=headers("acme", "user-7")) as ws:
                for i in range(101):
                    await ws.send(frame(messageId=f"p{i + 1}", ping={"timestamp": i}))
                return [decode(await ws.recv()) for _ in range(101)]

        replies = run(go())
        assert all(r.WhichOneof("payload") == "pong" for r in replies[:100])
        last = replies[100]
        assert last.WhichOneof("payload") == "error"
        assert last.error.error_code == "RATE_LIMIT_EXCEEDED"
        assert last.error.request_message_id == "p101"


def test_activity_returns_exactly_what_was_missed(binary):
    with serve(SCENARIO, "--speed", "2") as (host, _):
        url = f"ws://{host}/ws"
        h = headers("acme", "user-1")

        async def go():
            async with websockets.connect(url, additional_headers=h) as witness:
                await witness.send(frame(subscribe={"projectIds": ["project-1"]}))
                async with websockets.connect(url, additional_headers=h) as client:
                    await client.send(frame(subscribe={"projectIds": ["project-1"]}))
                    got = []
                    while len(got) < 4:
                        m = decode(await client.recv())
                        if m.WhichOneof("payload") != "subscription_confirmed":
                            got.append(m)
                last_seen = got[-1].timestamp
                # Disconnected; the world goes on. The witness sees everything.
                seen = await collect(witness, quiet=3)
                return last_seen, [m for m in seen if m.WhichOneof("payload") != "subscription_confirmed"]

        last_seen, witnessed = run(go(), 90)
        missed = [m.message_id for m in witnessed if m.timestamp > last_seen]
        assert missed, "the scenario should go on after the disconnect"
        req = urllib.request.Request(f"http://{host}/api/v1/activity?since={last_seen}&project_ids=project-1", headers=h)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = json.loads(resp.read())
        listed = [e["message"]["messageId"] for e in body["events"]]
        assert listed == missed
        assert body["count"] == len(missed)
        # Same auth as the socket.
        try:
            urllib.request.urlopen(f"http://{host}/api/v1/activity?since=0", timeout=10)
            pytest.fail("expected 401")
        except urllib.error.HTTPError as e:
            assert e.code == 401


def test_a_late_subscribe_still_sees_the_first_event(binary):
    """Connect, wait a second, subscribe: the timeline starts at that first message, so the
    scenario's first event (sprintStarted at t=0) arrives; four fresh servers in a row."""
    for _ in range(4):
        with serve(SCENARIO) as (host, _):
            async def go():
                async with websockets.connect(f"ws://{host}/ws", additional_headers=headers("acme", "user-1")) as ws:
                    await asyncio.sleep(1)
                    await ws.send(frame(messageId="sub-1", subscribe={"projectIds": ["project-1"], "sprintIds": ["sprint-5"]}))
                    return await collect(ws, quiet=1.5, limit=5)
            kinds = [m.WhichOneof("payload") for m in run(go())]
            assert kinds[:2] == ["subscription_confirmed", "sprint_started"], kinds


def test_the_demo_loops_so_a_late_client_still_sees_traffic(binary):
    """The demo's sprint day lasts 13 s of scenario time; at 10x it is over in 1.3 s, yet a client
    that arrives 3 s after the first one still receives events."""
    with serve("--speed", "10") as (host, _):
        async def client():
            async with websockets.connect(f"ws://{host}/ws", additional_headers=headers("acme", "user-1")) as ws:
                await ws.send(frame(messageId="s", subscribe={"projectIds": ["project-1"], "sprintIds": ["sprint-5"]}))
                return await collect(ws, quiet=2, limit=3)

        async def go():
            first = asyncio.create_task(client())
            await asyncio.sleep(3)
            late = await client()
            return await first, late

        first, late = run(go())
        assert len(first) >= 2
        assert len(late) >= 2, [m.WhichOneof("payload") for m in late]
