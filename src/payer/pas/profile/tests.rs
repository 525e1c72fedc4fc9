use serde_json::{json, Value};

use super::fixture::{self, ROLE_URL};
use super::{check, check_subscription, constraint_counts, Violation};

/// Asserts that a violation with this rule and source is reported, and returns it.
fn found(violations: &[Violation], rule: &str, source: &str) -> Violation {
    violations
        .iter()
        .find(|v| v.rule == rule && v.source == source)
        .cloned()
        .unwrap_or_else(|| panic!("no {rule} from {source} in {violations:#?}"))
}

fn claim(bundle: &mut Value) -> &mut Value {
    &mut bundle["entry"][0]["resource"]
}

fn entry_of<'a>(bundle: &'a mut Value, kind: &str) -> &'a mut Value {
    let entries = bundle["entry"].as_array_mut().expect("entries");
    let entry = entries
        .iter_mut()
        .find(|e| e["resource"]["resourceType"] == kind)
        .expect("entry of that type");
    &mut entry["resource"]
}

#[test]
fn a_minimal_request_bundle_built_from_the_profiles_passes() {
    super::assert_conformant(&fixture::request());
}

#[test]
fn a_minimal_inquiry_bundle_built_from_the_profiles_passes() {
    super::assert_conformant(&fixture::inquiry());
}

#[test]
fn a_diagnosis_type_from_ex_diagnosistype_breaks_the_required_binding() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["diagnosis"][0]["type"] = json!([{ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype", "code": "principal"
    }] }]);
    let v = found(&check(&bundle), "required-binding", "Claim.fsh:77");
    assert_eq!(v.profile, "PASClaim");
    assert_eq!(v.path, "Bundle.entry[0].resource.diagnosis[0].type[0]");
}

#[test]
fn a_quantity_without_unit_or_code_breaks_prof_2() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["item"][0]["quantity"] = json!({ "value": 1 });
    let v = found(&check(&bundle), "prof-2", "Quantity.fsh:1");
    assert_eq!(v.path, "Bundle.entry[0].resource.item[0].quantity");
}

#[test]
fn an_inquiry_claim_with_two_identifiers_breaks_its_cardinality() {
    let mut bundle = fixture::inquiry();
    claim(&mut bundle)["identifier"] = json!([
        { "system": "urn:trnorg:1234567893", "value": "TRN-0001-A-INQ-1" },
        { "system": "urn:trnorg:1234567893", "value": "TRN-0001-A" }
    ]);
    let v = found(&check(&bundle), "cardinality", "Claim.fsh:282");
    assert_eq!(v.profile, "PASClaimInquiry");
}

#[test]
fn a_long_base64_second_identifier_cannot_be_a_trace_number() {
    let mut bundle = fixture::request();
    let base64 = "eyJjYXNlIjoiZXZlbnQiLCJvY2N1cnJlZF9hdCI6IjIwMjYtMTEtMzBUMTA6MDA6MDBaIiwicmVxdWVzdCI6ImFiYyJ9eyJjYXNlIjoiZXZlbnQifQ==";
    assert!(base64.len() > 100);
    claim(&mut bundle)["identifier"]
        .as_array_mut()
        .expect("identifiers")
        .push(json!({ "system": "urn:trnorg:1234567893", "value": base64 }));
    let violations = check(&bundle);
    let v = found(&violations, "trn-value", "Claim.fsh:20");
    assert_eq!(v.path, "Bundle.entry[0].resource.identifier[1].value");
    assert!(
        !v.message.contains(base64) && !violations.iter().any(|v| v.message.contains(base64)),
        "a violation never repeats a value of the bundle"
    );
}

#[test]
fn a_hcpcs_modifier_under_the_cpt_system_is_reported() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["item"][0]["modifier"] = json!([{ "coding": [{
        "system": "http://www.ama-assn.org/go/cpt", "code": "E1"
    }] }]);
    let v = found(&check(&bundle), "modifier-system", "Terminology.fsh:176");
    assert_eq!(
        v.path,
        "Bundle.entry[0].resource.item[0].modifier[0].coding[0]"
    );
}

#[test]
fn an_appeal_sent_with_certification_type_initial_is_reported() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["supportingInfo"][1]["valueString"] = json!("Appeal of a denied request");
    let violations = check(&bundle);
    found(
        &violations,
        "appeal-certification-type",
        "conformance.md:35 conf-15",
    );
    found(&violations, "appeal-reference", "conformance.md:35 conf-15");
}

#[test]
fn an_appeal_coded_as_one_with_its_reference_and_level_of_service_passes() {
    let mut bundle = fixture::request();
    let item = &mut claim(&mut bundle)["item"][0];
    item["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = json!("1");
    item["extension"].as_array_mut().expect("extensions").push(json!({
        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-administrationReferenceNumber",
        "valueString": "REF12345"
    }));
    super::assert_conformant(&bundle);
}

#[test]
fn an_immediate_appeal_without_level_of_service_breaks_immediate_level_of_care() {
    let mut bundle = fixture::request();
    let claim = claim(&mut bundle);
    claim.as_object_mut().expect("claim").remove("extension");
    claim["item"][0]["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = json!("1");
    found(&check(&bundle), "ImmediateLevelOfCare", "Claim.fsh:269");
}

#[test]
fn priority_stat_without_level_of_service_urgent_is_reported() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["priority"]["coding"][0]["code"] = json!("stat");
    found(
        &check(&bundle),
        "stat-level-of-service",
        "conformance.md:35 conf-15",
    );
    claim(&mut bundle)["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = json!("U");
    super::assert_conformant(&bundle);
}

#[test]
fn an_insurer_identified_by_a_sender_invented_system_is_reported() {
    let mut bundle = fixture::request();
    bundle["entry"][3]["resource"]["identifier"][0]["system"] =
        json!("urn:preauth-worker:payer-id");
    let v = found(
        &check(&bundle),
        "sender-invented-system",
        "Organization.fsh:48",
    );
    assert_eq!(v.path, "Bundle.entry[3].resource.identifier[0].system");
}

#[test]
fn a_member_id_under_an_invented_system_is_reported() {
    let mut bundle = fixture::request();
    entry_of(&mut bundle, "Patient")["identifier"][0]["system"] =
        json!("urn:preauth-worker:member-id:acme-health");
    let v = found(
        &check(&bundle),
        "sender-invented-system",
        "specification.md:207 FHIR-49019",
    );
    assert_eq!(v.profile, "PASBeneficiary");
}

#[test]
fn a_dependants_coverage_without_subscriber_breaks_self_beneficiary() {
    let mut bundle = fixture::request();
    entry_of(&mut bundle, "Coverage")["relationship"] = json!({ "coding": [
        { "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "child" },
        { "system": "https://codesystem.x12.org/005010/1069", "code": "19" }
    ] });
    let v = found(&check(&bundle), "self-beneficiary", "Coverage.fsh:31");
    assert_eq!(v.profile, "PASCoverage");
    entry_of(&mut bundle, "Coverage")["subscriber"] =
        json!({ "reference": fixture::SUBSCRIBER_URL });
    bundle["entry"]
        .as_array_mut()
        .expect("entries")
        .push(fixture::subscriber_entry());
    super::assert_conformant(&bundle);
}

#[test]
fn a_care_team_member_without_role_is_reported() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["careTeam"][0]
        .as_object_mut()
        .expect("member")
        .remove("role");
    let v = found(&check(&bundle), "careteam-role", "Claim.fsh:55");
    assert_eq!(v.path, "Bundle.entry[0].resource.careTeam[0].role");
}

#[test]
fn a_care_team_of_the_requesting_organization_alone_names_no_practitioner() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["careTeam"][0]["provider"] = json!({ "reference": fixture::REQUESTOR_URL });
    found(&check(&bundle), "rendering-provider", "Claim.fsh:37");
}

#[test]
fn a_care_team_member_that_is_a_bare_practitioner_breaks_the_reference_target() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["careTeam"][0]["provider"] =
        json!({ "reference": fixture::PRACTITIONER_URL });
    let violations = check(&bundle);
    found(&violations, "reference-target", "Claim.fsh:37");
    assert!(violations.iter().all(|v| v.path != ROLE_URL));
}

#[test]
fn a_document_reference_with_url_and_no_data_is_reported() {
    let mut bundle = fixture::request();
    entry_of(&mut bundle, "DocumentReference")["content"][0]["attachment"] =
        json!({ "contentType": "image/jpeg", "url": "pm://attachments/photo-1" });
    let violations = check(&bundle);
    found(&violations, "cardinality", "Claim.fsh:247");
    let v = found(&violations, "cardinality", "Claim.fsh:248");
    assert_eq!(v.profile, "PASDocumentReference");
}

#[test]
fn a_bundle_whose_claim_is_not_first_breaks_claim_first() {
    let mut bundle = fixture::request();
    bundle["entry"].as_array_mut().expect("entries").swap(0, 1);
    let v = found(&check(&bundle), "ClaimFirst", "Bundle.fsh:6");
    assert_eq!(v.profile, "PASRequestBundle");
}

#[test]
fn a_full_url_that_is_not_a_urn_uuid_is_reported() {
    let mut bundle = fixture::request();
    bundle["entry"][8]["fullUrl"] = json!("DocumentReference/note-1");
    let violations = check(&bundle);
    let v = found(&violations, "fullurl-form", "specification.md:68 spec-16");
    assert_eq!(v.path, "Bundle.entry[8].fullUrl");
    found(
        &violations,
        "reference-resolves",
        "specification.md:68 spec-13",
    );
}

#[test]
fn a_bundle_without_identifier_breaks_its_cardinality() {
    let mut bundle = fixture::request();
    bundle.as_object_mut().expect("bundle").remove("identifier");
    let v = found(&check(&bundle), "cardinality", "Bundle.fsh:7");
    assert_eq!(v.path, "Bundle.identifier");
    let mut inquiry = fixture::inquiry();
    inquiry
        .as_object_mut()
        .expect("bundle")
        .remove("identifier");
    found(&check(&inquiry), "cardinality", "Bundle.fsh:30");
}

#[test]
fn a_document_with_data_and_no_content_type_breaks_att_1() {
    let mut bundle = fixture::request();
    entry_of(&mut bundle, "DocumentReference")["content"][0]["attachment"] =
        json!({ "data": "Tm90ZQ==" });
    found(&check(&bundle), "att-1", "Claim.fsh:243");
}

#[test]
fn a_service_date_that_is_not_a_full_date_breaks_full_date_rule() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["item"][0]["servicedDate"] = json!("2026-12");
    found(&check(&bundle), "FullDateRule", "Claim.fsh:121");
}

#[test]
fn a_claim_without_items_or_with_a_focal_false_insurance_is_reported() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["insurance"][0]["focal"] = json!(false);
    claim(&mut bundle)["item"] = json!([]);
    let violations = check(&bundle);
    found(&violations, "fixed-value", "Claim.fsh:80");
    found(&violations, "cardinality", "Claim.fsh:187");
}

#[test]
fn a_patient_name_without_family_or_given_breaks_us_core_6() {
    let mut bundle = fixture::request();
    entry_of(&mut bundle, "Patient")["name"] = json!([{ "text": "x" }]);
    found(&check(&bundle), "us-core-6", "Patient.fsh:2");
}

#[test]
fn a_reference_to_a_resource_outside_the_bundle_is_reported() {
    let mut bundle = fixture::request();
    claim(&mut bundle)["insurer"] = json!({ "reference": "Organization/elsewhere" });
    found(
        &check(&bundle),
        "reference-resolves",
        "specification.md:68 spec-13",
    );
}

#[test]
fn something_other_than_a_bundle_is_refused_without_panicking() {
    for body in [
        json!(null),
        json!([]),
        json!({ "resourceType": "Claim" }),
        json!("x"),
    ] {
        assert_eq!(check(&body)[0].rule, "resource-type");
    }
    let odd = json!({ "resourceType": "Bundle", "entry": [1, "x", null, { "resource": [] }] });
    assert!(!check(&odd).is_empty());
}

#[test]
fn a_conforming_subscription_passes_and_a_polling_style_one_does_not() {
    assert_eq!(check_subscription(&fixture::subscription()), vec![]);
    let mut s = fixture::subscription();
    s["channel"]["_payload"]["extension"][0]["valueCode"] = json!("id-only");
    s["channel"]["type"] = json!("websocket");
    s.as_object_mut().expect("subscription").remove("_criteria");
    let violations = check_subscription(&s);
    found(&violations, "payload-content", "ClaimOperation.fsh:75");
    found(&violations, "fixed-value", "ClaimOperation.fsh:73");
    found(
        &violations,
        "org-identifier-filter",
        "specification.md:252 spec-58",
    );
}

#[test]
fn every_profile_of_the_check_has_constraints() {
    let counts = constraint_counts();
    assert!(counts.len() >= 16);
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
}

#[test]
fn violations_map_to_structure_or_invariant_issue_codes() {
    let mut bundle = fixture::request();
    bundle.as_object_mut().expect("bundle").remove("identifier");
    claim(&mut bundle)["item"][0]["quantity"] = json!({ "value": 1 });
    let violations = check(&bundle);
    assert_eq!(
        found(&violations, "cardinality", "Bundle.fsh:7").issue_code(),
        "structure"
    );
    assert_eq!(
        found(&violations, "prof-2", "Quantity.fsh:1").issue_code(),
        "invariant"
    );
}

#[test]
fn the_operation_outcome_lists_each_violation_with_its_path_rule_and_source() {
    let mut bundle = fixture::request();
    bundle.as_object_mut().expect("bundle").remove("identifier");
    let outcome = super::operation_outcome(&check(&bundle));
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let issue = &outcome["issue"][0];
    assert_eq!(issue["code"], "structure");
    assert_eq!(issue["expression"][0], "Bundle.identifier");
    assert_eq!(
        issue["diagnostics"],
        "PASRequestBundle cardinality (Bundle.fsh:7)"
    );
}
