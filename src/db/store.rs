//! The storage interface the services use: every storage operation as a method of one of the
//! object-safe traits below, all reachable through [`Tx`], and [`Store`], the handle that runs a
//! closure over a `&dyn Tx` (as a plain read, or inside a write transaction).
//!
//! Design: the generic, closure-taking methods ([`Store::read`], [`Store::write`] and their
//! `_blocking` forms) live on the concrete [`Store`]; the backend behind it is an
//! `Arc<dyn` [`Backend`]`>` with a single object-safe method, [`Backend::run`], which gets the
//! closure type-erased as a [`Job`] (the closure's `Ok` value travels back through a slot the
//! job captures). A transaction therefore costs one `Box` and one dynamic call on top of the
//! work itself. The SQLite backend wraps [`Db`] and delegates every method to the existing free
//! functions in `db::{users, tokens, chat, tasks, notifications}` through [`SqliteTx`]. A second
//! backend (PostgreSQL with a synchronous client, say) implements [`Backend`] and the five
//! traits for its own transaction type; neither [`Store`]'s API nor the services change.
//!
//! Work always runs on a blocking thread: the async methods move it to tokio's blocking pool,
//! the `_blocking` ones run it on the calling thread (dedicated threads, the command line).

use crate::db::chat::{Cursor, Message, Room, RoomInfo, RoomKind};
use crate::db::notifications::Notification;
use crate::db::tasks::{Task, TaskStatus};
use crate::db::tokens::{Kind, TokenRow};
use crate::db::users::User;
use crate::db::{chat, notifications, tasks, tokens, users, Db, OpenError};
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use rusqlite::Connection;
use serde_json::Value;
use std::sync::Arc;

/// Users and their credentials' hashes (table `users`).
pub trait UserStore {
    /// Inserts a user; `conflict` if the username is taken (case-insensitively).
    /// SQLite: [`users::insert`].
    fn insert_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        is_staff: bool,
        is_guest: bool,
    ) -> AppResult<User>;

    /// A user by id. SQLite: [`users::by_id`].
    fn user_by_id(&self, id: i64) -> AppResult<Option<User>>;

    /// A user (guests included) by username (case-insensitive), with the password hash.
    /// SQLite: [`users::by_username_with_hash`].
    fn user_by_username_with_hash(
        &self,
        username: &str,
    ) -> AppResult<Option<(User, Option<String>)>>;

    /// A non-guest user by username (case-insensitive). SQLite: [`users::by_username`].
    fn user_by_username(&self, username: &str) -> AppResult<Option<User>>;

    /// Sets or clears a user's staff flag. SQLite: [`users::set_staff`].
    fn set_staff(&self, id: i64, is_staff: bool) -> AppResult<()>;
}

/// Access tokens, WebSocket tickets and guest tokens, stored as hashes (table `tokens`).
pub trait TokenStore {
    /// Stores a credential's hash; returns its id. SQLite: [`tokens::insert`].
    fn insert_token(
        &self,
        user_id: i64,
        kind: Kind,
        hash: &[u8],
        parent_id: Option<i64>,
        expires_at: Option<Timestamp>,
    ) -> AppResult<i64>;

    /// Finds a credential of the given kind by hash. SQLite: [`tokens::find`].
    fn find_token(&self, kind: Kind, hash: &[u8]) -> AppResult<Option<TokenRow>>;

    /// Finds a credential by id. SQLite: [`tokens::by_id`].
    fn token_by_id(&self, id: i64) -> AppResult<Option<TokenRow>>;

    /// Revokes a credential and the unused tickets it minted. SQLite: [`tokens::revoke`].
    fn revoke_token(&self, id: i64) -> AppResult<()>;

    /// Marks a ticket used; `false` if it already was (two handshakes raced for it).
    /// SQLite: [`tokens::mark_used`].
    fn mark_token_used(&self, id: i64) -> AppResult<bool>;

    /// Deletes tickets that expired more than an hour ago; returns how many.
    /// SQLite: [`tokens::purge_stale_tickets`].
    fn purge_stale_tickets(&self) -> AppResult<usize>;
}

/// Rooms, members, messages, read markers and sync (tables `rooms`, `room_members`,
/// `messages`).
pub trait ChatStore {
    /// One room as `viewer` sees it (`staff_view`: as staff see a support room).
    /// SQLite: [`chat::room_view`].
    fn room_view(&self, room_id: i64, viewer: i64, staff_view: bool) -> AppResult<Option<Room>>;

    /// The viewer's rooms of the given kinds, most recent activity first.
    /// SQLite: [`chat::rooms_of`].
    fn rooms_of(&self, viewer: i64, kinds: &[RoomKind]) -> AppResult<Vec<Room>>;

    /// Every support room as staff see them, most recent activity first.
    /// SQLite: [`chat::support_rooms`].
    fn support_rooms(&self, viewer: i64) -> AppResult<Vec<Room>>;

    /// Public group rooms whose name contains `query` (case-insensitive), most active first.
    /// SQLite: [`chat::public_rooms`].
    fn public_rooms(&self, viewer: i64, query: &str, limit: i64) -> AppResult<Vec<Room>>;

    /// The facts about a room that authorization needs. SQLite: [`chat::room_info`].
    fn room_info(&self, room_id: i64) -> AppResult<Option<RoomInfo>>;

    /// Whether `user_id` is a member of the room. SQLite: [`chat::is_member`].
    fn is_member(&self, room_id: i64, user_id: i64) -> AppResult<bool>;

    /// The members' ids, ascending. SQLite: [`chat::member_ids`].
    fn member_ids(&self, room_id: i64) -> AppResult<Vec<i64>>;

    /// Creates a room; returns its id. SQLite: [`chat::insert_room`].
    fn insert_room(
        &self,
        name: &str,
        kind: RoomKind,
        is_public: bool,
        created_by: Option<i64>,
        direct_key: Option<&str>,
        support_user_id: Option<i64>,
    ) -> AppResult<i64>;

    /// The id of the direct room with this key, if any. SQLite: [`chat::direct_room`].
    fn direct_room(&self, key: &str) -> AppResult<Option<i64>>;

    /// The id of a visitor's support room, if any. SQLite: [`chat::support_room_of`].
    fn support_room_of(&self, user_id: i64) -> AppResult<Option<i64>>;

    /// Adds a member, reading from the newest message on; `false` if already a member.
    /// SQLite: [`chat::add_member`].
    fn add_member(&self, room_id: i64, user_id: i64) -> AppResult<bool>;

    /// Removes a member; `false` if not a member. SQLite: [`chat::remove_member`].
    fn remove_member(&self, room_id: i64, user_id: i64) -> AppResult<bool>;

    /// The message a sender already stored under `client_id` in a room.
    /// SQLite: [`chat::message_by_client_id`].
    fn message_by_client_id(
        &self,
        sender_id: i64,
        room_id: i64,
        client_id: &str,
    ) -> AppResult<Option<Message>>;

    /// Stores a message and bumps the room's activity. SQLite: [`chat::insert_message`].
    fn insert_message(
        &self,
        room_id: i64,
        sender: &User,
        content: &str,
        client_id: Option<&str>,
        now: Timestamp,
    ) -> AppResult<Message>;

    /// A message by id (deleted ones too). SQLite: [`chat::message`].
    fn message_by_id(&self, id: i64) -> AppResult<Option<Message>>;

    /// Replaces a message's content. SQLite: [`chat::edit_message`].
    fn edit_message(&self, id: i64, content: &str) -> AppResult<()>;

    /// Marks a message deleted and empties it. SQLite: [`chat::delete_message`].
    fn delete_message(&self, id: i64) -> AppResult<()>;

    /// A page of a room's history, oldest first, and whether more exist in the paging
    /// direction. SQLite: [`chat::messages_page`].
    fn messages_page(
        &self,
        room_id: i64,
        cursor: Cursor,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)>;

    /// Messages in any of the user's rooms with id above `after`, oldest first, and whether
    /// more exist. SQLite: [`chat::sync`].
    fn sync_messages(
        &self,
        user_id: i64,
        after: i64,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)>;

    /// Moves a member's read marker forward (never back) to `message_id`, or to the newest
    /// message when `None`; returns the marker and the member's unread count.
    /// SQLite: [`chat::mark_read`].
    fn mark_room_read(
        &self,
        room_id: i64,
        user_id: i64,
        message_id: Option<i64>,
    ) -> AppResult<(i64, i64)>;

    /// The newest stored message id anywhere, 0 when there is none. SQLite:
    /// [`chat::latest_message_id`].
    fn latest_message_id(&self) -> AppResult<i64>;

    /// Moves the staff's shared read marker of a support room forward; returns the marker and
    /// the staff's unread count. SQLite: [`chat::staff_mark_read`].
    fn staff_mark_room_read(&self, room_id: i64, message_id: Option<i64>) -> AppResult<(i64, i64)>;
}

/// Background tasks and their results (table `tasks`).
pub trait TaskStore {
    /// Stores a queued task and returns it. SQLite: [`tasks::insert`].
    fn insert_task(&self, user_id: i64, kind: &str, params: &Value, total: i64) -> AppResult<Task>;

    /// How many of a user's tasks are `queued` or `running`.
    /// SQLite: [`tasks::count_active`].
    fn count_active_tasks(&self, user_id: i64) -> AppResult<i64>;

    /// A task by id. SQLite: [`tasks::by_id`].
    fn task_by_id(&self, id: i64) -> AppResult<Option<Task>>;

    /// A user's tasks, newest first, optionally of one status. SQLite: [`tasks::of_user`].
    fn tasks_of_user(
        &self,
        user_id: i64,
        status: Option<TaskStatus>,
        limit: i64,
    ) -> AppResult<Vec<Task>>;

    /// A user's queued and running tasks, oldest first. SQLite: [`tasks::active_of_user`].
    fn active_tasks_of_user(&self, user_id: i64) -> AppResult<Vec<Task>>;

    /// Every queued task, oldest first. SQLite: [`tasks::queued`].
    fn queued_tasks(&self) -> AppResult<Vec<Task>>;

    /// Moves a queued task to running; `false` if it was no longer queued.
    /// SQLite: [`tasks::mark_running`].
    fn mark_task_running(&self, id: i64) -> AppResult<bool>;

    /// Records a task's progress. SQLite: [`tasks::set_progress`].
    fn set_task_progress(
        &self,
        id: i64,
        progress: i64,
        processed: i64,
        total: i64,
    ) -> AppResult<()>;

    /// Ends a task with its status, (partial) result, summary or error.
    /// SQLite: [`tasks::finish`].
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
    /// SQLite: [`tasks::cancel_queued`].
    fn cancel_queued_task(&self, id: i64) -> AppResult<bool>;

    /// At start: tasks left running by a previous process become `interrupted` (progress
    /// kept); returns them. SQLite: [`tasks::interrupt_running`].
    fn interrupt_running_tasks(&self) -> AppResult<Vec<Task>>;

    /// A task's stored full result. SQLite: [`tasks::result`].
    fn task_result(&self, id: i64) -> AppResult<Option<Value>>;
}

/// Notifications (table `notifications`).
pub trait NotificationStore {
    /// Stores a notification and returns it. SQLite: [`notifications::insert`].
    fn insert_notification(
        &self,
        user_id: i64,
        kind: &str,
        title: &str,
        body: &str,
        data: &Value,
    ) -> AppResult<Notification>;

    /// A user's notifications, newest first. SQLite: [`notifications::of_user`].
    fn notifications_of_user(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
    ) -> AppResult<Vec<Notification>>;

    /// Marks one of the user's notifications read; `None` if it is not theirs.
    /// SQLite: [`notifications::mark_read`].
    fn mark_notification_read(&self, user_id: i64, id: i64) -> AppResult<Option<Notification>>;

    /// Marks all of the user's notifications read; returns how many changed.
    /// SQLite: [`notifications::mark_all_read`].
    fn mark_all_notifications_read(&self, user_id: i64) -> AppResult<usize>;
}

/// Everything the storage can do, as one object: what [`Store::read`] and [`Store::write`] hand
/// to their closure. Implemented for every type that implements the five traits.
pub trait Tx: UserStore + TokenStore + ChatStore + TaskStore + NotificationStore {}

impl<T: UserStore + TokenStore + ChatStore + TaskStore + NotificationStore + ?Sized> Tx for T {}

/// The SQLite implementation of [`Tx`] over a connection (or a [`rusqlite::Transaction`],
/// which dereferences to one): every method delegates to the free function of the same
/// meaning.
#[derive(Clone, Copy)]
pub struct SqliteTx<'a>(pub &'a Connection);

impl UserStore for SqliteTx<'_> {
    fn insert_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        is_staff: bool,
        is_guest: bool,
    ) -> AppResult<User> {
        users::insert(
            self.0,
            username,
            display_name,
            password_hash,
            is_staff,
            is_guest,
        )
    }
    fn user_by_id(&self, id: i64) -> AppResult<Option<User>> {
        users::by_id(self.0, id)
    }
    fn user_by_username_with_hash(
        &self,
        username: &str,
    ) -> AppResult<Option<(User, Option<String>)>> {
        users::by_username_with_hash(self.0, username)
    }
    fn user_by_username(&self, username: &str) -> AppResult<Option<User>> {
        users::by_username(self.0, username)
    }
    fn set_staff(&self, id: i64, is_staff: bool) -> AppResult<()> {
        users::set_staff(self.0, id, is_staff)
    }
}

impl TokenStore for SqliteTx<'_> {
    fn insert_token(
        &self,
        user_id: i64,
        kind: Kind,
        hash: &[u8],
        parent_id: Option<i64>,
        expires_at: Option<Timestamp>,
    ) -> AppResult<i64> {
        tokens::insert(self.0, user_id, kind, hash, parent_id, expires_at)
    }
    fn find_token(&self, kind: Kind, hash: &[u8]) -> AppResult<Option<TokenRow>> {
        tokens::find(self.0, kind, hash)
    }
    fn token_by_id(&self, id: i64) -> AppResult<Option<TokenRow>> {
        tokens::by_id(self.0, id)
    }
    fn revoke_token(&self, id: i64) -> AppResult<()> {
        tokens::revoke(self.0, id)
    }
    fn mark_token_used(&self, id: i64) -> AppResult<bool> {
        tokens::mark_used(self.0, id)
    }
    fn purge_stale_tickets(&self) -> AppResult<usize> {
        tokens::purge_stale_tickets(self.0)
    }
}

impl ChatStore for SqliteTx<'_> {
    fn room_view(&self, room_id: i64, viewer: i64, staff_view: bool) -> AppResult<Option<Room>> {
        chat::room_view(self.0, room_id, viewer, staff_view)
    }
    fn rooms_of(&self, viewer: i64, kinds: &[RoomKind]) -> AppResult<Vec<Room>> {
        chat::rooms_of(self.0, viewer, kinds)
    }
    fn support_rooms(&self, viewer: i64) -> AppResult<Vec<Room>> {
        chat::support_rooms(self.0, viewer)
    }
    fn public_rooms(&self, viewer: i64, query: &str, limit: i64) -> AppResult<Vec<Room>> {
        chat::public_rooms(self.0, viewer, query, limit)
    }
    fn room_info(&self, room_id: i64) -> AppResult<Option<RoomInfo>> {
        chat::room_info(self.0, room_id)
    }
    fn is_member(&self, room_id: i64, user_id: i64) -> AppResult<bool> {
        chat::is_member(self.0, room_id, user_id)
    }
    fn member_ids(&self, room_id: i64) -> AppResult<Vec<i64>> {
        chat::member_ids(self.0, room_id)
    }
    fn insert_room(
        &self,
        name: &str,
        kind: RoomKind,
        is_public: bool,
        created_by: Option<i64>,
        direct_key: Option<&str>,
        support_user_id: Option<i64>,
    ) -> AppResult<i64> {
        chat::insert_room(
            self.0,
            name,
            kind,
            is_public,
            created_by,
            direct_key,
            support_user_id,
        )
    }
    fn direct_room(&self, key: &str) -> AppResult<Option<i64>> {
        chat::direct_room(self.0, key)
    }
    fn support_room_of(&self, user_id: i64) -> AppResult<Option<i64>> {
        chat::support_room_of(self.0, user_id)
    }
    fn add_member(&self, room_id: i64, user_id: i64) -> AppResult<bool> {
        chat::add_member(self.0, room_id, user_id)
    }
    fn remove_member(&self, room_id: i64, user_id: i64) -> AppResult<bool> {
        chat::remove_member(self.0, room_id, user_id)
    }
    fn message_by_client_id(
        &self,
        sender_id: i64,
        room_id: i64,
        client_id: &str,
    ) -> AppResult<Option<Message>> {
        chat::message_by_client_id(self.0, sender_id, room_id, client_id)
    }
    fn insert_message(
        &self,
        room_id: i64,
        sender: &User,
        content: &str,
        client_id: Option<&str>,
        now: Timestamp,
    ) -> AppResult<Message> {
        chat::insert_message(self.0, room_id, sender, content, client_id, now)
    }
    fn message_by_id(&self, id: i64) -> AppResult<Option<Message>> {
        chat::message(self.0, id)
    }
    fn edit_message(&self, id: i64, content: &str) -> AppResult<()> {
        chat::edit_message(self.0, id, content)
    }
    fn delete_message(&self, id: i64) -> AppResult<()> {
        chat::delete_message(self.0, id)
    }
    fn messages_page(
        &self,
        room_id: i64,
        cursor: Cursor,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)> {
        chat::messages_page(self.0, room_id, cursor, limit)
    }
    fn sync_messages(
        &self,
        user_id: i64,
        after: i64,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)> {
        chat::sync(self.0, user_id, after, limit)
    }
    fn mark_room_read(
        &self,
        room_id: i64,
        user_id: i64,
        message_id: Option<i64>,
    ) -> AppResult<(i64, i64)> {
        chat::mark_read(self.0, room_id, user_id, message_id)
    }
    fn staff_mark_room_read(&self, room_id: i64, message_id: Option<i64>) -> AppResult<(i64, i64)> {
        chat::staff_mark_read(self.0, room_id, message_id)
    }

    fn latest_message_id(&self) -> AppResult<i64> {
        chat::latest_message_id(self.0)
    }
}

impl TaskStore for SqliteTx<'_> {
    fn insert_task(&self, user_id: i64, kind: &str, params: &Value, total: i64) -> AppResult<Task> {
        tasks::insert(self.0, user_id, kind, params, total)
    }
    fn count_active_tasks(&self, user_id: i64) -> AppResult<i64> {
        tasks::count_active(self.0, user_id)
    }
    fn task_by_id(&self, id: i64) -> AppResult<Option<Task>> {
        tasks::by_id(self.0, id)
    }
    fn tasks_of_user(
        &self,
        user_id: i64,
        status: Option<TaskStatus>,
        limit: i64,
    ) -> AppResult<Vec<Task>> {
        tasks::of_user(self.0, user_id, status, limit)
    }
    fn active_tasks_of_user(&self, user_id: i64) -> AppResult<Vec<Task>> {
        tasks::active_of_user(self.0, user_id)
    }
    fn queued_tasks(&self) -> AppResult<Vec<Task>> {
        tasks::queued(self.0)
    }
    fn mark_task_running(&self, id: i64) -> AppResult<bool> {
        tasks::mark_running(self.0, id)
    }
    fn set_task_progress(
        &self,
        id: i64,
        progress: i64,
        processed: i64,
        total: i64,
    ) -> AppResult<()> {
        tasks::set_progress(self.0, id, progress, processed, total)
    }
    fn finish_task(
        &self,
        id: i64,
        status: TaskStatus,
        progress: i64,
        processed: i64,
        result: Option<&Value>,
        summary: Option<&Value>,
        error: Option<&str>,
    ) -> AppResult<()> {
        tasks::finish(
            self.0, id, status, progress, processed, result, summary, error,
        )
    }
    fn cancel_queued_task(&self, id: i64) -> AppResult<bool> {
        tasks::cancel_queued(self.0, id)
    }
    fn interrupt_running_tasks(&self) -> AppResult<Vec<Task>> {
        tasks::interrupt_running(self.0)
    }
    fn task_result(&self, id: i64) -> AppResult<Option<Value>> {
        tasks::result(self.0, id)
    }
}

impl NotificationStore for SqliteTx<'_> {
    fn insert_notification(
        &self,
        user_id: i64,
        kind: &str,
        title: &str,
        body: &str,
        data: &Value,
    ) -> AppResult<Notification> {
        notifications::insert(self.0, user_id, kind, title, body, data)
    }
    fn notifications_of_user(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
    ) -> AppResult<Vec<Notification>> {
        notifications::of_user(self.0, user_id, unread_only, limit)
    }
    fn mark_notification_read(&self, user_id: i64, id: i64) -> AppResult<Option<Notification>> {
        notifications::mark_read(self.0, user_id, id)
    }
    fn mark_all_notifications_read(&self, user_id: i64) -> AppResult<usize> {
        notifications::mark_all_read(self.0, user_id)
    }
}

/// How a [`Job`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Without a transaction: each statement sees what is committed when it runs. For reads.
    Read,
    /// Inside a write transaction (SQLite: `BEGIN IMMEDIATE`), committed when the job returns
    /// `Ok`, rolled back when it returns `Err` (or panics).
    Write,
}

/// A unit of work, type-erased for [`Backend::run`]: it is called once with the backend's
/// [`Tx`]; its value, if any, is passed back through a slot it captured.
pub type Job<'a> = Box<dyn FnOnce(&dyn Tx) -> AppResult<()> + 'a>;

/// A storage backend: the object-safe part behind [`Store`].
pub trait Backend: Send + Sync {
    /// Runs `job` on the calling thread (a blocking one) with a connection of its own, in the
    /// given [`Mode`], and returns the job's error or the backend's own (no connection, commit
    /// failed). Keeps the backend's health record: counts failures and, after a commit,
    /// success.
    fn run(&self, mode: Mode, job: Job<'_>) -> AppResult<()>;

    /// The SQLite database behind this backend, if it is one (see [`Store::db`]).
    fn sqlite(&self) -> Option<&Db> {
        None
    }
}

/// The SQLite backend: a pooled connection per job, [`crate::db::write_tx`] for writes.
struct SqliteBackend {
    db: Db,
}

impl SqliteBackend {
    fn run_inner(&self, mode: Mode, job: Job<'_>) -> AppResult<()> {
        let mut conn = self.db.conn()?;
        match mode {
            Mode::Read => job(&SqliteTx(&conn)),
            Mode::Write => {
                let tx = crate::db::write_tx(&mut conn)?;
                // On `Err` (or a panic) the transaction is dropped, which rolls it back.
                job(&SqliteTx(&tx))?;
                tx.commit()?;
                self.db.write_ok();
                Ok(())
            }
        }
    }
}

impl Backend for SqliteBackend {
    fn run(&self, mode: Mode, job: Job<'_>) -> AppResult<()> {
        let result = self.run_inner(mode, job);
        if let Err(e) = &result {
            self.db.note_error(e);
        }
        result
    }

    fn sqlite(&self) -> Option<&Db> {
        Some(&self.db)
    }
}

/// Runs `f` through `backend`, passing its value back through a slot.
fn run_job<T>(
    backend: &dyn Backend,
    mode: Mode,
    f: impl FnOnce(&dyn Tx) -> AppResult<T>,
) -> AppResult<T> {
    let mut slot = None;
    backend.run(
        mode,
        Box::new(|tx| {
            slot = Some(f(tx)?);
            Ok(())
        }),
    )?;
    slot.ok_or_else(|| AppError::Internal("storage backend did not run the job".into()))
}

/// The storage handle the services hold. Cloning is cheap (one reference count) and shares
/// the backend (for SQLite: the connection pool).
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl From<Db> for Store {
    fn from(db: Db) -> Self {
        Store {
            backend: Arc::new(SqliteBackend { db }),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` (`:memory:` for a fresh
    /// in-memory one), as [`Db::open`] does.
    pub fn open(path: &str) -> Result<Store, OpenError> {
        Db::open(path).map(Store::from)
    }

    /// The SQLite database, for what stays SQLite-specific (backup, the health probe).
    ///
    /// # Panics
    ///
    /// If the backend is not SQLite; today every `Store` is made from a [`Db`].
    pub fn db(&self) -> &Db {
        self.backend
            .sqlite()
            .expect("Store::db on a backend that is not SQLite")
    }

    /// Runs `f` on tokio's blocking pool with a connection of its own, without a transaction
    /// (see [`Mode::Read`]): for reads. Failures that say the database is unavailable count
    /// against the health check. If the returned future is dropped, `f` still runs.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Tx) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        self.spawn(Mode::Read, f).await
    }

    /// Runs `f` on tokio's blocking pool inside a write transaction (see [`Mode::Write`]):
    /// committed when `f` returns `Ok`, rolled back when it returns `Err`. A commit counts as a
    /// working write for the health check, a failure that says the database is unavailable
    /// against it. If the returned future is dropped, `f` still runs and commits.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Tx) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        self.spawn(Mode::Write, f).await
    }

    /// [`Store::read`] on the calling thread, which must be allowed to block (a dedicated
    /// thread, the command line; not an async worker).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&dyn Tx) -> AppResult<T>) -> AppResult<T> {
        run_job(&*self.backend, Mode::Read, f)
    }

    /// [`Store::write`] on the calling thread, which must be allowed to block (the message
    /// writer's and the task runner's threads, the command line; not an async worker).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&dyn Tx) -> AppResult<T>) -> AppResult<T> {
        run_job(&*self.backend, Mode::Write, f)
    }

    async fn spawn<T: Send + 'static>(
        &self,
        mode: Mode,
        f: impl FnOnce(&dyn Tx) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || run_job(&*backend, mode, f))
            .await
            .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room_with_message(tx: &dyn Tx) -> AppResult<(User, i64, Message)> {
        let user = tx.insert_user("alice", "Alice", None, false, false)?;
        let room = tx.insert_room("general", RoomKind::Group, true, Some(user.id), None, None)?;
        tx.add_member(room, user.id)?;
        let m = tx.insert_message(room, &user, "hello", Some("c1"), Timestamp::now())?;
        Ok((user, room, m))
    }

    #[tokio::test]
    async fn write_then_read_back() {
        let store = Store::open(":memory:").unwrap();
        let (user, room, m) = store.write(room_with_message).await.unwrap();
        let (u, info, members, page, again) = store
            .read(move |tx| {
                Ok((
                    tx.user_by_id(user.id)?,
                    tx.room_info(room)?,
                    tx.member_ids(room)?,
                    tx.messages_page(room, Cursor::Latest, 10)?,
                    tx.message_by_client_id(user.id, room, "c1")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(u.unwrap().username, "alice");
        assert_eq!(info.unwrap().kind, RoomKind::Group);
        assert_eq!(members, vec![user.id]);
        let (messages, more) = page;
        assert!(!more);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].id, m.id);
        assert_eq!(messages[0].content, "hello");
        assert_eq!(again.unwrap().id, m.id);
        assert_eq!(
            store.db().write_status(),
            crate::db::health::WriteStatus::Ok
        );
    }

    #[tokio::test]
    async fn failed_write_rolls_back() {
        let store = Store::open(":memory:").unwrap();
        let err = store
            .write(|tx| {
                room_with_message(tx)?;
                Err::<(), _>(AppError::Conflict("changed my mind".into()))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Conflict(_)));
        let (user, room, message) = store
            .read(|tx| {
                Ok((
                    tx.user_by_username("alice")?,
                    tx.room_info(1)?,
                    tx.message_by_id(1)?,
                ))
            })
            .await
            .unwrap();
        assert!(user.is_none() && room.is_none() && message.is_none());
        // The same user can be created afterwards: nothing of the failed write is left.
        store
            .write(|tx| tx.insert_user("alice", "Alice", None, false, false))
            .await
            .unwrap();
    }

    #[test]
    fn blocking_forms_work_on_a_plain_thread() {
        let store = Store::open(":memory:").unwrap();
        let s = store.clone();
        let (user, room, _) = std::thread::spawn(move || s.write_blocking(room_with_message))
            .join()
            .unwrap()
            .unwrap();
        let rooms = store
            .read_blocking(|tx| tx.rooms_of(user.id, &[RoomKind::Group]))
            .unwrap();
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms[0].id, room);
        assert_eq!(rooms[0].last_message.as_ref().unwrap().content, "hello");
        // A closure that borrows from the caller's stack is fine on this path.
        let name = String::from("alice");
        let found = store
            .read_blocking(|tx| tx.user_by_username(&name))
            .unwrap();
        assert_eq!(found.unwrap().id, user.id);
    }

    #[test]
    fn tx_is_usable_as_a_trait_object_over_a_plain_connection() {
        let store = Store::open(":memory:").unwrap();
        let conn = store.db().conn().unwrap();
        let tx: &dyn Tx = &SqliteTx(&conn);
        let u = tx
            .insert_user("bob", "Bob", Some("h"), true, false)
            .unwrap();
        let (found, hash) = tx.user_by_username_with_hash("BOB").unwrap().unwrap();
        assert_eq!(found.id, u.id);
        assert_eq!(hash.as_deref(), Some("h"));
    }
}
