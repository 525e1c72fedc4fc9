//! `preauth-worker run` against the real broker: random names per test, a real worker process.

use crate::support::PAYER_IDENTITY;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use preauth_worker::amqp::FAULT_EXIT_CODE;
use preauth_worker::payer::sim::server::{Scenario, SimHandle};
use preauth_worker::payer::sim::Faults;

use crate::broker::{
    count_terminal, current_state, terminal_by_event, Broker, InProcessWorker, Received,
    WorkerProcess,
};
use crate::parked_command::parked_cli;
use crate::support::{example_files, examples, payer_sim, read_json};

pub(crate) fn env_with(b: &Broker, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = b.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// A copy of the contract example with fresh ids.
pub(crate) fn case(n: usize, tag: &str) -> Value {
    let mut v = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    v["event_id"] = Value::from(format!("{tag}-event-{n:05}"));
    v["case_id"] = Value::from(format!("{tag}-case-{n:05}"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_yields_exactly_one_terminal_outcome_with_the_contract_properties() {
    let mut b = Broker::new().await;
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let files = example_files();
    let mut expected = BTreeMap::new();
    for file in &files {
        let case = read_json(file);
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        expected.insert(
            case["event_id"].as_str().unwrap_or_default().to_owned(),
            name,
        );
        b.publish_case(&case).await;
    }
    let n = files.len();
    let got = b
        .collect(Duration::from_secs(60), |got| count_terminal(got) >= n)
        .await;
    let terminal = terminal_by_event(&got);
    assert_eq!(terminal.len(), n, "worker log:\n{}", worker.logs());
    for (event_id, outcomes) in &terminal {
        let name = &expected[event_id];
        assert_eq!(outcomes.len(), 1, "{name}: {outcomes:?}");
        let o = &outcomes[0];
        let status = o.body["status"].as_str().unwrap_or_default();
        let want = [
            "approved",
            "rejected",
            "appeal-needed",
            "denied",
            "failed",
            "cancelled",
        ]
        .into_iter()
        .find(|s| name.ends_with(s))
        .unwrap_or(if name.contains("partial") {
            "approved"
        } else {
            "?"
        });
        assert_eq!(status, want, "{name}");
        assert_eq!(
            o.message_id.as_deref(),
            o.body["outcome_id"].as_str(),
            "{name}: message_id"
        );
        assert_eq!(
            o.correlation_id.as_deref(),
            Some(event_id.as_str()),
            "{name}: correlation_id"
        );
        assert_eq!(o.delivery_mode, Some(2), "{name}: persistent");
        assert_eq!(o.content_type.as_deref(), Some("application/json"));
        assert_eq!(o.kind.as_deref(), Some("preauth.outcome.v1"));
        assert_eq!(o.routing_key, format!("outcome.{status}"));
    }
    // The pended example went through a delay tier and was followed up.
    assert!(
        got.iter().any(|r| r.body["status"] == "pended"),
        "no pended event"
    );
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_parked_with_its_reason_and_the_next_case_still_flows() {
    let mut b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&env_with(
        &b,
        &[("PREAUTH__AMQP__MAX_MESSAGE_BYTES", "4096")],
    ))
    .await;
    b.publish("case.submitted", b"this is not json {").await;
    b.publish("case.submitted", br#"{"event_id": "e-no-case"}"#)
        .await;
    b.publish("case.submitted", &vec![b'x'; 10_000]).await;
    let mut wrong_key = case(1, "poison");
    wrong_key["event_id"] = Value::from("poison-wrong-key");
    b.publish(
        "case.appeal",
        &serde_json::to_vec(&wrong_key).expect("json"),
    )
    .await;
    b.publish_case(&case(2, "poison")).await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 2)
        .await;
    let terminal = terminal_by_event(&got);
    assert_eq!(
        terminal["poison-event-00002"][0].body["status"],
        "approved",
        "{}",
        worker.logs()
    );
    let wrong = &terminal["poison-wrong-key"][0].body;
    assert_eq!(wrong["status"], "rejected");
    assert_eq!(wrong["findings"][0]["rule"], "DEC-03");
    // What an operator sees: the oversized one was rejected to the broker, which moved it
    // (the worker sent no copy of it), and is named by its size.
    assert_eq!(
        b.wait_depth(&b.parking_queue(), 3).await,
        3,
        "{}",
        worker.logs()
    );
    let env = env_with(&b, &[("PREAUTH__AMQP__MAX_MESSAGE_BYTES", "4096")]);
    let listed: Vec<Value> = parked_cli(&env, &["list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let reasons: BTreeSet<String> = listed
        .iter()
        .map(|p| p["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        reasons,
        BTreeSet::from([
            "not-json".to_owned(),
            "no-case-id".to_owned(),
            "too-large".to_owned()
        ]),
        "{listed:?}"
    );
    let large = listed
        .iter()
        .find(|p| p["reason"] == "too-large")
        .expect("listed");
    assert_eq!(large["detail"], "body is 10000 bytes; the limit is 4096");
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_messages_keep_their_body_untouched_with_a_detail_line() {
    let b = Broker::new().await;
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let body = b"[1, 2, 3]".to_vec();
    b.publish("case.submitted", &body).await;
    let parked = b.wait_parked(1).await;
    assert_eq!(parked.len(), 1, "{}", worker.logs());
    assert_eq!(parked[0].body, body);
    assert_eq!(parked[0].reason.as_deref(), Some("not-an-object"));
    assert!(parked[0].detail.as_deref().is_some_and(|d| !d.is_empty()));
    worker.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_that_fails_transiently_goes_through_the_delay_tiers_and_is_approved() {
    let mut b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&env_with(
        &b,
        &[("PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES", "2")],
    ))
    .await;
    b.publish_case(&case(1, "transient")).await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got.len(), 1, "{}", worker.logs());
    assert_eq!(got[0].body["status"], "approved");
    assert_eq!(got[0].body["attempts"], 3);
    let logs = worker.logs();
    assert_eq!(
        logs.matches("Moved the case event to the delay tier.")
            .count(),
        2,
        "{logs}"
    );
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_that_never_recovers_gives_a_failed_outcome_and_a_parked_copy() {
    let mut b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&env_with(
        &b,
        &[("PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES", "1000")],
    ))
    .await;
    let c = case(1, "never");
    b.publish_case(&c).await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got.len(), 1, "{}", worker.logs());
    assert_eq!(got[0].body["status"], "failed");
    assert_eq!(got[0].body["reasons"][0]["code"], "retries-exhausted");
    let parked = b.wait_parked(1).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].reason.as_deref(), Some("retries-exhausted"));
    let body: Value =
        serde_json::from_slice(&parked[0].body).expect("parked copy is the case event");
    assert_eq!(body["event_id"], c["event_id"]);
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_exchange_with_nothing_bound_leaves_the_input_unacked_and_is_reported() {
    let mut b = Broker::new().await;
    b.unbind_outcomes().await;
    let mut worker =
        WorkerProcess::start_ready(&env_with(&b, &[("PREAUTH__AMQP__PUBLISH_HOLD", "1s")])).await;
    b.publish_case(&case(1, "unbound")).await;
    assert!(
        worker
            .wait_for_log("could not be published", Duration::from_secs(20))
            .await,
        "{}",
        worker.logs()
    );
    assert!(
        worker.logs().contains("nothing is bound"),
        "{}",
        worker.logs()
    );
    worker.kill();
    // Not acked: the case is still in the work queue.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.depth(&b.work_queue()).await, 1);
    // Bind the outcomes again and start a worker: the case now gets its outcome.
    b.bind_outcomes().await;
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got.len(), 1, "{}", worker.logs());
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_declared_with_other_arguments_stops_the_worker_with_a_clear_error() {
    let b = Broker::new().await;
    // A classic work queue where the worker wants a quorum one.
    b.channel
        .queue_declare(
            lapin::types::ShortString::from(b.work_queue().as_str()),
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("declare classic queue");
    let mut worker = WorkerProcess::start(&b.env());
    let status = worker
        .wait_exit(Duration::from_secs(20))
        .expect("the worker exits");
    assert_eq!(
        status.code(),
        Some(i32::from(preauth_worker::exit::CONFIG)),
        "restarting cannot help: the configuration and the broker disagree"
    );
    let logs = worker.logs();
    assert!(
        logs.contains(&b.work_queue())
            && logs.contains("inequivalent arg")
            && logs.contains("other arguments"),
        "{logs}"
    );
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_cases_in_flight_exits_zero_within_the_grace_period_and_loses_nothing() {
    let mut b = Broker::new().await;
    let env = env_with(
        &b,
        &[
            ("PREAUTH__PAYERS__DEFAULT__LATENCY", "400ms"),
            ("PREAUTH__AMQP__PREFETCH", "20"),
            ("PREAUTH__AMQP__SHUTDOWN_GRACE", "10s"),
        ],
    );
    let mut worker = WorkerProcess::start_ready(&env).await;
    let n = 60;
    for i in 0..n {
        b.publish_case(&case(i, "term")).await;
    }
    let first = b
        .collect(Duration::from_secs(20), |g| count_terminal(g) >= 5)
        .await;
    assert!(count_terminal(&first) >= 5, "{}", worker.logs());
    let started = std::time::Instant::now();
    worker.signal("TERM");
    let status = worker
        .wait_exit(Duration::from_secs(15))
        .expect("exits within the grace period");
    assert!(status.success(), "{}", worker.logs());
    assert!(started.elapsed() < Duration::from_secs(11));
    assert!(worker.logs().contains("Shutting down"), "{}", worker.logs());
    // A second worker finishes the rest: every case has its outcome, none is lost.
    let second = WorkerProcess::start_ready(&b.env()).await;
    let rest = b
        .collect(Duration::from_secs(60), |g| {
            count_terminal(&[first.as_slice(), g].concat()) >= n
        })
        .await;
    let all = [first, rest].concat();
    let terminal = terminal_by_event(&all);
    assert_eq!(terminal.len(), n, "{}", second.logs());
    for outcomes in terminal.values() {
        let ids: BTreeSet<&str> = outcomes
            .iter()
            .filter_map(|o| o.body["outcome_id"].as_str())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "duplicates must share the outcome id: {outcomes:?}"
        );
    }
    drop(second);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_in_the_middle_of_a_thousand_cases_loses_none_after_restart() {
    let mut b = Broker::new().await;
    let env = env_with(&b, &[("PREAUTH__PAYERS__DEFAULT__LATENCY", "5ms")]);
    let n = 1000;
    let mut worker = WorkerProcess::start_ready(&env).await;
    for i in 0..n {
        b.publish_case(&case(i, "kill")).await;
    }
    let before = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 200)
        .await;
    worker.kill();
    assert!(
        count_terminal(&before) < n,
        "killed too late to prove anything"
    );
    let worker = WorkerProcess::start_ready(&env).await;
    let after = b
        .collect(Duration::from_secs(120), |g| {
            count_terminal(&[before.as_slice(), g].concat()) >= n
        })
        .await;
    let all = [before, after].concat();
    let terminal = terminal_by_event(&all);
    assert_eq!(terminal.len(), n, "lost cases; {}", worker.logs());
    for (event, outcomes) in &terminal {
        let ids: BTreeSet<&str> = outcomes
            .iter()
            .filter_map(|o| o.body["outcome_id"].as_str())
            .collect();
        assert_eq!(ids.len(), 1, "{event}: duplicates with different ids");
    }
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_named_with_what_to_do_and_retried_until_shutdown() {
    let env = vec![
        (
            "PREAUTH__AMQP__URL".to_owned(),
            "amqp://guest:secret@127.0.0.1:1/%2f".to_owned(),
        ),
        ("PREAUTH__LOG__FORMAT".to_owned(), "json".to_owned()),
    ];
    let mut worker = WorkerProcess::start(&env);
    assert!(
        worker
            .wait_for_log("Cannot reach RabbitMQ", Duration::from_secs(10))
            .await,
        "{}",
        worker.logs()
    );
    assert!(
        worker
            .wait_for_log("\"attempt\":2", Duration::from_secs(10))
            .await,
        "keeps retrying: {}",
        worker.logs()
    );
    let logs = worker.logs();
    // Jittered waits doubling from about a second: 0.5-1 s, then 1-2 s.
    let waits: Vec<(u64, u64)> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Cannot reach RabbitMQ"))
        })
        .filter_map(|l| Some((l["attempt"].as_u64()?, l["retry_in_ms"].as_u64()?)))
        .collect();
    assert!(waits.len() >= 2, "{logs}");
    assert_eq!((waits[0].0, waits[1].0), (1, 2), "{logs}");
    assert!((500..=1000).contains(&waits[0].1), "{waits:?}");
    assert!((1000..=2000).contains(&waits[1].1), "{waits:?}");
    assert!(
        logs.contains("127.0.0.1:1") && logs.contains("PREAUTH__AMQP__URL"),
        "{logs}"
    );
    assert!(
        !logs.contains("secret"),
        "the password must never be logged: {logs}"
    );
    assert!(
        worker.wait_exit(Duration::from_millis(100)).is_none(),
        "still running"
    );
    worker.signal("TERM");
    let status = worker
        .wait_exit(Duration::from_secs(10))
        .expect("exits on SIGTERM");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_too_many_times_is_parked_instead_of_looping() {
    let mut b = Broker::new().await;
    // A worker that never settles: it stops after publishing each terminal outcome, before the
    // ack, so the broker delivers the case again and again, counting.
    let looping = env_with(
        &b,
        &[
            ("PREAUTH__AMQP__DELIVERY_LIMIT", "3"),
            ("PREAUTH_FAULT_EXIT_AFTER_TERMINAL", "1"),
        ],
    );
    let mut parked = Vec::new();
    let mut logs = String::new();
    for round in 0..6 {
        let mut worker = WorkerProcess::start_ready(&looping).await;
        if round == 0 {
            // Once the worker has declared the topology, so the case is routed.
            b.publish_case(&case(1, "loop")).await;
        }
        for _ in 0..100 {
            if worker.wait_exit(Duration::from_millis(1)).is_some() {
                break;
            }
            parked.extend(b.parked().await);
            if !parked.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        logs.push_str(&worker.logs());
        if !parked.is_empty() {
            break;
        }
    }
    assert_eq!(parked.len(), 1, "{logs}");
    assert_eq!(parked[0].reason.as_deref(), Some("delivery-limit"));
    // Three deliveries answered (the same decision, the same id), the fourth parked.
    let got = b.collect(Duration::from_secs(5), |g| g.len() >= 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let ids: BTreeSet<&str> = got
        .iter()
        .filter_map(|o| o.body["outcome_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(b.wait_settled(&b.work_queue()).await, (0, 0));
    b.cleanup().await;
}

/// A first delivery that claims to be a redelivery (a publisher's own `x-delivery-count`) is
/// handled as what it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_count_set_by_the_publisher_is_ignored() {
    let mut b = Broker::new().await;
    let worker =
        WorkerProcess::start_ready(&env_with(&b, &[("PREAUTH__AMQP__DELIVERY_LIMIT", "3")])).await;
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        "x-delivery-count".into(),
        lapin::types::AMQPValue::LongLongInt(30),
    );
    let body = serde_json::to_vec(&case(2, "forged-count")).expect("json");
    b.publish_with_headers("case.submitted", &body, headers)
        .await;
    let got = b
        .collect(Duration::from_secs(20), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got.len(), 1, "{}", worker.logs());
    assert_eq!(got[0].body["status"], "approved");
    assert_eq!(got[0].body["sequence"], 0);
    assert!(b.parked().await.is_empty());
    drop(worker);
    b.cleanup().await;
}

/// Every patient value in a case event: names, birth date, member and group ids, note texts.
fn patient_values(case: &Value) -> Vec<String> {
    let mut out = vec![];
    let p = &case["patient"];
    for v in [
        &p["family_name"],
        &p["birth_date"],
        &case["coverage"]["member_id"],
        &case["coverage"]["group_number"],
    ] {
        if let Some(s) = v.as_str() {
            out.push(s.to_owned());
        }
    }
    for g in p["given_names"].as_array().into_iter().flatten() {
        out.extend(g.as_str().map(str::to_owned));
    }
    for n in case["documentation"]["clinical_notes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.extend(n["text"].as_str().map(str::to_owned));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_patient_data_reaches_the_logs_or_the_outcomes_even_at_debug_level() {
    let mut b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&env_with(&b, &[("RUST_LOG", "debug")])).await;
    let mut values = Vec::new();
    for file in example_files() {
        let case = read_json(&file);
        values.extend(patient_values(&case));
        b.publish_case(&case).await;
    }
    // A case that fails to decode on a patient field, and a parked one.
    let mut bad = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    bad["event_id"] = "leak-bad-birth-date".into();
    bad["patient"]["birth_date"] = "02/04/1979".into();
    values.push("02/04/1979".into());
    b.publish_case(&bad).await;
    let n = example_files().len() + 1;
    let got = b
        .collect(Duration::from_secs(60), |g| count_terminal(g) >= n)
        .await;
    assert_eq!(count_terminal(&got), n);
    let logs = worker.logs();
    assert!(logs.contains("\"level\":\"DEBUG\""), "debug logging was on");
    let outcomes: String = got.iter().map(|r| r.body.to_string()).collect();
    values.sort();
    values.dedup();
    assert!(
        values.len() > 40,
        "the search covers every patient field: {}",
        values.len()
    );
    for v in &values {
        assert!(
            !logs.contains(v.as_str()),
            "patient value {v:?} leaked into the logs"
        );
        assert!(
            !outcomes.contains(v.as_str()),
            "patient value {v:?} leaked into an outcome"
        );
    }
    drop(worker);
    b.cleanup().await;
}

/// A worker configuration whose only payer is `sim`, over real HTTP.
fn sim_config(dir: &tempfile::TempDir, sim: &SimHandle) -> String {
    let path = dir.path().join("worker.toml");
    std::fs::write(
        &path,
        format!(
            "[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{}\"\ntimeout = \"2s\"\n",
            sim.base_url()
        ),
    )
    .expect("write config");
    path.to_str().expect("utf-8").to_owned()
}

/// Waits for a worker stopped by the fault-injection point and checks that it was.
async fn wait_fault_exit(worker: &mut WorkerProcess) {
    let mut status = None;
    for _ in 0..600 {
        status = worker.wait_exit(Duration::from_millis(1));
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(FAULT_EXIT_CODE),
        "the worker did not stop at the fault point: {}",
        worker.logs()
    );
}

/// Publishes `c` to a worker (started with `args`) that stops right after its first terminal
/// outcome is confirmed, before the ack; returns that outcome, with the event back in the work
/// queue. Then starts a worker without the fault and returns what it publishes for the event.
async fn crash_in_the_window(
    b: &mut Broker,
    c: &Value,
    args: &[&str],
) -> (Received, Received, WorkerProcess) {
    let faulty = env_with(b, &[("PREAUTH_FAULT_EXIT_AFTER_TERMINAL", "1")]);
    let mut worker = WorkerProcess::start_ready_with_args(&faulty, args).await;
    b.publish_case(c).await;
    wait_fault_exit(&mut worker).await;
    let first = b
        .collect(Duration::from_secs(10), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(first.len(), 1, "{}", worker.logs());
    // The crash landed in the window: the event was never settled, so the broker has it again.
    assert_eq!(b.wait_depth(&b.work_queue(), 1).await, 1, "not settled");
    let next = WorkerProcess::start_ready_with_args(&b.env(), args).await;
    let second = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(second.len(), 1, "{}", next.logs());
    (first[0].clone(), second[0].clone(), next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_outcome_redelivered_after_a_crash_is_superseded_by_the_payers_later_answer() {
    let mut b = Broker::new().await;
    // The payer (real HTTP) answers 503 to the first three calls for each request, the whole
    // first attempt series (one call in process, then two delay tiers), and approves the fourth.
    let sim = payer_sim(
        "default",
        Scenario::from(Faults {
            fail_first: 3,
            ..Faults::default()
        }),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = sim_config(&dir, &sim);
    let c = case(1, "supersede");
    // The worker publishes `failed` and parks a copy, both confirmed, then stops before its ack;
    // the next worker gets the event again, the payer now answers, and that answer goes out.
    let (first, second, worker) = crash_in_the_window(&mut b, &c, &["--config", &cfg]).await;
    assert_eq!(first.body["status"], "failed");
    assert_eq!(first.body["reasons"][0]["code"], "retries-exhausted");
    assert_eq!(b.wait_parked(1).await.len(), 1, "the failed case is parked");
    let (failed, approved) = (&first.body, &second.body);
    assert_eq!(approved["status"], "approved", "{}", worker.logs());
    assert_ne!(approved["outcome_id"], failed["outcome_id"]);
    assert!(
        approved["sequence"].as_u64() > failed["sequence"].as_u64(),
        "the later answer must outrank the failed outcome: {failed} then {approved}"
    );
    assert_eq!(
        approved["payer"]["request_identifier"], failed["payer"]["request_identifier"],
        "the same request, sent again"
    );
    // A consumer applying the contract's rule ends at the payer's answer.
    let state = current_state(&[first.clone(), second.clone()]);
    let event = c["event_id"].as_str().expect("event id");
    assert_eq!(state[event].body["status"], "approved");
    // Settled this time, and the payer saw one request identifier for all four calls.
    assert_eq!(b.wait_settled(&b.work_queue()).await, (0, 0));
    let seen = sim.seen();
    let ids: BTreeSet<&str> = seen.iter().map(|s| s.request_identifier.as_str()).collect();
    assert_eq!(ids.len(), 1, "{seen:?}");
    assert_eq!(seen.len(), 4, "{seen:?}");
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_redelivered_after_a_crash_keeps_its_outcome_id() {
    let mut b = Broker::new().await;
    let (first, second, worker) = crash_in_the_window(&mut b, &case(2, "decided"), &[]).await;
    assert_eq!(first.body["status"], "approved");
    // The same decision under the same id (a consumer de-duplicates it), ranked later.
    assert_eq!(second.body["status"], "approved");
    assert_eq!(second.body["outcome_id"], first.body["outcome_id"]);
    assert_eq!(second.message_id, first.message_id);
    assert!(second.body["sequence"].as_u64() > first.body["sequence"].as_u64());
    assert_eq!(
        second.body["authorization"], first.body["authorization"],
        "the same decision"
    );
    assert_eq!(b.wait_settled(&b.work_queue()).await, (0, 0));
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_after_answering_every_case_leaves_none_unacked_and_logs_one_summary() {
    let mut b = Broker::new().await;
    let env = env_with(&b, &[("PREAUTH__AMQP__PREFETCH", "64")]);
    let mut worker = WorkerProcess::start_ready(&env).await;
    let n = 300;
    for i in 0..n {
        b.publish_case(&case(i, "acks")).await;
    }
    let got = b
        .collect(Duration::from_secs(60), |g| count_terminal(g) >= n)
        .await;
    assert_eq!(terminal_by_event(&got).len(), n, "{}", worker.logs());
    worker.signal("TERM");
    let status = worker
        .wait_exit(Duration::from_secs(15))
        .expect("exits once drained");
    assert!(status.success(), "{}", worker.logs());
    // Acks go out in batches (`multiple`) after the outcomes are confirmed: every one of them
    // reached the broker before the connection closed, or the case would be back in the queue.
    assert_eq!(b.depth(&b.work_queue()).await, 0, "{}", worker.logs());
    let logs = worker.logs();
    assert!(
        logs.contains(&format!("Published {n} approved since the last summary")),
        "one summary line instead of a line per case:\n{logs}"
    );
    assert!(
        !logs.contains("Published case outcome"),
        "no per-case line at the shipped log level:\n{logs}"
    );
    b.cleanup().await;
}
