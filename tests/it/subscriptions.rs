//! PAS pended results through the Subscriptions Backport, end to end over real HTTP and the
//! real broker: the worker (`run`, as a process) writes its Subscription at start and answers
//! the payer's handshake and heartbeats; a subscribed payer's pended request waits for the
//! notification (one inquiry, then the decision) or, when none comes, for the bounded safety
//! net; a payer without a subscription is polled on `followup.pended`, and stops.

use crate::support::PAYER_IDENTITY;
use std::time::{Duration, Instant};

use preauth_worker::payer::sim::server::{Scenario, SimHandle};

use crate::broker::{count_terminal, Broker, WorkerProcess};
use crate::support::{examples, payer_sim, read_json};

const CREDENTIAL: &str = "Bearer subscription-credential-0123456789";
/// The requesting organization of the example cases (their provider NPI): the sending system
/// the payer-sim matches a subscription's `org-identifier` against.
const SENDER: &str = "1667390524";

/// A free loopback port for the notification listener, so the subscription can name it.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// A worker configuration over payer-sim with a subscription table (`extra` lines) when given.
fn config(dir: &tempfile::TempDir, sim: &SimHandle, subscription: Option<&str>) -> String {
    let cred = dir.path().join("notify.credential");
    std::fs::write(&cred, format!("{CREDENTIAL}\n")).expect("credential");
    let port = free_port();
    let mut text = format!(
        "[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{}\"\ntimeout = \"2s\"\n",
        sim.base_url()
    );
    if let Some(table) = subscription {
        text = format!(
            "[notifications]\nlisten = \"127.0.0.1:{port}\"\n{text}notification_credential_file = \"{}\"\n[payers.default.subscription]\nendpoint = \"http://127.0.0.1:{port}/pas/notify/default\"\n{table}\n",
            cred.display()
        );
    }
    let path = dir.path().join("worker.toml");
    std::fs::write(&path, text).expect("config");
    path.to_str().expect("utf-8").to_owned()
}

fn inquiries(sim: &SimHandle) -> Vec<u64> {
    sim.seen()
        .iter()
        .filter(|s| s.operation == "inquire")
        .map(|s| s.at_ms)
        .collect()
}

async fn metrics(ops: &str) -> String {
    reqwest::get(format!("{ops}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// Waits until the worker reports its subscription active (it read it back from the payer).
async fn until_active(worker: &WorkerProcess, sim: &SimHandle) {
    let ops = worker.ops_url().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let m = metrics(&ops).await;
        if m.contains("preauth_subscription_state{payer=\"default\",state=\"active\"} 1") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the subscription never became active: {:?}\n{}",
        sim.subscriptions(),
        worker.logs()
    );
}

fn env_with(b: &Broker, pended: &str) -> Vec<(String, String)> {
    let mut env = b.env();
    env.retain(|(k, _)| k != "PREAUTH__FOLLOWUP__PENDED");
    env.push(("PREAUTH__FOLLOWUP__PENDED".into(), pended.into()));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_payers_notification_leads_to_one_inquiry_and_its_decision_is_published() {
    let sim = payer_sim(
        "default",
        Scenario {
            decide_pended_after: Some(Duration::from_secs(4)),
            ..Scenario::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        &dir,
        &sim,
        Some(&format!(
            "org_identifier = \"{SENDER}\"\nheartbeat_period = \"1s\"\nsafety_inquiry_after = \"1h\""
        )),
    );
    let mut b = Broker::new().await;
    // Polling would ask every second: a subscribed payer must not be polled.
    let env = env_with(&b, "[\"1s\", \"1s\", \"1s\", \"1s\", \"1s\"]");
    let worker = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    until_active(&worker, &sim).await;
    assert_eq!(sim.subscriptions().len(), 1, "{:?}", sim.subscriptions());
    assert_eq!(sim.subscriptions()[0].1, "active");

    b.publish_case(&read_json(
        &examples().join("11-eyelid-excision-pended-approved.json"),
    ))
    .await;
    let pended = b.collect(Duration::from_secs(20), |g| !g.is_empty()).await;
    assert_eq!(pended.len(), 1, "{}", worker.logs());
    assert_eq!(pended[0].body["status"], "pended");

    // A notification without the payer's credential changes nothing.
    let notify_url = worker.notify_url().await;
    let forged = reqwest::Client::new()
        .post(format!("{notify_url}/pas/notify/default"))
        .header("content-type", "application/fhir+json")
        .body("{\"resourceType\":\"Bundle\",\"type\":\"history\",\"entry\":[]}")
        .send()
        .await
        .expect("answered");
    assert_eq!(forged.status().as_u16(), 401);

    // The payer decides four seconds after it pended, and notifies.
    let decided = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(decided.len(), 1, "{decided:?}\n{}", worker.logs());
    assert_eq!(decided[0].body["status"], "approved", "{}", worker.logs());
    let asked = inquiries(&sim);
    assert_eq!(asked.len(), 1, "no polling, one inquiry: {:?}", sim.seen());
    let submitted = sim.seen().first().map(|s| s.at_ms).unwrap_or_default();
    assert!(
        asked[0] >= submitted + 3_500,
        "the inquiry came before the notification: {:?}",
        sim.seen()
    );

    // Handshake and heartbeats were acknowledged.
    let m = metrics(&worker.ops_url().await).await;
    let acknowledged = m
        .lines()
        .find(|l| {
            l.starts_with("preauth_notifications_total{payer=\"default\",result=\"handshake\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_default();
    assert!(acknowledged >= 2, "handshake and heartbeats: {m}");
    assert!(
        m.contains("preauth_followups_brought_forward_total{result=\"brought-forward\"} 1"),
        "{m}"
    );
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_net_asks_the_payer_when_no_notification_ever_comes() {
    // The payer decides after a second but never notifies: the subscription's filter names
    // another sending system.
    let sim = payer_sim(
        "default",
        Scenario {
            decide_pended_after: Some(Duration::from_secs(1)),
            ..Scenario::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        &dir,
        &sim,
        Some(
            "org_identifier = \"0000000000\"\nsafety_inquiry_after = \"4s\"\nsafety_inquiries = 2",
        ),
    );
    let mut b = Broker::new().await;
    let env = env_with(&b, "[\"1s\", \"1s\", \"1s\"]");
    let worker = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    until_active(&worker, &sim).await;
    b.publish_case(&read_json(
        &examples().join("11-eyelid-excision-pended-approved.json"),
    ))
    .await;
    let got = b
        .collect(Duration::from_secs(30), |g| count_terminal(g) >= 1)
        .await;
    assert_eq!(
        got.len(),
        2,
        "pended, then decided: {got:?}\n{}",
        worker.logs()
    );
    assert_eq!(got[1].body["status"], "approved", "{}", worker.logs());
    let asked = inquiries(&sim);
    assert_eq!(asked.len(), 1, "one safety-net inquiry: {:?}", sim.seen());
    let submitted = sim.seen().first().map(|s| s.at_ms).unwrap_or_default();
    assert!(
        asked[0] >= submitted + 3_500,
        "asked before the safety-net wait: {:?}",
        sim.seen()
    );
    drop(worker);
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_without_subscriptions_is_polled_on_followup_pended_and_stops_after_its_rounds() {
    // The payer takes an hour to decide: every follow-up finds the request still pended.
    let sim = payer_sim(
        "default",
        Scenario {
            decide_pended_after: Some(Duration::from_secs(3600)),
            ..Scenario::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir, &sim, None);
    let mut b = Broker::new().await;
    let env = env_with(&b, "[\"1s\", \"1s\"]");
    let worker = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    b.publish_case(&read_json(
        &examples().join("11-eyelid-excision-pended-approved.json"),
    ))
    .await;
    let got = b
        .collect(Duration::from_secs(40), |g| count_terminal(g) >= 1)
        .await;
    let last = got.last().expect("outcomes");
    assert_eq!(last.body["status"], "failed", "{got:?}\n{}", worker.logs());
    assert_eq!(inquiries(&sim).len(), 2, "{:?}", sim.seen());
    assert!(sim.subscriptions().is_empty());
    // Nothing more is asked.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(inquiries(&sim).len(), 2, "{:?}", sim.seen());
    drop(worker);
    b.cleanup().await;
}
