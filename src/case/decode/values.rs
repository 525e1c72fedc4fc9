//! Shapes of values the decoder checks before reading them: never showing the value itself.

use crate::case::json::Json;

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
pub(super) fn positive_integer(v: &Json<'_>) -> Option<u32> {
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
        return key.to_owned();
    }
    // Built by hand: paths are made for every object and list item of every event.
    let mut joined = String::with_capacity(path.len() + 1 + key.len());
    joined.push_str(path);
    joined.push('.');
    joined.push_str(key);
    joined
}

/// The path of item `i` of the list at `path` (`service.procedures` + 0).
pub(super) fn item(path: &str, i: usize) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = i;
    loop {
        at -= 1;
        // A decimal digit: `n % 10` is below 10.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut p = String::with_capacity(path.len() + 2 + digits.len() - at);
    p.push_str(path);
    p.push('[');
    for d in &digits[at..] {
        p.push(char::from(*d));
    }
    p.push(']');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_members_with_dots_and_items_with_their_decimal_index() {
        assert_eq!(join("", "service"), "service");
        assert_eq!(join("service", "procedures"), "service.procedures");
        for i in [0, 7, 10, 123, usize::MAX] {
            assert_eq!(
                item("service.procedures", i),
                format!("service.procedures[{i}]")
            );
        }
    }
}
