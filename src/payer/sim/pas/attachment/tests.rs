//! Inline documents as the payer simulator reads them: data with a size and a SHA-1 hash that
//! match it is read (and a photo so sent counts as a photo with data); anything else refuses the
//! request, naming the document, never its content.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde_json::{json, Value};

use super::super::bundle_rules::request_violations;
use super::super::review_from_bundle;
use crate::codes::CodeTable;
use crate::payer::pas::model::{LOINC_PHOTO, LOINC_PROGRESS_NOTE};
use crate::payer::pas::write::request_bundle;
use crate::payer::sim::{decide_review, ReviewCase};
use crate::payer::{Operation, Overall, ReviewAction};
use crate::rules::testing::{base, decode_value};
use crate::rules::Policies;

const SUBMITTER: &str = "9012345678";
/// Bytes standing in for a JPEG: 0xfb 0xff encode to `+/` in the standard alphabet.
const PHOTO: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0xfb, 0xff, 0x10, 0x4a, 0x46, 0x49, 0x46,
];

fn sha1_base64(bytes: &[u8]) -> String {
    STANDARD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        bytes,
    ))
}

fn is_document(entry: &Value, loinc: &str) -> bool {
    entry["resource"]["resourceType"] == "DocumentReference"
        && entry["resource"]["type"]["coding"][0]["code"] == loinc
}

/// The attachments of the documents of one LOINC type.
fn attachments<'a>(bundle: &'a mut Value, loinc: &str) -> Vec<&'a mut Value> {
    bundle["entry"]
        .as_array_mut()
        .expect("entries")
        .iter_mut()
        .filter(|e| is_document(e, loinc))
        .map(|e| &mut e["resource"]["content"][0]["attachment"])
        .collect()
}

/// Puts `bytes` inline in `attachment`, as the worker sends a fetched document.
fn put_inline(attachment: &mut Value, content_type: &str, bytes: &[u8]) {
    let a = attachment.as_object_mut().expect("attachment");
    a.remove("url");
    a.insert("contentType".into(), json!(content_type));
    a.insert("data".into(), json!(STANDARD.encode(bytes)));
    a.insert("size".into(), json!(bytes.len()));
    a.insert("hash".into(), json!(sha1_base64(bytes)));
}

/// The request for `case` with every note carrying the size and hash of its data (as the worker
/// sends notes once it sends documents inline), and with its photos inline when `photos` is set.
fn request(v: &Value, photos: bool) -> Value {
    let case = decode_value(v);
    // The payer as a real one is named (a payer that validates refuses the worker's stand-ins).
    let identity = crate::payer::pas::write::PayerIdentity {
        payer_name: Some("Acme Health Plan".into()),
        payer_identifier: Some("60054".into()),
        payer_identifier_system: Some("urn:oid:2.16.840.1.113883.6.300".into()),
        member_id_system: Some("https://acme.example/fhir/member-id".into()),
        ..Default::default()
    };
    let mut bundle = request_bundle(&case, "req-att", SUBMITTER)
        .with_identity(&identity)
        .to_value();
    for note in attachments(&mut bundle, LOINC_PROGRESS_NOTE) {
        let bytes = STANDARD
            .decode(note["data"].as_str().expect("note data"))
            .expect("base64");
        note["size"] = json!(bytes.len());
        note["hash"] = json!(sha1_base64(&bytes));
    }
    if photos {
        for photo in attachments(&mut bundle, LOINC_PHOTO) {
            put_inline(photo, "image/jpeg", PHOTO);
        }
    }
    bundle
}

fn first_photo(bundle: &mut Value) -> &mut Value {
    attachments(bundle, LOINC_PHOTO)
        .into_iter()
        .next()
        .expect("a photo")
}

/// The number (1 for the first) of the supportingInfo that points to the first photo.
fn photo_info_number(bundle: &Value) -> usize {
    let url = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| is_document(e, LOINC_PHOTO))
        .and_then(|e| e["fullUrl"].as_str())
        .expect("photo url");
    bundle["entry"][0]["resource"]["supportingInfo"]
        .as_array()
        .expect("supportingInfo")
        .iter()
        .position(|i| i["valueReference"]["reference"] == url)
        .expect("a supportingInfo names the photo")
        + 1
}

/// Damages the first photo of an inline request; returns the simulator's refusal.
fn refusal(damage: impl FnOnce(&mut Value)) -> (String, usize) {
    let mut bundle = request(&base(), true);
    damage(first_photo(&mut bundle));
    let n = photo_info_number(&bundle);
    let err = review_from_bundle(&bundle).expect_err("refused");
    for secret in [STANDARD.encode(PHOTO), sha1_base64(PHOTO)] {
        assert!(!err.contains(&secret), "{err}");
    }
    let (errors, _) = request_violations(&bundle);
    assert!(!errors.is_empty(), "the bundle rules see it too: {err}");
    (err, n)
}

#[test]
fn a_photo_sent_as_data_with_a_matching_size_and_hash_is_read_and_counted() {
    let bundle = request(&base(), true);
    assert_eq!(request_violations(&bundle).0, Vec::<String>::new());
    let review = review_from_bundle(&bundle).expect("reads");
    assert_eq!((review.photos, review.photos_with_data), (1, 1));
    assert_eq!(review.clinical_notes, 1);
}

#[test]
fn a_photo_sent_only_by_link_is_a_photo_without_data() {
    let bundle = request(&base(), false);
    let review = review_from_bundle(&bundle).expect("reads");
    assert_eq!((review.photos, review.photos_with_data), (1, 0));
    assert_eq!(review, ReviewCase::from_case(&decode_value(&base())));
}

#[test]
fn a_wrong_hash_refuses_the_request_naming_the_photo() {
    let (err, n) = refusal(|photo| photo["hash"] = json!(sha1_base64(b"another image")));
    assert_eq!(
        err,
        format!("supportingInfo {n} (photo): attachment 1: hash is not the SHA-1 of the data")
    );
}

#[test]
fn a_hash_of_the_base64_text_instead_of_the_bytes_is_refused() {
    let (err, n) = refusal(|photo| {
        photo["hash"] = json!(sha1_base64(STANDARD.encode(PHOTO).as_bytes()));
    });
    assert!(
        err.starts_with(&format!("supportingInfo {n} (photo)")) && err.contains("hash"),
        "{err}"
    );
}

#[test]
fn a_wrong_size_refuses_the_request_naming_the_photo() {
    let (err, n) = refusal(|photo| photo["size"] = json!(PHOTO.len() + 1));
    assert_eq!(
        err,
        format!("supportingInfo {n} (photo): attachment 1: size is 12 but the data holds 11 bytes")
    );
}

#[test]
fn a_size_written_as_text_is_refused() {
    let (err, n) = refusal(|photo| photo["size"] = json!(PHOTO.len().to_string()));
    assert_eq!(
        err,
        format!("supportingInfo {n} (photo): attachment 1: size is not a whole number")
    );
}

#[test]
fn data_without_a_hash_refuses_the_request_naming_the_photo() {
    let (err, n) = refusal(|photo| {
        photo.as_object_mut().expect("attachment").remove("hash");
    });
    assert_eq!(
        err,
        format!("supportingInfo {n} (photo): attachment 1: data without a hash")
    );
}

#[test]
fn data_without_a_size_refuses_the_request_naming_the_photo() {
    let (err, n) = refusal(|photo| {
        photo.as_object_mut().expect("attachment").remove("size");
    });
    assert_eq!(
        err,
        format!("supportingInfo {n} (photo): attachment 1: data without a size")
    );
}

#[test]
fn data_that_is_not_standard_base64_refuses_the_request_naming_the_photo() {
    // The URL-safe alphabet (`-_` for `+/`), text that is no base64 at all, and a number.
    let url_safe = URL_SAFE.encode(PHOTO);
    assert_ne!(url_safe, STANDARD.encode(PHOTO));
    for data in [json!(url_safe), json!("not base64!"), json!(42)] {
        let (err, n) = refusal(|photo| photo["data"] = data);
        assert_eq!(
            err,
            format!("supportingInfo {n} (photo): attachment 1: data is not standard base64")
        );
    }
}

#[test]
fn a_note_whose_hash_does_not_match_is_refused_too() {
    let mut bundle = request(&base(), true);
    let note = attachments(&mut bundle, LOINC_PROGRESS_NOTE)
        .into_iter()
        .next()
        .expect("a note");
    note["hash"] = json!(sha1_base64(b"another note"));
    let err = review_from_bundle(&bundle).expect_err("refused");
    assert!(
        err.contains("(clinical note): attachment 1: hash is not the SHA-1 of the data"),
        "{err}"
    );
}

#[test]
fn a_document_no_supporting_info_names_is_checked_too() {
    let mut bundle = request(&base(), true);
    first_photo(&mut bundle)["size"] = json!(1);
    let entries = bundle["entry"].as_array().expect("entries").len();
    let photo = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .position(|e| is_document(e, LOINC_PHOTO))
        .expect("photo entry");
    // Move the damaged photo to a new fullUrl nothing points to, restoring the original.
    let mut stray = bundle["entry"][photo].clone();
    stray["fullUrl"] = json!("urn:uuid:00000000-0000-4000-8000-000000000001");
    bundle["entry"].as_array_mut().expect("entries").push(stray);
    first_photo(&mut bundle)["size"] = json!(PHOTO.len());
    let err = review_from_bundle(&bundle).expect_err("refused");
    assert_eq!(
        err,
        format!(
            "entry {} (document): attachment 1: size is 1 but the data holds 11 bytes",
            entries + 1
        )
    );
}

fn decision(bundle: &Value, policy: &str) -> crate::payer::PayerResponse {
    let codes = CodeTable::embedded().expect("codes");
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get(policy).expect("policy");
    let review = review_from_bundle(bundle).expect("reads");
    decide_review(&review, &policy, &codes, "req-att", Operation::Submit, None).expect("decides")
}

fn northwind() -> Value {
    let mut v = base();
    v["coverage"]["member_id"] = json!("NW20481234");
    v
}

#[test]
fn a_strict_policy_does_not_certify_a_request_whose_photos_are_only_links() {
    let r = decision(&request(&northwind(), false), "strict-commercial");
    assert_eq!(r.overall(), Overall::NotCertified);
    assert_eq!(r.items[0].action, ReviewAction::NotCertified);
    assert_eq!(r.reasons[0].code, "DOC");
    assert_eq!(
        r.reasons[0].text,
        "documentation incomplete: a photograph must be sent as data, not only as a link"
    );
}

#[test]
fn a_strict_policy_certifies_a_request_whose_photo_arrives_as_data() {
    let r = decision(&request(&northwind(), true), "strict-commercial");
    assert_eq!(r.overall(), Overall::Certified, "{:?}", r.reasons);
    assert!(r.authorization_number.is_some());
}

#[test]
fn the_default_policy_still_certifies_photos_sent_by_link() {
    let r = decision(&request(&base(), false), "default");
    assert_eq!(r.overall(), Overall::Certified, "{:?}", r.reasons);
}

#[test]
fn a_strict_policy_without_any_photo_still_says_photographs_are_required() {
    let mut v = northwind();
    v["documentation"]["photos"] = json!([]);
    let r = decision(&request(&v, false), "strict-commercial");
    assert_eq!(
        r.reasons[0].text,
        "documentation incomplete: photographs are required"
    );
}

#[tokio::test]
async fn the_http_simulator_refuses_a_damaged_document_as_it_refuses_any_unreadable_request() {
    let codes = Arc::new(CodeTable::embedded().expect("codes"));
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get("default").expect("policy");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let sim = crate::payer::sim::server::start(listener, policy, codes, Default::default())
        .expect("simulator");
    let post = |bundle: Value| {
        let url = format!("{}/Claim/$submit", sim.base_url());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/fhir+json")
                .body(serde_json::to_vec(&bundle).expect("json"))
                .send()
                .await
                .expect("answered");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json body"))
        }
    };
    let (status, good) = post(request(&base(), true)).await;
    assert_eq!(status, 200, "{good}");
    let mut bundle = request(&base(), true);
    let n = photo_info_number(&bundle);
    first_photo(&mut bundle)["hash"] = json!(sha1_base64(b"another image"));
    let (status, outcome) = post(bundle).await;
    assert_eq!(status, 400);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "invalid");
    assert_eq!(
        outcome["issue"][0]["diagnostics"],
        format!("supportingInfo {n} (photo): attachment 1: hash is not the SHA-1 of the data")
    );
    let statuses: Vec<u16> = sim.seen().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 400]);
}

#[tokio::test]
async fn the_http_simulator_records_each_document_and_the_body_digest_never_the_bytes() {
    let codes = Arc::new(CodeTable::embedded().expect("codes"));
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get("default").expect("policy");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let sim = crate::payer::sim::server::start(listener, policy, codes, Default::default())
        .expect("simulator");
    let bundle = request(&base(), true);
    let body = serde_json::to_vec(&bundle).expect("json");
    let status = reqwest::Client::new()
        .post(format!("{}/Claim/$submit", sim.base_url()))
        .header("content-type", "application/fhir+json")
        .body(body.clone())
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status, 200);
    let seen = sim.seen();
    assert_eq!(seen.len(), 1);
    let sha256: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(seen[0].body_sha256, sha256);
    let photos: Vec<_> = seen[0]
        .documents
        .iter()
        .filter(|d| d.kind == "photo")
        .collect();
    assert!(!photos.is_empty(), "{:?}", seen[0].documents);
    for photo in photos {
        assert!(photo.has_data);
        assert_eq!(photo.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(photo.size, Some(PHOTO.len() as u64));
        assert_eq!(photo.hash.as_deref(), Some(sha1_base64(PHOTO).as_str()));
    }
    assert!(seen[0].documents.iter().any(|d| d.kind == "note"));
    // What the simulator keeps (and serves on /_sim/requests) holds no document's bytes.
    let kept = serde_json::to_string(&seen).expect("json");
    assert!(!kept.contains(&STANDARD.encode(PHOTO)), "{kept}");
}
