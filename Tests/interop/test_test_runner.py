"""`tapedeck test`: the project's own scenario suite, failure reports, JUnit read by an independent
parser (`junitparser` from PyPI), and the same scripts against a separately started `tapedeck serve`.

Run: .venv/bin/pip install pytest websockets junitparser
     .venv/bin/pytest Tests/interop/test_test_runner.py
"""
import os
import re
import subprocess
import tempfile
import time

import junitparser

from conftest import BIN, ROOT, serve

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(, (\d+) skipped)?$")


def tapedeck_test(*args, timeout=600):
    started = time.monotonic()
    p = subprocess.run([BIN, "test", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - started


def summary(output):
    lines = [l for l in output.splitlines() if SUMMARY.match(l)]
    assert lines, output
    m = SUMMARY.match(lines[-1])
    return int(m.group(1)), int(m.group(2))


def test_the_project_suite_passes_and_its_junit_parses():
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "report.xml")
        p, _ = tapedeck_test("scenarios/", "--junit", report)
        assert p.returncode == 0, p.stdout + p.stderr
        passed, failed = summary(p.stdout)
        assert failed == 0 and passed >= 30
        assert p.stdout.rstrip().splitlines()[-1] == f"{passed} passed, 0 failed"

        xml = junitparser.JUnitXml.fromfile(report)
        suites = list(xml)
        files = {s.name for s in suites}
        for profile in ("ops-control-center", "jobs-live-tail", "neurallog", "unified-logs", "workitems-protobuf"):
            assert f"scenarios/{profile}/regression.yaml" in files
        cases = [c for s in suites for c in s]
        assert len(cases) == passed
        assert all(c.is_passed for c in cases)


def test_a_sixty_second_ping_timeout_runs_on_scenario_time():
    p, seconds = tapedeck_test("scenarios/jobs-live-tail/regression.yaml", "--filter", "60 s ping timeout")
    assert p.returncode == 0, p.stdout
    assert summary(p.stdout) == (1, 0)
    line = next(l for l in p.stdout.splitlines() if "60 s ping timeout" in l)
    assert re.search(r"scenario time 6\d\.\d s", line), line
    assert seconds < 30  # far from the minute it takes in real time


BROKEN = """\
scenario: broken-expectation
include: [{quick}]
seed: 3
tests:
  - name: progress reaches 99
    connect: {{ path: /api/v1/ws, query: {{ token: "{{{{ token(sub: 'ana', tenant_id: 't1') }}}}" }} }}
    steps:
      - send: {{ type: subscribe_job_progress, payload: {{ job_id: job-1 }} }}
      - expect: {{ type: job_progress, payload: {{ job_id: job-1, progress_pct: 99 }} }}
        within: 3s
  - name: a ping gets a pong
    connect: {{ path: /api/v1/ws, query: {{ token: "{{{{ token(sub: 'ana', tenant_id: 't1') }}}}" }} }}
    steps:
      - send: {{ type: ping }}
      - expect: {{ type: pong }}
"""


def test_a_broken_expectation_names_file_line_and_what_arrived():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "broken.yaml")
        with open(path, "w") as f:
            f.write(BROKEN.format(quick=os.path.join(ROOT, "scenarios/jobs-live-tail/quick-check.yaml")))
        report = os.path.join(d, "report.xml")
        p, _ = tapedeck_test(path, "--junit", report)
        assert p.returncode == 1, p.stdout + p.stderr
        assert summary(p.stdout) == (1, 1)
        out = p.stdout
        assert f"{path}:9:9: expect: no message matching the pattern within 3s" in out
        assert '"progress_pct":99' in out                      # the expected pattern
        assert re.search(r'arrived: +\{"type":"job_progress","payload":\{"job_id":"job-1"', out)   # what came instead
        assert "$.payload.progress_pct: expected 99, found" in out

        xml = junitparser.JUnitXml.fromfile(report)
        cases = {c.name: c for s in xml for c in s}
        failed = cases["progress reaches 99"]
        assert not failed.is_passed
        failure = failed.result[0]
        assert isinstance(failure, junitparser.Failure)
        assert f"{path}:9:9" in failure.message
        assert "$.payload.progress_pct: expected 99" in failure.text
        assert cases["a ping gets a pong"].is_passed


def test_a_scenario_that_does_not_load_is_a_suite_error():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.yaml")
        with open(path, "w") as f:
            f.write("scenario: bad\nprofile: ops-control-center\nstreams: []\ntests:\n  - name: x\n    steps:\n      - expct: {}\n")
        p, _ = tapedeck_test(path)
        assert p.returncode == 2, p.stdout
        assert f"{path}:7:9: unknown key 'expct' in a test step; did you mean 'expect'?" in p.stdout


def test_the_same_scripts_pass_against_tapedeck_serve():
    # Real time: each connection gets its own timeline, as each in-process test gets its own simulator.
    for scenario, flt in (
        ("scenarios/ops-control-center/regression.yaml", ""),
        ("scenarios/unified-logs/regression.yaml", ""),
        ("scenarios/jobs-live-tail/regression.yaml", "a"),
    ):
        with serve(scenario, "--timeline", "per-connection") as (host, _):
            args = [scenario, "--target", f"ws://{host}"]
            if scenario.startswith("scenarios/jobs"):
                args += ["--filter", "job"]   # the job tests; the minute-long ones run below
            p, _ = tapedeck_test(*args)
            assert p.returncode == 0, scenario + "\n" + p.stdout
            passed, failed = summary(p.stdout)
            assert passed >= 2 and failed == 0


def test_the_sixty_second_timeout_passes_against_tapedeck_serve_in_real_time():
    scenario = "scenarios/jobs-live-tail/regression.yaml"
    with serve(scenario, "--timeline", "per-connection") as (host, _):
        p, seconds = tapedeck_test(scenario, "--target", f"ws://{host}", "--filter", "60 s ping timeout", timeout=180)
        assert p.returncode == 0, p.stdout
        assert summary(p.stdout) == (1, 0)
        assert seconds >= 55
