//! perkgate: shoppers prove a status with ID.me and unlock the discount a merchant set for it.
//!
//! `App::build(config)` wires everything; `main.rs` and the integration tests both use it.

pub mod address;
pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod i18n;
pub mod idme;
pub mod metrics;
pub mod rewards;
pub mod rules;
pub mod sandbox;
pub mod serve;
pub mod session;
pub mod session_store;
pub mod shop;
pub mod stats;
pub mod telemetry;
pub mod verification;
pub mod web;
pub mod webhooks;

pub use app::{App, StartError};
pub use config::Config;
pub use web::AppState;
