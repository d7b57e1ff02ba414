//! Support chat: each visitor (an anonymous guest or a signed-in user) has one room of kind
//! `support`; staff at the console read and answer every such room. Everything goes through the
//! chat operations, storage and hub: there is no second message pipeline.

use crate::auth::{token, Principal};
use crate::chat::{self, Actor, GetMessages, MarkRead, MessagePage, ReadMarked, SendMessage};
use crate::db::chat::{self as rooms, Message, Room, RoomKind};
use crate::db::tokens::{self, Kind};
use crate::db::users;
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::hub::{Audience, Endpoint, Target};
use crate::protocol::ServerMsg;
use crate::state::AppState;

/// Creates a guest user and its resume token for a visitor without credentials. Limited per
/// client address.
pub async fn create_guest(state: &AppState, peer: Option<&str>) -> AppResult<(Principal, String)> {
    let key = peer.unwrap_or("unknown");
    state
        .guest_throttle
        .try_acquire(key)
        .map_err(|wait| AppError::RateLimited {
            message: "too many new visitors from this address".into(),
            retry_after: wait,
        })?;
    state
        .db
        .call(|conn| {
            let value = token::random_token();
            let hash = token::hash_token(&value);
            let tag: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
            // '~' cannot appear in a registered username, so guests never collide with users.
            let username = format!("~guest-{tag}");
            let display = format!("Visitor {}", &tag[..4]);
            let tx = crate::db::write_tx(conn)?;
            let user = users::insert(&tx, &username, &display, None, false, true)?;
            let id = tokens::insert(&tx, user.id, Kind::Guest, &hash, None, None)?;
            tx.commit()?;
            Ok((
                Principal {
                    user,
                    token_id: id,
                    expires_at: None,
                },
                value,
            ))
        })
        .await
}

/// The visitor's one support room, created on first use (and announced to staff consoles).
pub async fn room_of(state: &AppState, visitor: &User) -> AppResult<i64> {
    let v = visitor.clone();
    let (room_id, created) = state
        .db
        .call(move |c| {
            if let Some(id) = rooms::support_room_of(c, v.id)? {
                return Ok((id, None));
            }
            let tx = crate::db::write_tx(c)?;
            // Another request may have created it since the read above.
            if let Some(id) = rooms::support_room_of(&tx, v.id)? {
                return Ok((id, None));
            }
            let id = rooms::insert_room(
                &tx,
                &format!("Support: {}", v.display_name),
                RoomKind::Support,
                false,
                Some(v.id),
                None,
                Some(v.id),
            )?;
            rooms::add_member(&tx, id, v.id)?;
            let room = rooms::room_view(&tx, id, v.id, true)?;
            tx.commit()?;
            Ok((id, room))
        })
        .await?;
    if let Some(room) = created {
        announce_to_staff(state, room);
    }
    Ok(room_id)
}

fn announce_to_staff(state: &AppState, room: Room) {
    state.hub.publish(
        &Audience {
            endpoint: Endpoint::Admin,
            target: Target::Staff,
        },
        &ServerMsg::RoomUpdated { room },
    );
}

fn visitor(user: &User) -> Actor {
    Actor {
        user: user.clone(),
        staff_console: false,
    }
}

/// A visitor's message into their support room.
pub async fn send(
    state: &AppState,
    user: &User,
    content: String,
    client_id: Option<String>,
) -> AppResult<(Message, bool)> {
    let room_id = room_of(state, user).await?;
    let req = SendMessage {
        room_id,
        content,
        client_id,
    };
    chat::send_message(state, &visitor(user), req).await
}

/// A page of the visitor's support conversation.
pub async fn messages(state: &AppState, user: &User, req: GetMessages) -> AppResult<MessagePage> {
    let room_id = room_of(state, user).await?;
    chat::get_messages(state, &visitor(user), GetMessages { room_id, ..req }).await
}

/// Moves the visitor's read marker.
pub async fn mark_read(
    state: &AppState,
    user: &User,
    message_id: Option<i64>,
) -> AppResult<ReadMarked> {
    let room_id = room_of(state, user).await?;
    chat::mark_read(
        state,
        &visitor(user),
        MarkRead {
            room_id,
            message_id,
        },
    )
    .await
}

fn require_staff(actor: &Actor) -> AppResult<()> {
    if actor.staff_console {
        Ok(())
    } else {
        Err(AppError::Forbidden("staff only".into()))
    }
}

/// Checks that a room is a support room (staff console operations touch nothing else).
async fn support_room(state: &AppState, room_id: i64) -> AppResult<()> {
    let info = state.db.call(move |c| rooms::room_info(c, room_id)).await?;
    match info {
        Some(r) if r.kind == RoomKind::Support => Ok(()),
        _ => Err(AppError::not_found("room")),
    }
}

/// Every support room with the staff's unread count, most recent activity first.
pub async fn staff_rooms(state: &AppState, staff: &Actor) -> AppResult<Vec<Room>> {
    require_staff(staff)?;
    let uid = staff.user.id;
    state.db.call(move |c| rooms::support_rooms(c, uid)).await
}

/// One support room as staff see it.
pub async fn staff_room(state: &AppState, staff: &Actor, room_id: i64) -> AppResult<Room> {
    require_staff(staff)?;
    support_room(state, room_id).await?;
    chat::get_room(state, staff, chat::RoomRef { room_id }).await
}

/// A page of any support conversation.
pub async fn staff_messages(
    state: &AppState,
    staff: &Actor,
    req: GetMessages,
) -> AppResult<MessagePage> {
    require_staff(staff)?;
    support_room(state, req.room_id).await?;
    chat::get_messages(state, staff, req).await
}

/// A staff reply into a support conversation.
pub async fn staff_send(
    state: &AppState,
    staff: &Actor,
    req: SendMessage,
) -> AppResult<(Message, bool)> {
    require_staff(staff)?;
    support_room(state, req.room_id).await?;
    chat::send_message(state, staff, req).await
}

/// Moves the staff's shared read marker of a support conversation.
pub async fn staff_mark_read(
    state: &AppState,
    staff: &Actor,
    req: MarkRead,
) -> AppResult<ReadMarked> {
    require_staff(staff)?;
    support_room(state, req.room_id).await?;
    chat::mark_read(state, staff, req).await
}
