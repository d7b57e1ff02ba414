//! Window quotas on PostgreSQL: the statements of [`crate::db::quotas`], same meaning.
//!
//! [`acquire`] is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`: PostgreSQL
//! either inserts the key or locks its row and updates it, so concurrent attempts on every node
//! are counted one after another and never all pass a check before any is counted. A refused
//! attempt (the `WHERE` is false) still locks the row, and the `SELECT` after it reads the
//! window's start.

use super::PgTransaction;
use crate::db::quotas::{left, PRUNE_BATCH};
use crate::error::AppResult;

/// Counts an attempt for `key` in `scope` if it is allowed at `now_ms` (see
/// [`crate::db::quotas::acquire`]). The expired rows it deletes are ones no other transaction
/// holds (`SKIP LOCKED`): nodes pruning at once never wait for each other.
pub fn acquire(
    c: &mut PgTransaction<'_>,
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
    c.execute(
        "DELETE FROM quotas WHERE (scope, key) IN
           (SELECT scope, key FROM quotas WHERE scope = $1 AND window_start <= $2
            LIMIT $3 FOR UPDATE SKIP LOCKED)",
        &[&scope, &ended, &PRUNE_BATCH],
    )?;
    let counted = c.query_opt(
        "INSERT INTO quotas (scope, key, window_start, count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (scope, key) DO UPDATE SET
           window_start = CASE WHEN quotas.window_start <= $4 THEN $3
                               ELSE quotas.window_start END,
           count = CASE WHEN quotas.window_start <= $4 THEN 1 ELSE quotas.count + 1 END
         WHERE quotas.window_start <= $4 OR quotas.count < $5
         RETURNING count",
        &[&scope, &key, &now_ms, &ended, &limit],
    )?;
    if counted.is_some() {
        return Ok(None);
    }
    let start: i64 = c
        .query_one(
            "SELECT window_start FROM quotas WHERE scope = $1 AND key = $2",
            &[&scope, &key],
        )?
        .try_get(0)?;
    Ok(Some(left(start, window_ms, now_ms)))
}

/// Gives back one counted attempt of `key` (`all`: every attempt); a key left with none is
/// deleted.
pub fn release(c: &mut PgTransaction<'_>, scope: &str, key: &str, all: bool) -> AppResult<()> {
    // The update locks the row until the transaction ends: the delete sees its own count.
    if !all {
        c.execute(
            "UPDATE quotas SET count = count - 1 WHERE scope = $1 AND key = $2",
            &[&scope, &key],
        )?;
    }
    c.execute(
        "DELETE FROM quotas WHERE scope = $1 AND key = $2 AND ($3 OR count <= 0)",
        &[&scope, &key, &all],
    )?;
    Ok(())
}
