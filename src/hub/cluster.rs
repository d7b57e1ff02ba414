//! The hub for several nodes: [`LocalHub`] for this node's sockets, the database's event log
//! for everything other nodes' sockets must hear, and the bus ([`Bus`]) as a wake-up.
//!
//! Every push, close and revocation is delivered to this node's sockets at once, and appended
//! (serialized once, as JSON around the frame's bytes) to a bounded outbox. A writer task
//! commits the outbox to the `events` table in batches, then wakes the other nodes over the bus.
//! A reader task on every node reads the log after the last id it applied, whenever woken and at
//! least every [`POLL`], and applies other nodes' events to its own sockets.
//!
//! The per-user socket cap holds across nodes: before registering a socket, a node counts the
//! user's sockets on every live node in the `sockets` table and records its own (under a lock
//! per user), and forgets it when the socket ends. Nodes heartbeat every [`HEARTBEAT`]; the
//! sockets of a node not seen for [`LIVE`] stop counting (a killed node's users can reconnect
//! elsewhere at once only up to the cap minus what it held, for at most that long).
//!
//! Why the log and not the bus: the database is the log, the bus is a wake-up. Event ids are
//! committed in id order (inserts hold an advisory lock), so "after the last id applied" never
//! skips an event: a node whose bus is down, or that missed wake-ups, still delivers every
//! event, one poll late, exactly once, without its sockets reconnecting. Messages themselves are
//! in `messages`; a client that was disconnected resumes with `sync` as on one node.

use super::{Audience, Bus, BusState, Conn, Endpoint, Hub, LocalHub, RegisterError};
use crate::db::store::Store;
use crate::protocol::Close;
use crate::time::Timestamp;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

/// The longest a node goes without reading the log (when no wake-up comes).
pub const POLL: Duration = Duration::from_millis(500);
/// Events waiting to be written (`--bus` nodes); beyond, events for other nodes are dropped
/// and counted (the database cannot keep up; this node's own sockets still get them).
pub const OUTBOX: usize = 65_536;
/// Events per write transaction, and per read of the log.
const BATCH: usize = 1_000;
/// How long events stay in the log: far longer than any reader lags while it is up.
const KEEP: Duration = Duration::from_secs(300);
/// How often a node records that it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A node not seen for this long is dead: its sockets no longer count.
pub const LIVE: Duration = Duration::from_secs(20);
/// A dead node's rows are removed after this long.
const FORGET: Duration = Duration::from_secs(120);

/// One event in the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Event {
    /// A frame for an audience.
    Publish { to: Audience, frame: String },
    /// Close the sockets living under a token.
    CloseToken { token: i64, close: WireClose },
    /// Messages up to this id were stored (wakes followers and long-polls).
    Messages { newest: i64 },
    /// Close a user's sockets (on one endpoint, or all).
    CloseUser {
        user: i64,
        endpoint: Option<Endpoint>,
        close: WireClose,
    },
}

/// [`Close`] as it travels in the log.
#[derive(Debug, Serialize, Deserialize)]
struct WireClose {
    code: u16,
    reason: String,
    last: Option<String>,
    drain: bool,
}

impl From<&Close> for WireClose {
    fn from(c: &Close) -> Self {
        WireClose {
            code: c.code,
            reason: c.reason.clone(),
            last: c.last_frame.as_ref().map(|f| f.to_string()),
            drain: c.drain,
        }
    }
}

impl From<WireClose> for Close {
    fn from(w: WireClose) -> Self {
        Close {
            code: w.code,
            reason: w.reason,
            last_frame: w.last.map(ByteString::from),
            drain: w.drain,
        }
    }
}

/// The hub of one node among several.
pub struct ClusterHub {
    local: Arc<LocalHub>,
    store: Store,
    node: i64,
    outbox: mpsc::Sender<String>,
    bus: Option<Bus>,
    dropped: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl ClusterHub {
    /// Wraps `local` for a node with id `node`: starts the log writer and reader (on the
    /// current tokio runtime). `bus` wakes the other nodes after each write; `wake` is what
    /// the bus notifies when another node wrote. Without a bus, nodes find each other's events
    /// by polling alone.
    pub async fn start(
        local: Arc<LocalHub>,
        store: Store,
        node: i64,
        bus: Option<Bus>,
        wake: Arc<Notify>,
    ) -> crate::error::AppResult<Arc<ClusterHub>> {
        let start = store.read(|tx| tx.latest_event_id()).await?;
        store
            .write(move |tx| tx.node_heartbeat(node, Timestamp::now().millis()))
            .await?;
        let heartbeat = tokio::spawn(heartbeat(store.clone(), node));
        let (outbox, rx) = mpsc::channel(OUTBOX);
        let writer = tokio::spawn(write_log(rx, store.clone(), node, bus.clone()));
        let store_for_hub = store.clone();
        let reader = tokio::spawn(read_log(
            store,
            node,
            start,
            wake,
            local.clone(),
            local.message_clock(),
        ));
        Ok(Arc::new(ClusterHub {
            local,
            store: store_for_hub,
            node,
            outbox,
            bus,
            dropped: AtomicU64::new(0),
            tasks: Mutex::new(vec![writer, reader, heartbeat]),
        }))
    }

    /// Appends an event for the other nodes.
    fn share(&self, event: &Event) {
        let body = match serde_json::to_string(event) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "event not serialized");
                return;
            }
        };
        if self.outbox.try_send(body).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::error!(
                    dropped = n,
                    "cluster outbox full: events for other nodes dropped"
                );
            }
        }
    }
}

impl Hub for ClusterHub {
    fn admit<'a>(
        &'a self,
        conn: &'a Conn,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), RegisterError>> + Send + 'a>>
    {
        let (node, conn_id, user_id) = (self.node, conn.id as i64, conn.user_id);
        let chat = conn.endpoint == Endpoint::Chat;
        let max = self.local.max_per_user() as i64;
        Box::pin(async move {
            let live_since = Timestamp::now().millis() - LIVE.as_millis() as i64;
            match self
                .store
                .write(move |tx| tx.admit_socket(node, conn_id, user_id, chat, max, live_since))
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(RegisterError::TooManyConnections),
                Err(e) => {
                    tracing::warn!(error = %e, "sockets of other nodes not counted");
                    Err(RegisterError::Unavailable)
                }
            }
        })
    }

    fn chat_elsewhere(
        &self,
        users: Vec<i64>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<i64>> + Send + '_>> {
        let node = self.node;
        Box::pin(async move {
            if users.is_empty() {
                return Vec::new();
            }
            let live_since = Timestamp::now().millis() - LIVE.as_millis() as i64;
            self.store
                .read(move |tx| tx.chat_sockets_elsewhere(&users, node, live_since))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "presence on other nodes not read");
                    Vec::new()
                })
        })
    }

    fn register(&self, conn: Arc<Conn>) -> Result<(), RegisterError> {
        self.local.register(conn)
    }

    fn unregister(&self, conn_id: u64) {
        self.local.unregister(conn_id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (store, node) = (self.store.clone(), self.node);
            rt.spawn(async move {
                let id = conn_id as i64;
                if let Err(e) = store.write(move |tx| tx.remove_socket(node, id)).await {
                    tracing::warn!(error = %e, "socket not forgotten (it stops counting when this node does)");
                }
            });
        }
    }

    fn publish_bytes(&self, audience: &Audience, frame: ByteString) {
        self.share(&Event::Publish {
            to: audience.clone(),
            frame: frame.to_string(),
        });
        self.local.publish_bytes(audience, frame);
    }

    fn close_token(&self, token_id: i64, close: Close) {
        self.share(&Event::CloseToken {
            token: token_id,
            close: WireClose::from(&close),
        });
        self.local.close_token(token_id, close);
    }

    fn close_user(&self, user_id: i64, endpoint: Option<Endpoint>, close: Close) {
        self.share(&Event::CloseUser {
            user: user_id,
            endpoint,
            close: WireClose::from(&close),
        });
        self.local.close_user(user_id, endpoint, close);
    }

    fn close_all(&self, close: Close) {
        self.local.close_all(close)
    }

    fn connection_count(&self) -> usize {
        self.local.connection_count()
    }

    fn wait_empty(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.local.wait_empty()
    }

    fn message_clock(&self) -> watch::Sender<i64> {
        self.local.message_clock()
    }

    fn messages_stored(&self, newest: i64) {
        self.share(&Event::Messages { newest });
        self.local
            .message_clock()
            .send_modify(|v| *v = (*v).max(newest));
    }

    fn is_cluster(&self) -> bool {
        true
    }

    fn publish_local(&self, audience: &Audience, frame: ByteString) {
        self.local.publish_bytes(audience, frame)
    }

    fn bus_state(&self) -> BusState {
        self.bus.as_ref().map_or(BusState::None, Bus::state)
    }

    fn stop(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}

impl Drop for ClusterHub {
    fn drop(&mut self) {
        Hub::stop(self);
    }
}

/// Records this node's heartbeat every [`HEARTBEAT`], and forgets nodes dead for [`FORGET`].
async fn heartbeat(store: Store, node: i64) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Timestamp::now().millis();
        let before = now - FORGET.as_millis() as i64;
        let beat = store
            .write(move |tx| {
                tx.node_heartbeat(node, now)?;
                tx.prune_nodes(before)
            })
            .await;
        if let Err(e) = beat {
            tracing::warn!(error = %e, "node heartbeat failed");
        }
    }
}

/// Commits the outbox to the log in batches, then wakes the other nodes.
async fn write_log(mut rx: mpsc::Receiver<String>, store: Store, node: i64, bus: Option<Bus>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            return;
        }
        let bodies = std::mem::take(&mut batch);
        let mut attempt = 0u32;
        loop {
            let b = bodies.clone();
            match store.write(move |tx| tx.insert_events(node, &b)).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "event log write failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        events = bodies.len(),
                        "event log write failed; events for other nodes dropped"
                    );
                    break;
                }
            }
        }
        if let Some(bus) = &bus {
            bus.wake().await;
        }
    }
}

/// Reads the log after the last event applied, whenever woken and at least every [`POLL`], and
/// applies other nodes' events to this node's sockets. Prunes old events now and then.
async fn read_log(
    store: Store,
    node: i64,
    mut last: i64,
    wake: Arc<Notify>,
    local: Arc<LocalHub>,
    clock: watch::Sender<i64>,
) {
    let mut pruned = tokio::time::Instant::now();
    loop {
        // A wake-up that came while we were reading left a permit: nothing is missed.
        let _ = tokio::time::timeout(POLL, wake.notified()).await;
        loop {
            let after = last;
            let rows = match store
                .read(move |tx| tx.events_after(after, BATCH as i64))
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "event log read failed");
                    break;
                }
            };
            let full = rows.len() == BATCH;
            for row in rows {
                last = row.id;
                if row.node == node {
                    continue;
                }
                match serde_json::from_str::<Event>(&row.body) {
                    Ok(Event::Publish { to, frame }) => {
                        local.publish_bytes(&to, ByteString::from(frame));
                    }
                    Ok(Event::Messages { newest }) => {
                        // The follower and long-polls re-read `messages`.
                        clock.send_modify(|v| *v = (*v).max(newest));
                    }
                    Ok(Event::CloseToken { token, close }) => {
                        local.close_token(token, close.into())
                    }
                    Ok(Event::CloseUser {
                        user,
                        endpoint,
                        close,
                    }) => local.close_user(user, endpoint, close.into()),
                    Err(e) => tracing::error!(id = row.id, error = %e, "unreadable event"),
                }
            }
            if !full {
                break;
            }
        }
        if pruned.elapsed() > KEEP / 5 {
            pruned = tokio::time::Instant::now();
            let before =
                Timestamp::from_millis(Timestamp::now().millis() - KEEP.as_millis() as i64);
            if let Err(e) = store.write(move |tx| tx.prune_events(before)).await {
                tracing::warn!(error = %e, "event log prune failed");
            }
        }
    }
}
