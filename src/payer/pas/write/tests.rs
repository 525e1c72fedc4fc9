//! The request writer against the PAS profiles: one test per element it must get right.

use serde_json::{json, Value};

use super::*;
use crate::rules::testing::{appeal_base, base, decode_value};

const SUBMITTER: &str = "1234567893";

fn claim(bundle: &Value) -> &Value {
    &bundle["entry"][0]["resource"]
}

/// The entry a reference in the bundle points to.
fn resolve<'a>(bundle: &'a Value, reference: &Value) -> &'a Value {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["fullUrl"] == reference["reference"])
        .map_or(&Value::Null, |e| &e["resource"])
}

fn extension<'a>(element: &'a Value, url: &str) -> Vec<&'a Value> {
    element["extension"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["url"] == url).collect())
        .unwrap_or_default()
}

fn original() -> OriginalRequest<'static> {
    OriginalRequest {
        request_identifier: "req-original",
        payer_reference: "PA-555",
    }
}

fn resources_of<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

#[test]
fn the_principal_diagnosis_is_typed_with_pas_temp_codes() {
    let case = decode_value(&base());
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    assert_eq!(
        claim(&bundle)["diagnosis"][0]["type"][0]["coding"][0],
        json!({"system": PAS_TEMP_CODES, "code": "principal"})
    );
    assert!(claim(&bundle)["diagnosis"][1].get("type").is_none());
}

#[test]
fn modifiers_e1_to_e4_and_other_letters_go_under_hcpcs_and_numeric_ones_under_cpt() {
    let mut v = base();
    v["service"]["procedures"][0]["modifiers"] = json!(["E1", "RT", "59", "25", "XS"]);
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let systems: Vec<(&str, &str)> = claim(&bundle)["item"][0]["modifier"]
        .as_array()
        .expect("modifiers")
        .iter()
        .map(|m| {
            let c = &m["coding"][0];
            (
                c["code"].as_str().expect("code"),
                c["system"].as_str().expect("system"),
            )
        })
        .collect();
    assert_eq!(
        systems,
        [
            ("E1", HCPCS_SYSTEM),
            ("RT", HCPCS_SYSTEM),
            ("59", CPT_SYSTEM),
            ("25", CPT_SYSTEM),
            ("XS", HCPCS_SYSTEM)
        ]
    );
}

#[test]
fn a_lines_quantity_has_a_unit_and_an_x12_code() {
    let case = decode_value(&base());
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let expected = json!({"value": 1, "unit": "Units", "system": X12_673_SYSTEM, "code": "FL"});
    assert_eq!(claim(&bundle)["item"][0]["quantity"], expected);
    let service = resources_of(&bundle, "ServiceRequest");
    assert_eq!(service[0]["quantityQuantity"], expected);
}

#[test]
fn a_submission_and_an_inquiry_claim_each_have_exactly_one_identifier() {
    let case = decode_value(&base());
    let submit = request_bundle(&case, "req-1", SUBMITTER).to_value();
    assert_eq!(
        claim(&submit)["identifier"],
        json!([{"system": "urn:trnorg:1234567893", "value": "req-1"}])
    );
    let at = DateTime::from_timestamp(1_796_000_000, 0).expect("time");
    let inquiry = inquiry_bundle(&case, "req-1", SUBMITTER, "PA-1", 2, at).to_value();
    assert_eq!(
        claim(&inquiry)["identifier"],
        json!([{"system": "urn:trnorg:1234567893", "value": "req-1-inq-2"}])
    );
}

#[test]
fn an_inquiry_is_stamped_when_assembled_and_asks_about_the_planned_date() {
    let case = decode_value(&base());
    let at = DateTime::from_timestamp(1_796_000_000, 0).expect("time");
    let inquiry = inquiry_bundle(&case, "req-1", SUBMITTER, "PA-1", 1, at).to_value();
    let stamp = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    assert_eq!(inquiry["timestamp"], json!(stamp));
    assert_eq!(claim(&inquiry)["created"], json!(stamp));
    assert_eq!(
        claim(&inquiry)["billablePeriod"],
        json!({"start": "2026-12-10", "end": "2026-12-10"})
    );
    // A submission keeps the event's time, so a resend is byte-identical.
    let submit = request_bundle(&case, "req-1", SUBMITTER).to_value();
    assert_eq!(submit["timestamp"], "2026-11-20T14:03:00Z");
    assert!(claim(&submit).get("billablePeriod").is_none());
    assert!(resources_of(&inquiry, "ServiceRequest").is_empty());
}

#[test]
fn an_expedited_case_asks_for_urgent_review_and_a_standard_one_for_elective() {
    let level = |urgency: &str| {
        let mut v = base();
        v["urgency"] = json!(urgency);
        let case = decode_value(&v);
        let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
        let ext = extension(claim(&bundle), EXT_LEVEL_OF_SERVICE);
        assert_eq!(ext.len(), 1);
        assert_eq!(
            ext[0]["valueCodeableConcept"]["coding"][0]["system"],
            X12_1338_SYSTEM
        );
        (
            ext[0]["valueCodeableConcept"]["coding"][0]["code"].clone(),
            claim(&bundle)["priority"]["coding"][0]["code"].clone(),
        )
    };
    assert_eq!(level("expedited"), (json!("U"), json!("stat")));
    assert_eq!(level("standard"), (json!("E"), json!("normal")));
}

#[test]
fn an_appeal_goes_with_certification_type_2_and_the_denied_requests_reference() {
    let case = decode_value(&appeal_base());
    let bundle = request_bundle(&case, "req-2", SUBMITTER).to_value();
    let item = &claim(&bundle)["item"][0];
    let cert = extension(item, EXT_CERTIFICATION_TYPE);
    assert_eq!(
        cert[0]["valueCodeableConcept"]["coding"][0]["code"],
        json!("2")
    );
    let reference = extension(item, EXT_ADMINISTRATION_REFERENCE_NUMBER);
    assert_eq!(reference[0]["valueString"], "PA-98765");
    // The appeal text still travels as a message.
    let texts: Vec<&str> = claim(&bundle)["supportingInfo"]
        .as_array()
        .expect("info")
        .iter()
        .filter_map(|i| i["valueString"].as_str())
        .collect();
    assert!(texts.iter().any(|t| t.starts_with(APPEAL_PREFIX)));
    // The boundary's original request wins over the case's own reference.
    let named = request_bundle(&case, "req-2", SUBMITTER)
        .with_appealed(Some(original()))
        .to_value();
    let reference = extension(
        &claim(&named)["item"][0],
        EXT_ADMINISTRATION_REFERENCE_NUMBER,
    );
    assert_eq!(reference[0]["valueString"], "PA-555");
}

#[test]
fn an_expedited_appeal_goes_with_certification_type_1_and_an_urgent_level_of_service() {
    let mut v = appeal_base();
    v["urgency"] = json!("expedited");
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-2", SUBMITTER).to_value();
    let cert = extension(&claim(&bundle)["item"][0], EXT_CERTIFICATION_TYPE);
    assert_eq!(
        cert[0]["valueCodeableConcept"]["coding"][0]["code"],
        json!("1")
    );
    assert_eq!(extension(claim(&bundle), EXT_LEVEL_OF_SERVICE).len(), 1);
}

#[test]
fn a_submission_goes_as_initial_with_no_administration_reference() {
    let case = decode_value(&base());
    let bundle = request_bundle(&case, "req-1", SUBMITTER)
        .with_appealed(Some(original()))
        .to_value();
    let item = &claim(&bundle)["item"][0];
    let cert = extension(item, EXT_CERTIFICATION_TYPE);
    assert_eq!(
        cert[0]["valueCodeableConcept"]["coding"][0]["code"],
        json!("I")
    );
    assert!(extension(item, EXT_ADMINISTRATION_REFERENCE_NUMBER).is_empty());
}

#[test]
fn every_line_has_a_trace_number_and_a_service_request_of_its_own() {
    let mut v = base();
    v["service"]["procedures"] = json!([
        {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
        {"code": "11440", "system": "CPT", "units": 2}
    ]);
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    for (i, item) in claim(&bundle)["item"]
        .as_array()
        .expect("items")
        .iter()
        .enumerate()
    {
        let trace = extension(item, EXT_ITEM_TRACE_NUMBER);
        assert_eq!(
            trace[0]["valueIdentifier"],
            json!({"system": "urn:trnorg:1234567893", "value": format!("req-1-{}", i + 1)})
        );
        let service = extension(item, EXT_REQUESTED_SERVICE);
        let request = resolve(&bundle, &service[0]["valueReference"]);
        assert_eq!(request["resourceType"], "ServiceRequest");
        assert_eq!(request["status"], "active");
        assert_eq!(request["intent"], "order");
        assert_eq!(request["code"], item["productOrService"]);
        assert_eq!(request["subject"], claim(&bundle)["patient"]);
        assert_eq!(
            request["occurrenceTiming"],
            json!({"event": ["2026-12-10"]})
        );
        assert_eq!(
            resolve(&bundle, &request["requester"])["resourceType"],
            "PractitionerRole"
        );
    }
}

#[test]
fn the_patient_event_carries_the_planned_date() {
    let case = decode_value(&base());
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let events: Vec<&Value> = claim(&bundle)["supportingInfo"]
        .as_array()
        .expect("info")
        .iter()
        .filter(|i| i["category"]["coding"][0]["code"] == "patientEvent")
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["timingDate"], "2026-12-10");
    assert!(events[0].get("valueString").is_none());
}

#[test]
fn the_rendering_practitioner_is_named_by_npi_in_a_role_of_the_requesting_organization() {
    let mut v = base();
    v["provider"]["organization_npi"] = json!("1245319599");
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let care = &claim(&bundle)["careTeam"][0];
    assert_eq!(
        care["role"]["coding"][0],
        json!({"system": X12_98_SYSTEM, "code": "SJ", "display": "Service Provider"})
    );
    assert_eq!(care["qualification"]["coding"][0]["code"], "207N00000X");
    let role = resolve(&bundle, &care["provider"]);
    assert_eq!(role["meta"]["profile"][0], PRACTITIONER_ROLE_PROFILE);
    let practitioner = resolve(&bundle, &role["practitioner"]);
    assert_eq!(practitioner["identifier"][0]["value"], "1234567893");
    assert_eq!(
        practitioner["name"][0],
        json!({"text": "Riverside Dermatology", "family": "Dermatology"})
    );
    let organization = resolve(&bundle, &role["organization"]);
    assert_eq!(organization["identifier"][0]["value"], "1245319599");
    assert_eq!(role["organization"], claim(&bundle)["provider"]);
}

#[test]
fn a_dependants_coverage_names_its_subscriber() {
    let mut v = base();
    v["coverage"]["relationship"] = json!("child");
    v["coverage"]["subscriber"] = json!({"member_id": "ACM000111", "family_name": "Doe",
        "given_names": ["John"], "birth_date": "1970-01-05", "sex": "male"});
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let coverage = resolve(&bundle, &claim(&bundle)["insurance"][0]["coverage"]);
    assert_eq!(coverage["subscriberId"], "ACM000111");
    let subscriber = resolve(&bundle, &coverage["subscriber"]);
    assert_eq!(subscriber["meta"]["profile"][0], SUBSCRIBER_PROFILE);
    assert_eq!(subscriber["identifier"][0]["value"], "ACM000111");
    assert_eq!(
        subscriber["name"][0],
        json!({"family": "Doe", "given": ["John"]})
    );
    assert_eq!(subscriber["gender"], "male");
    assert_eq!(subscriber["birthDate"], "1970-01-05");
    assert_ne!(coverage["subscriber"], coverage["beneficiary"]);
}

#[test]
fn a_dependants_subscriber_without_a_member_id_goes_without_one() {
    let mut v = base();
    v["coverage"]["relationship"] = json!("spouse");
    v["coverage"]["subscriber"] = json!({"family_name": "Doe"});
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let coverage = resolve(&bundle, &claim(&bundle)["insurance"][0]["coverage"]);
    assert!(coverage.get("subscriberId").is_none());
    let subscriber = resolve(&bundle, &coverage["subscriber"]);
    assert!(subscriber.get("identifier").is_none());
    assert!(subscriber.get("birthDate").is_none());
    assert_eq!(subscriber["gender"], "unknown");
}

#[test]
fn a_self_insured_patient_is_their_own_subscriber() {
    let mut v = base();
    v["coverage"]["subscriber"] = json!({"family_name": "Someone"});
    let case = decode_value(&v);
    let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
    let coverage = resolve(&bundle, &claim(&bundle)["insurance"][0]["coverage"]);
    assert!(coverage.get("subscriber").is_none());
    assert_eq!(coverage["subscriberId"], "ACM123456789");
    assert_eq!(resources_of(&bundle, "Patient").len(), 1);
}

#[test]
fn the_payers_settings_name_the_insurer_the_member_ids_and_the_transmission() {
    let case = decode_value(&base());
    let identity = PayerIdentity {
        payer_name: Some("Acme Health Plan".into()),
        payer_identifier: Some("60054".into()),
        payer_identifier_system: Some("urn:oid:2.16.840.1.113883.6.300".into()),
        member_id_system: Some("https://acme.example/fhir/member-id".into()),
        interchange_sender_id: Some("RIVERSIDE".into()),
        interchange_receiver_id: Some("ACME".into()),
        application_sender_code: Some("RIVAPP".into()),
        application_receiver_code: Some("ACMEAPP".into()),
    };
    let bundle = request_bundle(&case, "req-1", SUBMITTER)
        .with_identity(&identity)
        .to_value();
    let insurer = resolve(&bundle, &claim(&bundle)["insurer"]);
    assert_eq!(insurer["name"], "Acme Health Plan");
    assert_eq!(insurer["identifier"][0]["value"], "60054");
    assert_eq!(
        insurer["identifier"][0]["system"],
        "urn:oid:2.16.840.1.113883.6.300"
    );
    let patient = resolve(&bundle, &claim(&bundle)["patient"]);
    assert_eq!(
        patient["identifier"][0]["system"],
        "https://acme.example/fhir/member-id"
    );
    let transmission = extension(claim(&bundle), EXT_TRANSMISSION_IDENTIFIERS);
    assert_eq!(
        transmission[0]["extension"],
        json!([
            {"url": "applicationSenderCode", "valueString": "RIVAPP"},
            {"url": "applicationReceiverCode", "valueString": "ACMEAPP"},
            {"url": "interchangeSenderID", "valueString": "RIVERSIDE"},
            {"url": "interchangeReceiverID", "valueString": "ACME"}
        ])
    );
    // Unset, the worker's stand-ins: the case's payer id, and no transmission identifiers.
    let plain = request_bundle(&case, "req-1", SUBMITTER)
        .with_identity(&PayerIdentity::default())
        .to_value();
    let insurer = resolve(&plain, &claim(&plain)["insurer"]);
    assert_eq!(insurer["name"], "acme-health");
    assert!(extension(claim(&plain), EXT_TRANSMISSION_IDENTIFIERS).is_empty());
    assert_eq!(
        PayerIdentity::default().missing(),
        [
            "payer_name",
            "payer_identifier",
            "payer_identifier_system",
            "member_id_system"
        ]
    );
    assert!(identity.missing().is_empty());
}

#[test]
fn a_cancel_marks_every_line_cancelled_and_names_the_original_request() {
    let mut v = base();
    v["service"]["procedures"] = json!([
        {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
        {"code": "11440", "system": "CPT", "units": 2}
    ]);
    let case = decode_value(&v);
    let bundle =
        update_bundle(&case, "req-9", SUBMITTER, original(), ClaimChange::Cancel).to_value();
    let claim = claim(&bundle);
    assert_eq!(claim["meta"]["profile"][0], CLAIM_UPDATE_PROFILE);
    assert_eq!(bundle["meta"]["profile"][0], REQUEST_BUNDLE_PROFILE);
    assert_eq!(
        claim["identifier"],
        json!([{"system": "urn:trnorg:1234567893", "value": "req-9"}])
    );
    assert_eq!(
        claim["related"],
        json!([{
            "claim": {"identifier": {"system": "urn:trnorg:1234567893", "value": "req-original"}},
            "relationship": {"coding": [{"system": RELATED_CLAIM_RELATIONSHIP_SYSTEM, "code": "prior"}]}
        }])
    );
    let whole = extension(claim, EXT_CERTIFICATION_TYPE);
    assert_eq!(
        whole[0]["valueCodeableConcept"]["coding"][0]["code"],
        json!("3")
    );
    let items = claim["item"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for item in items {
        let cert = extension(item, EXT_CERTIFICATION_TYPE);
        assert_eq!(
            cert[0]["valueCodeableConcept"]["coding"][0]["code"],
            json!("3")
        );
        assert_eq!(
            item["modifierExtension"],
            json!([{"url": EXT_INFO_CANCELLED, "valueBoolean": true}])
        );
        assert_eq!(extension(item, EXT_INFO_CHANGED)[0]["valueCode"], "changed");
        assert_eq!(
            extension(item, EXT_ADMINISTRATION_REFERENCE_NUMBER)[0]["valueString"],
            "PA-555"
        );
    }
    // A cancellation repeats no documents.
    assert!(resources_of(&bundle, "DocumentReference").is_empty());
}

#[test]
fn an_update_flags_every_line_and_entry_changed_and_names_the_original_request() {
    let case = decode_value(&base());
    let bundle =
        update_bundle(&case, "req-9", SUBMITTER, original(), ClaimChange::Update).to_value();
    let claim = claim(&bundle);
    assert_eq!(claim["meta"]["profile"][0], CLAIM_UPDATE_PROFILE);
    assert_eq!(
        claim["related"][0]["claim"]["identifier"]["value"],
        "req-original"
    );
    assert!(extension(claim, EXT_CERTIFICATION_TYPE).is_empty());
    let item = &claim["item"][0];
    assert!(item.get("modifierExtension").is_none());
    assert_eq!(extension(item, EXT_INFO_CHANGED)[0]["valueCode"], "changed");
    assert_eq!(
        extension(item, EXT_CERTIFICATION_TYPE)[0]["valueCodeableConcept"]["coding"][0]["code"],
        "I"
    );
    for info in claim["supportingInfo"].as_array().expect("info") {
        assert_eq!(extension(info, EXT_INFO_CHANGED)[0]["valueCode"], "changed");
    }
    assert!(!resources_of(&bundle, "DocumentReference").is_empty());
    // Deterministic, as a submission.
    let once = update_bundle(&case, "req-9", SUBMITTER, original(), ClaimChange::Update).to_json();
    let again = update_bundle(&case, "req-9", SUBMITTER, original(), ClaimChange::Update).to_json();
    assert!(once == again, "an update is byte-identical on resend");
}

#[test]
fn every_reference_of_every_kind_of_request_resolves_in_its_bundle() {
    let case = decode_value(&appeal_base());
    let at = DateTime::from_timestamp(1_796_000_000, 0).expect("time");
    for bundle in [
        request_bundle(&case, "req-1", SUBMITTER).to_value(),
        inquiry_bundle(&case, "req-1", SUBMITTER, "PA-1", 1, at).to_value(),
        update_bundle(&case, "req-3", SUBMITTER, original(), ClaimChange::Update).to_value(),
        update_bundle(&case, "req-4", SUBMITTER, original(), ClaimChange::Cancel).to_value(),
    ] {
        let mut references = Vec::new();
        collect_references(&bundle, &mut references);
        for r in references {
            assert!(
                !resolve(&bundle, &json!({"reference": r})).is_null(),
                "{r} resolves"
            );
        }
    }
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("reference") {
                out.push(r.clone());
            }
            m.values().for_each(|x| collect_references(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}
