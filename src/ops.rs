//! The operations endpoints on their own port: `/livez` (the process answers; never fails because
//! the broker is down), `/readyz` (connected, consuming, not blocked, publishing), `/metrics`
//! (Prometheus text), and `POST /pas/notify/{payer}` for payers' PAS rest-hook notifications.
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

use tracing::{info, warn};

use crate::amqp::publisher::Publisher;
use crate::case::PayerRef;
use crate::health::Health;
use crate::payer::pas::bundle::{
    correlation, notification_response, operation_outcome, parse_response,
};
use crate::payer::Overall;
use crate::pipeline::{payer_reasons, request_identifier, Pipeline};

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
        "preauth_message_age_seconds",
        "histogram",
        "",
        "time from a case event's timestamp property to its handling",
    ),
];

/// Installs the Prometheus recorder for this process and returns the handle that renders it.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
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
    notifications: Option<Arc<Notifications>>,
}

/// Where the worker's current publishing channel is, for answers that do not come from a
/// delivery (payer notifications). Empty while the broker is away.
pub type PublisherSlot = Arc<tokio::sync::RwLock<Option<Publisher>>>;

/// What the notification endpoint needs to turn a payer's decision into an outcome.
pub struct Notifications {
    pub pipeline: Arc<Pipeline>,
    pub outcomes_exchange: String,
    pub publisher: PublisherSlot,
}

fn outcome_error(status: StatusCode, code: &str, text: &str) -> axum::response::Response {
    (
        status,
        [("content-type", "application/fhir+json")],
        operation_outcome(code, text).to_string(),
    )
        .into_response()
}

/// `POST /pas/notify/{payer}`: a PAS rest-hook notification (R4 Subscriptions Backport,
/// full-resource). A certification is published as the case's `approved` outcome at once, with
/// the same outcome id the scheduled follow-up would give it, so consumers de-duplicate. Other
/// decisions are acknowledged (202) and left to the scheduled `$inquire`, which also has the case
/// the outcome needs (appeal packet, findings).
async fn notify(
    State(s): State<OpsState>,
    axum::extract::Path(payer): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let Some(n) = &s.notifications else {
        return outcome_error(
            StatusCode::NOT_FOUND,
            "not-supported",
            "notifications are not enabled",
        );
    };
    if n.pipeline.payers.route(&payer).is_none() {
        return outcome_error(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such payer is configured",
        );
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return outcome_error(
            StatusCode::BAD_REQUEST,
            "structure",
            "the notification is not JSON",
        );
    };
    let Some(response_bundle) = notification_response(&value) else {
        return outcome_error(
            StatusCode::BAD_REQUEST,
            "structure",
            "no PAS response bundle in the notification",
        );
    };
    let Some(c) = correlation(response_bundle) else {
        warn!(%payer, "Payer notification names no case this worker sent; the scheduled follow-up will fetch the decision.");
        return outcome_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-found",
            "the notification carries no preauth-worker correlation identifier",
        );
    };
    let response = match parse_response(response_bundle) {
        Ok(r) => r,
        Err(e) => {
            warn!(case_id = %c.case_id, event_id = %c.event_id, "Payer notification could not be read: {e}");
            return outcome_error(StatusCode::BAD_REQUEST, "invalid", &e.to_string());
        }
    };
    match response.overall() {
        Overall::Certified | Overall::PartlyCertified => {}
        other => {
            info!(case_id = %c.case_id, event_id = %c.event_id, decision = ?other, "Payer notification received; the scheduled follow-up publishes this decision.");
            return (StatusCode::ACCEPTED, "follow-up scheduled\n").into_response();
        }
    }
    let payer_ref = PayerRef {
        id: payer.clone(),
        request_identifier: request_identifier(&c.case_id, &c.event_id, c.kind),
        reference: response.reference.clone(),
        review_action: response.summary_action().map(|a| a.code().to_owned()),
    };
    let reasons = payer_reasons(&response);
    let outcome = n.pipeline.approved(
        &c.case_id,
        &c.event_id,
        0,
        Some(payer_ref),
        &response,
        reasons,
        vec![],
    );
    let guard = n.publisher.read().await;
    let Some(publisher) = guard.as_ref() else {
        return outcome_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            "not connected to the broker; send it again",
        );
    };
    match publisher
        .publish_outcome(&n.outcomes_exchange, &outcome)
        .await
    {
        Ok(()) => {
            metrics::counter!("preauth_outcomes_total", "status" => outcome.status.as_str())
                .increment(1);
            info!(case_id = %c.case_id, event_id = %c.event_id, outcome_id = %outcome.outcome_id, "Published the outcome a payer notification carried.");
            (
                StatusCode::OK,
                Json(serde_json::json!({"outcome_id": outcome.outcome_id})),
            )
                .into_response()
        }
        Err(e) => {
            warn!(case_id = %c.case_id, event_id = %c.event_id, "Could not publish the notified outcome: {e}");
            outcome_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "the outcome could not be published; send it again",
            )
        }
    }
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

/// The ops router (also mounted by tests).
pub fn router(
    health: Arc<Health>,
    metrics: Option<PrometheusHandle>,
    notifications: Option<Arc<Notifications>>,
) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render))
        .route("/pas/notify/{payer}", axum::routing::post(notify))
        .with_state(OpsState {
            health,
            metrics,
            notifications,
        })
}

/// Serves the ops endpoints on `listen` until `shutdown`.
pub async fn serve(
    listen: SocketAddr,
    health: Arc<Health>,
    metrics: Option<PrometheusHandle>,
    notifications: Option<Arc<Notifications>>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(health, metrics, notifications);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    });
    Ok(addr)
}
