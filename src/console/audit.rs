//! The audit log: who signed in, viewed which case, searched, exported, looked into the parking
//! queue, replayed or deleted what. Written before the page is answered; readable by operators.

use sqlx::PgPool;

use super::web::Fail;

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
