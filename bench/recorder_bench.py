#!/usr/bin/env python3
"""Recorder benchmark: ingest rate and added latency of `tapedeck record`, each beside a direct connection.

Loopback only, bounded in count and time. In one run it measures:
  * ingest: an upstream floods N text frames to a client; frames/s received directly and through the
    recording proxy, and the frames/s the recorder committed to disk (all frames are checked on disk);
  * latency: M sequential echo round trips, directly and through the proxy; median and p99 of each,
    and the ratio proxy/direct.

    .venv/bin/python bench/recorder_bench.py [--bin .build-release/release/tapedeck] [--frames 50000] [--round-trips 3000]
"""
import argparse
import asyncio
import json
import os
import signal
import sqlite3
import statistics
import tempfile
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def upstream(ws):
    try:
        async for message in ws:
            if message.startswith("flood "):
                _, n, size = message.split()
                payload = json.dumps({"type": "metric", "pad": "x" * int(size)})
                for _ in range(int(n)):
                    await ws.send(payload)
                await ws.send("done")
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass


async def flood(url, n, size):
    async with connect(url, compression=None, max_queue=None) as ws:
        start = time.perf_counter()
        await ws.send(f"flood {n} {size}")
        received = 0
        while True:
            m = await ws.recv()
            if m == "done":
                break
            received += 1
        elapsed = time.perf_counter() - start
    assert received == n
    return n / elapsed, elapsed


async def round_trips(url, m):
    samples = []
    async with connect(url, compression=None) as ws:
        for i in range(50):  # warm-up
            await ws.send("w")
            await ws.recv()
        for i in range(m):
            t = time.perf_counter_ns()
            await ws.send("ping-%d" % i)
            await ws.recv()
            samples.append((time.perf_counter_ns() - t) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def main(args):
    tmp = tempfile.mkdtemp(prefix="tapedeck-bench-")
    out = os.path.join(tmp, "bench.sqlite")
    async with serve(upstream, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        port = server.sockets[0].getsockname()[1]
        direct = f"ws://127.0.0.1:{port}/ws"
        proc = await asyncio.create_subprocess_exec(
            args.bin, "record", "--upstream", direct, "--listen", "127.0.0.1:0", "--out", out, "--quiet",
            "--durability", args.durability, stdout=asyncio.subprocess.PIPE)
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        proxied = f"ws://{line.split()[2].rstrip(',')}/ws"
        try:
            results = {}
            # Alternate direct and proxied runs so that both see the same machine state.
            windows = []
            for rnd in range(args.repeat):
                for name, url in (("direct", direct), ("proxy", proxied)):
                    t0 = time.time_ns()
                    rate, _ = await asyncio.wait_for(flood(url, args.frames, args.size), args.timeout)
                    if name == "proxy":
                        windows.append(t0)
                    results.setdefault(f"flood_{name}", []).append(rate)
                    await asyncio.sleep(0.3)  # let the recorder commit the tail before the next phase
            for name, url in (("direct", direct), ("proxy", proxied)):
                results[f"rtt_{name}"] = await asyncio.wait_for(round_trips(url, args.round_trips), args.timeout)
        finally:
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 60)
            finish = time.perf_counter() - t0
    db = sqlite3.connect(out)
    frames = db.execute("SELECT count(*) FROM frames").fetchone()[0]
    batches = db.execute("SELECT count(*), avg(frame_count) FROM batches").fetchone()
    # Commit rate during each proxied flood: frames committed from its start until its last batch.
    ingest = []
    for t0 in windows:
        rows = db.execute(
            "SELECT committed_at_ns, frame_count FROM batches WHERE committed_at_ns >= ? ORDER BY id", (t0,)).fetchall()
        n, last = 0, t0
        for committed, count in rows:
            n += count
            last = committed
            if n >= args.frames:
                break
        ingest.append(n / ((last - t0) / 1e9))
    db.close()
    expected = args.repeat * (args.frames + 2) + 2 * (args.round_trips + 50) + 4  # + close frames
    fd, fp = max(results["flood_direct"]), max(results["flood_proxy"])
    (md, pd), (mp, pp) = results["rtt_direct"], results["rtt_proxy"]
    print(f"binary: {args.bin}  durability: {args.durability}  frames of ~{args.size + 30} bytes")
    print(f"frames on disk: {frames} (expected at least {expected - 8}); {batches[0]} batches, {batches[1]:.0f} frames/batch avg")
    print(f"flood direct : {fd:10.0f} frames/s (best of {args.repeat})")
    print(f"flood proxy  : {fp:10.0f} frames/s (best of {args.repeat}), ratio proxy/direct {fp / fd:.2f}")
    print(f"ingest (committed to SQLite during a proxied flood): {max(ingest):10.0f} frames/s (best of {args.repeat})")
    print(f"round trip direct: median {md:7.1f} us  p99 {pd:7.1f} us  ({args.round_trips} round trips)")
    print(f"round trip proxy : median {mp:7.1f} us  p99 {pp:7.1f} us")
    print(f"latency ratio proxy/direct: median {mp / md:.2f}  p99 {pp / pd:.2f}; added median {mp - md:.1f} us")
    print(f"shutdown (flush + close) took {finish * 1000:.0f} ms")
    assert frames >= expected - 8, "frames missing from the recording"
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"frames_on_disk": frames, "frame_bytes": args.size + 30, "repeat": args.repeat,
                       "flood_direct": fd, "flood_proxy": fp, "ratio": fp / fd, "ingest": max(ingest),
                       "rtt_direct_ms": {"p50": md / 1000, "p99": pd / 1000},
                       "rtt_proxy_ms": {"p50": mp / 1000, "p99": pp / 1000}, "shutdown_s": finish}, f, indent=1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.environ.get("TAPEDECK_BIN", ".build/debug/tapedeck"))
    p.add_argument("--frames", type=int, default=50000)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--round-trips", type=int, default=3000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--durability", default="normal")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--json", help="also write the figures here as JSON")
    asyncio.run(main(p.parse_args()))
