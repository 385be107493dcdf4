"""kill -9 durability loop for `tapedeck record`.

Each round starts `tapedeck record` between a Python `websockets` upstream and a few flooding clients,
kills it with SIGKILL at a random moment, then checks the recording left behind:
  * it opens, and `PRAGMA integrity_check` says ok (also through `tapedeck inspect`);
  * every batch the recorder acknowledged (a line in --ack-log, written only after the commit) is present
    with all its frames;
  * there is no partial batch: every batch row has exactly `frame_count` frames, and no frame lacks a batch.

Run from the repository root after `swift build`:
    TAPEDECK_BIN=.build/debug/tapedeck TAPEDECK_CRASH_ROUNDS=20 .venv/bin/pytest Tests/interop/test_recorder_crash.py
"""
import asyncio
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.dirname(__file__))
from test_recorder_support import TAPEDECK_BIN, start_recorder  # noqa: E402

ROUNDS = int(os.environ.get("TAPEDECK_CRASH_ROUNDS", "10"))
ACK = re.compile(r"^batch (\d+) seq (\d+)-(\d+) frames (\d+)$")


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def flood(address, n, stop):
    try:
        async with connect(f"ws://{address}/ws") as ws:
            i = 0
            while not stop.is_set():
                await ws.send(json.dumps({"type": "tick", "client": n, "i": i, "pad": "x" * (i % 200)}))
                await ws.recv()
                i += 1
    except (ConnectionClosed, OSError):
        pass


async def one_round(tmp_path, round_no, durability):
    out = tmp_path / f"crash-{round_no}.sqlite"
    ack = tmp_path / f"crash-{round_no}.ack"
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        proc, address = await start_recorder(
            f"ws://127.0.0.1:{port}/ws", out, "--ack-log", str(ack), "--batch-size", "64",
            "--flush-interval", "5", "--durability", durability)
        stop = asyncio.Event()
        clients = [asyncio.create_task(flood(address, n, stop)) for n in range(4)]
        await asyncio.sleep(random.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
    return out, ack


def check(out, ack):
    acked = []
    for line in ack.read_text().splitlines():
        m = ACK.match(line)
        if m:  # a line cut short by the kill is not an acknowledgement
            acked.append(tuple(int(x) for x in m.groups()))
    db = sqlite3.connect(out)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    batches = {row[0]: row[1:] for row in db.execute("SELECT id, first_seq, last_seq, frame_count FROM batches")}
    counts = dict(db.execute("SELECT batch_id, count(*) FROM frames GROUP BY batch_id").fetchall())
    for batch_id, first, last, frames in acked:
        assert batch_id in batches, f"acknowledged batch {batch_id} is missing"
        assert batches[batch_id] == (first, last, frames)
    for batch_id, (first, last, frames) in batches.items():
        assert counts.get(batch_id, 0) == frames, f"batch {batch_id} is partial"
        span = db.execute("SELECT min(seq), max(seq) FROM frames WHERE batch_id = ?", (batch_id,)).fetchone()
        assert span == (first, last)
    assert set(counts) <= set(batches), "frames without a committed batch"
    orphans = db.execute(
        "SELECT count(*) FROM frames WHERE connection_id NOT IN (SELECT id FROM connections)").fetchone()[0]
    assert orphans == 0
    total = sum(counts.values())
    db.close()
    inspect = subprocess.run([TAPEDECK_BIN, "inspect", "--json", str(out)], capture_output=True, text=True, timeout=60)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["frames"] == total
    return len(acked), total


def test_kill_9_loses_no_acknowledged_batch(tmp_path):
    random.seed(os.environ.get("TAPEDECK_CRASH_SEED"))
    summary = []
    for round_no in range(ROUNDS):
        durability = "full" if round_no % 2 else "normal"
        out, ack = asyncio.run(one_round(tmp_path, round_no, durability))
        summary.append(check(out, ack))
    print("rounds (acknowledged batches, frames on disk):", summary)
    assert any(frames > 0 for _, frames in summary), "no round recorded anything"
