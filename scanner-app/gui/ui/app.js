// Tessera gate screen. Plain JS over the Tauri commands (see src/commands.rs); no build step.
// The screen decides nothing: every verdict comes from the Rust library, as a "scan" event.
"use strict";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;
const $ = (id) => document.getElementById(id);
const { ago, clock, renderConflicts, renderRecent, showVerdict, toast } = window.GateScreen;
GateScreen.onHide = () => focusWedge();

const state = {
  status: null,
  screen: null,         // "setup" | "gate"
  started: false,       // the gate screen was entered (gate and camera chosen)
  cameraId: localStorage.getItem("tessera.camera") || "",
  stream: null,
  stats: { grabMs: 0, ipcMs: 0, decodeMs: 0, decodes: 0, previewFrames: 0, since: performance.now(), fps: 0, decodeFps: 0 },
};

// ---------- status ----------
function render(status) {
  // A status computed before the one on screen (a late event, a slow answer) is stale.
  if (state.status && status.generation < state.status.generation) return;
  state.status = status;
  GateScreen.timezone = status.timezone || null;
  const sync = status.sync || {};
  const link = status.link || {};
  const pill = $("st-online");
  let offlineText = "";
  if (!sync.enrolled) {
    pill.dataset.state = "local"; pill.textContent = "Not enrolled";
  } else if (sync.revoked) {
    pill.dataset.state = "offline"; pill.textContent = "Revoked";
    offlineText = "This device was revoked by the organizer. Scanning still works from the local replica; enroll it again with a new code.";
  } else if (link.online === false || (link.online == null && sync.last_error)) {
    pill.dataset.state = "offline"; pill.textContent = "OFFLINE";
    offlineText = `Offline — the server cannot be reached. Scanning continues from this device's replica (data ${ago(status.replica_age_seconds)} old); ${status.check_ins.unsent} check-in(s) wait to be sent.`;
  } else if (link.online === true) {
    pill.dataset.state = "online"; pill.textContent = link.syncing ? "Syncing…" : "Online";
  } else {
    pill.dataset.state = "unknown"; pill.textContent = link.syncing ? "Syncing…" : "Connecting…";
  }
  const banner = $("offline");
  banner.textContent = offlineText;
  banner.hidden = !offlineText;
  // A clock more than two minutes off the server's: scans use the server's time, but staff
  // should set the clock right.
  // The venue mesh: how many gates this one is in touch with directly.
  const mesh = status.mesh || {};
  const meshCell = $("st-mesh");
  meshCell.textContent = mesh.listening ? String(mesh.in_touch) : "—";
  meshCell.title = mesh.problem
    || (mesh.peers || []).map((p) => `${p.name} (${p.address})`).join(", ")
    || "no other gate in touch";
  const clockText = (status.clock && status.clock.warning) || "";
  $("clock-warning").textContent = clockText;
  $("clock-warning").hidden = !clockText;

  $("st-gate").textContent = status.gate ? `${status.gate} · ${status.direction === "exit" ? "Exit" : "Entry"}` : "—";
  $("st-admitted").textContent = status.today ? status.today.admitted : 0;
  $("st-rejected").textContent = status.today ? status.today.rejected : 0;
  $("st-queue").textContent = status.check_ins.unsent;
  $("st-sync").textContent = sync.last_sync_at ? `${clock(sync.last_sync_at)} (${ago((Date.now() - Date.parse(sync.last_sync_at)) / 1000)} ago)` : "never";
  $("st-age").textContent = ago(status.replica_age_seconds);

  for (const b of document.querySelectorAll("[data-language]")) {
    b.setAttribute("aria-pressed", String(b.dataset.language === status.language));
  }
  for (const b of document.querySelectorAll("[data-direction]")) {
    b.setAttribute("aria-pressed", String(b.dataset.direction === status.direction));
  }
  // An enrollment QR code the camera read before this page was listening.
  if (status.enrollment_link && !sync.enrolled) enrollFromQr(status.enrollment_link);
  renderRecent(status.recent || []);
  renderConflicts(status.conflicts || []);
  if (status.camera && status.camera.feed === "replay" && status.camera.error) {
    showCameraProblem("The replayed camera has no frames", status.camera.error);
  }
  route();
}

async function refresh() {
  try {
    render(await invoke("status"));
  } catch (e) {
    toast(e.message || String(e));
  }
}

// ---------- screens ----------
function route() {
  const s = state.status;
  const ready = s && s.event && s.device;
  const want = ready && state.started ? "gate" : "setup";
  $("enroll-part").hidden = !!ready;
  $("choose-part").hidden = !ready;
  if (ready) {
    $("choose-event").textContent = `${s.event} — this device is ${s.device.name}.`;
    const sel = $("choose-gate");
    if (sel.options.length !== s.gates.length) {
      sel.replaceChildren(...s.gates.map((g) => new Option(g, g)));
    }
    if (document.activeElement !== sel) sel.value = s.gate || "";
  }
  if (want === state.screen) return;
  state.screen = want;
  $("setup").hidden = want !== "setup";
  $("gate").hidden = want !== "gate";
  // One camera box: in the gate screen, or under the enrollment form to read its QR code.
  if (want === "gate") {
    $("gate").prepend($("camera-box"));
    startFeed(false);
  } else if (!ready) {
    $("setup-camera").append($("camera-box"));
    startFeed(true);
  } else {
    $("gate").prepend($("camera-box"));
    stopFeed();
  }
  focusWedge();
}

// Tapping the online/offline pill syncs now instead of at the next round.
$("st-online").addEventListener("click", () => {
  invoke("sync_now").then(() => toast("Syncing with the server…"), (e) => toast(e.message || String(e)));
});

$("btn-settings").addEventListener("click", () => {
  state.started = false;
  listCameras();
  route();
});

$("start").addEventListener("click", async () => {
  state.cameraId = $("choose-camera").value;
  localStorage.setItem("tessera.camera", state.cameraId);
  try {
    render(await invoke("set_gate", { name: $("choose-gate").value || null, direction: null }));
  } catch (e) { toast(e.message); return; }
  state.started = true;
  stopCamera();
  route();
});

for (const b of document.querySelectorAll("[data-direction]")) {
  b.addEventListener("click", async () => {
    try { render(await invoke("set_gate", { name: null, direction: b.dataset.direction })); }
    catch (e) { toast(e.message); }
    focusWedge();
  });
}

// The verdicts' words in English or Arabic (a gate setting); ADMIT/REJECT, the colour and
// the symbol stay as they are.
for (const b of document.querySelectorAll("[data-language]")) {
  b.addEventListener("click", async () => {
    try { render(await invoke("set_language", { language: b.dataset.language })); }
    catch (e) { toast(e.message); }
    focusWedge();
  });
}

// ---------- enrollment ----------
async function enroll(server, code) {
  const msg = $("enroll-msg");
  msg.className = "msg";
  msg.textContent = "Enrolling and downloading the event…";
  $("enroll-go").disabled = true;
  try {
    render(await invoke("enroll", { server, code }));
    msg.textContent = "";
    listCameras();
  } catch (e) {
    msg.className = "msg error";
    msg.textContent = e.message || String(e);
  } finally {
    $("enroll-go").disabled = false;
  }
}
$("enroll-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  enroll($("enroll-server").value.trim(), $("enroll-code").value.trim());
});

async function scanText(text) {
  if (!text.trim()) return;
  try { await invoke("scan_text", { text }); }
  catch (e) { toast(e.message || String(e)); }
}

function onSeen(seen) {
  if (seen.kind === "scan") {
    if (state.screen === "gate") showVerdict(seen.report);
  } else if (seen.kind === "enrollment") {
    const s = state.status;
    if (s && s.sync && s.sync.enrolled && s.event) {
      toast("This device is already enrolled.");
    } else {
      enrollFromQr(seen);
    }
  }
}

// Each code is tried once: a refused code stays refused, and the message says why.
function enrollFromQr(link) {
  if (state.triedCode === link.code) return;
  state.triedCode = link.code;
  $("enroll-server").value = link.server;
  $("enroll-code").value = link.code;
  enroll(link.server, link.code);
}

// ---------- keyboard wedge and manual entry ----------
function focusWedge() {
  if (state.screen !== "gate") return;
  const a = document.activeElement;
  if (a && a !== document.body && a.id !== "wedge" && (a.tagName === "INPUT" || a.tagName === "SELECT")) return;
  $("wedge").focus({ preventScroll: true });
}
$("wedge").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter") {
    ev.preventDefault();
    const text = $("wedge").value;
    $("wedge").value = "";
    scanText(text);
  }
});
$("wedge").addEventListener("blur", () => setTimeout(focusWedge, 0));
document.addEventListener("click", () => setTimeout(focusWedge, 0));
$("manual-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("manual-input");
  const text = input.value;
  input.value = "";
  input.blur();
  scanText(text);
});

// ---------- camera ----------
function showCameraProblem(title, detail) {
  const p = $("camera-problem");
  p.replaceChildren();
  const s = document.createElement("strong");
  s.textContent = title;
  const d = document.createElement("span");
  d.textContent = detail;
  const hint = document.createElement("span");
  hint.textContent = " You can still scan with a USB scanner or type the code on the right.";
  p.append(s, d, hint);
  p.hidden = false;
  invoke("camera_error", { message: `${title}: ${detail}` }).catch(() => {});
}
function clearCameraProblem() {
  $("camera-problem").hidden = true;
  invoke("camera_error", { message: null }).catch(() => {});
}

function explain(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return ["Camera access was refused", "Allow this app to use the camera in the system settings, then open Settings ⚙ and press Start scanning."];
    case "NotFoundError":
    case "OverconstrainedError":
      return ["No camera found", "Plug in a camera (or choose another one in Settings ⚙)."];
    case "NotReadableError":
    case "AbortError":
      return ["The camera is busy", "Another program is using it: close that program, then press Start scanning again."];
    default:
      return ["The camera could not start", String((err && err.message) || err)];
  }
}

async function listCameras() {
  const sel = $("choose-camera");
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const cams = devices.filter((d) => d.kind === "videoinput");
    sel.replaceChildren(new Option(cams.length ? "Default camera" : "No camera found — USB scanner and typing only", ""),
      ...cams.map((c, i) => new Option(c.label || `Camera ${i + 1}`, c.deviceId)));
    sel.value = cams.some((c) => c.deviceId === state.cameraId) ? state.cameraId : "";
  } catch (_) {
    sel.replaceChildren(new Option("Camera list unavailable", ""));
  }
}

function stopCamera() {
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
}

async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw Object.assign(new Error("This window has no camera support."), { name: "NotFoundError" });
  }
  const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
  if (state.cameraId) video.deviceId = { exact: state.cameraId };
  return navigator.mediaDevices.getUserMedia({ video, audio: false });
}

// `quiet`: on the setup screen the camera only looks for an enrollment QR code, and a
// missing camera is no news there (the form works without one).
function startFeed(quiet) {
  if (state.status && state.status.camera.feed === "replay") startReplayPreview();
  else startWebviewCamera(quiet);
}
function stopFeed() {
  loopToken++;
  stopCamera();
}

let loopToken = 0;
async function startWebviewCamera(quiet) {
  const token = ++loopToken;
  stopCamera();
  const video = $("video");
  video.hidden = false;
  $("replay-view").hidden = true;
  try {
    state.stream = await openCamera();
  } catch (err) {
    if (!quiet) showCameraProblem(...explain(err));
    return;
  }
  clearCameraProblem();
  video.srcObject = state.stream;
  try { await video.play(); } catch (_) { /* autoplay: muted video plays */ }
  countPreviewFrames(video, token);
  decodeLoop(video, token);
}

function countPreviewFrames(video, token) {
  if (!video.requestVideoFrameCallback) return;
  const tick = () => {
    if (token !== loopToken) return;
    state.stats.previewFrames++;
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
}

// Grab → grayscale → Rust decoder, at most 15 times a second, one frame in flight: the
// preview (the <video> element) never waits for the decoder, and the decoder never queues.
const DECODE_EVERY_MS = 66;
const MAX_SIDE = 640;
const grab = document.createElement("canvas");
const grabCtx = grab.getContext("2d", { willReadFrequently: true });
async function decodeLoop(video, token) {
  while (token === loopToken) {
    const t0 = performance.now();
    if (video.videoWidth > 0 && video.readyState >= 2) {
      const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
      const w = Math.round(video.videoWidth * scale), h = Math.round(video.videoHeight * scale);
      if (grab.width !== w || grab.height !== h) { grab.width = w; grab.height = h; }
      grabCtx.drawImage(video, 0, 0, w, h);
      const rgba = grabCtx.getImageData(0, 0, w, h).data;
      const gray = new Uint8Array(w * h);
      for (let i = 0, j = 0; j < gray.length; i += 4, j++) {
        gray[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
      }
      const t1 = performance.now();
      try {
        const res = await invoke("decode_frame", gray, { headers: { "x-frame-width": String(w), "x-frame-height": String(h) } });
        const t2 = performance.now();
        // ipc: the round trip less the decoder's own time.
        note(t1 - t0, t2 - t1 - res.decode_us / 1000, res.decode_us / 1000);
      } catch (e) {
        showCameraProblem("The decoder failed", e.message || String(e));
        return;
      }
    }
    const spent = performance.now() - t0;
    await new Promise((r) => setTimeout(r, Math.max(0, DECODE_EVERY_MS - spent)));
  }
}

function note(grabMs, ipcMs, decodeMs) {
  const s = state.stats;
  const k = s.decodes === 0 ? 1 : 1 / 16;
  s.grabMs += (grabMs - s.grabMs) * k;
  s.ipcMs += (ipcMs - s.ipcMs) * k;
  s.decodeMs += (decodeMs - s.decodeMs) * k;
  s.decodes++;
}

// Replayed frames: the Rust side decodes them; the screen only shows the latest.
async function startReplayPreview() {
  const token = ++loopToken;
  stopCamera();
  $("video").hidden = true;
  const canvas = $("replay-view");
  canvas.hidden = false;
  const ctx = canvas.getContext("2d");
  let after = 0;
  let img = null, rgba = null;
  while (token === loopToken) {
    const t0 = performance.now();
    try {
      const buf = await invoke("preview_frame", { after });
      const t1 = performance.now();
      if (buf && buf.byteLength > 16) {
        const head = new DataView(buf, 0, 16);
        after = Number(head.getBigUint64(0, true));
        const w = head.getUint32(8, true), h = head.getUint32(12, true);
        const px = new Uint8Array(buf, 16);
        if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
        if (!img || img.width !== w || img.height !== h) {
          img = ctx.createImageData(w, h);
          rgba = new Uint32Array(img.data.buffer);
        }
        // One 32-bit store per pixel (little-endian RGBA: alpha in the top byte).
        for (let i = 0; i < px.length; i++) {
          const v = px[i];
          rgba[i] = 0xff000000 | (v << 16) | (v << 8) | v;
        }
        ctx.putImageData(img, 0, 0);
        state.stats.previewFrames++;
        // grab: gray → RGBA and draw; ipc: fetching the frame from Rust.
        note(performance.now() - t1, t1 - t0, state.status ? state.status.camera.decode_ms : 0);
        if (!(state.status && state.status.camera.error)) $("camera-problem").hidden = true;
      }
    } catch (e) {
      showCameraProblem("The replayed camera stopped", e.message || String(e));
    }
    const spent = performance.now() - t0;
    await new Promise((r) => setTimeout(r, Math.max(0, DECODE_EVERY_MS - spent)));
  }
}

// Camera numbers, for support and for docs/adr/0009-gui-camera-path.md.
setInterval(() => {
  const s = state.stats;
  const now = performance.now();
  const secs = (now - s.since) / 1000;
  s.fps = s.previewFrames / secs;
  s.decodeFps = s.decodes / secs;
  s.previewFrames = 0; s.decodes = 0; s.since = now;
  const el = $("camera-stats");
  const replay = state.status && state.status.camera.feed === "replay";
  el.textContent = replay
    ? `replayed frames · preview ${s.fps.toFixed(0)} fps · fetch ${s.ipcMs.toFixed(1)} ms · draw ${s.grabMs.toFixed(1)} ms · decode ${s.decodeMs.toFixed(1)} ms (Rust)`
    : `preview ${s.fps.toFixed(0)} fps · decoding ${s.decodeFps.toFixed(0)}/s · grab ${s.grabMs.toFixed(1)} ms · ipc ${s.ipcMs.toFixed(1)} ms · decode ${s.decodeMs.toFixed(1)} ms`;
  el.dataset.fps = s.fps.toFixed(1);
  el.dataset.decodeFps = s.decodeFps.toFixed(1);
  el.dataset.grabMs = s.grabMs.toFixed(2);
  el.dataset.ipcMs = s.ipcMs.toFixed(2);
  el.dataset.decodeMs = s.decodeMs.toFixed(2);
}, 2000);

// ---------- start ----------
listen("status", (ev) => render(ev.payload));
listen("scan", (ev) => onSeen(ev.payload));
listen("sync-progress", (ev) => {
  const [cursor, head] = ev.payload;
  if (state.screen === "setup" && head > 0) $("enroll-msg").textContent = `Downloading the event… ${Math.floor((cursor * 100) / head)} %`;
});
// The status bar's ages move even when nothing happens.
setInterval(refresh, 5000);
(async () => {
  await refresh();
  const s = state.status;
  // A device that is already set up goes straight to scanning.
  if (s && s.event && s.device) { state.started = true; route(); }
  listCameras();
})();
