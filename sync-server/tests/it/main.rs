//! Integration tests of tessera-server, built into one binary: the store conformance story
//! on SQLite and PostgreSQL, the HTTP API in-process on port 0, the capacity race, email
//! through a real SMTP server process, crash safety with SIGKILL, and the CLI.
// Skipped PostgreSQL tests say so loudly on stderr; that is the point of the message.
#![allow(clippy::print_stderr)]
#![allow(clippy::unwrap_used)]
// Test code: a failed unwrap is a failed test.
// The Stripe double writes whole Checkout Session objects with `json!`.
#![recursion_limit = "256"]

mod support;

mod accounts;
mod api;
mod attacks;
mod cli;
mod crash;
mod email;
mod faults;
mod languages;
mod layers;
mod mesh;
mod ops;
mod payments;
mod race;
mod store;
mod sync;
mod vendors;
mod wallet;
