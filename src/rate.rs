//! Every limit on how often something may happen, in one module, on the algorithm each kind of
//! limit needs:
//!
//! - **Rates** (so many a second, with a burst): the generic cell rate algorithm (GCRA) of the
//!   [`governor`] crate. [`TokenBucket`] limits one socket's inbound frames (`ws::flood`),
//!   [`UserBuckets`] the REST writes of each user, with the same numbers: `per_second` a second,
//!   up to [`BURST_SECS`] seconds' worth at once, and `Err(wait)` saying when the next one will be
//!   allowed. GCRA is a token bucket kept as one timestamp (the "theoretical arrival time", TAT,
//!   of the next cell): it decides exactly as a bucket of `2 × per_second` tokens refilled at
//!   `per_second` a second would.
//! - **Quotas per window** (so many per window: failed logins per username, new guests and
//!   registrations per address, new rooms per user per hour): [`Throttle`], a count per key in a
//!   fixed window that starts with the key's first attempt. It is not built on governor, because
//!   GCRA cannot express it: governor has no way to give a cell back ([`Throttle::release`]:
//!   an attempt is counted before the password is checked, so that concurrent guesses cannot race
//!   the limit, and given back when the check never ran), and a GCRA quota of `limit` per window
//!   refills continuously (one attempt every `window / limit`), where a window allows `limit` and
//!   then nothing until it ends (the `Retry-After` of a refused room or registration is the end of
//!   the hour). Matching it with governor would take a burst of `limit` replenished one per
//!   *window*, a reset of the key when its window ends, and refunds written into governor's TAT
//!   by hand: the same counter, encoded in nanoseconds.
//! - **The sustained-flood detector** of a socket: [`SlidingWindow`], a count of every frame
//!   received over the last few seconds, accepted or refused. It limits nothing (the socket's
//!   [`TokenBucket`] does); it decides when a socket is closed with 4429. "More than twice the
//!   rate over five seconds" is a sliding count, not a rate with a burst: at 10 frames a second,
//!   a GCRA of 20 a second with the window's 100 frames as its burst closes a flood of 50 a
//!   second at the 167th frame (3.3 s) instead of the 101st (2 s), and one of 30 a second after
//!   10 s instead of 3.3 s.
//!
//! Limiters that take `now` as a parameter can be tested without a clock; all of them read
//! tokio's clock ([`Instant`]).

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use std::collections::{HashMap, VecDeque};
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Seconds' worth of tokens a bucket banks (its burst).
pub const BURST_SECS: u32 = 2;
/// Live keys a keyed limiter ([`UserBuckets`], [`Throttle`]) holds by default.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Keys of a [`Throttle`] are cut to this many characters. Usernames have at most 32 and IP
/// addresses at most 45, so no two real keys collide; longer input (a 60,000-character
/// "username") costs no more than this.
pub const MAX_KEY_CHARS: usize = 64;

/// Locks `m`, going on with the data of a thread that panicked while holding it (every update
/// here is complete or not made).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Rates: governor's GCRA.

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

// ---------------------------------------------------------------------------------------------
// Quotas per window: a count per key.

struct Entry {
    count: u32,
    since: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Arc<str>, Entry>,
    /// Window starts in time order, to drop expired entries without scanning the map.
    order: VecDeque<(Instant, Arc<str>)>,
}

impl Inner {
    /// Takes one attempt back from `key`; a key left with none is forgotten.
    fn give_back(&mut self, key: &str, all: bool) {
        if let Some(e) = self.entries.get_mut(key) {
            e.count = if all { 0 } else { e.count.saturating_sub(1) };
            if e.count == 0 {
                self.entries.remove(key);
            }
        }
        // Forgotten keys leave their window start behind in `order`; drop those once they are
        // as many as the live ones (amortized constant time, and `order` stays bounded).
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(since, key)| entries.get(key).is_some_and(|e| e.since == *since));
        }
    }

    fn prune(&mut self, now: Instant, window: Duration) {
        while let Some((since, _)) = self.order.front() {
            if now.saturating_duration_since(*since) < window {
                break;
            }
            if let Some((since, key)) = self.order.pop_front() {
                if self.entries.get(&key).is_some_and(|e| e.since == since) {
                    self.entries.remove(&key);
                }
            }
        }
    }
}

/// Allows `limit` attempts per key in a window that starts with the key's first attempt; after
/// that, attempts for the key are refused until the window has passed. In memory and per
/// process.
///
/// Checking and counting are one step ([`Throttle::try_acquire`]), under one lock: concurrent
/// attempts cannot all pass a check before any of them is counted. Keys are lower-cased and cut
/// to [`MAX_KEY_CHARS`], and the map holds at most `capacity` live keys (expired ones are dropped
/// in order, in constant time per call): a peer cannot make it grow without bound.
pub struct Throttle {
    limit: u32,
    window: Duration,
    capacity: usize,
    inner: Mutex<Inner>,
}

/// The key of a [`Throttle`] for `raw`: lower-cased, cut to [`MAX_KEY_CHARS`] characters.
pub fn normalise(raw: &str) -> String {
    raw.chars()
        .take(MAX_KEY_CHARS)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Throttle {
    /// A throttle allowing `limit` attempts per `window`, holding up to [`DEFAULT_CAPACITY`] keys.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_capacity(limit, window, DEFAULT_CAPACITY)
    }

    /// A throttle holding at most `capacity` live keys (at least one).
    pub fn with_capacity(limit: u32, window: Duration, capacity: usize) -> Self {
        Throttle {
            limit,
            window,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Counts an attempt for `key` if it is allowed now; otherwise `Err(wait)`, how long until
    /// the key's window ends. When the map is full of live keys, a new key is refused until the
    /// oldest window ends (failing closed rather than forgetting counts).
    pub fn try_acquire(&self, key: &str) -> Result<(), Duration> {
        let key = normalise(key);
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        inner.prune(now, self.window);
        let left = |since: Instant| {
            self.window
                .saturating_sub(now.saturating_duration_since(since))
        };
        if let Some(e) = inner.entries.get_mut(key.as_str()) {
            if e.count >= self.limit {
                return Err(left(e.since));
            }
            e.count += 1;
            return Ok(());
        }
        if self.limit == 0 {
            return Err(self.window);
        }
        if inner.entries.len() >= self.capacity {
            let oldest = inner.order.front().map_or(now, |(since, _)| *since);
            return Err(left(oldest));
        }
        let key: Arc<str> = key.into();
        inner.order.push_back((now, key.clone()));
        inner.entries.insert(
            key,
            Entry {
                count: 1,
                since: now,
            },
        );
        Ok(())
    }

    /// Gives back one attempt that was counted but never made (the work was refused or failed
    /// before the credential was checked).
    /// A key left with no attempt is forgotten, so refused work never holds a place in the map.
    pub fn release(&self, key: &str) {
        lock(&self.inner).give_back(&normalise(key), false);
    }

    /// Forgets the attempts of `key` (after a successful login).
    pub fn clear(&self, key: &str) {
        lock(&self.inner).give_back(&normalise(key), true);
    }

    /// Window starts remembered (live keys, plus forgotten ones not yet dropped).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        lock(&self.inner).order.len()
    }

    /// Live keys held now.
    pub fn len(&self) -> usize {
        let mut inner = lock(&self.inner);
        inner.prune(Instant::now(), self.window);
        inner.entries.len()
    }

    /// `true` when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------------
// The sustained-flood detector: a sliding count.

/// Events over the last `SECS` seconds, in a ring of per-second counters (constant work per
/// event), against a limit; it takes `now` as a parameter. A frame counts whether it was
/// accepted or refused, so interleaving accepted frames does not reset it.
#[derive(Debug, Clone)]
pub struct SlidingWindow<const SECS: usize> {
    limit: u64,
    start: Instant,
    /// For each slot, the second (since `start`) it counts, and its count.
    second: [u64; SECS],
    count: [u64; SECS],
}

impl<const SECS: usize> SlidingWindow<SECS> {
    /// An empty window starting at `now`, over `limit` once it holds more than `limit` events.
    pub fn new(limit: u64, now: Instant) -> Self {
        const { assert!(SECS > 0, "a window of no seconds") };
        SlidingWindow {
            limit,
            start: now,
            second: [0; SECS],
            count: [0; SECS],
        }
    }

    /// Counts one event at `now`; `true` when the last `SECS` seconds (this one included) hold
    /// more than the limit.
    pub fn record(&mut self, now: Instant) -> bool {
        let secs = SECS as u64;
        let sec = now.saturating_duration_since(self.start).as_secs();
        let slot = (sec % secs) as usize;
        if self.second[slot] != sec {
            self.second[slot] = sec;
            self.count[slot] = 0;
        }
        self.count[slot] += 1;
        let total: u64 = self
            .second
            .iter()
            .zip(&self.count)
            .filter(|(s, _)| sec.saturating_sub(**s) < secs)
            .map(|(_, c)| c)
            .sum();
        total > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const MINUTE: Duration = Duration::from_secs(60);

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

    #[test]
    fn allows_limit_attempts_case_insensitively() {
        let t = Throttle::new(3, MINUTE);
        for _ in 0..3 {
            assert!(t.try_acquire("Alice").is_ok());
        }
        let wait = t.try_acquire("ALICE").expect_err("throttled");
        assert!(wait <= MINUTE && wait > Duration::from_secs(50));
        assert!(t.try_acquire("bob").is_ok());
        t.clear("alice");
        assert!(t.try_acquire("alice").is_ok());
    }

    #[test]
    fn release_gives_back_an_attempt() {
        let t = Throttle::new(1, MINUTE);
        assert!(t.try_acquire("a").is_ok());
        assert!(t.try_acquire("a").is_err());
        t.release("a");
        assert!(t.try_acquire("a").is_ok());
        assert!(t.try_acquire("a").is_err());
    }

    #[test]
    fn window_expires() {
        let t = Throttle::new(1, Duration::from_millis(0));
        assert!(t.try_acquire("a").is_ok());
        assert!(t.try_acquire("a").is_ok());
        assert!(t.is_empty());
    }

    #[test]
    fn a_limit_of_zero_refuses_everything() {
        let t = Throttle::new(0, MINUTE);
        assert_eq!(t.try_acquire("a"), Err(MINUTE));
        assert!(t.is_empty());
    }

    #[test]
    fn concurrent_attempts_never_exceed_the_limit() {
        let t = Arc::new(Throttle::new(5, MINUTE));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || (0..100).filter(|_| t.try_acquire("x").is_ok()).count())
            })
            .collect();
        let passed: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(passed, 5);
    }

    #[test]
    fn long_keys_are_cut() {
        let t = Throttle::new(2, MINUTE);
        let long = "x".repeat(60_000);
        assert!(t.try_acquire(&long).is_ok());
        assert!(t.try_acquire(&format!("{long}y")).is_ok());
        assert!(
            t.try_acquire(&"X".repeat(MAX_KEY_CHARS)).is_err(),
            "same key"
        );
        assert_eq!(normalise(&long).len(), MAX_KEY_CHARS);
        assert_eq!(normalise("Bob.X-Y"), "bob.x-y");
    }

    #[test]
    fn released_keys_hold_no_place() {
        let t = Throttle::with_capacity(5, MINUTE, 10);
        for i in 0..10_000 {
            let key = format!("passer-by {i}");
            assert!(t.try_acquire(&key).is_ok(), "never full");
            t.release(&key);
        }
        assert!(t.is_empty());
        assert!(t.remembered() <= 64 + 1, "{}", t.remembered());
        assert!(t.try_acquire("a").is_ok());
        t.clear("a");
        assert!(t.is_empty());
    }

    #[test]
    fn stays_bounded_when_every_key_is_live() {
        let t = Throttle::with_capacity(5, MINUTE, 3);
        for k in ["a", "b", "c"] {
            assert!(t.try_acquire(k).is_ok());
        }
        let wait = t.try_acquire("d").expect_err("full");
        assert!(wait > Duration::from_secs(50));
        assert!(t.try_acquire("a").is_ok(), "known keys still count");
        assert_eq!(t.len(), 3);

        let t = Throttle::with_capacity(5, Duration::from_millis(30), 3);
        for k in ["a", "b", "c"] {
            assert!(t.try_acquire(k).is_ok());
        }
        assert!(t.try_acquire("d").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.try_acquire("d").is_ok(), "expired keys make room");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn the_window_forgets_events_older_than_its_seconds() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::<5>::new(100, t0);
        for _ in 0..100 {
            assert!(!w.record(t0 + 500 * MS));
        }
        assert!(w.record(t0 + 4900 * MS), "101 within the window");
        let mut w = SlidingWindow::<5>::new(100, t0);
        for _ in 0..100 {
            assert!(!w.record(t0));
        }
        // Five seconds on, the first second has left the window.
        assert!(!w.record(t0 + 5000 * MS));
        for _ in 0..99 {
            assert!(!w.record(t0 + 5500 * MS));
        }
        assert!(w.record(t0 + 9999 * MS));
    }
}
