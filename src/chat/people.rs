//! Members of a room and finding people (contract v1.1, section 4.1).

use super::{access, Actor, Chat, Read};
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::protocol::chat::{Member, SearchUsers};

/// Default page of `search_users`.
pub const SEARCH_DEFAULT_LIMIT: i64 = 20;
/// Largest page of `search_users`.
pub const SEARCH_MAX_LIMIT: i64 = 50;

impl Chat {
    /// A room's members, by display name, each with whether they are online and their read
    /// marker. Only members may list them (`not_found` otherwise, as for other reads).
    pub async fn members(&self, actor: &Actor, room_id: i64) -> AppResult<Vec<Member>> {
        let actor = actor.clone();
        let rows = self
            .store
            .read(move |tx| {
                let room = access(tx, &actor, room_id, Read)?;
                tx.room_members(room.id)
            })
            .await?;
        let ids: Vec<i64> = rows.iter().map(|(u, _)| u.id).collect();
        let online = self.presence.online_among(&ids).await;
        Ok(rows
            .into_iter()
            .map(|(user, last_read_message_id)| Member {
                online: online.contains(&user.id),
                user,
                last_read_message_id,
            })
            .collect())
    }

    /// Registered users (never guests) whose username or display name contains the query,
    /// best match first.
    pub async fn search_users(&self, _actor: &Actor, req: SearchUsers) -> AppResult<Vec<User>> {
        let query = req.query.trim().to_string();
        let n = query.chars().count();
        if n == 0 || n > 100 {
            return Err(AppError::field("query", "must be 1 to 100 characters"));
        }
        let limit = match req.limit {
            None => SEARCH_DEFAULT_LIMIT,
            Some(l) if (1..=SEARCH_MAX_LIMIT).contains(&l) => l,
            Some(_) => {
                return Err(AppError::field(
                    "limit",
                    format!("must be 1 to {SEARCH_MAX_LIMIT}"),
                ))
            }
        };
        self.store
            .read(move |tx| tx.search_users(&query, limit))
            .await
    }
}
