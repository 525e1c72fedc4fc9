//! What a delivery to the ledger is: an outcome (`preauth.outcome.v1`, read as
//! [`case::Outcome`](crate::case::Outcome)), a progress event (`preauth.progress.v1`), or
//! neither. Told apart by the body's `schema`, never by the routing key alone. Only the fields
//! the ledger indexes are taken out; the body is kept whole.
//!
//! The progress event's type lives here, in [`Progress`], as the contract (docs/contract.md)
//! defines it; when the case module carries its own type, this is the one place to switch.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::case::{Outcome, OUTCOME_SCHEMA_V1};

/// The schema name of version 1 progress events.
pub const PROGRESS_SCHEMA_V1: &str = "preauth.progress.v1";

/// The step of a progress event that starts the payer's decision clock.
pub const SUBMITTED: &str = "submitted";

/// The longest id, step or code the ledger takes; anything longer is not an event of ours.
const MAX_ID: usize = 200;

/// A progress event (`preauth.progress.v1`): a step of a case event's life before or between
/// its outcomes. Ids and codes only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub schema: String,
    pub progress_id: String,
    pub event_id: String,
    pub case_id: String,
    /// `received`, `submitted`, `retry-scheduled`, `parked`, `replayed` (a step the ledger does
    /// not know yet is kept as it is).
    pub step: String,
    /// When the step happened (for `submitted`: when the request was sent).
    pub at: DateTime<Utc>,
    pub sequence: u64,
    #[serde(default)]
    pub payer: Option<ProgressPayer>,
    /// `standard` or `expedited`, on `submitted`.
    #[serde(default)]
    pub urgency: Option<String>,
    /// `submit`, `appeal` or `inquire`, on `submitted`.
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub retry: Option<ProgressRetry>,
    #[serde(default)]
    pub parked: Option<ProgressParked>,
    #[serde(default)]
    pub replays: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressPayer {
    pub id: String,
    pub request_identifier: String,
    #[serde(default)]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRetry {
    pub tier: String,
    pub reason: String,
    pub retry_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressParked {
    pub reason: String,
}

/// Which of the two events a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Outcome,
    Progress,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Outcome, Kind::Progress];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Outcome => "outcome",
            Kind::Progress => "progress",
        }
    }
}

/// What an outcome sets on its case event's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: String,
    pub outcome_id: String,
    pub review_action: Option<String>,
    pub authorization_number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub approved_units: Option<i32>,
    pub partial: Option<bool>,
    pub patient_responsibility: Option<String>,
    pub appeal_deadline: Option<NaiveDate>,
    pub appeal_required: Value,
    pub findings: Value,
    pub reasons: Value,
    pub attempts: i32,
    pub next_follow_up_at: Option<DateTime<Utc>>,
    pub decided_at: DateTime<Utc>,
}

/// A message the ledger writes: the columns of its `ledger_events` row and what it adds to its
/// case event.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `outcome_id` or `progress_id`.
    pub message_id: String,
    pub kind: Kind,
    pub event_id: String,
    pub case_id: String,
    /// The outcome's status or the progress step.
    pub step: String,
    pub sequence: i64,
    /// `decided_at` of an outcome, `at` of a progress event.
    pub at: DateTime<Utc>,
    pub payer_id: Option<String>,
    pub request_identifier: Option<String>,
    pub payer_reference: Option<String>,
    /// Set for outcomes.
    pub decision: Option<Decision>,
    /// `urgency` of a progress event.
    pub urgency: Option<String>,
    /// Operator replays before this message (from `replays`, or an outcome's sequence).
    pub replays: i32,
    pub body: Value,
}

/// Why a delivery is not an event the ledger writes: a code, never a value from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("not-json")]
    NotJson,
    #[error("unknown-schema")]
    UnknownSchema,
    #[error("not-an-outcome")]
    NotAnOutcome,
    #[error("not-a-progress-event")]
    NotAProgressEvent,
    /// An id empty or too long, or a number out of the database's range.
    #[error("out-of-range")]
    OutOfRange,
    /// A NUL character, which PostgreSQL text and jsonb cannot hold.
    #[error("nul-character")]
    Nul,
}

impl Unreadable {
    pub const ALL: [Unreadable; 6] = [
        Unreadable::NotJson,
        Unreadable::UnknownSchema,
        Unreadable::NotAnOutcome,
        Unreadable::NotAProgressEvent,
        Unreadable::OutOfRange,
        Unreadable::Nul,
    ];

    /// The reason code (what the log line and the metric label say).
    pub fn code(self) -> &'static str {
        match self {
            Unreadable::NotJson => "not-json",
            Unreadable::UnknownSchema => "unknown-schema",
            Unreadable::NotAnOutcome => "not-an-outcome",
            Unreadable::NotAProgressEvent => "not-a-progress-event",
            Unreadable::OutOfRange => "out-of-range",
            Unreadable::Nul => "nul-character",
        }
    }
}

/// Reads one delivery body.
pub fn parse(body: &[u8]) -> Result<Message, Unreadable> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Unreadable::NotJson)?;
    if holds_nul(&value) {
        return Err(Unreadable::Nul);
    }
    match value.get("schema").and_then(Value::as_str) {
        Some(OUTCOME_SCHEMA_V1) => {
            let outcome = Outcome::deserialize(&value).map_err(|_| Unreadable::NotAnOutcome)?;
            from_outcome(outcome, value)
        }
        Some(PROGRESS_SCHEMA_V1) => {
            let progress =
                Progress::deserialize(&value).map_err(|_| Unreadable::NotAProgressEvent)?;
            from_progress(progress, value)
        }
        _ => Err(Unreadable::UnknownSchema),
    }
}

fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn id(text: String) -> Result<String, Unreadable> {
    if text.is_empty() || text.len() > MAX_ID {
        Err(Unreadable::OutOfRange)
    } else {
        Ok(text)
    }
}

/// An optional id or code (payer id, request identifier, payer reference, authorization number,
/// review action, urgency): bounded like an id, so that no value can outgrow an index entry.
fn opt_id(text: Option<String>) -> Result<Option<String>, Unreadable> {
    text.map(id).transpose()
}

fn small(n: u64) -> Result<i32, Unreadable> {
    i32::try_from(n).map_err(|_| Unreadable::OutOfRange)
}

/// Replays encoded in an outcome's sequence (`CaseState::sequence`: replays × 10⁹ + …).
fn replays_of(sequence: u64) -> i32 {
    i32::try_from(sequence / 1_000_000_000).unwrap_or(i32::MAX)
}

fn from_outcome(o: Outcome, body: Value) -> Result<Message, Unreadable> {
    let sequence = i64::try_from(o.sequence).map_err(|_| Unreadable::OutOfRange)?;
    let json = |v: Result<Value, serde_json::Error>| v.map_err(|_| Unreadable::NotAnOutcome);
    let authorization = o.authorization.as_ref();
    let decision = Decision {
        status: o.status.as_str().to_owned(),
        outcome_id: o.outcome_id.clone(),
        review_action: opt_id(o.payer.as_ref().and_then(|p| p.review_action.clone()))?,
        authorization_number: opt_id(authorization.map(|a| a.number.clone()))?,
        valid_from: authorization.and_then(|a| a.valid_from),
        valid_to: authorization.and_then(|a| a.valid_to),
        approved_units: authorization
            .map(|a| small(u64::from(a.approved_units)))
            .transpose()?,
        partial: authorization.map(|a| a.partial),
        patient_responsibility: authorization
            .and_then(|a| a.patient_responsibility.clone())
            .map(|t| t.chars().take(MAX_ID).collect()),
        appeal_deadline: o.appeal.as_ref().map(|a| a.deadline),
        appeal_required: json(serde_json::to_value(
            o.appeal
                .as_ref()
                .map(|a| a.required.clone())
                .unwrap_or_default(),
        ))?,
        findings: json(serde_json::to_value(&o.findings))?,
        reasons: json(serde_json::to_value(&o.reasons))?,
        attempts: small(u64::from(o.attempts))?,
        next_follow_up_at: o.next_follow_up_at,
        decided_at: o.decided_at,
    };
    Ok(Message {
        message_id: id(o.outcome_id)?,
        kind: Kind::Outcome,
        event_id: id(o.event_id)?,
        case_id: id(o.case_id)?,
        step: o.status.as_str().to_owned(),
        sequence,
        at: o.decided_at,
        payer_id: opt_id(o.payer.as_ref().map(|p| p.id.clone()))?,
        request_identifier: opt_id(o.payer.as_ref().map(|p| p.request_identifier.clone()))?,
        payer_reference: opt_id(o.payer.and_then(|p| p.reference))?,
        decision: Some(decision),
        urgency: None,
        replays: replays_of(o.sequence),
        body,
    })
}

fn from_progress(p: Progress, body: Value) -> Result<Message, Unreadable> {
    let sequence = i64::try_from(p.sequence).map_err(|_| Unreadable::OutOfRange)?;
    let step = id(p.step)?;
    if !step.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') || step.len() > 40 {
        return Err(Unreadable::NotAProgressEvent);
    }
    Ok(Message {
        message_id: id(p.progress_id)?,
        kind: Kind::Progress,
        event_id: id(p.event_id)?,
        case_id: id(p.case_id)?,
        step,
        sequence,
        at: p.at,
        payer_id: opt_id(p.payer.as_ref().map(|x| x.id.clone()))?,
        request_identifier: opt_id(p.payer.as_ref().map(|x| x.request_identifier.clone()))?,
        payer_reference: opt_id(p.payer.and_then(|x| x.reference))?,
        decision: None,
        urgency: opt_id(p.urgency)?,
        replays: small(u64::from(p.replays))?,
        body,
    })
}

#[cfg(test)]
mod tests;
