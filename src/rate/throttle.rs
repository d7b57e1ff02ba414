//! Quotas per window (so many per window, per key): [`Throttle`], a count per key in a fixed
//! window that starts with the key's first attempt.

use super::{lock, DEFAULT_CAPACITY};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Keys of a [`Throttle`] are cut to this many characters. Usernames have at most 32 and IP
/// addresses at most 45, so no two real keys collide; longer input (a 60,000-character
/// "username") costs no more than this.
pub const MAX_KEY_CHARS: usize = 64;

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

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

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
}
