//! The progress event (`preauth.progress.v1`): a small message beside the outcomes that says a
//! case event reached a step (received, submitted to the payer, scheduled for a retry, parked,
//! replayed). Ids and codes only: nothing of the case's text.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Urgency;

/// The schema name of version 1 progress events.
pub const PROGRESS_SCHEMA_V1: &str = "preauth.progress.v1";

/// The step a progress event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// A fresh delivery of the case event (no payer call, retry or follow-up before it).
    Received,
    /// A request was sent to the payer (`at` is when it was sent).
    Submitted,
    /// The payer was unavailable: the case waits in a delay tier.
    RetryScheduled,
    /// The case event went to the parking queue.
    Parked,
    /// An operator sent the parked case event back to the work queue.
    Replayed,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Received,
        Step::Submitted,
        Step::RetryScheduled,
        Step::Parked,
        Step::Replayed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Received => "received",
            Step::Submitted => "submitted",
            Step::RetryScheduled => "retry-scheduled",
            Step::Parked => "parked",
            Step::Replayed => "replayed",
        }
    }

    /// The outbound routing key, `progress.<step>`.
    pub fn routing_key(self) -> String {
        format!("progress.{}", self.as_str())
    }
}

/// What a payer call asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressOperation {
    /// A new request (`$submit`).
    Submit,
    /// An appeal of a denial.
    Appeal,
    /// A follow-up of a pended request (`$inquire`).
    Inquire,
    /// A change to a submitted request (a PAS Claim Update).
    Update,
    /// The cancellation of a submitted request (a PAS Claim Update cancelling every line).
    Cancel,
}

/// The request at the payer, once the case was routed to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressPayer {
    /// The case's `coverage.payer_id`.
    pub id: String,
    /// The Claim.identifier value sent to the payer.
    pub request_identifier: String,
    /// The payer's own reference for the request, once it gave one.
    pub reference: Option<String>,
}

/// Where a retried case waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRetry {
    /// The delay tier's label (`5s`, `30m`, `2h`), as the metrics name it.
    pub tier: String,
    /// Why: `payer-unavailable`, `payer-retry-after` when the payer asked for the wait, or
    /// `document-store-unavailable` when a photo or the letter could not be fetched yet.
    pub reason: String,
    /// When the case comes back to the work queue.
    #[serde(serialize_with = "super::when::time")]
    pub retry_at: DateTime<Utc>,
}

/// Why a case event was parked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressParked {
    /// The `x-preauth-reason` code.
    pub reason: String,
}

/// A progress event (`preauth.progress.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub schema: String,
    /// Derived from the event, the step, the replay count and the attempt: a redelivery yields
    /// the same id (see `ids::progress_id`). Also the AMQP message_id.
    pub progress_id: String,
    pub event_id: String,
    pub case_id: String,
    pub step: Step,
    /// When the step happened; for `submitted`, when the request was sent.
    #[serde(serialize_with = "super::when::time")]
    pub at: DateTime<Utc>,
    /// The rank of the delivery that reported the step, as outcomes carry it.
    pub sequence: u64,
    pub payer: Option<ProgressPayer>,
    /// `submitted` only: the urgency the payer's decision clock runs by.
    pub urgency: Option<Urgency>,
    /// `submitted` only: what the call asked for.
    pub operation: Option<ProgressOperation>,
    /// Payer calls so far (for `submitted`, including this one).
    pub attempt: u32,
    /// `retry-scheduled` only.
    pub retry: Option<ProgressRetry>,
    /// `parked` only.
    pub parked: Option<ProgressParked>,
    /// How many times an operator replayed the case event from the parking queue.
    pub replays: u32,
}

impl Progress {
    /// A progress event with its id and nothing optional: `discriminator` is the attempt number
    /// for `submitted`, the delay tiers used for `retry-scheduled`, 0 otherwise.
    pub fn new(
        step: Step,
        case_id: &str,
        event_id: &str,
        at: DateTime<Utc>,
        sequence: u64,
        replays: u32,
        discriminator: u32,
    ) -> Self {
        Self {
            schema: PROGRESS_SCHEMA_V1.to_owned(),
            progress_id: crate::ids::progress_id(
                case_id,
                event_id,
                step.as_str(),
                replays,
                discriminator,
            ),
            event_id: event_id.to_owned(),
            case_id: case_id.to_owned(),
            step,
            at,
            sequence,
            payer: None,
            urgency: None,
            operation: None,
            attempt: 0,
            retry: None,
            parked: None,
            replays,
        }
    }

    /// The outbound routing key, `progress.<step>`.
    pub fn routing_key(&self) -> String {
        self.step.routing_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_event_serializes_with_every_member_the_contract_names() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let mut p = Progress::new(Step::RetryScheduled, "C-1", "e-1", at, 1_000, 0, 1);
        p.retry = Some(ProgressRetry {
            tier: "5s".into(),
            reason: "payer-unavailable".into(),
            retry_at: at,
        });
        let v = serde_json::to_value(&p).unwrap_or_default();
        assert_eq!(v["schema"], "preauth.progress.v1");
        assert_eq!(v["step"], "retry-scheduled");
        assert_eq!(v["retry"]["tier"], "5s");
        for member in [
            "progress_id",
            "event_id",
            "case_id",
            "at",
            "sequence",
            "payer",
            "urgency",
            "operation",
            "attempt",
            "retry",
            "parked",
            "replays",
        ] {
            assert!(v.get(member).is_some(), "{member}");
        }
        let back: Progress = serde_json::from_value(v).unwrap_or_else(|_| p.clone());
        assert_eq!(back, p);
        assert_eq!(p.routing_key(), "progress.retry-scheduled");
        assert_eq!(
            Step::ALL.map(Step::routing_key),
            [
                "progress.received",
                "progress.submitted",
                "progress.retry-scheduled",
                "progress.parked",
                "progress.replayed"
            ]
        );
    }
}
