//! Every broker detail lives here: topology, connections, confirmed publishing, the consumer
//! loop, reconnection and graceful shutdown; and the commands a person runs against the broker
//! (`parked`, `publish`, `watch`). The pipeline never sees a lapin type.

mod acks;
mod carry_out;
pub mod client;
mod counts;
pub mod headers;
pub mod parked;
pub(crate) mod progress;
pub mod publish_cli;
pub mod publisher;
pub mod refusal;
pub mod topology;
mod trace;
pub mod watch;
pub mod worker;

pub use worker::FAULT_EXIT_CODE;

use std::future::Future;
use std::time::Duration;

pub use refusal::{Refusal, REFUSED_TRIES};

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// Connecting failed; a refused login says so plainly ([`AmqpError::refusal`]).
    #[error("{}", connect_text(url, source))]
    Connect {
        url: String,
        #[source]
        source: lapin::Error,
    },
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{what}: {}", broker_text(source))]
    Broker {
        what: String,
        #[source]
        source: lapin::Error,
    },
    /// A queue or exchange exists with other arguments: an operator must reconcile them.
    #[error("{what}: it already exists with other arguments ({detail}); delete it or align the configuration")]
    Inequivalent { what: String, detail: String },
    #[error("{0}")]
    Lost(String),
    #[error("publishing to {target} failed: {reason}")]
    Publish { target: String, reason: String },
}

impl AmqpError {
    /// True for errors a reconnect cannot fix.
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(self, AmqpError::Inequivalent { .. })
    }

    /// The broker's refusal (credentials, virtual host, permission) this error is, if it is one.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            AmqpError::Connect { url, source } => refusal::refusal_of(Some(url), source),
            AmqpError::Broker { source, .. } => refusal::refusal_of(None, source),
            _ => None,
        }
    }
}

fn connect_text(url: &str, source: &lapin::Error) -> String {
    match refusal::refusal_of(Some(url), source) {
        Some(refusal) => format!("RabbitMQ at {}: {refusal}", redact_url(url)),
        None => format!(
            "cannot connect to RabbitMQ at {}: {source}",
            redact_url(url)
        ),
    }
}

fn broker_text(source: &lapin::Error) -> String {
    match refusal::refusal_of(None, source) {
        Some(refusal) => refusal.to_string(),
        None => source.to_string(),
    }
}

/// Bounds a broker await: nothing waits on the broker forever.
pub async fn bounded<T>(
    what: impl Into<String>,
    after: Duration,
    fut: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, AmqpError> {
    let what = what.into();
    match tokio::time::timeout(after, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(classify(what, source)),
        Err(_) => Err(AmqpError::Timeout { what, after }),
    }
}

fn classify(what: String, source: lapin::Error) -> AmqpError {
    let text = source.to_string();
    if text.contains("PRECONDITION_FAILED") && text.contains("inequivalent arg") {
        AmqpError::Inequivalent { what, detail: text }
    } else {
        AmqpError::Broker { what, source }
    }
}

pub use crate::broker_url::{broker_urls, redact_url, with_heartbeat};
