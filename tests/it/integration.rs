//! The practice-management side, as the README shows it: the Python publisher in
//! examples/integration/ (pika) sends a case to a running worker over the real broker, and the
//! outcome comes back on the outcomes exchange.

use std::process::Command;
use std::time::Duration;

use crate::broker::{Broker, InProcessWorker};
use crate::support::{examples, read_json, root};

/// The Python with pika that scripts/test.sh installs; CI must have it.
fn python() -> Option<String> {
    match std::env::var("PREAUTH_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the publisher example: set PREAUTH_PYTHON (scripts/test.sh does)"
            );
            eprintln!("skipped: PREAUTH_PYTHON is not set (scripts/test.sh sets it)");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_publisher_gets_a_case_to_the_worker_and_its_outcome_back() {
    let Some(python) = python() else { return };
    let mut b = Broker::new().await;
    b.bind_outcomes().await;
    let worker = InProcessWorker::start_ready(&b.env(), None).await;
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let case = read_json(&file);
    let script = root().join("examples/integration/publish_case.py");

    let out = Command::new(&python)
        .arg(&script)
        .arg(&file)
        .env("PREAUTH_AMQP_URL", &b.url)
        .env("PREAUTH_CASES_EXCHANGE", b.cases_exchange())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = b
        .collect(Duration::from_secs(30), |g| {
            g.iter().any(|r| r.routing_key == "outcome.approved")
        })
        .await;
    let approved: Vec<_> = got
        .iter()
        .filter(|r| r.routing_key == "outcome.approved")
        .collect();
    assert_eq!(approved.len(), 1, "{got:?}\n{}", worker.logs());
    assert_eq!(
        approved[0].correlation_id.as_deref(),
        case["event_id"].as_str()
    );

    // A file that is not a case event is refused before anything is sent.
    let out = Command::new(&python)
        .arg(&script)
        .arg(root().join("README.md"))
        .env("PREAUTH_AMQP_URL", &b.url)
        .env("PREAUTH_CASES_EXCHANGE", b.cases_exchange())
        .output()
        .expect("python runs");
    assert_eq!(out.status.code(), Some(65));
    worker.stop().await;
    b.cleanup().await;
}
