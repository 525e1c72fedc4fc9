//! The JSON Schema files shipped for PM vendors agree with the examples and with what the
//! worker really publishes.

use serde_json::{json, Value};

use crate::support::{example_files, examples, outcomes, read_json, root, run, worker};

fn validator(name: &str) -> jsonschema::Validator {
    let schema = read_json(&root().join("schemas").join(name));
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{name} is not a valid schema: {e}"))
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_example_case_validates_against_the_case_schema() {
    let v = validator("preauth.case.v1.schema.json");
    for file in example_files() {
        let errs = errors(&v, &read_json(&file));
        assert!(errs.is_empty(), "{}: {errs:?}", file.display());
    }
}

#[test]
fn the_case_schema_refuses_what_the_contract_forbids() {
    let v = validator("preauth.case.v1.schema.json");
    let base = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    let broken: [(&str, Value); 5] = [
        ("/service/procedures/0/units", json!(0)),
        ("/service/procedures/0/modifiers", json!(["E44"])),
        ("/schema", json!("preauth.case.v9")),
        ("/provider/npi", json!("123456789")),
        ("/kind", json!("resubmission")),
    ];
    for (ptr, val) in broken {
        let mut case = base.clone();
        *case.pointer_mut(ptr).expect(ptr) = val;
        assert!(!errors(&v, &case).is_empty(), "{ptr} should be refused");
    }
}

#[test]
fn every_outcome_the_worker_publishes_validates_against_the_outcome_schema() {
    let v = validator("preauth.outcome.v1.schema.json");
    let out = run(worker(
        &["process", examples().to_str().expect("utf-8")],
        &[("PREAUTH__FOLLOWUP__PENDED", "[\"50ms\"]")],
    ));
    let got = outcomes(&out.stdout);
    assert!(got.len() >= 15);
    for o in &got {
        let errs = errors(&v, o);
        assert!(errs.is_empty(), "{o}: {errs:?}");
    }
    // And the schema is not a rubber stamp.
    let mut bad = got[0].clone();
    bad["status"] = json!("maybe");
    assert!(!errors(&v, &bad).is_empty());
}
