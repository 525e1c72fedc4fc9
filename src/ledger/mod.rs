//! `preauth-worker ledger`: the case ledger. Every outcome and progress event the worker
//! publishes is consumed from a queue of the ledger's own and written to PostgreSQL, once per
//! message id, with the current state of each case event kept by the contract's rule (the
//! outcome with the highest `sequence` is the later word). The worker stays stateless: the
//! ledger is a separate process, and several may consume the same queue at once.
//!
//! - [`db`]: the pool (`ledger.database_url`) and the embedded migrations.
//! - [`message`]: what a delivery is (an outcome, a progress event, or neither).
//! - [`store`]: the write path, one transaction per batch.
//! - [`ingest`]: the consumer (batching, acks after commit, reconnects, drain on SIGTERM).
//! - [`metrics`]: the ledger's Prometheus metrics, every series registered at start.
//! - [`users`]: console accounts (argon2id).
//! - [`seed`]: synthetic events through the same write path, for benchmarks.
//! - [`cli`]: the `ledger` subcommands.
//!
//! The console (`console`, a layer above) mounts its router in this process: [`run`] takes an
//! optional [`ConsoleHook`], called with the pool once the database is ready.

pub mod cli;
pub mod db;
pub mod ingest;
pub mod message;
pub mod metrics;
mod ops;
pub mod seed;
pub mod store;
pub mod users;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::amqp::AmqpError;
use crate::config::Settings;

pub use db::{connect, migrate};
pub use users::{verify, Role, User};

/// What went wrong in the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database cannot be reached or refused a statement. `what` names the key or the step;
    /// a URL in it is masked.
    #[error("{what}: {source}")]
    Database {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    /// The embedded migrations could not be applied.
    #[error("applying the ledger's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Broker(#[from] AmqpError),
    /// A command's input is not usable (a user name, a password); the message says why.
    #[error("{0}")]
    Input(String),
    /// A listen address could not be bound.
    #[error("{key} {addr}: cannot listen there: {source}")]
    Listen {
        /// The configuration key of the address (`ledger.ops_listen`, `console.listen`).
        key: &'static str,
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Internal(String),
}

impl LedgerError {
    pub(crate) fn database(what: impl Into<String>, source: sqlx::Error) -> Self {
        LedgerError::Database {
            what: what.into(),
            source,
        }
    }
}

/// Readiness of a ledger process: consuming from the broker, and the last write reached the
/// database (`/readyz` also asks the database itself).
#[derive(Debug, Default)]
pub struct Readiness {
    consuming: AtomicBool,
    database: AtomicBool,
}

impl Readiness {
    pub(crate) fn set_consuming(&self, v: bool) {
        self.consuming.store(v, Ordering::Relaxed);
    }

    pub(crate) fn set_database(&self, v: bool) {
        self.database.store(v, Ordering::Relaxed);
    }

    pub fn consuming(&self) -> bool {
        self.consuming.load(Ordering::Relaxed)
    }

    pub fn database(&self) -> bool {
        self.database.load(Ordering::Relaxed)
    }

    pub fn ready(&self) -> bool {
        self.consuming() && self.database()
    }
}

/// Started by [`run`] once the pool is connected and migrated, with the pool, the settings and
/// the shutdown token: the console mounts its router here (on `console.listen`, through
/// `crate::http::serve`) and stops when the token is cancelled.
pub type ConsoleHook = Box<
    dyn FnOnce(
            PgPool,
            Settings,
            CancellationToken,
        ) -> Pin<Box<dyn Future<Output = Result<(), LedgerError>> + Send>>
        + Send,
>;

/// `preauth-worker ledger run`: connect and migrate the database, serve `/livez`, `/readyz` and
/// `/metrics` on `ledger.ops_listen`, start the console (when given), and consume until `shutdown`, then
/// drain the batch in hand. Errors only for what a retry cannot fix (the database unreachable
/// at start, a refused broker login after a few tries, a queue declared with other arguments).
pub async fn run(
    settings: Settings,
    shutdown: CancellationToken,
    console: Option<ConsoleHook>,
) -> Result<(), LedgerError> {
    let pool = connect(&settings.ledger).await?;
    migrate(&pool).await?;
    let readiness = Arc::new(Readiness::default());
    readiness.set_database(true);
    let recorder = match metrics::recorder() {
        Ok(h) => {
            metrics::register();
            Some(h)
        }
        Err(e) => {
            warn!("Ledger metrics are off: {e}");
            None
        }
    };
    let addr = ops::serve(
        settings.ledger.ops_listen,
        Arc::clone(&readiness),
        pool.clone(),
        recorder,
        shutdown.clone(),
    )
    .await?;
    info!(addr = %addr, "Ledger ops endpoints listening (/livez, /readyz, /metrics).");
    if let Some(start) = console {
        start(pool.clone(), settings.clone(), shutdown.clone()).await?;
    }
    let ended = ingest::run(&settings, pool.clone(), readiness, shutdown).await;
    pool.close().await;
    ended
}

/// The pool of a ledger process, for a caller that needs the database without consuming (the
/// console's tests, `ledger user`): connected and migrated.
pub async fn pool(settings: &Settings) -> Result<PgPool, LedgerError> {
    let pool = connect(&settings.ledger).await?;
    migrate(&pool).await?;
    Ok(pool)
}
