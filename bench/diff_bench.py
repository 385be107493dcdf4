#!/usr/bin/env python3
"""Benchmark `tapedeck diff` on two large recordings: time and peak RSS.

Writes two recordings of N frames each (default 1,000,000) straight into SQLite with the schema of
Sources/TapedeckRecording/RecordingSchema.swift (format version 1), as the ops-control-center profile
would record them: server events {type, action, data, timestamp} and a client ping every 100 frames.
The second recording differs from the first in every timestamp (ignored by the profile's preset), in a
few changed fields, inserted and removed messages, so the diff has real work to do and must align
around the insertions. Then it runs `/usr/bin/time -v tapedeck diff A B --format json` and reports the
wall time, the peak resident set size and the differences found.

    python3 bench/diff_bench.py --bin .build/release/tapedeck [--frames 1000000] [--connections 1]
"""
import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES ('v1');
CREATE TABLE recording (
    id INTEGER PRIMARY KEY CHECK (id = 1), format_version INTEGER NOT NULL, name TEXT NOT NULL,
    tool_version TEXT NOT NULL, started_at_ns INTEGER NOT NULL, finished_at_ns INTEGER, upstream TEXT,
    scenario TEXT, profile TEXT, tags TEXT NOT NULL DEFAULT '[]');
CREATE TABLE connections (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, query TEXT, request_headers TEXT NOT NULL DEFAULT '[]',
    subprotocol TEXT, extensions TEXT, upgrade_status INTEGER, response_headers TEXT NOT NULL DEFAULT '[]',
    response_body BLOB, peer TEXT, upstream TEXT, error TEXT, opened_offset_ns INTEGER NOT NULL,
    opened_at_ns INTEGER NOT NULL, closed_offset_ns INTEGER, closed_at_ns INTEGER, client_close_code INTEGER,
    client_close_reason TEXT, server_close_code INTEGER, server_close_reason TEXT);
CREATE TABLE batches (
    id INTEGER PRIMARY KEY, first_seq INTEGER, last_seq INTEGER, frame_count INTEGER NOT NULL,
    committed_at_ns INTEGER NOT NULL);
CREATE TABLE frames (
    seq INTEGER PRIMARY KEY, connection_id INTEGER NOT NULL REFERENCES connections(id),
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    direction TEXT NOT NULL CHECK (direction = 'c2s' OR direction = 's2c'),
    opcode TEXT NOT NULL CHECK (opcode = 'text' OR opcode = 'binary' OR opcode = 'continuation'
        OR opcode = 'ping' OR opcode = 'pong' OR opcode = 'close'),
    fin INTEGER NOT NULL DEFAULT 1, payload BLOB NOT NULL, offset_ns INTEGER NOT NULL,
    wall_time_ns INTEGER NOT NULL, decoded TEXT, redacted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX frames_by_connection ON frames(connection_id, seq);
"""

KINDS = [("incident", "created"), ("incident", "updated"), ("alert", "created"), ("metric", "updated"), ("task", "updated")]
SQUADS = ["platform", "payments", "security"]


def message(i, variant, day):
    """The i-th message of a connection, as (direction, text)."""
    if i % 100 == 0:
        return "c2s", json.dumps({"action": "ping"}, separators=(",", ":"))
    kind, action = KINDS[i % len(KINDS)]
    data = {"id": f"{kind[:3]}-{i}", "title": f"Event {i}", "severity": ["low", "high", "critical"][i % 3],
            "squad": SQUADS[i % 3], "value": i % 97, "updated_at": f"2026-11-{day:02d}T10:{i % 60:02d}:00Z"}
    if variant:
        data["severity"] = "changed"
    ts = f"2026-11-{day:02d}T10:00:{i % 60:02d}.{i % 1000:03d}Z"
    return "s2c", json.dumps({"type": kind, "action": action, "data": data, "timestamp": ts}, separators=(",", ":"))


def write(path, frames, connections, second, seed):
    if os.path.exists(path):
        os.remove(path)
    rng = random.Random(seed)
    per = frames // connections
    # Positions (per connection) where the second recording differs.
    changed = set(rng.sample(range(1, per), 10))
    inserted = set(rng.sample(range(1, per), 5))
    removed = set(rng.sample(range(1, per), 5)) - changed - inserted
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
    day = 2 if second else 1
    db.execute("INSERT INTO recording VALUES (1, 1, ?, 'tapedeck 0.1.0', 0, 1, NULL, NULL, 'ops-control-center', '[\"bench\"]')",
               (os.path.basename(path),))
    seq = 0
    batch = 0
    rows = []
    for c in range(1, connections + 1):
        db.execute("INSERT INTO connections (id, path, upgrade_status, opened_offset_ns, opened_at_ns, closed_offset_ns,"
                   " closed_at_ns, client_close_code, server_close_code, server_close_reason) VALUES (?, '/api/ws', 101, 0, 0, ?, ?, 1000, 1000, '')",
                   (c, per * 1_000_000 + 10, per * 1_000_000 + 10))
        for i in range(per):
            variants = [(i, False)]
            if second:
                if i in removed:
                    variants = []
                elif i in changed:
                    variants = [(i, True)]
                if i in inserted:
                    variants = [(per + i, False)] + variants
            for (n, variant) in variants:
                seq += 1
                if seq % 1000 == 1:
                    batch += 1
                    db.execute("INSERT INTO batches VALUES (?, ?, ?, 1000, 0)", (batch, seq, seq + 999))
                direction, text = message(n, variant, day)
                jitter = rng.randint(0, 200_000) if second else 0
                offset = i * 1_000_000 + jitter
                rows.append((seq, c, batch, direction, "text", 1, text.encode(), offset, offset, text, 0))
                if len(rows) >= 20000:
                    db.executemany("INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                    rows = []
    if rows:
        db.executemany("INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return seq, len(changed), len(inserted), len(removed)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=".build/release/tapedeck")
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--dir", default=None, help="where to write the recordings (default: a temporary directory)")
    ap.add_argument("--reuse", action="store_true", help="reuse a.sqlite and b.sqlite already in --dir")
    ap.add_argument("--generate-only", action="store_true", help="write the recordings and stop")
    args = ap.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="tapedeck-diff-bench-")
    os.makedirs(work, exist_ok=True)
    a, b = os.path.join(work, "a.sqlite"), os.path.join(work, "b.sqlite")
    if not (args.reuse and os.path.exists(a) and os.path.exists(b)):
        t0 = time.time()
        na, _, _, _ = write(a, args.frames, args.connections, False, 1)
        nb, changed, inserted, removed = write(b, args.frames, args.connections, True, 1)
        print(f"wrote {na:,} and {nb:,} frames in {time.time() - t0:.1f} s "
              f"(B: {changed} changed, {inserted} inserted, {removed} removed messages per connection)")
    if args.generate_only:
        return
    cmd = ["/usr/bin/time", "-v", args.bin, "diff", a, b, "--format", "json", "--output", os.path.join(work, "diff.json")]
    t0 = time.time()
    run = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    print(run.stdout.strip())
    if run.returncode not in (0, 1):
        print(run.stderr, file=sys.stderr)
        sys.exit(run.returncode)
    report = json.load(open(os.path.join(work, "diff.json")))
    kinds = {}
    for c in report["connections"]:
        for f in c["findings"]:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    print(f"diff: exit {run.returncode}, {report['differences']} differences {kinds}")
    print(f"time: {wall:.1f} s wall, {args.frames * 2 / wall:,.0f} frames/s; peak RSS: {int(rss.group(1)) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
