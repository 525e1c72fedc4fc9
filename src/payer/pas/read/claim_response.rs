//! A ClaimResponse to a [`PayerResponse`]: the review action of each line, its reasons and notes,
//! the units, the references and the period; business errors with their follow-up actions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::{malformed, pended, ResponseError, SentClaim};
use crate::case::Reason;
use crate::payer::pas::json::{date_of, safe_code, Scalar};
use crate::payer::pas::model::*;
use crate::payer::{ItemDecision, PayerResponse, ReviewAction};

/// The review action extension of an adjudication list, if any.
pub(super) fn review_action_of<'x, 'a>(
    adjudication: &'x [Adjudication<'a>],
) -> Option<&'x ExtensionTree<'a>> {
    adjudication
        .iter()
        .find_map(|a| extensions(&a.extension, EXT_REVIEW_ACTION).next())
}

/// The X12 306 code of a reviewAction (full-URL sub-extension, or `code` as older payers send).
pub(super) fn review_action_code<'a>(review: &ExtensionTree<'a>) -> Option<&'a str> {
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

pub(super) fn period_of(p: Option<&Period<'_>>) -> (Option<NaiveDate>, Option<NaiveDate>) {
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

/// What a payer asks the provider to do about a business error (X12 889, e.g. C: correct and
/// resubmit, N: resubmission not allowed), as a reason after the error's own.
fn followup_action(e: &ClaimError<'_>) -> Option<Reason> {
    let concept = extensions(&e.extension, EXT_ERROR_FOLLOWUP_ACTION)
        .find_map(|x| x.value_codeable_concept.as_ref())?;
    let c = concept.coding_in(X12_889_SYSTEM)?;
    let code = c.code?;
    Some(Reason {
        code: code.to_owned(),
        system: Some(c.system.unwrap_or(X12_889_SYSTEM).to_owned()),
        text: followup_text(code).to_owned(),
    })
}

/// The meaning of an X12 889 follow-up action code (the worker's wording, not the payer's).
fn followup_text(code: &str) -> &'static str {
    match code {
        "C" => "follow-up action: correct and resubmit",
        "N" => "follow-up action: resubmission not allowed",
        "P" => "follow-up action: resubmit the original transaction",
        "R" => "follow-up action: resubmission allowed",
        "S" => "follow-up action: do not resubmit, inquiry initiated to a third party",
        "W" => "follow-up action: wait 30 days and resubmit",
        "X" => "follow-up action: wait 10 days and resubmit",
        "Y" => "follow-up action: do not resubmit, the payer will respond again shortly",
        _ => "follow-up action",
    }
}

/// Reads a ClaimResponse (see [`super::parse_answer`] for what `sent` adds).
///
/// Must-support elements may be absent (PAS conf-7, conf-8): a line without a review action, or
/// whose review action has no code, has no decision of its own; it takes the action the payer
/// gave the whole request (`ClaimResponse.adjudication`), else it is pended (A4), the payer
/// still deciding it. A ClaimResponse without items is read the same way for every line sent,
/// when the payer gave a whole-request action or `outcome` is `queued` or `partial`. Only what
/// cannot be read is malformed: no date at all, a line without `itemSequence` or with one
/// repeated, a review action code that is not X12 306, a quantity that is not whole.
pub(super) fn read(
    cr: &ClaimResponse<'_>,
    bundle_timestamp: Option<&str>,
    sent: Option<&SentClaim<'_>>,
) -> Result<PayerResponse, ResponseError> {
    if !cr.error.is_empty() {
        return Err(ResponseError::BusinessErrors(
            cr.error
                .iter()
                .flat_map(|e| std::iter::once(business_error(e)).chain(followup_action(e)))
                .collect(),
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

    // The action the payer gave the whole request, if any: lines without their own take it.
    let whole_action = match review_action_of(&cr.adjudication).and_then(review_action_code) {
        Some(code) => Some(ReviewAction::from_code(code).ok_or_else(|| {
            malformed(format!(
                "the whole-request review action {} is not an X12 306 code",
                safe_code(code)
            ))
        })?),
        None => None,
    };
    let still_working = matches!(cr.outcome, Some("queued" | "partial"));
    if cr.item.is_empty() {
        let Some(sent) = sent.filter(|_| whole_action.is_some() || still_working) else {
            return Err(malformed("the ClaimResponse has no items"));
        };
        let mut answer = pended(sent)?;
        answer.decided_on = decided_on;
        for item in &mut answer.items {
            item.action = whole_action.unwrap_or(ReviewAction::Pended);
        }
        answer.reasons = review_action_of(&cr.adjudication)
            .map(|r| reason_codes(r, ""))
            .unwrap_or_default();
        answer.reasons.extend(
            notes
                .values()
                .chain(&unnumbered_notes)
                .map(|t| note_reason(t)),
        );
        answer.reference = extensions(&cr.extension, EXT_ADMINISTRATION_REFERENCE_NUMBER)
            .find_map(|x| x.value_string)
            .map(str::to_owned);
        return Ok(answer);
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
        let review = review_action_of(&item.adjudication);
        let action = match review.and_then(review_action_code) {
            Some(code) => ReviewAction::from_code(code).ok_or_else(|| {
                malformed(format!(
                    "item {sequence}: review action {} is not an X12 306 code",
                    safe_code(code)
                ))
            })?,
            None => whole_action.unwrap_or(ReviewAction::Pended),
        };
        let no_review = ExtensionTree::default();
        let review = review.unwrap_or(&no_review);

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
            authorized: None,
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
        .filter(|i| !i.system.is_some_and(|s| s.starts_with("urn:trnorg:")))
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
