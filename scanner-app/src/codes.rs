//! The bundle's words for core's enums; the words every end shares are `tessera_core::codes`.

pub use tessera_core::codes::{
    basis_str, parse_cause, parse_direction, parse_policy, parse_status, policy_str,
};
use tessera_core::{EntryPolicy, KeyStatus};

use crate::bundle::{KeyState, Policy};

/// Wire policy to core policy.
pub fn policy(p: Policy) -> EntryPolicy {
    match p {
        Policy::OncePerDay => EntryPolicy::OncePerDay,
        Policy::ReentryAfterExit => EntryPolicy::ReentryAfterExit,
    }
}

/// Wire key state to core key status.
pub fn key_status(k: KeyState) -> KeyStatus {
    match k {
        KeyState::Active => KeyStatus::Active,
        KeyState::Retired => KeyStatus::Retired,
    }
}
