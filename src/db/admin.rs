//! What `hearth user ...` changes, and the log of those changes that running servers read:
//! SQL only.

use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection, Row};

/// One change made to a user from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEventKind {
    /// Every token of the user was revoked.
    Revoked,
    /// The user was deleted.
    Deleted,
    /// The password changed (and every token was revoked).
    Passwd,
    /// The user became staff.
    Staff,
    /// The user is no longer staff.
    Unstaff,
}

impl UserEventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserEventKind::Revoked => "revoked",
            UserEventKind::Deleted => "deleted",
            UserEventKind::Passwd => "passwd",
            UserEventKind::Staff => "staff",
            UserEventKind::Unstaff => "unstaff",
        }
    }

    fn parse(s: &str) -> Option<UserEventKind> {
        Some(match s {
            "revoked" => UserEventKind::Revoked,
            "deleted" => UserEventKind::Deleted,
            "passwd" => UserEventKind::Passwd,
            "staff" => UserEventKind::Staff,
            "unstaff" => UserEventKind::Unstaff,
            _ => return None,
        })
    }
}

/// A row of `user_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserEvent {
    /// Increasing id: the cursor servers keep.
    pub id: i64,
    /// Whose.
    pub user_id: i64,
    /// What changed.
    pub kind: UserEventKind,
}

/// Records a change (in the caller's transaction, with the change itself).
pub fn record_event(conn: &Connection, user_id: i64, kind: UserEventKind) -> AppResult<()> {
    conn.execute(
        "INSERT INTO user_events (user_id, kind, created_at) VALUES (?1, ?2, ?3)",
        params![user_id, kind.as_str(), Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Changes after `after`, oldest first (at most 1000).
pub fn events_after(conn: &Connection, after: i64) -> AppResult<Vec<UserEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, kind FROM user_events WHERE id > ?1 ORDER BY id LIMIT 1000",
    )?;
    let rows = stmt.query_map([after], |r: &Row<'_>| {
        let kind: String = r.get(2)?;
        Ok((r.get(0)?, r.get(1)?, kind))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, user_id, kind): (i64, i64, String) = row?;
        if let Some(kind) = UserEventKind::parse(&kind) {
            out.push(UserEvent { id, user_id, kind });
        }
    }
    Ok(out)
}

/// The newest change's id (0 when there is none): where a starting server begins reading.
pub fn latest_event(conn: &Connection) -> AppResult<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(max(id), 0) FROM user_events", [], |r| {
            r.get(0)
        })?,
    )
}

/// Revokes every live token of the user; returns how many.
pub fn revoke_user_tokens(conn: &Connection, user_id: i64) -> AppResult<usize> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, Timestamp::now().millis()],
    )?)
}

/// Sets a user's password hash.
pub fn set_password(conn: &Connection, user_id: i64, hash: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, hash],
    )?;
    Ok(())
}

/// Deletes a user. Their messages stay in their rooms without a sender; their own support
/// conversation, tokens, memberships, tasks and notifications go with them.
pub fn delete_user(conn: &Connection, user_id: i64) -> AppResult<()> {
    conn.execute("DELETE FROM rooms WHERE support_user_id = ?1", [user_id])?;
    conn.execute(
        "UPDATE messages SET sender_id = NULL WHERE sender_id = ?1",
        [user_id],
    )?;
    conn.execute(
        "UPDATE rooms SET created_by = NULL WHERE created_by = ?1",
        [user_id],
    )?;
    conn.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    Ok(())
}
