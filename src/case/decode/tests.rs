use super::*;
use crate::case::{identify, Unreadable};
use serde_json::{json, Value};

fn minimal() -> Value {
    json!({
        "schema": "preauth.case.v1",
        "event_id": "e-1",
        "case_id": "C-1",
        "kind": "submission",
        "occurred_at": "2026-11-20T14:03:00Z",
        "patient": {"id": "P-1", "family_name": "Doe", "birth_date": "1979-04-02"},
        "coverage": {"payer_id": "acme-health", "member_id": "M1"},
        "provider": {"npi": "1234567893", "name": "Clinic"},
        "service": {
            "planned_date": "2026-12-10",
            "procedures": [{"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1}],
            "diagnoses": [{"code": "H02.822", "primary": true}],
            "lesions": {"count": 1, "max_size_mm": 2.0, "site": "right lower lid margin"}
        },
        "documentation": {}
    })
}

fn decode_value(v: Value, key: Option<&str>) -> Result<CaseEvent, Vec<Finding>> {
    let bytes = serde_json::to_vec(&v).expect("serialize");
    let id = identify(&bytes).expect("identifiable");
    decode(&id, key)
}

fn paths(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}|{}", f.rule, f.path))
        .collect()
}

#[test]
fn minimal_event_decodes_with_defaults() {
    let ev = decode_value(minimal(), Some("case.submitted")).expect("decodes");
    assert_eq!(ev.urgency, Urgency::Standard);
    assert_eq!(ev.service.place_of_service, "11");
    assert_eq!(ev.patient.sex, Sex::Unknown);
    assert!(ev.documentation.indications.is_empty());
    assert_eq!(ev.service.procedures[0].units, 1);
}

#[test]
fn not_json_is_unidentifiable_with_reason_not_json() {
    let err = identify(b"{not json").expect_err("parked");
    assert_eq!(err.reason, Unreadable::NotJson);
    assert_eq!(err.reason.code(), "not-json");
}

#[test]
fn json_that_is_not_an_object_is_unidentifiable() {
    assert_eq!(
        identify(b"[1,2]").expect_err("array").reason,
        Unreadable::NotAnObject
    );
    assert_eq!(
        identify(b"\"x\"").expect_err("string").reason,
        Unreadable::NotAnObject
    );
}

#[test]
fn missing_or_unusable_ids_are_unidentifiable() {
    let cases: [(&[u8], Unreadable); 5] = [
        (br#"{"case_id":"C"}"#, Unreadable::NoEventId),
        (br#"{"event_id":"","case_id":"C"}"#, Unreadable::NoEventId),
        (br#"{"event_id":7,"case_id":"C"}"#, Unreadable::NoEventId),
        (br#"{"event_id":"e"}"#, Unreadable::NoCaseId),
        (br#"{"event_id":"e","case_id":"   "}"#, Unreadable::NoCaseId),
    ];
    for (body, reason) in cases {
        assert_eq!(identify(body).expect_err("parked").reason, reason);
    }
}

#[test]
fn zero_units_is_a_finding_with_the_exact_path() {
    let mut v = minimal();
    v["service"]["procedures"][0]["units"] = json!(0);
    let findings = decode_value(v, None).expect_err("rejected");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].path, "service.procedures[0].units");
    assert_eq!(findings[0].message, "expected a positive integer");
}

#[test]
fn a_whole_number_written_with_a_decimal_point_is_a_valid_count() {
    let mut v = minimal();
    v["service"]["procedures"][0]["units"] = json!(2.0);
    v["service"]["lesions"]["count"] = json!(3.0);
    let ev = decode_value(v.clone(), None).expect("decodes");
    assert_eq!(ev.service.procedures[0].units, 2);
    v["service"]["procedures"][0]["units"] = json!(1.5);
    assert!(decode_value(v, None).is_err());
}

#[test]
fn dates_are_written_yyyy_mm_dd_exactly_and_are_real_days() {
    for (text, ok) in [
        ("2028-02-29", true),
        ("0000-01-01", true),
        ("2026-02-29", false),
        ("2026-04-31", false),
        ("2026-13-01", false),
        ("2026-00-10", false),
        ("9999-12-31", true),
        ("+2026-1-01", false),
        ("2026-12- 1", false),
        (" 2026-12-1", false),
        ("-002-01-01", false),
    ] {
        let mut v = minimal();
        v["patient"]["birth_date"] = json!(text);
        assert_eq!(decode_value(v, None).is_ok(), ok, "{text}");
    }
}

#[test]
fn occurred_at_is_ascii_rfc_3339_with_its_offset() {
    for (text, ok) in [
        ("2026-11-20 14:03:00.5-05:00", true),
        ("2026-11-20t14:03:00z", true),
        ("2026-11-20T14:03:00\u{2212}05:00", false),
        ("2026-11-20T14:03:00", false),
    ] {
        let mut v = minimal();
        v["occurred_at"] = json!(text);
        assert_eq!(decode_value(v, None).is_ok(), ok, "{text}");
    }
}

#[test]
fn place_of_service_is_a_code_read_without_its_blanks() {
    let mut v = minimal();
    v["service"]["place_of_service"] = json!(" 22\u{a0}");
    let ev = decode_value(v, None).expect("decodes");
    assert_eq!(ev.service.place_of_service, "22");
}

#[test]
fn blank_given_names_count_as_not_sent() {
    let mut v = minimal();
    v["patient"]["given_names"] = json!(["Ann", "", "  "]);
    let ev = decode_value(v, None).expect("decodes");
    assert_eq!(ev.patient.given_names, vec!["Ann".to_owned()]);
}

#[test]
fn every_decoding_problem_is_reported_at_once() {
    let mut v = minimal();
    v["service"]["procedures"][0]["modifiers"] = json!(["E44"]);
    v["service"]["diagnoses"][0]["code"] = json!("HH2.822");
    v["provider"]["npi"] = json!("1234567890");
    v["patient"]["birth_date"] = json!("02/04/1979");
    v["urgency"] = json!("urgent");
    let findings = decode_value(v, None).expect_err("rejected");
    let got = paths(&findings);
    for want in [
        "FMT-MOD-01|service.procedures[0].modifiers[0]",
        "FMT-ICD-01|service.diagnoses[0].code",
        "FMT-NPI-01|provider.npi",
        "DEC-01|patient.birth_date",
        "DEC-01|urgency",
    ] {
        assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
    }
}

#[test]
fn decoding_messages_never_repeat_patient_values() {
    let mut v = minimal();
    v["patient"]["birth_date"] = json!("02/04/1979");
    v["patient"]["family_name"] = json!(42);
    let findings = decode_value(v, None).expect_err("rejected");
    for f in &findings {
        assert!(!f.message.contains("1979"), "{f:?}");
        assert!(!f.message.contains("42"), "{f:?}");
    }
}

#[test]
fn a_bad_code_is_reported_with_its_length_but_never_its_value() {
    let mut v = minimal();
    v["service"]["procedures"][0]["code"] = json!("ivan petrov 1950");
    v["service"]["procedures"][0]["modifiers"] = json!(["E4", "ivan"]);
    v["service"]["diagnoses"][0]["code"] = json!("IVAN-05-17");
    let findings = decode_value(v, None).expect_err("rejected");
    let got: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| (f.rule.as_str(), f.path.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "FMT-CPT-01",
                "service.procedures[0].code",
                "expected a CPT code (5 digits, or 4 digits followed by F, T or U); the value given has 16 characters"
            ),
            (
                "FMT-MOD-01",
                "service.procedures[0].modifiers[1]",
                "expected a two-character modifier (letters or digits); the value given has 4 characters"
            ),
            (
                "FMT-ICD-01",
                "service.diagnoses[0].code",
                "expected an ICD-10-CM code (letter, digit, letter or digit, then up to 4 more, dot optional after the third); the value given has 10 characters"
            ),
        ]
    );
    for f in &findings {
        let text = format!("{} {}", f.path, f.message).to_lowercase();
        for part in ["ivan", "petrov", "1950", "05-17"] {
            assert!(!text.contains(part), "{part} in {f:?}");
        }
    }
}

#[test]
fn a_foreign_schema_is_reported_without_its_name() {
    let mut v = minimal();
    v["schema"] = json!("patient ivan petrov");
    let findings = decode_value(v, None).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-02|schema"]);
    assert_eq!(
        findings[0].message,
        "unsupported schema: this worker accepts \"preauth.case.v1\" only"
    );
}

#[test]
fn a_routing_key_is_named_only_when_it_is_one_of_the_contracts() {
    let findings = decode_value(minimal(), Some("case.appeal")).expect_err("rejected");
    assert_eq!(
        findings[0].message,
        "kind \"submission\" arrived with routing key \"case.appeal\"; expected \"case.submitted\""
    );
    let findings = decode_value(minimal(), Some("case.ivan-petrov")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
    assert!(!findings[0].message.contains("ivan"), "{:?}", findings[0]);
}

#[test]
fn a_body_that_is_not_json_is_described_by_its_position_only() {
    for body in [
        &br#"{"note": "ivan petrov" "dob": 1950}"#[..],
        br#"{"note": "ivan petrov"#,
        br#"{"note": "ivan petrov\q"}"#,
        br#"["ivan petrov"] x"#,
    ] {
        let err = identify(body).expect_err("not JSON");
        assert_eq!(err.reason, Unreadable::NotJson);
        assert!(err.detail.starts_with("body is not JSON: "), "{err:?}");
        assert!(err.detail.contains("line 1 column"), "{err:?}");
        assert!(!err.detail.contains("ivan"), "{err:?}");
    }
}

#[test]
fn identified_debug_shows_the_ids_but_not_the_body() {
    let mut v = minimal();
    v["patient"]["family_name"] = json!("Petrov");
    let bytes = serde_json::to_vec(&v).expect("serialize");
    let id = identify(&bytes).expect("identifiable");
    let shown = format!("{id:?} {id:#?}");
    assert!(shown.contains("C-1") && shown.contains("e-1"), "{shown}");
    assert!(!shown.contains("Petrov"), "{shown}");
}

#[test]
fn appeal_kind_without_an_appeal_object_is_a_finding() {
    let mut v = minimal();
    v["kind"] = json!("appeal");
    let findings = decode_value(v, Some("case.appeal")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-04|appeal"]);
}

#[test]
fn unsupported_schema_is_a_single_finding() {
    let mut v = minimal();
    v["schema"] = json!("preauth.case.v9");
    v["service"] = json!("garbage");
    let findings = decode_value(v, None).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-02|schema"]);
}

#[test]
fn routing_key_that_contradicts_kind_is_a_finding() {
    let findings = decode_value(minimal(), Some("case.appeal")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    let mut v = minimal();
    v["new_optional_field"] = json!({"anything": [1, 2, 3]});
    v["service"]["procedures"][0]["note"] = json!("extra");
    assert!(decode_value(v, None).is_ok());
}

#[test]
fn unknown_indication_words_decode_as_unknown() {
    let mut v = minimal();
    v["documentation"]["indications"] = json!(["pain", "Irritated"]);
    let ev = decode_value(v, None).expect("decodes");
    assert_eq!(
        ev.documentation.indications,
        vec![Indication::Pain, Indication::Unknown("irritated".into())]
    );
}

#[test]
fn deeply_wrong_types_never_panic() {
    for (parent, key, val) in [
        ("/service", "procedures", json!({"a": 1})),
        ("/service", "procedures", json!([])),
        ("/service", "procedures", json!(["67850"])),
        (
            "/service",
            "lesions",
            json!({"count": -3, "max_size_mm": "big", "site": 5}),
        ),
        ("", "documentation", json!([])),
        (
            "/documentation",
            "clinical_notes",
            json!([null, 3, {"id": 1}]),
        ),
        ("/documentation", "letter_of_medical_necessity", json!(true)),
        ("", "occurred_at", json!(1_700_000_000)),
        ("", "coverage", json!(null)),
    ] {
        let mut v = minimal();
        let slot = v
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect(parent);
        slot.insert(key.to_owned(), val);
        let ptr = format!("{parent}/{key}");
        let findings = decode_value(v, None).expect_err(&ptr);
        assert!(!findings.is_empty(), "{ptr}");
    }
}

// ---- unknown members --------------------------------------------------------------------

fn unknown(v: Value) -> Vec<(String, Option<&'static str>)> {
    let ev = decode_value(v, None).expect("unknown members never stop decoding");
    ev.unknown_members
        .into_iter()
        .map(|u| (u.path, u.suggestion))
        .collect()
}

#[test]
fn a_case_with_only_contract_members_has_no_unknown_member() {
    assert!(unknown(minimal()).is_empty());
}

#[test]
fn unknown_members_are_recorded_at_every_depth_with_their_paths() {
    let mut v = minimal();
    v["trace_id"] = json!("t-1");
    v["patient"]["middle_name"] = json!("Q");
    v["service"]["procedures"][0]["modifer"] = json!(["E4"]);
    v["service"]["diagnoses"][0]["primay"] = json!(true);
    v["service"]["lesions"]["sizes"] = json!([1]);
    v["documentation"]["letter_of_medical_neccessity"] = json!(null);
    v["documentation"]["clinical_notes"] = json!([{"id": "N-1", "date": "2026-11-18", "text": "t"},
               {"id": "N-2", "date": "2026-11-18", "text": "t", "autor_npi": "1234567893"}]);
    let got = unknown(v);
    for want in [
        ("trace_id".to_owned(), None),
        ("patient.middle_name".to_owned(), None),
        (
            "service.procedures[0].modifer".to_owned(),
            Some("modifiers"),
        ),
        ("service.diagnoses[0].primay".to_owned(), Some("primary")),
        ("service.lesions.sizes".to_owned(), None),
        (
            "documentation.letter_of_medical_neccessity".to_owned(),
            Some("letter_of_medical_necessity"),
        ),
        (
            "documentation.clinical_notes[1].autor_npi".to_owned(),
            Some("author_npi"),
        ),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    assert_eq!(got.len(), 7, "{got:?}");
}

#[test]
fn unknown_members_of_every_object_of_an_appeal_are_recorded() {
    let mut v = minimal();
    v["kind"] = json!("appeal");
    v["appeal"] = json!({"original_event_id": "e-0", "payer_reference": "PA-1",
        "denied_on": "2026-11-01", "denail_reason": "x"});
    v["coverage"]["relatonship"] = json!("self");
    v["provider"]["taxonmy"] = json!("207N00000X");
    v["documentation"]["photos"] = json!([{"id": "I", "taken_on": "2026-11-18", "uri": "pm://i", "content-type": "image/png"}]);
    v["documentation"]["prior_treatments"] = json!([{"treatment": "t", "from": "2026-08-01", "result": "failed", "untill": "2026-09-01"}]);
    v["documentation"]["letter_of_medical_necessity"] = json!({"uri": "pm://l", "signed_by_npi": "1234567893", "signed_on": "2026-11-19",
               "signedOn": "x"});
    let got = unknown(v);
    for want in [
        ("coverage.relatonship".to_owned(), Some("relationship")),
        ("provider.taxonmy".to_owned(), Some("taxonomy")),
        (
            "documentation.photos[0].content-type".to_owned(),
            Some("content_type"),
        ),
        ("documentation.prior_treatments[0].untill".to_owned(), None),
        (
            "documentation.letter_of_medical_necessity.signedOn".to_owned(),
            Some("signed_on"),
        ),
        ("appeal.denail_reason".to_owned(), Some("denial_reason")),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    assert_eq!(got.len(), 6, "{got:?}");
}

#[test]
fn a_member_name_that_is_not_an_identifier_is_never_repeated() {
    let mut v = minimal();
    v["Jane Doe, born 1979"] = json!(1);
    v["service"]["lesions"]["jane.doe@example.org"] = json!(1);
    v["patient"]["caf\u{e9}"] = json!(1);
    v["documentation"]["x".repeat(65)] = json!(1);
    let got = unknown(v);
    let unnamed = |at: &str| (join(at, UnknownMember::UNNAMED), None);
    for want in [
        unnamed(""),
        unnamed("service.lesions"),
        unnamed("patient"),
        unnamed("documentation"),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    for (path, _) in &got {
        for part in ["jane", "1979", "example", "caf", "xxx"] {
            assert!(!path.to_lowercase().contains(part), "{path}");
        }
    }
}

#[test]
fn every_unknown_member_is_recorded_even_a_reserved_looking_one() {
    let mut v = minimal();
    for name in ["$schema", "_id", "x-trace-id", "traceparent", "__proto__"] {
        v[name] = json!("t");
    }
    let got = unknown(v);
    assert_eq!(got.len(), 5, "{got:?}");
    // `$schema` is not shown, but the member it is closest to is.
    assert!(got.contains(&(UnknownMember::UNNAMED.to_owned(), Some("schema"))));
    assert!(got.contains(&("x-trace-id".to_owned(), None)));
}

#[test]
fn unknown_members_of_a_case_that_does_not_decode_come_after_its_findings() {
    let mut v = minimal();
    v["service"]["procedures"][0]["units"] = json!(0);
    v["service"]["procedures"][0]["modifer"] = json!(["E4"]);
    let findings = decode_value(v, None).expect_err("rejected");
    assert_eq!(
        paths(&findings),
        vec![
            "DEC-01|service.procedures[0].units",
            "DEC-05|service.procedures[0].modifer"
        ]
    );
}

/// The decoder's member lists are the schema's: a member it would call unknown is one the
/// schema does not describe, and the other way round.
#[test]
fn the_decoders_member_lists_are_the_case_schemas_properties() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../schemas/preauth.case.v1.schema.json"))
            .expect("schema");
    for (name, known) in known::BY_SCHEMA_NAME {
        let object = if name.is_empty() {
            &schema
        } else {
            &schema["$defs"][name]
        };
        let mut described: Vec<&str> = object["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("$defs/{name} has properties"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed = known.to_vec();
        described.sort_unstable();
        listed.sort_unstable();
        assert_eq!(described, listed, "{name:?}");
    }
}

// ---- the optional lesion, provider and note fields --------------------------------------

#[test]
fn the_new_optional_fields_decode_when_sent() {
    let mut v = minimal();
    v["service"]["lesions"]["body_site"] =
        json!({"system": "http://snomed.info/sct", "code": " 80243003 "});
    v["service"]["lesions"]["distance_from_margin_mm"] = json!(0);
    v["service"]["lesions"]["laterality"] = json!("right");
    v["service"]["lesions"]["lid"] = json!("lower");
    v["provider"]["organization_npi"] = json!("1245319599");
    v["documentation"]["clinical_notes"] = json!([{"id": "N-1", "date": "2026-11-18",
        "text": "t", "author_organization_npi": "1245319599"}]);
    let ev = decode_value(v, None).expect("decodes");
    let lesions = ev.service.lesions.expect("lesions");
    assert_eq!(lesions.body_site.as_deref(), Some("80243003"));
    assert_eq!(lesions.distance_from_margin_mm, Some(0.0));
    assert_eq!(lesions.laterality, Some(Laterality::Right));
    assert_eq!(lesions.lid, Some(LidPart::Lower));
    assert_eq!(
        ev.provider.organization_npi.as_ref().map(|n| n.as_str()),
        Some("1245319599")
    );
    assert_eq!(
        ev.documentation.clinical_notes[0]
            .author_organization_npi
            .as_ref()
            .map(|n| n.as_str()),
        Some("1245319599")
    );
    assert!(ev.unknown_members.is_empty());
    let shown = format!("{lesions:?}");
    for part in ["80243003", "right", "lower", "0.0"] {
        assert!(shown.contains(part), "{part} not in {shown}");
    }
}

#[test]
fn unknown_members_next_to_the_new_fields_are_recorded() {
    let mut v = minimal();
    v["service"]["lesions"]["body_site"] =
        json!({"system": "http://snomed.info/sct", "code": "80243003", "display": "Eyelid"});
    v["service"]["lesions"]["laterallity"] = json!("right");
    v["provider"]["organisation_npi"] = json!("1234567893");
    v["documentation"]["clinical_notes"] = json!([{"id": "N-1", "date": "2026-11-18",
        "text": "t", "author_org_npi": "1245319599"}]);
    let got = unknown(v);
    assert_eq!(
        got,
        vec![
            (
                "provider.organisation_npi".to_owned(),
                Some("organization_npi")
            ),
            ("service.lesions.laterallity".to_owned(), Some("laterality")),
            ("service.lesions.body_site.display".to_owned(), None),
            (
                "documentation.clinical_notes[0].author_org_npi".to_owned(),
                Some("author_npi")
            ),
        ]
    );
}

#[test]
fn the_new_optional_fields_sent_as_null_or_left_out_are_absent() {
    for sent in [None, Some(Value::Null)] {
        let mut v = minimal();
        if let Some(null) = &sent {
            for key in ["body_site", "distance_from_margin_mm", "laterality", "lid"] {
                v["service"]["lesions"][key] = null.clone();
            }
            v["provider"]["organization_npi"] = null.clone();
            v["documentation"]["clinical_notes"] = json!([{"id": "N-1", "date": "2026-11-18",
                "text": "t", "author_organization_npi": null}]);
        } else {
            v["documentation"]["clinical_notes"] =
                json!([{"id": "N-1", "date": "2026-11-18", "text": "t"}]);
        }
        let ev = decode_value(v, None).expect("decodes");
        let lesions = ev.service.lesions.expect("lesions");
        assert!(lesions.body_site.is_none(), "{sent:?}");
        assert!(lesions.distance_from_margin_mm.is_none(), "{sent:?}");
        assert!(
            lesions.laterality.is_none() && lesions.lid.is_none(),
            "{sent:?}"
        );
        assert!(ev.provider.organization_npi.is_none(), "{sent:?}");
        assert!(ev.documentation.clinical_notes[0]
            .author_organization_npi
            .is_none());
    }
}

#[test]
fn a_wrong_new_field_is_refused_at_its_path_without_its_value() {
    let site = |v: Value| ("/service/lesions", "body_site", v);
    for ((parent, key, val), want) in [
        (site(json!("80243003")), "DEC-01|service.lesions.body_site"),
        (site(json!([])), "DEC-01|service.lesions.body_site"),
        (
            site(json!({"code": "80243003"})),
            "DEC-01|service.lesions.body_site.system",
        ),
        (
            site(json!({"system": "http://snomed.info/sct/", "code": "80243003"})),
            "DEC-01|service.lesions.body_site.system",
        ),
        (
            site(json!({"system": "http://snomed.info/sct"})),
            "DEC-01|service.lesions.body_site.code",
        ),
        (
            site(json!({"system": "http://snomed.info/sct", "code": 80243003})),
            "DEC-01|service.lesions.body_site.code",
        ),
        (
            site(json!({"system": "http://snomed.info/sct", "code": "80243004"})),
            "DEC-01|service.lesions.body_site.code",
        ),
        (
            site(json!({"system": "http://snomed.info/sct", "code": "080243003"})),
            "DEC-01|service.lesions.body_site.code",
        ),
        (
            ("/service/lesions", "distance_from_margin_mm", json!(-0.5)),
            "DEC-01|service.lesions.distance_from_margin_mm",
        ),
        (
            ("/service/lesions", "distance_from_margin_mm", json!(50.5)),
            "DEC-01|service.lesions.distance_from_margin_mm",
        ),
        (
            ("/service/lesions", "distance_from_margin_mm", json!("2")),
            "DEC-01|service.lesions.distance_from_margin_mm",
        ),
        (
            ("/service/lesions", "laterality", json!("Right")),
            "DEC-01|service.lesions.laterality",
        ),
        (
            ("/service/lesions", "lid", json!("middle")),
            "DEC-01|service.lesions.lid",
        ),
        (
            ("/provider", "organization_npi", json!("1234567890")),
            "FMT-NPI-01|provider.organization_npi",
        ),
        (
            ("/provider", "organization_npi", json!("")),
            "DEC-01|provider.organization_npi",
        ),
    ] {
        let mut v = minimal();
        v.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect(parent)
            .insert(key.to_owned(), val);
        let findings = decode_value(v, None).expect_err(want);
        assert_eq!(paths(&findings), vec![want]);
        for f in &findings {
            for part in ["80243", "1234567890", "Right", "middle", "50.5"] {
                assert!(!f.message.contains(part), "{f:?}");
            }
        }
    }
    let mut v = minimal();
    v["documentation"]["clinical_notes"] = json!([{"id": "N-1", "date": "2026-11-18",
        "text": "t", "author_organization_npi": "123"}]);
    let findings = decode_value(v, None).expect_err("refused");
    assert_eq!(
        paths(&findings),
        vec!["FMT-NPI-01|documentation.clinical_notes[0].author_organization_npi"]
    );
}

#[test]
fn the_distance_from_the_margin_runs_from_0_to_50_millimetres() {
    for (d, ok) in [
        (json!(0), true),
        (json!(-0.0), true),
        (json!(1e-300), true),
        (json!(50), true),
        (json!(50.0001), false),
        (json!(-1e-300), false),
        (json!(1e300), false),
        (json!(u64::MAX), false),
    ] {
        let mut v = minimal();
        v["service"]["lesions"]["distance_from_margin_mm"] = d.clone();
        assert_eq!(decode_value(v, None).is_ok(), ok, "{d}");
    }
}

#[test]
fn a_misspelt_required_field_is_missing_and_says_what_was_meant() {
    let mut v = minimal();
    let diagnoses = v["service"]["diagnoses"].take();
    if let Some(service) = v["service"].as_object_mut() {
        service.remove("diagnoses");
        service.insert("diagnosis".into(), diagnoses);
    }
    let findings = decode_value(v, None).expect_err("diagnoses is required");
    let got: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.rule.as_str(), f.path.as_str()))
        .collect();
    assert!(got.contains(&("DEC-01", "service.diagnoses")), "{got:?}");
    assert!(got.contains(&("DEC-05", "service.diagnosis")), "{got:?}");
    let hint = findings
        .iter()
        .find(|f| f.rule == "DEC-05")
        .map(|f| f.message.as_str());
    assert!(
        hint.is_some_and(|m| m.contains("did you mean `diagnoses`")),
        "{hint:?}"
    );
    assert!(findings.iter().all(|f| f.rule != "DEC-05" || !f.is_error()));
}

#[test]
fn another_schema_version_gets_only_its_dec_02() {
    let mut v = minimal();
    v["schema"] = json!("preauth.case.v9");
    v["servce"] = json!({});
    let findings = decode_value(v, None).expect_err("not v1");
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, vec!["DEC-02"]);
}

#[test]
fn a_misspelt_identifier_is_named_as_what_was_meant_without_repeating_the_member() {
    let mut v = minimal();
    let id = v["case_id"].take();
    if let Some(m) = v.as_object_mut() {
        m.remove("case_id");
        m.insert("caseId".into(), id);
    }
    let bytes = serde_json::to_vec(&v).expect("json");
    let e = identify(&bytes).expect_err("no case_id");
    assert_eq!(e.reason, Unreadable::NoCaseId);
    assert!(e.detail.contains("did you mean `case_id`"), "{}", e.detail);
    assert!(!e.detail.contains("caseId"), "{}", e.detail);
}

mod kinds;
