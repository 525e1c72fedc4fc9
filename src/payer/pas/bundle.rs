//! PAS bundles as `serde_json::Value`: the response the worker reads, and, for the payer
//! simulator, the reading of a request and the writing of a response. The requests the worker
//! sends are typed and written straight to bytes: see [`super::request`] (re-exported here).
//!
//! Everything here is a pure function of its arguments. Error messages name elements and codes,
//! never values taken from the patient's record.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::request::seq;
pub use super::request::{inquiry_bundle, request_bundle, PasRequest};
use crate::case::{result_means_failure, Indication, Reason};
use crate::codes::{ProcedureCode, ProcedureSystem};
use crate::payer::simulator::{ReviewCase, ReviewLine};
use crate::payer::{ItemDecision, PayerResponse, ReviewAction};

macro_rules! pas_sd {
    ($name:literal) => {
        concat!(
            "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/",
            $name
        )
    };
}

pub(super) const REQUEST_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-request-bundle");
pub(super) const INQUIRY_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-inquiry-request-bundle");
pub(super) const RESPONSE_BUNDLE_PROFILE: &str = pas_sd!("profile-pas-response-bundle");
pub(super) const INQUIRY_RESPONSE_BUNDLE_PROFILE: &str =
    pas_sd!("profile-pas-inquiry-response-bundle");
pub(super) const CLAIM_PROFILE: &str = pas_sd!("profile-claim");
pub(super) const CLAIM_INQUIRY_PROFILE: &str = pas_sd!("profile-claim-inquiry");
pub(super) const CLAIM_RESPONSE_PROFILE: &str = pas_sd!("profile-claimresponse");
pub(super) const BENEFICIARY_PROFILE: &str = pas_sd!("profile-beneficiary");
pub(super) const COVERAGE_PROFILE: &str = pas_sd!("profile-coverage");
pub(super) const INSURER_PROFILE: &str = pas_sd!("profile-insurer");
pub(super) const REQUESTOR_PROFILE: &str = pas_sd!("profile-requestor");
pub(super) const DOCUMENT_REFERENCE_PROFILE: &str = pas_sd!("profile-documentreference");

pub(super) const EXT_SERVICE_ITEM_REQUEST_TYPE: &str = pas_sd!("extension-serviceItemRequestType");
pub(super) const EXT_CERTIFICATION_TYPE: &str = pas_sd!("extension-certificationType");
pub(super) const EXT_CARE_TEAM_CLAIM_SCOPE: &str = pas_sd!("extension-careTeamClaimScope");
pub(super) const EXT_DOCUMENT_INFORMATION: &str = pas_sd!("extension-documentInformation");
pub(super) const EXT_ADMINISTRATION_REFERENCE_NUMBER: &str =
    pas_sd!("extension-administrationReferenceNumber");
pub(super) const EXT_REVIEW_ACTION: &str = pas_sd!("extension-reviewAction");
pub(super) const EXT_REVIEW_ACTION_CODE: &str = pas_sd!("extension-reviewActionCode");
pub(super) const EXT_ITEM_PRE_AUTH_PERIOD: &str = pas_sd!("extension-itemPreAuthPeriod");
pub(super) const EXT_ERROR_PATH: &str = pas_sd!("extension-errorPath");
pub(super) const EXT_ERROR_ELEMENT: &str = pas_sd!("extension-errorElement");

pub(super) const PAS_TEMP_CODES: &str =
    "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes";
pub(super) const CPT_SYSTEM: &str = "http://www.ama-assn.org/go/cpt";
pub(super) const HCPCS_SYSTEM: &str = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
pub(super) const ICD10CM_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub(super) const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";
pub(super) const POS_SYSTEM: &str =
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set";
pub(super) const NUCC_TAXONOMY_SYSTEM: &str = "http://nucc.org/provider-taxonomy";
pub(super) const LOINC_SYSTEM: &str = "http://loinc.org";
pub(super) const V2_0203_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
pub(super) const C4BB_IDENTIFIER_TYPE_SYSTEM: &str =
    "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType";
pub(super) const CLAIM_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
pub(super) const PROCESS_PRIORITY_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/processpriority";
pub(super) const DIAGNOSIS_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/ex-diagnosistype";
pub(super) const SUBSCRIBER_RELATIONSHIP_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/subscriber-relationship";
pub(super) const COVERAGE_CLASS_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/coverage-class";
pub(super) const ADJUDICATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
pub(super) const DOCUMENT_CATEGORY_SYSTEM: &str =
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category";
pub(super) const X12_98_SYSTEM: &str = "https://codesystem.x12.org/005010/98";
pub(super) const X12_306_SYSTEM: &str = "https://codesystem.x12.org/005010/306";
pub(super) const X12_755_SYSTEM: &str = "https://codesystem.x12.org/005010/755";
pub(super) const X12_756_SYSTEM: &str = "https://codesystem.x12.org/005010/756";
pub(super) const X12_1069_SYSTEM: &str = "https://codesystem.x12.org/005010/1069";
pub(super) const X12_1322_SYSTEM: &str = "https://codesystem.x12.org/005010/1322";
pub(super) const X12_1365_SYSTEM: &str = "https://codesystem.x12.org/005010/1365";
pub(super) const X12_1525_SYSTEM: &str = "https://codesystem.x12.org/005010/1525";

// Identifier systems of the worker's own: the member id and payer id systems are payer-specific
// and unknown to the worker, so they are named under the worker's URN (as its reason codes are).
pub(super) const MEMBER_ID_SYSTEM_PREFIX: &str = "urn:preauth-worker:member-id:";
pub(super) const PAYER_ID_SYSTEM: &str = "urn:preauth-worker:payer-id";

pub(super) const LOINC_PROGRESS_NOTE: &str = "11506-3";
pub(super) const LOINC_PHOTO: &str = "72170-4";
pub(super) const LOINC_LETTER: &str = "51852-2";

pub(super) const INDICATIONS_PREFIX: &str = "Documented indications: ";
pub(super) const PRIOR_TREATMENT_PREFIX: &str = "Prior treatment: ";
pub(super) const APPEAL_PREFIX: &str = "Appeal of ";
pub(super) const ORIGINAL_REQUEST_PREFIX: &str = "Original request: ";

// Building JSON values, for the answers the payer simulator writes. (The worker's own requests
// are typed: see `super::request`.)

/// The `urn:uuid:` fullUrl of one resource, as the requests name theirs.
fn full_url(identifier: &str, role: &str) -> String {
    super::request::full_url(identifier, role)
}

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

/// The identifier system of the worker's correlation token on the Claim: the request identifier
/// and a tag under the deployment key, so a payer's notification can be matched and checked
/// without state (see [`crate::security`]).
pub const CORRELATION_SYSTEM: &str = "urn:preauth-worker:correlation";

/// A correlation token as found in a payer's bundle: not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    pub request_identifier: String,
    pub tag: String,
}

impl Correlation {
    /// The token for `request_identifier` sent to `payer_id`: `<request identifier>.<tag>`.
    pub fn token(
        key: &crate::security::DeploymentKey,
        payer_id: &str,
        request_identifier: &str,
    ) -> String {
        let tag = key.tag(
            crate::security::Purpose::Correlation,
            &[payer_id.as_bytes(), request_identifier.as_bytes()],
        );
        format!("{request_identifier}.{tag}")
    }

    /// Whether this token was made under `key` for a request sent to `payer_id`.
    pub fn verify(&self, key: &crate::security::DeploymentKey, payer_id: &str) -> bool {
        key.verify(
            crate::security::Purpose::Correlation,
            &[payer_id.as_bytes(), self.request_identifier.as_bytes()],
            &self.tag,
        )
    }
}

/// Finds the worker's correlation token in a PAS response bundle: on the ClaimResponse
/// (identifier or request.identifier) or on an echoed Claim. Bounded: a value longer than
/// 200 characters or holding anything but the token's characters is no token.
pub fn correlation(response: &Value) -> Option<Correlation> {
    let entries = array_of(response, "entry");
    let mut candidates: Vec<&Value> = Vec::new();
    for e in entries {
        let r = &e["resource"];
        candidates.extend(array_of(r, "identifier"));
        if let Some(req) = r.get("request").and_then(|q| q.get("identifier")) {
            candidates.push(req);
        }
    }
    candidates.iter().find_map(|i| {
        if str_of(i, "system") != Some(CORRELATION_SYSTEM) {
            return None;
        }
        let value = str_of(i, "value")?;
        let token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if value.len() > 200 || !value.chars().all(token_char) {
            return None;
        }
        let (request_identifier, tag) = value.rsplit_once('.')?;
        (!request_identifier.is_empty() && !tag.is_empty()).then(|| Correlation {
            request_identifier: request_identifier.to_owned(),
            tag: tag.to_owned(),
        })
    })
}

/// The PAS response bundle a rest-hook notification carries (a `history` Bundle whose entries
/// are the SubscriptionStatus and the full-resource response), or the bundle itself when a
/// response bundle was posted as it is.
pub fn notification_response(notification: &Value) -> Option<&Value> {
    let has_claim_response = |b: &Value| {
        array_of(b, "entry")
            .iter()
            .any(|e| e["resource"]["resourceType"] == "ClaimResponse")
    };
    if str_of(notification, "resourceType") != Some("Bundle") {
        return None;
    }
    if has_claim_response(notification) {
        return Some(notification);
    }
    array_of(notification, "entry")
        .iter()
        .map(|e| &e["resource"])
        .find(|r| str_of(r, "resourceType") == Some("Bundle") && has_claim_response(r))
}

// ---------------------------------------------------------------------------------------------
// Reading JSON without panicking.

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn array_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

fn extensions<'a>(v: &'a Value, url: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    array_of(v, "extension")
        .iter()
        .filter(move |e| str_of(e, "url") == Some(url))
}

fn codings(concept: Option<&Value>) -> &[Value] {
    concept.map_or(&[][..], |c| array_of(c, "coding"))
}

/// The date part of a FHIR date or dateTime, as written (no time-zone conversion).
fn date_of(text: &str) -> Option<NaiveDate> {
    let head = text.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

fn positive_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
}

/// A non-negative whole number (JSON `2` or `2.0`) that fits in u32.
fn whole_u32(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u32)
    })
}

/// Codes coming from outside are echoed in messages only when short and plain.
fn safe_code(code: &str) -> String {
    if code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        code.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Response parsing (the worker's side).

/// Why a payer's answer could not be read as a decision. Messages carry codes only, never data
/// from the patient's record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The payer answered with an OperationOutcome (issue severities, codes and locations).
    #[error("payer answered with an OperationOutcome: {0}")]
    OperationOutcome(String),
    /// The ClaimResponse carries business errors (X12 AAA reject reasons, `ClaimResponse.error`).
    #[error("payer rejected the request: {}", codes_of(.0))]
    BusinessErrors(Vec<Reason>),
    /// The body is not a PAS response the worker can read.
    #[error("malformed payer response: {0}")]
    Malformed(String),
}

fn codes_of(reasons: &[Reason]) -> String {
    let codes: Vec<String> = reasons.iter().map(|r| safe_code(&r.code)).collect();
    if codes.is_empty() {
        "no error codes".to_owned()
    } else {
        codes.join(", ")
    }
}

fn malformed(what: impl Into<String>) -> ResponseError {
    ResponseError::Malformed(what.into())
}

/// Reads a payer's answer: a PAS response Bundle (the ClaimResponse need not be first), a
/// `Parameters` wrapping one (`return` or `responseBundle`), a bare ClaimResponse, or an
/// OperationOutcome.
pub fn parse_response(body: &Value) -> Result<PayerResponse, ResponseError> {
    parse_any(body, true)
}

fn parse_any(body: &Value, parameters_allowed: bool) -> Result<PayerResponse, ResponseError> {
    if !body.is_object() {
        return Err(malformed("the body is not a JSON object"));
    }
    match str_of(body, "resourceType") {
        Some("OperationOutcome") => Err(ResponseError::OperationOutcome(outcome_text(body))),
        Some("Parameters") if parameters_allowed => {
            let inner = array_of(body, "parameter")
                .iter()
                .filter(|p| matches!(str_of(p, "name"), Some("return" | "responseBundle")))
                .find_map(|p| p.get("resource"))
                .ok_or_else(|| {
                    malformed("the Parameters has no return or responseBundle resource")
                })?;
            parse_any(inner, false)
        }
        Some("Bundle") => {
            let resources: Vec<&Value> = array_of(body, "entry")
                .iter()
                .filter_map(|e| e.get("resource"))
                .collect();
            let of_type = |t: &str| {
                resources
                    .iter()
                    .copied()
                    .find(|r| str_of(r, "resourceType") == Some(t))
            };
            if let Some(cr) = of_type("ClaimResponse") {
                claim_response(cr, str_of(body, "timestamp"))
            } else if let Some(oo) = of_type("OperationOutcome") {
                Err(ResponseError::OperationOutcome(outcome_text(oo)))
            } else {
                Err(malformed("the bundle holds no ClaimResponse"))
            }
        }
        Some("ClaimResponse") => claim_response(body, None),
        Some(other) => Err(malformed(format!(
            "unexpected resourceType {}",
            safe_code(other)
        ))),
        None => Err(malformed("the body has no resourceType")),
    }
}

/// Issue severities, codes, detail codes and locations. Diagnostics and detail text are left
/// out: payers echo submitted values in them.
fn outcome_text(oo: &Value) -> String {
    let issues: Vec<String> = array_of(oo, "issue")
        .iter()
        .map(|issue| {
            let mut s = format!(
                "{} {}",
                safe_code(str_of(issue, "severity").unwrap_or("unknown")),
                safe_code(str_of(issue, "code").unwrap_or("unknown"))
            );
            let details: Vec<String> = codings(issue.get("details"))
                .iter()
                .filter_map(|c| str_of(c, "code"))
                .map(safe_code)
                .collect();
            if !details.is_empty() {
                s.push_str(&format!(" [{}]", details.join(", ")));
            }
            let places: Vec<&str> = array_of(issue, "expression")
                .iter()
                .chain(array_of(issue, "location"))
                .filter_map(Value::as_str)
                .filter(|p| p.len() <= 200 && p.chars().all(|c| c.is_ascii_graphic() || c == ' '))
                .collect();
            if !places.is_empty() {
                s.push_str(&format!(" at {}", places.join(", ")));
            }
            s
        })
        .collect();
    if issues.is_empty() {
        "no issues given".to_owned()
    } else {
        issues.join("; ")
    }
}

/// The review action extension of an adjudication list, if any.
fn review_action_of(adjudication: &[Value]) -> Option<&Value> {
    adjudication
        .iter()
        .find_map(|a| extensions(a, EXT_REVIEW_ACTION).next())
}

/// The X12 306 code of a reviewAction (full-URL sub-extension, or `code` as older payers send).
fn review_action_code(review: &Value) -> Option<&str> {
    let sub = extensions(review, EXT_REVIEW_ACTION_CODE)
        .next()
        .or_else(|| extensions(review, "code").next())?;
    let list = codings(sub.get("valueCodeableConcept"));
    list.iter()
        .find(|c| str_of(c, "system") == Some(X12_306_SYSTEM))
        .or_else(|| list.first())
        .and_then(|c| str_of(c, "code"))
}

/// One reason per `reasonCode` sub-extension: its X12 886 coding (else its first), text from
/// the display or, failing that, from `fallback_text`.
fn reason_codes(review: &Value, fallback_text: &str) -> Vec<Reason> {
    extensions(review, "reasonCode")
        .filter_map(|rc| {
            let concept = rc.get("valueCodeableConcept");
            let list = codings(concept);
            let c = list
                .iter()
                .find(|c| str_of(c, "system") == Some(crate::payer::simulator::X12_REASON_SYSTEM))
                .or_else(|| list.first())?;
            let code = str_of(c, "code")?;
            let text = str_of(c, "display")
                .or_else(|| concept.and_then(|cc| str_of(cc, "text")))
                .unwrap_or(fallback_text);
            Some(Reason {
                code: code.to_owned(),
                system: str_of(c, "system").map(str::to_owned),
                text: text.to_owned(),
            })
        })
        .collect()
}

fn note_reason(text: &str) -> Reason {
    Reason {
        code: "note".to_owned(),
        system: None,
        text: text.to_owned(),
    }
}

fn period_of(v: Option<&Value>) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let start = v.and_then(|p| str_of(p, "start")).and_then(date_of);
    let end = v.and_then(|p| str_of(p, "end")).and_then(date_of);
    (start, end)
}

fn business_error(e: &Value) -> Reason {
    let concept = e.get("code");
    let c = codings(concept).first();
    let code = c.and_then(|c| str_of(c, "code")).unwrap_or("unknown");
    let mut text = c
        .and_then(|c| str_of(c, "display"))
        .or_else(|| concept.and_then(|cc| str_of(cc, "text")))
        .unwrap_or_default()
        .to_owned();
    let place = extensions(e, EXT_ERROR_PATH)
        .chain(extensions(e, EXT_ERROR_ELEMENT))
        .find_map(|x| str_of(x, "valueString"))
        .filter(|p| p.len() <= 200);
    if let Some(place) = place {
        text = if text.is_empty() {
            format!("at {place}")
        } else {
            format!("{text} (at {place})")
        };
    }
    Reason {
        code: code.to_owned(),
        system: c.and_then(|c| str_of(c, "system")).map(str::to_owned),
        text,
    }
}

fn claim_response(
    cr: &Value,
    bundle_timestamp: Option<&str>,
) -> Result<PayerResponse, ResponseError> {
    let errors = array_of(cr, "error");
    if !errors.is_empty() {
        return Err(ResponseError::BusinessErrors(
            errors.iter().map(business_error).collect(),
        ));
    }
    let decided_on = str_of(cr, "created")
        .and_then(date_of)
        .or_else(|| bundle_timestamp.and_then(date_of))
        .ok_or_else(|| {
            malformed("the ClaimResponse has no created date and the bundle no timestamp")
        })?;

    let notes: BTreeMap<u64, &str> = array_of(cr, "processNote")
        .iter()
        .filter_map(|n| Some((n.get("number")?.as_u64()?, str_of(n, "text")?)))
        .collect();
    let unnumbered_notes: Vec<&str> = array_of(cr, "processNote")
        .iter()
        .filter(|n| n.get("number").and_then(Value::as_u64).is_none())
        .filter_map(|n| str_of(n, "text"))
        .collect();

    let item_values = array_of(cr, "item");
    if item_values.is_empty() {
        return Err(malformed("the ClaimResponse has no items"));
    }
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut used_notes = BTreeSet::new();
    let mut item_number = None;
    let mut item_reference = None;
    let mut item_period = (None, None);
    for (index, item) in item_values.iter().enumerate() {
        let sequence = positive_u32(item.get("itemSequence")).ok_or_else(|| {
            malformed(format!(
                "item {} has no itemSequence (a positive integer)",
                index + 1
            ))
        })?;
        if !seen.insert(sequence) {
            return Err(malformed(format!(
                "itemSequence {sequence} appears more than once"
            )));
        }
        let adjudication = array_of(item, "adjudication");
        let review = review_action_of(adjudication)
            .ok_or_else(|| malformed(format!("item {sequence} has no review action")))?;
        let code = review_action_code(review)
            .ok_or_else(|| malformed(format!("item {sequence} has no review action code")))?;
        let action = ReviewAction::from_code(code).ok_or_else(|| {
            malformed(format!(
                "item {sequence}: review action {} is not an X12 306 code",
                safe_code(code)
            ))
        })?;

        let note_numbers: Vec<u64> = array_of(item, "noteNumber")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        let item_notes: Vec<&str> = note_numbers
            .iter()
            .filter_map(|n| notes.get(n).copied())
            .collect();
        used_notes.extend(note_numbers.iter().copied());
        let joined = item_notes.join("; ");
        let mut reasons = reason_codes(review, &joined);
        for note in &item_notes {
            if !reasons.iter().any(|r| r.text == *note || r.text == joined) {
                reasons.push(note_reason(note));
            }
        }

        let approved_units = approved_units(cr, item, sequence)?;

        if item_number.is_none() && action.certifies() {
            item_number = extensions(review, "number")
                .find_map(|n| str_of(n, "valueString"))
                .map(str::to_owned);
        }
        if item_reference.is_none() {
            item_reference = extensions(item, EXT_ADMINISTRATION_REFERENCE_NUMBER)
                .find_map(|x| str_of(x, "valueString"))
                .map(str::to_owned);
        }
        if item_period == (None, None) {
            item_period = period_of(
                extensions(item, EXT_ITEM_PRE_AUTH_PERIOD).find_map(|x| x.get("valuePeriod")),
            );
        }
        items.push(ItemDecision {
            sequence,
            action,
            approved_units,
            reasons,
        });
    }

    // Whole-request reasons: reason codes on ClaimResponse.adjudication, then the notes no item
    // points to (unless they repeat a reason already read).
    let mut reasons = review_action_of(array_of(cr, "adjudication"))
        .map(|r| reason_codes(r, ""))
        .unwrap_or_default();
    let loose_notes = notes
        .iter()
        .filter(|(n, _)| !used_notes.contains(n))
        .map(|(_, t)| *t)
        .chain(unnumbered_notes);
    for text in loose_notes {
        if !reasons.iter().any(|r| r.text == text) {
            reasons.push(note_reason(text));
        }
    }

    let pre_auth_ref = str_of(cr, "preAuthRef").map(str::to_owned);
    let authorization_number = pre_auth_ref.clone().or(item_number);
    let payer_identifier = array_of(cr, "identifier")
        .iter()
        .filter(|i| {
            !str_of(i, "system")
                .is_some_and(|s| s.starts_with("urn:trnorg:") || s == CORRELATION_SYSTEM)
        })
        .find_map(|i| str_of(i, "value"))
        .map(str::to_owned);
    let claim_reference = extensions(cr, EXT_ADMINISTRATION_REFERENCE_NUMBER)
        .find_map(|x| str_of(x, "valueString"))
        .map(str::to_owned);
    let reference = item_reference
        .or(claim_reference)
        .or(payer_identifier)
        .or(pre_auth_ref);

    let (mut valid_from, mut valid_to) = period_of(cr.get("preAuthPeriod"));
    if (valid_from, valid_to) == (None, None) {
        (valid_from, valid_to) = item_period;
    }

    Ok(PayerResponse {
        reference,
        items,
        authorization_number,
        valid_from,
        valid_to,
        reasons,
        decided_on,
    })
}

/// Authorized units of an item: the quantity of an `addItem` for it (a modification), else the
/// value of its `submitted` adjudication, else 0 (the payer did not say).
fn approved_units(cr: &Value, item: &Value, sequence: u32) -> Result<u32, ResponseError> {
    let bad = || {
        malformed(format!(
            "item {sequence}: the authorized quantity is not a whole number"
        ))
    };
    let added = array_of(cr, "addItem").iter().find(|a| {
        array_of(a, "itemSequence")
            .iter()
            .any(|s| s.as_u64() == Some(u64::from(sequence)))
    });
    if let Some(v) = added
        .and_then(|a| a.get("quantity"))
        .and_then(|q| q.get("value"))
    {
        return whole_u32(v).ok_or_else(bad);
    }
    let submitted = array_of(item, "adjudication").iter().find(|a| {
        codings(a.get("category"))
            .iter()
            .any(|c| str_of(c, "code") == Some("submitted"))
    });
    match submitted.and_then(|a| a.get("value")) {
        Some(v) => whole_u32(v).ok_or_else(bad),
        None => Ok(0),
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

/// An OperationOutcome for a 4xx answer: one error issue with the FHIR issue-type `code`.
pub fn operation_outcome(code: &str, diagnostics: &str) -> Value {
    let mut issue = Map::new();
    issue.insert("severity".to_owned(), json!("error"));
    issue.insert("code".to_owned(), json!(code));
    if !diagnostics.is_empty() {
        issue.insert("diagnostics".to_owned(), json!(diagnostics));
    }
    json!({"resourceType": "OperationOutcome", "issue": [Value::Object(issue)]})
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use serde_json::{json, Value};

    use super::*;
    use base64::Engine as _;

    use crate::case::{decode, identify, CaseEvent, Kind};
    use crate::codes::CodeTable;
    use crate::payer::simulator::{decide_review, X12_REASON_SYSTEM};
    use crate::payer::{Operation, Overall, PayerError};
    use crate::rules::testing::{appeal_base, base, decode_value};
    use crate::rules::Policies;

    const SUBMITTER: &str = "9012345678";
    const APPROVED: &str = include_str!("../../../tests/fixtures/pas/pas-approved-bundle.json");
    const DENIED: &str = include_str!("../../../tests/fixtures/pas/pas-denied-bundle.json");
    const PENDED: &str = include_str!("../../../tests/fixtures/pas/pas-pended-bundle.json");
    const REQUEST: &str = include_str!("../../../tests/fixtures/pas/pas-request-bundle.json");

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    /// Every example case event, with its file name and the request identifier the pipeline
    /// would give it.
    fn examples() -> Vec<(String, CaseEvent, String)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("examples dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        assert!(files.len() >= 15, "examples found: {}", files.len());
        files
            .into_iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("file name")
                    .to_owned();
                let bytes = std::fs::read(&path).expect("read example");
                let id = identify(&bytes).expect("identifiable");
                let case =
                    decode(&id, None).unwrap_or_else(|f| panic!("{name} does not decode: {f:?}"));
                let rid =
                    crate::pipeline::request_identifier(&case.case_id, &case.event_id, case.kind);
                (name, case, rid)
            })
            .collect()
    }

    fn claim_of(bundle: &Value) -> &Value {
        &bundle["entry"][0]["resource"]
    }

    /// Every `"reference"` string anywhere under `v`.
    fn references(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("reference", Value::String(s)) => out.push(s.clone()),
                        _ => references(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| references(x, out)),
            _ => {}
        }
    }

    /// The structural PAS rules the validator script also checks.
    fn assert_well_formed(bundle: &Value, what: &str) {
        assert_eq!(bundle["type"], "collection", "{what}");
        let entries = bundle["entry"].as_array().expect("entries");
        let first = entries[0]["resource"]["resourceType"].as_str();
        assert!(
            matches!(first, Some("Claim" | "ClaimResponse")),
            "{what}: first entry is {first:?}"
        );
        let urls: Vec<&str> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().expect("fullUrl"))
            .collect();
        let unique: BTreeSet<&str> = urls.iter().copied().collect();
        assert_eq!(unique.len(), urls.len(), "{what}: fullUrls are not unique");
        assert!(urls.iter().all(|u| u.starts_with("urn:uuid:")), "{what}");
        let mut refs = Vec::new();
        references(bundle, &mut refs);
        assert!(!refs.is_empty(), "{what}");
        for r in refs {
            let n = urls.iter().filter(|u| **u == r).count();
            assert_eq!(n, 1, "{what}: reference {r} resolves to {n} entries");
        }
        // Every entry but the first is referenced from somewhere.
        let mut refs = Vec::new();
        references(bundle, &mut refs);
        for u in &urls[1..] {
            assert!(refs.iter().any(|r| r == u), "{what}: {u} is not referenced");
        }
        let first = &entries[0]["resource"];
        for key in ["supportingInfo", "item", "diagnosis"] {
            let seqs: Vec<u64> = first[key]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["sequence"].as_u64()).collect())
                .unwrap_or_default();
            let unique: BTreeSet<u64> = seqs.iter().copied().collect();
            assert_eq!(unique.len(), seqs.len(), "{what}: {key} sequences repeat");
        }
    }

    fn supporting_messages(bundle: &Value) -> Vec<String> {
        claim_of(bundle)["supportingInfo"]
            .as_array()
            .expect("supportingInfo")
            .iter()
            .filter_map(|i| i["valueString"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_example_reads_back_as_the_review_case_it_came_from() {
        for (name, case, rid) in examples() {
            let bundle = request_bundle(&case, &rid, SUBMITTER).to_value();
            assert_eq!(
                review_from_bundle(&bundle),
                Ok(ReviewCase::from_case(&case)),
                "{name}"
            );
        }
    }

    #[test]
    fn every_simulated_decision_survives_the_response_bundle() {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let mut seen = BTreeSet::new();
        for (name, case, rid) in examples() {
            let request = request_bundle(&case, &rid, SUBMITTER).to_value();
            let review = review_from_bundle(&request).expect("review");
            let first = match case.kind {
                Kind::Submission => Operation::Submit,
                Kind::Appeal => Operation::Appeal,
            };
            for policy_name in ["default", "strict-commercial"] {
                let policy = policies.get(policy_name).expect("policy");
                for op in [first, Operation::Inquire { round: 1 }] {
                    let what = format!("{name} under {policy_name}, {op:?}");
                    match decide_review(&review, &policy, &codes, &rid, op, None) {
                        Ok(resp) => {
                            seen.insert(format!("{:?}", resp.overall()));
                            let bundle = response_bundle(&request, &resp);
                            assert_well_formed(&bundle, &what);
                            assert_eq!(parse_response(&bundle), Ok(resp), "{what}");
                        }
                        Err(PayerError::Refused { reasons, .. }) => {
                            seen.insert("Refused".to_owned());
                            let bundle =
                                error_response_bundle(&request, review.requested_on, &reasons);
                            assert_well_formed(&bundle, &what);
                            assert_eq!(
                                parse_response(&bundle),
                                Err(ResponseError::BusinessErrors(reasons)),
                                "{what}"
                            );
                        }
                        Err(e) => panic!("{what}: {e}"),
                    }
                }
            }
        }
        for kind in [
            Overall::Certified,
            Overall::PartlyCertified,
            Overall::NotCertified,
            Overall::Pended,
        ] {
            assert!(
                seen.contains(&format!("{kind:?}")),
                "no {kind:?} in {seen:?}"
            );
        }
        assert!(seen.contains("Refused"), "{seen:?}");
    }

    /// Fails on a null, an empty string, an empty array or an empty object anywhere: FHIR JSON
    /// allows none of them.
    fn assert_no_empty_values(v: &Value, path: &str) {
        match v {
            Value::Null => panic!("{path} is null"),
            Value::String(s) => assert!(!s.is_empty(), "{path} is an empty string"),
            Value::Array(a) => {
                assert!(!a.is_empty(), "{path} is an empty array");
                for (i, x) in a.iter().enumerate() {
                    assert_no_empty_values(x, &format!("{path}[{i}]"));
                }
            }
            Value::Object(m) => {
                assert!(!m.is_empty(), "{path} is an empty object");
                for (k, x) in m {
                    assert_no_empty_values(x, &format!("{path}.{k}"));
                }
            }
            Value::Bool(_) | Value::Number(_) => {}
        }
    }

    #[test]
    fn the_bytes_sent_name_each_resource_type_first_and_hold_no_empty_values() {
        for (name, case, rid) in examples() {
            let requests = [
                request_bundle(&case, &rid, SUBMITTER),
                inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 1),
            ];
            for request in requests {
                let bytes = request.to_json();
                let text = std::str::from_utf8(&bytes).expect("UTF-8");
                assert!(text.starts_with(r#"{"resourceType":"Bundle","#), "{name}");
                let entries = text.matches(r#""resource":"#).count();
                let typed_first = text.matches(r#""resource":{"resourceType":"#).count();
                assert_eq!(entries, typed_first, "{name}");
                let value: Value = serde_json::from_slice(&bytes).expect("JSON");
                assert_eq!(value["entry"].as_array().map(Vec::len), Some(entries));
                assert_eq!(value, request.to_value(), "{name}");
                assert_no_empty_values(&value, &name);
            }
        }
    }

    #[test]
    fn a_resent_request_is_byte_identical_and_another_request_is_not() {
        for (name, case, rid) in examples() {
            let a = serde_json::to_vec(&request_bundle(&case, &rid, SUBMITTER)).expect("a");
            let b = serde_json::to_vec(&request_bundle(&case, &rid, SUBMITTER)).expect("b");
            assert_eq!(a, b, "{name}");
            let other = format!("{rid}-other");
            let c = serde_json::to_vec(&request_bundle(&case, &other, SUBMITTER)).expect("c");
            assert_ne!(a, c, "{name}");
            let i1 =
                serde_json::to_vec(&inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 1)).expect("i1");
            let i2 =
                serde_json::to_vec(&inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 1)).expect("i2");
            let i3 =
                serde_json::to_vec(&inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 2)).expect("i3");
            assert_eq!(i1, i2, "{name}");
            assert_ne!(i1, i3, "{name}");
        }
    }

    #[test]
    fn request_bundles_put_the_claim_first_and_resolve_every_reference_once() {
        for (name, case, rid) in examples() {
            let bundle = request_bundle(&case, &rid, SUBMITTER).to_value();
            assert_well_formed(&bundle, &name);
            assert_eq!(claim_of(&bundle)["resourceType"], "Claim");
            let inquiry = inquiry_bundle(&case, &rid, SUBMITTER, "PA-1", 1).to_value();
            assert_well_formed(&inquiry, &format!("{name} inquiry"));
        }
    }

    #[test]
    fn the_claim_carries_the_pas_elements_the_brief_lists() {
        let case = decode_value(&base());
        let bundle = request_bundle(&case, "req-1", SUBMITTER).to_value();
        let claim = claim_of(&bundle);
        let identifier = json!({"system": "urn:trnorg:9012345678", "value": "req-1"});
        assert_eq!(bundle["identifier"], identifier);
        assert_eq!(claim["identifier"][0], identifier);
        assert_eq!(
            claim["identifier"].as_array().map(Vec::len),
            Some(1),
            "no correlation token unless the payer takes notifications"
        );
        assert_eq!(bundle["timestamp"], "2026-11-20T14:03:00Z");
        assert_eq!(claim["created"], "2026-11-20T14:03:00Z");
        assert_eq!(claim["status"], "active");
        assert_eq!(claim["use"], "preauthorization");
        assert_eq!(claim["priority"]["coding"][0]["code"], "normal");
        assert_eq!(claim["insurance"][0]["focal"], true);
        assert_eq!(
            claim["careTeam"][0]["extension"][0]["url"],
            EXT_CARE_TEAM_CLAIM_SCOPE
        );
        assert_eq!(claim["careTeam"][0]["provider"], claim["provider"]);
        // Diagnoses dotted, primary first and typed principal.
        assert_eq!(
            claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0],
            json!({"system": ICD10CM_SYSTEM, "code": "H02.822"})
        );
        assert_eq!(
            claim["diagnosis"][0]["type"][0]["coding"][0]["code"],
            "principal"
        );
        assert!(claim["diagnosis"][1].get("type").is_none());
        let item = &claim["item"][0];
        assert_eq!(item["sequence"], 1);
        assert_eq!(item["productOrService"]["coding"][0]["system"], CPT_SYSTEM);
        assert_eq!(item["modifier"][0]["coding"][0]["code"], "E4");
        assert_eq!(item["servicedDate"], "2026-12-10");
        assert_eq!(item["locationCodeableConcept"]["coding"][0]["code"], "11");
        assert_eq!(item["quantity"]["value"], 1);
        assert_eq!(item["diagnosisSequence"], json!([1, 2]));
        let info = claim["supportingInfo"].as_array().expect("info");
        let all: Vec<u64> = info.iter().filter_map(|i| i["sequence"].as_u64()).collect();
        assert_eq!(item["informationSequence"], json!(all));
        let urls: Vec<&str> = item["extension"]
            .as_array()
            .expect("extensions")
            .iter()
            .filter_map(|e| e["url"].as_str())
            .collect();
        assert_eq!(
            urls,
            [EXT_SERVICE_ITEM_REQUEST_TYPE, EXT_CERTIFICATION_TYPE]
        );
        // The note travels inline, base64.
        let note = bundle["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["resource"]["type"]["coding"][0]["code"] == LOINC_PROGRESS_NOTE)
            .expect("note entry");
        let data = note["resource"]["content"][0]["attachment"]["data"]
            .as_str()
            .expect("data");
        let text = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64");
        assert!(String::from_utf8(text)
            .expect("utf-8")
            .starts_with("Two 2 mm milia"));
        // Coverage: member id, relationship in both code systems, group.
        let coverage = bundle["entry"][2]["resource"].clone();
        assert_eq!(coverage["resourceType"], "Coverage");
        assert_eq!(coverage["subscriberId"], "ACM123456789");
        assert_eq!(coverage["relationship"]["coding"][1]["code"], "18");
        assert_eq!(coverage["class"][0]["value"], "GRP-001");
    }

    #[test]
    fn an_expedited_request_is_stat_and_a_hcpcs_line_carries_the_hcpcs_system() {
        let mut v = base();
        v["urgency"] = json!("expedited");
        v["service"]["procedures"] = json!([
            {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
            {"code": "G0127", "system": "HCPCS", "units": 2}]);
        let case = decode_value(&v);
        let bundle = request_bundle(&case, "req-2", SUBMITTER).to_value();
        let claim = claim_of(&bundle);
        assert_eq!(claim["priority"]["coding"][0]["code"], "stat");
        assert_eq!(claim["item"][1]["sequence"], 2);
        assert_eq!(
            claim["item"][1]["productOrService"]["coding"][0]["system"],
            HCPCS_SYSTEM
        );
        assert!(claim["item"][1].get("modifier").is_none());
        assert_eq!(
            review_from_bundle(&bundle),
            Ok(ReviewCase::from_case(&case))
        );
    }

    #[test]
    fn an_appeal_carries_the_letter_and_the_appeal_messages() {
        let (_, case, rid) = examples()
            .into_iter()
            .find(|(n, _, _)| n.starts_with("08-"))
            .expect("example 08");
        let bundle = request_bundle(&case, &rid, SUBMITTER).to_value();
        assert_eq!(
            supporting_messages(&bundle),
            [
                "Documented indications: pain; restricts-vision",
                "Prior treatment: topical adapalene 0.1% from 2026-06-02 to 2026-08-31: failed",
                "Prior treatment: warm compresses and lid hygiene from 2026-06-02 to 2026-10-15: failed",
                "Appeal of PA-40718263 denied 2026-11-06: conservative treatment not documented",
                "Original request: 2d7a9e4c-8b1f-4e36-b5c2-9f0d3a6e1c67",
            ]
        );
        let entries = bundle["entry"].as_array().expect("entries");
        let letter = entries
            .iter()
            .find(|e| e["fullUrl"] == full_url(&rid, "letter"))
            .expect("letter entry");
        assert_eq!(
            letter["resource"]["content"][0]["attachment"]["url"],
            "pm://attachments/LMN-2901"
        );
        let photos = entries
            .iter()
            .filter(|e| e["resource"]["type"]["coding"][0]["code"] == LOINC_PHOTO)
            .count();
        assert_eq!(photos, 2);
        let review = review_from_bundle(&bundle).expect("review");
        assert!(review.appeal && review.letter_of_medical_necessity);
        assert_eq!((review.clinical_notes, review.photos), (2, 2));
    }

    #[test]
    fn a_submission_that_has_a_letter_sends_it_too() {
        let mut v = base();
        v["documentation"]["letter_of_medical_necessity"] = json!(
            {"uri": "pm://attachments/LMN-9", "signed_by_npi": "1234567893", "signed_on": "2026-11-19"});
        let case = decode_value(&v);
        let bundle = request_bundle(&case, "req-8", SUBMITTER).to_value();
        assert_well_formed(&bundle, "submission with a letter");
        let review = review_from_bundle(&bundle).expect("review");
        assert!(review.letter_of_medical_necessity && !review.appeal);
        assert_eq!(review, ReviewCase::from_case(&case));
    }

    #[test]
    fn repeated_note_ids_still_get_distinct_full_urls() {
        let mut v = base();
        let note = v["documentation"]["clinical_notes"][0].clone();
        v["documentation"]["clinical_notes"] = json!([note.clone(), note]);
        let case = decode_value(&v);
        let bundle = request_bundle(&case, "req-3", SUBMITTER).to_value();
        assert_well_formed(&bundle, "repeated note ids");
        assert_eq!(
            review_from_bundle(&bundle).expect("review").clinical_notes,
            2
        );
    }

    #[test]
    fn an_ongoing_treatment_and_no_indications_are_written_plainly() {
        let mut v = base();
        v["documentation"]["prior_treatments"][0]["to"] = json!(null);
        v["documentation"]["prior_treatments"][0]["result"] = json!("improved");
        v["documentation"]["indications"] = json!([]);
        let case = decode_value(&v);
        let bundle = request_bundle(&case, "req-4", SUBMITTER).to_value();
        assert_eq!(
            supporting_messages(&bundle),
            ["Prior treatment: topical tretinoin 0.025% from 2026-08-01 to ongoing: improved"]
        );
        let review = review_from_bundle(&bundle).expect("review");
        assert_eq!(review, ReviewCase::from_case(&case));
        assert_eq!(review.prior_treatments, [false]);
    }

    #[test]
    fn the_inquiry_names_the_payer_reference_on_every_item() {
        let mut v = base();
        v["service"]["procedures"] = json!([
            {"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1},
            {"code": "10040", "system": "CPT", "units": 1}]);
        let case = decode_value(&v);
        let bundle = inquiry_bundle(&case, "req-5", SUBMITTER, "PA-12345678", 3).to_value();
        let claim = claim_of(&bundle);
        assert_eq!(claim["identifier"][0]["value"], "req-5-inq-3");
        assert_eq!(bundle["identifier"]["value"], "req-5-inq-3");
        assert_eq!(claim["meta"]["profile"][0], CLAIM_INQUIRY_PROFILE);
        for item in claim["item"].as_array().expect("items") {
            let refs: Vec<&Value> = item["extension"]
                .as_array()
                .expect("extensions")
                .iter()
                .filter(|e| e["url"] == EXT_ADMINISTRATION_REFERENCE_NUMBER)
                .collect();
            assert_eq!(refs.len(), 1);
            assert_eq!(refs[0]["valueString"], "PA-12345678");
        }
        // Same patient resource, same GUID as in the original request.
        let request = request_bundle(&case, "req-5", SUBMITTER).to_value();
        assert_eq!(claim["patient"], claim_of(&request)["patient"]);
        assert_ne!(
            bundle["entry"][0]["fullUrl"],
            request["entry"][0]["fullUrl"]
        );
        // The payer simulator answers an inquiry like a request.
        let review = review_from_bundle(&bundle).expect("review");
        assert_eq!(review.procedures.len(), 2);
    }

    #[test]
    fn the_research_approved_example_is_certified_with_its_number_and_period() {
        let r = parse_response(&fixture(APPROVED)).expect("parses");
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].sequence, 1);
        assert_eq!(r.items[0].action, ReviewAction::Certified);
        assert_eq!(
            r.items[0].approved_units, 0,
            "the example states no quantity"
        );
        assert_eq!(r.authorization_number.as_deref(), Some("AUTH0001"));
        assert_eq!(r.reference.as_deref(), Some("AUTH0001"));
        assert_eq!(r.valid_from, NaiveDate::from_ymd_opt(2026, 3, 2));
        assert_eq!(r.valid_to, NaiveDate::from_ymd_opt(2026, 6, 30));
        assert_eq!(
            r.decided_on,
            NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
        );
        assert!(r.reasons.is_empty());
        assert_eq!(r.overall(), Overall::Certified);
    }

    #[test]
    fn the_research_denied_example_is_not_certified_with_its_reason() {
        let r = parse_response(&fixture(DENIED)).expect("parses");
        assert_eq!(r.items[0].action, ReviewAction::NotCertified);
        let reason = &r.items[0].reasons[0];
        assert_eq!(reason.code, "REPLACE-WITH-886-CODE");
        assert_eq!(reason.system.as_deref(), Some(X12_REASON_SYSTEM));
        assert!(reason.text.starts_with("Not certified: policy MED-123"));
        assert_eq!(
            r.items[0].reasons.len(),
            1,
            "the linked note is not repeated"
        );
        assert!(r.reasons.is_empty(), "the note belongs to the item");
        assert_eq!(r.authorization_number, None);
        assert_eq!(r.overall(), Overall::NotCertified);
    }

    #[test]
    fn the_research_pended_example_is_pended_with_its_reference() {
        let r = parse_response(&fixture(PENDED)).expect("parses");
        assert_eq!(r.items[0].action, ReviewAction::Pended);
        assert_eq!(r.reference.as_deref(), Some("PEND0001"));
        assert_eq!(r.authorization_number, None);
        assert_eq!(r.overall(), Overall::Pended);
    }

    #[test]
    fn the_claim_response_need_not_be_the_first_entry() {
        let mut b = fixture(APPROVED);
        let entries = b["entry"].as_array_mut().expect("entries");
        entries.rotate_left(1);
        let r = parse_response(&b).expect("parses");
        assert_eq!(r.items[0].action, ReviewAction::Certified);
    }

    #[test]
    fn the_research_request_example_reads_as_a_review_case() {
        let review = review_from_bundle(&fixture(REQUEST)).expect("reads");
        assert_eq!(review.member_id, "12345678901");
        assert_eq!(
            review.requested_on,
            NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
        );
        assert_eq!(review.procedures.len(), 1);
        assert_eq!(review.procedures[0].code.as_str(), "27447");
        assert_eq!(review.clinical_notes, 1);
        assert!(!review.appeal);
    }

    #[test]
    fn an_older_payer_s_code_sub_extension_is_accepted() {
        let mut b = fixture(PENDED);
        b["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"][0]
            ["url"] = json!("code");
        let r = parse_response(&b).expect("parses");
        assert_eq!(r.items[0].action, ReviewAction::Pended);
    }

    #[test]
    fn a_parameters_wrapper_is_unwrapped_under_either_name() {
        for name in ["return", "responseBundle"] {
            let p = json!({"resourceType": "Parameters",
                "parameter": [{"name": name, "resource": fixture(APPROVED)}]});
            let r = parse_response(&p).expect(name);
            assert_eq!(r.items[0].action, ReviewAction::Certified, "{name}");
        }
        let oo = json!({"resourceType": "Parameters",
            "parameter": [{"name": "return", "resource": operation_outcome("not-found", "x")}]});
        assert!(matches!(
            parse_response(&oo),
            Err(ResponseError::OperationOutcome(_))
        ));
        let empty = json!({"resourceType": "Parameters", "parameter": [{"name": "other"}]});
        assert!(matches!(
            parse_response(&empty),
            Err(ResponseError::Malformed(_))
        ));
        let nested = json!({"resourceType": "Parameters",
            "parameter": [{"name": "return", "resource": {"resourceType": "Parameters",
                "parameter": [{"name": "return", "resource": fixture(APPROVED)}]}}]});
        assert!(matches!(
            parse_response(&nested),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn an_operation_outcome_gives_codes_and_places_but_never_its_free_text() {
        let oo = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid",
             "details": {"coding": [{"code": "MSG_BAD_NAME"}], "text": "Name DOE, JANE is invalid"},
             "diagnostics": "Patient DOE, JANE born 1979-04-02 not found",
             "expression": ["Bundle.entry[1].resource.name"]},
            {"severity": "warning", "code": "informational"}]});
        let Err(ResponseError::OperationOutcome(text)) = parse_response(&oo) else {
            panic!("expected an OperationOutcome error");
        };
        assert_eq!(
            text,
            "error invalid [MSG_BAD_NAME] at Bundle.entry[1].resource.name; warning informational"
        );
        assert!(!text.contains("DOE") && !text.contains("1979"));
        let Err(e) = parse_response(&operation_outcome("invalid", "DOE, JANE")) else {
            panic!("expected an error");
        };
        assert!(!e.to_string().contains("DOE"), "{e}");
        // An OperationOutcome inside a bundle with no ClaimResponse.
        let b = json!({"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": "urn:uuid:1", "resource": operation_outcome("processing", "")}]});
        assert_eq!(
            parse_response(&b),
            Err(ResponseError::OperationOutcome(
                "error processing".to_owned()
            ))
        );
    }

    #[test]
    fn business_errors_come_back_as_reasons_with_codes_only_in_the_message() {
        let mut b = fixture(DENIED);
        let cr = &mut b["entry"][0]["resource"];
        cr["outcome"] = json!("error");
        cr["error"] = json!([{
            "extension": [{"url": EXT_ERROR_PATH, "valueString": "Bundle.entry[1].resource.identifier"}],
            "code": {"coding": [{"system": "https://codesystem.x12.org/005010/901",
                                 "code": "75", "display": "Subscriber/Insured Not Found"}]}}]);
        let Err(ResponseError::BusinessErrors(reasons)) = parse_response(&b) else {
            panic!("expected business errors");
        };
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].code, "75");
        assert_eq!(
            reasons[0].text,
            "Subscriber/Insured Not Found (at Bundle.entry[1].resource.identifier)"
        );
        let message = ResponseError::BusinessErrors(reasons).to_string();
        assert_eq!(message, "payer rejected the request: 75");
    }

    #[test]
    fn malformed_responses_are_errors_never_panics() {
        let mut no_action = fixture(APPROVED);
        no_action["entry"][0]["resource"]["item"][0]["adjudication"][0]
            .as_object_mut()
            .expect("adjudication")
            .remove("extension");
        let mut unknown_action = fixture(APPROVED);
        unknown_action["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]
            ["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = json!("ZZ");
        let mut no_sequence = fixture(APPROVED);
        no_sequence["entry"][0]["resource"]["item"][0]
            .as_object_mut()
            .expect("item")
            .remove("itemSequence");
        let mut no_items = fixture(APPROVED);
        no_items["entry"][0]["resource"]
            .as_object_mut()
            .expect("cr")
            .remove("item");
        let mut no_dates = fixture(APPROVED);
        no_dates["entry"][0]["resource"]
            .as_object_mut()
            .expect("cr")
            .remove("created");
        no_dates
            .as_object_mut()
            .expect("bundle")
            .remove("timestamp");
        let mut fractional = fixture(APPROVED);
        fractional["entry"][0]["resource"]["item"][0]["adjudication"][0]["value"] = json!(1.5);
        let mut twice = fixture(APPROVED);
        let item = twice["entry"][0]["resource"]["item"][0].clone();
        twice["entry"][0]["resource"]["item"] = json!([item.clone(), item]);
        let cases = [
            ("not an object", json!([1, 2])),
            ("a string", json!("Bundle")),
            ("null", Value::Null),
            ("no resourceType", json!({})),
            (
                "another resource",
                json!({"resourceType": "Patient", "name": [{"family": "DOE"}]}),
            ),
            (
                "no ClaimResponse",
                json!({"resourceType": "Bundle", "entry": []}),
            ),
            (
                "entries not an array",
                json!({"resourceType": "Bundle", "entry": {"a": 1}}),
            ),
            ("no review action", no_action),
            ("unknown review action", unknown_action),
            ("no itemSequence", no_sequence),
            ("no items", no_items),
            ("no dates", no_dates),
            ("fractional units", fractional),
            ("repeated itemSequence", twice),
        ];
        for (what, body) in cases {
            match parse_response(&body) {
                Err(ResponseError::Malformed(m)) => {
                    assert!(!m.contains("DOE"), "{what}: {m}");
                }
                other => panic!("{what}: expected Malformed, got {other:?}"),
            }
        }
    }

    /// Removes or retypes every element of the example responses in turn: any result is fine,
    /// a panic is not.
    #[test]
    fn any_damage_to_a_response_gives_a_result_not_a_panic() {
        fn paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        here.push(k.clone());
                        out.push(here.clone());
                        paths(x, here, out);
                        here.pop();
                    }
                }
                Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        here.push(i.to_string());
                        out.push(here.clone());
                        paths(x, here, out);
                        here.pop();
                    }
                }
                _ => {}
            }
        }
        fn at<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
            path.iter().try_fold(v, |v, key| match v {
                Value::Object(m) => m.get_mut(key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            })
        }
        for text in [APPROVED, DENIED, PENDED] {
            let original = fixture(text);
            let mut all = Vec::new();
            paths(&original, &mut Vec::new(), &mut all);
            for path in all {
                for replacement in [Value::Null, json!("x"), json!(-1), json!([]), json!({})] {
                    let mut damaged = original.clone();
                    if let Some(slot) = at(&mut damaged, &path) {
                        *slot = replacement;
                    }
                    let _ = parse_response(&damaged);
                    let _ = review_from_bundle(&damaged);
                }
            }
        }
    }

    #[test]
    fn a_request_without_what_the_payer_needs_is_refused_by_name() {
        let case = decode_value(&base());
        let good = request_bundle(&case, "req-6", SUBMITTER).to_value();

        assert_eq!(
            review_from_bundle(&json!({"resourceType": "Bundle", "entry": []})),
            Err("the bundle holds no Claim".to_owned())
        );
        assert!(review_from_bundle(&json!([])).is_err());

        let mut no_member = good.clone();
        for e in no_member["entry"].as_array_mut().expect("entries") {
            if let Some(r) = e["resource"].as_object_mut() {
                r.remove("identifier");
            }
        }
        let err = review_from_bundle(&no_member).expect_err("no member id");
        assert!(err.contains("member id"), "{err}");
        assert!(!err.contains("ACM123456789"), "{err}");

        let mut no_items = good.clone();
        no_items["entry"][0]["resource"]
            .as_object_mut()
            .expect("claim")
            .remove("item");
        assert_eq!(
            review_from_bundle(&no_items),
            Err("the Claim has no items".to_owned())
        );

        let mut dangling = good;
        dangling["entry"]
            .as_array_mut()
            .expect("entries")
            .retain(|e| e["resource"]["resourceType"] != "DocumentReference");
        let err = review_from_bundle(&dangling).expect_err("dangling reference");
        assert!(err.contains("supportingInfo 1"), "{err}");
    }

    #[test]
    fn the_response_echoes_the_request_identifiers_and_parties() {
        let codes = CodeTable::embedded().expect("codes");
        let policies = Policies::load(&codes, None).expect("policies");
        let policy = policies.get("default").expect("policy");
        let case = decode_value(&appeal_base());
        let request = request_bundle(&case, "req-7", SUBMITTER).to_value();
        let review = review_from_bundle(&request).expect("review");
        let resp = decide_review(&review, &policy, &codes, "req-7", Operation::Appeal, None)
            .expect("decision");
        let bundle = response_bundle(&request, &resp);
        assert_eq!(bundle["identifier"], request["identifier"]);
        let cr = claim_of(&bundle);
        assert_eq!(cr["resourceType"], "ClaimResponse");
        assert_eq!(
            cr["request"]["identifier"],
            claim_of(&request)["identifier"][0]
        );
        assert_eq!(cr["patient"], claim_of(&request)["patient"]);
        assert_eq!(cr["requestor"], claim_of(&request)["provider"]);
        assert_eq!(cr["outcome"], "complete");
        assert_eq!(bundle["entry"].as_array().expect("entries").len(), 4);
        let review_action = &cr["item"][0]["adjudication"][0]["extension"][0];
        assert_eq!(review_action["url"], EXT_REVIEW_ACTION);
        assert_eq!(
            review_action["extension"][0]["valueCodeableConcept"]["coding"][0]["system"],
            X12_306_SYSTEM
        );
        assert_eq!(
            serde_json::to_vec(&bundle).expect("a"),
            serde_json::to_vec(&response_bundle(&request, &resp)).expect("b")
        );
    }
}
