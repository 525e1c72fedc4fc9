//! Clinical notes read as statements, not as strings: the ConText algorithm (Harkema et al.,
//! 2009, the successor of NegEx) over the words of a note.
//!
//! The triggers, pseudo-triggers and termination terms are data (config/context.toml, with
//! their sources); the terms looked for (targets) are given by the caller. A mention of a target
//! comes back with the classes whose scope covers it: negated, hypothetical, historical,
//! experienced by someone else. A mention with none is affirmed, current and the patient's.
//! Nothing here keeps or returns note text: a mention is a target label and a set of classes.

mod words;

use std::collections::BTreeMap;

use serde::Deserialize;

use words::{Phrases, Vocabulary};

/// The shipped trigger lexicon.
const EMBEDDED: &str = include_str!("../../config/context.toml");
const EMBEDDED_NAME: &str = "config/context.toml (embedded)";

/// A ConText trigger class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Negated,
    Hypothetical,
    Historical,
    OtherPerson,
}

impl Class {
    /// Every class, in the order a mention's status is named (negated first).
    pub const ALL: [Class; 4] = [
        Class::Negated,
        Class::Hypothetical,
        Class::Historical,
        Class::OtherPerson,
    ];

    /// The class's name in configuration and in findings.
    pub fn name(self) -> &'static str {
        match self {
            Class::Negated => "negated",
            Class::Hypothetical => "hypothetical",
            Class::Historical => "historical",
            Class::OtherPerson => "other-person",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of trigger classes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Classes(u8);

impl Classes {
    pub fn contains(self, class: Class) -> bool {
        self.0 & class.bit() != 0
    }

    pub fn insert(&mut self, class: Class) {
        self.0 |= class.bit();
    }

    /// True when no trigger covers the mention: it is affirmed, current and the patient's.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The classes in [`Class::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Class> {
        Class::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// Without the classes of `other`.
    #[must_use]
    pub fn without(self, other: Classes) -> Classes {
        Classes(self.0 & !other.0)
    }
}

impl std::fmt::Debug for Classes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(Class::name)).finish()
    }
}

/// A mention of a target in a note: which target, and the classes that cover it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mention {
    pub target: u32,
    pub classes: Classes,
}

/// What a modifier phrase does; one phrase may do several things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Opens a scope forward to the end of the sentence or a termination term.
    Pre(Class),
    /// Covers only the word a hyphen joins it to ("non-tender").
    Joined(Class),
    /// Opens a scope back over at most `post_window` words.
    Post(Class),
    /// Looks like a trigger and is not one.
    Pseudo,
    /// Ends the scopes of one class, or of every class.
    Terminate(Option<Class>),
}

/// How a term speaks of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A mention ("itching").
    Mention,
    /// A mention of its absence ("painless"): a negated mention.
    Absent,
    /// Not a mention, though it contains one ("infection control"): it hides the shorter term.
    Ignore,
}

/// What a target term stands for: labels, each with how the term speaks of it. One term may
/// stand for several targets ("asymptomatic"), and be a mention of one and part of another.
#[derive(Clone, Debug, Default)]
struct Target {
    labels: Vec<(u32, Kind)>,
}

/// Why a lexicon could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct NotesError {
    source_name: String,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextFile {
    scope: ScopeFile,
    negated: ClassFile,
    hypothetical: ClassFile,
    historical: ClassFile,
    #[serde(rename = "other-person")]
    other_person: ClassFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    post_window: usize,
    terminate: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    pre: Vec<String>,
    post: Vec<String>,
    pseudo: Vec<String>,
    terminate: Vec<String>,
}

/// A target term to look for: the phrase, its label, and how it speaks of the target. For each
/// label, the longest term at a position wins and the words it covers are not read again for
/// that label; terms of other labels are matched independently ("eyelid margin" is both a
/// margin and an eyelid).
pub struct Term<'a> {
    pub phrase: &'a str,
    pub label: u32,
    pub kind: Kind,
}

/// The note reader: triggers, targets and the words they use.
pub struct Reader {
    vocabulary: Vocabulary,
    modifiers: Phrases<Vec<Role>>,
    targets: Phrases<Target>,
    post_window: usize,
    per_label: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("post_window", &self.post_window)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// A reader with the shipped triggers and the given targets.
    pub fn embedded<'a>(targets: impl IntoIterator<Item = Term<'a>>) -> Result<Self, NotesError> {
        Self::from_toml(EMBEDDED, EMBEDDED_NAME, targets)
    }

    pub fn from_toml<'a>(
        text: &str,
        source_name: &str,
        targets: impl IntoIterator<Item = Term<'a>>,
    ) -> Result<Self, NotesError> {
        let invalid = |message: String| NotesError {
            source_name: source_name.to_owned(),
            message,
        };
        let file: ContextFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if !(1..=20).contains(&file.scope.post_window) {
            return Err(invalid(
                "scope.post_window: must be from 1 to 20 words".into(),
            ));
        }
        let mut reader = Reader {
            vocabulary: Vocabulary::default(),
            modifiers: Phrases::default(),
            targets: Phrases::default(),
            post_window: file.scope.post_window,
            per_label: false,
        };
        let mut lists: BTreeMap<String, (&Vec<String>, Role)> = BTreeMap::new();
        lists.insert(
            "scope.terminate".into(),
            (&file.scope.terminate, Role::Terminate(None)),
        );
        for (class, f) in [
            (Class::Negated, &file.negated),
            (Class::Hypothetical, &file.hypothetical),
            (Class::Historical, &file.historical),
            (Class::OtherPerson, &file.other_person),
        ] {
            let name = class.name();
            lists.insert(format!("{name}.pre"), (&f.pre, Role::Pre(class)));
            lists.insert(format!("{name}.post"), (&f.post, Role::Post(class)));
            lists.insert(format!("{name}.pseudo"), (&f.pseudo, Role::Pseudo));
            lists.insert(
                format!("{name}.terminate"),
                (&f.terminate, Role::Terminate(Some(class))),
            );
        }
        for (key, (list, role)) in lists {
            for (i, phrase) in list.iter().enumerate() {
                let at = format!("{key}[{i}]");
                check_phrase(phrase).map_err(|m| invalid(format!("{at}: {m}")))?;
                let joined = phrase.ends_with('-');
                let role = match role {
                    Role::Pre(c) if joined => Role::Joined(c),
                    _ if joined => {
                        return Err(invalid(format!(
                            "{at}: only a pre-trigger may end in a hyphen"
                        )))
                    }
                    r => r,
                };
                let ids = reader.vocabulary.phrase(phrase);
                let roles = reader
                    .modifiers
                    .entry(&ids)
                    .ok_or_else(|| invalid(format!("{at}: no word in the phrase")))?;
                if roles.contains(&role) {
                    return Err(invalid(format!("{at}: {phrase:?} is listed twice")));
                }
                roles.push(role);
            }
        }
        for term in targets {
            check_phrase(term.phrase)
                .map_err(|m| invalid(format!("term {:?}: {m}", term.phrase)))?;
            let ids = reader.vocabulary.phrase(term.phrase);
            let slot = reader
                .targets
                .entry(&ids)
                .ok_or_else(|| invalid(format!("term {:?}: no word in the phrase", term.phrase)))?;
            if slot.labels.iter().any(|(l, _)| *l == term.label) {
                return Err(invalid(format!("term {:?} is listed twice", term.phrase)));
            }
            slot.labels.push((term.label, term.kind));
        }
        Ok(reader)
    }

    /// Terms of different labels overlap: each label is matched on its own ("eyelid margin" is
    /// a margin and an eyelid). By default the longest term at a position wins for every label
    /// ("blocked his vision" is about vision, not an obstructed orifice).
    #[must_use]
    pub fn per_label(mut self) -> Self {
        self.per_label = true;
        self
    }

    /// Every mention of a target in `text`, in order, with the classes that cover it.
    pub fn read(&self, text: &str, out: &mut Vec<Mention>) {
        let mut buffer = Vec::new();
        let mut modifiers = Vec::new();
        let mut targets = Vec::new();
        let mut covered = Vec::new();
        self.vocabulary.sentences(text, &mut buffer, |sentence| {
            targets.clear();
            find_targets(
                &self.targets,
                sentence,
                self.per_label,
                &mut covered,
                &mut targets,
            );
            if targets.is_empty() {
                return;
            }
            modifiers.clear();
            self.modifiers.find(sentence, &mut modifiers);
            for &(start, end, label, kind) in &targets {
                let mut classes = Classes::default();
                for &(m_start, m_end, roles) in &modifiers {
                    for role in roles {
                        match *role {
                            Role::Pre(c)
                                if m_end <= start
                                    && !self.terminated(&modifiers, c, m_end, start) =>
                            {
                                classes.insert(c);
                            }
                            Role::Joined(c) if m_end == start => classes.insert(c),
                            Role::Post(c)
                                if m_start >= end
                                    && m_start - start <= self.post_window
                                    && !self.terminated(&modifiers, c, end, m_start) =>
                            {
                                classes.insert(c);
                            }
                            _ => {}
                        }
                    }
                }
                if kind == Kind::Absent {
                    classes.insert(Class::Negated);
                }
                out.push(Mention {
                    target: label,
                    classes,
                });
            }
        });
    }

    /// True when a termination term for `class` lies between words `from` and `to`.
    fn terminated(
        &self,
        modifiers: &[(usize, usize, &Vec<Role>)],
        class: Class,
        from: usize,
        to: usize,
    ) -> bool {
        modifiers.iter().any(|&(s, _, roles)| {
            s >= from
                && s < to
                && roles.iter().any(|r| match r {
                    Role::Terminate(None) => true,
                    Role::Terminate(Some(c)) => *c == class,
                    _ => false,
                })
        })
    }
}

/// The target terms of a sentence, `(start, end, label, kind)`: the longest term at each
/// position, not overlapping; or, `per_label`, for each label the longest term at each position
/// not already covered by a term of that label. Ignored terms are matched (they cover their
/// words) and left out.
fn find_targets(
    targets: &Phrases<Target>,
    words: &[u32],
    per_label: bool,
    covered: &mut Vec<usize>,
    out: &mut Vec<(usize, usize, u32, Kind)>,
) {
    covered.clear();
    if !per_label {
        let mut found = Vec::new();
        targets.find(words, &mut found);
        for (start, end, target) in found {
            for &(label, kind) in &target.labels {
                if kind != Kind::Ignore {
                    out.push((start, end, label, kind));
                }
            }
        }
        return;
    }
    for at in 0..words.len() {
        for (len, target) in targets.all_at(words, at) {
            for &(label, kind) in &target.labels {
                let slot = usize::try_from(label).unwrap_or(usize::MAX);
                if covered.len() <= slot {
                    covered.resize(slot.saturating_add(1).min(1 << 16), 0);
                }
                let Some(until) = covered.get_mut(slot) else {
                    continue;
                };
                if at < *until {
                    continue;
                }
                *until = at + len;
                if kind != Kind::Ignore {
                    out.push((at, at + len, label, kind));
                }
            }
        }
    }
}

/// A phrase is lower case, not blank and not padded.
fn check_phrase(phrase: &str) -> Result<(), String> {
    if phrase.trim().is_empty() || phrase.trim() != phrase {
        return Err("a phrase must not be blank or padded".into());
    }
    if phrase.to_lowercase() != phrase {
        return Err(format!(
            "{phrase:?} must be lower case: notes are read in lower case"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
