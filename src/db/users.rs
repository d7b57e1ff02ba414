//! Users: SQL only.

use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// A user as the contract shows it: `{id, username, display_name, is_staff, created_at}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    /// Positive id.
    pub id: i64,
    /// Unique case-insensitively.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// May use the staff console.
    pub is_staff: bool,
    /// When the account was made.
    pub created_at: Timestamp,
    /// A support visitor without an account (not part of the wire format).
    #[serde(skip)]
    pub is_guest: bool,
}

/// The short form used inside messages: `{id, username, display_name}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserRef {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Shown name.
    pub display_name: String,
}

impl From<&User> for UserRef {
    fn from(u: &User) -> Self {
        UserRef {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
        }
    }
}

const COLUMNS: &str = "id, username, display_name, is_staff, created_at, is_guest";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        is_staff: r.get(3)?,
        created_at: Timestamp::from_millis(r.get(4)?),
        is_guest: r.get(5)?,
    })
}

/// Inserts a user; `conflict` if the username is taken (case-insensitively).
pub fn insert(
    conn: &Connection,
    username: &str,
    display_name: &str,
    password_hash: Option<&str>,
    is_staff: bool,
    is_guest: bool,
) -> AppResult<User> {
    let now = Timestamp::now();
    let res = conn.execute(
        "INSERT INTO users (username, display_name, password_hash, is_staff, is_guest, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            username,
            display_name,
            password_hash,
            is_staff,
            is_guest,
            now.millis()
        ],
    );
    match res {
        Ok(_) => Ok(User {
            id: conn.last_insert_rowid(),
            username: username.to_string(),
            display_name: display_name.to_string(),
            is_staff,
            created_at: now,
            is_guest,
        }),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(AppError::Conflict("username is taken".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A user by id.
pub fn by_id(conn: &Connection, id: i64) -> AppResult<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// A user by username (case-insensitive), with the password hash.
pub fn by_username_with_hash(
    conn: &Connection,
    username: &str,
) -> AppResult<Option<(User, Option<String>)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS}, password_hash FROM users WHERE username = ?1"),
            [username],
            |r| Ok((from_row(r)?, r.get(6)?)),
        )
        .optional()?)
}

/// A non-guest user by username (case-insensitive).
pub fn by_username(conn: &Connection, username: &str) -> AppResult<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE username = ?1 AND is_guest = 0"),
            [username],
            from_row,
        )
        .optional()?)
}

/// Sets or clears the staff flag.
pub fn set_staff(conn: &Connection, id: i64, is_staff: bool) -> AppResult<()> {
    conn.execute(
        "UPDATE users SET is_staff = ?2 WHERE id = ?1",
        params![id, is_staff],
    )?;
    Ok(())
}

/// Registered users (never guests) whose username or display name contains `query`
/// (case-insensitive, `query` already trimmed and non-empty), best match first: the exact
/// username, then usernames or display names that start with it, then the rest, each group by
/// username.
pub fn search(conn: &Connection, query: &str, limit: i64) -> AppResult<Vec<User>> {
    let q = query.to_lowercase();
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let sql = format!(
        "SELECT {COLUMNS} FROM users
         WHERE is_guest = 0
           AND (lower(username) LIKE '%' || ?1 || '%' ESCAPE '\\'
                OR lower(display_name) LIKE '%' || ?1 || '%' ESCAPE '\\')
         ORDER BY CASE
                    WHEN lower(username) = ?2 THEN 0
                    WHEN lower(username) LIKE ?1 || '%' ESCAPE '\\'
                      OR lower(display_name) LIKE ?1 || '%' ESCAPE '\\' THEN 1
                    ELSE 2
                  END,
                  username
         LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![escaped, q, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every registered user (not guests), by username, for `hearth user list`.
pub fn list(conn: &Connection) -> AppResult<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE is_guest = 0 ORDER BY username"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
