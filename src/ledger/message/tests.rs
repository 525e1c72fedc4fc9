//! Reading deliveries, and folding a batch by the contract's rule.

use super::*;
use crate::ledger::store::fold;

fn outcome(status: &str, seq: u64, outcome_id: &str) -> Value {
    serde_json::json!({
        "schema": "preauth.outcome.v1",
        "outcome_id": outcome_id,
        "event_id": "evt-1", "case_id": "C-1", "status": status,
        "decided_at": "2026-03-01T10:00:00Z", "sequence": seq, "attempts": 1,
        "payer": {"id": "acme", "request_identifier": "req-1", "reference": null, "review_action": null},
        "authorization": null, "reasons": [], "findings": [], "appeal": null
    })
}

fn progress(step: &str, at: &str, urgency: Option<&str>) -> Value {
    serde_json::json!({
        "schema": "preauth.progress.v1",
        "progress_id": format!("p-{step}-{at}"),
        "event_id": "evt-1", "case_id": "C-1", "step": step, "at": at, "sequence": 0,
        "payer": null, "urgency": urgency, "operation": null, "attempt": 1,
        "retry": null, "parked": null, "replays": 0
    })
}

fn parsed(v: &Value) -> Message {
    parse(&serde_json::to_vec(v).expect("json")).expect("an event of ours")
}

#[test]
fn an_outcome_and_a_progress_event_are_told_apart_by_their_schema() {
    let o = parsed(&outcome("approved", 1000, "o-1"));
    assert_eq!(
        (o.kind, o.step.as_str(), o.sequence),
        (Kind::Outcome, "approved", 1000)
    );
    assert_eq!(
        o.decision.as_ref().map(|d| d.status.as_str()),
        Some("approved")
    );
    let p = parsed(&progress(
        "submitted",
        "2026-03-01T09:00:00Z",
        Some("expedited"),
    ));
    assert_eq!((p.kind, p.step.as_str()), (Kind::Progress, "submitted"));
    assert_eq!(p.urgency.as_deref(), Some("expedited"));
    assert!(p.decision.is_none());
}

#[test]
fn what_is_not_an_event_of_ours_is_refused_with_a_code_and_no_value() {
    assert_eq!(parse(b"not json"), Err(Unreadable::NotJson));
    assert_eq!(
        parse(br#"{"schema":"other"}"#),
        Err(Unreadable::UnknownSchema)
    );
    assert_eq!(
        parse(br#"{"schema":"preauth.outcome.v1","event_id":"x"}"#),
        Err(Unreadable::NotAnOutcome)
    );
    let mut nul = outcome("approved", 1, "o-1");
    nul["findings"] =
        serde_json::json!([{"rule": "X", "severity": "error", "path": "a\u{0}", "message": "m"}]);
    assert_eq!(
        parse(&serde_json::to_vec(&nul).expect("json")),
        Err(Unreadable::Nul)
    );
    let mut huge = outcome("approved", u64::MAX, "o-1");
    huge["sequence"] = serde_json::json!(u64::MAX);
    assert_eq!(
        parse(&serde_json::to_vec(&huge).expect("json")),
        Err(Unreadable::OutOfRange)
    );
    let mut empty = outcome("approved", 1, "");
    empty["outcome_id"] = "".into();
    assert_eq!(
        parse(&serde_json::to_vec(&empty).expect("json")),
        Err(Unreadable::OutOfRange)
    );
    assert_eq!(Unreadable::NotJson.to_string(), "not-json");
}

#[test]
fn the_fold_of_a_batch_does_not_depend_on_the_order_of_arrival() {
    let failed = parsed(&outcome("failed", 3_000, "o-failed"));
    let approved = parsed(&outcome("approved", 4_000, "o-approved"));
    let received = parsed(&progress("received", "2026-03-01T08:00:00Z", None));
    let first = parsed(&progress(
        "submitted",
        "2026-03-01T08:00:02Z",
        Some("standard"),
    ));
    let second = parsed(&progress(
        "submitted",
        "2026-03-01T09:00:00Z",
        Some("expedited"),
    ));
    let all = [failed, approved, received, first, second];
    // Every order of the five.
    let mut orders = vec![vec![]];
    for _ in 0..all.len() {
        orders = orders
            .into_iter()
            .flat_map(|o: Vec<usize>| {
                (0..all.len())
                    .filter(|i| !o.contains(i))
                    .map(|i| {
                        let mut n = o.clone();
                        n.push(i);
                        n
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    assert_eq!(orders.len(), 120);
    let reference = fold(&all);
    let f = &reference["evt-1"];
    assert_eq!(
        f.decision.map(|(s, d)| (s, d.status.as_str())),
        Some((4_000, "approved"))
    );
    assert_eq!(f.received_at.to_rfc3339(), "2026-03-01T08:00:00+00:00");
    assert_eq!(
        f.submitted.map(|(at, u)| (at.to_rfc3339(), u)),
        Some(("2026-03-01T08:00:02+00:00".to_owned(), Some("standard")))
    );
    for order in orders {
        let batch: Vec<Message> = order.iter().map(|i| all[*i].clone()).collect();
        assert_eq!(fold(&batch), reference, "order {order:?}");
    }
}

#[test]
fn the_replays_of_an_outcome_are_read_from_its_sequence() {
    let o = parsed(&outcome("approved", 2_000_001_000, "o-1"));
    assert_eq!(o.replays, 2);
}

#[test]
fn every_progress_step_the_worker_publishes_is_read_with_its_ids_payer_and_urgency() {
    use crate::case::{Progress as Published, ProgressPayer as PublishedPayer, Step, Urgency};
    let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    for step in Step::ALL {
        let mut event = Published::new(step, "C-7", "evt-7", at, 2_000, 1, 2);
        event.payer = Some(PublishedPayer {
            id: "acme".into(),
            request_identifier: "req-7".into(),
            reference: Some("PA-1".into()),
        });
        event.urgency = Some(Urgency::Expedited);
        let m = parse(&serde_json::to_vec(&event).expect("json")).expect("read");
        assert_eq!(m.kind, Kind::Progress, "{step:?}");
        assert_eq!(m.message_id, event.progress_id);
        assert_eq!((m.case_id.as_str(), m.event_id.as_str()), ("C-7", "evt-7"));
        assert_eq!(m.step, step.as_str());
        assert_eq!((m.sequence, m.at, m.replays), (2_000, at, 1));
        assert_eq!(m.payer_id.as_deref(), Some("acme"));
        assert_eq!(m.request_identifier.as_deref(), Some("req-7"));
        assert_eq!(m.payer_reference.as_deref(), Some("PA-1"));
        assert_eq!(m.urgency.as_deref(), Some("expedited"));
    }
}

#[test]
fn an_oversized_payer_reference_or_authorization_number_is_refused_not_written() {
    let mut long = outcome("approved", 1, "o-long");
    long["payer"]["reference"] = "R".repeat(5_000).into();
    let body = serde_json::to_vec(&long).expect("json");
    assert_eq!(parse(&body), Err(Unreadable::OutOfRange));
    let mut auth = outcome("approved", 1, "o-auth");
    auth["authorization"] = serde_json::json!({
        "number": "A".repeat(5_000), "valid_from": null, "valid_to": null,
        "approved_units": 1, "patient_responsibility": null, "partial": false
    });
    let body = serde_json::to_vec(&auth).expect("json");
    assert_eq!(parse(&body), Err(Unreadable::OutOfRange));
    let mut urgent = progress("submitted", "2026-03-01T10:00:00Z", None);
    urgent["urgency"] = "u".repeat(5_000).into();
    let body = serde_json::to_vec(&urgent).expect("json");
    assert_eq!(parse(&body), Err(Unreadable::OutOfRange));
}
