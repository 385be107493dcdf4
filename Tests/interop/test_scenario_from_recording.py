"""`tapedeck scenario from-recording`: a scenario made from each sample recording is valid, and
serving it to a client that does what the recorded client did gives the recorded server messages
back (volatile fields aside: timestamps and generated message ids).

Run from the repository root after `swift build`:
    TAPEDECK_BIN=.build/debug/tapedeck .venv/bin/pytest Tests/interop/test_scenario_from_recording.py
"""
import asyncio
import json
import os
import sqlite3
import sys
from collections import Counter
from urllib.parse import parse_qsl, urlencode

import pytest
import websockets

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT, run, serve, tapedeck, token  # noqa: E402

# Each sample recording (scripts/make-sample-recordings.sh): the scenario it was recorded from, and
# the credentials its client used (the recording stores them redacted).
SAMPLES = {
    "ops-control-center-quick-check": ("scenarios/ops-control-center/quick-check.yaml",
                                       lambda: {"headers": {"Authorization": "Bearer " + token("--user", "qa", "--squads", "platform")}}),
    "jobs-live-tail-job-run": ("scenarios/jobs-live-tail/job-run-with-live-tail.yaml",
                               lambda: {"query": {"token": token("--tenant", "acme", "--user", "analyst")}}),
    "neurallog-error-burst": ("scenarios/neurallog/error-burst-with-notifications.yaml",
                              lambda: {"query": {"apiKey": "api-key-123"}}),
    "unified-logs-user-session": ("scenarios/unified-logs/user-log-session.yaml",
                                  lambda: {"headers": {"Cookie": "better-auth.session_token=sess-alice"}}),
    "workitems-protobuf-sprint-day": ("scenarios/workitems-protobuf/sprint-day.yaml",
                                      lambda: {"headers": {"Authorization": "Bearer " + token("--tenant", "acme", "--user", "user-1")}}),
}

VOLATILE = {"timestamp", "messageId"}


def protobuf_decoder():
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
    except ImportError:
        return None
    fds = descriptor_pb2.FileDescriptorSet()
    with open(os.path.join(ROOT, "protos", "workitems.pb"), "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("workitems.v1.WebSocketMessage"))

    def decode(data):
        m = cls()
        m.ParseFromString(data)
        return json_format.MessageToDict(m)
    return decode


def stable(value):
    """A message without its volatile fields (send times, generated ids), as comparable text."""
    def strip(v, top):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in VOLATILE:
                    continue
                # Generated message ids: neurallog's msg-<uuid>, err-<uuid>.
                if top and k == "id" and isinstance(x, str) and x.split("-", 1)[0] in ("msg", "err", "hb"):
                    continue
                out[k] = strip(x, False)
            return out
        if isinstance(v, list):
            return [strip(x, False) for x in v]
        return v
    return json.dumps(strip(value, True), sort_keys=True)


def read_recording(path):
    """Connection path and query, client messages with their times, and server messages."""
    db = sqlite3.connect(path)
    conn_id, rpath, query, opened = db.execute(
        "SELECT id, path, query, opened_offset_ns FROM connections ORDER BY id LIMIT 1").fetchone()
    rows = db.execute("SELECT direction, opcode, payload, offset_ns FROM frames WHERE connection_id = ? ORDER BY seq",
                      (conn_id,)).fetchall()
    client = [((off - opened) / 1e9, op, bytes(p)) for d, op, p, off in rows if d == "c2s" and op in ("text", "binary")]
    server = [(op, bytes(p)) for d, op, p, off in rows if d == "s2c" and op in ("text", "binary")]
    return rpath, query, client, server


def decode_all(messages, decode_binary):
    out = []
    for op, payload in messages:
        if op == "text":
            out.append(json.loads(payload.decode()))
        else:
            out.append(decode_binary(payload))
    return out


async def play(url, client, expected, headers):
    """Sends the recorded client messages at their recorded times; reads `expected` messages."""
    received = []
    async with websockets.connect(url, additional_headers=headers, compression=None) as ws:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for at, op, payload in client:
            await asyncio.sleep(max(0, start + at - loop.time()))
            await ws.send(payload.decode() if op == "text" else payload)
        while len(received) < expected:
            try:
                received.append(await asyncio.wait_for(ws.recv(), 10))
            except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
                break
    return received


def generate(tmp_path, sample, *extra):
    out = tmp_path / f"{sample}.yaml"
    p = tapedeck("scenario", "from-recording", f"recordings/{sample}.sqlite", "--out", str(out), *extra)
    assert p.returncode == 0, p.stderr
    assert "server message" in p.stderr
    return out


# Event fields a profile requires (`requires.events`) that its envelope does not send: only
# `--base` can supply them.
NOT_ON_THE_WIRE = {"jobs-live-tail-job-run": ["tenant_id"]}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_validate_accepts_the_generated_scenario(tmp_path, sample):
    out = generate(tmp_path, sample, "--base", SAMPLES[sample][0])
    p = tapedeck("validate", str(out))
    assert p.returncode == 0, p.stdout + p.stderr + out.read_text()
    # Without --base, a field the wire does not carry is named by the generator and by validate.
    out = tmp_path / f"{sample}-nobase.yaml"
    g = tapedeck("scenario", "from-recording", f"recordings/{sample}.sqlite", "--out", str(out))
    assert g.returncode == 0, g.stderr
    p = tapedeck("validate", str(out))
    missing = NOT_ON_THE_WIRE.get(sample, [])
    for field in missing:
        assert f"lack '{field}', which the profile requires of every event" in g.stderr, g.stderr
        assert f"has no '{field}', which profile" in p.stdout, p.stdout
    assert p.returncode == (1 if missing else 0), p.stdout + p.stderr + out.read_text()


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_serving_the_scenario_gives_the_recorded_messages_back(tmp_path, sample):
    scenario, credentials = SAMPLES[sample]
    out = generate(tmp_path, sample, "--base", scenario)
    rpath, query, client, server = read_recording(os.path.join(ROOT, "recordings", f"{sample}.sqlite"))
    decode_binary = protobuf_decoder()
    if any(op == "binary" for op, _ in server) and decode_binary is None:
        pytest.skip("needs the Python protobuf package")
    creds = credentials()
    params = [(k, v) for k, v in parse_qsl(query or "", keep_blank_values=True)]
    params = [(k, creds.get("query", {}).get(k, v)) for k, v in params]
    path = rpath + ("?" + urlencode(params, safe=":,") if params else "")
    with serve(str(out), "--timeline", "per-connection") as (host, _):
        received = run(play(f"ws://{host}{path}", client, len(server), creds.get("headers", {})))
    got = [json.loads(m) if isinstance(m, str) else decode_binary(m) for m in received]
    want = decode_all(server, decode_binary)
    # The same messages; replies and events may interleave differently by a millisecond, so the
    # order is compared per kind of message.
    assert Counter(map(stable, got)) == Counter(map(stable, want))

    def by_kind(messages):
        kinds = {}
        for m in messages:
            key = m.get("type") or m.get("action") or ",".join(k for k in m if k not in VOLATILE)
            kinds.setdefault(key, []).append(stable(m))
        return kinds
    assert by_kind(got) == by_kind(want)


def test_unreadable_recording_and_unknown_profile_are_clear_errors(tmp_path):
    p = tapedeck("scenario", "from-recording", "recordings/nope.sqlite")
    assert p.returncode == 2
    assert "cannot read recording recordings/nope.sqlite" in p.stderr
    p = tapedeck("scenario", "from-recording", "recordings/neurallog-error-burst.sqlite", "--profile", "neurallogg")
    assert p.returncode == 2
    assert "unknown profile 'neurallogg'; did you mean 'neurallog'?" in p.stderr
    notrec = tmp_path / "x.sqlite"
    notrec.write_text("hello")
    p = tapedeck("scenario", "from-recording", str(notrec))
    assert p.returncode == 2
    assert "cannot read recording" in p.stderr
