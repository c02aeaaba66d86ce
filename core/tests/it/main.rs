//! tessera-core's integration tests, one binary: the decision table, the format's
//! properties, and the documented test vectors.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod decide;
mod fixtures;
mod format;
mod reconcile;
mod vectors;
