//! The Da Vinci PAS rules a bundle on the wire must follow beyond FHIR R4 structure (which the
//! external validator, scripts/validate_fhir.py, checks): what the worker's requests and the
//! payer simulator's responses are held to by the tests. Each violation names an element, never
//! a value of the bundle.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::codes::{Npi, SNOMED_CT_SYSTEM};
use crate::payer::pas::json::{array_of, codings, str_of};
use crate::payer::pas::model::*;

const SUPPORTING_INFO_CATEGORIES: [&str; 7] = [
    "patientEvent",
    "admissionDates",
    "dischargeDates",
    "additionalInformation",
    "freeFormMessage",
    "admissionReview",
    "institutionalEncounter",
];

fn systems(concept: Option<&Value>) -> BTreeSet<&str> {
    codings(concept)
        .iter()
        .filter_map(|c| str_of(c, "system"))
        .collect()
}

fn codes<'a>(concept: Option<&'a Value>, system: &str) -> BTreeSet<&'a str> {
    codings(concept)
        .iter()
        .filter(|c| str_of(c, "system") == Some(system))
        .filter_map(|c| str_of(c, "code"))
        .collect()
}

fn only(concept: Option<&Value>, system: &str) -> bool {
    systems(concept) == BTreeSet::from([system])
}

fn extensions<'a>(v: &'a Value, url: &'a str) -> Vec<&'a Value> {
    array_of(v, "extension")
        .iter()
        .filter(|e| str_of(e, "url") == Some(url))
        .collect()
}

/// `A00.0`-style ICD-10-CM: a letter, a digit, a digit or letter, then a dot and 1–4 more.
fn icd10_dotted(code: &str) -> bool {
    let b = code.as_bytes();
    let head = b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase());
    let tail = &b[3.min(b.len())..];
    head && (tail.is_empty()
        || (tail[0] == b'.'
            && (2..=5).contains(&tail.len())
            && tail[1..]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())))
}

fn unique_sequences(elements: &[Value], key: &str, what: &str, out: &mut Vec<String>) {
    let seqs: Vec<Option<u64>> = elements
        .iter()
        .map(|e| e.get(key).and_then(Value::as_u64).filter(|n| *n >= 1))
        .collect();
    if seqs.iter().any(Option::is_none) {
        out.push(format!("{what}: every {key} must be a positive integer"));
    }
    let present: Vec<u64> = seqs.into_iter().flatten().collect();
    if present.iter().collect::<BTreeSet<_>>().len() != present.len() {
        out.push(format!("{what}: {key} values repeat"));
    }
}

/// Every `"reference"` string anywhere under `v`.
pub(super) fn references<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => out.push(s),
                    _ => references(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

/// The rules of every PAS bundle; the resources by fullUrl.
fn bundle_rules<'a>(b: &'a Value, out: &mut Vec<String>) -> BTreeMap<&'a str, &'a Value> {
    if b["type"] != "collection" {
        out.push("Bundle.type must be collection".to_owned());
    }
    if !b["identifier"].is_object() {
        out.push("Bundle.identifier is required".to_owned());
    }
    if str_of(b, "timestamp").is_none_or(str::is_empty) {
        out.push("Bundle.timestamp is required".to_owned());
    }
    let entries = array_of(b, "entry");
    if entries.is_empty() {
        out.push("Bundle.entry is empty".to_owned());
    }
    let mut resources = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(url) = str_of(e, "fullUrl").filter(|u| !u.is_empty()) else {
            out.push(format!("entry[{i}] has no fullUrl"));
            continue;
        };
        if resources.insert(url, &e["resource"]).is_some() {
            out.push(format!("entry[{i}] repeats a fullUrl"));
        }
        for k in ["request", "response", "search"] {
            if e.get(k).is_some() {
                out.push(format!("entry[{i}].{k} is not allowed in a PAS bundle"));
            }
        }
    }
    let mut refs = Vec::new();
    references(b, &mut refs);
    for r in refs {
        if r.starts_with("urn:uuid:") && !resources.contains_key(r) {
            out.push("a urn:uuid reference resolves to no entry".to_owned());
        }
    }
    resources
}

/// The violations of a PAS request (or inquiry) bundle, and its warnings.
pub(super) fn request_violations(b: &Value) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let resources = bundle_rules(b, &mut out);
    let claim = &b["entry"][0]["resource"];
    if claim["resourceType"] != "Claim" {
        out.push("the first entry must be the Claim".to_owned());
        return (out, warnings);
    }
    let resolve = |r: &Value| -> &Value {
        str_of(r, "reference")
            .and_then(|u| resources.get(u).copied())
            .unwrap_or(&Value::Null)
    };
    if claim["use"] != "preauthorization" {
        out.push("Claim.use must be preauthorization".to_owned());
    }
    if claim["status"] != "active" {
        out.push("Claim.status must be active".to_owned());
    }
    let claim_type = codes(claim.get("type"), CLAIM_TYPE_SYSTEM);
    if !only(claim.get("type"), CLAIM_TYPE_SYSTEM)
        || !claim_type.is_subset(&BTreeSet::from(["institutional", "professional", "oral"]))
    {
        out.push("Claim.type must be a claim-type code".to_owned());
    }
    if claim.get("priority").is_some()
        && (!only(claim.get("priority"), PROCESS_PRIORITY_SYSTEM)
            || !codes(claim.get("priority"), PROCESS_PRIORITY_SYSTEM)
                .is_subset(&BTreeSet::from(["stat", "normal", "deferred"])))
    {
        out.push("Claim.priority must be a processpriority code".to_owned());
    }
    if !array_of(claim, "identifier").iter().any(|i| {
        str_of(i, "system").is_some_and(|s| s.starts_with("urn:trnorg:"))
            && str_of(i, "value").is_some_and(|v| !v.is_empty())
    }) {
        out.push("Claim.identifier needs a system urn:trnorg:<TRN03> and a value".to_owned());
    }

    // Parties.
    let patient = resolve(&claim["patient"]);
    if patient["resourceType"] != "Patient" {
        out.push("Claim.patient must reference a Patient entry".to_owned());
    }
    let insurer = resolve(&claim["insurer"]);
    if insurer["resourceType"] != "Organization" {
        out.push("Claim.insurer must reference an Organization entry".to_owned());
    } else if !array_of(insurer, "type")
        .iter()
        .any(|t| codes(Some(t), X12_98_SYSTEM).contains("PR"))
    {
        out.push("the insurer Organization needs type PR (X12 98)".to_owned());
    }
    let provider = resolve(&claim["provider"]);
    if !matches!(
        provider["resourceType"].as_str(),
        Some("Organization" | "PractitionerRole")
    ) {
        out.push("Claim.provider must reference an Organization or PractitionerRole".to_owned());
    }
    for r in resources.values() {
        for (j, id) in array_of(r, "identifier").iter().enumerate() {
            if str_of(id, "system") == Some(NPI_SYSTEM)
                && Npi::parse(str_of(id, "value").unwrap_or_default()).is_err()
            {
                warnings.push(format!(
                    "{}.identifier[{j}]: NPI fails its check digit",
                    str_of(r, "resourceType").unwrap_or("resource")
                ));
            }
        }
    }

    // Care team.
    let care_team = array_of(claim, "careTeam");
    for (i, ct) in care_team.iter().enumerate() {
        let scope = extensions(ct, EXT_CARE_TEAM_CLAIM_SCOPE);
        if scope.len() != 1 || !scope[0]["valueBoolean"].is_boolean() {
            out.push(format!(
                "careTeam[{i}] needs one careTeamClaimScope extension (valueBoolean)"
            ));
        }
    }
    unique_sequences(care_team, "sequence", "careTeam", &mut out);

    // Insurance and coverage.
    let insurance = array_of(claim, "insurance");
    if insurance.iter().filter(|i| i["focal"] == true).count() != 1 {
        out.push("Claim.insurance needs exactly one focal entry".to_owned());
    }
    let has_member_id = |r: &Value| {
        array_of(r, "identifier")
            .iter()
            .any(|x| codes(x.get("type"), V2_0203_SYSTEM).contains("MB"))
    };
    for (i, ins) in insurance.iter().enumerate() {
        let cov = resolve(&ins["coverage"]);
        if cov["resourceType"] != "Coverage" {
            out.push(format!("insurance[{i}].coverage must reference a Coverage"));
            continue;
        }
        if !has_member_id(cov) {
            out.push(format!(
                "insurance[{i}]: the Coverage needs a member id (MB)"
            ));
        }
        let rel = cov.get("relationship");
        if codes(rel, SUBSCRIBER_RELATIONSHIP_SYSTEM).is_empty()
            || codes(rel, X12_1069_SYSTEM).is_empty()
        {
            out.push(format!(
                "insurance[{i}]: Coverage.relationship needs subscriber-relationship and X12 1069"
            ));
        }
    }
    if !patient.is_null() && !has_member_id(patient) {
        out.push("the Patient needs a member id identifier (type MB)".to_owned());
    }

    // Diagnoses.
    let diagnoses = array_of(claim, "diagnosis");
    unique_sequences(diagnoses, "sequence", "diagnosis", &mut out);
    for (i, dx) in diagnoses.iter().enumerate() {
        let concept = dx.get("diagnosisCodeableConcept");
        if !only(concept, ICD10CM_SYSTEM) {
            out.push(format!("diagnosis[{i}] must be coded in ICD-10-CM"));
        } else if !codes(concept, ICD10CM_SYSTEM)
            .iter()
            .all(|c| icd10_dotted(c))
        {
            out.push(format!(
                "diagnosis[{i}]: ICD-10-CM code must be written with its dot"
            ));
        }
    }

    // Supporting information.
    let info = array_of(claim, "supportingInfo");
    unique_sequences(info, "sequence", "supportingInfo", &mut out);
    for (i, si) in info.iter().enumerate() {
        let cats = codes(si.get("category"), PAS_TEMP_CODES);
        let cat = cats.first().copied().unwrap_or_default();
        if !only(si.get("category"), PAS_TEMP_CODES)
            || cats.len() != 1
            || !SUPPORTING_INFO_CATEGORIES.contains(&cat)
        {
            out.push(format!(
                "supportingInfo[{i}].category must be one PASTempCodes slice code"
            ));
            continue;
        }
        if cat == "additionalInformation" {
            let docinfo = extensions(si, EXT_DOCUMENT_INFORMATION);
            let report: Vec<&Value> = docinfo
                .iter()
                .flat_map(|d| extensions(d, "reportTypeCode"))
                .collect();
            if docinfo.len() != 1
                || report.len() != 1
                || codes(report[0].get("valueCodeableConcept"), X12_755_SYSTEM).is_empty()
            {
                out.push(format!(
                    "supportingInfo[{i}] needs one documentInformation with an X12 755 reportTypeCode"
                ));
            }
            let doc = resolve(&si["valueReference"]);
            if doc.is_null() {
                out.push(format!(
                    "supportingInfo[{i}].valueReference must reference an entry"
                ));
            } else if doc["resourceType"] == "DocumentReference" {
                if !only(doc.get("type"), LOINC_SYSTEM) {
                    out.push(format!(
                        "supportingInfo[{i}]: the DocumentReference type must be LOINC"
                    ));
                }
                for (k, c) in array_of(doc, "content").iter().enumerate() {
                    let att = &c["attachment"];
                    if att.get("data").is_some() && str_of(att, "contentType").is_none() {
                        out.push(format!(
                            "supportingInfo[{i}]: attachment {k} has data but no contentType"
                        ));
                    }
                    if att.get("data").is_none() && att.get("url").is_none() {
                        out.push(format!(
                            "supportingInfo[{i}]: attachment {k} has neither data nor url"
                        ));
                    }
                    if let Err(flaw) = super::attachment::verify(att) {
                        out.push(format!("supportingInfo[{i}]: attachment {k}: {flaw}"));
                    }
                }
            }
        } else if cat == "freeFormMessage" && str_of(si, "valueString").is_none_or(str::is_empty) {
            out.push(format!(
                "supportingInfo[{i}] (freeFormMessage) needs a valueString"
            ));
        }
    }

    // Items.
    let items = array_of(claim, "item");
    if items.is_empty() {
        out.push("Claim.item is required".to_owned());
    }
    unique_sequences(items, "sequence", "item", &mut out);
    let known = |list: &[Value]| -> BTreeSet<u64> {
        list.iter().filter_map(|x| x["sequence"].as_u64()).collect()
    };
    let pointers = [
        ("careTeamSequence", known(care_team)),
        ("diagnosisSequence", known(diagnoses)),
        ("informationSequence", known(info)),
    ];
    for (i, item) in items.iter().enumerate() {
        for (url, system) in [
            (EXT_SERVICE_ITEM_REQUEST_TYPE, X12_1525_SYSTEM),
            (EXT_CERTIFICATION_TYPE, X12_1322_SYSTEM),
        ] {
            let ext = extensions(item, url);
            if ext.len() != 1 || codes(ext[0].get("valueCodeableConcept"), system).is_empty() {
                out.push(format!(
                    "item[{i}] needs one {url} extension coded in {system}"
                ));
            }
        }
        if !only(item.get("category"), X12_1365_SYSTEM) {
            out.push(format!("item[{i}].category must be coded in X12 1365"));
        }
        let product = systems(item.get("productOrService"));
        if product.is_empty() || !product.is_subset(&BTreeSet::from([CPT_SYSTEM, HCPCS_SYSTEM])) {
            out.push(format!(
                "item[{i}].productOrService must be coded in CPT or HCPCS"
            ));
        }
        for (k, m) in array_of(item, "modifier").iter().enumerate() {
            let system = systems(Some(m));
            if system.len() != 1 || !system.is_subset(&BTreeSet::from([CPT_SYSTEM, HCPCS_SYSTEM])) {
                out.push(format!(
                    "item[{i}].modifier[{k}] must be coded in CPT or HCPCS"
                ));
            }
        }
        if !only(item.get("locationCodeableConcept"), POS_SYSTEM) {
            out.push(format!(
                "item[{i}].locationCodeableConcept must be a CMS place-of-service code"
            ));
        }
        if !item["quantity"]["value"].is_number() {
            out.push(format!("item[{i}].quantity.value is required"));
        }
        if item.get("bodySite").is_some() && !only(item.get("bodySite"), SNOMED_CT_SYSTEM) {
            out.push(format!("item[{i}].bodySite must be coded in SNOMED CT"));
        }
        for (key, valid) in &pointers {
            if array_of(item, key)
                .iter()
                .any(|s| s.as_u64().is_none_or(|s| !valid.contains(&s)))
            {
                out.push(format!("item[{i}].{key} points to no entry"));
            }
        }
    }
    (out, warnings)
}

/// The violations of a PAS response bundle.
pub(super) fn response_violations(b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let resources = bundle_rules(b, &mut out);
    let cr = &b["entry"][0]["resource"];
    if cr["resourceType"] != "ClaimResponse" {
        out.push("the first entry must be the ClaimResponse".to_owned());
        return out;
    }
    if resources
        .values()
        .filter(|r| r["resourceType"] == "ClaimResponse")
        .count()
        != 1
    {
        out.push("exactly one ClaimResponse".to_owned());
    }
    if cr["use"] != "preauthorization" {
        out.push("ClaimResponse.use must be preauthorization".to_owned());
    }
    if cr["status"] != "active" {
        out.push("ClaimResponse.status must be active".to_owned());
    }
    if !matches!(
        cr["outcome"].as_str(),
        Some("complete" | "error" | "partial")
    ) {
        out.push("ClaimResponse.outcome must be complete, error or partial".to_owned());
    }
    if cr["request"].get("reference").is_none() && cr["request"].get("identifier").is_none() {
        out.push("ClaimResponse.request needs a reference or an identifier".to_owned());
    }
    let items = array_of(cr, "item");
    unique_sequences(items, "itemSequence", "ClaimResponse.item", &mut out);
    if cr["outcome"] != "error" && items.is_empty() {
        out.push("ClaimResponse.item is required unless the outcome is error".to_owned());
    }
    for (i, item) in items.iter().enumerate() {
        let adjudications = array_of(item, "adjudication");
        if adjudications.is_empty() {
            out.push(format!("item[{i}] has no adjudication"));
        }
        for (k, adj) in adjudications.iter().enumerate() {
            if codes(adj.get("category"), ADJUDICATION_SYSTEM) != BTreeSet::from(["submitted"]) {
                out.push(format!(
                    "item[{i}].adjudication[{k}].category must be adjudication#submitted"
                ));
            }
        }
        let actions: Vec<&Value> = adjudications
            .iter()
            .flat_map(|a| extensions(a, EXT_REVIEW_ACTION))
            .flat_map(|ra| extensions(ra, EXT_REVIEW_ACTION_CODE))
            .collect();
        if actions.len() != 1
            || codes(actions[0].get("valueCodeableConcept"), X12_306_SYSTEM).is_empty()
        {
            out.push(format!(
                "item[{i}] needs one reviewAction with a reviewActionCode coded in X12 306"
            ));
        }
    }
    out
}
