//! REST mirror of `/ws/support/` (visitors) and `/ws/admin/chat/` (staff).

use super::{Auth, JsonBody, MaybeJson};
use crate::auth::{self, Credential, Principal};
use crate::chat::{self, Actor};
use crate::error::AppError;
use crate::state::AppState;
use crate::support;
use crate::ws::handshake::bearer_header;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::json;

type Res = Result<HttpResponse, AppError>;
type State = web::Data<AppState>;

/// A support visitor: `X-Guest-Token: <guest_token>`, or a user's bearer token. Writes count
/// against the visitor's REST write rate, as with [`super::Auth`].
pub struct Visitor(pub Principal);

impl FromRequest for Visitor {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let guest = req
            .headers()
            .get("x-guest-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| Credential::Guest(v.to_string()));
        let cred = guest
            .or_else(|| bearer_header(req).map(Credential::Token))
            .unwrap_or(Credential::None);
        let write = super::is_counted_write(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal("no state".into()))?;
            let who = auth::require(&state, cred).await?;
            if write {
                super::take_write(&state, who.user.id)?;
            }
            Ok(Visitor(who))
        })
    }
}

/// `?before=&after=&limit=`
#[derive(Deserialize)]
struct PageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

impl PageQuery {
    fn into_request(self, room_id: i64) -> chat::GetMessages {
        chat::GetMessages {
            room_id,
            before: self.before,
            after: self.after,
            limit: self.limit,
        }
    }
}

/// `{content, client_id?}`
#[derive(Deserialize)]
struct Post {
    content: String,
    #[serde(default)]
    client_id: Option<String>,
}

fn created(message: crate::db::chat::Message, new: bool) -> HttpResponse {
    let mut resp = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    resp.json(json!({ "message": message }))
}

async fn visitor_messages(state: State, who: Visitor, q: web::Query<PageQuery>) -> Res {
    let page = support::messages(&state, &who.0.user, q.into_inner().into_request(0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

async fn visitor_send(state: State, who: Visitor, body: JsonBody<Post>) -> Res {
    let (m, new) = support::send(&state, &who.0.user, body.0.content, body.0.client_id).await?;
    Ok(created(m, new))
}

/// Staff at the console. Users who are not staff answer 403.
fn staff(who: &Auth) -> Actor {
    Actor::staff(&who.0)
}

async fn rooms(state: State, who: Auth) -> Res {
    let rooms = support::staff_rooms(&state, &staff(&who)).await?;
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms })))
}

async fn room(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let room = support::staff_room(&state, &staff(&who), *id).await?;
    Ok(HttpResponse::Ok().json(json!({ "room": room })))
}

async fn messages(state: State, who: Auth, id: web::Path<i64>, q: web::Query<PageQuery>) -> Res {
    let req = q.into_inner().into_request(*id);
    let page = support::staff_messages(&state, &staff(&who), req).await?;
    Ok(HttpResponse::Ok().json(page))
}

async fn send(state: State, who: Auth, id: web::Path<i64>, body: JsonBody<Post>) -> Res {
    let req = chat::SendMessage {
        room_id: *id,
        content: body.0.content,
        client_id: body.0.client_id,
    };
    let (m, new) = support::staff_send(&state, &staff(&who), req).await?;
    Ok(created(m, new))
}

async fn read(state: State, who: Auth, id: web::Path<i64>, body: MaybeJson<chat::MarkRead>) -> Res {
    let req = chat::MarkRead {
        room_id: *id,
        message_id: body.0.and_then(|b| b.message_id),
    };
    let marked = support::staff_mark_read(&state, &staff(&who), req).await?;
    Ok(HttpResponse::Ok().json(marked))
}

/// Registers the support and staff routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/support/messages", web::get().to(visitor_messages))
        .route("/api/support/messages", web::post().to(visitor_send))
        .route("/api/admin/support/rooms", web::get().to(rooms))
        .route("/api/admin/support/rooms/{id}", web::get().to(room))
        .route(
            "/api/admin/support/rooms/{id}/messages",
            web::get().to(messages),
        )
        .route(
            "/api/admin/support/rooms/{id}/messages",
            web::post().to(send),
        )
        .route("/api/admin/support/rooms/{id}/read", web::post().to(read));
}
