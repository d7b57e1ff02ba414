//! One WebSocket from accept to close: authentication after the upgrade, the reader loop
//! (requests, heartbeat, token expiry, flood control) and the writer task (the only code that
//! touches the `Session`, draining the connection's bounded queue). The reader loop is in
//! `reader.rs`, the writer task and the closing of a connection in `writer.rs`.

use crate::app::AppState;
use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::hub::{Conn, Endpoint, Outbound, RegisterError};
use crate::metrics::Metrics;
use crate::protocol::Close;
use crate::protocol::{GuestInfo, Limits, ServerMsg};
use crate::ws::frame_guard::Tripped;
use crate::ws::reader::read_loop;
use crate::ws::tcp_link::TcpHandle;
use crate::ws::writer::{reject, writer, Writer};
use actix_web::web;
use actix_ws::{AggregatedMessageStream, Session};

pub use crate::ws::reader::{reply, Ctx};

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
    let admitted = match state.hub.admit(&conn).await {
        Ok(()) => state.hub.register(conn.clone()),
        Err(e) => Err(e),
    };
    match admitted {
        Ok(()) => {}
        Err(RegisterError::TooManyConnections) => {
            // Gives back the place `admit` took on a cluster.
            state.hub.unregister(conn.id);
            let close = Close::rate_limited("too many connections for this user", 5000);
            return reject(session, close, tcp, grace).await;
        }
        Err(RegisterError::Unavailable) => {
            let close = Close::plain(1013, "try again later");
            return reject(session, close, tcp, grace).await;
        }
    }
    Metrics::inc(&state.metrics.ws_accepted);
    let out = Writer {
        session,
        rx,
        close_rx,
        tcp,
    };
    // A user is online while a `/ws/chat/` socket of theirs is open (until the writer ends).
    let present = (conn.endpoint == Endpoint::Chat).then_some(principal.user.id);
    if let Some(user_id) = present {
        state.presence.connected(user_id);
    }
    actix_web::rt::spawn(writer(state.clone(), out, conn.id, present));
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
