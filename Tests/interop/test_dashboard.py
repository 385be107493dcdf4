"""The web dashboard (`/_tapedeck/`) of the real `tapedeck serve` binary in headless Chromium (Debian's,
driven by Playwright from PyPI), with an independent Python `websockets` client on the wire: the
live connection appears in the page, a click on "Pause" stops the events the client receives and
"Resume" restarts them, and the recording viewer shows a recording's frames.

The screenshots go to the test's temporary directory; with TAPEDECK_SCREENSHOT_DIR=docs they also
go to docs/dashboard.png and docs/dashboard-recording.png (the README shows the first)."""
import asyncio
import json
import os
import shutil
import threading
import time
import urllib.request

import pytest
import websockets

from conftest import ROOT, serve, tapedeck, token

SCENARIO = """\
scenario: dashboard-interop
profile: ops-control-center
seed: 7
start: immediately
streams:
  - name: ticks
    every: 200ms
    count: 100000
    event: { type: metric, action: updated, data: { seq: "{{ seq() }}", squad: platform } }
  - name: incidents
    every: 1500ms
    count: 100000
    event: { type: incident, action: created, data: { id: "inc-{{ seq() }}", squad: platform, severity: high } }
"""

CONTROL_TOKEN = "dash-s3cret"


def chromium_path():
    path = "/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium") else shutil.which("chromium")
    if path is None and os.environ.get("CI") != "true":
        pytest.skip("Chromium is not installed")
    return path


class Listener:
    """A `websockets` client on its own thread and event loop, noting when each metric arrives."""

    def __init__(self, url, headers):
        self.url, self.headers = url, headers
        self.arrivals = []          # (monotonic time, seq) of each metric
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)

    async def run(self):
        try:
            async with websockets.connect(self.url, additional_headers=self.headers) as ws:
                await ws.send(json.dumps({"action": "subscribe", "topics": ["metrics", "incidents"], "filters": {"squad": "platform"}}))
                self.ready.set()
                while not self.stop.is_set():
                    try:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                    except asyncio.TimeoutError:
                        continue
                    if m.get("type") == "metric":
                        with self.lock:
                            self.arrivals.append((time.monotonic(), int(m["data"]["seq"])))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
            self.ready.set()

    def count(self):
        with self.lock:
            return len(self.arrivals)

    def wait_for_more(self, than, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.count() > than:
                return True
            time.sleep(0.05)
        return False


def api(host, path):
    req = urllib.request.Request(f"http://{host}/_tapedeck{path}", headers={"Authorization": f"Bearer {CONTROL_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_dashboard_shows_live_clients_pauses_on_the_wire_and_views_recordings(tmp_path):
    chromium = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    scenario = tmp_path / "dashboard.yaml"
    scenario.write_text(SCENARIO)
    shelf = tmp_path / "recordings"
    shelf.mkdir()
    shutil.copy(os.path.join(ROOT, "recordings", "ops-control-center-quick-check.sqlite"), shelf / "quick-check.sqlite")
    live = shelf / "live.sqlite"
    shots = [tmp_path]
    if os.environ.get("TAPEDECK_SCREENSHOT_DIR"):
        shots.append(os.path.join(ROOT, os.environ["TAPEDECK_SCREENSHOT_DIR"]))

    with serve(str(scenario), "--control-token", CONTROL_TOKEN, "--record", str(live), "--recordings", str(shelf)) as (host, _), \
            sync_playwright() as p:
        listener = Listener(f"ws://{host}/api/ws", {"Authorization": f"Bearer {token('--user', 'qa')}"})
        listener.thread.start()
        assert listener.ready.wait(10) and listener.error is None, listener.error
        assert listener.wait_for_more(2, 10), "the client gets metrics before the page opens"

        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # Without the token the page loads and asks for it.
            page.goto(f"http://{host}/_tapedeck/")
            expect(page.locator("#token-form")).to_be_visible(timeout=10000)
            # With it (in the fragment, kept for the tab and taken out of the address bar), the data comes.
            page.goto(f"http://{host}/_tapedeck/#token={CONTROL_TOKEN}")
            page.wait_for_function("!location.hash.includes('token')", timeout=5000)
            row = page.locator("#connections tbody tr[data-id]")
            expect(row).to_have_count(1, timeout=10000)
            expect(row).to_contain_text("qa")
            expect(row).to_contain_text("/api/ws")
            expect(row).to_contain_text("ops-control-center")
            expect(page.locator("#state")).to_have_text("running")
            expect(page.locator("#events tbody")).to_contain_text("ticks", timeout=10000)
            expect(page.locator("#rate-legend")).to_contain_text("ticks")

            # Pause: on the wire, the client stops getting events.
            page.click("#pause")
            expect(page.locator("#state")).to_have_text("paused", timeout=5000)
            assert api(host, "/timeline")["paused"] is True
            time.sleep(0.5)                      # what was already on its way
            before = listener.count()
            assert not listener.wait_for_more(before, 2.0), "events kept coming while paused"
            # Resume: they come again, in sequence.
            page.click("#resume")
            expect(page.locator("#state")).to_have_text("running", timeout=5000)
            assert listener.wait_for_more(before, 5.0), "no event after resume"
            with listener.lock:
                seqs = [s for _, s in listener.arrivals]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "an event was skipped or repeated"

            time.sleep(3)                         # a few seconds of traffic for the plots
            for d in shots:
                page.screenshot(path=os.path.join(d, "dashboard.png"), full_page=True)

            # The recording viewer: the recording being written, and one of the directory.
            page.click("#tab-recordings")
            items = page.locator("#recording-list button")
            expect(items).to_have_count(2, timeout=10000)
            expect(page.locator("#recording-list button[data-name='live.sqlite']")).to_contain_text("being recorded")
            page.click("#recording-list button[data-name='live.sqlite']")
            frames = page.locator("#frames tbody tr")
            expect(frames.first).to_be_visible(timeout=10000)
            expect(page.locator("#frames tbody tr.c2s").first).to_contain_text("subscribe")
            expect(page.locator("#frames tbody tr.s2c").first).to_contain_text("server → client")
            expect(page.locator("#frames")).to_contain_text('"type":"metric"')
            page.click("#recording-list button[data-name='quick-check.sqlite']")
            expect(page.locator("#recording-title")).to_have_text("quick-check.sqlite")
            expect(page.locator("#recording-connections tbody tr").first).to_be_visible(timeout=10000)
            expect(page.locator("#frames tbody tr").first).to_be_visible(timeout=10000)
            for d in shots:
                page.screenshot(path=os.path.join(d, "dashboard-recording.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
            listener.stop.set()
            listener.thread.join(5)


def test_recordings_must_be_a_directory_and_needs_the_control_api(tmp_path):
    p = tapedeck("serve", "--port", "0", "--recordings", str(tmp_path / "missing"))
    assert p.returncode == 64 and "--recordings must name a directory" in p.stderr, p.stderr
    p = tapedeck("serve", "--port", "0", "--no-control", "--recordings", str(tmp_path))
    assert p.returncode == 64 and "--no-control" in p.stderr, p.stderr
