//! Users on PostgreSQL: the statements of [`crate::db::users`], same meaning.

use super::PgTransaction;
use crate::db::users::User;
use crate::error::{is_unique_violation, AppError, AppResult};
use crate::time::Timestamp;
use postgres::Row;

const COLUMNS: &str = "id, username, display_name, is_staff, created_at, is_guest";

/// A user from a row that starts with [`COLUMNS`].
pub(crate) fn from_row(r: &Row) -> Result<User, postgres::Error> {
    Ok(User {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        display_name: r.try_get(2)?,
        is_staff: r.try_get(3)?,
        created_at: Timestamp::from_millis(r.try_get(4)?),
        is_guest: r.try_get(5)?,
    })
}

/// Inserts a user; `conflict` if the username is taken (case-insensitively).
pub fn insert(
    c: &mut PgTransaction<'_>,
    username: &str,
    display_name: &str,
    password_hash: Option<&str>,
    is_staff: bool,
    is_guest: bool,
) -> AppResult<User> {
    let now = Timestamp::now();
    // A savepoint: a unique violation aborts the transaction it happens in, and the caller's
    // transaction must go on (to answer `conflict`).
    let mut sp = c.transaction()?;
    let res = sp.query_one(
        "INSERT INTO users (username, display_name, password_hash, is_staff, is_guest, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &username,
            &display_name,
            &password_hash,
            &is_staff,
            &is_guest,
            &now.millis(),
        ],
    );
    match res {
        Ok(row) => {
            sp.commit()?;
            Ok(User {
                id: row.try_get(0)?,
                username: username.to_string(),
                display_name: display_name.to_string(),
                is_staff,
                created_at: now,
                is_guest,
            })
        }
        Err(e) if is_unique_violation(&e) => {
            sp.rollback()?;
            Err(AppError::Conflict("username is taken".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A user by id.
pub fn by_id(c: &mut PgTransaction<'_>, id: i64) -> AppResult<Option<User>> {
    let row = c.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
        &[&id],
    )?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// A user by username (case-insensitive), with the password hash.
pub fn by_username_with_hash(
    c: &mut PgTransaction<'_>,
    username: &str,
) -> AppResult<Option<(User, Option<String>)>> {
    let row = c.query_opt(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)"),
        &[&username],
    )?;
    match row {
        Some(r) => Ok(Some((from_row(&r)?, r.try_get(6)?))),
        None => Ok(None),
    }
}

/// A non-guest user by username (case-insensitive).
pub fn by_username(c: &mut PgTransaction<'_>, username: &str) -> AppResult<Option<User>> {
    let row = c.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE lower(username) = lower($1) AND NOT is_guest"),
        &[&username],
    )?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Sets or clears the staff flag.
pub fn set_staff(c: &mut PgTransaction<'_>, id: i64, is_staff: bool) -> AppResult<()> {
    c.execute(
        "UPDATE users SET is_staff = $2 WHERE id = $1",
        &[&id, &is_staff],
    )?;
    Ok(())
}

/// Registered users whose username or display name contains `query`, best match first (see
/// [`crate::db::users::search`]).
pub fn search(c: &mut PgTransaction<'_>, query: &str, limit: i64) -> AppResult<Vec<User>> {
    let q = query.to_lowercase();
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let sql = format!(
        "SELECT {COLUMNS} FROM users
         WHERE NOT is_guest
           AND (lower(username) LIKE '%' || $1 || '%' ESCAPE '\\'
                OR lower(display_name) LIKE '%' || $1 || '%' ESCAPE '\\')
         ORDER BY CASE
                    WHEN lower(username) = $2 THEN 0
                    WHEN lower(username) LIKE $1 || '%' ESCAPE '\\'
                      OR lower(display_name) LIKE $1 || '%' ESCAPE '\\' THEN 1
                    ELSE 2
                  END,
                  lower(username)
         LIMIT $3"
    );
    let rows = c.query(&sql, &[&escaped, &q, &limit])?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Every registered user (not guests), by username.
pub fn list(c: &mut PgTransaction<'_>) -> AppResult<Vec<User>> {
    let rows = c.query(
        &format!("SELECT {COLUMNS} FROM users WHERE NOT is_guest ORDER BY lower(username)"),
        &[],
    )?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}
