//! Members the contract does not define (`DEC-05`): decoding ignores them, and this rule says so,
//! so that a misspelt optional field is seen instead of silently dropped.
//!
//! The path names the member only when its name is shaped like an identifier (decoding decides
//! that); the message quotes nothing but the contract's own field name it suggests.

use crate::case::{CaseEvent, Finding};

pub(super) fn check(case: &CaseEvent, out: &mut Vec<Finding>) {
    out.extend(case.unknown_members.iter().map(|m| m.finding()));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::case::{Severity, UnknownMember};
    use crate::codes::CodeTable;
    use crate::rules::testing::{base, decode_value, findings};
    use crate::rules::{has_errors, validate, Clinical, Policy};

    fn dec_05(v: &serde_json::Value) -> Vec<(String, Severity, String)> {
        findings(v, "default")
            .into_iter()
            .filter(|f| f.rule == "DEC-05")
            .map(|f| (f.path, f.severity, f.message))
            .collect()
    }

    #[test]
    fn a_misspelt_member_is_a_warning_naming_the_member_meant() {
        let mut v = base();
        v["documentation"]["letter_of_medical_neccessity"] = json!(null);
        v["service"]["procedures"][0]["modifer"] = json!(["E4"]);
        assert_eq!(
            dec_05(&v),
            vec![
                (
                    "service.procedures[0].modifer".to_owned(),
                    Severity::Warning,
                    "this member is not part of the contract and is ignored; did you mean `modifiers`?"
                        .to_owned()
                ),
                (
                    "documentation.letter_of_medical_neccessity".to_owned(),
                    Severity::Warning,
                    "this member is not part of the contract and is ignored; did you mean `letter_of_medical_necessity`?"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn an_unknown_member_far_from_every_name_gets_no_suggestion() {
        let mut v = base();
        v["foo"] = json!(1);
        v["\u{1f600} jane doe"] = json!(2);
        let got = dec_05(&v);
        let paths: Vec<&str> = got.iter().map(|(p, ..)| p.as_str()).collect();
        assert!(paths.contains(&"foo"), "{got:?}");
        assert!(paths.contains(&UnknownMember::UNNAMED), "{got:?}");
        for (path, _, message) in &got {
            assert_eq!(
                message, "this member is not part of the contract and is ignored",
                "{path}"
            );
            assert!(!path.contains("jane"), "{path}");
        }
    }

    #[test]
    fn a_case_without_unknown_members_has_no_dec_05_finding() {
        assert!(dec_05(&base()).is_empty());
    }

    #[test]
    fn dec_05_comes_before_every_other_rule_and_leaves_the_case_submittable() {
        let mut v = base();
        v["documentation"]["photos"] = json!([]);
        v["trace_id"] = json!("abc");
        let all = findings(&v, "default");
        assert_eq!(all.first().map(|f| f.rule.as_str()), Some("DEC-05"));
        assert!(all.len() > 1, "{all:?}");
        assert!(!has_errors(&all), "{all:?}");
    }

    #[test]
    fn a_payer_policy_can_make_an_unknown_member_block_submission() {
        let codes = CodeTable::embedded().expect("codes");
        let clinical = Arc::new(Clinical::embedded().expect("clinical vocabulary"));
        let text = include_str!("../../config/policies/default.toml").replacen(
            "[severity]\n",
            "[severity]\nDEC-05 = \"error\"\n",
            1,
        );
        let strict = Policy::from_toml(&text, "t.toml", &codes, clinical).expect("loads");
        let mut v = base();
        assert!(!has_errors(&validate(&decode_value(&v), &strict, &codes)));
        v["service"]["planed_date"] = json!("2026-12-10");
        let got = validate(&decode_value(&v), &strict, &codes);
        assert!(has_errors(&got), "{got:?}");
        let dec_05: Vec<_> = got.iter().filter(|f| f.rule == "DEC-05").collect();
        assert_eq!(dec_05.len(), 1, "{got:?}");
        assert_eq!(dec_05[0].severity, Severity::Error);
        assert_eq!(dec_05[0].path, "service.planed_date");
        assert!(dec_05[0].message.ends_with("did you mean `planned_date`?"));
    }
}
