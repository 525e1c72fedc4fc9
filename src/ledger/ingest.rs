//! The ledger's consumer: its own quorum queue (`ledger.queue`) bound to the outcomes exchange
//! with `outcome.#` and `progress.#`; deliveries collected into batches of up to
//! `ledger.batch_size` (or what `ledger.batch_wait` brings after the first), written in one
//! transaction, and acked (`multiple`, up to the batch's last tag) only after the commit. A
//! crash anywhere before the ack means redelivery, which the write path makes harmless.
//!
//! A message that is neither an outcome nor a progress event (or that the database refuses as
//! data) is rejected without requeue and dead-lettered to `<ledger.queue>.dead`, unwritten: the
//! worker publishes these events, so such a message is not the ledger's to fix, and it is kept
//! for whoever is. While the database cannot be reached the batch is held and retried with
//! backoff (the process reports not ready); after [`HOLD`] it goes back to the queue.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions, ExchangeDeclareOptions, QueueBindOptions,
};
use lapin::types::{FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::message::{self, Message};
use super::{metrics, store};
use super::{LedgerError, Readiness};
use crate::amqp::topology::{QueueSpec, Topology, LEDGER_BINDINGS};
use crate::amqp::{bounded, broker_urls, redact_url, with_heartbeat, AmqpError, REFUSED_TRIES};
use crate::config::Settings;
use crate::retry::ReconnectWaits;

/// How long a batch is held while the database cannot take it, before it goes back to the
/// queue (well inside the broker's 30-minute consumer timeout).
pub const HOLD: Duration = Duration::from_secs(10 * 60);

/// The binding keys of the ledger's queue on the outcomes exchange.
pub const BINDINGS: [&str; 2] = LEDGER_BINDINGS;

/// The ledger's queue and its dead-letter queue (specified in [`crate::amqp::topology`], so
/// that the broker definitions document lists them as the ledger declares them).
pub fn queues(settings: &Settings) -> [QueueSpec; 2] {
    Topology::from_settings(settings).ledger_queues()
}

/// `<ledger.queue>.dead`.
pub fn dead_letter_queue(settings: &Settings) -> String {
    Topology::from_settings(settings).ledger_dead_letter_queue()
}

/// Consumes until `shutdown`, reconnecting to the broker as the worker does (the next node of
/// `amqp.url` after a failed session, jittered waits). Errors only for what a reconnect cannot
/// fix: a queue declared with other arguments, or the broker's refusal [`REFUSED_TRIES`]
/// sessions in a row.
pub async fn run(
    settings: &Settings,
    pool: PgPool,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) -> Result<(), LedgerError> {
    let url = redact_url(&settings.amqp.url);
    let mut waits = ReconnectWaits::new();
    let mut refusals = 0;
    let mut node = 0usize;
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let ended = session(settings, node, &pool, &readiness, &shutdown, &mut waits).await;
        readiness.set_consuming(false);
        let e = match ended {
            Ok(()) => return Ok(()),
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => e,
        };
        node = node.wrapping_add(1);
        if e.refusal().is_some() {
            refusals += 1;
            if refusals >= REFUSED_TRIES {
                error!(url = %url, attempt = refusals, "{e}. Stopping after {refusals} refusals in a row.");
                return Err(e.into());
            }
        } else {
            refusals = 0;
        }
        let (failures, wait) = waits.next_wait();
        let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        match &e {
            AmqpError::Connect { .. } | AmqpError::Timeout { .. } => error!(
                url = %url,
                attempt = failures,
                retry_in_ms,
                "Cannot reach RabbitMQ: {e}. Is the broker running and the URL right (amqp.url, PREAUTH__AMQP__URL)? Retrying."
            ),
            _ => {
                warn!(url = %url, attempt = failures, retry_in_ms, "Broker connection lost: {e}. Reconnecting.")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn connect(settings: &Settings, node: usize) -> Result<Connection, AmqpError> {
    let urls = broker_urls(&settings.amqp.url);
    let url = with_heartbeat(
        urls.get(node % urls.len().max(1))
            .copied()
            .unwrap_or_default(),
    );
    let props = ConnectionProperties::default()
        .with_connection_name(LongString::from("preauth-worker ledger"));
    match tokio::time::timeout(settings.amqp.timeout, Connection::connect(&url, props)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(source)) => Err(AmqpError::Connect {
            url: redact_url(&url),
            source,
        }),
        Err(_) => Err(AmqpError::Timeout {
            what: format!("connecting to {}", redact_url(&url)),
            after: settings.amqp.timeout,
        }),
    }
}

/// Declares the outcomes exchange (as the worker does: durable topic, so the ledger may start
/// first), the ledger's queues and the two bindings.
pub async fn declare(channel: &Channel, settings: &Settings) -> Result<(), AmqpError> {
    let timeout = settings.amqp.timeout;
    let exchange = settings.topology.outcomes_exchange.as_str();
    bounded(
        format!("declaring exchange {exchange}"),
        timeout,
        channel.exchange_declare(
            ShortString::from(exchange),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    )
    .await?;
    for q in queues(settings) {
        Topology::declare_queue(channel, &q, timeout).await?;
    }
    for key in BINDINGS {
        bounded(
            format!("binding {} to {exchange} ({key})", settings.ledger.queue),
            timeout,
            channel.queue_bind(
                ShortString::from(settings.ledger.queue.as_str()),
                ShortString::from(exchange),
                ShortString::from(key),
                QueueBindOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
    }
    Ok(())
}

/// How a batch ended.
enum Settled {
    /// Written and acked (or dead-lettered).
    Done,
    /// Shutdown came while the database was down: left unacked, back to the queue on close.
    Stopped,
}

async fn session(
    settings: &Settings,
    node: usize,
    pool: &PgPool,
    readiness: &Arc<Readiness>,
    shutdown: &CancellationToken,
    waits: &mut ReconnectWaits,
) -> Result<(), AmqpError> {
    let timeout = settings.amqp.timeout;
    let conn = connect(settings, node).await?;
    let channel = bounded("opening a channel", timeout, conn.create_channel()).await?;
    declare(&channel, settings).await?;
    bounded(
        "setting prefetch",
        timeout,
        channel.basic_qos(settings.ledger.prefetch, BasicQosOptions::default()),
    )
    .await?;
    let queue = settings.ledger.queue.as_str();
    let mut consumer = bounded(
        format!("consuming from {queue}"),
        timeout,
        channel.basic_consume(
            ShortString::from(queue),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    let tag = consumer.tag();
    readiness.set_consuming(true);
    waits.reset();
    info!(queue = %queue, batch_size = settings.ledger.batch_size, prefetch = settings.ledger.prefetch, "Ledger consuming outcome and progress events.");

    let (size, wait) = (settings.ledger.batch_size, settings.ledger.batch_wait);
    let mut lost = None;
    let mut stopping = false;
    let mut writing: Option<tokio::task::JoinHandle<Result<Settled, AmqpError>>> = None;
    while !stopping && lost.is_none() {
        // The first delivery of a batch: wait as long as it takes.
        let first = tokio::select! {
            _ = shutdown.cancelled() => break,
            next = consumer.next() => match next {
                Some(Ok(d)) => d,
                Some(Err(source)) => { lost = Some(AmqpError::Broker { what: "consuming".into(), source }); break }
                None => { lost = Some(AmqpError::Lost("the consumer was cancelled or its connection closed".into())); break }
            },
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + wait;
        while batch.len() < size {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => { stopping = true; break }
                next = consumer.next() => match next {
                    Some(Ok(d)) => batch.push(d),
                    Some(Err(source)) => { lost = Some(AmqpError::Broker { what: "consuming".into(), source }); break }
                    None => { lost = Some(AmqpError::Lost("the consumer was cancelled or its connection closed".into())); break }
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if lost.is_some() {
            // Nothing can be acked on a lost channel: the broker redelivers the batch.
            break;
        }
        // Parsed here, while the previous batch is written; written once that one is settled
        // (one batch in the database at a time, so acks stay in delivery order).
        let parsed: Vec<(Delivery, Result<Message, message::Unreadable>)> = batch
            .into_iter()
            .map(|d| {
                let m = message::parse(&d.data);
                (d, m)
            })
            .collect();
        if let Some(previous) = writing.take() {
            if let Settled::Stopped = joined(previous).await? {
                // The previous batch is still unacked (shutdown came while the database was
                // failing). Nothing after it may be written: its acks are `multiple`, and
                // would settle the unwritten batch with it. Both go back to the queue when the
                // channel closes.
                drop(parsed);
                break;
            }
        }
        writing = Some(tokio::spawn(settle(
            pool.clone(),
            Arc::clone(readiness),
            shutdown.clone(),
            parsed,
            timeout,
        )));
    }
    if let Some(previous) = writing.take() {
        let settled = joined(previous).await;
        if lost.is_none() {
            settled?;
        }
    }
    readiness.set_consuming(false);
    if let Some(e) = lost {
        return Err(e);
    }
    info!("Ledger stopping: the batch in hand is written; nothing more is taken.");
    let _ = bounded(
        "cancelling the consumer",
        timeout,
        channel.basic_cancel(tag, BasicCancelOptions::default()),
    )
    .await;
    // Deliveries received but not in a batch go back to the queue when the channel closes.
    let _ = bounded(
        "closing",
        timeout,
        conn.close(200, ShortString::from("shutdown")),
    )
    .await;
    Ok(())
}

/// A sanitized message id for logs: the AMQP `message_id` when it looks like an id.
fn loggable_id(d: &Delivery) -> String {
    d.properties
        .message_id()
        .as_ref()
        .map(|s| s.as_str())
        .filter(|s| {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .unwrap_or("-")
        .to_owned()
}

/// The end of a batch's task.
async fn joined(
    task: tokio::task::JoinHandle<Result<Settled, AmqpError>>,
) -> Result<Settled, AmqpError> {
    task.await
        .map_err(|e| AmqpError::Lost(format!("a batch's task ended abnormally: {e}")))?
}

/// Writes and settles one parsed batch.
async fn settle(
    pool: PgPool,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
    batch: Vec<(Delivery, Result<Message, message::Unreadable>)>,
    timeout: Duration,
) -> Result<Settled, AmqpError> {
    let (pool, readiness, shutdown) = (&pool, &*readiness, &shutdown);
    let mut good: Vec<(Delivery, Message)> = Vec::with_capacity(batch.len());
    for (d, parsed) in batch {
        match parsed {
            Ok(m) => good.push((d, m)),
            Err(why) => {
                warn!(
                    message_id = %loggable_id(&d),
                    routing_key = %d.routing_key.as_str(),
                    reason = %why,
                    "Not an outcome or progress event: dead-lettered, not written."
                );
                dead_letter(&d, timeout).await?;
                metrics::dead_lettered(why.code());
            }
        }
    }
    if good.is_empty() {
        return Ok(Settled::Done);
    }
    let (good, messages): (Vec<Delivery>, Vec<Message>) = good.into_iter().unzip();
    match write_held(pool, readiness, shutdown, &messages).await {
        Held::Written(w) => {
            debug!(
                messages = messages.len(),
                inserted = w.inserted,
                case_events = w.case_events,
                "Batch written."
            );
            ack_up_to(good.iter(), timeout).await?;
            Ok(Settled::Done)
        }
        Held::Stopped => Ok(Settled::Stopped),
        Held::GaveUp => {
            requeue(good.iter(), timeout).await?;
            Ok(Settled::Done)
        }
        Held::Data(e) => {
            warn!(messages = messages.len(), code = ?db_code(&e), "The database refused a batch as data: writing its messages one by one.");
            for (d, m) in good.iter().zip(&messages) {
                match write_held(pool, readiness, shutdown, std::slice::from_ref(m)).await {
                    Held::Written(_) => ack_up_to(std::iter::once(d), timeout).await?,
                    Held::Data(e) => {
                        warn!(message_id = %m.message_id, event_id = %m.event_id, code = ?db_code(&e), "The database refused this message as data: dead-lettered, not written.");
                        dead_letter(d, timeout).await?;
                        metrics::dead_lettered(metrics::DATABASE_REFUSED);
                    }
                    Held::Stopped => return Ok(Settled::Stopped),
                    Held::GaveUp => {
                        requeue(std::iter::once(d), timeout).await?;
                    }
                }
            }
            Ok(Settled::Done)
        }
    }
}

fn db_code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

enum Held {
    Written(store::Written),
    /// The database refused the data itself.
    Data(sqlx::Error),
    /// The database stayed unreachable for [`HOLD`].
    GaveUp,
    Stopped,
}

/// Writes, retrying with jittered backoff (backon, through [`ReconnectWaits`]) while the
/// database cannot take it, marking the process not ready meanwhile.
async fn write_held(
    pool: &PgPool,
    readiness: &Readiness,
    shutdown: &CancellationToken,
    messages: &[Message],
) -> Held {
    let started = tokio::time::Instant::now();
    let mut waits = ReconnectWaits::new();
    loop {
        let attempt = std::time::Instant::now();
        match store::write(pool, messages).await {
            Ok(w) => {
                metrics::committed(messages.len(), &w, attempt.elapsed());
                readiness.set_database(true);
                return Held::Written(w);
            }
            Err(e) if store::is_data_error(&e) => {
                metrics::failed();
                readiness.set_database(true);
                return Held::Data(e);
            }
            Err(e) => {
                metrics::failed();
                readiness.set_database(false);
                let (attempt, wait) = waits.next_wait();
                if started.elapsed() + wait > HOLD {
                    error!(messages = messages.len(), "The ledger database stayed unavailable: the batch goes back to the queue. {e}");
                    return Held::GaveUp;
                }
                let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                error!(
                    attempt,
                    retry_in_ms,
                    messages = messages.len(),
                    "Cannot write to the ledger database: {e}. Holding the batch and retrying."
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return Held::Stopped,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Acks every delivery of `settled` (one `multiple` ack up to the highest tag; the others of
/// the channel below it are already settled or in this set).
async fn ack_up_to<'a>(
    settled: impl Iterator<Item = &'a Delivery>,
    timeout: Duration,
) -> Result<(), AmqpError> {
    let Some(last) = settled.max_by_key(|d| d.delivery_tag) else {
        return Ok(());
    };
    bounded(
        "acknowledging a batch",
        timeout,
        last.acker.ack(BasicAckOptions { multiple: true }),
    )
    .await?;
    Ok(())
}

async fn requeue<'a>(
    deliveries: impl Iterator<Item = &'a Delivery>,
    timeout: Duration,
) -> Result<(), AmqpError> {
    let Some(last) = deliveries.max_by_key(|d| d.delivery_tag) else {
        return Ok(());
    };
    bounded(
        "returning a batch to the queue",
        timeout,
        last.acker.nack(BasicNackOptions {
            multiple: true,
            requeue: true,
        }),
    )
    .await?;
    Ok(())
}

async fn dead_letter(d: &Delivery, timeout: Duration) -> Result<(), AmqpError> {
    bounded(
        "dead-lettering a message",
        timeout,
        d.acker.reject(BasicRejectOptions { requeue: false }),
    )
    .await?;
    Ok(())
}
