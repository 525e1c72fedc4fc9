//! Words and sentences of a note, and phrases matched on whole words.
//!
//! A note is lower-cased once; a word is a run of letters and digits, joined across `'` `/` and
//! `.` when a letter or digit follows (`c/o`, `doesn't`, `1.5`); `'s` is dropped from a word's
//! end. Everything else separates words. Sentences end at `.` `!` `?` before a blank or the end
//! (not after a short abbreviation such as `dr.` or `e.g.`), and at `;` and line breaks.

use rustc_hash::FxHashMap;

/// The id of a word no phrase uses.
pub(super) const NONE: u32 = u32::MAX;

/// Abbreviations whose full stop does not end a sentence.
const ABBREVIATIONS: [&str; 9] = ["dr", "e.g", "i.e", "vs", "approx", "mr", "mrs", "ms", "cf"];

/// Every word any phrase uses, numbered.
#[derive(Default)]
pub(super) struct Vocabulary {
    ids: FxHashMap<Box<str>, u32>,
}

impl Vocabulary {
    fn id(&self, word: &str) -> u32 {
        self.ids.get(word).copied().unwrap_or(NONE)
    }

    fn intern(&mut self, word: &str) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(NONE - 1);
        *self.ids.entry(word.into()).or_insert(next)
    }

    /// A phrase as word ids, interning its words; empty when the phrase has no word. A phrase
    /// ending in `-` ("non-") is one word that only matches when a hyphen joins it to the next.
    pub(super) fn phrase(&mut self, phrase: &str) -> Vec<u32> {
        let mut words = Vec::new();
        let lower = lower_case(phrase);
        if let Some(prefix) = lower.strip_suffix('-') {
            if prefix.chars().all(char::is_alphanumeric) && !prefix.is_empty() {
                return vec![self.intern(&lower)];
            }
        }
        split(&lower, |piece| {
            if let Piece::Word(w, _) = piece {
                words.push(w.to_owned());
            }
        });
        words.iter().map(|w| self.intern(w)).collect()
    }

    /// Calls `sentence` with the word ids of each sentence of `text`, in order.
    pub(super) fn sentences(
        &self,
        text: &str,
        buffer: &mut Vec<u32>,
        mut sentence: impl FnMut(&[u32]),
    ) {
        let lower = lower_case(text);
        buffer.clear();
        split(&lower, |piece| match piece {
            Piece::Word(w, hyphen_joined) => {
                let id = if hyphen_joined {
                    let mut joined = String::with_capacity(w.len() + 1);
                    joined.push_str(w);
                    joined.push('-');
                    match self.id(&joined) {
                        NONE => self.id(w),
                        id => id,
                    }
                } else {
                    self.id(w)
                };
                buffer.push(id);
            }
            Piece::End => {
                if !buffer.is_empty() {
                    sentence(buffer);
                }
                buffer.clear();
            }
        });
        if !buffer.is_empty() {
            sentence(buffer);
        }
        buffer.clear();
    }
}

/// Lower case, with the typographic apostrophe read as `'`.
fn lower_case(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{2019}' {
            out.push('\'');
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A piece of a note: a word (and whether a hyphen joins it to the next), or a sentence end.
enum Piece<'a> {
    Word(&'a str, bool),
    End,
}

/// Splits lower-cased text into words and sentence ends, in order.
fn split(text: &str, mut piece: impl FnMut(Piece<'_>)) {
    let mut start: Option<usize> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            continue;
        }
        let joins = matches!(c, '\'' | '/' | '.') && next.is_some_and(char::is_alphanumeric);
        if start.is_some() && joins {
            continue;
        }
        let mut last_word = "";
        if let Some(s) = start.take() {
            let w = &text[s..i];
            let w = w.strip_suffix("'s").unwrap_or(w);
            last_word = w;
            if !w.is_empty() {
                let hyphen = c == '-' && next.is_some_and(char::is_alphanumeric);
                piece(Piece::Word(w, hyphen));
            }
        }
        let ends = match c {
            ';' | '\n' | '!' | '?' => true,
            '.' => {
                next.is_none_or(|n| n.is_whitespace() || matches!(n, '"' | '\'' | ')'))
                    && !ABBREVIATIONS.contains(&last_word)
            }
            _ => false,
        };
        if ends {
            piece(Piece::End);
        }
    }
    if let Some(s) = start {
        let w = &text[s..];
        let w = w.strip_suffix("'s").unwrap_or(w);
        if !w.is_empty() {
            piece(Piece::Word(w, false));
        }
    }
}

/// The words of a phrase after its first, and what the phrase stands for.
type Tail<T> = (Box<[u32]>, T);

/// Phrases (sequences of word ids) with what each stands for, found by their first word.
pub(super) struct Phrases<T> {
    by_first: FxHashMap<u32, Vec<Tail<T>>>,
}

impl<T> Default for Phrases<T> {
    fn default() -> Self {
        Self {
            by_first: FxHashMap::default(),
        }
    }
}

impl<T> Phrases<T> {
    /// Adds a phrase, or gives its payload back to merge when it is already there.
    pub(super) fn entry(&mut self, words: &[u32]) -> Option<&mut T>
    where
        T: Default,
    {
        let (first, rest) = words.split_first()?;
        let list = self.by_first.entry(*first).or_default();
        let at = match list.iter().position(|(r, _)| **r == *rest) {
            Some(at) => at,
            None => {
                list.push((rest.into(), T::default()));
                // Longest first, so the first match at a position is the longest.
                list.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
                list.iter().position(|(r, _)| **r == *rest)?
            }
        };
        list.get_mut(at).map(|(_, t)| t)
    }

    /// Every phrase starting at `at`, the longest first: its length in words and its payload.
    pub(super) fn all_at<'a, 'w>(
        &'a self,
        words: &'w [u32],
        at: usize,
    ) -> impl Iterator<Item = (usize, &'a T)> + 'w
    where
        'a: 'w,
    {
        let first = words.get(at).copied().unwrap_or(NONE);
        let after = words.get(at + 1..).unwrap_or(&[]);
        let list = if first == NONE {
            None
        } else {
            self.by_first.get(&first)
        };
        list.into_iter()
            .flatten()
            .filter(move |(rest, _)| after.starts_with(rest))
            .map(|(rest, t)| (rest.len() + 1, t))
    }

    /// Every phrase of `words`, the longest at each position, not overlapping:
    /// `(start, end, payload)`.
    pub(super) fn find<'a>(&'a self, words: &[u32], out: &mut Vec<(usize, usize, &'a T)>) {
        let mut i = 0;
        while i < words.len() {
            match self.all_at(words, i).next() {
                Some((len, t)) => {
                    out.push((i, i + len, t));
                    i += len;
                }
                None => i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        let lower = lower_case(text);
        let mut out = vec![Vec::new()];
        split(&lower, |piece| match piece {
            Piece::Word(w, joined) => {
                if let Some(last) = out.last_mut() {
                    last.push(if joined {
                        format!("{w}-")
                    } else {
                        w.to_owned()
                    });
                }
            }
            Piece::End => out.push(Vec::new()),
        });
        out.retain(|s| !s.is_empty());
        out
    }

    #[test]
    fn words_join_across_slashes_apostrophes_and_decimal_points_only() {
        assert_eq!(
            words("Pt c/o itching, w/o bleeding; 1.5 mm. Doesn\u{2019}t hurt"),
            vec![
                vec!["pt", "c/o", "itching", "w/o", "bleeding"],
                vec!["1.5", "mm"],
                vec!["doesn't", "hurt"],
            ]
        );
    }

    #[test]
    fn a_possessive_is_dropped_and_a_hyphen_separates_words() {
        assert_eq!(
            words("The patient's non-tender foreign-body sensation"),
            vec![vec![
                "the",
                "patient",
                "non-",
                "tender",
                "foreign-",
                "body",
                "sensation"
            ]]
        );
    }

    #[test]
    fn sentences_end_at_full_stops_line_breaks_and_semicolons_but_not_after_abbreviations() {
        let s = words("Seen by Dr. Lee, e.g. today.\nNo pain! Itch? Yes; red");
        assert_eq!(s.len(), 5, "{s:?}");
        assert_eq!(s[0], vec!["seen", "by", "dr", "lee", "e.g", "today"]);
    }

    #[test]
    fn the_longest_phrase_at_a_position_wins() {
        let mut v = Vocabulary::default();
        let mut p: Phrases<u8> = Phrases::default();
        for (phrase, n) in [("no", 1), ("no evidence of", 2), ("evidence", 3)] {
            let ids = v.phrase(phrase);
            if let Some(t) = p.entry(&ids) {
                *t = n;
            }
        }
        let mut buffer = Vec::new();
        let mut found = Vec::new();
        v.sentences("No evidence of it, no evidence", &mut buffer, |s| {
            let mut out = Vec::new();
            p.find(s, &mut out);
            found.extend(out.iter().map(|&(a, b, t)| (a, b, *t)));
        });
        assert_eq!(found, vec![(0, 3, 2), (4, 5, 1), (5, 6, 3)]);
    }
}
