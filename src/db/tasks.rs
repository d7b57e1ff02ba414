//! Tasks: SQL only.

use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

/// A task as the contract shows it (the full result is fetched separately).
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// Kind name.
    pub kind: String,
    /// `queued`, `running`, `completed`, `failed`, `cancelled` or `interrupted`.
    pub status: String,
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
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
        params![
            user_id,
            kind,
            params.to_string(),
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
        "SELECT count(*) FROM tasks WHERE user_id = ?1 AND status IN ('queued', 'running')",
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
    status: Option<&str>,
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
        "SELECT {COLUMNS} FROM tasks WHERE user_id = ?1 AND status IN ('queued', 'running')
         ORDER BY id"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every queued task, oldest first.
pub fn queued(conn: &Connection) -> AppResult<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE status = 'queued' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves a queued task to running; `false` if it was no longer queued (cancelled meanwhile).
pub fn mark_running(conn: &Connection, id: i64) -> AppResult<bool> {
    Ok(conn.execute(
        "UPDATE tasks SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'queued'",
        params![id, Timestamp::now().millis()],
    )? == 1)
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
    status: &str,
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
        "UPDATE tasks SET status = 'cancelled', finished_at = ?2 WHERE id = ?1 AND status = 'queued'",
        params![id, Timestamp::now().millis()],
    )? == 1)
}

/// At start: tasks left running by a previous process become `interrupted` (progress kept).
/// Returns them.
pub fn interrupt_running(conn: &Connection) -> AppResult<Vec<Task>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE status = 'running' ORDER BY id"
    ))?;
    let tasks: Vec<Task> = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    conn.execute(
        "UPDATE tasks SET status = 'interrupted', finished_at = ?1 WHERE status = 'running'",
        [Timestamp::now().millis()],
    )?;
    Ok(tasks)
}

/// The stored full result.
pub fn result(conn: &Connection, id: i64) -> AppResult<Option<Value>> {
    let s: Option<Option<String>> = conn
        .query_row("SELECT result FROM tasks WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    Ok(json_col(s.flatten()))
}
