//! The ops endpoints of a running worker: probes, every series at zero on a fresh worker, and
//! exact metric values after a scripted run. Each test starts a worker process of its own, so
//! its metrics start from nothing (the in-process workers of other tests share one recorder).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use preauth_worker::ops::{Kind, METRICS, PROCESS_METRICS};

use crate::broker::{count_terminal, settings_from, Broker, WorkerProcess};
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

/// The metric a sample belongs to (`x_bucket{…}` belongs to `x`).
fn metric_of(sample: &str) -> &str {
    let name = sample.split('{').next().unwrap_or(sample);
    ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|base| METRICS.iter().any(|m| m.name == *base))
        .unwrap_or(name)
}

fn kind_of(sample: &str) -> Option<Kind> {
    METRICS
        .iter()
        .find(|m| m.name == metric_of(sample))
        .map(|m| m.kind)
}

/// The series a worker with `env` registers at start, as exposition keys.
fn registered(env: &[(String, String)]) -> BTreeSet<String> {
    let settings = settings_from(env, None);
    let app = preauth_worker::app::App::build(settings.clone()).expect("the worker builds");
    preauth_worker::ops::series(&settings, &app.pipeline.payers)
        .into_iter()
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            if labels.is_empty() {
                s.name.to_owned()
            } else {
                format!("{}{{{}}}", s.name, labels.join(","))
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_worker_exposes_every_counter_at_zero_with_build_info_and_process_metrics() {
    let b = Broker::new().await;
    let env = b.env();
    let worker = WorkerProcess::start_ready(&env).await;
    let m = scrape(&get(&format!("{}/metrics", worker.ops_url().await)).await.1);
    let registered = registered(&env);

    // Every series of the catalogue is there, every counter and histogram at zero.
    for key in &registered {
        match kind_of(key) {
            Some(Kind::Counter) => assert_eq!(m.get(key), Some(&0.0), "{key}: {m:#?}"),
            Some(Kind::Histogram) => {
                let count = format!("{}_count{}", metric_of(key), &key[metric_of(key).len()..]);
                assert_eq!(m.get(&count), Some(&0.0), "{count}");
            }
            _ => assert!(m.contains_key(key), "{key} missing"),
        }
    }
    for metric in METRICS {
        // Its series are per payer with a `subscription` table, and the shipped defaults have
        // none: tests/it/subscriptions.rs reads it for a subscribed payer.
        if metric.name == "preauth_subscription_state" {
            assert!(!m.keys().any(|k| metric_of(k) == metric.name));
            continue;
        }
        assert!(
            m.keys().any(|k| metric_of(k) == metric.name),
            "{} has no series",
            metric.name
        );
    }
    // And nothing else of the worker's own.
    let extra: Vec<&String> = m
        .keys()
        .filter(|k| k.starts_with("preauth_") && kind_of(k) == Some(Kind::Counter))
        .filter(|k| !registered.contains(*k))
        .collect();
    assert!(extra.is_empty(), "unregistered: {extra:?}");

    // The labels the alerts and dashboards rely on.
    for key in [
        "preauth_outcomes_total{status=\"failed\",payer=\"northwind-health\"}",
        "preauth_outcomes_total{status=\"rejected\",payer=\"none\"}",
        "preauth_parked_total{reason=\"retries-exhausted\"}",
        "preauth_payer_requests_total{payer=\"default\",result=\"transient\"}",
        "preauth_payer_reasons_total{payer=\"default\",status=\"denied\",code=\"MN1\"}",
        "preauth_payer_reasons_total{payer=\"default\",status=\"failed\",code=\"other\"}",
        "preauth_findings_total{rule=\"MOD-04\",severity=\"error\"}",
        "preauth_delayed_total{kind=\"retry\",tier=\"2s\"}",
        "preauth_delayed_total{kind=\"follow-up\",tier=\"1s\"}",
    ] {
        assert_eq!(m.get(key), Some(&0.0), "{key}");
    }
    let version = format!(
        "preauth_build_info{{version=\"{}\",commit=",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        m.iter().any(|(k, v)| k.starts_with(&version) && *v == 1.0),
        "no build info: {m:#?}"
    );
    let work = format!(
        "preauth_queue_info{{queue=\"{}\",role=\"work\"}}",
        b.work_queue()
    );
    assert_eq!(m.get(&work), Some(&1.0), "{work}");

    // Process metrics, read from the process on the scrape.
    for p in PROCESS_METRICS {
        assert!(m.contains_key(p.name), "{} missing", p.name);
    }
    assert!(m["process_resident_memory_bytes"] > 1e6);
    assert!(m["process_open_fds"] > 0.0);
    let started = m["process_start_time_seconds"];
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        started <= now && started > now - 600.0,
        "{started} vs {now}"
    );
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_metrics_count_a_scripted_run_exactly() {
    let mut b = Broker::new().await;
    // A ledger's queue is bound to the progress events, so every one is routed.
    crate::progress::bound_queue(&b, "ledger", &["progress.#"]).await;
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let ops = worker.ops_url().await;
    assert_eq!(get(&format!("{ops}/livez")).await.0, 200);
    assert_eq!(get(&format!("{ops}/readyz")).await.0, 200);
    let at_start = scrape(&get(&format!("{ops}/metrics")).await.1);

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
        v("preauth_outcomes_total{status=\"approved\",payer=\"default\"}"),
        2.0,
        "{m:#?}"
    );
    assert_eq!(
        v("preauth_outcomes_total{status=\"rejected\",payer=\"default\"}"),
        1.0
    );
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
    // Every confirmed publish: 3 outcomes, 1 parked copy, and 5 progress events (received for
    // each of the three cases, submitted for the two that went to the payer).
    assert_eq!(
        v("preauth_publish_confirms_total{result=\"ack\"}"),
        9.0,
        "3 outcomes, 1 parked copy and 5 progress events: {m:#?}"
    );
    assert_eq!(
        v("preauth_publish_confirms_total{result=\"returned\"}"),
        0.0
    );
    for step in ["received", "submitted", "retry-scheduled", "parked"] {
        let unbound = format!("preauth_progress_step_unbound{{step=\"{step}\"}}");
        assert_eq!(v(&unbound), 0.0, "{unbound}");
    }
    assert_eq!(v("preauth_cases_in_flight"), 0.0);
    assert_eq!(
        v("preauth_payer_request_duration_seconds_count{payer=\"default\"}"),
        2.0
    );
    assert_eq!(v("preauth_amqp_connected"), 1.0);
    // Every count went to a series that was there, at zero, from the start.
    let new: Vec<&String> = m
        .keys()
        .filter(|k| k.starts_with("preauth_") && kind_of(k) == Some(Kind::Counter))
        .filter(|k| !at_start.contains_key(*k))
        .collect();
    assert!(
        new.is_empty(),
        "series that appeared during the run: {new:?}"
    );
    // Labels stay low-cardinality: no case or event id anywhere in the exposition.
    let text = get(&format!("{ops}/metrics")).await.1;
    assert!(!text.contains("C-2026-000123") && !text.contains("metrics-second"));
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_step_nothing_is_bound_to_shows_as_unbound_and_its_probe_as_returned() {
    let mut b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let ops = worker.ops_url().await;
    let approved = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    b.publish_case(&approved).await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(count_terminal(&got), 1, "{}", worker.logs());
    let m = scrape(&get(&format!("{ops}/metrics")).await.1);
    let v = |k: &str| m.get(k).copied().unwrap_or(0.0);
    // The first case probed both of its steps: returned, so both are marked unbound.
    for step in ["received", "submitted"] {
        let unbound = format!("preauth_progress_step_unbound{{step=\"{step}\"}}");
        assert_eq!(v(&unbound), 1.0, "{unbound}: {m:#?}");
    }
    assert_eq!(
        v("preauth_publish_confirms_total{result=\"returned\"}"),
        2.0,
        "{m:#?}"
    );
    // Its outcome was routed and confirmed: a returned probe fails nothing.
    assert_eq!(
        v("preauth_publish_confirms_total{result=\"ack\"}"),
        1.0,
        "{m:#?}"
    );
    assert!(worker
        .logs()
        .contains("Nothing is bound to progress.received"));
    drop(worker);
    b.cleanup().await;
}
