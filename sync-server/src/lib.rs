//! Tessera's sync server: sales, issuance (signing, QR, PDF, email outbox) and the HTTP API,
//! on SQLite (the embedded default) or PostgreSQL.
//!
//! [`open`] prepares everything a process needs (store, migrations, keys, demo seed);
//! [`serve`] runs the HTTP API and the outbox worker on a listener until `shutdown`
//! resolves, so tests bind port 0 and stop cleanly. The binary in `main.rs` is a thin CLI
//! over these.

pub mod app;
pub mod backup;
pub mod config;
pub mod copydb;
pub mod domain;
pub mod http;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use app::{accounts, catalog, email, keys, payments, wallet};
use tokio::sync::{Notify, RwLock, watch};

/// The store crate, under the name the server's modules use.
pub use tessera_store as store;

pub use app::Services;
pub use config::Settings;
pub use http::router;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The demo catalog could not be seeded.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// The mail transport is misconfigured.
    #[error(transparent)]
    Email(#[from] email::EmailError),
    /// The payment provider is misconfigured.
    #[error(transparent)]
    Payments(#[from] payments::ProviderError),
    /// The wallet credentials are misconfigured.
    #[error(transparent)]
    Wallet(#[from] wallet::WalletError),
    /// Serving failed.
    #[error("serving HTTP failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The file (in the data dir, mode 0600) holding the demo organizer's login.
pub const DEMO_ORGANIZER_FILE: &str = "demo-organizer.txt";

/// The demo festival's organizer account, created once with a random password that is
/// written to [`DEMO_ORGANIZER_FILE`] and never logged.
async fn demo_organizer(
    store: &dyn store::Store,
    data_dir: &std::path::Path,
) -> Result<(), ServerError> {
    const EMAIL: &str = "organizer@demo.tessera.invalid";
    if store.user_by_email(EMAIL).await?.is_some() {
        return Ok(());
    }
    let internal = |e: app::AppError| ServerError::Io(std::io::Error::other(e.to_string()));
    let password = accounts::new_token().map_err(internal)?[..24].to_owned();
    let hash = accounts::hash_password(password.clone())
        .await
        .map_err(internal)?;
    let created = store
        .create_user(&store::NewUser {
            email: EMAIL.to_owned(),
            name: "Demo Organizer".to_owned(),
            password_hash: hash,
            role: accounts::Role::Organizer.as_str().to_owned(),
            verified: true,
            now: chrono::Utc::now().timestamp(),
        })
        .await;
    match created {
        Ok(_) => {}
        // Another instance made it first: its file holds the password.
        Err(store::StoreError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(data_dir.join(DEMO_ORGANIZER_FILE))?;
    writeln!(file, "email: {EMAIL}\npassword: {password}")?;
    Ok(())
}

/// Opens the store, runs migrations, seeds the demo festival (in demo mode) and loads or
/// creates the signing keys.
pub async fn open(settings: Settings) -> Result<Services, ServerError> {
    // The data dir holds the database, the master key, the outbox's emails and wallet
    // credentials: only the server's user may enter it.
    if settings.data_dir.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o700))?;
        }
    } else {
        store::private_dir(&settings.data_dir)?;
    }
    let store = store::open(&settings.database_url(), settings.database_max_connections).await?;
    store.migrate().await?;
    if settings.demo {
        catalog::seed_demo(store.as_ref(), chrono::Utc::now()).await?;
        demo_organizer(store.as_ref(), &settings.data_dir).await?;
    }
    let master = keys::MasterKey::load(&settings)?;
    let keys = keys::Keys::load_or_create(store.as_ref(), &master).await?;
    let payments = payments::Payments::from_settings(&settings)?;
    let wallet = Arc::new(wallet::Wallet::from_settings(&settings)?);
    Ok(Services {
        storage: Arc::new(app::storage::Storage::from_settings(&settings)),
        wallet,
        payments,
        store,
        keys: Arc::new(RwLock::new(Arc::new(keys))),
        master: Arc::new(master),
        settings: Arc::new(settings),
        wake: Arc::new(Notify::new()),
    })
}

/// Serves the API on `listener` and drains the email outbox until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = open(settings).await?;
    serve_state(state, listener, shutdown).await
}

/// [`serve`] for an already opened [`Services`].
pub async fn serve_state(
    state: Services,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = if state.settings.email.worker {
        let outbox = email::Outbox {
            store: state.store.clone(),
            mailer: email::Mailer::from_settings(&state.settings)?,
            settings: state.settings.clone(),
            master: state.master.clone(),
            wake: state.wake.clone(),
        };
        Some(tokio::spawn(outbox.run(stop_rx.clone())))
    } else {
        None
    };
    tracing::info!("payments: {}", state.payments.describe(&state.settings));
    tracing::info!("wallet passes: {}", state.wallet.describe());
    let expiry = state
        .payments
        .provider()
        .is_some()
        .then(|| tokio::spawn(payments::run_expiry(state.clone(), stop_rx.clone())));
    let reloader = tokio::spawn(reload_keys(state.clone(), stop_rx));
    let served = http::serve(listener, state, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(worker) = worker {
        // The worker finishes the email it is sending; anything unsent stays in the outbox.
        let _ = worker.await;
    }
    let _ = reloader.await;
    if let Some(expiry) = expiry {
        let _ = expiry.await;
    }
    Ok(served?)
}

async fn reload_keys(state: Services, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(state.settings.keys_reload_ms.max(10));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match keys::Keys::load_or_create(state.store.as_ref(), &state.master).await {
            Ok(keys) => *state.keys.write().await = Arc::new(keys),
            Err(e) => tracing::warn!(error = %e, "reloading signing keys failed"),
        }
    }
}
