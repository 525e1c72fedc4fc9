//! The metrics catalogue: every metric the worker exports, its labels and what they can hold.
//! At start [`register`] writes every series the configuration allows at zero, from the same
//! enumerations the counting code takes its label values from, so that the first event of a
//! kind is an increase (`increase(x[5m]) > 0` fires on it) and never a new series.
//! `README.md`'s metrics reference is [`markdown_table`], verbatim.

use std::collections::BTreeSet;

use crate::amqp::publisher::ConfirmResult;
use crate::amqp::topology::{tier_label, Topology};
use crate::amqp::worker::{DelayKind, Forwarded, AWAITING_TIER, NO_PAYER};
use crate::case::registry::RULES;
use crate::case::{Severity, Status, WorkerReason};
use crate::config::Settings;
use crate::notify::{NotifyResult, UNKNOWN_PAYER};
use crate::payer::attachments::DocumentsResult;
use crate::payer::pas::subscription::SubscriptionState;
use crate::pipeline::{reason_labels, CallResult, ParkReason, PayerDirectory, OTHER_REASON};

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// What a label can hold: a closed set of values (listed from the enumeration the counting
/// code uses), or values that come from the configuration, described.
#[derive(Clone, Copy)]
pub enum Values {
    Closed(fn() -> Vec<&'static str>),
    Configured(&'static str),
    /// Described by a function (lists that are long, or come from several places).
    Listed(fn() -> String),
}

/// One label of a metric.
#[derive(Clone, Copy)]
pub struct Label {
    pub name: &'static str,
    pub values: Values,
}

/// One metric of the catalogue.
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [Label],
    pub help: &'static str,
}

const fn closed(name: &'static str, values: fn() -> Vec<&'static str>) -> Label {
    Label {
        name,
        values: Values::Closed(values),
    }
}

const fn configured(name: &'static str, what: &'static str) -> Label {
    Label {
        name,
        values: Values::Configured(what),
    }
}

const PAYER: Label = configured(
    "payer",
    "a configured payer id (`default` for the fallback payer)",
);
const OUTCOME_PAYER: Label = configured(
    "payer",
    "a configured payer id (`default` for the fallback payer), or `none` when the case reached no payer (it did not decode, or names no configured payer)",
);
const STATUS: Label = closed("status", || {
    Status::ALL.iter().map(|s| s.as_str()).collect()
});

/// Every metric the worker exports itself (the operator's reference).
pub const METRICS: &[Metric] = &[
    Metric {
        name: "preauth_build_info",
        kind: Kind::Gauge,
        labels: &[
            configured("version", "the worker's version"),
            configured(
                "commit",
                "the source commit, when the build set `PREAUTH_GIT_COMMIT` (else `unknown`)",
            ),
        ],
        help: "always 1: which build is running",
    },
    Metric {
        name: "preauth_queue_info",
        kind: Kind::Gauge,
        labels: &[
            configured("queue", "a queue name from the `topology` settings"),
            closed("role", || QueueRole::ALL.iter().map(|r| r.as_str()).collect()),
        ],
        help: "always 1: the queues this worker uses, for joining with the broker's `rabbitmq_queue_*{queue}` metrics",
    },
    Metric {
        name: "preauth_cases_received_total",
        kind: Kind::Counter,
        labels: &[],
        help: "case event deliveries taken from the work queue",
    },
    Metric {
        name: "preauth_outcomes_total",
        kind: Kind::Counter,
        labels: &[STATUS, OUTCOME_PAYER],
        help: "outcome events published (confirmed)",
    },
    Metric {
        name: "preauth_payer_reasons_total",
        kind: Kind::Counter,
        labels: &[
            PAYER,
            closed("status", || {
                REASON_STATUSES.iter().map(|s| s.as_str()).collect()
            }),
            Label {
                name: "code",
                values: Values::Listed(reason_codes_doc),
            },
        ],
        help: "reasons on published outcomes (denial, pend and failure reasons), one per reason",
    },
    Metric {
        name: "preauth_findings_total",
        kind: Kind::Counter,
        labels: &[
            configured("rule", "a rule id of the registry (docs/contract.md section 10)"),
            closed("severity", || {
                [Severity::Error, Severity::Warning]
                    .iter()
                    .map(|s| s.as_str())
                    .collect()
            }),
        ],
        help: "validation findings, by rule id (each rule at its severity; both for a rule a policy may adjust)",
    },
    Metric {
        name: "preauth_payer_requests_total",
        kind: Kind::Counter,
        labels: &[
            PAYER,
            closed("result", || {
                CallResult::ALL.iter().map(|r| r.as_str()).collect()
            }),
        ],
        help: "payer calls by result",
    },
    Metric {
        name: "preauth_payer_request_duration_seconds",
        kind: Kind::Histogram,
        labels: &[PAYER],
        help: "payer call latency",
    },
    Metric {
        name: "preauth_documents_total",
        kind: Kind::Counter,
        labels: &[closed("result", || {
            DocumentsResult::ALL.iter().map(|r| r.as_str()).collect()
        })],
        help: "fetches of a request's photos and letter before it is sent: `sent` (fetched and checked), `rejected` (ATT findings), `unavailable` (a store did not answer)",
    },
    Metric {
        name: "preauth_document_bytes_total",
        kind: Kind::Counter,
        labels: &[],
        help: "bytes of photos and letters fetched and checked",
    },
    Metric {
        name: "preauth_document_bytes_reserved",
        kind: Kind::Gauge,
        labels: &[],
        help: "bytes of `attachments.max_bytes_in_flight` held by requests now (7/3 of their documents: the bytes and their base64)",
    },
    Metric {
        name: "preauth_document_budget_wait_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "how long a request waited for room in the byte budget before fetching its documents",
    },
    Metric {
        name: "preauth_delayed_total",
        kind: Kind::Counter,
        labels: &[
            closed("kind", || DelayKind::ALL.iter().map(|k| k.as_str()).collect()),
            configured(
                "tier",
                "a wait of `retry.delays` (kind `retry`) or `followup.pended` (kind `follow-up`), as `30s`, `5m`, `2h`, `1d`; `awaiting` for a notifying payer's request queue",
            ),
        ],
        help: "case events moved to a delay tier",
    },
    Metric {
        name: "preauth_parked_total",
        kind: Kind::Counter,
        labels: &[closed("reason", || {
            ParkReason::ALL.iter().map(|r| r.code()).collect()
        })],
        help: "messages moved to the parking queue",
    },
    Metric {
        name: "preauth_cases_in_flight",
        kind: Kind::Gauge,
        labels: &[],
        help: "deliveries being handled now",
    },
    Metric {
        name: "preauth_publish_confirms_total",
        kind: Kind::Counter,
        labels: &[closed("result", || {
            ConfirmResult::ALL.iter().map(|r| r.as_str()).collect()
        })],
        help: "publishes by the broker's answer (`returned`: nothing is bound to receive it)",
    },
    Metric {
        name: "preauth_progress_step_unbound",
        kind: Kind::Gauge,
        labels: &[closed("step", || {
            crate::amqp::progress::WORKER_STEPS
                .iter()
                .map(|s| s.as_str())
                .collect()
        })],
        help: "1 while the last probe of this progress step found nothing bound to `progress.<step>`: its events are sent for no case but the next probe's (every `outcomes.unbound_progress_pause`)",
    },
    Metric {
        name: "preauth_followups_brought_forward_total",
        kind: Kind::Counter,
        labels: &[closed("result", || {
            Forwarded::ALL.iter().map(|r| r.as_str()).collect()
        })],
        help: "verified payer notifications, by what they did to the pended request's follow-up",
    },
    Metric {
        name: "preauth_ack_failures_total",
        kind: Kind::Counter,
        labels: &[],
        help: "acks that failed (the broker redelivers)",
    },
    Metric {
        name: "preauth_amqp_reconnects_total",
        kind: Kind::Counter,
        labels: &[],
        help: "attempts to re-establish the broker session after the first",
    },
    Metric {
        name: "preauth_amqp_connected",
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while connected to the broker",
    },
    Metric {
        name: "preauth_amqp_blocked",
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while the broker blocks publishing (resource alarm)",
    },
    Metric {
        name: "preauth_ready",
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while /readyz answers 200",
    },
    Metric {
        name: "preauth_notifications_total",
        kind: Kind::Counter,
        labels: &[
            configured(
                "payer",
                "a payer with `notification_credential_file`, or `unknown` (with result `unknown-payer`)",
            ),
            closed("result", || {
                NotifyResult::ALL.iter().map(|r| r.as_str()).collect()
            }),
        ],
        help: "payer notifications: accepted, dropped (more than 1,024 waiting for the broker session), a handshake, a status query, not one of this worker's requests, or why refused",
    },
    Metric {
        name: "preauth_subscription_state",
        kind: Kind::Gauge,
        labels: &[
            configured("payer", "a payer with a `subscription` table"),
            closed("state", || {
                SubscriptionState::ALL.iter().map(|r| r.as_str()).collect()
            }),
        ],
        help: "1 for the state of the payer's PAS subscription as last seen (unknown, requested, active, error), 0 for the others",
    },
    Metric {
        name: "preauth_http_connections_refused_total",
        kind: Kind::Counter,
        labels: &[],
        help: "HTTP connections closed at once because a listener had its maximum open",
    },
    Metric {
        name: "preauth_state_headers_rejected_total",
        kind: Kind::Counter,
        labels: &[],
        help: "deliveries whose `x-preauth-*` headers did not verify under the deployment key (a publisher's own copy): read as a first delivery",
    },
    Metric {
        name: "preauth_message_age_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "time from a case event's `timestamp` property to its handling",
    },
];

/// The process metrics, written on every scrape by the `metrics-process` collector (Linux,
/// macOS, Windows, FreeBSD, OpenBSD; a platform that lacks one leaves it out).
pub const PROCESS_METRICS: &[Metric] = &[
    process(
        "process_cpu_seconds_total",
        Kind::Counter,
        "user and system CPU time, in whole seconds (a `metrics` counter is an integer)",
    ),
    process(
        "process_resident_memory_bytes",
        Kind::Gauge,
        "resident memory",
    ),
    process(
        "process_virtual_memory_bytes",
        Kind::Gauge,
        "virtual memory",
    ),
    process(
        "process_virtual_memory_max_bytes",
        Kind::Gauge,
        "the address-space limit (0: unlimited)",
    ),
    process("process_open_fds", Kind::Gauge, "open file descriptors"),
    process(
        "process_max_fds",
        Kind::Gauge,
        "the open file descriptor limit (0: unlimited)",
    ),
    process(
        "process_start_time_seconds",
        Kind::Gauge,
        "start time, seconds since the Unix epoch",
    ),
    process("process_threads", Kind::Gauge, "operating-system threads"),
];

const fn process(name: &'static str, kind: Kind, help: &'static str) -> Metric {
    Metric {
        name,
        kind,
        labels: &[],
        help,
    }
}

fn quoted(values: &[&str]) -> String {
    let v: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    v.join(", ")
}

fn reason_codes_doc() -> String {
    let worker: Vec<&str> = WorkerReason::ALL.iter().map(|r| r.code()).collect();
    format!(
        "the reason's code when the worker names it ({}) or the payer's adapter does (`simulated`: {}; `fhir-pas`: {}), else `{OTHER_REASON}`",
        quoted(&worker),
        quoted(&crate::payer::sim::reason_codes()),
        quoted(&crate::payer::pas::client::reason_codes()),
    )
}

/// The statuses whose outcomes can carry reasons (a `rejected` outcome carries findings).
const REASON_STATUSES: [Status; 7] = [
    Status::Approved,
    Status::Pended,
    Status::Denied,
    Status::AppealNeeded,
    Status::Failed,
    Status::Cancelled,
    Status::InformationRequested,
];

label_values! {
    /// What a queue is to the worker (`preauth_queue_info`'s `role`).
    pub enum QueueRole {
        Work = "work",
        Parking = "parking",
        Delay = "delay",
    }
}

/// The commit the build was made from, when the build said (`PREAUTH_GIT_COMMIT`).
pub const COMMIT: &str = match option_env!("PREAUTH_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// One series: a metric and its label values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
}

/// Every series these settings and payers allow, in catalogue order: what [`register`] writes.
pub fn series(settings: &Settings, payers: &PayerDirectory) -> Vec<Series> {
    let mut routes: Vec<_> = payers.routes().collect();
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    let topology = Topology::from_settings(settings);
    let mut out = Vec::new();
    for m in METRICS {
        let mut add = |labels: &[(&'static str, &str)]| {
            out.push(Series {
                name: m.name,
                labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            })
        };
        match m.name {
            "preauth_build_info" => {
                add(&[("version", env!("CARGO_PKG_VERSION")), ("commit", COMMIT)])
            }
            "preauth_queue_info" => {
                add(&[
                    ("queue", &topology.work_queue),
                    ("role", QueueRole::Work.as_str()),
                ]);
                add(&[
                    ("queue", &topology.parking_queue),
                    ("role", QueueRole::Parking.as_str()),
                ]);
                for q in topology.tiers.values() {
                    add(&[("queue", q), ("role", QueueRole::Delay.as_str())]);
                }
            }
            "preauth_outcomes_total" => {
                for r in &routes {
                    for s in Status::ALL {
                        add(&[("status", s.as_str()), ("payer", &r.name)]);
                    }
                }
                for s in [Status::Rejected, Status::Failed] {
                    add(&[("status", s.as_str()), ("payer", NO_PAYER)]);
                }
            }
            "preauth_payer_reasons_total" => {
                for r in &routes {
                    for s in REASON_STATUSES {
                        let codes: BTreeSet<&str> = reason_labels(&r.reason_codes).collect();
                        for code in codes {
                            add(&[("payer", &r.name), ("status", s.as_str()), ("code", code)]);
                        }
                    }
                }
            }
            "preauth_findings_total" => {
                let mut pairs = BTreeSet::new();
                for rule in RULES {
                    pairs.insert((rule.id(), rule.severity()));
                    if rule.is_adjustable() {
                        pairs.insert((rule.id(), Severity::Error));
                        pairs.insert((rule.id(), Severity::Warning));
                    }
                }
                for (id, severity) in pairs {
                    add(&[("rule", id), ("severity", severity.as_str())]);
                }
            }
            "preauth_payer_requests_total" => {
                for r in &routes {
                    for result in CallResult::ALL {
                        add(&[("payer", &r.name), ("result", result.as_str())]);
                    }
                }
            }
            "preauth_payer_request_duration_seconds" => {
                for r in &routes {
                    add(&[("payer", &r.name)]);
                }
            }
            "preauth_delayed_total" => {
                let waits = [
                    (DelayKind::Retry, &settings.retry.delays),
                    (DelayKind::FollowUp, &settings.followup.pended),
                ];
                let mut pairs = BTreeSet::new();
                for (kind, waits) in waits {
                    for w in waits.iter() {
                        pairs.insert((kind.as_str(), tier_label(*w)));
                    }
                }
                if routes.iter().any(|r| r.payer.notifies()) {
                    pairs.insert((DelayKind::FollowUp.as_str(), AWAITING_TIER.to_owned()));
                }
                for (kind, tier) in pairs {
                    add(&[("kind", kind), ("tier", &tier)]);
                }
            }
            "preauth_parked_total" => {
                for r in ParkReason::ALL {
                    add(&[("reason", r.code())]);
                }
            }
            "preauth_publish_confirms_total" => {
                for r in ConfirmResult::ALL {
                    add(&[("result", r.as_str())]);
                }
            }
            "preauth_progress_step_unbound" if settings.outcomes.progress => {
                for s in crate::amqp::progress::WORKER_STEPS {
                    add(&[("step", s.as_str())]);
                }
            }
            "preauth_progress_step_unbound" => {}
            "preauth_followups_brought_forward_total" => {
                for r in Forwarded::ALL {
                    add(&[("result", r.as_str())]);
                }
            }
            "preauth_documents_total" => {
                for r in DocumentsResult::ALL {
                    add(&[("result", r.as_str())]);
                }
            }
            "preauth_notifications_total" => {
                add(&[
                    ("payer", UNKNOWN_PAYER),
                    ("result", NotifyResult::UnknownPayer.as_str()),
                ]);
                let notifying = settings
                    .payers
                    .iter()
                    .filter(|(_, p)| p.notification_credential_file.is_some());
                for (id, _) in notifying {
                    for r in NotifyResult::ALL {
                        if *r != NotifyResult::UnknownPayer {
                            add(&[("payer", id), ("result", r.as_str())]);
                        }
                    }
                }
            }
            "preauth_subscription_state" => {
                for (id, _) in settings
                    .payers
                    .iter()
                    .filter(|(_, p)| p.subscription.is_some())
                {
                    for r in SubscriptionState::ALL {
                        add(&[("payer", id), ("state", r.as_str())]);
                    }
                }
            }
            _ => add(&[]),
        }
    }
    out
}

/// Writes every series of [`series`] into the installed recorder: counters and histograms
/// empty, gauges unchanged (0 unless already set), the info gauges at 1. Counts already made in
/// this process (another worker started in it) are kept.
pub fn register(settings: &Settings, payers: &PayerDirectory) {
    for s in series(settings, payers) {
        let labels: Vec<metrics::Label> = s
            .labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect();
        let kind = METRICS
            .iter()
            .find(|m| m.name == s.name)
            .map(|m| m.kind)
            .unwrap_or(Kind::Counter);
        match kind {
            Kind::Counter => metrics::counter!(s.name, labels).increment(0),
            Kind::Histogram => {
                let _registered = metrics::histogram!(s.name, labels);
            }
            Kind::Gauge if s.name.ends_with("_info") => metrics::gauge!(s.name, labels).set(1.0),
            Kind::Gauge => metrics::gauge!(s.name, labels).increment(0.0),
        }
    }
}

/// The README's metrics reference: the catalogue, then the process metrics.
pub fn markdown_table() -> String {
    let mut s = String::from("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for m in METRICS.iter().chain(PROCESS_METRICS) {
        let labels: Vec<String> = m
            .labels
            .iter()
            .map(|l| match l.values {
                Values::Closed(values) => format!("`{}`: {}", l.name, quoted(&values())),
                Values::Configured(what) => format!("`{}`: {what}", l.name),
                Values::Listed(what) => format!("`{}`: {}", l.name, what()),
            })
            .collect();
        let cells = [
            format!("`{}`", m.name),
            m.kind.as_str().to_owned(),
            labels.join("; "),
            m.help.to_owned(),
        ];
        s.push_str(&format!(
            "| {} |\n",
            cells.join(" | ").replace("|  |", "| |")
        ));
    }
    s
}

#[cfg(test)]
mod tests;
