"""`tapedeck test`: the project's own scenario suite, failure reports, JUnit read by an independent
parser (`junitparser` from PyPI), golden recordings, and the whole suite against separately started
`tapedeck serve`s (in real time, so that test takes a few minutes).

Run: .venv/bin/pip install pytest websockets junitparser
     .venv/bin/pytest Tests/interop/test_test_runner.py
"""
import glob
import os
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import junitparser

from conftest import BIN, ROOT, serve

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(, (\d+) skipped)?$")
# Every scenario file of the project's suite (a top-level `tests:` key), as `tapedeck test` finds them.
SUITE = sorted(f for f in glob.glob("scenarios/**/*.yaml", root_dir=ROOT, recursive=True)
               if any(l.startswith("tests:") for l in open(os.path.join(ROOT, f))))


def tapedeck_test(*args, timeout=600):
    started = time.monotonic()
    p = subprocess.run([BIN, "test", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - started


def summary(output):
    lines = [l for l in output.splitlines() if SUMMARY.match(l)]
    assert lines, output
    m = SUMMARY.match(lines[-1])
    return int(m.group(1)), int(m.group(2))


def skipped(output):
    m = SUMMARY.match([l for l in output.splitlines() if SUMMARY.match(l)][-1])
    return int(m.group(4) or 0)


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
    assert seconds < 10  # far from the minute it takes in real time


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


def against_serve(scenario):
    """Runs one scenario file's tests against its own `tapedeck serve` (each connection gets its own
    timeline, as each in-process test gets its own simulator)."""
    with serve(scenario, "--timeline", "per-connection") as (host, _):
        p, seconds = tapedeck_test(scenario, "--target", f"ws://{host}", timeout=900)
        return scenario, p, seconds


def test_the_whole_suite_passes_against_tapedeck_serve():
    # Real time: the files run side by side, each against its own server; the longest takes minutes.
    assert "scenarios/jobs-live-tail/regression.yaml" in SUITE and len(SUITE) >= 6
    with ThreadPoolExecutor(max_workers=len(SUITE)) as pool:
        runs = list(pool.map(against_serve, SUITE))
    in_process, _ = tapedeck_test(*SUITE)
    total_in_process = sum(summary(in_process.stdout))
    total = 0
    for scenario, p, seconds in runs:
        assert p.returncode == 0, scenario + "\n" + p.stdout
        passed, failed = summary(p.stdout)
        assert passed >= 1 and failed == 0, scenario + "\n" + p.stdout
        total += passed + skipped(p.stdout)
        # A test that cannot run against a target says so, with its reason; none is dropped silently.
        for line in p.stdout.splitlines():
            if line.strip().startswith("skip "):
                assert "(not against --target: " in line, line
        if scenario == "scenarios/jobs-live-tail/regression.yaml":
            line = next(l for l in p.stdout.splitlines() if "60 s ping timeout" in l)
            assert line.strip().startswith("pass "), line
            assert seconds >= 55     # the minute of silence, in real time
    assert total == total_in_process


GOLDEN_SCENARIO = """\
scenario: golden-metrics
profile: ops-control-center
seed: 7
start: 2025-01-17T10:00:00Z
streams:
  - name: cpu
    at: 100ms
    every: 1s
    count: 3
    event: {{ type: metric, action: updated, data: {{ metric_name: cpu_usage, unit: percent, value: {value} }} }}
tests:
  - name: three metrics arrive
    connect: {{ path: /api/ws, headers: {{ Authorization: "Bearer {{{{ token(sub: 'qa') }}}}" }} }}
    steps:
      - send: {{ action: subscribe, topics: [metrics] }}
      - expect_count: {{ type: metric, data: {{ metric_name: cpu_usage }} }}
        count: 3
        during: 5s
  - name: a ping gets a pong
    connect: {{ path: /api/ws, headers: {{ Authorization: "Bearer {{{{ token(sub: 'qa') }}}}" }} }}
    steps:
      - send: {{ action: ping }}
      - expect: {{ action: pong }}
"""


def test_a_golden_recording_catches_a_changed_field_and_names_its_path():
    with tempfile.TemporaryDirectory() as d:
        scenario = os.path.join(d, "metrics.yaml")
        golden = os.path.join(d, "golden", "metrics.sqlite")

        def write(value):
            with open(scenario, "w") as f:
                f.write(GOLDEN_SCENARIO.format(value=value))

        write(42)
        # No golden recording yet: the run says how to make one.
        p, _ = tapedeck_test(scenario, "--golden", golden)
        assert p.returncode == 1, p.stdout
        assert f"no golden recording at {golden}; run with --update-golden to create it" in p.stdout

        p, _ = tapedeck_test(scenario, "--golden", golden, "--update-golden")
        assert p.returncode == 0, p.stdout
        assert f"pass  golden recording written to {golden}" in p.stdout
        assert summary(p.stdout) == (3, 0)
        inspect = subprocess.run([BIN, "inspect", golden], cwd=ROOT, capture_output=True, text=True)
        assert inspect.returncode == 0 and "golden-metrics" in inspect.stdout, inspect.stdout + inspect.stderr

        # The same run again matches: timestamps and ids that change run to run are ignored by the
        # profile's diff preset.
        p, _ = tapedeck_test(scenario, "--golden", golden)
        assert p.returncode == 0, p.stdout
        assert f"pass  golden recording {golden} matches" in p.stdout

        # A changed field fails the run, naming the connection, the test, the message and the path.
        write(43)
        p, _ = tapedeck_test(scenario, "--golden", golden, "--junit", os.path.join(d, "report.xml"))
        assert p.returncode == 1, p.stdout
        assert summary(p.stdout) == (2, 1)
        out = p.stdout
        assert f"FAIL  golden recording {golden} matches" in out
        assert f"3 differences from the golden recording {golden}" in out
        assert "connection /api/ws #1 (test 'three metrics arrive'):" in out
        assert re.search(r"message \d+ \(s2c metric/updated\) \$\.data\.value: changed 42 -> 43", out), out
        xml = junitparser.JUnitXml.fromfile(os.path.join(d, "report.xml"))
        case = next(c for s in xml for c in s if c.name == f"golden recording {golden} matches")
        assert "$.data.value: changed 42 -> 43" in case.result[0].text

        # --ignore takes the diff's rules: ignoring the path makes the run pass.
        p, _ = tapedeck_test(scenario, "--golden", golden, "--ignore", "$.data.value")
        assert p.returncode == 0, p.stdout

        # --update-golden rewrites it; then the changed scenario passes.
        p, _ = tapedeck_test(scenario, "--golden", golden, "--update-golden")
        assert p.returncode == 0, p.stdout
        p, _ = tapedeck_test(scenario, "--golden", golden)
        assert p.returncode == 0, p.stdout
        write(42)
        p, _ = tapedeck_test(scenario, "--golden", golden)
        assert p.returncode == 1 and "changed 43 -> 42" in p.stdout, p.stdout


def test_a_golden_directory_holds_one_recording_per_scenario_file():
    # Two files whose tests pin every message they cause (streams that race replies in the other
    # suites can add or drop a message on a loaded machine; see README, golden recordings).
    files = ["scenarios/ops-control-center/regression.yaml", "scenarios/jobs-live-tail/short-ping-timeout.yaml"]
    with tempfile.TemporaryDirectory() as d:
        golden = os.path.join(d, "golden") + "/"
        # A single file takes one scenario file only.
        p, _ = tapedeck_test(*files, "--golden", os.path.join(d, "one.sqlite"))
        assert p.returncode == 2 and "give a directory (--golden DIR/)" in p.stdout, p.stdout

        p, _ = tapedeck_test(*files, "--golden", golden, "--update-golden")
        assert p.returncode == 0, p.stdout
        assert sorted(os.listdir(golden)) == ["jobs-short-ping-timeout.sqlite", "ops-control-center-regression.sqlite"]

        p, _ = tapedeck_test(*files, "--golden", golden)
        assert p.returncode == 0, p.stdout
        assert p.stdout.count(" matches  (") == 2
