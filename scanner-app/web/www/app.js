// The browser gate's page: storage (IndexedDB), the network (fetch), the camera and the
// screen, around the Gate of tessera_gate_web. Every decision — verify, decide, what a sync
// page changes, what an upload carries — is made in that WebAssembly module by the same Rust
// code the native gate runs; this file only moves bytes and draws (ADR 0025).
import init, { Gate } from "./tessera_gate_web.js";

const $ = (id) => document.getElementById(id);
// The screen's drawing is the Tauri gate's own (screen.js, loaded before this module).
const { clock, renderConflicts, renderRecent, showVerdict, toast } = window.GateScreen;
GateScreen.onHide = () => focusWedge();
const DB_NAME = "tessera-gate";
const STORES = ["meta", "tickets", "check_ins", "queue"];
const SYNC_EVERY_MS = 10_000;
const SYNC_OFFLINE_MS = 20_000;
const MAX_PAGES = 2_000; // pull loop bound: 2,000 pages of 5,000 changes
const MAX_UPLOADS = 200; // push loop bound: 200 batches of 500 check-ins

const state = {
  gate: null,
  db: null,
  online: null, // null until the first round
  syncing: null, // the round running, if any
  lastSync: null,
  lastError: null,
  revoked: false,
  persisted: null,
  offlineReady: false,
  recent: [],
  // Scan-to-verdict times of the camera path (ms), newest last, and where each went (ms:
  // waiting for the frame's callback, reading its pixels, decoding, deciding, storing the
  // check-in); the benchmark reads them.
  timings: [],
  parts: [],
  // How long this load took (ms): reading the replica and queue back, and from the start
  // of the navigation to a working gate.
  startup: { restore_ms: null, ready_ms: null },
  // What pulling the feed has cost since this load (ms), by step; the benchmark reads it.
  pulled: { pages: 0, fetch_ms: 0, apply_ms: 0, store_ms: 0 },
  queue: Promise.resolve(),
  syncTimer: null,
  syncDue: null, // when the scheduled round starts (performance.now())
};
window.tesseraGate = state;

// ---------- storage ----------
function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      for (const name of STORES) {
        if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error("the gate is open in another tab: close it"));
  });
}

// One change, one transaction; resolves once it is committed ("strict": on disk, not only
// in the browser's buffers). The transaction spans only the stores it writes: a check-in
// (the queue) never waits behind a sync page's tickets being stored.
function store(writes) {
  const names = STORES.filter((name) => (writes[name] || []).length);
  if (!names.length) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const tx = state.db.transaction(names, "readwrite", { durability: "strict" });
    for (const name of names) {
      const os = tx.objectStore(name);
      for (const [key, value] of writes[name]) os.put(value, key);
    }
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error || new Error("the browser refused to store"));
    tx.onabort = () => reject(tx.error || new Error("the browser refused to store"));
  });
}

function readAll(tx, name) {
  return new Promise((resolve, reject) => {
    const os = tx.objectStore(name);
    const keys = os.getAllKeys();
    const values = os.getAll();
    values.onsuccess = () => resolve([keys.result, values.result]);
    values.onerror = () => reject(values.error);
  });
}

async function restore() {
  const tx = state.db.transaction(STORES, "readonly");
  const [[metaKeys, metaValues], [, tickets], [, checkIns], [, queue]] = await Promise.all(
    STORES.map((name) => readAll(tx, name)),
  );
  const g = state.gate;
  metaKeys.forEach((k, i) => g.restore_meta(String(k), metaValues[i]));
  g.restore_tickets(tickets.join("\n"));
  g.restore_check_ins(checkIns.join("\n"));
  g.restore_queue(queue.join("\n"));
  if (!g.device_id()) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    await store(JSON.parse(g.set_device_id(id)));
  }
}

// The browser may clear a site's storage under pressure unless it is persistent.
async function askPersistence() {
  if (!navigator.storage || !navigator.storage.persist) {
    state.persisted = false;
  } else {
    state.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  }
  const warn = $("storage-warning");
  warn.textContent = state.persisted ? "" :
    "This browser has not granted persistent storage: under storage pressure it may clear " +
    "the gate's check-ins before they are sent. Install the gate (Add to Home Screen / Install app) " +
    "and keep it syncing.";
  // Over plain http the secure-page warning says more (no offline use at all).
  warn.hidden = state.persisted || !window.isSecureContext;
}

// ---------- network ----------
async function api(method, path, body, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  const token = state.gate.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body != null) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch (_) {
    throw Object.assign(new Error("the server cannot be reached"), { offline: true });
  }
  if (!response.ok) {
    let err = {};
    try { err = await response.json(); } catch (_) { /* not JSON */ }
    throw Object.assign(new Error(err.message || `the server answered ${response.status}`), {
      code: err.error, status: response.status,
    });
  }
  return response;
}

// One round at a time: a round asked for while one runs is that round.
function syncOnce() {
  if (!state.syncing) {
    state.syncing = syncRound().finally(() => {
      state.syncing = null;
      render();
      // Check-ins scanned during a round that went through go out a second later, not
      // with the next regular round; after a failed one the regular pace holds.
      const more = state.online === true && !state.lastError && state.gate.unsent() > 0;
      scheduleSync(state.online === false ? SYNC_OFFLINE_MS : more ? 1000 : SYNC_EVERY_MS);
    });
    render();
  }
  return state.syncing;
}

async function syncRound() {
  const g = state.gate;
  const token = g.token();
  if (!token) return;
  try {
    // Push first: the server judges this gate's check-ins before it sends everyone's back.
    for (let i = 0; i < MAX_UPLOADS; i++) {
      const body = g.upload_request(Date.now());
      if (!body) break;
      const sent = Date.now();
      const answer = await (await api("POST", "/api/v1/sync/checkins", body)).text();
      await store(JSON.parse(g.apply_upload(answer, sent, Date.now())));
    }
    for (let i = 0; i < MAX_PAGES; i++) {
      const sent = Date.now();
      const t0 = performance.now();
      const page = await (await api("GET", `/api/v1/sync/changes?after=${g.cursor()}&limit=5000`, null, {
        "X-Device-Time": new Date(sent).toISOString(),
        "X-Device-Queued": String(g.unsent()),
      })).text();
      const t1 = performance.now();
      const applied = JSON.parse(g.apply_page(page, sent, Date.now()));
      const t2 = performance.now();
      await store(applied.writes);
      const p = state.pulled;
      p.pages += 1;
      p.fetch_ms += t1 - t0;
      p.apply_ms += t2 - t1;
      p.store_ms += performance.now() - t2;
      if (!$("setup").hidden) {
        $("enroll-msg").textContent = `Enrolled. Fetching the event… ${g.tickets().toLocaleString("en")} tickets so far.`;
      }
      if (!applied.more) break;
    }
    state.online = true;
    state.revoked = false;
    state.lastSync = Date.now();
    state.lastError = null;
  } catch (e) {
    // The gate enrolled again while this round ran: its refusal was the old token's.
    if (g.token() !== token) return;
    state.lastError = e.message;
    if (e.code === "device_revoked") {
      // As the native gate: names and details leave the replica; statuses and the queue stay.
      if (!state.revoked) await store(JSON.parse(g.forget_names())).catch((err) => toast(err.message));
      state.revoked = true;
    } else if (e.offline) {
      state.online = false;
    } else {
      toast(`Sync failed: ${e.message}`);
    }
  }
}

// Starts a round in `ms`. With `onlySooner`, a round already due earlier stays due: a gate
// scanning more often than once a second must not push its sync back for as long as the
// queue keeps coming.
function scheduleSync(ms, onlySooner = false) {
  const due = performance.now() + ms;
  if (onlySooner && state.syncDue !== null && state.syncDue <= due) return;
  clearTimeout(state.syncTimer);
  state.syncDue = due;
  state.syncTimer = setTimeout(() => {
    state.syncDue = null;
    syncOnce();
  }, ms);
}

window.addEventListener("online", () => scheduleSync(0));
window.addEventListener("offline", () => { state.online = false; render(); });
$("st-online").addEventListener("click", () => scheduleSync(0));

// ---------- enrollment ----------
function enrollmentCode(text) {
  try {
    const url = new URL(text.trim());
    if (url.pathname.endsWith("/enroll")) return url.searchParams.get("code");
  } catch (_) { /* not a link */ }
  return null;
}

const ENROLL_ERRORS = {
  bad_code: "That code is not known. Check it, or ask the organizer for a new one.",
  code_used: "That code was already used. Ask the organizer for a new one.",
  code_expired: "That code has expired. Ask the organizer for a new one.",
  device_enrolled: "This gate is already enrolled and active.",
};

// Enrolls with a one-time code: a new gate, or a gate the organizer revoked (the server
// refuses a code for a gate that is active: `device_enrolled`).
async function enroll(code) {
  const msg = $("enroll-msg");
  msg.className = "msg";
  msg.textContent = "Enrolling…";
  try {
    // A round under the old token finishes first (a revoked gate's round would wipe names).
    await state.syncing;
    const sent = Date.now();
    const body = state.gate.enroll_request(code, sent);
    const answer = await (await api("POST", "/api/v1/sync/enroll", body)).text();
    await store(JSON.parse(state.gate.apply_enrollment(answer, sent, Date.now())));
    state.revoked = false;
    msg.textContent = "Enrolled. Fetching the event…";
    askPersistence();
    await syncOnce();
    showGate();
  } catch (e) {
    msg.className = "msg error";
    msg.textContent = ENROLL_ERRORS[e.code] || e.message;
    if ($("setup").hidden) toast(msg.textContent);
  }
}

// An enrollment link opened in the gate's own tab.
window.addEventListener("hashchange", () => {
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (!code || !state.gate) return;
  history.replaceState(null, "", location.pathname);
  enroll(code);
});

$("enroll-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  enroll($("enroll-code").value);
});

// ---------- scanning ----------
// One scan at a time, in arrival order: each is decided, made durable, then shown.
// `frame` times a camera scan: when the frame was presented, and when its reading started,
// when its pixels were read and when it was decoded (performance.now()).
function scanText(text, source, frame = null) {
  const started = frame ? Math.min(frame.presented, frame.started) : performance.now();
  state.queue = state.queue.then(() => scanNow(text, source, started, frame)).catch((e) => toast(e.message));
  return state.queue;
}

async function scanNow(text, source, started, frame) {
  const g = state.gate;
  if (!text.trim()) return;
  const code = enrollmentCode(text);
  if (code) {
    await enroll(code);
    return;
  }
  if (!g.token() && !JSON.parse(g.status(Date.now())).event) {
    toast("Enroll this gate first.");
    return;
  }
  const deciding = performance.now();
  const pending = JSON.parse(g.scan(text, Date.now()));
  const decided = performance.now();
  try {
    await store({ queue: [pending.write] });
  } catch (e) {
    // Not stored, not decided: the gate never shows a verdict it could lose.
    g.abort();
    showProblem("This check-in could not be stored, so there is no verdict. Free some space " +
      `on this device or reload the gate. (${e.message})`);
    return;
  }
  g.commit();
  const stored = performance.now();
  const report = pending.report;
  report.source = source; // camera, wedge or manual
  report.latency_ms = stored - started;
  if (frame) {
    state.timings.push(report.latency_ms);
    state.parts.push({
      wait: frame.started - started, read: frame.read - frame.started,
      decode: frame.decoded - frame.read, queued: deciding - frame.decoded,
      decide: decided - deciding, store: stored - decided,
    });
    if (state.timings.length > 5000) state.timings.shift();
    if (state.parts.length > 5000) state.parts.shift();
  }
  showVerdict(report);
  state.recent.unshift(report);
  state.recent.length = Math.min(state.recent.length, 30);
  render();
  if (state.online !== false) scheduleSync(1000, true);
}

$("manual-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("manual-input");
  scanText(input.value, "manual");
  input.value = "";
});

// A keyboard-wedge scanner types fast and ends with Enter.
$("wedge").addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter") return;
  ev.preventDefault();
  const text = ev.target.value;
  ev.target.value = "";
  scanText(text, "wedge");
});
function focusWedge() {
  const active = document.activeElement;
  if ($("gate").hidden || (active && ["INPUT", "SELECT"].includes(active.tagName) && active.id !== "wedge")) return;
  $("wedge").focus({ preventScroll: true });
}
document.addEventListener("click", () => setTimeout(focusWedge, 0));

// ---------- camera ----------
// `frames`: whether the camera's frames are read through WebCodecs (null: not tried yet);
// `path`: how the last frame was read ("luma" or "canvas").
const camera = {
  stream: null, canvas: null, ctx: null, running: false, lastTime: -1, decodeMs: [],
  frames: null, buffer: null, path: null,
};
state.camera = camera;

async function startCamera(into) {
  const video = $("video");
  if (into !== video.parentElement) into.prepend(video);
  if (!camera.stream) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraProblem("No camera here", "This browser gives no camera to the page (it needs https). Use a scanner or type the code.");
      return;
    }
    try {
      camera.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        // The back camera on tablets and phones; 1280×720 where the camera offers it.
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      cameraProblem("The camera is not available", `${e.message}. Use a scanner or type the code.`);
      return;
    }
  }
  $("camera-problem").hidden = true;
  camera.frames = null;
  video.srcObject = camera.stream;
  await video.play().catch(() => {});
  if (!camera.running) {
    camera.running = true;
    nextFrame();
  }
}

// The frame on screen as its luma plane, straight from the camera's own planar YUV (WebCodecs
// VideoFrame): no canvas, no conversion to RGBA and back to grey. `null` where the browser
// has no VideoFrame or hands over the frame in another form (a GPU texture, RGB): the canvas
// reads that, and later frames go straight there.
const LUMA_FIRST = new Set(["I420", "I420A", "I422", "I444", "NV12"]);

async function lumaPlane(video) {
  if (camera.frames === false || typeof VideoFrame !== "function") return null;
  let frame;
  try {
    frame = new VideoFrame(video, { timestamp: 0 });
  } catch (_) {
    camera.frames = false;
    return null;
  }
  try {
    if (!LUMA_FIRST.has(frame.format)) {
      camera.frames = false;
      return null;
    }
    const size = frame.allocationSize();
    if (!camera.buffer || camera.buffer.length < size) camera.buffer = new Uint8Array(size);
    const [y] = await frame.copyTo(camera.buffer);
    const { width, height } = frame.visibleRect;
    camera.frames = true;
    return {
      plane: camera.buffer.subarray(y.offset, y.offset + y.stride * height),
      width, height, stride: y.stride,
    };
  } catch (_) {
    return null; // this frame by the canvas
  } finally {
    frame.close();
  }
}

function canvasPixels(video, w, h) {
  if (!camera.canvas || camera.canvas.width !== w || camera.canvas.height !== h) {
    camera.canvas = document.createElement("canvas");
    camera.canvas.width = w;
    camera.canvas.height = h;
    camera.ctx = camera.canvas.getContext("2d", { willReadFrequently: true });
  }
  camera.ctx.drawImage(video, 0, 0, w, h);
  return camera.ctx.getImageData(0, 0, w, h).data;
}

function cameraProblem(title, text) {
  const p = $("camera-problem");
  p.replaceChildren();
  const strong = document.createElement("strong");
  strong.textContent = title;
  p.append(strong, document.createTextNode(text));
  p.hidden = false;
}

// Each new camera frame as the browser presents it (requestVideoFrameCallback), timed from
// that moment: scan-to-verdict is frame presented → check-in stored → verdict drawn. Browsers
// without the callback poll every 30 ms and skip a frame already read.
function nextFrame() {
  const video = $("video");
  if (video.requestVideoFrameCallback) {
    video.requestVideoFrameCallback((_, meta) => readFrame(meta.presentationTime || performance.now()));
  } else {
    setTimeout(() => readFrame(performance.now()), 30);
  }
}

async function readFrame(presented) {
  const video = $("video");
  const w = video.videoWidth, h = video.videoHeight;
  try {
    if (w && h && video.currentTime !== camera.lastTime) {
      camera.lastTime = video.currentTime;
      const started = performance.now();
      const luma = await lumaPlane(video);
      let read, seen;
      if (luma) {
        read = performance.now();
        seen = JSON.parse(state.gate.frame_luma(luma.plane, luma.width, luma.height, luma.stride));
        camera.path = "luma";
      } else {
        const pixels = canvasPixels(video, w, h);
        read = performance.now();
        seen = JSON.parse(state.gate.frame(pixels, w, h));
        camera.path = "canvas";
      }
      const decoded = performance.now();
      const decodeMs = decoded - started;
      camera.decodeMs.push(decodeMs);
      if (camera.decodeMs.length > 5000) camera.decodeMs.shift();
      $("camera-stats").textContent = `${w}×${h} · ${decodeMs.toFixed(0)} ms` +
        (seen.kind === "guidance" ? ` · ${seen.message}` : "");
      if (seen.kind === "scan") await scanText(seen.text, "camera", { presented, started, read, decoded });
    }
  } catch (e) {
    $("camera-stats").textContent = e.message;
  }
  nextFrame();
}

// ---------- screen ----------
function showProblem(text) {
  showVerdict({ verdict: "reject", reason: "not_recorded", message: text, direction: "entry" });
}

function render() {
  if (!state.gate) return;
  const s = JSON.parse(state.gate.status(Date.now()));
  GateScreen.timezone = s.timezone;
  const pill = $("st-online");
  let offlineText = "";
  if (!state.gate.token()) {
    pill.dataset.state = "local"; pill.textContent = "Not enrolled";
  } else if (state.revoked) {
    pill.dataset.state = "offline"; pill.textContent = "Revoked";
    offlineText = "This gate was revoked by the organizer. Scanning goes on from its replica; " +
      "to enroll it again, show a new enrollment QR code to its camera or open the new enrollment link.";
  } else if (state.online === false) {
    pill.dataset.state = "offline"; pill.textContent = "OFFLINE";
    offlineText = `Offline — the server cannot be reached. Scanning continues from this gate's replica; ${s.unsent} check-in(s) wait to be sent.`;
  } else if (state.online === true) {
    pill.dataset.state = "online"; pill.textContent = state.syncing ? "Syncing…" : "Online";
  } else {
    pill.dataset.state = "unknown"; pill.textContent = state.syncing ? "Syncing…" : "Connecting…";
  }
  $("offline").textContent = offlineText;
  $("offline").hidden = !offlineText;
  $("st-gate").textContent = s.gate ? `${s.gate} · ${s.direction === "exit" ? "Exit" : "Entry"}` : "—";
  $("st-admitted").textContent = s.admitted_today;
  $("st-rejected").textContent = s.rejected_today;
  $("st-queue").textContent = s.unsent;
  $("st-sync").textContent = state.lastSync ? clock(new Date(state.lastSync).toISOString()) : "never";
  $("st-offline-ready").textContent = state.offlineReady ? "Ready"
    : "serviceWorker" in navigator ? "Not yet" : "Unavailable";
  document.body.dataset.unsent = String(s.unsent);
  document.body.dataset.online = String(state.online);

  const select = $("choose-gate");
  if (select.options.length !== s.gates.length) {
    select.replaceChildren(...s.gates.map((name) => new Option(name, name)));
  }
  if (s.gate) select.value = s.gate;
  for (const b of document.querySelectorAll("[data-direction]")) {
    b.setAttribute("aria-pressed", String(b.dataset.direction === s.direction));
  }
  for (const b of document.querySelectorAll("[data-language]")) {
    b.setAttribute("aria-pressed", String(b.dataset.language === s.language));
  }
  renderRecent(state.recent);
  renderConflicts(s.conflicts);
  $("device-line").textContent = s.device_name ? `This gate: ${s.device_name} · ${s.event || "no event yet"} · ${s.tickets} tickets` : "";
}

async function applySetting(writes) {
  try {
    await store(JSON.parse(writes));
  } catch (e) {
    toast(e.message);
  }
  render();
}
$("choose-gate").addEventListener("change", (ev) => applySetting(state.gate.set_gate(ev.target.value)));
for (const b of document.querySelectorAll("[data-direction]")) {
  b.addEventListener("click", () => applySetting(state.gate.set_direction(b.dataset.direction)));
}
for (const b of document.querySelectorAll("[data-language]")) {
  b.addEventListener("click", () => applySetting(state.gate.set_language(b.dataset.language)));
}

function showGate() {
  $("loading").hidden = true;
  $("setup").hidden = true;
  $("gate").hidden = false;
  render();
  startCamera($("camera-box"));
  focusWedge();
}

function showSetup() {
  $("loading").hidden = true;
  $("setup").hidden = false;
  $("gate").hidden = true;
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (code) {
    $("enroll-code").value = code;
    enroll(code);
  }
  startCamera($("setup-camera"));
}

// ---------- start ----------
// Two tabs would each hold the queue in memory and draw the same sequence numbers: the page
// holds a lock for its whole life and does not start without it. (A reload releases the
// old page's lock as it unloads: wait for it briefly.)
function holdTheGate() {
  if (!navigator.locks) return Promise.resolve();
  return new Promise((resolve, reject) => {
    navigator.locks.request("tessera-gate", { signal: AbortSignal.timeout(5000) }, () => {
      resolve();
      return new Promise(() => {}); // held until the page goes away
    }).catch((e) => reject(e && (e.name === "TimeoutError" || e.name === "AbortError")
      ? new Error("the gate is open in another tab or window of this browser: use that one")
      : e));
  });
}

// Browsers give the camera and the service worker only to secure pages: https, or the
// machine itself. Opened over plain http from another machine, the gate still decides and
// records, but cannot start offline or use the camera: say so, at once.
function warnIfInsecure() {
  if (window.isSecureContext) return;
  const warn = $("secure-warning");
  warn.textContent = `This gate was opened over plain http (${location.host}): browsers give ` +
    "such a page neither the camera nor offline use, so it stops working when the network goes. " +
    "Open it at the server's https address instead, as the organizer's enrollment link gives it.";
  warn.hidden = false;
}

async function start() {
  warnIfInsecure();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((e) => toast(`Offline use unavailable: ${e.message}`));
    navigator.serviceWorker.ready.then(() => {
      const mark = () => {
        state.offlineReady = Boolean(navigator.serviceWorker.controller);
        document.body.dataset.offlineReady = String(state.offlineReady);
        render();
      };
      mark();
      navigator.serviceWorker.addEventListener("controllerchange", mark);
    });
  }
  await holdTheGate();
  await init({ module_or_path: new URL("tessera_gate_web_bg.wasm", import.meta.url) });
  state.gate = new Gate();
  state.db = await openDb();
  // The browser closes the database itself only when it goes away (its data cleared, the
  // disk gone): nothing more can be recorded until the gate is loaded again.
  state.db.onclose = () => showProblem("The browser closed the gate's storage (its data may " +
    "have been cleared). Nothing can be recorded: reload the gate.");
  const restoring = performance.now();
  await restore();
  state.startup.restore_ms = performance.now() - restoring;
  if (state.gate.token()) {
    askPersistence();
    showGate();
    // An enrollment link opened on an enrolled gate: a revoked gate enrolls again with it.
    const code = new URLSearchParams(location.hash.slice(1)).get("code");
    history.replaceState(null, "", location.pathname);
    if (code) await enroll(code);
    else syncOnce();
  } else {
    showSetup();
  }
  state.startup.ready_ms = performance.now();
  document.body.dataset.ready = "yes";
}

start().catch((e) => {
  document.body.dataset.ready = "failed";
  $("loading").hidden = false;
  $("loading").textContent = `The gate could not start: ${e.message}`;
});
