//! The one path every case takes: identify → decode → validate → submit to the payer → decide.
//! It returns a disposition (publish these outcomes, then ack / retry after D / follow up after D
//! / park) and knows nothing of the broker or HTTP. Every driver uses it: `run`, `process`, tests.

mod decide;
mod disposition;
mod documents;
mod pended;
pub mod progress;

pub use disposition::{Disposition, Next, ParkReason};

use std::collections::HashMap;
use std::sync::Arc;

use crate::case::{
    decode, identify, AppealRoute, Authorization, CaseEvent, Finding, Kind, Outcome, PayerRef,
    ProgressPayer, Reason, Status, Urgency, WorkerReason, OUTCOME_SCHEMA_V1,
};
use crate::codes::CodeTable;
use crate::ids::{outcome_id, replayed_outcome_id, request_identifier};
use crate::payer::attachments::{Attachments, Problem};
use crate::payer::{
    Operation, OriginalRequest, Overall, Payer, PayerError, PayerRequest, PayerResponse,
};
use crate::retry::{CaseState, InProcessRetry, Schedule, Sleeper};
use crate::rules::{documents_necessity, has_errors, validate, Policy};
use chrono::{DateTime, Duration as Days, Utc};
use tracing::field::Empty;
use tracing::{debug, info, warn, Instrument};

/// A configured payer: its adapter and its policy.
#[derive(Clone)]
pub struct PayerRoute {
    /// The configured payer id (`default` for the fallback): a bounded metric label.
    pub name: String,
    pub payer: Arc<dyn Payer>,
    pub policy: Arc<Policy>,
    /// The reason codes the payer's adapter names ([`Payer::reason_codes`]), read once.
    pub reason_codes: Vec<&'static str>,
}

impl PayerRoute {
    pub fn new(name: impl Into<String>, payer: Arc<dyn Payer>, policy: Arc<Policy>) -> Self {
        let reason_codes = payer.reason_codes();
        Self {
            name: name.into(),
            payer,
            policy,
            reason_codes,
        }
    }
}

/// Payer ids to routes, with the optional `default` route for ids not listed.
#[derive(Clone, Default)]
pub struct PayerDirectory {
    routes: HashMap<String, PayerRoute>,
    default: Option<PayerRoute>,
}

impl PayerDirectory {
    pub fn new(routes: HashMap<String, PayerRoute>, default: Option<PayerRoute>) -> Self {
        Self { routes, default }
    }

    pub(crate) fn route(&self, payer_id: &str) -> Option<&PayerRoute> {
        self.routes.get(payer_id).or(self.default.as_ref())
    }

    /// Every configured payer, the fallback included.
    pub fn routes(&self) -> impl Iterator<Item = &PayerRoute> {
        self.routes.values().chain(self.default.as_ref())
    }

    /// The `code` metric label of a reason on an outcome for the payer configured as `name`: the
    /// code itself when the worker or that payer's adapter names it, else `other` (a payer's
    /// codes are not a bounded set).
    pub fn reason_label(&self, name: &str, code: &str) -> &'static str {
        let named = self
            .routes
            .get(name)
            .or(self.default.as_ref().filter(|d| d.name == name))
            .map(|r| r.reason_codes.as_slice())
            .unwrap_or_default();
        reason_labels(named)
            .find(|known| *known == code)
            .unwrap_or(OTHER_REASON)
    }
}

/// The `code` label of a reason no adapter names.
pub const OTHER_REASON: &str = "other";

/// Every `code` label a payer whose adapter names `adapter_codes` can have: the worker's own
/// codes, the adapter's, and `other`.
pub fn reason_labels<'a>(
    adapter_codes: &'a [&'static str],
) -> impl Iterator<Item = &'static str> + 'a {
    WorkerReason::ALL
        .iter()
        .map(|r| r.code())
        .chain(adapter_codes.iter().copied())
        .chain([OTHER_REASON])
}

/// How a payer call ended (`preauth_payer_requests_total`'s `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    Answered,
    Transient,
    Refused,
}

impl CallResult {
    pub const ALL: [CallResult; 3] = [
        CallResult::Answered,
        CallResult::Transient,
        CallResult::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Answered => "answered",
            CallResult::Transient => "transient",
            CallResult::Refused => "refused",
        }
    }
}

/// Returns the time outcomes are stamped with (`decided_at`). Validation never reads it.
pub(crate) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Everything the pipeline needs, built once at start-up.
#[derive(Clone)]
pub struct Pipeline {
    pub codes: Arc<CodeTable>,
    pub payers: PayerDirectory,
    pub retry: Schedule,
    pub followup: Schedule,
    pub in_process: InProcessRetry,
    pub max_message_bytes: usize,
    /// The document stores the photos and letters are fetched from; `None` sends their URIs
    /// (fetching switched off, as `check --no-fetch` and `process --no-fetch` do).
    pub attachments: Option<Arc<Attachments>>,
    pub clock: Clock,
    /// How waits inside one delivery are waited: real time, except under `process`'s
    /// simulated clock.
    pub sleeper: Sleeper,
}

impl Pipeline {
    /// Handles one delivery: `routing_key` is the AMQP routing key when there is one, `state`
    /// what earlier deliveries of this event left in its headers.
    pub async fn handle(
        &self,
        body: &[u8],
        routing_key: Option<&str>,
        state: &CaseState,
    ) -> Disposition {
        // Ids and codes only: the payer is the configured route, never the id a case carries.
        let span = tracing::info_span!(
            "decide",
            case_id = Empty,
            event_id = Empty,
            payer = Empty,
            findings = Empty,
            rules = Empty,
            outcome_status = Empty,
            next = Empty,
            park_reason = Empty,
        );
        let received_at = (self.clock)();
        let mut d = self
            .dispose(body, routing_key, state)
            .instrument(span.clone())
            .await;
        record_decision(&span, &d);
        if let Some((case_id, event_id)) = &d.ids {
            if let Some(p) = progress::received(case_id, event_id, state, received_at) {
                d.progress.insert(0, p);
            }
        }
        // Every outcome of this delivery ranks by the state it arrived with (never by what the
        // delivery itself did), so a redelivery of the same message outranks it.
        for o in &mut d.outcomes {
            o.sequence = state.sequence();
            o.outcome_id = replayed_outcome_id(&o.outcome_id, state.replays);
        }
        d
    }

    async fn dispose(
        &self,
        body: &[u8],
        routing_key: Option<&str>,
        state: &CaseState,
    ) -> Disposition {
        if body.len() > self.max_message_bytes {
            return park(
                None,
                ParkReason::TooLarge,
                format!(
                    "body is {} bytes; the limit is {}",
                    body.len(),
                    self.max_message_bytes
                ),
            );
        }
        let id = match identify(body) {
            Ok(id) => id,
            Err(u) => return park(None, ParkReason::Unreadable(u.reason), u.detail),
        };
        let ids = Some((id.case_id.clone(), id.event_id.clone()));
        let case = match decode(&id, routing_key) {
            Ok(case) => case,
            Err(findings) => {
                count_findings(&findings);
                debug!(case_id = %id.case_id, event_id = %id.event_id, findings = findings.len(), "Case rejected: it does not decode.");
                return self.rejected(&id.case_id, &id.event_id, state, findings, ids);
            }
        };
        let Some(route) = self.payers.route(&case.coverage.payer_id) else {
            // The payer id matched no configured payer: an unchecked input value, so neither the
            // log line nor the reason repeats it (the case and event ids find the case).
            warn!(case_id = %case.case_id, event_id = %case.event_id, "Payer is not configured.");
            let reasons = vec![Reason::worker(
                WorkerReason::PayerNotConfigured,
                "the case's coverage.payer_id names no configured payer and there is no default payer",
            )];
            let o = self.outcome(
                &case.case_id,
                &case.event_id,
                Status::Failed,
                0,
                state.attempts,
                None,
                reasons,
                vec![],
            );
            return Disposition {
                ids,
                ..Disposition::new(vec![o], Next::Ack)
            };
        };
        tracing::Span::current().record("payer", route.name.as_str());
        let findings = validate(&case, &route.policy, &self.codes);
        count_findings(&findings);
        let mut disposition = if has_errors(&findings) {
            debug!(case_id = %case.case_id, event_id = %case.event_id, findings = findings.len(), "Case rejected by validation.");
            self.rejected(&case.case_id, &case.event_id, state, findings, ids)
        } else {
            let mut disposition = self.submit(&case, route, state, findings).await;
            disposition.ids = ids;
            disposition
        };
        disposition.payer = Some(route.name.clone());
        disposition
    }

    async fn submit(
        &self,
        case: &CaseEvent,
        route: &PayerRoute,
        state: &CaseState,
        findings: Vec<Finding>,
    ) -> Disposition {
        let request_id = request_identifier(&case.case_id, &case.event_id, case.kind.operation());
        let operation = match (&state.reference, state.followups, case.kind) {
            (Some(_), n, _) if n > 0 => Operation::Inquire { round: n },
            (_, _, Kind::Submission) => Operation::Submit,
            (_, _, Kind::Appeal) => Operation::Appeal,
            (_, _, Kind::Update) => Operation::Update,
            (_, _, Kind::Cancel) => Operation::Cancel,
        };
        // A follow-up asks about this event's own request; the first send names the one it
        // refers to.
        let original = match operation {
            Operation::Inquire { .. } => None,
            _ => original_request(case),
        };
        let mut findings = findings;
        let documents = match self.documents(case, operation, state).await {
            Ok(documents) => Ok(documents),
            Err(Problem::Rejected(mut problems)) => {
                debug!(case_id = %case.case_id, event_id = %case.event_id, findings = problems.len(), "Case rejected: its documents cannot be sent.");
                count_findings(&problems);
                findings.append(&mut problems);
                return self.rejected(&case.case_id, &case.event_id, state, findings, None);
            }
            Err(Problem::Unavailable(detail)) => Err(detail),
        };
        let mut attempts = state.attempts;
        let first_attempt_at = state
            .first_attempt_at
            .unwrap_or_else(|| (self.clock)().timestamp());
        // The hashes of what the first submission sent ride along with every resend.
        let digest = documents
            .as_ref()
            .ok()
            .and_then(|d| d.as_ref())
            .map(|d| d.digest());
        let state = &CaseState {
            first_attempt_at: Some(first_attempt_at),
            documents: digest
                .filter(|d| !d.is_empty())
                .or_else(|| state.documents.clone()),
            ..state.clone()
        };
        let mut waits = self.in_process.waits();
        let progress_payer = || ProgressPayer {
            id: case.coverage.payer_id.clone(),
            request_identifier: request_id.clone(),
            reference: state.reference.clone(),
        };
        let mut sent = Vec::new();
        let store_down = documents.as_ref().err().cloned();
        let result = match &documents {
            // No payer call: the documents could not be had yet.
            Err(detail) => Err(PayerError::Transient {
                retry_after: None,
                detail: detail.clone(),
            }),
            Ok(documents) => loop {
                attempts += 1;
                let at = (self.clock)();
                sent.push(progress::submitted(
                    case,
                    state,
                    progress_payer(),
                    operation,
                    attempts,
                    at,
                ));
                let request = PayerRequest {
                    case,
                    policy: &route.policy,
                    request_identifier: &request_id,
                    operation,
                    reference: state.reference.as_deref(),
                    attempt: attempts,
                    documents: documents.as_ref(),
                    original: original.as_ref().map(|(id, reference)| OriginalRequest {
                        request_identifier: id,
                        payer_reference: reference,
                    }),
                    sleeper: &self.sleeper,
                };
                let span = tracing::info_span!(
                    "payer call",
                    payer = %route.name,
                    adapter = route.payer.adapter(),
                    operation = operation.code(),
                    request_id = %request_id,
                    attempt = attempts,
                    result = Empty,
                    otel.status_code = Empty,
                );
                let started = std::time::Instant::now();
                let result = route.payer.send(request).instrument(span.clone()).await;
                let label = match &result {
                    Ok(_) => CallResult::Answered,
                    Err(PayerError::Transient { .. }) => CallResult::Transient,
                    Err(PayerError::Refused { .. }) => CallResult::Refused,
                };
                span.record("result", label.as_str());
                if result.is_err() {
                    span.record("otel.status_code", "error");
                }
                metrics::counter!("preauth_payer_requests_total", "payer" => route.name.clone(), "result" => label.as_str()).increment(1);
                metrics::histogram!("preauth_payer_request_duration_seconds", "payer" => route.name.clone())
                .record(started.elapsed().as_secs_f64());
                match &result {
                    Err(PayerError::Transient {
                        retry_after,
                        detail,
                    }) => {
                        let wait = match waits.next() {
                            Some(w)
                                if retry_after
                                    .is_none_or(|ra| ra <= self.in_process.max_retry_after) =>
                            {
                                w.max(retry_after.unwrap_or_default())
                            }
                            _ => break result,
                        };
                        debug!(case_id = %case.case_id, event_id = %case.event_id, attempt = attempts, wait_ms = wait.as_millis() as u64, %detail, "Payer call failed transiently; retrying in process.");
                        self.sleeper.sleep(wait).await;
                    }
                    _ => break result,
                }
            },
        };

        let payer_ref = |reference: Option<String>, action: Option<&str>| PayerRef {
            id: case.coverage.payer_id.clone(),
            request_identifier: request_id.clone(),
            reference,
            review_action: action.map(str::to_owned),
        };
        let mut d = match result {
            Err(PayerError::Transient {
                retry_after,
                detail,
            }) => {
                let next_state = CaseState {
                    attempts,
                    retries: state.retries + 1,
                    ..state.clone()
                };
                match self.retry.next(state.retries, retry_after) {
                    Some(after) => {
                        if store_down.is_some() {
                            // The detail names the source and the status, never the key.
                            warn!(case_id = %case.case_id, event_id = %case.event_id, wait_s = after.as_secs(), %detail, "Document store unavailable; case goes to a delay tier.");
                        } else {
                            info!(case_id = %case.case_id, event_id = %case.event_id, attempt = attempts, wait_s = after.as_secs(), "Payer unavailable; case goes to a delay tier.");
                        }
                        let wait = progress::Wait {
                            after,
                            asked: retry_after.is_some(),
                            store: store_down.is_some(),
                            retries: next_state.retries,
                        };
                        let at = (self.clock)();
                        sent.push(progress::retry_scheduled(
                            case,
                            state,
                            progress_payer(),
                            attempts,
                            wait,
                            at,
                        ));
                        let next = Next::Retry {
                            after,
                            state: next_state,
                        };
                        Disposition::new(vec![], next)
                    }
                    None => {
                        warn!(case_id = %case.case_id, event_id = %case.event_id, attempts, "Payer retries exhausted; the case failed.");
                        let text = match &store_down {
                            Some(_) => format!("the document store stayed unavailable through {} delay tiers: {detail}", next_state.retries.saturating_sub(1)),
                            None => format!("the payer stayed unavailable through {attempts} attempts: {detail}"),
                        };
                        let reasons = vec![Reason::worker(WorkerReason::RetriesExhausted, text)];
                        let (reason, at) = (ParkReason::RetriesExhausted, (self.clock)());
                        let (id, ev) = (&case.case_id, &case.event_id);
                        let payer = Some(progress_payer());
                        sent.push(progress::parked(id, ev, state, attempts, reason, payer, at));
                        let failed = self.failed(
                            id,
                            ev,
                            attempts,
                            Some(payer_ref(state.reference.clone(), None)),
                            reasons,
                            findings,
                        );
                        let detail = match &store_down {
                            Some(_) => "document store unavailable".to_owned(),
                            None => format!("payer unavailable after {attempts} attempts"),
                        };
                        let state = Some(next_state);
                        let next = Next::Park {
                            reason,
                            detail,
                            state,
                        };
                        Disposition::new(vec![failed], next)
                    }
                }
            }
            Err(PayerError::Refused {
                detail,
                mut reasons,
            }) => {
                warn!(case_id = %case.case_id, event_id = %case.event_id, attempts, "Payer refused the request.");
                if reasons.is_empty() {
                    reasons.push(Reason::worker(WorkerReason::PayerRefused, detail));
                }
                let payer = Some(payer_ref(state.reference.clone(), None));
                let (id, ev) = (&case.case_id, &case.event_id);
                let failed = self.failed(id, ev, attempts, payer, reasons, findings);
                Disposition::new(vec![failed], Next::Ack)
            }
            Ok(response) => {
                self.decide(case, route, state, attempts, findings, response, payer_ref)
            }
        };
        // The calls come first: a retry or a park is what followed them.
        sent.append(&mut d.progress);
        d.progress = sent;
        d
    }

    /// A `failed` outcome: the payer never answered (unavailable throughout, refused the
    /// request), never decided (follow-ups exhausted, regulatory deadline passed), or answered
    /// without a decision. `reasons` say which.
    fn failed(
        &self,
        case_id: &str,
        event_id: &str,
        attempts: u32,
        payer: Option<PayerRef>,
        reasons: Vec<Reason>,
        findings: Vec<Finding>,
    ) -> Outcome {
        self.outcome(
            case_id,
            event_id,
            Status::Failed,
            0,
            attempts,
            payer,
            reasons,
            findings,
        )
    }

    /// A `rejected` outcome carrying `findings`, then ack.
    fn rejected(
        &self,
        case_id: &str,
        event_id: &str,
        state: &CaseState,
        findings: Vec<Finding>,
        ids: Option<(String, String)>,
    ) -> Disposition {
        let o = self.outcome(
            case_id,
            event_id,
            Status::Rejected,
            0,
            state.attempts,
            None,
            vec![],
            findings,
        );
        Disposition {
            ids,
            ..Disposition::new(vec![o], Next::Ack)
        }
    }

    /// The `approved` outcome for a certification (in full, or in part: A2/A6 or some lines).
    #[allow(clippy::too_many_arguments)]
    pub fn approved(
        &self,
        case_id: &str,
        event_id: &str,
        attempts: u32,
        payer: Option<PayerRef>,
        response: &PayerResponse,
        reasons: Vec<Reason>,
        findings: Vec<Finding>,
    ) -> Outcome {
        let partial = response.overall() == Overall::PartlyCertified;
        let approved_units = response
            .items
            .iter()
            .filter(|i| i.action.certifies())
            .map(|i| i.approved_units)
            .sum();
        let mut o = self.outcome(
            case_id,
            event_id,
            Status::Approved,
            0,
            attempts,
            payer,
            if partial { reasons } else { vec![] },
            findings,
        );
        o.authorization = Some(Authorization {
            number: response
                .authorization_number
                .clone()
                .or(response.reference.clone())
                .unwrap_or_else(|| "not-required".to_owned()),
            valid_from: response.valid_from,
            valid_to: response.valid_to,
            approved_units,
            patient_responsibility: Some("deductible and copay still apply".to_owned()),
            partial,
            lines: response.items.iter().map(authorized_line).collect(),
        });
        o
    }

    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        case_id: &str,
        event_id: &str,
        status: Status,
        seq: u32,
        attempts: u32,
        payer: Option<PayerRef>,
        reasons: Vec<Reason>,
        findings: Vec<Finding>,
    ) -> Outcome {
        Outcome {
            schema: OUTCOME_SCHEMA_V1.to_owned(),
            outcome_id: outcome_id(case_id, event_id, status.as_str(), seq),
            event_id: event_id.to_owned(),
            case_id: case_id.to_owned(),
            status,
            decided_at: (self.clock)(),
            payer,
            authorization: None,
            reasons,
            findings,
            appeal: None,
            attempts,
            sequence: 0,
            next_follow_up_at: None,
            information_request: None,
        }
    }
}

/// What the delivery came to, on its `decide` span: ids, rule ids and status codes.
fn record_decision(span: &tracing::Span, d: &Disposition) {
    if span.is_disabled() {
        return;
    }
    if let Some((case_id, event_id)) = &d.ids {
        span.record("case_id", case_id.as_str());
        span.record("event_id", event_id.as_str());
    }
    let mut rules: Vec<&str> = d
        .outcomes
        .iter()
        .flat_map(|o| o.findings.iter().map(|f| f.rule.as_str()))
        .collect();
    rules.sort_unstable();
    rules.dedup();
    if !rules.is_empty() {
        span.record("rules", rules.join(",").as_str());
    }
    let findings: usize = d.outcomes.iter().map(|o| o.findings.len()).sum();
    span.record("findings", findings);
    let statuses: Vec<&str> = d.outcomes.iter().map(|o| o.status.as_str()).collect();
    if !statuses.is_empty() {
        span.record("outcome_status", statuses.join(",").as_str());
    }
    span.record("next", d.next.code());
    if let Next::Park { reason, .. } = &d.next {
        span.record("park_reason", reason.code());
    }
}

fn count_findings(findings: &[Finding]) {
    for f in findings {
        let severity = if f.is_error() { "error" } else { "warning" };
        metrics::counter!("preauth_findings_total", "rule" => f.rule.clone(), "severity" => severity).increment(1);
    }
}

/// How long a payer may take to decide (CMS-0057-F): 72 hours expedited, 7 days standard.
pub(crate) fn regulatory_clock(urgency: Urgency) -> Days {
    match urgency {
        Urgency::Expedited => Days::hours(72),
        Urgency::Standard => Days::days(7),
    }
}

fn park(ids: Option<(String, String)>, reason: ParkReason, detail: String) -> Disposition {
    warn!(reason = reason.code(), %detail, "Message cannot be answered; parking it.");
    let next = Next::Park {
        reason,
        detail,
        state: None,
    };
    Disposition {
        ids,
        ..Disposition::new(vec![], next)
    }
}

/// The payer's reasons: the whole request's first, then each line's, without repeats.
pub fn payer_reasons(response: &PayerResponse) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    for r in response
        .reasons
        .iter()
        .chain(response.items.iter().flat_map(|i| i.reasons.iter()))
    {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// The request `case` refers to, as its identifier and the payer's reference: the request an
/// update or a cancellation changes (its `original`), or the denied submission an appeal
/// contests. `None` for a submission.
fn original_request(case: &CaseEvent) -> Option<(String, String)> {
    match (&case.original, &case.appeal) {
        (Some(o), _) => Some((
            o.request_identifier(&case.case_id),
            o.payer_reference.clone(),
        )),
        (None, Some(a)) => Some((
            request_identifier(
                &case.case_id,
                a.original_event_id.trim(),
                Kind::Submission.operation(),
            ),
            a.payer_reference.clone(),
        )),
        (None, None) => None,
    }
}

/// What an appeal of this case must add.
fn appeal_packet(case: &CaseEvent) -> Vec<String> {
    let doc = &case.documentation;
    let mut required = vec!["letter_of_medical_necessity".to_owned()];
    if !doc.prior_treatments.iter().any(|t| t.failed()) {
        required.push("prior_treatments".to_owned());
    }
    if doc.photos.is_empty() {
        required.push("photos".to_owned());
    }
    required.push("clinical_notes".to_owned());
    required
}

#[cfg(test)]
mod tests;

/// An item decision as the outcome's `authorization.lines` entry: codes, numbers and dates the
/// payer gave, nothing from the case.
fn authorized_line(item: &crate::payer::ItemDecision) -> crate::case::AuthorizedLine {
    let authorized = item.authorized.as_ref();
    crate::case::AuthorizedLine {
        sequence: item.sequence,
        review_action: item.action.code().to_owned(),
        approved_units: if item.action.certifies()
            || item.action == crate::payer::ReviewAction::NoActionRequired
        {
            item.approved_units
        } else {
            0
        },
        code: authorized.and_then(|a| a.code.clone()),
        system: authorized.and_then(|a| a.system.clone()),
        modifiers: authorized.map(|a| a.modifiers.clone()).unwrap_or_default(),
        provider_npi: authorized.and_then(|a| a.provider_npi.clone()),
        authorization_number: authorized.and_then(|a| a.authorization_number.clone()),
        valid_from: authorized.and_then(|a| a.valid_from),
        valid_to: authorized.and_then(|a| a.valid_to),
    }
}
