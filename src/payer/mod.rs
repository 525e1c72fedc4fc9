//! The payer boundary: the trait every adapter implements, the decision it returns, and the one
//! place where payer errors are classified (transient, refused).

pub mod attachments;
pub mod pas;
pub mod sim;

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::case::{CaseEvent, Reason};
use crate::rules::Policy;

/// What the worker asks the payer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A new request (`case.submitted`).
    Submit,
    /// An appeal of a denial (`case.appeal`), a new request carrying the appeal packet.
    Appeal,
    /// A follow-up of a pended request (`$inquire`), the n-th one.
    Inquire { round: u32 },
    /// A change to a request already submitted (`case.updated`): a PAS Claim Update naming the
    /// original request ([`PayerRequest::original`]).
    Update,
    /// The cancellation of a request already submitted (`case.cancelled`): a PAS Claim Update
    /// that cancels every line of the original request.
    Cancel,
}

impl Operation {
    /// A short code for traces: `submit`, `appeal` or `inquire`.
    pub fn code(self) -> &'static str {
        match self {
            Operation::Submit => "submit",
            Operation::Appeal => "appeal",
            Operation::Inquire { .. } => "inquire",
            Operation::Update => "update",
            Operation::Cancel => "cancel",
        }
    }
}

/// One request to a payer.
#[derive(Clone, Copy)]
pub struct PayerRequest<'a> {
    pub case: &'a CaseEvent,
    pub policy: &'a Policy,
    /// Deterministic Claim.identifier: the same case event is always the same request.
    pub request_identifier: &'a str,
    pub operation: Operation,
    /// The payer's reference from an earlier pended answer, for follow-ups.
    pub reference: Option<&'a str>,
    /// Which submission attempt this is for the event (1 for the first).
    pub attempt: u32,
    /// The photos and the letter, fetched and checked: sent inline. `None` when they were not
    /// fetched (a follow-up, which repeats no documents, or fetching switched off): the
    /// documents then go as their URIs.
    pub documents: Option<&'a attachments::Documents>,
    /// The earlier request this one refers to: the request an update or a cancellation
    /// changes, or the denied request an appeal contests. `None` for a first submission.
    pub original: Option<OriginalRequest<'a>>,
    /// How the adapter waits inside this request (the simulator's latency): the pipeline's own
    /// sleeper, so a simulated clock reaches it.
    pub sleeper: &'a crate::retry::Sleeper,
}

/// The request an update, a cancellation or an appeal refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginalRequest<'a> {
    /// The worker's identifier of the original request (its `Claim.identifier`).
    pub request_identifier: &'a str,
    /// The payer's reference for it (PAS `administrationReferenceNumber`, X12 REF-NT).
    pub payer_reference: &'a str,
}

impl std::fmt::Debug for PayerRequest<'_> {
    /// Ids, the operation and the policy's name: the case itself (patient data) is left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayerRequest")
            .field("case_id", &self.case.case_id)
            .field("event_id", &self.case.event_id)
            .field("kind", &self.case.kind)
            .field("policy", &self.policy.name)
            .field("request_identifier", &self.request_identifier)
            .field("operation", &self.operation)
            .field("reference", &self.reference)
            .field("attempt", &self.attempt)
            .field("documents", &self.documents.map(|d| d.total_bytes()))
            .field("original", &self.original)
            .finish_non_exhaustive()
    }
}

/// The X12 306 review action, per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    /// A1: certified in total.
    Certified,
    /// A2: certified in part.
    Partial,
    /// A3: not certified.
    NotCertified,
    /// A4: pended.
    Pended,
    /// A6: modified.
    Modified,
    /// C: cancelled.
    Cancelled,
    /// CT: contact the payer.
    ContactPayer,
    /// NA: no action required (no pre-authorization needed).
    NoActionRequired,
}

impl ReviewAction {
    pub fn code(self) -> &'static str {
        match self {
            ReviewAction::Certified => "A1",
            ReviewAction::Partial => "A2",
            ReviewAction::NotCertified => "A3",
            ReviewAction::Pended => "A4",
            ReviewAction::Modified => "A6",
            ReviewAction::Cancelled => "C",
            ReviewAction::ContactPayer => "CT",
            ReviewAction::NoActionRequired => "NA",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "A1" => ReviewAction::Certified,
            "A2" => ReviewAction::Partial,
            "A3" => ReviewAction::NotCertified,
            "A4" => ReviewAction::Pended,
            "A6" => ReviewAction::Modified,
            "C" => ReviewAction::Cancelled,
            "CT" => ReviewAction::ContactPayer,
            "NA" => ReviewAction::NoActionRequired,
            _ => return None,
        })
    }

    /// Certified in some form (A1, A2, A6).
    pub(crate) fn certifies(self) -> bool {
        matches!(
            self,
            ReviewAction::Certified | ReviewAction::Partial | ReviewAction::Modified
        )
    }
}

/// The payer's answer for one requested service line.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemDecision {
    /// 1-based, in the order of `service.procedures`.
    pub sequence: u32,
    pub action: ReviewAction,
    pub approved_units: u32,
    pub reasons: Vec<Reason>,
    /// What the payer says it authorized for this line, when it says more than the action and
    /// the units (PAS `addItem`, `itemAuthorizedDetail`, `authorizedProvider` and the item's
    /// authorization extensions). `None` when it says nothing more.
    pub authorized: Option<AuthorizedItem>,
}

/// What a payer authorized for one requested line, as it stated it: ids, codes, counts and
/// dates only. On a modification (A6) the code, modifiers or units may differ from the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizedItem {
    /// The authorized service code and its system (CPT, HCPCS, or X12 1365 service type).
    pub code: Option<String>,
    pub system: Option<String>,
    pub modifiers: Vec<String>,
    /// The authorized quantity, when stated.
    pub units: Option<u32>,
    /// The NPI of the provider the payer authorized to perform the line.
    pub provider_npi: Option<String>,
    /// The line's own authorization number (reviewAction `number` or `authorizationNumber`).
    pub authorization_number: Option<String>,
    /// The day the line's authorization was issued.
    pub issued_on: Option<NaiveDate>,
    /// The line's authorization period.
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// The payer's trace number for the line (X12 2000F TRN).
    pub trace_number: Option<String>,
}

/// A payer's answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct PayerResponse {
    /// The payer's reference for the request (pre-authorization reference).
    pub reference: Option<String>,
    pub items: Vec<ItemDecision>,
    /// The certification number, when something was certified.
    pub authorization_number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// Reasons and notes for the whole request.
    pub reasons: Vec<Reason>,
    /// The day the payer decided (appeal deadlines run from it).
    pub decided_on: NaiveDate,
    /// The payer asks for more information before it decides (a PAS CommunicationRequest or
    /// Task on a pended answer): what it wants, and by when.
    pub information_request: Option<InformationRequest>,
}

/// A payer's request for more information (documentation) on a pended request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InformationRequest {
    /// What is asked for, each as a code (X12 PWK01 report type, LOINC document type, or the
    /// payer's own) with its system and the payer's words.
    pub items: Vec<Reason>,
    /// The last day the payer accepts the information, when it gave one.
    pub due: Option<NaiveDate>,
}

/// The request as a whole, read from the item actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overall {
    /// Everything certified as asked.
    Certified,
    /// Some lines certified, others not, or certified with changes.
    PartlyCertified,
    NotCertified,
    Pended,
    /// Cancelled, or the payer asks to be contacted: no decision a machine can act on.
    NoDecision,
}

impl PayerResponse {
    /// Pended wins (the payer is still working); then any certification; then a denial.
    pub fn overall(&self) -> Overall {
        let any = |f: fn(ReviewAction) -> bool| self.items.iter().any(|i| f(i.action));
        let all = |f: fn(ReviewAction) -> bool| self.items.iter().all(|i| f(i.action));
        if self.items.is_empty() {
            return Overall::NoDecision;
        }
        if any(|a| a == ReviewAction::Pended) {
            Overall::Pended
        } else if all(|a| a == ReviewAction::Certified || a == ReviewAction::NoActionRequired) {
            Overall::Certified
        } else if any(ReviewAction::certifies) {
            Overall::PartlyCertified
        } else if all(|a| a == ReviewAction::NotCertified) {
            Overall::NotCertified
        } else {
            Overall::NoDecision
        }
    }

    /// The most telling review action for the outcome's `payer.review_action`.
    pub fn summary_action(&self) -> Option<ReviewAction> {
        let has = |a| self.items.iter().any(|i| i.action == a);
        match self.overall() {
            Overall::Pended => Some(ReviewAction::Pended),
            Overall::Certified => self.items.first().map(|i| i.action),
            Overall::PartlyCertified if has(ReviewAction::Modified) => Some(ReviewAction::Modified),
            Overall::PartlyCertified => Some(ReviewAction::Partial),
            Overall::NotCertified => Some(ReviewAction::NotCertified),
            Overall::NoDecision => self.items.first().map(|i| i.action),
        }
    }
}

/// Why a payer call did not produce an answer. Classified here, once.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayerError {
    /// Worth trying again: a timeout, a connection error, 408, 429, a 5xx other than 501.
    #[error("payer temporarily unavailable: {detail}")]
    Transient {
        /// The payer's Retry-After, when it gave one (already capped).
        retry_after: Option<Duration>,
        detail: String,
    },
    /// The payer refused the request as it is: resending it cannot help.
    #[error("payer refused the request: {detail}")]
    Refused {
        detail: String,
        reasons: Vec<Reason>,
    },
}

impl PayerError {
    pub fn is_transient(&self) -> bool {
        matches!(self, PayerError::Transient { .. })
    }
}

/// How a pended request is followed up (see [`Payer::pended_follow_up`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendedFollowUp {
    /// Ask the payer (`$inquire`) after each wait of `followup.pended`: the payer sends no
    /// notifications, or its subscription is not active.
    Poll,
    /// Wait for the payer's notification; ask unprompted only after `safety_after` (the safety
    /// net against a lost notification), at most `max_followups` times in all.
    AwaitNotification {
        safety_after: Duration,
        max_followups: u32,
    },
}

/// A payer adapter.
#[async_trait]
pub trait Payer: Send + Sync {
    /// Submits a request (new or appeal) or follows up a pended one.
    async fn send(&self, request: PayerRequest<'_>) -> Result<PayerResponse, PayerError>;

    /// A short name for logs and metrics (`simulated`, `fhir-pas`).
    fn adapter(&self) -> &'static str;

    /// True when this payer sends notifications the worker verifies (a PAS payer configured
    /// with `notification_credential_file`): its pended requests wait where a notification can
    /// find them.
    fn notifies(&self) -> bool {
        false
    }

    /// How this payer's pended requests are followed up now: polled on `followup.pended`, or
    /// left to wait for the payer's notification (an active PAS subscription) with a bounded
    /// safety net of inquiries.
    fn pended_follow_up(&self) -> PendedFollowUp {
        PendedFollowUp::Poll
    }

    /// The reason codes this adapter names (a bounded set, for metrics): a code it passes on
    /// from the payer without knowing it is counted as `other`. The worker's own codes
    /// ([`crate::case::WorkerReason`]) are counted for every payer and need not be listed.
    fn reason_codes(&self) -> Vec<&'static str> {
        Vec::new()
    }
}
