//! The parties of a request: the patient (PASBeneficiary), the subscriber of a dependant's
//! coverage (PASSubscriber), the Coverage, the insurer and the requestor (PASInsurer,
//! PASRequestor), and the rendering provider (PASPractitioner in a PASPractitionerRole).

use super::{setting, PasRequest};
use crate::case::{Relationship, Sex};
use crate::payer::pas::model::*;

fn relationship_codes(r: Relationship) -> (&'static str, &'static str) {
    // FHIR subscriber-relationship code, X12 1069 individual relationship code.
    match r {
        Relationship::SelfInsured => ("self", "18"),
        Relationship::Spouse => ("spouse", "01"),
        Relationship::Child => ("child", "19"),
        Relationship::Other => ("other", "G8"),
    }
}

/// The family part of a name given as one string: its last word. The whole string is sent as
/// `HumanName.text` as well, so nothing is lost where the split guesses wrong.
pub(super) fn family_part(name: &str) -> &str {
    name.split_whitespace().last().unwrap_or(name)
}

impl PasRequest<'_> {
    fn member_identifier<'s>(&'s self, member_id: &'s str) -> Identifier<'s> {
        Identifier {
            kind: Some(concept(V2_0203_SYSTEM, "MB")),
            system: &self.member_system,
            value: member_id,
        }
    }

    /// The subscriber of a dependant's coverage, when the case names one.
    fn subscriber(&self) -> Option<&crate::case::Subscriber> {
        let coverage = &self.case.coverage;
        (coverage.relationship != Relationship::SelfInsured)
            .then_some(coverage.subscriber.as_ref())
            .flatten()
    }

    /// Patient, subscriber (a dependant's), Coverage, insurer, requestor, practitioner and
    /// practitioner role entries, in that order.
    pub(super) fn parties<'s>(&'s self, entry: &mut Vec<Entry<'s>>) {
        let case = self.case;
        let p = &self.parties;
        let patient = Patient {
            resource_type: "Patient",
            meta: meta(BENEFICIARY_PROFILE),
            identifier: vec![self.member_identifier(&case.coverage.member_id)],
            name: [HumanName {
                text: None,
                family: &case.patient.family_name,
                given: &case.patient.given_names,
            }],
            gender: case.patient.sex.fhir_code(),
            birth_date: Some(Date(case.patient.birth_date)),
        };
        let subscriber = self.subscriber().map(|s| Patient {
            resource_type: "Patient",
            meta: meta(SUBSCRIBER_PROFILE),
            identifier: s
                .member_id
                .as_deref()
                .map(|id| self.member_identifier(id))
                .into_iter()
                .collect(),
            name: [HumanName {
                text: None,
                family: &s.family_name,
                given: &s.given_names,
            }],
            gender: s.sex.unwrap_or(Sex::Unknown).fhir_code(),
            birth_date: s.birth_date.map(Date),
        });
        let (fhir_rel, x12_rel) = relationship_codes(case.coverage.relationship);
        let coverage = Coverage {
            resource_type: "Coverage",
            meta: meta(COVERAGE_PROFILE),
            identifier: [self.member_identifier(&case.coverage.member_id)],
            status: "active",
            subscriber: subscriber.as_ref().map(|_| reference(p.subscriber)),
            beneficiary: reference(p.patient),
            relationship: Concept2 {
                coding: [
                    Coding::new(SUBSCRIBER_RELATIONSHIP_SYSTEM, fhir_rel, None),
                    Coding::new(X12_1069_SYSTEM, x12_rel, None),
                ],
            },
            payor: [reference(p.insurer)],
            // The patient's own id when the patient is the subscriber; a dependant's
            // subscriber's id when the case gives it, else none.
            subscriber_id: match case.coverage.relationship {
                Relationship::SelfInsured => Some(case.coverage.member_id.as_str()),
                _ => self.subscriber().and_then(|s| s.member_id.as_deref()),
            },
            class: case.coverage.group_number.as_deref().map(|group| {
                [CoverageClass {
                    kind: concept(COVERAGE_CLASS_SYSTEM, "group"),
                    value: group,
                }]
            }),
        };
        let identity = self.identity;
        let insurer = Organization {
            resource_type: "Organization",
            meta: meta(INSURER_PROFILE),
            identifier: [Identifier {
                kind: Some(concept(C4BB_IDENTIFIER_TYPE_SYSTEM, "payerid")),
                system: identity
                    .and_then(|i| setting(&i.payer_identifier_system))
                    .unwrap_or(PAYER_ID_SYSTEM),
                value: identity
                    .and_then(|i| setting(&i.payer_identifier))
                    .unwrap_or(&case.coverage.payer_id),
            }],
            active: true,
            kind: [concept_display(X12_98_SYSTEM, "PR", "Payer")],
            // Without a configured name, the payer id stands in for the required name.
            name: identity
                .and_then(|i| setting(&i.payer_name))
                .unwrap_or(&case.coverage.payer_id),
        };
        let requestor = Organization {
            resource_type: "Organization",
            meta: meta(REQUESTOR_PROFILE),
            identifier: [Identifier {
                kind: None,
                system: NPI_SYSTEM,
                value: case
                    .provider
                    .organization_npi
                    .as_ref()
                    .unwrap_or(&case.provider.npi)
                    .as_str(),
            }],
            active: true,
            kind: [concept_display(X12_98_SYSTEM, "1P", "Provider")],
            name: &case.provider.name,
        };
        let practitioner = Practitioner {
            resource_type: "Practitioner",
            meta: meta(PRACTITIONER_PROFILE),
            identifier: [Identifier {
                kind: None,
                system: NPI_SYSTEM,
                value: case.provider.npi.as_str(),
            }],
            // The case names the provider with one string: it goes whole as the text, and its
            // last word as the family name US Core requires.
            name: [HumanName {
                text: Some(&case.provider.name),
                family: family_part(&case.provider.name),
                given: &[],
            }],
        };
        let role = PractitionerRole {
            resource_type: "PractitionerRole",
            meta: meta(PRACTITIONER_ROLE_PROFILE),
            practitioner: reference(p.practitioner),
            organization: Some(reference(p.requestor)),
            specialty: case
                .provider
                .taxonomy
                .as_deref()
                .map(|t| [concept(NUCC_TAXONOMY_SYSTEM, t)]),
        };
        entry.push(Entry {
            full_url: p.patient,
            resource: Resource::Patient(patient),
        });
        if let Some(subscriber) = subscriber {
            entry.push(Entry {
                full_url: p.subscriber,
                resource: Resource::Patient(subscriber),
            });
        }
        entry.extend([
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
            Entry {
                full_url: p.practitioner,
                resource: Resource::Practitioner(practitioner),
            },
            Entry {
                full_url: p.role,
                resource: Resource::PractitionerRole(role),
            },
        ]);
    }
}
