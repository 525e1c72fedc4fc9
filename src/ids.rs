//! Every deterministic identifier the worker derives: UUID v5 names under one namespace, built
//! from the ids a case event carries. It depends on no other module of the crate, so the
//! pipeline, the PAS adapter and the tests derive the same ids from the same function.

use uuid::Uuid;

/// Namespace of every deterministic identifier the worker derives (UUID v5).
pub(crate) const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_3d8e_2b4a_4c7e_9a51_0d2e_8b7f_4c13);

/// The v5 id of `parts` joined by U+001F (unit separator), as text written without the
/// formatting machinery.
fn v5(parts: &[&str]) -> String {
    text(Uuid::new_v5(&ID_NAMESPACE, parts.join("\u{1f}").as_bytes()))
}

/// A UUID as lower-case hyphenated text, as its `Display` writes it.
fn text(id: Uuid) -> String {
    id.hyphenated()
        .encode_lower(&mut Uuid::encode_buffer())
        .to_owned()
}

/// The payer request identifier (Claim.identifier) for an event and an operation (`$submit`,
/// the case kind's `operation()`): the same case event is always the same request.
pub fn request_identifier(case_id: &str, event_id: &str, operation: &str) -> String {
    v5(&["request", case_id, event_id, operation])
}

/// The outcome id: derived from the event and the decision (the status's `as_str()`), so a
/// redelivered event yields the same id. `seq` tells successive `pended` events apart (0 for
/// terminal outcomes).
pub fn outcome_id(case_id: &str, event_id: &str, status: &str, seq: u32) -> String {
    v5(&[
        "outcome",
        case_id,
        event_id,
        status,
        itoa::Buffer::new().format(seq),
    ])
}

/// The id of an outcome published after an operator replayed the event `replays` times: each
/// replay is a fresh attempt series whose outcomes have ids of their own, derived from the id
/// the same outcome has without replays (0 replays gives that id back).
pub(crate) fn replayed_outcome_id(outcome_id: &str, replays: u32) -> String {
    if replays == 0 {
        return outcome_id.to_owned();
    }
    v5(&["replay", outcome_id, itoa::Buffer::new().format(replays)])
}

/// The id of a progress event (`preauth.progress.v1`): the same step of the same delivery is
/// always the same id, so a redelivery repeats it and consumers de-duplicate. `step` is the
/// step's code, `replays` the event's replay count, `discriminator` the attempt number for
/// `submitted`, the delay tiers used for `retry-scheduled`, 0 otherwise.
pub fn progress_id(
    case_id: &str,
    event_id: &str,
    step: &str,
    replays: u32,
    discriminator: u32,
) -> String {
    v5(&[
        "progress",
        case_id,
        event_id,
        step,
        itoa::Buffer::new().format(replays),
        itoa::Buffer::new().format(discriminator),
    ])
}

/// The GUID of one resource of a PAS request (its `urn:uuid:` fullUrl): a resent request
/// carries the same GUIDs, another request new ones.
pub(crate) fn pas_resource(request_identifier: &str, role: &str) -> Uuid {
    // On the request write path (a dozen per bundle): one formatted name, no slice to join.
    let name = format!("pas\u{1f}{request_identifier}\u{1f}{role}");
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

/// FNV-1a of `text`: a small number that is stable across runs, versions and platforms (std's
/// hasher is not), for choices that must repeat (a payer simulator's numbers and faults).
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_id_is_written_as_its_display_writes_it() {
        for name in [
            "",
            "x",
            "progress\u{1f}C-1\u{1f}e-1\u{1f}received\u{1f}0\u{1f}0",
        ] {
            let id = Uuid::new_v5(&ID_NAMESPACE, name.as_bytes());
            assert_eq!(text(id), id.to_string());
        }
        assert_eq!(
            v5(&["outcome", "C-1", "e-1", "approved", "0"]),
            Uuid::new_v5(
                &ID_NAMESPACE,
                "outcome\u{1f}C-1\u{1f}e-1\u{1f}approved\u{1f}0".as_bytes()
            )
            .to_string()
        );
        assert_eq!(v5(&[]), Uuid::new_v5(&ID_NAMESPACE, b"").to_string());
    }

    #[test]
    fn request_identifier_depends_on_case_event_and_operation_only() {
        let a = request_identifier("C-1", "e-1", "submit");
        assert_eq!(a, request_identifier("C-1", "e-1", "submit"));
        assert_ne!(a, request_identifier("C-1", "e-1", "appeal"));
        assert_ne!(a, request_identifier("C-1", "e-2", "submit"));
        assert_ne!(a, request_identifier("C-2", "e-1", "submit"));
    }

    #[test]
    fn outcome_id_depends_on_the_event_and_the_decision() {
        let a = outcome_id("C-1", "e-1", "approved", 0);
        assert_eq!(a, outcome_id("C-1", "e-1", "approved", 0));
        assert_ne!(a, outcome_id("C-1", "e-1", "denied", 0));
        assert_ne!(
            outcome_id("C-1", "e-1", "pended", 1),
            outcome_id("C-1", "e-1", "pended", 2)
        );
    }

    #[test]
    fn a_progress_id_names_one_step_of_one_delivery() {
        let a = progress_id("C-1", "e-1", "submitted", 0, 1);
        assert_eq!(a, progress_id("C-1", "e-1", "submitted", 0, 1));
        assert_ne!(a, progress_id("C-1", "e-1", "submitted", 0, 2));
        assert_ne!(a, progress_id("C-1", "e-1", "submitted", 1, 1));
        assert_ne!(a, progress_id("C-1", "e-1", "received", 0, 1));
        assert_ne!(a, progress_id("C-1", "e-2", "submitted", 0, 1));
        assert_ne!(a, outcome_id("C-1", "e-1", "submitted", 1));
        assert_eq!(
            a,
            Uuid::new_v5(
                &ID_NAMESPACE,
                "progress\u{1f}C-1\u{1f}e-1\u{1f}submitted\u{1f}0\u{1f}1".as_bytes()
            )
            .to_string()
        );
    }

    #[test]
    fn the_derived_ids_are_the_ones_earlier_releases_derived() {
        // Ids already published must not change: these are the values of the released worker.
        assert_eq!(
            request_identifier("C-1", "e-1", "submit"),
            Uuid::new_v5(
                &ID_NAMESPACE,
                "request\u{1f}C-1\u{1f}e-1\u{1f}submit".as_bytes()
            )
            .to_string()
        );
        assert_eq!(
            outcome_id("C-1", "e-1", "pended", 2),
            Uuid::new_v5(
                &ID_NAMESPACE,
                "outcome\u{1f}C-1\u{1f}e-1\u{1f}pended\u{1f}2".as_bytes()
            )
            .to_string()
        );
        assert_eq!(
            pas_resource("r", "claim"),
            Uuid::new_v5(&ID_NAMESPACE, "pas\u{1f}r\u{1f}claim".as_bytes())
        );
    }
}
