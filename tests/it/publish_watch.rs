//! `preauth-worker publish` and `watch` against the real broker: a case event sent the way a
//! practice-management system should send it, and its outcome read back by a person.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use serde_json::Value;

use crate::broker::{Broker, InProcessWorker};
use crate::support::{examples, read_json, run, worker};

fn env(b: &Broker) -> Vec<(String, String)> {
    b.env()
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A running `watch`, its stdout collected by a thread.
struct Watcher {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
}

impl Watcher {
    /// Starts `watch ARGS` and waits until it says its queue is bound.
    fn start(env: &[(String, String)], args: &[&str]) -> Self {
        let mut child = worker(&[&["watch"], args].concat(), &borrowed(env))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.starts_with("watching ") => break,
                Ok(line) => seen.push(line),
                Err(_) => panic!("watch never got ready: {seen:?}"),
            }
        }
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut text);
            text
        });
        Self { child, stdout }
    }

    /// Waits (up to 30 s) for the watch to end by itself; its exit code and output.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("watch did not stop after --count");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.code(), self.stdout.join().expect("stdout thread"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_published_with_publish_comes_back_through_watch_as_its_outcome() {
    let b = Broker::new().await;
    let env = env(&b);
    let worker_ = InProcessWorker::start_ready(&env, None).await;
    let lines = Watcher::start(&env, &["--count", "1"]);
    let bodies = Watcher::start(&env, &["--count", "1", "--json"]);
    let file = examples().join("01-eyelid-margin-cornea-approved.json");
    let event = read_json(&file);
    let out = run(worker(
        &["publish", file.to_str().expect("utf-8")],
        &borrowed(&env),
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim_end(),
        format!(
            "{}: sent case {} (event {}) to {} as case.submitted",
            file.display(),
            event["case_id"].as_str().expect("case id"),
            event["event_id"].as_str().expect("event id"),
            b.cases_exchange()
        )
    );
    let (code, json) = bodies.finish();
    assert_eq!(code, Some(0));
    let outcome: Value = serde_json::from_str(json.trim()).expect("one outcome body");
    assert_eq!(outcome["status"], "approved");
    assert_eq!(outcome["event_id"], event["event_id"]);
    let (code, text) = lines.finish();
    assert_eq!(code, Some(0));
    assert_eq!(
        text.trim_end(),
        format!(
            "approved       case {}  outcome {}  outcome.approved",
            event["case_id"].as_str().expect("case id"),
            outcome["outcome_id"].as_str().expect("outcome id")
        )
    );
    worker_.stop().await;
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_sets_the_routing_key_and_properties_and_refuses_what_nothing_receives() {
    let b = Broker::new().await;
    let env = env(&b);
    let submission = examples().join("01-eyelid-margin-cornea-approved.json");
    let appeal = examples().join("08-appeal-with-letter-approved.json");
    let args = |files: &[&std::path::Path]| -> Vec<String> {
        std::iter::once("publish".to_owned())
            .chain(files.iter().map(|f| f.display().to_string()))
            .collect()
    };
    let publish = |files: &[&std::path::Path]| {
        let a = args(files);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(worker(&a, &borrowed(&env)))
    };
    // Nothing is bound to the cases exchange yet: the broker returns the message.
    let out = publish(&[&submission]);
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not sent") && stderr.contains("unroutable"),
        "{stderr}"
    );

    let queue = format!("{}.publish-check", b.prefix);
    b.channel
        .queue_declare(
            ShortString::from(queue.as_str()),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare");
    b.channel
        .queue_bind(
            ShortString::from(queue.as_str()),
            ShortString::from(b.cases_exchange().as_str()),
            ShortString::from("case.*"),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    let started = chrono::Utc::now().timestamp();
    let out = publish(&[&submission, &appeal]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (file, key) in [(&submission, "case.submitted"), (&appeal, "case.appeal")] {
        let m = b
            .channel
            .basic_get(
                ShortString::from(queue.as_str()),
                BasicGetOptions { no_ack: true },
            )
            .await
            .expect("get")
            .expect("a message");
        let d = &m.delivery;
        let p = &d.properties;
        let event = read_json(file);
        assert_eq!(d.routing_key.as_str(), key);
        assert_eq!(
            p.message_id().as_ref().map(|s| s.as_str()),
            event["event_id"].as_str()
        );
        assert_eq!(
            p.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(*p.delivery_mode(), Some(2));
        let ts = p.timestamp().and_then(|t| i64::try_from(t).ok());
        assert!(
            ts.is_some_and(|t| (started - 1..=started + 60).contains(&t)),
            "{ts:?}"
        );
        let sent: Value = serde_json::from_slice(&d.data).expect("json");
        assert_eq!(sent, event, "the body is the file's");
    }

    // An input that is not a case event is not sent, and says so.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"case_id\": \"C-1\"}").expect("write");
    let out = publish(&[&bad]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.json: unreadable (no-event-id)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.cleanup().await;
}
