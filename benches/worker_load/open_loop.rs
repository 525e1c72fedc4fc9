//! Latency under steady load, the figure a clinic feels: an open-loop generator publishes case
//! events at a fixed rate, whatever the consumer does, and the time from each event's scheduled
//! publish to its outcome's arrival goes into an HDR histogram. Measuring from the scheduled
//! time, not from when the generator got round to it, keeps a stalled generator from hiding
//! the delay (coordinated omission).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, ShortString};

use crate::passthrough::{self, Channels, Shape};
use crate::rig::{proc_stats, Rig, Template};

/// What consumes the case events.
#[derive(Debug, Clone, Copy)]
pub enum Consumer {
    /// `preauth-worker run`, the simulated payer answering at once.
    Worker,
    /// The bare passthrough (the broker's own latency at this rate).
    Bare,
}

/// One rate's figures.
pub struct Latency {
    pub name: String,
    pub rate: f64,
    pub sent: usize,
    pub received: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// The worker's peak RSS (MiB); 0 for the passthrough, which runs in this process.
    pub rss_mib: f64,
}

/// Publishes `rate` case events a second for `seconds`, measures publish-to-outcome latency of
/// every event after the first `warmup` seconds.
pub async fn run(
    url: &str,
    consumer: Consumer,
    rate: f64,
    seconds: f64,
    warmup: f64,
    prefetch: u16,
    tag: &str,
) -> Latency {
    let rig = Arc::new(Rig::new(url, tag).await);
    let total = (rate * seconds).round() as usize;
    let counted_from = (rate * warmup).round() as usize;

    let mut child = None;
    let mut channels = None;
    let mut pump = None;
    match consumer {
        Consumer::Worker => {
            child = Some(rig.spawn_worker(prefetch, 0, &[]));
            rig.wait_for_consumer().await;
        }
        Consumer::Bare => {
            let c = Channels::open(url, Shape::Bare, prefetch).await;
            pump = Some(passthrough::pump(&rig, &c, total));
            channels = Some(c);
        }
    }

    // The generator's schedule: event i is due at `base + i / rate`.
    let base = Instant::now() + Duration::from_millis(100);
    let base_wall = chrono::Utc::now() + chrono::Duration::milliseconds(100);
    let due = move |i: usize| base + Duration::from_secs_f64(i as f64 / rate);

    let received = Arc::new(AtomicUsize::new(0));
    let collector = {
        let rig = Arc::clone(&rig);
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            let ch = rig.conn.create_channel().await.expect("channel");
            let mut outcomes = consume_no_ack(&ch, &format!("{}.collect", rig.prefix)).await;
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("histogram");
            let mut max_us = 0;
            // BENCH_OPEN_TRACE=FILE: every counted event's due time, latency and the outcome's
            // `decided_at` less the due time (µs), to see when the slow ones happen and where
            // their time went (the columns are listed where the file is written).
            let mut trace: Option<Vec<(u64, u64, i64, usize)>> =
                std::env::var_os("BENCH_OPEN_TRACE").map(|_| Vec::new());
            while received.load(Ordering::Relaxed) < total {
                let Ok(Some(Ok(d))) =
                    tokio::time::timeout(Duration::from_secs(30), outcomes.next()).await
                else {
                    break;
                };
                let arrived = Instant::now();
                let seq = sequence(&d);
                received.fetch_add(1, Ordering::Relaxed);
                if let Some(seq) = seq.filter(|s| *s >= counted_from) {
                    let us = arrived.saturating_duration_since(due(seq)).as_micros() as u64;
                    max_us = max_us.max(us);
                    let _ = histogram.record(us.max(1));
                    if let Some(t) = trace.as_mut() {
                        let decided = serde_json::from_slice::<serde_json::Value>(&d.data)
                            .ok()
                            .and_then(|v| {
                                let at = v.get("decided_at")?.as_str()?;
                                chrono::DateTime::parse_from_rfc3339(at).ok()
                            })
                            .map(|at| {
                                let due_wall = base_wall
                                    + chrono::Duration::from_std(due(seq) - base)
                                        .unwrap_or_default();
                                (at.with_timezone(&chrono::Utc) - due_wall)
                                    .num_microseconds()
                                    .unwrap_or_default()
                            })
                            .unwrap_or(-1);
                        t.push((
                            due(seq).duration_since(base).as_micros() as u64,
                            us,
                            decided,
                            seq,
                        ));
                    }
                }
            }
            (histogram, max_us, trace)
        })
    };

    // With a trace, the worker's `progress.received` events too: when it took each case up.
    let received_probe = match std::env::var_os("BENCH_OPEN_TRACE") {
        Some(_) => Some(probe_received(&rig, base_wall, move |seq| due(seq) - base).await),
        None => None,
    };
    let mut late_us: Vec<u64> = Vec::new();

    // The generator: its own confirming channel; confirms are awaited beside it, never in its way.
    let ch = rig.conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let (confirms_tx, mut confirms_rx) = tokio::sync::mpsc::unbounded_channel();
    let confirmer = tokio::spawn(async move {
        let mut pending = FuturesUnordered::new();
        loop {
            tokio::select! {
                next = confirms_rx.recv() => match next {
                    Some(c) => pending.push(c),
                    None => break,
                },
                Some(_) = pending.next(), if !pending.is_empty() => {}
            }
        }
        while pending.next().await.is_some() {}
    });
    let template = Template::new();
    for i in 0..total {
        let at = due(i);
        if at > Instant::now() {
            tokio::time::sleep_until(at.into()).await;
        }
        let body = template.body(&rig.event_id(i), i);
        let _ = confirms_tx.send(rig.publish_case(&ch, &body).await);
        if received_probe.is_some() {
            late_us.push(Instant::now().saturating_duration_since(at).as_micros() as u64);
        }
    }
    drop(confirms_tx);
    let _ = confirmer.await;
    let (histogram, max_us, trace) = collector.await.expect("collector");
    if let (Some(t), Some(path), Some(probe)) =
        (trace, std::env::var_os("BENCH_OPEN_TRACE"), received_probe)
    {
        probe.abort();
        let taken = probe.await_taken().await;
        // due (µs from the start), latency, decided_at − due, received − due (the worker's
        // `progress.received`), and how late the generator published (µs).
        let text: String = t
            .iter()
            .map(|(at, us, decided, seq)| {
                let taken = taken.get(seq).copied().unwrap_or(-1);
                let late = late_us.get(*seq).copied().unwrap_or_default();
                format!("{at}\t{us}\t{decided}\t{taken}\t{late}\n")
            })
            .collect();
        let _ = std::fs::write(path, text);
    }

    let mut rss_mib = 0.0;
    if let Some(mut child) = child {
        rss_mib = proc_stats(child.id()).0 as f64 / 1024.0;
        crate::rig::stop(&mut child);
    }
    if let Some(pump) = pump {
        pump.abort();
    }
    if let Some(c) = channels {
        c.close().await;
    }
    let _ = ch.close(200, "done".into()).await;
    if let Ok(rig) = Arc::try_unwrap(rig) {
        rig.cleanup().await;
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Latency {
        name: match consumer {
            Consumer::Worker => "worker".into(),
            Consumer::Bare => "bare passthrough".into(),
        },
        rate,
        sent: total,
        received: received.load(Ordering::Relaxed),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: max_us as f64 / 1000.0,
        rss_mib,
    }
}

/// Collects the worker's `progress.received` events from a queue of their own (trace runs
/// only: it adds a routed message per case). The task yields, once aborted or done, each
/// event's `at` less its due time (µs), by sequence number.
async fn probe_received(
    rig: &Rig,
    base_wall: chrono::DateTime<chrono::Utc>,
    since_base: impl Fn(usize) -> Duration + Send + 'static,
) -> ProbeTask {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    let ch = rig.conn.create_channel().await.expect("channel");
    let queue = format!("{}.received", rig.prefix);
    ch.queue_declare(
        ShortString::from(queue.as_str()),
        QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("probe queue");
    ch.queue_bind(
        ShortString::from(queue.as_str()),
        ShortString::from(rig.topology.outcomes_exchange.as_str()),
        ShortString::from("progress.received"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind probe");
    let mut events = consume_no_ack(&ch, &queue).await;
    let taken = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let task = {
        let taken = Arc::clone(&taken);
        tokio::spawn(async move {
            let _ch = ch;
            while let Some(Ok(d)) = events.next().await {
                let seq = sequence(&d);
                let at = serde_json::from_slice::<serde_json::Value>(&d.data)
                    .ok()
                    .and_then(|v| {
                        chrono::DateTime::parse_from_rfc3339(v.get("at")?.as_str()?).ok()
                    });
                if let (Some(seq), Some(at)) = (seq, at) {
                    let due =
                        base_wall + chrono::Duration::from_std(since_base(seq)).unwrap_or_default();
                    let us = (at.with_timezone(&chrono::Utc) - due)
                        .num_microseconds()
                        .unwrap_or_default();
                    if let Ok(mut t) = taken.lock() {
                        t.insert(seq, us);
                    }
                }
            }
        })
    };
    ProbeTask { task, taken }
}

/// The running probe of [`probe_received`].
struct ProbeTask {
    task: tokio::task::JoinHandle<()>,
    taken: Arc<std::sync::Mutex<std::collections::HashMap<usize, i64>>>,
}

impl ProbeTask {
    fn abort(&self) {
        self.task.abort();
    }

    async fn await_taken(self) -> std::collections::HashMap<usize, i64> {
        let _ = self.task.await;
        self.taken.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Consumes `queue` without acks (the bench's own collecting queues).
async fn consume_no_ack(ch: &lapin::Channel, queue: &str) -> lapin::Consumer {
    ch.basic_consume(
        ShortString::from(queue),
        ShortString::from(""),
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("consume")
}

/// The sequence number of the case event a message answers: the end of its correlation id.
fn sequence(d: &lapin::message::Delivery) -> Option<usize> {
    d.properties
        .correlation_id()
        .as_ref()
        .and_then(|c| c.as_str().rsplit('-').next()?.parse::<usize>().ok())
}
