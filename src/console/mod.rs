//! The web console the ledger process serves on `console.listen`: work lists (to fix, to appeal,
//! waiting on the payer, failed), a page per case with the timeline of every event, search,
//! parked messages, analytics with server-drawn SVG charts and a CSV export, and the audit log.
//!
//! Pages are rendered on the server (askama templates under `templates/`, compiled in, one
//! stylesheet compiled in); no script, no asset from elsewhere. Everyone signs in
//! ([`auth`]: argon2 password hashes, a random session cookie of which only the SHA-256 is
//! stored, a CSRF token in every form); staff view and export, operators also replay and delete
//! parked messages and read the audit log. Every view of a case, every search, export, replay and
//! delete is written to `ledger_audit`. Ids and codes only: the ledger holds no patient data and
//! nothing here adds any.

pub mod auth;

mod analytics;
mod audit;
mod pages;
mod parked;
mod queries;
mod views;
mod web;

pub use parked::{BrokerParkedQueue, ParkedError, ParkedListing, ParkedMessage, ParkedQueue};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::ConsoleSettings;
use crate::http::Limits;

/// What every handler shares: the ledger's pool, the parking queue, the console settings and
/// the sign-in rate limiter.
#[derive(Clone)]
pub struct ConsoleState {
    pub(crate) pool: PgPool,
    pub(crate) parked: Arc<dyn ParkedQueue>,
    pub(crate) settings: Arc<ConsoleSettings>,
    pub(crate) logins: Arc<auth::LoginLimiter>,
}

impl ConsoleState {
    /// The console over `pool` (migrated: `migrations/`), reading parked messages from `parked`.
    pub fn new(pool: PgPool, parked: Arc<dyn ParkedQueue>, settings: ConsoleSettings) -> Self {
        Self {
            pool,
            parked,
            settings: Arc::new(settings),
            logins: Arc::new(auth::LoginLimiter::new()),
        }
    }
}

/// The console's listener bounds: small form bodies, a few dozen people at once.
pub const LIMITS: Limits = Limits {
    header_read: std::time::Duration::from_secs(10),
    request: std::time::Duration::from_secs(30),
    max_body: 16 * 1024,
    max_connections: 128,
    connection_life: std::time::Duration::from_secs(120),
};

/// Every page and form of the console, with the security headers on every answer.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/console.css", get(web::stylesheet))
        .route("/work/{list}", get(pages::work_list))
        .route("/cases/{case_id}", get(pages::case_page))
        .route("/search", get(pages::search))
        .route("/parked", get(parked::list_page))
        .route("/parked/{fp}", get(parked::body_page))
        .route(
            "/parked/{fp}/replay",
            get(parked::confirm_replay).post(parked::replay),
        )
        .route(
            "/parked/{fp}/delete",
            get(parked::confirm_delete).post(parked::delete),
        )
        .route("/analytics", get(analytics::page))
        .route("/analytics.csv", get(analytics::csv_export))
        .route("/audit", get(pages::audit_page))
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// Serves the console on `settings.listen` until `shutdown`, within [`LIMITS`]; returns the
/// bound address once the accept loop runs. The ledger process calls this with its pool and the
/// parking queue ([`BrokerParkedQueue::new`]).
pub async fn serve(
    settings: &ConsoleSettings,
    pool: PgPool,
    parked: Arc<dyn ParkedQueue>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let addr = listener.local_addr()?;
    let state = ConsoleState::new(pool, parked, settings.clone());
    crate::http::serve(listener, router(state), LIMITS, shutdown);
    Ok(addr)
}

/// What `ledger run` calls once its database is migrated: the console on `console.listen`, its
/// parked messages replayed under the deployment `key` (the workers' key: a replayed message's
/// headers must verify for them).
pub fn ledger_hook(key: crate::security::DeploymentKey) -> crate::ledger::ConsoleHook {
    Box::new(move |pool, settings, shutdown| {
        Box::pin(async move {
            let parked: Arc<dyn ParkedQueue> =
                Arc::new(BrokerParkedQueue::new(settings.clone(), Arc::new(key)));
            let listen = settings.console.listen;
            let addr = serve(&settings.console, pool, parked, shutdown)
                .await
                .map_err(|source| crate::ledger::LedgerError::Listen {
                    key: "console.listen",
                    addr: listen,
                    source,
                })?;
            tracing::info!(%addr, "Console listening.");
            Ok(())
        })
    })
}
