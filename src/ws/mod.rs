//! The WebSocket endpoints: Origin check before the upgrade, then accept, authenticate, and
//! either run the session or close with the contract's code.

pub mod dispatch;
pub mod flood;
pub mod frame_guard;
pub mod handshake;
mod reader;
pub mod session;
pub mod tcp_link;
mod writer;

use crate::app::AppState;
use crate::auth::credential::{credential, Via};
use crate::error::AppError;
use crate::hub::Endpoint;
use crate::net::client_ip;
use actix_web::error::PayloadError;
use actix_web::{dev, web, FromRequest, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;

/// The request body as actix-ws reads it.
type BoxedBody = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    path_user: Option<String>,
) -> Result<HttpResponse, AppError> {
    handshake::check_origin(&req, &state.config)?;
    let hs = session::Handshake {
        endpoint,
        credential: credential(&req, Via::Handshake, endpoint == Endpoint::Support),
        path_user,
        peer: client_ip(&req, &state.config.trusted_proxies).map(|ip| ip.to_string()),
        tcp: req
            .conn_data::<tcp_link::TcpLink>()
            .map(tcp_link::TcpLink::handle)
            .unwrap_or_default(),
    };
    let limit = state.config.max_message_bytes;
    // The size limit is enforced on frame headers as the bytes arrive (actix-ws would buffer a
    // frame whole before checking it); actix-ws's own limits below stay as a second line.
    let (guarded, tripped) = frame_guard::FrameGuard::new(body.into_inner(), limit);
    let mut guarded = dev::Payload::from(Box::pin(guarded) as BoxedBody);
    let body = web::Payload::from_request(&req, &mut guarded)
        .await
        .map_err(|e| AppError::invalid(format!("request body: {e}")))?;
    let (response, ws, stream) = actix_ws::handle_with_protocols(&req, body, &["bearer"])
        .map_err(|e| AppError::invalid(format!("not a WebSocket handshake: {e}")))?;
    let stream = stream
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    actix_web::rt::spawn(session::run(state, hs, ws, stream, tripped));
    Ok(response)
}

/// Registers the five endpoints, each with and without the trailing slash.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, endpoint) in [
        ("/ws/chat", Endpoint::Chat),
        ("/ws/tasks", Endpoint::Tasks),
        ("/ws/notifications", Endpoint::Notifications),
        ("/ws/notifications/{user_id}", Endpoint::Notifications),
        ("/ws/support", Endpoint::Support),
        ("/ws/admin/chat", Endpoint::Admin),
    ] {
        let handler = move |req: HttpRequest, body: web::Payload, state: web::Data<AppState>| async move {
            let path_user = req.match_info().get("user_id").map(str::to_string);
            upgrade(req, body, state, endpoint, path_user).await
        };
        cfg.route(path, web::get().to(handler))
            .route(&format!("{path}/"), web::get().to(handler));
    }
}
