//! Every example, through the real worker (simulated payer) and the ledger.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::broker::{count_terminal, current_state, Broker, WorkerProcess};
use crate::support::{
    count, ledger_env, ledger_queue, states, stored_ids, wait_count, LedgerProcess, TestDb,
};

fn example_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_examples_events_land_once_with_the_terminal_status_the_worker_published() {
    let mut b = Broker::new().await;
    let db = TestDb::new().await;
    // The ledger first: its queue is bound before the first outcome is published.
    let mut ledger = LedgerProcess::start(&ledger_env(&b, &db)).await;
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let files = example_files();
    for f in &files {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).expect("example")).expect("json");
        b.publish_case(&case).await;
    }
    let got = b
        .collect(Duration::from_secs(90), |g| {
            count_terminal(g) >= files.len()
        })
        .await;
    assert_eq!(count_terminal(&got), files.len(), "{}", worker.logs());
    let outcome_ids: BTreeSet<String> = got
        .iter()
        .map(|r| r.message_id.clone().expect("a message id"))
        .collect();
    let pool = db.pool().await;
    let want = i64::try_from(outcome_ids.len()).expect("small");
    let stored = wait_count(
        &pool,
        "SELECT count(*) FROM ledger_events WHERE kind = 'outcome'",
        want,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(stored, want, "{}", ledger.logs());
    assert_eq!(b.wait_settled(&ledger_queue(&b)).await, (0, 0));
    // One row per distinct message id received, and nothing else among the outcomes.
    let ids = stored_ids(&pool).await;
    let outcomes_stored: BTreeSet<String> =
        sqlx::query_scalar("SELECT message_id FROM ledger_events WHERE kind = 'outcome'")
            .fetch_all(&pool)
            .await
            .expect("ids")
            .into_iter()
            .collect();
    assert_eq!(outcomes_stored, outcome_ids);
    // Progress events, when the worker publishes them, belong to the published events.
    let events: BTreeSet<String> = got
        .iter()
        .filter_map(|r| r.body["event_id"].as_str().map(str::to_owned))
        .collect();
    let progress_events: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT event_id FROM ledger_events WHERE kind = 'progress'")
            .fetch_all(&pool)
            .await
            .expect("progress");
    assert!(progress_events.iter().all(|e| events.contains(e)));
    assert!(ids.len() >= outcome_ids.len());
    // One case event row per event id, with the terminal status the worker published last.
    let state = states(&pool).await;
    let published = current_state(&got);
    assert_eq!(state.len(), published.len());
    for (event, r) in &published {
        let (status, sequence, outcome_id) = &state[event];
        assert_eq!(status.as_deref(), r.body["status"].as_str(), "{event}");
        assert_eq!(Some(*sequence), r.body["sequence"].as_i64(), "{event}");
        assert_eq!(
            outcome_id.as_deref(),
            r.body["outcome_id"].as_str(),
            "{event}"
        );
        assert_ne!(status.as_deref(), Some("pended"), "{event} ends decided");
    }
    // The examples cover the statuses the work lists are made of.
    let statuses: BTreeSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT status FROM ledger_case_events WHERE status IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .expect("statuses")
    .into_iter()
    .collect();
    for s in ["approved", "rejected", "appeal-needed", "denied", "failed"] {
        assert!(statuses.contains(s), "{statuses:?}");
    }
    let rejected_with_findings = count(
        &pool,
        "SELECT count(*) FROM ledger_case_events WHERE status = 'rejected' AND jsonb_array_length(findings) > 0",
    )
    .await;
    assert!(rejected_with_findings > 0);
    // SIGTERM: the ledger drains and exits 0.
    ledger.signal("TERM");
    let status = ledger.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", ledger.logs());
    drop(worker);
    pool.close().await;
    b.cleanup().await;
}
