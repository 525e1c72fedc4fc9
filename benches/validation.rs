//! Validation cost per case: identify + decode + every rule, on a realistic eyelid case.
//! Run with `cargo bench --bench validation`; criterion prints the time per case.
//!
//! `identify+decode` and the two `schema` benches compare the worker's reader with the published
//! JSON Schema used as a runtime validator (`cargo bench --bench validation -- 'decode|schema'`):
//! the measurement behind keeping the decoder as the runtime reader (docs/contract.md, §11).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use preauth_worker::case::{decode, identify};
use preauth_worker::codes::CodeTable;
use preauth_worker::ids::request_identifier;
use preauth_worker::payer::pas::read::parse_response;
use preauth_worker::payer::pas::write::request_bundle;
use preauth_worker::payer::sim::pas::response_bundle;
use preauth_worker::payer::sim::{decide_review, ReviewCase};
use preauth_worker::payer::Operation;
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

    c.bench_function("identify+decode (one case)", |b| {
        b.iter(|| {
            let id = identify(black_box(&body)).expect("identifiable");
            black_box(decode(&id, Some("case.submitted")).expect("decodes"))
        })
    });

    // The published schema as a runtime validator, compiled once: parsing the bytes and asking
    // whether the case is valid, then parsing and collecting every error (what the worker would
    // need to report every problem with its path). Neither yields a typed case: a schema-driven
    // reader would still have to convert the value afterwards.
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/preauth.case.v1.schema.json"
        ))
        .expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    c.bench_function("parse+schema is_valid (one case)", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&body)).expect("json");
            black_box(validator.is_valid(&v))
        })
    });
    c.bench_function("parse+schema iter_errors (one case)", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&body)).expect("json");
            black_box(validator.iter_errors(&v).count())
        })
    });

    let id = identify(&body).expect("identifiable");
    let case = decode(&id, Some("case.submitted")).expect("decodes");
    c.bench_function("validate only (one decoded case)", |b| {
        b.iter(|| black_box(validate(black_box(&case), &policy, &codes)))
    });

    // Notes of realistic length: the same case with two notes of about 1 KB each (2 KB in
    // all), read by the ConText note reader for every claimed indication and for the lid margin.
    let long_body = with_long_notes(&body);
    let id = identify(&long_body).expect("identifiable");
    let long_case = decode(&id, Some("case.submitted")).expect("decodes");
    let note_bytes: usize = long_case
        .documentation
        .clinical_notes
        .iter()
        .map(|n| n.text.len())
        .sum();
    println!("long-notes case: {note_bytes} bytes of clinical notes");
    c.bench_function("validate only (one decoded case, 2 KB of notes)", |b| {
        b.iter(|| black_box(validate(black_box(&long_case), &policy, &codes)))
    });
    c.bench_function("identify+decode+validate (one case, 2 KB of notes)", |b| {
        b.iter(|| {
            let id = identify(black_box(&long_body)).expect("identifiable");
            let case = decode(&id, Some("case.submitted")).expect("decodes");
            black_box(validate(&case, &policy, &codes))
        })
    });

    // The PAS side: building the request bundle (to bytes) and parsing the payer's answer.
    let request_id = request_identifier(&case.case_id, &case.event_id, case.kind.operation());
    c.bench_function("PAS request bundle built and serialized (one case)", |b| {
        b.iter(|| {
            black_box(
                request_bundle(black_box(&case), &request_id, case.provider.npi.as_str()).to_json(),
            )
        })
    });
    let review = ReviewCase::from_case(&case);
    let decision = decide_review(
        &review,
        &policy,
        &codes,
        &request_id,
        Operation::Submit,
        None,
    )
    .expect("decision");
    let request = request_bundle(&case, &request_id, case.provider.npi.as_str()).to_value();
    let answer = serde_json::to_vec(&response_bundle(&request, &decision)).expect("json");
    c.bench_function("PAS response bundle parsed (one answer)", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&answer)).expect("json");
            black_box(parse_response(&v).expect("parses"))
        })
    });
}

/// Example 01 with two long clinical notes (about 1 KB each) in place of its short one.
fn with_long_notes(body: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(body).expect("example is JSON");
    let first = "Ophthalmology consult. Pt is a 67 yo with two 2 mm cystic lesions on the right lower lid \
        margin at the lash line, present for about a year but enlarging over the past 6 weeks. Pt c/o \
        foreign-body sensation and pain OD with each blink, and tearing. Denies itching, bleeding or \
        discharge; no fever. Slit lamp: the lesions rub against the inferior cornea with punctate \
        fluorescein staining inferiorly OD. BCVA 20/20 OS, 20/30 OD (20/20 OD a year ago); pt reports \
        blurred vision OD from the constant tearing, which keeps her from reading. The lesions do not \
        obstruct the punctum. No prior biopsy. Her mother had similar lesions removed years ago. \
        Clinical impression: milia of the lid margin; the diagnosis is not in doubt. Warm compresses \
        and lid hygiene twice daily for eight weeks without relief. Plan: destruction of the lid margin \
        lesions (67850) with modifier E4. Return if the eye becomes more painful after the procedure.";
    let second = "Follow-up before the procedure. Symptoms unchanged: pain on blinking persists and the \
        corneal staining is unchanged at the inferior cornea. No erythema, no edema, no purulent \
        discharge; lids otherwise normal. Vision still blurred when reading, worse at the end of the \
        day. Tretinoin 0.025% was tried on the periocular skin, sparing the lid margin, from August to \
        October, with no change in the number or size of the lesions. She wears glasses for driving, \
        which do not touch the lesions. Photographs with a millimetre scale were taken today and are \
        attached. Risks of the procedure, including bleeding, infection and scarring, were discussed \
        and consent was obtained. Pt verbalized understanding. Plan unchanged: 67850-E4 with fine-needle \
        cautery under local anaesthesia, review in two weeks.";
    v["documentation"]["clinical_notes"] = serde_json::json!([
        {"id": "N-1", "date": "2026-11-10", "author_npi": "1234567893", "text": first},
        {"id": "N-2", "date": "2026-11-18", "author_npi": "1234567893", "text": second},
    ]);
    serde_json::to_vec(&v).expect("serializes")
}

criterion_group!(benches, bench);
criterion_main!(benches);
