//! Trust boundaries, tried as an attacker would over real HTTP and the real broker: forged
//! payer notifications, forged state headers, stalled and idle connections, patient text and
//! secrets in logs.

use crate::support::PAYER_IDENTITY;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use preauth_worker::case::{decode, identify, Status};
use preauth_worker::codes::CodeTable;
use preauth_worker::http::Limits;
use preauth_worker::ids::{outcome_id, request_identifier};
use preauth_worker::notify::{self, Notifications};
use preauth_worker::payer::pas::write::request_bundle;
use preauth_worker::payer::sim::pas::response_bundle;
use preauth_worker::payer::sim::server::Scenario;
use preauth_worker::payer::sim::{decide_review, ReviewCase};
use preauth_worker::payer::Operation;
use preauth_worker::rules::Policies;
use preauth_worker::security::DeploymentKey;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::broker::{count_terminal, Broker, InProcessWorker, WorkerProcess};
use crate::support::{examples, payer_sim, read_json};

const CREDENTIAL: &str = "Bearer notify-credential-0123456789";

/// One notification try: what it is, url, body, Authorization, content type, whether a browser
/// Origin is sent, and the statuses that would be right.
type Try<'a> = (
    &'a str,
    String,
    String,
    Option<&'a str>,
    &'a str,
    bool,
    &'a [u16],
);

/// A worker configuration over payer-sim with a known deployment key and notifications on.
fn trust_config(dir: &tempfile::TempDir, base_url: &str) -> (String, DeploymentKey) {
    let key_path = dir.path().join("deployment.key");
    std::fs::write(&key_path, "k".repeat(48)).expect("key");
    let cred_path = dir.path().join("notify.credential");
    std::fs::write(&cred_path, format!("{CREDENTIAL}\n")).expect("credential");
    let cfg = dir.path().join("worker.toml");
    std::fs::write(
        &cfg,
        format!(
            "[security]\nkey_file = \"{}\"\n[notifications]\nlisten = \"127.0.0.1:0\"\n[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{base_url}\"\ntimeout = \"2s\"\nnotification_credential_file = \"{}\"\n",
            key_path.display(),
            cred_path.display()
        ),
    )
    .expect("config");
    let key = DeploymentKey::load(&key_path).expect("key loads");
    (cfg.to_str().expect("utf-8").to_owned(), key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_notification_only_brings_the_follow_up_forward_and_a_forged_one_changes_nothing(
) {
    let sim = payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, _) = trust_config(&dir, &sim.base_url());
    let mut b = Broker::new().await;
    let mut env = b.env();
    env.retain(|(k, _)| k != "PREAUTH__FOLLOWUP__PENDED");
    // A follow-up an hour away: only a notification can make the worker ask within the test.
    env.push(("PREAUTH__FOLLOWUP__PENDED".into(), "[\"1h\"]".into()));
    let worker = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    let ops = worker.ops_url().await;
    let notify_url = worker.notify_url().await;
    let file = examples().join("11-eyelid-excision-pended-approved.json");
    b.publish_case(&read_json(&file)).await;
    let pended = b.collect(Duration::from_secs(20), |g| !g.is_empty()).await;
    assert_eq!(pended.len(), 1, "{}", worker.logs());
    assert_eq!(pended[0].body["status"], "pended");

    // What a payer would send: a full-resource notification for this request.
    let bytes = std::fs::read(&file).expect("example");
    let case = decode(&identify(&bytes).expect("identified"), None).expect("decodes");
    let codes = CodeTable::embedded().expect("codes");
    let policy = Policies::load(&codes, None)
        .expect("policies")
        .get("default")
        .expect("policy");
    let id = request_identifier(&case.case_id, &case.event_id, case.kind.operation());
    let reference = pended[0].body["payer"]["reference"]
        .as_str()
        .map(str::to_owned);
    let decision = decide_review(
        &ReviewCase::from_case(&case),
        &policy,
        &codes,
        &id,
        Operation::Inquire { round: 1 },
        reference.as_deref(),
    )
    .expect("decision");
    // The ClaimResponse names the Claim by its TRN: the request identifier `claim_id`.
    let notification = |claim_id: &str, deny: bool| {
        let request = request_bundle(&case, claim_id, case.provider.npi.as_str()).to_value();
        let mut text = serde_json::json!({
            "resourceType": "Bundle",
            "type": "history",
            "entry": [
                {"resource": {"resourceType": "Parameters", "parameter": [{"name": "type", "valueCode": "event-notification"}]}},
                {"resource": response_bundle(&request, &decision)}
            ]
        })
        .to_string();
        if deny {
            // The same notification, claiming the payer did not certify.
            text = text.replace("\"A1\"", "\"A3\"");
        }
        text
    };
    let elsewhere = uuid::Uuid::new_v4().to_string();
    let http = reqwest::Client::new();
    let post = |url: String, body: String, auth: Option<&str>, ctype: &str, origin: bool| {
        let mut r = http.post(url).header("content-type", ctype).body(body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        if origin {
            r = r.header("origin", "https://evil.example");
        }
        async move { r.send().await.expect("answered").status().as_u16() }
    };
    let fhir = "application/fhir+json";
    let good = notification(&id, false);
    let no_response = serde_json::json!({"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Parameters", "parameter": [{"name": "type", "valueCode": "event-notification"}]}}]}).to_string();
    let handshake = serde_json::json!({"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Parameters", "parameter": [{"name": "type", "valueCode": "handshake"}]}}]}).to_string();
    let to = |payer: &str| format!("{notify_url}/pas/notify/{payer}");
    let tries: Vec<Try> = vec![
        // The ops port takes no notification (and no body: 413 before any routing).
        (
            "on the ops port",
            format!("{ops}/pas/notify/default"),
            good.clone(),
            Some(CREDENTIAL),
            fhir,
            false,
            &[404, 405, 413],
        ),
        // No fall-through to the default payer.
        (
            "unknown payer",
            to("totally-unknown-payer"),
            good.clone(),
            Some(CREDENTIAL),
            fhir,
            false,
            &[404],
        ),
        (
            "wrong credential",
            to("default"),
            good.clone(),
            Some("Bearer wrong-credential-0000000"),
            fhir,
            false,
            &[401],
        ),
        (
            "no credential",
            to("default"),
            good.clone(),
            None,
            fhir,
            false,
            &[401],
        ),
        (
            "a browser page",
            to("default"),
            good.clone(),
            Some(CREDENTIAL),
            "text/plain",
            true,
            &[403],
        ),
        (
            "text/plain",
            to("default"),
            good.clone(),
            Some(CREDENTIAL),
            "text/plain",
            false,
            &[415],
        ),
        // Another request of the same sending system: acknowledged, nothing done.
        (
            "a request this worker did not send",
            to("default"),
            notification(&elsewhere, false),
            Some(CREDENTIAL),
            fhir,
            false,
            &[200],
        ),
        (
            "an event notification without the response",
            to("default"),
            no_response,
            Some(CREDENTIAL),
            fhir,
            false,
            &[422],
        ),
        (
            "handshake",
            to("default"),
            handshake,
            Some(CREDENTIAL),
            fhir,
            false,
            &[200],
        ),
    ];
    for (what, url, body, auth, ctype, origin, expected) in tries {
        let status = post(url, body, auth, ctype, origin).await;
        assert!(
            expected.contains(&status),
            "{what}: {status}, expected {expected:?}"
        );
    }
    let meanwhile = b.collect(Duration::from_secs(2), |g| !g.is_empty()).await;
    assert!(
        meanwhile.is_empty(),
        "a refused notification published something: {meanwhile:?}"
    );
    assert_eq!(
        sim.seen()
            .iter()
            .filter(|s| s.operation == "inquire")
            .count(),
        0,
        "a refused notification made the worker ask: {:?}",
        sim.seen()
    );

    // A notification from the payer's endpoint whose content the payer's own answer contradicts
    // (it claims a denial): the
    // follow-up is brought forward, and what goes out is the payer's answer to the worker's
    // inquiry, once, with the outcome id the scheduled follow-up would have given it.
    let status = post(
        to("default"),
        notification(&id, true),
        Some(CREDENTIAL),
        fhir,
        false,
    )
    .await;
    assert_eq!(status, 200);
    let decided = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(decided.len(), 1, "{decided:?}\n{}", worker.logs());
    assert_eq!(decided[0].body["status"], "approved", "{}", worker.logs());
    assert_eq!(
        decided[0].body["outcome_id"],
        outcome_id(&case.case_id, &case.event_id, Status::Approved.as_str(), 0)
    );
    assert_eq!(
        decided[0].body["payer"]["reference"],
        pended[0].body["payer"]["reference"]
    );

    // The genuine notification again (a payer retrying, or a replay): nothing waits any more,
    // so it asks nothing and publishes nothing.
    let status = post(to("default"), good, Some(CREDENTIAL), fhir, false).await;
    assert_eq!(status, 200);
    let extra = b.collect(Duration::from_secs(3), |_| false).await;
    assert!(extra.is_empty(), "{extra:?}");
    let inquiries = sim
        .seen()
        .iter()
        .filter(|s| s.operation == "inquire")
        .count();
    assert_eq!(inquiries, 1, "{:?}", sim.seen());
    let metrics = reqwest::get(format!("{ops}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("preauth_followups_brought_forward_total{result=\"brought-forward\"} 1"),
        "{metrics}"
    );
    drop(worker);
    b.cleanup().await;
}

fn header_str(table: &mut FieldTable, key: &str, value: &str) {
    table.insert(
        ShortString::from(key),
        AMQPValue::LongString(LongString::from(value)),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_headers_a_publisher_forges_are_ignored() {
    let sim = payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, _) = trust_config(&dir, &sim.base_url());
    let mut b = Broker::new().await;
    let worker = InProcessWorker::start_ready(&b.env(), Some(std::path::Path::new(&cfg))).await;
    let mut case = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    case["event_id"] = "forged-headers".into();
    // Forged: a follow-up of an old request (an $inquire instead of a submission), a regulatory
    // clock that ran out long ago, attempts used up, a replay, a delivery count over the limit,
    // and a tag that is not the worker's.
    let mut h = FieldTable::default();
    header_str(&mut h, "x-preauth-followups", "3");
    header_str(&mut h, "x-preauth-reference", "PA-FORGED");
    header_str(&mut h, "x-preauth-first-attempt-at", "0");
    header_str(&mut h, "x-preauth-attempts", "99");
    header_str(&mut h, "x-preauth-retries", "99");
    header_str(&mut h, "x-preauth-replays", "7");
    header_str(&mut h, "x-preauth-routing-key", "case.appeal");
    header_str(&mut h, "x-preauth-state-tag", "AAAA");
    h.insert(
        ShortString::from("x-delivery-count"),
        AMQPValue::LongInt(50),
    );
    b.publish_with_headers(
        "case.submitted",
        &serde_json::to_vec(&case).expect("json"),
        h,
    )
    .await;
    let got = b
        .collect(Duration::from_secs(20), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(got.len(), 1, "{}", worker.logs());
    let o = &got[0].body;
    assert_eq!(o["status"], "approved", "{o}");
    assert_eq!(o["attempts"], 1, "the forged attempt count was used: {o}");
    assert_eq!(
        o["sequence"], 0,
        "forged replay or delivery count ranked it: {o}"
    );
    assert_eq!(
        o["outcome_id"],
        outcome_id(
            case["case_id"].as_str().unwrap_or_default(),
            "forged-headers",
            Status::Approved.as_str(),
            0
        ),
        "ids of a first delivery, not of a replay"
    );
    let ops: Vec<String> = sim.seen().iter().map(|s| s.operation.clone()).collect();
    assert_eq!(ops, vec!["submit".to_owned()], "forced an $inquire");
    assert!(
        b.parked().await.is_empty(),
        "parked on a forged delivery count"
    );
    worker.stop().await;
    b.cleanup().await;
}

/// A raw connection to `addr`; `send` is written at once.
async fn raw(addr: std::net::SocketAddr, send: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    if !send.is_empty() {
        s.write_all(send).await.expect("write");
    }
    s
}

/// Reads until the server closes the connection (or `within` passes); returns what it said and
/// whether it closed.
async fn until_closed(s: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_cuts_stalled_idle_and_surplus_connections_and_refuses_large_bodies() {
    let limits = Limits {
        header_read: Duration::from_secs(1),
        request: Duration::from_secs(2),
        max_body: 64 * 1024,
        max_connections: 40,
        connection_life: Duration::from_secs(4),
    };
    let credentials =
        HashMap::from([("acme".to_owned(), SecretString::from(CREDENTIAL.to_owned()))]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    preauth_worker::http::serve(
        listener,
        notify::router(Arc::new(Notifications {
            credentials,
            nudge: None,
        })),
        limits,
        shutdown.clone(),
    );
    let head = |len: usize| {
        format!("POST /pas/notify/acme HTTP/1.1\r\nHost: x\r\nAuthorization: {CREDENTIAL}\r\nContent-Type: application/fhir+json\r\nContent-Length: {len}\r\n\r\n")
    };

    // An announced 50 MB body with one byte sent: refused at once, nothing buffered.
    let started = Instant::now();
    let mut big = raw(addr, format!("{}x", head(50 * 1024 * 1024)).as_bytes()).await;
    let (said, _) = until_closed(&mut big, Duration::from_secs(3)).await;
    assert!(said.starts_with("HTTP/1.1 413"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Half-sent headers: cut after the header-read timeout.
    let started = Instant::now();
    let mut half = raw(addr, b"POST /pas/notify/acme HTTP/1.1\r\nHost: x\r\n").await;
    let (_, closed) = until_closed(&mut half, Duration::from_secs(5)).await;
    assert!(
        closed && started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );

    // A body trickled a byte at a time: cut after the request timeout.
    let started = Instant::now();
    let mut trickle = raw(addr, head(1000).as_bytes()).await;
    let mut closed = false;
    for _ in 0..40 {
        if trickle.write_all(b"{").await.is_err() {
            closed = true;
            break;
        }
        let (said, gone) = until_closed(&mut trickle, Duration::from_millis(200)).await;
        if gone || said.starts_with("HTTP/1.1 408") {
            closed = true;
            break;
        }
    }
    assert!(
        closed && started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // Idle connections up to the limit, then more: the surplus is closed at once, the rest at
    // the end of their life.
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(raw(addr, b"").await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..10 {
        let mut surplus = raw(addr, b"").await;
        let (_, closed) = until_closed(&mut surplus, Duration::from_millis(500)).await;
        assert!(closed, "a connection over the limit was kept open");
    }
    for s in &mut idle {
        let (_, closed) = until_closed(s, Duration::from_secs(6)).await;
        assert!(closed, "an idle connection outlived its limit");
    }
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );

    // And the listener still serves a proper request afterwards.
    let mut ok = raw(addr, format!("{}{{}}", head(2)).as_bytes()).await;
    let (said, _) = until_closed(&mut ok, Duration::from_secs(3)).await;
    assert!(said.starts_with("HTTP/1.1 422"), "{said}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_outcomes_and_a_bad_broker_url_leak_no_body_and_no_password_into_the_logs() {
    let mut b = Broker::new().await;
    b.unbind_outcomes().await;
    let mut case = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    case["event_id"] = "returned-marker".into();
    case["patient"]["family_name"] = "FAMILYMARKERqz".into();
    case["coverage"]["member_id"] = "MEMBERMARKERqz".into();
    let mut env = b.env();
    env.push(("RUST_LOG".into(), "trace".into()));
    env.push(("PREAUTH__AMQP__PUBLISH_HOLD".into(), "2s".into()));
    let mut worker = WorkerProcess::start_ready(&env).await;
    b.publish_case(&case).await;
    assert!(
        worker
            .wait_for_log("could not be published", Duration::from_secs(20))
            .await,
        "{}",
        worker.logs()
    );
    worker.kill();
    let logs = worker.logs();
    assert!(logs.contains("TRACE"), "trace logging was on");
    for marker in [
        "FAMILYMARKERqz",
        "MEMBERMARKERqz",
        "returned-marker\\\",\\\"patient",
    ] {
        assert!(!logs.contains(marker), "{marker} reached the logs");
    }
    assert!(!logs.contains("Server returned us a message"));

    // A malformed broker URL with a password: refused at start (the config code), the password
    // never shown.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_preauth-worker"))
        .arg("run")
        .env(
            "PREAUTH__AMQP__URL",
            "amqp//guest:PASSWORDMARKER@127.0.0.1:5672/%2f",
        )
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(i32::from(preauth_worker::exit::CONFIG))
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("amqp.url"), "{all}");
    assert!(!all.contains("PASSWORDMARKER"), "{all}");
    b.bind_outcomes().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_notification_bodies_hold_bounded_memory_in_the_worker() {
    let sim = payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, _) = trust_config(&dir, &sim.base_url());
    let b = Broker::new().await;
    let worker = WorkerProcess::start_ready_with_args(&b.env(), &["--config", &cfg]).await;
    let notify_url = worker.notify_url().await;
    let addr: std::net::SocketAddr = notify_url
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let before = worker.peak_rss_kib();
    // 60 senders each announce 1,000,000 bytes (under the 1 MiB limit), send 990,000 and stall.
    let body = vec![b'x'; 990_000];
    let mut held = Vec::new();
    for _ in 0..60 {
        let head = format!("POST /pas/notify/default HTTP/1.1\r\nHost: x\r\nAuthorization: {CREDENTIAL}\r\nContent-Type: application/fhir+json\r\nContent-Length: 1000000\r\n\r\n");
        let mut s = raw(addr, head.as_bytes()).await;
        // A refused connection (over the limit) fails its write; that is the point.
        let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(&body)).await;
        held.push(s);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peak = worker.peak_rss_kib();
    eprintln!("worker peak RSS: {before} KiB before, {peak} KiB with 60 stalled ~1 MB bodies");
    // 32 connections at most, each under 1 MiB of body: well under 64 MiB more than before.
    assert!(
        peak < before + 64 * 1024,
        "peak RSS went from {before} KiB to {peak} KiB"
    );
    // And the stalled ones are cut when the request time is up.
    let started = Instant::now();
    for s in &mut held {
        let (_, closed) = until_closed(s, Duration::from_secs(20)).await;
        assert!(closed, "a stalled body was kept past the request timeout");
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(worker);
    b.cleanup().await;
}

/// Sets the broker's `max_message_size` for the life of the guard, then puts it back.
struct BrokerMaxMessageSize(String);

impl BrokerMaxMessageSize {
    fn set(bytes: u64) -> Self {
        let eval = |expr: String| {
            std::process::Command::new("rabbitmqctl")
                .args(["eval", &expr])
                .output()
                .expect("rabbitmqctl runs")
        };
        let before = String::from_utf8_lossy(
            &eval("application:get_env(rabbit, max_message_size).".into()).stdout,
        )
        .trim()
        .trim_start_matches("{ok,")
        .trim_end_matches('}')
        .to_owned();
        let out = eval(format!(
            "application:set_env(rabbit, max_message_size, {bytes})."
        ));
        assert!(out.status.success(), "{out:?}");
        Self(before)
    }
}

impl Drop for BrokerMaxMessageSize {
    fn drop(&mut self) {
        let restore = if self.0.chars().all(|c| c.is_ascii_digit()) && !self.0.is_empty() {
            self.0.clone()
        } else {
            "134217728".to_owned()
        };
        let _ = std::process::Command::new("rabbitmqctl")
            .args([
                "eval",
                &format!("application:set_env(rabbit, max_message_size, {restore})."),
            ])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_limit_deployed_huge_messages_never_reach_the_worker_and_large_ones_are_parked_by_the_broker(
) {
    // deploy/rabbitmq/rabbitmq.conf: max_message_size = 2 MiB, above amqp.max_message_bytes.
    let _limit = BrokerMaxMessageSize::set(2 * 1024 * 1024);
    let b = Broker::new().await;
    let worker = WorkerProcess::start_ready(&b.env()).await;
    let before = worker.peak_rss_kib();
    // Three 40 MB messages: the broker refuses each at publish; the sender is told.
    for _ in 0..3 {
        let (conn, channel) = {
            let conn = lapin::Connection::connect(&b.url, lapin::ConnectionProperties::default())
                .await
                .expect("connect");
            let channel = conn.create_channel().await.expect("channel");
            (conn, channel)
        };
        let sent = channel
            .basic_publish(
                ShortString::from(b.cases_exchange().as_str()),
                ShortString::from("case.submitted"),
                lapin::options::BasicPublishOptions::default(),
                &vec![b'x'; 40 * 1024 * 1024],
                lapin::BasicProperties::default(),
            )
            .await;
        let refused = match sent {
            Err(_) => true,
            Ok(confirm) => confirm.await.is_err() || !channel.status().connected(),
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            refused || !channel.status().connected(),
            "the broker took a 40 MB message"
        );
        let _ = conn.close(200, ShortString::from("done")).await;
    }
    // Three 1.5 MB messages, over the worker's 1 MiB: rejected unread, moved by the broker.
    for _ in 0..3 {
        b.publish("case.submitted", &vec![b'x'; 1_500_000]).await;
    }
    assert_eq!(
        b.wait_depth(&b.parking_queue(), 3).await,
        3,
        "{}",
        worker.logs()
    );
    let peak = worker.peak_rss_kib();
    eprintln!("worker peak RSS: {before} KiB at start, {peak} KiB after 3 x 40 MB refused and 3 x 1.5 MB parked");
    assert!(peak < before + 32 * 1024, "{before} KiB -> {peak} KiB");
    assert_eq!(b.depth(&b.work_queue()).await, 0);
    drop(worker);
    b.cleanup().await;
}
