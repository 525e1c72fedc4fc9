//! The S3 document store against a real S3-compatible HTTP server: moto's (`moto_server`), which
//! scripts/test.sh installs and names in PREAUTH_MOTO_SERVER. Signed requests from
//! `object_store`, path-style addressing, HEAD for the size then a ranged GET of that version;
//! a missing key, a document over the limit, a server that is gone; and `process` end to end,
//! the payer simulator checking each inline document's size and hash.

use crate::support::PAYER_IDENTITY;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;
use preauth_worker::case::{decode, identify, CaseEvent};
use preauth_worker::payer::attachments::settings::S3StoreSettings;
use preauth_worker::payer::attachments::{
    sha1_base64, AttachmentSettings, Attachments, Documents, Problem, SourceSettings, StoreSettings,
};
use preauth_worker::payer::sim::server::Scenario;
use serde_json::{json, Value};

use crate::support::{examples, outcomes, read_json, run, worker};

const BUCKET: &str = "clinic-documents";
const KEY_PREFIX: &str = "clinic-7/";
/// moto does not check signatures; any key pair signs.
const ACCESS_KEY: &str = "test-access-key";
const SECRET_KEY: &str = "test-secret-key";

/// A moto S3 server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// The server, answering; `None` (the test skips) when PREAUTH_MOTO_SERVER is unset outside CI.
    async fn start() -> Option<Self> {
        let Ok(program) = std::env::var("PREAUTH_MOTO_SERVER") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the S3 store tests: set PREAUTH_MOTO_SERVER (scripts/test.sh does)"
            );
            eprintln!("skipped: PREAUTH_MOTO_SERVER is not set (scripts/test.sh sets it)");
            return None;
        };
        let http = reqwest::Client::new();
        // A port found free may be taken before moto binds it: then moto exits, try another.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            let mut moto = Moto { child, port };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if moto.child.try_wait().expect("moto's status").is_some() {
                    break;
                }
                let answer = http
                    .get(moto.endpoint())
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await;
                if answer.is_ok() {
                    return Some(moto);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            moto.stop();
        }
        panic!("moto_server did not answer on 127.0.0.1");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Creates the bucket and puts every file of examples/attachments under `clinic-7/`, and
    /// `extra` objects as they are given.
    async fn seed(&self, extra: &[(&str, Vec<u8>)]) {
        // Bucket creation needs no signature; objects are put signed (moto refuses anonymous
        // reads of private objects, and object_store is what the worker reads with).
        let created = reqwest::Client::new()
            .put(format!("{}/{BUCKET}", self.endpoint()))
            .send()
            .await
            .expect("create the bucket");
        assert!(created.status().is_success(), "{}", created.status());
        let client = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .expect("S3 client");
        let files = std::fs::read_dir(examples().join("attachments")).expect("attachments");
        for file in files {
            let path = file.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("name");
            let key = ObjectPath::from(format!("{KEY_PREFIX}{name}"));
            let bytes = std::fs::read(&path).expect("read");
            client.put(&key, bytes.into()).await.expect("put");
        }
        for (key, bytes) in extra {
            let key = ObjectPath::from(format!("{KEY_PREFIX}{key}"));
            client.put(&key, bytes.clone().into()).await.expect("put");
        }
    }

    /// The `[attachments]` settings of a worker whose `pm://attachments/` URIs are this
    /// server's bucket, with the key files written to `dir`.
    fn settings(&self, dir: &Path) -> AttachmentSettings {
        let (id_file, secret_file) = key_files(dir);
        let mut settings = AttachmentSettings {
            timeout: Duration::from_secs(3),
            ..AttachmentSettings::default()
        };
        settings.sources.insert(
            "pm".to_owned(),
            SourceSettings {
                prefix: "pm://attachments/".to_owned(),
                store: StoreSettings::S3(S3StoreSettings {
                    bucket: BUCKET.to_owned(),
                    region: "us-east-1".to_owned(),
                    endpoint: Some(self.endpoint()),
                    key_prefix: KEY_PREFIX.to_owned(),
                    access_key_id_file: Some(id_file),
                    secret_access_key_file: Some(secret_file),
                    path_style: true,
                    allow_insecure_http: true,
                }),
            },
        );
        settings
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn key_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (id, secret) = (dir.join("s3-access-key-id"), dir.join("s3-secret-key"));
    std::fs::write(&id, format!("{ACCESS_KEY}\n")).expect("write");
    std::fs::write(&secret, format!("{SECRET_KEY}\n")).expect("write");
    (id, secret)
}

fn attachment(name: &str) -> Vec<u8> {
    std::fs::read(examples().join("attachments").join(name)).expect("example attachment")
}

/// Example 01 (one photo, `pm://attachments/IMG-1`), with `edit` applied, decoded.
fn first_example(edit: impl FnOnce(&mut Value)) -> CaseEvent {
    let mut v = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    edit(&mut v);
    let bytes = serde_json::to_vec(&v).expect("json");
    decode(&identify(&bytes).expect("identified"), None).expect("decodes")
}

fn with_letter(v: &mut Value) {
    v["documentation"]["letter_of_medical_necessity"] = json!({
        "uri": "pm://attachments/LMN-2901",
        "signed_by_npi": "1234567893",
        "signed_on": "2026-11-18"
    });
}

/// The findings' rules and paths of a rejection.
fn rejected(result: Result<Documents, Problem>) -> Vec<(String, String)> {
    match result {
        Err(Problem::Rejected(findings)) => {
            findings.into_iter().map(|f| (f.rule, f.path)).collect()
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_photo_and_the_letter_come_from_an_s3_bucket_byte_for_byte() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.seed(&[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = Attachments::build(&moto.settings(dir.path())).expect("attachments");
    let case = first_example(with_letter);
    let docs = attachments.resolve(&case, None).await.expect("fetched");
    let (photo, letter) = (attachment("IMG-1"), attachment("LMN-2901"));
    assert_eq!(docs.photos.len(), 1);
    assert_eq!(docs.photos[0].data, photo);
    assert_eq!(docs.photos[0].content_type, "image/jpeg");
    assert_eq!(docs.photos[0].hash, sha1_base64(&photo));
    let got = docs.letter.as_ref().expect("the letter");
    assert_eq!(got.data, letter);
    assert_eq!(got.content_type, "application/pdf");
    assert_eq!(got.hash, sha1_base64(&letter));
    // A resend that carries the first try's hashes finds the same versions.
    let again = attachments
        .resolve(&case, Some(&docs.digest()))
        .await
        .expect("the same documents");
    assert_eq!(again.digest(), docs.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_missing_from_the_bucket_rejects_the_case_with_att_02() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.seed(&[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = Attachments::build(&moto.settings(dir.path())).expect("attachments");
    let case = first_example(|v| {
        v["documentation"]["photos"][0]["uri"] = json!("pm://attachments/IMG-404");
    });
    assert_eq!(
        rejected(attachments.resolve(&case, None).await),
        vec![(
            "ATT-02".to_owned(),
            "documentation.photos[0].uri".to_owned()
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_the_attachment_limit_rejects_the_case_with_att_04() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    // A JPEG of 4 KiB: the photo's bytes, padded (JPEG readers stop at the end marker).
    let mut large = attachment("IMG-1");
    large.resize(4096, 0);
    moto.seed(&[("IMG-LARGE", large)]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = moto.settings(dir.path());
    settings.max_attachment_bytes = 2048;
    settings.max_request_bytes = 2048;
    settings.max_bytes_in_flight = 2048;
    let attachments = Attachments::build(&settings).expect("attachments");
    let case = first_example(|v| {
        v["documentation"]["photos"][0]["uri"] = json!("pm://attachments/IMG-LARGE");
    });
    let Err(Problem::Rejected(findings)) = attachments.resolve(&case, None).await else {
        panic!("expected a rejection");
    };
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, "ATT-04");
    assert!(
        findings[0].message.contains("4096 bytes") && findings[0].message.contains("2048 bytes"),
        "{}",
        findings[0].message
    );
    // The photo of 1008 bytes is within the same limit.
    let small = first_example(|_| {});
    assert!(attachments.resolve(&small, None).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_s3_server_is_a_store_to_try_again_not_a_rejection() {
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    moto.seed(&[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let attachments = Attachments::build(&moto.settings(dir.path())).expect("attachments");
    let case = first_example(|_| {});
    assert!(attachments.resolve(&case, None).await.is_ok());
    moto.stop();
    let started = Instant::now();
    match attachments.resolve(&case, None).await {
        Err(Problem::Unavailable(detail)) => {
            assert!(detail.contains("document store `pm`"), "{detail}");
            assert!(!detail.contains(SECRET_KEY), "{detail}");
        }
        other => panic!("expected the store to be unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "gave up after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_fetches_the_photos_from_s3_and_the_payer_approves_example_01() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.seed(&[]).await;
    let sim = crate::support::payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (id_file, secret_file) = key_files(dir.path());
    let config = format!(
        "[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{}\"\ntimeout = \"2s\"\n\n\
         [attachments]\ntimeout = \"3s\"\n\n\
         [attachments.sources.pm]\nprefix = \"pm://attachments/\"\nkind = \"s3\"\nbucket = \"{BUCKET}\"\n\
         endpoint = \"{}\"\nkey_prefix = \"{KEY_PREFIX}\"\npath_style = true\nallow_insecure_http = true\n\
         access_key_id_file = {:?}\nsecret_access_key_file = {:?}\n",
        sim.base_url(),
        moto.endpoint(),
        id_file.to_str().expect("utf-8"),
        secret_file.to_str().expect("utf-8"),
    );
    let path = dir.path().join("worker.toml");
    std::fs::write(&path, config).expect("write config");
    let case = examples().join("01-eyelid-margin-cornea-approved.json");
    // Run from a folder without examples/attachments: the shipped folder source cannot serve.
    let mut cmd = worker(
        &[
            "process",
            "--config",
            path.to_str().expect("utf-8"),
            case.to_str().expect("utf-8"),
        ],
        &[("PREAUTH__RETRY__DELAYS", "[\"100ms\", \"100ms\"]")],
    );
    cmd.current_dir(dir.path());
    let out = tokio::task::spawn_blocking(move || run(cmd))
        .await
        .expect("joined");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "approved", "{}", got[0]);
    // The payer received the request once, the photo inline with the file's size and hash (it
    // refuses inline documents whose size or hash disagree with their data).
    let submits: Vec<_> = sim
        .seen()
        .into_iter()
        .filter(|s| s.operation == "submit")
        .collect();
    assert_eq!(submits.len(), 1, "{submits:?}");
    assert_eq!(submits[0].status, 200, "{submits:?}");
    let photo = attachment("IMG-1");
    let photos: Vec<_> = submits[0]
        .documents
        .iter()
        .filter(|d| d.kind == "photo")
        .collect();
    assert_eq!(photos.len(), 1, "{photos:?}");
    assert!(photos[0].has_data, "{photos:?}");
    assert_eq!(photos[0].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(photos[0].size, Some(photo.len() as u64));
    assert_eq!(
        photos[0].hash.as_deref(),
        Some(sha1_base64(&photo).as_str())
    );
}
