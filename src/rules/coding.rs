//! Coding rules: procedure and diagnosis codes, units, modifiers, lesion count and size.
//!
//! Messages name codes that passed parsing (CPT/HCPCS, ICD-10-CM) and modifiers on the code
//! table's allow-list, never a modifier off it and never the free-text lesion site.

use std::collections::HashSet;

use crate::case::registry::{
    COD_01, COD_04, COS_01, COS_01_NON_THERAPEUTIC, COS_02, DOC_01, DOC_02, DX_01, DX_02,
    FMT_CPT_01_CATEGORY_II, FMT_MOD_01, MOD_02, MOD_03, MOD_03_NOT_TAKEN, MOD_04, MOD_05, NCCI_02,
    PA_01, TAB_01,
};
use crate::case::{CaseEvent, Finding, Procedure};
use crate::codes::{CodeInfo, CodeTable, CptCategory, EyelidDx};
use crate::rules::clinical::NoteReading;
use crate::rules::Policy;

pub(super) fn check(
    case: &CaseEvent,
    policy: &Policy,
    codes: &CodeTable,
    notes: &[NoteReading],
    out: &mut Vec<Finding>,
) {
    diagnoses(case, policy, out);
    procedures(case, policy, codes, notes, out);
    eyelid_modifiers(case, codes, out);
    super::site::modifiers_match_site(case, policy, out);
}

fn diagnoses(case: &CaseEvent, policy: &Policy, out: &mut Vec<Finding>) {
    let dx = &case.service.diagnoses;
    let primaries = dx.iter().filter(|d| d.primary).count();
    if primaries != 1 {
        out.push(DX_01.finding(
            "service.diagnoses",
            format!("exactly one diagnosis must be primary; {primaries} are"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, d) in dx.iter().enumerate() {
        let path = format!("service.diagnoses[{i}].code");
        if !seen.insert(d.code.compact()) {
            out.push(DX_02.finding(&path, format!("{} is listed more than once", d.code)));
        }
        if policy.cosmetic_diagnoses.iter().any(|c| c == &d.code) {
            out.push(COS_01.finding(
                &path,
                format!(
                    "{} marks a cosmetic encounter, which is not covered",
                    d.code
                ),
            ));
        } else if policy
            .non_therapeutic_diagnoses
            .iter()
            .any(|c| c == &d.code)
        {
            out.push(COS_01_NON_THERAPEUTIC.finding(
                &path,
                format!(
                    "{} marks a procedure not meant to remedy a health condition",
                    d.code
                ),
            ));
        }
    }
}

/// Each line in turn: its modifiers, then (when the code table knows the code) coverage, billing
/// and the lesions the code stands for.
fn procedures(
    case: &CaseEvent,
    policy: &Policy,
    codes: &CodeTable,
    notes: &[NoteReading],
    out: &mut Vec<Finding>,
) {
    let procs = &case.service.procedures;
    if procs
        .iter()
        .all(|p| p.code.cpt_category() == Some(CptCategory::Two))
    {
        out.push(FMT_CPT_01_CATEGORY_II.finding(
            "service.procedures",
            "only Category II tracking codes are requested; they are never paid",
        ));
    }

    let requested: HashSet<&str> = procs.iter().map(|p| p.code.as_str()).collect();
    let mut exclusive_reported = HashSet::new();
    for (i, p) in procs.iter().enumerate() {
        let path = format!("service.procedures[{i}]");
        let code = p.code.as_str();
        line_modifiers(p, &path, codes, out);
        let Some(info) = codes.get(&p.code) else {
            out.push(TAB_01.finding(
                &format!("{path}.code"),
                format!("{code} is not in the code table; its coverage rules cannot be checked"),
            ));
            continue;
        };
        coverage(p, info, policy, &path, out);
        for other in &info.exclusive_with {
            if requested.contains(other.as_str()) {
                let mut pair = [code, other.as_str()];
                pair.sort_unstable();
                if exclusive_reported.insert(pair) {
                    out.push(COD_01.finding(
                        &format!("{path}.code"),
                        format!("{} and {} must not be requested together; choose one by the total lesion count", pair[0], pair[1]),
                    ));
                }
            }
        }
        if let Some(max) = info.max_units {
            if p.units > max {
                out.push(NCCI_02.finding(
                    &format!("{path}.units"),
                    format!(
                        "{code} allows at most {max} unit(s) per case; {} requested",
                        p.units
                    ),
                ));
            }
        }
        if info.lesion_removal {
            lesions(case, p, info, policy, notes, out);
        }
    }
}

/// The modifiers of one line: on the allow-list, and not in conflict.
fn line_modifiers(p: &Procedure, path: &str, codes: &CodeTable, out: &mut Vec<Finding>) {
    for (j, m) in p.modifiers.iter().enumerate() {
        if !codes.modifier_allowed(m) {
            // Two characters of anything alphanumeric parse as a modifier: one off the
            // allow-list is not a known code, so it is not repeated.
            out.push(FMT_MOD_01.finding(
                &format!("{path}.modifiers[{j}]"),
                "this modifier is not one this procedure family uses",
            ));
        }
    }
    let has = |m: &str| p.modifiers.iter().any(|x| x.as_str() == m);
    if has("59") && ["XE", "XP", "XS", "XU"].iter().any(|x| has(x)) {
        out.push(MOD_02.finding(
            &format!("{path}.modifiers"),
            "59 and an X{EPSU} modifier must not be on the same line",
        ));
    }
}

/// Whether the payer wants a pre-authorization for the code, and whether it is cosmetic.
fn coverage(p: &Procedure, info: &CodeInfo, policy: &Policy, path: &str, out: &mut Vec<Finding>) {
    let code = p.code.as_str();
    if !policy.preauth_codes.contains(code) && !info.cosmetic_only {
        out.push(PA_01.finding(
            &format!("{path}.code"),
            format!(
                "payer policy {:?} does not list {code} as needing pre-authorization",
                policy.name
            ),
        ));
    }
    if info.cosmetic_only {
        out.push(COS_02.finding(
            &format!("{path}.code"),
            format!(
                "{code} ({}) is cosmetic for this procedure family and is not covered",
                info.descriptor
            ),
        ));
    }
}

/// The lesions a removal code stands for: documented, and within the code's count, size and site.
fn lesions(
    case: &CaseEvent,
    p: &Procedure,
    info: &CodeInfo,
    policy: &Policy,
    notes: &[NoteReading],
    out: &mut Vec<Finding>,
) {
    let code = p.code.as_str();
    let Some(l) = case.service.lesions.as_ref() else {
        out.push(DOC_01.finding(
            "service.lesions",
            format!(
                "{code} removes lesions: their count, largest size and site must be documented"
            ),
        ));
        return;
    };
    let count_limits = [
        info.min_lesions
            .filter(|&min| l.count < min)
            .map(|min| format!("{code} stands for {min} or more lesions")),
        info.max_lesions
            .filter(|&max| l.count > max)
            .map(|max| format!("{code} stands for at most {max} lesions")),
    ];
    for limit in count_limits.into_iter().flatten() {
        out.push(DOC_01.finding(
            "service.lesions.count",
            format!("{limit}; {} documented", l.count),
        ));
    }
    if let Some(max) = info.max_size_mm {
        if l.max_size_mm > max {
            // A lid-margin code's size limit is part of what the code is for (COD-04).
            let rule = if info.lid_margin { COD_04 } else { DOC_01 };
            out.push(rule.finding(
                "service.lesions.max_size_mm",
                format!(
                    "{code} is for lesions up to {max} mm; the largest documented is {} mm",
                    l.max_size_mm
                ),
            ));
        }
    }
    if info.lid_margin {
        super::site::lid_margin(code, l, policy, notes, out);
    }
    if info.eyelid && !policy.clinical.names_eyelid(&l.site) {
        out.push(DOC_02.finding(
            "service.lesions.site",
            format!("{code} is an eyelid procedure; the documented site must name the eyelid"),
        ));
    }
}

/// The contract's eyelid rule: every E1–E4 must match the side and lid of at least one eyelid
/// diagnosis (H02.82x) on the case. A contradiction is an error.
fn eyelid_modifiers(case: &CaseEvent, codes: &CodeTable, out: &mut Vec<Finding>) {
    let eyelid_dx: Vec<_> = case
        .service
        .diagnoses
        .iter()
        .filter_map(|d| d.code.eyelid().map(|lid| (d, lid)))
        .collect();
    for (i, p) in case.service.procedures.iter().enumerate() {
        let info = codes.get(&p.code);
        let is_eyelid_code = info.is_some_and(|c| c.eyelid);
        let has_50 = p.modifiers.iter().any(|m| m.as_str() == "50");
        let mut any_lid_modifier = false;
        for (j, m) in p.modifiers.iter().enumerate() {
            let Some(lid) = m.eyelid() else { continue };
            any_lid_modifier = true;
            let path = format!("service.procedures[{i}].modifiers[{j}]");
            if has_50 {
                out.push(MOD_03.finding(
                    &path,
                    format!("{m} must not be combined with 50; bill a bilateral procedure with 50 alone"),
                ));
            }
            if info.is_some_and(|c| c.names_lid) || (info.is_some() && !is_eyelid_code) {
                out.push(MOD_03_NOT_TAKEN.finding(
                    &path,
                    format!(
                        "{m} is an eyelid modifier, but {} does not take E1-E4",
                        p.code
                    ),
                ));
            }
            let matches = eyelid_dx
                .iter()
                .any(|(_, dx)| matches!(dx, EyelidDx::Known(l) if *l == lid));
            if !matches {
                let detail = if eyelid_dx.is_empty() {
                    "no eyelid diagnosis (H02.82x) is on the case".to_owned()
                } else {
                    let listed: Vec<String> = eyelid_dx
                        .iter()
                        .map(|(d, dx)| match dx {
                            EyelidDx::Known(l) => format!("{} ({})", d.code, l.describe()),
                            _ => format!("{} (lid not specified)", d.code),
                        })
                        .collect();
                    format!("the eyelid diagnoses are {}", listed.join(", "))
                };
                out.push(MOD_04.finding(
                    &path,
                    format!("{m} names the {}, but {detail}", lid.describe()),
                ));
            }
        }
        if is_eyelid_code && !any_lid_modifier && !has_50 {
            out.push(MOD_05.finding(
                &format!("service.procedures[{i}].modifiers"),
                format!(
                    "{} is an eyelid procedure without E1-E4 naming the lid",
                    p.code
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
