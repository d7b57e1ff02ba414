//! Counting events per key in a fixed window (failed logins per username, new guests per
//! address), in memory and per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events per (lower-cased) key in a window. After `max_failures`
/// within `window`, further attempts for that key are refused until the window that
/// started with the first failure has passed.
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// A throttle allowing `max_failures` per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Throttle {
            max_failures,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(wait)` when this key is throttled now.
    pub fn check(&self, username: &str) -> Option<Duration> {
        let key = username.to_ascii_lowercase();
        let mut map = self.lock();
        let (count, since) = *map.get(&key)?;
        let elapsed = since.elapsed();
        if elapsed >= self.window {
            map.remove(&key);
            return None;
        }
        (count >= self.max_failures).then(|| self.window - elapsed)
    }

    /// Records an event (a failed login, a guest created).
    pub fn record(&self, username: &str) {
        let key = username.to_ascii_lowercase();
        let mut map = self.lock();
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Clears the counter (after a successful login).
    pub fn clear(&self, username: &str) {
        self.lock().remove(&username.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_max_failures_case_insensitively() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("Alice").is_none());
            t.record("alice");
        }
        let wait = t.check("ALICE").expect("throttled");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(t.check("bob").is_none());
        t.clear("alice");
        assert!(t.check("alice").is_none());
    }

    #[test]
    fn window_expires() {
        let t = Throttle::new(1, Duration::from_millis(0));
        t.record("a");
        assert!(t.check("a").is_none());
    }
}
