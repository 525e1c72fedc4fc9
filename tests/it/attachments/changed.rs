//! A document replaced in the store between two deliveries of the same request: the worker
//! (`run`, on RabbitMQ) notices from the hashes its first try carried in the message's headers,
//! and rejects the case with ATT-06 instead of sending other bytes under the same request.

use std::time::{Duration, Instant};

use super::*;
use crate::broker::{count_terminal, Broker, WorkerProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_replaced_in_the_store_while_the_case_waits_for_a_retry_is_reported_with_att_06() {
    let clinic = Clinic::new();
    // The payer is down for the first try: the case goes to a delay tier (no retry in process).
    let sim = payer_sim(
        "default",
        Scenario::from(Faults {
            fail_first: 1,
            ..Faults::default()
        }),
    )
    .await;
    let cfg = clinic.config(&sim, "default", &clinic.folder_source());
    let mut b = Broker::new().await;
    let mut env = b.env();
    env.retain(|(k, _)| k != "PREAUTH__RETRY__DELAYS");
    env.push(("PREAUTH__RETRY__DELAYS".into(), "[\"3s\", \"3s\"]".into()));
    let worker = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    b.publish_case(&read_json(&examples().join(EYELID))).await;

    // Once the first try has reached the payer, the photo is replaced by another JPEG.
    let deadline = Instant::now() + Duration::from_secs(20);
    while submits(&sim).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = submits(&sim);
    assert_eq!(first.len(), 1, "{}", worker.logs());
    assert_eq!(first[0].status, 503);
    let before = clinic.file("IMG-1");
    let after = clinic.file("IMG-2401");
    assert_ne!(sha1_base64(&before), sha1_base64(&after));
    std::fs::write(clinic.root().join("IMG-1"), &after).expect("replace");

    let got = b
        .collect(Duration::from_secs(20), |g| count_terminal(g) >= 1)
        .await;
    let terminal: Vec<&Value> = got
        .iter()
        .map(|r| &r.body)
        .filter(|o| o["status"] != "pended")
        .collect();
    assert_eq!(terminal.len(), 1, "{got:?}\n{}", worker.logs());
    let outcome = terminal[0];
    assert_eq!(outcome["status"], "rejected", "{outcome}");
    assert!(
        outcome["findings"].as_array().is_some_and(|f| f
            .iter()
            .any(|f| f["rule"] == "ATT-06" && f["path"] == "documentation.photos[0].uri")),
        "{outcome}"
    );
    // The other bytes never reached the payer: it saw the first try alone.
    assert_eq!(submits(&sim).len(), 1, "{:?}", sim.seen());
    drop(worker);
    b.cleanup().await;
}
