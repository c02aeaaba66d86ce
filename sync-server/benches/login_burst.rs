//! A burst of anonymous logins against the server in-process (release build): 500 at once
//! (`BENCH_LOGINS`) for unknown addresses, each an argon2id check of 19 MiB, while `/healthz`
//! is asked every 10 ms on a connection of its own. Prints the health check's answer times
//! (p50, p99, slowest), how many logins were refused with 503, and the process's peak memory.
//! The target: `/healthz` within 200 ms throughout, memory under 400 MB.
//!
//! `cargo bench -p tessera-server --bench login_burst`
#![allow(clippy::unwrap_used, clippy::print_stderr)] // A bench: failing loudly is right.

use std::time::{Duration, Instant};

use tessera_server::config::{Secret, Settings};
use tokio::net::TcpListener;

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

#[tokio::main]
async fn main() {
    let logins: usize = std::env::var("BENCH_LOGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_owned(),
        database_url: Some(Secret::new(format!(
            "sqlite://{}",
            dir.path().join("tessera.db").display()
        ))),
        master_key: Some(Secret::new("42".repeat(32))),
        ..Settings::default()
    };
    // Every login comes from this one client: without this, all but the first 50 would be
    // refused by the per-client limit before any hashing, and the pool would go unmeasured.
    settings.limits.login_per_client = i64::MAX;
    let state = tessera_server::open(settings).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(tessera_server::serve_state(
        state,
        listener,
        std::future::pending(),
    ));
    let before = peak_rss_mb();
    let attacker = reqwest::Client::new();
    let burst: Vec<_> = (0..logins)
        .map(|i| {
            let http = attacker.clone();
            let url = format!("{base}/api/v1/auth/login");
            tokio::spawn(async move {
                http.post(url)
                    .json(
                        &serde_json::json!({"email": format!("nobody{i}@example.org"),
                                              "password": "not the password at all"}),
                    )
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let probe = reqwest::Client::new();
    let mut times = Vec::new();
    while burst.iter().any(|h| !h.is_finished()) {
        let started = Instant::now();
        let ok = probe
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        assert!(ok, "/healthz failed during the burst");
        times.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut refused = 0;
    for h in burst {
        if h.await.unwrap() == 503 {
            refused += 1;
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    eprintln!(
        "login burst of {logins}: /healthz p50 {:?}, p99 {:?}, slowest {:?} ({} probes); \
         {refused} refused with 503; peak memory {} MB (before the burst {before} MB)",
        at(0.5),
        at(0.99),
        times.last().copied().unwrap_or_default(),
        times.len(),
        peak_rss_mb()
    );
    server.abort();
}
