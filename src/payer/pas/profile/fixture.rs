//! A minimal PAS request Bundle that follows the profiles, written by hand from the FSH, and
//! its inquiry counterpart: the base the tests reintroduce one defect at a time into.

use serde_json::{json, Value};

use super::table::pas;

pub(super) const CLAIM_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a01";
pub(super) const PATIENT_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a02";
pub(super) const COVERAGE_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a03";
pub(super) const INSURER_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a04";
pub(super) const REQUESTOR_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a05";
pub(super) const PRACTITIONER_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a06";
pub(super) const ROLE_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a07";
pub(super) const SERVICE_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a08";
pub(super) const DOCUMENT_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a09";
pub(super) const SUBSCRIBER_URL: &str = "urn:uuid:8a0c2b0e-0a4f-4d55-9f43-0d8b0e3c1a0a";

fn meta(id: &str) -> Value {
    json!({ "profile": [format!("http://hl7.org/fhir/us/davinci-pas/StructureDefinition/{id}")] })
}

fn x12(element: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": format!("https://codesystem.x12.org/005010/{element}"), "code": code }] })
}

fn claim() -> Value {
    json!({
        "resourceType": "Claim",
        "meta": meta("profile-claim"),
        "extension": [{
            "url": pas!("extension-levelOfServiceCode"),
            "valueCodeableConcept": x12("1338", "E")
        }],
        "identifier": [{ "system": "urn:trnorg:1234567893", "value": "TRN-0001-A" }],
        "status": "active",
        "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional" }] },
        "use": "preauthorization",
        "patient": { "reference": PATIENT_URL },
        "created": "2026-11-30T10:00:00Z",
        "insurer": { "reference": INSURER_URL },
        "provider": { "reference": REQUESTOR_URL },
        "priority": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal" }] },
        "careTeam": [{
            "extension": [{ "url": pas!("extension-careTeamClaimScope"), "valueBoolean": true }],
            "sequence": 1,
            "provider": { "reference": ROLE_URL },
            "role": x12("98", "71"),
            "qualification": { "coding": [{ "system": "http://nucc.org/provider-taxonomy", "code": "207N00000X" }] }
        }],
        "supportingInfo": [
            {
                "extension": [{
                    "url": pas!("extension-documentInformation"),
                    "extension": [
                        { "url": "reportTypeCode", "valueCodeableConcept": x12("755", "03") },
                        { "url": "transmissionMethod", "valueCodeableConcept": x12("756", "EL") }
                    ]
                }],
                "sequence": 1,
                "category": { "coding": [{ "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes", "code": "additionalInformation" }] },
                "valueReference": { "reference": DOCUMENT_URL }
            },
            {
                "sequence": 2,
                "category": { "coding": [{ "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes", "code": "freeFormMessage" }] },
                "valueString": "Documented indications: symptomatic lesions"
            }
        ],
        "diagnosis": [{
            "sequence": 1,
            "diagnosisCodeableConcept": { "coding": [{ "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L72.0" }] },
            "type": [{ "coding": [{ "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes", "code": "principal" }] }]
        }],
        "insurance": [{ "sequence": 1, "focal": true, "coverage": { "reference": COVERAGE_URL } }],
        "item": [{
            "extension": [
                { "url": pas!("extension-serviceItemRequestType"), "valueCodeableConcept": x12("1525", "HS") },
                { "url": pas!("extension-certificationType"), "valueCodeableConcept": x12("1322", "I") },
                { "url": pas!("extension-requestedService"), "valueReference": { "reference": SERVICE_URL } }
            ],
            "sequence": 1,
            "careTeamSequence": [1],
            "diagnosisSequence": [1],
            "category": x12("1365", "2"),
            "productOrService": { "coding": [{ "system": "http://www.ama-assn.org/go/cpt", "code": "10040" }] },
            "modifier": [{ "coding": [{ "system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "E1" }] }],
            "servicedDate": "2026-12-15",
            "locationCodeableConcept": { "coding": [{ "system": "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set", "code": "11" }] },
            "quantity": { "value": 1, "unit": "Units", "system": "https://codesystem.x12.org/005010/673", "code": "UN" }
        }]
    })
}

fn patient(profile: &str, member_system: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "meta": meta(profile),
        "identifier": [{
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB" }] },
            "system": member_system,
            "value": "M0001"
        }],
        "name": [{ "family": "Example", "given": ["Pat"] }],
        "gender": "female",
        "birthDate": "1980-01-01"
    })
}

fn coverage() -> Value {
    json!({
        "resourceType": "Coverage",
        "meta": meta("profile-coverage"),
        "identifier": [{
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB" }] },
            "system": "http://example-payer.org/member-id",
            "value": "M0001"
        }],
        "status": "active",
        "subscriberId": "M0001",
        "beneficiary": { "reference": PATIENT_URL },
        "relationship": { "coding": [
            { "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self" },
            { "system": "https://codesystem.x12.org/005010/1069", "code": "18" }
        ] },
        "payor": [{ "reference": INSURER_URL }]
    })
}

fn organization(profile: &str, identifier: Value, kind: &str) -> Value {
    json!({
        "resourceType": "Organization",
        "meta": meta(profile),
        "identifier": [identifier],
        "active": true,
        "type": [x12("98", kind)],
        "name": "Example organization"
    })
}

fn practitioner() -> Value {
    json!({
        "resourceType": "Practitioner",
        "meta": meta("profile-practitioner"),
        "identifier": [{ "system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893" }],
        "name": [{ "family": "Clinician", "given": ["Dana"] }]
    })
}

fn role() -> Value {
    json!({
        "resourceType": "PractitionerRole",
        "meta": meta("profile-practitionerrole"),
        "practitioner": { "reference": PRACTITIONER_URL },
        "organization": { "reference": REQUESTOR_URL }
    })
}

fn service_request() -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "meta": meta("profile-servicerequest"),
        "status": "active",
        "intent": "order",
        "code": { "coding": [{ "system": "http://www.ama-assn.org/go/cpt", "code": "10040" }] },
        "quantityQuantity": { "value": 1, "unit": "Units" },
        "subject": { "reference": PATIENT_URL }
    })
}

fn document() -> Value {
    json!({
        "resourceType": "DocumentReference",
        "meta": meta("profile-documentreference"),
        "status": "current",
        "type": { "coding": [{ "system": "http://loinc.org", "code": "11506-3" }] },
        "category": [{ "coding": [{ "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note" }] }],
        "subject": { "reference": PATIENT_URL },
        "content": [{ "attachment": { "contentType": "text/plain", "data": "Tm90ZQ==" } }]
    })
}

fn entry(full_url: &str, resource: Value) -> Value {
    json!({ "fullUrl": full_url, "resource": resource })
}

/// A `$submit` Bundle that satisfies every rule of the check.
pub(super) fn request() -> Value {
    json!({
        "resourceType": "Bundle",
        "meta": meta("profile-pas-request-bundle"),
        "identifier": { "system": "urn:trnorg:1234567893", "value": "TRN-0001-A" },
        "type": "collection",
        "timestamp": "2026-11-30T10:00:00Z",
        "entry": [
            entry(CLAIM_URL, claim()),
            entry(PATIENT_URL, patient("profile-beneficiary", "http://example-payer.org/member-id")),
            entry(COVERAGE_URL, coverage()),
            entry(INSURER_URL, organization(
                "profile-insurer",
                json!({
                    "type": { "coding": [{ "system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType", "code": "payerid" }] },
                    "system": "http://example-payer.org/payer-id",
                    "value": "60054"
                }),
                "PR",
            )),
            entry(REQUESTOR_URL, organization(
                "profile-requestor",
                json!({ "system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893" }),
                "1P",
            )),
            entry(PRACTITIONER_URL, practitioner()),
            entry(ROLE_URL, role()),
            entry(SERVICE_URL, service_request()),
            entry(DOCUMENT_URL, document())
        ]
    })
}

/// An `$inquire` Bundle for the same request.
pub(super) fn inquiry() -> Value {
    let mut bundle = request();
    bundle["meta"] = meta("profile-pas-inquiry-request-bundle");
    let claim = &mut bundle["entry"][0]["resource"];
    claim["meta"] = meta("profile-claim-inquiry");
    claim["identifier"] =
        json!([{ "system": "urn:trnorg:1234567893", "value": "TRN-0001-A-INQ-1" }]);
    if let Some(o) = claim.as_object_mut() {
        o.remove("supportingInfo");
    }
    claim["item"][0]["extension"] = json!([{
        "url": pas!("extension-administrationReferenceNumber"),
        "valueString": "REF12345"
    }]);
    if let Some(entries) = bundle["entry"].as_array_mut() {
        entries.retain(|e| {
            let kind = e["resource"]["resourceType"].as_str();
            !matches!(kind, Some("DocumentReference" | "ServiceRequest"))
        });
    }
    bundle
}

/// A dependant's subscriber, for the self-beneficiary tests.
pub(super) fn subscriber_entry() -> Value {
    entry(
        SUBSCRIBER_URL,
        patient("profile-subscriber", "http://example-payer.org/member-id"),
    )
}

/// A PAS Subscription that conforms.
pub(super) fn subscription() -> Value {
    json!({
        "resourceType": "Subscription",
        "meta": meta("profile-subscription"),
        "status": "requested",
        "reason": "Prior authorization results",
        "criteria": "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic",
        "_criteria": { "extension": [{
            "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria",
            "valueString": "org-identifier=1234567893"
        }] },
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://ehr.example.org/pas/notify",
            "payload": "application/fhir+json",
            "_payload": { "extension": [{
                "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content",
                "valueCode": "full-resource"
            }] }
        }
    })
}
