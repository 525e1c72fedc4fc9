//! The broker topology: exchanges, the quorum work and parking queues, and the delay tiers (one
//! queue per wait, TTL on the queue, dead-lettering back to the work queue). Declared at start,
//! idempotently; printable, and exportable as a RabbitMQ definitions file.

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use serde_json::{json, Value};

use super::{bounded, AmqpError};
use crate::config::Settings;

/// A queue argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Str(String),
    Int(i64),
}

/// A queue and its arguments.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    pub name: String,
    pub args: Vec<(&'static str, Arg)>,
    pub purpose: String,
}

impl QueueSpec {
    fn field_table(&self) -> FieldTable {
        let mut t = FieldTable::default();
        for (k, v) in &self.args {
            let v = match v {
                Arg::Str(s) => AMQPValue::LongString(LongString::from(s.as_str())),
                Arg::Int(i) => AMQPValue::LongLongInt(*i),
            };
            t.insert(ShortString::from(*k), v);
        }
        t
    }

    fn json_args(&self) -> Value {
        let map: serde_json::Map<String, Value> = self
            .args
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Arg::Str(s) => json!(s),
                    Arg::Int(i) => json!(i),
                };
                ((*k).to_owned(), v)
            })
            .collect();
        Value::Object(map)
    }
}

/// Every name the worker uses on the broker.
#[derive(Debug, Clone)]
pub struct Topology {
    pub cases_exchange: String,
    pub work_queue: String,
    pub outcomes_exchange: String,
    pub parking_queue: String,
    /// Delay tier queue per wait.
    pub tiers: BTreeMap<Duration, String>,
    /// The broker's own delivery limit on the work queue (the last resort against loops).
    pub broker_delivery_limit: u32,
    /// The ledger process's queue (`ledger.queue`), bound to the outcomes exchange; declared by
    /// `ledger run`, not by the worker.
    pub ledger_queue: String,
}

/// The binding keys of the ledger's queue on the outcomes exchange.
pub const LEDGER_BINDINGS: [&str; 2] = ["outcome.#", "progress.#"];

pub use crate::config::{AWAITING_QUEUE_EXPIRES, LONGEST_AWAITING_WAIT};

pub(crate) use crate::retry::tier_label;

impl Topology {
    pub fn from_settings(s: &Settings) -> Self {
        let t = &s.topology;
        let tiers = s
            .retry
            .delays
            .iter()
            .chain(s.followup.pended.iter())
            .map(|d| (*d, format!("{}.delay.{}", t.work_queue, tier_label(*d))))
            .collect();
        Self {
            cases_exchange: t.cases_exchange.clone(),
            work_queue: t.work_queue.clone(),
            outcomes_exchange: t.outcomes_exchange.clone(),
            parking_queue: t.parking_queue.clone(),
            tiers,
            broker_delivery_limit: s.amqp.delivery_limit + 5,
            ledger_queue: s.ledger.queue.clone(),
        }
    }

    /// The queue where the pended copy of one request waits for its follow-up, when its payer
    /// sends notifications: `<work queue>.awaiting.<request identifier>`. The copy carries its
    /// wait as a per-message TTL and is dead-lettered to the work queue when it expires, like a
    /// delay tier; a verified notification takes it out sooner. One quorum queue per pended
    /// request of a notifying payer, deleted by the broker [`AWAITING_QUEUE_EXPIRES`] after its
    /// last use. `None` for an identifier that is not the worker's (a UUID).
    pub(crate) fn awaiting_queue(&self, request_identifier: &str) -> Option<QueueSpec> {
        let ours = request_identifier.len() == 36
            && request_identifier
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-');
        ours.then(|| QueueSpec {
            name: format!("{}.awaiting.{request_identifier}", self.work_queue),
            args: self.waiting_queue_args((
                "x-expires",
                Arg::Int(i64::try_from(AWAITING_QUEUE_EXPIRES.as_millis()).unwrap_or(i64::MAX)),
            )),
            purpose: format!(
                "a pended request's follow-up: back to {} when its wait ends or a notification comes",
                self.work_queue
            ),
        })
    }

    /// A queue where a case waits and then goes back to the work queue: quorum, the one argument
    /// that says how long (`x-message-ttl` for a delay tier, `x-expires` for an awaiting queue
    /// whose messages carry their own TTL), dead-lettered at least once to the work queue.
    fn waiting_queue_args(&self, how_long: (&'static str, Arg)) -> Vec<(&'static str, Arg)> {
        vec![
            ("x-queue-type", Arg::Str("quorum".into())),
            how_long,
            ("x-dead-letter-exchange", Arg::Str(String::new())),
            (
                "x-dead-letter-routing-key",
                Arg::Str(self.work_queue.clone()),
            ),
            ("x-dead-letter-strategy", Arg::Str("at-least-once".into())),
            ("x-overflow", Arg::Str("reject-publish".into())),
        ]
    }

    /// Declares one queue, idempotently.
    pub(crate) async fn declare_queue(
        channel: &Channel,
        q: &QueueSpec,
        timeout: Duration,
    ) -> Result<(), AmqpError> {
        bounded(
            format!("declaring queue {}", q.name),
            timeout,
            channel.queue_declare(
                ShortString::from(q.name.as_str()),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                q.field_table(),
            ),
        )
        .await?;
        Ok(())
    }

    /// The queue that holds messages for `wait`.
    pub(crate) fn tier_queue(&self, wait: Duration) -> Option<&str> {
        self.tiers.get(&wait).map(String::as_str)
    }

    pub fn queues(&self) -> Vec<QueueSpec> {
        let quorum = || ("x-queue-type", Arg::Str("quorum".into()));
        let mut out = vec![
            QueueSpec {
                name: self.work_queue.clone(),
                args: vec![
                    quorum(),
                    (
                        "x-delivery-limit",
                        Arg::Int(i64::from(self.broker_delivery_limit)),
                    ),
                    ("x-dead-letter-exchange", Arg::Str(String::new())),
                    (
                        "x-dead-letter-routing-key",
                        Arg::Str(self.parking_queue.clone()),
                    ),
                    ("x-dead-letter-strategy", Arg::Str("at-least-once".into())),
                    ("x-overflow", Arg::Str("reject-publish".into())),
                ],
                purpose: format!("work queue, bound to {} with case.*", self.cases_exchange),
            },
            QueueSpec {
                name: self.parking_queue.clone(),
                args: vec![quorum()],
                purpose: "parking queue: unanswerable messages and cases given up on".into(),
            },
        ];
        for (wait, name) in &self.tiers {
            out.push(QueueSpec {
                name: name.clone(),
                args: self.waiting_queue_args((
                    "x-message-ttl",
                    Arg::Int(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                )),
                purpose: format!(
                    "delay tier: back to {} after {}",
                    self.work_queue,
                    tier_label(*wait)
                ),
            });
        }
        out
    }

    /// `<ledger.queue>.dead`: the ledger's dead letters.
    pub fn ledger_dead_letter_queue(&self) -> String {
        format!("{}.dead", self.ledger_queue)
    }

    /// The ledger's queue and its dead-letter queue, as `ledger run` declares them (and the
    /// definitions document lists them, so that an import and the ledger agree).
    pub fn ledger_queues(&self) -> [QueueSpec; 2] {
        let dead = self.ledger_dead_letter_queue();
        [
            QueueSpec {
                name: dead.clone(),
                args: vec![("x-queue-type", Arg::Str("quorum".into()))],
                purpose:
                    "the ledger's dead letters: messages that are neither outcome nor progress event"
                        .into(),
            },
            QueueSpec {
                name: self.ledger_queue.clone(),
                args: vec![
                    ("x-queue-type", Arg::Str("quorum".into())),
                    ("x-dead-letter-exchange", Arg::Str(String::new())),
                    ("x-dead-letter-routing-key", Arg::Str(dead)),
                    ("x-dead-letter-strategy", Arg::Str("at-least-once".into())),
                    ("x-overflow", Arg::Str("reject-publish".into())),
                ],
                purpose: format!(
                    "the ledger's queue, bound to {} with outcome.# and progress.#",
                    self.outcomes_exchange
                ),
            },
        ]
    }

    /// Declares everything, idempotently. An existing queue with other arguments is an error
    /// that names the queue and the argument.
    pub async fn declare(&self, channel: &Channel, timeout: Duration) -> Result<(), AmqpError> {
        for exchange in [&self.cases_exchange, &self.outcomes_exchange] {
            bounded(
                format!("declaring exchange {exchange}"),
                timeout,
                channel.exchange_declare(
                    ShortString::from(exchange.as_str()),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                ),
            )
            .await?;
        }
        for q in self.queues() {
            Self::declare_queue(channel, &q, timeout).await?;
        }
        bounded(
            format!("binding {} to {}", self.work_queue, self.cases_exchange),
            timeout,
            channel.queue_bind(
                ShortString::from(self.work_queue.as_str()),
                ShortString::from(self.cases_exchange.as_str()),
                ShortString::from("case.*"),
                QueueBindOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        Ok(())
    }

    /// What `declare` would do, for a person.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "exchange {:<40} topic, durable (case events: case.submitted, case.appeal)\n",
            self.cases_exchange
        ));
        s.push_str(&format!(
            "exchange {:<40} topic, durable (outcome events: outcome.<status>)\n",
            self.outcomes_exchange
        ));
        for q in self.queues() {
            let args: Vec<String> = q
                .args
                .iter()
                .map(|(k, v)| match v {
                    Arg::Str(v) => format!("{k}={v:?}"),
                    Arg::Int(v) => format!("{k}={v}"),
                })
                .collect();
            s.push_str(&format!(
                "queue    {:<40} {}\n         {:<40} {}\n",
                q.name,
                q.purpose,
                "",
                args.join(" ")
            ));
        }
        s.push_str(&format!(
            "binding  {} -> {} (case.*)\n",
            self.cases_exchange, self.work_queue
        ));
        for q in self.ledger_queues() {
            s.push_str(&format!(
                "queue    {:<40} declared by `ledger run`: {}\n",
                q.name, q.purpose
            ));
        }
        s.push_str(&format!(
            "queues   {}.awaiting.<request id>  declared as requests of notifying payers are pended (quorum, x-expires {} days, dead-letter to {})\n",
            self.work_queue,
            AWAITING_QUEUE_EXPIRES.as_secs() / 86_400,
            self.work_queue
        ));
        s
    }

    /// A RabbitMQ definitions document (`rabbitmqctl import_definitions`) for `vhost`.
    pub fn definitions(&self, vhost: &str) -> Value {
        let exchanges: Vec<Value> = [&self.cases_exchange, &self.outcomes_exchange]
            .iter()
            .map(|name| json!({"name": name, "vhost": vhost, "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}))
            .collect();
        let queues: Vec<Value> = self
            .queues()
            .iter()
            .chain(self.ledger_queues().iter())
            .map(|q| json!({"name": q.name, "vhost": vhost, "durable": true, "auto_delete": false, "arguments": q.json_args()}))
            .collect();
        let binding = |source: &str, destination: &str, key: &str| {
            json!({
                "source": source, "vhost": vhost, "destination": destination,
                "destination_type": "queue", "routing_key": key, "arguments": {}
            })
        };
        let mut bindings = vec![binding(&self.cases_exchange, &self.work_queue, "case.*")];
        for key in LEDGER_BINDINGS {
            bindings.push(binding(&self.outcomes_exchange, &self.ledger_queue, key));
        }
        json!({
            "exchanges": exchanges,
            "queues": queues,
            "bindings": bindings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::load_without_env(None).expect("defaults")
    }

    #[test]
    fn tier_labels_are_short_and_stable() {
        assert_eq!(tier_label(Duration::from_millis(500)), "500ms");
        assert_eq!(tier_label(Duration::from_secs(5)), "5s");
        assert_eq!(tier_label(Duration::from_secs(90)), "90s");
        assert_eq!(tier_label(Duration::from_secs(1800)), "30m");
        assert_eq!(tier_label(Duration::from_secs(7200)), "2h");
        assert_eq!(tier_label(Duration::from_secs(86_400)), "1d");
    }

    #[test]
    fn an_awaiting_queue_is_named_only_for_the_workers_own_request_identifiers() {
        let t = Topology::from_settings(&settings());
        let id = "0b6a1c9e-2f4d-5a3b-8c7d-1e2f3a4b5c6d";
        let q = t.awaiting_queue(id).expect("a uuid");
        assert_eq!(q.name, format!("preauth.cases.work.awaiting.{id}"));
        assert!(q.args.iter().any(|(k, v)| *k == "x-dead-letter-routing-key"
            && matches!(v, Arg::Str(s) if s == "preauth.cases.work")));
        for bad in [
            "",
            "../preauth.cases.dead",
            &"a".repeat(300),
            "0b6a1c9e-2f4d-5a3b-8c7d-1e2f3a4b5c6d.x",
        ] {
            assert!(t.awaiting_queue(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn one_delay_tier_per_distinct_wait_of_both_schedules() {
        let t = Topology::from_settings(&settings());
        // retry: 5s 30s 5m 30m 2h; followup: 5s 1m 15m 1h 4h 12h 24h (×3).
        let labels: Vec<&str> = t
            .tiers
            .values()
            .map(|n| n.rsplit('.').next().unwrap_or_default())
            .collect();
        assert_eq!(
            labels,
            ["5s", "30s", "1m", "5m", "15m", "30m", "1h", "2h", "4h", "12h", "1d"]
        );
        assert_eq!(
            t.tier_queue(Duration::from_secs(300)),
            Some("preauth.cases.work.delay.5m")
        );
    }

    #[test]
    fn tiers_dead_letter_back_to_the_work_queue_and_the_work_queue_to_the_parking_queue() {
        let t = Topology::from_settings(&settings());
        let queues = t.queues();
        let arg =
            |q: &QueueSpec, k: &str| q.args.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let work = &queues[0];
        assert_eq!(arg(work, "x-queue-type"), Some(Arg::Str("quorum".into())));
        assert_eq!(
            arg(work, "x-dead-letter-routing-key"),
            Some(Arg::Str("preauth.cases.dead".into()))
        );
        assert!(matches!(arg(work, "x-delivery-limit"), Some(Arg::Int(n)) if n > 1));
        for tier in &queues[2..] {
            assert_eq!(
                arg(tier, "x-dead-letter-routing-key"),
                Some(Arg::Str("preauth.cases.work".into()))
            );
            assert!(matches!(arg(tier, "x-message-ttl"), Some(Arg::Int(ms)) if ms >= 1000));
        }
    }

    #[test]
    fn definitions_list_every_queue_exchange_and_binding() {
        let t = Topology::from_settings(&settings());
        let d = t.definitions("/");
        assert_eq!(d["exchanges"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            d["queues"].as_array().map(Vec::len),
            Some(2 + t.tiers.len() + 2)
        );
        assert_eq!(d["bindings"][0]["routing_key"], "case.*");
        let ledger: Vec<&Value> = d["bindings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["destination"] == "preauth.ledger")
            .collect();
        assert_eq!(ledger.len(), 2);
        for (b, key) in ledger.iter().zip(LEDGER_BINDINGS) {
            assert_eq!(b["source"], t.outcomes_exchange.as_str());
            assert_eq!(b["routing_key"], key);
        }
        let names: Vec<&Value> = d["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| &q["name"])
            .collect();
        assert!(names.contains(&&json!("preauth.ledger.dead")));
    }
}
