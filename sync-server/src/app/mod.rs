//! The use-cases: placing an order, comps, transfers and upgrades, refunds, voids, accounts,
//! devices, check-ins and booths, the email outbox and the keys. Each takes the
//! [`Services`] it needs and returns an [`AppError`]; none knows about HTTP, so the API,
//! the pages, the console and the CLI call the same code.

pub mod accounts;
pub mod attempts;
pub mod catalog;
pub mod console;
pub mod devices;
pub mod email;
pub mod error;
pub mod gates;
pub mod keys;
pub mod notices;
pub mod orders;
pub mod payments;
pub mod storage;
pub mod tickets;
pub mod vendors;
pub mod wallet;

use std::sync::Arc;

use tokio::sync::{Notify, RwLock};

pub use error::AppError;

use crate::config::Settings;
use crate::store::Store;
use keys::{Keys, MasterKey};

/// What the use-cases share: the store, the keys, the settings and the outside services.
#[derive(Debug, Clone)]
pub struct Services {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Signing keys; replaced when they are reloaded after a rotation.
    pub keys: Arc<RwLock<Arc<Keys>>>,
    /// Derives order access tokens.
    pub master: Arc<MasterKey>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Wakes the outbox worker when an order queues an email.
    pub wake: Arc<Notify>,
    /// Demo mode or Stripe.
    pub payments: payments::Payments,
    /// Wallet pass credentials.
    pub wallet: Arc<wallet::Wallet>,
    /// The free-space guard of the disks the server writes to.
    pub storage: Arc<storage::Storage>,
}
