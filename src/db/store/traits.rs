//! The storage traits: every storage operation as a method, grouped by noun; [`Tx`] is all of
//! them.

use crate::db::admin::{UserEvent, UserEventKind};
use crate::db::chat::{Cursor, Message, Room, RoomInfo, RoomKind};
use crate::db::events::EventRow;
use crate::db::notifications::Notification;
use crate::db::tasks::{Task, TaskStatus};
use crate::db::tokens::{Kind, TokenRow};
use crate::db::users::User;
use crate::error::AppResult;
use crate::time::Timestamp;
use serde_json::Value;

/// Users and their credentials' hashes (table `users`).
pub trait UserStore {
    /// Inserts a user; `conflict` if the username is taken (case-insensitively).
    /// SQLite: [`users::insert`](crate::db::users::insert).
    fn insert_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        is_staff: bool,
        is_guest: bool,
    ) -> AppResult<User>;

    /// A user by id. SQLite: [`users::by_id`](crate::db::users::by_id).
    fn user_by_id(&self, id: i64) -> AppResult<Option<User>>;

    /// A user (guests included) by username (case-insensitive), with the password hash.
    /// SQLite: [`users::by_username_with_hash`](crate::db::users::by_username_with_hash).
    fn user_by_username_with_hash(
        &self,
        username: &str,
    ) -> AppResult<Option<(User, Option<String>)>>;

    /// A non-guest user by username (case-insensitive). SQLite: [`users::by_username`](crate::db::users::by_username).
    fn user_by_username(&self, username: &str) -> AppResult<Option<User>>;

    /// Sets or clears a user's staff flag. SQLite: [`users::set_staff`](crate::db::users::set_staff).
    fn set_staff(&self, id: i64, is_staff: bool) -> AppResult<()>;

    /// Registered users whose username or display name contains `query` (trimmed, non-empty),
    /// best match first. SQLite: [`users::search`](crate::db::users::search).
    fn search_users(&self, query: &str, limit: i64) -> AppResult<Vec<User>>;

    /// Every registered user, by username. SQLite: [`users::list`](crate::db::users::list).
    fn list_users(&self) -> AppResult<Vec<User>>;
}

/// Access tokens, WebSocket tickets and guest tokens, stored as hashes (table `tokens`).
pub trait TokenStore {
    /// Stores a credential's hash; returns its id. SQLite: [`tokens::insert`](crate::db::tokens::insert).
    fn insert_token(
        &self,
        user_id: i64,
        kind: Kind,
        hash: &[u8],
        parent_id: Option<i64>,
        expires_at: Option<Timestamp>,
    ) -> AppResult<i64>;

    /// Finds a credential of the given kind by hash. SQLite: [`tokens::find`](crate::db::tokens::find).
    fn find_token(&self, kind: Kind, hash: &[u8]) -> AppResult<Option<TokenRow>>;

    /// Finds a credential by id. SQLite: [`tokens::by_id`](crate::db::tokens::by_id).
    fn token_by_id(&self, id: i64) -> AppResult<Option<TokenRow>>;

    /// Revokes a credential and the unused tickets it minted. SQLite: [`tokens::revoke`](crate::db::tokens::revoke).
    fn revoke_token(&self, id: i64) -> AppResult<()>;

    /// Marks a ticket used; `false` if it already was (two handshakes raced for it).
    /// SQLite: [`tokens::mark_used`](crate::db::tokens::mark_used).
    fn mark_token_used(&self, id: i64) -> AppResult<bool>;

    /// Deletes tickets that expired more than an hour ago; returns how many.
    /// SQLite: [`tokens::purge_stale_tickets`](crate::db::tokens::purge_stale_tickets).
    fn purge_stale_tickets(&self) -> AppResult<usize>;
}

/// Rooms, members, messages, read markers and sync (tables `rooms`, `room_members`,
/// `messages`).
pub trait ChatStore {
    /// One room as `viewer` sees it (`staff_view`: as staff see a support room).
    /// SQLite: [`chat::room_view`](crate::db::chat::room_view).
    fn room_view(&self, room_id: i64, viewer: i64, staff_view: bool) -> AppResult<Option<Room>>;

    /// The viewer's rooms of the given kinds, most recent activity first.
    /// SQLite: [`chat::rooms_of`](crate::db::chat::rooms_of).
    fn rooms_of(&self, viewer: i64, kinds: &[RoomKind]) -> AppResult<Vec<Room>>;

    /// Every support room as staff see them, most recent activity first.
    /// SQLite: [`chat::support_rooms`](crate::db::chat::support_rooms).
    fn support_rooms(&self, viewer: i64) -> AppResult<Vec<Room>>;

    /// Public group rooms whose name contains `query` (case-insensitive), most active first.
    /// SQLite: [`chat::public_rooms`](crate::db::chat::public_rooms).
    fn public_rooms(&self, viewer: i64, query: &str, limit: i64) -> AppResult<Vec<Room>>;

    /// The facts about a room that authorization needs. SQLite: [`chat::room_info`](crate::db::chat::room_info).
    fn room_info(&self, room_id: i64) -> AppResult<Option<RoomInfo>>;

    /// Whether `user_id` is a member of the room. SQLite: [`chat::is_member`](crate::db::chat::is_member).
    fn is_member(&self, room_id: i64, user_id: i64) -> AppResult<bool>;

    /// The members' ids, ascending. SQLite: [`chat::member_ids`](crate::db::chat::member_ids).
    fn member_ids(&self, room_id: i64) -> AppResult<Vec<i64>>;

    /// Creates a room; returns its id. SQLite: [`chat::insert_room`](crate::db::chat::insert_room).
    fn insert_room(
        &self,
        name: &str,
        kind: RoomKind,
        is_public: bool,
        created_by: Option<i64>,
        direct_key: Option<&str>,
        support_user_id: Option<i64>,
    ) -> AppResult<i64>;

    /// The id of the direct room with this key, if any. SQLite: [`chat::direct_room`](crate::db::chat::direct_room).
    fn direct_room(&self, key: &str) -> AppResult<Option<i64>>;

    /// The id of a visitor's support room, if any. SQLite: [`chat::support_room_of`](crate::db::chat::support_room_of).
    fn support_room_of(&self, user_id: i64) -> AppResult<Option<i64>>;

    /// Adds a member, reading from the newest message on; `false` if already a member.
    /// SQLite: [`chat::add_member`](crate::db::chat::add_member).
    fn add_member(&self, room_id: i64, user_id: i64) -> AppResult<bool>;

    /// Removes a member; `false` if not a member. SQLite: [`chat::remove_member`](crate::db::chat::remove_member).
    fn remove_member(&self, room_id: i64, user_id: i64) -> AppResult<bool>;

    /// The message a sender already stored under `client_id` in a room.
    /// SQLite: [`chat::message_by_client_id`](crate::db::chat::message_by_client_id).
    fn message_by_client_id(
        &self,
        sender_id: i64,
        room_id: i64,
        client_id: &str,
    ) -> AppResult<Option<Message>>;

    /// Stores a message and bumps the room's activity. SQLite: [`chat::insert_message`](crate::db::chat::insert_message).
    fn insert_message(
        &self,
        room_id: i64,
        sender: &User,
        content: &str,
        client_id: Option<&str>,
        now: Timestamp,
    ) -> AppResult<Message>;

    /// A message by id (deleted ones too). SQLite: [`chat::message`](crate::db::chat::message).
    fn message_by_id(&self, id: i64) -> AppResult<Option<Message>>;

    /// Replaces a message's content. SQLite: [`chat::edit_message`](crate::db::chat::edit_message).
    fn edit_message(&self, id: i64, content: &str) -> AppResult<()>;

    /// Marks a message deleted and empties it. SQLite: [`chat::delete_message`](crate::db::chat::delete_message).
    fn delete_message(&self, id: i64) -> AppResult<()>;

    /// A page of a room's history, oldest first, and whether more exist in the paging
    /// direction. SQLite: [`chat::messages_page`](crate::db::chat::messages_page).
    fn messages_page(
        &self,
        room_id: i64,
        cursor: Cursor,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)>;

    /// Messages in any of the user's rooms with id above `after`, oldest first, and whether
    /// more exist. SQLite: [`chat::sync`](crate::db::chat::sync).
    fn sync_messages(
        &self,
        user_id: i64,
        after: i64,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)>;

    /// Moves a member's read marker forward (never back) to `message_id`, or to the newest
    /// message when `None`; returns the marker and the member's unread count.
    /// SQLite: [`chat::mark_read`](crate::db::chat::mark_read).
    fn mark_room_read(
        &self,
        room_id: i64,
        user_id: i64,
        message_id: Option<i64>,
    ) -> AppResult<(i64, i64)>;

    /// Every message with id above `after`, in any room, oldest first (what each node of a
    /// cluster publishes to its sockets). SQLite: [`chat::messages_after`](crate::db::chat::messages_after).
    fn messages_after(&self, after: i64, limit: i64) -> AppResult<Vec<Message>>;

    /// The newest stored message id anywhere, 0 when there is none. SQLite:
    /// [`chat::latest_message_id`](crate::db::chat::latest_message_id).
    fn latest_message_id(&self) -> AppResult<i64>;

    /// Moves the staff's shared read marker of a support room forward; returns the marker and
    /// the staff's unread count. SQLite: [`chat::staff_mark_read`](crate::db::chat::staff_mark_read).
    fn staff_mark_room_read(&self, room_id: i64, message_id: Option<i64>) -> AppResult<(i64, i64)>;

    /// A room's members with their read markers, by display name. SQLite:
    /// [`chat::members`](crate::db::chat::members).
    fn room_members(&self, room_id: i64) -> AppResult<Vec<(User, i64)>>;

    /// Everyone who shares a room with the user, and the user. SQLite:
    /// [`chat::co_member_ids`](crate::db::chat::co_member_ids).
    fn co_member_ids(&self, user_id: i64) -> AppResult<Vec<i64>>;

    /// Makes a guest's support conversation the user's own (moved, or merged into theirs);
    /// returns the user's support room. SQLite:
    /// [`chat::adopt_support_room`](crate::db::chat::adopt_support_room).
    fn adopt_support_room(&self, guest_id: i64, user: &User) -> AppResult<Option<i64>>;
}

/// Background tasks and their results (table `tasks`).
pub trait TaskStore {
    /// Stores a queued task and returns it. SQLite: [`tasks::insert`](crate::db::tasks::insert).
    fn insert_task(&self, user_id: i64, kind: &str, params: &Value, total: i64) -> AppResult<Task>;

    /// How many of a user's tasks are `queued` or `running`.
    /// SQLite: [`tasks::count_active`](crate::db::tasks::count_active).
    fn count_active_tasks(&self, user_id: i64) -> AppResult<i64>;

    /// A task by id. SQLite: [`tasks::by_id`](crate::db::tasks::by_id).
    fn task_by_id(&self, id: i64) -> AppResult<Option<Task>>;

    /// A user's tasks, newest first, optionally of one status. SQLite: [`tasks::of_user`](crate::db::tasks::of_user).
    fn tasks_of_user(
        &self,
        user_id: i64,
        status: Option<TaskStatus>,
        limit: i64,
    ) -> AppResult<Vec<Task>>;

    /// A user's queued and running tasks, oldest first. SQLite: [`tasks::active_of_user`](crate::db::tasks::active_of_user).
    fn active_tasks_of_user(&self, user_id: i64) -> AppResult<Vec<Task>>;

    /// The oldest `limit` queued tasks, oldest first. SQLite: [`tasks::queued`](crate::db::tasks::queued).
    fn queued_tasks(&self, limit: i64) -> AppResult<Vec<Task>>;

    /// Moves a queued task to running on `node` with its lease until `lease_until` (ms);
    /// `false` if it was no longer queued (cancelled, or claimed by another node).
    /// SQLite: [`tasks::mark_running`](crate::db::tasks::mark_running).
    fn mark_task_running(&self, id: i64, node: i64, lease_until: i64) -> AppResult<bool>;

    /// Extends the leases of the tasks running on `node` to `lease_until` (ms); how many.
    /// SQLite: [`tasks::renew_leases`](crate::db::tasks::renew_leases).
    fn renew_task_leases(&self, node: i64, lease_until: i64) -> AppResult<usize>;

    /// Asks the node running a task to stop it; `false` if it is not running.
    /// SQLite: [`tasks::request_cancel`](crate::db::tasks::request_cancel).
    fn request_task_cancel(&self, id: i64) -> AppResult<bool>;

    /// The ids of tasks running on `node` whose cancel was requested (at most `limit`).
    /// SQLite: [`tasks::cancel_requested`](crate::db::tasks::cancel_requested).
    fn cancel_requested_tasks(&self, node: i64, limit: i64) -> AppResult<Vec<i64>>;

    /// Records a task's progress. SQLite: [`tasks::set_progress`](crate::db::tasks::set_progress).
    fn set_task_progress(
        &self,
        id: i64,
        progress: i64,
        processed: i64,
        total: i64,
    ) -> AppResult<()>;

    /// Ends a task with its status, (partial) result, summary or error.
    /// SQLite: [`tasks::finish`](crate::db::tasks::finish).
    #[allow(clippy::too_many_arguments)]
    fn finish_task(
        &self,
        id: i64,
        status: TaskStatus,
        progress: i64,
        processed: i64,
        result: Option<&Value>,
        summary: Option<&Value>,
        error: Option<&str>,
    ) -> AppResult<()>;

    /// Cancels a task that is still queued; `false` if it is not.
    /// SQLite: [`tasks::cancel_queued`](crate::db::tasks::cancel_queued).
    fn cancel_queued_task(&self, id: i64) -> AppResult<bool>;

    /// Whether a running task's lease ended before `now` (ms) or it has none (a read).
    /// SQLite: [`tasks::any_expired`](crate::db::tasks::any_expired).
    fn any_expired_tasks(&self, now: i64) -> AppResult<bool>;

    /// Running tasks whose lease ended before `now` (ms) or that have none (their node is
    /// gone) become `interrupted` (progress kept), at most `limit`; returns them as they were.
    /// SQLite: [`tasks::interrupt_expired`](crate::db::tasks::interrupt_expired).
    fn interrupt_expired_tasks(&self, now: i64, limit: i64) -> AppResult<Vec<Task>>;

    /// A task's stored full result. SQLite: [`tasks::result`](crate::db::tasks::result).
    fn task_result(&self, id: i64) -> AppResult<Option<Value>>;
}

/// Notifications (table `notifications`).
pub trait NotificationStore {
    /// Stores a notification and returns it. SQLite: [`notifications::insert`](crate::db::notifications::insert).
    fn insert_notification(
        &self,
        user_id: i64,
        kind: &str,
        title: &str,
        body: &str,
        data: &Value,
    ) -> AppResult<Notification>;

    /// A user's notifications, newest first. SQLite: [`notifications::of_user`](crate::db::notifications::of_user).
    fn notifications_of_user(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
    ) -> AppResult<Vec<Notification>>;

    /// Marks one of the user's notifications read; `None` if it is not theirs.
    /// SQLite: [`notifications::mark_read`](crate::db::notifications::mark_read).
    fn mark_notification_read(&self, user_id: i64, id: i64) -> AppResult<Option<Notification>>;

    /// Marks all of the user's notifications read; returns how many changed.
    /// SQLite: [`notifications::mark_all_read`](crate::db::notifications::mark_all_read).
    fn mark_all_notifications_read(&self, user_id: i64) -> AppResult<usize>;
}

/// What the command line changes about users, and the log running servers read.
pub trait AdminStore {
    /// Records a change to a user. SQLite: [`admin::record_event`](crate::db::admin::record_event).
    fn record_user_event(&self, user_id: i64, kind: UserEventKind) -> AppResult<()>;

    /// Changes after `after`, oldest first. SQLite:
    /// [`admin::events_after`](crate::db::admin::events_after).
    fn user_events_after(&self, after: i64) -> AppResult<Vec<UserEvent>>;

    /// The newest change's id. SQLite: [`admin::latest_event`](crate::db::admin::latest_event).
    fn latest_user_event(&self) -> AppResult<i64>;

    /// Revokes every live token of a user. SQLite:
    /// [`admin::revoke_user_tokens`](crate::db::admin::revoke_user_tokens).
    fn revoke_user_tokens(&self, user_id: i64) -> AppResult<usize>;

    /// Sets a password hash. SQLite: [`admin::set_password`](crate::db::admin::set_password).
    fn set_password(&self, user_id: i64, hash: &str) -> AppResult<()>;

    /// Deletes a user. SQLite: [`admin::delete_user`](crate::db::admin::delete_user).
    fn delete_user(&self, user_id: i64) -> AppResult<()>;
}

/// The cluster's event log (table `events`), written and read by nodes started with `--bus`.
pub trait EventStore {
    /// Appends events published by `node`, in order. SQLite: [`events::insert`](crate::db::events::insert).
    fn insert_events(&self, node: i64, bodies: &[String]) -> AppResult<()>;

    /// Events with id above `after`, oldest first. SQLite: [`events::after`](crate::db::events::after).
    fn events_after(&self, after: i64, limit: i64) -> AppResult<Vec<EventRow>>;

    /// The newest event's id. SQLite: [`events::latest`](crate::db::events::latest).
    fn latest_event_id(&self) -> AppResult<i64>;

    /// Deletes events stored before `before`. SQLite: [`events::prune`](crate::db::events::prune).
    fn prune_events(&self, before: Timestamp) -> AppResult<usize>;
}

/// The sockets each node of a cluster has open, and the nodes' heartbeats (tables `sockets`,
/// `nodes`): the per-user socket cap across nodes.
pub trait SocketStore {
    /// Records `node`'s heartbeat. SQLite: [`sockets::heartbeat`](crate::db::sockets::heartbeat).
    fn node_heartbeat(&self, node: i64, now_ms: i64) -> AppResult<()>;

    /// Records a socket of `user_id` on `node` unless the user has `max` on nodes seen since
    /// `live_since`; returns whether it was recorded. SQLite: [`sockets::admit`](crate::db::sockets::admit).
    #[allow(clippy::too_many_arguments)]
    fn admit_socket(
        &self,
        node: i64,
        conn_id: i64,
        user_id: i64,
        chat: bool,
        max: i64,
        live_since: i64,
    ) -> AppResult<bool>;

    /// Which of `users` have a `/ws/chat/` socket on a live node other than `node` (presence).
    /// SQLite: [`sockets::chat_elsewhere`](crate::db::sockets::chat_elsewhere).
    fn chat_sockets_elsewhere(
        &self,
        users: &[i64],
        node: i64,
        live_since: i64,
    ) -> AppResult<Vec<i64>>;

    /// Forgets a socket. SQLite: [`sockets::remove`](crate::db::sockets::remove).
    fn remove_socket(&self, node: i64, conn_id: i64) -> AppResult<()>;

    /// Forgets nodes not seen since `before`, with their sockets. SQLite: [`sockets::prune`](crate::db::sockets::prune).
    fn prune_nodes(&self, before: i64) -> AppResult<usize>;
}

/// Everything the storage can do, as one object: what [`Store::read`](super::Store::read) and [`Store::write`](super::Store::write) hand
/// to their closure. Implemented for every type that implements the eight traits.
pub trait Tx:
    UserStore
    + TokenStore
    + ChatStore
    + TaskStore
    + NotificationStore
    + AdminStore
    + EventStore
    + SocketStore
    + QuotaStore
{
}

impl<T> Tx for T where
    T: UserStore
        + TokenStore
        + ChatStore
        + TaskStore
        + NotificationStore
        + AdminStore
        + EventStore
        + SocketStore
        + QuotaStore
        + ?Sized
{
}

/// Window quotas (table `quotas`): a count per `(scope, key)` in a fixed window that starts with
/// the key's first attempt, shared by every process on the database (see [`crate::quota`]).
pub trait QuotaStore {
    /// Counts an attempt if it is allowed at `now_ms`: `None` when counted, `Some(ms)` when
    /// refused (`ms` until the key's window ends). Atomic only inside a write transaction.
    /// SQLite: [`quotas::acquire`](crate::db::quotas::acquire).
    fn quota_acquire(
        &self,
        scope: &str,
        key: &str,
        limit: i64,
        window_ms: i64,
        now_ms: i64,
    ) -> AppResult<Option<i64>>;

    /// Gives back one counted attempt (`all`: every one); a key left with none is forgotten.
    /// SQLite: [`quotas::release`](crate::db::quotas::release).
    fn quota_release(&self, scope: &str, key: &str, all: bool) -> AppResult<()>;
}
