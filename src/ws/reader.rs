//! The reading side of a socket: the read loop (requests, heartbeat, token expiry, flood
//! control) and the handling of each text frame.

use crate::app::AppState;
use crate::auth::{AuthFailure, Credential, Principal};
use crate::error::AppError;
use crate::hub::{Conn, Outbound};
use crate::metrics::Metrics;
use crate::protocol::Close;
use crate::protocol::{self, ClientMsg, ServerMsg};
use crate::time::Timestamp;
use crate::ws::flood::Flood;
use crate::ws::frame_guard::Tripped;
use actix_web::web;
use actix_ws::{AggregatedMessage, AggregatedMessageStream};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// What a request handler sees: the state, the caller and their socket.
pub struct Ctx {
    /// Application state.
    pub state: web::Data<AppState>,
    /// The caller (updated by `reauthenticate`).
    pub principal: Principal,
    /// The caller's socket.
    pub conn: Arc<Conn>,
}

fn deadline_of(t: Option<Timestamp>) -> Option<Instant> {
    t.map(|t| Instant::now() + t.remaining())
}

/// Reads until the socket should close; returns how.
pub(super) async fn read_loop(
    ctx: &mut Ctx,
    mut stream: AggregatedMessageStream,
    tripped: &Tripped,
) -> Close {
    let cfg = ctx.state.config.clone();
    let mut closed = ctx.conn.subscribe_close();
    let mut last_heard = Instant::now();
    let mut pings = tokio::time::interval_at(
        Instant::now() + cfg.heartbeat_interval,
        cfg.heartbeat_interval,
    );
    let mut flood = Flood::new(cfg.messages_per_second, Instant::now());
    let far = Instant::now() + Duration::from_secs(100 * 365 * 86400);
    let mut expires = deadline_of(ctx.principal.expires_at);
    let mut expiring_sent = false;
    loop {
        let expiry = expires.unwrap_or(far);
        let notice = expires
            .map(|e| e.checked_sub(cfg.expiring_notice()).unwrap_or(e))
            .unwrap_or(far);
        tokio::select! {
            biased;
            _ = closed.changed() => return Close::plain(1000, ""),
            _ = sleep_until(expiry), if expires.is_some() => {
                return Close::unauthenticated(AuthFailure::Expired);
            }
            _ = sleep_until(last_heard + cfg.heartbeat_timeout) => {
                return Close::plain(4408, "heartbeat timeout");
            }
            _ = pings.tick() => { ctx.conn.send(Outbound::Ping); }
            _ = sleep_until(notice), if expires.is_some() && !expiring_sent => {
                expiring_sent = true;
                if let Some(at) = ctx.principal.expires_at {
                    reply(ctx, ServerMsg::TokenExpiring { expires_at: at }, None);
                }
            }
            msg = stream.recv() => {
                last_heard = Instant::now();
                let msg = match msg {
                    // The frame guard ends the stream at a frame or message over the limit.
                    None if tripped.is_set() => return too_big(),
                    None => return Close::plain(1000, ""),
                    Some(Ok(m)) => m,
                    Some(Err(e)) if tripped.is_set() || is_overflow(&e) => return too_big(),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket protocol error");
                        return Close::plain(1002, "protocol error");
                    }
                };
                let now = Instant::now();
                if flood.sustained(now) {
                    return Close::rate_limited("sustained flooding", 5000);
                }
                match msg {
                    AggregatedMessage::Text(text) => {
                        Metrics::inc(&ctx.state.metrics.ws_frames_in);
                        if let Err(wait) = flood.take(now) {
                            // Refused at almost no cost: only the request_id is read.
                            let rid = (text.len() <= cfg.max_message_bytes)
                                .then(|| protocol::request_id_of(&text))
                                .flatten();
                            reply(ctx, ServerMsg::error(&slow_down(wait)), rid.as_ref());
                            continue;
                        }
                        if let Some(close) = handle_text(ctx, &text).await {
                            return close;
                        }
                        let new_expiry = deadline_of(ctx.principal.expires_at);
                        if new_expiry != expires {
                            expires = new_expiry;
                            expiring_sent = false;
                        }
                    }
                    AggregatedMessage::Binary(_) => {
                        let e = match flood.take(now) {
                            Ok(()) => AppError::UnsupportedFrame,
                            Err(wait) => slow_down(wait),
                        };
                        reply(ctx, ServerMsg::error(&e), None);
                    }
                    AggregatedMessage::Ping(b) => { ctx.conn.send(Outbound::Pong(b)); }
                    AggregatedMessage::Pong(_) => {}
                    AggregatedMessage::Close(_) => return Close::plain(1000, ""),
                }
            }
        }
    }
}

/// The recoverable error of a frame refused by flood control.
fn slow_down(retry_after: Duration) -> AppError {
    AppError::RateLimited {
        message: "too many messages; slow down".into(),
        retry_after,
    }
}

/// 1009: a frame or message over `max_message_bytes`.
fn too_big() -> Close {
    Close::plain(1009, "message too big")
}

/// Whether actix-ws refused a frame (`Overflow`) or an aggregated fragmented message (an I/O
/// error it raises for "Exceeded maximum continuation size") for its size: both are 1009, not a
/// protocol error.
fn is_overflow(e: &actix_ws::ProtocolError) -> bool {
    match e {
        actix_ws::ProtocolError::Overflow => true,
        actix_ws::ProtocolError::Io(io) => io.to_string().contains("maximum continuation size"),
        _ => false,
    }
}

/// Queues a reply on the caller's own socket.
pub fn reply(ctx: &Ctx, msg: ServerMsg, request_id: Option<&Value>) {
    ctx.conn.send(Outbound::Text(msg.frame(request_id)));
}

/// Handles one text frame. `Some(close)` ends the socket.
async fn handle_text(ctx: &mut Ctx, text: &str) -> Option<Close> {
    let req = match protocol::parse_request(text) {
        Ok(r) => r,
        Err((e, rid)) => {
            reply(ctx, ServerMsg::error(&e), rid.as_ref());
            return None;
        }
    };
    let rid = req.request_id.as_ref();
    let result = match req.msg {
        ClientMsg::Ping => Ok(Some(ServerMsg::Pong)),
        ClientMsg::Reauthenticate { token, ticket } => {
            return reauthenticate(ctx, token, ticket, rid).await;
        }
        ClientMsg::Unknown => Err(AppError::UnknownType(format!(
            "unknown type '{}'",
            req.kind
        ))),
        other => {
            super::dispatch::handle(
                &ctx.state,
                ctx.conn.endpoint,
                &ctx.principal.user,
                &req.kind,
                other,
            )
            .await
        }
    };
    match result {
        Ok(Some(msg)) => reply(ctx, msg, rid),
        Ok(None) => {}
        Err(e) => reply(ctx, ServerMsg::error(&e), rid),
    }
    None
}

/// Swaps the socket's credential for another of the same user, or closes with 4401.
async fn reauthenticate(
    ctx: &mut Ctx,
    token: Option<String>,
    ticket: Option<String>,
    rid: Option<&Value>,
) -> Option<Close> {
    let cred = match (ticket, token) {
        (Some(t), _) if !t.is_empty() => Credential::Ticket(t),
        (_, Some(t)) if !t.is_empty() => Credential::Token(t),
        _ => Credential::None,
    };
    let refused = |reason: &str| Some(Close::unauthenticated_reply(reason, rid));
    match ctx.state.auth.authenticate(cred).await {
        Ok(Ok(p)) if p.user.id == ctx.principal.user.id => {
            ctx.conn.set_token_id(p.token_id);
            let expires_at = p.expires_at;
            ctx.principal = p;
            reply(ctx, ServerMsg::Reauthenticated { expires_at }, rid);
            None
        }
        Ok(Ok(_)) => refused("credential belongs to another user"),
        Ok(Err(why)) => refused(&why.to_string()),
        Err(e) => {
            reply(ctx, ServerMsg::error(&e), rid);
            None
        }
    }
}
