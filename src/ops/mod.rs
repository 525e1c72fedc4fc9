//! The operations endpoints on their own port: `/livez` (the process answers; never fails because
//! the broker is down), `/readyz` (connected, consuming, not blocked, publishing), `/metrics`
//! (Prometheus text). Read-only: payer notifications have a listener of their own
//! ([`crate::notify`]).
//! Metric names and labels are listed in [`catalogue::METRICS`]; labels never carry a case id.

pub mod catalogue;

pub use catalogue::{
    markdown_table, register, series, Kind, Metric, Series, METRICS, PROCESS_METRICS,
};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::health::Health;
use crate::http::Limits;

/// The Prometheus recorder of this process, installed on first use; every later call (another
/// application started in the same process, as the integration tests do) shares it.
pub(crate) fn recorder() -> Result<PrometheusHandle, String> {
    static RECORDER: std::sync::OnceLock<Result<PrometheusHandle, String>> =
        std::sync::OnceLock::new();
    RECORDER.get_or_init(install_recorder).clone()
}

/// The exporter as the worker configures it (histogram buckets from 5 ms to an hour).
fn builder() -> Result<PrometheusBuilder, String> {
    PrometheusBuilder::new()
        .set_buckets(&[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            3600.0,
        ])
        .map_err(|e| e.to_string())
}

fn install_recorder() -> Result<PrometheusHandle, String> {
    let handle = builder()?.install_recorder().map_err(|e| e.to_string())?;
    for m in METRICS {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
    process_collector().describe();
    Ok(handle)
}

/// The process metrics collector (CPU, memory, file descriptors, start time, threads).
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

#[derive(Clone)]
struct OpsState {
    health: Arc<Health>,
    metrics: Option<PrometheusHandle>,
}

async fn livez() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(s): State<OpsState>) -> impl IntoResponse {
    let h = &s.health;
    let ready = h.ready();
    metrics::gauge!("preauth_ready").set(if ready { 1.0 } else { 0.0 });
    let body = Json(serde_json::json!({
        "ready": ready,
        "connected": h.connected(),
        "consuming": h.consuming(),
        "blocked": h.blocked(),
        "publish_failing": h.publish_failing(),
    }));
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        body,
    )
}

async fn render(State(s): State<OpsState>) -> impl IntoResponse {
    let h = &s.health;
    metrics::gauge!("preauth_amqp_connected").set(if h.connected() { 1.0 } else { 0.0 });
    metrics::gauge!("preauth_amqp_blocked").set(if h.blocked() { 1.0 } else { 0.0 });
    metrics::gauge!("preauth_ready").set(if h.ready() { 1.0 } else { 0.0 });
    match &s.metrics {
        Some(m) => {
            process_collector().collect();
            (
                StatusCode::OK,
                [("content-type", "text/plain; version=0.0.4")],
                m.render(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

/// The ops router (also mounted by tests): read-only, GET only, no body taken.
pub fn router(health: Arc<Health>, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render))
        .with_state(OpsState { health, metrics })
}

/// Serves the ops endpoints on `listen` until `shutdown`, within [`Limits::OPS`].
pub async fn serve(
    listen: SocketAddr,
    health: Arc<Health>,
    metrics: Option<PrometheusHandle>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    crate::http::serve(listener, router(health, metrics), Limits::OPS, shutdown);
    Ok(addr)
}
