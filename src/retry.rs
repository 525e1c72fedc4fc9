//! Retry and follow-up schedules: the short in-process backoff, the delay tiers that replace
//! longer waits, the waits between broker sessions and between held publishes, and the attempt
//! state carried with a case between deliveries. Every retry loop waits by one backon policy,
//! [`jittered`].

use std::time::Duration;

use backon::{Backoff, BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use serde::{Deserialize, Serialize};

/// Where a case event stands between deliveries. Carried in message headers by the worker and
/// in memory by `process`; never in the worker's own memory across deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    /// Payer calls made for this event so far (in-process retries included).
    pub attempts: u32,
    /// Delay tiers used for transient failures so far.
    pub retries: u32,
    /// Follow-ups of a pended request made so far.
    pub followups: u32,
    /// The payer's reference from a pended answer.
    pub reference: Option<String>,
    /// When the first payer call for this event was made (Unix seconds): the payer's
    /// regulatory decision clock runs from it.
    pub first_attempt_at: Option<i64>,
    /// How many times an operator sent this event back from the parking queue
    /// (`parked replay`). Each replay starts a fresh attempt series that ranks after the last.
    #[serde(default)]
    pub replays: u32,
    /// The hashes of the photos and the letter the first submission of this request sent
    /// (`Documents::digest`): a resend must send the same bytes.
    #[serde(default)]
    pub documents: Option<String>,
    /// How many times the broker delivered this very message before (after a worker stopped
    /// without settling it). Read from the broker on each delivery, never carried forward.
    #[serde(default, skip_serializing)]
    pub redeliveries: u32,
}

impl CaseState {
    /// The rank of an outcome published from a delivery in this state: later steps of one
    /// event's life rank higher. See `Outcome::sequence`.
    ///
    /// A replay outranks everything before it; within one attempt series, a delivery made
    /// after more payer calls outranks one made after fewer (calls only ever grow between
    /// deliveries); and a redelivery of the same message outranks the delivery it repeats.
    pub fn sequence(&self) -> u64 {
        u64::from(self.replays.min(MAX_REPLAYS)) * 1_000_000_000
            + u64::from(self.attempts.min(999_999)) * 1_000
            + u64::from(self.redeliveries.min(999))
    }
}

/// A short, stable name for a wait: 500ms, 5s, 30m, 2h, 1d (the delay tiers' metric label and
/// the `retry.tier` of a progress event).
pub fn tier_label(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else {
        let s = d.as_secs();
        if s.is_multiple_of(86_400) {
            format!("{}d", s / 86_400)
        } else if s.is_multiple_of(3600) {
            format!("{}h", s / 3600)
        } else if s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }
}

/// Replays counted in a sequence number (keeps it below 2^53, exact in every JSON reader).
const MAX_REPLAYS: u32 = 9_000_000;

/// A list of waits: the n-th entry is the wait before the (n+1)-th try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    delays: Vec<Duration>,
}

impl Schedule {
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    pub fn len(&self) -> usize {
        self.delays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.delays.is_empty()
    }

    pub fn total(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// The wait after `used` waits have been used, or `None` when the schedule is exhausted.
    ///
    /// A payer's Retry-After picks the tier: the first remaining tier at least that long (or the
    /// longest remaining one), so no retry reaches the payer before it asked.
    pub fn next(&self, used: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let rest = self.delays.get(usize::try_from(used).ok()?..)?;
        let first = *rest.first()?;
        Some(match retry_after {
            Some(wanted) if wanted > first => rest
                .iter()
                .copied()
                .find(|d| *d >= wanted)
                .unwrap_or_else(|| rest.iter().copied().max().unwrap_or(first)),
            _ => first,
        })
    }
}

/// The short in-process backoff tried before a case goes to the delay tiers. Its whole budget
/// stays far below the broker's 30-minute consumer timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProcessRetry {
    /// Payer calls per delivery, the first one included.
    pub max_calls: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A Retry-After longer than this leaves the in-process loop for the delay tiers.
    pub max_retry_after: Duration,
}

impl Default for InProcessRetry {
    fn default() -> Self {
        Self {
            max_calls: 3,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(3),
        }
    }
}

impl InProcessRetry {
    /// No retries in process: every transient failure goes to the delay tiers.
    pub fn none() -> Self {
        Self {
            max_calls: 1,
            ..Self::default()
        }
    }

    /// Jittered exponential waits between the calls of one delivery.
    pub fn waits(&self) -> impl Iterator<Item = Duration> {
        jittered(self.min_delay, self.max_delay)
            .with_max_times(self.max_calls.saturating_sub(1) as usize)
            .build()
    }

    /// The longest the in-process loop can wait in all, jitter included.
    pub fn budget(&self) -> Duration {
        let retries = self.max_calls.saturating_sub(1);
        // Jitter adds at most one more delay's worth to each wait.
        (self.max_delay.max(self.max_retry_after))
            .saturating_mul(retries)
            .saturating_mul(2)
    }
}

/// The policy of every retry loop: steps doubling from `first` up to `cap`, each wait its step
/// plus a random part of at most as much again (so workers that failed together do not retry
/// together). Without a limit on the number of waits: each loop adds its own.
fn jittered(first: Duration, cap: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_factor(2.0)
        .with_min_delay(first)
        .with_max_delay(cap)
        .without_max_times()
        .with_jitter()
}

/// Waits between broker sessions: 0.5-1 s, then doubling up to 15-30 s (never longer than an
/// unjittered 1 s doubling to 30 s), for as long as the broker cannot be reached; started afresh
/// (`reset`) after a session that got as far as consuming.
#[derive(Debug)]
pub(crate) struct ReconnectWaits {
    series: ExponentialBackoff,
    taken: u32,
}

impl Default for ReconnectWaits {
    fn default() -> Self {
        Self::new()
    }
}

impl ReconnectWaits {
    /// The longest step before jitter.
    const CAP: Duration = Duration::from_secs(15);

    pub(crate) fn new() -> Self {
        Self {
            series: jittered(Duration::from_millis(500), Self::CAP).build(),
            taken: 0,
        }
    }

    /// The wait before the next session, with how many failed in a row (1 for the first).
    pub(crate) fn next_wait(&mut self) -> (u32, Duration) {
        self.taken = self.taken.saturating_add(1);
        // The series is endless; the cap is the fallback all the same.
        let wait = self.series.next().unwrap_or(Self::CAP);
        (self.taken, wait)
    }

    /// A good session: the next outage starts from the first wait.
    pub(crate) fn reset(&mut self) {
        *self = Self::new();
    }
}

/// Waits between attempts to publish while a delivery is held: 125-250 ms, then doubling up to
/// 7.5-15 s, until `hold` from now has passed (the attempts' own time counts: a wait that would
/// end past the deadline is not taken).
pub(crate) fn publish_hold_waits(hold: Duration) -> impl Backoff {
    let deadline = tokio::time::Instant::now().checked_add(hold);
    jittered(Duration::from_millis(125), Duration::from_millis(7_500))
        .build()
        .take_while(move |wait| match deadline {
            Some(deadline) => tokio::time::Instant::now()
                .checked_add(*wait)
                .is_some_and(|end| end <= deadline),
            // A hold too long to represent: no deadline.
            None => true,
        })
}

/// How a step of a case waits in process (the payer's in-process retries, a document store's,
/// the simulator's latency): for real by default; `process` with a simulated clock moves its
/// clock forward instead.
#[derive(Clone)]
pub struct Sleeper(std::sync::Arc<dyn Fn(Duration) -> BoxedWait + Send + Sync>);

/// The wait a [`Sleeper`] returns.
pub type BoxedWait = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl Sleeper {
    /// A sleeper that waits however `wait` says.
    pub fn new(wait: impl Fn(Duration) -> BoxedWait + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(wait))
    }

    /// Waits `d` (or what this sleeper makes of it).
    pub fn sleep(&self, d: Duration) -> BoxedWait {
        (self.0)(d)
    }
}

impl Default for Sleeper {
    /// Real time: `tokio::time::sleep`.
    fn default() -> Self {
        Self::new(|d| Box::pin(tokio::time::sleep(d)))
    }
}

impl std::fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sleeper")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: &[u64]) -> Schedule {
        Schedule::new(secs.iter().map(|s| Duration::from_secs(*s)).collect())
    }

    #[test]
    fn schedule_gives_each_wait_in_turn_then_runs_out() {
        let sched = s(&[5, 30, 300]);
        assert_eq!(sched.next(0, None), Some(Duration::from_secs(5)));
        assert_eq!(sched.next(2, None), Some(Duration::from_secs(300)));
        assert_eq!(sched.next(3, None), None);
        assert_eq!(s(&[]).next(0, None), None);
    }

    #[test]
    fn retry_after_picks_the_first_tier_at_least_as_long() {
        let sched = s(&[5, 30, 300, 3600]);
        assert_eq!(
            sched.next(0, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            sched.next(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            sched.next(1, Some(Duration::from_secs(301))),
            Some(Duration::from_secs(3600))
        );
        // Longer than every tier: the longest one.
        assert_eq!(
            sched.next(0, Some(Duration::from_secs(99_999))),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn in_process_waits_are_bounded_by_the_budget() {
        let retry = InProcessRetry::default();
        let waits: Vec<_> = retry.waits().collect();
        assert_eq!(waits.len(), 2);
        assert!(waits.iter().sum::<Duration>() <= retry.budget());
        assert!(retry.budget() < Duration::from_secs(60));
        assert_eq!(InProcessRetry::none().waits().count(), 0);
    }

    #[test]
    fn reconnect_waits_double_from_about_a_second_to_at_most_thirty_and_never_run_out() {
        for _ in 0..20 {
            let mut series = ReconnectWaits::new();
            let (attempts, waits): (Vec<u32>, Vec<Duration>) =
                (0..200).map(|_| series.next_wait()).unzip();
            assert_eq!(attempts, (1..=200).collect::<Vec<u32>>());
            let first = waits[0];
            assert!(
                first >= Duration::from_millis(500) && first <= Duration::from_secs(1),
                "{first:?}"
            );
            // Step n is 0.5 s * 2^n (capped at 15 s) plus at most as much again.
            for (n, wait) in waits.iter().enumerate() {
                let step = Duration::from_millis(500)
                    .saturating_mul(1 << n.min(10))
                    .min(Duration::from_secs(15));
                assert!(*wait >= step && *wait <= step * 2, "wait {n}: {wait:?}");
            }
            assert!(waits.iter().all(|w| *w <= Duration::from_secs(30)));
            assert!(waits[199] >= Duration::from_secs(15));
            series.reset();
            let (attempt, wait) = series.next_wait();
            assert_eq!(attempt, 1);
            assert!(wait <= Duration::from_secs(1), "{wait:?}");
        }
    }

    #[test]
    fn reconnect_waits_are_jittered() {
        let firsts: std::collections::BTreeSet<Duration> = (0..20)
            .map(|_| ReconnectWaits::new().next_wait().1)
            .collect();
        assert!(firsts.len() > 1, "the same first wait 20 times: {firsts:?}");
    }

    #[test]
    fn publish_hold_waits_end_when_the_hold_is_spent() {
        assert_eq!(publish_hold_waits(Duration::ZERO).count(), 0);
        assert_eq!(
            publish_hold_waits(Duration::from_millis(100)).count(),
            0,
            "the first wait (at least 125 ms) would end past the deadline"
        );
        let hold = Duration::from_millis(900);
        let started = std::time::Instant::now();
        let mut waited = Vec::new();
        for wait in publish_hold_waits(hold) {
            assert!(wait <= Duration::from_secs(15), "{wait:?}");
            std::thread::sleep(wait);
            waited.push(wait);
        }
        assert!(!waited.is_empty());
        assert!(
            waited.iter().sum::<Duration>() <= hold,
            "waited {waited:?} in a hold of {hold:?}"
        );
        assert!(started.elapsed() >= waited.iter().sum::<Duration>());
        // An unbounded hold keeps going.
        assert_eq!(publish_hold_waits(Duration::MAX).take(50).count(), 50);
    }
}
