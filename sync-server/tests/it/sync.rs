//! The sync API: enrollment codes, idempotent uploads, revocation, bad input, a feed that
//! never skips a change under concurrent writers, and exactly-once across a SIGKILL.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tessera_core::sync::{PROTOCOL, UploadCheckIn, UploadRequest, UploadResponse};

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, buy, eventually, ticket_type_id};

/// Enrolls a device over HTTP; returns its token.
async fn enroll(app: &TestApp, name: &str, device_id: &str) -> String {
    let event = app.state.store.events().await.unwrap()[0].id;
    let code = tessera_server::app::devices::create_device_code(
        &app.state,
        event,
        name,
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/sync/enroll"))
        .json(
            &json!({"protocol": PROTOCOL, "code": code.to_lowercase(), "device_id": device_id,
                      "app_version": "t", "device_time": Utc::now()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], name);
    assert_eq!(body["gate"], "Main Gate");
    body["token"].as_str().unwrap().to_owned()
}

fn batch(texts: &[String], first_seq: u64) -> UploadRequest {
    UploadRequest {
        protocol: PROTOCOL,
        device_time: Utc::now(),
        check_ins: texts
            .iter()
            .enumerate()
            .map(|(i, t)| UploadCheckIn {
                seq: first_seq + i as u64,
                text: Some(t.clone()),
                ticket_id: None,
                at: Utc::now(),
                gate: "Main Gate".into(),
                direction: "entry".into(),
                admitted: true,
                reason: None,
                clock_correction_ms: None,
            })
            .collect(),
    }
}

async fn post_batch(app: &TestApp, token: &str, req: &Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/sync/checkins"))
        .bearer_auth(token)
        .json(req)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn codes_uploads_and_revocation(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let event = app.state.store.events().await.unwrap()[0].id;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let (_, order) = buy(&app.http, &app.base, pass, 3).await;
    let texts: Vec<String> = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qr_text"].as_str().unwrap().to_owned())
        .collect();

    // Codes: unknown, used, expired.
    let enroll_with = |code: String| {
        let http = app.http.clone();
        let url = app.url("/api/v1/sync/enroll");
        async move {
            http.post(url)
                .json(
                    &json!({"protocol": PROTOCOL, "code": code, "device_id": "ab".repeat(16),
                              "app_version": "t", "device_time": Utc::now()}),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let res = enroll_with("NOPE-NOPE-NOPE".into()).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "bad_code");
    let expired = tessera_server::app::devices::create_device_code(
        &app.state,
        event,
        "Old",
        None,
        chrono::Duration::hours(1),
        Utc::now() - chrono::Duration::hours(2),
    )
    .await
    .unwrap();
    assert_eq!(enroll_with(expired).await.status(), 410);
    let token = enroll(&app, "Tablet-1", &"a1".repeat(16)).await;

    // An upload, then the same batch again: nothing changes the second time.
    let req = serde_json::to_value(batch(&texts, 1)).unwrap();
    let (status, first) = post_batch(&app, &token, &req).await;
    assert_eq!(status, 200, "{first}");
    let first: UploadResponse = serde_json::from_value(first).unwrap();
    assert!(
        first
            .results
            .iter()
            .all(|r| r.stored && r.server_admitted && !r.conflict)
    );
    let head = app.state.store.feed_page(event, 0, 1).await.unwrap().head;
    let (_, again) = post_batch(&app, &token, &req).await;
    let again: UploadResponse = serde_json::from_value(again).unwrap();
    assert!(again.results.iter().all(|r| !r.stored && r.server_admitted));
    assert_eq!(
        app.state.store.event_check_ins(event).await.unwrap().len(),
        3
    );
    assert_eq!(
        app.state.store.feed_page(event, 0, 1).await.unwrap().head,
        head
    );

    // A second device admits ticket 1 again: stored, flagged, and the feed says so.
    let token_2 = enroll(&app, "Tablet-2", &"b2".repeat(16)).await;
    let (_, second) = post_batch(
        &app,
        &token_2,
        &serde_json::to_value(batch(&texts[..1], 1)).unwrap(),
    )
    .await;
    let second: UploadResponse = serde_json::from_value(second).unwrap();
    assert!(second.results[0].stored && second.results[0].conflict);
    assert_eq!(
        second.results[0].server_reason.as_deref(),
        Some("already_admitted")
    );

    // Bad input: refused, nothing stored.
    // A code signed by someone else under the server's key id.
    let forged = {
        let forger = tessera_core::TicketSigner::from_seed(tessera_core::KeyId(1), &[9; 32]);
        let claims = tessera_core::Claims {
            event: tessera_core::EventId(u32::try_from(event).unwrap()),
            ticket: tessera_core::TicketId(77),
            ticket_type: tessera_core::TicketTypeId(1),
            revision: tessera_core::Revision(0),
            days: tessera_core::DayMask(0b111),
            zones: tessera_core::ZoneMask::GENERAL,
            booth: None,
            issued_at: 1_790_000_000,
        };
        batch(&[forger.sign(&claims)], 50)
    };
    let (status, body) = post_batch(&app, &token, &serde_json::to_value(forged).unwrap()).await;
    assert_eq!(
        status, 200,
        "a forged code is recorded, flagged by its reason: {body}"
    );
    assert_eq!(body["results"][0]["server_reason"], "bad_signature");
    for bad in [
        json!({"protocol": PROTOCOL, "device_time": Utc::now(), "check_ins": [{"seq": 0, "text": null,
               "ticket_id": null, "at": Utc::now(), "gate": "G", "direction": "entry", "admitted": true, "reason": null}]}),
        json!({"protocol": PROTOCOL, "device_time": Utc::now(), "check_ins": [{"seq": 99, "text": null,
               "ticket_id": null, "at": Utc::now(), "gate": "G", "direction": "sideways", "admitted": true, "reason": null}]}),
        json!({"protocol": 99, "device_time": Utc::now(), "check_ins": []}),
        json!({"protocol": PROTOCOL}),
        json!("not an object"),
        serde_json::to_value(batch(&vec![texts[0].clone(); 1001], 100)).unwrap(),
    ] {
        let (status, body) = post_batch(&app, &token, &bad).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "bad_request");
    }
    assert_eq!(
        app.state.store.event_check_ins(event).await.unwrap().len(),
        5
    );

    // Tokens: none, wrong, revoked.
    let changes = |token: Option<String>| {
        let mut r = app.http.get(app.url("/api/v1/sync/changes?after=0"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(changes(None).await.unwrap().status(), 401);
    assert_eq!(changes(Some("0".repeat(64))).await.unwrap().status(), 401);
    let page: Value = changes(Some(token.clone()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["tickets"].as_array().unwrap().len(), 3);
    assert_eq!(page["check_ins"].as_array().unwrap().len(), 5);
    assert!(page["event"]["gates"].as_array().unwrap().len() >= 2);
    assert!(
        app.state
            .store
            .revoke_device(&"a1".repeat(16), 0)
            .await
            .unwrap()
    );
    let res = changes(Some(token)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "device_revoked"
    );
    app.stop().await;
}
on_both_backends!(
    codes_uploads_and_revocation_on,
    codes_uploads_and_revocation
);

/// Two server instances sell and void tickets while a reader tails the feed: the reader ends
/// up with every ticket in its final state, so no change was skipped.
async fn feed_never_skips_a_change(db: &TestDb) {
    let apps = [
        TestApp::spawn(db.settings()).await,
        TestApp::spawn(db.settings()).await,
    ];
    let store = db.store().await;
    let event = store.events().await.unwrap()[0].id;
    let pass = ticket_type_id(store.as_ref(), "1-Day Pass").await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    let reader = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen: BTreeMap<i64, String> = BTreeMap::new();
            let mut cursor = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = store.feed_page(event, cursor, 37).await.unwrap();
                assert!(page.cursor >= cursor, "the cursor went back");
                for t in page.tickets {
                    seen.insert(t.id, t.status);
                }
                cursor = page.cursor;
                if finished && !page.more {
                    return seen;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for w in 0..8usize {
        let app_base = apps[w % 2].base.clone();
        let http = apps[w % 2].http.clone();
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..30usize {
                let (status, order) = buy(&http, &app_base, pass, 1 + (i % 3) as i64).await;
                assert_eq!(status, 201, "{order}");
                // Void some tickets right away, racing the reader.
                if (i + w) % 4 == 0 {
                    let id = order["tickets"][0]["id"].as_i64().unwrap();
                    assert!(store.void_ticket(id).await.unwrap());
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let all: BTreeMap<i64, String> = store
        .feed_page(event, 0, 100_000)
        .await
        .unwrap()
        .tickets
        .into_iter()
        .map(|t| (t.id, t.status))
        .collect();
    assert!(all.len() >= 8 * 30, "{} tickets", all.len());
    assert_eq!(seen, all, "the tailing reader missed a change");
    for app in apps {
        app.stop().await;
    }
}
on_both_backends!(feed_never_skips_a_change_on, feed_never_skips_a_change);

fn scanner_for(dir: &std::path::Path, base: &str, code: &str) -> tessera_scanner::Scanner {
    let mut s = tessera_scanner::Scanner::open(dir).unwrap();
    tessera_scanner::sync::enroll(&mut s, base, code, "t").unwrap();
    s
}

/// The server is SIGKILLed while a device uploads; after a restart the device's next sync
/// leaves every check-in stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_upload_stores_every_check_in_once() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    let args = ["demo", "--data-dir", &dir];
    let server = crate::support::server_process(&args, &[]);
    let store = db.store().await;
    let pass = ticket_type_id(store.as_ref(), "3-Day Pass").await;
    let http = reqwest::Client::new();
    let mut texts = Vec::new();
    for _ in 0..30 {
        let (_, order) = buy(&http, &server.base, pass, 20).await;
        for t in order["tickets"].as_array().unwrap() {
            texts.push(t["qr_text"].as_str().unwrap().to_owned());
        }
    }
    let event = store.events().await.unwrap()[0].id;
    let app_state = tessera_server::open(db.settings()).await.unwrap();
    let code = tessera_server::app::devices::create_device_code(
        &app_state,
        event,
        "Tablet",
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let device_dir = db.dir.path().join("device");
    let base = server.base.clone();
    let queued = {
        let device_dir = device_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = scanner_for(&device_dir, &base, &code);
            tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
            for t in &texts {
                s.scan(t, Utc::now()).unwrap();
            }
            s.device().all().unwrap().len()
        })
        .await
        .unwrap()
    };
    assert_eq!(queued, 600);

    // Upload in batches of 20 in the background; kill the server once some have landed.
    let uploading = {
        let device_dir = device_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = tessera_scanner::Scanner::open(&device_dir).unwrap();
            let options = tessera_scanner::sync::SyncOptions {
                batch: 20,
                page: 5000,
            };
            tessera_scanner::sync::sync_with(&mut s, options, &mut |_, _| {}).is_ok()
        })
    };
    eventually("a few batches stored", Duration::from_secs(60), || {
        let store = store.clone();
        async move { (store.event_check_ins(event).await.ok()?.len() >= 60).then_some(()) }
    })
    .await;
    server.kill();
    let completed = uploading.await.unwrap();
    let stored_at_kill = store.event_check_ins(event).await.unwrap().len();
    assert!(!completed || stored_at_kill == 600);

    let restarted = crate::support::server_process(&args, &[]);
    let device_dir2 = device_dir.clone();
    let base2 = restarted.base.clone();
    let acked = tokio::task::spawn_blocking(move || {
        let mut s = tessera_scanner::Scanner::open(&device_dir2).unwrap();
        // The new process listens on another port: point the device at it, as an operator
        // moving the server would.
        s.device().set_setting("server_url", &base2).unwrap();
        tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
        s.device().all().unwrap().iter().filter(|q| q.acked).count()
    })
    .await
    .unwrap();
    assert_eq!(acked, 600);
    let stored = store.event_check_ins(event).await.unwrap();
    assert_eq!(stored.len(), 600, "each check-in exactly once");
    let mut keys: Vec<_> = stored
        .iter()
        .map(|c| (c.device_id.clone(), c.seq))
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), 600);
    assert!(stored.iter().all(|c| c.server_admitted && !c.conflict));
}

/// The server goes away in the middle of a big first pull; the next sync resumes from the
/// cursor and the replica ends up equal to the server's view.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_pull_resumes_from_the_cursor() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    let args = ["demo", "--data-dir", &dir];
    let server = crate::support::server_process(&args, &[]);
    let store = db.store().await;
    let pass = ticket_type_id(store.as_ref(), "2-Day Pass").await;
    let http = reqwest::Client::new();
    for _ in 0..20 {
        let (status, _) = buy(&http, &server.base, pass, 20).await;
        assert_eq!(status, 201);
    }
    let event = store.events().await.unwrap()[0].id;
    let app_state = tessera_server::open(db.settings()).await.unwrap();
    let code = tessera_server::app::devices::create_device_code(
        &app_state,
        event,
        "Tablet",
        None,
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let device_dir = db.dir.path().join("device");
    let base = server.base.clone();
    // Pages of 10 changes: the kill lands mid-pull.
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let pulling = {
        let device_dir = device_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = scanner_for(&device_dir, &base, &code);
            let options = tessera_scanner::sync::SyncOptions {
                batch: 500,
                page: 10,
            };
            tessera_scanner::sync::sync_with(&mut s, options, &mut |cursor, _| {
                let _ = tx.send(cursor);
            })
            .is_ok()
        })
    };
    let first_cursor =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("a first page");
    server.kill();
    assert!(!pulling.await.unwrap(), "the pull was cut off");
    assert!(first_cursor > 0);

    let restarted = crate::support::server_process(&args, &[]);
    let base2 = restarted.base.clone();
    let replica: BTreeMap<u64, u16> = tokio::task::spawn_blocking(move || {
        let mut s = tessera_scanner::Scanner::open(&device_dir).unwrap();
        let before: u64 = s
            .replica()
            .meta("cursor")
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        assert!(before >= first_cursor, "applied pages stay applied");
        s.device().set_setting("server_url", &base2).unwrap();
        let report = tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
        assert_eq!(report.cursor, report.head);
        let conn = s.replica().connection();
        let mut stmt = conn
            .prepare("SELECT ticket_id, revision FROM tickets")
            .unwrap();
        stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, u16>(1)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    })
    .await
    .unwrap();
    let server_view: BTreeMap<u64, u16> = store
        .feed_page(event, 0, 100_000)
        .await
        .unwrap()
        .tickets
        .iter()
        .map(|t| (t.id as u64, t.revision as u16))
        .collect();
    assert_eq!(replica.len(), 400);
    assert_eq!(replica, server_view);
}

/// A device reports how many check-ins it still holds; organizers see the number and
/// readiness holds the device back until it has none. A malformed report changes nothing;
/// the real client reports 0 after a sync that pushed everything.
async fn devices_report_their_queue(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let token = enroll(&app, "Tablet-Q", "0123456789abcdef0123456789abcdef").await;
    let pull = |queued: &'static str| {
        app.http
            .get(app.url("/api/v1/sync/changes?after=0"))
            .bearer_auth(&token)
            .header("X-Device-Time", Utc::now().to_rfc3339())
            .header("X-Device-Queued", queued)
            .send()
    };
    let queued = || async {
        let devices = app.state.store.devices().await.unwrap();
        devices
            .iter()
            .find(|d| d.name == "Tablet-Q")
            .unwrap()
            .queued_check_ins
    };
    let readiness = || async {
        let r = tessera_server::app::console::readiness_of(&app.state, None, Some(15), Utc::now())
            .await
            .unwrap();
        r.devices
            .into_iter()
            .find(|d| d.name == "Tablet-Q")
            .unwrap()
    };
    assert_eq!(queued().await, None, "nothing reported yet");

    assert_eq!(pull("7").await.unwrap().status(), 200);
    assert_eq!(queued().await, Some(7));
    let d = readiness().await;
    assert!(!d.current);
    assert_eq!(d.queued_check_ins, Some(7));
    assert!(
        d.problem.contains("7 check-ins not uploaded"),
        "{}",
        d.problem
    );

    for bad in ["-1", "lots", "99999999999"] {
        assert_eq!(pull(bad).await.unwrap().status(), 200, "{bad}");
        assert_eq!(queued().await, Some(7), "{bad} is ignored");
    }
    assert_eq!(pull("0").await.unwrap().status(), 200);
    assert_eq!(queued().await, Some(0));

    // The real client: enroll, scan, sync.
    let tt = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let (_, order) = buy(&app.http, &app.base, tt, 1).await;
    let text = order["tickets"][0]["qr_text"].as_str().unwrap().to_owned();
    let dir = db.dir.path().join("device");
    let event = app.state.store.events().await.unwrap()[0].id;
    let code = tessera_server::app::devices::create_device_code(
        &app.state,
        event,
        "Tablet-R",
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = tessera_scanner::Scanner::open(&dir).unwrap();
        tessera_scanner::sync::enroll(&mut s, &base, &code, "t").unwrap();
        tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
        s.scan(&text, Utc::now()).unwrap();
        tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
    })
    .await
    .unwrap();
    let devices = app.state.store.devices().await.unwrap();
    let real = devices.iter().find(|d| d.name == "Tablet-R").unwrap();
    assert_eq!((real.check_ins, real.queued_check_ins), (1, Some(0)));
    app.stop().await;
}
on_both_backends!(devices_report_their_queue_on, devices_report_their_queue);

/// Enrolls `device_id` with a fresh code; returns the response status and body.
async fn try_enroll(app: &TestApp, device_id: &str) -> (u16, Value) {
    let event = app.state.store.events().await.unwrap()[0].id;
    let code = tessera_server::app::devices::create_device_code(
        &app.state,
        event,
        "Intruder",
        Some("North Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/sync/enroll"))
        .json(
            &json!({"protocol": PROTOCOL, "code": code, "device_id": device_id,
                      "app_version": "t", "device_time": Utc::now()}),
        )
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Device ids are public (in `/metrics` and every feed). Someone holding any enrollment code
/// tries to enroll under a live gate's id: refused, nothing about the gate changes, its token
/// and uploads keep working; only a revoked device's id may be enrolled again.
async fn enrollment_never_takes_over_a_live_gate(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let (_, order) = buy(&app.http, &app.base, pass, 2).await;
    let texts: Vec<String> = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qr_text"].as_str().unwrap().to_owned())
        .collect();
    let gate_id = "c3".repeat(16);
    let token = enroll(&app, "Main Gate tablet", &gate_id).await;
    let device = |app: &TestApp| {
        let store = app.state.store.clone();
        let id = gate_id.clone();
        async move {
            let all = store.devices().await.unwrap();
            all.into_iter().find(|d| d.id == id).unwrap()
        }
    };
    let before = device(&app).await;

    let (status, body) = try_enroll(&app, &gate_id).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "device_enrolled");
    assert!(body.get("token").is_none());
    let after = device(&app).await;
    assert_eq!(after, before, "the live gate's row must not change");

    // The real gate still uploads under its own token.
    let req = serde_json::to_value(batch(&texts[..1], 1)).unwrap();
    let (status, up) = post_batch(&app, &token, &req).await;
    assert_eq!(status, 200, "{up}");
    let up: UploadResponse = serde_json::from_value(up).unwrap();
    assert!(up.results.iter().all(|r| r.stored && r.server_admitted));

    // A revoked tablet enrolled again with a new code keeps its id and its check-ins.
    assert!(app.state.store.revoke_device(&gate_id, 0).await.unwrap());
    let (status, body) = try_enroll(&app, &gate_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], gate_id.as_str());
    let (status, _) = post_batch(&app, &token, &req).await;
    assert_eq!(status, 401, "the old token died with the revocation");
    let new_token = body["token"].as_str().unwrap();
    let req = serde_json::to_value(batch(&texts[1..], 2)).unwrap();
    let (status, _) = post_batch(&app, new_token, &req).await;
    assert_eq!(status, 200);
    let event = app.state.store.events().await.unwrap()[0].id;
    let stored = app.state.store.event_check_ins(event).await.unwrap();
    assert_eq!(stored.iter().filter(|c| c.device_id == gate_id).count(), 2);
    app.stop().await;
}

on_both_backends!(
    enrollment_never_takes_over_a_live_gate_on,
    enrollment_never_takes_over_a_live_gate
);
