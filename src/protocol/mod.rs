//! The typed WebSocket protocol: client frames are one serde enum tagged by `type`
//! ([`ClientMsg`]), server frames another ([`ServerMsg`]). Every server frame is wrapped with
//! `request_id` and `timestamp` by [`ServerMsg::frame`], the only place frames are serialized.
//! Every request body and reply type lives here, below the services that use them.

pub mod args;
pub mod chat;
pub mod close;
pub mod rest;
pub mod tasks;

pub use args::{Args, Ids};
pub use close::Close;

use crate::db::chat::{Message, Room};
use crate::db::notifications::Notification;
use crate::db::tasks::Task;
use crate::db::users::{User, UserRef};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Every frame a client may send (each endpoint accepts a subset; `ops` declares which).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Liveness check; answered with `pong`.
    Ping,
    /// Swap the socket's credential in-band.
    Reauthenticate {
        /// A new bearer token…
        token: Option<String>,
        /// …or a fresh ticket.
        ticket: Option<String>,
    },
    /// `get_room_list`
    GetRoomList(Args<chat::NoBody>),
    /// `get_room {room_id}`
    GetRoom(Args<chat::NoBody>),
    /// `create_room {name, is_public?, members?}`
    CreateRoom(Args<chat::CreateRoom>),
    /// `open_direct {username}`
    OpenDirect(Args<chat::OpenDirect>),
    /// `get_public_rooms {query?, limit?}`
    GetPublicRooms(Args<chat::PublicRooms>),
    /// `join_room {room_id}`
    JoinRoom(Args<chat::NoBody>),
    /// `leave_room {room_id}`
    LeaveRoom(Args<chat::NoBody>),
    /// `add_member {room_id, username}`
    AddMember(Args<chat::AddMember>),
    /// `get_messages {room_id, before?, after?, limit?}`
    GetMessages(Args<chat::GetMessages>),
    /// `send_message {room_id, content, client_id?}`
    SendMessage(Args<chat::SendMessage>),
    /// `edit_message {message_id, content}`
    EditMessage(Args<chat::EditMessage>),
    /// `delete_message {message_id}`
    DeleteMessage(Args<chat::NoBody>),
    /// `mark_read {room_id, message_id?}`
    MarkRead(Args<chat::MarkRead>),
    /// `typing {room_id, is_typing}`
    Typing(Args<chat::Typing>),
    /// `sync {after, limit?}`
    Sync(Args<chat::Sync>),
    /// `start_task {kind, params}`
    StartTask(Args<tasks::StartTask>),
    /// `get_tasks {status?, limit?}`
    GetTasks(Args<tasks::GetTasks>),
    /// `get_task {task_id}`
    GetTask(Args<chat::NoBody>),
    /// `cancel_task {task_id}`
    CancelTask(Args<chat::NoBody>),
    /// Anything else: answered with `unknown_type`.
    #[serde(other)]
    Unknown,
}

/// A parsed client frame with its `request_id`.
#[derive(Debug)]
pub struct Request {
    /// Echoed in the reply (a string of up to 64 characters, or a number).
    pub request_id: Option<Value>,
    /// The `type` as sent (for `unknown_type` messages).
    pub kind: String,
    /// The typed frame.
    pub msg: ClientMsg,
}

/// A `request_id` as sent (a string of up to 64 characters, or an integer that fits 64 bits);
/// `None` if it is not acceptable. A number that would not be echoed exactly as sent (a
/// fraction, an exponent, an integer beyond 64 bits, which JSON parsers hold as a float) is
/// refused rather than echoed altered.
fn valid_request_id(v: Option<&Value>) -> Option<Option<Value>> {
    match v {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.chars().count() <= 64 => Some(Some(Value::String(s.clone()))),
        Some(Value::Number(n)) if !n.is_f64() => Some(Some(Value::Number(n.clone()))),
        Some(_) => None,
    }
}

/// Only the `request_id` of a frame: serde skips every other field (as `IgnoredAny`) without
/// building it.
#[derive(Deserialize)]
struct RequestIdOnly {
    #[serde(default)]
    request_id: Option<Value>,
}

/// The `request_id` of a frame that is refused without being handled (flood control), so that
/// the `error` still answers the request it refuses. Reads nothing else of the frame into memory.
pub fn request_id_of(text: &str) -> Option<Value> {
    // serde would also read a struct from an array; only an object has a `request_id`.
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let only: RequestIdOnly = serde_json::from_str(text).ok()?;
    valid_request_id(only.request_id.as_ref()).flatten()
}

/// Parses a text frame. On failure returns the error and whatever `request_id` could be read,
/// so the error frame can still echo it.
pub fn parse_request(text: &str) -> Result<Request, (AppError, Option<Value>)> {
    let value: Value = serde_json::from_str(text).map_err(|e| (AppError::from(e), None))?;
    let Value::Object(obj) = &value else {
        return Err((AppError::invalid("a frame must be a JSON object"), None));
    };
    let Some(request_id) = valid_request_id(obj.get("request_id")) else {
        return Err((
            AppError::field(
                "request_id",
                "must be a string of up to 64 characters or a whole number of at most 64 bits",
            ),
            None,
        ));
    };
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err((
                AppError::field("type", "is required and must be a string"),
                request_id,
            ))
        }
    };
    match serde_json::from_value::<ClientMsg>(value) {
        Ok(msg) => Ok(Request {
            request_id,
            kind,
            msg,
        }),
        Err(e) => Err((AppError::from(e), request_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn parse_errors() {
        assert_eq!(parse_request("{").unwrap_err().0.code(), "invalid_json");
        assert_eq!(
            parse_request("[1]").unwrap_err().0.code(),
            "validation_failed"
        );
        let (e, rid) = parse_request(r#"{"request_id":"a"}"#).unwrap_err();
        assert_eq!(e.code(), "validation_failed");
        assert_eq!(rid, Some(Value::String("a".into())));
        let r = parse_request(r#"{"type":"nope","request_id":7}"#).unwrap();
        assert!(matches!(r.msg, ClientMsg::Unknown));
        assert_eq!(r.kind, "nope");
        let long = format!(r#"{{"type":"ping","request_id":"{}"}}"#, "x".repeat(65));
        assert!(parse_request(&long).is_err());
        assert_eq!(request_id_of(&long), None);
        assert_eq!(
            request_id_of(r#"{"type":"ping","request_id":"q"}"#),
            Some(Value::String("q".into()))
        );
        assert_eq!(request_id_of("{"), None);
        assert_eq!(
            request_id_of(
                r#"{"type":"send_message","content":{"deep":[1,2,{"x":null}]},"request_id":9}"#
            ),
            Some(serde_json::json!(9))
        );
        assert_eq!(request_id_of(r#"{"type":"ping","request_id":null}"#), None);
        assert_eq!(request_id_of(r#"{"type":"ping","request_id":[1]}"#), None);
        assert_eq!(request_id_of(r#"[1]"#), None);
        // Integers beyond 2^53 are echoed exactly; numbers that would come back altered are
        // refused.
        for big in [
            "9007199254740993",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let frame = format!(r#"{{"type":"ping","request_id":{big}}}"#);
            let rid = request_id_of(&frame).expect("accepted");
            let echoed = ServerMsg::Pong.frame(Some(&rid));
            assert!(
                echoed.contains(&format!(r#""request_id":{big}"#)),
                "{echoed}"
            );
            assert_eq!(parse_request(&frame).unwrap().request_id, Some(rid));
        }
        for odd in [
            "18446744073709551616",
            "1e3",
            "1.5",
            "123456789012345678901234567890",
        ] {
            let frame = format!(r#"{{"type":"ping","request_id":{odd}}}"#);
            assert_eq!(request_id_of(&frame), None, "{odd}");
            let (e, rid) = parse_request(&frame).unwrap_err();
            assert_eq!((e.code(), rid), ("validation_failed", None), "{odd}");
        }
    }

    /// Fractional and exponent `request_id`s are refused: serde_json's default float parser is
    /// off by one ulp on some inputs (found by tests/props.rs), so they could not be echoed as
    /// the number the client sent.
    #[test]
    fn float_request_ids_are_refused_not_echoed_altered() {
        for text in [
            "2.2413944632928823e-109",
            "0.1",
            "1.7976931348623157e308",
            "5e-324",
        ] {
            let frame = format!(r#"{{"type":"ping","request_id":{text}}}"#);
            let (e, rid) = parse_request(&frame).unwrap_err();
            assert_eq!((e.code(), rid), ("validation_failed", None), "{text}");
            assert_eq!(request_id_of(&frame), None, "{text}");
        }
    }
}
