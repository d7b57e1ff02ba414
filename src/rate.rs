//! Token buckets: one per socket for its inbound frames (`ws::flood`), and one per user for REST
//! writes ([`UserBuckets`]), with the same numbers: `per_second` tokens a second, up to two
//! seconds' worth banked.
//!
//! [`TokenBucket`] takes `now` as a parameter so that it can be tested without a clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Seconds' worth of tokens a bucket banks (its burst).
pub const BURST_SECS: u32 = 2;
/// Live buckets a [`UserBuckets`] holds by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Refills at `rate` tokens per second up to [`BURST_SECS`] seconds' worth; each request or
/// frame takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `per_second` (at least 1) tokens a second, at `now`.
    pub fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second.max(1));
        let capacity = rate * f64::from(BURST_SECS);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = self.last.max(now);
    }

    /// Takes a token at `now`; `Err(wait)` when there is none, `wait` being when the next one
    /// will be there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    /// Whether the bucket is full at `now`: it is then no different from a new one, and can be
    /// forgotten.
    pub fn is_idle(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.capacity
    }
}

struct Buckets {
    map: HashMap<i64, TokenBucket>,
    last_sweep: Instant,
}

/// A [`TokenBucket`] per user id, in memory and per process, holding at most `capacity`
/// buckets. Idle (full) buckets are forgotten, at most once per refill time (two seconds) in
/// one pass, so the work stays constant per call on average; a bucket is idle at the latest
/// two seconds after its user's last request. When the map is full of live buckets, a new user
/// is refused until the next pass may make room (failing closed rather than forgetting counts).
pub struct UserBuckets {
    per_second: u32,
    capacity: usize,
    /// Least time between two passes that forget idle buckets.
    sweep_every: Duration,
    inner: Mutex<Buckets>,
}

impl UserBuckets {
    /// Buckets of `per_second` tokens a second, holding up to [`DEFAULT_CAPACITY`] users.
    pub fn new(per_second: u32) -> Self {
        Self::with_capacity(per_second, DEFAULT_CAPACITY)
    }

    /// Buckets holding at most `capacity` (at least one) users.
    pub fn with_capacity(per_second: u32, capacity: usize) -> Self {
        UserBuckets {
            per_second,
            capacity: capacity.max(1),
            sweep_every: Duration::from_secs(u64::from(BURST_SECS)),
            inner: Mutex::new(Buckets {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// Takes a token from `user`'s bucket; `Err(wait)` when it has none (or when no bucket can
    /// be made for a new user), `wait` being when to try again.
    pub fn take(&self, user: i64) -> Result<(), Duration> {
        let now = Instant::now();
        let refill = self.sweep_every;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if now.saturating_duration_since(inner.last_sweep) >= refill {
            inner.map.retain(|_, b| !b.is_idle(now));
            inner.last_sweep = now;
        }
        if let Some(b) = inner.map.get_mut(&user) {
            return b.take(now);
        }
        if inner.map.len() >= self.capacity {
            let next_sweep = inner.last_sweep + refill;
            return Err(next_sweep
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)));
        }
        let mut bucket = TokenBucket::new(self.per_second, now);
        let taken = bucket.take(now);
        inner.map.insert(user, bucket);
        taken
    }

    /// Users with a bucket now (idle ones included until the next pass).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// `true` when no user has a bucket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_bucket_refuses_past_its_burst_and_says_when_to_retry() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, t0);
        for _ in 0..20 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(wait > 99 * MS && wait <= 100 * MS, "{wait:?}");
        assert!(b.take(t0 + 100 * MS).is_ok());
        assert!(!b.is_idle(t0 + 100 * MS));
        assert!(b.is_idle(t0 + 2100 * MS));
    }

    #[test]
    fn each_user_has_a_bucket() {
        let u = UserBuckets::new(5);
        for _ in 0..10 {
            assert!(u.take(1).is_ok());
        }
        let wait = u.take(1).expect_err("drained");
        assert!(wait > Duration::ZERO && wait <= 200 * MS, "{wait:?}");
        assert!(u.take(2).is_ok(), "another user is unaffected");
        assert_eq!(u.len(), 2);
    }

    #[test]
    fn stays_bounded_and_forgets_idle_buckets() {
        let mut u = UserBuckets::with_capacity(1000, 3);
        u.sweep_every = 5 * MS;
        for id in 0..3 {
            assert!(u.take(id).is_ok());
        }
        let wait = u.take(99).expect_err("full of live buckets");
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
        assert!(u.take(0).is_ok(), "known users still count");
        assert_eq!(u.len(), 3);
        // With 1000 a second, a bucket is full again 1 ms after its last token.
        std::thread::sleep(Duration::from_millis(10));
        assert!(u.take(99).is_ok(), "idle buckets make room");
        assert_eq!(u.len(), 1);
    }
}
