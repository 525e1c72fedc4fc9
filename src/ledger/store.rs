//! The write path: a batch of messages in one transaction. Each message is one
//! `ledger_events` row, keyed by its message id (`ON CONFLICT DO NOTHING`: a redelivery, a
//! replayed copy or a second ledger process inserts nothing). Each case event's row in
//! `ledger_case_events` is folded from the batch and upserted so that the result does not depend
//! on the order messages arrive in:
//!
//! - the outcome fields (status, authorization, findings, reasons, appeal, attempts, …) are the
//!   outcome's with the highest `(sequence, outcome_id)`: an upsert replaces them only when the
//!   incoming one ranks higher (the contract's rule, section 5);
//! - `sequence` is the highest; `replays` the most seen;
//! - `received_at` is the earliest `at` of any message of the event (a `progress.received`,
//!   when the worker publishes one, is the earliest); `submitted_at` the earliest
//!   `progress.submitted`, whose `urgency` it keeps;
//! - the payer id, request identifier and reference are the highest outcome's when it carries
//!   them, otherwise the first ones seen.
//!
//! Multi-row statements over arrays (`UNNEST`), rows in key order (so two ledger processes
//! writing the same keys take their row locks in the same order).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgPool;

use super::message::{Decision, Kind, Message, SUBMITTED};

/// What one batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// New `ledger_events` rows (messages seen before are not counted).
    pub inserted: u64,
    /// Of those, outcomes.
    pub outcomes: u64,
    /// Of those, progress events.
    pub progress: u64,
    /// Case events upserted.
    pub case_events: usize,
}

const INSERT_EVENTS: &str = "
INSERT INTO ledger_events
    (message_id, kind, event_id, case_id, step, sequence, at, payer_id, request_identifier,
     payer_reference, body)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                     $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::jsonb[])
ORDER BY 1
ON CONFLICT (message_id) DO NOTHING
RETURNING kind";

/// `newer`: the incoming outcome outranks the one the row holds (a row without one holds
/// sequence -1; a progress-only fold carries -1 and no outcome id, and is never newer).
const UPSERT_CASE_EVENTS: &str = "
INSERT INTO ledger_case_events AS t
    (event_id, case_id, status, sequence, outcome_id, payer_id, request_identifier,
     payer_reference, review_action, authorization_number, valid_from, valid_to, approved_units,
     partial, patient_responsibility, appeal_deadline, appeal_required, findings, reasons,
     attempts, next_follow_up_at, decided_at, received_at, submitted_at, urgency, replays,
     updated_at)
SELECT u.*, now() FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[],
    $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::date[], $12::date[],
    $13::int4[], $14::bool[], $15::text[], $16::date[], $17::jsonb[], $18::jsonb[], $19::jsonb[],
    $20::int4[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[], $24::timestamptz[],
    $25::text[], $26::int4[]) AS u
ORDER BY 1
ON CONFLICT (event_id) DO UPDATE SET
    status = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.status ELSE t.status END,
    outcome_id = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.outcome_id ELSE t.outcome_id END,
    review_action = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.review_action ELSE t.review_action END,
    authorization_number = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.authorization_number ELSE t.authorization_number END,
    valid_from = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.valid_from ELSE t.valid_from END,
    valid_to = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.valid_to ELSE t.valid_to END,
    approved_units = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.approved_units ELSE t.approved_units END,
    partial = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.partial ELSE t.partial END,
    patient_responsibility = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.patient_responsibility ELSE t.patient_responsibility END,
    appeal_deadline = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.appeal_deadline ELSE t.appeal_deadline END,
    appeal_required = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.appeal_required ELSE t.appeal_required END,
    findings = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.findings ELSE t.findings END,
    reasons = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.reasons ELSE t.reasons END,
    attempts = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.attempts ELSE t.attempts END,
    next_follow_up_at = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.next_follow_up_at ELSE t.next_follow_up_at END,
    decided_at = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
        THEN EXCLUDED.decided_at ELSE t.decided_at END,
    payer_id = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
            AND EXCLUDED.payer_id IS NOT NULL
        THEN EXCLUDED.payer_id ELSE coalesce(t.payer_id, EXCLUDED.payer_id) END,
    request_identifier = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
            AND EXCLUDED.request_identifier IS NOT NULL
        THEN EXCLUDED.request_identifier ELSE coalesce(t.request_identifier, EXCLUDED.request_identifier) END,
    payer_reference = CASE WHEN (EXCLUDED.sequence, EXCLUDED.outcome_id) > (t.sequence, t.outcome_id)
            AND EXCLUDED.payer_reference IS NOT NULL
        THEN EXCLUDED.payer_reference ELSE coalesce(t.payer_reference, EXCLUDED.payer_reference) END,
    sequence = greatest(t.sequence, EXCLUDED.sequence),
    received_at = least(t.received_at, EXCLUDED.received_at),
    urgency = CASE WHEN t.submitted_at IS NULL OR EXCLUDED.submitted_at < t.submitted_at
        THEN coalesce(EXCLUDED.urgency, t.urgency) ELSE coalesce(t.urgency, EXCLUDED.urgency) END,
    submitted_at = least(t.submitted_at, EXCLUDED.submitted_at),
    replays = greatest(t.replays, EXCLUDED.replays),
    updated_at = now()";

/// One case event's share of a batch, folded by the same rules the upsert applies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fold<'a> {
    pub case_id: &'a str,
    /// The highest-ranked outcome and its sequence.
    pub decision: Option<(i64, &'a Decision)>,
    pub payer_id: Option<&'a str>,
    pub request_identifier: Option<&'a str>,
    pub payer_reference: Option<&'a str>,
    pub received_at: DateTime<Utc>,
    pub submitted: Option<(DateTime<Utc>, Option<&'a str>)>,
    pub replays: i32,
}

/// The order of outcomes of one event: `(sequence, outcome_id)`.
fn outranks(a: (i64, &Decision), b: (i64, &Decision)) -> bool {
    (a.0, a.1.outcome_id.as_str()) > (b.0, b.1.outcome_id.as_str())
}

/// Folds a batch into one entry per event id (in event id order). Payer ids: the best
/// outcome's where it carries them, else the first ones in the batch's order.
pub(crate) fn fold(messages: &[Message]) -> BTreeMap<&str, Fold<'_>> {
    let mut out: BTreeMap<&str, Fold<'_>> = BTreeMap::new();
    let mut best: BTreeMap<&str, &Message> = BTreeMap::new();
    for m in messages {
        let f = out.entry(m.event_id.as_str()).or_insert_with(|| Fold {
            case_id: &m.case_id,
            decision: None,
            payer_id: None,
            request_identifier: None,
            payer_reference: None,
            received_at: m.at,
            submitted: None,
            replays: 0,
        });
        f.received_at = f.received_at.min(m.at);
        f.replays = f.replays.max(m.replays);
        f.payer_id = f.payer_id.or(m.payer_id.as_deref());
        f.request_identifier = f.request_identifier.or(m.request_identifier.as_deref());
        f.payer_reference = f.payer_reference.or(m.payer_reference.as_deref());
        if let Some(d) = &m.decision {
            if f.decision
                .is_none_or(|have| outranks((m.sequence, d), have))
            {
                f.decision = Some((m.sequence, d));
                f.case_id = &m.case_id;
                best.insert(m.event_id.as_str(), m);
            }
        } else if m.step == SUBMITTED {
            f.submitted = match f.submitted {
                Some((at, urgency)) if at <= m.at => Some((at, urgency.or(m.urgency.as_deref()))),
                Some((_, urgency)) => Some((m.at, m.urgency.as_deref().or(urgency))),
                None => Some((m.at, m.urgency.as_deref())),
            };
        }
    }
    for (event, m) in best {
        if let Some(f) = out.get_mut(event) {
            f.payer_id = m.payer_id.as_deref().or(f.payer_id);
            f.request_identifier = m.request_identifier.as_deref().or(f.request_identifier);
            f.payer_reference = m.payer_reference.as_deref().or(f.payer_reference);
        }
    }
    out
}

fn d<'a>(x: &Fold<'a>) -> Option<&'a Decision> {
    x.decision.map(|(_, d)| d)
}

/// Writes a batch in one transaction: the messages (first copy of each message id in the
/// batch; `ON CONFLICT DO NOTHING` against what is stored), then each case event's fold.
pub async fn write(pool: &PgPool, messages: &[Message]) -> Result<Written, sqlx::Error> {
    if messages.is_empty() {
        return Ok(Written::default());
    }
    let mut unique: BTreeMap<&str, &Message> = BTreeMap::new();
    for m in messages {
        unique.entry(m.message_id.as_str()).or_insert(m);
    }
    let rows: Vec<&Message> = unique.into_values().collect();
    let folds = fold(messages);

    let mut tx = pool.begin().await?;
    let kinds: Vec<String> = sqlx::query_scalar(INSERT_EVENTS)
        .bind(
            rows.iter()
                .map(|m| m.message_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|m| m.event_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|m| m.case_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|m| m.step.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|m| m.sequence).collect::<Vec<_>>())
        .bind(rows.iter().map(|m| m.at).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|m| m.payer_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|m| m.request_identifier.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|m| m.payer_reference.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|m| &m.body).collect::<Vec<&Value>>())
        .fetch_all(&mut *tx)
        .await?;
    let count = |kind: Kind| kinds.iter().filter(|k| k.as_str() == kind.as_str()).count() as u64;
    let (outcomes, progress) = (count(Kind::Outcome), count(Kind::Progress));

    let f: Vec<(&str, &Fold<'_>)> = folds.iter().map(|(k, v)| (*k, v)).collect();
    let col = |pick: fn(&Decision) -> Option<&str>| -> Vec<Option<&str>> {
        f.iter().map(|(_, x)| d(x).and_then(pick)).collect()
    };
    let dates = |pick: fn(&Decision) -> Option<NaiveDate>| -> Vec<Option<NaiveDate>> {
        f.iter().map(|(_, x)| d(x).and_then(pick)).collect()
    };
    let json = |pick: fn(&Decision) -> &Value| -> Vec<Value> {
        f.iter()
            .map(|(_, x)| d(x).map_or_else(|| Value::Array(vec![]), |d| pick(d).clone()))
            .collect()
    };
    sqlx::query(UPSERT_CASE_EVENTS)
        .bind(f.iter().map(|(k, _)| *k).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, x)| x.case_id).collect::<Vec<_>>())
        .bind(col(|d| Some(d.status.as_str())))
        .bind(
            f.iter()
                .map(|(_, x)| x.decision.map_or(-1, |(s, _)| s))
                .collect::<Vec<_>>(),
        )
        .bind(col(|d| Some(d.outcome_id.as_str())))
        .bind(f.iter().map(|(_, x)| x.payer_id).collect::<Vec<_>>())
        .bind(
            f.iter()
                .map(|(_, x)| x.request_identifier)
                .collect::<Vec<_>>(),
        )
        .bind(f.iter().map(|(_, x)| x.payer_reference).collect::<Vec<_>>())
        .bind(col(|d| d.review_action.as_deref()))
        .bind(col(|d| d.authorization_number.as_deref()))
        .bind(dates(|d| d.valid_from))
        .bind(dates(|d| d.valid_to))
        .bind(
            f.iter()
                .map(|(_, x)| d(x).and_then(|d| d.approved_units))
                .collect::<Vec<_>>(),
        )
        .bind(
            f.iter()
                .map(|(_, x)| d(x).and_then(|d| d.partial))
                .collect::<Vec<_>>(),
        )
        .bind(col(|d| d.patient_responsibility.as_deref()))
        .bind(dates(|d| d.appeal_deadline))
        .bind(json(|d| &d.appeal_required))
        .bind(json(|d| &d.findings))
        .bind(json(|d| &d.reasons))
        .bind(
            f.iter()
                .map(|(_, x)| d(x).map_or(0, |d| d.attempts))
                .collect::<Vec<_>>(),
        )
        .bind(
            f.iter()
                .map(|(_, x)| d(x).and_then(|d| d.next_follow_up_at))
                .collect::<Vec<_>>(),
        )
        .bind(
            f.iter()
                .map(|(_, x)| d(x).map(|d| d.decided_at))
                .collect::<Vec<_>>(),
        )
        .bind(f.iter().map(|(_, x)| x.received_at).collect::<Vec<_>>())
        .bind(
            f.iter()
                .map(|(_, x)| x.submitted.map(|(at, _)| at))
                .collect::<Vec<_>>(),
        )
        .bind(
            f.iter()
                .map(|(_, x)| x.submitted.and_then(|(_, u)| u))
                .collect::<Vec<_>>(),
        )
        .bind(f.iter().map(|(_, x)| x.replays).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Written {
        inserted: outcomes + progress,
        outcomes,
        progress,
        case_events: f.len(),
    })
}

/// True for an error the data caused (SQLSTATE class 22, data exception; 23, integrity; 54,
/// program limit exceeded, such as a value too large for an index row): writing the same
/// messages again fails again, so the batch is split to find the message.
pub fn is_data_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")),
        sqlx::Error::Encode(_) | sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => true,
        _ => false,
    }
}
