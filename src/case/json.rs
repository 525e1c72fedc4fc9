//! A case event's JSON, read once and borrowed from the message.
//!
//! The decoder reads a tree so that it can report every problem of an event with its path. Built
//! as a `serde_json::Value`, that tree copied every string and every member name into an
//! allocation of its own and put each object's members in a B-tree: a quarter of the worker's
//! instructions per case. This tree borrows every string without an escape from the message's
//! bytes and keeps an object's members in one vector.
//!
//! It reads what `serde_json::Value` reads (the same parser: numbers, strings, nesting limit and
//! errors are serde_json's own) and presents it the same way: a repeated member name keeps its
//! last value, and an object's members are in the order of their names, as in a `Value`'s map,
//! so what the decoder reports and in which order does not change. One difference: a member
//! named `$serde_json::private::RawValue` is a member like any other, where `Value` (with the
//! `raw_value` feature a dependency turns on) would read the JSON text inside its string instead.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// One JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Members<'a>),
}

/// Objects of up to this many members are scanned rather than searched.
const LINEAR_UP_TO: usize = 16;

/// An object's members, ordered by name, each name once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Members<'a> {
    sorted: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Json<'a> {
    /// Reads a whole JSON text, as `serde_json::from_slice::<Value>` does.
    pub fn parse(bytes: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn as_object(&self) -> Option<&Members<'a>> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Json<'a>>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// As `Value::as_u64`: a number that is a whole number in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// As `Value::as_f64`: any number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// Whether `value` holds what this tree holds, member for member and in the same order:
    /// how the tests and the fuzz target compare it with serde_json's reading of the same text.
    pub fn holds_as(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (self, value) {
            (Json::Null, Value::Null) => true,
            (Json::Bool(a), Value::Bool(b)) => a == b,
            (Json::Number(a), Value::Number(b)) => a == b,
            (Json::String(a), Value::String(b)) => a == b,
            (Json::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.holds_as(b))
            }
            (Json::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.holds_as(vb))
            }
            _ => false,
        }
    }

    /// The member `key` of an object; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object().and_then(|m| m.get(key))
    }
}

impl<'a> Members<'a> {
    /// From members in the order they were read: a repeated name keeps its last value.
    fn from_read(mut read: Vec<(Cow<'a, str>, Json<'a>)>) -> Self {
        if !read.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable, so the values of a repeated name stay in the order they were read.
            read.sort_by(|a, b| a.0.cmp(&b.0));
            read.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    std::mem::swap(&mut later.1, &mut earlier.1);
                }
                same
            });
        }
        Members { sorted: read }
    }

    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        // The contract's objects have a handful of members: a scan that compares lengths first
        // touches fewer bytes than a search. A large object is searched.
        if self.sorted.len() <= LINEAR_UP_TO {
            return self
                .sorted
                .iter()
                .find(|(name, _)| name.len() == key.len() && name.as_ref() == key)
                .map(|(_, v)| v);
        }
        self.sorted
            .binary_search_by(|(name, _)| name.as_ref().cmp(key))
            .ok()
            .map(|i| &self.sorted[i].1)
    }

    /// The members' names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.sorted.iter().map(|(name, _)| name.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.sorted.iter().map(|(name, v)| (name.as_ref(), v))
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json<'de>, E> {
        // As `Value` does: a float JSON cannot hold is null.
        Ok(Number::from_f64(f).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Deserialize::deserialize(d)
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // serde_json gives no size hint: room for a typical object of the contract up front.
        let mut read = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        while let Some(name) = map.next_key_seed(Name)? {
            read.push((name, map.next_value()?));
        }
        Ok(Json::Object(Members::from_read(read)))
    }
}

/// A member's name, borrowed when it has no escape.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Reads `text` both ways: the same tree, or errors of the same category at the same place.
    fn agrees(text: &[u8]) -> bool {
        match (Json::parse(text), serde_json::from_slice::<Value>(text)) {
            (Ok(a), Ok(b)) => a.holds_as(&b),
            (Err(a), Err(b)) => {
                a.classify() == b.classify() && a.line() == b.line() && a.column() == b.column()
            }
            _ => false,
        }
    }

    #[test]
    fn a_text_is_read_into_the_same_tree_as_serde_json_s_value() {
        let texts: Vec<Vec<u8>> = [
            r#"{"b": 1, "a": [true, null, "x"], "c": {"z": -2, "y": 1.5}}"#,
            r#"{"k": 1, "k": 2, "a": 0, "k": 3}"#,
            r#"{"k": {"x": 1}, "k": "then a string"}"#,
            r#"{"\u0061": "escaped name", "a": "plain name"}"#,
            r#"{"s": "line\nbreak \u00e9 \"quoted\""}"#,
            r#"[18446744073709551615, 18446744073709551616, -9223372036854775808, -0, 0.1, 1e308]"#,
            r#"{"n": 1e400}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 1} trailing"#,
            r#"{"a": 1"#,
            "",
            "nul",
            r#""just a string""#,
            r#"{}"#,
            r#"[]"#,
            r#"{"B": 1, "a": 2, "_": 3, "é": 4, "Z": 5}"#,
        ]
        .into_iter()
        .map(|t| t.as_bytes().to_vec())
        .chain([
            b"{\"a\": \"\xff\"}".to_vec(),
            format!("{}{}", "[".repeat(127), "]".repeat(127)).into_bytes(),
            format!("{}{}", "[".repeat(129), "]".repeat(129)).into_bytes(),
        ])
        .collect();
        for text in &texts {
            assert!(agrees(text), "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn serde_json_s_raw_value_token_is_an_ordinary_member_name() {
        // With serde_json's `raw_value` feature on (a dependency turns it on), `Value` reads an
        // object whose first member has this name as the JSON text inside its string: an event
        // could arrive wrapped in a string and be read as if it had not. Here it is a member.
        let text = br#"{"$serde_json::private::RawValue": "{\"event_id\": \"e-1\"}"}"#;
        let json = Json::parse(text).expect("json");
        let m = json.as_object().expect("object");
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["$serde_json::private::RawValue"]
        );
        assert_eq!(m.get("event_id"), None);
    }

    #[test]
    fn a_repeated_member_keeps_its_last_value_and_names_stay_in_order() {
        let json = Json::parse(br#"{"k": 1, "b": 2, "k": 3, "a": 4, "k": 5}"#).expect("json");
        let m = json.as_object().expect("object");
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "k"]);
        assert_eq!(m.get("k").and_then(Json::as_u64), Some(5));
        assert_eq!(m.get("missing"), None);
    }

    #[test]
    fn every_member_of_a_small_or_a_large_object_is_found_by_its_name() {
        for n in [1, LINEAR_UP_TO, LINEAR_UP_TO + 1, 300] {
            let members: Vec<String> = (0..n).rev().map(|i| format!(r#""m{i}": {i}"#)).collect();
            let text = format!("{{{}}}", members.join(", "));
            let json = Json::parse(text.as_bytes()).expect("json");
            let m = json.as_object().expect("object");
            for i in 0..n {
                assert_eq!(
                    m.get(&format!("m{i}")).and_then(Json::as_u64),
                    Some(i as u64)
                );
            }
            assert_eq!(m.get("m"), None);
            assert_eq!(m.get(&format!("m{n}")), None);
        }
    }

    #[test]
    fn strings_without_an_escape_are_borrowed_from_the_text() {
        let json = Json::parse(br#"{"plain": "abc", "esc\u0061ped": "a\tb"}"#).expect("json");
        let m = json.as_object().expect("object");
        assert!(matches!(
            m.get("plain"),
            Some(Json::String(Cow::Borrowed("abc")))
        ));
        assert!(matches!(m.get("escaped"), Some(Json::String(Cow::Owned(s))) if s == "a\tb"));
        assert!(m
            .sorted
            .iter()
            .any(|(name, _)| matches!(name, Cow::Owned(n) if n == "escaped")));
    }
}
