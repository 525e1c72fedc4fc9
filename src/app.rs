//! Start-up: turns settings into the pieces every command shares (code table, policies, payers,
//! the pipeline), so tests build exactly what the binary builds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::codes::CodeTable;
use crate::config::{Adapter, PayerSettings, Settings};
use crate::payer::attachments::Attachments;
use crate::payer::pas::auth::{Credentials, TokenSource};
use crate::payer::pas::client::{PasPayer, PasSettings};
use crate::payer::pas::subscription::{Subscriber, SubscriptionStatus};
use crate::payer::sim::SimulatedPayer;
use crate::payer::Payer;
use crate::pipeline::{Clock, PayerDirectory, PayerRoute, Pipeline};
use crate::retry::Schedule;
use crate::rules::Policies;
use crate::security::DeploymentKey;

/// Why the worker cannot start with these settings.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting whose value cannot be used (a file that cannot be read, a variable that is not
    /// set): the message names the key and the value.
    #[error("configuration: {key} = {value}: {message}")]
    Setting {
        key: String,
        value: String,
        message: String,
    },
    /// A payer that cannot be built for a reason no one key holds.
    #[error("configuration: payers.{payer}: {message}")]
    Payer { payer: String, message: String },
    /// The local deployment key (no `security.key_file`) cannot be read or made.
    #[error(transparent)]
    Key(crate::security::KeyError),
    /// A document store or attachment limit that cannot be used (`attachments.*`).
    #[error("configuration: {0}")]
    Attachments(#[from] crate::payer::attachments::StoreSettingError),
    /// Data built into the binary does not load: a fault of the build, not of the configuration.
    #[error("the shipped {0}")]
    Shipped(String),
}

impl StartupError {
    /// True when the cause is the build itself, not the configuration.
    pub fn is_shipped(&self) -> bool {
        matches!(self, StartupError::Shipped(_))
    }
}

/// A setting's problem, with its value as the operator wrote it (secrets masked).
fn setting(key: String, value: &str, message: impl Into<String>) -> StartupError {
    StartupError::Setting {
        value: crate::config::quoted(&crate::config::shown(&key, value)),
        key,
        message: message.into(),
    }
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

fn key_error(e: crate::security::KeyError) -> StartupError {
    match e {
        crate::security::KeyError::File { path, message } => {
            setting("security.key_file".into(), &path, message)
        }
        other => StartupError::Key(other),
    }
}

fn code_table_error(path: &Path, e: crate::codes::CodeTableError) -> StartupError {
    use crate::codes::CodeTableError;
    let message = match e {
        CodeTableError::Read { source, .. } => format!("cannot read it: {source}"),
        CodeTableError::Invalid { message, .. } => message,
    };
    setting("rules.code_table".into(), &path_text(path), message)
}

/// A policy that does not load: the shipped ones fail only against another code table.
fn policy_error(settings: &Settings, e: crate::rules::PolicyError) -> StartupError {
    use crate::rules::PolicyError;
    match (e, &settings.rules.policy_dir, &settings.rules.code_table) {
        (PolicyError::Read { path, source }, Some(dir), _) => {
            let message = if Path::new(&path) == dir.as_path() {
                format!("cannot read it: {source}")
            } else {
                format!("cannot read {path}: {source}")
            };
            setting("rules.policy_dir".into(), &path_text(dir), message)
        }
        (
            PolicyError::Invalid {
                source_name,
                message,
            },
            _,
            Some(table),
        ) if source_name.contains("(embedded)") => setting(
            "rules.code_table".into(),
            &path_text(table),
            format!(
                "the shipped policy {source_name} does not agree with this code table: {message}"
            ),
        ),
        (
            PolicyError::Invalid {
                source_name,
                message,
            },
            Some(dir),
            _,
        ) if !source_name.contains("(embedded)") => setting(
            "rules.policy_dir".into(),
            &path_text(dir),
            format!("policy {source_name}: {message}"),
        ),
        (other, ..) => StartupError::Shipped(other.to_string()),
    }
}

/// What the commands share.
pub struct App {
    pub settings: Settings,
    pub codes: Arc<CodeTable>,
    pub policies: Policies,
    pub pipeline: Pipeline,
    /// The deployment key (`security.key_file`, else the local one).
    pub key: DeploymentKey,
    /// The PAS subscriptions to keep while `run` runs, one per payer that has one.
    pub subscribers: Vec<Subscriber>,
}

impl App {
    /// Loads the code table and policies and builds every configured payer.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(chrono::Utc::now))
    }

    pub(crate) fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let key =
            DeploymentKey::resolve(settings.security.key_file.as_deref()).map_err(key_error)?;
        let codes = Arc::new(match &settings.rules.code_table {
            Some(path) => CodeTable::from_file(path).map_err(|e| code_table_error(path, e))?,
            None => CodeTable::embedded().map_err(|e| StartupError::Shipped(e.to_string()))?,
        });
        let policies = Policies::load(&codes, settings.rules.policy_dir.as_deref())
            .map_err(|e| policy_error(&settings, e))?;
        let mut routes = HashMap::new();
        let mut default = None;
        let mut subscribers = Vec::new();
        for (id, payer_settings) in &settings.payers {
            let policy = policies.get(&payer_settings.policy).map_err(|e| {
                let message = match e {
                    crate::rules::PolicyError::Unknown { known, .. } => format!(
                        "not a known policy (known: {known}); a policy is a file NAME.toml in config/policies/ or in rules.policy_dir"
                    ),
                    other => other.to_string(),
                };
                setting(
                    format!("payers.{id}.policy"),
                    &payer_settings.policy,
                    message,
                )
            })?;
            let payer = build_payer(id, payer_settings, &codes, &mut subscribers)?;
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
            attachments: Some(Arc::new(Attachments::build(&settings.attachments)?)),
            clock,
            sleeper: Default::default(),
        };
        Ok(Self {
            settings,
            codes,
            policies,
            pipeline,
            key,
            subscribers,
        })
    }
}

fn build_payer(
    id: &str,
    s: &PayerSettings,
    codes: &Arc<CodeTable>,
    subscribers: &mut Vec<Subscriber>,
) -> Result<Arc<dyn Payer>, StartupError> {
    match s.adapter {
        Adapter::Simulated => Ok(Arc::new(SimulatedPayer::new(
            Arc::clone(codes),
            s.simulated.clone(),
        ))),
        Adapter::FhirPas => build_pas(id, s, subscribers),
    }
}

fn build_pas(
    id: &str,
    s: &PayerSettings,
    subscribers: &mut Vec<Subscriber>,
) -> Result<Arc<dyn Payer>, StartupError> {
    let name = |k: &str| format!("payers.{id}.{k}");
    let missing = s.identity.missing();
    if !missing.is_empty() {
        // Requests still go, naming the payer and its members by the worker's stand-ins.
        tracing::warn!(
            payer = %id,
            missing = %missing.join(", "),
            "A fhir-pas payer without its identity settings: requests carry the worker's stand-in payer name, payer id and member id system."
        );
    }
    let timeout = s.timeout.unwrap_or(std::time::Duration::from_secs(20));
    let read = |k: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|e| setting(name(k), &path_text(path), format!("cannot read it: {e}")))
    };
    // No redirects: a 307/308 would re-send the request body (patient data) to another host.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!s.allow_insecure_http)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .user_agent(concat!("preauth-worker/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &s.ca_file {
        for cert in reqwest::Certificate::from_pem_bundle(&read("ca_file", path)?).map_err(|e| {
            setting(
                name("ca_file"),
                &path_text(path),
                format!("not PEM certificates: {e}"),
            )
        })? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(path) = &s.client_identity_file {
        let identity =
            reqwest::Identity::from_pem(&read("client_identity_file", path)?).map_err(|e| {
                setting(
                    name("client_identity_file"),
                    &path_text(path),
                    format!("needs a certificate and its private key in PEM: {e}"),
                )
            })?;
        builder = builder.identity(identity);
    }
    let http = builder.build().map_err(|e| StartupError::Payer {
        payer: id.to_owned(),
        message: format!("cannot build the HTTP client: {e}"),
    })?;
    let auth = match (&s.token_url, &s.client_id) {
        (Some(token_url), Some(client_id)) => {
            let credentials = credentials(id, s, client_id)?;
            Some(Arc::new(TokenSource::new(
                http.clone(),
                token_url.clone(),
                s.scope.clone(),
                credentials,
            )))
        }
        _ => None,
    };
    let base_url = s.base_url.clone().ok_or_else(|| StartupError::Payer {
        payer: id.to_owned(),
        message: "base_url is required for adapter \"fhir-pas\"".into(),
    })?;
    let subscription = match (&s.subscription, &s.notification_credential_file) {
        (Some(settings), Some(path)) => {
            let credential = crate::notify::read_credential(id, path).map_err(|message| {
                StartupError::Payer {
                    payer: id.to_owned(),
                    message,
                }
            })?;
            let status = Arc::new(SubscriptionStatus::new(id, settings.clone()));
            subscribers.push(Subscriber::new(
                http.clone(),
                &base_url,
                timeout,
                auth.clone(),
                credential,
                Arc::clone(&status),
            ));
            Some(status)
        }
        _ => None,
    };
    Ok(Arc::new(
        PasPayer::new(
            http,
            PasSettings {
                base_url,
                timeout,
                concurrency: s.concurrency.unwrap_or(16),
                rate_per_second: s.rate_per_second,
                max_response_bytes: s.max_response_bytes,
                notifies: s.notification_credential_file.is_some(),
                identity: s.identity.clone(),
            },
            auth,
        )
        .with_subscription(subscription),
    ))
}

/// The client credentials of a payer's token endpoint; each problem names the key that holds
/// the credential (never the secret).
fn credentials(id: &str, s: &PayerSettings, client_id: &str) -> Result<Credentials, StartupError> {
    use crate::payer::pas::auth::CredentialError;
    let key = |k: &str| format!("payers.{id}.{k}");
    let file_error = |k: &str, path: &Path, e: CredentialError| match e {
        CredentialError::File { message, .. } => setting(
            key(k),
            &path_text(path),
            format!("cannot read it: {message}"),
        ),
        CredentialError::EmptyFile { .. } => setting(key(k), &path_text(path), "the file is empty"),
        other => setting(key(k), &path_text(path), other.to_string()),
    };
    if let Some(var) = &s.client_secret_env {
        let hint = format!("set it to the client secret in the worker's environment, or use payers.{id}.client_secret_file");
        return Credentials::secret_from_env(client_id, var).map_err(|e| match e {
            CredentialError::EmptyEnv(_) => setting(
                key("client_secret_env"),
                var,
                format!("the environment variable {var} is empty; {hint}"),
            ),
            _ => setting(
                key("client_secret_env"),
                var,
                format!("the environment variable {var} is not set; {hint}"),
            ),
        });
    }
    if let Some(path) = &s.client_secret_file {
        return Credentials::secret_from_file(client_id, path)
            .map_err(|e| file_error("client_secret_file", path, e));
    }
    if let Some(path) = &s.private_key_file {
        return Credentials::private_key_from_file(client_id, path).map_err(|e| match e {
            CredentialError::Key { .. } => setting(
                key("private_key_file"),
                &path_text(path),
                "not an RSA or EC (P-384) private key in PEM form",
            ),
            other => file_error("private_key_file", path, other),
        });
    }
    Err(StartupError::Payer {
        payer: id.to_owned(),
        message: "client_id is set but no credential: set client_secret_env, client_secret_file or private_key_file".into(),
    })
}
