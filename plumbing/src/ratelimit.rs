//! Request rate limits: a token bucket per key (client address, account, user, write key),
//! in this process's memory. Each replica counts on its own, so N replicas allow up to N times
//! the rate; the limits that must hold across replicas (failed logins) live in JetStream KV in
//! auth instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::error::error_response;

/// How many requests a key may make: `burst` at once, refilled evenly over `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub per: Duration,
}

impl Rate {
    pub fn per_minute(burst: u32) -> Self {
        Self {
            burst,
            per: Duration::from_secs(60),
        }
    }

    pub fn per_second(burst: u32) -> Self {
        Self {
            burst,
            per: Duration::from_secs(1),
        }
    }

    fn refill_per_second(&self) -> f64 {
        f64::from(self.burst) / self.per.as_secs_f64().max(1e-3)
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets kept before the full ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket; when it is empty, how long until it holds one.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.rate.burst == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let refill = self.rate.refill_per_second();
        let capacity = f64::from(self.rate.burst);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * refill < capacity
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * refill)
            .min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / refill))
        }
    }
}

/// 429 in the shared error shape, with `Retry-After` in whole seconds (at least 1).
pub fn too_many_requests(retry_after: Duration, what: &str) -> Response {
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many {what}; retry in {seconds} s"),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_names_the_wait() {
        let limiter = RateLimiter::new(Rate::per_minute(3));
        for _ in 0..3 {
            assert_eq!(limiter.check("a"), Ok(()));
        }
        let wait = limiter.check("a").expect_err("the fourth is refused");
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "one request refills in 20 s: {wait:?}"
        );
        assert_eq!(limiter.check("b"), Ok(()), "keys count apart");
        assert_eq!(
            RateLimiter::new(Rate::per_minute(0)).check("a"),
            Ok(()),
            "0 turns the limit off"
        );
        let response = too_many_requests(wait, "attempts");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("20"))
        );
    }
}
