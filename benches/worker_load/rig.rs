//! What every run shares: the queues and exchanges of one run (the worker's own topology plus a
//! quorum queue collecting the outcomes), loading a backlog, collecting outcomes, and reading a
//! process's peak memory and CPU time from /proc.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use preauth_worker::amqp::topology::Topology;
use preauth_worker::config::Settings;

pub fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Peak resident set (VmHWM, KiB) and CPU seconds (user + system) of a process, from /proc.
pub fn proc_stats(pid: u32) -> (u64, f64) {
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

/// Stops a worker as an orchestrator does (SIGTERM, so it logs its summary line with the acks
/// it sent), and kills it if it has not exited within 10 s.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// CPU seconds the broker (RabbitMQ's `beam.smp`, when it runs on this machine) has used so far.
pub fn broker_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "beam.smp")
        })
        .map(|pid| proc_stats(pid).1)
        .sum()
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// One line of the results table.
pub struct Figures {
    pub name: String,
    pub cases: usize,
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rss_mib: f64,
    pub cpu_per_1000: f64,
    /// The broker's CPU seconds per 1,000 cases during the run.
    pub broker_per_1000: f64,
}

impl Figures {
    /// A run's figures from each outcome's latency (ms), the drain's duration (s), the peak RSS
    /// (KiB) and the CPU seconds spent.
    /// The broker's CPU seconds spent since `before` ([`broker_cpu`]), per 1,000 cases.
    pub fn with_broker(mut self, before: f64) -> Self {
        self.broker_per_1000 = (broker_cpu() - before) * 1000.0 / self.cases.max(1) as f64;
        self
    }

    pub fn of(
        name: String,
        mut latencies: Vec<f64>,
        elapsed: f64,
        peak_kib: u64,
        cpu: f64,
    ) -> Self {
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
            broker_per_1000: 0.0,
        }
    }
}

/// Names and a channel for one run.
pub struct Rig {
    pub prefix: String,
    pub topology: Topology,
    pub settings_env: Vec<(String, String)>,
    pub conn: Connection,
    pub ch: Channel,
}

impl Rig {
    pub async fn new(url: &str, tag: &str) -> Self {
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
        bound_quorum_queue(
            &ch,
            &format!("{prefix}.collect"),
            &topology.outcomes_exchange,
            "outcome.#",
        )
        .await;
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

    /// Declares a quorum queue bound to `progress.#` on the outcomes exchange, as the ledger's
    /// is: every progress event is then routed to a queue and kept. Returns its name, for
    /// [`Rig::delete_queue`].
    pub async fn bind_progress(&self) -> String {
        let queue = format!("{}.progress", self.prefix);
        bound_quorum_queue(
            &self.ch,
            &queue,
            &self.topology.outcomes_exchange,
            "progress.#",
        )
        .await;
        queue
    }

    /// Deletes a queue of this run's.
    pub async fn delete_queue(&self, queue: &str) {
        let _ = self
            .ch
            .queue_delete(ShortString::from(queue), QueueDeleteOptions::default())
            .await;
    }

    /// Pre-loads `n` case events (the contract example with fresh ids), confirmed.
    pub async fn load(&self, n: usize) {
        let template = Template::new();
        let mut confirms = Vec::with_capacity(1000);
        for i in 0..n {
            let body = template.body(&self.event_id(i), i);
            confirms.push(self.publish_case(&self.ch, &body).await);
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

    /// The event id of the `i`-th case of this run.
    pub fn event_id(&self, i: usize) -> String {
        format!("{}-{i:07}", self.prefix)
    }

    /// Publishes one case event (persistent) on `ch`, which is in confirm mode; returns the
    /// confirm to await.
    pub async fn publish_case(&self, ch: &Channel, body: &[u8]) -> lapin::PublisherConfirm {
        ch.basic_publish(
            ShortString::from(self.topology.cases_exchange.as_str()),
            ShortString::from("case.submitted"),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
    }

    /// Starts the release worker (`preauth-worker run`) on this run's queues, the simulated payer
    /// answering in `latency_ms`, logging at the shipped level (info) to a discarded stdout, with
    /// `settings` (environment pairs) on top of the shipped defaults.
    pub fn spawn_worker(&self, prefetch: u16, latency_ms: u64, settings: &[(&str, &str)]) -> Child {
        // BENCH_WORKER_BIN runs another build of the worker (an earlier commit's, to compare).
        let bin = std::env::var("BENCH_WORKER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_preauth-worker").to_owned());
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .env("PREAUTH__AMQP__PREFETCH", prefetch.to_string())
            .env(
                "PREAUTH__PAYERS__DEFAULT__LATENCY",
                format!("{latency_ms}ms"),
            )
            .env("PREAUTH__OPS__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &self.settings_env {
            cmd.env(k, v);
        }
        cmd.envs(settings.iter().copied());
        // BENCH_WORKER_ENV="KEY=value KEY2=value2" passes settings to the worker (experiments).
        for pair in std::env::var("BENCH_WORKER_ENV")
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Some((k, v)) = pair.split_once('=') {
                cmd.env(k, v);
            }
        }
        cmd.spawn().expect("worker")
    }

    /// Waits until something consumes the work queue (the worker has started).
    pub async fn wait_for_consumer(&self) {
        for _ in 0..300 {
            let q = self
                .ch
                .queue_declare(
                    ShortString::from(self.topology.work_queue.as_str()),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("work queue");
            if q.consumer_count() > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the worker did not start consuming within 15 s");
    }

    /// Collects `n` outcomes; returns each one's latency (ms) from the time in `sent` for its
    /// event (the outcome's correlation id).
    pub async fn collect(
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
    pub fn drain_start(&self, n: usize, start_ms: i64) -> std::collections::HashMap<String, i64> {
        (0..n).map(|i| (self.event_id(i), start_ms)).collect()
    }

    pub async fn cleanup(self) {
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

/// The contract's example case event, written once with markers where each case's ids go, so a
/// body costs a few copies instead of a JSON tree (the open-loop generator makes thousands a
/// second on the cores the worker and the broker use).
pub struct Template {
    /// The text around the two markers, and whether the event id comes first.
    parts: [Vec<u8>; 3],
    event_first: bool,
}

impl Template {
    const EVENT: &'static str = "@@EVENT@@";
    const CASE: &'static str = "@@CASE@@";

    pub fn new() -> Self {
        let mut v: serde_json::Value = serde_json::from_str(include_str!(
            "../../examples/01-eyelid-margin-cornea-approved.json"
        ))
        .expect("example");
        v["event_id"] = serde_json::Value::from(Self::EVENT);
        v["case_id"] = serde_json::Value::from(Self::CASE);
        let text = serde_json::to_string(&v).expect("json");
        let e = text.find(Self::EVENT).expect("event id marker");
        let c = text.find(Self::CASE).expect("case id marker");
        let (first, second) = if e < c {
            ((e, Self::EVENT), (c, Self::CASE))
        } else {
            ((c, Self::CASE), (e, Self::EVENT))
        };
        let bytes = text.as_bytes();
        Self {
            parts: [
                bytes[..first.0].to_vec(),
                bytes[first.0 + first.1.len()..second.0].to_vec(),
                bytes[second.0 + second.1.len()..].to_vec(),
            ],
            event_first: e < c,
        }
    }

    /// The body of case `i` (`case_id` C-000000i) with `event_id`.
    pub fn body(&self, event_id: &str, i: usize) -> Vec<u8> {
        let case_id = format!("C-{i:07}");
        let (a, b) = if self.event_first {
            (event_id, case_id.as_str())
        } else {
            (case_id.as_str(), event_id)
        };
        let mut out =
            Vec::with_capacity(self.parts.iter().map(Vec::len).sum::<usize>() + a.len() + b.len());
        out.extend_from_slice(&self.parts[0]);
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(&self.parts[1]);
        out.extend_from_slice(b.as_bytes());
        out.extend_from_slice(&self.parts[2]);
        out
    }
}

/// Declares the quorum queue `queue`, bound to `exchange` with `key`.
async fn bound_quorum_queue(ch: &Channel, queue: &str, exchange: &str, key: &str) {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        ShortString::from(queue),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .expect("declare a quorum queue");
    ch.queue_bind(
        ShortString::from(queue),
        ShortString::from(exchange),
        ShortString::from(key),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
}
