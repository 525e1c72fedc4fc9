//! The outcome event (`preauth.outcome.v1`) and the findings it carries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Finding;

/// The schema name of version 1 outcome events.
pub const OUTCOME_SCHEMA_V1: &str = "preauth.outcome.v1";

/// The status of an outcome event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Approved,
    Pended,
    Denied,
    AppealNeeded,
    Rejected,
    Failed,
    /// The payer confirmed the cancellation of the request (`case.cancelled`).
    Cancelled,
    /// The payer has not decided and asks for more information first (not terminal).
    InformationRequested,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Approved,
        Status::Pended,
        Status::Denied,
        Status::AppealNeeded,
        Status::Rejected,
        Status::Failed,
        Status::Cancelled,
        Status::InformationRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Pended => "pended",
            Status::Denied => "denied",
            Status::AppealNeeded => "appeal-needed",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::InformationRequested => "information-requested",
        }
    }

    /// Every status but `pended` and `information-requested` ends the case event: after those
    /// the worker keeps waiting for the payer's decision.
    pub(crate) fn is_terminal(self) -> bool {
        !matches!(self, Status::Pended | Status::InformationRequested)
    }

    /// The outbound routing key, `outcome.<status>`.
    pub fn routing_key(self) -> String {
        format!("outcome.{}", self.as_str())
    }
}

/// Who decided, and how to find the request at the payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerRef {
    pub id: String,
    /// The Claim.identifier value sent to the payer.
    pub request_identifier: String,
    /// The payer's own reference for the request, once it has one.
    pub reference: Option<String>,
    /// The X12 306 review action code (A1, A2, A3, A4, A6, C, CT, NA).
    pub review_action: Option<String>,
}

/// What the payer certified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    pub number: String,
    #[serde(serialize_with = "super::when::opt_date")]
    pub valid_from: Option<NaiveDate>,
    #[serde(serialize_with = "super::when::opt_date")]
    pub valid_to: Option<NaiveDate>,
    pub approved_units: u32,
    pub patient_responsibility: Option<String>,
    /// True for a partial (A2) or modified (A6) certification.
    #[serde(default)]
    pub partial: bool,
    /// The payer's word on each requested line, in the order of `service.procedures`: what it
    /// did with the line and, when it said so, what exactly it authorized (a changed code or
    /// modifier, the units, the provider, the line's own number and period).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<AuthorizedLine>,
}

/// One requested line of an approved outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedLine {
    /// 1-based, in the order of `service.procedures`.
    pub sequence: u32,
    /// The X12 306 review action for the line.
    pub review_action: String,
    /// Units certified on the line (0 when not certified).
    pub approved_units: u32,
    /// The service the payer authorized, when it named one (it may differ from the one asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<String>,
    /// The NPI of the provider the payer authorized for the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_npi: Option<String>,
    /// The line's own authorization number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "super::when::opt_date")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "super::when::opt_date")]
    pub valid_to: Option<NaiveDate>,
}

/// A reason given by the payer or by the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    /// The code system (`https://codesystem.x12.org/external/886`, or `preauth-worker`).
    pub system: Option<String>,
    pub text: String,
}

impl Reason {
    /// A reason of the worker's own (not the payer's).
    pub fn worker(reason: WorkerReason, text: impl Into<String>) -> Self {
        Self::worker_code(reason.code(), text)
    }

    /// The payer refused the request with this HTTP status (code `http-<status>`).
    pub fn http_refusal(status: u16, text: impl Into<String>) -> Self {
        Self::worker_code(&format!("http-{status}"), text)
    }

    fn worker_code(code: &str, text: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            system: Some(WORKER_REASON_SYSTEM.to_owned()),
            text: text.into(),
        }
    }
}

/// The worker's own reason codes (`system` = `urn:preauth-worker:reason`), besides
/// `http-<status>`: every one is listed here, so metrics can count them by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerReason {
    PayerNotConfigured,
    RetriesExhausted,
    PayerRefused,
    FollowupsExhausted,
    RegulatoryDeadline,
    NoDecision,
    MalformedResponse,
    CancelNotConfirmed,
}

impl WorkerReason {
    pub const ALL: [WorkerReason; 8] = [
        WorkerReason::PayerNotConfigured,
        WorkerReason::RetriesExhausted,
        WorkerReason::PayerRefused,
        WorkerReason::FollowupsExhausted,
        WorkerReason::RegulatoryDeadline,
        WorkerReason::NoDecision,
        WorkerReason::MalformedResponse,
        WorkerReason::CancelNotConfirmed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            WorkerReason::PayerNotConfigured => "payer-not-configured",
            WorkerReason::RetriesExhausted => "retries-exhausted",
            WorkerReason::PayerRefused => "payer-refused",
            WorkerReason::FollowupsExhausted => "followups-exhausted",
            WorkerReason::RegulatoryDeadline => "regulatory-deadline",
            WorkerReason::NoDecision => "no-decision",
            WorkerReason::MalformedResponse => "malformed-response",
            WorkerReason::CancelNotConfirmed => "cancel-not-confirmed",
        }
    }
}

/// The code system of reasons the worker gives itself.
pub(crate) const WORKER_REASON_SYSTEM: &str = "urn:preauth-worker:reason";

/// How a denial can be appealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealRoute {
    /// Last day an appeal is accepted.
    #[serde(serialize_with = "super::when::date")]
    pub deadline: NaiveDate,
    /// What the appeal packet must add (`letter_of_medical_necessity`, `prior_treatments`, `photos`, …).
    pub required: Vec<String>,
}

/// What the payer asks for before it decides (`information-requested`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformationRequest {
    /// Each thing asked for: its code, the code's system, and the payer's words.
    pub items: Vec<Reason>,
    /// The last day the payer accepts the information, when it gave one.
    #[serde(serialize_with = "super::when::opt_date")]
    pub due: Option<NaiveDate>,
}

/// An outcome event (`preauth.outcome.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub schema: String,
    /// Derived from the event and the decision: a redelivered event yields the same id.
    pub outcome_id: String,
    pub event_id: String,
    pub case_id: String,
    pub status: Status,
    #[serde(serialize_with = "super::when::time")]
    pub decided_at: DateTime<Utc>,
    pub payer: Option<PayerRef>,
    pub authorization: Option<Authorization>,
    pub reasons: Vec<Reason>,
    pub findings: Vec<Finding>,
    pub appeal: Option<AppealRoute>,
    /// Payer submissions made for this event so far.
    pub attempts: u32,
    /// Orders the outcomes of one case event: of two outcomes for the same `event_id`, the one
    /// with the higher sequence is the later word. Only a `failed` is ever followed by a
    /// different terminal outcome (after an operator replay, or when a worker stopped between
    /// publishing and settling the event); see the contract, section 5.
    #[serde(default)]
    pub sequence: u64,
    /// For `pended` and `information-requested`: when the worker will ask the payer again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "super::when::opt_time")]
    pub next_follow_up_at: Option<DateTime<Utc>>,
    /// For `information-requested`: what the payer asks for, and by when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub information_request: Option<InformationRequest>,
}
