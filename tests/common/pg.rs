//! A throwaway PostgreSQL server for the tests built with `--features pg-tests`, and a fresh
//! database on it per test.
//!
//! The server is started once per test binary from the machine's PostgreSQL binaries (`initdb`
//! into a temporary directory, `postgres` on a free loopback port; as the `postgres` system user
//! when the tests run as root, since PostgreSQL refuses to run as root). It lives as long as the
//! test process: a small shell wrapper stops it (and removes its directory) when the test
//! process's end closes the wrapper's standard input. `HEARTH_TEST_PG=postgres://...` uses a
//! server that is already running instead.
//!
//! Without the binaries the tests fail, saying what to install: nothing is skipped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The running server: its base URL (database `postgres`).
struct PgServer {
    base: String,
    /// Kept so that the wrapper's standard input stays open while the tests run.
    _child: Option<Mutex<Child>>,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The base URL of the test server (started on first use), database `postgres`.
pub fn base_url() -> String {
    SERVER.get_or_init(start).base.clone()
}

/// A fresh, empty database on the test server; returns its URL. Blocking: call it from a
/// plain thread or `spawn_blocking`, never an async worker (the client runs its own runtime).
pub fn fresh_database() -> String {
    let base = base_url();
    let name = format!(
        "hearth_t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut client =
        postgres::Client::connect(&base, postgres::NoTls).expect("connect to the test PostgreSQL");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    with_database(&base, &name)
}

/// [`fresh_database`] from async code.
pub async fn fresh_database_async() -> String {
    tokio::task::spawn_blocking(fresh_database)
        .await
        .expect("create a test database")
}

/// `base` with its database replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let cut = base.rfind('/').expect("a URL with a database");
    format!("{}/{name}", &base[..cut])
}

/// Where the PostgreSQL binaries are: Debian's versioned directory, else `PATH`.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("postgres").exists())
        .collect();
    found.sort();
    if let Some(dir) = found.pop() {
        return Some(dir);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").exists() && d.join("postgres").exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `script` with `sh -c`, as the `postgres` user when we are root.
fn shell(script: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }
}

fn start() -> PgServer {
    if let Ok(url) = std::env::var("HEARTH_TEST_PG") {
        return PgServer {
            base: url,
            _child: None,
        };
    }
    let bin = bin_dir().unwrap_or_else(|| {
        panic!(
            "the pg-tests need PostgreSQL's server binaries (initdb, postgres): install Debian's \
             postgresql-15 (apt-get install postgresql-15), or set HEARTH_TEST_PG to a running \
             server's URL"
        )
    });
    let dir = std::env::temp_dir().join(format!("hearth-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for the test PostgreSQL");
    if is_root() {
        let status = Command::new("chown")
            .args(["postgres:", dir.to_str().expect("UTF-8 path")])
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown of {} to postgres", dir.display());
    }
    let data = dir.join("data");
    let init = shell(&format!(
        "'{}' -D '{}' -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >'{}/initdb.log' 2>&1",
        bin.join("initdb").display(),
        data.display(),
        dir.display()
    ))
    .status()
    .expect("initdb runs");
    assert!(
        init.success(),
        "initdb failed: see {}/initdb.log",
        dir.display()
    );
    let port = free_port();
    // The wrapper starts postgres, then waits for its standard input to close (this process
    // ending), then stops it quickly and removes the directory.
    let script = format!(
        "'{pg}' -D '{data}' -k '{dir}' -p {port} -c listen_addresses=127.0.0.1 \
         -c fsync=off -c max_connections=400 -c shared_buffers=64MB >'{dir}/postgres.log' 2>&1 & \
         pid=$!; echo started; cat >/dev/null; kill -INT $pid; wait $pid; rm -rf '{dir}'",
        pg = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut child = shell(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("postgres starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the wrapper says it started postgres");
    let base = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    wait_ready(&base, &dir);
    PgServer {
        base,
        _child: Some(Mutex::new(child)),
    }
}

fn wait_ready(base: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match postgres::Client::connect(base, postgres::NoTls) {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!(
                "the test PostgreSQL did not accept connections within 30 s ({e}); see {}/postgres.log",
                dir.display()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
