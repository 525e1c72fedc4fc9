//! The console's reads of the ledger (migrations/0001_ledger.sql, 0002_console.sql): work lists,
//! a case's events and timeline, search. Every query is bounded by a limit.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

/// The current state of one case event (`ledger_case_events`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CaseEvent {
    pub event_id: String,
    pub case_id: String,
    pub status: Option<String>,
    pub payer_id: Option<String>,
    pub request_identifier: Option<String>,
    pub payer_reference: Option<String>,
    pub review_action: Option<String>,
    pub authorization_number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub approved_units: Option<i32>,
    pub partial: Option<bool>,
    pub patient_responsibility: Option<String>,
    pub appeal_deadline: Option<NaiveDate>,
    pub appeal_required: Json<serde_json::Value>,
    pub findings: Json<serde_json::Value>,
    pub reasons: Json<serde_json::Value>,
    pub attempts: i32,
    pub next_follow_up_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub urgency: Option<String>,
    pub replays: i32,
}

const COLUMNS: &str = "c.event_id, c.case_id, c.status, c.payer_id, c.request_identifier, \
    c.payer_reference, c.review_action, c.authorization_number, c.valid_from, c.valid_to, \
    c.approved_units, c.partial, c.patient_responsibility, c.appeal_deadline, c.appeal_required, \
    c.findings, c.reasons, c.attempts, c.next_follow_up_at, c.decided_at, c.received_at, \
    c.submitted_at, c.urgency, c.replays";

/// One message of a case's timeline (`ledger_events`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TimelineEntry {
    pub event_id: String,
    pub kind: String,
    pub step: String,
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub payer_reference: Option<String>,
    pub retry_tier: Option<String>,
    pub retry_reason: Option<String>,
    pub parked_reason: Option<String>,
    pub attempt: Option<String>,
    pub replays: Option<String>,
}

/// The work lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkList {
    ToFix,
    ToAppeal,
    Waiting,
    Failed,
}

impl WorkList {
    pub(crate) const ALL: [WorkList; 4] = [
        WorkList::ToFix,
        WorkList::ToAppeal,
        WorkList::Waiting,
        WorkList::Failed,
    ];

    pub(crate) fn slug(self) -> &'static str {
        match self {
            WorkList::ToFix => "to-fix",
            WorkList::ToAppeal => "to-appeal",
            WorkList::Waiting => "waiting",
            WorkList::Failed => "failed",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            WorkList::ToFix => "To fix",
            WorkList::ToAppeal => "To appeal",
            WorkList::Waiting => "Waiting on the payer",
            WorkList::Failed => "Failed",
        }
    }

    pub(crate) fn parse(slug: &str) -> Option<WorkList> {
        WorkList::ALL.into_iter().find(|l| l.slug() == slug)
    }

    /// The statuses of the list's case events: waiting on the payer includes the requests the
    /// payer asked more information for (it has not decided those either).
    fn statuses(self) -> &'static [&'static str] {
        match self {
            WorkList::ToFix => &["rejected"],
            WorkList::ToAppeal => &["appeal-needed"],
            WorkList::Waiting => &["pended", "information-requested"],
            WorkList::Failed => &["failed"],
        }
    }

    /// The list's order: the most recent first, except the deadlines: the nearest first (each
    /// served by an index of migrations/0002_console.sql).
    fn order(self) -> &'static str {
        match self {
            WorkList::ToFix | WorkList::Failed => "c.decided_at DESC, c.event_id",
            WorkList::ToAppeal => "c.appeal_deadline ASC NULLS LAST, c.event_id",
            WorkList::Waiting => "ledger_payer_clock_end(c.submitted_at, c.urgency), c.event_id",
        }
    }
}

/// A page of a work list: case events of the list's status that are the newest event of their
/// case (a rejected case sent again is no longer to fix). One more row than `limit` is asked
/// for, to know whether a next page exists.
pub(crate) async fn work_list(
    pool: &PgPool,
    list: WorkList,
    limit: i64,
    offset: i64,
) -> Result<Vec<CaseEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_case_events c \
         WHERE c.status = ANY($1) AND NOT EXISTS (\
           SELECT 1 FROM ledger_case_events n WHERE n.case_id = c.case_id \
           AND n.event_id <> c.event_id \
           AND coalesce(n.received_at, n.updated_at) > coalesce(c.received_at, c.updated_at)) \
         ORDER BY {} LIMIT $2 OFFSET $3",
        list.order()
    );
    sqlx::query_as(&sql)
        .bind(list.statuses())
        .bind(limit + 1)
        .bind(offset)
        .fetch_all(pool)
        .await
}

/// Every event of a case, the newest first (by when it was received).
pub(crate) async fn case_events(
    pool: &PgPool,
    case_id: &str,
) -> Result<Vec<CaseEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_case_events c WHERE c.case_id = $1 \
         ORDER BY coalesce(c.received_at, c.updated_at) DESC, c.event_id LIMIT 200"
    );
    sqlx::query_as(&sql).bind(case_id).fetch_all(pool).await
}

/// Every message received for a case, in the order it happened.
pub(crate) async fn timeline(
    pool: &PgPool,
    case_id: &str,
) -> Result<Vec<TimelineEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, kind, step, sequence, at, payer_reference, \
           body->'retry'->>'tier' AS retry_tier, body->'retry'->>'reason' AS retry_reason, \
           body->'parked'->>'reason' AS parked_reason, body->>'attempt' AS attempt, \
           body->>'replays' AS replays \
         FROM ledger_events WHERE case_id = $1 ORDER BY at, sequence, message_id LIMIT 2000",
    )
    .bind(case_id)
    .fetch_all(pool)
    .await
}

/// Case events whose case id is `q` or starts with it, or whose payer reference or
/// authorization number is `q`.
pub(crate) async fn search(
    pool: &PgPool,
    q: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<CaseEvent>, sqlx::Error> {
    let prefix = format!(
        "{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_case_events c WHERE c.event_id IN (\
           SELECT event_id FROM ledger_case_events WHERE case_id = $1 \
           UNION (SELECT event_id FROM ledger_case_events WHERE case_id LIKE $2 \
                  ORDER BY case_id USING ~<~ LIMIT 1000) \
           UNION SELECT event_id FROM ledger_case_events WHERE payer_reference = $1 \
           UNION SELECT event_id FROM ledger_case_events WHERE authorization_number = $1) \
         ORDER BY (c.case_id = $1) DESC, c.case_id, coalesce(c.received_at, c.updated_at) DESC \
         LIMIT $3 OFFSET $4"
    );
    sqlx::query_as(&sql)
        .bind(q)
        .bind(prefix)
        .bind(limit + 1)
        .bind(offset)
        .fetch_all(pool)
        .await
}
