//! The PAS requests the worker sends (`Claim/$submit` and `Claim/$inquire` Bundles), as typed
//! `serde` structures written straight to bytes.
//!
//! A request is prepared in two steps: [`request_bundle`], [`inquiry_bundle`] and
//! [`update_bundle`] compute the few strings that are not already in the case (identifiers,
//! timestamps, free-form messages) into a [`PasRequest`]; serializing it lays a tree of borrowed
//! structs over those and over the case, and writes it. No `serde_json::Value` is built on the
//! way, and nothing is copied twice.
//!
//! A submission, an appeal, an update and a cancellation are pure functions of their arguments:
//! every identifier comes from the request identifier (UUID v5, see [`crate::ids`]) and every
//! date from the case event, and fields are written in declaration order, so a resent request is
//! byte-identical. An inquiry is stamped with the time it is assembled.
//!
//! What the case has no data for is left out rather than invented: the diagnoses' recorded date,
//! a unit price, the patient's and the requestor's addresses and contacts, the coverage's type
//! and period.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::model::*;
use crate::case::{CaseEvent, Indication, Kind};
use crate::payer::attachments::Documents;
use crate::payer::OriginalRequest;

pub use super::identity::PayerIdentity;

mod claim;
mod documents;
mod parties;
#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------
// The request: what is computed once, then laid out.

/// The fullUrls of the resources every request of a case shares.
struct Parties {
    patient: Urn,
    subscriber: Urn,
    coverage: Urn,
    insurer: Urn,
    requestor: Urn,
    practitioner: Urn,
    role: Urn,
}

impl Parties {
    fn new(request_identifier: &str) -> Self {
        let urn = |role: &str| Urn::of(request_identifier, role);
        Self {
            patient: urn("patient"),
            subscriber: urn("subscriber"),
            coverage: urn("coverage"),
            insurer: urn("insurer"),
            requestor: urn("requestor"),
            practitioner: urn("practitioner"),
            role: urn("practitioner-role"),
        }
    }
}

/// What a submission adds to an inquiry: documents and free-form messages.
struct Evidence {
    /// fullUrls of the notes, photos and the letter, in that order.
    documents: Vec<Urn>,
    /// The diagnosis codes with the dot, the primary first, and whether each is the primary.
    diagnoses: Vec<(String, bool)>,
    messages: Vec<String>,
}

/// How a Claim Update changes the request it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimChange {
    /// The case's current details replace the earlier request's.
    Update,
    /// The earlier request is withdrawn, every line of it.
    Cancel,
}

/// What the request is: it decides the profiles, the lines' codes and what is repeated.
#[derive(Clone, Copy)]
enum Purpose<'a> {
    /// A submission or an appeal (`case.kind` tells which).
    Submission,
    /// A follow-up of a pended request, naming the payer's reference.
    Inquiry { reference: &'a str },
    /// A Claim Update of an earlier request.
    Change {
        original: OriginalRequest<'a>,
        change: ClaimChange,
    },
}

/// A `$submit` or `$inquire` request, ready to be written. Serialize it (or call
/// [`PasRequest::to_json`]) for the bytes a payer receives.
pub struct PasRequest<'a> {
    case: &'a CaseEvent,
    purpose: Purpose<'a>,
    bundle_profile: &'static str,
    claim_profile: &'static str,
    /// The Claim and Bundle identifier value (the X12 TRN).
    identifier: String,
    trn_system: String,
    created: String,
    claim_url: Urn,
    parties: Parties,
    /// Each line's trace number (X12 2000F TRN): the identifier and the line's sequence.
    item_traces: Vec<String>,
    /// The fullUrls of each line's ServiceRequest (none on an inquiry).
    service_requests: Vec<Urn>,
    /// `Some` for a submission or an update; an inquiry and a cancellation repeat neither
    /// documents nor diagnoses.
    evidence: Option<Evidence>,
    /// The denied request's payer reference, on each line of an appeal.
    appealed: Option<&'a str>,
    /// The photos' and the letter's bytes, sent inline; without them their URIs are sent.
    documents: Option<&'a Documents>,
    identity: Option<&'a PayerIdentity>,
    /// The member id system: the payer's, or the worker's fallback.
    member_system: String,
}

impl<'a> PasRequest<'a> {
    /// Sends the fetched photos and letter inline (`attachment.data`, `size`, `hash`), in the
    /// case's order. Without them, each document goes as its URI.
    pub fn with_documents(mut self, documents: Option<&'a Documents>) -> Self {
        self.documents = documents;
        self
    }

    /// Names the payer as its settings do (insurer name and identifier, member id system, the
    /// X12 transmission identifiers). Without it, the worker's fallbacks are sent.
    pub fn with_identity(mut self, identity: &'a PayerIdentity) -> Self {
        self.member_system = member_system(self.case, Some(identity));
        self.identity = Some(identity);
        self
    }

    /// For an appeal: the denied request it contests, whose payer reference each line carries
    /// (`administrationReferenceNumber`). By default the case's `appeal.payer_reference`.
    pub fn with_appealed(mut self, original: Option<OriginalRequest<'a>>) -> Self {
        if let (Some(o), Purpose::Submission, Kind::Appeal) =
            (original, self.purpose, self.case.kind)
        {
            self.appealed = Some(o.payer_reference);
        }
        self
    }

    /// The request as JSON bytes: what is sent, the same for every resend.
    pub fn to_json(&self) -> Vec<u8> {
        // Sized for the documents' base64 up front: growing by doubling would hold up to twice
        // a large request's bytes, and copy them on every step.
        let documents = self.documents.map_or(0, |d| d.total_bytes());
        let capacity = 16 * 1024 + usize::try_from(documents.div_ceil(3) * 4).unwrap_or(0);
        let mut out = Vec::with_capacity(capacity);
        // Writing these types into a Vec cannot fail: every key is a string and every value a
        // string, number, boolean or sequence of them.
        if serde_json::to_writer(&mut out, self).is_err() {
            out.clear();
        }
        out
    }

    /// The request as a JSON value, for readers of it (the payer simulator, tests).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl fmt::Debug for PasRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids only: the case's patient data stays out of debug output.
        f.debug_struct("PasRequest")
            .field("identifier", &self.identifier)
            .field("case_id", &self.case.case_id)
            .finish_non_exhaustive()
    }
}

impl Serialize for PasRequest<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.bundle().serialize(s)
    }
}

/// A setting's value, when set and not blank.
fn setting(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

fn trn_system(submitter: &str) -> String {
    format!("urn:trnorg:{submitter}")
}

/// The member id system the payer agreed, else the worker's own under the case's payer id.
fn member_system(case: &CaseEvent, identity: Option<&PayerIdentity>) -> String {
    identity
        .and_then(|i| setting(&i.member_id_system))
        .map_or_else(
            || format!("{MEMBER_ID_SYSTEM_PREFIX}{}", case.coverage.payer_id),
            str::to_owned,
        )
}

/// `occurred_at` in RFC 3339, `Z` for UTC, seconds as the sender gave them.
fn created(case: &CaseEvent) -> String {
    case.occurred_at
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The fullUrls of a submission's documents: `note:<id>`, `photo:<id>`, `letter`, with `#2`, `#3`…
/// appended should a role repeat, so every document keeps its own GUID.
fn document_urls(case: &CaseEvent, request_identifier: &str) -> Vec<Urn> {
    let doc = &case.documentation;
    let roles = doc
        .clinical_notes
        .iter()
        .map(|n| format!("note:{}", n.id))
        .chain(doc.photos.iter().map(|p| format!("photo:{}", p.id)))
        .chain(
            doc.letter_of_medical_necessity
                .iter()
                .map(|_| "letter".to_owned()),
        );
    let mut seen: Vec<String> = Vec::new();
    let mut urls = Vec::new();
    for role in roles {
        let n = seen.iter().filter(|r| **r == role).count() + 1;
        let url = if n == 1 {
            Urn::of(request_identifier, &role)
        } else {
            Urn::of(request_identifier, &format!("{role}#{n}"))
        };
        urls.push(url);
        seen.push(role);
    }
    urls
}

/// The diagnosis codes with the dot, the primary first (stable order otherwise).
fn diagnoses(case: &CaseEvent) -> Vec<(String, bool)> {
    let dx = &case.service.diagnoses;
    dx.iter()
        .filter(|d| d.primary)
        .chain(dx.iter().filter(|d| !d.primary))
        .map(|d| (d.code.dotted(), d.primary))
        .collect()
}

/// What PAS has no element for travels as free-form messages (X12 MSG). An appeal's denial
/// travels both coded (the lines' certification type and administration reference) and as text.
fn messages(case: &CaseEvent) -> Vec<String> {
    let doc = &case.documentation;
    let mut messages = Vec::new();
    if !doc.indications.is_empty() {
        let words: Vec<&str> = doc.indications.iter().map(Indication::as_str).collect();
        messages.push(format!("{INDICATIONS_PREFIX}{}", words.join("; ")));
    }
    for t in &doc.prior_treatments {
        let to = t.to.map_or_else(|| "ongoing".to_owned(), |d| d.to_string());
        messages.push(format!(
            "{PRIOR_TREATMENT_PREFIX}{} from {} to {to}: {}",
            t.treatment, t.from, t.result
        ));
    }
    if case.kind == Kind::Appeal {
        if let Some(a) = &case.appeal {
            messages.push(format!(
                "{APPEAL_PREFIX}{} denied {}: {}",
                a.payer_reference, a.denied_on, a.denial_reason
            ));
            messages.push(format!("{ORIGINAL_REQUEST_PREFIX}{}", a.original_event_id));
        }
    }
    messages
}

fn evidence(case: &CaseEvent, request_identifier: &str) -> Evidence {
    Evidence {
        documents: document_urls(case, request_identifier),
        diagnoses: diagnoses(case),
        messages: messages(case),
    }
}

/// The request every constructor starts from: a submission's, with the given identifier.
fn base<'a>(
    case: &'a CaseEvent,
    identifier: String,
    parties_of: &str,
    submitter: &str,
) -> PasRequest<'a> {
    let lines = case.service.procedures.len();
    PasRequest {
        case,
        purpose: Purpose::Submission,
        bundle_profile: REQUEST_BUNDLE_PROFILE,
        claim_profile: CLAIM_PROFILE,
        claim_url: Urn::of(&identifier, "claim"),
        item_traces: (1..=lines).map(|n| format!("{identifier}-{n}")).collect(),
        service_requests: (1..=lines)
            .map(|n| Urn::of(&identifier, &format!("service:{n}")))
            .collect(),
        identifier,
        trn_system: trn_system(submitter),
        created: created(case),
        parties: Parties::new(parties_of),
        evidence: None,
        appealed: None,
        documents: None,
        identity: None,
        member_system: member_system(case, None),
    }
}

/// The `Claim/$submit` Bundle for a submission or an appeal (`case.kind` tells which).
///
/// `request_identifier` becomes the Claim and Bundle identifier value (the X12 TRN), under the
/// system `urn:trnorg:<submitter>`. An appeal's lines go with certification type 1 (expedited)
/// or 2 (standard) and the denied request's payer reference. Deterministic: the same arguments
/// give the same bytes.
pub fn request_bundle<'a>(
    case: &'a CaseEvent,
    request_identifier: &str,
    submitter: &str,
) -> PasRequest<'a> {
    let mut request = base(
        case,
        request_identifier.to_owned(),
        request_identifier,
        submitter,
    );
    request.evidence = Some(evidence(case, request_identifier));
    if case.kind == Kind::Appeal {
        request.appealed = case.appeal.as_ref().map(|a| a.payer_reference.as_str());
    }
    request
}

/// The `Claim/$inquire` Bundle for the `round`-th follow-up of a pended request, stamped
/// `assembled_at` (its Bundle.timestamp and Claim.created).
///
/// The inquiry Claim has one identifier of its own (`<request_identifier>-inq-<round>`) and
/// names the same patient, payer, requestor and service lines; each line carries the payer's
/// `reference` as `extension-administrationReferenceNumber` (X12 REF-NT), and the planned date
/// is the billable period asked about. Diagnoses and documents are left out: an inquiry asks
/// about a request, it does not repeat it. Patient, Coverage and Organizations keep the GUIDs of
/// the original request (same resources).
pub fn inquiry_bundle<'a>(
    case: &'a CaseEvent,
    request_identifier: &str,
    submitter: &str,
    reference: &'a str,
    round: u32,
    assembled_at: DateTime<Utc>,
) -> PasRequest<'a> {
    let identifier = format!("{request_identifier}-inq-{round}");
    let mut request = base(case, identifier, request_identifier, submitter);
    request.purpose = Purpose::Inquiry { reference };
    request.bundle_profile = INQUIRY_BUNDLE_PROFILE;
    request.claim_profile = CLAIM_INQUIRY_PROFILE;
    request.service_requests.clear();
    request.created = assembled_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    request
}

/// The `Claim/$submit` Bundle of a PAS Claim Update: `change` an earlier request (`original`).
///
/// The Claim (profile PASClaimUpdate) has `request_identifier` as its own identifier and names
/// the original by its identifier in `related` (relationship `prior`); every line carries the
/// original's payer reference. An update sends the case's current lines and evidence, every
/// line and supporting entry flagged `changed` (the worker keeps no copy of the original to
/// tell what did not change). A cancellation marks the Claim and every line with certification
/// type 3 and every line `infoCancelled`. Deterministic, as a submission.
pub fn update_bundle<'a>(
    case: &'a CaseEvent,
    request_identifier: &str,
    submitter: &str,
    original: OriginalRequest<'a>,
    change: ClaimChange,
) -> PasRequest<'a> {
    let mut request = base(
        case,
        request_identifier.to_owned(),
        request_identifier,
        submitter,
    );
    request.purpose = Purpose::Change { original, change };
    request.claim_profile = CLAIM_UPDATE_PROFILE;
    if change == ClaimChange::Update {
        request.evidence = Some(evidence(case, request_identifier));
    }
    request
}

impl PasRequest<'_> {
    fn bundle(&self) -> Bundle<'_> {
        let documents = self.evidence.as_ref().map_or(0, |e| e.documents.len());
        let mut entry = Vec::with_capacity(8 + self.service_requests.len() + documents);
        entry.push(Entry {
            full_url: self.claim_url,
            resource: Resource::Claim(Box::new(self.claim())),
        });
        self.parties(&mut entry);
        self.service_requests(&mut entry);
        if let Some(evidence) = &self.evidence {
            self.documents(&evidence.documents, &mut entry);
        }
        Bundle {
            resource_type: "Bundle",
            meta: meta(self.bundle_profile),
            identifier: self.trn(),
            kind: "collection",
            timestamp: &self.created,
            entry,
        }
    }

    fn trn(&self) -> Identifier<'_> {
        Identifier {
            kind: None,
            system: &self.trn_system,
            value: &self.identifier,
        }
    }
}
