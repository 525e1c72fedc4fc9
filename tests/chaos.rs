//! Proof under fire: thousands of cases in flight while workers are killed (also right between a
//! confirmed terminal outcome and its ack), the broker restarts, pauses or raises a memory alarm,
//! and the payer goes down or answers 429/5xx at random. Every scenario ends with the invariant
//! check: each published event has a terminal outcome, and its outcomes keep the contract's rule
//! (duplicates only under the same outcome id; only a `failed` is superseded, by an outcome with
//! a higher sequence; the highest is terminal), no outcome for an event never published, and
//! every payer request maps to one case.
//!
//! A binary of its own: the broker-wide faults must not hit other tests. `scripts/chaos.sh`
//! runs it at full size (CHAOS_CASES, default 3000); `scripts/test.sh` runs a short version.

#[path = "it/broker.rs"]
mod broker;
#[path = "it/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use broker::{Broker, Received, WorkerProcess};
use preauth_worker::payer::sim::server::{Scenario, Seen, SimHandle};
use preauth_worker::payer::sim::Faults;
use serde_json::Value;
use support::{examples, read_json};

fn cases() -> usize {
    std::env::var("CHAOS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Seconds a payer outage or a broker pause lasts.
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("CHAOS_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12),
    )
}

#[path = "chaos/invariant.rs"]
mod invariant;
use invariant::{check, judge, Row, Seen1};

async fn sim(scenario: Scenario) -> SimHandle {
    support::payer_sim("default", scenario).await
}

/// A scenario's world: broker names, payer simulator, worker configuration.
struct World {
    b: Broker,
    sim: SimHandle,
    env: Vec<(String, String)>,
    args: Vec<String>,
    published: BTreeSet<String>,
    got: Vec<Received>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(scenario: Scenario, extra_env: &[(&str, &str)]) -> Self {
        Self::new_at(broker::URL, scenario, extra_env).await
    }

    async fn new_at(url: &str, scenario: Scenario, extra_env: &[(&str, &str)]) -> Self {
        let b = Broker::new_at(url).await;
        let sim = sim(scenario).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("worker.toml");
        std::fs::write(&cfg, format!("[payers.default]\nadapter = \"fhir-pas\"\npayer_name = \"Acme Health Plan\"\npayer_identifier = \"60054\"\npayer_identifier_system = \"urn:oid:2.16.840.1.113883.6.300\"\nmember_id_system = \"https://acme.example/fhir/member-id\"\nallow_insecure_http = true\nbase_url = \"{}\"\ntimeout = \"2s\"\nconcurrency = 64\n", sim.base_url())).expect("config");
        let mut env = b.env();
        env.retain(|(k, _)| {
            !k.starts_with("PREAUTH__RETRY") && !k.starts_with("PREAUTH__FOLLOWUP")
        });
        env.push((
            "PREAUTH__RETRY__DELAYS".into(),
            "[\"1s\", \"2s\", \"5s\", \"10s\", \"20s\", \"30s\"]".into(),
        ));
        env.push((
            "PREAUTH__FOLLOWUP__PENDED".into(),
            "[\"500ms\", \"1s\", \"2s\"]".into(),
        ));
        env.push((
            "PREAUTH__LOG__LEVEL".into(),
            "preauth_worker=info,warn".into(),
        ));
        for (k, v) in extra_env {
            env.retain(|(e, _)| e != k);
            env.push((k.to_string(), v.to_string()));
        }
        let args = vec![
            "--config".to_owned(),
            cfg.to_str().expect("utf-8").to_owned(),
        ];
        Self {
            b,
            sim,
            env,
            args,
            published: BTreeSet::new(),
            got: Vec::new(),
            _dir: dir,
        }
    }

    async fn worker(&self) -> WorkerProcess {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        WorkerProcess::start_ready_with_args(&self.env, &args).await
    }

    /// Publishes `n` cases: most approve at once, every tenth is pended and followed up.
    async fn publish(&mut self, n: usize, tag: &str) {
        let approve = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
        let pend = read_json(&examples().join("11-eyelid-excision-pended-approved.json"));
        for i in 0..n {
            let mut v = if i % 10 == 0 {
                pend.clone()
            } else {
                approve.clone()
            };
            let event = format!("{tag}-{i:06}");
            v["event_id"] = Value::from(event.clone());
            v["case_id"] = Value::from(format!("C-{tag}-{i:06}"));
            self.b.publish_case(&v).await;
            self.published.insert(event);
        }
    }

    fn terminal(&self) -> usize {
        broker::count_terminal(&self.got)
    }

    /// Collects until `target` events have terminal outcomes, or `timeout`.
    async fn until(&mut self, target: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.terminal() < target && Instant::now() < deadline {
            let already = self.got.clone();
            let more = self
                .b
                .collect(Duration::from_millis(500), |g| {
                    broker::count_terminal(&[already.as_slice(), g].concat()) >= target
                })
                .await;
            self.got.extend(more);
        }
    }

    /// Collects until everything published has its outcome; returns the seconds from `since`
    /// to the first outcome after it (time to recover).
    async fn finish(&mut self, since: Instant, timeout: Duration) -> f64 {
        let before = self.got.len();
        let mut first_after: Option<f64> = None;
        let deadline = Instant::now() + timeout;
        let target = self.published.len();
        while self.terminal() < target && Instant::now() < deadline {
            let more = self
                .b
                .collect(Duration::from_millis(200), |g| !g.is_empty())
                .await;
            if !more.is_empty() && first_after.is_none() {
                first_after = Some(since.elapsed().as_secs_f64());
            }
            self.got.extend(more);
        }
        if first_after.is_none() && self.got.len() > before {
            first_after = Some(since.elapsed().as_secs_f64());
        }
        first_after.unwrap_or(0.0)
    }

    async fn row(self, scenario: &'static str, recover_s: f64) -> Row {
        let parked = self.b.parked().await.len();
        let row = check(
            scenario,
            &self.published,
            &self.got,
            &self.sim.seen(),
            recover_s,
            parked,
        );
        self.b.cleanup().await;
        row
    }
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Puts the broker back as it was even if a scenario fails half-way: CONT after STOP, the
/// normal memory watermark after an alarm. Later tests must not inherit a broken broker.
struct Restore(Vec<Box<dyn Fn()>>);

impl Drop for Restore {
    fn drop(&mut self) {
        for undo in &self.0 {
            undo();
        }
    }
}

fn broker_pid() -> String {
    let out = Command::new("rabbitmqctl")
        .args(["eval", "os:getpid()."])
        .output()
        .expect("rabbitmqctl eval");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_matches('"')
        .to_owned()
}

fn signal(pid: &str, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid)
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

async fn worker_sigkill(n: usize) -> Row {
    let mut w = World::new(Scenario::default(), &[("PREAUTH__AMQP__PREFETCH", "32")]).await;
    let mut worker = w.worker().await;
    w.publish(n, "kill").await;
    let mut since = Instant::now();
    for round in 1..=3 {
        w.until(n * round / 4, Duration::from_secs(60)).await;
        worker.kill();
        since = Instant::now();
        worker = w.worker().await;
    }
    let recover = w.finish(since, Duration::from_secs(180)).await;
    drop(worker);
    w.row("worker SIGKILL x3", recover).await
}

async fn two_workers_one_killed(n: usize) -> Row {
    let mut w = World::new(Scenario::default(), &[]).await;
    let mut first = w.worker().await;
    let second = w.worker().await;
    w.publish(n, "pair").await;
    w.until(n / 3, Duration::from_secs(60)).await;
    first.kill();
    let since = Instant::now();
    let recover = w.finish(since, Duration::from_secs(180)).await;
    drop(second);
    w.row("two workers, one SIGKILL", recover).await
}

async fn broker_restart(n: usize) -> Row {
    let mut w = World::new(
        Scenario::from(Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        }),
        &[("PREAUTH__AMQP__PREFETCH", "16")],
    )
    .await;
    let worker = w.worker().await;
    w.publish(n, "restart").await;
    w.until(n / 4, Duration::from_secs(60)).await;
    let _restore = Restore(vec![Box::new(|| {
        let _ = Command::new("rabbitmqctl").arg("start_app").output();
    })]);
    rabbitmqctl(&["stop_app"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);
    let since = Instant::now();
    w.b.reconnect().await;
    let recover = w.finish(since, Duration::from_secs(180)).await;
    drop(worker);
    w.row("broker restart", recover).await
}

async fn broker_paused(n: usize) -> Row {
    // A 4-second heartbeat: the pause below lasts several of them.
    let url = format!("{}?heartbeat=4", broker::URL);
    let mut w = World::new(
        Scenario::from(Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        }),
        &[
            ("PREAUTH__AMQP__URL", &url),
            ("PREAUTH__AMQP__PREFETCH", "16"),
        ],
    )
    .await;
    let worker = w.worker().await;
    w.publish(n, "pause").await;
    w.until(n / 4, Duration::from_secs(60)).await;
    let pid = broker_pid();
    let cont = pid.clone();
    let _restore = Restore(vec![Box::new(move || {
        let _ = Command::new("kill").arg("-CONT").arg(&cont).status();
    })]);
    signal(&pid, "STOP");
    tokio::time::sleep(outage()).await;
    signal(&pid, "CONT");
    let since = Instant::now();
    w.b.reconnect().await;
    let recover = w.finish(since, Duration::from_secs(240)).await;
    drop(worker);
    w.row("broker paused past heartbeat", recover).await
}

async fn payer_down(n: usize) -> Row {
    // Answers take 100 ms and at most 8 cases are in flight: 300 cases need 3.75 s of payer
    // calls, so when a quarter of the outcomes are in, seconds of calls are still to be made and
    // the outage lands on them however late the collector sees that quarter. (With the default
    // prefetch of 64 the whole run took half a second, and a collector a few hundred
    // milliseconds late found every case already answered.)
    let mut w = World::new(
        Scenario::from(Faults {
            latency: Duration::from_millis(100),
            ..Faults::default()
        }),
        &[("PREAUTH__AMQP__PREFETCH", "8")],
    )
    .await;
    let worker = w.worker().await;
    w.publish(n, "down").await;
    w.until(n / 4, Duration::from_secs(60)).await;
    w.sim.set_down(true);
    tokio::time::sleep(outage()).await;
    w.sim.set_down(false);
    let since = Instant::now();
    let recover = w.finish(since, Duration::from_secs(240)).await;
    drop(worker);
    let refused = w.sim.seen().iter().filter(|s| s.status == 503).count();
    assert!(
        refused > 0,
        "the outage hit no request: the scenario proved nothing"
    );
    w.row("payer down, then back", recover).await
}

async fn payer_flaky(n: usize) -> Row {
    let mut w = World::new(
        Scenario::from(Faults {
            flaky_percent: 30,
            retry_after: Some(Duration::from_secs(1)),
            ..Faults::default()
        }),
        &[],
    )
    .await;
    let worker = w.worker().await;
    let since = Instant::now();
    w.publish(n, "flaky").await;
    w.finish(since, Duration::from_secs(240)).await;
    drop(worker);
    w.row("payer 429/5xx at random (30%)", 0.0).await
}

async fn poison_burst(n: usize) -> Row {
    let mut w = World::new(Scenario::default(), &[]).await;
    let worker = w.worker().await;
    let poison = n / 10;
    for i in 0..poison {
        let body: &[u8] = match i % 3 {
            0 => b"not json at all",
            1 => br#"{"event_id": "x"}"#,
            _ => b"[]",
        };
        w.b.publish("case.submitted", body).await;
    }
    let since = Instant::now();
    w.publish(n, "poison").await;
    w.finish(since, Duration::from_secs(180)).await;
    drop(worker);
    let row = w.row("poison burst mixed in", 0.0).await;
    assert_eq!(
        row.parked, poison,
        "every poison message is parked, and only those"
    );
    row
}

/// The crash window between a confirmed terminal outcome and its ack, hit again and again: the
/// payer answers 503 to the first two calls of every request, which is the whole first attempt
/// series (one call in process, one delay tier), so every case first ends `failed`; each worker
/// stops right after its 25th terminal outcome is confirmed, before the ack, and is restarted.
/// The events caught in the window are delivered again, the payer now approves, and that
/// decision supersedes the `failed`; the rest stay `failed` and parked. The checker holds every
/// event to the contract's rule.
async fn crash_after_terminal(n: usize) -> Row {
    let mut w = World::new(
        Scenario::from(Faults {
            fail_first: 2,
            ..Faults::default()
        }),
        &[
            ("PREAUTH__RETRY__IN_PROCESS_CALLS", "1"),
            ("PREAUTH__RETRY__DELAYS", "[\"500ms\"]"),
            ("PREAUTH__AMQP__PREFETCH", "16"),
            ("PREAUTH_FAULT_EXIT_AFTER_TERMINAL", "25"),
        ],
    )
    .await;
    let mut worker = w.worker().await;
    w.publish(n, "crash").await;
    let since = Instant::now();
    let deadline = since + Duration::from_secs(300);
    let mut restarts = 0;
    let work_queue = w.b.work_queue();
    while Instant::now() < deadline {
        w.until(n, Duration::from_secs(1)).await;
        if let Some(status) = worker.wait_exit(Duration::from_millis(1)) {
            assert_eq!(
                status.code(),
                Some(preauth_worker::amqp::FAULT_EXIT_CODE),
                "{}",
                worker.logs()
            );
            restarts += 1;
            worker = w.worker().await;
            continue;
        }
        if w.terminal() >= n && w.b.counts(&work_queue).await == Some((0, 0)) {
            break;
        }
    }
    // What the last redeliveries published.
    let more = w.b.collect(Duration::from_secs(2), |_| false).await;
    w.got.extend(more);
    drop(worker);
    assert!(restarts > 0, "the fault point never fired");
    let recover = since.elapsed().as_secs_f64();
    let row = w.row("crash after terminal outcome", recover).await;
    assert!(
        row.superseded > 0,
        "{restarts} crashes in the window, yet no failed outcome was superseded"
    );
    row
}

async fn memory_alarm(n: usize) -> Row {
    let mut w = World::new(
        Scenario::from(Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        }),
        &[("PREAUTH__AMQP__PREFETCH", "16")],
    )
    .await;
    let worker = w.worker().await;
    w.publish(n, "alarm").await;
    w.until(n / 4, Duration::from_secs(60)).await;
    let _restore = Restore(vec![Box::new(|| {
        let _ = Command::new("rabbitmqctl")
            .args(["set_vm_memory_high_watermark", "0.4"])
            .output();
    })]);
    rabbitmqctl(&["set_vm_memory_high_watermark", "0.0000001"]);
    tokio::time::sleep(outage()).await;
    rabbitmqctl(&["set_vm_memory_high_watermark", "0.4"]);
    let since = Instant::now();
    let recover = w.finish(since, Duration::from_secs(240)).await;
    drop(worker);
    w.row("memory alarm blocks publishers", recover).await
}

/// The node that leads a quorum queue, asked of any cluster member.
fn quorum_leader(member: &str, queue: &str) -> Option<String> {
    let out = Command::new("rabbitmq-queues")
        .args(["-n", member, "quorum_status", queue])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("leader"))
        .and_then(|l| l.split_whitespace().find(|w| w.contains('@')))
        .map(|w| w.trim_matches('|').to_owned())
}

/// Two workers on a three-node cluster; the node leading the work queue is stopped mid-run.
async fn cluster_leader_stopped(n: usize, urls: &str) -> Row {
    let list: Vec<&str> = urls.split(',').collect();
    let nodes = [
        "preauth-c1@localhost",
        "preauth-c2@localhost",
        "preauth-c3@localhost",
    ];
    let mut w = World::new_at(
        list[2],
        Scenario::default(),
        &[("PREAUTH__AMQP__URL", urls)],
    )
    .await;
    let first = w.worker().await;
    let rotated = [list[1], list[2], list[0]].join(",");
    w.env.retain(|(k, _)| k != "PREAUTH__AMQP__URL");
    w.env.push(("PREAUTH__AMQP__URL".into(), rotated));
    let second = w.worker().await;
    w.publish(n, "cluster").await;
    w.until(n / 4, Duration::from_secs(60)).await;
    let leader = quorum_leader(nodes[2], &w.b.work_queue()).unwrap_or_else(|| nodes[0].to_owned());
    let restart = leader.clone();
    let _restore = Restore(vec![Box::new(move || {
        let _ = Command::new("rabbitmqctl")
            .args(["-n", &restart, "start_app"])
            .output();
    })]);
    let out = Command::new("rabbitmqctl")
        .args(["-n", &leader, "stop_app"])
        .output()
        .expect("rabbitmqctl");
    assert!(out.status.success(), "stopping {leader}");
    let since = Instant::now();
    // Keep the test's own client off the stopped node.
    let survivor = nodes
        .iter()
        .position(|n| *n != leader && *n != nodes[0])
        .unwrap_or(1);
    w.b.reconnect_to(list[survivor]).await;
    let recover = w.finish(since, Duration::from_secs(240)).await;
    drop((first, second));
    let mut row = w.row("cluster: queue leader node stopped", recover).await;
    row.scenario = "cluster: queue leader node stopped";
    row
}

async fn sigterm_under_load(n: usize) -> Row {
    let mut w = World::new(
        Scenario::from(Faults {
            latency: Duration::from_millis(50),
            ..Faults::default()
        }),
        &[("PREAUTH__AMQP__PREFETCH", "32")],
    )
    .await;
    let mut worker = w.worker().await;
    w.publish(n, "term").await;
    w.until(n / 3, Duration::from_secs(60)).await;
    worker.signal("TERM");
    let status = worker
        .wait_exit(Duration::from_secs(40))
        .expect("exits within the grace period");
    assert!(status.success(), "SIGTERM exit status {status:?}");
    let since = Instant::now();
    let worker = w.worker().await;
    let recover = w.finish(since, Duration::from_secs(180)).await;
    drop(worker);
    w.row("SIGTERM under load", recover).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_duplicated_under_fire() {
    let n = cases();
    let started = Instant::now();
    let mut rows = Vec::new();
    let only = std::env::var("CHAOS_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|o| name.contains(o.trim()));
    // CHAOS_ONLY=cluster with the cluster URLs runs that scenario alone.
    if want("kill") {
        rows.push(worker_sigkill(n).await);
    }
    if want("pair") {
        rows.push(two_workers_one_killed(n).await);
    }
    if want("restart") {
        rows.push(broker_restart(n).await);
    }
    if want("pause") {
        rows.push(broker_paused(n).await);
    }
    if want("down") {
        rows.push(payer_down(n).await);
    }
    if want("flaky") {
        rows.push(payer_flaky(n).await);
    }
    if want("poison") {
        rows.push(poison_burst(n).await);
    }
    if want("alarm") {
        rows.push(memory_alarm(n).await);
    }
    if want("term") {
        rows.push(sigterm_under_load(n).await);
    }
    if want("crash") {
        rows.push(crash_after_terminal(n).await);
    }
    if let Ok(urls) = std::env::var("CHAOS_CLUSTER_URLS") {
        if want("cluster") {
            rows.push(cluster_leader_stopped(n, &urls).await);
        }
    }
    let mut table = format!(
        "\n{:<32} {:>6} {:>9} {:>5} {:>9} {:>10} {:>8} {:>14} {:>11} {:>7}\n",
        "scenario",
        "cases",
        "terminal",
        "lost",
        "conflicts",
        "superseded",
        "unknown",
        "payer req/case",
        "recover (s)",
        "parked"
    );
    for r in &rows {
        table.push_str(&format!(
            "{:<32} {:>6} {:>9} {:>5} {:>9} {:>10} {:>8} {:>14.2} {:>11.1} {:>7}{}\n",
            r.scenario,
            r.cases,
            r.terminal,
            r.lost,
            r.conflicts,
            r.superseded,
            r.unknown,
            r.requests_per_case,
            r.recover_s,
            r.parked,
            if r.ok() { "" } else { "   <-- FAILED" }
        ));
    }
    table.push_str(&format!(
        "{} scenarios in {:.0} s\n",
        rows.len(),
        started.elapsed().as_secs_f64()
    ));
    println!("{table}");
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/chaos-report.txt", &table);
    assert!(!rows.is_empty(), "CHAOS_ONLY matched no scenario");
    assert!(rows.iter().all(Row::ok), "{table}");
}

#[test]
fn the_checker_allows_only_a_failed_to_be_superseded() {
    let event = |outcomes: &[(&str, &str, u64)]| {
        let mut map: BTreeMap<String, Vec<Seen1>> = BTreeMap::new();
        for (id, status, sequence) in outcomes {
            map.entry((*id).to_owned()).or_default().push(Seen1 {
                status: (*status).to_owned(),
                sequence: *sequence,
            });
        }
        judge(&map)
    };
    // A redelivered decision under its own id: fine.
    assert_eq!(
        event(&[("a", "approved", 1000), ("a", "approved", 1001)]),
        (false, false)
    );
    // A failed, then the payer's answer ranked after it: allowed, counted.
    assert_eq!(
        event(&[("f", "failed", 3000), ("a", "approved", 3001)]),
        (false, true)
    );
    // A decision followed by a different one, or a failed ranked after the decision.
    assert!(event(&[("d", "denied", 1000), ("a", "approved", 2000)]).0);
    assert!(event(&[("a", "approved", 1000), ("f", "failed", 2000)]).0);
    // Two different outcomes with the same rank, one id with two statuses, a pended last.
    assert!(event(&[("f", "failed", 1000), ("a", "approved", 1000)]).0);
    assert!(event(&[("a", "approved", 1000), ("a", "denied", 1001)]).0);
    assert!(event(&[("a", "approved", 1000), ("p", "pended", 2000)]).0);
    // Pended before the decision: fine.
    assert_eq!(
        event(&[("p", "pended", 0), ("a", "approved", 1000)]),
        (false, false)
    );
}
