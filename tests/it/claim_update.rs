//! Updates and cancellations over the real broker, against the built-in simulated payer: each
//! reaches its outcome under its own request identifier, and its routing key must agree with
//! its kind.

use std::time::Duration;

use serde_json::Value;

use preauth_worker::ids::request_identifier;

use crate::broker::{terminal_by_event, Broker, InProcessWorker};
use crate::support::{examples, read_json};

fn example(name: &str, tag: &str) -> Value {
    let mut v = read_json(&examples().join(name));
    let event = v["event_id"].as_str().unwrap_or_default().to_owned();
    v["event_id"] = Value::from(format!("{tag}-{event}"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_and_a_cancel_reach_their_outcomes_under_their_own_request_identifiers() {
    let mut b = Broker::new().await;
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let update = example("16-update-moved-date-pended-approved.json", "it");
    let cancel = example("17-cancel-cancelled.json", "it");
    b.publish_case(&update).await;
    b.publish_case(&cancel).await;
    let got = b
        .collect(Duration::from_secs(60), |g| terminal_by_event(g).len() >= 2)
        .await;
    let terminal = terminal_by_event(&got);
    for (event, operation, status) in [
        (&update, "update", "approved"),
        (&cancel, "cancel", "cancelled"),
    ] {
        let event_id = event["event_id"].as_str().expect("event_id");
        let case_id = event["case_id"].as_str().expect("case_id");
        let o = &terminal[event_id][0].body;
        assert_eq!(o["status"], status, "{o}\n{}", worker.logs());
        assert_eq!(
            o["payer"]["request_identifier"],
            request_identifier(case_id, event_id, operation).as_str(),
            "{o}"
        );
        assert_eq!(
            terminal[event_id][0].routing_key,
            format!("outcome.{status}")
        );
    }
    let cancelled = &terminal[cancel["event_id"].as_str().expect("id")][0].body;
    assert_eq!(cancelled["payer"]["review_action"], "C");
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_published_as_a_submission_is_rejected_for_its_routing_key() {
    let mut b = Broker::new().await;
    let _worker = InProcessWorker::start_ready(&b.env(), None).await;
    let update = example("16-update-moved-date-pended-approved.json", "key");
    b.publish(
        "case.submitted",
        &serde_json::to_vec(&update).expect("json"),
    )
    .await;
    let got = b
        .collect(Duration::from_secs(30), |g| {
            !terminal_by_event(g).is_empty()
        })
        .await;
    let terminal = terminal_by_event(&got);
    let o = &terminal[update["event_id"].as_str().expect("id")][0].body;
    assert_eq!(o["status"], "rejected");
    assert_eq!(o["findings"][0]["rule"], "DEC-03");
    assert_eq!(o["findings"][0]["path"], "kind");
    b.cleanup().await;
}
