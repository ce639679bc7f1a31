//! Every integration test in one binary: one link, one process, every test in parallel
//! threads. `harness` starts the app and drives it as shoppers do; one module per topic. Run
//! one topic with `cargo test --test it flow::`. (`tests/sighup.rs` is a binary of its own: the
//! signal goes to the whole process.)

// Tests may panic: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod admin;
mod browser;
mod buttons;
mod cli;
mod connections;
mod container;
mod counts;
mod envelope;
mod faults;
mod flow;
mod i18n;
mod instances;
mod ledger;
mod limits;
mod merchant_api;
mod offers;
mod ops;
mod outages;
mod outcomes;
mod payloads;
mod sandbox;
mod shop;
mod shutdown;
mod soak;
mod stores;
mod templates;
mod webhooks;
