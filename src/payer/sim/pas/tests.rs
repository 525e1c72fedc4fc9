//! The PAS bundle both ways: every example written as a request, read back by the payer
//! simulator, answered, and read by the worker; and the reader against the research examples.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;
use base64::Engine as _;

use super::super::decide_review;
use super::bundle_rules::{references, request_violations, response_violations};
use crate::case::{decode, identify, CaseEvent, Kind};
use crate::codes::CodeTable;
use crate::payer::pas::read::*;
use crate::payer::pas::write::{inquiry_bundle, request_bundle};
use crate::payer::{Operation, Overall, PayerError};
use crate::rules::testing::{appeal_base, base, decode_value};
use crate::rules::Policies;

/// The time an inquiry is assembled, fixed for the tests.
fn assembled() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_796_000_000, 0).expect("a time")
}

pub(super) const SUBMITTER: &str = "9012345678";
const APPROVED: &str = include_str!("../../../../tests/fixtures/pas/pas-approved-bundle.json");
const DENIED: &str = include_str!("../../../../tests/fixtures/pas/pas-denied-bundle.json");
const PENDED: &str = include_str!("../../../../tests/fixtures/pas/pas-pended-bundle.json");
const REQUEST: &str = include_str!("../../../../tests/fixtures/pas/pas-request-bundle.json");

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

/// Every example case event, with its file name and the request identifier the pipeline
/// would give it.
pub(super) fn examples() -> Vec<(String, CaseEvent, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "examples found: {}", files.len());
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("file name")
                .to_owned();
            let bytes = std::fs::read(&path).expect("read example");
            let id = identify(&bytes).expect("identifiable");
            let case =
                decode(&id, None).unwrap_or_else(|f| panic!("{name} does not decode: {f:?}"));
            let rid = crate::ids::request_identifier(
                &case.case_id,
                &case.event_id,
                case.kind.operation(),
            );
            (name, case, rid)
        })
        .collect()
}

fn claim_of(bundle: &Value) -> &Value {
    &bundle["entry"][0]["resource"]
}

/// The PAS rules of a request or a response bundle (see [`bundle_rules`]), and each entry but
/// the first referenced exactly once.
fn assert_well_formed(bundle: &Value, what: &str) {
    if claim_of(bundle)["resourceType"] == "Claim" {
        let (errors, _warnings) = request_violations(bundle);
        assert_eq!(errors, Vec::<String>::new(), "{what}");
    } else {
        assert_eq!(response_violations(bundle), Vec::<String>::new(), "{what}");
    }
    let urls: Vec<&str> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["fullUrl"].as_str().expect("fullUrl"))
        .collect();
    assert!(urls.iter().all(|u| u.starts_with("urn:uuid:")), "{what}");
    let mut refs = Vec::new();
    references(bundle, &mut refs);
    assert!(!refs.is_empty(), "{what}");
    for r in &refs {
        let n = urls.iter().filter(|u| *u == r).count();
        assert_eq!(n, 1, "{what}: reference {r} resolves to {n} entries");
    }
    // Every entry but the first is referenced from somewhere.
    for u in &urls[1..] {
        assert!(refs.contains(u), "{what}: {u} is not referenced");
    }
}

fn supporting_messages(bundle: &Value) -> Vec<String> {
    claim_of(bundle)["supportingInfo"]
        .as_array()
        .expect("supportingInfo")
        .iter()
        .filter_map(|i| i["valueString"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_simulated_decision_survives_the_response_bundle() {
    let codes = CodeTable::embedded().expect("codes");
    let policies = Policies::load(&codes, None).expect("policies");
    let mut seen = BTreeSet::new();
    for (name, case, rid) in examples() {
        let request = request_bundle(&case, &rid, SUBMITTER).to_value();
        let by_link = review_from_bundle(&request).expect("review");
        // The same request as it reads when its photos are sent inline (photo_data_required).
        let mut inline = by_link.clone();
        inline.photos_with_data = inline.photos;
        let first = match case.kind {
            Kind::Submission => Operation::Submit,
            Kind::Appeal => Operation::Appeal,
            Kind::Update => Operation::Update,
            Kind::Cancel => Operation::Cancel,
        };
        let reviews = [(&by_link, "by link"), (&inline, "inline")];
        for ((review, photos), policy_name) in reviews
            .into_iter()
            .flat_map(|r| [(r, "default"), (r, "strict-commercial")])
        {
            let policy = policies.get(policy_name).expect("policy");
            for op in [first, Operation::Inquire { round: 1 }] {
                let what = format!("{name} (photos {photos}) under {policy_name}, {op:?}");
                match decide_review(review, &policy, &codes, &rid, op, None) {
                    Ok(resp) => {
                        seen.insert(format!("{:?}", resp.overall()));
                        let bundle = response_bundle(&request, &resp);
                        assert_well_formed(&bundle, &what);
                        assert_eq!(parse_response(&bundle), Ok(resp), "{what}");
                    }
                    Err(PayerError::Refused { reasons, .. }) => {
                        seen.insert("Refused".to_owned());
                        let bundle = error_response_bundle(&request, review.requested_on, &reasons);
                        assert_well_formed(&bundle, &what);
                        assert_eq!(
                            parse_response(&bundle),
                            Err(ResponseError::BusinessErrors(reasons)),
                            "{what}"
                        );
                    }
                    Err(e) => panic!("{what}: {e}"),
                }
            }
        }
    }
    for kind in [
        Overall::Certified,
        Overall::PartlyCertified,
        Overall::NotCertified,
        Overall::Pended,
    ] {
        assert!(
            seen.contains(&format!("{kind:?}")),
            "no {kind:?} in {seen:?}"
        );
    }
    assert!(seen.contains("Refused"), "{seen:?}");
}

/// Fails on a null, an empty string, an empty array or an empty object anywhere: FHIR JSON
/// allows none of them.
fn assert_no_empty_values(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("{path} is null"),
        Value::String(s) => assert!(!s.is_empty(), "{path} is an empty string"),
        Value::Array(a) => {
            assert!(!a.is_empty(), "{path} is an empty array");
            for (i, x) in a.iter().enumerate() {
                assert_no_empty_values(x, &format!("{path}[{i}]"));
            }
        }
        Value::Object(m) => {
            assert!(!m.is_empty(), "{path} is an empty object");
            for (k, x) in m {
                assert_no_empty_values(x, &format!("{path}.{k}"));
            }
        }
        Value::Bool(_) | Value::Number(_) => {}
    }
}

#[test]
fn the_bytes_sent_name_each_resource_type_first_and_hold_no_empty_values() {
    for (name, case, rid) in examples() {
        let requests = [
            request_bundle(&case, &rid, SUBMITTER),
            inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 1, assembled()),
        ];
        for request in requests {
            let bytes = request.to_json();
            let text = std::str::from_utf8(&bytes).expect("UTF-8");
            assert!(text.starts_with(r#"{"resourceType":"Bundle","#), "{name}");
            let entries = text.matches(r#""resource":"#).count();
            let typed_first = text.matches(r#""resource":{"resourceType":"#).count();
            assert_eq!(entries, typed_first, "{name}");
            let value: Value = serde_json::from_slice(&bytes).expect("JSON");
            assert_eq!(value["entry"].as_array().map(Vec::len), Some(entries));
            assert_eq!(value, request.to_value(), "{name}");
            assert_no_empty_values(&value, &name);
        }
    }
}

#[test]
fn a_resent_request_is_byte_identical_and_another_request_is_not() {
    for (name, case, rid) in examples() {
        let a = serde_json::to_vec(&request_bundle(&case, &rid, SUBMITTER)).expect("a");
        let b = serde_json::to_vec(&request_bundle(&case, &rid, SUBMITTER)).expect("b");
        assert_eq!(a, b, "{name}");
        let other = format!("{rid}-other");
        let c = serde_json::to_vec(&request_bundle(&case, &other, SUBMITTER)).expect("c");
        assert_ne!(a, c, "{name}");
        let i1 = serde_json::to_vec(&inquiry_bundle(
            &case,
            &rid,
            SUBMITTER,
            "PA-1",
            1,
            assembled(),
        ))
        .expect("i1");
        let i2 = serde_json::to_vec(&inquiry_bundle(
            &case,
            &rid,
            SUBMITTER,
            "PA-1",
            1,
            assembled(),
        ))
        .expect("i2");
        let i3 = serde_json::to_vec(&inquiry_bundle(
            &case,
            &rid,
            SUBMITTER,
            "PA-1",
            2,
            assembled(),
        ))
        .expect("i3");
        assert_eq!(i1, i2, "{name}");
        assert_ne!(i1, i3, "{name}");
    }
}

#[test]
fn request_bundles_put_the_claim_first_and_resolve_every_reference_once() {
    for (name, case, rid) in examples() {
        let bundle = request_bundle(&case, &rid, SUBMITTER).to_value();
        assert_well_formed(&bundle, &name);
        assert_eq!(claim_of(&bundle)["resourceType"], "Claim");
        let inquiry = inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 1, assembled()).to_value();
        assert_well_formed(&inquiry, &format!("{name} inquiry"));
    }
}

#[test]
fn the_claim_carries_the_pas_elements_the_brief_lists() {
    let case = decode_value(&base());
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let claim = claim_of(&bundle);
    let identifier = json!({"system": "urn:trnorg:9012345678", "value": "req-1"});
    assert_eq!(bundle["identifier"], identifier);
    assert_eq!(claim["identifier"][0], identifier);
    assert_eq!(
        claim["identifier"].as_array().map(Vec::len),
        Some(1),
        "one identifier: the TRN (PASClaim identifier 1..2 are both trace numbers)"
    );
    assert_eq!(bundle["timestamp"], "2026-11-20T14:03:00Z");
    assert_eq!(claim["created"], "2026-11-20T14:03:00Z");
    assert_eq!(claim["status"], "active");
    assert_eq!(claim["use"], "preauthorization");
    assert_eq!(claim["priority"]["coding"][0]["code"], "normal");
    assert_eq!(claim["insurance"][0]["focal"], true);
    assert_eq!(
        claim["careTeam"][0]["extension"][0]["url"],
        EXT_CARE_TEAM_CLAIM_SCOPE
    );
    // The care team member is the rendering practitioner's role in the requesting organization.
    let role_url = claim["careTeam"][0]["provider"]["reference"].clone();
    let role = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["fullUrl"] == role_url)
        .expect("role entry");
    assert_eq!(role["resource"]["resourceType"], "PractitionerRole");
    assert_eq!(role["resource"]["organization"], claim["provider"]);
    assert_eq!(claim["careTeam"][0]["role"]["coding"][0]["code"], "SJ");
    // Diagnoses dotted, primary first and typed principal.
    assert_eq!(
        claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0],
        json!({"system": ICD10CM_SYSTEM, "code": "H02.822"})
    );
    assert_eq!(
        claim["diagnosis"][0]["type"][0]["coding"][0]["code"],
        "principal"
    );
    assert!(claim["diagnosis"][1].get("type").is_none());
    let item = &claim["item"][0];
    assert_eq!(item["sequence"], 1);
    assert_eq!(item["productOrService"]["coding"][0]["system"], CPT_SYSTEM);
    assert_eq!(item["modifier"][0]["coding"][0]["code"], "E4");
    assert_eq!(item["servicedDate"], "2026-12-10");
    assert_eq!(item["locationCodeableConcept"]["coding"][0]["code"], "11");
    assert_eq!(item["quantity"]["value"], 1);
    assert_eq!(item["diagnosisSequence"], json!([1, 2]));
    let info = claim["supportingInfo"].as_array().expect("info");
    let all: Vec<u64> = info.iter().filter_map(|i| i["sequence"].as_u64()).collect();
    assert_eq!(item["informationSequence"], json!(all));
    let urls: Vec<&str> = item["extension"]
        .as_array()
        .expect("extensions")
        .iter()
        .filter_map(|e| e["url"].as_str())
        .collect();
    assert_eq!(
        urls,
        [
            EXT_ITEM_TRACE_NUMBER,
            EXT_SERVICE_ITEM_REQUEST_TYPE,
            EXT_CERTIFICATION_TYPE,
            EXT_REQUESTED_SERVICE
        ]
    );
    // The note travels inline, base64.
    let note = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["resource"]["type"]["coding"][0]["code"] == LOINC_PROGRESS_NOTE)
        .expect("note entry");
    let data = note["resource"]["content"][0]["attachment"]["data"]
        .as_str()
        .expect("data");
    let text = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    assert!(String::from_utf8(text)
        .expect("utf-8")
        .starts_with("Two 2 mm milia"));
    // Coverage: member id, relationship in both code systems, group.
    let coverage = bundle["entry"][2]["resource"].clone();
    assert_eq!(coverage["resourceType"], "Coverage");
    assert_eq!(coverage["subscriberId"], "ACM123456789");
    assert_eq!(coverage["relationship"]["coding"][1]["code"], "18");
    assert_eq!(coverage["class"][0]["value"], "GRP-001");
}

#[test]
fn an_expedited_request_is_stat_and_a_hcpcs_line_carries_the_hcpcs_system() {
    let mut v = base();
    v["urgency"] = json!("expedited");
    v["service"]["procedures"] = json!([
        {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
        {"code": "G0127", "system": "HCPCS", "units": 2}]);
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-2", SUBMITTER).to_value();
    let claim = claim_of(&bundle);
    assert_eq!(claim["priority"]["coding"][0]["code"], "stat");
    assert_eq!(claim["item"][1]["sequence"], 2);
    assert_eq!(
        claim["item"][1]["productOrService"]["coding"][0]["system"],
        HCPCS_SYSTEM
    );
    assert!(claim["item"][1].get("modifier").is_none());
    assert_eq!(
        review_from_bundle(&bundle),
        Ok(ReviewCase::from_case(&case))
    );
}

#[test]
fn a_coded_lesion_site_is_the_body_site_of_every_line_and_only_when_sent() {
    let mut v = base();
    v["service"]["procedures"] = json!([
        {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
        {"code": "G0127", "system": "HCPCS", "units": 2}]);
    let plain = request_bundle(&decode_value(&v), "req-3", SUBMITTER).to_value();
    assert!(claim_of(&plain)["item"]
        .as_array()
        .expect("items")
        .iter()
        .all(|item| item.get("bodySite").is_none()));
    // 80243003: Eyelid structure.
    v["service"]["lesions"]["body_site"] =
        json!({"system": "http://snomed.info/sct", "code": "80243003"});
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-3", SUBMITTER).to_value();
    let items = claim_of(&bundle)["item"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(
            item["bodySite"],
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "80243003"}]})
        );
    }
    assert_well_formed(&bundle, "body site");
    assert_eq!(
        review_from_bundle(&bundle),
        Ok(ReviewCase::from_case(&case))
    );
    let mut wrong = bundle.clone();
    wrong["entry"][0]["resource"]["item"][1]["bodySite"]["coding"][0]["system"] = json!("x");
    let (errors, _) = request_violations(&wrong);
    assert!(
        errors.iter().any(|e| e.contains("item[1].bodySite")),
        "{errors:?}"
    );
}

#[test]
fn an_appeal_carries_the_letter_and_the_appeal_messages() {
    let (_, case, rid) = examples()
        .into_iter()
        .find(|(n, _, _)| n.starts_with("08-"))
        .expect("example 08");
    let bundle = request_bundle(&case, &rid, SUBMITTER).to_value();
    assert_eq!(
        supporting_messages(&bundle),
        [
            "Documented indications: pain; restricts-vision",
            "Prior treatment: topical adapalene 0.1% from 2026-06-02 to 2026-08-31: failed",
            "Prior treatment: warm compresses and lid hygiene from 2026-06-02 to 2026-10-15: failed",
            "Appeal of PA-40718263 denied 2026-11-06: conservative treatment not documented",
            "Original request: 2d7a9e4c-8b1f-4e36-b5c2-9f0d3a6e1c67",
        ]
    );
    let entries = bundle["entry"].as_array().expect("entries");
    let letter = entries
        .iter()
        .find(|e| e["fullUrl"] == full_url(&rid, "letter"))
        .expect("letter entry");
    assert_eq!(
        letter["resource"]["content"][0]["attachment"]["url"],
        "pm://attachments/LMN-2901"
    );
    let photos = entries
        .iter()
        .filter(|e| e["resource"]["type"]["coding"][0]["code"] == LOINC_PHOTO)
        .count();
    assert_eq!(photos, 2);
    let review = review_from_bundle(&bundle).expect("review");
    assert!(review.appeal && review.letter_of_medical_necessity);
    assert_eq!((review.clinical_notes, review.photos), (2, 2));
}

#[test]
fn a_submission_that_has_a_letter_sends_it_too() {
    let mut v = base();
    v["documentation"]["letter_of_medical_necessity"] = json!(
        {"uri": "pm://attachments/LMN-9", "signed_by_npi": "1234567893", "signed_on": "2026-11-19"});
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-8", SUBMITTER).to_value();
    assert_well_formed(&bundle, "submission with a letter");
    let review = review_from_bundle(&bundle).expect("review");
    assert!(review.letter_of_medical_necessity && !review.appeal);
    assert_eq!(review, ReviewCase::from_case(&case));
}

#[test]
fn repeated_note_ids_still_get_distinct_full_urls() {
    let mut v = base();
    let note = v["documentation"]["clinical_notes"][0].clone();
    v["documentation"]["clinical_notes"] = json!([note.clone(), note]);
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-3", SUBMITTER).to_value();
    assert_well_formed(&bundle, "repeated note ids");
    assert_eq!(
        review_from_bundle(&bundle).expect("review").clinical_notes,
        2
    );
}

#[test]
fn an_ongoing_treatment_and_no_indications_are_written_plainly() {
    let mut v = base();
    v["documentation"]["prior_treatments"][0]["to"] = json!(null);
    v["documentation"]["prior_treatments"][0]["result"] = json!("improved");
    v["documentation"]["indications"] = json!([]);
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-4", SUBMITTER).to_value();
    assert_eq!(
        supporting_messages(&bundle),
        ["Prior treatment: topical tretinoin 0.025% from 2026-08-01 to ongoing: improved"]
    );
    let review = review_from_bundle(&bundle).expect("review");
    assert_eq!(review, ReviewCase::from_case(&case));
    assert_eq!(review.prior_treatments, [false]);
}

#[test]
fn the_inquiry_names_the_payer_reference_on_every_item() {
    let mut v = base();
    v["service"]["procedures"] = json!([
        {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
        {"code": "10040", "system": "CPT", "units": 1}]);
    let case = decode_value(&v);
    let bundle =
        inquiry_bundle(&case, "req-5", SUBMITTER, "PA-12345678", 3, assembled()).to_value();
    let claim = claim_of(&bundle);
    assert_eq!(claim["identifier"][0]["value"], "req-5-inq-3");
    assert_eq!(bundle["identifier"]["value"], "req-5-inq-3");
    assert_eq!(claim["meta"]["profile"][0], CLAIM_INQUIRY_PROFILE);
    for item in claim["item"].as_array().expect("items") {
        let refs: Vec<&Value> = item["extension"]
            .as_array()
            .expect("extensions")
            .iter()
            .filter(|e| e["url"] == EXT_ADMINISTRATION_REFERENCE_NUMBER)
            .collect();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0]["valueString"], "PA-12345678");
    }
    // Same patient resource, same GUID as in the original request.
    let request = request_bundle(&case, "req-5", SUBMITTER).to_value();
    assert_eq!(claim["patient"], claim_of(&request)["patient"]);
    assert_ne!(
        bundle["entry"][0]["fullUrl"],
        request["entry"][0]["fullUrl"]
    );
    // The payer simulator answers an inquiry like a request.
    let review = review_from_bundle(&bundle).expect("review");
    assert_eq!(review.procedures.len(), 2);
}

#[test]
fn the_research_request_example_reads_as_a_review_case_once_its_document_has_a_size_and_hash() {
    // The published example sends its document inline without a size or hash: this payer
    // refuses that, naming the document.
    let published = fixture(REQUEST);
    assert_eq!(
        review_from_bundle(&published),
        Err("supportingInfo 1 (clinical note): attachment 1: data without a size".to_owned())
    );
    let mut bundle = published;
    for entry in bundle["entry"].as_array_mut().expect("entries") {
        if entry["resource"]["resourceType"] == "DocumentReference" {
            let attachment = &mut entry["resource"]["content"][0]["attachment"];
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(attachment["data"].as_str().expect("data"))
                .expect("base64");
            attachment["size"] = json!(bytes.len());
            attachment["hash"] = json!(base64::engine::general_purpose::STANDARD.encode(
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes)
            ));
        }
    }
    let review = review_from_bundle(&bundle).expect("reads");
    assert_eq!(review.member_id, "12345678901");
    assert_eq!(
        review.requested_on,
        NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
    );
    assert_eq!(review.procedures.len(), 1);
    assert_eq!(review.procedures[0].code.as_str(), "27447");
    assert_eq!(review.clinical_notes, 1);
    assert!(!review.appeal);
}

/// Removes or retypes every element of the example responses in turn: any result is fine,
/// a panic is not.
#[test]
fn any_damage_to_a_response_gives_a_result_not_a_panic() {
    fn paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    here.push(k.clone());
                    out.push(here.clone());
                    paths(x, here, out);
                    here.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    here.push(i.to_string());
                    out.push(here.clone());
                    paths(x, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    fn at<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
        path.iter().try_fold(v, |v, key| match v {
            Value::Object(m) => m.get_mut(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        })
    }
    for text in [APPROVED, DENIED, PENDED] {
        let original = fixture(text);
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for path in all {
            for replacement in [Value::Null, json!("x"), json!(-1), json!([]), json!({})] {
                let mut damaged = original.clone();
                if let Some(slot) = at(&mut damaged, &path) {
                    *slot = replacement;
                }
                let _ = parse_response(&damaged);
                let _ = review_from_bundle(&damaged);
            }
        }
    }
}

#[test]
fn a_request_without_what_the_payer_needs_is_refused_by_name() {
    let case = decode_value(&base());
    let good = request_bundle(&case, "req-6", SUBMITTER).to_value();

    assert_eq!(
        review_from_bundle(&json!({"resourceType": "Bundle", "entry": []})),
        Err("the bundle holds no Claim".to_owned())
    );
    assert!(review_from_bundle(&json!([])).is_err());

    let mut no_member = good.clone();
    for e in no_member["entry"].as_array_mut().expect("entries") {
        if let Some(r) = e["resource"].as_object_mut() {
            r.remove("identifier");
        }
    }
    let err = review_from_bundle(&no_member).expect_err("no member id");
    assert!(err.contains("member id"), "{err}");
    assert!(!err.contains("ACM123456789"), "{err}");

    let mut no_items = good.clone();
    no_items["entry"][0]["resource"]
        .as_object_mut()
        .expect("claim")
        .remove("item");
    assert_eq!(
        review_from_bundle(&no_items),
        Err("the Claim has no items".to_owned())
    );

    let mut dangling = good;
    dangling["entry"]
        .as_array_mut()
        .expect("entries")
        .retain(|e| e["resource"]["resourceType"] != "DocumentReference");
    let err = review_from_bundle(&dangling).expect_err("dangling reference");
    assert!(err.contains("supportingInfo 1"), "{err}");
}

#[test]
fn the_response_echoes_the_request_identifiers_and_parties() {
    let codes = CodeTable::embedded().expect("codes");
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get("default").expect("policy");
    let case = decode_value(&appeal_base());
    let request = request_bundle(&case, "req-7", SUBMITTER).to_value();
    let review = review_from_bundle(&request).expect("review");
    let resp = decide_review(&review, &policy, &codes, "req-7", Operation::Appeal, None)
        .expect("decision");
    let bundle = response_bundle(&request, &resp);
    assert_eq!(bundle["identifier"], request["identifier"]);
    let cr = claim_of(&bundle);
    assert_eq!(cr["resourceType"], "ClaimResponse");
    assert_eq!(
        cr["request"]["identifier"],
        claim_of(&request)["identifier"][0]
    );
    assert_eq!(cr["patient"], claim_of(&request)["patient"]);
    assert_eq!(cr["requestor"], claim_of(&request)["provider"]);
    assert_eq!(cr["outcome"], "complete");
    assert_eq!(bundle["entry"].as_array().expect("entries").len(), 4);
    let review_action = &cr["item"][0]["adjudication"][0]["extension"][0];
    assert_eq!(review_action["url"], EXT_REVIEW_ACTION);
    assert_eq!(
        review_action["extension"][0]["valueCodeableConcept"]["coding"][0]["system"],
        X12_306_SYSTEM
    );
    assert_eq!(
        serde_json::to_vec(&bundle).expect("a"),
        serde_json::to_vec(&response_bundle(&request, &resp)).expect("b")
    );
}

#[test]
fn the_bundle_rules_name_what_a_damaged_bundle_breaks() {
    let case = decode_value(&base());
    let good = request_bundle(&case, "req-9", SUBMITTER).to_value();
    assert_eq!(request_violations(&good).0, Vec::<String>::new());
    let broken = |f: fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        request_violations(&b).0
    };
    fn claim(b: &mut Value) -> &mut Value {
        &mut b["entry"][0]["resource"]
    }
    type Damage = fn(&mut Value);
    let cases: [(&str, Damage); 8] = [
        ("Bundle.timestamp", |b| b["timestamp"] = json!("")),
        ("Claim.use", |b| claim(b)["use"] = json!("claim")),
        ("exactly one focal", |b| {
            claim(b)["insurance"][0]["focal"] = json!(false)
        }),
        ("written with its dot", |b| {
            claim(b)["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] =
                json!("H02822")
        }),
        ("PASTempCodes", |b| {
            claim(b)["supportingInfo"][0]["category"]["coding"][0]["code"] = json!("other")
        }),
        ("X12 1365", |b| {
            claim(b)["item"][0]["category"]["coding"][0]["system"] = json!("x")
        }),
        ("diagnosisSequence points to no entry", |b| {
            claim(b)["item"][0]["diagnosisSequence"] = json!([9])
        }),
        ("resolves to no entry", |b| {
            claim(b)["patient"]["reference"] = json!("urn:uuid:0")
        }),
    ];
    for (what, damage) in cases {
        let errors = broken(damage);
        assert!(
            errors.iter().any(|e| e.contains(what)),
            "{what}: {errors:?}"
        );
    }
    let mut npi = good.clone();
    for e in npi["entry"].as_array_mut().expect("entries") {
        for id in e["resource"]["identifier"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if id["system"] == NPI_SYSTEM {
                id["value"] = json!("1234567890");
            }
        }
    }
    let (errors, warnings) = request_violations(&npi);
    assert!(
        errors.is_empty() && warnings.iter().any(|w| w.contains("check digit")),
        "{warnings:?}"
    );

    let codes = CodeTable::embedded().expect("codes");
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get("default").expect("policy");
    let review = review_from_bundle(&good).expect("review");
    let resp = decide_review(&review, &policy, &codes, "req-9", Operation::Submit, None)
        .expect("decision");
    let answer = response_bundle(&good, &resp);
    assert_eq!(response_violations(&answer), Vec::<String>::new());
    let mut wrong = answer.clone();
    wrong["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"][0]
        ["url"] = json!("code");
    let errors = response_violations(&wrong);
    assert!(
        errors.iter().any(|e| e.contains("reviewActionCode")),
        "{errors:?}"
    );
    let mut no_request = answer;
    no_request["entry"][0]["resource"]
        .as_object_mut()
        .expect("claim response")
        .remove("request");
    let errors = response_violations(&no_request);
    assert!(
        errors.iter().any(|e| e.contains("ClaimResponse.request")),
        "{errors:?}"
    );
}
