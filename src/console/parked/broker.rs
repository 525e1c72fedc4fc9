//! [`ParkedQueue`] over the real parking queue (`topology.parking_queue`). Reading takes the
//! messages with `basic.get`, holds them unacked and gives every one back (an interrupted read
//! leaves every message parked); replay and delete are `amqp::parked`'s, the code of the
//! `parked replay` and `parked delete` commands. One operation at a time per console process.

use std::sync::Arc;

use async_trait::async_trait;
use lapin::message::Delivery;
use lapin::options::{BasicGetOptions, BasicNackOptions};
use lapin::types::{AMQPValue, ShortString};
use tokio::sync::Mutex;

use super::queue::{ParkedError, ParkedListing, ParkedMessage, ParkedQueue};
use crate::amqp::headers::{self, get_str, get_u32};
use crate::amqp::{bounded, client, parked, AmqpError};
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

impl BrokerParkedQueue {
    /// Reads up to `limit` messages (0: all) and gives every one back: returns them, as shown,
    /// in queue order. Replay and delete go through `amqp::parked`, the code `parked replay`
    /// and `parked delete` run, so the console and the command line act alike (a replay
    /// publishes `progress.replayed` first).
    async fn read(&self, limit: usize) -> Result<Vec<ParkedMessage>, ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let s = &self.settings;
        let (conn, channel) = client::open(s, "preauth-worker console").await?;
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut seen = Vec::new();
        let mut keep = Vec::new();
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
                keep.push(d.acker);
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
        Ok(seen)
    }
}

#[async_trait]
impl ParkedQueue for BrokerParkedQueue {
    async fn list(&self, limit: usize) -> Result<ParkedListing, ParkedError> {
        let items = self.read(limit).await?;
        Ok(ParkedListing { items })
    }

    async fn peek(&self, fp: &str) -> Result<Option<ParkedMessage>, ParkedError> {
        let items = self.read(0).await?;
        Ok(items.into_iter().find(|m| m.fingerprint == fp))
    }

    async fn replay(&self, fp: &str) -> Result<usize, ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let selection = parked::Selection::Fingerprint(fp.to_owned());
        Ok(parked::replay(&self.settings, &self.key, &selection)
            .await?
            .len())
    }

    async fn delete(&self, fp: &str) -> Result<usize, ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let selection = parked::Selection::Fingerprint(fp.to_owned());
        Ok(parked::delete(&self.settings, &selection).await?.len())
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
        fingerprint: parked::fingerprint(
            &d.data,
            get_str(h, headers::PARKED_AT).as_deref(),
            get_str(h, headers::REASON).as_deref(),
        ),
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
