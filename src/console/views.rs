//! The templates (askama, `templates/`, compiled in) and what they show, already in words.

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};

use super::parked::queue::ParkedMessage;

/// The navigation bar: who is signed in, the links their role may follow, the sign-out form.
pub(crate) struct Nav {
    pub user: String,
    pub role: &'static str,
    pub operator: bool,
    pub csrf: String,
}

/// A moment as the console shows it.
pub(crate) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn when_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_default()
}

pub(crate) fn day_opt(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorView<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginView {
    pub next: String,
    pub csrf: String,
    pub error: Option<&'static str>,
}

pub(crate) struct FindingView {
    pub rule: String,
    pub severity: String,
    pub path: String,
    pub message: String,
}

pub(crate) struct ReasonView {
    pub code: String,
    pub text: String,
}

/// One row of a work list.
pub(crate) struct WorkRow {
    pub case_id: String,
    pub event_id: String,
    pub payer: String,
    pub payer_reference: String,
    pub decided_at: String,
    pub findings: Vec<FindingView>,
    pub reasons: Vec<ReasonView>,
    pub appeal_deadline: String,
    pub days_left: String,
    pub overdue: bool,
    pub appeal_required: Vec<String>,
    pub submitted_at: String,
    pub urgency: String,
    pub clock: String,
    pub attempts: i32,
}

#[derive(Template)]
#[template(path = "work.html")]
pub(crate) struct WorkView {
    pub nav: Nav,
    pub slug: &'static str,
    pub title: &'static str,
    pub lists: Vec<(&'static str, &'static str)>,
    pub rows: Vec<WorkRow>,
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// One step of a case event's timeline.
pub(crate) struct StepView {
    pub at: String,
    pub step: String,
    pub kind: String,
    pub sequence: i64,
    pub detail: String,
}

/// One event of a case, with its timeline.
pub(crate) struct EventView {
    pub event_id: String,
    pub status: String,
    pub payer: String,
    pub request_identifier: String,
    pub payer_reference: String,
    pub review_action: String,
    pub authorization_number: String,
    pub period: String,
    pub approved_units: String,
    pub patient_responsibility: String,
    pub appeal_deadline: String,
    pub appeal_required: Vec<String>,
    pub findings: Vec<FindingView>,
    pub reasons: Vec<ReasonView>,
    pub attempts: i32,
    pub replays: i32,
    pub received_at: String,
    pub submitted_at: String,
    pub decided_at: String,
    pub next_follow_up_at: String,
    pub urgency: String,
    pub clock: String,
    pub timeline: Vec<StepView>,
}

#[derive(Template)]
#[template(path = "case.html")]
pub(crate) struct CaseView {
    pub nav: Nav,
    pub case_id: String,
    pub events: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "search.html")]
pub(crate) struct SearchView {
    pub nav: Nav,
    pub q: String,
    pub rows: Vec<WorkRow>,
    pub searched: bool,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "parked.html")]
pub(crate) struct ParkedListView {
    pub nav: Nav,
    pub operator: bool,
    pub limit: usize,
    pub items: Vec<ParkedMessage>,
}

#[derive(Template)]
#[template(path = "parked_body.html")]
pub(crate) struct ParkedBodyView {
    pub nav: Nav,
    pub body: String,
    pub message: ParkedMessage,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmView {
    pub nav: Nav,
    pub action: &'static str,
    pub message: ParkedMessage,
}

pub(crate) struct AuditRow {
    pub id: i64,
    pub at: String,
    pub user: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditView {
    pub nav: Nav,
    pub rows: Vec<AuditRow>,
    pub next: Option<String>,
}

/// A row of the weekly rates table.
pub(crate) struct RateRow {
    pub payer: String,
    pub week: String,
    pub decided: i64,
    pub approved: String,
    pub denied: String,
    pub appeal: String,
}

pub(crate) struct CountRow {
    pub code: String,
    pub text: String,
    pub count: i64,
}

pub(crate) struct TimingRow {
    pub payer: String,
    pub decided: i64,
    pub median: String,
    pub p90: String,
}

#[derive(Template)]
#[template(path = "analytics.html")]
pub(crate) struct AnalyticsView {
    pub nav: Nav,
    pub weeks: i64,
    pub rates_chart: String,
    pub reasons_chart: String,
    pub timing_chart: String,
    pub rates: Vec<RateRow>,
    pub reasons: Vec<CountRow>,
    pub rules: Vec<CountRow>,
    pub timings: Vec<TimingRow>,
}
