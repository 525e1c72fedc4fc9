//! Reading FHIR JSON without panicking: the accessors the response reader and the payer
//! simulator share.

use chrono::NaiveDate;
use serde_json::Value;

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn array_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

pub(crate) fn extensions<'a>(v: &'a Value, url: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    array_of(v, "extension")
        .iter()
        .filter(move |e| str_of(e, "url") == Some(url))
}

pub(crate) fn codings(concept: Option<&Value>) -> &[Value] {
    concept.map_or(&[][..], |c| array_of(c, "coding"))
}

/// The date part of a FHIR date or dateTime, as written (no time-zone conversion).
pub(crate) fn date_of(text: &str) -> Option<NaiveDate> {
    let head = text.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

pub(crate) fn positive_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
}

/// A non-negative whole number (JSON `2` or `2.0`) that fits in u32.
pub(crate) fn whole_u32(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u32)
    })
}

/// Codes coming from outside are echoed in messages only when short and plain.
pub(crate) fn safe_code(code: &str) -> String {
    if code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        code.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}
