//! The browser gate (`/gate/`, ADR 0025) in headless Chromium, its camera a fake device fed
//! from a `.y4m` video of photographed tickets: enroll and sync; switch the tablet off; start
//! it again with no network (DevTools' offline) and the camera on a ticket: admitted, then
//! refused as `already_admitted`; reload, still offline: remembered; back online: the
//! check-ins reach the server exactly once; a native gate then refuses the ticket. And the
//! conflict: a browser gate enrolled by showing it the enrollment QR code and a native gate,
//! both offline, admit the same ticket (the browser's from a keyboard-wedge scanner); after
//! sync both show it. A gate opened over plain http from another machine says it needs
//! https, and still decides. A gate that scans without a pause still sends its check-ins. Screenshots of each step are saved under the test's target dir.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_tests::gate_page::{
    camera_args, enroll, photo, status, wait_ready, wait_status, write_y4m,
};
use tessera_tests::webdriver::{self, Browser, Launch};
use tessera_tests::{Db, Device, Server};

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/browser_gate")
}

/// A browser of its own whose fake camera plays `video` (1280×800 window, screenshots under
/// [`shots_dir`]).
fn camera_browser(video: &Path) -> Browser {
    let args = camera_args(video);
    Browser::start_with(
        1280,
        800,
        shots_dir(),
        &Launch {
            args: &args,
            ..Launch::default()
        },
    )
}

/// The verdicts on the screen's list of recent scans, newest first: (verdict, reason, ticket).
fn recent(b: &Browser) -> Vec<(String, String, String)> {
    let list = b.js(
        "return window.tesseraGate.recent.map(r => [r.verdict, r.reason || '', r.ticket_id || ''])",
    );
    list.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

/// The server's check-ins of the device `device_id`: (seq, ticket, admitted).
fn server_check_ins(server: &Server, device_id: &str) -> Vec<(i64, Option<i64>, bool)> {
    server
        .block_on(server.state.store.event_check_ins(server.demo_event()))
        .unwrap_or_else(|e| panic!("check-ins: {e}"))
        .into_iter()
        .filter(|c| c.device_id == device_id)
        .map(|c| (c.seq, c.ticket_id, c.admitted))
        .collect()
}

#[test]
fn the_browser_gate_decides_offline_remembers_across_reloads_and_syncs_exactly_once() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let tickets = server.buy(2);
    let (a_id, a_code) = &tickets[0];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let profile = dir.path().join("profile");
    let video = dir.path().join("camera.y4m");
    let args = camera_args(&video);
    let launch = Launch {
        profile: Some(&profile),
        args: &args,
        ..Launch::default()
    };
    let shots = shots_dir();

    // 1. Enroll and sync, the camera on an empty table.
    write_y4m(&video, &[photo(None, 0.0, 1), photo(None, 0.0, 2)], 5);
    let device_id = {
        let b = Browser::start_with(1280, 800, shots.clone(), &launch);
        let code = server.device_code("Tablet-B", "Main Gate");
        enroll(&b, &server, &code, 2);
        b.screenshot("1-enrolled");
        // Installable: Chromium finds nothing missing (manifest, icons, service worker).
        let errors = b.cdp("Page.getInstallabilityErrors", serde_json::json!({}));
        assert_eq!(
            errors["installabilityErrors"],
            serde_json::json!([]),
            "{errors}"
        );
        let id = status(&b)["device_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(id.len(), 32, "device id {id:?}");
        id
        // The tablet is switched off.
    };

    // 2. Switched on again with no network at all, the camera on ticket A: a second in view,
    //    three seconds away, again.
    let mut frames: Vec<Vec<u8>> = (0..5u32)
        .map(|i| photo(Some(a_code), 6.0 + f64::from(i), 10 + u64::from(i)))
        .collect();
    frames.extend((0..15).map(|i| photo(None, 0.0, 100 + i)));
    write_y4m(&video, &frames, 5);
    let b = Browser::start_with(1280, 800, shots.clone(), &launch);
    b.set_offline(true);
    b.goto(&format!("{}/gate/", server.url));
    wait_ready(&b);
    let a = a_id.to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let seen = recent(&b);
        if seen.len() >= 2 {
            break seen;
        }
        assert!(Instant::now() < deadline, "the camera gave {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let oldest = seen.len() - 1;
    assert_eq!(
        seen[oldest],
        ("admit".to_owned(), String::new(), a.clone()),
        "{seen:?}"
    );
    assert_eq!(
        seen[oldest - 1],
        (
            "reject".to_owned(),
            "already_admitted".to_owned(),
            a.clone()
        ),
        "{seen:?}"
    );
    b.screenshot("2-offline-admitted-then-refused");
    // Chromium hands the page the camera's frames as planar YUV: read from the luma plane.
    assert_eq!(b.js("return window.tesseraGate.camera.path"), "luma");
    let text = b.text();
    assert!(text.contains("OFFLINE"), "no offline banner: {text}");
    assert!(
        server_check_ins(&server, &device_id).is_empty(),
        "a check-in reached the server while the gate was offline"
    );

    // 3. Reloaded, still offline: the admission is remembered.
    b.js("location.reload(); return null");
    std::thread::sleep(Duration::from_millis(300));
    wait_ready(&b);
    let s = wait_status(&b, "the reloaded gate", 10, |s| s["admitted_today"] == 1);
    assert!(s["unsent"].as_u64() >= Some(2), "{s}");
    let (_, reason, _) = manual_entry(&b, a_code);
    assert_eq!(reason, "already_admitted", "typed after the reload");
    b.screenshot("3-reloaded-offline-remembered");

    // 4. Back online: every check-in reaches the server, once.
    b.set_offline(false);
    sync_now(&b);
    let s = wait_status(&b, "the upload", 60, |s| s["unsent"] == 0);
    let stored = server_check_ins(&server, &device_id);
    let seqs: BTreeSet<i64> = stored.iter().map(|c| c.0).collect();
    assert_eq!(
        seqs.len(),
        stored.len(),
        "a check-in stored twice: {stored:?}"
    );
    assert!(
        stored.len() as u64 >= s["check_ins"].as_u64().unwrap_or(u64::MAX),
        "{stored:?} vs {s}"
    );
    let admissions: Vec<_> = stored
        .iter()
        .filter(|c| c.1 == Some(*a_id as i64) && c.2)
        .collect();
    assert_eq!(admissions.len(), 1, "{stored:?}");
    b.screenshot("4-online-synced");

    // 5. A native gate refuses the ticket.
    let mut native = Device::enroll(&server, "Gate-2", "Main Gate");
    let r = native.scan(a_code);
    assert_eq!(r.reason, Some("already_admitted"), "{r:?}");
    assert_eq!(r.first_entry.map(|e| e.device), Some("Tablet-B".to_owned()));
}

/// Taps the online pill ("sync now"), a verdict on the screen tapped away first (the camera
/// may have put one there a moment ago).
fn sync_now(b: &Browser) {
    b.js("GateScreen.hideVerdict(); document.getElementById('st-online').click(); return null");
}

/// Types a code into the manual entry field and presses Enter, as staff do (a verdict on the
/// screen does not stop typing).
fn type_code(b: &Browser, code: &str) {
    b.fill("#manual-input", &format!("{code}\u{E007}"));
}

/// [`type_code`], then waits for that scan's verdict: (verdict, reason, holder).
fn manual_entry(b: &Browser, code: &str) -> (String, String, String) {
    const TYPED: &str = "return window.tesseraGate.recent.filter(r => r.source === 'manual')\
                         .map(r => [r.verdict, r.reason || '', r.holder || ''])";
    let before = b.js(TYPED).as_array().map_or(0, Vec::len);
    type_code(b, code);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let typed = b.js(TYPED);
        if typed.as_array().map_or(0, Vec::len) > before {
            let s = |i: usize| typed[0][i].as_str().unwrap_or_default().to_owned();
            return (s(0), s(1), s(2));
        }
        assert!(Instant::now() < deadline, "no verdict for the typed code");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Types `keys` into whatever has the focus, as a keyboard-wedge scanner does, and presses
/// Enter.
fn wedge(b: &Browser, keys: &str) {
    let mut actions = Vec::new();
    for c in keys.chars().chain(std::iter::once('\u{E007}')) {
        actions.push(serde_json::json!({"type": "keyDown", "value": c.to_string()}));
        actions.push(serde_json::json!({"type": "keyUp", "value": c.to_string()}));
    }
    b.actions(
        &serde_json::json!({"actions": [{"type": "key", "id": "wedge", "actions": actions}]}),
    );
}

#[test]
fn a_browser_gate_and_a_native_gate_both_offline_admit_a_ticket_and_both_show_the_conflict() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let tickets = server.buy(1);
    let (id, code) = &tickets[0];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let video = dir.path().join("camera.y4m");
    // The camera sees the enrollment QR code the organizer's screen shows.
    let enrollment = format!(
        "{}/enroll?code={}",
        server.url,
        server.device_code("Tablet-C", "Main Gate")
    );
    write_y4m(
        &video,
        &[photo(Some(&enrollment), 3.0, 3), photo(None, 0.0, 4)],
        5,
    );
    let b = camera_browser(&video);
    // A browser without WebCodecs (as Safari before 16.4): frames through the canvas.
    b.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        serde_json::json!({"source": "delete window.VideoFrame;"}),
    );
    b.goto(&format!("{}/gate/", server.url));
    wait_status(&b, "enrollment from the camera", 60, |s| {
        s["device_name"] == "Tablet-C" && s["tickets"].as_u64() >= Some(1)
    });
    b.screenshot("5-enrolled-from-the-camera");
    assert_eq!(b.js("return typeof VideoFrame"), "undefined");
    assert_eq!(b.js("return window.tesseraGate.camera.path"), "canvas");
    let mut native = Device::enroll(&server, "Gate-N", "Main Gate");

    // Both offline: the browser's scanner types the code, the native gate scans it.
    b.set_offline(true);
    b.click("#side h2");
    // The page puts the focus back on its scanner input just after a click: a scanner
    // typing before that would lose its first keys into the page.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b
        .js("return document.activeElement && document.activeElement.id")
        .as_str()
        != Some("wedge")
    {
        assert!(
            Instant::now() < deadline,
            "the scanner input never had the focus"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wedge(&b, code);
    let deadline = Instant::now() + Duration::from_secs(10);
    while recent(&b).first().map(|r| r.0.clone()) != Some("admit".into()) {
        assert!(
            Instant::now() < deadline,
            "the wedge scan: {:?}",
            recent(&b)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = native.scan(code);
    assert_eq!(r.verdict, "admit", "{r:?}");

    // Back online, each syncs; then each once more to hear of the other's upload.
    b.set_offline(false);
    sync_now(&b);
    wait_status(&b, "the browser's upload", 60, |s| s["unsent"] == 0);
    native.sync().unwrap_or_else(|e| panic!("native sync: {e}"));
    sync_now(&b);
    let s = wait_status(&b, "the conflict on the browser gate", 60, |s| {
        s["conflicts"].as_array().is_some_and(|c| !c.is_empty())
    });
    native.sync().unwrap_or_else(|e| panic!("native sync: {e}"));
    let conflicts = s["conflicts"].as_array().cloned().unwrap_or_default();
    assert_eq!(conflicts.len(), 1, "{s}");
    assert_eq!(conflicts[0]["ticket_id"], id.to_string());
    assert_eq!(conflicts[0]["kind"], "double_entry");
    let native_conflicts = native
        .scanner
        .status(chrono::Utc::now())
        .unwrap_or_else(|e| panic!("status: {e}"))
        .conflicts;
    assert_eq!(native_conflicts.len(), 1, "{native_conflicts:?}");
    assert_eq!(native_conflicts[0].ticket_id, Some(*id));
    assert_eq!(
        native_conflicts[0].device,
        conflicts[0]["device"].as_str().unwrap_or_default()
    );
    // On the screen: the list of conflicts, naming the ticket.
    b.find(&format!(
        "#conflicts li[data-ticket='{id}'][data-kind='double_entry']"
    ));
    b.screenshot("6-conflict-on-the-browser-gate");

    // The organizer revokes the browser gate: at its next sync it says so and forgets the
    // holders' names, and still refuses the ticket.
    let device_id = s["device_id"].as_str().unwrap_or_default().to_owned();
    assert!(
        server
            .block_on(server.state.store.revoke_device(&device_id, 0))
            .unwrap_or(false)
    );
    sync_now(&b);
    b.wait_text("Revoked");
    let (_, reason, holder) = manual_entry(&b, code);
    assert_eq!(
        (reason.as_str(), holder.as_str()),
        ("already_admitted", ""),
        "the revoked gate's verdict"
    );

    // A new enrollment link opened on the revoked gate enrolls it again: its names return.
    b.goto(&format!(
        "{}/gate/#code={}",
        server.url,
        server.device_code("Tablet-C", "Main Gate")
    ));
    wait_ready(&b);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.text().contains("Online") {
        assert!(
            Instant::now() < deadline,
            "not enrolled again: {}",
            b.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, reason, holder) = manual_entry(&b, code);
    assert_eq!(
        (reason.as_str(), holder.as_str()),
        ("already_admitted", "Guest"),
        "the names did not come back: {}",
        status(&b)
    );
}

/// A second tab of the gate does not start; a check-in the browser cannot store gets no
/// verdict and does not count: the page says it was not recorded, and after a reload the
/// ticket is admitted as if never scanned.
#[test]
fn a_second_tab_does_not_start_and_a_check_in_the_browser_cannot_store_does_not_count() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let tickets = server.buy(1);
    let (_, code) = &tickets[0];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let video = dir.path().join("camera.y4m");
    write_y4m(&video, &[photo(None, 0.0, 5)], 5);
    let b = camera_browser(&video);
    enroll(&b, &server, &server.device_code("Tablet-D", "Main Gate"), 1);
    // A second tab of the same gate would draw the same sequence numbers: it does not start.
    let first = b.new_tab();
    b.goto(&format!("{}/gate/", server.url));
    let deadline = Instant::now() + Duration::from_secs(20);
    while b
        .js("return document.body ? document.body.dataset.ready : null")
        .as_str()
        != Some("failed")
    {
        assert!(
            Instant::now() < deadline,
            "a second tab started: {}",
            b.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(b.text().contains("open in another tab"), "{}", b.text());
    b.close_tab(&first);
    // The browser's storage goes away under the page (as when its data is cleared).
    b.js("window.tesseraGate.db.close(); return null");
    type_code(&b, code);
    let deadline = Instant::now() + Duration::from_secs(10);
    while b
        .js("return document.getElementById('verdict').dataset.reason")
        .as_str()
        != Some("not_recorded")
    {
        assert!(Instant::now() < deadline, "no 'not recorded' screen");
        std::thread::sleep(Duration::from_millis(100));
    }
    b.screenshot("7-not-recorded");
    let s = status(&b);
    assert_eq!(s["check_ins"], 0, "an unstored check-in counts: {s}");
    assert!(recent(&b).is_empty(), "{:?}", recent(&b));

    b.js("location.reload(); return null");
    std::thread::sleep(Duration::from_millis(300));
    wait_ready(&b);
    let (verdict, _, _) = manual_entry(&b, code);
    assert_eq!(verdict, "admit", "the unstored check-in counted");
}

#[test]
fn a_gate_opened_over_plain_http_from_another_machine_says_it_needs_https_and_still_decides() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let (id, code) = server.buy(1).remove(0);
    // A name that is not this machine: the page is not a secure context (127.0.0.1 would be).
    let args = vec!["--host-resolver-rules=MAP gate.festival.test 127.0.0.1".to_owned()];
    let b = Browser::start_with(
        1280,
        800,
        shots_dir(),
        &Launch {
            args: &args,
            ..Launch::default()
        },
    );
    let url = server.url.replace("127.0.0.1", "gate.festival.test");
    b.goto(&format!("{url}/gate/"));
    wait_ready(&b);
    assert_eq!(
        b.js("return window.isSecureContext"),
        serde_json::json!(false)
    );
    let warning = b.js(
        "const w = document.getElementById('secure-warning'); return w.hidden ? null : w.textContent",
    );
    assert!(
        warning
            .as_str()
            .is_some_and(|w| w.contains("plain http") && w.contains("https")),
        "{warning}"
    );
    // It enrolls and decides all the same (no offline start, no camera: the warning says so).
    b.fill("#enroll-code", &server.device_code("Tablet-H", "Main Gate"));
    b.click("#enroll-go");
    wait_status(&b, "the first sync over http", 60, |s| {
        s["tickets"].as_u64() >= Some(1)
    });
    assert_eq!(
        b.js("return document.getElementById('st-offline-ready').textContent"),
        serde_json::json!("Unavailable")
    );
    b.screenshot("http-warning");
    b.fill("#manual-input", &format!("{code}\u{E007}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while recent(&b).first().map(|r| r.0.as_str()) != Some("admit") {
        assert!(Instant::now() < deadline, "no verdict: {:?}", recent(&b));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(recent(&b)[0].2, id.to_string());
}

/// A gate online that scans more often than once a second, for as long as the queue lasts:
/// its check-ins reach the server while it goes on scanning (a scan asks for a round a
/// second later, but never pushes back a round already due).
#[test]
fn a_gate_scanning_without_a_pause_still_sends_its_check_ins() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let tickets = server.buy(4);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let video = dir.path().join("camera.y4m");
    // Four tickets in turn, five frames a second: a scan every 200 ms, looping.
    let frames: Vec<Vec<u8>> = (0u32..4)
        .map(|i| {
            let code = &tickets[i as usize].1;
            photo(Some(code), 4.0 + f64::from(i), 30 + u64::from(i))
        })
        .collect();
    write_y4m(&video, &frames, 5);
    let b = camera_browser(&video);
    enroll(&b, &server, &server.device_code("Tablet-S", "Main Gate"), 4);
    let device_id = status(&b)["device_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let scans = |b: &Browser| b.js("return window.tesseraGate.timings.length").as_u64();
    let deadline = Instant::now() + Duration::from_secs(20);
    let at_arrival = loop {
        let stored = server_check_ins(&server, &device_id);
        if stored.len() >= 4 {
            break scans(&b);
        }
        assert!(
            Instant::now() < deadline,
            "after {:?} camera scans the server holds {stored:?}",
            scans(&b)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // It was scanning all along, and goes on.
    assert!(at_arrival >= Some(4), "{at_arrival:?} scans");
    std::thread::sleep(Duration::from_secs(1));
    assert!(scans(&b) > at_arrival, "the camera stopped scanning");
    let admitted = server_check_ins(&server, &device_id)
        .iter()
        .filter(|c| c.2)
        .count();
    assert_eq!(admitted, 4, "each ticket admitted once");
}
