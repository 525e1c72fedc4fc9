//! The web console against the real database and the real broker: pages and access through
//! plain HTTP (`handlers`), and in headless Chromium through WebDriver (`browser`), which writes
//! a screenshot of every page under target/console-screenshots/.

#[path = "it/broker.rs"]
mod broker;
#[path = "console/browser.rs"]
mod browser;
#[path = "console/handlers.rs"]
mod handlers;
#[path = "console/journey.rs"]
mod journey;
#[path = "console/seed.rs"]
mod seed;
#[path = "console/support.rs"]
mod support;
