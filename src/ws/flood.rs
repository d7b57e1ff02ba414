//! Flood control for one socket's inbound frames, in two layers, both from [`crate::rate`]:
//!
//! - a token bucket ([`Flood::take`], the [`TokenBucket`] that also limits REST writes per
//!   user, a GCRA rate from the `governor` crate) refuses single frames over
//!   `messages_per_second` (with a burst of two seconds' worth): the client gets a recoverable
//!   `rate_limited` error and the socket lives on;
//! - a sliding window ([`Flood::sustained`], a [`SlidingWindow`]) counts every frame received
//!   over the last five seconds, accepted or refused, and tells the socket to close with 4429
//!   once more than twice the allowed rate arrived in that time: interleaving accepted frames
//!   does not reset it.
//!
//! Both take `now` as a parameter so that they can be tested without a clock.

use crate::rate::{SlidingWindow, TokenBucket};
use std::time::Duration;
use tokio::time::Instant;

/// Seconds covered by the sliding window.
const WINDOW_SECS: u64 = 5;
/// The window closes the socket above this many times the allowed rate.
const SUSTAINED_FACTOR: u64 = 2;

/// Flood control state of one socket.
pub struct Flood {
    bucket: TokenBucket,
    window: SlidingWindow<{ WINDOW_SECS as usize }>,
}

impl Flood {
    /// Flood control for `per_second` frames per second, starting at `now`.
    pub fn new(per_second: u32, now: Instant) -> Self {
        let per_second = per_second.max(1);
        Flood {
            bucket: TokenBucket::new(per_second, now),
            window: SlidingWindow::new(SUSTAINED_FACTOR * u64::from(per_second) * WINDOW_SECS, now),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
