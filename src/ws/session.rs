//! One WebSocket from accept to close: authentication after the upgrade, the reader loop
//! (requests, heartbeat, token expiry, flood control) and the writer task (the only code that
//! touches the `Session`, draining the connection's bounded queue).

use crate::app::AppState;
use crate::auth::{AuthFailure, Credential, Principal};
use crate::error::AppError;
use crate::hub::{Conn, Endpoint, Outbound};
use crate::metrics::Metrics;
use crate::protocol::Close;
use crate::protocol::{self, ClientMsg, GuestInfo, Limits, ServerMsg};
use crate::time::Timestamp;
use crate::ws::flood::Flood;
use crate::ws::frame_guard::Tripped;
use crate::ws::tcp_link::TcpHandle;
use actix_web::web;
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseReason, Session};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

/// After a connection was cut, how long to wait for actix-web to let go of it before the
/// socket is no longer counted anyway.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// What a request handler sees: the state, the caller and their socket.
pub struct Ctx {
    /// Application state.
    pub state: web::Data<AppState>,
    /// The caller (updated by `reauthenticate`).
    pub principal: Principal,
    /// The caller's socket.
    pub conn: Arc<Conn>,
}

/// Everything known at the upgrade.
pub struct Handshake {
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Credential presented.
    pub credential: Credential,
    /// `{user_id}` of `/ws/notifications/{user_id}/`.
    pub path_user: Option<String>,
    /// Client address (for guest creation limits).
    pub peer: Option<String>,
    /// The TCP connection, to cut it when the client does not take its close.
    pub tcp: TcpHandle,
}

/// Runs a socket to its end. Spawned on the worker's local executor (the stream is not `Send`).
pub async fn run(
    state: web::Data<AppState>,
    mut hs: Handshake,
    session: Session,
    stream: AggregatedMessageStream,
    tripped: Tripped,
) {
    let tcp = std::mem::take(&mut hs.tcp);
    let grace = state.config.close_grace;
    let (principal, guest) = match authenticate(&state, &hs).await {
        Ok(p) => p,
        Err(close) => return reject(session, close, tcp, grace).await,
    };
    if let Err(close) = authorize(&hs, &principal) {
        return reject(session, close, tcp, grace).await;
    }
    let (conn, rx, close_rx) = Conn::new(
        hs.endpoint,
        principal.user.id,
        principal.user.is_staff,
        principal.token_id,
        state.config.outbound_queue,
    );
    if state.hub.register(conn.clone()).is_err() {
        let close = Close::rate_limited("too many connections for this user", 5000);
        return reject(session, close, tcp, grace).await;
    }
    Metrics::inc(&state.metrics.ws_accepted);
    let out = Writer {
        session,
        rx,
        close_rx,
        tcp,
    };
    actix_web::rt::spawn(writer(state.clone(), out, conn.id));
    let connected = ServerMsg::Connected {
        user: (!principal.user.is_guest).then(|| principal.user.clone()),
        connection_id: format!("c{}", conn.id),
        heartbeat_s: state.config.heartbeat_interval.as_secs(),
        limits: Limits {
            max_message_bytes: state.config.max_message_bytes,
            messages_per_second: state.config.messages_per_second,
        },
        // A guest's identity on every connect; the token only when it was just made.
        guest: principal.user.is_guest.then(|| GuestInfo {
            id: principal.user.id,
            name: principal.user.display_name.clone(),
        }),
        guest_token: guest,
    };
    conn.send_now(Outbound::Text(connected.frame(None)));
    let mut ctx = Ctx {
        state,
        principal,
        conn,
    };
    match super::dispatch::on_connect(&ctx.state, ctx.conn.endpoint, &ctx.principal.user).await {
        Ok(frames) => {
            for f in frames {
                ctx.conn.send_now(Outbound::Text(f.frame(None)));
            }
        }
        Err(e) => {
            ctx.conn
                .send_now(Outbound::Text(ServerMsg::error(&e).frame(None)));
        }
    }
    // Pushes published since the registration follow the first frames.
    ctx.conn.release();
    let close = read_loop(&mut ctx, stream, &tripped).await;
    ctx.conn.close(close);
}

/// Resolves the handshake credential, creating a guest on the support endpoint when there is
/// none.
async fn authenticate(
    state: &AppState,
    hs: &Handshake,
) -> Result<(Principal, Option<String>), Close> {
    if hs.endpoint == Endpoint::Support && hs.credential == Credential::None {
        return match state.support.create_guest(hs.peer.as_deref()).await {
            Ok((p, token)) => Ok((p, Some(token))),
            Err(AppError::RateLimited { retry_after, .. }) => Err(Close::rate_limited(
                "too many new visitors from this address",
                retry_after.as_millis() as u64,
            )),
            Err(_) => Err(Close::plain(1011, "internal error")),
        };
    }
    match state.auth.authenticate(hs.credential.clone()).await {
        Ok(Ok(p)) => Ok((p, None)),
        Ok(Err(why)) => Err(Close::unauthenticated(why)),
        Err(_) => Err(Close::plain(1011, "internal error")),
    }
}

/// Endpoint rules that need the user: staff only on the admin console, one's own id on
/// notifications.
fn authorize(hs: &Handshake, p: &Principal) -> Result<(), Close> {
    match hs.endpoint {
        Endpoint::Admin if !p.user.is_staff => Err(Close::forbidden("staff only")),
        Endpoint::Notifications => match &hs.path_user {
            Some(id) if id.parse::<i64>().ok() != Some(p.user.id) => {
                Err(Close::forbidden("not your notifications"))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Accept-then-close: the final `error` frame, then the close code; the connection is cut if
/// the client has not taken them within `grace`.
async fn reject(mut session: Session, close: Close, tcp: TcpHandle, grace: Duration) {
    let deadline = Instant::now() + grace;
    let _ = tokio::time::timeout_at(deadline, async {
        if let Some(f) = close.last_frame {
            let _ = session.text(f).await;
        }
        let _ = session.close(Some(reason(close.code, close.reason))).await;
    })
    .await;
    // The session is dropped by now (closed, or with the timed-out future).
    end_connection(tcp, deadline).await;
}

/// Once the session is dropped (after its close frame, or without one), actix-web writes out
/// what it holds and ends the connection. A client that has not taken it all by `deadline` has
/// its TCP connection cut. Returns when the connection is gone (or after [`KILL_WAIT`] more).
async fn end_connection(mut tcp: TcpHandle, deadline: Instant) {
    if tokio::time::timeout_at(deadline, tcp.gone()).await.is_err() {
        tcp.kill();
        let _ = tokio::time::timeout(KILL_WAIT, tcp.gone()).await;
    }
}

fn reason(code: u16, description: String) -> CloseReason {
    CloseReason {
        code: code.into(),
        description: (!description.is_empty()).then_some(description),
    }
}

/// What the writer task owns.
struct Writer {
    session: Session,
    rx: mpsc::Receiver<Outbound>,
    close_rx: watch::Receiver<Option<Close>>,
    tcp: TcpHandle,
}

/// The only task that writes to the socket. Ends after sending the close, or when the client
/// is gone; gives the client `close_grace` from the close request to take its last frames,
/// then cuts the TCP connection. Only once the connection is gone is it removed from the hub,
/// so it counts against the per-user limit until then.
async fn writer(state: web::Data<AppState>, out: Writer, conn_id: u64) {
    let Writer {
        mut session,
        mut rx,
        mut close_rx,
        tcp,
    } = out;
    let mut alive = true;
    while alive {
        tokio::select! {
            biased;
            _ = close_rx.changed() => break,
            out = rx.recv() => match out {
                None => break,
                Some(out) => tokio::select! {
                    biased;
                    _ = close_rx.changed() => break,
                    ok = send_one(&mut session, out) => alive = ok,
                },
            },
        }
    }
    let deadline = Instant::now() + state.config.close_grace;
    if alive {
        let close = close_rx
            .borrow()
            .clone()
            .unwrap_or_else(|| Close::plain(1000, ""));
        let _ = tokio::time::timeout_at(deadline, async {
            if close.drain {
                while let Ok(out) = rx.try_recv() {
                    if !send_one(&mut session, out).await {
                        return;
                    }
                }
            }
            if let Some(f) = close.last_frame {
                let _ = session.text(f).await;
            }
            let _ = session.close(Some(reason(close.code, close.reason))).await;
        })
        .await;
    } else {
        drop(session);
    }
    // The session is dropped by now (closed, or with the timed-out future).
    drop(rx);
    end_connection(tcp, deadline).await;
    state.hub.unregister(conn_id);
}

async fn send_one(session: &mut Session, out: Outbound) -> bool {
    match out {
        Outbound::Text(t) => session.text(t).await.is_ok(),
        Outbound::Ping => session.ping(b"hb").await.is_ok(),
        Outbound::Pong(b) => session.pong(&b).await.is_ok(),
    }
}

fn deadline_of(t: Option<Timestamp>) -> Option<Instant> {
    t.map(|t| Instant::now() + t.remaining())
}

/// Reads until the socket should close; returns how.
async fn read_loop(ctx: &mut Ctx, mut stream: AggregatedMessageStream, tripped: &Tripped) -> Close {
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
