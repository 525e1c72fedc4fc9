//! payer-sim's side of PAS subscriptions (FHIR R4 Subscriptions Backport, rest-hook): it takes
//! `POST /Subscription` and `PUT`/`GET`/`DELETE /Subscription/{id}`, checks each is a
//! PASSubscription, sends the handshake to the channel endpoint with the channel headers and
//! makes the subscription `active` when it is answered 2xx (`error` otherwise), sends heartbeats
//! on the subscription's period, and, when a pended request is decided, posts an
//! `event-notification` (a history Bundle: the SubscriptionStatus as Parameters, then the full
//! PAS response bundle) to every active subscription whose `org-identifier` filter names the
//! request's sending system (its TransmissionIdentifiers, or its requesting organization's
//! identifiers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::payer::pas::model::operation_outcome;
use crate::payer::pas::subscription::{
    FILTER_CRITERIA_EXT, HEARTBEAT_EXT, PAS_TOPIC, PAYLOAD_CONTENT_EXT,
};

/// One subscription the simulator holds.
#[derive(Debug, Clone)]
struct Held {
    resource: Value,
    endpoint: String,
    headers: Vec<(String, String)>,
    orgs: Vec<String>,
    heartbeat: Option<Duration>,
    status: &'static str,
    events: u64,
    /// Changes with every write, so an old heartbeat loop stops.
    generation: u64,
}

/// The subscriptions, by id.
#[derive(Default)]
pub(crate) struct Subscriptions {
    held: Mutex<HashMap<String, Held>>,
    http: reqwest::Client,
    generation: std::sync::atomic::AtomicU64,
}

impl Subscriptions {
    /// `(id, status)` of every subscription held.
    pub(crate) fn statuses(&self) -> Vec<(String, String)> {
        self.held
            .lock()
            .map(|h| {
                h.iter()
                    .map(|(id, s)| (id.clone(), s.status.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn set_status(&self, id: &str, generation: u64, status: &'static str) {
        if let Ok(mut held) = self.held.lock() {
            if let Some(s) = held.get_mut(id).filter(|s| s.generation == generation) {
                s.status = status;
                s.resource["status"] = json!(status);
            }
        }
    }
}

/// The Subscription endpoints.
pub(crate) fn routes(subs: Arc<Subscriptions>) -> Router {
    use axum::routing::{get, post};
    Router::new()
        .route("/Subscription", post(create))
        .route("/Subscription/{id}", get(read).put(update).delete(delete))
        .with_state(subs)
}

fn fhir(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [("content-type", "application/fhir+json")], bytes).into_response()
}

/// Checks a PASSubscription; what is wrong, else what the simulator keeps of it.
fn read_subscription(v: &Value) -> Result<Held, String> {
    if v["resourceType"] != "Subscription" {
        return Err("not a Subscription".into());
    }
    if v["criteria"] != PAS_TOPIC {
        return Err("criteria is not the PAS SubscriptionTopic".into());
    }
    let channel = &v["channel"];
    if channel["type"] != "rest-hook" {
        return Err("channel.type is not rest-hook".into());
    }
    let endpoint = channel["endpoint"].as_str().unwrap_or_default();
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        return Err("channel.endpoint is not an http(s) URL".into());
    }
    if channel["payload"] != "application/fhir+json" {
        return Err("channel.payload is not application/fhir+json".into());
    }
    let content = channel["_payload"]["extension"]
        .as_array()
        .and_then(|x| x.iter().find(|e| e["url"] == PAYLOAD_CONTENT_EXT))
        .and_then(|e| e["valueCode"].as_str());
    if content != Some("full-resource") {
        return Err("channel.payload content is not full-resource".into());
    }
    let filter = v["_criteria"]["extension"]
        .as_array()
        .and_then(|x| x.iter().find(|e| e["url"] == FILTER_CRITERIA_EXT))
        .and_then(|e| e["valueString"].as_str())
        .unwrap_or_default();
    let orgs: Vec<String> = filter
        .strip_prefix("org-identifier=")
        .or_else(|| filter.strip_prefix("orgIdentifier="))
        .map(|list| {
            list.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if orgs.is_empty() {
        return Err("no org-identifier filter criteria".into());
    }
    let headers = channel["header"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter_map(Value::as_str)
                .filter_map(|h| h.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let heartbeat = channel["extension"]
        .as_array()
        .and_then(|x| x.iter().find(|e| e["url"] == HEARTBEAT_EXT))
        .and_then(|e| e["valueUnsignedInt"].as_u64())
        .map(Duration::from_secs);
    Ok(Held {
        resource: v.clone(),
        endpoint: endpoint.to_owned(),
        headers,
        orgs,
        heartbeat,
        status: "requested",
        events: 0,
        generation: 0,
    })
}

/// The Backport notification bundle: the SubscriptionStatus (Parameters), then `focus`.
fn notification(id: &str, kind: &str, events: u64, focus: Option<&Value>) -> Value {
    let mut parameters = vec![
        json!({"name": "subscription", "valueReference": {"reference": format!("Subscription/{id}")}}),
        json!({"name": "topic", "valueCanonical": PAS_TOPIC}),
        json!({"name": "status", "valueCode": "active"}),
        json!({"name": "type", "valueCode": kind}),
        json!({"name": "events-since-subscription-start", "valueString": events.to_string()}),
    ];
    let mut entries = vec![];
    if let Some(focus) = focus {
        let url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        parameters.push(json!({"name": "notification-event", "part": [
            {"name": "event-number", "valueString": events.to_string()},
            {"name": "focus", "valueReference": {"reference": url}},
        ]}));
        entries.push(json!({"fullUrl": url, "resource": focus}));
    }
    entries.insert(
        0,
        json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
               "resource": {"resourceType": "Parameters", "parameter": parameters}}),
    );
    json!({"resourceType": "Bundle", "type": "history", "timestamp": chrono::Utc::now().to_rfc3339(), "entry": entries})
}

/// Posts a notification to a subscription's endpoint with its channel headers; true on 2xx.
async fn deliver(http: &reqwest::Client, held: &Held, body: &Value) -> bool {
    let mut request = http
        .post(&held.endpoint)
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/fhir+json")
        .body(body.to_string());
    for (k, v) in &held.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    request.send().await.is_ok_and(|r| r.status().is_success())
}

/// Stores a checked subscription under `id` and starts its handshake (and heartbeats). A write
/// that changes nothing of an active subscription keeps it active without a new handshake.
fn store(subs: &Arc<Subscriptions>, id: String, mut held: Held) -> Value {
    let generation = subs
        .generation
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    held.generation = generation;
    held.resource["id"] = json!(id);
    let same = subs.held.lock().ok().and_then(|h| {
        h.get(&id).map(|old| {
            old.status == "active"
                && old.endpoint == held.endpoint
                && old.headers == held.headers
                && old.orgs == held.orgs
                && old.heartbeat == held.heartbeat
        })
    });
    if same == Some(true) {
        held.status = "active";
    }
    held.resource["status"] = json!(held.status);
    let answer = held.resource.clone();
    if let Ok(mut h) = subs.held.lock() {
        h.insert(id.clone(), held.clone());
    }
    if same != Some(true) {
        let subs = Arc::clone(subs);
        tokio::spawn(async move {
            let ok = deliver(&subs.http, &held, &notification(&id, "handshake", 0, None)).await;
            subs.set_status(&id, generation, if ok { "active" } else { "error" });
            let Some(period) = held.heartbeat.filter(|_| ok) else {
                return;
            };
            loop {
                tokio::time::sleep(period).await;
                let current = subs.held.lock().ok().and_then(|h| h.get(&id).cloned());
                let Some(current) =
                    current.filter(|c| c.generation == generation && c.status == "active")
                else {
                    return;
                };
                let events = current.events;
                deliver(
                    &subs.http,
                    &current,
                    &notification(&id, "heartbeat", events, None),
                )
                .await;
            }
        });
    }
    answer
}

/// A checked PASSubscription, or the refusal to answer with.
fn parse(body: &[u8]) -> Result<Held, (StatusCode, Value)> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            operation_outcome("structure", "body is not JSON"),
        )
    })?;
    read_subscription(&value).map_err(|why| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            operation_outcome("invalid", &format!("not a PASSubscription: {why}")),
        )
    })
}

async fn create(State(subs): State<Arc<Subscriptions>>, body: Bytes) -> Response {
    match parse(&body) {
        Ok(held) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            fhir(StatusCode::CREATED, &store(&subs, id, held))
        }
        Err((status, outcome)) => fhir(status, &outcome),
    }
}

async fn update(
    State(subs): State<Arc<Subscriptions>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !id_ok {
        return fhir(
            StatusCode::BAD_REQUEST,
            &operation_outcome("value", "not a FHIR id"),
        );
    }
    match parse(&body) {
        Ok(held) => fhir(StatusCode::OK, &store(&subs, id, held)),
        Err((status, outcome)) => fhir(status, &outcome),
    }
}

async fn read(State(subs): State<Arc<Subscriptions>>, Path(id): Path<String>) -> Response {
    let found = subs
        .held
        .lock()
        .ok()
        .and_then(|h| h.get(&id).map(|s| s.resource.clone()));
    match found {
        Some(resource) => fhir(StatusCode::OK, &resource),
        None => fhir(
            StatusCode::NOT_FOUND,
            &operation_outcome("not-found", "no such Subscription"),
        ),
    }
}

async fn delete(State(subs): State<Arc<Subscriptions>>, Path(id): Path<String>) -> Response {
    if let Ok(mut h) = subs.held.lock() {
        h.remove(&id);
    }
    fhir(StatusCode::NO_CONTENT, &json!({}))
}

/// The sending system identifiers of a request bundle: the values in its Claim's
/// TransmissionIdentifiers extension, and the identifiers of the organization it names as
/// provider.
fn sender_ids(request: &Value) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| k.starts_with("value") || *k == "extension")
                .for_each(|(_, x)| strings(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let entries = request["entry"].as_array().cloned().unwrap_or_default();
    let Some(claim) = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Claim")
    else {
        return out;
    };
    if let Some(exts) = claim["extension"].as_array() {
        for x in exts.iter().filter(|x| {
            x["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("extension-TransmissionIdentifiers"))
        }) {
            strings(&x["extension"], &mut out);
        }
    }
    let provider = claim["provider"]["reference"].as_str().unwrap_or_default();
    for e in entries.iter().filter(|e| e["fullUrl"] == provider) {
        if let Some(ids) = e["resource"]["identifier"].as_array() {
            out.extend(
                ids.iter()
                    .filter_map(|i| i["value"].as_str().map(str::to_owned)),
            );
        }
    }
    out
}

/// Posts an event notification carrying `response` (the full PAS response bundle) to every
/// active subscription whose filter names the sender of `request`.
pub(crate) async fn notify_decision(subs: &Subscriptions, request: &Value, response: &Value) {
    let senders = sender_ids(request);
    let targets: Vec<(String, Held)> = subs
        .held
        .lock()
        .map(|mut h| {
            h.iter_mut()
                .filter(|(_, s)| s.status == "active" && s.orgs.iter().any(|o| senders.contains(o)))
                .map(|(id, s)| {
                    s.events += 1;
                    (id.clone(), s.clone())
                })
                .collect()
        })
        .unwrap_or_default();
    for (id, held) in targets {
        let body = notification(&id, "event-notification", held.events, Some(response));
        deliver(&subs.http, &held, &body).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payer::pas::subscription::{subscription_resource, Fallback, SubscriptionSettings};

    fn worker_subscription() -> Value {
        let settings = SubscriptionSettings {
            endpoint: "http://127.0.0.1:1/pas/notify/acme".into(),
            org_identifier: "N1".into(),
            heartbeat_period: Some(Duration::from_secs(5)),
            fallback: Fallback::Poll,
            safety_inquiry_after: Duration::from_secs(60),
            safety_inquiries: 1,
        };
        subscription_resource("s-1", &settings, "Bearer 0123456789abcdef")
    }

    #[test]
    fn the_payer_takes_the_workers_pas_subscription_with_its_channel_header_and_filter() {
        let held = read_subscription(&worker_subscription()).expect("a PASSubscription");
        assert_eq!(held.orgs, vec!["N1".to_owned()]);
        assert_eq!(
            held.headers,
            vec![(
                "Authorization".to_owned(),
                "Bearer 0123456789abcdef".to_owned()
            )]
        );
        assert_eq!(held.heartbeat, Some(Duration::from_secs(5)));
        assert_eq!(held.status, "requested");
    }

    #[test]
    fn a_subscription_that_is_not_a_pas_subscription_is_refused() {
        let mut cases = Vec::new();
        for (pointer, value) in [
            ("/criteria", json!("http://example.org/other-topic")),
            ("/channel/type", json!("websocket")),
            ("/channel/payload", json!("application/fhir+xml")),
            ("/channel/_payload", json!({})),
            ("/_criteria", json!({})),
        ] {
            let mut s = worker_subscription();
            if let Some(v) = s.pointer_mut(pointer) {
                *v = value;
            }
            cases.push(s);
        }
        for s in cases {
            assert!(read_subscription(&s).is_err(), "{s}");
        }
    }

    #[test]
    fn a_decision_is_notified_to_the_subscriptions_that_name_its_sending_system() {
        let request = json!({"resourceType": "Bundle", "entry": [
            {"fullUrl": "urn:uuid:org", "resource": {"resourceType": "Organization",
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1667390524"}]}},
            {"fullUrl": "urn:uuid:claim", "resource": {"resourceType": "Claim",
                "provider": {"reference": "urn:uuid:org"},
                "extension": [{"url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-TransmissionIdentifiers",
                    "extension": [{"url": "senderIdentifier", "valueString": "N123"}]}]}}
        ]});
        let ids = sender_ids(&request);
        assert!(ids.contains(&"1667390524".to_owned()), "{ids:?}");
        assert!(ids.contains(&"N123".to_owned()), "{ids:?}");
        let note = notification(
            "s-1",
            "event-notification",
            3,
            Some(&json!({"resourceType": "Bundle"})),
        );
        assert_eq!(note["type"], "history");
        assert_eq!(note["entry"][0]["resource"]["resourceType"], "Parameters");
        assert_eq!(note["entry"][1]["resource"]["resourceType"], "Bundle");
    }
}
