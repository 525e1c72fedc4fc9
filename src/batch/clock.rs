//! The simulated clock of `process`: when nothing outside the process is waited for, a wait
//! takes no time. Each step of a case runs in a scope that holds its simulated time (from the
//! start of the run); the pipeline's clock reads it and its sleeper moves it forward, so
//! `decided_at` and `next_follow_up_at` tell the simulated schedule.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::Pipeline;
use crate::retry::Sleeper;

tokio::task_local! {
    /// The simulated time of the step being run, from the start of the run.
    static STEP: Cell<Duration>;
}

/// The pipeline `process` drives: `pipeline` itself on the real clock; on the simulated one, a
/// copy whose clock is the run's start plus the step's simulated time, and whose waits move that
/// time forward instead of sleeping.
pub(super) fn pipeline(pipeline: &Pipeline, simulated: bool) -> Pipeline {
    let mut p = pipeline.clone();
    if simulated {
        let start = (pipeline.clock)();
        p.clock = Arc::new(move || {
            chrono::TimeDelta::from_std(now())
                .ok()
                .and_then(|d| start.checked_add_signed(d))
                .unwrap_or(start)
        });
        p.sleeper = simulated_sleeper();
    }
    p
}

/// A sleeper that moves the step's simulated time forward, at once.
fn simulated_sleeper() -> Sleeper {
    Sleeper::new(|d| {
        let _ = STEP.try_with(|t| t.set(t.get().saturating_add(d)));
        Box::pin(std::future::ready(()))
    })
}

/// The simulated time of the step being run (zero outside a step).
fn now() -> Duration {
    STEP.try_with(Cell::get).unwrap_or_default()
}

/// Runs `step` at simulated time `at`; its output and the simulated time it ended at (`at` plus
/// the waits inside it; `at` on the real clock, whose waits are real).
pub(super) async fn at<F: Future>(at: Duration, step: F) -> (F::Output, Duration) {
    STEP.scope(Cell::new(at), async move {
        let out = step.await;
        (out, now())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_simulated_wait_moves_the_steps_clock_without_sleeping() {
        let sleeper = simulated_sleeper();
        let ((), ended) = at(Duration::from_secs(5), async {
            sleeper.sleep(Duration::from_secs(3600)).await;
            sleeper.sleep(Duration::from_secs(60)).await;
        })
        .await;
        assert_eq!(ended, Duration::from_secs(5 + 3600 + 60));
        assert_eq!(now(), Duration::ZERO, "outside a step");
    }
}
