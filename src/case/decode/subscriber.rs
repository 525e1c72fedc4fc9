//! `coverage.subscriber`: the policy holder of a dependant's coverage.

use serde_json::{Map, Value};

use super::{known, Decoder};
use crate::case::{Sex, Subscriber};

impl Decoder {
    /// `coverage.subscriber`, optional: `Some(None)` when absent or null.
    pub(super) fn opt_subscriber(
        &mut self,
        path: &str,
        m: &Map<String, Value>,
    ) -> Option<Option<Subscriber>> {
        match m.get("subscriber") {
            None | Some(Value::Null) => Some(None),
            Some(_) => self
                .object(m, path, "subscriber")
                .and_then(|(p, o)| self.subscriber(&p, o))
                .map(Some),
        }
    }

    fn subscriber(&mut self, path: &str, m: &Map<String, Value>) -> Option<Subscriber> {
        self.unknown_members(path, m, known::SUBSCRIBER);
        let member_id = self.opt_string(m, path, "member_id");
        let family_name = self.string(m, path, "family_name");
        let given_names = self
            .opt_array(m, path, "given_names")
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        Value::String(s) if s.trim().is_empty() => None,
                        Value::String(s) => Some(s.clone()),
                        _ => {
                            self.error(&format!("{path}.given_names[{i}]"), "expected a string");
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let birth_date = match m.get("birth_date") {
            None | Some(Value::Null) => Some(None),
            Some(_) => self.date(m, path, "birth_date").map(Some),
        };
        let sex = self.opt_enumerated(
            m,
            path,
            "sex",
            &[
                ("female", Sex::Female),
                ("male", Sex::Male),
                ("other", Sex::Other),
                ("unknown", Sex::Unknown),
            ],
        );
        Some(Subscriber {
            member_id: member_id?,
            family_name: family_name?,
            given_names,
            birth_date: birth_date?,
            sex: sex?,
        })
    }
}
