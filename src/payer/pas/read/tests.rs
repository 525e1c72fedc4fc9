//! The response reader against the research examples and damaged or unusual answers.

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::*;
use crate::payer::Overall;

const APPROVED: &str = include_str!("../../../../tests/fixtures/pas/pas-approved-bundle.json");
const DENIED: &str = include_str!("../../../../tests/fixtures/pas/pas-denied-bundle.json");
const PENDED: &str = include_str!("../../../../tests/fixtures/pas/pas-pended-bundle.json");

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

#[test]
fn the_research_approved_example_is_certified_with_its_number_and_period() {
    let r = parse_response(&fixture(APPROVED)).expect("parses");
    assert_eq!(r.items.len(), 1);
    assert_eq!(r.items[0].sequence, 1);
    assert_eq!(r.items[0].action, ReviewAction::Certified);
    assert_eq!(
        r.items[0].approved_units, 0,
        "the example states no quantity"
    );
    assert_eq!(r.authorization_number.as_deref(), Some("AUTH0001"));
    assert_eq!(r.reference.as_deref(), Some("AUTH0001"));
    assert_eq!(r.valid_from, NaiveDate::from_ymd_opt(2026, 3, 2));
    assert_eq!(r.valid_to, NaiveDate::from_ymd_opt(2026, 6, 30));
    assert_eq!(
        r.decided_on,
        NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
    );
    assert!(r.reasons.is_empty());
    assert_eq!(r.overall(), Overall::Certified);
}

#[test]
fn the_research_denied_example_is_not_certified_with_its_reason() {
    let r = parse_response(&fixture(DENIED)).expect("parses");
    assert_eq!(r.items[0].action, ReviewAction::NotCertified);
    let reason = &r.items[0].reasons[0];
    assert_eq!(reason.code, "REPLACE-WITH-886-CODE");
    assert_eq!(reason.system.as_deref(), Some(X12_REASON_SYSTEM));
    assert!(reason.text.starts_with("Not certified: policy MED-123"));
    assert_eq!(
        r.items[0].reasons.len(),
        1,
        "the linked note is not repeated"
    );
    assert!(r.reasons.is_empty(), "the note belongs to the item");
    assert_eq!(r.authorization_number, None);
    assert_eq!(r.overall(), Overall::NotCertified);
}

#[test]
fn the_research_pended_example_is_pended_with_its_reference() {
    let r = parse_response(&fixture(PENDED)).expect("parses");
    assert_eq!(r.items[0].action, ReviewAction::Pended);
    assert_eq!(r.reference.as_deref(), Some("PEND0001"));
    assert_eq!(r.authorization_number, None);
    assert_eq!(r.overall(), Overall::Pended);
}

#[test]
fn the_claim_response_need_not_be_the_first_entry() {
    let mut b = fixture(APPROVED);
    let entries = b["entry"].as_array_mut().expect("entries");
    entries.rotate_left(1);
    let r = parse_response(&b).expect("parses");
    assert_eq!(r.items[0].action, ReviewAction::Certified);
}

#[test]
fn an_older_payer_s_code_sub_extension_is_accepted() {
    let mut b = fixture(PENDED);
    b["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"][0]
        ["url"] = json!("code");
    let r = parse_response(&b).expect("parses");
    assert_eq!(r.items[0].action, ReviewAction::Pended);
}

#[test]
fn a_parameters_wrapper_is_unwrapped_under_either_name() {
    for name in ["return", "responseBundle"] {
        let p = json!({"resourceType": "Parameters",
            "parameter": [{"name": name, "resource": fixture(APPROVED)}]});
        let r = parse_response(&p).expect(name);
        assert_eq!(r.items[0].action, ReviewAction::Certified, "{name}");
    }
    let oo = json!({"resourceType": "Parameters",
        "parameter": [{"name": "return", "resource": operation_outcome("not-found", "x")}]});
    assert!(matches!(
        parse_response(&oo),
        Err(ResponseError::OperationOutcome(_))
    ));
    let empty = json!({"resourceType": "Parameters", "parameter": [{"name": "other"}]});
    assert!(matches!(
        parse_response(&empty),
        Err(ResponseError::Malformed(_))
    ));
    let nested = json!({"resourceType": "Parameters",
        "parameter": [{"name": "return", "resource": {"resourceType": "Parameters",
            "parameter": [{"name": "return", "resource": fixture(APPROVED)}]}}]});
    assert!(matches!(
        parse_response(&nested),
        Err(ResponseError::Malformed(_))
    ));
}

#[test]
fn an_operation_outcome_gives_codes_and_places_but_never_its_free_text() {
    let oo = json!({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid",
         "details": {"coding": [{"code": "MSG_BAD_NAME"}], "text": "Name DOE, JANE is invalid"},
         "diagnostics": "Patient DOE, JANE born 1979-04-02 not found",
         "expression": ["Bundle.entry[1].resource.name"]},
        {"severity": "warning", "code": "informational"}]});
    let Err(ResponseError::OperationOutcome(text)) = parse_response(&oo) else {
        panic!("expected an OperationOutcome error");
    };
    assert_eq!(
        text,
        "error invalid [MSG_BAD_NAME] at Bundle.entry[1].resource.name; warning informational"
    );
    assert!(!text.contains("DOE") && !text.contains("1979"));
    let Err(e) = parse_response(&operation_outcome("invalid", "DOE, JANE")) else {
        panic!("expected an error");
    };
    assert!(!e.to_string().contains("DOE"), "{e}");
    // An OperationOutcome inside a bundle with no ClaimResponse.
    let b = json!({"resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": operation_outcome("processing", "")}]});
    assert_eq!(
        parse_response(&b),
        Err(ResponseError::OperationOutcome(
            "error processing".to_owned()
        ))
    );
}

#[test]
fn business_errors_come_back_as_reasons_with_codes_only_in_the_message() {
    let mut b = fixture(DENIED);
    let cr = &mut b["entry"][0]["resource"];
    cr["outcome"] = json!("error");
    cr["error"] = json!([{
        "extension": [{"url": EXT_ERROR_PATH, "valueString": "Bundle.entry[1].resource.identifier"}],
        "code": {"coding": [{"system": "https://codesystem.x12.org/005010/901",
                             "code": "75", "display": "Subscriber/Insured Not Found"}]}}]);
    let Err(ResponseError::BusinessErrors(reasons)) = parse_response(&b) else {
        panic!("expected business errors");
    };
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].code, "75");
    assert_eq!(
        reasons[0].text,
        "Subscriber/Insured Not Found (at Bundle.entry[1].resource.identifier)"
    );
    let message = ResponseError::BusinessErrors(reasons).to_string();
    assert_eq!(message, "payer rejected the request: 75");
}

#[test]
fn malformed_responses_are_errors_never_panics() {
    let mut no_action = fixture(APPROVED);
    no_action["entry"][0]["resource"]["item"][0]["adjudication"][0]
        .as_object_mut()
        .expect("adjudication")
        .remove("extension");
    let mut unknown_action = fixture(APPROVED);
    unknown_action["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]
        ["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = json!("ZZ");
    let mut no_sequence = fixture(APPROVED);
    no_sequence["entry"][0]["resource"]["item"][0]
        .as_object_mut()
        .expect("item")
        .remove("itemSequence");
    let mut no_items = fixture(APPROVED);
    no_items["entry"][0]["resource"]
        .as_object_mut()
        .expect("cr")
        .remove("item");
    let mut no_dates = fixture(APPROVED);
    no_dates["entry"][0]["resource"]
        .as_object_mut()
        .expect("cr")
        .remove("created");
    no_dates
        .as_object_mut()
        .expect("bundle")
        .remove("timestamp");
    let mut fractional = fixture(APPROVED);
    fractional["entry"][0]["resource"]["item"][0]["adjudication"][0]["value"] = json!(1.5);
    let mut twice = fixture(APPROVED);
    let item = twice["entry"][0]["resource"]["item"][0].clone();
    twice["entry"][0]["resource"]["item"] = json!([item.clone(), item]);
    let cases = [
        ("not an object", json!([1, 2])),
        ("a string", json!("Bundle")),
        ("null", Value::Null),
        ("no resourceType", json!({})),
        (
            "another resource",
            json!({"resourceType": "Patient", "name": [{"family": "DOE"}]}),
        ),
        (
            "no ClaimResponse",
            json!({"resourceType": "Bundle", "entry": []}),
        ),
        (
            "entries not an array",
            json!({"resourceType": "Bundle", "entry": {"a": 1}}),
        ),
        ("no review action", no_action),
        ("unknown review action", unknown_action),
        ("no itemSequence", no_sequence),
        ("no items", no_items),
        ("no dates", no_dates),
        ("fractional units", fractional),
        ("repeated itemSequence", twice),
    ];
    for (what, body) in cases {
        match parse_response(&body) {
            Err(ResponseError::Malformed(m)) => {
                assert!(!m.contains("DOE"), "{what}: {m}");
            }
            other => panic!("{what}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn authorized_units_written_as_a_whole_float_are_whole_numbers() {
    let mut b = fixture(APPROVED);
    b["entry"][0]["resource"]["item"][0]["adjudication"][0]["category"] =
        json!({"coding": [{"system": ADJUDICATION_SYSTEM, "code": "submitted"}]});
    b["entry"][0]["resource"]["item"][0]["adjudication"][0]["value"] = json!(2.0);
    let r = parse_response(&b).expect("parses");
    assert_eq!(r.items[0].approved_units, 2);
    // A modification's addItem quantity is read the same way, and wins.
    b["entry"][0]["resource"]["addItem"] =
        json!([{"itemSequence": [1], "quantity": {"value": 3.0}}]);
    let r = parse_response(&b).expect("parses");
    assert_eq!(r.items[0].approved_units, 3);
    // Present but not a number is an error, as a fraction is; absent is 0.
    for bad in [json!(null), json!("2"), json!(-1)] {
        b["entry"][0]["resource"]["addItem"][0]["quantity"]["value"] = bad.clone();
        assert!(
            matches!(parse_response(&b), Err(ResponseError::Malformed(_))),
            "{bad}"
        );
    }
}

#[test]
fn damaged_parts_the_reader_does_not_need_change_nothing() {
    let original = parse_response(&fixture(APPROVED)).expect("parses");
    let mut b = fixture(APPROVED);
    let cr = &mut b["entry"][0]["resource"];
    cr["type"] = json!("professional");
    cr["patient"] = json!(7);
    cr["processNote"] = json!({"text": "not an array"});
    cr["extension"] = json!("not an array");
    cr["identifier"] = json!([5, {"system": ["x"], "value": "PAYER-1"}]);
    cr["item"][0]["extension"] = json!([1, "x", {"url": 5}]);
    cr["item"][0]["noteNumber"] = json!(["1", null]);
    b["entry"]
        .as_array_mut()
        .expect("entries")
        .push(json!({"resource": "not an object"}));
    b["identifier"] = json!([1]);
    let r = parse_response(&b).expect("parses");
    assert_eq!(r.items, original.items);
    assert_eq!(r.authorization_number, original.authorization_number);
    assert_eq!(r.decided_on, original.decided_on);
    // A created of the wrong type counts as absent: the bundle's timestamp dates the decision.
    b["entry"][0]["resource"]["created"] = json!(20260302);
    b["timestamp"] = json!("2026-03-05T10:00:00Z");
    let r = parse_response(&b).expect("parses");
    assert_eq!(
        r.decided_on,
        NaiveDate::from_ymd_opt(2026, 3, 5).expect("date")
    );
}

#[test]
fn a_notification_gives_the_response_bundle_it_carries_or_is_one() {
    let response = fixture(APPROVED);
    assert_eq!(notification_response(&response), Some(&response));
    let history = json!({"resourceType": "Bundle", "type": "history", "entry": [
        {"resource": {"resourceType": "SubscriptionStatus"}},
        {"resource": "damaged"},
        {"resource": {"resourceType": "Bundle", "entry": []}},
        {"resource": response.clone()}]});
    assert_eq!(notification_response(&history), Some(&response));
    let empty = json!({"resourceType": "Bundle", "type": "history", "entry": [
        {"resource": {"resourceType": "SubscriptionStatus"}}]});
    assert_eq!(notification_response(&empty), None);
    assert_eq!(
        notification_response(&json!({"resourceType": "Parameters"})),
        None
    );
    assert_eq!(notification_response(&json!("Bundle")), None);
}
