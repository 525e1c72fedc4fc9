//! Where the lesions are: the lid margin for codes that are only for the margin (COD-04), and
//! the side and lid an E1–E4 modifier names (MOD-04, MOD-06).
//!
//! Structured fields decide when they are sent: a SNOMED CT body site the worker knows
//! (config/clinical.toml `[body_sites]`), the distance from the margin in millimetres, the
//! laterality and the lid. Without them the free-text site is read conservatively: the lesion is
//! at the margin only when the text places it there and nothing places it elsewhere, and the
//! notes do not speak of the margin only to deny it. Messages never quote the site or a note.

use crate::case::registry::{COD_04, MOD_04, MOD_06};
use crate::case::{CaseEvent, Finding, Laterality, Lesions, LidPart};
use crate::codes::Eyelid;
use crate::rules::clinical::{BodyPart, BodySite, NoteReading};
use crate::rules::Policy;

const ASK: &str =
    "send lesions.body_site (SNOMED CT) or lesions.distance_from_margin_mm to state it";

/// COD-04 for a code that is only for lesions of the lid margin.
pub(super) fn lid_margin(
    code: &str,
    l: &Lesions,
    policy: &Policy,
    notes: &[NoteReading],
    out: &mut Vec<Finding>,
) {
    let coded = l
        .body_site
        .as_deref()
        .and_then(|c| policy.clinical.body_site(c));
    let on_margin_by_code = coded.map(|b| b.part);
    let problem = match (on_margin_by_code, l.distance_from_margin_mm) {
        (Some(BodyPart::Margin), Some(d)) if d > 0.0 => Some((
            "lesions.distance_from_margin_mm",
            format!("the coded body site is the lid margin, but the lesion is {d} mm from it"),
        )),
        (Some(BodyPart::Margin), _) => None,
        (Some(BodyPart::Skin | BodyPart::Other), _) => Some((
            "lesions.body_site",
            format!("{code} is only for lesions of the lid margin; the coded body site is not the margin"),
        )),
        (_, Some(d)) if d > 0.0 => Some((
            "lesions.distance_from_margin_mm",
            format!("{code} is only for lesions of the lid margin; the lesion is {d} mm from it"),
        )),
        (_, Some(_)) => None,
        (Some(BodyPart::Eyelid) | None, None) => text_fallback(code, l, policy, notes),
    };
    if let Some((field, message)) = problem {
        out.push(COD_04.finding(&format!("service.{field}"), message));
    }
}

/// The free-text site, read conservatively.
fn text_fallback(
    code: &str,
    l: &Lesions,
    policy: &Policy,
    notes: &[NoteReading],
) -> Option<(&'static str, String)> {
    let reading = policy.clinical.read_site(&l.site);
    let notes_deny =
        !notes.iter().any(|r| r.margin_affirmed) && notes.iter().any(|r| r.margin_denied);
    let why = if reading.at_margin() && !notes_deny {
        return None;
    } else if reading.off_margin || reading.margin_denied {
        "the site text places the lesion off the lid margin, or only near it"
    } else if !reading.margin_affirmed {
        "the site text does not name the lid margin or lash line"
    } else {
        "the clinical notes mention the lid margin only to say it is clear or not involved"
    };
    Some((
        "lesions.site",
        format!("{code} is only for lesions of the lid margin; {why}: {ASK}"),
    ))
}

/// The eyelids the lesions are on, from the structured fields, then the coded body site, then
/// the site text when it names one side and one lid (or "both") unambiguously.
enum Lids {
    Known(Vec<Eyelid>, &'static str),
    Unclear,
}

fn lids(l: &Lesions, policy: &Policy) -> Lids {
    let coded: Option<BodySite> = l
        .body_site
        .as_deref()
        .and_then(|c| policy.clinical.body_site(c));
    let side = l.laterality.or(coded.and_then(|b| b.laterality));
    let lid = l.lid.or(coded.and_then(|b| b.lid));
    if let (Some(side), Some(lid)) = (side, lid) {
        return Lids::Known(combine(side, lid), "the structured lesion site");
    }
    match text_lids(&l.site) {
        Some((side, lid)) => Lids::Known(combine(side, lid), "the lesion site text"),
        None => Lids::Unclear,
    }
}

fn combine(side: Laterality, lid: LidPart) -> Vec<Eyelid> {
    let sides: &[bool] = match side {
        Laterality::Right => &[true],
        Laterality::Left => &[false],
        Laterality::Both => &[true, false],
    };
    let uppers: &[bool] = match lid {
        LidPart::Upper => &[true],
        LidPart::Lower => &[false],
        LidPart::Both => &[true, false],
    };
    let mut out = Vec::new();
    for &right in sides {
        for &upper in uppers {
            out.push(match (right, upper) {
                (true, true) => Eyelid::RightUpper,
                (true, false) => Eyelid::RightLower,
                (false, true) => Eyelid::LeftUpper,
                (false, false) => Eyelid::LeftLower,
            });
        }
    }
    out
}

/// The side and lid a site text names, when it names them unambiguously.
fn text_lids(site: &str) -> Option<(Laterality, LidPart)> {
    let lower = site.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let (mut right, mut left, mut both_sides) = (false, false, false);
    let (mut upper, mut lower_lid, mut both_lids) = (false, false, false);
    for (i, w) in words.iter().enumerate() {
        let next_is_lid = words
            .get(i + 1)
            .is_some_and(|n| matches!(*n, "lid" | "lids" | "eyelid" | "eyelids"));
        match *w {
            "right" | "rt" | "od" => right = true,
            "left" | "lt" | "os" => left = true,
            "both" | "bilateral" | "bilaterally" | "ou" => both_sides = true,
            "upper" => upper = true,
            "lower" => lower_lid = true,
            "superior" if next_is_lid => upper = true,
            "inferior" if next_is_lid => lower_lid = true,
            "rul" => (right, upper) = (true, true),
            "rll" => (right, lower_lid) = (true, true),
            "lul" => (left, upper) = (true, true),
            "lll" => (left, lower_lid) = (true, true),
            _ => {}
        }
        if matches!(*w, "all" | "four") && next_is_lid {
            both_lids = true;
            both_sides = true;
        }
    }
    let side = match (right, left, both_sides) {
        (true, true, _) | (_, _, true) => Laterality::Both,
        (true, false, false) => Laterality::Right,
        (false, true, false) => Laterality::Left,
        _ => return None,
    };
    let lid = match (upper, lower_lid, both_lids) {
        (true, true, _) | (_, _, true) => LidPart::Both,
        (true, false, false) => LidPart::Upper,
        (false, true, false) => LidPart::Lower,
        _ => return None,
    };
    // "Both" from the text alone is ambiguous when a single side word is also present with a
    // single lid ("right lower lid, both lesions"): the structured fields settle it.
    Some((side, lid))
}

/// The lids of the E1–E4 modifiers must be lids the lesions are on: a contradiction is an
/// error; a site that does not say which lid is a warning asking for the structured fields.
pub(super) fn modifiers_match_site(case: &CaseEvent, policy: &Policy, out: &mut Vec<Finding>) {
    let Some(l) = case.service.lesions.as_ref() else {
        return;
    };
    let lids = lids(l, policy);
    for (i, p) in case.service.procedures.iter().enumerate() {
        let mut asked = false;
        for (j, m) in p.modifiers.iter().enumerate() {
            let Some(lid) = m.eyelid() else { continue };
            match &lids {
                Lids::Known(on, source) if !on.contains(&lid) => {
                    let named: Vec<&str> = on.iter().map(|e| e.describe()).collect();
                    out.push(MOD_04.finding(
                        &format!("service.procedures[{i}].modifiers[{j}]"),
                        format!(
                            "{m} names the {}, but {source} places the lesions on the {}",
                            lid.describe(),
                            named.join(" and ")
                        ),
                    ));
                }
                Lids::Known(..) => {}
                Lids::Unclear if !asked => {
                    asked = true;
                    out.push(MOD_06.finding(
                        &format!("service.procedures[{i}].modifiers"),
                        "the lesion site does not name one side and lid unambiguously, so the E1-E4 modifier cannot be checked against it: send lesions.laterality and lesions.lid",
                    ));
                }
                Lids::Unclear => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rules::testing::{base, findings, ids};

    fn site_findings(site: &str, extra: &[(&str, serde_json::Value)]) -> Vec<String> {
        let mut v = base();
        v["service"]["lesions"]["site"] = json!(site);
        for (k, val) in extra {
            v["service"]["lesions"][*k] = val.clone();
        }
        ids(&findings(&v, "default"))
            .into_iter()
            .filter(|r| r.starts_with("COD-04") || r.starts_with("MOD-0"))
            .collect()
    }

    #[test]
    fn a_site_text_passes_for_the_margin_only_when_it_places_the_lesion_there() {
        for site in [
            "right lower eyelid margin",
            "right lower lid margin, at the lash line",
            "RLL grey line",
        ] {
            assert_eq!(site_findings(site, &[]), Vec::<String>::new(), "{site}");
        }
        for site in [
            "right lower eyelid skin, 4 mm inferior to the lid margin",
            "right lower lid, near the lash line but on the anterior lamella skin",
            "right lower eyelid skin beneath the margin",
            "right lower lid, margin clear",
            "right lower lid",
        ] {
            assert_eq!(site_findings(site, &[]), vec!["COD-04:E"], "{site}");
        }
    }

    #[test]
    fn a_note_that_says_the_margin_is_clear_contradicts_a_margin_site() {
        let mut v = base();
        v["documentation"]["clinical_notes"][0]["text"] = json!(
            "Lid margin clear. Two milia on the pretarsal skin; pain on blinking; blurred vision."
        );
        assert!(ids(&findings(&v, "default")).contains(&"COD-04:E".to_owned()));
    }

    #[test]
    fn structured_fields_decide_before_the_text() {
        // The text alone would fail; a distance of 0 settles it.
        assert_eq!(
            site_findings("right lower lid", &[("distance_from_margin_mm", json!(0))]),
            Vec::<String>::new()
        );
        // The text alone would pass; a distance above 0 settles it.
        assert_eq!(
            site_findings(
                "right lower eyelid margin",
                &[("distance_from_margin_mm", json!(4))]
            ),
            vec!["COD-04:E"]
        );
        // Eyelid skin by code.
        assert_eq!(
            site_findings(
                "right lower eyelid margin",
                &[(
                    "body_site",
                    json!({"system": "http://snomed.info/sct", "code": "51360009"})
                )]
            ),
            vec!["COD-04:E"]
        );
    }

    #[test]
    fn an_eyelid_modifier_must_match_the_lid_the_site_names() {
        // E4 is the right lower lid: the base case's site agrees.
        assert_eq!(
            site_findings("right lower eyelid margin", &[]),
            Vec::<String>::new()
        );
        assert_eq!(
            site_findings("left lower eyelid margin", &[]),
            vec!["MOD-04:E"]
        );
        assert_eq!(
            site_findings(
                "lower eyelid margin",
                &[("laterality", json!("left")), ("lid", json!("lower"))]
            ),
            vec!["MOD-04:E"]
        );
        assert_eq!(site_findings("lower eyelid margin", &[]), vec!["MOD-06:W"]);
    }

    #[test]
    fn a_site_text_names_side_and_lid_only_when_unambiguous() {
        let named = |s: &str| text_lids(s).map(|(a, b)| combine(a, b));
        assert_eq!(
            named("right lower eyelid margin"),
            Some(vec![Eyelid::RightLower])
        );
        assert_eq!(
            named("on the lash line of the RLL"),
            Some(vec![Eyelid::RightLower])
        );
        assert_eq!(
            named("both lower eyelid margins"),
            Some(vec![Eyelid::RightLower, Eyelid::LeftLower])
        );
        assert_eq!(
            named("LUL margin, lateral third"),
            Some(vec![Eyelid::LeftUpper])
        );
        assert_eq!(named("right eyelid, 4 mm inferior to the margin"), None);
        assert_eq!(named("lower lid margin"), None);
        assert_eq!(named("periocular"), None);
    }
}
