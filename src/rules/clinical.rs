//! The clinical vocabulary the rules read case text against (config/clinical.toml): the words of
//! lesion sites, vague indication words, the words a clinical note uses for each indication, and
//! the secondary diagnoses that support a symptom. Data, validated when the policies load.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::case::{Indication, Laterality, LidPart};
use crate::notes::{Class, Classes, Kind, Mention, Reader, Term};

/// The shipped vocabulary.
const EMBEDDED: &str = include_str!("../../config/clinical.toml");
const EMBEDDED_NAME: &str = "config/clinical.toml (embedded)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClinicalFile {
    sites: SitesFile,
    indications: IndicationsFile,
    evidence: BTreeMap<String, EvidenceFile>,
    supporting_diagnoses: BTreeMap<String, Vec<String>>,
    body_sites: BTreeMap<String, BodySiteFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodySiteFile {
    name: String,
    part: String,
    laterality: Option<String>,
    lid: Option<String>,
    source: String,
}

/// What part of the eyelid region a coded body site is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyPart {
    /// The lid margin (lash line, gray line).
    Margin,
    /// The skin of the eyelid, off the margin.
    Skin,
    /// The eyelid as a whole: the part is not said.
    Eyelid,
    /// Anywhere else.
    Other,
}

/// A SNOMED CT body site the worker knows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodySite {
    pub(crate) part: BodyPart,
    pub(crate) laterality: Option<Laterality>,
    pub(crate) lid: Option<LidPart>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SitesFile {
    margin: Vec<String>,
    off_margin: Vec<String>,
    eyelid: Vec<String>,
    periocular: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicationsFile {
    vague: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceFile {
    terms: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    context: Vec<String>,
}

/// Why the clinical vocabulary could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ClinicalError {
    source_name: String,
    message: String,
}

/// Labels of the site reader's targets.
const MARGIN: u32 = 0;
const OFF_MARGIN: u32 = 1;
const EYELID: u32 = 2;
const PERIOCULAR: u32 = 3;

/// What a lesion site's text says, read with the ConText triggers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteReading {
    /// The margin is named and not denied ("right lower lid margin").
    pub(crate) margin_affirmed: bool,
    /// The margin is named only to deny it or as a possibility ("margin spared").
    pub(crate) margin_denied: bool,
    /// Something places the lesion off the margin or only near it ("4 mm inferior to").
    pub(crate) off_margin: bool,
    pub(crate) eyelid: bool,
    pub(crate) periocular: bool,
}

impl SiteReading {
    /// True when the site text affirmatively places the lesion on the margin and nothing in it
    /// places the lesion elsewhere.
    pub(crate) fn at_margin(&self) -> bool {
        self.margin_affirmed && !self.margin_denied && !self.off_margin
    }
}

/// What one clinical note says: its mentions of indications, each with the classes that take
/// its weight away (empty: it counts), and whether it speaks of the lid margin.
#[derive(Debug, Default)]
pub(crate) struct NoteReading {
    pub(crate) mentions: Vec<(Indication, Classes)>,
    /// The margin is named and not denied.
    pub(crate) margin_affirmed: bool,
    /// The margin is named to deny it ("lid margin clear").
    pub(crate) margin_denied: bool,
}

/// The clinical vocabulary, validated.
pub struct Clinical {
    /// Reads notes for the indications; a target's label is its index in `indications`.
    notes: Reader,
    indications: Vec<Indication>,
    /// Per indication, the classes that do not take a mention's weight away.
    accepted: HashMap<Indication, Classes>,
    sites: Reader,
    vague: Vec<String>,
    supporting: HashMap<Indication, Vec<String>>,
    body_sites: HashMap<String, BodySite>,
}

impl std::fmt::Debug for Clinical {
    /// Counts only: the lists are long and every policy carries them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clinical")
            .field("evidence", &self.indications.len())
            .field("supporting", &self.supporting.len())
            .finish_non_exhaustive()
    }
}

impl Clinical {
    /// The vocabulary shipped in the binary, read with the shipped ConText triggers.
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

        let mut indications = Vec::new();
        let mut accepted = HashMap::new();
        let mut evidence_terms: Vec<(String, u32, Kind)> = Vec::new();
        for (word, e) in file.evidence {
            let i = indication("evidence", &word)?;
            let label = u32::try_from(indications.len()).unwrap_or(u32::MAX);
            let key = format!("evidence.{word}");
            for t in words(&format!("{key}.terms"), e.terms, true)? {
                evidence_terms.push((t, label, Kind::Mention));
            }
            for t in words(&format!("{key}.absent"), e.absent, false)? {
                evidence_terms.push((t, label, Kind::Absent));
            }
            for t in words(&format!("{key}.ignore"), e.ignore, false)? {
                evidence_terms.push((t, label, Kind::Ignore));
            }
            let mut classes = Classes::default();
            for (n, c) in e.context.iter().enumerate() {
                let class = Class::ALL
                    .into_iter()
                    .find(|k| k.name() == c)
                    .ok_or_else(|| {
                        invalid(format!(
                            "{key}.context[{n}]: {c:?} is not a ConText class (negated, hypothetical, historical, other-person)"
                        ))
                    })?;
                if class == Class::Negated {
                    return Err(invalid(format!(
                        "{key}.context[{n}]: a negated mention never documents an indication"
                    )));
                }
                classes.insert(class);
            }
            accepted.insert(i.clone(), classes);
            indications.push(i);
        }
        let sites = file.sites;
        // The notes are read for the lid margin too, in the same pass.
        let margin_label = u32::try_from(indications.len()).unwrap_or(u32::MAX);
        for t in &sites.margin {
            evidence_terms.push((t.clone(), margin_label, Kind::Mention));
        }
        let notes = Reader::embedded(evidence_terms.iter().map(|(t, label, kind)| Term {
            phrase: t,
            label: *label,
            kind: *kind,
        }))
        .map_err(|e| invalid(e.to_string()))?;

        let mut site_terms = Vec::new();
        for (key, list, label) in [
            ("sites.margin", sites.margin, MARGIN),
            ("sites.off_margin", sites.off_margin, OFF_MARGIN),
            ("sites.eyelid", sites.eyelid, EYELID),
            ("sites.periocular", sites.periocular, PERIOCULAR),
        ] {
            for t in words(key, list, true)? {
                site_terms.push((t, label));
            }
        }
        let sites = Reader::embedded(site_terms.iter().map(|(t, label)| Term {
            phrase: t,
            label: *label,
            kind: Kind::Mention,
        }))
        .map_err(|e| invalid(e.to_string()))?
        .per_label();

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
        let mut body_sites = HashMap::new();
        for (code, b) in file.body_sites {
            let key = format!("body_sites.{code}");
            if crate::codes::snomed_ct_concept_id(&code).as_deref() != Ok(code.as_str()) {
                return Err(invalid(format!(
                    "{key}: not a SNOMED CT concept id (6 to 18 digits, a concept partition, a valid check digit)"
                )));
            }
            if b.name.trim().is_empty() || b.source.trim().is_empty() {
                return Err(invalid(format!("{key}: name and source must not be blank")));
            }
            let part = match b.part.as_str() {
                "margin" => BodyPart::Margin,
                "skin" => BodyPart::Skin,
                "eyelid" => BodyPart::Eyelid,
                "other" => BodyPart::Other,
                other => {
                    return Err(invalid(format!(
                        "{key}.part: {other:?} is not margin, skin, eyelid or other"
                    )))
                }
            };
            let laterality = match b.laterality.as_deref() {
                None => None,
                Some("right") => Some(Laterality::Right),
                Some("left") => Some(Laterality::Left),
                Some(other) => {
                    return Err(invalid(format!(
                        "{key}.laterality: {other:?} is not right or left"
                    )))
                }
            };
            let lid = match b.lid.as_deref() {
                None => None,
                Some("upper") => Some(LidPart::Upper),
                Some("lower") => Some(LidPart::Lower),
                Some(other) => {
                    return Err(invalid(format!(
                        "{key}.lid: {other:?} is not upper or lower"
                    )))
                }
            };
            body_sites.insert(
                code,
                BodySite {
                    part,
                    laterality,
                    lid,
                },
            );
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
            notes,
            indications,
            accepted,
            sites,
            vague,
            supporting,
            body_sites,
        })
    }

    /// A SNOMED CT body site the worker knows (None: not in `[body_sites]`).
    pub(crate) fn body_site(&self, code: &str) -> Option<BodySite> {
        self.body_sites.get(code).copied()
    }

    /// Reads a lesion site.
    pub(crate) fn read_site(&self, site: &str) -> SiteReading {
        let mut mentions = Vec::new();
        self.sites.read(site, &mut mentions);
        let mut r = SiteReading::default();
        for m in &mentions {
            let affirmed = m.classes.is_empty();
            match m.target {
                MARGIN if affirmed => r.margin_affirmed = true,
                MARGIN => r.margin_denied = true,
                OFF_MARGIN if affirmed => r.off_margin = true,
                EYELID => r.eyelid = true,
                PERIOCULAR => r.periocular = true,
                _ => {}
            }
        }
        r
    }

    /// True when the site names the eyelid (DOC-02).
    pub(crate) fn names_eyelid(&self, site: &str) -> bool {
        self.read_site(site).eyelid
    }

    /// True when the site is near the eye.
    pub(crate) fn is_periocular(&self, site: &str) -> bool {
        self.read_site(site).periocular
    }

    /// True when a word outside the vocabulary is a vague one.
    pub(crate) fn is_vague(&self, word: &str) -> bool {
        self.vague.iter().any(|v| v == word)
    }

    /// True when notes are read for `indication`.
    pub(crate) fn looks_for(&self, indication: &Indication) -> bool {
        self.indications.contains(indication)
    }

    /// Reads a clinical note: every mention of an indication, with the classes that take its
    /// weight away (empty: affirmed, current and the patient's, or of a class the indication
    /// accepts), and what it says of the lid margin.
    pub(crate) fn read_note(&self, text: &str) -> NoteReading {
        let mut mentions: Vec<Mention> = Vec::new();
        self.notes.read(text, &mut mentions);
        let mut reading = NoteReading::default();
        for m in mentions {
            let Some(i) = usize::try_from(m.target)
                .ok()
                .and_then(|n| self.indications.get(n))
            else {
                // Past the indications: the lid margin.
                if m.classes.is_empty() {
                    reading.margin_affirmed = true;
                } else {
                    reading.margin_denied = true;
                }
                continue;
            };
            let accepted = self.accepted.get(i).copied().unwrap_or_default();
            reading
                .mentions
                .push((i.clone(), m.classes.without(accepted)));
        }
        reading
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

    fn statuses(c: &Clinical, text: &str) -> Vec<(&'static str, Vec<&'static str>)> {
        c.read_note(text)
            .mentions
            .iter()
            .map(|(i, k)| {
                (
                    i.known_word().unwrap_or("?"),
                    k.iter().map(Class::name).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_shipped_vocabulary_loads_and_reads_sites() {
        let c = Clinical::embedded().expect("embedded");
        assert!(c.read_site("right lower lid lash line").at_margin());
        assert!(!c.read_site("6 mm above the lash line").at_margin());
        assert!(!c
            .read_site("eyelid skin, 4 mm inferior to the lid margin")
            .at_margin());
        assert!(!c.read_site("near the lash line").at_margin());
        assert!(!c.read_site("lower lid, margin clear").at_margin());
        assert!(c.names_eyelid("medial canthus"));
        assert!(!c.names_eyelid("cheek margin"));
        assert!(c.is_periocular("periorbital skin"));
        let note = c.read_note("Lid margin clear; lesions on the pretarsal skin.");
        assert!(note.margin_denied && !note.margin_affirmed);
        let note = c.read_note("On the lid margin. The other margin is clear.");
        assert!(note.margin_denied && note.margin_affirmed);
        assert!(c.is_vague("irritated") && !c.is_vague("crusting"));
        assert_eq!(
            c.supporting_prefixes(&Indication::RestrictsVision)[0],
            "H53"
        );
        assert!(c.looks_for(&Indication::PriorBiopsy));
        assert!(!c.looks_for(&Indication::Cosmetic));
    }

    #[test]
    fn each_indication_family_is_found_in_its_words_and_variants() {
        let c = Clinical::embedded().expect("embedded");
        for (text, word) in [
            ("Itchy papules; pruritus at night; itching.", "itching"),
            ("Bled twice; oozing; blood-tinged crust.", "bleeding"),
            ("Tender and sore, aching at night.", "pain"),
            ("Erythematous and swollen, with edema.", "inflammation"),
            (
                "Purulent pustule, culture sent for the abscess.",
                "infection",
            ),
            ("Darkened, with a change in colour.", "change-in-appearance"),
            (
                "Has grown; enlarging over two months.",
                "recent-enlargement",
            ),
            (
                "New lesions appear; more numerous each month.",
                "increase-in-number",
            ),
            (
                "It occludes the punctum with epiphora.",
                "obstructs-orifice",
            ),
            (
                "Blurred vision on down-gaze; corneal staining.",
                "restricts-vision",
            ),
            (
                "Atypical; basal cell carcinoma in the differential.",
                "diagnostic-uncertainty",
            ),
            ("Shave biopsy with histopathology.", "prior-biopsy"),
            (
                "It catches on the towel and is nicked when shaving.",
                "recurrent-trauma",
            ),
        ] {
            let got = statuses(&c, text);
            assert!(!got.is_empty(), "{text}");
            assert!(
                got.iter().all(|(w, k)| *w == word && k.is_empty()),
                "{text}: {got:?}"
            );
        }
    }

    #[test]
    fn words_that_only_look_like_evidence_are_not_mentions() {
        let c = Clinical::embedded().expect("embedded");
        for text in [
            "Consent required; dose reduced; red reflex normal.",
            "Vision 20/20 in each eye.",
            "Wears glasses for reading.",
            "Bloodwork normal; blood pressure 120/80.",
            "Infection control measures reviewed.",
            "Lot numbers recorded.",
        ] {
            assert_eq!(statuses(&c, text), vec![], "{text}");
        }
    }

    #[test]
    fn an_indication_accepts_the_context_that_is_its_nature() {
        let c = Clinical::embedded().expect("embedded");
        assert_eq!(
            statuses(&c, "History of shave biopsy in 2024."),
            vec![("prior-biopsy", vec![])]
        );
        assert_eq!(
            statuses(&c, "r/o basal cell carcinoma"),
            vec![
                ("diagnostic-uncertainty", vec![]),
                ("diagnostic-uncertainty", vec![])
            ]
        );
        assert_eq!(
            statuses(&c, "Not suspicious for carcinoma."),
            vec![
                ("diagnostic-uncertainty", vec!["negated"]),
                ("diagnostic-uncertainty", vec!["negated"])
            ]
        );
        assert_eq!(
            statuses(&c, "History of bleeding."),
            vec![("bleeding", vec!["historical"])]
        );
    }

    #[test]
    fn an_unknown_key_is_named() {
        refused("[sites]\n", "[sites]\nnose = [\"nar\"]\n", "nose");
        refused(
            "[evidence.bleeding]\n",
            "[evidence.crusting]\nterms = [\"crust\"]\n[evidence.bleeding]\n",
            "evidence.crusting",
        );
        refused(
            "[evidence.bleeding]\n",
            "[evidence.bleeding]\nwords = []\n",
            "words",
        );
    }

    #[test]
    fn an_appearance_only_reason_has_no_evidence_or_supporting_diagnosis() {
        refused(
            "[evidence.bleeding]\n",
            "[evidence.cosmetic]\nterms = [\"look\"]\n[evidence.bleeding]\n",
            "evidence.cosmetic",
        );
        refused(
            "[supporting_diagnoses]\n",
            "[supporting_diagnoses]\nmakeup-trapping = [\"L70\"]\n",
            "supporting_diagnoses.makeup-trapping",
        );
    }

    #[test]
    fn words_must_be_lower_case_not_blank_and_listed_once() {
        refused(
            "\"hemorrhage\"",
            "\"Hemorrhage\"",
            "evidence.bleeding.terms[",
        );
        refused("\"crease\"", "\"\"", "sites.off_margin[");
        refused("\"bled\",", "\"bled\", \"bled\",", "listed twice");
        refused(
            "context = [\"hypothetical\"]",
            "context = [\"negated\"]",
            "evidence.diagnostic-uncertainty.context[0]",
        );
        refused(
            "context = [\"hypothetical\"]",
            "context = [\"maybe\"]",
            "not a ConText class",
        );
    }

    #[test]
    fn a_body_site_must_be_a_snomed_concept_id_with_a_known_part() {
        refused(
            "[body_sites.80243003]",
            "[body_sites.80243004]",
            "body_sites.80243004",
        );
        refused("part = \"margin\"", "part = \"lash\"", ".part");
        let c = Clinical::embedded().expect("embedded");
        assert_eq!(
            c.body_site("77024004").map(|b| b.part),
            Some(BodyPart::Margin)
        );
        assert_eq!(
            c.body_site("40069000").map(|b| (b.part, b.lid)),
            Some((BodyPart::Skin, Some(LidPart::Lower)))
        );
        assert!(c.body_site("138875005").is_none());
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
