//! Start-up: turns settings into the pieces every command shares (code table, policies, payers,
//! the pipeline), so tests build exactly what the binary builds.

use std::collections::HashMap;
use std::sync::Arc;

use crate::codes::CodeTable;
use crate::config::{Adapter, PayerSettings, Settings};
use crate::payer::pas::auth::{Credentials, TokenSource};
use crate::payer::pas::client::{PasPayer, PasSettings};
use crate::payer::sim::SimulatedPayer;
use crate::payer::Payer;
use crate::pipeline::{Clock, PayerDirectory, PayerRoute, Pipeline};
use crate::retry::Schedule;
use crate::rules::Policies;
use crate::security::DeploymentKey;

/// Why the worker cannot start with these settings.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Codes(#[from] crate::codes::CodeTableError),
    #[error(transparent)]
    Policy(#[from] crate::rules::PolicyError),
    #[error("payers.{payer}.policy: {source}")]
    PayerPolicy {
        payer: String,
        source: crate::rules::PolicyError,
    },
    #[error("payers.{payer}.adapter: {message}")]
    Adapter { payer: String, message: String },
    #[error(transparent)]
    Key(#[from] crate::security::KeyError),
}

/// What the commands share.
pub struct App {
    pub settings: Settings,
    pub codes: Arc<CodeTable>,
    pub policies: Policies,
    pub pipeline: Pipeline,
    /// The deployment key (`security.key_file`, else the local one).
    pub key: DeploymentKey,
}

impl App {
    /// Loads the code table and policies and builds every configured payer.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(chrono::Utc::now))
    }

    pub(crate) fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let key = DeploymentKey::resolve(settings.security.key_file.as_deref())?;
        let codes = Arc::new(match &settings.rules.code_table {
            Some(path) => CodeTable::from_file(path)?,
            None => CodeTable::embedded()?,
        });
        let policies = Policies::load(&codes, settings.rules.policy_dir.as_deref())?;
        let mut routes = HashMap::new();
        let mut default = None;
        for (id, payer_settings) in &settings.payers {
            let policy = policies.get(&payer_settings.policy).map_err(|source| {
                StartupError::PayerPolicy {
                    payer: id.clone(),
                    source,
                }
            })?;
            let payer = build_payer(id, payer_settings, &codes, &key)?;
            let route = PayerRoute::new(id.clone(), payer, policy);
            if id == "default" {
                default = Some(route);
            } else {
                routes.insert(id.clone(), route);
            }
        }
        let pipeline = Pipeline {
            codes: Arc::clone(&codes),
            payers: PayerDirectory::new(routes, default),
            retry: Schedule::new(settings.retry.delays.clone()),
            followup: Schedule::new(settings.followup.pended.clone()),
            in_process: settings.in_process_retry(),
            max_message_bytes: settings.amqp.max_message_bytes,
            clock,
        };
        Ok(Self {
            settings,
            codes,
            policies,
            pipeline,
            key,
        })
    }
}

fn build_payer(
    id: &str,
    s: &PayerSettings,
    codes: &Arc<CodeTable>,
    key: &DeploymentKey,
) -> Result<Arc<dyn Payer>, StartupError> {
    match s.adapter {
        Adapter::Simulated => Ok(Arc::new(SimulatedPayer::new(
            Arc::clone(codes),
            s.simulated.clone(),
        ))),
        Adapter::FhirPas => build_pas(id, s, key),
    }
}

fn build_pas(
    id: &str,
    s: &PayerSettings,
    key: &DeploymentKey,
) -> Result<Arc<dyn Payer>, StartupError> {
    let err = |message: String| StartupError::Adapter {
        payer: id.to_owned(),
        message,
    };
    let timeout = s.timeout.unwrap_or(std::time::Duration::from_secs(20));
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))
    };
    // No redirects: a 307/308 would re-send the request body (patient data) to another host.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!s.allow_insecure_http)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .user_agent(concat!("preauth-worker/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &s.ca_file {
        for cert in reqwest::Certificate::from_pem_bundle(&read(path)?).map_err(|e| {
            err(format!(
                "ca_file {}: not PEM certificates: {e}",
                path.display()
            ))
        })? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(path) = &s.client_identity_file {
        let identity = reqwest::Identity::from_pem(&read(path)?).map_err(|e| {
            err(format!(
                "client_identity_file {}: needs a certificate and its key in PEM: {e}",
                path.display()
            ))
        })?;
        builder = builder.identity(identity);
    }
    let http = builder
        .build()
        .map_err(|e| err(format!("cannot build the HTTP client: {e}")))?;
    let auth = match (&s.token_url, &s.client_id) {
        (Some(token_url), Some(client_id)) => {
            let credentials = if let Some(var) = &s.client_secret_env {
                Credentials::secret_from_env(client_id, var)
            } else if let Some(path) = &s.client_secret_file {
                Credentials::secret_from_file(client_id, path)
            } else if let Some(path) = &s.private_key_file {
                Credentials::private_key_from_file(client_id, path)
            } else {
                return Err(err("credentials missing".into()));
            }
            .map_err(|e| err(e.to_string()))?;
            Some(Arc::new(TokenSource::new(
                http.clone(),
                token_url.clone(),
                s.scope.clone(),
                credentials,
            )))
        }
        _ => None,
    };
    let base_url = s
        .base_url
        .clone()
        .ok_or_else(|| err("base_url is required".into()))?;
    Ok(Arc::new(PasPayer::new(
        http,
        PasSettings {
            base_url,
            timeout,
            concurrency: s.concurrency.unwrap_or(16),
            rate_per_second: s.rate_per_second,
            max_response_bytes: s.max_response_bytes,
            // Only a payer that notifies needs the token that lets its notifications be matched.
            correlation: s
                .notification_credential_file
                .is_some()
                .then(|| (id.to_owned(), key.clone())),
        },
        auth,
    )))
}
