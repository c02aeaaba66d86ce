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
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::app::Services;

pub use api::router;
pub use error::ErrorBody;
pub use extract::{ApiJson, ApiPath, ApiQuery};

/// Serves every route on `listener` until `shutdown` resolves; requests in flight finish.
///
/// A connection must send a request's headers within `header_read_timeout_ms` (idle or
/// half-open connections are closed, not held for ever), and at most `max_connections` are
/// open at once: the next waits in the listen queue until one closes.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = services.settings.http.clone();
    let router = router(services);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = Duration::from_millis(limits.header_read_timeout_ms.max(1));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Each request knows its connection's peer: the client its limits count
        // (`http::auth`'s `Client`, which believes `X-Forwarded-For` only from a trusted
        // proxy).
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            with_peer(peer),
        ));
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            // hyper times a request's headers from their first byte: a connection that sends
            // nothing at all is closed here.
            let mut first = [0u8; 1];
            if tokio::time::timeout(header_timeout, stream.peek(&mut first))
                .await
                .is_err()
            {
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            // A closed or timed-out connection is the client's affair; nothing to log.
            let _ = watcher.watch(connection.into_owned()).await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Puts the connection's peer address in each request's extensions, as axum's
/// `ConnectInfo`.
fn with_peer<B>(
    peer: std::net::SocketAddr,
) -> impl Fn(axum::extract::Request<B>) -> axum::extract::Request<B> + Clone {
    move |mut request| {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        request
    }
}
