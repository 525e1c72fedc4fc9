//! Updates, cancellations, appeals and a payer's request for more information: the request the
//! pipeline sends and the outcome it makes of the answer.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::{json, Value};

use super::*;
use crate::ids::request_identifier;
use crate::payer::{InformationRequest, ItemDecision, ReviewAction};
use crate::rules::testing::appeal_base;

/// What the pipeline asked: the operation, the request's identifier and the one it refers to.
type Sent = (Operation, String, Option<(String, String)>);

/// A payer that answers every line with one review action and records each request.
struct Recording {
    action: ReviewAction,
    information_request: Option<InformationRequest>,
    sent: Mutex<Vec<Sent>>,
}

#[async_trait]
impl Payer for Recording {
    async fn send(&self, r: PayerRequest<'_>) -> Result<PayerResponse, PayerError> {
        let original = r.original.map(|o| {
            (
                o.request_identifier.to_owned(),
                o.payer_reference.to_owned(),
            )
        });
        if let Ok(mut sent) = self.sent.lock() {
            sent.push((r.operation, r.request_identifier.to_owned(), original));
        }
        Ok(PayerResponse {
            reference: Some("PA-2".to_owned()),
            items: vec![ItemDecision {
                sequence: 1,
                action: self.action,
                approved_units: 0,
                reasons: vec![],
                authorized: None,
            }],
            authorization_number: None,
            valid_from: None,
            valid_to: None,
            reasons: vec![],
            decided_on: NaiveDate::from_ymd_opt(2026, 11, 21).expect("date"),
            information_request: self.information_request.clone(),
        })
    }

    fn adapter(&self) -> &'static str {
        "recording"
    }
}

fn recording(action: ReviewAction, info: Option<InformationRequest>) -> (Pipeline, Arc<Recording>) {
    let payer = Arc::new(Recording {
        action,
        information_request: info,
        sent: Mutex::new(vec![]),
    });
    let mut p = pipeline(Utc::now());
    let codes = Arc::clone(&p.codes);
    let policies = Policies::load(&codes, None).expect("policies");
    let route = PayerRoute::new(
        "default",
        Arc::clone(&payer) as Arc<dyn Payer>,
        policies.get("default").expect("default"),
    );
    p.payers = PayerDirectory::new(HashMap::new(), Some(route));
    (p, payer)
}

/// The base submission as an event of `kind`, naming the submission `E-1` as its original.
fn refers_to_original(kind: &str) -> Value {
    let mut v = base();
    v["kind"] = json!(kind);
    v["event_id"] = json!("E-2");
    v["original"] = json!({"event_id": "E-1", "payer_reference": "PA-1"});
    v
}

async fn handle(p: &Pipeline, v: &Value, key: &str, state: &CaseState) -> Disposition {
    let body = serde_json::to_vec(v).expect("json");
    p.handle(&body, Some(key), state).await
}

fn sent(payer: &Recording) -> Vec<Sent> {
    payer.sent.lock().expect("lock").clone()
}

#[tokio::test]
async fn an_update_is_sent_as_an_update_naming_the_original_request() {
    let (p, payer) = recording(ReviewAction::Certified, None);
    let v = refers_to_original("update");
    let d = handle(&p, &v, "case.updated", &CaseState::default()).await;
    assert_eq!(d.outcomes[0].status, Status::Approved, "{:?}", d.outcomes);
    let case_id = "C-2026-000123";
    let own = request_identifier(case_id, "E-2", "update");
    let original = request_identifier(case_id, "E-1", "submit");
    assert_eq!(
        sent(&payer),
        vec![(
            Operation::Update,
            own.clone(),
            Some((original, "PA-1".to_owned()))
        )]
    );
    let payer_ref = d.outcomes[0].payer.as_ref().expect("payer");
    assert_eq!(payer_ref.request_identifier, own);
}

#[tokio::test]
async fn a_follow_up_of_a_pended_update_inquires_about_the_updates_own_request() {
    let (p, payer) = recording(ReviewAction::Pended, None);
    let v = refers_to_original("update");
    let state = CaseState {
        attempts: 1,
        followups: 1,
        reference: Some("PA-2".to_owned()),
        ..CaseState::default()
    };
    let d = handle(&p, &v, "case.updated", &state).await;
    assert_eq!(d.outcomes[0].status, Status::Pended);
    let own = request_identifier("C-2026-000123", "E-2", "update");
    assert_eq!(
        sent(&payer),
        vec![(Operation::Inquire { round: 1 }, own, None)]
    );
}

#[tokio::test]
async fn a_cancel_is_sent_as_a_cancel_and_a_c_answer_gives_cancelled() {
    let (p, payer) = recording(ReviewAction::Cancelled, None);
    let mut v = refers_to_original("cancel");
    v["original"]["kind"] = json!("appeal");
    let d = handle(&p, &v, "case.cancelled", &CaseState::default()).await;
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::Cancelled, "{o:?}");
    assert!(o.status.is_terminal());
    assert!(matches!(d.next, Next::Ack));
    let payer_ref = o.payer.as_ref().expect("payer");
    assert_eq!(payer_ref.review_action.as_deref(), Some("C"));
    let case_id = "C-2026-000123";
    assert_eq!(
        sent(&payer),
        vec![(
            Operation::Cancel,
            request_identifier(case_id, "E-2", "cancel"),
            Some((
                request_identifier(case_id, "E-1", "appeal"),
                "PA-1".to_owned()
            ))
        )]
    );
}

#[tokio::test]
async fn a_pended_submission_whose_request_was_cancelled_meanwhile_ends_cancelled() {
    let (p, payer) = recording(ReviewAction::Cancelled, None);
    let state = CaseState {
        attempts: 1,
        followups: 1,
        reference: Some("PA-1".to_owned()),
        ..CaseState::default()
    };
    let d = handle(&p, &base(), "case.submitted", &state).await;
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::Cancelled, "{o:?}");
    assert!(matches!(d.next, Next::Ack), "no more follow-ups");
    assert_eq!(
        o.payer.as_ref().and_then(|p| p.review_action.as_deref()),
        Some("C")
    );
    assert!(matches!(sent(&payer)[0].0, Operation::Inquire { round: 1 }));
}

#[tokio::test]
async fn a_cancel_the_payer_does_not_confirm_fails_with_cancel_not_confirmed() {
    let (p, _) = recording(ReviewAction::Certified, None);
    let v = refers_to_original("cancel");
    let d = handle(&p, &v, "case.cancelled", &CaseState::default()).await;
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::Failed);
    assert_eq!(
        o.reasons.last().map(|r| r.code.as_str()),
        Some("cancel-not-confirmed")
    );
}

#[tokio::test]
async fn a_cancel_is_not_held_to_the_rules_that_guard_a_submission() {
    let (p, payer) = recording(ReviewAction::Cancelled, None);
    let mut v = refers_to_original("cancel");
    // Would be rejected as a submission: no accepted indication, no note, no lesions.
    v["documentation"] = json!({});
    v["service"]["lesions"] = Value::Null;
    let d = handle(&p, &v, "case.cancelled", &CaseState::default()).await;
    assert_eq!(d.outcomes[0].status, Status::Cancelled, "{:?}", d.outcomes);
    assert_eq!(sent(&payer).len(), 1);

    v["kind"] = json!("update");
    let d = handle(&p, &v, "case.updated", &CaseState::default()).await;
    assert_eq!(
        d.outcomes[0].status,
        Status::Rejected,
        "an update is validated"
    );
}

#[tokio::test]
async fn an_information_request_gives_information_requested_with_the_items_and_a_follow_up() {
    let due = NaiveDate::from_ymd_opt(2026, 12, 5).expect("date");
    let item = Reason {
        code: "77".to_owned(),
        system: Some("https://codesystem.x12.org/005010/755".to_owned()),
        text: "photographs of the lesions".to_owned(),
    };
    let info = InformationRequest {
        items: vec![item.clone()],
        due: Some(due),
    };
    let (p, _) = recording(ReviewAction::Pended, Some(info));
    let d = handle(&p, &base(), "case.submitted", &CaseState::default()).await;
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::InformationRequested);
    assert!(!o.status.is_terminal());
    let asked = o.information_request.as_ref().expect("information_request");
    assert_eq!((asked.items.clone(), asked.due), (vec![item], Some(due)));
    assert!(o.next_follow_up_at.is_some());
    assert!(matches!(d.next, Next::FollowUp { .. }), "{:?}", d.next);
    let json = serde_json::to_value(o).expect("json");
    assert_eq!(json["status"], "information-requested");
    assert_eq!(json["information_request"]["due"], "2026-12-05");
    assert_eq!(json["information_request"]["items"][0]["code"], "77");
}

#[tokio::test]
async fn an_appeal_request_names_the_denied_request_in_original() {
    let (p, payer) = recording(ReviewAction::Certified, None);
    let v = appeal_base();
    let d = handle(&p, &v, "case.appeal", &CaseState::default()).await;
    assert_eq!(d.outcomes[0].status, Status::Approved, "{:?}", d.outcomes);
    let case_id = "C-2026-000123";
    let denied = request_identifier(case_id, "0b6f2c56-5f0e-4a8e-9f43-2d1c8f7e1a01", "submit");
    let own = request_identifier(case_id, "9a1f2c56-5f0e-4a8e-9f43-2d1c8f7e1a02", "appeal");
    assert_eq!(
        sent(&payer),
        vec![(
            Operation::Appeal,
            own,
            Some((denied, "PA-98765".to_owned()))
        )]
    );
}

#[tokio::test]
async fn a_first_submission_names_no_original_request() {
    let (p, payer) = recording(ReviewAction::Certified, None);
    handle(&p, &base(), "case.submitted", &CaseState::default()).await;
    let sent = sent(&payer);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0, &sent[0].2), (Operation::Submit, &None));
}

#[tokio::test]
async fn the_in_process_simulator_confirms_a_cancellation_on_every_line() {
    let p = pipeline(Utc::now());
    let v = refers_to_original("cancel");
    let d = handle(&p, &v, "case.cancelled", &CaseState::default()).await;
    assert_eq!(d.outcomes[0].status, Status::Cancelled, "{:?}", d.outcomes);
}
