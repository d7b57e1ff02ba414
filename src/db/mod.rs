//! SQLite storage: the connection pool, the schema, and every SQL statement (in the submodules).
//!
//! Nothing here runs on an async worker thread: async callers go through [`Db::call`], which
//! moves the work to tokio's blocking pool.

pub mod chat;
pub mod notifications;
pub mod tasks;
pub mod tokens;
pub mod users;

use crate::error::{AppError, AppResult};
use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The schema, applied idempotently at every start.
pub const SCHEMA: &str = include_str!("../../schema.sql");
/// The version recorded in `PRAGMA user_version` once [`SCHEMA`] is applied. Raise it and add a
/// step to [`migrate`] when a change cannot be expressed with `IF NOT EXISTS`.
pub const SCHEMA_VERSION: i64 = 1;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled SQLite database. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<SqliteConnectionManager>,
    /// For in-memory databases: one connection held open for the life of the `Db`, since a
    /// `memdb` database disappears with its last connection.
    _anchor: Option<Arc<Mutex<Connection>>>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies the schema. `:memory:`
    /// opens a fresh in-memory database that every pooled connection shares.
    pub fn open(path: &str) -> AppResult<Db> {
        let (manager, anchor, pool_size) = if path == ":memory:" {
            // A plain ":memory:" would give each pooled connection its own empty database, and
            // shared-cache memory databases lock per table (SQLITE_LOCKED, busy_timeout ignored).
            // The memdb VFS with a name starting with '/' is shared by name within the process
            // and uses normal locking.
            let name = format!(
                "file:/hearth-{}-{}?vfs=memdb",
                std::process::id(),
                crate::auth::token::random_token()
            );
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let anchor = Connection::open_with_flags(&name, flags)?;
            let manager = SqliteConnectionManager::file(&name)
                .with_flags(flags)
                .with_init(init_connection);
            (manager, Some(Arc::new(Mutex::new(anchor))), 4)
        } else {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            drop(conn);
            let manager = SqliteConnectionManager::file(path).with_init(init_connection);
            (manager, None, 4)
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(BUSY_TIMEOUT * 2)
            .build(manager)?;
        let db = Db {
            pool,
            _anchor: anchor,
        };
        let mut conn = db.conn()?;
        migrate(&mut conn)?;
        Ok(db)
    }

    /// A pooled connection, for blocking contexts (the command line, dedicated threads).
    pub fn conn(&self) -> AppResult<PooledConnection<SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn call<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> AppResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?
    }

    /// `true` when, within a second, a connection answers and the schema is the one this
    /// binary knows.
    pub async fn healthy(&self) -> bool {
        let check = self.call(|c| {
            let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
            c.query_row("SELECT count(*) FROM users WHERE id = 0", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(v)
        });
        matches!(
            tokio::time::timeout(Duration::from_secs(1), check).await,
            Ok(Ok(SCHEMA_VERSION))
        )
    }
}

fn init_connection(c: &mut Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    // FULL: an acknowledged message survives power loss, not only a crash; group commit
    // amortizes the extra fsync.
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Applies the schema and records its version. Safe to run on every start.
fn migrate(conn: &mut Connection) -> AppResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(AppError::Internal(format!(
            "database schema version {version} is newer than this binary's {SCHEMA_VERSION}"
        )));
    }
    // Steps for versions that `IF NOT EXISTS` cannot express go here, keyed on `version`.
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Starts an `IMMEDIATE` write transaction (a deferred one that reads then writes can fail with
/// `SQLITE_BUSY` under WAL regardless of `busy_timeout`).
pub fn write_tx(conn: &mut Connection) -> AppResult<rusqlite::Transaction<'_>> {
    Ok(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_database_is_shared_across_pooled_connections() {
        let db = Db::open(":memory:").unwrap();
        let a = db.conn().unwrap();
        let b = db.conn().unwrap();
        a.execute("CREATE TABLE t (x INTEGER)", []).unwrap();
        a.execute("INSERT INTO t VALUES (7)", []).unwrap();
        let x: i64 = b.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }

    #[test]
    fn two_memory_databases_are_separate() {
        let one = Db::open(":memory:").unwrap();
        let two = Db::open(":memory:").unwrap();
        one.conn()
            .unwrap()
            .execute("CREATE TABLE only_here (x)", [])
            .unwrap();
        let n: i64 = two
            .conn()
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'only_here'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn schema_applies_twice_and_records_version() {
        let dir = std::env::temp_dir().join(format!("hearth-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("schema.db");
        let _ = std::fs::remove_file(&path);
        let p = path.to_str().unwrap();
        drop(Db::open(p).unwrap());
        let db = Db::open(p).unwrap();
        let v: i64 = db
            .conn()
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = db
            .conn()
            .unwrap()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
