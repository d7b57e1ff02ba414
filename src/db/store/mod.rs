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

mod postgres;
mod sqlite;
mod traits;

pub use postgres::PgTx;
pub use sqlite::SqliteTx;
pub use traits::QuotaStore;
pub use traits::{
    AdminStore, ChatStore, EventStore, NotificationStore, SocketStore, TaskStore, TokenStore, Tx,
    UserStore,
};

use crate::db::health::WriteStatus;
use crate::db::pg::{self, PgDb};
use crate::db::{Db, OpenError};
use crate::error::{AppError, AppResult};
use postgres::PgBackend;
use sqlite::SqliteBackend;
use std::sync::Arc;
use std::time::Duration;

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

    /// Proves the database takes a write now; the outcome feeds [`Backend::write_status`].
    /// Blocking.
    fn probe_write(&self) -> AppResult<()>;

    /// Whether a connection answers with the schema this binary knows. Blocking.
    fn check(&self) -> AppResult<bool>;

    /// The outcome of the latest write (a commit, a failure, a probe).
    fn write_status(&self) -> WriteStatus;

    /// The SQLite database behind this backend, if it is one (see [`Store::db`]).
    fn sqlite(&self) -> Option<&Db> {
        None
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

impl From<PgDb> for Store {
    fn from(db: PgDb) -> Self {
        Store {
            backend: Arc::new(PgBackend { db }),
        }
    }
}

impl Store {
    /// Opens the database `path` names: a PostgreSQL URL (`postgres://...`, see
    /// [`PgDb::open`]) or a SQLite file, created if needed (`:memory:` for a fresh in-memory
    /// one, see [`Db::open`]). Applies the schema. Blocking.
    pub fn open(path: &str) -> Result<Store, OpenError> {
        if pg::is_url(path) {
            PgDb::open(path).map(Store::from)
        } else {
            Db::open(path).map(Store::from)
        }
    }

    /// The SQLite database, for what is SQLite-specific (`hearth backup`, tests), or `None` on
    /// PostgreSQL.
    pub fn sqlite(&self) -> Option<&Db> {
        self.backend.sqlite()
    }

    /// `true` when, within a second, a connection answers with the schema this binary knows
    /// and the latest write (or write probe) succeeded: what `/api/health` reports as `db`.
    pub async fn healthy(&self) -> bool {
        let backend = self.backend.clone();
        let check = tokio::task::spawn_blocking(move || backend.check());
        matches!(
            tokio::time::timeout(Duration::from_secs(1), check).await,
            Ok(Ok(Ok(true)))
        ) && self.backend.write_status() == WriteStatus::Ok
    }

    /// Proves the database takes a write now (see [`Backend::probe_write`]). Blocking.
    pub fn probe_write_blocking(&self) -> AppResult<()> {
        self.backend.probe_write()
    }

    /// The outcome of the latest write.
    pub fn write_status(&self) -> WriteStatus {
        self.backend.write_status()
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
    use crate::db::chat::{Cursor, Message, RoomKind};
    use crate::db::users::User;
    use crate::time::Timestamp;

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
        assert_eq!(store.write_status(), crate::db::health::WriteStatus::Ok);
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
        let conn = store.sqlite().unwrap().conn().unwrap();
        let tx: &dyn Tx = &SqliteTx(&conn);
        let u = tx
            .insert_user("bob", "Bob", Some("h"), true, false)
            .unwrap();
        let (found, hash) = tx.user_by_username_with_hash("BOB").unwrap().unwrap();
        assert_eq!(found.id, u.id);
        assert_eq!(hash.as_deref(), Some("h"));
    }
}
