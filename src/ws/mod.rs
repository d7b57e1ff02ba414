//! The WebSocket endpoints: Origin check before the upgrade, then accept, authenticate, and
//! either run the session or close with the contract's code.

pub mod dispatch;
pub mod handshake;
pub mod session;

use crate::error::AppError;
use crate::hub::Endpoint;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};

fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    path_user: Option<String>,
) -> Result<HttpResponse, AppError> {
    handshake::check_origin(&req, &state.config)?;
    let hs = session::Handshake {
        endpoint,
        credential: handshake::credential(&req, endpoint),
        path_user,
        peer: req.peer_addr().map(|a| a.ip().to_string()),
    };
    let (response, ws, stream) = actix_ws::handle_with_protocols(&req, body, &["bearer"])
        .map_err(|e| AppError::invalid(format!("not a WebSocket handshake: {e}")))?;
    let limit = state.config.max_message_bytes;
    let stream = stream
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    actix_web::rt::spawn(session::run(state, hs, ws, stream));
    Ok(response)
}

async fn chat(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    upgrade(req, body, state, Endpoint::Chat, None)
}

async fn tasks(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    upgrade(req, body, state, Endpoint::Tasks, None)
}

async fn notifications(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let path_user = req.match_info().get("user_id").map(str::to_string);
    upgrade(req, body, state, Endpoint::Notifications, path_user)
}

async fn support(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    upgrade(req, body, state, Endpoint::Support, None)
}

async fn admin(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    upgrade(req, body, state, Endpoint::Admin, None)
}

/// Registers the five endpoints, each with and without the trailing slash.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/ws/chat", 0),
        ("/ws/tasks", 1),
        ("/ws/notifications", 2),
        ("/ws/notifications/{user_id}", 2),
        ("/ws/support", 3),
        ("/ws/admin/chat", 4),
    ] {
        for p in [path.to_string(), format!("{path}/")] {
            let route = web::get();
            let route = match handler {
                0 => route.to(chat),
                1 => route.to(tasks),
                2 => route.to(notifications),
                3 => route.to(support),
                _ => route.to(admin),
            };
            cfg.route(&p, route);
        }
    }
}
