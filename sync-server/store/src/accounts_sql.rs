//! The account tables: users and their role, sessions (hashed tokens), one-time email
//! tokens (verification, password reset), attempts at the account forms counted per key, and
//! the two changes an attendee
//! makes to a ticket — a transfer and an upgrade — each one conditional on the revision the
//! attendee saw, so a double submit or a race changes a ticket once. Like [`super::sql`],
//! one SQL body serves both backends; hashing, signing and rules live in the server's
//! `app::accounts` and `app::tickets`.

use async_trait::async_trait;
use sqlx::Row;

use super::backend::{Affected, Backend};
use super::steps::OutboxRow;
use super::{
    NewItem, Order, StoreError, TicketView, is_unique_violation,
    sql::{order_from, ticket_view_from},
};
use super::{OutboxKind, SqlStore};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: i64,
    /// ASCII-lowercased address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// PHC string.
    pub password_hash: String,
    /// `attendee`, `vendor`, `gate_staff` or `organizer`.
    pub role: String,
    /// When the address was verified.
    pub email_verified_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// The language code the account chose (the switch or the profile page while logged
    /// in); `None` until it chooses, when the browser's language serves.
    pub lang: Option<String>,
}

/// One key an attempt is counted under (`""` where the key leaves the address or the client
/// out), with the most attempts it may hold within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    /// What is attempted: `login`, `register`, `reset`, ...
    pub action: &'static str,
    /// The normalised address, or `""`.
    pub address: String,
    /// The client's address, or `""`.
    pub client: String,
    /// Most attempts within the window, this one included.
    pub limit: i64,
}

/// What [`AccountStore::try_attempt`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The attempt is counted under every key (the rows' ids, to release on success).
    Admitted(Vec<i64>),
    /// A key is full: nothing was counted. `oldest` is the time of that key's oldest attempt
    /// in the window (the window's length after it, a slot frees).
    Refused {
        /// Unix seconds.
        oldest: i64,
    },
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// ASCII-lowercased address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// PHC string.
    pub password_hash: String,
    /// Role.
    pub role: String,
    /// Set for accounts made by an organizer's command (already trusted).
    pub verified: bool,
    /// Unix seconds.
    pub now: i64,
}

/// A one-time email token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    /// Row id (in the link).
    pub id: i64,
    /// Whose.
    pub user_id: i64,
    /// `verify` or `reset`.
    pub purpose: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was used.
    pub used_at: Option<i64>,
}

/// Gives a ticket to another person: the new revision, signed.
#[derive(Debug, Clone)]
pub struct TicketTransfer {
    /// The ticket.
    pub ticket_id: i64,
    /// The revision the giver saw; anything else means it changed meanwhile.
    pub expected_revision: i64,
    /// The giver's address (must still hold it).
    pub from_email: String,
    /// The recipient's ASCII-lowercased address.
    pub to_email: String,
    /// The recipient's name (printed on the new ticket).
    pub to_name: String,
    /// The new revision's QR text and its key.
    pub qr_text: String,
    /// Key id of the signature.
    pub key_id: i64,
    /// Unix seconds (the claims' issue time).
    pub issued_at: i64,
    /// When the two notices are due.
    pub email_due_ms: i64,
}

/// A ticket's new code under the current key (the key-compromise drill): the same holder,
/// type and days, the next revision.
#[derive(Debug, Clone)]
pub struct TicketReissue {
    /// The ticket.
    pub ticket_id: i64,
    /// The revision the reissue signed after; anything else means it changed meanwhile.
    pub expected_revision: i64,
    /// The new revision's QR text.
    pub qr_text: String,
    /// Key id of the signature.
    pub key_id: i64,
    /// Unix seconds (the claims' issue time).
    pub issued_at: i64,
    /// When the holder's notice is due.
    pub email_due_ms: i64,
}

/// The new revision an upgrade writes.
#[derive(Debug, Clone)]
pub struct UpgradeRevision {
    /// The ticket.
    pub ticket_id: i64,
    /// The revision the holder saw (or the settlement read).
    pub expected_revision: i64,
    /// The holder's address (must still hold it); the notice goes there.
    pub holder_email: String,
    /// From which type (one place returns to it).
    pub from_type: i64,
    /// To which type.
    pub to_type: i64,
    /// The new type's days.
    pub days_mask: u16,
    /// The new type's zones.
    pub zones: u16,
    /// The new revision's QR text.
    pub qr_text: String,
    /// Key id of its signature.
    pub key_id: i64,
    /// Unix seconds (the claims' issue time).
    pub issued_at: i64,
}

/// A demo upgrade: the new revision and the paid order of the difference.
#[derive(Debug, Clone)]
pub struct TicketUpgrade {
    /// What changes on the ticket.
    pub revision: UpgradeRevision,
    /// The paying order (paid: demo).
    pub order_id: i64,
    /// Its access token's hash.
    pub order_token_hash: Vec<u8>,
    /// `demo`.
    pub payment: String,
    /// The difference, in minor units.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The holder's account.
    pub user_id: Option<i64>,
    /// The holder's name (the order's).
    pub name: String,
    /// When the notice is due.
    pub email_due_ms: i64,
    /// Unix seconds.
    pub now: i64,
    /// The language code of the request that asked for it (the paying order's).
    pub lang: String,
}

/// The account part of the store.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user; `Conflict` when the address is taken.
    async fn create_user(&self, user: &NewUser) -> Result<i64, StoreError>;
    /// A user by id.
    async fn user(&self, id: i64) -> Result<Option<User>, StoreError>;
    /// A user by (lowercased) address.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// Every user, by id.
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Changes a user's role.
    async fn set_role(&self, user_id: i64, role: &str) -> Result<bool, StoreError>;
    /// Changes a user's display name.
    async fn set_name(&self, user_id: i64, name: &str) -> Result<(), StoreError>;
    /// Remembers the language an account chose (a code such as `ar`).
    async fn set_user_lang(&self, user_id: i64, lang: &str) -> Result<(), StoreError>;
    /// Replaces a password hash and ends every session and every unused reset link of the
    /// user (password change).
    async fn set_password(&self, user_id: i64, hash: &str, now: i64) -> Result<(), StoreError>;

    /// Stores a session.
    async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        kind: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// The user of an unexpired session, with the session's kind.
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<(User, String)>, StoreError>;
    /// Ends one session.
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError>;

    /// Stores a one-time token and queues the email that carries it, atomically.
    async fn create_email_token(
        &self,
        user_id: i64,
        purpose: &str,
        recipient: &str,
        now: i64,
        expires_at: i64,
        email_due_ms: i64,
    ) -> Result<i64, StoreError>;
    /// A token by id.
    async fn email_token(&self, id: i64) -> Result<Option<EmailToken>, StoreError>;
    /// How many tokens of a purpose a user got since `since` (email throttling).
    async fn email_tokens_since(
        &self,
        user_id: i64,
        purpose: &str,
        since: i64,
    ) -> Result<i64, StoreError>;
    /// Uses a `verify` token: marks the address verified and attaches the guest orders
    /// placed with it. `false` when the token was used or expired meanwhile.
    async fn verify_email(&self, token_id: i64, now: i64) -> Result<bool, StoreError>;
    /// Uses a `reset` token: sets the password, ends every session and every other reset
    /// link. `false` when the token was used or expired meanwhile.
    async fn reset_password(&self, token_id: i64, hash: &str, now: i64)
    -> Result<bool, StoreError>;

    /// Counts an attempt made at `at` under every key, unless a key already holds its limit
    /// of attempts made since `since`.
    ///
    /// Race-free on both backends: each key's row is committed before any key is counted,
    /// and the count takes every committed row, so of racing attempts the k-th to commit
    /// sees at least k and no more than `limit` are admitted (a racing refusal may make
    /// another refused, never another admitted). A refused attempt's rows are deleted: a
    /// refusal never lengthens anyone's wait.
    async fn try_attempt(
        &self,
        keys: &[AttemptKey],
        at: i64,
        since: i64,
    ) -> Result<AttemptOutcome, StoreError>;
    /// Uncounts an admitted attempt (it succeeded: only failures count).
    async fn release_attempts(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Forgets every attempt of `action` for `address`: with one client (`Some`), or from
    /// every client and the address's own key (`None`).
    async fn clear_attempts(
        &self,
        action: &str,
        address: &str,
        client: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Tickets held by an address, newest first.
    async fn holder_tickets(&self, email: &str) -> Result<Vec<TicketView>, StoreError>;
    /// One ticket.
    async fn ticket(&self, id: i64) -> Result<Option<TicketView>, StoreError>;
    /// Orders of an account: placed by it, or with its address once verified.
    async fn account_orders(
        &self,
        user_id: i64,
        verified_email: Option<&str>,
    ) -> Result<Vec<Order>, StoreError>;
    /// The paid upgrade orders of a ticket, oldest first.
    async fn paid_upgrades(&self, ticket_id: i64) -> Result<Vec<Order>, StoreError>;
    /// Links an order to the account that placed it.
    async fn set_order_user(&self, order_id: i64, user_id: i64) -> Result<(), StoreError>;
    /// Queues one email (a resend).
    async fn queue_email(
        &self,
        kind: OutboxKind,
        order_id: Option<i64>,
        ref_id: Option<i64>,
        recipient: &str,
        due_ms: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Gives a ticket to another person and queues both notices, atomically. `Conflict`
    /// when the ticket changed, is not valid, or is no longer the giver's.
    async fn transfer_ticket(&self, t: &TicketTransfer) -> Result<(), StoreError>;
    /// Valid tickets whose code another key than `key_id` signed, by id: what a reissue
    /// under `key_id` moves.
    async fn tickets_not_signed_by(&self, key_id: i64) -> Result<Vec<i64>, StoreError>;
    /// Writes a reissued ticket's next revision (`superseded_by = 'reissue'`, so the feed
    /// tells gates the old code was reissued) and queues the new code to its holder, in one
    /// transaction; `false` when the ticket changed meanwhile (or is no longer valid).
    async fn reissue_ticket(&self, r: &TicketReissue) -> Result<bool, StoreError>;
    /// Upgrades a ticket: takes capacity on the new type, returns it on the old, stores the
    /// paid difference as an order, writes the new revision and queues the notice,
    /// atomically. `SoldOut` or `Conflict` change nothing.
    async fn upgrade_ticket(&self, u: &TicketUpgrade) -> Result<(), StoreError>;
}

fn user_from<R: Row>(row: &R) -> Result<User, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        email_verified_at: row.try_get("email_verified_at")?,
        created_at: row.try_get("created_at")?,
        lang: row.try_get("lang")?,
    })
}

pub(crate) const USER_SELECT: &str =
    "SELECT id, email, name, password_hash, role, email_verified_at, created_at, lang FROM users";

#[async_trait]
impl<DB> AccountStore for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    DB::QueryResult: Affected,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::ColumnIndex<DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn create_user(&self, user: &NewUser) -> Result<i64, StoreError> {
        let _w = self.write_guard().await;
        sqlx::query_scalar(
            "INSERT INTO users (email, name, password_hash, role, email_verified_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.verified.then_some(user.now))
        .bind(user.now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("an account with this email".into())
            } else {
                e.into()
            }
        })
    }

    async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        sqlx::query(crate::sql(&[USER_SELECT, " WHERE id = $1"]))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(crate::sql(&[USER_SELECT, " WHERE email = $1"]))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        sqlx::query(crate::sql(&[USER_SELECT, " ORDER BY id"]))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn set_role(&self, user_id: i64, role: &str) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_name(&self, user_id: i64, name: &str) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_user_lang(&self, user_id: i64, lang: &str) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
            .bind(lang)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_password(&self, user_id: i64, hash: &str, now: i64) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        Self::retire_reset_links(&mut *tx, user_id, now).await?;
        Self::end_sessions(&mut *tx, user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        kind: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        // Expired sessions of this user go when a new one starts.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2")
            .bind(user_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(kind)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.password_hash, u.role, \
             u.email_verified_at, u.created_at, u.lang, s.kind AS session_kind \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((user_from(&row)?, row.try_get("session_kind")?)))
            .transpose()
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_email_token(
        &self,
        user_id: i64,
        purpose: &str,
        recipient: &str,
        now: i64,
        expires_at: i64,
        email_due_ms: i64,
    ) -> Result<i64, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        if purpose == "reset" {
            // Only the newest reset link works.
            Self::retire_reset_links(&mut *tx, user_id, now).await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO email_tokens (user_id, purpose, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(purpose)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let kind = if purpose == "reset" {
            OutboxKind::PasswordReset
        } else {
            OutboxKind::VerifyEmail
        };
        Self::queue_outbox(
            &mut *tx,
            OutboxRow {
                kind,
                order_id: None,
                ref_id: Some(id),
                recipient,
                due_ms: email_due_ms,
                now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn email_token(&self, id: i64) -> Result<Option<EmailToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, purpose, expires_at, used_at FROM email_tokens \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(EmailToken {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                purpose: row.try_get("purpose")?,
                expires_at: row.try_get("expires_at")?,
                used_at: row.try_get("used_at")?,
            })
        })
        .transpose()
    }

    async fn email_tokens_since(
        &self,
        user_id: i64,
        purpose: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM email_tokens \
             WHERE user_id = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(user_id)
        .bind(purpose)
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn verify_email(&self, token_id: i64, now: i64) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let Some(user_id) = Self::use_email_token(&mut *tx, token_id, "verify", now).await? else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE users SET email_verified_at = $1 \
             WHERE id = $2 AND email_verified_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        // Guest orders with the now verified address become the account's.
        sqlx::query(
            "UPDATE orders SET user_id = $1 WHERE user_id IS NULL \
             AND lower(email) = (SELECT email FROM users WHERE id = $1)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        // Whoever controls the mailbox decides: every session opened before the address was
        // proven ends (someone may have registered another person's address with a password
        // of his own and waited for that person to confirm it).
        Self::end_sessions(&mut *tx, user_id).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reset_password(
        &self,
        token_id: i64,
        hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let Some(user_id) = Self::use_email_token(&mut *tx, token_id, "reset", now).await? else {
            return Ok(false);
        };
        // The reset link went to the address: following it proves the address too.
        sqlx::query(
            "UPDATE users SET password_hash = $1, \
             email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $3",
        )
        .bind(hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        Self::end_sessions(&mut *tx, user_id).await?;
        Self::retire_reset_links(&mut *tx, user_id, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn try_attempt(
        &self,
        keys: &[AttemptKey],
        at: i64,
        since: i64,
    ) -> Result<AttemptOutcome, StoreError> {
        let mut ids = Vec::with_capacity(keys.len());
        // Each row in a statement of its own, committed before the counts below: counted in
        // one transaction, two racing attempts could each miss the other's row.
        for key in keys {
            let _w = self.write_guard().await;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO attempts (action, address, client, at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(key.action)
            .bind(key.address.as_str())
            .bind(key.client.as_str())
            .bind(at)
            .fetch_one(&self.pool)
            .await?;
            ids.push(id);
        }
        for key in keys {
            let row = sqlx::query(
                "SELECT COUNT(*), MIN(at) FROM attempts \
                 WHERE action = $1 AND address = $2 AND client = $3 AND at >= $4",
            )
            .bind(key.action)
            .bind(key.address.as_str())
            .bind(key.client.as_str())
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
            let count: i64 = row.try_get(0)?;
            let oldest: Option<i64> = row.try_get(1)?;
            if count > key.limit {
                self.release_attempts(&ids).await?;
                return Ok(AttemptOutcome::Refused {
                    oldest: oldest.unwrap_or(at),
                });
            }
        }
        // What has left every window is forgotten.
        if let Some(key) = keys.first() {
            let _w = self.write_guard().await;
            sqlx::query("DELETE FROM attempts WHERE action = $1 AND at < $2")
                .bind(key.action)
                .bind(since)
                .execute(&self.pool)
                .await?;
        }
        Ok(AttemptOutcome::Admitted(ids))
    }

    async fn release_attempts(&self, ids: &[i64]) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        for id in ids {
            sqlx::query("DELETE FROM attempts WHERE id = $1")
                .bind(*id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn clear_attempts(
        &self,
        action: &str,
        address: &str,
        client: Option<&str>,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        match client {
            Some(client) => {
                sqlx::query(
                    "DELETE FROM attempts WHERE action = $1 AND address = $2 AND client = $3",
                )
                .bind(action)
                .bind(address)
                .bind(client)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query("DELETE FROM attempts WHERE action = $1 AND address = $2")
                    .bind(action)
                    .bind(address)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(())
    }

    async fn holder_tickets(&self, email: &str) -> Result<Vec<TicketView>, StoreError> {
        sqlx::query(crate::sql(&[
            super::sql::TICKET_VIEW_SELECT.as_str(),
            " WHERE t.holder_email = $1 ORDER BY t.issued_at DESC, t.id",
        ]))
        .bind(email)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ticket_view_from)
        .collect()
    }

    async fn ticket(&self, id: i64) -> Result<Option<TicketView>, StoreError> {
        sqlx::query(crate::sql(&[
            super::sql::TICKET_VIEW_SELECT.as_str(),
            " WHERE t.id = $1",
        ]))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(ticket_view_from)
        .transpose()
    }

    async fn account_orders(
        &self,
        user_id: i64,
        verified_email: Option<&str>,
    ) -> Result<Vec<Order>, StoreError> {
        sqlx::query(crate::sql(&[
            super::sql::ORDER_SELECT,
            " WHERE user_id = $1 OR ($2 IS NOT NULL AND lower(email) = $2) \
             ORDER BY created_at DESC, id",
        ]))
        .bind(user_id)
        .bind(verified_email)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(order_from)
        .collect()
    }

    async fn paid_upgrades(&self, ticket_id: i64) -> Result<Vec<Order>, StoreError> {
        sqlx::query(crate::sql(&[
            super::sql::ORDER_SELECT,
            " WHERE upgrade_ticket_id = $1 AND status = 'paid' ORDER BY created_at, id",
        ]))
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(order_from)
        .collect()
    }

    async fn set_order_user(&self, order_id: i64, user_id: i64) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query("UPDATE orders SET user_id = $1 WHERE id = $2 AND user_id IS NULL")
            .bind(user_id)
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn queue_email(
        &self,
        kind: OutboxKind,
        order_id: Option<i64>,
        ref_id: Option<i64>,
        recipient: &str,
        due_ms: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut conn = self.pool.acquire().await?;
        Self::queue_outbox(
            &mut conn,
            OutboxRow {
                kind,
                order_id,
                ref_id,
                recipient,
                due_ms,
                now,
            },
        )
        .await?;
        Ok(())
    }

    async fn transfer_ticket(&self, t: &TicketTransfer) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let order_id: Option<i64> = sqlx::query_scalar(
            "UPDATE tickets SET revision = revision + 1, holder_name = $1, \
             holder_email = $2, qr_text = $3, key_id = $4, issued_at = $5, \
             superseded_by = 'transfer' \
             WHERE id = $6 AND revision = $7 AND status = 'valid' AND holder_email = $8 \
             RETURNING order_id",
        )
        .bind(&t.to_name)
        .bind(&t.to_email)
        .bind(&t.qr_text)
        .bind(t.key_id)
        .bind(t.issued_at)
        .bind(t.ticket_id)
        .bind(t.expected_revision)
        .bind(&t.from_email)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(order_id) = order_id else {
            return Err(StoreError::Changed(format!(
                "ticket {} changed since it was shown; reload and try again",
                t.ticket_id
            )));
        };
        for (kind, recipient) in [
            (OutboxKind::TicketTransferredOut, &t.from_email),
            (OutboxKind::TicketTransferredIn, &t.to_email),
        ] {
            Self::queue_outbox(
                &mut *tx,
                OutboxRow {
                    kind,
                    order_id: Some(order_id),
                    ref_id: Some(t.ticket_id),
                    recipient,
                    due_ms: t.email_due_ms,
                    now: t.issued_at,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn tickets_not_signed_by(&self, key_id: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM tickets WHERE status = 'valid' AND key_id <> $1 ORDER BY id",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn reissue_ticket(&self, r: &TicketReissue) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE tickets SET revision = revision + 1, qr_text = $1, key_id = $2, \
             issued_at = $3, superseded_by = 'reissue' \
             WHERE id = $4 AND revision = $5 AND status = 'valid' \
             RETURNING order_id, holder_email",
        )
        .bind(&r.qr_text)
        .bind(r.key_id)
        .bind(r.issued_at)
        .bind(r.ticket_id)
        .bind(r.expected_revision)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let order_id: i64 = row.try_get("order_id")?;
        let holder: Option<String> = row.try_get("holder_email")?;
        if let Some(holder) = holder {
            Self::queue_outbox(
                &mut *tx,
                OutboxRow {
                    kind: OutboxKind::TicketReissued,
                    order_id: Some(order_id),
                    ref_id: Some(r.ticket_id),
                    recipient: &holder,
                    due_ms: r.email_due_ms,
                    now: r.issued_at,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn upgrade_ticket(&self, u: &TicketUpgrade) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let r = &u.revision;
        let items = [NewItem {
            ticket_type_id: r.to_type,
            quantity: 1,
            unit_price_cents: u.amount_cents,
        }];
        Self::take_capacity(&mut *tx, &items).await?;
        // The order row first: the notice queued by `apply_upgrade` refers to it.
        sqlx::query(
            "INSERT INTO orders (id, email, name, status, payment, total_cents, currency, \
             token_hash, created_at, paid_at, user_id, upgrade_ticket_id, \
             upgrade_from_type, lang) \
             VALUES ($1, $2, $3, 'paid', $4, $5, $6, $7, $8, $8, $9, $10, $11, $12)",
        )
        .bind(u.order_id)
        .bind(&r.holder_email)
        .bind(&u.name)
        .bind(&u.payment)
        .bind(u.amount_cents)
        .bind(&u.currency)
        .bind(&u.order_token_hash)
        .bind(u.now)
        .bind(u.user_id)
        .bind(r.ticket_id)
        .bind(r.from_type)
        .bind(&u.lang)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_items (order_id, ticket_type_id, quantity, \
             unit_price_cents) VALUES ($1, $2, 1, $3)",
        )
        .bind(u.order_id)
        .bind(r.to_type)
        .bind(u.amount_cents)
        .execute(&mut *tx)
        .await?;
        if !Self::apply_upgrade(&mut *tx, r, u.order_id, u.email_due_ms, u.now).await? {
            return Err(StoreError::Changed(format!(
                "ticket {} changed since it was shown; reload and try again",
                r.ticket_id
            )));
        }
        tx.commit().await?;
        Ok(())
    }
}
