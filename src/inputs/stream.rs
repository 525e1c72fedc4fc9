//! The inputs read lazily, one input at a time, in the order named: JSON lines line by line, a
//! JSON array element by element, one JSON document whole. [`super::read`] collects this stream;
//! `process` consumes it as it goes, so its memory does not grow with its input.
//!
//! Only as much as deciding needs is held: a line of JSON lines or an element of an array up to
//! the size limit (past it, only its length is counted, and it is reported as too large), a
//! document whole. A JSON array is read twice: first checked whole, so that a broken array is
//! one problem and none of its elements is processed, then element by element. Standard input,
//! which cannot be read twice, is copied to an unnamed temporary file while it is checked.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::IgnoredAny;
use serde_json::error::Category;

use super::{
    position, position_at, too_large, Entry, InputItem, InputProblem, Shape, NOT_JSON, STDIN,
    TOO_LARGE,
};

/// The UTF-8 byte order mark some Windows exports write: not part of the JSON.
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Blank to `trim_ascii`, not to JSON.
const FORM_FEED: u8 = 0x0C;
/// Bytes read from an input at a time.
const CHUNK: usize = 64 * 1024;

type Reader = Box<dyn BufRead + Send>;

/// The case events and problems of the inputs, read as they are asked for. See the module
/// documentation of [`super`] for how an input's shape is decided.
pub struct Stream {
    /// Inputs named and not yet opened.
    named: VecDeque<PathBuf>,
    /// The files of the folder being read, not yet opened.
    folder: VecDeque<PathBuf>,
    /// One input given whole, read before the named ones.
    given: Option<(String, Origin)>,
    source: Option<Source>,
    /// Entries found while opening an input, handed out before its next ones are read.
    ready: VecDeque<Entry>,
    /// The largest line or array element held; a larger one is reported as too large.
    limit: usize,
    /// The shape of the last input opened.
    shape: Option<Shape>,
}

/// Every input, in order: files, folders (their `*.json` and `*.jsonl` files, sorted), or `-`
/// for standard input. Nothing is read until the stream is asked for its first entry.
pub fn stream(inputs: &[PathBuf]) -> Stream {
    Stream {
        named: inputs.iter().cloned().collect(),
        folder: VecDeque::new(),
        given: None,
        source: None,
        ready: VecDeque::new(),
        limit: usize::MAX,
        shape: None,
    }
}

impl Stream {
    /// Holds no line of JSON lines and no array element longer than `bytes`: a longer one is
    /// reported as too large (the reason the worker parks it under) with its length, unread.
    pub fn line_limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The stream of one text held in memory, labelled `label`.
    pub(super) fn text(label: &str, text: &[u8]) -> Self {
        let mut s = stream(&[]);
        s.given = Some((label.to_owned(), Origin::Memory(Arc::from(text))));
        s
    }

    /// The stream of one reader that can be read once (as standard input is).
    #[cfg(test)]
    pub(crate) fn once(label: &str, reader: impl Read + Send + 'static) -> Self {
        let mut s = stream(&[]);
        s.given = Some((label.to_owned(), Origin::Once(Some(Box::new(reader)))));
        s
    }

    /// The shape of the input opened last, once the stream has begun reading it.
    pub(super) fn shape(&self) -> Option<Shape> {
        self.shape
    }

    fn open_next(&mut self) -> bool {
        if let Some((label, origin)) = self.given.take() {
            self.begin(label, origin);
            return true;
        }
        if let Some(file) = self.folder.pop_front() {
            self.begin(file.display().to_string(), Origin::File(file));
            return true;
        }
        let Some(input) = self.named.pop_front() else {
            return false;
        };
        if input.as_os_str() == "-" {
            let stdin: Box<dyn Read + Send> = Box::new(io::stdin());
            self.begin(STDIN.to_owned(), Origin::Once(Some(stdin)));
            return true;
        }
        let label = input.display().to_string();
        if input.is_dir() {
            match list_dir(&input) {
                Ok(files) if files.is_empty() => self.nothing(
                    label,
                    "this folder holds no *.json or *.jsonl file".to_owned(),
                ),
                Ok(files) => self.folder = files.into(),
                Err(e) => self.nothing(label, format!("cannot list this folder: {e}")),
            }
        } else {
            self.begin(label, Origin::File(input));
        }
        true
    }

    fn nothing(&mut self, label: String, detail: String) {
        self.ready
            .push_back(Entry::Problem(InputProblem::no_input(label, detail)));
    }

    fn begin(&mut self, label: String, origin: Origin) {
        let cannot = origin.cannot();
        let mut opening = Opening {
            label,
            limit: self.limit,
            out: &mut self.ready,
            shape: None,
        };
        self.source = match opening.start(origin) {
            Ok(source) => source,
            Err(e) => {
                let label = opening.label.clone();
                opening.out.push_back(read_problem(label, cannot, &e));
                None
            }
        };
        self.shape = opening.shape;
    }
}

impl Iterator for Stream {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Some(entry);
            }
            if let Some(source) = &mut self.source {
                match source.next() {
                    Some(entry) => return Some(entry),
                    None => self.source = None,
                }
                continue;
            }
            if !self.open_next() {
                return None;
            }
        }
    }
}

fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

/// Where one input's bytes come from.
enum Origin {
    /// A file, opened again for the second reading of an array.
    File(PathBuf),
    /// A text in memory.
    Memory(Arc<[u8]>),
    /// A reader that can be read once: standard input (or a test's reader).
    Once(Option<Box<dyn Read + Send>>),
}

impl Origin {
    fn open(&mut self) -> io::Result<Box<dyn Read + Send>> {
        match self {
            Origin::File(path) => Ok(Box::new(File::open(path)?)),
            Origin::Memory(text) => Ok(Box::new(Cursor::new(Arc::clone(text)))),
            Origin::Once(reader) => reader
                .take()
                .ok_or_else(|| io::Error::other("this input can be read only once")),
        }
    }

    /// What an input that holds nothing but whitespace is told.
    fn empty(&self) -> &'static str {
        match self {
            Origin::File(_) => "the file is empty: no case event in it",
            Origin::Once(_) => "standard input is empty: no case event to read",
            Origin::Memory(_) => "no case event in it",
        }
    }

    /// How a read error begins.
    fn cannot(&self) -> &'static str {
        match self {
            Origin::Once(_) => "cannot read standard input",
            _ => "cannot read it",
        }
    }
}

fn read_problem(label: String, cannot: &str, e: &io::Error) -> Entry {
    Entry::Problem(InputProblem::no_input(label, format!("{cannot}: {e}")))
}

fn not_json(label: String, detail: String) -> Entry {
    Entry::Problem(InputProblem::unreadable(label, NOT_JSON, detail))
}

fn oversized(label: String, bytes: usize, limit: usize) -> Entry {
    Entry::Problem(InputProblem::unreadable(
        label,
        TOO_LARGE,
        too_large(bytes, limit),
    ))
}

fn event(label: String, body: Vec<u8>) -> Entry {
    Entry::Event(InputItem { label, body })
}

/// A reader that reads again when a read is interrupted by a signal.
struct Patient(Box<dyn Read + Send>);

impl Read for Patient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// Buffers `raw`, without a leading byte order mark; `true` when there was one.
fn buffered(raw: Box<dyn Read + Send>) -> io::Result<(Reader, bool)> {
    let mut raw = Patient(raw);
    let mut head = [0u8; 3];
    let mut n = 0;
    while let Some(rest) = head.get_mut(n..).filter(|r| !r.is_empty()) {
        match raw.read(rest)? {
            0 => break,
            k => n += k,
        }
    }
    let head = head.get(..n).unwrap_or_default();
    let bom = head == BOM;
    let kept = if bom { Vec::new() } else { head.to_vec() };
    let reader = BufReader::with_capacity(CHUNK, Cursor::new(kept).chain(raw));
    Ok((Box::new(reader), bom))
}

/// Consumes whitespace, keeping it in `skipped`; the first other byte (not consumed), or `None`
/// at the end.
fn skip_whitespace(reader: &mut Reader, skipped: &mut Vec<u8>) -> io::Result<Option<u8>> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        match chunk.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let first = chunk[i];
                skipped.extend_from_slice(&chunk[..i]);
                reader.consume(i);
                return Ok(Some(first));
            }
            None => {
                let n = chunk.len();
                skipped.extend_from_slice(chunk);
                reader.consume(n);
            }
        }
    }
}

/// What a line or an element came to: its bytes from the first non-blank one, held up to the
/// limit, and their lengths.
#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    /// Every byte from the first non-blank one, held or not.
    raw_len: usize,
    /// Up to the last non-blank byte: the length of the trimmed text.
    len: usize,
}

impl Held {
    fn clear(&mut self) {
        self.bytes.clear();
        self.raw_len = 0;
        self.len = 0;
    }

    /// Adds the next piece, keeping at most `limit` bytes.
    fn push(&mut self, piece: &[u8], limit: usize) {
        let piece = if self.raw_len == 0 {
            piece.trim_ascii_start()
        } else {
            piece
        };
        if let Some(last) = piece.iter().rposition(|b| !b.is_ascii_whitespace()) {
            self.len = self.raw_len + last + 1;
        }
        let room = limit.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or_default());
        self.raw_len += piece.len();
    }

    /// The trimmed text, when it was held whole.
    fn text(&self) -> Option<&[u8]> {
        self.bytes.get(..self.len)
    }
}

/// Reads lines, holding each only up to the limit.
struct LineReader {
    reader: Reader,
    /// Lines read so far.
    number: usize,
    limit: usize,
    held: Held,
    /// Whether to look for form feeds, which are blank to the trimming but not to JSON.
    watch: bool,
    /// A form feed was seen while watching.
    form_feed: bool,
}

/// One line read: its number (from 1) and whether a newline ended it; its text is in the
/// reader's [`Held`].
struct Line {
    number: usize,
    terminated: bool,
}

impl LineReader {
    /// The next line, `None` at the end of the input.
    fn next(&mut self) -> io::Result<Option<Line>> {
        self.held.clear();
        let mut any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                if !any {
                    return Ok(None);
                }
                self.number += 1;
                return Ok(Some(Line {
                    number: self.number,
                    terminated: false,
                }));
            }
            any = true;
            let newline = chunk.iter().position(|b| *b == b'\n');
            let piece = chunk
                .get(..newline.unwrap_or(chunk.len()))
                .unwrap_or_default();
            if self.watch && piece.contains(&FORM_FEED) {
                self.form_feed = true;
            }
            self.held.push(piece, self.limit);
            let used = newline.map_or(chunk.len(), |i| i + 1);
            self.reader.consume(used);
            if newline.is_some() {
                self.number += 1;
                return Ok(Some(Line {
                    number: self.number,
                    terminated: true,
                }));
            }
        }
    }

    /// The next line that is not blank.
    fn next_text(&mut self) -> io::Result<Option<Line>> {
        while let Some(line) = self.next()? {
            if self.held.len > 0 {
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    /// The entry of the line just read, labelled `label:number`; `None` for a blank line.
    fn entry(&self, label: &str, line: &Line) -> Option<Entry> {
        if self.held.len == 0 {
            return None;
        }
        let label = format!("{label}:{}", line.number);
        let Some(text) = self.held.text() else {
            return Some(oversized(label, self.held.len, self.limit));
        };
        Some(match serde_json::from_slice::<IgnoredAny>(text) {
            Ok(_) => event(label, text.to_vec()),
            Err(e) => not_json(label, format!("not JSON: {}", position(&e, false))),
        })
    }
}

/// An input being read.
enum Source {
    Lines {
        label: String,
        lines: LineReader,
        cannot: &'static str,
        ended: bool,
    },
    Array(ArrayReader),
}

impl Source {
    fn next(&mut self) -> Option<Entry> {
        match self {
            Source::Lines {
                label,
                lines,
                cannot,
                ended,
            } => {
                while !*ended {
                    match lines.next() {
                        Ok(Some(line)) => {
                            if let Some(entry) = lines.entry(label, &line) {
                                return Some(entry);
                            }
                        }
                        Ok(None) => *ended = true,
                        Err(e) => {
                            *ended = true;
                            return Some(read_problem(label.clone(), cannot, &e));
                        }
                    }
                }
                None
            }
            Source::Array(array) => array.next(),
        }
    }
}

/// Deciding an input's shape from its first bytes, and reading what that takes.
struct Opening<'a> {
    label: String,
    limit: usize,
    out: &'a mut VecDeque<Entry>,
    shape: Option<Shape>,
}

impl Opening<'_> {
    /// Reads the start of the input: what is found goes to `out`, and what is left to read is
    /// the source returned.
    fn start(&mut self, mut origin: Origin) -> io::Result<Option<Source>> {
        let (mut reader, bom) = buffered(origin.open()?)?;
        let mut skipped = Vec::new();
        let Some(first) = skip_whitespace(&mut reader, &mut skipped)? else {
            let detail = if bom {
                "no case event in it"
            } else {
                origin.empty()
            };
            let label = self.label.clone();
            self.out
                .push_back(Entry::Problem(InputProblem::no_input(label, detail)));
            return Ok(None);
        };
        if first == b'[' {
            self.shape = Some(Shape::Array);
            return self.array(origin, reader, skipped);
        }
        let cannot = origin.cannot();
        let newlines = skipped.iter().filter(|b| **b == b'\n').count();
        let mut lines = LineReader {
            reader,
            number: newlines,
            limit: self.limit,
            held: Held::default(),
            // Until the shape is known: a text with a form feed outside its first value is not
            // one JSON value, though it trims to one.
            watch: true,
            form_feed: skipped.contains(&FORM_FEED),
        };
        let Some(line) = lines.next()? else {
            return Ok(None);
        };
        let label = self.label.clone();
        let numbered = format!("{label}:{}", line.number);
        let lines_from = |mut lines: LineReader| {
            lines.watch = false;
            Source::Lines {
                label: label.clone(),
                lines,
                cannot,
                ended: false,
            }
        };
        let Some(text) = lines.held.text() else {
            // Too long to hold: one document when nothing follows it, else the first of the
            // JSON lines.
            let len = lines.held.len;
            return Ok(match lines.next_text()? {
                None if !lines.form_feed => {
                    self.shape = Some(Shape::One);
                    self.out
                        .push_back(oversized(label.clone(), len, self.limit));
                    None
                }
                next => {
                    self.shape = Some(Shape::Lines);
                    self.out.push_back(oversized(numbered, len, self.limit));
                    if let Some(next) = next {
                        self.out.extend(lines.entry(&label, &next));
                    }
                    Some(lines_from(lines))
                }
            });
        };
        match serde_json::from_slice::<IgnoredAny>(text) {
            Ok(_) => {
                let text = text.to_vec();
                match lines.next_text()? {
                    // The whole text is this one value.
                    None if !lines.form_feed => {
                        self.shape = Some(Shape::One);
                        self.out.push_back(event(label.clone(), text));
                        Ok(None)
                    }
                    next => {
                        self.shape = Some(Shape::Lines);
                        self.out.push_back(event(numbered, text));
                        if let Some(next) = next {
                            self.out.extend(lines.entry(&label, &next));
                        }
                        Ok(Some(lines_from(lines)))
                    }
                }
            }
            Err(e) if e.classify() == Category::Eof => {
                // A value that goes on past its first line: one document, read whole.
                let mut whole = skipped;
                whole.extend_from_slice(&lines.held.bytes);
                let cut = lines.held.raw_len - lines.held.bytes.len();
                whole.resize(whole.len() + cut, b' ');
                if line.terminated {
                    whole.push(b'\n');
                }
                lines.reader.read_to_end(&mut whole)?;
                match serde_json::from_slice::<IgnoredAny>(&whole) {
                    Ok(_) => {
                        self.shape = Some(Shape::One);
                        let body = whole.trim_ascii().to_vec();
                        self.out.push_back(event(label.clone(), body));
                    }
                    Err(e) => {
                        self.shape = Some(Shape::BrokenDocument);
                        let detail = format!("not valid JSON: {}", position(&e, true));
                        self.out.push_back(not_json(label.clone(), detail));
                    }
                }
                Ok(None)
            }
            Err(e) => {
                self.shape = Some(Shape::Lines);
                let detail = format!("not JSON: {}", position(&e, false));
                self.out.push_back(not_json(numbered, detail));
                Ok(Some(lines_from(lines)))
            }
        }
    }
}

mod array;
use array::ArrayReader;

#[cfg(test)]
mod tests;
