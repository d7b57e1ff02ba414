//! Tokens, tickets and guest tokens on PostgreSQL: the statements of [`crate::db::tokens`],
//! same meaning. Values are never stored, only their SHA-256 (`BYTEA`).

use super::PgTransaction;
use crate::db::tokens::{Kind, TokenRow};
use crate::error::AppResult;
use crate::time::Timestamp;
use postgres::types::ToSql;

/// The stored name of a kind (what the private `Kind::as_str` of the SQLite module gives).
fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::Access => "access",
        Kind::Ticket => "ticket",
        Kind::Guest => "guest",
    }
}

/// Stores a credential's hash; returns its id.
pub fn insert(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    kind: Kind,
    hash: &[u8],
    parent_id: Option<i64>,
    expires_at: Option<Timestamp>,
) -> AppResult<i64> {
    Ok(c.query_one(
        "INSERT INTO tokens (user_id, kind, hash, parent_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &user_id,
            &kind_str(kind),
            &hash,
            &parent_id,
            &Timestamp::now().millis(),
            &expires_at.map(Timestamp::millis),
        ],
    )?
    .try_get(0)?)
}

/// Finds a credential of the given kind by hash.
pub fn find(c: &mut PgTransaction<'_>, kind: Kind, hash: &[u8]) -> AppResult<Option<TokenRow>> {
    by(c, "kind = $1 AND hash = $2", &[&kind_str(kind), &hash])
}

/// Finds a credential by id.
pub fn by_id(c: &mut PgTransaction<'_>, id: i64) -> AppResult<Option<TokenRow>> {
    by(c, "id = $1", &[&id])
}

fn by(
    c: &mut PgTransaction<'_>,
    filter: &str,
    params: &[&(dyn ToSql + Sync)],
) -> AppResult<Option<TokenRow>> {
    let ms = |v: Option<i64>| v.map(Timestamp::from_millis);
    let row = c.query_opt(
        &format!(
            "SELECT id, user_id, parent_id, expires_at, revoked_at, used_at
             FROM tokens WHERE {filter}"
        ),
        params,
    )?;
    match row {
        Some(r) => Ok(Some(TokenRow {
            id: r.try_get(0)?,
            user_id: r.try_get(1)?,
            parent_id: r.try_get(2)?,
            expires_at: ms(r.try_get(3)?),
            revoked_at: ms(r.try_get(4)?),
            used_at: ms(r.try_get(5)?),
        })),
        None => Ok(None),
    }
}

/// Revokes a credential (and the unused tickets it minted).
pub fn revoke(c: &mut PgTransaction<'_>, id: i64) -> AppResult<()> {
    c.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE (id = $1 OR parent_id = $1) AND revoked_at IS NULL",
        &[&id, &Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Marks a ticket used; `false` if it already was (two handshakes raced for it).
pub fn mark_used(c: &mut PgTransaction<'_>, id: i64) -> AppResult<bool> {
    let n = c.execute(
        "UPDATE tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
        &[&id, &Timestamp::now().millis()],
    )?;
    Ok(n == 1)
}

/// Deletes tickets that expired more than an hour ago (they can never be redeemed).
pub fn purge_stale_tickets(c: &mut PgTransaction<'_>) -> AppResult<usize> {
    let cutoff = Timestamp::now().millis() - 3_600_000;
    let n = c.execute(
        "DELETE FROM tokens WHERE kind = 'ticket' AND expires_at < $1",
        &[&cutoff],
    )?;
    Ok(n as usize)
}
