//! The PAS adapter over real HTTP against the payer simulator: decisions, retries, Retry-After,
//! refusals, timeouts, token refresh; `process` and `run` reach a PAS endpoint by configuration.

use crate::support::PAYER_IDENTITY;
use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use preauth_worker::payer::sim::server::{Scenario, Seen, SimHandle};
use preauth_worker::payer::sim::Faults;
use serde_json::Value;

use crate::broker::{count_terminal, Broker, WorkerProcess};
use crate::support::{examples, outcomes, read_json, run, worker};

async fn sim(policy: &str, scenario: Scenario) -> SimHandle {
    crate::support::payer_sim(policy, scenario).await
}

/// Drives the first example (an approvable eyelid case) through `process` against a payer-sim
/// playing `scenario`; returns the simulator (for what it saw) and the outcomes.
async fn first_example_through(scenario: Scenario) -> (SimHandle, Vec<Value>) {
    let s = sim("default", scenario).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let got = process(
        &config(&dir, &s, None, ""),
        &["01-eyelid-margin-cornea-approved.json"],
        &[],
    );
    (s, got)
}

/// A config routing every payer to `default_sim` (and northwind-health to `strict_sim`).
fn config(
    dir: &tempfile::TempDir,
    default_sim: &SimHandle,
    strict_sim: Option<&SimHandle>,
    extra: &str,
) -> String {
    let mut text = format!(
        "[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{}\"\ntimeout = \"1s\"\n{extra}\n",
        default_sim.base_url()
    );
    if let Some(strict) = strict_sim {
        text.push_str(&format!(
            "[payers.northwind-health]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\npolicy = \"strict-commercial\"\nbase_url = \"{}\"\ntimeout = \"1s\"\n",
            strict.base_url()
        ));
    }
    let path = dir.path().join("worker.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_str().expect("utf-8").to_owned()
}

const FAST: &[(&str, &str)] = &[
    (
        "PREAUTH__RETRY__DELAYS",
        "[\"100ms\", \"100ms\", \"100ms\", \"3s\"]",
    ),
    ("PREAUTH__RETRY__IN_PROCESS_CALLS", "1"),
    ("PREAUTH__FOLLOWUP__PENDED", "[\"200ms\", \"200ms\"]"),
];

fn process(config: &str, files: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let mut args = vec!["process", "--config", config];
    let paths: Vec<String> = files
        .iter()
        .map(|f| examples().join(f).to_str().expect("utf-8").to_owned())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let out = run(worker(&args, &[FAST, env].concat()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outcomes(&out.stdout)
}

fn by_identifier(seen: &[Seen]) -> BTreeMap<String, Vec<Seen>> {
    let mut map: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    for s in seen.iter().filter(|s| s.operation != "token") {
        map.entry(s.request_identifier.clone())
            .or_default()
            .push(s.clone());
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_gets_the_same_decision_over_pas_as_from_the_in_process_simulator() {
    let default_sim = sim("default", Scenario::default()).await;
    let strict_sim = sim("strict-commercial", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir, &default_sim, Some(&strict_sim), "");
    let over_pas = process(&cfg, &["."], &[]);
    let in_process = outcomes(
        &run(worker(
            &["process", examples().to_str().expect("utf-8")],
            FAST,
        ))
        .stdout,
    );
    let summary = |o: &[Value]| -> BTreeSet<(String, String, String)> {
        o.iter()
            .map(|o| {
                (
                    o["event_id"].as_str().unwrap_or_default().to_owned(),
                    o["status"].as_str().unwrap_or_default().to_owned(),
                    o["payer"]["review_action"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(summary(&over_pas), summary(&in_process));
    assert_eq!(over_pas.len(), in_process.len());
    // Approved over PAS carries the payer's authorization and units.
    let approved = over_pas
        .iter()
        .find(|o| o["event_id"] == "0b6f2c56-5f0e-4a8e-9f43-2d1c8f7e1a01")
        .expect("example 01 (example 17 cancels its request later, under the same case id)");
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["authorization"]["approved_units"], 1);
    // Every request reached the payer once; the pended one was followed up with $inquire.
    let seen = [default_sim.seen(), strict_sim.seen()].concat();
    assert!(
        seen.iter()
            .any(|s| s.operation == "inquire" && s.status == 200),
        "{seen:?}"
    );
    for (id, tries) in by_identifier(&seen) {
        let submits = tries.iter().filter(|s| s.operation == "submit").count();
        assert!(
            submits <= 1,
            "{id} reached the payer {submits} times: {tries:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_answering_503_three_times_is_retried_as_one_request_and_approves() {
    let (s, got) = first_example_through(Scenario::from(Faults {
        fail_first: 3,
        ..Faults::default()
    }))
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["status"], "approved");
    assert_eq!(got[0]["attempts"], 4);
    let seen = by_identifier(&s.seen());
    assert_eq!(
        seen.len(),
        1,
        "one request identifier at the payer: {seen:?}"
    );
    let statuses: Vec<u16> = seen
        .values()
        .next()
        .expect("one")
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, vec![503, 503, 503, 200]);
    assert_eq!(
        got[0]["payer"]["request_identifier"].as_str(),
        seen.keys().next().map(String::as_str)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_from_a_429_is_honoured_before_the_next_try() {
    let (s, got) = first_example_through(Scenario::from(Faults {
        throttle_first: 1,
        retry_after: Some(Duration::from_secs(2)),
        ..Faults::default()
    }))
    .await;
    assert_eq!(got[0]["status"], "approved");
    let seen = s.seen();
    assert_eq!(
        seen.iter().map(|s| s.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    let gap = seen[1].at_ms - seen[0].at_ms;
    assert!(
        gap >= 2000,
        "retried after {gap} ms, before the payer's Retry-After of 2 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_from_the_payer_fails_the_case_without_retrying() {
    let (s, got) = first_example_through(Scenario::from(Faults {
        reject: true,
        ..Faults::default()
    }))
    .await;
    assert_eq!(got[0]["status"], "failed");
    assert_eq!(got[0]["reasons"][0]["code"], "http-400");
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_answer_fails_the_case_with_the_reason() {
    let (_sim, got) = first_example_through(Scenario::from(Faults {
        malformed: true,
        ..Faults::default()
    }))
    .await;
    assert_eq!(got[0]["status"], "failed");
    assert_eq!(got[0]["reasons"][0]["code"], "malformed-response");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_that_times_out_is_retried_and_then_answers() {
    let (_sim, got) = first_example_through(Scenario::from(Faults {
        latency: Duration::from_millis(2500),
        slow_first: 1,
        ..Faults::default()
    }))
    .await;
    assert_eq!(got[0]["status"], "approved", "{got:?}");
    assert_eq!(got[0]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_the_request_goes_through() {
    let clients = [("clinic".to_owned(), "s3cret".to_owned())]
        .into_iter()
        .collect();
    let s = sim(
        "default",
        Scenario {
            token_lifetime: Some(Duration::from_millis(150)),
            clients,
            ..Scenario::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!(
        "token_url = \"{}/token\"\nclient_id = \"clinic\"\nclient_secret_env = \"PREAUTH_TEST_PAYER_SECRET\"\n",
        s.base_url()
    );
    // The excision pends, so its follow-up comes after the first token has expired.
    let got = process(
        &config(&dir, &s, None, &extra),
        &["11-eyelid-excision-pended-approved.json"],
        &[("PREAUTH_TEST_PAYER_SECRET", "s3cret")],
    );
    assert_eq!(
        got.last().map(|o| o["status"].clone()),
        Some(Value::from("approved")),
        "{got:?}"
    );
    let seen = s.seen();
    let statuses: Vec<(String, u16)> = seen
        .iter()
        .map(|s| (s.operation.clone(), s.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("token".into(), 200),
            ("submit".into(), 200),
            ("inquire".into(), 401),
            ("token".into(), 200),
            ("inquire".into(), 200)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_client_credentials_fail_the_case_and_never_print_the_secret() {
    let clients = [("clinic".to_owned(), "s3cret".to_owned())]
        .into_iter()
        .collect();
    let s = sim(
        "default",
        Scenario {
            token_lifetime: Some(Duration::from_secs(60)),
            clients,
            ..Scenario::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!("token_url = \"{}/token\"\nclient_id = \"clinic\"\nclient_secret_env = \"PREAUTH_TEST_PAYER_SECRET\"\n", s.base_url());
    let cfg = config(&dir, &s, None, &extra);
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let out = run(worker(
        &["process", "--config", &cfg, file.to_str().expect("utf-8")],
        &[
            FAST,
            &[
                ("PREAUTH_TEST_PAYER_SECRET", "wrong-password-123"),
                ("RUST_LOG", "debug"),
            ],
        ]
        .concat(),
    ));
    let got = outcomes(&out.stdout);
    assert_eq!(got[0]["status"], "failed");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("wrong-password-123"),
        "the secret was printed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reaches_a_pas_endpoint_by_configuration() {
    let s = sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir, &s, None, "");
    let mut b = Broker::new().await;
    let mut env = b.env();
    env.push(("PREAUTH__AMQP__URL".into(), crate::broker::URL.into()));
    let mut cmd_env = env.clone();
    cmd_env.retain(|(k, _)| !k.starts_with("PREAUTH__PAYERS"));
    let worker = WorkerProcess::start_ready_with_args(&cmd_env, &["--config", &cfg]).await;
    b.publish_case(&read_json(
        &examples().join("01-eyelid-margin-cornea-approved.json"),
    ))
    .await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got[0].body["status"], "approved", "{}", worker.logs());
    assert_eq!(s.seen().len(), 1);
    drop(worker);
    b.cleanup().await;
}

/// Every outgoing bundle, and the payer simulator's answer to it, checked by a third-party FHIR R4 validator (`fhir.resources` R4B models,
/// through scripts/validate_fhir.py; the PAS rules on top are the unit tests of
/// src/payer/sim/pas/bundle_rules.rs). scripts/test.sh installs it and sets
/// PREAUTH_FHIR_PYTHON; CI must have it, a developer's plain `cargo test` may skip it.
#[test]
fn every_outgoing_bundle_passes_the_fhir_r4_structure_validator() {
    let Ok(python) = std::env::var("PREAUTH_FHIR_PYTHON") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the FHIR validator: set PREAUTH_FHIR_PYTHON (scripts/test.sh does)"
        );
        eprintln!("skipped: PREAUTH_FHIR_PYTHON is not set (scripts/test.sh sets it)");
        return;
    };
    use preauth_worker::case::Kind;
    use preauth_worker::case::{decode, identify};
    use preauth_worker::codes::CodeTable;
    use preauth_worker::ids::request_identifier;
    use preauth_worker::payer::pas::write::{inquiry_bundle, request_bundle};
    use preauth_worker::payer::sim::pas::{error_response_bundle, response_bundle};
    use preauth_worker::payer::sim::{decide_review, ReviewCase};
    use preauth_worker::payer::{Operation, PayerError};
    use preauth_worker::rules::Policies;
    let codes = CodeTable::embedded().expect("codes");
    let policy = Policies::load(&codes, None)
        .expect("policies")
        .get("default")
        .expect("policy");
    let dir = tempfile::tempdir().expect("tempdir");
    // The photos and letters as the worker sends them: fetched from the shipped demonstration
    // store (examples/attachments), inline with their size and hash.
    let attachments = preauth_worker::payer::attachments::Attachments::build(
        &preauth_worker::config::Settings::load_without_env(None)
            .expect("defaults")
            .attachments,
    )
    .expect("attachments");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut n = 0;
    let mut inline = 0;
    for file in crate::support::case_files() {
        let bytes = std::fs::read(&file).expect("example");
        let case = decode(&identify(&bytes).expect("identified"), None).expect("decodes");
        let id = request_identifier(&case.case_id, &case.event_id, case.kind.operation());
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        let documents = runtime
            .block_on(attachments.resolve(&case, None))
            .unwrap_or_else(|e| panic!("{name}: the documents of the example: {e:?}"));
        inline += documents.photos.len() + usize::from(documents.letter.is_some());
        let submit =
            request_bundle(&case, &id, case.provider.npi.as_str()).with_documents(Some(&documents));
        let inquire = inquiry_bundle(
            &case,
            &id,
            case.provider.npi.as_str(),
            "PA-00000001",
            1,
            chrono::Utc::now(),
        );
        std::fs::write(
            dir.path().join(format!("{name}.submit.json")),
            serde_json::to_vec_pretty(&submit).expect("json"),
        )
        .expect("write");
        std::fs::write(
            dir.path().join(format!("{name}.inquire.json")),
            serde_json::to_vec_pretty(&inquire).expect("json"),
        )
        .expect("write");
        // And the payer simulator's answer to it, which the worker reads.
        let request = submit.to_value();
        let review = ReviewCase::from_case(&case);
        let operation = match case.kind {
            Kind::Submission => Operation::Submit,
            Kind::Appeal => Operation::Appeal,
            Kind::Update => Operation::Update,
            Kind::Cancel => Operation::Cancel,
        };
        let answer = match decide_review(&review, &policy, &codes, &id, operation, None) {
            Ok(decision) => response_bundle(&request, &decision),
            Err(PayerError::Refused { reasons, .. }) => {
                error_response_bundle(&request, review.requested_on, &reasons)
            }
            Err(e) => panic!("{name}: {e}"),
        };
        std::fs::write(
            dir.path().join(format!("{name}.answer.json")),
            serde_json::to_vec_pretty(&answer).expect("json"),
        )
        .expect("write");
        n += 3;
    }
    let script = crate::support::root().join("scripts/validate_fhir.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .expect("validator runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("{n} passed, 0 failed")), "{text}");
    assert!(inline >= 20, "only {inline} documents went inline");
}

/// Runs the approved example through a payer-sim that registers `registered` as the clinic's
/// public key, the worker signing with `key`; returns the outcomes and what the payer saw.
async fn with_signed_assertion(
    dir: &tempfile::TempDir,
    key: &std::path::Path,
    registered: String,
) -> (Vec<Value>, Vec<(String, u16)>) {
    let s = sim(
        "default",
        Scenario {
            token_lifetime: Some(Duration::from_secs(60)),
            client_keys: [("clinic".to_owned(), registered)].into_iter().collect(),
            ..Scenario::default()
        },
    )
    .await;
    let extra = format!(
        "token_url = \"{}/token\"\nclient_id = \"clinic\"\nprivate_key_file = \"{}\"\n",
        s.base_url(),
        key.display()
    );
    let got = process(
        &config(dir, &s, None, &extra),
        &["01-eyelid-margin-cornea-approved.json"],
        &[],
    );
    let ops = s
        .seen()
        .iter()
        .map(|x| (x.operation.clone(), x.status))
        .collect();
    (got, ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_backend_services_sign_a_client_assertion_with_the_configured_key() {
    for alg in ["RS384", "ES384"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, public) = key_pair(&dir, alg, "clinic");
        let (got, ops) = with_signed_assertion(&dir, &key, public).await;
        assert_eq!(got[0]["status"], "approved", "{alg}: {got:?}");
        assert_eq!(
            ops,
            vec![("token".to_owned(), 200), ("submit".to_owned(), 200)],
            "{alg}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_assertion_signed_with_another_key_is_refused_and_the_case_fails() {
    for alg in ["RS384", "ES384"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, _) = key_pair(&dir, alg, "clinic");
        // The payer holds the public key of another key pair under the clinic's id.
        let (_, registered) = key_pair(&dir, alg, "other");
        let (got, ops) = with_signed_assertion(&dir, &key, registered).await;
        assert_eq!(got[0]["status"], "failed", "{alg}: {got:?}");
        assert!(
            !ops.is_empty()
                && ops
                    .iter()
                    .all(|(op, status)| op == "token" && *status == 401),
            "{alg}: no request may reach the payer without a token: {ops:?}"
        );
    }
}

/// A private key (PEM) for `alg` in `dir` and the text of its public key.
fn key_pair(dir: &tempfile::TempDir, alg: &str, name: &str) -> (std::path::PathBuf, String) {
    let gen: &[&str] = match alg {
        "RS384" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        _ => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    };
    let key = dir.path().join(format!("{name}-key.pem"));
    let public = dir.path().join(format!("{name}-public.pem"));
    let status = std::process::Command::new("openssl")
        .arg("genpkey")
        .args(gen)
        .arg("-out")
        .arg(&key)
        .status()
        .expect("openssl runs");
    assert!(status.success(), "{alg}: key generation");
    let status = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("openssl runs");
    assert!(status.success(), "{alg}: public key");
    (key, std::fs::read_to_string(&public).expect("public key"))
}
