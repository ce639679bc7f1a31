//! Talking to ID.me: the OAuth client and the attributes payload.

mod client;
mod payload;

pub use client::{Authorization, Endpoint, Endpoints, IdmeClient, IdmeError};
pub use payload::{GroupStatus, Payload, PayloadError};
