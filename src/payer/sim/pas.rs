//! The payer side of PAS, for the payer simulator: reading back what a request bundle says
//! ([`review_from_bundle`]) and writing the response bundle a payer sends for a decision.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::{ReviewCase, ReviewLine};
use crate::case::{result_means_failure, Indication, Reason};
use crate::codes::{ProcedureCode, ProcedureSystem};
use crate::payer::pas::json::{array_of, codings, date_of, positive_u32, str_of, Scalar};
use crate::payer::pas::model::*;
use crate::payer::{AuthorizedItem, ItemDecision, PayerResponse, ReviewAction};

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

/// A Claim that cancels an earlier request: X12 1322 certification type `3` (Cancel) on the
/// Claim, as a PAS Claim Update for a cancellation carries it.
fn cancels(claim: &Value) -> bool {
    array_of(claim, "extension").iter().any(|e| {
        str_of(e, "url").is_some_and(|u| u.ends_with("extension-certificationType"))
            && e.get("valueCodeableConcept")
                .map(|c| array_of(c, "coding"))
                .is_some_and(|codings| codings.iter().any(|c| str_of(c, "code") == Some("3")))
    })
}

/// Reads back what [`request_bundle`] wrote: the facts a payer's reviewers decide on.
///
/// Every DocumentReference attachment that carries `data` must carry a `size` and a `hash` that
/// match it (`sim/pas/attachment.rs`); a request whose inline document does not check out is
/// refused like any request the payer cannot read, naming the supportingInfo (1 for the first)
/// and the attachment. `photos_with_data` counts the photos that arrived as data that checks out.
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
        cancel: cancels(claim),
        member_id,
        requested_on,
        procedures,
        indications: Vec::new(),
        clinical_notes: 0,
        photos: 0,
        photos_with_data: 0,
        prior_treatments: Vec::new(),
        letter_of_medical_necessity: false,
    };
    // The DocumentReferences checked through the supportingInfo that points to them.
    let mut checked = BTreeSet::new();
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
                let loinc = loinc_of(doc);
                let with_data = verified_data(doc).map_err(|flaw| {
                    format!(
                        "supportingInfo {} ({}): {flaw}",
                        index + 1,
                        document_kind(loinc)
                    )
                })?;
                checked.extend(
                    info.get("valueReference")
                        .and_then(|r| str_of(r, "reference")),
                );
                match loinc {
                    Some(LOINC_PROGRESS_NOTE) => review.clinical_notes += 1,
                    Some(LOINC_PHOTO) => {
                        review.photos += 1;
                        if with_data {
                            review.photos_with_data += 1;
                        }
                    }
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
    // Inline documents the Claim does not point to are held to the same rule.
    for (index, entry) in array_of(bundle, "entry").iter().enumerate() {
        let url = str_of(entry, "fullUrl").unwrap_or_default();
        if let Some(doc) = entry.get("resource").filter(|_| !checked.contains(url)) {
            verified_data(doc).map_err(|flaw| format!("entry {} (document): {flaw}", index + 1))?;
        }
    }
    Ok(review)
}

/// Whether a DocumentReference carries inline data that checks out (`sim/pas/attachment.rs`);
/// the flaw when it does not. Other resources carry no attachment to check.
fn verified_data(resource: &Value) -> Result<bool, String> {
    if str_of(resource, "resourceType") == Some("DocumentReference") {
        attachment::verify_document(resource)
    } else {
        Ok(false)
    }
}

/// A DocumentReference's LOINC type code: what the reader goes by (note, photo, letter).
fn loinc_of(doc: &Value) -> Option<&str> {
    codings(doc.get("type"))
        .iter()
        .filter(|c| str_of(c, "system") == Some(LOINC_SYSTEM))
        .find_map(|c| str_of(c, "code"))
}

/// Every DocumentReference of a bundle, in entry order: its kind as the reader classifies it
/// (`photo`, `letter`, `note`, else `other`) and its first attachment. For the simulator's
/// record of what arrived.
pub(crate) fn documents_of(bundle: &Value) -> Vec<(&'static str, Option<&Value>)> {
    array_of(bundle, "entry")
        .iter()
        .filter_map(|e| e.get("resource"))
        .filter(|r| str_of(r, "resourceType") == Some("DocumentReference"))
        .map(|doc| {
            let kind = match loinc_of(doc) {
                Some(LOINC_PROGRESS_NOTE) => "note",
                Some(LOINC_PHOTO) => "photo",
                Some(LOINC_LETTER) => "letter",
                _ => "other",
            };
            let attachment = array_of(doc, "content")
                .iter()
                .find_map(|c| c.get("attachment"));
            (kind, attachment)
        })
        .collect()
}

/// What a DocumentReference holds, by its LOINC type, for messages.
fn document_kind(loinc: Option<&str>) -> &'static str {
    match loinc {
        Some(LOINC_PROGRESS_NOTE) => "clinical note",
        Some(LOINC_PHOTO) => "photo",
        Some(LOINC_LETTER) => "letter of medical necessity",
        _ => "document",
    }
}

/// What a response echoes of its request.
struct RequestEcho<'a> {
    bundle_identifier: Option<PlainIdentifier<'a>>,
    claim_identifiers: Vec<PlainIdentifier<'a>>,
    claim_type: Option<CodeableConcept<'a>>,
    patient: Option<&'a str>,
    insurer: Option<&'a str>,
    requestor: Option<&'a str>,
    timestamp: Option<&'a str>,
    inquiry: bool,
    entries: Vec<(&'a str, &'a Value)>,
}

/// Reads a datatype of the request through the model (leniently: it cannot fail).
fn typed<'a, T: Deserialize<'a>>(v: Option<&'a Value>) -> Option<T> {
    v.and_then(|v| T::deserialize(v).ok())
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
                    .and_then(|e| Some((*url, e.get("resource")?)))
            })
            .collect();
        let inquiry = claim
            .and_then(|c| c.get("meta"))
            .map(|m| array_of(m, "profile"))
            .is_some_and(|p| p.iter().any(|u| u.as_str() == Some(CLAIM_INQUIRY_PROFILE)));
        Self {
            bundle_identifier: typed(request.get("identifier")),
            claim_identifiers: claim
                .map(|c| array_of(c, "identifier"))
                .unwrap_or_default()
                .iter()
                .filter_map(|i| typed(Some(i)))
                .collect(),
            claim_type: typed(claim.and_then(|c| c.get("type"))),
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
    fn claim_response(&self, created: &'a str, outcome: &'a str) -> ClaimResponse<'a> {
        let party = |url: Option<&'a str>| {
            url.map(|u| PartyReference {
                reference: Some(u),
                identifier: None,
            })
        };
        ClaimResponse {
            meta: Some(meta(CLAIM_RESPONSE_PROFILE)),
            // Payers echo the request's identifier: the TRN.
            identifier: self.claim_identifiers.clone(),
            status: Some("active"),
            kind: Some(self.claim_type.clone().unwrap_or_else(|| {
                CodeableConcept::of(Coding::new(CLAIM_TYPE_SYSTEM, "professional", None))
            })),
            purpose: Some("preauthorization"),
            patient: party(self.patient),
            created: Some(created),
            insurer: party(self.insurer),
            requestor: party(self.requestor),
            request: self.claim_identifiers.first().map(|id| PartyReference {
                reference: None,
                identifier: Some(*id),
            }),
            outcome: Some(outcome),
            ..ClaimResponse::default()
        }
    }

    fn bundle(&self, timestamp: &'a str, claim_response: ClaimResponse<'a>) -> Value {
        self.bundle_with(timestamp, claim_response, Vec::new())
    }

    /// The response bundle: the ClaimResponse, the `extra` entries it points to, the echoes.
    fn bundle_with(
        &self,
        timestamp: &'a str,
        claim_response: ClaimResponse<'a>,
        extra: Vec<ResponseEntry<'a>>,
    ) -> Value {
        let id_value = self
            .claim_identifiers
            .first()
            .and_then(|i| i.value)
            .unwrap_or_default();
        let mut entry = vec![ResponseEntry {
            full_url: Some(full_url(id_value, "claimresponse")),
            resource: Some(AnyResource::ClaimResponse(Box::new(claim_response))),
            ..ResponseEntry::default()
        }];
        entry.extend(extra);
        entry.extend(self.entries.iter().map(|(url, resource)| ResponseEntry {
            full_url: Some((*url).to_owned()),
            resource: Some(AnyResource::Echo(resource)),
            ..ResponseEntry::default()
        }));
        let profile_url = if self.inquiry {
            INQUIRY_RESPONSE_BUNDLE_PROFILE
        } else {
            RESPONSE_BUNDLE_PROFILE
        };
        let bundle = AnyResource::Bundle(Box::new(ResponseBundle {
            meta: Some(meta(profile_url)),
            identifier: self.bundle_identifier,
            kind: Some("collection"),
            timestamp: Some(timestamp),
            entry,
        }));
        serde_json::to_value(bundle).unwrap_or_default()
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

/// A reason as a coding: its code, system and (when there is one) text as the display.
fn reason_concept(r: &Reason) -> CodeableConcept<'_> {
    CodeableConcept::of(Coding {
        system: r.system.as_deref(),
        code: Some(&r.code),
        display: Some(r.text.as_str()).filter(|t| !t.is_empty()),
    })
}

/// The reviewAction extension: HCR01 action, HCR02 number, HCR03 reasons.
fn review_action_extension<'a>(
    action: ReviewAction,
    number: Option<&'a str>,
    reasons: &'a [Reason],
) -> ExtensionTree<'a> {
    let mut parts = vec![ExtensionTree::concept(
        EXT_REVIEW_ACTION_CODE,
        CodeableConcept::of(Coding::new(
            X12_306_SYSTEM,
            action.code(),
            Some(review_action_display(action)),
        )),
    )];
    parts.extend(number.map(|n| ExtensionTree::string("number", n)));
    parts.extend(
        reasons
            .iter()
            .map(|r| ExtensionTree::concept("reasonCode", reason_concept(r))),
    );
    ExtensionTree {
        url: Some(EXT_REVIEW_ACTION),
        extension: parts,
        ..ExtensionTree::default()
    }
}

fn submitted_category() -> Option<CodeableConcept<'static>> {
    Some(CodeableConcept::of(Coding::new(
        ADJUDICATION_SYSTEM,
        "submitted",
        None,
    )))
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
    let created = response.decided_on.to_string();
    let timestamp = echo.timestamp(response.decided_on);
    let (valid_from, valid_to) = (
        response.valid_from.map(|d| d.to_string()),
        response.valid_to.map(|d| d.to_string()),
    );
    let mut cr = echo.claim_response(&created, "complete");
    cr.pre_auth_ref = response.authorization_number.as_deref();
    if valid_from.is_some() || valid_to.is_some() {
        cr.pre_auth_period = Some(Period {
            start: valid_from.as_deref(),
            end: valid_to.as_deref(),
        });
    }
    cr.item = response
        .items
        .iter()
        .map(|i| {
            let number = response
                .authorization_number
                .as_deref()
                .filter(|_| i.action.certifies());
            ResponseItem {
                extension: response
                    .reference
                    .as_deref()
                    .map(|r| ExtensionTree::string(EXT_ADMINISTRATION_REFERENCE_NUMBER, r))
                    .into_iter()
                    .collect(),
                item_sequence: Some(Scalar::Unsigned(u64::from(i.sequence))),
                note_number: Vec::new(),
                adjudication: vec![Adjudication {
                    extension: vec![review_action_extension(i.action, number, &i.reasons)],
                    category: submitted_category(),
                    value: Some(Scalar::Unsigned(u64::from(i.approved_units))),
                }],
            }
        })
        .collect();
    if let Some(summary) = response.summary_action() {
        if !response.reasons.is_empty() {
            cr.adjudication = vec![Adjudication {
                extension: vec![review_action_extension(summary, None, &response.reasons)],
                category: submitted_category(),
                value: None,
            }];
        }
    }
    cr.add_item = response
        .items
        .iter()
        .filter_map(|i| Some((i, i.authorized.as_ref()?)))
        .map(|(i, a)| added_item(i, a))
        .collect();
    let id_value = echo
        .claim_identifiers
        .first()
        .and_then(|i| i.value)
        .unwrap_or_default();
    let asked = response
        .information_request
        .as_ref()
        .map_or(&[][..], |i| &i.items[..]);
    let due = response
        .information_request
        .as_ref()
        .and_then(|i| i.due)
        .map(|d| d.to_string());
    let urls: Vec<String> = (1..=asked.len())
        .map(|n| full_url(id_value, &format!("communicationrequest-{n}")))
        .collect();
    cr.communication_request = urls
        .iter()
        .map(|u| PartyReference {
            reference: Some(u.as_str()),
            identifier: None,
        })
        .collect();
    cr.process_note = response
        .reasons
        .iter()
        .filter(|r| !r.text.is_empty())
        .enumerate()
        .map(|(i, r)| ProcessNote {
            number: Some(Scalar::Unsigned(u64::from(seq(i)))),
            kind: Some("display"),
            text: Some(&r.text),
        })
        .collect();
    let extra = urls
        .iter()
        .zip(asked)
        .map(|(url, r)| ResponseEntry {
            full_url: Some(url.clone()),
            resource: Some(AnyResource::CommunicationRequest(Box::new(
                communication_request(r, url, due.as_deref()),
            ))),
            ..ResponseEntry::default()
        })
        .collect();
    echo.bundle_with(&timestamp, cr, extra)
}

/// The `addItem` of a line the payer authorized differently (A6, PAS spec-37): the authorized
/// code, modifiers, quantity and provider, with the line's review action and number.
fn added_item<'a>(item: &'a ItemDecision, a: &'a AuthorizedItem) -> AddItem<'a> {
    let concept = |system: Option<&'a str>, code: &'a str| {
        CodeableConcept::of(Coding {
            system,
            code: Some(code),
            display: None,
        })
    };
    AddItem {
        extension: Vec::new(),
        item_sequence: vec![Scalar::Unsigned(u64::from(item.sequence))],
        provider: a
            .provider_npi
            .as_deref()
            .map(|npi| PartyReference {
                reference: None,
                identifier: Some(PlainIdentifier {
                    system: Some(NPI_SYSTEM),
                    value: Some(npi),
                }),
            })
            .into_iter()
            .collect(),
        product_or_service: a.code.as_deref().map(|c| concept(a.system.as_deref(), c)),
        modifier: a.modifiers.iter().map(|m| concept(None, m)).collect(),
        quantity: a.units.map(|u| AuthorizedQuantity {
            value: Some(Scalar::Unsigned(u64::from(u))),
        }),
        adjudication: vec![Adjudication {
            extension: vec![review_action_extension(
                item.action,
                a.authorization_number.as_deref(),
                &[],
            )],
            category: submitted_category(),
            value: None,
        }],
    }
}

/// The PASCommunicationRequest for one item of the payer's information request at `url`: an X12
/// 755 code as the `category`, any other (LOINC) as `payload.contentString`, due on
/// `occurrenceDateTime`; its fullUrl as its identifier (the attachment control number).
fn communication_request<'a>(
    r: &'a Reason,
    url: &'a str,
    due: Option<&'a str>,
) -> CommunicationRequest<'a> {
    let x12 = r.system.as_deref() == Some(X12_755_SYSTEM);
    CommunicationRequest {
        meta: Some(meta(COMMUNICATION_REQUEST_PROFILE)),
        extension: Vec::new(),
        identifier: vec![PlainIdentifier {
            system: Some("urn:ietf:rfc:3986"),
            value: Some(url),
        }],
        status: Some("active"),
        category: x12.then(|| reason_concept(r)).into_iter().collect(),
        payload: (!x12)
            .then(|| Payload {
                extension: Vec::new(),
                content_string: Some(r.code.as_str()),
                content_codeable_concept: None,
            })
            .into_iter()
            .collect(),
        occurrence_date_time: due,
        occurrence_period: None,
    }
}

/// The PAS response Bundle for a request refused on business grounds (X12 AAA): a ClaimResponse
/// with `outcome = error` and one `error` per reason (X12 901 codes), no items.
pub fn error_response_bundle(request: &Value, decided_on: NaiveDate, errors: &[Reason]) -> Value {
    let echo = RequestEcho::read(request);
    let created = decided_on.to_string();
    let timestamp = echo.timestamp(decided_on);
    let mut cr = echo.claim_response(&created, "error");
    cr.error = errors
        .iter()
        .map(|r| ClaimError {
            extension: Vec::new(),
            code: Some(reason_concept(r)),
        })
        .collect();
    echo.bundle(&timestamp, cr)
}

mod attachment;
#[cfg(test)]
mod bundle_rules;
#[cfg(test)]
mod information_tests;
#[cfg(test)]
mod sent_tests;
#[cfg(test)]
mod tests;
