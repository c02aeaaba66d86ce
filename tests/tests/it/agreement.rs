//! Device and server agree: random scan histories decided on a device (offline, from its
//! replica and log) and judged again by the server after upload (from its own tables, with
//! `reconcile`) give the same verdict and reason, scan by scan.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use tessera_core::Direction;
use tessera_tests::{Db, Device, Server};

/// One scan: which ticket, at which gate, which way, how long after the previous one.
#[derive(Debug, Clone)]
struct Step {
    ticket: usize,
    gate: usize,
    exit: bool,
    after_minutes: i64,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (
            0usize..3,
            0usize..3,
            proptest::bool::weighted(0.25),
            0i64..900,
        )
            .prop_map(|(ticket, gate, exit, after_minutes)| Step {
                ticket,
                gate,
                exit,
                after_minutes,
            }),
        1..25,
    )
}

const GATES: [&str; 3] = ["Main Gate", "North Gate", "Vendor Gate"];

#[test]
fn device_and_server_judge_random_histories_alike() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    // From 10:00 on the festival's first day (its own timezone), so histories run through
    // its three days and beyond whatever the time of the test. A fixed seed keeps the
    // covered paths stable.
    let first_day = server.block_on(server.state.store.events()).unwrap()[0].days[0];
    let start: DateTime<Utc> = first_day
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_local_timezone(tessera_core::Tz::America__Los_Angeles)
        .single()
        .unwrap()
        .with_timezone(&Utc);
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        proptest::test_runner::Config {
            cases: 16,
            ..Default::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    // Every verdict seen, so the test can show it covered more than one path.
    let seen = std::cell::RefCell::new(std::collections::BTreeSet::new());
    runner
        .run(&steps(), |steps| {
            // Fresh tickets and a fresh device per case: histories do not mix.
            let tickets = server.buy(3);
            let mut device = Device::enroll(&server, "Prop", "Main Gate");
            let mut at = start;
            let mut device_verdicts = Vec::new();
            for s in &steps {
                at += Duration::minutes(s.after_minutes);
                let direction = if s.exit {
                    Direction::Exit
                } else {
                    Direction::Entry
                };
                device
                    .scanner
                    .set_gate(Some(GATES[s.gate]), Some(direction))
                    .unwrap();
                let r = device.scanner.scan(&tickets[s.ticket].1, at).unwrap();
                seen.borrow_mut().insert(r.reason.unwrap_or("admit"));
                // A warning (an exit of a ticket not inside) lets the person through.
                device_verdicts.push((r.seq, r.verdict != "reject", r.reason.map(str::to_owned)));
            }
            device.sync().unwrap();
            let queue = device.scanner.device().all().unwrap();
            for (seq, admitted, reason) in device_verdicts {
                let q = queue.iter().find(|q| q.seq == seq).unwrap();
                prop_assert!(q.acked, "seq {} not acknowledged", seq);
                prop_assert!(!q.conflict);
                let server_reason = q.server_reason.clone();
                prop_assert_eq!(
                    (admitted, reason.clone()),
                    (server_reason.is_none(), server_reason),
                    "seq {} of {:?}",
                    seq,
                    steps
                );
            }
            Ok(())
        })
        .unwrap();
    let seen = seen.into_inner();
    for path in ["admit", "already_admitted", "wrong_gate", "wrong_day"] {
        assert!(seen.contains(path), "no {path} among {seen:?}");
    }
    server.stop();
}
