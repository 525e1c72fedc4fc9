//! Coding rules: procedure and diagnosis codes, units, modifiers, lesion count and size.
//!
//! Messages name codes that passed parsing (CPT/HCPCS, ICD-10-CM) and modifiers on the code
//! table's allow-list, never a modifier off it and never the free-text lesion site.

use std::collections::HashSet;

use crate::case::{CaseEvent, Finding};
use crate::codes::{CodeTable, CptCategory, EyelidDx};
use crate::rules::Policy;

pub(super) fn check(case: &CaseEvent, policy: &Policy, codes: &CodeTable, out: &mut Vec<Finding>) {
    diagnoses(case, policy, out);
    procedures(case, policy, codes, out);
    eyelid_modifiers(case, codes, out);
}

fn diagnoses(case: &CaseEvent, policy: &Policy, out: &mut Vec<Finding>) {
    let dx = &case.service.diagnoses;
    let primaries = dx.iter().filter(|d| d.primary).count();
    if primaries != 1 {
        out.push(Finding::error(
            "DX-01",
            "service.diagnoses",
            format!("exactly one diagnosis must be primary; {primaries} are"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, d) in dx.iter().enumerate() {
        let path = format!("service.diagnoses[{i}].code");
        if !seen.insert(d.code.compact()) {
            out.push(Finding::warning(
                "DX-02",
                &path,
                format!("{} is listed more than once", d.code),
            ));
        }
        if policy.cosmetic_diagnoses.iter().any(|c| c == &d.code) {
            out.push(Finding::error(
                "COS-01",
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
            out.push(Finding::warning(
                "COS-01",
                &path,
                format!(
                    "{} marks a procedure not meant to remedy a health condition",
                    d.code
                ),
            ));
        }
    }
}

fn procedures(case: &CaseEvent, policy: &Policy, codes: &CodeTable, out: &mut Vec<Finding>) {
    let procs = &case.service.procedures;
    let lesions = case.service.lesions.as_ref();
    let requested: HashSet<&str> = procs.iter().map(|p| p.code.as_str()).collect();

    if procs
        .iter()
        .all(|p| p.code.cpt_category() == Some(CptCategory::Two))
    {
        out.push(Finding::warning(
            "FMT-CPT-01",
            "service.procedures",
            "only Category II tracking codes are requested; they are never paid",
        ));
    }

    let mut exclusive_reported = HashSet::new();
    for (i, p) in procs.iter().enumerate() {
        let path = format!("service.procedures[{i}]");
        let code = p.code.as_str();

        for (j, m) in p.modifiers.iter().enumerate() {
            if !codes.modifier_allowed(m) {
                // Two characters of anything alphanumeric parse as a modifier: one off the
                // allow-list is not a known code, so it is not repeated.
                out.push(Finding::error(
                    "FMT-MOD-01",
                    &format!("{path}.modifiers[{j}]"),
                    "this modifier is not one this procedure family uses",
                ));
            }
        }
        let has = |m: &str| p.modifiers.iter().any(|x| x.as_str() == m);
        if has("59") && ["XE", "XP", "XS", "XU"].iter().any(|x| has(x)) {
            out.push(Finding::error(
                "MOD-02",
                &format!("{path}.modifiers"),
                "59 and an X{EPSU} modifier must not be on the same line",
            ));
        }

        let Some(info) = codes.get(&p.code) else {
            out.push(Finding::warning(
                "TAB-01",
                &format!("{path}.code"),
                format!("{code} is not in the code table; its coverage rules cannot be checked"),
            ));
            continue;
        };

        if !policy.preauth_codes.contains(code) && !info.cosmetic_only {
            out.push(Finding::warning(
                "PA-01",
                &format!("{path}.code"),
                format!(
                    "payer policy {:?} does not list {code} as needing pre-authorization",
                    policy.name
                ),
            ));
        }
        if info.cosmetic_only {
            out.push(Finding::error(
                "COS-02",
                &format!("{path}.code"),
                format!(
                    "{code} ({}) is cosmetic for this procedure family and is not covered",
                    info.descriptor
                ),
            ));
        }
        for other in &info.exclusive_with {
            if requested.contains(other.as_str()) {
                let mut pair = [code, other.as_str()];
                pair.sort_unstable();
                if exclusive_reported.insert(pair) {
                    out.push(Finding::error(
                        "COD-01",
                        &format!("{path}.code"),
                        format!("{} and {} must not be requested together; choose one by the total lesion count", pair[0], pair[1]),
                    ));
                }
            }
        }
        if let Some(max) = info.max_units {
            if p.units > max {
                out.push(Finding::error(
                    "NCCI-02",
                    &format!("{path}.units"),
                    format!(
                        "{code} allows at most {max} unit(s) per case; {} requested",
                        p.units
                    ),
                ));
            }
        }

        if info.lesion_removal {
            match lesions {
                None => out.push(Finding::error(
                    "DOC-01",
                    "service.lesions",
                    format!("{code} removes lesions: their count, largest size and site must be documented"),
                )),
                Some(l) => {
                    if let Some(min) = info.min_lesions {
                        if l.count < min {
                            out.push(Finding::error(
                                "DOC-01",
                                "service.lesions.count",
                                format!("{code} stands for {min} or more lesions; {} documented", l.count),
                            ));
                        }
                    }
                    if let Some(max) = info.max_lesions {
                        if l.count > max {
                            out.push(Finding::error(
                                "DOC-01",
                                "service.lesions.count",
                                format!("{code} stands for at most {max} lesions; {} documented", l.count),
                            ));
                        }
                    }
                    if let Some(max) = info.max_size_mm {
                        if l.max_size_mm > max {
                            let rule = if info.lid_margin { "COD-04" } else { "DOC-01" };
                            out.push(Finding::error(
                                rule,
                                "service.lesions.max_size_mm",
                                format!("{code} is for lesions up to {max} mm; the largest documented is {} mm", l.max_size_mm),
                            ));
                        }
                    }
                    let site = l.site.to_ascii_lowercase();
                    if info.lid_margin && !at_lid_margin(&site) {
                        out.push(Finding::error(
                            "COD-04",
                            "service.lesions.site",
                            format!("{code} is only for lesions of the lid margin; the documented site does not say margin or lash line"),
                        ));
                    }
                    if info.eyelid && !(site.contains("lid") || site.contains("lash") || site.contains("canth")) {
                        out.push(Finding::error(
                            "DOC-02",
                            "service.lesions.site",
                            format!("{code} is an eyelid procedure; the documented site must name the eyelid"),
                        ));
                    }
                }
            }
        }
    }
}

/// True when a free-text site places the lesion at the lid margin or lash line, and not at a
/// distance from it ("6 mm above the lash line" is eyelid skin, not the margin).
fn at_lid_margin(site: &str) -> bool {
    const AWAY: [&str; 9] = [
        "above the",
        "below the",
        "away from",
        "not at",
        "not involving",
        "sparing",
        "mm from",
        "mm above",
        "mm below",
    ];
    (site.contains("margin") || site.contains("lash")) && !AWAY.iter().any(|w| site.contains(w))
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
                out.push(Finding::error(
                    "MOD-03",
                    &path,
                    format!("{m} must not be combined with 50; bill a bilateral procedure with 50 alone"),
                ));
            }
            if info.is_some_and(|c| c.names_lid) || (info.is_some() && !is_eyelid_code) {
                out.push(Finding::warning(
                    "MOD-03",
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
                out.push(Finding::error(
                    "MOD-04",
                    &path,
                    format!("{m} names the {}, but {detail}", lid.describe()),
                ));
            }
        }
        if is_eyelid_code && !any_lid_modifier && !has_50 {
            out.push(Finding::warning(
                "MOD-05",
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
mod tests {
    use serde_json::{json, Value};

    use crate::rules::testing::{base, findings, ids};

    /// One row: what to change in the base case, the policy, and the `rule:severity` that must
    /// (or must not) appear.
    struct Row {
        name: &'static str,
        change: fn(&mut Value),
        policy: &'static str,
        expect: &'static [&'static str],
        absent: &'static [&'static str],
    }

    fn run(rows: &[Row]) {
        for row in rows {
            let mut v = base();
            (row.change)(&mut v);
            let got = ids(&findings(&v, row.policy));
            for want in row.expect {
                assert!(
                    got.iter().any(|g| g == want),
                    "{}: expected {want}, got {got:?}",
                    row.name
                );
            }
            for not in row.absent {
                assert!(
                    !got.iter().any(|g| g.starts_with(not)),
                    "{}: unexpected {not} in {got:?}",
                    row.name
                );
            }
        }
    }

    fn set(v: &mut Value, ptr: &str, val: Value) {
        *v.pointer_mut(ptr).unwrap_or_else(|| panic!("no {ptr}")) = val;
    }

    fn push(v: &mut Value, ptr: &str, val: Value) {
        v.pointer_mut(ptr)
            .and_then(Value::as_array_mut)
            .unwrap_or_else(|| panic!("no array at {ptr}"))
            .push(val);
    }

    fn destruction(v: &mut Value, code: &str, count: u32) {
        set(
            v,
            "/service/procedures",
            json!([{"code": code, "system": "CPT", "units": 1}]),
        );
        set(
            v,
            "/service/diagnoses",
            json!([{"code": "L72.0", "primary": true}]),
        );
        set(
            v,
            "/service/lesions",
            json!({"count": count, "max_size_mm": 2.0, "site": "forehead"}),
        );
        set(v, "/documentation/indications", json!(["inflammation"]));
    }

    #[test]
    fn base_case_has_no_findings_at_all() {
        let got = findings(&base(), "default");
        assert!(got.is_empty(), "{got:?}");
        let got = findings(&base(), "strict-commercial");
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn lesion_count_must_fit_the_destruction_code_on_both_sides_of_each_limit() {
        run(&[
            Row {
                name: "17110 with 1",
                change: |v| destruction(v, "17110", 1),
                policy: "default",
                expect: &[],
                absent: &["DOC-01"],
            },
            Row {
                name: "17110 with 14",
                change: |v| destruction(v, "17110", 14),
                policy: "default",
                expect: &[],
                absent: &["DOC-01"],
            },
            Row {
                name: "17110 with 15",
                change: |v| destruction(v, "17110", 15),
                policy: "default",
                expect: &["DOC-01:E"],
                absent: &[],
            },
            Row {
                name: "17110 with 20",
                change: |v| destruction(v, "17110", 20),
                policy: "default",
                expect: &["DOC-01:E"],
                absent: &[],
            },
            Row {
                name: "17111 with 14",
                change: |v| destruction(v, "17111", 14),
                policy: "default",
                expect: &["DOC-01:E"],
                absent: &[],
            },
            Row {
                name: "17111 with 15",
                change: |v| destruction(v, "17111", 15),
                policy: "default",
                expect: &[],
                absent: &["DOC-01"],
            },
            Row {
                name: "17110 without lesions",
                change: |v| {
                    destruction(v, "17110", 3);
                    set(v, "/service/lesions", Value::Null);
                },
                policy: "default",
                expect: &["DOC-01:E"],
                absent: &[],
            },
        ]);
    }

    #[test]
    fn destruction_codes_are_exclusive_and_single_unit() {
        run(&[
            Row {
                name: "17110 and 17111 together",
                change: |v| {
                    destruction(v, "17110", 15);
                    set(
                        v,
                        "/service/procedures",
                        json!([{"code": "17110", "system": "CPT"}, {"code": "17111", "system": "CPT"}]),
                    );
                },
                policy: "default",
                expect: &["COD-01:E"],
                absent: &[],
            },
            Row {
                name: "17110 two units",
                change: |v| {
                    destruction(v, "17110", 4);
                    set(v, "/service/procedures/0/units", json!(2));
                },
                policy: "default",
                expect: &["NCCI-02:E"],
                absent: &[],
            },
            Row {
                name: "17110 one unit",
                change: |v| destruction(v, "17110", 4),
                policy: "default",
                expect: &[],
                absent: &["NCCI-02", "COD-01"],
            },
        ]);
    }

    #[test]
    fn lid_margin_code_needs_the_margin_and_at_most_one_centimetre() {
        run(&[
            Row {
                name: "10 mm is allowed",
                change: |v| set(v, "/service/lesions/max_size_mm", json!(10.0)),
                policy: "default",
                expect: &[],
                absent: &["COD-04"],
            },
            Row {
                name: "10.5 mm is too large",
                change: |v| set(v, "/service/lesions/max_size_mm", json!(10.5)),
                policy: "default",
                expect: &["COD-04:E"],
                absent: &[],
            },
            Row {
                name: "site not the margin",
                change: |v| set(v, "/service/lesions/site", json!("right lower eyelid skin")),
                policy: "default",
                expect: &["COD-04:E"],
                absent: &["DOC-02"],
            },
            Row {
                name: "lash line counts as margin",
                change: |v| {
                    set(
                        v,
                        "/service/lesions/site",
                        json!("right lower lid lash line"),
                    )
                },
                policy: "default",
                expect: &[],
                absent: &["COD-04"],
            },
            Row {
                name: "site not an eyelid",
                change: |v| set(v, "/service/lesions/site", json!("cheek margin")),
                policy: "default",
                expect: &["DOC-02:E"],
                absent: &[],
            },
        ]);
    }

    #[test]
    fn eyelid_modifiers_must_match_the_eyelid_diagnosis() {
        run(&[
            Row {
                name: "E4 with H02.822 matches",
                change: |_| {},
                policy: "default",
                expect: &[],
                absent: &["MOD-04"],
            },
            Row {
                name: "E1 with H02.822 contradicts",
                change: |v| set(v, "/service/procedures/0/modifiers", json!(["E1"])),
                policy: "default",
                expect: &["MOD-04:E"],
                absent: &[],
            },
            Row {
                name: "E3 with H02.822 contradicts the lid",
                change: |v| set(v, "/service/procedures/0/modifiers", json!(["E3"])),
                policy: "default",
                expect: &["MOD-04:E"],
                absent: &[],
            },
            Row {
                name: "E2 with H02.822 contradicts the side",
                change: |v| set(v, "/service/procedures/0/modifiers", json!(["E2"])),
                policy: "default",
                expect: &["MOD-04:E"],
                absent: &[],
            },
            Row {
                name: "E1 with H02.824",
                change: |v| {
                    set(v, "/service/procedures/0/modifiers", json!(["E1"]));
                    set(v, "/service/diagnoses/0/code", json!("H02.824"));
                    set(v, "/service/lesions/site", json!("left upper lid margin"));
                },
                policy: "default",
                expect: &[],
                absent: &["MOD-04"],
            },
            Row {
                name: "E2 with H02825 without the dot",
                change: |v| {
                    set(v, "/service/procedures/0/modifiers", json!(["E2"]));
                    set(v, "/service/diagnoses/0/code", json!("H02825"));
                    set(v, "/service/lesions/site", json!("left lower lid margin"));
                },
                policy: "default",
                expect: &[],
                absent: &["MOD-04"],
            },
            Row {
                name: "E3 with unspecified-lid H02.823 does not match",
                change: |v| {
                    set(v, "/service/procedures/0/modifiers", json!(["E3"]));
                    set(v, "/service/diagnoses/0/code", json!("H02.823"));
                },
                policy: "default",
                expect: &["MOD-04:E"],
                absent: &[],
            },
            Row {
                name: "E4 without an eyelid diagnosis",
                change: |v| {
                    set(
                        v,
                        "/service/diagnoses",
                        json!([{"code": "L72.0", "primary": true}, {"code": "H57.11"}]),
                    )
                },
                policy: "default",
                expect: &["MOD-04:E"],
                absent: &[],
            },
            Row {
                name: "two lids, two lines, two diagnoses",
                change: |v| {
                    set(
                        v,
                        "/service/procedures",
                        json!([
                        {"code": "67850", "system": "CPT", "modifiers": ["E4"]},
                        {"code": "67850", "system": "CPT", "modifiers": ["E2"]}]),
                    );
                    set(
                        v,
                        "/service/diagnoses",
                        json!([{"code": "H02.822", "primary": true}, {"code": "H02.825"}, {"code": "H57.13"}]),
                    );
                    set(
                        v,
                        "/service/lesions/site",
                        json!("both lower eyelid margins"),
                    );
                },
                policy: "default",
                expect: &[],
                absent: &["MOD-04"],
            },
            Row {
                name: "E4 with 50",
                change: |v| set(v, "/service/procedures/0/modifiers", json!(["E4", "50"])),
                policy: "default",
                expect: &["MOD-03:E"],
                absent: &[],
            },
            Row {
                name: "eyelid code without E modifier",
                change: |v| set(v, "/service/procedures/0/modifiers", json!([])),
                policy: "default",
                expect: &["MOD-05:W"],
                absent: &["MOD-04"],
            },
        ]);
    }

    #[test]
    fn modifiers_must_be_on_the_allow_list_and_not_conflict() {
        run(&[
            Row {
                name: "unknown modifier",
                change: |v| set(v, "/service/procedures/0/modifiers", json!(["E4", "QQ"])),
                policy: "default",
                expect: &["FMT-MOD-01:E"],
                absent: &[],
            },
            Row {
                name: "59 with XS",
                change: |v| {
                    set(
                        v,
                        "/service/procedures/0/modifiers",
                        json!(["E4", "59", "XS"]),
                    )
                },
                policy: "default",
                expect: &["MOD-02:E"],
                absent: &[],
            },
            Row {
                name: "59 alone",
                change: |v| set(v, "/service/procedures/0/modifiers", json!(["E4", "59"])),
                policy: "default",
                expect: &[],
                absent: &["MOD-02", "FMT-MOD-01"],
            },
        ]);
    }

    #[test]
    fn a_modifier_off_the_allow_list_is_reported_without_its_value() {
        let mut v = base();
        set(
            &mut v,
            "/service/procedures/0/modifiers",
            json!(["E4", "JD"]),
        );
        let f = findings(&v, "default");
        let bad: Vec<_> = f.iter().filter(|x| x.rule == "FMT-MOD-01").collect();
        assert_eq!(bad.len(), 1, "{f:?}");
        assert_eq!(bad[0].path, "service.procedures[0].modifiers[1]");
        assert_eq!(
            bad[0].message,
            "this modifier is not one this procedure family uses"
        );
    }

    #[test]
    fn messages_name_validated_codes_but_never_the_lesion_site() {
        let mut v = base();
        set(
            &mut v,
            "/service/lesions/site",
            json!("Ivan Petrov's right cheek"),
        );
        set(&mut v, "/service/lesions/max_size_mm", json!(12.0));
        let f = findings(&v, "default");
        assert!(f.iter().any(|x| x.rule == "COD-04"), "{f:?}");
        for x in &f {
            assert!(!x.message.contains("Ivan"), "{x:?}");
            assert!(!x.message.contains("cheek"), "{x:?}");
        }
        assert!(
            f.iter().any(|x| x.message.contains("67850")),
            "validated codes are named: {f:?}"
        );
    }

    #[test]
    fn cosmetic_codes_and_diagnoses_are_caught() {
        run(&[
            Row {
                name: "Z41.1",
                change: |v| set(v, "/service/diagnoses/1", json!({"code": "Z41.1"})),
                policy: "default",
                expect: &["COS-01:E"],
                absent: &[],
            },
            Row {
                name: "Z41.9 warns",
                change: |v| set(v, "/service/diagnoses/1", json!({"code": "Z41.9"})),
                policy: "default",
                expect: &["COS-01:W"],
                absent: &[],
            },
            Row {
                name: "Z41.8 is an error for the strict payer",
                change: |v| set(v, "/service/diagnoses/1", json!({"code": "Z41.8"})),
                policy: "strict-commercial",
                expect: &["COS-01:E"],
                absent: &[],
            },
            Row {
                name: "17380 electrolysis",
                change: |v| {
                    set(
                        v,
                        "/service/procedures",
                        json!([{"code": "17380", "system": "CPT"}]),
                    )
                },
                policy: "default",
                expect: &["COS-02:E"],
                absent: &["PA-01"],
            },
            Row {
                name: "15788 chemical peel",
                change: |v| {
                    set(
                        v,
                        "/service/procedures/0",
                        json!({"code": "15788", "system": "CPT"}),
                    )
                },
                policy: "default",
                expect: &["COS-02:E"],
                absent: &[],
            },
        ]);
    }

    #[test]
    fn diagnoses_need_exactly_one_primary() {
        run(&[
            Row {
                name: "none primary",
                change: |v| set(v, "/service/diagnoses/0/primary", json!(false)),
                policy: "default",
                expect: &["DX-01:E"],
                absent: &[],
            },
            Row {
                name: "two primary",
                change: |v| {
                    set(
                        v,
                        "/service/diagnoses/1",
                        json!({"code": "H57.11", "primary": true}),
                    )
                },
                policy: "default",
                expect: &["DX-01:E"],
                absent: &[],
            },
            Row {
                name: "duplicate code",
                change: |v| set(v, "/service/diagnoses/1", json!({"code": "H02822"})),
                policy: "default",
                expect: &["DX-02:W"],
                absent: &["DX-01"],
            },
        ]);
    }

    #[test]
    fn codes_outside_the_table_or_the_policy_are_reported_not_blocked() {
        run(&[
            Row {
                name: "not in table",
                change: |v| {
                    push(
                        v,
                        "/service/procedures",
                        json!({"code": "99213", "system": "CPT", "modifiers": ["25"]}),
                    )
                },
                policy: "default",
                expect: &["TAB-01:W"],
                absent: &["COS-02"],
            },
            Row {
                name: "no PA needed",
                change: |v| {
                    push(
                        v,
                        "/service/procedures",
                        json!({"code": "92285", "system": "CPT"}),
                    )
                },
                policy: "default",
                expect: &["PA-01:W"],
                absent: &[],
            },
            Row {
                name: "Category II only",
                change: |v| {
                    set(
                        v,
                        "/service/procedures",
                        json!([{"code": "1000F", "system": "CPT"}]),
                    )
                },
                policy: "default",
                expect: &["FMT-CPT-01:W", "TAB-01:W"],
                absent: &[],
            },
        ]);
    }
}
