//! Counting attempts per key in a fixed window (logins per username, new guests and
//! registrations per address, new rooms per user), in memory and per process.
//!
//! [`Throttle`] lives with every other limiter in [`crate::rate`] (whose documentation says why
//! it is a counter and not a GCRA rate); it is re-exported here under the path its users know.

pub use crate::rate::{normalise, Throttle, DEFAULT_CAPACITY, MAX_KEY_CHARS};
