use super::*;

const ITCHING: u32 = 0;
const BLEEDING: u32 = 1;
const PAIN: u32 = 2;

fn reader() -> Reader {
    let terms = [
        ("itch", ITCHING, false),
        ("itchy", ITCHING, false),
        ("itching", ITCHING, false),
        ("pruritus", ITCHING, false),
        ("bleeding", BLEEDING, false),
        ("bleeds", BLEEDING, false),
        ("bled", BLEEDING, false),
        ("pain", PAIN, false),
        ("painful", PAIN, false),
        ("tender", PAIN, false),
        ("painless", PAIN, true),
    ];
    Reader::embedded(terms.iter().map(|&(phrase, label, absent)| Term {
        phrase,
        label,
        kind: if absent { Kind::Absent } else { Kind::Mention },
    }))
    .expect("the shipped lexicon loads")
}

/// The classes of each mention, as names, in order.
fn read(text: &str) -> Vec<(u32, Vec<&'static str>)> {
    let mut out = Vec::new();
    reader().read(text, &mut out);
    out.iter()
        .map(|m| (m.target, m.classes.iter().map(Class::name).collect()))
        .collect()
}

fn classes_of(text: &str, target: u32) -> Vec<&'static str> {
    let all = read(text);
    let found: Vec<_> = all.iter().filter(|(t, _)| *t == target).collect();
    assert_eq!(found.len(), 1, "{text}: {all:?}");
    found[0].1.clone()
}

#[test]
fn an_affirmed_mention_has_no_class() {
    assert!(classes_of("Pt c/o intense itching over the left lower lid.", ITCHING).is_empty());
    assert!(classes_of("The lesion bleeds when she washes.", BLEEDING).is_empty());
}

#[test]
fn targets_match_whole_words_only() {
    assert!(read("Required reading; reduced dose; bloodwork normal; itchless? no.").is_empty());
    assert_eq!(read("itchy").len(), 1);
    assert!(read("itchless").is_empty());
}

#[test]
fn a_pre_negation_covers_the_rest_of_the_sentence() {
    let text = "Denies itching, bleeding or pain.";
    for t in [ITCHING, BLEEDING, PAIN] {
        assert_eq!(classes_of(text, t), vec!["negated"], "{t}");
    }
    for text in [
        "No itching.",
        "Pt is without itching.",
        "w/o itching",
        "no c/o itching",
        "Negative for itching.",
        "Free of itching.",
        "No evidence of bleeding.",
        "No signs of bleeding at the margin.",
        "She does not itch.",
        "Doesn't itch.",
    ] {
        let mentions = read(text);
        assert!(
            mentions.iter().all(|(_, c)| c == &vec!["negated"]),
            "{text}: {mentions:?}"
        );
        assert!(!mentions.is_empty(), "{text}");
    }
}

#[test]
fn a_post_negation_reaches_back_a_few_words() {
    assert_eq!(classes_of("Itching is denied.", ITCHING), vec!["negated"]);
    assert_eq!(classes_of("Bleeding: none.", BLEEDING), vec!["negated"]);
    assert_eq!(classes_of("Pain was ruled out.", PAIN), vec!["negated"]);
    // Beyond the window the post-trigger does not reach.
    assert!(classes_of(
        "Itching over the lesion on the left lower eyelid margin, with crusting not present",
        ITCHING
    )
    .is_empty());
}

#[test]
fn a_termination_term_ends_the_scope() {
    let text = "Denies pain but reports bleeding.";
    assert_eq!(classes_of(text, PAIN), vec!["negated"]);
    assert!(classes_of(text, BLEEDING).is_empty());
    let text = "No itching, however the lesion bleeds.";
    assert!(classes_of(text, BLEEDING).is_empty());
}

#[test]
fn a_sentence_end_ends_the_scope() {
    for text in [
        "No itching. The lesion bleeds.",
        "No itching; the lesion bleeds.",
        "No itching\nThe lesion bleeds",
    ] {
        assert!(classes_of(text, BLEEDING).is_empty(), "{text}");
        assert_eq!(classes_of(text, ITCHING), vec!["negated"], "{text}");
    }
}

#[test]
fn a_pseudo_trigger_is_not_a_trigger() {
    assert!(classes_of("No improvement in itching after tretinoin.", ITCHING).is_empty());
    assert!(classes_of("Mupirocin for two weeks without relief of pain.", PAIN).is_empty());
    assert!(classes_of("Not only itchy, it also bleeds.", ITCHING).is_empty());
}

#[test]
fn a_hyphenated_non_covers_only_its_word() {
    let text = "Non-tender papule that bleeds on touch.";
    assert_eq!(classes_of(text, PAIN), vec!["negated"]);
    assert!(classes_of(text, BLEEDING).is_empty());
}

#[test]
fn a_term_that_names_an_absence_is_negated() {
    assert_eq!(classes_of("A painless papule.", PAIN), vec!["negated"]);
}

#[test]
fn hypothetical_triggers_cover_worries_plans_and_conditions() {
    for text in [
        "She worries she might start itching.",
        "Return if bleeding.",
        "Should it become painful, call.",
        "Possible pruritus.",
        "Counselled on the risk of bleeding.",
        "r/o pruritus",
    ] {
        let mentions = read(text);
        assert!(
            !mentions.is_empty() && mentions.iter().all(|(_, c)| c.contains(&"hypothetical")),
            "{text}: {mentions:?}"
        );
    }
}

#[test]
fn historical_triggers_cover_the_past_and_the_present_ends_them() {
    assert_eq!(
        classes_of("History of bleeding.", BLEEDING),
        vec!["historical"]
    );
    assert_eq!(classes_of("Bled years ago.", BLEEDING), vec!["historical"]);
    assert_eq!(
        classes_of("Itching previously.", ITCHING),
        vec!["historical"]
    );
    assert_eq!(
        classes_of("Itching has resolved.", ITCHING),
        vec!["historical"]
    );
    assert!(classes_of("Previously treated, now bleeding.", BLEEDING).is_empty());
}

#[test]
fn someone_else_experiencing_it_is_not_the_patient() {
    assert_eq!(
        classes_of("Her mother has itchy milia.", ITCHING),
        vec!["other-person"]
    );
    assert_eq!(
        classes_of("Family history of bleeding disorders.", BLEEDING),
        vec!["other-person"]
    );
    assert!(classes_of("Her mother noticed that the patient is itching.", ITCHING).is_empty());
}

#[test]
fn mixed_affirmed_and_negated_mentions_are_each_read() {
    let got = read("No pain. Itching at night; no bleeding.");
    assert_eq!(
        got,
        vec![
            (PAIN, vec!["negated"]),
            (ITCHING, vec![]),
            (BLEEDING, vec!["negated"]),
        ]
    );
}

#[test]
fn an_unknown_key_a_padded_phrase_or_a_duplicate_is_refused_with_its_key() {
    let refused = |from: &str, to: &str, names: &str| {
        assert!(EMBEDDED.contains(from), "{from}");
        let err = Reader::from_toml(&EMBEDDED.replacen(from, to, 1), "t.toml", [])
            .expect_err("refused")
            .to_string();
        assert!(err.starts_with("t.toml: ") && err.contains(names), "{err}");
    };
    refused("[negated]\n", "[negated]\nside = []\n", "side");
    refused("\"denies\",", "\" denies\",", "negated.pre[");
    refused("\"denies\",", "\"Denies\",", "negated.pre[");
    refused("\"denies\",", "\"denies\", \"denies\",", "listed twice");
    refused("post_window = 5", "post_window = 0", "scope.post_window");
    refused(
        "\"absent\", \"is absent\"",
        "\"absent-\", \"is absent\"",
        "hyphen",
    );
}
