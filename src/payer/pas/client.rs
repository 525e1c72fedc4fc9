//! The PAS client: `POST [base]/Claim/$submit` and `$inquire` over HTTPS, with per-payer
//! concurrency and rate limits, OAuth, and the one classification of HTTP answers: 2xx an answer,
//! 408/429/5xx (but 501)/timeouts/connection errors transient, other 4xx refused.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;
use tracing::field::Empty;
use tracing::{debug, Instrument};

use super::auth::TokenSource;
use super::body::read_bounded;
use super::identity::PayerIdentity;
use super::read::{parse_answer, parse_response, ResponseError, SentClaim};
use super::trace::trace_headers;
use super::write::{inquiry_bundle, request_bundle, update_bundle, ClaimChange};
use crate::case::{Reason, WorkerReason};
use crate::payer::{Operation, Payer, PayerError, PayerRequest, PayerResponse};

/// Identifiers a payer gives (reference, authorization number, reason codes): what fits in an
/// X12 REF segment, printable ASCII only.
const MAX_PAYER_ID_CHARS: usize = 50;
/// A payer's reason or note text.
const MAX_PAYER_TEXT_CHARS: usize = 4000;
/// A code system URI.
const MAX_SYSTEM_CHARS: usize = 255;

/// Holds a parsed answer to the same bounds as inbound case fields: identifiers short and
/// printable, texts bounded and free of control characters. A payer that breaks them gets the
/// answer refused as malformed; nothing of the offending value is repeated.
fn within_bounds(answer: PayerResponse) -> Result<PayerResponse, ResponseError> {
    let id_ok = |v: &str| {
        !v.is_empty()
            && v.chars().count() <= MAX_PAYER_ID_CHARS
            && v.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    };
    let text_ok = |v: &str| {
        v.chars().count() <= MAX_PAYER_TEXT_CHARS
            && !v.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    };
    let reason_ok = |r: &Reason| {
        id_ok(&r.code)
            && text_ok(&r.text)
            && r.system.as_deref().is_none_or(|s| {
                s.len() <= MAX_SYSTEM_CHARS && s.chars().all(|c| c.is_ascii_graphic())
            })
    };
    let bad = |what: &str| Err(ResponseError::Malformed(format!("{what} is out of bounds")));
    if answer.reference.as_deref().is_some_and(|v| !id_ok(v)) {
        return bad("the payer's reference");
    }
    if answer
        .authorization_number
        .as_deref()
        .is_some_and(|v| !id_ok(v))
    {
        return bad("the authorization number");
    }
    if answer.items.len() > 1000 {
        return bad("the number of lines");
    }
    if !answer.reasons.iter().all(reason_ok)
        || !answer.items.iter().all(|i| i.reasons.iter().all(reason_ok))
    {
        return bad("a reason");
    }
    Ok(answer)
}

/// The longest Retry-After the worker honours; a longer one is capped to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

const FHIR_JSON: &str = "application/fhir+json";

/// Settings of one PAS endpoint.
pub struct PasSettings {
    pub base_url: String,
    pub timeout: Duration,
    pub concurrency: u32,
    pub rate_per_second: Option<f64>,
    /// Largest response body read; a larger one is a transient failure, never read whole.
    pub max_response_bytes: usize,
    /// True when the payer sends notifications (a `notification_credential_file` is set): its
    /// pended requests wait where a notification can find them.
    pub notifies: bool,
    /// Who the payer is, as its settings name it (insurer, member id system, X12 envelope).
    pub identity: PayerIdentity,
}

/// A payer reached through its Da Vinci PAS API.
pub struct PasPayer {
    http: reqwest::Client,
    base_url: String,
    /// The payer's host, for traces.
    host: String,
    timeout: Duration,
    in_flight: Semaphore,
    limiter: Option<DefaultDirectRateLimiter>,
    auth: Option<Arc<TokenSource>>,
    max_response_bytes: usize,
    notifies: bool,
    /// The payer's PAS subscription, when one is configured.
    subscription: Option<Arc<super::subscription::SubscriptionStatus>>,
    identity: PayerIdentity,
}

impl PasPayer {
    /// This payer with its PAS subscription: pended requests wait for its notifications while
    /// it is active.
    pub fn with_subscription(
        mut self,
        subscription: Option<Arc<super::subscription::SubscriptionStatus>>,
    ) -> Self {
        self.subscription = subscription;
        self
    }

    pub fn new(
        http: reqwest::Client,
        settings: PasSettings,
        auth: Option<Arc<TokenSource>>,
    ) -> Self {
        let limiter = settings
            .rate_per_second
            .filter(|r| *r > 0.0)
            .and_then(|rate| {
                let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate))?.allow_burst(
                    NonZeroU32::new(rate.ceil().max(1.0) as u32).unwrap_or(NonZeroU32::MIN),
                );
                Some(RateLimiter::direct(quota))
            });
        let host = reqwest::Url::parse(&settings.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            http,
            host,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            timeout: settings.timeout,
            in_flight: Semaphore::new(settings.concurrency.max(1) as usize),
            limiter,
            auth,
            max_response_bytes: settings.max_response_bytes,
            notifies: settings.notifies,
            subscription: None,
            identity: settings.identity,
        }
    }

    async fn post(
        &self,
        path: &str,
        body: &bytes::Bytes,
        retry_on_401: bool,
    ) -> Result<reqwest::Response, PayerError> {
        let url = format!("{}/{path}", self.base_url);
        let token = match &self.auth {
            Some(auth) => Some(auth.token().await?),
            None => None,
        };
        // One span per HTTP request (a resend after a 401 is another), its context sent along.
        let span = tracing::info_span!(
            "payer http",
            otel.name = %format!("POST {path}"),
            otel.kind = "client",
            http.request.method = "POST",
            server.address = %self.host,
            url.path = %format!("/{path}"),
            http.response.status_code = Empty,
            otel.status_code = Empty,
        );
        let mut request = self
            .http
            .post(&url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, FHIR_JSON)
            .header(ACCEPT, FHIR_JSON)
            .headers(trace_headers(&span))
            // A reference to the same bytes, not a copy: with photos inline a bundle runs to
            // tens of MiB.
            .body(body.clone());
        if let Some(token) = &token {
            request = request.bearer_auth(token.expose_secret());
        }
        let sent = request.send().instrument(span.clone()).await;
        match &sent {
            Ok(response) => {
                span.record("http.response.status_code", response.status().as_u16());
                if !response.status().is_success() {
                    span.record("otel.status_code", "error");
                }
            }
            Err(_) => {
                span.record("otel.status_code", "error");
            }
        }
        let response = sent.map_err(|e| PayerError::Transient {
            retry_after: None,
            detail: if e.is_timeout() {
                format!("no answer from {path} within {:?}", self.timeout)
            } else {
                format!("cannot reach the payer: {}", e.without_url())
            },
        })?;
        if response.status() == StatusCode::UNAUTHORIZED && retry_on_401 {
            if let Some(auth) = &self.auth {
                // The token expired early or was revoked: fetch a new one, once.
                auth.invalidate().await;
                return Box::pin(self.post(path, body, false)).await;
            }
        }
        Ok(response)
    }
}

#[async_trait]
impl Payer for PasPayer {
    async fn send(&self, request: PayerRequest<'_>) -> Result<PayerResponse, PayerError> {
        let case = request.case;
        let submitter = case.provider.npi.as_str();
        let (path, bundle) = match (request.operation, request.reference) {
            (Operation::Inquire { round }, Some(reference)) => (
                "Claim/$inquire",
                inquiry_bundle(
                    case,
                    request.request_identifier,
                    submitter,
                    reference,
                    round,
                    chrono::Utc::now(),
                ),
            ),
            (operation @ (Operation::Update | Operation::Cancel), _) => {
                // Without the request it changes, a Claim Update cannot be written: nothing is
                // sent, and the case is reported as refused (the payer gave no reasons).
                let original = request.original.ok_or_else(|| PayerError::Refused {
                    detail: format!("no-original-request for {}", operation.code()),
                    reasons: vec![],
                })?;
                let change = if operation == Operation::Cancel {
                    ClaimChange::Cancel
                } else {
                    ClaimChange::Update
                };
                (
                    "Claim/$submit",
                    update_bundle(
                        case,
                        request.request_identifier,
                        submitter,
                        original,
                        change,
                    )
                    .with_documents(request.documents),
                )
            }
            _ => (
                "Claim/$submit",
                request_bundle(case, request.request_identifier, submitter)
                    .with_appealed(request.original)
                    .with_documents(request.documents),
            ),
        };
        // The bytes are the same for every resend (an inquiry's carry the time it is sent).
        let body = bytes::Bytes::from(bundle.with_identity(&self.identity).to_json());
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| PayerError::Transient {
                retry_after: None,
                detail: "payer client is shutting down".to_owned(),
            })?;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let started = std::time::Instant::now();
        let response = self.post(path, &body, true).await?;
        let status = response.status();
        debug!(%status, ms = started.elapsed().as_millis() as u64, path, "Payer answered.");
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let text = read_bounded(response, self.max_response_bytes).await?;
        let sent = SentClaim {
            request_identifier: request.request_identifier,
            original: request.original.map(|o| o.request_identifier),
            on: chrono::Utc::now().date_naive(),
            lines: case.service.procedures.len(),
        };
        let mut answer = classify_answer(status, retry_after, &text, Some(&sent))?;
        // A payer that certifies a line without stating a quantity certifies what was asked.
        for item in answer
            .items
            .iter_mut()
            .filter(|i| i.action.certifies() && i.approved_units == 0)
        {
            let asked = usize::try_from(item.sequence)
                .ok()
                .and_then(|s| s.checked_sub(1))
                .and_then(|i| case.service.procedures.get(i));
            if let Some(p) = asked {
                item.approved_units = p.units;
            }
        }
        Ok(answer)
    }

    fn adapter(&self) -> &'static str {
        "fhir-pas"
    }

    fn notifies(&self) -> bool {
        self.notifies
    }

    fn pended_follow_up(&self) -> crate::payer::PendedFollowUp {
        match &self.subscription {
            Some(s) if s.awaits_notifications() => {
                crate::payer::PendedFollowUp::AwaitNotification {
                    safety_after: s.settings.safety_inquiry_after,
                    max_followups: s.settings.safety_inquiries,
                }
            }
            _ => crate::payer::PendedFollowUp::Poll,
        }
    }

    fn reason_codes(&self) -> Vec<&'static str> {
        reason_codes()
    }
}

/// The reason codes the PAS adapter names itself: a note without a code, a business error
/// without one, and the common HTTP refusals.
pub(crate) fn reason_codes() -> Vec<&'static str> {
    [super::read::NOTE, super::read::UNCODED_ERROR]
        .into_iter()
        .chain(HTTP_REFUSALS)
        .collect()
}

/// The refusals a FHIR server commonly answers with, as the `http-<status>` reason codes
/// [`classify`] gives them (any other refusal is still reported, and counted as `other`).
const HTTP_REFUSALS: [&str; 13] = [
    "http-400", "http-401", "http-403", "http-404", "http-405", "http-406", "http-409", "http-410",
    "http-412", "http-413", "http-415", "http-422", "http-501",
];

/// Turns an HTTP answer into a payer response or a classified error, not knowing the request
/// it answers (see [`classify_answer`]).
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<PayerResponse, PayerError> {
    classify_answer(status, retry_after, body, None)
}

/// Turns an HTTP answer to the request `sent` into a payer response or a classified error: an
/// answer for another request is refused as malformed (see [`parse_answer`]).
pub fn classify_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    sent: Option<&SentClaim<'_>>,
) -> Result<PayerResponse, PayerError> {
    let code = status.as_u16();
    if status.is_success() {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| PayerError::Refused {
                detail: format!("payer answered {code} with a body that is not JSON"),
                reasons: vec![Reason::worker(
                    WorkerReason::MalformedResponse,
                    "the payer's answer is not JSON",
                )],
            })?;
        let parsed = match sent {
            Some(sent) => parse_answer(&value, sent),
            None => parse_response(&value),
        };
        return parsed.and_then(within_bounds).map_err(|e| match e {
            ResponseError::BusinessErrors(reasons) => PayerError::Refused {
                detail: "payer rejected the request (business errors)".to_owned(),
                reasons,
            },
            other => PayerError::Refused {
                detail: other.to_string(),
                reasons: vec![Reason::worker(
                    WorkerReason::MalformedResponse,
                    other.to_string(),
                )],
            },
        });
    }
    if code == 408 || code == 429 || (status.is_server_error() && code != 501) {
        return Err(PayerError::Transient {
            retry_after,
            detail: format!("payer answered {status}"),
        });
    }
    // 4xx (and 501): resending cannot help. The OperationOutcome says why.
    let why = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| parse_response(&v).err())
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no OperationOutcome".to_owned());
    Err(PayerError::Refused {
        detail: format!("payer answered {status}: {why}"),
        reasons: vec![Reason::http_refusal(
            code,
            format!("the payer refused the request ({status}): {why}"),
        )],
    })
}

/// Retry-After as delta-seconds or an HTTP-date, capped at `MAX_RETRY_AFTER`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    #[test]
    fn payer_answers_are_held_to_bounds_that_fit_real_payers() {
        use super::within_bounds;
        use crate::case::Reason;
        use crate::payer::PayerResponse;
        let ok = |reasons: Vec<Reason>, reference: Option<&str>| {
            within_bounds(PayerResponse {
                reference: reference.map(str::to_owned),
                items: vec![],
                authorization_number: None,
                valid_from: None,
                valid_to: None,
                reasons,
                decided_on: chrono::NaiveDate::default(),
                information_request: None,
            })
            .is_ok()
        };
        let reason = |system: &str, text: &str| Reason {
            code: "A1".into(),
            system: Some(system.into()),
            text: text.into(),
        };
        let long_system = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASSupportingInfoType";
        assert!(ok(
            vec![reason(long_system, "a note\nover two lines")],
            Some("PA-98765")
        ));
        assert!(ok(vec![reason(long_system, &"n".repeat(4000))], None));
        assert!(!ok(vec![reason(long_system, &"n".repeat(4001))], None));
        assert!(!ok(vec![reason(long_system, "bell \u{7}")], None));
        assert!(!ok(vec![reason("sys tem", "x")], None));
        assert!(!ok(vec![], Some(&"9".repeat(1_900_000))));
        assert!(!ok(vec![], Some("PA-1\u{0}")));
    }

    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_as_an_http_date_and_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after(&headers("999999"), now), Some(MAX_RETRY_AFTER));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn http_answers_are_classified_once() {
        let transient = |code: u16| {
            classify(StatusCode::from_u16(code).expect("status"), None, b"")
                .expect_err("error")
                .is_transient()
        };
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(transient(code), "{code} is transient");
        }
        for code in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!transient(code), "{code} is refused");
        }
    }

    #[tokio::test]
    async fn an_update_or_a_cancel_without_its_original_request_is_refused_before_anything_is_sent()
    {
        let case = crate::rules::testing::decode_value(&crate::rules::testing::base());
        let codes = crate::codes::CodeTable::embedded().expect("codes");
        let policies = crate::rules::Policies::load(&codes, None).expect("policies");
        let policy = policies.get("default").expect("policy");
        // Nothing listens here: a request that went out would fail as transient, not refused.
        let payer = PasPayer::new(
            reqwest::Client::new(),
            PasSettings {
                base_url: "http://127.0.0.1:9".into(),
                timeout: Duration::from_secs(1),
                concurrency: 1,
                rate_per_second: None,
                max_response_bytes: 1024,
                notifies: false,
                identity: PayerIdentity::default(),
            },
            None,
        );
        for operation in [Operation::Update, Operation::Cancel] {
            let err = payer
                .send(PayerRequest {
                    case: &case,
                    policy: &policy,
                    request_identifier: "req-1",
                    operation,
                    reference: None,
                    attempt: 1,
                    documents: None,
                    original: None,
                    sleeper: &crate::retry::Sleeper::default(),
                })
                .await
                .expect_err("refused");
            assert!(!err.is_transient(), "{err:?}");
        }
    }

    #[test]
    fn a_success_that_is_not_json_is_refused_not_retried() {
        let err = classify(StatusCode::OK, None, b"<html>").expect_err("malformed");
        assert!(!err.is_transient());
    }
}
