//! Per-key rate limits on searches and on writes (GCRA, `governor`).
//!
//! Each key has its own bucket per kind; a spent bucket answers 429 with
//! `Retry-After` (whole seconds, at least 1). A rate of 0 turns a limit off.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use super::problem::{ApiError, ApiResult};

/// A per-key limit: `rate` requests per second sustained, `burst` at once.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Requests per second per key (0: unlimited).
    pub rate: u32,
    /// Requests a key may make at once.
    pub burst: u32,
}

/// The server's limiters.
pub struct RateLimits {
    search: Option<DefaultKeyedRateLimiter<Uuid>>,
    write: Option<DefaultKeyedRateLimiter<Uuid>>,
    /// The public feed has no key: its searches are limited per client
    /// address, at the search limit.
    public: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn limiter<K: Clone + Eq + std::hash::Hash>(limit: Limit) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(limit.rate)?;
    let burst = NonZeroU32::new(limit.burst).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl RateLimits {
    /// Limiters for searches and writes.
    pub fn new(search: Limit, write: Limit) -> Self {
        Self {
            search: limiter(search),
            write: limiter(write),
            public: limiter(search),
            clock: DefaultClock::default(),
        }
    }

    fn check<K: Clone + Eq + std::hash::Hash>(
        &self,
        l: &Option<DefaultKeyedRateLimiter<K>>,
        key: K,
        what: &str,
    ) -> ApiResult<()> {
        let Some(l) = l else { return Ok(()) };
        l.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            metrics::counter!("moltsearch_rate_limited_total", "kind" => what.to_string())
                .increment(1);
            ApiError::too_many(what, secs.max(1))
        })
    }

    /// Counts one search by `key`; 429 when its limit is spent.
    pub fn search(&self, key: Uuid) -> ApiResult<()> {
        self.check(&self.search, key, "search")
    }

    /// Counts one write by `key`; 429 when its limit is spent.
    pub fn write(&self, key: Uuid) -> ApiResult<()> {
        self.check(&self.write, key, "write")
    }

    /// Counts one public-feed search from `addr`; 429 when its limit is spent.
    pub fn public(&self, addr: IpAddr) -> ApiResult<()> {
        self.check(&self.public, addr, "public search")
    }

    /// Forgets buckets that are full again (keeps memory bounded).
    pub fn shrink(&self) {
        for l in [&self.search, &self.write].into_iter().flatten() {
            l.retain_recent();
        }
        if let Some(l) = &self.public {
            l.retain_recent();
        }
    }
}
