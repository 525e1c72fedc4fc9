//! The stream against the whole-text reader it replaced (kept here as the oracle), and what it
//! holds and reads.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::de::IgnoredAny;
use serde_json::error::Category;

use super::*;

/// An entry as text: `label = body` for an event, `label: problem (kind)` for a problem.
fn shown(entry: &Entry) -> String {
    match entry {
        Entry::Event(i) => format!("{} = {}", i.label, String::from_utf8_lossy(&i.body)),
        Entry::Problem(p) => format!("{} ({:?})", p.line(), p.kind),
    }
}

fn streamed(text: &[u8]) -> Vec<String> {
    Stream::text("cases.json", text)
        .map(|e| shown(&e))
        .collect()
}

/// The reader `process` used before the stream: the whole text in memory, split by its shape.
mod whole_text {
    use super::*;

    fn shape(text: &[u8]) -> Shape {
        let trimmed = text.trim_ascii_start();
        if trimmed.first() == Some(&b'[') {
            return Shape::Array;
        }
        if serde_json::from_slice::<IgnoredAny>(text).is_ok() {
            return Shape::One;
        }
        let first_line = trimmed
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        match serde_json::from_slice::<IgnoredAny>(first_line) {
            Err(e) if e.classify() == Category::Eof => Shape::BrokenDocument,
            _ => Shape::Lines,
        }
    }

    fn array_elements(text: &[u8]) -> Result<Vec<&[u8]>, serde_json::Error> {
        serde_json::from_slice::<Vec<IgnoredAny>>(text)?;
        let skip_ws = |mut i: usize| {
            while text.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            i
        };
        let mut elements = Vec::new();
        let mut i = skip_ws(skip_ws(0) + 1);
        while text.get(i).is_some_and(|b| *b != b']') {
            let rest = text.get(i..).unwrap_or_default();
            let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<IgnoredAny>();
            match values.next() {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
            let end = i + values.byte_offset();
            elements.push(text.get(i..end).unwrap_or_default());
            i = skip_ws(end);
            if text.get(i) == Some(&b',') {
                i = skip_ws(i + 1);
            }
        }
        Ok(elements)
    }

    pub(super) fn split(label: &str, text: &[u8]) -> Vec<String> {
        let event = |label: String, body: &[u8]| {
            shown(&Entry::Event(InputItem {
                label,
                body: body.to_vec(),
            }))
        };
        let problem = |p: InputProblem| shown(&Entry::Problem(p));
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        if text.trim_ascii().is_empty() {
            return vec![problem(InputProblem::no_input(
                label,
                "no case event in it",
            ))];
        }
        let mut out = Vec::new();
        match shape(text) {
            Shape::Array => match array_elements(text) {
                Ok(elements) if elements.is_empty() => out.push(problem(InputProblem::no_input(
                    label,
                    "an empty JSON array: no case event in it",
                ))),
                Ok(elements) => {
                    for (i, body) in elements.into_iter().enumerate() {
                        out.push(event(format!("{label}#{i}"), body));
                    }
                }
                Err(e) => out.push(problem(InputProblem::unreadable(
                    label,
                    NOT_JSON,
                    format!("not a valid JSON array: {}", position(&e, true)),
                ))),
            },
            Shape::One => out.push(event(label.to_owned(), text.trim_ascii())),
            Shape::BrokenDocument => {
                let detail = match serde_json::from_slice::<IgnoredAny>(text) {
                    Err(e) => format!("not valid JSON: {}", position(&e, true)),
                    Ok(_) => "not valid JSON".to_owned(),
                };
                out.push(problem(InputProblem::unreadable(label, NOT_JSON, detail)));
            }
            Shape::Lines => {
                for (n, line) in text.split(|b| *b == b'\n').enumerate() {
                    let line = line.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    let label = format!("{label}:{}", n + 1);
                    out.push(match serde_json::from_slice::<IgnoredAny>(line) {
                        Ok(_) => event(label, line),
                        Err(e) => problem(InputProblem::unreadable(
                            label,
                            NOT_JSON,
                            format!("not JSON: {}", position(&e, false)),
                        )),
                    });
                }
            }
        }
        out
    }
}

const TEXTS: &[&str] = &[
    "{\"a\": 1}",
    "{\"a\": 1}\n",
    "\n\n  {\"a\": 1}  \r\n\n",
    "\u{feff}{\"a\": 1}\n{\"a\": 2}\n",
    "{\n  \"a\": 1,\n  \"b\": [1, 2]\n}\n",
    "{\n  \"a\": 1\n  \"b\": 2\n}\n",
    "{\"a\": 1",
    "{\"a\": 1   ",
    "\n\n{\n  \"a\": \"x\"\n",
    "{\"a\": 1}\n\nnot json\n{\"a\": 2}\n",
    "{\"a\": 1}\r\n{\"a\": 2}\r\n",
    "not json\n{\"a\": 2}\n",
    "1\n2\n",
    "1\n",
    "tru\ne\n",
    "{\"a\": 1} {\"b\": 2}\n{\"c\": 3}",
    "[1, [2, 3], {\"a\": []}]",
    "  \n[\n {\"b\": 1, \"a\": [1, 2]} ,\n\t\"x\", 3.10 ]\n",
    "[\"a]\\\"]\", \"{\", {\"k\": \"}\\\\\"}]",
    "[ ]",
    "[]\n\n",
    "[{\"family_name\": \"P\"} {\"x\": 1}]",
    "[1, 2,]",
    "[1, 2",
    "[1, 2]\n[3]\n",
    "[1, 2] x",
    "\u{feff}[1]",
    "   \n\t ",
    "\u{feff}",
    "\u{feff}  \n",
    "\"a string\"",
    "{\"a\": 1}\n  \n   ",
    "\u{c}{\"a\": 1}\n",
    "{\"a\": 1}\n\u{c}\n",
    "{\"a\": 1}\u{c}",
    "{\"a\": 1}\n\u{c}\n{\"a\": 2}",
    "[\"a\n\"]",
    " \n[1,\n \"a\u{1}\"]",
    "[1,\n\r\n \"ab\r\n\"]",
];

#[test]
fn the_stream_reads_every_shape_as_the_whole_text_reader_did() {
    for text in TEXTS {
        assert_eq!(
            streamed(text.as_bytes()),
            whole_text::split("cases.json", text.as_bytes()),
            "{text:?}"
        );
    }
}

#[test]
fn generated_texts_read_the_same_streamed_as_whole() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"a\"",
        ":",
        ",",
        "1",
        "\n",
        " ",
        "\r\n",
        "\"x\\\"]\"",
        "true",
        "\t",
        "{\"k\": [1, {}]}",
        "\n\n",
        "nul",
        "\"",
        "2.5e3",
        "\u{feff}",
        "\u{c}",
        "\u{1}",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap_or(0) % n
    };
    for _ in 0..20_000 {
        let mut text = String::new();
        match next(6) {
            0 => text.push('['),
            1 => text.push_str(" \n ["),
            _ => {}
        }
        for _ in 0..next(14) {
            text.push_str(PIECES[next(PIECES.len())]);
        }
        assert_eq!(
            streamed(text.as_bytes()),
            whole_text::split("cases.json", text.as_bytes()),
            "{text:?}"
        );
    }
}

#[test]
fn a_text_read_once_reads_as_the_same_text_in_memory_arrays_included() {
    for text in TEXTS {
        let once: Vec<String> = Stream::once("cases.json", std::io::Cursor::new(text.as_bytes()))
            .map(|e| shown(&e))
            .collect();
        let mut expected = streamed(text.as_bytes());
        // Only the wording of an empty input differs: standard input's.
        if !text.starts_with('\u{feff}') && text.trim().is_empty() {
            expected =
                vec!["cases.json: standard input is empty: no case event to read (NoInput)".into()];
        }
        assert_eq!(once, expected, "{text:?}");
    }
}

/// A reader that hands out one chunk per read and counts the chunks it was asked for.
struct Chunks {
    chunks: Vec<Vec<u8>>,
    at: usize,
    offset: usize,
    served: Arc<AtomicUsize>,
    /// Reading past this many chunks fails, as a pipe whose writer died would.
    fail_after: Option<usize>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.fail_after.is_some_and(|n| self.at >= n) {
            return Err(std::io::Error::other("the writer went away"));
        }
        let Some(chunk) = self.chunks.get(self.at) else {
            return Ok(0);
        };
        if self.offset == 0 {
            self.served.fetch_add(1, Ordering::SeqCst);
        }
        let rest = &chunk[self.offset..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.offset += n;
        if self.offset == chunk.len() {
            self.at += 1;
            self.offset = 0;
        }
        Ok(n)
    }
}

fn lines(n: usize) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|i| format!("{{\"event_id\": \"e-{i}\"}}\n").into_bytes())
        .collect()
}

#[test]
fn json_lines_are_handed_out_before_the_lines_after_them_are_read() {
    let served = Arc::new(AtomicUsize::new(0));
    let reader = Chunks {
        chunks: lines(1000),
        at: 0,
        offset: 0,
        served: Arc::clone(&served),
        fail_after: None,
    };
    let mut s = Stream::once("stdin", reader);
    let first = s.next().map(|e| shown(&e));
    assert_eq!(first.as_deref(), Some("stdin:1 = {\"event_id\": \"e-1\"}"));
    // The first line, and the next one to tell JSON lines from one document.
    assert!(served.load(Ordering::SeqCst) <= 2, "{served:?}");
    let second = s.next().map(|e| shown(&e));
    assert_eq!(second.as_deref(), Some("stdin:2 = {\"event_id\": \"e-2\"}"));
    assert_eq!(
        s.next().map(|e| shown(&e)).as_deref(),
        Some("stdin:3 = {\"event_id\": \"e-3\"}")
    );
    assert!(served.load(Ordering::SeqCst) <= 3, "{served:?}");
    assert_eq!(s.count(), 997);
}

#[test]
fn a_read_error_midway_keeps_what_came_before_and_is_reported_once() {
    let reader = Chunks {
        chunks: lines(10),
        at: 0,
        offset: 0,
        served: Arc::new(AtomicUsize::new(0)),
        fail_after: Some(4),
    };
    let got: Vec<String> = Stream::once("stdin", reader).map(|e| shown(&e)).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(
        got[4],
        "stdin: cannot read standard input: the writer went away (NoInput)"
    );
}

#[test]
fn an_over_long_line_is_too_large_from_its_length_without_being_held() {
    let long = format!("{{\"a\": \"{}\"}}", "x".repeat(10_000));
    let text = format!("{{\"a\": 1}}\n  {long}  \n{{\"a\": 2}}\n");
    let got: Vec<String> = Stream::text("cases.jsonl", text.as_bytes())
        .line_limit(1024)
        .map(|e| shown(&e))
        .collect();
    assert_eq!(
        got,
        vec![
            "cases.jsonl:1 = {\"a\": 1}".to_owned(),
            format!(
                "cases.jsonl:2: unreadable (too-large): {} bytes, over the 1024-byte limit for one case event; the setting amqp.max_message_bytes raises it (Unreadable)",
                long.len()
            ),
            "cases.jsonl:3 = {\"a\": 2}".to_owned(),
        ]
    );
    // What screening said of the same line when the reader held it: the same line.
    let item = InputItem {
        label: "cases.jsonl:2".into(),
        body: long.clone().into_bytes(),
    };
    let screened = super::super::screen(&item, 1024).expect_err("too large");
    assert_eq!(format!("{} (Unreadable)", screened.line()), got[1]);
    // The line reader holds at most the limit.
    let (reader, _) =
        buffered(Box::new(std::io::Cursor::new(long.clone().into_bytes()))).expect("buffered");
    let mut lines = LineReader {
        reader,
        number: 0,
        limit: 1024,
        held: Held::default(),
        watch: false,
        form_feed: false,
    };
    lines.next().expect("read").expect("a line");
    assert_eq!(lines.held.bytes.len(), 1024);
    assert_eq!(lines.held.len, long.len());
}

#[test]
fn a_line_within_the_limit_but_for_its_trailing_blanks_is_read_whole() {
    let text = format!("{{\"a\": 1}}{}\n{{\"a\": 2}}\n", " ".repeat(64));
    let got: Vec<String> = Stream::text("cases.jsonl", text.as_bytes())
        .line_limit(16)
        .map(|e| shown(&e))
        .collect();
    assert_eq!(
        got,
        vec!["cases.jsonl:1 = {\"a\": 1}", "cases.jsonl:2 = {\"a\": 2}"]
    );
}

#[test]
fn an_over_long_array_element_or_document_line_is_too_large_and_the_rest_is_read() {
    let long = format!("{{\"a\": \"{}\"}}", "x".repeat(100));
    let text = format!("[{{\"a\": 1}}, {long}, 3]");
    let got: Vec<String> = Stream::text("cases.json", text.as_bytes())
        .line_limit(64)
        .map(|e| shown(&e))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "cases.json#0 = {\"a\": 1}");
    assert!(
        got[1].starts_with(&format!(
            "cases.json#1: unreadable (too-large): {} bytes, over the 64-byte limit",
            long.len()
        )),
        "{got:?}"
    );
    assert_eq!(got[2], "cases.json#2 = 3");
    // One long line alone is one document, too large.
    let got: Vec<String> = Stream::text("one.json", long.as_bytes())
        .line_limit(64)
        .map(|e| shown(&e))
        .collect();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("one.json: unreadable (too-large): "),
        "{got:?}"
    );
}

#[test]
fn files_folders_and_missing_inputs_are_named_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.json"), "[{\"a\": 1}, {\"a\": 2}]").expect("write");
    std::fs::write(dir.path().join("b.jsonl"), "{\"a\": 3}\n\n{\"a\": 4}\n").expect("write");
    std::fs::write(dir.path().join("c.json"), " \n").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "{}").expect("write");
    let empty = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.json");
    let named = [
        dir.path().to_path_buf(),
        empty.path().to_path_buf(),
        missing.clone(),
    ];
    let got: Vec<String> = stream(&named).map(|e| shown(&e)).collect();
    let d = dir.path().display();
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got[0], format!("{d}/a.json#0 = {{\"a\": 1}}"));
    assert_eq!(got[1], format!("{d}/a.json#1 = {{\"a\": 2}}"));
    assert_eq!(got[2], format!("{d}/b.jsonl:1 = {{\"a\": 3}}"));
    assert_eq!(got[3], format!("{d}/b.jsonl:3 = {{\"a\": 4}}"));
    assert_eq!(
        got[4],
        format!("{d}/c.json: the file is empty: no case event in it (NoInput)")
    );
    assert_eq!(
        got[5],
        format!(
            "{}: this folder holds no *.json or *.jsonl file (NoInput)",
            empty.path().display()
        )
    );
    assert!(
        got[6].starts_with(&format!("{}: cannot read it: ", missing.display())),
        "{got:?}"
    );
    // `read` is the same stream, collected.
    let read: Vec<String> = super::super::read(&named)
        .entries
        .iter()
        .map(shown)
        .collect();
    assert_eq!(read, got);
}
