//! The resources of a request bundle, borrowed: the request writer lays them over a case.

use serde::Serialize;

use super::{
    is_empty, Base64, Concept, Concept2, Date, Extension, Identifier, Meta, NpiReference,
    Reference, Sequences, Urn,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bundle<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) identifier: Identifier<'a>,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) timestamp: &'a str,
    pub(crate) entry: Vec<Entry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry<'a> {
    pub(crate) full_url: Urn,
    pub(crate) resource: Resource<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Resource<'a> {
    Claim(Box<Claim<'a>>),
    Patient(Patient<'a>),
    Coverage(Coverage<'a>),
    Organization(Organization<'a>),
    Practitioner(Practitioner<'a>),
    PractitionerRole(PractitionerRole<'a>),
    ServiceRequest(ServiceRequest<'a>),
    DocumentReference(DocumentReference<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Patient<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    /// The member id; a subscriber whose id the case does not give has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) identifier: Vec<Identifier<'a>>,
    pub(crate) name: [HumanName<'a>; 1],
    /// Required on a beneficiary; a subscriber's may be unknown (then `unknown` is sent, as US
    /// Core's gender is 1..1).
    pub(crate) gender: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) birth_date: Option<Date>,
}

#[derive(Serialize, Default)]
pub(crate) struct HumanName<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<&'a str>,
    pub(crate) family: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    pub(crate) given: &'a [String],
}

/// The rendering provider (PASPractitioner).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Practitioner<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) name: [HumanName<'a>; 1],
}

/// The rendering provider in the requesting organization (PASPractitionerRole).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PractitionerRole<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) practitioner: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) organization: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) specialty: Option<[Concept<'a>; 1]>,
}

/// The service one Claim.item asks for (PASServiceRequest, `item.extension[requestedService]`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceRequest<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) status: &'static str,
    pub(crate) intent: &'static str,
    pub(crate) code: Concept<'a>,
    pub(crate) quantity_quantity: PasQuantity<'a>,
    pub(crate) subject: Reference,
    pub(crate) occurrence_timing: Timing,
    pub(crate) requester: Reference,
}

/// PASTiming: the day a service is planned for.
#[derive(Serialize)]
pub(crate) struct Timing {
    pub(crate) event: [Date; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Coverage<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) status: &'static str,
    /// The subscriber (PASSubscriber) when it is not the patient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subscriber: Option<Reference>,
    pub(crate) beneficiary: Reference,
    pub(crate) relationship: Concept2<'a>,
    pub(crate) payor: [Reference; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subscriber_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) class: Option<[CoverageClass<'a>; 1]>,
}

#[derive(Serialize)]
pub(crate) struct CoverageClass<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: Concept<'a>,
    pub(crate) value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Organization<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) active: bool,
    #[serde(rename = "type")]
    pub(crate) kind: [Concept<'a>; 1],
    pub(crate) name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Claim<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) extension: Vec<Extension<'a>>,
    /// One identifier, the TRN.
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) status: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: Concept<'a>,
    #[serde(rename = "use")]
    pub(crate) purpose: &'static str,
    pub(crate) patient: Reference,
    /// The inquiry's: the date of the service asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) billable_period: Option<DatePeriod>,
    pub(crate) created: &'a str,
    pub(crate) insurer: Reference,
    pub(crate) provider: Reference,
    pub(crate) priority: Concept<'a>,
    /// The update's: the request it changes or cancels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) related: Option<[Related<'a>; 1]>,
    pub(crate) care_team: [CareTeam<'a>; 1],
    pub(crate) insurance: [Insurance; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) item: Vec<Item<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) supporting_info: Vec<SupportingInfo<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) diagnosis: Vec<ClaimDiagnosis<'a>>,
}

#[derive(Serialize)]
pub(crate) struct CareTeam<'a> {
    pub(crate) extension: [Extension<'a>; 1],
    pub(crate) sequence: u32,
    pub(crate) provider: Reference,
    pub(crate) role: Concept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) qualification: Option<Concept<'a>>,
}

#[derive(Serialize)]
pub(crate) struct DatePeriod {
    pub(crate) start: Date,
    pub(crate) end: Date,
}

/// `Claim.related` of a Claim Update: the prior request, by its identifier.
#[derive(Serialize)]
pub(crate) struct Related<'a> {
    pub(crate) claim: LogicalReference<'a>,
    pub(crate) relationship: Concept<'a>,
}

/// A reference by business identifier (no resource in the bundle).
#[derive(Serialize)]
pub(crate) struct LogicalReference<'a> {
    pub(crate) identifier: Identifier<'a>,
}

#[derive(Serialize)]
pub(crate) struct Insurance {
    pub(crate) sequence: u32,
    pub(crate) focal: bool,
    pub(crate) coverage: Reference,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Item<'a> {
    pub(crate) extension: Vec<Extension<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) modifier_extension: Vec<Extension<'a>>,
    pub(crate) sequence: u32,
    pub(crate) care_team_sequence: [u32; 1],
    pub(crate) category: Concept<'a>,
    pub(crate) product_or_service: Concept<'a>,
    pub(crate) serviced_date: Date,
    pub(crate) location_codeable_concept: Concept<'a>,
    pub(crate) quantity: PasQuantity<'a>,
    /// The lesions' site coded in SNOMED CT, when the case carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body_site: Option<Concept<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) modifier: Vec<Concept<'a>>,
    #[serde(skip_serializing_if = "Sequences::is_empty")]
    pub(crate) diagnosis_sequence: Sequences,
    #[serde(skip_serializing_if = "Sequences::is_empty")]
    pub(crate) information_sequence: Sequences,
}

/// PASQuantity: a value with its unit, coded in X12 673 (the 278's HSD01).
#[derive(Serialize)]
pub(crate) struct PasQuantity<'a> {
    pub(crate) value: u32,
    pub(crate) unit: &'a str,
    pub(crate) system: &'a str,
    pub(crate) code: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClaimDiagnosis<'a> {
    pub(crate) sequence: u32,
    pub(crate) diagnosis_codeable_concept: Concept<'a>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<[Concept<'a>; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SupportingInfo<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) extension: Vec<Extension<'a>>,
    pub(crate) sequence: u32,
    pub(crate) category: Concept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timing_date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_reference: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_string: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentReference<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) meta: Meta<'a>,
    pub(crate) status: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: Concept<'a>,
    pub(crate) category: [Concept<'a>; 1],
    pub(crate) subject: Reference,
    // DocumentReference.date is an R4 `instant` ("when this reference was created"): the
    // request's own time. The document's date, a plain date, is in attachment.creation.
    pub(crate) date: &'a str,
    pub(crate) content: [Content<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) author: Option<[NpiReference<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authenticator: Option<NpiReference<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Content<'a> {
    pub(crate) attachment: Attachment<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<Base64<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<&'a str>,
    /// The number of bytes of `data` (FHIR `unsignedInt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    /// base64(SHA-1(data)), FHIR's `Attachment.hash`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hash: Option<String>,
    pub(crate) title: &'a str,
    pub(crate) creation: Date,
}
