//! The message contract with practice-management systems: the case event (inbound) and the
//! outcome event (outbound), with decoding that never panics and names every problem it finds.

mod decode;
mod outcome;

pub use decode::{decode, identify, json_error, Identified, ParkReason, Unidentifiable};
pub use outcome::{
    AppealRoute, Authorization, Finding, Outcome, PayerRef, Reason, Severity, Status,
    OUTCOME_SCHEMA_V1,
};

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::codes::{Icd10Cm, Modifier, Npi, ProcedureCode};

/// The schema name of version 1 case events.
pub const CASE_SCHEMA_V1: &str = "preauth.case.v1";

/// What a case event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new pre-authorization request (`case.submitted`).
    Submission,
    /// An appeal of a denied request (`case.appeal`).
    Appeal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Submission => "submission",
            Kind::Appeal => "appeal",
        }
    }

    /// The inbound routing key events of this kind travel with.
    pub fn routing_key(self) -> &'static str {
        match self {
            Kind::Submission => "case.submitted",
            Kind::Appeal => "case.appeal",
        }
    }

    /// The operation name used in deterministic request identifiers.
    pub fn operation(self) -> &'static str {
        match self {
            Kind::Submission => "submit",
            Kind::Appeal => "appeal",
        }
    }
}

/// How fast the payer must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn fhir_code(self) -> &'static str {
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

/// A pre-authorization case event (`preauth.case.v1`), fully decoded.
#[derive(Debug, Clone)]
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
}

impl CaseEvent {
    /// The calendar date of `occurred_at` as the sender wrote it: every date rule is judged
    /// against it, never against the wall clock.
    pub fn occurred_on(&self) -> NaiveDate {
        self.occurred_at.date_naive()
    }
}

#[derive(Debug, Clone)]
pub struct Patient {
    pub id: String,
    pub family_name: String,
    pub given_names: Vec<String>,
    pub birth_date: NaiveDate,
    pub sex: Sex,
}

#[derive(Debug, Clone)]
pub struct Coverage {
    pub payer_id: String,
    pub member_id: String,
    pub group_number: Option<String>,
    pub relationship: Relationship,
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub npi: Npi,
    pub name: String,
    pub taxonomy: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub planned_date: NaiveDate,
    pub place_of_service: String,
    pub procedures: Vec<Procedure>,
    pub diagnoses: Vec<Diagnosis>,
    pub lesions: Option<Lesions>,
}

#[derive(Debug, Clone)]
pub struct Procedure {
    pub code: ProcedureCode,
    pub modifiers: Vec<Modifier>,
    pub units: u32,
}

#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub code: Icd10Cm,
    pub primary: bool,
}

#[derive(Debug, Clone)]
pub struct Lesions {
    pub count: u32,
    pub max_size_mm: f64,
    pub site: String,
}

#[derive(Debug, Clone, Default)]
pub struct Documentation {
    pub indications: Vec<Indication>,
    pub clinical_notes: Vec<ClinicalNote>,
    pub photos: Vec<Photo>,
    pub prior_treatments: Vec<PriorTreatment>,
    pub letter_of_medical_necessity: Option<Letter>,
}

#[derive(Debug, Clone)]
pub struct ClinicalNote {
    pub id: String,
    pub date: NaiveDate,
    pub author_npi: Option<Npi>,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Photo {
    pub id: String,
    pub taken_on: NaiveDate,
    pub uri: String,
    pub content_type: String,
}

#[derive(Debug, Clone)]
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

/// True when a prior treatment's recorded result says it did not work or could not be continued.
/// Shared by [`PriorTreatment::failed`] and readers of the result as free text (the PAS payer
/// simulator reads it back from a request bundle).
pub fn result_means_failure(result: &str) -> bool {
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

#[derive(Debug, Clone)]
pub struct Letter {
    pub uri: String,
    pub signed_by_npi: Npi,
    pub signed_on: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Appeal {
    pub original_event_id: String,
    pub payer_reference: String,
    pub denied_on: NaiveDate,
    pub denial_reason: String,
}

/// A documented medical-necessity finding, from the contract's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    pub const VOCABULARY: [&'static str; 16] = [
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
    pub fn is_appearance_only(&self) -> bool {
        matches!(
            self,
            Self::Cosmetic | Self::EmotionalDistress | Self::MakeupTrapping
        )
    }

    /// The vocabulary word, or `None` for a word outside it: the form messages may quote.
    pub fn known_word(&self) -> Option<&'static str> {
        match self {
            Self::Unknown(_) => None,
            known => Self::VOCABULARY
                .iter()
                .copied()
                .find(|w| *w == known.as_str()),
        }
    }
}
