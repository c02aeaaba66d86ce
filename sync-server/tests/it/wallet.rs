//! Wallet passes end to end: the `.pkpass` unzips, its manifest matches every file, its
//! `pass.json` has Apple's event-ticket fields, and Debian's `openssl cms -verify` accepts
//! its signature against a test chain (root → WWDR-like intermediate → pass certificate)
//! and refuses it after one changed byte; the PassKit web service serves a voided pass to a
//! registered phone after a void, a refund or a transfer; the Google save JWT verifies with
//! the service account's public key and turns INACTIVE on refund.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use serde_json::{Value, json};
use tessera_server::app::wallet::apple::{self, DEMO_PASS_TYPE_ID, certificate, rsa_key};
use tessera_server::config::{Secret, Settings};

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, buy, ticket_type_id};

const PASS_TYPE: &str = "pass.test.tessera";
const TEAM: &str = "TEAMTEST01";
const KEY_PASSWORD: &str = "correct horse";
const ISSUER: &str = "3388000000012345678";
const CLIENT_EMAIL: &str = "wallet@tessera-test.iam.gserviceaccount.com";

/// A chain shaped like Apple's, written as PEM files into `dir`: `root.pem`, `wwdr.pem`,
/// `pass.pem`, `pass-key.pem` (encrypted with [`KEY_PASSWORD`]).
fn write_test_chain(dir: &Path) {
    let root_key = rsa_key().unwrap();
    let root = certificate("Test Apple Root CA", &root_key, None, true).unwrap();
    let wwdr_key = rsa_key().unwrap();
    let wwdr = certificate(
        "Test Worldwide Developer Relations",
        &wwdr_key,
        Some((&root, &root_key)),
        true,
    )
    .unwrap();
    let pass_key = rsa_key().unwrap();
    let pass = certificate(
        &format!("Pass Type ID: {PASS_TYPE}"),
        &pass_key,
        Some((&wwdr, &wwdr_key)),
        false,
    )
    .unwrap();
    std::fs::write(dir.join("root.pem"), root.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("wwdr.pem"), wwdr.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("pass.pem"), pass.to_pem().unwrap()).unwrap();
    std::fs::write(
        dir.join("pass-key.pem"),
        pass_key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), KEY_PASSWORD.as_bytes())
            .unwrap(),
    )
    .unwrap();
}

/// Settings with the test chain as the Apple credentials.
fn apple_settings(db: &TestDb, chain: &Path) -> Settings {
    let mut s = db.settings();
    s.wallet.apple.pass_type_id = Some(PASS_TYPE.into());
    s.wallet.apple.team_id = Some(TEAM.into());
    s.wallet.apple.certificate = Some(chain.join("pass.pem"));
    s.wallet.apple.key = Some(chain.join("pass-key.pem"));
    s.wallet.apple.key_password = Some(Secret::new(KEY_PASSWORD));
    s.wallet.apple.wwdr_certificate = Some(chain.join("wwdr.pem"));
    s.wallet.latitude = Some(33.6846);
    s.wallet.longitude = Some(-117.8265);
    s
}

/// The files of a zip, by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        files.insert(f.name().unwrap().into_owned(), data);
    }
    files
}

fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(openssl::sha::sha1(bytes))
}

/// Names of files whose manifest digest does not match (or that the manifest lacks).
fn digest_mismatches(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let manifest: BTreeMap<String, String> =
        serde_json::from_slice(&files["manifest.json"]).expect("manifest is a JSON object");
    let mut bad: Vec<String> = files
        .iter()
        .filter(|(name, _)| *name != "manifest.json" && *name != "signature")
        .filter(|(name, data)| manifest.get(*name) != Some(&sha1_hex(data)))
        .map(|(name, _)| name.clone())
        .collect();
    bad.extend(manifest.keys().filter(|k| !files.contains_key(*k)).cloned());
    bad
}

/// Runs `openssl cms -verify` on the signature of the manifest in `files`.
fn cms_verifies(files: &BTreeMap<String, Vec<u8>>, ca: &Path, certfile: &Path) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), &files["manifest.json"]).unwrap();
    std::fs::write(dir.path().join("signature"), &files["signature"]).unwrap();
    let out = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature",
        ])
        .args(["-content", "manifest.json", "-out", "/dev/null", "-CAfile"])
        .arg(ca)
        .arg("-certfile")
        .arg(certfile)
        .output()
        .expect("openssl (Debian's openssl package, installed by ./scripts/test) runs");
    out.status.success()
}

async fn fetch_pass(app: &TestApp, ticket: i64, token: &str) -> BTreeMap<String, Vec<u8>> {
    let res = app
        .http
        .get(app.url(&format!("/api/v1/tickets/{ticket}/wallet/apple")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.apple.pkpass"
    );
    unzip(&res.bytes().await.unwrap())
}

fn pass_json(files: &BTreeMap<String, Vec<u8>>) -> Value {
    serde_json::from_slice(&files["pass.json"]).expect("pass.json is JSON")
}

/// A bought order: (order id, access token, tickets as (id, qr_text)).
async fn buy_passes(app: &TestApp, quantity: i64) -> (i64, String, Vec<(i64, String)>) {
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let (status, order) = buy(&app.http, &app.base, pass, quantity).await;
    assert_eq!(status, 201, "{order}");
    let tickets = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["qr_text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (
        order["id"].as_i64().unwrap(),
        order["access_token"].as_str().unwrap().to_owned(),
        tickets,
    )
}

#[tokio::test]
async fn apple_pass_is_complete_signed_and_tamper_evident() {
    let db = TestDb::sqlite();
    let chain = tempfile::tempdir().unwrap();
    write_test_chain(chain.path());
    let app = TestApp::spawn(apple_settings(&db, chain.path())).await;
    let (order_id, token, tickets) = buy_passes(&app, 1).await;
    let (ticket, qr) = tickets[0].clone();
    let url = app.url(&format!("/api/v1/tickets/{ticket}/wallet/apple"));

    // Guarded like the PDF.
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
    let wrong = app.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    let unknown = app
        .http
        .get(app.url("/api/v1/tickets/12345/wallet/apple"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let by_query = app
        .http
        .get(format!("{url}?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);

    let files = fetch_pass(&app, ticket, &token).await;
    for name in [
        "pass.json",
        "manifest.json",
        "signature",
        "icon.png",
        "icon@2x.png",
        "logo.png",
    ] {
        assert!(files.contains_key(name), "the pass lacks {name}");
    }
    for image in ["icon.png", "icon@2x.png", "logo.png"] {
        image::load_from_memory(&files[image]).expect("a PNG image");
    }
    assert_eq!(digest_mismatches(&files), Vec::<String>::new());

    let pass = pass_json(&files);
    assert_eq!(pass["formatVersion"], 1);
    assert_eq!(pass["passTypeIdentifier"], PASS_TYPE);
    assert_eq!(pass["teamIdentifier"], TEAM);
    assert_eq!(pass["serialNumber"], apple::serial(ticket, 0));
    assert_eq!(pass["organizationName"], "Tessera");
    assert!(pass["description"].as_str().unwrap().contains("3-Day Pass"));
    assert!(!pass["description"].as_str().unwrap().contains("DEMO"));
    assert_eq!(
        pass["webServiceURL"],
        app.url("/api/v1/wallet/apple").as_str()
    );
    assert!(pass["authenticationToken"].as_str().unwrap().len() >= 16);
    assert_eq!(
        pass["barcodes"],
        json!([{
            "format": "PKBarcodeFormatQR",
            "message": qr,
            "messageEncoding": "iso-8859-1",
            "altText": format!("Ticket {ticket}"),
        }])
    );
    chrono::DateTime::parse_from_rfc3339(pass["relevantDate"].as_str().unwrap())
        .expect("relevantDate is ISO 8601");
    assert_eq!(pass["locations"][0]["latitude"], 33.6846);
    assert!(pass.get("voided").is_none());
    let event_ticket = &pass["eventTicket"];
    let values = |group: &str| -> Vec<String> {
        event_ticket[group]
            .as_array()
            .unwrap_or_else(|| panic!("eventTicket.{group}"))
            .iter()
            .map(|f| {
                assert!(f["key"].is_string() && f.get("value").is_some(), "{f}");
                f["value"].to_string()
            })
            .collect()
    };
    let mut keys: Vec<String> = [
        "headerFields",
        "primaryFields",
        "secondaryFields",
        "auxiliaryFields",
        "backFields",
    ]
    .iter()
    .filter_map(|g| event_ticket[*g].as_array())
    .flatten()
    .map(|f| f["key"].as_str().unwrap().to_owned())
    .collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all, "field keys are unique within the pass");
    let event = app.state.store.events().await.unwrap()[0].name.clone();
    assert!(values("primaryFields")[0].contains(&event));
    assert!(
        values("secondaryFields")
            .iter()
            .any(|v| v.contains("3-Day Pass"))
    );
    assert!(
        values("secondaryFields")
            .iter()
            .any(|v| v.contains("Ada Lovelace"))
    );
    assert!(!values("auxiliaryFields").is_empty());
    assert!(
        values("backFields")
            .iter()
            .any(|v| v.contains(&format!("T-{order_id}")))
    );

    // A vendor booth's pass says which booth.
    let booth: Value = app
        .http
        .post(app.url("/api/v1/vendor-booths"))
        .json(&json!({
            "business_name": "Falafel King", "booth_name": "The King's truck",
            "category": "food_truck", "contact_name": "Ada", "phone": "+1 714 555 0142",
            "email": "ada@example.com", "description": "Falafel"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let booth_files = fetch_pass(
        &app,
        booth["tickets"][0]["id"].as_i64().unwrap(),
        booth["access_token"].as_str().unwrap(),
    )
    .await;
    let aux = pass_json(&booth_files)["eventTicket"]["auxiliaryFields"].to_string();
    assert!(
        aux.contains("VENDOR") && aux.contains("Falafel King") && aux.contains("to be assigned"),
        "{aux}"
    );

    let root = chain.path().join("root.pem");
    let wwdr = chain.path().join("wwdr.pem");
    assert!(cms_verifies(&files, &root, &wwdr), "the signature verifies");

    // One changed byte of pass.json: its digest no longer matches the signed manifest.
    let mut tampered = files.clone();
    let pass_bytes = tampered.get_mut("pass.json").unwrap();
    let at = pass_bytes.len() / 2;
    pass_bytes[at] ^= 0x01;
    assert_eq!(digest_mismatches(&tampered), vec!["pass.json".to_owned()]);
    // Updating the manifest to match breaks the signature.
    let mut manifest: BTreeMap<String, String> =
        serde_json::from_slice(&tampered["manifest.json"]).unwrap();
    manifest.insert("pass.json".into(), sha1_hex(&tampered["pass.json"]));
    tampered.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    assert!(digest_mismatches(&tampered).is_empty());
    assert!(
        !cms_verifies(&tampered, &root, &wwdr),
        "a changed manifest must not verify"
    );
    // Another chain's root does not vouch for the pass certificate.
    let other = tempfile::tempdir().unwrap();
    write_test_chain(other.path());
    assert!(!cms_verifies(&files, &other.path().join("root.pem"), &wwdr));

    app.stop().await;
}

#[tokio::test]
async fn demo_pass_is_labelled_and_signed_by_a_generated_chain() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let (_, token, tickets) = buy_passes(&app, 1).await;
    let files = fetch_pass(&app, tickets[0].0, &token).await;
    let pass = pass_json(&files);
    assert_eq!(pass["passTypeIdentifier"], DEMO_PASS_TYPE_ID);
    assert!(pass["description"].as_str().unwrap().contains("DEMO"));
    assert!(
        pass["eventTicket"]["headerFields"]
            .to_string()
            .contains("DEMO")
    );
    assert!(pass.get("locations").is_none(), "no coordinates configured");

    let bundle_path = db.path_in_data("wallet-demo/apple-demo-pass.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bundle_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let bundle = std::fs::read(&bundle_path).unwrap();
    let certs = openssl::x509::X509::stack_from_pem(&bundle).unwrap();
    let ca = db.path_in_data("demo-ca.pem");
    std::fs::write(&ca, certs[1].to_pem().unwrap()).unwrap();
    assert!(cms_verifies(&files, &ca, &ca));
    assert_eq!(digest_mismatches(&files), Vec::<String>::new());

    // Generated once: a restarted server signs with the same chain.
    app.stop().await;
    let app = TestApp::spawn(db.settings()).await;
    let again = fetch_pass(&app, tickets[0].0, &token).await;
    assert!(cms_verifies(&again, &ca, &ca));
    assert_eq!(std::fs::read(&bundle_path).unwrap(), bundle);
    app.stop().await;
}

trait DataDir {
    fn path_in_data(&self, rel: &str) -> std::path::PathBuf;
}

impl DataDir for TestDb {
    fn path_in_data(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }
}

/// Rewrites a ticket row as a transfer will: next revision, new holder, new QR text.
async fn simulate_transfer(db: &TestDb, ticket: i64, holder: &str, qr: &str) {
    const SQL: &str = "UPDATE tickets SET revision = revision + 1, holder_name = $1, \
                       qr_text = $2 WHERE id = $3";
    if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(SQL)
            .bind(holder)
            .bind(qr)
            .bind(ticket)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(SQL)
            .bind(holder)
            .bind(qr)
            .bind(ticket)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

struct PassKit<'a> {
    app: &'a TestApp,
    device: &'static str,
}

impl PassKit<'_> {
    fn url(&self, rest: &str) -> String {
        self.app.url(&format!("/api/v1/wallet/apple/v1/{rest}"))
    }

    async fn register(&self, serial: &str, token: &str) -> u16 {
        self.app
            .http
            .post(self.url(&format!(
                "devices/{}/registrations/{DEMO_PASS_TYPE_ID}/{serial}",
                self.device
            )))
            .header("authorization", format!("ApplePass {token}"))
            .json(&json!({"pushToken": "0123456789abcdef"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// (status, serials, lastUpdated).
    async fn updated_since(&self, tag: Option<&str>) -> (u16, Vec<String>, Option<String>) {
        let mut url = self.url(&format!(
            "devices/{}/registrations/{DEMO_PASS_TYPE_ID}",
            self.device
        ));
        if let Some(tag) = tag {
            url.push_str(&format!("?passesUpdatedSince={tag}"));
        }
        let res = self.app.http.get(url).send().await.unwrap();
        let status = res.status().as_u16();
        if status != 200 {
            return (status, vec![], None);
        }
        let body: Value = res.json().await.unwrap();
        let serials = body["serialNumbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        (
            status,
            serials,
            Some(body["lastUpdated"].as_str().unwrap().to_owned()),
        )
    }

    async fn latest(&self, serial: &str, token: &str, since: Option<&str>) -> reqwest::Response {
        let mut req = self
            .app
            .http
            .get(self.url(&format!("passes/{DEMO_PASS_TYPE_ID}/{serial}")))
            .header("authorization", format!("ApplePass {token}"));
        if let Some(since) = since {
            req = req.header("if-modified-since", since);
        }
        req.send().await.unwrap()
    }
}

async fn web_service_flow(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let (order_id, token, tickets) = buy_passes(&app, 3).await;
    let kit = PassKit {
        app: &app,
        device: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    };
    let pass_of = |files: &BTreeMap<String, Vec<u8>>| {
        let p = pass_json(files);
        (
            p["serialNumber"].as_str().unwrap().to_owned(),
            p["authenticationToken"].as_str().unwrap().to_owned(),
        )
    };
    let (voided_ticket, transferred_ticket, refunded_ticket) =
        (tickets[0].0, tickets[1].0, tickets[2].0);
    let (serial_a, token_a) = pass_of(&fetch_pass(&app, voided_ticket, &token).await);
    let (serial_b, token_b) = pass_of(&fetch_pass(&app, transferred_ticket, &token).await);
    let (serial_c, token_c) = pass_of(&fetch_pass(&app, refunded_ticket, &token).await);

    // Registration: 201 new, 200 again; the token must be this pass's.
    assert_eq!(kit.register(&serial_a, &token_a).await, 201);
    assert_eq!(kit.register(&serial_a, &token_a).await, 200);
    assert_eq!(kit.register(&serial_a, &token_b).await, 401);
    assert_eq!(kit.register(&serial_b, "short").await, 401);
    assert_eq!(kit.register(&serial_b, &token_b).await, 201);
    assert_eq!(kit.register(&serial_c, &token_c).await, 201);
    let no_auth = app
        .http
        .post(kit.url(&format!(
            "devices/{}/registrations/{DEMO_PASS_TYPE_ID}/{serial_a}",
            kit.device
        )))
        .json(&json!({"pushToken": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    let body: Value = no_auth.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");

    // Bad input: typed errors, never a panic.
    let master = &app.state.master;
    let wrong_type = app
        .http
        .post(kit.url(&format!(
            "devices/{}/registrations/pass.other/{serial_a}",
            kit.device
        )))
        .header("authorization", format!("ApplePass {token_a}"))
        .json(&json!({"pushToken": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 404);
    for serial in ["garbage", "T1R0", &apple::serial(voided_ticket, 7)] {
        let status = kit.register(serial, &master.pass_token(serial)).await;
        assert_eq!(status, 404, "{serial}");
    }
    // A client of its own: the server answers 413 without reading the body and closes the
    // connection, which a shared pool could hand to the next request.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let huge = unpooled
        .post(kit.url(&format!(
            "devices/{}/registrations/{DEMO_PASS_TYPE_ID}/{serial_a}",
            kit.device
        )))
        .header("authorization", format!("ApplePass {token_a}"))
        .header("content-type", "application/json")
        .body(format!("{{\"pushToken\":\"{}\"}}", "x".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let not_json = app
        .http
        .post(kit.url(&format!(
            "devices/{}/registrations/{DEMO_PASS_TYPE_ID}/{serial_a}",
            kit.device
        )))
        .header("authorization", format!("ApplePass {token_a}"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let (bad_tag, _, _) = kit.updated_since(Some("yesterday")).await;
    assert_eq!(bad_tag, 400);

    // Everything registered shows up without a tag; nothing after the tag.
    let (status, serials, tag0) = kit.updated_since(None).await;
    assert_eq!(status, 200);
    let mut expected = vec![serial_a.clone(), serial_b.clone(), serial_c.clone()];
    expected.sort();
    assert_eq!(serials, expected);
    let tag0 = tag0.unwrap();
    assert_eq!(kit.updated_since(Some(&tag0)).await.0, 204);

    // The latest pass, and 304 when the phone has it.
    let res = kit.latest(&serial_a, &token_a, None).await;
    assert_eq!(res.status(), 200);
    let modified = res.headers()["last-modified"].to_str().unwrap().to_owned();
    assert_eq!(
        kit.latest(&serial_a, &token_a, Some(&modified))
            .await
            .status(),
        304
    );
    assert_eq!(kit.latest(&serial_a, &token_b, None).await.status(), 401);

    // Void: the serial is updated and its pass is voided.
    assert!(app.state.store.void_ticket(voided_ticket).await.unwrap());
    let (status, serials, tag1) = kit.updated_since(Some(&tag0)).await;
    assert_eq!((status, serials), (200, vec![serial_a.clone()]));
    let tag1 = tag1.unwrap();
    assert!(tag1.parse::<i64>().unwrap() > tag0.parse::<i64>().unwrap());
    let res = kit.latest(&serial_a, &token_a, Some(&modified)).await;
    assert_eq!(res.status(), 200);
    let voided = pass_json(&unzip(&res.bytes().await.unwrap()));
    assert_eq!(voided["voided"], true);

    // Transfer: the old serial is updated and served voided, without the new holder's QR
    // code or name; the ticket's own endpoint now gives the new revision's pass.
    let new_qr = "TS1:NEW-HOLDER-QR-TEXT";
    simulate_transfer(db, transferred_ticket, "Grace Hopper", new_qr).await;
    let (status, serials, tag2) = kit.updated_since(Some(&tag1)).await;
    assert_eq!((status, serials), (200, vec![serial_b.clone()]));
    let res = kit.latest(&serial_b, &token_b, None).await;
    assert_eq!(res.status(), 200);
    let old = unzip(&res.bytes().await.unwrap());
    let old_pass = pass_json(&old);
    assert_eq!(old_pass["voided"], true);
    assert!(old_pass.get("barcodes").is_none());
    let text = String::from_utf8(old["pass.json"].clone()).unwrap();
    assert!(
        !text.contains(new_qr) && !text.contains("Grace Hopper"),
        "{text}"
    );
    let current = pass_json(&fetch_pass(&app, transferred_ticket, &token).await);
    assert_eq!(
        current["serialNumber"],
        apple::serial(transferred_ticket, 1)
    );
    assert_eq!(current["barcodes"][0]["message"], new_qr);

    // Refund: the ticket is voided by the refund path, the phone hears of it.
    let tag2 = tag2.unwrap();
    tessera_server::app::payments::refund(
        &app.state,
        order_id,
        Some(refunded_ticket),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let (status, serials, _) = kit.updated_since(Some(&tag2)).await;
    assert_eq!((status, serials), (200, vec![serial_c.clone()]));
    let res = kit.latest(&serial_c, &token_c, None).await;
    assert_eq!(
        pass_json(&unzip(&res.bytes().await.unwrap()))["voided"],
        true
    );

    // Unregister; the log endpoint takes device messages.
    let res = app
        .http
        .delete(kit.url(&format!(
            "devices/{}/registrations/{DEMO_PASS_TYPE_ID}/{serial_a}",
            kit.device
        )))
        .header("authorization", format!("ApplePass {token_a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, serials, _) = kit.updated_since(None).await;
    assert!(!serials.contains(&serial_a));
    let res = app
        .http
        .post(kit.url("log"))
        .json(&json!({"logs": ["Web service error: \u{1b}[31m something"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    app.stop().await;
}
on_both_backends!(passkit_web_service_voids_passes, web_service_flow);

/// A service-account key file like Google's; returns its key.
fn write_service_account(path: &Path) -> PKey<Private> {
    let key = rsa_key().unwrap();
    let pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let account = json!({
        "type": "service_account",
        "project_id": "tessera-test",
        "private_key_id": "0123",
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
    });
    std::fs::write(path, account.to_string()).unwrap();
    key
}

/// Checks the JWT's RS256 signature with `openssl dgst` and the public key; returns its
/// claims.
fn verified_claims(jwt: &str, key: &PKey<Private>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(input.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    std::fs::write(dir.path().join("input"), input).unwrap();
    std::fs::write(
        dir.path().join("sig"),
        URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("pub.pem"), key.public_key_to_pem().unwrap()).unwrap();
    let out = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "input",
        ])
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "JWT signature: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let payload = input.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn google_link(app: &TestApp, ticket: i64, token: &str) -> (String, bool) {
    let res = app
        .http
        .get(app.url(&format!("/api/v1/tickets/{ticket}/wallet/google")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    let jwt = url
        .strip_prefix("https://pay.google.com/gp/v/save/")
        .unwrap_or_else(|| panic!("{url}"));
    (jwt.to_owned(), body["demo"].as_bool().unwrap())
}

async fn google_flow(db: &TestDb) {
    let key_file = db.path_in_data("google-service-account.json");
    std::fs::create_dir_all(db.dir.path()).unwrap();
    let key = write_service_account(&key_file);
    let mut settings = db.settings();
    settings.wallet.google.issuer_id = Some(ISSUER.into());
    settings.wallet.google.service_account_key = Some(key_file);
    let app = TestApp::spawn(settings).await;
    let (order_id, token, tickets) = buy_passes(&app, 1).await;
    let (ticket, qr) = tickets[0].clone();

    let (jwt, demo) = google_link(&app, ticket, &token).await;
    assert!(!demo);
    let claims = verified_claims(&jwt, &key);
    assert_eq!(claims["iss"], CLIENT_EMAIL);
    assert_eq!(claims["aud"], "google");
    assert_eq!(claims["typ"], "savetowallet");
    let class = &claims["payload"]["eventTicketClasses"][0];
    let object = &claims["payload"]["eventTicketObjects"][0];
    let event_id = app.state.store.events().await.unwrap()[0].id;
    assert_eq!(class["id"], format!("{ISSUER}.event-{event_id}"));
    assert_eq!(object["id"], format!("{ISSUER}.ticket-{ticket}-r0"));
    assert_eq!(object["classId"], class["id"]);
    assert_eq!(object["state"], "ACTIVE");
    assert_eq!(object["barcode"]["type"], "QR_CODE");
    assert_eq!(object["barcode"]["value"], qr.as_str());
    assert_eq!(object["ticketHolderName"], "Ada Lovelace");
    assert_eq!(object["ticketType"]["defaultValue"]["value"], "3-Day Pass");

    // Guarded like the PDF.
    let res = app
        .http
        .get(app.url(&format!("/api/v1/tickets/{ticket}/wallet/google")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The save link redirects to Google.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .get(app.url(&format!(
            "/api/v1/tickets/{ticket}/wallet/google/save?token={token}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://pay.google.com/gp/v/save/")
    );

    // Refunded: the object is inactive.
    tessera_server::app::payments::refund(&app.state, order_id, None, chrono::Utc::now())
        .await
        .unwrap();
    let (jwt, _) = google_link(&app, ticket, &token).await;
    let claims = verified_claims(&jwt, &key);
    assert_eq!(
        claims["payload"]["eventTicketObjects"][0]["state"],
        "INACTIVE"
    );
    app.stop().await;
}
on_both_backends!(google_jwt_verifies_and_refund_deactivates, google_flow);

#[tokio::test]
async fn google_demo_link_says_demo_verifies_and_void_deactivates() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let (_, token, tickets) = buy_passes(&app, 1).await;
    let (jwt, demo) = google_link(&app, tickets[0].0, &token).await;
    assert!(demo);
    let pem = std::fs::read(db.path_in_data("wallet-demo/google-demo-key.pem")).unwrap();
    let key = PKey::private_key_from_pem(&pem).unwrap();
    let claims = verified_claims(&jwt, &key);
    assert_eq!(
        claims["payload"]["eventTicketObjects"][0]["barcode"]["value"],
        tickets[0].1.as_str()
    );
    assert_eq!(
        claims["payload"]["eventTicketObjects"][0]["state"],
        "ACTIVE"
    );
    // A voided ticket's object is inactive.
    assert!(app.state.store.void_ticket(tickets[0].0).await.unwrap());
    let (jwt, _) = google_link(&app, tickets[0].0, &token).await;
    let claims = verified_claims(&jwt, &key);
    assert_eq!(
        claims["payload"]["eventTicketObjects"][0]["state"],
        "INACTIVE"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_arabic_orders_passes_are_labelled_in_arabic() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let order: Value = app
        .http
        .post(app.url("/api/v1/orders"))
        .header("Accept-Language", "ar")
        .json(&json!({
            "email": "m@example.com", "name": "محمد عبد الله",
            "items": [{"ticket_type": pass, "quantity": 1}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = order["access_token"].as_str().unwrap();
    let ticket = order["tickets"][0]["id"].as_i64().unwrap();

    // Apple: every label in Arabic, the values (names, ids, the QR) as they are.
    let apple = pass_json(&fetch_pass(&app, ticket, token).await);
    let fields = &apple["eventTicket"];
    let label = |group: &str, key: &str| {
        fields[group]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .map(|f| (f["label"].to_string(), f["value"].to_string()))
            .unwrap_or_else(|| panic!("{group}.{key} in {fields}"))
    };
    assert_eq!(
        label("secondaryFields", "holder"),
        ("\"الحامل\"".to_owned(), "\"محمد عبد الله\"".to_owned())
    );
    assert_eq!(label("primaryFields", "event").0, "\"الفعالية\"");
    assert_eq!(label("auxiliaryFields", "days").0, "\"صالحة\"");
    assert!(label("auxiliaryFields", "days").1.contains("2026"));
    assert_eq!(label("backFields", "how").0, "\"عند البوابة\"");
    assert_eq!(label("headerFields", "status").1, "\"تجربة\"");
    assert_eq!(apple["barcodes"][0]["altText"], format!("التذكرة {ticket}"));
    for english in ["HOLDER", "EVENT", "VALID", "At the gate"] {
        assert!(!apple.to_string().contains(english), "{english} in {apple}");
    }

    // Google: the same words, said to be Arabic.
    let (jwt, _) = google_link(&app, ticket, token).await;
    let pem = std::fs::read(db.path_in_data("wallet-demo/google-demo-key.pem")).unwrap();
    let claims = verified_claims(&jwt, &PKey::private_key_from_pem(&pem).unwrap());
    let object = &claims["payload"]["eventTicketObjects"][0];
    assert_eq!(object["textModulesData"][0]["header"], "صالحة");
    assert_eq!(object["ticketType"]["defaultValue"]["language"], "ar");
    assert_eq!(
        object["barcode"]["alternateText"],
        format!("التذكرة {ticket}")
    );
    app.stop().await;
}

#[tokio::test]
async fn order_page_email_and_openapi_carry_the_wallet_links() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let (order_id, token, tickets) = buy_passes(&app, 1).await;
    let ticket = tickets[0].0;
    let page = app
        .http
        .get(app.url(&format!("/orders/{order_id}?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        // Templates escape `/` in attribute values as `&#x2f;`.
        .replace("&#x2f;", "/");
    assert!(page.contains("Add to Apple Wallet"), "{page}");
    assert!(
        page.contains(&format!(
            "/api/v1/tickets/{ticket}/wallet/apple?token={token}"
        )),
        "{page}"
    );
    assert!(page.contains(&format!(
        "/api/v1/tickets/{ticket}/wallet/google/save?token={token}"
    )));

    let outbox = app.state.settings.outbox_dir();
    let eml = crate::support::eventually(
        "the confirmation .eml",
        std::time::Duration::from_secs(30),
        || {
            let outbox = outbox.clone();
            async move {
                let entry = std::fs::read_dir(&outbox)
                    .ok()?
                    .filter_map(Result::ok)
                    .next()?;
                std::fs::read(entry.path()).ok()
            }
        },
    )
    .await;
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let text = message.body_text(0).unwrap();
    assert!(text.contains("Add to Apple Wallet"), "{text}");
    assert!(text.contains(&format!(
        "/api/v1/tickets/{ticket}/wallet/apple?token={token}"
    )));
    let html = message.body_html(0).unwrap();
    assert!(html.contains("Save to Google Wallet"), "{html}");

    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/tickets/{id}/wallet/apple",
        "/api/v1/tickets/{id}/wallet/google",
        "/api/v1/tickets/{id}/wallet/google/save",
        "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}",
        "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}",
        "/api/v1/wallet/apple/v1/passes/{pass_type}/{serial}",
        "/api/v1/wallet/apple/v1/log",
    ] {
        assert!(doc["paths"].get(p).is_some(), "OpenAPI lacks {p}");
    }
    app.stop().await;
}

#[tokio::test]
async fn misconfigured_apple_credentials_stop_the_server_at_start() {
    let db = TestDb::sqlite();
    let chain = tempfile::tempdir().unwrap();
    write_test_chain(chain.path());
    let mut settings = apple_settings(&db, chain.path());
    settings.wallet.apple.key_password = Some(Secret::new("hunter9-not-it"));
    let err = tessera_server::open(settings).await.unwrap_err();
    assert!(err.to_string().contains("pass certificate key"), "{err}");
    assert!(!err.to_string().contains("hunter9"), "{err}");
    let mut settings = apple_settings(&db, chain.path());
    settings.wallet.apple.team_id = None;
    let err = tessera_server::open(settings).await.unwrap_err();
    assert!(err.to_string().contains("wallet.apple.team_id"), "{err}");
}
