//! The ledger over the real broker and the real PostgreSQL: every example's events land once; a
//! SIGKILL mid-stream and a redelivery storm leave one row per message and the right state; the
//! order of arrival does not change the state; the metrics count what was stored; console
//! accounts. Each test has a database of its own (`preauth_test_<random>` on `PREAUTH_TEST_PG`)
//! and broker names of its own.

#[path = "it/broker.rs"]
mod broker;
#[path = "ledger/support.rs"]
mod support;

#[path = "ledger/examples.rs"]
mod examples;
#[path = "ledger/metrics.rs"]
mod metrics;
#[path = "ledger/order.rs"]
mod order;
#[path = "ledger/storm.rs"]
mod storm;
#[path = "ledger/users.rs"]
mod users;
