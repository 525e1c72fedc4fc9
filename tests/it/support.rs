//! Shared helpers: paths, the built binary, and an `App` built from the shipped defaults.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use preauth_worker::app::App;
use preauth_worker::config::Settings;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn examples() -> PathBuf {
    root().join("examples")
}

/// Every example case event file, sorted.
pub fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// The examples, and the case events under tests/fixtures/cases/ that carry the fields the
/// examples leave out.
pub fn case_files() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/cases");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    fixtures.sort();
    assert!(!fixtures.is_empty(), "{} holds no case", dir.display());
    let mut files = example_files();
    files.extend(fixtures);
    files
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Example 01 pretty-printed, with the comma after its third line taken out: one syntax error,
/// at line 4 column 3.
pub fn broken_pretty_case() -> String {
    let pretty = serde_json::to_string_pretty(&read_json(
        &examples().join("01-eyelid-margin-cornea-approved.json"),
    ))
    .expect("json");
    let mut lines: Vec<String> = pretty.lines().map(str::to_owned).collect();
    let third = lines[2].trim_end_matches(',').to_owned();
    lines[2] = third;
    lines.join("\n") + "\n"
}

/// The binary under test, with a clean PREAUTH__ environment plus `env`.
pub fn worker(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PREAUTH__")) {
        cmd.env_remove(k);
    }
    cmd.env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub fn run(mut cmd: Command) -> Output {
    cmd.output().expect("binary runs")
}

/// Outcome events from JSON-lines output.
pub fn outcomes(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("outcome line {l:?}: {e}")))
        .collect()
}

/// The app the binary builds from the shipped defaults.
pub fn default_app() -> App {
    let settings = Settings::load_without_env(None).expect("default settings");
    App::build(settings).expect("app")
}

/// A PAS payer simulator on a free loopback port, deciding by the named shipped policy.
pub async fn payer_sim(
    policy: &str,
    scenario: preauth_worker::payer::sim::server::Scenario,
) -> preauth_worker::payer::sim::server::SimHandle {
    use std::sync::Arc;
    let codes = Arc::new(preauth_worker::codes::CodeTable::embedded().expect("codes"));
    let policies = preauth_worker::rules::Policies::load(&codes, None).expect("policies");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    preauth_worker::payer::sim::server::start(
        listener,
        policies.get(policy).expect("policy"),
        codes,
        scenario,
    )
    .expect("payer-sim starts")
}

/// The identity settings of a PAS payer (`[payers.ID]` keys), as every real payer has them: the
/// payer simulator, like a validating payer, refuses a request that names the payer and its
/// members by the worker's stand-ins.
pub const PAYER_IDENTITY: &str = "payer_name = \"Acme Health Plan\"\npayer_identifier = \"60054\"\npayer_identifier_system = \"urn:oid:2.16.840.1.113883.6.300\"\nmember_id_system = \"https://acme.example/fhir/member-id\"\n";
