//! The contract's room authorization, where a room's events go, and the checks on what people
//! write.

use super::{Actor, MAX_CONTENT_CHARS};
use crate::db::chat::{RoomInfo, RoomKind};
use crate::db::store::Tx;
use crate::error::{AppError, AppResult};
use crate::hub::{Audience, Endpoint, Target};

/// Read or write, for [`access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write;
/// Read access, for [`access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read;

/// The kind of access an operation needs.
pub trait Mode: Copy {
    /// Whether this is a write (`typing` and `mark_read` count as writes).
    const WRITE: bool;
}
impl Mode for Read {
    const WRITE: bool = false;
}
impl Mode for Write {
    const WRITE: bool = true;
}

/// The contract's room authorization. Members read and write; staff at the console read and
/// write support rooms; anyone else reading gets `not_found`, and writing gets `forbidden` when
/// the room is visible (public) and `not_found` otherwise.
pub fn access<M: Mode>(tx: &dyn Tx, actor: &Actor, room_id: i64, _mode: M) -> AppResult<RoomInfo> {
    let Some(room) = tx.room_info(room_id)? else {
        return Err(AppError::not_found("room"));
    };
    if actor.staff_console && room.kind == RoomKind::Support {
        return Ok(room);
    }
    if tx.is_member(room_id, actor.user.id)? {
        return Ok(room);
    }
    if M::WRITE && room.is_public && room.kind == RoomKind::Group {
        return Err(AppError::Forbidden("join the room first".into()));
    }
    Err(AppError::not_found("room"))
}

/// Where events about a room go: its members' chat sockets, or for a support room, the
/// visitor's support sockets and every staff console.
pub fn audiences(kind: RoomKind, members: Vec<i64>, except: Option<i64>) -> Vec<Audience> {
    let endpoint = if kind == RoomKind::Support {
        Endpoint::Support
    } else {
        Endpoint::Chat
    };
    let target = match except {
        Some(u) => Target::UsersExcept(members, u),
        None => Target::Users(members),
    };
    let mut out = vec![Audience { endpoint, target }];
    if kind == RoomKind::Support {
        out.push(Audience {
            endpoint: Endpoint::Admin,
            target: Target::Staff,
        });
    }
    out
}

/// Checks message content: 1–4000 characters, at least one of them visible (not only
/// whitespace, zero-width or control characters), no control characters but tab and newline.
pub fn check_content(content: &str) -> AppResult<()> {
    let n = content.chars().count();
    if n == 0 || !crate::text::has_visible(content) {
        return Err(AppError::field(
            "content",
            "must not be empty or only whitespace",
        ));
    }
    if content.chars().any(crate::text::forbidden_in_message) {
        return Err(AppError::field(
            "content",
            "must not contain control characters other than tab and newline",
        ));
    }
    if n > MAX_CONTENT_CHARS {
        return Err(AppError::field(
            "content",
            format!("must be at most {MAX_CONTENT_CHARS} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_room_name(name: &str) -> AppResult<String> {
    let t = name.trim();
    if !crate::text::has_visible(t) || t.chars().count() > 100 {
        return Err(AppError::field("name", "must be 1 to 100 characters"));
    }
    if t.chars().any(crate::text::forbidden_in_name) {
        return Err(AppError::field(
            "name",
            "must not contain control or text-direction characters",
        ));
    }
    Ok(t.to_string())
}
