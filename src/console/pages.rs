//! The work lists, the case page and search.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::audit::{self, Action};
use super::auth::Session;
use super::queries::{self, CaseEvent, TimelineEntry, WorkList};
use super::views::{
    day_opt, when, when_opt, AuditRow, AuditView, CaseView, EventView, FindingView, ReasonView,
    SearchView, StepView, WorkRow, WorkView,
};
use super::web::{self, Fail};
use super::ConsoleState;

/// The longest search text taken.
const MAX_QUERY: usize = 100;
/// The deepest page offered.
const MAX_PAGE: i64 = 10_000;

pub(crate) async fn home(_session: Session) -> Response {
    web::see_other("/work/to-fix")
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    page: Option<i64>,
}

fn page_number(p: Option<i64>) -> i64 {
    p.unwrap_or(1).clamp(1, MAX_PAGE)
}

pub(crate) async fn work_list(
    State(state): State<ConsoleState>,
    session: Session,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Fail> {
    let list = WorkList::parse(&slug).ok_or(Fail::NotFound)?;
    let size = i64::from(state.settings.page_size);
    let page = page_number(q.page);
    let mut rows = queries::work_list(&state.pool, list, size, (page - 1) * size).await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let now = Utc::now();
    let link = |p: i64| format!("/work/{}?page={p}", list.slug());
    web::page(&WorkView {
        nav: session.nav(),
        slug: list.slug(),
        title: list.title(),
        lists: WorkList::ALL
            .iter()
            .map(|l| (l.slug(), l.title()))
            .collect(),
        rows: rows.iter().map(|r| work_row(r, now)).collect(),
        page,
        prev: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
    })
}

pub(crate) async fn case_page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(case_id): Path<String>,
) -> Result<Response, Fail> {
    if case_id.is_empty() || case_id.len() > 128 || case_id.chars().any(char::is_control) {
        return Err(Fail::NotFound);
    }
    let events = queries::case_events(&state.pool, &case_id).await?;
    if events.is_empty() {
        return Err(Fail::NotFound);
    }
    let timeline = queries::timeline(&state.pool, &case_id).await?;
    audit::record(
        &state.pool,
        &session.user,
        Action::ViewCase,
        Some(&case_id),
        None,
    )
    .await?;
    let now = Utc::now();
    let events = events
        .iter()
        .map(|e| event_view(e, &timeline, now))
        .collect();
    web::page(&CaseView {
        nav: session.nav(),
        case_id,
        events,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    page: Option<i64>,
}

pub(crate) async fn search(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<SearchQuery>,
) -> Result<Response, Fail> {
    let text: String =
        q.q.unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY)
            .collect();
    let size = i64::from(state.settings.page_size);
    let page = page_number(q.page);
    let mut rows = Vec::new();
    let mut more = false;
    if !text.is_empty() {
        rows = queries::search(&state.pool, &text, size, (page - 1) * size).await?;
        more = rows.len() as i64 > size;
        rows.truncate(size as usize);
        // The audit row keeps what was asked when it is shaped like an id (a case id, a payer
        // reference, an authorization number), its length otherwise.
        audit::record(
            &state.pool,
            &session.user,
            Action::Search,
            Some(&text),
            Some(&rows.len().to_string()),
        )
        .await?;
    }
    let link = |p: i64| format!("/search?q={}&page={p}", web::encode(&text));
    let now = Utc::now();
    web::page(&SearchView {
        nav: session.nav(),
        searched: !text.is_empty(),
        rows: rows.iter().map(|r| work_row(r, now)).collect(),
        prev: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
        q: text,
    })
}

/// One row of `ledger_audit`: id, at, user, action, target, detail.
type AuditRecord = (
    i64,
    chrono::DateTime<chrono::Utc>,
    String,
    String,
    Option<String>,
    Option<String>,
);

#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    /// Rows older than this id (the next page).
    before: Option<i64>,
}

pub(crate) async fn audit_page(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Fail> {
    session.require_operator()?;
    let size = i64::from(state.settings.page_size);
    let rows: Vec<AuditRecord> = sqlx::query_as(
        "SELECT id, at, user_name, action, target, detail FROM ledger_audit \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(q.before.unwrap_or(i64::MAX))
    .bind(size + 1)
    .fetch_all(&state.pool)
    .await?;
    let more = rows.len() as i64 > size;
    let rows: Vec<AuditRow> = rows
        .into_iter()
        .take(size as usize)
        .map(|(id, at, user, action, target, detail)| AuditRow {
            id,
            at: when(at),
            user,
            action,
            target: target.unwrap_or_default(),
            detail: detail.unwrap_or_default(),
        })
        .collect();
    let next = if more {
        rows.last().map(|r| format!("/audit?before={}", r.id))
    } else {
        None
    };
    web::page(&AuditView {
        nav: session.nav(),
        rows,
        next,
    })
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn findings(v: &serde_json::Value) -> Vec<FindingView> {
    let field =
        |f: &serde_json::Value, k: &str| f.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|f| FindingView {
                    rule: field(f, "rule"),
                    severity: field(f, "severity"),
                    path: field(f, "path"),
                    message: field(f, "message"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn reasons(v: &serde_json::Value) -> Vec<ReasonView> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| ReasonView {
                    code: r
                        .get("code")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .to_owned(),
                    text: r
                        .get("text")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Days left to an appeal deadline, in words; true when it has passed.
pub(crate) fn days_left(deadline: Option<NaiveDate>, today: NaiveDate) -> (String, bool) {
    let Some(d) = deadline else {
        return (String::new(), false);
    };
    let n = (d - today).num_days();
    match n {
        0 => ("due today".to_owned(), false),
        1 => ("1 day left".to_owned(), false),
        n if n > 1 => (format!("{n} days left"), false),
        -1 => ("1 day overdue".to_owned(), true),
        n => (format!("{} days overdue", -n), true),
    }
}

/// The payer's regulatory decision clock: 72 hours from the first submission of an expedited
/// request, 7 days for a standard one. What remains, in words; true when it has run out.
pub(crate) fn clock(
    submitted_at: Option<DateTime<Utc>>,
    urgency: Option<&str>,
    now: DateTime<Utc>,
) -> (String, bool) {
    let Some(sent) = submitted_at else {
        return ("not submitted yet".to_owned(), false);
    };
    let allowed = if urgency == Some("expedited") {
        Duration::hours(72)
    } else {
        Duration::days(7)
    };
    let left = sent + allowed - now;
    let words = |d: Duration| {
        let hours = d.num_hours();
        if hours >= 48 {
            format!("{}d {}h", hours / 24, hours % 24)
        } else if hours >= 1 {
            format!("{hours}h")
        } else {
            format!("{}m", d.num_minutes().max(0))
        }
    };
    if left < Duration::zero() {
        (format!("overdue by {}", words(-left)), true)
    } else {
        (format!("{} left", words(left)), false)
    }
}

/// True while the payer has not decided the event: its regulatory clock is shown.
fn waiting(e: &CaseEvent) -> bool {
    matches!(
        e.status.as_deref(),
        Some("pended" | "information-requested")
    )
}

fn work_row(e: &CaseEvent, now: DateTime<Utc>) -> WorkRow {
    let (days_left, deadline_passed) = days_left(e.appeal_deadline, now.date_naive());
    let pended = waiting(e);
    let (clock_text, clock_out) = if pended {
        clock(e.submitted_at, e.urgency.as_deref(), now)
    } else {
        (String::new(), false)
    };
    WorkRow {
        case_id: e.case_id.clone(),
        event_id: e.event_id.clone(),
        payer: text(&e.payer_id),
        payer_reference: text(&e.payer_reference),
        decided_at: when_opt(e.decided_at),
        findings: findings(&e.findings.0),
        reasons: reasons(&e.reasons.0),
        appeal_deadline: day_opt(e.appeal_deadline),
        days_left,
        overdue: deadline_passed || clock_out,
        appeal_required: strings(&e.appeal_required.0),
        submitted_at: when_opt(e.submitted_at),
        urgency: e.urgency.clone().unwrap_or_else(|| "standard".to_owned()),
        clock: clock_text,
        attempts: e.attempts,
    }
}

fn step_detail(t: &TimelineEntry) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &t.attempt {
        parts.push(format!("attempt {a}"));
    }
    if let (Some(tier), reason) = (&t.retry_tier, &t.retry_reason) {
        parts.push(format!(
            "retry in {tier}{}",
            reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    if let Some(r) = &t.parked_reason {
        parts.push(format!("parked: {r}"));
    }
    if let Some(r) = t.replays.as_deref().filter(|r| *r != "0") {
        parts.push(format!("replay {r}"));
    }
    if let Some(r) = &t.payer_reference {
        parts.push(format!("payer reference {r}"));
    }
    parts.join(", ")
}

fn event_view(e: &CaseEvent, timeline: &[TimelineEntry], now: DateTime<Utc>) -> EventView {
    let period = match (e.valid_from, e.valid_to) {
        (None, None) => String::new(),
        (from, to) => format!("{} to {}", day_opt(from), day_opt(to)),
    };
    let (clock_text, _) = if waiting(e) {
        clock(e.submitted_at, e.urgency.as_deref(), now)
    } else {
        (String::new(), false)
    };
    EventView {
        event_id: e.event_id.clone(),
        status: e.status.clone().unwrap_or_else(|| "in progress".to_owned()),
        payer: text(&e.payer_id),
        request_identifier: text(&e.request_identifier),
        payer_reference: text(&e.payer_reference),
        review_action: text(&e.review_action),
        authorization_number: text(&e.authorization_number),
        period,
        approved_units: e
            .approved_units
            .map(|u| {
                if e.partial == Some(true) {
                    format!("{u} (partial)")
                } else {
                    u.to_string()
                }
            })
            .unwrap_or_default(),
        patient_responsibility: text(&e.patient_responsibility),
        appeal_deadline: day_opt(e.appeal_deadline),
        appeal_required: strings(&e.appeal_required.0),
        findings: findings(&e.findings.0),
        reasons: reasons(&e.reasons.0),
        attempts: e.attempts,
        replays: e.replays,
        received_at: when_opt(e.received_at),
        submitted_at: when_opt(e.submitted_at),
        decided_at: when_opt(e.decided_at),
        next_follow_up_at: when_opt(e.next_follow_up_at),
        urgency: text(&e.urgency),
        clock: clock_text,
        timeline: timeline
            .iter()
            .filter(|t| t.event_id == e.event_id)
            .map(|t| StepView {
                at: when(t.at),
                step: t.step.clone(),
                kind: t.kind.clone(),
                sequence: t.sequence,
                detail: step_detail(t),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payer_clock_is_72_hours_expedited_and_7_days_standard() {
        let sent = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let now = sent + Duration::hours(24);
        assert_eq!(
            clock(Some(sent), Some("expedited"), now),
            ("2d 0h left".into(), false)
        );
        assert_eq!(
            clock(Some(sent), Some("standard"), now),
            ("6d 0h left".into(), false)
        );
        let late = sent + Duration::hours(75);
        assert_eq!(
            clock(Some(sent), Some("expedited"), late),
            ("overdue by 3h".into(), true)
        );
        assert_eq!(clock(None, None, now).0, "not submitted yet");
    }

    #[test]
    fn days_left_to_an_appeal_are_counted_in_calendar_days() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            days_left(d(2026, 3, 12), today),
            ("10 days left".into(), false)
        );
        assert_eq!(days_left(d(2026, 3, 2), today), ("due today".into(), false));
        assert_eq!(
            days_left(d(2026, 2, 28), today),
            ("2 days overdue".into(), true)
        );
    }
}
