//! The ledger's database: a bounded pool from `ledger.database_url`, and the migrations of
//! `migrations/`, embedded in the binary and applied at start. Several ledger processes may
//! start at once: sqlx's migrator holds a PostgreSQL advisory lock while it applies them, and
//! skips what is already applied.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use super::LedgerError;
use crate::amqp::redact_url;
use crate::config::LedgerSettings;

/// The migrations of `migrations/`, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long acquiring a connection (connecting included) may take.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a statement may run before the server cancels it.
pub const STATEMENT_TIMEOUT: &str = "30s";

/// The connect options of `ledger.database_url`, or why it is not a PostgreSQL URL (without
/// repeating it: it may hold a password).
pub fn options(url: &str) -> Result<PgConnectOptions, LedgerError> {
    let parsed: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
        let text = e.to_string();
        let why = if !text.contains(url) && !text.contains('@') && text.len() < 120 {
            format!(" ({text})")
        } else {
            String::new()
        };
        LedgerError::Input(format!(
            "ledger.database_url = {}: not a PostgreSQL URL{why}",
            redact_url(url)
        ))
    })?;
    Ok(parsed
        .application_name("preauth-worker ledger")
        .options([("statement_timeout", STATEMENT_TIMEOUT)]))
}

/// Connects the pool: at most `ledger.max_connections`, each acquire bounded by
/// [`ACQUIRE_TIMEOUT`]; one connection is made now, so an unreachable database or a refused
/// login is told at start.
pub async fn connect(settings: &LedgerSettings) -> Result<PgPool, LedgerError> {
    let options = options(&settings.database_url)?;
    let what = || {
        format!(
            "cannot connect to the ledger database at {} (ledger.database_url, PREAUTH__LEDGER__DATABASE_URL)",
            redact_url(&settings.database_url)
        )
    };
    // One connection first, for the real reason when there is none (the pool would only say
    // that it timed out).
    match tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect()).await {
        Ok(Ok(probe)) => {
            let _ = probe.close().await;
        }
        Ok(Err(e)) => return Err(LedgerError::database(what(), e)),
        Err(_) => {
            return Err(LedgerError::database(what(), sqlx::Error::PoolTimedOut));
        }
    }
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Duration::from_secs(300))
        .connect_with(options)
        .await
        .map_err(|e| LedgerError::database(what(), e))
}

/// Applies the embedded migrations that are not applied yet.
pub async fn migrate(pool: &PgPool) -> Result<(), LedgerError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
