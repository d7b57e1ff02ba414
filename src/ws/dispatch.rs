//! Routes typed client frames to the endpoint's operations. Each arm is a thin adapter over
//! an operation that REST shares.

use super::session::Ctx;
use crate::chat::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::hub::Endpoint;
use crate::protocol::{ClientMsg, ServerMsg};
use std::time::Duration;

/// Frames sent right after `connected` (e.g. the task snapshot on `/ws/tasks/`).
pub async fn on_connect(_ctx: &Ctx) -> AppResult<Vec<ServerMsg>> {
    Ok(Vec::new())
}

/// Handles one request; `Ok(None)` when the operation has no reply. `kind` is the frame's
/// `type`, for the `unknown_type` message.
pub async fn handle(ctx: &Ctx, kind: &str, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    match ctx.conn.endpoint {
        Endpoint::Chat => chat_frame(ctx, msg).await,
        _ => Err(not_here(kind)),
    }
    .map_err(|e| match e {
        AppError::UnknownType(_) => not_here(kind),
        other => other,
    })
}

fn not_here(kind: &str) -> AppError {
    AppError::UnknownType(format!("'{kind}' is not handled on this endpoint"))
}

/// Over the socket the ids that REST takes from the path are body fields, which the shared
/// request types default to 0 when absent. A missing (or non-positive) id is a malformed
/// request, `validation_failed`, not an unknown room or message.
fn check_ids(msg: &ClientMsg) -> AppResult<()> {
    let (field, id) = match msg {
        ClientMsg::GetRoom(r) | ClientMsg::JoinRoom(r) | ClientMsg::LeaveRoom(r) => {
            ("room_id", r.room_id)
        }
        ClientMsg::AddMember(r) => ("room_id", r.room_id),
        ClientMsg::GetMessages(r) => ("room_id", r.room_id),
        ClientMsg::SendMessage(r) => ("room_id", r.room_id),
        ClientMsg::MarkRead(r) => ("room_id", r.room_id),
        ClientMsg::Typing(r) => ("room_id", r.room_id),
        ClientMsg::EditMessage(r) => ("message_id", r.message_id),
        ClientMsg::DeleteMessage(r) => ("message_id", r.message_id),
        _ => return Ok(()),
    };
    if id > 0 {
        Ok(())
    } else {
        Err(AppError::field(field, "is required (a positive integer)"))
    }
}

async fn chat_frame(ctx: &Ctx, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    check_ids(&msg)?;
    let s = &ctx.state;
    let a = &Actor::user(&ctx.principal);
    Ok(Some(match msg {
        ClientMsg::GetRoomList => ServerMsg::RoomList {
            rooms: chat::room_list(s, a).await?,
        },
        ClientMsg::GetRoom(r) => ServerMsg::Room {
            room: chat::get_room(s, a, r).await?,
        },
        ClientMsg::CreateRoom(r) => ServerMsg::RoomCreated {
            room: chat::create_room(s, a, r).await?,
        },
        ClientMsg::OpenDirect(r) => ServerMsg::Room {
            room: chat::open_direct(s, a, r).await?,
        },
        ClientMsg::GetPublicRooms(r) => ServerMsg::PublicRoomList {
            rooms: chat::public_rooms(s, a, r).await?,
        },
        ClientMsg::JoinRoom(r) => ServerMsg::RoomJoined {
            room: chat::join_room(s, a, r).await?,
        },
        ClientMsg::LeaveRoom(r) => ServerMsg::RoomLeft {
            room_id: chat::leave_room(s, a, r).await?,
        },
        ClientMsg::AddMember(r) => {
            let room_id = r.room_id;
            ServerMsg::MemberAdded {
                room_id,
                user: chat::add_member(s, a, r).await?,
            }
        }
        ClientMsg::GetMessages(r) => ServerMsg::Messages(chat::get_messages(s, a, r).await?),
        ClientMsg::SendMessage(r) => ServerMsg::MessageSent {
            message: chat::send_message(s, a, r).await?.0,
        },
        ClientMsg::EditMessage(r) => ServerMsg::MessageUpdated {
            message: chat::edit_message(s, a, r).await?,
        },
        ClientMsg::DeleteMessage(r) => {
            let (room_id, message_id) = chat::delete_message(s, a, r).await?;
            ServerMsg::MessageDeleted {
                room_id,
                message_id,
            }
        }
        ClientMsg::MarkRead(r) => ServerMsg::ReadMarked(chat::mark_read(s, a, r).await?),
        ClientMsg::Typing(r) => {
            chat::typing(s, a, r).await?;
            return Ok(None);
        }
        ClientMsg::Sync(r) => ServerMsg::Sync(chat::sync(s, a, r, Duration::ZERO).await?),
        _ => return Err(AppError::UnknownType(String::new())),
    }))
}
