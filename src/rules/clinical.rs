//! The clinical vocabulary the rules read case text against (config/clinical.toml): the words of
//! lesion sites, vague indication words, the words a clinical note uses for each indication, and
//! the secondary diagnoses that support a symptom. Data, validated when the policies load.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::case::Indication;

/// The shipped vocabulary.
const EMBEDDED: &str = include_str!("../../config/clinical.toml");
const EMBEDDED_NAME: &str = "config/clinical.toml (embedded)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClinicalFile {
    sites: SitesFile,
    indications: IndicationsFile,
    evidence: BTreeMap<String, Vec<String>>,
    supporting_diagnoses: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SitesFile {
    eyelid: Vec<String>,
    lid_margin: Vec<String>,
    away_from_margin: Vec<String>,
    periocular: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicationsFile {
    vague: Vec<String>,
}

/// Why the clinical vocabulary could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ClinicalError {
    source_name: String,
    message: String,
}

/// The clinical vocabulary, validated.
pub struct Clinical {
    eyelid: Vec<String>,
    lid_margin: Vec<String>,
    away_from_margin: Vec<String>,
    periocular: Vec<String>,
    vague: Vec<String>,
    evidence: HashMap<Indication, Vec<String>>,
    supporting: HashMap<Indication, Vec<String>>,
}

impl std::fmt::Debug for Clinical {
    /// Counts only: the lists are long and every policy carries them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clinical")
            .field("evidence", &self.evidence.len())
            .field("supporting", &self.supporting.len())
            .finish_non_exhaustive()
    }
}

fn contains_any(text: &str, words: &[String]) -> bool {
    words.iter().any(|w| text.contains(w.as_str()))
}

impl Clinical {
    /// The vocabulary shipped in the binary.
    pub fn embedded() -> Result<Self, ClinicalError> {
        Self::from_toml(EMBEDDED, EMBEDDED_NAME)
    }

    pub(crate) fn from_toml(text: &str, source_name: &str) -> Result<Self, ClinicalError> {
        let invalid = |message: String| ClinicalError {
            source_name: source_name.to_owned(),
            message,
        };
        let file: ClinicalFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let words = |key: &str, list: Vec<String>, required: bool| {
            if required && list.is_empty() {
                return Err(invalid(format!("{key}: must list at least one word")));
            }
            for (i, w) in list.iter().enumerate() {
                if w.trim().is_empty() || w.trim() != w {
                    return Err(invalid(format!(
                        "{key}[{i}]: a word must not be blank or padded"
                    )));
                }
                if w.to_lowercase() != *w {
                    return Err(invalid(format!(
                        "{key}[{i}]: {w:?} must be lower case: text is matched in lower case"
                    )));
                }
            }
            Ok(list)
        };
        let indication = |key: &str, word: &str| match Indication::parse(word) {
            Indication::Unknown(_) => Err(invalid(format!(
                "{key}.{word}: not a word of the indication vocabulary"
            ))),
            i if i.is_appearance_only() => Err(invalid(format!(
                "{key}.{word}: an appearance-only reason never establishes necessity"
            ))),
            i => Ok(i),
        };

        let mut evidence = HashMap::new();
        for (word, list) in file.evidence {
            let i = indication("evidence", &word)?;
            evidence.insert(i, words(&format!("evidence.{word}"), list, true)?);
        }
        let mut supporting = HashMap::new();
        for (word, list) in file.supporting_diagnoses {
            let key = format!("supporting_diagnoses.{word}");
            let i = indication("supporting_diagnoses", &word)?;
            if list.is_empty() {
                return Err(invalid(format!("{key}: must list at least one prefix")));
            }
            for (n, p) in list.iter().enumerate() {
                if !is_icd_prefix(p) {
                    return Err(invalid(format!(
                        "{key}[{n}]: {p:?} is not an ICD-10-CM prefix (a letter, a digit, then up to five letters or digits, without the dot)"
                    )));
                }
            }
            supporting.insert(i, list);
        }
        let vague = words("indications.vague", file.indications.vague, false)?;
        for (n, w) in vague.iter().enumerate() {
            if !matches!(Indication::parse(w), Indication::Unknown(_)) {
                return Err(invalid(format!(
                    "indications.vague[{n}]: {w:?} is a word of the indication vocabulary"
                )));
            }
        }
        Ok(Self {
            eyelid: words("sites.eyelid", file.sites.eyelid, true)?,
            lid_margin: words("sites.lid_margin", file.sites.lid_margin, true)?,
            away_from_margin: words("sites.away_from_margin", file.sites.away_from_margin, false)?,
            periocular: words("sites.periocular", file.sites.periocular, true)?,
            vague,
            evidence,
            supporting,
        })
    }

    /// True when a lower-cased lesion site names the eyelid.
    pub(crate) fn names_eyelid(&self, site: &str) -> bool {
        contains_any(site, &self.eyelid)
    }

    /// True when a lower-cased lesion site places the lesion at the lid margin or lash line, and
    /// not at a distance from it.
    pub(crate) fn at_lid_margin(&self, site: &str) -> bool {
        contains_any(site, &self.lid_margin) && !contains_any(site, &self.away_from_margin)
    }

    /// True when a lower-cased lesion site is near the eye.
    pub(crate) fn is_periocular(&self, site: &str) -> bool {
        contains_any(site, &self.periocular)
    }

    /// True when a word outside the vocabulary is a vague one.
    pub(crate) fn is_vague(&self, word: &str) -> bool {
        self.vague.iter().any(|v| v == word)
    }

    /// The words a clinical note uses for `indication` (empty: it is not looked for).
    pub(crate) fn evidence_words(&self, indication: &Indication) -> &[String] {
        self.evidence.get(indication).map_or(&[], Vec::as_slice)
    }

    /// The ICD-10-CM prefixes (without the dot) of secondary diagnoses that support
    /// `indication`, the example to give first (empty: none is expected).
    pub(crate) fn supporting_prefixes(&self, indication: &Indication) -> &[String] {
        self.supporting.get(indication).map_or(&[], Vec::as_slice)
    }
}

/// A letter, a digit, then up to five letters or digits: the compact form of an ICD-10-CM code
/// or of its leading part.
fn is_icd_prefix(p: &str) -> bool {
    let b = p.as_bytes();
    (2..=7).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(from: &str, to: &str) -> Result<Clinical, ClinicalError> {
        assert!(EMBEDDED.contains(from), "{from}");
        Clinical::from_toml(&EMBEDDED.replacen(from, to, 1), "t.toml")
    }

    fn refused(from: &str, to: &str, names: &str) {
        let err = with(from, to).expect_err("refused").to_string();
        assert!(err.starts_with("t.toml: "), "{err}");
        assert!(err.contains(names), "{names} not in {err}");
    }

    #[test]
    fn the_shipped_vocabulary_loads_and_reads_sites() {
        let c = Clinical::embedded().expect("embedded");
        assert!(c.at_lid_margin("right lower lid lash line"));
        assert!(!c.at_lid_margin("6 mm above the lash line"));
        assert!(c.names_eyelid("medial canthus"));
        assert!(!c.names_eyelid("cheek margin"));
        assert!(c.is_periocular("periorbital skin"));
        assert!(c.is_vague("irritated") && !c.is_vague("crusting"));
        assert_eq!(
            c.supporting_prefixes(&Indication::RestrictsVision)[0],
            "H53"
        );
        assert!(c
            .evidence_words(&Indication::PriorBiopsy)
            .iter()
            .any(|w| w == "patholog"));
        assert!(c.evidence_words(&Indication::Cosmetic).is_empty());
    }

    #[test]
    fn an_unknown_key_is_named() {
        refused("[sites]\n", "[sites]\nnose = [\"nar\"]\n", "nose");
        refused(
            "[evidence]\n",
            "[evidence]\ncrusting = [\"crust\"]\n",
            "evidence.crusting",
        );
    }

    #[test]
    fn an_appearance_only_reason_has_no_evidence_or_supporting_diagnosis() {
        refused(
            "[evidence]\n",
            "[evidence]\ncosmetic = [\"look\"]\n",
            "evidence.cosmetic",
        );
        refused(
            "[supporting_diagnoses]\n",
            "[supporting_diagnoses]\nmakeup-trapping = [\"L70\"]\n",
            "supporting_diagnoses.makeup-trapping",
        );
    }

    #[test]
    fn words_must_be_lower_case_and_not_blank() {
        refused("\"hemorrh\"", "\"Hemorrh\"", "evidence.bleeding[2]");
        refused("\"sparing\"", "\"\"", "sites.away_from_margin[5]");
        refused(
            "eyelid = [\"lid\", \"lash\", \"canth\"]",
            "eyelid = []",
            "sites.eyelid",
        );
    }

    #[test]
    fn a_vague_word_must_be_outside_the_vocabulary() {
        refused("\"bothersome\"", "\"pain\"", "indications.vague[3]");
    }

    #[test]
    fn supporting_diagnoses_are_icd_prefixes_without_the_dot() {
        refused("\"R233\"", "\"R23.3\"", "supporting_diagnoses.bleeding[1]");
        refused("\"L29\"", "\"29L\"", "supporting_diagnoses.itching[0]");
        refused(
            "pain = [\"H571\"",
            "pain = [\"h571\"",
            "supporting_diagnoses.pain[0]",
        );
        assert!(is_icd_prefix("H1") && is_icd_prefix("H02822") && !is_icd_prefix("H"));
    }
}
