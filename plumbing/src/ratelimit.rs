//! Rate limits: a token bucket per key (client address, account, user, project), in this
//! process's memory. A request takes one token, or as many as it weighs (a project's events and
//! bytes). Each replica counts on its own, so N replicas allow up to N times the rate unless the
//! caller divides it ([`Rate::divided_by`]); the limits that must hold exactly across replicas
//! (failed logins) live in JetStream KV in auth instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::error::error_response;

/// How much a key may take: `burst` at once, refilled evenly over `per`. A request costs one
/// unit, or as many as it weighs ([`RateLimiter::take`]: events, bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u64,
    pub per: Duration,
}

impl Rate {
    pub fn per_minute(burst: u64) -> Self {
        Self {
            burst,
            per: Duration::from_secs(60),
        }
    }

    pub fn per_second(burst: u64) -> Self {
        Self {
            burst,
            per: Duration::from_secs(1),
        }
    }

    /// `per_second` units a second, of which `burst_secs` seconds' worth may be taken at once;
    /// 0 is no limit.
    pub fn sustained(per_second: u64, burst_secs: u64) -> Self {
        let burst_secs = burst_secs.max(1);
        Self {
            burst: per_second.saturating_mul(burst_secs),
            per: Duration::from_secs(burst_secs),
        }
    }

    /// This rate shared by `parts` processes that each count on their own: each gets its share
    /// (at least one unit, so a small budget is not turned off by dividing it).
    pub fn divided_by(self, parts: u64) -> Self {
        if self.burst == 0 || parts <= 1 {
            return self;
        }
        Self {
            burst: (self.burst / parts).max(1),
            per: self.per,
        }
    }

    /// Whether this rate limits anything (a burst of 0 turns the limit off).
    pub(crate) fn is_limited(&self) -> bool {
        self.burst > 0
    }

    fn capacity(&self) -> f64 {
        self.burst as f64
    }

    fn refill_per_second(&self) -> f64 {
        self.capacity() / self.per.as_secs_f64().max(1e-3)
    }
}

/// What one request takes from one key's bucket.
#[derive(Debug, Clone, Copy)]
pub struct Cost<'k> {
    pub key: &'k str,
    /// Units taken: 1 for a request, or its events, or its bytes.
    pub amount: u64,
    /// The key's rate; it may change between requests (an admin raised a quota), and the
    /// bucket then follows the new one.
    pub rate: Rate,
}

/// Why [`RateLimiter::take`] took nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refused {
    /// How long until every bucket holds its cost.
    pub wait: Duration,
    /// The cost that waits longest, by its place in the costs taken.
    pub index: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Below zero after a request that weighed more than the whole burst: a debt the refill
    /// pays back before the key may take again.
    tokens: f64,
    updated: Instant,
    /// The rate the bucket last refilled at, to tell when it is full again for the sweep.
    rate: Rate,
}

impl Bucket {
    /// Tokens held at `now` under `rate`: refilled since the last update, at most the burst.
    fn tokens_at(&self, now: Instant, rate: Rate) -> f64 {
        let refilled = now.duration_since(self.updated).as_secs_f64() * rate.refill_per_second();
        (self.tokens + refilled).min(rate.capacity())
    }
}

/// Buckets kept before the full ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter {
    /// The rate of [`RateLimiter::check`]; [`RateLimiter::take`] names its own.
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
        self.take(&[Cost {
            key,
            amount: 1,
            rate: self.rate,
        }])
        .map_err(|refused| refused.wait)
    }

    /// Takes every cost from its key's bucket, or none of them: when a bucket lacks its
    /// amount, nothing is taken and the answer says how long until all of them hold enough,
    /// and which cost waits longest.
    /// A cost larger than its whole burst is taken from a full bucket, which it leaves in
    /// debt; otherwise a large batch could never pass, and the debt keeps the average rate.
    pub fn take(&self, costs: &[Cost<'_>]) -> Result<(), Refused> {
        if costs.iter().all(|cost| !cost.rate.is_limited()) {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, bucket| bucket.tokens_at(now, bucket.rate) < bucket.rate.capacity());
        }
        let mut longest: Option<Refused> = None;
        for (index, cost) in costs.iter().enumerate() {
            if !cost.rate.is_limited() {
                continue;
            }
            let tokens = buckets
                .get(cost.key)
                .map_or(cost.rate.capacity(), |bucket| {
                    bucket.tokens_at(now, cost.rate)
                });
            let needed = (cost.amount as f64).min(cost.rate.capacity());
            if tokens < needed {
                let wait =
                    Duration::from_secs_f64((needed - tokens) / cost.rate.refill_per_second());
                if longest.is_none_or(|longest| wait > longest.wait) {
                    longest = Some(Refused { wait, index });
                }
            }
        }
        if let Some(refused) = longest {
            return Err(refused);
        }
        for cost in costs.iter().filter(|cost| cost.rate.is_limited()) {
            let bucket = buckets.entry(cost.key.to_owned()).or_insert(Bucket {
                tokens: cost.rate.capacity(),
                updated: now,
                rate: cost.rate,
            });
            bucket.tokens = bucket.tokens_at(now, cost.rate) - cost.amount as f64;
            bucket.updated = now;
            bucket.rate = cost.rate;
        }
        Ok(())
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

    fn cost(key: &str, amount: u64, rate: Rate) -> Cost<'_> {
        Cost { key, amount, rate }
    }

    /// Whether `wait` is `expected` seconds, give or take the refill of a slow test machine.
    fn about(wait: Duration, expected: f64) -> bool {
        (wait.as_secs_f64() - expected).abs() < 0.2
    }

    #[test]
    fn a_weighted_cost_takes_as_many_tokens_as_it_weighs() {
        // 10 a second, 2 seconds' worth at once: 20.
        let rate = Rate::sustained(10, 2);
        let limiter = RateLimiter::new(Rate::per_second(0));
        assert_eq!(limiter.take(&[cost("p", 15, rate)]), Ok(()));
        let wait = limiter
            .take(&[cost("p", 10, rate)])
            .expect_err("10 more than the 5 left")
            .wait;
        assert!(about(wait, 0.5), "5 tokens refill in 0.5 s: {wait:?}");
        assert_eq!(limiter.take(&[cost("p", 5, rate)]), Ok(()), "5 still fit");
        assert_eq!(
            limiter.take(&[cost("q", 20, rate)]),
            Ok(()),
            "keys count apart"
        );
        assert_eq!(
            limiter.take(&[cost("p", 1_000_000, Rate::sustained(0, 2))]),
            Ok(()),
            "a rate of 0 is no limit"
        );
    }

    #[test]
    fn costs_are_taken_all_or_none_and_the_wait_is_the_longest() {
        let limiter = RateLimiter::new(Rate::per_second(0));
        let events = Rate::sustained(100, 1);
        let bytes = Rate::sustained(1_000, 1);
        assert_eq!(limiter.take(&[cost("bytes", 900, bytes)]), Ok(()));
        let refused = limiter
            .take(&[cost("events", 50, events), cost("bytes", 400, bytes)])
            .expect_err("the bytes lack 300");
        assert_eq!(refused.index, 1, "the bytes wait");
        assert!(
            about(refused.wait, 0.3),
            "300 bytes refill in 0.3 s: {refused:?}"
        );
        assert_eq!(
            limiter.take(&[cost("events", 100, events)]),
            Ok(()),
            "the refused request took no events"
        );
    }

    #[test]
    fn a_cost_over_the_whole_burst_takes_a_full_bucket_and_leaves_a_debt() {
        let limiter = RateLimiter::new(Rate::per_second(0));
        let rate = Rate::sustained(10, 2);
        assert_eq!(
            limiter.take(&[cost("p", 50, rate)]),
            Ok(()),
            "a full bucket"
        );
        let wait = limiter
            .take(&[cost("p", 1, rate)])
            .expect_err("30 in debt")
            .wait;
        assert!(about(wait, 3.1), "the debt and one token: {wait:?}");
        assert_eq!(limiter.take(&[cost("q", 5, rate)]), Ok(()));
        let wait = limiter
            .take(&[cost("q", 50, rate)])
            .expect_err("a cost over the burst needs a full bucket")
            .wait;
        assert!(about(wait, 0.5), "the 5 taken refill in 0.5 s: {wait:?}");
    }

    #[test]
    fn a_bucket_follows_its_keys_new_rate() {
        let limiter = RateLimiter::new(Rate::per_second(0));
        assert_eq!(
            limiter.take(&[cost("p", 10, Rate::sustained(10, 1))]),
            Ok(())
        );
        assert!(
            limiter
                .take(&[cost("p", 10, Rate::sustained(10, 1))])
                .is_err()
        );
        let wait = limiter
            .take(&[cost("p", 10, Rate::sustained(1_000, 1))])
            .expect_err("still empty when the rate is raised")
            .wait;
        assert!(
            wait < Duration::from_millis(50),
            "but refilled 100 times faster: {wait:?}"
        );
    }

    #[test]
    fn a_rate_divided_among_replicas_gives_each_its_share() {
        let rate = Rate::sustained(1_000, 5);
        assert_eq!(
            rate,
            Rate {
                burst: 5_000,
                per: Duration::from_secs(5)
            }
        );
        assert_eq!(rate.divided_by(2).burst, 2_500);
        assert_eq!(rate.divided_by(1), rate);
        assert_eq!(
            Rate::sustained(1, 1).divided_by(4).burst,
            1,
            "never turned off"
        );
        assert!(!Rate::sustained(0, 5).divided_by(3).is_limited());
    }
}
