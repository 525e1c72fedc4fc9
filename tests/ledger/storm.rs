//! A SIGKILL mid-stream, a redelivery storm, two ledgers at once, and what is not an event.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::BasicProperties;
use serde_json::Value;

use crate::broker::Broker;
use crate::support::{
    count, expected_states, ledger_env, ledger_queue, message_id, publish_events, publish_raw,
    routing_key, states, stored_ids, synthetic, wait_count, LedgerProcess, TestDb,
};

/// Takes up to `n` deliveries from the ledger's queue on a channel of its own, then closes the
/// channel without acking: the broker requeues them (redelivered, to whichever consumer).
async fn requeue_by_closing(b: &Broker, n: u16) -> usize {
    let Ok(conn) = lapin::Connection::connect(&b.url, lapin::ConnectionProperties::default()).await
    else {
        return 0;
    };
    let ch = conn.create_channel().await.expect("channel");
    ch.basic_qos(n, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = ch
        .basic_consume(
            ShortString::from(ledger_queue(b).as_str()),
            ShortString::from("storm"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut taken = 0;
    while taken < usize::from(n) {
        match tokio::time::timeout(Duration::from_millis(300), consumer.next()).await {
            Ok(Some(Ok(_))) => taken += 1,
            _ => break,
        }
    }
    let _ = ch.close(200, ShortString::from("storm")).await;
    let _ = conn.close(200, ShortString::from("storm")).await;
    taken
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_stream_and_a_redelivery_storm_leave_one_row_per_message_and_the_right_state()
{
    let b = Broker::new().await;
    let db = TestDb::new().await;
    let env = ledger_env(&b, &db);
    let pool = db.pool().await;
    let bodies = synthetic("storm", 3_000);
    let distinct: BTreeSet<String> = bodies.iter().map(message_id).collect();
    assert_eq!(
        distinct.len(),
        bodies.len(),
        "the generator's ids are distinct"
    );
    let mut first = LedgerProcess::start(&env).await;
    // Every message three times, the copies close together in the stream, from a connection
    // of its own.
    let copies: Vec<Value> = bodies
        .chunks(500)
        .flat_map(|c| {
            c.iter()
                .chain(c.iter())
                .chain(c.iter())
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    let sent = copies.len();
    let (url, exchange) = (b.url.clone(), b.outcomes_exchange());
    let publishing = tokio::spawn(async move {
        let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .expect("broker");
        let ch = conn.create_channel().await.expect("channel");
        for chunk in copies.chunks(300) {
            for body in chunk {
                ch.basic_publish(
                    ShortString::from(exchange.as_str()),
                    ShortString::from(routing_key(body).as_str()),
                    BasicPublishOptions::default(),
                    &serde_json::to_vec(body).expect("json"),
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_message_id(ShortString::from(message_id(body).as_str())),
                )
                .await
                .expect("publish")
                .await
                .expect("settles");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = conn.close(200, ShortString::from("done")).await;
    });
    // Some batches in, the ledger is killed without a chance to ack what it holds.
    let some = wait_count(
        &pool,
        "SELECT least(count(*), 600) FROM ledger_events",
        600,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(some, 600, "{}", first.logs());
    first.kill9();
    // Meanwhile a consumer takes deliveries and lets them go: a storm of redeliveries.
    let taken = requeue_by_closing(&b, 500).await;
    // Two ledgers take over, side by side.
    let second = LedgerProcess::start(&env).await;
    let third = LedgerProcess::start(&env).await;
    let taken2 = requeue_by_closing(&b, 500).await;
    publishing.await.expect("the publisher ends");
    let want = i64::try_from(distinct.len()).expect("small");
    let stored = wait_count(
        &pool,
        "SELECT count(*) FROM ledger_events",
        want,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(
        stored,
        want,
        "sent {sent}, storm took {taken}+{taken2}: {}\n{}",
        second.logs(),
        third.logs()
    );
    assert_eq!(b.wait_settled(&ledger_queue(&b)).await, (0, 0));
    // Exactly one row per message id, and no other.
    assert_eq!(stored_ids(&pool).await, distinct);
    // The state of every case event is the contract's.
    let state = states(&pool).await;
    let expected = expected_states(&bodies);
    let events: BTreeSet<&str> = bodies
        .iter()
        .filter_map(|b| b["event_id"].as_str())
        .collect();
    assert_eq!(state.len(), events.len());
    for (event, (status, sequence, outcome_id)) in &expected {
        let got = &state[event];
        assert_eq!(
            (got.0.as_deref(), got.1, got.2.as_deref()),
            (Some(status.as_str()), *sequence, Some(outcome_id.as_str())),
            "{event}"
        );
    }
    // Nothing was dead-lettered: every message was ours.
    let dead = b
        .channel
        .basic_get(
            ShortString::from(format!("{}.dead", ledger_queue(&b)).as_str()),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("get");
    assert!(dead.is_none());
    drop((second, third));
    pool.close().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_an_event_goes_to_the_ledgers_dead_letter_queue_unwritten() {
    let b = Broker::new().await;
    let db = TestDb::new().await;
    let ledger = LedgerProcess::start(&ledger_env(&b, &db)).await;
    let pool = db.pool().await;
    let good = synthetic("dead", 1);
    publish_raw(&b, "outcome.approved", b"not json {", "bad-1").await;
    publish_raw(
        &b,
        "progress.received",
        br#"{"schema":"someone.else.v9"}"#,
        "bad-2",
    )
    .await;
    publish_events(&b, &good).await;
    let want = i64::try_from(good.len()).expect("small");
    assert_eq!(
        wait_count(
            &pool,
            "SELECT count(*) FROM ledger_events",
            want,
            Duration::from_secs(20)
        )
        .await,
        want
    );
    let dead_queue = format!("{}.dead", ledger_queue(&b));
    let mut dead = Vec::new();
    for _ in 0..100 {
        if let Some(m) = b
            .channel
            .basic_get(
                ShortString::from(dead_queue.as_str()),
                BasicGetOptions { no_ack: true },
            )
            .await
            .expect("get")
        {
            dead.push(m.delivery.data.clone());
        }
        if dead.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        dead,
        vec![
            b"not json {".to_vec(),
            br#"{"schema":"someone.else.v9"}"#.to_vec()
        ]
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM ledger_events WHERE message_id LIKE 'bad-%'"
        )
        .await,
        0
    );
    let logs = ledger.logs();
    assert!(
        logs.contains("not-json") && logs.contains("unknown-schema"),
        "{logs}"
    );
    assert!(
        !logs.contains("someone.else.v9"),
        "a body never reaches the log"
    );
    // Ready: consuming, and the database answers.
    let ready = reqwest::get(format!("{}/readyz", ledger.ops_url().await))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    drop(ledger);
    pool.close().await;
    b.cleanup().await;
}
