//! Console accounts: a name, a role (`staff` view and export; `operator` also replays and
//! deletes parked messages), and an argon2id hash (the `argon2` crate's default parameters, a
//! PHC string with its own salt). Passwords are never stored, logged or taken as an argument.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::LedgerError;

/// Password checks that may run at once in one process.
const CONCURRENT_CHECKS: usize = 2;

fn checks() -> &'static tokio::sync::Semaphore {
    static CHECKS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    CHECKS.get_or_init(|| tokio::sync::Semaphore::new(CONCURRENT_CHECKS))
}

/// The shortest password `user add` takes.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The longest password taken (argon2 takes any length; a bound keeps hashing bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Views cases, work lists and analytics; exports CSV.
    Staff,
    /// Also sees parked messages' bodies, replays and deletes them, and reads the audit.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "staff" => Some(Role::Staff),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A console account (never its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Whether `add` made a new account or changed an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Created,
    /// The name existed: its password and role were replaced, it was enabled again, and its
    /// sessions ended.
    Updated,
}

/// A user name: 1 to 64 characters of `A-Z a-z 0-9 . _ @ -`.
pub fn check_name(name: &str) -> Result<(), LedgerError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Input(
            "a user name is 1 to 64 characters of letters, digits and . _ @ -".to_owned(),
        ))
    }
}

/// A password `add` accepts: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_password(password: &str) -> Result<(), LedgerError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(LedgerError::Input(format!(
            "the password is shorter than {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(LedgerError::Input(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a fresh salt (on a blocking thread: hashing
/// takes tens of milliseconds on purpose).
pub async fn hash(password: &str) -> Result<String, LedgerError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| LedgerError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| LedgerError::Internal(format!("hashing a password: {e}")))?
}

/// True when `password` matches the PHC string `phc`. A malformed stored hash matches nothing.
fn matches(phc: &str, password: &[u8]) -> bool {
    PasswordHash::new(phc)
        .ok()
        .is_some_and(|parsed| Argon2::default().verify_password(password, &parsed).is_ok())
}

/// A hash no password is checked against in earnest: verified when the name is unknown, so an
/// unknown name costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"preauth-ledger dummy password, never a real one")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn role_of(text: &str) -> Result<Role, LedgerError> {
    Role::parse(text).ok_or_else(|| LedgerError::Internal("a stored role is not known".to_owned()))
}

/// Adds a user, or replaces an existing user's password and role (enabling it again and ending
/// its sessions).
pub async fn add(
    pool: &PgPool,
    name: &str,
    role: Role,
    password: &str,
) -> Result<Added, LedgerError> {
    check_name(name)?;
    check_password(password)?;
    let phc = hash(password).await?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| LedgerError::database("adding a user", e))?;
    // xmax = 0 only on a row this statement inserted.
    let created: bool = sqlx::query_scalar(
        "INSERT INTO ledger_users (name, role, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role,
             password_hash = EXCLUDED.password_hash, disabled = false
         RETURNING (xmax = 0)",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(&phc)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| LedgerError::database("adding a user", e))?;
    if !created {
        sqlx::query("DELETE FROM ledger_sessions WHERE user_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| LedgerError::database("ending a user's sessions", e))?;
    }
    tx.commit()
        .await
        .map_err(|e| LedgerError::database("adding a user", e))?;
    Ok(if created {
        Added::Created
    } else {
        Added::Updated
    })
}

/// Every user, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<User>, LedgerError> {
    let rows: Vec<(String, String, bool, DateTime<Utc>)> =
        sqlx::query_as("SELECT name, role, disabled, created_at FROM ledger_users ORDER BY name")
            .fetch_all(pool)
            .await
            .map_err(|e| LedgerError::database("listing users", e))?;
    rows.into_iter()
        .map(|(name, role, disabled, created_at)| {
            Ok(User {
                name,
                role: role_of(&role)?,
                disabled,
                created_at,
            })
        })
        .collect()
}

/// Disables a user and ends its sessions; false when there is no such user.
pub async fn disable(pool: &PgPool, name: &str) -> Result<bool, LedgerError> {
    check_name(name)?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| LedgerError::database("disabling a user", e))?;
    let found = sqlx::query("UPDATE ledger_users SET disabled = true WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| LedgerError::database("disabling a user", e))?
        .rows_affected()
        > 0;
    sqlx::query("DELETE FROM ledger_sessions WHERE user_name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| LedgerError::database("ending a user's sessions", e))?;
    tx.commit()
        .await
        .map_err(|e| LedgerError::database("disabling a user", e))?;
    Ok(found)
}

/// The user, when `name` exists, is enabled and `password` is its password; `None` otherwise.
/// An unknown or malformed name, a disabled user and a wrong password take the same time (a
/// hash is verified in every case) and give the same answer.
pub async fn verify(
    pool: &PgPool,
    name: &str,
    password: &str,
) -> Result<Option<User>, LedgerError> {
    let row: Option<(String, String, bool, DateTime<Utc>, String)> = if check_name(name).is_ok() {
        sqlx::query_as(
            "SELECT name, role, disabled, created_at, password_hash FROM ledger_users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(|e| LedgerError::database("looking up a user", e))?
    } else {
        None
    };
    // A password longer than any `add` takes is checked against the dummy, and fails.
    let too_long = password.len() > MAX_PASSWORD_BYTES;
    let phc = match &row {
        Some(r) if !too_long => r.4.clone(),
        _ => dummy_hash().to_owned(),
    };
    let password = if too_long {
        Vec::new()
    } else {
        password.as_bytes().to_vec()
    };
    // A bounded number of argon2 checks at once (each takes about 19 MiB and a core for a
    // while): a flood of sign-ins waits here instead of exhausting memory and the blocking pool.
    let _permit = checks()
        .acquire()
        .await
        .map_err(|e| LedgerError::Internal(format!("verifying a password: {e}")))?;
    let matched = tokio::task::spawn_blocking(move || matches(&phc, &password))
        .await
        .map_err(|e| LedgerError::Internal(format!("verifying a password: {e}")))?;
    match row {
        Some((name, role, disabled, created_at, _)) if matched && !disabled && !too_long => {
            Ok(Some(User {
                name,
                role: role_of(&role)?,
                disabled,
                created_at,
            }))
        }
        _ => Ok(None),
    }
}
