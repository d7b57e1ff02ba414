//! Message operations: history, sending, editing, deleting, read markers, typing and sync.

use super::writer::SendJob;
use super::{
    access, audiences, check_content, Actor, Chat, Read, Write, MAX_CLIENT_ID, MAX_WAIT_S,
};
use crate::db::chat::{Cursor, Message, RoomInfo, RoomKind};
use crate::db::store::Tx;
use crate::error::{page_limit, AppError, AppResult};
use crate::protocol::chat::{
    EditMessage, GetMessages, MarkRead, MessagePage, ReadMarked, SendMessage, Sync, SyncPage,
    Typing,
};
use crate::protocol::ServerMsg;
use std::time::Duration;
use tokio::sync::oneshot;

/// Loads a message and checks the caller may change it: a member's view, and only the sender.
fn own_message(tx: &dyn Tx, actor: &Actor, message_id: i64) -> AppResult<(Message, RoomInfo)> {
    let Some(m) = tx.message_by_id(message_id)? else {
        return Err(AppError::not_found("message"));
    };
    let room = access(tx, actor, m.room_id, Read).map_err(|e| match e {
        AppError::Forbidden(_) => AppError::not_found("message"),
        AppError::NotFound(_) => AppError::not_found("message"),
        other => other,
    })?;
    if m.sender.as_ref().map(|s| s.id) != Some(actor.user.id) {
        return Err(AppError::Forbidden(
            "only the sender may change a message".into(),
        ));
    }
    Ok((m, room))
}

impl Chat {
    /// A page of a room's history.
    pub async fn get_messages(
        &self,
        actor: &Actor,
        room_id: i64,
        req: GetMessages,
    ) -> AppResult<MessagePage> {
        let limit = page_limit(req.limit)?;
        let cursor = match (req.before, req.after) {
            (Some(_), Some(_)) => {
                return Err(AppError::invalid("give either before or after, not both"))
            }
            (Some(b), None) => Cursor::Before(b),
            (None, Some(a)) => Cursor::After(a),
            (None, None) => Cursor::Latest,
        };
        let actor = actor.clone();
        self.store
            .read(move |c| {
                let room = access(c, &actor, room_id, Read)?;
                let (messages, has_more) = c.messages_page(room.id, cursor, limit)?;
                Ok(MessagePage {
                    room_id: room.id,
                    messages,
                    has_more,
                })
            })
            .await
    }

    /// Sends a message. Returns it and whether it is new (`false`: a repeat of its `client_id`,
    /// answered with the original and creating nothing). Acknowledged only after the commit.
    pub async fn send_message(
        &self,
        actor: &Actor,
        room_id: i64,
        req: SendMessage,
    ) -> AppResult<(Message, bool)> {
        check_content(&req.content)?;
        if let Some(cid) = &req.client_id {
            if cid.is_empty() || cid.chars().count() > MAX_CLIENT_ID {
                return Err(AppError::field(
                    "client_id",
                    format!("must be 1 to {MAX_CLIENT_ID} characters"),
                ));
            }
        }
        let (reply, answer) = oneshot::channel();
        self.writer.submit(SendJob {
            actor: actor.clone(),
            room_id,
            content: req.content,
            client_id: req.client_id,
            reply,
        })?;
        answer
            .await
            .map_err(|_| AppError::Internal("message write failed".into()))?
    }

    /// Edits one's own message.
    pub async fn edit_message(
        &self,
        actor: &Actor,
        message_id: i64,
        req: EditMessage,
    ) -> AppResult<Message> {
        check_content(&req.content)?;
        let actor = actor.clone();
        let (message, info, members) = self
            .store
            .write(move |tx| {
                let (m, info) = own_message(tx, &actor, message_id)?;
                if m.deleted {
                    return Err(AppError::Conflict("message was deleted".into()));
                }
                tx.edit_message(m.id, &req.content)?;
                let m = tx
                    .message_by_id(m.id)?
                    .ok_or_else(|| AppError::not_found("message"))?;
                let members = tx.member_ids(info.id)?;
                Ok((m, info, members))
            })
            .await?;
        self.publish(
            &audiences(info.kind, members, None),
            &ServerMsg::MessageUpdated {
                message: message.clone(),
            },
        );
        Ok(message)
    }

    /// Deletes one's own message (idempotent): it keeps its id, empty and `deleted: true`.
    pub async fn delete_message(&self, actor: &Actor, message_id: i64) -> AppResult<(i64, i64)> {
        let actor = actor.clone();
        let (m, info, members, changed) = self
            .store
            .write(move |tx| {
                let (m, info) = own_message(tx, &actor, message_id)?;
                let changed = !m.deleted;
                if changed {
                    tx.delete_message(m.id)?;
                }
                let members = tx.member_ids(info.id)?;
                Ok((m, info, members, changed))
            })
            .await?;
        if changed {
            self.publish(
                &audiences(info.kind, members, None),
                &ServerMsg::MessageDeleted {
                    room_id: m.room_id,
                    message_id: m.id,
                },
            );
        }
        Ok((m.room_id, m.id))
    }

    /// Moves the caller's read marker and tells the room (`read_receipt`).
    pub async fn mark_read(
        &self,
        actor: &Actor,
        room_id: i64,
        req: MarkRead,
    ) -> AppResult<ReadMarked> {
        let actor2 = actor.clone();
        let (marked, info, members) = self
            .store
            .write(move |tx| {
                let info = access(tx, &actor2, room_id, Write)?;
                if let Some(mid) = req.message_id {
                    match tx.message_by_id(mid)? {
                        Some(m) if m.room_id == info.id => {}
                        _ => {
                            return Err(AppError::field(
                                "message_id",
                                "no such message in this room",
                            ))
                        }
                    }
                }
                let staff = actor2.staff_console && info.kind == RoomKind::Support;
                let (last, unread) = if staff {
                    tx.staff_mark_room_read(info.id, req.message_id)?
                } else {
                    tx.mark_room_read(info.id, actor2.user.id, req.message_id)?
                };
                let members = tx.member_ids(info.id)?;
                Ok((
                    ReadMarked {
                        room_id: info.id,
                        last_read_message_id: last,
                        unread_count: unread,
                    },
                    info,
                    members,
                ))
            })
            .await?;
        self.publish(
            &audiences(info.kind, members, None),
            &ServerMsg::ReadReceipt {
                room_id: marked.room_id,
                user_id: actor.user.id,
                last_read_message_id: marked.last_read_message_id,
            },
        );
        Ok(marked)
    }

    /// Tells the other members the caller is (or stopped) typing. Stores nothing.
    pub async fn typing(&self, actor: &Actor, room_id: i64, req: Typing) -> AppResult<()> {
        let actor2 = actor.clone();
        let (info, members) = self
            .store
            .read(move |c| {
                let info = access(c, &actor2, room_id, Write)?;
                let members = c.member_ids(info.id)?;
                Ok((info, members))
            })
            .await?;
        self.publish(
            &audiences(info.kind, members, Some(actor.user.id)),
            &ServerMsg::Typing {
                room_id: info.id,
                user: (&actor.user).into(),
                is_typing: req.is_typing,
            },
        );
        Ok(())
    }

    /// Every message in the caller's rooms after `after`, oldest first. With `wait`, waits up to
    /// that long for one to arrive (long-poll) and answers as soon as one does.
    pub async fn sync(&self, actor: &Actor, req: Sync) -> AppResult<SyncPage> {
        let limit = page_limit(req.limit)?;
        if req.after < 0 {
            return Err(AppError::field("after", "must not be negative"));
        }
        let wait = Duration::from_secs(req.wait.unwrap_or(0).min(u64::MAX / 2));
        if wait > Duration::from_secs(MAX_WAIT_S) {
            return Err(AppError::field(
                "wait",
                format!("at most {MAX_WAIT_S} seconds"),
            ));
        }
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribe before the first query, so a message stored in between still wakes us.
        let mut newest = self.latest.subscribe();
        let uid = actor.user.id;
        loop {
            let after = req.after;
            let (messages, has_more) = self
                .store
                .read(move |c| c.sync_messages(uid, after, limit))
                .await?;
            if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(SyncPage { messages, has_more });
            }
            match tokio::time::timeout_at(deadline, newest.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(SyncPage { messages, has_more }),
            }
        }
    }
}
