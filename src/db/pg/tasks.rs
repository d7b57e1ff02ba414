//! Tasks on PostgreSQL: the statements of [`crate::db::tasks`], same meaning. Statuses are
//! stored as [`TaskStatus::as_str`] and read back with its `FromStr`.

use super::PgTransaction;
use crate::db::tasks::{Task, TaskStatus};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use postgres::Row;
use serde_json::Value;

/// The SQL condition for active tasks, written out (not bound) so that PostgreSQL can use the
/// partial index `tasks_user_active`, whose `WHERE` is this text (as in [`crate::db::tasks`]).
const ACTIVE: &str = "status IN ('queued', 'running')";

const COLUMNS: &str = "id, kind, status, params, progress, processed, total, result_summary, \
     error, created_at, started_at, finished_at, user_id";

fn json_col(s: Option<String>) -> Option<Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// A task from a row of [`COLUMNS`]. A status the enum does not know is an error, not a
/// silent default, as with SQLite.
fn from_row(r: &Row) -> AppResult<Task> {
    let ts = |v: Option<i64>| v.map(Timestamp::from_millis);
    let status: &str = r.try_get(2)?;
    let status: TaskStatus = status
        .parse()
        .map_err(|e| AppError::Internal(format!("postgres: {e}")))?;
    Ok(Task {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        status,
        params: json_col(r.try_get(3)?).unwrap_or(Value::Null),
        progress: r.try_get(4)?,
        processed: r.try_get(5)?,
        total: r.try_get(6)?,
        result_summary: json_col(r.try_get(7)?),
        error: r.try_get(8)?,
        created_at: Timestamp::from_millis(r.try_get(9)?),
        started_at: ts(r.try_get(10)?),
        finished_at: ts(r.try_get(11)?),
        user_id: r.try_get(12)?,
    })
}

/// Stores a queued task.
pub fn insert(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    kind: &str,
    params: &Value,
    total: i64,
) -> AppResult<Task> {
    let row = c.query_one(
        &format!(
            "INSERT INTO tasks (user_id, kind, params, status, total, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ),
        &[
            &user_id,
            &kind,
            &params.to_string(),
            &TaskStatus::Queued.as_str(),
            &total,
            &Timestamp::now().millis(),
        ],
    )?;
    from_row(&row)
}

/// How many tasks of a user are `queued` or `running` (uses the partial index
/// `tasks_user_active`).
///
/// First locks the user's row until the transaction ends (`FOR NO KEY UPDATE`, which does not
/// block inserts that reference the user): under READ COMMITTED two concurrent starts would
/// otherwise both count the same tasks and both insert, past `max_active_tasks_per_user`.
/// SQLite serializes write transactions, so its count needs no lock.
pub fn count_active(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<i64> {
    c.query_opt(
        "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE",
        &[&user_id],
    )?;
    Ok(c.query_one(
        &format!("SELECT count(*) FROM tasks WHERE user_id = $1 AND {ACTIVE}"),
        &[&user_id],
    )?
    .try_get(0)?)
}

/// A task by id.
pub fn by_id(c: &mut PgTransaction<'_>, id: i64) -> AppResult<Option<Task>> {
    let row = c.query_opt(
        &format!("SELECT {COLUMNS} FROM tasks WHERE id = $1"),
        &[&id],
    )?;
    row.as_ref().map(from_row).transpose()
}

/// A user's tasks, newest first, optionally of one status.
pub fn of_user(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    status: Option<TaskStatus>,
    limit: i64,
) -> AppResult<Vec<Task>> {
    let rows = c.query(
        &format!(
            "SELECT {COLUMNS} FROM tasks WHERE user_id = $1 AND ($2::TEXT IS NULL OR status = $2)
             ORDER BY id DESC LIMIT $3"
        ),
        &[&user_id, &status.map(TaskStatus::as_str), &limit],
    )?;
    rows.iter().map(from_row).collect()
}

/// A user's queued and running tasks, oldest first.
pub fn active_of_user(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<Vec<Task>> {
    let rows = c.query(
        &format!("SELECT {COLUMNS} FROM tasks WHERE user_id = $1 AND {ACTIVE} ORDER BY id"),
        &[&user_id],
    )?;
    rows.iter().map(from_row).collect()
}

/// The oldest `limit` queued tasks, oldest first.
pub fn queued(c: &mut PgTransaction<'_>, limit: i64) -> AppResult<Vec<Task>> {
    let rows = c.query(
        &format!("SELECT {COLUMNS} FROM tasks WHERE status = $1 ORDER BY id LIMIT $2"),
        &[&TaskStatus::Queued.as_str(), &limit],
    )?;
    rows.iter().map(from_row).collect()
}

/// Moves a queued task to running on `node`, its lease held until `lease_until` (ms); `false`
/// if it was no longer queued (cancelled meanwhile, or claimed by another node: the row lock
/// makes the second of two concurrent claims re-check `status` and change nothing).
pub fn mark_running(
    c: &mut PgTransaction<'_>,
    id: i64,
    node: i64,
    lease_until: i64,
) -> AppResult<bool> {
    Ok(c.execute(
        "UPDATE tasks SET status = $3, started_at = $2, node = $5, lease_until = $6
         WHERE id = $1 AND status = $4",
        &[
            &id,
            &Timestamp::now().millis(),
            &TaskStatus::Running.as_str(),
            &TaskStatus::Queued.as_str(),
            &node,
            &lease_until,
        ],
    )? == 1)
}

/// Extends the leases of every task running on `node` to `lease_until` (ms); how many.
pub fn renew_leases(c: &mut PgTransaction<'_>, node: i64, lease_until: i64) -> AppResult<usize> {
    let n = c.execute(
        "UPDATE tasks SET lease_until = $2 WHERE node = $1 AND status = $3",
        &[&node, &lease_until, &TaskStatus::Running.as_str()],
    )?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Asks whichever node runs the task to stop it; `false` if it is not running.
pub fn request_cancel(c: &mut PgTransaction<'_>, id: i64) -> AppResult<bool> {
    Ok(c.execute(
        "UPDATE tasks SET cancel_requested = true WHERE id = $1 AND status = $2",
        &[&id, &TaskStatus::Running.as_str()],
    )? == 1)
}

/// The ids of tasks running on `node` whose cancel was requested (at most `limit`).
pub fn cancel_requested(c: &mut PgTransaction<'_>, node: i64, limit: i64) -> AppResult<Vec<i64>> {
    let rows = c.query(
        "SELECT id FROM tasks WHERE node = $1 AND status = $2 AND cancel_requested
         ORDER BY id LIMIT $3",
        &[&node, &TaskStatus::Running.as_str(), &limit],
    )?;
    rows.iter().map(|r| Ok(r.try_get::<_, i64>(0)?)).collect()
}

/// Records progress.
pub fn set_progress(
    c: &mut PgTransaction<'_>,
    id: i64,
    progress: i64,
    processed: i64,
    total: i64,
) -> AppResult<()> {
    c.execute(
        "UPDATE tasks SET progress = $2, processed = $3, total = $4 WHERE id = $1",
        &[&id, &progress, &processed, &total],
    )?;
    Ok(())
}

/// Ends a task with its status, (partial) result, summary or error.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    c: &mut PgTransaction<'_>,
    id: i64,
    status: TaskStatus,
    progress: i64,
    processed: i64,
    result: Option<&Value>,
    summary: Option<&Value>,
    error: Option<&str>,
) -> AppResult<()> {
    c.execute(
        "UPDATE tasks SET status = $2, progress = $3, processed = $4, result = $5,
                          result_summary = $6, error = $7, finished_at = $8
         WHERE id = $1",
        &[
            &id,
            &status.as_str(),
            &progress,
            &processed,
            &result.map(Value::to_string),
            &summary.map(Value::to_string),
            &error,
            &Timestamp::now().millis(),
        ],
    )?;
    Ok(())
}

/// Cancels a task that is still queued; `false` if it is not.
pub fn cancel_queued(c: &mut PgTransaction<'_>, id: i64) -> AppResult<bool> {
    Ok(c.execute(
        "UPDATE tasks SET status = $3, finished_at = $2 WHERE id = $1 AND status = $4",
        &[
            &id,
            &Timestamp::now().millis(),
            &TaskStatus::Cancelled.as_str(),
            &TaskStatus::Queued.as_str(),
        ],
    )? == 1)
}

/// Whether a running task's lease ended before `now` (ms) or it has none: what
/// [`interrupt_expired`] would change (a read, so that idle sweeps write nothing).
pub fn any_expired(c: &mut PgTransaction<'_>, now: i64) -> AppResult<bool> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM tasks
                        WHERE status = $1 AND (lease_until IS NULL OR lease_until < $2))",
        &[&TaskStatus::Running.as_str(), &now],
    )?
    .try_get(0)?)
}

/// Running tasks whose node is gone become `interrupted` (progress kept): those whose lease
/// ended before `now` (ms), and those without one (left by a version without leases). At most
/// `limit` of them, oldest first; returns them as they were before (still `running`).
///
/// SQLite's writes are serialized, so its select-then-update sees one set of rows; here the
/// select locks the rows it returns (`FOR UPDATE SKIP LOCKED`: rows another node is sweeping or
/// renewing right now are left to it, or to the next sweep) and the update changes exactly
/// those, so the two still agree when another transaction changes a task in between.
pub fn interrupt_expired(c: &mut PgTransaction<'_>, now: i64, limit: i64) -> AppResult<Vec<Task>> {
    let rows = c.query(
        &format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE status = $1 AND (lease_until IS NULL OR lease_until < $2)
             ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"
        ),
        &[&TaskStatus::Running.as_str(), &now, &limit],
    )?;
    let tasks: Vec<Task> = rows.iter().map(from_row).collect::<AppResult<_>>()?;
    let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    c.execute(
        "UPDATE tasks SET status = $2, finished_at = $1 WHERE id = ANY($3) AND status = $4",
        &[
            &Timestamp::now().millis(),
            &TaskStatus::Interrupted.as_str(),
            &ids,
            &TaskStatus::Running.as_str(),
        ],
    )?;
    Ok(tasks)
}

/// The stored full result.
pub fn result(c: &mut PgTransaction<'_>, id: i64) -> AppResult<Option<Value>> {
    let row = c.query_opt("SELECT result FROM tasks WHERE id = $1", &[&id])?;
    let s: Option<String> = match row {
        Some(r) => r.try_get(0)?,
        None => None,
    };
    Ok(json_col(s))
}
