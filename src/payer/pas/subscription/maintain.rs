//! Keeping a payer's Subscription: written at start, read back until active, rechecked, and
//! written again when the payer has dropped it. A background task: case processing never waits
//! for it.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{subscription_id, subscription_resource, SubscriptionState, SubscriptionStatus};
use crate::payer::pas::auth::TokenSource;
use crate::payer::PayerError;

const FHIR_JSON: &str = "application/fhir+json";
/// The first wait before reading back a requested subscription; it doubles up to
/// [`REQUESTED_RECHECK`].
const FIRST_RECHECK: Duration = Duration::from_millis(250);
const REQUESTED_RECHECK: Duration = Duration::from_secs(30);
/// How often an active subscription is read back.
const ACTIVE_RECHECK: Duration = Duration::from_secs(300);
/// The wait before writing the subscription again after the payer refused it or was unreachable.
const REWRITE_AFTER: Duration = Duration::from_secs(60);
/// The largest Subscription read back.
const MAX_BODY: usize = 256 * 1024;

/// Writes and watches one payer's Subscription.
pub struct Subscriber {
    http: reqwest::Client,
    url: String,
    timeout: Duration,
    auth: Option<Arc<TokenSource>>,
    credential: SecretString,
    status: Arc<SubscriptionStatus>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("url", &self.url)
            .field("state", &self.status.state())
            .finish_non_exhaustive()
    }
}

/// Why one call did not give a status.
enum CallError {
    /// Worth trying again soon.
    Transient(String),
    /// The payer does not have it (404/410): write it again.
    Gone,
    /// The payer refused it as it is.
    Refused(String),
}

impl Subscriber {
    /// The subscriber of `status`'s payer at `base_url`, through the payer's HTTP client and
    /// token source.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        timeout: Duration,
        auth: Option<Arc<TokenSource>>,
        credential: SecretString,
        status: Arc<SubscriptionStatus>,
    ) -> Self {
        let id = subscription_id(status.payer(), &status.settings);
        Self {
            http,
            url: format!("{}/Subscription/{id}", base_url.trim_end_matches('/')),
            timeout,
            auth,
            credential,
            status,
        }
    }

    pub fn status(&self) -> Arc<SubscriptionStatus> {
        Arc::clone(&self.status)
    }

    /// Keeps the subscription until `shutdown`.
    pub async fn maintain(self, shutdown: CancellationToken) {
        let payer = self.status.payer().to_owned();
        let mut first = true;
        loop {
            // Written again after a refusal, an error status or a removal: not at once.
            if !std::mem::take(&mut first) {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(REWRITE_AFTER) => {}
                }
            }
            let written = (|| self.write())
                .retry(
                    ExponentialBuilder::default()
                        .with_min_delay(Duration::from_millis(500))
                        .with_max_delay(Duration::from_secs(10))
                        .with_max_times(4),
                )
                .sleep(tokio::time::sleep)
                .when(|e| matches!(e, CallError::Transient(_)))
                .await;
            match written {
                Ok(state) => self.status.set(state),
                Err(CallError::Transient(why) | CallError::Refused(why)) => {
                    warn!(%payer, "PAS subscription could not be written: {why}. Trying again later.");
                    self.status.set(SubscriptionState::Error);
                    continue;
                }
                Err(CallError::Gone) => {
                    warn!(%payer, "The payer answered 404 to the PAS subscription. Trying again later.");
                    self.status.set(SubscriptionState::Error);
                    continue;
                }
            }
            // Read back until it needs writing again.
            let mut wait = FIRST_RECHECK;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                match self.read().await {
                    Ok(SubscriptionState::Error) => {
                        self.status.set(SubscriptionState::Error);
                        break;
                    }
                    Ok(state) => {
                        self.status.set(state);
                        wait = if state == SubscriptionState::Active {
                            ACTIVE_RECHECK
                        } else {
                            (wait * 2).min(REQUESTED_RECHECK)
                        };
                    }
                    Err(CallError::Gone) => {
                        warn!(%payer, "The payer no longer has the PAS subscription; writing it again.");
                        self.status.set(SubscriptionState::Error);
                        break;
                    }
                    Err(CallError::Transient(why) | CallError::Refused(why)) => {
                        debug!(%payer, "PAS subscription status not read: {why}.");
                        wait = (wait * 2).min(REQUESTED_RECHECK);
                    }
                }
            }
        }
    }

    /// `PUT` the Subscription; the status the payer answers with.
    async fn write(&self) -> Result<SubscriptionState, CallError> {
        let resource = subscription_resource(
            self.url.rsplit('/').next().unwrap_or_default(),
            &self.status.settings,
            self.credential.expose_secret(),
        );
        let body = serde_json::to_vec(&resource).unwrap_or_default();
        let request = self
            .http
            .put(&self.url)
            .header(CONTENT_TYPE, FHIR_JSON)
            .body(body);
        self.call(request).await
    }

    /// `GET` the Subscription; its status.
    async fn read(&self) -> Result<SubscriptionState, CallError> {
        self.call(self.http.get(&self.url)).await
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<SubscriptionState, CallError> {
        let mut request = request.timeout(self.timeout).header(ACCEPT, FHIR_JSON);
        if let Some(auth) = &self.auth {
            let token = auth.token().await.map_err(|e| match e {
                PayerError::Transient { detail, .. } => CallError::Transient(detail),
                PayerError::Refused { detail, .. } => CallError::Refused(detail),
            })?;
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request.send().await.map_err(|e| {
            CallError::Transient(format!("cannot reach the payer: {}", e.without_url()))
        })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            if let Some(auth) = &self.auth {
                auth.invalidate().await;
            }
            return Err(CallError::Transient("the payer answered 401".into()));
        }
        if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Err(CallError::Gone);
        }
        let code = status.as_u16();
        if code == 408 || code == 429 || (status.is_server_error() && code != 501) {
            return Err(CallError::Transient(format!("the payer answered {status}")));
        }
        if !status.is_success() {
            return Err(CallError::Refused(format!("the payer answered {status}")));
        }
        let body = crate::payer::pas::body::read_bounded(response, MAX_BODY)
            .await
            .map_err(|e| CallError::Transient(e.to_string()))?;
        Ok(status_of(&body))
    }
}

/// The state a Subscription body reports; a 2xx without a readable one is taken as requested
/// (written, status not yet told).
fn status_of(body: &[u8]) -> SubscriptionState {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(|v| v["resourceType"] == "Subscription")
        .and_then(|v| v["status"].as_str().map(SubscriptionState::from_status))
        .unwrap_or(SubscriptionState::Requested)
}
