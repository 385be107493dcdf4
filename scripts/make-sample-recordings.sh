#!/usr/bin/env bash
# Re-creates the sample recordings in recordings/: serves an example scenario, records a short
# client session through `tapedeck record`, and writes the JSONL export beside each file.
# Needs a built tapedeck (TAPEDECK_BIN) and Python `websockets`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TAPEDECK_BIN:-.build/debug/tapedeck}
PY=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

record() { # name scenario path client-script
  local name=$1 scenario=$2 path=$3 client=$4
  rm -f "$tmp/serve.out" "$tmp/serve.err" "$tmp/record.out" "$tmp/record.err"
  "$BIN" serve "$scenario" --port 0 --speed 10 --timeline per-connection >"$tmp/serve.out" 2>"$tmp/serve.err" &
  local serve_pid=$!
  until grep -q 'ws://' "$tmp/serve.out" 2>/dev/null; do sleep 0.1; done
  local upstream; upstream=$(grep -o 'ws://[0-9.:]*' "$tmp/serve.out" | head -1)
  rm -f "recordings/$name.sqlite" "recordings/$name.jsonl"
  "$BIN" record --upstream "$upstream$path" --listen 127.0.0.1:0 --out "recordings/$name.sqlite" \
    --profile "$(basename "$(dirname "$scenario")")" --tag sample --max-duration 20s >"$tmp/record.out" 2>"$tmp/record.err" &
  local record_pid=$!
  until grep -q 'listening on' "$tmp/record.out" 2>/dev/null; do sleep 0.1; done
  local proxy; proxy="ws://$(grep -o 'listening on [0-9.:]*' "$tmp/record.out" | head -1 | cut -d' ' -f3)"
  TOKEN=$("$BIN" token --user qa --squads platform) PROXY="$proxy" "$PY" "$client"
  kill -INT $record_pid; wait $record_pid || true
  kill -TERM $serve_pid; wait $serve_pid || true
  "$BIN" export "recordings/$name.sqlite" --format jsonl --out "recordings/$name.jsonl"
  echo "recorded recordings/$name.sqlite"
}

cat >"$tmp/ops_client.py" <<'PY'
import asyncio, json, os, websockets
async def main():
    headers = {"Authorization": "Bearer " + os.environ["TOKEN"]}
    async with websockets.connect(os.environ["PROXY"] + "/api/ws", additional_headers=headers) as ws:
        await ws.send(json.dumps({"action": "subscribe", "topics": ["incidents", "alerts"], "filters": {"environment": "production"}}))
        await ws.send(json.dumps({"action": "ping"}))
        await ws.send("not json")
        for _ in range(8):
            await asyncio.wait_for(ws.recv(), 10)
        await ws.close(4000, "sample done")
asyncio.run(main())
PY
cat >"$tmp/workitems_client.py" <<'PY'
import asyncio, os, sys, websockets
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
fds = descriptor_pb2.FileDescriptorSet()
fds.ParseFromString(open("protos/workitems.pb", "rb").read())
pool = descriptor_pool.DescriptorPool()
for fd in fds.file:
    pool.Add(fd)
WSM = message_factory.GetMessageClass(pool.FindMessageTypeByName("workitems.v1.WebSocketMessage"))
def frame(**kw):
    return json_format.ParseDict(kw, WSM()).SerializeToString()
async def main():
    headers = {"Authorization": "Bearer " + os.environ["WORKITEMS_TOKEN"]}
    async with websockets.connect(os.environ["PROXY"] + "/ws", additional_headers=headers) as ws:
        await ws.send(frame(messageId="sub-1", subscribe={"projectIds": ["project-1"], "sprintIds": ["sprint-5"]}))
        await ws.send(frame(messageId="ping-1", timestamp=1, ping={"timestamp": 1}))
        for _ in range(10):
            await asyncio.wait_for(ws.recv(), 10)
        await ws.close(1000, "sample done")
asyncio.run(main())
PY
export WORKITEMS_TOKEN=$("$BIN" token --tenant acme --user user-1)
record workitems-protobuf-sprint-day scenarios/workitems-protobuf/sprint-day.yaml /ws "$tmp/workitems_client.py"
cat >"$tmp/json_client.py" <<'PY'
# A generic JSON client: connect to PROXY+PATH with optional headers, send MESSAGES, read COUNT frames.
import asyncio, json, os, websockets
async def main():
    headers = json.loads(os.environ.get("HEADERS", "{}"))
    async with websockets.connect(os.environ["PROXY"] + os.environ["CLIENT_PATH"], additional_headers=headers) as ws:
        for m in json.loads(os.environ.get("MESSAGES", "[]")):
            await ws.send(json.dumps(m))
        for _ in range(int(os.environ.get("COUNT", "10"))):
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
                break
        await ws.close(1000, "sample done")
asyncio.run(main())
PY
JOBS_TOKEN=$("$BIN" token --tenant acme --user analyst)
CLIENT_PATH="/api/v1/ws?token=$JOBS_TOKEN" COUNT=12 \
  MESSAGES='[{"type":"subscribe_job_progress","payload":{"job_id":"job-7d-arserver"}},{"type":"subscribe_live_tail","payload":{"job_id":"job-7d-arserver","filters":{"log_types":["API","SQL"]}}},{"type":"ping"}]' \
  record jobs-live-tail-job-run scenarios/jobs-live-tail/job-run-with-live-tail.yaml /api/v1/ws "$tmp/json_client.py"
CLIENT_PATH="/v1/logs/stream?apiKey=api-key-123&query=level:ERROR&follow=true&history=true&limit=5" COUNT=10 \
  record neurallog-error-burst scenarios/neurallog/error-burst-with-notifications.yaml /v1/logs/stream "$tmp/json_client.py"
CLIENT_PATH="/ws" HEADERS='{"Cookie":"better-auth.session_token=sess-alice"}' COUNT=8 \
  MESSAGES='[{"type":"subscribe","channel":"jobs"},{"type":"ping"}]' \
  record unified-logs-user-session scenarios/unified-logs/user-log-session.yaml /ws "$tmp/json_client.py"
record ops-control-center-quick-check scenarios/ops-control-center/quick-check.yaml /api/ws "$tmp/ops_client.py"
