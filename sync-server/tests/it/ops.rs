//! Operations: a festival moved from SQLite to PostgreSQL with copy-db (devices keep
//! syncing without a resync), and an online backup taken while orders stream in.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::Value;
use tessera_server::app::keys::{Keys, MasterKey};

use crate::support::{TestApp, TestDb, buy, pass_codes, ticket_type_id};

fn enroll_device(dir: std::path::PathBuf, base: String, code: String) -> tessera_scanner::Scanner {
    let mut s = tessera_scanner::Scanner::open(&dir).unwrap();
    tessera_scanner::sync::enroll(&mut s, &base, &code, "t").unwrap();
    tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
    s
}

async fn code(app: &TestApp, name: &str, gate: &str) -> String {
    let event = app.state.store.events().await.unwrap()[0].id;
    tessera_server::app::devices::create_device_code(
        &app.state,
        event,
        name,
        Some(gate),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copy_db_moves_a_festival_to_postgres_and_devices_keep_syncing() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite();
    // A rotated key: tickets signed by key 1 and key 2 must both verify after the move.
    let app = TestApp::spawn(lite.settings()).await;
    let old_texts = pass_codes(&app, 3).await;
    let master = MasterKey::load(&lite.settings()).unwrap();
    Keys::rotate(app.state.store.as_ref(), &master)
        .await
        .unwrap();
    app.stop().await;
    let app = TestApp::spawn(lite.settings()).await;
    let new_texts = pass_codes(&app, 3).await;

    // Two gates admit tickets and upload.
    let dirs = [
        lite.dir.path().join("gate-a"),
        lite.dir.path().join("gate-b"),
    ];
    let codes = [
        code(&app, "Gate-A", "Main Gate").await,
        code(&app, "Gate-B", "North Gate").await,
    ];
    let mut gates = Vec::new();
    for (dir, code) in dirs.iter().zip(codes) {
        let (dir, base) = (dir.clone(), app.base.clone());
        gates.push(
            tokio::task::spawn_blocking(move || enroll_device(dir, base, code))
                .await
                .unwrap(),
        );
    }
    let scans = [
        (0usize, &old_texts[0]),
        (0, &new_texts[0]),
        (1, &old_texts[1]),
        (1, &old_texts[0]),
    ];
    let mut gates = tokio::task::spawn_blocking({
        let scans: Vec<(usize, String)> = scans.iter().map(|(g, t)| (*g, (*t).clone())).collect();
        move || {
            for (g, t) in scans {
                gates[g].scan(&t, Utc::now()).unwrap();
            }
            for g in &mut gates {
                tessera_scanner::sync::sync_once(g, &mut |_, _| {}).unwrap();
            }
            gates
        }
    })
    .await
    .unwrap();
    let events_before: Value = app
        .http
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let head_before = app.state.store.feed_page(1, 0, 1).await.unwrap().head;

    // The move, while the SQLite server still runs.
    let copied = tessera_server::copydb::copy(&lite.url, &pg.url)
        .await
        .unwrap();
    let rows = |t: &str| copied.iter().find(|c| c.table == t).map_or(0, |c| c.rows);
    assert_eq!(rows("signing_keys"), 2);
    assert_eq!(rows("tickets"), 6);
    assert_eq!(rows("devices"), 2);
    assert_eq!(rows("check_ins"), 4);
    app.stop().await;
    // A second copy into the now non-empty target is refused.
    let again = tessera_server::copydb::copy(&lite.url, &pg.url)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again}");

    let mut settings = pg.settings();
    settings.data_dir = lite.dir.path().join("pg-server");
    let moved = TestApp::spawn(settings).await;
    let events_after: Value = moved
        .http
        .get(moved.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events_before, events_after, "the copy answers the same");
    let event = moved.state.store.events().await.unwrap()[0].id;
    assert_eq!(
        moved.state.store.feed_page(event, 0, 1).await.unwrap().head,
        head_before
    );

    // The devices follow the server: no resync, no duplicates; new sales flow.
    let newer = pass_codes(&moved, 2).await;
    let base = moved.base.clone();
    let reports = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for g in &mut gates {
            g.device().set_setting("server_url", &base).unwrap();
            out.push(tessera_scanner::sync::sync_once(g, &mut |_, _| {}).unwrap());
        }
        let admitted = gates[1].scan(&newer[0], Utc::now()).unwrap();
        assert_eq!(admitted.verdict, "admit", "{}", admitted.message);
        assert_eq!(
            admitted.basis,
            Some("replica"),
            "the new ticket came through the feed"
        );
        tessera_scanner::sync::sync_once(&mut gates[1], &mut |_, _| {}).unwrap();
        out
    })
    .await
    .unwrap();
    for r in &reports {
        assert_eq!(
            r.tickets, 2,
            "only the two new tickets, not a resync: {r:?}"
        );
        assert_eq!(r.pushed, 0);
    }
    let stored = moved.state.store.event_check_ins(event).await.unwrap();
    assert_eq!(stored.len(), 5);
    let keys: BTreeSet<_> = stored
        .iter()
        .map(|c| (c.device_id.clone(), c.seq))
        .collect();
    assert_eq!(keys.len(), 5);
    assert_eq!(
        stored.iter().filter(|c| c.conflict).count(),
        1,
        "B's second admission of ticket 1"
    );
    moved.stop().await;
    pg.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_online_backup_holds_every_order_committed_before_it() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    let committed = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut buyers = Vec::new();
    for _ in 0..4 {
        let (http, base) = (app.http.clone(), app.base.clone());
        let (committed, stop) = (committed.clone(), stop.clone());
        buyers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let (status, order) = buy(&http, &base, pass, 1).await;
                if status == 201 {
                    committed
                        .lock()
                        .unwrap()
                        .push(order["id"].as_i64().unwrap());
                }
            }
        }));
    }
    // Let some orders land, note which are committed, back up, keep selling.
    crate::support::eventually("orders", std::time::Duration::from_secs(30), || {
        let n = committed.lock().unwrap().len();
        async move { (n >= 20).then_some(()) }
    })
    .await;
    let before: Vec<i64> = committed.lock().unwrap().clone();
    let file = db.dir.path().join("backup.db");
    let bytes = tessera_server::backup::backup(&db.url, &file)
        .await
        .unwrap();
    assert!(bytes > 0);
    crate::support::eventually(
        "more orders after the backup",
        std::time::Duration::from_secs(30),
        || {
            let n = committed.lock().unwrap().len();
            let want = before.len() + 10;
            async move { (n >= want).then_some(()) }
        },
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for b in buyers {
        b.await.unwrap();
    }
    app.stop().await;
    assert!(
        tessera_server::backup::backup(&db.url, &file)
            .await
            .is_err(),
        "never overwrites"
    );

    // Restore into a fresh data dir; a server there has every order committed before.
    let target = TestDb::sqlite();
    tessera_server::backup::restore(&target.url, &file)
        .await
        .unwrap();
    let restored = target.store().await;
    for id in &before {
        assert!(
            restored.order(*id).await.unwrap().is_some(),
            "order {id} lost"
        );
    }
    let app = TestApp::spawn(target.settings()).await;
    let events: Value = app
        .http
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(events["events"][0]["ticket_types"].as_array().is_some());
    app.stop().await;
    let postgres = tessera_server::backup::backup("postgres://x@127.0.0.1/y", &file)
        .await
        .unwrap_err();
    assert!(postgres.to_string().contains("pg_dump"));
}

fn scrape(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|m| m.metric == name && labels.iter().all(|(k, v)| m.labels.get(k) == Some(*v)))
        .map(|m| match m.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// `/metrics` parses as Prometheus text and moves with orders and check-ins; every response
/// carries a request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_move_with_orders_and_check_ins() {
    let db = TestDb::sqlite();
    let mut settings = db.settings();
    settings.metrics_token = Some(tessera_server::config::Secret::new("scrape-me-5c1b9e"));
    let app = TestApp::spawn(settings).await;
    let get_metrics = || async {
        let res = app
            .http
            .get(app.url("/metrics"))
            .bearer_auth("scrape-me-5c1b9e")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        scrape(&res.text().await.unwrap())
    };
    let before = get_metrics().await;
    let texts = pass_codes(&app, 2).await;
    let gate_code = code(&app, "Gate-M", "Main Gate").await;
    let (dir, base) = (db.dir.path().join("gate"), app.base.clone());
    tokio::task::spawn_blocking(move || {
        let mut s = enroll_device(dir, base, gate_code);
        s.scan(&texts[0], Utc::now()).unwrap();
        tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
    })
    .await
    .unwrap();
    let after = get_metrics().await;
    assert_eq!(
        value(&after, "tessera_tickets_issued_total", &[])
            - value(&before, "tessera_tickets_issued_total", &[]),
        2.0
    );
    assert_eq!(value(&after, "tessera_check_ins_total", &[]), 1.0);
    assert_eq!(
        value(
            &after,
            "tessera_http_requests_total",
            &[
                ("route", "/api/v1/orders"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        1.0
    );
    assert!(
        value(
            &after,
            "tessera_http_requests_total",
            &[("route", "/api/v1/sync/checkins")]
        ) >= 1.0
    );
    assert_eq!(
        value(&after, "tessera_devices", &[("status", "active")]),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "tessera_device_changes_behind",
            &[("name", "Gate-M")]
        ),
        0.0,
        "the device is current"
    );
    assert!(value(&after, "tessera_emails", &[]) >= 1.0);
    assert!(value(&after, "tessera_feed_head", &[]) > value(&before, "tessera_feed_head", &[]));

    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16);
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "proxy-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "proxy-abc-123");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["migrations"], "ok");
    app.stop().await;
}

/// `/readyz` says 503 when the database goes away; `/healthz` (liveness) still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_fails_when_the_database_is_unreachable() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let app = TestApp::spawn(pg.settings()).await;
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // The database disappears under the running server.
    let name = pg.url.rsplit('/').next().unwrap().to_owned();
    let base = std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"], "unreachable");
    app.stop().await;
}

/// A round-robin TCP proxy on 127.0.0.1: each new connection goes to the next upstream.
async fn proxy(upstreams: Vec<String>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let targets: Vec<String> = upstreams
        .iter()
        .map(|u| u.trim_start_matches("http://").to_owned())
        .collect();
    let task = tokio::spawn(async move {
        let mut next = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = targets[next % targets.len()].clone();
            next += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{addr}"), task)
}

/// Two server processes on one PostgreSQL behind a proxy: buyers spread over both never
/// oversell, and two devices syncing through it lose no check-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_behind_a_proxy_sell_and_sync_as_one() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store().await;
    tessera_server::app::catalog::seed_demo(store.as_ref(), Utc::now())
        .await
        .unwrap();
    let event = store.events().await.unwrap()[0].id;
    let scarce = tessera_server::app::catalog::create_ticket_type(
        store.as_ref(),
        &tessera_server::store::NewTicketType {
            event_id: event,
            name: "Last Thirty".into(),
            kind: tessera_server::store::TicketKind::Pass,
            price_cents: 3500,
            currency: "USD".into(),
            capacity: 30,
            days_mask: 0b111,
            zones: 1,
            transferable: true,
        },
    )
    .await
    .unwrap();
    let env = [("TESSERA_DATABASE_URL", db.url.clone())];
    let dir = db.dir.path().display().to_string();
    let one = crate::support::server_process(&["serve", "--data-dir", &dir], &env);
    let two = crate::support::server_process(&["serve", "--data-dir", &dir], &env);
    let (front, proxy_task) = proxy(vec![one.base.clone(), two.base.clone()]).await;

    // 80 buyers, each on a connection of its own, for 30 tickets.
    let buyers: Vec<_> = (0..80)
        .map(|_| {
            let front = front.clone();
            tokio::spawn(async move { buy(&reqwest::Client::new(), &front, scarce, 1).await })
        })
        .collect();
    let mut texts = Vec::new();
    let mut created = 0;
    for b in buyers {
        let (status, order) = b.await.unwrap();
        match status {
            201 => {
                created += 1;
                texts.push(order["tickets"][0]["qr_text"].as_str().unwrap().to_owned());
            }
            409 => {}
            other => panic!("unexpected status {other}: {order}"),
        }
    }
    assert_eq!(created, 30);
    let tt = store
        .ticket_types()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == scarce)
        .unwrap();
    assert_eq!((tt.sold, tt.remaining()), (30, 0), "never oversold");

    // Two gates enroll and sync through the proxy; every acknowledged check-in is stored.
    let state = tessera_server::open(db.settings()).await.unwrap();
    let mut codes = Vec::new();
    for name in ["Gate-1", "Gate-2"] {
        codes.push(
            tessera_server::app::devices::create_device_code(
                &state,
                event,
                name,
                Some("Main Gate"),
                chrono::Duration::hours(1),
                Utc::now(),
            )
            .await
            .unwrap(),
        );
    }
    let root = db.dir.path().to_owned();
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked = 0;
        for (i, code) in codes.into_iter().enumerate() {
            let mut s = enroll_device(root.join(format!("gate-{i}")), front.clone(), code);
            for t in texts.iter().skip(i * 15).take(15) {
                s.scan(t, Utc::now()).unwrap();
            }
            // Several rounds, so both instances serve this device.
            for _ in 0..3 {
                tessera_scanner::sync::sync_with(
                    &mut s,
                    tessera_scanner::sync::SyncOptions { batch: 4, page: 7 },
                    &mut |_, _| {},
                )
                .unwrap();
            }
            acked += s.device().all().unwrap().iter().filter(|q| q.acked).count();
            let status = s.status(Utc::now()).unwrap();
            assert_eq!(
                status.replica.tickets, 30,
                "the whole feed arrived through both instances"
            );
        }
        acked
    })
    .await
    .unwrap();
    assert_eq!(acked, 30);
    let stored = store.event_check_ins(event).await.unwrap();
    assert_eq!(stored.len(), 30);
    assert!(stored.iter().all(|c| c.server_admitted && !c.conflict));
    proxy_task.abort();
    one.kill();
    two.kill();
    db.cleanup().await;
}

/// SIGTERM in the middle of a burst of orders and uploads: the server finishes what it
/// accepted, then exits cleanly; every acknowledged request is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_loses_no_acknowledged_request() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    let mut server = crate::support::server_process(&["demo", "--data-dir", &dir], &[]);
    let store = db.store().await;
    let pass = ticket_type_id(store.as_ref(), "1-Day Pass").await;
    let event = store.events().await.unwrap()[0].id;
    let state = tessera_server::open(db.settings()).await.unwrap();
    let code = tessera_server::app::devices::create_device_code(
        &state,
        event,
        "Gate",
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let (_, order) = buy(&reqwest::Client::new(), &server.base, pass, 20).await;
    let texts: Vec<String> = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qr_text"].as_str().unwrap().to_owned())
        .collect();
    let device_dir = db.dir.path().join("gate");
    let base = server.base.clone();
    tokio::task::spawn_blocking({
        let device_dir = device_dir.clone();
        move || {
            let mut s = enroll_device(device_dir, base, code);
            for t in &texts {
                s.scan(t, Utc::now()).unwrap();
            }
        }
    })
    .await
    .unwrap();

    // The burst: buyers in a loop, and the device uploading one check-in per request.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let mut buyers = Vec::new();
    for _ in 0..6 {
        let (base, acknowledged) = (server.base.clone(), acknowledged.clone());
        buyers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..200 {
                match http
                    .post(format!("{base}/api/v1/orders"))
                    .json(&serde_json::json!({"email": "a@example.com", "name": "A",
                                              "items": [{"ticket_type": pass, "quantity": 1}]}))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = r.json().await.unwrap();
                        acknowledged.lock().unwrap().push(v["id"].as_i64().unwrap());
                    }
                    Ok(_) => {}
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    let uploader = tokio::task::spawn_blocking({
        let device_dir = device_dir.clone();
        move || {
            let mut s = tessera_scanner::Scanner::open(&device_dir).unwrap();
            let _ = tessera_scanner::sync::sync_with(
                &mut s,
                tessera_scanner::sync::SyncOptions {
                    batch: 1,
                    page: 5000,
                },
                &mut |_, _| {},
            );
            s.device()
                .all()
                .unwrap()
                .iter()
                .filter(|q| q.acked)
                .map(|q| q.seq)
                .collect::<Vec<_>>()
        }
    });
    crate::support::eventually(
        "orders in flight",
        std::time::Duration::from_secs(30),
        || {
            let n = acknowledged.lock().unwrap().len();
            async move { (n >= 30).then_some(()) }
        },
    )
    .await;
    let pid = server.child.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
    for b in buyers {
        b.await.unwrap();
    }
    let acked_seqs = uploader.await.unwrap();

    let acknowledged: Vec<i64> = acknowledged.lock().unwrap().clone();
    for id in &acknowledged {
        assert!(
            store.order(*id).await.unwrap().is_some(),
            "acknowledged order {id} lost"
        );
    }
    let stored: BTreeSet<i64> = store
        .event_check_ins(event)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    for seq in acked_seqs {
        assert!(
            stored.contains(&(seq as i64)),
            "acknowledged check-in {seq} lost"
        );
    }
}
