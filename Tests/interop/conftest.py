"""Shared helpers for the interop checks: run the real `tapedeck` binary and talk to it with
independent peers (Python `websockets`, `protobuf`)."""
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.parse
from contextlib import contextmanager

import pytest
import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("TAPEDECK_BIN", os.path.join(ROOT, ".build", "debug", "tapedeck"))


def tapedeck(*args, **kw):
    """Runs the CLI and returns the completed process."""
    return subprocess.run([BIN, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, **kw)


def token(*args):
    p = tapedeck("token", *args)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@contextmanager
def listening(command, *args, timeout=30):
    """Starts `tapedeck COMMAND ARGS --port 0` (serve, replay), yields the first ws:// base URL
    (host:port) and the process, stops it with SIGTERM."""
    # The server's log goes to a file: a pipe nobody reads would fill up and block the server.
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([BIN, command, "--port", "0", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    proc.log = log
    try:
        deadline = time.time() + timeout
        url = None
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"ws://(127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            proc.kill()
            log.seek(0)
            raise RuntimeError(f"tapedeck {command} did not start: " + log.read())
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def serve(*args, timeout=30):
    """`tapedeck serve ARGS --port 0`: yields (host:port, process)."""
    return listening("serve", *args, timeout=timeout)


def replay(*args, timeout=30):
    """`tapedeck replay ARGS --port 0`: yields (host:port, process)."""
    return listening("replay", *args, timeout=timeout)


@contextmanager
def serve_host(*args, timeout=30):
    """Like `serve`, yielding only host:port."""
    with serve(*args, timeout=timeout) as (host, _):
        yield host


@pytest.fixture(scope="session", autouse=True)
def binary():
    if not os.path.exists(BIN):
        pytest.fail(f"tapedeck binary not found at {BIN}; run `swift build` or set TAPEDECK_BIN")
    return BIN


def run(coro, seconds=60):
    """Runs a coroutine with a time limit."""
    return asyncio.run(asyncio.wait_for(coro, seconds))


def connect(url, headers=None, **kw):
    """`websockets.connect`, where a `Host` in `headers` becomes the request's one Host header
    (the URL names that host; the socket still goes to the URL's address). Passing it as an
    additional header would send two Host headers, which the server rightly refuses with 400."""
    headers = dict(headers or {})
    host = headers.pop("Host", None)
    if host is not None:
        u = urllib.parse.urlsplit(url)
        kw.setdefault("host", u.hostname)
        kw.setdefault("port", u.port)
        url = urllib.parse.urlunsplit((u.scheme, f"{host}:{u.port}", u.path, u.query, ""))
    return websockets.connect(url, additional_headers=headers, **kw)


def status(url, headers=None):
    """The HTTP status of a WebSocket upgrade to `url`: 101 when it succeeds."""
    async def go():
        try:
            async with connect(url, headers):
                return 101
        except websockets.exceptions.InvalidStatus as e:
            return e.response.status_code
    return run(go())


async def recv_until(ws, stop, limit=100000):
    """JSON messages until `stop(message)` is true (included)."""
    out = []
    while len(out) < limit:
        m = json.loads(await ws.recv())
        out.append(m)
        if stop(m):
            break
    return out
