//! The `process` command: case events from files or standard input, no broker. It drives every
//! case to a terminal outcome with the same retry and follow-up schedules the worker uses, and
//! writes every outcome (pended ones on the way) as a JSON line.
//!
//! Its memory does not grow with its input: a thread reads the inputs as a stream into a
//! bounded channel, at most `process.concurrency` cases are alive at once ([`schedule`]), and a
//! writer thread writes the outcomes from another bounded channel. When nothing outside the
//! process is waited for, the waits run on a simulated clock ([`clock`]).

mod channels;
mod clock;
mod schedule;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::case::{Outcome, Severity, Status};
use crate::config::{Adapter, ProcessClock, Settings};
use crate::exit;
pub use crate::inputs::InputItem;
use crate::inputs::{InputProblem, ProblemKind};
use crate::payer::attachments::{Attachments, StoreSettings};
use crate::pipeline::Pipeline;
use channels::Input;

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
    /// How far the simulated clock went, when the run had one.
    pub simulated: Option<Duration>,
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
            "\n{} in {:.2} s ({:.0}/s)",
            case_events(self.cases),
            self.seconds,
            rate
        );
        if let Some(d) = self.simulated {
            let d = Duration::from_secs(d.as_secs());
            s.push_str(&format!(
                ", {} on the simulated clock",
                humantime::format_duration(d)
            ));
        }
        s.push('\n');
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

/// What a person sees while the run goes: a count of finished cases and their rate (the total
/// is not known before the end), problems reported as they are found, and what they mean for
/// the exit code.
struct Progress {
    enabled: bool,
    bar: Option<ProgressBar>,
    started: u64,
    /// The exit code the problems of the inputs call for.
    code: Option<u8>,
    /// Inputs that are not case events.
    unreadable: usize,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled: enabled && std::io::stderr().is_terminal(),
            bar: None,
            started: 0,
            code: None,
            unreadable: 0,
        }
    }

    /// A case admitted: the count appears once a run is long enough to need it.
    fn started(&mut self) {
        self.started += 1;
        if self.enabled && self.bar.is_none() && self.started >= 200 {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} cases {per_sec}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
    }

    fn finished(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A line on stderr, clear of the count.
    fn line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// A problem of the inputs: reported, and counted for the exit code.
    fn problem(&mut self, p: &InputProblem) {
        self.line(&p.line());
        match p.kind {
            ProblemKind::NoInput => self.code = Some(exit::NO_INPUT),
            ProblemKind::Unreadable => {
                self.unreadable += 1;
                self.code = self.code.or(Some(exit::DATA));
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Whether `process` runs on the simulated clock: `process.clock = "auto"`, every payer the
/// in-process simulator and, when documents are fetched, every document store a folder.
pub fn simulated(settings: &Settings, fetching: bool) -> bool {
    settings.process.clock == ProcessClock::Auto
        && settings
            .payers
            .values()
            .all(|p| p.adapter == Adapter::Simulated)
        && (!fetching
            || settings
                .attachments
                .sources
                .values()
                .all(|s| matches!(s.store, StoreSettings::Folder { .. })))
}

/// `preauth-worker process`: reads `inputs` (standard input when none is named and it is not a
/// terminal), drives every case event to its end through `pipeline`, writes the outcomes as
/// JSON lines to `output` (standard output when `None`) and the summary to stderr. Returns the
/// exit code.
pub async fn run(
    settings: &Settings,
    pipeline: &Pipeline,
    inputs: &[PathBuf],
    output: Option<PathBuf>,
) -> u8 {
    let started = Instant::now();
    let inputs: Vec<PathBuf> = if inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            eprintln!(
                "preauth-worker: no input: name files or folders of case events, or `-` to read them from standard input"
            );
            return exit::NO_INPUT;
        }
        vec![PathBuf::from("-")]
    } else {
        inputs.to_vec()
    };
    let mut inbox = match channels::read(inputs, settings.amqp.max_message_bytes) {
        Ok(inbox) => inbox,
        Err(e) => {
            eprintln!("preauth-worker: cannot start reading the inputs: {e}");
            return exit::SOFTWARE;
        }
    };
    let mut progress = Progress::new(true);
    // The output is opened, and the summary printed, only when there is a case event to drive.
    let first = loop {
        match inbox.next().await {
            Some(Input::Case(item)) => break item,
            Some(Input::Problem(p)) => progress.problem(&p),
            None => return progress.code.unwrap_or(exit::NO_INPUT),
        }
    };
    let out: Box<dyn Write + Send> = match &output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("preauth-worker: cannot write {}: {e}", path.display());
                return 1;
            }
        },
        None => Box::new(std::io::stdout()),
    };
    let (outbox, writer) = channels::write(out);
    let simulated = simulated(settings, pipeline.attachments.is_some());
    let mut pipeline = clock::pipeline(pipeline, simulated);
    // A case here waits for its documents whatever happens, so a folder is read in place: the
    // hop to a blocking thread and back cost more than the read.
    if pipeline.attachments.is_some() {
        if let Ok(attachments) = Attachments::build(&settings.attachments) {
            pipeline.attachments = Some(Arc::new(attachments.reading_folders_in_place()));
        }
    }
    let pipeline = Arc::new(pipeline);
    let schedule = schedule::Schedule::new(pipeline, simulated, settings.process.concurrency);
    // On the runtime's own threads, where the steps it starts run.
    let driving = tokio::spawn(schedule.drive(first, inbox, outbox, progress));
    let (driven, mut progress) = match driving.await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    progress.finish();
    let mut summary = match writer.await.map_err(std::io::Error::other) {
        Ok(Ok(summary)) => summary,
        Ok(Err(e)) | Err(e) => {
            eprintln!("preauth-worker: writing outcomes failed: {e}");
            return 1;
        }
    };
    summary.cases = driven.cases;
    summary.unreadable = driven.unreadable + progress.unreadable;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.simulated = simulated.then_some(driven.simulated);
    eprint!("{}", summary.render());
    match progress.code {
        Some(code) => code,
        None if driven.unreadable > 0 => exit::DATA,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_clock_runs_only_when_nothing_outside_the_process_is_waited_for() {
        let load = |text: &str| {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("worker.toml");
            std::fs::write(&path, text).expect("write");
            Settings::load_without_env(Some(&path)).expect("settings")
        };
        let shipped = load("");
        assert!(simulated(&shipped, true));
        assert!(!simulated(&load("[process]\nclock = \"real\"\n"), true));
        let http_payer = "[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\n";
        assert!(!simulated(&load(http_payer), true));
        assert!(!simulated(&load(http_payer), false));
        let https_store = "[attachments.sources.pm]\nprefix = \"pm://attachments/\"\nkind = \"https\"\nbase_url = \"https://pm.example/documents/\"\n";
        let store = load(https_store);
        assert!(!simulated(&store, true));
        // Documents not fetched (`--no-fetch`): nothing is waited for.
        assert!(simulated(&store, false));
    }

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
