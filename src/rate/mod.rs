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
//! tokio's clock ([`Instant`](tokio::time::Instant)).

mod gcra;
mod throttle;
mod window;

pub use gcra::{TokenBucket, UserBuckets, BURST_SECS};
pub use throttle::{normalise, Throttle, MAX_KEY_CHARS};
pub use window::SlidingWindow;

use std::sync::{Mutex, MutexGuard};

/// Live keys a keyed limiter ([`UserBuckets`], [`Throttle`]) holds by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Locks `m`, going on with the data of a thread that panicked while holding it (every update
/// here is complete or not made).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
