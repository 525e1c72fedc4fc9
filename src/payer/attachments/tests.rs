use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::rules::testing::{appeal_base, base, decode_value};

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1, 2, 3,
];
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D,
];
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< >>\nendobj\n%%EOF\n";

struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> &Self {
        let path = self.dir.path().join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, bytes).expect("write");
        self
    }

    fn settings(&self) -> AttachmentSettings {
        self.settings_on(FolderMount::Local)
    }

    fn settings_on(&self, mount: FolderMount) -> AttachmentSettings {
        let mut settings = AttachmentSettings::default();
        settings.sources.insert(
            "pm".to_owned(),
            SourceSettings {
                prefix: "pm://attachments/".to_owned(),
                store: StoreSettings::Folder {
                    root: self.dir.path().join("store"),
                    mount,
                },
            },
        );
        settings
    }

    fn attachments(&self) -> Attachments {
        Attachments::build(&self.settings()).expect("attachments")
    }
}

fn with_photos(photos: Value) -> CaseEvent {
    let mut v = base();
    v["documentation"]["photos"] = photos;
    decode_value(&v)
}

fn photo(id: &str, key: &str, content_type: &str) -> Value {
    json!({"id": id, "taken_on": "2026-11-18", "uri": format!("pm://attachments/{key}"), "content_type": content_type})
}

fn rejected(result: Result<Documents, Problem>) -> Vec<(String, String, String)> {
    match result {
        Err(Problem::Rejected(findings)) => findings
            .into_iter()
            .map(|f| (f.rule, f.path, f.message))
            .collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn the_hash_is_base64_of_sha1_as_fhir_defines_it() {
    // FIPS 180 test vector: SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d.
    assert_eq!(sha1_base64(b"abc"), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
}

#[test]
fn types_are_sniffed_from_the_bytes_not_from_the_name() {
    assert_eq!(sniff(JPEG), Some("image/jpeg"));
    assert_eq!(sniff(PNG), Some("image/png"));
    assert_eq!(sniff(PDF), Some("application/pdf"));
    assert_eq!(sniff(b"II*\0\x08\0\0\0\x10\0\0\0"), Some("image/tiff"));
    assert_eq!(
        sniff(b"GIF89a\x01\0\x01\0"),
        None,
        "GIF is not a type payers take"
    );
    assert_eq!(sniff(b"plain text"), None);
    assert_eq!(sniff(b""), None);
}

#[tokio::test]
async fn a_photo_and_a_letter_are_fetched_with_their_type_size_and_hash() {
    let folder = Folder::new();
    folder
        .put("store/IMG-1", JPEG)
        .put("store/letters/LMN-1", PDF);
    let mut v = appeal_base();
    v["documentation"]["letter_of_medical_necessity"]["uri"] =
        json!("pm://attachments/letters/LMN-1");
    let case = decode_value(&v);
    let docs = folder
        .attachments()
        .resolve(&case, None)
        .await
        .expect("documents");
    assert_eq!(docs.photos.len(), 1);
    assert_eq!(docs.photos[0].data, JPEG);
    assert_eq!(docs.photos[0].content_type, "image/jpeg");
    assert_eq!(docs.photos[0].hash, sha1_base64(JPEG));
    let letter = docs.letter.as_ref().expect("letter");
    assert_eq!(
        (letter.content_type, letter.data.as_slice()),
        ("application/pdf", PDF)
    );
    assert_eq!(
        docs.digest(),
        format!("{},{}", sha1_base64(JPEG), sha1_base64(PDF))
    );
    assert_eq!(docs.total_bytes(), (JPEG.len() + PDF.len()) as u64);
}

#[tokio::test]
async fn a_case_without_documents_fetches_nothing() {
    let case = with_photos(json!([]));
    let docs = Folder::new()
        .attachments()
        .resolve(&case, None)
        .await
        .expect("documents");
    assert!(docs.photos.is_empty() && docs.letter.is_none());
}

#[tokio::test]
async fn paths_that_climb_out_of_the_folder_are_refused() {
    let folder = Folder::new();
    folder.put("secret.jpg", JPEG).put("store/IMG-1", JPEG);
    for key in [
        "../secret.jpg",
        "a/../../secret.jpg",
        "/etc/passwd",
        "./IMG-1",
        "a//b",
    ] {
        let case = with_photos(json!([photo("IMG-9", key, "image/jpeg")]));
        let got = rejected(folder.attachments().resolve(&case, None).await);
        assert_eq!(got.len(), 1, "{key}: {got:?}");
        assert_eq!(got[0].0, "ATT-03", "{key}: {got:?}");
        assert_eq!(got[0].1, "documentation.photos[0].uri");
        assert!(!got[0].2.contains(key), "the key is not repeated: {got:?}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_symbolic_link_out_of_the_folder_is_refused_and_one_inside_it_is_followed() {
    let folder = Folder::new();
    folder.put("secret.jpg", JPEG).put("store/real/IMG-1", JPEG);
    let store = folder.dir.path().join("store");
    std::os::unix::fs::symlink(folder.dir.path().join("secret.jpg"), store.join("out"))
        .expect("symlink");
    // A relative link that stays inside is followed; an absolute one is refused like an
    // absolute key, wherever it points.
    std::os::unix::fs::symlink("real/IMG-1", store.join("in")).expect("symlink");
    std::os::unix::fs::symlink(store.join("real/IMG-1"), store.join("abs")).expect("symlink");
    std::os::unix::fs::symlink(folder.dir.path(), store.join("up")).expect("symlink");
    for key in ["out", "up/secret.jpg", "abs"] {
        let case = with_photos(json!([photo("IMG-9", key, "image/jpeg")]));
        let got = rejected(folder.attachments().resolve(&case, None).await);
        assert_eq!(got[0].0, "ATT-03", "{key}: {got:?}");
    }
    let case = with_photos(json!([photo("IMG-1", "in", "image/jpeg")]));
    let docs = folder.attachments().resolve(&case, None).await;
    assert_eq!(docs.expect("inside").photos[0].data, JPEG);
}

#[tokio::test]
async fn a_missing_file_a_wrong_type_and_an_unknown_prefix_are_each_named() {
    let folder = Folder::new();
    folder
        .put("store/IMG-2", PNG)
        .put("store/IMG-3", b"GIF89a\x01\0\x01\0")
        .put("store/IMG-4", JPEG);
    let case = with_photos(json!([
        photo("IMG-1", "IMG-1", "image/jpeg"),
        photo("IMG-2", "IMG-2", "image/jpeg"),
        photo("IMG-3", "IMG-3", "image/gif"),
        photo("IMG-4", "IMG-4", "image/jpg"),
        {"id": "IMG-5", "taken_on": "2026-11-18", "uri": "https://elsewhere.example/IMG-5", "content_type": "image/jpeg"},
    ]));
    let got = rejected(folder.attachments().resolve(&case, None).await);
    let rules: Vec<(&str, &str)> = got
        .iter()
        .map(|(r, p, _)| (r.as_str(), p.as_str()))
        .collect();
    // The unknown prefix and the missing file are found before anything is read; the types
    // once the bytes are in. `image/jpg` is read as `image/jpeg`.
    assert_eq!(
        rules,
        [
            ("ATT-02", "documentation.photos[0].uri"),
            ("ATT-01", "documentation.photos[4].uri"),
        ],
        "{got:?}"
    );
    let case = with_photos(json!([
        photo("IMG-2", "IMG-2", "image/jpeg"),
        photo("IMG-3", "IMG-3", "image/gif"),
        photo("IMG-4", "IMG-4", "image/jpg"),
    ]));
    let got = rejected(folder.attachments().resolve(&case, None).await);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("ATT-05", "documentation.photos[0].content_type")
    );
    assert!(
        got[0]
            .2
            .contains("declared image/jpeg but its bytes are image/png"),
        "{got:?}"
    );
    assert_eq!(got[1].0, "ATT-05");
    assert!(got[1].2.contains("not JPEG, PNG, TIFF or PDF"), "{got:?}");
}

#[tokio::test]
async fn an_oversized_document_is_rejected_with_the_limit_named() {
    let folder = Folder::new();
    let mut big = JPEG.to_vec();
    big.resize(5000, 0);
    folder.put("store/IMG-1", &big);
    let mut settings = folder.settings();
    settings.max_attachment_bytes = 4096;
    let case = with_photos(json!([photo("IMG-1", "IMG-1", "image/jpeg")]));
    let got = rejected(
        Attachments::build(&settings)
            .expect("attachments")
            .resolve(&case, None)
            .await,
    );
    assert_eq!(got[0].0, "ATT-04");
    assert!(
        got[0].2.contains("5000 bytes") && got[0].2.contains("4096"),
        "{got:?}"
    );
}

#[tokio::test]
async fn documents_together_over_the_request_limit_are_rejected() {
    let folder = Folder::new();
    let mut photo_bytes = JPEG.to_vec();
    photo_bytes.resize(3000, 7);
    folder
        .put("store/IMG-1", &photo_bytes)
        .put("store/IMG-2", &photo_bytes);
    let mut settings = folder.settings();
    settings.max_attachment_bytes = 4000;
    settings.max_request_bytes = 5000;
    let case = with_photos(json!([
        photo("IMG-1", "IMG-1", "image/jpeg"),
        photo("IMG-2", "IMG-2", "image/jpeg")
    ]));
    let got = rejected(
        Attachments::build(&settings)
            .expect("attachments")
            .resolve(&case, None)
            .await,
    );
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("ATT-04", "documentation")
    );
    assert!(got[0].2.contains("6000 bytes together"), "{got:?}");
}

#[tokio::test]
async fn a_document_changed_since_the_first_try_is_reported_not_resent() {
    let folder = Folder::new();
    folder.put("store/IMG-1", JPEG).put("store/IMG-2", JPEG);
    let case = with_photos(json!([
        photo("IMG-1", "IMG-1", "image/jpeg"),
        photo("IMG-2", "IMG-2", "image/jpeg")
    ]));
    let attachments = folder.attachments();
    let first = attachments.resolve(&case, None).await.expect("first");
    let digest = first.digest();
    drop(first);
    let same = attachments.resolve(&case, Some(&digest)).await;
    assert_eq!(same.expect("unchanged").digest(), digest);
    let mut edited = JPEG.to_vec();
    edited.push(0);
    folder.put("store/IMG-2", &edited);
    let got = rejected(attachments.resolve(&case, Some(&digest)).await);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("ATT-06", "documentation.photos[1].uri")
    );
    assert!(got[0].2.contains("photo 2"), "{got:?}");
}

#[tokio::test]
async fn a_missing_folder_is_the_deployment_s_problem_and_worth_retrying() {
    let folder = Folder::new();
    let case = with_photos(json!([photo("IMG-1", "IMG-1", "image/jpeg")]));
    // `store/` was never made: a share not mounted yet.
    match folder.attachments().resolve(&case, None).await {
        Err(Problem::Unavailable(detail)) => assert!(detail.contains("`pm`"), "{detail}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_wait_for_room_in_the_byte_budget_and_get_it_when_it_is_freed() {
    let folder = Folder::new();
    let mut bytes = JPEG.to_vec();
    bytes.resize(300 * 1024, 1);
    folder.put("store/IMG-1", &bytes);
    let mut settings = folder.settings();
    settings.max_attachment_bytes = 400 * 1024;
    settings.max_request_bytes = 400 * 1024;
    // Room for one request's 300 KiB (700 KiB reserved with its encoding), not two.
    settings.max_bytes_in_flight = 400 * 1024;
    let attachments = Arc::new(Attachments::build(&settings).expect("attachments"));
    let case = Arc::new(with_photos(json!([photo("IMG-1", "IMG-1", "image/jpeg")])));
    let first = attachments.resolve(&case, None).await.expect("first");
    let needs = reservation_kib(bytes.len() as u64) as usize;
    assert!(
        attachments.budget_free_kib() < needs,
        "the first holds too much for the second"
    );
    let second = {
        let (a, c) = (Arc::clone(&attachments), Arc::clone(&case));
        tokio::spawn(async move { a.resolve(&c, None).await.map(|d| d.total_bytes()) })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second waits while the first holds the room"
    );
    drop(first);
    let got = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .expect("the second gets the room once it is freed")
        .expect("joined");
    assert_eq!(got.expect("second"), bytes.len() as u64);
    assert_eq!(attachments.budget_free_kib() as u64, attachments.budget_kib);
}

#[test]
fn limits_that_contradict_each_other_are_refused_at_start() {
    let mut settings = AttachmentSettings {
        max_request_bytes: 10,
        ..AttachmentSettings::default()
    };
    let e = Attachments::build(&settings).err().expect("refused");
    assert_eq!(e.key, "attachments.max_request_bytes");
    settings = AttachmentSettings {
        max_bytes_in_flight: 10,
        ..AttachmentSettings::default()
    };
    let e = Attachments::build(&settings).err().expect("refused");
    assert_eq!(e.key, "attachments.max_bytes_in_flight");
}

#[test]
fn plain_keys_are_relative_paths_of_plain_segments() {
    for ok in ["IMG-1", "2026/11/IMG 1.jpg", "a.b/c"] {
        assert!(stores::plain_key(ok), "{ok}");
    }
    for bad in [
        "", "/x", "..", "a/../b", "./a", "a//b", "a/", "a\\b", "a\0b",
    ] {
        assert!(!stores::plain_key(bad), "{bad:?}");
    }
}

#[test]
fn two_sources_with_one_prefix_are_refused_at_start() {
    let folder = Folder::new();
    let mut settings = folder.settings();
    settings.sources.insert(
        "other".to_owned(),
        SourceSettings {
            prefix: "pm://attachments/".to_owned(),
            store: StoreSettings::Folder {
                root: folder.dir.path().to_owned(),
                mount: FolderMount::Local,
            },
        },
    );
    let e = Attachments::build(&settings).err().expect("refused");
    assert_eq!(e.key, "attachments.sources.pm.prefix");
    assert!(e.message.contains("attachments.sources.other"), "{e}");
}

#[tokio::test]
async fn an_object_replaced_between_its_size_and_its_read_is_read_again_later_never_torn() {
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::ObjectStoreExt;
    let store = InMemory::new();
    let path = ObjectPath::from("clinic-7/IMG-1");
    store.put(&path, JPEG.into()).await.expect("put");
    let first = store.head(&path).await.expect("head");
    assert_eq!(
        stores::read_version(&store, &first).await.expect("read"),
        JPEG
    );
    // Replaced by a longer version after the size was learnt: its first bytes are not the photo.
    store
        .put(&path, [JPEG, JPEG].concat().into())
        .await
        .expect("put");
    assert!(matches!(
        stores::read_version(&store, &first).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn an_empty_object_is_read_as_nothing_not_as_a_store_failure() {
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::ObjectStoreExt;
    let store = InMemory::new();
    let path = ObjectPath::from("clinic-7/empty");
    store.put(&path, Vec::new().into()).await.expect("put");
    let meta = store.head(&path).await.expect("head");
    assert_eq!(
        stores::read_version(&store, &meta).await.expect("read"),
        Vec::<u8>::new()
    );
}

#[test]
fn an_s3_endpoint_without_the_bucket_needs_path_style_requests() {
    let s3 = |endpoint: &str, path_style: bool| {
        let mut settings = AttachmentSettings::default();
        settings.sources.insert(
            "s3".to_owned(),
            SourceSettings {
                prefix: "s3://".to_owned(),
                store: StoreSettings::S3(settings::S3StoreSettings {
                    bucket: "clinic-docs".to_owned(),
                    region: "us-east-1".to_owned(),
                    endpoint: Some(endpoint.to_owned()),
                    key_prefix: String::new(),
                    access_key_id_file: None,
                    secret_access_key_file: None,
                    path_style,
                    allow_insecure_http: false,
                }),
            },
        );
        Attachments::build(&settings).err().map(|e| e.key)
    };
    assert_eq!(
        s3("https://minio.clinic.example", false).as_deref(),
        Some("attachments.sources.s3.path_style")
    );
    assert_eq!(s3("https://minio.clinic.example", true), None);
    assert_eq!(s3("https://clinic-docs.minio.clinic.example", false), None);
}

#[test]
fn a_document_api_ca_file_must_hold_certificates() {
    let folder = Folder::new();
    let ca = folder.dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").expect("write");
    let mut settings = AttachmentSettings::default();
    settings.sources.insert(
        "api".to_owned(),
        SourceSettings {
            prefix: "pm://".to_owned(),
            store: StoreSettings::Https(settings::HttpsStoreSettings {
                base_url: "https://pm.clinic.example/documents/".to_owned(),
                token_file: None,
                token_url: None,
                client_id: None,
                client_secret_file: None,
                scope: None,
                ca_file: Some(ca),
                allow_insecure_http: false,
            }),
        },
    );
    let e = Attachments::build(&settings).err().expect("refused");
    assert_eq!(e.key, "attachments.sources.api.ca_file");
}

#[tokio::test]
async fn a_folder_gives_the_same_answers_on_a_local_disk_on_a_share_and_for_process() {
    let folder = Folder::new();
    folder
        .put("secret.jpg", JPEG)
        .put("store/IMG-1", JPEG)
        .put("store/IMG-2", PNG);
    let cases = [
        with_photos(json!([photo("IMG-1", "IMG-1", "image/jpeg")])),
        with_photos(json!([
            photo("IMG-1", "IMG-1", "image/jpeg"),
            photo("IMG-2", "IMG-2", "image/png")
        ])),
        with_photos(json!([photo("IMG-9", "IMG-9", "image/jpeg")])),
        with_photos(json!([photo("IMG-2", "IMG-2", "image/jpeg")])),
        with_photos(json!([photo("IMG-9", "../secret.jpg", "image/jpeg")])),
    ];
    let shown = |r: Result<Documents, Problem>| match r {
        Ok(docs) => format!("{} {}", docs.digest(), docs.total_bytes()),
        Err(Problem::Rejected(findings)) => format!("{findings:?}"),
        Err(Problem::Unavailable(detail)) => detail,
    };
    let local = folder.attachments();
    let share = Attachments::build(&folder.settings_on(FolderMount::Share)).expect("share");
    let kept = folder.attachments().reading_folders_in_place();
    // Twice over: the first read of a local folder opens its root, the next ones read through
    // the held handle.
    for case in cases.iter().chain(&cases) {
        let expected = shown(local.resolve(case, None).await);
        assert_eq!(shown(share.resolve(case, None).await), expected);
        assert_eq!(shown(kept.resolve(case, None).await), expected);
    }
    // A folder that is not there is worth trying again, however it is read.
    let missing = Folder::new();
    let case = &cases[0];
    for attachments in [
        missing.attachments(),
        Attachments::build(&missing.settings_on(FolderMount::Share)).expect("share"),
        missing.attachments().reading_folders_in_place(),
    ] {
        let got = attachments.resolve(case, None).await;
        assert!(matches!(got, Err(Problem::Unavailable(_))), "{got:?}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_share_that_does_not_answer_is_given_up_after_the_timeout_and_tried_again_later() {
    // A named pipe with no writer: opening it blocks, as a read on a stalled share does.
    let folder = Folder::new();
    folder.put("store/IMG-1", JPEG);
    let pipe = folder.dir.path().join("store/STALLED");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let timeout = Duration::from_millis(300);
    let store = stores::Store::build(
        "pm",
        &StoreSettings::Folder {
            root: folder.dir.path().join("store"),
            mount: FolderMount::Share,
        },
        timeout,
    )
    .expect("store");
    let started = std::time::Instant::now();
    let got = store.fetch("STALLED", 1024).await;
    let waited = started.elapsed();
    assert!(
        matches!(&got, Err(stores::StoreError::Unavailable(d)) if d.contains("did not answer")),
        "{got:?}"
    );
    assert!(
        waited >= timeout && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    // The stalled read does not hold up the next one.
    assert_eq!(store.fetch("IMG-1", 1024).await.expect("read"), JPEG);
    // Let the stalled read go: a writer opens the pipe and closes it at once.
    drop(std::fs::OpenOptions::new().write(true).open(&pipe));
}

#[tokio::test]
async fn a_folder_read_in_place_that_could_not_be_opened_is_opened_once_it_is_there() {
    let folder = Folder::new();
    let in_place = folder.attachments().reading_folders_in_place();
    let case = with_photos(json!([photo("IMG-1", "IMG-1", "image/jpeg")]));
    let got = in_place.resolve(&case, None).await;
    assert!(matches!(got, Err(Problem::Unavailable(_))), "{got:?}");
    // The share comes up: the next read opens it, and the reads after it use it.
    folder.put("store/IMG-1", JPEG);
    for _ in 0..2 {
        let docs = in_place.resolve(&case, None).await.expect("read");
        assert_eq!(docs.total_bytes(), JPEG.len() as u64);
    }
}

#[tokio::test]
async fn a_local_folder_replaced_by_another_directory_is_read_through_the_new_one_at_once() {
    let folder = Folder::new();
    folder.put("store/IMG-1", JPEG);
    let local = folder.attachments();
    let first = with_photos(json!([photo("IMG-1", "IMG-1", "image/jpeg")]));
    let docs = local.resolve(&first, None).await.expect("read");
    assert_eq!(docs.total_bytes(), JPEG.len() as u64);
    // The root, held open by that read, is moved aside and a new directory takes its place
    // (a mount, a sync tool swapping folders) with a document the old one never had.
    let store = folder.dir.path().join("store");
    std::fs::rename(&store, folder.dir.path().join("store.old")).expect("move aside");
    folder.put("store/IMG-2", PNG);
    let second = with_photos(json!([photo("IMG-2", "IMG-2", "image/png")]));
    let docs = local
        .resolve(&second, None)
        .await
        .expect("read through the new root");
    assert_eq!(docs.total_bytes(), PNG.len() as u64);
    // A document only the old directory had is missing now, not read from the old one.
    let got = local.resolve(&first, None).await;
    assert!(matches!(got, Err(Problem::Rejected(_))), "{got:?}");
}
