//! Reading a payer's answer: a PAS response bundle (or what a payer sends instead of one) to a
//! [`PayerResponse`], and the response bundle in a payer's notification. Pure
//! functions; error messages name elements and codes, never values from the patient's record.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::json::safe_code;
use super::model::*;
use crate::case::Reason;
use crate::payer::{ItemDecision, PayerResponse, ReviewAction};

mod authorized;
mod claim_response;
mod information;

pub(crate) use claim_response::{NOTE, UNCODED_ERROR};

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
    /// The ClaimResponse carries business errors (X12 AAA reject reasons, `ClaimResponse.error`),
    /// each followed by its follow-up action (X12 889) when the payer gave one.
    #[error("payer rejected the request: {}", codes_of(.0))]
    BusinessErrors(Vec<Reason>),
    /// The body is not a PAS response the worker can read, or it answers another request.
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

/// The Claim the worker sent, which an answer must be for.
///
/// A `ClaimResponse.request` names it by `identifier` (the Claim's identifier value) or by
/// `reference` (the Claim's fullUrl). An identifier value that is the request identifier, the
/// original request's, or one derived from either (`<identifier>-…`, as an inquiry's or an
/// update's own Claim is) names this request; any other identifier names another request, and
/// the answer is refused as malformed. A reference to the fullUrl of the request's Claim names
/// it too; any other reference (a payer's own `Claim/<id>`, a fullUrl of a derived Claim) and a
/// missing `request` prove nothing either way, and the answer is taken as the answer to the
/// call it came back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentClaim<'a> {
    /// The worker's request identifier (the submitted Claim's identifier value).
    pub request_identifier: &'a str,
    /// The request an update, a cancellation or an appeal refers to.
    pub original: Option<&'a str>,
    /// The day the answer arrived: an answer with no decision yet and no date of its own is
    /// dated by it.
    pub on: NaiveDate,
    /// How many service lines were sent (`item.sequence` 1..=lines): an answer that has no
    /// decision yet (an `$inquire` with no result, a queued ClaimResponse without items) pends
    /// each of them.
    pub lines: usize,
}

/// What a `ClaimResponse.request` says about the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Names {
    /// This request.
    Ours,
    /// Another request.
    Other,
    /// Cannot tell (no `request`, or a reference the worker cannot resolve).
    Unknown,
}

impl SentClaim<'_> {
    fn own(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.request_identifier).chain(self.original)
    }

    pub(crate) fn names(&self, request: Option<&PartyReference<'_>>) -> Names {
        let Some(request) = request else {
            return Names::Unknown;
        };
        if let Some(value) = request.identifier.as_ref().and_then(|i| i.value) {
            let derived = |own: &str| {
                value == own
                    || value
                        .strip_prefix(own)
                        .is_some_and(|rest| rest.starts_with('-'))
            };
            return if self.own().any(derived) {
                Names::Ours
            } else {
                Names::Other
            };
        }
        match request.reference {
            Some(r) if self.own().any(|own| r == full_url(own, "claim")) => Names::Ours,
            _ => Names::Unknown,
        }
    }
}

/// Reads a payer's answer without knowing the request it answers (a notification found by its
/// correlation token, or a stored answer): a PAS response Bundle (the ClaimResponse need not be
/// first), a `Parameters` wrapping one or more (`return` or `responseBundle`: the first is
/// read), a bare ClaimResponse, or an OperationOutcome. `ClaimResponse.request` is not checked,
/// and an answer without a decision for any line is malformed.
pub fn parse_response(body: &Value) -> Result<PayerResponse, ResponseError> {
    parse_any(body, None, true)
}

/// Reads a payer's answer to the request `sent`, as [`parse_response`] does, and also:
/// refuses (as malformed) a ClaimResponse whose `request` names another request; takes, of the
/// 0..* bundles of an `$inquire` answer, the one whose ClaimResponse names this request
/// (one that names no request, when it is the only bundle); and reads an answer that has no
/// decision yet as every line pended (A4): an `$inquire` answer with no bundle (no result yet),
/// one whose bundles are all for other requests (with a note saying so), and a ClaimResponse
/// with `outcome = queued` and no items.
pub fn parse_answer(body: &Value, sent: &SentClaim<'_>) -> Result<PayerResponse, ResponseError> {
    parse_any(body, Some(sent), true)
}

/// The code of the note on a pended answer whose inquiry results were all for other requests.
pub(crate) const NO_MATCHING_RESULT: &str = "no-matching-result";

fn parse_any(
    body: &Value,
    sent: Option<&SentClaim<'_>>,
    parameters_allowed: bool,
) -> Result<PayerResponse, ResponseError> {
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
            let results: Vec<&Value> = parameters
                .parameter
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    matches!(p.name, Some("return" | "responseBundle")) && p.resource.is_some()
                })
                .map(|(i, _)| &body["parameter"][i]["resource"])
                .collect();
            inquiry_results(&results, sent)
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
                let cr = read::<ClaimResponse>(resource(i))?;
                check_request(&cr, sent)?;
                let mut answer = claim_response::read(&cr, bundle.timestamp, sent)?;
                answer.information_request =
                    information::requested(&cr, body, &bundle, answer.decided_on);
                authorized::fill(&cr, body, &bundle, &mut answer.items);
                Ok(answer)
            } else if let Some(i) = of_type("OperationOutcome") {
                Err(ResponseError::OperationOutcome(outcome_text(&read(
                    resource(i),
                )?)))
            } else {
                Err(malformed("the bundle holds no ClaimResponse"))
            }
        }
        Some("ClaimResponse") => {
            let cr = read::<ClaimResponse>(body)?;
            check_request(&cr, sent)?;
            let mut answer = claim_response::read(&cr, None, sent)?;
            authorized::fill(&cr, body, &ResponseBundle::default(), &mut answer.items);
            Ok(answer)
        }
        Some(other) => Err(malformed(format!(
            "unexpected resourceType {}",
            safe_code(other)
        ))),
        None => Err(malformed("the body has no resourceType")),
    }
}

/// A ClaimResponse that names another request is no answer to this one.
fn check_request(
    cr: &ClaimResponse<'_>,
    sent: Option<&SentClaim<'_>>,
) -> Result<(), ResponseError> {
    match sent.map(|s| s.names(cr.request.as_ref())) {
        Some(Names::Other) => Err(malformed("the ClaimResponse answers another request")),
        _ => Ok(()),
    }
}

/// The request a result of an `$inquire` answer names: that of its (first) ClaimResponse.
fn names_of(result: &Value, sent: &SentClaim<'_>) -> Names {
    let entries = ResponseBundle::deserialize(result)
        .map(|b| b.entry.len())
        .unwrap_or(0);
    let claim_response = (0..entries)
        .map(|i| &result["entry"][i]["resource"])
        .chain(std::iter::once(result))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("ClaimResponse"));
    match claim_response {
        Some(cr) => match ClaimResponse::deserialize(cr) {
            Ok(cr) => sent.names(cr.request.as_ref()),
            Err(_) => Names::Unknown,
        },
        None => Names::Unknown,
    }
}

/// The results of an `$inquire` answer (0..* bundles). Without the sent request: the first, and
/// none is malformed. With it: the one that names this request, else the only one when it names
/// no request; no result at all, or only results for other requests, pend every line.
fn inquiry_results(
    results: &[&Value],
    sent: Option<&SentClaim<'_>>,
) -> Result<PayerResponse, ResponseError> {
    let Some(sent) = sent else {
        let first = results
            .first()
            .ok_or_else(|| malformed("the Parameters has no return or responseBundle resource"))?;
        return parse_any(first, None, false);
    };
    let names: Vec<Names> = results.iter().map(|r| names_of(r, sent)).collect();
    let chosen = names
        .iter()
        .position(|n| *n == Names::Ours)
        .or_else(|| (results.len() == 1 && names[0] == Names::Unknown).then_some(0));
    if let Some(i) = chosen {
        return parse_any(results[i], Some(sent), false);
    }
    let mut answer = pended(sent)?;
    if !results.is_empty() {
        answer.reasons.push(Reason {
            code: NO_MATCHING_RESULT.to_owned(),
            system: None,
            text: format!(
                "the payer's inquiry answer holds {} result(s), none for this request",
                results.len()
            ),
        });
    }
    Ok(answer)
}

/// An answer with no decision yet: every line sent pended, dated by the day it arrived.
pub(crate) fn pended(sent: &SentClaim<'_>) -> Result<PayerResponse, ResponseError> {
    if sent.lines == 0 {
        return Err(malformed("the answer has no result and no lines were sent"));
    }
    let items = (1..=sent.lines)
        .map(|n| ItemDecision {
            sequence: u32::try_from(n).unwrap_or(u32::MAX),
            action: ReviewAction::Pended,
            approved_units: 0,
            reasons: Vec::new(),
            authorized: None,
        })
        .collect();
    Ok(PayerResponse {
        reference: None,
        items,
        authorization_number: None,
        valid_from: None,
        valid_to: None,
        reasons: Vec::new(),
        decided_on: sent.on,
        information_request: None,
    })
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

#[cfg(test)]
mod tests;
