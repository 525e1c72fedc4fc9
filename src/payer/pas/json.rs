//! Reading FHIR JSON without panicking: accessors over a `serde_json::Value` (the notification
//! reader and the payer simulator's request reader), and the lenient deserializers the typed
//! model reads through.

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

// ---------------------------------------------------------------------------------------------
// Lenient deserialization: the typed model reads FHIR JSON as the accessors above do, an element
// of the wrong JSON type counting as absent, so damage to a part the reader does not need never
// fails a response. The model is read from a parsed `serde_json::Value`, whose strings it borrows.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// A JSON scalar as found, or `Absent` for null, an array, an object or no value at all.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    #[default]
    Absent,
}

impl<'a> Scalar<'a> {
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer written as one (`2`, not `2.0`).
    pub(crate) fn as_u64(self) -> Option<u64> {
        match self {
            Scalar::Unsigned(n) => Some(n),
            _ => None,
        }
    }

    /// A positive integer that fits in u32.
    pub(crate) fn positive_u32(self) -> Option<u32> {
        self.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
    }

    /// A non-negative whole number (JSON `2` or `2.0`) that fits in u32.
    pub(crate) fn whole_u32(self) -> Option<u32> {
        match self {
            Scalar::Unsigned(n) => u32::try_from(n).ok(),
            Scalar::Float(f) if f.fract() == 0.0 && f >= 0.0 && f <= f64::from(u32::MAX) => {
                Some(f as u32)
            }
            _ => None,
        }
    }
}

impl Serialize for Scalar<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Scalar::Str(v) => s.serialize_str(v),
            Scalar::Unsigned(v) => s.serialize_u64(v),
            Scalar::Signed(v) => s.serialize_i64(v),
            Scalar::Float(v) => s.serialize_f64(v),
            Scalar::Bool(v) => s.serialize_bool(v),
            Scalar::Absent => s.serialize_unit(),
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        // Only text that can be borrowed from the input is kept (a Value's always is).
        Ok(Scalar::Absent)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Scalar::Signed(v), Scalar::Unsigned))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Absent)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Absent)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Absent)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// A string element; any other JSON type counts as absent.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    Scalar::deserialize(d).map(Scalar::as_str)
}

/// A number element kept as found, so a null or a string can be told from no element at all.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Scalar<'de>>, D::Error> {
    Scalar::deserialize(d).map(Some)
}

/// The visits of every JSON type but arrays and objects, each giving `$absent`.
macro_rules! scalars_are {
    ($absent:expr) => {
        fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
}

/// An object read as `T`; anything else (or an object `T` cannot take) counts as absent.
struct Loose<T>(Option<T>);

struct LooseVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Loose(T::deserialize(MapAccessDeserializer::new(map)).ok()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ScalarVisitor.visit_seq(seq).map(|_| Loose(None))
    }
    scalars_are!(Loose(None));
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(PhantomData))
    }
}

/// An object element; anything else counts as absent.
pub(crate) fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Loose::deserialize(d).map(|l| l.0)
}

/// An array whose elements are read as `E` and kept as `T`; anything else counts as empty.
struct Elements<X, T>(fn(X) -> T);

impl<'de, X: Deserialize<'de>, T> Visitor<'de> for Elements<X, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(x) = seq.next_element::<X>()? {
            out.push((self.0)(x));
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ScalarVisitor.visit_map(map).map(|_| Vec::new())
    }
    scalars_are!(Vec::new());
}

/// An array of objects; anything else counts as an empty array, and an element that is not an
/// object as an empty object.
pub(crate) fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    d.deserialize_any(Elements(|x: Loose<T>| x.0.unwrap_or_default()))
}

/// An array of scalars; anything else counts as an empty array.
pub(crate) fn scalars<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Scalar<'de>>, D::Error> {
    d.deserialize_any(Elements(|x: Scalar<'de>| x))
}
