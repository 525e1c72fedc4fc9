//! The one way the worker listens for HTTP (ops, notifications, payer-sim): hyper's HTTP/1
//! server with a header-read timeout, tower-http's body limit and whole-request timeout, a cap
//! on open connections and on each connection's life. Nothing a client sends, or fails to send,
//! can hold memory or a connection beyond these bounds.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::debug;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole request head must arrive within this.
    pub header_read: Duration,
    /// Reading the body and answering must be done within this (408 after).
    pub request: Duration,
    /// Largest body accepted (413 above it, before any of it is read when announced).
    pub max_body: usize,
    /// Connections open at once; more are closed at once.
    pub max_connections: usize,
    /// A connection is closed after this long, idle or not (keep-alive included).
    pub connection_life: Duration,
}

impl Limits {
    /// Probes and metrics: no body, short requests, a few scrapers.
    pub(crate) const OPS: Limits = Limits {
        header_read: Duration::from_secs(5),
        request: Duration::from_secs(10),
        max_body: 0,
        max_connections: 64,
        connection_life: Duration::from_secs(60),
    };

    /// Payer notifications: bodies up to `max_body`, a few payers. At most 32 bodies are read at
    /// once, so what stalled senders can hold is 32 × `max_body` (32 MiB at the default).
    pub fn notifications(max_body: usize) -> Limits {
        Limits {
            header_read: Duration::from_secs(5),
            request: Duration::from_secs(15),
            max_body,
            max_connections: 32,
            connection_life: Duration::from_secs(60),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown`; returns once the accept loop is
/// running. Connections still open at shutdown finish their request and close.
pub fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: CancellationToken) {
    // Both limits: tower-http's bounds the body as it streams in, and axum's own (2 MB unless
    // set) would otherwise cap its extractors (`Bytes`, `Json`, `Form`) below `max_body`.
    let app = app
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body))
        .layer(RequestBodyLimitLayer::new(limits.max_body))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request,
        ));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment, do not spin.
                        debug!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                metrics::counter!("preauth_http_connections_refused_total").increment(1);
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(app.clone());
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read)
                    .max_buf_size(64 * 1024);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let mut conn = std::pin::pin!(conn);
                let life = tokio::time::sleep(limits.connection_life);
                tokio::pin!(life);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = &mut life => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(limits.request, conn.as_mut()).await;
                    }
                    _ = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(limits.request, conn.as_mut()).await;
                    }
                }
                debug!(%peer, "connection closed");
                drop(permit);
            });
        }
    });
}
