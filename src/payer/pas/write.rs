//! The PAS requests the worker sends (`Claim/$submit` and `Claim/$inquire` Bundles), as typed
//! `serde` structures written straight to bytes.
//!
//! A request is prepared in two steps: [`request_bundle`] and [`inquiry_bundle`] compute the few
//! strings that are not already in the case (identifiers, timestamps, free-form messages) into a
//! [`PasRequest`]; serializing it lays a tree of borrowed structs over those and over the case,
//! and writes it. No `serde_json::Value` is built on the way, and nothing is copied twice.
//!
//! Everything is a pure function of the arguments: every identifier comes from the request
//! identifier (UUID v5, see [`crate::ids`]) and every date from the case event, and fields are
//! written in declaration order, so a resent request is byte-identical.

use std::fmt;

use chrono::SecondsFormat;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::model::*;
use crate::case::{CaseEvent, Indication, Kind, Relationship, Urgency};
use crate::codes::{ProcedureSystem, SNOMED_CT_SYSTEM};
use crate::payer::attachments::{sha1_base64, Documents, Fetched};

// ---------------------------------------------------------------------------------------------
// The request: what is computed once, then laid out.

/// The fullUrls of the resources every request of a case shares.
struct Parties {
    patient: Urn,
    coverage: Urn,
    insurer: Urn,
    requestor: Urn,
}

impl Parties {
    fn new(request_identifier: &str) -> Self {
        Self {
            patient: Urn::of(request_identifier, "patient"),
            coverage: Urn::of(request_identifier, "coverage"),
            insurer: Urn::of(request_identifier, "insurer"),
            requestor: Urn::of(request_identifier, "requestor"),
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

/// A `$submit` or `$inquire` request, ready to be written. Serialize it (or call
/// [`PasRequest::to_json`]) for the bytes a payer receives.
pub struct PasRequest<'a> {
    case: &'a CaseEvent,
    bundle_profile: &'static str,
    claim_profile: &'static str,
    /// The Claim and Bundle identifier value (the X12 TRN).
    identifier: String,
    trn_system: String,
    /// The authenticated correlation token (see `crate::security`), when the payer is set up
    /// for notifications; a second Claim identifier under `CORRELATION_SYSTEM`.
    correlation: Option<String>,
    created: String,
    claim_url: Urn,
    parties: Parties,
    /// `Some` for a submission; an inquiry repeats neither documents nor diagnoses.
    evidence: Option<Evidence>,
    /// The payer's reference, on each line of an inquiry.
    administration_reference: Option<&'a str>,
    /// The photos' and the letter's bytes, sent inline; without them their URIs are sent.
    documents: Option<&'a Documents>,
}

impl<'a> PasRequest<'a> {
    /// Adds the authenticated correlation token a payer echoes in its notifications.
    pub fn with_correlation(mut self, token: Option<String>) -> Self {
        self.correlation = token;
        self
    }

    /// Sends the fetched photos and letter inline (`attachment.data`, `size`, `hash`), in the
    /// case's order. Without them, each document goes as its URI.
    pub fn with_documents(mut self, documents: Option<&'a Documents>) -> Self {
        self.documents = documents;
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

fn trn_system(submitter: &str) -> String {
    format!("urn:trnorg:{submitter}")
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

/// Claim.diagnosis.
fn claim_diagnoses(evidence: &Evidence) -> Vec<ClaimDiagnosis<'_>> {
    evidence
        .diagnoses
        .iter()
        .enumerate()
        .map(|(i, (code, primary))| ClaimDiagnosis {
            sequence: seq(i),
            diagnosis_codeable_concept: concept(ICD10CM_SYSTEM, code),
            kind: primary.then(|| [concept(DIAGNOSIS_TYPE_SYSTEM, "principal")]),
        })
        .collect()
}

/// What PAS has no element for travels as free-form messages (X12 MSG).
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

/// The `Claim/$submit` Bundle for a submission or an appeal (`case.kind` tells which).
///
/// `request_identifier` becomes the Claim and Bundle identifier value (the X12 TRN), under the
/// system `urn:trnorg:<submitter>`. Deterministic: the same arguments give the same bytes.
pub fn request_bundle<'a>(
    case: &'a CaseEvent,
    request_identifier: &str,
    submitter: &str,
) -> PasRequest<'a> {
    PasRequest {
        case,
        bundle_profile: REQUEST_BUNDLE_PROFILE,
        claim_profile: CLAIM_PROFILE,
        identifier: request_identifier.to_owned(),
        trn_system: trn_system(submitter),
        correlation: None,
        created: created(case),
        claim_url: Urn::of(request_identifier, "claim"),
        parties: Parties::new(request_identifier),
        evidence: Some(Evidence {
            documents: document_urls(case, request_identifier),
            diagnoses: diagnoses(case),
            messages: messages(case),
        }),
        administration_reference: None,
        documents: None,
    }
}

/// The `Claim/$inquire` Bundle for the `round`-th follow-up of a pended request.
///
/// The inquiry Claim has its own identifier (`<request_identifier>-inq-<round>`) and names the
/// same patient, payer, requestor and service lines; each line carries the payer's `reference`
/// as `extension-administrationReferenceNumber` (X12 REF-NT). Diagnoses and documents are left
/// out: an inquiry asks about a request, it does not repeat it. Patient, Coverage and
/// Organizations keep the GUIDs of the original request (same resources).
pub fn inquiry_bundle<'a>(
    case: &'a CaseEvent,
    request_identifier: &str,
    submitter: &str,
    reference: &'a str,
    round: u32,
) -> PasRequest<'a> {
    let identifier = format!("{request_identifier}-inq-{round}");
    PasRequest {
        case,
        bundle_profile: INQUIRY_BUNDLE_PROFILE,
        claim_profile: CLAIM_INQUIRY_PROFILE,
        claim_url: Urn::of(&identifier, "claim"),
        identifier,
        trn_system: trn_system(submitter),
        correlation: None,
        created: created(case),
        parties: Parties::new(request_identifier),
        evidence: None,
        administration_reference: Some(reference),
        documents: None,
    }
}

fn relationship_codes(r: Relationship) -> (&'static str, &'static str) {
    // FHIR subscriber-relationship code, X12 1069 individual relationship code.
    match r {
        Relationship::SelfInsured => ("self", "18"),
        Relationship::Spouse => ("spouse", "01"),
        Relationship::Child => ("child", "19"),
        Relationship::Other => ("other", "G8"),
    }
}

fn procedure_system_url(system: ProcedureSystem) -> &'static str {
    match system {
        ProcedureSystem::Cpt => CPT_SYSTEM,
        ProcedureSystem::Hcpcs => HCPCS_SYSTEM,
    }
}

impl<'a> PasRequest<'a> {
    fn bundle(&self) -> Bundle<'_> {
        let mut entry =
            Vec::with_capacity(5 + self.evidence.as_ref().map_or(0, |e| e.documents.len()));
        entry.push(Entry {
            full_url: self.claim_url,
            resource: Resource::Claim(Box::new(self.claim())),
        });
        self.parties(&mut entry);
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

    fn member_identifier(&self) -> Identifier<'_, Concat<'_>> {
        let coverage = &self.case.coverage;
        Identifier {
            kind: Some(concept(V2_0203_SYSTEM, "MB")),
            system: Concat(MEMBER_ID_SYSTEM_PREFIX, &coverage.payer_id),
            value: &coverage.member_id,
        }
    }

    /// Patient, Coverage, insurer and requestor entries, in that order.
    fn parties<'s>(&'s self, entry: &mut Vec<Entry<'s>>) {
        let case = self.case;
        let p = &self.parties;
        let patient = Patient {
            resource_type: "Patient",
            meta: meta(BENEFICIARY_PROFILE),
            identifier: [self.member_identifier()],
            name: [HumanName {
                family: &case.patient.family_name,
                given: &case.patient.given_names,
            }],
            gender: case.patient.sex.fhir_code(),
            birth_date: Date(case.patient.birth_date),
        };
        let (fhir_rel, x12_rel) = relationship_codes(case.coverage.relationship);
        let coverage = Coverage {
            resource_type: "Coverage",
            meta: meta(COVERAGE_PROFILE),
            identifier: [self.member_identifier()],
            status: "active",
            beneficiary: reference(p.patient),
            relationship: Concept2 {
                coding: [
                    Coding::new(SUBSCRIBER_RELATIONSHIP_SYSTEM, fhir_rel, None),
                    Coding::new(X12_1069_SYSTEM, x12_rel, None),
                ],
            },
            payor: [reference(p.insurer)],
            // The case carries the member's own id only. It is the subscriber's id when the
            // patient is the subscriber; for a dependant it is unknown, so it is left out.
            subscriber_id: (case.coverage.relationship == Relationship::SelfInsured)
                .then_some(case.coverage.member_id.as_str()),
            class: case.coverage.group_number.as_deref().map(|group| {
                [CoverageClass {
                    kind: concept(COVERAGE_CLASS_SYSTEM, "group"),
                    value: group,
                }]
            }),
        };
        let insurer = Organization {
            resource_type: "Organization",
            meta: meta(INSURER_PROFILE),
            identifier: [Identifier {
                kind: Some(concept(C4BB_IDENTIFIER_TYPE_SYSTEM, "payerid")),
                system: PAYER_ID_SYSTEM,
                value: &case.coverage.payer_id,
            }],
            active: true,
            kind: [concept_display(X12_98_SYSTEM, "PR", "Payer")],
            // The case names the payer by id only; the id stands in for the required name.
            name: &case.coverage.payer_id,
        };
        let requestor = Organization {
            resource_type: "Organization",
            meta: meta(REQUESTOR_PROFILE),
            identifier: [Identifier {
                kind: None,
                system: NPI_SYSTEM,
                value: case.provider.npi.as_str(),
            }],
            active: true,
            kind: [concept_display(X12_98_SYSTEM, "1P", "Provider")],
            name: &case.provider.name,
        };
        entry.extend([
            Entry {
                full_url: p.patient,
                resource: Resource::Patient(patient),
            },
            Entry {
                full_url: p.coverage,
                resource: Resource::Coverage(coverage),
            },
            Entry {
                full_url: p.insurer,
                resource: Resource::Organization(insurer),
            },
            Entry {
                full_url: p.requestor,
                resource: Resource::Organization(requestor),
            },
        ]);
    }

    fn claim(&self) -> Claim<'_> {
        let case = self.case;
        let p = &self.parties;
        let priority = match case.urgency {
            Urgency::Expedited => "stat",
            Urgency::Standard => "normal",
        };
        let (supporting_info, diagnosis) = match &self.evidence {
            Some(evidence) => (self.supporting_info(evidence), claim_diagnoses(evidence)),
            None => (Vec::new(), Vec::new()),
        };
        Claim {
            resource_type: "Claim",
            meta: meta(self.claim_profile),
            identifier: std::iter::once(self.trn())
                .chain(self.correlation.as_deref().map(|value| Identifier {
                    kind: None,
                    system: CORRELATION_SYSTEM,
                    value,
                }))
                .collect(),
            status: "active",
            kind: concept(CLAIM_TYPE_SYSTEM, "professional"),
            purpose: "preauthorization",
            patient: reference(p.patient),
            created: &self.created,
            insurer: reference(p.insurer),
            provider: reference(p.requestor),
            priority: concept(PROCESS_PRIORITY_SYSTEM, priority),
            care_team: [CareTeam {
                extension: [Extension {
                    url: EXT_CARE_TEAM_CLAIM_SCOPE,
                    codeable_concept: None,
                    boolean: Some(true),
                    string: None,
                }],
                sequence: 1,
                provider: reference(p.requestor),
                // X12 PRV (provider taxonomy). With an Organization as the care-team member
                // there is no PractitionerRole.specialty, so it rides in the qualification.
                qualification: case
                    .provider
                    .taxonomy
                    .as_deref()
                    .map(|t| concept(NUCC_TAXONOMY_SYSTEM, t)),
            }],
            insurance: [Insurance {
                sequence: 1,
                focal: true,
                coverage: reference(p.coverage),
            }],
            item: self.items(count(diagnosis.len()), count(supporting_info.len())),
            supporting_info,
            diagnosis,
        }
    }

    /// One Claim.item per procedure, in procedure order.
    fn items(&self, diagnoses: u32, information: u32) -> Vec<Item<'_>> {
        let service = &self.case.service;
        // The case has one lesions record, and every line of it treats those lesions: the coded
        // site, when sent, is each line's body site.
        let body_site = service
            .lesions
            .as_ref()
            .and_then(|l| l.body_site.as_deref());
        service
            .procedures
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut extension = vec![
                    extension_concept(
                        EXT_SERVICE_ITEM_REQUEST_TYPE,
                        concept_display(X12_1525_SYSTEM, "HS", "Health Services Review"),
                    ),
                    // X12 1322 also has appeal codes (1 immediate, 2 standard); an appeal is
                    // sent as a new initial request carrying the appeal packet, as PAS has no
                    // appeal flow.
                    extension_concept(
                        EXT_CERTIFICATION_TYPE,
                        concept_display(X12_1322_SYSTEM, "I", "Initial"),
                    ),
                ];
                if let Some(r) = self.administration_reference {
                    extension.push(Extension {
                        url: EXT_ADMINISTRATION_REFERENCE_NUMBER,
                        codeable_concept: None,
                        boolean: None,
                        string: Some(r),
                    });
                }
                Item {
                    extension,
                    sequence: seq(i),
                    care_team_sequence: [1],
                    category: concept_display(X12_1365_SYSTEM, "2", "Surgical"),
                    product_or_service: concept(
                        procedure_system_url(p.code.system()),
                        p.code.as_str(),
                    ),
                    serviced_date: Date(service.planned_date),
                    location_codeable_concept: concept(POS_SYSTEM, &service.place_of_service),
                    quantity: Quantity { value: p.units },
                    body_site: body_site.map(|code| concept(SNOMED_CT_SYSTEM, code)),
                    // Anatomic modifiers such as E1-E4 are HCPCS Level II modifiers; they are
                    // sent under the CPT system as agreed for this mapping, since PAS lists only
                    // CPT for modifiers.
                    modifier: p
                        .modifiers
                        .iter()
                        .map(|m| concept(CPT_SYSTEM, m.as_str()))
                        .collect(),
                    diagnosis_sequence: Sequences(diagnoses),
                    information_sequence: Sequences(information),
                }
            })
            .collect()
    }

    /// Claim.supportingInfo: one `additionalInformation` per document (pointing at its
    /// DocumentReference entry), then the free-form messages.
    fn supporting_info<'s>(&'s self, evidence: &'s Evidence) -> Vec<SupportingInfo<'s>> {
        let doc = &self.case.documentation;
        let kinds = doc
            .clinical_notes
            .iter()
            .map(|_| ("PY", "Physician's Report"))
            // X12 755 XP "Photograph" (the 2000E PWK01 list of the 278 request).
            .chain(doc.photos.iter().map(|_| ("XP", "Photograph")))
            // A choice: X12 755 has no "letter of medical necessity" code; 03 "Report
            // Justifying Treatment Beyond Utilization Guidelines" is the closest in meaning.
            .chain(doc.letter_of_medical_necessity.iter().map(|_| {
                (
                    "03",
                    "Report Justifying Treatment Beyond Utilization Guidelines",
                )
            }));
        let documents = kinds
            .zip(&evidence.documents)
            .map(|((report_type, display), url)| (Some((report_type, display)), Some(*url), None));
        let messages = evidence
            .messages
            .iter()
            .map(|m| (None, None, Some(m.as_str())));
        documents
            .chain(messages)
            .enumerate()
            .map(|(i, (docinfo, url, text))| SupportingInfo {
                extension: docinfo.map(|(t, d)| [document_information(t, d)]),
                sequence: seq(i),
                category: concept(
                    PAS_TEMP_CODES,
                    if url.is_some() {
                        "additionalInformation"
                    } else {
                        "freeFormMessage"
                    },
                ),
                value_reference: url.map(reference),
                value_string: text,
            })
            .collect()
    }

    fn document_reference(
        &self,
        loinc: &'static str,
        loinc_display: &'static str,
        attachment: Attachment<'a>,
    ) -> DocumentReference<'_> {
        DocumentReference {
            resource_type: "DocumentReference",
            meta: meta(DOCUMENT_REFERENCE_PROFILE),
            status: "current",
            kind: concept_display(LOINC_SYSTEM, loinc, loinc_display),
            category: [concept_display(
                DOCUMENT_CATEGORY_SYSTEM,
                "clinical-note",
                "Clinical Note",
            )],
            subject: reference(self.parties.patient),
            date: &self.created,
            content: [Content { attachment }],
            author: None,
            authenticator: None,
        }
    }

    /// The DocumentReference entries of the notes, photos and letter, in that order.
    fn documents<'s>(&'s self, urls: &[Urn], entry: &mut Vec<Entry<'s>>) {
        let doc = &self.case.documentation;
        let mut urls = urls.iter().copied();
        for note in &doc.clinical_notes {
            let text = note.text.as_bytes();
            let mut resource = self.document_reference(
                LOINC_PROGRESS_NOTE,
                "Progress note",
                Attachment {
                    content_type: Some("text/plain; charset=utf-8"),
                    data: (!text.is_empty()).then_some(Base64(text)),
                    url: None,
                    size: (!text.is_empty()).then_some(text.len() as u64),
                    hash: (!text.is_empty()).then(|| sha1_base64(text)),
                    title: &note.id,
                    creation: Date(note.date),
                },
            );
            resource.author = note
                .author_npi
                .as_ref()
                .map(|n| [npi_reference(n.as_str())]);
            push_document(entry, urls.next(), resource);
        }
        let fetched = self.documents;
        for (i, photo) in doc.photos.iter().enumerate() {
            // PAS wants the document inline (attachment.data; url is 0..0 in its
            // DocumentReference profile). Without fetched bytes (fetching switched off) the
            // practice system's URI is all there is to send.
            let bytes = fetched.and_then(|d| d.photos.get(i));
            let resource = self.document_reference(
                LOINC_PHOTO,
                "Photographic image",
                attachment(
                    bytes,
                    Some(&photo.content_type),
                    &photo.uri,
                    &photo.id,
                    photo.taken_on,
                ),
            );
            push_document(entry, urls.next(), resource);
        }
        // Appeals carry the letter; a submission that already has one sends it too (it is
        // evidence, and the payer's review reads it either way).
        if let Some(letter) = &doc.letter_of_medical_necessity {
            let bytes = fetched.and_then(|d| d.letter.as_ref());
            let mut resource = self.document_reference(
                LOINC_LETTER,
                "Letter",
                attachment(
                    bytes,
                    None,
                    &letter.uri,
                    "Letter of medical necessity",
                    letter.signed_on,
                ),
            );
            resource.author = Some([npi_reference(letter.signed_by_npi.as_str())]);
            resource.authenticator = Some(npi_reference(letter.signed_by_npi.as_str()));
            push_document(entry, urls.next(), resource);
        }
    }
}

/// A photo's or the letter's attachment: the fetched bytes inline (type sniffed, size, hash),
/// or, when none were fetched, the URI with the declared type.
fn attachment<'a>(
    fetched: Option<&'a Fetched>,
    declared: Option<&'a str>,
    uri: &'a str,
    title: &'a str,
    creation: chrono::NaiveDate,
) -> Attachment<'a> {
    match fetched {
        Some(f) => Attachment {
            content_type: Some(f.content_type),
            data: Some(Base64(&f.data)),
            url: None,
            size: Some(f.data.len() as u64),
            hash: Some(f.hash.clone()),
            title,
            creation: Date(creation),
        },
        None => Attachment {
            content_type: declared,
            data: None,
            url: Some(uri),
            size: None,
            hash: None,
            title,
            creation: Date(creation),
        },
    }
}

fn push_document<'a>(
    entry: &mut Vec<Entry<'a>>,
    url: Option<Urn>,
    resource: DocumentReference<'a>,
) {
    // `document_urls` gives one url per document, in this order.
    if let Some(full_url) = url {
        entry.push(Entry {
            full_url,
            resource: Resource::DocumentReference(resource),
        });
    }
}
