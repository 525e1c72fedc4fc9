//! The simulator's answers that exercise the reader's PAS conformance: a request for more
//! information (photographs), a modification (A6) with `addItem`, and the request named back.

use chrono::NaiveDate;
use serde_json::json;

use super::*;
use crate::codes::CodeTable;
use crate::payer::pas::read::{parse_answer, SentClaim};
use crate::payer::pas::write::request_bundle;
use crate::payer::sim::{decide_review, Faults, ReviewCase, INFORMATION_DUE_DAYS};
use crate::payer::{Operation, Overall};
use crate::rules::testing::{base, decode_value};
use crate::rules::Policies;

const RID: &str = "0d6f7f2c-4b8e-5a51-8c3e-1b9d2e7a6c40";

fn sent(lines: usize) -> SentClaim<'static> {
    SentClaim {
        request_identifier: RID,
        original: None,
        on: NaiveDate::from_ymd_opt(2026, 11, 20).expect("date"),
        lines,
    }
}

/// The simulator's answer under `faults` to `v` sent to `policy`, as the bundle it writes and
/// the decision it wrote it from.
fn answer(
    v: &serde_json::Value,
    policy: &str,
    faults: &Faults,
) -> (serde_json::Value, PayerResponse) {
    let codes = CodeTable::embedded().expect("codes");
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get(policy).expect("policy");
    let case = decode_value(v);
    let request = request_bundle(&case, RID, "1234567893").to_value();
    let mut review = review_from_bundle(&request).expect("reads back");
    review.photos_with_data = review.photos;
    let decided =
        decide_review(&review, &policy, &codes, RID, Operation::Submit, None).expect("decided");
    let decided = faults.shape(decided, &review, &policy);
    (response_bundle(&request, &decided), decided)
}

fn asking() -> Faults {
    Faults {
        request_information: true,
        ..Faults::default()
    }
}

#[test]
fn a_request_without_required_photos_is_pended_with_a_request_for_photographs() {
    let mut v = base();
    v["coverage"]["member_id"] = json!("NW20481234");
    v["documentation"]["photos"] = json!([]);
    let (bundle, decided) = answer(&v, "strict-commercial", &asking());
    assert_eq!(decided.overall(), Overall::Pended);
    let read = parse_answer(&bundle, &sent(1)).expect("the worker reads it");
    assert_eq!(read, decided, "the answer reads back as written");
    let info = read.information_request.expect("asked for photographs");
    let codes: Vec<&str> = info.items.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(codes, ["XP", "72170-4"]);
    let requested_on = ReviewCase::from_case(&decode_value(&v)).requested_on;
    assert_eq!(
        info.due,
        requested_on.checked_add_days(chrono::Days::new(INFORMATION_DUE_DAYS))
    );
}

#[test]
fn a_request_that_carries_the_photos_is_decided_not_asked_again() {
    let mut v = base();
    v["coverage"]["member_id"] = json!("NW20481234");
    let (bundle, decided) = answer(&v, "strict-commercial", &asking());
    assert_ne!(decided.overall(), Overall::Pended);
    let read = parse_answer(&bundle, &sent(1)).expect("read");
    assert_eq!(read.information_request, None);
}

#[test]
fn without_the_setting_missing_photos_are_still_denied() {
    let mut v = base();
    v["coverage"]["member_id"] = json!("NW20481234");
    v["documentation"]["photos"] = json!([]);
    let (_, decided) = answer(&v, "strict-commercial", &Faults::default());
    assert_eq!(decided.overall(), Overall::NotCertified);
    assert_eq!(decided.information_request, None);
}

#[test]
fn a_substituted_code_is_answered_as_a_modification_with_add_item() {
    let faults = Faults {
        substitute: vec!["67850=67840".to_owned()],
        ..Faults::default()
    };
    let (bundle, decided) = answer(&base(), "default", &faults);
    assert_eq!(decided.items[0].action, ReviewAction::Modified);
    let add_item = &bundle["entry"][0]["resource"]["addItem"][0];
    assert_eq!(add_item["productOrService"]["coding"][0]["code"], "67840");
    let read = parse_answer(&bundle, &sent(1)).expect("read");
    assert_eq!(read, decided, "the modification reads back as written");
    let authorized = read.items[0].authorized.as_ref().expect("authorized");
    assert_eq!(authorized.code.as_deref(), Some("67840"));
    assert_eq!(read.overall(), Overall::PartlyCertified);
}

#[test]
fn the_simulators_answer_names_the_claim_it_received() {
    let (bundle, _) = answer(&base(), "default", &Faults::default());
    assert_eq!(
        bundle["entry"][0]["resource"]["request"]["identifier"]["value"],
        RID
    );
    let other = SentClaim {
        request_identifier: "another-request",
        ..sent(1)
    };
    assert!(parse_answer(&bundle, &other).is_err());
}
