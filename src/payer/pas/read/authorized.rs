//! What a payer authorized for each line, beyond its review action and units (PAS spec-36,
//! spec-37): the `addItem` that names the line (the authorized code, modifiers, quantity and
//! provider of a modification, A6), the line's `itemAuthorizedDetail` when there is no
//! `addItem`, its `authorizedProvider`, `itemTraceNumber`, `preAuthIssueDate`,
//! `preAuthPeriod` and `authorizationNumber` extensions. Ids, codes, counts and dates only;
//! `requestedServiceDate` (what the provider asked for, already known) and the whole-request
//! `authorizedProvider` are read past. An `addItem` whose `itemSequence` names no requested line
//! (an additional authorized service) has no line to attach to and is not carried. A value that
//! cannot be read (a date that is not one, a quantity that is not whole) is left out, never fatal.

use serde::Deserialize;
use serde_json::Value;

use super::claim_response::{period_of, review_action_of};
use crate::payer::pas::json::{date_of, Scalar};
use crate::payer::pas::model::*;
use crate::payer::{AuthorizedItem, ItemDecision};

/// The longest code or identifier carried (X12 REF and service codes are far shorter).
const MAX_ID_CHARS: usize = 50;

/// A code or identifier fit to carry: short, printable ASCII.
fn id(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_ID_CHARS
                && v.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        })
        .map(str::to_owned)
}

/// Fills `authorized` of each line the payer says more about.
pub(super) fn fill(
    cr: &ClaimResponse<'_>,
    body: &Value,
    bundle: &ResponseBundle<'_>,
    items: &mut [ItemDecision],
) {
    for (decision, item) in items.iter_mut().zip(&cr.item) {
        let sequence = u64::from(decision.sequence);
        let added = cr
            .add_item
            .iter()
            .find(|a| a.item_sequence.iter().any(|s| s.as_u64() == Some(sequence)));
        let mut out = AuthorizedItem::default();
        item_extensions(&item.extension, body, bundle, &mut out);
        match added {
            Some(a) => {
                item_extensions(&a.extension, body, bundle, &mut out);
                if let Some(c) = a.product_or_service.as_ref().and_then(|p| p.coding.first()) {
                    out.code = id(c.code);
                    out.system = id_system(c.system);
                }
                let modifiers: Vec<String> = a
                    .modifier
                    .iter()
                    .filter_map(|m| id(m.coding.first()?.code))
                    .collect();
                if !modifiers.is_empty() {
                    out.modifiers = modifiers;
                }
                out.units = a
                    .quantity
                    .as_ref()
                    .and_then(|q| q.value)
                    .and_then(Scalar::whole_u32)
                    .or(out.units);
                if let Some(npi) = a.provider.iter().find_map(|p| npi_of(p, body, bundle)) {
                    out.provider_npi = Some(npi);
                }
                if out.authorization_number.is_none() {
                    out.authorization_number = review_action_of(&a.adjudication)
                        .and_then(|r| {
                            extensions(&r.extension, "number").find_map(|n| n.value_string)
                        })
                        .and_then(|n| id(Some(n)));
                }
            }
            None => {
                if let Some(detail) = extensions(&item.extension, EXT_ITEM_AUTHORIZED_DETAIL).next()
                {
                    authorized_detail(detail, &mut out);
                }
            }
        }
        if out == AuthorizedItem::default() {
            continue;
        }
        if out.authorization_number.is_none() {
            out.authorization_number = review_action_of(&item.adjudication)
                .and_then(|r| extensions(&r.extension, "number").find_map(|n| n.value_string))
                .and_then(|n| id(Some(n)));
        }
        decision.authorized = Some(out);
    }
}

/// A code system URI fit to carry.
fn id_system(system: Option<&str>) -> Option<String> {
    system
        .filter(|s| s.len() <= 255 && s.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
}

/// The item extensions of a ClaimResponse item or addItem.
fn item_extensions(
    list: &[ExtensionTree<'_>],
    body: &Value,
    bundle: &ResponseBundle<'_>,
    out: &mut AuthorizedItem,
) {
    if let Some(n) = extensions(list, EXT_AUTHORIZATION_NUMBER).find_map(|x| x.value_string) {
        out.authorization_number = id(Some(n));
    }
    if let Some(t) = extensions(list, EXT_ITEM_TRACE_NUMBER)
        .find_map(|x| x.value_identifier.as_ref().and_then(|i| i.value))
    {
        out.trace_number = id(Some(t));
    }
    if let Some(d) = extensions(list, EXT_ITEM_PRE_AUTH_ISSUE_DATE)
        .find_map(|x| x.value_date.or(x.value_date_time))
        .and_then(date_of)
    {
        out.issued_on = Some(d);
    }
    let (from, to) =
        period_of(extensions(list, EXT_ITEM_PRE_AUTH_PERIOD).find_map(|x| x.value_period.as_ref()));
    if from.is_some() || to.is_some() {
        (out.valid_from, out.valid_to) = (from, to);
    }
    if let Some(npi) = extensions(list, EXT_ITEM_AUTHORIZED_PROVIDER).find_map(|p| {
        let r = extensions(&p.extension, "provider").find_map(|x| x.value_reference.as_ref())?;
        npi_of(r, body, bundle)
    }) {
        out.provider_npi = Some(npi);
    }
}

/// `itemAuthorizedDetail`: the authorized code, modifiers and quantity.
fn authorized_detail(detail: &ExtensionTree<'_>, out: &mut AuthorizedItem) {
    let part = |name: &'static str| extensions(&detail.extension, name).next();
    if let Some(c) = part("productOrServiceCode")
        .and_then(|x| x.value_codeable_concept.as_ref())
        .and_then(|c| c.coding.first())
    {
        out.code = id(c.code);
        out.system = id_system(c.system);
    }
    out.modifiers = extensions(&detail.extension, "modifier")
        .filter_map(|x| id(x.value_codeable_concept.as_ref()?.coding.first()?.code))
        .collect();
    out.units = part("quantity")
        .and_then(|x| x.value_quantity.as_ref()?.value)
        .and_then(Scalar::whole_u32);
}

/// The NPI of a referenced provider: on the reference itself (`identifier`), or on the bundle
/// entry it points to (by fullUrl, or a relative `Type/id` a fullUrl ends with).
fn npi_of(r: &PartyReference<'_>, body: &Value, bundle: &ResponseBundle<'_>) -> Option<String> {
    fn npi<'v>(i: &PlainIdentifier<'v>) -> Option<&'v str> {
        (i.system == Some(NPI_SYSTEM)).then_some(i.value).flatten()
    }
    if let Some(v) = r.identifier.as_ref().and_then(npi) {
        return id(Some(v));
    }
    let target = r.reference?;
    let index = bundle.entry.iter().position(|e| {
        e.url.is_some_and(|u| {
            u == target
                || u.strip_suffix(target)
                    .is_some_and(|head| head.ends_with('/'))
        })
    })?;
    let resource = Identified::deserialize(&body["entry"][index]["resource"]).ok()?;
    resource
        .identifier
        .iter()
        .find_map(npi)
        .and_then(|v| id(Some(v)))
}
