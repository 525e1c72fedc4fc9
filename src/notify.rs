//! The payer notification listener (`notifications.listen`, off unless configured):
//! `POST /pas/notify/{payer}` takes PAS rest-hook notifications (R4 Subscriptions Backport).
//!
//! A notification is a hint, never a decision: nothing it carries is published. A verified one
//! brings the pended request's scheduled follow-up forward (the worker moves the request's
//! waiting copy from its awaiting queue to the work queue, see
//! [`crate::amqp::topology::Topology::awaiting_queue`]); what reaches the outcomes exchange is
//! only ever the payer's answer to the worker's own `$inquire`, through the follow-up's code
//! path, with its outcome id. A forged notification can change no case; a replayed genuine one
//! can at most make the worker ask the payer one round early. Checks, cheapest first, each
//! answered with a FHIR OperationOutcome:
//! 1. the payer in the path is configured by name with a notification credential (404);
//! 2. no browser sent it: a request with an `Origin` header is refused (403);
//! 3. the `Authorization` header is that payer's credential, compared in constant time (401);
//! 4. the body is FHIR JSON (`application/fhir+json`) within `notifications.max_body_bytes`
//!    (415, 413) and parses (400);
//! 5. handshakes and heartbeats are acknowledged (200), and so is a SubscriptionStatus of type
//!    `query-status` or `query-event` (200, nothing done); the type is read from the Backport's
//!    Parameters form or an R5-style SubscriptionStatus;
//! 6. an event notification (or a bare response bundle) must carry a PAS response bundle with a
//!    ClaimResponse (422: a `full-resource` notification without one is malformed);
//! 7. its `ClaimResponse.request` names the Claim the worker sent, by the request identifier
//!    ([`crate::payer::pas::notification::notified_request`]); one that names no request of
//!    this worker (the subscription covers the whole sending system, so the payer also notifies
//!    requests others made) is acknowledged with 200 and nothing done, never refused: a refusal
//!    would count against the subscription at the payer.
//!
//! Every decision a notification reports (approval, denial, a pend update, a request for
//! information) brings the follow-up forward alike: the follow-up's `$inquire` decides.
//!
//! The listener is bounded like every other ([`crate::http`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tracing::{info, warn};

use crate::payer::pas::model::operation_outcome;
use crate::payer::pas::notification::notified_request;
use crate::payer::pas::read::notification_response;
use crate::security::same_secret;

/// What the listener knows: by payer id, the credential its notifications must present.
pub struct Notifications {
    pub credentials: HashMap<String, SecretString>,
    /// Where verified notifications go (the request identifier): the worker's AMQP session.
    pub nudge: Option<tokio::sync::mpsc::Sender<String>>,
}

/// How many verified notifications may wait for the worker's AMQP session; more are dropped
/// (their follow-ups run when their waits end).
pub(crate) const PENDING_NUDGES: usize = 1024;

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("payers", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The notification router (mounted by the listener and by tests).
pub fn router(n: Arc<Notifications>) -> Router {
    Router::new()
        .route("/pas/notify/{payer}", axum::routing::post(notify))
        .with_state(n)
}

fn answer(status: StatusCode, severity: &str, code: &str, text: &str) -> Response {
    let mut outcome = operation_outcome(code, text);
    outcome["issue"][0]["severity"] = Value::from(severity);
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json")],
        outcome.to_string(),
    )
        .into_response()
}

label_values! {
    /// What became of a notification (`preauth_notifications_total`'s `result`).
    pub enum NotifyResult {
        /// Verified and handed to the worker.
        Accepted = "accepted",
        /// Verified, but more than [`PENDING_NUDGES`] wait for the broker session.
        Dropped = "dropped",
        /// A subscription handshake or heartbeat.
        Handshake = "handshake",
        /// A `query-status` or `query-event` SubscriptionStatus: acknowledged, nothing done.
        Status = "status",
        /// An event notification whose ClaimResponse names no request of this worker:
        /// acknowledged, nothing done.
        NotOurs = "not-ours",
        UnknownPayer = "unknown-payer",
        Browser = "browser",
        Unauthenticated = "unauthenticated",
        ContentType = "content-type",
        NotJson = "not-json",
        /// An event notification without a PAS response bundle.
        NoResponse = "no-response",
    }
}

/// The `payer` label of a notification for a payer that takes none here.
pub const UNKNOWN_PAYER: &str = "unknown";

fn refused(
    payer: &str,
    result: NotifyResult,
    status: StatusCode,
    code: &str,
    text: &str,
) -> Response {
    metrics::counter!("preauth_notifications_total", "payer" => payer.to_owned(), "result" => result.as_str())
        .increment(1);
    warn!(
        payer,
        result = result.as_str(),
        "Payer notification refused."
    );
    answer(status, "error", code, text)
}

async fn notify(
    State(n): State<Arc<Notifications>>,
    Path(payer): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A metric label from the path must come from the configuration, never from the client.
    let Some((payer, credential)) = n.credentials.get_key_value(payer.as_str()) else {
        return refused(
            UNKNOWN_PAYER,
            NotifyResult::UnknownPayer,
            StatusCode::NOT_FOUND,
            "not-found",
            "no payer of that name takes notifications here",
        );
    };
    let payer = payer.as_str();
    if headers.contains_key(header::ORIGIN) {
        return refused(
            payer,
            NotifyResult::Browser,
            StatusCode::FORBIDDEN,
            "security",
            "notifications are accepted from payer servers only",
        );
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(presented, credential.expose_secret().as_bytes()) {
        return refused(
            payer,
            NotifyResult::Unauthenticated,
            StatusCode::UNAUTHORIZED,
            "login",
            "the Authorization header is not this payer's notification credential",
        );
    }
    let fhir_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/fhir+json"));
    if !fhir_json {
        return refused(
            payer,
            NotifyResult::ContentType,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            "send application/fhir+json",
        );
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return refused(
            payer,
            NotifyResult::NotJson,
            StatusCode::BAD_REQUEST,
            "structure",
            "the notification is not JSON",
        );
    };
    let kind = notification_type(&value);
    if matches!(kind, Some("handshake" | "heartbeat")) {
        metrics::counter!("preauth_notifications_total", "payer" => payer.to_owned(), "result" => NotifyResult::Handshake.as_str()).increment(1);
        return answer(StatusCode::OK, "information", "informational", "received");
    }
    if matches!(kind, Some("query-status" | "query-event")) {
        metrics::counter!("preauth_notifications_total", "payer" => payer.to_owned(), "result" => NotifyResult::Status.as_str()).increment(1);
        return answer(StatusCode::OK, "information", "informational", "received");
    }
    let Some(response) = notification_response(&value) else {
        return refused(
            payer,
            NotifyResult::NoResponse,
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            "the notification carries no PAS response bundle with a ClaimResponse (content full-resource)",
        );
    };
    let Some(request_identifier) = notified_request(response) else {
        metrics::counter!("preauth_notifications_total", "payer" => payer.to_owned(), "result" => NotifyResult::NotOurs.as_str()).increment(1);
        info!(
            payer,
            result = NotifyResult::NotOurs.as_str(),
            "Payer notification for a request this worker did not send; nothing to do."
        );
        return answer(
            StatusCode::OK,
            "information",
            "informational",
            "received; the ClaimResponse names no request of this worker",
        );
    };
    let result = match n
        .nudge
        .as_ref()
        .map(|tx| tx.try_send(request_identifier.clone()))
    {
        Some(Ok(())) => NotifyResult::Accepted,
        Some(Err(_)) | None => NotifyResult::Dropped,
    };
    metrics::counter!("preauth_notifications_total", "payer" => payer.to_owned(), "result" => result.as_str()).increment(1);
    info!(
        payer,
        %request_identifier,
        result = result.as_str(),
        "Payer notification received; the follow-up asks the payer now, and publishes its answer."
    );
    answer(
        StatusCode::OK,
        "information",
        "informational",
        "received; the worker asks the payer for the decision",
    )
}

/// The SubscriptionStatus `type` of a notification bundle (`handshake`, `heartbeat`,
/// `event-notification`, …), from the Backport's Parameters or an R5-style SubscriptionStatus.
fn notification_type(bundle: &Value) -> Option<&str> {
    let first = bundle.get("entry")?.as_array()?.first()?.get("resource")?;
    match first.get("resourceType")?.as_str()? {
        "SubscriptionStatus" => first.get("type")?.as_str(),
        "Parameters" => first
            .get("parameter")?
            .as_array()?
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some("type"))?
            .get("valueCode")?
            .as_str(),
        _ => None,
    }
}

/// Reads each notifying payer's credential file; the error names the key.
pub(crate) fn load_credentials(
    settings: &crate::config::Settings,
) -> Result<HashMap<String, SecretString>, String> {
    let mut out = HashMap::new();
    for (id, payer) in &settings.payers {
        if let Some(path) = &payer.notification_credential_file {
            out.insert(id.clone(), read_credential(id, path)?);
        }
    }
    Ok(out)
}

/// Reads one payer's notification credential file; the error names the key, never the value.
pub(crate) fn read_credential(id: &str, path: &std::path::Path) -> Result<SecretString, String> {
    let named = || {
        format!(
            "payers.{id}.notification_credential_file = {}",
            crate::config::quoted(&path.display().to_string())
        )
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read it: {e}", named()))?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.len() < 16 || value.chars().any(char::is_control) {
        return Err(format!(
            "{}: needs one line of at least 16 characters (the Authorization header value, e.g. \"Bearer <random>\")",
            named()
        ));
    }
    Ok(SecretString::from(value.to_owned()))
}
