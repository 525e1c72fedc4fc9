//! The payer side of PAS, for the payer simulator: reading back what a request bundle says
//! ([`review_from_bundle`]) and writing the response bundle a payer sends for a decision.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::{ReviewCase, ReviewLine};
use crate::case::{result_means_failure, Indication, Reason};
use crate::codes::{ProcedureCode, ProcedureSystem};
use crate::payer::pas::json::*;
use crate::payer::pas::model::*;
use crate::payer::{PayerResponse, ReviewAction};

// Building JSON values, for the answers the payer simulator writes.

fn coding(system: &str, code: &str) -> Value {
    json!({"system": system, "code": code})
}

fn coding_display(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

fn concept(coding: Value) -> Value {
    json!({"coding": [coding]})
}

fn reference(url: &str) -> Value {
    json!({"reference": url})
}

fn profile(url: &str) -> Value {
    json!({"profile": [url]})
}

fn entry(full_url: &str, resource: Value) -> Value {
    json!({"fullUrl": full_url, "resource": resource})
}

/// Sets `key` only when the array is not empty: FHIR JSON forbids empty arrays.
fn put_array(map: &mut Value, key: &str, values: Vec<Value>) {
    if !values.is_empty() {
        if let Some(m) = map.as_object_mut() {
            m.insert(key.to_owned(), Value::Array(values));
        }
    }
}

fn put(map: &mut Value, key: &str, value: Value) {
    if let Some(m) = map.as_object_mut() {
        m.insert(key.to_owned(), value);
    }
}

// ---------------------------------------------------------------------------------------------
// The payer side (for the PAS payer simulator).

/// The resources of a bundle by fullUrl.
fn by_full_url(bundle: &Value) -> BTreeMap<&str, &Value> {
    array_of(bundle, "entry")
        .iter()
        .filter_map(|e| Some((str_of(e, "fullUrl")?, e.get("resource")?)))
        .collect()
}

fn first_claim(bundle: &Value) -> Option<&Value> {
    array_of(bundle, "entry")
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| str_of(r, "resourceType") == Some("Claim"))
}

fn member_id_of(resource: Option<&Value>) -> Option<&str> {
    array_of(resource?, "identifier")
        .iter()
        .find(|i| {
            codings(i.get("type"))
                .iter()
                .any(|c| str_of(c, "code") == Some("MB"))
        })
        .and_then(|i| str_of(i, "value"))
}

/// Reads back what [`request_bundle`] wrote: the facts a payer's reviewers decide on.
pub fn review_from_bundle(bundle: &Value) -> Result<ReviewCase, String> {
    if str_of(bundle, "resourceType") != Some("Bundle") {
        return Err("the body is not a Bundle".to_owned());
    }
    let claim = first_claim(bundle).ok_or("the bundle holds no Claim")?;
    let resources = by_full_url(bundle);
    let resolve = |r: Option<&Value>| -> Option<&Value> {
        let url = str_of(r?, "reference")?;
        resources.get(url).copied()
    };

    let requested_on = str_of(claim, "created")
        .and_then(date_of)
        .ok_or("the Claim has no created date")?;

    let insurance = array_of(claim, "insurance");
    let focal = insurance
        .iter()
        .find(|i| i.get("focal").and_then(Value::as_bool) == Some(true))
        .or_else(|| insurance.first());
    let coverage = resolve(focal.and_then(|i| i.get("coverage")));
    let patient = resolve(claim.get("patient"));
    let member_id = member_id_of(coverage)
        .or_else(|| member_id_of(patient))
        .ok_or("no member id (an identifier of type MB) on the Coverage or the Patient")?
        .to_owned();

    let mut procedures = Vec::new();
    for (index, item) in array_of(claim, "item").iter().enumerate() {
        let n = index + 1;
        let (system, code) = codings(item.get("productOrService"))
            .iter()
            .find_map(|c| {
                let system = match str_of(c, "system")? {
                    CPT_SYSTEM => ProcedureSystem::Cpt,
                    HCPCS_SYSTEM => ProcedureSystem::Hcpcs,
                    _ => return None,
                };
                Some((system, str_of(c, "code")?))
            })
            .ok_or_else(|| format!("item {n} has no CPT or HCPCS productOrService"))?;
        let code = ProcedureCode::parse(system, code)
            .map_err(|e| format!("item {n}: productOrService code: {e}"))?;
        let units = positive_u32(item.get("quantity").and_then(|q| q.get("value")))
            .ok_or_else(|| format!("item {n} has no quantity (a positive whole number)"))?;
        procedures.push(ReviewLine { code, units });
    }
    if procedures.is_empty() {
        return Err("the Claim has no items".to_owned());
    }

    let mut review = ReviewCase {
        appeal: false,
        member_id,
        requested_on,
        procedures,
        indications: Vec::new(),
        clinical_notes: 0,
        photos: 0,
        prior_treatments: Vec::new(),
        letter_of_medical_necessity: false,
    };
    for (index, info) in array_of(claim, "supportingInfo").iter().enumerate() {
        let category = codings(info.get("category"))
            .iter()
            .find_map(|c| str_of(c, "code"));
        match category {
            Some("additionalInformation") => {
                let doc = resolve(info.get("valueReference")).ok_or_else(|| {
                    format!(
                        "supportingInfo {} points to no entry of the bundle",
                        index + 1
                    )
                })?;
                let loinc = codings(doc.get("type"))
                    .iter()
                    .filter(|c| str_of(c, "system") == Some(LOINC_SYSTEM))
                    .find_map(|c| str_of(c, "code"));
                match loinc {
                    Some(LOINC_PROGRESS_NOTE) => review.clinical_notes += 1,
                    Some(LOINC_PHOTO) => review.photos += 1,
                    Some(LOINC_LETTER) => review.letter_of_medical_necessity = true,
                    _ => {}
                }
            }
            Some("freeFormMessage") => {
                let text = str_of(info, "valueString").unwrap_or_default();
                if let Some(words) = text.strip_prefix(INDICATIONS_PREFIX) {
                    review.indications.extend(
                        words
                            .split("; ")
                            .filter(|w| !w.trim().is_empty())
                            .map(Indication::parse),
                    );
                } else if let Some(rest) = text.strip_prefix(PRIOR_TREATMENT_PREFIX) {
                    let result = rest.rsplit_once(": ").map_or("", |(_, r)| r);
                    review.prior_treatments.push(result_means_failure(result));
                } else if text.starts_with(APPEAL_PREFIX) {
                    review.appeal = true;
                }
            }
            _ => {}
        }
    }
    Ok(review)
}

/// What a response echoes of its request.
struct RequestEcho<'a> {
    bundle_identifier: Option<&'a Value>,
    claim_identifier: Option<&'a Value>,
    claim_identifiers: &'a [Value],
    claim_type: Option<&'a Value>,
    patient: Option<&'a str>,
    insurer: Option<&'a str>,
    requestor: Option<&'a str>,
    timestamp: Option<&'a str>,
    inquiry: bool,
    entries: Vec<Value>,
}

impl<'a> RequestEcho<'a> {
    fn read(request: &'a Value) -> Self {
        let claim = first_claim(request);
        let claim_ref = |key: &str| {
            claim
                .and_then(|c| c.get(key))
                .and_then(|r| str_of(r, "reference"))
        };
        let (patient, insurer, requestor) = (
            claim_ref("patient"),
            claim_ref("insurer"),
            claim_ref("provider"),
        );
        // Echoed resources keep the request's fullUrls; each is included once.
        let mut wanted: Vec<&str> = Vec::new();
        for url in [patient, insurer, requestor].into_iter().flatten() {
            if !wanted.contains(&url) {
                wanted.push(url);
            }
        }
        let entries = wanted
            .iter()
            .filter_map(|url| {
                array_of(request, "entry")
                    .iter()
                    .find(|e| str_of(e, "fullUrl") == Some(url))
                    .cloned()
            })
            .collect();
        let inquiry = claim
            .and_then(|c| c.get("meta"))
            .map(|m| array_of(m, "profile"))
            .is_some_and(|p| p.iter().any(|u| u.as_str() == Some(CLAIM_INQUIRY_PROFILE)));
        Self {
            bundle_identifier: request.get("identifier"),
            claim_identifier: claim.and_then(|c| array_of(c, "identifier").first()),
            claim_identifiers: claim.map(|c| array_of(c, "identifier")).unwrap_or(&[]),
            claim_type: claim.and_then(|c| c.get("type")),
            patient,
            insurer,
            requestor,
            timestamp: str_of(request, "timestamp"),
            inquiry,
            entries,
        }
    }

    /// The response's own timestamp: the request's when the decision is dated the same day (the
    /// simulator answers at once), else the start of the decision day in UTC. Never the clock.
    fn timestamp(&self, decided_on: NaiveDate) -> String {
        match self.timestamp {
            Some(t) if date_of(t) == Some(decided_on) => t.to_owned(),
            _ => format!("{decided_on}T00:00:00Z"),
        }
    }

    /// A ClaimResponse with the elements every answer carries.
    fn claim_response(&self, decided_on: NaiveDate, outcome: &str) -> Value {
        let mut cr = json!({
            "resourceType": "ClaimResponse",
            "meta": profile(CLAIM_RESPONSE_PROFILE),
            "status": "active",
            "type": self.claim_type.cloned()
                .unwrap_or_else(|| concept(coding(CLAIM_TYPE_SYSTEM, "professional"))),
            "use": "preauthorization",
            "created": decided_on.to_string(),
            "outcome": outcome,
        });
        if let Some(id) = self.claim_identifier {
            // Payers echo the request's identifiers: the TRN, and the worker's correlation one.
            put(
                &mut cr,
                "identifier",
                Value::Array(self.claim_identifiers.to_vec()),
            );
            put(&mut cr, "request", json!({"identifier": id}));
        }
        for (key, url) in [
            ("patient", self.patient),
            ("insurer", self.insurer),
            ("requestor", self.requestor),
        ] {
            if let Some(url) = url {
                put(&mut cr, key, reference(url));
            }
        }
        cr
    }

    fn bundle(&self, decided_on: NaiveDate, claim_response: Value) -> Value {
        let id_value = self
            .claim_identifier
            .and_then(|i| str_of(i, "value"))
            .unwrap_or_default();
        let mut entries = vec![entry(&full_url(id_value, "claimresponse"), claim_response)];
        entries.extend(self.entries.iter().cloned());
        let profile_url = if self.inquiry {
            INQUIRY_RESPONSE_BUNDLE_PROFILE
        } else {
            RESPONSE_BUNDLE_PROFILE
        };
        let mut bundle = json!({
            "resourceType": "Bundle",
            "meta": profile(profile_url),
            "type": "collection",
            "timestamp": self.timestamp(decided_on),
            "entry": entries,
        });
        if let Some(id) = self.bundle_identifier {
            put(&mut bundle, "identifier", id.clone());
        }
        bundle
    }
}

fn review_action_display(action: ReviewAction) -> &'static str {
    match action {
        ReviewAction::Certified => "Certified in total",
        ReviewAction::Partial => "Certified - partial",
        ReviewAction::NotCertified => "Not Certified",
        ReviewAction::Pended => "Pending",
        ReviewAction::Modified => "Modified",
        ReviewAction::Cancelled => "Cancelled",
        ReviewAction::ContactPayer => "Contact Payer",
        ReviewAction::NoActionRequired => "No Action Required",
    }
}

/// The reviewAction extension: HCR01 action, HCR02 number, HCR03 reasons.
fn review_action_extension(
    action: ReviewAction,
    number: Option<&str>,
    reasons: &[Reason],
) -> Value {
    let mut parts = vec![json!({
        "url": EXT_REVIEW_ACTION_CODE,
        "valueCodeableConcept": concept(coding_display(
            X12_306_SYSTEM, action.code(), review_action_display(action))),
    })];
    if let Some(n) = number {
        parts.push(json!({"url": "number", "valueString": n}));
    }
    for r in reasons {
        let mut c = json!({"code": r.code});
        if let Some(system) = &r.system {
            put(&mut c, "system", Value::String(system.clone()));
        }
        if !r.text.is_empty() {
            put(&mut c, "display", Value::String(r.text.clone()));
        }
        parts.push(json!({"url": "reasonCode", "valueCodeableConcept": {"coding": [c]}}));
    }
    json!({"url": EXT_REVIEW_ACTION, "extension": parts})
}

fn submitted_category() -> Value {
    concept(coding(ADJUDICATION_SYSTEM, "submitted"))
}

/// The PAS response Bundle a payer sends for `request` with the decision `response`.
///
/// The ClaimResponse comes first (status active, use preauthorization, outcome complete) and
/// names the Claim by identifier; the patient, insurer and requestor entries of the request are
/// echoed with their fullUrls. Per item: `adjudication[submitted]` with `value` = approved
/// units and the reviewAction (X12 306 action, `number` = authorization number when certified,
/// 886 reason codes with the reason text as display), and the payer's reference as
/// `extension-administrationReferenceNumber`. Whole-request reasons travel twice: as reason
/// codes on `ClaimResponse.adjudication` (with the summary action) and as `processNote` text.
pub fn response_bundle(request: &Value, response: &PayerResponse) -> Value {
    let echo = RequestEcho::read(request);
    let mut cr = echo.claim_response(response.decided_on, "complete");
    if let Some(auth) = &response.authorization_number {
        put(&mut cr, "preAuthRef", Value::String(auth.clone()));
    }
    if response.valid_from.is_some() || response.valid_to.is_some() {
        let mut period = json!({});
        if let Some(d) = response.valid_from {
            put(&mut period, "start", Value::String(d.to_string()));
        }
        if let Some(d) = response.valid_to {
            put(&mut period, "end", Value::String(d.to_string()));
        }
        put(&mut cr, "preAuthPeriod", period);
    }
    let items: Vec<Value> = response
        .items
        .iter()
        .map(|i| {
            let number = response
                .authorization_number
                .as_deref()
                .filter(|_| i.action.certifies());
            let mut item = json!({
                "itemSequence": i.sequence,
                "adjudication": [{
                    "extension": [review_action_extension(i.action, number, &i.reasons)],
                    "category": submitted_category(),
                    "value": i.approved_units,
                }],
            });
            if let Some(r) = &response.reference {
                put(
                    &mut item,
                    "extension",
                    json!([{"url": EXT_ADMINISTRATION_REFERENCE_NUMBER, "valueString": r}]),
                );
            }
            item
        })
        .collect();
    put_array(&mut cr, "item", items);
    if let Some(summary) = response.summary_action() {
        if !response.reasons.is_empty() {
            put(
                &mut cr,
                "adjudication",
                json!([{
                    "extension": [review_action_extension(summary, None, &response.reasons)],
                    "category": submitted_category(),
                }]),
            );
        }
    }
    put_array(
        &mut cr,
        "processNote",
        response
            .reasons
            .iter()
            .filter(|r| !r.text.is_empty())
            .enumerate()
            .map(|(i, r)| json!({"number": seq(i), "type": "display", "text": r.text}))
            .collect(),
    );
    echo.bundle(response.decided_on, cr)
}

/// The PAS response Bundle for a request refused on business grounds (X12 AAA): a ClaimResponse
/// with `outcome = error` and one `error` per reason (X12 901 codes), no items.
pub fn error_response_bundle(request: &Value, decided_on: NaiveDate, errors: &[Reason]) -> Value {
    let echo = RequestEcho::read(request);
    let mut cr = echo.claim_response(decided_on, "error");
    put_array(
        &mut cr,
        "error",
        errors
            .iter()
            .map(|r| {
                let mut c = json!({"code": r.code});
                if let Some(system) = &r.system {
                    put(&mut c, "system", Value::String(system.clone()));
                }
                if !r.text.is_empty() {
                    put(&mut c, "display", Value::String(r.text.clone()));
                }
                json!({"code": {"coding": [c]}})
            })
            .collect(),
    );
    echo.bundle(decided_on, cr)
}

#[cfg(test)]
mod tests;
