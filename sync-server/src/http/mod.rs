//! Everything axum: the JSON API, the pages, the organizer console, the device API, the
//! PassKit web service, the extractors, and the one mapping from [`AppError`] to HTTP.
//! Handlers are short: extract, call a use-case of `app`, map the result.
//!
//! [`AppError`]: crate::app::AppError

pub mod account_api;
pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
pub mod headers;
pub mod metrics;
pub mod payments;
pub mod sync;
pub mod vendors;
pub mod wallet;
pub mod web;

use std::future::Future;

use tokio::net::TcpListener;

use crate::app::Services;

pub use api::router;
pub use error::ErrorBody;
pub use extract::{ApiJson, ApiPath, ApiQuery};

/// Serves every route on `listener` until `shutdown` resolves; requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(services))
        .with_graceful_shutdown(shutdown)
        .await
}
