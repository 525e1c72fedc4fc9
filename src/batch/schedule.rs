//! The schedule `process` drives cases on: a discrete-event loop over the steps of every case
//! alive (one delivery each: the first, a retry, a follow-up).
//!
//! Every step has a due time (from the start of the run) and a sequence number, given as it is
//! scheduled; steps run in (due time, sequence) order. A case's first step is due when the case
//! is admitted, at the time the run has reached; its next one `after` its step's due time (the
//! disposition's wait). The steps due now run at once, at most `concurrency` cases being alive
//! (running or waiting); their outcomes are written in the order the steps were started, and
//! what a step schedules is numbered in that order too. Only when nothing runs does the run move
//! on to the earliest step due: at once on the simulated clock, after sleeping until then on the
//! real one. So the order of the outcomes depends on the inputs and the configuration alone,
//! and is the same on either clock.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use std::task::Poll;

use futures::stream::{FuturesOrdered, StreamExt};
use futures::FutureExt;

use super::channels::{Inbox, Input, Outbox};
use super::{clock, Progress};
use crate::inputs::InputItem;
use crate::pipeline::{Disposition, Next, ParkReason, Pipeline};
use crate::retry::CaseState;

/// A case alive in the run.
struct Case {
    item: InputItem,
    state: CaseState,
    /// The simulated time its last step ended at: its next step starts no earlier.
    ended: Duration,
}

/// A step of a case, waiting for its due time.
struct Step {
    due: Duration,
    seq: u64,
    case: Case,
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Step {}

impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Step {
    /// Reversed, so the heap's greatest is the earliest step.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// What driving the cases came to.
#[derive(Debug, Default)]
pub(super) struct Driven {
    /// Case events admitted.
    pub cases: usize,
    /// Case events the pipeline itself could not identify.
    pub unreadable: usize,
    /// The simulated time the run reached.
    pub simulated: Duration,
}

/// The steps of the run and the time it has reached.
pub(super) struct Schedule {
    pipeline: Arc<Pipeline>,
    simulated: bool,
    concurrency: usize,
    now: Duration,
    seq: u64,
    waiting: BinaryHeap<Step>,
}

impl Schedule {
    pub(super) fn new(pipeline: Arc<Pipeline>, simulated: bool, concurrency: usize) -> Self {
        Self {
            pipeline,
            simulated,
            concurrency: concurrency.max(1),
            now: Duration::ZERO,
            seq: 0,
            waiting: BinaryHeap::new(),
        }
    }

    fn push(&mut self, due: Duration, case: Case) {
        self.waiting.push(Step {
            due,
            seq: self.seq,
            case,
        });
        self.seq += 1;
    }

    /// Starts one step: on a task of its own, at its simulated time.
    fn start(&self, step: Step) -> impl std::future::Future<Output = Done> + Send + 'static {
        let pipeline = Arc::clone(&self.pipeline);
        let Step { due, case, .. } = step;
        let at = if self.simulated {
            due.max(case.ended)
        } else {
            due
        };
        // Boxed: the pipeline's future is large, and would be copied as the task is made.
        let task = tokio::spawn(clock::at(at, async move {
            let d = Box::pin(pipeline.handle(&case.item.body, None, &case.state)).await;
            (case, d)
        }));
        async move {
            match task.await {
                Ok(((case, disposition), ended)) => Done {
                    due,
                    case,
                    disposition,
                    ended,
                },
                // A fault of the code: it stops the run, as it did before steps ran on tasks.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }

    /// Drives `first` and every case from `inbox` to its end, handing their outcomes to
    /// `outbox` in the order of the steps. Gives `progress` back with what it counted.
    pub(super) async fn drive(
        mut self,
        first: InputItem,
        mut inbox: Inbox,
        mut outbox: Outbox,
        mut progress: Progress,
    ) -> (Driven, Progress) {
        let started = tokio::time::Instant::now();
        let mut driven = Driven::default();
        let mut running = FuturesOrdered::new();
        let mut alive = 0usize;
        let mut next_case = Some(first);
        let mut open = true;
        loop {
            // Admit cases while there is room: each one read decides what follows, so the run
            // waits for it (the reader is usually far ahead).
            while alive < self.concurrency {
                let input = match next_case.take() {
                    Some(item) => Some(Input::Case(item)),
                    None if !open => break,
                    None => match inbox.try_next() {
                        Poll::Ready(input) => input,
                        Poll::Pending => {
                            // Waiting: what is done is written first.
                            if !outbox.flush().await {
                                return (driven, progress);
                            }
                            inbox.next().await
                        }
                    },
                };
                let item = match input {
                    Some(Input::Case(item)) => item,
                    Some(Input::Problem(p)) => {
                        progress.problem(&p);
                        continue;
                    }
                    None => {
                        open = false;
                        break;
                    }
                };
                let case = Case {
                    item,
                    state: CaseState::default(),
                    ended: self.now,
                };
                self.push(self.now, case);
                alive += 1;
                driven.cases += 1;
                progress.started();
            }
            while self.waiting.peek().is_some_and(|s| s.due <= self.now) {
                if let Some(step) = self.waiting.pop() {
                    running.push_back(self.start(step));
                }
            }
            let done = match running.next().now_or_never() {
                Some(done) => done,
                None => {
                    if !outbox.flush().await {
                        return (driven, progress);
                    }
                    running.next().await
                }
            };
            if let Some(done) = done {
                let Done {
                    due,
                    mut case,
                    disposition,
                    ended,
                } = done;
                for o in disposition.outcomes {
                    // The writer stops only when it fails; `process` reports its error.
                    if !outbox.push(o).await {
                        return (driven, progress);
                    }
                }
                let label = &case.item.label;
                match disposition.next {
                    Next::Ack => {}
                    Next::Retry { after, state } | Next::FollowUp { after, state, .. } => {
                        case.state = state;
                        case.ended = ended;
                        self.push(due.saturating_add(after), case);
                        continue;
                    }
                    // No parking queue here: what the worker would park is reported instead.
                    Next::Park {
                        reason: reason @ (ParkReason::Unreadable(_) | ParkReason::TooLarge),
                        detail,
                        ..
                    } => {
                        progress.line(&format!(
                            "{label}: unreadable ({}): {detail}",
                            reason.code()
                        ));
                        driven.unreadable += 1;
                    }
                    Next::Park { reason, detail, .. } => {
                        progress.line(&format!("{label}: failed ({}): {detail}", reason.code()));
                    }
                }
                alive -= 1;
                progress.finished();
                continue;
            }
            // Nothing runs: on to the earliest step due.
            match self.waiting.peek().map(|s| s.due) {
                Some(due) => {
                    if !self.simulated {
                        if !outbox.flush().await {
                            return (driven, progress);
                        }
                        tokio::time::sleep_until(started + due).await;
                    }
                    self.now = due;
                    driven.simulated = due;
                }
                None if !open && next_case.is_none() => break,
                None => {}
            }
        }
        outbox.flush().await;
        (driven, progress)
    }
}

/// A step that ran.
struct Done {
    due: Duration,
    case: Case,
    disposition: Disposition,
    ended: Duration,
}
