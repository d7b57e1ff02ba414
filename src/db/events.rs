//! The cluster's event log (table `events`): what one node publishes for the others' sockets,
//! read back by every node in id order (see `hub::cluster`). SQL only.
//!
//! Only nodes started with `--bus` (on PostgreSQL) write here; the SQLite statements exist so
//! that the storage interface is the same on both backends, and for unit tests.

use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection};

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Position in the log (grows with commit order).
    pub id: i64,
    /// The node that published it.
    pub node: i64,
    /// The event, as JSON.
    pub body: String,
}

/// Appends events published by `node`.
pub fn insert(conn: &Connection, node: i64, bodies: &[String]) -> AppResult<()> {
    let now = Timestamp::now().millis();
    let mut stmt =
        conn.prepare_cached("INSERT INTO events (node, body, created_at) VALUES (?1, ?2, ?3)")?;
    for body in bodies {
        stmt.execute(params![node, body, now])?;
    }
    Ok(())
}

/// Events with id above `after`, oldest first, at most `limit`.
pub fn after(conn: &Connection, after: i64, limit: i64) -> AppResult<Vec<EventRow>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, node, body FROM events WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok(EventRow {
            id: r.get(0)?,
            node: r.get(1)?,
            body: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest event's id, 0 when there is none.
pub fn latest(conn: &Connection) -> AppResult<i64> {
    Ok(conn.query_row("SELECT COALESCE(max(id), 0) FROM events", [], |r| r.get(0))?)
}

/// Deletes events stored before `before`; returns how many.
pub fn prune(conn: &Connection, before: Timestamp) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM events WHERE created_at < ?1",
        [before.millis()],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn events_come_back_in_order_after_a_cursor_and_are_pruned() {
        let db = Db::open(":memory:").unwrap();
        let c = db.conn().unwrap();
        assert_eq!(latest(&c).unwrap(), 0);
        insert(&c, 7, &["a".into(), "b".into()]).unwrap();
        insert(&c, 8, &["c".into()]).unwrap();
        let all = after(&c, 0, 10).unwrap();
        let bodies: Vec<_> = all.iter().map(|e| (e.node, e.body.as_str())).collect();
        assert_eq!(bodies, [(7, "a"), (7, "b"), (8, "c")]);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(latest(&c).unwrap(), all[2].id);
        assert_eq!(after(&c, all[0].id, 1).unwrap()[0].body, "b");
        let later = Timestamp::from_millis(Timestamp::now().millis() + 1000);
        assert_eq!(prune(&c, later).unwrap(), 3);
        assert!(after(&c, 0, 10).unwrap().is_empty());
    }
}
