//! Confirmed publishing on its own connection: persistent messages, `mandatory` (progress
//! events excepted), and a publish counts only when the broker acked it and did not return it.
//! A probe of a progress step is `mandatory` on a channel of its own, and its return is
//! reported to the caller, who learns that nothing receives the step.

use std::time::Duration;

use futures::future::join_all;
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

/// What becomes of a message nothing is bound to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unroutable {
    /// Not `mandatory`: the broker drops it and acks it.
    Drop,
    /// `mandatory`: the broker returns it and the publish fails (outcomes, moved case events).
    Fail,
    /// `mandatory`: the broker returns it, and the return is reported to the caller instead of
    /// failing the publish (probes of progress steps, on the probe channel: nothing lost that
    /// anyone would have received).
    Report,
}

/// A channel in confirm mode.
#[derive(Clone)]
pub(crate) struct Publisher {
    channel: Channel,
    timeout: Duration,
    /// A second channel in confirm mode for the messages whose returns are reported
    /// ([`Unroutable::Report`]), so that no return there can be taken for another's.
    probe: Option<Channel>,
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
        Ok(Self {
            channel,
            timeout,
            probe: None,
        })
    }

    /// This publisher with a probe channel of its own on `connection` ([`Publisher::probe`]).
    pub(crate) async fn with_probe(self, connection: &Connection) -> Result<Self, AmqpError> {
        let probe = Self::open(connection, self.timeout).await?;
        Ok(Self {
            probe: Some(probe.channel),
            ..self
        })
    }

    /// Whether this publisher has a probe channel.
    pub(crate) fn has_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// The probe channel as a publisher, when there is one: for messages sent with
    /// [`Unroutable::Report`], one batch at a time.
    pub(crate) fn probe(&self) -> Option<Publisher> {
        self.probe.as_ref().map(|channel| Publisher {
            channel: channel.clone(),
            timeout: self.timeout,
            probe: None,
        })
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
            .send(exchange, routing_key, body, properties, Unroutable::Fail)
            .await?;
        sent.confirmed().await
    }

    /// Sends `body` (persistent) without waiting for its confirm: several sends can be in
    /// flight before their confirms are awaited ([`Sent::confirmed`]).
    pub(crate) async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        unroutable: Unroutable,
    ) -> Result<Sent, AmqpError> {
        let confirm = bounded(
            Target(exchange, routing_key).publishing(1),
            self.timeout,
            self.channel.basic_publish(
                ShortString::from(exchange),
                ShortString::from(routing_key),
                BasicPublishOptions {
                    mandatory: unroutable != Unroutable::Drop,
                    ..Default::default()
                },
                body,
                properties.with_delivery_mode(2),
            ),
        )
        .await?;
        Ok(Sent {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            confirm,
            timeout: self.timeout,
            unroutable,
        })
    }

    /// Sends `messages` (persistent) in their order without waiting for their confirms
    /// ([`Sent::confirm_all`]). Every message is queued on the channel before any is awaited,
    /// so the connection's I/O thread is woken and writes them once for all, instead of once a
    /// message with a round trip between threads each time.
    pub(crate) async fn send_all(&self, messages: Vec<Outgoing>) -> Result<Vec<Sent>, AmqpError> {
        let Some(first) = messages.first() else {
            return Ok(Vec::new());
        };
        // `join_all` polls its futures in order on its first poll, and a publish queues its
        // frames (and takes its confirm's delivery tag) on its first poll: the messages go out
        // in the order given.
        let publishes = messages.iter().map(|m| {
            self.channel.basic_publish(
                ShortString::from(m.exchange.as_str()),
                ShortString::from(m.routing_key.as_str()),
                BasicPublishOptions {
                    mandatory: m.unroutable != Unroutable::Drop,
                    ..Default::default()
                },
                &m.body,
                m.properties.clone().with_delivery_mode(2),
            )
        });
        let results = match tokio::time::timeout(self.timeout, join_all(publishes)).await {
            Ok(results) => results,
            Err(_) => {
                return Err(AmqpError::Timeout {
                    what: Target(&first.exchange, &first.routing_key).publishing(messages.len()),
                    after: self.timeout,
                })
            }
        };
        let mut sent = Vec::with_capacity(messages.len());
        for (m, result) in messages.into_iter().zip(results) {
            let confirm = result.map_err(|source| {
                super::classify(Target(&m.exchange, &m.routing_key).publishing(1), source)
            })?;
            sent.push(Sent {
                exchange: m.exchange,
                routing_key: m.routing_key,
                confirm,
                timeout: self.timeout,
                unroutable: m.unroutable,
            });
        }
        Ok(sent)
    }

    /// Declares a queue the worker creates as it goes (a request's awaiting queue).
    pub(crate) async fn declare(
        &self,
        queue: &super::topology::QueueSpec,
    ) -> Result<(), AmqpError> {
        super::topology::Topology::declare_queue(&self.channel, queue, self.timeout).await
    }

    /// True while the channel (and the probe channel, if any) can be used.
    pub(crate) fn usable(&self) -> bool {
        self.channel.status().connected()
            && self
                .probe
                .as_ref()
                .is_none_or(|probe| probe.status().connected())
    }
}

/// Where a message goes, for error texts.
struct Target<'a>(&'a str, &'a str);

impl Target<'_> {
    fn text(&self) -> String {
        let Target(exchange, routing_key) = self;
        if exchange.is_empty() {
            format!("queue {routing_key}")
        } else {
            format!("exchange {exchange} ({routing_key})")
        }
    }

    fn publishing(&self, n: usize) -> String {
        match n {
            1 => format!("publishing to {}", self.text()),
            n => format!("publishing {n} messages, the first to {}", self.text()),
        }
    }
}

/// A message ready to be sent with [`Publisher::send_all`].
pub(crate) struct Outgoing {
    pub(crate) exchange: String,
    pub(crate) routing_key: String,
    pub(crate) body: Vec<u8>,
    pub(crate) properties: BasicProperties,
    pub(crate) unroutable: Unroutable,
}

impl Outgoing {
    /// An outcome event with the contract's properties: `mandatory`, persistent, JSON, its ids
    /// in `message_id` and `correlation_id`, and the W3C trace context of the current span when
    /// spans are exported.
    pub(crate) fn outcome(exchange: &str, outcome: &Outcome) -> Result<Self, AmqpError> {
        // Room for a typical outcome up front: grown from empty, the buffer was copied 8 times.
        let mut body = Vec::with_capacity(2048);
        serde_json::to_writer(&mut body, outcome).map_err(|e| AmqpError::Publish {
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
        let mut headers = FieldTable::default();
        super::trace::inject(&tracing::Span::current(), &mut headers);
        let properties = if headers.inner().is_empty() {
            props
        } else {
            props.with_headers(headers)
        };
        Ok(Self {
            exchange: exchange.to_owned(),
            routing_key: outcome.status.routing_key(),
            body,
            properties,
            unroutable: Unroutable::Fail,
        })
    }
}

/// A message sent and not yet confirmed.
pub(crate) struct Sent {
    exchange: String,
    routing_key: String,
    confirm: lapin::PublisherConfirm,
    timeout: Duration,
    unroutable: Unroutable,
}

impl Sent {
    /// Waits for the broker's confirm. A return (unroutable, for a mandatory message), a nack
    /// or a timeout is a failure, never a success.
    pub(crate) async fn confirmed(self) -> Result<(), AmqpError> {
        Self::confirm_all(vec![self]).await.map(drop)
    }

    /// Waits for every confirm, all within one publishing timeout; fails on the first that is
    /// not a plain ack, except that messages sent with [`Unroutable::Report`] may come back
    /// returned: the routing keys of the messages returned are the answer. They are read from
    /// the returned messages themselves, not from which confirm carried them (lapin gives a
    /// return to whichever confirm completes next).
    pub(crate) async fn confirm_all(mut sent: Vec<Sent>) -> Result<Vec<String>, AmqpError> {
        let Some(timeout) = sent.iter().map(|s| s.timeout).max() else {
            return Ok(Vec::new());
        };
        // One timer for the lot (a case's progress events and outcome are confirmed together),
        // and the acks counted once: both were per message, on every case's path.
        let (mut waiting, mut acked) = (0, 0);
        let mut returned = Vec::new();
        let confirms = async {
            let Some((last, rest)) = sent.split_last_mut() else {
                return Ok(None);
            };
            // The last message's confirm is waited for first: it is the outcome, sent last,
            // and the broker has usually confirmed the others by the time it confirms it, so
            // the task wakes once a delivery instead of once a message. They are then looked
            // at in order, so the first failure is the one reported, as if they had been
            // waited for in order.
            waiting = rest.len();
            let last_confirmation = (&mut last.confirm).await;
            let last_reports = last.unroutable == Unroutable::Report;
            for (i, s) in rest.iter_mut().enumerate() {
                waiting = i;
                match (&mut s.confirm).await {
                    Ok(Confirmation::Ack(None)) => acked += 1,
                    Ok(Confirmation::Ack(Some(m))) if s.unroutable == Unroutable::Report => {
                        returned.push(m.delivery.routing_key.to_string())
                    }
                    other => return other.map(Some),
                }
            }
            waiting = rest.len();
            match last_confirmation {
                Ok(Confirmation::Ack(None)) => {
                    acked += 1;
                    Ok(None)
                }
                Ok(Confirmation::Ack(Some(m))) if last_reports => {
                    returned.push(m.delivery.routing_key.to_string());
                    Ok(None)
                }
                other => other.map(Some),
            }
        };
        let first_failure =
            tokio::time::timeout_at(tokio::time::Instant::now() + timeout, confirms).await;
        count_confirms(ConfirmResult::Ack, acked);
        count_confirms(ConfirmResult::Returned, returned.len() as u64);
        let Some(s) = sent.get(waiting) else {
            return Ok(returned);
        };
        let target = || Target(&s.exchange, &s.routing_key).text();
        let confirmation = match first_failure {
            Ok(Ok(None)) => return Ok(returned),
            Ok(Ok(Some(c))) => c,
            Ok(Err(source)) => {
                count_confirms(ConfirmResult::Error, 1);
                return Err(super::classify(
                    format!("confirm from {}", target()),
                    source,
                ));
            }
            Err(_) => {
                count_confirms(ConfirmResult::Timeout, 1);
                return Err(AmqpError::Timeout {
                    what: format!("confirm from {}", target()),
                    after: timeout,
                });
            }
        };
        let (result, reason) = match confirmation {
            // Counted above; not a failure (kept for the match to be whole).
            Confirmation::Ack(None) => return Ok(returned),
            Confirmation::Ack(Some(message)) => (
                ConfirmResult::Returned,
                format!(
                    "returned unroutable ({} {}): nothing is bound to receive it",
                    message.reply_code, message.reply_text
                ),
            ),
            Confirmation::Nack(_) => (ConfirmResult::Nack, "nacked by the broker".into()),
            Confirmation::NotRequested => (
                ConfirmResult::Error,
                "the channel is not in confirm mode".into(),
            ),
        };
        count_confirms(result, 1);
        Err(AmqpError::Publish {
            target: target(),
            reason,
        })
    }
}

/// Counts `n` confirms of one kind (none: nothing is recorded).
fn count_confirms(result: ConfirmResult, n: u64) {
    if n > 0 {
        metrics::counter!("preauth_publish_confirms_total", "result" => result.as_str())
            .increment(n);
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
