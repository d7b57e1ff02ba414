//! Read markers: each member's, and the staff's shared marker of a support room.

use crate::error::AppResult;
use rusqlite::{params, Connection};

/// The id of a room's newest message (0 when it has none).
fn newest_message_id(conn: &Connection, room_id: i64) -> AppResult<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(max(id), 0) FROM messages WHERE room_id = ?1",
        [room_id],
        |r| r.get(0),
    )?)
}

/// Moves a member's read marker forward (never back) to `message_id`, or to the newest message
/// when `None`. Returns the marker and the member's unread count.
pub fn mark_read(
    conn: &Connection,
    room_id: i64,
    user_id: i64,
    message_id: Option<i64>,
) -> AppResult<(i64, i64)> {
    let target = match message_id {
        Some(id) => id,
        None => newest_message_id(conn, room_id)?,
    };
    conn.execute(
        "UPDATE room_members SET last_read_message_id = max(last_read_message_id, ?3)
         WHERE room_id = ?1 AND user_id = ?2",
        params![room_id, user_id, target],
    )?;
    let last: i64 = conn.query_row(
        "SELECT last_read_message_id FROM room_members WHERE room_id = ?1 AND user_id = ?2",
        params![room_id, user_id],
        |r| r.get(0),
    )?;
    let unread: i64 = conn.query_row(
        "SELECT count(*) FROM messages WHERE room_id = ?1 AND id > ?2 AND deleted = 0
           AND (sender_id IS NULL OR sender_id != ?3)",
        params![room_id, last, user_id],
        |r| r.get(0),
    )?;
    Ok((last, unread))
}

/// Moves the staff's shared read marker of a support room forward. Returns the marker and the
/// staff's unread count (the visitor's messages after it).
pub fn staff_mark_read(
    conn: &Connection,
    room_id: i64,
    message_id: Option<i64>,
) -> AppResult<(i64, i64)> {
    let target = match message_id {
        Some(id) => id,
        None => newest_message_id(conn, room_id)?,
    };
    conn.execute(
        "UPDATE rooms SET staff_last_read = max(staff_last_read, ?2) WHERE id = ?1",
        params![room_id, target],
    )?;
    let (last, unread): (i64, i64) = conn.query_row(
        "SELECT r.staff_last_read, (SELECT count(*) FROM messages m WHERE m.room_id = r.id
            AND m.id > r.staff_last_read AND m.deleted = 0
            AND (m.sender_id IS NULL OR m.sender_id = r.support_user_id))
         FROM rooms r WHERE r.id = ?1",
        [room_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((last, unread))
}
