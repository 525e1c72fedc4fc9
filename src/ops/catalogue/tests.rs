use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::*;
use crate::amqp::worker::{count_outcome, count_parked};
use crate::app::App;
use crate::payer::sim::Faults;
use crate::pipeline::{Next, Pipeline};
use crate::retry::CaseState;

/// The shipped payers, and four more: one down, one refusing, one answering nonsense, one that
/// sends notifications (with a subscription).
fn settings() -> Settings {
    let mut s = Settings::load_without_env(None).expect("shipped defaults");
    s.retry.in_process_calls = 1;
    let base = s.payers["default"].clone();
    let faulty = |faults: Faults| {
        let mut p = base.clone();
        p.simulated = faults;
        p
    };
    s.payers.insert(
        "down".into(),
        faulty(Faults {
            fail_first: 1000,
            ..Faults::default()
        }),
    );
    s.payers.insert(
        "refusing".into(),
        faulty(Faults {
            reject: true,
            ..Faults::default()
        }),
    );
    s.payers.insert(
        "garbled".into(),
        faulty(Faults {
            malformed: true,
            ..Faults::default()
        }),
    );
    let mut notifying = base.clone();
    notifying.notification_credential_file = Some("notification-credential".into());
    notifying.subscription = Some(crate::payer::pas::subscription::SubscriptionSettings {
        endpoint: "https://worker.example/pas/notify/notifying".into(),
        org_identifier: "N1".into(),
        heartbeat_period: None,
        fallback: Default::default(),
        safety_inquiry_after: std::time::Duration::from_secs(60),
        safety_inquiries: 1,
    });
    s.payers.insert("notifying".into(), notifying);
    s
}

fn label_names(m: &Metric) -> Vec<&'static str> {
    m.labels.iter().map(|l| l.name).collect()
}

#[test]
fn every_metric_has_series_at_start_with_exactly_its_labels_and_every_closed_value() {
    let settings = settings();
    let app = App::build(settings.clone()).expect("the worker builds");
    let all = series(&settings, &app.pipeline.payers);
    for m in METRICS {
        let mine: Vec<&Series> = all.iter().filter(|s| s.name == m.name).collect();
        assert!(!mine.is_empty(), "{} has no series", m.name);
        for s in &mine {
            let names: Vec<&str> = s.labels.iter().map(|(k, _)| *k).collect();
            assert_eq!(names, label_names(m), "{s:?}");
        }
        for (i, label) in m.labels.iter().enumerate() {
            if let Values::Closed(values) = label.values {
                let want: BTreeSet<String> = values().into_iter().map(str::to_owned).collect();
                let got: BTreeSet<String> = mine.iter().map(|s| s.labels[i].1.clone()).collect();
                assert_eq!(got, want, "{} {}", m.name, label.name);
            }
        }
    }
    assert!(
        all.iter().all(|s| METRICS.iter().any(|m| m.name == s.name)),
        "a series of a metric the catalogue does not list"
    );
    let unique: BTreeSet<&Series> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a series listed twice");
}

#[test]
fn a_payers_reason_codes_are_counted_by_name_and_anything_else_as_other() {
    let app = App::build(settings()).expect("the worker builds");
    let payers = &app.pipeline.payers;
    assert_eq!(payers.reason_label("default", "MN1"), "MN1");
    assert_eq!(
        payers.reason_label("default", "retries-exhausted"),
        "retries-exhausted"
    );
    assert_eq!(payers.reason_label("default", "ZZ9"), "other");
    assert_eq!(payers.reason_label("no-such-payer", "MN1"), "other");
    assert_eq!(
        payers.reason_label("no-such-payer", "payer-refused"),
        "payer-refused"
    );
}

/// The sample keys (`name{labels}`) of an exposition.
fn keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| k.to_owned()))
        .collect()
}

fn cases() -> Vec<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["examples", "tests/fixtures/unseen"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("case folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("case file");
            out.push(serde_json::from_str(&text).expect("case JSON"));
        }
    }
    out
}

/// Handles `body` as the worker would, following retries and follow-ups to the end, and
/// counts what the worker counts once a disposition is carried out.
async fn handle_to_the_end(pipeline: &Pipeline, body: &[u8]) {
    let mut state = CaseState::default();
    for _ in 0..20 {
        let d = pipeline.handle(body, None, &state).await;
        for o in &d.outcomes {
            count_outcome(&pipeline.payers, &d, o);
        }
        match d.next {
            Next::Retry { state: next, .. } | Next::FollowUp { state: next, .. } => state = next,
            Next::Park { reason, .. } => return count_parked(reason),
            Next::Ack => return,
        }
    }
}

#[test]
fn counting_a_varied_run_writes_only_series_registered_at_start() {
    let settings = settings();
    let app = App::build(settings.clone()).expect("the worker builds");
    let recorder = super::super::builder().expect("exporter").build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        register(&settings, &app.pipeline.payers);
        let at_start = keys(&handle.render());
        let mut unrouted = app.pipeline.clone();
        let routes: HashMap<String, _> = app
            .pipeline
            .payers
            .routes()
            .filter(|r| r.name != "default")
            .map(|r| (r.name.clone(), r.clone()))
            .collect();
        unrouted.payers = PayerDirectory::new(routes, None);
        runtime.block_on(async {
            for case in cases() {
                for payer in settings.payers.keys().chain([&"no-such-payer".to_owned()]) {
                    let mut case = case.clone();
                    case["coverage"]["payer_id"] = payer.as_str().into();
                    let body = serde_json::to_vec(&case).expect("JSON");
                    handle_to_the_end(&app.pipeline, &body).await;
                    handle_to_the_end(&unrouted, &body).await;
                }
            }
            let too_large = vec![b' '; app.pipeline.max_message_bytes + 1];
            let unreadable: [&[u8]; 5] = [
                b"not json",
                b"[1]",
                b"{}",
                br#"{"event_id": "e-1"}"#,
                &too_large,
            ];
            for body in unreadable {
                handle_to_the_end(&app.pipeline, body).await;
            }
        });
        let after = handle.render();
        let now = keys(&after);
        let new: Vec<&String> = now.difference(&at_start).collect();
        assert!(new.is_empty(), "series not registered at start: {new:#?}");
        // The run did count: every outcome status, and reasons of several kinds.
        let counted: BTreeSet<&str> = after
            .lines()
            .filter(|l| !l.starts_with('#') && !l.ends_with(" 0"))
            .collect();
        for want in [
            r#"preauth_outcomes_total{status="approved",payer="default"}"#,
            r#"preauth_outcomes_total{status="rejected",payer="none"}"#,
            r#"preauth_outcomes_total{status="failed",payer="none"}"#,
            r#"preauth_payer_reasons_total{payer="down",status="failed",code="retries-exhausted"}"#,
            r#"preauth_payer_reasons_total{payer="refusing",status="failed",code="payer-refused"}"#,
            r#"preauth_payer_reasons_total{payer="garbled",status="failed",code="malformed-response"}"#,
            r#"preauth_parked_total{reason="too-large"}"#,
            r#"preauth_parked_total{reason="not-json"}"#,
        ] {
            assert!(
                counted.iter().any(|l| l.starts_with(want)),
                "{want} was not counted:\n{after}"
            );
        }
    });
}
