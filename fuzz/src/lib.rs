//! The code paths the fuzz targets drive, one function per target, named as the targets are.
//!
//! This file is shared: the fuzz crate exposes it as its library, and
//! `tests/fuzz_regressions.rs` includes it with `#[path]`, so the regression tests and the
//! fuzzer run exactly the same calls. It may use only `preauth_worker`, `serde_json` and `std`
//! (what both crates have), and must not `unwrap` (the main crate's clippy lints apply to it).
//!
//! Every function here must return normally for every input. Any panic is a bug: one raised in
//! the worker, or one of the `assert!`/`panic!`/`expect` calls below, which state properties the
//! worker promises (a decoded case makes a request bundle that reads back; the shipped tables
//! load).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use preauth_worker::case::{Json, Kind};
use preauth_worker::codes::CodeTable;
use preauth_worker::payer::pas::{notification, read, write};
use preauth_worker::payer::sim::pas::review_from_bundle;
use preauth_worker::payer::OriginalRequest;
use preauth_worker::rules::{Policies, Policy};
use serde_json::Value;

/// The shipped code table and every shipped policy, built once per process.
pub struct Rules {
    pub codes: CodeTable,
    pub policies: Vec<Arc<Policy>>,
}

static RULES: OnceLock<Rules> = OnceLock::new();

pub fn rules() -> &'static Rules {
    RULES.get_or_init(|| {
        let codes = CodeTable::embedded().expect("the embedded code table loads");
        let loaded = Policies::load(&codes, None).expect("the embedded policies load");
        let policies = loaded
            .names()
            .iter()
            .map(|name| loaded.get(name).expect("a listed policy is there"))
            .collect();
        Rules { codes, policies }
    })
}

/// The routing key a `case_decode_validate` input selects with its first byte, modulo 6:
/// `'0'` none, `'1'` `case.submitted`, `'2'` `case.appeal`, `'3'` an unknown key, `'4'`
/// `case.updated`, `'5'` `case.cancelled` (the digits 0–3 select what they selected modulo 4).
pub fn routing_key(selector: u8) -> Option<&'static str> {
    match selector % 6 {
        0 => None,
        1 => Some("case.submitted"),
        2 => Some("case.appeal"),
        3 => Some("case.garbage"),
        4 => Some("case.updated"),
        _ => Some("case.cancelled"),
    }
}

/// Target `case_decode_validate`: first byte picks the routing key, the rest is the message
/// body. The body's JSON tree is read as `serde_json::Value` reads it; then identify → decode →
/// validate under every policy → request_bundle → review_from_bundle.
pub fn case_decode_validate(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    json_tree_agrees(body);
    let Ok(id) = preauth_worker::case::identify(body) else {
        return;
    };
    let case = match preauth_worker::case::decode(&id, routing_key(selector)) {
        Ok(case) => case,
        Err(findings) => {
            assert!(!findings.is_empty(), "decode failed without a finding");
            return;
        }
    };
    let rules = rules();
    for policy in &rules.policies {
        let findings = preauth_worker::rules::validate(&case, policy, &rules.codes);
        let _ = preauth_worker::rules::has_errors(&findings);
        let _ = preauth_worker::rules::documents_necessity(&case, policy);
    }
    let bytes = match (&case.original, case.kind) {
        (Some(original), kind @ (Kind::Update | Kind::Cancel)) => {
            let original_id = original.request_identifier(&case.case_id);
            let original = OriginalRequest {
                request_identifier: &original_id,
                payer_reference: &original.payer_reference,
            };
            let change = if kind == Kind::Cancel {
                write::ClaimChange::Cancel
            } else {
                write::ClaimChange::Update
            };
            write::update_bundle(&case, "req-1", "1234567893", original, change).to_json()
        }
        _ => write::request_bundle(&case, "req-1", "1234567893").to_json(),
    };
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => panic!("the request bundle of a decoded case is not JSON: {e}"),
    };
    if let Err(e) = review_from_bundle(&request) {
        panic!("review_from_bundle rejects the request bundle of a decoded case: {e}");
    }
}

/// Target `pas_response_parse`: a payer's answer or a rest-hook notification, as JSON.
pub fn pas_response_parse(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    read_response(&value);
    if let Some(inner) = read::notification_response(&value) {
        read_response(inner);
    }
    let _ = review_from_bundle(&value);
}

fn read_response(value: &Value) {
    let _ = notification::notified_request(value);
    match read::parse_response(value) {
        Ok(response) => {
            let _ = response.overall();
            let _ = response.summary_action();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

static CONFIG_FILES: AtomicU64 = AtomicU64::new(0);

/// A file removed when dropped, so a panic that unwinds (as in the tests) leaves nothing behind.
/// Under libFuzzer a panic aborts instead; scripts/fuzz.sh points TMPDIR at its scratch dir.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Target `config_load`: the bytes as a configuration file (UTF-8 only), with no environment.
pub fn config_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // One file per call: parallel fuzz jobs and parallel tests never share one.
    let file = TempFile(std::env::temp_dir().join(format!(
        "preauth-fuzz-config-{}-{}.toml",
        std::process::id(),
        CONFIG_FILES.fetch_add(1, Ordering::Relaxed)
    )));
    std::fs::write(&file.0, text).expect("write the config file");
    if let Err(e) = preauth_worker::config::Settings::load_without_env(Some(&file.0)) {
        let _ = e.to_string();
    }
}

/// The member name serde_json's `raw_value` feature reads specially in a `Value`.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The worker's JSON tree (`case::Json`, borrowed from the message) holds what
/// `serde_json::Value` holds for the same text, member for member and in the same order, and
/// refuses what it refuses, at the same place. The one known difference, `Value`'s reading of
/// [`RAW_VALUE_TOKEN`], is left out.
pub fn json_tree_agrees(body: &[u8]) {
    let tree = Json::parse(body);
    let value = serde_json::from_slice::<Value>(body);
    match (&tree, &value) {
        (Ok(tree), Ok(value)) => {
            if !names_raw_value_token(tree) {
                assert!(tree.holds_as(value), "the trees differ");
            }
        }
        (Ok(tree), Err(_)) => {
            assert!(names_raw_value_token(tree), "only Value refused the text");
        }
        (Err(_), Ok(_)) => panic!("only the worker's tree refused the text"),
        (Err(a), Err(b)) => {
            // An escaped name could spell the token; positions are compared only without escapes.
            if !body.windows(2).any(|w| w == b"\\u") && !contains(body, RAW_VALUE_TOKEN) {
                assert_eq!(a.classify(), b.classify(), "different error categories");
                assert_eq!(
                    (a.line(), a.column()),
                    (b.line(), b.column()),
                    "different places"
                );
            }
        }
    }
}

fn contains(body: &[u8], needle: &str) -> bool {
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn names_raw_value_token(tree: &Json<'_>) -> bool {
    match tree {
        Json::Array(items) => items.iter().any(names_raw_value_token),
        Json::Object(m) => m
            .iter()
            .any(|(name, v)| name == RAW_VALUE_TOKEN || names_raw_value_token(v)),
        _ => false,
    }
}
