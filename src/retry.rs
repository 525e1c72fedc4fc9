//! Retry and follow-up schedules: the short in-process backoff, the delay tiers that replace
//! longer waits, and the attempt state carried with a case between deliveries.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
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

    /// Exponential waits with full jitter between the calls of one delivery.
    pub fn waits(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_calls.saturating_sub(1) as usize)
            .with_jitter()
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
}
