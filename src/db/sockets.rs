//! The sockets every node of a cluster has open, and the nodes' heartbeats: what makes the
//! per-user socket cap hold across nodes (see `hub::cluster`). SQL only.
//!
//! A node counts a user's sockets on every live node (one whose heartbeat is recent), adds its
//! own, and removes it when the socket ends. A node that dies leaves its rows behind; they stop
//! counting once its heartbeat is older than the liveness window, and are pruned later.

use crate::error::AppResult;
use rusqlite::{params, Connection};

/// Records (or refreshes) `node`'s heartbeat.
pub fn heartbeat(conn: &Connection, node: i64, now_ms: i64) -> AppResult<()> {
    conn.execute(
        "INSERT INTO nodes (id, seen_at) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
        params![node, now_ms],
    )?;
    Ok(())
}

/// Counts the user's sockets on nodes seen since `live_since`, and records one more for
/// `node` unless there are already `max`; returns whether it was recorded.
#[allow(clippy::too_many_arguments)]
pub fn admit(
    conn: &Connection,
    node: i64,
    conn_id: i64,
    user_id: i64,
    chat: bool,
    max: i64,
    live_since: i64,
) -> AppResult<bool> {
    let open: i64 = conn.query_row(
        "SELECT count(*) FROM sockets s JOIN nodes n ON n.id = s.node
         WHERE s.user_id = ?1 AND n.seen_at >= ?2",
        params![user_id, live_since],
        |r| r.get(0),
    )?;
    if open >= max {
        return Ok(false);
    }
    conn.execute(
        "INSERT OR REPLACE INTO sockets (node, conn_id, user_id, chat) VALUES (?1, ?2, ?3, ?4)",
        params![node, conn_id, user_id, chat],
    )?;
    Ok(true)
}

/// Which of `users` have a `/ws/chat/` socket on a live node other than `node`.
pub fn chat_elsewhere(
    conn: &Connection,
    users: &[i64],
    node: i64,
    live_since: i64,
) -> AppResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM sockets s JOIN nodes n ON n.id = s.node
         WHERE s.user_id = ?1 AND s.chat = 1 AND s.node <> ?2 AND n.seen_at >= ?3 LIMIT 1",
    )?;
    let mut out = Vec::new();
    for &u in users {
        if stmt.exists(params![u, node, live_since])? {
            out.push(u);
        }
    }
    Ok(out)
}

/// Forgets a socket of `node`.
pub fn remove(conn: &Connection, node: i64, conn_id: i64) -> AppResult<()> {
    conn.execute(
        "DELETE FROM sockets WHERE node = ?1 AND conn_id = ?2",
        params![node, conn_id],
    )?;
    Ok(())
}

/// Forgets nodes not seen since `before`, and their sockets; returns how many nodes.
pub fn prune(conn: &Connection, before: i64) -> AppResult<usize> {
    conn.execute(
        "DELETE FROM sockets WHERE node IN (SELECT id FROM nodes WHERE seen_at < ?1)",
        [before],
    )?;
    Ok(conn.execute("DELETE FROM nodes WHERE seen_at < ?1", [before])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn the_cap_counts_live_nodes_only_and_presence_looks_elsewhere() {
        let db = Db::open(":memory:").unwrap();
        let c = db.conn().unwrap();
        heartbeat(&c, 1, 1_000).unwrap();
        heartbeat(&c, 2, 1_000).unwrap();
        // User 5: two sockets (cap 2) on two nodes; a third is refused.
        assert!(admit(&c, 1, 10, 5, true, 2, 0).unwrap());
        assert!(admit(&c, 2, 20, 5, false, 2, 0).unwrap());
        assert!(!admit(&c, 2, 21, 5, true, 2, 0).unwrap());
        // Node 2's chat-less socket is not presence; node 1's chat socket is, seen from node 2.
        assert_eq!(chat_elsewhere(&c, &[5, 6], 2, 0).unwrap(), [5]);
        assert!(chat_elsewhere(&c, &[5], 1, 0).unwrap().is_empty());
        // Node 1 goes quiet: its socket stops counting, and is pruned with it.
        heartbeat(&c, 2, 5_000).unwrap();
        assert!(admit(&c, 2, 21, 5, true, 2, 2_000).unwrap());
        assert!(chat_elsewhere(&c, &[5], 2, 2_000).unwrap().is_empty());
        assert_eq!(prune(&c, 2_000).unwrap(), 1);
        remove(&c, 2, 21).unwrap();
        assert!(admit(&c, 2, 22, 5, true, 2, 2_000).unwrap());
    }
}
