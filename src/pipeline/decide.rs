//! The payer's answer turned into outcomes: approved, denied or appeal-needed, pended or
//! information-requested (a follow-up, a wait for a notification, or failed when the regulatory
//! clock has run out), and for a cancellation cancelled (or failed when not confirmed).

use super::*;
use crate::case::InformationRequest;
use crate::payer::ReviewAction;

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn decide(
        &self,
        case: &CaseEvent,
        route: &PayerRoute,
        state: &CaseState,
        attempts: u32,
        findings: Vec<Finding>,
        response: PayerResponse,
        payer_ref: impl Fn(Option<String>, Option<&str>) -> PayerRef,
    ) -> Disposition {
        let action = response.summary_action().map(|a| a.code());
        let payer = Some(payer_ref(
            response.reference.clone().or(state.reference.clone()),
            action,
        ));
        let reasons = payer_reasons(&response);
        let (case_id, event_id) = (&case.case_id, &case.event_id);
        let done = |o: Outcome| Disposition::new(vec![o], Next::Ack);
        if confirms_cancellation(&response) {
            // A cancellation confirmed; or, for any other event, its request was cancelled
            // meanwhile (by a later `case.cancelled`, or by the payer): the answer to the event
            // is that, not a decision nobody can act on.
            debug!(case_id = %case_id, event_id = %event_id, attempts, "Payer reports the request cancelled.");
            return done(self.outcome(
                case_id,
                event_id,
                Status::Cancelled,
                0,
                attempts,
                payer,
                reasons,
                findings,
            ));
        }
        if case.kind == Kind::Cancel {
            return done(self.cancel_not_confirmed(case, attempts, payer, &response, findings));
        }
        match response.overall() {
            Overall::Certified | Overall::PartlyCertified => {
                let o = self.approved(
                    case_id, event_id, attempts, payer, &response, reasons, findings,
                );
                debug!(case_id = %case_id, event_id = %event_id, attempts, "Case approved.");
                done(o)
            }
            Overall::NotCertified => {
                // A first denial of a case that documents necessity can be appealed; an appeal
                // denied is final, and so is a case that can never be justified.
                let appealable =
                    case.kind == Kind::Submission && documents_necessity(case, &route.policy);
                if appealable {
                    let mut o = self.outcome(
                        case_id,
                        event_id,
                        Status::AppealNeeded,
                        0,
                        attempts,
                        payer,
                        reasons,
                        findings,
                    );
                    o.appeal = Some(AppealRoute {
                        deadline: response
                            .decided_on
                            .checked_add_days(chrono::Days::new(u64::from(
                                route.policy.appeal_window_days,
                            )))
                            .unwrap_or(chrono::NaiveDate::MAX),
                        required: appeal_packet(case),
                    });
                    debug!(case_id = %case_id, event_id = %event_id, attempts, "Case denied; an appeal is possible.");
                    done(o)
                } else {
                    debug!(case_id = %case_id, event_id = %event_id, attempts, "Case denied.");
                    done(self.outcome(
                        case_id,
                        event_id,
                        Status::Denied,
                        0,
                        attempts,
                        payer,
                        reasons,
                        findings,
                    ))
                }
            }
            Overall::Pended => {
                let followups = state.followups + 1;
                let next_state = CaseState {
                    attempts,
                    retries: state.retries,
                    followups,
                    reference: response.reference.clone().or(state.reference.clone()),
                    first_attempt_at: state.first_attempt_at,
                    replays: state.replays,
                    documents: state.documents.clone(),
                    redeliveries: 0,
                };
                let clock = regulatory_clock(case.urgency);
                let waited = state
                    .first_attempt_at
                    .map(|at| (self.clock)().timestamp() - at)
                    .unwrap_or(0);
                if waited > clock.num_seconds() {
                    let mut reasons = reasons;
                    reasons.push(Reason::worker(
                        WorkerReason::RegulatoryDeadline,
                        format!(
                            "the payer has not decided within its regulatory deadline ({} hours for a {} request); contact the payer",
                            clock.num_hours(),
                            if case.urgency == Urgency::Expedited { "expedited" } else { "standard" }
                        ),
                    ));
                    warn!(case_id = %case_id, event_id = %event_id, hours = clock.num_hours(), "Payer missed its regulatory deadline.");
                    return done(
                        self.failed(case_id, event_id, attempts, payer, reasons, findings),
                    );
                }
                let time_left = std::time::Duration::from_secs(
                    u64::try_from(clock.num_seconds() - waited).unwrap_or(0),
                );
                let wait = super::pended::next_follow_up(
                    route.payer.pended_follow_up(),
                    &self.followup,
                    state.followups,
                    time_left,
                );
                match wait {
                    Some(after) => {
                        // A payer that asks for more information is still deciding: the worker
                        // waits as for any pended answer, and staff send what is asked for.
                        let status = match response.information_request {
                            Some(_) => Status::InformationRequested,
                            None => Status::Pended,
                        };
                        let mut o = self.outcome(
                            case_id, event_id, status, followups, attempts, payer, reasons,
                            findings,
                        );
                        o.information_request = information_request(&response);
                        o.next_follow_up_at = Days::from_std(after)
                            .ok()
                            .and_then(|d| o.decided_at.checked_add_signed(d));
                        info!(case_id = %case_id, event_id = %event_id, followups, wait_s = after.as_secs(), "Payer pended the request; following up later.");
                        let next = Next::FollowUp {
                            after,
                            state: next_state,
                            awaiting: route.payer.notifies().then(|| {
                                request_identifier(case_id, event_id, case.kind.operation())
                            }),
                        };
                        Disposition::new(vec![o], next)
                    }
                    None => {
                        let mut reasons = reasons;
                        reasons.push(Reason::worker(
                            WorkerReason::FollowupsExhausted,
                            format!(
                                "the payer had not decided after {} follow-ups; contact the payer",
                                state.followups
                            ),
                        ));
                        warn!(case_id = %case_id, event_id = %event_id, followups = state.followups, "Payer never decided the pended request.");
                        done(self.failed(case_id, event_id, attempts, payer, reasons, findings))
                    }
                }
            }
            Overall::NoDecision => {
                let mut reasons = reasons;
                reasons.push(Reason::worker(
                    WorkerReason::NoDecision,
                    format!(
                        "the payer answered {} without a decision; contact the payer",
                        action.unwrap_or("nothing")
                    ),
                ));
                done(self.failed(case_id, event_id, attempts, payer, reasons, findings))
            }
        }
    }
}

impl Pipeline {
    /// A cancellation the payer did not confirm on every line (review action `C`): `failed`
    /// (`cancel-not-confirmed`), the payer's answer in `payer.review_action` and its reasons
    /// kept.
    fn cancel_not_confirmed(
        &self,
        case: &CaseEvent,
        attempts: u32,
        payer: Option<PayerRef>,
        response: &PayerResponse,
        findings: Vec<Finding>,
    ) -> Outcome {
        let (case_id, event_id) = (&case.case_id, &case.event_id);
        let mut reasons = payer_reasons(response);
        let answered = response.summary_action().map_or("nothing", |a| a.code());
        warn!(case_id = %case_id, event_id = %event_id, attempts, answered, "Payer did not confirm the cancellation.");
        reasons.push(Reason::worker(
            WorkerReason::CancelNotConfirmed,
            format!(
                "the payer answered the cancellation with {answered}, not C on every line; contact the payer"
            ),
        ));
        self.failed(case_id, event_id, attempts, payer, reasons, findings)
    }
}

/// True when the payer's answer cancels every line of the request (review action `C`).
pub(super) fn confirms_cancellation(response: &PayerResponse) -> bool {
    !response.items.is_empty()
        && response
            .items
            .iter()
            .all(|i| i.action == ReviewAction::Cancelled)
}

/// The payer's request for more information, as the outcome carries it.
fn information_request(response: &PayerResponse) -> Option<InformationRequest> {
    response
        .information_request
        .as_ref()
        .map(|r| InformationRequest {
            items: r.items.clone(),
            due: r.due,
        })
}
