//! Debug output without patient data. Types that hold case text print ids, validated codes,
//! enumerations and counts; everything else is `<redacted>`, so a `{:?}` in a log line, a panic
//! message or a test failure cannot carry a name, a date, a member id or a note.

use std::fmt;

/// Stands in for a value debug output must not show.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Whether an optional value is there (`Some(<redacted>)`), never what it is.
pub(crate) fn redacted_option<T>(value: &Option<T>) -> Option<Redacted> {
    value.as_ref().map(|_| Redacted)
}

/// How many values a list holds, never what they are (`<2 redacted>`).
pub(crate) struct RedactedList(pub usize);

impl fmt::Debug for RedactedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} redacted>", self.0)
    }
}

/// A body of bytes by its length only (`<1234 bytes>`).
pub(crate) struct RedactedBytes(pub usize);

impl fmt::Debug for RedactedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}
