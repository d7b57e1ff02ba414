//! Support chat: each visitor (an anonymous guest or a signed-in user) has one room of kind
//! `support`; staff at the console read and answer every such room. Everything goes through the
//! chat operations, storage and hub: there is no second message pipeline.

use crate::auth::{token, Principal};
use crate::chat::{Actor, Chat};
use crate::db::chat::{Message, Room, RoomKind};
use crate::db::store::Store;
use crate::db::tokens::Kind;
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::hub::{Audience, Endpoint, Target};
use crate::protocol::chat::{GetMessages, MarkRead, MessagePage, ReadMarked, SendMessage};
use crate::protocol::{Close, ServerMsg};
use crate::quota::Quota;

/// The support service: a cheap `Clone` over the chat service and the guest quota.
#[derive(Clone)]
pub struct Support {
    chat: Chat,
    store: Store,
    guests: Quota,
}

fn visitor(user: &User) -> Actor {
    Actor {
        user: user.clone(),
        staff_console: false,
    }
}

fn require_staff(actor: &Actor) -> AppResult<()> {
    if actor.staff_console {
        Ok(())
    } else {
        Err(AppError::Forbidden("staff only".into()))
    }
}

impl Support {
    /// The support service over `chat`; `guests` limits new visitors per client address (in
    /// the database, shared by every node: see [`crate::quota`]).
    pub fn new(chat: Chat, store: Store, guests: Quota) -> Support {
        Support {
            chat,
            store,
            guests,
        }
    }

    /// Creates a guest user and its resume token for a visitor without credentials. Limited per
    /// client address; a failed attempt gives its place back.
    pub async fn create_guest(&self, peer: Option<&str>) -> AppResult<(Principal, String)> {
        let key = peer.unwrap_or("unknown");
        self.guests
            .try_acquire(key)
            .await?
            .map_err(|wait| AppError::RateLimited {
                message: "too many new visitors from this address".into(),
                retry_after: wait,
            })?;
        let created = self
            .store
            .write(|tx| {
                let value = token::random_token();
                let hash = token::hash_token(&value);
                let tag: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
                // '~' cannot appear in a registered username, so guests never collide with users.
                let username = format!("~guest-{tag}");
                let display = format!("Visitor {}", &tag[..4]);
                let user = tx.insert_user(&username, &display, None, false, true)?;
                let id = tx.insert_token(user.id, Kind::Guest, &hash, None, None)?;
                Ok((
                    Principal {
                        user,
                        token_id: id,
                        expires_at: None,
                    },
                    value,
                ))
            })
            .await;
        if created.is_err() {
            // No visitor was made: the attempt does not count against the address.
            self.guests.release(key).await;
        }
        created
    }

    /// A visitor who signed up or in with their guest token keeps their conversation: the
    /// guest's support room becomes the user's own (or is merged into theirs), the guest token
    /// stops working and the guest's sockets close with 4401, and staff consoles get the room.
    /// A token that is not a live guest token is ignored. Never fails the sign-in: a storage
    /// error is logged.
    pub async fn adopt(&self, user: &User, guest_token: &str) {
        let hash = token::hash_token(guest_token);
        let user2 = user.clone();
        let adopted = self
            .store
            .write(move |tx| {
                let Some(row) = tx.find_token(Kind::Guest, &hash)? else {
                    return Ok(None);
                };
                if row.revoked_at.is_some() {
                    return Ok(None);
                }
                match tx.user_by_id(row.user_id)? {
                    Some(guest) if guest.is_guest && guest.id != user2.id => {
                        let room = tx.adopt_support_room(guest.id, &user2)?;
                        tx.revoke_token(row.id)?;
                        let view = match room {
                            Some(id) => tx.room_view(id, user2.id, true)?,
                            None => None,
                        };
                        Ok(Some((row.id, view)))
                    }
                    _ => Ok(None),
                }
            })
            .await;
        match adopted {
            Ok(Some((token_id, view))) => {
                self.chat.hub().close_token(
                    token_id,
                    Close::unauthenticated("the visitor signed in; reconnect with their token"),
                );
                if let Some(room) = view {
                    self.announce_to_staff(room);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, user = user.id, "adopting a guest conversation"),
        }
    }

    /// The visitor's one support room, created on first use (and announced to staff consoles).
    pub async fn room_of(&self, visitor: &User) -> AppResult<i64> {
        let vid = visitor.id;
        if let Some(id) = self.store.read(move |tx| tx.support_room_of(vid)).await? {
            return Ok(id);
        }
        let v = visitor.clone();
        let (room_id, created) = self
            .store
            .write(move |tx| {
                // Another request may have created it since the read above.
                if let Some(id) = tx.support_room_of(v.id)? {
                    return Ok((id, None));
                }
                let id = tx.insert_room(
                    &format!("Support: {}", v.display_name),
                    RoomKind::Support,
                    false,
                    Some(v.id),
                    None,
                    Some(v.id),
                )?;
                tx.add_member(id, v.id)?;
                let room = tx.room_view(id, v.id, true)?;
                Ok((id, room))
            })
            .await?;
        if let Some(room) = created {
            self.announce_to_staff(room);
        }
        Ok(room_id)
    }

    fn announce_to_staff(&self, room: Room) {
        self.chat.hub().publish(
            &Audience {
                endpoint: Endpoint::Admin,
                target: Target::Staff,
            },
            &ServerMsg::RoomUpdated { room },
        );
    }

    /// A visitor's message into their support room.
    pub async fn send(&self, user: &User, req: SendMessage) -> AppResult<(Message, bool)> {
        let room_id = self.room_of(user).await?;
        self.chat.send_message(&visitor(user), room_id, req).await
    }

    /// A page of the visitor's support conversation.
    pub async fn messages(&self, user: &User, req: GetMessages) -> AppResult<MessagePage> {
        let room_id = self.room_of(user).await?;
        self.chat.get_messages(&visitor(user), room_id, req).await
    }

    /// Moves the visitor's read marker.
    pub async fn mark_read(&self, user: &User, req: MarkRead) -> AppResult<ReadMarked> {
        let room_id = self.room_of(user).await?;
        self.chat.mark_read(&visitor(user), room_id, req).await
    }

    /// Checks that a room is a support room (staff console operations touch nothing else).
    async fn support_room(&self, room_id: i64) -> AppResult<()> {
        let info = self.store.read(move |c| c.room_info(room_id)).await?;
        match info {
            Some(r) if r.kind == RoomKind::Support => Ok(()),
            _ => Err(AppError::not_found("room")),
        }
    }

    /// Every support room with the staff's unread count, most recent activity first.
    pub async fn staff_rooms(&self, staff: &Actor) -> AppResult<Vec<Room>> {
        require_staff(staff)?;
        let uid = staff.user.id;
        self.store.read(move |c| c.support_rooms(uid)).await
    }

    /// One support room as staff see it.
    pub async fn staff_room(&self, staff: &Actor, room_id: i64) -> AppResult<Room> {
        require_staff(staff)?;
        self.support_room(room_id).await?;
        self.chat.get_room(staff, room_id).await
    }

    /// A page of any support conversation.
    pub async fn staff_messages(
        &self,
        staff: &Actor,
        room_id: i64,
        req: GetMessages,
    ) -> AppResult<MessagePage> {
        require_staff(staff)?;
        self.support_room(room_id).await?;
        self.chat.get_messages(staff, room_id, req).await
    }

    /// A staff reply into a support conversation.
    pub async fn staff_send(
        &self,
        staff: &Actor,
        room_id: i64,
        req: SendMessage,
    ) -> AppResult<(Message, bool)> {
        require_staff(staff)?;
        self.support_room(room_id).await?;
        self.chat.send_message(staff, room_id, req).await
    }

    /// Moves the staff's shared read marker of a support conversation.
    pub async fn staff_mark_read(
        &self,
        staff: &Actor,
        room_id: i64,
        req: MarkRead,
    ) -> AppResult<ReadMarked> {
        require_staff(staff)?;
        self.support_room(room_id).await?;
        self.chat.mark_read(staff, room_id, req).await
    }
}

#[cfg(test)]
mod tests;
