//! Patient data never comes back out: not in findings, outcomes, logs or the `check` command's
//! output. Every string field of every example case event gets a marker of its own (`Zq00001x`,
//! `Zq00002x`, …), one field at a time, all at once, next to the original text, and as extra
//! array elements; the case then goes through `check` and through the pipeline (simulated payer,
//! no broker) and no marker may appear anywhere but in the `case_id` and `event_id` fields that
//! outcomes and reports carry by contract (and in an outcome's `payer.id`, which the contract
//! defines as the case's `coverage.payer_id`). Messages, reasons, park details and log lines may
//! not carry even those.
//!
//! The routing key is marked too, and a configuration without a default payer sends a marked
//! `payer_id` down the not-configured paths. The `check` binary is run on the all-fields and
//! free-text variants, in JSON and text form.
//!
//! A marker is found case-insensitively and by its first six characters (`zq0000`), so an upper-
//! or lower-cased copy of a value, or a slice of it, counts as a leak too.

#[path = "it/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use preauth_worker::app::App;
use preauth_worker::case::{decode, identify};
use preauth_worker::check::{check, CheckReport};
use preauth_worker::config::Settings;
use preauth_worker::pipeline::{Disposition, Next};
use preauth_worker::retry::CaseState;
use regex::Regex;
use serde_json::Value;
use tracing_subscriber::util::SubscriberInitExt;

/// A configuration whose payer table has no `default`: an unknown `payer_id` is then a finding
/// (`check`) or a `payer-not-configured` outcome (pipeline) instead of going to the default payer.
const NO_DEFAULT_PAYER: &str = r#"
[payers.acme-health]
adapter = "simulated"
policy = "default"

[payers.northwind-health]
adapter = "simulated"
policy = "strict-commercial"
"#;

/// Every example case event file (at least ten of them), and the case fixtures that carry the
/// fields the examples leave out.
fn example_files() -> Vec<PathBuf> {
    let files = support::case_files();
    assert!(files.len() >= 10, "only {} example files", files.len());
    files
}

use support::read_json;

fn name_of(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .to_owned()
}

/// Any marker (`Zq00001x`), or its first six characters, in any case.
fn marker_pattern() -> Regex {
    Regex::new(r"(?i)zq[0-9]{4}[0-9]?").expect("marker pattern")
}

/// Hands out distinct markers and remembers which field each went into.
#[derive(Default)]
struct Markers {
    next: usize,
    placed: BTreeMap<String, String>,
}

impl Markers {
    fn new_marker(&mut self, whence: &str) -> String {
        self.next += 1;
        let m = format!("Zq{:05}x", self.next);
        self.placed
            .insert(m[..7].to_ascii_lowercase(), whence.to_owned());
        m
    }

    /// Where the marker (or marker slice) `found` was placed.
    fn whence(&self, found: &str) -> &str {
        self.placed
            .get(&found.to_ascii_lowercase())
            .map_or("(unknown field)", String::as_str)
    }
}

/// JSON pointers of every string in `v`, in document order.
fn string_leaves(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, &format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                string_leaves(item, &format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// JSON pointers of every array of strings (empty arrays included when their key says they hold
/// strings).
fn string_arrays(v: &Value, at: &str, out: &mut Vec<String>) {
    const STRING_ARRAYS: [&str; 3] = ["indications", "modifiers", "given_names"];
    match v {
        Value::Array(items) => {
            let key = at.rsplit('/').next().unwrap_or_default();
            let strings = !items.is_empty() && items.iter().all(Value::is_string);
            if strings || (items.is_empty() && STRING_ARRAYS.contains(&key)) {
                out.push(at.to_owned());
            }
            for (i, item) in items.iter().enumerate() {
                string_arrays(item, &format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                string_arrays(item, &format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn decodes(v: &Value) -> bool {
    let Ok(bytes) = serde_json::to_vec(v) else {
        return false;
    };
    identify(&bytes).is_ok_and(|id| decode(&id, None).is_ok())
}

fn set(v: &mut Value, ptr: &str, new: Value) {
    if let Some(slot) = v.pointer_mut(ptr) {
        *slot = new;
    }
}

fn text_at(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// One marked copy of an example case event.
struct Variant {
    label: String,
    body: Value,
    /// The markers placed in `case_id` and `event_id`, which may appear in those fields only.
    ids: Vec<String>,
}

/// Every marked copy of one example.
fn variants(example: &str, original: &Value, markers: &mut Markers) -> Vec<Variant> {
    assert!(
        decodes(original),
        "{example} must decode as it is for the variants to mean anything"
    );
    let mut leaves = Vec::new();
    string_leaves(original, "", &mut leaves);
    let id_marker = |v: &Value, ptr: &str| -> Option<String> {
        (ptr == "/case_id" || ptr == "/event_id").then(|| text_at(v, ptr))
    };
    let mut out = Vec::new();

    // 1. One field at a time: the marker replaces the value, so codes, dates and enumerations
    //    carry a value that fails to parse (and `schema` one this worker does not accept).
    for ptr in &leaves {
        let mut v = original.clone();
        let m = markers.new_marker(&format!("{example}{ptr}"));
        set(&mut v, ptr, Value::String(m));
        let ids = id_marker(&v, ptr).into_iter().collect();
        out.push(Variant {
            label: format!("{example}: marker replaces {ptr}"),
            body: v,
            ids,
        });
    }

    // 2. Every field at once but `schema` (a foreign schema stops decoding at the first finding).
    let mut v = original.clone();
    for ptr in leaves.iter().filter(|p| *p != "/schema") {
        let m = markers.new_marker(&format!("{example}{ptr} (all fields)"));
        set(&mut v, ptr, Value::String(m));
    }
    let ids = vec![text_at(&v, "/case_id"), text_at(&v, "/event_id")];
    out.push(Variant {
        label: format!("{example}: markers replace every field"),
        body: v,
        ids,
    });

    // 3. Codes, dates and enumerations stay valid; every free-text field (every field where a
    //    marker still decodes) carries one, in front of its text or instead of it. The case
    //    decodes, so every validation rule reads the marked text.
    for (how, prefixed) in [("in front of", true), ("instead of", false)] {
        let mut v = original.clone();
        for ptr in &leaves {
            let before = text_at(&v, ptr);
            let m = markers.new_marker(&format!("{example}{ptr} ({how} the text)"));
            let marked = if prefixed { format!("{m} {before}") } else { m };
            set(&mut v, ptr, Value::String(marked));
            if !decodes(&v) {
                set(&mut v, ptr, Value::String(before));
            }
        }
        assert!(decodes(&v), "{example}: the free-text variant must decode");
        let ids = vec![text_at(&v, "/case_id"), text_at(&v, "/event_id")];
        out.push(Variant {
            label: format!("{example}: markers {how} the free text, valid codes"),
            body: v,
            ids,
        });
    }

    // 4. One more element, a marker, in every array of strings (indications, modifiers, names).
    let mut arrays = Vec::new();
    string_arrays(original, "", &mut arrays);
    for ptr in &arrays {
        let mut v = original.clone();
        let m = markers.new_marker(&format!("{example}{ptr}/- (extra element)"));
        if let Some(items) = v.pointer_mut(ptr).and_then(Value::as_array_mut) {
            items.push(Value::String(m));
        }
        out.push(Variant {
            label: format!("{example}: marker added to {ptr}"),
            body: v,
            ids: vec![],
        });
    }
    out
}

/// Collects leaks: every marker found where it must not be.
struct Leaks {
    pattern: Regex,
    found: Vec<String>,
}

impl Leaks {
    fn new() -> Self {
        Self {
            pattern: marker_pattern(),
            found: Vec::new(),
        }
    }

    fn scan(&mut self, markers: &Markers, variant: &str, place: &str, text: &str) {
        for m in self.pattern.find_iter(text) {
            self.found.push(format!(
                "{variant}\n    {place} repeats the value of {}: …{}…",
                markers.whence(m.as_str()),
                around(text, m.start(), m.end())
            ));
        }
    }

    fn assert_none(&self, what: &str) {
        let shown: Vec<&String> = self.found.iter().take(40).collect();
        assert!(
            self.found.is_empty(),
            "{} leak(s) of case text into {what}; the first ones:\n{}",
            self.found.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Up to 60 characters either side of `start..end`, on character boundaries.
fn around(text: &str, start: usize, end: usize) -> &str {
    let mut from = start.saturating_sub(60);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (end + 60).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    &text[from..to]
}

/// Removes the `case_id` and `event_id` keys, at any depth: the only places id markers may be.
fn without_ids(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("case_id");
                map.remove("event_id");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn app(config: Option<&Path>) -> App {
    let settings = Settings::load_without_env(config).expect("settings");
    App::build(settings).expect("app")
}

fn no_default_config(dir: &Path) -> PathBuf {
    let path = dir.join("no-default-payer.toml");
    std::fs::write(&path, NO_DEFAULT_PAYER).expect("write config");
    path
}

/// What `check` says, scanned: findings (rule, path, message), the unreadable line, and the whole
/// report with its id fields removed.
fn scan_report(
    leaks: &mut Leaks,
    markers: &Markers,
    variant: &Variant,
    setup: &str,
    report: &CheckReport,
) {
    let label = format!("{} [{setup}]", variant.label);
    for f in &report.findings {
        let text = format!("{} | {} | {}", f.rule, f.path, f.message);
        leaks.scan(markers, &label, "a finding", &text);
    }
    if let Some(why) = &report.unreadable {
        leaks.scan(markers, &label, "the unreadable line", why);
    }
    let whole = serde_json::to_value(report).expect("report as JSON");
    leaks.scan(
        markers,
        &label,
        "the report",
        &without_ids(whole).to_string(),
    );
}

/// What the pipeline decides, scanned: every outcome (its `case_id` and `event_id` aside), the
/// park detail and the state carried to the next delivery.
///
/// `payer.id` is, by contract, "the case's `coverage.payer_id`", an identifier like the case id:
/// it is set aside too, when it is exactly that value.
fn scan_disposition(
    leaks: &mut Leaks,
    markers: &Markers,
    label: &str,
    case: &Value,
    d: &Disposition,
) {
    let payer_id = case.pointer("/coverage/payer_id");
    for o in &d.outcomes {
        let mut v = serde_json::to_value(o).expect("outcome as JSON");
        if let Some(payer) = v.get_mut("payer").and_then(Value::as_object_mut) {
            if payer.get("id") == payer_id {
                payer.remove("id");
            }
        }
        leaks.scan(markers, label, "an outcome", &without_ids(v).to_string());
    }
    match &d.next {
        Next::Park { detail, state, .. } => {
            leaks.scan(markers, label, "the park detail", detail);
            if let Some(state) = state {
                leaks.scan(markers, label, "the parked state", &format!("{state:?}"));
            }
        }
        Next::Retry { state, .. } | Next::FollowUp { state, .. } => {
            leaks.scan(markers, label, "the carried state", &format!("{state:?}"));
        }
        Next::Ack => {}
    }
}

/// A log sink shared with the subscriber.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut b) => b.extend_from_slice(buf),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn take(&self) -> String {
        let bytes = match self.0.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn routing_key_of(v: &Value) -> &'static str {
    match v.get("kind").and_then(Value::as_str) {
        Some("appeal") => "case.appeal",
        _ => "case.submitted",
    }
}

#[test]
fn no_marked_case_value_reaches_a_finding_an_outcome_or_a_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let with_default = app(None);
    let without_default = app(Some(&no_default_config(dir.path())));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let logs = LogBuffer::default();
    let sink = logs.clone();
    let _subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish()
        .set_default();

    let mut markers = Markers::default();
    let mut leaks = Leaks::new();
    let mut rules_seen = BTreeSet::new();
    let mut reasons_seen = BTreeSet::new();
    let mut variants_run = 0;
    for file in example_files() {
        let example = name_of(&file);
        let original = read_json(&file);
        let all = variants(&example, &original, &mut markers);
        for variant in &all {
            variants_run += 1;
            let body = serde_json::to_vec(&variant.body).expect("body");
            for (setup, app) in [
                ("default payer", &with_default),
                ("no default payer", &without_default),
            ] {
                let report = runtime.block_on(check(&app.pipeline, &body));
                rules_seen.extend(report.findings.iter().map(|f| f.rule.clone()));
                scan_report(&mut leaks, &markers, variant, setup, &report);
                // A marked id is still the id: it comes back in the id fields, and only there.
                for id in &variant.ids {
                    let carried = [&report.case_id, &report.event_id]
                        .into_iter()
                        .any(|field| field.as_deref() == Some(id.trim()));
                    assert!(
                        carried,
                        "{}: {id} is not in the report's ids",
                        variant.label
                    );
                }

                // The pipeline, with the routing key the kind asks for and with a marked one.
                let marked_key = markers.new_marker(&format!("{} (routing key)", variant.label));
                for key in [routing_key_of(&variant.body), marked_key.as_str()] {
                    let label = format!("{} [{setup}, routing key {key}]", variant.label);
                    let d = runtime.block_on(app.pipeline.handle(
                        &body,
                        Some(key),
                        &CaseState::default(),
                    ));
                    for o in &d.outcomes {
                        rules_seen.extend(o.findings.iter().map(|f| f.rule.clone()));
                        reasons_seen.extend(o.reasons.iter().map(|r| r.code.clone()));
                    }
                    scan_disposition(&mut leaks, &markers, &label, &variant.body, &d);
                    for line in logs.take().lines() {
                        let scrubbed = match serde_json::from_str::<Value>(line) {
                            Ok(v) => without_ids(v).to_string(),
                            Err(_) => line.to_owned(),
                        };
                        leaks.scan(&markers, &label, "a log line", &scrubbed);
                    }
                }
            }
        }
    }
    leaks.assert_none("findings, outcomes or logs");

    // The markers reached the code paths that once repeated input values: without this, a
    // change that stopped them from being read would pass for a fix.
    for rule in [
        "DEC-01",
        "DEC-02",
        "DEC-03",
        "FMT-CPT-01",
        "FMT-ICD-01",
        "FMT-MOD-01",
        "FMT-NPI-01",
        "NEC-06",
        "CFG-01",
    ] {
        assert!(
            rules_seen.contains(rule),
            "no variant produced {rule}: {rules_seen:?}"
        );
    }
    assert!(
        reasons_seen.contains("payer-not-configured"),
        "no variant reached the payer-not-configured reason: {reasons_seen:?}"
    );
    assert!(variants_run > 100, "only {variants_run} variants");
}

/// The binary, with a clean PREAUTH__ environment and debug logging.
fn worker(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PREAUTH__")) {
        cmd.env_remove(k);
    }
    cmd.env("RUST_LOG", "debug");
    cmd
}

#[test]
fn the_check_command_prints_no_marked_case_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = no_default_config(dir.path());
    let config = config.to_str().expect("utf-8 path");
    let mut markers = Markers::default();
    let mut leaks = Leaks::new();
    let mut runs = 0;
    for file in example_files() {
        let example = name_of(&file);
        let original = read_json(&file);
        // Every field at once, and the decodable free-text variants; single-field variants
        // are covered in process by the test above.
        let all = variants(&example, &original, &mut markers);
        for (i, variant) in all
            .iter()
            .filter(|v| v.label.contains("every field") || v.label.contains("free text"))
            .enumerate()
        {
            let path = dir.path().join(format!("{example}-{i}.json"));
            std::fs::write(
                &path,
                serde_json::to_vec_pretty(&variant.body).expect("body"),
            )
            .expect("write case");
            let path = path.to_str().expect("utf-8 path");
            for args in [
                vec!["--config", config, "check", "--json", path],
                vec!["check", "--json", path],
                vec!["--config", config, "check", path],
            ] {
                runs += 1;
                let out = worker(&args).output().expect("binary runs");
                let label = format!("{} [{}]", variant.label, args.join(" "));
                let code = out.status.code();
                assert!(
                    matches!(code, Some(0 | 1 | 65)),
                    "{label}: exit {code:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                leaks.scan(&markers, &label, "stderr", &stderr);
                if args.contains(&"--json") {
                    let report: Value = serde_json::from_str(&stdout)
                        .unwrap_or_else(|e| panic!("{label}: not JSON ({e}): {stdout}"));
                    leaks.scan(&markers, &label, "stdout", &without_ids(report).to_string());
                } else {
                    // The first line names the case and the event; the id markers belong there
                    // and nowhere else.
                    let mut lines = stdout.lines();
                    let mut header = lines.next().unwrap_or_default().to_owned();
                    for id in &variant.ids {
                        header = header.replace(id.as_str(), "");
                    }
                    leaks.scan(&markers, &label, "the header line", &header);
                    for line in lines {
                        leaks.scan(&markers, &label, "stdout", line);
                    }
                }
            }
        }
    }
    leaks.assert_none("the check command's output");
    assert!(runs >= 30, "only {runs} runs of check");
}
