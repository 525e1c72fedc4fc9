//! The whole back office at once, every part real: a worker (`preauth-worker run`) whose payer
//! fails the first tries, the ledger process (`preauth-worker ledger run`, which serves the
//! console), RabbitMQ, PostgreSQL and headless Chromium. A case fails, is parked, an operator
//! replays it from the console's page, and the same case page then shows the payer's answer
//! after the failure on one timeline.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use sqlx::PgPool;

use crate::broker::{Broker, WorkerProcess};
use crate::support::{add_user, screenshot, Db, Driver, PASSWORD};

/// A `preauth-worker ledger run` process (ingest and console); killed when dropped.
struct Ledger {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Ledger {
    async fn start(env: &[(String, String)]) -> Ledger {
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
        for (k, v) in env {
            cmd.env(k, v);
        }
        let ledger = Ledger {
            child: cmd.spawn().expect("the ledger starts"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(ledger.logs().contains("Ledger consuming")
            && ledger.logs().contains("Console listening"))
        {
            assert!(Instant::now() < deadline, "{}", ledger.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ledger
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The payer simulator (`preauth-worker payer-sim`) as a process; killed when dropped.
struct PayerSim(Child);

impl PayerSim {
    fn start(port: u16) -> PayerSim {
        let listen = format!("127.0.0.1:{port}");
        PayerSim(
            Command::new(env!("CARGO_BIN_EXE_preauth-worker"))
                .args(["payer-sim", "--listen", &listen])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the payer simulator starts"),
        )
    }
}

impl Drop for PayerSim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The event's status in the ledger once it is `want`, within the timeout.
async fn wait_status(pool: &PgPool, event_id: &str, want: &str, why: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM ledger_case_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(pool)
                .await
                .expect("query")
                .flatten();
        if status.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{event_id} is {status:?}, not {want}: {}",
            why()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sign_in(browser: &Client, base: &str, start: &str) {
    browser.goto(&format!("{base}{start}")).await.expect("goto");
    assert_eq!(browser.current_url().await.expect("url").path(), "/login");
    for (id, text) in [("name", "olivia"), ("password", PASSWORD)] {
        browser
            .find(Locator::Id(id))
            .await
            .expect("field")
            .send_keys(text)
            .await
            .expect("type");
    }
    browser
        .find(Locator::Css("#login button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_case_replayed_from_the_console_reaches_the_payers_answer_on_the_same_timeline() {
    let b = Broker::new().await;
    let db = Db::fresh().await;
    add_user(&db.pool, "olivia", "operator").await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut ledger_env = b.env();
    ledger_env.extend([
        (
            "PREAUTH__LEDGER__DATABASE_URL".to_owned(),
            format!("{}/{}", crate::support::server(), db.name),
        ),
        (
            "PREAUTH__LEDGER__QUEUE".to_owned(),
            format!("{}.ledger", b.prefix),
        ),
        (
            "PREAUTH__LEDGER__OPS_LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
        (
            "PREAUTH__CONSOLE__LISTEN".to_owned(),
            format!("127.0.0.1:{port}"),
        ),
        (
            "PREAUTH__CONSOLE__SECURE_COOKIES".to_owned(),
            "false".to_owned(),
        ),
    ]);
    // The ledger first, so that its queue is bound before the first event is published.
    let ledger = Ledger::start(&ledger_env).await;
    // The payer speaks PAS over HTTP on a port where nothing listens yet: every call of the
    // first attempt series (one in process, then the two delay tiers of Broker::env) fails, the
    // case gets `failed` and is parked.
    let payer_port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "[payers.default]\nadapter = \"fhir-pas\"\npayer_name = \"Acme Health Plan\"\npayer_identifier = \"60054\"\npayer_identifier_system = \"urn:oid:2.16.840.1.113883.6.300\"\nmember_id_system = \"https://acme.example/fhir/member-id\"\nallow_insecure_http = true\nbase_url = \"http://127.0.0.1:{payer_port}\"\ntimeout = \"2s\"\n"
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8").to_owned();
    let worker = WorkerProcess::start_ready_with_args(&b.env(), &["--config", &config]).await;
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/01-eyelid-margin-cornea-approved.json");
    let mut case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example).expect("example")).expect("json");
    let case_id = format!("C-JOURNEY-{}", &b.prefix[b.prefix.len() - 6..]);
    case["case_id"] = case_id.clone().into();
    let event_id = format!("E-{case_id}");
    case["event_id"] = event_id.clone().into();
    b.publish_case(&case).await;
    let why = || format!("worker: {}\nledger: {}", worker.logs(), ledger.logs());
    wait_status(&db.pool, &event_id, "failed", &why).await;
    // The payer is back.
    let _payer = PayerSim::start(payer_port);

    let driver = Driver::start().await;
    let browser = driver.browser().await;
    sign_in(&browser, &base, "/parked").await;
    // The worker parks its copy right after the failed outcome: reload until it is listed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let replay = loop {
        browser.goto(&format!("{base}/parked")).await.expect("goto");
        let mut found = None;
        for row in browser
            .find_all(Locator::Css("#parked tbody tr"))
            .await
            .expect("rows")
        {
            if row.text().await.expect("text").contains(&case_id) {
                found = Some(row.find(Locator::Css("a.replay")).await.expect("Replay"));
                break;
            }
        }
        if let Some(link) = found {
            break link;
        }
        assert!(Instant::now() < deadline, "not parked: {}", why());
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    replay.click().await.expect("click");
    browser
        .find(Locator::Css("#confirm button"))
        .await
        .expect("the confirmation")
        .click()
        .await
        .expect("click");
    wait_status(&db.pool, &event_id, "approved", &why).await;

    browser
        .goto(&format!("{base}/cases/{case_id}"))
        .await
        .expect("goto");
    let mut steps = Vec::new();
    for li in browser
        .find_all(Locator::Css("#event-1 ol.timeline li"))
        .await
        .expect("timeline")
    {
        steps.push(li.text().await.expect("text"));
    }
    let names: Vec<&str> = steps
        .iter()
        .filter_map(|s| s.split_whitespace().nth(3))
        .collect();
    let at = |name: &str| names.iter().position(|n| *n == name);
    let last_at = |name: &str| names.iter().rposition(|n| *n == name);
    // One timeline: the first series (received, submitted, retries, parked, failed), the
    // operator's replay, then the second series up to the payer's answer.
    assert_eq!(names.first(), Some(&"received"), "{steps:?}");
    assert!(at("retry-scheduled") < at("failed"), "{steps:?}");
    assert!(at("failed") < at("replayed"), "{steps:?}");
    assert!(at("replayed") < last_at("submitted"), "{steps:?}");
    assert_eq!(names.last(), Some(&"approved"), "{steps:?}");
    assert_eq!(names.iter().filter(|n| **n == "received").count(), 2);
    screenshot(&browser, "14-case-after-replay").await;
    browser.close().await.expect("close");
    drop(worker);
    drop(ledger);
    db.drop_database().await;
    b.cleanup().await;
}
