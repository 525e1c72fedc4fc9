//! A document that cannot be sent rejects the case with the rule and the field that say why,
//! before anything reaches the payer; neither the outcome nor the log (at debug) repeats the
//! URI's key or anything the file holds.

use super::*;

/// Stands for what a file holds: no outcome or log line may contain it.
const MARKER: &str = "HADDAD-LEILA-CHART-7731";

/// A JPEG (the shipped IMG-1) with the marker after its last byte: still sniffed as a JPEG.
fn marked_jpeg(clinic: &Clinic) -> Vec<u8> {
    let mut bytes = clinic.file("IMG-1");
    bytes.extend_from_slice(MARKER.as_bytes());
    bytes
}

/// Example 01 with its photo's URI (and declared type) replaced.
fn eyelid_with_photo(clinic: &Clinic, uri: &str, content_type: &str) -> String {
    clinic.case(EYELID, |c| {
        c["documentation"]["photos"][0]["uri"] = Value::from(uri);
        c["documentation"]["photos"][0]["content_type"] = Value::from(content_type);
    })
}

/// Runs `case` through `process` (logging at debug) against a payer-sim that must see nothing;
/// returns the findings of the one `rejected` outcome and everything the worker printed.
async fn rejected(clinic: &Clinic, case: &str, env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let sim = payer_sim("default", Scenario::default()).await;
    let cfg = clinic.config(&sim, "default", &clinic.folder_source());
    let out = process(&cfg, &[case], &[env, &[("RUST_LOG", "debug")]].concat());
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "rejected", "{got:?}");
    assert_eq!(sim.seen(), vec![], "nothing may reach the payer");
    let findings = got[0]["findings"].as_array().cloned().unwrap_or_default();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (findings, all)
}

/// Asserts a finding of `rule` at `path`, an error.
fn has_finding(findings: &[Value], rule: &str, path: &str) {
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == rule && f["path"] == path && f["severity"] == "error"),
        "{rule} at {path}: {findings:?}"
    );
}

/// Asserts `all` holds neither `key` nor anything of `content`.
fn tells_nothing(all: &str, key: &str, content: &[u8]) {
    assert!(
        !all.contains(key),
        "the URI's key {key} was printed:\n{all}"
    );
    assert!(
        !all.contains(MARKER),
        "the file's content was printed:\n{all}"
    );
    if !content.is_empty() {
        let encoded = STANDARD.encode(content);
        assert!(
            !all.contains(&encoded[..40.min(encoded.len())]),
            "the file's bytes were printed (base64):\n{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uri_or_a_link_that_leads_out_of_the_folder_is_refused_with_att_03() {
    let clinic = Clinic::new();
    // A real file outside the root, and a symbolic link in the root that points to it.
    let outside = marked_jpeg(&clinic);
    std::fs::write(clinic.path().join("outside.jpg"), &outside).expect("outside");
    std::os::unix::fs::symlink(
        clinic.path().join("outside.jpg"),
        clinic.root().join("link-5520.jpg"),
    )
    .expect("symlink");
    let case = clinic.case(EYELID, |c| {
        let photos = &mut c["documentation"]["photos"];
        let mut link = photos[0].clone();
        link["id"] = Value::from("IMG-2");
        link["uri"] = Value::from("pm://attachments/link-5520.jpg");
        photos[0]["uri"] = Value::from("pm://attachments/../outside.jpg");
        photos.as_array_mut().expect("photos").push(link);
    });
    let (findings, all) = rejected(&clinic, &case, &[]).await;
    has_finding(&findings, "ATT-03", "documentation.photos[0].uri");
    has_finding(&findings, "ATT-03", "documentation.photos[1].uri");
    tells_nothing(&all, "outside", &outside);
    tells_nothing(&all, "link-5520", &outside);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_declared_png_whose_bytes_are_jpeg_is_refused_with_att_05() {
    let clinic = Clinic::new();
    let bytes = marked_jpeg(&clinic);
    std::fs::write(clinic.root().join("scan-4471.jpg"), &bytes).expect("write");
    let case = eyelid_with_photo(&clinic, "pm://attachments/scan-4471.jpg", "image/png");
    let (findings, all) = rejected(&clinic, &case, &[]).await;
    has_finding(&findings, "ATT-05", "documentation.photos[0].content_type");
    tells_nothing(&all, "scan-4471", &bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_over_the_size_limit_is_refused_with_att_04_naming_the_limit() {
    let clinic = Clinic::new();
    let bytes = marked_jpeg(&clinic);
    assert!(bytes.len() > 512);
    std::fs::write(clinic.root().join("scan-4471.jpg"), &bytes).expect("write");
    let case = eyelid_with_photo(&clinic, "pm://attachments/scan-4471.jpg", "image/jpeg");
    let (findings, all) = rejected(
        &clinic,
        &case,
        &[("PREAUTH__ATTACHMENTS__MAX_ATTACHMENT_BYTES", "512")],
    )
    .await;
    has_finding(&findings, "ATT-04", "documentation.photos[0].uri");
    assert!(
        findings
            .iter()
            .any(|f| f["message"].as_str().is_some_and(|m| m.contains("512"))),
        "the limit is named: {findings:?}"
    );
    tells_nothing(&all, "scan-4471", &bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_missing_from_the_folder_is_refused_with_att_02() {
    let clinic = Clinic::new();
    let case = eyelid_with_photo(&clinic, "pm://attachments/scan-9902.jpg", "image/jpeg");
    let (findings, all) = rejected(&clinic, &case, &[]).await;
    has_finding(&findings, "ATT-02", "documentation.photos[0].uri");
    tells_nothing(&all, "scan-9902", b"");
}
