//! Presence: who is online. A user is online while they have at least one open `/ws/chat/`
//! socket. Changes are pushed as `presence {user_id, online, last_seen_at}` to every `/ws/chat/`
//! socket of everyone who shares a room with them (their own included). Going offline is
//! announced only after a grace period without a socket (10 s by default), so a reload does not
//! flap; during it the user still counts as online.
//!
//! The state is per process, in memory, one entry per user with a socket or within the grace
//! period (so it is bounded by the sockets the hub admits). On a cluster a user is online while
//! they have a `/ws/chat/` socket on any live node: a node asks the hub about the other nodes
//! (the `sockets` table) before announcing a user online (not if they already were elsewhere)
//! or offline (not if they still are elsewhere), and when listing members.

use crate::db::store::Store;
use crate::hub::{Audience, Endpoint, Hub};
use crate::protocol::ServerMsg;
use crate::time::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a user without a socket still counts as online.
pub const OFFLINE_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Entry {
    /// Open `/ws/chat/` sockets.
    sockets: usize,
    /// Bumped at every disconnect, so a stale grace timer does nothing.
    generation: u64,
}

struct Inner {
    store: Store,
    hub: Arc<dyn Hub>,
    grace: Duration,
    users: Mutex<HashMap<i64, Entry>>,
}

/// The presence service: a cheap `Clone`.
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

impl Presence {
    /// Presence over `store` (who shares a room with whom) and `hub` (where to push), with the
    /// offline announcement delayed by `grace`.
    pub fn new(store: Store, hub: Arc<dyn Hub>, grace: Duration) -> Presence {
        Presence {
            inner: Arc::new(Inner {
                store,
                hub,
                grace,
                users: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        self.inner.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the user counts as online on this node (a socket open, or closed less than the
    /// grace ago).
    pub fn is_online(&self, user_id: i64) -> bool {
        self.users().contains_key(&user_id)
    }

    /// Which of `users` are online, on this node or another.
    pub async fn online_among(&self, users: &[i64]) -> std::collections::HashSet<i64> {
        let (mut online, elsewhere): (std::collections::HashSet<i64>, Vec<i64>) = {
            let local = self.users();
            let mut here = std::collections::HashSet::new();
            let mut rest = Vec::new();
            for &u in users {
                if local.contains_key(&u) {
                    here.insert(u);
                } else {
                    rest.push(u);
                }
            }
            (here, rest)
        };
        online.extend(self.inner.hub.chat_elsewhere(elsewhere).await);
        online
    }

    /// A `/ws/chat/` socket of the user opened. Announces them online if they were not.
    pub fn connected(&self, user_id: i64) {
        let came_online = {
            let mut users = self.users();
            let entry = users.entry(user_id).or_default();
            entry.sockets += 1;
            entry.generation += 1;
            // A new entry: nobody was told this user is online.
            entry.sockets == 1 && entry.generation == 1
        };
        if came_online {
            self.announce(user_id, true, Timestamp::now());
        }
    }

    /// A `/ws/chat/` socket of the user closed. With no socket left, the user is announced
    /// offline after the grace period unless a socket opens meanwhile.
    pub fn disconnected(&self, user_id: i64) {
        let generation = {
            let mut users = self.users();
            let Some(entry) = users.get_mut(&user_id) else {
                return;
            };
            entry.sockets = entry.sockets.saturating_sub(1);
            if entry.sockets > 0 {
                return;
            }
            entry.generation += 1;
            entry.generation
        };
        let last_seen = Timestamp::now();
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(this.inner.grace).await;
            let gone = {
                let mut users = this.users();
                match users.get(&user_id) {
                    Some(e) if e.sockets == 0 && e.generation == generation => {
                        users.remove(&user_id);
                        true
                    }
                    _ => false,
                }
            };
            if gone {
                this.announce(user_id, false, last_seen);
            }
        });
    }

    /// Pushes the change to everyone who shares a room with the user, after looking them up,
    /// unless the user has a chat socket on another node (then nothing changed for others).
    fn announce(&self, user_id: i64, online: bool, at: Timestamp) {
        let this = self.clone();
        tokio::spawn(async move {
            if !this
                .inner
                .hub
                .chat_elsewhere(vec![user_id])
                .await
                .is_empty()
            {
                return;
            }
            let audience = match this
                .inner
                .store
                .read(move |tx| tx.co_member_ids(user_id))
                .await
            {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::error!(error = %e, user_id, "announcing presence");
                    return;
                }
            };
            this.inner.hub.publish(
                &Audience::users(Endpoint::Chat, audience),
                &ServerMsg::Presence {
                    user_id,
                    online,
                    last_seen_at: at,
                },
            );
        });
    }
}
