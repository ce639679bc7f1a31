//! Talking to ID.me: the OAuth client, signed and encrypted payloads, the attributes payload.

mod client;
pub mod jose;
mod payload;

pub use client::{Authorization, Endpoint, Endpoints, IdmeClient, IdmeError};
pub use payload::{GroupStatus, Payload, PayloadError};
