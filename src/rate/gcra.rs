//! Rates (so many a second, with a burst) on governor's GCRA: [`TokenBucket`] for one socket,
//! [`UserBuckets`] for each user, and the clock and state stores their limiters share.

use super::{lock, DEFAULT_CAPACITY};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Seconds' worth of tokens a bucket banks (its burst).
pub const BURST_SECS: u32 = 2;

/// The quota of a rate of `per_second` (at least 1) a second, with a burst of [`BURST_SECS`]
/// seconds' worth.
fn quota(per_second: u32) -> Quota {
    const BURST: NonZeroU32 = match NonZeroU32::new(BURST_SECS) {
        Some(n) => n,
        None => panic!("BURST_SECS is 0"),
    };
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(rate.saturating_mul(BURST))
}

/// Nanoseconds from `origin` to `now` (0 if `now` is earlier).
fn nanos_since(origin: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
}

/// The clock our governor limiters read: the instant our code last gave it (tokio's clock in the
/// server, an instant a test chose), in nanoseconds since `origin`; it never goes back. A limiter
/// is made while it reads 0, so governor's TATs are nanoseconds since `origin` too.
#[derive(Debug)]
struct Given {
    origin: Instant,
    nanos: AtomicU64,
}

impl Given {
    fn new(origin: Instant) -> Self {
        Given {
            origin,
            nanos: AtomicU64::new(0),
        }
    }

    /// The reading at `now`, without moving the clock.
    fn at(&self, now: Instant) -> u64 {
        nanos_since(self.origin, now).max(self.nanos.load(Ordering::Relaxed))
    }

    /// Moves the clock on to `now`; returns the reading.
    fn set(&self, now: Instant) -> Nanos {
        let n = nanos_since(self.origin, now);
        Nanos::from(self.nanos.fetch_max(n, Ordering::Relaxed).max(n))
    }
}

impl Clock for Given {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.nanos.load(Ordering::Relaxed))
    }
}

/// The state of a direct (one-key) limiter: its TAT in nanoseconds since the clock's origin, 0
/// before the first cell. Shared with its [`TokenBucket`], which reads it to tell when it is full.
#[derive(Debug)]
struct Tat(Arc<AtomicU64>);

impl StateStore for Tat {
    type Key = NotKeyed;

    fn measure_and_replace<T, F, E>(&self, _: &NotKeyed, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // A bucket has one owner (`take` borrows it mutably): nothing comes between the load
        // and the store.
        let old = NonZeroU64::new(self.0.load(Ordering::Relaxed)).map(|n| Nanos::from(n.get()));
        let (decision, tat) = f(old)?;
        self.0.store(tat.into(), Ordering::Relaxed);
        Ok(decision)
    }
}

/// The states of a keyed limiter: a TAT per user, in a map shared with [`UserBuckets`], which
/// counts and forgets them (governor's own maps cannot be bounded: they have no way to tell
/// whether a key is new before adding it).
#[derive(Debug)]
struct Tats(Arc<Mutex<HashMap<i64, Nanos>>>);

impl StateStore for Tats {
    type Key = i64;

    fn measure_and_replace<T, F, E>(&self, key: &i64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut map = lock(&self.0);
        let (decision, tat) = f(map.get(key).copied())?;
        map.insert(*key, tat);
        Ok(decision)
    }
}

type DirectLimiter = RateLimiter<NotKeyed, Tat, Given, NoOpMiddleware<Nanos>>;
type KeyedLimiter = RateLimiter<i64, Tats, Given, NoOpMiddleware<Nanos>>;

/// Allows `per_second` requests or frames a second, up to [`BURST_SECS`] seconds' worth at once:
/// a token bucket, decided by governor's GCRA.
#[derive(Debug)]
pub struct TokenBucket {
    quota: Quota,
    limiter: DirectLimiter,
    /// The limiter's state, shared with it.
    tat: Arc<AtomicU64>,
}

impl TokenBucket {
    /// A full bucket for `per_second` (at least 1) tokens a second, at `now`.
    pub fn new(per_second: u32, now: Instant) -> Self {
        Self::build(quota(per_second), now, 0, 0)
    }

    /// A bucket of `quota` whose clock started at `origin`, reads `reading` and whose TAT is `tat`.
    fn build(quota: Quota, origin: Instant, reading: u64, tat: u64) -> Self {
        let tat = Arc::new(AtomicU64::new(tat));
        // Made while the clock reads 0 (see `Given`).
        let limiter = RateLimiter::new(quota, Tat(Arc::clone(&tat)), Given::new(origin));
        limiter.clock().nanos.store(reading, Ordering::Relaxed);
        TokenBucket {
            quota,
            limiter,
            tat,
        }
    }

    /// Takes a token at `now`; `Err(wait)` when there is none, `wait` being when the next one
    /// will be there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let reading = self.limiter.clock().set(now);
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(reading))
    }

    /// Whether the bucket is full at `now`: it is then no different from a new one, and can be
    /// forgotten.
    pub fn is_idle(&self, now: Instant) -> bool {
        // Full once the theoretical arrival time of the next token has passed.
        self.tat.load(Ordering::Relaxed) <= self.limiter.clock().at(now)
    }
}

impl Clone for TokenBucket {
    /// A bucket with the same tokens, which refills on its own from now on.
    fn clone(&self) -> Self {
        let clock = self.limiter.clock();
        Self::build(
            self.quota,
            clock.origin,
            clock.nanos.load(Ordering::Relaxed),
            self.tat.load(Ordering::Relaxed),
        )
    }
}

/// A token bucket per user id, deciding as a [`TokenBucket`] does (governor's GCRA keyed by
/// user: one timestamp per user), in memory and per process, holding at most `capacity` users. Idle (full) buckets are forgotten, at most once per refill
/// time (two seconds) in one pass, so the work stays constant per call on average; a bucket is
/// idle at the latest two seconds after its user's last request. When the map is full of live
/// buckets, a new user is refused until the next pass may make room (failing closed rather than
/// forgetting counts).
pub struct UserBuckets {
    capacity: usize,
    /// Least time between two passes that forget idle buckets.
    sweep_every: Duration,
    limiter: KeyedLimiter,
    /// The limiter's states, shared with it.
    tats: Arc<Mutex<HashMap<i64, Nanos>>>,
    /// When idle buckets were last forgotten. Held for the whole of [`UserBuckets::take`], so
    /// that the look-up of a user, the count of users and governor's decision are one step.
    last_sweep: Mutex<Instant>,
}

impl UserBuckets {
    /// Buckets of `per_second` tokens a second, holding up to [`DEFAULT_CAPACITY`] users.
    pub fn new(per_second: u32) -> Self {
        Self::with_capacity(per_second, DEFAULT_CAPACITY)
    }

    /// Buckets holding at most `capacity` (at least one) users.
    pub fn with_capacity(per_second: u32, capacity: usize) -> Self {
        let now = Instant::now();
        let tats = Arc::new(Mutex::new(HashMap::new()));
        UserBuckets {
            capacity: capacity.max(1),
            sweep_every: Duration::from_secs(u64::from(BURST_SECS)),
            // Made while the clock reads 0 (see `Given`).
            limiter: RateLimiter::new(quota(per_second), Tats(Arc::clone(&tats)), Given::new(now)),
            tats,
            last_sweep: Mutex::new(now),
        }
    }

    /// Takes a token from `user`'s bucket; `Err(wait)` when it has none (or when no bucket can
    /// be made for a new user), `wait` being when to try again.
    pub fn take(&self, user: i64) -> Result<(), Duration> {
        let now = Instant::now();
        let mut last_sweep = lock(&self.last_sweep);
        let reading = self.limiter.clock().set(now);
        let (known, live) = {
            let mut tats = lock(&self.tats);
            if now.saturating_duration_since(*last_sweep) >= self.sweep_every {
                // A TAT in the past is a full bucket, no different from none.
                tats.retain(|_, tat| *tat > reading);
                *last_sweep = now;
            }
            (tats.contains_key(&user), tats.len())
        };
        if !known && live >= self.capacity {
            let next_sweep = *last_sweep + self.sweep_every;
            return Err(next_sweep
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)));
        }
        self.limiter
            .check_key(&user)
            .map_err(|not_until| not_until.wait_time_from(reading))
    }

    /// Users with a bucket now (idle ones included until the next pass).
    pub fn len(&self) -> usize {
        lock(&self.tats).len()
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
    fn the_bucket_refills_at_its_rate_and_never_banks_more_than_its_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(4, t0);
        assert!(b.is_idle(t0), "a new bucket is full");
        for _ in 0..8 {
            assert!(b.take(t0).is_ok());
        }
        assert!(b.take(t0).is_err());
        // A token every 250 ms: after 600 ms, two are there and the third is 150 ms away.
        let t = t0 + 600 * MS;
        assert!(b.take(t).is_ok());
        assert!(b.take(t).is_ok());
        assert_eq!(b.take(t), Err(150 * MS));
        // A copy goes on from the same tokens, on its own.
        let mut copy = b.clone();
        assert_eq!(copy.take(t), Err(150 * MS));
        assert!(copy.take(t + 150 * MS).is_ok());
        assert_eq!(b.take(t + 150 * MS), Ok(()));
        // An hour idle banks two seconds' worth, no more; an earlier instant refills nothing.
        let later = t0 + 3600 * 1000 * MS;
        assert!(b.is_idle(later));
        for _ in 0..8 {
            assert!(b.take(later).is_ok());
        }
        assert!(b.take(later).is_err());
        assert!(b.take(t0).is_err());
    }

    #[test]
    fn a_rate_of_zero_is_one_a_second() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0, t0);
        assert!(b.take(t0).is_ok() && b.take(t0).is_ok());
        assert_eq!(b.take(t0), Err(1000 * MS));
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

    #[test]
    fn concurrent_takes_never_exceed_the_burst() {
        let began = Instant::now();
        let u = Arc::new(UserBuckets::new(1));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let u = u.clone();
                std::thread::spawn(move || (0..50).filter(|_| u.take(7).is_ok()).count())
            })
            .collect();
        let passed: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
        // Two at once, and one more for each second the threads ran.
        let refilled = began.elapsed().as_secs() as usize + 1;
        assert!((2..=2 + refilled).contains(&passed), "{passed}");
    }
}
