//! The message contract with practice-management systems: the case event (inbound) and the
//! outcome event (outbound), with decoding that never panics and names every problem it finds.
//!
//! The case types hold patient data, so their `Debug` output is written by hand: ids, validated
//! codes, the event's enumerations and counts are shown, everything else is `<redacted>`.

mod decode;
mod finding;
mod identify;
mod json;
mod kind;
mod outcome;
mod progress;
pub(crate) mod redact;
mod when;

pub use decode::decode;
pub use finding::{registry, Finding, Rule, Severity};
pub use identify::{
    check_identifiable, identify, json_error, Identified, Unidentifiable, Unreadable,
};
pub use json::{Json, Members};
pub use kind::{Kind, Original};
pub use outcome::{
    AppealRoute, Authorization, AuthorizedLine, InformationRequest, Outcome, PayerRef, Reason,
    Status, WorkerReason, OUTCOME_SCHEMA_V1,
};
pub use progress::{
    Progress, ProgressOperation, ProgressParked, ProgressPayer, ProgressRetry, Step,
    PROGRESS_SCHEMA_V1,
};

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::codes::{Icd10Cm, Modifier, Npi, ProcedureCode};
use redact::{redacted_option, Redacted, RedactedList};

/// The schema name of version 1 case events.
pub(crate) const CASE_SCHEMA_V1: &str = "preauth.case.v1";

/// How fast the payer must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Standard,
    Expedited,
}

/// Administrative sex as the PM system records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    /// The FHIR administrative-gender code.
    pub(crate) fn fhir_code(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
}

/// The subscriber relationship of the patient to the policy holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    SelfInsured,
    Spouse,
    Child,
    Other,
}

impl Relationship {
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::SelfInsured => "self",
            Relationship::Spouse => "spouse",
            Relationship::Child => "child",
            Relationship::Other => "other",
        }
    }
}

/// Which side of the body the lesions are on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Laterality {
    Right,
    Left,
    Both,
}

impl Laterality {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Laterality::Right => "right",
            Laterality::Left => "left",
            Laterality::Both => "both",
        }
    }
}

impl fmt::Debug for Laterality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which eyelid the lesions are on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LidPart {
    Upper,
    Lower,
    Both,
}

impl LidPart {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            LidPart::Upper => "upper",
            LidPart::Lower => "lower",
            LidPart::Both => "both",
        }
    }
}

impl fmt::Debug for LidPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pre-authorization case event (`preauth.case.v1`), fully decoded.
#[derive(Clone)]
pub struct CaseEvent {
    pub event_id: String,
    pub case_id: String,
    pub kind: Kind,
    pub occurred_at: DateTime<FixedOffset>,
    pub urgency: Urgency,
    pub patient: Patient,
    pub coverage: Coverage,
    pub provider: Provider,
    pub service: Service,
    pub documentation: Documentation,
    pub appeal: Option<Appeal>,
    /// The request an update or a cancellation refers to (`None` for the other kinds).
    pub original: Option<Original>,
    /// Every member the contract does not define, at any level, in the order the decoder met
    /// them. They are ignored; validation reports each one (`DEC-05`).
    pub unknown_members: Vec<UnknownMember>,
}

/// A member of a case event that the contract does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMember {
    /// Where it is: the dotted path with indexes (`service.procedures[0].modifer`). The member's
    /// own name ends the path only when it is shaped like an identifier (ASCII letters, digits,
    /// `_` and `-`, 1 to 64 of them); otherwise the path ends in [`UnknownMember::UNNAMED`], so a
    /// name carrying anything else is never repeated.
    pub path: String,
    /// The member the contract defines at the same level whose name is closest, when it is close
    /// enough to be what was meant.
    pub suggestion: Option<&'static str>,
}

impl UnknownMember {
    /// Its `DEC-05` finding: the path, and the contract's own field it most likely meant. The
    /// message quotes nothing else.
    pub fn finding(&self) -> Finding {
        let message = match self.suggestion {
            Some(name) => format!(
                "this member is not part of the contract and is ignored; did you mean `{name}`?"
            ),
            None => "this member is not part of the contract and is ignored".to_owned(),
        };
        registry::DEC_05.finding(&self.path, message)
    }

    /// The last step of the path of a member whose name is not shaped like an identifier.
    pub const UNNAMED: &'static str = "<a member whose name is not an identifier>";
}

impl CaseEvent {
    /// The calendar date of `occurred_at` as the sender wrote it: every date rule is judged
    /// against it, never against the wall clock.
    pub(crate) fn occurred_on(&self) -> NaiveDate {
        self.occurred_at.date_naive()
    }
}

impl fmt::Debug for CaseEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaseEvent")
            .field("event_id", &self.event_id)
            .field("case_id", &self.case_id)
            .field("kind", &self.kind)
            .field("occurred_at", &Redacted)
            .field("urgency", &self.urgency)
            .field("patient", &self.patient)
            .field("coverage", &self.coverage)
            .field("provider", &self.provider)
            .field("service", &self.service)
            .field("documentation", &self.documentation)
            .field("appeal", &self.appeal)
            .field("original", &self.original)
            .field("unknown_members", &self.unknown_members)
            .finish()
    }
}

#[derive(Clone)]
pub struct Patient {
    pub id: String,
    pub family_name: String,
    pub given_names: Vec<String>,
    pub birth_date: NaiveDate,
    pub sex: Sex,
}

impl fmt::Debug for Patient {
    /// Everything about the patient is redacted, the record id included (a medical record
    /// number identifies the patient as surely as the name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Patient")
            .field("id", &Redacted)
            .field("family_name", &Redacted)
            .field("given_names", &RedactedList(self.given_names.len()))
            .field("birth_date", &Redacted)
            .field("sex", &Redacted)
            .finish()
    }
}

#[derive(Clone)]
pub struct Coverage {
    pub payer_id: String,
    pub member_id: String,
    pub group_number: Option<String>,
    pub relationship: Relationship,
    /// The policy holder, when the patient is a dependant and the sender names them.
    pub subscriber: Option<Subscriber>,
}

/// The subscriber (policy holder) of a dependant's coverage.
#[derive(Clone)]
pub struct Subscriber {
    /// The subscriber's own member id, when known.
    pub member_id: Option<String>,
    pub family_name: String,
    pub given_names: Vec<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("member_id", &redacted_option(&self.member_id))
            .field("family_name", &Redacted)
            .field("given_names", &RedactedList(self.given_names.len()))
            .field("birth_date", &Redacted)
            .field("sex", &Redacted)
            .finish()
    }
}

impl fmt::Debug for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coverage")
            .field("payer_id", &self.payer_id)
            .field("member_id", &Redacted)
            .field("group_number", &redacted_option(&self.group_number))
            .field("relationship", &Redacted)
            .field("subscriber", &redacted_option(&self.subscriber))
            .finish()
    }
}

#[derive(Clone)]
pub struct Provider {
    pub npi: Npi,
    pub name: String,
    pub taxonomy: Option<String>,
    /// The NPI of the organization the provider works for, when sent.
    pub organization_npi: Option<Npi>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("npi", &self.npi)
            .field("name", &Redacted)
            .field("taxonomy", &redacted_option(&self.taxonomy))
            .field("organization_npi", &self.organization_npi)
            .finish()
    }
}

#[derive(Clone)]
pub struct Service {
    pub planned_date: NaiveDate,
    pub place_of_service: String,
    pub procedures: Vec<Procedure>,
    pub diagnoses: Vec<Diagnosis>,
    pub lesions: Option<Lesions>,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("planned_date", &Redacted)
            .field("place_of_service", &self.place_of_service)
            .field("procedures", &self.procedures)
            .field("diagnoses", &self.diagnoses)
            .field("lesions", &self.lesions)
            .finish()
    }
}

/// Validated codes and a count only: the derived `Debug` shows nothing but them.
#[derive(Debug, Clone)]
pub struct Procedure {
    pub code: ProcedureCode,
    pub modifiers: Vec<Modifier>,
    pub units: u32,
}

/// A validated code and a flag: the derived `Debug` shows nothing but them.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub code: Icd10Cm,
    pub primary: bool,
}

#[derive(Clone)]
pub struct Lesions {
    pub count: u32,
    pub max_size_mm: f64,
    pub site: String,
    /// The site as a SNOMED CT concept id (its digits), when sent.
    pub body_site: Option<String>,
    /// How far the nearest lesion is from the lid margin, in millimetres (0 to 50).
    pub distance_from_margin_mm: Option<f64>,
    pub laterality: Option<Laterality>,
    pub lid: Option<LidPart>,
}

impl fmt::Debug for Lesions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lesions")
            .field("count", &self.count)
            .field("max_size_mm", &self.max_size_mm)
            .field("site", &Redacted)
            .field("body_site", &self.body_site)
            .field("distance_from_margin_mm", &self.distance_from_margin_mm)
            .field("laterality", &self.laterality)
            .field("lid", &self.lid)
            .finish()
    }
}

/// Every part has a redacting `Debug` of its own, so the derived one redacts too.
#[derive(Debug, Clone, Default)]
pub struct Documentation {
    pub indications: Vec<Indication>,
    pub clinical_notes: Vec<ClinicalNote>,
    pub photos: Vec<Photo>,
    pub prior_treatments: Vec<PriorTreatment>,
    pub letter_of_medical_necessity: Option<Letter>,
}

#[derive(Clone)]
pub struct ClinicalNote {
    pub id: String,
    pub date: NaiveDate,
    pub author_npi: Option<Npi>,
    /// The NPI of the organization the note's author wrote it for, when sent.
    pub author_organization_npi: Option<Npi>,
    pub text: String,
}

impl fmt::Debug for ClinicalNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClinicalNote")
            .field("id", &self.id)
            .field("date", &Redacted)
            .field("author_npi", &self.author_npi)
            .field("author_organization_npi", &self.author_organization_npi)
            .field("text", &Redacted)
            .finish()
    }
}

#[derive(Clone)]
pub struct Photo {
    pub id: String,
    pub taken_on: NaiveDate,
    pub uri: String,
    pub content_type: String,
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("id", &self.id)
            .field("taken_on", &Redacted)
            .field("uri", &Redacted)
            .field("content_type", &Redacted)
            .finish()
    }
}

#[derive(Clone)]
pub struct PriorTreatment {
    pub treatment: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub result: String,
}

impl PriorTreatment {
    /// True when the record says the treatment did not work or could not be continued.
    pub fn failed(&self) -> bool {
        result_means_failure(&self.result)
    }
}

impl fmt::Debug for PriorTreatment {
    /// The free-text result is shown only as what the rules read from it (`failed`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorTreatment")
            .field("treatment", &Redacted)
            .field("from", &Redacted)
            .field("to", &redacted_option(&self.to))
            .field("result", &Redacted)
            .field("failed", &self.failed())
            .finish()
    }
}

/// True when a prior treatment's recorded result says it did not work or could not be continued.
/// Shared by [`PriorTreatment::failed`] and readers of the result as free text (the PAS payer
/// simulator reads it back from a request bundle).
pub(crate) fn result_means_failure(result: &str) -> bool {
    let r = result.trim().to_ascii_lowercase();
    matches!(
        r.as_str(),
        "failed"
            | "ineffective"
            | "no-improvement"
            | "no improvement"
            | "intolerant"
            | "not-tolerated"
            | "not tolerated"
            | "contraindicated"
            | "worsened"
    )
}

#[derive(Clone)]
pub struct Letter {
    pub uri: String,
    pub signed_by_npi: Npi,
    pub signed_on: NaiveDate,
}

impl fmt::Debug for Letter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Letter")
            .field("uri", &Redacted)
            .field("signed_by_npi", &self.signed_by_npi)
            .field("signed_on", &Redacted)
            .finish()
    }
}

#[derive(Clone)]
pub struct Appeal {
    pub original_event_id: String,
    pub payer_reference: String,
    pub denied_on: NaiveDate,
    pub denial_reason: String,
}

impl fmt::Debug for Appeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appeal")
            .field("original_event_id", &self.original_event_id)
            .field("payer_reference", &self.payer_reference)
            .field("denied_on", &Redacted)
            .field("denial_reason", &Redacted)
            .finish()
    }
}

/// A documented medical-necessity finding, from the contract's vocabulary.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Indication {
    Bleeding,
    Itching,
    Pain,
    Inflammation,
    Infection,
    ChangeInAppearance,
    RecentEnlargement,
    IncreaseInNumber,
    ObstructsOrifice,
    RestrictsVision,
    DiagnosticUncertainty,
    PriorBiopsy,
    RecurrentTrauma,
    /// Appearance-only reasons: accepted in the message, never a justification.
    Cosmetic,
    EmotionalDistress,
    MakeupTrapping,
    /// A word outside the vocabulary (kept lower-cased, reported as a finding).
    Unknown(String),
}

impl Indication {
    /// Every word of the vocabulary, in contract order.
    pub(crate) const VOCABULARY: [&'static str; 16] = [
        "bleeding",
        "itching",
        "pain",
        "inflammation",
        "infection",
        "change-in-appearance",
        "recent-enlargement",
        "increase-in-number",
        "obstructs-orifice",
        "restricts-vision",
        "diagnostic-uncertainty",
        "prior-biopsy",
        "recurrent-trauma",
        "cosmetic",
        "emotional-distress",
        "makeup-trapping",
    ];

    pub fn parse(word: &str) -> Self {
        let w = word.trim().to_ascii_lowercase();
        match w.as_str() {
            "bleeding" => Self::Bleeding,
            "itching" => Self::Itching,
            "pain" => Self::Pain,
            "inflammation" => Self::Inflammation,
            "infection" => Self::Infection,
            "change-in-appearance" => Self::ChangeInAppearance,
            "recent-enlargement" => Self::RecentEnlargement,
            "increase-in-number" => Self::IncreaseInNumber,
            "obstructs-orifice" => Self::ObstructsOrifice,
            "restricts-vision" => Self::RestrictsVision,
            "diagnostic-uncertainty" => Self::DiagnosticUncertainty,
            "prior-biopsy" => Self::PriorBiopsy,
            "recurrent-trauma" => Self::RecurrentTrauma,
            "cosmetic" => Self::Cosmetic,
            "emotional-distress" => Self::EmotionalDistress,
            "makeup-trapping" => Self::MakeupTrapping,
            _ => Self::Unknown(w),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Bleeding => "bleeding",
            Self::Itching => "itching",
            Self::Pain => "pain",
            Self::Inflammation => "inflammation",
            Self::Infection => "infection",
            Self::ChangeInAppearance => "change-in-appearance",
            Self::RecentEnlargement => "recent-enlargement",
            Self::IncreaseInNumber => "increase-in-number",
            Self::ObstructsOrifice => "obstructs-orifice",
            Self::RestrictsVision => "restricts-vision",
            Self::DiagnosticUncertainty => "diagnostic-uncertainty",
            Self::PriorBiopsy => "prior-biopsy",
            Self::RecurrentTrauma => "recurrent-trauma",
            Self::Cosmetic => "cosmetic",
            Self::EmotionalDistress => "emotional-distress",
            Self::MakeupTrapping => "makeup-trapping",
            Self::Unknown(w) => w,
        }
    }

    /// Appearance-only reasons can never justify a request.
    pub(crate) fn is_appearance_only(&self) -> bool {
        matches!(
            self,
            Self::Cosmetic | Self::EmotionalDistress | Self::MakeupTrapping
        )
    }

    /// The vocabulary word, or `None` for a word outside it: the form messages may quote.
    pub(crate) fn known_word(&self) -> Option<&'static str> {
        match self {
            Self::Unknown(_) => None,
            known => Self::VOCABULARY
                .iter()
                .copied()
                .find(|w| *w == known.as_str()),
        }
    }
}

impl fmt::Debug for Indication {
    /// A vocabulary word is shown; a word outside it is free text and is not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_word() {
            Some(word) => f.write_str(word),
            None => f.debug_tuple("Unknown").field(&Redacted).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A case event with a distinct value in every field that holds patient data.
    fn full_case() -> CaseEvent {
        let v = json!({
            "schema": "preauth.case.v1",
            "event_id": "evt-5f0e-4a8e",
            "case_id": "C-2026-424242",
            "kind": "appeal",
            "occurred_at": "2026-12-01T09:15:00Z",
            "urgency": "expedited",
            "patient": {"id": "MRN-778899", "family_name": "Petrovskaya",
                        "given_names": ["Ivanka", "Mariya"], "birth_date": "1950-05-17",
                        "sex": "female"},
            "coverage": {"payer_id": "acme-health", "member_id": "ACM555666777",
                         "group_number": "GRP-ZEBRA", "relationship": "spouse",
                         "subscriber": {"member_id": "ACM555666700", "family_name": "Petrovsky",
                                        "given_names": ["Oleg"], "birth_date": "1948-02-11"}},
            "provider": {"npi": "1234567893", "name": "Lakeside Oculoplastics",
                         "taxonomy": "207W00000X"},
            "service": {
                "planned_date": "2026-12-19",
                "place_of_service": "22",
                "procedures": [{"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1}],
                "diagnoses": [{"code": "H02.822", "primary": true}, {"code": "H57.11"}],
                "lesions": {"count": 3, "max_size_mm": 2.5, "site": "lower lid by the old scar"}
            },
            "documentation": {
                "indications": ["pain", "she says it looks odd"],
                "clinical_notes": [{"id": "N-1", "date": "2026-11-18", "author_npi": "1234567893",
                    "text": "Mrs Petrovskaya reports pain on blinking"}],
                "photos": [{"id": "IMG-1", "taken_on": "2026-11-16",
                    "uri": "pm://attachments/petrovskaya-face.jpg", "content_type": "image/x-portrait"}],
                "prior_treatments": [{"treatment": "tretinoin cream nightly", "from": "2026-08-03",
                    "to": "2026-10-29", "result": "no improvement"}],
                "letter_of_medical_necessity": {"uri": "pm://attachments/lmn-petrovskaya.pdf",
                    "signed_by_npi": "1234567893", "signed_on": "2026-11-27"}
            },
            "appeal": {"original_event_id": "evt-0001", "payer_reference": "PA-98765",
                       "denied_on": "2026-11-24", "denial_reason": "reviewer felt the lesion was cosmetic"}
        });
        let bytes = serde_json::to_vec(&v).expect("serialize");
        let id = identify(&bytes).expect("identifiable");
        decode(&id, Some("case.appeal")).unwrap_or_else(|f| panic!("does not decode: {f:?}"))
    }

    #[test]
    fn a_case_event_prints_ids_and_codes_but_no_patient_value_in_debug_output() {
        let case = full_case();
        for shown in [format!("{case:?}"), format!("{case:#?}")] {
            for patient_value in [
                "2026-12-01",
                "09:15",
                "MRN-778899",
                "Petrovskaya",
                "Ivanka",
                "Mariya",
                "1950",
                "05-17",
                "Female",
                "ACM555666777",
                "GRP-ZEBRA",
                "Spouse",
                "ACM555666700",
                "Petrovsky",
                "Oleg",
                "1948",
                "Lakeside",
                "207W00000X",
                "2026-12-19",
                "old scar",
                "looks odd",
                "2026-11-18",
                "blinking",
                "2026-11-16",
                "petrovskaya-face",
                "x-portrait",
                "tretinoin",
                "2026-08-03",
                "2026-10-29",
                "no improvement",
                "lmn-petrovskaya",
                "2026-11-27",
                "2026-11-24",
                "cosmetic",
            ] {
                assert!(
                    !shown.contains(patient_value),
                    "{patient_value:?} in the debug output:\n{shown}"
                );
            }
            for shown_value in [
                "C-2026-424242",
                "evt-5f0e-4a8e",
                "Appeal",
                "Expedited",
                "acme-health",
                "1234567893",
                "67850",
                "E4",
                "H02822",
                "H5711",
                "\"22\"",
                "count: 3",
                "pain",
                "Unknown(",
                "N-1",
                "IMG-1",
                "failed: true",
                "evt-0001",
                "PA-98765",
                "<2 redacted>",
            ] {
                assert!(
                    shown.contains(shown_value),
                    "{shown_value:?} missing from the debug output:\n{shown}"
                );
            }
        }
    }

    #[test]
    fn an_indication_outside_the_vocabulary_is_not_shown_in_debug_output() {
        assert_eq!(format!("{:?}", Indication::parse("Pain")), "pain");
        assert_eq!(
            format!("{:?}", Indication::parse("ivan petrov dob 1950-05-17")),
            "Unknown(<redacted>)"
        );
        assert_eq!(Indication::parse("ivan").known_word(), None);
        assert_eq!(
            Indication::parse("restricts-vision").known_word(),
            Some("restricts-vision")
        );
    }
}
