//! A leaked signing key: the organizer rotates and retires the old key; from their next sync
//! the gates refuse every ticket it signed, while tickets of the new key go in, and each gate
//! has a venue-mesh certificate under the new key without enrolling again.

use tessera_server::app::AppError;
use tessera_tests::{Db, Device, Server};

fn a_retired_key_admits_nothing_at_the_gates(db: &Db) {
    let server = Server::start(db);
    let old = server.buy(1);
    let mut gate = Device::enroll(&server, "Tablet-1", "Main Gate");

    let new_key = server
        .block_on(tessera_server::app::console::rotate(&server.state))
        .unwrap();
    // The key that signs new tickets cannot be retired: that would leave nothing to sign.
    let refused = server.block_on(tessera_server::app::console::retire_key(
        &server.state,
        i64::from(new_key),
    ));
    assert!(matches!(refused, Err(AppError::Conflict(_))), "{refused:?}");
    server
        .block_on(tessera_server::app::console::retire_key(&server.state, 1))
        .unwrap();
    let fresh = server.buy(1);

    gate.sync().unwrap();
    let r = gate.scan(&old[0].1);
    assert_eq!(r.reason, Some("retired_key"), "{}", r.message);
    let r = gate.scan(&fresh[0].1);
    assert_eq!(r.verdict, "admit", "{}", r.message);

    // The gate's certificate was signed by the retired key: the sync renewed it.
    let keyring = gate.scanner.keyring().unwrap().clone();
    let event = gate.scanner.event_id().unwrap();
    let cert = gate.scanner.device().certificate().unwrap().unwrap();
    let verified = tessera_core::mesh::verify_certificate(&cert, &keyring, event).unwrap();
    assert_eq!(verified.claims().key.0, new_key);
    let mesh = gate.scanner.mesh_status(chrono::Utc::now()).unwrap();
    assert_eq!(mesh.problem, None);
}

#[test]
fn a_retired_key_admits_nothing_at_the_gates_sqlite() {
    a_retired_key_admits_nothing_at_the_gates(&Db::sqlite());
}

#[test]
fn a_retired_key_admits_nothing_at_the_gates_postgres() {
    if let Some(db) = Db::postgres() {
        a_retired_key_admits_nothing_at_the_gates(&db);
    }
}
