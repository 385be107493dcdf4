"""The broadcast message every peer sends, byte for byte the shape of bench/broadcast.yaml's events.

    {"type":"metric","action":"updated","data":{"seq":N,"t":<CLOCK_MONOTONIC ns>,"st":<scheduled s>,
     "metric_name":"cpu_usage","host":"web-01","value":57.3,"unit":"percent"},
     "timestamp":"<ISO-8601 UTC ms>"}

`t` is time.monotonic_ns() (CLOCK_MONOTONIC on Linux, the clock of Tapedeck's mono_ns()), stamped when the
event is made, once per event; `st` is the event's scheduled time in seconds since the stream started.
"""
import argparse
import datetime
import json
import time

def make(seq, st):
    now = datetime.datetime.now(datetime.timezone.utc)
    return json.dumps(
        {
            "type": "metric",
            "action": "updated",
            "data": {
                "seq": seq,
                "t": time.monotonic_ns(),
                "st": st,
                "metric_name": "cpu_usage",
                "host": "web-01",
                "value": 57.3,
                "unit": "percent",
            },
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        },
        separators=(",", ":"),
    )


def arguments(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9001)
    p.add_argument("--rate", type=float, default=1000, help="events per second, each to every client (0: none, idle)")
    p.add_argument("--max", action="store_true", help="as fast as the clients read (backpressure on write buffers)")
    return p.parse_args()


# In --max mode a producer pauses while any client has more than this many bytes queued.
HIGH_WATER = 256 * 1024
