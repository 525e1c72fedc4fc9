//! The PAS pended-result subscription (FHIR R4 Subscriptions Backport, PAS `PASSubscription`):
//! one Subscription per payer and sending system, made when `run` starts, through which the
//! payer notifies the worker when a pended request's response changes.
//!
//! Shape: `criteria` is the PAS topic canonical, the Backport filter extension carries
//! `org-identifier=<org_identifier>` (the sending system identifier, X12 ISA06), the channel is a
//! rest-hook to `endpoint` (this worker's `/pas/notify/<payer>`) whose `header` carries
//! `Authorization: <notification credential>`, the payload is `application/fhir+json` with
//! content `full-resource`, and the status `requested` (the payer makes it `active` once its
//! handshake is answered).
//!
//! Idempotent across restarts and several workers: the Subscription has a deterministic id
//! (from the payer id, the endpoint and the org identifier) and is written with
//! `PUT [base]/Subscription/<id>` (update as create), so every worker writes the same resource.
//! Its status is then read back with `GET` until the payer reports it `active`, and rechecked
//! every few minutes; one found `error`, `off` or gone is written again.

mod maintain;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use maintain::Subscriber;

/// The PAS SubscriptionTopic canonical (`Subscription.criteria`).
pub const PAS_TOPIC: &str =
    "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic";
/// The PAS Subscription profile.
pub const PAS_SUBSCRIPTION_PROFILE: &str =
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription";
/// The Backport's filter criteria extension on `Subscription.criteria`.
pub const FILTER_CRITERIA_EXT: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria";
/// The Backport's payload content extension on `Subscription.channel.payload`.
pub const PAYLOAD_CONTENT_EXT: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";
/// The Backport's heartbeat period extension on `Subscription.channel` (seconds).
pub const HEARTBEAT_EXT: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period";

/// `[payers.ID.subscription]`: the PAS Subscription this worker keeps with a `fhir-pas` payer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// The https URL where this worker's notification listener receives this payer's
    /// notifications (`https://…/pas/notify/ID`), as the payer reaches it.
    pub endpoint: String,
    /// The sending system identifier the payer knows this worker by (X12 ISA06): the
    /// subscription's `org-identifier` filter.
    pub org_identifier: String,
    /// How often the payer should send a heartbeat when nothing else happens (unset: the
    /// payer's choice).
    #[serde(default, with = "humantime_serde")]
    pub heartbeat_period: Option<Duration>,
    /// How a pended request is followed up while the subscription is not active: `poll`
    /// (`followup.pended`, as for a payer without subscriptions) or `wait` (as if it were active:
    /// the notification, and the safety net).
    #[serde(default)]
    pub fallback: Fallback,
    /// While the subscription is active, how long a pended request waits for its notification
    /// before the worker asks the payer itself (`$inquire`, the safety net against a lost
    /// notification); shortened to end at the request's regulatory deadline.
    #[serde(default = "default_safety_after", with = "humantime_serde")]
    pub safety_inquiry_after: Duration,
    /// While the subscription is active, the most follow-ups of one pended request (each after a
    /// notification or a safety-net wait); a request still pended after them fails with
    /// `followups-exhausted`.
    #[serde(default = "default_safety_inquiries")]
    pub safety_inquiries: u32,
}

fn default_safety_after() -> Duration {
    Duration::from_secs(3 * 86_400)
}

fn default_safety_inquiries() -> u32 {
    4
}

/// How pended requests are followed up while the subscription is not active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// Poll on `followup.pended`.
    #[default]
    Poll,
    /// Wait for the notification (and the safety net) as if the subscription were active.
    Wait,
}

label_values! {
    /// The state of a payer's subscription as the worker last saw it
    /// (`preauth_subscription_state`'s `state`).
    pub enum SubscriptionState {
        /// Not written yet, or the payer could not be reached.
        Unknown = "unknown",
        /// Written; the payer has not yet reported it active (handshake pending).
        Requested = "requested",
        /// The payer reports it active: notifications flow.
        Active = "active",
        /// The payer reports it in error or off, or refused it.
        Error = "error",
    }
}

impl SubscriptionState {
    /// The state a FHIR `Subscription.status` code stands for.
    pub fn from_status(code: &str) -> Self {
        match code {
            "requested" => SubscriptionState::Requested,
            "active" => SubscriptionState::Active,
            _ => SubscriptionState::Error,
        }
    }
}

/// A payer's subscription as the pipeline sees it: its settings and its current state.
#[derive(Debug)]
pub struct SubscriptionStatus {
    payer: String,
    pub settings: SubscriptionSettings,
    state: AtomicU8,
}

impl SubscriptionStatus {
    pub fn new(payer: &str, settings: SubscriptionSettings) -> Self {
        let s = Self {
            payer: payer.to_owned(),
            settings,
            state: AtomicU8::new(0),
        };
        s.publish(SubscriptionState::Unknown);
        s
    }

    pub fn payer(&self) -> &str {
        &self.payer
    }

    pub fn state(&self) -> SubscriptionState {
        let i = usize::from(self.state.load(Ordering::Relaxed));
        SubscriptionState::ALL
            .get(i)
            .copied()
            .unwrap_or(SubscriptionState::Unknown)
    }

    /// Records the state; a change is logged, and the gauge follows.
    pub fn set(&self, state: SubscriptionState) {
        let i = SubscriptionState::ALL
            .iter()
            .position(|s| *s == state)
            .unwrap_or(0);
        let before = self.state.swap(i as u8, Ordering::Relaxed);
        if usize::from(before) != i {
            let payer = self.payer.as_str();
            match state {
                SubscriptionState::Active => {
                    tracing::info!(payer, state = state.as_str(), "PAS subscription active: pended requests wait for the payer's notification.")
                }
                SubscriptionState::Requested => {
                    tracing::info!(
                        payer,
                        state = state.as_str(),
                        "PAS subscription requested; waiting for the payer's handshake."
                    )
                }
                _ => {
                    tracing::warn!(
                        payer,
                        state = state.as_str(),
                        "PAS subscription not active: pended requests follow the fallback."
                    )
                }
            }
        }
        self.publish(state);
    }

    fn publish(&self, state: SubscriptionState) {
        for s in SubscriptionState::ALL {
            metrics::gauge!("preauth_subscription_state", "payer" => self.payer.clone(), "state" => s.as_str())
                .set(if *s == state { 1.0 } else { 0.0 });
        }
    }

    /// True when pended requests wait for the notification: the subscription is active, or the
    /// fallback is `wait`.
    pub fn awaits_notifications(&self) -> bool {
        self.state() == SubscriptionState::Active || self.settings.fallback == Fallback::Wait
    }
}

/// The Subscription's logical id: the same for every worker of a deployment with the same
/// payer, endpoint and org identifier (`preauth-` and 24 hex digits of a SHA-256).
pub fn subscription_id(payer: &str, settings: &SubscriptionSettings) -> String {
    let text = format!(
        "{payer}\u{1f}{}\u{1f}{}",
        settings.endpoint, settings.org_identifier
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    let hex: String = digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("preauth-{hex}")
}

/// The PASSubscription resource. It holds the notification credential (`channel.header`): never
/// log it.
pub fn subscription_resource(id: &str, settings: &SubscriptionSettings, credential: &str) -> Value {
    let mut channel = json!({
        "type": "rest-hook",
        "endpoint": settings.endpoint,
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT_EXT, "valueCode": "full-resource"}]},
        "header": [format!("Authorization: {credential}")],
    });
    if let Some(period) = settings.heartbeat_period {
        channel["extension"] =
            json!([{"url": HEARTBEAT_EXT, "valueUnsignedInt": period.as_secs().max(1)}]);
    }
    json!({
        "resourceType": "Subscription",
        "id": id,
        "meta": {"profile": [PAS_SUBSCRIPTION_PROFILE]},
        "status": "requested",
        "reason": "Prior authorization responses for this sending system (Da Vinci PAS pended results).",
        "criteria": PAS_TOPIC,
        "_criteria": {"extension": [{"url": FILTER_CRITERIA_EXT, "valueString": format!("org-identifier={}", settings.org_identifier)}]},
        "channel": channel,
    })
}

/// The problem with a `[payers.ID.subscription]` table, for the configuration check: the key
/// and what is wrong.
/// `longest_wait` is the longest a request can wait in its awaiting queue.
pub(crate) fn settings_problem(
    s: &SubscriptionSettings,
    allow_insecure_http: bool,
    longest_wait: Duration,
) -> Option<(&'static str, String)> {
    let url = reqwest::Url::parse(&s.endpoint).ok();
    let scheme_ok = url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https" || (allow_insecure_http && u.scheme() == "http"));
    if !scheme_ok || url.as_ref().and_then(|u| u.host_str()).is_none() {
        return Some((
            "endpoint",
            "needs the https:// URL where the payer reaches this worker's /pas/notify/ID".into(),
        ));
    }
    let id_ok = |v: &str| {
        !v.is_empty() && v.len() <= 80 && v.chars().all(|c| c.is_ascii_graphic() && c != ',')
    };
    if !id_ok(&s.org_identifier) {
        return Some((
            "org_identifier",
            "needs the sending system identifier (ISA06): printable, no spaces or commas, at most 80 characters".into(),
        ));
    }
    if s.safety_inquiry_after < Duration::from_secs(1) || s.safety_inquiry_after > longest_wait {
        return Some((
            "safety_inquiry_after",
            format!(
                "must be between 1s and {} days (the longest a request can wait in its awaiting queue)",
                longest_wait.as_secs() / 86_400
            ),
        ));
    }
    if s.safety_inquiries == 0 || s.safety_inquiries > 100 {
        return Some(("safety_inquiries", "must be between 1 and 100".into()));
    }
    if s.heartbeat_period
        .is_some_and(|p| p < Duration::from_secs(1))
    {
        return Some(("heartbeat_period", "must be at least 1s".into()));
    }
    None
}

#[cfg(test)]
mod tests;
