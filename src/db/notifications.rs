//! Notifications: SQL only.

use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

/// A notification as the contract shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// `direct_message`, `mention` or `task`.
    pub kind: String,
    /// Short title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Where it points (`room_id`, `message_id`, `task_id`, ...).
    pub data: Value,
    /// Read?
    pub read: bool,
    /// When made.
    pub created_at: Timestamp,
    /// Recipient (not part of the wire format).
    #[serde(skip)]
    pub user_id: i64,
}

const COLUMNS: &str = "id, kind, title, body, data, read, created_at, user_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Notification> {
    let data: String = r.get(4)?;
    Ok(Notification {
        id: r.get(0)?,
        kind: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        read: r.get(5)?,
        created_at: Timestamp::from_millis(r.get(6)?),
        user_id: r.get(7)?,
    })
}

/// Stores a notification.
pub fn insert(
    conn: &Connection,
    user_id: i64,
    kind: &str,
    title: &str,
    body: &str,
    data: &Value,
) -> AppResult<Notification> {
    let now = Timestamp::now();
    conn.prepare_cached(
        "INSERT INTO notifications (user_id, kind, title, body, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        user_id,
        kind,
        title,
        body,
        data.to_string(),
        now.millis()
    ])?;
    Ok(Notification {
        id: conn.last_insert_rowid(),
        kind: kind.to_string(),
        title: title.to_string(),
        body: body.to_string(),
        data: data.clone(),
        read: false,
        created_at: now,
        user_id,
    })
}

/// A user's notifications, newest first.
pub fn of_user(
    conn: &Connection,
    user_id: i64,
    unread_only: bool,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE user_id = ?1 AND (?2 = 0 OR read = 0)
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, unread_only, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks one of the user's notifications read; `None` if it is not theirs.
pub fn mark_read(conn: &Connection, user_id: i64, id: i64) -> AppResult<Option<Notification>> {
    conn.execute(
        "UPDATE notifications SET read = 1 WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )?;
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM notifications WHERE id = ?1 AND user_id = ?2"),
            params![id, user_id],
            from_row,
        )
        .optional()?)
}

/// Marks all of the user's notifications read; returns how many changed.
pub fn mark_all_read(conn: &Connection, user_id: i64) -> AppResult<usize> {
    Ok(conn.execute(
        "UPDATE notifications SET read = 1 WHERE user_id = ?1 AND read = 0",
        [user_id],
    )?)
}
