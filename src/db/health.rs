//! Whether the database can take a write right now.
//!
//! A read that answers says little: with another process holding an exclusive lock, or the disk
//! full, reads still work while every write fails. So the storage layer remembers the outcome of
//! the latest write it attempted: the message writer's commits, any call that failed because
//! the database was unavailable, and a periodic write probe ([`super::Db::probe_write`]) that
//! keeps the answer fresh when no one writes and lets the state recover by itself.

use std::sync::Mutex;
use std::time::Instant;

/// The latest write outcome, shared by every clone of a [`super::Db`].
#[derive(Debug, Default)]
pub struct WriteHealth {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_ok: Option<Instant>,
    last_failure: Option<(Instant, String)>,
}

/// A snapshot for `/api/health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteStatus {
    /// The latest write succeeded (or none failed yet).
    Ok,
    /// The latest write failed; the cause, for logs and the health body.
    Failing(String),
}

impl WriteHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write committed.
    pub fn ok(&self) {
        let mut s = self.lock();
        let recovered = s.last_failure.is_some()
            && s.last_ok
                .is_none_or(|ok| s.last_failure.as_ref().is_some_and(|(f, _)| *f > ok));
        s.last_ok = Some(Instant::now());
        if recovered {
            tracing::info!("database writes work again");
        }
    }

    /// A write failed because the database could not take it.
    pub fn failed(&self, cause: &str) {
        let mut s = self.lock();
        let was_ok = s
            .last_failure
            .as_ref()
            .is_none_or(|(f, _)| s.last_ok.is_some_and(|ok| ok > *f));
        if was_ok {
            tracing::error!(cause, "database cannot take writes");
        }
        s.last_failure = Some((Instant::now(), cause.to_string()));
    }

    /// The state now: failing when the newest outcome is a failure.
    pub fn status(&self) -> WriteStatus {
        let s = self.lock();
        match (&s.last_failure, s.last_ok) {
            (Some((failed, cause)), ok) if ok.is_none_or(|ok| ok < *failed) => {
                WriteStatus::Failing(cause.clone())
            }
            _ => WriteStatus::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_outcome_wins() {
        let h = WriteHealth::default();
        assert_eq!(h.status(), WriteStatus::Ok);
        h.failed("disk full");
        assert_eq!(h.status(), WriteStatus::Failing("disk full".into()));
        h.ok();
        assert_eq!(h.status(), WriteStatus::Ok);
        h.failed("locked");
        assert_eq!(h.status(), WriteStatus::Failing("locked".into()));
    }
}
