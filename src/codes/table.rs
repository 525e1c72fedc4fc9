//! The code table: what the rules need to know about each procedure code of this family.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::{Modifier, ProcedureCode, ProcedureSystem};

/// The code table shipped with the worker (`config/codes.toml`), used unless another is configured.
pub(crate) const EMBEDDED_CODE_TABLE: &str = include_str!("../../config/codes.toml");

/// What the table says about one procedure code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeInfo {
    /// The coding system the code belongs to.
    pub system: ProcedureSystem,
    /// A short paraphrased description for people reading findings.
    pub descriptor: String,
    /// The code is cosmetic for this procedure family and is never submitted.
    #[serde(default)]
    pub cosmetic_only: bool,
    /// The code removes or destroys lesions: count, size and site must be documented.
    #[serde(default)]
    pub lesion_removal: bool,
    /// The smallest lesion count the code stands for.
    pub min_lesions: Option<u32>,
    /// The largest lesion count the code stands for.
    pub max_lesions: Option<u32>,
    /// The largest lesion size (mm) the code stands for.
    pub max_size_mm: Option<f64>,
    /// An eyelid procedure: the site must name the lid.
    #[serde(default)]
    pub eyelid: bool,
    /// Only for lesions of the lid margin.
    #[serde(default)]
    pub lid_margin: bool,
    /// An excision: the record must say why excision rather than destruction.
    #[serde(default)]
    pub excision: bool,
    /// The most units one case may request (medically unlikely edit).
    pub max_units: Option<u32>,
    /// Codes never requested together with this one.
    #[serde(default)]
    pub exclusive_with: Vec<String>,
    /// The descriptor already names upper or lower lid, so E1–E4 do not apply.
    #[serde(default)]
    pub names_lid: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    codes: HashMap<String, CodeInfo>,
    modifiers: ModifierSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifierSection {
    allowed: Vec<String>,
}

/// Why a code table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CodeTableError {
    #[error("code table {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("code table {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// Procedure codes of this family, keyed by code.
#[derive(Debug, Clone)]
pub struct CodeTable {
    codes: HashMap<String, CodeInfo>,
    allowed_modifiers: HashSet<String>,
}

impl CodeTable {
    /// The table shipped with the worker.
    pub fn embedded() -> Result<Self, CodeTableError> {
        Self::from_toml(EMBEDDED_CODE_TABLE, "config/codes.toml (embedded)")
    }

    /// Reads a table from a TOML file.
    pub(crate) fn from_file(path: &Path) -> Result<Self, CodeTableError> {
        let text = std::fs::read_to_string(path).map_err(|source| CodeTableError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses a table and checks that every key is a well-formed code of its system.
    pub(crate) fn from_toml(text: &str, source_name: &str) -> Result<Self, CodeTableError> {
        let invalid = |message: String| CodeTableError::Invalid {
            source_name: source_name.to_owned(),
            message,
        };
        let file: TableFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (code, info) in &file.codes {
            ProcedureCode::parse(info.system, code)
                .map_err(|e| invalid(format!("codes.\"{code}\": {e}")))?;
            if let (Some(min), Some(max)) = (info.min_lesions, info.max_lesions) {
                if min > max {
                    return Err(invalid(format!(
                        "codes.\"{code}\": min_lesions {min} is above max_lesions {max}"
                    )));
                }
            }
            for other in &info.exclusive_with {
                if !file.codes.contains_key(other) {
                    return Err(invalid(format!(
                        "codes.\"{code}\".exclusive_with names {other}, which is not in the table"
                    )));
                }
            }
        }
        let mut allowed_modifiers = HashSet::new();
        for m in &file.modifiers.allowed {
            let parsed = Modifier::parse(m)
                .map_err(|e| invalid(format!("modifiers.allowed: {m:?}: {e}")))?;
            allowed_modifiers.insert(parsed.as_str().to_owned());
        }
        Ok(Self {
            codes: file.codes,
            allowed_modifiers,
        })
    }

    /// What the table knows about `code`, if it is in the table under the same system.
    pub fn get(&self, code: &ProcedureCode) -> Option<&CodeInfo> {
        self.codes
            .get(code.as_str())
            .filter(|info| info.system == code.system())
    }

    /// Looks a code up by its text alone (for policy cross-checks).
    pub fn contains(&self, code: &str) -> bool {
        self.codes.contains_key(code)
    }

    /// True when the modifier is on the table's allow-list.
    pub(crate) fn modifier_allowed(&self, modifier: &Modifier) -> bool {
        self.allowed_modifiers.contains(modifier.as_str())
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_loads_and_knows_the_milia_codes() {
        let table = CodeTable::embedded().expect("embedded table");
        let code = |c: &str| ProcedureCode::parse(ProcedureSystem::Cpt, c).expect(c);
        let t17110 = table.get(&code("17110")).expect("17110");
        assert_eq!(t17110.max_lesions, Some(14));
        assert_eq!(
            table.get(&code("17111")).and_then(|i| i.min_lesions),
            Some(15)
        );
        assert!(table.get(&code("67850")).is_some_and(|i| i.lid_margin));
        assert!(table.get(&code("17380")).is_some_and(|i| i.cosmetic_only));
        assert!(table.get(&code("99213")).is_none());
    }

    #[test]
    fn table_with_a_malformed_code_key_names_the_key() {
        let err = CodeTable::from_toml(
            "[codes.\"1711\"]\nsystem = \"CPT\"\ndescriptor = \"x\"\n[modifiers]\nallowed = []\n",
            "test.toml",
        )
        .expect_err("malformed key");
        assert!(err.to_string().contains("codes.\"1711\""), "{err}");
    }

    #[test]
    fn table_with_an_unknown_field_is_refused() {
        let err = CodeTable::from_toml(
            "[codes.\"17110\"]\nsystem = \"CPT\"\ndescriptor = \"x\"\nmax_lesion = 3\n[modifiers]\nallowed = []\n",
            "test.toml",
        )
        .expect_err("unknown field");
        assert!(err.to_string().contains("max_lesion"), "{err}");
    }
}
