// The gate screen both gates draw (the Tauri gate's ui/, and the browser gate at /gate/,
// which embeds this file): times on the event's clock, the full-screen verdict, its sounds,
// the lists of recent scans and conflicts, the toast. A classic script: everything is on
// `window.GateScreen`. It decides nothing; it draws what the Rust code decided.
"use strict";

window.GateScreen = (() => {
  const $ = (id) => document.getElementById(id);
  // The full-screen verdict (readable at 2 m) and the toast: one markup for both gates.
  document.body.insertAdjacentHTML("beforeend", `
    <div id="verdict" hidden role="alert">
      <div id="verdict-icon" aria-hidden="true"></div>
      <div id="verdict-word"></div>
      <div id="verdict-reason" dir="auto"></div>
      <div id="verdict-entry"></div>
      <div id="verdict-warning" dir="auto"></div>
      <dl id="verdict-facts">
        <dt>Ticket</dt><dd id="verdict-type"></dd>
        <dt>Valid</dt><dd id="verdict-days"></dd>
        <dt>Holder</dt><dd id="verdict-holder" dir="auto"></dd>
        <dt id="verdict-detail-label" hidden>Vendor</dt><dd id="verdict-detail" dir="auto" hidden></dd>
      </dl>
      <div id="verdict-hint">Tap to continue</div>
    </div>

    <div id="toast" hidden role="status"></div>`);

  const screen = {
    // The event's IANA time zone, once known: times are shown on its wall clock.
    timezone: null,
    // Called when a verdict is dismissed (the page puts the focus back on its wedge input).
    onHide: () => {},
  };

  const pad = (n) => String(n).padStart(2, "0");
  // Times are shown on the event's wall clock (the reasons from the library use it too).
  function clock(iso) {
    const d = new Date(iso);
    const tz = screen.timezone;
    if (tz) {
      try {
        return d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz });
      } catch (_) { /* unknown zone name: fall back to the device's clock */ }
    }
    return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function ago(seconds) {
    if (seconds == null) return "—";
    if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
    return `${Math.round(seconds / 86400)} days`;
  }
  const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function day(dateStr) {
    // "2026-06-12" → "Fri 12 Jun" (event days are calendar dates: no time zone shift).
    const [y, m, d] = dateStr.split("-").map(Number);
    const dt = new Date(Date.UTC(y, m - 1, d));
    return `${WEEKDAYS[dt.getUTCDay()]} ${d} ${MONTHS[m - 1]}`;
  }
  function localTime(naive) {
    // The event's wall clock, as recorded: "2026-06-12T14:02:11.123" → "14:02".
    const t = (naive || "").split("T")[1] || "";
    return t.slice(0, 5);
  }

  // ---------- toast ----------
  let toastTimer = null;
  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 5000);
  }

  function renderRecent(list) {
    const ol = $("recent");
    ol.replaceChildren(...list.map((r) => {
      const li = document.createElement("li");
      li.className = r.verdict;
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = verdictWord(r);
      const what = document.createElement("span");
      what.textContent = r.verdict === "admit" ? [r.ticket_type, r.holder, r.detail].filter(Boolean).join(" · ") || r.message : r.message;
      const when = document.createElement("span");
      when.className = "when";
      when.textContent = clock(r.at);
      li.append(tag, what, when);
      return li;
    }));
  }

  function renderConflicts(list) {
    $("conflicts-title").hidden = list.length === 0;
    $("conflicts").replaceChildren(...list.slice(0, 10).map((c) => {
      const li = document.createElement("li");
      li.dataset.ticket = c.ticket_id ?? "";
      li.dataset.kind = c.kind || "double_entry";
      const first = c.first_gate ? ` — first at ${c.first_gate}${c.first_at ? " " + clock(c.first_at) : ""}${c.first_device ? " by " + c.first_device : ""}` : "";
      const what = {
        superseded_code: `an old code (replaced by a transfer or upgrade) was admitted at ${c.gate} ${clock(c.at)} by ${c.device}`,
        clock_skew: `admitted at ${c.gate} by ${c.device}, whose clock was more than 2 minutes off`,
      }[c.kind] || `admitted again at ${c.gate} ${clock(c.at)} by ${c.device}${first}`;
      li.textContent = `Ticket ${c.ticket_id ?? "?"}: ${what}`;
      return li;
    }));
  }

  let verdictTimer = null;
  function verdictWord(r) {
    // A scan the gate could not record has no verdict: nobody goes through on it.
    if (r.reason === "not_recorded") return "STOP";
    if (r.verdict === "warning") return "CHECK";
    if (r.verdict === "admit") return r.direction === "exit" ? "EXIT" : "ADMIT";
    return "REJECT";
  }
  function showVerdict(r) {
    const v = $("verdict");
    const admit = r.verdict === "admit";
    // "warning": let through and recorded, but not routine (an exit of a ticket not inside).
    v.className = r.verdict === "warning" ? "warning" : admit ? "admit" : "reject";
    // The codes, for whoever reads the page by machine (tests, screen readers' scripts).
    v.dataset.reason = r.reason || "";
    v.dataset.ticket = r.ticket_id == null ? "" : String(r.ticket_id);
    $("verdict-icon").textContent = r.verdict === "warning" ? "!" : admit ? "✓" : "✕";
    $("verdict-word").textContent = verdictWord(r);
    $("verdict-reason").textContent = r.message;
    // An admission with something staff should know ("the previous code of this ticket was
    // used at North Gate 21:08").
    const warning = r.warning && r.warning.message !== r.message ? r.warning.message : "";
    $("verdict-warning").textContent = warning;
    const e = r.first_entry;
    // The reason usually names the first entry already; say it only when it does not.
    const entry = e ? `First admitted ${localTime(e.local)} at ${e.gate} by ${e.device}` : "";
    $("verdict-entry").textContent = e && !(r.message.includes(e.gate) && r.message.includes(localTime(e.local))) ? entry : "";
    $("verdict-type").textContent = r.ticket_type || "—";
    $("verdict-days").textContent = r.days && r.days.length ? r.days.map(day).join(" · ") : "—";
    $("verdict-holder").textContent = r.holder || "—";
    // Vendor passes: business and booth ("Falafel King · Booth B-12").
    $("verdict-detail").textContent = r.detail || "";
    $("verdict-detail").hidden = $("verdict-detail-label").hidden = !r.detail;
    $("verdict-facts").hidden = !r.ticket_id;
    v.hidden = false;
    beep(admit);
    clearTimeout(verdictTimer);
    verdictTimer = setTimeout(hideVerdict, admit && !r.warning ? 2500 : 5000);
  }
  function hideVerdict() {
    clearTimeout(verdictTimer);
    $("verdict").hidden = true;
    screen.onHide();
  }
  $("verdict").addEventListener("click", hideVerdict);

  // Two rising notes for admit, a low double buzz for reject: told apart without looking.
  let audio = null;
  function beep(admit) {
    try {
      audio = audio || new AudioContext();
      const t = audio.currentTime;
      const notes = admit ? [[880, 0, 0.12], [1320, 0.13, 0.18]] : [[196, 0, 0.22], [196, 0.3, 0.3]];
      for (const [freq, start, len] of notes) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = admit ? "sine" : "square";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t + start);
        gain.gain.exponentialRampToValueAtTime(0.4, t + start + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + start + len);
        osc.connect(gain).connect(audio.destination);
        osc.start(t + start);
        osc.stop(t + start + len + 0.02);
      }
    } catch (_) { /* no audio device: the screen still says it */ }
  }

  return Object.assign(screen, {
    ago, beep, clock, day, hideVerdict, localTime, renderConflicts, renderRecent, showVerdict,
    toast, verdictWord,
  });
})();
