//! What the console's tests share: a fresh database of their own (migrated, seeded), accounts,
//! the console served on a free port over queues of their own on the real broker, a headless
//! Chromium through chromedriver, and a small HTTP client that keeps the session cookie.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use preauth_worker::config::Settings;
use preauth_worker::console::{self, BrokerParkedQueue};
use preauth_worker::security::{DeploymentKey, KeyOrigin};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use tokio_util::sync::CancellationToken;

/// The PostgreSQL server the tests make their databases on (`PREAUTH_TEST_PG`, as scripts/test.sh
/// exports it; the machine's default otherwise).
pub fn server() -> String {
    std::env::var("PREAUTH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const PASSWORD: &str = "a long test passphrase";

/// A database of this test's own, dropped by [`Db::drop_database`].
pub struct Db {
    pub name: String,
    pub pool: PgPool,
}

impl Db {
    pub async fn fresh() -> Db {
        let name = format!("console_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}/postgres", server()))
            .await
            .expect("PostgreSQL at 127.0.0.1:5432");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        admin.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&format!("{}/{name}", server()))
            .await
            .expect("connect");
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .expect("migrations");
        Db { name, pool }
    }

    pub async fn drop_database(self) {
        self.pool.close().await;
        if let Ok(admin) = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}/postgres", server()))
            .await
        {
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                .await;
        }
    }
}

/// An account as the ledger's `user add` would make it: an argon2 PHC string.
pub async fn add_user(pool: &PgPool, name: &str, role: &str) {
    let hash = preauth_worker::ledger::users::hash(PASSWORD)
        .await
        .expect("hash");
    sqlx::query("INSERT INTO ledger_users (name, role, password_hash) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(role)
        .bind(hash)
        .execute(pool)
        .await
        .expect("user");
}

/// The console served on a free port, over a work queue and a parking queue of its own.
pub struct Console {
    pub db: Db,
    pub addr: SocketAddr,
    pub work_queue: String,
    pub parking_queue: String,
    pub amqp: Connection,
    shutdown: CancellationToken,
}

impl Console {
    pub async fn start() -> Console {
        let db = Db::fresh().await;
        crate::seed::examples(&db.pool).await.expect("seed");
        add_user(&db.pool, "olivia", "operator").await;
        add_user(&db.pool, "sam", "staff").await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut settings = Settings::load_without_env(None).expect("defaults");
        settings.amqp.url = AMQP_URL.to_owned();
        settings.amqp.timeout = Duration::from_secs(5);
        settings.topology.work_queue = format!("console.work.{suffix}");
        settings.topology.parking_queue = format!("console.parked.{suffix}");
        // A replay announces itself (progress.replayed) on the outcomes exchange.
        settings.topology.outcomes_exchange = format!("console.outcomes.{suffix}");
        settings.console.listen = "127.0.0.1:0".parse().expect("addr");
        settings.console.secure_cookies = false;
        settings.console.page_size = 20;
        let amqp = Connection::connect(AMQP_URL, ConnectionProperties::default())
            .await
            .expect("RabbitMQ at 127.0.0.1:5672");
        let ch = amqp.create_channel().await.expect("channel");
        ch.exchange_declare(
            ShortString::from(settings.topology.outcomes_exchange.as_str()),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the outcomes exchange");
        for q in [
            &settings.topology.work_queue,
            &settings.topology.parking_queue,
        ] {
            let mut args = FieldTable::default();
            args.insert(
                ShortString::from("x-queue-type"),
                AMQPValue::LongString(LongString::from("quorum")),
            );
            ch.queue_declare(
                ShortString::from(q.as_str()),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                args,
            )
            .await
            .expect("declare");
        }
        let key = DeploymentKey::from_bytes(&[7u8; 48], KeyOrigin::Ephemeral).expect("key");
        let parked = Arc::new(BrokerParkedQueue::new(settings.clone(), Arc::new(key)));
        let shutdown = CancellationToken::new();
        let addr = console::serve(&settings.console, db.pool.clone(), parked, shutdown.clone())
            .await
            .expect("serve");
        Console {
            db,
            addr,
            work_queue: settings.topology.work_queue.clone(),
            parking_queue: settings.topology.parking_queue.clone(),
            amqp,
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Parks a case event as the worker would (reason headers), returns its fingerprint.
    pub async fn park(&self, case_id: &str, event_id: &str) -> String {
        let body = serde_json::to_vec(&serde_json::json!({
            "schema": "preauth.case.v1", "event_id": event_id, "case_id": case_id,
        }))
        .expect("json");
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("x-preauth-reason"),
            AMQPValue::LongString(LongString::from("delivery-limit")),
        );
        headers.insert(
            ShortString::from("x-preauth-detail"),
            AMQPValue::LongString(LongString::from("delivered 21 times")),
        );
        let ch = self.amqp.create_channel().await.expect("channel");
        ch.confirm_select(Default::default())
            .await
            .expect("confirms");
        ch.basic_publish(
            ShortString::from(""),
            ShortString::from(self.parking_queue.as_str()),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default()
                .with_headers(headers)
                .with_message_id(ShortString::from(format!("m-{event_id}")))
                .with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
        preauth_worker::amqp::parked::fingerprint(&body, None, Some("delivery-limit"))
    }

    /// Messages ready in `queue`.
    pub async fn depth(&self, queue: &str) -> u32 {
        let ch = self.amqp.create_channel().await.expect("channel");
        let q = ch
            .queue_declare(
                ShortString::from(queue),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue");
        q.message_count()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let ch = self.amqp.create_channel().await.expect("channel");
        for q in [&self.work_queue, &self.parking_queue] {
            let _ = ch
                .queue_delete(ShortString::from(q.as_str()), Default::default())
                .await;
        }
        let _ = self.amqp.close(200, ShortString::from("done")).await;
        self.db.drop_database().await;
    }
}

/// A client that follows no redirect and keeps the cookies it is given by hand.
pub struct Http {
    pub client: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

impl Http {
    pub fn new() -> Http {
        Http {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let text = v.to_str().expect("ascii cookie");
            let pair = text.split(';').next().expect("pair");
            let (k, v) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let r = self
            .client
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(&r);
        r
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let r = self
            .client
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.keep(&r);
        r
    }

    /// Signs in as `name` through the form; returns the session's CSRF token.
    pub async fn sign_in(&mut self, console: &Console, name: &str) -> String {
        let page = self
            .get(&console.url("/login"))
            .await
            .text()
            .await
            .expect("page");
        let csrf = hidden(&page, "csrf");
        let r = self
            .post(
                &console.url("/login"),
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303, "sign-in of {name}");
        let page = self
            .get(&console.url("/search"))
            .await
            .text()
            .await
            .expect("page");
        hidden(&page, "csrf")
    }
}

/// The value of the first hidden input named `name` in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {page}"))
        + marker.len();
    let end = page[start..].find('"').expect("end of value") + start;
    page[start..end].to_owned()
}

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub async fn start() -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, url }
    }

    /// A headless Chromium session.
    pub async fn browser(&self) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]
            }),
        );
        fantoccini::ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go: target/console-screenshots/ of the checkout.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

pub async fn screenshot(browser: &fantoccini::Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write screenshot");
}
