"""graphql-transport-ws against the real `tapedeck serve` binary (env TAPEDECK_BIN), with two
independent clients: the Python `gql` client (`gql[websockets]`, two concurrent subscriptions on
one socket), and headless Chromium (Debian's, driven by Playwright) running a page that speaks the
protocol with the browser's own WebSocket. `.ci/run` installs both.
"""
import asyncio
import http.server
import json
import os
import shutil
import threading

import pytest
import websockets

from conftest import run, serve_host as serve

EXAMPLE = "scenarios/graphql-transport-ws/market-and-chat.yaml"
PRICE = "subscription Price($symbol: String) { price(symbol: $symbol) { symbol price at } }"
CHAT = "subscription Chat($room: String) { messageAdded(room: $room) { id room author text } }"
CHROMIUM = "/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium") else shutil.which("chromium")


def test_gql_client_runs_two_subscriptions_on_one_socket_each_with_its_own_results():
    from gql import Client, gql
    from gql.graphql_request import GraphQLRequest
    from gql.transport.websockets import WebsocketsTransport

    with serve(EXAMPLE, "--timeline", "per-connection") as host:
        async def go():
            transport = WebsocketsTransport(url=f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"])
            async with Client(transport=transport) as session:
                async def collect(query, variables):
                    request = GraphQLRequest(gql(query), variable_values=variables)
                    return [r async for r in session.subscribe(request)]

                prices, chat = await asyncio.wait_for(
                    asyncio.gather(collect(PRICE, {"symbol": "ACME"}), collect(CHAT, {"room": "general"})), 20)
                symbols = await session.execute(gql("query { symbols }"))
                # What the server answered in Sec-WebSocket-Protocol (gql reads it from the 101).
                return transport.subprotocol, prices, chat, symbols

        subprotocol, prices, chat, symbols = run(go())
        assert subprotocol == "graphql-transport-ws"
        # Each subscription got only its own results, and ended when the server completed it
        # (the generator returns on `complete`).
        assert [p["price"]["symbol"] for p in prices] == ["ACME"] * 4
        assert all(isinstance(p["price"]["price"], float) for p in prices)
        assert [m["messageAdded"]["id"] for m in chat] == ["m-1", "m-2", "m-3", "m-4", "m-5"]
        assert all(m["messageAdded"]["room"] == "general" for m in chat)
        assert symbols == {"symbols": ["ACME", "GLOBEX"]}


def test_on_the_wire_each_next_carries_its_subscriptions_id():
    with serve(EXAMPLE, "--timeline", "per-connection") as host:
        async def go():
            async with websockets.connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                assert ws.subprotocol == "graphql-transport-ws"
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                assert json.loads(await ws.recv()) == {"type": "connection_ack", "payload": {"server": "tapedeck"}}
                # Two subscriptions to the same field: every price goes out twice, once per id.
                for sid in ("one", "two"):
                    await ws.send(json.dumps({"id": sid, "type": "subscribe", "payload": {"query": "subscription { price { price } }"}}))
                messages = []
                while sum(1 for m in messages if m["type"] == "complete") < 2:
                    messages.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                await ws.send(json.dumps({"type": "ping"}))
                pong = json.loads(await ws.recv())
                return messages, pong

        messages, pong = run(go())
        nexts = [m for m in messages if m["type"] == "next"]
        assert [m["id"] for m in nexts] == ["one", "two"] * 8
        for a, b in zip(nexts[0::2], nexts[1::2]):
            assert a["payload"] == b["payload"]
        assert messages[-2:] == [{"id": "one", "type": "complete"}, {"id": "two", "type": "complete"}]
        assert pong == {"type": "pong"}


def test_a_late_connection_init_is_closed_with_4408():
    with serve(EXAMPLE, "--timeline", "per-connection") as host:
        async def go():
            async with websockets.connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                return closed.value.rcvd.code, closed.value.rcvd.reason

        assert run(go()) == (4408, "Connection initialisation timeout")


PAGE = """<!doctype html>
<meta charset="utf-8">
<title>graphql-transport-ws in the browser</title>
<script>
const params = new URLSearchParams(location.search);
const log = { protocol: null, messages: [], close: null, error: false };
window.result = log;
const ws = new WebSocket(params.get("ws"), JSON.parse(params.get("protocols")));
ws.onopen = () => {
  log.protocol = ws.protocol;
  ws.send(JSON.stringify({ type: "connection_init", payload: { from: "chromium" } }));
};
ws.onerror = () => { log.error = true; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  log.messages.push(m);
  if (m.type === "connection_ack") {
    ws.send(JSON.stringify({ id: "prices", type: "subscribe",
      payload: { query: "subscription ($symbol: String) { price(symbol: $symbol) { symbol price } }", variables: { symbol: "GLOBEX" } } }));
    ws.send(JSON.stringify({ id: "q", type: "subscribe", payload: { query: "{ room { title } }" } }));
    ws.send(JSON.stringify({ type: "ping", payload: { at: "browser" } }));
  }
  if (m.type === "complete" && m.id === "prices") ws.close(1000, "done");
};
ws.onclose = (e) => { log.close = { code: e.code, clean: e.wasClean }; window.done = true; };
</script>
<p>graphql-transport-ws</p>
"""


@pytest.fixture
def page_origin(tmp_path):
    """Serves the test page from a loopback HTTP origin (a real page, not about:blank)."""
    (tmp_path / "gql.html").write_text(PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true", reason="Chromium is not installed")
def test_chromium_speaks_graphql_transport_ws_with_its_own_websocket(page_origin):
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "CI installs chromium"
    with serve(EXAMPLE, "--timeline", "per-connection") as host, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page()

            def session(protocols):
                query = urlencode({"ws": f"ws://{host}/graphql", "protocols": json.dumps(protocols)})
                page.goto(f"{page_origin}/gql.html?{query}")
                page.wait_for_function("window.done === true", timeout=20_000)
                return page.evaluate("window.result")

            ok = session(["graphql-transport-ws"])
            # Without the server's answer Chromium would refuse the handshake: it selected ours.
            assert ok["protocol"] == "graphql-transport-ws" and not ok["error"]
            msgs = ok["messages"]
            assert msgs[0] == {"type": "connection_ack", "payload": {"server": "tapedeck"}}
            assert {"type": "pong", "payload": {"at": "browser"}} in msgs
            assert {"id": "q", "type": "next", "payload": {"data": {"room": {"id": "general", "title": "General chat", "members": 3}}}} in msgs
            assert {"id": "q", "type": "complete"} in msgs
            prices = [m for m in msgs if m.get("id") == "prices" and m["type"] == "next"]
            assert [m["payload"]["data"]["price"]["symbol"] for m in prices] == ["GLOBEX"] * 4
            assert msgs[-1] == {"id": "prices", "type": "complete"}
            assert ok["close"] == {"code": 1000, "clean": True}

            # Offering only a protocol the profile does not speak: the server selects none, and
            # Chromium fails the handshake itself (1006), as it must.
            other = session(["graphql-ws"])
            assert other["protocol"] is None and other["error"]
            assert other["close"]["code"] == 1006
        finally:
            browser.close()


def test_the_demo_serves_graphql_transport_ws_at_graphql():
    with serve() as host:  # no scenario: the built-in demo, every profile on one port
        async def go():
            async with websockets.connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                ack = json.loads(await ws.recv())
                await ws.send(json.dumps({"id": "p", "type": "subscribe", "payload": {"query": "subscription { price { symbol price } }"}}))
                return ws.subprotocol, ack, json.loads(await asyncio.wait_for(ws.recv(), 10))

        subprotocol, ack, first = run(go())
        assert subprotocol == "graphql-transport-ws"
        assert ack == {"type": "connection_ack", "payload": {"server": "tapedeck"}}
        assert first["id"] == "p" and first["type"] == "next" and first["payload"]["data"]["price"]["symbol"] in ("ACME", "GLOBEX")


def test_serve_record_keeps_the_selected_subprotocol(tmp_path):
    import sqlite3

    out = tmp_path / "gql.sqlite"
    with serve(EXAMPLE, "--record", str(out)) as host:
        async def go():
            async with websockets.connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                await ws.recv()

        run(go())
    with sqlite3.connect(out) as db:
        assert db.execute("SELECT path, subprotocol FROM connections").fetchall() == [("/graphql", "graphql-transport-ws")]
