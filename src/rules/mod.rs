//! Validation rules: pure functions of a decoded case event, the payer policy and the code table.
//! No clock, no I/O: replaying last year's cases gives last year's answers.
//!
//! Each rule is one value of the [`registry`] (id, default severity, summary), and a finding is
//! built only through its rule. The checks are here: members the contract does not define,
//! coding (codes, modifiers, lesions), documentation (necessity, notes, photos, dates) and appeal
//! rules. Payer policies and the
//! clinical vocabulary they read text against are data (config/policies/, config/clinical.toml).

mod appeal;
mod clinical;
mod coding;
mod documentation;
mod evidence;
mod fields;
pub mod policy;
mod site;

pub use crate::case::registry::{self, RULES};
pub use crate::case::{Rule, Severity};
pub use clinical::{Clinical, ClinicalError};
pub use policy::{Policies, Policy, PolicyError};

use crate::case::{CaseEvent, Finding, Indication, Kind};
use crate::codes::CodeTable;

/// Applies every rule to a decoded case. Findings come in a stable order: unknown members, then
/// coding, then documentation, then appeal; each at its rule's severity, or the one the payer
/// policy sets. A cancellation is judged on its unknown members alone.
pub fn validate(case: &CaseEvent, policy: &Policy, codes: &CodeTable) -> Vec<Finding> {
    let mut out = Vec::new();
    fields::check(case, &mut out);
    if case.kind == Kind::Cancel {
        // A cancellation asks the payer to stop: nothing in it is to be justified, so only the
        // decoding (which checked every code's and NPI's form) and the members the contract
        // does not define are judged.
        policy.apply_severities(&mut out);
        return out;
    }
    // Each note is read once, for every rule that looks at what the notes say.
    let notes: Vec<clinical::NoteReading> = case
        .documentation
        .clinical_notes
        .iter()
        .map(|n| policy.clinical.read_note(&n.text))
        .collect();
    coding::check(case, policy, codes, &notes, &mut out);
    documentation::check(case, policy, codes, &notes, &mut out);
    if case.kind == Kind::Appeal {
        appeal::check(case, policy, &mut out);
    }
    policy.apply_severities(&mut out);
    out
}

/// How a message names an indication: its vocabulary word, never a word from outside it.
fn word(indication: &Indication) -> &'static str {
    indication
        .known_word()
        .unwrap_or("a word outside the vocabulary")
}

/// True when at least one documented indication establishes necessity under `policy`.
pub fn documents_necessity(case: &CaseEvent, policy: &Policy) -> bool {
    case.documentation
        .indications
        .iter()
        .any(|i| policy.covers(i))
}

/// True when any finding blocks submission.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

#[cfg(test)]
pub(crate) mod testing {
    //! A well-formed, submittable case to vary in table-driven tests.
    use serde_json::{json, Value};

    use crate::case::{decode, identify, CaseEvent, Finding};
    use crate::codes::CodeTable;
    use crate::rules::{validate, Policies};

    pub(crate) fn base() -> Value {
        json!({
            "schema": "preauth.case.v1",
            "event_id": "0b6f2c56-5f0e-4a8e-9f43-2d1c8f7e1a01",
            "case_id": "C-2026-000123",
            "kind": "submission",
            "occurred_at": "2026-11-20T14:03:00Z",
            "urgency": "standard",
            "patient": {"id": "P-88812", "family_name": "Doe", "given_names": ["Jane"],
                        "birth_date": "1979-04-02", "sex": "female"},
            "coverage": {"payer_id": "acme-health", "member_id": "ACM123456789",
                         "group_number": "GRP-001", "relationship": "self"},
            "provider": {"npi": "1234567893", "name": "Riverside Dermatology", "taxonomy": "207N00000X"},
            "service": {
                "planned_date": "2026-12-10",
                "place_of_service": "11",
                "procedures": [{"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1}],
                "diagnoses": [{"code": "H02.822", "primary": true}, {"code": "H57.11"}],
                "lesions": {"count": 2, "max_size_mm": 2.0, "site": "right lower eyelid margin"}
            },
            "documentation": {
                "indications": ["restricts-vision", "pain"],
                "clinical_notes": [{"id": "N-1", "date": "2026-11-18", "author_npi": "1234567893",
                    "text": "Two 2 mm milia on the right lower lid margin abrading the cornea; pain on blinking; fluorescein staining noted; vision blurred."}],
                "photos": [{"id": "IMG-1", "taken_on": "2026-11-18", "uri": "pm://attachments/IMG-1", "content_type": "image/jpeg"}],
                "prior_treatments": [{"treatment": "topical tretinoin 0.025%", "from": "2026-08-01", "to": "2026-10-30", "result": "failed"}],
                "letter_of_medical_necessity": null
            },
            "appeal": null
        })
    }

    pub(crate) fn appeal_base() -> Value {
        let mut v = base();
        v["kind"] = json!("appeal");
        v["event_id"] = json!("9a1f2c56-5f0e-4a8e-9f43-2d1c8f7e1a02");
        v["occurred_at"] = json!("2026-12-01T09:00:00Z");
        v["service"]["planned_date"] = json!("2026-12-20");
        v["appeal"] = json!({"original_event_id": "0b6f2c56-5f0e-4a8e-9f43-2d1c8f7e1a01",
            "payer_reference": "PA-98765", "denied_on": "2026-11-25", "denial_reason": "not medically necessary"});
        v["documentation"]["letter_of_medical_necessity"] = json!(
            {"uri": "pm://attachments/LMN-1", "signed_by_npi": "1234567893", "signed_on": "2026-11-26"});
        v
    }

    pub(crate) fn decode_value(v: &Value) -> CaseEvent {
        let bytes = serde_json::to_vec(v).expect("serialize");
        let id = identify(&bytes).expect("identifiable");
        decode(&id, None).unwrap_or_else(|f| panic!("test case does not decode: {f:?}"))
    }

    /// Validates `v` under the named shipped policy.
    pub(crate) fn findings(v: &Value, policy: &str) -> Vec<Finding> {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let policy = policies.get(policy).expect("policy");
        validate(&decode_value(v), &policy, &codes)
    }

    /// `rule:severity` pairs, for compact assertions.
    pub(crate) fn ids(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{}:{}", f.rule, if f.is_error() { "E" } else { "W" }))
            .collect()
    }
}
