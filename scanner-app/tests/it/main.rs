//! tessera-scanner's integration tests, one binary: the gate library, decoding on
//! synthesized camera frames, and the `tessera-scan` CLI as a user runs it.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod cli;
mod conditions;
mod damage;
mod decoding;
mod fixtures;
mod frames;
mod gate;
mod mesh;
