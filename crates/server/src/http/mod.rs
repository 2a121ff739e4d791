//! The REST server: MoltNet's diary API over HTTP, on the engine.
//!
//! A request flows: [`middleware::context`] (request id, log line,
//! metrics) → [`middleware::deadline`] → the route's extractors (the key
//! checked into a [`Caller`](crate::keys::Caller), the body parsed, each
//! failure a problem+json) → the handler, which checks the tenant boundary
//! ([`tenancy`]) and the rate limit, reads from the engine or writes through
//! the store seam ([`writes::Writes`]), both on the blocking pool.

pub mod dto;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod rate;
pub mod router;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tenancy;
pub mod writes;
