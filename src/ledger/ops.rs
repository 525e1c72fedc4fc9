//! The ledger process's ops endpoints on `ledger.ops_listen`: `/livez` (the process answers),
//! `/readyz` (consuming from the broker, and the database answers a query now) and `/metrics`
//! (Prometheus text, [`super::metrics`]). Read-only, on the bounded listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{metrics, LedgerError, Readiness};
use crate::http::Limits;

/// How long `/readyz` waits for the database's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct OpsState {
    readiness: Arc<Readiness>,
    pool: PgPool,
    metrics: Option<PrometheusHandle>,
}

async fn livez() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(s): State<OpsState>) -> impl IntoResponse {
    let probe = tokio::time::timeout(
        PROBE_TIMEOUT,
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&s.pool),
    )
    .await;
    // Both must hold: the database answers now, and the write path is not holding a batch it
    // cannot write (a probe's success never clears a failing write).
    let database = matches!(probe, Ok(Ok(1))) && s.readiness.database();
    let consuming = s.readiness.consuming();
    let ready = consuming && database;
    metrics::set_ready(ready);
    let body = Json(serde_json::json!({
        "ready": ready,
        "consuming": consuming,
        "database": database,
    }));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

async fn render(State(s): State<OpsState>) -> impl IntoResponse {
    metrics::set_ready(s.readiness.ready());
    match &s.metrics {
        Some(m) => (
            StatusCode::OK,
            [("content-type", "text/plain; version=0.0.4")],
            m.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

/// Binds `listen` and serves the probes until `shutdown`; returns the bound address.
pub(super) async fn serve(
    listen: SocketAddr,
    readiness: Arc<Readiness>,
    pool: PgPool,
    metrics: Option<PrometheusHandle>,
    shutdown: CancellationToken,
) -> Result<SocketAddr, LedgerError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| LedgerError::Listen {
            key: "ledger.ops_listen",
            addr: listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| LedgerError::Listen {
            key: "ledger.ops_listen",
            addr: listen,
            source,
        })?;
    let app = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render))
        .with_state(OpsState {
            readiness,
            pool,
            metrics,
        });
    crate::http::serve(listener, app, Limits::OPS, shutdown);
    Ok(addr)
}
