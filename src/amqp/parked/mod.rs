//! `preauth-worker parked list|replay|delete`: look at what was parked, send it back to the work
//! queue after a fix, or remove it. Each holds what it reads unacked and settles it only at the
//! end, so an interrupted run leaves every message in the parking queue (a replayed one at worst
//! twice, which the outcome ids make harmless). `peek` shows one message to an operator.

mod peek;
#[cfg(test)]
mod tests;

pub use peek::{delete, peek, read, Peeked, MAX_HEADERS, MAX_HEADER_NAME, MAX_HEADER_VALUE};

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::Connection;
use serde::Serialize;

use super::client::{self, is_not_found};
use super::headers::{self, get_str, get_u32};
use super::publisher::{moved_properties, Publisher};
use super::{bounded, AmqpError};
use crate::config::Settings;

/// One parked message, as `parked list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ParkedInfo {
    pub reason: String,
    pub detail: String,
    pub case_id: Option<String>,
    pub event_id: Option<String>,
    pub parked_at: Option<String>,
    pub attempts: u32,
    pub bytes: usize,
    /// Names this one message (16 hex digits of a SHA-256 of its body, its parking time and its
    /// reason header): stable while it is parked, the same for identical copies.
    pub fingerprint: String,
}

/// The fingerprint of a parked message: the first 16 hex digits of the SHA-256 of its body and
/// its `x-preauth-parked-at` and `x-preauth-reason` headers (each part length-prefixed).
pub fn fingerprint(body: &[u8], parked_at: Option<&str>, reason: Option<&str>) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [
        body,
        parked_at.unwrap_or_default().as_bytes(),
        reason.unwrap_or_default().as_bytes(),
    ] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    ctx.finish()
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fingerprint_of(delivery: &lapin::message::Delivery) -> String {
    let h = delivery.properties.headers().as_ref();
    fingerprint(
        &delivery.data,
        get_str(h, headers::PARKED_AT).as_deref(),
        get_str(h, headers::REASON).as_deref(),
    )
}

/// What `parked list` found: the messages shown, oldest first (the parking queue's order), and
/// how many the queue held.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<ParkedInfo>,
    pub total: usize,
}

/// `parked list` for a person (a header line, then one aligned line per message) or for a
/// program (one JSON object per line); the same messages in the same order either way.
pub fn render(listing: &Listing, parking_queue: &str, json: bool) -> String {
    let items = &listing.items;
    let mut out = String::new();
    if !json {
        out.push_str(&format!(
            "{} parked message(s) in {parking_queue}, oldest first",
            listing.total.max(items.len())
        ));
        if items.len() < listing.total {
            out.push_str(&format!(
                "; showing the first {} (--limit 0 shows all)",
                items.len()
            ));
        }
        out.push('\n');
    }
    for i in items {
        if json {
            out.push_str(&serde_json::to_string(i).unwrap_or_default());
            out.push('\n');
        } else {
            out.push_str(&format!(
                "{:<18} case {:<20} event {:<38} parked {:<26} attempts {:<3} fingerprint {} {}\n",
                i.reason,
                i.case_id.as_deref().unwrap_or("-"),
                i.event_id.as_deref().unwrap_or("-"),
                i.parked_at.as_deref().unwrap_or("-"),
                i.attempts,
                i.fingerprint,
                i.detail
            ));
        }
    }
    out
}

/// Which parked messages to replay, delete or peek at.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    Case(String),
    /// The message with this fingerprint ([`ParkedInfo::fingerprint`]; case does not matter).
    Fingerprint(String),
}

impl Selection {
    /// Whether the selection takes the message `info` describes.
    pub fn takes(&self, info: &ParkedInfo) -> bool {
        match self {
            Selection::All => true,
            Selection::Case(id) => info.case_id.as_deref() == Some(id.as_str()),
            Selection::Fingerprint(fp) => info.fingerprint.eq_ignore_ascii_case(fp.trim()),
        }
    }
}

/// What `parked list` shows of a message. Only what the worker itself wrote is shown as it is;
/// ids come from the body only when they pass the checks the worker identifies a case by, and a
/// reason or detail header a publisher could have set (on a message the broker dead-lettered)
/// is shown only when it is one of the worker's own reason codes, the detail bounded.
pub(super) fn info(delivery: &lapin::message::Delivery, max_message_bytes: usize) -> ParkedInfo {
    let h = delivery.properties.headers().as_ref();
    let bytes = delivery.data.len();
    // An oversized message is rejected by the worker and moved by the broker: its reason is
    // its size, with the broker's record that it was rejected.
    if bytes > max_message_bytes && headers::dead_letter_reason(h).as_deref() == Some("rejected") {
        return ParkedInfo {
            reason: crate::pipeline::ParkReason::TooLarge.code().to_owned(),
            detail: format!("body is {bytes} bytes; the limit is {max_message_bytes}"),
            case_id: None,
            event_id: None,
            parked_at: None,
            attempts: 0,
            bytes,
            fingerprint: fingerprint_of(delivery),
        };
    }
    let ids = crate::case::identify(&delivery.data).ok();
    let reason = get_str(h, headers::REASON).and_then(|r| {
        crate::pipeline::ParkReason::ALL
            .iter()
            .find(|k| k.code() == r)
            .map(|k| k.code().to_owned())
    });
    let detail = match &reason {
        Some(_) => get_str(h, headers::DETAIL)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
        None => String::new(),
    };
    ParkedInfo {
        reason: reason.unwrap_or_else(|| "broker-dead-lettered".to_owned()),
        detail,
        case_id: ids.as_ref().map(|i| i.case_id.clone()),
        event_id: ids.as_ref().map(|i| i.event_id.clone()),
        parked_at: get_str(h, headers::PARKED_AT)
            .filter(|t| t.len() <= 40 && chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        attempts: get_u32(h, headers::ATTEMPTS).unwrap_or(0),
        bytes,
        fingerprint: fingerprint_of(delivery),
    }
}

/// The next parked message, held unacked (it returns to the queue if this connection drops).
pub(super) async fn next_parked(
    channel: &lapin::Channel,
    settings: &Settings,
) -> Result<Option<lapin::message::BasicGetMessage>, AmqpError> {
    bounded(
        "reading the parking queue",
        settings.amqp.timeout,
        channel.basic_get(
            ShortString::from(settings.topology.parking_queue.as_str()),
            BasicGetOptions { no_ack: false },
        ),
    )
    .await
}

/// How many messages the parking queue holds; a clear error when it does not exist.
pub(super) async fn depth(conn: &Connection, settings: &Settings) -> Result<usize, AmqpError> {
    let queue = settings.topology.parking_queue.as_str();
    // A failed passive declare closes its channel: use one of its own.
    let channel = bounded(
        "opening a channel",
        settings.amqp.timeout,
        conn.create_channel(),
    )
    .await?;
    let declared = bounded(
        format!("looking up the parking queue {queue}"),
        settings.amqp.timeout,
        channel.queue_declare(
            ShortString::from(queue),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    )
    .await;
    match declared {
        Ok(q) => {
            let _ = channel.close(200, ShortString::from("done")).await;
            Ok(usize::try_from(q.message_count()).unwrap_or(usize::MAX))
        }
        Err(AmqpError::Broker { source, .. }) if is_not_found(&source) => Err(AmqpError::Broker {
            what: format!(
                "the parking queue {queue} (topology.parking_queue) does not exist on this broker: no worker with this configuration has started here"
            ),
            source,
        }),
        Err(e) => Err(e),
    }
}

/// Lists parked messages without removing any, oldest first: up to `limit`, or all of them
/// when `limit` is 0.
pub async fn list(settings: &Settings, limit: usize) -> Result<Listing, AmqpError> {
    let (conn, channel) = client::open(settings, "preauth-worker parked list").await?;
    let total = depth(&conn, settings).await?;
    let limit = if limit == 0 { usize::MAX } else { limit };
    let mut out = Vec::new();
    let mut tags = Vec::new();
    while out.len() < limit {
        let Some(m) = next_parked(&channel, settings).await? else {
            break;
        };
        out.push(info(&m.delivery, settings.amqp.max_message_bytes));
        tags.push(m.delivery.acker);
    }
    // Give every message back in the order it came: nothing is consumed by looking, and the
    // queue keeps its order (a quorum queue serves returned messages first, in the order they
    // were returned; a classic queue puts them back where they were).
    for acker in &tags {
        let _ = acker
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await;
    }
    // Whatever was not given back returns to the queue with the connection.
    let _ = close(conn, channel, settings).await;
    Ok(Listing { items: out, total })
}

/// Sends the selected parked messages back to the work queue (fresh state, original routing key)
/// and removes them from the parking queue once the broker confirmed the copy. Returns how many.
pub async fn replay(
    settings: &Settings,
    key: &crate::security::DeploymentKey,
    selection: &Selection,
) -> Result<Vec<ParkedInfo>, AmqpError> {
    let (conn, channel) = client::open(settings, "preauth-worker parked replay").await?;
    depth(&conn, settings).await?;
    let publisher = Publisher::open(&conn, settings.amqp.timeout).await?;
    let mut replayed = Vec::new();
    let mut keep = Vec::new();
    loop {
        let Some(m) = next_parked(&channel, settings).await? else {
            break;
        };
        let d = m.delivery;
        let i = info(&d, settings.amqp.max_message_bytes);
        if !selection.takes(&i) {
            keep.push(d.acker);
            continue;
        }
        // A fresh start: no attempt state, no parking reason; the original routing key stays so
        // the kind check still applies.
        let old = d.properties.headers().clone().unwrap_or_default();
        let carried = headers::read_carried(Some(&old), &d.data, key);
        // A message parked without state (it could not be identified) kept the routing key it
        // arrived with, untagged: good enough for the kind check, which is all it serves.
        let routing_key = carried
            .routing_key
            .or_else(|| get_str(Some(&old), headers::ROUTING_KEY))
            .unwrap_or_else(|| d.routing_key.as_str().to_owned());
        // The replay count survives: the new attempt series ranks after everything published
        // for the event before (its outcomes carry a higher sequence and ids of their own).
        // So do the hashes of the documents already sent: the replay resends under the same
        // request identifier, so it must send the same bytes.
        let fresh = crate::retry::CaseState {
            replays: carried.state.replays.saturating_add(1),
            documents: carried.state.documents.clone(),
            ..crate::retry::CaseState::default()
        };
        // The replay is a step of the case's timeline, told before the copy goes back.
        if let (true, Some(case_id), Some(event_id)) =
            (settings.outcomes.progress, &i.case_id, &i.event_id)
        {
            let at = chrono::Utc::now();
            let p = crate::pipeline::progress::replayed(case_id, event_id, fresh.replays, at);
            let exchange = &settings.topology.outcomes_exchange;
            super::progress::publish(&publisher, exchange, &[p]).await?;
        }
        let mut table = FieldTable::default();
        headers::write_state(&mut table, &fresh, &routing_key, &d.data, key);
        let props = moved_properties(&d.properties, table);
        publisher
            .publish("", &settings.topology.work_queue, &d.data, props)
            .await?;
        bounded(
            "removing the replayed message",
            settings.amqp.timeout,
            d.acker.ack(BasicAckOptions::default()),
        )
        .await?;
        replayed.push(i);
    }
    for acker in &keep {
        let _ = acker
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await;
    }
    if let Err(e) = close(conn, channel, settings).await {
        tracing::warn!(
            "Could not confirm that the replayed messages left the parking queue ({e}): some may be parked still; replaying them again is harmless."
        );
    }
    Ok(replayed)
}

/// Closes the reading channel, then the connection. Acks and nacks have no reply of their own;
/// the channel's close-ok comes after the broker handled every frame sent before it on the
/// channel, so once it is back the replayed messages are gone from the parking queue and the
/// others are back in it. When the close fails, what was not settled returns to the queue with
/// the connection.
pub(super) async fn close(
    conn: Connection,
    channel: lapin::Channel,
    settings: &Settings,
) -> Result<(), AmqpError> {
    bounded(
        "closing the parking queue channel",
        settings.amqp.timeout,
        channel.close(200, ShortString::from("done")),
    )
    .await?;
    let _ = conn.close(200, ShortString::from("done")).await;
    Ok(())
}
