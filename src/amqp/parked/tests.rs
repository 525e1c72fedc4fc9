use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use super::peek::{header_texts, MAX_HEADER_VALUE};
use super::*;

fn info_with(case_id: Option<&str>, fingerprint: &str) -> ParkedInfo {
    ParkedInfo {
        reason: "retries-exhausted".into(),
        detail: String::new(),
        case_id: case_id.map(str::to_owned),
        event_id: None,
        parked_at: None,
        attempts: 0,
        bytes: 0,
        fingerprint: fingerprint.into(),
    }
}

#[test]
fn a_fingerprint_names_one_parked_message_and_stays_the_same() {
    let a = fingerprint(b"{}", Some("2026-03-02T10:00:00Z"), Some("not-json"));
    assert_eq!(a.len(), 16);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        a,
        fingerprint(b"{}", Some("2026-03-02T10:00:00Z"), Some("not-json"))
    );
    assert_ne!(
        a,
        fingerprint(b"{}", Some("2026-03-02T10:00:01Z"), Some("not-json"))
    );
    assert_ne!(
        a,
        fingerprint(b"{}", Some("2026-03-02T10:00:00Z"), Some("too-large"))
    );
    assert_ne!(
        a,
        fingerprint(b"[]", Some("2026-03-02T10:00:00Z"), Some("not-json"))
    );
    // The parts are length-prefixed: moving a byte from one part to the next is another name.
    assert_ne!(
        fingerprint(b"ab", Some("c"), None),
        fingerprint(b"a", Some("bc"), None)
    );
}

#[test]
fn a_selection_takes_a_case_or_a_fingerprint_or_everything() {
    let i = info_with(Some("C-1"), "0123456789abcdef");
    assert!(Selection::All.takes(&i));
    assert!(Selection::Case("C-1".into()).takes(&i));
    assert!(!Selection::Case("C-2".into()).takes(&i));
    assert!(Selection::Fingerprint("0123456789ABCDEF".into()).takes(&i));
    assert!(!Selection::Fingerprint("0123456789abcde".into()).takes(&i));
    assert!(!Selection::Case("C-1".into()).takes(&info_with(None, "x")));
}

#[test]
fn headers_are_shown_as_bounded_text_without_control_characters() {
    let mut t = FieldTable::default();
    t.insert(
        ShortString::from("x-preauth-reason"),
        AMQPValue::LongString(LongString::from("not-json")),
    );
    t.insert(
        ShortString::from("x-long"),
        AMQPValue::LongString(LongString::from("a\u{7}b".repeat(2000))),
    );
    t.insert(ShortString::from("x-n"), AMQPValue::LongLongInt(42));
    t.insert(
        ShortString::from("x-death"),
        AMQPValue::FieldArray(vec![AMQPValue::Boolean(true)].into()),
    );
    let shown = header_texts(Some(&t));
    let get = |k: &str| {
        shown
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("x-preauth-reason"), "not-json");
    assert_eq!(get("x-n"), "42");
    assert_eq!(get("x-death"), "[true]");
    let long = get("x-long");
    assert_eq!(long.chars().count(), MAX_HEADER_VALUE);
    assert!(!long.contains('\u{7}'));
    assert!(header_texts(None).is_empty());
}
