//! The independent note corpus (tests/fixtures/notes/corpus.json): notes and lesion sites
//! written from the coverage rules by someone who had not read this code, each with the reading
//! a payer's reviewer would give it. The reader's agreement with it is measured here, and every
//! disagreement is listed with its cause in tests/fixtures/notes/disagreements.toml: a change that
//! fixes one or adds one fails until that list says so.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::case::Indication;
use crate::notes::Class;
use crate::rules::clinical::Clinical;

const CORPUS: &str = include_str!("../../../../tests/fixtures/notes/corpus.json");
const DISAGREEMENTS: &str = include_str!("../../../../tests/fixtures/notes/disagreements.toml");

#[derive(Deserialize)]
struct Corpus {
    notes: Vec<Note>,
    sites: Vec<Site>,
}

#[derive(Deserialize)]
struct Note {
    id: String,
    text: String,
    expected: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Site {
    id: String,
    text: String,
    expected: String,
}

#[derive(Deserialize)]
struct Known {
    /// `"<note id> <indication>"` or `"site <site id>"` -> the cause.
    disagreements: BTreeMap<String, Disagreement>,
}

#[derive(Deserialize)]
struct Disagreement {
    expected: String,
    got: String,
    #[allow(dead_code)]
    cause: String,
}

/// The note's status for one indication, as the corpus names it: evidence when a mention counts,
/// otherwise the first class of any mention (negated, hypothetical, historical, other-person),
/// otherwise silent.
fn status(clinical: &Clinical, text: &str, indication: &Indication) -> &'static str {
    let reading = clinical.read_note(text);
    let of: Vec<_> = reading
        .mentions
        .iter()
        .filter(|(i, _)| i == indication)
        .collect();
    if of.iter().any(|(_, c)| c.is_empty()) {
        return "evidence";
    }
    for class in Class::ALL {
        if of.iter().any(|(_, c)| c.contains(class)) {
            return class.name();
        }
    }
    "silent"
}

#[test]
fn the_independent_corpus_is_read_as_its_author_expected_but_for_the_listed_disagreements() {
    let corpus: Corpus = serde_json::from_str(CORPUS).expect("corpus.json");
    let known: Known = toml::from_str(DISAGREEMENTS).expect("disagreements.toml");
    let clinical = Clinical::embedded().expect("vocabulary");
    let indications: Vec<Indication> = Indication::VOCABULARY
        .iter()
        .map(|w| Indication::parse(w))
        .filter(|i| clinical.looks_for(i))
        .collect();
    assert_eq!(indications.len(), 13);
    assert!(corpus.notes.len() >= 40 && corpus.sites.len() >= 20);

    let mut found: BTreeMap<String, (String, String)> = BTreeMap::new();
    let (mut pairs, mut same, mut same_decision) = (0, 0, 0);
    // The pairs where either side sees a mention: the ones that say something about the reader.
    let (mut spoken, mut spoken_same) = (0, 0);
    for note in &corpus.notes {
        for word in note.expected.keys() {
            assert!(
                indications.iter().any(|i| i.known_word() == Some(word)),
                "{}: {word} is not an indication",
                note.id
            );
        }
        for i in &indications {
            let word = i.known_word().unwrap_or("?");
            let expected = note.expected.get(word).map_or("silent", String::as_str);
            let got = status(&clinical, &note.text, i);
            pairs += 1;
            if got != "silent" || expected != "silent" {
                spoken += 1;
                if got == expected {
                    spoken_same += 1;
                }
            }
            if got == expected {
                same += 1;
            } else {
                found.insert(format!("{} {word}", note.id), (expected.into(), got.into()));
            }
            if (got == "evidence") == (expected == "evidence") {
                same_decision += 1;
            }
        }
    }
    let mut site_same = 0;
    for site in &corpus.sites {
        let at_margin = clinical.read_site(&site.text).at_margin();
        let expected_margin = site.expected == "margin";
        if at_margin == expected_margin {
            site_same += 1;
        } else {
            found.insert(
                format!("site {}", site.id),
                (
                    site.expected.clone(),
                    if at_margin { "margin" } else { "not margin" }.into(),
                ),
            );
        }
    }
    println!(
        "notes: {same}/{pairs} statuses agree ({spoken_same}/{spoken} where either side sees a mention), {same_decision}/{pairs} evidence decisions agree; sites: {site_same}/{} margin decisions agree",
        corpus.sites.len()
    );

    let mut unexplained = Vec::new();
    for (key, (expected, got)) in &found {
        match known.disagreements.get(key) {
            Some(d) if d.expected == *expected && d.got == *got => {}
            _ => unexplained.push(format!("{key}: expected {expected}, got {got}")),
        }
    }
    let gone: Vec<&String> = known
        .disagreements
        .keys()
        .filter(|k| !found.contains_key(*k))
        .collect();
    assert!(
        unexplained.is_empty() && gone.is_empty(),
        "disagreements not in disagreements.toml:\n{}\nlisted but no longer disagreeing: {gone:?}",
        unexplained.join("\n")
    );
}
