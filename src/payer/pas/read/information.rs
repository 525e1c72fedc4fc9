//! A payer's request for more information on a pended answer (PAS `ClaimResponse.
//! communicationRequest` → PASCommunicationRequest, or a PASTask in the bundle) to an
//! [`InformationRequest`]: what is asked, as codes, and by when.
//!
//! What is asked: the CommunicationRequest's `category` (X12 PWK01 report type, 755) and its
//! `payload` (PAS sends a LOINC attachment code as `contentString`; a `contentCodeableConcept`
//! is read too), each with its content modifiers (LOINC); a Task's `input[attachments-needed]`
//! codes. Each becomes a [`Reason`] (code, system, and a short label: the coding's display cut to
//! [`MAX_LABEL_CHARS`], or the worker's own words for codes it knows); a `contentString` that is
//! not a code (free text) is never copied, only counted as "documentation". By when: the
//! earliest of `occurrenceDateTime`, `occurrencePeriod.end` and the Task's
//! `restriction.period.end`.

use serde::Deserialize;
use serde_json::Value;

use crate::case::Reason;
use crate::payer::pas::json::date_of;
use crate::payer::pas::model::*;
use crate::payer::InformationRequest;
use chrono::NaiveDate;

/// The longest label carried from a payer's coding display.
pub(crate) const MAX_LABEL_CHARS: usize = 80;
/// The most items an information request carries.
const MAX_ITEMS: usize = 20;
/// The code of an item asked for in words the worker does not copy.
pub(crate) const UNCODED_REQUEST: &str = "documentation";

/// The information request of a ClaimResponse in `bundle` (`body` is the bundle's JSON), if the
/// payer made one.
pub(super) fn requested(
    cr: &ClaimResponse<'_>,
    body: &Value,
    bundle: &ResponseBundle<'_>,
    decided_on: NaiveDate,
) -> Option<InformationRequest> {
    let resource = |i: usize| &body["entry"][i]["resource"];
    let of_type = |t: &'static str| {
        bundle
            .entry
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.head.as_ref().and_then(|h| h.resource_type) == Some(t))
            .map(|(i, _)| i)
    };
    // The CommunicationRequests the ClaimResponse points to; any in the bundle when none of its
    // references resolves (a payer that forgot the reference, or used a contained one).
    let pointed: Vec<usize> = cr
        .communication_request
        .iter()
        .filter_map(|r| {
            let target = r.reference?;
            bundle.entry.iter().position(|e| {
                e.url.is_some_and(|u| {
                    u == target
                        || u.strip_suffix(target)
                            .is_some_and(|head| head.ends_with('/'))
                })
            })
        })
        .collect();
    let communication: Vec<usize> = if pointed.is_empty() {
        of_type("CommunicationRequest").collect()
    } else {
        pointed
    };
    let mut out = InformationRequest::default();
    let mut dues = Vec::new();
    for i in communication {
        let Ok(cq) = CommunicationRequest::deserialize(resource(i)) else {
            continue;
        };
        if matches!(
            cq.status,
            Some("completed" | "revoked" | "entered-in-error")
        ) {
            continue;
        }
        let before = out.items.len();
        for category in &cq.category {
            out.items.extend(concept_reason(category, X12_755_SYSTEM));
        }
        for payload in &cq.payload {
            match (payload.content_string, &payload.content_codeable_concept) {
                (_, Some(concept)) => out.items.extend(concept_reason(concept, LOINC_SYSTEM)),
                (Some(text), None) => out.items.push(loinc_string(text)),
                (None, None) => {}
            }
            for modifier in extensions(&payload.extension, EXT_CONTENT_MODIFIER) {
                if let Some(c) = &modifier.value_codeable_concept {
                    out.items.extend(concept_reason(c, LOINC_SYSTEM));
                }
            }
        }
        if out.items.len() == before {
            out.items.push(uncoded());
        }
        dues.extend(cq.occurrence_date_time.and_then(date_of));
        dues.extend(
            cq.occurrence_period
                .as_ref()
                .and_then(|p| p.end)
                .and_then(date_of),
        );
    }
    for i in of_type("Task") {
        let Ok(task) = Task::deserialize(resource(i)) else {
            continue;
        };
        if matches!(
            task.status,
            Some("completed" | "cancelled" | "failed" | "rejected" | "entered-in-error")
        ) {
            continue;
        }
        let needed: Vec<Reason> = task
            .input
            .iter()
            .filter(|input| {
                input.kind.as_ref().is_some_and(|k| {
                    k.coding
                        .iter()
                        .any(|c| c.code == Some("attachments-needed"))
                })
            })
            .filter_map(|input| {
                concept_reason(input.value_codeable_concept.as_ref()?, LOINC_SYSTEM)
            })
            .collect();
        if needed.is_empty() {
            continue;
        }
        out.items.extend(needed);
        dues.extend(
            task.restriction
                .as_ref()
                .and_then(|r| r.period.as_ref())
                .and_then(|p| p.end)
                .and_then(date_of),
        );
    }
    if out.items.is_empty() {
        return None;
    }
    let mut seen = Vec::new();
    out.items.retain(|r| {
        let key = (r.code.clone(), r.system.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    out.items.truncate(MAX_ITEMS);
    // A due date before the decision is a payer's mistake, not a deadline already missed.
    out.due = dues.into_iter().filter(|d| *d >= decided_on).min();
    Some(out)
}

/// A code fit to carry: short, printable ASCII, no spaces.
fn code_ok(code: &str) -> bool {
    !code.is_empty() && code.len() <= 20 && code.chars().all(|c| c.is_ascii_graphic())
}

/// A label: the payer's display cut short, control characters dropped.
fn label(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_LABEL_CHARS)
        .collect()
}

/// The worker's own words for the codes it knows.
fn known_label(system: Option<&str>, code: &str) -> Option<&'static str> {
    match (system, code) {
        (Some(LOINC_SYSTEM), LOINC_PHOTO) | (Some(X12_755_SYSTEM), "XP") => Some("photographs"),
        (Some(LOINC_SYSTEM), LOINC_PROGRESS_NOTE) => Some("progress note"),
        (Some(LOINC_SYSTEM), LOINC_LETTER) => Some("letter of medical necessity"),
        _ => None,
    }
}

fn concept_reason(concept: &CodeableConcept<'_>, preferred: &str) -> Option<Reason> {
    let c = concept.coding_in(preferred)?;
    let code = c.code.filter(|c| code_ok(c))?;
    let system = c
        .system
        .filter(|s| s.len() <= 255 && s.chars().all(|c| c.is_ascii_graphic()));
    let text = known_label(system, code)
        .map(str::to_owned)
        .or_else(|| c.display.map(label))
        .unwrap_or_default();
    Some(Reason {
        code: code.to_owned(),
        system: system.map(str::to_owned),
        text,
    })
}

/// A `contentString`: a LOINC code (digits, a dash, a check digit) as PAS binds it, else free
/// text, which is not copied.
fn loinc_string(text: &str) -> Reason {
    let text = text.trim();
    let loinc = text.split_once('-').is_some_and(|(num, check)| {
        !num.is_empty()
            && num.len() <= 7
            && num.chars().all(|c| c.is_ascii_digit())
            && check.len() == 1
            && check.chars().all(|c| c.is_ascii_digit())
    });
    if !loinc {
        return uncoded();
    }
    Reason {
        code: text.to_owned(),
        system: Some(LOINC_SYSTEM.to_owned()),
        text: known_label(Some(LOINC_SYSTEM), text)
            .unwrap_or_default()
            .to_owned(),
    }
}

fn uncoded() -> Reason {
    Reason {
        code: UNCODED_REQUEST.to_owned(),
        system: None,
        text: "documentation asked for in words".to_owned(),
    }
}
