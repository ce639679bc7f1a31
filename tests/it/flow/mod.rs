//! The benefit-unlock flow end to end over HTTP, against the embedded sandbox reached over
//! its socket, with the real SQLite session store. One file per topic: `unlock` (the way
//! through, declines and the sandbox's own checks), `state` (replayed, forged, used, expired
//! and racing callbacks), `survive` (callbacks cut off, killed or left running, against a slow
//! fake ID.me, and strangers opening the shopper's callback), `session` (cookies, rotation,
//! restart, reset) and `http` (headers, JSONP, CSRF, errors, request ids, health, metrics).

mod http;
mod session;
mod state;
mod survive;
mod unlock;
