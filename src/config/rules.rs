//! The rules a loaded configuration must meet beyond its types: ranges, URLs, names, and the
//! sums of several settings. Each problem names the key the operator set; a rule over several
//! keys names the one that was changed from the shipped default.

use std::time::Duration;

use super::report::{
    quoted, shown, Layers, Problem, BROKER_URL_HINT, DATABASE_URL_HINT, DURATION_HINT, LEVEL_HINT,
};
use super::{
    Adapter, PayerSettings, Settings, BROKER_CONSUMER_TIMEOUT, DEFAULT_CONFIG,
    LONGEST_AWAITING_WAIT,
};

/// The levels a log filter may name.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Why a log filter (`log.level`, `RUST_LOG`) would not log what the operator means, if it
/// would not: each directive is a level, or `target=level` (`info,lapin=warn`). A bare word that
/// is not a level (`verbose`, `warnn`) is a target with no level for tracing, which turns every
/// other line off, so it is refused.
pub fn log_filter_problem(filter: &str) -> Option<String> {
    let directives: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if directives.is_empty() {
        return Some("empty: no level given".to_owned());
    }
    for directive in directives {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level)
            .trim();
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Some(if directive.contains('=') {
                format!("{} does not end in a level", quoted(directive))
            } else {
                format!("{} is not a level", quoted(directive))
            });
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .err()
        .map(|e| format!("not a log filter: {e}"))
}

/// Why a broker URL cannot be used, without repeating the URL (the caller shows it masked).
fn broker_url_problem(url: &str) -> Option<String> {
    let scheme = url.split_once("://").map(|(s, _)| s);
    match scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("amqp" | "amqps") => {}
        Some(other)
            if !other.is_empty()
                && other.len() <= 12
                && other.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            return Some(format!(
                "the scheme {other}:// is not one the broker speaks"
            ));
        }
        _ => return Some("not a URL with an amqp:// or amqps:// scheme".to_owned()),
    }
    match url.parse::<lapin::uri::AMQPUri>() {
        Ok(_) => None,
        // The parser's own words may repeat the URL (and its password): only its short, fixed
        // messages are shown.
        Err(e) if !e.contains(url) && !e.contains('@') && e.len() < 80 => {
            Some(format!("not a broker URL ({e})"))
        }
        Err(_) => Some("not a broker URL".to_owned()),
    }
}

/// Why a payer URL cannot be used.
fn payer_url_problem(id: &str, key: &str, url: &str, payer: &PayerSettings) -> Option<Problem> {
    let full = format!("payers.{id}.{key}");
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("https") => {}
        Some("http") if payer.allow_insecure_http => {}
        Some("http") => {
            return Some(Problem::new(
                full,
                "http:// sends patient data and credentials in clear",
            ).hint(format!("use https://, or set payers.{id}.allow_insecure_http = true for a simulator on loopback")))
        }
        _ => {
            return Some(Problem::new(full, "not an https:// URL").usual_hint())
        }
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => None,
        Ok(_) => Some(Problem::new(full, "the URL has no host")),
        Err(e) => Some(Problem::new(full, format!("not a URL ({e})"))),
    }
}

/// Queue and exchange names the broker would refuse or invent.
fn name_problem(key: &str, name: &str) -> Option<Problem> {
    if name.trim().is_empty() {
        Some(Problem::new(
            key,
            "empty; the broker would make up a name of its own",
        ))
    } else if name.starts_with("amq.") {
        Some(Problem::new(
            key,
            "names starting with amq. are reserved by the broker",
        ))
    } else if name.len() > 255 {
        Some(Problem::new(
            key,
            "longer than 255 bytes, the most the broker takes",
        ))
    } else {
        None
    }
}

impl Settings {
    /// Every rule, in the order of the settings file; the first problem found.
    /// The web console: a session lasts between a minute and a week, a page holds 1 to 1000 rows.
    fn console_problems(&self) -> Result<(), Problem> {
        let c = &self.console;
        if c.session_ttl < Duration::from_secs(60)
            || c.session_ttl > Duration::from_secs(7 * 86_400)
        {
            return Err(
                Problem::new("console.session_ttl", "must be between 1 minute and 7 days")
                    .hint(DURATION_HINT),
            );
        }
        if !(1..=1000).contains(&c.page_size) {
            return Err(Problem::new(
                "console.page_size",
                "must be between 1 and 1000",
            ));
        }
        if c.listen == self.ops.listen && c.listen.port() != 0 {
            return Err(Problem::new(
                "console.listen",
                "the same address as ops.listen; each listener needs its own port",
            ));
        }
        Ok(())
    }

    pub(super) fn problems(&self, layers: &Layers<'_>) -> Result<(), Problem> {
        self.amqp_problems(layers)?;
        self.topology_problems()?;
        if let Some(p) = log_filter_problem(&self.log.level) {
            return Err(Problem::new("log.level", p).hint(LEVEL_HINT));
        }
        if self.retry.in_process_calls == 0 {
            return Err(Problem::new(
                "retry.in_process_calls",
                "must be at least 1 (the first call)",
            ));
        }
        if self.retry.in_process_calls > 10 {
            return Err(Problem::new(
                "retry.in_process_calls",
                "at most 10; longer waits belong in retry.delays",
            ));
        }
        if self.process.concurrency == 0 {
            return Err(Problem::new("process.concurrency", "must be at least 1"));
        }
        for (key, list) in [
            ("retry.delays", &self.retry.delays),
            ("followup.pended", &self.followup.pended),
        ] {
            if let Some(i) = list.iter().position(Duration::is_zero) {
                return Err(Problem::new(
                    format!("{key}[{i}]"),
                    format!("wait {} is zero; a wait must be longer than zero", i + 1),
                ));
            }
        }
        for (id, payer) in &self.payers {
            payer_problems(id, payer)?;
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint {
            let http = reqwest::Url::parse(endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !http {
                // Not repeated: a collector URL may carry a token in its query.
                return Err(Problem::new(
                    "telemetry.otlp_endpoint",
                    "not an http:// or https:// URL",
                )
                .hint("give the OTLP/HTTP endpoint of a collector, like http://otel-collector:4318")
                .concealed());
            }
        }
        self.console_problems()?;
        self.ledger_problems()?;
        if self.telemetry.service_name.trim().is_empty() {
            return Err(Problem::new("telemetry.service_name", "must not be empty"));
        }
        if self.notifications.max_body_bytes < 1024 {
            return Err(Problem::new(
                "notifications.max_body_bytes",
                "must be at least 1024",
            ));
        }
        if let Some(listen) = self.notifications.listen {
            if listen == self.ops.listen && listen.port() != 0 {
                return Err(Problem::new(
                    "notifications.listen",
                    "the same address as ops.listen; each listener needs its own port",
                ));
            }
        }
        let notifying = self
            .payers
            .iter()
            .find(|(_, p)| p.notification_credential_file.is_some());
        if let (Some((id, _)), Some(wait)) = (
            notifying,
            self.followup
                .pended
                .iter()
                .find(|w| **w > LONGEST_AWAITING_WAIT),
        ) {
            return Err(Problem::new(
                "followup.pended",
                format!(
                    "a wait of {} is longer than {} days, the most a pended request of a notifying payer (payers.{id}) can wait in its awaiting queue",
                    humantime::format_duration(*wait),
                    LONGEST_AWAITING_WAIT.as_secs() / 86_400
                ),
            ));
        }
        Ok(())
    }

    fn amqp_problems(&self, layers: &Layers<'_>) -> Result<(), Problem> {
        let urls = crate::broker_url::broker_urls(&self.amqp.url);
        if urls.is_empty() {
            return Err(Problem::new("amqp.url", "no broker URL given").hint(BROKER_URL_HINT));
        }
        // A broker URL that cannot work would be retried forever: refuse it now.
        for (i, url) in urls.iter().enumerate() {
            if let Some(why) = broker_url_problem(url) {
                let which = if urls.len() > 1 {
                    format!(
                        "broker URL {} of {} ({}): ",
                        i + 1,
                        urls.len(),
                        quoted(&shown("amqp.url", url))
                    )
                } else {
                    String::new()
                };
                return Err(Problem::new("amqp.url", format!("{which}{why}")).hint(BROKER_URL_HINT));
            }
        }
        if self.amqp.prefetch == 0 {
            return Err(Problem::new("amqp.prefetch", "must be at least 1"));
        }
        if self.amqp.max_message_bytes < 1024 {
            return Err(Problem::new(
                "amqp.max_message_bytes",
                "must be at least 1024",
            ));
        }
        if self.amqp.delivery_limit < 2 {
            return Err(Problem::new("amqp.delivery_limit", "must be at least 2"));
        }
        if self.amqp.timeout.is_zero() {
            return Err(
                Problem::new("amqp.timeout", "must be longer than zero").hint(DURATION_HINT)
            );
        }
        self.hold_problem(layers)
    }

    /// Everything that holds a delivery must end well before the broker's consumer timeout. The
    /// sum is of three settings: the problem names the one the operator changed (the largest
    /// share of the changed ones), so an `amqp.timeout` of five minutes is reported as that.
    fn hold_problem(&self, layers: &Layers<'_>) -> Result<(), Problem> {
        // Saturating: a configured wait near Duration::MAX must be refused, not overflow.
        let retries = self.in_process_retry().budget();
        let timeouts = self.amqp.timeout.saturating_mul(4);
        let hold = self
            .amqp
            .publish_hold
            .saturating_add(retries)
            .saturating_add(timeouts);
        if hold < BROKER_CONSUMER_TIMEOUT / 2 {
            return Ok(());
        }
        let shipped = toml::from_str::<Settings>(DEFAULT_CONFIG).ok();
        let parts = [
            (
                "amqp.publish_hold",
                self.amqp.publish_hold,
                shipped
                    .as_ref()
                    .map(|s| s.amqp.publish_hold != self.amqp.publish_hold),
                shipped
                    .as_ref()
                    .map(|s| quoted(&humantime::format_duration(s.amqp.publish_hold).to_string())),
            ),
            (
                "amqp.timeout",
                timeouts,
                shipped
                    .as_ref()
                    .map(|s| s.amqp.timeout != self.amqp.timeout),
                shipped
                    .as_ref()
                    .map(|s| quoted(&humantime::format_duration(s.amqp.timeout).to_string())),
            ),
            (
                "retry.in_process_calls",
                retries,
                shipped
                    .as_ref()
                    .map(|s| s.retry.in_process_calls != self.retry.in_process_calls),
                shipped
                    .as_ref()
                    .map(|s| s.retry.in_process_calls.to_string()),
            ),
        ];
        // Changed from the shipped value (or, failing that, set by the operator), largest first.
        let changed = |i: usize| {
            let (key, _, differs, _) = &parts[i];
            differs.unwrap_or_else(|| layers.is_set(key))
        };
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|i| (!changed(*i), std::cmp::Reverse(parts[*i].1)));
        let blamed: Vec<usize> = order.iter().copied().filter(|i| changed(*i)).collect();
        let primary = order[0];
        let (key, ..) = parts[primary];
        let format = |d: Duration| humantime::format_duration(d).to_string();
        let message = format!(
            "a delivery could be held {} (amqp.publish_hold {} + the in-process payer retries {} + 4 × amqp.timeout {}), over half the broker's 30-minute consumer timeout",
            format(hold),
            format(self.amqp.publish_hold),
            format(retries),
            format(timeouts),
        );
        let lower: Vec<String> = if blamed.is_empty() {
            vec![primary]
        } else {
            blamed
        }
        .into_iter()
        .map(|i| {
            let (key, _, _, default) = &parts[i];
            match default {
                Some(d) => format!("{key} (shipped default {d})"),
                None => (*key).to_owned(),
            }
        })
        .collect();
        Err(Problem::new(key, message).hint(format!("lower {}", lower.join(" or "))))
    }

    fn ledger_problems(&self) -> Result<(), Problem> {
        let l = &self.ledger;
        let scheme = l
            .database_url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
            return Err(Problem::new(
                "ledger.database_url",
                "not a postgres:// or postgresql:// URL",
            )
            .hint(DATABASE_URL_HINT));
        }
        if let Some(p) = name_problem("ledger.queue", &l.queue) {
            return Err(p);
        }
        let t = &self.topology;
        if [&t.work_queue, &t.parking_queue].contains(&&l.queue) {
            return Err(Problem::new(
                "ledger.queue",
                "the same queue as topology.work_queue or topology.parking_queue; the ledger needs a queue of its own",
            ));
        }
        if l.batch_size == 0 || l.batch_size > 10_000 {
            return Err(Problem::new(
                "ledger.batch_size",
                "must be between 1 and 10000",
            ));
        }
        if l.batch_wait.is_zero() || l.batch_wait > Duration::from_secs(10) {
            return Err(Problem::new(
                "ledger.batch_wait",
                "must be longer than zero and at most 10s (events wait this long to be written)",
            )
            .hint(DURATION_HINT));
        }
        if usize::from(l.prefetch) < l.batch_size {
            return Err(Problem::new(
                "ledger.prefetch",
                format!(
                    "smaller than ledger.batch_size ({}): a batch could never fill",
                    l.batch_size
                ),
            ));
        }
        if l.max_connections == 0 || l.max_connections > 100 {
            return Err(Problem::new(
                "ledger.max_connections",
                "must be between 1 and 100",
            ));
        }
        if l.ops_listen == self.ops.listen && l.ops_listen.port() != 0 {
            return Err(Problem::new(
                "ledger.ops_listen",
                "the same address as ops.listen; each listener needs its own port",
            ));
        }
        Ok(())
    }

    fn topology_problems(&self) -> Result<(), Problem> {
        let t = &self.topology;
        for (key, name) in [
            ("topology.cases_exchange", &t.cases_exchange),
            ("topology.work_queue", &t.work_queue),
            ("topology.outcomes_exchange", &t.outcomes_exchange),
            ("topology.parking_queue", &t.parking_queue),
        ] {
            if let Some(p) = name_problem(key, name) {
                return Err(p);
            }
        }
        if t.work_queue == t.parking_queue {
            return Err(Problem::new(
                "topology.parking_queue",
                "the same queue as topology.work_queue; parked messages need a queue of their own",
            ));
        }
        if t.cases_exchange == t.outcomes_exchange {
            return Err(Problem::new(
                "topology.outcomes_exchange",
                "the same exchange as topology.cases_exchange; outcomes would be consumed as cases",
            ));
        }
        Ok(())
    }
}

fn payer_problems(id: &str, payer: &PayerSettings) -> Result<(), Problem> {
    let key = |k: &str| format!("payers.{id}.{k}");
    if payer.adapter == Adapter::FhirPas && payer.base_url.is_none() {
        return Err(
            Problem::new(key("base_url"), "required for adapter \"fhir-pas\"").usual_hint(),
        );
    }
    for (k, url) in [
        ("base_url", &payer.base_url),
        ("token_url", &payer.token_url),
    ] {
        if let Some(p) = url
            .as_deref()
            .and_then(|u| payer_url_problem(id, k, u, payer))
        {
            return Err(p);
        }
    }
    if payer.max_response_bytes < 1024 {
        return Err(Problem::new(
            key("max_response_bytes"),
            "must be at least 1024",
        ));
    }
    if payer.timeout.is_some_and(|t| t.is_zero()) {
        return Err(Problem::new(key("timeout"), "must be longer than zero").hint(DURATION_HINT));
    }
    if payer.concurrency == Some(0) {
        return Err(Problem::new(key("concurrency"), "must be at least 1"));
    }
    if let Some(rate) = payer.rate_per_second {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Problem::new(
                key("rate_per_second"),
                "must be a number above zero (leave it out for no limit)",
            ));
        }
    }
    if payer.simulated.flaky_percent > 100 {
        return Err(Problem::new(
            key("flaky_percent"),
            "a percentage: at most 100",
        ));
    }
    let sources: Vec<&str> = [
        ("client_secret_env", payer.client_secret_env.is_some()),
        ("client_secret_file", payer.client_secret_file.is_some()),
        ("private_key_file", payer.private_key_file.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| k)
    .collect();
    match (&payer.token_url, &payer.client_id) {
        (Some(_), None) => {
            return Err(Problem::new(
                key("token_url"),
                format!("set without payers.{id}.client_id; the token endpoint needs the client id"),
            ))
        }
        (None, Some(_)) => {
            return Err(Problem::new(
                key("client_id"),
                format!("set without payers.{id}.token_url; requests would be sent without a token"),
            ))
        }
        (Some(_), Some(_)) if sources.is_empty() => {
            return Err(Problem::new(
                key("client_id"),
                "has no credential",
            )
            .hint(format!(
                "set one of payers.{id}.client_secret_env (the name of a variable holding the secret), payers.{id}.client_secret_file or payers.{id}.private_key_file"
            )))
        }
        _ => {}
    }
    if sources.len() > 1 {
        return Err(Problem::new(
            key(sources[1]),
            format!(
                "set together with payers.{id}.{}; give one credential",
                sources[0]
            ),
        ));
    }
    if let Some(var) = &payer.client_secret_env {
        if !is_variable_name(var) {
            // Most likely the secret itself, written where its variable's name belongs.
            return Err(Problem::new(
                key("client_secret_env"),
                "not the name of an environment variable (letters, digits and _)",
            )
            .hint("write the name of the variable that holds the secret, such as \"ACME_CLIENT_SECRET\", never the secret")
            .concealed());
        }
    }
    if let Some(sub) = &payer.subscription {
        if payer.adapter != Adapter::FhirPas || payer.notification_credential_file.is_none() {
            return Err(Problem::new(
                key("subscription"),
                "needs adapter \"fhir-pas\" and notification_credential_file (the credential the payer presents with each notification)",
            ));
        }
        if let Some((k, why)) = crate::payer::pas::subscription::settings_problem(
            sub,
            payer.allow_insecure_http,
            LONGEST_AWAITING_WAIT,
        ) {
            return Err(Problem::new(key(&format!("subscription.{k}")), why));
        }
    }
    Ok(())
}

/// An environment variable name as shells write them: a letter or `_`, then letters, digits and
/// `_`.
pub(crate) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
