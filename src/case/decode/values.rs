//! Shapes of values the decoder checks before reading them: never showing the value itself.

use serde_json::Value;

/// The length of a refused value, for messages that must not show it.
pub(super) fn length(text: &str) -> String {
    match text.chars().count() {
        1 => "the value given has 1 character".to_owned(),
        n => format!("the value given has {n} characters"),
    }
}

/// `YYYY-MM-DD` exactly: chrono's `%Y-%m-%d` also takes a sign, one-digit fields and blanks.
pub(super) fn is_date_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// A whole number ≥ 1 that fits in u32; `2.0` counts (JSON does not tell integers apart).
pub(super) fn positive_integer(v: &Value) -> Option<u32> {
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    })?;
    u32::try_from(n).ok().filter(|n| *n >= 1)
}

/// The path of `key` inside the object at `path` (`service.procedures[0]` + `units`).
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
