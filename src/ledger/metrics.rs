//! The ledger process's metrics, served as Prometheus text on `ledger.ops_listen` `/metrics`,
//! through the `metrics` facade and its Prometheus exporter (the ledger is a process of its
//! own: it installs its own recorder). At start [`register`] writes every series at zero, from
//! the same enumerations the counting code takes its label values from, so the first event of
//! a kind is an increase and never a new series. Labels hold codes only, never an id or a
//! value from a message. `README.md`'s ledger metrics reference is [`markdown_table`], verbatim.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::message::{Kind as EventKind, Unreadable};
use super::store::Written;

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One label of a metric and every value it can hold.
pub struct Label {
    pub name: &'static str,
    pub values: fn() -> Vec<&'static str>,
}

/// One metric of the ledger.
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [Label],
    pub help: &'static str,
}

/// The dead-letter reason of a message the database refused as data (SQLSTATE class 22 or 23).
pub const DATABASE_REFUSED: &str = "database-refused";

/// `preauth_ledger_batches_total`'s `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchResult {
    Committed,
    Failed,
}

impl BatchResult {
    pub const ALL: [BatchResult; 2] = [BatchResult::Committed, BatchResult::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchResult::Committed => "committed",
            BatchResult::Failed => "failed",
        }
    }
}

fn dead_letter_reasons() -> Vec<&'static str> {
    let mut v: Vec<&str> = Unreadable::ALL.iter().map(|u| u.code()).collect();
    v.push(DATABASE_REFUSED);
    v
}

pub const EVENTS_WRITTEN: &str = "preauth_ledger_events_written_total";
pub const EVENTS_DUPLICATE: &str = "preauth_ledger_events_duplicate_total";
pub const BATCHES: &str = "preauth_ledger_batches_total";
pub const BATCH_SECONDS: &str = "preauth_ledger_batch_seconds";
pub const BATCH_SIZE: &str = "preauth_ledger_batch_size";
pub const DEAD_LETTERED: &str = "preauth_ledger_dead_lettered_total";
pub const READY: &str = "preauth_ledger_ready";

/// Every metric the ledger process exports (the operator's reference).
pub const METRICS: &[Metric] = &[
    Metric {
        name: EVENTS_WRITTEN,
        kind: Kind::Counter,
        labels: &[Label {
            name: "kind",
            values: || EventKind::ALL.iter().map(|k| k.as_str()).collect(),
        }],
        help: "`ledger_events` rows inserted (a message id seen before inserts nothing)",
    },
    Metric {
        name: EVENTS_DUPLICATE,
        kind: Kind::Counter,
        labels: &[],
        help: "messages written whose message id was already stored (a redelivery, a replayed copy, another ledger process's), or repeated in the same batch",
    },
    Metric {
        name: BATCHES,
        kind: Kind::Counter,
        labels: &[Label {
            name: "result",
            values: || BatchResult::ALL.iter().map(|r| r.as_str()).collect(),
        }],
        help: "write transactions, by result (`failed`: the database could not be reached or refused the data; each retry of a held batch counts)",
    },
    Metric {
        name: BATCH_SECONDS,
        kind: Kind::Histogram,
        labels: &[],
        help: "time to write and commit a batch (committed batches)",
    },
    Metric {
        name: BATCH_SIZE,
        kind: Kind::Histogram,
        labels: &[],
        help: "messages per committed batch (1 for each message of a batch written one by one after the database refused it as data)",
    },
    Metric {
        name: DEAD_LETTERED,
        kind: Kind::Counter,
        labels: &[Label {
            name: "reason",
            values: dead_letter_reasons,
        }],
        help: "messages rejected to `<ledger.queue>.dead`, unwritten: not an outcome or progress event (the reason code), or refused by the database as data",
    },
    Metric {
        name: READY,
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while the ledger is ready (consuming, and the database answered last)",
    },
];

/// Buckets of [`BATCH_SECONDS`]: 1 ms to 30 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets of [`BATCH_SIZE`]: 1 to 5,000 messages.
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
];

/// The Prometheus recorder of this process, installed on first use; later calls share it.
pub fn recorder() -> Result<PrometheusHandle, String> {
    static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    RECORDER.get_or_init(install).clone()
}

fn builder() -> Result<PrometheusBuilder, String> {
    PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(BATCH_SECONDS.into()), SECONDS_BUCKETS)
        })
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), SIZE_BUCKETS))
        .map_err(|e| e.to_string())
}

fn install() -> Result<PrometheusHandle, String> {
    let handle = builder()?.install_recorder().map_err(|e| e.to_string())?;
    for m in METRICS {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
    Ok(handle)
}

/// One series: a metric and its label values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    pub name: &'static str,
    pub labels: Vec<(&'static str, &'static str)>,
}

/// Every series of [`METRICS`]: each combination of its labels' values, in catalogue order.
pub fn series() -> Vec<Series> {
    let mut out = Vec::new();
    for m in METRICS {
        let mut combos: Vec<Vec<(&'static str, &'static str)>> = vec![vec![]];
        for l in m.labels {
            let values = (l.values)();
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((l.name, *v));
                        c
                    })
                })
                .collect();
        }
        out.extend(combos.into_iter().map(|labels| Series {
            name: m.name,
            labels,
        }));
    }
    out
}

/// Writes every series of [`series`] into the installed recorder: counters and histograms
/// empty, the gauge unchanged (0 unless already set).
pub fn register() {
    for s in series() {
        let labels: Vec<metrics::Label> = s
            .labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, *v))
            .collect();
        let kind = METRICS
            .iter()
            .find(|m| m.name == s.name)
            .map_or(Kind::Counter, |m| m.kind);
        match kind {
            Kind::Counter => metrics::counter!(s.name, labels).increment(0),
            Kind::Histogram => {
                let _registered = metrics::histogram!(s.name, labels);
            }
            Kind::Gauge => metrics::gauge!(s.name, labels).increment(0.0),
        }
    }
}

/// A committed batch of `messages` messages, written in `took`.
pub fn committed(messages: usize, written: &Written, took: Duration) {
    metrics::counter!(BATCHES, "result" => BatchResult::Committed.as_str()).increment(1);
    metrics::histogram!(BATCH_SECONDS).record(took.as_secs_f64());
    metrics::histogram!(BATCH_SIZE).record(messages as f64);
    metrics::counter!(EVENTS_WRITTEN, "kind" => EventKind::Outcome.as_str())
        .increment(written.outcomes);
    metrics::counter!(EVENTS_WRITTEN, "kind" => EventKind::Progress.as_str())
        .increment(written.progress);
    let duplicates = (messages as u64).saturating_sub(written.inserted);
    metrics::counter!(EVENTS_DUPLICATE).increment(duplicates);
}

/// A write transaction that did not commit.
pub fn failed() {
    metrics::counter!(BATCHES, "result" => BatchResult::Failed.as_str()).increment(1);
}

/// A message dead-lettered, for `reason` (an [`Unreadable`] code or [`DATABASE_REFUSED`]).
pub fn dead_lettered(reason: &'static str) {
    metrics::counter!(DEAD_LETTERED, "reason" => reason).increment(1);
}

/// The readiness the ops port last saw.
pub fn set_ready(ready: bool) {
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

fn quoted(values: &[&str]) -> String {
    let v: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    v.join(", ")
}

/// The README's reference of the ledger's metrics.
pub fn markdown_table() -> String {
    let mut s = String::from("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for m in METRICS {
        let labels: Vec<String> = m
            .labels
            .iter()
            .map(|l| format!("`{}`: {}", l.name, quoted(&(l.values)())))
            .collect();
        let cells = [
            format!("`{}`", m.name),
            m.kind.as_str().to_owned(),
            labels.join("; "),
            m.help.to_owned(),
        ];
        s.push_str(&format!(
            "| {} |\n",
            cells.join(" | ").replace("|  |", "| |")
        ));
    }
    s
}

#[cfg(test)]
mod tests;
