//! The store: every table the server keeps, behind one trait with a SQLite backend (the
//! embedded default) and a PostgreSQL backend (for several server instances on one database).
//!
//! Both backends run the same SQL (written once in `sql.rs`); only the migrations, the
//! connection setup and the write serialization differ. Owns transactions and capacity
//! accounting; knows nothing about HTTP, signing or email rendering, and never reads the
//! clock: every time it stores comes in as a parameter.

/// The gate and page detail of ticket `t` (migration 0006's vendor tables), composed when
/// read so it follows assignments: a booth ticket names its purchase's business and assigned
/// booth ("Falafel King · Booth B-12", or "· booth to be assigned"), a staff pass its booth's;
/// NULL for other tickets.
/// A vendor ticket's business name: the booth purchase's, or the booth's for a staff pass.
pub(crate) const VENDOR_BUSINESS_SQL: &str = "COALESCE(\
          (SELECT p.business_name FROM vendor_purchases p WHERE p.order_id = t.order_id), \
          (SELECT p.business_name FROM vendor_staff_passes s JOIN booths b ON b.id = s.booth_id \
           LEFT JOIN vendor_purchases p ON p.order_id = b.order_id WHERE s.ticket_id = t.id))";

/// A vendor ticket's booth code, once a booth is assigned.
pub(crate) const BOOTH_CODE_SQL: &str = "COALESCE(\
          (SELECT b.code FROM vendor_purchases p JOIN booths b ON b.order_id = p.order_id \
           WHERE p.order_id = t.order_id), \
          (SELECT b.code FROM vendor_staff_passes s JOIN booths b ON b.id = s.booth_id \
           WHERE s.ticket_id = t.id))";

pub(crate) const VENDOR_DETAIL_SQL: &str = "COALESCE(\
          (SELECT p.business_name || COALESCE(' · Booth ' || b.code, ' · booth to be assigned') \
           FROM vendor_purchases p LEFT JOIN booths b ON b.order_id = p.order_id \
           WHERE p.order_id = t.order_id), \
          (SELECT COALESCE(p.business_name || ' · ', '') || 'Booth ' || b.code \
           FROM vendor_staff_passes s JOIN booths b ON b.id = s.booth_id \
           LEFT JOIN vendor_purchases p ON p.order_id = b.order_id \
           WHERE s.ticket_id = t.id))";

mod accounts_sql;
mod backend;
mod ops_sql;
mod payments_sql;
mod sql;
mod sync_sql;
mod values;
// After `sql`, whose row macros they use.
mod console_sql;
mod steps;
mod vendor_sql;
mod wallet_sql;

pub use accounts_sql::{
    AccountStore, AttemptKey, AttemptOutcome, EmailToken, NewUser, TicketReissue, TicketTransfer,
    TicketUpgrade, UpgradeRevision, User,
};
pub use backend::{Affected, Backend};
pub use console_sql::{CheckInRow, ConsoleStore, OrderSummary, TicketRow};
pub use ops_sql::{DeviceLag, OpsStore, Snapshot};
pub use payments_sql::{
    EventRecord, Fulfil, NewRefund, PaymentRow, PaymentStore, RefundDone, RefundRow, Settled,
    StripeEventRow,
};
pub use sync_sql::{
    Delivery, DeviceRow, EventSync, FeedPage, IncomingCheckIn, IngestOutcome, Judge,
    NewEnrollmentCode, Redeemed, StoredCheckIn, SyncStore, TicketState, Verdict,
};
pub use values::{Email, OrderStatus, OutboxKind, TicketStatus, normalize_email};
pub use vendor_sql::{
    Booth, BoothCategory, NewVendorPurchase, VendorProfile, VendorPurchase, VendorStore,
};
pub use wallet_sql::{NewRegistration, WalletStore};

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::Connection as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not enough tickets of a type are left for the order.
    #[error("ticket type {ticket_type} has only {remaining} tickets left")]
    SoldOut {
        /// The ticket type.
        ticket_type: i64,
        /// How many are left.
        remaining: i64,
    },
    /// A unique name or id is taken: the message names what exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// The row changed since the caller read it (a conditional write found another
    /// revision): the message says what to do.
    #[error("{0}")]
    Changed(String),
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A stored value the code cannot interpret (a bug or a hand-edited database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database cannot take the request now: its disk is full, an I/O error, a lost or
    /// timed-out connection, a lock held too long. Nothing was changed; the caller may try
    /// again once storage is back (an HTTP 503 with `Retry-After`).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database refused the statement (a bug, or a schema out of step).
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// An `Idempotency-Key` already names an order: nothing was written; the caller answers
    /// with that order.
    #[error("this Idempotency-Key was used already")]
    Replayed,
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    /// Sorts the driver's errors: what storage or the network did (retry later) apart from
    /// what the statement did (ours to fix).
    fn from(e: sqlx::Error) -> Self {
        if storage_fault(&e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Database(e)
        }
    }
}

impl StoreError {
    /// Whether storage, not the request, failed: the request may succeed when tried again.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Whether a driver error says the storage failed rather than the statement: I/O and pool
/// errors, SQLite's `BUSY`, `LOCKED`, `READONLY`, `IOERR`, `FULL` and `CANTOPEN` families,
/// and PostgreSQL's connection (08), resource (53), shutdown (57P) and system (58) classes
/// and its retryable serialization failures (40001, 40P01).
pub fn storage_fault(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            match code.parse::<i32>() {
                // SQLite: extended result codes; the primary code is the low byte.
                Ok(n) => matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14),
                // PostgreSQL: SQLSTATE.
                Err(_) => {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code.starts_with("58")
                        || code == "40001"
                        || code == "40P01"
                }
            }
        }
        _ => false,
    }
}

/// Whether a ticket type is an attendee pass or a vendor booth.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// An attendee pass (3-Day, 2-Day, 1-Day).
    Pass,
    /// A vendor booth (bazaar, food truck, food booth).
    VendorBooth,
}

impl TicketKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::VendorBooth => "vendor_booth",
        }
    }
}

impl FromStr for TicketKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pass" => Ok(Self::Pass),
            "vendor_booth" | "vendor-booth" => Ok(Self::VendorBooth),
            other => Err(StoreError::Corrupt(format!(
                "unknown ticket kind {other:?}"
            ))),
        }
    }
}

/// How an order was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// Demo mode: marked paid at once, no money moved.
    Demo,
    /// Complimentary (guest list), issued by an organizer.
    Comp,
    /// Paid through Stripe Checkout (pending until Stripe confirms).
    Stripe,
}

impl Payment {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demo => "demo",
            Self::Comp => "comp",
            Self::Stripe => "stripe",
        }
    }
}

impl FromStr for Payment {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "demo" => Ok(Self::Demo),
            "comp" => Ok(Self::Comp),
            "stripe" => Ok(Self::Stripe),
            other => Err(StoreError::Corrupt(format!("unknown payment {other:?}"))),
        }
    }
}

/// An event to create.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Unique name.
    pub name: String,
    /// Where it takes place.
    pub venue: String,
    /// IANA timezone its days are counted in.
    pub timezone: String,
    /// Its days, ascending.
    pub days: Vec<NaiveDate>,
    /// Its gates: name and zone mask.
    pub gates: Vec<(String, u16)>,
    /// Unix seconds: when it was created (the store never reads the clock).
    pub created_at: i64,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Id (fits a `u32`).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Venue.
    pub venue: String,
    /// IANA timezone.
    pub timezone: String,
    /// Days, ascending.
    pub days: Vec<NaiveDate>,
}

/// A stored gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRow {
    /// The event it belongs to.
    pub event_id: i64,
    /// Its name.
    pub name: String,
    /// The zones behind it.
    pub zones: u16,
}

/// A ticket type to create.
#[derive(Debug, Clone)]
pub struct NewTicketType {
    /// Its event.
    pub event_id: i64,
    /// Unique within the event.
    pub name: String,
    /// Pass or vendor booth.
    pub kind: TicketKind,
    /// Price in the currency's minor unit.
    pub price_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// How many can be sold, ever.
    pub capacity: i64,
    /// The event days it is valid on.
    pub days_mask: u16,
    /// The zones it admits to.
    pub zones: u16,
    /// Whether holders may transfer it.
    pub transferable: bool,
}

/// A stored ticket type with its sales so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketType {
    /// Id (fits a `u16`: it goes into the ticket).
    pub id: i64,
    /// Its event.
    pub event_id: i64,
    /// Name.
    pub name: String,
    /// Pass or vendor booth.
    pub kind: TicketKind,
    /// Price in minor units.
    pub price_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Most that can be sold.
    pub capacity: i64,
    /// Sold (and comped) so far.
    pub sold: i64,
    /// Valid days.
    pub days_mask: u16,
    /// Zones.
    pub zones: u16,
    /// Transferable.
    pub transferable: bool,
    /// Sales paused by an organizer: not for sale (comps still work).
    pub sales_paused: bool,
}

impl TicketType {
    /// Tickets still for sale.
    pub fn remaining(&self) -> i64 {
        (self.capacity - self.sold).max(0)
    }
}

/// Whether a signing key still verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Verifies; the newest active key signs.
    Active,
    /// No longer verifies.
    Retired,
}

impl KeyState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// A stored signing key: public half in clear, seed sealed.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Key id (fits a `u16`).
    pub id: i64,
    /// The Ed25519 public key.
    pub public_key: Vec<u8>,
    /// The encrypted seed (see `keys`).
    pub sealed_seed: Vec<u8>,
    /// Active or retired.
    pub state: KeyState,
    /// Unix seconds.
    pub created_at: i64,
}

/// One line of an order to insert.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// The ticket type.
    pub ticket_type_id: i64,
    /// How many.
    pub quantity: i64,
    /// Price of one, as charged.
    pub unit_price_cents: i64,
}

/// One issued ticket to insert.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Random id below 2^53.
    pub id: i64,
    /// Its event.
    pub event_id: i64,
    /// Its ticket type.
    pub ticket_type_id: i64,
    /// Starts at 0.
    pub revision: i64,
    /// Name printed on the ticket.
    pub holder_name: String,
    /// Valid days.
    pub days_mask: u16,
    /// Zones.
    pub zones: u16,
    /// Booth id, once assigned.
    pub booth: Option<i64>,
    /// The key that signed it.
    pub key_id: i64,
    /// Unix seconds, as in the claims.
    pub issued_at: i64,
    /// The signed QR text.
    pub qr_text: String,
}

/// A paid order with its tickets and its confirmation email, inserted in one transaction.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Random id below 2^53.
    pub id: i64,
    /// Buyer email (also the confirmation's recipient).
    pub email: String,
    /// Buyer name.
    pub name: String,
    /// Demo or comp.
    pub payment: Payment,
    /// Sum of the items.
    pub total_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// SHA-256 of the access token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// The lines.
    pub items: Vec<NewItem>,
    /// The tickets, already signed.
    pub tickets: Vec<NewTicket>,
    /// When the confirmation email becomes due, in Unix milliseconds.
    pub email_due_ms: i64,
    /// For a pending upgrade order: the ticket it upgrades once paid (no tickets issued).
    pub upgrade_ticket_id: Option<i64>,
    /// For an upgrade order: the ticket type it upgrades from.
    pub upgrade_from_type: Option<i64>,
    /// The client's `Idempotency-Key`, stored in the order's transaction.
    pub idempotency: Option<IdempotencyKey>,
    /// The language code of the request that placed it (`en`, `ar`): its emails, PDF and
    /// wallet labels are written in it.
    pub lang: String,
}

/// An `Idempotency-Key` and the request it came with: the same key and request give the
/// same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Which endpoint's keys (`orders`, `vendor-booths`).
    pub scope: &'static str,
    /// The client's key.
    pub key: String,
    /// SHA-256 of the request as the endpoint read it.
    pub request_hash: Vec<u8>,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Id.
    pub id: i64,
    /// Buyer email.
    pub email: String,
    /// Buyer name.
    pub name: String,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// How it was paid.
    pub payment: Payment,
    /// Total.
    pub total_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// SHA-256 of the access token.
    pub token_hash: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// The ticket an upgrade order paid for.
    pub upgrade_ticket_id: Option<i64>,
    /// The type that ticket had before the upgrade.
    pub upgrade_from_type: Option<i64>,
    /// When an organizer revoked its access token (unix seconds); `None` while it works.
    pub token_revoked_at: Option<i64>,
    /// The language code it was placed in (`en` for orders older than migration 0015).
    pub lang: String,
}

/// A ticket with what a printout or an email needs about its type and event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    /// Ticket id.
    pub id: i64,
    /// Its order.
    pub order_id: i64,
    /// Valid or void.
    pub status: TicketStatus,
    /// Revision.
    pub revision: i64,
    /// Holder.
    pub holder_name: String,
    /// The holder's address (the buyer's, or the transfer recipient's), ASCII-lowercased.
    pub holder_email: Option<String>,
    /// Why the current revision replaced the previous one: `transfer`, `upgrade`.
    pub superseded_by: Option<String>,
    /// Whether its type may be given to another person.
    pub transferable: bool,
    /// Valid days.
    pub days_mask: u16,
    /// Zones.
    pub zones: u16,
    /// Booth.
    pub booth: Option<i64>,
    /// Vendor business and booth ("Falafel King · Booth B-12") for vendor tickets, in the
    /// gates' words.
    pub detail: Option<String>,
    /// A vendor ticket's business name, when it has one (for words in any language).
    pub vendor_business: Option<String>,
    /// A vendor ticket's booth code ("B-12"), once a booth is assigned.
    pub booth_code: Option<String>,
    /// Signing key.
    pub key_id: i64,
    /// Unix seconds.
    pub issued_at: i64,
    /// The QR text.
    pub qr_text: String,
    /// Ticket type id.
    pub ticket_type_id: i64,
    /// Ticket type name.
    pub type_name: String,
    /// Ticket type kind.
    pub kind: TicketKind,
    /// The event.
    pub event: Event,
}

/// An email claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    /// Outbox row id.
    pub id: i64,
    /// What email it is.
    pub kind: OutboxKind,
    /// The order it is about; `None` for account emails.
    pub order_id: Option<i64>,
    /// What else it is about: the email token (verification, reset) or the ticket.
    pub ref_id: Option<i64>,
    /// Recipient address.
    pub recipient: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// An outbox row as operators and tests inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// The order it is about (`None` for account emails).
    pub order_id: Option<i64>,
    /// What email it is.
    pub kind: OutboxKind,
    /// `pending`, `sent` or `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// Counts of outbox rows by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting to be sent (or retried).
    pub pending: i64,
    /// Sent.
    pub sent: i64,
    /// Given up on after `max_attempts`.
    pub dead: i64,
}

/// Everything the server stores. One implementation per backend, same SQL.
#[async_trait]
pub trait Store:
    SyncStore
    + OpsStore
    + PaymentStore
    + AccountStore
    + WalletStore
    + VendorStore
    + ConsoleStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Creates an event and its gates; `Conflict` if the name is taken.
    async fn create_event(&self, event: &NewEvent) -> Result<i64, StoreError>;
    /// Replaces an event's days.
    async fn set_event_days(&self, event_id: i64, days: &[NaiveDate]) -> Result<(), StoreError>;
    /// All events, by id.
    async fn events(&self) -> Result<Vec<Event>, StoreError>;
    /// All gates, by event and name.
    async fn gates(&self) -> Result<Vec<GateRow>, StoreError>;
    /// Creates a ticket type; `Conflict` if its name is taken in the event.
    async fn create_ticket_type(&self, ticket_type: &NewTicketType) -> Result<i64, StoreError>;
    /// All ticket types, by id.
    async fn ticket_types(&self) -> Result<Vec<TicketType>, StoreError>;
    /// All signing keys, by id.
    async fn signing_keys(&self) -> Result<Vec<KeyRow>, StoreError>;
    /// Inserts a key unless its id is taken; returns whether it was inserted.
    async fn insert_signing_key(&self, key: &KeyRow) -> Result<bool, StoreError>;
    /// Sets a key's state.
    async fn set_key_state(&self, id: i64, state: KeyState) -> Result<(), StoreError>;
    /// Takes capacity, inserts the paid order, its tickets and its confirmation email in
    /// one transaction: all of it or nothing. `SoldOut` leaves everything unchanged.
    async fn place_order(&self, order: &NewOrder) -> Result<(), StoreError>;
    /// An order by id.
    async fn order(&self, id: i64) -> Result<Option<Order>, StoreError>;
    /// The events an order's items are for.
    async fn order_events(&self, order_id: i64) -> Result<Vec<Event>, StoreError>;
    /// Revokes an order's access token; `false` when there is no such order or it was
    /// revoked already.
    async fn revoke_order_token(&self, order_id: i64, now: i64) -> Result<bool, StoreError>;
    /// An order's tickets, by id.
    async fn order_tickets(&self, order_id: i64) -> Result<Vec<TicketView>, StoreError>;
    /// The order an `Idempotency-Key` of `scope` names, with the request hash it came with.
    async fn idempotent_order(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<(i64, Vec<u8>)>, StoreError>;
    /// Voids a ticket; returns whether it existed.
    async fn void_ticket(&self, ticket_id: i64) -> Result<bool, StoreError>;
    /// Leases up to `limit` due emails to the caller until `lease_until_ms`; a crashed
    /// worker's lease runs out and the email is due again.
    async fn claim_due_emails(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEmail>, StoreError>;
    /// Marks an email sent by the claim that made attempt `attempt` (its `attempts` when
    /// claimed); it is never claimed again. `false`, changing nothing, when that claim is
    /// no longer the email's (its lease ran out and another worker claimed it, or it was
    /// sent): the caller must not deliver it.
    async fn mark_email_sent(&self, id: i64, attempt: i64, now: i64) -> Result<bool, StoreError>;
    /// Records the failure of attempt `attempt`: due again at `next_attempt_ms`, or `dead` if
    /// `give_up`. A claim that is no longer the email's changes nothing.
    async fn mark_email_failed(
        &self,
        id: i64,
        attempt: i64,
        next_attempt_ms: i64,
        error: &str,
        give_up: bool,
    ) -> Result<(), StoreError>;
    /// Whether email `id` was marked sent by the claim of attempt `attempt`; a worker that
    /// restarts finishes delivering exactly those of its written files.
    async fn email_sent_by(&self, id: i64, attempt: i64) -> Result<bool, StoreError>;
    /// Outbox rows by state.
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
    /// Every outbox row, by id.
    async fn outbox_entries(&self) -> Result<Vec<OutboxEntry>, StoreError>;
    /// The earliest time a pending email is due, in Unix milliseconds.
    async fn next_email_due_ms(&self) -> Result<Option<i64>, StoreError>;
}

/// The store on one database: the same SQL for both, run by the native driver of `DB`
/// ([`Backend`]: SQLite or PostgreSQL).
///
/// On SQLite, writers are serialized in-process by a mutex (SQLite has one writer anyway, and
/// waiting on a mutex is cheaper than spinning in `busy_timeout`); other processes on the same
/// file (admin subcommands) wait through `busy_timeout`, which only works because every
/// writing transaction takes the write lock when it begins (`BEGIN IMMEDIATE`). On
/// PostgreSQL capacity is taken with a conditional `UPDATE`, which locks the ticket type's
/// row until commit and re-checks the condition after waiting on it, so several server
/// instances never oversell (see `docs/adr/0004-capacity-locking.md`).
#[derive(Debug)]
pub struct SqlStore<DB: Backend> {
    pool: sqlx::Pool<DB>,
    writer: Option<tokio::sync::Mutex<()>>,
}

/// The SQLite backend (the embedded default).
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

/// The PostgreSQL backend (several server instances on one database).
pub type PgStore = SqlStore<sqlx::Postgres>;

impl SqliteStore {
    /// Opens (creating if missing) the database file in WAL mode.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let file = Path::new(options.get_filename()).to_owned();
        if let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            private_dir(dir).map_err(sqlx::Error::Io)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            // A connection whose COMMIT or ROLLBACK failed (a full disk, an I/O error) may
            // still be inside its transaction: reused, its next "transaction" would be a
            // savepoint in the stale one, acknowledged and never committed, and it would
            // hold the write lock. The ping flushes the rollback a dropped transaction
            // queued; a connection still in a transaction after it is closed, not reused.
            .after_release(|conn, _| {
                Box::pin(async move {
                    conn.ping().await?;
                    Ok(clean_after_release(conn.is_in_transaction()))
                })
            })
            .connect_with(options)
            .await?;
        // Names, addresses and tokens' hashes: readable by the server's user alone. SQLite
        // gives its -wal and -shm files the database file's mode; earlier ones are tightened.
        for suffix in ["", "-wal", "-shm"] {
            let mut path = file.clone().into_os_string();
            path.push(suffix);
            private_file(Path::new(&path)).map_err(sqlx::Error::Io)?;
        }
        Ok(Self {
            pool,
            writer: Some(tokio::sync::Mutex::new(())),
        })
    }
}

impl PgStore {
    /// Connects to PostgreSQL.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            // As on SQLite: a connection left inside a transaction is closed, not reused.
            .after_release(|conn, _| {
                Box::pin(async move { Ok(clean_after_release(conn.is_in_transaction())) })
            })
            .connect(url)
            .await?;
        Ok(Self { pool, writer: None })
    }
}

/// Whether a released connection may go back to the pool: not while it is inside a
/// transaction it could not finish.
fn clean_after_release(in_transaction: bool) -> bool {
    if in_transaction {
        tracing::warn!("closing a database connection left inside an unfinished transaction");
    }
    !in_transaction
}

/// Creates a directory (and its parents) that only its owner may enter (0700 on Unix).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes an existing file readable and writable by its owner alone (0600 on Unix); a file
/// that does not exist is left alone.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if path.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens the store a database URL names: `postgres://` or `postgresql://` for PostgreSQL,
/// anything else for SQLite.
pub async fn open(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    } else {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    }
}

pub(crate) fn parse_days(text: &str) -> Result<Vec<NaiveDate>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|e| StoreError::Corrupt(format!("event day {s:?}: {e}")))
        })
        .collect()
}

pub(crate) fn format_days(days: &[NaiveDate]) -> String {
    days.iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn mask(value: i64, what: &str) -> Result<u16, StoreError> {
    u16::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} out of range")))
}

/// A statement assembled from the store's constant SQL fragments (a select list and its
/// filter), never from input: values always go in as bound parameters.
pub(crate) fn sql(parts: &[&str]) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(parts.concat())
}

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
