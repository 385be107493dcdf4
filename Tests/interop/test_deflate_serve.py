"""permessage-deflate on `tapedeck serve`, with Python `websockets` (compression on by default):
negotiated where the profile enables it, messages intact both ways, limits applied after
decompression (a deflate bomb gets 1009 and the server stays up)."""
import json
import os

import websockets

from conftest import recv_until, run, serve, token


def test_echo_negotiates_compression_and_echoes_every_kind_of_message(binary):
    with serve("scenarios/echo/echo.yaml") as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/", max_size=None) as ws:
                agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
                big = json.dumps({"type": "metric", "pad": "x" * 50_000})
                for m in ["hello", big, b"\x00\x01" * 4000, "", b"", "héllo 😀"]:
                    await ws.send(m)
                    assert await ws.recv() == m
                await ws.send(["frag-", "ment", "ed"])
                assert await ws.recv() == "frag-mented"
                return agreed
        agreed = run(go())
        assert agreed is not None and agreed.startswith("permessage-deflate"), agreed


def test_a_client_that_does_not_offer_compression_is_served_uncompressed(binary):
    with serve("scenarios/echo/echo.yaml") as (host, _):
        async def go():
            async with websockets.connect(f"ws://{host}/", compression=None) as ws:
                await ws.send("plain")
                assert await ws.recv() == "plain"
                return ws.response.headers.get("Sec-WebSocket-Extensions")
        assert run(go()) is None


def test_a_deflate_bomb_closes_with_1009_and_the_server_stays_up(binary):
    with serve("scenarios/echo/echo.yaml", "--max-message-size", "1MiB") as (host, proc):
        async def go():
            async with websockets.connect(f"ws://{host}/", max_size=None) as ws:
                # 64 MiB of zeros: about 64 KiB on the wire, far over the limit once inflated.
                await ws.send(b"\x00" * (64 << 20))
                try:
                    await ws.recv()
                except websockets.exceptions.ConnectionClosed:
                    pass
                code = ws.close_code
            async with websockets.connect(f"ws://{host}/") as ws:
                await ws.send("still here")
                assert await ws.recv() == "still here"
            return code
        assert run(go()) == 1009
        assert proc.poll() is None
        rss_kib = int(next(l for l in open(f"/proc/{proc.pid}/status") if l.startswith("VmRSS")).split()[1])
        assert rss_kib < 200 * 1024, f"RSS {rss_kib} KiB: the bomb was inflated in memory"


def test_ops_control_center_sends_compressed_events(binary):
    with serve("scenarios/ops-control-center/incident-storm.yaml", "--speed", "100") as (host, _):
        jwt = token("--user", "qa")

        async def go():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
                await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents"]}))
                incidents = await recv_until(ws, lambda m: m.get("type") == "incident")
                more = await recv_until(ws, lambda m: m.get("type") == "incident")
                return agreed, incidents + more
        agreed, messages = run(go())
        assert agreed is not None and agreed.startswith("permessage-deflate"), agreed
        incidents = [m for m in messages if m.get("type") == "incident"]
        assert len(incidents) == 2
        assert all(list(m) == ["type", "action", "data", "timestamp"] for m in incidents)





PAGE = """<!doctype html><meta charset="utf-8"><title>deflate</title><script>
const params = new URLSearchParams(location.search);
window.done = false;
const ws = new WebSocket(params.get("ws"));
const big = JSON.stringify({ type: "metric", pad: "x".repeat(100000) });
const got = [];
ws.onopen = () => { ws.send("hello from chromium"); ws.send(big); };
ws.onmessage = (e) => {
  got.push(e.data);
  if (got.length === 2) {
    window.result = { extensions: ws.extensions, first: got[0], bigIntact: got[1] === big };
    ws.close(1000);
  }
};
ws.onclose = (e) => { window.result = Object.assign(window.result || {}, { close: e.code }); window.done = true; };
</script>"""


OPS_PAGE = """<!doctype html><meta charset="utf-8"><title>ops</title><script>
const params = new URLSearchParams(location.search);
window.done = false;
const ws = new WebSocket(params.get("ws"));
const incidents = [];
ws.onopen = () => ws.send(JSON.stringify({ action: "subscribe", topics: ["incidents"] }));
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === "incident") incidents.push(m);
  if (incidents.length === 3) {
    window.result = { extensions: ws.extensions, incidents: incidents };
    ws.close(1000);
  }
};
ws.onclose = (e) => { window.result = Object.assign(window.result || {}, { close: e.code }); window.done = true; };
</script>"""


def in_chromium(tmp_path, html, scenario, ws_path, *args, cookies=()):
    """Serves `html` from a loopback HTTP origin, opens it in headless Chromium with `?ws=` pointing
    at `tapedeck serve SCENARIO` (cookies set for 127.0.0.1 first), and returns `window.result`
    once the page sets `window.done`."""
    import http.server
    import shutil
    import threading
    from urllib.parse import urlencode

    import pytest
    chromium = "/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium") else shutil.which("chromium")
    if chromium is None and os.environ.get("CI") != "true":
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    (tmp_path / "page.html").write_text(html)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    try:
        with serve(scenario, *args) as (host, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
            try:
                context = browser.new_context()
                if cookies:
                    context.add_cookies([{"name": n, "value": v, "domain": "127.0.0.1", "path": "/"} for n, v in cookies])
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{origin.server_address[1]}/page.html?" + urlencode({"ws": f"ws://{host}{ws_path}"}))
                page.wait_for_function("window.done === true", timeout=20_000)
                return page.evaluate("window.result")
            finally:
                browser.close()
    finally:
        origin.shutdown()
        origin.server_close()


def test_chromium_negotiates_compression_with_serve(tmp_path):
    result = in_chromium(tmp_path, PAGE, "scenarios/echo/echo.yaml", "/")
    assert result["extensions"].startswith("permessage-deflate"), result
    assert result["first"] == "hello from chromium"
    assert result["bigIntact"] is True
    assert result["close"] == 1000


def test_chromium_gets_compressed_incidents_from_ops_control_center(tmp_path):
    # The browser's way in: the JWT in the `session` cookie, sent with the upgrade.
    jwt = token("--user", "qa")
    result = in_chromium(
        tmp_path, OPS_PAGE, "scenarios/ops-control-center/incident-storm.yaml", "/api/ws", "--speed", "100",
        cookies=[("session", jwt)])
    assert result["extensions"].startswith("permessage-deflate"), result
    assert len(result["incidents"]) == 3
    assert all(list(m) == ["type", "action", "data", "timestamp"] for m in result["incidents"])
    assert result["close"] == 1000
