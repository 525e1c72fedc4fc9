//! Progress events on the bus (`preauth.progress.v1`): published on the outcomes exchange with
//! routing key `progress.<step>`, persistent and publisher-confirmed. No case waits for a queue
//! to receive them. All of a delivery's events are sent together before their confirms are
//! awaited, so they cost one round trip; a step nothing is bound to is found out by a probe
//! (a real event, sent `mandatory` on a channel of its own) and then not sent ([`StepRoutes`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lapin::types::ShortString;
use lapin::BasicProperties;
use tracing::{debug, info};

use super::publisher::{Outgoing, Publisher, Sent, Unroutable};
use super::AmqpError;
use crate::case::{Progress, Step, PROGRESS_SCHEMA_V1};

/// The AMQP properties of a progress event: message_id = progress_id, correlation_id =
/// event_id, type `preauth.progress.v1`, persistent, JSON, stamped with its step's time.
pub(crate) fn properties(p: &Progress) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(ShortString::from(p.progress_id.as_str()))
        .with_correlation_id(ShortString::from(p.event_id.as_str()))
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_type(ShortString::from(PROGRESS_SCHEMA_V1))
        .with_timestamp(u64::try_from(p.at.timestamp()).unwrap_or_default())
        .with_app_id(ShortString::from("preauth-worker"))
}

/// Publishes `events` on `exchange` in order, not mandatory: sends them all, then waits for
/// every confirm. Fails when one is not confirmed (nacked, timed out, the channel gone);
/// publishing them again is harmless (same ids). For one-off events (an operator's replay).
pub(crate) async fn publish(
    publisher: &Publisher,
    exchange: &str,
    events: &[Progress],
) -> Result<(), AmqpError> {
    let mut messages = Vec::with_capacity(events.len());
    for p in events {
        messages.push(message(exchange, p, Unroutable::Drop)?);
    }
    Sent::confirm_all(publisher.send_all(messages).await?)
        .await
        .map(drop)
}

/// A progress event ready to send on `exchange`, with [`properties`].
pub(crate) fn message(
    exchange: &str,
    p: &Progress,
    unroutable: Unroutable,
) -> Result<Outgoing, AmqpError> {
    // Room for a typical progress event up front, as for the outcome.
    let mut body = Vec::with_capacity(640);
    serde_json::to_writer(&mut body, p).map_err(|e| AmqpError::Publish {
        target: exchange.to_owned(),
        reason: format!("progress event does not serialize: {e}"),
    })?;
    Ok(Outgoing {
        exchange: exchange.to_owned(),
        routing_key: p.routing_key(),
        body,
        properties: properties(p),
        unroutable,
    })
}

/// The steps the worker publishes (`replayed` is the `parked replay` command's).
pub(crate) const WORKER_STEPS: [Step; 4] = [
    Step::Received,
    Step::Submitted,
    Step::RetryScheduled,
    Step::Parked,
];

/// Which progress steps have a queue to go to, as the last probe found.
///
/// With nothing bound to `progress.<step>` the broker still reads, routes and confirms every
/// event of that step only to drop it: on a deployment without a ledger, two messages a case
/// that nobody receives, a quarter of the worker's and of the broker's work. So once every
/// `pause` a step is probed: one delivery's events go `mandatory` on a channel of their own
/// (only one delivery probes at a time, so every message returned on that channel is one of
/// its own, known by its routing key), before its outcomes; returned, the step is not sent
/// until the next probe; routed, it is sent for every case, on the delivery's own channel and
/// not mandatory, until a probe finds it unbound. A queue bound to the step receives every
/// event from at most `pause` after its binding. A zero `pause` sends every step always.
///
/// Returns are told apart by their content and on a channel of their own because lapin hands a
/// returned message to whichever confirm completes next, which with confirms arriving out of
/// order (or several at once) can be another message's.
pub(crate) struct StepRoutes {
    pause: Duration,
    origin: Instant,
    /// Per step (in [`Step::ALL`]'s order): true while the last probe found nothing bound.
    unbound: [AtomicBool; Step::ALL.len()],
    /// Per step: when the next probe is due (ms after `origin`).
    next_probe: [AtomicU64; Step::ALL.len()],
    /// Held by the delivery that is probing.
    probing: AtomicBool,
}

/// How one delivery's progress events go out.
pub(crate) struct Plan<'a> {
    /// The events to send, in order (those of unbound steps left out).
    pub(crate) events: Vec<&'a Progress>,
    /// Present when they probe: sent `mandatory` on the probe channel, confirmed before the
    /// outcomes are sent. Held until the probe's answer is recorded.
    pub(crate) probe: Option<ProbeTurn<'a>>,
}

/// The turn of the one delivery probing now; the turn passes on when it is dropped.
pub(crate) struct ProbeTurn<'a> {
    routes: &'a StepRoutes,
}

impl Drop for ProbeTurn<'_> {
    fn drop(&mut self) {
        self.routes.probing.store(false, Ordering::Release);
    }
}

impl ProbeTurn<'_> {
    /// Records what the broker did with the probe's events: `returned` holds the routing keys
    /// of those it returned.
    pub(crate) fn answered(&self, events: &[&Progress], returned: &[String]) {
        for p in events {
            self.routes
                .mark(p.step, returned.contains(&p.routing_key()));
        }
    }
}

impl StepRoutes {
    pub(crate) fn new(pause: Duration) -> Self {
        Self {
            pause,
            origin: Instant::now(),
            unbound: Default::default(),
            next_probe: Default::default(),
            probing: AtomicBool::new(false),
        }
    }

    /// Which of `events` to send and how. `can_probe`: a probe channel is open.
    pub(crate) fn plan<'a>(&'a self, events: &'a [Progress], can_probe: bool) -> Plan<'a> {
        if self.pause.is_zero() || !can_probe {
            return Plan {
                events: events.iter().collect(),
                probe: None,
            };
        }
        let mut probe = None;
        // The steps this delivery probes (bit `slot(step)`).
        let mut probed = 0u8;
        let now = self.now_ms();
        let next = now.saturating_add(millis(self.pause));
        let mut chosen = Vec::with_capacity(events.len());
        for p in events {
            let i = slot(p.step);
            let due = &self.next_probe[i];
            if probed & (1 << i) == 0 && now >= due.load(Ordering::Relaxed) {
                if probe.is_none() && self.take_turn() {
                    probe = Some(ProbeTurn { routes: self });
                }
                if probe.is_some() {
                    due.store(next, Ordering::Relaxed);
                    probed |= 1 << i;
                }
            }
            // A probing delivery sends its probed steps whatever the last probe found.
            if probed & (1 << i) != 0 || !self.unbound[i].load(Ordering::Relaxed) {
                chosen.push(p);
            }
        }
        Plan {
            events: chosen,
            probe,
        }
    }

    fn take_turn(&self) -> bool {
        self.probing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    fn mark(&self, step: Step, unbound: bool) {
        let before = self.unbound[slot(step)].swap(unbound, Ordering::Relaxed);
        if before == unbound {
            debug!(
                step = step.as_str(),
                unbound, "Progress step probed: no change."
            );
            return;
        }
        metrics::gauge!("preauth_progress_step_unbound", "step" => step.as_str()).set(if unbound {
            1.0
        } else {
            0.0
        });
        if unbound {
            info!(
                step = step.as_str(),
                pause_ms = millis(self.pause),
                "Nothing is bound to progress.{}: its events are not sent, but for a probe once a pause.",
                step.as_str()
            );
        } else {
            info!(
                step = step.as_str(),
                "A queue is bound to progress.{}: its events are sent for every case.",
                step.as_str()
            );
        }
    }

    fn now_ms(&self) -> u64 {
        millis(self.origin.elapsed())
    }
}

/// A step's place in the per-step tables (`Step::ALL` lists every step, in declaration order).
fn slot(step: Step) -> usize {
    step as usize
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Step;

    #[test]
    fn a_progress_event_carries_its_ids_in_the_amqp_properties() {
        let p = Progress::new(Step::Received, "C-1", "e-1", chrono::Utc::now(), 0, 0, 0);
        let props = properties(&p);
        let text = |v: &Option<ShortString>| v.as_ref().map(|s| s.as_str().to_owned());
        assert_eq!(text(props.message_id()), Some(p.progress_id.clone()));
        assert_eq!(text(props.correlation_id()), Some("e-1".to_owned()));
        assert_eq!(text(props.kind()), Some("preauth.progress.v1".to_owned()));
        assert_eq!(props.delivery_mode(), &Some(2));
    }

    #[test]
    fn every_step_has_its_own_slot_in_the_route_table() {
        for (i, step) in Step::ALL.into_iter().enumerate() {
            assert_eq!(slot(step), i);
        }
    }

    fn events(steps: &[Step]) -> Vec<Progress> {
        let at = chrono::Utc::now();
        steps
            .iter()
            .enumerate()
            .map(|(n, s)| Progress::new(*s, "C-1", "e-1", at, 0, 0, n as u32))
            .collect()
    }

    fn steps(plan: &Plan<'_>) -> Vec<Step> {
        plan.events.iter().map(|p| p.step).collect()
    }

    #[test]
    fn one_delivery_at_a_time_probes_and_an_unbound_step_is_left_out_until_the_next_probe() {
        let routes = StepRoutes::new(Duration::from_millis(50));
        let both = events(&[Step::Received, Step::Submitted]);
        let first = routes.plan(&both, true);
        assert!(first.probe.is_some());
        assert_eq!(steps(&first), [Step::Received, Step::Submitted]);
        // While the first probes, another delivery sends its events the usual way.
        let second = routes.plan(&both, true);
        assert!(second.probe.is_none());
        assert_eq!(steps(&second), [Step::Received, Step::Submitted]);
        // The broker returned `received` and routed `submitted`.
        let returned = vec![Step::Received.routing_key()];
        first
            .probe
            .as_ref()
            .expect("probe")
            .answered(&first.events, &returned);
        drop(first);
        let third = routes.plan(&both, true);
        assert!(third.probe.is_none(), "neither step is due again yet");
        assert_eq!(steps(&third), [Step::Submitted]);
        std::thread::sleep(Duration::from_millis(70));
        // Both are due: probed again, `received` included whatever the last probe found.
        let fourth = routes.plan(&both, true);
        assert!(fourth.probe.is_some());
        assert_eq!(steps(&fourth), [Step::Received, Step::Submitted]);
        fourth
            .probe
            .as_ref()
            .expect("probe")
            .answered(&fourth.events, &[]);
        drop(fourth);
        let fifth = routes.plan(&both, true);
        assert_eq!(steps(&fifth), [Step::Received, Step::Submitted]);
    }

    #[test]
    fn a_zero_pause_or_no_probe_channel_sends_every_step_without_probing() {
        let both = events(&[Step::Received, Step::Parked]);
        for routes in [
            StepRoutes::new(Duration::ZERO),
            StepRoutes::new(Duration::from_secs(5)),
        ] {
            let can_probe = routes.pause.is_zero();
            let plan = routes.plan(&both, can_probe);
            assert!(plan.probe.is_none());
            assert_eq!(steps(&plan), [Step::Received, Step::Parked]);
        }
    }
}
