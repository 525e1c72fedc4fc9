//! The PAS model (HL7 Da Vinci PAS on FHIR R4): the profile, extension and code system URLs, the
//! FHIR datatypes and resources of a request bundle as borrowed `serde` types (the request writer,
//! [`super::write`], lays these over a case), and those of a response ([`response`]: the worker
//! reads them, the payer simulator writes them). Nothing here knows of cases, payers or HTTP.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use super::json;

mod request;
mod response;
pub(crate) use request::*;
pub(crate) use response::*;

macro_rules! pas_sd {
    ($name:literal) => {
        concat!(
            "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/",
            $name
        )
    };
}

pub const REQUEST_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-request-bundle");
pub const INQUIRY_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-inquiry-request-bundle");
pub const RESPONSE_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-response-bundle");
pub const INQUIRY_RESPONSE_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-inquiry-response-bundle");
pub const CLAIM_PROFILE: &str = pas_sd!("profile-claim");
pub const CLAIM_INQUIRY_PROFILE: &str = pas_sd!("profile-claim-inquiry");
pub const CLAIM_UPDATE_PROFILE: &str = pas_sd!("profile-claim-update");
pub const CLAIM_RESPONSE_PROFILE: &str = pas_sd!("profile-claimresponse");
pub const BENEFICIARY_PROFILE: &str = pas_sd!("profile-beneficiary");
pub const SUBSCRIBER_PROFILE: &str = pas_sd!("profile-subscriber");
pub const COVERAGE_PROFILE: &str = pas_sd!("profile-coverage");
pub const INSURER_PROFILE: &str = pas_sd!("profile-insurer");
pub const REQUESTOR_PROFILE: &str = pas_sd!("profile-requestor");
pub const PRACTITIONER_PROFILE: &str = pas_sd!("profile-practitioner");
pub const PRACTITIONER_ROLE_PROFILE: &str = pas_sd!("profile-practitionerrole");
pub const SERVICE_REQUEST_PROFILE: &str = pas_sd!("profile-servicerequest");
pub const DOCUMENT_REFERENCE_PROFILE: &str = pas_sd!("profile-documentreference");

pub const EXT_SERVICE_ITEM_REQUEST_TYPE: &str = pas_sd!("extension-serviceItemRequestType");
pub const EXT_CERTIFICATION_TYPE: &str = pas_sd!("extension-certificationType");
pub const EXT_CARE_TEAM_CLAIM_SCOPE: &str = pas_sd!("extension-careTeamClaimScope");
pub const EXT_DOCUMENT_INFORMATION: &str = pas_sd!("extension-documentInformation");
pub const EXT_ADMINISTRATION_REFERENCE_NUMBER: &str =
    pas_sd!("extension-administrationReferenceNumber");
pub const EXT_LEVEL_OF_SERVICE: &str = pas_sd!("extension-levelOfServiceCode");
pub const EXT_TRANSMISSION_IDENTIFIERS: &str = pas_sd!("extension-TransmissionIdentifiers");
pub const EXT_ITEM_TRACE_NUMBER: &str = pas_sd!("extension-itemTraceNumber");
pub const EXT_REQUESTED_SERVICE: &str = pas_sd!("extension-requestedService");
pub const EXT_INFO_CHANGED: &str = pas_sd!("extension-infoChanged");
pub const EXT_INFO_CANCELLED: &str = pas_sd!("modifierextension-infoCancelled");
pub const EXT_REVIEW_ACTION: &str = pas_sd!("extension-reviewAction");
pub const EXT_REVIEW_ACTION_CODE: &str = pas_sd!("extension-reviewActionCode");
pub const EXT_ITEM_PRE_AUTH_PERIOD: &str = pas_sd!("extension-itemPreAuthPeriod");
pub const EXT_ERROR_PATH: &str = pas_sd!("extension-errorPath");
pub const EXT_ERROR_ELEMENT: &str = pas_sd!("extension-errorElement");

pub const PAS_TEMP_CODES: &str = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes";
pub const CPT_SYSTEM: &str = "http://www.ama-assn.org/go/cpt";
pub const HCPCS_SYSTEM: &str = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
pub const ICD10CM_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";
pub const POS_SYSTEM: &str =
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set";
pub const NUCC_TAXONOMY_SYSTEM: &str = "http://nucc.org/provider-taxonomy";
pub const LOINC_SYSTEM: &str = "http://loinc.org";
pub const V2_0203_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
pub const C4BB_IDENTIFIER_TYPE_SYSTEM: &str =
    "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType";
pub const CLAIM_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
pub const PROCESS_PRIORITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/processpriority";
pub const RELATED_CLAIM_RELATIONSHIP_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship";
pub const SUBSCRIBER_RELATIONSHIP_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/subscriber-relationship";
pub const COVERAGE_CLASS_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/coverage-class";
pub const ADJUDICATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
pub const DOCUMENT_CATEGORY_SYSTEM: &str =
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category";
pub const X12_98_SYSTEM: &str = "https://codesystem.x12.org/005010/98";
pub const X12_306_SYSTEM: &str = "https://codesystem.x12.org/005010/306";
pub const X12_755_SYSTEM: &str = "https://codesystem.x12.org/005010/755";
pub const X12_756_SYSTEM: &str = "https://codesystem.x12.org/005010/756";
pub const X12_1069_SYSTEM: &str = "https://codesystem.x12.org/005010/1069";
pub const X12_1322_SYSTEM: &str = "https://codesystem.x12.org/005010/1322";
pub const X12_1338_SYSTEM: &str = "https://codesystem.x12.org/005010/1338";
/// X12 673, the quantity qualifier of the 278's HSD01, which PASQuantity.code is bound to.
pub const X12_673_SYSTEM: &str = "https://codesystem.x12.org/005010/673";
pub const X12_1365_SYSTEM: &str = "https://codesystem.x12.org/005010/1365";
pub const X12_1525_SYSTEM: &str = "https://codesystem.x12.org/005010/1525";

// Identifier systems of the worker's own, the fallbacks when a payer's settings do not name its
// own (`member_id_system`, `payer_identifier`): a real payer needs those set.
pub const MEMBER_ID_SYSTEM_PREFIX: &str = "urn:preauth-worker:member-id:";
pub const PAYER_ID_SYSTEM: &str = "urn:preauth-worker:payer-id";

pub const LOINC_PROGRESS_NOTE: &str = "11506-3";
pub const LOINC_PHOTO: &str = "72170-4";
pub const LOINC_LETTER: &str = "51852-2";

pub const INDICATIONS_PREFIX: &str = "Documented indications: ";
pub const PRIOR_TREATMENT_PREFIX: &str = "Prior treatment: ";
pub const APPEAL_PREFIX: &str = "Appeal of ";
pub const ORIGINAL_REQUEST_PREFIX: &str = "Original request: ";

/// The X12 886 code system for review decision reasons.
pub const X12_REASON_SYSTEM: &str = "https://codesystem.x12.org/external/886";
/// The X12 901 code system for request errors (AAA reject reasons).
pub const X12_REJECT_SYSTEM: &str = "https://codesystem.x12.org/005010/901";

/// An OperationOutcome for a 4xx answer: one error issue with the FHIR issue-type `code`.
pub fn operation_outcome(code: &str, diagnostics: &str) -> Value {
    let outcome = AnyResource::OperationOutcome(OperationOutcome {
        issue: vec![Issue {
            severity: Some("error"),
            code: Some(code),
            diagnostics: Some(diagnostics).filter(|d| !d.is_empty()),
            ..Issue::default()
        }],
    });
    serde_json::to_value(outcome).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Scalars that serialize without an intermediate String.

/// A resource's `urn:uuid:` fullUrl: a UUID v5 of the request identifier and the resource's
/// role, so a resent request carries the same GUIDs and another request new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Urn(pub(crate) Uuid);

impl Urn {
    pub(crate) fn of(request_identifier: &str, role: &str) -> Self {
        Self(crate::ids::pas_resource(request_identifier, role))
    }
}

/// A resource's fullUrl as text.
pub(crate) fn full_url(identifier: &str, role: &str) -> String {
    format!("urn:uuid:{}", Urn::of(identifier, role).0.hyphenated())
}

impl Serialize for Urn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("urn:uuid:{}", self.0.hyphenated()))
    }
}

/// A FHIR `date` (YYYY-MM-DD).
#[derive(Clone, Copy)]
pub(crate) struct Date(pub(crate) NaiveDate);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Bytes as standard base64 (FHIR `base64Binary`), encoded while they are written: a photo's
/// bytes are never copied into an encoded string of their own.
pub(crate) struct Base64<'a>(pub(crate) &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// The sequence numbers 1..=n (FHIR positiveInt), as an array.
#[derive(Clone, Copy)]
pub(crate) struct Sequences(pub(crate) u32);

impl Sequences {
    pub(crate) fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl Serialize for Sequences {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(1..=self.0)
    }
}

/// 1-based sequence numbers (FHIR positiveInt).
pub(crate) fn seq(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn is_empty<T>(v: &&[T]) -> bool {
    v.is_empty()
}

// ---------------------------------------------------------------------------------------------
// FHIR datatypes, borrowed.

#[derive(Serialize)]
pub(crate) struct Meta<'a> {
    pub(crate) profile: [&'a str; 1],
}

pub(crate) fn meta(profile: &str) -> Meta<'_> {
    Meta { profile: [profile] }
}

/// A coding, written by the request writer and the payer simulator, read by both readers.
#[derive(Serialize, Deserialize, Default, Clone, Copy)]
pub(crate) struct Coding<'a> {
    #[serde(
        default,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) system: Option<&'a str>,
    #[serde(
        default,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) code: Option<&'a str>,
    #[serde(
        default,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) display: Option<&'a str>,
}

impl<'a> Coding<'a> {
    pub(crate) fn new(system: &'a str, code: &'a str, display: Option<&'a str>) -> Self {
        Self {
            system: Some(system),
            code: Some(code),
            display,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Concept<'a> {
    pub(crate) coding: [Coding<'a>; 1],
}

/// A concept coded in two systems.
#[derive(Serialize)]
pub(crate) struct Concept2<'a> {
    pub(crate) coding: [Coding<'a>; 2],
}

pub(crate) fn concept<'a>(system: &'a str, code: &'a str) -> Concept<'a> {
    Concept {
        coding: [Coding::new(system, code, None)],
    }
}

pub(crate) fn concept_display<'a>(system: &'a str, code: &'a str, display: &'a str) -> Concept<'a> {
    Concept {
        coding: [Coding::new(system, code, Some(display))],
    }
}

#[derive(Serialize)]
pub(crate) struct Reference {
    pub(crate) reference: Urn,
}

pub(crate) fn reference(url: Urn) -> Reference {
    Reference { reference: url }
}

#[derive(Serialize)]
pub(crate) struct Identifier<'a, Sys: Serialize = &'a str> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<Concept<'a>>,
    pub(crate) system: Sys,
    pub(crate) value: &'a str,
}

#[derive(Serialize)]
pub(crate) struct NpiReference<'a> {
    pub(crate) identifier: Identifier<'a>,
}

pub(crate) fn npi_reference(npi: &str) -> NpiReference<'_> {
    NpiReference {
        identifier: Identifier {
            kind: None,
            system: NPI_SYSTEM,
            value: npi,
        },
    }
}

/// An extension: a url and one value, or nested extensions (a complex extension).
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extension<'a> {
    pub(crate) url: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) extension: Vec<Extension<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_codeable_concept: Option<Concept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_boolean: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_identifier: Option<Identifier<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_reference: Option<Reference>,
}

pub(crate) fn extension_concept<'a>(url: &'a str, concept: Concept<'a>) -> Extension<'a> {
    Extension {
        url,
        value_codeable_concept: Some(concept),
        ..Extension::default()
    }
}

pub(crate) fn extension_string<'a>(url: &'a str, value: &'a str) -> Extension<'a> {
    Extension {
        url,
        value_string: Some(value),
        ..Extension::default()
    }
}

pub(crate) fn extension_boolean(url: &str, value: bool) -> Extension<'_> {
    Extension {
        url,
        value_boolean: Some(value),
        ..Extension::default()
    }
}

pub(crate) fn extension_code<'a>(url: &'a str, code: &'a str) -> Extension<'a> {
    Extension {
        url,
        value_code: Some(code),
        ..Extension::default()
    }
}

/// The X12 PWK-like document information every `additionalInformation` entry must carry.
pub(crate) fn document_information<'a>(report_type: &'a str, display: &'a str) -> Extension<'a> {
    Extension {
        url: EXT_DOCUMENT_INFORMATION,
        extension: vec![
            extension_concept(
                "reportTypeCode",
                concept_display(X12_755_SYSTEM, report_type, display),
            ),
            extension_concept(
                "transmissionMethod",
                concept_display(X12_756_SYSTEM, "EL", "Electronically Only"),
            ),
        ],
        ..Extension::default()
    }
}
