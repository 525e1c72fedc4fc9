//! The ledger's test harness: a database of each test's own on the real PostgreSQL, a ledger
//! process, and helpers that publish events of the real formats to a test's outcomes exchange.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::BasicProperties;
use serde_json::Value;
use sqlx::PgPool;

use crate::broker::Broker;

/// The server every test makes its database on: `PREAUTH_TEST_PG` (scripts/test.sh exports it).
pub fn server() -> String {
    std::env::var("PREAUTH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database of one test's own, `preauth_test_<random>`, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!(
            "preauth_test_{}",
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..16)
                .unwrap_or("x")
        );
        let admin = PgPool::connect(&format!("{}/postgres", server()))
            .await
            .expect("PostgreSQL reachable at PREAUTH_TEST_PG (scripts/test.sh starts it)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create the test database");
        admin.close().await;
        let url = format!("{}/{name}", server());
        Self { name, url }
    }

    /// A pool on this database, migrated by the ledger's own code.
    pub async fn pool(&self) -> PgPool {
        let settings = preauth_worker::config::LedgerSettings {
            database_url: self.url.clone(),
            ..ledger_defaults()
        };
        let pool = preauth_worker::ledger::connect(&settings)
            .await
            .expect("connect");
        preauth_worker::ledger::migrate(&pool)
            .await
            .expect("migrate");
        pool
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (server(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = PgPool::connect(&format!("{server}/postgres")).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

pub fn ledger_defaults() -> preauth_worker::config::LedgerSettings {
    preauth_worker::config::Settings::load_without_env(None)
        .expect("defaults")
        .ledger
}

/// The ledger's queue for a test's broker names.
pub fn ledger_queue(b: &Broker) -> String {
    format!("{}.ledger", b.prefix)
}

/// Environment for a ledger process on this test's broker names and database.
pub fn ledger_env(b: &Broker, db: &TestDb) -> Vec<(String, String)> {
    let mut env = b.env();
    env.extend([
        ("PREAUTH__LEDGER__DATABASE_URL".into(), db.url.clone()),
        ("PREAUTH__LEDGER__QUEUE".into(), ledger_queue(b)),
        ("PREAUTH__LEDGER__OPS_LISTEN".into(), "127.0.0.1:0".into()),
        // `ledger run` serves the console too: on a port of its own for each process.
        ("PREAUTH__CONSOLE__LISTEN".into(), "127.0.0.1:0".into()),
    ]);
    env
}

/// A `preauth-worker ledger run` process; killed when dropped.
pub struct LedgerProcess {
    child: Child,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LedgerProcess {
    /// Starts a ledger and waits until it consumes.
    pub async fn start(env: &[(String, String)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("ledger.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
        cmd.args(["ledger", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PREAUTH__")) {
            cmd.env_remove(k);
        }
        cmd.env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let p = Self {
            child: cmd.spawn().expect("the ledger starts"),
            log,
            _dir: dir,
        };
        assert!(
            p.wait_for_log("Ledger consuming", Duration::from_secs(30))
                .await,
            "the ledger did not start consuming: {}",
            p.logs()
        );
        p
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

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

    /// SIGKILL: no drain, no ack of the batch in hand.
    pub fn kill9(&mut self) {
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

    /// The ops base URL, from the log.
    pub async fn ops_url(&self) -> String {
        assert!(
            self.wait_for_log("Ledger ops endpoints listening", Duration::from_secs(20))
                .await
        );
        let logs = self.logs();
        let line = logs
            .lines()
            .find(|l| l.contains("Ledger ops endpoints listening"))
            .unwrap_or_default();
        let v: Value = serde_json::from_str(line).expect("JSON log line");
        format!("http://{}", v["addr"].as_str().expect("addr"))
    }
}

impl Drop for LedgerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The routing key the worker gives an event body: `outcome.<status>` or `progress.<step>`.
pub fn routing_key(body: &Value) -> String {
    match body["status"].as_str() {
        Some(status) => format!("outcome.{status}"),
        None => format!("progress.{}", body["step"].as_str().unwrap_or("unknown")),
    }
}

/// The message id of an event body.
pub fn message_id(body: &Value) -> String {
    body["outcome_id"]
        .as_str()
        .or(body["progress_id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Publishes event bodies to the test's outcomes exchange as the worker does (persistent,
/// message id, JSON).
pub async fn publish_events(b: &Broker, bodies: &[Value]) {
    for body in bodies {
        publish_raw(
            b,
            &routing_key(body),
            &serde_json::to_vec(body).expect("json"),
            &message_id(body),
        )
        .await;
    }
}

pub async fn publish_raw(b: &Broker, key: &str, payload: &[u8], id: &str) {
    b.channel
        .basic_publish(
            ShortString::from(b.outcomes_exchange().as_str()),
            ShortString::from(key),
            BasicPublishOptions::default(),
            payload,
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_message_id(ShortString::from(id))
                .with_content_type(ShortString::from("application/json")),
        )
        .await
        .expect("publish")
        .await
        .expect("publish settles");
}

/// Synthetic events of the real formats (the seeding generator): at least `n` messages.
pub fn synthetic(run: &str, n: usize) -> Vec<Value> {
    let mut g = preauth_worker::ledger::seed::Generator::new(run, chrono::Utc::now());
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(g.next_bodies());
    }
    out
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Waits until `sql` counts `want` (or `timeout`); returns the last count.
pub async fn wait_count(pool: &PgPool, sql: &str, want: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    let mut last = -1;
    while Instant::now() < deadline {
        last = count(pool, sql).await;
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// Every stored message id.
pub async fn stored_ids(pool: &PgPool) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>("SELECT message_id FROM ledger_events")
        .fetch_all(pool)
        .await
        .expect("ids")
        .into_iter()
        .collect()
}

/// The current state per event: (status, sequence, outcome_id).
pub async fn states(pool: &PgPool) -> BTreeMap<String, (Option<String>, i64, Option<String>)> {
    sqlx::query_as::<_, (String, Option<String>, i64, Option<String>)>(
        "SELECT event_id, status, sequence, outcome_id FROM ledger_case_events",
    )
    .fetch_all(pool)
    .await
    .expect("states")
    .into_iter()
    .map(|(e, s, q, o)| (e, (s, q, o)))
    .collect()
}

/// The contract's rule over event bodies: per event, the outcome with the highest
/// (sequence, outcome_id).
pub fn expected_states(bodies: &[Value]) -> BTreeMap<String, (String, i64, String)> {
    let mut out: BTreeMap<String, (String, i64, String)> = BTreeMap::new();
    for b in bodies.iter().filter(|b| b["status"].is_string()) {
        let event = b["event_id"].as_str().unwrap_or_default().to_owned();
        let next = (
            b["status"].as_str().unwrap_or_default().to_owned(),
            b["sequence"].as_i64().unwrap_or(0),
            b["outcome_id"].as_str().unwrap_or_default().to_owned(),
        );
        match out.get(&event) {
            Some(have) if (have.1, &have.2) >= (next.1, &next.2) => {}
            _ => {
                out.insert(event, next);
            }
        }
    }
    out
}
