//! The `original` object of an update or a cancellation: the request it refers to.

use crate::case::json::{Json, Members};

use super::values::join;
use super::{known, rule, Decoder};
use crate::case::identify::usable_id;
use crate::case::{Kind, Original};

impl Decoder {
    /// The event's `original` member, checked against its `kind` (`DEC-06`): `Some(None)` when
    /// the kind takes none and none was sent, `None` when something is wrong (with a finding).
    pub(super) fn original_member(
        &mut self,
        m: &Members<'_>,
        kind: Option<Kind>,
    ) -> Option<Option<Original>> {
        let takes_one = kind.map(Kind::refers_to_original);
        match m.get("original") {
            None | Some(Json::Null) => {
                if let (Some(true), Some(kind)) = (takes_one, kind) {
                    self.error_rule(
                        rule::ORIGINAL_OBJECT,
                        "original",
                        format!(
                            "kind is {:?} but the original object is missing",
                            kind.as_str()
                        ),
                    );
                    return None;
                }
                Some(None)
            }
            Some(_) => {
                if takes_one == Some(false) {
                    self.error_rule(
                        rule::ORIGINAL_OBJECT,
                        "original",
                        "an original object is only allowed when kind is \"update\" or \"cancel\"",
                    );
                }
                let original = self
                    .object(m, "", "original")
                    .and_then(|(p, o)| self.original(&p, o));
                match takes_one {
                    Some(false) => None,
                    _ => original.map(Some),
                }
            }
        }
    }

    fn original(&mut self, path: &str, m: &Members<'_>) -> Option<Original> {
        self.unknown_members(path, m, known::ORIGINAL);
        // Checked as the event's own id is: the original is named by what identified it.
        let event_id = match usable_id(m, "event_id") {
            Ok(id) => Some(id),
            Err("is missing") => {
                self.error(&join(path, "event_id"), "required field is missing");
                None
            }
            Err(why) => {
                self.error(
                    &join(path, "event_id"),
                    format!("expected an event id; it {why}"),
                );
                None
            }
        };
        let kinds = Kind::ORIGINAL_KINDS.map(|k| (k.as_str(), k));
        let kind = self.opt_enumerated(m, path, "kind", &kinds);
        let payer_reference = self.string(m, path, "payer_reference");
        Some(Original {
            event_id: event_id?,
            kind: kind?.unwrap_or(Kind::Submission),
            payer_reference: payer_reference?.trim().to_owned(),
        })
    }
}
