//! The task runner: starts queued tasks in order while there are free slots (overall and per
//! user), runs each on a blocking thread, reports throttled progress, and records the end.

use super::job::{Job, Progress, ProgressState};
use super::kinds::{self, Finished};
use super::Shared;
use crate::db::tasks::{Task, TaskStatus};
use crate::db::users::User;
use crate::error::AppResult;
use crate::hub::{Audience, Endpoint};
use crate::metrics::Metrics;
use crate::protocol::ServerMsg;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;
use tokio::sync::Notify;

#[derive(Default)]
struct Slots {
    total: usize,
    per_user: HashMap<i64, usize>,
    running: HashMap<i64, Arc<AtomicBool>>,
}

/// The runner's slots (in the tasks service).
pub struct Runner {
    max_total: usize,
    max_per_user: usize,
    slots: Mutex<Slots>,
    wake: Notify,
    stopping: AtomicBool,
}

impl Runner {
    /// A runner allowing `max_total` tasks at once, `max_per_user` per user.
    pub fn new(max_total: usize, max_per_user: usize) -> Self {
        Runner {
            max_total: max_total.max(1),
            max_per_user: max_per_user.max(1),
            slots: Mutex::new(Slots::default()),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the scheduler to look for queued tasks.
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Asks a running task to stop; `false` if it is not running here.
    pub fn cancel(&self, task_id: i64) -> bool {
        match self.slots().running.get(&task_id) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Stops scheduling and asks every running task to stop; they end as `interrupted`.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for flag in self.slots().running.values() {
            flag.store(true, Ordering::Relaxed);
        }
        self.wake.notify_one();
    }

    /// A slot for `task`, with its cancel flag; `None` when none is free or the runner is
    /// stopping. `stopping` is read under the slots lock, which [`Runner::stop`] takes after
    /// setting it: a task reserved while the runner stops has its flag set by `stop` or is
    /// never started, so none runs on after shutdown.
    fn try_reserve(&self, task: &Task) -> Option<Arc<AtomicBool>> {
        let mut s = self.slots();
        if self.stopping.load(Ordering::Relaxed) {
            return None;
        }
        let mine = s.per_user.get(&task.user_id).copied().unwrap_or(0);
        if s.total >= self.max_total || mine >= self.max_per_user {
            return None;
        }
        s.total += 1;
        *s.per_user.entry(task.user_id).or_default() += 1;
        let flag = Arc::new(AtomicBool::new(false));
        s.running.insert(task.id, flag.clone());
        Some(flag)
    }

    fn release(&self, task: &Task) {
        let mut s = self.slots();
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.per_user.get_mut(&task.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.per_user.remove(&task.user_id);
            }
        }
        s.running.remove(&task.id);
    }
}

/// Recovers after a restart (running → interrupted) and starts the scheduler loop. The loop
/// holds only a weak reference to the state, so it ends with the server.
pub(crate) async fn start(state: &Arc<Shared>) -> AppResult<()> {
    let interrupted = state
        .store
        .write(|tx| {
            let tasks = tx.interrupt_running_tasks()?;
            let mut notes = Vec::new();
            for t in &tasks {
                if let Some(t) = tx.task_by_id(t.id)? {
                    notes.extend(crate::notifications::for_task(tx, &t)?);
                }
            }
            Ok(notes)
        })
        .await?;
    if !interrupted.is_empty() {
        tracing::info!(
            count = interrupted.len(),
            "tasks interrupted by the last shutdown"
        );
    }
    let weak = Arc::downgrade(state);
    state.runner.kick();
    tokio::spawn(schedule(weak));
    Ok(())
}

async fn schedule(weak: Weak<Shared>) {
    loop {
        let Some(state) = weak.upgrade() else { return };
        if state.runner.stopping.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = start_queued(&state).await {
            tracing::error!(error = %e, "task scheduler");
        }
        // A kick while scanning left a permit, so the wait below returns at once.
        let runner = Arc::clone(&state.runner);
        drop(state);
        runner.wake.notified().await;
    }
}

async fn start_queued(state: &Arc<Shared>) -> AppResult<()> {
    // Every task in this list has been announced (`task_created`) to its owner: starts hold the
    // gate for reading from their insert to their push.
    let queued = {
        let _gate = state.announce.write().await;
        state.store.read(|c| c.queued_tasks()).await?
    };
    for task in queued {
        let Some(flag) = state.runner.try_reserve(&task) else {
            continue;
        };
        let id = task.id;
        let started = state
            .store
            .write(move |c| {
                if !c.mark_task_running(id)? {
                    return Ok(None);
                }
                let task = c.task_by_id(id)?;
                let user = match &task {
                    Some(t) => c.user_by_id(t.user_id)?,
                    None => None,
                };
                Ok(task.zip(user))
            })
            .await;
        match started {
            Ok(Some((task, user))) => {
                tokio::spawn(run(state.clone(), task, user, flag));
            }
            Ok(None) => state.runner.release(&task),
            Err(e) => {
                state.runner.release(&task);
                return Err(e);
            }
        }
    }
    Ok(())
}

async fn run(state: Arc<Shared>, task: Task, user: User, cancel: Arc<AtomicBool>) {
    let Some(kind) = kinds::find(&task.kind) else {
        finish(
            &state,
            &task,
            Err(format!("unknown kind {}", task.kind)),
            &cancel,
        )
        .await;
        return;
    };
    let progress = Progress {
        inner: Arc::new(Mutex::new(ProgressState {
            task_id: task.id,
            user_id: task.user_id,
            percent: 0,
            processed: 0,
            total: task.total,
            last_push: None,
            last_store: Instant::now(),
        })),
        hub: state.hub.clone(),
        store: state.store.clone(),
        slowdown: state.slowdown,
    };
    let mut job = Job {
        id: task.id,
        user,
        chat: state.chat.clone(),
        rt: tokio::runtime::Handle::current(),
        cancel: cancel.clone(),
        progress,
    };
    let params = task.params.clone();
    let total = task.total;
    // The first report too runs off the async workers (it may pause: `task_slowdown`).
    let outcome = tokio::task::spawn_blocking(move || {
        job.progress(0, total);
        kind.run(params, &mut job)
    })
    .await
    .unwrap_or_else(|e| Err(format!("the task crashed: {e}")));
    finish(&state, &task, outcome, &cancel).await;
}

async fn finish(
    state: &Arc<Shared>,
    task: &Task,
    outcome: Result<Finished, String>,
    cancel: &AtomicBool,
) {
    let stopped = cancel.load(Ordering::Relaxed);
    let shutting_down = state.runner.stopping.load(Ordering::Relaxed);
    let id = task.id;
    let total = task.total;
    let ended = state
        .store
        .write(move |tx| {
            let current = tx.task_by_id(id)?;
            let (pct, done) = current
                .as_ref()
                .map_or((0, 0), |t| (t.progress, t.processed));
            match &outcome {
                Ok(out) if !stopped => tx.finish_task(
                    id,
                    TaskStatus::Completed,
                    100,
                    total,
                    Some(&out.result),
                    Some(&out.summary),
                    None,
                )?,
                Ok(out) => {
                    let status = if shutting_down {
                        TaskStatus::Interrupted
                    } else {
                        TaskStatus::Cancelled
                    };
                    let done = out.processed;
                    let pct = if total > 0 {
                        (done * 100 / total).min(99)
                    } else {
                        pct
                    };
                    tx.finish_task(
                        id,
                        status,
                        pct,
                        done,
                        Some(&out.result),
                        Some(&out.summary),
                        None,
                    )?
                }
                Err(e) => tx.finish_task(id, TaskStatus::Failed, pct, done, None, None, Some(e))?,
            }
            let task = tx
                .task_by_id(id)?
                .ok_or_else(|| crate::error::AppError::Internal("task vanished".into()))?;
            let note = crate::notifications::for_task(tx, &task)?;
            Ok((task, note))
        })
        .await;
    state.runner.release(task);
    match ended {
        Ok((task, note)) => {
            let to = Audience::user(Endpoint::Tasks, task.user_id);
            let msg = match task.status {
                TaskStatus::Completed => {
                    state.hub.publish(
                        &to,
                        &ServerMsg::TaskProgress {
                            task_id: task.id,
                            progress: 100,
                            processed: task.processed,
                            total: task.total,
                        },
                    );
                    ServerMsg::TaskCompleted { task }
                }
                TaskStatus::Failed => ServerMsg::TaskFailed { task },
                // Queued and running cannot be read back here: the end was just written.
                TaskStatus::Cancelled
                | TaskStatus::Interrupted
                | TaskStatus::Queued
                | TaskStatus::Running => ServerMsg::TaskCancelled { task },
            };
            state.hub.publish(&to, &msg);
            crate::notifications::publish(&*state.hub, note.as_slice());
            Metrics::inc(&state.metrics.tasks_finished);
        }
        Err(e) => tracing::error!(error = %e, task = id, "recording the end of a task"),
    }
    state.runner.kick();
}
