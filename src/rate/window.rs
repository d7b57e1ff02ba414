//! The sustained-flood detector of a socket: [`SlidingWindow`], a sliding count.

use tokio::time::Instant;

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
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

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
