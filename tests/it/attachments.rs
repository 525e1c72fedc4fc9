//! Issue 15, the documentation reaches the payer: `process` and `run` fetch each photo and the
//! letter of medical necessity from the configured document store (a local folder, or a
//! document API over HTTP), and payer-sim, over real HTTP, sees them inline with the files' own
//! sizes and SHA-1 hashes. A document that cannot be sent rejects the case before anything
//! reaches the payer; a store that does not answer is retried like a payer outage.

mod changed;
mod refusals;
mod store_api;

use crate::support::PAYER_IDENTITY;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use preauth_worker::payer::sim::server::{Scenario, Seen, SeenDocument, SimHandle};
use preauth_worker::payer::sim::Faults;
use serde_json::Value;

use crate::support::{examples, outcomes, read_json, run, worker};

/// The appeal with two photos and a letter (northwind-health, the strict-commercial policy).
const APPEAL: &str = "08-appeal-with-letter-approved.json";
/// The approvable eyelid case with one photo, IMG-1 (acme-health, the default policy).
const EYELID: &str = "01-eyelid-margin-cornea-approved.json";

/// Short delay tiers and no in-process retry, so `process` (which waits out the tiers in
/// process) drives a retried case to its end in well under a second.
const FAST: &[(&str, &str)] = &[
    (
        "PREAUTH__RETRY__DELAYS",
        "[\"100ms\", \"100ms\", \"100ms\", \"3s\"]",
    ),
    ("PREAUTH__RETRY__IN_PROCESS_CALLS", "1"),
    ("PREAUTH__FOLLOWUP__PENDED", "[\"200ms\", \"200ms\"]"),
];

/// base64(SHA-1(bytes)), FHIR's `Attachment.hash`, computed here apart from the worker's code.
fn sha1_base64(bytes: &[u8]) -> String {
    STANDARD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        bytes,
    ))
}

/// A clinic's document folder (`root/`, a copy of the shipped example photos and letters) in a
/// temporary directory that also holds the worker's configuration and edited case events.
struct Clinic {
    dir: tempfile::TempDir,
}

impl Clinic {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("root");
        for entry in std::fs::read_dir(examples().join("attachments")).expect("attachments") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, root.join(path.file_name().expect("name"))).expect("copy");
        }
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn root(&self) -> PathBuf {
        self.path().join("root")
    }

    /// The bytes of a document in the folder.
    fn file(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.root().join(key)).expect("document")
    }

    /// What payer-sim must see for the document `key` sent inline.
    fn expected(&self, kind: &str, key: &str, content_type: &str) -> SeenDocument {
        let bytes = self.file(key);
        SeenDocument {
            kind: kind.to_owned(),
            content_type: Some(content_type.to_owned()),
            size: Some(bytes.len() as u64),
            hash: Some(sha1_base64(&bytes)),
            has_data: true,
        }
    }

    /// The source that serves `pm://attachments/` from the folder.
    fn folder_source(&self) -> String {
        format!(
            "[attachments.sources.pm]\nprefix = \"pm://attachments/\"\nkind = \"folder\"\nroot = \"{}\"\n",
            self.root().display()
        )
    }

    /// A configuration file: every payer is `sim` (deciding by `policy`), plus `extra`.
    fn config(&self, sim: &SimHandle, policy: &str, extra: &str) -> String {
        let text = format!(
            "[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{}\"\npolicy = \"{policy}\"\ntimeout = \"2s\"\n\n{extra}",
            sim.base_url()
        );
        self.write("worker.toml", &text)
    }

    /// A configuration file with the shipped (simulated) payers and `extra`.
    fn config_without_payers(&self, extra: &str) -> String {
        self.write("check.toml", extra)
    }

    /// An example case event edited by `edit`, written beside the folder.
    fn case(&self, example: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut case = read_json(&examples().join(example));
        edit(&mut case);
        self.write(example, &serde_json::to_string(&case).expect("json"))
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_owned()
    }
}

fn example(name: &str) -> String {
    examples().join(name).to_str().expect("utf-8").to_owned()
}

/// A payer-sim deciding by `policy`.
async fn payer_sim(policy: &str, scenario: Scenario) -> SimHandle {
    crate::support::payer_sim(policy, scenario).await
}

/// `preauth-worker process --config <config> <files>` with the fast retry schedule and `env`.
fn process(config: &str, files: &[&str], env: &[(&str, &str)]) -> Output {
    let args = [&["process", "--config", config][..], files].concat();
    let out = run(worker(&args, &[FAST, env].concat()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The submits payer-sim saw.
fn submits(sim: &SimHandle) -> Vec<Seen> {
    sim.seen()
        .into_iter()
        .filter(|s| s.operation == "submit")
        .collect()
}

/// The documents of one kind a request carried.
fn of_kind(seen: &Seen, kind: &str) -> Vec<SeenDocument> {
    seen.documents
        .iter()
        .filter(|d| d.kind == kind)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appeal_reaches_the_payer_with_its_photos_and_letter_as_the_files_own_bytes() {
    let clinic = Clinic::new();
    let sim = payer_sim("strict-commercial", Scenario::default()).await;
    let cfg = clinic.config(&sim, "strict-commercial", &clinic.folder_source());
    let got = outcomes(&process(&cfg, &[&example(APPEAL)], &[]).stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "approved", "{got:?}");
    let seen = submits(&sim);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].status, 200);
    assert_eq!(
        of_kind(&seen[0], "photo"),
        vec![
            clinic.expected("photo", "IMG-2901", "image/jpeg"),
            clinic.expected("photo", "IMG-2902", "image/jpeg"),
        ]
    );
    assert_eq!(
        of_kind(&seen[0], "letter"),
        vec![clinic.expected("letter", "LMN-2901", "application/pdf")]
    );
    // The notes travel as data too, with their own size and hash (payer-sim checked them).
    let notes = of_kind(&seen[0], "note");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes
            .iter()
            .all(|n| n.has_data && n.size.is_some() && n.hash.is_some()),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_retried_after_payer_failures_sends_the_same_bytes_every_time() {
    let clinic = Clinic::new();
    let sim = payer_sim(
        "strict-commercial",
        Scenario::from(Faults {
            fail_first: 2,
            ..Faults::default()
        }),
    )
    .await;
    let cfg = clinic.config(&sim, "strict-commercial", &clinic.folder_source());
    // Two calls a delivery: the first delivery fails twice (once in process), the second,
    // after a delay tier, fetches the documents again and goes through.
    let got = outcomes(
        &process(
            &cfg,
            &[&example(APPEAL)],
            &[("PREAUTH__RETRY__IN_PROCESS_CALLS", "2")],
        )
        .stdout,
    );
    assert_eq!(
        got.last().map(|o| &o["status"]),
        Some(&Value::from("approved")),
        "{got:?}"
    );
    let seen = submits(&sim);
    assert_eq!(
        seen.iter().map(|s| s.status).collect::<Vec<_>>(),
        vec![503, 503, 200],
        "{seen:?}"
    );
    let ids: std::collections::BTreeSet<&str> =
        seen.iter().map(|s| s.request_identifier.as_str()).collect();
    assert_eq!(ids.len(), 1, "one request identifier: {ids:?}");
    let bodies: std::collections::BTreeSet<&str> =
        seen.iter().map(|s| s.body_sha256.as_str()).collect();
    assert_eq!(bodies.len(), 1, "every try sent the same bytes: {seen:?}");
    assert_eq!(seen[0].body_sha256.len(), 64);
    for s in &seen {
        assert_eq!(
            of_kind(s, "photo"),
            vec![
                clinic.expected("photo", "IMG-2901", "image/jpeg"),
                clinic.expected("photo", "IMG-2902", "image/jpeg"),
            ]
        );
    }
}

/// `check --config <config> [--no-fetch] <file>`: its exit code and report.
fn check(config: &str, no_fetch: bool, file: &str) -> (Option<i32>, String) {
    let mut args = vec!["check", "--config", config];
    if no_fetch {
        args.push("--no-fetch");
    }
    args.push(file);
    let out = run(worker(&args, &[]));
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_fetches_the_photos_and_names_a_missing_one_with_att_02() {
    let clinic = Clinic::new();
    let cfg = clinic.config_without_payers(&clinic.folder_source());
    let (code, text) = check(&cfg, false, &example(EYELID));
    assert_eq!(code, Some(0), "the photo is there: {text}");
    std::fs::remove_file(clinic.root().join("IMG-1")).expect("remove");
    let (code, text) = check(&cfg, false, &example(EYELID));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("ATT-02"), "{text}");
    assert!(text.contains("documentation.photos[0].uri"), "{text}");
}

#[test]
fn check_no_fetch_leaves_the_store_alone_and_passes_a_case_whose_photo_is_missing() {
    let clinic = Clinic::new();
    std::fs::remove_file(clinic.root().join("IMG-1")).expect("remove");
    let cfg = clinic.config_without_payers(&clinic.folder_source());
    let (code, text) = check(&cfg, true, &example(EYELID));
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("ATT-"), "{text}");
}

/// Phone-sized photos: three of 5 MiB, about 20 MiB of base64 in one request, well past the
/// 2 MB an HTTP framework lets a body extractor read unless told otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_five_mib_photos_reach_the_payer_whole_in_one_request() {
    let clinic = Clinic::new();
    let mut photo = clinic.file("IMG-1");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while photo.len() < 5 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        photo.extend_from_slice(&x.to_le_bytes());
    }
    for (i, key) in ["BIG-1", "BIG-2", "BIG-3"].iter().enumerate() {
        let mut bytes = photo.clone();
        bytes.push(i as u8);
        std::fs::write(clinic.root().join(key), bytes).expect("photo");
    }
    let case = clinic.case(EYELID, |v| {
        v["documentation"]["photos"] = serde_json::json!(["BIG-1", "BIG-2", "BIG-3"]
            .iter()
            .map(|k| serde_json::json!({"id": k, "taken_on": "2026-11-18",
                "uri": format!("pm://attachments/{k}"), "content_type": "image/jpeg"}))
            .collect::<Vec<_>>());
    });
    let sim = payer_sim("default", Scenario::default()).await;
    let cfg = clinic.config(&sim, "default", &clinic.folder_source());
    let got = outcomes(&process(&cfg, &[&case], &[]).stdout);
    assert_eq!(got[0]["status"], "approved", "{got:?}");
    let seen = submits(&sim);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        of_kind(&seen[0], "photo"),
        ["BIG-1", "BIG-2", "BIG-3"]
            .iter()
            .map(|k| clinic.expected("photo", k, "image/jpeg"))
            .collect::<Vec<_>>()
    );
}
