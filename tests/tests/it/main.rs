//! End-to-end stories: the server and gate devices together, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod agreement;
mod arabic_browser;
mod browser;
mod browser_gate;
mod clocks;
mod festival;
mod keys;
mod mesh_netns;
mod printed;
mod stale_codes;
mod vendors_browser;
