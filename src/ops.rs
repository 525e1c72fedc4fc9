//! The operations endpoints on their own port: `/livez` (the process answers; never fails because
//! the broker is down), `/readyz` (connected, consuming, not blocked, publishing), `/metrics`
//! (Prometheus text). Read-only: payer notifications have a listener of their own
//! ([`crate::notify`]).
//! Metric names and labels are listed in `METRICS`; labels never carry a case id.

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

/// Every metric the worker exports: name, type, labels, meaning (the operator's reference).
pub const METRICS: &[(&str, &str, &str, &str)] = &[
    (
        "preauth_cases_received_total",
        "counter",
        "",
        "case event deliveries taken from the work queue",
    ),
    (
        "preauth_outcomes_total",
        "counter",
        "status",
        "outcome events published (confirmed)",
    ),
    (
        "preauth_findings_total",
        "counter",
        "rule, severity",
        "validation findings, by rule id",
    ),
    (
        "preauth_payer_requests_total",
        "counter",
        "payer, result",
        "payer calls: answered, transient, refused",
    ),
    (
        "preauth_payer_request_duration_seconds",
        "histogram",
        "payer",
        "payer call latency",
    ),
    (
        "preauth_delayed_total",
        "counter",
        "kind, tier",
        "case events moved to a delay tier (retry or follow-up)",
    ),
    (
        "preauth_parked_total",
        "counter",
        "reason",
        "messages moved to the parking queue",
    ),
    (
        "preauth_cases_in_flight",
        "gauge",
        "",
        "deliveries being handled now",
    ),
    (
        "preauth_publish_confirms_total",
        "counter",
        "result",
        "publishes by broker answer: ack, returned, nack, timeout, error",
    ),
    (
        "preauth_followups_brought_forward_total",
        "counter",
        "result",
        "verified payer notifications: brought-forward, not-waiting, error",
    ),
    (
        "preauth_ack_failures_total",
        "counter",
        "",
        "acks that failed (the broker redelivers)",
    ),
    (
        "preauth_amqp_reconnects_total",
        "counter",
        "",
        "attempts to re-establish the broker session after the first",
    ),
    (
        "preauth_amqp_connected",
        "gauge",
        "",
        "1 while connected to the broker",
    ),
    (
        "preauth_amqp_blocked",
        "gauge",
        "",
        "1 while the broker blocks publishing (resource alarm)",
    ),
    ("preauth_ready", "gauge", "", "1 while /readyz answers 200"),
    (
        "preauth_notifications_total",
        "counter",
        "payer, result",
        "payer notifications by result: accepted, handshake, unknown-payer, browser, unauthenticated, content-type, not-json, no-token, bad-token",
    ),
    (
        "preauth_http_connections_refused_total",
        "counter",
        "",
        "HTTP connections closed at once because a listener had its maximum open",
    ),
    (
        "preauth_state_headers_rejected_total",
        "counter",
        "",
        "deliveries whose x-preauth state headers did not verify under the deployment key (read as a first delivery)",
    ),
    (
        "preauth_message_age_seconds",
        "histogram",
        "",
        "time from a case event's timestamp property to its handling",
    ),
];

/// The Prometheus recorder of this process, installed on first use; every later call (another
/// application started in the same process, as the integration tests do) shares it.
pub(crate) fn recorder() -> Result<PrometheusHandle, String> {
    static RECORDER: std::sync::OnceLock<Result<PrometheusHandle, String>> =
        std::sync::OnceLock::new();
    RECORDER.get_or_init(install_recorder).clone()
}

fn install_recorder() -> Result<PrometheusHandle, String> {
    let builder = PrometheusBuilder::new()
        .set_buckets(&[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            3600.0,
        ])
        .map_err(|e| e.to_string())?;
    let handle = builder.install_recorder().map_err(|e| e.to_string())?;
    for (name, kind, _, help) in METRICS {
        match *kind {
            "counter" => metrics::describe_counter!(*name, *help),
            "gauge" => metrics::describe_gauge!(*name, *help),
            _ => metrics::describe_histogram!(*name, *help),
        }
    }
    Ok(handle)
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
        Some(m) => (
            StatusCode::OK,
            [("content-type", "text/plain; version=0.0.4")],
            m.render(),
        )
            .into_response(),
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
