//! The venue mesh as the server serves it: a device key certified at enrollment, and every
//! device of the event in the feed (revocations included).

use chrono::Utc;
use serde_json::{Value, json};
use tessera_core::mesh::{DeviceSigner, verify_certificate};
use tessera_core::sync::{ChangesPage, PROTOCOL};
use tessera_core::{EventId, KeyId, KeyStatus, Keyring};

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, random_u64};

/// A gate as these tests drive it: its id, its own key, and what enrollment gave it.
struct Gate {
    id: String,
    signer: DeviceSigner,
    token: String,
    certificate: Option<String>,
}

fn new_signer() -> DeviceSigner {
    let mut seed = [0u8; 32];
    tessera_server::app::keys::random_bytes(&mut seed).unwrap();
    DeviceSigner::from_seed(&seed)
}

fn new_device_id() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

async fn event_id(app: &TestApp) -> i64 {
    app.state.store.events().await.unwrap()[0].id
}

/// Posts an enrollment with a fresh code; returns the status and body.
async fn post_enroll(
    app: &TestApp,
    name: &str,
    device_id: &str,
    device_key: Option<String>,
) -> (u16, Value) {
    let code = tessera_server::app::devices::create_device_code(
        &app.state,
        event_id(app).await,
        name,
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    post_enroll_with(app, &code, device_id, device_key).await
}

async fn post_enroll_with(
    app: &TestApp,
    code: &str,
    device_id: &str,
    device_key: Option<String>,
) -> (u16, Value) {
    let mut body = json!({"protocol": PROTOCOL, "code": code, "device_id": device_id,
                          "app_version": "t", "device_time": Utc::now()});
    if let Some(key) = device_key {
        body["device_key"] = json!(key);
    }
    let res = app
        .http
        .post(app.url("/api/v1/sync/enroll"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Enrolls a gate with its own key (or none, for a gate that does not mesh).
async fn enroll(app: &TestApp, name: &str, with_key: bool) -> Gate {
    let id = new_device_id();
    let signer = new_signer();
    let key = with_key.then(|| hex::encode(signer.public_key()));
    let (status, body) = post_enroll(app, name, &id, key).await;
    assert_eq!(status, 200, "{body}");
    Gate {
        id,
        signer,
        token: body["token"].as_str().unwrap().to_owned(),
        certificate: body["certificate"].as_str().map(str::to_owned),
    }
}

async fn pull(app: &TestApp, token: &str, after: u64) -> ChangesPage {
    let res = app
        .http
        .get(app.url(&format!("/api/v1/sync/changes?after={after}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The keyring a gate builds from the feed's keys.
fn keyring_of(page: &ChangesPage) -> Keyring {
    let mut ring = Keyring::new();
    for k in &page.keys {
        let public: [u8; 32] = hex::decode(&k.public_key).unwrap().try_into().unwrap();
        let status = if k.status == "active" {
            KeyStatus::Active
        } else {
            KeyStatus::Retired
        };
        ring.insert(KeyId(k.key_id), &public, status).unwrap();
    }
    ring
}

/// A device key is certified at enrollment by the server's current key, and the certificate
/// verifies against the keyring a gate builds from the feed; a key that is not a valid
/// Ed25519 point is refused (the code stays usable); without a key there is no certificate.
/// The feed lists every device of the event, and a device revoked with `tessera-server
/// devices revoke` reaches the other gates as `revoked`.
async fn enrollment_certifies_the_device_key(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let event = event_id(&app).await;

    // A weak key (the identity point), a short one, and not hex: refused, code unused.
    let code = tessera_server::app::devices::create_device_code(
        &app.state,
        event,
        "North-1",
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let north_id = new_device_id();
    let mut weak = [0u8; 32];
    weak[0] = 1;
    for bad in [hex::encode(weak), "ab".repeat(31), "zz".repeat(32)] {
        let (status, body) = post_enroll_with(&app, &code, &north_id, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "bad_request");
    }
    assert!(app.state.store.device(&north_id).await.unwrap().is_none());
    let north_signer = new_signer();
    let (status, body) = post_enroll_with(
        &app,
        &code,
        &north_id,
        Some(hex::encode(north_signer.public_key())),
    )
    .await;
    assert_eq!(status, 200, "the refusals left the code unused: {body}");
    let north = Gate {
        id: north_id,
        signer: north_signer,
        token: body["token"].as_str().unwrap().to_owned(),
        certificate: body["certificate"].as_str().map(str::to_owned),
    };

    // The certificate verifies against the feed's keyring, for this event and this device.
    let page = pull(&app, &north.token, 0).await;
    let ring = keyring_of(&page);
    let cert = hex::decode(north.certificate.as_ref().unwrap()).unwrap();
    let verified = verify_certificate(&cert, &ring, EventId(u32::try_from(event).unwrap()))
        .expect("the certificate verifies against the feed's keys");
    assert_eq!(verified.device_id(), north.id);
    assert_eq!(verified.claims().device_key, north.signer.public_key());
    assert_eq!(
        verified.claims().key,
        app.state.keys.read().await.signer().id(),
        "signed by the current key"
    );
    assert!(
        verify_certificate(&cert, &ring, EventId(u32::try_from(event).unwrap() + 1)).is_err(),
        "another event's gates refuse it"
    );

    // A gate that does not mesh: no certificate, no key stored.
    let plain = enroll(&app, "Plain-1", false).await;
    assert!(plain.certificate.is_none());
    let stored = app.state.store.device(&plain.id).await.unwrap().unwrap();
    assert_eq!(stored.public_key, None);

    // Another gate's first pull lists both, with the key of the one that meshes.
    let south = enroll(&app, "South-1", true).await;
    let page = pull(&app, &south.token, 0).await;
    let listed = |page: &ChangesPage, id: &str| {
        page.devices
            .iter()
            .find(|d| d.device_id == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {:?}", page.devices))
    };
    let n = listed(&page, &north.id);
    assert_eq!((n.name.as_str(), n.status.as_str()), ("North-1", "active"));
    assert_eq!(n.public_key, Some(hex::encode(north.signer.public_key())));
    assert_eq!(listed(&page, &plain.id).public_key, None);
    assert_eq!(page.devices.len(), 3);

    // Bookkeeping (pulls, uploads) adds nothing to the feed.
    let head = page.head;
    pull(&app, &north.token, 0).await;
    pull(&app, &plain.token, head).await;
    let quiet = pull(&app, &south.token, head).await;
    assert_eq!(quiet.head, head, "touching a device is not a change");
    assert!(quiet.event.is_none() && quiet.devices.is_empty());

    // The organizer revokes North-1 from the command line: South-1 hears of it.
    let dir = db.dir.path().display().to_string();
    let url = db.url.clone();
    let id = north.id.clone();
    tokio::task::spawn_blocking(move || {
        crate::cli::run(
            &[
                "--data-dir",
                &dir,
                "--database-url",
                &url,
                "devices",
                "revoke",
                &id,
            ],
            &[],
        )
    })
    .await
    .unwrap();
    let page = pull(&app, &south.token, head).await;
    assert!(page.event.is_some(), "a revocation is an event change");
    assert_eq!(listed(&page, &north.id).status, "revoked");
    assert_eq!(listed(&page, &south.id).status, "active");
    app.stop().await;
}
on_both_backends!(
    enrollment_certifies_the_device_key_on,
    enrollment_certifies_the_device_key
);
