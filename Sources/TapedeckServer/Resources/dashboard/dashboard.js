// Tapedeck dashboard: plain JS, no dependency, no build step. Everything it shows comes from the
// control API under /_tapedeck/ on this same origin. Data from the server and from recordings is
// only ever put in the page as text (textContent), never as HTML.
"use strict";

const API = "/_tapedeck";
const TOKEN_KEY = "tapedeck-control-token";
const WINDOW_SECONDS = 60;
const COLORS = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];

// A token in the URL fragment (#token=...) is kept for this tab only, and taken out of the address bar.
function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return false;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}
takeTokenFromFragment();
// A token added to the address of the open page (no reload) counts too.
window.addEventListener("hashchange", () => { if (takeTokenFromFragment()) { hideBanner(); poll(); } });

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, cls) {
  const tr = el("tr", null, cls);
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

// ---- the control API -------------------------------------------------------------------------

async function call(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (r.status === 401) needToken();
  if (!r.ok) {
    const err = new Error((data && data.message) || `${method} ${path}: HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  hideBanner();
  return data;
}

function needToken() {
  $("banner").hidden = false;
  $("banner-text").textContent = "This server's control API needs its token (--control-token).";
  $("token-form").hidden = false;
}

function showBanner(text) {
  $("banner").hidden = false;
  $("banner-text").textContent = text;
}

function hideBanner() {
  if ($("token-form").hidden) $("banner").hidden = true;
  else if (sessionStorage.getItem(TOKEN_KEY)) { $("token-form").hidden = true; $("banner").hidden = true; }
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  poll();
});

function show(result, isError) {
  const out = $("result");
  out.textContent = typeof result === "string" ? result : JSON.stringify(result);
  out.className = "result" + (isError ? " error" : "");
}

async function act(method, path, body) {
  try { show(await call(method, path, body), false); } catch (e) { show(e.message, true); }
  poll();
}

function parseJSON(text, what) {
  if (!text.trim()) return undefined;
  try { return JSON.parse(text); } catch (e) { throw new Error(`${what} is not valid JSON: ${e.message}`); }
}

// ---- controls ----------------------------------------------------------------------------------

$("pause").addEventListener("click", () => act("POST", "/timeline/pause"));
$("resume").addEventListener("click", () => act("POST", "/timeline/resume"));
$("set-speed").addEventListener("click", () => {
  const text = $("speed").value.trim();
  act("POST", "/timeline/speed", { speed: text === "max" ? "max" : Number(text) });
});
$("emit").addEventListener("click", () => {
  try {
    const body = { event: parseJSON($("emit-event").value, "the event") };
    const profile = $("emit-profile").value.trim();
    if (profile) body.profile = profile;
    const to = parseJSON($("emit-to").value, "'to'");
    if (to !== undefined) body.to = to;
    act("POST", "/emit", body);
  } catch (e) { show(e.message, true); }
});
$("fault").addEventListener("click", () => {
  try {
    const fields = parseJSON($("fault-fields").value, "the fields") || {};
    const body = Object.assign({}, fields, { kind: $("fault-kind").value });
    const to = parseJSON($("fault-to").value, "'to'");
    if (to !== undefined) body.to = to;
    act("POST", "/faults", body);
  } catch (e) { show(e.message, true); }
});
const FAULT_EXAMPLES = {
  close: '{"code": 1012, "reason": "service restart"}', reset: "{}", stall: '{"seconds": 5}',
  refuse_upgrades: '{"seconds": 30, "status": 503, "retry_after": 30}', drop: '{"percent": 50, "seconds": 10}',
  duplicate: '{"percent": 50, "seconds": 10}',
};
$("fault-kind").addEventListener("change", () => { $("fault-fields").value = FAULT_EXAMPLES[$("fault-kind").value] || "{}"; });

// ---- live view ---------------------------------------------------------------------------------

let lastEvent = 0;
let events = [];          // the feed's entries seen, oldest first, within the window
const streamColors = new Map();

function colorOf(key) {
  if (!streamColors.has(key)) streamColors.set(key, COLORS[streamColors.size % COLORS.length]);
  return streamColors.get(key);
}

function renderTimeline(t) {
  const state = $("state");
  state.textContent = t.paused ? "paused" : "running";
  state.className = "pill " + (t.paused ? "paused" : "running");
  $("scenario-time").textContent = t.scenario_time === null ? "not started" : t.scenario_time.toFixed(1) + " s";
  $("events-sent").textContent = t.events_sent;
  $("lag").textContent = Math.round(t.lag_seconds * 1000) + " ms";
  $("speed-now").textContent = t.speed === "max" ? "max" : t.speed + "×";
}

function renderConnections(list) {
  $("connection-count").textContent = list.length;
  $("connections-note").textContent = `(${list.length})`;
  const body = $("connections").tBodies[0];
  body.replaceChildren();
  if (list.length === 0) {
    const td = el("td", "No client is connected.", "muted");
    td.colSpan = 13;
    body.appendChild(row([td]));
    return;
  }
  for (const c of list) {
    const subs = (c.subscriptions || []).map((s) => s.key || (s.topics || []).join("+")).join(", ");
    const tr = row([c.id, c.path, c.profile, c.user ?? "", c.tenant ?? "", c.peer, subs || "–", c.queue_depth, c.messages_sent,
      c.messages_received, c.dropped, new Date(c.connected_since).toLocaleTimeString(), c.stalled ? "stalled" : ""]);
    tr.dataset.id = c.id;
    body.appendChild(tr);
  }
}

function renderEvents() {
  const body = $("events").tBodies[0];
  body.replaceChildren();
  for (const e of events.slice(-30).reverse()) {
    body.appendChild(row([e.seq, new Date(e.time_ms).toLocaleTimeString(), e.scenario_time.toFixed(3), e.stream, e.type ?? "", e.topic ?? "",
      e.profile ?? "", e.connections]));
  }
}

function canvasContext(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui, sans-serif";
  return ctx;
}

// A stacked bar per bucket: `buckets` is [{key: count}], `keys` their order.
function drawBars(canvas, buckets, keys, labelLeft, labelRight) {
  const ctx = canvasContext(canvas);
  const W = canvas.width, H = canvas.height, pad = 18;
  const totals = buckets.map((b) => keys.reduce((s, k) => s + (b[k] || 0), 0));
  const top = Math.max(1, ...totals);
  const w = (W - 40) / Math.max(1, buckets.length);
  ctx.fillStyle = "#6b7383";
  ctx.fillText(String(top) + "/bucket", 2, 11);
  if (labelLeft) ctx.fillText(labelLeft, 40, H - 4);
  if (labelRight) ctx.fillText(labelRight, W - ctx.measureText(labelRight).width - 4, H - 4);
  ctx.strokeStyle = "#e3e6eb";
  ctx.beginPath(); ctx.moveTo(38, H - pad); ctx.lineTo(W, H - pad); ctx.stroke();
  buckets.forEach((b, i) => {
    let y = H - pad;
    for (const k of keys) {
      const n = b[k] || 0;
      if (!n) continue;
      const h = (n / top) * (H - pad - 16);
      ctx.fillStyle = colorOf(k);
      ctx.fillRect(40 + i * w + 1, y - h, Math.max(1, w - 2), h);
      y -= h;
    }
  });
}

function drawLive() {
  const now = Date.now();
  const from = now - WINDOW_SECONDS * 1000;
  events = events.filter((e) => e.time_ms >= from);
  // Rate: one bucket per second, stacked by stream.
  const buckets = Array.from({ length: WINDOW_SECONDS }, () => ({}));
  const streams = [];
  for (const e of events) {
    const i = Math.min(WINDOW_SECONDS - 1, Math.floor((e.time_ms - from) / 1000));
    buckets[i][e.stream] = (buckets[i][e.stream] || 0) + 1;
    if (!streams.includes(e.stream)) streams.push(e.stream);
  }
  drawBars($("rate"), buckets, streams, "-60 s", "now");
  const legend = $("rate-legend");
  legend.replaceChildren();
  for (const s of streams) {
    const span = el("span", s);
    const dot = el("i");
    dot.style.background = colorOf(s);
    span.prepend(dot);
    legend.appendChild(span);
  }
  // Lanes: one per stream and type, a tick per event.
  const lanes = [];
  for (const e of events) {
    const key = e.stream + (e.type ? " · " + e.type : "");
    if (!lanes.includes(key)) lanes.push(key);
  }
  const canvas = $("lanes");
  const laneH = 18;
  canvas.height = Math.max(60, 20 + lanes.length * laneH);
  const ctx = canvasContext(canvas);
  const left = 180, W = canvas.width - left - 10;
  ctx.fillStyle = "#6b7383";
  if (lanes.length === 0) ctx.fillText("No event in the last 60 s.", 10, 30);
  lanes.forEach((key, i) => {
    const y = 14 + i * laneH;
    ctx.fillStyle = "#1d2330";
    ctx.fillText(key.length > 30 ? key.slice(0, 29) + "…" : key, 6, y + 4);
    ctx.strokeStyle = "#eef0f3";
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + W, y); ctx.stroke();
  });
  for (const e of events) {
    const key = e.stream + (e.type ? " · " + e.type : "");
    const y = 14 + lanes.indexOf(key) * laneH;
    const x = left + ((e.time_ms - from) / (WINDOW_SECONDS * 1000)) * W;
    ctx.fillStyle = colorOf(e.stream);
    ctx.fillRect(x - 1, y - 6, 3, 12);
  }
}

let polling = false;
async function poll() {
  if (polling || !$("recordings").hidden) return;
  polling = true;
  try {
    const [t, c, f] = await Promise.all([call("GET", "/timeline"), call("GET", "/connections"), call("GET", `/events?since=${lastEvent}`)]);
    renderTimeline(t);
    renderConnections(c.connections);
    if (f.last < lastEvent) events = [];   // another server on this address
    lastEvent = f.last;
    events.push(...f.events);
    renderEvents();
    drawLive();
    $("clock").textContent = new Date().toLocaleTimeString();
  } catch (e) {
    if (e.status !== 401) {
      showBanner("Cannot reach the control API: " + e.message);
      const state = $("state");
      state.textContent = "unreachable";
      state.className = "pill down";
    }
  } finally {
    polling = false;
  }
}

// ---- recordings --------------------------------------------------------------------------------

let openRecording = null;
let openConnection = null;
let nextFrame = null;
let loadedFrames = [];

async function listRecordings() {
  const list = $("recording-list");
  try {
    const r = await call("GET", "/recordings");
    list.replaceChildren();
    $("recordings-note").textContent = r.recordings.length === 0
      ? "No recording to open: start serve with --record FILE, or --recordings DIR."
      : (r.directory ? `From ${r.directory}` : "") ;
    for (const item of r.recordings) {
      const b = el("button", item.name);
      b.type = "button";
      b.dataset.name = item.name;
      if (item.live) b.appendChild(el("span", "being recorded", "badge"));
      if (item.bytes !== null) b.appendChild(el("span", ` ${(item.bytes / 1024).toFixed(0)} KiB`, "muted"));
      b.addEventListener("click", () => showRecording(item.name));
      list.appendChild(el("li")).appendChild(b);
    }
  } catch (e) {
    $("recordings-note").textContent = e.message;
  }
}

async function showRecording(name) {
  openRecording = name;
  for (const b of $("recording-list").querySelectorAll("button")) b.classList.toggle("selected", b.dataset.name === name);
  try {
    const s = await call("GET", `/recordings/${encodeURIComponent(name)}?buckets=60`);
    $("recording-view").hidden = false;
    $("recording-title").textContent = name;
    $("recording-meta").textContent = [s.scenario && `scenario ${s.scenario}`, s.profile && `profile ${s.profile}`,
      `${s.frames} frames`, `${s.connections.length} connections`, `${(s.duration_ms / 1000).toFixed(1)} s`].filter(Boolean).join(" · ");
    const span = s.duration_ms / 1000;
    drawBars($("recording-rate"), s.rate.map((n) => ({ frames: n })), ["frames"], "0 s", `${span.toFixed(1)} s`);
    const body = $("recording-connections").tBodies[0];
    body.replaceChildren();
    for (const c of s.connections) {
      const close = [c.client_close_code && `client ${c.client_close_code}`, c.server_close_code && `server ${c.server_close_code}`].filter(Boolean).join(", ");
      const tr = row([c.id, c.path, c.peer ?? "", c.upgrade_status ?? "", c.frames_c2s, c.frames_s2c, close,
        c.duration_ms === null ? "open" : `${(c.duration_ms / 1000).toFixed(1)} s`], "clickable");
      tr.dataset.id = c.id;
      tr.addEventListener("click", () => showConnection(c.id));
      body.appendChild(tr);
    }
    if (s.connections.length > 0) await showConnection(s.connections[0].id);
    else $("sequence-view").hidden = true;
  } catch (e) {
    $("recording-view").hidden = false;
    $("recording-title").textContent = name;
    $("recording-meta").textContent = e.message;
  }
}

async function showConnection(id) {
  openConnection = id;
  nextFrame = 0;
  loadedFrames = [];
  for (const tr of $("recording-connections").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.id === String(id));
  $("frames").tBodies[0].replaceChildren();
  $("sequence-view").hidden = false;
  $("sequence-title").textContent = `Connection ${id}: frames in both directions`;
  await moreFrames();
}

async function moreFrames() {
  if (nextFrame === null) return;
  const name = encodeURIComponent(openRecording);
  try {
    const page = await call("GET", `/recordings/${name}/connections/${openConnection}/frames?after=${nextFrame}&limit=500`);
    nextFrame = page.next;
    loadedFrames.push(...page.frames);
    const body = $("frames").tBodies[0];
    for (const f of page.frames) {
      const message = f.decoded !== null && f.opcode !== "text" ? JSON.stringify(f.decoded) : (f.text ?? "");
      const dir = f.direction === "c2s" ? "client → server" : "server → client";
      const tr = row([f.seq, `${(f.offset_ms / 1000).toFixed(3)} s`, el("td", dir, "dir"), f.opcode, f.bytes, el("td", message, "message")], f.direction);
      body.appendChild(tr);
    }
    $("more-frames").hidden = nextFrame === null;
    drawConnectionRate();
  } catch (e) {
    $("sequence-title").textContent = e.message;
  }
}

function drawConnectionRate() {
  if (loadedFrames.length === 0) { drawBars($("connection-rate"), [], [], "", ""); return; }
  const first = loadedFrames[0].offset_ms, last = loadedFrames[loadedFrames.length - 1].offset_ms;
  const n = 60, span = Math.max(1, last - first);
  const buckets = Array.from({ length: n }, () => ({}));
  for (const f of loadedFrames) {
    const i = Math.min(n - 1, Math.floor(((f.offset_ms - first) / span) * n));
    buckets[i][f.direction] = (buckets[i][f.direction] || 0) + 1;
  }
  streamColors.set("c2s", "#2563eb");
  streamColors.set("s2c", "#16a34a");
  drawBars($("connection-rate"), buckets, ["s2c", "c2s"], `${(first / 1000).toFixed(1)} s`, `${(last / 1000).toFixed(1)} s (blue: client → server, green: server → client)`);
}

$("more-frames").addEventListener("click", moreFrames);
$("refresh-recordings").addEventListener("click", listRecordings);

// ---- tabs and start ----------------------------------------------------------------------------

function selectTab(name) {
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === name);
  $("live").hidden = name !== "live";
  $("recordings").hidden = name !== "recordings";
  if (name === "recordings") listRecordings(); else poll();
}
for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => selectTab(b.dataset.tab));

call("GET", "/version").then((v) => { $("version").textContent = "v" + v.version; }).catch(() => {});
poll();
setInterval(poll, 1000);
