//! `preauth-worker process`: the examples flow through validation and the simulated payer into
//! outcome events, one terminal outcome per case event.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{example_files, examples, outcomes, read_json, run, worker};

/// Short follow-up waits so the pended example settles quickly.
const FAST: &[(&str, &str)] = &[("PREAUTH__FOLLOWUP__PENDED", "[\"50ms\", \"50ms\"]")];

/// What each example must end as: final status, pended events before it.
fn expected() -> BTreeMap<&'static str, (&'static str, usize)> {
    BTreeMap::from([
        ("01-eyelid-margin-cornea-approved", ("approved", 0)),
        ("02-infected-milia-forehead-approved", ("approved", 0)),
        ("03-cheek-appearance-only-rejected", ("rejected", 0)),
        ("04-cosmetic-encounter-z411-rejected", ("rejected", 0)),
        ("05-17110-twenty-lesions-rejected", ("rejected", 0)),
        ("06-eyelid-modifier-mismatch-rejected", ("rejected", 0)),
        (
            "07-no-conservative-treatment-appeal-needed",
            ("appeal-needed", 0),
        ),
        ("08-appeal-with-letter-approved", ("approved", 0)),
        ("09-appeal-without-letter-rejected", ("rejected", 0)),
        ("10-appeal-treatment-improved-denied", ("denied", 0)),
        ("11-eyelid-excision-pended-approved", ("approved", 1)),
        ("12-unknown-member-failed", ("failed", 0)),
        ("13-partial-approval", ("approved", 0)),
        ("14-expedited-infected-eyelid-approved", ("approved", 0)),
        ("15-17111-many-lesions-approved", ("approved", 0)),
        ("16-update-moved-date-pended-approved", ("approved", 1)),
        ("17-cancel-cancelled", ("cancelled", 0)),
    ])
}

fn process_examples() -> (Vec<Value>, String) {
    let out = run(worker(
        &["process", examples().to_str().expect("utf-8 path")],
        FAST,
    ));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        outcomes(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn by_event(outcomes: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in outcomes {
        map.entry(o["event_id"].as_str().expect("event_id").to_owned())
            .or_default()
            .push(o.clone());
    }
    map
}

#[test]
fn every_example_ends_with_its_expected_status_and_exactly_one_terminal_outcome() {
    let (outcomes, stderr) = process_examples();
    let by_event = by_event(&outcomes);
    let files = example_files();
    assert_eq!(
        files.len(),
        expected().len(),
        "an example without an expectation, or the reverse"
    );
    let mut seen_status = std::collections::BTreeSet::new();
    for file in files {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        let (want, pended) = expected()[name.as_str()];
        let event = read_json(&file);
        let event_id = event["event_id"].as_str().expect("event_id");
        let got = &by_event[event_id];
        let terminal: Vec<&Value> = got.iter().filter(|o| o["status"] != "pended").collect();
        assert_eq!(terminal.len(), 1, "{name}: {got:?}");
        assert_eq!(terminal[0]["status"], want, "{name}: {:?}", terminal[0]);
        assert_eq!(got.len() - 1, pended, "{name}: pended events");
        assert_eq!(terminal[0]["case_id"], event["case_id"], "{name}");
        for o in got {
            seen_status.insert(o["status"].as_str().expect("status").to_owned());
        }
    }
    for status in [
        "approved",
        "pended",
        "denied",
        "appeal-needed",
        "rejected",
        "failed",
        "cancelled",
    ] {
        assert!(seen_status.contains(status), "no example shows {status}");
    }
    assert!(
        stderr.contains("approved") && stderr.contains("rejected"),
        "summary table: {stderr}"
    );
}

#[test]
fn outcomes_carry_what_their_status_promises() {
    let (outcomes, _) = process_examples();
    let find = |case_id: &str, status: &str| -> Value {
        outcomes
            .iter()
            .find(|o| o["case_id"] == case_id && o["status"] == status)
            .unwrap_or_else(|| panic!("{case_id} {status}"))
            .clone()
    };
    // Approved: an authorization, the payer's review action, deductibles still apply.
    let a = find("C-2026-000123", "approved");
    assert!(a["authorization"]["number"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    assert_eq!(a["payer"]["review_action"], "A1");
    assert_eq!(a["authorization"]["partial"], false);
    assert!(a["payer"]["request_identifier"]
        .as_str()
        .is_some_and(|s| s.len() == 36));
    // Partial certification.
    let p = find("C-2026-000134", "approved");
    assert_eq!(p["authorization"]["partial"], true);
    assert_eq!(p["payer"]["review_action"], "A2");
    // Appeal-needed: a deadline and the packet.
    let n = find("C-2026-000129", "appeal-needed");
    assert!(n["appeal"]["deadline"].as_str().is_some());
    let required: Vec<&str> = n["appeal"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        required.contains(&"letter_of_medical_necessity") && required.contains(&"prior_treatments"),
        "{required:?}"
    );
    assert!(!n["reasons"].as_array().expect("reasons").is_empty());
    // Rejected: findings with rule, severity, path and message.
    let r = find("C-2026-000128", "rejected");
    let f = &r["findings"][0];
    assert_eq!(f["rule"], "MOD-04");
    assert_eq!(f["severity"], "error");
    assert!(f["path"]
        .as_str()
        .is_some_and(|p| p.starts_with("service.procedures[0].modifiers")));
    assert_eq!(r["attempts"], 0);
    // Pended: the payer's reference and when the worker looks again.
    let pe = find("C-2026-000132", "pended");
    assert!(pe["payer"]["reference"].as_str().is_some());
    assert!(pe["next_follow_up_at"].as_str().is_some());
    // Failed: the payer's reason.
    let fa = find("C-2026-000133", "failed");
    assert_eq!(fa["reasons"][0]["code"], "75");
}

#[test]
fn processing_the_same_events_twice_yields_the_same_outcome_ids() {
    let ids = |o: Vec<Value>| -> std::collections::BTreeSet<String> {
        o.iter()
            .map(|o| o["outcome_id"].as_str().expect("id").to_owned())
            .collect()
    };
    let (first, _) = process_examples();
    let (second, _) = process_examples();
    assert_eq!(ids(first), ids(second));
}

/// Runs `process -` with `input` on standard input.
fn process_stdin(input: &str) -> std::process::Output {
    let mut child = worker(&["process", "-"], FAST)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn json_lines_with_a_bad_line_report_its_number_carry_on_and_exit_sixty_five() {
    let good = serde_json::to_string(&read_json(
        &examples().join("01-eyelid-margin-cornea-approved.json"),
    ))
    .expect("json");
    let mut second = read_json(&examples().join("03-cheek-appearance-only-rejected.json"));
    second["event_id"] = Value::from("line-three");
    let input = format!(
        "{good}\n\nthis is not json\n{}\n{{\"case_id\": \"C-9\"}}\n",
        serde_json::to_string(&second).expect("json")
    );
    let out = process_stdin(&input);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stdin:3: unreadable (not-json): not JSON: a syntax error at column 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stdin:5: unreadable (no-event-id): event_id is missing"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("parking") && !stderr.contains("parked"),
        "{stderr}"
    );
    let got = outcomes(&out.stdout);
    let statuses: std::collections::BTreeSet<&str> =
        got.iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(statuses.contains("approved") && statuses.contains("rejected"));
    assert!(stderr.contains("\n2 case events in "), "{stderr}");
}

#[test]
fn a_pretty_printed_file_with_one_syntax_error_is_reported_once_and_exits_sixty_five() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.json");
    std::fs::write(&file, crate::support::broken_pretty_case()).expect("write");
    let path = file.to_str().expect("utf-8");
    let out = run(worker(&["process", path], FAST));
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!("{path}: unreadable (not-json): not valid JSON: a syntax error at line 4 column 3"),
        "one line, nothing else: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_empty_file_or_no_input_at_all_is_an_error_naming_what_was_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("empty.jsonl");
    std::fs::write(&file, "\n\n").expect("write");
    let out = run(worker(&["process", file.to_str().expect("utf-8")], FAST));
    assert_eq!(out.status.code(), Some(66));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty.jsonl: the file is empty: no case event in it"),
        "{stderr}"
    );
    assert!(!stderr.contains("0 case events"), "{stderr}");
    // No input named and nothing on standard input.
    let out = run(worker(&["process"], FAST));
    assert_eq!(out.status.code(), Some(66));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stdin: standard input is empty: no case event to read"),
        "{stderr}"
    );
    // A folder without case files, and a file that is not there.
    let out = run(worker(
        &[
            "process",
            dir.path().join("none").to_str().expect("utf-8"),
            dir.path().to_str().expect("utf-8"),
        ],
        FAST,
    ));
    assert_eq!(out.status.code(), Some(66));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("none: cannot read it"), "{stderr}");
}

#[test]
fn a_run_where_every_input_is_unreadable_exits_sixty_five() {
    let out = process_stdin("not json\n[1, 2]\n{\"event_id\": \"e-1\"}\n");
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    assert!(
        stderr.contains("stdin:2: unreadable (not-an-object)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stdin:3: unreadable (no-case-id)"),
        "{stderr}"
    );
}

#[test]
fn the_summary_says_one_case_event_and_lines_up_its_counts() {
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(&["process", file.to_str().expect("utf-8")], FAST));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\n1 case event in "), "{stderr}");
    let table: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("  status"))
        .take_while(|l| !l.starts_with("  top rules"))
        .collect();
    assert!(table.len() >= 8, "{stderr}");
    let widths: std::collections::BTreeSet<usize> = table.iter().map(|l| l.len()).collect();
    assert_eq!(widths.len(), 1, "columns do not line up:\n{stderr}");
}

#[test]
fn an_oversized_case_event_names_the_setting_and_the_limit() {
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(
        &["process", file.to_str().expect("utf-8")],
        &[("PREAUTH__AMQP__MAX_MESSAGE_BYTES", "1024")],
    ));
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unreadable (too-large): ")
            && stderr.contains("over the 1024-byte limit for one case event; the setting amqp.max_message_bytes raises it"),
        "{stderr}"
    );
}

#[test]
fn a_json_array_input_is_one_case_per_element() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<Value> = [
        "01-eyelid-margin-cornea-approved",
        "05-17110-twenty-lesions-rejected",
    ]
    .iter()
    .map(|n| read_json(&examples().join(format!("{n}.json"))))
    .collect();
    let file = dir.path().join("batch.json");
    std::fs::write(&file, serde_json::to_string_pretty(&cases).expect("json")).expect("write");
    let output = dir.path().join("out.jsonl");
    let out = run(worker(
        &[
            "process",
            file.to_str().expect("utf-8"),
            "--output",
            output.to_str().expect("utf-8"),
        ],
        FAST,
    ));
    assert!(out.status.success());
    let got = outcomes(&std::fs::read(&output).expect("output file"));
    assert_eq!(got.len(), 2);
}

#[test]
fn an_unlisted_payer_without_a_default_gets_a_failed_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("worker.toml");
    std::fs::write(
        &config,
        "[payers.northwind-health]\nadapter = \"simulated\"\npolicy = \"strict-commercial\"\n",
    )
    .expect("write");
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(
        &[
            "process",
            "--config",
            config.to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
        ],
        FAST,
    ));
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["status"], "failed");
    assert_eq!(got[0]["reasons"][0]["code"], "payer-not-configured");
}

#[test]
fn a_payer_that_recovers_is_retried_until_it_approves() {
    let env = [
        ("PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES", "4"),
        ("PREAUTH__RETRY__DELAYS", "[\"50ms\", \"50ms\", \"50ms\"]"),
        ("PREAUTH__RETRY__IN_PROCESS_CALLS", "2"),
    ];
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(&["process", file.to_str().expect("utf-8")], &env));
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "approved");
    assert_eq!(got[0]["attempts"], 5);
}

#[test]
fn a_payer_that_never_recovers_ends_failed_and_parked() {
    let env = [
        ("PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES", "1000"),
        ("PREAUTH__RETRY__DELAYS", "[\"20ms\", \"20ms\"]"),
        ("PREAUTH__RETRY__IN_PROCESS_CALLS", "1"),
    ];
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(&["process", file.to_str().expect("utf-8")], &env));
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["status"], "failed");
    assert_eq!(got[0]["reasons"][0]["code"], "retries-exhausted");
    assert_eq!(got[0]["attempts"], 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("retries-exhausted"));
}

/// What an outcome says, without its times: ids, status, reasons.
fn decision(o: &Value) -> (String, String, String, Vec<String>) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let reasons = o["reasons"]
        .as_array()
        .map(|r| r.iter().map(|r| text(&r["code"])).collect())
        .unwrap_or_default();
    (
        text(&o["outcome_id"]),
        text(&o["event_id"]),
        text(&o["status"]),
        reasons,
    )
}

#[test]
fn the_examples_give_the_same_outcomes_in_the_same_order_on_the_simulated_and_the_real_clock() {
    let examples = examples();
    let path = examples.to_str().expect("utf-8 path");
    let on = |clock: &str| {
        let mut env = FAST.to_vec();
        env.push(("PREAUTH__PROCESS__CLOCK", clock));
        let out = run(worker(&["process", path], &env));
        assert!(
            out.status.success(),
            "{clock}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let decisions: Vec<_> = outcomes(&out.stdout).iter().map(decision).collect();
        (decisions, stderr)
    };
    let (simulated, simulated_summary) = on("auto");
    let (real, real_summary) = on("real");
    assert_eq!(simulated.len(), expected().len() + 2, "{simulated:?}");
    assert_eq!(simulated, real);
    assert!(
        simulated_summary.contains("on the simulated clock"),
        "{simulated_summary}"
    );
    assert!(
        !real_summary.contains("on the simulated clock"),
        "{real_summary}"
    );
}

#[test]
fn on_the_simulated_clock_a_pended_case_is_followed_up_after_its_configured_wait() {
    let env = [("PREAUTH__FOLLOWUP__PENDED", "[\"1h\", \"4h\"]")];
    let out = run(worker(
        &["process", examples().to_str().expect("utf-8 path")],
        &env,
    ));
    assert!(out.status.success());
    let time = |o: &Value, key: &str| -> chrono::DateTime<chrono::Utc> {
        o[key]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("{key}: {o}"))
            .with_timezone(&chrono::Utc)
    };
    let by_event = by_event(&outcomes(&out.stdout));
    let mut pended = 0;
    for got in by_event.values() {
        for (i, o) in got.iter().enumerate() {
            if o["status"] != "pended" {
                continue;
            }
            pended += 1;
            let wait = time(o, "next_follow_up_at") - time(o, "decided_at");
            assert_eq!(wait, chrono::TimeDelta::hours(1), "{o}");
            // The follow-up was made when it was due, on the simulated clock.
            let next = &got[i + 1];
            assert_eq!(
                time(next, "decided_at"),
                time(o, "next_follow_up_at"),
                "{next}"
            );
        }
    }
    assert_eq!(pended, 2, "{by_event:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(", 1h on the simulated clock"), "{stderr}");
}

#[test]
fn a_json_array_on_standard_input_is_one_case_per_element() {
    let cases: Vec<Value> = [
        "01-eyelid-margin-cornea-approved",
        "05-17110-twenty-lesions-rejected",
    ]
    .iter()
    .map(|n| read_json(&examples().join(format!("{n}.json"))))
    .collect();
    let out = process_stdin(&serde_json::to_string_pretty(&cases).expect("json"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let statuses: Vec<Value> = outcomes(&out.stdout)
        .iter()
        .map(|o| o["status"].clone())
        .collect();
    assert_eq!(statuses, ["approved", "rejected"]);
}

#[test]
fn an_over_long_line_is_reported_too_large_and_the_lines_after_it_are_processed() {
    let good = serde_json::to_string(&read_json(
        &examples().join("01-eyelid-margin-cornea-approved.json"),
    ))
    .expect("json");
    let mut big = read_json(&examples().join("03-cheek-appearance-only-rejected.json"));
    big["documentation"]["clinical_notes"] = Value::from("x".repeat(8000));
    let big = serde_json::to_string(&big).expect("json");
    let mut child = worker(
        &["process", "-"],
        &[("PREAUTH__AMQP__MAX_MESSAGE_BYTES", "4096")],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{big}\n{good}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "stdin:1: unreadable (too-large): {} bytes, over the 4096-byte limit for one case event",
            big.len()
        )),
        "{stderr}"
    );
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "approved");
}
