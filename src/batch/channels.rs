//! The two bounded channels of `process`: from the thread that reads the inputs to the schedule,
//! and from the schedule to the thread that writes the outcomes. Both carry batches: one at a
//! time while the other side keeps up (so a case typed on standard input is driven at once, and
//! an outcome written at once), up to [`BATCH`] when it does not, which saves waking a thread
//! for every case.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::task::Poll;

use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::task::JoinHandle;

use super::Summary;
use crate::case::Outcome;
use crate::inputs::{Entry, InputItem, InputProblem};

/// The most inputs or outcomes sent at once.
const BATCH: usize = 64;
/// Batches a channel holds.
const BATCHES: usize = 16;

/// What the reading thread hands the schedule: a case event, or a problem to report.
pub(super) enum Input {
    Case(InputItem),
    Problem(InputProblem),
}

/// The inputs as the reading thread sends them.
pub(super) struct Inbox {
    rx: mpsc::Receiver<Vec<Input>>,
    received: VecDeque<Input>,
}

impl Inbox {
    /// The next input if it is there already; `Ready(None)` once every input has been read.
    pub(super) fn try_next(&mut self) -> Poll<Option<Input>> {
        if let Some(input) = self.received.pop_front() {
            return Poll::Ready(Some(input));
        }
        match self.rx.try_recv() {
            Ok(batch) => {
                self.received.extend(batch);
                Poll::Ready(self.received.pop_front())
            }
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
        }
    }

    /// The next input; `None` once every input has been read.
    pub(super) async fn next(&mut self) -> Option<Input> {
        loop {
            if let Some(input) = self.received.pop_front() {
                return Some(input);
            }
            let batch = self.rx.recv().await?;
            self.received.extend(batch);
        }
    }
}

/// Starts the thread that reads `inputs` as a stream: each case event is checked to be one
/// (within `max` bytes, identifiable) as it is read, so that only case events reach the
/// pipeline and what is not one is reported by its label.
pub(super) fn read(inputs: Vec<PathBuf>, max: usize) -> std::io::Result<Inbox> {
    let (tx, rx) = mpsc::channel::<Vec<Input>>(BATCHES);
    std::thread::Builder::new()
        .name("process-inputs".into())
        .spawn(move || {
            let mut batch = Vec::new();
            for entry in crate::inputs::stream(&inputs).line_limit(max) {
                batch.push(match entry {
                    Entry::Event(item) => match crate::inputs::answerable(&item, max) {
                        Ok(()) => Input::Case(item),
                        Err(p) => Input::Problem(p),
                    },
                    Entry::Problem(p) => Input::Problem(p),
                });
                let keeping_up = tx.capacity() > BATCHES / 2;
                if (batch.len() >= BATCH || keeping_up)
                    && tx.blocking_send(std::mem::take(&mut batch)).is_err()
                {
                    // The run stopped (its output failed).
                    return;
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        })?;
    Ok(Inbox {
        rx,
        received: VecDeque::new(),
    })
}

/// The outcomes on their way to the writing thread, in the order they are pushed.
pub(super) struct Outbox {
    tx: mpsc::Sender<Vec<Outcome>>,
    pending: Vec<Outcome>,
}

impl Outbox {
    /// Queues an outcome, sending the batch when it is full. `false` when the writer stopped,
    /// which it does only when it fails.
    pub(super) async fn push(&mut self, o: Outcome) -> bool {
        self.pending.push(o);
        self.pending.len() < BATCH || self.flush().await
    }

    /// Sends what is queued. `false` when the writer stopped.
    pub(super) async fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.pending);
        self.tx.send(batch).await.is_ok()
    }
}

/// Starts the thread that writes the outcomes to `out`, one JSON line each (one writer, so the
/// lines of concurrent cases never interleave), counting them for the summary.
pub(super) fn write(out: Box<dyn Write + Send>) -> (Outbox, JoinHandle<std::io::Result<Summary>>) {
    let (tx, mut rx) = mpsc::channel::<Vec<Outcome>>(BATCHES);
    let writer = tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
        let mut summary = Summary::default();
        while let Some(batch) = rx.blocking_recv() {
            for o in batch {
                serde_json::to_writer(&mut out, &o)?;
                out.write_all(b"\n")?;
                summary.record(&o);
            }
            // Written as they come when nothing else waits (a person watching the output).
            if rx.is_empty() {
                out.flush()?;
            }
        }
        out.flush()?;
        Ok(summary)
    });
    let outbox = Outbox {
        tx,
        pending: Vec::new(),
    };
    (outbox, writer)
}
