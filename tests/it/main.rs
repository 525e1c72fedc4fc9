//! Integration tests: one binary, one module per area.

mod broker;
mod support;

mod check_command;
mod docs;
mod ops;
mod pas;
mod process_command;
mod schemas;
mod secrets;
mod traces;
mod trust;
mod unseen_cases;
mod worker;
