//! The commands on Tauri's mock runtime, against a real demo server in-process: enrollment,
//! verdicts from typed text and from raw camera frames, gates, errors as `{code, message}`,
//! and the sync thread emptying the queue.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use tessera_scanner_gui::gate::{FrameFeed, Gate};
use tessera_tests::{Db, Server};

use crate::support::{empty_frame, frame_of, wait_for};

struct Screen {
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
}

impl Screen {
    fn open(dir: &Path) -> Self {
        let gate = Gate::open(dir, FrameFeed::Webview).unwrap_or_else(|e| panic!("gate: {e}"));
        let app = tessera_scanner_gui::with_commands(mock_builder())
            .manage(gate)
            .build(mock_context(noop_assets()))
            .unwrap_or_else(|e| panic!("app: {e}"));
        tessera_scanner_gui::start_background(app.handle())
            .unwrap_or_else(|e| panic!("threads: {e}"));
        let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap_or_else(|e| panic!("webview: {e}"));
        Self { _app: app, webview }
    }

    fn invoke_with(
        &self,
        cmd: &str,
        body: InvokeBody,
        headers: tauri::http::HeaderMap,
    ) -> Result<Value, Value> {
        tauri::test::get_ipc_response(
            &self.webview,
            tauri::webview::InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
                body,
                headers,
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap_or_else(|e| panic!("{e}")))
    }

    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        self.invoke_with(cmd, InvokeBody::Json(args), Default::default())
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn frame(&self, frame: &image::GrayImage) -> Result<Value, Value> {
        let mut headers = tauri::http::HeaderMap::new();
        headers.insert("x-frame-width", frame.width().into());
        headers.insert("x-frame-height", frame.height().into());
        self.invoke_with(
            "decode_frame",
            InvokeBody::Raw(frame.as_raw().clone()),
            headers,
        )
    }
}

fn enrolled(server: &Server, dir: &Path, gate: &str) -> Screen {
    let screen = Screen::open(dir);
    let code = server.device_code("Tablet-1", gate);
    let status = screen.ok("enroll", json!({"server": server.url, "code": code}));
    assert_eq!(status["sync"]["enrolled"], true);
    assert_eq!(status["gate"], gate);
    assert_eq!(status["link"]["online"], true);
    screen
}

#[test]
fn a_new_device_is_asked_to_enroll_and_refuses_to_scan() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = Screen::open(dir.path());
    let status = screen.ok("status", json!({}));
    assert_eq!(status["sync"]["enrolled"], false);
    assert_eq!(status["event"], Value::Null);
    assert_eq!(status["camera"]["feed"], "webview");
    let err = screen
        .invoke("scan_text", json!({"text": "TS1:ABC"}))
        .expect_err("a device with no event cannot scan");
    assert_eq!(err["code"], "not_set_up");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("enroll"))
    );
}

#[test]
fn enrollment_errors_are_explained() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = Screen::open(dir.path());
    let err = screen
        .invoke("enroll", json!({"server": "127.0.0.1:1", "code": "X"}))
        .expect_err("not a URL");
    assert_eq!(err["code"], "bad_request");
    // Nothing listens on port 1.
    let err = screen
        .invoke(
            "enroll",
            json!({"server": "http://127.0.0.1:1", "code": "X"}),
        )
        .expect_err("nothing listens there");
    assert_eq!(err["code"], "offline");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("Cannot reach"))
    );

    let db = Db::sqlite();
    let server = Server::start(&db);
    let err = screen
        .invoke("enroll", json!({"server": server.url, "code": "NOPE-NOPE"}))
        .expect_err("a wrong code");
    assert_eq!(err["code"], "refused");
}

#[test]
fn typed_codes_admit_then_reject_as_already_admitted() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = enrolled(&server, dir.path(), "North Gate");
    let status = screen.ok("status", json!({}));
    assert_eq!(status["event"].as_str().map(|e| !e.is_empty()), Some(true));
    assert!(
        status["gates"]
            .as_array()
            .is_some_and(|g| g.len() == 3 && g.contains(&json!("Main Gate")))
    );

    let tickets = server.buy(1);
    screen.ok("sync_now", json!({}));
    let text = &tickets[0].1;
    // The sync thread brings the new ticket; until then it is judged on its signature.
    wait_for(
        "the ticket to reach the replica",
        Duration::from_secs(20),
        || {
            let s = screen.ok("status", json!({}));
            (s["replica"]["tickets"].as_u64() >= Some(1)).then_some(())
        },
    );

    let seen = screen.ok("scan_text", json!({"text": format!("{text}\r\n")}));
    assert_eq!(seen["kind"], "scan");
    let report = &seen["report"];
    assert_eq!(report["verdict"], "admit", "{report}");
    assert_eq!(report["ticket_type"], "3-Day Pass");
    assert_eq!(report["days"].as_array().map(Vec::len), Some(3));
    assert_eq!(report["gate"], "North Gate");

    let again = screen.ok("scan_text", json!({"text": text}));
    let report = &again["report"];
    assert_eq!(report["verdict"], "reject");
    assert_eq!(report["reason"], "already_admitted");
    assert_eq!(report["first_entry"]["gate"], "North Gate");
    assert_eq!(report["first_entry"]["device"], "Tablet-1");

    let status = screen.ok("status", json!({}));
    assert_eq!(status["today"]["admitted"], 1);
    assert_eq!(status["today"]["rejected"], 1);
    assert_eq!(status["recent"].as_array().map(Vec::len), Some(2));
    assert_eq!(status["recent"][0]["reason"], "already_admitted");

    // The sync thread uploads the queue without being asked twice.
    screen.ok("sync_now", json!({}));
    wait_for("the queue to be sent", Duration::from_secs(20), || {
        let s = screen.ok("status", json!({}));
        (s["check_ins"]["unsent"] == 0).then_some(())
    });
}

#[test]
fn camera_frames_arrive_as_raw_bytes_and_one_ticket_in_view_is_one_scan() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = enrolled(&server, dir.path(), "Main Gate");
    let text = server.buy(1).remove(0).1;

    let nothing = screen
        .frame(&empty_frame())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nothing["seen"], Value::Null);

    let frame = frame_of(&text);
    let first = screen.frame(&frame).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first["seen"]["report"]["verdict"], "admit", "{first}");
    assert!(first["decode_us"].as_u64().is_some());
    // Held in view: the same ticket in the next frames is not scanned again.
    for _ in 0..3 {
        let held = screen.frame(&frame).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(held["seen"], Value::Null);
    }
    let status = screen.ok("status", json!({}));
    assert_eq!(status["today"]["admitted"], 1);
    assert_eq!(status["camera"]["frames"], 5);

    // A frame whose size does not match its pixels is refused, not guessed at.
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-frame-width", 640.into());
    headers.insert("x-frame-height", 480.into());
    let err = screen
        .invoke_with("decode_frame", InvokeBody::Raw(vec![0; 100]), headers)
        .expect_err("short frame");
    assert_eq!(err["code"], "bad_frame");
}

#[test]
fn an_enrollment_link_is_recognised_not_scanned() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = Screen::open(dir.path());
    let seen = screen.ok(
        "scan_text",
        json!({"text": "http://127.0.0.1:8080/enroll?code=K7QF-2MZD"}),
    );
    assert_eq!(
        seen,
        json!({"kind": "enrollment", "server": "http://127.0.0.1:8080", "code": "K7QF-2MZD"})
    );
    // The same link as a camera frame.
    let found = screen
        .frame(&frame_of("http://127.0.0.1:8080/enroll?code=K7QF-2MZD"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found["seen"]["kind"], "enrollment");
}

#[test]
fn gate_and_direction_are_chosen_from_the_event() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = enrolled(&server, dir.path(), "Main Gate");
    let status = screen.ok(
        "set_gate",
        json!({"name": "North Gate", "direction": "exit"}),
    );
    assert_eq!(status["gate"], "North Gate");
    assert_eq!(status["direction"], "exit");
    let err = screen
        .invoke("set_gate", json!({"name": "Back Door", "direction": null}))
        .expect_err("not a gate of the event");
    assert_eq!(err["code"], "unknown_gate");
    let err = screen
        .invoke("set_gate", json!({"name": null, "direction": "sideways"}))
        .expect_err("not a direction");
    assert_eq!(err["code"], "bad_request");
}

#[test]
fn the_verdicts_words_switch_to_arabic_and_their_codes_stay() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = server.buy(1).remove(0).1;
    let screen = enrolled(&server, dir.path(), "Main Gate");
    assert_eq!(screen.ok("status", json!({}))["language"], "en");
    let status = screen.ok("set_language", json!({"language": "ar"}));
    assert_eq!(status["language"], "ar");
    let first = screen.ok("scan_text", json!({"text": text}));
    assert_eq!(first["report"]["verdict"], "admit");
    assert!(
        first["report"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("دخول — ")),
        "{first}"
    );
    let again = screen.ok("scan_text", json!({"text": text}));
    assert_eq!(again["report"]["verdict"], "reject");
    assert_eq!(again["report"]["reason"], "already_admitted");
    assert!(
        again["report"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("استُخدمت اليوم")),
        "{again}"
    );
    let err = screen
        .invoke("set_language", json!({"language": "fr"}))
        .expect_err("not a language of the gate");
    assert_eq!(err["code"], "bad_request");
}

#[test]
fn a_lost_server_shows_offline_and_scanning_goes_on() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = server.buy(1).remove(0).1;
    let screen = enrolled(&server, dir.path(), "Main Gate");
    server.stop();
    screen.ok("sync_now", json!({}));
    let status = wait_for("the offline state", Duration::from_secs(20), || {
        let s = screen.ok("status", json!({}));
        (s["link"]["online"] == false).then_some(s)
    });
    assert!(status["sync"]["last_error"].as_str().is_some());
    // Decided from the replica, with no server.
    let seen = screen.ok("scan_text", json!({"text": text}));
    assert_eq!(seen["report"]["verdict"], "admit");
    assert_eq!(seen["report"]["basis"], "replica");
    let status = screen.ok("status", json!({}));
    assert_eq!(status["check_ins"]["unsent"], 1);
}

#[test]
fn a_double_admission_at_another_gate_comes_back_as_a_conflict() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let text = server.buy(1).remove(0).1;
    // Two gates, neither hearing of the other in time: both admit the same ticket.
    let mut north = tessera_tests::Device::enroll(&server, "Tablet-North", "North Gate");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let screen = enrolled(&server, dir.path(), "Main Gate");
    assert_eq!(north.scan(&text).verdict, "admit");
    let seen = screen.ok("scan_text", json!({"text": text}));
    assert_eq!(seen["report"]["verdict"], "admit");
    north.sync().unwrap_or_else(|e| panic!("north sync: {e}"));

    screen.ok("sync_now", json!({}));
    let status = wait_for("the conflict to come back", Duration::from_secs(20), || {
        let s = screen.ok("status", json!({}));
        (s["conflicts"].as_array().map(Vec::len) > Some(0)).then_some(s)
    });
    let conflict = &status["conflicts"][0];
    assert_eq!(conflict["gate"], "Main Gate", "{conflict}");
    assert_eq!(conflict["first_gate"], "North Gate", "{conflict}");
}
