//! The invariants and slices the table cannot express, and the usage rules of the
//! specification pages (`input/pagecontent/`) a validating payer enforces in practice.

use std::collections::HashSet;

use serde_json::Value;

use super::eval::{codings, full_date, has_coding, select, str_at};
use super::table::{
    Extra, BACKPORT_FILTER_CRITERIA, BACKPORT_PAYLOAD_CONTENT, CLAIM, CLAIM_INQUIRY, CLAIM_UPDATE,
    CPT, DATA_ABSENT_REASON, DOCUMENT_REFERENCE, ENCOUNTER, INQUIRY_BUNDLE, PAS_TEMP_CODES,
    PRACTITIONER_ROLE, PROCESS_PRIORITY, REQUEST_BUNDLE, V2_0203, X12_1069, X12_1322, X12_1338,
};
use super::{Ctx, Out};

const CONF_15: &str = "conformance.md:35 conf-15";
const SENDER_SYSTEM_PREFIX: &str = "urn:preauth-worker:";
const US_CORE_BASE: &str = "http://hl7.org/fhir/us/core/StructureDefinition/";

/// Whether the bundle is an inquiry: its `meta.profile`, else the profile of its Claim.
pub(super) fn is_inquiry(bundle: &Value, entries: &[Value]) -> bool {
    let declared = Ctx::profiles(bundle);
    if declared.contains(&INQUIRY_BUNDLE) {
        return true;
    }
    if declared.contains(&REQUEST_BUNDLE) {
        return false;
    }
    entries
        .iter()
        .any(|e| Ctx::profiles(&e["resource"]).contains(&CLAIM_INQUIRY))
}

/// ClaimFirst, the Claim slice, spec-12 and the fullUrl rules (spec-14, spec-16).
pub(super) fn bundle(entries: &[Value], inquiry: bool, out: &mut Out<'_>) {
    let (first_source, slice_source, only_source, max, allowed): (_, _, _, usize, &[&str]) =
        if inquiry {
            (
                "Bundle.fsh:29",
                "Bundle.fsh:44",
                "Bundle.fsh:46",
                1,
                &[CLAIM_INQUIRY],
            )
        } else {
            (
                "Bundle.fsh:6",
                "Bundle.fsh:21",
                "Bundle.fsh:22",
                2,
                &[CLAIM, CLAIM_UPDATE],
            )
        };
    if let Some(first) = entries.first() {
        if first["resource"]["resourceType"] != "Claim" {
            out.raw(
                "Bundle.entry[0].resource".to_owned(),
                "ClaimFirst",
                first_source,
                "the first entry must be the Claim",
            );
        }
    }
    let claims: Vec<usize> = (0..entries.len())
        .filter(|i| entries[*i]["resource"]["resourceType"] == "Claim")
        .collect();
    if claims.is_empty() || claims.len() > max {
        out.raw(
            "Bundle.entry".to_owned(),
            "claim-entries",
            slice_source,
            &format!(
                "the bundle carries {} Claim entries; the profile allows 1..{max}",
                claims.len()
            ),
        );
    }
    for i in claims {
        let declared = Ctx::profiles(&entries[i]["resource"]);
        if !declared.iter().any(|p| allowed.contains(p)) {
            out.raw(
                format!("Bundle.entry[{i}].resource.meta.profile"),
                "claim-profile",
                only_source,
                if inquiry {
                    "the Claim must declare PASClaimInquiry in meta.profile"
                } else {
                    "the Claim must declare PASClaim or PASClaimUpdate in meta.profile"
                },
            );
        }
    }
    let mut seen = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(url) = str_at(entry, "fullUrl") else {
            continue;
        };
        let well_formed = match url.strip_prefix("urn:uuid:") {
            Some(guid) => uuid::Uuid::try_parse(guid).is_ok(),
            None => url.starts_with("https://") || url.starts_with("http://"),
        };
        if !well_formed {
            out.raw(
                format!("Bundle.entry[{i}].fullUrl"),
                "fullurl-form",
                "specification.md:68 spec-16",
                "fullUrl must be urn:uuid:<guid> or the resource's URL on the sender's server",
            );
        }
        if !seen.insert(url) {
            out.raw(
                format!("Bundle.entry[{i}].fullUrl"),
                "fullurl-unique",
                "specification.md:68 spec-14",
                "the same fullUrl appears twice in the bundle",
            );
        }
    }
}

/// Identifier systems made up by the sender, and Claim trace numbers X12 cannot carry.
pub(super) fn identifiers(resource: &Value, base: &str, out: &mut Out<'_>) {
    let source = match resource["resourceType"].as_str() {
        Some("Patient" | "Coverage") => "specification.md:207 FHIR-49019",
        Some("Organization") => "Organization.fsh:48",
        Some("Claim") => "Claim.fsh:20",
        _ => "Identifier.fsh:7",
    };
    walk_identifiers(resource, base, &mut |identifier, at| {
        if str_at(identifier, "system").is_some_and(|s| s.starts_with(SENDER_SYSTEM_PREFIX)) {
            out.raw(
                format!("{at}.system"),
                "sender-invented-system",
                source,
                "identifier system is private to the sender (urn:preauth-worker:); the payer \
                 cannot resolve it",
            );
        }
    });
    if resource["resourceType"] == "Claim" {
        let mut values = select(resource, base, "identifier");
        values.extend(select(
            resource,
            base,
            "item.ext:itemTraceNumber.valueIdentifier",
        ));
        for (identifier, at) in values {
            let Some(value) = str_at(identifier, "value") else {
                continue;
            };
            let trace = !value.is_empty()
                && value.len() <= 50
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !trace {
                out.raw(
                    format!("{at}.value"),
                    "trn-value",
                    "Claim.fsh:20",
                    "identifier value cannot be an X12 TRN02 trace number (1-50 of A-Z a-z 0-9 -)",
                );
            }
        }
    }
}

fn walk_identifiers(node: &Value, at: &str, f: &mut dyn FnMut(&Value, &str)) {
    match node {
        Value::Object(object) => {
            for (key, value) in object {
                if key == "data" {
                    continue; // attachment bytes: nothing to find, much to walk
                }
                let path = format!("{at}.{key}");
                if key == "identifier" || key == "valueIdentifier" {
                    match value {
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                f(item, &format!("{path}[{i}]"));
                            }
                        }
                        Value::Object(_) => f(value, &path),
                        _ => {}
                    }
                }
                walk_identifiers(value, &path, f);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_identifiers(item, &format!("{at}[{i}]"), f);
            }
        }
        _ => {}
    }
}

/// spec-13: every literal reference resolves to an entry of the bundle.
pub(super) fn references(resource: &Value, base: &str, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    let mut unresolved = Vec::new();
    collect_unresolved(resource, base, ctx, &mut unresolved);
    for at in unresolved {
        out.raw(
            at,
            "reference-resolves",
            "specification.md:68 spec-13",
            "the referenced resource is not in the bundle",
        );
    }
}

fn collect_unresolved(node: &Value, at: &str, ctx: &Ctx<'_>, found: &mut Vec<String>) {
    match node {
        Value::Object(object) => {
            if let Some(reference) = object.get("reference").and_then(Value::as_str) {
                if !reference.starts_with('#') && ctx.resolve(reference).is_none() {
                    found.push(format!("{at}.reference"));
                }
            }
            for (key, value) in object {
                if key != "data" && (value.is_object() || value.is_array()) {
                    collect_unresolved(value, &format!("{at}.{key}"), ctx, found);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_unresolved(item, &format!("{at}[{i}]"), ctx, found);
            }
        }
        _ => {}
    }
}

/// The profile's invariants and slice rules beyond the table.
pub(super) fn extra(kind: Extra, resource: &Value, base: &str, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    match kind {
        Extra::None => {}
        Extra::RequestClaim => {
            claim(resource, base, ctx, out);
            appeal(resource, base, out);
            rendering_provider(resource, base, ctx, out);
        }
        Extra::InquiryClaim => claim(resource, base, ctx, out),
        Extra::Patient => patient_names(resource, base, out),
        Extra::Coverage => coverage(resource, base, out),
        Extra::DocumentReference => {
            for (attachment, at) in select(resource, base, "content.attachment") {
                if attachment.get("data").is_some() && attachment.get("contentType").is_none() {
                    out.raw(
                        format!("{at}.contentType"),
                        "att-1",
                        "Claim.fsh:243",
                        "an attachment with data must declare its contentType",
                    );
                }
            }
        }
    }
}

/// Code of the first coding of `node` in `system`.
fn code_in<'v>(node: &'v Value, system: &str) -> Option<&'v str> {
    codings(node)
        .into_iter()
        .find(|c| str_at(c, "system") == Some(system))
        .and_then(|c| str_at(c, "code"))
}

fn level_of_service(resource: &Value) -> Vec<&str> {
    select(resource, "", "ext:levelOfServiceCode.valueCodeableConcept")
        .into_iter()
        .chain(select(
            resource,
            "",
            "item.ext:levelOfServiceCode.valueCodeableConcept",
        ))
        .filter_map(|(concept, _)| code_in(concept, X12_1338))
        .collect()
}

/// Rules every PAS Claim (request, update, inquiry) is held to beyond the table.
fn claim(resource: &Value, base: &str, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    for (coding, at) in select(resource, base, "item.modifier.coding") {
        let hcpcs_level_2 = str_at(coding, "system") == Some(CPT)
            && str_at(coding, "code").is_some_and(|c| c.bytes().any(|b| b.is_ascii_alphabetic()));
        if hcpcs_level_2 {
            out.raw(
                at,
                "modifier-system",
                "Terminology.fsh:176",
                "a HCPCS Level II modifier (with letters) is sent under the CPT system; \
                 X12278RequestedServiceModifierType carries it under the HCPCS system",
            );
        }
    }
    let levels = level_of_service(resource);
    let stat = select(resource, "", "priority")
        .iter()
        .any(|(p, _)| has_coding(p, PROCESS_PRIORITY, "stat"));
    if stat && !levels.contains(&"U") {
        out.raw(
            format!("{base}.extension"),
            "stat-level-of-service",
            CONF_15,
            "priority stat without extension levelOfServiceType (UM06) U: the urgency must be \
             sent in the standard PAS element",
        );
    }
    for (item, at) in select(resource, base, "item") {
        let immediate = select(item, "", "ext:certificationType.valueCodeableConcept")
            .iter()
            .any(|(c, _)| code_in(c, X12_1322) == Some("1"));
        if immediate && levels.is_empty() {
            out.raw(
                at,
                "ImmediateLevelOfCare",
                "Claim.fsh:269",
                "certificationType 1 (immediate appeal) requires levelOfServiceType",
            );
        }
    }
    let mut sequences = HashSet::new();
    for (info, at) in select(resource, base, "supportingInfo") {
        if let Some(n) = info.get("sequence").and_then(Value::as_u64) {
            if !sequences.insert(n) {
                out.raw(
                    format!("{at}.sequence"),
                    "supportinginfo-sequence-unique",
                    "specification.md:68 spec-22",
                    "supportingInfo.sequence repeats",
                );
            }
        }
        supporting_info(info, &at, ctx, out);
    }
    for (member, at) in select(resource, base, "careTeam") {
        if member.get("role").is_none() {
            out.raw(
                format!("{at}.role"),
                "careteam-role",
                "Claim.fsh:55",
                "careTeam.role (X12 98, 2010EA NM101) is absent: the payer cannot tell the \
                 member's part",
            );
        }
    }
    let encounters = select(
        resource,
        base,
        "extension.valueReference", // the R5 Claim.encounter extension, checked by target
    );
    for (reference, at) in encounters {
        if let Some(target) = str_at(reference, "reference").and_then(|r| ctx.resolve(r)) {
            if target["resourceType"] == "Encounter" && !Ctx::profiles(target).contains(&ENCOUNTER)
            {
                out.raw(
                    at,
                    "reference-target",
                    "Claim.fsh:182",
                    "the encounter extension must reference a PASEncounter",
                );
            }
        }
    }
}

/// The supportingInfo slices of Claim.fsh by category (lines 134-166, 211-240).
fn supporting_info(info: &Value, at: &str, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    let category = info
        .get("category")
        .and_then(|c| code_in(c, PAS_TEMP_CODES));
    let has_timing = info
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k.starts_with("timing")));
    let values: Vec<&String> = info
        .as_object()
        .map(|o| o.keys().filter(|k| k.starts_with("value")).collect())
        .unwrap_or_default();
    let fail = |out: &mut Out<'_>, rule: &'static str, source: &'static str, message: &str| {
        out.raw(at.to_owned(), rule, source, message);
    };
    match category {
        Some("additionalInformation") => {
            let documents = select(info, "", "ext:documentInformation");
            if documents.len() != 1 {
                fail(
                    out,
                    "cardinality",
                    "Claim.fsh:215",
                    "AdditionalInformation needs exactly one documentInformation extension",
                );
            }
            for (document, _) in documents {
                if select(document, "", "extension")
                    .iter()
                    .filter(|(e, _)| str_at(e, "url") == Some("reportTypeCode"))
                    .count()
                    != 1
                {
                    fail(
                        out,
                        "cardinality",
                        "Claim.fsh:254",
                        "documentInformation needs exactly one reportTypeCode",
                    );
                }
            }
            if has_timing {
                fail(
                    out,
                    "cardinality",
                    "Claim.fsh:216",
                    "AdditionalInformation has no timing[x]",
                );
            }
            if values.len() != 1 || values[0] != "valueReference" {
                fail(
                    out,
                    "cardinality",
                    "Claim.fsh:217",
                    "AdditionalInformation carries exactly one valueReference",
                );
            }
            let target = str_at(&info["valueReference"], "reference").and_then(|r| ctx.resolve(r));
            if let Some(target) = target {
                let profiles = Ctx::profiles(target);
                let allowed = profiles
                    .iter()
                    .any(|p| *p == DOCUMENT_REFERENCE || p.starts_with(US_CORE_BASE))
                    || matches!(
                        target["resourceType"].as_str(),
                        Some("NutritionOrder" | "DeviceRequest" | "Bundle")
                    );
                if !allowed {
                    fail(
                        out,
                        "reference-target",
                        "Claim.fsh:218",
                        "AdditionalInformation must reference a PASDocumentReference or a US Core \
                         profiled resource",
                    );
                }
            }
        }
        Some("freeFormMessage") => {
            if has_timing {
                fail(
                    out,
                    "cardinality",
                    "Claim.fsh:238",
                    "MessageText has no timing[x]",
                );
            }
            if values.len() != 1 || values[0] != "valueString" {
                fail(
                    out,
                    "cardinality",
                    "Claim.fsh:239",
                    "MessageText carries exactly one valueString",
                );
            }
        }
        Some(event @ ("patientEvent" | "admissionDates" | "dischargeDates")) => {
            let (timing_source, value_source) = match event {
                "patientEvent" => ("Claim.fsh:138", "Claim.fsh:146"),
                "admissionDates" => ("Claim.fsh:150", "Claim.fsh:158"),
                _ => ("Claim.fsh:162", "Claim.fsh:166"),
            };
            if !has_timing {
                fail(
                    out,
                    "cardinality",
                    timing_source,
                    "the event slice needs timing[x]",
                );
            }
            if !values.is_empty() {
                fail(
                    out,
                    "cardinality",
                    value_source,
                    "the event slice has no value[x]",
                );
            }
            let dates = ["timingDate", "timingPeriod.start", "timingPeriod.end"];
            for path in dates {
                for (date, date_at) in select(info, at, path) {
                    if !date.as_str().is_some_and(full_date) {
                        out.raw(
                            date_at,
                            "FullDateRule",
                            timing_source,
                            "the event date must be a full date YYYY-MM-DD",
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

fn contains_ignore_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// An appeal (free-form messages say so, or UM02 is 1/2) must carry UM02 appeal codes and the
/// denied request's administrationReferenceNumber (conf-15: standard elements, not text).
fn appeal(resource: &Value, base: &str, out: &mut Out<'_>) {
    let says_appeal = select(resource, "", "supportingInfo")
        .iter()
        .filter(|(info, _)| {
            info.get("category")
                .is_some_and(|c| has_coding(c, PAS_TEMP_CODES, "freeFormMessage"))
        })
        .filter_map(|(info, _)| str_at(info, "valueString"))
        .any(|text| contains_ignore_case(text, "appeal"));
    let mut certification: Vec<(Option<&str>, String)> = Vec::new();
    for (concept, at) in select(
        resource,
        base,
        "item.ext:certificationType.valueCodeableConcept",
    )
    .into_iter()
    .chain(select(
        resource,
        base,
        "ext:certificationType.valueCodeableConcept",
    )) {
        certification.push((code_in(concept, X12_1322), at));
    }
    let coded_appeal = certification
        .iter()
        .any(|(code, _)| matches!(code, Some("1" | "2")));
    if !says_appeal && !coded_appeal {
        return;
    }
    for (code, at) in &certification {
        if !matches!(code, Some("1" | "2")) {
            out.raw(
                at.clone(),
                "appeal-certification-type",
                CONF_15,
                "an appeal must use certificationType (UM02) 1 (immediate) or 2 (standard) appeal",
            );
        }
    }
    let claim_level = !select(resource, "", "ext:administrationReferenceNumber").is_empty();
    for (item, at) in select(resource, base, "item") {
        if !claim_level && select(item, "", "ext:administrationReferenceNumber").is_empty() {
            out.raw(
                format!("{at}.extension"),
                "appeal-reference",
                CONF_15,
                "an appeal must name the denied request in administrationReferenceNumber",
            );
        }
    }
}

/// A submission names its rendering provider: a careTeam member that is a PASPractitionerRole.
fn rendering_provider(resource: &Value, base: &str, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    let found = select(resource, "", "careTeam.provider")
        .iter()
        .any(|(p, _)| {
            str_at(p, "reference")
                .and_then(|r| ctx.resolve(r))
                .is_some_and(|t| Ctx::profiles(t).contains(&PRACTITIONER_ROLE))
        });
    if !found {
        out.raw(
            format!("{base}.careTeam"),
            "rendering-provider",
            "Claim.fsh:37",
            "no careTeam member is a PASPractitionerRole: the request names no practitioner",
        );
    }
}

/// US Core Patient us-core-6: each name has family or given, or a data-absent-reason.
fn patient_names(resource: &Value, base: &str, out: &mut Out<'_>) {
    for (name, at) in select(resource, base, "name") {
        let named = name.get("family").is_some() || name.get("given").is_some();
        let absent = select(name, "", "extension")
            .iter()
            .any(|(e, _)| str_at(e, "url") == Some(DATA_ABSENT_REASON));
        if named == absent {
            out.raw(
                at,
                "us-core-6",
                "Patient.fsh:2",
                "a name needs family or given, or else a data-absent-reason extension",
            );
        }
    }
}

/// Coverage.fsh: the memberid slice, the X12 relationship slice, self-beneficiary.
fn coverage(resource: &Value, base: &str, out: &mut Out<'_>) {
    let member_ids = select(resource, "", "identifier")
        .iter()
        .filter(|(i, _)| i.get("type").is_some_and(|t| has_coding(t, V2_0203, "MB")))
        .count();
    if member_ids != 1 {
        out.raw(
            format!("{base}.identifier"),
            "cardinality",
            "Coverage.fsh:9",
            "identifier[memberid] (type MB) must occur exactly once",
        );
    }
    let codings = select(resource, base, "relationship.coding");
    let x12 = codings
        .iter()
        .filter(|(c, _)| str_at(c, "system") == Some(X12_1069))
        .count();
    if x12 > 1 {
        out.raw(
            format!("{base}.relationship.coding"),
            "cardinality",
            "Coverage.fsh:22",
            "relationship.coding[X12Code] occurs more than once",
        );
    }
    let self_coded = codings.iter().any(|(c, _)| str_at(c, "code") == Some("18"));
    if !self_coded && resource.get("subscriber").is_none() {
        out.raw(
            format!("{base}.subscriber"),
            "self-beneficiary",
            "Coverage.fsh:31",
            "relationship is not X12 18 (self), so subscriber (PASSubscriber) must be present",
        );
    }
}

/// PASSubscription: full-resource payload (ClaimOperation.fsh:75, spec-62) and the
/// org-identifier filter (spec-58).
pub(super) fn subscription(subscription: &Value, out: &mut Out<'_>) {
    let content = select(subscription, "", "channel._payload.extension")
        .into_iter()
        .find(|(e, _)| str_at(e, "url") == Some(BACKPORT_PAYLOAD_CONTENT))
        .and_then(|(e, _)| str_at(e, "valueCode"));
    if content != Some("full-resource") {
        out.raw(
            "Subscription.channel.payload".to_owned(),
            "payload-content",
            "ClaimOperation.fsh:75",
            "channel.payload must carry the backport content extension full-resource",
        );
    }
    let filtered = select(subscription, "", "_criteria.extension")
        .iter()
        .filter(|(e, _)| str_at(e, "url") == Some(BACKPORT_FILTER_CRITERIA))
        .filter_map(|(e, _)| str_at(e, "valueString"))
        .any(|f| f.starts_with("org-identifier="));
    if !filtered {
        out.raw(
            "Subscription.criteria".to_owned(),
            "org-identifier-filter",
            "specification.md:252 spec-58",
            "the filter criteria must be org-identifier=<sending system identifier (ISA06)>",
        );
    }
}
