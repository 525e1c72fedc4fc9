//! Load benchmark: N case events through a real broker and the real worker process.
//!
//! `cargo bench --bench worker_load` (or scripts/bench-worker.sh). Settings from the environment:
//! BENCH_CASES (default 20000), BENCH_PREFETCH (64), BENCH_LATENCY_MS (simulated payer latency, 0),
//! BENCH_AMQP_URL (amqp://guest:guest@127.0.0.1:5672/%2f). Prints cases/s, end-to-end latency
//! percentiles, the worker's peak RSS and CPU seconds per 1,000 cases. Needs RabbitMQ.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set (VmHWM) and CPU seconds (user + system) of a process, from /proc.
fn proc_stats(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
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
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
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
    let prefetch: u16 = env_or("BENCH_PREFETCH", 64);
    let latency_ms: u64 = env_or("BENCH_LATENCY_MS", 0);
    let url: String = env_or(
        "BENCH_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
    );
    let prefix = format!("bench{}", std::process::id());
    let (cases_x, work_q, outcomes_x, dead_q, collect_q) = (
        format!("{prefix}.cases"),
        format!("{prefix}.work"),
        format!("{prefix}.outcomes"),
        format!("{prefix}.dead"),
        format!("{prefix}.collect"),
    );

    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ is needed for this benchmark");
    let ch = conn.create_channel().await.expect("channel");
    for x in [&cases_x, &outcomes_x] {
        ch.exchange_declare(
            ShortString::from(x.as_str()),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("exchange");
    }
    ch.queue_declare(
        ShortString::from(collect_q.as_str()),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("collect queue");
    ch.queue_bind(
        ShortString::from(collect_q.as_str()),
        ShortString::from(outcomes_x.as_str()),
        ShortString::from("outcome.#"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");

    // Pre-load the backlog, then start the worker: it measures draining N queued cases.
    let template: serde_json::Value = serde_json::from_str(include_str!(
        "../examples/01-eyelid-margin-cornea-approved.json"
    ))
    .expect("example");
    // The worker declares the work queue; declare it here with the same arguments first so the
    // backlog can be loaded before the worker starts.
    let settings = preauth_worker::config::Settings::load_with_env(
        None,
        vec![
            ("PREAUTH__TOPOLOGY__WORK_QUEUE".to_owned(), work_q.clone()),
            (
                "PREAUTH__TOPOLOGY__CASES_EXCHANGE".to_owned(),
                cases_x.clone(),
            ),
            (
                "PREAUTH__TOPOLOGY__OUTCOMES_EXCHANGE".to_owned(),
                outcomes_x.clone(),
            ),
            (
                "PREAUTH__TOPOLOGY__PARKING_QUEUE".to_owned(),
                dead_q.clone(),
            ),
        ],
    )
    .expect("settings");
    let topology = preauth_worker::amqp::topology::Topology::from_settings(&settings);
    topology
        .declare(&ch, Duration::from_secs(10))
        .await
        .expect("declare topology");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let started_publish = Instant::now();
    let mut confirms = Vec::with_capacity(1000);
    for i in 0..n {
        let mut v = template.clone();
        v["event_id"] = serde_json::Value::from(format!("bench-{i:07}"));
        v["case_id"] = serde_json::Value::from(format!("C-bench-{i:07}"));
        let body = serde_json::to_vec(&v).expect("json");
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        confirms.push(
            ch.basic_publish(
                ShortString::from(cases_x.as_str()),
                ShortString::from("case.submitted"),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_timestamp(now_s),
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
    eprintln!(
        "loaded {n} cases in {:.1} s",
        started_publish.elapsed().as_secs_f64()
    );

    let mut worker = Command::new(env!("CARGO_BIN_EXE_preauth-worker"))
        .arg("run")
        .env("PREAUTH__AMQP__URL", &url)
        .env("PREAUTH__TOPOLOGY__WORK_QUEUE", &work_q)
        .env("PREAUTH__TOPOLOGY__CASES_EXCHANGE", &cases_x)
        .env("PREAUTH__TOPOLOGY__OUTCOMES_EXCHANGE", &outcomes_x)
        .env("PREAUTH__TOPOLOGY__PARKING_QUEUE", &dead_q)
        .env("PREAUTH__AMQP__PREFETCH", prefetch.to_string())
        .env(
            "PREAUTH__PAYERS__DEFAULT__LATENCY",
            format!("{latency_ms}ms"),
        )
        .env("PREAUTH__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("worker");
    let pid = worker.id();
    let started = Instant::now();

    let consume = conn.create_channel().await.expect("channel");
    consume
        .basic_qos(1000, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = consume
        .basic_consume(
            ShortString::from(collect_q.as_str()),
            ShortString::from("bench"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut latencies = Vec::with_capacity(n);
    let mut peak = (0, 0.0);
    let mut seen = 0usize;
    let deadline = Instant::now() + Duration::from_secs(600);
    use futures::StreamExt;
    while seen < n && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(30), consumer.next()).await {
            Ok(Some(Ok(d))) => {
                seen += 1;
                latencies.push(started.elapsed().as_secs_f64());
                let _ = d.acker.ack(BasicAckOptions::default()).await;
                if seen.is_multiple_of(1000) {
                    peak = proc_stats(pid);
                }
            }
            _ => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (hwm_kb, _) = peak;
    let (hwm_end, cpu) = proc_stats(pid);
    let _ = worker.kill();
    let _ = worker.wait();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));

    println!(
        "worker_load: cases={n} outcomes={seen} prefetch={prefetch} payer_latency_ms={latency_ms}"
    );
    println!(
        "  throughput        {:>10.0} cases/s",
        seen as f64 / elapsed
    );
    println!("  drain time        {:>10.2} s", elapsed);
    println!(
        "  outcome at p50    {:>10.2} s after start (backlog drained in order)",
        percentile(&latencies, 0.5)
    );
    println!(
        "  worker peak RSS   {:>10.1} MiB",
        hwm_kb.max(hwm_end) as f64 / 1024.0
    );
    println!(
        "  worker CPU        {:>10.3} s per 1000 cases",
        cpu * 1000.0 / seen.max(1) as f64
    );

    for q in [&collect_q, &work_q, &dead_q] {
        let _ = ch
            .queue_delete(ShortString::from(q.as_str()), QueueDeleteOptions::default())
            .await;
    }
    for q in topology.tiers.values() {
        let _ = ch
            .queue_delete(ShortString::from(q.as_str()), QueueDeleteOptions::default())
            .await;
    }
    for x in [&cases_x, &outcomes_x] {
        let _ = ch
            .exchange_delete(ShortString::from(x.as_str()), Default::default())
            .await;
    }
    assert_eq!(seen, n, "not every case got its outcome");
}
