//! Whether the clinical notes back the claimed indications. Notes are read as statements
//! (config/context.toml, the ConText algorithm): a mention counts only when it is affirmed,
//! current and the patient's, in a note of the rendering provider's record dated no later than
//! the event. Findings name the note by its position and the trigger class, never its text or
//! its id (both come from the publisher).

use crate::case::registry::{DOC_06, DOC_07, DOC_08, DOC_09, DOC_10};
use crate::case::{CaseEvent, ClinicalNote, Finding, Indication};
use crate::notes::{Class, Classes};
use crate::rules::clinical::NoteReading;

use crate::rules::{word, Policy};

/// Why a note's evidence does not count in full.
#[derive(Clone, Copy)]
enum Outside {
    /// Dated after the event: written after the decision it is meant to support.
    Late,
    /// Written by someone other than the rendering provider, for an organisation that is not
    /// the rendering provider's.
    OtherOrganisation,
}

/// What the notes say of one claimed indication.
enum Reading {
    /// Affirmed, current and the patient's, in a note of the rendering provider's record.
    Documented,
    /// Affirmed only in notes that are late or from outside (the first such note).
    OnlyOutside(usize, Outside),
    /// Mentioned only as negated or hypothetical (the first such note, and the class).
    Contradicted(usize, Class),
    /// Mentioned only as past, or of someone else.
    NotCurrent(usize, Class),
    Silent,
}

/// Why a note does not count in full, if it does not.
fn outside(case: &CaseEvent, note: &ClinicalNote) -> Option<Outside> {
    if note.date > case.occurred_on() {
        return Some(Outside::Late);
    }
    let provider = &case.provider;
    if note.author_npi.as_ref() == Some(&provider.npi) {
        return None;
    }
    // Only a note that names its author's organisation can be shown to come from outside: a
    // colleague's note with no organisation is taken as the practice's own.
    let org = note.author_organization_npi.as_ref()?;
    let same = provider.organization_npi.as_ref() == Some(org) || *org == provider.npi;
    (!same).then_some(Outside::OtherOrganisation)
}

/// A note as read: why it does not count in full (if so), and its mentions of indications.
type Note<'a> = (Option<Outside>, &'a [(Indication, Classes)]);

fn read_indication(indication: &Indication, notes: &[Note<'_>]) -> Reading {
    let mut outside_only = None;
    let mut contradicted = None;
    let mut not_current = None;
    for (n, (out, mentions)) in notes.iter().enumerate() {
        for (_, classes) in mentions.iter().filter(|(i, _)| i == indication) {
            match (classes.iter().next(), out) {
                (None, None) => return Reading::Documented,
                (None, Some(why)) => {
                    outside_only.get_or_insert((n, *why));
                }
                (Some(c @ (Class::Negated | Class::Hypothetical)), _) => {
                    contradicted.get_or_insert((n, c));
                }
                (Some(c), _) => {
                    not_current.get_or_insert((n, c));
                }
            }
        }
    }
    if let Some((n, why)) = outside_only {
        Reading::OnlyOutside(n, why)
    } else if let Some((n, c)) = contradicted {
        Reading::Contradicted(n, c)
    } else if let Some((n, c)) = not_current {
        Reading::NotCurrent(n, c)
    } else {
        Reading::Silent
    }
}

/// DOC-06 to DOC-10 for the claimed indications the payer accepts.
pub(super) fn notes_back_indications(
    case: &CaseEvent,
    policy: &Policy,
    read: &[NoteReading],
    out: &mut Vec<Finding>,
) {
    let doc = &case.documentation;
    let claimed: Vec<(usize, &Indication)> = doc
        .indications
        .iter()
        .enumerate()
        .filter(|(_, i)| policy.covers(i))
        .collect();
    if claimed.is_empty() {
        return;
    }
    if doc.clinical_notes.is_empty() {
        out.push(DOC_06.finding(
            "documentation.clinical_notes",
            "the documented indications must be backed by at least one clinical note",
        ));
        return;
    }
    let notes: Vec<Note<'_>> = doc
        .clinical_notes
        .iter()
        .zip(read)
        .map(|(n, r)| (outside(case, n), r.mentions.as_slice()))
        .collect();
    let readings: Vec<(usize, &Indication, Reading)> = claimed
        .iter()
        .filter(|(_, i)| policy.clinical.looks_for(i))
        .map(|&(at, i)| (at, i, read_indication(i, &notes)))
        .collect();
    let any_documented = readings
        .iter()
        .any(|(_, _, r)| matches!(r, Reading::Documented | Reading::OnlyOutside(..)));
    let note = |n: usize| format!("documentation.clinical_notes[{n}]");
    let mut undocumented = Vec::new();
    for (at, ind, reading) in &readings {
        let path = format!("documentation.indications[{at}]");
        let word = word(ind);
        match reading {
            Reading::Documented => {}
            Reading::OnlyOutside(n, why) => out.push(DOC_10.finding(
                &path,
                match why {
                    Outside::Late => format!(
                        "{word} is documented only in {}, which is dated after the event",
                        note(*n)
                    ),
                    Outside::OtherOrganisation => format!(
                        "{word} is documented only in {}, which was written for an organisation other than the rendering provider's",
                        note(*n)
                    ),
                },
            )),
            Reading::Contradicted(n, class) => out.push(DOC_08.finding(
                &path,
                format!(
                    "the notes contradict {word}: {} mentions it only as {} ({} trigger), and no note affirms it",
                    note(*n),
                    match class {
                        Class::Negated => "absent or denied",
                        _ => "possible or anticipated",
                    },
                    class.name()
                ),
            )),
            Reading::NotCurrent(n, class) => undocumented.push((
                path,
                format!(
                    "no clinical note documents {word} as current and the patient's: {} mentions it only as {} ({} trigger)",
                    note(*n),
                    match class {
                        Class::Historical => "past",
                        _ => "someone else's",
                    },
                    class.name()
                ),
            )),
            Reading::Silent => undocumented.push((
                path,
                format!("no clinical note mentions {word}: a reviewer will look for it in the notes"),
            )),
        }
    }
    let contradicted_only = readings
        .iter()
        .all(|(_, _, r)| matches!(r, Reading::Contradicted(..)));
    if !any_documented && !readings.is_empty() && !contradicted_only {
        out.push(DOC_09.finding(
            "documentation.clinical_notes",
            format!(
                "no clinical note documents any claimed indication as current and the patient's; payer policy {:?} needs the indication in the record",
                policy.name
            ),
        ));
    }
    for (path, message) in undocumented {
        out.push(DOC_07.finding(&path, message));
    }
}

#[cfg(test)]
mod tests;
