//! The command line: admin subcommands against the data dir of a running server, global
//! options before or after the subcommand, and redaction in `print-config`.

use std::process::{Command, Output};

use serde_json::Value;

use std::time::Duration;

use crate::support::{MASTER_KEY, TestDb, buy, eventually, keyring};

pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera-server"));
    cmd.args(args)
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .env("TESSERA_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tessera-server");
    assert!(
        out.status.success(),
        "tessera-server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_subcommands_work_while_the_server_runs() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    let server = crate::support::server_process(
        &["demo", "--data-dir", &dir],
        &[("TESSERA_KEYS_RELOAD_MS", "100".to_owned())],
    );
    let http = reqwest::Client::new();

    // --data-dir after the subcommand...
    let comps = json_lines(&run(
        &[
            "comp",
            "--type",
            "3-Day Pass",
            "--email",
            "guest@example.com",
            "--name",
            "Guest",
            "--count",
            "3",
            "--data-dir",
            &dir,
        ],
        &[],
    ));
    assert_eq!(comps.len(), 3);
    let ring = keyring(&http, &server.base).await;
    for c in &comps {
        let qr = c["qr_text"].as_str().unwrap();
        let v = tessera_core::verify(qr, &ring).expect("comp ticket verifies");
        assert_eq!(v.claims().ticket.0, c["ticket_id"].as_u64().unwrap());
    }

    // ...and before it.
    let id = comps[0]["ticket_id"].as_u64().unwrap().to_string();
    let voided = json_lines(&run(&["--data-dir", &dir, "void", &id], &[]));
    assert_eq!(voided[0]["status"], "void");

    let event = json_lines(&run(
        &[
            "--data-dir",
            &dir,
            "event",
            "create",
            "--name",
            "Winter Nights",
            "--timezone",
            "Europe/Paris",
            "--start",
            "2026-12-18",
            "--days",
            "2",
            "--gate",
            "Door=1",
        ],
        &[],
    ));
    let event_id = event[0]["id"].as_i64().unwrap().to_string();
    run(
        &[
            "ticket-type",
            "create",
            "--event",
            &event_id,
            "--name",
            "Friday",
            "--price-cents",
            "2000",
            "--capacity",
            "100",
            "--days",
            "1",
            "--data-dir",
            &dir,
        ],
        &[],
    );
    let types = json_lines(&run(&["ticket-type", "list", "--data-dir", &dir], &[]));
    assert!(
        types
            .iter()
            .any(|t| t["name"] == "Friday" && t["days_mask"] == 1)
    );
    let three_day = types.iter().find(|t| t["name"] == "3-Day Pass").unwrap();
    assert_eq!(three_day["sold"], 3, "comps count against capacity");
    let events = json_lines(&run(&["event", "list", "--data-dir", &dir], &[]));
    assert_eq!(events.len(), 2);

    let rotated = json_lines(&run(&["keys", "rotate", "--data-dir", &dir], &[]));
    assert_eq!(rotated[0]["key_id"], 2);
    let keys = json_lines(&run(&["keys", "list", "--data-dir", &dir], &[]));
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k["status"] == "active"));

    // The running server picks up the new key: it publishes both, signs new tickets with
    // key 2, and the comps signed by key 1 still verify.
    let ring = eventually(
        "the server to publish key 2",
        Duration::from_secs(30),
        || {
            let http = http.clone();
            let base = server.base.clone();
            async move {
                let ring = keyring(&http, &base).await;
                (ring.len() == 2).then_some(ring)
            }
        },
    )
    .await;
    for c in &comps {
        let v = tessera_core::verify(c["qr_text"].as_str().unwrap(), &ring).unwrap();
        assert_eq!(v.key().0, 1);
    }
    let new_signer = eventually("orders signed by key 2", Duration::from_secs(30), || {
        let http = http.clone();
        let base = server.base.clone();
        let ring = ring.clone();
        async move {
            let (status, order) = buy(&http, &base, 1, 1).await;
            assert_eq!(status, 201);
            let qr = order["tickets"][0]["qr_text"].as_str()?.to_owned();
            let key = tessera_core::verify(&qr, &ring).ok()?.key().0;
            (key == 2).then_some(key)
        }
    })
    .await;
    assert_eq!(new_signer, 2);

    // The comp emails are sent by the running server's worker.
    eventually("the comp email", Duration::from_secs(30), || {
        let http = http.clone();
        let base = server.base.clone();
        async move {
            let health: Value = http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (health["outbox_sent"].as_i64()? >= 1).then_some(())
        }
    })
    .await;
    server.kill();
}

#[test]
fn print_config_redacts_secrets() {
    let out = run(
        &["print-config", "--data-dir", "/srv/tessera"],
        &[
            ("TESSERA_SMTP_URL", "smtp://user:hunter2@mail.example.com"),
            ("TESSERA_DATABASE_URL", "postgres://app:s3cret@db/tessera"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("data_dir = \"/srv/tessera\""), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("s3cret") && !text.contains(MASTER_KEY),
        "{text}"
    );
    assert!(text.contains("<redacted>"));
}

#[test]
fn migrate_creates_the_database() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    run(&["migrate", "--data-dir", &dir], &[]);
    assert!(db.dir.path().join("tessera.db").exists());
}

#[test]
fn config_file_then_env_then_flags() {
    let db = TestDb::sqlite();
    let file = db.dir.path().join("tessera.toml");
    std::fs::write(
        &file,
        "data_dir = \"/from/file\"\nbind = \"127.0.0.1:9001\"\n[email]\nfrom = \"Box Office <box@example.org>\"\n",
    )
    .unwrap();
    let config = file.display().to_string();
    let out = run(
        &["--config", &config, "print-config"],
        &[("TESSERA_BIND", "127.0.0.1:9002")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("data_dir = \"/from/file\""), "{text}");
    assert!(text.contains("bind = \"127.0.0.1:9002\""), "{text}");
    assert!(text.contains("Box Office"), "{text}");
    let flagged = run(
        &[
            "print-config",
            "--config",
            &config,
            "--data-dir",
            "/from/flag",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&flagged.stdout).contains("data_dir = \"/from/flag\""));

    std::fs::write(&file, "bnid = \"typo\"\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(["--config", &config, "print-config"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bnid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_with_roles_come_from_the_command_line() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    // A password on stdin...
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args([
            "user",
            "create",
            "--email",
            "Gate@Example.com",
            "--name",
            "Gate Lead",
            "--role",
            "gate_staff",
            "--data-dir",
            &dir,
        ])
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "gate staff password").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let gate = &json_lines(&out)[0];
    assert_eq!(
        (gate["email"].as_str(), gate["role"].as_str()),
        (Some("gate@example.com"), Some("gate_staff"))
    );
    assert!(gate.get("password").is_none());
    // ...or none, and one is made and printed once.
    let boss = &json_lines(&run(
        &[
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--name",
            "Boss",
            "--data-dir",
            &dir,
        ],
        &[],
    ))[0];
    let password = boss["password"].as_str().unwrap().to_owned();
    assert_eq!(boss["role"], "attendee");
    run(
        &[
            "user",
            "role",
            "boss@example.com",
            "organizer",
            "--data-dir",
            &dir,
        ],
        &[],
    );
    let users = json_lines(&run(&["user", "list", "--data-dir", &dir], &[]));
    assert_eq!(users.len(), 2);
    assert!(users.iter().any(|u| u["email"] == "boss@example.com"
        && u["role"] == "organizer"
        && u["email_verified"] == true));
    let bad = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args([
            "user",
            "role",
            "boss@example.com",
            "emperor",
            "--data-dir",
            &dir,
        ])
        .env("TESSERA_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role"));

    // The demo server makes its organizer once and writes the login to a 0600 file.
    let app = crate::support::TestApp::spawn(db.settings()).await;
    let file = db.dir.path().join(tessera_server::DEMO_ORGANIZER_FILE);
    let text = std::fs::read_to_string(&file).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    for (email, password, role) in [
        (field("email:"), field("password:"), "organizer"),
        ("boss@example.com".to_owned(), password, "organizer"),
        (
            "gate@example.com".to_owned(),
            "gate staff password".to_owned(),
            "gate_staff",
        ),
    ] {
        let login: Value = app
            .http
            .post(app.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(login["user"]["role"], role, "{login}");
    }
    app.stop().await;
}

/// An admin command pointed at a data dir with no database (a typo in `--data-dir`) fails,
/// says where it looked, and creates nothing; `migrate` is the way to create one.
#[test]
fn admin_commands_refuse_a_data_dir_without_a_database() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().join("tesera-data-typo");
    let dir_arg = dir.display().to_string();
    for args in [
        vec!["devices", "list", "--data-dir", &dir_arg],
        vec![
            "comp",
            "--type",
            "3-Day Pass",
            "--email",
            "g@example.com",
            "--data-dir",
            &dir_arg,
        ],
        vec!["device-code", "--name", "Tablet-9", "--data-dir", &dir_arg],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .args(&args)
            .env("TESSERA_MASTER_KEY", MASTER_KEY)
            .output()
            .expect("run tessera-server");
        assert!(!out.status.success(), "{args:?} succeeded on no database");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no database at"), "{args:?}: {stderr}");
        assert!(
            !dir.join("tessera.db").exists(),
            "{args:?} created a database"
        );
    }
    run(&["migrate", "--data-dir", &dir_arg], &[]);
    assert!(dir.join("tessera.db").exists());
    run(&["devices", "list", "--data-dir", &dir_arg], &[]);
}

/// `--bind` goes before or after the subcommand, like every global option.
#[test]
fn bind_goes_before_or_after_the_subcommand() {
    for before in [true, false] {
        let db = TestDb::sqlite();
        let dir = db.dir.path().display().to_string();
        let mut args = vec!["--data-dir", dir.as_str()];
        if before {
            args.splice(0..0, ["--bind", "127.0.0.1:0", "serve"]);
        } else {
            args.splice(0..0, ["serve", "--bind", "127.0.0.1:0"]);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .args(&args)
            .env("TESSERA_MASTER_KEY", MASTER_KEY)
            .env("TESSERA_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            line.starts_with("listening on http://127.0.0.1:"),
            "{args:?}: {line:?}"
        );
        assert!(
            !line.ends_with(":8080\n"),
            "{args:?} ignored --bind: {line:?}"
        );
    }
}
