//! The cluster's event log on PostgreSQL: the statements of [`crate::db::events`], same meaning.

use super::{locks, PgTransaction};
use crate::db::events::EventRow;
use crate::error::AppResult;
use crate::time::Timestamp;

/// Appends events published by `node`. Holds [`locks::EVENTS`] until the transaction ends, so
/// that ids are handed out and committed in one order across nodes: a reader that has seen id
/// N never later finds a smaller id committed.
pub fn insert(c: &mut PgTransaction<'_>, node: i64, bodies: &[String]) -> AppResult<()> {
    if bodies.is_empty() {
        return Ok(());
    }
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::EVENTS])?;
    let now = Timestamp::now().millis();
    c.execute(
        "INSERT INTO events (node, body, created_at) SELECT $1, b, $3 FROM unnest($2::text[]) AS b",
        &[&node, &bodies, &now],
    )?;
    Ok(())
}

/// Events with id above `after`, oldest first, at most `limit`.
pub fn after(c: &mut PgTransaction<'_>, after: i64, limit: i64) -> AppResult<Vec<EventRow>> {
    let rows = c.query(
        "SELECT id, node, body FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after, &limit],
    )?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                id: r.try_get(0)?,
                node: r.try_get(1)?,
                body: r.try_get(2)?,
            })
        })
        .collect()
}

/// The newest event's id, 0 when there is none.
pub fn latest(c: &mut PgTransaction<'_>) -> AppResult<i64> {
    Ok(
        c.query_one("SELECT COALESCE(max(id), 0)::BIGINT FROM events", &[])?
            .try_get(0)?,
    )
}

/// Deletes events stored before `before`; returns how many.
pub fn prune(c: &mut PgTransaction<'_>, before: Timestamp) -> AppResult<usize> {
    Ok(c.execute(
        "DELETE FROM events WHERE created_at < $1",
        &[&before.millis()],
    )? as usize)
}
