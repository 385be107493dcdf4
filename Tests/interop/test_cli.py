"""The command line as a user meets it: starting on a busy port, stopping cleanly, `token`, and a
recording given to `serve` by mistake."""
import base64
import json
import os
import struct
import re
import signal
import socket
import sqlite3
import subprocess
import time

import websockets

from conftest import BIN, ROOT, run, serve, status, tapedeck, token


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_serve_on_a_port_in_use_exits_at_once_naming_the_address():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        started = time.time()
        p = subprocess.run([BIN, "serve", "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert time.time() - started < 15
        assert p.returncode == 1
        assert f"127.0.0.1:{port}" in p.stderr
        assert "in use" in p.stderr


def test_a_clean_stop_logs_no_error_and_closes_clients_with_1001():
    jwt = token("--user", "qa")
    with serve() as (host, proc):
        async def client():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents"]}))
                await ws.recv()
                proc.send_signal(signal.SIGTERM)
                try:
                    while True:
                        await ws.recv()
                except websockets.ConnectionClosed as e:
                    return e.rcvd.code if e.rcvd else None
        assert run(client()) == 1001
        assert proc.wait(timeout=15) == 0
        proc.log.seek(0)
        log = proc.log.read()
        assert not re.search(r"\b(error|critical)\b", log), log


def test_record_stops_cleanly_on_sigterm(tmp_path):
    out = tmp_path / "r.sqlite"
    with serve() as (host, _):
        rec = subprocess.Popen([BIN, "record", "--upstream", f"ws://{host}/api/ws", "--listen", "127.0.0.1:0",
                                "--out", str(out), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = rec.stdout.readline()
        assert line.startswith("listening on "), line
        rec.send_signal(signal.SIGTERM)
        stdout, stderr = rec.communicate(timeout=30)
        assert rec.returncode == 0, stderr
        assert "received SIGINT or SIGTERM" in stdout
        assert "error" not in stderr.lower()
    db = sqlite3.connect(out)
    assert db.execute("SELECT finished_at_ns IS NOT NULL FROM recording").fetchone()[0] == 1


def test_token_honours_a_claim_given_for_exp():
    p = tapedeck("token", "--claim", "exp=1700000000", "--verbose")
    assert p.returncode == 0, p.stderr
    assert claims_of(p.stdout.strip())["exp"] == 1700000000
    assert json.loads(p.stderr)["exp"] == 1700000000


def test_token_with_a_negative_lifetime_is_already_expired():
    p = tapedeck("token", "--expires", "-1h")
    assert p.returncode == 0, p.stderr
    c = claims_of(p.stdout.strip())
    assert c["exp"] < time.time() - 3000
    with serve() as (host, _):
        assert status(f"ws://{host}/api/ws", {"Authorization": f"Bearer {p.stdout.strip()}"}) == 401


def test_the_default_token_opens_every_demo_endpoint():
    jwt = token()
    with serve() as (host, _):
        assert status(f"ws://{host}/api/ws", {"Authorization": f"Bearer {jwt}"}) == 101
        assert status(f"ws://{host}/api/v1/ws?token={jwt}") == 101
        assert status(f"ws://{host}/v1/logs/stream?token={jwt}") == 101
        assert status(f"ws://{host}/ws", {"Authorization": f"Bearer {jwt}"}) == 101


def test_serving_a_recording_says_what_to_run_instead():
    rec = f"{ROOT}/recordings/" + next(n for n in __import__("os").listdir(f"{ROOT}/recordings") if n.endswith(".sqlite"))
    p = tapedeck("serve", rec)
    assert p.returncode == 2
    assert "is a recording" in p.stderr
    assert "tapedeck replay" in p.stderr and "tapedeck inspect" in p.stderr
    assert "UTF-8" not in p.stderr


def test_the_readme_tour_lists_every_command_and_cites_no_missing_file():
    help_text = tapedeck("--help").stdout
    commands = re.findall(r"^  ([a-z]+) ", help_text.split("SUBCOMMANDS:")[1], re.M)
    assert len(commands) >= 9
    readme = open(f"{ROOT}/README.md").read()
    tour = readme.split("## A tour of the CLI")[1].split("\n## ")[0]
    for c in commands:
        assert re.search(rf"^  {c} ", tour, re.M), f"`{c}` is missing from the README's CLI tour"
    assert "specs/" not in readme


def test_validate_reports_every_problem_of_a_file_in_one_run_each_once(tmp_path):
    f = tmp_path / "many.yaml"
    f.write_text("""scenario: many
profile: jobs-live-tail
vars: { levels: [a] }
entities:
  jobs:
    job-1: { tenant: acme }
streams:
  - name: typo
    evry: 1s
    event: { type: ping }
  - name: bad
    every: 1s
    count: 500
    event: { type: job_progress, tenant_id: acme, payload: { job_id: job-1, status: "{{ weighted({a: 'x'}) }}", level: "{{ vars.levls }}" } }
""")
    p = tapedeck("validate", str(f))
    assert p.returncode == 1
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 6, p.stdout
    assert ":6:5: jobs 'job-1' has no 'tenant_id'" in lines[0]
    assert ":9:5: unknown key 'evry'" in lines[1]
    # Events are checked against the fields the profile requires too.
    assert ":10:12: stream 'typo', event 1 has no 'tenant_id'" in lines[2]
    assert ":10:12: stream 'typo', event 1 has no 'payload.job_id'" in lines[3]
    # At the field (line 14, where its expression starts), not at the stream (line 11).
    assert ":14:86: stream 'bad', event 1, field 'payload.status': weighted()" in lines[4], lines[4]
    assert "more of the events checked)" in lines[4]
    assert ":14:124: warning: 'vars.levls' is not defined" in lines[5]


def test_no_log_level_prints_a_secret(tmp_path):
    """The JWT secret and the demo's credentials (API key, session) never reach the log, even at trace."""
    secret = "a-custom-secret-that-is-long-enough-0123456789"
    log = tmp_path / "trace.log"
    with open(log, "w") as out:
        p = subprocess.Popen([BIN, "serve", "--port", "0", "--log-level", "trace", "--jwt-secret", secret],
                             cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and "ws://" not in log.read_text():
                time.sleep(0.1)
        finally:
            p.terminate()
            p.wait(10)
    text = log.read_text()
    assert "ServiceLifecycle" in text, "trace logging is not on: the test proves nothing"
    for s in [secret, "api-key-123"]:
        assert s not in text, f"{s} is in the trace log"


def test_abrupt_disconnects_are_not_errors(tmp_path):
    """Clients that vanish (TCP reset right after the upgrade) are normal: no error or warning lines."""
    log = tmp_path / "serve.log"
    with open(log, "w") as err:
        p = subprocess.Popen([BIN, "serve", "scenarios/echo/echo.yaml", "--port", "0"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            port = None
            while port is None:
                m = re.search(r"ws://127\.0\.0\.1:(\d+)", p.stdout.readline())
                port = int(m.group(1)) if m else None
            for _ in range(50):
                s = socket.create_connection(("127.0.0.1", port))
                key = base64.b64encode(os.urandom(16)).decode()
                s.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
                assert s.recv(1000).startswith(b"HTTP/1.1 101")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
                s.close()
            time.sleep(1)
        finally:
            p.terminate()
            p.wait(10)
    lines = log.read_text().splitlines()
    assert sum(" disconnected" in l for l in lines) == 50, lines[-5:]
    bad = [l for l in lines if " error " in l or " warning " in l]
    assert not bad, bad[:5]
