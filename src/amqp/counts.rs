//! The worker's counters by label: the label values of its own metrics, and the two counts
//! more than one place makes (an outcome, a parked message). `ops` registers every series at
//! zero from these same values.

use crate::case::Outcome;
use crate::pipeline::{Disposition, ParkReason, PayerDirectory};

label_values! {
    /// What a verified notification did (`preauth_followups_brought_forward_total`'s `result`).
    pub enum Forwarded {
        BroughtForward = "brought-forward",
        /// Nothing waits for a follow-up of that request (already on its way, or decided).
        NotWaiting = "not-waiting",
        /// Not a request identifier of this worker.
        NotOurs = "not-ours",
        Error = "error",
    }
}

label_values! {
    /// Why a case event waits in a delay tier (`preauth_delayed_total`'s `kind`).
    pub enum DelayKind {
        Retry = "retry",
        FollowUp = "follow-up",
    }
}

/// The `tier` of a pended request waiting in its own queue for a notifying payer.
pub const AWAITING_TIER: &str = "awaiting";

/// The `payer` label of an outcome no configured payer was chosen for (the payer is not
/// configured, or the case did not decode).
pub const NO_PAYER: &str = "none";

/// Counts a confirmed outcome by status and payer, and its reasons by payer, status and code.
pub(crate) fn count_outcome(payers: &PayerDirectory, d: &Disposition, outcome: &Outcome) {
    let status = outcome.status.as_str();
    let payer = d.payer.as_deref();
    metrics::counter!("preauth_outcomes_total", "status" => status, "payer" => payer.unwrap_or(NO_PAYER).to_owned())
        .increment(1);
    let Some(payer) = payer else { return };
    for r in &outcome.reasons {
        let code = payers.reason_label(payer, &r.code);
        metrics::counter!("preauth_payer_reasons_total", "payer" => payer.to_owned(), "status" => status, "code" => code)
            .increment(1);
    }
}

/// Counts a message moved to the parking queue.
pub(crate) fn count_parked(reason: ParkReason) {
    metrics::counter!("preauth_parked_total", "reason" => reason.code()).increment(1);
}

/// Outcomes published since the last summary line, by status. The worker writes one INFO line
/// a minute with these counts instead of a line per case (the full counts, by status and
/// payer, are the `preauth_outcomes_total` metric).
pub(crate) struct Tally {
    counts: [std::sync::atomic::AtomicU64; crate::case::Status::ALL.len()],
    /// Case events acked, and the ack frames that carried them (batched with `multiple`).
    pub(crate) acks: std::sync::Arc<AckCounts>,
}

/// Deliveries acked and ack frames sent, since the last summary.
#[derive(Default)]
pub(crate) struct AckCounts {
    pub(crate) deliveries: std::sync::atomic::AtomicU64,
    pub(crate) frames: std::sync::atomic::AtomicU64,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| std::sync::atomic::AtomicU64::new(0)),
            acks: std::sync::Arc::default(),
        }
    }

    /// Deliveries acked and frames sent since the last call.
    pub(crate) fn take_acks(&self) -> (u64, u64) {
        let take =
            |a: &std::sync::atomic::AtomicU64| a.swap(0, std::sync::atomic::Ordering::Relaxed);
        (take(&self.acks.deliveries), take(&self.acks.frames))
    }

    pub(crate) fn add(&self, status: crate::case::Status) {
        if let Some(i) = crate::case::Status::ALL.iter().position(|s| *s == status) {
            self.counts[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The counts since the last call, as `12 approved, 1 pended`; `None` when there were none.
    pub(crate) fn take(&self) -> Option<(u64, String)> {
        let mut total = 0;
        let mut parts = Vec::new();
        for (status, count) in crate::case::Status::ALL.iter().zip(&self.counts) {
            let n = count.swap(0, std::sync::atomic::Ordering::Relaxed);
            if n > 0 {
                total += n;
                parts.push(format!("{n} {}", status.as_str()));
            }
        }
        (total > 0).then(|| (total, parts.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Status;

    #[test]
    fn the_tally_reports_each_status_counted_since_it_was_last_read_and_then_starts_again() {
        let tally = Tally::new();
        assert_eq!(tally.take(), None);
        tally.add(Status::Approved);
        tally.add(Status::Approved);
        tally.add(Status::Pended);
        assert_eq!(tally.take(), Some((3, "2 approved, 1 pended".to_owned())));
        assert_eq!(tally.take(), None);
    }
}
