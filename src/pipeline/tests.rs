use super::*;
use crate::payer::sim::{Faults, SimulatedPayer};
use crate::rules::testing::base;
use crate::rules::Policies;
use std::time::Duration;

/// A pipeline over the in-process simulator with the default policy and a fixed clock.
fn pipeline(now: DateTime<Utc>) -> Pipeline {
    let codes = Arc::new(CodeTable::embedded().expect("codes"));
    let policies = Policies::load(&codes, None).expect("policies");
    let route = PayerRoute::new(
        "default",
        Arc::new(SimulatedPayer::new(Arc::clone(&codes), Faults::default())),
        policies.get("default").expect("default"),
    );
    Pipeline {
        codes,
        payers: PayerDirectory::new(HashMap::new(), Some(route)),
        retry: Schedule::new(vec![Duration::from_secs(5)]),
        followup: Schedule::new(vec![Duration::from_secs(3600); 10]),
        in_process: InProcessRetry::none(),
        max_message_bytes: 1 << 20,
        clock: Arc::new(move || now),
    }
}

#[tokio::test]
async fn an_unconfigured_payer_fails_the_case_without_repeating_its_id() {
    let mut p = pipeline(Utc::now());
    p.payers = PayerDirectory::default();
    let mut v = base();
    v["coverage"]["payer_id"] = serde_json::json!("ivan-petrov-health");
    let body = serde_json::to_vec(&v).expect("json");
    let d = p
        .handle(&body, Some("case.submitted"), &CaseState::default())
        .await;
    assert_eq!(d.outcomes.len(), 1);
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::Failed);
    assert_eq!(o.reasons[0].code, "payer-not-configured");
    let text = serde_json::to_string(o).expect("json");
    assert!(!text.contains("ivan"), "{text}");
}

fn excision(urgency: &str) -> Vec<u8> {
    let mut v = base();
    v["urgency"] = serde_json::json!(urgency);
    v["service"]["procedures"] =
        serde_json::json!([{"code": "67840", "system": "CPT", "modifiers": ["E4"]}]);
    v["documentation"]["indications"] = serde_json::json!(["diagnostic-uncertainty", "pain"]);
    serde_json::to_vec(&v).expect("json")
}

#[tokio::test]
async fn a_pended_request_is_followed_up_with_its_state_in_the_disposition() {
    let now = Utc::now();
    let d = pipeline(now)
        .handle(
            &excision("standard"),
            Some("case.submitted"),
            &CaseState::default(),
        )
        .await;
    assert_eq!(d.outcomes[0].status, Status::Pended);
    match d.next {
        Next::FollowUp { after, state, .. } => {
            assert_eq!(after, Duration::from_secs(3600));
            assert_eq!(state.followups, 1);
            assert_eq!(state.first_attempt_at, Some(now.timestamp()));
            assert!(state.reference.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_payer_that_misses_its_regulatory_deadline_ends_the_case_as_failed() {
    // Still pended (the payer's review needs more rounds than this follow-up is).
    let now = Utc::now();
    for (urgency, waited_hours, fails) in [
        ("expedited", 71, false),
        ("expedited", 73, true),
        ("standard", 167, false),
        ("standard", 169, true),
    ] {
        let state = CaseState {
            attempts: 1,
            retries: 0,
            followups: 0,
            reference: None,
            first_attempt_at: Some(now.timestamp() - waited_hours * 3600),
            ..CaseState::default()
        };
        let d = pipeline(now)
            .handle(&excision(urgency), Some("case.submitted"), &state)
            .await;
        let status = d.outcomes[0].status;
        if fails {
            assert_eq!(status, Status::Failed, "{urgency} after {waited_hours} h");
            assert_eq!(
                d.outcomes[0].reasons.last().map(|r| r.code.as_str()),
                Some("regulatory-deadline")
            );
        } else {
            assert_eq!(status, Status::Pended, "{urgency} after {waited_hours} h");
        }
    }
}

#[tokio::test]
async fn a_redelivery_outranks_the_delivery_it_repeats_and_a_replay_outranks_both() {
    let now = Utc::now();
    let p = pipeline(now);
    let body = serde_json::to_vec(&base()).expect("json");
    let at = |state: CaseState| {
        let p = p.clone();
        let body = body.clone();
        async move {
            let d = p.handle(&body, Some("case.submitted"), &state).await;
            d.outcomes.last().cloned().expect("an outcome")
        }
    };
    let first = at(CaseState::default()).await;
    let redelivered = at(CaseState {
        redeliveries: 1,
        ..CaseState::default()
    })
    .await;
    let later_step = at(CaseState {
        attempts: 1,
        ..CaseState::default()
    })
    .await;
    let replayed = at(CaseState {
        replays: 1,
        ..CaseState::default()
    })
    .await;
    assert_eq!(first.status, Status::Approved);
    // Same decision, same id: consumers de-duplicate a redelivery.
    assert_eq!(first.outcome_id, redelivered.outcome_id);
    assert!(redelivered.sequence > first.sequence);
    // Many redeliveries never outrank the next step of the event's life.
    let many = CaseState {
        redeliveries: 5_000,
        ..CaseState::default()
    };
    assert!(many.sequence() < later_step.sequence);
    assert!(later_step.sequence > redelivered.sequence);
    // A replay is a new attempt series: after everything, with ids of its own.
    let busiest = CaseState {
        attempts: u32::MAX,
        redeliveries: u32::MAX,
        ..CaseState::default()
    };
    assert!(replayed.sequence > busiest.sequence());
    assert_ne!(replayed.outcome_id, first.outcome_id);
    assert_eq!(
        replayed.outcome_id,
        replayed_outcome_id(&first.outcome_id, 1)
    );
    // Every sequence stays exact in a JSON reader that uses doubles.
    let most = CaseState {
        attempts: u32::MAX,
        redeliveries: u32::MAX,
        replays: u32::MAX,
        ..CaseState::default()
    };
    assert!(most.sequence() < (1u64 << 53));
}
