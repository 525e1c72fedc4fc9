//! The headers the worker carries on a case event between deliveries: its retry and follow-up
//! state, the routing key it first arrived with, and the parking reason.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::retry::CaseState;

pub const ATTEMPTS: &str = "x-preauth-attempts";
pub const RETRIES: &str = "x-preauth-retries";
pub const FOLLOWUPS: &str = "x-preauth-followups";
pub const REFERENCE: &str = "x-preauth-reference";
pub const FIRST_ATTEMPT_AT: &str = "x-preauth-first-attempt-at";
/// The routing key the event first arrived with (delay tiers deliver with another one).
pub const ROUTING_KEY: &str = "x-preauth-routing-key";
pub const REASON: &str = "x-preauth-reason";
pub const DETAIL: &str = "x-preauth-detail";
/// How many times `parked replay` sent the event back to the work queue.
pub const REPLAYS: &str = "x-preauth-replays";
/// When the worker parked the message (RFC 3339).
pub const PARKED_AT: &str = "x-preauth-parked-at";
/// Set by quorum queues on redelivery.
pub const DELIVERY_COUNT: &str = "x-delivery-count";

/// Reads a header as an unsigned number, whatever integer type the sender used.
pub fn get_u32(table: Option<&FieldTable>, key: &str) -> Option<u32> {
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
pub fn get_str(table: Option<&FieldTable>, key: &str) -> Option<String> {
    match table?.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A copy of `table` (empty when there is none) without `key`.
pub fn without(table: Option<&FieldTable>, key: &str) -> FieldTable {
    let mut map = table.map(|t| t.inner().clone()).unwrap_or_default();
    map.remove(key);
    FieldTable::from(map)
}

pub fn put_str(table: &mut FieldTable, key: &str, value: &str) {
    table.insert(
        ShortString::from(key),
        AMQPValue::LongString(LongString::from(value)),
    );
}

pub fn put_u32(table: &mut FieldTable, key: &str, value: u32) {
    table.insert(
        ShortString::from(key),
        AMQPValue::LongLongInt(i64::from(value)),
    );
}

/// The case state carried in `headers` (defaults when absent or unreadable: a first delivery).
pub fn read_state(headers: Option<&FieldTable>) -> CaseState {
    CaseState {
        attempts: get_u32(headers, ATTEMPTS).unwrap_or(0),
        retries: get_u32(headers, RETRIES).unwrap_or(0),
        followups: get_u32(headers, FOLLOWUPS).unwrap_or(0),
        reference: get_str(headers, REFERENCE),
        first_attempt_at: get_str(headers, FIRST_ATTEMPT_AT).and_then(|s| s.parse().ok()),
        replays: get_u32(headers, REPLAYS).unwrap_or(0),
        redeliveries: get_u32(headers, DELIVERY_COUNT).unwrap_or(0),
    }
}

/// Writes the case state into `headers`, replacing what was there.
pub fn write_state(headers: &mut FieldTable, state: &CaseState) {
    put_u32(headers, ATTEMPTS, state.attempts);
    put_u32(headers, RETRIES, state.retries);
    put_u32(headers, FOLLOWUPS, state.followups);
    if state.replays > 0 {
        put_u32(headers, REPLAYS, state.replays);
    }
    if let Some(reference) = &state.reference {
        put_str(headers, REFERENCE, reference);
    }
    if let Some(at) = state.first_attempt_at {
        put_str(headers, FIRST_ATTEMPT_AT, &at.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_state_survives_a_round_trip_through_headers() {
        let state = CaseState {
            attempts: 4,
            retries: 2,
            followups: 1,
            reference: Some("PA-123".into()),
            first_attempt_at: Some(1_795_000_000),
            replays: 2,
            redeliveries: 0,
        };
        let mut table = FieldTable::default();
        write_state(&mut table, &state);
        assert_eq!(read_state(Some(&table)), state);
    }

    #[test]
    fn missing_or_odd_headers_read_as_a_first_delivery() {
        assert_eq!(read_state(None), CaseState::default());
        let mut table = FieldTable::default();
        table.insert(ATTEMPTS.into(), AMQPValue::Boolean(true));
        table.insert(RETRIES.into(), AMQPValue::LongInt(-3));
        assert_eq!(read_state(Some(&table)), CaseState::default());
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
