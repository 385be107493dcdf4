#!/usr/bin/env node
// Peer: a Node `ws` broadcast server doing the job of bench/broadcast.yaml (Debian's node-ws:
// NODE_PATH=/usr/share/nodejs node bench/peers/ws_server.js --port 9001 --rate 1000 | --max).
//
// At --rate events/s (or --max: as fast as every client's buffered amount drains), from the first connection
// on, sends the ~200-byte JSON message of bench/peers/message.py to every connected client.
// `t` is process.hrtime.bigint() (libuv's uv_hrtime: CLOCK_MONOTONIC), stamped once per event.
'use strict';
const WebSocket = require('ws');

const args = { host: '127.0.0.1', port: 9001, rate: 1000, max: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--max') args.max = true;
  else if (a === '--host') args.host = process.argv[++i];
  else if (a === '--port') args.port = Number(process.argv[++i]);
  else if (a === '--rate') args.rate = Number(process.argv[++i]);
}
const HIGH_WATER = 256 * 1024;

function make(seq, st) {
  return JSON.stringify({
    type: 'metric', action: 'updated',
    data: { seq, t: Number(process.hrtime.bigint()), st, metric_name: 'cpu_usage', host: 'web-01', value: 57.3, unit: 'percent' },
    timestamp: new Date().toISOString(),
  });
}

const wss = new WebSocket.Server({ host: args.host, port: args.port, perMessageDeflate: false });
let started = false;
function broadcast(msg) {
  for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(msg);
}
function now() { return Number(process.hrtime.bigint()) / 1e9; }

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  if (started) return;
  started = true;
  const start = now();
  let k = 0;
  if (args.max) {
    const pump = () => {
      for (let i = 0; i < 16; i++) { broadcast(make(k + 1, now() - start)); k++; }
      let full = false;
      for (const c of wss.clients) if (c.bufferedAmount > HIGH_WATER) { full = true; break; }
      if (full) setTimeout(pump, 1); else setImmediate(pump);
    };
    pump();
  } else if (args.rate > 0) {
    const tick = () => {
      const due = Math.floor((now() - start) * args.rate) + 1;
      while (k < due) { broadcast(make(k + 1, k / args.rate)); k++; }
      setTimeout(tick, Math.max(0, (start + k / args.rate - now()) * 1000));
    };
    tick();
  }
});
wss.on('listening', () => console.log(`listening on ws://${args.host}:${args.port}`));
