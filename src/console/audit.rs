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
/// free text from a case. The user name and the target are kept only when they are shaped like
/// an id (a search for a patient's name, or a password typed into the name field, is recorded
/// by its length alone).
pub(crate) async fn record(
    pool: &PgPool,
    user: &str,
    action: Action,
    target: Option<&str>,
    detail: Option<&str>,
) -> Result<(), Fail> {
    let user = id_or_length(user);
    let target = target.map(id_or_length);
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

/// `text` when it looks like an id (1 to 128 of letters, digits and `. _ - : @ /`, starting with a
/// letter or digit); otherwise how long it was, never its content.
pub(crate) fn id_or_length(text: &str) -> String {
    let shaped = !text.is_empty()
        && text.len() <= 128
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@' | b'/')
        });
    if shaped {
        text.to_owned()
    } else {
        format!("(text of {} characters)", text.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::id_or_length;

    #[test]
    fn ids_are_kept_and_free_text_is_recorded_by_its_length_alone() {
        assert_eq!(id_or_length("C-2026-000125"), "C-2026-000125");
        assert_eq!(id_or_length("PA-98765"), "PA-98765");
        assert_eq!(id_or_length("olivia"), "olivia");
        assert_eq!(id_or_length("Jane Doe"), "(text of 8 characters)");
        assert_eq!(id_or_length("a\u{0}b"), "(text of 3 characters)");
        assert_eq!(id_or_length(""), "(text of 0 characters)");
        assert_eq!(id_or_length(&"x".repeat(200)), "(text of 200 characters)");
    }
}
