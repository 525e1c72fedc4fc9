//! preauth-worker: consumes pre-authorization case events, validates coding and documentation,
//! submits to the payer, and publishes outcome events.
//!
//! Module map:
//! - [`case`]: the message contract (case event in, outcome event out) and decoding.
//! - [`codes`]: CPT/HCPCS/ICD-10-CM/modifier/NPI newtypes and the code table.
//! - [`rules`]: validation rules and payer policies (pure: no clock, no I/O).
//! - [`payer`]: the payer trait, error classification, and the simulated payer.
//! - [`pipeline`]: the disposition logic every driver shares; no broker or HTTP types.
//! - [`retry`]: in-process backoff, delay-tier schedules, the state carried between deliveries.
//! - [`config`]: layered settings; [`app`]: the pieces every command shares (codes, policies,
//!   payers, the pipeline); [`startup`]: `run` assembled (listeners and the AMQP worker), for the
//!   binary and the in-process integration tests alike.
//! - [`amqp`]: topology, confirmed publishing, the consumer loop (`run`); [`health`]: readiness.
//! - [`batch`]: the `process` driver; [`check`]: the `check` command.
//! - [`security`]: the deployment key that authenticates the worker's own headers and tokens;
//!   [`http`]: the bounded HTTP listener every server of the worker uses.

pub mod amqp;
pub mod app;
pub mod batch;
pub mod broker_url;
pub mod case;
pub mod check;
pub mod codes;
pub mod config;
pub mod health;
pub mod http;
pub mod ids;
pub mod notify;
pub mod ops;
pub mod payer;
pub mod pipeline;
pub mod retry;
pub mod rules;
pub mod security;
pub mod startup;
pub mod telemetry;
