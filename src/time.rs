//! The one timestamp type of the wire contract.
//!
//! Every timestamp Hearth sends is an RFC 3339 string in UTC with millisecond precision and a
//! `Z` suffix (`2026-11-23T10:15:30.123Z`). Storage keeps milliseconds since the Unix epoch as an
//! `INTEGER`, which sorts and compares cheaply. Every serialized type uses [`Timestamp`], so no
//! code path can format a time differently.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Serialize, Serializer};
use std::time::Duration;

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// A timestamp from milliseconds since the Unix epoch (as stored in SQLite).
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus a duration (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// The time left until this instant, or zero if it has passed.
    pub fn remaining(self) -> Duration {
        let left = self.0 - Timestamp::now().0;
        Duration::from_millis(u64::try_from(left).unwrap_or(0))
    }

    /// The contract's string form: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_rfc3339(self) -> String {
        let dt: DateTime<Utc> = Utc
            .timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        dt.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_millis_and_z() {
        let t = Timestamp::from_millis(1_795_000_530_123);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-18T11:15:30.123Z\""
        );
        assert_eq!(
            Timestamp::from_millis(0).to_rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn option_serializes_as_null() {
        let t: Option<Timestamp> = None;
        assert_eq!(serde_json::to_string(&t).unwrap(), "null");
    }

    #[test]
    fn plus_and_remaining() {
        let t = Timestamp::now().plus(Duration::from_secs(10));
        assert!(t.remaining() > Duration::from_secs(8));
        assert_eq!(Timestamp::from_millis(0).remaining(), Duration::ZERO);
    }
}
