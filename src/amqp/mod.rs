//! Every broker detail lives here: topology, connections, confirmed publishing, the consumer
//! loop, reconnection and graceful shutdown. The pipeline never sees a lapin type.

pub mod headers;
pub mod parked;
pub mod publisher;
pub mod topology;
mod trace;
pub mod worker;

pub use worker::FAULT_EXIT_CODE;

use std::future::Future;
use std::time::Duration;

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("cannot connect to RabbitMQ at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: lapin::Error,
    },
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{what}: {source}")]
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
