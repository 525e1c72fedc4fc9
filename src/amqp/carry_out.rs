//! Carrying out a case's disposition: publish its progress events and outcomes with confirms,
//! then move the case event where it must wait or be parked. Nothing here acks: the caller
//! settles the delivery as [`Settle`] says.

use backon::Retryable;
use lapin::types::ShortString;
use tracing::{debug, error, info, warn, Instrument};

use super::counts::{count_outcome, count_parked, DelayKind, AWAITING_TIER};
use super::headers::{self, DELIVERY_COUNT};
use super::publisher::{moved_properties, Outgoing, Publisher, Sent, Unroutable};
use super::trace;
use super::AmqpError;
use crate::pipeline::{Disposition, Next, ParkReason};

/// What carrying out a disposition reads: the worker's shared state, lent by the worker.
pub(super) struct Context<'a> {
    pub(super) pipeline: &'a crate::pipeline::Pipeline,
    pub(super) key: &'a crate::security::DeploymentKey,
    pub(super) topology: &'a super::topology::Topology,
    pub(super) settings: &'a crate::config::Settings,
    pub(super) health: &'a crate::health::Health,
    /// Which progress steps have a queue to go to.
    pub(super) routes: &'a super::progress::StepRoutes,
}

/// What to do with the delivery once its disposition is carried out.
pub(super) enum Settle {
    Ack,
    /// Not acked: back to the queue (the broker redelivers it).
    Requeue,
    /// Rejected without requeue: the work queue dead-letters it to the parking queue, so the
    /// worker never sends the body back through itself (oversized messages).
    DeadLetter,
}

/// Publishes the outcomes, then moves the message if it must wait or be parked. Every publish
/// is confirmed; if one cannot be, the delivery is held a while and then returned, never acked.
pub(super) async fn carry_out(
    shared: &Context<'_>,
    publisher: &Publisher,
    delivery: &lapin::message::Delivery,
    routing_key: &str,
    d: &Disposition,
) -> Settle {
    let (case_id, event_id) = d.ids.clone().unwrap_or_default();
    let outcomes_exchange = &shared.topology.outcomes_exchange;
    // The progress events and the outcomes go out together and their confirms are awaited
    // together: one round trip to the broker, in order on the channel. If one is not confirmed
    // all are sent again (same ids) or the delivery goes back to the queue; the case event only
    // moves on once every one of them is confirmed.
    // A step nothing is bound to is not sent at all, but for a probe once a pause (`StepRoutes`).
    let plan = if shared.settings.outcomes.progress {
        shared.routes.plan(&d.progress, publisher.has_probe())
    } else {
        shared.routes.plan(&[], false)
    };
    let progress = &plan.events;
    if !progress.is_empty() || !d.outcomes.is_empty() {
        let spans: Vec<tracing::Span> = d
            .outcomes
            .iter()
            .map(|outcome| {
                let span = trace::publish_span(outcomes_exchange, &outcome.status.routing_key());
                span.record("outcome_id", outcome.outcome_id.as_str());
                span.record("outcome_status", outcome.status.as_str());
                span
            })
            .collect();
        let publish = || async {
            let mut messages = Vec::with_capacity(progress.len() + d.outcomes.len());
            // The probe channel is looked up only for a probe, not on every delivery.
            match (
                &plan.probe,
                plan.probe.as_ref().and_then(|_| publisher.probe()),
            ) {
                // A probe: the events go mandatory on the probe channel and are confirmed
                // before the outcomes are sent, so they still arrive first.
                (Some(turn), Some(probe)) => {
                    let mut probes = Vec::with_capacity(progress.len());
                    for p in progress {
                        let m = super::progress::message(outcomes_exchange, p, Unroutable::Report);
                        probes.push(m?);
                    }
                    let returned = Sent::confirm_all(probe.send_all(probes).await?).await?;
                    turn.answered(progress, &returned);
                }
                _ => {
                    for p in progress {
                        let m = super::progress::message(outcomes_exchange, p, Unroutable::Drop);
                        messages.push(m?);
                    }
                }
            }
            for (outcome, span) in d.outcomes.iter().zip(&spans) {
                // Entered while the message is made, so it carries this span's trace context.
                let _entered = span.enter();
                messages.push(Outgoing::outcome(outcomes_exchange, outcome)?);
            }
            Sent::confirm_all(publisher.send_all(messages).await?)
                .await
                .map(drop)
        };
        if let Err(e) = with_hold(shared, publisher, publish).await {
            for span in &spans {
                span.record("otel.status_code", "error");
            }
            error!(%case_id, %event_id, outcomes = d.outcomes.len(), progress = progress.len(), "Outcomes could not be published: {e}. The case event is not acked.");
            return Settle::Requeue;
        }
        for outcome in &d.outcomes {
            count_outcome(&shared.pipeline.payers, d, outcome);
            debug!(%case_id, %event_id, outcome_id = %outcome.outcome_id, status = outcome.status.as_str(), "Published case outcome.");
        }
    }
    // The copy is a new message: the broker's count of this one's deliveries does not carry over.
    let mut table = headers::without(delivery.properties.headers().as_ref(), DELIVERY_COUNT);
    let key = &shared.key;
    let body = &delivery.data;
    let mut expiration = None;
    let (queue, what, counted): (String, &str, Box<dyn Fn() + Send>) = match &d.next {
        Next::Ack => return Settle::Ack,
        Next::FollowUp {
            after,
            state,
            awaiting: Some(request_identifier),
        } => {
            headers::write_state(&mut table, state, routing_key, body, key);
            let Some(spec) = shared.topology.awaiting_queue(request_identifier) else {
                error!(%case_id, %event_id, "Not a request identifier of this worker; returning the delivery.");
                return Settle::Requeue;
            };
            let declare = || publisher.declare(&spec);
            if let Err(e) = with_hold(shared, publisher, declare).await {
                error!(%case_id, %event_id, queue = %spec.name, "Could not declare the request's awaiting queue: {e}. It is not acked.");
                return Settle::Requeue;
            }
            expiration = Some(*after);
            (
                spec.name,
                "request's awaiting queue",
                Box::new(|| {
                    metrics::counter!("preauth_delayed_total", "kind" => DelayKind::FollowUp.as_str(), "tier" => AWAITING_TIER).increment(1)
                }),
            )
        }
        Next::Retry { after, state } | Next::FollowUp { after, state, .. } => {
            headers::write_state(&mut table, state, routing_key, body, key);
            let kind = if matches!(d.next, Next::Retry { .. }) {
                DelayKind::Retry
            } else {
                DelayKind::FollowUp
            };
            let tier = crate::amqp::topology::tier_label(*after);
            match shared.topology.tier_queue(*after) {
                Some(q) => (
                    q.to_owned(),
                    "delay tier",
                    Box::new(move || {
                        metrics::counter!("preauth_delayed_total", "kind" => kind.as_str(), "tier" => tier.clone()).increment(1)
                    }),
                ),
                None => {
                    error!(%case_id, %event_id, wait_s = after.as_secs(), "No delay tier for this wait; returning the delivery.");
                    return Settle::Requeue;
                }
            }
        }
        // Too large to be worth a copy: the broker moves it itself (`parked list` names the
        // reason from the size and the broker's `x-death` record).
        Next::Park {
            reason: ParkReason::TooLarge,
            ..
        } => return Settle::DeadLetter,
        Next::Park {
            reason,
            detail,
            state,
        } => {
            match state {
                Some(state) => headers::write_state(&mut table, state, routing_key, body, key),
                None => headers::put_str(&mut table, headers::ROUTING_KEY, routing_key),
            }
            headers::put_str(&mut table, headers::REASON, reason.code());
            headers::put_str(&mut table, headers::DETAIL, detail);
            headers::put_str(
                &mut table,
                headers::PARKED_AT,
                &chrono::Utc::now().to_rfc3339(),
            );
            let reason = *reason;
            (
                shared.topology.parking_queue.clone(),
                "parking queue",
                Box::new(move || count_parked(reason)),
            )
        }
    };
    // Body untouched; properties kept; the wait or the reason in headers, and the trace
    // context of this move (when spans are exported) for the delivery it leads to.
    let span = trace::publish_span("", &queue);
    trace::inject(&span, &mut table);
    let mut props = moved_properties(&delivery.properties, table);
    if let Some(after) = expiration {
        props = props.with_expiration(ShortString::from(after.as_millis().max(1).to_string()));
    }
    let publish = || publisher.publish("", &queue, &delivery.data, props.clone());
    let moved = with_hold(shared, publisher, publish)
        .instrument(span.clone())
        .await;
    if moved.is_err() {
        span.record("otel.status_code", "error");
    }
    match moved {
        Ok(()) => {
            counted();
            info!(%case_id, %event_id, %queue, "Moved the case event to the {what}.");
            Settle::Ack
        }
        Err(e) => {
            error!(%case_id, %event_id, %queue, "Could not move the case event: {e}. It is not acked.");
            Settle::Requeue
        }
    }
}

/// Retries a publish with backoff for up to `amqp.publish_hold`, marking the worker not ready
/// while it fails. A dead publishing connection ends the wait at once: the delivery's own
/// channel is gone with it, so the broker redelivers the case to the next session.
pub(super) async fn with_hold<F, Fut>(
    shared: &Context<'_>,
    publisher: &Publisher,
    publish: F,
) -> Result<(), AmqpError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), AmqpError>>,
{
    let result = publish
        .retry(crate::retry::publish_hold_waits(
            shared.settings.amqp.publish_hold,
        ))
        .sleep(tokio::time::sleep)
        // A publisher that cannot be used any more (its connection is gone) is not retried: the
        // delivery goes back to the queue with the session.
        .when(|_| publisher.usable())
        .notify(|e, wait| {
            shared.health.set_publish_failing(true);
            warn!(
                retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "Publish failed: {e}. Holding the delivery and retrying."
            );
        })
        .await;
    shared.health.set_publish_failing(result.is_err());
    result
}
