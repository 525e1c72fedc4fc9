//! `preauth-worker parked list|replay` against the real broker: what is listed, in which order,
//! how many, and what a person reads when the command is incomplete or the broker is away.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use serde_json::Value;

use crate::broker::{count_terminal, Broker, WorkerProcess};
use crate::support::{run, worker};
use crate::worker::{case, env_with};

/// Runs `parked ARGS` with `env`; returns its standard output, asserting success.
pub(crate) fn parked_cli(env: &[(String, String)], args: &[&str]) -> String {
    let out = parked(env, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn parked(env: &[(String, String)], args: &[&str]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run(worker(&[&["parked"], args].concat(), &env))
}

/// Declares this test's parking queue as the worker does and puts `n` case events in it, in
/// order, each with its own case id (`order-case-00000`, …).
async fn park_directly(b: &Broker, n: usize) -> Vec<String> {
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    b.channel
        .queue_declare(
            ShortString::from(b.parking_queue().as_str()),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await
        .expect("declare the parking queue");
    let mut ids = Vec::new();
    for i in 0..n {
        let c = case(i, "order");
        ids.push(c["case_id"].as_str().expect("case id").to_owned());
        b.channel
            .basic_publish(
                ShortString::from(""),
                ShortString::from(b.parking_queue().as_str()),
                BasicPublishOptions::default(),
                &serde_json::to_vec(&c).expect("json"),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirmed");
    }
    assert_eq!(b.wait_depth(&b.parking_queue(), n as u32).await, n as u32);
    ids
}

/// Case ids of a text listing, in order.
fn text_order(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

/// Case ids of a `--json` listing, in order.
fn json_order(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json line");
            v["case_id"].as_str().unwrap_or("-").to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_list_with_limit_zero_shows_every_message_and_a_limit_says_what_it_left_out() {
    let b = Broker::new().await;
    let ids = park_directly(&b, 3).await;
    let env = b.env();
    let all = parked_cli(&env, &["list", "--limit", "0"]);
    assert!(
        all.starts_with(&format!(
            "3 parked message(s) in {}, oldest first\n",
            b.parking_queue()
        )),
        "{all}"
    );
    assert_eq!(text_order(&all), ids, "{all}");
    let json = parked_cli(&env, &["list", "--limit", "0", "--json"]);
    assert_eq!(json_order(&json), ids, "{json}");
    b.wait_depth(&b.parking_queue(), 3).await;
    let two = parked_cli(&env, &["list", "--limit", "2"]);
    assert!(
        two.starts_with(&format!(
            "3 parked message(s) in {}, oldest first; showing the first 2 (--limit 0 shows all)\n",
            b.parking_queue()
        )),
        "{two}"
    );
    assert_eq!(text_order(&two), ids[..2].to_vec(), "{two}");
    let help = String::from_utf8_lossy(&parked(&env, &["list", "--help"]).stdout).into_owned();
    assert!(help.contains("0: no limit"), "{help}");
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_list_shows_text_and_json_in_one_order_oldest_first_however_often_it_runs() {
    let b = Broker::new().await;
    let ids = park_directly(&b, 4).await;
    let env = b.env();
    for round in 0..3 {
        // The quorum queue takes listed messages back asynchronously after the connection closes.
        assert_eq!(b.wait_depth(&b.parking_queue(), 4).await, 4);
        let text = parked_cli(&env, &["list"]);
        assert_eq!(text_order(&text), ids, "round {round}, text: {text}");
        assert_eq!(b.wait_depth(&b.parking_queue(), 4).await, 4);
        let json = parked_cli(&env, &["list", "--json"]);
        assert_eq!(json_order(&json), ids, "round {round}, json: {json}");
    }
    b.cleanup().await;
}

#[test]
fn parked_replay_and_delete_without_a_selector_name_their_modes_in_the_error_and_the_help() {
    let out = run(worker(&["parked", "replay"], &[]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--case <CASE_ID>") && stderr.contains("--all"),
        "{stderr}"
    );
    let help = run(worker(&["parked", "replay", "--help"], &[]));
    let help = String::from_utf8_lossy(&help.stdout);
    for mode in ["(--case CASE_ID)", "(--fingerprint FP", "(--all)"] {
        assert!(help.contains(mode), "{mode}: {help}");
    }
    let both = run(worker(&["parked", "replay", "--all", "--case", "C-1"], &[]));
    assert!(!both.status.success());
    // Deleting needs a case or a fingerprint: there is no "delete everything".
    let out = run(worker(&["parked", "delete"], &[]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--case <CASE_ID>") && stderr.contains("--fingerprint <FP>"),
        "{stderr}"
    );
    let all = run(worker(&["parked", "delete", "--all"], &[]));
    assert!(!all.status.success());
}

#[test]
fn an_unreachable_broker_is_explained_before_the_connection_error_and_exits_sixty_nine() {
    let out = run(worker(
        &["parked", "list"],
        &[("PREAUTH__AMQP__URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    ));
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("preauth-worker: cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:1/%2f (amqp.url, from PREAUTH__AMQP__URL)."),
        "{stderr}"
    );
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("  The connection failed with: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("guest:guest"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parking_queue_that_does_not_exist_is_named_with_its_setting() {
    let b = Broker::new().await;
    let out = parked(&b.env(), &["list"]);
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "preauth-worker: the parking queue {} (topology.parking_queue) does not exist",
            b.parking_queue()
        )),
        "{stderr}"
    );
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_list_shows_without_consuming_and_replay_sends_a_case_back_after_a_fix() {
    let mut b = Broker::new().await;
    // A payer that never recovers: failed outcome, parked copy.
    let mut worker = WorkerProcess::start_ready(&env_with(
        &b,
        &[("PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES", "1000")],
    ))
    .await;
    let c = case(7, "replay");
    b.publish_case(&c).await;
    b.publish("case.submitted", b"garbage").await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got[0].body["status"], "failed");
    // The failed outcome, the parked copy and the ack are three steps; the kill must come after
    // the broker has the ack (nothing of the work queue left, ready or unacked), or it lands in
    // the window and the event is delivered again (which a test of its own covers).
    assert_eq!(
        b.wait_settled(&b.work_queue()).await,
        (0, 0),
        "{}",
        worker.logs()
    );
    assert_eq!(
        b.wait_depth(&b.parking_queue(), 2).await,
        2,
        "{}",
        worker.logs()
    );
    worker.kill();
    let env = b.env();
    let listed: Vec<Value> = parked_cli(&env, &["list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let retried = listed
        .iter()
        .find(|i| i["reason"] == "retries-exhausted")
        .expect("the failed case is parked");
    assert_eq!(retried["case_id"], c["case_id"]);
    assert!(retried["parked_at"].as_str().is_some());
    assert!(retried["attempts"].as_u64().is_some_and(|a| a >= 3));
    // Listing consumed nothing: both messages are back (the quorum queue returns them
    // asynchronously after the listing connection closes).
    let depth = b.wait_depth(&b.parking_queue(), 2).await;
    assert_eq!(depth, 2);
    assert!(parked_cli(&env, &["list"]).contains("2 parked message(s)"));

    // The payer is fixed: replay that case only.
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let case_id = c["case_id"].as_str().expect("case id");
    assert!(parked_cli(&env, &["replay", "--case", case_id]).contains("replayed 1 message"));
    let again = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(again[0].body["status"], "approved", "{}", worker.logs());
    assert_eq!(
        again[0].body["attempts"], 1,
        "a replay starts a fresh attempt count"
    );
    // The replay supersedes the failed outcome: a higher sequence and an id of its own.
    assert!(again[0].body["sequence"].as_u64() > got[0].body["sequence"].as_u64());
    assert_ne!(again[0].body["outcome_id"], got[0].body["outcome_id"]);
    assert_eq!(
        b.wait_depth(&b.parking_queue(), 1).await,
        1,
        "the garbage message stays parked"
    );
    drop(worker);
    b.cleanup().await;
}
