//! The audit log: who signed in, viewed which case, searched, exported, looked into the parking
//! queue, replayed or deleted what. Written before the page is answered; readable by operators.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use sqlx::PgPool;

use super::auth::Session;
use super::views::{AuditRow, AuditView};
use super::web::{self, Fail};
use super::ConsoleState;

label_values! {
    /// What an audit row records.
    pub(crate) enum Action {
        Login = "login",
        LoginFailed = "login-failed",
        Logout = "logout",
        ViewCase = "view-case",
        Search = "search",
        Export = "export",
        ViewParked = "view-parked",
        ViewParkedBody = "view-parked-body",
        Replay = "replay",
        Delete = "delete",
    }
}

/// Writes one audit row. `target` is an id (case, fingerprint); `detail` a code or count, never
/// free text from a case.
pub(crate) async fn record(
    pool: &PgPool,
    user: &str,
    action: Action,
    target: Option<&str>,
    detail: Option<&str>,
) -> Result<(), Fail> {
    sqlx::query(
        "INSERT INTO ledger_audit (user_name, action, target, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(user)
    .bind(action.as_str())
    .bind(target)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    /// Rows older than this id (the next page).
    before: Option<i64>,
}

pub(crate) async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Fail> {
    session.require_operator()?;
    let size = i64::from(state.settings.page_size);
    let rows: Vec<(
        i64,
        chrono::DateTime<chrono::Utc>,
        String,
        String,
        Option<String>,
        Option<String>,
    )> = sqlx::query_as(
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
            at: super::views::when(at),
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
        nav: super::views::Nav::of(&session),
        rows,
        next,
    })
}
