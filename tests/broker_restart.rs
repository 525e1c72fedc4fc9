//! The broker restarted in the middle of a run: the worker reconnects by itself and finishes
//! with nothing lost. A binary of its own, so no other test shares the broker while it restarts.

#[path = "it/broker.rs"]
mod broker;
#[path = "it/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use broker::{count_terminal, terminal_by_event, Broker, WorkerProcess};
use serde_json::Value;
use support::{examples, read_json};

async fn status(url: &str) -> u16 {
    reqwest::get(url)
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_is_survived_without_restarting_the_worker_and_nothing_is_lost() {
    let mut b = Broker::new().await;
    let mut env = b.env();
    // Slow enough that the restart lands in the middle of the run.
    env.push(("PREAUTH__PAYERS__DEFAULT__LATENCY".into(), "200ms".into()));
    env.push(("PREAUTH__AMQP__PREFETCH".into(), "16".into()));
    let worker = WorkerProcess::start_ready(&env).await;
    let n = 400;
    for i in 0..n {
        let mut v = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
        v["event_id"] = Value::from(format!("restart-event-{i:05}"));
        v["case_id"] = Value::from(format!("restart-case-{i:05}"));
        b.publish_case(&v).await;
    }
    let before = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 50)
        .await;
    assert!(
        count_terminal(&before) < n,
        "the run ended before the restart"
    );

    let ops = worker.ops_url().await;
    assert_eq!(status(&format!("{ops}/readyz")).await, 200);

    rabbitmqctl(&["stop_app"]);
    // While the broker is away: not ready, but alive.
    let mut not_ready = false;
    for _ in 0..50 {
        if status(&format!("{ops}/readyz")).await == 503 {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(not_ready, "/readyz stayed 200 with the broker down");
    assert_eq!(
        status(&format!("{ops}/livez")).await,
        200,
        "/livez must not fail because the broker is down"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    b.reconnect().await;
    eprintln!(
        "after restart: outcome queue holds {}",
        b.depth(&format!("{}.outcomes.collect", b.prefix)).await
    );
    let after = b
        .collect(Duration::from_secs(120), |g| {
            count_terminal(&[before.as_slice(), g].concat()) >= n
        })
        .await;
    let all = [before, after].concat();
    let terminal = terminal_by_event(&all);
    assert_eq!(
        terminal.len(),
        n,
        "lost cases; worker log:\n{}",
        worker.logs()
    );
    for (event, outcomes) in &terminal {
        let ids: BTreeSet<&str> = outcomes
            .iter()
            .filter_map(|o| o.body["outcome_id"].as_str())
            .collect();
        assert_eq!(ids.len(), 1, "{event}: duplicates with different ids");
    }
    assert!(
        worker.logs().contains("Reconnecting") || worker.logs().contains("Retrying"),
        "{}",
        worker.logs()
    );
    drop(worker);
    b.cleanup().await;
}
