//! The first look at a message: is it a JSON object with usable `event_id` and `case_id`? A
//! message that is not cannot be answered (there is nobody to address an outcome to); the
//! driver parks it with the reason.

use super::json::{Json, Members};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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
pub struct Identified<'a> {
    pub event_id: String,
    pub case_id: String,
    /// The whole event, borrowing its strings from the message.
    pub body: Json<'a>,
}

impl std::fmt::Debug for Identified<'_> {
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
pub fn identify(bytes: &[u8]) -> Result<Identified<'_>, Unidentifiable> {
    let body = Json::parse(bytes).map_err(|e| Unidentifiable {
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
fn misspelt(map: &Members<'_>, key: &'static str) -> String {
    let near = map
        .keys()
        .any(|k| k != key && super::decode::members::suggestion(k, &[key]) == Some(key));
    if near {
        format!("; a member with a name close to it is present: did you mean `{key}`?")
    } else {
        String::new()
    }
}

/// Whether [`identify`] would answer these bytes, without building their body: the text is read
/// with the checks [`Json`] makes (numbers in range, strings valid), keeping the two ids only
/// (the last of a repeated one, as a map does). What cannot be answered is left to `identify`,
/// for its reason and detail.
pub fn check_identifiable(bytes: &[u8]) -> Result<(), Unidentifiable> {
    if let Ok(Ids { event_id, case_id }) = serde_json::from_slice::<Ids>(bytes) {
        if usable(event_id.as_ref()).is_ok() && usable(case_id.as_ref()).is_ok() {
            return Ok(());
        }
    }
    identify(bytes).map(|_| ())
}

/// The ids of an object, read as [`Json`] reads it.
struct Ids<'a> {
    event_id: Option<Json<'a>>,
    case_id: Option<Json<'a>>,
}

impl<'de> Deserialize<'de> for Ids<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(IdsVisitor)
    }
}

struct IdsVisitor;

impl<'de> Visitor<'de> for IdsVisitor {
    type Value = Ids<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ids<'de>, A::Error> {
        let mut ids = Ids {
            event_id: None,
            case_id: None,
        };
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::EventId => ids.event_id = Some(map.next_value()?),
                Key::CaseId => ids.case_id = Some(map.next_value()?),
                Key::Other => map.next_value::<Skipped>().map(|_| ())?,
            }
        }
        Ok(ids)
    }
}

/// A member's name: one of the ids, or another.
enum Key {
    EventId,
    CaseId,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, s: &str) -> Result<Key, E> {
        Ok(match s {
            "event_id" => Key::EventId,
            "case_id" => Key::CaseId,
            _ => Key::Other,
        })
    }
}

/// Any JSON value, read with the checks [`Json`] makes, and kept nowhere.
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkippedVisitor)
    }
}

struct SkippedVisitor;

impl<'de> Visitor<'de> for SkippedVisitor {
    type Value = Skipped;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_unit<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Skipped)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
        while map.next_key::<Key>()?.is_some() {
            map.next_value::<Skipped>()?;
        }
        Ok(Skipped)
    }
}

pub(super) fn usable_id(map: &Members<'_>, key: &str) -> Result<String, &'static str> {
    usable(map.get(key))
}

fn usable(value: Option<&Json<'_>>) -> Result<String, &'static str> {
    match value {
        None | Some(Json::Null) => Err("is missing"),
        Some(Json::String(s)) => {
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

pub(crate) fn json_kind(v: &Json<'_>) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checking_that_a_body_is_identifiable_agrees_with_identifying_it() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        let bodies = [
            r#"{"event_id": "e-1", "case_id": "c-1", "x": [1, {"y": null}]}"#.to_owned(),
            r#"{"event_id": " e-1 ", "case_id": "c-1"}"#.to_owned(),
            r#"{"event_id": "e-1"}"#.to_owned(),
            r#"{"case_id": "c-1"}"#.to_owned(),
            r#"{"event_id": null, "case_id": "c-1"}"#.to_owned(),
            r#"{"event_id": 7, "case_id": "c-1"}"#.to_owned(),
            r#"{"event_id": "  ", "case_id": "c-1"}"#.to_owned(),
            format!(r#"{{"event_id": "e-1", "case_id": "{long}"}}"#),
            r#"{"event_id": "e\u0001", "case_id": "c-1"}"#.to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1", "event_id": "e-2"}"#.to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1", "event_id": 3}"#.to_owned(),
            r#"{"event\u005fid": "e-1", "case_id": "c-1"}"#.to_owned(),
            r#"{"eventid": "e-1", "case_id": "c-1"}"#.to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1"} x"#.to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1""#.to_owned(),
            r#"[{"event_id": "e-1", "case_id": "c-1"}]"#.to_owned(),
            r#""e-1""#.to_owned(),
            "not json".to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1", "n": 1e400}"#.to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1", "n": [18446744073709551616, -0, 1.5]}"#
                .to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1", "s": "\ud800"}"#.to_owned(),
            r#"{"event_id": "e-1", "case_id": "c-1", "\ud800": 1}"#.to_owned(),
            format!(
                r#"{{"event_id": "e-1", "case_id": "c-1", "deep": {}{}}}"#,
                "[".repeat(130),
                "]".repeat(130)
            ),
        ];
        let mut bodies: Vec<Vec<u8>> = bodies.into_iter().map(String::into_bytes).collect();
        bodies.push(b"{\"event_id\": \"e-1\", \"case_id\": \"c-1\", \"s\": \"\xff\"}".to_vec());
        bodies.push(b"{\"event_id\": \"e-1\", \"case_id\": \"c-1\", \"\xff\": 1}".to_vec());
        for body in &bodies {
            let checked = check_identifiable(body);
            let identified = identify(body).map(|_| ());
            assert_eq!(checked, identified, "{}", String::from_utf8_lossy(body));
        }
    }
}
