//! Looking inside one parked message (`peek`, for operators: its headers and body) and removing
//! parked messages for good (`parked delete`). Both read the parking queue in order, holding
//! what they read unacked, and give back what they do not take in the order it came.

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};

use super::{close, depth, info, next_parked, ParkedInfo, Selection};
use crate::amqp::{bounded, client, AmqpError};
use crate::config::Settings;

/// Headers shown of one message, at most.
pub const MAX_HEADERS: usize = 64;
/// Characters shown of a header name, at most.
pub const MAX_HEADER_NAME: usize = 128;
/// Characters shown of a header value, at most.
pub const MAX_HEADER_VALUE: usize = 1024;

/// One parked message as an operator sees it: what `parked list` shows, every header (name and
/// value as text, bounded) and the body as text. The body is the case event as it was
/// published: it may hold patient data, so it is shown to operators only and never logged.
#[derive(Debug, Clone)]
pub struct Peeked {
    pub info: ParkedInfo,
    /// The AMQP `message_id` property, bounded.
    pub message_id: Option<String>,
    /// Header names and values, in name order, control characters removed, each bounded
    /// ([`MAX_HEADER_NAME`], [`MAX_HEADER_VALUE`]); at most [`MAX_HEADERS`] of them.
    pub headers: Vec<(String, String)>,
    /// The body as UTF-8 (invalid bytes replaced), at most `amqp.max_message_bytes` of it.
    pub body: String,
    /// True when the body was longer than what `body` holds.
    pub body_truncated: bool,
}

/// The first parked message `selection` takes, with its headers and body; `None` when the
/// parking queue holds none. Nothing is removed: every message goes back, in its order.
pub async fn peek(settings: &Settings, selection: &Selection) -> Result<Option<Peeked>, AmqpError> {
    Ok(read(settings, 0, "preauth-worker parked peek")
        .await?
        .into_iter()
        .find(|p| selection.takes(&p.info)))
}

/// Up to `limit` parked messages (0: all), oldest first, with their headers and bodies, as an
/// operator sees them; none removed. The whole queue is read and given back in order either
/// way: a returned message goes to the back of a quorum queue, so only a queue read whole
/// keeps its order.
pub async fn read(
    settings: &Settings,
    limit: usize,
    client_name: &str,
) -> Result<Vec<Peeked>, AmqpError> {
    let (conn, channel) = client::open(settings, client_name).await?;
    depth(&conn, settings).await?;
    let max = settings.amqp.max_message_bytes;
    let limit = if limit == 0 { usize::MAX } else { limit };
    let mut shown = Vec::new();
    let mut held = Vec::new();
    let result: Result<(), AmqpError> = async {
        while let Some(m) = next_parked(&channel, settings).await? {
            let d = m.delivery;
            if shown.len() < limit {
                let body = &d.data[..d.data.len().min(max)];
                shown.push(Peeked {
                    info: info(&d, max),
                    message_id: d
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|m| bounded_text(m.as_str(), MAX_HEADER_NAME)),
                    headers: header_texts(d.properties.headers().as_ref()),
                    body: String::from_utf8_lossy(body).into_owned(),
                    body_truncated: body.len() < d.data.len(),
                });
            }
            held.push(d.acker);
        }
        Ok(())
    }
    .await;
    give_back(&held).await;
    let _ = close(conn, channel, settings).await;
    result.map(|()| shown)
}

/// Removes the parked messages `selection` takes (acks them: they are gone for good) and gives
/// the others back in their order. Returns what was removed.
pub async fn delete(
    settings: &Settings,
    selection: &Selection,
) -> Result<Vec<ParkedInfo>, AmqpError> {
    let (conn, channel) = client::open(settings, "preauth-worker parked delete").await?;
    depth(&conn, settings).await?;
    let mut deleted = Vec::new();
    let mut keep = Vec::new();
    while let Some(m) = next_parked(&channel, settings).await? {
        let d = m.delivery;
        let i = info(&d, settings.amqp.max_message_bytes);
        if !selection.takes(&i) {
            keep.push(d.acker);
            continue;
        }
        bounded(
            "removing the parked message",
            settings.amqp.timeout,
            d.acker.ack(BasicAckOptions::default()),
        )
        .await?;
        deleted.push(i);
    }
    give_back(&keep).await;
    // The channel's close-ok comes after every ack and nack before it was handled.
    close(conn, channel, settings).await?;
    Ok(deleted)
}

/// Returns held messages to the parking queue, in the order they were read.
async fn give_back(held: &[lapin::Acker]) {
    for acker in held {
        let _ = acker
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await;
    }
}

/// Every header as (name, value) text, bounded.
pub(super) fn header_texts(table: Option<&FieldTable>) -> Vec<(String, String)> {
    let Some(table) = table else {
        return Vec::new();
    };
    table
        .inner()
        .iter()
        .take(MAX_HEADERS)
        .map(|(k, v)| {
            (
                bounded_text(k.as_str(), MAX_HEADER_NAME),
                bounded_text(&value_text(v, 0), MAX_HEADER_VALUE),
            )
        })
        .collect()
}

/// At most `max` characters of `text`, control characters removed.
fn bounded_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// A header value as text: strings as they are, numbers and booleans written out, arrays and
/// tables (the broker's `x-death`) item by item, nested at most a few levels.
fn value_text(v: &AMQPValue, depth: usize) -> String {
    if depth > 4 {
        return "…".to_owned();
    }
    match v {
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
        AMQPValue::Float(n) => n.to_string(),
        AMQPValue::Double(n) => n.to_string(),
        AMQPValue::Void => String::new(),
        AMQPValue::ByteArray(b) => format!("<{} bytes>", b.as_slice().len()),
        AMQPValue::FieldArray(a) => {
            let items: Vec<String> = a
                .as_slice()
                .iter()
                .take(MAX_HEADERS)
                .map(|x| value_text(x, depth + 1))
                .collect();
            format!("[{}]", items.join(", "))
        }
        AMQPValue::FieldTable(t) => {
            let items: Vec<String> = t
                .inner()
                .iter()
                .take(MAX_HEADERS)
                .map(|(k, x)| format!("{}: {}", k.as_str(), value_text(x, depth + 1)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}
