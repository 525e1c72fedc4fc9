//! The evidence rules; the independent note corpus is in `corpus`.

mod corpus;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::case::Finding;
use crate::rules::testing::{base, findings, ids};

/// The base case (restricts-vision and pain claimed) with one note of `text`.
fn with_note(text: &str) -> Value {
    let mut v = base();
    v["documentation"]["clinical_notes"][0]["text"] = json!(text);
    v
}

fn with_indications(v: &mut Value, words: &[&str]) {
    v["documentation"]["indications"] = json!(words);
}

fn rules_at<'a>(f: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.rule == rule).collect()
}

#[test]
fn a_note_that_denies_the_only_claimed_indication_blocks_the_submission() {
    // The reported case: itching claimed and coded, the only note denies it and worries about
    // it starting.
    let mut v = with_note(
        "Pt denies itching, bleeding or pain. She worries she might start itching if the lesions spread.",
    );
    with_indications(&mut v, &["itching"]);
    v["service"]["diagnoses"] = json!([{"code": "H02.822", "primary": true}, {"code": "L29.8"}]);
    let f = findings(&v, "default");
    let contradicted = rules_at(&f, "DOC-08");
    assert_eq!(contradicted.len(), 1, "{f:?}");
    assert!(contradicted[0].is_error());
    assert_eq!(contradicted[0].path, "documentation.indications[0]");
    assert!(
        contradicted[0]
            .message
            .contains("documentation.clinical_notes[0]")
            && contradicted[0].message.contains("negated trigger"),
        "{}",
        contradicted[0].message
    );
    // A contradiction is its own error: no "notes are silent" on top of it.
    assert!(rules_at(&f, "DOC-09").is_empty(), "{f:?}");
}

#[test]
fn a_merely_hypothetical_mention_contradicts_the_claim() {
    let mut v = with_note("Return if itching develops. Lesions asymptomatic otherwise.");
    with_indications(&mut v, &["itching"]);
    let f = findings(&v, "default");
    assert!(ids(&f).contains(&"DOC-08:E".to_owned()), "{f:?}");
}

#[test]
fn notes_silent_on_every_claimed_indication_block_under_the_lcd_default() {
    let v = with_note("Two milia on the right lower lid margin. Plan: destruction.");
    let f = findings(&v, "default");
    assert!(ids(&f).contains(&"DOC-09:E".to_owned()), "{f:?}");
    // Each claimed indication is named too, as a warning.
    assert_eq!(rules_at(&f, "DOC-07").len(), 2, "{f:?}");
}

#[test]
fn a_payer_policy_sets_the_severity_of_silent_notes() {
    use crate::codes::CodeTable;
    use crate::rules::policy::Policy;
    use crate::rules::testing::decode_value;
    use crate::rules::validate;
    let text = include_str!("../../../config/policies/default.toml").replacen(
        "DOC-09 = \"error\"",
        "DOC-09 = \"warning\"",
        1,
    );
    let codes = CodeTable::embedded().expect("codes");
    let clinical = std::sync::Arc::new(crate::rules::clinical::Clinical::embedded().expect("c"));
    let policy = Policy::from_toml(&text, "t.toml", &codes, clinical).expect("loads");
    let v = with_note("Two milia on the right lower lid margin. Plan: destruction.");
    let f = validate(&decode_value(&v), &policy, &codes);
    assert!(ids(&f).contains(&"DOC-09:W".to_owned()), "{f:?}");
}

#[test]
fn one_documented_indication_leaves_the_others_as_warnings() {
    let v = with_note("Milia on the right lower lid margin rub the cornea; blurred vision.");
    let f = findings(&v, "default");
    let got = ids(&f);
    assert!(
        !got.iter()
            .any(|g| g.starts_with("DOC-09") || g.starts_with("DOC-08")),
        "{got:?}"
    );
    let undocumented = rules_at(&f, "DOC-07");
    assert_eq!(undocumented.len(), 1, "{f:?}");
    assert_eq!(undocumented[0].path, "documentation.indications[1]");
}

#[test]
fn a_past_or_someone_elses_mention_is_not_documentation() {
    let v = with_note(
        "Blurred vision on down-gaze. History of pain in that eye, resolved. Her mother has painful lesions.",
    );
    let f = findings(&v, "default");
    let pain = rules_at(&f, "DOC-07");
    assert_eq!(pain.len(), 1, "{f:?}");
    assert!(
        pain[0].message.contains("historical trigger"),
        "{}",
        pain[0].message
    );
}

#[test]
fn evidence_only_in_a_late_note_or_from_another_organisation_is_a_warning() {
    // Dated after the event.
    let mut v = with_note("Milia abrade the cornea; blurred vision; pain on blinking.");
    v["documentation"]["clinical_notes"][0]["date"] = json!("2026-12-05");
    let f = findings(&v, "default");
    let late = rules_at(&f, "DOC-10");
    assert_eq!(late.len(), 2, "{f:?}");
    assert!(late
        .iter()
        .all(|x| !x.is_error() && x.message.contains("after the event")));

    // A colleague's note with no organisation is the practice's own.
    let mut v = with_note("Milia abrade the cornea; blurred vision; pain on blinking.");
    v["documentation"]["clinical_notes"][0]["author_npi"] = json!("1245319599");
    let f = findings(&v, "default");
    assert!(rules_at(&f, "DOC-10").is_empty(), "{f:?}");

    // A note written for another organisation.
    v["documentation"]["clinical_notes"][0]["author_organization_npi"] = json!("1679576722");
    let f = findings(&v, "default");
    assert_eq!(rules_at(&f, "DOC-10").len(), 2, "{f:?}");
    assert!(rules_at(&f, "DOC-10")[0].message.contains("organisation"));

    // The same organisation, when both sides say so, counts in full.
    v["provider"]["organization_npi"] = json!("1679576722");
    let f = findings(&v, "default");
    assert!(rules_at(&f, "DOC-10").is_empty(), "{f:?}");
}

#[test]
fn an_affirmed_mention_in_any_proper_note_outweighs_a_denial_in_another() {
    let mut v = base();
    v["documentation"]["clinical_notes"] = json!([
        {"id": "N-1", "date": "2026-10-01", "text": "Denies pain. No visual complaints."},
        {"id": "N-2", "date": "2026-11-18", "text": "Now pain on blinking; blurred vision OD."}
    ]);
    let f = findings(&v, "default");
    let got = ids(&f);
    assert!(
        !got.iter()
            .any(|g| g.starts_with("DOC-0") && g != "DOC-05:W" && g != "DOC-03:W"),
        "{got:?}"
    );
}

/// Words a generated sentence is made of: filler, and triggers of every class (which cannot
/// reach across a sentence end), but no indication term.
const WORDS: &[&str] = &[
    "the",
    "patient",
    "pt",
    "was",
    "seen",
    "today",
    "for",
    "follow",
    "up",
    "no",
    "not",
    "denies",
    "history",
    "of",
    "mother",
    "father",
    "if",
    "possible",
    "return",
    "plan",
    "discussed",
    "consent",
    "obtained",
    "photos",
    "taken",
    "with",
    "scale",
    "lid",
    "lesion",
    "milia",
    "right",
    "left",
    "lower",
    "upper",
    "but",
    "however",
    "none",
    "absent",
    "previously",
    "resolved",
    "s/p",
    "r/o",
    "w/o",
    "c/o",
    "weeks",
    "ago",
    "family",
    "prior",
    "treatment",
    "tretinoin",
    "warm",
    "compresses",
    "insurance",
    "card",
    "copied",
    "address",
    "verified",
    "20/20",
];

fn sentence() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(WORDS), 1..12)
        .prop_map(|w| format!("{}.", w.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn an_unrelated_sentence_never_changes_a_verdict(
        extra in sentence(),
        before in any::<bool>(),
        note in proptest::sample::select(vec![
            "Milia on the right lower lid margin rub the cornea; blurred vision; pain on blinking.",
            "Pt denies pain. Blurred vision when reading.",
            "Return if painful. No visual complaints.",
            "Two milia on the right lower lid margin.",
            "History of pain, resolved. Her mother has blurred vision.",
        ]),
    ) {
        let baseline = ids(&findings(&with_note(note), "default"));
        let text = if before { format!("{extra} {note}") } else { format!("{note} {extra}") };
        let got = ids(&findings(&with_note(&text), "default"));
        prop_assert_eq!(baseline, got, "sentence {:?}", extra);
    }
}
