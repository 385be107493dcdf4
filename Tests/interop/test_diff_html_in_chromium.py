"""The HTML diff report, opened in headless Chromium (Debian's `chromium`): self-contained, and it
shows the differences. `.ci/run` installs Chromium; elsewhere the test skips without it."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import run, tapedeck  # noqa: E402
from test_roundtrip import record_against_python  # noqa: E402

CHROMIUM = shutil.which("chromium") or ("/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium") else None)


def chromium(*args):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true", reason="Chromium is not installed")
def test_the_html_report_shows_the_differences_in_a_browser(tmp_path):
    assert CHROMIUM, "CI installs chromium"
    a, c = tmp_path / "a.sqlite", tmp_path / "c.sqlite"
    run(record_against_python("same", a))
    run(record_against_python("changed", c))
    report = tmp_path / "report.html"
    p = tapedeck("diff", str(a), str(c), "--format", "html", "--output", str(report))
    assert p.returncode == 1, p.stdout + p.stderr
    html = report.read_text()
    # Self-contained: nothing is fetched from elsewhere.
    for needle in ("<script src=", "<link ", "http://", "https://"):
        assert needle not in html, needle
    dom = chromium("--dump-dom", report.as_uri()).stdout
    assert "Recordings differ" in dom
    assert "$.data.value" in dom
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,900", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
