//! Decoding a case event from bytes, in two steps: `identify` (can it be answered at all?) and
//! `decode` (every field, every problem reported with its path; never a panic).
//!
//! Serde's derive stops at the first error; staff correcting a case want all of them at once, so
//! the fields are read here from a `serde_json::Value`, one finding per problem.
//!
//! Messages never repeat an input value, not even a slice of it: a value that failed to parse is
//! described by what was expected and its length, never shown. They are built from fixed text,
//! enumeration names and numbers only.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Map, Value};

use super::{
    Appeal, CaseEvent, ClinicalNote, Coverage, Diagnosis, Documentation, Finding, Indication, Kind,
    Lesions, Letter, Patient, Photo, PriorTreatment, Procedure, Provider, Relationship, Rule,
    Service, Sex, Urgency, CASE_SCHEMA_V1,
};
use crate::codes::{Icd10Cm, Modifier, Npi, ProcedureCode, ProcedureSystem};

/// Longest identifier accepted for `event_id` and `case_id`.
const MAX_ID_LEN: usize = 128;

/// Why a message cannot be answered and goes to the parking queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkReason {
    NotJson,
    NotAnObject,
    NoEventId,
    NoCaseId,
    TooLarge,
    RetriesExhausted,
    DeliveryLimit,
    HandlerPanic,
}

impl ParkReason {
    /// Every reason the worker parks for.
    pub const ALL: [ParkReason; 8] = [
        ParkReason::NotJson,
        ParkReason::NotAnObject,
        ParkReason::NoEventId,
        ParkReason::NoCaseId,
        ParkReason::TooLarge,
        ParkReason::RetriesExhausted,
        ParkReason::DeliveryLimit,
        ParkReason::HandlerPanic,
    ];

    /// The short code carried in the `x-preauth-reason` header.
    pub fn code(self) -> &'static str {
        match self {
            ParkReason::NotJson => "not-json",
            ParkReason::NotAnObject => "not-an-object",
            ParkReason::NoEventId => "no-event-id",
            ParkReason::NoCaseId => "no-case-id",
            ParkReason::TooLarge => "too-large",
            ParkReason::RetriesExhausted => "retries-exhausted",
            ParkReason::DeliveryLimit => "delivery-limit",
            ParkReason::HandlerPanic => "handler-panic",
        }
    }
}

/// A message that cannot be answered, with one human line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unidentifiable {
    pub reason: ParkReason,
    pub detail: String,
}

/// A message that can be answered: a JSON object with usable `event_id` and `case_id`.
#[derive(Clone)]
pub struct Identified {
    pub event_id: String,
    pub case_id: String,
    pub body: Value,
}

impl std::fmt::Debug for Identified {
    /// The ids only: the body is the whole case event.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identified")
            .field("event_id", &self.event_id)
            .field("case_id", &self.case_id)
            .field("body", &super::redact::Redacted)
            .finish()
    }
}

/// Parses the bytes and finds the identifiers. Anything that fails here is parked, not answered.
pub fn identify(bytes: &[u8]) -> Result<Identified, Unidentifiable> {
    let body: Value = serde_json::from_slice(bytes).map_err(|e| Unidentifiable {
        reason: ParkReason::NotJson,
        detail: format!("body is not JSON: {}", json_error(&e)),
    })?;
    let Some(map) = body.as_object() else {
        return Err(Unidentifiable {
            reason: ParkReason::NotAnObject,
            detail: format!("body is JSON {} rather than an object", json_kind(&body)),
        });
    };
    let event_id = usable_id(map, "event_id").map_err(|why| Unidentifiable {
        reason: ParkReason::NoEventId,
        detail: format!("event_id {why}"),
    })?;
    let case_id = usable_id(map, "case_id").map_err(|why| Unidentifiable {
        reason: ParkReason::NoCaseId,
        detail: format!("case_id {why}"),
    })?;
    Ok(Identified {
        event_id,
        case_id,
        body,
    })
}

fn usable_id(map: &Map<String, Value>, key: &str) -> Result<String, &'static str> {
    match map.get(key) {
        None | Some(Value::Null) => Err("is missing"),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Err("is empty")
            } else if s.len() > MAX_ID_LEN {
                Err("is longer than 128 characters")
            } else if s.chars().any(char::is_control) {
                Err("contains control characters")
            } else {
                Ok(s.to_owned())
            }
        }
        Some(_) => Err("is not a string"),
    }
}

/// What is wrong with a JSON text, by category and position only. serde_json's own message is not
/// used: for some errors it quotes the input.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "a syntax error",
        Category::Eof => "the text ends before the JSON value does",
        Category::Data => "a value of the wrong type",
        Category::Io => "a read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// The length of a refused value, for messages that must not show it.
fn length(text: &str) -> String {
    match text.chars().count() {
        1 => "the value given has 1 character".to_owned(),
        n => format!("the value given has {n} characters"),
    }
}

/// `YYYY-MM-DD` exactly: chrono's `%Y-%m-%d` also takes a sign, one-digit fields and blanks.
fn is_date_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// A whole number ≥ 1 that fits in u32; `2.0` counts (JSON does not tell integers apart).
fn positive_integer(v: &Value) -> Option<u32> {
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    })?;
    u32::try_from(n).ok().filter(|n| *n >= 1)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
            Err(d.findings)
        }
    }
}

/// The rules of decoding findings, by what they check (declared in the registry).
pub(crate) mod rule {
    pub(crate) use crate::case::registry::{
        DEC_01 as FIELD, DEC_02 as SCHEMA, DEC_03 as ROUTING, DEC_04 as APPEAL_OBJECT,
        FMT_CPT_01 as CPT_FORMAT, FMT_ICD_01 as ICD_FORMAT, FMT_MOD_01 as MOD_FORMAT,
        FMT_NPI_01 as NPI_FORMAT,
    };
}

#[derive(Default)]
struct Decoder {
    findings: Vec<Finding>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Decoder {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.findings.push(rule::FIELD.finding(path, message));
    }

    fn error_rule(&mut self, rule: &Rule, path: &str, message: impl Into<String>) {
        self.findings.push(rule.finding(path, message));
    }

    fn event(&mut self, id: &Identified, routing_key: Option<&str>) -> Option<CaseEvent> {
        // `identify` guarantees an object; an empty map keeps this total.
        let empty = Map::new();
        let m = id.body.as_object().unwrap_or(&empty);

        match m.get("schema") {
            Some(Value::String(s)) if s == CASE_SCHEMA_V1 => {}
            Some(Value::String(_)) => {
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

        let kind = self.enumerated(
            m,
            "",
            "kind",
            &[("submission", Kind::Submission), ("appeal", Kind::Appeal)],
        );
        if let (Some(kind), Some(key)) = (kind, routing_key) {
            if key != kind.routing_key() {
                // The routing key is named only when it is one of the contract's own.
                let arrived = [Kind::Submission, Kind::Appeal]
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
            None | Some(Value::Null) => Some(Urgency::Standard),
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
            None | Some(Value::Null) => {
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
                if kind == Some(Kind::Submission) {
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
        })
    }

    fn patient(&mut self, path: &str, m: &Map<String, Value>) -> Option<Patient> {
        let id = self.string(m, path, "id");
        let family_name = self.string(m, path, "family_name");
        let given_names = self
            .opt_array(m, path, "given_names")
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        // An optional free-text value: blank counts as not sent.
                        Value::String(s) if s.trim().is_empty() => None,
                        Value::String(s) => Some(s.clone()),
                        _ => {
                            self.error(&format!("{path}.given_names[{i}]"), "expected a string");
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let birth_date = self.date(m, path, "birth_date");
        let sex = match m.get("sex") {
            None | Some(Value::Null) => Some(Sex::Unknown),
            Some(_) => self.enumerated(
                m,
                path,
                "sex",
                &[
                    ("female", Sex::Female),
                    ("male", Sex::Male),
                    ("other", Sex::Other),
                    ("unknown", Sex::Unknown),
                ],
            ),
        };
        Some(Patient {
            id: id?,
            family_name: family_name?,
            given_names,
            birth_date: birth_date?,
            sex: sex?,
        })
    }

    fn coverage(&mut self, path: &str, m: &Map<String, Value>) -> Option<Coverage> {
        let payer_id = self.string(m, path, "payer_id");
        let member_id = self.string(m, path, "member_id");
        let group_number = self.opt_string(m, path, "group_number");
        let relationship = match m.get("relationship") {
            None | Some(Value::Null) => Some(Relationship::SelfInsured),
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
        Some(Coverage {
            payer_id: payer_id?,
            member_id: member_id?,
            group_number: group_number?,
            relationship: relationship?,
        })
    }

    fn provider(&mut self, path: &str, m: &Map<String, Value>) -> Option<Provider> {
        let npi = self.npi(m, path, "npi");
        let name = self.string(m, path, "name");
        let taxonomy = self.opt_string(m, path, "taxonomy");
        Some(Provider {
            npi: npi?,
            name: name?,
            taxonomy: taxonomy?,
        })
    }

    fn service(&mut self, path: &str, m: &Map<String, Value>) -> Option<Service> {
        let planned_date = self.date(m, path, "planned_date");
        let place_of_service = match m.get("place_of_service") {
            None | Some(Value::Null) => Some("11".to_owned()),
            // A code: blanks around it are ignored.
            Some(Value::String(s))
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
            None | Some(Value::Null) => Some(None),
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

    fn procedure(&mut self, path: &str, v: &Value) -> Option<Procedure> {
        let Some(m) = v.as_object() else {
            self.error(path, "expected an object");
            return None;
        };
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
                    let p = format!("{path}.modifiers[{i}]");
                    match item.as_str().map(|text| (text, Modifier::parse(text))) {
                        Some((_, Ok(modifier))) => out.push(modifier),
                        Some((text, Err(e))) => {
                            self.error_rule(rule::MOD_FORMAT, &p, format!("{e}; {}", length(text)));
                        }
                        None => self.error_rule(rule::MOD_FORMAT, &p, "expected a string"),
                    }
                }
                out
            })
            .unwrap_or_default();
        let units = match m.get("units") {
            None | Some(Value::Null) => Some(1),
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

    fn diagnosis(&mut self, path: &str, v: &Value) -> Option<Diagnosis> {
        let Some(m) = v.as_object() else {
            self.error(path, "expected an object");
            return None;
        };
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
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(b)) => Some(*b),
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

    fn lesions(&mut self, path: &str, m: &Map<String, Value>) -> Option<Lesions> {
        let count = match m.get("count") {
            None | Some(Value::Null) => {
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
            None | Some(Value::Null) => {
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
        Some(Lesions {
            count: count?,
            max_size_mm: max_size_mm?,
            site: site?,
        })
    }

    fn documentation(&mut self, path: &str, m: &Map<String, Value>) -> Option<Documentation> {
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
            None | Some(Value::Null) => Some(None),
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

    fn note(&mut self, path: &str, v: &Value) -> Option<ClinicalNote> {
        let m = self.as_object(path, v)?;
        let id = self.string(m, path, "id");
        let date = self.date(m, path, "date");
        let author_npi = match m.get("author_npi") {
            None | Some(Value::Null) => Some(None),
            Some(_) => self.npi(m, path, "author_npi").map(Some),
        };
        let text = self.string(m, path, "text");
        Some(ClinicalNote {
            id: id?,
            date: date?,
            author_npi: author_npi?,
            text: text?,
        })
    }

    fn photo(&mut self, path: &str, v: &Value) -> Option<Photo> {
        let m = self.as_object(path, v)?;
        let id = self.string(m, path, "id");
        let taken_on = self.date(m, path, "taken_on");
        let uri = self.string(m, path, "uri");
        let content_type = match m.get("content_type") {
            None | Some(Value::Null) => Some("application/octet-stream".to_owned()),
            Some(_) => self.string(m, path, "content_type"),
        };
        Some(Photo {
            id: id?,
            taken_on: taken_on?,
            uri: uri?,
            content_type: content_type?,
        })
    }

    fn treatment(&mut self, path: &str, v: &Value) -> Option<PriorTreatment> {
        let m = self.as_object(path, v)?;
        let treatment = self.string(m, path, "treatment");
        let from = self.date(m, path, "from");
        let to = match m.get("to") {
            None | Some(Value::Null) => Some(None),
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

    fn letter(&mut self, path: &str, m: &Map<String, Value>) -> Option<Letter> {
        let uri = self.string(m, path, "uri");
        let signed_by_npi = self.npi(m, path, "signed_by_npi");
        let signed_on = self.date(m, path, "signed_on");
        Some(Letter {
            uri: uri?,
            signed_by_npi: signed_by_npi?,
            signed_on: signed_on?,
        })
    }

    fn appeal(&mut self, path: &str, m: &Map<String, Value>) -> Option<Appeal> {
        let original_event_id = self.string(m, path, "original_event_id");
        let payer_reference = self.string(m, path, "payer_reference");
        let denied_on = self.date(m, path, "denied_on");
        let denial_reason = match m.get("denial_reason") {
            None | Some(Value::Null) => Some(String::new()),
            Some(_) => self.string(m, path, "denial_reason"),
        };
        Some(Appeal {
            original_event_id: original_event_id?,
            payer_reference: payer_reference?,
            denied_on: denied_on?,
            denial_reason: denial_reason?,
        })
    }

    // ---- field readers ------------------------------------------------------------------

    fn as_object<'a>(&mut self, path: &str, v: &'a Value) -> Option<&'a Map<String, Value>> {
        let o = v.as_object();
        if o.is_none() {
            self.error(path, "expected an object");
        }
        o
    }

    fn object<'a>(
        &mut self,
        m: &'a Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<(String, &'a Map<String, Value>)> {
        let p = join(path, key);
        match m.get(key) {
            None | Some(Value::Null) => {
                self.error(&p, "required field is missing");
                None
            }
            Some(Value::Object(o)) => Some((p, o)),
            Some(_) => {
                self.error(&p, "expected an object");
                None
            }
        }
    }

    fn string(&mut self, m: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        match m.get(key) {
            None | Some(Value::Null) => {
                self.error(&join(path, key), "required field is missing");
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::String(_)) => {
                self.error(&join(path, key), "must not be empty");
                None
            }
            Some(_) => {
                self.error(&join(path, key), "expected a string");
                None
            }
        }
    }

    /// `Some(None)` when absent or null, `None` when present but wrong.
    fn opt_string(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Option<String>> {
        match m.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone()).filter(|s| !s.trim().is_empty())),
            Some(_) => {
                self.error(&join(path, key), "expected a string");
                None
            }
        }
    }

    fn opt_array<'a>(
        &mut self,
        m: &'a Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'a Vec<Value>> {
        match m.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                self.error(&join(path, key), "expected an array");
                None
            }
        }
    }

    /// An optional list (absent means empty) whose items all decode.
    fn list<T>(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        item: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        match m.get(key) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(_)) => self.items(m, path, key, item),
            Some(_) => {
                self.error(&join(path, key), "expected an array");
                None
            }
        }
    }

    /// A required list with at least one item, all of which decode.
    fn non_empty_list<T>(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        item: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        match m.get(key) {
            None | Some(Value::Null) => {
                self.error(&join(path, key), "required field is missing");
                None
            }
            Some(Value::Array(a)) if a.is_empty() => {
                self.error(&join(path, key), "must list at least one entry");
                None
            }
            Some(Value::Array(_)) => self.items(m, path, key, item),
            Some(_) => {
                self.error(&join(path, key), "expected an array");
                None
            }
        }
    }

    fn items<T>(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        mut item: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        let items = m.get(key).and_then(Value::as_array)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, v) in items.iter().enumerate() {
            match item(self, &format!("{}[{i}]", join(path, key)), v) {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn enumerated<T: Copy>(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        let p = join(path, key);
        let names = || {
            allowed
                .iter()
                .map(|(n, _)| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match m.get(key) {
            None | Some(Value::Null) => {
                self.error(&p, "required field is missing");
                None
            }
            Some(Value::String(s)) => {
                let found = allowed.iter().find(|(n, _)| *n == s).map(|(_, v)| *v);
                if found.is_none() {
                    self.error(&p, format!("expected one of {}", names()));
                }
                found
            }
            Some(_) => {
                self.error(&p, format!("expected one of {}", names()));
                None
            }
        }
    }

    fn date(&mut self, m: &Map<String, Value>, path: &str, key: &str) -> Option<NaiveDate> {
        let p = join(path, key);
        match m.get(key) {
            None | Some(Value::Null) => {
                self.error(&p, "required field is missing");
                None
            }
            Some(Value::String(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if is_date_shaped(s) => Some(d),
                _ => {
                    self.error(&p, "expected a calendar date YYYY-MM-DD");
                    None
                }
            },
            Some(_) => {
                self.error(&p, "expected a calendar date YYYY-MM-DD");
                None
            }
        }
    }

    fn datetime(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<DateTime<FixedOffset>> {
        let p = join(path, key);
        match m.get(key) {
            None | Some(Value::Null) => {
                self.error(&p, "required field is missing");
                None
            }
            // chrono also takes U+2212 MINUS SIGN before the offset, which RFC 3339 does not.
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) if s.is_ascii() => Some(t),
                _ => {
                    self.error(&p, "expected an RFC 3339 date-time with a UTC offset");
                    None
                }
            },
            Some(_) => {
                self.error(&p, "expected an RFC 3339 date-time with a UTC offset");
                None
            }
        }
    }

    fn npi(&mut self, m: &Map<String, Value>, path: &str, key: &str) -> Option<Npi> {
        let text = self.string(m, path, key)?;
        match Npi::parse(&text) {
            Ok(npi) => Some(npi),
            // `CodeError` messages are fixed text: they say what was expected, never the value.
            Err(e) => {
                self.error_rule(rule::NPI_FORMAT, &join(path, key), e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "schema": "preauth.case.v1",
            "event_id": "e-1",
            "case_id": "C-1",
            "kind": "submission",
            "occurred_at": "2026-11-20T14:03:00Z",
            "patient": {"id": "P-1", "family_name": "Doe", "birth_date": "1979-04-02"},
            "coverage": {"payer_id": "acme-health", "member_id": "M1"},
            "provider": {"npi": "1234567893", "name": "Clinic"},
            "service": {
                "planned_date": "2026-12-10",
                "procedures": [{"code": "67850", "system": "CPT", "modifiers": ["E4"], "units": 1}],
                "diagnoses": [{"code": "H02.822", "primary": true}],
                "lesions": {"count": 1, "max_size_mm": 2.0, "site": "right lower lid margin"}
            },
            "documentation": {}
        })
    }

    fn decode_value(v: Value, key: Option<&str>) -> Result<CaseEvent, Vec<Finding>> {
        let bytes = serde_json::to_vec(&v).expect("serialize");
        let id = identify(&bytes).expect("identifiable");
        decode(&id, key)
    }

    fn paths(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{}|{}", f.rule, f.path))
            .collect()
    }

    #[test]
    fn minimal_event_decodes_with_defaults() {
        let ev = decode_value(minimal(), Some("case.submitted")).expect("decodes");
        assert_eq!(ev.urgency, Urgency::Standard);
        assert_eq!(ev.service.place_of_service, "11");
        assert_eq!(ev.patient.sex, Sex::Unknown);
        assert!(ev.documentation.indications.is_empty());
        assert_eq!(ev.service.procedures[0].units, 1);
    }

    #[test]
    fn not_json_is_unidentifiable_with_reason_not_json() {
        let err = identify(b"{not json").expect_err("parked");
        assert_eq!(err.reason, ParkReason::NotJson);
        assert_eq!(err.reason.code(), "not-json");
    }

    #[test]
    fn json_that_is_not_an_object_is_unidentifiable() {
        assert_eq!(
            identify(b"[1,2]").expect_err("array").reason,
            ParkReason::NotAnObject
        );
        assert_eq!(
            identify(b"\"x\"").expect_err("string").reason,
            ParkReason::NotAnObject
        );
    }

    #[test]
    fn missing_or_unusable_ids_are_unidentifiable() {
        let cases: [(&[u8], ParkReason); 5] = [
            (br#"{"case_id":"C"}"#, ParkReason::NoEventId),
            (br#"{"event_id":"","case_id":"C"}"#, ParkReason::NoEventId),
            (br#"{"event_id":7,"case_id":"C"}"#, ParkReason::NoEventId),
            (br#"{"event_id":"e"}"#, ParkReason::NoCaseId),
            (br#"{"event_id":"e","case_id":"   "}"#, ParkReason::NoCaseId),
        ];
        for (body, reason) in cases {
            assert_eq!(identify(body).expect_err("parked").reason, reason);
        }
    }

    #[test]
    fn zero_units_is_a_finding_with_the_exact_path() {
        let mut v = minimal();
        v["service"]["procedures"][0]["units"] = json!(0);
        let findings = decode_value(v, None).expect_err("rejected");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].path, "service.procedures[0].units");
        assert_eq!(findings[0].message, "expected a positive integer");
    }

    #[test]
    fn a_whole_number_written_with_a_decimal_point_is_a_valid_count() {
        let mut v = minimal();
        v["service"]["procedures"][0]["units"] = json!(2.0);
        v["service"]["lesions"]["count"] = json!(3.0);
        let ev = decode_value(v.clone(), None).expect("decodes");
        assert_eq!(ev.service.procedures[0].units, 2);
        v["service"]["procedures"][0]["units"] = json!(1.5);
        assert!(decode_value(v, None).is_err());
    }

    #[test]
    fn dates_are_written_yyyy_mm_dd_exactly_and_are_real_days() {
        for (text, ok) in [
            ("2028-02-29", true),
            ("0000-01-01", true),
            ("2026-02-29", false),
            ("+2026-1-01", false),
            ("2026-12- 1", false),
            (" 2026-12-1", false),
            ("-002-01-01", false),
        ] {
            let mut v = minimal();
            v["patient"]["birth_date"] = json!(text);
            assert_eq!(decode_value(v, None).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn occurred_at_is_ascii_rfc_3339_with_its_offset() {
        for (text, ok) in [
            ("2026-11-20 14:03:00.5-05:00", true),
            ("2026-11-20t14:03:00z", true),
            ("2026-11-20T14:03:00\u{2212}05:00", false),
            ("2026-11-20T14:03:00", false),
        ] {
            let mut v = minimal();
            v["occurred_at"] = json!(text);
            assert_eq!(decode_value(v, None).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn place_of_service_is_a_code_read_without_its_blanks() {
        let mut v = minimal();
        v["service"]["place_of_service"] = json!(" 22\u{a0}");
        let ev = decode_value(v, None).expect("decodes");
        assert_eq!(ev.service.place_of_service, "22");
    }

    #[test]
    fn blank_given_names_count_as_not_sent() {
        let mut v = minimal();
        v["patient"]["given_names"] = json!(["Ann", "", "  "]);
        let ev = decode_value(v, None).expect("decodes");
        assert_eq!(ev.patient.given_names, vec!["Ann".to_owned()]);
    }

    #[test]
    fn every_decoding_problem_is_reported_at_once() {
        let mut v = minimal();
        v["service"]["procedures"][0]["modifiers"] = json!(["E44"]);
        v["service"]["diagnoses"][0]["code"] = json!("HH2.822");
        v["provider"]["npi"] = json!("1234567890");
        v["patient"]["birth_date"] = json!("02/04/1979");
        v["urgency"] = json!("urgent");
        let findings = decode_value(v, None).expect_err("rejected");
        let got = paths(&findings);
        for want in [
            "FMT-MOD-01|service.procedures[0].modifiers[0]",
            "FMT-ICD-01|service.diagnoses[0].code",
            "FMT-NPI-01|provider.npi",
            "DEC-01|patient.birth_date",
            "DEC-01|urgency",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
    }

    #[test]
    fn decoding_messages_never_repeat_patient_values() {
        let mut v = minimal();
        v["patient"]["birth_date"] = json!("02/04/1979");
        v["patient"]["family_name"] = json!(42);
        let findings = decode_value(v, None).expect_err("rejected");
        for f in &findings {
            assert!(!f.message.contains("1979"), "{f:?}");
            assert!(!f.message.contains("42"), "{f:?}");
        }
    }

    #[test]
    fn a_bad_code_is_reported_with_its_length_but_never_its_value() {
        let mut v = minimal();
        v["service"]["procedures"][0]["code"] = json!("ivan petrov 1950");
        v["service"]["procedures"][0]["modifiers"] = json!(["E4", "ivan"]);
        v["service"]["diagnoses"][0]["code"] = json!("IVAN-05-17");
        let findings = decode_value(v, None).expect_err("rejected");
        let got: Vec<(&str, &str, &str)> = findings
            .iter()
            .map(|f| (f.rule.as_str(), f.path.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "FMT-CPT-01",
                    "service.procedures[0].code",
                    "expected a CPT code (5 digits, or 4 digits followed by F, T or U); the value given has 16 characters"
                ),
                (
                    "FMT-MOD-01",
                    "service.procedures[0].modifiers[1]",
                    "expected a two-character modifier (letters or digits); the value given has 4 characters"
                ),
                (
                    "FMT-ICD-01",
                    "service.diagnoses[0].code",
                    "expected an ICD-10-CM code (letter, digit, letter or digit, then up to 4 more, dot optional after the third); the value given has 10 characters"
                ),
            ]
        );
        for f in &findings {
            let text = format!("{} {}", f.path, f.message).to_lowercase();
            for part in ["ivan", "petrov", "1950", "05-17"] {
                assert!(!text.contains(part), "{part} in {f:?}");
            }
        }
    }

    #[test]
    fn a_foreign_schema_is_reported_without_its_name() {
        let mut v = minimal();
        v["schema"] = json!("patient ivan petrov");
        let findings = decode_value(v, None).expect_err("rejected");
        assert_eq!(paths(&findings), vec!["DEC-02|schema"]);
        assert_eq!(
            findings[0].message,
            "unsupported schema: this worker accepts \"preauth.case.v1\" only"
        );
    }

    #[test]
    fn a_routing_key_is_named_only_when_it_is_one_of_the_contracts() {
        let findings = decode_value(minimal(), Some("case.appeal")).expect_err("rejected");
        assert_eq!(
            findings[0].message,
            "kind \"submission\" arrived with routing key \"case.appeal\"; expected \"case.submitted\""
        );
        let findings = decode_value(minimal(), Some("case.ivan-petrov")).expect_err("rejected");
        assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
        assert!(!findings[0].message.contains("ivan"), "{:?}", findings[0]);
    }

    #[test]
    fn a_body_that_is_not_json_is_described_by_its_position_only() {
        for body in [
            &br#"{"note": "ivan petrov" "dob": 1950}"#[..],
            br#"{"note": "ivan petrov"#,
            br#"{"note": "ivan petrov\q"}"#,
            br#"["ivan petrov"] x"#,
        ] {
            let err = identify(body).expect_err("not JSON");
            assert_eq!(err.reason, ParkReason::NotJson);
            assert!(err.detail.starts_with("body is not JSON: "), "{err:?}");
            assert!(err.detail.contains("line 1 column"), "{err:?}");
            assert!(!err.detail.contains("ivan"), "{err:?}");
        }
    }

    #[test]
    fn identified_debug_shows_the_ids_but_not_the_body() {
        let mut v = minimal();
        v["patient"]["family_name"] = json!("Petrov");
        let bytes = serde_json::to_vec(&v).expect("serialize");
        let id = identify(&bytes).expect("identifiable");
        let shown = format!("{id:?} {id:#?}");
        assert!(shown.contains("C-1") && shown.contains("e-1"), "{shown}");
        assert!(!shown.contains("Petrov"), "{shown}");
    }

    #[test]
    fn appeal_kind_without_an_appeal_object_is_a_finding() {
        let mut v = minimal();
        v["kind"] = json!("appeal");
        let findings = decode_value(v, Some("case.appeal")).expect_err("rejected");
        assert_eq!(paths(&findings), vec!["DEC-04|appeal"]);
    }

    #[test]
    fn unsupported_schema_is_a_single_finding() {
        let mut v = minimal();
        v["schema"] = json!("preauth.case.v9");
        v["service"] = json!("garbage");
        let findings = decode_value(v, None).expect_err("rejected");
        assert_eq!(paths(&findings), vec!["DEC-02|schema"]);
    }

    #[test]
    fn routing_key_that_contradicts_kind_is_a_finding() {
        let findings = decode_value(minimal(), Some("case.appeal")).expect_err("rejected");
        assert_eq!(paths(&findings), vec!["DEC-03|kind"]);
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let mut v = minimal();
        v["new_optional_field"] = json!({"anything": [1, 2, 3]});
        v["service"]["procedures"][0]["note"] = json!("extra");
        assert!(decode_value(v, None).is_ok());
    }

    #[test]
    fn unknown_indication_words_decode_as_unknown() {
        let mut v = minimal();
        v["documentation"]["indications"] = json!(["pain", "Irritated"]);
        let ev = decode_value(v, None).expect("decodes");
        assert_eq!(
            ev.documentation.indications,
            vec![Indication::Pain, Indication::Unknown("irritated".into())]
        );
    }

    #[test]
    fn deeply_wrong_types_never_panic() {
        for (parent, key, val) in [
            ("/service", "procedures", json!({"a": 1})),
            ("/service", "procedures", json!([])),
            ("/service", "procedures", json!(["67850"])),
            (
                "/service",
                "lesions",
                json!({"count": -3, "max_size_mm": "big", "site": 5}),
            ),
            ("", "documentation", json!([])),
            (
                "/documentation",
                "clinical_notes",
                json!([null, 3, {"id": 1}]),
            ),
            ("/documentation", "letter_of_medical_necessity", json!(true)),
            ("", "occurred_at", json!(1_700_000_000)),
            ("", "coverage", json!(null)),
        ] {
            let mut v = minimal();
            let slot = v
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .expect(parent);
            slot.insert(key.to_owned(), val);
            let ptr = format!("{parent}/{key}");
            let findings = decode_value(v, None).expect_err(&ptr);
            assert!(!findings.is_empty(), "{ptr}");
        }
    }
}
