#!/usr/bin/env python3
"""Autobahn|Testsuite chapters 12 and 13 (permessage-deflate), outside CI: they take minutes.

Runs `wstest -m fuzzingclient` once against up to three servers and prints what each case came
to, per server:

  serve    `tapedeck serve scenarios/echo/echo.yaml --max-message-size 16MiB`
  direct   an independent echo server (Python `websockets`, compression on: permessage-deflate)
  proxy    that echo server through `tapedeck record` (the proxy negotiates what the upstream does)

A server that does not negotiate permessage-deflate gets UNIMPLEMENTED for every case: that is
what the suite reports when the extension is declined, not a failure. The script exits 1 if any
case is FAILED (or, through the proxy, worse than direct), else 0.

    TAPEDECK_BIN=.build/debug/tapedeck .build-ci-venv/bin/python Tests/interop/autobahn_compression.py
    ... --targets serve            (only the simulator)
    ... --cases 12.1.* 13.1.*      (a subset)
    ... --reports DIR              (keep wstest's HTML reports in DIR)

wstest runs under Python 2.7 (see test_autobahn_proxy.py); AUTOBAHN_WSTEST names another one.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import BIN, ROOT  # noqa: E402
from test_autobahn_proxy import RANK, WSTEST, free_port  # noqa: E402

import asyncio  # noqa: E402
import threading  # noqa: E402

import websockets  # noqa: E402
from websockets.asyncio.server import serve as ws_serve  # noqa: E402


def start_compressing_echo(port):
    """A faithful echo that negotiates permessage-deflate (websockets' default); returns its stop."""
    loop = asyncio.new_event_loop()
    stop = None

    async def echo(ws):
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.exceptions.ConnectionClosed:
            pass

    async def main(ready):
        nonlocal stop
        stop = asyncio.Event()
        async with ws_serve(echo, "127.0.0.1", port, max_size=2**25, ping_interval=None):
            ready.set()
            await stop.wait()

    ready = threading.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(main(ready)), daemon=True)
    thread.start()
    assert ready.wait(10), "echo server did not start"
    return lambda: (loop.call_soon_threadsafe(stop.set), thread.join(10))


def start(args, pattern):
    """Starts a tapedeck command; returns (process, host:port)."""
    proc = subprocess.Popen([BIN, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        m = re.search(pattern, line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise SystemExit(f"tapedeck {args[0]} did not start")


def summarize(results):
    counts = {}
    for r in results.values():
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
    return ", ".join(f"{n} {b}" for b, n in sorted(counts.items(), key=lambda kv: RANK.get(kv[0], 9)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", nargs="+", choices=["serve", "direct", "proxy"], default=["serve", "direct", "proxy"])
    p.add_argument("--cases", nargs="+", default=["12.*", "13.*"])
    p.add_argument("--reports", help="keep wstest's reports here (default: a temporary folder)")
    args = p.parse_args()
    if not os.path.exists(WSTEST):
        raise SystemExit(f"wstest not found at {WSTEST} (set AUTOBAHN_WSTEST)")
    work = tempfile.mkdtemp(prefix="autobahn-compression-")
    outdir = os.path.abspath(args.reports or os.path.join(work, "reports"))
    servers, stops = [], []
    try:
        if "serve" in args.targets:
            proc, url = start(["serve", "scenarios/echo/echo.yaml", "--port", "0", "--max-message-size", "16MiB", "--log-level", "error"],
                              r"ws://(127\.0\.0\.1:\d+)")
            stops.append(lambda proc=proc: (proc.terminate(), proc.wait(30)))
            servers.append({"agent": "serve", "url": f"ws://{url}/"})
        if "direct" in args.targets or "proxy" in args.targets:
            echo_port = free_port()
            stops.append(start_compressing_echo(echo_port))
            if "direct" in args.targets:
                servers.append({"agent": "direct", "url": f"ws://127.0.0.1:{echo_port}"})
            if "proxy" in args.targets:
                recording = os.path.join(work, "autobahn-compression.sqlite")
                proc, url = start(["record", "--upstream", f"ws://127.0.0.1:{echo_port}/", "--listen", "127.0.0.1:0",
                                   "--out", recording, "--quiet"], r"listening on (127\.0\.0\.1:\d+)")
                stops.append(lambda proc=proc: (proc.terminate(), proc.wait(30)))
                servers.append({"agent": "proxy", "url": f"ws://{url}"})
        spec = {"outdir": outdir, "servers": servers, "cases": args.cases, "exclude-cases": [], "exclude-agent-cases": {}}
        spec_path = os.path.join(work, "fuzzingclient.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        started = time.monotonic()
        run = subprocess.run([WSTEST, "-m", "fuzzingclient", "-s", spec_path], cwd=work, capture_output=True, text=True)
        minutes = (time.monotonic() - started) / 60
        if run.returncode != 0:
            raise SystemExit("wstest failed:\n" + run.stdout[-3000:] + run.stderr[-3000:])
    finally:
        for stop in reversed(stops):
            stop()
    with open(os.path.join(outdir, "index.json")) as f:
        index = json.load(f)
    bad = []
    print(f"Autobahn|Testsuite {' '.join(args.cases)}: {minutes:.1f} minutes; reports in {outdir}")
    def failed(r):
        return "FAILED" in (r["behavior"], r["behaviorClose"])
    direct = index.get("direct", {})
    for agent, results in index.items():
        print(f"  {agent:7} {len(results)} cases: {summarize(results)}")
        if agent == "direct":
            # The independent echo server's own results: a reference, not Tapedeck's to pass.
            continue
        bad += [f"{agent} {c}" for c, r in results.items() if failed(r) and not (agent == "proxy" and failed(direct.get(c, r)))]
    if direct and "proxy" in index:
        bad += [f"proxy {c} worse than direct ({direct[c]['behavior']} -> {r['behavior']})" for c, r in index["proxy"].items()
                if c in direct and RANK.get(r["behavior"], 9) > RANK.get(direct[c]["behavior"], 9)]
    if bad:
        print("FAILED:\n  " + "\n  ".join(sorted(bad)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
