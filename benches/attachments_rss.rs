//! Memory benchmark for documents sent inline: every case carries three 5 MiB photos, fetched
//! from a folder store and sent in PAS bundles over HTTP to a payer-sim process, with the
//! worker's prefetch at 64. Prints the worker's peak RSS and throughput with the shipped byte
//! budget (`attachments.max_bytes_in_flight`, 256 MiB), and with the budget lifted, to show what
//! the budget holds back. The allocator is the binary's (jemalloc, with allocations of 1 MiB and
//! more given back when freed: .cargo/config.toml). docs/performance.md records the target.
//!
//! `cargo bench --bench attachments_rss` (scripts/bench-attachments.sh). Environment:
//! BENCH_CASES (128), BENCH_PREFETCH (64), BENCH_PHOTO_MIB (5), BENCH_LATENCY_MS (200: the payer
//! takes this long to answer, so requests pile up in flight), BENCH_UNBOUNDED (1: also run with
//! the budget lifted; 0 skips it), BENCH_AMQP_URL. Needs RabbitMQ.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use preauth_worker::amqp::topology::Topology;
use preauth_worker::config::Settings;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set now and at its peak (VmRSS, VmHWM), in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A photo of `bytes` bytes: a JPEG signature, then bytes that do not compress.
fn photo(bytes: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < bytes {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(bytes);
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Run {
    label: &'static str,
    cases: usize,
    seconds: f64,
    peak_mib: f64,
}

async fn run_once(
    label: &'static str,
    url: &str,
    dir: &std::path::Path,
    sim: u16,
    budget: u64,
) -> Run {
    let n: usize = env_or("BENCH_CASES", 128);
    let prefetch: u16 = env_or("BENCH_PREFETCH", 64);
    let prefix = format!("benchatt{}{}", std::process::id(), budget % 1000);
    let config = dir.join(format!("{prefix}.toml"));
    std::fs::write(
        &config,
        format!(
            "[payers.default]\nadapter = \"fhir-pas\"\nallow_insecure_http = true\nbase_url = \"http://127.0.0.1:{sim}/\"\ntimeout = \"120s\"\nconcurrency = 256\n\n\
             [attachments]\nmax_bytes_in_flight = {budget}\n\n\
             [attachments.sources.bench]\nprefix = \"pm://bench/\"\nkind = \"folder\"\nroot = \"{}\"\n",
            dir.join("store").display()
        ),
    )
    .expect("config");
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
    topology
        .declare(&ch, Duration::from_secs(10))
        .await
        .expect("topology");
    let collect = format!("{prefix}.collect");
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        ShortString::from(collect.as_str()),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .expect("collect queue");
    ch.queue_bind(
        ShortString::from(collect.as_str()),
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
    // The backlog: the contract example with fresh ids and three photos.
    let mut template: serde_json::Value = serde_json::from_str(include_str!(
        "../examples/01-eyelid-margin-cornea-approved.json"
    ))
    .expect("example");
    template["documentation"]["photos"] = serde_json::json!([
        {"id": "IMG-A", "taken_on": "2026-11-18", "uri": "pm://bench/IMG-A", "content_type": "image/jpeg"},
        {"id": "IMG-B", "taken_on": "2026-11-18", "uri": "pm://bench/IMG-B", "content_type": "image/jpeg"},
        {"id": "IMG-C", "taken_on": "2026-11-18", "uri": "pm://bench/IMG-C", "content_type": "image/jpeg"},
    ]);
    for i in 0..n {
        let mut v = template.clone();
        v["event_id"] = serde_json::Value::from(format!("{prefix}-{i:07}"));
        v["case_id"] = serde_json::Value::from(format!("C-{i:07}"));
        ch.basic_publish(
            ShortString::from(topology.cases_exchange.as_str()),
            ShortString::from("case.submitted"),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&v).expect("json"),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
    cmd.arg("--config")
        .arg(&config)
        .arg("run")
        .env("PREAUTH__AMQP__URL", url)
        .env("PREAUTH__AMQP__PREFETCH", prefetch.to_string())
        .env("PREAUTH__TOPOLOGY__WORK_QUEUE", &topology.work_queue)
        .env(
            "PREAUTH__TOPOLOGY__CASES_EXCHANGE",
            &topology.cases_exchange,
        )
        .env(
            "PREAUTH__TOPOLOGY__OUTCOMES_EXCHANGE",
            &topology.outcomes_exchange,
        )
        .env("PREAUTH__TOPOLOGY__PARKING_QUEUE", &topology.parking_queue)
        .env("PREAUTH__OUTCOMES__PROGRESS", "false")
        .env("PREAUTH__LOG__LEVEL", "warn")
        .env("PREAUTH__OPS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let worker = Killed(cmd.spawn().expect("worker"));
    let pid = worker.0.id();
    let started = Instant::now();
    let ch2 = conn.create_channel().await.expect("channel");
    ch2.basic_qos(1000, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = ch2
        .basic_consume(
            ShortString::from(collect.as_str()),
            ShortString::from("bench"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    let mut seen = 0;
    let mut peak = 0;
    while seen < n {
        match tokio::time::timeout(Duration::from_millis(250), consumer.next()).await {
            Ok(Some(Ok(d))) => {
                let v: serde_json::Value = serde_json::from_slice(&d.data).unwrap_or_default();
                *statuses
                    .entry(v["status"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
                let _ = d.acker.ack(BasicAckOptions::default()).await;
                seen += 1;
            }
            Ok(_) => break,
            Err(_) if started.elapsed() > Duration::from_secs(600) => break,
            Err(_) => {}
        }
        peak = peak.max(rss(pid).1);
    }
    let seconds = started.elapsed().as_secs_f64();
    peak = peak.max(rss(pid).1);
    drop(worker);
    for q in [
        collect.clone(),
        topology.work_queue.clone(),
        topology.parking_queue.clone(),
    ]
    .into_iter()
    .chain(topology.tiers.values().cloned())
    {
        let _ = ch
            .queue_delete(ShortString::from(q.as_str()), QueueDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, ShortString::from("done")).await;
    println!("  {label}: outcomes {statuses:?}");
    Run {
        label,
        cases: seen,
        seconds,
        peak_mib: peak as f64 / 1024.0,
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter naming another benchmark skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"attachments_rss".contains(&a))
    {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = std::env::var("BENCH_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
        let mib: usize = env_or("BENCH_PHOTO_MIB", 5);
        let latency: u64 = env_or("BENCH_LATENCY_MS", 200);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("store")).expect("store");
        for (i, name) in ["IMG-A", "IMG-B", "IMG-C"].iter().enumerate() {
            std::fs::write(dir.path().join("store").join(name), photo(mib << 20, i as u64 + 1))
                .expect("photo");
        }
        let port = free_port();
        let _sim = Killed(
            Command::new(env!("CARGO_BIN_EXE_preauth-worker"))
                .args(["payer-sim", "--listen", &format!("127.0.0.1:{port}")])
                .args(["--latency", &format!("{latency}ms")])
                .env("PREAUTH__LOG__LEVEL", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("payer-sim"),
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let prefetch: u16 = env_or("BENCH_PREFETCH", 64);
        println!(
            "attachments_rss: 3 photos of {mib} MiB a case, prefetch {prefetch}, payer-sim over HTTP answering in {latency} ms"
        );
        let (p, d) = (port, dir.path());
        let mut runs = vec![run_once("256 MiB budget", &url, d, p, 256 << 20).await];
        if env_or("BENCH_UNBOUNDED", 1) == 1 {
            runs.push(run_once("budget lifted", &url, d, p, 64 << 30).await);
        }
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "{:<30} {:>6} {:>9} {:>11} {:>14}",
            "run", "cases", "cases/s", "MiB/s sent", "peak RSS MiB"
        );
        for r in &runs {
            let sent = r.cases as f64 * 3.0 * mib as f64 * 4.0 / 3.0 / r.seconds;
            let _ = writeln!(
                out,
                "{:<30} {:>6} {:>9.1} {:>11.0} {:>14.0}",
                r.label,
                r.cases,
                r.cases as f64 / r.seconds,
                sent,
                r.peak_mib
            );
        }
    });
}
