//! The venue mesh as the server serves it: a device key certified at enrollment, every
//! device of the event in the feed (revocations included), and check-ins one gate carries up
//! for another — stored once per (device, seq), only with a valid certificate and signature.

use chrono::Utc;
use serde_json::{Value, json};
use tessera_core::mesh::{CertificateClaims, CheckInRecord, DeviceSigner, verify_certificate};
use tessera_core::sync::{
    ChangesPage, PROTOCOL, RelayRequest, RelayResponse, UploadCheckIn, UploadRequest,
    UploadResponse,
};
use tessera_core::{Direction, EventId, KeyId, KeyStatus, Keyring, TicketSigner, verify};

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, pass_codes, random_u64};

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

/// A check-in `gate` recorded of `text` at `at_ms`: the record and its signed hex.
fn record(
    gate: &Gate,
    ring: &Keyring,
    seq: u64,
    text: &str,
    at_ms: i64,
) -> (CheckInRecord, String) {
    let claims = *verify(text, ring).unwrap().claims();
    let record = CheckInRecord {
        device: tessera_core::mesh::parse_device_id(&gate.id).unwrap(),
        seq,
        ticket: Some((claims.ticket, claims.revision)),
        at_ms,
        clock_correction_ms: 0,
        direction: Direction::Entry,
        admitted: true,
        gate: "Main Gate".into(),
        reason: None,
        text: Some(text.to_owned()),
    };
    let signed = hex::encode(gate.signer.sign_check_in(&record).unwrap());
    (record, signed)
}

async fn relay(
    app: &TestApp,
    token: Option<&str>,
    certificate: &str,
    check_ins: &[String],
) -> (u16, Value) {
    let body = RelayRequest {
        protocol: PROTOCOL,
        certificate: certificate.to_owned(),
        check_ins: check_ins.to_vec(),
    };
    let mut req = app.http.post(app.url("/api/v1/sync/relayed")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Every stored check-in of the event as (device, seq), sorted.
async fn stored_keys(app: &TestApp) -> Vec<(String, i64)> {
    let mut keys: Vec<_> = app
        .state
        .store
        .event_check_ins(event_id(app).await)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.device_id, c.seq))
        .collect();
    keys.sort();
    keys
}

/// A device key is certified at enrollment by the server's current key, and the certificate
/// verifies against the keyring a gate builds from the feed; a key that is not a valid
/// Ed25519 point is refused (the code stays usable); without a key there is no certificate.
/// The feed lists every device of the event, and a device revoked with `tessera-server
/// devices revoke` reaches the other gates as `revoked`; enrolled again, it is listed with
/// the key of that enrollment, or none.
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

    // North enrolls again under its id with a new key: certified afresh, listed with it.
    let rekeyed = new_signer();
    let (status, body) = post_enroll(
        &app,
        "North-1",
        &north.id,
        Some(hex::encode(rekeyed.public_key())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let cert = hex::decode(body["certificate"].as_str().unwrap()).unwrap();
    let verified = verify_certificate(&cert, &ring, EventId(u32::try_from(event).unwrap()))
        .expect("the new certificate verifies");
    assert_eq!(verified.claims().device_key, rekeyed.public_key());
    let page = pull(&app, &south.token, page.cursor).await;
    let n = listed(&page, &north.id);
    assert_eq!(n.status, "active");
    assert_eq!(n.public_key, Some(hex::encode(rekeyed.public_key())));

    // Revoked and enrolled again without a key: it no longer meshes.
    assert!(
        app.state
            .store
            .revoke_device(&north.id, Utc::now().timestamp())
            .await
            .unwrap()
    );
    let (status, body) = post_enroll(&app, "North-1", &north.id, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("certificate").is_none(), "{body}");
    let page = pull(&app, &south.token, page.cursor).await;
    let n = listed(&page, &north.id);
    assert_eq!((n.status.as_str(), n.public_key), ("active", None));
    app.stop().await;
}
on_both_backends!(
    enrollment_certifies_the_device_key_on,
    enrollment_certifies_the_device_key
);

/// South carries North's signed check-ins up: stored once per (device, seq) however often
/// they are relayed, and when North uploads them itself; a check-in with a changed byte is
/// refused and the rest stored; a self-made certificate, another event's, or one of a device
/// the server does not know stores nothing; the carrier's token is required; a revoked
/// device's check-ins count only up to its revocation.
async fn relayed_check_ins_are_stored_once(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let event = event_id(&app).await;
    let texts = pass_codes(&app, 6).await;
    let north = enroll(&app, "North-1", true).await;
    let south = enroll(&app, "South-1", true).await;
    let cert = north.certificate.clone().unwrap();
    let ring = keyring_of(&pull(&app, &south.token, 0).await);
    let now = Utc::now().timestamp_millis();

    // Relayed twice, then uploaded by North itself: three rows, North's.
    let records: Vec<_> = (0..3)
        .map(|i| record(&north, &ring, i + 1, &texts[i as usize], now - 60_000))
        .collect();
    let signed: Vec<String> = records.iter().map(|(_, s)| s.clone()).collect();
    let (status, body) = relay(&app, Some(&south.token), &cert, &signed).await;
    assert_eq!(status, 200, "{body}");
    let first: RelayResponse = serde_json::from_value(body).unwrap();
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    assert_eq!(
        first.results.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        first
            .results
            .iter()
            .all(|r| r.stored && r.server_admitted && !r.conflict)
    );
    let (_, body) = relay(&app, Some(&south.token), &cert, &signed).await;
    let again: RelayResponse = serde_json::from_value(body).unwrap();
    assert!(again.results.iter().all(|r| !r.stored && r.server_admitted));
    let own = UploadRequest {
        protocol: PROTOCOL,
        device_time: Utc::now(),
        check_ins: records
            .iter()
            .map(|(r, _)| UploadCheckIn {
                seq: r.seq,
                text: r.text.clone(),
                ticket_id: r.ticket.map(|(t, _)| t.0),
                at: chrono::DateTime::from_timestamp_millis(r.at_ms).unwrap(),
                gate: r.gate.clone(),
                direction: "entry".into(),
                admitted: true,
                reason: None,
                clock_correction_ms: Some(0),
            })
            .collect(),
    };
    let res = app
        .http
        .post(app.url("/api/v1/sync/checkins"))
        .bearer_auth(&north.token)
        .json(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let own: UploadResponse = res.json().await.unwrap();
    assert!(own.results.iter().all(|r| !r.stored && r.server_admitted));
    let expected: Vec<(String, i64)> = (1..=3).map(|s| (north.id.clone(), s)).collect();
    assert_eq!(stored_keys(&app).await, expected);
    let after_relays = app.state.store.device(&north.id).await.unwrap().unwrap();
    assert_eq!(after_relays.check_ins, 3);

    // A changed byte in one check-in (its direction) and one that is not hex: refused, the
    // other stored.
    let (_, good) = record(&north, &ring, 4, &texts[3], now - 50_000);
    let (_, tampered) = record(&north, &ring, 5, &texts[4], now - 40_000);
    let mut bytes = hex::decode(&tampered).unwrap();
    bytes[41] ^= 1;
    let tampered = hex::encode(bytes);
    let (status, body) = relay(
        &app,
        Some(&south.token),
        &cert,
        &[good, tampered, "not hex".into()],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mixed: RelayResponse = serde_json::from_value(body).unwrap();
    assert_eq!(
        mixed
            .results
            .iter()
            .map(|r| (r.seq, r.stored))
            .collect::<Vec<_>>(),
        [(4, true)]
    );
    assert_eq!(
        mixed.refused.iter().map(|r| r.index).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        mixed.refused[0].reason.contains("signature"),
        "{:?}",
        mixed.refused
    );
    assert_eq!(stored_keys(&app).await.len(), 4);

    // Certificates that must store nothing.
    let (_, sixth) = record(&north, &ring, 6, &texts[5], now - 30_000);
    let batch = [sixth.clone()];
    let server_key = app.state.keys.read().await.signer().id();
    let north_claims = CertificateClaims {
        key: server_key,
        event: EventId(u32::try_from(event).unwrap()),
        device: tessera_core::mesh::parse_device_id(&north.id).unwrap(),
        device_key: north.signer.public_key(),
        issued_at_ms: now,
    };
    // Self-made: signed by a key of the device's own under the server key's id.
    let forger = TicketSigner::from_seed(server_key, &[9; 32]);
    let self_signed = hex::encode(north_claims.sign(&forger));
    let (status, body) = relay(&app, Some(&south.token), &self_signed, &batch).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("bad_certificate"))
    );
    // Another event's, signed by the real key.
    let other_event = {
        let keys = app.state.keys.read().await.clone();
        let claims = CertificateClaims {
            event: EventId(u32::try_from(event).unwrap() + 1),
            ..north_claims
        };
        hex::encode(claims.sign(keys.signer()))
    };
    let (status, body) = relay(&app, Some(&south.token), &other_event, &batch).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("bad_certificate"))
    );
    // The real key, but a device key the server does not hold for North.
    let rekeyed = {
        let keys = app.state.keys.read().await.clone();
        let claims = CertificateClaims {
            device_key: new_signer().public_key(),
            ..north_claims
        };
        hex::encode(claims.sign(keys.signer()))
    };
    let (status, body) = relay(&app, Some(&south.token), &rekeyed, &batch).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("uncertified_device"))
    );
    let (status, body) = relay(&app, Some(&south.token), "abc", &batch).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    // No token, a stranger's: the carrier must be an enrolled device.
    let (status, _) = relay(&app, None, &cert, &batch).await;
    assert_eq!(status, 401);
    let (status, _) = relay(&app, Some(&"0".repeat(64)), &cert, &batch).await;
    assert_eq!(status, 401);
    assert_eq!(stored_keys(&app).await.len(), 4, "nothing more stored");

    // Relaying counts North's check-ins but never as North being seen.
    let north_row = app.state.store.device(&north.id).await.unwrap().unwrap();
    assert_eq!(north_row.last_seen_ms, after_relays.last_seen_ms);
    assert_eq!(north_row.check_ins, 4);

    // North is revoked: what it recorded before still counts, what it signed after does not.
    let revoked_at = Utc::now().timestamp();
    assert!(
        app.state
            .store
            .revoke_device(&north.id, revoked_at)
            .await
            .unwrap()
    );
    let (_, late) = record(&north, &ring, 7, &texts[0], revoked_at * 1000 + 60_000);
    let (status, body) = relay(&app, Some(&south.token), &cert, &[sixth, late]).await;
    assert_eq!(status, 200, "{body}");
    let split: RelayResponse = serde_json::from_value(body).unwrap();
    assert_eq!(split.results.iter().map(|r| r.seq).collect::<Vec<_>>(), [6]);
    assert_eq!(split.refused.len(), 1);
    assert!(
        split.refused[0].reason.contains("revoked"),
        "{:?}",
        split.refused
    );
    // A revoked device cannot carry for others.
    let (status, body) = relay(&app, Some(&north.token), &cert, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("device_revoked"))
    );

    let expected: Vec<(String, i64)> = (1..=4).chain([6]).map(|s| (north.id.clone(), s)).collect();
    assert_eq!(stored_keys(&app).await, expected, "each exactly once");
    app.stop().await;
}
on_both_backends!(
    relayed_check_ins_are_stored_once_on,
    relayed_check_ins_are_stored_once
);

/// A gate enrolled before it had a key gets a certificate for the key it brings; a gate
/// enrolled with a key gets one for that key only (a token alone never re-keys a device).
async fn a_certificate_is_renewed_for_the_enrolled_key_only(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let post = |token: Option<String>, key: String| {
        let req = app
            .http
            .post(app.url("/api/v1/sync/certificate"))
            .json(&json!({"protocol": PROTOCOL, "device_key": key}));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move {
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let keyring = {
        let old = enroll(&app, "Reader", false).await;
        keyring_of(&pull(&app, &old.token, 0).await)
    };
    let event = EventId(u32::try_from(event_id(&app).await).unwrap());

    // Enrolled without a key: the first key it brings is its key.
    let old = enroll(&app, "Old tablet", false).await;
    let key = new_signer();
    let (status, body) = post(Some(old.token.clone()), hex::encode(key.public_key())).await;
    assert_eq!(status, 200, "{body}");
    let cert = hex::decode(body["certificate"].as_str().unwrap()).unwrap();
    let verified = verify_certificate(&cert, &keyring, event).unwrap();
    assert_eq!(verified.claims().device_key, key.public_key());
    let row = app.state.store.device(&old.id).await.unwrap().unwrap();
    assert_eq!(row.public_key, Some(key.public_key().to_vec()));
    // Asked again for the same key: a new certificate; for another key: refused.
    let (status, _) = post(Some(old.token.clone()), hex::encode(key.public_key())).await;
    assert_eq!(status, 200);
    let (status, body) = post(
        Some(old.token.clone()),
        hex::encode(new_signer().public_key()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("key_mismatch")),
        "{body}"
    );

    // Enrolled with a key: another key is refused, as is a weak key or no token.
    let north = enroll(&app, "North", true).await;
    let (status, body) = post(
        Some(north.token.clone()),
        hex::encode(new_signer().public_key()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("key_mismatch")),
        "{body}"
    );
    let (status, _) = post(Some(north.token.clone()), "00".repeat(32)).await;
    assert_eq!(status, 400);
    let (status, _) = post(None, hex::encode(north.signer.public_key())).await;
    assert_eq!(status, 401);
    let (status, body) = post(
        Some(north.token.clone()),
        hex::encode(north.signer.public_key()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}
on_both_backends!(
    a_certificate_is_renewed_for_the_enrolled_key_only_on,
    a_certificate_is_renewed_for_the_enrolled_key_only
);
