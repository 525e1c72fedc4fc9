//! preauth-worker: consumes pre-authorization case events, validates coding and documentation,
//! submits to the payer, and publishes outcome events.
//!
//! The house plan (modules, their layers, what each may import, the path of a case) is
//! docs/ARCHITECTURE.md; `tests/architecture.rs` holds the code to it.

#![warn(unreachable_pub)]

pub mod amqp;
pub mod app;
pub mod batch;
pub(crate) mod broker_url;
pub mod case;
pub mod check;
pub mod codes;
pub mod config;
pub mod exit;
pub mod health;
pub mod http;
pub mod ids;
pub mod inputs;
pub mod notes;
pub mod notify;
pub mod ops;
pub mod payer;
pub mod pipeline;
pub mod retry;
pub mod rules;
pub mod security;
pub mod startup;
pub mod telemetry;
