//! SNOMED CT concept ids (SCTIDs): the only SNOMED CT codes a case event carries.
//!
//! An SCTID is 6 to 18 digits without a leading zero. Its last digit is a Verhoeff check digit
//! over the others, and the two digits before that are the partition: `00` (a concept of the
//! international release) or `10` (a concept of an extension, with a namespace) for a concept.
//! A description or relationship id, whose check digit is just as valid, is not a concept.

use super::CodeError;

/// The SNOMED CT code system, as FHIR names it.
pub const SNOMED_CT_SYSTEM: &str = "http://snomed.info/sct";

/// Reads a SNOMED CT concept id (blanks around it are ignored, as for every code) and returns its
/// digits.
pub fn snomed_ct_concept_id(text: &str) -> Result<String, CodeError> {
    let digits = text.trim();
    let b = digits.as_bytes();
    let shaped = (6..=18).contains(&b.len())
        && b.iter().all(u8::is_ascii_digit)
        && b[0] != b'0'
        && matches!(&b[b.len() - 3..b.len() - 1], b"00" | b"10");
    if shaped && verhoeff_valid(b) {
        Ok(digits.to_owned())
    } else {
        Err(CodeError::SnomedCtConcept)
    }
}

/// The dihedral group D5's multiplication table.
const D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// The position permutation, applied once more for each place from the right (period 8): row
/// `i` is row 1 applied `i` times.
const P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// True when the ASCII digits `digits` end in their Verhoeff check digit. Anything that is not
/// an ASCII digit makes it false.
pub(crate) fn verhoeff_valid(digits: &[u8]) -> bool {
    let mut c = 0u8;
    for (i, d) in digits.iter().rev().enumerate() {
        if !d.is_ascii_digit() {
            return false;
        }
        c = D[usize::from(c)][usize::from(P[i % 8][usize::from(d - b'0')])];
    }
    !digits.is_empty() && c == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verhoeff_accepts_known_valid_ids_and_refuses_a_corrupted_one() {
        // 80243003 is Eyelid structure, 138875005 the root concept; 2363 is the usual worked
        // example of the algorithm.
        for id in ["80243003", "51360009", "138875005", "2363"] {
            assert!(verhoeff_valid(id.as_bytes()), "{id}");
        }
        for id in ["80243004", "80234003", "51360090", "2364", "", "8024300x"] {
            assert!(!verhoeff_valid(id.as_bytes()), "{id}");
        }
    }

    #[test]
    fn each_row_of_the_permutation_is_the_previous_one_permuted_once_more() {
        for i in 1..P.len() {
            let next: Vec<u8> = P[i - 1].iter().map(|&x| P[1][usize::from(x)]).collect();
            assert_eq!(next, P[i], "row {i}");
        }
        assert_eq!(P[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn verhoeff_catches_every_single_digit_error_and_adjacent_swap() {
        let good = b"80243003";
        for i in 0..good.len() {
            for d in b'0'..=b'9' {
                if d != good[i] {
                    let mut bad = *good;
                    bad[i] = d;
                    assert!(!verhoeff_valid(&bad), "{}", String::from_utf8_lossy(&bad));
                }
            }
            if i + 1 < good.len() && good[i] != good[i + 1] {
                let mut bad = *good;
                bad.swap(i, i + 1);
                assert!(!verhoeff_valid(&bad), "{}", String::from_utf8_lossy(&bad));
            }
        }
    }

    /// `payload` followed by the digit that makes it Verhoeff-valid.
    fn with_check_digit(payload: &str) -> String {
        (b'0'..=b'9')
            .map(|d| format!("{payload}{}", char::from(d)))
            .find(|s| verhoeff_valid(s.as_bytes()))
            .expect("one digit completes any payload")
    }

    #[test]
    fn a_concept_id_is_six_to_eighteen_digits_of_a_concept_partition() {
        // An extension concept: a namespace, then partition 10.
        let extension = with_check_digit("100000110");
        assert_eq!(snomed_ct_concept_id(&extension), Ok(extension.clone()));
        let shortest = with_check_digit("10000");
        assert_eq!(snomed_ct_concept_id(&shortest), Ok(shortest.clone()));
        assert_eq!(
            snomed_ct_concept_id(" 80243003\u{a0}"),
            Ok("80243003".into())
        );
        assert_eq!(snomed_ct_concept_id("51360009"), Ok("51360009".into()));
        for refused in [
            "80243004",            // check digit
            "080243003",           // leading zero
            "8024300",             // check digit of a shorter number
            "8 0243003",           // inner blank
            "80243003.0",          // not digits
            "1234567893",          // partition 89
            "12345",               // too short
            "1000000000000000000", // too long
        ]
        .into_iter()
        .map(str::to_owned)
        // Check digits right, partitions of a description (01) and a relationship (02).
        .chain([with_check_digit("1234501"), with_check_digit("1234502")])
        {
            assert_eq!(
                snomed_ct_concept_id(&refused),
                Err(CodeError::SnomedCtConcept),
                "{refused}"
            );
        }
    }
}
