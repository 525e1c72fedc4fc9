//! Updates and cancellations: the `original` object and the routing keys of both kinds.

use serde_json::json;

use super::{decode_value, minimal, paths};
use crate::case::{Kind, Original};

fn of_kind(kind: &str) -> serde_json::Value {
    let mut v = minimal();
    v["kind"] = json!(kind);
    v["original"] = json!({"event_id": " e-0 ", "payer_reference": "PA-98765"});
    v
}

#[test]
fn an_update_decodes_with_the_request_it_changes() {
    let ev = decode_value(of_kind("update"), Some("case.updated")).expect("decodes");
    assert_eq!(ev.kind, Kind::Update);
    assert_eq!(
        ev.original,
        Some(Original {
            event_id: "e-0".to_owned(),
            kind: Kind::Submission,
            payer_reference: "PA-98765".to_owned(),
        })
    );
}

#[test]
fn a_cancel_decodes_with_the_kind_of_the_request_it_cancels() {
    let mut v = of_kind("cancel");
    v["original"]["kind"] = json!("appeal");
    let ev = decode_value(v, Some("case.cancelled")).expect("decodes");
    assert_eq!(ev.kind, Kind::Cancel);
    assert_eq!(ev.original.map(|o| o.kind), Some(Kind::Appeal));
}

#[test]
fn an_update_or_a_cancel_without_an_original_object_is_refused() {
    for (kind, key) in [("update", "case.updated"), ("cancel", "case.cancelled")] {
        let mut v = of_kind(kind);
        v["original"] = serde_json::Value::Null;
        let findings = decode_value(v, Some(key)).expect_err("rejected");
        assert_eq!(paths(&findings), vec!["DEC-06|original"], "{kind}");
    }
}

#[test]
fn an_original_object_on_a_submission_or_an_appeal_is_refused() {
    let mut v = minimal();
    v["original"] = json!({"event_id": "e-0", "payer_reference": "PA-1"});
    let findings = decode_value(v, Some("case.submitted")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-06|original"]);
}

#[test]
fn an_original_needs_its_event_id_and_payer_reference_and_names_no_cancel() {
    let mut v = of_kind("update");
    v["original"] = json!({"kind": "cancel"});
    let findings = decode_value(v, Some("case.updated")).expect_err("rejected");
    assert_eq!(
        paths(&findings),
        vec![
            "DEC-01|original.event_id",
            "DEC-01|original.kind",
            "DEC-01|original.payer_reference"
        ]
    );
}

#[test]
fn an_appeal_object_on_an_update_is_refused() {
    let mut v = of_kind("update");
    v["appeal"] = json!({"original_event_id": "e-0", "payer_reference": "PA-1",
        "denied_on": "2026-11-01"});
    let findings = decode_value(v, Some("case.updated")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-04|appeal"]);
}

#[test]
fn the_routing_key_of_an_update_or_a_cancel_must_agree_with_its_kind() {
    let findings = decode_value(of_kind("update"), Some("case.cancelled")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
    assert_eq!(
        findings[0].message,
        "kind \"update\" arrived with routing key \"case.cancelled\"; expected \"case.updated\""
    );
    let findings = decode_value(of_kind("cancel"), Some("case.submitted")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
    let findings = decode_value(minimal(), Some("case.updated")).expect_err("rejected");
    assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
}
