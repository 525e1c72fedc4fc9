//! Medical code newtypes (CPT, HCPCS Level II, ICD-10-CM, modifiers, NPI), SNOMED CT concept ids
//! and the code table.
//!
//! Each newtype can only be built through `parse`, so once a value exists its format is valid and
//! the rules never re-check it.

mod snomed;
mod table;

pub use snomed::{snomed_ct_concept_id, SNOMED_CT_SYSTEM};
pub use table::{CodeInfo, CodeTable, CodeTableError};

use std::fmt;

/// Why a code string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("expected a CPT code (5 digits, or 4 digits followed by F, T or U)")]
    Cpt,
    #[error("expected a HCPCS Level II code (a letter followed by 4 digits)")]
    Hcpcs,
    #[error("expected an ICD-10-CM code (letter, digit, letter or digit, then up to 4 more, dot optional after the third)")]
    Icd10Cm,
    #[error("expected a two-character modifier (letters or digits)")]
    ModifierFormat,
    #[error("expected a 10-digit NPI")]
    NpiFormat,
    #[error("NPI check digit does not match (Luhn over 80840 and the first nine digits)")]
    NpiCheckDigit,
    #[error("expected a SNOMED CT concept id (6 to 18 digits, no leading zero, a concept's partition and a valid Verhoeff check digit)")]
    SnomedCtConcept,
}

/// The coding system a procedure code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProcedureSystem {
    #[serde(rename = "CPT")]
    Cpt,
    #[serde(rename = "HCPCS")]
    Hcpcs,
}

impl ProcedureSystem {
    /// The name used in case events.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcedureSystem::Cpt => "CPT",
            ProcedureSystem::Hcpcs => "HCPCS",
        }
    }
}

/// CPT categories, told apart by the last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CptCategory {
    /// Category I: five digits, billable procedures.
    One,
    /// Category II: four digits and `F`, performance tracking only, never paid.
    Two,
    /// Category III: four digits and `T`, emerging technology.
    Three,
    /// Proprietary laboratory analyses: four digits and `U`.
    Pla,
}

/// A validated CPT or HCPCS Level II procedure code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcedureCode {
    system: ProcedureSystem,
    code: String,
}

impl ProcedureCode {
    /// Parses `code` in `system`. Letters are upper-cased; surrounding blanks are ignored.
    pub fn parse(system: ProcedureSystem, code: &str) -> Result<Self, CodeError> {
        let code = code.trim().to_ascii_uppercase();
        let b = code.as_bytes();
        let ok = match system {
            ProcedureSystem::Cpt => {
                b.len() == 5
                    && b[..4].iter().all(u8::is_ascii_digit)
                    && matches!(b[4], b'0'..=b'9' | b'F' | b'T' | b'U')
            }
            ProcedureSystem::Hcpcs => {
                b.len() == 5 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
            }
        };
        if !ok {
            return Err(match system {
                ProcedureSystem::Cpt => CodeError::Cpt,
                ProcedureSystem::Hcpcs => CodeError::Hcpcs,
            });
        }
        Ok(Self { system, code })
    }

    pub fn system(&self) -> ProcedureSystem {
        self.system
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The CPT category, or `None` for HCPCS Level II.
    pub(crate) fn cpt_category(&self) -> Option<CptCategory> {
        if self.system != ProcedureSystem::Cpt {
            return None;
        }
        Some(match self.code.as_bytes()[4] {
            b'F' => CptCategory::Two,
            b'T' => CptCategory::Three,
            b'U' => CptCategory::Pla,
            _ => CptCategory::One,
        })
    }
}

impl fmt::Display for ProcedureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// A validated ICD-10-CM code, stored without the dot and upper-cased (`H02822`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Icd10Cm(String);

impl Icd10Cm {
    /// Accepts the code with or without the dot after the third character.
    pub fn parse(code: &str) -> Result<Self, CodeError> {
        let upper = code.trim().to_ascii_uppercase();
        let compact: String = match upper.find('.') {
            Some(3) if upper.len() > 4 => upper.replacen('.', "", 1),
            Some(_) => return Err(CodeError::Icd10Cm),
            None => upper,
        };
        let b = compact.as_bytes();
        let ok = (3..=7).contains(&b.len())
            && b[0].is_ascii_uppercase()
            && b[1].is_ascii_digit()
            && b[2..].iter().all(u8::is_ascii_alphanumeric);
        if ok {
            Ok(Self(compact))
        } else {
            Err(CodeError::Icd10Cm)
        }
    }

    /// The code without the dot (`H02822`), as X12 transmits it.
    pub(crate) fn compact(&self) -> &str {
        &self.0
    }

    /// The code with the dot after the third character (`H02.822`), as FHIR and people write it.
    pub(crate) fn dotted(&self) -> String {
        if self.0.len() > 3 {
            format!("{}.{}", &self.0[..3], &self.0[3..])
        } else {
            self.0.clone()
        }
    }

    /// True when this code is `prefix` or a descendant of it (prefix given without the dot).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }

    /// The eyelid this code names, for the cysts-of-eyelid family H02.82x.
    pub fn eyelid(&self) -> Option<EyelidDx> {
        let rest = self.0.strip_prefix("H0282")?;
        let lid = match rest {
            "1" => EyelidDx::Known(Eyelid::RightUpper),
            "2" => EyelidDx::Known(Eyelid::RightLower),
            "4" => EyelidDx::Known(Eyelid::LeftUpper),
            "5" => EyelidDx::Known(Eyelid::LeftLower),
            "3" => EyelidDx::SideOnly(Side::Right),
            "6" => EyelidDx::SideOnly(Side::Left),
            _ => EyelidDx::Unspecified,
        };
        Some(lid)
    }
}

impl fmt::Display for Icd10Cm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dotted())
    }
}

/// Side of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// One of the four eyelids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eyelid {
    LeftUpper,
    LeftLower,
    RightUpper,
    RightLower,
}

impl Eyelid {
    pub fn describe(self) -> &'static str {
        match self {
            Eyelid::LeftUpper => "left upper lid",
            Eyelid::LeftLower => "left lower lid",
            Eyelid::RightUpper => "right upper lid",
            Eyelid::RightLower => "right lower lid",
        }
    }
}

/// What an eyelid-cyst diagnosis says about the lid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EyelidDx {
    Known(Eyelid),
    SideOnly(Side),
    Unspecified,
}

/// A validated two-character procedure modifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Modifier(String);

impl Modifier {
    pub fn parse(code: &str) -> Result<Self, CodeError> {
        let code = code.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|c| c.is_ascii_alphanumeric()) {
            Ok(Self(code))
        } else {
            Err(CodeError::ModifierFormat)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The eyelid an anatomic modifier E1–E4 names.
    pub fn eyelid(&self) -> Option<Eyelid> {
        match self.0.as_str() {
            "E1" => Some(Eyelid::LeftUpper),
            "E2" => Some(Eyelid::LeftLower),
            "E3" => Some(Eyelid::RightUpper),
            "E4" => Some(Eyelid::RightLower),
            _ => None,
        }
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A National Provider Identifier whose check digit has been verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Npi(String);

impl Npi {
    pub fn parse(value: &str) -> Result<Self, CodeError> {
        let value = value.trim();
        let b = value.as_bytes();
        if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
            return Err(CodeError::NpiFormat);
        }
        if luhn_check_digit(&b[..9]) != b[9] - b'0' {
            return Err(CodeError::NpiCheckDigit);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Npi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The NPI check digit: Luhn over the card-issuer prefix 80840 followed by the nine digits.
fn luhn_check_digit(nine: &[u8]) -> u8 {
    // Digits are doubled from the rightmost one of the payload; the 80840 prefix adds a constant 24
    // when taken the same way, which is the standard NPI shortcut.
    let mut sum: u32 = 24;
    for (i, d) in nine.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    ((10 - (sum % 10)) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npi_with_a_correct_check_digit_is_accepted() {
        for npi in ["1234567893", "1245319599", "1003000126", "1987654328"] {
            assert!(Npi::parse(npi).is_ok(), "{npi} should be valid");
        }
    }

    #[test]
    fn npi_check_digit_matches_the_long_form_luhn_computation() {
        // Long form: Luhn over "80840" + nine digits, computed from scratch.
        fn long_form(nine: &str) -> u8 {
            let full = format!("80840{nine}");
            let mut sum = 0u32;
            for (i, c) in full.chars().rev().enumerate() {
                let mut v = c.to_digit(10).expect("digit");
                if i % 2 == 0 {
                    v *= 2;
                    if v > 9 {
                        v -= 9;
                    }
                }
                sum += v;
            }
            ((10 - sum % 10) % 10) as u8
        }
        for nine in [
            "123456789",
            "124531959",
            "100300012",
            "999999999",
            "000000000",
        ] {
            assert_eq!(luhn_check_digit(nine.as_bytes()), long_form(nine), "{nine}");
        }
    }

    #[test]
    fn npi_with_a_wrong_check_digit_or_format_is_refused() {
        assert_eq!(Npi::parse("1234567890"), Err(CodeError::NpiCheckDigit));
        assert_eq!(Npi::parse("123456789"), Err(CodeError::NpiFormat));
        assert_eq!(Npi::parse("12345678931"), Err(CodeError::NpiFormat));
        assert_eq!(Npi::parse("12345678a3"), Err(CodeError::NpiFormat));
        assert_eq!(Npi::parse(""), Err(CodeError::NpiFormat));
    }

    #[test]
    fn cpt_categories_are_told_apart_by_their_last_character() {
        let cases = [
            ("67850", Some(CptCategory::One)),
            ("1000F", Some(CptCategory::Two)),
            ("0479T", Some(CptCategory::Three)),
            ("0001U", Some(CptCategory::Pla)),
        ];
        for (code, cat) in cases {
            let parsed = ProcedureCode::parse(ProcedureSystem::Cpt, code).expect(code);
            assert_eq!(parsed.cpt_category(), cat, "{code}");
        }
        for bad in ["6785", "678500", "A7850", "1000X", ""] {
            assert_eq!(
                ProcedureCode::parse(ProcedureSystem::Cpt, bad),
                Err(CodeError::Cpt),
                "{bad}"
            );
        }
    }

    #[test]
    fn hcpcs_level_two_is_a_letter_and_four_digits() {
        assert!(ProcedureCode::parse(ProcedureSystem::Hcpcs, "G0127").is_ok());
        assert!(ProcedureCode::parse(ProcedureSystem::Hcpcs, "j3490").is_ok());
        for bad in ["17110", "GG127", "G012", "G01277"] {
            assert_eq!(
                ProcedureCode::parse(ProcedureSystem::Hcpcs, bad),
                Err(CodeError::Hcpcs),
                "{bad}"
            );
        }
    }

    #[test]
    fn icd10cm_is_accepted_with_or_without_the_dot() {
        let dotted = Icd10Cm::parse("H02.822").expect("dotted");
        let compact = Icd10Cm::parse("h02822").expect("compact");
        assert_eq!(dotted, compact);
        assert_eq!(dotted.dotted(), "H02.822");
        assert_eq!(dotted.compact(), "H02822");
        // A letter in the third position (C4A, D3A, M1A, Z3A) and 7-character injury codes.
        for ok in [
            "C4A.10", "Z3A.20", "S05.01XA", "L72.0", "Z41.1", "U07.1", "L72",
        ] {
            assert!(Icd10Cm::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "H0",
            "1H02.822",
            "HH2.822",
            "H02.82222",
            "H0.2822",
            "H02.",
            "H02.8-2",
        ] {
            assert_eq!(Icd10Cm::parse(bad), Err(CodeError::Icd10Cm), "{bad}");
        }
    }

    #[test]
    fn eyelid_cyst_codes_name_their_lid() {
        let lid = |c: &str| Icd10Cm::parse(c).expect(c).eyelid();
        assert_eq!(lid("H02.821"), Some(EyelidDx::Known(Eyelid::RightUpper)));
        assert_eq!(lid("H02.822"), Some(EyelidDx::Known(Eyelid::RightLower)));
        assert_eq!(lid("H02.824"), Some(EyelidDx::Known(Eyelid::LeftUpper)));
        assert_eq!(lid("H02.825"), Some(EyelidDx::Known(Eyelid::LeftLower)));
        assert_eq!(lid("H02.823"), Some(EyelidDx::SideOnly(Side::Right)));
        assert_eq!(lid("H02.826"), Some(EyelidDx::SideOnly(Side::Left)));
        assert_eq!(lid("H02.829"), Some(EyelidDx::Unspecified));
        assert_eq!(lid("L72.0"), None);
    }

    #[test]
    fn modifiers_are_two_alphanumeric_characters() {
        assert_eq!(
            Modifier::parse("e4").expect("e4").eyelid(),
            Some(Eyelid::RightLower)
        );
        assert_eq!(
            Modifier::parse("E1").expect("E1").eyelid(),
            Some(Eyelid::LeftUpper)
        );
        assert_eq!(Modifier::parse("59").expect("59").eyelid(), None);
        for bad in ["E44", "E", "", "E-"] {
            assert_eq!(
                Modifier::parse(bad),
                Err(CodeError::ModifierFormat),
                "{bad}"
            );
        }
    }
}
