//! Test harness for the broker: random names per test, a worker process, a client that publishes
//! case events and collects outcomes over a real connection.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;

pub const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// One outcome as received: its properties and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub delivery_mode: Option<u8>,
    pub content_type: Option<String>,
    pub kind: Option<String>,
    pub routing_key: String,
    /// The W3C `traceparent` header, when the worker wrote one.
    pub traceparent: Option<String>,
}

/// A parked message.
#[derive(Debug, Clone)]
pub struct Parked {
    pub body: Vec<u8>,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

pub struct Broker {
    pub prefix: String,
    /// The broker this client (and, by default, the workers it configures) connects to.
    pub url: String,
    conn: Connection,
    pub channel: Channel,
    outcome_queue: String,
    /// Set by `cleanup`; otherwise `Drop` removes the test's queues.
    cleaned: bool,
}

fn header(props: &BasicProperties, key: &str) -> Option<String> {
    match props.headers().as_ref()?.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

impl Broker {
    /// Connects and declares this test's outcomes exchange with a queue bound to every outcome.
    pub async fn new() -> Self {
        Self::new_at(URL).await
    }

    /// As `new`, on the broker at `url`.
    pub async fn new_at(url: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = format!("t{:x}{nanos:x}{n}", std::process::id());
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("broker reachable");
        let channel = conn.create_channel().await.expect("channel");
        let mut b = Self {
            outcome_queue: format!("{prefix}.outcomes.collect"),
            prefix,
            url: url.to_owned(),
            conn,
            channel,
            cleaned: false,
        };
        b.declare_exchange(&b.outcomes_exchange()).await;
        b.declare_exchange(&b.cases_exchange()).await;
        b.bind_outcomes().await;
        b
    }

    /// Opens a new connection to `url` (another node of a cluster).
    pub async fn reconnect_to(&mut self, url: &str) {
        self.url = url.to_owned();
        self.reconnect().await;
    }

    /// Opens a new connection after the broker restarted (same names, same collecting queue).
    pub async fn reconnect(&mut self) {
        let mut last = None;
        for _ in 0..60 {
            match Connection::connect(&self.url, ConnectionProperties::default()).await {
                Ok(conn) => {
                    self.channel = conn.create_channel().await.expect("channel");
                    self.conn = conn;
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("broker did not come back: {last:?}");
    }

    pub fn cases_exchange(&self) -> String {
        format!("{}.cases", self.prefix)
    }
    pub fn work_queue(&self) -> String {
        format!("{}.work", self.prefix)
    }
    pub fn outcomes_exchange(&self) -> String {
        format!("{}.outcomes", self.prefix)
    }
    pub fn parking_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    async fn declare_exchange(&self, name: &str) {
        self.channel
            .exchange_declare(
                ShortString::from(name),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare exchange");
    }

    /// Binds a collecting queue to the outcomes exchange (call again after `unbind_outcomes`).
    pub async fn bind_outcomes(&mut self) {
        self.channel
            .queue_declare(
                ShortString::from(self.outcome_queue.as_str()),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare outcome queue");
        self.channel
            .queue_bind(
                ShortString::from(self.outcome_queue.as_str()),
                ShortString::from(self.outcomes_exchange().as_str()),
                ShortString::from("outcome.#"),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind outcome queue");
    }

    /// Removes the collecting queue: nothing is bound to the outcomes exchange any more.
    pub async fn unbind_outcomes(&mut self) {
        self.channel
            .queue_delete(
                ShortString::from(self.outcome_queue.as_str()),
                QueueDeleteOptions::default(),
            )
            .await
            .expect("delete outcome queue");
    }

    /// Configuration for a worker using this test's names, with short waits.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PREAUTH__AMQP__URL".into(), self.url.clone()),
            (
                "PREAUTH__TOPOLOGY__CASES_EXCHANGE".into(),
                self.cases_exchange(),
            ),
            ("PREAUTH__TOPOLOGY__WORK_QUEUE".into(), self.work_queue()),
            (
                "PREAUTH__TOPOLOGY__OUTCOMES_EXCHANGE".into(),
                self.outcomes_exchange(),
            ),
            (
                "PREAUTH__TOPOLOGY__PARKING_QUEUE".into(),
                self.parking_queue(),
            ),
            ("PREAUTH__RETRY__DELAYS".into(), "[\"1s\", \"2s\"]".into()),
            ("PREAUTH__RETRY__IN_PROCESS_CALLS".into(), "1".into()),
            (
                "PREAUTH__FOLLOWUP__PENDED".into(),
                "[\"1s\", \"2s\"]".into(),
            ),
            ("PREAUTH__AMQP__TIMEOUT".into(), "5s".into()),
            ("PREAUTH__LOG__FORMAT".into(), "json".into()),
            ("PREAUTH__OPS__LISTEN".into(), "127.0.0.1:0".into()),
        ]
    }

    /// Publishes a case event to this test's cases exchange.
    pub async fn publish(&self, routing_key: &str, body: &[u8]) {
        self.publish_with_headers(routing_key, body, FieldTable::default())
            .await;
    }

    /// Publishes a case event with headers of the publisher's choosing.
    pub async fn publish_with_headers(&self, routing_key: &str, body: &[u8], headers: FieldTable) {
        let confirm = self
            .channel
            .basic_publish(
                ShortString::from(self.cases_exchange().as_str()),
                ShortString::from(routing_key),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type(ShortString::from("application/json"))
                    .with_headers(headers),
            )
            .await
            .expect("publish");
        confirm.await.expect("publish settles");
    }

    /// Publishes an example file with the routing key its kind calls for.
    pub async fn publish_case(&self, case: &Value) {
        let key = match case["kind"].as_str() {
            Some("appeal") => "case.appeal",
            Some("update") => "case.updated",
            Some("cancel") => "case.cancelled",
            _ => "case.submitted",
        };
        self.publish(key, &serde_json::to_vec(case).expect("json"))
            .await;
    }

    /// Collects outcomes until `done` says enough, or `timeout` passes. Polls with basic.get so
    /// nothing sits in a client-side buffer when a broker restart drops the connection.
    pub async fn collect(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut got = Vec::new();
        let deadline = Instant::now() + timeout;
        while !done(&got) && Instant::now() < deadline {
            match self
                .channel
                .basic_get(
                    ShortString::from(self.outcome_queue.as_str()),
                    BasicGetOptions { no_ack: true },
                )
                .await
            {
                Ok(Some(m)) => {
                    let d = &m.delivery;
                    let p = &d.properties;
                    got.push(Received {
                        body: serde_json::from_slice(&d.data).expect("outcome is JSON"),
                        message_id: p.message_id().as_ref().map(|s| s.as_str().to_owned()),
                        correlation_id: p.correlation_id().as_ref().map(|s| s.as_str().to_owned()),
                        delivery_mode: *p.delivery_mode(),
                        content_type: p.content_type().as_ref().map(|s| s.as_str().to_owned()),
                        kind: p.kind().as_ref().map(|s| s.as_str().to_owned()),
                        routing_key: d.routing_key.as_str().to_owned(),
                        traceparent: header(p, "traceparent"),
                    });
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("reading outcomes: {e}"),
            }
        }
        got
    }

    /// Takes every message from the parking queue.
    pub async fn parked(&self) -> Vec<Parked> {
        let mut out = Vec::new();
        while let Ok(Some(m)) = self
            .channel
            .basic_get(
                ShortString::from(self.parking_queue().as_str()),
                BasicGetOptions { no_ack: true },
            )
            .await
        {
            out.push(Parked {
                reason: header(&m.delivery.properties, "x-preauth-reason"),
                detail: header(&m.delivery.properties, "x-preauth-detail"),
                body: m.delivery.data.clone(),
            });
        }
        out
    }

    /// Takes parked messages until at least `at_least` arrived (or 10 s passed).
    pub async fn wait_parked(&self, at_least: usize) -> Vec<Parked> {
        let mut parked = Vec::new();
        for _ in 0..100 {
            parked.extend(self.parked().await);
            if parked.len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        parked
    }

    /// Waits (up to 10 s) until `queue` holds `want` ready messages; returns the last count. The
    /// quorum queue returns messages asynchronously after a consumer lets them go.
    pub async fn wait_depth(&self, queue: &str, want: u32) -> u32 {
        let mut depth = 0;
        for _ in 0..100 {
            depth = self.depth(queue).await;
            if depth == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        depth
    }

    /// Ready and unacknowledged messages in `queue`, as the broker counts them (rabbitmqctl: a
    /// passive declare reports ready messages only, so it cannot tell whether an ack arrived).
    pub async fn counts(&self, queue: &str) -> Option<(u64, u64)> {
        let vhost = self.vhost();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("rabbitmqctl")
                .args([
                    "list_queues",
                    "-q",
                    "--no-table-headers",
                    "-p",
                    vhost.as_str(),
                    "name",
                    "messages_ready",
                    "messages_unacknowledged",
                ])
                .output()
        })
        .await
        .expect("rabbitmqctl task")
        .expect("rabbitmqctl runs (scripts/test.sh installs RabbitMQ)");
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let mut f = l.split_whitespace();
            if f.next()? != queue {
                return None;
            }
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
    }

    /// Waits (up to 20 s) until the broker holds nothing of `queue`, neither ready nor
    /// unacknowledged: every delivery from it was settled. Call it before stopping a worker
    /// whose work is meant to be done, or the stop can land between an outcome and its ack.
    pub async fn wait_settled(&self, queue: &str) -> (u64, u64) {
        let mut last = (u64::MAX, u64::MAX);
        for _ in 0..100 {
            last = self.counts(queue).await.unwrap_or(last);
            if last == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        last
    }

    fn vhost(&self) -> String {
        let tail = self.url.rsplit('/').next().unwrap_or_default();
        match tail {
            "" | "%2f" | "%2F" => "/".to_owned(),
            v => v.replace("%2f", "/").replace("%2F", "/"),
        }
    }

    /// Ready plus unacknowledged messages in a queue.
    pub async fn depth(&self, queue: &str) -> u32 {
        let ch = self.conn.create_channel().await.expect("channel");
        match ch
            .queue_declare(
                ShortString::from(queue),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
        {
            Ok(q) => q.message_count(),
            Err(_) => 0,
        }
    }

    /// Deletes everything this test declared (best effort).
    pub async fn cleanup(mut self) {
        let _ = self.conn.close(200, ShortString::from("done")).await;
        self.cleaned = true;
        let (url, vhost, prefix) = (self.url.clone(), self.vhost(), self.prefix.clone());
        // On a thread of its own: `Drop` does the same where no runtime can be awaited.
        let _ =
            tokio::task::spawn_blocking(move || remove_test_objects(&url, &vhost, &prefix)).await;
    }
}

impl Drop for Broker {
    /// A test that panicked before `cleanup` still leaves nothing behind on the shared broker.
    fn drop(&mut self) {
        if !self.cleaned {
            remove_test_objects(&self.url, &self.vhost(), &self.prefix);
        }
    }
}

/// Deletes every queue and exchange of one test (all named `<prefix>.…`: the delay tiers and
/// awaiting queues the worker made included). Blocking; runs its own small runtime.
fn remove_test_objects(url: &str, vhost: &str, prefix: &str) {
    let listed = Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "--no-table-headers",
            "-p",
            vhost,
            "name",
        ])
        .output();
    let mine = format!("{prefix}.");
    let queues: Vec<String> = listed
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .filter(|q| q.starts_with(&mine))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let exchanges = [format!("{prefix}.cases"), format!("{prefix}.outcomes")];
    let url = url.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let connected = tokio::time::timeout(
                Duration::from_secs(5),
                Connection::connect(&url, ConnectionProperties::default()),
            )
            .await;
            let Ok(Ok(conn)) = connected else { return };
            let Ok(ch) = conn.create_channel().await else {
                return;
            };
            for q in &queues {
                let _ = ch
                    .queue_delete(ShortString::from(q.as_str()), QueueDeleteOptions::default())
                    .await;
            }
            for x in &exchanges {
                let _ = ch
                    .exchange_delete(ShortString::from(x.as_str()), Default::default())
                    .await;
            }
            let _ = conn.close(200, ShortString::from("done")).await;
        });
    })
    .join();
}

/// The settings a worker process started with `env` and `config` reads (the variables read the
/// way figment's `Env` reads them).
pub fn settings_from(
    env: &[(String, String)],
    config: Option<&std::path::Path>,
) -> preauth_worker::config::Settings {
    let mut overrides = figment::Figment::new();
    for (k, v) in env {
        let Some(key) = k.strip_prefix(preauth_worker::config::ENV_PREFIX) else {
            continue;
        };
        let value: figment::value::Value = v.parse().expect("a value");
        overrides = overrides.merge(figment::providers::Serialized::default(
            &key.to_lowercase().replace("__", "."),
            value,
        ));
    }
    preauth_worker::config::Settings::load_with(config, overrides).expect("settings load")
}

/// A worker started in this test process, through the same `App` and `Application` calls the
/// binary makes: for tests where a process boundary is not the point (SIGKILL, SIGTERM and log
/// checks use [`WorkerProcess`]). Stopped, and drained, when dropped or `stop`ped.
pub struct InProcessWorker {
    ops: std::net::SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), preauth_worker::amqp::AmqpError>>>,
}

impl InProcessWorker {
    /// Builds the worker from the shipped defaults, `config` and `env`, binds its listeners and
    /// waits until it consumes.
    pub async fn start_ready(env: &[(String, String)], config: Option<&std::path::Path>) -> Self {
        let settings = settings_from(env, config);
        let app = preauth_worker::app::App::build(settings).expect("the worker builds");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let application = preauth_worker::startup::Application::build(app, shutdown.clone())
            .await
            .expect("listeners bind");
        let ops = application.ops_addr();
        let health = application.health();
        let task = tokio::spawn(application.run_until_stopped());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !health.ready() {
            assert!(
                Instant::now() < deadline,
                "the in-process worker never became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            ops,
            shutdown,
            task: Some(task),
        }
    }

    pub fn ops_url(&self) -> String {
        format!("http://{}", self.ops)
    }

    /// What a failed assertion can show: an in-process worker logs to the test's own output.
    pub fn logs(&self) -> &'static str {
        "(in-process worker: see the test output)"
    }

    /// Asks for shutdown and waits until in-flight cases are drained.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let ended = tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("the worker stops within its grace period")
                .expect("the worker task ends without panicking");
            ended.expect("the worker ends cleanly");
        }
    }
}

impl Drop for InProcessWorker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A worker process.
pub struct WorkerProcess {
    child: Child,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl WorkerProcess {
    pub fn start(env: &[(String, String)]) -> Self {
        Self::start_with_args(env, &[])
    }

    /// Starts a worker with extra arguments after `run` and waits until it consumes.
    pub async fn start_ready_with_args(env: &[(String, String)], args: &[&str]) -> Self {
        let w = Self::start_with_args(env, args);
        assert!(
            w.wait_for_log("Consuming case events.", Duration::from_secs(30))
                .await,
            "{}",
            w.logs()
        );
        w
    }

    pub fn start_with_args(env: &[(String, String)], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("worker.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
        cmd.arg("run")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PREAUTH__")) {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self {
            child: cmd.spawn().expect("worker starts"),
            log,
            _dir: dir,
        }
    }

    /// Starts a worker and waits until it consumes (its topology is declared and bound).
    pub async fn start_ready(env: &[(String, String)]) -> Self {
        let w = Self::start(env);
        assert!(
            w.wait_for_log("Consuming case events.", Duration::from_secs(30))
                .await,
            "the worker did not start consuming: {}",
            w.logs()
        );
        w
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The ops endpoints' base URL, read from the worker's log.
    pub async fn ops_url(&self) -> String {
        self.listening_url("Ops endpoints listening").await
    }

    /// The notification listener's base URL, read from the worker's log.
    pub async fn notify_url(&self) -> String {
        self.listening_url("Payer notifications listening").await
    }

    /// The `addr` of the JSON log line that contains `message`, as an http:// base URL.
    async fn listening_url(&self, message: &str) -> String {
        assert!(
            self.wait_for_log(message, Duration::from_secs(20)).await,
            "{}",
            self.logs()
        );
        let logs = self.logs();
        let line = logs
            .lines()
            .find(|l| l.contains(message))
            .unwrap_or_default();
        let v: Value = serde_json::from_str(line).expect("JSON log line");
        format!("http://{}", v["addr"].as_str().expect("addr"))
    }

    /// Peak resident memory of the process (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Terminal outcomes per event id.
pub fn terminal_by_event(got: &[Received]) -> BTreeMap<String, Vec<Received>> {
    let mut map: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    let waiting = |r: &&Received| {
        matches!(
            r.body["status"].as_str(),
            Some("pended" | "information-requested")
        )
    };
    for r in got.iter().filter(|r| !waiting(r)) {
        map.entry(r.body["event_id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(r.clone());
    }
    map
}

/// Each event's current state by the contract's rule: its outcome with the highest `sequence`.
pub fn current_state(got: &[Received]) -> BTreeMap<String, Received> {
    let mut map: BTreeMap<String, Received> = BTreeMap::new();
    for r in got {
        let event = r.body["event_id"].as_str().unwrap_or_default().to_owned();
        let seq = r.body["sequence"].as_u64().unwrap_or(0);
        match map.get(&event) {
            Some(have) if have.body["sequence"].as_u64().unwrap_or(0) >= seq => {}
            _ => {
                map.insert(event, r.clone());
            }
        }
    }
    map
}

pub fn count_terminal(got: &[Received]) -> usize {
    terminal_by_event(got).len()
}
