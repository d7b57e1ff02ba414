//! Routes typed client frames to the endpoint's operations. Each arm is a thin adapter over
//! an operation that REST shares.

use super::session::Ctx;
use crate::chat::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::hub::Endpoint;
use crate::protocol::{ClientMsg, ServerMsg};
use crate::support;
use crate::tasks;
use std::time::Duration;

/// Frames sent right after `connected`: on `/ws/tasks/`, the snapshot of the user's queued and
/// running tasks.
pub async fn on_connect(ctx: &Ctx) -> AppResult<Vec<ServerMsg>> {
    match ctx.conn.endpoint {
        Endpoint::Tasks => Ok(vec![ServerMsg::TaskList {
            tasks: tasks::active(&ctx.state, &ctx.principal.user).await?,
        }]),
        _ => Ok(Vec::new()),
    }
}

/// Handles one request; `Ok(None)` when the operation has no reply. `kind` is the frame's
/// `type`, for the `unknown_type` message.
pub async fn handle(ctx: &Ctx, kind: &str, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    match ctx.conn.endpoint {
        Endpoint::Chat => chat_frame(ctx, msg).await,
        Endpoint::Tasks => task_frame(ctx, msg).await,
        Endpoint::Support => support_frame(ctx, msg).await,
        Endpoint::Admin => admin_frame(ctx, msg).await,
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

async fn task_frame(ctx: &Ctx, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    let s = &ctx.state;
    let u = &ctx.principal.user;
    Ok(Some(match msg {
        ClientMsg::StartTask(r) => ServerMsg::TaskCreated {
            task: tasks::start(s, u, r).await?,
        },
        ClientMsg::GetTasks(r) => ServerMsg::TaskList {
            tasks: tasks::list(s, u, r).await?,
        },
        ClientMsg::GetTask(r) => ServerMsg::Task {
            task: tasks::get(s, u, r).await?,
        },
        ClientMsg::CancelTask(r) => ServerMsg::TaskCancelling {
            task_id: tasks::cancel(s, u, r).await?,
        },
        _ => return Err(AppError::UnknownType(String::new())),
    }))
}

async fn support_frame(ctx: &Ctx, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    let s = &ctx.state;
    let u = &ctx.principal.user;
    Ok(Some(match msg {
        ClientMsg::SendMessage(r) => ServerMsg::MessageSent {
            message: support::send(s, u, r.content, r.client_id).await?.0,
        },
        ClientMsg::GetMessages(r) => ServerMsg::Messages(support::messages(s, u, r).await?),
        ClientMsg::MarkRead(r) => {
            ServerMsg::ReadMarked(support::mark_read(s, u, r.message_id).await?)
        }
        _ => return Err(AppError::UnknownType(String::new())),
    }))
}

async fn admin_frame(ctx: &Ctx, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    let s = &ctx.state;
    let a = &Actor::staff(&ctx.principal);
    Ok(Some(match msg {
        ClientMsg::GetRoomList => ServerMsg::RoomList {
            rooms: support::staff_rooms(s, a).await?,
        },
        ClientMsg::GetRoom(r) => ServerMsg::Room {
            room: support::staff_room(s, a, r.room_id).await?,
        },
        ClientMsg::GetMessages(r) => ServerMsg::Messages(support::staff_messages(s, a, r).await?),
        ClientMsg::SendMessage(r) => ServerMsg::MessageSent {
            message: support::staff_send(s, a, r).await?.0,
        },
        ClientMsg::MarkRead(r) => ServerMsg::ReadMarked(support::staff_mark_read(s, a, r).await?),
        _ => return Err(AppError::UnknownType(String::new())),
    }))
}
