//! Schema upgrades by `PRAGMA user_version`: script *n* (1-based) brings a database from
//! version *n − 1* to *n*, inside one transaction. Shipped scripts are never edited.

use rusqlite::Connection;

use crate::Error;

/// The replica's upgrade scripts, in order.
pub const REPLICA: &[&str] = &[
    include_str!("../sql/replica/0001_init.sql"),
    include_str!("../sql/replica/0002_sync.sql"),
    include_str!("../sql/replica/0003_conflict_kinds.sql"),
    include_str!("../sql/replica/0004_devices.sql"),
];
/// The device store's upgrade scripts, in order.
pub const DEVICE: &[&str] = &[
    include_str!("../sql/device/0001_init.sql"),
    include_str!("../sql/device/0002_sync.sql"),
    include_str!("../sql/device/0003_kept_event.sql"),
    include_str!("../sql/device/0004_clock.sql"),
    include_str!("../sql/device/0005_mesh.sql"),
];

/// Brings `conn` up to the last script; refuses a database newer than this software.
pub fn upgrade(conn: &mut Connection, what: &'static str, scripts: &[&str]) -> Result<(), Error> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > scripts.len() {
        return Err(Error::TooNew {
            what,
            found: current,
            known: scripts.len(),
        });
    }
    for (i, script) in scripts.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(script)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}
