//! Confirmation email and its durable outbox: framing the message (its words are
//! `domain::email`'s, in the order's language, said in `Content-Language`; HTML and plain
//! text, inline QR images by Content-ID, the order's PDF attached), the transports (SMTP through lettre, or `.eml` files), and the worker that
//! drains the outbox with retries and backoff.
//!
//! Delivery semantics (see `docs/adr/0005-email-outbox.md` and `0017`): an outbox row is
//! inserted in the order's transaction, so a committed order always has its email. A worker
//! claims a row in the database (a lease; the claim is the row's attempt number), delivers,
//! then marks it sent on the condition that the claim is still its own. With files the
//! message is first written whole under a name derived from the claim, and renamed to the
//! row's name only after that mark committed; a worker whose claim was taken over drops its
//! copy, and a restarted worker publishes exactly the staged files whose claims were marked
//! sent. So across instances, whatever folder each one writes to, an email is written once.
//! With SMTP a crash between the server's `250 OK` and the `sent` mark is the one window in
//! which a message can go out twice; every attempt carries the same `Message-ID` so
//! receivers can drop the copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{Notify, watch};

use crate::app::keys::MasterKey;
use crate::config::{EmailSettings, Settings};
use crate::domain::email::{self, Wording, confirmation_wording};
use crate::domain::i18n::Lang;
use crate::domain::render::{self, order_number};
use crate::store::OutboxKind;
use crate::store::{Email, Order, OutboxEmail, Store, StoreError, TicketView};

/// Why an email could not be composed or sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The configured SMTP URL is unusable.
    #[error("smtp_url is invalid: {0}")]
    SmtpUrl(String),
    /// An address does not parse.
    #[error("invalid email address: {0}")]
    Address(String),
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The SMTP server refused or could not be reached (retried).
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// Writing the `.eml` file failed (retried).
    #[error("writing the .eml file failed: {0}")]
    File(#[from] std::io::Error),
    /// The order is gone (never retried).
    #[error("order {0} not found")]
    MissingOrder(i64),
    /// Rendering the QR codes or the PDF failed.
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EmailError {
    /// A short, data-free name for logs: SMTP replies can quote addresses, which must not
    /// reach a log line (the full text is kept in the outbox row for operators).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SmtpUrl(_) => "smtp_url",
            Self::Address(_) => "address",
            Self::Build(_) => "build",
            Self::Smtp(_) => "smtp",
            Self::File(_) => "file",
            Self::MissingOrder(_) => "missing_order",
            Self::Render(_) => "render",
            Self::Store(_) => "store",
        }
    }
}

/// Where composed messages go.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder.
    Files(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The transport holds credentials: never print it.
            Self::Smtp(_) => f.write_str("Mailer::Smtp(<redacted>)"),
            Self::Files(dir) => write!(f, "Mailer::Files({})", dir.display()),
        }
    }
}

impl Mailer {
    /// SMTP if `email.smtp_url` is set, else files under `<data_dir>/outbox/`.
    pub fn from_settings(settings: &Settings) -> Result<Self, EmailError> {
        match &settings.email.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    // The error text may echo the URL, which may hold a password.
                    .map_err(|_| EmailError::SmtpUrl("cannot parse smtp_url".into()))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build();
                Ok(Self::Smtp(transport))
            }
            None => Ok(Self::Files(settings.outbox_dir())),
        }
    }

    /// Sends one outbox row's message: hands it to the SMTP relay, or writes it whole to a
    /// staging file named after the claim, to be published once the claim is marked sent.
    pub async fn deliver(
        &self,
        row: &OutboxEmail,
        message: Message,
    ) -> Result<Delivered, EmailError> {
        match self {
            Self::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map_err(|e| EmailError::Smtp(e.to_string()))?;
                Ok(Delivered::Relayed)
            }
            Self::Files(dir) => {
                if !tokio::fs::try_exists(dir).await? {
                    let dir = dir.clone();
                    tokio::task::spawn_blocking(move || crate::store::private_dir(&dir))
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))??;
                }
                let name = eml_name(row);
                let staged = Staged {
                    tmp: dir.join(format!(".{name}.{}.tmp", row.attempts)),
                    path: dir.join(name),
                    bytes: message.formatted(),
                };
                write_synced(staged.tmp.clone(), staged.bytes.clone()).await?;
                Ok(Delivered::Staged(staged))
            }
        }
    }

    /// Finishes what a crashed or interrupted worker left in the outbox folder: a staging
    /// file whose claim was marked sent is published, any other is removed (its email is
    /// claimed and written again). Files younger than `lease_ms` may belong to a worker
    /// still at work (another instance sharing the folder) and are left alone.
    pub async fn recover(&self, store: &dyn Store, lease_ms: u64) -> Result<usize, EmailError> {
        let Self::Files(dir) = self else {
            return Ok(0);
        };
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut finished = 0;
        while let Some(entry) = entries.next_entry().await? {
            let file = entry.file_name();
            let Some(name) = file.to_str() else { continue };
            let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
                continue;
            };
            let age = entry
                .metadata()
                .await?
                .modified()?
                .elapsed()
                .unwrap_or_default();
            if age < Duration::from_millis(lease_ms) {
                continue;
            }
            let claim = inner
                .rsplit_once('.')
                .and_then(|(eml, attempt)| Some((eml, attempt.parse::<i64>().ok()?)))
                .and_then(|(eml, attempt)| Some((eml, outbox_id(eml)?, attempt)));
            match claim {
                Some((eml, id, attempt)) if store.email_sent_by(id, attempt).await? => {
                    publish(&entry.path(), &dir.join(eml)).await?;
                    tracing::info!(outbox = id, "published an email a stopped worker had sent");
                }
                _ => {
                    remove_if_present(&entry.path()).await?;
                }
            }
            finished += 1;
        }
        Ok(finished)
    }
}

/// What a delivery left to finish once its claim is marked sent.
#[derive(Debug)]
pub enum Delivered {
    /// Handed to the SMTP relay: nothing left.
    Relayed,
    /// Written to a staging file, not yet visible.
    Staged(Staged),
}

/// A message written whole under a name derived from its claim (`.<name>.<attempt>.tmp`),
/// waiting to be published under the row's own name.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Staged {
    /// Makes the message visible under the row's name (an atomic rename). If the staging
    /// file is gone (another instance sharing the folder cleaned it up), it is written again.
    pub async fn publish(self) -> std::io::Result<()> {
        match publish(&self.tmp, &self.path).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_synced(self.tmp.clone(), self.bytes).await?;
                publish(&self.tmp, &self.path).await
            }
            other => other,
        }
    }

    /// Drops the staged message: another worker's claim delivers this email.
    pub async fn discard(self) {
        let _ = remove_if_present(&self.tmp).await;
    }
}

/// The file name of a row's message: a resend replaces it rather than adding a second.
fn eml_name(row: &OutboxEmail) -> String {
    match row.order_id {
        Some(order) => format!("order-{order}-{}.eml", row.id),
        None => format!("account-{}.eml", row.id),
    }
}

/// The outbox row id in a name made by [`eml_name`].
fn outbox_id(eml: &str) -> Option<i64> {
    eml.strip_suffix(".eml")?.rsplit('-').next()?.parse().ok()
}

/// Writes `bytes` to `path` (mode 0600) and syncs it to disk.
async fn write_synced(path: PathBuf, bytes: Vec<u8>) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&path)?;
        f.write_all(&bytes)?;
        f.sync_all()
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// Renames `tmp` to `path` and syncs the folder, so the rename survives a power cut.
async fn publish(tmp: &Path, path: &Path) -> std::io::Result<()> {
    tokio::fs::rename(tmp, path).await?;
    if let Some(dir) = path.parent() {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
    }
    Ok(())
}

async fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The `Message-ID` of an outbox row: stable across retries, so a duplicate is detectable.
pub fn message_id(row: &OutboxEmail) -> String {
    match row.order_id {
        Some(order) => format!("<order-{order}.outbox-{}@tessera>", row.id),
        None => format!("<outbox-{}@tessera>", row.id),
    }
}

/// The link to the attendee's order page, carrying the order's access token.
pub fn order_page_url(settings: &Settings, master: &MasterKey, order_id: i64) -> String {
    format!(
        "{}/orders/{order_id}?token={}",
        settings.public_url(),
        master.order_token(order_id)
    )
}

/// The tickets of an order its buyer still holds: a ticket given to someone else is theirs,
/// and the buyer's order page, PDF and emails no longer show its code.
pub fn held_tickets(order: &Order, tickets: Vec<TicketView>) -> Vec<TicketView> {
    let buyer = Email::new(&order.email);
    tickets
        .into_iter()
        .filter(|t| t.holder_email.as_deref().is_none_or(|h| buyer == h))
        .collect()
}

/// The language an order was placed in (English for a code this build does not know).
pub fn order_lang(order: &Order) -> Lang {
    Lang::parse(&order.lang).unwrap_or_default()
}

/// Composes the confirmation email of an order.
pub fn compose_confirmation(
    settings: &Settings,
    master: &MasterKey,
    row: &OutboxEmail,
    order: &Order,
    tickets: &[TicketView],
) -> Result<Message, EmailError> {
    let wording = confirmation_wording(order_lang(order), order, tickets);
    compose_tickets_email(settings, master, row, order, tickets, &wording)
}

/// Composes an email carrying an order's tickets (inline QR codes, the PDF attached) in the
/// given words.
pub fn compose_tickets_email(
    settings: &Settings,
    master: &MasterKey,
    row: &OutboxEmail,
    order: &Order,
    tickets: &[TicketView],
    wording: &Wording,
) -> Result<Message, EmailError> {
    let number = order_number(order.id);
    let link = order_page_url(settings, master, order.id);
    let wallet: Vec<_> = tickets
        .iter()
        .map(|t| {
            crate::app::wallet::links(&settings.public_url(), t.id, &master.order_token(order.id))
        })
        .collect();
    let lang = order_lang(order);
    let content = email::tickets_email(lang, order, tickets, wording, &link, &wallet);
    let related = with_codes(content.text, content.html, tickets)?;
    let pdf = render::tickets_pdf(order, tickets)?;
    let mixed = MultiPart::mixed().multipart(related).singlepart(
        Attachment::new(format!("tickets-{number}.pdf")).body(
            pdf,
            ContentType::parse("application/pdf").map_err(|e| EmailError::Build(e.to_string()))?,
        ),
    );
    let from: Mailbox = settings
        .email
        .from
        .parse()
        .map_err(|_| EmailError::Address("email.from".into()))?;
    let to: Mailbox = Mailbox::new(
        Some(order.name.clone()),
        row.recipient
            .parse()
            .map_err(|_| EmailError::Address(format!("recipient of order {}", order.id)))?,
    );
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(content.subject)
        .message_id(Some(message_id(row)));
    builder = builder
        .header(OutboxHeader(row.id.to_string()))
        .header(ContentLanguage(lang.code()));
    builder
        .multipart(mixed)
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// The plain and HTML alternatives of an email with each ticket's QR code inline, as the
/// HTML refers to it (`cid:ticket-<id>@tessera`).
pub fn with_codes(
    text: String,
    html: String,
    tickets: &[TicketView],
) -> Result<MultiPart, EmailError> {
    let mut related = MultiPart::related().multipart(MultiPart::alternative_plain_html(text, html));
    for t in tickets {
        related = related.singlepart(
            Attachment::new_inline(format!("ticket-{}@tessera", t.id)).body(
                render::qr_png(&t.qr_text)?,
                ContentType::parse("image/png").map_err(|e| EmailError::Build(e.to_string()))?,
            ),
        );
    }
    Ok(related)
}

/// A plain-text email about an order (refund notices), in the order's language.
pub fn compose_plain(
    settings: &Settings,
    row: &OutboxEmail,
    order: &Order,
    subject: String,
    text: String,
) -> Result<Message, EmailError> {
    let lang = order_lang(order);
    let from: Mailbox = settings
        .email
        .from
        .parse()
        .map_err(|_| EmailError::Address("email.from".into()))?;
    let to = Mailbox::new(
        Some(order.name.clone()),
        row.recipient
            .parse()
            .map_err(|_| EmailError::Address(format!("recipient of order {}", order.id)))?,
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(message_id(row)))
        .header(OutboxHeader(row.id.to_string()))
        .header(ContentLanguage(lang.code()))
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// `X-Tessera-Outbox: <row id>`: lets tests and operators match a message to its row.
#[derive(Debug, Clone)]
struct OutboxHeader(String);

impl lettre::message::header::Header for OutboxHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Tessera-Outbox")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Content-Language: <code>`: the language an email is written in (RFC 3282).
#[derive(Debug, Clone)]
pub struct ContentLanguage(pub &'static str);

impl lettre::message::header::Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Lang::parse(s)
            .map(|l| Self(l.code()))
            .ok_or_else(|| format!("not a language of ours: {s}").into())
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_owned())
    }
}

/// The outbox worker's collaborators.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The store holding the outbox table.
    pub store: Arc<dyn Store>,
    /// Where messages go.
    pub mailer: Mailer,
    /// Settings (retry policy, sender, public URL).
    pub settings: Arc<Settings>,
    /// Seals keys and derives order tokens (for the order page link).
    pub master: Arc<MasterKey>,
    /// Woken when a new email is queued in this process.
    pub wake: Arc<Notify>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The delay before attempt `attempts + 1`: doubling from `retry_base_ms`, capped at
/// `retry_max_ms`.
pub fn backoff_ms(e: &EmailSettings, attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = e
        .retry_base_ms
        .saturating_mul(1u64 << exp)
        .min(e.retry_max_ms);
    i64::try_from(delay).unwrap_or(i64::MAX)
}

impl Outbox {
    /// Sends every due email once; returns how many were claimed.
    pub async fn drain_once(&self) -> Result<usize, StoreError> {
        let e = &self.settings.email;
        let now = now_ms();
        let lease = now + i64::try_from(e.lease_ms).unwrap_or(60_000);
        let claimed = self.store.claim_due_emails(now, lease, 16).await?;
        for row in &claimed {
            match self.send(row).await {
                Ok(delivered) => self.finish(row, delivered).await?,
                Err(err) => {
                    let permanent = matches!(
                        err,
                        EmailError::MissingOrder(_) | EmailError::Address(_) | EmailError::Build(_)
                    );
                    let give_up = permanent || row.attempts >= i64::from(e.max_attempts);
                    let next = now_ms() + backoff_ms(e, row.attempts);
                    tracing::warn!(
                        outbox = row.id,
                        order = row.order_id,
                        attempts = row.attempts,
                        give_up,
                        error = err.kind(),
                        "email not sent"
                    );
                    self.store
                        .mark_email_failed(row.id, row.attempts, next, &err.to_string(), give_up)
                        .await?;
                }
            }
        }
        Ok(claimed.len())
    }

    /// Marks the claim sent, then makes a staged file visible; a claim another worker has
    /// taken over meanwhile drops its copy. Marked right after the send: for SMTP the
    /// at-least-once window is this one statement. If the mark fails, the staged file
    /// stays for [`Mailer::recover`], which publishes it only if the mark did commit.
    async fn finish(&self, row: &OutboxEmail, delivered: Delivered) -> Result<(), StoreError> {
        let mine = self
            .store
            .mark_email_sent(row.id, row.attempts, chrono::Utc::now().timestamp())
            .await?;
        match delivered {
            Delivered::Staged(staged) if mine => {
                if let Err(e) = staged.publish().await {
                    tracing::error!(outbox = row.id, error = %e, "a sent email's file is not published yet; retried by recovery");
                }
            }
            Delivered::Staged(staged) => staged.discard().await,
            Delivered::Relayed if !mine => tracing::warn!(
                outbox = row.id,
                "relayed after its lease ran out: another worker may relay it too (same Message-ID)"
            ),
            Delivered::Relayed => {}
        }
        if mine {
            tracing::info!(outbox = row.id, order = row.order_id, "email sent");
        } else {
            tracing::info!(outbox = row.id, "another worker took this email over");
        }
        Ok(())
    }

    async fn send(&self, row: &OutboxEmail) -> Result<Delivered, EmailError> {
        use crate::app::notices::{Notice, compose};
        let notice = |notice| compose(&*self.store, &self.settings, &self.master, row, notice);
        let message = match row.kind {
            OutboxKind::OrderConfirmation => self.confirmation(row).await?,
            OutboxKind::PaymentRefunded => self.refund_notice(row).await?,
            OutboxKind::VerifyEmail => notice(Notice::VerifyEmail).await?,
            OutboxKind::PasswordReset => notice(Notice::PasswordReset).await?,
            OutboxKind::TicketTransferredOut => notice(Notice::TransferredOut).await?,
            OutboxKind::TicketTransferredIn => notice(Notice::TransferredIn).await?,
            OutboxKind::TicketUpgraded => notice(Notice::Upgraded).await?,
            OutboxKind::TicketReissued => notice(Notice::Reissued).await?,
            OutboxKind::MyTickets => notice(Notice::MyTickets).await?,
        };
        self.mailer.deliver(row, message).await
    }

    /// The order an order's email is about.
    async fn order_of(&self, row: &OutboxEmail) -> Result<Order, EmailError> {
        let order_id = row.order_id.ok_or(EmailError::MissingOrder(0))?;
        self.store
            .order(order_id)
            .await?
            .ok_or(EmailError::MissingOrder(order_id))
    }

    /// A refund's notice, from the order's refunds as they stand.
    async fn refund_notice(&self, row: &OutboxEmail) -> Result<Message, EmailError> {
        let order = self.order_of(row).await?;
        let refunds = self.store.refunds(order.id).await?;
        let notice = email::refund_notice(order_lang(&order), &order, &refunds);
        compose_plain(&self.settings, row, &order, notice.subject, notice.text)
    }

    /// An order's confirmation with the tickets its buyer still holds; booth orders and staff
    /// passes get the vendor's words (`app::vendors`).
    async fn confirmation(&self, row: &OutboxEmail) -> Result<Message, EmailError> {
        let order = self.order_of(row).await?;
        let tickets = held_tickets(&order, self.store.order_tickets(order.id).await?);
        let wording =
            match crate::app::vendors::vendor_wording(self.store.as_ref(), &order, &tickets).await?
            {
                Some(w) => w,
                None => confirmation_wording(order_lang(&order), &order, &tickets),
            };
        compose_tickets_email(
            &self.settings,
            &self.master,
            row,
            &order,
            &tickets,
            &wording,
        )
    }

    /// Drains the outbox until `shutdown` turns true: at once when woken, else when the
    /// next email is due or every `poll_ms` (another process may have queued one).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.email.poll_ms.max(10));
        let lease = Duration::from_millis(self.settings.email.lease_ms);
        let mut recovered_at: Option<std::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            // At start, then once a lease: files a stopped worker left half delivered.
            if recovered_at.is_none_or(|t| t.elapsed() >= lease) {
                recovered_at = Some(std::time::Instant::now());
                if let Err(e) = self
                    .mailer
                    .recover(self.store.as_ref(), self.settings.email.lease_ms)
                    .await
                {
                    tracing::error!(error = %e, "outbox worker: recovering staged emails failed");
                }
            }
            let claimed = match self.drain_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "outbox worker: store error");
                    0
                }
            };
            if claimed > 0 {
                continue;
            }
            let wait = match self.store.next_email_due_ms().await {
                Ok(Some(due)) => {
                    Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)).min(poll)
                }
                _ => poll,
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let e = EmailSettings {
            retry_base_ms: 100,
            retry_max_ms: 1000,
            ..EmailSettings::default()
        };
        let delays: Vec<i64> = (1..=6).map(|a| backoff_ms(&e, a)).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_ms(&e, i64::MAX), 1000);
    }

    #[tokio::test]
    async fn eml_delivery_is_idempotent_per_outbox_row() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::Files(dir.path().to_owned());
        let row = OutboxEmail {
            id: 7,
            kind: OutboxKind::OrderConfirmation,
            order_id: Some(42),
            ref_id: None,
            recipient: "a@example.com".into(),
            attempts: 1,
        };
        let message = || {
            Message::builder()
                .from("t@example.com".parse().unwrap())
                .to("a@example.com".parse().unwrap())
                .subject("hi")
                .message_id(Some(message_id(&row)))
                .body(String::from("hello"))
                .unwrap()
        };
        let publish = |d: Delivered| async move {
            match d {
                Delivered::Staged(s) => s.publish().await.unwrap(),
                Delivered::Relayed => panic!("files are staged"),
            }
        };
        publish(mailer.deliver(&row, message()).await.unwrap()).await;
        // Published twice (a retry after a crash): the same file, not a second one.
        publish(mailer.deliver(&row, message()).await.unwrap()).await;
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
        assert!(dir.path().join("order-42-7.eml").exists());
        assert_eq!(outbox_id("order-42-7.eml"), Some(7));
        assert_eq!(outbox_id("account-9.eml"), Some(9));
    }
}
