//! Accounts: password hashing (argon2id, on a bounded pool of its own threads), sessions (a
//! random token: an HttpOnly cookie for pages, `Authorization: Bearer` for the API; only its
//! SHA-256 is stored), roles, and the signed one-time links of verification and
//! password-reset emails. Every form that takes a password or an address is counted by
//! `app::attempts` first. How a request shows who it is (cookies, bearer
//! tokens, the CSRF check) is `http::auth`.

use argon2::password_hash::{self, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::Utc;

use crate::app::attempts::{self, Action, Client};
use crate::app::keys::{MasterKey, random_bytes};
use crate::app::orders::token_hash;
use crate::app::{AppError, Services};
use crate::domain::i18n::Lang;
use crate::store::{Email, NewUser, OutboxKind, User};

/// The session cookie.
pub const SESSION_COOKIE: &str = "tessera_session";
/// The CSRF cookie; forms carry its value in the `_csrf` field.
pub const CSRF_COOKIE: &str = "tessera_csrf";
/// Browser sessions last this long.
pub const SESSION_SECS: i64 = 14 * 24 * 3600;
/// How long a password-reset link works.
pub const RESET_SECS: i64 = 3600;
/// How long an address-verification link works.
pub const VERIFY_SECS: i64 = 7 * 24 * 3600;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Buys and holds tickets (everyone who registers).
    Attendee,
    /// Holds a booth.
    Vendor,
    /// Scans at the gates.
    GateStaff,
    /// Runs the event: the console.
    Organizer,
}

impl Role {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attendee => "attendee",
            Self::Vendor => "vendor",
            Self::GateStaff => "gate_staff",
            Self::Organizer => "organizer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "attendee" => Ok(Self::Attendee),
            "vendor" => Ok(Self::Vendor),
            "gate_staff" => Ok(Self::GateStaff),
            "organizer" => Ok(Self::Organizer),
            other => Err(format!(
                "unknown role {other:?}: attendee, vendor, gate_staff or organizer"
            )),
        }
    }
}

/// Passwords: 10 to 128 characters.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if !(10..=128).contains(&n) {
        return Err(AppError::Invalid(
            "password must be 10 to 128 characters".into(),
        ));
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The password hashes that may run at once: one per core but one, so a burst of logins
/// never takes every core from the requests the server must keep answering (`/healthz`, the
/// gates' syncs). Each argon2id run takes 19 MiB and tens of milliseconds on purpose, so an
/// unbounded burst would also take the server's memory.
fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| usize::from(n).saturating_sub(1).max(1))
}

/// How many hashes may wait for a thread; beyond that a request is refused at once with 503
/// and `Retry-After` rather than holding its connection and memory.
fn hashing_queue() -> usize {
    4 * hashing_threads()
}

type HashJob = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue. Hashes run on these few long-lived threads only, never on the
/// runtime's blocking pool: the allocator keeps a freed 19 MiB block in the arena of the
/// thread that used it, so the memory a burst can leave behind is bounded by the number of
/// threads that ever hash (measured: 9 GB after 500 concurrent logins on the blocking pool).
static HASH_QUEUE: std::sync::LazyLock<std::sync::mpsc::SyncSender<HashJob>> =
    std::sync::LazyLock::new(|| {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<HashJob>(hashing_queue());
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..hashing_threads() {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        jobs
    });

/// Logins admitted at once: as many as the hashing threads and their queue hold. A login
/// takes its place before it touches the database, so a burst is refused at the door (503)
/// instead of queueing hundreds of lookups in front of every other request.
static LOGINS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(hashing_threads() + hashing_queue()));

/// Runs one password hash or verification on the hashing threads; `Busy` when their queue is
/// full.
async fn in_hash_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = done.send(work());
    });
    HASH_QUEUE.try_send(job).map_err(|e| match e {
        std::sync::mpsc::TrySendError::Full(_) => AppError::Busy,
        std::sync::mpsc::TrySendError::Disconnected(_) => {
            AppError::Internal("the password hashing threads stopped".into())
        }
    })?;
    result
        .await
        .map_err(|_| AppError::Internal("a password hash was dropped".into()))
}

thread_local! {
    /// The argon2 working memory of this hashing thread, allocated once and reused: freed
    /// and allocated again per hash, the allocator's free lists fragment and keep several
    /// copies per thread (measured: 3 × 19 MiB per thread after a dozen logins).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// argon2 of `password` and raw `salt` into `out`, in this thread's reused working memory.
fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), AppError> {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(
                password,
                salt,
                out,
                &mut blocks[..params.block_count()],
            )
            .map_err(|e| AppError::Internal(format!("password hashing: {e}")))
    })
}

/// Hashes a password (in the bounded hashing pool: it takes tens of milliseconds on purpose)
/// into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    in_hash_pool(move || {
        let internal =
            |e: password_hash::Error| AppError::Internal(format!("password hashing: {e}"));
        let mut salt = [0u8; 16];
        random_bytes(&mut salt).map_err(|e| AppError::Internal(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(internal)?;
        let mut raw_salt = [0u8; 64];
        let raw_salt = salt.as_salt().decode_b64(&mut raw_salt).map_err(internal)?;
        let argon = hasher();
        let params = argon.params().clone();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2_into(&argon, &params, password.as_bytes(), raw_salt, &mut out)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: password_hash::ParamsString::try_from(&params).map_err(internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(password_hash::Output::new(&out).map_err(internal)?),
        };
        Ok(hash.to_string())
    })
    .await?
}

/// A hash that no password matches, checked when the address is unknown so a login takes
/// as long for unknown addresses as for known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4b2c1bXlI6sEbPMCu7TS2XjYI8H0VDG3iNJ4x2cDa1M";

/// Whether `password` matches the stored hash (in the bounded hashing pool); `Busy` when the
/// pool's queue is full. An unknown address is checked against a dummy hash, so it costs the
/// same.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    in_hash_pool(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        Ok(matches_phc(&password, &hash).unwrap_or(false) && known)
    })
    .await?
}

/// argon2 of `password` with the stored hash's own algorithm, version, parameters and salt,
/// compared in constant time; `None` when the stored string is not an argon2 PHC hash.
fn matches_phc(password: &str, phc: &str) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
        .ok()?;
    let params = Params::try_from(&parsed).ok()?;
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).ok()?;
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    argon2_into(&argon, &params, password.as_bytes(), raw_salt, &mut out).ok()?;
    Some(constant_time_eq(&out, expected.as_bytes()))
}

/// A fresh random token (32 bytes, hex).
pub fn new_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// Starts a session for a user and returns its token.
pub async fn start_session(state: &Services, user_id: i64, kind: &str) -> Result<String, AppError> {
    let token = new_token()?;
    let now = Utc::now().timestamp();
    state
        .store
        .create_session(&token_hash(&token), user_id, kind, now, now + SESSION_SECS)
        .await?;
    Ok(token)
}

/// The logged-in account of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub user: User,
    /// Its role.
    pub role: Role,
    /// Whether the request came with a bearer token (no CSRF risk) or a cookie.
    pub bearer: bool,
}

impl CurrentUser {
    /// The verified address, when it is: the key to guest orders and received tickets.
    pub fn verified_email(&self) -> Option<&str> {
        self.user
            .email_verified_at
            .is_some()
            .then_some(self.user.email.as_str())
    }
}

/// Equality that takes as long whatever the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an email link: `<row id>.<HMAC of purpose and id>`.
pub fn email_link_token(master: &MasterKey, purpose: &str, id: i64) -> String {
    format!(
        "{id}.{}",
        master.derive_token(&format!("email-link:{purpose}"), &id.to_be_bytes())
    )
}

/// The row id an email link names, if its HMAC is right.
pub fn parse_email_link_token(master: &MasterKey, purpose: &str, token: &str) -> Option<i64> {
    let (id, mac) = token.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    let expected = email_link_token(master, purpose, id);
    constant_time_eq(expected.as_bytes(), format!("{id}.{mac}").as_bytes()).then_some(id)
}

/// Checks an address and password for `client` (a login, or a password change).
///
/// The attempt is counted before the password is checked (`app::attempts`: per address from
/// this client, per address, per client), so racing guesses never pass a limit together; a
/// success uncounts it and forgets this client's failures for the address.
pub async fn authenticate(
    state: &Services,
    client: &Client,
    email: &str,
    password: &str,
) -> Result<User, AppError> {
    let _admitted = LOGINS.try_acquire().map_err(|_| AppError::Busy)?;
    let email = Email::new(email);
    let attempt = attempts::count(state, Action::Login, Some(&email), client).await?;
    let checked = async {
        let user = state.store.user_by_email(email.as_str()).await?;
        let ok = verify_password(
            password.to_owned(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
        Ok::<_, AppError>(user.filter(|_| ok))
    }
    .await;
    match checked {
        Ok(Some(user)) => {
            attempt.uncount(state).await?;
            attempts::forget_login_failures(state, &email, Some(client)).await?;
            Ok(user)
        }
        Ok(None) => Err(AppError::BadCredentials),
        // Not judged (the hashing pool was full, the database failed): not a guess.
        Err(e) => {
            attempt.uncount(state).await?;
            Err(e)
        }
    }
}

/// At most this many verification or reset emails per account and purpose an hour: the
/// forms cannot be used to flood someone's mailbox.
pub const EMAILS_PER_HOUR: i64 = 3;

async fn email_allowed(state: &Services, user_id: i64, purpose: &str) -> Result<bool, AppError> {
    let since = Utc::now().timestamp() - 3600;
    Ok(state
        .store
        .email_tokens_since(user_id, purpose, since)
        .await?
        < EMAILS_PER_HOUR)
}

/// Queues a verification email for a user (unless it got [`EMAILS_PER_HOUR`] this hour).
pub async fn send_verification(state: &Services, user: &User) -> Result<(), AppError> {
    if !email_allowed(state, user.id, "verify").await? {
        return Ok(());
    }
    let now = Utc::now();
    state
        .store
        .create_email_token(
            user.id,
            "verify",
            &user.email,
            now.timestamp(),
            now.timestamp() + VERIFY_SECS,
            now.timestamp_millis(),
        )
        .await?;
    state.wake.notify_one();
    Ok(())
}

/// Queues a password-reset email, if the address has an account. Says nothing either way,
/// so the form cannot be used to find out who has an account (but a client or an address
/// asking too often is told to wait).
pub async fn send_reset(state: &Services, client: &Client, email: &str) -> Result<(), AppError> {
    let email = Email::new(email);
    let _counted = attempts::count(state, Action::ResetRequest, Some(&email), client).await?;
    if let Some(user) = state.store.user_by_email(email.as_str()).await?
        && email_allowed(state, user.id, "reset").await?
    {
        let now = Utc::now();
        state
            .store
            .create_email_token(
                user.id,
                "reset",
                &user.email,
                now.timestamp(),
                now.timestamp() + RESET_SECS,
                now.timestamp_millis(),
            )
            .await?;
        state.wake.notify_one();
    }
    Ok(())
}

/// Resolves an email link to its usable token row: the HMAC is right, the row exists, is
/// of this purpose, unused and unexpired.
pub async fn email_link(
    state: &Services,
    purpose: &str,
    token: &str,
) -> Result<crate::store::EmailToken, AppError> {
    let id = parse_email_link_token(&state.master, purpose, token).ok_or(AppError::BadLink)?;
    let row = state
        .store
        .email_token(id)
        .await?
        .filter(|r| r.purpose == purpose)
        .ok_or(AppError::BadLink)?;
    if row.used_at.is_some() || row.expires_at <= Utc::now().timestamp() {
        return Err(AppError::BadLink);
    }
    Ok(row)
}

/// Creates an attendee account in the language it registered in (its first choice, which
/// its confirmation email is written in) and sends its confirmation link (the caller logs it
/// in). Every registration counts, made or not, per client and per address.
pub async fn create_account(
    state: &Services,
    client: &Client,
    name: &str,
    email: &str,
    password: &str,
    lang: Lang,
) -> Result<User, AppError> {
    let email = Email::new(email);
    let _counted = attempts::count(state, Action::Register, Some(&email), client).await?;
    let name = name.trim();
    crate::app::orders::validate_contact(email.as_str(), name)?;
    validate_password(password)?;
    let hash = hash_password(password.to_owned()).await?;
    let id = state
        .store
        .create_user(&NewUser {
            email: email.into_string(),
            name: name.to_owned(),
            password_hash: hash,
            role: Role::Attendee.as_str().to_owned(),
            verified: false,
            now: Utc::now().timestamp(),
        })
        .await?;
    state.store.set_user_lang(id, lang.code()).await?;
    let user = state
        .store
        .user(id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("user {id} vanished")))?;
    send_verification(state, &user).await?;
    Ok(user)
}

/// Sets a new password through a reset link. The failed uses of links count per client; a
/// reset forgets every failed login for the account's address, from every client: whoever
/// holds the mailbox is the owner.
pub async fn reset_with_link(
    state: &Services,
    client: &Client,
    token: &str,
    password: &str,
) -> Result<(), AppError> {
    let attempt = attempts::count(state, Action::ResetLink, None, client).await?;
    let row = email_link(state, "reset", token).await?;
    validate_password(password)?;
    let hash = hash_password(password.to_owned()).await?;
    if !state
        .store
        .reset_password(row.id, &hash, Utc::now().timestamp())
        .await?
    {
        return Err(AppError::BadLink);
    }
    attempt.uncount(state).await?;
    if let Some(user) = state.store.user(row.user_id).await? {
        attempts::forget_login_failures(state, &Email::new(&user.email), None).await?;
    }
    Ok(())
}

/// Confirms an address through its link.
///
/// Every session of the account ends (whoever holds the mailbox decides, not whoever typed
/// the address first); returns the account's id, so a page answering the browser that
/// confirmed can open a fresh session for it.
pub async fn verify_with_link(state: &Services, token: &str) -> Result<i64, AppError> {
    let row = email_link(state, "verify", token).await?;
    if !state
        .store
        .verify_email(row.id, Utc::now().timestamp())
        .await?
    {
        return Err(AppError::BadLink);
    }
    Ok(row.user_id)
}

/// Queues one email with every valid ticket the account holds.
pub async fn resend_tickets(state: &Services, user: &CurrentUser) -> Result<(), AppError> {
    let email = user.verified_email().ok_or_else(|| {
        AppError::Conflict("confirm your email address first (see the email we sent)".into())
    })?;
    let now = Utc::now();
    state
        .store
        .queue_email(
            OutboxKind::MyTickets,
            None,
            Some(user.user.id),
            email,
            now.timestamp_millis(),
            now.timestamp(),
        )
        .await?;
    state.wake.notify_one();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_and_wrong_ones_do_not() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("correct horse batterx".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!verify_password("anything".into(), None).await.unwrap());
        // Hashes made by argon2's own hasher (earlier versions stored these) still verify,
        // and ours verify there.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = hasher()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify_password("correct horse battery".into(), Some(theirs.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("correct horse batterx".into(), Some(theirs))
                .await
                .unwrap()
        );
        let ours = hash_password("correct horse battery".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            hasher()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn email_links_refuse_tampering() {
        let master = MasterKey::load(&crate::config::Settings {
            master_key: Some(crate::config::Secret::new("42".repeat(32))),
            ..Default::default()
        })
        .unwrap();
        let token = email_link_token(&master, "reset", 17);
        assert_eq!(parse_email_link_token(&master, "reset", &token), Some(17));
        assert_eq!(parse_email_link_token(&master, "verify", &token), None);
        let other = token.replacen("17.", "18.", 1);
        assert_eq!(parse_email_link_token(&master, "reset", &other), None);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(parse_email_link_token(&master, "reset", &flipped), None);
        assert_eq!(parse_email_link_token(&master, "reset", "x.y"), None);
        assert_eq!(parse_email_link_token(&master, "reset", ""), None);
    }
}
