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

/// The shipped defaults.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

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
    /// for `parked replay`: it authenticates the case state the worker carries in headers and the
    /// correlation token on payer requests. Unset: a key kept in the local state folder.
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
}

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
            user = Some(Toml::string(&text));
        }
        let mut figment = Figment::from(Serialized::defaults(defaults));
        if let Some(file) = user {
            figment = figment.merge(file);
        }
        let settings: Settings = figment
            .merge(overrides)
            .extract()
            .map_err(|e| ConfigError::Invalid(flatten_figment_error(e)))?;
        settings.check()?;
        Ok(settings)
    }

    /// Cross-field rules, each naming its key.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.amqp.prefetch == 0 {
            return bad("amqp.prefetch: must be at least 1".into());
        }
        if self.amqp.delivery_limit < 2 {
            return bad("amqp.delivery_limit: must be at least 2".into());
        }
        // A broker URL that does not parse would be retried forever; say so now, without
        // printing it (it may hold a password).
        for (i, url) in crate::broker_url::broker_urls(&self.amqp.url)
            .iter()
            .enumerate()
        {
            let scheme_ok = url.starts_with("amqp://") || url.starts_with("amqps://");
            if !scheme_ok || url.parse::<lapin::uri::AMQPUri>().is_err() {
                return bad(format!(
                    "amqp.url: broker URL {} of {} is not an amqp:// or amqps:// URL like amqps://USER:PASSWORD@HOST:5671/VHOST (not shown: it may hold a password)",
                    i + 1,
                    crate::broker_url::broker_urls(&self.amqp.url).len()
                ));
            }
        }
        if crate::broker_url::broker_urls(&self.amqp.url).is_empty() {
            return bad("amqp.url: no broker URL given".into());
        }
        if self.amqp.timeout.is_zero() {
            return bad("amqp.timeout: must be longer than zero".into());
        }
        // Everything that holds a delivery must end well before the broker's consumer timeout.
        // Saturating: a configured wait near Duration::MAX must be refused, not overflow.
        let hold = self
            .amqp
            .publish_hold
            .saturating_add(self.in_process_retry().budget())
            .saturating_add(self.amqp.timeout.saturating_mul(4));
        if hold >= BROKER_CONSUMER_TIMEOUT / 2 {
            return bad(format!(
                "amqp.publish_hold: with the in-process retries a delivery could be held {}, over half the broker's 30-minute consumer timeout",
                humantime::format_duration(hold)
            ));
        }
        if self.amqp.max_message_bytes < 1024 {
            return bad("amqp.max_message_bytes: must be at least 1024".into());
        }
        if self.retry.in_process_calls == 0 {
            return bad("retry.in_process_calls: must be at least 1 (the first call)".into());
        }
        if self.retry.in_process_calls > 10 {
            return bad(
                "retry.in_process_calls: at most 10; longer waits belong in retry.delays".into(),
            );
        }
        if self.process.concurrency == 0 {
            return bad("process.concurrency: must be at least 1".into());
        }
        for (key, list) in [
            ("retry.delays", &self.retry.delays),
            ("followup.pended", &self.followup.pended),
        ] {
            if let Some(i) = list.iter().position(Duration::is_zero) {
                return bad(format!("{key}[{i}]: a wait must be longer than zero"));
            }
        }
        for (id, payer) in &self.payers {
            if payer.adapter == Adapter::FhirPas && payer.base_url.is_none() {
                return bad(format!(
                    "payers.{id}.base_url: required for adapter \"fhir-pas\""
                ));
            }
            for (key, url) in [
                ("base_url", &payer.base_url),
                ("token_url", &payer.token_url),
            ] {
                let Some(url) = url else { continue };
                let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                match scheme.as_deref() {
                    Some("https") => {}
                    Some("http") if payer.allow_insecure_http => {}
                    Some("http") => {
                        return bad(format!(
                            "payers.{id}.{key}: http:// sends patient data and credentials in clear; use https://, or set payers.{id}.allow_insecure_http = true for a simulator on loopback"
                        ))
                    }
                    _ => {
                        return bad(format!(
                            "payers.{id}.{key}: not an https:// URL"
                        ))
                    }
                }
            }
            if payer.max_response_bytes < 1024 {
                return bad(format!(
                    "payers.{id}.max_response_bytes: must be at least 1024"
                ));
            }
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint {
            let http = reqwest::Url::parse(endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !http {
                // Not repeated: a collector URL may carry a token in its query.
                return bad("telemetry.otlp_endpoint: not an http:// or https:// URL; give the OTLP/HTTP endpoint of a collector, like http://otel-collector:4318".into());
            }
        }
        if self.telemetry.service_name.trim().is_empty() {
            return bad("telemetry.service_name: must not be empty".into());
        }
        if self.notifications.max_body_bytes < 1024 {
            return bad("notifications.max_body_bytes: must be at least 1024".into());
        }
        let longest = LONGEST_AWAITING_WAIT;
        let notifying = self
            .payers
            .iter()
            .find(|(_, p)| p.notification_credential_file.is_some());
        if let (Some((id, _)), Some(wait)) = (
            notifying,
            self.followup.pended.iter().find(|w| **w > longest),
        ) {
            return bad(format!(
                "followup.pended: a wait of {}s is longer than {} days, the most a pended request of a notifying payer (payers.{id}) can wait in its awaiting queue",
                wait.as_secs(),
                longest.as_secs() / 86_400
            ));
        }
        Ok(())
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

/// figment errors can chain; one line each, key path first.
fn flatten_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let path = e.path.join(".");
            let kind = e.kind.to_string();
            if path.is_empty() {
                kind
            } else {
                format!("{path}: {kind}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file_text: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("worker.toml");
        if let Some(text) = file_text {
            std::fs::write(&path, text).expect("write");
        }
        let file = file_text.map(|_| path.as_path());
        if env.is_empty() {
            return Settings::load_without_env(file);
        }
        // The real environment layer, over variables set for this test alone (the jail holds a
        // lock and restores them).
        let mut loaded = None;
        // figment's own signature, not ours to shrink.
        #[allow(clippy::result_large_err)]
        figment::Jail::expect_with(|jail| {
            for (key, value) in env {
                jail.set_env(key, value);
            }
            loaded = Some(Settings::load(file));
            Ok(())
        });
        loaded.expect("the jail ran")
    }

    #[test]
    fn shipped_defaults_load_with_the_contract_names() {
        let s = load(None, &[]).expect("defaults");
        assert_eq!(s.topology.cases_exchange, "preauth.cases");
        assert_eq!(s.topology.work_queue, "preauth.cases.work");
        assert_eq!(s.topology.outcomes_exchange, "preauth.outcomes");
        assert_eq!(s.topology.parking_queue, "preauth.cases.dead");
        assert_eq!(s.amqp.max_message_bytes, 1024 * 1024);
        assert_eq!(s.ops.listen.to_string(), "127.0.0.1:9464");
        assert_eq!(s.retry.delays[0], Duration::from_secs(5));
        assert_eq!(s.payers["default"].adapter, Adapter::Simulated);
    }

    #[test]
    fn traces_are_off_by_default_and_an_endpoint_must_be_an_http_url() {
        let s = load(None, &[]).expect("defaults");
        assert_eq!(s.telemetry.otlp_endpoint, None);
        assert_eq!(s.telemetry.service_name, "preauth-worker");
        let on = "[telemetry]\notlp_endpoint = \"http://otel-collector:4318\"\n";
        assert!(load(Some(on), &[]).is_ok());
        for bad in [
            "otel-collector:4318",
            "grpc://otel-collector:4317",
            "http://",
        ] {
            let text = format!("[telemetry]\notlp_endpoint = \"{bad}\"\n");
            let e = load(Some(&text), &[]).expect_err(bad).to_string();
            assert!(e.contains("telemetry.otlp_endpoint"), "{e}");
        }
    }

    #[test]
    fn a_config_file_overrides_the_defaults() {
        let s = load(
            Some("[amqp]\nprefetch = 8\n[retry]\ndelays = [\"1s\", \"2m\"]\n"),
            &[],
        )
        .expect("loads");
        assert_eq!(s.amqp.prefetch, 8);
        assert_eq!(s.amqp.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(
            s.retry.delays,
            vec![Duration::from_secs(1), Duration::from_secs(120)]
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = load(
            Some("[amqp]\nurl = \"amqp://file\"\n"),
            &[
                ("PREAUTH__AMQP__URL", "amqp://env:5672"),
                ("PREAUTH__FOLLOWUP__PENDED", "[\"1s\"]"),
                ("OTHER", "x"),
            ],
        )
        .expect("loads");
        assert_eq!(s.amqp.url, "amqp://env:5672");
        assert_eq!(s.followup.pended, vec![Duration::from_secs(1)]);
    }

    #[test]
    fn durations_are_read_and_written_like_5s_1h_8d_and_500ms() {
        let s = load(
            Some("[amqp]\ntimeout = \"500ms\"\n[followup]\npended = [\"5s\", \"1h\", \"8d\"]\n[payers.x]\nadapter = \"simulated\"\nlatency = \"1m 30s\"\n"),
            &[],
        )
        .expect("loads");
        assert_eq!(s.amqp.timeout, Duration::from_millis(500));
        assert_eq!(
            s.followup.pended,
            vec![
                Duration::from_secs(5),
                Duration::from_secs(3600),
                Duration::from_secs(8 * 86_400)
            ]
        );
        assert_eq!(s.payers["x"].simulated.latency, Duration::from_secs(90));
        assert_eq!(s.payers["x"].simulated.retry_after, None);
        let written = toml::to_string(&s).expect("settings serialise");
        assert!(written.contains("timeout = \"500ms\""), "{written}");
        assert!(
            written.contains("pended = [\"5s\", \"1h\", \"8days\"]"),
            "{written}"
        );
        assert!(written.contains("latency = \"1m 30s\""), "{written}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("written.toml");
        std::fs::write(&path, &written).expect("write");
        let again = Settings::load_without_env(Some(&path)).expect("what is written loads");
        assert_eq!(again.followup.pended, s.followup.pended);
        assert_eq!(again.amqp.timeout, s.amqp.timeout);
        assert_eq!(
            again.payers["x"].simulated.latency,
            s.payers["x"].simulated.latency
        );
    }

    #[test]
    fn a_file_that_declares_payers_replaces_the_shipped_payers() {
        let s = load(Some("[payers.acme-health]\nadapter = \"simulated\"\n"), &[]).expect("loads");
        assert_eq!(s.payers.keys().collect::<Vec<_>>(), vec!["acme-health"]);
        assert_eq!(s.payers["acme-health"].policy, "default");
    }

    #[test]
    fn a_wrong_key_names_itself() {
        let err = load(Some("[amqp]\nprefech = 8\n"), &[])
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("prefech"), "{err}");
        let err = load(None, &[("PREAUTH__TOPOLOGY__WORKQUEUE", "x")])
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("workqueue"), "{err}");
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let err = load(Some("[retry]\ndelays = [\"5 parsecs\"]\n"), &[])
            .expect_err("bad duration")
            .to_string();
        assert!(
            err.contains("retry.delays") && err.contains("5 parsecs"),
            "{err}"
        );
        let err = load(Some("[amqp]\nprefetch = 0\n"), &[])
            .expect_err("zero")
            .to_string();
        assert!(err.contains("amqp.prefetch"), "{err}");
        let err = load(Some("[payers.x]\nadapter = \"carrier-pigeon\"\n"), &[])
            .expect_err("adapter")
            .to_string();
        assert!(err.contains("payers.x.adapter"), "{err}");
        let err = load(Some("[payers.x]\nadapter = \"fhir-pas\"\n"), &[])
            .expect_err("base_url")
            .to_string();
        assert!(err.contains("payers.x.base_url"), "{err}");
    }

    #[test]
    fn a_toml_syntax_error_names_its_place_but_never_prints_the_line() {
        let err = load(
            Some("[amqp]\nprefetch = 8\nurl = \"amqp://guest:PASSMARK@host\n"),
            &[],
        )
        .expect_err("unterminated string")
        .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains("PASSMARK"), "{err}");
    }

    #[test]
    fn a_broker_url_that_does_not_parse_is_refused_without_showing_it() {
        for url in [
            "amqp//guest:PASSMARK@127.0.0.1:5672/%2f",
            "http://guest:PASSMARK@h",
            "guest:PASSMARK",
        ] {
            let err = load(None, &[("PREAUTH__AMQP__URL", url)])
                .expect_err("bad url")
                .to_string();
            assert!(err.contains("amqp.url"), "{err}");
            assert!(!err.contains("PASSMARK"), "{err}");
        }
    }

    #[test]
    fn a_payer_over_http_needs_the_explicit_opt_in() {
        let err = load(
            Some("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"http://payer.example/fhir\"\n"),
            &[],
        )
        .expect_err("http")
        .to_string();
        assert!(
            err.contains("payers.x.base_url") && err.contains("allow_insecure_http"),
            "{err}"
        );
        let err = load(
            Some("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\ntoken_url = \"http://p.example/token\"\n"),
            &[],
        )
        .expect_err("http token url")
        .to_string();
        assert!(err.contains("payers.x.token_url"), "{err}");
        load(
            Some("[payers.x]\nadapter = \"fhir-pas\"\nallow_insecure_http = true\nbase_url = \"http://127.0.0.1:9470\"\n"),
            &[],
        )
        .expect("the opt-in allows it");
    }

    #[test]
    fn a_notifying_payer_caps_follow_up_waits_at_seven_days() {
        let payer = "[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\nnotification_credential_file = \"/run/secrets/x\"\n";
        let err = load(
            Some(&format!("[followup]\npended = [\"1h\", \"8d\"]\n{payer}")),
            &[],
        )
        .expect_err("8 days")
        .to_string();
        assert!(
            err.contains("followup.pended") && err.contains("payers.x"),
            "{err}"
        );
        load(
            Some(&format!("[followup]\npended = [\"1h\", \"7d\"]\n{payer}")),
            &[],
        )
        .expect("7 days fits");
        load(
            Some("[followup]\npended = [\"8d\"]\n[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\n"),
            &[],
        )
        .expect("a payer that does not notify waits in the delay tiers, which have no cap");
    }

    #[test]
    fn a_missing_config_file_is_a_clear_error() {
        let err = Settings::load_without_env(Some(Path::new("/nonexistent/worker.toml")))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("/nonexistent/worker.toml"), "{err}");
    }
}
