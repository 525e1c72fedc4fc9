//! `preauth-worker payer-sim`: an HTTP server that speaks Da Vinci PAS (`$submit`, `$inquire`, an
//! OAuth token endpoint) and decides by the payer policy, exactly as the in-process simulator
//! does. Scripted scenarios (slow answers, 5xx or 429 for the first tries, malformed answers,
//! refusals, expiring tokens) serve tests and demos; every request is recorded by its request
//! identifier so a test can check that a retried case reached the payer as one request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::faults::{Fault, Faults};
use super::pas::{response_bundle, review_from_bundle};
use super::{decide_review, ReviewCase};
use crate::codes::CodeTable;
use crate::payer::pas::model::operation_outcome;
use crate::payer::{Operation, Overall, PayerError};
use crate::rules::Policy;

/// What the simulated payer does besides deciding: the fault script, and its token endpoint.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// Slow answers and scripted failures.
    pub faults: Faults,
    /// Require bearer tokens from `/token`, really valid this long (the token endpoint always
    /// advertises 300 s, as a payer that revokes tokens early would).
    pub token_lifetime: Option<Duration>,
    /// Client credentials `/token` accepts with HTTP Basic: client id → secret.
    pub clients: HashMap<String, String>,
    /// Public keys (PEM, RSA or EC) of the clients that authenticate with a signed client
    /// assertion (SMART Backend Services): client id → key. An assertion is accepted only when
    /// its RS384/ES384 signature verifies with the key registered for its issuer, it names this
    /// token endpoint as its audience, and it has not expired.
    pub client_keys: HashMap<String, String>,
    /// Decide a pended request this long after it was pended (on the next inquiry, and by an
    /// event notification to the matching subscriptions) instead of after the policy's pend
    /// rounds of inquiries.
    pub decide_pended_after: Option<Duration>,
}

impl From<Faults> for Scenario {
    /// A scenario of scripted faults, with no token endpoint.
    fn from(faults: Faults) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }
}

/// One request the simulator saw.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Seen {
    pub request_identifier: String,
    pub operation: String,
    pub status: u16,
    /// Milliseconds since the server started.
    pub at_ms: u64,
    /// Hex SHA-256 of the raw request body, so a test can tell whether two tries sent the same
    /// bytes (empty for the token endpoint).
    #[serde(default)]
    pub body_sha256: String,
    /// The DocumentReferences of the request bundle, in entry order: what they declare of each
    /// attachment, never its bytes.
    #[serde(default)]
    pub documents: Vec<SeenDocument>,
    /// The request's Claim: its profile, related requests and lines' codes (none for the token
    /// endpoint or a body that is no bundle).
    #[serde(default)]
    pub claim: Option<super::seen::SeenClaim>,
}

/// One DocumentReference of a request as the simulator saw it: its kind and what its first
/// attachment declares (type, size, hash), and whether it carried the bytes. Never the bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeenDocument {
    /// `photo`, `letter` or `note`, by its LOINC type as the bundle reader classifies it;
    /// `other` for any other type.
    pub kind: String,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    /// The attachment's `hash` (base64 SHA-1), as declared.
    pub hash: Option<String>,
    /// Whether the attachment carried `data` (the document inline).
    pub has_data: bool,
}

/// What a request body was, for [`Seen`].
#[derive(Default)]
struct Received {
    body_sha256: String,
    documents: Vec<SeenDocument>,
    claim: Option<super::seen::SeenClaim>,
}

impl Received {
    fn of(body: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
        Self {
            body_sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
            documents: Vec::new(),
            claim: None,
        }
    }

    fn with_documents(mut self, bundle: &Value) -> Self {
        self.documents = super::pas::documents_of(bundle)
            .into_iter()
            .map(|(kind, attachment)| SeenDocument {
                kind: kind.to_owned(),
                content_type: attachment
                    .and_then(|a| a.get("contentType"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                size: attachment
                    .and_then(|a| a.get("size"))
                    .and_then(Value::as_u64),
                hash: attachment
                    .and_then(|a| a.get("hash"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                has_data: attachment.is_some_and(|a| a.get("data").is_some()),
            })
            .collect();
        self.claim = super::seen::claim_of(bundle);
        self
    }
}

struct Pended {
    review: ReviewCase,
    request_identifier: String,
    inquiries: u32,
    /// The request bundle, for the decision's response bundle in a notification.
    bundle: Value,
    /// With `decide_pended_after`: the decision is due.
    decided: bool,
    scheduled: bool,
    /// Once a Claim Update replaced the request: the replacing request's payer reference. An
    /// inquiry about the replaced request is answered with the current one (PAS spec-47/48),
    /// whose review and request identifier then stand in `review` and `request_identifier`.
    current_reference: Option<String>,
}

struct SimState {
    /// While set, every request is answered 503, as when the payer's API is down.
    down: std::sync::atomic::AtomicBool,
    policy: Arc<Policy>,
    codes: Arc<CodeTable>,
    scenario: Scenario,
    started: Instant,
    seen: Mutex<Vec<Seen>>,
    /// The `traceparent` header of each request that carried one, by request identifier.
    traceparents: Mutex<Vec<(String, String)>>,
    tries: Mutex<HashMap<String, u32>>,
    pended: Mutex<HashMap<String, Pended>>,
    tokens: Mutex<HashMap<String, SystemTime>>,
    subscriptions: Arc<super::subscriptions::Subscriptions>,
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    state: Arc<SimState>,
    stop: CancellationToken,
}

impl SimHandle {
    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The W3C `traceparent` of every request that carried one, with its request identifier.
    pub fn traceparents(&self) -> Vec<(String, String)> {
        self.state
            .traceparents
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Takes the payer's API down (every request answered 503) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.state
            .down
            .store(down, std::sync::atomic::Ordering::Relaxed);
    }

    /// `(id, status)` of every Subscription the payer holds.
    pub fn subscriptions(&self) -> Vec<(String, String)> {
        self.state.subscriptions.statuses()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the simulator on `listener`.
/// The simulator's listener bounds: request bundles up to 64 MiB (inline attachments: the
/// worker's default request limit of 32 MiB of documents is about 43 MiB in base64), a
/// request answered within its scripted latency plus a margin.
pub(crate) const SIM_LIMITS: crate::http::Limits = crate::http::Limits {
    header_read: std::time::Duration::from_secs(5),
    request: std::time::Duration::from_secs(120),
    max_body: 64 * 1024 * 1024,
    max_connections: 512,
    connection_life: std::time::Duration::from_secs(300),
};

pub fn start(
    listener: TcpListener,
    policy: Arc<Policy>,
    codes: Arc<CodeTable>,
    scenario: Scenario,
) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState {
        down: std::sync::atomic::AtomicBool::new(false),
        policy,
        codes,
        scenario,
        started: Instant::now(),
        seen: Mutex::new(Vec::new()),
        traceparents: Mutex::new(Vec::new()),
        tries: Mutex::new(HashMap::new()),
        pended: Mutex::new(HashMap::new()),
        tokens: Mutex::new(HashMap::new()),
        subscriptions: Default::default(),
    });
    let app = Router::new()
        .route("/Claim/$submit", post(submit))
        .route("/Claim/$inquire", post(inquire))
        .route("/token", post(token))
        .route("/_sim/requests", get(requests))
        .with_state(Arc::clone(&state))
        .merge(super::subscriptions::routes(Arc::clone(
            &state.subscriptions,
        )));
    let stop = CancellationToken::new();
    crate::http::serve(listener, app, SIM_LIMITS, stop.clone());
    Ok(SimHandle { addr, state, stop })
}

fn fhir(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [("content-type", "application/fhir+json")], bytes).into_response()
}

impl SimState {
    fn record(
        &self,
        request_identifier: &str,
        operation: &str,
        status: StatusCode,
        received: &Received,
    ) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Seen {
                request_identifier: request_identifier.to_owned(),
                operation: operation.to_owned(),
                status: status.as_u16(),
                at_ms: self.started.elapsed().as_millis() as u64,
                body_sha256: received.body_sha256.clone(),
                documents: received.documents.clone(),
                claim: received.claim.clone(),
            });
        }
    }

    /// Sleeps the scripted latency for this try of this request. Slow tries are counted before
    /// the sleep: a client that gives up drops the handler mid-sleep.
    async fn delay(&self, request_identifier: &str) {
        let f = &self.scenario.faults;
        if f.latency.is_zero() {
            return;
        }
        let n = self.next_try(&format!("slow\u{1f}{request_identifier}"));
        if f.slow(n) {
            tokio::time::sleep(f.latency).await;
        }
    }

    /// Counts a try of `key` and returns its number (1 for the first).
    fn next_try(&self, key: &str) -> u32 {
        self.tries
            .lock()
            .map(|mut t| {
                let n = t.entry(key.to_owned()).or_insert(0);
                *n += 1;
                *n
            })
            .unwrap_or(1)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        if self.scenario.token_lifetime.is_none() {
            return true;
        }
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.tokens
            .lock()
            .map(|t| t.get(token).is_some_and(|exp| SystemTime::now() < *exp))
            .unwrap_or(false)
    }

    /// The scripted failure for this try of this request, if any.
    fn scripted(&self, request_identifier: &str) -> Option<Response> {
        let n = self.next_try(request_identifier);
        if self.down.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(fhir(
                StatusCode::SERVICE_UNAVAILABLE,
                &operation_outcome("transient", "payer API is down"),
            ));
        }
        let f = &self.scenario.faults;
        let with_retry_after = |status: StatusCode| {
            let mut r = fhir(status, &operation_outcome("transient", "try again later"));
            if let Some(secs) = f.retry_after_header() {
                r.headers_mut().insert("retry-after", secs.into());
            }
            r
        };
        Some(match f.fault(request_identifier, n)? {
            Fault::Unavailable => with_retry_after(StatusCode::SERVICE_UNAVAILABLE),
            Fault::Throttled => with_retry_after(StatusCode::TOO_MANY_REQUESTS),
            Fault::Rejected => fhir(
                StatusCode::BAD_REQUEST,
                &operation_outcome("invalid", "request rejected by the payer"),
            ),
            Fault::Malformed => (
                StatusCode::OK,
                [("content-type", "application/fhir+json")],
                "{\"resourceType\":\"Bundle\",\"entry\":[{}]",
            )
                .into_response(),
        })
    }

    fn answer(
        &self,
        request: &Value,
        review: &ReviewCase,
        request_identifier: &str,
        operation: Operation,
        reference: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        match decide_review(
            review,
            &self.policy,
            &self.codes,
            request_identifier,
            operation,
            reference,
        ) {
            Ok(response) => {
                let response = self.scenario.faults.shape(response, review, &self.policy);
                if response.overall() == Overall::Pended {
                    if let (Some(r), Ok(mut pended)) =
                        (response.reference.clone(), self.pended.lock())
                    {
                        pended.entry(r).or_insert(Pended {
                            review: review.clone(),
                            request_identifier: request_identifier.to_owned(),
                            inquiries: 0,
                            bundle: request.clone(),
                            decided: false,
                            scheduled: false,
                            current_reference: None,
                        });
                    }
                }
                let bundle = response_bundle(request, &response);
                (StatusCode::OK, bundle, response.reference)
            }
            Err(PayerError::Refused { reasons, detail }) => {
                let code = reasons
                    .first()
                    .map(|r| r.code.clone())
                    .unwrap_or_else(|| "invalid".into());
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    operation_outcome(&code, &detail),
                    None,
                )
            }
            Err(PayerError::Transient { detail, .. }) => (
                StatusCode::SERVICE_UNAVAILABLE,
                operation_outcome("transient", &detail),
                None,
            ),
        }
    }
}

impl SimState {
    /// A Claim Update (`bundle`, answered under `reference`), a change or a cancellation,
    /// replaces the pended request it names: from now on an inquiry about that request is
    /// answered with this one (a cancelled request is answered `C` on every line).
    fn replace(
        &self,
        bundle: &Value,
        review: &ReviewCase,
        request_identifier: &str,
        reference: String,
    ) {
        let Some(claim) = super::seen::claim_of(bundle) else {
            return;
        };
        if !claim
            .profiles
            .iter()
            .any(|p| p == crate::payer::pas::model::CLAIM_UPDATE_PROFILE)
        {
            return;
        }
        let Some(replaced) = inquiry_reference(bundle) else {
            return;
        };
        if let Ok(mut pended) = self.pended.lock() {
            if let Some(entry) = pended.get_mut(&replaced) {
                entry.review = review.clone();
                entry.request_identifier = request_identifier.to_owned();
                entry.inquiries = 0;
                entry.current_reference = Some(reference);
            }
        }
    }

    /// 400 with an OperationOutcome listing every PAS profile violation of a request bundle,
    /// unless the scenario turns the check off.
    fn nonconforming(&self, bundle: &Value) -> Option<Response> {
        if !self.scenario.faults.profile_check.0 {
            return None;
        }
        let violations = crate::payer::pas::profile::check(bundle);
        (!violations.is_empty()).then(|| {
            fhir(
                StatusCode::BAD_REQUEST,
                &crate::payer::pas::profile::operation_outcome(&violations),
            )
        })
    }
}

fn identifier_of(bundle: &Value) -> String {
    bundle["identifier"]["value"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned()
}

/// Reads a request bundle and its identifier, plays the scripted latency and checks the bearer
/// token: the steps every operation takes before it is answered.
async fn receive(
    state: &SimState,
    headers: &HeaderMap,
    body: &[u8],
    operation: &str,
) -> Result<(Value, String, Received), Response> {
    let received = Received::of(body);
    let Ok(bundle) = serde_json::from_slice::<Value>(body) else {
        state.record("unparsable", operation, StatusCode::BAD_REQUEST, &received);
        return Err(fhir(
            StatusCode::BAD_REQUEST,
            &operation_outcome("structure", "body is not JSON"),
        ));
    };
    let id = identifier_of(&bundle);
    let received = received.with_documents(&bundle);
    if let Some(traceparent) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        if let Ok(mut t) = state.traceparents.lock() {
            t.push((id.clone(), traceparent.to_owned()));
        }
    }
    state.delay(&id).await;
    if !state.authorized(headers) {
        state.record(&id, operation, StatusCode::UNAUTHORIZED, &received);
        return Err(fhir(
            StatusCode::UNAUTHORIZED,
            &operation_outcome("login", "a valid bearer token is required"),
        ));
    }
    Ok((bundle, id, received))
}

async fn submit(State(state): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (bundle, id, received) = match receive(&state, &headers, &body, "submit").await {
        Ok(received) => received,
        Err(refused) => return refused,
    };
    if let Some(r) = state.scripted(&id) {
        state.record(&id, "submit", r.status(), &received);
        return r;
    }
    if let Some(r) = state.nonconforming(&bundle) {
        state.record(&id, "submit", r.status(), &received);
        return r;
    }
    let review = match review_from_bundle(&bundle) {
        Ok(r) => r,
        Err(why) => {
            state.record(&id, "submit", StatusCode::BAD_REQUEST, &received);
            return fhir(StatusCode::BAD_REQUEST, &operation_outcome("invalid", &why));
        }
    };
    let operation = if review.cancel {
        Operation::Cancel
    } else if review.appeal {
        Operation::Appeal
    } else {
        Operation::Submit
    };
    let (status, body, reference) = state.answer(&bundle, &review, &id, operation, None);
    if let (Operation::Submit | Operation::Cancel, Some(reference)) = (operation, reference) {
        state.replace(&bundle, &review, &id, reference);
    }
    state.record(&id, "submit", status, &received);
    schedule_decision(&state, &id);
    fhir(status, &body)
}

/// The payer reference an inquiry names (administrationReferenceNumber on an item).
fn inquiry_reference(bundle: &Value) -> Option<String> {
    let claim = bundle["entry"]
        .as_array()?
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Claim")?;
    claim["resource"]["item"]
        .as_array()?
        .iter()
        .find_map(|item| {
            item["extension"].as_array()?.iter().find_map(|x| {
                x["url"]
                    .as_str()
                    .filter(|u| u.ends_with("extension-administrationReferenceNumber"))
                    .and(x["valueString"].as_str())
                    .map(str::to_owned)
            })
        })
}

async fn inquire(State(state): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (bundle, id, received) = match receive(&state, &headers, &body, "inquire").await {
        Ok(received) => received,
        Err(refused) => return refused,
    };
    if let Some(r) = state.nonconforming(&bundle) {
        state.record(&id, "inquire", r.status(), &received);
        return r;
    }
    let Some(reference) = inquiry_reference(&bundle) else {
        state.record(&id, "inquire", StatusCode::BAD_REQUEST, &received);
        return fhir(
            StatusCode::BAD_REQUEST,
            &operation_outcome(
                "required",
                "the inquiry names no administrationReferenceNumber",
            ),
        );
    };
    let timed = state.scenario.decide_pended_after.is_some();
    let found = state.pended.lock().ok().and_then(|mut p| {
        p.get_mut(&reference).map(|entry| {
            entry.inquiries += 1;
            // With a time-based decision, the request stays pended until the decision is due.
            let round = match (timed, entry.decided) {
                (false, _) => entry.inquiries,
                (true, false) => 0,
                (true, true) => u32::MAX,
            };
            (
                entry.review.clone(),
                entry.request_identifier.clone(),
                round,
                entry
                    .current_reference
                    .clone()
                    .unwrap_or_else(|| reference.clone()),
            )
        })
    });
    let Some((review, original, round, current)) = found else {
        state.record(&id, "inquire", StatusCode::NOT_FOUND, &received);
        return fhir(
            StatusCode::NOT_FOUND,
            &operation_outcome("not-found", "no pended request with that reference"),
        );
    };
    let (status, body, _) = state.answer(
        &bundle,
        &review,
        &original,
        Operation::Inquire { round },
        Some(&current),
    );
    state.record(&id, "inquire", status, &received);
    fhir(status, &body)
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    client_assertion: Option<String>,
}

/// Verifies a SMART Backend Services client assertion: signed RS384 or ES384 by the key
/// registered for its issuer, issuer = subject, this endpoint as audience, unexpired, with a jti.
fn assertion_is_valid(assertion: &str, keys: &HashMap<String, String>, audience: &str) -> bool {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return false;
    };
    // Which key to verify with: the issuer named in the (not yet trusted) claims.
    let issuer = assertion
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .and_then(|c| c["iss"].as_str().map(str::to_owned));
    let Some((issuer, pem)) = issuer.and_then(|i| keys.get(&i).map(|k| (i, k))) else {
        return false;
    };
    let key = match header.alg {
        Algorithm::RS384 => DecodingKey::from_rsa_pem(pem.as_bytes()),
        Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()),
        _ => return false,
    };
    let Ok(key) = key else {
        return false;
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Value>(assertion, &key, &validation).is_ok_and(|data| {
        data.claims["sub"].as_str() == Some(issuer.as_str()) && data.claims["jti"].is_string()
    })
}

async fn token(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TokenForm>,
) -> Response {
    let bad = |error: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": error})),
        )
            .into_response()
    };
    if form.grant_type != "client_credentials" {
        return bad("unsupported_grant_type");
    }
    let client_ok = if let Some(assertion) = &form.client_assertion {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assertion_is_valid(
            assertion,
            &state.scenario.client_keys,
            &format!("http://{host}/token"),
        )
    } else {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                pair.split_once(':')
                    .map(|(i, s)| (i.to_owned(), s.to_owned()))
            })
            .is_some_and(|(id, secret)| state.scenario.clients.get(&id) == Some(&secret))
    };
    state.record(
        "token",
        "token",
        if client_ok {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        },
        &Received::default(),
    );
    if !client_ok {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let lifetime = state
        .scenario
        .token_lifetime
        .unwrap_or(Duration::from_secs(300));
    let advertised = 300;
    let token = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(mut tokens) = state.tokens.lock() {
        tokens.insert(token.clone(), SystemTime::now() + lifetime);
    }
    Json(serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": advertised})).into_response()
}

/// With `decide_pended_after`: decides the request pended under `request_identifier` when that
/// time has passed, and notifies the matching subscriptions with the decision.
fn schedule_decision(state: &Arc<SimState>, request_identifier: &str) {
    let Some(after) = state.scenario.decide_pended_after else {
        return;
    };
    let due = state.pended.lock().ok().and_then(|mut p| {
        p.iter_mut()
            .find(|(_, e)| e.request_identifier == request_identifier && !e.scheduled)
            .map(|(reference, e)| {
                e.scheduled = true;
                reference.clone()
            })
    });
    let Some(reference) = due else {
        return;
    };
    let state = Arc::clone(state);
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let entry = state.pended.lock().ok().and_then(|mut p| {
            p.get_mut(&reference).map(|e| {
                e.decided = true;
                (
                    e.review.clone(),
                    e.request_identifier.clone(),
                    e.bundle.clone(),
                )
            })
        });
        let Some((review, original, bundle)) = entry else {
            return;
        };
        let decided = decide_review(
            &review,
            &state.policy,
            &state.codes,
            &original,
            Operation::Inquire { round: u32::MAX },
            Some(&reference),
        );
        if let Ok(response) = decided {
            let body = response_bundle(&bundle, &response);
            super::subscriptions::notify_decision(&state.subscriptions, &bundle, &body).await;
        }
    });
}

async fn requests(State(state): State<Arc<SimState>>) -> Json<Vec<Seen>> {
    Json(state.seen.lock().map(|s| s.clone()).unwrap_or_default())
}
