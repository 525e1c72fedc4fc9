//! `preauth-worker check`: findings for a person, exit codes for scripts.

use crate::support::{broken_pretty_case, examples, read_json, run, worker};

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
fn unreadable_input_exits_sixty_five_and_a_missing_file_sixty_six() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.json");
    std::fs::write(&file, "{ this is not json").expect("write");
    let (code, text) = check(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, 65, "{text}");
    assert!(text.starts_with("unreadable: "), "{text}");
    let out = run(worker(&["check", "/nonexistent/case.json"], &[]));
    assert_eq!(out.status.code(), Some(66));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/case.json: cannot read it"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_pretty_printed_case_with_one_syntax_error_is_reported_once_with_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.json");
    std::fs::write(&file, broken_pretty_case()).expect("write");
    let (code, text) = check(&[file.to_str().expect("utf-8")]);
    assert_eq!(code, 65, "{text}");
    assert_eq!(
        text,
        "unreadable: not valid JSON: a syntax error at line 4 column 3 (not-json)\n"
    );
}

#[test]
fn an_empty_file_is_no_input_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("empty.json");
    std::fs::write(&file, "\n  \n").expect("write");
    let out = run(worker(&["check", file.to_str().expect("utf-8")], &[]));
    assert_eq!(out.status.code(), Some(66));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty.json: the file is empty: no case event in it"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn json_lines_get_one_report_each_and_the_worst_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cases.jsonl");
    let one = |name: &str| serde_json::to_string(&read_json(&examples().join(name))).expect("json");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            one("01-eyelid-margin-cornea-approved.json"),
            one("03-cheek-appearance-only-rejected.json")
        ),
    )
    .expect("write");
    let path = file.to_str().expect("utf-8");
    let (code, text) = check(&[path]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("cases.jsonl:1: case C-2026-000123"), "{text}");
    assert!(text.contains("cases.jsonl:2: case C-2026-000125"), "{text}");
    let (code, json) = check(&[path, "--json"]);
    assert_eq!(code, 1);
    let reports: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(reports.as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(reports[1]["input"], format!("{path}:2"));
    // A line that is not JSON makes the whole run unreadable (65), the others still checked.
    std::fs::write(
        &file,
        format!(
            "{}\nnot json\n",
            one("01-eyelid-margin-cornea-approved.json")
        ),
    )
    .expect("write");
    let (code, text) = check(&[path]);
    assert_eq!(code, 65, "{text}");
    assert!(text.contains("cases.jsonl:1: case C-2026-000123"), "{text}");
    assert!(
        text.contains("cases.jsonl:2: unreadable: not JSON: a syntax error at column 2 (not-json)"),
        "{text}"
    );
}

#[test]
fn an_oversized_case_names_the_setting_that_raises_the_limit() {
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(
        &["check", file.to_str().expect("utf-8")],
        &[("PREAUTH__AMQP__MAX_MESSAGE_BYTES", "1024")],
    ));
    assert_eq!(out.status.code(), Some(65));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("over the 1024-byte limit") && text.contains("amqp.max_message_bytes"),
        "{text}"
    );
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
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amqp.prefetch"));
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
