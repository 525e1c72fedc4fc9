//! Members the contract does not define: where each one is, and which defined member it was
//! probably meant to be.
//!
//! A member's name is part of the input. It is repeated in the path only when it is shaped like
//! an identifier; the suggestion is always one of the contract's own names.

use crate::case::json::Members;

use super::super::UnknownMember;
use super::values::join;

/// How many unknown members of one event get a suggestion. A few misspellings are what a
/// suggestion is for; an event with more unknown members than this is not misspelt but foreign,
/// and comparing each of its names would only spend time (a 1 MiB body holds tens of thousands).
const SUGGESTED_AT_MOST: usize = 100;

/// Records every member of `m` (the object at `path`) whose name is not in `known`; `out` holds
/// those of the event recorded so far.
pub(super) fn record(
    path: &str,
    m: &Members<'_>,
    known: &[&'static str],
    out: &mut Vec<UnknownMember>,
) {
    for name in m.keys().filter(|name| !known.contains(name)) {
        let last = if is_identifier(name) {
            name
        } else {
            UnknownMember::UNNAMED
        };
        out.push(UnknownMember {
            path: join(path, last),
            suggestion: if out.len() < SUGGESTED_AT_MOST {
                suggestion(name, known)
            } else {
                None
            },
        });
    }
}

/// ASCII letters, digits, `_` and `-`, 1 to 64 of them: a name that can be shown as it is.
fn is_identifier(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The name in `known` closest to `name`, when it is close enough to be a misspelling of it.
///
/// Names are compared without letter case, `_`, `-` or blanks (`plannedDate` is `planned_date`),
/// by Damerau–Levenshtein distance (a swap of two neighbours is one edit). A name is plausible
/// when at least 70% of the longer of the two is unchanged, or when a single edit separates two
/// names of three characters or more (`url` for `uri`). Ties go to the name listed first.
pub(in crate::case) fn suggestion(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let wanted: Vec<char> = fold(name);
    // The contract's names are short: a name far longer than every one of them cannot be close
    // to any, and skipping it keeps a body of many long names cheap to read.
    if wanted.is_empty() || wanted.len() > LONGEST_PLAUSIBLE {
        return None;
    }
    let wanted: String = wanted.into_iter().collect();
    let mut best: Option<(&'static str, f64)> = None;
    for &candidate in known {
        let folded: String = fold(candidate).into_iter().collect();
        let (a, b) = (wanted.chars().count(), folded.chars().count());
        let longer = a.max(b);
        // The distance is at least the difference in length: skip what cannot qualify.
        if a.abs_diff(b) > 1 && a.abs_diff(b) as f64 > 0.3 * longer as f64 {
            continue;
        }
        let distance = strsim::damerau_levenshtein(&wanted, &folded);
        let similarity = strsim::normalized_damerau_levenshtein(&wanted, &folded);
        let plausible = similarity >= 0.7 || (distance == 1 && a.min(b) >= 3);
        if plausible && best.is_none_or(|(_, s)| similarity > s) {
            best = Some((candidate, similarity));
        }
    }
    best.map(|(name, _)| name)
}

/// Longer folded names are never compared: the longest name of the contract (27 characters,
/// 24 folded) is then below 70% of them.
const LONGEST_PLAUSIBLE: usize = 40;

fn fold(name: &str) -> Vec<char> {
    name.chars()
        .filter(|c| *c != '_' && *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::case::json::Json;

    use super::*;

    const LETTER_LEVEL: &[&str] = &[
        "indications",
        "clinical_notes",
        "photos",
        "prior_treatments",
        "letter_of_medical_necessity",
    ];

    #[test]
    fn a_misspelt_member_is_matched_with_the_member_meant() {
        for (name, known, meant) in [
            (
                "letter_of_medical_neccessity",
                LETTER_LEVEL,
                Some("letter_of_medical_necessity"),
            ),
            (
                "modifer",
                &["code", "system", "modifiers", "units"][..],
                Some("modifiers"),
            ),
            (
                "planed_date",
                &["planned_date", "place_of_service", "procedures"][..],
                Some("planned_date"),
            ),
            ("plannedDate", &["planned_date"][..], Some("planned_date")),
            ("Kind", &["kind", "case_id"][..], Some("kind")),
            ("url", &["id", "taken_on", "uri"][..], Some("uri")),
            ("unit", &["code", "units"][..], Some("units")),
            ("prior_treatment", LETTER_LEVEL, Some("prior_treatments")),
            ("foo", &["treatment", "from", "to", "result"][..], None),
            ("trace_id", &["id", "date", "text"][..], None),
            ("x", &["id"][..], None),
            ("", &["id"][..], None),
            ("_", &["id"][..], None),
            (&"letter".repeat(40), LETTER_LEVEL, None),
        ] {
            assert_eq!(suggestion(name, known), meant, "{name}");
        }
    }

    #[test]
    fn every_member_outside_the_list_is_recorded_with_its_path() {
        let text = json!({"code": "1", "modifer": ["E4"], "x-trace-id": "t", "note text": 1,
                          "é": 2, "units": 1})
        .to_string();
        let json = Json::parse(text.as_bytes()).expect("json");
        let m = json.as_object().expect("object");
        let mut out = Vec::new();
        record(
            "service.procedures[0]",
            m,
            &["code", "system", "modifiers", "units"],
            &mut out,
        );
        let got: Vec<(&str, Option<&str>)> = out
            .iter()
            .map(|u| (u.path.as_str(), u.suggestion))
            .collect();
        let unnamed = format!("service.procedures[0].{}", UnknownMember::UNNAMED);
        let mut want = vec![
            ("service.procedures[0].modifer", Some("modifiers")),
            ("service.procedures[0].x-trace-id", None),
            (unnamed.as_str(), None),
            (unnamed.as_str(), None),
        ];
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, want);
    }

    #[test]
    fn only_the_first_hundred_unknown_members_of_an_event_get_a_suggestion() {
        let json = Json::parse(br#"{"modifer": 1}"#).expect("json");
        let m = json.as_object().expect("object");
        let mut out = Vec::new();
        for _ in 0..SUGGESTED_AT_MOST + 2 {
            record("p", m, &["modifiers"], &mut out);
        }
        assert_eq!(out.len(), SUGGESTED_AT_MOST + 2);
        assert!(out[..SUGGESTED_AT_MOST]
            .iter()
            .all(|u| u.suggestion == Some("modifiers")));
        assert!(out[SUGGESTED_AT_MOST..]
            .iter()
            .all(|u| u.suggestion.is_none()));
    }

    #[test]
    fn a_name_is_shown_only_when_it_is_shaped_like_an_identifier() {
        for (name, shown) in [
            ("modifer", true),
            ("x-trace_id-2", true),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
            ("", false),
            ("note text", false),
            ("jane.doe", false),
            ("caf\u{e9}", false),
            ("a\u{0}", false),
        ] {
            assert_eq!(is_identifier(name), shown, "{name:?}");
        }
    }
}
