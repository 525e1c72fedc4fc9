//! Load benchmark: the broker's own limit, then the real worker, on the same broker, message
//! size, queue type (quorum), persistence and prefetch; then latency under steady load.
//!
//! `cargo bench --bench worker_load` (scripts/bench.sh runs it and the `process` benchmark).
//! Environment:
//! - BENCH_CASES (20000): cases per drain; BENCH_PREFETCH (128); BENCH_AMQP_URL;
//! - BENCH_ROUNDS (3): rounds of the bare passthrough, the two-connection passthrough and the
//!   worker at 0 ms, alternating; the median of each is shown, and every round's ratios;
//! - BENCH_LATENCY_MS (200): the slow-payer run; BENCH_BACKLOG (100000, 0 skips): the memory run;
//! - BENCH_OPEN_SECONDS (20, 0 skips) and BENCH_OPEN_WARMUP (2): the open-loop runs at 25%, 50%
//!   and 80% of the bare passthrough's median rate (BENCH_OPEN_RATE=N pins the 100% rate);
//!   BENCH_OPEN_BARE (0): also the bare passthrough at the same rates; BENCH_OPEN_SHARES
//!   (25,50,80): the shares; BENCH_OPEN_ONLY (0): with BENCH_OPEN_RATE, the open loop alone;
//! - BENCH_AIOPIKA (1): also the aio-pika passthrough of scripts/bench-aiopika.sh;
//! - BENCH_PROGRESS_BOUND (1), BENCH_PROGRESS_UNPAUSED (1), BENCH_PROGRESS_OFF (0): also, in
//!   every round, the worker with a ledger's queue bound to `progress.#`, the worker sending
//!   its progress events although nothing is bound to them (no pause), and the worker with its
//!   progress events off;
//! - BENCH_WORKER_ENV ("KEY=value …"): settings for the worker, for experiments;
//!   BENCH_WORKER_BIN: another build of the worker to run instead (an earlier commit's).
//!
//! Needs RabbitMQ. Each drain pre-loads N case events into a quorum work queue, then starts the
//! consumer and measures until N outcomes are confirmed and collected: cases/s, p50/p99 latency
//! from the start of the drain to each outcome, the consumer's peak RSS and CPU seconds per
//! 1,000 cases.

mod open_loop;
mod passthrough;
mod rig;

use std::process::{Command, Stdio};
use std::time::Instant;

use open_loop::{Consumer, Latency};
use passthrough::Shape;
use rig::{broker_cpu, env_or, now_ms, proc_stats, Figures, Rig};

/// The real worker process on the same setup, with a payer answering in `latency_ms`.
async fn worker(url: &str, n: usize, prefetch: u16, latency_ms: u64, tag: &str) -> Figures {
    worker_with(url, n, prefetch, latency_ms, tag, None).await
}

/// A worker run beside the shipped one in every round, to show what the progress events cost.
struct Variant {
    /// The row's name.
    name: &'static str,
    /// Settings on top of the shipped defaults.
    settings: &'static [(&'static str, &'static str)],
    /// Whether a quorum queue is bound to `progress.#` (a ledger's), so every progress event
    /// is routed and kept instead of returned and paused.
    bind_progress: bool,
}

/// The worker with a ledger's queue bound to `progress.#`: three messages a case routed to
/// quorum queues where the passthrough has one.
const PROGRESS_BOUND: Variant = Variant {
    name: "worker, payer 0 ms, a queue bound to progress.#",
    settings: &[],
    bind_progress: true,
};

/// The worker with its progress events off (`outcomes.progress = false`).
const PROGRESS_OFF: Variant = Variant {
    name: "worker, payer 0 ms, progress events off",
    settings: &[("PREAUTH__OUTCOMES__PROGRESS", "false")],
    bind_progress: false,
};

/// The worker publishing every progress event although nothing is bound to them
/// (`outcomes.unbound_progress_pause = 0s`): the shipped worker before the pause.
const PROGRESS_UNPAUSED: Variant = Variant {
    name: "worker, payer 0 ms, progress sent to nothing bound",
    settings: &[("PREAUTH__OUTCOMES__UNBOUND_PROGRESS_PAUSE", "0s")],
    bind_progress: false,
};

/// [`worker`] as `variant` says.
async fn worker_with(
    url: &str,
    n: usize,
    prefetch: u16,
    latency_ms: u64,
    tag: &str,
    variant: Option<&Variant>,
) -> Figures {
    let rig = Rig::new(url, tag).await;
    let progress_queue = match variant {
        Some(v) if v.bind_progress => Some(rig.bind_progress().await),
        _ => None,
    };
    rig.load(n).await;
    let settings = variant.map(|v| v.settings).unwrap_or_default();
    let mut child = rig.spawn_worker(prefetch, latency_ms, settings);
    let pid = child.id();
    let start = now_ms();
    let sent = rig.drain_start(n, start);
    let started = Instant::now();
    let broker_before = broker_cpu();
    let mut peak = 0;
    let latencies = rig
        .collect(n, &sent, |seen| {
            if seen.is_multiple_of(2000) {
                peak = peak.max(proc_stats(pid).0);
            }
        })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let (hwm, cpu) = proc_stats(pid);
    rig::stop(&mut child);
    if let Some(q) = progress_queue {
        rig.delete_queue(&q).await;
    }
    rig.cleanup().await;
    let name = match variant {
        Some(v) => format!("{}, prefetch {prefetch}", v.name),
        None => format!("worker, payer {latency_ms} ms, prefetch {prefetch}"),
    };
    Figures::of(name, latencies, elapsed, peak.max(hwm), cpu).with_broker(broker_before)
}

/// The same passthrough in Python with aio-pika (scripts/bench-aiopika.sh, which sets up its own
/// virtualenv), on the same broker, queue types, message and prefetch. `None` when it cannot run
/// here (no Python or no package index): the table says so and the other runs go on.
fn aiopika(url: &str, n: usize, prefetch: u16) -> Option<Figures> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench-aiopika.sh");
    let out = Command::new(script)
        .env("BENCH_FORMAT", "tsv")
        .env("BENCH_CASES", n.to_string())
        .env("BENCH_PREFETCH", prefetch.to_string())
        .env("BENCH_AMQP_URL", url)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    let text = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            eprintln!("aio-pika passthrough did not run ({})", o.status);
            return None;
        }
        Err(e) => {
            eprintln!("aio-pika passthrough did not run: {e}");
            return None;
        }
    };
    let line = text.lines().find(|l| l.starts_with("figures\t"))?;
    let f: Vec<&str> = line.split('\t').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(Figures {
        name: (*f.get(1)?).to_owned(),
        cases: num(2)? as usize,
        per_s: num(3)?,
        p50_ms: num(4)?,
        p99_ms: num(5)?,
        rss_mib: num(6)?,
        cpu_per_1000: num(7)?,
        broker_per_1000: 0.0,
    })
}

/// The run with the median throughput.
fn median(mut runs: Vec<Figures>) -> Figures {
    runs.sort_by(|a, b| a.per_s.total_cmp(&b.per_s));
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: only run when benched.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn print_row(r: &Figures) {
    println!(
        "{:<52} {:>8} {:>9.0} {:>9.0} {:>9.0} {:>9.1} {:>11.3} {:>11.3}",
        r.name, r.cases, r.per_s, r.p50_ms, r.p99_ms, r.rss_mib, r.cpu_per_1000, r.broker_per_1000
    );
}

async fn run() {
    let n: usize = env_or("BENCH_CASES", 20_000);
    let prefetch: u16 = env_or("BENCH_PREFETCH", 128);
    let slow_ms: u64 = env_or("BENCH_LATENCY_MS", 200);
    let backlog: usize = env_or("BENCH_BACKLOG", 100_000);
    let rounds: usize = env_or("BENCH_ROUNDS", 3usize).max(1);
    let open_seconds: f64 = env_or("BENCH_OPEN_SECONDS", 20.0);
    let open_warmup: f64 = env_or("BENCH_OPEN_WARMUP", 2.0);
    let url: String = env_or(
        "BENCH_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
    );

    // BENCH_OPEN_ONLY=1 with BENCH_OPEN_RATE: the open-loop runs alone (experiments).
    if env_or("BENCH_OPEN_ONLY", 0) == 1 {
        let full: f64 = env_or("BENCH_OPEN_RATE", 0.0);
        assert!(full > 0.0, "BENCH_OPEN_ONLY needs BENCH_OPEN_RATE");
        let latency = open_loops(&url, full, open_seconds, open_warmup, prefetch).await;
        print_latency(&latency, open_seconds, open_warmup, full);
        return;
    }
    // BENCH_WORKER_ONLY=1: the worker's drain alone, BENCH_ROUNDS times (comparing builds or
    // settings through BENCH_WORKER_BIN and BENCH_WORKER_ENV).
    if env_or("BENCH_WORKER_ONLY", 0) == 1 {
        for round in 0..rounds {
            print_row(&worker(&url, n, prefetch, 0, &format!("wo{round}")).await);
        }
        return;
    }
    // The bare passthrough, the two-connection passthrough and the worker at 0 ms alternate for
    // a few rounds: on a shared machine one run can differ from the next by 10% either way. The
    // table shows the median of each; the ratios are also given round by round.
    // Beside the shipped worker (nothing is bound to `progress.#` here, so its progress events
    // are returned once and then paused), in every round: BENCH_PROGRESS_BOUND (1), the worker
    // with a ledger's queue bound to `progress.#` (every progress event routed and kept);
    // BENCH_PROGRESS_UNPAUSED (1), the worker sending every progress event to nothing bound, as
    // before the pause; BENCH_PROGRESS_OFF (0), the worker with its progress events off.
    let variants: Vec<&Variant> = [
        ("BENCH_PROGRESS_BOUND", 1, &PROGRESS_BOUND),
        ("BENCH_PROGRESS_UNPAUSED", 1, &PROGRESS_UNPAUSED),
        ("BENCH_PROGRESS_OFF", 0, &PROGRESS_OFF),
    ]
    .into_iter()
    .filter(|&(key, default, _)| env_or(key, default) == 1)
    .map(|(_, _, v)| v)
    .collect();
    let (mut bares, mut twos, mut workers) = (Vec::new(), Vec::new(), Vec::new());
    let mut variant_runs: Vec<Vec<Figures>> = variants.iter().map(|_| Vec::new()).collect();
    let mut variant_ratios: Vec<Vec<f64>> = variants.iter().map(|_| Vec::new()).collect();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let bare = passthrough::drain(&url, n, prefetch, Shape::Bare, &format!("b{round}")).await;
        let two = passthrough::drain(
            &url,
            n,
            prefetch,
            Shape::TwoConnections,
            &format!("t{round}"),
        )
        .await;
        let w = worker(&url, n, prefetch, 0, &format!("w0r{round}")).await;
        eprintln!(
            "round {}: bare {:.0}/s, two connections {:.0}/s, worker {:.0}/s",
            round + 1,
            bare.per_s,
            two.per_s,
            w.per_s
        );
        for (i, v) in variants.iter().enumerate() {
            let f = worker_with(&url, n, prefetch, 0, &format!("wv{i}r{round}"), Some(v)).await;
            eprintln!("round {}: {} {:.0}/s", round + 1, v.name, f.per_s);
            variant_ratios[i].push(f.per_s / bare.per_s);
            variant_runs[i].push(f);
        }
        ratios.push((w.per_s / bare.per_s, w.per_s / two.per_s));
        bares.push(bare);
        twos.push(two);
        workers.push(w);
    }
    let mut rows = vec![median(bares), median(twos), median(workers)];
    let bare_rate = rows[0].per_s;
    let variant_rows: Vec<Figures> = variant_runs.into_iter().map(median).collect();
    let python = if env_or("BENCH_AIOPIKA", 1) == 1 {
        aiopika(&url, n, prefetch)
    } else {
        None
    };
    // With a slow payer, throughput is bounded by in-flight / latency: size the run to ~20 s.
    let slow_n = ((f64::from(prefetch) / (slow_ms.max(1) as f64 / 1000.0)) * 20.0) as usize;
    if slow_ms > 0 {
        rows.push(worker(&url, slow_n.clamp(1000, n), prefetch, slow_ms, "w200").await);
    }
    let backlog_row = if backlog > 0 {
        Some(worker(&url, backlog, prefetch, 0, "wbig").await)
    } else {
        None
    };

    // Latency under steady load, at fixed shares of the bare passthrough's rate.
    let full: f64 = env_or("BENCH_OPEN_RATE", bare_rate);
    let latency = open_loops(&url, full, open_seconds, open_warmup, prefetch).await;
    println!(
        "\n{:<52} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "run", "cases", "cases/s", "p50 ms", "p99 ms", "peak MiB", "CPU s/1000", "broker/1000"
    );
    for r in rows
        .iter()
        .chain(&variant_rows)
        .chain(&backlog_row)
        .chain(&python)
    {
        print_row(r);
    }
    let w0 = &rows[2];
    let list = |pick: fn(&(f64, f64)) -> f64| {
        ratios
            .iter()
            .map(|r| format!("{:.2}", pick(r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "\nworker / bare passthrough at payer 0 ms: {:.2} of the medians, median round ratio {:.2} (target ≥ 0.85); round by round: {}",
        w0.per_s / bare_rate,
        median_of(ratios.iter().map(|r| r.0).collect()),
        list(|r| r.0)
    );
    for ((v, row), rs) in variants.iter().zip(&variant_rows).zip(&variant_ratios) {
        println!(
            "{} / bare passthrough: {:.2} of the medians, median round ratio {:.2}; round by round: {}",
            v.name,
            row.per_s / bare_rate,
            median_of(rs.clone()),
            rs.iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "worker / two-connection passthrough: {:.2} of the medians; round by round: {}",
        w0.per_s / rows[1].per_s,
        list(|r| r.1)
    );
    if let Some(w200) = rows.get(3) {
        let bound = f64::from(prefetch) / (slow_ms as f64 / 1000.0);
        println!(
            "payer {slow_ms} ms: {:.0} cases/s = {:.0}% of in-flight/latency = {:.0}/s, capped by the bare rate (target ≥ 90%)",
            w200.per_s,
            100.0 * w200.per_s / bound.min(bare_rate),
            bound
        );
    }
    match &python {
        Some(p) => println!(
            "worker at payer 0 ms / aio-pika passthrough: {:.1}x (target ≥ 3x)",
            w0.per_s / p.per_s
        ),
        None => println!("worker / aio-pika passthrough: not measured"),
    }
    if let Some(big) = &backlog_row {
        println!(
            "peak RSS draining a {}-case backlog: {:.1} MiB (target ≤ 48 MiB)",
            big.cases, big.rss_mib
        );
    }
    print_latency(&latency, open_seconds, open_warmup, full);
    for r in &rows {
        assert!(r.cases > 0, "{}: no outcomes", r.name);
    }
}

/// The open-loop runs at each share of `full` in BENCH_OPEN_SHARES (25,50,80).
async fn open_loops(
    url: &str,
    full: f64,
    open_seconds: f64,
    open_warmup: f64,
    prefetch: u16,
) -> Vec<(u32, Latency)> {
    let mut latency: Vec<(u32, Latency)> = Vec::new();
    if open_seconds <= 0.0 {
        return latency;
    }
    let shares: Vec<u32> = env_or("BENCH_OPEN_SHARES", "25,50,80".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for share in shares {
        let rate = full * f64::from(share) / 100.0;
        let mut consumers = vec![Consumer::Worker];
        if env_or("BENCH_OPEN_BARE", 0) == 1 {
            consumers.push(Consumer::Bare);
        }
        for consumer in consumers {
            let tag = format!("o{share}{consumer:?}");
            let l = open_loop::run(
                url,
                consumer,
                rate,
                open_seconds,
                open_warmup,
                prefetch,
                &tag,
            )
            .await;
            eprintln!(
                "open loop {share}%: {} at {:.0}/s: p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms",
                l.name, rate, l.p50_ms, l.p99_ms, l.p999_ms
            );
            latency.push((share, l));
        }
    }
    latency
}

fn print_latency(latency: &[(u32, Latency)], open_seconds: f64, open_warmup: f64, full: f64) {
    if !latency.is_empty() {
        println!(
            "\nopen loop, {open_seconds:.0} s per rate ({open_warmup:.0} s warm-up not counted), publish to outcome; 100% = {full:.0}/s"
        );
        println!(
            "{:<18} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "consumer",
            "share",
            "rate/s",
            "outcomes",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "peak MiB"
        );
        for (share, l) in latency {
            println!(
                "{:<18} {:>5}% {:>8.0} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                l.name,
                share,
                l.rate,
                format!("{}/{}", l.received, l.sent),
                l.p50_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                l.rss_mib
            );
        }
        println!("targets: worker p99 ≤ 25 ms at 50%, ≤ 100 ms at 80%");
    }
}
