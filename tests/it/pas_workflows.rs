//! The PAS workflows beyond a first submission, end to end over real HTTP against payer-sim
//! (which holds every request to the PAS profiles): a Claim Update, a cancellation, an appeal
//! as the IG expresses it, a request for more information answered by an update over the real
//! broker, and a modification of a requested line.

use std::time::Duration;

use serde_json::Value;

use preauth_worker::ids::request_identifier;
use preauth_worker::payer::sim::seen::SeenClaim;
use preauth_worker::payer::sim::server::{Scenario, Seen, SimHandle};
use preauth_worker::payer::sim::Faults;

use crate::broker::{terminal_by_event, Broker, InProcessWorker};
use crate::support::{examples, outcomes, payer_sim, read_json, run, worker, PAYER_IDENTITY};

const FAST: &[(&str, &str)] = &[
    ("PREAUTH__RETRY__DELAYS", "[\"100ms\", \"100ms\"]"),
    ("PREAUTH__RETRY__IN_PROCESS_CALLS", "1"),
    ("PREAUTH__FOLLOWUP__PENDED", "[\"200ms\", \"200ms\"]"),
];

/// One `[payers.ID]` table routing `payer` to `sim` under the worker's `policy`.
fn payer_table(payer: &str, policy: &str, sim: &SimHandle) -> String {
    format!(
        "[payers.{payer}]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\npolicy = \"{policy}\"\nbase_url = \"{}\"\ntimeout = \"2s\"\n",
        sim.base_url()
    )
}

/// A config file of `text` in `dir`; its path.
fn config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("worker.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Writes `cases` into `dir` and runs `process` on them; the outcomes, in order.
fn process(dir: &tempfile::TempDir, config: &std::path::Path, cases: &[Value]) -> Vec<Value> {
    let mut paths = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case-{i}.json"));
        std::fs::write(&path, serde_json::to_vec(case).expect("json")).expect("write case");
        paths.push(path.to_str().expect("utf-8").to_owned());
    }
    let mut args = vec!["process", "--config", config.to_str().expect("utf-8")];
    args.extend(paths.iter().map(String::as_str));
    let out = run(worker(&args, FAST));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outcomes(&out.stdout)
}

fn example(name: &str) -> Value {
    read_json(&examples().join(name))
}

/// The Claim of every `$submit` the payer answered 200, in order.
fn submitted(sim: &SimHandle) -> Vec<(Seen, SeenClaim)> {
    sim.seen()
        .into_iter()
        .filter(|s| s.operation == "submit" && s.status == 200)
        .map(|s| {
            let claim = s.claim.clone().expect("the request held a Claim");
            (s, claim)
        })
        .collect()
}

fn str_of<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
}

/// The last outcome of `event_id`.
fn last_of<'o>(got: &'o [Value], event_id: &str) -> &'o Value {
    got.iter()
        .rev()
        .find(|o| o["event_id"] == event_id)
        .unwrap_or_else(|| panic!("no outcome of {event_id}: {got:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_update_names_the_original_request_and_gets_the_payers_decision() {
    let sim = payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir, &payer_table("default", "default", &sim));
    let update = example("16-update-moved-date-pended-approved.json");
    let got = process(&dir, &cfg, std::slice::from_ref(&update));

    let case_id = str_of(&update, "/case_id");
    let event_id = str_of(&update, "/event_id");
    let original = request_identifier(case_id, str_of(&update, "/original/event_id"), "submit");
    let reference = str_of(&update, "/original/payer_reference");
    let sent = submitted(&sim);
    assert_eq!(sent.len(), 1, "{:?}", sim.seen());
    let (seen, claim) = &sent[0];
    assert_eq!(
        seen.request_identifier,
        request_identifier(case_id, event_id, "update")
    );
    assert!(
        claim
            .profiles
            .iter()
            .any(|p| p.ends_with("/profile-claim-update")),
        "{claim:?}"
    );
    assert_eq!(claim.related, [original]);
    assert!(!claim.items.is_empty());
    for item in &claim.items {
        assert_eq!(
            item.administration_reference_number.as_deref(),
            Some(reference),
            "{claim:?}"
        );
        assert!(!item.info_cancelled, "{claim:?}");
    }
    let last = last_of(&got, event_id);
    assert_eq!(last["status"], "approved", "{got:?}");
    assert_eq!(
        last["payer"]["request_identifier"],
        seen.request_identifier.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_is_sent_as_certification_type_3_with_every_line_cancelled() {
    let sim = payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir, &payer_table("default", "default", &sim));
    let cancel = example("17-cancel-cancelled.json");
    let got = process(&dir, &cfg, std::slice::from_ref(&cancel));

    let original = request_identifier(
        str_of(&cancel, "/case_id"),
        str_of(&cancel, "/original/event_id"),
        "submit",
    );
    let sent = submitted(&sim);
    assert_eq!(sent.len(), 1, "{:?}", sim.seen());
    let claim = &sent[0].1;
    assert!(
        claim
            .profiles
            .iter()
            .any(|p| p.ends_with("/profile-claim-update")),
        "{claim:?}"
    );
    assert_eq!(claim.related, [original]);
    assert_eq!(claim.certification_type.as_deref(), Some("3"), "{claim:?}");
    assert!(!claim.items.is_empty());
    for item in &claim.items {
        assert_eq!(item.certification_type.as_deref(), Some("3"), "{claim:?}");
        assert!(item.info_cancelled, "{claim:?}");
        assert_eq!(
            item.administration_reference_number.as_deref(),
            Some(str_of(&cancel, "/original/payer_reference"))
        );
    }
    let last = last_of(&got, str_of(&cancel, "/event_id"));
    assert_eq!(last["status"], "cancelled", "{got:?}");
    assert_eq!(last["payer"]["review_action"], "C", "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appeal_carries_its_certification_type_and_the_denied_requests_reference() {
    let sim = payer_sim("strict-commercial", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        &dir,
        &payer_table("northwind-health", "strict-commercial", &sim),
    );
    let standard = example("08-appeal-with-letter-approved.json");
    let mut expedited = standard.clone();
    expedited["event_id"] = Value::from("6a1d0c3e-2b4f-4e8a-9c7d-5f3b1e9a0d21");
    expedited["urgency"] = Value::from("expedited");
    let got = process(&dir, &cfg, &[standard.clone(), expedited.clone()]);

    let reference = str_of(&standard, "/appeal/payer_reference");
    let sent = submitted(&sim);
    assert_eq!(sent.len(), 2, "{:?}", sim.seen());
    for (case, certification) in [(&standard, "2"), (&expedited, "1")] {
        let event_id = str_of(case, "/event_id");
        let id = request_identifier(str_of(case, "/case_id"), event_id, "appeal");
        let (_, claim) = sent
            .iter()
            .find(|(s, _)| s.request_identifier == id)
            .unwrap_or_else(|| panic!("{id} never reached the payer: {sent:?}"));
        assert!(
            claim.profiles.iter().any(|p| p.ends_with("/profile-claim")),
            "an appeal is a new request: {claim:?}"
        );
        assert!(!claim.items.is_empty());
        for item in &claim.items {
            assert_eq!(
                item.certification_type.as_deref(),
                Some(certification),
                "{claim:?}"
            );
            assert_eq!(
                item.administration_reference_number.as_deref(),
                Some(reference),
                "{claim:?}"
            );
        }
        let last = last_of(&got, event_id);
        assert_eq!(last["status"], "approved", "{event_id}: {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_code_is_approved_as_a_modification_naming_the_authorized_code() {
    let sim = payer_sim(
        "default",
        Scenario::from(Faults {
            substitute: vec!["67850=67840".to_owned()],
            ..Faults::default()
        }),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir, &payer_table("default", "default", &sim));
    let case = example("01-eyelid-margin-cornea-approved.json");
    assert_eq!(str_of(&case, "/service/procedures/0/code"), "67850");
    let got = process(&dir, &cfg, std::slice::from_ref(&case));

    let last = last_of(&got, str_of(&case, "/event_id"));
    assert_eq!(last["status"], "approved", "{got:?}");
    let authorization = &last["authorization"];
    assert_eq!(authorization["partial"], true, "{last}");
    let line = &authorization["lines"][0];
    assert_eq!(line["review_action"], "A6", "{last}");
    assert_eq!(line["code"], "67840", "{last}");
    assert_eq!(line["approved_units"], 1, "{last}");
}

/// A policy as the worker knows a payer that asks for photographs rather than refusing a
/// request without them: strict-commercial in everything else. (Under strict-commercial itself
/// the worker rejects such a request first: DOC-03 is an error there and not adjustable.)
fn photos_on_request(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let strict = std::fs::read_to_string(
        crate::support::root().join("config/policies/strict-commercial.toml"),
    )
    .expect("strict-commercial policy");
    let text = strict
        .replace(
            "name = \"strict-commercial\"",
            "name = \"photos-on-request\"",
        )
        .replace("photos_required = true", "photos_required = false");
    assert_ne!(text, strict);
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("policy dir");
    std::fs::write(policies.join("photos-on-request.toml"), text).expect("policy");
    policies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_asking_for_photographs_gets_them_by_an_update_and_then_approves() {
    let sim = payer_sim(
        "strict-commercial",
        Scenario::from(Faults {
            request_information: true,
            ..Faults::default()
        }),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policies = photos_on_request(&dir);
    let cfg = config(
        &dir,
        &format!(
            "[rules]\npolicy_dir = \"{}\"\n{}",
            policies.display(),
            payer_table("northwind-health", "photos-on-request", &sim)
        ),
    );
    let mut b = Broker::new().await;
    let mut env = b.env();
    // The worker asks the payer about the request again once, four seconds after it asked for
    // photographs: the update reaches the payer first.
    env.retain(|(k, _)| k != "PREAUTH__FOLLOWUP__PENDED");
    env.push(("PREAUTH__FOLLOWUP__PENDED".into(), "[\"4s\"]".into()));
    let worker = InProcessWorker::start_ready(&env, Some(&cfg)).await;

    let mut submission = example("01-eyelid-margin-cornea-approved.json");
    submission["coverage"]["payer_id"] = Value::from("northwind-health");
    submission["coverage"]["member_id"] = Value::from("NW20481234");
    let photos = submission["documentation"]["photos"].take();
    submission["documentation"]["photos"] = Value::Array(Vec::new());
    let event_id = str_of(&submission, "/event_id").to_owned();
    b.publish_case(&submission).await;
    let got = b
        .collect(Duration::from_secs(30), |g| {
            g.iter().any(|o| o.body["event_id"] == event_id.as_str())
        })
        .await;
    let asked = &got
        .iter()
        .find(|o| o.body["event_id"] == event_id.as_str())
        .unwrap_or_else(|| panic!("no outcome: {got:?}\n{}", worker.logs()))
        .body;
    assert_eq!(asked["status"], "information-requested", "{asked}");
    assert_eq!(asked["payer"]["review_action"], "A4", "{asked}");
    let items = asked["information_request"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no information request: {asked}"));
    let codes: Vec<(&str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["system"].as_str().unwrap_or_default(),
                i["code"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("https://codesystem.x12.org/005010/755", "XP"))
            || codes.contains(&("http://loinc.org", "72170-4")),
        "photographs are asked for: {codes:?}"
    );
    let requested_on =
        chrono::NaiveDate::parse_from_str(&str_of(&submission, "/occurred_at")[..10], "%Y-%m-%d")
            .expect("date");
    assert_eq!(
        asked["information_request"]["due"],
        (requested_on + chrono::Days::new(14)).to_string(),
        "{asked}"
    );
    let decided_at =
        chrono::DateTime::parse_from_rfc3339(str_of(asked, "/decided_at")).expect("decided_at");
    let next = chrono::DateTime::parse_from_rfc3339(str_of(asked, "/next_follow_up_at"))
        .expect("next_follow_up_at");
    assert_eq!((next - decided_at).num_seconds(), 4, "{asked}");

    // Staff send the photographs as an update of the request.
    let mut update = submission.clone();
    update["kind"] = Value::from("update");
    update["event_id"] = Value::from("3f9b2e71-5c4d-4a8e-b6f0-7d1c2a9e8b45");
    update["documentation"]["photos"] = photos;
    update["original"] = serde_json::json!({
        "event_id": event_id,
        "kind": "submission",
        "payer_reference": str_of(asked, "/payer/reference"),
    });
    b.publish_case(&update).await;
    let got = b
        .collect(Duration::from_secs(30), |g| {
            terminal_by_event(g).contains_key("3f9b2e71-5c4d-4a8e-b6f0-7d1c2a9e8b45")
        })
        .await;
    let terminal = terminal_by_event(&got);
    let decided = &terminal["3f9b2e71-5c4d-4a8e-b6f0-7d1c2a9e8b45"][0].body;
    assert_eq!(decided["status"], "approved", "{decided}");
    let sent = submitted(&sim);
    assert_eq!(sent.len(), 2, "{:?}", sim.seen());
    assert_eq!(
        sent[0]
            .0
            .documents
            .iter()
            .filter(|d| d.kind == "photo")
            .count(),
        0
    );
    assert!(
        sent[1]
            .0
            .documents
            .iter()
            .any(|d| d.kind == "photo" && d.has_data),
        "the update carries the photographs as data: {:?}",
        sent[1].0.documents
    );
    assert_eq!(
        sent[1].1.related,
        [request_identifier(
            str_of(&submission, "/case_id"),
            &event_id,
            "submit"
        )]
    );

    // Asked about the first request again, the payer answers with the request that replaced
    // it: the submission's event ends with the update's decision too.
    let got = b
        .collect(Duration::from_secs(30), |g| {
            terminal_by_event(g).contains_key(event_id.as_str())
        })
        .await;
    let terminal = terminal_by_event(&got);
    let first = &terminal[event_id.as_str()][0].body;
    assert_eq!(first["status"], "approved", "{first}");
    assert_eq!(
        first["payer"]["reference"], decided["payer"]["reference"],
        "{first}"
    );
    assert_eq!(
        first["authorization"]["number"], decided["authorization"]["number"],
        "{first}"
    );
    worker.stop().await;
    b.cleanup().await;
}
