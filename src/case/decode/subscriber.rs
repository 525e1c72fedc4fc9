//! `coverage.subscriber`: the policy holder of a dependant's coverage.

use crate::case::json::{Json, Members};

use super::{known, Decoder};
use crate::case::Subscriber;

impl Decoder {
    /// `coverage.subscriber`, optional: `Some(None)` when absent or null.
    pub(super) fn opt_subscriber(
        &mut self,
        path: &str,
        m: &Members<'_>,
    ) -> Option<Option<Subscriber>> {
        match m.get("subscriber") {
            None | Some(Json::Null) => Some(None),
            Some(_) => self
                .object(m, path, "subscriber")
                .and_then(|(p, o)| self.subscriber(&p, o))
                .map(Some),
        }
    }

    fn subscriber(&mut self, path: &str, m: &Members<'_>) -> Option<Subscriber> {
        self.unknown_members(path, m, known::SUBSCRIBER);
        let member_id = self.opt_string(m, path, "member_id");
        let family_name = self.string(m, path, "family_name");
        let given_names = self.given_names(path, m);
        let birth_date = match m.get("birth_date") {
            None | Some(Json::Null) => Some(None),
            Some(_) => self.date(m, path, "birth_date").map(Some),
        };
        let sex = self.opt_enumerated(m, path, "sex", super::SEXES);
        Some(Subscriber {
            member_id: member_id?,
            family_name: family_name?,
            given_names,
            birth_date: birth_date?,
            sex: sex?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::case::{decode, identify, CaseEvent, Finding, Sex};
    use crate::rules::testing::base;

    fn decoded(v: &Value) -> Result<CaseEvent, Vec<Finding>> {
        let bytes = serde_json::to_vec(v).expect("serialize");
        decode(&identify(&bytes).expect("identifiable"), None)
    }

    #[test]
    fn a_dependants_subscriber_decodes_with_what_the_sender_knows() {
        let mut v = base();
        v["coverage"]["relationship"] = json!("child");
        v["coverage"]["subscriber"] = json!({"family_name": "Doe", "given_names": ["John", " "],
            "birth_date": "1970-01-05", "sex": "male", "member_id": " "});
        let case = decoded(&v).expect("decodes");
        let s = case.coverage.subscriber.expect("a subscriber");
        assert_eq!(s.family_name, "Doe");
        assert_eq!(s.given_names, ["John"]);
        assert_eq!(s.member_id, None);
        assert_eq!(s.sex, Some(Sex::Male));
        assert_eq!(
            s.birth_date.map(|d| d.to_string()).as_deref(),
            Some("1970-01-05")
        );
        // Absent or null: none (for a self-insured patient; a dependant needs one, DEC-07).
        v["coverage"]["relationship"] = json!("self");
        v["coverage"]["subscriber"] = Value::Null;
        assert!(decoded(&v).expect("decodes").coverage.subscriber.is_none());
    }

    #[test]
    fn a_subscriber_without_a_family_name_or_with_a_bad_date_is_reported_at_its_path() {
        let mut v = base();
        v["coverage"]["subscriber"] = json!({"birth_date": "05/01/1970", "nickname": "J"});
        let findings = decoded(&v).expect_err("refused");
        let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
        assert!(
            paths.contains(&"coverage.subscriber.family_name"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"coverage.subscriber.birth_date"),
            "{paths:?}"
        );
        v["coverage"]["subscriber"] = json!("Doe");
        let findings = decoded(&v).expect_err("refused");
        assert!(findings.iter().any(|f| f.path == "coverage.subscriber"));
    }
}
