//! Validation rules: pure functions of a decoded case event, the payer policy and the code table.
//! No clock, no I/O: replaying last year's cases gives last year's answers.
//!
//! Each rule has a stable id; `RULES` lists them for documentation and metrics.

mod appeal;
mod coding;
mod documentation;
pub mod policy;

pub use policy::{Policies, Policy, PolicyError};

use crate::case::{CaseEvent, Finding, Kind};
use crate::codes::CodeTable;

/// A rule id, its default severity and what it checks (the operator's reference).
pub struct RuleDoc {
    pub id: &'static str,
    pub severity: &'static str,
    pub checks: &'static str,
}

/// Every rule the validator applies, decoding rules included.
pub const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "DEC-01",
        severity: "error",
        checks: "a field is missing, of the wrong type, or outside its domain",
    },
    RuleDoc {
        id: "DEC-02",
        severity: "error",
        checks: "the schema is not preauth.case.v1",
    },
    RuleDoc {
        id: "DEC-03",
        severity: "error",
        checks: "the routing key contradicts kind",
    },
    RuleDoc {
        id: "DEC-04",
        severity: "error",
        checks: "the appeal object disagrees with kind",
    },
    RuleDoc {
        id: "FMT-CPT-01",
        severity: "error/warning",
        checks: "CPT/HCPCS syntax; warning when only Category II tracking codes are requested",
    },
    RuleDoc {
        id: "FMT-ICD-01",
        severity: "error",
        checks: "ICD-10-CM syntax",
    },
    RuleDoc {
        id: "FMT-MOD-01",
        severity: "error",
        checks: "modifier syntax and allow-list",
    },
    RuleDoc {
        id: "FMT-NPI-01",
        severity: "error",
        checks: "NPI format and check digit",
    },
    RuleDoc {
        id: "TAB-01",
        severity: "warning",
        checks: "procedure code not in the code table: its coverage rules cannot be checked",
    },
    RuleDoc {
        id: "PA-01",
        severity: "warning",
        checks: "the payer policy does not list the code as needing pre-authorization",
    },
    RuleDoc {
        id: "COS-01",
        severity: "error/warning",
        checks: "cosmetic encounter diagnosis (Z41.1); warning for non-therapeutic Z41.8/Z41.9",
    },
    RuleDoc {
        id: "COS-02",
        severity: "error",
        checks: "cosmetic-only procedure code",
    },
    RuleDoc {
        id: "DX-01",
        severity: "error",
        checks: "exactly one primary diagnosis",
    },
    RuleDoc {
        id: "DX-02",
        severity: "warning",
        checks: "the same diagnosis listed twice",
    },
    RuleDoc {
        id: "COD-01",
        severity: "error",
        checks: "mutually exclusive codes requested together (17110 and 17111)",
    },
    RuleDoc {
        id: "NCCI-02",
        severity: "error",
        checks: "units above the code's medically unlikely edit",
    },
    RuleDoc {
        id: "DOC-01",
        severity: "error",
        checks: "lesion count and size documented and consistent with the code",
    },
    RuleDoc {
        id: "DOC-02",
        severity: "error",
        checks: "eyelid procedure whose site does not name the eyelid",
    },
    RuleDoc {
        id: "COD-04",
        severity: "error",
        checks: "67850 only at the lid margin and for lesions up to 1 cm",
    },
    RuleDoc {
        id: "MOD-02",
        severity: "error",
        checks: "59 and an X{EPSU} modifier on the same line",
    },
    RuleDoc {
        id: "MOD-03",
        severity: "error/warning",
        checks: "50 combined with E1-E4 (error); E1-E4 on a code that does not take them (warning)",
    },
    RuleDoc {
        id: "MOD-04",
        severity: "error",
        checks: "E1-E4 must match the side and lid of an eyelid diagnosis (H02.82x)",
    },
    RuleDoc {
        id: "MOD-05",
        severity: "warning",
        checks: "eyelid procedure without an E1-E4 modifier",
    },
    RuleDoc {
        id: "NEC-01",
        severity: "error",
        checks: "at least one indication the payer accepts is documented",
    },
    RuleDoc {
        id: "NEC-02",
        severity: "error",
        checks: "periocular location alone does not justify removal",
    },
    RuleDoc {
        id: "NEC-03",
        severity: "warning",
        checks: "'irritation' without objective findings",
    },
    RuleDoc {
        id: "NEC-04",
        severity: "error/warning",
        checks: "appearance-only reasons (cosmetic, emotional distress, makeup trapping)",
    },
    RuleDoc {
        id: "NEC-05",
        severity: "warning",
        checks: "a documented symptom with no supporting secondary diagnosis",
    },
    RuleDoc {
        id: "NEC-06",
        severity: "warning",
        checks: "an indication word outside the vocabulary",
    },
    RuleDoc {
        id: "NEC-07",
        severity: "warning",
        checks: "an indication this payer does not accept",
    },
    RuleDoc {
        id: "DOC-03",
        severity: "error/warning",
        checks: "dated photographs (error where the payer requires them)",
    },
    RuleDoc {
        id: "DOC-04",
        severity: "error",
        checks: "excision without a documented reason over destruction",
    },
    RuleDoc {
        id: "DOC-05",
        severity: "warning",
        checks: "no record of prior (conservative) treatment",
    },
    RuleDoc {
        id: "DOC-06",
        severity: "error",
        checks: "indications claimed without a clinical note",
    },
    RuleDoc {
        id: "DOC-07",
        severity: "warning",
        checks: "a claimed indication that no clinical note mentions",
    },
    RuleDoc {
        id: "DATE-01",
        severity: "error/warning",
        checks: "dates consistent with the event's occurred_at",
    },
    RuleDoc {
        id: "APL-01",
        severity: "error",
        checks: "appeal without a letter of medical necessity",
    },
    RuleDoc {
        id: "APL-02",
        severity: "warning",
        checks: "letter signed by an NPI other than the requesting provider's",
    },
    RuleDoc {
        id: "APL-03",
        severity: "error",
        checks: "appeal outside the payer's window from the denial date",
    },
    RuleDoc {
        id: "APL-04",
        severity: "error",
        checks: "appeal without documented prior (less costly) treatments",
    },
    RuleDoc {
        id: "APL-05",
        severity: "warning",
        checks: "letter signed before the denial it answers",
    },
    RuleDoc {
        id: "APL-06",
        severity: "warning",
        checks: "appeal packet without photographs",
    },
];

/// Applies every rule to a decoded case. Findings come in a stable order: coding, then
/// documentation, then appeal.
pub fn validate(case: &CaseEvent, policy: &Policy, codes: &CodeTable) -> Vec<Finding> {
    let mut out = Vec::new();
    coding::check(case, policy, codes, &mut out);
    documentation::check(case, policy, codes, &mut out);
    if case.kind == Kind::Appeal {
        appeal::check(case, policy, &mut out);
    }
    out
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

    pub fn base() -> Value {
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

    pub fn appeal_base() -> Value {
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

    pub fn decode_value(v: &Value) -> CaseEvent {
        let bytes = serde_json::to_vec(v).expect("serialize");
        let id = identify(&bytes).expect("identifiable");
        decode(&id, None).unwrap_or_else(|f| panic!("test case does not decode: {f:?}"))
    }

    /// Validates `v` under the named shipped policy.
    pub fn findings(v: &Value, policy: &str) -> Vec<Finding> {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let policy = policies.get(policy).expect("policy");
        validate(&decode_value(v), &policy, &codes)
    }

    /// `rule:severity` pairs, for compact assertions.
    pub fn ids(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{}:{}", f.rule, if f.is_error() { "E" } else { "W" }))
            .collect()
    }
}
