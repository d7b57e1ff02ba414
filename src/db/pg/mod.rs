//! PostgreSQL storage, for several nodes sharing one database: the connection pool, the schema,
//! and every SQL statement (in the submodules, one per noun, as for SQLite).
//!
//! The client is the `postgres` crate, the blocking face of `tokio-postgres`: the storage
//! interface ([`super::store`]) runs closures over a `&dyn Tx` on blocking threads, for both
//! backends, so a synchronous client fits it without a runtime inside a runtime (each pooled
//! connection drives its own socket while the calling blocking thread waits). The pool is
//! `r2d2`, as for SQLite. See `docs/decisions.md`.
//!
//! Statements take a [`postgres::Transaction`]: every job, read or write, runs in one
//! (read committed), committed when the job succeeds.

pub mod admin;
pub mod chat;
pub mod events;
pub mod notifications;
pub mod quotas;
pub mod sockets;
pub mod tasks;
pub mod tokens;
pub mod users;

use super::health::{WriteHealth, WriteStatus};
use super::OpenError;
use crate::error::{AppError, AppResult};
use postgres::NoTls;
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;
use std::sync::Arc;
use std::time::Duration;

/// The schema, applied idempotently at every start.
pub const SCHEMA: &str = include_str!("../../../schema.postgres.sql");
/// The version recorded in `hearth_meta` once [`SCHEMA`] is applied.
pub const SCHEMA_VERSION: i64 = 1;

/// Advisory lock keys (transaction-scoped, `pg_advisory_xact_lock`). Arbitrary constants, the
/// same on every node.
pub mod locks {
    /// Held while the schema is applied, so that nodes starting together do not race.
    pub const MIGRATE: i64 = 0x4865_6172_7468_0001;
    /// Held from a message insert until its transaction ends: message ids are handed out and
    /// committed in one order across every node.
    pub const MESSAGES: i64 = 0x4865_6172_7468_0002;
    /// The same for `user_events`.
    pub const USER_EVENTS: i64 = 0x4865_6172_7468_0003;
    /// The same for `events` (the cluster's event log).
    pub const EVENTS: i64 = 0x4865_6172_7468_0004;
    /// The namespace of the per-user locks taken while admitting a socket (the two-key form
    /// `pg_advisory_xact_lock(SOCKETS, user_id)`).
    pub const SOCKETS: i32 = 0x4845_0001;
}

/// How long a job waits for a pooled connection before the database counts as unavailable.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per node.
const POOL_SIZE: u32 = 16;

/// A transaction, as the statements in the submodules take it.
pub type PgTransaction<'a> = postgres::Transaction<'a>;

/// Whether `url` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A pooled PostgreSQL database. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PgDb {
    pool: Arc<PoolOwner>,
    health: Arc<WriteHealth>,
}

/// Owns the pool, so that the last [`PgDb`] to go drops it on a thread of its own: closing a
/// `postgres` connection blocks on its runtime, which panics on an async worker thread (where
/// the last clone of the application's state may well be dropped).
struct PoolOwner(Option<Pool<PostgresConnectionManager<NoTls>>>);

impl Drop for PoolOwner {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("pg-pool-drop".into())
                .spawn(move || drop(pool));
        }
    }
}

impl PgDb {
    /// Connects to `url` (`postgres://user[:password]@host:port/dbname`) and applies the
    /// schema. Errors name the address (never the password) and the reason.
    pub fn open(url: &str) -> Result<PgDb, OpenError> {
        let shown = redact(url);
        let fail = |reason: String| OpenError {
            path: shown.clone(),
            reason,
        };
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| fail(format!("not a PostgreSQL URL: {e}")))?;
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("hearth");
        // One direct connection first: a wrong address or password fails at once with the
        // server's reason (a pool would retry until its timeout), and it applies the schema.
        let mut first = config
            .connect(NoTls)
            .map_err(|e| fail(crate::error::cause_chain(&e)))?;
        migrate(&mut first).map_err(|e| fail(e.to_string()))?;
        drop(first);
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(POOL_TIMEOUT)
            .build_unchecked(manager);
        Ok(PgDb {
            pool: Arc::new(PoolOwner(Some(pool))),
            health: Arc::new(WriteHealth::default()),
        })
    }

    /// A pooled connection, for blocking contexts.
    pub fn conn(&self) -> AppResult<PooledConnection<PostgresConnectionManager<NoTls>>> {
        match &self.pool.0 {
            Some(pool) => Ok(pool.get()?),
            None => Err(AppError::StorageUnavailable("pool closed".into())),
        }
    }
}

/// Applies the schema and records its version, holding [`locks::MIGRATE`]. Safe to run on every
/// start, by several nodes at once.
fn migrate(conn: &mut postgres::Client) -> AppResult<()> {
    {
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::MIGRATE])?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('hearth_meta') IS NOT NULL", &[])?
            .try_get(0)?;
        if exists {
            let row = tx.query_opt(
                "SELECT value FROM hearth_meta WHERE key = 'schema_version'",
                &[],
            )?;
            if let Some(row) = row {
                let version: i64 = row.try_get(0)?;
                if version > SCHEMA_VERSION {
                    return Err(AppError::Internal(format!(
                        "schema version {version} is newer than this binary's {SCHEMA_VERSION} \
                         (written by a newer Hearth; upgrade the binary)"
                    )));
                }
            }
        }
        tx.batch_execute(SCHEMA)?;
        tx.execute(
            "INSERT INTO hearth_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&SCHEMA_VERSION],
        )?;
        tx.commit()?;
    }
    Ok(())
}

impl PgDb {
    /// Counts a failure against the health check when it says the database was unavailable.
    pub fn note_error(&self, e: &AppError) {
        if matches!(e, AppError::StorageUnavailable(_)) {
            self.health.failed(&e.to_string());
        }
    }

    /// A write committed.
    pub fn write_ok(&self) {
        self.health.ok();
    }

    /// Whether the latest write worked.
    pub fn write_status(&self) -> WriteStatus {
        self.health.status()
    }

    /// Proves the database takes a write now (a write transaction that rewrites the schema
    /// version); the outcome feeds the health check. Blocking.
    pub fn probe_write(&self) -> AppResult<()> {
        let result = (|| -> AppResult<()> {
            let mut conn = self.conn()?;
            let mut tx = conn.transaction()?;
            tx.execute(
                "UPDATE hearth_meta SET value = $1 WHERE key = 'schema_version'",
                &[&SCHEMA_VERSION],
            )?;
            tx.commit()?;
            Ok(())
        })();
        match &result {
            Ok(()) => self.write_ok(),
            Err(e) => self.health.failed(&e.to_string()),
        }
        result
    }

    /// Whether a connection answers with the schema this binary knows. Blocking.
    pub fn check(&self) -> AppResult<bool> {
        let mut conn = self.conn()?;
        let v: i64 = conn
            .query_one(
                "SELECT value FROM hearth_meta WHERE key = 'schema_version'",
                &[],
            )?
            .try_get(0)?;
        Ok(v == SCHEMA_VERSION)
    }
}

/// `url` without its password, for logs and error messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_apart_and_redacted() {
        assert!(is_url("postgres://u@h:1/d"));
        assert!(is_url("postgresql://u@h:1/d"));
        assert!(!is_url("hearth.db"));
        assert!(!is_url(":memory:"));
        assert_eq!(
            redact("postgres://u:secret@h:5432/d"),
            "postgres://u@h:5432/d"
        );
        assert_eq!(redact("postgres://u@h:5432/d"), "postgres://u@h:5432/d");
    }
}
