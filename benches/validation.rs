//! Validation cost per case: identify + decode + every rule, on a realistic eyelid case.
//! Run with `cargo bench --bench validation`; criterion prints the time per case.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use preauth_worker::case::{decode, identify};
use preauth_worker::codes::CodeTable;
use preauth_worker::rules::{validate, Policies};

fn bench(c: &mut Criterion) {
    let codes = CodeTable::embedded().expect("code table");
    let policies = Policies::load(&codes, None).expect("policies");
    let policy = policies.get("default").expect("default policy");
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/01-eyelid-margin-cornea-approved.json"
    ))
    .expect("example");

    c.bench_function("identify+decode+validate (one case)", |b| {
        b.iter(|| {
            let id = identify(black_box(&body)).expect("identifiable");
            let case = decode(&id, Some("case.submitted")).expect("decodes");
            black_box(validate(&case, &policy, &codes))
        })
    });

    let id = identify(&body).expect("identifiable");
    let case = decode(&id, Some("case.submitted")).expect("decodes");
    c.bench_function("validate only (one decoded case)", |b| {
        b.iter(|| black_box(validate(black_box(&case), &policy, &codes)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
