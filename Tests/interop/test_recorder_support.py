"""Helpers (no tests) shared by the recorder interop tests: start `tapedeck record`, read the recording."""
import asyncio
import os
import signal
import sqlite3

TAPEDECK_BIN = os.environ.get("TAPEDECK_BIN", ".build/debug/tapedeck")


async def start_recorder(upstream, out, *extra):
    """Starts `tapedeck record` on 127.0.0.1:0; returns (process, 'host:port')."""
    proc = await asyncio.create_subprocess_exec(
        TAPEDECK_BIN, "record", "--upstream", upstream, "--listen", "127.0.0.1:0", "--out", str(out),
        "--quiet", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    text = line.decode()
    assert text.startswith("listening on "), f"unexpected first line {text!r}"
    address = text.split()[2].rstrip(",")
    return proc, address


async def stop_recorder(proc):
    """Sends SIGINT and waits for a clean exit; returns the rest of standard output."""
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, f"tapedeck record exited {proc.returncode}: {err.decode()}"
    return out.decode()


def read_frames(path):
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT * FROM frames ORDER BY seq").fetchall()
    db.close()
    return rows


def read_connections(path):
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT * FROM connections ORDER BY id").fetchall()
    db.close()
    return rows
