//! Load benchmark: the broker's own ceiling, then the real worker, on the same broker, message
//! size, queue type (quorum), persistence and prefetch.
//!
//! `cargo bench --bench worker_load` (scripts/bench.sh runs it and the `process` benchmark).
//! Environment: BENCH_CASES (20000), BENCH_PREFETCH (128), BENCH_LATENCY_MS (200, the slow-payer
//! run), BENCH_BACKLOG (100000, the memory run; 0 skips it), BENCH_AIOPIKA (1: also run the
//! aio-pika passthrough of scripts/bench-aiopika.sh; 0 skips it), BENCH_ROUNDS (3: alternating
//! ceiling and worker runs at 0 ms, the median of each is shown), BENCH_AMQP_URL. Needs RabbitMQ.
//!
//! Each run pre-loads N case events into a quorum work queue, then starts the consumer and
//! measures until N outcomes are confirmed and collected: cases/s, p50/p99 latency from the
//! start of the drain to each outcome, the consumer's peak RSS and CPU seconds per 1,000 cases.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use preauth_worker::amqp::topology::Topology;
use preauth_worker::config::Settings;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Peak resident set (VmHWM, KiB) and CPU seconds (user + system) of a process, from /proc.
fn proc_stats(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    (hwm_kb, ticks / 100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// One line of the results table.
struct Figures {
    name: String,
    cases: usize,
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: f64,
    cpu_per_1000: f64,
}

impl Figures {
    /// A run's figures from each outcome's latency (ms), the drain's duration (s), the peak RSS
    /// (KiB) and the CPU seconds spent.
    fn of(name: String, mut latencies: Vec<f64>, elapsed: f64, peak_kib: u64, cpu: f64) -> Self {
        latencies.sort_by(f64::total_cmp);
        let cases = latencies.len();
        Self {
            name,
            cases,
            per_s: cases as f64 / elapsed,
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            rss_mib: peak_kib as f64 / 1024.0,
            cpu_per_1000: cpu * 1000.0 / cases.max(1) as f64,
        }
    }
}

/// Names and a channel for one run.
struct Rig {
    prefix: String,
    topology: Topology,
    settings_env: Vec<(String, String)>,
    conn: Connection,
    ch: Channel,
}

impl Rig {
    async fn new(url: &str, tag: &str) -> Self {
        let prefix = format!("bench{}{tag}", std::process::id());
        let settings_env = vec![
            ("PREAUTH__AMQP__URL".to_owned(), url.to_owned()),
            (
                "PREAUTH__TOPOLOGY__WORK_QUEUE".to_owned(),
                format!("{prefix}.work"),
            ),
            (
                "PREAUTH__TOPOLOGY__CASES_EXCHANGE".to_owned(),
                format!("{prefix}.cases"),
            ),
            (
                "PREAUTH__TOPOLOGY__OUTCOMES_EXCHANGE".to_owned(),
                format!("{prefix}.outcomes"),
            ),
            (
                "PREAUTH__TOPOLOGY__PARKING_QUEUE".to_owned(),
                format!("{prefix}.dead"),
            ),
        ];
        // The same settings as `settings_env` gives the worker process.
        let mut settings = Settings::load_without_env(None).expect("settings");
        settings.amqp.url = url.to_owned();
        settings.topology.work_queue = format!("{prefix}.work");
        settings.topology.cases_exchange = format!("{prefix}.cases");
        settings.topology.outcomes_exchange = format!("{prefix}.outcomes");
        settings.topology.parking_queue = format!("{prefix}.dead");
        let topology = Topology::from_settings(&settings);
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("RabbitMQ is needed for this benchmark");
        let ch = conn.create_channel().await.expect("channel");
        // The worker's own topology (quorum work queue), declared up front so the backlog can
        // be loaded before the consumer starts; plus a quorum queue collecting the outcomes.
        topology
            .declare(&ch, Duration::from_secs(10))
            .await
            .expect("topology");
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        ch.queue_declare(
            ShortString::from(format!("{prefix}.collect")),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await
        .expect("collect queue");
        ch.queue_bind(
            ShortString::from(format!("{prefix}.collect")),
            ShortString::from(topology.outcomes_exchange.as_str()),
            ShortString::from("outcome.#"),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        Self {
            prefix,
            topology,
            settings_env,
            conn,
            ch,
        }
    }

    /// Pre-loads `n` case events (the contract example with fresh ids), confirmed.
    async fn load(&self, n: usize) {
        let template: serde_json::Value = serde_json::from_str(include_str!(
            "../examples/01-eyelid-margin-cornea-approved.json"
        ))
        .expect("example");
        let mut confirms = Vec::with_capacity(1000);
        for i in 0..n {
            let mut v = template.clone();
            v["event_id"] = serde_json::Value::from(format!("{}-{i:07}", self.prefix));
            v["case_id"] = serde_json::Value::from(format!("C-{i:07}"));
            let body = serde_json::to_vec(&v).expect("json");
            confirms.push(
                self.ch
                    .basic_publish(
                        ShortString::from(self.topology.cases_exchange.as_str()),
                        ShortString::from("case.submitted"),
                        BasicPublishOptions::default(),
                        &body,
                        BasicProperties::default().with_delivery_mode(2),
                    )
                    .await
                    .expect("publish"),
            );
            if confirms.len() == 1000 {
                for c in confirms.drain(..) {
                    c.await.expect("confirm");
                }
            }
        }
        for c in confirms.drain(..) {
            c.await.expect("confirm");
        }
    }

    /// Collects `n` outcomes; returns each one's latency (ms) from the time in `sent` for its
    /// event (the outcome's correlation id).
    async fn collect(
        &self,
        n: usize,
        sent: &std::collections::HashMap<String, i64>,
        mut sample: impl FnMut(usize),
    ) -> Vec<f64> {
        let ch = self.conn.create_channel().await.expect("channel");
        ch.basic_qos(1000, BasicQosOptions::default())
            .await
            .expect("qos");
        let mut consumer = ch
            .basic_consume(
                ShortString::from(format!("{}.collect", self.prefix)),
                ShortString::from("bench"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let mut latencies = Vec::with_capacity(n);
        while latencies.len() < n {
            match tokio::time::timeout(Duration::from_secs(60), consumer.next()).await {
                Ok(Some(Ok(d))) => {
                    let corr = d
                        .properties
                        .correlation_id()
                        .as_ref()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default();
                    let at = now_ms();
                    latencies.push(sent.get(&corr).map(|s| (at - s) as f64).unwrap_or(0.0));
                    let _ = d.acker.ack(BasicAckOptions::default()).await;
                    sample(latencies.len());
                }
                _ => break,
            }
        }
        latencies
    }

    /// The backlog is loaded before the consumer starts, so latency is measured from the start
    /// of the drain: every event id maps to it.
    fn drain_start(&self, n: usize, start_ms: i64) -> std::collections::HashMap<String, i64> {
        (0..n)
            .map(|i| (format!("{}-{i:07}", self.prefix), start_ms))
            .collect()
    }

    async fn cleanup(self) {
        let mut queues = vec![
            format!("{}.collect", self.prefix),
            self.topology.work_queue.clone(),
            self.topology.parking_queue.clone(),
        ];
        queues.extend(self.topology.tiers.values().cloned());
        for q in queues {
            let _ = self
                .ch
                .queue_delete(ShortString::from(q.as_str()), QueueDeleteOptions::default())
                .await;
        }
        for x in [
            &self.topology.cases_exchange,
            &self.topology.outcomes_exchange,
        ] {
            let _ = self
                .ch
                .exchange_delete(ShortString::from(x.as_str()), Default::default())
                .await;
        }
        let _ = self.conn.close(200, ShortString::from("done")).await;
    }
}

/// The ceiling: a bare lapin consume → publish-with-confirm → ack passthrough, in this process,
/// with the worker's structure (separate connections, a task per delivery, prefetch-bounded).
async fn passthrough(url: &str, n: usize, prefetch: u16) -> Figures {
    let rig = Rig::new(url, "pt").await;
    rig.load(n).await;
    let consume_conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let publish_conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("connect");
    let pub_ch = publish_conn.create_channel().await.expect("channel");
    pub_ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let ch = consume_conn.create_channel().await.expect("channel");
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = ch
        .basic_consume(
            ShortString::from(rig.topology.work_queue.as_str()),
            ShortString::from("pt"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let outcomes = Arc::new(rig.topology.outcomes_exchange.clone());
    let start = now_ms();
    let sent = rig.drain_start(n, start);
    let started = Instant::now();
    let cpu_before = proc_stats(std::process::id()).1;
    let pump = tokio::spawn(async move {
        let mut taken = 0;
        while taken < n {
            let Some(Ok(d)) = consumer.next().await else {
                break;
            };
            taken += 1;
            let pub_ch = pub_ch.clone();
            let outcomes = Arc::clone(&outcomes);
            tokio::spawn(async move {
                let corr = {
                    let v: serde_json::Value = serde_json::from_slice(&d.data).unwrap_or_default();
                    v["event_id"].as_str().unwrap_or_default().to_owned()
                };
                let confirm = pub_ch
                    .basic_publish(
                        ShortString::from(outcomes.as_str()),
                        ShortString::from("outcome.approved"),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &d.data,
                        BasicProperties::default()
                            .with_delivery_mode(2)
                            .with_correlation_id(ShortString::from(corr)),
                    )
                    .await
                    .expect("publish");
                let _ = confirm.await;
                let _ = d.acker.ack(BasicAckOptions::default()).await;
            });
        }
    });
    let latencies = rig.collect(n, &sent, |_| {}).await;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = pump.await;
    let (hwm, cpu) = proc_stats(std::process::id());
    let _ = (
        consume_conn.close(200, "done".into()).await,
        publish_conn.close(200, "done".into()).await,
    );
    rig.cleanup().await;
    // The passthrough shares this process with the loader and collector: its memory and CPU are
    // not comparable, so they are reported as the whole bench process's.
    Figures::of(
        format!("passthrough ceiling (bare lapin, prefetch {prefetch})"),
        latencies,
        elapsed,
        hwm,
        cpu - cpu_before,
    )
}

/// The real worker process on the same setup, with a payer answering in `latency_ms`.
async fn worker(url: &str, n: usize, prefetch: u16, latency_ms: u64, tag: &str) -> Figures {
    let rig = Rig::new(url, tag).await;
    rig.load(n).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
    cmd.arg("run")
        .env("PREAUTH__AMQP__PREFETCH", prefetch.to_string())
        .env(
            "PREAUTH__PAYERS__DEFAULT__LATENCY",
            format!("{latency_ms}ms"),
        )
        .env("PREAUTH__LOG__LEVEL", "warn")
        .env("PREAUTH__OPS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in &rig.settings_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("worker");
    let pid = child.id();
    let start = now_ms();
    let sent = rig.drain_start(n, start);
    let started = Instant::now();
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
    let _ = child.kill();
    let _ = child.wait();
    rig.cleanup().await;
    Figures::of(
        format!("worker, payer {latency_ms} ms, prefetch {prefetch}"),
        latencies,
        elapsed,
        peak.max(hwm),
        cpu,
    )
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
    })
}

/// The run with the median throughput.
fn median(mut runs: Vec<Figures>) -> Figures {
    runs.sort_by(|a, b| a.per_s.total_cmp(&b.per_s));
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
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

async fn run() {
    let n: usize = env_or("BENCH_CASES", 20_000);
    let prefetch: u16 = env_or("BENCH_PREFETCH", 128);
    let slow_ms: u64 = env_or("BENCH_LATENCY_MS", 200);
    let backlog: usize = env_or("BENCH_BACKLOG", 100_000);
    let rounds: usize = env_or("BENCH_ROUNDS", 3usize).max(1);
    let url: String = env_or(
        "BENCH_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
    );

    // The ceiling and the worker at 0 ms alternate for a few rounds: on a shared machine one
    // pair of runs can differ by 10% either way. The table shows the median round of each.
    let mut ceilings = Vec::new();
    let mut workers = Vec::new();
    for round in 0..rounds {
        ceilings.push(passthrough(&url, n, prefetch).await);
        workers.push(worker(&url, n, prefetch, 0, &format!("w0r{round}")).await);
    }
    let ratios: Vec<String> = ceilings
        .iter()
        .zip(&workers)
        .map(|(c, w)| format!("{:.0}%", 100.0 * w.per_s / c.per_s))
        .collect();
    let mut rows = vec![median(ceilings), median(workers)];
    let ceiling = rows[0].per_s;
    let python = if env_or("BENCH_AIOPIKA", 1) == 1 {
        aiopika(&url, n, prefetch)
    } else {
        None
    };
    // With a slow payer, throughput is bounded by in-flight / latency: size the run to ~20 s.
    let slow_n = ((f64::from(prefetch) / (slow_ms.max(1) as f64 / 1000.0)) * 20.0) as usize;
    rows.push(worker(&url, slow_n.clamp(1000, n), prefetch, slow_ms, "w200").await);
    if backlog > 0 {
        rows.push(worker(&url, backlog, prefetch, 0, "wbig").await);
    }

    println!(
        "\n{:<44} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "run", "cases", "cases/s", "p50 ms", "p99 ms", "peak MiB", "CPU s/1000"
    );
    for r in rows.iter().chain(&python) {
        println!(
            "{:<44} {:>8} {:>9.0} {:>9.0} {:>9.0} {:>9.1} {:>11.3}",
            r.name, r.cases, r.per_s, r.p50_ms, r.p99_ms, r.rss_mib, r.cpu_per_1000
        );
    }
    let w0 = &rows[1];
    let w200 = &rows[2];
    let bound = f64::from(prefetch) / (slow_ms as f64 / 1000.0);
    println!(
        "\nworker/ceiling at payer 0 ms: {:.0}% of the median rounds (target ≥ 80%); round by round: {}",
        100.0 * w0.per_s / ceiling,
        ratios.join(", ")
    );
    println!(
        "payer {slow_ms} ms: {:.0} cases/s = {:.0}% of in-flight/latency = {:.0}/s, capped by the ceiling (target ≥ 90%)",
        w200.per_s,
        100.0 * w200.per_s / bound.min(ceiling),
        bound
    );
    match &python {
        Some(p) => println!(
            "worker at payer 0 ms / aio-pika passthrough: {:.1}x (target ≥ 3x)",
            w0.per_s / p.per_s
        ),
        None => println!("worker / aio-pika passthrough: not measured (see above)"),
    }
    if let Some(big) = rows.get(3) {
        println!(
            "peak RSS draining a {}-case backlog: {:.1} MiB (target < 48 MiB)",
            big.cases, big.rss_mib
        );
    }
    for r in &rows {
        assert!(r.cases > 0, "{}: no outcomes", r.name);
    }
}
