//! Regression tests for the cargo-fuzz targets in `fuzz/`.
//!
//! The code each target drives lives in `fuzz/src/lib.rs` and is included here unchanged, so a
//! test calls exactly what the fuzzer calls: `case_decode_validate`, `pas_response_parse` and
//! `config_load`. One test per target runs its whole seed corpus (`fuzz/corpus/<target>/`), so
//! the seeds keep reaching the code they were chosen for; each crash the fuzzer found has its
//! minimized input under `tests/fixtures/fuzz/` and a test of its own. `scripts/fuzz.sh` runs
//! the fuzzer itself.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// Every seed of a target's corpus, by file name, in name order.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name")
                .to_owned();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{} holds no seed", dir.display());
    out
}

/// Runs `run` on every seed and names each seed it panicked on.
fn run_all(target: &str, run: fn(&[u8])) -> Vec<(String, Vec<u8>)> {
    let all = seeds(target);
    let panicked: Vec<&str> = all
        .iter()
        .filter(|(_, bytes)| catch_unwind(AssertUnwindSafe(|| run(bytes))).is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        panicked.is_empty(),
        "{target} panicked on the seeds {panicked:?}"
    );
    all
}

#[test]
fn every_case_decode_validate_seed_runs_without_a_panic_and_the_examples_decode() {
    let all = run_all("case_decode_validate", harness::case_decode_validate);
    assert_eq!(
        all.len(),
        48,
        "one seed per examples/*.json, tests/fixtures/unseen/*.json and tests/fixtures/cases/*.json"
    );
    for (name, bytes) in &all {
        let (&selector, body) = bytes.split_first().expect("not empty");
        let id = preauth_worker::case::identify(body)
            .unwrap_or_else(|e| panic!("{name} is no longer identified: {}", e.detail));
        let decoded = preauth_worker::case::decode(&id, harness::routing_key(selector));
        if name.starts_with("example-") || name.starts_with("case-") {
            let case = decoded.unwrap_or_else(|f| panic!("{name} no longer decodes: {f:?}"));
            // The seed's first byte selects the routing key its kind travels with.
            assert_eq!(
                harness::routing_key(selector),
                Some(case.kind.routing_key()),
                "{name}"
            );
        }
    }
}

#[test]
fn every_pas_response_parse_seed_runs_without_a_panic_and_the_responses_parse() {
    use preauth_worker::payer::pas::notification::notified_request;
    use preauth_worker::payer::pas::read::{notification_response, parse_response};
    use preauth_worker::payer::sim::pas::review_from_bundle;
    let all = run_all("pas_response_parse", harness::pas_response_parse);
    for (name, bytes) in &all {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        match name.as_str() {
            "pas-request-bundle" => {
                review_from_bundle(&value)
                    .unwrap_or_else(|e| panic!("{name} no longer reads back: {e}"));
            }
            "pas-operation-outcome" => {
                assert!(parse_response(&value).is_err(), "{name}");
            }
            _ => {
                // A notification is read through the bundle it carries, as the notification listener does.
                let response = notification_response(&value).unwrap_or(&value);
                parse_response(response).unwrap_or_else(|e| panic!("{name} no longer parses: {e}"));
            }
        }
    }
    let (_, notification) = all
        .iter()
        .find(|(name, _)| name == "pas-notification-history-approved")
        .expect("the notification seed");
    let notification: serde_json::Value = serde_json::from_slice(notification).expect("JSON");
    let inner = notification_response(&notification).expect("the notification's bundle");
    assert_eq!(
        notified_request(inner).as_deref(),
        Some("3f1d2c4e-8a0b-5c6d-9e7f-a1b2c3d4e5f6"),
        "the notification's ClaimResponse names the worker's request"
    );
    parse_response(inner).expect("the notification's bundle parses");
}

#[test]
fn every_config_load_seed_runs_without_a_panic_and_the_valid_ones_load() {
    let all = run_all("config_load", harness::config_load);
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes) in &all {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let loaded = preauth_worker::config::Settings::load_without_env(Some(&path));
        if name.starts_with("invalid-") {
            assert!(loaded.is_err(), "{name} loads");
        } else {
            loaded.unwrap_or_else(|e| panic!("{name} no longer loads: {e}"));
        }
    }
}

// Crashes found through `config_load`. Both are the sum in the hold rule (src/config/rules.rs):
// `publish_hold + in_process_retry().budget() + timeout * 4` on `Duration`s, which panics on
// overflow instead of rejecting the file. A file that sets a duration near u64::MAX seconds must
// be refused with a message, like any other hold over the broker's consumer timeout.

/// Loads a crash input through the target and directly: it must not panic, and must be refused.
fn config_is_refused_without_a_panic(bytes: &[u8]) {
    harness::config_load(bytes);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("worker.toml");
    std::fs::write(&path, bytes).expect("write");
    let loaded = preauth_worker::config::Settings::load_without_env(Some(&path));
    assert!(loaded.is_err(), "the file is accepted: {loaded:?}");
}

#[test]
fn an_amqp_timeout_of_u64_max_over_four_seconds_is_refused_without_a_panic() {
    // amqp.timeout = 2^62 s: `timeout * 4` overflows ("overflow when multiplying duration by scalar").
    config_is_refused_without_a_panic(include_bytes!(
        "fixtures/fuzz/config_load-huge-amqp-timeout.toml"
    ));
}

#[test]
fn a_publish_hold_of_u64_max_seconds_is_refused_without_a_panic() {
    // amqp.publish_hold = u64::MAX s: `publish_hold + budget` overflows ("overflow when adding durations").
    config_is_refused_without_a_panic(include_bytes!(
        "fixtures/fuzz/config_load-huge-publish-hold.toml"
    ));
}

#[test]
fn the_worker_s_json_tree_agrees_with_serde_json_on_repeats_escapes_numbers_and_errors() {
    let texts: [&[u8]; 12] = [
        br#"{"event_id": "e-1", "case_id": "c-1", "event_id": "e-2"}"#,
        br#"{"b": {"y": 1, "x": [2, {"k": 1, "k": null}]}, "a": "\u00e9\n"}"#,
        br#"{"\u0065vent_id": "e-1", "event_id": "e-2"}"#,
        br#"[1e400]"#,
        br#"[-0, 1.0, 18446744073709551616, -9223372036854775809, 5e-324]"#,
        br#"{"a": 1,, "b": 2}"#,
        br#"{"a": "\ud800"}"#,
        b"{\"a\": \"\xc3\"}",
        br#"{"$serde_json::private::RawValue": "[1, 2]"}"#,
        br#"{"$serde_json::private::RawValue": "not json"}"#,
        br#"{"\u0024serde_json::private::RawValue": 3}"#,
        br#"{"a": 1} {"b": 2}"#,
    ];
    for text in texts {
        let run = catch_unwind(AssertUnwindSafe(|| harness::json_tree_agrees(text)));
        assert!(run.is_ok(), "{}", String::from_utf8_lossy(text));
    }
}
