//! Window quotas kept in the database: [`Quota`], so many attempts per key in a fixed window
//! that starts with the key's first attempt (the semantics of [`crate::rate::Throttle`]), for the
//! limits that guard accounts: failed logins per username, registrations and new support guests
//! per client address.
//!
//! Why in the database rather than in memory: several nodes may share one database, and a limit
//! kept by each node would let a client make `limit` attempts *per node* (guessing passwords on
//! every node in turn); one count in the database is the same limit whichever node is asked.
//! The counts also survive a restart, on SQLite as on PostgreSQL: restarting a server (or
//! crashing it) does not hand a password guesser a fresh allowance.
//!
//! The cost: one short write transaction per login attempt, registration and new guest (the
//! check and the count are one atomic statement inside it, so concurrent attempts on any node
//! cannot all pass the check before any is counted), and one more when an attempt is given back
//! ([`Quota::release`]) or a login succeeds ([`Quota::clear`]). Memory: none per key. Disk:
//! a row per live key, keys cut to [`MAX_KEY_CHARS`](crate::rate::MAX_KEY_CHARS); rows whose
//! window ended are deleted a few at a time by later attempts of the same scope (see
//! [`crate::db::quotas::acquire`]), so they never pile up, with no pruning task to run.
//!
//! The room-creation quota (`rooms_per_hour`) stays an in-memory [`Throttle`](crate::rate::Throttle)
//! per node.

use crate::db::store::{Store, Tx};
use crate::error::AppResult;
use crate::rate::normalise;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A window quota kept in the database: `limit` attempts per key per `window`, counted in
/// `scope` (its own keys, apart from other quotas'). Cheap to clone.
///
/// The quotas of one server share a gate ([`Quota::new`] makes one, [`Quota::with_scope`]
/// shares it): their transactions run one at a time, and the others wait as futures, holding
/// neither a blocking thread nor a pooled connection. A login storm then holds at most one of
/// the pool's connections and queues for SQLite's one write lock one transaction at a time, so
/// the message writer and the other requests keep getting both (without the gate, a storm's
/// quota writes fill the pool with connections sleeping in SQLite's busy handler, and the
/// message writer waits for the whole storm). The queue is fair (first come, first served); a
/// transaction is short (a few statements and a commit), far shorter than the password check a
/// login then makes.
#[derive(Clone)]
pub struct Quota {
    store: Store,
    scope: &'static str,
    limit: u32,
    window: Duration,
    gate: Arc<Semaphore>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Quota {
    /// A quota of `limit` attempts per key per `window`, named `scope` in the database, with a
    /// gate of its own.
    pub fn new(store: Store, scope: &'static str, limit: u32, window: Duration) -> Quota {
        Quota {
            store,
            scope,
            limit,
            window,
            gate: Arc::new(Semaphore::new(1)),
        }
    }

    /// Another quota over the same database that shares this one's gate.
    pub fn with_scope(&self, scope: &'static str, limit: u32, window: Duration) -> Quota {
        Quota {
            scope,
            limit,
            window,
            ..self.clone()
        }
    }

    /// Counts an attempt for `key` if it is allowed now: `Ok(Ok(()))`; otherwise `Ok(Err(wait))`,
    /// how long until the key's window ends. `Err` is the storage's error (the attempt was not
    /// counted, and the operation fails with it).
    pub async fn try_acquire(&self, key: &str) -> AppResult<Result<(), Duration>> {
        self.acquire_at(key, Timestamp::now().millis()).await
    }

    /// [`Quota::try_acquire`] at `now_ms` (milliseconds since the Unix epoch).
    async fn acquire_at(&self, key: &str, now_ms: i64) -> AppResult<Result<(), Duration>> {
        let (scope, key) = (self.scope, normalise(key));
        let (limit, window) = (i64::from(self.limit), millis(self.window));
        let refused = self
            .write(move |tx| tx.quota_acquire(scope, &key, limit, window, now_ms))
            .await?;
        Ok(match refused {
            None => Ok(()),
            Some(ms) => Err(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        })
    }

    /// Gives back one attempt that was counted but never made (the work was refused or failed
    /// before the credential was checked). Called on a path that already fails: a storage error
    /// here is logged, and the attempt stays counted.
    pub async fn release(&self, key: &str) {
        if let Err(e) = self.give_back(key, false).await {
            tracing::warn!(error = %e, scope = self.scope, "giving back a counted attempt");
        }
    }

    /// Forgets the attempts of `key` (after a successful login).
    pub async fn clear(&self, key: &str) -> AppResult<()> {
        self.give_back(key, true).await
    }

    async fn give_back(&self, key: &str, all: bool) -> AppResult<()> {
        let (scope, key) = (self.scope, normalise(key));
        self.write(move |tx| tx.quota_release(scope, &key, all))
            .await
    }

    /// Runs `f` in a write transaction when the gate lets it. On SQLite the gate stays
    /// closed after the commit for as long again as the transaction took: quota writes then
    /// hold SQLite's one write lock at most about half the time, and a writer waiting for it
    /// (SQLite's busy handler retries after growing sleeps, and is not fair) finds it free
    /// within a few milliseconds instead of after the whole queue.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Tx) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let turn = self.gate.clone().acquire_owned().await;
        let began = Instant::now();
        let result = self.store.write(f).await;
        if self.store.sqlite().is_some() {
            let pause = began.elapsed();
            tokio::spawn(async move {
                tokio::time::sleep(pause).await;
                drop(turn);
            });
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn store() -> Store {
        Store::open(":memory:").unwrap()
    }

    #[tokio::test]
    async fn allows_limit_attempts_per_key_case_insensitively() {
        let q = Quota::new(store(), "login", 3, MINUTE);
        for _ in 0..3 {
            assert_eq!(q.try_acquire("Alice").await.unwrap(), Ok(()));
        }
        let wait = q.try_acquire("ALICE").await.unwrap().expect_err("limited");
        assert!(wait <= MINUTE && wait > Duration::from_secs(50), "{wait:?}");
        assert_eq!(q.try_acquire("bob").await.unwrap(), Ok(()));
        // Long keys are cut, as in memory.
        let long = "x".repeat(60_000);
        assert_eq!(q.try_acquire(&long).await.unwrap(), Ok(()));
        assert_eq!(q.try_acquire(&format!("{long}y")).await.unwrap(), Ok(()));
        assert_eq!(q.try_acquire(&"X".repeat(64)).await.unwrap(), Ok(()));
        assert!(q.try_acquire(&long).await.unwrap().is_err(), "same key");
    }

    #[tokio::test]
    async fn the_window_ends_and_restarts() {
        let q = Quota::new(store(), "login", 2, MINUTE);
        let t0 = 1_700_000_000_000;
        assert_eq!(q.acquire_at("a", t0).await.unwrap(), Ok(()));
        assert_eq!(q.acquire_at("a", t0 + 1_000).await.unwrap(), Ok(()));
        assert_eq!(
            q.acquire_at("a", t0 + 20_000).await.unwrap(),
            Err(Duration::from_secs(40)),
            "until the end of the window its first attempt started"
        );
        assert_eq!(
            q.acquire_at("a", t0 + 59_999).await.unwrap(),
            Err(Duration::from_millis(1))
        );
        assert_eq!(q.acquire_at("a", t0 + 60_000).await.unwrap(), Ok(()));
        assert_eq!(q.acquire_at("a", t0 + 60_001).await.unwrap(), Ok(()));
        assert_eq!(
            q.acquire_at("a", t0 + 60_002).await.unwrap(),
            Err(Duration::from_millis(59_998))
        );
        // A window of zero never holds anyone back.
        let open = Quota::new(store(), "login", 1, Duration::ZERO);
        assert_eq!(open.try_acquire("a").await.unwrap(), Ok(()));
        assert_eq!(open.try_acquire("a").await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn release_gives_back_one_attempt_and_clear_all() {
        let q = Quota::new(store(), "guest", 1, MINUTE);
        assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
        assert!(q.try_acquire("a").await.unwrap().is_err());
        q.release("A").await;
        assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
        assert!(q.try_acquire("a").await.unwrap().is_err());

        let q = Quota::new(q.store.clone(), "login", 3, MINUTE);
        for _ in 0..3 {
            assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
        }
        q.release("a").await;
        assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
        assert!(q.try_acquire("a").await.unwrap().is_err());
        q.clear("a").await.unwrap();
        for _ in 0..3 {
            assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
        }
        assert!(q.try_acquire("a").await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_limit_of_zero_refuses_everything() {
        let q = Quota::new(store(), "register", 0, MINUTE);
        assert_eq!(q.try_acquire("a").await.unwrap(), Err(MINUTE));
    }

    #[tokio::test]
    async fn two_nodes_on_one_database_share_the_counts() {
        let db = store();
        // What two nodes hold: their own `Quota`, over the same database.
        let one = Quota::new(db.clone(), "login", 4, MINUTE);
        let two = Quota::new(db.clone(), "login", 4, MINUTE);
        assert_eq!(one.try_acquire("victim").await.unwrap(), Ok(()));
        assert_eq!(two.try_acquire("victim").await.unwrap(), Ok(()));
        assert_eq!(one.try_acquire("Victim").await.unwrap(), Ok(()));
        assert_eq!(two.try_acquire("VICTIM").await.unwrap(), Ok(()));
        assert!(one.try_acquire("victim").await.unwrap().is_err());
        assert!(two.try_acquire("victim").await.unwrap().is_err());
        // A success on one node clears the count on both.
        one.clear("victim").await.unwrap();
        assert_eq!(two.try_acquire("victim").await.unwrap(), Ok(()));
        // Another scope on the same database counts apart.
        let guests = Quota::new(db, "guest", 1, MINUTE);
        assert_eq!(guests.try_acquire("victim").await.unwrap(), Ok(()));
        assert!(guests.try_acquire("victim").await.unwrap().is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_attempts_never_exceed_the_limit() {
        let db = store();
        let nodes: Vec<Quota> = (0..3)
            .map(|_| Quota::new(db.clone(), "login", 5, MINUTE))
            .collect();
        let attempts = (0..60).map(|i| {
            let q = nodes[i % nodes.len()].clone();
            tokio::spawn(async move { q.try_acquire("x").await.unwrap().is_ok() })
        });
        let mut passed = 0;
        for a in attempts.collect::<Vec<_>>() {
            passed += usize::from(a.await.unwrap());
        }
        assert_eq!(passed, 5);
    }

    #[tokio::test]
    async fn counts_survive_a_restart_on_a_file_database() {
        let dir = std::env::temp_dir().join(format!(
            "hearth-quota-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("q.db");
        let path = path.to_str().unwrap();
        {
            let q = Quota::new(Store::open(path).unwrap(), "login", 2, MINUTE);
            assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
            assert_eq!(q.try_acquire("a").await.unwrap(), Ok(()));
        }
        let q = Quota::new(Store::open(path).unwrap(), "login", 2, MINUTE);
        assert!(q.try_acquire("a").await.unwrap().is_err());
        drop(q);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
