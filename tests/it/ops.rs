//! The ops endpoints of a running worker: probes and exact metric values after a scripted run.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::broker::{count_terminal, Broker, WorkerProcess};
use crate::support::{examples, read_json};

/// Metric samples `name{labels} value` as a map.
fn scrape(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("ops endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_metrics_count_a_scripted_run_exactly() {
    let mut b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let ops = worker.ops_url().await;
    assert_eq!(get(&format!("{ops}/livez")).await.0, 200);
    assert_eq!(get(&format!("{ops}/readyz")).await.0, 200);

    // Two approvals, one rejection (MOD-04 twice: the modifier contradicts both the eyelid
    // diagnosis and the lid the site names), one unanswerable message.
    let approved = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    let mut second = approved.clone();
    second["event_id"] = "metrics-second".into();
    b.publish_case(&approved).await;
    b.publish_case(&second).await;
    b.publish_case(&read_json(
        &examples().join("06-eyelid-modifier-mismatch-rejected.json"),
    ))
    .await;
    b.publish("case.submitted", b"not json").await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 3)
        .await;
    assert_eq!(count_terminal(&got), 3);
    let mut m = BTreeMap::new();
    for _ in 0..50 {
        m = scrape(&get(&format!("{ops}/metrics")).await.1);
        if m.get("preauth_parked_total{reason=\"not-json\"}") == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = |k: &str| m.get(k).copied().unwrap_or(0.0);
    assert_eq!(v("preauth_cases_received_total"), 4.0, "{m:#?}");
    assert_eq!(
        v("preauth_outcomes_total{status=\"approved\"}"),
        2.0,
        "{m:#?}"
    );
    assert_eq!(v("preauth_outcomes_total{status=\"rejected\"}"), 1.0);
    assert_eq!(
        v("preauth_findings_total{rule=\"MOD-04\",severity=\"error\"}"),
        2.0,
        "{m:#?}"
    );
    assert_eq!(
        v("preauth_payer_requests_total{payer=\"default\",result=\"answered\"}"),
        2.0,
        "{m:#?}"
    );
    assert_eq!(v("preauth_parked_total{reason=\"not-json\"}"), 1.0);
    assert_eq!(
        v("preauth_publish_confirms_total{result=\"ack\"}"),
        4.0,
        "3 outcomes and 1 parked copy: {m:#?}"
    );
    assert_eq!(v("preauth_cases_in_flight"), 0.0);
    assert_eq!(
        v("preauth_payer_request_duration_seconds_count{payer=\"default\"}"),
        2.0
    );
    assert_eq!(v("preauth_amqp_connected"), 1.0);
    // Labels stay low-cardinality: no case or event id anywhere in the exposition.
    let text = get(&format!("{ops}/metrics")).await.1;
    assert!(!text.contains("C-2026-000123") && !text.contains("metrics-second"));
    drop(worker);
    b.cleanup().await;
}
