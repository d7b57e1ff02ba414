//! Test-only: builds the services over an in-memory store and an in-process hub, without an
//! HTTP server, the way `AppState::build` does. This is the one place unit tests construct
//! services, so a change of what the services are built from (e.g. a storage interface instead
//! of `Db`) changes only this file.
//!
//! ```ignore
//! let kit = testkit::kit().await;
//! let alice = kit.user("alice").await;
//! let mut bob = kit.listen(Endpoint::Chat, kit.user("bob").await.id);
//! let room = kit.room(&alice, "Plans", &["bob"]).await;
//! kit.say(&alice, room.id, "hi").await;
//! assert_eq!(bob.next_of("message").await["message"]["content"], "hi");
//! ```
//!
//! Pushes are published synchronously, before the operation that causes them returns (the
//! message writer publishes before it answers the sender), so [`Listener::assert_quiet`] right
//! after an operation proves that nothing was pushed, without sleeping.

pub(crate) use crate::chat::Actor;
use crate::chat::Chat;
use crate::db::chat::{Message, Room};
use crate::db::users::{self, User};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::hub::{Conn, Endpoint, Hub, LocalHub, Outbound};
use crate::metrics::Metrics;
use crate::notifications::Notifications;
use crate::protocol::chat::{CreateRoom, SendMessage};
use crate::support::Support;
use crate::tasks::{TaskLimits, Tasks};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a test waits for an expected push before failing.
pub(crate) const PUSH_TIMEOUT: Duration = Duration::from_secs(20);

/// What the services are built with; [`Options::default`] is generous, so that only the test
/// that is about a limit meets it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Group rooms a user may create per hour.
    pub rooms_per_hour: u32,
    /// New support guests per client address per `guest_window`.
    pub guests_per_window: u32,
    /// The guest window.
    pub guest_window: Duration,
    /// The task runner's limits (and `slowdown`, to make a task slow enough to cancel).
    pub tasks: TaskLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rooms_per_hour: 1000,
            guests_per_window: 1000,
            guest_window: Duration::from_secs(60),
            tasks: TaskLimits {
                workers: 4,
                per_user: 2,
                max_active: 10,
                slowdown: Duration::ZERO,
            },
        }
    }
}

/// The services of one test, over their own fresh store and hub.
pub(crate) struct Kit {
    /// The store (for arranging state the operations cannot make, e.g. a task left running).
    pub db: Db,
    /// The in-process hub the services publish to.
    pub hub: Arc<dyn Hub>,
    /// Rooms and messages.
    pub chat: Chat,
    /// Support conversations.
    pub support: Support,
    /// Background tasks (the runner is started).
    pub tasks: Tasks,
    /// The notification inbox.
    pub notifications: Notifications,
}

/// A fresh, empty in-memory store.
pub(crate) fn store() -> Db {
    Db::open(":memory:").expect("in-memory database")
}

/// The services with [`Options::default`] over a fresh store.
pub(crate) async fn kit() -> Kit {
    Kit::start(store(), Options::default()).await
}

/// The services with `options` over a fresh store.
pub(crate) async fn kit_with(options: Options) -> Kit {
    Kit::start(store(), options).await
}

impl Kit {
    /// Builds the services over `db`, as the server does at start-up (so the task runner
    /// recovers tasks the store says are running).
    pub(crate) async fn start(db: Db, options: Options) -> Kit {
        let hub: Arc<dyn Hub> = Arc::new(LocalHub::new(32));
        let metrics = Arc::new(Metrics::default());
        let store = crate::db::store::Store::from(db.clone());
        let presence = crate::presence::Presence::new(
            store.clone(),
            hub.clone(),
            crate::presence::OFFLINE_GRACE,
        );
        let chat = Chat::start(
            store.clone(),
            hub.clone(),
            metrics.clone(),
            options.rooms_per_hour,
            presence,
        )
        .await
        .expect("chat service");
        let guests = crate::quota::Quota::new(
            store.clone(),
            "guest",
            options.guests_per_window,
            options.guest_window,
        );
        let support = Support::new(chat.clone(), store.clone(), guests);
        let tasks = Tasks::start_service(
            store.clone(),
            hub.clone(),
            chat.clone(),
            metrics,
            options.tasks,
        )
        .await
        .expect("tasks service");
        Kit {
            notifications: Notifications::new(store),
            db,
            hub,
            chat,
            support,
            tasks,
        }
    }

    async fn insert_user(&self, username: &str, is_staff: bool) -> User {
        let name = username.to_string();
        let display = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
        self.db
            .call(move |c| users::insert(c, &name, &display, None, is_staff, false))
            .await
            .expect("insert user")
    }

    /// A registered user (display name: the username capitalized).
    pub(crate) async fn user(&self, username: &str) -> User {
        self.insert_user(username, false).await
    }

    /// A staff user.
    pub(crate) async fn staff(&self, username: &str) -> User {
        self.insert_user(username, true).await
    }

    /// A private group room made by `owner` with the listed members (by username).
    pub(crate) async fn room(&self, owner: &User, name: &str, members: &[&str]) -> Room {
        self.chat
            .create_room(
                &Actor::user(owner),
                CreateRoom {
                    name: name.into(),
                    is_public: false,
                    members: members.iter().map(|m| m.to_string()).collect(),
                },
            )
            .await
            .expect("create room")
    }

    /// `from` sends `content` to a room; the stored message.
    pub(crate) async fn say(&self, from: &User, room_id: i64, content: &str) -> Message {
        let (message, new) = self
            .chat
            .send_message(&Actor::user(from), room_id, send(content))
            .await
            .expect("send message");
        assert!(new, "a send without client_id is always new");
        message
    }

    /// A fake socket of `user_id` on `endpoint`, registered with the hub and released (pushes
    /// flow at once). Staff sockets (`is_staff`) are what staff broadcasts reach.
    pub(crate) fn listen_as(&self, endpoint: Endpoint, user_id: i64, is_staff: bool) -> Listener {
        let (conn, rx, _close) = Conn::new(endpoint, user_id, is_staff, 0, 256);
        self.hub.register(conn.clone()).expect("register socket");
        conn.release();
        Listener {
            hub: self.hub.clone(),
            conn,
            rx,
        }
    }

    /// A fake (non-staff) socket of `user_id` on `endpoint`.
    pub(crate) fn listen(&self, endpoint: Endpoint, user_id: i64) -> Listener {
        self.listen_as(endpoint, user_id, false)
    }
}

/// A `send_message` body without `client_id`.
pub(crate) fn send(content: &str) -> SendMessage {
    SendMessage {
        content: content.into(),
        client_id: None,
    }
}

/// The error of a result that must be an error (fails the test on success).
pub(crate) fn err<T>(result: AppResult<T>) -> AppError {
    match result {
        Ok(_) => panic!("expected an error, got Ok({})", std::any::type_name::<T>()),
        Err(e) => e,
    }
}

/// The contract error code of a result that must be an error.
pub(crate) fn err_code<T>(result: AppResult<T>) -> &'static str {
    err(result).code()
}

/// A fake WebSocket: what the hub pushes to it, parsed. Unregistered when dropped.
pub(crate) struct Listener {
    hub: Arc<dyn Hub>,
    conn: Arc<Conn>,
    rx: mpsc::Receiver<Outbound>,
}

fn parse(out: Outbound) -> Option<Value> {
    match out {
        Outbound::Text(t) => Some(serde_json::from_str(&t).expect("pushed frame is JSON")),
        Outbound::Ping | Outbound::Pong(_) => None,
    }
}

impl Listener {
    /// The next pushed frame; fails the test after [`PUSH_TIMEOUT`].
    pub(crate) async fn next(&mut self) -> Value {
        let wait = async {
            loop {
                match self.rx.recv().await.map(parse) {
                    Some(Some(v)) => return v,
                    Some(None) => continue,
                    None => panic!("socket queue closed"),
                }
            }
        };
        match tokio::time::timeout(PUSH_TIMEOUT, wait).await {
            Ok(v) => v,
            Err(_) => panic!(
                "no push within {PUSH_TIMEOUT:?} on {:?} of user {}",
                self.conn.endpoint, self.conn.user_id
            ),
        }
    }

    /// The next pushed frame of type `ty`, skipping others; fails the test after
    /// [`PUSH_TIMEOUT`] (naming the frames skipped).
    pub(crate) async fn next_of(&mut self, ty: &str) -> Value {
        let mut skipped = Vec::new();
        let deadline = tokio::time::Instant::now() + PUSH_TIMEOUT;
        loop {
            let got = tokio::time::timeout_at(deadline, self.rx.recv()).await;
            match got {
                Ok(Some(out)) => match parse(out) {
                    Some(v) if v["type"] == ty => return v,
                    Some(v) => skipped.push(v["type"].to_string()),
                    None => {}
                },
                Ok(None) => panic!("socket queue closed waiting for {ty}"),
                Err(_) => panic!(
                    "no {ty} within {PUSH_TIMEOUT:?} on {:?} of user {}; skipped {skipped:?}",
                    self.conn.endpoint, self.conn.user_id
                ),
            }
        }
    }

    /// A frame already queued, if any (does not wait).
    pub(crate) fn try_next(&mut self) -> Option<Value> {
        while let Ok(out) = self.rx.try_recv() {
            if let Some(v) = parse(out) {
                return Some(v);
            }
        }
        None
    }

    /// Fails the test if a frame is queued (see the module notes on why no wait is needed).
    pub(crate) fn assert_quiet(&mut self) {
        if let Some(v) = self.try_next() {
            panic!(
                "unexpected push on {:?} of user {}: {v}",
                self.conn.endpoint, self.conn.user_id
            );
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.hub.unregister(self.conn.id);
    }
}
