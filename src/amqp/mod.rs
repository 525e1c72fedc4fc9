//! Every broker detail lives here: topology, connections, confirmed publishing, the consumer
//! loop, reconnection and graceful shutdown. The pipeline never sees a lapin type.

pub mod headers;
pub mod parked;
pub mod publisher;
pub mod topology;
pub mod worker;

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
    pub fn is_fatal(&self) -> bool {
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

/// The URL with its password masked, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The URL with a heartbeat set (30 s) unless the operator chose one.
pub fn with_heartbeat(url: &str) -> String {
    if url.contains("heartbeat=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&heartbeat=30")
    } else {
        format!("{url}?heartbeat=30")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_a_redacted_url() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
    }

    #[test]
    fn a_heartbeat_is_added_unless_one_is_set() {
        assert_eq!(with_heartbeat("amqp://h/%2f"), "amqp://h/%2f?heartbeat=30");
        assert_eq!(
            with_heartbeat("amqp://h/%2f?x=1"),
            "amqp://h/%2f?x=1&heartbeat=30"
        );
        assert_eq!(
            with_heartbeat("amqp://h/%2f?heartbeat=10"),
            "amqp://h/%2f?heartbeat=10"
        );
    }
}
