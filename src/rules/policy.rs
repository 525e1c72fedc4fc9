//! Payer policy as data: which codes need pre-authorization, which indications count, whether
//! photos are required (and must arrive as data), the appeal window, the severities it sets,
//! and how the payer reviews. A new payer is a new file under config/policies/, not new code.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::clinical::{Clinical, ClinicalError};
use crate::case::{registry, Finding, Indication, Severity};
use crate::codes::{CodeTable, Icd10Cm};

/// Policies shipped inside the binary, by name.
const EMBEDDED: [(&str, &str); 2] = [
    (
        "default",
        include_str!("../../config/policies/default.toml"),
    ),
    (
        "strict-commercial",
        include_str!("../../config/policies/strict-commercial.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    description: String,
    preauth_codes: Vec<String>,
    covered_indications: Vec<String>,
    #[serde(default)]
    excision_indications: Vec<String>,
    #[serde(default)]
    cosmetic_diagnoses: Vec<String>,
    #[serde(default)]
    non_therapeutic_diagnoses: Vec<String>,
    #[serde(default)]
    photos_required: bool,
    #[serde(default)]
    photo_data_required: bool,
    appeal_window_days: u32,
    #[serde(default = "default_valid_days")]
    authorization_valid_days: u32,
    #[serde(default)]
    review: ReviewFile,
    /// Rule id -> severity, for the rules the registry marks adjustable.
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
}

fn default_valid_days() -> u32 {
    90
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewFile {
    #[serde(default)]
    require_failed_conservative_treatment: bool,
    #[serde(default)]
    pend_codes: Vec<String>,
    #[serde(default = "one")]
    pend_rounds: u32,
    #[serde(default)]
    not_covered_codes: Vec<String>,
    member_id_pattern: Option<String>,
}

fn one() -> u32 {
    1
}

/// How a payer reviews requests (the simulator decides by it).
#[derive(Debug, Clone)]
pub struct Review {
    pub require_failed_conservative_treatment: bool,
    pub pend_codes: HashSet<String>,
    pub pend_rounds: u32,
    pub not_covered_codes: HashSet<String>,
    pub member_id_pattern: Option<regex::Regex>,
}

/// A payer policy, validated.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub description: String,
    pub preauth_codes: HashSet<String>,
    pub covered_indications: HashSet<Indication>,
    pub excision_indications: HashSet<Indication>,
    pub cosmetic_diagnoses: Vec<Icd10Cm>,
    pub non_therapeutic_diagnoses: Vec<Icd10Cm>,
    pub photos_required: bool,
    /// A photograph must reach the payer as data (inline, with its size and hash), not only as
    /// a link; `photos_required` still says whether one must be present at all.
    pub photo_data_required: bool,
    pub appeal_window_days: u32,
    pub authorization_valid_days: u32,
    pub review: Review,
    /// Severities this payer sets, by rule id (adjustable rules only; see `apply_severities`).
    pub severity: BTreeMap<&'static str, Severity>,
    /// The clinical vocabulary the rules read case text against (shared by every policy).
    pub clinical: Arc<Clinical>,
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("policy directory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy {name:?} is not known (known policies: {known})")]
    Unknown { name: String, known: String },
    #[error(transparent)]
    Clinical(#[from] ClinicalError),
}

impl Policy {
    /// Parses a policy and checks it against the code table and the rule registry.
    pub(crate) fn from_toml(
        text: &str,
        source_name: &str,
        codes: &CodeTable,
        clinical: Arc<Clinical>,
    ) -> Result<Self, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            source_name: source_name.to_owned(),
            message,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let indications =
            |key: &str, words: &[String]| -> Result<HashSet<Indication>, PolicyError> {
                words
                    .iter()
                    .map(|w| match Indication::parse(w) {
                        Indication::Unknown(_) => Err(invalid(format!(
                            "{key}: {w:?} is not in the indication vocabulary"
                        ))),
                        i if i.is_appearance_only() => Err(invalid(format!(
                            "{key}: {w:?} is an appearance-only reason and can never count"
                        ))),
                        i => Ok(i),
                    })
                    .collect()
            };
        let diagnoses = |key: &str, codes: &[String]| -> Result<Vec<Icd10Cm>, PolicyError> {
            codes
                .iter()
                .map(|c| Icd10Cm::parse(c).map_err(|e| invalid(format!("{key}: {c:?}: {e}"))))
                .collect()
        };
        let known_codes = |key: &str, list: &[String]| -> Result<HashSet<String>, PolicyError> {
            for c in list {
                if !codes.contains(c) {
                    return Err(invalid(format!("{key}: {c:?} is not in the code table")));
                }
            }
            Ok(list.iter().cloned().collect())
        };
        if file.appeal_window_days == 0 {
            return Err(invalid("appeal_window_days: must be at least 1".into()));
        }
        if file.review.pend_rounds == 0 && !file.review.pend_codes.is_empty() {
            return Err(invalid(
                "review.pend_rounds: must be at least 1 when pend_codes are listed".into(),
            ));
        }
        let member_id_pattern = match &file.review.member_id_pattern {
            None => None,
            Some(p) => Some(regex::Regex::new(p).map_err(|e| {
                invalid(format!(
                    "review.member_id_pattern: not a regular expression: {e}"
                ))
            })?),
        };
        let mut severity = BTreeMap::new();
        for (id, level) in file.severity {
            let mut rules = registry::by_id(&id);
            let Some(rule) = rules.next() else {
                return Err(invalid(format!(
                    "severity.{id}: not a rule id (`preauth-worker check --rules` lists them)"
                )));
            };
            if !rule.is_adjustable() || rules.next().is_some() {
                return Err(invalid(format!(
                    "severity.{id}: this rule's severity is fixed by the contract; a policy may set only the rules `check --rules` marks adjustable"
                )));
            }
            severity.insert(rule.id(), level);
        }
        Ok(Self {
            severity,
            clinical,
            preauth_codes: known_codes("preauth_codes", &file.preauth_codes)?,
            covered_indications: indications("covered_indications", &file.covered_indications)?,
            excision_indications: indications("excision_indications", &file.excision_indications)?,
            cosmetic_diagnoses: diagnoses("cosmetic_diagnoses", &file.cosmetic_diagnoses)?,
            non_therapeutic_diagnoses: diagnoses(
                "non_therapeutic_diagnoses",
                &file.non_therapeutic_diagnoses,
            )?,
            review: Review {
                require_failed_conservative_treatment: file
                    .review
                    .require_failed_conservative_treatment,
                pend_codes: known_codes("review.pend_codes", &file.review.pend_codes)?,
                pend_rounds: file.review.pend_rounds,
                not_covered_codes: known_codes(
                    "review.not_covered_codes",
                    &file.review.not_covered_codes,
                )?,
                member_id_pattern,
            },
            name: file.name,
            description: file.description,
            photos_required: file.photos_required,
            photo_data_required: file.photo_data_required,
            appeal_window_days: file.appeal_window_days,
            authorization_valid_days: file.authorization_valid_days,
        })
    }

    /// True when `indication` establishes medical necessity with this payer.
    pub fn covers(&self, indication: &Indication) -> bool {
        self.covered_indications.contains(indication)
    }

    /// Gives each finding of a rule this payer sets the payer's severity.
    pub(crate) fn apply_severities(&self, findings: &mut [Finding]) {
        if self.severity.is_empty() {
            return;
        }
        for f in findings {
            if let Some(level) = self.severity.get(f.rule.as_str()) {
                f.severity = *level;
            }
        }
    }
}

/// Every policy the worker knows, by name.
#[derive(Debug, Clone)]
pub struct Policies {
    by_name: BTreeMap<String, Arc<Policy>>,
}

impl Policies {
    /// The policies shipped in the binary, then every `*.toml` in `dir` (which may replace them).
    pub fn load(codes: &CodeTable, dir: Option<&Path>) -> Result<Self, PolicyError> {
        let clinical = Arc::new(Clinical::embedded()?);
        let mut by_name = BTreeMap::new();
        for (name, text) in EMBEDDED {
            let source = format!("config/policies/{name}.toml (embedded)");
            let policy = Policy::from_toml(text, &source, codes, clinical.clone())?;
            by_name.insert(name.to_owned(), Arc::new(policy));
        }
        if let Some(dir) = dir {
            let read_err = |source| PolicyError::Read {
                path: dir.display().to_string(),
                source,
            };
            let mut paths: Vec<_> = std::fs::read_dir(dir)
                .map_err(read_err)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let source = path.display().to_string();
                let policy = Policy::from_toml(&text, &source, codes, clinical.clone())?;
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                if policy.name != stem {
                    return Err(PolicyError::Invalid {
                        source_name: source,
                        message: format!(
                            "name {:?} must match the file name {stem:?}",
                            policy.name
                        ),
                    });
                }
                by_name.insert(policy.name.clone(), Arc::new(policy));
            }
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Result<Arc<Policy>, PolicyError> {
        self.by_name
            .get(name)
            .cloned()
            .ok_or_else(|| PolicyError::Unknown {
                name: name.to_owned(),
                known: self.names().join(", "),
            })
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> CodeTable {
        CodeTable::embedded().expect("code table")
    }

    fn clinical() -> Arc<Clinical> {
        Arc::new(Clinical::embedded().expect("clinical vocabulary"))
    }

    #[test]
    fn shipped_policies_load() {
        let policies = Policies::load(&codes(), None).expect("policies");
        let default = policies.get("default").expect("default");
        assert!(!default.photos_required);
        assert!(!default.photo_data_required);
        assert_eq!(default.appeal_window_days, 120);
        assert!(default.covers(&Indication::RestrictsVision));
        let strict = policies.get("strict-commercial").expect("strict");
        assert!(strict.photos_required);
        assert!(strict.photo_data_required);
        assert!(strict.review.require_failed_conservative_treatment);
        assert!(!strict.covers(&Indication::ChangeInAppearance));
    }

    #[test]
    fn a_policy_that_does_not_mention_photo_data_accepts_photos_by_link() {
        let text = include_str!("../../config/policies/default.toml")
            .replace("photo_data_required = false", "");
        assert!(!text.contains("photo_data_required ="));
        let policy = Policy::from_toml(&text, "t.toml", &codes(), clinical()).expect("loads");
        assert!(!policy.photo_data_required);
        let text = include_str!("../../config/policies/default.toml")
            .replace("photo_data_required = false", "photo_data_required = true");
        let policy = Policy::from_toml(&text, "t.toml", &codes(), clinical()).expect("loads");
        assert!(policy.photo_data_required && !policy.photos_required);
    }

    #[test]
    fn unknown_policy_names_the_known_ones() {
        let policies = Policies::load(&codes(), None).expect("policies");
        let err = policies.get("nope").expect_err("unknown").to_string();
        assert!(
            err.contains("default") && err.contains("strict-commercial"),
            "{err}"
        );
    }

    #[test]
    fn appearance_reason_can_never_be_a_covered_indication() {
        let text = include_str!("../../config/policies/default.toml")
            .replace("\"bleeding\", \"itching\"", "\"cosmetic\", \"itching\"");
        let err = Policy::from_toml(&text, "t.toml", &codes(), clinical()).expect_err("refused");
        assert!(err.to_string().contains("appearance-only"), "{err}");
    }

    #[test]
    fn policy_with_an_unknown_key_names_the_key() {
        let text = format!(
            "{}\nphoto_required = true\n",
            include_str!("../../config/policies/default.toml")
        );
        // The stray key lands in [review]; either way it must be named.
        let err = Policy::from_toml(&text, "t.toml", &codes(), clinical()).expect_err("refused");
        assert!(err.to_string().contains("photo_required"), "{err}");
    }

    #[test]
    fn policy_naming_a_code_outside_the_table_is_refused() {
        let text = include_str!("../../config/policies/default.toml")
            .replace("preauth_codes = [\"10040\"", "preauth_codes = [\"99999\"");
        let err = Policy::from_toml(&text, "t.toml", &codes(), clinical()).expect_err("refused");
        assert!(err.to_string().contains("99999"), "{err}");
    }

    #[test]
    fn a_policy_directory_adds_a_payer_without_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = include_str!("../../config/policies/default.toml")
            .replace("name = \"default\"", "name = \"regional-plan\"")
            .replace("photos_required = false", "photos_required = true");
        std::fs::write(dir.path().join("regional-plan.toml"), text).expect("write");
        let policies = Policies::load(&codes(), Some(dir.path())).expect("policies");
        assert!(
            policies
                .get("regional-plan")
                .expect("added")
                .photos_required
        );
    }

    fn with_severity(table: &str) -> Result<Policy, PolicyError> {
        let text = include_str!("../../config/policies/default.toml").replacen(
            "[severity]\n",
            &format!("[severity]\n{table}\n"),
            1,
        );
        Policy::from_toml(&text, "t.toml", &codes(), clinical())
    }

    #[test]
    fn a_policy_sets_the_severity_of_an_adjustable_rule_by_its_id() {
        let policy = with_severity("DOC-05 = \"error\"").expect("loads");
        let mut findings = vec![
            registry::DOC_05.finding("documentation.prior_treatments", "text"),
            registry::DOC_07.finding("documentation.indications[0]", "text"),
        ];
        policy.apply_severities(&mut findings);
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(findings[1].severity, Severity::Warning);
    }

    #[test]
    fn a_policy_naming_an_unknown_rule_is_refused_with_the_key() {
        let err = with_severity("DOC-99 = \"error\"").expect_err("refused");
        assert!(err.to_string().contains("severity.DOC-99"), "{err}");
    }

    #[test]
    fn a_policy_cannot_set_a_severity_the_contract_fixes() {
        for table in [
            "DEC-01 = \"warning\"",
            "COS-01 = \"error\"",
            "NEC-01 = \"warning\"",
        ] {
            let err = with_severity(table).expect_err("refused").to_string();
            assert!(err.contains("fixed by the contract"), "{table}: {err}");
        }
        let err = with_severity("DOC-05 = \"fatal\"").expect_err("refused");
        assert!(err.to_string().contains("fatal"), "{err}");
    }
}
