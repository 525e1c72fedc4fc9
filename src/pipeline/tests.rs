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
        attachments: None,
        clock: Arc::new(move || now),
        sleeper: Default::default(),
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

/// The pipeline with a simulator that fails the first `fails` tries of each request, two
/// payer calls per delivery and one delay tier of 5 s.
fn failing(now: DateTime<Utc>, fails: u32) -> Pipeline {
    let mut p = pipeline(now);
    let codes = Arc::clone(&p.codes);
    let policies = Policies::load(&codes, None).expect("policies");
    let faults = Faults {
        fail_first: fails,
        ..Faults::default()
    };
    let route = PayerRoute::new(
        "default",
        Arc::new(SimulatedPayer::new(codes, faults)),
        policies.get("default").expect("default"),
    );
    p.payers = PayerDirectory::new(HashMap::new(), Some(route));
    p.in_process = InProcessRetry {
        max_calls: 2,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        max_retry_after: Duration::from_millis(1),
    };
    p
}

fn steps(d: &Disposition) -> Vec<crate::case::Step> {
    d.progress.iter().map(|p| p.step).collect()
}

fn progress_ids(d: &Disposition) -> Vec<String> {
    d.progress.iter().map(|p| p.progress_id.clone()).collect()
}

#[tokio::test]
async fn a_fresh_delivery_reports_received_then_each_payer_call_with_its_request() {
    use crate::case::{ProgressOperation, Step};
    let now = Utc::now();
    let body = serde_json::to_vec(&base()).expect("json");
    let d = pipeline(now)
        .handle(&body, Some("case.submitted"), &CaseState::default())
        .await;
    assert_eq!(d.outcomes[0].status, Status::Approved);
    assert_eq!(steps(&d), [Step::Received, Step::Submitted]);
    let (received, submitted) = (&d.progress[0], &d.progress[1]);
    assert_eq!(received.attempt, 0);
    assert_eq!(received.at, now);
    assert!(received.payer.is_none() && received.operation.is_none());
    assert_eq!(submitted.at, now);
    assert_eq!(submitted.attempt, 1);
    assert_eq!(submitted.operation, Some(ProgressOperation::Submit));
    assert_eq!(submitted.urgency, Some(Urgency::Standard));
    let payer = submitted.payer.as_ref().expect("payer");
    let outcome_payer = d.outcomes[0].payer.as_ref().expect("payer");
    assert_eq!(payer.request_identifier, outcome_payer.request_identifier);
    assert_eq!(payer.id, outcome_payer.id);
    for p in &d.progress {
        assert_eq!(p.sequence, d.outcomes[0].sequence);
        assert_eq!((p.case_id.as_str(), p.event_id.as_str()), {
            let (c, e) = d.ids.as_ref().expect("ids");
            (c.as_str(), e.as_str())
        });
    }
}

#[tokio::test]
async fn a_rejected_or_unreadable_message_reports_only_what_happened() {
    use crate::case::Step;
    let p = pipeline(Utc::now());
    let mut v = base();
    v["service"]["procedures"] = serde_json::json!([]);
    let rejected = p
        .handle(
            &serde_json::to_vec(&v).expect("json"),
            Some("case.submitted"),
            &CaseState::default(),
        )
        .await;
    assert_eq!(rejected.outcomes[0].status, Status::Rejected);
    assert_eq!(steps(&rejected), [Step::Received]);
    let unreadable = p
        .handle(b"not json", Some("case.submitted"), &CaseState::default())
        .await;
    assert!(unreadable.progress.is_empty());
}

#[tokio::test]
async fn progress_ids_are_the_same_on_a_redelivery_and_differ_across_steps_attempts_and_replays() {
    use crate::case::Step;
    let now = Utc::now();
    let p = failing(now, 100);
    let body = serde_json::to_vec(&base()).expect("json");
    let first = p
        .handle(&body, Some("case.submitted"), &CaseState::default())
        .await;
    assert_eq!(
        steps(&first),
        [
            Step::Received,
            Step::Submitted,
            Step::Submitted,
            Step::RetryScheduled
        ]
    );
    let attempts: Vec<u32> = first.progress.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [0, 1, 2, 2]);
    let retry = first.progress[3].retry.as_ref().expect("retry");
    assert_eq!(retry.tier, "5s");
    assert_eq!(retry.reason, "payer-unavailable");
    assert_eq!(retry.retry_at, now + chrono::Duration::seconds(5));
    let mut ids = progress_ids(&first);
    // A redelivery of the same message: the same ids, a higher sequence.
    let redelivered = CaseState {
        redeliveries: 1,
        ..CaseState::default()
    };
    let again = p.handle(&body, Some("case.submitted"), &redelivered).await;
    assert_eq!(progress_ids(&again), ids);
    assert!(again.progress[0].sequence > first.progress[0].sequence);
    // The retry from the delay tier: no `received`, the next calls, then the tiers run out.
    let Next::Retry { state, .. } = first.next else {
        panic!("{:?}", first.next)
    };
    let retried = p.handle(&body, Some("case.submitted"), &state).await;
    assert_eq!(
        steps(&retried),
        [Step::Submitted, Step::Submitted, Step::Parked]
    );
    assert_eq!(retried.progress[0].attempt, 3);
    let parked = retried.progress[2].parked.as_ref().expect("parked");
    assert_eq!(parked.reason, "retries-exhausted");
    assert_eq!(retried.outcomes[0].status, Status::Failed);
    ids.extend(progress_ids(&retried));
    // After a replay, the same steps have new ids.
    let replayed = CaseState {
        replays: 1,
        ..CaseState::default()
    };
    let after_replay = p.handle(&body, Some("case.submitted"), &replayed).await;
    assert_eq!(steps(&after_replay)[0], Step::Received);
    assert!(after_replay.progress.iter().all(|e| e.replays == 1));
    ids.extend(progress_ids(&after_replay));
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    let replay_step = progress::replayed("C-1", "e-1", 1, now);
    assert_eq!(
        replay_step.progress_id,
        progress::replayed("C-1", "e-1", 1, now).progress_id
    );
    assert_ne!(
        replay_step.progress_id,
        progress::replayed("C-1", "e-1", 2, now).progress_id
    );
}

#[test]
fn a_message_parked_by_the_driver_reports_parked_only_when_it_names_a_case() {
    let body = serde_json::to_vec(&base()).expect("json");
    let state = CaseState::default();
    let p = progress::parked_message(&body, &state, ParkReason::DeliveryLimit, Utc::now())
        .expect("identified");
    assert_eq!(p.parked.expect("parked").reason, "delivery-limit");
    assert!(
        progress::parked_message(b"[1]", &state, ParkReason::HandlerPanic, Utc::now()).is_none()
    );
}

/// `p` with the documents served from a folder: `store/` under the returned directory, holding
/// `files` (none at all when `files` is `None`: the folder was never made).
fn with_folder(mut p: Pipeline, files: Option<&[(&str, &[u8])]>) -> (Pipeline, tempfile::TempDir) {
    use crate::payer::attachments::{AttachmentSettings, SourceSettings, StoreSettings};
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    if let Some(files) = files {
        std::fs::create_dir_all(&root).expect("mkdir");
        for (key, bytes) in files {
            std::fs::write(root.join(key), bytes).expect("write");
        }
    }
    let mut settings = AttachmentSettings::default();
    settings.sources.insert(
        "pm".to_owned(),
        SourceSettings {
            prefix: "pm://attachments/".to_owned(),
            store: StoreSettings::Folder {
                root,
                mount: crate::payer::attachments::FolderMount::Local,
            },
        },
    );
    p.attachments = Some(Arc::new(
        crate::payer::attachments::Attachments::build(&settings).expect("attachments"),
    ));
    (p, dir)
}

const PHOTO: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

fn submission() -> Vec<u8> {
    serde_json::to_vec(&base()).expect("json")
}

#[tokio::test]
async fn a_case_whose_photo_is_missing_is_rejected_before_any_payer_call() {
    let (p, _dir) = with_folder(pipeline(Utc::now()), Some(&[]));
    let d = p
        .handle(&submission(), Some("case.submitted"), &CaseState::default())
        .await;
    assert_eq!(d.next, Next::Ack);
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::Rejected);
    let rules: Vec<&str> = o.findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(rules.contains(&"ATT-02"), "{rules:?}");
    assert_eq!(o.attempts, 0);
    assert!(!steps(&d).contains(&crate::case::Step::Submitted));
}

#[tokio::test]
async fn a_document_store_that_is_down_sends_the_case_to_a_delay_tier_without_a_payer_call() {
    let (mut p, _dir) = with_folder(failing(Utc::now(), 0), None);
    let d = p
        .handle(&submission(), Some("case.submitted"), &CaseState::default())
        .await;
    let Next::Retry { state, .. } = &d.next else {
        panic!("expected a delay tier, got {:?}", d.next);
    };
    assert_eq!((state.attempts, state.retries), (0, 1));
    assert!(d.outcomes.is_empty());
    assert!(!steps(&d).contains(&crate::case::Step::Submitted));
    let retry = d
        .progress
        .iter()
        .find_map(|p| p.retry.as_ref())
        .expect("retry-scheduled");
    assert_eq!(retry.reason, "document-store-unavailable");
    // The tiers run out: failed, and the reason names the store, not the payer.
    p.retry = Schedule::new(vec![]);
    let d = p
        .handle(&submission(), Some("case.submitted"), &CaseState::default())
        .await;
    let o = &d.outcomes[0];
    assert_eq!(o.status, Status::Failed);
    assert_eq!(o.reasons[0].code, "retries-exhausted");
    assert!(
        o.reasons[0].text.contains("document store"),
        "{:?}",
        o.reasons
    );
    assert!(!o.reasons[0].text.contains("the payer"), "{:?}", o.reasons);
}

#[tokio::test]
async fn the_hashes_of_the_documents_sent_ride_with_a_retry_and_a_changed_one_is_refused() {
    let files: &[(&str, &[u8])] = &[("IMG-1", PHOTO)];
    let (p, dir) = with_folder(failing(Utc::now(), 5), Some(files));
    let d = p
        .handle(&submission(), Some("case.submitted"), &CaseState::default())
        .await;
    let Next::Retry { state, .. } = d.next else {
        panic!("expected a delay tier, got {:?}", d.next);
    };
    let sent = crate::payer::attachments::sha1_base64(PHOTO);
    assert_eq!(state.documents.as_deref(), Some(sent.as_str()));
    // The same bytes: resent (the payer, still failing, has the last tier run out).
    let again = p
        .handle(&submission(), Some("case.submitted"), &state)
        .await;
    assert!(steps(&again).contains(&crate::case::Step::Submitted));
    assert!(
        again.outcomes.iter().all(|o| o.status == Status::Failed),
        "{:?}",
        again.outcomes
    );
    // Other bytes under the same request identifier: rejected, nothing sent.
    std::fs::write(dir.path().join("store/IMG-1"), [PHOTO, b"edited"].concat()).expect("write");
    let changed = p
        .handle(&submission(), Some("case.submitted"), &state)
        .await;
    let o = &changed.outcomes[0];
    assert_eq!(o.status, Status::Rejected);
    assert_eq!(o.findings.last().map(|f| f.rule.as_str()), Some("ATT-06"));
    assert!(!steps(&changed).contains(&crate::case::Step::Submitted));
}

mod kinds;
mod lines;
