//! Wallet passes (ADR 0011): Apple Wallet `.pkpass` files kept current through the PassKit
//! web service, and "Save to Google Wallet" links. Owns the signing credentials (configured,
//! or demo ones generated once in `<data_dir>/wallet-demo/`) and the per-pass tokens; the
//! pass formats live in `apple` and `google`, the HTTP side in `web`. Knows nothing about
//! how a ticket is sold, transferred or refunded: a pass shows the ticket row as it is.

pub mod apple;
pub mod google;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::config::{Settings, WalletSettings};
use apple::AppleSigner;
use google::GoogleSigner;

pub use crate::domain::email::WalletLinks;

/// Why a pass could not be made, or the credentials not loaded.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// Some wallet settings are set and a key that goes with them is not.
    #[error("{0} must be set too (see the wallet section of docs/operations.md)")]
    Incomplete(&'static str),
    /// A credential file could not be read.
    #[error("cannot read the {what} {path}: {source}")]
    File {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A credential file does not hold what it should.
    #[error("the {what} {path} is unusable: {reason}")]
    Credential {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the key {0} does not belong to wallet.apple.certificate")]
    KeyMismatch(String),
    /// OpenSSL failed while signing or generating keys.
    #[error("OpenSSL failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// The pass could not be packaged.
    #[error("cannot package the pass: {0}")]
    Package(String),
    /// Generating demo credentials was interrupted.
    #[error("generating demo wallet credentials failed: {0}")]
    Task(String),
}

/// The wallet credentials of a running server: configured ones are loaded (and checked) at
/// start; demo ones are generated or loaded on first use, since most servers and tests
/// never make a pass and an RSA key takes a moment to generate.
pub struct Wallet {
    settings: WalletSettings,
    demo_dir: PathBuf,
    apple: OnceCell<Arc<AppleSigner>>,
    google: OnceCell<Arc<GoogleSigner>>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("apple", &self.apple.get())
            .field("google", &self.google.get())
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// Loads the configured credentials; a misconfiguration is an error at start, not at
    /// the first pass.
    pub fn from_settings(settings: &Settings) -> Result<Self, WalletError> {
        let apple =
            OnceCell::new_with(AppleSigner::from_settings(&settings.wallet.apple)?.map(Arc::new));
        let google =
            OnceCell::new_with(GoogleSigner::from_settings(&settings.wallet.google)?.map(Arc::new));
        Ok(Self {
            settings: settings.wallet.clone(),
            demo_dir: settings.data_dir.join("wallet-demo"),
            apple,
            google,
        })
    }

    /// The wallet settings.
    pub fn settings(&self) -> &WalletSettings {
        &self.settings
    }

    /// The pass type id every served pass carries (configured, or the demo one).
    pub fn pass_type_id(&self) -> &str {
        match &self.settings.apple.certificate {
            Some(_) => self
                .settings
                .apple
                .pass_type_id
                .as_deref()
                .unwrap_or_default(),
            None => apple::DEMO_PASS_TYPE_ID,
        }
    }

    /// What the log says at start.
    pub fn describe(&self) -> String {
        let apple = match &self.settings.apple.certificate {
            Some(_) => format!("Apple pass type {}", self.pass_type_id()),
            None => "Apple demo certificate".to_owned(),
        };
        let google = match &self.settings.google.issuer_id {
            Some(issuer) if self.settings.google.service_account_key.is_some() => {
                format!("Google issuer {issuer}")
            }
            _ => "Google demo key".to_owned(),
        };
        format!("{apple}, {google}")
    }

    /// The Apple signer: configured, or the demo chain.
    pub async fn apple(&self) -> Result<Arc<AppleSigner>, WalletError> {
        let dir = self.demo_dir.clone();
        self.apple
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || AppleSigner::demo(&dir).map(Arc::new))
                    .await
                    .map_err(|e| WalletError::Task(e.to_string()))?
            })
            .await
            .cloned()
    }

    /// The Google signer: configured, or the demo key.
    pub async fn google(&self) -> Result<Arc<GoogleSigner>, WalletError> {
        let dir = self.demo_dir.clone();
        self.google
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || GoogleSigner::demo(&dir).map(Arc::new))
                    .await
                    .map_err(|e| WalletError::Task(e.to_string()))?
            })
            .await
            .cloned()
    }
}

/// The wallet links of a ticket under `base` (the public URL, or empty for relative links).
pub fn links(base: &str, ticket_id: i64, order_token: &str) -> WalletLinks {
    WalletLinks {
        apple: format!("{base}/api/v1/tickets/{ticket_id}/wallet/apple?token={order_token}"),
        google: format!("{base}/api/v1/tickets/{ticket_id}/wallet/google/save?token={order_token}"),
    }
}

/// The file at `path`, or a new one holding what `make` returns, created with mode 0600.
/// Written to a temporary file and hard-linked into place, so a concurrent process either
/// wins and its file is read here, or loses to ours: never a half-written file.
fn load_or_create(
    path: &Path,
    make: impl FnOnce() -> Result<Vec<u8>, WalletError>,
) -> Result<Vec<u8>, WalletError> {
    let file_err = |source| WalletError::File {
        what: "demo wallet credential",
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_err(e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_err)?;
    }
    let bytes = make()?;
    let mut suffix = [0u8; 8];
    crate::app::keys::random_bytes(&mut suffix).map_err(|e| WalletError::Task(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp-{}", hex::encode(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(file_err)
        }
        Err(e) => Err(file_err(e)),
    }
}
