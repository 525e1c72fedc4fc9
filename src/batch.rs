//! The `process` driver: case events from files or standard input, no broker. It drives every
//! case to a terminal outcome with the same retry and follow-up schedules the worker uses,
//! waiting in process, and writes every outcome (pended ones on the way) as a JSON line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::case::{Outcome, Severity, Status};
use crate::pipeline::{Next, Pipeline};
use crate::retry::CaseState;

/// One case event to process, with where it came from (`file:line` or `file#index`).
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

/// A problem with the input that is not a case (an unreadable file, a line that is not JSON).
#[derive(Debug, Clone)]
pub struct InputProblem {
    pub label: String,
    pub message: String,
}

/// Reads every input: files, folders (their `*.json` and `*.jsonl` files, sorted), or `-`.
pub fn read_inputs(inputs: &[PathBuf]) -> (Vec<InputItem>, Vec<InputProblem>) {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let inputs: Vec<PathBuf> = if inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        inputs.to_vec()
    };
    for input in inputs {
        if input.as_os_str() == "-" {
            let mut text = Vec::new();
            match std::io::stdin().read_to_end(&mut text) {
                Ok(_) => split_source("stdin", &text, &mut items, &mut problems),
                Err(e) => problems.push(InputProblem {
                    label: "stdin".into(),
                    message: e.to_string(),
                }),
            }
            continue;
        }
        let files = if input.is_dir() {
            match list_dir(&input) {
                Ok(files) => files,
                Err(e) => {
                    problems.push(InputProblem {
                        label: input.display().to_string(),
                        message: e.to_string(),
                    });
                    continue;
                }
            }
        } else {
            vec![input]
        };
        for file in files {
            let label = file.display().to_string();
            match std::fs::read(&file) {
                Ok(text) => split_source(&label, &text, &mut items, &mut problems),
                Err(e) => problems.push(InputProblem {
                    label,
                    message: e.to_string(),
                }),
            }
        }
    }
    (items, problems)
}

fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

/// One JSON object, a JSON array of objects, or JSON lines.
fn split_source(
    label: &str,
    text: &[u8],
    items: &mut Vec<InputItem>,
    problems: &mut Vec<InputProblem>,
) {
    let trimmed = text.trim_ascii();
    if trimmed.is_empty() {
        return;
    }
    if trimmed.first() == Some(&b'[') {
        match serde_json::from_slice::<Vec<serde_json::Value>>(trimmed) {
            Ok(values) => {
                for (i, v) in values.into_iter().enumerate() {
                    // Re-encoding a parsed value cannot fail.
                    let body = serde_json::to_vec(&v).unwrap_or_default();
                    items.push(InputItem {
                        label: format!("{label}#{i}"),
                        body,
                    });
                }
            }
            Err(e) => problems.push(InputProblem {
                label: label.to_owned(),
                message: format!("not a valid JSON array: {}", crate::case::json_error(&e)),
            }),
        }
        return;
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
        items.push(InputItem {
            label: label.to_owned(),
            body: trimmed.to_vec(),
        });
        return;
    }
    // JSON lines: every non-blank line is one event. A line that is not JSON still goes through
    // the pipeline, which parks it with its reason, so it is reported like a broker message.
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if !line.is_empty() {
            items.push(InputItem {
                label: format!("{label}:{}", n + 1),
                body: line.to_vec(),
            });
        }
    }
}

/// What a run did, for the summary table.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub cases: usize,
    pub terminal: BTreeMap<Status, usize>,
    pub pended_events: usize,
    pub parked: Vec<(String, String)>,
    pub error_rules: BTreeMap<String, usize>,
    pub input_problems: usize,
    pub seconds: f64,
}

impl Summary {
    fn record(&mut self, o: &Outcome) {
        if o.status == Status::Pended {
            self.pended_events += 1;
            return;
        }
        *self.terminal.entry(o.status).or_default() += 1;
        for f in o.findings.iter().filter(|f| f.severity == Severity::Error) {
            *self.error_rules.entry(f.rule.clone()).or_default() += 1;
        }
    }

    /// The table printed on stderr at the end of a run.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let rate = if self.seconds > 0.0 {
            self.cases as f64 / self.seconds
        } else {
            0.0
        };
        s.push_str(&format!(
            "\n{} case events in {:.2} s ({:.0}/s)\n",
            self.cases, self.seconds, rate
        ));
        s.push_str("  status          count\n");
        for status in Status::ALL.iter().filter(|s| s.is_terminal()) {
            s.push_str(&format!(
                "  {:<14} {:>6}\n",
                status.as_str(),
                self.terminal.get(status).copied().unwrap_or(0)
            ));
        }
        s.push_str(&format!(
            "  {:<14} {:>6}\n",
            "(pended events)", self.pended_events
        ));
        s.push_str(&format!(
            "  {:<14} {:>6}\n",
            "unanswerable",
            self.parked.len()
        ));
        if !self.error_rules.is_empty() {
            let mut top: Vec<_> = self.error_rules.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let shown: Vec<String> = top
                .iter()
                .take(8)
                .map(|(r, n)| format!("{r} ×{n}"))
                .collect();
            s.push_str(&format!("  top rules: {}\n", shown.join(", ")));
        }
        if self.input_problems > 0 {
            s.push_str(&format!("  input problems: {}\n", self.input_problems));
        }
        s
    }
}

/// Processes every item, writing outcomes as JSON lines to `out`. Returns the summary.
pub async fn process(
    pipeline: &Pipeline,
    items: Vec<InputItem>,
    concurrency: usize,
    out: Box<dyn Write + Send>,
    progress: bool,
) -> std::io::Result<Summary> {
    let started = Instant::now();
    let cases = items.len();
    let bar = if progress && cases >= 200 && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(cases as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} cases {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };

    // One writer task owns the output, so concurrent cases never interleave their lines.
    let (tx, mut rx) = mpsc::channel::<Outcome>(1024);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<Summary> {
        let mut out = std::io::BufWriter::new(out);
        let mut summary = Summary::default();
        while let Some(o) = rx.blocking_recv() {
            serde_json::to_writer(&mut out, &o)?;
            out.write_all(b"\n")?;
            summary.record(&o);
        }
        out.flush()?;
        Ok(summary)
    });

    let parked: Vec<(String, String)> = futures::stream::iter(items)
        .map(|item| {
            let tx = tx.clone();
            let bar = bar.clone();
            async move {
                let parked = drive(pipeline, &item, &tx).await;
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                parked
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(|p| async move { p })
        .collect()
        .await;
    drop(tx);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut summary = writer.await.map_err(std::io::Error::other)??;
    summary.cases = cases;
    summary.parked = parked;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Drives one case to its end; returns `(label, reason)` when it could not be answered.
async fn drive(
    pipeline: &Pipeline,
    item: &InputItem,
    tx: &mpsc::Sender<Outcome>,
) -> Option<(String, String)> {
    let mut state = CaseState::default();
    loop {
        let d = pipeline.handle(&item.body, None, &state).await;
        for o in d.outcomes {
            // The writer only stops when the run ends; a closed channel means it failed, and
            // its error is reported by `process`.
            if tx.send(o).await.is_err() {
                return None;
            }
        }
        match d.next {
            Next::Ack => return None,
            Next::Retry { after, state: s }
            | Next::FollowUp {
                after, state: s, ..
            } => {
                tokio::time::sleep(after).await;
                state = s;
            }
            Next::Park { reason, detail, .. } => {
                eprintln!(
                    "{}: cannot be answered ({}): {detail}",
                    item.label,
                    reason.code()
                );
                return Some((item.label.clone(), reason.code().to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_json_array_is_reported_without_its_text() {
        let mut items = Vec::new();
        let mut problems = Vec::new();
        split_source(
            "cases.json",
            br#"[{"family_name": "Petrovskaya"} {"x": 1}]"#,
            &mut items,
            &mut problems,
        );
        assert!(items.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.starts_with("not a valid JSON array: "),
            "{:?}",
            problems[0]
        );
        assert!(!problems[0].message.contains("Petrov"), "{:?}", problems[0]);
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
