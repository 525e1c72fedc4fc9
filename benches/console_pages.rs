//! Console page times with 1,000,000 events in the ledger: a fresh database seeded by
//! `INSERT … SELECT generate_series` (250,000 case events, 4 messages each), the console served
//! on a free port, signed in over HTTP, then each page asked for 200 times in a row with reqwest
//! (one connection, as a browser tab would) and p50/p95 printed. Target: p95 < 100 ms.
//!
//! `cargo bench --bench console_pages` (PostgreSQL at 127.0.0.1:5432, RabbitMQ at 127.0.0.1:5672;
//! `CONSOLE_BENCH_CASES=N` for another size).

#[path = "../tests/console/seed.rs"]
mod seed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use preauth_worker::config::Settings;
use preauth_worker::console::{self, BrokerParkedQueue};
use preauth_worker::security::{DeploymentKey, KeyOrigin};
use sqlx::postgres::PgPoolOptions;
use sqlx::Executor;
use tokio_util::sync::CancellationToken;

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const REQUESTS: usize = 200;

type Failure = Box<dyn std::error::Error>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_owned())
}

async fn run() -> Result<(), Failure> {
    let cases: i64 = std::env::var("CONSOLE_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000);
    let name = format!("console_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(ADMIN)
        .await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    let t = Instant::now();
    seed::bulk(&pool, cases).await?;
    seed::examples(&pool).await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_events")
        .fetch_one(&pool)
        .await?;
    println!(
        "seeded {cases} case events, {events} ledger events in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let hash = preauth_worker::ledger::users::hash("bench passphrase").await?;
    sqlx::query(
        "INSERT INTO ledger_users (name, role, password_hash) VALUES ('bench', 'staff', $1)",
    )
    .bind(hash)
    .execute(&pool)
    .await?;

    let mut settings = Settings::load_without_env(None)?;
    settings.console.listen = "127.0.0.1:0".parse()?;
    settings.console.secure_cookies = false;
    let key = DeploymentKey::from_bytes(&[7u8; 48], KeyOrigin::Ephemeral).ok_or("key")?;
    let parked = Arc::new(BrokerParkedQueue::new(settings.clone(), Arc::new(key)));
    let shutdown = CancellationToken::new();
    let addr = console::serve(&settings.console, pool.clone(), parked, shutdown.clone()).await?;
    let base = format!("http://{addr}");

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = http.get(format!("{base}/login")).send().await?;
    let login_cookie = cookie_of(&login, "preauth_login").ok_or("no login cookie")?;
    let csrf = hidden(&login.text().await?, "csrf").ok_or("no csrf")?;
    let signed = http
        .post(format!("{base}/login"))
        .header("cookie", format!("preauth_login={login_cookie}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "bench"),
            ("password", "bench passphrase"),
        ])
        .send()
        .await?;
    let session = cookie_of(&signed, "preauth_session").ok_or("sign-in failed")?;
    let cookie = format!("preauth_session={session}");

    // A case in the middle of the ledger, a prefix that matches ten cases, a payer reference.
    let middle = cases / 2;
    let pages = [
        ("to fix", "/work/to-fix".to_owned()),
        ("to fix, page 20", "/work/to-fix?page=20".to_owned()),
        ("to appeal", "/work/to-appeal".to_owned()),
        ("waiting on the payer", "/work/waiting".to_owned()),
        ("failed", "/work/failed".to_owned()),
        ("case page", format!("/cases/C-2026-{middle:07}")),
        ("search: case id", format!("/search?q=C-2026-{middle:07}")),
        (
            "search: case id prefix",
            format!("/search?q=C-2026-{:06}", middle / 10),
        ),
        (
            "search: payer reference",
            format!("/search?q=REF-{}", middle + 1),
        ),
        ("search: authorization", "/search?q=AUTH-88231".to_owned()),
    ];
    println!(
        "{REQUESTS} sequential GETs per page over one keep-alive connection, after 5 warm-up requests; \
         page_size {}",
        settings.console.page_size
    );
    println!(
        "{:<26} {:>9} {:>9} {:>9}",
        "page", "p50 ms", "p95 ms", "max ms"
    );
    let mut worst = Duration::ZERO;
    for (label, path) in &pages {
        let url = format!("{base}{path}");
        for _ in 0..5 {
            http.get(&url)
                .header("cookie", &cookie)
                .send()
                .await?
                .bytes()
                .await?;
        }
        let mut times = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let t = Instant::now();
            let r = http.get(&url).header("cookie", &cookie).send().await?;
            let status = r.status();
            r.bytes().await?;
            times.push(t.elapsed());
            if !status.is_success() {
                return Err(format!("{path}: {status}").into());
            }
        }
        times.sort();
        let p95 = percentile(&times, 0.95);
        worst = worst.max(p95);
        println!(
            "{label:<26} {:>9.1} {:>9.1} {:>9.1}",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    }
    println!(
        "worst p95 {:.1} ms (target < 100 ms): {}",
        worst.as_secs_f64() * 1e3,
        if worst < Duration::from_millis(100) {
            "met"
        } else {
            "NOT met"
        }
    );
    shutdown.cancel();
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    Ok(())
}

fn main() {
    // `cargo bench` passes --bench; nothing to filter.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run()) {
        eprintln!("console_pages: {e}");
        std::process::exit(1);
    }
}
