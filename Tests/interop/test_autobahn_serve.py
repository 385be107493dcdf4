"""Autobahn|Testsuite (chapters 1-10, fuzzingclient) against `tapedeck serve` with the built-in
`echo` profile: nothing may be FAILED.

wstest needs Python 2.7: see test_autobahn_proxy.py for where it comes from.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import listening
from test_autobahn_proxy import CASES, WSTEST


@pytest.mark.skipif(not os.path.exists(WSTEST), reason="wstest (autobahntestsuite, Python 2.7) is not installed")
def test_autobahn_against_serve_has_nothing_failed(tmp_path):
    with listening("serve", "scenarios/echo/echo.yaml", "--max-message-size", "16MiB", "--log-level", "warning") as (url, _):
        spec = {
            "outdir": str(tmp_path / "reports"),
            "servers": [{"agent": "tapedeck", "url": f"ws://{url}/"}],
            "cases": CASES,
            "exclude-cases": [],
            "exclude-agent-cases": {},
        }
        (tmp_path / "fuzzingclient.json").write_text(json.dumps(spec))
        run = subprocess.run([WSTEST, "-m", "fuzzingclient", "-s", str(tmp_path / "fuzzingclient.json")],
                             cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "reports" / "index.json").read_text())["tapedeck"]
    assert len(results) > 300, f"only {len(results)} cases ran"
    behaviors = {}
    for r in results.values():
        behaviors[r["behavior"]] = behaviors.get(r["behavior"], 0) + 1
    print(f"autobahn against serve: {behaviors}", file=sys.stderr)
    failed = sorted((c for c, r in results.items() if "FAILED" in (r["behavior"], r["behaviorClose"])),
                    key=lambda c: [int(x) for x in c.split(".")])
    assert not failed, "FAILED: " + ", ".join(f"{c} ({results[c]['behavior']}/{results[c]['behaviorClose']})" for c in failed)
