//! The benefit-unlock flow end to end over HTTP, against the embedded sandbox reached over
//! its socket, with the real SQLite session store. One file per topic: `unlock` (the way
//! through, declines and the sandbox's own checks), `state` (replayed, forged, used, expired
//! and racing callbacks), `session` (cookies, rotation, restart, reset) and `http` (headers,
//! JSONP, CSRF, errors, request ids, health, metrics).

mod http;
mod session;
mod state;
mod unlock;
