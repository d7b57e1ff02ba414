//! Changes made to users from the command line while the server runs (`hearth user revoke`,
//! `delete`, `passwd`, `set-staff --off`): the command records each in `user_events`, in the
//! same transaction as the change; the server reads new rows every half second and closes the
//! sockets that may no longer stay open. REST needs nothing: every call checks its token and
//! reads its user afresh.

use super::Auth;
use crate::db::admin::UserEventKind;
use crate::hub::Endpoint;
use crate::protocol::Close;
use std::time::Duration;

/// How often the server reads `user_events` (the command line's changes take effect within
/// this, plus a socket's close).
pub const USER_EVENTS_EVERY: Duration = Duration::from_millis(500);

impl Auth {
    /// Reads `user_events` from the newest row at start, every `every`, for as long as the
    /// returned future runs; closes the sockets of users revoked, deleted or given a new
    /// password with 4401, and the staff-console sockets of users no longer staff with 4403.
    pub async fn follow_user_events(self, every: Duration) {
        let mut cursor = loop {
            match self.store.read(|tx| tx.latest_user_event()).await {
                Ok(id) => break id,
                Err(e) => {
                    tracing::warn!(error = %e, "reading user events; trying again");
                    tokio::time::sleep(every).await;
                }
            }
        };
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let after = cursor;
            let events = match self.store.read(move |tx| tx.user_events_after(after)).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "reading user events");
                    continue;
                }
            };
            for ev in events {
                cursor = ev.id;
                let (endpoint, close) = match ev.kind {
                    UserEventKind::Revoked | UserEventKind::Passwd => {
                        (None, Close::unauthenticated(super::AuthFailure::Revoked))
                    }
                    UserEventKind::Deleted => (None, Close::unauthenticated("user deleted")),
                    UserEventKind::Unstaff => {
                        (Some(Endpoint::Admin), Close::forbidden("staff only"))
                    }
                    UserEventKind::Staff => continue,
                };
                tracing::info!(
                    user = ev.user_id,
                    change = ev.kind.as_str(),
                    "user changed from the command line"
                );
                self.hub.close_user(ev.user_id, endpoint, close);
            }
        }
    }
}
