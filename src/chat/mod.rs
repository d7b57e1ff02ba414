//! Chat: rooms, members and messages. Each operation is one method of [`Chat`] that validates,
//! authorizes, writes and publishes; the transports (`ops`, then `ws` and `api`) only adapt
//! their input and output to it.

pub mod access;
pub mod follower;
pub mod messages;
pub mod people;
pub mod rooms;
pub mod writer;

pub use access::{access, audiences, check_content, Mode, Read, Write};

use crate::db::store::Store;
use crate::db::users::User;
use crate::error::AppResult;
use crate::hub::{Audience, Hub};
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::protocol::ServerMsg;
use crate::rate::Throttle;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use writer::MessageWriter;

/// Longest message content, in characters.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Longest `client_id`.
pub const MAX_CLIENT_ID: usize = 64;
/// Longest long-poll wait.
pub const MAX_WAIT_S: u64 = 30;
/// Most usernames `create_room` takes in `members` (more answer `validation_failed`); more
/// members are added one at a time with `add_member`.
pub const MAX_MEMBERS_AT_CREATION: usize = 100;
/// The window of `rooms_per_hour`.
pub const ROOMS_WINDOW: Duration = Duration::from_secs(3600);

/// Who performs an operation, and in which role.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user.
    pub user: User,
    /// Acting from the staff console: may read and write every support room.
    pub staff_console: bool,
}

impl Actor {
    /// A user acting for themself.
    pub fn user(user: &User) -> Actor {
        Actor {
            user: user.clone(),
            staff_console: false,
        }
    }

    /// A staff member acting from the console (the caller must have checked `is_staff`).
    pub fn staff(user: &User) -> Actor {
        Actor {
            user: user.clone(),
            staff_console: user.is_staff,
        }
    }
}

/// The chat service: a cheap `Clone` holding only what chat needs.
#[derive(Clone)]
pub struct Chat {
    store: Store,
    hub: Arc<dyn Hub>,
    writer: MessageWriter,
    rooms: Arc<Throttle>,
    rooms_per_hour: u32,
    latest: watch::Sender<i64>,
    presence: Presence,
    /// On a cluster: the task publishing stored messages to this node's sockets.
    _follower: Option<Arc<AbortOnDrop>>,
}

/// Aborts a task when the last handle to it goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Chat {
    /// Starts the chat service: reads the newest message id (long-polls wait on it) and starts
    /// the group-commit message writer. `rooms_per_hour` limits group rooms created per user.
    pub async fn start(
        store: Store,
        hub: Arc<dyn Hub>,
        metrics: Arc<Metrics>,
        rooms_per_hour: u32,
        presence: Presence,
    ) -> AppResult<Chat> {
        let newest = store.read(|tx| tx.latest_message_id()).await?;
        let latest = hub.message_clock();
        latest.send_replace(newest);
        let follower = hub.is_cluster().then(|| {
            Arc::new(AbortOnDrop(tokio::spawn(follower::follow(
                store.clone(),
                hub.clone(),
                newest,
            ))))
        });
        let writer = MessageWriter::start(writer::WriterDeps {
            store: store.clone(),
            hub: hub.clone(),
            metrics,
        })
        .map_err(|e| crate::error::AppError::Internal(format!("message writer: {e}")))?;
        Ok(Chat {
            store,
            hub,
            writer,
            rooms: Arc::new(Throttle::new(rooms_per_hour, ROOMS_WINDOW)),
            rooms_per_hour,
            latest,
            presence,
            _follower: follower,
        })
    }

    /// The hub this service publishes to.
    pub fn hub(&self) -> &Arc<dyn Hub> {
        &self.hub
    }

    /// Resolves once every message queued before it is committed and answered.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }

    /// Serializes a pushed frame once and delivers it to each audience.
    pub fn publish(&self, audiences: &[Audience], msg: &ServerMsg) {
        let frame = msg.frame(None);
        for a in audiences {
            self.hub.publish_bytes(a, frame.clone());
        }
    }
}

#[cfg(test)]
mod tests;
