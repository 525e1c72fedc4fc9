//! Decoding an identified case event (see [`super::identify`]): every field, every problem
//! reported with its path; never a panic.
//!
//! Serde's derive stops at the first error; staff correcting a case want all of them at once, so
//! the fields are read here from the event's JSON tree ([`Json`]), one finding per problem.
//!
//! Messages never repeat an input value, not even a slice of it: a value that failed to parse is
//! described by what was expected and its length, never shown. They are built from fixed text,
//! enumeration names and numbers only.
//!
//! A member the contract does not define never stops decoding: it is recorded, with its path, in
//! [`CaseEvent::unknown_members`] (validation reports each one as `DEC-05`).

use crate::case::json::{Json, Members};

use super::identify::Identified;
use super::{
    Appeal, CaseEvent, ClinicalNote, Coverage, Diagnosis, Documentation, Finding, Indication, Kind,
    Laterality, Lesions, Letter, LidPart, Patient, Photo, PriorTreatment, Procedure, Provider,
    Relationship, Rule, Service, Sex, UnknownMember, Urgency, CASE_SCHEMA_V1,
};
use crate::codes::{
    snomed_ct_concept_id, Icd10Cm, Modifier, ProcedureCode, ProcedureSystem, SNOMED_CT_SYSTEM,
};

pub(super) mod members;
mod original;
mod readers;
mod subscriber;
mod values;

use values::{join, length, positive_integer};

/// The members the contract defines, object by object: any other member is recorded as unknown.
mod known {
    pub(super) const EVENT: &[&str] = &[
        "schema",
        "event_id",
        "case_id",
        "kind",
        "occurred_at",
        "urgency",
        "patient",
        "coverage",
        "provider",
        "service",
        "documentation",
        "appeal",
        "original",
    ];
    pub(super) const PATIENT: &[&str] = &["id", "family_name", "given_names", "birth_date", "sex"];
    pub(super) const COVERAGE: &[&str] = &[
        "payer_id",
        "member_id",
        "group_number",
        "relationship",
        "subscriber",
    ];
    pub(super) const SUBSCRIBER: &[&str] = &[
        "member_id",
        "family_name",
        "given_names",
        "birth_date",
        "sex",
    ];
    pub(super) const PROVIDER: &[&str] = &["npi", "name", "taxonomy", "organization_npi"];
    pub(super) const SERVICE: &[&str] = &[
        "planned_date",
        "place_of_service",
        "procedures",
        "diagnoses",
        "lesions",
    ];
    pub(super) const PROCEDURE: &[&str] = &["code", "system", "modifiers", "units"];
    pub(super) const DIAGNOSIS: &[&str] = &["code", "primary"];
    pub(super) const LESIONS: &[&str] = &[
        "count",
        "max_size_mm",
        "site",
        "body_site",
        "distance_from_margin_mm",
        "laterality",
        "lid",
    ];
    pub(super) const BODY_SITE: &[&str] = &["system", "code"];
    pub(super) const DOCUMENTATION: &[&str] = &[
        "indications",
        "clinical_notes",
        "photos",
        "prior_treatments",
        "letter_of_medical_necessity",
    ];
    pub(super) const CLINICAL_NOTE: &[&str] = &[
        "id",
        "date",
        "author_npi",
        "author_organization_npi",
        "text",
    ];
    pub(super) const PHOTO: &[&str] = &["id", "taken_on", "uri", "content_type"];
    pub(super) const PRIOR_TREATMENT: &[&str] = &["treatment", "from", "to", "result"];
    pub(super) const LETTER: &[&str] = &["uri", "signed_by_npi", "signed_on"];
    pub(super) const APPEAL: &[&str] = &[
        "original_event_id",
        "payer_reference",
        "denied_on",
        "denial_reason",
    ];
    pub(super) const ORIGINAL: &[&str] = &["event_id", "kind", "payer_reference"];

    /// Each list by the name the case schema gives the object (`""` for the event itself).
    #[cfg(test)]
    pub(super) const BY_SCHEMA_NAME: [(&str, &[&str]); 17] = [
        ("", EVENT),
        ("patient", PATIENT),
        ("coverage", COVERAGE),
        ("subscriber", SUBSCRIBER),
        ("provider", PROVIDER),
        ("service", SERVICE),
        ("procedure", PROCEDURE),
        ("diagnosis", DIAGNOSIS),
        ("lesions", LESIONS),
        ("body_site", BODY_SITE),
        ("documentation", DOCUMENTATION),
        ("clinical_note", CLINICAL_NOTE),
        ("photo", PHOTO),
        ("prior_treatment", PRIOR_TREATMENT),
        ("letter_of_medical_necessity", LETTER),
        ("appeal", APPEAL),
        ("original", ORIGINAL),
    ];
}

/// Decodes an identified message into a case event, or returns every finding that stops it.
///
/// `routing_key` is the AMQP routing key the event arrived with, when there is one: it must agree
/// with `kind`.
pub fn decode(id: &Identified, routing_key: Option<&str>) -> Result<CaseEvent, Vec<Finding>> {
    let mut d = Decoder::default();
    let event = d.event(id, routing_key);
    match event {
        Some(event) if d.findings.is_empty() => Ok(event),
        _ => {
            if d.findings.is_empty() {
                // Unreachable by construction (every `None` records a finding), kept so that a
                // future edit cannot turn a decode failure into a silent pass.
                d.error("", "the event could not be decoded");
            }
            // A misspelt required field shows as "missing": its DEC-05 says what was meant.
            // Not after DEC-02: the body of another schema version is not read as v1.
            if !d.findings.iter().any(|f| f.rule == rule::SCHEMA.id()) {
                let unknown = std::mem::take(&mut d.unknown);
                d.findings
                    .extend(unknown.iter().map(UnknownMember::finding));
            }
            Err(d.findings)
        }
    }
}

/// The rules of decoding findings, by what they check (declared in the registry).
pub(crate) mod rule {
    pub(crate) use crate::case::registry::{
        DEC_01 as FIELD, DEC_02 as SCHEMA, DEC_03 as ROUTING, DEC_04 as APPEAL_OBJECT,
        DEC_06 as ORIGINAL_OBJECT, DEC_07 as SUBSCRIBER, FMT_CPT_01 as CPT_FORMAT,
        FMT_ICD_01 as ICD_FORMAT, FMT_MOD_01 as MOD_FORMAT, FMT_NPI_01 as NPI_FORMAT,
    };
}

/// The values of a `sex` member (a patient's, a subscriber's).
const SEXES: &[(&str, Sex)] = &[
    ("female", Sex::Female),
    ("male", Sex::Male),
    ("other", Sex::Other),
    ("unknown", Sex::Unknown),
];

#[derive(Default)]
struct Decoder {
    findings: Vec<Finding>,
    unknown: Vec<UnknownMember>,
}

impl Decoder {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.findings.push(rule::FIELD.finding(path, message));
    }

    fn error_rule(&mut self, rule: &Rule, path: &str, message: impl Into<String>) {
        self.findings.push(rule.finding(path, message));
    }

    /// Records the members of the object at `path` that are not in `known`.
    fn unknown_members(&mut self, path: &str, m: &Members<'_>, known: &[&'static str]) {
        members::record(path, m, known, &mut self.unknown);
    }

    fn event(&mut self, id: &Identified, routing_key: Option<&str>) -> Option<CaseEvent> {
        // `identify` guarantees an object; an empty map keeps this total.
        let empty = Members::default();
        let m = id.body.as_object().unwrap_or(&empty);

        match m.get("schema") {
            Some(Json::String(s)) if s == CASE_SCHEMA_V1 => {}
            Some(Json::String(_)) => {
                self.error_rule(
                    rule::SCHEMA,
                    "schema",
                    format!("unsupported schema: this worker accepts {CASE_SCHEMA_V1:?} only"),
                );
                // Another schema's fields mean other things: decoding them as v1 would only
                // add noise to the one finding that matters.
                return None;
            }
            Some(_) => self.error_rule(rule::SCHEMA, "schema", "expected a string"),
            None => self.error_rule(rule::SCHEMA, "schema", "required field is missing"),
        }
        self.unknown_members("", m, known::EVENT);

        let kinds = Kind::ALL.map(|k| (k.as_str(), k));
        let kind = self.enumerated(m, "", "kind", &kinds);
        if let (Some(kind), Some(key)) = (kind, routing_key) {
            if key != kind.routing_key() {
                // The routing key is named only when it is one of the contract's own.
                let arrived = Kind::ALL
                    .into_iter()
                    .find(|k| k.routing_key() == key)
                    .map_or_else(
                        || "a routing key that is not one of the contract's".to_owned(),
                        |k| format!("routing key {:?}", k.routing_key()),
                    );
                self.error_rule(
                    rule::ROUTING,
                    "kind",
                    format!(
                        "kind {:?} arrived with {arrived}; expected {:?}",
                        kind.as_str(),
                        kind.routing_key()
                    ),
                );
            }
        }
        let occurred_at = self.datetime(m, "", "occurred_at");
        let urgency = match m.get("urgency") {
            None | Some(Json::Null) => Some(Urgency::Standard),
            Some(_) => self.enumerated(
                m,
                "",
                "urgency",
                &[
                    ("standard", Urgency::Standard),
                    ("expedited", Urgency::Expedited),
                ],
            ),
        };
        let patient = self
            .object(m, "", "patient")
            .and_then(|(p, o)| self.patient(&p, o));
        let coverage = self
            .object(m, "", "coverage")
            .and_then(|(p, o)| self.coverage(&p, o));
        let provider = self
            .object(m, "", "provider")
            .and_then(|(p, o)| self.provider(&p, o));
        let service = self
            .object(m, "", "service")
            .and_then(|(p, o)| self.service(&p, o));
        let documentation = self
            .object(m, "", "documentation")
            .and_then(|(p, o)| self.documentation(&p, o));
        let appeal = match m.get("appeal") {
            None | Some(Json::Null) => {
                if kind == Some(Kind::Appeal) {
                    self.error_rule(
                        rule::APPEAL_OBJECT,
                        "appeal",
                        "kind is \"appeal\" but the appeal object is missing",
                    );
                }
                None
            }
            Some(_) => {
                if kind.is_some_and(|k| k != Kind::Appeal) {
                    self.error_rule(
                        rule::APPEAL_OBJECT,
                        "appeal",
                        "an appeal object is only allowed when kind is \"appeal\"",
                    );
                }
                self.object(m, "", "appeal")
                    .and_then(|(p, o)| self.appeal(&p, o))
            }
        };
        let original = self.original_member(m, kind);

        Some(CaseEvent {
            event_id: id.event_id.clone(),
            case_id: id.case_id.clone(),
            kind: kind?,
            occurred_at: occurred_at?,
            urgency: urgency?,
            patient: patient?,
            coverage: coverage?,
            provider: provider?,
            service: service?,
            documentation: documentation?,
            appeal,
            original: original?,
            unknown_members: std::mem::take(&mut self.unknown),
        })
    }

    /// `given_names`, optional: the non-blank strings (blank counts as not sent); anything else
    /// is reported at its index.
    fn given_names(&mut self, path: &str, m: &Members<'_>) -> Vec<String> {
        self.opt_array(m, path, "given_names")
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        Json::String(s) if s.trim().is_empty() => None,
                        Json::String(s) => Some(s.to_string()),
                        _ => {
                            self.error(&format!("{path}.given_names[{i}]"), "expected a string");
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn patient(&mut self, path: &str, m: &Members<'_>) -> Option<Patient> {
        self.unknown_members(path, m, known::PATIENT);
        let id = self.string(m, path, "id");
        let family_name = self.string(m, path, "family_name");
        let given_names = self.given_names(path, m);
        let birth_date = self.date(m, path, "birth_date");
        let sex = match m.get("sex") {
            None | Some(Json::Null) => Some(Sex::Unknown),
            Some(_) => self.enumerated(m, path, "sex", SEXES),
        };
        Some(Patient {
            id: id?,
            family_name: family_name?,
            given_names,
            birth_date: birth_date?,
            sex: sex?,
        })
    }

    fn coverage(&mut self, path: &str, m: &Members<'_>) -> Option<Coverage> {
        self.unknown_members(path, m, known::COVERAGE);
        let payer_id = self.string(m, path, "payer_id");
        let member_id = self.string(m, path, "member_id");
        let group_number = self.opt_string(m, path, "group_number");
        let relationship = match m.get("relationship") {
            None | Some(Json::Null) => Some(Relationship::SelfInsured),
            Some(_) => self.enumerated(
                m,
                path,
                "relationship",
                &[
                    ("self", Relationship::SelfInsured),
                    ("spouse", Relationship::Spouse),
                    ("child", Relationship::Child),
                    ("other", Relationship::Other),
                ],
            ),
        };
        let subscriber = self.opt_subscriber(path, m);
        // A payer finds a dependant's coverage through its subscriber (the policy holder): a
        // PAS Coverage whose relationship is not self must name one (`self-beneficiary`).
        if let (Some(r), Some(None)) = (relationship, &subscriber) {
            if r != Relationship::SelfInsured {
                self.error_rule(
                    rule::SUBSCRIBER,
                    &format!("{path}.subscriber"),
                    "a dependant's coverage must name its subscriber (the policy holder): the payer cannot find the coverage without one",
                );
            }
        }
        Some(Coverage {
            payer_id: payer_id?,
            member_id: member_id?,
            group_number: group_number?,
            relationship: relationship?,
            subscriber: subscriber?,
        })
    }

    fn provider(&mut self, path: &str, m: &Members<'_>) -> Option<Provider> {
        self.unknown_members(path, m, known::PROVIDER);
        let npi = self.npi(m, path, "npi");
        let name = self.string(m, path, "name");
        let taxonomy = self.opt_string(m, path, "taxonomy");
        let organization_npi = self.opt_npi(m, path, "organization_npi");
        Some(Provider {
            npi: npi?,
            name: name?,
            taxonomy: taxonomy?,
            organization_npi: organization_npi?,
        })
    }

    fn service(&mut self, path: &str, m: &Members<'_>) -> Option<Service> {
        self.unknown_members(path, m, known::SERVICE);
        let planned_date = self.date(m, path, "planned_date");
        let place_of_service = match m.get("place_of_service") {
            None | Some(Json::Null) => Some("11".to_owned()),
            // A code: blanks around it are ignored.
            Some(Json::String(s))
                if s.trim().len() == 2 && s.trim().bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(s.trim().to_owned())
            }
            Some(_) => {
                self.error(
                    &join(path, "place_of_service"),
                    "expected a two-digit CMS place-of-service code",
                );
                None
            }
        };
        let procedures = self.non_empty_list(m, path, "procedures", |d, p, v| d.procedure(p, v));
        let diagnoses = self.non_empty_list(m, path, "diagnoses", |d, p, v| d.diagnosis(p, v));
        let lesions = match m.get("lesions") {
            None | Some(Json::Null) => Some(None),
            Some(_) => self
                .object(m, path, "lesions")
                .and_then(|(p, o)| self.lesions(&p, o))
                .map(Some),
        };
        Some(Service {
            planned_date: planned_date?,
            place_of_service: place_of_service?,
            procedures: procedures?,
            diagnoses: diagnoses?,
            lesions: lesions?,
        })
    }

    fn procedure(&mut self, path: &str, v: &Json<'_>) -> Option<Procedure> {
        let m = self.as_object(path, v)?;
        self.unknown_members(path, m, known::PROCEDURE);
        let system = self.enumerated(
            m,
            path,
            "system",
            &[
                ("CPT", ProcedureSystem::Cpt),
                ("HCPCS", ProcedureSystem::Hcpcs),
            ],
        );
        let code_text = self.string(m, path, "code");
        let code = match (system, code_text) {
            (Some(system), Some(text)) => match ProcedureCode::parse(system, &text) {
                Ok(code) => Some(code),
                Err(e) => {
                    self.error_rule(
                        rule::CPT_FORMAT,
                        &join(path, "code"),
                        format!("{e}; {}", length(&text)),
                    );
                    None
                }
            },
            _ => None,
        };
        let modifiers = self
            .opt_array(m, path, "modifiers")
            .map(|items| {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let p = || format!("{path}.modifiers[{i}]");
                    match item.as_str().map(|text| (text, Modifier::parse(text))) {
                        Some((_, Ok(modifier))) => out.push(modifier),
                        Some((text, Err(e))) => {
                            self.error_rule(
                                rule::MOD_FORMAT,
                                &p(),
                                format!("{e}; {}", length(text)),
                            );
                        }
                        None => self.error_rule(rule::MOD_FORMAT, &p(), "expected a string"),
                    }
                }
                out
            })
            .unwrap_or_default();
        let units = match m.get("units") {
            None | Some(Json::Null) => Some(1),
            Some(v) => match positive_integer(v) {
                Some(u) => Some(u),
                None => {
                    self.error(&join(path, "units"), "expected a positive integer");
                    None
                }
            },
        };
        Some(Procedure {
            code: code?,
            modifiers,
            units: units?,
        })
    }

    fn diagnosis(&mut self, path: &str, v: &Json<'_>) -> Option<Diagnosis> {
        let m = self.as_object(path, v)?;
        self.unknown_members(path, m, known::DIAGNOSIS);
        let code = self
            .string(m, path, "code")
            .and_then(|text| match Icd10Cm::parse(&text) {
                Ok(code) => Some(code),
                Err(e) => {
                    self.error_rule(
                        rule::ICD_FORMAT,
                        &join(path, "code"),
                        format!("{e}; {}", length(&text)),
                    );
                    None
                }
            });
        let primary = match m.get("primary") {
            None | Some(Json::Null) => Some(false),
            Some(Json::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(&join(path, "primary"), "expected true or false");
                None
            }
        };
        Some(Diagnosis {
            code: code?,
            primary: primary?,
        })
    }

    fn lesions(&mut self, path: &str, m: &Members<'_>) -> Option<Lesions> {
        self.unknown_members(path, m, known::LESIONS);
        let count = match m.get("count") {
            None | Some(Json::Null) => {
                self.error(&join(path, "count"), "required field is missing");
                None
            }
            Some(v) => match positive_integer(v) {
                Some(c) => Some(c),
                None => {
                    self.error(&join(path, "count"), "expected a positive integer");
                    None
                }
            },
        };
        let max_size_mm = match m.get("max_size_mm") {
            None | Some(Json::Null) => {
                self.error(&join(path, "max_size_mm"), "required field is missing");
                None
            }
            Some(v) => match v.as_f64().filter(|s| s.is_finite() && *s > 0.0) {
                Some(s) => Some(s),
                None => {
                    self.error(
                        &join(path, "max_size_mm"),
                        "expected a positive number of millimetres",
                    );
                    None
                }
            },
        };
        let site = self.string(m, path, "site");
        let body_site = match m.get("body_site") {
            None | Some(Json::Null) => Some(None),
            Some(_) => self
                .object(m, path, "body_site")
                .and_then(|(p, o)| self.body_site(&p, o))
                .map(Some),
        };
        let distance_from_margin_mm = match m.get("distance_from_margin_mm") {
            None | Some(Json::Null) => Some(None),
            Some(v) => match v
                .as_f64()
                .filter(|d| d.is_finite() && (0.0..=50.0).contains(d))
            {
                Some(d) => Some(Some(d)),
                None => {
                    self.error(
                        &join(path, "distance_from_margin_mm"),
                        "expected a number of millimetres from 0 to 50",
                    );
                    None
                }
            },
        };
        let laterality = self.opt_enumerated(
            m,
            path,
            "laterality",
            &[
                ("right", Laterality::Right),
                ("left", Laterality::Left),
                ("both", Laterality::Both),
            ],
        );
        let lid = self.opt_enumerated(
            m,
            path,
            "lid",
            &[
                ("upper", LidPart::Upper),
                ("lower", LidPart::Lower),
                ("both", LidPart::Both),
            ],
        );
        Some(Lesions {
            count: count?,
            max_size_mm: max_size_mm?,
            site: site?,
            body_site: body_site?,
            distance_from_margin_mm: distance_from_margin_mm?,
            laterality: laterality?,
            lid: lid?,
        })
    }

    /// A SNOMED CT coding of the lesions' site: its concept id's digits.
    fn body_site(&mut self, path: &str, m: &Members<'_>) -> Option<String> {
        self.unknown_members(path, m, known::BODY_SITE);
        let system = match m.get("system") {
            None | Some(Json::Null) => {
                self.error(&join(path, "system"), "required field is missing");
                None
            }
            Some(Json::String(s)) if s == SNOMED_CT_SYSTEM => Some(()),
            Some(_) => {
                self.error(
                    &join(path, "system"),
                    format!("expected {SNOMED_CT_SYSTEM:?}"),
                );
                None
            }
        };
        let code =
            self.string(m, path, "code")
                .and_then(|text| match snomed_ct_concept_id(&text) {
                    Ok(code) => Some(code),
                    Err(e) => {
                        self.error(&join(path, "code"), format!("{e}; {}", length(&text)));
                        None
                    }
                });
        system?;
        code
    }

    fn documentation(&mut self, path: &str, m: &Members<'_>) -> Option<Documentation> {
        self.unknown_members(path, m, known::DOCUMENTATION);
        let mut ok = true;
        let indications = self
            .opt_array(m, path, "indications")
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v.as_str() {
                        Some(word) if !word.trim().is_empty() => Some(Indication::parse(word)),
                        _ => {
                            self.error(
                                &format!("{path}.indications[{i}]"),
                                "expected a non-empty word",
                            );
                            ok = false;
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let clinical_notes = self.list(m, path, "clinical_notes", |d, p, v| d.note(p, v));
        let photos = self.list(m, path, "photos", |d, p, v| d.photo(p, v));
        let prior_treatments = self.list(m, path, "prior_treatments", |d, p, v| d.treatment(p, v));
        let letter = match m.get("letter_of_medical_necessity") {
            None | Some(Json::Null) => Some(None),
            Some(_) => self
                .object(m, path, "letter_of_medical_necessity")
                .and_then(|(p, o)| self.letter(&p, o))
                .map(Some),
        };
        if !ok {
            return None;
        }
        Some(Documentation {
            indications,
            clinical_notes: clinical_notes?,
            photos: photos?,
            prior_treatments: prior_treatments?,
            letter_of_medical_necessity: letter?,
        })
    }

    fn note(&mut self, path: &str, v: &Json<'_>) -> Option<ClinicalNote> {
        let m = self.as_object(path, v)?;
        self.unknown_members(path, m, known::CLINICAL_NOTE);
        let id = self.string(m, path, "id");
        let date = self.date(m, path, "date");
        let author_npi = self.opt_npi(m, path, "author_npi");
        let author_organization_npi = self.opt_npi(m, path, "author_organization_npi");
        let text = self.string(m, path, "text");
        Some(ClinicalNote {
            id: id?,
            date: date?,
            author_npi: author_npi?,
            author_organization_npi: author_organization_npi?,
            text: text?,
        })
    }

    fn photo(&mut self, path: &str, v: &Json<'_>) -> Option<Photo> {
        let m = self.as_object(path, v)?;
        self.unknown_members(path, m, known::PHOTO);
        let id = self.string(m, path, "id");
        let taken_on = self.date(m, path, "taken_on");
        let uri = self.string(m, path, "uri");
        let content_type = match m.get("content_type") {
            None | Some(Json::Null) => Some("application/octet-stream".to_owned()),
            Some(_) => self.string(m, path, "content_type"),
        };
        Some(Photo {
            id: id?,
            taken_on: taken_on?,
            uri: uri?,
            content_type: content_type?,
        })
    }

    fn treatment(&mut self, path: &str, v: &Json<'_>) -> Option<PriorTreatment> {
        let m = self.as_object(path, v)?;
        self.unknown_members(path, m, known::PRIOR_TREATMENT);
        let treatment = self.string(m, path, "treatment");
        let from = self.date(m, path, "from");
        let to = match m.get("to") {
            None | Some(Json::Null) => Some(None),
            Some(_) => self.date(m, path, "to").map(Some),
        };
        let result = self.string(m, path, "result");
        Some(PriorTreatment {
            treatment: treatment?,
            from: from?,
            to: to?,
            result: result?,
        })
    }

    fn letter(&mut self, path: &str, m: &Members<'_>) -> Option<Letter> {
        self.unknown_members(path, m, known::LETTER);
        let uri = self.string(m, path, "uri");
        let signed_by_npi = self.npi(m, path, "signed_by_npi");
        let signed_on = self.date(m, path, "signed_on");
        Some(Letter {
            uri: uri?,
            signed_by_npi: signed_by_npi?,
            signed_on: signed_on?,
        })
    }

    fn appeal(&mut self, path: &str, m: &Members<'_>) -> Option<Appeal> {
        self.unknown_members(path, m, known::APPEAL);
        let original_event_id = self.string(m, path, "original_event_id");
        let payer_reference = self.string(m, path, "payer_reference");
        let denied_on = self.date(m, path, "denied_on");
        let denial_reason = match m.get("denial_reason") {
            None | Some(Json::Null) => Some(String::new()),
            Some(_) => self.string(m, path, "denial_reason"),
        };
        Some(Appeal {
            original_event_id: original_event_id?,
            payer_reference: payer_reference?,
            denied_on: denied_on?,
            denial_reason: denial_reason?,
        })
    }
}

#[cfg(test)]
mod tests;
