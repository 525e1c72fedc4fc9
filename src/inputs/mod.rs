//! Case events named on the command line (`process`, `check`, `publish`): files, folders of
//! `*.json` and `*.jsonl` files, or `-` for standard input. A file holds one JSON value, a JSON
//! array of case events, or JSON lines, and which one is decided by looking at it:
//!
//! - its first non-blank byte is `[`: a JSON array, one case event per element;
//! - the whole text is one JSON value: one case event;
//! - otherwise its first non-blank line decides: when that line is the start of a value that
//!   goes on past it (a pretty-printed object), the file is one JSON document with an error,
//!   reported once with its line and column; when not, the file is JSON lines, one case event
//!   per non-blank line, and a line that is not JSON is reported with its number.
//!
//! Inputs are read as a stream ([`stream`]), one at a time and only as far as asked: a file of
//! JSON lines line by line, an array element by element, one document whole. Under a line limit
//! ([`Stream::line_limit`], the size limit of one case event under `process`), a longer line or
//! array element is reported as too large from its length alone, without being held.
//!
//! Nothing here quotes an input: problems name the input, a category and a position.

use std::path::PathBuf;

use serde_json::error::Category;

use crate::case::{check_identifiable, identify, Identified};

mod stream;
pub use stream::{stream, Stream};

/// One case event read from an input, with where it came from: `file`, `file#index` (an
/// element of a JSON array, from 0) or `file:line` (JSON lines, from 1).
#[derive(Clone)]
pub struct InputItem {
    pub label: String,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for InputItem {
    /// The label and the body's length: the body is a whole case event.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputItem")
            .field("label", &self.label)
            .field("body", &crate::case::redact::RedactedBytes(self.body.len()))
            .finish()
    }
}

/// What kind of problem an input has, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Nothing to read: a missing or unopenable file, an empty file, folder or array.
    NoInput,
    /// Something was read, but it is not a case event (not JSON, not an object, no usable ids,
    /// over the size limit).
    Unreadable,
}

/// A problem with an input, named by its label; nothing in it quotes the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    pub label: String,
    pub kind: ProblemKind,
    /// For an unreadable input, the reason code the worker would park it under (`not-json`,
    /// `no-event-id`, `too-large`, …).
    pub reason: Option<&'static str>,
    pub detail: String,
}

impl InputProblem {
    fn no_input(label: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            kind: ProblemKind::NoInput,
            reason: None,
            detail: detail.into(),
        }
    }

    /// An input that is not a case event, with the reason code.
    pub fn unreadable(
        label: impl Into<String>,
        reason: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            label: label.into(),
            kind: ProblemKind::Unreadable,
            reason: Some(reason),
            detail: detail.into(),
        }
    }

    /// What is wrong, for a person: `unreadable (not-json): …` or the detail alone.
    pub fn message(&self) -> String {
        match self.reason {
            Some(reason) => format!("unreadable ({reason}): {}", self.detail),
            None => self.detail.clone(),
        }
    }

    /// The problem as one line for a person: `label: message`.
    pub fn line(&self) -> String {
        format!("{}: {}", self.label, self.message())
    }
}

/// One thing found in the inputs, in the order it was found.
#[derive(Debug, Clone)]
pub enum Entry {
    Event(InputItem),
    Problem(InputProblem),
}

/// Everything read from the inputs, in order.
#[derive(Debug, Default)]
pub struct Inputs {
    pub entries: Vec<Entry>,
}

impl Inputs {
    /// The case events and the problems, apart.
    pub fn into_parts(self) -> (Vec<InputItem>, Vec<InputProblem>) {
        let mut items = Vec::new();
        let mut problems = Vec::new();
        for e in self.entries {
            match e {
                Entry::Event(i) => items.push(i),
                Entry::Problem(p) => problems.push(p),
            }
        }
        (items, problems)
    }
}

/// The exit code for a set of problems: [`crate::exit::NO_INPUT`] when something named could not
/// be read at all, else [`crate::exit::DATA`] when something read is not a case event, else
/// `None`.
pub fn exit_code<'a>(problems: impl IntoIterator<Item = &'a InputProblem>) -> Option<u8> {
    let mut code = None;
    for p in problems {
        match p.kind {
            ProblemKind::NoInput => return Some(crate::exit::NO_INPUT),
            ProblemKind::Unreadable => code = Some(crate::exit::DATA),
        }
    }
    code
}

/// The label of standard input.
pub const STDIN: &str = "stdin";

/// Reads every input, in order: files, folders (their `*.json` and `*.jsonl` files, sorted), or
/// `-` for standard input. An empty list reads nothing: the caller decides what that means.
/// [`stream`] reads the same, as it is asked for.
pub fn read(inputs: &[PathBuf]) -> Inputs {
    Inputs {
        entries: stream(inputs).collect(),
    }
}

/// How a text holds its case events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Array,
    One,
    /// One JSON document (its first line opens a value that goes on) that does not parse.
    BrokenDocument,
    Lines,
}

/// Decides the shape of a non-blank text by looking at it (see the module documentation), as
/// [`stream`] does when it opens an input.
pub fn shape(text: &[u8]) -> Shape {
    let mut s = Stream::text("text", text);
    // Opening the text decides its shape.
    let _ = s.next();
    s.shape().unwrap_or(Shape::BrokenDocument)
}

/// Splits one input's text into case events (and problems), by its shape. A UTF-8 byte order
/// mark, which some Windows exports write, is not part of the JSON.
#[cfg(test)]
fn split(label: &str, text: &[u8], out: &mut Inputs) {
    out.entries.extend(Stream::text(label, text));
}

/// What is wrong with a JSON text, by category and position only (serde_json's own message can
/// quote the input). `with_line` is false for one line of JSON lines, whose label has the line.
fn position(e: &serde_json::Error, with_line: bool) -> String {
    position_at(e.classify(), e.line(), e.column(), with_line)
}

/// [`position`] of an error of this category at this line and column.
fn position_at(category: Category, line: usize, column: usize, with_line: bool) -> String {
    let what = match category {
        Category::Syntax => "a syntax error",
        Category::Eof => "the text ends before the JSON value does",
        Category::Data => "a value of the wrong type",
        Category::Io => "a read error",
    };
    if with_line {
        format!("{what} at line {line} column {column}")
    } else {
        format!("{what} at column {column}")
    }
}

/// The reason code of an oversized case event, the one the worker parks it under.
pub const TOO_LARGE: &str = "too-large";
/// The reason code of an input that is not JSON.
const NOT_JSON: &str = "not-json";

/// The size error every command gives: the size, the limit, and the setting that raises it.
pub fn too_large(bytes: usize, limit: usize) -> String {
    format!(
        "{bytes} bytes, over the {limit}-byte limit for one case event; the setting amqp.max_message_bytes raises it"
    )
}

/// Checks that an item can be answered as a case event: within the size limit, a JSON object
/// with usable `event_id` and `case_id`. The problem says why not, with its reason code.
pub fn screen(item: &InputItem, max_message_bytes: usize) -> Result<Identified<'_>, InputProblem> {
    screen_body(&item.body, max_message_bytes)
        .map_err(|(code, detail)| InputProblem::unreadable(&item.label, code, detail))
}

/// [`screen`] without the identified body: what `process` checks of each case event as it
/// reads, before the pipeline reads it again.
pub fn answerable(item: &InputItem, max_message_bytes: usize) -> Result<(), InputProblem> {
    let problem = |code, detail| InputProblem::unreadable(&item.label, code, detail);
    if item.body.len() > max_message_bytes {
        return Err(problem(
            TOO_LARGE,
            too_large(item.body.len(), max_message_bytes),
        ));
    }
    check_identifiable(&item.body).map_err(|u| problem(u.reason.code(), u.detail))
}

/// [`screen`] for a bare body: the reason code and the detail when it is not a case event.
pub fn screen_body(
    body: &[u8],
    max_message_bytes: usize,
) -> Result<Identified<'_>, (&'static str, String)> {
    if body.len() > max_message_bytes {
        return Err((TOO_LARGE, too_large(body.len(), max_message_bytes)));
    }
    identify(body).map_err(|u| (u.reason.code(), u.detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_text(text: &str) -> (Vec<InputItem>, Vec<InputProblem>) {
        let mut out = Inputs::default();
        split("cases.json", text.as_bytes(), &mut out);
        out.into_parts()
    }

    #[test]
    fn the_shape_of_an_input_is_decided_by_looking_at_it() {
        assert_eq!(shape(b"  \n[1, 2]"), Shape::Array);
        assert_eq!(shape(b"[1, 2"), Shape::Array);
        assert_eq!(shape(b"{\n  \"a\": 1\n}\n"), Shape::One);
        assert_eq!(shape(b"{\"a\": 1}\n{\"a\": 2}\n"), Shape::Lines);
        assert_eq!(shape(b"not json\n{\"a\": 2}\n"), Shape::Lines);
        assert_eq!(
            shape(b"{\n  \"a\": 1\n  \"b\": 2\n}\n"),
            Shape::BrokenDocument
        );
    }

    #[test]
    fn a_pretty_printed_file_with_one_syntax_error_is_one_problem_with_its_line_and_column() {
        let text = "{\n  \"event_id\": \"e-1\",\n  \"case_id\": \"Petrovskaya\"\n  \"kind\": \"submission\"\n}\n";
        let (items, problems) = split_text(text);
        assert!(items.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].line(),
            "cases.json: unreadable (not-json): not valid JSON: a syntax error at line 4 column 3"
        );
        assert_eq!(problems[0].kind, ProblemKind::Unreadable);
        assert!(!problems[0].line().contains("Petrov"));
    }

    #[test]
    fn a_broken_json_array_is_reported_without_its_text() {
        let (items, problems) = split_text(r#"[{"family_name": "Petrovskaya"} {"x": 1}]"#);
        assert!(items.is_empty());
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].detail,
            "not a valid JSON array: a syntax error at line 1 column 33"
        );
    }

    #[test]
    fn array_elements_keep_their_own_bytes() {
        let (items, problems) = split_text("[\n {\"b\": 1, \"a\": [1, 2]} ,\n\t\"x\", 3.10 ]\n");
        assert!(problems.is_empty(), "{problems:?}");
        let bodies: Vec<&[u8]> = items.iter().map(|i| i.body.as_slice()).collect();
        assert_eq!(
            bodies,
            vec![&br#"{"b": 1, "a": [1, 2]}"#[..], b"\"x\"", b"3.10"]
        );
        assert_eq!(items[2].label, "cases.json#2");
    }

    #[test]
    fn numbers_and_nested_arrays_end_where_their_array_says() {
        let (items, problems) = split_text("[1,[2,3],{\"a\":[]}]");
        assert!(problems.is_empty(), "{problems:?}");
        let bodies: Vec<&[u8]> = items.iter().map(|i| i.body.as_slice()).collect();
        assert_eq!(bodies, vec![&b"1"[..], b"[2,3]", br#"{"a":[]}"#]);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_json() {
        let (items, problems) = split_text("\u{feff}{\"event_id\": \"e-1\"}\r\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(items[0].body, br#"{"event_id": "e-1"}"#);
    }

    #[test]
    fn an_empty_array_is_no_input() {
        let (items, problems) = split_text(" [ ] ");
        assert!(items.is_empty());
        assert_eq!(problems[0].kind, ProblemKind::NoInput);
        assert_eq!(exit_code(&problems), Some(crate::exit::NO_INPUT));
    }

    #[test]
    fn json_lines_report_each_bad_line_by_number_and_keep_the_others() {
        let (items, problems) = split_text("{\"a\": 1}\n\nnot json\n{\"a\": 2}\n");
        let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, vec!["cases.json:1", "cases.json:4"]);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].line(),
            "cases.json:3: unreadable (not-json): not JSON: a syntax error at column 2"
        );
        assert_eq!(exit_code(&problems), Some(crate::exit::DATA));
    }

    #[test]
    fn the_size_reason_is_the_one_the_worker_parks_under() {
        assert_eq!(TOO_LARGE, crate::pipeline::ParkReason::TooLarge.code());
    }

    #[test]
    fn an_oversized_event_names_the_setting_that_raises_the_limit() {
        let item = InputItem {
            label: "big.json".into(),
            body: vec![b' '; 2048],
        };
        let p = screen(&item, 1024).expect_err("too large");
        assert_eq!(
            p.message(),
            "unreadable (too-large): 2048 bytes, over the 1024-byte limit for one case event; the setting amqp.max_message_bytes raises it"
        );
    }

    #[test]
    fn an_input_item_prints_its_label_and_length_only_in_debug_output() {
        let item = InputItem {
            label: "cases.jsonl:3".into(),
            body: br#"{"family_name": "Petrovskaya"}"#.to_vec(),
        };
        let shown = format!("{item:?}");
        assert!(
            shown.contains("cases.jsonl:3") && shown.contains("<30 bytes>"),
            "{shown}"
        );
        assert!(!shown.contains("Petrov"), "{shown}");
    }
}
