//! Configuration errors for people: each names the key as the operator writes it, the value it
//! has (secrets masked), where that value came from (the file, a `PREAUTH__` variable, the shipped
//! defaults) and, where one helps, what to write instead. Also the masking `config show` uses.

use std::path::Path;

use figment::error::{Actual, Kind};
use figment::value::Value;
use figment::Figment;

use crate::broker_url::redact_url;

/// One problem with one setting, before it is told with the setting's value and origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The key as the operator writes it (`amqp.timeout`, `payers.acme.base_url`,
    /// `retry.delays[1]`).
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
    /// The value is not shown (it may be a secret written where a name belongs).
    pub conceal: bool,
}

impl Problem {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            hint: None,
            conceal: false,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The hint for the key's kind of value ([`hint_for`]), if it has one.
    pub(crate) fn usual_hint(mut self) -> Self {
        self.hint = hint_for(&self.key).map(str::to_owned);
        self
    }

    /// Leaves the value out of the message.
    pub(crate) fn concealed(mut self) -> Self {
        self.conceal = true;
        self
    }
}

/// What a value that holds a secret is shown as.
pub const MASK: &str = "***";

/// Whether a key's value is a secret by its name: the last segment ends in `secret`,
/// `password`, `token` or `key`.
pub fn is_secret_key(key: &str) -> bool {
    let last = key
        .rsplit('.')
        .next()
        .unwrap_or(key)
        .split('[')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    ["secret", "password", "token", "key"]
        .iter()
        .any(|s| last.ends_with(s))
}

/// A string setting as it may be shown: masked whole when its key names a secret, with the
/// password masked when it is (or looks like) a URL.
pub fn shown(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        MASK.to_owned()
    } else if value.contains("://") || value.contains('@') || key.ends_with("url") {
        redact_url(value)
    } else {
        value.to_owned()
    }
}

/// A string written as TOML writes it (quoted, escaped).
pub fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Masks every secret in a settings tree (`config show`): values of keys that name a secret,
/// passwords in URLs.
pub(super) fn mask_tree(key: &str, value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                let child = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                mask_tree(&child, v);
            }
        }
        toml::Value::Array(items) => {
            for item in items {
                mask_tree(key, item);
            }
        }
        toml::Value::String(s) => *s = shown(key, s),
        other if is_secret_key(key) => *other = toml::Value::String(MASK.to_owned()),
        _ => {}
    }
}

/// The layers a configuration was merged from, to tell where a value came from.
pub(crate) struct Layers<'a> {
    pub figment: &'a Figment,
    /// The `--config` file, when one was given.
    pub file: Option<&'a Path>,
}

impl Layers<'_> {
    /// The problem, told with its key, value and origin: `ops.listen = "localhost:9464" (in
    /// worker.toml): not an IP address and port; write …`.
    pub(crate) fn tell(&self, problem: &Problem) -> String {
        let mut out = if problem.conceal {
            format!("{} (its value is not shown)", problem.key)
        } else {
            self.describe(&problem.key)
        };
        out.push_str(": ");
        out.push_str(&problem.message);
        if let Some(hint) = &problem.hint {
            out.push_str("; ");
            out.push_str(hint);
        }
        out
    }

    /// `key = value (origin)`, or the key alone when it has no value to show.
    pub(crate) fn describe(&self, key: &str) -> String {
        let path = key.split('[').next().unwrap_or(key);
        let Ok(mut value) = self.figment.find_value(path) else {
            return key.to_owned();
        };
        let index = key
            .split_once('[')
            .and_then(|(_, i)| i.trim_end_matches(']').parse::<usize>().ok());
        if let (Some(i), Value::Array(_, items)) = (index, &value) {
            if let Some(item) = items.get(i) {
                value = item.clone();
            }
        }
        let mut out = key.to_owned();
        if let Some(text) = render(path, &value) {
            out.push_str(" = ");
            out.push_str(&text);
        }
        if let Some(mut origin) = self.origin(path) {
            // A table is set by the variables under its name.
            if matches!(value, Value::Dict(..)) && origin.starts_with("from PREAUTH__") {
                origin.push_str("__*");
            }
            out.push_str(" (");
            out.push_str(&origin);
            out.push(')');
        }
        out
    }

    /// Where the value of `key` came from.
    pub(crate) fn origin(&self, key: &str) -> Option<String> {
        let meta = self.figment.find_metadata(key)?;
        let name = meta.name.as_ref();
        Some(if name.contains("environment") {
            format!("from {}", env_var(key))
        } else if name.starts_with("TOML source") {
            match self.file {
                Some(file) => format!("in {}", file.display()),
                None => "in the configuration file".to_owned(),
            }
        } else if name.contains("Map") || name.contains("Table") {
            "the shipped default".to_owned()
        } else {
            format!("from {name}")
        })
    }

    /// Whether `key` was set by the operator (a file or a variable), not left at its default.
    pub(crate) fn is_set(&self, key: &str) -> bool {
        self.origin(key).is_some_and(|o| o != "the shipped default")
    }

    /// One figment error, told like a [`Problem`].
    pub(crate) fn tell_figment(&self, e: &figment::Error) -> String {
        // An element of a list is written `retry.delays[1]`.
        let mut key = String::new();
        for segment in &e.path {
            if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
                key.push_str(&format!("[{segment}]"));
            } else {
                key = join(&key, segment);
            }
        }
        let message = match &e.kind {
            Kind::UnknownField(field, known) => {
                if e.path.last() != Some(field) {
                    key = join(&key, field);
                }
                unknown_key(&key, known)
            }
            // A payer's table is read through a flattened one, whose refusal is a message.
            Kind::Message(m) if m.starts_with("unknown field `") => {
                let field = m
                    .trim_start_matches("unknown field `")
                    .split('`')
                    .next()
                    .unwrap_or_default();
                key = join(&key, field);
                unknown_key(
                    &key,
                    if key.starts_with("payers.") {
                        super::PAYER_KEYS
                    } else {
                        &[]
                    },
                )
            }
            Kind::MissingField(field) => {
                key = join(&key, field);
                return format!("{key}: missing{}", hint_suffix(&key));
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                key = self.flattened_key(&key, actual);
                format!("not {}", expected_text(expected))
            }
            Kind::UnknownVariant(_, known) => format!("not one of {}", quoted_list(known)),
            Kind::Message(m) if m == "invalid socket address syntax" => {
                "not an IP address and port".to_owned()
            }
            Kind::Message(m) if m == "invalid IP address syntax" => "not an IP address".to_owned(),
            other => other.to_string(),
        };
        self.tell(&Problem::new(key, message).usual_hint())
    }

    /// A setting read through a flattened table (a simulated payer's `latency`, …) fails at the
    /// table's path: find the member whose value is the one refused.
    fn flattened_key(&self, key: &str, actual: &Actual) -> String {
        let Ok(Value::Dict(_, dict)) = self.figment.find_value(key) else {
            return key.to_owned();
        };
        let matching: Vec<&String> = dict
            .iter()
            .filter(|(_, v)| same_actual(&v.to_actual(), actual))
            .map(|(k, _)| k)
            .collect();
        match matching.as_slice() {
            [one] => join(key, one),
            _ => key.to_owned(),
        }
    }
}

/// An unknown key, with the nearest known one and the keys of its table.
fn unknown_key(key: &str, known: &[&str]) -> String {
    let (parent, field) = key.rsplit_once('.').unwrap_or(("", key));
    // A slip of a letter or two, or the start of a longer key (`client_secret`).
    let near = known
        .iter()
        .min_by_key(|k| strsim::levenshtein(k, field))
        .filter(|k| strsim::levenshtein(k, field) <= 2)
        .or_else(|| {
            known
                .iter()
                .find(|k| field.len() >= 4 && k.starts_with(field))
        })
        .map(|k| format!(" (did you mean {}?)", join(parent, k)))
        .unwrap_or_default();
    if known.is_empty() {
        format!("not a known key{near}")
    } else {
        format!(
            "not a known key{near}; the keys here are {}",
            known.join(", ")
        )
    }
}

fn same_actual(a: &Actual, b: &Actual) -> bool {
    match (a, b) {
        (Actual::Str(x), Actual::Str(y)) => x == y,
        (Actual::Bool(x), Actual::Bool(y)) => x == y,
        (Actual::Unsigned(x), Actual::Unsigned(y)) => x == y,
        (Actual::Signed(x), Actual::Signed(y)) => x == y,
        (Actual::Unsigned(x), Actual::Signed(y)) | (Actual::Signed(y), Actual::Unsigned(x)) => {
            i128::try_from(*x).is_ok_and(|x| x == *y)
        }
        (Actual::Float(x), Actual::Float(y)) => x == y,
        _ => false,
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The environment variable that sets `key`: `PREAUTH__OPS__LISTEN` for `ops.listen`.
pub fn env_var(key: &str) -> String {
    let parts: Vec<String> = key.split('.').map(str::to_ascii_uppercase).collect();
    format!("{}{}", super::ENV_PREFIX, parts.join("__"))
}

/// A value as the operator would write it in TOML, secrets masked; `None` for a table.
fn render(key: &str, value: &Value) -> Option<String> {
    Some(match value {
        Value::String(_, s) => quoted(&shown(key, s)),
        Value::Char(_, c) => quoted(&shown(key, &c.to_string())),
        _ if is_secret_key(key) => MASK.to_owned(),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => match n.to_actual() {
            Actual::Unsigned(n) => n.to_string(),
            Actual::Signed(n) => n.to_string(),
            Actual::Float(n) => n.to_string(),
            other => other.to_string(),
        },
        Value::Empty(..) => "nothing".to_owned(),
        Value::Array(_, items) => {
            let items: Vec<String> = items.iter().filter_map(|v| render(key, v)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Dict(..) => return None,
    })
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// What serde expected, in words.
fn expected_text(expected: &str) -> String {
    let whole = |max: u64| format!("a whole number from 0 to {max}");
    match expected {
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" | "bool" => "true or false".to_owned(),
        "a string" | "string" => "a string".to_owned(),
        "a sequence" => "a list".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "a table".to_owned(),
        e => e.to_owned(),
    }
}

fn hint_suffix(key: &str) -> String {
    hint_for(key).map(|h| format!("; {h}")).unwrap_or_default()
}

/// How to write a duration.
pub(crate) const DURATION_HINT: &str =
    "write a duration such as \"500ms\", \"15s\", \"5m\", \"2h\" or \"1d\"";

/// How to write `log.level` (and `RUST_LOG`).
pub(crate) const LEVEL_HINT: &str = "write trace, debug, info, warn or error, or a filter of target=level directives such as \"info,lapin=warn\"";

/// How to write a broker URL.
pub(crate) const BROKER_URL_HINT: &str = "write it like amqp://USER:PASSWORD@HOST:5672/VHOST, or amqps://…:5671/… for TLS (the schemes accepted are amqp and amqps; %2f is the virtual host \"/\")";

/// How to write the ledger's database URL.
pub(crate) const DATABASE_URL_HINT: &str = "write it like postgres://USER:PASSWORD@HOST:5432/DATABASE (the schemes accepted are postgres and postgresql)";

/// The hint for a key, by what kind of value it takes.
pub(crate) fn hint_for(key: &str) -> Option<&'static str> {
    let path = key.split('[').next().unwrap_or(key);
    let (section, last) = path.rsplit_once('.').unwrap_or(("", path));
    let payer = section.starts_with("payers.");
    Some(match (section, last) {
        ("ops", "listen") => {
            "write an IP address and port such as 127.0.0.1:9464 or [::]:9464 (not a host name)"
        }
        ("console", "listen") => {
            "write an IP address and port such as 127.0.0.1:9480 or [::]:9480 (not a host name)"
        }
        ("console", "session_ttl") => DURATION_HINT,
        ("notifications", "listen") => {
            "write an IP address and port such as 127.0.0.1:9465 or [::]:9465 (not a host name)"
        }
        ("amqp", "timeout" | "publish_hold" | "shutdown_grace") => DURATION_HINT,
        (_, "timeout" | "latency" | "retry_after") if payer => DURATION_HINT,
        ("retry", "delays") | ("followup", "pended") if key.contains('[') => DURATION_HINT,
        ("retry", "delays") | ("followup", "pended") => {
            "write a list of durations such as [\"5s\", \"30s\", \"5m\"]"
        }
        ("amqp", "url") => BROKER_URL_HINT,
        ("ledger", "database_url") => DATABASE_URL_HINT,
        ("ledger", "batch_wait") => DURATION_HINT,
        ("ledger", "ops_listen") => {
            "write an IP address and port such as 127.0.0.1:9467 or [::]:9467 (not a host name)"
        }
        ("log", "level") => LEVEL_HINT,
        (_, "base_url") if payer => "write an https:// URL such as https://payer.example/fhir",
        (_, "token_url") if payer => {
            "write an https:// URL such as https://payer.example/oauth/token"
        }
        (_, "adapter") if payer => "write \"simulated\" or \"fhir-pas\"",
        _ => return None,
    })
}
