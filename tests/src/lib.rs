//! The test harness of the server's tests and the end-to-end stories. [`harness`] is the
//! async core both use (databases, the server in-process or as a process, the SMTP sink, the
//! typed client); this module drives it from synchronous stories: the server on its own
//! runtime, restartable on the same port, and gate devices through the `tessera-scanner`
//! library, exactly as `tessera-scan` drives them. The stories themselves are in `tests/it/`.
#![allow(clippy::print_stderr)] // A skipped PostgreSQL story says so loudly.

pub mod gate_page;
pub mod harness;
pub mod webdriver;

pub use harness::{MASTER_KEY, TestApp, TestDb, free_port, random_u64};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_scanner::Scanner;
use tessera_server::Services;
use tessera_server::app::{catalog, orders};
use tessera_server::store::{NewEvent, NewTicketType, Payment, TicketKind};
use tokio::runtime::Runtime;

/// Holder names of the benchmarks' festivals.
const FIRST: [&str; 8] = [
    "Ana", "Omar", "Layla", "Sami", "Nour", "Karim", "Yasmin", "Tariq",
];
/// And their family names.
const LAST: [&str; 8] = [
    "Haddad", "Khalil", "Nasser", "Aziz", "Farah", "Saleh", "Mansour", "Darwish",
];

/// A database of its own with the runtime that blocking stories run their async calls on:
/// the harness's [`TestDb`] (so PostgreSQL is provisioned in one place), driven from
/// synchronous code.
pub struct Db {
    db: TestDb,
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
        Self {
            db: TestDb::sqlite(),
            rt: runtime(),
        }
    }

    /// A fresh PostgreSQL database, or `None` with a loud message when PostgreSQL is not
    /// reachable outside CI; in CI (`CI` set) that is a failure.
    pub fn postgres() -> Option<Self> {
        let rt = runtime();
        let db = rt.block_on(TestDb::postgres())?;
        Some(Self { db, rt })
    }

    /// Runs a future on this database's runtime (for store calls from a test).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl std::ops::Deref for Db {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.db
    }
}

/// The demo server, in-process on a fixed port so it can be stopped and started again at
/// the same address, as a server that goes away and comes back.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its state, for store calls.
    pub state: Services,
    port: u16,
    app: Option<TestApp>,
    rt: Arc<Runtime>,
}

impl Server {
    /// Starts the demo server on a free port.
    pub fn start(db: &Db) -> Self {
        Self::start_on(db, free_port())
    }

    /// Starts the demo server on `port`.
    pub fn start_on(db: &Db, port: u16) -> Self {
        Self::start_at(db, std::net::Ipv4Addr::LOCALHOST, port)
    }

    /// Starts the demo server on `ip:port` (a test network's address, for gates in network
    /// namespaces of their own).
    pub fn start_at(db: &Db, ip: std::net::Ipv4Addr, port: u16) -> Self {
        let rt = db.rt.clone();
        let app = rt.block_on(async {
            // The port was just released by the previous instance: retry briefly.
            let deadline = Instant::now() + Duration::from_secs(10);
            let listener = loop {
                match tokio::net::TcpListener::bind((ip, port)).await {
                    Ok(l) => break l,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("bind {ip}:{port}: {e}"),
                }
            };
            TestApp::serve(db.settings(), listener).await
        });
        Self {
            url: app.base.clone(),
            state: app.state.clone(),
            port,
            app: Some(app),
            rt,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it (the network is gone for the devices).
    pub fn stop(mut self) {
        if let Some(app) = self.app.take() {
            self.rt.block_on(app.stop());
        }
    }

    /// A one-time enrollment code for a device at a gate of the demo event, as
    /// `tessera-server device-code` makes.
    pub fn device_code(&self, name: &str, gate: &str) -> String {
        self.device_code_for(self.demo_event(), name, gate)
    }

    /// A one-time enrollment code for a device at a gate of `event`.
    pub fn device_code_for(&self, event: i64, name: &str, gate: &str) -> String {
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

    /// Sells `n` tickets of a fresh three-day event "Bench Fest" (one gate, "Main Gate") in
    /// comp orders of 4 with varied holder names, straight through the store; returns the
    /// event id and the tickets' QR texts. For the benchmarks' full-size festivals.
    pub fn sell_event(&self, n: usize) -> (i64, Vec<String>) {
        let store = self.state.store.clone();
        self.block_on(async {
            let event = catalog::create_event(
                store.as_ref(),
                &NewEvent {
                    name: "Bench Fest".into(),
                    venue: "Bench".into(),
                    timezone: "America/Los_Angeles".into(),
                    days: catalog::consecutive_days(chrono::Utc::now().date_naive(), 3),
                    gates: vec![("Main Gate".into(), 1)],
                    created_at: chrono::Utc::now().timestamp(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("event: {e}"));
            let tt = catalog::create_ticket_type(
                store.as_ref(),
                &NewTicketType {
                    event_id: event,
                    name: "Bench Pass".into(),
                    kind: TicketKind::Pass,
                    price_cents: 3500,
                    currency: "USD".into(),
                    capacity: i64::try_from(n).unwrap_or(i64::MAX),
                    days_mask: 0b111,
                    zones: 1,
                    transferable: true,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("ticket type: {e}"));
            let keys = self.state.keys.read().await.clone();
            let mut texts = Vec::with_capacity(n);
            for i in 0..n.div_ceil(4) {
                let name = format!("{} {} {i}", FIRST[i % 8], LAST[(i / 8) % 8]);
                let quantity = (n - i * 4).min(4);
                let placed = orders::place(
                    store.as_ref(),
                    keys.signer(),
                    &self.state.master,
                    &orders::OrderRequest {
                        email: format!("guest{i}@example.com"),
                        name,
                        items: vec![(tt, i64::try_from(quantity).unwrap_or(4))],
                        idempotency: None,
                        lang: tessera_server::domain::i18n::Lang::En,
                    },
                    Payment::Comp,
                    chrono::Utc::now(),
                    1000,
                )
                .await
                .unwrap_or_else(|e| panic!("order: {e}"));
                for t in store
                    .order_tickets(placed.id)
                    .await
                    .unwrap_or_else(|e| panic!("tickets: {e}"))
                {
                    texts.push(t.qr_text);
                }
            }
            (event, texts)
        })
    }

    /// Runs a store call.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(app) = self.app.take() {
            self.rt.block_on(app.stop());
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
        Self::enroll_with_clock(server, name, gate, chrono::TimeDelta::zero())
    }

    /// Enrolls a new device whose clock is `shift` off the machine's (a gate with a wrong
    /// clock: the real scanner code, enrollment and sync included, reads it).
    pub fn enroll_with_clock(
        server: &Server,
        name: &str,
        gate: &str,
        shift: chrono::TimeDelta,
    ) -> Self {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let dir = tmp.path().join("device");
        let mut scanner = Scanner::open(&dir).unwrap_or_else(|e| panic!("open device: {e}"));
        scanner.set_clock(tessera_scanner::clock::Clock::shifted(shift));
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

    /// Sets this device's clock `shift` off the machine's from now on (someone sets it
    /// wrong).
    pub fn set_clock_shift(&mut self, shift: chrono::TimeDelta) {
        self.scanner
            .set_clock(tessera_scanner::clock::Clock::shifted(shift));
    }

    /// Scans a text now, on the device's clock.
    pub fn scan(&mut self, text: &str) -> tessera_scanner::ScanReport {
        let now = self.scanner.clock().now();
        self.scanner
            .scan(text, now)
            .unwrap_or_else(|e| panic!("scan: {e}"))
    }
}

impl Server {
    /// Transfers a ticket to another holder as the holder's transfer does (a new revision,
    /// the old code revoked, `superseded_by = transfer`); returns the new code.
    pub fn transfer(&self, ticket_id: u64, old_code: &str, to_name: &str) -> String {
        self.rt.block_on(async {
            let keys = self.state.keys.read().await.clone();
            let old = tessera_core::verify(old_code, keys.keyring())
                .unwrap_or_else(|e| panic!("old code: {e}"));
            let mut claims = *old.claims();
            claims.revision = tessera_core::Revision(claims.revision.0 + 1);
            let signer = keys.signer();
            let id = i64::try_from(ticket_id).unwrap_or_else(|e| panic!("ticket id: {e}"));
            let qr_text = signer.sign(&claims);
            self.state
                .store
                .transfer_ticket(&tessera_server::store::TicketTransfer {
                    ticket_id: id,
                    expected_revision: i64::from(old.claims().revision.0),
                    from_email: "guest@example.com".into(),
                    to_email: "new.holder@example.com".into(),
                    to_name: to_name.into(),
                    qr_text: qr_text.clone(),
                    key_id: i64::from(signer.id().0),
                    issued_at: i64::from(claims.issued_at),
                    email_due_ms: chrono::Utc::now().timestamp_millis(),
                })
                .await
                .unwrap_or_else(|e| panic!("transfer: {e}"));
            qr_text
        })
    }
}
