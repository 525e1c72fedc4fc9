//! The `process` driver: case events from files or standard input, no broker. It drives every
//! case to a terminal outcome with the same retry and follow-up schedules the worker uses,
//! waiting in process, and writes every outcome (pended ones on the way) as a JSON line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Instant;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::case::{Outcome, Severity, Status};
pub use crate::inputs::InputItem;
use crate::pipeline::{Next, ParkReason, Pipeline};
use crate::retry::CaseState;

/// What a run did, for the summary table.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Case events driven through the pipeline.
    pub cases: usize,
    pub terminal: BTreeMap<Status, usize>,
    /// Outcomes on the way to a decision (`pended`, `information-requested`).
    pub pended_events: usize,
    /// Inputs that are not case events: the caller's count from reading, plus any the pipeline
    /// itself could not identify.
    pub unreadable: usize,
    pub error_rules: BTreeMap<String, usize>,
    pub seconds: f64,
}

/// `1 case event`, `2 case events`.
pub fn case_events(n: usize) -> String {
    format!("{n} case event{}", if n == 1 { "" } else { "s" })
}

impl Summary {
    fn record(&mut self, o: &Outcome) {
        if !o.status.is_terminal() {
            self.pended_events += 1;
            return;
        }
        *self.terminal.entry(o.status).or_default() += 1;
        for f in o.findings.iter().filter(|f| f.severity == Severity::Error) {
            *self.error_rules.entry(f.rule.clone()).or_default() += 1;
        }
    }

    /// The table printed on stderr at the end of a run: one row per terminal status, the
    /// pended events on the way, the unreadable inputs; counts right-aligned in one column.
    pub fn render(&self) -> String {
        let rate = if self.seconds > 0.0 {
            self.cases as f64 / self.seconds
        } else {
            0.0
        };
        let mut rows: Vec<(&str, usize)> = Status::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| (s.as_str(), self.terminal.get(s).copied().unwrap_or(0)))
            .collect();
        rows.push(("pended (on the way)", self.pended_events));
        rows.push(("unreadable", self.unreadable));
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let digits = rows
            .iter()
            .map(|(_, n)| n.to_string().len())
            .max()
            .unwrap_or(1)
            .max("count".len());
        let mut s = format!(
            "\n{} in {:.2} s ({:.0}/s)\n",
            case_events(self.cases),
            self.seconds,
            rate
        );
        s.push_str(&format!("  {:<width$}  {:>digits$}\n", "status", "count"));
        for (label, n) in rows {
            s.push_str(&format!("  {label:<width$}  {n:>digits$}\n"));
        }
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

    let unreadable = futures::stream::iter(items)
        .map(|item| {
            let tx = tx.clone();
            let bar = bar.clone();
            async move {
                let end = drive(pipeline, &item, &tx).await;
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                end
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter(|end| std::future::ready(*end == End::Unreadable))
        .count()
        .await;
    drop(tx);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut summary = writer.await.map_err(std::io::Error::other)??;
    summary.cases = cases;
    summary.unreadable = unreadable;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// How driving one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its outcomes are written (a failed one when the payer stayed unavailable).
    Answered,
    /// It is not a case event after all: reported as unreadable, no outcome.
    Unreadable,
}

/// Drives one case to its end, writing its outcomes. There is no parking queue here: what the
/// worker would park is reported on stderr instead.
async fn drive(pipeline: &Pipeline, item: &InputItem, tx: &mpsc::Sender<Outcome>) -> End {
    let mut state = CaseState::default();
    loop {
        let d = pipeline.handle(&item.body, None, &state).await;
        for o in d.outcomes {
            // The writer only stops when the run ends; a closed channel means it failed, and
            // its error is reported by `process`.
            if tx.send(o).await.is_err() {
                return End::Answered;
            }
        }
        match d.next {
            Next::Ack => return End::Answered,
            Next::Retry { after, state: s }
            | Next::FollowUp {
                after, state: s, ..
            } => {
                tokio::time::sleep(after).await;
                state = s;
            }
            Next::Park {
                reason: reason @ (ParkReason::Unreadable(_) | ParkReason::TooLarge),
                detail,
                ..
            } => {
                eprintln!("{}: unreadable ({}): {detail}", item.label, reason.code());
                return End::Unreadable;
            }
            Next::Park { reason, detail, .. } => {
                eprintln!("{}: failed ({}): {detail}", item.label, reason.code());
                return End::Answered;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_in_words_and_aligns_its_counts_in_one_column() {
        assert_eq!(case_events(1), "1 case event");
        assert_eq!(case_events(2), "2 case events");
        let mut summary = Summary {
            cases: 1,
            pended_events: 12,
            unreadable: 3,
            ..Summary::default()
        };
        summary.terminal.insert(Status::Approved, 1);
        let text = summary.render();
        assert!(text.starts_with("\n1 case event in "), "{text}");
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert!(
            rows[0].starts_with("  status") && rows[0].ends_with("count"),
            "{text}"
        );
        let ends: std::collections::BTreeSet<usize> = rows.iter().map(|r| r.len()).collect();
        assert_eq!(ends.len(), 1, "every row ends in the same column:\n{text}");
        assert!(rows
            .iter()
            .any(|r| r.starts_with("  unreadable") && r.ends_with(" 3")));
    }
}
