"""`tapedeck diff` on real recordings: the samples in recordings/, and copies changed through
`tapedeck export` / `tapedeck import` (a changed field, an inserted message, a close code)."""
import copy
import glob
import json
import os
import re

import pytest

from conftest import ROOT, tapedeck

SAMPLES = sorted(glob.glob(os.path.join(ROOT, "recordings", "*.sqlite")))


def export(recording, tmp_path):
    out = tmp_path / (os.path.basename(recording) + ".jsonl")
    p = tapedeck("export", recording, "--out", str(out))
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def import_lines(lines, path):
    frames = [l for l in lines if l["kind"] == "frame"]
    for i, f in enumerate(frames):
        f["seq"] = i + 1
        f["batch"] = 1
    rest = [l for l in lines if l["kind"] not in ("frame", "batch")]
    batch = {"kind": "batch", "id": 1, "first_seq": 1, "last_seq": len(frames), "frame_count": len(frames),
             "committed_at_ns": rest[0]["started_at_ns"] + 1}
    src = str(path) + ".jsonl"
    with open(src, "w") as fh:
        for l in rest + [batch] + frames:
            fh.write(json.dumps(l) + "\n")
    p = tapedeck("import", src, "--out", str(path), "--force")
    assert p.returncode == 0, p.stderr
    return str(path)


def set_decoded(frame, value):
    frame["decoded"] = value
    frame["payload"] = {"text": json.dumps(value, separators=(",", ":"))}


@pytest.mark.parametrize("recording", SAMPLES, ids=os.path.basename)
def test_a_recording_equals_itself_and_its_round_trip(recording, tmp_path):
    p = tapedeck("diff", recording, recording)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "equal under the rules" in p.stdout
    copy_ = import_lines(export(recording, tmp_path), tmp_path / "copy.sqlite")
    p = tapedeck("diff", recording, copy_, "--format", "json")
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["equal"] is True


def test_a_changed_field_an_inserted_message_and_a_close_code_are_named(tmp_path):
    base = os.path.join(ROOT, "recordings", "ops-control-center-quick-check.sqlite")
    lines = export(base, tmp_path)
    out = []
    for l in lines:
        if l["kind"] == "connection":
            l["server_close_code"] = 4001
        if l["kind"] == "frame" and l["decoded"] and "timestamp" in l["decoded"]:
            d = l["decoded"]
            d["timestamp"] = "2030-01-01T00:00:00.000Z"  # volatile: the profile's preset ignores it
            set_decoded(l, d)
        out.append(l)
        if l["kind"] == "frame" and (l["decoded"] or {}).get("data", {}).get("id") == "inc-2":
            d = l["decoded"]
            d["data"]["severity"] = "critical"
            set_decoded(l, d)
            extra = copy.deepcopy(l)
            e = extra["decoded"]
            e["data"]["id"] = "inc-2b"
            set_decoded(extra, e)
            out.append(extra)
    changed = import_lines(out, tmp_path / "changed.sqlite")
    p = tapedeck("diff", base, changed, "--no-color")
    assert p.returncode == 1, p.stdout + p.stderr
    text = p.stdout
    assert "/api/ws #1" in text
    assert re.search(r'message 7 \(s2c incident/created\) \$\.data\.severity: changed "high" -> "critical"', text), text
    assert "actual message 8 (s2c incident/created): message added" in text
    assert "close code 1000 -> 4001" in text
    assert "3 differences" in text  # the timestamps and the messages after the insertion do not count

    report = json.loads(tapedeck("diff", base, changed, "--format", "json").stdout)
    kinds = [f["kind"] for c in report["connections"] for f in c["findings"]]
    assert sorted(kinds) == ["close_code", "message_added", "value_changed"]

    junit = tapedeck("diff", base, changed, "--format", "junit").stdout
    assert junit.count("<testcase ") == 1 and junit.count("<failure ") == 1

    html_path = tmp_path / "report.html"
    p = tapedeck("diff", base, changed, "--format", "html", "-o", str(html_path))
    assert p.returncode == 1
    html = html_path.read_text()
    assert "Recordings differ" in html and "$.data.severity" in html
    assert "<script src" not in html and "<link" not in html and "http" not in html.split("<footer>")[0].replace("http-equiv", "")

    p = tapedeck("diff", base, changed, "--ignore", "$.data.severity", "--ignore", "$.data.id")
    assert "2 differences" in p.stdout  # the insertion and the close code remain


def test_errors_exit_2_with_a_clear_message(tmp_path):
    base = os.path.join(ROOT, "recordings", "ops-control-center-quick-check.sqlite")
    p = tapedeck("diff", base, str(tmp_path / "missing.sqlite"))
    assert p.returncode == 2 and "no such file" in p.stderr
    p = tapedeck("diff", base, base, "--ignore", "$.data[")
    assert p.returncode == 2 and "bad diff rule" in p.stderr
    (tmp_path / "rules.yaml").write_text("ignore:\n  - $.ok\n  - $.bad[\n")
    p = tapedeck("diff", base, base, "--rules", str(tmp_path / "rules.yaml"))
    assert p.returncode == 2 and "rules.yaml:3" in p.stderr
