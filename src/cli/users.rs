//! `hearth user list|set-staff|passwd|delete|revoke`: user management from the command line. Each
//! works while a server runs on the same database: the change and a row in `user_events` are
//! written in one transaction, and the server closes the sockets concerned within a second.

use crate::auth::forms::Password;
use crate::db::admin::UserEventKind;
use crate::db::store::{Store, Tx};
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use std::io::Read;

fn open(db: &str) -> Result<Store, String> {
    Store::open(db).map_err(|e| e.to_string())
}

fn find(tx: &dyn Tx, username: &str) -> AppResult<User> {
    match tx.user_by_username(username)? {
        Some(u) if !u.is_guest => Ok(u),
        _ => Err(AppError::not_found("user")),
    }
}

fn fail(username: &str) -> impl Fn(AppError) -> String + '_ {
    move |e| match e {
        AppError::NotFound(_) => format!("no user named {username}"),
        other => other.to_string(),
    }
}

/// `hearth user list`: one line per registered user.
pub fn list(db: &str) -> Result<String, String> {
    let users = open(db)?
        .read_blocking(|tx| tx.list_users())
        .map_err(|e| e.to_string())?;
    let mut out = format!(
        "{:<6} {:<32} {:<5} display name\n",
        "id", "username", "staff"
    );
    for u in &users {
        out.push_str(&format!(
            "{:<6} {:<32} {:<5} {}\n",
            u.id,
            u.username,
            if u.is_staff { "yes" } else { "no" },
            u.display_name
        ));
    }
    out.push_str(&format!("{} user(s)", users.len()));
    Ok(out)
}

/// `hearth user set-staff NAME [--off]`. Withdrawing staff rights closes the user's staff
/// console sockets (4403).
pub fn set_staff(username: &str, off: bool, db: &str) -> Result<String, String> {
    let user = open(db)?
        .write_blocking(|tx| {
            let user = find(tx, username)?;
            tx.set_staff(user.id, !off)?;
            let kind = if off {
                UserEventKind::Unstaff
            } else {
                UserEventKind::Staff
            };
            tx.record_user_event(user.id, kind)?;
            Ok(user)
        })
        .map_err(fail(username))?;
    Ok(format!(
        "{} (id {}) is {}",
        user.username,
        user.id,
        if off { "no longer staff" } else { "staff" }
    ))
}

/// `hearth user passwd NAME`: the new password is the first line of standard input. Every token
/// of the user is revoked (a new password ends every session) and their sockets close (4401).
pub fn passwd(username: &str, db: &str) -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let password =
        Password::parse(input.lines().next().unwrap_or("")).map_err(|e| e.to_string())?;
    let hash = crate::auth::password::hash_password(
        &password.0,
        crate::config::Config::default().argon2_memory_kib,
    )
    .map_err(|e| e.to_string())?;
    let (user, revoked) = open(db)?
        .write_blocking(|tx| {
            let user = find(tx, username)?;
            tx.set_password(user.id, &hash)?;
            let revoked = tx.revoke_user_tokens(user.id)?;
            tx.record_user_event(user.id, UserEventKind::Passwd)?;
            Ok((user, revoked))
        })
        .map_err(fail(username))?;
    Ok(format!(
        "new password for {} (id {}); {revoked} token(s) revoked",
        user.username, user.id
    ))
}

/// `hearth user revoke NAME`: every token of the user is revoked; their sockets close (4401).
pub fn revoke(username: &str, db: &str) -> Result<String, String> {
    let (user, revoked) = open(db)?
        .write_blocking(|tx| {
            let user = find(tx, username)?;
            let revoked = tx.revoke_user_tokens(user.id)?;
            tx.record_user_event(user.id, UserEventKind::Revoked)?;
            Ok((user, revoked))
        })
        .map_err(fail(username))?;
    Ok(format!(
        "revoked {revoked} token(s) of {} (id {})",
        user.username, user.id
    ))
}

/// `hearth user delete NAME`: the user's messages stay, without a sender; their sockets close
/// (4401).
pub fn delete(username: &str, db: &str) -> Result<String, String> {
    let user = open(db)?
        .write_blocking(|tx| {
            let user = find(tx, username)?;
            tx.delete_user(user.id)?;
            tx.record_user_event(user.id, UserEventKind::Deleted)?;
            Ok(user)
        })
        .map_err(fail(username))?;
    Ok(format!("deleted {} (id {})", user.username, user.id))
}
