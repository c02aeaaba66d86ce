//! The one test harness of the server's tests and the end-to-end stories: a fresh database
//! per test (a SQLite file in a temp dir, or a uniquely named PostgreSQL database dropped
//! afterwards; PostgreSQL provisioned here and nowhere else), the server in-process on a
//! listener of the test's choice, the server binary as a real process, an SMTP sink process,
//! a small typed client for the requests every story makes, and polling with a deadline
//! instead of sleeps.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};
use tessera_core::{KeyId, KeyStatus, Keyring};
use tessera_server::config::{Secret, Settings};
use tessera_server::{Services, store::Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The master key every test server uses.
pub const MASTER_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp dir.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A database of its own for one test.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Where a server on it keeps its files.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

fn pg_url_with_db(base: &str, db: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let host_part = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

impl TestDb {
    /// A SQLite database.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
        Self { url, dir, pg: None }
    }

    /// A new PostgreSQL database, or `None` (with a loud message) when PostgreSQL is not
    /// reachable outside CI. In CI (`CI` set) an unreachable PostgreSQL fails the test.
    pub async fn postgres() -> Option<Self> {
        let in_ci = std::env::var_os("CI").is_some();
        let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
            assert!(
                !in_ci,
                "TESSERA_TEST_POSTGRES_URL is not set, and CI needs PostgreSQL"
            );
            eprintln!(
                "SKIPPING PostgreSQL test: TESSERA_TEST_POSTGRES_URL is not set (./scripts/test sets it)"
            );
            return None;
        };
        let mut admin = match sqlx::PgConnection::connect(&base).await {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    !in_ci,
                    "PostgreSQL at TESSERA_TEST_POSTGRES_URL is unreachable in CI: {e}"
                );
                eprintln!(
                    "SKIPPING PostgreSQL test: cannot connect to TESSERA_TEST_POSTGRES_URL: {e}"
                );
                return None;
            }
        };
        let name = format!("tessera_t_{:016x}", random_u64());
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        Some(Self {
            url: pg_url_with_db(&base, &name),
            dir: tempfile::tempdir().expect("temp dir"),
            pg: Some((base, name)),
        })
    }

    /// A database of the given backend, `None` when PostgreSQL is skipped.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// The store on it, migrated.
    pub async fn store(&self) -> Arc<dyn Store> {
        let store = tessera_server::store::open(&self.url, 8)
            .await
            .expect("open store");
        store.migrate().await.expect("migrate");
        store
    }

    /// Settings for a server on this database: demo catalog, fast email retries.
    pub fn settings(&self) -> Settings {
        let mut s = Settings {
            data_dir: self.dir.path().to_owned(),
            database_url: Some(Secret::new(self.url.clone())),
            master_key: Some(Secret::new(MASTER_KEY)),
            demo: true,
            ..Settings::default()
        };
        s.email.poll_ms = 50;
        s.email.retry_base_ms = 100;
        s.email.retry_max_ms = 1000;
        s.email.lease_ms = 2000;
        s
    }

    /// Drops the PostgreSQL database (SQLite's temp dir goes with `self`). A test that
    /// panics before calling this still drops it, through `Drop`.
    pub async fn cleanup(mut self) {
        if let Some((base, name)) = self.pg.take() {
            drop_pg_database(&base, &name).await;
        }
    }
}

async fn drop_pg_database(base: &str, name: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            // Drop may run inside a runtime (no block_on there): use a thread of its own.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg_database(&base, &name));
                }
            })
            .join();
        }
    }
}

/// A random number from the OS.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    tessera_server::app::keys::random_bytes(&mut b).expect("random");
    u64::from_le_bytes(b)
}

/// The server running in-process.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for it.
    pub http: reqwest::Client,
    /// Its state, for store calls.
    pub state: Services,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Opens and serves the server on port 0.
    pub async fn spawn(settings: Settings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(settings, listener).await
    }

    /// Opens the server (its public URL is the listener's address) and serves it on
    /// `listener` until [`TestApp::stop`].
    pub async fn serve(settings: Settings, listener: TcpListener) -> Self {
        let addr = listener.local_addr().expect("addr");
        let mut settings = settings;
        settings.public_url = Some(format!("http://{addr}"));
        let state = tessera_server::open(settings).await.expect("open server");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        let task = tokio::spawn(async move {
            tessera_server::serve_state(served, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops serving (requests in flight finish) and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Polls `check` until it returns `Some`, failing after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A keyring built from `GET /api/v1/keys`.
pub async fn keyring(http: &reqwest::Client, base: &str) -> Keyring {
    let keys: serde_json::Value = http
        .get(format!("{base}/api/v1/keys"))
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("keys json");
    let mut ring = Keyring::new();
    for k in keys["keys"].as_array().expect("keys array") {
        let public: [u8; 32] = hex::decode(k["public_key"].as_str().expect("hex"))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let status = if k["status"] == "active" {
            KeyStatus::Active
        } else {
            KeyStatus::Retired
        };
        ring.insert(
            KeyId(k["key_id"].as_u64().expect("id") as u16),
            &public,
            status,
        )
        .expect("valid key");
    }
    ring
}

/// Places an order over HTTP; returns the response status and body.
pub async fn buy(
    http: &reqwest::Client,
    base: &str,
    ticket_type: i64,
    quantity: i64,
) -> (u16, serde_json::Value) {
    let res = http
        .post(format!("{base}/api/v1/orders"))
        .json(&serde_json::json!({
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "items": [{"ticket_type": ticket_type, "quantity": quantity}],
        }))
        .send()
        .await
        .expect("post order");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// The demo ticket type called `name`.
pub async fn ticket_type_id(store: &dyn Store, name: &str) -> i64 {
    store
        .ticket_types()
        .await
        .expect("types")
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no ticket type {name}"))
        .id
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The server binary as a child process (`serve` on port 0); killed on drop.
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl ServerProcess {
    /// Starts the `tessera-server` binary at `bin` with `<args>` and `--bind 127.0.0.1:0`,
    /// waits for its "listening on" line.
    pub fn start(bin: &Path, args: &[&str], env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .args(["--bind", "127.0.0.1:0"])
            .env("TESSERA_MASTER_KEY", MASTER_KEY)
            .env("TESSERA_EMAIL_POLL_MS", "50")
            .env("TESSERA_EMAIL_RETRY_BASE_MS", "100")
            .env("TESSERA_EMAIL_RETRY_MAX_MS", "500")
            .env("TESSERA_EMAIL_LEASE_MS", "2000")
            .env("TESSERA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tessera-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(addr) = line.strip_prefix("listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not report its address within 60 s");
        Self { child, base }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python interpreter that has `aiosmtpd`: `python3` first, then Debian's.
fn python_with_aiosmtpd() -> Option<PathBuf> {
    ["python3", "/usr/bin/python3"].iter().find_map(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| PathBuf::from(p))
    })
}

/// A real SMTP server process (aiosmtpd) writing each message into a Maildir.
pub struct SmtpSink {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where it writes each message.
    pub maildir: PathBuf,
}

impl SmtpSink {
    /// Starts the sink on `port`, writing into `dir/maildir`; waits until it listens.
    pub async fn start(dir: &Path, port: u16) -> Self {
        let python = python_with_aiosmtpd()
            .expect("aiosmtpd is not installed: ./scripts/test installs python3-aiosmtpd");
        let maildir = dir.join("maildir");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn aiosmtpd");
        eventually(
            "the SMTP sink to listen",
            Duration::from_secs(30),
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ())
            },
        )
        .await;
        Self {
            child,
            port,
            maildir,
        }
    }

    /// Its `smtp://` URL.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, raw.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
