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
    let authorized = r.items[0]
        .authorized
        .as_ref()
        .expect("the example says more");
    assert_eq!(authorized.provider_npi.as_deref(), Some("1122334454"));
    assert_eq!(authorized.authorization_number.as_deref(), Some("AUTH0001"));
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
    // The damaged item extensions (what was authorized) say nothing; the rest is unchanged.
    let mut expected = original.items.clone();
    for item in &mut expected {
        item.authorized = None;
    }
    assert_eq!(r.items, expected);
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

// ---------------------------------------------------------------------------------------------
// PAS conformance of the reader: request matching, inquiry results, absent must-support
// elements, follow-up actions, what was authorized, requests for more information.

const OURS: &str = "5f0c8a52-1f7a-5b7e-9d55-3d0c1e2a4b6c";

fn sent(lines: usize) -> SentClaim<'static> {
    SentClaim {
        request_identifier: OURS,
        original: None,
        on: NaiveDate::from_ymd_opt(2026, 3, 5).expect("date"),
        lines,
    }
}

/// The approved example answering the request `id` (by identifier).
fn approved_for(id: &str) -> Value {
    let mut b = fixture(APPROVED);
    b["entry"][0]["resource"]["request"] =
        json!({"identifier": {"system": "urn:trnorg:1234567893", "value": id}});
    b
}

fn pended_for(id: &str) -> Value {
    let mut b = fixture(PENDED);
    b["entry"][0]["resource"]["request"] = json!({"identifier": {"value": id}});
    b
}

fn cr(b: &mut Value) -> &mut Value {
    &mut b["entry"][0]["resource"]
}

#[test]
fn an_answer_for_another_request_is_refused_as_malformed() {
    let Err(ResponseError::Malformed(m)) = parse_answer(&approved_for("someone-else"), &sent(1))
    else {
        panic!("an answer for another request must be refused");
    };
    assert!(m.contains("another request"), "{m}");
    assert!(!m.contains("someone-else"), "no value is repeated: {m}");
    // Without the request sent there is nothing to check against.
    assert!(parse_response(&approved_for("someone-else")).is_ok());
}

#[test]
fn an_answer_naming_our_claim_by_identifier_or_full_url_is_read() {
    let ours = parse_answer(&approved_for(OURS), &sent(1)).expect("ours");
    assert_eq!(ours.items[0].action, ReviewAction::Certified);
    let inquiry = parse_answer(&approved_for(&format!("{OURS}-inq-2")), &sent(1)).expect("inq");
    assert_eq!(inquiry.items[0].action, ReviewAction::Certified);
    let mut by_url = fixture(APPROVED);
    cr(&mut by_url)["request"] = json!({"reference": full_url(OURS, "claim")});
    assert!(parse_answer(&by_url, &sent(1)).is_ok());
    let mut unknown = fixture(APPROVED);
    cr(&mut unknown)["request"] = json!({"reference": "Claim/payer-own-id"});
    assert!(
        parse_answer(&unknown, &sent(1)).is_ok(),
        "a payer's own id proves nothing"
    );
    let mut original = approved_for("the-original");
    cr(&mut original)["request"]["identifier"]["value"] = json!("the-original");
    let update = SentClaim {
        original: Some("the-original"),
        ..sent(1)
    };
    assert!(parse_answer(&original, &update).is_ok());
}

#[test]
fn an_item_without_a_review_action_is_not_fatal_and_is_pended() {
    let mut b = approved_for(OURS);
    cr(&mut b)["item"][0]["adjudication"][0]
        .as_object_mut()
        .expect("adjudication")
        .remove("extension");
    let r = parse_answer(&b, &sent(1)).expect("read");
    assert_eq!(r.items[0].action, ReviewAction::Pended);
    assert_eq!(r.overall(), Overall::Pended);
    let mut no_code = approved_for(OURS);
    cr(&mut no_code)["item"][0]["adjudication"][0]["extension"][0]["extension"] = json!([]);
    let r = parse_response(&no_code).expect("read");
    assert_eq!(r.items[0].action, ReviewAction::Pended);
}

#[test]
fn a_line_without_an_action_takes_the_whole_request_action() {
    let mut b = approved_for(OURS);
    let action = cr(&mut b)["item"][0]["adjudication"][0]["extension"][0].clone();
    cr(&mut b)["adjudication"] = json!([{"extension": [action]}]);
    cr(&mut b)["item"][0]["adjudication"][0]
        .as_object_mut()
        .expect("adjudication")
        .remove("extension");
    let r = parse_answer(&b, &sent(1)).expect("read");
    assert_eq!(r.items[0].action, ReviewAction::Certified);
}

#[test]
fn a_queued_claim_response_without_items_pends_every_line_sent() {
    let mut b = pended_for(OURS);
    cr(&mut b).as_object_mut().expect("cr").remove("item");
    cr(&mut b)["outcome"] = json!("queued");
    let r = parse_answer(&b, &sent(2)).expect("read");
    assert_eq!(r.items.len(), 2);
    assert!(r.items.iter().all(|i| i.action == ReviewAction::Pended));
    assert_eq!(r.items[1].sequence, 2);
    cr(&mut b)["outcome"] = json!("complete");
    assert!(matches!(
        parse_answer(&b, &sent(2)),
        Err(ResponseError::Malformed(_))
    ));
}

fn parameters(results: Vec<Value>) -> Value {
    let parameter: Vec<Value> = results
        .into_iter()
        .map(|r| json!({"name": "return", "resource": r}))
        .collect();
    json!({"resourceType": "Parameters", "parameter": parameter})
}

#[test]
fn an_inquiry_answer_with_two_bundles_picks_ours() {
    let body = parameters(vec![approved_for("someone-else"), pended_for(OURS)]);
    let r = parse_answer(&body, &sent(1)).expect("read");
    assert_eq!(r.items[0].action, ReviewAction::Pended);
    assert_eq!(r.reference.as_deref(), Some("PEND0001"));
    let body = parameters(vec![pended_for("someone-else"), approved_for(OURS)]);
    let r = parse_answer(&body, &sent(1)).expect("read");
    assert_eq!(r.items[0].action, ReviewAction::Certified);
}

#[test]
fn an_inquiry_answer_with_zero_bundles_is_still_pended() {
    let r = parse_answer(&parameters(vec![]), &sent(2)).expect("no result yet");
    assert_eq!(r.overall(), Overall::Pended);
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.reference, None, "the reference held stays");
    assert_eq!(r.decided_on, sent(2).on);
    assert!(r.reasons.is_empty());
}

#[test]
fn an_inquiry_answer_with_only_other_requests_is_pended_with_a_note() {
    let body = parameters(vec![approved_for("someone-else")]);
    let r = parse_answer(&body, &sent(1)).expect("read");
    assert_eq!(r.overall(), Overall::Pended);
    assert_eq!(r.reasons[0].code, NO_MATCHING_RESULT);
    assert!(!r.reasons[0].text.contains("someone-else"));
    // One result that names no request is taken as ours.
    let mut anonymous = fixture(APPROVED);
    cr(&mut anonymous)
        .as_object_mut()
        .expect("cr")
        .remove("request");
    let r = parse_answer(&parameters(vec![anonymous]), &sent(1)).expect("read");
    assert_eq!(r.items[0].action, ReviewAction::Certified);
}

#[test]
fn a_business_error_carries_its_follow_up_action() {
    let mut b = approved_for(OURS);
    cr(&mut b).as_object_mut().expect("cr").remove("item");
    cr(&mut b)["outcome"] = json!("error");
    cr(&mut b)["error"] = json!([{"code": {"coding": [{"system": X12_REJECT_SYSTEM, "code": "T4"}]},
        "extension": [{"url": EXT_ERROR_FOLLOWUP_ACTION, "valueCodeableConcept":
            {"coding": [{"system": X12_889_SYSTEM, "code": "C", "display": "Please Correct and Resubmit for DOE"}]}}]}]);
    let Err(ResponseError::BusinessErrors(reasons)) = parse_answer(&b, &sent(1)) else {
        panic!("business errors");
    };
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].code, "T4");
    assert_eq!(reasons[1].code, "C");
    assert_eq!(reasons[1].system.as_deref(), Some(X12_889_SYSTEM));
    assert_eq!(reasons[1].text, "follow-up action: correct and resubmit");
}

#[test]
fn a_modified_line_carries_what_the_payer_authorized_from_add_item() {
    let mut b = approved_for(OURS);
    cr(&mut b)["item"][0]["adjudication"][0]["extension"][0]["extension"][0]
        ["valueCodeableConcept"]["coding"][0]["code"] = json!("A6");
    cr(&mut b)["addItem"] = json!([{
        "itemSequence": [1],
        "extension": [{"url": EXT_ITEM_PRE_AUTH_ISSUE_DATE, "valueDate": "2026-03-02"},
            {"url": EXT_ITEM_TRACE_NUMBER, "valueIdentifier": {"system": "urn:x", "value": "TRN-7"}}],
        "productOrService": {"coding": [{"system": CPT_SYSTEM, "code": "67840"}]},
        "modifier": [{"coding": [{"code": "E2"}]}],
        "quantity": {"value": 1},
        "provider": [{"identifier": {"system": NPI_SYSTEM, "value": "1234567893"}}],
        "adjudication": [{"extension": [{"url": EXT_REVIEW_ACTION, "extension": [
            {"url": "number", "valueString": "AUTH-A6"}]}]}]}]);
    let r = parse_answer(&b, &sent(1)).expect("read");
    let line = &r.items[0];
    assert_eq!(line.action, ReviewAction::Modified);
    assert_eq!(line.approved_units, 1);
    let a = line.authorized.as_ref().expect("authorized");
    assert_eq!(a.code.as_deref(), Some("67840"));
    assert_eq!(a.system.as_deref(), Some(CPT_SYSTEM));
    assert_eq!(a.modifiers, vec!["E2".to_owned()]);
    assert_eq!(a.units, Some(1));
    assert_eq!(a.provider_npi.as_deref(), Some("1234567893"));
    assert_eq!(a.issued_on, NaiveDate::from_ymd_opt(2026, 3, 2));
    assert_eq!(a.trace_number.as_deref(), Some("TRN-7"));
    assert_eq!(a.authorization_number.as_deref(), Some("AUTH-A6"));
}

#[test]
fn item_authorized_detail_and_an_authorized_provider_entry_are_read() {
    let mut b = approved_for(OURS);
    b["entry"].as_array_mut().expect("entries").push(json!({
        "fullUrl": "http://payer.example/fhir/Practitioner/p1",
        "resource": {"resourceType": "Practitioner",
            "identifier": [{"system": NPI_SYSTEM, "value": "1999999984"}]}}));
    cr(&mut b)["item"][0]["extension"] = json!([
        {"url": EXT_ITEM_AUTHORIZED_PROVIDER, "extension": [
            {"url": "provider", "valueReference": {"reference": "Practitioner/p1"}}]},
        {"url": EXT_ITEM_AUTHORIZED_DETAIL, "extension": [
            {"url": "productOrServiceCode", "valueCodeableConcept": {"coding": [{"system": X12_1365_SYSTEM, "code": "3"}]}},
            {"url": "quantity", "valueQuantity": {"value": 2}}]},
        {"url": EXT_ITEM_PRE_AUTH_PERIOD, "valuePeriod": {"start": "2026-03-02", "end": "bad"}},
        {"url": pas_requested_service_date(), "valuePeriod": {"start": "2026-03-01"}}]);
    let r = parse_answer(&b, &sent(1)).expect("read");
    let a = r.items[0].authorized.as_ref().expect("authorized");
    assert_eq!(a.provider_npi.as_deref(), Some("1999999984"));
    assert_eq!(a.code.as_deref(), Some("3"));
    assert_eq!(a.units, Some(2));
    assert_eq!(a.valid_from, NaiveDate::from_ymd_opt(2026, 3, 2));
    assert_eq!(a.valid_to, None, "an unreadable date is left out");
}

fn pas_requested_service_date() -> &'static str {
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemRequestedServiceDate"
}

#[test]
fn a_communication_request_becomes_an_information_request_with_its_due_date() {
    let mut b = pended_for(OURS);
    b["entry"].as_array_mut().expect("entries").push(json!({
        "fullUrl": "urn:uuid:0b9a4f4e-1111-4c1b-9a57-0c0e4e1d0099",
        "resource": {"resourceType": "CommunicationRequest", "status": "active",
            "category": [{"coding": [{"system": X12_755_SYSTEM, "code": "XP", "display": "Photographs"}]}],
            "payload": [{"contentString": "72170-4"}, {"contentString": "send the photos of Jane DOE's eyelids"}],
            "occurrenceDateTime": "2026-03-16"}}));
    cr(&mut b)["communicationRequest"] =
        json!([{"reference": "urn:uuid:0b9a4f4e-1111-4c1b-9a57-0c0e4e1d0099"}]);
    let r = parse_answer(&b, &sent(1)).expect("read");
    assert_eq!(r.overall(), Overall::Pended);
    let info = r.information_request.expect("asked");
    assert_eq!(info.due, NaiveDate::from_ymd_opt(2026, 3, 16));
    let codes: Vec<&str> = info.items.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(codes, ["XP", "72170-4", "documentation"]);
    assert_eq!(info.items[0].system.as_deref(), Some(X12_755_SYSTEM));
    assert_eq!(info.items[1].text, "photographs");
    for item in &info.items {
        assert!(
            !item.text.contains("DOE"),
            "free text is not copied: {item:?}"
        );
    }
}

#[test]
fn a_task_asking_for_attachments_becomes_an_information_request() {
    let mut b = pended_for(OURS);
    b["entry"].as_array_mut().expect("entries").push(json!({
        "fullUrl": "urn:uuid:0b9a4f4e-2222-4c1b-9a57-0c0e4e1d0099",
        "resource": {"resourceType": "Task", "status": "requested",
            "input": [{"type": {"coding": [{"code": "payer-url"}]}, "valueUrl": "https://payer.example"},
                {"type": {"coding": [{"system": PAS_TEMP_CODES, "code": "attachments-needed"}]},
                 "valueCodeableConcept": {"coding": [{"system": LOINC_SYSTEM, "code": "28570-0", "display": "Procedure note"}]}}],
            "restriction": {"period": {"end": "2026-03-20T00:00:00Z"}}}}));
    let info = parse_answer(&b, &sent(1))
        .expect("read")
        .information_request
        .expect("asked");
    assert_eq!(info.items[0].code, "28570-0");
    assert_eq!(info.items[0].text, "Procedure note");
    assert_eq!(info.due, NaiveDate::from_ymd_opt(2026, 3, 20));
}

#[test]
fn an_answer_without_a_request_for_information_has_none() {
    let r = parse_answer(&pended_for(OURS), &sent(1)).expect("read");
    assert_eq!(r.information_request, None);
}
