//! The constraints of the PAS 2.2.1 profiles a request carries, as data: each one names the FSH
//! file and line it comes from (under `input/fsh/` of the IG source). Base FHIR R4 and US Core
//! 7.0.0 minimums a profile inherits cite the profile's `Parent:` line.
//!
//! Paths are relative to the resource, dot-separated; an array is entered element by element.
//! `name[x]` matches any `nameType` key; `ext:id` selects the `extension` entries whose url is
//! the PAS extension `…/StructureDefinition/extension-id`.

/// The canonical URL of a PAS StructureDefinition.
macro_rules! pas {
    ($id:literal) => {
        concat!(
            "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/",
            $id
        )
    };
}
#[cfg(test)]
pub(super) use pas;

/// An X12 5010 code system URL (a value set on valueset.x12.org is every code of the system).
macro_rules! x12 {
    ($n:literal) => {
        concat!("https://codesystem.x12.org/005010/", $n)
    };
}

pub(super) const PAS_EXTENSION_BASE: &str = pas!("extension-");

pub(super) const REQUEST_BUNDLE: &str = pas!("profile-pas-request-bundle");
pub(super) const INQUIRY_BUNDLE: &str = pas!("profile-pas-inquiry-request-bundle");
pub(super) const CLAIM: &str = pas!("profile-claim");
pub(super) const CLAIM_UPDATE: &str = pas!("profile-claim-update");
pub(super) const CLAIM_INQUIRY: &str = pas!("profile-claim-inquiry");
pub(super) const BENEFICIARY: &str = pas!("profile-beneficiary");
pub(super) const SUBSCRIBER: &str = pas!("profile-subscriber");
pub(super) const COVERAGE: &str = pas!("profile-coverage");
pub(super) const ORGANIZATION: &str = pas!("profile-organization");
pub(super) const INSURER: &str = pas!("profile-insurer");
pub(super) const REQUESTOR: &str = pas!("profile-requestor");
pub(super) const PRACTITIONER: &str = pas!("profile-practitioner");
pub(super) const PRACTITIONER_ROLE: &str = pas!("profile-practitionerrole");
pub(super) const SERVICE_REQUEST: &str = pas!("profile-servicerequest");
pub(super) const DEVICE_REQUEST: &str = pas!("profile-devicerequest");
pub(super) const MEDICATION_REQUEST: &str = pas!("profile-medicationrequest");
pub(super) const NUTRITION_ORDER: &str = pas!("profile-nutritionorder");
pub(super) const DOCUMENT_REFERENCE: &str = pas!("profile-documentreference");
pub(super) const ENCOUNTER: &str = pas!("profile-encounter");

pub(super) const PAS_TEMP_CODES: &str =
    "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes";
pub(super) const CPT: &str = "http://www.ama-assn.org/go/cpt";
pub(super) const HCPCS: &str = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
pub(super) const X12_98: &str = x12!("98");
pub(super) const X12_1069: &str = x12!("1069");
pub(super) const X12_1322: &str = x12!("1322");
pub(super) const X12_1338: &str = x12!("1338");
pub(super) const X12_673: &str = x12!("673");
pub(super) const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
pub(super) const PROCESS_PRIORITY: &str = "http://terminology.hl7.org/CodeSystem/processpriority";
pub(super) const SUBSCRIPTION_TOPIC: &str =
    "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic";
pub(super) const BACKPORT_PAYLOAD_CONTENT: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";
pub(super) const BACKPORT_FILTER_CRITERIA: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria";
pub(super) const DATA_ABSENT_REASON: &str =
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

/// Terminology.fsh X12278RequestedServiceType (lines 157-169).
const REQUESTED_SERVICE_SYSTEMS: &[&str] = &[
    "http://terminology.hl7.org/CodeSystem/data-absent-reason",
    x12!("1365"),
    CPT,
    HCPCS,
    "http://terminology.hl7.org/CodeSystem/icd9cm",
    "http://www.cms.gov/Medicare/Coding/ICD10",
    "http://hl7.org/fhir/sid/ndc",
];
/// Terminology.fsh X12278DiagnosisCodes (lines 132-140).
const DIAGNOSIS_SYSTEMS: &[&str] = &[
    "http://terminology.hl7.org/CodeSystem/icd9cm",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software",
    "http://uri.hddaccess.com/cs/apdrg",
    "http://uri.hddaccess.com/cs/aprdrg",
];
/// Terminology.fsh X12278LocationType (lines 150-155).
const LOCATION_SYSTEMS: &[&str] = &[
    "https://www.nubc.org/CodeSystem/TypeOfBill",
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
];

/// What a constraint requires of the element(s) at its path.
#[derive(Debug, Clone, Copy)]
pub(super) enum Check {
    /// `min..max` occurrences of the last path segment in every node at the parent path
    /// (`u32::MAX`: `*`).
    Card(u32, u32),
    /// A primitive fixed to this string (`= #code`, `= "uri"`).
    Fixed(&'static str),
    /// A boolean fixed to this value.
    FixedBool(bool),
    /// A CodeableConcept that must carry this system and code (`= system#code`).
    Pattern(&'static str, &'static str),
    /// A required binding: at least one coding from one of the systems, and, when the value set
    /// enumerates its codes, one of these codes.
    Binding(
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ),
    /// A Reference whose target entry must declare one of these profiles in `meta.profile`.
    Only(&'static [&'static str]),
    /// FullDateRule: `YYYY-MM-DD`, exactly 10 characters.
    FullDate,
    /// The PASQuantity datatype profile (prof-2: value, and unit or code).
    Quantity,
    /// The PASIdentifier datatype profile (system and value 1..1).
    Identifier,
}

/// One constraint: where it applies, what it checks, its short id and where it comes from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub path: &'static str,
    pub check: Check,
    pub id: &'static str,
    pub source: &'static str,
}

const fn card(path: &'static str, min: u32, max: u32, source: &'static str) -> Rule {
    Rule {
        path,
        check: Check::Card(min, max),
        id: "cardinality",
        source,
    }
}
const fn fixed(path: &'static str, value: &'static str, source: &'static str) -> Rule {
    Rule {
        path,
        check: Check::Fixed(value),
        id: "fixed-value",
        source,
    }
}
const fn fixed_bool(path: &'static str, value: bool, source: &'static str) -> Rule {
    Rule {
        path,
        check: Check::FixedBool(value),
        id: "fixed-value",
        source,
    }
}
const fn pattern(
    path: &'static str,
    system: &'static str,
    code: &'static str,
    source: &'static str,
) -> Rule {
    Rule {
        path,
        check: Check::Pattern(system, code),
        id: "pattern",
        source,
    }
}
const fn binding(
    path: &'static str,
    value_set: &'static str,
    systems: &'static [&'static str],
    codes: &'static [&'static str],
    source: &'static str,
) -> Rule {
    Rule {
        path,
        check: Check::Binding(value_set, systems, codes),
        id: "required-binding",
        source,
    }
}
const fn only(path: &'static str, targets: &'static [&'static str], source: &'static str) -> Rule {
    Rule {
        path,
        check: Check::Only(targets),
        id: "reference-target",
        source,
    }
}
const fn full_date(path: &'static str, source: &'static str) -> Rule {
    Rule {
        path,
        check: Check::FullDate,
        id: "FullDateRule",
        source,
    }
}
const fn datatype(path: &'static str, check: Check, source: &'static str) -> Rule {
    Rule {
        path,
        check,
        id: "datatype-profile",
        source,
    }
}

const MANY: u32 = u32::MAX;
const ORGANIZATIONS: &[&str] = &[ORGANIZATION, INSURER, REQUESTOR];

/// Bundle.fsh PASRequestBundle (lines 1-22).
pub(super) const REQUEST_BUNDLE_RULES: &[Rule] = &[
    card("identifier", 1, 1, "Bundle.fsh:7"),
    card("type", 1, 1, "Bundle.fsh:9"),
    fixed("type", "collection", "Bundle.fsh:9"),
    card("timestamp", 1, 1, "Bundle.fsh:10"),
    card("entry", 1, MANY, "Bundle.fsh:11"),
    card("entry.fullUrl", 1, 1, "Bundle.fsh:12"),
    card("entry.resource", 1, 1, "Bundle.fsh:13"),
    card("entry.search", 0, 0, "Bundle.fsh:14"),
    card("entry.request", 0, 0, "Bundle.fsh:15"),
    card("entry.response", 0, 0, "Bundle.fsh:16"),
];

/// Bundle.fsh PASInquiryRequestBundle (lines 24-46).
pub(super) const INQUIRY_BUNDLE_RULES: &[Rule] = &[
    card("identifier", 1, 1, "Bundle.fsh:30"),
    card("type", 1, 1, "Bundle.fsh:32"),
    fixed("type", "collection", "Bundle.fsh:32"),
    card("timestamp", 1, 1, "Bundle.fsh:33"),
    card("entry", 1, MANY, "Bundle.fsh:34"),
    card("entry.fullUrl", 1, 1, "Bundle.fsh:35"),
    card("entry.resource", 1, 1, "Bundle.fsh:36"),
    card("entry.search", 0, 0, "Bundle.fsh:37"),
    card("entry.request", 0, 0, "Bundle.fsh:38"),
    card("entry.response", 0, 0, "Bundle.fsh:39"),
];

/// Claim.fsh PASClaimBase (lines 1-166), with the FHIR R4 Claim minimums it inherits.
const CLAIM_BASE_RULES: &[Rule] = &[
    card("ext:TransmissionIdentifiers", 0, 1, "Claim.fsh:8"),
    card("ext:levelOfServiceCode", 0, 1, "Claim.fsh:9"),
    binding(
        "ext:levelOfServiceCode.valueCodeableConcept",
        "X12 1338",
        &[X12_1338],
        &[],
        "Claim-update.fsh:49",
    ),
    card("ext:authorizationNumber", 0, 1, "Claim.fsh:12"),
    card("ext:administrationReferenceNumber", 0, 1, "Claim.fsh:13"),
    datatype("identifier", Check::Identifier, "Claim.fsh:18"),
    card("status", 1, 1, "Claim.fsh:21"),
    fixed("status", "active", "Claim.fsh:22"),
    card("type", 1, 1, "Claim.fsh:24"),
    binding(
        "type",
        "ClaimTypes",
        &["http://terminology.hl7.org/CodeSystem/claim-type"],
        &["institutional", "professional", "oral"],
        "Claim.fsh:24",
    ),
    card("use", 1, 1, "Claim.fsh:26"),
    fixed("use", "preauthorization", "Claim.fsh:27"),
    card("patient", 1, 1, "Claim.fsh:28"),
    only("patient", &[BENEFICIARY], "Claim.fsh:29"),
    card("created", 1, 1, "Claim.fsh:2"),
    card("insurer", 1, 1, "Claim.fsh:30"),
    only("insurer", &[INSURER], "Claim.fsh:31"),
    card("provider", 1, 1, "Claim.fsh:32"),
    only("provider", &[REQUESTOR, PRACTITIONER_ROLE], "Claim.fsh:33"),
    card("priority", 1, 1, "Claim.fsh:2"),
    card("careTeam.sequence", 1, 1, "Claim.fsh:35"),
    card("careTeam.provider", 1, 1, "Claim.fsh:36"),
    only(
        "careTeam.provider",
        &[ORGANIZATION, INSURER, REQUESTOR, PRACTITIONER_ROLE],
        "Claim.fsh:37",
    ),
    card("careTeam.ext:careTeamClaimScope", 1, 1, "Claim.fsh:66"),
    card("careTeam.role", 0, 1, "Claim.fsh:38"),
    binding("careTeam.role", "X12 98", &[X12_98], &[], "Claim.fsh:56"),
    card("supportingInfo.sequence", 1, 1, "Claim.fsh:68"),
    card("supportingInfo.category", 1, 1, "Claim.fsh:69"),
    card("diagnosis.sequence", 1, 1, "Claim.fsh:72"),
    card("diagnosis.diagnosis[x]", 1, 1, "Claim.fsh:73"),
    card("diagnosis.diagnosisReference", 0, 0, "Claim.fsh:74"),
    binding(
        "diagnosis.diagnosisCodeableConcept",
        "X12278DiagnosisCodes",
        DIAGNOSIS_SYSTEMS,
        &[],
        "Claim.fsh:75",
    ),
    card("diagnosis.type", 0, 1, "Claim.fsh:76"),
    binding(
        "diagnosis.type",
        "X12278DiagnosisType",
        &[PAS_TEMP_CODES],
        &["admitting", "principal", "patientreasonforvisit"],
        "Claim.fsh:77",
    ),
    card("insurance", 1, MANY, "Claim.fsh:2"),
    card("insurance.sequence", 1, 1, "Claim.fsh:79"),
    card("insurance.focal", 1, 1, "Claim.fsh:80"),
    fixed_bool("insurance.focal", true, "Claim.fsh:80"),
    card("insurance.coverage", 1, 1, "Claim.fsh:81"),
    only("insurance.coverage", &[COVERAGE], "Claim.fsh:82"),
    full_date("accident.date", "Claim.fsh:85"),
    binding(
        "accident.type",
        "X12 1362",
        &[x12!("1362")],
        &[],
        "Claim.fsh:87",
    ),
    card("item.ext:authorizationNumber", 0, 1, "Claim.fsh:93"),
    card(
        "item.ext:administrationReferenceNumber",
        0,
        1,
        "Claim.fsh:94",
    ),
    card("item.ext:serviceItemRequestType", 0, 1, "Claim.fsh:95"),
    binding(
        "item.ext:serviceItemRequestType.valueCodeableConcept",
        "X12 1525",
        &[x12!("1525")],
        &[],
        "Claim-update.fsh:114",
    ),
    card("item.ext:certificationType", 0, 1, "Claim.fsh:96"),
    binding(
        "item.ext:certificationType.valueCodeableConcept",
        "X12 1322",
        &[X12_1322],
        &[],
        "Claim-update.fsh:33",
    ),
    card("item.sequence", 1, 1, "Claim.fsh:104"),
    card("item.category", 0, 1, "Claim.fsh:111"),
    binding(
        "item.category",
        "X12 1365",
        &[x12!("1365")],
        &[],
        "Claim.fsh:112",
    ),
    card("item.productOrService", 1, 1, "Claim.fsh:114"),
    binding(
        "item.productOrService",
        "X12278RequestedServiceType",
        REQUESTED_SERVICE_SYSTEMS,
        &[],
        "Claim.fsh:115",
    ),
    binding(
        "item.modifier",
        "X12278RequestedServiceModifierType",
        &[CPT, HCPCS],
        &[],
        "Claim.fsh:117",
    ),
    full_date("item.servicedDate", "Claim.fsh:121"),
    full_date("item.servicedPeriod.start", "Claim.fsh:122"),
    full_date("item.servicedPeriod.end", "Claim.fsh:123"),
    card("item.locationAddress", 0, 0, "Claim.fsh:125"),
    card("item.locationReference", 0, 0, "Claim.fsh:125"),
    binding(
        "item.locationCodeableConcept",
        "X12278LocationType",
        LOCATION_SYSTEMS,
        &[],
        "Claim.fsh:126",
    ),
    datatype("item.quantity", Check::Quantity, "Claim.fsh:128"),
];

/// Claim.fsh RuleSet CommonClaimElements (lines 178-240), in PASClaim and PASClaimUpdate.
const COMMON_CLAIM_RULES: &[Rule] = &[
    card("identifier", 1, 2, "Claim.fsh:183"),
    card("diagnosis.ext:diagnosisRecordedDate", 0, 1, "Claim.fsh:185"),
    full_date(
        "diagnosis.ext:diagnosisRecordedDate.valueDate",
        "Claim-update.fsh:59",
    ),
    card("item", 1, MANY, "Claim.fsh:187"),
    card("item.ext:requestedService", 0, 1, "Claim.fsh:193"),
    only(
        "item.ext:requestedService.valueReference",
        &[
            MEDICATION_REQUEST,
            SERVICE_REQUEST,
            DEVICE_REQUEST,
            NUTRITION_ORDER,
        ],
        "Claim-update.fsh:198",
    ),
    card("item.ext:serviceItemRequestType", 1, 1, "Claim.fsh:194"),
    card("item.ext:certificationType", 1, 1, "Claim.fsh:195"),
    card("item.category", 1, 1, "Claim.fsh:205"),
    card("item.location[x]", 1, 1, "Claim.fsh:208"),
];

/// Claim.fsh PASClaim (lines 170-176).
const CLAIM_OWN_RULES: &[Rule] = &[card("related", 0, 0, "Claim.fsh:176")];

/// Claim-update.fsh PASClaimUpdate (lines 231-251).
const CLAIM_UPDATE_OWN_RULES: &[Rule] = &[
    card("ext:certificationType", 0, 1, "Claim-update.fsh:237"),
    card("related", 1, 1, "Claim-update.fsh:248"),
    card("related.relationship", 1, 1, "Claim-update.fsh:249"),
    pattern(
        "related.relationship",
        "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship",
        "prior",
        "Claim-update.fsh:250",
    ),
    card("related.claim", 1, 1, "Claim-update.fsh:251"),
];

/// Claim.fsh PASClaimInquiry (lines 274-294).
const CLAIM_INQUIRY_OWN_RULES: &[Rule] = &[
    card("ext:certificationType", 0, 1, "Claim.fsh:280"),
    card("identifier", 1, 1, "Claim.fsh:282"),
];

/// US Core Patient 7.0.0 minimums (through PASBeneficiary's and PASSubscriber's parent).
const US_CORE_PATIENT_RULES: &[Rule] = &[
    card("identifier", 1, MANY, "Patient.fsh:2"),
    card("identifier.system", 1, 1, "Patient.fsh:2"),
    card("identifier.value", 1, 1, "Patient.fsh:2"),
    card("name", 1, MANY, "Patient.fsh:2"),
    card("gender", 1, 1, "Patient.fsh:2"),
];

/// Patient.fsh PASBeneficiary (lines 1-14).
const BENEFICIARY_OWN_RULES: &[Rule] = &[full_date("birthDate", "Patient.fsh:11")];

/// Patient.fsh PASSubscriber (lines 16-29).
const SUBSCRIBER_OWN_RULES: &[Rule] = &[
    card("ext:militaryStatus", 0, 1, "Patient.fsh:23"),
    full_date("birthDate", "Patient.fsh:27"),
];

/// Coverage.fsh PASCoverage (lines 1-26), with the US Core Coverage 7.0.0 minimums.
const COVERAGE_RULES: &[Rule] = &[
    card("status", 1, 1, "Coverage.fsh:10"),
    fixed("status", "active", "Coverage.fsh:11"),
    card("subscriber", 0, 1, "Coverage.fsh:12"),
    only("subscriber", &[SUBSCRIBER], "Coverage.fsh:13"),
    card("beneficiary", 1, 1, "Coverage.fsh:15"),
    only("beneficiary", &[BENEFICIARY], "Coverage.fsh:16"),
    card("relationship", 1, 1, "Coverage.fsh:17"),
    card("payor", 1, 1, "Coverage.fsh:25"),
    only("payor", &[INSURER], "Coverage.fsh:26"),
];

/// Organization.fsh PASOrganization (lines 37-49), with the US Core Organization 7.0.0
/// minimums.
const ORGANIZATION_RULES: &[Rule] = &[
    card("active", 1, 1, "Organization.fsh:38"),
    card("name", 1, 1, "Organization.fsh:38"),
    datatype("identifier", Check::Identifier, "Organization.fsh:44"),
];

/// Organization.fsh PASInsurer (lines 1-10).
const INSURER_OWN_RULES: &[Rule] = &[
    binding("type", "X12 98", &[X12_98], &[], "Organization.fsh:7"),
    fixed_bool("active", true, "Organization.fsh:10"),
];

/// Organization.fsh PASRequestor (lines 12-25).
const REQUESTOR_OWN_RULES: &[Rule] = &[
    binding("type", "X12 98", &[X12_98], &[], "Organization.fsh:18"),
    fixed_bool("active", true, "Organization.fsh:21"),
];

/// Practitioner.fsh PASPractitioner (lines 1-10), with the US Core Practitioner 7.0.0 minimums.
const PRACTITIONER_RULES: &[Rule] = &[
    card("identifier", 1, MANY, "Practitioner.fsh:2"),
    datatype("identifier", Check::Identifier, "Practitioner.fsh:8"),
    card("name", 1, MANY, "Practitioner.fsh:2"),
];

/// Practitioner.fsh PASPractitionerRole (lines 12-20).
const PRACTITIONER_ROLE_RULES: &[Rule] = &[
    card("practitioner", 1, 1, "Practitioner.fsh:17"),
    only("practitioner", &[PRACTITIONER], "Practitioner.fsh:18"),
    only("organization", ORGANIZATIONS, "Practitioner.fsh:20"),
];

/// Request.fsh PASServiceRequest (lines 19-34), with the FHIR R4 ServiceRequest minimums.
const SERVICE_REQUEST_RULES: &[Rule] = &[
    card("status", 1, 1, "Request.fsh:20"),
    card("intent", 1, 1, "Request.fsh:25"),
    fixed("intent", "order", "Request.fsh:26"),
    binding(
        "code",
        "X12278RequestedServiceType",
        REQUESTED_SERVICE_SYSTEMS,
        &[],
        "Request.fsh:28",
    ),
    datatype("quantityQuantity", Check::Quantity, "Request.fsh:30"),
    card("quantityRatio", 0, 0, "Request.fsh:30"),
    card("quantityRange", 0, 0, "Request.fsh:30"),
    card("subject", 1, 1, "Request.fsh:31"),
    only("subject", &[BENEFICIARY], "Request.fsh:32"),
];

/// Claim.fsh PASDocumentReference (lines 242-248), with the US Core DocumentReference 7.0.0
/// minimums.
const DOCUMENT_REFERENCE_RULES: &[Rule] = &[
    card("status", 1, 1, "Claim.fsh:243"),
    card("type", 1, 1, "Claim.fsh:243"),
    card("category", 1, MANY, "Claim.fsh:243"),
    card("subject", 1, 1, "Claim.fsh:243"),
    card("content", 1, MANY, "Claim.fsh:243"),
    card("content.attachment", 1, 1, "Claim.fsh:243"),
    card("content.attachment.data", 1, 1, "Claim.fsh:247"),
    card("content.attachment.url", 0, 0, "Claim.fsh:248"),
];

/// ClaimOperation.fsh PASSubscription (lines 67-75), with the FHIR R4 Subscription minimums.
pub(super) const SUBSCRIPTION_RULES: &[Rule] = &[
    card("status", 1, 1, "ClaimOperation.fsh:68"),
    card("reason", 1, 1, "ClaimOperation.fsh:68"),
    card("criteria", 1, 1, "ClaimOperation.fsh:72"),
    fixed("criteria", SUBSCRIPTION_TOPIC, "ClaimOperation.fsh:72"),
    card("channel", 1, 1, "ClaimOperation.fsh:68"),
    card("channel.type", 1, 1, "ClaimOperation.fsh:73"),
    fixed("channel.type", "rest-hook", "ClaimOperation.fsh:73"),
    card("channel.endpoint", 1, 1, "ClaimOperation.fsh:74"),
];

/// Which usage rules and invariants (beyond the table) a profile runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extra {
    None,
    /// PASClaim and PASClaimUpdate: the whole Claim set, appeals and the rendering provider.
    RequestClaim,
    /// PASClaimInquiry: the Claim set without the submission-only rules.
    InquiryClaim,
    /// us-core-6 on the name.
    Patient,
    /// memberid slice, X12 relationship slice, self-beneficiary.
    Coverage,
    /// att-1 on each attachment.
    DocumentReference,
}

/// A resource profile: its name, canonical URL, resource type, constraint tables and extras.
#[derive(Debug)]
pub(super) struct Profile {
    pub name: &'static str,
    pub url: &'static str,
    pub resource_type: &'static str,
    pub rules: &'static [&'static [Rule]],
    pub extra: Extra,
}

const fn profile(
    name: &'static str,
    url: &'static str,
    resource_type: &'static str,
    rules: &'static [&'static [Rule]],
    extra: Extra,
) -> Profile {
    Profile {
        name,
        url,
        resource_type,
        rules,
        extra,
    }
}

/// The entry resource profiles, resolved by `meta.profile`.
pub(super) const PROFILES: &[Profile] = &[
    profile(
        "PASClaim",
        CLAIM,
        "Claim",
        &[CLAIM_BASE_RULES, COMMON_CLAIM_RULES, CLAIM_OWN_RULES],
        Extra::RequestClaim,
    ),
    profile(
        "PASClaimUpdate",
        CLAIM_UPDATE,
        "Claim",
        &[CLAIM_BASE_RULES, COMMON_CLAIM_RULES, CLAIM_UPDATE_OWN_RULES],
        Extra::RequestClaim,
    ),
    profile(
        "PASClaimInquiry",
        CLAIM_INQUIRY,
        "Claim",
        &[CLAIM_BASE_RULES, CLAIM_INQUIRY_OWN_RULES],
        Extra::InquiryClaim,
    ),
    profile(
        "PASBeneficiary",
        BENEFICIARY,
        "Patient",
        &[US_CORE_PATIENT_RULES, BENEFICIARY_OWN_RULES],
        Extra::Patient,
    ),
    profile(
        "PASSubscriber",
        SUBSCRIBER,
        "Patient",
        &[US_CORE_PATIENT_RULES, SUBSCRIBER_OWN_RULES],
        Extra::Patient,
    ),
    profile(
        "PASCoverage",
        COVERAGE,
        "Coverage",
        &[COVERAGE_RULES],
        Extra::Coverage,
    ),
    profile(
        "PASInsurer",
        INSURER,
        "Organization",
        &[ORGANIZATION_RULES, INSURER_OWN_RULES],
        Extra::None,
    ),
    profile(
        "PASRequestor",
        REQUESTOR,
        "Organization",
        &[ORGANIZATION_RULES, REQUESTOR_OWN_RULES],
        Extra::None,
    ),
    profile(
        "PASOrganization",
        ORGANIZATION,
        "Organization",
        &[ORGANIZATION_RULES],
        Extra::None,
    ),
    profile(
        "PASPractitioner",
        PRACTITIONER,
        "Practitioner",
        &[PRACTITIONER_RULES],
        Extra::None,
    ),
    profile(
        "PASPractitionerRole",
        PRACTITIONER_ROLE,
        "PractitionerRole",
        &[PRACTITIONER_ROLE_RULES],
        Extra::None,
    ),
    profile(
        "PASServiceRequest",
        SERVICE_REQUEST,
        "ServiceRequest",
        &[SERVICE_REQUEST_RULES],
        Extra::None,
    ),
    profile(
        "PASDocumentReference",
        DOCUMENT_REFERENCE,
        "DocumentReference",
        &[DOCUMENT_REFERENCE_RULES],
        Extra::DocumentReference,
    ),
];

/// The profile with this canonical URL (a `|version` suffix ignored).
pub(super) fn profile_of(url: &str) -> Option<&'static Profile> {
    let url = url.split('|').next().unwrap_or(url);
    PROFILES.iter().find(|p| p.url == url)
}

/// How many table constraints each profile carries (datatype profiles count where applied).
pub fn constraint_counts() -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = vec![
        ("PASRequestBundle", REQUEST_BUNDLE_RULES.len()),
        ("PASInquiryRequestBundle", INQUIRY_BUNDLE_RULES.len()),
        ("PASSubscription", SUBSCRIPTION_RULES.len()),
    ];
    counts.extend(
        PROFILES
            .iter()
            .map(|p| (p.name, p.rules.iter().map(|r| r.len()).sum())),
    );
    counts
}
