//! Window quotas (table `quotas`): a count per `(scope, key)` in a fixed window that starts with
//! the key's first attempt, what [`crate::quota::Quota`] keeps in the database. SQL only; times
//! are milliseconds since the Unix epoch, passed in (`now_ms`), so the statements are tested
//! without a clock.
//!
//! Run [`acquire`] inside a write transaction (`BEGIN IMMEDIATE`): the check and the count are
//! then one step, whatever else runs at the same time.

use crate::error::AppResult;
use rusqlite::{params, Connection, OptionalExtension};

/// Expired rows of a scope deleted per [`acquire`], at most: each call adds at most one row and
/// removes up to this many expired ones, so expired rows never pile up, and no call does
/// unbounded work.
pub const PRUNE_BATCH: i64 = 64;

/// Counts an attempt for `key` in `scope` if it is allowed at `now_ms`: `None` when it was
/// counted, `Some(ms)` when it is refused, `ms` being the time left until the key's window ends.
/// A window that has ended restarts at `now_ms` with this attempt; a `limit` of 0 refuses
/// everything (for the whole window). Deletes up to [`PRUNE_BATCH`] rows of the scope whose
/// window has ended.
pub fn acquire(
    conn: &Connection,
    scope: &str,
    key: &str,
    limit: i64,
    window_ms: i64,
    now_ms: i64,
) -> AppResult<Option<i64>> {
    if limit <= 0 {
        return Ok(Some(window_ms));
    }
    let ended = now_ms.saturating_sub(window_ms);
    conn.prepare_cached(
        "DELETE FROM quotas WHERE rowid IN
           (SELECT rowid FROM quotas WHERE scope = ?1 AND window_start <= ?2 LIMIT ?3)",
    )?
    .execute(params![scope, ended, PRUNE_BATCH])?;
    // A live window counts one more below the limit; an ended one (not pruned yet) restarts.
    let counted = conn
        .prepare_cached(
            "INSERT INTO quotas (scope, key, window_start, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (scope, key) DO UPDATE SET
               window_start = CASE WHEN quotas.window_start <= ?4 THEN ?3
                                   ELSE quotas.window_start END,
               count = CASE WHEN quotas.window_start <= ?4 THEN 1 ELSE quotas.count + 1 END
             WHERE quotas.window_start <= ?4 OR quotas.count < ?5
             RETURNING count",
        )?
        .query_row(params![scope, key, now_ms, ended, limit], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?;
    if counted.is_some() {
        return Ok(None);
    }
    let start: i64 = conn
        .prepare_cached("SELECT window_start FROM quotas WHERE scope = ?1 AND key = ?2")?
        .query_row(params![scope, key], |r| r.get(0))?;
    Ok(Some(left(start, window_ms, now_ms)))
}

/// Milliseconds left of a live window that started at `start` (a start in the future, written
/// by a node whose clock is ahead, counts as now): between 1 and `window_ms`.
pub fn left(start: i64, window_ms: i64, now_ms: i64) -> i64 {
    let elapsed = now_ms.saturating_sub(start).max(0);
    window_ms.saturating_sub(elapsed).clamp(1, window_ms.max(1))
}

/// Gives back one counted attempt of `key` (`all`: every attempt); a key left with none is
/// deleted.
pub fn release(conn: &Connection, scope: &str, key: &str, all: bool) -> AppResult<()> {
    if !all {
        conn.prepare_cached("UPDATE quotas SET count = count - 1 WHERE scope = ?1 AND key = ?2")?
            .execute(params![scope, key])?;
    }
    conn.prepare_cached("DELETE FROM quotas WHERE scope = ?1 AND key = ?2 AND (?3 OR count <= 0)")?
        .execute(params![scope, key, all])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    const MIN: i64 = 60_000;

    fn db() -> Db {
        Db::open(":memory:").unwrap()
    }

    fn rows(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM quotas", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn counts_up_to_the_limit_then_refuses_until_the_window_ends() {
        let db = db();
        let c = db.conn().unwrap();
        let t0 = 1_000_000;
        for i in 0..3 {
            assert_eq!(acquire(&c, "s", "k", 3, MIN, t0 + i).unwrap(), None);
        }
        assert_eq!(
            acquire(&c, "s", "k", 3, MIN, t0 + 10).unwrap(),
            Some(MIN - 10)
        );
        // The window started with the first attempt, not the latest.
        assert_eq!(
            acquire(&c, "s", "k", 3, MIN, t0 + MIN - 1).unwrap(),
            Some(1)
        );
        // Other keys and scopes have their own counts.
        assert_eq!(acquire(&c, "s", "other", 3, MIN, t0).unwrap(), None);
        assert_eq!(acquire(&c, "t", "k", 3, MIN, t0).unwrap(), None);
        // The window has ended: it restarts with this attempt, counted as the first.
        assert_eq!(acquire(&c, "s", "k", 3, MIN, t0 + MIN).unwrap(), None);
        assert_eq!(acquire(&c, "s", "k", 3, MIN, t0 + MIN + 1).unwrap(), None);
        assert_eq!(acquire(&c, "s", "k", 3, MIN, t0 + MIN + 2).unwrap(), None);
        assert_eq!(
            acquire(&c, "s", "k", 3, MIN, t0 + MIN + 5).unwrap(),
            Some(MIN - 5)
        );
    }

    #[test]
    fn a_limit_of_zero_refuses_everything_and_stores_nothing() {
        let db = db();
        let c = db.conn().unwrap();
        assert_eq!(acquire(&c, "s", "k", 0, MIN, 5).unwrap(), Some(MIN));
        assert_eq!(rows(&c), 0);
    }

    #[test]
    fn release_gives_back_one_and_all_gives_back_every_attempt() {
        let db = db();
        let c = db.conn().unwrap();
        assert_eq!(acquire(&c, "s", "k", 2, MIN, 0).unwrap(), None);
        assert_eq!(acquire(&c, "s", "k", 2, MIN, 1).unwrap(), None);
        assert!(acquire(&c, "s", "k", 2, MIN, 2).unwrap().is_some());
        release(&c, "s", "k", false).unwrap();
        assert_eq!(acquire(&c, "s", "k", 2, MIN, 3).unwrap(), None);
        assert!(acquire(&c, "s", "k", 2, MIN, 4).unwrap().is_some());
        release(&c, "s", "k", true).unwrap();
        assert_eq!(rows(&c), 0, "a cleared key is forgotten");
        // A key given back its only attempt is forgotten too, and starts a new window.
        assert_eq!(acquire(&c, "s", "k", 2, MIN, 10).unwrap(), None);
        release(&c, "s", "k", false).unwrap();
        assert_eq!(rows(&c), 0);
        // Releasing what is not there is harmless.
        release(&c, "s", "nobody", false).unwrap();
        release(&c, "s", "nobody", true).unwrap();
    }

    #[test]
    fn ended_windows_are_pruned_in_bounded_batches() {
        let db = db();
        let c = db.conn().unwrap();
        for i in 0..200 {
            acquire(&c, "s", &format!("k{i}"), 5, MIN, 0).unwrap();
            acquire(&c, "other", &format!("k{i}"), 5, MIN, 0).unwrap();
        }
        assert_eq!(rows(&c), 400);
        // Each attempt once the windows ended deletes up to PRUNE_BATCH of its scope's rows.
        acquire(&c, "s", "late", 5, MIN, MIN).unwrap();
        assert_eq!(rows(&c), 400 - PRUNE_BATCH + 1);
        for _ in 0..4 {
            acquire(&c, "s", "late", 5, MIN, MIN).unwrap();
        }
        let left: i64 = c
            .query_row("SELECT count(*) FROM quotas WHERE scope = 's'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 1, "only the live key of the scope is left");
        let other: i64 = c
            .query_row(
                "SELECT count(*) FROM quotas WHERE scope = 'other'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(other, 200, "another scope (another window) is not touched");
    }

    #[test]
    fn time_left_is_within_the_window_even_with_a_clock_behind() {
        assert_eq!(left(100, MIN, 100), MIN);
        assert_eq!(
            left(100, MIN, 50),
            MIN,
            "a start in the future counts as now"
        );
        assert_eq!(left(0, MIN, MIN - 1), 1);
    }
}
