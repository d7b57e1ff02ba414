//! Tasks: SQL only, and [`TaskStatus`], the one place statuses meet their TEXT column.

use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Where a task is in its life. On the wire and in the `status` column it is the snake_case
/// name ([`TaskStatus::as_str`]); `queued` and `running` are active, the others are ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for a free slot.
    Queued,
    /// Running now.
    Running,
    /// Ended with its full result.
    Completed,
    /// Ended with an error (no result).
    Failed,
    /// Cancelled by its owner (a running one keeps its partial result).
    Cancelled,
    /// Stopped by a shutdown (keeps its partial result and progress).
    Interrupted,
}

impl TaskStatus {
    /// Every status, in the contract's order.
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::Interrupted,
    ];

    /// The names of [`TaskStatus::ALL`], in the same order.
    pub const NAMES: [&'static str; 6] = {
        let mut names = [""; 6];
        let mut i = 0;
        while i < names.len() {
            names[i] = TaskStatus::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The name on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Interrupted => "interrupted",
        }
    }

    /// Whether the task has yet to end (`queued` or `running`).
    pub const fn is_active(self) -> bool {
        matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no [`TaskStatus`] (names are exact: lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown task status {:?}", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for TaskStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

impl ToSql for TaskStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for TaskStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map_err(FromSqlError::other)
    }
}

/// The SQL condition for active tasks, written out (not bound) so that SQLite can use the
/// partial index `tasks_user_active`, whose `WHERE` is this text. A unit test checks it against
/// [`TaskStatus::is_active`].
const ACTIVE: &str = "status IN ('queued', 'running')";

/// A task as the contract shows it (the full result is fetched separately).
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// Kind name.
    pub kind: String,
    /// Where the task is in its life.
    pub status: TaskStatus,
    /// The parameters as accepted.
    pub params: Value,
    /// 0–100.
    pub progress: i64,
    /// Items done.
    pub processed: i64,
    /// Items in all.
    pub total: i64,
    /// A short summary of the result.
    pub result_summary: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Started.
    pub started_at: Option<Timestamp>,
    /// Ended.
    pub finished_at: Option<Timestamp>,
    /// Owner (not part of the wire format).
    #[serde(skip)]
    pub user_id: i64,
}

const COLUMNS: &str = "id, kind, status, params, progress, processed, total, result_summary, \
     error, created_at, started_at, finished_at, user_id";

fn json_col(s: Option<String>) -> Option<Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    let ts = |v: Option<i64>| v.map(Timestamp::from_millis);
    Ok(Task {
        id: r.get(0)?,
        kind: r.get(1)?,
        status: r.get(2)?,
        params: json_col(r.get(3)?).unwrap_or(Value::Null),
        progress: r.get(4)?,
        processed: r.get(5)?,
        total: r.get(6)?,
        result_summary: json_col(r.get(7)?),
        error: r.get(8)?,
        created_at: Timestamp::from_millis(r.get(9)?),
        started_at: ts(r.get(10)?),
        finished_at: ts(r.get(11)?),
        user_id: r.get(12)?,
    })
}

/// Stores a queued task.
pub fn insert(
    conn: &Connection,
    user_id: i64,
    kind: &str,
    params: &Value,
    total: i64,
) -> AppResult<Task> {
    conn.execute(
        "INSERT INTO tasks (user_id, kind, params, status, total, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user_id,
            kind,
            params.to_string(),
            TaskStatus::Queued,
            total,
            Timestamp::now().millis()
        ],
    )?;
    let id = conn.last_insert_rowid();
    by_id(conn, id)?.ok_or_else(|| crate::error::AppError::Internal("task vanished".into()))
}

/// How many tasks of a user are `queued` or `running` (uses the partial index
/// `tasks_user_active`).
pub fn count_active(conn: &Connection, user_id: i64) -> AppResult<i64> {
    Ok(conn.query_row(
        &format!("SELECT count(*) FROM tasks WHERE user_id = ?1 AND {ACTIVE}"),
        [user_id],
        |r| r.get(0),
    )?)
}

/// A task by id.
pub fn by_id(conn: &Connection, id: i64) -> AppResult<Option<Task>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// A user's tasks, newest first, optionally of one status.
pub fn of_user(
    conn: &Connection,
    user_id: i64,
    status: Option<TaskStatus>,
    limit: i64,
) -> AppResult<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE user_id = ?1 AND (?2 IS NULL OR status = ?2)
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, status, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A user's queued and running tasks, oldest first.
pub fn active_of_user(conn: &Connection, user_id: i64) -> AppResult<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE user_id = ?1 AND {ACTIVE} ORDER BY id"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The oldest `limit` queued tasks, oldest first.
pub fn queued(conn: &Connection, limit: i64) -> AppResult<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE status = ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![TaskStatus::Queued, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves a queued task to running on `node`, its lease held until `lease_until` (ms); `false`
/// if it was no longer queued (cancelled meanwhile, or claimed by another node).
pub fn mark_running(conn: &Connection, id: i64, node: i64, lease_until: i64) -> AppResult<bool> {
    Ok(conn.execute(
        "UPDATE tasks SET status = ?3, started_at = ?2, node = ?5, lease_until = ?6
         WHERE id = ?1 AND status = ?4",
        params![
            id,
            Timestamp::now().millis(),
            TaskStatus::Running,
            TaskStatus::Queued,
            node,
            lease_until
        ],
    )? == 1)
}

/// Extends the leases of every task running on `node` to `lease_until` (ms); how many.
pub fn renew_leases(conn: &Connection, node: i64, lease_until: i64) -> AppResult<usize> {
    Ok(conn.execute(
        "UPDATE tasks SET lease_until = ?2 WHERE node = ?1 AND status = ?3",
        params![node, lease_until, TaskStatus::Running],
    )?)
}

/// Asks whichever node runs the task to stop it; `false` if it is not running.
pub fn request_cancel(conn: &Connection, id: i64) -> AppResult<bool> {
    Ok(conn.execute(
        "UPDATE tasks SET cancel_requested = 1 WHERE id = ?1 AND status = ?2",
        params![id, TaskStatus::Running],
    )? == 1)
}

/// The ids of tasks running on `node` whose cancel was requested (at most `limit`).
pub fn cancel_requested(conn: &Connection, node: i64, limit: i64) -> AppResult<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM tasks WHERE node = ?1 AND status = ?2 AND cancel_requested
         ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![node, TaskStatus::Running, limit], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records progress.
pub fn set_progress(
    conn: &Connection,
    id: i64,
    progress: i64,
    processed: i64,
    total: i64,
) -> AppResult<()> {
    conn.execute(
        "UPDATE tasks SET progress = ?2, processed = ?3, total = ?4 WHERE id = ?1",
        params![id, progress, processed, total],
    )?;
    Ok(())
}

/// Ends a task with its status, (partial) result, summary or error.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    conn: &Connection,
    id: i64,
    status: TaskStatus,
    progress: i64,
    processed: i64,
    result: Option<&Value>,
    summary: Option<&Value>,
    error: Option<&str>,
) -> AppResult<()> {
    conn.execute(
        "UPDATE tasks SET status = ?2, progress = ?3, processed = ?4, result = ?5,
                          result_summary = ?6, error = ?7, finished_at = ?8
         WHERE id = ?1",
        params![
            id,
            status,
            progress,
            processed,
            result.map(Value::to_string),
            summary.map(Value::to_string),
            error,
            Timestamp::now().millis()
        ],
    )?;
    Ok(())
}

/// Cancels a task that is still queued; `false` if it is not.
pub fn cancel_queued(conn: &Connection, id: i64) -> AppResult<bool> {
    Ok(conn.execute(
        "UPDATE tasks SET status = ?3, finished_at = ?2 WHERE id = ?1 AND status = ?4",
        params![
            id,
            Timestamp::now().millis(),
            TaskStatus::Cancelled,
            TaskStatus::Queued
        ],
    )? == 1)
}

/// Whether a running task's lease ended before `now` (ms) or it has none: what
/// [`interrupt_expired`] would change (a read, so that idle sweeps write nothing).
pub fn any_expired(conn: &Connection, now: i64) -> AppResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tasks
                        WHERE status = ?1 AND (lease_until IS NULL OR lease_until < ?2))",
        params![TaskStatus::Running, now],
        |r| r.get(0),
    )?)
}

/// Running tasks whose node is gone become `interrupted` (progress kept): those whose lease
/// ended before `now` (ms), and those without one (left by a version without leases). At most
/// `limit` of them, oldest first; returns them as they were before (still `running`). Writes are
/// serialized, so the select and the update see the same rows.
pub fn interrupt_expired(conn: &Connection, now: i64, limit: i64) -> AppResult<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks
         WHERE status = ?1 AND (lease_until IS NULL OR lease_until < ?2)
         ORDER BY id LIMIT ?3"
    ))?;
    let tasks: Vec<Task> = stmt
        .query_map(params![TaskStatus::Running, now, limit], from_row)?
        .collect::<Result<_, _>>()?;
    let mut update = conn
        .prepare("UPDATE tasks SET status = ?2, finished_at = ?3 WHERE id = ?1 AND status = ?4")?;
    let at = Timestamp::now().millis();
    for t in &tasks {
        update.execute(params![
            t.id,
            TaskStatus::Interrupted,
            at,
            TaskStatus::Running
        ])?;
    }
    Ok(tasks)
}

/// The stored full result.
pub fn result(conn: &Connection, id: i64) -> AppResult<Option<Value>> {
    let s: Option<Option<String>> = conn
        .query_row("SELECT result FROM tasks WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    Ok(json_col(s.flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn status_names_round_trip_through_json_and_text() {
        for s in TaskStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), Value::from(s.as_str()));
            let back: TaskStatus = serde_json::from_value(Value::from(s.as_str())).unwrap();
            assert_eq!(back, s);
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(
            TaskStatus::NAMES,
            [
                "queued",
                "running",
                "completed",
                "failed",
                "cancelled",
                "interrupted"
            ]
        );
        for bad in ["QUEUED", "", "done", " queued"] {
            assert_eq!(
                bad.parse::<TaskStatus>(),
                Err(UnknownStatus(bad.to_string()))
            );
        }
        assert!(serde_json::from_value::<TaskStatus>(Value::from("Queued")).is_err());
    }

    #[test]
    fn the_active_condition_names_the_active_statuses() {
        let active: Vec<String> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(ACTIVE, format!("status IN ({})", active.join(", ")));
        // The schema's partial index has the same condition, so queries using ACTIVE use it.
        assert!(crate::db::SCHEMA.contains(&format!("WHERE {ACTIVE};")));
    }

    #[test]
    fn every_status_round_trips_through_the_status_column() {
        let db = Db::open(":memory:").unwrap();
        let c = db.conn().unwrap();
        let user = crate::db::users::insert(&c, "alice", "Alice", None, false, false).unwrap();
        let task = insert(&c, user.id, "generate_numbers", &serde_json::json!({}), 3).unwrap();
        assert_eq!(task.status, TaskStatus::Queued);
        for s in TaskStatus::ALL {
            finish(&c, task.id, s, 0, 0, None, None, None).unwrap();
            let text: String = c
                .query_row("SELECT status FROM tasks WHERE id = ?1", [task.id], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(text, s.as_str());
            assert_eq!(by_id(&c, task.id).unwrap().unwrap().status, s);
            let mine = of_user(&c, user.id, Some(s), 10).unwrap();
            assert_eq!(mine.len(), 1);
            assert_eq!(count_active(&c, user.id).unwrap(), i64::from(s.is_active()));
        }
        // A status the enum does not know is an error, not a silent default.
        c.execute_batch("PRAGMA ignore_check_constraints = ON")
            .unwrap();
        c.execute("UPDATE tasks SET status = 'paused'", []).unwrap();
        assert!(by_id(&c, task.id).is_err());
    }

    #[test]
    fn leases_claims_and_cancel_requests() {
        let db = Db::open(":memory:").unwrap();
        let c = db.conn().unwrap();
        let user = crate::db::users::insert(&c, "alice", "Alice", None, false, false).unwrap();
        let p = serde_json::json!({});
        let now = Timestamp::now().millis();
        let [a, b, c3, q] =
            [0; 4].map(|_| insert(&c, user.id, "generate_numbers", &p, 3).unwrap().id);
        // Claims are exclusive: the second finds the task no longer queued.
        assert!(mark_running(&c, a, 1, now + 30_000).unwrap());
        assert!(!mark_running(&c, a, 2, now + 30_000).unwrap());
        assert!(mark_running(&c, b, 2, now - 1).unwrap());
        assert!(mark_running(&c, c3, 1, now - 1).unwrap());
        let lease = |id: i64| -> (Option<i64>, Option<i64>) {
            c.query_row(
                "SELECT node, lease_until FROM tasks WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        assert_eq!(lease(a), (Some(1), Some(now + 30_000)));
        assert_eq!(
            queued(&c, 10)
                .unwrap()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>(),
            [q]
        );
        assert!(queued(&c, 0).unwrap().is_empty());

        // Node 1 renews its own leases only.
        assert_eq!(renew_leases(&c, 1, now + 60_000).unwrap(), 2);
        assert_eq!(lease(c3), (Some(1), Some(now + 60_000)));
        assert_eq!(lease(b), (Some(2), Some(now - 1)));

        // A cancel request is for running tasks, and read by their node.
        assert!(request_cancel(&c, a).unwrap());
        assert!(!request_cancel(&c, q).unwrap());
        assert_eq!(cancel_requested(&c, 1, 10).unwrap(), [a]);
        assert!(cancel_requested(&c, 2, 10).unwrap().is_empty());
        assert!(cancel_requested(&c, 1, 0).unwrap().is_empty());

        // Only node 2's task has an expired lease.
        assert!(any_expired(&c, now).unwrap());
        let gone = interrupt_expired(&c, now, 10).unwrap();
        assert_eq!(gone.iter().map(|t| t.id).collect::<Vec<_>>(), [b]);
        assert_eq!(
            by_id(&c, b).unwrap().unwrap().status,
            TaskStatus::Interrupted
        );
        assert!(!any_expired(&c, now).unwrap());
        // At most `limit`, oldest first.
        assert!(any_expired(&c, now + 120_000).unwrap());
        let first = interrupt_expired(&c, now + 120_000, 1).unwrap();
        assert_eq!(first.iter().map(|t| t.id).collect::<Vec<_>>(), [a]);
        assert_eq!(by_id(&c, c3).unwrap().unwrap().status, TaskStatus::Running);
    }
}
