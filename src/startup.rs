//! `preauth-worker run`, assembled: the ops listener, the payer notification listener (when
//! configured) and the AMQP worker, over the pieces [`App`] built. The binary and the
//! integration tests start the worker through the same two calls:
//! [`Application::build`] binds every listener (so the bound addresses are known before any case
//! flows) and [`Application::run_until_stopped`] consumes until the shutdown token is cancelled.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::amqp::{worker, AmqpError};
use crate::app::App;
use crate::config::Settings;
use crate::health::Health;
use crate::http::Limits;
use crate::notify::{self, Notifications};
use crate::pipeline::Pipeline;
use crate::security::{DeploymentKey, KeyOrigin};

/// Why the worker cannot start listening.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "configuration: ops.listen = \"{addr}\": cannot listen there: {source}{}",
        listen_hint(source)
    )]
    Ops {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "configuration: notifications.listen = \"{addr}\": cannot listen there: {source}{}",
        listen_hint(source)
    )]
    Notifications {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("configuration: {0}")]
    Credentials(String),
}

impl StartError {
    /// True when the address is held by another process (which may let it go), not wrong.
    pub fn is_address_in_use(&self) -> bool {
        match self {
            StartError::Ops { source, .. } | StartError::Notifications { source, .. } => {
                source.kind() == std::io::ErrorKind::AddrInUse
            }
            StartError::Credentials(_) => false,
        }
    }
}

fn listen_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "; another process (another worker?) holds the port: stop it or choose another port"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "; the address is not one of this machine's: use 127.0.0.1, 0.0.0.0 or [::], or an address of one of its interfaces"
        }
        std::io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need privileges the worker should not have: choose a port above 1024"
        }
        _ => "",
    }
}

/// Everything `run` would load before it listens and connects, loaded and thrown away (`config
/// check`): the payers' notification credentials, when the notification listener is on.
pub fn check(app: &App) -> Result<(), StartError> {
    if app.settings.notifications.listen.is_some() {
        notify::load_credentials(&app.settings).map_err(StartError::Credentials)?;
    }
    Ok(())
}

/// A worker with its listeners bound, ready to consume.
pub struct Application {
    ops_addr: SocketAddr,
    notifications_addr: Option<SocketAddr>,
    health: Arc<Health>,
    pipeline: Arc<Pipeline>,
    settings: Settings,
    key: DeploymentKey,
    nudges: Option<mpsc::Receiver<String>>,
    subscribers: Vec<crate::payer::pas::subscription::Subscriber>,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds the ops listener and, when `notifications.listen` is set, the notification listener.
    /// Both stop when `shutdown` is cancelled.
    pub async fn build(app: App, shutdown: CancellationToken) -> Result<Self, StartError> {
        let health = Arc::new(Health::default());
        let recorder = match crate::ops::recorder() {
            Ok(h) => {
                crate::ops::register(&app.settings, &app.pipeline.payers);
                Some(h)
            }
            Err(e) => {
                tracing::warn!("Metrics are off: {e}");
                None
            }
        };
        let listen = app.settings.ops.listen;
        let ops_addr = crate::ops::serve(listen, Arc::clone(&health), recorder, shutdown.clone())
            .await
            .map_err(|source| StartError::Ops {
                addr: listen,
                source,
            })?;
        tracing::info!(addr = %ops_addr, "Ops endpoints listening (/livez, /readyz, /metrics).");

        let mut nudges = None;
        let mut notifications_addr = None;
        if let Some(listen) = app.settings.notifications.listen {
            let credentials =
                notify::load_credentials(&app.settings).map_err(StartError::Credentials)?;
            if credentials.is_empty() {
                tracing::warn!("notifications.listen is set but no payer has notification_credential_file: every notification will be refused.");
            }
            let (nudge, receiver) = mpsc::channel(notify::PENDING_NUDGES);
            nudges = Some(receiver);
            let router = notify::router(Arc::new(Notifications {
                credentials,
                nudge: Some(nudge),
            }));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| StartError::Notifications {
                    addr: listen,
                    source,
                })?;
            let addr = listener
                .local_addr()
                .map_err(|source| StartError::Notifications {
                    addr: listen,
                    source,
                })?;
            crate::http::serve(
                listener,
                router,
                Limits::notifications(app.settings.notifications.max_body_bytes),
                shutdown.clone(),
            );
            tracing::info!(%addr, "Payer notifications listening (POST /pas/notify/{{payer}}).");
            notifications_addr = Some(addr);
        }
        match &app.key.origin {
            KeyOrigin::Configured(_) => {}
            KeyOrigin::Local(path) => tracing::warn!(path = %path.display(), "No security.key_file: using this machine's local deployment key. Workers on other machines need the same key configured."),
            KeyOrigin::Ephemeral => tracing::warn!("No security.key_file and no local state folder: the deployment key lives for this process only; cases in delay tiers restart their attempt count after a restart."),
        }
        Ok(Self {
            ops_addr,
            notifications_addr,
            health,
            pipeline: Arc::new(app.pipeline),
            settings: app.settings,
            key: app.key,
            nudges,
            subscribers: app.subscribers,
            shutdown,
        })
    }

    /// Where `/livez`, `/readyz` and `/metrics` are served.
    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    /// Where payer notifications are taken, when configured.
    pub fn notifications_addr(&self) -> Option<SocketAddr> {
        self.notifications_addr
    }

    /// The readiness the ops port reports.
    pub fn health(&self) -> Arc<Health> {
        Arc::clone(&self.health)
    }

    /// Consumes case events until the shutdown token is cancelled, then drains in-flight cases
    /// (within `amqp.shutdown_grace`). Returns an error only for problems a reconnect cannot fix.
    /// Each configured PAS subscription is written and watched meanwhile, in the background.
    pub async fn run_until_stopped(self) -> Result<(), AmqpError> {
        for subscriber in self.subscribers {
            if self.notifications_addr.is_none() {
                tracing::warn!(payer = subscriber.status().payer(), "A PAS subscription is configured but notifications.listen is not: the payer's notifications will find no listener.");
            }
            tokio::spawn(subscriber.maintain(self.shutdown.clone()));
        }
        worker::run(
            self.pipeline,
            self.settings,
            self.health,
            self.shutdown,
            self.key,
            self.nudges,
        )
        .await
    }
}
