//! Notifications on PostgreSQL: the statements of [`crate::db::notifications`], same meaning.

use super::PgTransaction;
use crate::db::notifications::Notification;
use crate::error::AppResult;
use crate::time::Timestamp;
use postgres::Row;
use serde_json::Value;

const COLUMNS: &str = "id, kind, title, body, data, read, created_at, user_id";

/// A notification from a row of [`COLUMNS`]; `data` that is not JSON reads as `null`, as with
/// SQLite.
fn from_row(r: &Row) -> Result<Notification, postgres::Error> {
    let data: &str = r.try_get(4)?;
    Ok(Notification {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        title: r.try_get(2)?,
        body: r.try_get(3)?,
        data: serde_json::from_str(data).unwrap_or(Value::Null),
        read: r.try_get(5)?,
        created_at: Timestamp::from_millis(r.try_get(6)?),
        user_id: r.try_get(7)?,
    })
}

/// Stores a notification.
pub fn insert(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    kind: &str,
    title: &str,
    body: &str,
    data: &Value,
) -> AppResult<Notification> {
    let now = Timestamp::now();
    let id: i64 = c
        .query_one(
            "INSERT INTO notifications (user_id, kind, title, body, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &user_id,
                &kind,
                &title,
                &body,
                &data.to_string(),
                &now.millis(),
            ],
        )?
        .try_get(0)?;
    Ok(Notification {
        id,
        kind: kind.to_string(),
        title: title.to_string(),
        body: body.to_string(),
        data: data.clone(),
        read: false,
        created_at: now,
        user_id,
    })
}

/// A user's notifications, newest first (only the unread ones when `unread_only`).
pub fn of_user(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    unread_only: bool,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let rows = c.query(
        &format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND (NOT $2 OR NOT read)
             ORDER BY id DESC LIMIT $3"
        ),
        &[&user_id, &unread_only, &limit],
    )?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Marks one of the user's notifications read; `None` if it is not theirs. Returns it as it is
/// now (one statement where SQLite uses an update and a select).
pub fn mark_read(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    id: i64,
) -> AppResult<Option<Notification>> {
    let row = c.query_opt(
        &format!(
            "UPDATE notifications SET read = TRUE WHERE id = $1 AND user_id = $2
             RETURNING {COLUMNS}"
        ),
        &[&id, &user_id],
    )?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Marks all of the user's notifications read; returns how many changed.
pub fn mark_all_read(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<usize> {
    let n = c.execute(
        "UPDATE notifications SET read = TRUE WHERE user_id = $1 AND NOT read",
        &[&user_id],
    )?;
    Ok(n as usize)
}
