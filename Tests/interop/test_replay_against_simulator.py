"""The whole loop on the sample recordings, judged by `tapedeck diff` under each profile's preset.

For every sample in `recordings/` (each was recorded from `scripts/make-sample-recordings.sh`):
- the recorded client side is replayed with `tapedeck replay --as-client` against `tapedeck serve`
  of the scenario it was recorded from, and the new session diffs clean against the sample;
- a scenario generated from the sample with `tapedeck scenario from-recording` is served, the
  recorded client side is replayed against it, and that session diffs clean against the sample too.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT, serve, tapedeck, token  # noqa: E402

# sample -> (scenario it was recorded from, speed it was served at, secrets the recording holds redacted)
SAMPLES = {
    "ops-control-center-quick-check": (
        "scenarios/ops-control-center/quick-check.yaml",
        lambda: ["--header", "Authorization: Bearer " + token("--user", "qa", "--squads", "platform")]),
    "jobs-live-tail-job-run": (
        "scenarios/jobs-live-tail/job-run-with-live-tail.yaml",
        lambda: ["--query", "token=" + token("--tenant", "acme", "--user", "analyst")]),
    "neurallog-error-burst": (
        "scenarios/neurallog/error-burst-with-notifications.yaml",
        lambda: ["--query", "apiKey=api-key-123"]),
    "unified-logs-user-session": (
        "scenarios/unified-logs/user-log-session.yaml",
        lambda: ["--cookie", "better-auth.session_token=sess-alice"]),
    "workitems-protobuf-sprint-day": (
        "scenarios/workitems-protobuf/sprint-day.yaml",
        lambda: ["--header", "Authorization: Bearer " + token("--tenant", "acme", "--user", "user-1")]),
}


def replay_and_diff(sample, url, tmp_path, secrets):
    original = os.path.join(ROOT, "recordings", sample + ".sqlite")
    again = tmp_path / "again.sqlite"
    p = tapedeck("replay", original, "--as-client", "--target", url, "--out", str(again), *secrets)
    assert p.returncode == 0, p.stdout + p.stderr
    d = tapedeck("diff", original, str(again), "--no-color")
    assert d.returncode == 0, d.stdout + d.stderr


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_replay_as_client_against_the_simulator_reproduces_the_sample(sample, tmp_path):
    scenario, secrets = SAMPLES[sample]
    # The samples were recorded from `serve --speed 10`.
    with serve(scenario, "--timeline", "per-connection", "--speed", "10") as (host, _):
        url = "ws://" + host
        replay_and_diff(sample, url, tmp_path, secrets())


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_a_scenario_generated_from_the_sample_serves_it_back(sample, tmp_path):
    scenario, secrets = SAMPLES[sample]
    generated = tmp_path / "generated.yaml"
    p = tapedeck("scenario", "from-recording", os.path.join("recordings", sample + ".sqlite"),
                 "--base", scenario, "-o", str(generated))
    assert p.returncode == 0, p.stderr
    v = tapedeck("validate", str(generated))
    assert v.returncode == 0, v.stdout + v.stderr
    # Generated events carry the recorded (real) times: serve at 1x.
    with serve(str(generated), "--timeline", "per-connection") as (host, _):
        url = "ws://" + host
        replay_and_diff(sample, url, tmp_path, secrets())
