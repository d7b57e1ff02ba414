//! The writing side of a socket: the writer task (the only code that touches the `Session`,
//! draining the connection's bounded queue), the close of a refused socket, and the end of the
//! TCP connection.

use crate::app::AppState;
use crate::hub::Outbound;
use crate::protocol::Close;
use crate::ws::tcp_link::TcpHandle;
use actix_web::web;
use actix_ws::{CloseReason, Session};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// After a connection was cut, how long to wait for actix-web to let go of it before the
/// socket is no longer counted anyway.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// Accept-then-close: the final `error` frame, then the close code; the connection is cut if
/// the client has not taken them within `grace`.
pub(super) async fn reject(mut session: Session, close: Close, tcp: TcpHandle, grace: Duration) {
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

/// The close reason to send: `code`, with `description` unless it is empty.
fn reason(code: u16, description: String) -> CloseReason {
    CloseReason {
        code: code.into(),
        description: (!description.is_empty()).then_some(description),
    }
}

/// What the writer task owns.
pub(super) struct Writer {
    pub(super) session: Session,
    pub(super) rx: mpsc::Receiver<Outbound>,
    pub(super) close_rx: watch::Receiver<Option<Close>>,
    pub(super) tcp: TcpHandle,
}

/// The only task that writes to the socket. Ends after sending the close, or when the client
/// is gone; gives the client `close_grace` from the close request to take its last frames,
/// then cuts the TCP connection. Only once the connection is gone is it removed from the hub,
/// so it counts against the per-user limit until then.
/// `present`: the user whose presence this socket keeps (on `/ws/chat/`).
pub(super) async fn writer(
    state: web::Data<AppState>,
    out: Writer,
    conn_id: u64,
    present: Option<i64>,
) {
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
    if let Some(user_id) = present {
        state.presence.disconnected(user_id);
    }
}

async fn send_one(session: &mut Session, out: Outbound) -> bool {
    match out {
        Outbound::Text(t) => session.text(t).await.is_ok(),
        Outbound::Ping => session.ping(b"hb").await.is_ok(),
        Outbound::Pong(b) => session.pong(&b).await.is_ok(),
    }
}
