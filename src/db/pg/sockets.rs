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
#[allow(clippy::too_many_arguments)]
pub fn admit(
    c: &mut PgTransaction<'_>,
    node: i64,
    conn_id: i64,
    user_id: i64,
    chat: bool,
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
        "INSERT INTO sockets (node, conn_id, user_id, chat) VALUES ($1, $2, $3, $4)
         ON CONFLICT (node, conn_id) DO UPDATE SET user_id = excluded.user_id, chat = excluded.chat",
        &[&node, &conn_id, &user_id, &chat],
    )?;
    Ok(true)
}

/// Which of `users` have a `/ws/chat/` socket on a live node other than `node`.
pub fn chat_elsewhere(
    c: &mut PgTransaction<'_>,
    users: &[i64],
    node: i64,
    live_since: i64,
) -> AppResult<Vec<i64>> {
    let rows = c.query(
        "SELECT DISTINCT s.user_id FROM sockets s JOIN nodes n ON n.id = s.node
         WHERE s.user_id = ANY($1) AND s.chat AND s.node <> $2 AND n.seen_at >= $3",
        &[&users, &node, &live_since],
    )?;
    Ok(rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
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
