//! The PostgreSQL implementation of the storage traits and of [`Backend`]: each method
//! delegates to the statements in `db::pg::{users, tokens, chat, tasks, notifications, admin}`.

use super::traits::{
    AdminStore, ChatStore, EventStore, NotificationStore, SocketStore, TaskStore, TokenStore,
    UserStore,
};
use super::{Backend, Job, Mode};
use crate::db::admin::{UserEvent, UserEventKind};
use crate::db::chat::{Cursor, Message, Room, RoomInfo, RoomKind};
use crate::db::health::WriteStatus;
use crate::db::notifications::Notification;
use crate::db::pg::{self, PgDb, PgTransaction};
use crate::db::tasks::{Task, TaskStatus};
use crate::db::tokens::{Kind, TokenRow};
use crate::db::users::User;
use crate::error::AppResult;
use crate::time::Timestamp;
use serde_json::Value;
use std::cell::{RefCell, RefMut};

/// The PostgreSQL implementation of [`Tx`](super::Tx): one transaction, borrowed mutably by
/// each statement in turn.
pub struct PgTx<'a>(RefCell<PgTransaction<'a>>);

impl<'a> PgTx<'a> {
    fn c(&self) -> RefMut<'_, PgTransaction<'a>> {
        self.0.borrow_mut()
    }
}

impl UserStore for PgTx<'_> {
    fn insert_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        is_staff: bool,
        is_guest: bool,
    ) -> AppResult<User> {
        pg::users::insert(
            &mut self.c(),
            username,
            display_name,
            password_hash,
            is_staff,
            is_guest,
        )
    }
    fn user_by_id(&self, id: i64) -> AppResult<Option<User>> {
        pg::users::by_id(&mut self.c(), id)
    }
    fn user_by_username_with_hash(
        &self,
        username: &str,
    ) -> AppResult<Option<(User, Option<String>)>> {
        pg::users::by_username_with_hash(&mut self.c(), username)
    }
    fn user_by_username(&self, username: &str) -> AppResult<Option<User>> {
        pg::users::by_username(&mut self.c(), username)
    }
    fn set_staff(&self, id: i64, is_staff: bool) -> AppResult<()> {
        pg::users::set_staff(&mut self.c(), id, is_staff)
    }

    fn search_users(&self, query: &str, limit: i64) -> AppResult<Vec<User>> {
        pg::users::search(&mut self.c(), query, limit)
    }

    fn list_users(&self) -> AppResult<Vec<User>> {
        pg::users::list(&mut self.c())
    }
}

impl TokenStore for PgTx<'_> {
    fn insert_token(
        &self,
        user_id: i64,
        kind: Kind,
        hash: &[u8],
        parent_id: Option<i64>,
        expires_at: Option<Timestamp>,
    ) -> AppResult<i64> {
        pg::tokens::insert(&mut self.c(), user_id, kind, hash, parent_id, expires_at)
    }
    fn find_token(&self, kind: Kind, hash: &[u8]) -> AppResult<Option<TokenRow>> {
        pg::tokens::find(&mut self.c(), kind, hash)
    }
    fn token_by_id(&self, id: i64) -> AppResult<Option<TokenRow>> {
        pg::tokens::by_id(&mut self.c(), id)
    }
    fn revoke_token(&self, id: i64) -> AppResult<()> {
        pg::tokens::revoke(&mut self.c(), id)
    }
    fn mark_token_used(&self, id: i64) -> AppResult<bool> {
        pg::tokens::mark_used(&mut self.c(), id)
    }
    fn purge_stale_tickets(&self) -> AppResult<usize> {
        pg::tokens::purge_stale_tickets(&mut self.c())
    }
}

impl ChatStore for PgTx<'_> {
    fn room_view(&self, room_id: i64, viewer: i64, staff_view: bool) -> AppResult<Option<Room>> {
        pg::chat::room_view(&mut self.c(), room_id, viewer, staff_view)
    }
    fn rooms_of(&self, viewer: i64, kinds: &[RoomKind]) -> AppResult<Vec<Room>> {
        pg::chat::rooms_of(&mut self.c(), viewer, kinds)
    }
    fn support_rooms(&self, viewer: i64) -> AppResult<Vec<Room>> {
        pg::chat::support_rooms(&mut self.c(), viewer)
    }
    fn public_rooms(&self, viewer: i64, query: &str, limit: i64) -> AppResult<Vec<Room>> {
        pg::chat::public_rooms(&mut self.c(), viewer, query, limit)
    }
    fn room_info(&self, room_id: i64) -> AppResult<Option<RoomInfo>> {
        pg::chat::room_info(&mut self.c(), room_id)
    }
    fn is_member(&self, room_id: i64, user_id: i64) -> AppResult<bool> {
        pg::chat::is_member(&mut self.c(), room_id, user_id)
    }
    fn member_ids(&self, room_id: i64) -> AppResult<Vec<i64>> {
        pg::chat::member_ids(&mut self.c(), room_id)
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
        pg::chat::insert_room(
            &mut self.c(),
            name,
            kind,
            is_public,
            created_by,
            direct_key,
            support_user_id,
        )
    }
    fn direct_room(&self, key: &str) -> AppResult<Option<i64>> {
        pg::chat::direct_room(&mut self.c(), key)
    }
    fn support_room_of(&self, user_id: i64) -> AppResult<Option<i64>> {
        pg::chat::support_room_of(&mut self.c(), user_id)
    }
    fn add_member(&self, room_id: i64, user_id: i64) -> AppResult<bool> {
        pg::chat::add_member(&mut self.c(), room_id, user_id)
    }
    fn remove_member(&self, room_id: i64, user_id: i64) -> AppResult<bool> {
        pg::chat::remove_member(&mut self.c(), room_id, user_id)
    }
    fn message_by_client_id(
        &self,
        sender_id: i64,
        room_id: i64,
        client_id: &str,
    ) -> AppResult<Option<Message>> {
        pg::chat::message_by_client_id(&mut self.c(), sender_id, room_id, client_id)
    }
    fn insert_message(
        &self,
        room_id: i64,
        sender: &User,
        content: &str,
        client_id: Option<&str>,
        now: Timestamp,
    ) -> AppResult<Message> {
        pg::chat::insert_message(&mut self.c(), room_id, sender, content, client_id, now)
    }
    fn message_by_id(&self, id: i64) -> AppResult<Option<Message>> {
        pg::chat::message(&mut self.c(), id)
    }
    fn edit_message(&self, id: i64, content: &str) -> AppResult<()> {
        pg::chat::edit_message(&mut self.c(), id, content)
    }
    fn delete_message(&self, id: i64) -> AppResult<()> {
        pg::chat::delete_message(&mut self.c(), id)
    }
    fn messages_page(
        &self,
        room_id: i64,
        cursor: Cursor,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)> {
        pg::chat::messages_page(&mut self.c(), room_id, cursor, limit)
    }
    fn sync_messages(
        &self,
        user_id: i64,
        after: i64,
        limit: i64,
    ) -> AppResult<(Vec<Message>, bool)> {
        pg::chat::sync(&mut self.c(), user_id, after, limit)
    }
    fn mark_room_read(
        &self,
        room_id: i64,
        user_id: i64,
        message_id: Option<i64>,
    ) -> AppResult<(i64, i64)> {
        pg::chat::mark_read(&mut self.c(), room_id, user_id, message_id)
    }
    fn staff_mark_room_read(&self, room_id: i64, message_id: Option<i64>) -> AppResult<(i64, i64)> {
        pg::chat::staff_mark_read(&mut self.c(), room_id, message_id)
    }

    fn messages_after(&self, after: i64, limit: i64) -> AppResult<Vec<Message>> {
        pg::chat::messages_after(&mut self.c(), after, limit)
    }
    fn latest_message_id(&self) -> AppResult<i64> {
        pg::chat::latest_message_id(&mut self.c())
    }

    fn room_members(&self, room_id: i64) -> AppResult<Vec<(User, i64)>> {
        pg::chat::members(&mut self.c(), room_id)
    }

    fn co_member_ids(&self, user_id: i64) -> AppResult<Vec<i64>> {
        pg::chat::co_member_ids(&mut self.c(), user_id)
    }

    fn adopt_support_room(&self, guest_id: i64, user: &User) -> AppResult<Option<i64>> {
        pg::chat::adopt_support_room(&mut self.c(), guest_id, user)
    }
}

impl TaskStore for PgTx<'_> {
    fn insert_task(&self, user_id: i64, kind: &str, params: &Value, total: i64) -> AppResult<Task> {
        pg::tasks::insert(&mut self.c(), user_id, kind, params, total)
    }
    fn count_active_tasks(&self, user_id: i64) -> AppResult<i64> {
        pg::tasks::count_active(&mut self.c(), user_id)
    }
    fn task_by_id(&self, id: i64) -> AppResult<Option<Task>> {
        pg::tasks::by_id(&mut self.c(), id)
    }
    fn tasks_of_user(
        &self,
        user_id: i64,
        status: Option<TaskStatus>,
        limit: i64,
    ) -> AppResult<Vec<Task>> {
        pg::tasks::of_user(&mut self.c(), user_id, status, limit)
    }
    fn active_tasks_of_user(&self, user_id: i64) -> AppResult<Vec<Task>> {
        pg::tasks::active_of_user(&mut self.c(), user_id)
    }
    fn queued_tasks(&self, limit: i64) -> AppResult<Vec<Task>> {
        pg::tasks::queued(&mut self.c(), limit)
    }
    fn mark_task_running(&self, id: i64, node: i64, lease_until: i64) -> AppResult<bool> {
        pg::tasks::mark_running(&mut self.c(), id, node, lease_until)
    }
    fn renew_task_leases(&self, node: i64, lease_until: i64) -> AppResult<usize> {
        pg::tasks::renew_leases(&mut self.c(), node, lease_until)
    }
    fn request_task_cancel(&self, id: i64) -> AppResult<bool> {
        pg::tasks::request_cancel(&mut self.c(), id)
    }
    fn cancel_requested_tasks(&self, node: i64, limit: i64) -> AppResult<Vec<i64>> {
        pg::tasks::cancel_requested(&mut self.c(), node, limit)
    }
    fn set_task_progress(
        &self,
        id: i64,
        progress: i64,
        processed: i64,
        total: i64,
    ) -> AppResult<()> {
        pg::tasks::set_progress(&mut self.c(), id, progress, processed, total)
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
        pg::tasks::finish(
            &mut self.c(),
            id,
            status,
            progress,
            processed,
            result,
            summary,
            error,
        )
    }
    fn cancel_queued_task(&self, id: i64) -> AppResult<bool> {
        pg::tasks::cancel_queued(&mut self.c(), id)
    }
    fn any_expired_tasks(&self, now: i64) -> AppResult<bool> {
        pg::tasks::any_expired(&mut self.c(), now)
    }
    fn interrupt_expired_tasks(&self, now: i64, limit: i64) -> AppResult<Vec<Task>> {
        pg::tasks::interrupt_expired(&mut self.c(), now, limit)
    }
    fn task_result(&self, id: i64) -> AppResult<Option<Value>> {
        pg::tasks::result(&mut self.c(), id)
    }
}

impl NotificationStore for PgTx<'_> {
    fn insert_notification(
        &self,
        user_id: i64,
        kind: &str,
        title: &str,
        body: &str,
        data: &Value,
    ) -> AppResult<Notification> {
        pg::notifications::insert(&mut self.c(), user_id, kind, title, body, data)
    }
    fn notifications_of_user(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
    ) -> AppResult<Vec<Notification>> {
        pg::notifications::of_user(&mut self.c(), user_id, unread_only, limit)
    }
    fn mark_notification_read(&self, user_id: i64, id: i64) -> AppResult<Option<Notification>> {
        pg::notifications::mark_read(&mut self.c(), user_id, id)
    }
    fn mark_all_notifications_read(&self, user_id: i64) -> AppResult<usize> {
        pg::notifications::mark_all_read(&mut self.c(), user_id)
    }
}

impl AdminStore for PgTx<'_> {
    fn record_user_event(&self, user_id: i64, kind: UserEventKind) -> AppResult<()> {
        pg::admin::record_event(&mut self.c(), user_id, kind)
    }

    fn user_events_after(&self, after: i64) -> AppResult<Vec<UserEvent>> {
        pg::admin::events_after(&mut self.c(), after)
    }

    fn latest_user_event(&self) -> AppResult<i64> {
        pg::admin::latest_event(&mut self.c())
    }

    fn revoke_user_tokens(&self, user_id: i64) -> AppResult<usize> {
        pg::admin::revoke_user_tokens(&mut self.c(), user_id)
    }

    fn set_password(&self, user_id: i64, hash: &str) -> AppResult<()> {
        pg::admin::set_password(&mut self.c(), user_id, hash)
    }

    fn delete_user(&self, user_id: i64) -> AppResult<()> {
        pg::admin::delete_user(&mut self.c(), user_id)
    }
}

impl EventStore for PgTx<'_> {
    fn insert_events(&self, node: i64, bodies: &[String]) -> AppResult<()> {
        pg::events::insert(&mut self.c(), node, bodies)
    }
    fn events_after(&self, after: i64, limit: i64) -> AppResult<Vec<crate::db::events::EventRow>> {
        pg::events::after(&mut self.c(), after, limit)
    }
    fn latest_event_id(&self) -> AppResult<i64> {
        pg::events::latest(&mut self.c())
    }
    fn prune_events(&self, before: Timestamp) -> AppResult<usize> {
        pg::events::prune(&mut self.c(), before)
    }
}

impl SocketStore for PgTx<'_> {
    fn node_heartbeat(&self, node: i64, now_ms: i64) -> AppResult<()> {
        pg::sockets::heartbeat(&mut self.c(), node, now_ms)
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
        pg::sockets::admit(&mut self.c(), node, conn_id, user_id, chat, max, live_since)
    }
    fn chat_sockets_elsewhere(
        &self,
        users: &[i64],
        node: i64,
        live_since: i64,
    ) -> AppResult<Vec<i64>> {
        pg::sockets::chat_elsewhere(&mut self.c(), users, node, live_since)
    }
    fn remove_socket(&self, node: i64, conn_id: i64) -> AppResult<()> {
        pg::sockets::remove(&mut self.c(), node, conn_id)
    }
    fn prune_nodes(&self, before: i64) -> AppResult<usize> {
        pg::sockets::prune(&mut self.c(), before)
    }
}

impl super::traits::QuotaStore for PgTx<'_> {
    fn quota_acquire(
        &self,
        scope: &str,
        key: &str,
        limit: i64,
        window_ms: i64,
        now_ms: i64,
    ) -> AppResult<Option<i64>> {
        pg::quotas::acquire(&mut self.c(), scope, key, limit, window_ms, now_ms)
    }
    fn quota_release(&self, scope: &str, key: &str, all: bool) -> AppResult<()> {
        pg::quotas::release(&mut self.c(), scope, key, all)
    }
}

/// The PostgreSQL backend: a pooled connection per job, every job in a transaction (read
/// committed), committed when it returns `Ok`.
pub(super) struct PgBackend {
    pub(super) db: PgDb,
}

impl PgBackend {
    fn run_inner(&self, mode: Mode, job: Job<'_>) -> AppResult<()> {
        let mut conn = self.db.conn()?;
        let tx = conn.transaction()?;
        let tx = PgTx(RefCell::new(tx));
        // On `Err` (or a panic) the transaction is dropped, which rolls it back.
        job(&tx)?;
        let mut tx = tx.0.into_inner();
        // PostgreSQL answers COMMIT of a transaction aborted by a failed statement with a
        // silent rollback (and the client reports success): a job that went on after a failed
        // statement must fail here instead of being acknowledged as stored.
        tx.execute("SELECT 1", &[])?;
        tx.commit()?;
        if mode == Mode::Write {
            self.db.write_ok();
        }
        Ok(())
    }
}

impl Backend for PgBackend {
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
        self.db.check()
    }

    fn write_status(&self) -> WriteStatus {
        self.db.write_status()
    }
}
