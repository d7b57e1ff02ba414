//! Room operations: listing, creating, direct rooms, public rooms, joining, leaving, members.

use super::access::check_room_name;
use super::{access, audiences, Actor, Chat, Read, Write, MAX_MEMBERS_AT_CREATION};
use crate::db::chat::{Room, RoomInfo, RoomKind};
use crate::db::store::Tx;
use crate::db::users::User;
use crate::error::{page_limit, AppError, AppResult};
use crate::hub::{Audience, Endpoint};
use crate::protocol::chat::{AddMember, CreateRoom, OpenDirect, PublicRooms};
use crate::protocol::ServerMsg;

fn view(tx: &dyn Tx, actor: &Actor, room: &RoomInfo) -> AppResult<Room> {
    let staff_view = actor.staff_console && room.kind == RoomKind::Support;
    tx.room_view(room.id, actor.user.id, staff_view)?
        .ok_or_else(|| AppError::not_found("room"))
}

fn resolve_usernames(tx: &dyn Tx, names: &[String], field: &str) -> AppResult<Vec<User>> {
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        match tx.user_by_username(n)? {
            Some(u) => found.push(u),
            None => unknown.push(n.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::field(
            field,
            format!("unknown user(s): {}", unknown.join(", ")),
        ));
    }
    Ok(found)
}

impl Chat {
    /// The caller's group and direct rooms, most recent activity first.
    pub async fn room_list(&self, actor: &Actor) -> AppResult<Vec<Room>> {
        let uid = actor.user.id;
        self.store
            .read(move |c| c.rooms_of(uid, &[RoomKind::Group, RoomKind::Direct]))
            .await
    }

    /// One room the caller may read.
    pub async fn get_room(&self, actor: &Actor, room_id: i64) -> AppResult<Room> {
        let actor = actor.clone();
        self.store
            .read(move |c| {
                let room = access(c, &actor, room_id, Read)?;
                view(c, &actor, &room)
            })
            .await
    }

    /// Pushes `room_updated` to each listed user, with the room as that user sees it.
    /// Runs after the change is committed: a failure here is logged, not answered (the
    /// change happened; the client's next `get_room_list` or `sync` shows it).
    async fn push_room_to(&self, room_id: i64, users: Vec<i64>) {
        let views = self
            .store
            .read(move |c| {
                let mut out = Vec::new();
                for u in users {
                    if let Some(r) = c.room_view(room_id, u, false)? {
                        out.push((u, r));
                    }
                }
                Ok(out)
            })
            .await;
        let views = match views {
            Ok(views) => views,
            Err(e) => {
                tracing::error!(error = %e, room_id, "pushing room_updated");
                return;
            }
        };
        for (user, room) in views {
            self.hub.publish(
                &Audience::user(Endpoint::Chat, user),
                &ServerMsg::RoomUpdated { room },
            );
        }
    }

    /// Creates a group room with the caller and the listed members (at most
    /// [`MAX_MEMBERS_AT_CREATION`]). Each user creates at most `rooms_per_hour` group rooms in a
    /// window of [`ROOMS_WINDOW`](super::ROOMS_WINDOW) that starts with their first one; beyond, `rate_limited` until
    /// the window ends. Only rooms actually created count (a refused request gives its place back).
    /// Direct rooms do not count: there is one per pair of users, made by `open_direct`.
    pub async fn create_room(&self, actor: &Actor, req: CreateRoom) -> AppResult<Room> {
        let name = check_room_name(&req.name)?;
        if req.members.len() > MAX_MEMBERS_AT_CREATION {
            return Err(AppError::field(
                "members",
                format!("at most {MAX_MEMBERS_AT_CREATION} usernames"),
            ));
        }
        let key = actor.user.id.to_string();
        self.rooms
            .try_acquire(&key)
            .map_err(|wait| AppError::RateLimited {
                message: format!(
                    "at most {} new rooms per hour; try again later",
                    self.rooms_per_hour
                ),
                retry_after: wait,
            })?;
        let actor2 = actor.clone();
        let created = self
            .store
            .write(move |tx| {
                let others = resolve_usernames(tx, &req.members, "members")?;
                let id = tx.insert_room(
                    &name,
                    RoomKind::Group,
                    req.is_public,
                    Some(actor2.user.id),
                    None,
                    None,
                )?;
                tx.add_member(id, actor2.user.id)?;
                for u in &others {
                    tx.add_member(id, u.id)?;
                }
                let members = tx.member_ids(id)?;
                let room = tx
                    .room_view(id, actor2.user.id, false)?
                    .ok_or_else(|| AppError::Internal("room vanished".into()))?;
                Ok((room, members))
            })
            .await;
        let (room, members) = match created {
            Ok(created) => created,
            Err(e) => {
                self.rooms.release(&key);
                return Err(e);
            }
        };
        let others: Vec<i64> = members
            .into_iter()
            .filter(|&m| m != actor.user.id)
            .collect();
        self.push_room_to(room.id, others).await;
        Ok(room)
    }

    /// The direct room between the caller and `username`, created on first use.
    pub async fn open_direct(&self, actor: &Actor, req: OpenDirect) -> AppResult<Room> {
        let me = actor.user.clone();
        let (room, created, other) = self
            .store
            .write(move |tx| {
                let Some(other) = tx.user_by_username(&req.username)? else {
                    return Err(AppError::field("username", "unknown user"));
                };
                if other.id == me.id {
                    return Err(AppError::field(
                        "username",
                        "cannot open a direct room with yourself",
                    ));
                }
                let key = format!("{}:{}", me.id.min(other.id), me.id.max(other.id));
                let (id, created) = match tx.direct_room(&key)? {
                    Some(id) => (id, false),
                    None => {
                        let name = format!("{} & {}", me.username, other.username);
                        let id = tx.insert_room(
                            &name,
                            RoomKind::Direct,
                            false,
                            Some(me.id),
                            Some(&key),
                            None,
                        )?;
                        tx.add_member(id, me.id)?;
                        tx.add_member(id, other.id)?;
                        (id, true)
                    }
                };
                let room = tx
                    .room_view(id, me.id, false)?
                    .ok_or_else(|| AppError::Internal("room vanished".into()))?;
                Ok((room, created, other.id))
            })
            .await?;
        if created {
            self.push_room_to(room.id, vec![other]).await;
        }
        Ok(room)
    }

    /// Public group rooms by name match, most active first.
    pub async fn public_rooms(&self, actor: &Actor, req: PublicRooms) -> AppResult<Vec<Room>> {
        let limit = page_limit(req.limit)?;
        let query = req.query.unwrap_or_default();
        if query.chars().count() > 100 {
            return Err(AppError::field("query", "at most 100 characters"));
        }
        let uid = actor.user.id;
        self.store
            .read(move |c| c.public_rooms(uid, query.trim(), limit))
            .await
    }

    /// Joins a public group room (idempotent).
    pub async fn join_room(&self, actor: &Actor, room_id: i64) -> AppResult<Room> {
        let me = actor.user.clone();
        let (room, joined, members) = self
            .store
            .write(move |tx| {
                let info = tx.room_info(room_id)?;
                let Some(info) = info.filter(|r| r.kind == RoomKind::Group) else {
                    return Err(AppError::not_found("room"));
                };
                let member = tx.is_member(info.id, me.id)?;
                if !member && !info.is_public {
                    return Err(AppError::not_found("room"));
                }
                let joined = !member && tx.add_member(info.id, me.id)?;
                let members = tx.member_ids(info.id)?;
                let room = tx
                    .room_view(info.id, me.id, false)?
                    .ok_or_else(|| AppError::Internal("room vanished".into()))?;
                Ok((room, joined, members))
            })
            .await?;
        if joined {
            self.publish(
                &audiences(RoomKind::Group, members, None),
                &ServerMsg::MemberJoined {
                    room_id: room.id,
                    user: actor.user.clone(),
                },
            );
        }
        Ok(room)
    }

    /// Leaves a group room.
    pub async fn leave_room(&self, actor: &Actor, room_id: i64) -> AppResult<i64> {
        let actor2 = actor.clone();
        let (info, members) = self
            .store
            .write(move |tx| {
                let info = access(tx, &actor2, room_id, Write)?;
                if info.kind != RoomKind::Group {
                    return Err(AppError::Forbidden("only group rooms can be left".into()));
                }
                let mut members = tx.member_ids(info.id)?;
                tx.remove_member(info.id, actor2.user.id)?;
                // The leaver's own sockets hear it too (other tabs drop the room).
                members.sort_unstable();
                Ok((info, members))
            })
            .await?;
        self.publish(
            &audiences(info.kind, members, None),
            &ServerMsg::MemberLeft {
                room_id: info.id,
                user: actor.user.clone(),
            },
        );
        Ok(info.id)
    }

    /// Adds a member to a group room the caller belongs to (idempotent).
    pub async fn add_member(&self, actor: &Actor, room_id: i64, req: AddMember) -> AppResult<User> {
        let actor2 = actor.clone();
        let (user, added, members) = self
            .store
            .write(move |tx| {
                let info = access(tx, &actor2, room_id, Write)?;
                if info.kind != RoomKind::Group {
                    return Err(AppError::Forbidden(
                        "members can only be added to group rooms".into(),
                    ));
                }
                let Some(user) = tx.user_by_username(&req.username)? else {
                    return Err(AppError::field("username", "unknown user"));
                };
                let added = tx.add_member(info.id, user.id)?;
                let members = tx.member_ids(info.id)?;
                Ok((user, added, members))
            })
            .await?;
        if added {
            self.publish(
                &audiences(RoomKind::Group, members, None),
                &ServerMsg::MemberJoined {
                    room_id,
                    user: user.clone(),
                },
            );
            self.push_room_to(room_id, vec![user.id]).await;
        }
        Ok(user)
    }
}
