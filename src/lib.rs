//! preauth-worker: consumes pre-authorization case events, validates coding and documentation,
//! submits to the payer, and publishes outcome events.
//!
//! Module map:
//! - [`case`]: the message contract (case event in, outcome event out) and decoding.
//! - [`codes`]: CPT/HCPCS/ICD-10-CM/modifier/NPI newtypes and the code table.
//! - [`rules`]: validation rules and payer policies (pure, no clock, no I/O).

pub mod case;
pub mod codes;
pub mod rules;
