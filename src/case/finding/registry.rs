//! The rule registry: every rule the worker can report, in the order findings come (decoding,
//! coding, documentation, appeal, then the `check` command's own).
//!
//! `preauth-worker check --rules` prints it; docs/contract.md's rule catalogue is checked against
//! it by a test. A rule marked adjustable may have its severity set by a payer policy (the
//! policy file's `[severity]` table names the id and the new severity); every other severity is
//! fixed by the contract.

use super::{Rule, Severity::Error, Severity::Warning};

/// Declares each rule once, as a constant, and lists every one of them in [`RULES`]: a rule cannot
/// be declared without being in the catalogue.
macro_rules! registry {
    ($($(#[$doc:meta])* $name:ident = $rule:expr;)*) => {
        $($(#[$doc])* pub const $name: &Rule = &$rule;)*
        /// Every rule, in catalogue order.
        pub static RULES: &[&Rule] = &[$($name),*];
        /// The constants' names, for the test that every rule has an emit site.
        #[cfg(test)]
        const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

registry! {
    // Decoding.
    DEC_01 = Rule::new("DEC-01", Error, "a field is missing, of the wrong type, or outside its domain");
    DEC_02 = Rule::new("DEC-02", Error, "the schema is not `preauth.case.v1`");
    DEC_03 = Rule::new("DEC-03", Error, "the routing key contradicts `kind`");
    DEC_04 = Rule::new("DEC-04", Error, "the `appeal` object disagrees with `kind`");
    /// Emitted by validation (the first rule it applies), from what decoding recorded.
    DEC_05 = Rule::new(
        "DEC-05",
        Warning,
        "a member the contract does not define (a misspelt field is otherwise silently ignored)",
    )
    .adjustable();
    DEC_06 = Rule::new("DEC-06", Error, "the `original` object disagrees with `kind`");
    DEC_07 = Rule::new(
        "DEC-07",
        Error,
        "a dependant's coverage (`relationship` other than `self`) names no `coverage.subscriber`",
    );
    FMT_CPT_01 = Rule::new("FMT-CPT-01", Error, "CPT/HCPCS syntax");
    /// Emitted by the coding rules, once the codes have decoded.
    FMT_CPT_01_CATEGORY_II = Rule::new(
        "FMT-CPT-01",
        Warning,
        "only Category II tracking codes are requested: they are never paid",
    );
    FMT_ICD_01 = Rule::new("FMT-ICD-01", Error, "ICD-10-CM syntax");
    /// Emitted by decoding (syntax) and by the coding rules (the code table's allow-list).
    FMT_MOD_01 = Rule::new("FMT-MOD-01", Error, "modifier syntax, and the code table's allow-list");
    FMT_NPI_01 = Rule::new("FMT-NPI-01", Error, "NPI format and check digit");

    // Coding.
    TAB_01 = Rule::new(
        "TAB-01",
        Warning,
        "the procedure code is not in the worker's code table, so its coverage rules cannot be checked",
    );
    PA_01 = Rule::new(
        "PA-01",
        Warning,
        "the payer policy does not list the code as needing pre-authorization",
    )
    .adjustable();
    COS_01 = Rule::new(
        "COS-01",
        Error,
        "a diagnosis the payer policy lists as a cosmetic encounter (`cosmetic_diagnoses`, such as `Z41.1`)",
    );
    COS_01_NON_THERAPEUTIC = Rule::new(
        "COS-01",
        Warning,
        "a diagnosis the payer policy lists as non-therapeutic (`non_therapeutic_diagnoses`, such as `Z41.8`, `Z41.9`)",
    );
    COS_02 = Rule::new("COS-02", Error, "a procedure code that is cosmetic only");
    DX_01 = Rule::new("DX-01", Error, "not exactly one primary diagnosis");
    DX_02 = Rule::new("DX-02", Warning, "the same diagnosis listed twice").adjustable();
    COD_01 = Rule::new(
        "COD-01",
        Error,
        "mutually exclusive codes requested together (17110 and 17111)",
    );
    NCCI_02 = Rule::new("NCCI-02", Error, "units above the code's medically unlikely edit");
    DOC_01 = Rule::new(
        "DOC-01",
        Error,
        "lesion count and size missing, or inconsistent with the code",
    );
    DOC_02 = Rule::new("DOC-02", Error, "eyelid procedure whose site does not name the eyelid");
    COD_04 = Rule::new(
        "COD-04",
        Error,
        "67850 used off the lid margin, or for lesions over 1 cm; a free-text site must place the lesion on the margin unambiguously",
    );
    MOD_02 = Rule::new(
        "MOD-02",
        Error,
        "`59` and an `XE`/`XP`/`XS`/`XU` modifier on the same line",
    );
    MOD_03 = Rule::new("MOD-03", Error, "`50` combined with E1–E4");
    MOD_03_NOT_TAKEN = Rule::new("MOD-03", Warning, "E1–E4 on a code that does not take them");
    MOD_04 = Rule::new(
        "MOD-04",
        Error,
        "E1–E4 does not match the side and lid of any eyelid diagnosis (`H02.82x`), or of the lesion site",
    );
    MOD_05 = Rule::new("MOD-05", Warning, "eyelid procedure without an E1–E4 modifier").adjustable();
    MOD_06 = Rule::new(
        "MOD-06",
        Warning,
        "E1–E4 on a line whose lesion site does not name one side and lid (send `lesions.laterality` and `lesions.lid`)",
    )
    .adjustable();

    // Documentation.
    NEC_01 = Rule::new("NEC-01", Error, "no indication the payer accepts is documented");
    NEC_02 = Rule::new("NEC-02", Error, "a location near the eye is given as the only reason");
    NEC_03 = Rule::new("NEC-03", Warning, "\"irritation\" without objective findings").adjustable();
    NEC_04 = Rule::new("NEC-04", Error, "appearance-only reasons are the only ones given");
    NEC_04_IGNORED = Rule::new(
        "NEC-04",
        Warning,
        "appearance-only reasons next to an indication the payer accepts: they are ignored",
    );
    NEC_05 = Rule::new(
        "NEC-05",
        Warning,
        "a documented symptom with no supporting secondary diagnosis",
    )
    .adjustable();
    NEC_06 = Rule::new("NEC-06", Warning, "an indication word outside the vocabulary").adjustable();
    NEC_07 = Rule::new("NEC-07", Warning, "an indication this payer does not accept").adjustable();
    DOC_03 = Rule::new("DOC-03", Warning, "no dated photographs (advised)");
    DOC_03_REQUIRED = Rule::new(
        "DOC-03",
        Error,
        "no dated photographs, and the payer policy requires them (`photos_required`)",
    );
    DOC_04 = Rule::new(
        "DOC-04",
        Error,
        "excision without a documented reason for choosing it over destruction",
    );
    DOC_05 = Rule::new(
        "DOC-05",
        Warning,
        "no record of prior (conservative) treatment on a submission",
    )
    .adjustable();
    DOC_06 = Rule::new("DOC-06", Error, "indications claimed without any clinical note");
    DOC_07 = Rule::new(
        "DOC-07",
        Warning,
        "a claimed indication that no clinical note documents as current and the patient's (silent, or only past or someone else's), while another is documented",
    )
    .adjustable();
    DOC_08 = Rule::new(
        "DOC-08",
        Error,
        "a claimed indication the notes contradict: mentioned only as absent, denied, possible or anticipated (ConText negated or hypothetical)",
    );
    DOC_09 = Rule::new(
        "DOC-09",
        Warning,
        "no clinical note documents any claimed indication (the shipped policies make it an error: the LCD needs the indication in the record)",
    )
    .adjustable();
    DOC_10 = Rule::new(
        "DOC-10",
        Warning,
        "a claimed indication documented only in a note dated after the event, or by an author outside the rendering provider's organisation",
    );
    DATE_01 = Rule::new(
        "DATE-01",
        Error,
        "a date impossible for the event's `occurred_at`: a planned date before it, a record after it, a birth date after it or over 130 years before, a note before the birth, a treatment ending before it starts",
    );
    DATE_01_DOUBTFUL = Rule::new(
        "DATE-01",
        Warning,
        "a date possible but doubtful: a planned date over a year after the event, a treatment ending after it",
    );

    // Appeals.
    APL_01 = Rule::new("APL-01", Error, "appeal without a letter of medical necessity");
    APL_02 = Rule::new(
        "APL-02",
        Warning,
        "letter signed by an NPI other than the requesting provider's",
    )
    .adjustable();
    APL_03 = Rule::new("APL-03", Error, "appeal outside the payer's window from the denial date");
    APL_04 = Rule::new(
        "APL-04",
        Error,
        "appeal without documented prior (less costly) treatments",
    );
    APL_05 = Rule::new("APL-05", Warning, "letter signed before the denial it answers").adjustable();
    APL_06 = Rule::new(
        "APL-06",
        Warning,
        "appeal packet without photographs, where the payer policy does not require them",
    )
    .adjustable();

    // Attachments: the photos and the letter, fetched from the clinic's document store before
    // submission (`attachments.sources`).
    ATT_01 = Rule::new(
        "ATT-01",
        Error,
        "a photo or letter URI that no configured document store serves (`attachments.sources` prefixes)",
    );
    ATT_02 = Rule::new("ATT-02", Error, "the document store has no file under the URI");
    ATT_03 = Rule::new(
        "ATT-03",
        Error,
        "the URI's path is refused: not a plain relative path, or it leads out of the store's folder",
    );
    ATT_04 = Rule::new(
        "ATT-04",
        Error,
        "a document larger than `attachments.max_attachment_bytes`, or documents together larger than `attachments.max_request_bytes`",
    );
    ATT_05 = Rule::new(
        "ATT-05",
        Error,
        "the document's bytes are not JPEG, PNG, TIFF or PDF, or not the `content_type` the case declares",
    );
    ATT_06 = Rule::new(
        "ATT-06",
        Error,
        "a document changed in the store since this request was first sent: a resend under the same request identifier must carry the same bytes",
    );

    // The `check` command.
    CFG_01 = Rule::new(
        "CFG-01",
        Error,
        "`check` only: the case's payer is not configured and there is no default payer",
    );
}

/// The rules registered under `id` (one per severity it is emitted at; none for an unknown id).
pub(crate) fn by_id(id: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    RULES.iter().copied().filter(move |r| r.id == id)
}

/// The catalogue as a Markdown table (docs/contract.md carries it verbatim).
pub fn markdown_table() -> String {
    let mut s = String::from("| rule | severity | checks |\n|---|---|---|\n");
    for r in RULES {
        s.push_str(&format!(
            "| `{}` | {}{} | {} |\n",
            r.id,
            r.severity.as_str(),
            if r.adjustable {
                " (policy may set)"
            } else {
                ""
            },
            r.summary
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    #[test]
    fn each_id_is_registered_once_per_severity() {
        let mut seen = HashSet::new();
        for r in RULES {
            assert!(
                seen.insert((r.id(), r.severity())),
                "{} at {:?} is registered twice",
                r.id(),
                r.severity()
            );
        }
    }

    #[test]
    fn rule_ids_have_the_published_shape() {
        for r in RULES {
            let (prefix, number) = r.id().rsplit_once('-').unwrap_or(("", ""));
            assert!(
                !prefix.is_empty()
                    && prefix.chars().all(|c| c.is_ascii_uppercase() || c == '-')
                    && number.len() == 2
                    && number.chars().all(|c| c.is_ascii_digit()),
                "{}",
                r.id()
            );
            assert!(
                !r.summary().is_empty() && !r.summary().contains('|'),
                "{r:?}"
            );
        }
    }

    #[test]
    fn the_rules_of_one_id_stand_together_in_the_catalogue() {
        let mut last_index = BTreeMap::new();
        for (i, r) in RULES.iter().enumerate() {
            if let Some(prev) = last_index.insert(r.id(), i) {
                assert_eq!(prev + 1, i, "{} is split in the catalogue", r.id());
            }
        }
    }

    #[test]
    fn a_policy_may_only_set_warnings_whose_id_has_one_severity() {
        // The policy names the id: it must name one rule, and the contract's errors stay errors.
        for r in RULES.iter().filter(|r| r.is_adjustable()) {
            assert_eq!(by_id(r.id()).count(), 1, "{}", r.id());
            assert_eq!(r.severity(), Warning, "{}", r.id());
        }
    }

    #[test]
    fn a_finding_carries_its_rules_id_and_severity() {
        let f = COS_01_NON_THERAPEUTIC.finding("service.diagnoses[1].code", "text");
        assert_eq!((f.rule.as_str(), f.severity), ("COS-01", Warning));
        assert_eq!(f.path, "service.diagnoses[1].code");
        assert!(!f.is_error());
        assert!(DEC_01.finding("schema", "text").is_error());
        assert_eq!(by_id("COS-01").count(), 2);
        assert_eq!(by_id("XYZ-01").count(), 0);
    }

    /// The table under `heading` in a Markdown document: its consecutive `|` lines.
    fn table_under(doc: &str, heading: &str) -> String {
        let after = doc.split_once(heading).map_or("", |(_, rest)| rest);
        let mut lines = after.lines().skip_while(|l| !l.starts_with('|'));
        let mut table = String::new();
        for l in lines.by_ref().take_while(|l| l.starts_with('|')) {
            table.push_str(l);
            table.push('\n');
        }
        table
    }

    #[test]
    fn the_contracts_rule_catalogue_is_the_registry() {
        let contract = include_str!("../../../docs/contract.md");
        let table = table_under(contract, "### Rule catalogue\n");
        assert!(
            table == markdown_table(),
            "docs/contract.md's rule catalogue differs from the registry; replace it with:\n{}",
            markdown_table()
        );
    }

    #[test]
    fn every_rule_id_the_documents_name_is_registered() {
        // Rule ids are written as code: `NEC-01`.
        let id = regex::Regex::new(r"`([A-Z]{2,5}(-[A-Z]{3})?-[0-9]{2})`").expect("pattern");
        for (name, text) in [
            (
                "docs/contract.md",
                include_str!("../../../docs/contract.md"),
            ),
            ("README.md", include_str!("../../../README.md")),
        ] {
            let named: Vec<&str> = id
                .captures_iter(text)
                .filter_map(|c| c.get(1))
                .map(|m| m.as_str())
                .collect();
            assert!(
                name != "docs/contract.md" || named.len() > RULES.len(),
                "the pattern finds the contract's rule ids"
            );
            for rule in named {
                assert!(
                    by_id(rule).next().is_some(),
                    "{name} names {rule}, which is not a registered rule"
                );
            }
        }
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains("docs/contract.md#rule-catalogue") && readme.contains("check --rules"),
            "README.md points to the contract's catalogue and to `check --rules`"
        );
    }

    /// The production code of every source file but this one.
    fn production_sources(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                production_sources(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs")
                && !path.ends_with("finding/registry.rs")
                && !path.ends_with("tests.rs")
            {
                let text = std::fs::read_to_string(&path).expect("source");
                let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
                out.push(code.to_owned());
            }
        }
    }

    #[test]
    fn every_registered_rule_is_emitted_somewhere() {
        let mut sources = Vec::new();
        production_sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut sources,
        );
        assert_eq!(NAMES.len(), RULES.len());
        for name in NAMES {
            let word = regex::Regex::new(&format!(r"\b{name}\b")).expect("pattern");
            assert!(
                sources.iter().any(|s| word.is_match(s)),
                "{name} is registered but no production code uses it"
            );
        }
    }
}
