"""Autobahn|Testsuite chapters 12 and 13 (permessage-deflate), fuzzingclient: against `tapedeck serve`
with the built-in `echo` profile (which enables compression), and against a compressing echo server
(Python `websockets`) directly and through `tapedeck record` in one run. Nothing may be FAILED, and no
case may be worse through the proxy than direct.

The chapters take about 11 minutes per server, so `.ci/run` leaves them out; run them with

    AUTOBAHN_COMPRESSION=1 TAPEDECK_BIN=.build/debug/tapedeck .build-ci-venv/bin/python -m pytest \\
        Tests/interop/test_autobahn_compression.py -s
"""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import BIN, ROOT, listening
from test_autobahn_proxy import RANK, WSTEST, free_port, start_echo

CASES = ["12.*", "13.*"]
ENABLED = os.environ.get("AUTOBAHN_COMPRESSION") == "1" and os.path.exists(WSTEST)
REASON = "chapters 12-13 take about 11 minutes: set AUTOBAHN_COMPRESSION=1 (needs wstest)"


def fuzz(tmp_path, servers):
    spec = {"outdir": str(tmp_path / "reports"), "servers": servers, "cases": CASES, "exclude-cases": [], "exclude-agent-cases": {}}
    (tmp_path / "fuzzingclient.json").write_text(json.dumps(spec))
    run = subprocess.run([WSTEST, "-m", "fuzzingclient", "-s", str(tmp_path / "fuzzingclient.json")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads((tmp_path / "reports" / "index.json").read_text())


def summary(results):
    return {b: sum(1 for r in results.values() if r["behavior"] == b) for b in RANK if any(r["behavior"] == b for r in results.values())}


def failed(results):
    return sorted(c for c, r in results.items() if "FAILED" in (r["behavior"], r["behaviorClose"]))


@pytest.mark.skipif(not ENABLED, reason=REASON)
def test_chapters_12_and_13_against_serve(tmp_path):
    with listening("serve", "scenarios/echo/echo.yaml", "--max-message-size", "16MiB", "--log-level", "warning") as (url, _):
        results = fuzz(tmp_path, [{"agent": "tapedeck", "url": f"ws://{url}/"}])["tapedeck"]
    print(f"autobahn 12-13 against serve: {summary(results)}", file=sys.stderr)
    assert len(results) > 200, f"only {len(results)} cases ran"
    assert not failed(results), f"FAILED: {failed(results)}"


@pytest.mark.skipif(not ENABLED, reason=REASON)
def test_chapters_12_and_13_through_the_proxy_no_worse_than_direct(tmp_path):
    echo_port = free_port()
    stop_echo = start_echo(echo_port, compression="deflate")
    proxy = subprocess.Popen(
        [BIN, "record", "--upstream", f"ws://127.0.0.1:{echo_port}/", "--listen", "127.0.0.1:0", "--out", str(tmp_path / "ab.sqlite"), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        m = re.search(r"listening on (127\.0\.0\.1:\d+)", proxy.stdout.readline())
        assert m
        index = fuzz(tmp_path, [{"agent": "direct", "url": f"ws://127.0.0.1:{echo_port}"}, {"agent": "proxy", "url": f"ws://{m.group(1)}"}])
    finally:
        proxy.terminate()
        proxy.wait(30)
        stop_echo()
    direct, through = index["direct"], index["proxy"]
    print(f"autobahn 12-13 direct: {summary(direct)}; through the proxy: {summary(through)}", file=sys.stderr)
    worse = sorted(
        c for c, r in through.items()
        if RANK.get(r["behavior"], 6) > RANK.get(direct[c]["behavior"], 6)
        or RANK.get(r["behaviorClose"], 6) > RANK.get(direct[c]["behaviorClose"], 6))
    assert not (set(failed(through)) - set(failed(direct))), f"FAILED through the proxy only: {sorted(set(failed(through)) - set(failed(direct)))}"
    assert not worse, f"worse through the proxy than direct: {worse}"
