//! The Claim of a request (PASClaim, PASClaimInquiry or PASClaimUpdate) and the ServiceRequest
//! each of its lines asks for.

use super::{setting, ClaimChange, Evidence, PasRequest, Purpose};
use crate::case::{Kind, Urgency};
use crate::codes::{Modifier, ProcedureSystem, SNOMED_CT_SYSTEM};
use crate::payer::pas::model::*;

fn procedure_system_url(system: ProcedureSystem) -> &'static str {
    match system {
        ProcedureSystem::Cpt => CPT_SYSTEM,
        ProcedureSystem::Hcpcs => HCPCS_SYSTEM,
    }
}

/// The code system of a modifier. PAS binds `item.modifier` to CPT and HCPCS modifiers alike:
/// the two-digit numeric ones (25, 59, 76…) are CPT's; the alphanumeric ones (E1–E4, RT, LT, XS,
/// TC…) are HCPCS Level II's.
pub(super) fn modifier_system(modifier: &Modifier) -> &'static str {
    if modifier.as_str().bytes().all(|b| b.is_ascii_digit()) {
        CPT_SYSTEM
    } else {
        HCPCS_SYSTEM
    }
}

/// A line's quantity: its units, as PASQuantity with the X12 673 code `FL` (Units).
pub(super) fn units(value: u32) -> PasQuantity<'static> {
    PasQuantity {
        value,
        unit: "Units",
        system: X12_673_SYSTEM,
        code: "FL",
    }
}

/// Claim.diagnosis: the primary typed `principal` (PASTempCodes, X12278DiagnosisType).
fn claim_diagnoses(evidence: &Evidence) -> Vec<ClaimDiagnosis<'_>> {
    evidence
        .diagnoses
        .iter()
        .enumerate()
        .map(|(i, (code, primary))| ClaimDiagnosis {
            sequence: seq(i),
            diagnosis_codeable_concept: concept(ICD10CM_SYSTEM, code),
            kind: primary.then(|| [concept(PAS_TEMP_CODES, "principal")]),
        })
        .collect()
}

impl PasRequest<'_> {
    /// X12 1322 (UM02) for each line: a cancellation's 3, an appeal's 1 (immediate) or 2
    /// (standard), otherwise I (initial).
    fn certification_type(&self) -> (&'static str, &'static str) {
        match self.purpose {
            Purpose::Change {
                change: ClaimChange::Cancel,
                ..
            } => ("3", "Cancel"),
            Purpose::Submission | Purpose::Change { .. } if self.case.kind == Kind::Appeal => {
                match self.case.urgency {
                    Urgency::Expedited => ("1", "Appeal - Immediate"),
                    Urgency::Standard => ("2", "Appeal - Standard"),
                }
            }
            _ => ("I", "Initial"),
        }
    }

    /// The Claim-level extensions: level of service (UM06), the X12 envelope's transmission
    /// identifiers when the payer's settings give them, and a cancellation's certification type.
    fn claim_extensions(&self) -> Vec<Extension<'_>> {
        let (level, display) = match self.case.urgency {
            Urgency::Expedited => ("U", "Urgent"),
            Urgency::Standard => ("E", "Elective"),
        };
        let mut extension = vec![extension_concept(
            EXT_LEVEL_OF_SERVICE,
            concept_display(X12_1338_SYSTEM, level, display),
        )];
        if let Some(transmission) = self.transmission_identifiers() {
            extension.push(transmission);
        }
        if let Purpose::Change {
            change: ClaimChange::Cancel,
            ..
        } = self.purpose
        {
            extension.push(extension_concept(
                EXT_CERTIFICATION_TYPE,
                concept_display(X12_1322_SYSTEM, "3", "Cancel"),
            ));
        }
        extension
    }

    /// GS02/GS03 (both required by the extension) and ISA06/ISA08 when set.
    fn transmission_identifiers(&self) -> Option<Extension<'_>> {
        let identity = self.identity?;
        let set = setting;
        let sender = set(&identity.application_sender_code)?;
        let receiver = set(&identity.application_receiver_code)?;
        let mut parts = vec![
            extension_string("applicationSenderCode", sender),
            extension_string("applicationReceiverCode", receiver),
        ];
        if let Some(v) = set(&identity.interchange_sender_id) {
            parts.push(extension_string("interchangeSenderID", v));
        }
        if let Some(v) = set(&identity.interchange_receiver_id) {
            parts.push(extension_string("interchangeReceiverID", v));
        }
        Some(Extension {
            url: EXT_TRANSMISSION_IDENTIFIERS,
            extension: parts,
            ..Extension::default()
        })
    }

    pub(super) fn claim(&self) -> Claim<'_> {
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
        let related = match self.purpose {
            Purpose::Change { original, .. } => Some([Related {
                claim: LogicalReference {
                    identifier: Identifier {
                        kind: None,
                        system: &self.trn_system,
                        value: original.request_identifier,
                    },
                },
                relationship: concept(RELATED_CLAIM_RELATIONSHIP_SYSTEM, "prior"),
            }]),
            _ => None,
        };
        let planned = Date(case.service.planned_date);
        Claim {
            resource_type: "Claim",
            meta: meta(self.claim_profile),
            extension: self.claim_extensions(),
            identifier: [self.trn()],
            status: "active",
            kind: concept(CLAIM_TYPE_SYSTEM, "professional"),
            purpose: "preauthorization",
            patient: reference(p.patient),
            billable_period: matches!(self.purpose, Purpose::Inquiry { .. }).then_some(
                DatePeriod {
                    start: planned,
                    end: planned,
                },
            ),
            created: &self.created,
            insurer: reference(p.insurer),
            provider: reference(p.requestor),
            priority: concept(PROCESS_PRIORITY_SYSTEM, priority),
            related,
            care_team: [CareTeam {
                extension: [extension_boolean(EXT_CARE_TEAM_CLAIM_SCOPE, true)],
                sequence: 1,
                provider: reference(p.role),
                // X12 98 (2010EA NM101): the practitioner who will render the service.
                role: concept_display(X12_98_SYSTEM, "SJ", "Service Provider"),
                // X12 PRV (provider taxonomy).
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

    /// The payer reference each line names: the pended request's on an inquiry, the denied
    /// request's on an appeal, the original's on an update.
    fn line_reference(&self) -> Option<&str> {
        match self.purpose {
            Purpose::Inquiry { reference } => Some(reference),
            Purpose::Change { original, .. } => Some(original.payer_reference),
            Purpose::Submission => self.appealed,
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
        let (cert, cert_display) = self.certification_type();
        let change = match self.purpose {
            Purpose::Change { change, .. } => Some(change),
            _ => None,
        };
        service
            .procedures
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut extension = Vec::with_capacity(6);
                if let Some(trace) = self.item_traces.get(i) {
                    extension.push(Extension {
                        url: EXT_ITEM_TRACE_NUMBER,
                        value_identifier: Some(Identifier {
                            kind: None,
                            system: &self.trn_system,
                            value: trace,
                        }),
                        ..Extension::default()
                    });
                }
                if let Some(r) = self.line_reference() {
                    extension.push(extension_string(EXT_ADMINISTRATION_REFERENCE_NUMBER, r));
                }
                extension.push(extension_concept(
                    EXT_SERVICE_ITEM_REQUEST_TYPE,
                    concept_display(X12_1525_SYSTEM, "HS", "Health Services Review"),
                ));
                extension.push(extension_concept(
                    EXT_CERTIFICATION_TYPE,
                    concept_display(X12_1322_SYSTEM, cert, cert_display),
                ));
                if let Some(url) = self.service_requests.get(i) {
                    extension.push(Extension {
                        url: EXT_REQUESTED_SERVICE,
                        value_reference: Some(reference(*url)),
                        ..Extension::default()
                    });
                }
                if change.is_some() {
                    extension.push(extension_code(EXT_INFO_CHANGED, "changed"));
                }
                Item {
                    extension,
                    modifier_extension: match change {
                        Some(ClaimChange::Cancel) => {
                            vec![extension_boolean(EXT_INFO_CANCELLED, true)]
                        }
                        _ => Vec::new(),
                    },
                    sequence: seq(i),
                    care_team_sequence: [1],
                    category: concept_display(X12_1365_SYSTEM, "2", "Surgical"),
                    product_or_service: concept(
                        procedure_system_url(p.code.system()),
                        p.code.as_str(),
                    ),
                    serviced_date: Date(service.planned_date),
                    location_codeable_concept: concept(POS_SYSTEM, &service.place_of_service),
                    quantity: units(p.units),
                    body_site: body_site.map(|code| concept(SNOMED_CT_SYSTEM, code)),
                    modifier: p
                        .modifiers
                        .iter()
                        .map(|m| concept(modifier_system(m), m.as_str()))
                        .collect(),
                    diagnosis_sequence: Sequences(diagnoses),
                    information_sequence: Sequences(information),
                }
            })
            .collect()
    }

    /// The ServiceRequest entries the lines point to (`requestedService`), one per line.
    pub(super) fn service_requests<'s>(&'s self, entry: &mut Vec<Entry<'s>>) {
        let service = &self.case.service;
        for (p, url) in service.procedures.iter().zip(&self.service_requests) {
            entry.push(Entry {
                full_url: *url,
                resource: Resource::ServiceRequest(ServiceRequest {
                    resource_type: "ServiceRequest",
                    meta: meta(SERVICE_REQUEST_PROFILE),
                    status: "active",
                    intent: "order",
                    code: concept(procedure_system_url(p.code.system()), p.code.as_str()),
                    quantity_quantity: units(p.units),
                    subject: reference(self.parties.patient),
                    occurrence_timing: Timing {
                        event: [Date(service.planned_date)],
                    },
                    requester: reference(self.parties.role),
                }),
            });
        }
    }

    /// Claim.supportingInfo: one `additionalInformation` per document (pointing at its
    /// DocumentReference entry), the free-form messages, then the patient event (the planned
    /// date). On an update each is flagged `changed`.
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
        let changed = matches!(self.purpose, Purpose::Change { .. });
        let flag = |mut extension: Vec<Extension<'s>>| {
            if changed {
                extension.push(extension_code(EXT_INFO_CHANGED, "changed"));
            }
            extension
        };
        let documents = kinds
            .zip(&evidence.documents)
            .map(|((report_type, display), url)| SupportingInfo {
                extension: flag(vec![document_information(report_type, display)]),
                sequence: 0,
                category: concept(PAS_TEMP_CODES, "additionalInformation"),
                timing_date: None,
                value_reference: Some(reference(*url)),
                value_string: None,
            });
        let messages = evidence.messages.iter().map(|m| SupportingInfo {
            extension: flag(Vec::new()),
            sequence: 0,
            category: concept(PAS_TEMP_CODES, "freeFormMessage"),
            timing_date: None,
            value_reference: None,
            value_string: Some(m.as_str()),
        });
        let event = SupportingInfo {
            extension: flag(Vec::new()),
            sequence: 0,
            category: concept(PAS_TEMP_CODES, "patientEvent"),
            timing_date: Some(Date(self.case.service.planned_date)),
            value_reference: None,
            value_string: None,
        };
        documents
            .chain(messages)
            .chain(std::iter::once(event))
            .enumerate()
            .map(|(i, info)| SupportingInfo {
                sequence: seq(i),
                ..info
            })
            .collect()
    }
}
