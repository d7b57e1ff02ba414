//! Tokens, tickets and guest tokens: SQL only. Values are never stored, only their SHA-256.

use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

/// What a stored credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bearer token.
    Access,
    /// A single-use WebSocket ticket (its `parent_id` is the access token that minted it).
    Ticket,
    /// A support visitor's resume token.
    Guest,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Ticket => "ticket",
            Kind::Guest => "guest",
        }
    }
}

/// A stored credential.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Row id (the token's identity in the hub, for closing its sockets).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// For tickets: the access token that minted it.
    pub parent_id: Option<i64>,
    /// Expiry; `None` never expires.
    pub expires_at: Option<Timestamp>,
    /// Set by logout or refresh.
    pub revoked_at: Option<Timestamp>,
    /// Set when a ticket is redeemed.
    pub used_at: Option<Timestamp>,
}

/// Stores a credential's hash; returns its id.
pub fn insert(
    conn: &Connection,
    user_id: i64,
    kind: Kind,
    hash: &[u8],
    parent_id: Option<i64>,
    expires_at: Option<Timestamp>,
) -> AppResult<i64> {
    conn.execute(
        "INSERT INTO tokens (user_id, kind, hash, parent_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user_id,
            kind.as_str(),
            hash,
            parent_id,
            Timestamp::now().millis(),
            expires_at.map(Timestamp::millis)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Finds a credential of the given kind by hash.
pub fn find(conn: &Connection, kind: Kind, hash: &[u8]) -> AppResult<Option<TokenRow>> {
    by(
        "kind = ?1 AND hash = ?2",
        conn,
        params![kind.as_str(), hash],
    )
}

/// Finds a credential by id.
pub fn by_id(conn: &Connection, id: i64) -> AppResult<Option<TokenRow>> {
    by("id = ?1", conn, params![id])
}

fn by(
    filter: &str,
    conn: &Connection,
    params: impl rusqlite::Params,
) -> AppResult<Option<TokenRow>> {
    let ms = |v: Option<i64>| v.map(Timestamp::from_millis);
    Ok(conn
        .query_row(
            &format!(
                "SELECT id, user_id, parent_id, expires_at, revoked_at, used_at
                 FROM tokens WHERE {filter}"
            ),
            params,
            |r| {
                Ok(TokenRow {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    parent_id: r.get(2)?,
                    expires_at: ms(r.get(3)?),
                    revoked_at: ms(r.get(4)?),
                    used_at: ms(r.get(5)?),
                })
            },
        )
        .optional()?)
}

/// Revokes a credential (and the unused tickets it minted).
pub fn revoke(conn: &Connection, id: i64) -> AppResult<()> {
    conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE (id = ?1 OR parent_id = ?1) AND revoked_at IS NULL",
        params![id, Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Marks a ticket used; `false` if it already was (two handshakes raced for it).
pub fn mark_used(conn: &Connection, id: i64) -> AppResult<bool> {
    let n = conn.execute(
        "UPDATE tokens SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
        params![id, Timestamp::now().millis()],
    )?;
    Ok(n == 1)
}

/// Deletes tickets that expired more than an hour ago (they can never be redeemed).
pub fn purge_stale_tickets(conn: &Connection) -> AppResult<usize> {
    let cutoff = Timestamp::now().millis() - 3_600_000;
    Ok(conn.execute(
        "DELETE FROM tokens WHERE kind = 'ticket' AND expires_at < ?1",
        [cutoff],
    )?)
}
