//! Messages: storing, editing and deleting them, paging a room's history, and sync.

use crate::db::users::{User, UserRef};
use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// A message as the contract shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Id (grows strictly with insertion order).
    pub id: i64,
    /// Room.
    pub room_id: i64,
    /// Sender, or null.
    pub sender: Option<UserRef>,
    /// Content (empty once deleted).
    pub content: String,
    /// The sender's idempotency key.
    pub client_id: Option<String>,
    /// When stored.
    pub created_at: Timestamp,
    /// Last edit.
    pub edited_at: Option<Timestamp>,
    /// Deleted?
    pub deleted: bool,
}

const MESSAGE_COLUMNS: &str = "m.id, m.room_id, m.sender_id, u.username, u.display_name, \
     m.content, m.client_id, m.created_at, m.edited_at, m.deleted";

fn message_from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    let sender_id: Option<i64> = r.get(2)?;
    let sender = match sender_id {
        Some(id) => Some(UserRef {
            id,
            username: r.get(3)?,
            display_name: r.get(4)?,
        }),
        None => None,
    };
    Ok(Message {
        id: r.get(0)?,
        room_id: r.get(1)?,
        sender,
        content: r.get(5)?,
        client_id: r.get(6)?,
        created_at: Timestamp::from_millis(r.get(7)?),
        edited_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_millis),
        deleted: r.get(9)?,
    })
}

/// The message a sender already stored under `client_id` in a room.
pub fn message_by_client_id(
    conn: &Connection,
    sender_id: i64,
    room_id: i64,
    client_id: &str,
) -> AppResult<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.sender_id = ?1 AND m.room_id = ?2 AND m.client_id = ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![sender_id, room_id, client_id], message_from_row)
        .optional()?)
}

/// Stores a message and bumps the room's activity.
pub fn insert_message(
    conn: &Connection,
    room_id: i64,
    sender: &User,
    content: &str,
    client_id: Option<&str>,
    now: Timestamp,
) -> AppResult<Message> {
    conn.prepare_cached(
        "INSERT INTO messages (room_id, sender_id, content, client_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        room_id,
        sender.id,
        content,
        client_id,
        now.millis()
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("UPDATE rooms SET last_activity_at = ?2, updated_at = ?2 WHERE id = ?1")?
        .execute(params![room_id, now.millis()])?;
    Ok(Message {
        id,
        room_id,
        sender: Some(UserRef::from(sender)),
        content: content.to_string(),
        client_id: client_id.map(str::to_string),
        created_at: now,
        edited_at: None,
        deleted: false,
    })
}

/// A message by id.
pub fn message(conn: &Connection, id: i64) -> AppResult<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.id = ?1"
    );
    Ok(conn.query_row(&sql, [id], message_from_row).optional()?)
}

/// Replaces a message's content.
pub fn edit_message(conn: &Connection, id: i64, content: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE messages SET content = ?2, edited_at = ?3 WHERE id = ?1",
        params![id, content, Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Marks a message deleted and empties it.
pub fn delete_message(conn: &Connection, id: i64) -> AppResult<()> {
    conn.execute(
        "UPDATE messages SET content = '', deleted = 1, edited_at = ?2 WHERE id = ?1",
        params![id, Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Which page of a room's history.
#[derive(Debug, Clone, Copy)]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// The newest messages with id below this.
    Before(i64),
    /// The oldest messages with id above this.
    After(i64),
}

/// A page of a room's history, oldest first, and whether more exist in the paging direction.
pub fn messages_page(
    conn: &Connection,
    room_id: i64,
    cursor: Cursor,
    limit: i64,
) -> AppResult<(Vec<Message>, bool)> {
    let (filter, order, bound) = match cursor {
        Cursor::Latest => ("", "DESC", 0),
        Cursor::Before(x) => ("AND m.id < ?3", "DESC", x),
        Cursor::After(x) => ("AND m.id > ?3", "ASC", x),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.room_id = ?1 {filter} ORDER BY m.id {order} LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows: Vec<Message> = if filter.is_empty() {
        stmt.query_map(params![room_id, limit + 1], message_from_row)?
            .collect::<Result<_, _>>()?
    } else {
        stmt.query_map(params![room_id, limit + 1, bound], message_from_row)?
            .collect::<Result<_, _>>()?
    };
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if order == "DESC" {
        rows.reverse();
    }
    Ok((rows, has_more))
}

/// Messages in any of the user's rooms with id above `after`, oldest first.
pub fn sync(
    conn: &Connection,
    user_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<(Vec<Message>, bool)> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.id > ?2 AND m.room_id IN (SELECT room_id FROM room_members WHERE user_id = ?1)
         ORDER BY m.id ASC LIMIT ?3"
    );
    let mut rows: Vec<Message> = conn
        .prepare_cached(&sql)?
        .query_map(params![user_id, after, limit + 1], message_from_row)?
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_more))
}

/// Every message with id above `after`, in any room, oldest first, at most `limit`.
pub fn messages_after(conn: &Connection, after: i64, limit: i64) -> AppResult<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.id > ?1 ORDER BY m.id ASC LIMIT ?2"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![after, limit], message_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The newest stored message id anywhere (0 when there is none).
pub fn latest_message_id(conn: &Connection) -> AppResult<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(max(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?,
    )
}
