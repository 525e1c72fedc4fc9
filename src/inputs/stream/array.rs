//! A JSON array: checked whole first, so that a broken one is one problem and none of its
//! elements is processed, then read again element by element, each held only up to the limit.

use std::io::{self, BufRead, BufReader, BufWriter, Cursor, Read, Seek, Write};

use serde::de::IgnoredAny;

use super::{
    buffered, event, not_json, oversized, position_at, read_problem, skip_whitespace, Entry, Held,
    InputProblem, Opening, Origin, Reader, Source, CHUNK,
};

impl Opening<'_> {
    /// A JSON array: checked whole, then read again element by element.
    pub(super) fn array(
        &mut self,
        mut origin: Origin,
        reader: Reader,
        skipped: Vec<u8>,
    ) -> io::Result<Option<Source>> {
        let cannot = origin.cannot();
        let (checked, again) = match origin {
            Origin::Once(_) => {
                let mut spool = tempfile::tempfile()?;
                spool.write_all(&skipped)?;
                let mut copy = Copying {
                    reader,
                    copy: BufWriter::with_capacity(CHUNK, spool),
                };
                let checked = check_array(Cursor::new(skipped).chain(&mut copy));
                let mut spool = copy.copy.into_inner().map_err(|e| e.into_error())?;
                spool.rewind()?;
                let again: Box<dyn Read + Send> = Box::new(spool);
                (checked, Ok(again))
            }
            _ => {
                let checked = check_array(Cursor::new(skipped).chain(reader));
                (checked, origin.open())
            }
        };
        let label = self.label.clone();
        let (mut reader, _) = buffered(again?)?;
        match checked {
            Ok(()) => {}
            Err(e) if e.is_io() => {
                let e = io::Error::from(e);
                self.out.push_back(read_problem(label, cannot, &e));
                return Ok(None);
            }
            Err(e) => {
                let (line, column) = slice_position(&e, &mut reader)?;
                let at = position_at(e.classify(), line, column, true);
                let detail = format!("not a valid JSON array: {at}");
                self.out.push_back(not_json(label, detail));
                return Ok(None);
            }
        }
        // Past the whitespace and the `[` (the array is valid).
        skip_whitespace(&mut reader, &mut Vec::new())?;
        reader.consume(1);
        Ok(Some(Source::Array(ArrayReader {
            label,
            reader,
            index: 0,
            limit: self.limit,
            held: Held::default(),
            cannot,
            ended: false,
        })))
    }
}

/// Where the error of a text read whole would be, for the error of the same text read from a
/// reader. They differ at a control character in a string only: read whole, the error is at the
/// character; from a reader, just past it (on the next line, for a newline), so the length of
/// the line before is read from `text` again.
fn slice_position(e: &serde_json::Error, text: &mut Reader) -> io::Result<(usize, usize)> {
    let (line, column) = (e.line(), e.column());
    if !e.to_string().starts_with("control character") {
        return Ok((line, column));
    }
    if column > 0 || line < 2 {
        return Ok((line, column.saturating_sub(1)));
    }
    // The length of line `line - 1`, counted without holding it.
    let (mut at, mut len) = (1, 0);
    loop {
        let chunk = text.fill_buf()?;
        if chunk.is_empty() {
            return Ok((line - 1, len));
        }
        let mut used = 0;
        for b in chunk {
            used += 1;
            match (*b == b'\n', at == line - 1) {
                (true, true) => return Ok((line - 1, len)),
                (true, false) => at += 1,
                (false, true) => len += 1,
                (false, false) => {}
            }
        }
        text.consume(used);
    }
}

/// Checks that the text is one JSON array and nothing else, as a whole: the error, when there
/// is one, carries its position in the whole text.
fn check_array(reader: impl Read) -> Result<(), serde_json::Error> {
    let reader = BufReader::with_capacity(CHUNK, reader);
    serde_json::from_reader::<_, Vec<IgnoredAny>>(reader).map(|_| ())
}

/// A reader that copies what it reads.
struct Copying<W: Write> {
    reader: Reader,
    copy: W,
}

impl<W: Write> Read for Copying<W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.copy.write_all(buf.get(..n).unwrap_or_default())?;
        Ok(n)
    }
}

/// The elements of a JSON array already checked, each as the bytes it has in the text (never
/// re-encoded), labelled `label#index`.
pub(super) struct ArrayReader {
    label: String,
    reader: Reader,
    index: usize,
    limit: usize,
    held: Held,
    cannot: &'static str,
    ended: bool,
}

impl ArrayReader {
    pub(super) fn next(&mut self) -> Option<Entry> {
        if self.ended {
            return None;
        }
        match self.element() {
            Ok(Some(entry)) => Some(entry),
            Ok(None) => {
                self.ended = true;
                (self.index == 0).then(|| {
                    Entry::Problem(InputProblem::no_input(
                        self.label.clone(),
                        "an empty JSON array: no case event in it",
                    ))
                })
            }
            Err(e) => {
                self.ended = true;
                Some(read_problem(self.label.clone(), self.cannot, &e))
            }
        }
    }

    /// The next element, `None` past the last one.
    fn element(&mut self) -> io::Result<Option<Entry>> {
        // Past the whitespace and the comma before it.
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let next = chunk
                .iter()
                .position(|b| !(b.is_ascii_whitespace() || *b == b','));
            let closing = next.and_then(|i| chunk.get(i)) == Some(&b']');
            let used = next.unwrap_or(chunk.len());
            self.reader.consume(used);
            if closing {
                return Ok(None);
            }
            if next.is_some() {
                break;
            }
        }
        self.held.clear();
        let (mut in_string, mut escaped, mut depth) = (false, false, 0usize);
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let mut end = None;
            for (i, &b) in chunk.iter().enumerate() {
                if in_string {
                    match b {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    b']' | b'}' => depth -= 1,
                    b',' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let used = end.unwrap_or(chunk.len());
            self.held
                .push(chunk.get(..used).unwrap_or_default(), self.limit);
            self.reader.consume(used);
            if end.is_some() {
                break;
            }
        }
        let label = format!("{}#{}", self.label, self.index);
        self.index += 1;
        Ok(Some(match self.held.text() {
            Some(text) => event(label, text.to_vec()),
            None => oversized(label, self.held.len, self.limit),
        }))
    }
}
