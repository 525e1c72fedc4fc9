//! One broker connection for a command run by a person (`parked`, `publish`, `watch`): the first
//! node of `amqp.url`, one try bounded by `amqp.timeout`, named so the management UI shows which
//! command holds it. The worker's own connections, with their reconnect loop, are in `worker`.

use std::path::PathBuf;

use lapin::options::ExchangeDeclareOptions;
use lapin::types::{FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use super::{bounded, broker_urls, redact_url, with_heartbeat, AmqpError};
use crate::config::Settings;

/// Connects to the first broker node and opens a channel.
pub(crate) async fn open(
    settings: &Settings,
    name: &str,
) -> Result<(Connection, Channel), AmqpError> {
    let t = settings.amqp.timeout;
    // The first listed node; any node of a cluster serves a command.
    let url = with_heartbeat(
        broker_urls(&settings.amqp.url)
            .first()
            .copied()
            .unwrap_or_default(),
    );
    let props = ConnectionProperties::default().with_connection_name(LongString::from(name));
    let conn = match tokio::time::timeout(t, Connection::connect(&url, props)).await {
        Ok(Ok(c)) => c,
        Ok(Err(source)) => {
            return Err(AmqpError::Connect {
                url: redact_url(&url),
                source,
            })
        }
        Err(_) => {
            return Err(AmqpError::Timeout {
                what: format!("connecting to {}", redact_url(&url)),
                after: t,
            })
        }
    };
    let channel = bounded("opening a channel", t, conn.create_channel()).await?;
    Ok((conn, channel))
}

/// Closes a command's connection, best effort: what it left unsettled returns to its queue.
pub(crate) async fn close(conn: Connection, settings: &Settings) {
    let _ = tokio::time::timeout(
        settings.amqp.timeout,
        conn.close(200, ShortString::from("done")),
    )
    .await;
}

/// Checks that a topic exchange of the worker's topology exists (a passive declare), so a command
/// never creates one under a mistyped name. `key` is the setting that names it.
pub(crate) async fn expect_exchange(
    conn: &Connection,
    settings: &Settings,
    name: &str,
    key: &str,
) -> Result<(), AmqpError> {
    // A failed passive declare closes its channel: use one of its own.
    let channel = bounded(
        "opening a channel",
        settings.amqp.timeout,
        conn.create_channel(),
    )
    .await?;
    let declared = bounded(
        format!("looking up the exchange {name}"),
        settings.amqp.timeout,
        channel.exchange_declare(
            ShortString::from(name),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    )
    .await;
    match declared {
        Ok(()) => {
            let _ = channel.close(200, ShortString::from("done")).await;
            Ok(())
        }
        Err(AmqpError::Broker { source, .. }) if is_not_found(&source) => Err(AmqpError::Broker {
            what: format!(
                "the exchange {name} ({key}) does not exist on this broker: start the worker once with this configuration (it declares its topology), or import `preauth-worker topology --definitions`"
            ),
            source,
        }),
        Err(e) => Err(e),
    }
}

/// Where the broker URL a command used came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlOrigin {
    /// The `PREAUTH__AMQP__URL` variable.
    Env,
    /// The `--config` file (or the shipped default, when the file sets none).
    File(PathBuf),
    /// The shipped default: no `--config`, no variable.
    Default,
}

/// True for a failure to connect at all (as opposed to an error on a connection).
pub fn is_connect_failure(e: &AmqpError) -> bool {
    match e {
        AmqpError::Connect { .. } => true,
        AmqpError::Timeout { what, .. } => what.starts_with("connecting"),
        _ => false,
    }
}

/// What a person reads when a command cannot reach the broker: where the URL came from and
/// what to do first, the connection's own error last. `url` is already masked.
pub fn unreachable_message(url: &str, origin: &UrlOrigin, error: &AmqpError) -> String {
    let first = match origin {
        UrlOrigin::Env => {
            format!("cannot reach RabbitMQ at {url} (amqp.url, from PREAUTH__AMQP__URL).")
        }
        UrlOrigin::File(file) => format!(
            "cannot reach RabbitMQ at {url} (amqp.url, from {} or the shipped default).",
            file.display()
        ),
        UrlOrigin::Default => format!(
            "cannot reach RabbitMQ at {url}, the shipped default: no --config was given and PREAUTH__AMQP__URL is not set.\n  Give the worker's configuration with --config FILE, or set PREAUTH__AMQP__URL."
        ),
    };
    format!("{first}\n  The connection failed with: {error}")
}

/// True for the broker's 404: a queue or exchange that does not exist.
pub(crate) fn is_not_found(e: &lapin::Error) -> bool {
    e.to_string().contains("NOT_FOUND")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_configuration_the_unreachable_broker_message_says_what_to_give_first() {
        let error = AmqpError::Timeout {
            what: "connecting to amqp://guest:***@127.0.0.1:5672/%2f".into(),
            after: std::time::Duration::from_secs(5),
        };
        assert!(is_connect_failure(&error));
        let text = unreachable_message(
            "amqp://guest:***@127.0.0.1:5672/%2f",
            &UrlOrigin::Default,
            &error,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("no --config was given"), "{text}");
        assert!(lines[1].contains("--config FILE"), "{text}");
        assert!(
            lines[2].starts_with("  The connection failed with: connecting"),
            "{text}"
        );
    }
}
