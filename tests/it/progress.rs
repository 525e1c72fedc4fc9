//! Progress events (`preauth.progress.v1`) over the real broker: their order beside the
//! outcomes, that no case waits for them, the pause of a step nothing is bound to, retries,
//! replays, and deleting a parked message.

use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::BasicProperties;
use serde_json::Value;

use crate::broker::{count_terminal, settings_from, Broker, InProcessWorker};
use crate::parked_command::parked_cli;
use crate::support::{read_json, root};
use crate::worker::{case, env_with};

/// One message taken from a test queue.
#[derive(Debug, Clone)]
struct Msg {
    routing_key: String,
    body: Value,
    message_id: Option<String>,
    correlation_id: Option<String>,
    kind: Option<String>,
    delivery_mode: Option<u8>,
}

/// Declares `<prefix>.<name>` bound to the outcomes exchange with each of `keys`.
pub(crate) async fn bound_queue(b: &Broker, name: &str, keys: &[&str]) -> String {
    let queue = format!("{}.{name}", b.prefix);
    b.channel
        .queue_declare(
            ShortString::from(queue.as_str()),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare");
    for key in keys {
        b.channel
            .queue_bind(
                ShortString::from(queue.as_str()),
                ShortString::from(b.outcomes_exchange().as_str()),
                ShortString::from(*key),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
    }
    queue
}

/// Takes messages from `queue` until `done` says enough or `timeout` passes.
async fn take(
    b: &Broker,
    queue: &str,
    timeout: Duration,
    done: impl Fn(&[Msg]) -> bool,
) -> Vec<Msg> {
    let mut got = Vec::new();
    let deadline = Instant::now() + timeout;
    while !done(&got) && Instant::now() < deadline {
        match b
            .channel
            .basic_get(ShortString::from(queue), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            Some(m) => {
                let d = &m.delivery;
                let p = &d.properties;
                let text = |v: &Option<ShortString>| v.as_ref().map(|s| s.as_str().to_owned());
                got.push(Msg {
                    routing_key: d.routing_key.as_str().to_owned(),
                    body: serde_json::from_slice(&d.data).expect("JSON"),
                    message_id: text(p.message_id()),
                    correlation_id: text(p.correlation_id()),
                    kind: text(p.kind()),
                    delivery_mode: *p.delivery_mode(),
                });
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    got
}

fn has_outcome(got: &[Msg], status: &str) -> bool {
    got.iter()
        .any(|m| m.routing_key == format!("outcome.{status}"))
}

fn keys(got: &[Msg]) -> Vec<&str> {
    got.iter().map(|m| m.routing_key.as_str()).collect()
}

/// Every progress message has the contract's properties and validates against the schema.
fn check_progress(got: &[Msg]) {
    let schema = read_json(&root().join("schemas/preauth.progress.v1.schema.json"));
    let v = jsonschema::validator_for(&schema).expect("schema");
    for m in got
        .iter()
        .filter(|m| m.routing_key.starts_with("progress."))
    {
        let errs: Vec<String> = v.iter_errors(&m.body).map(|e| e.to_string()).collect();
        assert!(errs.is_empty(), "{}: {errs:?}", m.body);
        assert_eq!(
            m.routing_key,
            format!("progress.{}", m.body["step"].as_str().unwrap_or_default())
        );
        assert_eq!(m.message_id.as_deref(), m.body["progress_id"].as_str());
        assert_eq!(m.correlation_id.as_deref(), m.body["event_id"].as_str());
        assert_eq!(m.kind.as_deref(), Some("preauth.progress.v1"));
        assert_eq!(m.delivery_mode, Some(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_sent_to_the_payer_yields_received_submitted_then_its_outcome_under_one_correlation_id(
) {
    let mut b = Broker::new().await;
    let ledger = bound_queue(&b, "ledger", &["outcome.#", "progress.#"]).await;
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let c = case(1, "progress");
    b.publish_case(&c).await;
    let got = take(&b, &ledger, Duration::from_secs(30), |g| {
        has_outcome(g, "approved")
    })
    .await;
    assert_eq!(
        keys(&got),
        [
            "progress.received",
            "progress.submitted",
            "outcome.approved"
        ],
        "{}",
        worker.logs()
    );
    let event_id = c["event_id"].as_str();
    assert!(got.iter().all(|m| m.correlation_id.as_deref() == event_id));
    check_progress(&got);
    let submitted = &got[1].body;
    assert_eq!(submitted["attempt"], 1);
    assert_eq!(submitted["operation"], "submit");
    assert_eq!(submitted["urgency"], c["urgency"]);
    assert_eq!(
        submitted["payer"]["request_identifier"],
        got[2].body["payer"]["request_identifier"]
    );
    // A consumer bound only to outcome.# gets what it got before: the outcome, nothing else.
    let outcomes = b
        .collect(Duration::from_secs(5), |g| count_terminal(g) >= 1)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rest = b.collect(Duration::from_millis(300), |_| false).await;
    let all: Vec<&str> = outcomes
        .iter()
        .chain(&rest)
        .map(|r| r.routing_key.as_str())
        .collect();
    assert_eq!(all, ["outcome.approved"]);
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_bound_to_progress_every_case_still_completes_with_one_outcome_each() {
    let mut b = Broker::new().await;
    // A short hold: were a returned progress event a failed publish, the cases would be
    // returned unanswered. A short pause: probes (returned) keep going out among the other
    // deliveries' outcomes (routed), and no return may be taken for an outcome's.
    let env = env_with(
        &b,
        &[
            ("PREAUTH__AMQP__PUBLISH_HOLD", "1s"),
            ("PREAUTH__OUTCOMES__UNBOUND_PROGRESS_PAUSE", "20ms"),
        ],
    );
    let worker = InProcessWorker::start_ready(&env, None).await;
    let n = 60;
    for i in 0..n {
        b.publish_case(&case(i, "unbound-progress")).await;
    }
    let mut got = b
        .collect(Duration::from_secs(60), |g| count_terminal(g) >= n)
        .await;
    assert_eq!(count_terminal(&got), n);
    assert_eq!(b.wait_settled(&b.work_queue()).await, (0, 0));
    // Nothing more comes: every outcome was published once.
    got.extend(b.collect(Duration::from_millis(500), |_| false).await);
    assert!(got.iter().all(|r| r.routing_key.starts_with("outcome.")));
    let ids: std::collections::BTreeSet<_> = got.iter().map(|r| r.message_id.clone()).collect();
    assert_eq!((got.len(), ids.len()), (n, n), "repeated outcomes");
    worker.stop().await;
    b.cleanup().await;
}

/// A worker with `outcomes.unbound_progress_pause = pause` answers one case while nothing is
/// bound to `progress.#` (its progress events, if sent, come back unroutable); then a ledger's
/// queue is bound. Returns the worker and that queue.
async fn one_case_before_a_ledger_binds(
    b: &mut Broker,
    pause: &str,
    tag: &str,
) -> (InProcessWorker, String) {
    let env = env_with(b, &[("PREAUTH__OUTCOMES__UNBOUND_PROGRESS_PAUSE", pause)]);
    let worker = InProcessWorker::start_ready(&env, None).await;
    b.publish_case(&case(1, tag)).await;
    let first = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(count_terminal(&first), 1, "{}", worker.logs());
    let ledger = bound_queue(b, "ledger", &["outcome.#", "progress.#"]).await;
    (worker, ledger)
}

/// Publishes case `n` and returns the routing keys of what `ledger` got for it, up to its
/// outcome; checks that every message is the case's and every progress event the contract's.
async fn ledger_keys_for_case(b: &Broker, ledger: &str, n: usize, tag: &str) -> Vec<String> {
    let c = case(n, tag);
    b.publish_case(&c).await;
    let got = take(b, ledger, Duration::from_secs(30), |g| {
        has_outcome(g, "approved")
    })
    .await;
    assert!(got
        .iter()
        .all(|m| m.correlation_id.as_deref() == c["event_id"].as_str()));
    check_progress(&got);
    keys(&got).into_iter().map(str::to_owned).collect()
}

const EVERY_STEP: [&str; 3] = [
    "progress.received",
    "progress.submitted",
    "outcome.approved",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_nothing_is_bound_to_is_not_published_again_while_its_pause_lasts() {
    let mut b = Broker::new().await;
    let (worker, ledger) = one_case_before_a_ledger_binds(&mut b, "10m", "paused").await;
    // The queue bound now gets the next case's outcome, but none of its progress events: the
    // first case's probe found nothing bound, and the next probe is ten minutes away.
    let got = ledger_keys_for_case(&b, &ledger, 2, "paused").await;
    assert_eq!(got, ["outcome.approved"], "{}", worker.logs());
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_bound_to_progress_gets_every_step_once_the_pause_is_over() {
    let mut b = Broker::new().await;
    let (worker, ledger) = one_case_before_a_ledger_binds(&mut b, "1s", "resumed").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Past the pause: the next case probes, finds the queue, and every step is sent from then on.
    for n in 2..=3 {
        let got = ledger_keys_for_case(&b, &ledger, n, "resumed").await;
        assert_eq!(got, EVERY_STEP, "case {n}: {}", worker.logs());
    }
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_pause_every_step_is_published_even_when_nothing_was_bound() {
    let mut b = Broker::new().await;
    let (worker, ledger) = one_case_before_a_ledger_binds(&mut b, "0s", "unpaused").await;
    let got = ledger_keys_for_case(&b, &ledger, 2, "unpaused").await;
    assert_eq!(got, EVERY_STEP, "{}", worker.logs());
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_can_be_turned_off() {
    let b = Broker::new().await;
    let ledger = bound_queue(&b, "ledger", &["outcome.#", "progress.#"]).await;
    let env = env_with(&b, &[("PREAUTH__OUTCOMES__PROGRESS", "false")]);
    let worker = InProcessWorker::start_ready(&env, None).await;
    b.publish_case(&case(1, "progress-off")).await;
    let got = take(&b, &ledger, Duration::from_secs(30), |g| {
        has_outcome(g, "approved")
    })
    .await;
    assert_eq!(keys(&got), ["outcome.approved"]);
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_payer_failure_yields_retry_scheduled_with_its_tier() {
    let b = Broker::new().await;
    let ledger = bound_queue(&b, "ledger", &["outcome.#", "progress.#"]).await;
    let env = env_with(&b, &[("PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES", "1")]);
    let worker = InProcessWorker::start_ready(&env, None).await;
    b.publish_case(&case(1, "progress-retry")).await;
    let got = take(&b, &ledger, Duration::from_secs(30), |g| {
        has_outcome(g, "approved")
    })
    .await;
    assert_eq!(
        keys(&got),
        [
            "progress.received",
            "progress.submitted",
            "progress.retry-scheduled",
            "progress.submitted",
            "outcome.approved"
        ]
    );
    check_progress(&got);
    let retry = &got[2].body;
    assert_eq!(retry["retry"]["tier"], "1s");
    assert_eq!(retry["retry"]["reason"], "payer-unavailable");
    assert_eq!(retry["attempt"], 1);
    assert_eq!(got[3].body["attempt"], 2);
    assert_ne!(got[1].body["progress_id"], got[3].body["progress_id"]);
    worker.stop().await;
    b.cleanup().await;
}

/// Puts `bodies` in the parking queue (the worker declared it), in order, each with the routing
/// key it arrived with, as the worker records it on a message it parks without state.
async fn park(b: &Broker, bodies: &[Vec<u8>]) {
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from("x-preauth-routing-key"),
        lapin::types::AMQPValue::LongString("case.submitted".into()),
    );
    for body in bodies {
        b.channel
            .basic_publish(
                ShortString::from(""),
                ShortString::from(b.parking_queue().as_str()),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_headers(headers.clone()),
            )
            .await
            .expect("publish")
            .await
            .expect("confirmed");
    }
    let n = u32::try_from(bodies.len()).expect("few");
    assert_eq!(b.wait_depth(&b.parking_queue(), n).await, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_replay_yields_progress_replayed_and_the_replayed_events_new_outcomes() {
    let b = Broker::new().await;
    let ledger = bound_queue(&b, "ledger", &["outcome.#", "progress.#"]).await;
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let c = case(3, "progress-replay");
    park(&b, &[serde_json::to_vec(&c).expect("json")]).await;
    let case_id = c["case_id"].as_str().expect("case id");
    let out = parked_cli(&b.env(), &["replay", "--case", case_id]);
    assert!(out.contains("replayed 1 message"), "{out}");
    let got = take(&b, &ledger, Duration::from_secs(30), |g| {
        has_outcome(g, "approved")
    })
    .await;
    assert_eq!(
        keys(&got),
        [
            "progress.replayed",
            "progress.received",
            "progress.submitted",
            "outcome.approved"
        ]
    );
    check_progress(&got);
    assert!(got.iter().all(|m| m.body["event_id"] == c["event_id"]));
    for m in &got[..3] {
        assert_eq!(m.body["replays"], 1, "{}", m.body);
    }
    // The outcome of the replay ranks after everything of the first series.
    assert!(got[3].body["sequence"].as_u64() >= got[0].body["sequence"].as_u64());
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_delete_by_fingerprint_removes_exactly_one_message_and_peek_shows_it() {
    let b = Broker::new().await;
    // The worker declares the parking queue; nothing it consumes is published here.
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let cases: Vec<Value> = (0..3).map(|n| case(n, "progress-delete")).collect();
    let bodies: Vec<Vec<u8>> = cases
        .iter()
        .map(|c| serde_json::to_vec(c).expect("json"))
        .collect();
    park(&b, &bodies).await;
    let env = b.env();
    let list = |env: &[(String, String)]| -> Vec<Value> {
        parked_cli(env, &["list", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    };
    let listed = list(&env);
    assert_eq!(listed.len(), 3);
    let fingerprint = listed[1]["fingerprint"].as_str().expect("fingerprint");
    assert_eq!(fingerprint.len(), 16);

    // An operator looks inside it first: headers and body, nothing removed.
    let settings = settings_from(&env, None);
    let selection = preauth_worker::amqp::parked::Selection::Fingerprint(fingerprint.to_owned());
    let peeked = preauth_worker::amqp::parked::peek(&settings, &selection)
        .await
        .expect("peek")
        .expect("found");
    assert_eq!(peeked.info.case_id.as_deref(), cases[1]["case_id"].as_str());
    assert_eq!(peeked.body.as_bytes(), bodies[1].as_slice());
    assert!(!peeked.body_truncated);
    assert_eq!(b.wait_depth(&b.parking_queue(), 3).await, 3);

    let out = parked_cli(&env, &["delete", "--fingerprint", fingerprint]);
    assert!(out.contains("deleted 1 message"), "{out}");
    assert_eq!(b.wait_depth(&b.parking_queue(), 2).await, 2);
    let left: Vec<Value> = list(&env);
    let left_ids: Vec<&Value> = left.iter().map(|i| &i["case_id"]).collect();
    assert_eq!(left_ids, [&cases[0]["case_id"], &cases[2]["case_id"]]);
    // The fingerprints of the others did not change; the deleted one is gone.
    assert_eq!(left[0]["fingerprint"], listed[0]["fingerprint"]);
    assert_eq!(left[1]["fingerprint"], listed[2]["fingerprint"]);
    let again = parked_cli(&env, &["delete", "--fingerprint", fingerprint]);
    assert!(again.contains("deleted 0 message"), "{again}");
    worker.stop().await;
    b.cleanup().await;
}
