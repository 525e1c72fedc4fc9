//! `preauth-worker run`: consume case events, drive each through the pipeline, publish its
//! outcomes with confirms, and only then ack. Waits go to delay tiers, unanswerable messages to
//! the parking queue. A lost connection is re-established by a loop of our own; SIGTERM drains.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions,
    BasicQosOptions, BasicRejectOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties, Event};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument};

use super::acks::Acks;
use super::carry_out::{carry_out, with_hold, Context, Settle};
#[cfg(test)]
pub(crate) use super::counts::count_outcome;
pub(crate) use super::counts::count_parked;
use super::counts::Tally;
pub use super::counts::{DelayKind, Forwarded, AWAITING_TIER, NO_PAYER};
use super::headers::{self, DELIVERY_COUNT};
use super::publisher::{moved_properties, Publisher};
use super::topology::Topology;
use super::trace;
use super::{bounded, broker_urls, redact_url, with_heartbeat, AmqpError, REFUSED_TRIES};
use crate::config::Settings;
use crate::health::Health;
use crate::pipeline::ParkReason;
use crate::pipeline::{Disposition, Next, Pipeline};
use crate::retry::ReconnectWaits;

/// How a session ended.
enum SessionEnd {
    /// Shutdown was asked for and in-flight cases were drained.
    Stopped,
}

/// Everything a delivery handler needs, shared by all of them.
struct Shared {
    /// Which of the configured broker URLs the next session connects to.
    node: std::sync::atomic::AtomicUsize,
    pipeline: Arc<Pipeline>,
    key: crate::security::DeploymentKey,
    topology: Topology,
    settings: Settings,
    health: Arc<Health>,
    fault: FaultPoint,
    /// Outcomes published since the last summary line.
    tally: Tally,
    /// Request identifiers of verified payer notifications (notifications on only).
    nudges: tokio::sync::Mutex<Option<tokio::sync::mpsc::Receiver<String>>>,
    /// Which progress steps have a queue to go to.
    routes: super::progress::StepRoutes,
}

impl Shared {
    /// What carrying out a disposition needs of it.
    fn context(&self) -> Context<'_> {
        Context {
            pipeline: &self.pipeline,
            key: &self.key,
            topology: &self.topology,
            settings: &self.settings,
            health: &self.health,
            routes: &self.routes,
        }
    }
}

/// A fault-injection point for the crash window between a confirmed terminal outcome and the
/// ack of the delivery that produced it. Debug builds only (tests and the chaos suite):
/// `PREAUTH_FAULT_EXIT_AFTER_TERMINAL=N` makes the process exit, without acking, right after
/// the N-th terminal outcome it published was confirmed (and its parked copy, if any).
struct FaultPoint {
    remaining: Option<std::sync::atomic::AtomicU32>,
}

impl FaultPoint {
    const VAR: &'static str = "PREAUTH_FAULT_EXIT_AFTER_TERMINAL";

    fn from_env() -> Self {
        let remaining = if cfg!(debug_assertions) {
            std::env::var(Self::VAR)
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|n| *n > 0)
                .map(std::sync::atomic::AtomicU32::new)
        } else {
            None
        };
        if remaining.is_some() {
            warn!(
                "Fault injection is on ({}): this worker exits before acking a terminal outcome.",
                Self::VAR
            );
        }
        Self { remaining }
    }

    /// Called once the delivery's terminal outcome is confirmed and before its ack.
    fn terminal_outcome_published(&self, case_id: &str, event_id: &str) {
        let Some(remaining) = &self.remaining else {
            return;
        };
        if remaining.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            error!(%case_id, %event_id, "Fault injection: exiting after the terminal outcome was confirmed, before the ack.");
            std::process::exit(FAULT_EXIT_CODE);
        }
    }
}

/// The exit status of a worker stopped by the fault-injection point.
pub const FAULT_EXIT_CODE: i32 = 86;

/// Runs the worker until `shutdown` is cancelled. Returns an error only for problems a
/// reconnect cannot fix: a queue declared with other arguments, or the broker's refusal of the
/// credentials, the virtual host or a permission [`REFUSED_TRIES`] sessions in a row. `nudges` carries the request
/// identifiers of verified payer notifications (see [`crate::notify`]): each brings that
/// request's follow-up forward.
pub async fn run(
    pipeline: Arc<Pipeline>,
    settings: Settings,
    health: Arc<Health>,
    shutdown: CancellationToken,
    key: crate::security::DeploymentKey,
    nudges: Option<tokio::sync::mpsc::Receiver<String>>,
) -> Result<(), AmqpError> {
    let shared = Arc::new(Shared {
        node: std::sync::atomic::AtomicUsize::new(0),
        pipeline,
        key,
        topology: Topology::from_settings(&settings),
        routes: super::progress::StepRoutes::new(settings.outcomes.unbound_progress_pause),
        settings,
        health,
        fault: FaultPoint::from_env(),
        tally: Tally::new(),
        nudges: tokio::sync::Mutex::new(nudges),
    });
    tokio::spawn(summaries(Arc::clone(&shared), shutdown.clone()));
    let url = redact_url(&shared.settings.amqp.url);
    let mut waits = ReconnectWaits::new();
    let mut refusals = 0;
    let mut first = true;
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        if !first {
            shared.health.count_reconnect();
            metrics::counter!("preauth_amqp_reconnects_total").increment(1);
        }
        first = false;
        match session(&shared, &shutdown, &mut waits).await {
            Ok(SessionEnd::Stopped) => return Ok(()),
            Err(e) if e.is_fatal() => {
                shared.health.set_connected(false);
                return Err(e);
            }
            Err(e) => {
                shared.health.set_connected(false);
                shared
                    .node
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // A refusal does not go away by waiting: a few tries (a broker still loading its
                // definitions refuses too), then stop.
                if e.refusal().is_some() {
                    refusals += 1;
                    if refusals >= REFUSED_TRIES {
                        error!(url = %url, attempt = refusals, "{e}. Stopping after {refusals} refusals in a row.");
                        return Err(e);
                    }
                } else {
                    refusals = 0;
                }
                let (failures, wait) = waits.next_wait();
                let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                match &e {
                    _ if e.refusal().is_some() => error!(
                        url = %url,
                        attempt = refusals,
                        retry_in_ms,
                        "{e}. Trying again ({refusals} of {REFUSED_TRIES})."
                    ),
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
    }
}

/// How often the worker logs what it published, instead of a line per case.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// One INFO line per [`SUMMARY_EVERY`] with the outcomes published since the last one, while
/// there were any.
async fn summaries(shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SUMMARY_EVERY) => summarize(&shared),
        }
    }
}

fn summarize(shared: &Shared) {
    if let Some((outcomes, by_status)) = shared.tally.take() {
        let (acked, ack_frames) = shared.tally.take_acks();
        info!(
            outcomes,
            acked,
            ack_frames,
            "Published {by_status} since the last summary (per case: DEBUG; counts: preauth_outcomes_total)."
        );
    }
}

async fn connect(shared: &Shared, name: &str) -> Result<Connection, AmqpError> {
    let urls = broker_urls(&shared.settings.amqp.url);
    let pick = shared.node.load(std::sync::atomic::Ordering::Relaxed) % urls.len().max(1);
    let url = with_heartbeat(urls.get(pick).copied().unwrap_or_default());
    let props =
        ConnectionProperties::default().with_connection_name(lapin::types::LongString::from(name));
    match tokio::time::timeout(
        shared.settings.amqp.timeout,
        Connection::connect(&url, props),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(source)) => Err(AmqpError::Connect {
            url: redact_url(&url),
            source,
        }),
        Err(_) => Err(AmqpError::Timeout {
            what: format!("connecting to {}", redact_url(&url)),
            after: shared.settings.amqp.timeout,
        }),
    }
}

/// One connection's life: connect, declare, consume until the connection fails or shutdown is
/// asked for. Consuming and publishing share the connection, each on its own channel (see
/// docs/performance.md for the measured reason; a broker alarm that blocks the connection holds
/// acks only while outcomes cannot be published, and those acks wait for them anyway).
async fn session(
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    waits: &mut ReconnectWaits,
) -> Result<SessionEnd, AmqpError> {
    let timeout = shared.settings.amqp.timeout;
    let conn = Arc::new(connect(shared, "preauth-worker").await?);

    let mut events = conn.events_listener();
    let health = Arc::clone(&shared.health);
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::ConnectionBlocked(reason) => {
                    warn!(%reason, "Broker blocked publishing (resource alarm).");
                    health.set_blocked(true);
                }
                Event::ConnectionUnblocked => {
                    info!("Broker unblocked publishing.");
                    health.set_blocked(false);
                }
                _ => {}
            }
        }
    });

    let setup = bounded("opening a channel", timeout, conn.create_channel()).await?;
    shared.topology.declare(&setup, timeout).await?;
    let mut publisher = Publisher::open(&conn, timeout).await?;
    let outcomes = &shared.settings.outcomes;
    if outcomes.progress && !outcomes.unbound_progress_pause.is_zero() {
        // Progress steps are probed for a queue bound to them on a channel of their own.
        publisher = publisher.with_probe(&conn).await?;
    }

    let channel = bounded(
        "opening the consuming channel",
        timeout,
        conn.create_channel(),
    )
    .await?;
    bounded(
        "setting prefetch",
        timeout,
        channel.basic_qos(shared.settings.amqp.prefetch, BasicQosOptions::default()),
    )
    .await?;
    let mut consumer = bounded(
        format!("consuming from {}", shared.topology.work_queue),
        timeout,
        channel.basic_consume(
            ShortString::from(shared.topology.work_queue.as_str()),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    let tag = consumer.tag();
    shared.health.set_connected(true);
    shared.health.set_blocked(false);
    shared.health.set_consuming(true);
    waits.reset();
    info!(queue = %shared.topology.work_queue, prefetch = shared.settings.amqp.prefetch, "Consuming case events.");

    // The consuming channel's acks, batched; its delivery tags mean nothing to the next session.
    let acks = Arc::new(Acks::new(timeout, Arc::clone(&shared.tally.acks)));
    let stop_acking = CancellationToken::new();
    let flusher = tokio::spawn({
        let (acks, stop) = (Arc::clone(&acks), stop_acking.clone());
        async move { acks.flusher(stop).await }
    });
    let mut inflight: JoinSet<()> = JoinSet::new();
    // Sessions follow one another, so each holds the notification receiver for its life.
    let mut nudges = shared.nudges.lock().await;
    let end = loop {
        let nudge = async {
            match nudges.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(SessionEnd::Stopped),
            Some(request_identifier) = nudge => {
                let shared = Arc::clone(shared);
                let publisher = publisher.clone();
                let conn = Arc::clone(&conn);
                inflight.spawn(async move { bring_forward(&shared, &conn, &publisher, &request_identifier).await });
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    acks.taken(delivery.delivery_tag);
                    let shared = Arc::clone(shared);
                    let publisher = publisher.clone();
                    let acks = Arc::clone(&acks);
                    inflight.spawn(async move { handle_delivery(&shared, &publisher, &acks, delivery).await });
                }
                Some(Err(source)) => break Err(AmqpError::Broker { what: "consuming".into(), source }),
                None => break Err(AmqpError::Lost("the consumer was cancelled or its connection closed".into())),
            },
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
        }
    };
    shared.health.set_consuming(false);

    if let Ok(SessionEnd::Stopped) = &end {
        info!(
            in_flight = inflight.len(),
            "Shutting down: no new deliveries; finishing in-flight cases."
        );
        let _ = bounded(
            "cancelling the consumer",
            timeout,
            channel.basic_cancel(tag, BasicCancelOptions::default()),
        )
        .await;
        let grace = shared.settings.amqp.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                unfinished = inflight.len(),
                "Grace period over: unfinished cases go back to the queue unacked."
            );
            inflight.abort_all();
        }
        stop_acking.cancel();
        let _ = flusher.await;
        summarize(shared);
        let _ = bounded(
            "closing",
            timeout,
            conn.close(200, ShortString::from("shutdown")),
        )
        .await;
        info!("Stopped.");
    } else {
        // The connection is gone: in-flight deliveries will be redelivered by the broker; their
        // handlers finish on their own and their acks fail harmlessly.
        inflight.detach_all();
        flusher.abort();
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            conn.close(200, ShortString::from("reconnecting")),
        )
        .await;
    }
    end
}

/// A verified notification for a pended request: move its copy from the request's awaiting
/// queue to the work queue now instead of when its wait ends. The follow-up that then runs is
/// the scheduled one, brought forward: same state, same `$inquire`, same outcome id. Nothing
/// waiting (already on its way, decided, or not pended with this worker) is not an error.
async fn bring_forward(
    shared: &Arc<Shared>,
    conn: &Connection,
    publisher: &Publisher,
    request_identifier: &str,
) {
    let count = |result: Forwarded| {
        metrics::counter!("preauth_followups_brought_forward_total", "result" => result.as_str())
            .increment(1)
    };
    let Some(spec) = shared.topology.awaiting_queue(request_identifier) else {
        return count(Forwarded::NotOurs);
    };
    let timeout = shared.settings.amqp.timeout;
    // A channel of its own: getting from a queue the broker does not have closes the channel.
    let channel = match bounded("opening a channel", timeout, conn.create_channel()).await {
        Ok(c) => c,
        Err(e) => {
            warn!(%request_identifier, "Cannot bring the follow-up forward: {e}. It runs when its wait ends.");
            return count(Forwarded::Error);
        }
    };
    let got = bounded(
        format!("getting from {}", spec.name),
        timeout,
        channel.basic_get(
            ShortString::from(spec.name.as_str()),
            BasicGetOptions { no_ack: false },
        ),
    )
    .await;
    match got {
        Ok(Some(message)) => {
            let d = &message.delivery;
            let table = headers::without(d.properties.headers().as_ref(), DELIVERY_COUNT);
            let props = moved_properties(&d.properties, table);
            let work = &shared.topology.work_queue;
            let publish = || publisher.publish("", work, &d.data, props.clone());
            match with_hold(&shared.context(), publisher, publish).await {
                Ok(()) => {
                    let acked = bounded(
                        "acking the awaiting copy",
                        timeout,
                        d.acker.ack(BasicAckOptions::default()),
                    )
                    .await;
                    if let Err(e) = acked {
                        // The copy goes back to its queue: its follow-up runs again when the
                        // wait ends, and asks the payer once more.
                        warn!(%request_identifier, "The awaiting copy was not acked: {e}.");
                    }
                    info!(%request_identifier, "Payer notification: the pended request's follow-up is brought forward.");
                    count(Forwarded::BroughtForward);
                }
                Err(e) => {
                    let _ = bounded(
                        "returning the awaiting copy",
                        timeout,
                        d.acker.nack(BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        }),
                    )
                    .await;
                    warn!(%request_identifier, "Cannot bring the follow-up forward: {e}. It runs when its wait ends.");
                    count(Forwarded::Error);
                }
            }
        }
        Ok(None) => {
            debug!(%request_identifier, "Payer notification: nothing awaits a follow-up for this request.");
            count(Forwarded::NotWaiting);
        }
        Err(e) => {
            // Most often the queue does not exist: the request is not pended here any more.
            debug!(%request_identifier, "Payer notification: no awaiting copy ({e}).");
            count(Forwarded::NotWaiting);
        }
    }
    let _ = tokio::time::timeout(timeout, channel.close(200, ShortString::from("done"))).await;
}

async fn handle_delivery(
    shared: &Arc<Shared>,
    publisher: &Publisher,
    acks: &Acks,
    delivery: lapin::message::Delivery,
) {
    metrics::counter!("preauth_cases_received_total").increment(1);
    let in_flight = metrics::gauge!("preauth_cases_in_flight");
    in_flight.increment(1.0);
    let span = trace::consume_span(&delivery, &shared.topology.work_queue);
    handle_delivery_inner(shared, publisher, acks, delivery)
        .instrument(span)
        .await;
    in_flight.decrement(1.0);
}

async fn handle_delivery_inner(
    shared: &Arc<Shared>,
    publisher: &Publisher,
    acks: &Acks,
    delivery: lapin::message::Delivery,
) {
    let props = &delivery.properties;
    if let Some(ts) = props.timestamp() {
        let now = chrono::Utc::now().timestamp();
        if let Ok(ts) = i64::try_from(*ts) {
            if ts > 0 && ts <= now {
                metrics::histogram!("preauth_message_age_seconds").record((now - ts) as f64);
            }
        }
    }
    let hdrs = props.headers().as_ref();
    let carried = headers::read_carried(hdrs, &delivery.data, &shared.key);
    if carried.rejected {
        metrics::counter!("preauth_state_headers_rejected_total").increment(1);
        debug!("Reserved x-preauth headers without a valid tag were ignored.");
    }
    let routing_key = carried
        .routing_key
        .unwrap_or_else(|| delivery.routing_key.as_str().to_owned());
    // The broker's count only means something on a delivery it flags as a redelivery; on a
    // first delivery the header can only have come from the publisher.
    let deliveries = if delivery.redelivered {
        headers::get_u32(hdrs, DELIVERY_COUNT).unwrap_or(1)
    } else {
        0
    };
    let state = crate::retry::CaseState {
        redeliveries: deliveries,
        ..carried.state
    };

    let mut disposition = if deliveries >= shared.settings.amqp.delivery_limit {
        let detail = format!("delivered {deliveries} times without being settled");
        let reason = ParkReason::DeliveryLimit;
        Disposition::new(
            vec![],
            Next::Park {
                reason,
                detail,
                state: None,
            },
        )
    } else {
        // A panic on one case is contained here: the case is parked with the reason and the
        // worker carries on. (Caught in place rather than in a task of its own, so the body is
        // not copied per message.)
        let handled = std::panic::AssertUnwindSafe(shared.pipeline.handle(
            &delivery.data,
            Some(&routing_key),
            &state,
        ))
        .catch_unwind()
        .await;
        match handled {
            Ok(d) => d,
            Err(_) => {
                error!("Case handler panicked; parking the message.");
                let detail = "the handler panicked on this message".into();
                let reason = ParkReason::HandlerPanic;
                Disposition::new(
                    vec![],
                    Next::Park {
                        reason,
                        detail,
                        state: None,
                    },
                )
            }
        }
    };
    if let Next::Park {
        reason: r @ (ParkReason::DeliveryLimit | ParkReason::HandlerPanic),
        ..
    } = disposition.next
    {
        let at = (shared.pipeline.clock)();
        let parked = crate::pipeline::progress::parked_message(&delivery.data, &state, r, at);
        disposition.progress.extend(parked);
    }

    let settle = carry_out(
        &shared.context(),
        publisher,
        &delivery,
        &routing_key,
        &disposition,
    )
    .await;
    let ids = disposition.ids.clone().unwrap_or_default();
    let span = tracing::Span::current();
    if disposition.ids.is_some() {
        span.record("case_id", ids.0.as_str());
        span.record("event_id", ids.1.as_str());
    }
    span.record(
        "settle",
        match settle {
            Settle::Ack => "ack",
            Settle::Requeue => "requeue",
            Settle::DeadLetter => "dead-letter",
        },
    );
    if matches!(settle, Settle::Ack) && disposition.outcomes.iter().any(|o| o.status.is_terminal())
    {
        shared.fault.terminal_outcome_published(&ids.0, &ids.1);
    }
    let tag = delivery.delivery_tag;
    match settle {
        Settle::Ack => {
            for o in &disposition.outcomes {
                shared.tally.add(o.status);
            }
            debug!(case_id = %ids.0, event_id = %ids.1, "Delivery done; acking.");
            return acks.ack(tag, delivery.acker);
        }
        Settle::Requeue => {
            let _ = bounded(
                "returning the delivery",
                shared.settings.amqp.timeout,
                delivery.acker.nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                }),
            )
            .await;
        }
        Settle::DeadLetter => {
            match bounded(
                "rejecting the delivery",
                shared.settings.amqp.timeout,
                delivery.acker.reject(BasicRejectOptions { requeue: false }),
            )
            .await
            {
                Ok(_) => {
                    count_parked(ParkReason::TooLarge);
                    info!(
                        bytes = delivery.data.len(),
                        "Rejected an oversized message; the broker moves it to the parking queue."
                    );
                }
                Err(e) => warn!(
                    "Could not reject an oversized message ({e}); it will be delivered again."
                ),
            }
        }
    }
    acks.settled(tag);
}
