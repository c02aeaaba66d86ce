//! End-to-end harness: the sync server in-process (its own thread and runtime, restartable on
//! the same port, on SQLite or a fresh PostgreSQL database) and gate devices through the
//! `tessera-scanner` library, exactly as `tessera-scan` drives them. The stories themselves
//! are in `tests/it/`.
#![allow(clippy::print_stderr)] // A skipped PostgreSQL story says so loudly.

pub mod webdriver;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};
use tessera_scanner::Scanner;
use tessera_server::Services;
use tessera_server::config::{Secret, Settings};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// The master key every test server uses.
pub const MASTER_KEY: &str = "5151515151515151515151515151515151515151515151515151515151515151";

/// A database of its own: a SQLite file in a temp dir, or a PostgreSQL database dropped on drop.
pub struct Db {
    /// Its URL.
    pub url: String,
    /// Where the server keeps its files.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    rt: Arc<Runtime>,
}

fn runtime() -> Arc<Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}")),
    )
}

impl Db {
    /// A SQLite database.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
        Self {
            url,
            dir,
            pg: None,
            rt: runtime(),
        }
    }

    /// A fresh PostgreSQL database, or `None` with a loud message when PostgreSQL is not
    /// reachable outside CI; in CI (`CI` set) that is a failure.
    pub fn postgres() -> Option<Self> {
        let in_ci = std::env::var_os("CI").is_some();
        let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
            assert!(
                !in_ci,
                "TESSERA_TEST_POSTGRES_URL is not set, and CI needs PostgreSQL"
            );
            eprintln!(
                "SKIPPING PostgreSQL story: TESSERA_TEST_POSTGRES_URL is not set (./scripts/test sets it)"
            );
            return None;
        };
        let rt = runtime();
        let name = format!("tessera_e2e_{:016x}", random_u64());
        let created = rt.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&base).await?;
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await?;
            admin.close().await
        });
        if let Err(e) = created {
            assert!(
                !in_ci,
                "PostgreSQL at TESSERA_TEST_POSTGRES_URL is unreachable in CI: {e}"
            );
            eprintln!("SKIPPING PostgreSQL story: cannot reach TESSERA_TEST_POSTGRES_URL: {e}");
            return None;
        }
        let head = base.split('?').next().unwrap_or(&base);
        let host = head
            .rfind('/')
            .filter(|&i| i > head.find("://").map_or(0, |j| j + 2))
            .map_or(head, |i| &head[..i]);
        Some(Self {
            url: format!("{host}/{name}"),
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
            pg: Some((base, name)),
            rt,
        })
    }

    /// Runs a future on this database's runtime (for store calls from a test).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            let _ = self.rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&base).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map(|_| ())
            });
        }
    }
}

/// A random number from the OS.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    tessera_server::app::keys::random_bytes(&mut b).unwrap_or_else(|e| panic!("random: {e}"));
    u64::from_le_bytes(b)
}

/// The demo server, in-process on a fixed port so it can be stopped and started again at
/// the same address, as a server that goes away and comes back.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its state, for store calls.
    pub state: Services,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    rt: Arc<Runtime>,
}

fn settings(db: &Db, port: u16) -> Settings {
    Settings {
        data_dir: db.dir.path().to_owned(),
        database_url: Some(Secret::new(db.url.clone())),
        master_key: Some(Secret::new(MASTER_KEY)),
        demo: true,
        public_url: Some(format!("http://127.0.0.1:{port}")),
        ..Settings::default()
    }
}

impl Server {
    /// Starts the demo server on a free port.
    pub fn start(db: &Db) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("free port: {e}"));
        Self::start_on(db, port)
    }

    /// Starts the demo server on `port`.
    pub fn start_on(db: &Db, port: u16) -> Self {
        let rt = db.rt.clone();
        let (state, listener) = rt.block_on(async {
            let state = tessera_server::open(settings(db, port))
                .await
                .unwrap_or_else(|e| panic!("open server: {e}"));
            // The port was just released by the previous instance: retry briefly.
            let deadline = Instant::now() + Duration::from_secs(10);
            let listener = loop {
                match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => break l,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
                }
            };
            (state, listener)
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        let task = rt.spawn(async move {
            let _ = tessera_server::serve_state(served, listener, async {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            port,
            stop: Some(stop),
            task: Some(task),
            rt,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it (the network is gone for the devices).
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.rt.block_on(task);
        }
    }

    /// A one-time enrollment code for a device at a gate, as `tessera-server device-code` makes.
    pub fn device_code(&self, name: &str, gate: &str) -> String {
        let event = self.demo_event();
        self.rt
            .block_on(tessera_server::app::devices::create_device_code(
                &self.state,
                event,
                name,
                Some(gate),
                chrono::Duration::hours(1),
                chrono::Utc::now(),
            ))
            .unwrap_or_else(|e| panic!("device code: {e}"))
    }

    /// The demo event's id.
    pub fn demo_event(&self) -> i64 {
        let events = self
            .rt
            .block_on(self.state.store.events())
            .unwrap_or_else(|e| panic!("events: {e}"));
        events
            .first()
            .map(|e| e.id)
            .unwrap_or_else(|| panic!("no demo event"))
    }

    /// Buys `quantity` 3-Day Passes through the API; returns each ticket's id and QR text.
    pub fn buy(&self, quantity: u32) -> Vec<(u64, String)> {
        self.buy_order(quantity).1
    }

    /// Buys `quantity` 3-Day Passes; returns the order (id, access token) and the tickets.
    pub fn buy_order(&self, quantity: u32) -> ((u64, String), Vec<(u64, String)>) {
        let types = self
            .rt
            .block_on(self.state.store.ticket_types())
            .unwrap_or_else(|e| panic!("ticket types: {e}"));
        let pass = types
            .iter()
            .find(|t| t.name == "3-Day Pass")
            .unwrap_or_else(|| panic!("no 3-Day Pass"));
        let body = serde_json::json!({
            "email": "guest@example.com",
            "name": "Guest",
            "items": [{"ticket_type": pass.id, "quantity": quantity}],
        });
        let mut resp = ureq::post(&format!("{}/api/v1/orders", self.url))
            .send_json(&body)
            .unwrap_or_else(|e| panic!("order: {e}"));
        let order: serde_json::Value = resp
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("order body: {e}"));
        let tickets = order["tickets"]
            .as_array()
            .unwrap_or_else(|| panic!("no tickets in {order}"))
            .iter()
            .map(|t| {
                (
                    t["id"].as_u64().unwrap_or_default(),
                    t["qr_text"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let id = order["id"].as_u64().unwrap_or_default();
        let token = order["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ((id, token), tickets)
    }

    /// Runs a store call.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.rt.block_on(task);
        }
    }
}

/// A gate device: a data dir and the scanner library over it.
pub struct Device {
    /// Its data dir.
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
    /// The library, as `tessera-scan` uses it.
    pub scanner: Scanner,
}

impl Device {
    /// Enrolls a new device with a code and syncs it once.
    pub fn enroll(server: &Server, name: &str, gate: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let dir = tmp.path().join("device");
        let mut scanner = Scanner::open(&dir).unwrap_or_else(|e| panic!("open device: {e}"));
        let code = server.device_code(name, gate);
        tessera_scanner::sync::enroll(&mut scanner, &server.url, &code, "test")
            .unwrap_or_else(|e| panic!("enroll: {e}"));
        let mut d = Self {
            dir,
            _tmp: tmp,
            scanner,
        };
        d.sync().unwrap_or_else(|e| panic!("first sync: {e}"));
        d
    }

    /// One sync round.
    pub fn sync(
        &mut self,
    ) -> Result<tessera_scanner::sync::SyncReport, tessera_scanner::sync::SyncError> {
        tessera_scanner::sync::sync_once(&mut self.scanner, &mut |_, _| {})
    }

    /// Scans a text now.
    pub fn scan(&mut self, text: &str) -> tessera_scanner::ScanReport {
        self.scanner
            .scan(text, chrono::Utc::now())
            .unwrap_or_else(|e| panic!("scan: {e}"))
    }
}
