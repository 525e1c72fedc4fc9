//! The ledger's `/metrics`: every series from the start, and counts that match what was stored.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use preauth_worker::ledger::metrics::series;

use crate::broker::Broker;
use crate::support::{
    count, ledger_env, message_id, publish_events, publish_raw, synthetic, wait_count,
    LedgerProcess, TestDb,
};

async fn scrape(ops: &str) -> String {
    let answer = reqwest::get(format!("{ops}/metrics"))
        .await
        .expect("the ledger's /metrics answers");
    assert_eq!(answer.status(), 200);
    answer.text().await.expect("a text body")
}

/// The value of the series written exactly as `key` (`name` or `name{label="value"}`).
fn value(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", l.join(","))
}

/// Scrapes until `key` reads `want` (or `timeout`); returns the last scrape.
async fn wait_value(ops: &str, key: &str, want: f64, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = scrape(ops).await;
        if value(&text, key) == Some(want) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_metrics_count_each_event_once_and_every_duplicate_from_a_start_at_zero() {
    let b = Broker::new().await;
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = LedgerProcess::start(&ledger_env(&b, &db)).await;
    let ops = ledger.ops_url().await;

    // Before any event: every series, at zero (histograms with an empty count).
    let at_start = scrape(&ops).await;
    for s in series() {
        let name = s.name;
        let labels: Vec<(&str, &str)> = s.labels.to_vec();
        let k = if at_start.contains(&format!("# TYPE {name} histogram")) {
            key(&format!("{name}_count"), &labels)
        } else {
            key(name, &labels)
        };
        let v = value(&at_start, &k);
        let want = if name == "preauth_ledger_ready" {
            1.0
        } else {
            0.0
        };
        assert_eq!(v, Some(want), "{k} at start:\n{at_start}");
    }

    let bodies = synthetic("metrics", 12);
    let ids: BTreeSet<String> = bodies.iter().map(message_id).collect();
    assert_eq!(ids.len(), bodies.len(), "the generator's ids are distinct");
    let outcomes = bodies.iter().filter(|b| b["status"].is_string()).count() as f64;
    let progress = bodies.len() as f64 - outcomes;
    assert!(outcomes > 0.0 && progress > 0.0, "both kinds are published");

    publish_events(&b, &bodies).await;
    let stored = wait_count(
        &pool,
        "SELECT count(*) FROM ledger_events",
        bodies.len() as i64,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(stored, bodies.len() as i64);
    // The same events again, and one message that is not an event.
    publish_events(&b, &bodies).await;
    publish_raw(&b, "outcome.approved", b"not json", "metrics-not-json").await;

    let duplicates = key("preauth_ledger_events_duplicate_total", &[]);
    let text = wait_value(
        &ops,
        &duplicates,
        bodies.len() as f64,
        Duration::from_secs(30),
    )
    .await;
    let text = if value(
        &text,
        "preauth_ledger_dead_lettered_total{reason=\"not-json\"}",
    ) == Some(1.0)
    {
        text
    } else {
        wait_value(
            &ops,
            "preauth_ledger_dead_lettered_total{reason=\"not-json\"}",
            1.0,
            Duration::from_secs(10),
        )
        .await
    };
    assert_eq!(
        value(&text, &duplicates),
        Some(bodies.len() as f64),
        "{text}"
    );
    let written = |kind: &str| {
        value(
            &text,
            &key("preauth_ledger_events_written_total", &[("kind", kind)]),
        )
    };
    assert_eq!(written("outcome"), Some(outcomes), "{text}");
    assert_eq!(written("progress"), Some(progress), "{text}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ledger_events").await,
        bodies.len() as i64
    );
    let committed = value(&text, "preauth_ledger_batches_total{result=\"committed\"}");
    assert!(committed.is_some_and(|c| c > 0.0), "{text}");
    assert_eq!(
        value(&text, "preauth_ledger_batches_total{result=\"failed\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "preauth_ledger_dead_lettered_total{reason=\"not-json\"}"
        ),
        Some(1.0),
        "{text}"
    );
    // Every message written went through a committed batch, timed.
    assert_eq!(
        value(&text, "preauth_ledger_batch_size_sum"),
        Some(2.0 * bodies.len() as f64),
        "{text}"
    );
    assert_eq!(
        value(&text, "preauth_ledger_batch_seconds_count"),
        committed,
        "{text}"
    );
    assert_eq!(value(&text, "preauth_ledger_ready"), Some(1.0));
    for line in text.lines().filter(|l| l.starts_with("preauth_ledger_")) {
        assert!(
            !ids.iter().any(|id| line.contains(id.as_str())),
            "a label holds a message id: {line}"
        );
    }
}
