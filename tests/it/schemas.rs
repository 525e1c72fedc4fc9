//! The JSON Schema files shipped for PM vendors agree with the examples and with what the
//! worker really publishes.

use serde_json::{json, Value};

use crate::support::{case_files, examples, outcomes, read_json, root, run, worker};

fn validator(name: &str) -> jsonschema::Validator {
    let schema = read_json(&root().join("schemas").join(name));
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{name} is not a valid schema: {e}"))
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_example_case_validates_against_the_case_schema() {
    let v = validator("preauth.case.v1.schema.json");
    for file in case_files() {
        let errs = errors(&v, &read_json(&file));
        assert!(errs.is_empty(), "{}: {errs:?}", file.display());
    }
}

#[test]
fn every_example_case_uses_only_members_the_contract_defines() {
    for file in case_files() {
        let bytes = std::fs::read(&file).expect("readable");
        let id = preauth_worker::case::identify(&bytes).expect("identifiable");
        let case = preauth_worker::case::decode(&id, None)
            .unwrap_or_else(|f| panic!("{}: {f:?}", file.display()));
        assert!(
            case.unknown_members.is_empty(),
            "{}: {:?}",
            file.display(),
            case.unknown_members
        );
    }
}

#[test]
fn the_case_schema_refuses_what_the_contract_forbids() {
    let v = validator("preauth.case.v1.schema.json");
    let base = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    let broken: [(&str, Value); 5] = [
        ("/service/procedures/0/units", json!(0)),
        ("/service/procedures/0/modifiers", json!(["E44"])),
        ("/schema", json!("preauth.case.v9")),
        ("/provider/npi", json!("123456789")),
        ("/kind", json!("resubmission")),
    ];
    for (ptr, val) in broken {
        let mut case = base.clone();
        *case.pointer_mut(ptr).expect(ptr) = val;
        assert!(!errors(&v, &case).is_empty(), "{ptr} should be refused");
    }
}

#[test]
fn every_outcome_the_worker_publishes_validates_against_the_outcome_schema() {
    let v = validator("preauth.outcome.v1.schema.json");
    let out = run(worker(
        &["process", examples().to_str().expect("utf-8")],
        &[("PREAUTH__FOLLOWUP__PENDED", "[\"50ms\"]")],
    ));
    let got = outcomes(&out.stdout);
    assert!(got.len() >= 15);
    for o in &got {
        let errs = errors(&v, o);
        assert!(errs.is_empty(), "{o}: {errs:?}");
    }
    // And the schema is not a rubber stamp.
    let mut bad = got[0].clone();
    bad["status"] = json!("maybe");
    assert!(!errors(&v, &bad).is_empty());
}

/// Every way one field of a case can be wrong, applied in turn to every field of every example.
/// Strings also get the shapes the contract talks about (dates, date-times, ids, codes) whatever
/// the field, so that a field of one kind is tried with the values of every other kind.
fn mutations(value: &Value) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        ("null", Value::Null),
        ("empty string", json!("")),
        ("blank", json!("   ")),
        ("number", json!(7)),
        ("negative number", json!(-1)),
        ("zero", json!(0)),
        ("boolean", json!(true)),
        ("object", json!({})),
        ("empty array", json!([])),
        ("long string", json!("x".repeat(5000))),
        ("another word", json!("resubmission")),
        ("a date in another format", json!("02/04/1979")),
        ("an impossible date", json!("2026-02-30")),
        ("29 February of a common year", json!("2026-02-29")),
        ("29 February of a leap year", json!("2028-02-29")),
        ("29 February of a century year", json!("2100-02-29")),
        ("a month 13", json!("2026-13-01")),
        (
            "a date with a sign and a one-digit month",
            json!("+2026-1-01"),
        ),
        ("a date with a blank day digit", json!("2026-12- 1")),
        (
            "a date-time without an offset",
            json!("2026-11-20T14:03:00"),
        ),
        (
            "a date-time with a space, a long fraction and an offset",
            json!("2026-11-20 14:03:00.1234567891234+05:30"),
        ),
        (
            "a date-time at a leap second",
            json!("2026-12-31T23:59:60Z"),
        ),
        ("a date-time with hour 24", json!("2026-11-20T24:00:00Z")),
        (
            "a date-time with an offset of 24 hours",
            json!("2026-11-20T14:03:00+24:00"),
        ),
        (
            "a date-time with a typographic minus",
            json!("2026-11-20T14:03:00\u{2212}05:00"),
        ),
        ("an NPI of 9 digits", json!("123456789")),
        ("an NPI of 11 digits", json!("12345678931")),
        ("a valid NPI", json!("1234567893")),
        ("an id of 128 characters", json!("i".repeat(128))),
        ("an id of 129 characters", json!("i".repeat(129))),
        (
            "an id of 128 characters, padded",
            json!(format!(" {} ", "i".repeat(128))),
        ),
        ("an id with an inner blank", json!("C 1")),
        ("an id with an inner tab", json!("C\t1")),
        ("an accented id", json!("cas-\u{e9}t\u{e9}")),
        ("a lowercase HCPCS code", json!("j7330")),
        ("a dotless ICD-10-CM code", json!("h02822")),
        ("an ICD-10-CM code with a misplaced dot", json!("H028.22")),
        ("an ICD-10-CM code ending in its dot", json!("H02.")),
        ("a CPT Category II code", json!("1234f")),
        ("a two-digit code", json!("11")),
    ];
    if let Some(s) = value.as_str() {
        out.push(("lowercase", json!(s.to_lowercase())));
        out.push(("uppercase", json!(s.to_uppercase())));
        out.push(("padded", json!(format!("  {s} "))));
        out.push(("padded with tabs and newlines", json!(format!("\t{s}\r\n"))));
        out.push((
            "padded with no-break and ideographic spaces",
            json!(format!("\u{a0}{s}\u{3000}")),
        ));
        out.push((
            "padded with next-line characters",
            json!(format!("\u{85}{s}\u{85}")),
        ));
        out.push((
            "preceded by a byte-order mark",
            json!(format!("\u{feff}{s}")),
        ));
        out.push(("with a control character", json!(format!("{s}\u{7}"))));
        out.push((
            "with an inner control character",
            json!(format!("\u{1}{s}")),
        ));
    }
    if let Some(n) = value.as_u64() {
        out.push(("one more", json!(n + 1)));
        out.push(("huge", json!(u64::MAX)));
        out.push(("fractional", json!(n as f64 + 0.5)));
        out.push(("written with a decimal point", json!(n as f64)));
        out.push(("the largest 32-bit count", json!(u32::MAX)));
        out.push((
            "one above the largest 32-bit count",
            json!(u64::from(u32::MAX) + 1),
        ));
        out.push(("a huge whole float", json!(1e300)));
    }
    if let Some(f) = value.as_f64().filter(|_| value.as_u64().is_none()) {
        out.push(("halved", json!(f / 2.0)));
        out.push(("negated", json!(-f)));
        out.push(("tiny", json!(1e-300)));
    }
    if let Some(b) = value.as_bool() {
        out.push(("negated", json!(!b)));
    }
    out
}

/// Every JSON pointer below `value`, with the value there.
fn leaves(value: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{k}");
                out.push((p.clone(), v.clone()));
                leaves(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push((p.clone(), v.clone()));
                leaves(v, p, out);
            }
        }
        _ => {}
    }
}

fn decoder_accepts(case: &Value) -> bool {
    let bytes = serde_json::to_vec(case).expect("json");
    match preauth_worker::case::identify(&bytes) {
        Ok(id) => preauth_worker::case::decode(&id, None).is_ok(),
        Err(_) => false,
    }
}

/// The schema shipped to PM vendors and the worker's decoder are two readings of one contract:
/// over every example and every way to spoil one of its fields (or drop it, or add one), they
/// must accept and refuse the same cases. A disagreement names the example, the field and the
/// change, never a value.
#[test]
fn the_case_schema_and_the_decoder_accept_and_refuse_the_same_cases() {
    let v = validator("preauth.case.v1.schema.json");
    let mut disagreements = Vec::new();
    let mut tried = 0usize;
    let files = case_files();
    for file in &files {
        let base = read_json(file);
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut places = Vec::new();
        leaves(&base, String::new(), &mut places);
        let mut variants: Vec<(String, Value)> = vec![("as shipped".into(), base.clone())];
        let mut extra = base.clone();
        extra["unexpected_field"] = json!(true);
        variants.push(("an unknown top-level field".into(), extra));
        for (ptr, value) in &places {
            if value.is_object() {
                let mut case = base.clone();
                if let Some(Value::Object(m)) = case.pointer_mut(ptr) {
                    m.insert("unexpected_field".into(), json!([1, "two"]));
                    variants.push((format!("{ptr} with an unknown field"), case));
                }
            }
            let (parent, key) = ptr.rsplit_once('/').expect("a pointer has a slash");
            let mut dropped = base.clone();
            let removed = match dropped.pointer_mut(if parent.is_empty() { "" } else { parent }) {
                Some(Value::Object(m)) => m.remove(key).is_some(),
                Some(Value::Array(a)) => key
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < a.len())
                    .map(|i| a.remove(i))
                    .is_some(),
                _ => false,
            };
            if removed {
                variants.push((format!("{ptr} removed"), dropped));
            }
            for (what, replacement) in mutations(value) {
                let mut case = base.clone();
                if let Some(slot) = case.pointer_mut(ptr) {
                    *slot = replacement;
                    variants.push((format!("{ptr} {what}"), case));
                }
            }
        }
        for (what, case) in variants {
            tried += 1;
            let schema = v.is_valid(&case);
            let decoder = decoder_accepts(&case);
            if schema != decoder {
                disagreements.push(format!(
                    "{name}: {what}: schema {}, decoder {}",
                    if schema { "accepts" } else { "refuses" },
                    if decoder { "accepts" } else { "refuses" }
                ));
            }
        }
    }
    println!(
        "{tried} variants of {} cases compared, {} read differently",
        files.len(),
        disagreements.len()
    );
    assert!(tried > 1000, "only {tried} variants");
    assert!(
        disagreements.is_empty(),
        "{} of {tried} variants read differently:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Every progress event the pipeline yields for every example and fixture, followed through its
/// retries and follow-ups as the worker would, with a payer that fails its first calls; and the
/// events the driver and `parked replay` make themselves.
async fn every_progress_event() -> Vec<preauth_worker::case::Progress> {
    use preauth_worker::pipeline::{progress, Next, ParkReason};
    use preauth_worker::retry::CaseState;
    let settings = crate::broker::settings_from(
        &[
            (
                "PREAUTH__PAYERS__DEFAULT__TRANSIENT_FAILURES".into(),
                "2".into(),
            ),
            ("PREAUTH__RETRY__IN_PROCESS_CALLS".into(), "1".into()),
            (
                "PREAUTH__RETRY__DELAYS".into(),
                "[\"1s\", \"2s\", \"3s\"]".into(),
            ),
            (
                "PREAUTH__FOLLOWUP__PENDED".into(),
                "[\"1s\", \"2s\"]".into(),
            ),
        ],
        None,
    );
    let app = preauth_worker::app::App::build(settings).expect("app");
    let mut events = Vec::new();
    for file in case_files() {
        let body = std::fs::read(&file).expect("readable");
        let key = if read_json(&file)["kind"] == "appeal" {
            "case.appeal"
        } else {
            "case.submitted"
        };
        let mut state = CaseState::default();
        for _ in 0..10 {
            let d = app.pipeline.handle(&body, Some(key), &state).await;
            events.extend(d.progress);
            match d.next {
                Next::Retry { state: s, .. } | Next::FollowUp { state: s, .. } => state = s,
                _ => break,
            }
        }
        let now = chrono::Utc::now();
        events.extend(progress::parked_message(
            &body,
            &state,
            ParkReason::DeliveryLimit,
            now,
        ));
        if let Ok(id) = preauth_worker::case::identify(&body) {
            events.push(progress::replayed(&id.case_id, &id.event_id, 1, now));
        }
    }
    events
}

#[tokio::test]
async fn every_progress_event_the_worker_publishes_validates_against_the_progress_schema() {
    use preauth_worker::case::Step;
    let v = validator("preauth.progress.v1.schema.json");
    let events = every_progress_event().await;
    for step in Step::ALL {
        assert!(
            events.iter().any(|e| e.step == step),
            "no {} event among {}",
            step.as_str(),
            events.len()
        );
    }
    for e in &events {
        let value = serde_json::to_value(e).expect("json");
        let errs = errors(&v, &value);
        assert!(errs.is_empty(), "{value}: {errs:?}");
    }
    // The schema names every reason the worker parks for, and is not a rubber stamp.
    let schema = read_json(&root().join("schemas/preauth.progress.v1.schema.json"));
    let reasons = &schema["$defs"]["parked"]["properties"]["reason"]["enum"];
    for r in preauth_worker::pipeline::ParkReason::ALL {
        assert!(
            reasons
                .as_array()
                .is_some_and(|a| a.contains(&json!(r.code()))),
            "{}",
            r.code()
        );
    }
    let submitted = events
        .iter()
        .find(|e| e.step == Step::Submitted)
        .expect("a submitted event");
    let mut bad = serde_json::to_value(submitted).expect("json");
    bad["operation"] = json!(null);
    assert!(!errors(&v, &bad).is_empty());
    bad["step"] = json!("maybe");
    assert!(!errors(&v, &bad).is_empty());
}

#[test]
fn the_case_schema_requires_the_original_request_of_an_update_or_a_cancel_and_only_there() {
    let v = validator("preauth.case.v1.schema.json");
    for name in [
        "16-update-moved-date-pended-approved.json",
        "17-cancel-cancelled.json",
    ] {
        let base = read_json(&examples().join(name));
        assert!(errors(&v, &base).is_empty(), "{name}");
        let mut without = base.clone();
        without["original"] = Value::Null;
        assert!(!errors(&v, &without).is_empty(), "{name} without original");
        let mut as_submission = base.clone();
        as_submission["kind"] = json!("submission");
        assert!(
            !errors(&v, &as_submission).is_empty(),
            "{name} as a submission"
        );
    }
}

#[test]
fn an_information_requested_outcome_must_say_what_the_payer_asks_for() {
    let v = validator("preauth.outcome.v1.schema.json");
    let mut o = json!({
        "schema": "preauth.outcome.v1", "outcome_id": "o-1", "event_id": "e-1",
        "case_id": "C-1", "status": "information-requested",
        "decided_at": "2026-11-20T10:00:00Z", "payer": null, "authorization": null,
        "reasons": [], "findings": [], "appeal": null, "attempts": 1, "sequence": 0,
        "next_follow_up_at": "2026-11-20T11:00:00Z"
    });
    assert!(!errors(&v, &o).is_empty(), "without information_request");
    o["information_request"] = json!({"items": [{"code": "77", "system": null,
        "text": "photographs"}], "due": "2026-12-05"});
    assert!(errors(&v, &o).is_empty(), "{:?}", errors(&v, &o));
    o["status"] = json!("cancelled");
    assert!(errors(&v, &o).is_empty(), "{:?}", errors(&v, &o));
}
