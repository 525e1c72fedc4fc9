//! OpenTelemetry traces across the bus and the payer. An OTLP/HTTP receiver runs in this
//! process and decodes what the worker exports with the collector's own protobuf types; the
//! worker is a process of its own (its tracing subscriber is global), talking to the real broker
//! and to a PAS payer simulator that records the `traceparent` of every request.

use crate::support::PAYER_IDENTITY;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode as Http;
use axum::routing::post;
use axum::Router;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use preauth_worker::payer::sim::server::{Scenario, SimHandle};
use preauth_worker::payer::sim::Faults;
use prost::Message;
use serde_json::Value;

use crate::broker::{Broker, Received, WorkerProcess};
use crate::support::{examples, outcomes, read_json, run, worker};

/// The publisher's trace and span, as a W3C `traceparent`.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PUBLISHER_SPAN: &str = "00f067aa0ba902b7";

/// One exported span, reduced to what the tests look at.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    /// The span status code (`Error` when set to error).
    status: i32,
    attributes: BTreeMap<String, String>,
}

/// An OTLP/HTTP receiver: `POST /v1/traces`, protobuf.
struct Receiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Exported>>>,
    requests: Arc<Mutex<u32>>,
}

#[derive(Clone)]
struct Sink {
    spans: Arc<Mutex<Vec<Exported>>>,
    requests: Arc<Mutex<u32>>,
}

fn text(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

async fn traces(State(sink): State<Sink>, body: Bytes) -> (Http, Vec<u8>) {
    *sink.requests.lock().expect("count") += 1;
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (Http::BAD_REQUEST, Vec::new());
    };
    let mut spans = sink.spans.lock().expect("spans");
    for rs in request.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.as_ref()))
            .unwrap_or_default();
        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(Exported {
                service: service.clone(),
                name: span.name.clone(),
                kind: span.kind,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent: hex(&span.parent_span_id),
                status: span.status.as_ref().map(|s| s.code).unwrap_or_default(),
                attributes: span
                    .attributes
                    .iter()
                    .map(|a| (a.key.clone(), text(a.value.as_ref())))
                    .collect(),
            });
        }
    }
    (
        Http::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    async fn start() -> Self {
        let sink = Sink {
            spans: Arc::default(),
            requests: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .with_state(sink.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            spans: sink.spans,
            requests: sink.requests,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().expect("spans").clone()
    }

    fn requests(&self) -> u32 {
        *self.requests.lock().expect("count")
    }

    /// Waits (up to 15 s) until `done` holds for the spans received.
    async fn wait_for(&self, done: impl Fn(&[Exported]) -> bool) -> Vec<Exported> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let spans = self.spans();
            if done(&spans) || Instant::now() > deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A worker configuration sending every payer to the PAS simulator `sim`.
fn pas_config(dir: &tempfile::TempDir, sim: &SimHandle) -> String {
    let path = dir.path().join("worker.toml");
    std::fs::write(
        &path,
        format!(
            "[payers.default]\nadapter = \"fhir-pas\"\n{PAYER_IDENTITY}allow_insecure_http = true\nbase_url = \"{}\"\ntimeout = \"5s\"\n",
            sim.base_url()
        ),
    )
    .expect("write config");
    path.to_str().expect("utf-8").to_owned()
}

fn trace_headers(traceparent: &str) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in [("traceparent", traceparent), ("tracestate", "vendor=a1")] {
        t.insert(
            ShortString::from(k),
            AMQPValue::LongString(LongString::from(v)),
        );
    }
    t
}

/// The first example (approved by the default policy) under fresh ids.
fn case(n: u32) -> Value {
    let mut case = read_json(&examples().join("01-eyelid-margin-cornea-approved.json"));
    case["event_id"] = Value::from(format!("trace-event-{n}-{}", std::process::id()));
    case["case_id"] = Value::from(format!("trace-case-{n}"));
    case
}

/// `(trace id, parent id)` of a `traceparent`.
fn parts(traceparent: &str) -> (String, String) {
    let p: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(p.len(), 4, "{traceparent}");
    (p[1].to_owned(), p[2].to_owned())
}

/// Every string a case carries, but its ids and its payer id (both allowed in traces).
fn case_values(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if !matches!(k.as_str(), "case_id" | "event_id" | "payer_id" | "schema") {
                    case_values(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| case_values(v, out)),
        Value::String(s) if s.len() >= 4 => {
            out.insert(s.clone());
        }
        _ => {}
    }
}

/// The attributes the worker measures itself: whole numbers, never taken from a case.
const MEASURED_ATTRIBUTES: &[&str] = &["busy_ns", "idle_ns", "code.line.number"];

/// The attributes a span of the worker may carry: ids, codes and counts.
const ALLOWED_ATTRIBUTES: &[&str] = &[
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "code.file.path",
    "code.module.name",
    "code.line.number",
    "target",
    "busy_ns",
    "idle_ns",
    "messaging.system",
    "messaging.operation.type",
    "messaging.destination.name",
    "messaging.rabbitmq.redelivered",
    "messaging.rabbitmq.destination.routing_key",
    "messaging.message.body.size",
    "trace.continued",
    "case_id",
    "event_id",
    "settle",
    "payer",
    "findings",
    "rules",
    "outcome_status",
    "outcome_id",
    "next",
    "park_reason",
    "adapter",
    "operation",
    "request_id",
    "attempt",
    "result",
    "http.request.method",
    "http.response.status_code",
    "server.address",
    "url.path",
    "preauth.published",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_is_one_connected_trace_from_the_publisher_to_the_payer_and_the_outcome() {
    let receiver = Receiver::start().await;
    let sim = crate::support::payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pas_config(&dir, &sim);
    let mut b = Broker::new().await;
    let mut env = b.env();
    env.push((
        "PREAUTH__TELEMETRY__OTLP_ENDPOINT".into(),
        receiver.endpoint(),
    ));
    env.push((
        "PREAUTH__TELEMETRY__SERVICE_NAME".into(),
        "preauth-worker-test".into(),
    ));
    let mut w = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;

    // One case continuing the publisher's trace, one with a malformed traceparent.
    let traced = case(1);
    let malformed = case(2);
    let parent = format!("00-{TRACE_ID}-{PUBLISHER_SPAN}-01");
    for (body, traceparent) in [
        (&traced, parent.as_str()),
        (&malformed, "00-zz-not-a-trace"),
    ] {
        b.publish_with_headers(
            "case.submitted",
            &serde_json::to_vec(body).expect("json"),
            trace_headers(traceparent),
        )
        .await;
    }
    let got = b.collect(Duration::from_secs(30), |g| g.len() >= 2).await;
    assert_eq!(got.len(), 2, "{}", w.logs());
    let outcome_of = |c: &Value| -> Received {
        got.iter()
            .find(|r| r.body["event_id"] == c["event_id"])
            .cloned()
            .expect("an outcome")
    };
    let (traced_out, malformed_out) = (outcome_of(&traced), outcome_of(&malformed));
    assert_eq!(traced_out.body["status"], "approved");
    assert_eq!(malformed_out.body["status"], "approved");

    // The worker drains and flushes its spans on SIGTERM.
    w.signal("TERM");
    let status = w
        .wait_exit(Duration::from_secs(30))
        .expect("the worker exits");
    assert!(status.success(), "{}", w.logs());
    let spans = receiver
        .wait_for(|s| s.iter().filter(|s| s.name == "consume").count() >= 2)
        .await;
    assert!(
        spans.iter().all(|s| s.service == "preauth-worker-test"),
        "{spans:#?}"
    );

    // The traced case: one trace, each span the child of the one before it.
    let in_trace: Vec<&Exported> = spans.iter().filter(|s| s.trace_id == TRACE_ID).collect();
    let one = |name: &str| -> &Exported {
        let found: Vec<&&Exported> = in_trace.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "{name}: {in_trace:#?}");
        found[0]
    };
    let consume = one("consume");
    let decide = one("decide");
    let call = one("payer call");
    let http = one("POST Claim/$submit");
    let publish = one("publish");
    assert_eq!(consume.parent, PUBLISHER_SPAN);
    assert_eq!(decide.parent, consume.span_id);
    assert_eq!(call.parent, decide.span_id);
    assert_eq!(http.parent, call.span_id);
    assert_eq!(publish.parent, consume.span_id);
    assert_eq!(consume.kind, SpanKind::Consumer as i32);
    assert_eq!(http.kind, SpanKind::Client as i32);
    assert_eq!(publish.kind, SpanKind::Producer as i32);
    assert_eq!(in_trace.len(), 5, "{in_trace:#?}");

    // Ids and codes on them.
    let event_id = traced["event_id"].as_str().expect("id");
    assert_eq!(consume.attributes["event_id"], event_id);
    assert_eq!(consume.attributes["settle"], "ack");
    assert_eq!(consume.attributes["trace.continued"], "true");
    assert_eq!(decide.attributes["case_id"], "trace-case-1");
    assert_eq!(decide.attributes["payer"], "default");
    assert_eq!(decide.attributes["outcome_status"], "approved");
    assert_eq!(call.attributes["operation"], "submit");
    assert_eq!(call.attributes["result"], "answered");
    assert_eq!(http.attributes["http.response.status_code"], "200");
    assert_eq!(
        publish.attributes["outcome_id"],
        traced_out.message_id.clone().unwrap_or_default()
    );

    // The payer request and the outcome event carry the trace on.
    let sent = sim.traceparents();
    let to_payer: Vec<&(String, String)> = sent
        .iter()
        .filter(|(_, tp)| parts(tp).0 == TRACE_ID)
        .collect();
    assert_eq!(to_payer.len(), 1, "{sent:?}");
    assert_eq!(parts(&to_payer[0].1).1, http.span_id);
    assert_eq!(call.attributes["request_id"], to_payer[0].0);
    let on_outcome = traced_out
        .traceparent
        .clone()
        .expect("traceparent on the outcome");
    assert_eq!(
        parts(&on_outcome),
        (TRACE_ID.to_owned(), publish.span_id.clone())
    );

    // The malformed traceparent was ignored: a trace of its own, carried on all the same.
    let fresh = malformed_out.traceparent.clone().expect("traceparent");
    let (fresh_trace, fresh_publish) = parts(&fresh);
    assert_ne!(fresh_trace, TRACE_ID);
    let root = spans
        .iter()
        .find(|s| s.name == "consume" && s.trace_id == fresh_trace)
        .expect("its consume span");
    assert!(root.parent.is_empty() || root.parent == "0000000000000000");
    assert_eq!(root.attributes["trace.continued"], "false");
    assert!(spans
        .iter()
        .any(|s| s.name == "publish" && s.span_id == fresh_publish));
    assert!(sent.iter().any(|(_, tp)| parts(tp).0 == fresh_trace));

    // Ids and codes only: known attribute names, and no value of the case in any of them.
    let mut values = BTreeSet::new();
    case_values(&traced, &mut values);
    for span in &spans {
        for (key, value) in &span.attributes {
            assert!(
                ALLOWED_ATTRIBUTES.contains(&key.as_str()),
                "{}: attribute {key} = {value}",
                span.name
            );
            // Timings and source lines are numbers the worker measures: any digits may turn up
            // in them (a busy time of 67850 ns is also a CPT code), and they hold nothing else.
            if MEASURED_ATTRIBUTES.contains(&key.as_str()) {
                assert!(
                    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
                    "{}: {key} = {value} is not a count",
                    span.name
                );
                continue;
            }
            for v in &values {
                assert!(
                    !value.contains(v.as_str()),
                    "{}: {key} holds {v}",
                    span.name
                );
            }
        }
    }
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported_and_no_trace_header_is_written() {
    let receiver = Receiver::start().await;
    let sim = crate::support::payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pas_config(&dir, &sim);
    let mut b = Broker::new().await;
    let mut env = b.env();
    // The standard variables alone do not turn exports on.
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver.endpoint()));
    let mut w = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    let traced = case(3);
    b.publish_with_headers(
        "case.submitted",
        &serde_json::to_vec(&traced).expect("json"),
        trace_headers(&format!("00-{TRACE_ID}-{PUBLISHER_SPAN}-01")),
    )
    .await;
    let got = b.collect(Duration::from_secs(30), |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1, "{}", w.logs());
    assert_eq!(got[0].body["status"], "approved");
    assert_eq!(got[0].traceparent, None);
    assert_eq!(sim.seen().len(), 1);
    assert!(sim.traceparents().is_empty(), "{:?}", sim.traceparents());
    w.signal("TERM");
    assert!(w
        .wait_exit(Duration::from_secs(30))
        .expect("the worker exits")
        .success());
    assert_eq!(receiver.requests(), 0);
    assert!(
        !w.logs().contains("\"span\""),
        "spans reached the log: {}",
        w.logs()
    );
    b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_exports_the_decide_and_payer_spans_of_each_case_before_it_exits() {
    let receiver = Receiver::start().await;
    let sim = crate::support::payer_sim("default", Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pas_config(&dir, &sim);
    let file = dir.path().join("case.json");
    std::fs::write(&file, serde_json::to_vec(&case(4)).expect("json")).expect("write case");
    let endpoint = receiver.endpoint();
    let out = tokio::task::spawn_blocking(move || {
        run(worker(
            &["process", "--config", &cfg, file.to_str().expect("utf-8")],
            &[("PREAUTH__TELEMETRY__OTLP_ENDPOINT", endpoint.as_str())],
        ))
    })
    .await
    .expect("process runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(outcomes(&out.stdout)[0]["status"], "approved");
    // Exported before the process ended: nothing to wait for.
    let spans = receiver.spans();
    let decide = spans
        .iter()
        .find(|s| s.name == "decide")
        .unwrap_or_else(|| panic!("no decide span: {spans:#?}"));
    assert!(spans
        .iter()
        .any(|s| s.name == "payer call" && s.parent == decide.span_id));
    let (_, traceparent) = sim.traceparents().pop().expect("a traceparent");
    assert_eq!(parts(&traceparent).0, decide.trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_retried_through_a_delay_tier_stays_in_the_publishers_trace() {
    let receiver = Receiver::start().await;
    let sim = crate::support::payer_sim(
        "default",
        Scenario::from(Faults {
            fail_first: 1,
            ..Faults::default()
        }),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pas_config(&dir, &sim);
    let mut b = Broker::new().await;
    let mut env = b.env();
    env.push((
        "PREAUTH__TELEMETRY__OTLP_ENDPOINT".into(),
        receiver.endpoint(),
    ));
    let mut w = WorkerProcess::start_ready_with_args(&env, &["--config", &cfg]).await;
    b.publish_with_headers(
        "case.submitted",
        &serde_json::to_vec(&case(5)).expect("json"),
        trace_headers(&format!("00-{TRACE_ID}-{PUBLISHER_SPAN}-01")),
    )
    .await;
    let got = b.collect(Duration::from_secs(30), |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1, "{}", w.logs());
    assert_eq!(got[0].body["status"], "approved");
    w.signal("TERM");
    assert!(w
        .wait_exit(Duration::from_secs(30))
        .expect("the worker exits")
        .success());
    let spans = receiver
        .wait_for(|s| s.iter().filter(|s| s.name == "consume").count() >= 2)
        .await;
    assert!(spans.iter().all(|s| s.trace_id == TRACE_ID), "{spans:#?}");
    let consumes: Vec<&Exported> = spans.iter().filter(|s| s.name == "consume").collect();
    assert_eq!(consumes.len(), 2, "{spans:#?}");
    // The first delivery moved the case to a delay tier; the second continues from that move.
    let first = consumes
        .iter()
        .find(|c| c.parent == PUBLISHER_SPAN)
        .expect("the first delivery");
    let moved = spans
        .iter()
        .find(|s| s.name == "publish" && s.parent == first.span_id)
        .expect("the move to the delay tier");
    assert_eq!(moved.attributes["preauth.published"], "case event");
    assert!(consumes.iter().any(|c| c.parent == moved.span_id));
    let statuses: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.name == "POST Claim/$submit")
        .map(|s| s.attributes["http.response.status_code"].as_str())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["200", "503"]));
    let failed = spans
        .iter()
        .find(|s| s.name == "payer call" && s.attributes["result"] == "transient")
        .expect("the failed call");
    assert_eq!(failed.status, StatusCode::Error as i32);
    assert!(spans
        .iter()
        .filter(|s| s.name == "consume")
        .all(|s| s.status != StatusCode::Error as i32));
    b.cleanup().await;
}
