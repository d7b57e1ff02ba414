//! A running task as its kind sees it: its owner, the services it may use, the cancel flag, and a
//! throttled progress reporter (its parameters are handed to the kind's `run`, already typed).

use crate::chat::Chat;
use crate::db::store::Store;
use crate::db::users::User;
use crate::hub::{Audience, Endpoint, Hub};
use crate::protocol::ServerMsg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Progress pushes at most this often.
const PUSH_EVERY: Duration = Duration::from_millis(100);
/// Progress is stored at most this often.
const STORE_EVERY: Duration = Duration::from_secs(1);
/// A running task as its kind sees it.
pub struct Job {
    /// Task id.
    pub id: i64,
    /// The owner.
    pub user: User,
    /// The chat service (for kinds that post messages).
    pub chat: Chat,
    /// The async runtime, for kinds that call async operations from the blocking thread.
    pub rt: tokio::runtime::Handle,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) progress: Progress,
}

impl Job {
    /// Whether the task should stop now (cancelled, or the server is stopping).
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag, for kinds that hand a check to other code.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Reports progress (throttled: pushes at most 10 a second, stores at most once a second).
    pub fn progress(&mut self, processed: i64, total: i64) {
        self.progress.report(processed, total);
    }

    /// A progress callback that can be handed to other code.
    pub fn reporter(&self) -> impl FnMut(i64, i64) {
        let mut p = self.progress.clone();
        move |done, total| p.report(done, total)
    }
}

#[derive(Clone)]
pub(super) struct Progress {
    pub(super) inner: Arc<Mutex<ProgressState>>,
    pub(super) hub: Arc<dyn Hub>,
    pub(super) store: Store,
    pub(super) slowdown: Duration,
}

pub(super) struct ProgressState {
    pub(super) task_id: i64,
    pub(super) user_id: i64,
    pub(super) percent: i64,
    pub(super) processed: i64,
    pub(super) total: i64,
    pub(super) last_push: Option<Instant>,
    pub(super) last_store: Instant,
}

impl Progress {
    pub(super) fn report(&mut self, processed: i64, total: i64) {
        let slowdown = self.slowdown;
        let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Never backwards; 100 only once the task has completed.
        let percent = (processed.saturating_mul(100) / total.max(1)).clamp(0, 99);
        p.percent = p.percent.max(percent);
        p.processed = p.processed.max(processed);
        p.total = total;
        let now = Instant::now();
        if p.last_push
            .is_none_or(|t| now.duration_since(t) >= PUSH_EVERY)
        {
            p.last_push = Some(now);
            self.hub.publish(
                &Audience::user(Endpoint::Tasks, p.user_id),
                &ServerMsg::TaskProgress {
                    task_id: p.task_id,
                    progress: p.percent,
                    processed: p.processed,
                    total: p.total,
                },
            );
        }
        if now.duration_since(p.last_store) >= STORE_EVERY {
            p.last_store = now;
            let (id, pct, done, total) = (p.task_id, p.percent, p.processed, p.total);
            let _ = self
                .store
                .write_blocking(|tx| tx.set_task_progress(id, pct, done, total));
        }
        drop(p);
        if !slowdown.is_zero() {
            std::thread::sleep(slowdown);
        }
    }
}
