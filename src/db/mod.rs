//! Storage. This module and its statement submodules are SQLite (the connection pool, the
//! schema, every SQL statement); [`pg`] is the same for PostgreSQL; [`store`] is the interface
//! the services use, over either.
//!
//! Nothing here runs on an async worker thread: async callers go through [`Db::call`], which
//! moves the work to tokio's blocking pool.

pub mod admin;
pub mod backup;
pub mod chat;
pub mod events;
pub mod health;
pub mod notifications;
pub mod pg;
pub mod quotas;
pub mod sockets;
pub mod store;
pub mod tasks;
pub mod tokens;
pub mod users;

use crate::error::{cause_chain, AppError, AppResult};
use health::{WriteHealth, WriteStatus};
use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The schema, applied idempotently at every start.
pub const SCHEMA: &str = include_str!("../../schema.sql");
/// The version recorded in `PRAGMA user_version` once [`SCHEMA`] is applied. Raise it and add a
/// step to `migrate` when a change cannot be expressed with `IF NOT EXISTS`.
pub const SCHEMA_VERSION: i64 = 1;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes the write probe puts on the database's file system (and removes again): a disk with
/// less room than this cannot be trusted to take the next commit.
const PROBE_BYTES: usize = 64 * 1024;

/// Why a database could not be opened: the path and the reason, for the start-up message.
#[derive(Debug, thiserror::Error)]
#[error("database {path}: {reason}")]
pub struct OpenError {
    /// The path as given.
    pub path: String,
    /// What went wrong, with its cause chain.
    pub reason: String,
}

impl From<OpenError> for AppError {
    fn from(e: OpenError) -> Self {
        AppError::StorageUnavailable(e.to_string())
    }
}

/// A pooled SQLite database. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<SqliteConnectionManager>,
    /// For in-memory databases: one connection held open for the life of the `Db`, since a
    /// `memdb` database disappears with its last connection.
    _anchor: Option<Arc<Mutex<Connection>>>,
    /// The outcome of the latest write, for the health check.
    health: Arc<WriteHealth>,
    /// The database file (none in memory): the write probe checks its file system.
    file: Option<PathBuf>,
}

/// Refuses, with a clear reason, the paths SQLite would fail on with a vague one.
fn check_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if p.is_dir() {
        return Err("is a directory, not a database file".into());
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!("directory {} does not exist", parent.display()));
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies the schema. `:memory:`
    /// opens a fresh in-memory database that every pooled connection shares. Errors name the
    /// path and the reason (missing directory, not a database, newer schema, locked, ...).
    pub fn open(path: &str) -> Result<Db, OpenError> {
        let fail = |reason: String| OpenError {
            path: path.to_string(),
            reason,
        };
        if path != ":memory:" {
            check_path(path).map_err(fail)?;
        }
        Db::open_unchecked(path).map_err(|e| {
            fail(match e {
                AppError::Internal(d) | AppError::StorageUnavailable(d) => {
                    d.trim_start_matches("sqlite: ").to_string()
                }
                other => other.to_string(),
            })
        })
    }

    fn open_unchecked(path: &str) -> AppResult<Db> {
        let (manager, anchor, pool_size) = if path == ":memory:" {
            // A plain ":memory:" would give each pooled connection its own empty database, and
            // shared-cache memory databases lock per table (SQLITE_LOCKED, busy_timeout ignored).
            // The memdb VFS with a name starting with '/' is shared by name within the process
            // and uses normal locking.
            let name = format!(
                "file:/hearth-{}-{:016x}?vfs=memdb",
                std::process::id(),
                rand::random::<u64>()
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
            _anchor: anchor.clone(),
            health: Arc::new(WriteHealth::default()),
            file: anchor.is_none().then(|| PathBuf::from(path)),
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
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?;
        if let Err(e) = &result {
            self.note_error(e);
        }
        result
    }

    /// Counts a failure against the health check when it says the database was unavailable.
    /// (Successes are counted by writers, see [`Db::write_ok`].)
    pub fn note_error(&self, e: &AppError) {
        if matches!(e, AppError::StorageUnavailable(_)) {
            self.health.failed(&e.to_string());
        }
    }

    /// A write committed: the database takes writes.
    pub fn write_ok(&self) {
        self.health.ok();
    }

    /// Whether the latest write worked.
    pub fn write_status(&self) -> WriteStatus {
        self.health.status()
    }

    /// Proves the database can take a write now: a write transaction (which needs the write
    /// lock) that rewrites the schema version, and, for a file database, `PROBE_BYTES`
    /// written, synced and removed beside it (which needs room on the disk). Blocking; the
    /// outcome feeds the health check.
    pub fn probe_write(&self) -> AppResult<()> {
        let result = (|| -> AppResult<()> {
            let mut conn = self.conn()?;
            let tx = write_tx(&mut conn)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
            if let Some(file) = &self.file {
                probe_disk(file).map_err(|e| {
                    AppError::StorageUnavailable(format!("disk: {}", cause_chain(&e)))
                })?;
            }
            Ok(())
        })();
        match &result {
            Ok(()) => self.write_ok(),
            Err(e) => self.health.failed(&e.to_string()),
        }
        result
    }
}

/// Writes [`PROBE_BYTES`] to `<db>-probe`, syncs and removes it.
fn probe_disk(db_file: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut name = db_file.as_os_str().to_owned();
    name.push("-probe");
    let probe = PathBuf::from(name);
    let written = (|| {
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(&[0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    written
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
            "schema version {version} is newer than this binary's {SCHEMA_VERSION} \
             (written by a newer Hearth; upgrade the binary)"
        )));
    }
    // Steps for versions that `IF NOT EXISTS` cannot express go here, keyed on `version`.
    add_task_lease_columns(&tx)?;
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// The task lease columns (`node`, `lease_until`, `cancel_requested`) that `tasks` tables made
/// before them lack: added where missing (a fresh database gets them from [`SCHEMA`]). Guarded
/// by `pragma table_info` rather than a version step, so it is idempotent and works on every
/// version-1 database, with or without them.
fn add_task_lease_columns(tx: &Connection) -> AppResult<()> {
    let mut stmt = tx.prepare("SELECT name FROM pragma_table_info('tasks')")?;
    let have: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if have.is_empty() {
        // No tasks table yet: the schema creates it whole.
        return Ok(());
    }
    for (name, decl) in [
        ("node", "node INTEGER"),
        ("lease_until", "lease_until INTEGER"),
        (
            "cancel_requested",
            "cancel_requested INTEGER NOT NULL DEFAULT 0",
        ),
    ] {
        if !have.iter().any(|h| h == name) {
            tx.execute_batch(&format!("ALTER TABLE tasks ADD COLUMN {decl}"))?;
        }
    }
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

    #[test]
    fn a_tasks_table_from_before_leases_gets_the_lease_columns() {
        let dir = std::env::temp_dir().join(format!("hearth-leases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        let _ = std::fs::remove_file(&path);
        let p = path.to_str().unwrap();
        {
            // A version-1 database written before the columns existed, with a task in it.
            let db = Db::open(p).unwrap();
            let c = db.conn().unwrap();
            c.execute_batch(
                "ALTER TABLE tasks DROP COLUMN node;
                 ALTER TABLE tasks DROP COLUMN lease_until;
                 ALTER TABLE tasks DROP COLUMN cancel_requested;
                 INSERT INTO users (id, username, display_name, created_at)
                     VALUES (7, 'ivy', 'Ivy', 0);
                 INSERT INTO tasks (user_id, kind, params, status, created_at)
                     VALUES (7, 'generate_numbers', '{}', 'running', 0);",
            )
            .unwrap();
        }
        let columns = |db: &Db| -> Vec<String> {
            let c = db.conn().unwrap();
            let mut stmt = c
                .prepare("SELECT name FROM pragma_table_info('tasks')")
                .unwrap();
            let names = stmt.query_map([], |r| r.get(0)).unwrap();
            names.collect::<Result<_, _>>().unwrap()
        };
        for _ in 0..2 {
            let db = Db::open(p).unwrap();
            let have = columns(&db);
            for name in ["node", "lease_until", "cancel_requested"] {
                assert!(have.iter().any(|h| h == name), "{name} in {have:?}");
            }
            let (node, lease, cancel): (Option<i64>, Option<i64>, i64) = db
                .conn()
                .unwrap()
                .query_row(
                    "SELECT node, lease_until, cancel_requested FROM tasks",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!((node, lease, cancel), (None, None, 0));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
