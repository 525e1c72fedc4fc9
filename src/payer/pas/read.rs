//! Reading a payer's answer: a PAS response bundle (or what a payer sends instead of one) to a
//! [`PayerResponse`], and the response bundle in a payer's notification. Pure
//! functions; error messages name elements and codes, never values from the patient's record.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::json::Scalar;
use super::json::{date_of, safe_code};
use super::model::*;
use crate::case::Reason;
use crate::payer::{ItemDecision, PayerResponse, ReviewAction};

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
}

/// The PAS response bundle a rest-hook notification carries (a `history` Bundle whose entries
/// are the SubscriptionStatus and the full-resource response), or the bundle itself when a
/// response bundle was posted as it is.
pub fn notification_response(notification: &Value) -> Option<&Value> {
    fn entries_of(b: &Value) -> Option<ResponseBundle<'_>> {
        (Head::deserialize(b).ok()?.resource_type == Some("Bundle"))
            .then(|| ResponseBundle::deserialize(b).ok())
            .flatten()
    }
    let holds = |b: &ResponseBundle<'_>, t: &str| {
        b.entry
            .iter()
            .position(|e| e.head.as_ref().and_then(|h| h.resource_type) == Some(t))
    };
    let outer = entries_of(notification)?;
    if holds(&outer, "ClaimResponse").is_some() {
        return Some(notification);
    }
    (0..outer.entry.len())
        .map(|i| &notification["entry"][i]["resource"])
        .find(|r| entries_of(r).is_some_and(|b| holds(&b, "ClaimResponse").is_some()))
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
    let head = read::<Head>(body)?;
    match head.resource_type {
        Some("OperationOutcome") => {
            Err(ResponseError::OperationOutcome(outcome_text(&read(body)?)))
        }
        Some("Parameters") if parameters_allowed => {
            let parameters = read::<Parameters>(body)?;
            let index = parameters
                .parameter
                .iter()
                .position(|p| {
                    matches!(p.name, Some("return" | "responseBundle")) && p.resource.is_some()
                })
                .ok_or_else(|| {
                    malformed("the Parameters has no return or responseBundle resource")
                })?;
            parse_any(&body["parameter"][index]["resource"], false)
        }
        Some("Bundle") => {
            let bundle = read::<ResponseBundle>(body)?;
            let of_type = |t: &str| {
                bundle
                    .entry
                    .iter()
                    .position(|e| e.head.as_ref().and_then(|h| h.resource_type) == Some(t))
            };
            let resource = |i: usize| &body["entry"][i]["resource"];
            if let Some(i) = of_type("ClaimResponse") {
                claim_response(&read(resource(i))?, bundle.timestamp)
            } else if let Some(i) = of_type("OperationOutcome") {
                Err(ResponseError::OperationOutcome(outcome_text(&read(
                    resource(i),
                )?)))
            } else {
                Err(malformed("the bundle holds no ClaimResponse"))
            }
        }
        Some("ClaimResponse") => claim_response(&read(body)?, None),
        Some(other) => Err(malformed(format!(
            "unexpected resourceType {}",
            safe_code(other)
        ))),
        None => Err(malformed("the body has no resourceType")),
    }
}

/// Reads a resource through the model. The model reads leniently and does not fail on an
/// object; were it to, the answer is malformed, and serde's message (which may quote the
/// value) is not kept.
fn read<'a, T: Deserialize<'a>>(v: &'a Value) -> Result<T, ResponseError> {
    T::deserialize(v).map_err(|_| malformed("the body cannot be read as a FHIR resource"))
}

/// Issue severities, codes, detail codes and locations. Diagnostics and detail text are left
/// out: payers echo submitted values in them.
fn outcome_text(oo: &OperationOutcome<'_>) -> String {
    let issues: Vec<String> = oo
        .issue
        .iter()
        .map(|issue| {
            let mut s = format!(
                "{} {}",
                safe_code(issue.severity.unwrap_or("unknown")),
                safe_code(issue.code.unwrap_or("unknown"))
            );
            let details: Vec<String> = issue
                .details
                .iter()
                .flat_map(|d| &d.coding)
                .filter_map(|c| c.code)
                .map(safe_code)
                .collect();
            if !details.is_empty() {
                s.push_str(&format!(" [{}]", details.join(", ")));
            }
            let places: Vec<&str> = issue
                .expression
                .iter()
                .chain(&issue.location)
                .filter_map(|p| p.as_str())
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
fn review_action_of<'x, 'a>(adjudication: &'x [Adjudication<'a>]) -> Option<&'x ExtensionTree<'a>> {
    adjudication
        .iter()
        .find_map(|a| extensions(&a.extension, EXT_REVIEW_ACTION).next())
}

/// The X12 306 code of a reviewAction (full-URL sub-extension, or `code` as older payers send).
fn review_action_code<'a>(review: &ExtensionTree<'a>) -> Option<&'a str> {
    let sub = extensions(&review.extension, EXT_REVIEW_ACTION_CODE)
        .next()
        .or_else(|| extensions(&review.extension, "code").next())?;
    sub.value_codeable_concept
        .as_ref()?
        .coding_in(X12_306_SYSTEM)?
        .code
}

/// One reason per `reasonCode` sub-extension: its X12 886 coding (else its first), text from
/// the display or, failing that, from `fallback_text`.
fn reason_codes(review: &ExtensionTree<'_>, fallback_text: &str) -> Vec<Reason> {
    extensions(&review.extension, "reasonCode")
        .filter_map(|rc| {
            let concept = rc.value_codeable_concept.as_ref()?;
            let c = concept.coding_in(X12_REASON_SYSTEM)?;
            let text = c.display.or(concept.text).unwrap_or(fallback_text);
            Some(Reason {
                code: c.code?.to_owned(),
                system: c.system.map(str::to_owned),
                text: text.to_owned(),
            })
        })
        .collect()
}

/// The code of a payer's note that came without a reason code.
pub(crate) const NOTE: &str = "note";
/// The code of a business error that came without one.
pub(crate) const UNCODED_ERROR: &str = "unknown";

fn note_reason(text: &str) -> Reason {
    Reason {
        code: NOTE.to_owned(),
        system: None,
        text: text.to_owned(),
    }
}

fn period_of(p: Option<&Period<'_>>) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let start = p.and_then(|p| p.start).and_then(date_of);
    let end = p.and_then(|p| p.end).and_then(date_of);
    (start, end)
}

fn business_error(e: &ClaimError<'_>) -> Reason {
    let concept = e.code.as_ref();
    let c = concept.and_then(|cc| cc.coding.first());
    let code = c.and_then(|c| c.code).unwrap_or(UNCODED_ERROR);
    let mut text = c
        .and_then(|c| c.display)
        .or_else(|| concept.and_then(|cc| cc.text))
        .unwrap_or_default()
        .to_owned();
    let place = extensions(&e.extension, EXT_ERROR_PATH)
        .chain(extensions(&e.extension, EXT_ERROR_ELEMENT))
        .find_map(|x| x.value_string)
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
        system: c.and_then(|c| c.system).map(str::to_owned),
        text,
    }
}

fn claim_response(
    cr: &ClaimResponse<'_>,
    bundle_timestamp: Option<&str>,
) -> Result<PayerResponse, ResponseError> {
    if !cr.error.is_empty() {
        return Err(ResponseError::BusinessErrors(
            cr.error.iter().map(business_error).collect(),
        ));
    }
    let decided_on = cr
        .created
        .and_then(date_of)
        .or_else(|| bundle_timestamp.and_then(date_of))
        .ok_or_else(|| {
            malformed("the ClaimResponse has no created date and the bundle no timestamp")
        })?;

    let notes: BTreeMap<u64, &str> = cr
        .process_note
        .iter()
        .filter_map(|n| Some((n.number?.as_u64()?, n.text?)))
        .collect();
    let unnumbered_notes: Vec<&str> = cr
        .process_note
        .iter()
        .filter(|n| n.number.and_then(Scalar::as_u64).is_none())
        .filter_map(|n| n.text)
        .collect();

    if cr.item.is_empty() {
        return Err(malformed("the ClaimResponse has no items"));
    }
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut used_notes = BTreeSet::new();
    let mut item_number = None;
    let mut item_reference = None;
    let mut item_period = (None, None);
    for (index, item) in cr.item.iter().enumerate() {
        let sequence = item
            .item_sequence
            .and_then(Scalar::positive_u32)
            .ok_or_else(|| {
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
        let review = review_action_of(&item.adjudication)
            .ok_or_else(|| malformed(format!("item {sequence} has no review action")))?;
        let code = review_action_code(review)
            .ok_or_else(|| malformed(format!("item {sequence} has no review action code")))?;
        let action = ReviewAction::from_code(code).ok_or_else(|| {
            malformed(format!(
                "item {sequence}: review action {} is not an X12 306 code",
                safe_code(code)
            ))
        })?;

        let note_numbers: Vec<u64> = item.note_number.iter().filter_map(|n| n.as_u64()).collect();
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
            item_number = extensions(&review.extension, "number")
                .find_map(|n| n.value_string)
                .map(str::to_owned);
        }
        if item_reference.is_none() {
            item_reference = extensions(&item.extension, EXT_ADMINISTRATION_REFERENCE_NUMBER)
                .find_map(|x| x.value_string)
                .map(str::to_owned);
        }
        if item_period == (None, None) {
            item_period = period_of(
                extensions(&item.extension, EXT_ITEM_PRE_AUTH_PERIOD)
                    .find_map(|x| x.value_period.as_ref()),
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
    let mut reasons = review_action_of(&cr.adjudication)
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

    let pre_auth_ref = cr.pre_auth_ref.map(str::to_owned);
    let authorization_number = pre_auth_ref.clone().or(item_number);
    let payer_identifier = cr
        .identifier
        .iter()
        .filter(|i| {
            !i.system
                .is_some_and(|s| s.starts_with("urn:trnorg:") || s == CORRELATION_SYSTEM)
        })
        .find_map(|i| i.value)
        .map(str::to_owned);
    let claim_reference = extensions(&cr.extension, EXT_ADMINISTRATION_REFERENCE_NUMBER)
        .find_map(|x| x.value_string)
        .map(str::to_owned);
    let reference = item_reference
        .or(claim_reference)
        .or(payer_identifier)
        .or(pre_auth_ref);

    let (mut valid_from, mut valid_to) = period_of(cr.pre_auth_period.as_ref());
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
        information_request: None,
    })
}

/// Authorized units of an item: the quantity of an `addItem` for it (a modification), else the
/// value of its `submitted` adjudication, else 0 (the payer did not say).
fn approved_units(
    cr: &ClaimResponse<'_>,
    item: &ResponseItem<'_>,
    sequence: u32,
) -> Result<u32, ResponseError> {
    let bad = || {
        malformed(format!(
            "item {sequence}: the authorized quantity is not a whole number"
        ))
    };
    let added = cr.add_item.iter().find(|a| {
        a.item_sequence
            .iter()
            .any(|s| s.as_u64() == Some(u64::from(sequence)))
    });
    if let Some(v) = added.and_then(|a| a.quantity.as_ref()?.value) {
        return v.whole_u32().ok_or_else(bad);
    }
    let submitted = item.adjudication.iter().find(|a| {
        a.category
            .iter()
            .flat_map(|c| &c.coding)
            .any(|c| c.code == Some("submitted"))
    });
    match submitted.and_then(|a| a.value) {
        Some(v) => v.whole_u32().ok_or_else(bad),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests;
