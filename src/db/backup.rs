//! `hearth backup`: a consistent copy of a database that a server may be writing to.

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Copies the database at `from` to the new file `to` with SQLite's online backup, in one step
/// under one read transaction, so the copy is the database as of one commit even while a
/// server keeps writing (WAL readers do not block the writer). The copy is written beside
/// `to`, checked with `PRAGMA quick_check`, then renamed into place; an existing `to` is
/// never overwritten. Returns the copy's size in bytes.
pub fn backup(from: &str, to: &str) -> Result<u64, String> {
    if crate::db::pg::is_url(from) {
        return Err(format!(
            "hearth backup copies a SQLite file; back up PostgreSQL ({}) with its own tools \
             (pg_dump, or base backups with WAL archiving)",
            crate::db::pg::redact(from)
        ));
    }
    if !Path::new(from).is_file() {
        return Err(format!("database {from} does not exist"));
    }
    let target = Path::new(to);
    if target.exists() {
        return Err(format!("{to} already exists; choose a new file"));
    }
    let partial = format!("{to}.partial");
    let _ = std::fs::remove_file(&partial);
    let result = copy(from, &partial).and_then(|()| {
        std::fs::rename(&partial, target).map_err(|e| format!("renaming into {to}: {e}"))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result?;
    std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|e| format!("{to}: {e}"))
}

fn copy(from: &str, to: &str) -> Result<(), String> {
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("database {from}: {e}"))?;
    src.busy_timeout(Duration::from_secs(30))
        .map_err(|e| format!("database {from}: {e}"))?;
    let mut dst = Connection::open(to).map_err(|e| format!("{to}: {e}"))?;
    {
        let backup =
            Backup::new(&src, &mut dst).map_err(|e| format!("starting the backup: {e}"))?;
        // A busy or locked source (a writer checkpointing) is retried for a while.
        let mut tries = 0;
        loop {
            match backup.step(-1) {
                Ok(StepResult::Done) => break,
                Ok(StepResult::More) => continue,
                Ok(StepResult::Busy | StepResult::Locked) if tries < 300 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(_) => return Err("the database stayed locked for 30 s".into()),
                Err(e) => return Err(format!("copying: {e}")),
            }
        }
    }
    let check: String = dst
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| format!("checking the copy: {e}"))?;
    if check != "ok" {
        return Err(format!("the copy failed its check: {check}"));
    }
    dst.close().map_err(|(_, e)| format!("{to}: {e}"))
}
