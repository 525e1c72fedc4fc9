//! Acks of the consuming channel, batched with `multiple` where the order allows.
//!
//! Every delivery is tracked from the moment it is taken until it is settled. A delivery whose
//! outcomes are confirmed is handed over here instead of being acked on its own; the flusher
//! then acks, in one `basic.ack multiple`, every finished delivery below the oldest one still
//! being worked on. A finished delivery above it (a later case finished first) is held a few
//! milliseconds for that one to finish too, then acked on its own: one slow case never holds
//! the others' acks, and so never eats the prefetch window. Requeues and rejections stay
//! individual and are only recorded here, so a later `multiple` never covers them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::options::BasicAckOptions;
use lapin::Acker;
use tokio::sync::Notify;
use tracing::warn;

use super::bounded;
use super::counts::AckCounts;

/// How long a finished delivery waits for the older ones before it is acked on its own. At 1 ms
/// 20,000 deliveries took 11,569 frames on the benchmark; at 10 ms, 5,190 (docs/performance.md).
const HOLD: Duration = Duration::from_millis(10);

/// The deliveries of one consuming channel that are not acked yet (`A`: what acks one).
struct Book<A> {
    /// Taken and not finished.
    running: BTreeSet<u64>,
    /// Finished, outcomes confirmed, waiting for their ack: the acker and when it finished.
    done: BTreeMap<u64, (A, Instant)>,
}

impl<A> Default for Book<A> {
    fn default() -> Self {
        Self {
            running: BTreeSet::new(),
            done: BTreeMap::new(),
        }
    }
}

/// One frame to send: ack `acker`'s delivery, and with `multiple` every unacked one below it.
struct Frame<A> {
    acker: A,
    multiple: bool,
    deliveries: u64,
}

impl<A> Book<A> {
    /// What can be acked now: every finished delivery below the oldest running one in one
    /// frame; those above it once they have waited [`HOLD`] (or all of them when `all`).
    fn take(&mut self, now: Instant, all: bool) -> Vec<Frame<A>> {
        let oldest_running = self.running.first().copied().unwrap_or(u64::MAX);
        let mut frames = Vec::new();
        let below: Vec<u64> = self
            .done
            .range(..oldest_running)
            .map(|(tag, _)| *tag)
            .collect();
        if let Some(last) = below.last().copied() {
            let mut acker = None;
            for tag in &below {
                if let Some((a, _)) = self.done.remove(tag) {
                    if *tag == last {
                        acker = Some(a);
                    }
                }
            }
            if let Some(acker) = acker {
                frames.push(Frame {
                    acker,
                    multiple: below.len() > 1,
                    deliveries: below.len() as u64,
                });
            }
        }
        let due: Vec<u64> = self
            .done
            .iter()
            .filter(|(_, (_, at))| all || now.duration_since(*at) >= HOLD)
            .map(|(tag, _)| *tag)
            .collect();
        for tag in due {
            if let Some((acker, _)) = self.done.remove(&tag) {
                frames.push(Frame {
                    acker,
                    multiple: false,
                    deliveries: 1,
                });
            }
        }
        frames
    }

    /// When the oldest held delivery is due, if any is held.
    fn next_due(&self) -> Option<Instant> {
        self.done.values().map(|(_, at)| *at + HOLD).min()
    }
}

/// The ack book of one consuming channel and the wake-up of its flusher.
pub(crate) struct Acks {
    book: Mutex<Book<Acker>>,
    wake: Notify,
    timeout: Duration,
    /// Deliveries acked, and ack frames sent for them (the summary line shows the ratio).
    counts: Arc<AckCounts>,
}

impl Acks {
    pub(crate) fn new(timeout: Duration, counts: Arc<AckCounts>) -> Self {
        Self {
            book: Mutex::new(Book::default()),
            wake: Notify::new(),
            timeout,
            counts,
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book<Acker>> {
        // A panic while holding this lock cannot leave the book half-changed in a way that
        // matters (each change is one insert or remove): keep using it.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A delivery was taken from the channel (called before its handler starts).
    pub(crate) fn taken(&self, tag: u64) {
        self.book().running.insert(tag);
    }

    /// The delivery's outcomes are confirmed: ack it, alone or with others.
    pub(crate) fn ack(&self, tag: u64, acker: Acker) {
        {
            let mut book = self.book();
            book.running.remove(&tag);
            book.done.insert(tag, (acker, Instant::now()));
        }
        self.wake.notify_one();
    }

    /// The delivery was settled some other way (requeued, rejected): a later `multiple` may
    /// pass over it.
    pub(crate) fn settled(&self, tag: u64) {
        self.book().running.remove(&tag);
        self.wake.notify_one();
    }

    /// Sends the acks that are due; with `all`, every finished delivery's. The frames go out
    /// together, not one after another's completion.
    pub(crate) async fn flush(&self, all: bool) {
        let frames = self.book().take(Instant::now(), all);
        let sends = frames.into_iter().map(|frame| async move {
            let options = BasicAckOptions {
                multiple: frame.multiple,
            };
            match bounded("acking", self.timeout, frame.acker.ack(options)).await {
                Ok(_) => {
                    self.counts.frames.fetch_add(1, Ordering::Relaxed);
                    self.counts
                        .deliveries
                        .fetch_add(frame.deliveries, Ordering::Relaxed);
                }
                Err(e) => {
                    metrics::counter!("preauth_ack_failures_total").increment(frame.deliveries);
                    warn!(
                        deliveries = frame.deliveries,
                        "Ack failed ({e}); the broker will redeliver and the same outcome ids will be published."
                    );
                }
            }
        });
        futures::future::join_all(sends).await;
    }

    /// Acks as deliveries finish until `stop`, then acks every finished delivery and returns.
    /// A flush under way is never cut short.
    pub(crate) async fn flusher(&self, stop: tokio_util::sync::CancellationToken) {
        loop {
            let next_due = self.book().next_due();
            let due = async {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = due => {}
            }
            self.flush(false).await;
        }
        self.flush(true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A book with `running` taken and `done` finished at `at`; the acker is the tag itself.
    fn book(running: &[u64], done: &[u64], at: Instant) -> Book<u64> {
        let mut book = Book::default();
        book.running.extend(running.iter().copied());
        for tag in done {
            book.done.insert(*tag, (*tag, at));
        }
        book
    }

    fn frames(frames: &[Frame<u64>]) -> Vec<(u64, bool, u64)> {
        frames
            .iter()
            .map(|f| (f.acker, f.multiple, f.deliveries))
            .collect()
    }

    #[test]
    fn finished_deliveries_below_the_oldest_running_one_are_acked_in_one_frame() {
        let now = Instant::now();
        let mut b = book(&[3, 5], &[1, 2, 4], now);
        assert_eq!(frames(&b.take(now, false)), vec![(2, true, 2)]);
        assert!(b.done.contains_key(&4), "4 waits for 3 a moment");
    }

    #[test]
    fn a_lone_finished_delivery_is_acked_without_multiple() {
        let now = Instant::now();
        let mut b = book(&[2], &[1], now);
        assert_eq!(frames(&b.take(now, false)), vec![(1, false, 1)]);
    }

    #[test]
    fn a_delivery_finished_after_a_slower_older_one_is_acked_alone_once_its_hold_is_over() {
        let then = Instant::now();
        let mut b = book(&[1], &[2, 3], then);
        assert!(b.take(then, false).is_empty());
        assert_eq!(b.next_due(), Some(then + HOLD));
        let later = then + HOLD;
        assert_eq!(
            frames(&b.take(later, false)),
            vec![(2, false, 1), (3, false, 1)],
            "the slow delivery 1 is never covered by a multiple"
        );
        assert!(b.running.contains(&1));
    }

    #[test]
    fn a_requeued_delivery_no_longer_blocks_the_ones_after_it() {
        let now = Instant::now();
        // 1 was requeued (settled elsewhere, so neither running nor done).
        let mut b = book(&[], &[2, 3], now);
        assert_eq!(frames(&b.take(now, false)), vec![(3, true, 2)]);
    }

    #[test]
    fn everything_finished_is_acked_when_the_session_drains() {
        let now = Instant::now();
        let mut b = book(&[1], &[2, 4], now);
        assert_eq!(
            frames(&b.take(now, true)),
            vec![(2, false, 1), (4, false, 1)]
        );
        assert!(b.done.is_empty());
    }
}
