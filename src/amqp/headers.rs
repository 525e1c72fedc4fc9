//! The headers the worker carries on a case event between deliveries: its retry and follow-up
//! state, the routing key it first arrived with, and the parking reason.
//!
//! The state headers are reserved: the worker tags them (HMAC under the deployment key, bound
//! to the message body) and reads them back only when the tag verifies. A case publisher's own
//! copy of any of them is ignored, so no publisher can force an `$inquire`, shorten a payer's
//! regulatory clock, skip attempts or pose as a replay.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::retry::CaseState;
use crate::security::{digest, DeploymentKey, Purpose};

pub(crate) const ATTEMPTS: &str = "x-preauth-attempts";
pub(crate) const RETRIES: &str = "x-preauth-retries";
pub(crate) const FOLLOWUPS: &str = "x-preauth-followups";
pub(crate) const REFERENCE: &str = "x-preauth-reference";
pub(crate) const FIRST_ATTEMPT_AT: &str = "x-preauth-first-attempt-at";
/// The routing key the event first arrived with (delay tiers deliver with another one).
pub(crate) const ROUTING_KEY: &str = "x-preauth-routing-key";
pub(crate) const REASON: &str = "x-preauth-reason";
pub(crate) const DETAIL: &str = "x-preauth-detail";
/// How many times `parked replay` sent the event back to the work queue.
pub(crate) const REPLAYS: &str = "x-preauth-replays";
/// The hashes of the documents the request's first submission sent.
pub(crate) const DOCUMENTS: &str = "x-preauth-documents";
/// When the worker parked the message (RFC 3339).
pub(crate) const PARKED_AT: &str = "x-preauth-parked-at";
/// Set by quorum queues on redelivery (and only trusted on a delivery the broker flags as
/// redelivered: a publisher can set it on a first delivery).
pub(crate) const DELIVERY_COUNT: &str = "x-delivery-count";
/// The tag over the state headers, the routing key header and the body.
pub(crate) const STATE_TAG: &str = "x-preauth-state-tag";

/// The headers only the worker may set, each ignored unless [`STATE_TAG`] verifies.
pub(crate) const RESERVED: [&str; 9] = [
    ATTEMPTS,
    DOCUMENTS,
    RETRIES,
    FOLLOWUPS,
    REFERENCE,
    FIRST_ATTEMPT_AT,
    REPLAYS,
    ROUTING_KEY,
    STATE_TAG,
];

/// Reads a header as an unsigned number, whatever integer type the sender used.
pub(crate) fn get_u32(table: Option<&FieldTable>, key: &str) -> Option<u32> {
    let v = table?.inner().get(key)?;
    let n: i128 = match v {
        AMQPValue::ShortShortInt(x) => (*x).into(),
        AMQPValue::ShortShortUInt(x) => (*x).into(),
        AMQPValue::ShortInt(x) => (*x).into(),
        AMQPValue::ShortUInt(x) => (*x).into(),
        AMQPValue::LongInt(x) => (*x).into(),
        AMQPValue::LongUInt(x) => (*x).into(),
        AMQPValue::LongLongInt(x) => (*x).into(),
        AMQPValue::Timestamp(x) => (*x).into(),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes())
            .ok()?
            .trim()
            .parse()
            .ok()?,
        _ => return None,
    };
    u32::try_from(n).ok()
}

/// Reads a header as text.
pub(crate) fn get_str(table: Option<&FieldTable>, key: &str) -> Option<String> {
    match table?.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The reason of the broker's latest dead-lettering of a message (`rejected`, `expired`,
/// `maxlen`, `delivery_limit`), from its `x-death` header.
pub(crate) fn dead_letter_reason(table: Option<&FieldTable>) -> Option<String> {
    let AMQPValue::FieldArray(deaths) = table?.inner().get("x-death")? else {
        return None;
    };
    let AMQPValue::FieldTable(latest) = deaths.as_slice().first()? else {
        return None;
    };
    get_str(Some(latest), "reason")
}

/// A copy of `table` (empty when there is none) without `key`.
pub fn without(table: Option<&FieldTable>, key: &str) -> FieldTable {
    let mut map = table.map(|t| t.inner().clone()).unwrap_or_default();
    map.remove(key);
    FieldTable::from(map)
}

pub(crate) fn put_str(table: &mut FieldTable, key: &str, value: &str) {
    table.insert(
        ShortString::from(key),
        AMQPValue::LongString(LongString::from(value)),
    );
}

pub(crate) fn put_u32(table: &mut FieldTable, key: &str, value: u32) {
    table.insert(
        ShortString::from(key),
        AMQPValue::LongLongInt(i64::from(value)),
    );
}

/// What an earlier delivery left in the headers, as far as it can be trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Carried {
    /// The case state (a first delivery's when nothing verified).
    pub state: CaseState,
    /// The routing key the event first arrived with, when the worker recorded it.
    pub routing_key: Option<String>,
    /// Reserved headers were present but their tag did not verify: they were ignored.
    pub rejected: bool,
}

/// The bytes the state tag covers, each part length-prefixed by the tag itself.
fn tagged_parts(state: &CaseState, routing_key: Option<&str>, body: &[u8]) -> Vec<Vec<u8>> {
    let opt = |v: Option<String>| match v {
        Some(v) => format!("+{v}"),
        None => "-".to_owned(),
    };
    let mut parts = vec![
        state.attempts.to_string().into_bytes(),
        state.retries.to_string().into_bytes(),
        state.followups.to_string().into_bytes(),
        opt(state.reference.clone()).into_bytes(),
        opt(state.first_attempt_at.map(|t| t.to_string())).into_bytes(),
        state.replays.to_string().into_bytes(),
        opt(routing_key.map(str::to_owned)).into_bytes(),
        digest(body),
    ];
    // Only when there is one, so a tag written before documents were carried still verifies.
    if let Some(documents) = &state.documents {
        parts.push(format!("+{documents}").into_bytes());
    }
    parts
}

fn tag(key: &DeploymentKey, state: &CaseState, routing_key: Option<&str>, body: &[u8]) -> String {
    let parts = tagged_parts(state, routing_key, body);
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    key.tag(Purpose::CaseState, &refs)
}

/// Reads the state an earlier delivery of this body left in `headers`. Reserved headers count
/// only when their tag verifies under `key` for this very body; otherwise the delivery is read
/// as a first one. The broker's redelivery count is not read here (see [`DELIVERY_COUNT`]).
pub(crate) fn read_carried(
    headers: Option<&FieldTable>,
    body: &[u8],
    key: &DeploymentKey,
) -> Carried {
    let present = headers.is_some_and(|h| RESERVED.iter().any(|k| h.contains_key(k)));
    if !present {
        return Carried::default();
    }
    let state = CaseState {
        attempts: get_u32(headers, ATTEMPTS).unwrap_or(0),
        retries: get_u32(headers, RETRIES).unwrap_or(0),
        followups: get_u32(headers, FOLLOWUPS).unwrap_or(0),
        reference: get_str(headers, REFERENCE),
        first_attempt_at: get_str(headers, FIRST_ATTEMPT_AT).and_then(|s| s.parse().ok()),
        replays: get_u32(headers, REPLAYS).unwrap_or(0),
        documents: get_str(headers, DOCUMENTS),
        redeliveries: 0,
    };
    let routing_key = get_str(headers, ROUTING_KEY);
    let verified = get_str(headers, STATE_TAG).is_some_and(|t| {
        let parts = tagged_parts(&state, routing_key.as_deref(), body);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        key.verify(Purpose::CaseState, &refs, &t)
    });
    if verified {
        Carried {
            state,
            routing_key,
            rejected: false,
        }
    } else {
        Carried {
            rejected: true,
            ..Carried::default()
        }
    }
}

/// Writes the case state and the routing key into `headers`, replacing every reserved header
/// that was there, and tags them for this body.
pub(crate) fn write_state(
    headers: &mut FieldTable,
    state: &CaseState,
    routing_key: &str,
    body: &[u8],
    key: &DeploymentKey,
) {
    let mut map = headers.inner().clone();
    for k in RESERVED {
        map.remove(k);
    }
    *headers = FieldTable::from(map);
    put_u32(headers, ATTEMPTS, state.attempts);
    put_u32(headers, RETRIES, state.retries);
    put_u32(headers, FOLLOWUPS, state.followups);
    if let Some(reference) = &state.reference {
        put_str(headers, REFERENCE, reference);
    }
    if let Some(at) = state.first_attempt_at {
        put_str(headers, FIRST_ATTEMPT_AT, &at.to_string());
    }
    if state.replays > 0 {
        put_u32(headers, REPLAYS, state.replays);
    }
    if let Some(documents) = &state.documents {
        put_str(headers, DOCUMENTS, documents);
    }
    put_str(headers, ROUTING_KEY, routing_key);
    put_str(
        headers,
        STATE_TAG,
        &tag(key, state, Some(routing_key), body),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> DeploymentKey {
        DeploymentKey::from_bytes(&[b; 32], crate::security::KeyOrigin::Ephemeral).expect("key")
    }

    #[test]
    fn case_state_survives_a_round_trip_through_headers() {
        let state = CaseState {
            attempts: 4,
            retries: 2,
            followups: 1,
            reference: Some("PA-123".into()),
            first_attempt_at: Some(1_795_000_000),
            replays: 2,
            documents: Some("qZk+NkcGgWq6PiVxeFDCbJzQ2J0=,2jmj7l5rSw0yVb/vlWAYkK/YBwk=".into()),
            redeliveries: 0,
        };
        let mut table = FieldTable::default();
        write_state(&mut table, &state, "case.appeal", b"body", &key(1));
        let carried = read_carried(Some(&table), b"body", &key(1));
        assert_eq!(carried.state, state);
        assert_eq!(carried.routing_key.as_deref(), Some("case.appeal"));
        assert!(!carried.rejected);
    }

    #[test]
    fn state_headers_a_publisher_forged_or_copied_are_ignored() {
        let state = CaseState {
            attempts: 9,
            followups: 3,
            reference: Some("PA-1".into()),
            first_attempt_at: Some(0),
            ..CaseState::default()
        };
        // Untagged, as a publisher would send them.
        let mut forged = FieldTable::default();
        put_u32(&mut forged, FOLLOWUPS, 3);
        put_str(&mut forged, REFERENCE, "PA-1");
        put_str(&mut forged, FIRST_ATTEMPT_AT, "0");
        let carried = read_carried(Some(&forged), b"body", &key(1));
        assert_eq!(carried.state, CaseState::default());
        assert!(carried.rejected);
        // Tagged under another key, or for another body, or altered after tagging.
        let mut table = FieldTable::default();
        write_state(&mut table, &state, "case.submitted", b"body", &key(2));
        assert!(read_carried(Some(&table), b"body", &key(1)).rejected);
        let mut table = FieldTable::default();
        write_state(&mut table, &state, "case.submitted", b"other body", &key(1));
        assert!(read_carried(Some(&table), b"body", &key(1)).rejected);
        let mut table = FieldTable::default();
        write_state(&mut table, &state, "case.submitted", b"body", &key(1));
        put_u32(&mut table, ATTEMPTS, 1);
        assert_eq!(
            read_carried(Some(&table), b"body", &key(1)).state,
            CaseState::default()
        );
        // The documents' hashes are tagged too: a publisher cannot swap in the hashes of other
        // bytes to slip a changed photo through under the same request identifier.
        let mut table = FieldTable::default();
        let with_documents = CaseState {
            documents: Some("qZk+NkcGgWq6PiVxeFDCbJzQ2J0=".into()),
            ..state.clone()
        };
        write_state(
            &mut table,
            &with_documents,
            "case.submitted",
            b"body",
            &key(1),
        );
        put_str(&mut table, DOCUMENTS, "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
        assert!(read_carried(Some(&table), b"body", &key(1)).rejected);
        // No reserved header at all: a first delivery, nothing rejected.
        assert_eq!(read_carried(None, b"body", &key(1)), Carried::default());
    }

    #[test]
    fn numbers_are_read_whatever_integer_type_carried_them() {
        let mut table = FieldTable::default();
        table.insert(DELIVERY_COUNT.into(), AMQPValue::LongInt(3));
        table.insert("a".into(), AMQPValue::ShortUInt(7));
        table.insert("b".into(), AMQPValue::LongString("12".into()));
        assert_eq!(get_u32(Some(&table), DELIVERY_COUNT), Some(3));
        assert_eq!(get_u32(Some(&table), "a"), Some(7));
        assert_eq!(get_u32(Some(&table), "b"), Some(12));
    }
}
