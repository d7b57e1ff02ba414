//! Chat request bodies and reply pages. Bodies hold no ids: a room or message id comes from the
//! frame's `room_id`/`message_id` over WebSocket and from the path over REST (see
//! [`super::Ids`]).

use crate::db::chat::Message;
use crate::db::users::User;
use serde::{Deserialize, Serialize};

/// A request that carries nothing but its ids (`get_room`, `join_room`, ...). Any other field
/// is ignored, as in every body.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct NoBody {}

/// `create_room`
#[derive(Debug, Clone, Deserialize)]
pub struct CreateRoom {
    /// Name.
    pub name: String,
    /// Public (default false).
    #[serde(default)]
    pub is_public: bool,
    /// Usernames to add besides the creator.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `open_direct`
#[derive(Debug, Clone, Deserialize)]
pub struct OpenDirect {
    /// The other person.
    pub username: String,
}

/// `get_public_rooms`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublicRooms {
    /// Name filter.
    #[serde(default)]
    pub query: Option<String>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `add_member` (the room is an id)
#[derive(Debug, Clone, Deserialize)]
pub struct AddMember {
    /// Who to add.
    pub username: String,
}

/// `get_messages` (the room is an id, or implied on the support endpoint)
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct GetMessages {
    /// Newest page below this id.
    #[serde(default)]
    pub before: Option<i64>,
    /// Oldest page above this id.
    #[serde(default)]
    pub after: Option<i64>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `send_message` (the room is an id, or implied on the support endpoint)
#[derive(Debug, Clone, Deserialize)]
pub struct SendMessage {
    /// Content.
    pub content: String,
    /// Idempotency key.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// `edit_message` (the message is an id)
#[derive(Debug, Clone, Deserialize)]
pub struct EditMessage {
    /// New content.
    pub content: String,
}

/// `mark_read` (the room is an id, or implied on the support endpoint)
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct MarkRead {
    /// Read up to this message (default: the newest).
    #[serde(default)]
    pub message_id: Option<i64>,
}

/// `typing` (the room is an id)
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Typing {
    /// Started or stopped.
    pub is_typing: bool,
}

/// `sync`
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Sync {
    /// Cursor: messages with a greater id (default 0: everything).
    #[serde(default)]
    pub after: i64,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
    /// REST long-poll: wait up to this many seconds for a message (at most 30). Over a
    /// WebSocket it is ignored: new messages are pushed there.
    #[serde(default)]
    pub wait: Option<u64>,
}

/// `search_users {query, limit?}`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchUsers {
    /// Part of a username or display name (trimmed, 1–100 characters).
    #[serde(default)]
    pub query: String,
    /// Page size (default 20, at most 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// One entry of `members`.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// The member.
    pub user: User,
    /// Whether they have a `/ws/chat/` socket open (see `presence`).
    pub online: bool,
    /// Their read marker in the room.
    pub last_read_message_id: i64,
}

/// `messages {room_id, messages, has_more}`
#[derive(Debug, Clone, Serialize)]
pub struct MessagePage {
    /// Room.
    pub room_id: i64,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// More exist beyond the page in the paging direction.
    pub has_more: bool,
}

/// `sync {messages, has_more}`
#[derive(Debug, Clone, Serialize)]
pub struct SyncPage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// More exist after the last one.
    pub has_more: bool,
}

/// `read_marked {room_id, last_read_message_id, unread_count}`
#[derive(Debug, Clone, Serialize)]
pub struct ReadMarked {
    /// Room.
    pub room_id: i64,
    /// The marker.
    pub last_read_message_id: i64,
    /// Unread after it.
    pub unread_count: i64,
}
