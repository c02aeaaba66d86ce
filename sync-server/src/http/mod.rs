//! Everything axum: the JSON API, the pages, the organizer console, the device API, the
//! browser gate's files, the PassKit web service, the extractors, and the one mapping from [`AppError`] to HTTP.
//! Handlers are short: extract, call a use-case of `app`, map the result.
//!
//! [`AppError`]: crate::app::AppError

pub mod account_api;
pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
pub mod gate;
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
/// half-open connections are closed, not held for ever), a kept-alive connection from which
/// nothing was read for `idle_timeout_ms` is closed once any request in flight is answered,
/// and at most `max_connections` are open at once: the next waits in the listen queue until
/// one closes.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = services.settings.http.clone();
    let router = router(services);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = Duration::from_millis(limits.header_read_timeout_ms.max(1));
    let idle_timeout = Duration::from_millis(limits.idle_timeout_ms.max(1));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    // Each connection holds a receiver: a stop sent tells it to finish gracefully, and the
    // loop's end waits until every receiver is dropped, i.e. every connection is done.
    // (hyper-util's GracefulShutdown does the same, but owns the connection's future, which
    // the idle timer below must also reach.)
    let (stop, stopped) = tokio::sync::watch::channel(false);
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
        let (builder, mut stopped) = (builder.clone(), stopped.clone());
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
            let stream = ReadClock::new(stream);
            let last_read = stream.last_read.clone();
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let mut connection = std::pin::pin!(connection);
            // ... and a kept-alive connection waiting for its next request sends nothing
            // either: closed once nothing was read for `idle_timeout`.
            let idle = tokio::time::sleep(idle_timeout);
            let mut idle = std::pin::pin!(idle);
            let mut closing = false;
            loop {
                tokio::select! {
                    // A closed or timed-out connection is the client's affair; nothing to log.
                    _ = connection.as_mut() => break,
                    _ = stopped.changed(), if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = idle.as_mut(), if !closing => {
                        let quiet_since = last_read.since();
                        if quiet_since.elapsed() >= idle_timeout {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        } else {
                            idle.as_mut().reset((quiet_since + idle_timeout).into());
                        }
                    }
                }
            }
            drop(stopped);
            drop(permit);
        });
    }
    drop(listener);
    drop(stopped);
    let _ = stop.send(true);
    stop.closed().await;
    Ok(())
}

/// When a connection's last byte was read: shared between its stream and its idle timer.
#[derive(Debug, Clone)]
struct LastRead {
    origin: std::time::Instant,
    /// Milliseconds after `origin`.
    at: Arc<std::sync::atomic::AtomicU64>,
}

impl LastRead {
    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.at.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    fn since(&self) -> std::time::Instant {
        self.origin + Duration::from_millis(self.at.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A TCP stream that notes when it last read a byte. Only reads count: a response being
/// written to a client that sends nothing is not activity of the client's, and the graceful
/// close lets it finish anyway.
#[derive(Debug)]
struct ReadClock {
    inner: tokio::net::TcpStream,
    last_read: LastRead,
}

impl ReadClock {
    fn new(inner: tokio::net::TcpStream) -> Self {
        let last_read = LastRead {
            origin: std::time::Instant::now(),
            at: Arc::default(),
        };
        Self { inner, last_read }
    }
}

impl tokio::io::AsyncRead for ReadClock {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.last_read.touch();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for ReadClock {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
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
