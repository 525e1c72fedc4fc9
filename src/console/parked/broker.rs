//! [`ParkedQueue`] over the real parking queue (`topology.parking_queue`), with lapin: every
//! operation takes the messages with `basic.get` and holds them unacked, settles the chosen ones
//! and gives the rest back in order (a quorum queue serves returned messages first, in the order
//! they were returned). An interrupted operation leaves every message parked. One operation at a
//! time per console process.

use std::sync::Arc;

use async_trait::async_trait;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use tokio::sync::Mutex;

use super::queue::{fingerprint, ParkedError, ParkedListing, ParkedMessage, ParkedQueue};
use crate::amqp::headers::{self, get_str, get_u32};
use crate::amqp::publisher::{moved_properties, Publisher};
use crate::amqp::{bounded, client, AmqpError};
use crate::config::Settings;
use crate::security::DeploymentKey;

/// The parking queue of `settings`, replayed under the deployment key `key`.
pub struct BrokerParkedQueue {
    settings: Settings,
    key: Arc<DeploymentKey>,
    one_at_a_time: Mutex<()>,
}

impl BrokerParkedQueue {
    pub fn new(settings: Settings, key: Arc<DeploymentKey>) -> Self {
        Self {
            settings,
            key,
            one_at_a_time: Mutex::new(()),
        }
    }
}

impl From<AmqpError> for ParkedError {
    fn from(e: AmqpError) -> Self {
        ParkedError(e.to_string())
    }
}

/// What to do with each message taken.
enum Verdict {
    Keep,
    Replay,
    Delete,
}

impl BrokerParkedQueue {
    /// Takes up to `limit` messages (0: all), decides on each with `choose`, carries the verdicts
    /// out, returns every message seen, as shown, in queue order.
    async fn pass(
        &self,
        limit: usize,
        mut choose: impl FnMut(&ParkedMessage) -> Verdict + Send,
    ) -> Result<(Vec<ParkedMessage>, usize), ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let s = &self.settings;
        let (conn, channel) = client::open(s, "preauth-worker console").await?;
        let publisher = Publisher::open(&conn, s.amqp.timeout).await?;
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut seen = Vec::new();
        let mut keep = Vec::new();
        let mut acted = 0;
        let result: Result<(), AmqpError> = async {
            while seen.len() < limit {
                let got = bounded(
                    "reading the parking queue",
                    s.amqp.timeout,
                    channel.basic_get(
                        ShortString::from(s.topology.parking_queue.as_str()),
                        BasicGetOptions { no_ack: false },
                    ),
                )
                .await?;
                let Some(m) = got else { break };
                let d = m.delivery;
                let shown = describe(&d, s.amqp.max_message_bytes);
                match choose(&shown) {
                    Verdict::Keep => keep.push(d.acker),
                    Verdict::Delete => {
                        bounded(
                            "removing a parked message",
                            s.amqp.timeout,
                            d.acker.ack(BasicAckOptions::default()),
                        )
                        .await?;
                        acted += 1;
                    }
                    Verdict::Replay => {
                        self.send_back(&publisher, &d).await?;
                        bounded(
                            "removing the replayed message",
                            s.amqp.timeout,
                            d.acker.ack(BasicAckOptions::default()),
                        )
                        .await?;
                        acted += 1;
                    }
                }
                seen.push(shown);
            }
            Ok(())
        }
        .await;
        for acker in &keep {
            let _ = acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await;
        }
        // The channel's close-ok comes after every ack and nack sent before it.
        let _ = bounded(
            "closing the parking queue channel",
            s.amqp.timeout,
            channel.close(200, ShortString::from("done")),
        )
        .await;
        client::close(conn, s).await;
        result?;
        Ok((seen, acted))
    }

    /// Publishes a parked message back to the work queue, as `parked replay` does: a fresh case
    /// state (the replay count kept, plus one), the original routing key, confirmed.
    async fn send_back(&self, publisher: &Publisher, d: &Delivery) -> Result<(), AmqpError> {
        let old = d.properties.headers().clone().unwrap_or_default();
        let carried = headers::read_carried(Some(&old), &d.data, &self.key);
        let routing_key = carried
            .routing_key
            .or_else(|| get_str(Some(&old), headers::ROUTING_KEY))
            .unwrap_or_else(|| d.routing_key.as_str().to_owned());
        let fresh = crate::retry::CaseState {
            replays: carried.state.replays.saturating_add(1),
            ..crate::retry::CaseState::default()
        };
        let mut table = FieldTable::default();
        headers::write_state(&mut table, &fresh, &routing_key, &d.data, &self.key);
        let props = moved_properties(&d.properties, table);
        publisher
            .publish("", &self.settings.topology.work_queue, &d.data, props)
            .await
    }
}

#[async_trait]
impl ParkedQueue for BrokerParkedQueue {
    async fn list(&self, limit: usize) -> Result<ParkedListing, ParkedError> {
        let (items, _) = self.pass(limit, |_| Verdict::Keep).await?;
        Ok(ParkedListing { items })
    }

    async fn peek(&self, fp: &str) -> Result<Option<ParkedMessage>, ParkedError> {
        let (items, _) = self.pass(0, |_| Verdict::Keep).await?;
        Ok(items.into_iter().find(|m| m.fingerprint == fp))
    }

    async fn replay(&self, fp: &str) -> Result<usize, ParkedError> {
        let (_, n) = self
            .pass(0, |m| {
                if m.fingerprint == fp {
                    Verdict::Replay
                } else {
                    Verdict::Keep
                }
            })
            .await?;
        Ok(n)
    }

    async fn delete(&self, fp: &str) -> Result<usize, ParkedError> {
        let (_, n) = self
            .pass(0, |m| {
                if m.fingerprint == fp {
                    Verdict::Delete
                } else {
                    Verdict::Keep
                }
            })
            .await?;
        Ok(n)
    }
}

/// A parked delivery as the console shows it. Only what the worker itself wrote is taken as it
/// is: ids from the body only when they pass the worker's identification, a reason only when it
/// is one of the worker's codes, the detail bounded.
fn describe(d: &Delivery, max_message_bytes: usize) -> ParkedMessage {
    let h = d.properties.headers().as_ref();
    let bytes = d.data.len();
    let too_large =
        bytes > max_message_bytes && headers::dead_letter_reason(h).as_deref() == Some("rejected");
    let ids = if too_large {
        None
    } else {
        crate::case::identify(&d.data).ok()
    };
    let reason = if too_large {
        Some(crate::pipeline::ParkReason::TooLarge.code().to_owned())
    } else {
        get_str(h, headers::REASON).and_then(|r| {
            crate::pipeline::ParkReason::ALL
                .iter()
                .find(|k| k.code() == r)
                .map(|k| k.code().to_owned())
        })
    };
    let detail = match &reason {
        Some(_) if too_large => format!("body is {bytes} bytes; the limit is {max_message_bytes}"),
        Some(_) => get_str(h, headers::DETAIL)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
        None => String::new(),
    };
    let mut all_headers: Vec<(String, String)> = h
        .map(|t| {
            t.inner()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), value_text(v)))
                .collect()
        })
        .unwrap_or_default();
    all_headers.sort();
    ParkedMessage {
        fingerprint: fingerprint(&d.data),
        reason: reason.unwrap_or_else(|| "broker-dead-lettered".to_owned()),
        detail,
        case_id: ids.as_ref().map(|i| i.case_id.clone()),
        event_id: ids.as_ref().map(|i| i.event_id.clone()),
        message_id: d
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.as_str().chars().take(100).collect()),
        parked_at: get_str(h, headers::PARKED_AT)
            .filter(|t| t.len() <= 40 && chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        attempts: get_u32(h, headers::ATTEMPTS).unwrap_or(0),
        bytes,
        headers: all_headers,
        body: d.data.clone(),
    }
}

/// A header value as text, bounded; nested tables and arrays by their size only.
fn value_text(v: &AMQPValue) -> String {
    let text = match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_owned(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::Timestamp(n) => n.to_string(),
        AMQPValue::FieldArray(a) => format!("({} values)", a.as_slice().len()),
        AMQPValue::FieldTable(t) => format!("({} fields)", t.inner().len()),
        _ => "(binary)".to_owned(),
    };
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}
