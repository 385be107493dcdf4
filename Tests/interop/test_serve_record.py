"""`tapedeck serve --record`: what a client does is in the recording, as the recording proxy would store it."""
import json
import re
import sqlite3

import websockets

from conftest import run, serve, status, token


def test_refused_upgrades_and_a_client_close_are_recorded(tmp_path):
    out = tmp_path / "served.sqlite"
    jwt = token("--user", "qa")
    with serve("--record", str(out)) as (host, proc):
        assert status(f"ws://{host}/api/ws") == 401
        assert status(f"ws://{host}/api/ws", {"Authorization": "Bearer nope"}) == 401

        async def client():
            async with websockets.connect(f"ws://{host}/api/ws", additional_headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send(json.dumps({"action": "ping"}))
                await ws.recv()
                await ws.close(4000, "done for today")
        run(client())
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    db = sqlite3.connect(out)
    rows = db.execute("SELECT upgrade_status, peer, client_close_code, client_close_reason, server_close_code FROM connections ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [401, 401, 101]
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", r[1]) for r in rows), rows
    assert rows[2][2:] == (4000, "done for today", 1000)
    closes = db.execute("SELECT direction FROM frames WHERE opcode = 'close' ORDER BY seq").fetchall()
    assert [c[0] for c in closes] == ["c2s", "s2c"]
    body = db.execute("SELECT CAST(response_body AS TEXT) FROM connections WHERE id = 1").fetchone()[0]
    assert "Unauthorized" in body
