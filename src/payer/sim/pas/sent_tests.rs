//! Every example, written as the worker sends it, reads back as the review case it came from.

use serde_json::Value;

use super::review_from_bundle;
use super::tests::{examples, SUBMITTER};
use crate::case::{CaseEvent, Kind};
use crate::payer::pas::write::{request_bundle, update_bundle, ClaimChange};
use crate::payer::sim::ReviewCase;
use crate::payer::OriginalRequest;

/// The bundle the worker sends for `case`: a Claim Update naming its original for an update or
/// a cancellation, otherwise a request.
fn as_sent(case: &CaseEvent, rid: &str) -> Value {
    let change = match case.kind {
        Kind::Update => Some(ClaimChange::Update),
        Kind::Cancel => Some(ClaimChange::Cancel),
        Kind::Submission | Kind::Appeal => None,
    };
    match (change, case.original.as_ref()) {
        (Some(change), Some(o)) => {
            let original = o.request_identifier(&case.case_id);
            let original = OriginalRequest {
                request_identifier: &original,
                payer_reference: &o.payer_reference,
            };
            update_bundle(case, rid, SUBMITTER, original, change).to_value()
        }
        _ => request_bundle(case, rid, SUBMITTER).to_value(),
    }
}

/// What the payer can read of `case` from its request: a cancellation sends its lines and no
/// evidence.
fn readable(case: &CaseEvent) -> ReviewCase {
    let mut review = ReviewCase::from_case(case);
    if case.kind == Kind::Cancel {
        review.indications.clear();
        review.clinical_notes = 0;
        review.photos = 0;
        review.prior_treatments.clear();
        review.letter_of_medical_necessity = false;
    }
    review
}

#[test]
fn every_example_reads_back_as_the_review_case_it_came_from() {
    let mut kinds = Vec::new();
    for (name, case, rid) in examples() {
        kinds.push(case.kind);
        assert_eq!(
            review_from_bundle(&as_sent(&case, &rid)),
            Ok(readable(&case)),
            "{name}"
        );
    }
    assert!(kinds.contains(&Kind::Update) && kinds.contains(&Kind::Cancel));
}
