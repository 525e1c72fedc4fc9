//! `preauth-worker watch`: outcome events as they arrive, from a temporary queue of its own (the
//! broker names it; exclusive, deleted when the command ends) bound to the outcomes exchange.
//! It takes nothing from anyone else's queue.

use std::future::Future;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use serde_json::Value;

use super::{bounded, client, AmqpError};
use crate::config::Settings;

/// The binding that receives every outcome event.
pub const EVERY_OUTCOME: &str = "outcome.#";

/// What to watch and how to show it.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Binding keys on the outcomes exchange.
    pub keys: Vec<String>,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// Print each body (one JSON line) instead of a summary line.
    pub json: bool,
}

/// One message received, as a line for a person: status, case id, outcome id, routing key; or,
/// with `json`, its body on one line. `None` for a body that is not JSON when `json` is asked.
pub fn line(body: &[u8], routing_key: &str, json: bool) -> Option<String> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if json {
        // As published when it is one line already (JSON that parsed is UTF-8).
        return parsed.map(|v| match std::str::from_utf8(body) {
            Ok(text) if !text.contains(['\n', '\r']) => text.trim().to_owned(),
            _ => v.to_string(),
        });
    }
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(shown)
            .unwrap_or_else(|| "-".to_owned())
    };
    // A progress event (`--key 'progress.#'`) has a step and a progress id instead.
    let progress = parsed.as_ref().is_some_and(|v| v.get("step").is_some());
    Some(if progress {
        format!(
            "{:<13}  case {}  progress {}  {}",
            field("step"),
            field("case_id"),
            field("progress_id"),
            shown(routing_key)
        )
    } else {
        format!(
            "{:<13}  case {}  outcome {}  {}",
            field("status"),
            field("case_id"),
            field("outcome_id"),
            shown(routing_key)
        )
    })
}

/// A value fit for one terminal line: no control characters, at most 128 characters.
fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(128).collect()
}

/// Watches until `stop` completes or `count` messages arrived; `ready` is called once the
/// temporary queue is bound (with a line saying what is watched), `print` with each line (it
/// returns false when the output is gone, which ends the watch). Returns how many messages
/// arrived.
pub async fn watch(
    settings: &Settings,
    options: &WatchOptions,
    ready: impl FnOnce(String),
    mut print: impl FnMut(String) -> bool,
    stop: impl Future<Output = ()>,
) -> Result<u64, AmqpError> {
    let t = settings.amqp.timeout;
    let exchange = settings.topology.outcomes_exchange.as_str();
    let (conn, channel) = client::open(settings, "preauth-worker watch").await?;
    client::expect_exchange(&conn, settings, exchange, "topology.outcomes_exchange").await?;
    let queue = bounded(
        "declaring a temporary queue",
        t,
        channel.queue_declare(
            ShortString::from(""),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    )
    .await?;
    let name = queue.name().as_str().to_owned();
    for key in &options.keys {
        bounded(
            format!("binding a temporary queue to {exchange} with {key}"),
            t,
            channel.queue_bind(
                ShortString::from(name.as_str()),
                ShortString::from(exchange),
                ShortString::from(key.as_str()),
                QueueBindOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
    }
    let mut consumer = bounded(
        "consuming from the temporary queue",
        t,
        channel.basic_consume(
            ShortString::from(name.as_str()),
            ShortString::from("preauth-worker-watch"),
            BasicConsumeOptions {
                no_ack: true,
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    )
    .await?;
    ready(format!(
        "watching {exchange} ({}) until Ctrl-C{}",
        options.keys.join(", "),
        match options.count {
            Some(n) => format!(" or {n} message(s)"),
            None => String::new(),
        }
    ));
    let mut seen = 0u64;
    tokio::pin!(stop);
    let end = loop {
        if options.count.is_some_and(|n| seen >= n) {
            break Ok(seen);
        }
        tokio::select! {
            _ = &mut stop => break Ok(seen),
            next = consumer.next() => match next {
                Some(Ok(d)) => {
                    seen += 1;
                    match line(&d.data, d.routing_key.as_str(), options.json) {
                        Some(l) => {
                            if !print(l) {
                                break Ok(seen);
                            }
                        }
                        None => tracing::warn!(
                            bytes = d.data.len(),
                            routing_key = %shown(d.routing_key.as_str()),
                            "A message that is not JSON; not printed."
                        ),
                    }
                }
                Some(Err(source)) => break Err(AmqpError::Broker { what: "watching".into(), source }),
                None => break Err(AmqpError::Lost("the broker closed the watching connection".into())),
            },
        }
    };
    client::close(conn, settings).await;
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_event_is_one_line_of_step_case_progress_id_and_routing_key() {
        let body = br#"{"schema":"preauth.progress.v1","progress_id":"p-1","case_id":"C-1","event_id":"E-1","step":"submitted"}"#;
        let l = line(body, "progress.submitted", false).unwrap_or_default();
        assert!(l.starts_with("submitted"), "{l}");
        assert!(
            l.contains("case C-1  progress p-1  progress.submitted"),
            "{l}"
        );
    }

    #[test]
    fn an_outcome_is_one_line_of_status_case_outcome_and_routing_key() {
        let body =
            br#"{"status": "approved", "case_id": "C-1", "outcome_id": "o-1", "reasons": []}"#;
        assert_eq!(
            line(body, "outcome.approved", false).as_deref(),
            Some("approved       case C-1  outcome o-1  outcome.approved")
        );
        assert_eq!(
            line(body, "outcome.approved", true).as_deref(),
            std::str::from_utf8(body).ok()
        );
        assert_eq!(
            line(b"{\n\"status\": \"x\"\n}", "outcome.x", true).as_deref(),
            Some(r#"{"status":"x"}"#)
        );
    }

    #[test]
    fn a_body_that_is_not_an_outcome_prints_dashes_and_no_control_characters() {
        assert_eq!(
            line(b"not json", "outcome.x\u{1b}[2J", false).as_deref(),
            Some("-              case -  outcome -  outcome.x[2J")
        );
        assert_eq!(line(b"not json", "outcome.x", true), None);
    }
}
