"""Client conformance (issue 15): reference clients, written against each profile's spec, run
against the real `tapedeck serve --conformance` binary on a clock 10 times faster than real time
(`--clock-rate 10`); each client divides its own delays by the same factor, so 30 s pings take 3 s.

One run per profile: a client that follows every client rule of the spec, and one client per rule
that breaks it in a distinct way, side by side. The report must mark the first all-pass and each
breakage as a failure of the right rule (and of no other), with evidence.

Run: python3 -m venv .build-ci-venv && .build-ci-venv/bin/pip install websockets pytest
     TAPEDECK_BIN=$PWD/.build/debug/tapedeck .build-ci-venv/bin/python -m pytest Tests/interop/test_conformance.py -q
"""
import asyncio
import json
import xml.etree.ElementTree as ET

import websockets

from conftest import run, serve, tapedeck, token

RATE = 10  # --clock-rate: simulation seconds per real second


async def pause(sim_seconds):
    """Sleeps for `sim_seconds` of simulation time."""
    await asyncio.sleep(sim_seconds / RATE)


async def drain(ws):
    """Reads (and drops) what the server sends, so the client is never a slow reader."""
    try:
        async for _ in ws:
            pass
    except websockets.exceptions.ConnectionClosed:
        pass


class Client:
    """One open WebSocket with a background reader."""

    def __init__(self, ws):
        self.ws = ws
        self.reader = asyncio.create_task(drain(ws))

    @classmethod
    async def open(cls, url, **kw):
        return cls(await websockets.connect(url, **kw))

    async def send(self, message):
        await self.ws.send(json.dumps(message))

    def drop(self):
        """The network fails: the TCP connection ends without a close frame."""
        self.ws.transport.abort()
        self.reader.cancel()

    async def close(self):
        await self.ws.close()
        self.reader.cancel()


async def refused(url, **kw):
    """An upgrade the server must refuse; returns the HTTP status."""
    try:
        ws = await websockets.connect(url, **kw)
    except websockets.exceptions.InvalidStatus as e:
        return e.response.status_code
    await ws.close()
    raise AssertionError(f"{url} was accepted")


def conformance(tmp_path, scenario, clients):
    """Serves `scenario` with --conformance, runs the clients side by side, stops the server
    (SIGTERM: the report is written on shutdown) and returns (report, junit root, summary)."""
    report = tmp_path / "conformance.json"
    junit = tmp_path / "conformance.xml"
    with serve(scenario, "--clock-rate", str(RATE), "--conformance", str(report), "--conformance-junit", str(junit)) as (host, proc):
        async def together():
            await asyncio.gather(*(c(host) for c in clients))
        run(together(), seconds=60)
        server = proc
    summary = server.stdout.read()
    assert server.returncode == 0, summary
    return json.loads(report.read_text()), ET.parse(junit).getroot(), summary


def rules_of(report, client):
    found = [c for c in report["clients"] if c["client"] == client]
    assert len(found) == 1, [c["client"] for c in report["clients"]]
    return {r["rule"]: r for r in found[0]["rules"]}


def assert_only_failure(report, client, rule, evidence):
    """`client` failed `rule` (with evidence containing `evidence`) and no other rule."""
    rules = rules_of(report, client)
    failed = sorted(name for name, r in rules.items() if r["status"] == "fail")
    assert failed == [rule], (client, json.dumps(rules, indent=1))
    messages = [e["message"] for e in rules[rule]["evidence"]]
    assert any(evidence in m for m in messages), messages
    assert all("time_s" in e for e in rules[rule]["evidence"])


def assert_all_pass(report, client, rules):
    got = rules_of(report, client)
    assert {name: r["status"] for name, r in got.items()} == {name: "pass" for name in rules}, json.dumps(got, indent=1)


# ---------------------------------------------------------------------------------------------
# jobs-live-tail: "Client sends ping every 30 seconds"; "auto-reconnects with exponential backoff
# (1s, 2s, 4s, 8s, max 30s)".

JOBS = "scenarios/jobs-live-tail/quick-check.yaml"


def jobs_url(host, jwt):
    return f"ws://{host}/api/v1/ws?token={jwt}"


def test_jobs_live_tail_reference_clients(tmp_path):
    good = {u: token("--profile", "jobs-live-tail", "--user", u, "--tenant", "t1") for u in ["ana", "bob", "cy"]}
    expired = token("--profile", "jobs-live-tail", "--user", "ana", "--tenant", "t1", "--expires", "-1h")

    async def follows_every_rule(host):
        c = await Client.open(jobs_url(host, good["ana"]))
        for _ in range(2):
            await pause(30)
            await c.send({"type": "ping"})
        await pause(5)
        c.drop()                                           # the network drops
        await pause(1)                                     # attempt 1 after 1 s: its token expired (401)
        assert await refused(jobs_url(host, expired)) == 401
        await pause(2)                                     # attempt 2 after 2 s, with a fresh token
        c = await Client.open(jobs_url(host, good["ana"]))
        await pause(30)
        await c.send({"type": "ping"})
        await pause(3)
        await c.close()

    async def pings_every_45s(host):
        c = await Client.open(jobs_url(host, good["bob"]))
        for _ in range(2):
            await pause(45)
            await c.send({"type": "ping"})
        await pause(2)
        await c.close()

    async def reconnects_immediately(host):
        c = await Client.open(jobs_url(host, good["cy"]))
        await pause(10)
        c.drop()
        c = await Client.open(jobs_url(host, good["cy"]))  # no backoff at all
        await pause(10)
        await c.close()

    report, junit, summary = conformance(tmp_path, JOBS, [follows_every_rule, pings_every_45s, reconnects_immediately])

    assert_all_pass(report, "t1/ana", ["ping", "reconnect"])
    assert rules_of(report, "t1/ana")["reconnect"]["passes"] == 2
    assert_only_failure(report, "t1/bob", "ping", "no ping within 35s of the connection opened")
    bob = rules_of(report, "t1/bob")["ping"]["evidence"][0]
    assert 34 < bob["time_s"] < 37 and bob["connection"] >= 1
    assert_only_failure(report, "t1/cy", "reconnect", "after the lost connection")
    assert "(expected 1s, accepted 0.5s–1.5s)" in rules_of(report, "t1/cy")["reconnect"]["evidence"][0]["message"]
    assert rules_of(report, "t1/cy")["ping"]["status"] == "not_exercised"
    assert report["passed"] is False

    cases = {(s.get("name"), c.get("name")): c for s in junit for c in s}
    assert cases[("jobs-live-tail t1/bob", "ping")].find("failure") is not None
    assert cases[("jobs-live-tail t1/ana", "ping")].find("failure") is None
    assert cases[("jobs-live-tail t1/cy", "ping")].find("skipped") is not None
    assert "jobs-live-tail t1/bob" in summary and "FAIL  ping: no ping within 35s" in summary


# ---------------------------------------------------------------------------------------------
# ops-control-center: ping every 30 s; at most 5 reconnect attempts, backoff 3 s, 6 s, 12 s, 24 s,
# 48 s; re-subscribe to all previous topics; payloads under 10 KB; at most 1 message/s per type.

OPS = "scenarios/ops-control-center/quick-check.yaml"


def ops_url(host):
    return f"ws://{host}/api/ws"


def bearer(jwt):
    return {"additional_headers": {"Authorization": f"Bearer {jwt}"}}


def test_ops_control_center_reference_clients(tmp_path):
    users = ["ana", "bob", "cleo", "dan", "eve", "fay", "gus"]
    good = {u: token("--profile", "ops-control-center", "--user", u) for u in users}
    expired = {u: token("--profile", "ops-control-center", "--user", u, "--expires", "-1h") for u in ["ana", "eve"]}
    topics = {"action": "subscribe", "topics": ["incidents", "alerts"]}

    async def follows_every_rule(host):
        c = await Client.open(ops_url(host), **bearer(good["ana"]))
        await c.send(topics)
        for _ in range(2):
            await pause(30)
            await c.send({"action": "ping"})
        await pause(5)
        c.drop()
        await pause(3)                                     # attempt 1 after 3 s: refused (expired token)
        assert await refused(ops_url(host), **bearer(expired["ana"])) == 401
        await pause(6)                                     # attempt 2 after 6 s
        c = await Client.open(ops_url(host), **bearer(good["ana"]))
        await c.send(topics)                               # every previous topic again
        await pause(30)
        await c.send({"action": "ping"})
        await pause(2)
        await c.close()

    async def forgets_a_topic(host):
        c = await Client.open(ops_url(host), **bearer(good["bob"]))
        await c.send(topics)
        await pause(5)
        c.drop()
        await pause(3)
        c = await Client.open(ops_url(host), **bearer(good["bob"]))
        await c.send({"action": "subscribe", "topics": ["incidents"]})  # alerts forgotten
        await pause(12)
        await c.close()

    async def sends_12kb(host):
        c = await Client.open(ops_url(host), **bearer(good["cleo"]))
        await c.send({"action": "subscribe", "topics": ["incidents"], "filters": {"note": "x" * 12000}})
        await pause(3)
        await c.close()

    async def floods_subscribes(host):
        c = await Client.open(ops_url(host), **bearer(good["dan"]))
        await c.send({"action": "subscribe", "topics": ["incidents"]})
        await c.send({"action": "subscribe", "topics": ["alerts"]})  # the same type within the second
        await pause(3)
        await c.close()

    async def retries_beyond_5_attempts(host):
        c = await Client.open(ops_url(host), **bearer(good["eve"]))
        await pause(5)
        c.drop()
        for delay in [3, 6, 12, 24, 48, 48]:               # on schedule, but a 6th attempt
            await pause(delay)
            assert await refused(ops_url(host), **bearer(expired["eve"])) == 401

    async def reconnects_immediately(host):
        c = await Client.open(ops_url(host), **bearer(good["fay"]))
        await pause(5)
        c.drop()
        c = await Client.open(ops_url(host), **bearer(good["fay"]))
        await pause(3)
        await c.close()

    async def pings_every_45s(host):
        c = await Client.open(ops_url(host), **bearer(good["gus"]))
        for _ in range(2):
            await pause(45)
            await c.send({"action": "ping"})
        await pause(2)
        await c.close()

    report, junit, summary = conformance(
        tmp_path, OPS,
        [follows_every_rule, forgets_a_topic, sends_12kb, floods_subscribes, retries_beyond_5_attempts, reconnects_immediately, pings_every_45s])

    assert_all_pass(report, "ana", ["ping", "reconnect", "after_reconnect.resubscribe", "max_message_size", "max_rate"])
    assert_only_failure(report, "bob", "after_reconnect.resubscribe", "did not re-subscribe to alerts within 10s")
    assert_only_failure(report, "cleo", "max_message_size", "sent a message of 12")
    assert rules_of(report, "cleo")["max_message_size"]["evidence"][0]["frame"].startswith('{"action":"subscribe"')
    assert_only_failure(report, "dan", "max_rate", "2 messages of 'subscribe' within 1s")
    assert_only_failure(report, "eve", "reconnect", "at most 5 attempts")
    assert rules_of(report, "eve")["reconnect"]["passes"] == 5
    assert_only_failure(report, "fay", "reconnect", "(expected 3s, accepted 2.5s–3.5s)")
    assert_only_failure(report, "gus", "ping", "no ping within 35s")
    assert report["summary"]["fail"] == 6

    failed = sorted(s.get("name") for s in junit for c in s if c.find("failure") is not None)
    assert failed == ["ops-control-center " + u for u in ["bob", "cleo", "dan", "eve", "fay", "gus"]]
    assert "ops-control-center ana (3 upgrade(s)): PASS" in summary


# ---------------------------------------------------------------------------------------------
# neurallog: "The server sends heartbeat messages ... Clients should respond with heartbeat_ack"
# and the heartbeat's id.

NEURALLOG = "scenarios/neurallog/quick-check.yaml"


def test_neurallog_heartbeat_ack_clients(tmp_path):
    # One tenant each: the scenario allows two connections per tenant.
    jwt = {u: token("--profile", "neurallog", "--user", u, "--tenant", t) for u, t in [("ana", "acme"), ("bob", "beta"), ("cy", "gamma")]}

    def client(user, answer):
        async def go(host):
            ws = await websockets.connect(f"ws://{host}/v1/logs/stream?token={jwt[user]}")
            loop = asyncio.get_running_loop()
            until = loop.time() + 75 / RATE               # two heartbeats (every 30 s)
            try:
                while (left := until - loop.time()) > 0:
                    try:
                        m = json.loads(await asyncio.wait_for(ws.recv(), left))
                    except asyncio.TimeoutError:
                        break
                    if m.get("type") == "heartbeat" and answer is not None:
                        await ws.send(json.dumps({"type": "heartbeat_ack", "id": answer(m), "timestamp": m["timestamp"]}))
            finally:
                await ws.close()
        return go

    report, _, summary = conformance(
        tmp_path, NEURALLOG,
        [client("ana", lambda m: m["id"]),                 # acks each heartbeat with its id
         client("bob", None),                              # never acks
         client("cy", lambda m: "hb-0")])                  # acks with the wrong id

    ana, bob, cy = "acme/ana", "beta/bob", "gamma/cy"
    assert rules_of(report, ana)["heartbeat_ack"]["status"] == "pass"
    assert rules_of(report, ana)["heartbeat_ack"]["passes"] == 2
    assert_only_failure(report, bob, "heartbeat_ack", "not answered with")
    evidence = rules_of(report, bob)["heartbeat_ack"]["evidence"][0]
    assert json.loads(evidence["frame"])["type"] == "heartbeat"
    assert json.loads(evidence["frame"])["id"] in evidence["message"]
    assert_only_failure(report, cy, "heartbeat_ack", "not answered with")


# ---------------------------------------------------------------------------------------------
# unified-logs: "Clients must have a valid session cookie to connect."

UNIFIED = "scenarios/unified-logs/user-log-session.yaml"


def test_unified_logs_session_cookie_clients(tmp_path):
    async def sends_the_cookie(host):
        c = await Client.open(f"ws://{host}/ws", additional_headers={"Cookie": "better-auth.session_token=sess-alice"})
        await pause(2)
        await c.close()

    async def sends_a_bearer_header_instead(host):
        await pause(1)
        assert await refused(f"ws://{host}/ws", additional_headers={"Authorization": "Bearer sess-bob"}) == 401

    report, _, _ = conformance(tmp_path, UNIFIED, [sends_the_cookie, sends_a_bearer_header_instead])
    assert_all_pass(report, "user-alice", ["send_cookie"])
    assert_only_failure(report, "127.0.0.1", "send_cookie", "upgrade to /ws without cookie 'better-auth.session_token' (sent no cookie)")


# ---------------------------------------------------------------------------------------------
# workitems-protobuf: ping every 30 s; backoff 1 s, 2 s, 4 s, 8 s, max 30 s; on reconnect
# re-subscribe to the same resources and fetch missed updates with GET /api/v1/activity; on 401
# stop retrying. Binary protobuf frames, written with Google's protobuf package.

WORKITEMS = "scenarios/workitems-protobuf/sprint-day.yaml"


def test_workitems_protobuf_reference_clients(tmp_path):
    from test_workitems_protobuf import frame  # the WebSocketMessage encoder of the protocol's own test
    good = {u: token("--profile", "workitems-protobuf", "--tenant", "acme", "--user", u) for u in ["u1", "u2", "u3"]}
    expired = token("--profile", "workitems-protobuf", "--tenant", "acme", "--user", "u3", "--expires", "-1h")
    url = lambda host: f"ws://{host}/ws"
    auth = lambda jwt: {"additional_headers": {"Authorization": f"Bearer {jwt}"}}
    subscribe = frame(messageId="sub-1", subscribe={"projectIds": ["project-1"]})
    ping = lambda n: frame(messageId=f"ping-{n}", ping={"timestamp": n})

    def fetch_missed(host, jwt):
        import urllib.request
        request = urllib.request.Request(f"http://{host}/api/v1/activity?since=0&project_ids=project-1", headers={"Authorization": f"Bearer {jwt}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200

    async def follows_every_rule(host):
        ws = await websockets.connect(url(host), **auth(good["u1"]))
        reader = asyncio.create_task(drain(ws))
        await ws.send(subscribe)
        for n in range(2):
            await pause(30)
            await ws.send(ping(n))
        await pause(5)
        ws.transport.abort()
        reader.cancel()
        await pause(1)
        ws = await websockets.connect(url(host), **auth(good["u1"]))
        reader = asyncio.create_task(drain(ws))
        await ws.send(subscribe)                            # the same resources
        await asyncio.to_thread(fetch_missed, host, good["u1"])  # then the missed updates
        await pause(30)
        await ws.send(ping(3))
        await pause(2)
        await ws.close()
        reader.cancel()

    async def skips_the_activity_fetch(host):
        ws = await websockets.connect(url(host), **auth(good["u2"]))
        await ws.send(subscribe)
        await pause(5)
        ws.transport.abort()
        await pause(1)
        ws = await websockets.connect(url(host), **auth(good["u2"]))
        reader = asyncio.create_task(drain(ws))
        await ws.send(subscribe)
        await pause(12)
        await ws.close()
        reader.cancel()

    async def retries_after_401(host):
        ws = await websockets.connect(url(host), **auth(good["u3"]))
        await pause(5)
        ws.transport.abort()
        await pause(1)
        assert await refused(url(host), **auth(expired)) == 401   # token expired: stop here...
        await pause(2)
        assert await refused(url(host), **auth(expired)) == 401   # ...but it tries again

    report, _, _ = conformance(tmp_path, WORKITEMS, [follows_every_rule, skips_the_activity_fetch, retries_after_401])
    u1 = {name: r["status"] for name, r in rules_of(report, "acme/u1").items()}
    assert u1 == {"ping": "pass", "reconnect": "pass", "after_reconnect.resubscribe": "pass", "after_reconnect.http_before": "pass",
                  "stop_on": "not_exercised"}, json.dumps(rules_of(report, "acme/u1"), indent=1)
    assert_only_failure(report, "acme/u2", "after_reconnect.http_before", "did not request /api/v1/activity within 10s")
    assert_only_failure(report, "acme/u3", "stop_on", "after refusal 401 at t=")


# ---------------------------------------------------------------------------------------------
# After the fact: `tapedeck conformance REC.sqlite` on what `serve --record` captured.

def test_conformance_of_a_recording(tmp_path):
    rec = tmp_path / "ops.sqlite"
    jwt = token("--profile", "ops-control-center", "--user", "bob")

    async def forgets_a_topic(host):
        c = await Client.open(ops_url(host), **bearer(jwt))
        await c.send({"action": "subscribe", "topics": ["incidents", "alerts"]})
        await pause(5)
        c.drop()
        await pause(3)
        c = await Client.open(ops_url(host), **bearer(jwt))
        await c.send({"action": "subscribe", "topics": ["incidents"]})
        await pause(12)
        await c.close()

    with serve(OPS, "--clock-rate", str(RATE), "--record", str(rec)) as (host, _):
        run(forgets_a_topic(host), seconds=30)

    out = tmp_path / "rec.json"
    junit = tmp_path / "rec.xml"
    p = tapedeck("conformance", str(rec), "--profile", "ops-control-center", "--clock-rate", str(RATE), "--json", str(out), "--junit", str(junit))
    assert p.returncode == 1, p.stderr                     # a rule failed
    report = json.loads(out.read_text())
    # Recordings redact credentials: the client is known by its address.
    assert_only_failure(report, "127.0.0.1", "after_reconnect.resubscribe", "did not re-subscribe to alerts within 10s")
    assert rules_of(report, "127.0.0.1")["reconnect"]["status"] == "pass"
    assert "FAIL  after_reconnect.resubscribe" in p.stdout
    assert ET.parse(junit).getroot().get("failures") == "1"


def test_conformance_errors_are_clear(tmp_path):
    p = tapedeck("conformance", str(tmp_path / "missing.sqlite"), "--profile", "ops-control-center")
    assert p.returncode == 2 and "missing.sqlite" in p.stderr and "Traceback" not in p.stderr
    profile = tmp_path / "bad.yaml"
    profile.write_text("profile: bad\nendpoints: [/ws]\nclient:\n  reconnect: {delays: 1s}\n  ping: {every: 30s}\n")
    p = tapedeck("validate", str(profile))
    assert p.returncode != 0
    assert f"{profile}:4:23: expected 'delays' to be a list of durations such as [1s, 2s, 4s], found '1s'" in p.stdout + p.stderr
    assert f"{profile}:5:9: 'ping' needs 'message'" in p.stdout + p.stderr


# ---------------------------------------------------------------------------------------------
# A real browser: headless Chromium runs a page with the naive reconnect loop many apps ship
# (reconnect at once on every close, never ping). jobs-live-tail closes it after 60 s without a
# ping (1001), it reconnects at once; the report says both, with the server's close as evidence.

NAIVE_PAGE = """<!doctype html><script>
const url = new URLSearchParams(location.search).get("ws");
const closes = [];
let opened = 0;
function connect() {
  const ws = new WebSocket(url);
  ws.onopen = () => { opened++; };
  ws.onclose = (e) => {
    closes.push(e.code);
    if (closes.length >= 2) { window.result = { opened, closes }; window.done = true; } else { connect(); }
  };
}
connect();
</script>"""


def test_headless_chromium_with_a_naive_reconnect_loop_is_reported(tmp_path):
    from test_deflate_serve import in_chromium   # the loopback origin + Playwright + Debian's Chromium
    report_path = tmp_path / "conformance.json"
    jwt = token("--profile", "jobs-live-tail", "--user", "browser", "--tenant", "t1")
    result = in_chromium(tmp_path, NAIVE_PAGE, JOBS, f"/api/v1/ws?token={jwt}", "--clock-rate", str(RATE), "--conformance", str(report_path))
    assert result == {"opened": 2, "closes": [1001, 1001]}, result
    report = json.loads(report_path.read_text())
    rules = rules_of(report, "t1/browser")
    assert rules["ping"]["status"] == "fail"
    assert "no ping within 35s of the connection opened" in rules["ping"]["evidence"][0]["message"]
    assert rules["reconnect"]["status"] == "fail"
    first = rules["reconnect"]["evidence"][0]["message"]
    assert first.startswith("attempt 1 came ") and "after the server's close 1001" in first and "(expected 1s, accepted 0.5s–1.5s)" in first


# ---------------------------------------------------------------------------------------------
# Exercising the reconnect rule on purpose: the scenario schedules the fault (a close 1012 at
# scenario time 10 s, from its `faults:` section), not the client.

RESTART_DRILL = """\
scenario: restart-drill
profile: jobs-live-tail
start: first-connection
settings: { ping_timeout: 60 }
streams: []
faults:
  - { at: 10s, kind: close, code: 1012, reason: restart }
"""


def test_a_scheduled_server_restart_exercises_the_reconnect_rule(tmp_path):
    scenario = tmp_path / "restart-drill.yaml"
    scenario.write_text(RESTART_DRILL)
    jwt = {u: token("--profile", "jobs-live-tail", "--user", u, "--tenant", "t1") for u in ["ana", "cy"]}
    closes = {}

    async def until_closed(user, host):
        ws = await websockets.connect(jobs_url(host, jwt[user]))
        try:
            async for _ in ws:
                pass
        except websockets.exceptions.ConnectionClosed:
            pass
        closes[user] = (ws.close_code, ws.close_reason)

    async def backs_off(host):
        await until_closed("ana", host)
        await pause(1)                                     # attempt 1 after 1 s, as the spec says
        c = await Client.open(jobs_url(host, jwt["ana"]))
        await pause(5)
        await c.close()

    async def reconnects_at_once(host):
        await until_closed("cy", host)
        c = await Client.open(jobs_url(host, jwt["cy"]))  # no backoff
        await pause(5)
        await c.close()

    report, _, summary = conformance(tmp_path, str(scenario), [backs_off, reconnects_at_once])

    assert closes == {"ana": (1012, "restart"), "cy": (1012, "restart")}
    reconnect = rules_of(report, "t1/ana")["reconnect"]
    assert reconnect["status"] == "pass" and reconnect["passes"] == 1, reconnect
    assert_only_failure(report, "t1/cy", "reconnect", "(expected 1s, accepted 0.5s–1.5s)")
    assert "FAIL  reconnect" in summary


SESSION_EXPIRY_DRILL = """\
scenario: session-expiry-drill
profile: workitems-protobuf
start: first-connection
streams: []
faults:
  # A restart after which every session has expired: clients are closed, and their upgrades get 401.
  - { at: 10s, kind: close, code: 1012, reason: restart }
  - { at: 10s, kind: refuse_upgrades, seconds: 60s, status: 401 }
"""


def test_a_scheduled_session_expiry_exercises_the_stop_on_401_rule(tmp_path):
    scenario = tmp_path / "session-expiry-drill.yaml"
    scenario.write_text(SESSION_EXPIRY_DRILL)
    jwt = {u: token("--profile", "workitems-protobuf", "--tenant", "acme", "--user", u) for u in ["u1", "u2"]}
    url = lambda host: f"ws://{host}/ws"
    auth = lambda user: {"additional_headers": {"Authorization": f"Bearer {jwt[user]}"}}

    async def until_refused(user, host):
        ws = await websockets.connect(url(host), **auth(user))
        try:
            async for _ in ws:
                pass
        except websockets.exceptions.ConnectionClosed:
            pass
        assert ws.close_code == 1012
        await pause(1)
        assert await refused(url(host), **auth(user)) == 401

    async def stops(host):
        await until_refused("u1", host)                    # 401: back to the login page

    async def retries(host):
        await until_refused("u2", host)
        await pause(2)
        assert await refused(url(host), **auth("u2")) == 401   # tries again anyway

    report, _, _ = conformance(tmp_path, str(scenario), [stops, retries])
    assert rules_of(report, "acme/u1")["stop_on"]["status"] == "pass", json.dumps(rules_of(report, "acme/u1"), indent=1)
    assert_only_failure(report, "acme/u2", "stop_on", "after refusal 401 at t=")
