//! The SQLite implementation of the storage traits and of [`Backend`]: each method delegates to
//! the statements in `db::{users, tokens, chat, tasks, notifications}`.

use super::traits::{
    AdminStore, ChatStore, EventStore, NotificationStore, SocketStore, TaskStore, TokenStore,
    UserStore,
};
use super::{Backend, Job, Mode};
use crate::db::admin::{self, UserEvent, UserEventKind};
use crate::db::chat::{Cursor, Message, Room, RoomInfo, RoomKind};
use crate::db::notifications::Notification;
use crate::db::tasks::{Task, TaskStatus};
use crate::db::tokens::{Kind, TokenRow};
use crate::db::users::User;
use crate::db::{chat, notifications, tasks, tokens, users, Db};
use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::Connection;
use serde_json::Value;

/// The SQLite implementation of [`Tx`](super::Tx) over a connection (or a [`rusqlite::Transaction`],
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

    fn search_users(&self, query: &str, limit: i64) -> AppResult<Vec<User>> {
        users::search(self.0, query, limit)
    }

    fn list_users(&self) -> AppResult<Vec<User>> {
        users::list(self.0)
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

    fn messages_after(&self, after: i64, limit: i64) -> AppResult<Vec<Message>> {
        chat::messages_after(self.0, after, limit)
    }
    fn latest_message_id(&self) -> AppResult<i64> {
        chat::latest_message_id(self.0)
    }

    fn room_members(&self, room_id: i64) -> AppResult<Vec<(User, i64)>> {
        chat::members(self.0, room_id)
    }

    fn co_member_ids(&self, user_id: i64) -> AppResult<Vec<i64>> {
        chat::co_member_ids(self.0, user_id)
    }

    fn adopt_support_room(&self, guest_id: i64, user: &User) -> AppResult<Option<i64>> {
        chat::adopt_support_room(self.0, guest_id, user)
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
    fn queued_tasks(&self, limit: i64) -> AppResult<Vec<Task>> {
        tasks::queued(self.0, limit)
    }
    fn mark_task_running(&self, id: i64, node: i64, lease_until: i64) -> AppResult<bool> {
        tasks::mark_running(self.0, id, node, lease_until)
    }
    fn renew_task_leases(&self, node: i64, lease_until: i64) -> AppResult<usize> {
        tasks::renew_leases(self.0, node, lease_until)
    }
    fn request_task_cancel(&self, id: i64) -> AppResult<bool> {
        tasks::request_cancel(self.0, id)
    }
    fn cancel_requested_tasks(&self, node: i64, limit: i64) -> AppResult<Vec<i64>> {
        tasks::cancel_requested(self.0, node, limit)
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
    fn any_expired_tasks(&self, now: i64) -> AppResult<bool> {
        tasks::any_expired(self.0, now)
    }
    fn interrupt_expired_tasks(&self, now: i64, limit: i64) -> AppResult<Vec<Task>> {
        tasks::interrupt_expired(self.0, now, limit)
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

impl AdminStore for SqliteTx<'_> {
    fn record_user_event(&self, user_id: i64, kind: UserEventKind) -> AppResult<()> {
        admin::record_event(self.0, user_id, kind)
    }

    fn user_events_after(&self, after: i64) -> AppResult<Vec<UserEvent>> {
        admin::events_after(self.0, after)
    }

    fn latest_user_event(&self) -> AppResult<i64> {
        admin::latest_event(self.0)
    }

    fn revoke_user_tokens(&self, user_id: i64) -> AppResult<usize> {
        admin::revoke_user_tokens(self.0, user_id)
    }

    fn set_password(&self, user_id: i64, hash: &str) -> AppResult<()> {
        admin::set_password(self.0, user_id, hash)
    }

    fn delete_user(&self, user_id: i64) -> AppResult<()> {
        admin::delete_user(self.0, user_id)
    }
}

impl EventStore for SqliteTx<'_> {
    fn insert_events(&self, node: i64, bodies: &[String]) -> AppResult<()> {
        crate::db::events::insert(self.0, node, bodies)
    }
    fn events_after(&self, after: i64, limit: i64) -> AppResult<Vec<crate::db::events::EventRow>> {
        crate::db::events::after(self.0, after, limit)
    }
    fn latest_event_id(&self) -> AppResult<i64> {
        crate::db::events::latest(self.0)
    }
    fn prune_events(&self, before: Timestamp) -> AppResult<usize> {
        crate::db::events::prune(self.0, before)
    }
}

impl SocketStore for SqliteTx<'_> {
    fn node_heartbeat(&self, node: i64, now_ms: i64) -> AppResult<()> {
        crate::db::sockets::heartbeat(self.0, node, now_ms)
    }
    fn admit_socket(
        &self,
        node: i64,
        conn_id: i64,
        user_id: i64,
        chat: bool,
        max: i64,
        live_since: i64,
    ) -> AppResult<bool> {
        crate::db::sockets::admit(self.0, node, conn_id, user_id, chat, max, live_since)
    }
    fn chat_sockets_elsewhere(
        &self,
        users: &[i64],
        node: i64,
        live_since: i64,
    ) -> AppResult<Vec<i64>> {
        crate::db::sockets::chat_elsewhere(self.0, users, node, live_since)
    }
    fn remove_socket(&self, node: i64, conn_id: i64) -> AppResult<()> {
        crate::db::sockets::remove(self.0, node, conn_id)
    }
    fn prune_nodes(&self, before: i64) -> AppResult<usize> {
        crate::db::sockets::prune(self.0, before)
    }
}

impl super::traits::QuotaStore for SqliteTx<'_> {
    fn quota_acquire(
        &self,
        scope: &str,
        key: &str,
        limit: i64,
        window_ms: i64,
        now_ms: i64,
    ) -> AppResult<Option<i64>> {
        crate::db::quotas::acquire(self.0, scope, key, limit, window_ms, now_ms)
    }
    fn quota_release(&self, scope: &str, key: &str, all: bool) -> AppResult<()> {
        crate::db::quotas::release(self.0, scope, key, all)
    }
}

/// The SQLite backend: a pooled connection per job, [`crate::db::write_tx`] for writes.
pub(super) struct SqliteBackend {
    pub(super) db: Db,
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

    fn probe_write(&self) -> AppResult<()> {
        self.db.probe_write()
    }

    fn check(&self) -> AppResult<bool> {
        let conn = self.db.conn()?;
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        conn.query_row("SELECT count(*) FROM users WHERE id = 0", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(v == crate::db::SCHEMA_VERSION)
    }

    fn write_status(&self) -> crate::db::health::WriteStatus {
        self.db.write_status()
    }

    fn sqlite(&self) -> Option<&Db> {
        Some(&self.db)
    }
}
