//! The simulated payer: decides by the same published policy criteria the validator enforces,
//! plus the payer's own review rules (`[review]` in the policy). It is deterministic: the same
//! request always gets the same answer, so a resent case meets the same decision.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;

pub mod clients;
pub mod faults;
pub mod pas;
pub mod seen;
pub mod server;
pub(crate) mod subscriptions;

pub use faults::{Faults, ProfileCheck};

use crate::case::{CaseEvent, Indication, Kind, Reason, WorkerReason};
use crate::codes::{CodeTable, ProcedureCode};
use crate::payer::pas::model::{X12_REASON_SYSTEM, X12_REJECT_SYSTEM};
use crate::payer::{
    AuthorizedItem, InformationRequest, ItemDecision, Operation, Payer, PayerError, PayerRequest,
    PayerResponse, ReviewAction,
};
use crate::rules::Policy;
use faults::Fault;

/// An in-process payer that decides by policy, playing the same fault script as the HTTP one
/// (tries counted by the request's attempt number).
pub(crate) struct SimulatedPayer {
    codes: Arc<CodeTable>,
    faults: Faults,
}

impl SimulatedPayer {
    pub(crate) fn new(codes: Arc<CodeTable>, faults: Faults) -> Self {
        Self { codes, faults }
    }
}

#[async_trait]
impl Payer for SimulatedPayer {
    async fn send(&self, request: PayerRequest<'_>) -> Result<PayerResponse, PayerError> {
        if self.faults.slow(request.attempt) {
            request.sleeper.sleep(self.faults.latency).await;
        }
        let transient = |status: &str| PayerError::Transient {
            retry_after: self.faults.retry_after,
            detail: format!("simulated payer outage (HTTP {status})"),
        };
        match self
            .faults
            .fault(request.request_identifier, request.attempt)
        {
            None => {
                let review = ReviewCase {
                    photos_with_data: request.documents.map_or(0, |d| d.photos.len()),
                    ..ReviewCase::from_case(request.case)
                };
                decide(&request, &self.codes).map(|r| self.faults.shape(r, &review, request.policy))
            }
            Some(Fault::Unavailable) => Err(transient("503")),
            Some(Fault::Throttled) => Err(transient("429")),
            Some(Fault::Rejected) => Err(PayerError::Refused {
                detail: "simulated payer rejected the request (HTTP 400)".to_owned(),
                reasons: Vec::new(),
            }),
            Some(Fault::Malformed) => Err(PayerError::Refused {
                detail: "simulated payer answered with a body that is not a PAS response"
                    .to_owned(),
                reasons: vec![Reason::worker(
                    WorkerReason::MalformedResponse,
                    "the payer's answer is not a PAS response",
                )],
            }),
        }
    }

    fn adapter(&self) -> &'static str {
        "simulated"
    }

    fn reason_codes(&self) -> Vec<&'static str> {
        reason_codes()
    }
}

/// The decision reasons the simulator gives (X12 886 codes of its own choosing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimReason {
    PendedForReview,
    NotCovered,
    NotNecessary,
    Documentation,
    ConservativeTreatment,
    NoLetter,
}

impl SimReason {
    const ALL: [SimReason; 6] = [
        SimReason::PendedForReview,
        SimReason::NotCovered,
        SimReason::NotNecessary,
        SimReason::Documentation,
        SimReason::ConservativeTreatment,
        SimReason::NoLetter,
    ];

    fn code(self) -> &'static str {
        match self {
            SimReason::PendedForReview => "0U",
            SimReason::NotCovered => "N1",
            SimReason::NotNecessary => "MN1",
            SimReason::Documentation => "DOC",
            SimReason::ConservativeTreatment => "CT1",
            SimReason::NoLetter => "LMN",
        }
    }
}

/// The X12 901 reject reason the simulator refuses an unknown member with.
const SUBSCRIBER_NOT_FOUND: &str = "75";

/// Every reason code the simulator answers with: its decision reasons and its reject reason
/// (besides the worker's own `malformed-response` for a scripted nonsense answer).
pub(crate) fn reason_codes() -> Vec<&'static str> {
    SimReason::ALL
        .iter()
        .map(|r| r.code())
        .chain([SUBSCRIBER_NOT_FOUND])
        .collect()
}

fn reason(why: SimReason, text: &str) -> Reason {
    Reason {
        code: why.code().to_owned(),
        system: Some(X12_REASON_SYSTEM.to_owned()),
        text: text.to_owned(),
    }
}

/// What a payer sees of a request: the facts its reviewers decide on. Built from the case event
/// in process, or read back from a PAS request bundle by the PAS payer simulator, so both decide
/// alike.
#[derive(Clone, PartialEq)]
pub struct ReviewCase {
    pub appeal: bool,
    /// A cancellation of an earlier request (a PAS Claim Update with certification type 3).
    pub cancel: bool,
    pub member_id: String,
    /// The request's own date (the event's `occurred_at` date): decisions are dated by it.
    pub requested_on: NaiveDate,
    pub procedures: Vec<ReviewLine>,
    pub indications: Vec<Indication>,
    pub clinical_notes: usize,
    pub photos: usize,
    /// The photos that arrived as data (inline, with a size and a SHA-1 hash that match it),
    /// not only as a link; a policy with `photo_data_required` certifies none without one.
    pub photos_with_data: usize,
    /// Prior treatments, each `true` when it failed.
    pub prior_treatments: Vec<bool>,
    pub letter_of_medical_necessity: bool,
}

impl std::fmt::Debug for ReviewCase {
    /// Codes, indications and counts; the member id is redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewCase")
            .field("appeal", &self.appeal)
            .field("cancel", &self.cancel)
            .field("member_id", &crate::case::redact::Redacted)
            .field("requested_on", &crate::case::redact::Redacted)
            .field("procedures", &self.procedures)
            .field("indications", &self.indications)
            .field("clinical_notes", &self.clinical_notes)
            .field("photos", &self.photos)
            .field("photos_with_data", &self.photos_with_data)
            .field("prior_treatments", &self.prior_treatments)
            .field(
                "letter_of_medical_necessity",
                &self.letter_of_medical_necessity,
            )
            .finish()
    }
}

/// One requested service line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewLine {
    pub code: ProcedureCode,
    pub units: u32,
}

impl ReviewCase {
    /// What the payer sees of `case` in process, where no request bundle is written.
    ///
    /// `photos_with_data` is 0 here: the case event names its photos by link only. The
    /// in-process path fills it from the documents the worker fetched for the request (the
    /// photos it would send inline), as the PAS payer simulator counts them from the bundle.
    pub fn from_case(case: &CaseEvent) -> Self {
        let doc = &case.documentation;
        Self {
            appeal: case.kind == Kind::Appeal,
            cancel: case.kind == Kind::Cancel,
            member_id: case.coverage.member_id.clone(),
            requested_on: case.occurred_on(),
            procedures: case
                .service
                .procedures
                .iter()
                .map(|p| ReviewLine {
                    code: p.code.clone(),
                    units: p.units,
                })
                .collect(),
            indications: doc.indications.clone(),
            clinical_notes: doc.clinical_notes.len(),
            photos: doc.photos.len(),
            photos_with_data: 0,
            prior_treatments: doc.prior_treatments.iter().map(|t| t.failed()).collect(),
            letter_of_medical_necessity: doc.letter_of_medical_necessity.is_some(),
        }
    }
}

/// The payer's decision for a request, by policy.
pub fn decide(request: &PayerRequest<'_>, codes: &CodeTable) -> Result<PayerResponse, PayerError> {
    // In process there is no bundle to read: the photos that arrived as data are the ones the
    // worker fetched for this request.
    let review = ReviewCase {
        photos_with_data: request.documents.map_or(0, |d| d.photos.len()),
        ..ReviewCase::from_case(request.case)
    };
    decide_review(
        &review,
        request.policy,
        codes,
        request.request_identifier,
        request.operation,
        request.reference,
    )
}

/// The payer's decision for what it sees of a request. Deterministic: the same request always
/// gets the same answer.
pub fn decide_review(
    case: &ReviewCase,
    policy: &Policy,
    codes: &CodeTable,
    request_identifier: &str,
    operation: Operation,
    reference: Option<&str>,
) -> Result<PayerResponse, PayerError> {
    let review = &policy.review;
    if let Some(pattern) = &review.member_id_pattern {
        if !pattern.is_match(&case.member_id) {
            return Err(PayerError::Refused {
                detail: "subscriber not found".to_owned(),
                reasons: vec![Reason {
                    code: SUBSCRIBER_NOT_FOUND.to_owned(),
                    system: Some(X12_REJECT_SYSTEM.to_owned()),
                    text: "subscriber/insured not found".to_owned(),
                }],
            });
        }
    }

    let number = crate::ids::stable_hash(request_identifier);
    let reference = reference
        .map(str::to_owned)
        .unwrap_or_else(|| format!("PA-{:08}", number % 100_000_000));
    let decided_on = case.requested_on;
    let mut response = PayerResponse {
        reference: Some(reference),
        items: Vec::new(),
        authorization_number: None,
        valid_from: None,
        valid_to: None,
        reasons: Vec::new(),
        decided_on,
        information_request: None,
    };

    if operation == Operation::Cancel || case.cancel {
        // A cancellation is confirmed on every line, whatever the request held; so is an
        // inquiry about a request a cancellation replaced.
        response.items = items(case, |_| (ReviewAction::Cancelled, 0, vec![]));
        return Ok(response);
    }
    let round = match operation {
        Operation::Inquire { round } => round,
        _ => 0,
    };
    let needs_review = case
        .procedures
        .iter()
        .any(|p| review.pend_codes.contains(p.code.as_str()));
    if needs_review && round < review.pend_rounds {
        response.items = items(case, |_| (ReviewAction::Pended, 0, vec![]));
        response.reasons.push(reason(
            SimReason::PendedForReview,
            "pended for medical review",
        ));
        return Ok(response);
    }

    if let Some(denial) = whole_request_denial(case, policy) {
        response.items = items(case, |_| {
            (ReviewAction::NotCertified, 0, vec![denial.clone()])
        });
        response.reasons.push(denial);
        return Ok(response);
    }

    response.items = items(case, |i| {
        let p = &case.procedures[i];
        let cosmetic = codes.get(&p.code).is_some_and(|c| c.cosmetic_only);
        if cosmetic || review.not_covered_codes.contains(p.code.as_str()) {
            let r = reason(
                SimReason::NotCovered,
                &format!("{} is not covered under this plan's policy", p.code),
            );
            (ReviewAction::NotCertified, 0, vec![r])
        } else {
            (ReviewAction::Certified, p.units, vec![])
        }
    });
    if response.items.iter().any(|i| i.action.certifies()) {
        response.authorization_number = Some(format!("AUTH-{:06}", number % 1_000_000));
        response.valid_from = Some(decided_on);
        response.valid_to = decided_on.checked_add_days(chrono::Days::new(u64::from(
            policy.authorization_valid_days,
        )));
    }
    Ok(response)
}

/// Days the simulated payer gives for information it asks for.
pub const INFORMATION_DUE_DAYS: u64 = 14;

/// X12 PWK01 (755) report type of photographs.
const PWK_PHOTOGRAPHS: &str = "XP";

impl Faults {
    /// The decision as this scripted payer gives it: asking for missing photographs
    /// (`request_information`) and modifying lines (`substitute`).
    pub fn shape(
        &self,
        response: PayerResponse,
        case: &ReviewCase,
        policy: &Policy,
    ) -> PayerResponse {
        let response = if self.request_information {
            match information_wanted(case, policy) {
                Some(info) => pended_for_information(response, info),
                None => response,
            }
        } else {
            response
        };
        substitute(response, case, &self.substitute)
    }
}

/// What the payer asks for instead of denying: the photographs a policy requires, when the
/// request has none.
pub fn information_wanted(case: &ReviewCase, policy: &Policy) -> Option<InformationRequest> {
    use crate::payer::pas::model::{LOINC_PHOTO, LOINC_SYSTEM, X12_755_SYSTEM};
    (policy.photos_required && case.photos == 0).then(|| InformationRequest {
        items: vec![
            Reason {
                code: PWK_PHOTOGRAPHS.to_owned(),
                system: Some(X12_755_SYSTEM.to_owned()),
                text: "photographs".to_owned(),
            },
            Reason {
                code: LOINC_PHOTO.to_owned(),
                system: Some(LOINC_SYSTEM.to_owned()),
                text: "photographs".to_owned(),
            },
        ],
        due: case
            .requested_on
            .checked_add_days(chrono::Days::new(INFORMATION_DUE_DAYS)),
    })
}

/// `response` with every line pended (A4) for the information `info` asks for: no
/// authorization, the documentation reason, the request attached. A refusal stays one.
pub fn pended_for_information(
    mut response: PayerResponse,
    info: InformationRequest,
) -> PayerResponse {
    for item in &mut response.items {
        item.action = ReviewAction::Pended;
        item.approved_units = 0;
        item.reasons.clear();
        item.authorized = None;
    }
    response.authorization_number = None;
    response.valid_from = None;
    response.valid_to = None;
    response.reasons = vec![reason(
        SimReason::Documentation,
        "pended: photographs are requested",
    )];
    response.information_request = Some(info);
    response
}

/// Certified lines whose code a `FROM=TO` pair names are modified (A6): the payer authorizes
/// code TO (same system, no modifiers, the units asked for) under the request's authorization.
fn substitute(mut response: PayerResponse, case: &ReviewCase, pairs: &[String]) -> PayerResponse {
    for item in &mut response.items {
        let line = usize::try_from(item.sequence)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| case.procedures.get(i));
        let Some(line) = line.filter(|_| item.action == ReviewAction::Certified) else {
            continue;
        };
        let to = pairs
            .iter()
            .filter_map(|p| p.split_once('='))
            .find(|(from, _)| from.trim() == line.code.as_str())
            .map(|(_, to)| to.trim())
            .filter(|to| !to.is_empty());
        if let Some(to) = to {
            item.action = ReviewAction::Modified;
            item.authorized = Some(AuthorizedItem {
                code: Some(to.to_owned()),
                system: Some(
                    match line.code.system() {
                        crate::codes::ProcedureSystem::Cpt => crate::payer::pas::model::CPT_SYSTEM,
                        crate::codes::ProcedureSystem::Hcpcs => {
                            crate::payer::pas::model::HCPCS_SYSTEM
                        }
                    }
                    .to_owned(),
                ),
                units: Some(item.approved_units),
                authorization_number: response.authorization_number.clone(),
                ..AuthorizedItem::default()
            });
        }
    }
    response
}

fn items(
    case: &ReviewCase,
    mut decide: impl FnMut(usize) -> (ReviewAction, u32, Vec<Reason>),
) -> Vec<ItemDecision> {
    (0..case.procedures.len())
        .map(|i| {
            let (action, approved_units, reasons) = decide(i);
            ItemDecision {
                sequence: u32::try_from(i + 1).unwrap_or(u32::MAX),
                action,
                approved_units,
                reasons,
                authorized: None,
            }
        })
        .collect()
}

/// The payer's reasons to deny the whole request, in the order a reviewer checks them.
fn whole_request_denial(case: &ReviewCase, policy: &Policy) -> Option<Reason> {
    if !case.indications.iter().any(|i| policy.covers(i)) {
        return Some(reason(
            SimReason::NotNecessary,
            "not medically necessary: no covered indication is documented",
        ));
    }
    if case.clinical_notes == 0 {
        return Some(reason(
            SimReason::Documentation,
            "documentation incomplete: no clinical note supports the request",
        ));
    }
    if policy.photos_required && case.photos == 0 {
        return Some(reason(
            SimReason::Documentation,
            "documentation incomplete: photographs are required",
        ));
    }
    if policy.photo_data_required && case.photos_with_data == 0 {
        return Some(reason(
            SimReason::Documentation,
            "documentation incomplete: a photograph must be sent as data, not only as a link",
        ));
    }
    let failed_conservative = case.prior_treatments.iter().any(|failed| *failed);
    if (policy.review.require_failed_conservative_treatment || case.appeal) && !failed_conservative
    {
        return Some(reason(
            SimReason::ConservativeTreatment,
            "conservative treatment not documented as failed: a less costly treatment must be tried first",
        ));
    }
    if case.appeal && !case.letter_of_medical_necessity {
        return Some(reason(
            SimReason::NoLetter,
            "appeal without a letter of medical necessity",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rules::testing::{appeal_base, base, decode_value};
    use crate::rules::Policies;

    fn answer(
        v: &serde_json::Value,
        policy: &str,
        op: Operation,
    ) -> Result<PayerResponse, PayerError> {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let policy = policies.get(policy).expect("policy");
        let case = decode_value(v);
        let req = PayerRequest {
            case: &case,
            policy: &policy,
            request_identifier: "req-1",
            operation: op,
            reference: None,
            attempt: 1,
            documents: None,
            original: None,
            sleeper: &crate::retry::Sleeper::default(),
        };
        decide(&req, &codes)
    }

    /// The answer for `v` when every photo of the case reached the payer as data.
    fn answer_with_photo_data(
        v: &serde_json::Value,
        policy: &str,
        op: Operation,
    ) -> Result<PayerResponse, PayerError> {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let policy = policies.get(policy).expect("policy");
        let mut review = ReviewCase::from_case(&decode_value(v));
        review.photos_with_data = review.photos;
        decide_review(&review, &policy, &codes, "req-1", op, None)
    }

    #[test]
    fn requests_and_review_cases_print_no_member_id_in_debug_output() {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let policy = policies.get("default").expect("policy");
        let mut v = base();
        v["coverage"]["member_id"] = json!("ACM987654321");
        v["patient"]["family_name"] = json!("Petrovskaya");
        v["documentation"]["indications"] = json!(["pain", "ivan's own words"]);
        let case = decode_value(&v);
        let req = PayerRequest {
            case: &case,
            policy: &policy,
            request_identifier: "req-1",
            operation: Operation::Submit,
            reference: None,
            attempt: 1,
            documents: None,
            original: None,
            sleeper: &crate::retry::Sleeper::default(),
        };
        let review = ReviewCase::from_case(&case);
        for shown in [
            format!("{req:?}"),
            format!("{req:#?}"),
            format!("{review:?}"),
            format!("{review:#?}"),
        ] {
            for value in ["ACM987654321", "Petrovskaya", "ivan", "2026-11-20"] {
                assert!(!shown.contains(value), "{value} in {shown}");
            }
        }
        let shown = format!("{req:?}");
        assert!(
            shown.contains("C-2026-000123") && shown.contains("req-1"),
            "{shown}"
        );
        assert!(format!("{review:?}").contains("67850"));
    }

    #[test]
    fn documented_necessity_is_certified_with_an_authorization() {
        let r = answer(&base(), "default", Operation::Submit).expect("answer");
        assert_eq!(r.items[0].action, ReviewAction::Certified);
        assert!(r.authorization_number.is_some());
        assert_eq!(r.overall(), super::super::Overall::Certified);
    }

    #[test]
    fn the_same_request_always_gets_the_same_answer() {
        let a = answer(&base(), "default", Operation::Submit).expect("a");
        let b = answer(&base(), "default", Operation::Submit).expect("b");
        assert_eq!(a, b);
    }

    #[test]
    fn the_strict_payer_denies_without_a_failed_conservative_treatment() {
        let mut v = base();
        v["coverage"]["member_id"] = json!("NW20481234");
        v["documentation"]["prior_treatments"] = json!([]);
        let r = answer_with_photo_data(&v, "strict-commercial", Operation::Submit).expect("answer");
        assert_eq!(r.items[0].action, ReviewAction::NotCertified);
        assert_eq!(r.reasons[0].code, "CT1");
    }

    #[test]
    fn the_strict_payer_does_not_certify_a_photo_that_did_not_arrive_as_data() {
        let mut v = base();
        v["coverage"]["member_id"] = json!("NW20481234");
        // In process nothing fetched the photo: the review case has none as data.
        let r = answer(&v, "strict-commercial", Operation::Submit).expect("answer");
        assert_eq!(r.overall(), super::super::Overall::NotCertified);
        assert_eq!(r.reasons[0].code, "DOC");
        assert!(
            r.reasons[0].text.contains("sent as data"),
            "{:?}",
            r.reasons
        );
        let r = answer_with_photo_data(&v, "strict-commercial", Operation::Submit).expect("answer");
        assert_eq!(r.overall(), super::super::Overall::Certified);
    }

    #[test]
    fn an_unknown_member_is_refused() {
        let err = answer(&base(), "strict-commercial", Operation::Submit).expect_err("refused");
        assert!(!err.is_transient());
    }

    #[test]
    fn an_excision_is_pended_then_decided_on_follow_up() {
        let mut v = base();
        v["service"]["procedures"] =
            json!([{"code": "67840", "system": "CPT", "modifiers": ["E4"]}]);
        let first = answer(&v, "default", Operation::Submit).expect("first");
        assert_eq!(first.items[0].action, ReviewAction::Pended);
        let later = answer(&v, "default", Operation::Inquire { round: 1 }).expect("later");
        assert_eq!(later.items[0].action, ReviewAction::Certified);
    }

    #[test]
    fn an_uncovered_line_makes_a_partial_certification() {
        let mut v = base();
        v["coverage"]["member_id"] = json!("NW20481234");
        v["service"]["procedures"] = json!([
            {"code": "67850", "system": "CPT", "modifiers": ["E4"]},
            {"code": "10040", "system": "CPT"}]);
        let r = answer_with_photo_data(&v, "strict-commercial", Operation::Submit).expect("answer");
        assert_eq!(r.overall(), super::super::Overall::PartlyCertified);
        assert_eq!(r.summary_action(), Some(ReviewAction::Partial));
    }

    #[test]
    fn an_appeal_whose_conservative_treatment_worked_is_denied() {
        let mut v = appeal_base();
        v["documentation"]["prior_treatments"][0]["result"] = json!("improved");
        let r = answer(&v, "default", Operation::Appeal).expect("answer");
        assert_eq!(r.overall(), super::super::Overall::NotCertified);
    }
}
