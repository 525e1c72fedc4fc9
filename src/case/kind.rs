//! What a case event asks for (its `kind`), and the earlier request an update or a cancellation
//! refers to.

use crate::ids::request_identifier;

/// What a case event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new pre-authorization request (`case.submitted`).
    Submission,
    /// An appeal of a denied request (`case.appeal`).
    Appeal,
    /// A change to a request already submitted (`case.updated`): the whole case as it now
    /// stands, naming the request it changes ([`Original`]).
    Update,
    /// The cancellation of a request already submitted (`case.cancelled`), naming it.
    Cancel,
}

impl Kind {
    /// Every kind, in contract order.
    pub const ALL: [Kind; 4] = [Kind::Submission, Kind::Appeal, Kind::Update, Kind::Cancel];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Submission => "submission",
            Kind::Appeal => "appeal",
            Kind::Update => "update",
            Kind::Cancel => "cancel",
        }
    }

    /// The inbound routing key events of this kind travel with.
    pub fn routing_key(self) -> &'static str {
        match self {
            Kind::Submission => "case.submitted",
            Kind::Appeal => "case.appeal",
            Kind::Update => "case.updated",
            Kind::Cancel => "case.cancelled",
        }
    }

    /// The operation name used in deterministic request identifiers.
    pub fn operation(self) -> &'static str {
        match self {
            Kind::Submission => "submit",
            Kind::Appeal => "appeal",
            Kind::Update => "update",
            Kind::Cancel => "cancel",
        }
    }

    /// True for the kinds that refer to an earlier request through an `original` object.
    pub fn refers_to_original(self) -> bool {
        matches!(self, Kind::Update | Kind::Cancel)
    }

    /// The kinds an `original` may name: the requests that can be changed or cancelled.
    pub(crate) const ORIGINAL_KINDS: [Kind; 3] = [Kind::Submission, Kind::Appeal, Kind::Update];
}

/// The request an update or a cancellation refers to: ids and a kind only, so the derived
/// `Debug` shows nothing but them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// The `event_id` of the case event that made the original request.
    pub event_id: String,
    /// That event's kind (`submission` unless sent).
    pub kind: Kind,
    /// The payer's reference for the original request, as its outcome gave it.
    pub payer_reference: String,
}

impl Original {
    /// The identifier the worker gave the original request (its `Claim.identifier`).
    pub fn request_identifier(&self, case_id: &str) -> String {
        request_identifier(case_id, &self.event_id, self.kind.operation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_routing_key_and_operation() {
        let keys: std::collections::BTreeSet<_> =
            Kind::ALL.iter().map(|k| k.routing_key()).collect();
        let ops: std::collections::BTreeSet<_> = Kind::ALL.iter().map(|k| k.operation()).collect();
        assert_eq!((keys.len(), ops.len()), (Kind::ALL.len(), Kind::ALL.len()));
        assert_eq!(Kind::Update.routing_key(), "case.updated");
        assert_eq!(Kind::Cancel.routing_key(), "case.cancelled");
    }

    #[test]
    fn an_original_names_the_request_its_event_made() {
        let original = Original {
            event_id: "e-1".to_owned(),
            kind: Kind::Submission,
            payer_reference: "PA-1".to_owned(),
        };
        assert_eq!(
            original.request_identifier("C-1"),
            request_identifier("C-1", "e-1", "submit")
        );
        let appeal = Original {
            kind: Kind::Appeal,
            ..original
        };
        assert_eq!(
            appeal.request_identifier("C-1"),
            request_identifier("C-1", "e-1", "appeal")
        );
    }
}
