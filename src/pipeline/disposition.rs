//! What the pipeline decides for one delivery, for the driver to carry out: the outcomes to
//! publish, then ack, wait (retry or follow-up) or park with a reason.

use std::time::Duration;

use crate::case::{Outcome, Progress, Unreadable};
use crate::retry::CaseState;

/// What the driver does after publishing the disposition's outcomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Done with this delivery: ack it.
    Ack,
    /// A transient payer failure: try again after the wait, with this state.
    Retry { after: Duration, state: CaseState },
    /// The payer pended the request: ask again after the wait, with this state. `awaiting` is
    /// the request identifier when the payer sends notifications: the copy then waits in that
    /// request's own queue, from which a verified notification can bring it back sooner.
    FollowUp {
        after: Duration,
        state: CaseState,
        awaiting: Option<String>,
    },
    /// Move the message, untouched, to the parking queue with the reason (and the case state,
    /// when the case got that far).
    Park {
        reason: ParkReason,
        detail: String,
        state: Option<CaseState>,
    },
}

impl Next {
    /// What the driver does next, as a code: `ack`, `retry`, `follow-up` or `park`.
    pub fn code(&self) -> &'static str {
        match self {
            Next::Ack => "ack",
            Next::Retry { .. } => "retry",
            Next::FollowUp { .. } => "follow-up",
            Next::Park { .. } => "park",
        }
    }
}

/// The pipeline's verdict on one delivery.
#[derive(Debug, Clone)]
pub struct Disposition {
    /// Progress events to publish (confirmed; no case waits for a queue to get them) before
    /// the outcomes, in the order the steps happened.
    pub progress: Vec<Progress>,
    /// Outcomes to publish (confirmed) before `next`; a terminal one is always last.
    pub outcomes: Vec<Outcome>,
    pub next: Next,
    /// `(case_id, event_id)` when the message could be identified.
    pub ids: Option<(String, String)>,
    /// The configured payer id the case was routed to (`default` for the fallback), when it was
    /// routed: the outcomes' `payer` metric label.
    pub payer: Option<String>,
}

impl Disposition {
    /// These outcomes, then `next`; no progress, ids or payer yet.
    pub fn new(outcomes: Vec<Outcome>, next: Next) -> Self {
        Self {
            progress: Vec::new(),
            outcomes,
            next,
            ids: None,
            payer: None,
        }
    }
}

/// Why a message cannot be answered and goes to the parking queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkReason {
    /// Not a JSON object with usable ids: nobody to address an outcome to.
    Unreadable(Unreadable),
    TooLarge,
    RetriesExhausted,
    DeliveryLimit,
    HandlerPanic,
}

impl ParkReason {
    /// Every reason the worker parks for.
    pub const ALL: [ParkReason; 8] = [
        ParkReason::Unreadable(Unreadable::NotJson),
        ParkReason::Unreadable(Unreadable::NotAnObject),
        ParkReason::Unreadable(Unreadable::NoEventId),
        ParkReason::Unreadable(Unreadable::NoCaseId),
        ParkReason::TooLarge,
        ParkReason::RetriesExhausted,
        ParkReason::DeliveryLimit,
        ParkReason::HandlerPanic,
    ];

    /// The short code carried in the `x-preauth-reason` header.
    pub fn code(self) -> &'static str {
        match self {
            ParkReason::Unreadable(u) => u.code(),
            ParkReason::TooLarge => "too-large",
            ParkReason::RetriesExhausted => "retries-exhausted",
            ParkReason::DeliveryLimit => "delivery-limit",
            ParkReason::HandlerPanic => "handler-panic",
        }
    }
}
