//! Settings: coded defaults, then a TOML file, then `TESSERA_*` environment variables, then
//! command-line flags. Owns secret redaction (`Secret`) so no secret reaches a log line or
//! `print-config`; deliberately knows nothing about what the settings are used for.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A value that must never be printed: its `Debug`, `Display` and serialized forms are
/// `<redacted>`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// Everything the server and the admin subcommands are configured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Holds the SQLite database (by default), the master key file and the `.eml` outbox.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; unset means `<data_dir>/tessera.db`. A secret
    /// because PostgreSQL URLs carry passwords.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Secret>,
    /// Where `serve` listens.
    pub bind: SocketAddr,
    /// The address attendees reach the server at, used for links in emails; unset means
    /// `http://<bind>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// 64 hex digits that encrypt the signing keys at rest; unset means the key file
    /// `<data_dir>/master.key`, created on first start with mode 0600. Several server
    /// instances on one PostgreSQL database must share it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key: Option<Secret>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Connection limits.
    pub http: HttpSettings,
    /// How often a client and an address may try the account forms.
    pub limits: LimitSettings,
    /// Most items and most tickets of one type in one order.
    pub max_quantity: u32,
    /// An order's access token (its link in the confirmation) stops working this many days
    /// after the order's last event ends.
    pub order_link_days_after_event: u32,
    /// Database pool size.
    pub database_max_connections: u32,
    /// The free-space floor, in bytes, of the disks that hold the data directory and the
    /// SQLite database: below it, new sales and check-in uploads are refused (503
    /// `storage_unavailable`) and `/readyz` is not ready, before the database fills the
    /// disk. 0 turns the guard off.
    pub min_free_bytes: u64,
    /// The bearer token `/metrics` asks for (it lists devices and sales); unset, `/metrics`
    /// is off (404).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<Secret>,
    /// Seeds the demo festival at start (set by `tessera-server demo`).
    pub demo: bool,
    /// How often a running server reloads its signing keys, so a `keys rotate` run by
    /// another process takes effect without a restart.
    pub keys_reload_ms: u64,
    /// Confirmation email and its outbox worker.
    pub email: EmailSettings,
    /// Stripe; without a secret key the server is in demo mode.
    pub payments: PaymentSettings,
    /// Apple Wallet and Google Wallet passes; without credentials, demo ones.
    pub wallet: WalletSettings,
}

/// Connection limits: slow or idle clients cannot hold the server's connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// A connection must send a request's headers within this many milliseconds, or it is
    /// closed.
    pub header_read_timeout_ms: u64,
    /// Most connections open at once; the next waits in the listen queue.
    pub max_connections: usize,
    /// A kept-alive connection from which nothing has been read for this many milliseconds
    /// is closed (after answering any request in flight), so idle clients cannot hold every
    /// connection slot.
    pub idle_timeout_ms: u64,
    /// The reverse proxies (load balancers) in front of the server, whose
    /// `X-Forwarded-For` names the client. A request from any other address is its own
    /// client, whatever `X-Forwarded-For` it carries: anyone can write that header.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            max_connections: 4096,
            idle_timeout_ms: 30_000,
            trusted_proxies: Vec::new(),
        }
    }
}

/// How often the account forms may be tried (ADR 0019). A client is the request's address
/// (through a trusted proxy, the one its `X-Forwarded-For` names; IPv6 by its /64). Beyond a
/// limit an attempt is answered 429 with `Retry-After`, the time until the oldest counted
/// attempt leaves the window: attempts slow down, they are never locked out, and only
/// failures count (a login that succeeds uncounts itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// The window of the login limits, in seconds.
    pub login_window_secs: u64,
    /// Failed logins (and password changes) for one address from one client: what a
    /// stranger's guesses cost the stranger, never the account's owner on another client.
    pub login_per_client_address: i64,
    /// Failed logins for one address from every client (guessing from many clients).
    pub login_per_address: i64,
    /// Failed logins from one client across addresses (one password tried on many).
    pub login_per_client: i64,
    /// The window of the registration and reset limits, in seconds.
    pub account_window_secs: u64,
    /// Registrations from one client.
    pub register_per_client: i64,
    /// Registrations of one address.
    pub register_per_address: i64,
    /// Reset requests, and failed uses of reset links, from one client.
    pub reset_per_client: i64,
    /// Reset requests for one address.
    pub reset_per_address: i64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            login_window_secs: 15 * 60,
            login_per_client_address: 5,
            login_per_address: 20,
            login_per_client: 50,
            account_window_secs: 3600,
            register_per_client: 20,
            register_per_address: 5,
            reset_per_client: 20,
            reset_per_address: 5,
        }
    }
}

/// Wallet passes (ADR 0011). Without Apple or Google credentials the server signs with demo
/// ones it generates in `<data_dir>/wallet-demo/`, and labels the passes demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalletSettings {
    /// The organizer's name as passes show it (Apple `organizationName`, Google
    /// `issuerName`).
    pub organization_name: String,
    /// The venue's latitude, for the pass's lock-screen location; with `longitude`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// The venue's longitude; with `latitude`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Apple Wallet.
    pub apple: AppleWalletSettings,
    /// Google Wallet.
    pub google: GoogleWalletSettings,
}

impl Default for WalletSettings {
    fn default() -> Self {
        Self {
            organization_name: "Tessera".to_owned(),
            latitude: None,
            longitude: None,
            apple: AppleWalletSettings::default(),
            google: GoogleWalletSettings::default(),
        }
    }
}

/// Apple Wallet: the Pass Type ID certificate from the organizer's Apple developer account.
/// Set `certificate`, `key`, `wwdr_certificate`, `pass_type_id` and `team_id` together;
/// with no `certificate` the server uses a generated demo certificate that iPhones refuse.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppleWalletSettings {
    /// The Pass Type ID (`pass.com.example.festival`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_type_id: Option<String>,
    /// The 10-character Apple team identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// PEM file of the Pass Type ID certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// PEM file of the certificate's private key (PKCS#8 or PKCS#1, optionally encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The key file's password, if it is encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_password: Option<Secret>,
    /// PEM file of Apple's WWDR intermediate certificate that issued the pass certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wwdr_certificate: Option<PathBuf>,
}

/// Google Wallet: an issuer account and a service account allowed to use it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleWalletSettings {
    /// The Google Wallet issuer id (digits, from the Pay & Wallet console).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_id: Option<String>,
    /// The service account's JSON key file (`client_email`, `private_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_key: Option<PathBuf>,
}

/// Stripe Checkout, its webhook and unpaid-order expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSettings {
    /// Stripe secret key (`sk_live_...`, `sk_test_...` or a restricted `rk_...`); unset
    /// means demo mode: orders are paid at once and labelled demo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_secret_key: Option<Secret>,
    /// The webhook endpoint's signing secret (`whsec_...`); without it the webhook
    /// refuses every event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_webhook_secret: Option<Secret>,
    /// Stripe's API base URL; unset means `https://api.stripe.com/`. Tests point it at a
    /// local double.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_api_base: Option<String>,
    /// Seconds an unpaid order holds its tickets before it expires and releases them.
    pub order_ttl_secs: u64,
    /// Most unpaid orders (checkouts started within `order_ttl_secs`) one buyer address may
    /// hold; the next is answered 429 `too_many_holds` with `Retry-After`.
    pub max_holds_per_address: i64,
    /// Most unpaid orders one client (its address, as the account forms count it) may hold.
    pub max_holds_per_client: i64,
    /// How often a running server looks for expired unpaid orders, in milliseconds.
    pub expiry_sweep_ms: u64,
    /// Largest accepted age of a webhook signature's timestamp, in seconds.
    pub webhook_tolerance_secs: u64,
    /// Bearer token an organizer's tools send to `POST /api/v1/orders/{id}/refund`; unset
    /// means the refund endpoint is off (the `refund` subcommand always works).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_api_token: Option<Secret>,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            order_ttl_secs: 10 * 60,
            max_holds_per_address: 3,
            max_holds_per_client: 10,
            expiry_sweep_ms: 30_000,
            webhook_tolerance_secs: 300,
            refund_api_token: None,
        }
    }
}

/// How confirmation emails leave the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    /// The sender address.
    pub from: String,
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required`, `smtps://user:pass@host`;
    /// unset means `.eml` files under `<data_dir>/outbox/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<Secret>,
    /// Whether this process drains the outbox (admin subcommands never do).
    pub worker: bool,
    /// How often an idle worker looks for due emails, in milliseconds.
    pub poll_ms: u64,
    /// First retry delay; doubled after each failure up to `retry_max_ms`.
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_max_ms: u64,
    /// Attempts before an email is parked as `dead` for an operator to look at.
    pub max_attempts: u32,
    /// How long a worker owns an email it is sending; after a crash another worker (or the
    /// restarted one) takes it over once the lease runs out.
    pub lease_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("tessera-data"),
            database_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            master_key: None,
            max_body_bytes: 64 * 1024,
            http: HttpSettings::default(),
            limits: LimitSettings::default(),
            max_quantity: 20,
            order_link_days_after_event: 7,
            database_max_connections: 8,
            min_free_bytes: 64 * 1024 * 1024,
            metrics_token: None,
            demo: false,
            keys_reload_ms: 30_000,
            email: EmailSettings::default(),
            payments: PaymentSettings::default(),
            wallet: WalletSettings::default(),
        }
    }
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            from: "Tessera Tickets <tickets@tessera.invalid>".to_owned(),
            smtp_url: None,
            worker: true,
            poll_ms: 1000,
            retry_base_ms: 2000,
            retry_max_ms: 3_600_000,
            max_attempts: 12,
            lease_ms: 60_000,
        }
    }
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML file is not valid settings.
    #[error("config file {path} is invalid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Box<toml::de::Error>,
    },
    /// An environment variable has a value of the wrong kind.
    #[error("environment variable {name} is invalid: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// An environment variable's value as a `T`.
fn parse<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| ConfigError::Env {
        name,
        reason: e.to_string(),
    })
}

impl Settings {
    /// Defaults, overlaid by the TOML file (if any), then by `TESSERA_*` variables read
    /// through `env` (a function so tests need not touch the process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
            None => Self::default(),
        };
        settings.apply_env(env)?;
        Ok(settings)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("TESSERA_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("TESSERA_DATABASE_URL") {
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_BIND") {
            self.bind = parse("TESSERA_BIND", &v)?;
        }
        if let Some(v) = env("TESSERA_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = env("TESSERA_MASTER_KEY") {
            self.master_key = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("TESSERA_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = env("TESSERA_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = parse("TESSERA_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = env("TESSERA_METRICS_TOKEN") {
            self.metrics_token = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_HEADER_READ_TIMEOUT_MS") {
            self.http.header_read_timeout_ms = parse("TESSERA_HEADER_READ_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_MAX_CONNECTIONS") {
            self.http.max_connections = parse("TESSERA_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = env("TESSERA_IDLE_TIMEOUT_MS") {
            self.http.idle_timeout_ms = parse("TESSERA_IDLE_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_TRUSTED_PROXIES") {
            self.http.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| parse("TESSERA_TRUSTED_PROXIES", a))
                .collect::<Result<_, _>>()?;
        }
        self.apply_limits_env(&env)?;
        if let Some(v) = env("TESSERA_ORDER_LINK_DAYS_AFTER_EVENT") {
            self.order_link_days_after_event = parse("TESSERA_ORDER_LINK_DAYS_AFTER_EVENT", &v)?;
        }
        if let Some(v) = env("TESSERA_MIN_FREE_BYTES") {
            self.min_free_bytes = parse("TESSERA_MIN_FREE_BYTES", &v)?;
        }
        if let Some(v) = env("TESSERA_KEYS_RELOAD_MS") {
            self.keys_reload_ms = parse("TESSERA_KEYS_RELOAD_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_EMAIL_FROM") {
            self.email.from = v;
        }
        if let Some(v) = env("TESSERA_SMTP_URL") {
            self.email.smtp_url = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_EMAIL_WORKER") {
            self.email.worker = parse("TESSERA_EMAIL_WORKER", &v)?;
        }
        if let Some(v) = env("TESSERA_EMAIL_POLL_MS") {
            self.email.poll_ms = parse("TESSERA_EMAIL_POLL_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_EMAIL_RETRY_BASE_MS") {
            self.email.retry_base_ms = parse("TESSERA_EMAIL_RETRY_BASE_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_EMAIL_RETRY_MAX_MS") {
            self.email.retry_max_ms = parse("TESSERA_EMAIL_RETRY_MAX_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_EMAIL_MAX_ATTEMPTS") {
            self.email.max_attempts = parse("TESSERA_EMAIL_MAX_ATTEMPTS", &v)?;
        }
        if let Some(v) = env("TESSERA_EMAIL_LEASE_MS") {
            self.email.lease_ms = parse("TESSERA_EMAIL_LEASE_MS", &v)?;
        }
        if let Some(v) = env("TESSERA_STRIPE_SECRET_KEY") {
            self.payments.stripe_secret_key = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_STRIPE_WEBHOOK_SECRET") {
            self.payments.stripe_webhook_secret = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_STRIPE_API_BASE") {
            self.payments.stripe_api_base = Some(v);
        }
        if let Some(v) = env("TESSERA_REFUND_API_TOKEN") {
            self.payments.refund_api_token = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_ORDER_TTL_SECS") {
            self.payments.order_ttl_secs = parse("TESSERA_ORDER_TTL_SECS", &v)?;
        }
        if let Some(v) = env("TESSERA_MAX_HOLDS_PER_ADDRESS") {
            self.payments.max_holds_per_address = parse("TESSERA_MAX_HOLDS_PER_ADDRESS", &v)?;
        }
        if let Some(v) = env("TESSERA_MAX_HOLDS_PER_CLIENT") {
            self.payments.max_holds_per_client = parse("TESSERA_MAX_HOLDS_PER_CLIENT", &v)?;
        }
        if let Some(v) = env("TESSERA_PAYMENT_EXPIRY_SWEEP_MS") {
            self.payments.expiry_sweep_ms = parse("TESSERA_PAYMENT_EXPIRY_SWEEP_MS", &v)?;
        }
        self.apply_wallet_env(&env)?;
        Ok(())
    }

    fn apply_limits_env(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let l = &mut self.limits;
        if let Some(v) = env("TESSERA_LOGIN_WINDOW_SECS") {
            l.login_window_secs = parse("TESSERA_LOGIN_WINDOW_SECS", &v)?;
        }
        if let Some(v) = env("TESSERA_LOGIN_PER_CLIENT_ADDRESS") {
            l.login_per_client_address = parse("TESSERA_LOGIN_PER_CLIENT_ADDRESS", &v)?;
        }
        if let Some(v) = env("TESSERA_LOGIN_PER_ADDRESS") {
            l.login_per_address = parse("TESSERA_LOGIN_PER_ADDRESS", &v)?;
        }
        if let Some(v) = env("TESSERA_LOGIN_PER_CLIENT") {
            l.login_per_client = parse("TESSERA_LOGIN_PER_CLIENT", &v)?;
        }
        if let Some(v) = env("TESSERA_ACCOUNT_WINDOW_SECS") {
            l.account_window_secs = parse("TESSERA_ACCOUNT_WINDOW_SECS", &v)?;
        }
        if let Some(v) = env("TESSERA_REGISTER_PER_CLIENT") {
            l.register_per_client = parse("TESSERA_REGISTER_PER_CLIENT", &v)?;
        }
        if let Some(v) = env("TESSERA_REGISTER_PER_ADDRESS") {
            l.register_per_address = parse("TESSERA_REGISTER_PER_ADDRESS", &v)?;
        }
        if let Some(v) = env("TESSERA_RESET_PER_CLIENT") {
            l.reset_per_client = parse("TESSERA_RESET_PER_CLIENT", &v)?;
        }
        if let Some(v) = env("TESSERA_RESET_PER_ADDRESS") {
            l.reset_per_address = parse("TESSERA_RESET_PER_ADDRESS", &v)?;
        }
        Ok(())
    }

    fn apply_wallet_env(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn coordinate(name: &'static str, value: &str) -> Result<f64, ConfigError> {
            value
                .parse()
                .map_err(|e: std::num::ParseFloatError| ConfigError::Env {
                    name,
                    reason: e.to_string(),
                })
        }
        let w = &mut self.wallet;
        if let Some(v) = env("TESSERA_WALLET_ORGANIZATION_NAME") {
            w.organization_name = v;
        }
        if let Some(v) = env("TESSERA_WALLET_LATITUDE") {
            w.latitude = Some(coordinate("TESSERA_WALLET_LATITUDE", &v)?);
        }
        if let Some(v) = env("TESSERA_WALLET_LONGITUDE") {
            w.longitude = Some(coordinate("TESSERA_WALLET_LONGITUDE", &v)?);
        }
        if let Some(v) = env("TESSERA_APPLE_PASS_TYPE_ID") {
            w.apple.pass_type_id = Some(v);
        }
        if let Some(v) = env("TESSERA_APPLE_TEAM_ID") {
            w.apple.team_id = Some(v);
        }
        if let Some(v) = env("TESSERA_APPLE_PASS_CERTIFICATE") {
            w.apple.certificate = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TESSERA_APPLE_PASS_KEY") {
            w.apple.key = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TESSERA_APPLE_PASS_KEY_PASSWORD") {
            w.apple.key_password = Some(Secret::new(v));
        }
        if let Some(v) = env("TESSERA_APPLE_WWDR_CERTIFICATE") {
            w.apple.wwdr_certificate = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TESSERA_GOOGLE_WALLET_ISSUER_ID") {
            w.google.issuer_id = Some(v);
        }
        if let Some(v) = env("TESSERA_GOOGLE_WALLET_KEY") {
            w.google.service_account_key = Some(PathBuf::from(v));
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("tessera.db").display()),
        }
    }

    /// The base URL for links in emails, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// Where `.eml` files go when no SMTP server is configured.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The settings as TOML, secrets redacted: what `print-config` shows. Optional keys that
    /// are unset are listed in a comment, so the output documents every key.
    pub fn to_toml(&self) -> String {
        let mut unset = Vec::new();
        if self.database_url.is_none() {
            unset.push("database_url (default: sqlite://<data_dir>/tessera.db)");
        }
        if self.public_url.is_none() {
            unset.push("public_url (default: http://<bind>)");
        }
        if self.metrics_token.is_none() {
            unset.push("metrics_token (default: /metrics is off)");
        }
        if self.master_key.is_none() {
            unset.push("master_key (default: the file <data_dir>/master.key)");
        }
        if self.email.smtp_url.is_none() {
            unset.push("email.smtp_url (default: .eml files in <data_dir>/outbox/)");
        }
        if self.payments.stripe_secret_key.is_none() {
            unset.push("payments.stripe_secret_key (default: demo mode, no money moves)");
        }
        if self.payments.stripe_webhook_secret.is_none() {
            unset.push("payments.stripe_webhook_secret (default: webhook refuses events)");
        }
        if self.payments.stripe_api_base.is_none() {
            unset.push("payments.stripe_api_base (default: https://api.stripe.com/)");
        }
        if self.wallet.apple.certificate.is_none() {
            unset.push("wallet.apple.certificate (default: generated demo pass certificate)");
        }
        if self.wallet.google.service_account_key.is_none() {
            unset.push("wallet.google.service_account_key (default: generated demo key)");
        }
        let mut out: String = unset.iter().map(|k| format!("# unset: {k}\n")).collect();
        out.push_str(
            &toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n")),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_secrets_are_redacted() {
        let dir = std::env::temp_dir().join(format!("tessera-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tessera.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\n[email]\nfrom = \"a@b.test\"\nsmtp_url = \"smtp://u:hunter2@h\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "TESSERA_BIND").then(|| "127.0.0.1:9100".to_owned());
        let s = Settings::load(Some(&file), env).unwrap();
        assert_eq!(s.bind.port(), 9100);
        assert_eq!(s.email.from, "a@b.test");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!s.to_toml().contains("hunter2"));
        assert!(s.to_toml().contains("<redacted>"));
    }

    #[test]
    fn stripe_keys_come_from_env_and_are_redacted() {
        let env = |k: &str| match k {
            "TESSERA_STRIPE_SECRET_KEY" => Some("sk_test_hunter2".to_owned()),
            "TESSERA_STRIPE_WEBHOOK_SECRET" => Some("whsec_hunter3".to_owned()),
            "TESSERA_ORDER_TTL_SECS" => Some("90".to_owned()),
            _ => None,
        };
        let s = Settings::load(None, env).unwrap();
        assert_eq!(s.payments.order_ttl_secs, 90);
        for shown in [format!("{s:?}"), s.to_toml()] {
            assert!(
                !shown.contains("hunter2") && !shown.contains("hunter3"),
                "{shown}"
            );
        }
        assert_eq!(
            s.payments.stripe_secret_key.as_ref().map(Secret::expose),
            Some("sk_test_hunter2")
        );
    }

    #[test]
    fn wallet_credentials_come_from_env_and_the_password_is_redacted() {
        let env = |k: &str| match k {
            "TESSERA_APPLE_PASS_TYPE_ID" => Some("pass.org.example".to_owned()),
            "TESSERA_APPLE_PASS_KEY_PASSWORD" => Some("hunter4".to_owned()),
            "TESSERA_GOOGLE_WALLET_KEY" => Some("/etc/tessera/google.json".to_owned()),
            "TESSERA_WALLET_LATITUDE" => Some("33.7".to_owned()),
            _ => None,
        };
        let s = Settings::load(None, env).unwrap();
        assert_eq!(
            s.wallet.apple.pass_type_id.as_deref(),
            Some("pass.org.example")
        );
        assert_eq!(s.wallet.latitude, Some(33.7));
        assert_eq!(
            s.wallet.google.service_account_key.as_deref(),
            Some(Path::new("/etc/tessera/google.json"))
        );
        for shown in [format!("{s:?}"), s.to_toml()] {
            assert!(!shown.contains("hunter4"), "{shown}");
        }
        let bad = |k: &str| (k == "TESSERA_WALLET_LONGITUDE").then(|| "east".to_owned());
        assert!(Settings::load(None, bad).is_err());
    }

    #[test]
    fn bad_env_value_is_an_error_naming_the_variable() {
        let env = |k: &str| (k == "TESSERA_EMAIL_POLL_MS").then(|| "soon".to_owned());
        let err = Settings::load(None, env).unwrap_err();
        assert!(err.to_string().contains("TESSERA_EMAIL_POLL_MS"));
    }
}
