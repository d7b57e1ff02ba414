//! The cluster's sockets and node heartbeats on PostgreSQL: the statements of
//! [`crate::db::sockets`], same meaning.

use super::{locks, PgTransaction};
use crate::error::AppResult;

/// Records (or refreshes) `node`'s heartbeat.
pub fn heartbeat(c: &mut PgTransaction<'_>, node: i64, now_ms: i64) -> AppResult<()> {
    c.execute(
        "INSERT INTO nodes (id, seen_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
        &[&node, &now_ms],
    )?;
    Ok(())
}

/// Counts the user's sockets on live nodes and records one more unless there are already
/// `max`. Holds a transaction-scoped advisory lock on the user (namespace
/// [`locks::SOCKETS`]), so two nodes admitting the same user at once count one after the other.
pub fn admit(
    c: &mut PgTransaction<'_>,
    node: i64,
    conn_id: i64,
    user_id: i64,
    max: i64,
    live_since: i64,
) -> AppResult<bool> {
    c.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&locks::SOCKETS, &(user_id as i32)],
    )?;
    let open: i64 = c
        .query_one(
            "SELECT count(*) FROM sockets s JOIN nodes n ON n.id = s.node
             WHERE s.user_id = $1 AND n.seen_at >= $2",
            &[&user_id, &live_since],
        )?
        .try_get(0)?;
    if open >= max {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO sockets (node, conn_id, user_id) VALUES ($1, $2, $3)
         ON CONFLICT (node, conn_id) DO UPDATE SET user_id = excluded.user_id",
        &[&node, &conn_id, &user_id],
    )?;
    Ok(true)
}

/// Forgets a socket of `node`.
pub fn remove(c: &mut PgTransaction<'_>, node: i64, conn_id: i64) -> AppResult<()> {
    c.execute(
        "DELETE FROM sockets WHERE node = $1 AND conn_id = $2",
        &[&node, &conn_id],
    )?;
    Ok(())
}

/// Forgets nodes not seen since `before`, and their sockets; returns how many nodes.
pub fn prune(c: &mut PgTransaction<'_>, before: i64) -> AppResult<usize> {
    c.execute(
        "DELETE FROM sockets WHERE node IN (SELECT id FROM nodes WHERE seen_at < $1)",
        &[&before],
    )?;
    Ok(c.execute("DELETE FROM nodes WHERE seen_at < $1", &[&before])? as usize)
}
