//! Fan-out of server frames to open WebSockets.
//!
//! Operations publish an event once to an [`Audience`]; the hub serializes nothing itself (the
//! caller hands it bytes serialized once) and clones those bytes (a reference count) into each
//! recipient's bounded queue with `try_send`. A socket whose queue is full is closed with 4008:
//! a broadcast never waits for a slow client. [`Hub`] is a trait: [`LocalHub`] serves one
//! process; [`ClusterHub`] wraps it for several nodes (the event log in the database, NATS as
//! the wake-up; see `cluster.rs` and `docs/cluster.md`), and the operations do not change.

mod bus;
mod cluster;
mod conn;

pub use bus::{Bus, BusState};
pub use cluster::ClusterHub;
pub use conn::{Conn, Endpoint, Outbound};

use crate::protocol::{Close, ServerMsg};
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Who receives a published frame.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Audience {
    /// Only sockets on this endpoint.
    pub endpoint: Endpoint,
    /// Which of them.
    pub target: Target,
}

/// The recipients within an endpoint.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// Every socket of these users.
    Users(Vec<i64>),
    /// Every socket of these users except those of one user (e.g. not the typist).
    UsersExcept(Vec<i64>, i64),
    /// Every staff socket.
    Staff,
}

impl Audience {
    /// Every socket of these users on `endpoint`.
    pub fn users(endpoint: Endpoint, users: Vec<i64>) -> Self {
        Audience {
            endpoint,
            target: Target::Users(users),
        }
    }

    /// One user's sockets on `endpoint`.
    pub fn user(endpoint: Endpoint, user: i64) -> Self {
        Self::users(endpoint, vec![user])
    }
}

/// Why a connection could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The user has too many open sockets.
    #[error("too many connections for this user")]
    TooManyConnections,
    /// The sockets of other nodes could not be counted (the database is unavailable).
    #[error("cannot count the user's connections now")]
    Unavailable,
}

/// The fan-out interface the operations use.
pub trait Hub: Send + Sync + 'static {
    /// Before [`Hub::register`]: on a cluster, counts the user's sockets on every node and
    /// takes a place for this one, or refuses it. A single process admits everyone here (its
    /// cap is checked by `register`).
    fn admit<'a>(
        &'a self,
        _conn: &'a Conn,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), RegisterError>> + Send + 'a>>
    {
        Box::pin(std::future::ready(Ok(())))
    }
    /// Which of `users` have a `/ws/chat/` socket on another node (presence on a cluster;
    /// nobody, for a single process).
    fn chat_elsewhere(
        &self,
        _users: Vec<i64>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<i64>> + Send + '_>> {
        Box::pin(std::future::ready(Vec::new()))
    }
    /// Adds a connection, or refuses it when its user has too many.
    fn register(&self, conn: Arc<Conn>) -> Result<(), RegisterError>;
    /// Removes a connection.
    fn unregister(&self, conn_id: u64);
    /// Delivers already-serialized bytes to an audience.
    fn publish_bytes(&self, audience: &Audience, frame: ByteString);
    /// Closes every socket living under a token (logout, refresh).
    fn close_token(&self, token_id: i64, close: Close);
    /// Closes every socket of a user, or only those on `endpoint` (revoked or deleted from
    /// the command line; staff rights withdrawn).
    fn close_user(&self, user_id: i64, endpoint: Option<Endpoint>, close: Close);
    /// Closes every socket (shutdown).
    fn close_all(&self, close: Close);
    /// Open connections.
    fn connection_count(&self) -> usize;
    /// Resolves when no connection is registered.
    fn wait_empty(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
    /// The newest-message clock: the chat service's writer sets it to the newest stored
    /// message id, long-polls wait for it to change (a hub for several nodes also moves it when
    /// another node's messages arrive).
    fn message_clock(&self) -> watch::Sender<i64>;
    /// New messages up to id `newest` were stored on this node: moves the message clock (and,
    /// on a hub for several nodes, tells the other nodes).
    fn messages_stored(&self, newest: i64) {
        self.message_clock().send_replace(newest);
    }
    /// Whether this is a hub for several nodes. There, message pushes are not published by
    /// the writer but by the chat service's follower on every node, reading `messages` in id
    /// order, so that every socket sees messages in id order whichever node stored them.
    fn is_cluster(&self) -> bool {
        false
    }
    /// Delivers bytes to this node's sockets only.
    fn publish_local(&self, audience: &Audience, frame: ByteString) {
        self.publish_bytes(audience, frame)
    }
    /// The state of the bus between nodes, for `/api/health`.
    fn bus_state(&self) -> BusState {
        BusState::None
    }
    /// Stops background work (a hub for several nodes: its event log reader and writer).
    fn stop(&self) {}
}

impl dyn Hub {
    /// Serializes a pushed frame once and delivers it.
    pub fn publish(&self, audience: &Audience, msg: &ServerMsg) {
        self.publish_bytes(audience, msg.frame(None));
    }
}

#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Arc<Conn>>,
    by_user: HashMap<i64, Vec<u64>>,
}

/// The in-process hub.
pub struct LocalHub {
    max_per_user: usize,
    inner: RwLock<Registry>,
    count: watch::Sender<usize>,
    clock: watch::Sender<i64>,
}

impl LocalHub {
    /// The sockets a user may have open.
    pub fn max_per_user(&self) -> usize {
        self.max_per_user
    }

    /// A hub that allows `max_per_user` sockets per user.
    pub fn new(max_per_user: usize) -> Self {
        LocalHub {
            max_per_user,
            inner: RwLock::new(Registry::default()),
            count: watch::channel(0).0,
            clock: watch::channel(0).0,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Hub for LocalHub {
    fn register(&self, conn: Arc<Conn>) -> Result<(), RegisterError> {
        let mut reg = self.write();
        let ids = reg.by_user.entry(conn.user_id).or_default();
        if ids.len() >= self.max_per_user {
            return Err(RegisterError::TooManyConnections);
        }
        ids.push(conn.id);
        reg.conns.insert(conn.id, conn);
        self.count.send_replace(reg.conns.len());
        Ok(())
    }

    fn unregister(&self, conn_id: u64) {
        let mut reg = self.write();
        if let Some(conn) = reg.conns.remove(&conn_id) {
            if let Some(ids) = reg.by_user.get_mut(&conn.user_id) {
                ids.retain(|&i| i != conn_id);
                if ids.is_empty() {
                    reg.by_user.remove(&conn.user_id);
                }
            }
        }
        self.count.send_replace(reg.conns.len());
    }

    fn publish_bytes(&self, audience: &Audience, frame: ByteString) {
        let reg = self.read();
        let deliver = |conn: &Arc<Conn>| {
            if conn.endpoint == audience.endpoint {
                conn.send(Outbound::Text(frame.clone()));
            }
        };
        let for_users = |users: &[i64], except: Option<i64>| {
            for uid in users {
                if Some(*uid) == except {
                    continue;
                }
                for id in reg.by_user.get(uid).into_iter().flatten() {
                    if let Some(c) = reg.conns.get(id) {
                        deliver(c);
                    }
                }
            }
        };
        match &audience.target {
            Target::Users(users) => for_users(users, None),
            Target::UsersExcept(users, except) => for_users(users, Some(*except)),
            Target::Staff => reg.conns.values().filter(|c| c.is_staff).for_each(deliver),
        }
    }

    fn close_token(&self, token_id: i64, close: Close) {
        for conn in self.read().conns.values() {
            if conn.token_id() == token_id {
                conn.close(close.clone());
            }
        }
    }

    fn close_user(&self, user_id: i64, endpoint: Option<Endpoint>, close: Close) {
        for conn in self.read().conns.values() {
            if conn.user_id == user_id && endpoint.is_none_or(|e| e == conn.endpoint) {
                conn.close(close.clone());
            }
        }
    }

    fn close_all(&self, close: Close) {
        for conn in self.read().conns.values() {
            conn.close(close.clone());
        }
    }

    fn connection_count(&self) -> usize {
        *self.count.borrow()
    }

    fn wait_empty(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let mut rx = self.count.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|n| *n == 0).await;
        })
    }

    fn message_clock(&self) -> watch::Sender<i64> {
        self.clock.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_to_members_on_the_endpoint_only() {
        let hub = LocalHub::new(10);
        let (a, mut arx, _) = Conn::new(Endpoint::Chat, 1, false, 11, 8);
        let (b, mut brx, _) = Conn::new(Endpoint::Tasks, 1, false, 11, 8);
        let (c, mut crx, _) = Conn::new(Endpoint::Chat, 2, false, 12, 8);
        for conn in [&a, &b, &c] {
            conn.release();
            hub.register(conn.clone()).unwrap();
        }
        let hub: &dyn Hub = &hub;
        hub.publish_bytes(&Audience::user(Endpoint::Chat, 1), "x".into());
        assert!(matches!(arx.try_recv(), Ok(Outbound::Text(t)) if t == "x"));
        assert!(brx.try_recv().is_err());
        assert!(crx.try_recv().is_err());
        hub.publish_bytes(
            &Audience {
                endpoint: Endpoint::Chat,
                target: Target::UsersExcept(vec![1, 2], 1),
            },
            "y".into(),
        );
        assert!(arx.try_recv().is_err());
        assert!(crx.try_recv().is_ok());
    }

    #[test]
    fn full_queue_closes_with_4008() {
        let hub = LocalHub::new(10);
        let (a, _arx, close_rx) = Conn::new(Endpoint::Chat, 1, false, 11, 2);
        a.release();
        hub.register(a.clone()).unwrap();
        let aud = Audience::user(Endpoint::Chat, 1);
        for _ in 0..3 {
            (&hub as &dyn Hub).publish_bytes(&aud, "z".into());
        }
        assert_eq!(close_rx.borrow().as_ref().map(|c| c.code), Some(4008));
    }

    #[test]
    fn per_user_limit_and_close_token() {
        let hub = LocalHub::new(1);
        let (a, _r1, close_a) = Conn::new(Endpoint::Chat, 1, false, 11, 2);
        let (b, _r2, _) = Conn::new(Endpoint::Chat, 1, false, 11, 2);
        hub.register(a.clone()).unwrap();
        assert!(hub.register(b).is_err());
        hub.close_token(11, Close::plain(4401, "revoked token"));
        assert_eq!(close_a.borrow().as_ref().map(|c| c.code), Some(4401));
        hub.unregister(a.id);
        assert_eq!(hub.connection_count(), 0);
    }
}
