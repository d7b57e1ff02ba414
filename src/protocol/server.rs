//! Every frame the server sends ([`ServerMsg`]), serialized once with its `request_id` and
//! `timestamp` by [`ServerMsg::frame`].

use crate::db::chat::{Message, Room};
use crate::db::notifications::Notification;
use crate::db::tasks::Task;
use crate::db::users::{User, UserRef};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use bytestring::ByteString;
use serde::Serialize;
use serde_json::Value;

use super::chat;

/// The fields a closing `error` frame adds.
#[derive(Debug, Clone, Serialize)]
pub struct CloseInfo {
    /// The close code that follows.
    pub close_code: u16,
    /// `never`, `reauthenticate` or `backoff`.
    pub retry: &'static str,
    /// How long to wait before reconnecting, when known.
    pub retry_after_ms: Option<u64>,
}

/// `limits` in `connected`.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// Largest accepted message.
    pub max_message_bytes: usize,
    /// Sustained client frames per second.
    pub messages_per_second: u32,
}

/// A support visitor's identity in `connected`.
#[derive(Debug, Clone, Serialize)]
pub struct GuestInfo {
    /// The guest user's id.
    pub id: i64,
    /// Shown name, e.g. `Visitor 7f3a`.
    pub name: String,
}

/// Every frame the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First frame on every accepted socket.
    Connected {
        /// The authenticated user, or null for an anonymous visitor.
        user: Option<User>,
        /// This socket's id.
        connection_id: String,
        /// Server ping interval.
        heartbeat_s: u64,
        /// Size and rate limits.
        limits: Limits,
        /// Support visitors only.
        #[serde(skip_serializing_if = "Option::is_none")]
        guest: Option<GuestInfo>,
        /// Support visitors only: the token that resumes the conversation.
        #[serde(skip_serializing_if = "Option::is_none")]
        guest_token: Option<String>,
    },
    /// Answer to `ping`.
    Pong,
    /// A failure; with `close` set it is the last frame before a close.
    Error {
        /// Contract error code.
        code: &'static str,
        /// Human text.
        message: String,
        /// Field errors of `validation_failed`.
        #[serde(skip_serializing_if = "Option::is_none")]
        fields: Option<std::collections::BTreeMap<String, String>>,
        /// On a recoverable `rate_limited`: when to try again, in milliseconds (what REST says
        /// with `Retry-After`). Never set together with `close`, which has its own.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// Present on the final frame before a close.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        close: Option<CloseInfo>,
    },
    /// The socket's token expires soon.
    TokenExpiring {
        /// When.
        expires_at: Timestamp,
    },
    /// `reauthenticate` succeeded.
    Reauthenticated {
        /// The new credential's expiry.
        expires_at: Option<Timestamp>,
    },
    /// Reply to `get_room_list`.
    RoomList {
        /// The caller's rooms, most recent activity first.
        rooms: Vec<Room>,
    },
    /// Reply to `get_room` and `open_direct`.
    Room {
        /// The room.
        room: Room,
    },
    /// Reply to `create_room`.
    RoomCreated {
        /// The new room.
        room: Room,
    },
    /// Reply to `get_public_rooms`.
    PublicRoomList {
        /// Public group rooms, most active first.
        rooms: Vec<Room>,
    },
    /// Reply to `join_room`.
    RoomJoined {
        /// The room.
        room: Room,
    },
    /// Reply to `leave_room`.
    RoomLeft {
        /// The room.
        room_id: i64,
    },
    /// Reply to `add_member`.
    MemberAdded {
        /// The room.
        room_id: i64,
        /// Who was added.
        user: User,
    },
    /// Reply to `get_messages`.
    Messages(chat::MessagePage),
    /// Reply to `send_message`.
    MessageSent {
        /// The stored message.
        message: Message,
    },
    /// Reply to and push of `edit_message`.
    MessageUpdated {
        /// The edited message.
        message: Message,
    },
    /// Reply to and push of `delete_message`.
    MessageDeleted {
        /// The room.
        room_id: i64,
        /// The deleted message.
        message_id: i64,
    },
    /// Reply to `mark_read`.
    ReadMarked(chat::ReadMarked),
    /// Reply to `sync`.
    Sync(chat::SyncPage),
    /// Push: a new message in one of the caller's rooms.
    Message {
        /// The message.
        message: Message,
    },
    /// Push: a room changed or was shared with the caller.
    RoomUpdated {
        /// The room, as the recipient sees it.
        room: Room,
    },
    /// Push: someone joined a room.
    MemberJoined {
        /// The room.
        room_id: i64,
        /// Who.
        user: User,
    },
    /// Push: someone left a room.
    MemberLeft {
        /// The room.
        room_id: i64,
        /// Who.
        user: User,
    },
    /// Push: someone is typing (never sent to the typist).
    Typing {
        /// The room.
        room_id: i64,
        /// Who.
        user: UserRef,
        /// Started or stopped.
        is_typing: bool,
    },
    /// Reply to `start_task`, and push to the owner's other sockets.
    TaskCreated {
        /// The queued task.
        task: Task,
    },
    /// Reply to `get_tasks`, and the snapshot of active tasks sent on connect.
    TaskList {
        /// Tasks.
        tasks: Vec<Task>,
    },
    /// Reply to `get_task`.
    Task {
        /// The task.
        task: Task,
    },
    /// Reply to `cancel_task`.
    TaskCancelling {
        /// The task.
        task_id: i64,
    },
    /// Push: progress of a running task (at most 10 a second, and 100 on success).
    TaskProgress {
        /// The task.
        task_id: i64,
        /// 0–100.
        progress: i64,
        /// Items done.
        processed: i64,
        /// Items in all.
        total: i64,
    },
    /// Push: a task completed.
    TaskCompleted {
        /// The task.
        task: Task,
    },
    /// Push: a task failed.
    TaskFailed {
        /// The task.
        task: Task,
    },
    /// Push: a task was cancelled (or interrupted by a shutdown).
    TaskCancelled {
        /// The task.
        task: Task,
    },
    /// Push on `/ws/notifications/`.
    Notification {
        /// The notification.
        notification: Notification,
    },
    /// Reply to `get_members`.
    Members {
        /// The room.
        room_id: i64,
        /// Its members, by display name.
        members: Vec<chat::Member>,
    },
    /// Reply to `search_users`.
    UserList {
        /// Matching registered users, best match first.
        users: Vec<User>,
    },
    /// Push on `/ws/chat/`: someone who shares a room with the recipient came online or went
    /// offline (after 10 s without a socket).
    Presence {
        /// Who.
        user_id: i64,
        /// Online now.
        online: bool,
        /// When they were last seen: now when they come online, their last socket's close when
        /// they go offline.
        last_seen_at: Timestamp,
    },
    /// Push: a member's read marker moved.
    ReadReceipt {
        /// The room.
        room_id: i64,
        /// Who.
        user_id: i64,
        /// Their marker.
        last_read_message_id: i64,
    },
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(flatten)]
    msg: &'a ServerMsg,
    request_id: Option<&'a Value>,
    timestamp: Timestamp,
}

impl ServerMsg {
    /// Serializes the frame with its `request_id` (null for pushes) and `timestamp`.
    pub fn frame(&self, request_id: Option<&Value>) -> ByteString {
        let env = Envelope {
            msg: self,
            request_id,
            timestamp: Timestamp::now(),
        };
        match serde_json::to_string(&env) {
            Ok(s) => s.into(),
            Err(e) => {
                tracing::error!(error = %e, "serializing a server frame");
                r#"{"type":"error","code":"internal","message":"serialization failed","request_id":null}"#
                    .into()
            }
        }
    }

    /// The REST body of a reply: the frame's fields without `type` (and without the
    /// `request_id` and `timestamp` that [`ServerMsg::frame`] adds).
    pub fn body(&self) -> AppResult<Vec<u8>> {
        let mut value = serde_json::to_value(self)?;
        if let Value::Object(fields) = &mut value {
            fields.remove("type");
        }
        Ok(serde_json::to_vec(&value)?)
    }

    /// The `error` frame for a recoverable failure.
    pub fn error(e: &AppError) -> ServerMsg {
        if e.is_internal() {
            tracing::error!(error = %e, "request failed");
        }
        ServerMsg::Error {
            code: e.code(),
            message: e.public_message(),
            fields: e.fields().cloned(),
            retry_after_ms: e
                .retry_after()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
            close: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Close;

    #[test]
    fn frames_carry_type_request_id_and_timestamp() {
        let f = ServerMsg::Pong.frame(Some(&Value::String("r1".into())));
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["type"], "pong");
        assert_eq!(v["request_id"], "r1");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn closing_error_frame_has_close_fields() {
        let f = Close::unauthenticated("expired token").last_frame.unwrap();
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "unauthenticated");
        assert_eq!(v["close_code"], 4401);
        assert_eq!(v["retry"], "reauthenticate");
        assert!(v["retry_after_ms"].is_null());
        assert_eq!(v["message"], "expired token");
        assert!(v["request_id"].is_null());
    }

    #[test]
    fn recoverable_error_has_no_close_fields() {
        let f = ServerMsg::error(&AppError::invalid("x")).frame(None);
        let v: Value = serde_json::from_str(&f).unwrap();
        assert!(v.get("close_code").is_none());
        assert!(v.get("retry_after_ms").is_none());
        assert_eq!(v["code"], "validation_failed");
        let f = ServerMsg::error(&AppError::RateLimited {
            message: "slow down".into(),
            retry_after: std::time::Duration::from_millis(1500),
        })
        .frame(None);
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["code"], "rate_limited");
        assert_eq!(v["retry_after_ms"], 1500);
        assert!(v.get("close_code").is_none());
    }
}
