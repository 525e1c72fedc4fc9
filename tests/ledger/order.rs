//! The order of arrival does not change a case event's state: a failed outcome and a
//! higher-sequence approval (and the progress around them), written in every order, one message
//! per transaction or all in one, end in the same row.

use serde_json::{json, Value};
use sqlx::PgPool;

use preauth_worker::ledger::message::{parse, Message};
use preauth_worker::ledger::store;

use crate::support::TestDb;

fn events(event: &str) -> Vec<Value> {
    let payer = |reference: Value| json!({"id": "acme", "request_identifier": "req-1", "reference": reference, "review_action": null});
    let progress = |step: &str, at: &str, urgency: Value, n: u32| {
        json!({
            "schema": "preauth.progress.v1", "progress_id": format!("{event}-p-{step}-{n}"),
            "event_id": event, "case_id": "C-ORDER", "step": step, "at": at, "sequence": 0,
            "payer": {"id": "acme", "request_identifier": "req-1", "reference": null},
            "urgency": urgency, "operation": "submit", "attempt": n, "retry": null,
            "parked": null, "replays": 0
        })
    };
    vec![
        progress("received", "2026-03-01T08:00:00Z", Value::Null, 0),
        progress("submitted", "2026-03-01T08:00:02Z", json!("expedited"), 1),
        progress("submitted", "2026-03-01T09:00:00Z", json!("standard"), 2),
        json!({
            "schema": "preauth.outcome.v1", "outcome_id": format!("{event}-o-failed"),
            "event_id": event, "case_id": "C-ORDER", "status": "failed",
            "decided_at": "2026-03-01T08:30:00Z", "sequence": 3000, "attempts": 3,
            "payer": payer(Value::Null), "authorization": null,
            "reasons": [{"code": "retries-exhausted", "system": "urn:preauth-worker:reason", "text": "The payer could not be reached."}],
            "findings": [], "appeal": null
        }),
        json!({
            "schema": "preauth.outcome.v1", "outcome_id": format!("{event}-o-approved"),
            "event_id": event, "case_id": "C-ORDER", "status": "approved",
            "decided_at": "2026-03-01T10:00:00Z", "sequence": 1_000_004_000u64, "attempts": 4,
            "payer": payer(json!("REF-9")),
            "authorization": {"number": "AUTH-1", "valid_from": "2026-03-01", "valid_to": "2026-05-30",
                "approved_units": 2, "patient_responsibility": "20% coinsurance", "partial": false},
            "reasons": [], "findings": [], "appeal": null
        }),
    ]
}

fn messages(event: &str) -> Vec<Message> {
    events(event)
        .iter()
        .map(|v| parse(&serde_json::to_vec(v).expect("json")).expect("ours"))
        .collect()
}

/// The row of one case event, every column but its key and `updated_at`, as JSON (the
/// outcome id, made from the event id here, as its last part).
async fn row(pool: &PgPool, event: &str) -> Value {
    let v: Value = sqlx::query_scalar(
        "SELECT to_jsonb(t) - 'event_id' - 'updated_at'
             || jsonb_build_object('outcome_id', substr(outcome_id, length(event_id) + 2))
         FROM ledger_case_events t WHERE event_id = $1",
    )
    .bind(event)
    .fetch_one(pool)
    .await
    .expect("a row");
    v
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for _ in 0..n {
        out = out
            .into_iter()
            .flat_map(|o: Vec<usize>| {
                (0..n)
                    .filter(|i| !o.contains(i))
                    .map(|i| {
                        let mut next = o.clone();
                        next.push(i);
                        next
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_of_arrival_does_not_change_the_final_state() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // The reference: everything in one batch.
    store::write(&pool, &messages("ref")).await.expect("write");
    let reference = row(&pool, "ref").await;
    assert_eq!(reference["status"], "approved");
    assert_eq!(reference["outcome_id"], "o-approved");
    assert_eq!(reference["sequence"], 1_000_004_000i64);
    assert_eq!(reference["payer_reference"], "REF-9");
    assert_eq!(reference["authorization_number"], "AUTH-1");
    assert_eq!(reference["reasons"], json!([]));
    assert_eq!(reference["replays"], 1);
    assert_eq!(reference["urgency"], "expedited");
    assert!(reference["received_at"]
        .as_str()
        .unwrap_or_default()
        .starts_with("2026-03-01T08:00:00"));
    assert!(reference["submitted_at"]
        .as_str()
        .unwrap_or_default()
        .starts_with("2026-03-01T08:00:02"));
    // Every order of the five messages, one transaction each, and each order again as one
    // batch (folded in memory), and a redelivery of all of them after.
    for (n, order) in permutations(5).into_iter().enumerate() {
        let event = format!("one-by-one-{n}");
        let all = messages(&event);
        for i in &order {
            store::write(&pool, std::slice::from_ref(&all[*i]))
                .await
                .expect("write");
        }
        assert_eq!(
            row(&pool, &event).await,
            reference,
            "order {order:?}, one by one"
        );
        let event = format!("batch-{n}");
        let all = messages(&event);
        let batch: Vec<Message> = order.iter().map(|i| all[*i].clone()).collect();
        store::write(&pool, &batch).await.expect("write");
        store::write(&pool, &batch[..2]).await.expect("rewrite");
        assert_eq!(
            row(&pool, &event).await,
            reference,
            "order {order:?}, one batch"
        );
    }
    // The approved outcome first, the failed one after, in two batches: still approved.
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ledger_case_events WHERE status <> 'approved'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(count, 0);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(events, 5 * (1 + 2 * 120));
    pool.close().await;
}
