//! One open WebSocket as the hub sees it: [`Conn`], its endpoint and its bounded outbound
//! queue.

use crate::protocol::Close;
use bytestring::ByteString;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// Which WebSocket endpoint a connection is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Endpoint {
    /// `/ws/chat/`
    Chat,
    /// `/ws/tasks/`
    Tasks,
    /// `/ws/notifications/`
    Notifications,
    /// `/ws/support/`
    Support,
    /// `/ws/admin/chat/`
    Admin,
}

/// What a connection's writer sends next.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A text frame (shared bytes).
    Text(ByteString),
    /// A heartbeat ping.
    Ping,
    /// A pong answering the client's ping.
    Pong(bytes::Bytes),
}

/// One open WebSocket as the hub sees it.
pub struct Conn {
    /// Process-unique id.
    pub id: u64,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// The user (or guest user).
    pub user_id: i64,
    /// Staff may receive staff broadcasts on the admin endpoint.
    pub is_staff: bool,
    token_id: AtomicI64,
    tx: mpsc::Sender<Outbound>,
    close: watch::Sender<Option<Close>>,
    /// While set, pushes wait in `held` so that the first frames (`connected`, a snapshot) go
    /// out before anything published after the connection was registered.
    holding: AtomicBool,
    held: Mutex<Vec<Outbound>>,
    capacity: usize,
}

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

impl Conn {
    /// A connection with a bounded outbound queue of `capacity` frames. Returns the receiving
    /// ends for its writer: the queue and the close signal.
    pub fn new(
        endpoint: Endpoint,
        user_id: i64,
        is_staff: bool,
        token_id: i64,
        capacity: usize,
    ) -> (
        Arc<Conn>,
        mpsc::Receiver<Outbound>,
        watch::Receiver<Option<Close>>,
    ) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (close, close_rx) = watch::channel(None);
        let conn = Arc::new(Conn {
            id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
            endpoint,
            user_id,
            is_staff,
            token_id: AtomicI64::new(token_id),
            tx,
            close,
            holding: AtomicBool::new(true),
            held: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        });
        (conn, rx, close_rx)
    }

    /// Queues a frame without waiting. A full queue closes the connection with 4008 and
    /// returns `false`. Until [`Conn::release`], frames are held back (in order).
    pub fn send(&self, out: Outbound) -> bool {
        if self.holding.load(Ordering::Acquire) {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if self.holding.load(Ordering::Acquire) {
                if held.len() >= self.capacity {
                    drop(held);
                    self.close(Close::slow_consumer());
                    return false;
                }
                held.push(out);
                return true;
            }
        }
        self.send_now(out)
    }

    /// Queues a frame ahead of any held pushes (for the first frames of a connection).
    pub fn send_now(&self, out: Outbound) -> bool {
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(Close::slow_consumer());
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Ends the hold: queues the held pushes, in order, and sends directly from now on.
    pub fn release(&self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for out in held.drain(..) {
            if !self.send_now(out) {
                break;
            }
        }
        self.holding.store(false, Ordering::Release);
    }

    /// Asks the writer to close the socket. Only the first request counts.
    pub fn close(&self, close: Close) {
        self.close.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(close);
                true
            } else {
                false
            }
        });
    }

    /// A receiver that changes when a close is requested.
    pub fn subscribe_close(&self) -> watch::Receiver<Option<Close>> {
        self.close.subscribe()
    }

    /// Whether a close was requested.
    pub fn is_closing(&self) -> bool {
        self.close.borrow().is_some()
    }

    /// The access token this socket lives under now.
    pub fn token_id(&self) -> i64 {
        self.token_id.load(Ordering::Relaxed)
    }

    /// Switches the socket to another token (after `reauthenticate`).
    pub fn set_token_id(&self, id: i64) {
        self.token_id.store(id, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_pushes_follow_the_first_frames() {
        let (a, mut rx, _) = Conn::new(Endpoint::Tasks, 1, false, 11, 8);
        assert!(a.send(Outbound::Text("push".into())));
        assert!(rx.try_recv().is_err(), "held");
        a.send_now(Outbound::Text("connected".into()));
        a.send_now(Outbound::Text("snapshot".into()));
        a.release();
        a.send(Outbound::Text("later".into()));
        let got: Vec<String> = std::iter::from_fn(|| match rx.try_recv() {
            Ok(Outbound::Text(t)) => Some(t.to_string()),
            _ => None,
        })
        .collect();
        assert_eq!(got, ["connected", "snapshot", "push", "later"]);
    }
}
