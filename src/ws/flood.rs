//! Flood control for one socket's inbound frames, in two layers:
//!
//! - a token bucket ([`Flood::take`], the [`TokenBucket`] that also limits REST writes per
//!   user) refuses single frames over `messages_per_second` (with a burst of two seconds'
//!   worth): the client gets a recoverable `rate_limited` error and the socket lives on;
//! - a sliding window ([`Flood::sustained`]) counts every frame received over the last five
//!   seconds, accepted or refused, and tells the socket to close with 4429 once more than twice
//!   the allowed rate arrived in that time: interleaving accepted frames does not reset it.
//!
//! Both take `now` as a parameter so that they can be tested without a clock.

use crate::rate::TokenBucket;
use std::time::Duration;
use tokio::time::Instant;

/// Seconds covered by the sliding window.
const WINDOW_SECS: u64 = 5;
/// The window closes the socket above this many times the allowed rate.
const SUSTAINED_FACTOR: u64 = 2;

/// Flood control state of one socket.
pub struct Flood {
    bucket: TokenBucket,
    window: Window,
}

impl Flood {
    /// Flood control for `per_second` frames per second, starting at `now`.
    pub fn new(per_second: u32, now: Instant) -> Self {
        let per_second = per_second.max(1);
        Flood {
            bucket: TokenBucket::new(per_second, now),
            window: Window::new(SUSTAINED_FACTOR * u64::from(per_second) * WINDOW_SECS, now),
        }
    }

    /// Counts a frame received at `now` (any frame); `true` when the socket has been sending
    /// more than twice the allowed rate over the last five seconds and must be closed.
    pub fn sustained(&mut self, now: Instant) -> bool {
        self.window.record(now)
    }

    /// `Ok` to handle a frame received at `now`; `Err(wait)` to refuse it, `wait` being when
    /// the next one would be accepted.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.bucket.take(now)
    }
}

/// Frames per second over the last [`WINDOW_SECS`] seconds, in a ring of per-second counters
/// (constant work per frame).
struct Window {
    limit: u64,
    start: Instant,
    /// For each slot, the second (since `start`) it counts, and its count.
    second: [u64; WINDOW_SECS as usize],
    count: [u64; WINDOW_SECS as usize],
}

impl Window {
    fn new(limit: u64, now: Instant) -> Self {
        Window {
            limit,
            start: now,
            second: [0; WINDOW_SECS as usize],
            count: [0; WINDOW_SECS as usize],
        }
    }

    /// Counts one frame at `now`; `true` when the window holds more than the limit.
    fn record(&mut self, now: Instant) -> bool {
        let sec = now.saturating_duration_since(self.start).as_secs();
        let slot = (sec % WINDOW_SECS) as usize;
        if self.second[slot] != sec {
            self.second[slot] = sec;
            self.count[slot] = 0;
        }
        self.count[slot] += 1;
        let total: u64 = self
            .second
            .iter()
            .zip(&self.count)
            .filter(|(s, _)| sec.saturating_sub(**s) < WINDOW_SECS)
            .map(|(_, c)| c)
            .sum();
        total > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds `per_second` frames per second, evenly spaced, for `secs` seconds from `t0`,
    /// through the window and then the bucket; returns (accepted, refused, closed-at-frame).
    fn run(f: &mut Flood, t0: Instant, per_second: u32, secs: u32) -> (u32, u32, Option<u32>) {
        let (mut ok, mut refused) = (0, 0);
        for i in 0..per_second * secs {
            let now = t0 + Duration::from_secs_f64(f64::from(i) / f64::from(per_second));
            if f.sustained(now) {
                return (ok, refused, Some(i));
            }
            match f.take(now) {
                Ok(()) => ok += 1,
                Err(_) => refused += 1,
            }
        }
        (ok, refused, None)
    }

    #[test]
    fn just_under_the_rate_is_never_refused_nor_closed() {
        let t0 = Instant::now();
        let mut f = Flood::new(10, t0);
        assert_eq!(run(&mut f, t0, 9, 60), (540, 0, None));
    }

    #[test]
    fn twice_the_rate_is_refused_in_part_but_not_closed() {
        let t0 = Instant::now();
        let mut f = Flood::new(10, t0);
        let (ok, refused, closed) = run(&mut f, t0, 20, 60);
        assert_eq!(closed, None);
        assert!(refused > 0 && ok > 0, "{ok} {refused}");
    }

    #[test]
    fn five_times_the_rate_interleaved_with_accepted_frames_closes() {
        let t0 = Instant::now();
        let mut f = Flood::new(10, t0);
        let (ok, refused, closed) = run(&mut f, t0, 50, 20);
        // Accepted frames kept coming (the bucket refills), and still the window closed it
        // once more than 100 frames arrived within five seconds.
        assert!(ok > 20 && refused > 0, "{ok} {refused}");
        assert_eq!(closed, Some(100));
    }

    #[test]
    fn the_window_forgets_frames_older_than_five_seconds() {
        let t0 = Instant::now();
        let mut w = Window::new(100, t0);
        for _ in 0..100 {
            assert!(!w.record(t0 + 500 * MS));
        }
        assert!(w.record(t0 + 4900 * MS), "101 within the window");
        let mut w = Window::new(100, t0);
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
