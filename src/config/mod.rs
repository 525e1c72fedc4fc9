//! Settings: the shipped config/default.toml, then `--config FILE`, then `PREAUTH__SECTION__KEY`
//! environment variables. Every field's `///` line is the operator's reference. A wrong key or
//! value names itself in the error; cross-field rules are checked by `Settings::load`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Provider};
use serde::{Deserialize, Serialize};

mod report;
mod rules;

use report::Layers;
pub use report::{env_var, is_secret_key, quoted, shown, MASK};
pub use rules::log_filter_problem;

/// The shipped defaults.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// The broker's default consumer (delivery acknowledgement) timeout: nothing may hold a delivery
/// this long.
pub(crate) const BROKER_CONSUMER_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub amqp: AmqpSettings,
    pub topology: TopologySettings,
    pub ops: OpsSettings,
    pub retry: RetrySettings,
    pub followup: FollowupSettings,
    pub process: ProcessSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub rules: RulesSettings,
    #[serde(default)]
    pub payers: BTreeMap<String, PayerSettings>,
    #[serde(default)]
    pub security: SecuritySettings,
    #[serde(default)]
    pub notifications: NotificationSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub outcomes: OutcomesSettings,
    #[serde(default)]
    pub console: ConsoleSettings,
    pub ledger: LedgerSettings,
    /// Where photos and letters are fetched from, and the limits on them.
    #[serde(default)]
    pub attachments: crate::payer::attachments::AttachmentSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomesSettings {
    /// Publish progress events (`progress.<step>`: received, submitted, retry-scheduled,
    /// parked, replayed) on the outcomes exchange beside the outcomes, confirmed.
    #[serde(default = "default_true")]
    pub progress: bool,
    /// How often each progress step is probed (one delivery's events sent `mandatory` on a
    /// channel of their own): a step the broker returns unroutable (nothing bound to
    /// `progress.<step>`) is sent for no case until its next probe, a routed one for every
    /// case. `0s`: every step always sent, not mandatory, never probed.
    #[serde(default = "default_unbound_progress_pause", with = "humantime_serde")]
    pub unbound_progress_pause: Duration,
}

fn default_unbound_progress_pause() -> Duration {
    Duration::from_secs(5)
}

impl Default for OutcomesSettings {
    fn default() -> Self {
        Self {
            progress: true,
            unbound_progress_pause: default_unbound_progress_pause(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Address of the web console the ledger process serves (loopback unless you mean otherwise:
    /// put a TLS-terminating proxy in front of it).
    #[serde(default = "default_console_listen")]
    pub listen: SocketAddr,
    /// How long a console session lasts after signing in.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// The session cookie carries the `Secure` flag (sent over HTTPS only). Off only for a console
    /// reached over plain http on loopback (tests).
    #[serde(default = "default_true")]
    pub secure_cookies: bool,
    /// Rows on one page of a work list, the audit log and search results.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            listen: default_console_listen(),
            session_ttl: default_session_ttl(),
            secure_cookies: true,
            page_size: default_page_size(),
        }
    }
}

fn default_console_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9480))
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(8 * 3600)
}

fn default_true() -> bool {
    true
}

fn default_page_size() -> u32 {
    50
}

/// `preauth-worker ledger`: the process that writes outcome and progress events to PostgreSQL.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// PostgreSQL URL of the ledger database (`postgres://USER:PASSWORD@HOST:5432/DB`); its
    /// password is masked wherever it is shown. Usually from `PREAUTH__LEDGER__DATABASE_URL`.
    pub database_url: String,
    /// The ledger's own quorum queue, bound to `topology.outcomes_exchange` with `outcome.#`
    /// and `progress.#`; messages it cannot read go to `<queue>.dead`.
    pub queue: String,
    /// Events written to the database in one transaction, at most.
    pub batch_size: usize,
    /// How long a batch waits for more events after its first one before it is written.
    #[serde(with = "humantime_serde")]
    pub batch_wait: Duration,
    /// Unacknowledged deliveries per ledger process (at least `batch_size`).
    pub prefetch: u16,
    /// Database connections per ledger process.
    pub max_connections: u32,
    /// Address of the ledger's `/livez`, `/readyz` (ready: consuming and the database answers)
    /// and `/metrics` (Prometheus text).
    pub ops_listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// The OTLP/HTTP endpoint of a trace collector (`http://otel-collector:4318`; `/v1/traces`
    /// is added unless the path already ends with it). Unset: no spans are exported and no
    /// `traceparent` is written.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` the exported spans carry.
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: default_service_name(),
        }
    }
}

fn default_service_name() -> String {
    "preauth-worker".to_owned()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// The deployment key (a file of at least 32 random bytes), the same for every worker and
    /// for `parked replay`: it authenticates the case state the worker carries in headers.
    /// Unset: a key kept in the local state folder.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Address of the PAS rest-hook notification listener (`POST /pas/notify/{payer}`). Unset:
    /// no listener. Only payers with `notification_credential_file` are accepted on it.
    pub listen: Option<SocketAddr>,
    /// Largest notification body accepted.
    #[serde(default = "default_notification_bytes")]
    pub max_body_bytes: usize,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            listen: None,
            max_body_bytes: default_notification_bytes(),
        }
    }
}

fn default_notification_bytes() -> usize {
    1024 * 1024
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// Broker URL (`amqp://` or `amqps://`); `?heartbeat=30` sets the heartbeat.
    pub url: String,
    /// Unacknowledged deliveries per worker: the number of cases processed at once.
    pub prefetch: u16,
    /// Larger bodies are parked with reason `too-large`.
    pub max_message_bytes: usize,
    /// Deliveries of one message before the worker parks it (`delivery-limit`); the broker's own
    /// limit on the work queue is 5 more, as the last resort.
    pub delivery_limit: u32,
    /// Bound on every broker operation (connect, declare, publish confirm, ack).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long a delivery is held while its outcome cannot be published (unroutable, nacked,
    /// broker blocked) before it is returned to the queue.
    #[serde(with = "humantime_serde")]
    pub publish_hold: Duration,
    /// On SIGTERM/SIGINT: how long in-flight cases may take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySettings {
    /// Topic exchange the PM systems publish case events to.
    pub cases_exchange: String,
    /// Quorum queue the workers consume, bound with `case.*`.
    pub work_queue: String,
    /// Topic exchange outcome events are published to (`outcome.<status>`).
    pub outcomes_exchange: String,
    /// Quorum queue for messages that cannot be answered and cases given up on.
    pub parking_queue: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSettings {
    /// Address of the health and metrics endpoints.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Waits before each retry of a transiently failing payer (delay tiers).
    #[serde(with = "duration_list")]
    pub delays: Vec<Duration>,
    /// Payer calls per delivery before the case goes to a delay tier.
    pub in_process_calls: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowupSettings {
    /// Waits before each follow-up of a pended request.
    #[serde(with = "duration_list")]
    pub pended: Vec<Duration>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSettings {
    /// Cases handled at once by `process`.
    pub concurrency: usize,
    /// `auto`: a simulated clock (no real waiting) when every payer is the in-process simulator
    /// and every document store a folder; `real`: always wait in real time.
    pub clock: ProcessClock,
}

/// The clock `process` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessClock {
    /// Simulated when nothing outside the process is waited for, real otherwise.
    Auto,
    /// Real waits, always.
    Real,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text on a terminal, JSON lines otherwise.
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `auto`, `text` or `json`.
    pub format: LogFormat,
    /// Default filter (`info`, `preauth_worker=debug`); `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// A folder of extra policy files, each named after its policy.
    pub policy_dir: Option<PathBuf>,
    /// A code table to use instead of the shipped one.
    pub code_table: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adapter {
    /// The in-process payer simulator, deciding by the policy.
    Simulated,
    /// HL7 Da Vinci PAS (FHIR R4) over HTTPS.
    FhirPas,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PayerSettings {
    /// `simulated` or `fhir-pas`.
    pub adapter: Adapter,
    /// Name of the policy file (config/policies/NAME.toml).
    #[serde(default = "default_policy")]
    pub policy: String,
    /// simulated: slow answers and scripted failures (`latency`, `fail_first`, `retry_after`…),
    /// the same settings as `payer-sim`'s options.
    #[serde(flatten)]
    pub simulated: crate::payer::sim::Faults,
    /// fhir-pas: the payer's FHIR base URL.
    pub base_url: Option<String>,
    /// fhir-pas: timeout of one HTTP request.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// fhir-pas: requests in flight to this payer at once.
    pub concurrency: Option<u32>,
    /// fhir-pas: requests per second to this payer.
    pub rate_per_second: Option<f64>,
    /// fhir-pas: OAuth token endpoint.
    pub token_url: Option<String>,
    /// fhir-pas: OAuth scope to ask for (`system/Claim.c system/ClaimResponse.r`).
    pub scope: Option<String>,
    /// fhir-pas: OAuth client id.
    pub client_id: Option<String>,
    /// fhir-pas: name of the environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// fhir-pas: file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// fhir-pas: PEM private key for SMART Backend Services (signed JWT assertion).
    pub private_key_file: Option<PathBuf>,
    /// fhir-pas: extra CA certificate(s) (PEM) trusted for this payer, besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// fhir-pas: client certificate and its private key (one PEM file) for mutual TLS.
    pub client_identity_file: Option<PathBuf>,
    /// fhir-pas: allow `http://` base and token URLs (patient data and the client secret in
    /// clear). For tests and a payer simulator on loopback only.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// fhir-pas: largest payer response body read, in bytes.
    #[serde(default = "default_response_bytes")]
    pub max_response_bytes: usize,
    /// fhir-pas: a file holding the credential this payer's notifications must present in their
    /// `Authorization` header (the header value the worker registers in the PAS Subscription's
    /// channel). Set: notifications from this payer are accepted on `notifications.listen`.
    pub notification_credential_file: Option<PathBuf>,
    /// fhir-pas: the PAS Subscription (Backport rest-hook) the worker keeps with this payer for
    /// pended results (`endpoint`, `org_identifier`, `heartbeat_period`, `fallback`,
    /// `safety_inquiry_after`, `safety_inquiries`); needs `notification_credential_file`. Unset:
    /// pended requests are polled on `followup.pended`.
    #[serde(default)]
    pub subscription: Option<crate::payer::pas::subscription::SubscriptionSettings>,
    /// fhir-pas: who the payer is (`payer_name`, `payer_identifier`, `member_id_system`, and
    /// the X12 envelope's `interchange_sender_id`, `interchange_receiver_id`,
    /// `application_sender_code`, `application_receiver_code`). A real payer needs the first
    /// three; unset, the request carries the worker's own stand-ins.
    #[serde(flatten)]
    pub identity: crate::payer::pas::identity::PayerIdentity,
}

/// Every key of a `[payers.ID]` table, its own and the simulator's (a flattened table names
/// none of them when it refuses one; a test holds this list to the types).
pub(crate) const PAYER_KEYS: &[&str] = &[
    "adapter",
    "policy",
    "latency",
    "slow_first",
    "fail_first",
    "throttle_first",
    "retry_after",
    "flaky_percent",
    "malformed",
    "reject",
    "request_information",
    "substitute",
    "profile_check",
    "base_url",
    "timeout",
    "concurrency",
    "rate_per_second",
    "token_url",
    "scope",
    "client_id",
    "client_secret_env",
    "client_secret_file",
    "private_key_file",
    "ca_file",
    "client_identity_file",
    "allow_insecure_http",
    "max_response_bytes",
    "notification_credential_file",
    "subscription",
    "payer_name",
    "payer_identifier",
    "payer_identifier_system",
    "member_id_system",
    "interchange_sender_id",
    "interchange_receiver_id",
    "application_sender_code",
    "application_receiver_code",
];

fn default_response_bytes() -> usize {
    8 * 1024 * 1024
}

fn default_policy() -> String {
    "default".to_owned()
}

/// A list of durations, each written like `"5s"`, `"30m"` or `"2h"` (humantime-serde for every
/// element).
mod duration_list {
    use std::time::Duration;

    use humantime_serde::Serde;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(Serde::from))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let list = Vec::<Serde<Duration>>::deserialize(d)?;
        Ok(list.into_iter().map(Serde::into_inner).collect())
    }
}

/// Why the configuration cannot be used. The message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {message}")]
    File { path: String, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Prefix of the environment variables that override settings: `PREAUTH__AMQP__URL` is
/// `amqp.url`, `PREAUTH__PAYERS__ACME__TIMEOUT` is `payers.acme.timeout`.
pub const ENV_PREFIX: &str = "PREAUTH__";

/// The longest `followup.pended` wait allowed when a payer sends notifications: a pended
/// request of such a payer waits in a queue of its own that the broker deletes
/// [`AWAITING_QUEUE_EXPIRES`] after its last use, so the wait must end before that.
pub const LONGEST_AWAITING_WAIT: Duration = Duration::from_secs(7 * 86_400);

/// How long the broker keeps a request's awaiting queue after its last use (declare, publish,
/// get).
pub const AWAITING_QUEUE_EXPIRES: Duration = Duration::from_secs(8 * 86_400);

impl Settings {
    /// Loads the layered configuration from the shipped defaults, `file`, and the
    /// `PREAUTH__SECTION__KEY` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, Self::environment())
    }

    /// The environment layer: variables named `PREAUTH__SECTION__KEY` (any case), each value read
    /// as a TOML-like value, so `PREAUTH__FOLLOWUP__PENDED='["1h","4h"]'` is a list.
    pub fn environment() -> Env {
        Env::prefixed(ENV_PREFIX).split("__")
    }

    /// The shipped defaults and `file` alone, whatever the environment holds (tests, fuzzing).
    pub fn load_without_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, Figment::new())
    }

    /// As `load`, with `overrides` in place of the environment.
    pub fn load_with(file: Option<&Path>, overrides: impl Provider) -> Result<Self, ConfigError> {
        let mut defaults: toml::Table = toml::from_str(DEFAULT_CONFIG)
            .map_err(|e| ConfigError::Invalid(format!("shipped defaults: {e}")))?;
        let mut user = None;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: toml_error(&text, &e),
            })?;
            // A file that declares its payers means exactly those payers.
            if table.contains_key("payers") {
                defaults.remove("payers");
            }
            // …and one that declares its document stores means exactly those stores (a store of
            // another kind under the shipped name, or another store for the shipped prefix).
            let declares_sources = table
                .get("attachments")
                .and_then(toml::Value::as_table)
                .is_some_and(|a| a.contains_key("sources"));
            if declares_sources {
                if let Some(toml::Value::Table(a)) = defaults.get_mut("attachments") {
                    a.remove("sources");
                }
            }
            user = Some(Toml::string(&text));
        }
        let mut figment = Figment::from(Serialized::defaults(defaults));
        if let Some(file) = user {
            figment = figment.merge(file);
        }
        let figment = figment.merge(overrides);
        let layers = Layers {
            figment: &figment,
            file,
        };
        let settings: Settings = figment.extract().map_err(|e| {
            // figment errors can chain: each told on its own, key first.
            let told: Vec<String> = e.into_iter().map(|e| layers.tell_figment(&e)).collect();
            ConfigError::Invalid(told.join("; "))
        })?;
        settings
            .problems(&layers)
            .map_err(|p| ConfigError::Invalid(layers.tell(&p)))?;
        Ok(settings)
    }

    /// The merged settings as TOML, every secret masked (`config show`): the password of each
    /// URL, and the value of every key whose name ends in `secret`, `password`, `token` or `key`.
    pub fn show(&self) -> String {
        match toml::Value::try_from(self) {
            Ok(mut value) => {
                report::mask_tree("", &mut value);
                toml::to_string(&value).unwrap_or_default()
            }
            Err(_) => String::new(),
        }
    }

    /// The in-process retry policy these settings describe.
    pub fn in_process_retry(&self) -> crate::retry::InProcessRetry {
        crate::retry::InProcessRetry {
            max_calls: self.retry.in_process_calls,
            ..crate::retry::InProcessRetry::default()
        }
    }
}

/// A TOML syntax error as its place and what is wrong, without the offending line itself (it
/// may hold a password).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let place = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}: ")
    });
    let message = e.message().lines().next().unwrap_or("not valid TOML");
    format!("{}{message} (TOML syntax)", place.unwrap_or_default())
}

#[cfg(test)]
mod tests;
