//! Storage faults while orders and check-in uploads stream in: the data directory on a small
//! tmpfs that is filled and then freed (pool sizes 1, 2 and 8), the server killed with
//! SIGKILL and restarted, PostgreSQL backends terminated mid-transaction. The promise under
//! test: nothing the server acknowledged (a 201 order, a stored check-in) is ever missing,
//! refusals are 503 `storage_unavailable` (never a 500), `/readyz` is not ready while the
//! disk is full, and service comes back without a restart once space is freed.
//!
//! Mounting a tmpfs needs root (CI has it); elsewhere the SQLite tests skip loudly, and in CI
//! (`CI` set) they fail instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use tessera_core::sync::PROTOCOL;
use tokio::sync::Mutex;

use crate::support::{ServerProcess, TestDb, random_u64, server_bin, server_process};

/// A tmpfs the test mounts, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `mib` MiB, or `None` (loudly) where mounting is not allowed outside CI.
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(Self { dir }),
            other => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI runs as root and must mount a tmpfs for the full-disk tests: {other:?}"
                );
                eprintln!(
                    "SKIPPING full-disk test: cannot mount a tmpfs here (needs root): {other:?}"
                );
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros into `path` until the disk refuses; returns how many bytes fit.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    // The last blocks: a short write can leave a page's room.
    while file.write(&chunk[..512]).is_ok_and(|n| n > 0) {}
    let _ = file.sync_all();
    written
}

/// What the server acknowledged, and every answer it gave.
#[derive(Default)]
struct Ledger {
    /// Order id, access token, ticket ids.
    orders: Vec<(i64, String, Vec<i64>)>,
    /// (device id, seq) of every check-in an upload answered as stored.
    check_ins: BTreeSet<(String, u64)>,
    /// Refusals by status and error code.
    refusals: BTreeMap<(u16, String), usize>,
}

impl Ledger {
    fn refuse(&mut self, status: u16, body: &Value) {
        let code = body["error"].as_str().unwrap_or("no JSON body").to_owned();
        *self.refusals.entry((status, code)).or_default() += 1;
    }

    fn server_errors(&self) -> Vec<String> {
        self.refusals
            .iter()
            .filter(|((status, code), _)| {
                *status >= 500 && !(*status == 503 && code == "storage_unavailable")
            })
            .map(|((s, c), n)| format!("{n} x {s} {c}"))
            .collect()
    }

    fn unavailable(&self) -> usize {
        self.refusals
            .get(&(503, "storage_unavailable".to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// A gate that uploads numbered check-ins and, like the real one, sends a batch again until
/// it is acknowledged.
struct Gate {
    device_id: String,
    token: String,
    next_seq: u64,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Places one demo order; records a 201 in the ledger.
async fn order(http: &reqwest::Client, base: &str, ledger: &Mutex<Ledger>) -> Option<u16> {
    let res = http
        .post(format!("{base}/api/v1/orders"))
        .json(&json!({
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "items": [{"ticket_type": 1, "quantity": 1}],
        }))
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let mut ledger = ledger.lock().await;
    if status == 201 {
        let tickets = body["tickets"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["id"].as_i64()).collect())
            .unwrap_or_default();
        ledger.orders.push((
            body["id"].as_i64().expect("order id"),
            body["access_token"].as_str().expect("token").to_owned(),
            tickets,
        ));
    } else {
        ledger.refuse(status, &body);
    }
    Some(status)
}

/// Uploads the gate's next batch of five; on success the gate moves on.
async fn upload(http: &reqwest::Client, base: &str, gate: &mut Gate, ledger: &Mutex<Ledger>) {
    let first = gate.next_seq;
    let check_ins: Vec<Value> = (first..first + 5)
        .map(|seq| {
            json!({"seq": seq, "text": null, "at": Utc::now(), "gate": "Main Gate",
                   "direction": "entry", "admitted": false, "reason": "unreadable"})
        })
        .collect();
    let Ok(res) = http
        .post(format!("{base}/api/v1/sync/checkins"))
        .bearer_auth(&gate.token)
        .json(&json!({"protocol": PROTOCOL, "device_time": Utc::now(), "check_ins": check_ins}))
        .send()
        .await
    else {
        return;
    };
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let mut ledger = ledger.lock().await;
    if status == 200 {
        let results = body["results"].as_array().expect("results");
        assert_eq!(results.len(), 5, "{body}");
        for r in results {
            ledger
                .check_ins
                .insert((gate.device_id.clone(), r["seq"].as_u64().expect("seq")));
        }
        gate.next_seq += 5;
    } else {
        ledger.refuse(status, &body);
    }
}

/// Orders and uploads from two buyers and three gates until `stop`.
fn stream(
    base: &str,
    gates: Vec<Gate>,
    ledger: &Arc<Mutex<Ledger>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (base, ledger, stop) = (base.to_owned(), ledger.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                order(&http, &base, &ledger).await;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }));
    }
    for mut gate in gates {
        let (base, ledger, stop) = (base.to_owned(), ledger.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                upload(&http, &base, &mut gate, &ledger).await;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }));
    }
    tasks
}

/// Creates an enrollment code with the CLI and enrolls a gate over HTTP.
async fn enroll(base: &str, data_dir: &Path, database_url: Option<&str>, n: usize) -> Gate {
    let mut cmd = Command::new(server_bin());
    cmd.args(["device-code", "--name", &format!("Gate-{n}")])
        .args(["--gate", "Main Gate", "--data-dir"])
        .arg(data_dir)
        .env("TESSERA_MASTER_KEY", crate::support::MASTER_KEY)
        .env("TESSERA_LOG", "warn");
    if let Some(url) = database_url {
        cmd.env("TESSERA_DATABASE_URL", url);
    }
    let out = cmd.output().expect("device-code");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("code line")
        .trim()
        .to_owned();
    let device_id = format!("{:016x}{:016x}", random_u64(), random_u64());
    let res = client()
        .post(format!("{base}/api/v1/sync/enroll"))
        .json(
            &json!({"protocol": PROTOCOL, "code": code, "device_id": device_id,
                      "app_version": "t", "device_time": Utc::now()}),
        )
        .send()
        .await
        .expect("enroll");
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let body: Value = res.json().await.expect("enroll body");
    Gate {
        device_id,
        token: body["token"].as_str().expect("token").to_owned(),
        next_seq: 1,
    }
}

async fn readyz(base: &str) -> Option<u16> {
    let res = client().get(format!("{base}/readyz")).send().await.ok()?;
    Some(res.status().as_u16())
}

/// Every acknowledged order and check-in is in the database at `url`.
async fn assert_nothing_lost(url: &str, ledger: &Ledger, when: &str) {
    let store = tessera_server::store::open(url, 2)
        .await
        .expect("open store");
    for (id, _, tickets) in &ledger.orders {
        let order = store.order(*id).await.expect("read order");
        assert!(
            order.is_some(),
            "{when}: acknowledged order {id} is missing"
        );
        let stored: BTreeSet<i64> = store
            .order_tickets(*id)
            .await
            .expect("read tickets")
            .iter()
            .map(|t| t.id)
            .collect();
        for t in tickets {
            assert!(
                stored.contains(t),
                "{when}: ticket {t} of acknowledged order {id} is missing"
            );
        }
    }
    let event = store.events().await.expect("events")[0].id;
    let stored: BTreeSet<(String, u64)> = store
        .event_check_ins(event)
        .await
        .expect("read check-ins")
        .into_iter()
        .map(|c| (c.device_id, u64::try_from(c.seq).expect("seq")))
        .collect();
    let missing: Vec<_> = ledger.check_ins.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{when}: {} acknowledged check-ins are missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// The full-disk run for one pool size.
async fn full_disk(pool: u32) {
    let Some(disk) = Tmpfs::mount(12) else { return };
    let dir = disk.path().join("data");
    let dir_arg = dir.display().to_string();
    let url = format!("sqlite://{}", dir.join("tessera.db").display());
    // The guard is off: this run is about the database meeting a full disk itself.
    let env = [
        ("TESSERA_DATABASE_MAX_CONNECTIONS", pool.to_string()),
        ("TESSERA_MIN_FREE_BYTES", "0".to_owned()),
    ];
    let args = ["demo", "--data-dir", &dir_arg];
    let server = server_process(&args, &env);
    let mut gates = Vec::new();
    for n in 0..3 {
        gates.push(enroll(&server.base, &dir, None, n).await);
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = stream(&server.base, gates, &ledger, &stop);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let filler = disk.path().join("filler");
    let fitted = tokio::task::spawn_blocking({
        let filler = filler.clone();
        move || fill(&filler)
    })
    .await
    .expect("fill");
    assert!(fitted > 0, "the tmpfs had room to fill");
    // While the disk is full: refusals are 503s, and readiness says so.
    let full_since = Instant::now();
    let mut not_ready = false;
    while full_since.elapsed() < Duration::from_secs(3) {
        not_ready |= readyz(&server.base).await == Some(503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        not_ready,
        "pool {pool}: /readyz stayed ready on a full disk"
    );
    let during = ledger.lock().await.unavailable();

    std::fs::remove_file(&filler).expect("free the space");
    let freed = Instant::now();
    let probe = client();
    let probe_ledger = Mutex::new(Ledger::default());
    loop {
        let ordered = order(&probe, &server.base, &probe_ledger).await == Some(201);
        if ordered && readyz(&server.base).await == Some(200) {
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(10),
            "pool {pool}: no recovery within 10 s of freeing space: {:?}",
            probe_ledger.lock().await.refusals
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovery = freed.elapsed();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("stream task");
    }
    let mut ledger = Arc::try_unwrap(ledger).ok().expect("ledger").into_inner();
    ledger.orders.extend(probe_ledger.into_inner().orders);
    eprintln!(
        "pool {pool}: {} orders and {} check-ins acknowledged; refusals {:?}; recovered in {recovery:?}",
        ledger.orders.len(),
        ledger.check_ins.len(),
        ledger.refusals
    );
    assert!(
        during > 0,
        "pool {pool}: nothing was refused on a full disk"
    );
    assert!(
        ledger.server_errors().is_empty(),
        "pool {pool}: answers other than 503 storage_unavailable: {:?}",
        ledger.server_errors()
    );

    assert_nothing_lost(&url, &ledger, "after freeing space").await;
    server.kill();
    assert_nothing_lost(&url, &ledger, "after kill -9").await;
    let restarted = server_process(&args, &env);
    assert_eq!(readyz(&restarted.base).await, Some(200));
    let http = client();
    for (id, token, tickets) in &ledger.orders {
        let res = http
            .get(restarted.base.clone() + &format!("/api/v1/orders/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("get order");
        assert_eq!(res.status(), 200, "after restart: order {id}");
        let body: Value = res.json().await.expect("order body");
        assert_eq!(
            body["tickets"].as_array().map(Vec::len),
            Some(tickets.len()),
            "after restart: order {id}"
        );
    }
    assert_nothing_lost(&url, &ledger, "after restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_disk_with_one_connection_loses_nothing_acknowledged() {
    full_disk(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_disk_with_two_connections_loses_nothing_acknowledged() {
    full_disk(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_disk_with_eight_connections_loses_nothing_acknowledged() {
    full_disk(8).await;
}

/// The free-space guard refuses sales and uploads before the disk fills, says so in
/// `/readyz` and `/metrics`, and lets go once space is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_free_space_guard_refuses_before_the_disk_fills() {
    let Some(disk) = Tmpfs::mount(16) else { return };
    let dir = disk.path().join("data");
    let dir_arg = dir.display().to_string();
    let env = [
        ("TESSERA_MIN_FREE_BYTES", (8u64 << 20).to_string()),
        ("TESSERA_METRICS_TOKEN", "scrape-me-5c1b9e".to_owned()),
    ];
    let server = server_process(&["demo", "--data-dir", &dir_arg], &env);
    let gate = enroll(&server.base, &dir, None, 0).await;
    let http = client();
    let ledger = Mutex::new(Ledger::default());
    assert_eq!(order(&http, &server.base, &ledger).await, Some(201));

    // Leave 4 MiB: below the 8 MiB floor, far from full.
    let filler = disk.path().join("filler");
    let free = rustix::fs::statvfs(disk.path()).expect("statvfs");
    let leave = 4u64 << 20;
    let size = (free.f_bavail * free.f_frsize).saturating_sub(leave);
    std::fs::write(&filler, vec![0u8; usize::try_from(size).expect("size")]).expect("filler");

    let res = http
        .post(format!("{}/api/v1/orders", server.base))
        .json(&json!({"email": "ada@example.com", "name": "Ada Lovelace",
                      "items": [{"ticket_type": 1, "quantity": 1}]}))
        .send()
        .await
        .expect("order");
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.expect("body");
    assert_eq!(body["error"], "storage_unavailable", "{body}");
    let mut g = gate;
    let before = ledger.lock().await.check_ins.len();
    upload(&http, &server.base, &mut g, &ledger).await;
    assert_eq!(
        ledger.lock().await.check_ins.len(),
        before,
        "upload refused"
    );
    assert_eq!(g.next_seq, 1, "the gate keeps its batch");
    let ready: Value = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("readyz body");
    assert_eq!(ready["status"], "not_ready");
    assert!(
        ready["checks"]["disk"].as_str().unwrap().starts_with("low"),
        "{ready}"
    );
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .bearer_auth("scrape-me-5c1b9e")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(metrics.contains("tessera_storage_low 1"), "{metrics}");
    assert!(
        metrics.contains("tessera_storage_refusals_total 2"),
        "{metrics}"
    );

    std::fs::remove_file(&filler).expect("free");
    assert_eq!(order(&http, &server.base, &ledger).await, Some(201));
    upload(&http, &server.base, &mut g, &ledger).await;
    assert_eq!(g.next_seq, 6, "the batch went through once space was back");
    assert_eq!(readyz(&server.base).await, Some(200));
}

/// PostgreSQL: every backend of the server's database is terminated again and again while
/// orders and uploads stream; nothing acknowledged is lost, through a SIGKILL and restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_postgres_backends_lose_nothing_acknowledged() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = db.dir.path().to_owned();
    let dir_arg = dir.display().to_string();
    let env = [
        ("TESSERA_DATABASE_URL", db.url.clone()),
        ("TESSERA_DATABASE_MAX_CONNECTIONS", "4".to_owned()),
    ];
    let args = ["demo", "--data-dir", &dir_arg];
    let server = server_process(&args, &env);
    let mut gates = Vec::new();
    for n in 0..3 {
        gates.push(enroll(&server.base, &dir, Some(&db.url), n).await);
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = stream(&server.base, gates, &ledger, &stop);

    let base_url = std::env::var("TESSERA_TEST_POSTGRES_URL").expect("postgres url");
    let name = db.url.rsplit('/').next().expect("db name").to_owned();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base_url)
        .await
        .expect("admin connection");
    let mut terminated = 0i64;
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
        terminated += n;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("stream task");
    }
    let ledger = Arc::try_unwrap(ledger).ok().expect("ledger").into_inner();
    eprintln!(
        "postgres: {terminated} backends terminated; {} orders and {} check-ins acknowledged; refusals {:?}",
        ledger.orders.len(),
        ledger.check_ins.len(),
        ledger.refusals
    );
    assert!(terminated > 0, "no backend was terminated");
    assert!(!ledger.orders.is_empty() && !ledger.check_ins.is_empty());
    assert!(
        ledger.server_errors().is_empty(),
        "answers other than 503 storage_unavailable: {:?}",
        ledger.server_errors()
    );
    // Service without a restart: an order goes through now.
    let probe = Mutex::new(Ledger::default());
    assert_eq!(order(&client(), &server.base, &probe).await, Some(201));
    assert_eq!(readyz(&server.base).await, Some(200));

    assert_nothing_lost(&db.url, &ledger, "after the terminations").await;
    server.kill();
    let restarted: ServerProcess = server_process(&args, &env);
    assert_eq!(readyz(&restarted.base).await, Some(200));
    assert_nothing_lost(&db.url, &ledger, "after kill -9 and restart").await;
    drop(restarted);
    db.cleanup().await;
}
