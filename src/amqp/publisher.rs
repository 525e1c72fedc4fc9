//! Confirmed publishing on its own connection: persistent messages, `mandatory` (progress events
//! excepted), and a publish counts only when the broker acked it and did not return it.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection};

use super::{bounded, AmqpError};
use crate::case::{Outcome, OUTCOME_SCHEMA_V1};

label_values! {
    /// The broker's answer to a publish (`preauth_publish_confirms_total`'s `result`).
    pub enum ConfirmResult {
        Ack = "ack",
        /// Acked but returned unroutable (nothing bound).
        Returned = "returned",
        Nack = "nack",
        Timeout = "timeout",
        Error = "error",
    }
}

/// A channel in confirm mode.
#[derive(Clone)]
pub(crate) struct Publisher {
    channel: Channel,
    timeout: Duration,
}

impl Publisher {
    pub(crate) async fn open(
        connection: &Connection,
        timeout: Duration,
    ) -> Result<Self, AmqpError> {
        let channel = bounded(
            "opening the publishing channel",
            timeout,
            connection.create_channel(),
        )
        .await?;
        bounded(
            "enabling publisher confirms",
            timeout,
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        Ok(Self { channel, timeout })
    }

    /// Sends an outcome event with the contract's properties (`mandatory`, persistent) without
    /// waiting for its confirm ([`Sent::confirmed`]).
    pub(crate) async fn send_outcome(
        &self,
        exchange: &str,
        outcome: &Outcome,
    ) -> Result<Sent, AmqpError> {
        let body = serde_json::to_vec(outcome).map_err(|e| AmqpError::Publish {
            target: exchange.to_owned(),
            reason: format!("outcome does not serialize: {e}"),
        })?;
        let timestamp = u64::try_from(outcome.decided_at.timestamp()).unwrap_or_default();
        let props = BasicProperties::default()
            .with_message_id(ShortString::from(outcome.outcome_id.as_str()))
            .with_correlation_id(ShortString::from(outcome.event_id.as_str()))
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_type(ShortString::from(OUTCOME_SCHEMA_V1))
            .with_timestamp(timestamp)
            .with_app_id(ShortString::from("preauth-worker"));
        // The W3C trace context of the current (publish) span, when spans are exported.
        let mut headers = FieldTable::default();
        super::trace::inject(&tracing::Span::current(), &mut headers);
        let props = if headers.inner().is_empty() {
            props
        } else {
            props.with_headers(headers)
        };
        self.send(exchange, &outcome.status.routing_key(), &body, props, true)
            .await
    }

    /// Publishes `body` (`mandatory`) and waits for the confirm. A return (unroutable), a nack
    /// or a timeout is a failure, never a success.
    pub(crate) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), AmqpError> {
        let sent = self
            .send(exchange, routing_key, body, properties, true)
            .await?;
        sent.confirmed().await
    }

    /// Sends `body` (persistent; `mandatory` or not) without waiting for its confirm: several
    /// sends can be in flight before their confirms are awaited ([`Sent::confirmed`]).
    pub(crate) async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        mandatory: bool,
    ) -> Result<Sent, AmqpError> {
        let target = if exchange.is_empty() {
            format!("queue {routing_key}")
        } else {
            format!("exchange {exchange} ({routing_key})")
        };
        let confirm = bounded(
            format!("publishing to {target}"),
            self.timeout,
            self.channel.basic_publish(
                ShortString::from(exchange),
                ShortString::from(routing_key),
                BasicPublishOptions {
                    mandatory,
                    ..Default::default()
                },
                body,
                properties.with_delivery_mode(2),
            ),
        )
        .await?;
        Ok(Sent {
            target,
            confirm,
            timeout: self.timeout,
        })
    }

    /// Declares a queue the worker creates as it goes (a request's awaiting queue).
    pub(crate) async fn declare(
        &self,
        queue: &super::topology::QueueSpec,
    ) -> Result<(), AmqpError> {
        super::topology::Topology::declare_queue(&self.channel, queue, self.timeout).await
    }

    /// True while the channel can be used.
    pub(crate) fn usable(&self) -> bool {
        self.channel.status().connected()
    }
}

/// A message sent and not yet confirmed.
pub(crate) struct Sent {
    target: String,
    confirm: lapin::PublisherConfirm,
    timeout: Duration,
}

impl Sent {
    /// Waits for the broker's confirm. A return (unroutable, for a mandatory message), a nack
    /// or a timeout is a failure, never a success.
    pub(crate) async fn confirmed(self) -> Result<(), AmqpError> {
        let target = self.target;
        let confirmation =
            match bounded(format!("confirm from {target}"), self.timeout, self.confirm).await {
                Ok(c) => c,
                Err(e) => {
                    let result = if matches!(e, AmqpError::Timeout { .. }) {
                        ConfirmResult::Timeout
                    } else {
                        ConfirmResult::Error
                    };
                    metrics::counter!("preauth_publish_confirms_total", "result" => result.as_str())
                        .increment(1);
                    return Err(e);
                }
            };
        let result = match &confirmation {
            Confirmation::Ack(None) => ConfirmResult::Ack,
            Confirmation::Ack(Some(_)) => ConfirmResult::Returned,
            Confirmation::Nack(_) => ConfirmResult::Nack,
            Confirmation::NotRequested => ConfirmResult::Error,
        };
        metrics::counter!("preauth_publish_confirms_total", "result" => result.as_str())
            .increment(1);
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(AmqpError::Publish {
                target,
                reason: format!(
                    "returned unroutable ({} {}): nothing is bound to receive it",
                    returned.reply_code, returned.reply_text
                ),
            }),
            Confirmation::Nack(_) => Err(AmqpError::Publish {
                target,
                reason: "nacked by the broker".into(),
            }),
            Confirmation::NotRequested => Err(AmqpError::Publish {
                target,
                reason: "the channel is not in confirm mode".into(),
            }),
        }
    }
}

/// Properties of a message being moved (to a delay tier, an awaiting queue, back to the work
/// queue or to the parking queue): the original ones, with `headers` in place of the original
/// headers, persistent, and without `expiration` (a wait is the worker's to set, never the
/// publisher's) or `user-id` (the broker checks it against the connection's user, which is the
/// worker's, not the publisher's).
pub(crate) fn moved_properties(original: &BasicProperties, headers: FieldTable) -> BasicProperties {
    let mut p = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    macro_rules! keep {
        ($($get:ident => $set:ident),* $(,)?) => {
            $(if let Some(v) = original.$get() {
                p = p.$set(v.clone());
            })*
        };
    }
    keep!(
        content_type => with_content_type,
        content_encoding => with_content_encoding,
        priority => with_priority,
        correlation_id => with_correlation_id,
        reply_to => with_reply_to,
        message_id => with_message_id,
        timestamp => with_timestamp,
        kind => with_type,
        app_id => with_app_id,
        cluster_id => with_cluster_id,
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_message_keeps_its_properties_but_not_the_publishers_expiration_or_user() {
        let original = BasicProperties::default()
            .with_message_id(ShortString::from("m-1"))
            .with_content_type(ShortString::from("application/json"))
            .with_type(ShortString::from("case.v1"))
            .with_timestamp(1_700_000_000)
            .with_expiration(ShortString::from("1"))
            .with_user_id(ShortString::from("pms-publisher"))
            .with_delivery_mode(1);
        let moved = moved_properties(&original, FieldTable::default());
        assert_eq!(moved.message_id().as_ref().map(|s| s.as_str()), Some("m-1"));
        assert_eq!(moved.kind().as_ref().map(|s| s.as_str()), Some("case.v1"));
        assert_eq!(moved.timestamp(), &Some(1_700_000_000));
        assert_eq!(moved.delivery_mode(), &Some(2));
        assert_eq!(moved.expiration(), &None);
        assert_eq!(moved.user_id(), &None);
    }
}
