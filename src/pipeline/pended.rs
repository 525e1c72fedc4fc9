//! How long a pended request waits before its next follow-up, and where: the policy of
//! [`super::Pipeline::decide`]'s pended branch.
//!
//! A payer whose PAS subscription is active notifies the worker when its answer changes, and the
//! worker does not poll (PAS: the client SHOULD NOT `$inquire` while waiting): the request waits
//! in its awaiting queue for the notification, and is asked about unprompted only after the
//! subscription's `safety_inquiry_after`, shortened so the wait ends at the request's regulatory
//! deadline, at most `safety_inquiries` follow-ups in all (the configuration holds
//! `safety_inquiry_after` within the longest wait an awaiting queue allows). A payer without one (or whose
//! subscription is not active, with fallback `poll`) is polled on `followup.pended`, bounded by
//! its length.

use std::time::Duration;

use crate::payer::PendedFollowUp;
use crate::retry::Schedule;

/// The wait before the next follow-up of a request pended `followups` times before, or `None`
/// when no follow-up is left. `time_left` is what remains of the regulatory clock.
pub(crate) fn next_follow_up(
    mode: PendedFollowUp,
    polling: &Schedule,
    followups: u32,
    time_left: Duration,
) -> Option<Duration> {
    match mode {
        PendedFollowUp::Poll => polling.next(followups, None),
        PendedFollowUp::AwaitNotification {
            safety_after,
            max_followups,
        } => (followups < max_followups).then(|| {
            // One second past the deadline: the inquiry then finds the clock run out.
            safety_after
                .min(time_left + Duration::from_secs(1))
                .max(Duration::from_secs(1))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn subscribed() -> PendedFollowUp {
        PendedFollowUp::AwaitNotification {
            safety_after: 72 * HOUR,
            max_followups: 2,
        }
    }

    #[test]
    fn a_payer_without_a_subscription_is_polled_on_the_followup_schedule_and_stops() {
        let polling = Schedule::new(vec![HOUR, 4 * HOUR]);
        let week = 168 * HOUR;
        assert_eq!(
            next_follow_up(PendedFollowUp::Poll, &polling, 0, week),
            Some(HOUR)
        );
        assert_eq!(
            next_follow_up(PendedFollowUp::Poll, &polling, 1, week),
            Some(4 * HOUR)
        );
        assert_eq!(
            next_follow_up(PendedFollowUp::Poll, &polling, 2, week),
            None
        );
    }

    #[test]
    fn a_subscribed_payer_is_asked_only_by_the_bounded_safety_net() {
        let polling = Schedule::new(vec![HOUR; 12]);
        let week = 168 * HOUR;
        assert_eq!(
            next_follow_up(subscribed(), &polling, 0, week),
            Some(72 * HOUR)
        );
        assert_eq!(
            next_follow_up(subscribed(), &polling, 1, week),
            Some(72 * HOUR)
        );
        assert_eq!(next_follow_up(subscribed(), &polling, 2, week), None);
    }

    #[test]
    fn the_safety_net_wait_ends_at_the_regulatory_deadline() {
        let polling = Schedule::new(vec![HOUR]);
        assert_eq!(
            next_follow_up(subscribed(), &polling, 0, 10 * HOUR),
            Some(10 * HOUR + Duration::from_secs(1))
        );
        assert_eq!(
            next_follow_up(subscribed(), &polling, 0, Duration::ZERO),
            Some(Duration::from_secs(1))
        );
    }
}
