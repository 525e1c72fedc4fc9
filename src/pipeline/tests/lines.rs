//! An approved outcome's `authorization.lines`: the payer's word on each requested line.

use chrono::NaiveDate;

use super::*;
use crate::payer::{AuthorizedItem, ItemDecision, ReviewAction};

fn item(sequence: u32, action: ReviewAction, units: u32) -> ItemDecision {
    ItemDecision {
        sequence,
        action,
        approved_units: units,
        reasons: vec![],
        authorized: None,
    }
}

fn response(items: Vec<ItemDecision>) -> PayerResponse {
    PayerResponse {
        reference: Some("PA-7".to_owned()),
        items,
        authorization_number: Some("AUTH-7".to_owned()),
        valid_from: None,
        valid_to: None,
        reasons: vec![],
        decided_on: NaiveDate::from_ymd_opt(2026, 11, 21).expect("date"),
        information_request: None,
    }
}

#[test]
fn a_modified_line_names_the_code_the_payer_authorized_instead() {
    let p = pipeline(Utc::now());
    let mut modified = item(1, ReviewAction::Modified, 1);
    modified.authorized = Some(AuthorizedItem {
        code: Some("10060".to_owned()),
        system: Some(crate::payer::pas::model::CPT_SYSTEM.to_owned()),
        modifiers: vec!["E1".to_owned()],
        units: Some(1),
        provider_npi: Some("1234567893".to_owned()),
        authorization_number: Some("AUTH-7-1".to_owned()),
        issued_on: None,
        valid_from: NaiveDate::from_ymd_opt(2026, 12, 1),
        valid_to: NaiveDate::from_ymd_opt(2027, 3, 1),
        trace_number: None,
    });
    let r = response(vec![modified, item(2, ReviewAction::NotCertified, 2)]);
    let o = p.approved("C-1", "E-1", 1, None, &r, vec![], vec![]);
    let a = o.authorization.clone().expect("authorization");
    assert!(a.partial);
    assert_eq!(a.lines.len(), 2);
    assert_eq!(a.lines[0].review_action, "A6");
    assert_eq!(a.lines[0].code.as_deref(), Some("10060"));
    assert_eq!(a.lines[0].modifiers, vec!["E1".to_owned()]);
    assert_eq!(a.lines[0].authorization_number.as_deref(), Some("AUTH-7-1"));
    assert_eq!(a.lines[0].valid_to, NaiveDate::from_ymd_opt(2027, 3, 1));
    assert_eq!(a.lines[1].review_action, "A3");
    assert_eq!(
        a.lines[1].approved_units, 0,
        "a line not certified has no units"
    );
    assert_eq!(a.lines[1].code, None);
    let json = serde_json::to_value(&o).expect("json");
    assert_eq!(json["authorization"]["lines"][0]["code"], "10060");
    assert!(json["authorization"]["lines"][1].get("code").is_none());
}

#[test]
fn a_certification_in_full_lists_every_line_with_its_units() {
    let p = pipeline(Utc::now());
    let r = response(vec![item(1, ReviewAction::Certified, 3)]);
    let o = p.approved("C-1", "E-1", 1, None, &r, vec![], vec![]);
    let a = o.authorization.clone().expect("authorization");
    assert!(!a.partial);
    assert_eq!(a.approved_units, 3);
    assert_eq!(a.lines[0].sequence, 1);
    assert_eq!(a.lines[0].review_action, "A1");
    assert_eq!(a.lines[0].approved_units, 3);
}
