//! Integration tests: one binary, one module per area.

mod broker;
mod support;

mod attachments;
mod attachments_s3;
mod check_command;
mod claim_update;
mod cli;
mod conformance;
mod docs;
mod errors;
mod integration;
mod ops;
mod parked_command;
mod pas;
mod pas_workflows;
mod process_command;
mod progress;
mod publish_watch;
mod schemas;
mod secrets;
mod subscriptions;
mod traces;
mod trust;
mod unseen_cases;
mod worker;
