//! Chat operations. Each is one function that validates, authorizes, writes and publishes;
//! the WebSocket dispatcher (`ws::dispatch`) and the REST handlers (`api::chat`) only adapt
//! their input and output to it.

pub mod writer;

use crate::auth::Principal;
use crate::db::chat::{self as store, Cursor, Message, Room, RoomInfo, RoomKind};
use crate::db::users::{self, User};
use crate::error::{page_limit, AppError, AppResult};
use crate::hub::{Audience, Endpoint, Target};
use crate::protocol::ServerMsg;
use crate::state::AppState;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::oneshot;

/// Longest message content, in characters.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Longest `client_id`.
pub const MAX_CLIENT_ID: usize = 64;
/// Longest long-poll wait.
pub const MAX_WAIT_S: u64 = 30;
/// Most usernames `create_room` takes in `members` (more answer `validation_failed`); more
/// members are added one at a time with `add_member`.
pub const MAX_MEMBERS_AT_CREATION: usize = 100;
/// The window of `rooms_per_hour`.
pub const ROOMS_WINDOW: Duration = Duration::from_secs(3600);

/// Who performs an operation, and in which role.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user.
    pub user: User,
    /// Acting from the staff console: may read and write every support room.
    pub staff_console: bool,
}

impl Actor {
    /// A user acting for themself.
    pub fn user(p: &Principal) -> Actor {
        Actor {
            user: p.user.clone(),
            staff_console: false,
        }
    }

    /// A staff member acting from the console (the caller must have checked `is_staff`).
    pub fn staff(p: &Principal) -> Actor {
        Actor {
            user: p.user.clone(),
            staff_console: p.user.is_staff,
        }
    }
}

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
pub fn access<M: Mode>(
    conn: &Connection,
    actor: &Actor,
    room_id: i64,
    _mode: M,
) -> AppResult<RoomInfo> {
    let Some(room) = store::room_info(conn, room_id)? else {
        return Err(AppError::not_found("room"));
    };
    if actor.staff_console && room.kind == RoomKind::Support {
        return Ok(room);
    }
    if store::is_member(conn, room_id, actor.user.id)? {
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

/// Serializes a pushed frame once and delivers it to each audience.
pub fn publish(state: &AppState, audiences: &[Audience], msg: &ServerMsg) {
    let frame = msg.frame(None);
    for a in audiences {
        state.hub.publish_bytes(a, frame.clone());
    }
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

fn check_room_name(name: &str) -> AppResult<String> {
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

// ---- requests (shared by both transports) ----

/// `{room_id}`
#[derive(Debug, Clone, Deserialize)]
pub struct RoomRef {
    /// Room.
    pub room_id: i64,
}

/// `{message_id}`
#[derive(Debug, Clone, Deserialize)]
pub struct MessageRef {
    /// Message.
    pub message_id: i64,
}

/// `create_room`
#[derive(Debug, Clone, Deserialize)]
pub struct CreateRoom {
    /// Name.
    pub name: String,
    /// Public (default false).
    #[serde(default)]
    pub is_public: bool,
    /// Usernames to add besides the creator.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `open_direct`
#[derive(Debug, Clone, Deserialize)]
pub struct OpenDirect {
    /// The other person.
    pub username: String,
}

/// `get_public_rooms`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublicRooms {
    /// Name filter.
    #[serde(default)]
    pub query: Option<String>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `add_member`
#[derive(Debug, Clone, Deserialize)]
pub struct AddMember {
    /// Room (from the path over REST).
    #[serde(default)]
    pub room_id: i64,
    /// Who to add.
    pub username: String,
}

/// `get_messages`
#[derive(Debug, Clone, Deserialize)]
pub struct GetMessages {
    /// Room (from the path over REST; implied on the support endpoint).
    #[serde(default)]
    pub room_id: i64,
    /// Newest page below this id.
    #[serde(default)]
    pub before: Option<i64>,
    /// Oldest page above this id.
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `send_message`
#[derive(Debug, Clone, Deserialize)]
pub struct SendMessage {
    /// Room (from the path over REST; implied on the support endpoint).
    #[serde(default)]
    pub room_id: i64,
    /// Content.
    pub content: String,
    /// Idempotency key.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// `edit_message`
#[derive(Debug, Clone, Deserialize)]
pub struct EditMessage {
    /// Message (from the path over REST).
    #[serde(default)]
    pub message_id: i64,
    /// New content.
    pub content: String,
}

/// `mark_read`
#[derive(Debug, Clone, Deserialize)]
pub struct MarkRead {
    /// Room (from the path over REST).
    #[serde(default)]
    pub room_id: i64,
    /// Read up to this message (default: the newest).
    #[serde(default)]
    pub message_id: Option<i64>,
}

/// `typing`
#[derive(Debug, Clone, Deserialize)]
pub struct Typing {
    /// Room (from the path over REST).
    #[serde(default)]
    pub room_id: i64,
    /// Started or stopped.
    pub is_typing: bool,
}

/// `sync`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sync {
    /// Cursor: messages with a greater id (default 0: everything).
    #[serde(default)]
    pub after: i64,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}

// ---- answers ----

/// `messages {room_id, messages, has_more}`
#[derive(Debug, Clone, Serialize)]
pub struct MessagePage {
    /// Room.
    pub room_id: i64,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// More exist beyond the page in the paging direction.
    pub has_more: bool,
}

/// `sync {messages, has_more}`
#[derive(Debug, Clone, Serialize)]
pub struct SyncPage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// More exist after the last one.
    pub has_more: bool,
}

/// `read_marked {room_id, last_read_message_id, unread_count}`
#[derive(Debug, Clone, Serialize)]
pub struct ReadMarked {
    /// Room.
    pub room_id: i64,
    /// The marker.
    pub last_read_message_id: i64,
    /// Unread after it.
    pub unread_count: i64,
}

// ---- operations ----

/// The caller's group and direct rooms, most recent activity first.
pub async fn room_list(state: &AppState, actor: &Actor) -> AppResult<Vec<Room>> {
    let uid = actor.user.id;
    state
        .db
        .call(move |c| store::rooms_of(c, uid, &[RoomKind::Group, RoomKind::Direct]))
        .await
}

fn view(conn: &Connection, actor: &Actor, room: &RoomInfo) -> AppResult<Room> {
    let staff_view = actor.staff_console && room.kind == RoomKind::Support;
    store::room_view(conn, room.id, actor.user.id, staff_view)?
        .ok_or_else(|| AppError::not_found("room"))
}

/// One room the caller may read.
pub async fn get_room(state: &AppState, actor: &Actor, req: RoomRef) -> AppResult<Room> {
    let actor = actor.clone();
    state
        .db
        .call(move |c| {
            let room = access(c, &actor, req.room_id, Read)?;
            view(c, &actor, &room)
        })
        .await
}

/// Pushes `room_updated` to each listed user, with the room as that user sees it.
async fn push_room_to(state: &AppState, room_id: i64, users: Vec<i64>) -> AppResult<()> {
    let views = state
        .db
        .call(move |c| {
            let mut out = Vec::new();
            for u in users {
                if let Some(r) = store::room_view(c, room_id, u, false)? {
                    out.push((u, r));
                }
            }
            Ok(out)
        })
        .await?;
    for (user, room) in views {
        state.hub.publish(
            &Audience::user(Endpoint::Chat, user),
            &ServerMsg::RoomUpdated { room },
        );
    }
    Ok(())
}

fn resolve_usernames(conn: &Connection, names: &[String], field: &str) -> AppResult<Vec<User>> {
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        match users::by_username(conn, n)? {
            Some(u) => found.push(u),
            None => unknown.push(n.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::field(
            field,
            format!("unknown user(s): {}", unknown.join(", ")),
        ));
    }
    Ok(found)
}

/// Creates a group room with the caller and the listed members (at most
/// [`MAX_MEMBERS_AT_CREATION`]). Each user creates at most `rooms_per_hour` group rooms in a
/// window of [`ROOMS_WINDOW`] that starts with their first one; beyond, `rate_limited` until
/// the window ends. Only rooms actually created count (a refused request gives its place back).
/// Direct rooms do not count: there is one per pair of users, made by `open_direct`.
pub async fn create_room(state: &AppState, actor: &Actor, req: CreateRoom) -> AppResult<Room> {
    let name = check_room_name(&req.name)?;
    if req.members.len() > MAX_MEMBERS_AT_CREATION {
        return Err(AppError::field(
            "members",
            format!("at most {MAX_MEMBERS_AT_CREATION} usernames"),
        ));
    }
    let key = actor.user.id.to_string();
    state
        .room_throttle
        .try_acquire(&key)
        .map_err(|wait| AppError::RateLimited {
            message: format!(
                "at most {} new rooms per hour; try again later",
                state.config.rooms_per_hour
            ),
            retry_after: wait,
        })?;
    let actor2 = actor.clone();
    let created = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let others = resolve_usernames(&tx, &req.members, "members")?;
            let id = store::insert_room(
                &tx,
                &name,
                RoomKind::Group,
                req.is_public,
                Some(actor2.user.id),
                None,
                None,
            )?;
            store::add_member(&tx, id, actor2.user.id)?;
            for u in &others {
                store::add_member(&tx, id, u.id)?;
            }
            let members = store::member_ids(&tx, id)?;
            let room = store::room_view(&tx, id, actor2.user.id, false)?
                .ok_or_else(|| AppError::Internal("room vanished".into()))?;
            tx.commit()?;
            Ok((room, members))
        })
        .await;
    let (room, members) = match created {
        Ok(created) => created,
        Err(e) => {
            state.room_throttle.release(&key);
            return Err(e);
        }
    };
    let others: Vec<i64> = members
        .into_iter()
        .filter(|&m| m != actor.user.id)
        .collect();
    push_room_to(state, room.id, others).await?;
    Ok(room)
}

/// The direct room between the caller and `username`, created on first use.
pub async fn open_direct(state: &AppState, actor: &Actor, req: OpenDirect) -> AppResult<Room> {
    let me = actor.user.clone();
    let (room, created, other) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let Some(other) = users::by_username(&tx, &req.username)? else {
                return Err(AppError::field("username", "unknown user"));
            };
            if other.id == me.id {
                return Err(AppError::field(
                    "username",
                    "cannot open a direct room with yourself",
                ));
            }
            let key = format!("{}:{}", me.id.min(other.id), me.id.max(other.id));
            let (id, created) = match store::direct_room(&tx, &key)? {
                Some(id) => (id, false),
                None => {
                    let name = format!("{} & {}", me.username, other.username);
                    let id = store::insert_room(
                        &tx,
                        &name,
                        RoomKind::Direct,
                        false,
                        Some(me.id),
                        Some(&key),
                        None,
                    )?;
                    store::add_member(&tx, id, me.id)?;
                    store::add_member(&tx, id, other.id)?;
                    (id, true)
                }
            };
            let room = store::room_view(&tx, id, me.id, false)?
                .ok_or_else(|| AppError::Internal("room vanished".into()))?;
            tx.commit()?;
            Ok((room, created, other.id))
        })
        .await?;
    if created {
        push_room_to(state, room.id, vec![other]).await?;
    }
    Ok(room)
}

/// Public group rooms by name match, most active first.
pub async fn public_rooms(
    state: &AppState,
    actor: &Actor,
    req: PublicRooms,
) -> AppResult<Vec<Room>> {
    let limit = page_limit(req.limit)?;
    let query = req.query.unwrap_or_default();
    if query.chars().count() > 100 {
        return Err(AppError::field("query", "at most 100 characters"));
    }
    let uid = actor.user.id;
    state
        .db
        .call(move |c| store::public_rooms(c, uid, query.trim(), limit))
        .await
}

/// Joins a public group room (idempotent).
pub async fn join_room(state: &AppState, actor: &Actor, req: RoomRef) -> AppResult<Room> {
    let me = actor.user.clone();
    let (room, joined, members) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let info = store::room_info(&tx, req.room_id)?;
            let Some(info) = info.filter(|r| r.kind == RoomKind::Group) else {
                return Err(AppError::not_found("room"));
            };
            let member = store::is_member(&tx, info.id, me.id)?;
            if !member && !info.is_public {
                return Err(AppError::not_found("room"));
            }
            let joined = !member && store::add_member(&tx, info.id, me.id)?;
            let members = store::member_ids(&tx, info.id)?;
            let room = store::room_view(&tx, info.id, me.id, false)?
                .ok_or_else(|| AppError::Internal("room vanished".into()))?;
            tx.commit()?;
            Ok((room, joined, members))
        })
        .await?;
    if joined {
        publish(
            state,
            &audiences(RoomKind::Group, members, None),
            &ServerMsg::MemberJoined {
                room_id: room.id,
                user: actor.user.clone(),
            },
        );
    }
    Ok(room)
}

/// Leaves a group room.
pub async fn leave_room(state: &AppState, actor: &Actor, req: RoomRef) -> AppResult<i64> {
    let actor2 = actor.clone();
    let (info, members) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let info = access(&tx, &actor2, req.room_id, Write)?;
            if info.kind != RoomKind::Group {
                return Err(AppError::Forbidden("only group rooms can be left".into()));
            }
            let mut members = store::member_ids(&tx, info.id)?;
            store::remove_member(&tx, info.id, actor2.user.id)?;
            tx.commit()?;
            // The leaver's own sockets hear it too (other tabs drop the room).
            members.sort_unstable();
            Ok((info, members))
        })
        .await?;
    publish(
        state,
        &audiences(info.kind, members, None),
        &ServerMsg::MemberLeft {
            room_id: info.id,
            user: actor.user.clone(),
        },
    );
    Ok(info.id)
}

/// Adds a member to a group room the caller belongs to (idempotent).
pub async fn add_member(state: &AppState, actor: &Actor, req: AddMember) -> AppResult<User> {
    let actor2 = actor.clone();
    let (user, added, members) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let info = access(&tx, &actor2, req.room_id, Write)?;
            if info.kind != RoomKind::Group {
                return Err(AppError::Forbidden(
                    "members can only be added to group rooms".into(),
                ));
            }
            let Some(user) = users::by_username(&tx, &req.username)? else {
                return Err(AppError::field("username", "unknown user"));
            };
            let added = store::add_member(&tx, info.id, user.id)?;
            let members = store::member_ids(&tx, info.id)?;
            tx.commit()?;
            Ok((user, added, members))
        })
        .await?;
    if added {
        publish(
            state,
            &audiences(RoomKind::Group, members, None),
            &ServerMsg::MemberJoined {
                room_id: req.room_id,
                user: user.clone(),
            },
        );
        push_room_to(state, req.room_id, vec![user.id]).await?;
    }
    Ok(user)
}

/// A page of a room's history.
pub async fn get_messages(
    state: &AppState,
    actor: &Actor,
    req: GetMessages,
) -> AppResult<MessagePage> {
    let limit = page_limit(req.limit)?;
    let cursor = match (req.before, req.after) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid("give either before or after, not both"))
        }
        (Some(b), None) => Cursor::Before(b),
        (None, Some(a)) => Cursor::After(a),
        (None, None) => Cursor::Latest,
    };
    let actor = actor.clone();
    state
        .db
        .call(move |c| {
            let room = access(c, &actor, req.room_id, Read)?;
            let (messages, has_more) = store::messages_page(c, room.id, cursor, limit)?;
            Ok(MessagePage {
                room_id: room.id,
                messages,
                has_more,
            })
        })
        .await
}

/// Sends a message. Returns it and whether it is new (`false`: a repeat of its `client_id`,
/// answered with the original and creating nothing). Acknowledged only after the commit.
pub async fn send_message(
    state: &AppState,
    actor: &Actor,
    req: SendMessage,
) -> AppResult<(Message, bool)> {
    check_content(&req.content)?;
    if let Some(cid) = &req.client_id {
        if cid.is_empty() || cid.chars().count() > MAX_CLIENT_ID {
            return Err(AppError::field(
                "client_id",
                format!("must be 1 to {MAX_CLIENT_ID} characters"),
            ));
        }
    }
    let (reply, answer) = oneshot::channel();
    state.writer.submit(writer::SendJob {
        actor: actor.clone(),
        room_id: req.room_id,
        content: req.content,
        client_id: req.client_id,
        reply,
    })?;
    answer
        .await
        .map_err(|_| AppError::Internal("message write failed".into()))?
}

/// Loads a message and checks the caller may change it: a member's view, and only the sender.
fn own_message(
    conn: &Connection,
    actor: &Actor,
    message_id: i64,
) -> AppResult<(Message, RoomInfo)> {
    let Some(m) = store::message(conn, message_id)? else {
        return Err(AppError::not_found("message"));
    };
    let room = access(conn, actor, m.room_id, Read).map_err(|e| match e {
        AppError::Forbidden(_) => AppError::not_found("message"),
        AppError::NotFound(_) => AppError::not_found("message"),
        other => other,
    })?;
    if m.sender.as_ref().map(|s| s.id) != Some(actor.user.id) {
        return Err(AppError::Forbidden(
            "only the sender may change a message".into(),
        ));
    }
    Ok((m, room))
}

/// Edits one's own message.
pub async fn edit_message(state: &AppState, actor: &Actor, req: EditMessage) -> AppResult<Message> {
    check_content(&req.content)?;
    let actor = actor.clone();
    let (message, info, members) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let (m, info) = own_message(&tx, &actor, req.message_id)?;
            if m.deleted {
                return Err(AppError::Conflict("message was deleted".into()));
            }
            store::edit_message(&tx, m.id, &req.content)?;
            let m = store::message(&tx, m.id)?.ok_or_else(|| AppError::not_found("message"))?;
            let members = store::member_ids(&tx, info.id)?;
            tx.commit()?;
            Ok((m, info, members))
        })
        .await?;
    publish(
        state,
        &audiences(info.kind, members, None),
        &ServerMsg::MessageUpdated {
            message: message.clone(),
        },
    );
    Ok(message)
}

/// Deletes one's own message (idempotent): it keeps its id, empty and `deleted: true`.
pub async fn delete_message(
    state: &AppState,
    actor: &Actor,
    req: MessageRef,
) -> AppResult<(i64, i64)> {
    let actor = actor.clone();
    let (m, info, members, changed) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let (m, info) = own_message(&tx, &actor, req.message_id)?;
            let changed = !m.deleted;
            if changed {
                store::delete_message(&tx, m.id)?;
            }
            let members = store::member_ids(&tx, info.id)?;
            tx.commit()?;
            Ok((m, info, members, changed))
        })
        .await?;
    if changed {
        publish(
            state,
            &audiences(info.kind, members, None),
            &ServerMsg::MessageDeleted {
                room_id: m.room_id,
                message_id: m.id,
            },
        );
    }
    Ok((m.room_id, m.id))
}

/// Moves the caller's read marker and tells the room (`read_receipt`).
pub async fn mark_read(state: &AppState, actor: &Actor, req: MarkRead) -> AppResult<ReadMarked> {
    let actor2 = actor.clone();
    let (marked, info, members) = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let info = access(&tx, &actor2, req.room_id, Write)?;
            if let Some(mid) = req.message_id {
                match store::message(&tx, mid)? {
                    Some(m) if m.room_id == info.id => {}
                    _ => {
                        return Err(AppError::field(
                            "message_id",
                            "no such message in this room",
                        ))
                    }
                }
            }
            let staff = actor2.staff_console && info.kind == RoomKind::Support;
            let (last, unread) = if staff {
                store::staff_mark_read(&tx, info.id, req.message_id)?
            } else {
                store::mark_read(&tx, info.id, actor2.user.id, req.message_id)?
            };
            let members = store::member_ids(&tx, info.id)?;
            tx.commit()?;
            Ok((
                ReadMarked {
                    room_id: info.id,
                    last_read_message_id: last,
                    unread_count: unread,
                },
                info,
                members,
            ))
        })
        .await?;
    publish(
        state,
        &audiences(info.kind, members, None),
        &ServerMsg::ReadReceipt {
            room_id: marked.room_id,
            user_id: actor.user.id,
            last_read_message_id: marked.last_read_message_id,
        },
    );
    Ok(marked)
}

/// Tells the other members the caller is (or stopped) typing. Stores nothing.
pub async fn typing(state: &AppState, actor: &Actor, req: Typing) -> AppResult<()> {
    let actor2 = actor.clone();
    let (info, members) = state
        .db
        .call(move |c| {
            let info = access(c, &actor2, req.room_id, Write)?;
            let members = store::member_ids(c, info.id)?;
            Ok((info, members))
        })
        .await?;
    publish(
        state,
        &audiences(info.kind, members, Some(actor.user.id)),
        &ServerMsg::Typing {
            room_id: info.id,
            user: (&actor.user).into(),
            is_typing: req.is_typing,
        },
    );
    Ok(())
}

/// Every message in the caller's rooms after `after`, oldest first. With `wait`, waits up to
/// that long for one to arrive (long-poll) and answers as soon as one does.
pub async fn sync(
    state: &AppState,
    actor: &Actor,
    req: Sync,
    wait: Duration,
) -> AppResult<SyncPage> {
    let limit = page_limit(req.limit)?;
    if req.after < 0 {
        return Err(AppError::field("after", "must not be negative"));
    }
    if wait > Duration::from_secs(MAX_WAIT_S) {
        return Err(AppError::field(
            "wait",
            format!("at most {MAX_WAIT_S} seconds"),
        ));
    }
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribe before the first query, so a message stored in between still wakes us.
    let mut newest = state.latest_message.subscribe();
    let uid = actor.user.id;
    loop {
        let after = req.after;
        let (messages, has_more) = state
            .db
            .call(move |c| store::sync(c, uid, after, limit))
            .await?;
        if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(SyncPage { messages, has_more });
        }
        match tokio::time::timeout_at(deadline, newest.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(SyncPage { messages, has_more }),
        }
    }
}
