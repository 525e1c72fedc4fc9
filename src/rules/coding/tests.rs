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
