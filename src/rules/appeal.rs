//! Appeal rules: the letter of medical necessity, the appeal window, and the record of cheaper
//! treatments that were tried first.

use crate::case::registry::{APL_01, APL_02, APL_03, APL_04, APL_05, APL_06};
use crate::case::{CaseEvent, Finding};
use crate::rules::Policy;

pub(super) fn check(case: &CaseEvent, policy: &Policy, out: &mut Vec<Finding>) {
    let doc = &case.documentation;
    match &doc.letter_of_medical_necessity {
        None => out.push(APL_01.finding(
            "documentation.letter_of_medical_necessity",
            "an appeal must carry a signed letter of medical necessity",
        )),
        Some(letter) => {
            if letter.signed_by_npi != case.provider.npi {
                out.push(APL_02.finding(
                    "documentation.letter_of_medical_necessity.signed_by_npi",
                    "the letter is signed by an NPI other than the requesting provider's; payers expect the treating physician",
                ));
            }
            if let Some(appeal) = &case.appeal {
                if letter.signed_on < appeal.denied_on {
                    out.push(APL_05.finding(
                        "documentation.letter_of_medical_necessity.signed_on",
                        "the letter is signed before the denial it answers; make sure it addresses the denial reason",
                    ));
                }
            }
        }
    }
    if let Some(appeal) = &case.appeal {
        let days = (case.occurred_on() - appeal.denied_on).num_days();
        if days > i64::from(policy.appeal_window_days) {
            out.push(APL_03.finding(
                "appeal.denied_on",
                format!(
                    "the appeal comes {days} days after the denial; payer policy {:?} accepts appeals for {} days",
                    policy.name, policy.appeal_window_days
                ),
            ));
        }
    }
    if doc.prior_treatments.is_empty() {
        out.push(APL_04.finding(
            "documentation.prior_treatments",
            "an appeal must document the less costly treatments tried first, with dates and results",
        ));
    }
    if doc.photos.is_empty() && !policy.photos_required {
        // Where photos are required, DOC-03 already reports an error.
        out.push(APL_06.finding(
            "documentation.photos",
            "the appeal packet has no photographs; reviewers weigh them heavily",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::rules::testing::{appeal_base, findings, ids};

    fn got(v: &Value, policy: &str) -> Vec<String> {
        ids(&findings(v, policy))
    }

    #[test]
    fn a_complete_appeal_has_no_findings() {
        let f = findings(&appeal_base(), "default");
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn an_appeal_without_a_letter_is_rejected() {
        let mut v = appeal_base();
        v["documentation"]["letter_of_medical_necessity"] = Value::Null;
        assert!(got(&v, "default").contains(&"APL-01:E".to_owned()));
    }

    #[test]
    fn a_letter_with_an_invalid_npi_does_not_decode() {
        let mut v = appeal_base();
        v["documentation"]["letter_of_medical_necessity"]["signed_by_npi"] = json!("1234567890");
        let bytes = serde_json::to_vec(&v).expect("serialize");
        let id = crate::case::identify(&bytes).expect("identified");
        let f = crate::case::decode(&id, None).expect_err("invalid NPI");
        assert_eq!(f[0].rule, "FMT-NPI-01");
        assert_eq!(
            f[0].path,
            "documentation.letter_of_medical_necessity.signed_by_npi"
        );
    }

    #[test]
    fn the_appeal_window_is_counted_from_the_denial_to_the_appeal_event() {
        // Denied 2026-11-25; the default window is 120 days.
        let at = |ts: &str| {
            let mut v = appeal_base();
            v["occurred_at"] = json!(ts);
            v["service"]["planned_date"] = json!("2027-05-01");
            got(&v, "default")
        };
        assert!(
            !at("2027-03-25T10:00:00Z")
                .iter()
                .any(|g| g.starts_with("APL-03")),
            "day 120"
        );
        assert!(
            at("2027-03-26T10:00:00Z").contains(&"APL-03:E".to_owned()),
            "day 121"
        );
        // The strict payer accepts 180 days.
        let mut v = appeal_base();
        v["occurred_at"] = json!("2027-03-26T10:00:00Z");
        v["service"]["planned_date"] = json!("2027-05-01");
        v["coverage"]["member_id"] = json!("NW20481234");
        assert!(!got(&v, "strict-commercial")
            .iter()
            .any(|g| g.starts_with("APL-03")));
    }

    #[test]
    fn an_appeal_needs_the_record_of_prior_treatments() {
        let mut v = appeal_base();
        v["documentation"]["prior_treatments"] = json!([]);
        let g = got(&v, "default");
        assert!(g.contains(&"APL-04:E".to_owned()), "{g:?}");
        assert!(
            !g.iter().any(|x| x.starts_with("DOC-05")),
            "appeals report APL-04 only: {g:?}"
        );
    }

    #[test]
    fn letters_signed_by_another_npi_or_before_the_denial_are_reported() {
        let mut v = appeal_base();
        v["documentation"]["letter_of_medical_necessity"]["signed_by_npi"] = json!("1245319599");
        v["documentation"]["letter_of_medical_necessity"]["signed_on"] = json!("2026-11-20");
        let g = got(&v, "default");
        assert!(g.contains(&"APL-02:W".to_owned()), "{g:?}");
        assert!(g.contains(&"APL-05:W".to_owned()), "{g:?}");
    }

    #[test]
    fn an_appeal_denied_after_it_was_filed_is_a_date_error() {
        let mut v = appeal_base();
        v["appeal"]["denied_on"] = json!("2026-12-02");
        assert!(got(&v, "default").contains(&"DATE-01:E".to_owned()));
    }
}
