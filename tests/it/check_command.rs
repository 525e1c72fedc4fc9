//! `preauth-worker check`: findings for a person, exit codes for scripts.

use preauth_worker::exit;

use crate::support::{examples, run, worker};

fn check(args: &[&str]) -> (i32, String) {
    let out = run(worker(&[&["check"], args].concat(), &[]));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_submittable_case_exits_zero() {
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let (code, text) = check(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("submittable"), "{text}");
}

#[test]
fn a_case_with_errors_exits_one_and_names_the_rules() {
    let file = examples().join("03-cheek-appearance-only-rejected.json");
    let (code, text) = check(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("NEC-01") && text.contains("NEC-04"), "{text}");
}

#[test]
fn unreadable_input_exits_with_the_data_code_and_a_missing_file_with_the_no_input_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.json");
    std::fs::write(&file, "{ this is not json").expect("write");
    let (code, text) = check(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, i32::from(exit::DATA), "{text}");
    let (code, _) = check(&["/nonexistent/case.json"]);
    assert_eq!(code, i32::from(exit::NO_INPUT));
}

#[test]
fn json_output_is_machine_readable() {
    let file = examples().join("06-eyelid-modifier-mismatch-rejected.json");
    let (code, text) = check(&[file.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&text).expect("json report");
    assert_eq!(report["submittable"], false);
    assert_eq!(report["findings"][0]["rule"], "MOD-04");
}

#[test]
fn a_bad_configuration_exits_with_the_config_code_naming_the_key() {
    let out = run(worker(&["check", "-"], &[("PREAUTH__AMQP__PREFETCH", "0")]));
    assert_eq!(out.status.code(), Some(i32::from(exit::CONFIG)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amqp.prefetch"));
}

#[test]
fn a_usage_mistake_exits_with_the_usage_code_not_clap_s_two() {
    let out = run(worker(&["check", "--no-such-flag"], &[]));
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
    let out = run(worker(&[], &[]));
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
    let out = run(worker(&["--help"], &[]));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_rules_flag_prints_the_catalogue_without_a_case() {
    let (code, text) = check(&["--rules"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("NEC-01") && text.contains("CFG-01"), "{text}");
    let (code, text) = check(&["--rules", "--json"]);
    assert_eq!(code, 0, "{text}");
    let catalogue: serde_json::Value = serde_json::from_str(&text).expect("json catalogue");
    assert_eq!(catalogue[0]["rule"], "DEC-01");
}
