//! How often the account forms may be tried (ADR 0019): logins and password changes,
//! registrations, reset requests and reset links, each counted per client, per address, or
//! per address from one client, in the database so every instance agrees; and how many
//! unpaid orders a buyer address and a client may hold. Beyond a limit an
//! attempt waits (429 with `Retry-After`); nothing is ever locked. Which address a request
//! comes from is the HTTP layer's to say ([`Client`]); the counting is the store's
//! (`try_attempt`, race-free).

use std::net::IpAddr;

use chrono::Utc;

use crate::app::{AppError, Services};
use crate::store::{AttemptKey, AttemptOutcome, Email, StoreError};

/// The client a request came from, as its limits count it: an IPv4 address, an IPv6 /64
/// (one subscriber holds a whole /64, so counting its single addresses would count nothing),
/// or `unknown` when the server could not tell (a request handed to the router directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client(String);

impl Client {
    /// The client at `ip` (an IPv4-mapped IPv6 address is its IPv4 address).
    pub fn new(ip: Option<IpAddr>) -> Self {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => Self(v4.to_string()),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                Self(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
            }
            None => Self("unknown".to_owned()),
        }
    }

    /// The key it is counted under.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A login, or a password change (which checks the current password).
    Login,
    /// A registration.
    Register,
    /// A request for a reset email.
    ResetRequest,
    /// A new password through a reset link.
    ResetLink,
    /// A checkout started: an unpaid order holding tickets for `order_ttl_secs`, so the
    /// checkouts started within that window bound the holds at any moment.
    Hold,
}

/// The stored action name of login attempts (cleared by a successful login or reset).
const LOGIN: &str = "login";

/// An attempt that was counted; [`Attempt::uncount`] uncounts it where only failures
/// count.
#[derive(Debug)]
#[must_use = "a counted attempt is uncounted on success"]
pub struct Attempt {
    ids: Vec<i64>,
}

impl Attempt {
    /// The attempt succeeded (or was never judged, as when the hashing pool was full): it no
    /// longer counts.
    pub async fn uncount(self, state: &Services) -> Result<(), StoreError> {
        state.store.release_attempts(&self.ids).await
    }
}

/// Counts an attempt under the keys `action`'s limits name, or refuses it with
/// `TooManyAttempts` (how many seconds until a slot frees) when a key is full.
pub async fn count(
    state: &Services,
    action: Action,
    address: Option<&Email>,
    client: &Client,
) -> Result<Attempt, AppError> {
    take(state, action, address, client)
        .await?
        .map_err(|retry_after_secs| AppError::TooManyAttempts { retry_after_secs })
}

/// Counts an attempt under the keys `action`'s limits name; `Err(seconds until a slot
/// frees)` when a key is full.
pub async fn take(
    state: &Services,
    action: Action,
    address: Option<&Email>,
    client: &Client,
) -> Result<Result<Attempt, u64>, StoreError> {
    let l = &state.settings.limits;
    let p = &state.settings.payments;
    let address = address.map_or("", Email::as_str);
    let key = |action: &'static str, address: &str, client: &str, limit: i64| AttemptKey {
        action,
        address: address.to_owned(),
        client: client.to_owned(),
        limit,
    };
    let client = client.as_str();
    let (keys, window) = match action {
        Action::Login => (
            vec![
                key(LOGIN, address, client, l.login_per_client_address),
                key(LOGIN, address, "", l.login_per_address),
                key(LOGIN, "", client, l.login_per_client),
            ],
            l.login_window_secs,
        ),
        Action::Register => (
            vec![
                key("register", address, "", l.register_per_address),
                key("register", "", client, l.register_per_client),
            ],
            l.account_window_secs,
        ),
        Action::ResetRequest => (
            vec![
                key("reset", address, "", l.reset_per_address),
                key("reset", "", client, l.reset_per_client),
            ],
            l.account_window_secs,
        ),
        Action::ResetLink => (
            vec![key("reset_link", "", client, l.reset_per_client)],
            l.account_window_secs,
        ),
        Action::Hold => (
            vec![
                key("hold", address, "", p.max_holds_per_address),
                key("hold", "", client, p.max_holds_per_client),
            ],
            p.order_ttl_secs,
        ),
    };
    let window = i64::try_from(window).unwrap_or(i64::MAX / 2);
    let now = Utc::now().timestamp();
    match state
        .store
        .try_attempt(&keys, now, now.saturating_sub(window))
        .await?
    {
        AttemptOutcome::Admitted(ids) => Ok(Ok(Attempt { ids })),
        AttemptOutcome::Refused { oldest } => {
            Ok(Err(u64::try_from(oldest.saturating_add(window) - now)
                .unwrap_or(0)
                .max(1)))
        }
    }
}

/// Forgets the failed logins for `address`: from `client` after it logged in, or from every
/// client after a reset (whoever reset the password holds the mailbox).
pub async fn forget_login_failures(
    state: &Services,
    address: &Email,
    client: Option<&Client>,
) -> Result<(), AppError> {
    state
        .store
        .clear_attempts(LOGIN, address.as_str(), client.map(Client::as_str))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_by_ipv4_address_and_ipv6_64() {
        let c = |s: &str| Client::new(Some(s.parse().unwrap()));
        assert_eq!(c("203.0.113.7").as_str(), "203.0.113.7");
        assert_eq!(c("::ffff:203.0.113.7").as_str(), "203.0.113.7");
        assert_eq!(c("2001:db8:1:2::1").as_str(), "2001:db8:1:2::/64");
        assert_eq!(c("2001:db8:1:2:aaaa::9"), c("2001:db8:1:2::1"));
        assert_ne!(c("2001:db8:1:3::1"), c("2001:db8:1:2::1"));
        assert_eq!(Client::new(None).as_str(), "unknown");
    }
}
