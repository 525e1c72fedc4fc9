//! The first look at a message: is it a JSON object with usable `event_id` and `case_id`? A
//! message that is not cannot be answered (there is nobody to address an outcome to); the
//! driver parks it with the reason.

use serde_json::{Map, Value};

/// Longest identifier accepted for `event_id` and `case_id`.
pub(crate) const MAX_ID_LEN: usize = 128;

/// Why a message cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    NotJson,
    NotAnObject,
    NoEventId,
    NoCaseId,
}

impl Unreadable {
    pub const ALL: [Unreadable; 4] = [
        Unreadable::NotJson,
        Unreadable::NotAnObject,
        Unreadable::NoEventId,
        Unreadable::NoCaseId,
    ];

    /// The short code the parking queue shows (`x-preauth-reason`).
    pub fn code(self) -> &'static str {
        match self {
            Unreadable::NotJson => "not-json",
            Unreadable::NotAnObject => "not-an-object",
            Unreadable::NoEventId => "no-event-id",
            Unreadable::NoCaseId => "no-case-id",
        }
    }
}

/// A message that cannot be answered, with one human line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unidentifiable {
    pub reason: Unreadable,
    pub detail: String,
}

/// A message that can be answered: a JSON object with usable `event_id` and `case_id`.
#[derive(Clone)]
pub struct Identified {
    pub event_id: String,
    pub case_id: String,
    pub body: Value,
}

impl std::fmt::Debug for Identified {
    /// The ids only: the body is the whole case event.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identified")
            .field("event_id", &self.event_id)
            .field("case_id", &self.case_id)
            .field("body", &super::redact::Redacted)
            .finish()
    }
}

/// Parses the bytes and finds the identifiers. Anything that fails here is parked, not answered.
pub fn identify(bytes: &[u8]) -> Result<Identified, Unidentifiable> {
    let body: Value = serde_json::from_slice(bytes).map_err(|e| Unidentifiable {
        reason: Unreadable::NotJson,
        detail: format!("body is not JSON: {}", json_error(&e)),
    })?;
    let Some(map) = body.as_object() else {
        return Err(Unidentifiable {
            reason: Unreadable::NotAnObject,
            detail: format!("body is JSON {} rather than an object", json_kind(&body)),
        });
    };
    let event_id = usable_id(map, "event_id").map_err(|why| Unidentifiable {
        reason: Unreadable::NoEventId,
        detail: format!("event_id {why}{}", misspelt(map, "event_id")),
    })?;
    let case_id = usable_id(map, "case_id").map_err(|why| Unidentifiable {
        reason: Unreadable::NoCaseId,
        detail: format!("case_id {why}{}", misspelt(map, "case_id")),
    })?;
    Ok(Identified {
        event_id,
        case_id,
        body,
    })
}

/// A hint when another top-level member looks like a misspelling of `key` (`caseid`): the
/// member's own name is not repeated, only the field it was probably meant to be.
fn misspelt(map: &Map<String, Value>, key: &'static str) -> String {
    let near = map
        .keys()
        .any(|k| k != key && super::decode::members::suggestion(k, &[key]) == Some(key));
    if near {
        format!("; a member with a name close to it is present: did you mean `{key}`?")
    } else {
        String::new()
    }
}

pub(super) fn usable_id(map: &Map<String, Value>, key: &str) -> Result<String, &'static str> {
    match map.get(key) {
        None | Some(Value::Null) => Err("is missing"),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Err("is empty")
            } else if s.len() > MAX_ID_LEN {
                Err("is longer than 128 characters")
            } else if s.chars().any(char::is_control) {
                Err("contains control characters")
            } else {
                Ok(s.to_owned())
            }
        }
        Some(_) => Err("is not a string"),
    }
}

/// What is wrong with a JSON text, by category and position only. serde_json's own message is not
/// used: for some errors it quotes the input.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "a syntax error",
        Category::Eof => "the text ends before the JSON value does",
        Category::Data => "a value of the wrong type",
        Category::Io => "a read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
