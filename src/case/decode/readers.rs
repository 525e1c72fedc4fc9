//! The decoder's field readers: one member of an object, read as what the contract says it is,
//! with a finding at its path when it is not.

use crate::case::json::{Json, Members};
use chrono::{DateTime, FixedOffset, NaiveDate};

use super::values::{is_date_shaped, join};
use super::{rule, Decoder};
use crate::codes::Npi;

impl Decoder {
    pub(super) fn as_object<'a>(&mut self, path: &str, v: &'a Json<'a>) -> Option<&'a Members<'a>> {
        let o = v.as_object();
        if o.is_none() {
            self.error(path, "expected an object");
        }
        o
    }

    pub(super) fn object<'a>(
        &mut self,
        m: &'a Members<'a>,
        path: &str,
        key: &str,
    ) -> Option<(String, &'a Members<'a>)> {
        let p = join(path, key);
        match m.get(key) {
            None | Some(Json::Null) => {
                self.error(&p, "required field is missing");
                None
            }
            Some(Json::Object(o)) => Some((p, o)),
            Some(_) => {
                self.error(&p, "expected an object");
                None
            }
        }
    }

    pub(super) fn string(&mut self, m: &Members<'_>, path: &str, key: &str) -> Option<String> {
        match m.get(key) {
            None | Some(Json::Null) => {
                self.error(&join(path, key), "required field is missing");
                None
            }
            Some(Json::String(s)) if !s.trim().is_empty() => Some(s.to_string()),
            Some(Json::String(_)) => {
                self.error(&join(path, key), "must not be empty");
                None
            }
            Some(_) => {
                self.error(&join(path, key), "expected a string");
                None
            }
        }
    }

    /// `Some(None)` when absent or null, `None` when present but wrong.
    pub(super) fn opt_string(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
    ) -> Option<Option<String>> {
        match m.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(Json::String(s)) => Some(Some(s.to_string()).filter(|s| !s.trim().is_empty())),
            Some(_) => {
                self.error(&join(path, key), "expected a string");
                None
            }
        }
    }

    pub(super) fn opt_array<'a>(
        &mut self,
        m: &'a Members<'a>,
        path: &str,
        key: &str,
    ) -> Option<&'a Vec<Json<'a>>> {
        match m.get(key) {
            None | Some(Json::Null) => None,
            Some(Json::Array(a)) => Some(a),
            Some(_) => {
                self.error(&join(path, key), "expected an array");
                None
            }
        }
    }

    /// An optional list (absent means empty) whose items all decode.
    pub(super) fn list<T>(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
        item: impl FnMut(&mut Self, &str, &Json<'_>) -> Option<T>,
    ) -> Option<Vec<T>> {
        match m.get(key) {
            None | Some(Json::Null) => Some(Vec::new()),
            Some(Json::Array(_)) => self.items(m, path, key, item),
            Some(_) => {
                self.error(&join(path, key), "expected an array");
                None
            }
        }
    }

    /// A required list with at least one item, all of which decode.
    pub(super) fn non_empty_list<T>(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
        item: impl FnMut(&mut Self, &str, &Json<'_>) -> Option<T>,
    ) -> Option<Vec<T>> {
        match m.get(key) {
            None | Some(Json::Null) => {
                self.error(&join(path, key), "required field is missing");
                None
            }
            Some(Json::Array(a)) if a.is_empty() => {
                self.error(&join(path, key), "must list at least one entry");
                None
            }
            Some(Json::Array(_)) => self.items(m, path, key, item),
            Some(_) => {
                self.error(&join(path, key), "expected an array");
                None
            }
        }
    }

    pub(super) fn items<T>(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
        mut item: impl FnMut(&mut Self, &str, &Json<'_>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let items = m.get(key).and_then(Json::as_array)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        let list = join(path, key);
        for (i, v) in items.iter().enumerate() {
            match item(self, &super::values::item(&list, i), v) {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn enumerated<T: Copy>(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        // The path is made only for a finding: most fields have none.
        let p = || join(path, key);
        let names = || {
            allowed
                .iter()
                .map(|(n, _)| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match m.get(key) {
            None | Some(Json::Null) => {
                self.error(&p(), "required field is missing");
                None
            }
            Some(Json::String(s)) => {
                let found = allowed.iter().find(|(n, _)| *n == s).map(|(_, v)| *v);
                if found.is_none() {
                    self.error(&p(), format!("expected one of {}", names()));
                }
                found
            }
            Some(_) => {
                self.error(&p(), format!("expected one of {}", names()));
                None
            }
        }
    }

    /// An optional enumerated word: `Some(None)` when absent or null, `None` when wrong.
    pub(super) fn opt_enumerated<T: Copy>(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
        allowed: &[(&str, T)],
    ) -> Option<Option<T>> {
        match m.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(_) => self.enumerated(m, path, key, allowed).map(Some),
        }
    }

    pub(super) fn date(&mut self, m: &Members<'_>, path: &str, key: &str) -> Option<NaiveDate> {
        // The path is made only for a finding: most fields have none.
        let p = || join(path, key);
        match m.get(key) {
            None | Some(Json::Null) => {
                self.error(&p(), "required field is missing");
                None
            }
            Some(Json::String(s)) => match calendar_date(s) {
                Some(d) => Some(d),
                None => {
                    self.error(&p(), "expected a calendar date YYYY-MM-DD");
                    None
                }
            },
            Some(_) => {
                self.error(&p(), "expected a calendar date YYYY-MM-DD");
                None
            }
        }
    }

    pub(super) fn datetime(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
    ) -> Option<DateTime<FixedOffset>> {
        // The path is made only for a finding: most fields have none.
        let p = || join(path, key);
        match m.get(key) {
            None | Some(Json::Null) => {
                self.error(&p(), "required field is missing");
                None
            }
            // chrono also takes U+2212 MINUS SIGN before the offset, which RFC 3339 does not.
            Some(Json::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) if s.is_ascii() => Some(t),
                _ => {
                    self.error(&p(), "expected an RFC 3339 date-time with a UTC offset");
                    None
                }
            },
            Some(_) => {
                self.error(&p(), "expected an RFC 3339 date-time with a UTC offset");
                None
            }
        }
    }

    pub(super) fn npi(&mut self, m: &Members<'_>, path: &str, key: &str) -> Option<Npi> {
        let text = self.string(m, path, key)?;
        match Npi::parse(&text) {
            Ok(npi) => Some(npi),
            // `CodeError` messages are fixed text: they say what was expected, never the value.
            Err(e) => {
                self.error_rule(rule::NPI_FORMAT, &join(path, key), e.to_string());
                None
            }
        }
    }

    /// An optional NPI: `Some(None)` when absent or null, `None` when wrong.
    pub(super) fn opt_npi(
        &mut self,
        m: &Members<'_>,
        path: &str,
        key: &str,
    ) -> Option<Option<Npi>> {
        match m.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(_) => self.npi(m, path, key).map(Some),
        }
    }
}

/// `YYYY-MM-DD` exactly ([`is_date_shaped`]), and a day of the calendar.
fn calendar_date(s: &str) -> Option<NaiveDate> {
    if !is_date_shaped(s) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| s.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}
