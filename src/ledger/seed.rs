//! Synthetic events for benchmarks and the console's page tests (`ledger seed --events N`):
//! realistic outcome and progress events of the real formats, about four per case event (the
//! received and submitted steps, retries, pended answers, the decision), every status, several
//! payers, findings, payer reasons and appeal deadlines, spread over the last 26 weeks. They
//! go through the same parse and write path as delivered events. Ids start with `seed-`, so
//! seeded rows are never mistaken for real ones.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::BasicProperties;

use super::message::{self, Message};
use super::{store, LedgerError};
use crate::amqp::{bounded, client};
use crate::config::Settings;

/// Events written per transaction while seeding.
pub const SEED_BATCH: usize = 1000;

/// What `seed` wrote, and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seeded {
    /// Messages written (`ledger_events` rows).
    pub events: u64,
    /// Case events they belong to.
    pub case_events: u64,
    /// Time spent in the write path (generating the events not counted).
    pub elapsed: Duration,
}

impl Seeded {
    /// Messages per second through the write path.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A small deterministic generator (SplitMix64): the same run id gives the same events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[i]
    }
}

const PAYERS: [&str; 5] = [
    "northwind-health",
    "acme-health",
    "bluepeak-mutual",
    "summit-care",
    "default",
];

/// Findings of rejected cases: rule, path, message (the worker's own sentences, no patient data).
const FINDINGS: [(&str, &str, &str); 5] = [
    (
        "NEC-01",
        "documentation.indications",
        "No accepted indication is documented for the removal.",
    ),
    (
        "COD-03",
        "service.procedures[0].modifiers",
        "The eyelid procedure needs a laterality modifier (E1-E4).",
    ),
    (
        "COD-07",
        "service.procedures[0].units",
        "17110 covers up to 14 lesions; use 17111 for 15 or more.",
    ),
    (
        "DOC-02",
        "documentation.photos",
        "Photographs of the lesions are required by this payer.",
    ),
    (
        "COS-01",
        "service.diagnoses[0]",
        "Z41.1 marks an encounter for cosmetic reasons, which is not covered.",
    ),
];

/// Payer denial reasons (X12 886 codes).
const REASONS: [(&str, &str); 4] = [
    ("A3-CONS", "Conservative treatment not documented."),
    ("A3-COSM", "Service considered cosmetic."),
    ("A3-MED", "Medical necessity not established."),
    ("A3-DOC", "Documentation insufficient."),
];

const APPEAL_NEEDS: [&str; 3] = ["letter_of_medical_necessity", "prior_treatments", "photos"];

fn uuid(parts: &[&str]) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, parts.join("\u{1f}").as_bytes()).to_string()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One case event's messages: its bodies, in the order the worker would publish them.
fn case_event(rng: &mut Rng, run: &str, n: u64, now: DateTime<Utc>) -> Vec<Value> {
    let event_id = format!("seed-{run}-{n}");
    // About one case in five has a second event (an appeal after a denial).
    let case_no = if n % 5 == 1 { n - 1 } else { n };
    let case_id = format!("C-SEED-{run}-{case_no:07}");
    let payer = *rng.pick(&PAYERS);
    let request = uuid(&["request", &event_id]);
    let weeks = chrono::Duration::seconds(i64::try_from(rng.below(26 * 7 * 86_400)).unwrap_or(0));
    let t0 = now - weeks;
    let expedited = rng.below(10) == 0;
    let urgency = if expedited { "expedited" } else { "standard" };
    let status = match rng.below(100) {
        0..=44 => "approved",
        45..=59 => "rejected",
        60..=67 => "denied",
        68..=77 => "appeal-needed",
        78..=84 => "failed",
        85..=89 => "pended",
        _ => "pended-approved",
    };
    let mut out = Vec::new();
    let progress = |step: &str, at: DateTime<Utc>, seq: u64, attempt: u32, extra: Value| {
        let mut body = json!({
            "schema": message::PROGRESS_SCHEMA_V1,
            "progress_id": uuid(&["progress", &case_id, &event_id, step, &attempt.to_string()]),
            "event_id": event_id, "case_id": case_id, "step": step,
            "at": rfc3339(at), "sequence": seq, "attempt": attempt, "replays": 0,
            "payer": {"id": payer, "request_identifier": request, "reference": null},
            "urgency": null, "operation": null, "retry": null, "parked": null,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        body
    };
    let outcome = |status: &str, at: DateTime<Utc>, seq: u64, attempts: u32, extra: Value| {
        let mut body = json!({
            "schema": "preauth.outcome.v1",
            "outcome_id": uuid(&["outcome", &event_id, status, &seq.to_string()]),
            "event_id": event_id, "case_id": case_id, "status": status,
            "decided_at": rfc3339(at), "sequence": seq, "attempts": attempts,
            "payer": {"id": payer, "request_identifier": request, "reference": null, "review_action": null},
            "authorization": null, "reasons": [], "findings": [], "appeal": null,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        body
    };
    let secs = |s: i64| chrono::Duration::seconds(s);
    out.push(progress("received", t0, 0, 0, json!({})));
    if status == "rejected" {
        let (rule, path, text) = *rng.pick(&FINDINGS);
        out.push(outcome(
            "rejected",
            t0 + secs(1),
            0,
            0,
            json!({"payer": null, "findings": [{"rule": rule, "severity": "error", "path": path, "message": text}]}),
        ));
        return out;
    }
    let submitted = json!({"urgency": urgency, "operation": "submit"});
    out.push(progress("submitted", t0 + secs(2), 0, 1, submitted.clone()));
    let decided = t0 + secs(i64::try_from(60 + rng.below(3 * 86_400)).unwrap_or(60));
    let reference = format!("REF-{}", rng.below(1_000_000_000));
    let payer_ref = json!({"id": payer, "request_identifier": request, "reference": reference, "review_action": null});
    let authorization = |partial: bool| {
        json!({
            "number": format!("AUTH-{}", rng_number(&event_id)),
            "valid_from": decided.date_naive().to_string(),
            "valid_to": (decided + chrono::Duration::days(90)).date_naive().to_string(),
            "approved_units": if partial { 1 } else { 2 },
            "patient_responsibility": "20% coinsurance",
            "partial": partial,
        })
    };
    match status {
        "approved" => out.push(outcome(
            "approved",
            decided,
            1_000,
            1,
            json!({"payer": {"id": payer, "request_identifier": request, "reference": reference, "review_action": "A1"}, "authorization": authorization(rng.below(8) == 0)}),
        )),
        "denied" | "appeal-needed" => {
            let (code, text) = *rng.pick(&REASONS);
            let mut extra = json!({"payer": {"id": payer, "request_identifier": request, "reference": reference, "review_action": "A3"},
                "reasons": [{"code": code, "system": "https://codesystem.x12.org/external/886", "text": text}]});
            if status == "appeal-needed" {
                let deadline = (decided + chrono::Duration::days(60)).date_naive().to_string();
                let need = *rng.pick(&APPEAL_NEEDS);
                extra["appeal"] = json!({"deadline": deadline, "required": [need]});
            }
            out.push(outcome(status, decided, 1_000, 1, extra));
        }
        "failed" => {
            for (i, tier) in ["5s", "30s"].iter().enumerate() {
                let at = t0 + secs(3 + 40 * i64::try_from(i).unwrap_or(0));
                let i = u32::try_from(i).unwrap_or(0);
                out.push(progress(
                    "retry-scheduled",
                    at,
                    u64::from(i + 1) * 1_000,
                    i + 1,
                    json!({"retry": {"tier": tier, "reason": "http-503", "retry_at": rfc3339(at + secs(30))}}),
                ));
            }
            let at = t0 + secs(120);
            out.push(outcome(
                "failed",
                at,
                3_000,
                3,
                json!({"reasons": [{"code": "retries-exhausted", "system": "urn:preauth-worker:reason", "text": "The payer could not be reached."}]}),
            ));
            out.push(progress("parked", at, 3_000, 3, json!({"parked": {"reason": "retries-exhausted"}})));
        }
        _ => {
            let pended_at = t0 + secs(30);
            out.push(outcome(
                "pended",
                pended_at,
                1_000,
                1,
                json!({"payer": payer_ref, "next_follow_up_at": rfc3339(pended_at + secs(3600))}),
            ));
            if status == "pended-approved" {
                out.push(outcome(
                    "approved",
                    decided,
                    2_000,
                    2,
                    json!({"payer": {"id": payer, "request_identifier": request, "reference": reference, "review_action": "A1"}, "authorization": authorization(false)}),
                ));
            }
        }
    }
    out
}

/// A stable number from an id, for authorization numbers.
fn rng_number(id: &str) -> u64 {
    id.bytes().fold(1_469_598_103_934_665_603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211)
    }) % 10_000_000_000
}

/// The synthetic events of one run, generated a case event at a time.
pub struct Generator {
    rng: Rng,
    run: String,
    n: u64,
    now: DateTime<Utc>,
}

impl Generator {
    pub fn new(run: &str, now: DateTime<Utc>) -> Self {
        Self {
            rng: Rng(rng_number(run)),
            run: run.to_owned(),
            n: 0,
            now,
        }
    }

    /// The bodies of the next case event's messages.
    pub fn next_bodies(&mut self) -> Vec<Value> {
        self.n += 1;
        case_event(&mut self.rng, &self.run, self.n, self.now)
    }

    /// Case events generated so far.
    pub fn case_events(&self) -> u64 {
        self.n
    }

    /// At least `at_least` messages (whole case events), parsed as delivered ones are.
    pub fn messages(&mut self, at_least: usize) -> Result<Vec<Message>, LedgerError> {
        let mut out = Vec::with_capacity(at_least + 8);
        while out.len() < at_least {
            for body in self.next_bodies() {
                let bytes = serde_json::to_vec(&body)
                    .map_err(|e| LedgerError::Internal(format!("seed event: {e}")))?;
                out.push(message::parse(&bytes).map_err(|why| {
                    LedgerError::Internal(format!("a seed event does not parse: {why}"))
                })?);
            }
        }
        Ok(out)
    }
}

/// Writes about `n_events` synthetic events through [`store::write`], about [`SEED_BATCH`] per
/// transaction. Each call is a new run (ids of its own).
pub async fn seed(pool: &PgPool, n_events: u64) -> Result<Seeded, LedgerError> {
    let run = format!("{:x}", Utc::now().timestamp_micros());
    let mut generator = Generator::new(&run, Utc::now());
    let mut writing = Duration::ZERO;
    let mut events = 0u64;
    let mut made = 0u64;
    while made < n_events {
        let left = usize::try_from(n_events - made).unwrap_or(SEED_BATCH);
        let chunk = generator.messages(left.min(SEED_BATCH))?;
        made += chunk.len() as u64;
        let started = Instant::now();
        let written = store::write(pool, &chunk)
            .await
            .map_err(|e| LedgerError::database("seeding the ledger", e))?;
        writing += started.elapsed();
        events += written.inserted;
    }
    Ok(Seeded {
        events,
        case_events: generator.case_events(),
        elapsed: writing,
    })
}

/// Publishes about `n_events` synthetic events to `topology.outcomes_exchange` as the worker
/// does (`outcome.<status>` / `progress.<step>`, message id, persistent, publisher-confirmed),
/// for the ingest benchmark: returns how many were published and how long it took.
pub async fn publish(settings: &Settings, n_events: u64) -> Result<(u64, Duration), LedgerError> {
    let timeout = settings.amqp.timeout;
    let (conn, channel) = client::open(settings, "preauth-worker ledger seed").await?;
    bounded(
        "selecting publisher confirms",
        timeout,
        channel.confirm_select(ConfirmSelectOptions::default()),
    )
    .await?;
    let run = format!("{:x}", Utc::now().timestamp_micros());
    let mut generator = Generator::new(&run, Utc::now());
    let exchange = settings.topology.outcomes_exchange.as_str();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut pending = Vec::new();
    while sent < n_events {
        for body in generator.next_bodies() {
            let (id, key) = match (body["outcome_id"].as_str(), body["status"].as_str()) {
                (Some(id), Some(status)) => (id.to_owned(), format!("outcome.{status}")),
                _ => (
                    body["progress_id"].as_str().unwrap_or_default().to_owned(),
                    format!("progress.{}", body["step"].as_str().unwrap_or_default()),
                ),
            };
            let payload = serde_json::to_vec(&body)
                .map_err(|e| LedgerError::Internal(format!("seed event: {e}")))?;
            let confirm = bounded(
                "publishing a seed event",
                timeout,
                channel.basic_publish(
                    ShortString::from(exchange),
                    ShortString::from(key.as_str()),
                    BasicPublishOptions::default(),
                    &payload,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_message_id(ShortString::from(id.as_str()))
                        .with_content_type(ShortString::from("application/json")),
                ),
            )
            .await?;
            pending.push(confirm);
            sent += 1;
        }
        if pending.len() >= 1000 {
            for confirm in pending.drain(..) {
                bounded("a publisher confirm", timeout, confirm).await?;
            }
        }
    }
    for confirm in pending.drain(..) {
        bounded("a publisher confirm", timeout, confirm).await?;
    }
    let elapsed = started.elapsed();
    client::close(conn, settings).await;
    Ok((sent, elapsed))
}
