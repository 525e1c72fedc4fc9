//! Logging: readable text on a terminal, JSON lines otherwise. Log lines carry ids and codes
//! only; patient data never reaches them.
//!
//! Whatever filter the operator sets (`log.level`, `RUST_LOG`), the libraries that see message
//! bodies, URLs with passwords or request payloads are capped at INFO, and lapin's report of a
//! returned message (which prints the whole body) is dropped: the worker reports returns itself,
//! by outcome id.

use std::io::IsTerminal;

use tracing::Metadata;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::LogFormat;

/// Library targets whose DEBUG and TRACE events carry frames, bodies or URLs.
const CAPPED: [&str; 8] = [
    "lapin",
    "amq_protocol",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower_http",
];

/// Whether an event may be written at all, whatever the filter says.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    if target.starts_with("lapin::returned_messages") {
        return false;
    }
    let capped = CAPPED
        .iter()
        .any(|c| target == *c || target.starts_with(&format!("{c}::")));
    !capped || *meta.level() <= tracing::Level::INFO
}

/// Installs the global subscriber, writing to stderr. `RUST_LOG` overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = filter.and(filter_fn(allowed));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let layer = if json {
        base.json().flatten_event(true).with_filter(filter).boxed()
    } else {
        base.with_filter(filter).boxed()
    };
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
