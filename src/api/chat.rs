//! REST mirror of the chat consumer: each handler adapts to one `chat::` operation.

use super::{Auth, JsonBody, MaybeJson};
use crate::chat::{self, Actor};
use crate::error::AppError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

type Res = Result<HttpResponse, AppError>;
type State = web::Data<AppState>;

async fn list(state: State, who: Auth) -> Res {
    let rooms = chat::room_list(&state, &Actor::user(&who.0)).await?;
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms })))
}

async fn create(state: State, who: Auth, body: JsonBody<chat::CreateRoom>) -> Res {
    let room = chat::create_room(&state, &Actor::user(&who.0), body.0).await?;
    Ok(HttpResponse::Created().json(json!({ "room": room })))
}

async fn direct(state: State, who: Auth, body: JsonBody<chat::OpenDirect>) -> Res {
    let room = chat::open_direct(&state, &Actor::user(&who.0), body.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "room": room })))
}

async fn public(state: State, who: Auth, q: web::Query<chat::PublicRooms>) -> Res {
    let rooms = chat::public_rooms(&state, &Actor::user(&who.0), q.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms })))
}

async fn get(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let req = chat::RoomRef { room_id: *id };
    let room = chat::get_room(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(json!({ "room": room })))
}

async fn join(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let req = chat::RoomRef { room_id: *id };
    let room = chat::join_room(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(json!({ "room": room })))
}

async fn leave(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let req = chat::RoomRef { room_id: *id };
    let room_id = chat::leave_room(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(json!({ "room_id": room_id })))
}

async fn add_member(
    state: State,
    who: Auth,
    id: web::Path<i64>,
    body: JsonBody<chat::AddMember>,
) -> Res {
    let req = chat::AddMember {
        room_id: *id,
        ..body.0
    };
    let user = chat::add_member(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(json!({ "room_id": *id, "user": user })))
}

/// `?before=&after=&limit=`
#[derive(Deserialize)]
struct PageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

async fn messages(state: State, who: Auth, id: web::Path<i64>, q: web::Query<PageQuery>) -> Res {
    let req = chat::GetMessages {
        room_id: *id,
        before: q.before,
        after: q.after,
        limit: q.limit,
    };
    let page = chat::get_messages(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(page))
}

async fn send(
    state: State,
    who: Auth,
    id: web::Path<i64>,
    body: JsonBody<chat::SendMessage>,
) -> Res {
    let req = chat::SendMessage {
        room_id: *id,
        ..body.0
    };
    let (message, created) = chat::send_message(&state, &Actor::user(&who.0), req).await?;
    let mut resp = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(resp.json(json!({ "message": message })))
}

async fn edit(
    state: State,
    who: Auth,
    id: web::Path<i64>,
    body: JsonBody<chat::EditMessage>,
) -> Res {
    let req = chat::EditMessage {
        message_id: *id,
        ..body.0
    };
    let message = chat::edit_message(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(json!({ "message": message })))
}

async fn delete(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let req = chat::MessageRef { message_id: *id };
    let (room_id, message_id) = chat::delete_message(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(json!({ "room_id": room_id, "message_id": message_id })))
}

async fn read(state: State, who: Auth, id: web::Path<i64>, body: MaybeJson<chat::MarkRead>) -> Res {
    let req = chat::MarkRead {
        room_id: *id,
        message_id: body.0.and_then(|b| b.message_id),
    };
    let marked = chat::mark_read(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::Ok().json(marked))
}

async fn typing(state: State, who: Auth, id: web::Path<i64>, body: JsonBody<chat::Typing>) -> Res {
    let req = chat::Typing {
        room_id: *id,
        ..body.0
    };
    chat::typing(&state, &Actor::user(&who.0), req).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?after=&limit=&wait=`
#[derive(Deserialize)]
struct SyncQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
    #[serde(default)]
    wait: u64,
}

async fn sync(state: State, who: Auth, q: web::Query<SyncQuery>) -> Res {
    let req = chat::Sync {
        after: q.after,
        limit: q.limit,
    };
    let wait = Duration::from_secs(q.wait.min(u64::MAX / 2));
    let page = chat::sync(&state, &Actor::user(&who.0), req, wait).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Registers the chat routes (literal paths before `{id}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/rooms", web::get().to(list))
        .route("/api/rooms", web::post().to(create))
        .route("/api/rooms/direct", web::post().to(direct))
        .route("/api/rooms/public", web::get().to(public))
        .route("/api/rooms/{id}", web::get().to(get))
        .route("/api/rooms/{id}/join", web::post().to(join))
        .route("/api/rooms/{id}/leave", web::post().to(leave))
        .route("/api/rooms/{id}/members", web::post().to(add_member))
        .route("/api/rooms/{id}/messages", web::get().to(messages))
        .route("/api/rooms/{id}/messages", web::post().to(send))
        .route("/api/rooms/{id}/read", web::post().to(read))
        .route("/api/rooms/{id}/typing", web::post().to(typing))
        .route("/api/messages/{id}", web::patch().to(edit))
        .route("/api/messages/{id}", web::delete().to(delete))
        .route("/api/sync", web::get().to(sync));
}
