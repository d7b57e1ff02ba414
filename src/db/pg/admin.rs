//! What `hearth user ...` changes, and the log of those changes that running servers read, on
//! PostgreSQL: the statements of [`crate::db::admin`], same meaning.

use super::{locks, PgTransaction};
use crate::db::admin::{UserEvent, UserEventKind};
use crate::error::AppResult;
use crate::time::Timestamp;

/// A stored event kind (what the private `UserEventKind::parse` of the SQLite module does).
fn parse_kind(s: &str) -> Option<UserEventKind> {
    Some(match s {
        "revoked" => UserEventKind::Revoked,
        "deleted" => UserEventKind::Deleted,
        "passwd" => UserEventKind::Passwd,
        "staff" => UserEventKind::Staff,
        "unstaff" => UserEventKind::Unstaff,
        _ => return None,
    })
}

/// Records a change (in the caller's transaction, with the change itself).
///
/// Servers read the log as "every event after id N", which holds only if ids are committed in
/// id order: an identity sequence alone hands out ids in one order but lets transactions commit
/// in another, so a server could see id N+1, move past it, and miss id N committed a moment
/// later. So the insert first takes the transaction-scoped advisory lock
/// [`locks::USER_EVENTS`], held until the caller's transaction ends: the next insert, from any
/// node or command, gets its id only after this one is committed (or rolled back).
pub fn record_event(c: &mut PgTransaction<'_>, user_id: i64, kind: UserEventKind) -> AppResult<()> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::USER_EVENTS])?;
    c.execute(
        "INSERT INTO user_events (user_id, kind, created_at) VALUES ($1, $2, $3)",
        &[&user_id, &kind.as_str(), &Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Changes after `after`, oldest first (at most 1000). Rows of a kind this binary does not
/// know are skipped.
pub fn events_after(c: &mut PgTransaction<'_>, after: i64) -> AppResult<Vec<UserEvent>> {
    let rows = c.query(
        "SELECT id, user_id, kind FROM user_events WHERE id > $1 ORDER BY id LIMIT 1000",
        &[&after],
    )?;
    let mut out = Vec::new();
    for r in &rows {
        let kind: &str = r.try_get(2)?;
        if let Some(kind) = parse_kind(kind) {
            out.push(UserEvent {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                kind,
            });
        }
    }
    Ok(out)
}

/// The newest change's id (0 when there is none): where a starting server begins reading.
pub fn latest_event(c: &mut PgTransaction<'_>) -> AppResult<i64> {
    Ok(
        c.query_one("SELECT COALESCE(max(id), 0) FROM user_events", &[])?
            .try_get(0)?,
    )
}

/// Revokes every live token of the user; returns how many.
pub fn revoke_user_tokens(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<usize> {
    let n = c.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user_id, &Timestamp::now().millis()],
    )?;
    Ok(n as usize)
}

/// Sets a user's password hash.
pub fn set_password(c: &mut PgTransaction<'_>, user_id: i64, hash: &str) -> AppResult<()> {
    c.execute(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&user_id, &hash],
    )?;
    Ok(())
}

/// Deletes a user. Their messages stay in their rooms without a sender; their own support
/// conversation, tokens, memberships, tasks and notifications go with them.
pub fn delete_user(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<()> {
    c.execute("DELETE FROM rooms WHERE support_user_id = $1", &[&user_id])?;
    c.execute(
        "UPDATE messages SET sender_id = NULL WHERE sender_id = $1",
        &[&user_id],
    )?;
    c.execute(
        "UPDATE rooms SET created_by = NULL WHERE created_by = $1",
        &[&user_id],
    )?;
    c.execute("DELETE FROM users WHERE id = $1", &[&user_id])?;
    Ok(())
}
