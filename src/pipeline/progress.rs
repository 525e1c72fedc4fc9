//! The progress events of one delivery (`preauth.progress.v1`): `received` on a fresh delivery,
//! `submitted` for each payer call, `retry-scheduled` when the case goes to a delay tier,
//! `parked` when a case with known ids is parked. Ids and codes only. The driver publishes them
//! before the outcomes; `process` ignores them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ParkReason;
use crate::case::{
    identify, CaseEvent, Progress, ProgressOperation, ProgressParked, ProgressPayer, ProgressRetry,
    Step,
};
use crate::payer::Operation;
use crate::retry::{tier_label, CaseState};

/// The reason code of a retry the payer asked for with Retry-After.
pub const RETRY_AFTER_REASON: &str = "payer-retry-after";
/// The reason code of a retry after the payer was unavailable (timeout, connection error, 5xx).
pub const UNAVAILABLE_REASON: &str = "payer-unavailable";
/// The reason code of a retry after the document store did not hand over a photo or the letter
/// (no payer call was made).
pub const STORE_UNAVAILABLE_REASON: &str = "document-store-unavailable";

/// `received`, when the delivery is the case event's first of its attempt series (no payer
/// call, retry or follow-up before it); `None` otherwise.
pub fn received(
    case_id: &str,
    event_id: &str,
    state: &CaseState,
    at: DateTime<Utc>,
) -> Option<Progress> {
    let fresh = state.attempts == 0 && state.retries == 0 && state.followups == 0;
    fresh.then(|| {
        Progress::new(
            Step::Received,
            case_id,
            event_id,
            at,
            state.sequence(),
            state.replays,
            0,
        )
    })
}

/// `submitted`: the `attempt`-th payer call for the case event, sent at `at`.
pub(crate) fn submitted(
    case: &CaseEvent,
    state: &CaseState,
    payer: ProgressPayer,
    operation: Operation,
    attempt: u32,
    at: DateTime<Utc>,
) -> Progress {
    let mut p = Progress::new(
        Step::Submitted,
        &case.case_id,
        &case.event_id,
        at,
        state.sequence(),
        state.replays,
        attempt,
    );
    p.payer = Some(payer);
    p.urgency = Some(case.urgency);
    p.operation = Some(match operation {
        Operation::Submit => ProgressOperation::Submit,
        Operation::Appeal => ProgressOperation::Appeal,
        Operation::Inquire { .. } => ProgressOperation::Inquire,
        Operation::Update => ProgressOperation::Update,
        Operation::Cancel => ProgressOperation::Cancel,
    });
    p.attempt = attempt;
    p
}

/// What a `retry-scheduled` event says of the wait.
pub(crate) struct Wait {
    /// The wait chosen (a configured delay tier).
    pub after: Duration,
    /// Whether the payer asked for a wait (Retry-After).
    pub asked: bool,
    /// Whether it was the document store, not the payer, that did not answer.
    pub store: bool,
    /// Delay tiers used, this one included.
    pub retries: u32,
}

/// `retry-scheduled`: the case goes to the delay tier of `wait.after`.
pub(crate) fn retry_scheduled(
    case: &CaseEvent,
    state: &CaseState,
    payer: ProgressPayer,
    attempts: u32,
    wait: Wait,
    at: DateTime<Utc>,
) -> Progress {
    let mut p = Progress::new(
        Step::RetryScheduled,
        &case.case_id,
        &case.event_id,
        at,
        state.sequence(),
        state.replays,
        wait.retries,
    );
    p.payer = Some(payer);
    p.attempt = attempts;
    let retry_at = chrono::Duration::from_std(wait.after)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(at);
    p.retry = Some(ProgressRetry {
        tier: tier_label(wait.after),
        reason: if wait.store {
            STORE_UNAVAILABLE_REASON
        } else if wait.asked {
            RETRY_AFTER_REASON
        } else {
            UNAVAILABLE_REASON
        }
        .to_owned(),
        retry_at,
    });
    p
}

/// `parked`: the case event goes to the parking queue for `reason`. `state` is the state the
/// delivery arrived with (its sequence and replay count); `attempts` the payer calls made.
pub fn parked(
    case_id: &str,
    event_id: &str,
    state: &CaseState,
    attempts: u32,
    reason: ParkReason,
    payer: Option<ProgressPayer>,
    at: DateTime<Utc>,
) -> Progress {
    let mut p = Progress::new(
        Step::Parked,
        case_id,
        event_id,
        at,
        state.sequence(),
        state.replays,
        0,
    );
    p.payer = payer;
    p.attempt = attempts;
    p.parked = Some(ProgressParked {
        reason: reason.code().to_owned(),
    });
    p
}

/// `parked` for a message the driver parks itself (delivered too often, or its handler
/// panicked): when the body identifies a case event, its ids from the body; else nothing.
pub fn parked_message(
    body: &[u8],
    state: &CaseState,
    reason: ParkReason,
    at: DateTime<Utc>,
) -> Option<Progress> {
    let id = identify(body).ok()?;
    Some(parked(
        &id.case_id,
        &id.event_id,
        state,
        state.attempts,
        reason,
        None,
        at,
    ))
}

/// `replayed`: an operator sent the parked case event back; `replays` is the new count.
pub fn replayed(case_id: &str, event_id: &str, replays: u32, at: DateTime<Utc>) -> Progress {
    let state = CaseState {
        replays,
        ..CaseState::default()
    };
    Progress::new(
        Step::Replayed,
        case_id,
        event_id,
        at,
        state.sequence(),
        replays,
        0,
    )
}
