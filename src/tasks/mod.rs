//! Background tasks: operations shared by `/ws/tasks/` and the REST mirror, the runner, and
//! the kinds (one file each under `kinds/`).

pub mod job;
pub mod kinds;
pub mod nanp;
pub mod runner;

use crate::chat::Chat;
use crate::db::store::Store;
use crate::db::tasks::{Task, TaskStatus};
use crate::db::users::User;
use crate::error::{page_limit, AppError, AppResult};
use crate::hub::Hub;
use crate::hub::{Audience, Endpoint};
use crate::metrics::Metrics;
use crate::protocol::tasks::{GetTasks, StartTask};
use crate::protocol::ServerMsg;
use runner::Runner;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The tasks service: a cheap `Clone` over what the operations and the runner share.
#[derive(Clone)]
pub struct Tasks {
    shared: Arc<Shared>,
}

/// What the operations, the scheduler and running tasks share. The scheduler holds it weakly,
/// so it ends with the last [`Tasks`] handle.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) hub: Arc<dyn Hub>,
    pub(crate) chat: Chat,
    pub(crate) runner: Arc<Runner>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) max_active: usize,
    pub(crate) slowdown: Duration,
    /// Orders `task_created` before anything the runner says of a task: `start` holds it for
    /// reading from the insert to the push, the scheduler for writing while it lists queued
    /// tasks.
    pub(crate) announce: tokio::sync::RwLock<()>,
}

/// The limits of the tasks service.
#[derive(Debug, Clone, Copy)]
pub struct TaskLimits {
    /// Tasks running at once, overall.
    pub workers: usize,
    /// Tasks running at once, per user.
    pub per_user: usize,
    /// Tasks queued or running per user (more are refused with `rate_limited`).
    pub max_active: usize,
    /// Pause after each progress report (tests slow tasks down with it).
    pub slowdown: Duration,
}

/// The names of the statuses a task can have ([`TaskStatus::NAMES`]).
pub const STATUSES: &[&str] = &TaskStatus::NAMES;

/// How long a caller refused for having too many active tasks is told to wait: tasks end at
/// no predictable time, so this is a polling interval.
pub const ACTIVE_TASKS_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A stored result in the requested format.
pub enum TaskResult {
    /// The JSON result.
    Json(Value),
    /// The CSV rendering.
    Csv(String),
}

impl Tasks {
    /// Starts the tasks service: records tasks left running by a node that is gone (lease
    /// ended, or none) as interrupted and starts the scheduler (see [`runner`] for the leases).
    pub async fn start_service(
        store: Store,
        hub: Arc<dyn Hub>,
        chat: Chat,
        metrics: Arc<Metrics>,
        limits: TaskLimits,
    ) -> AppResult<Tasks> {
        let shared = Arc::new(Shared {
            store,
            hub,
            chat,
            runner: Arc::new(Runner::new(limits.workers, limits.per_user)),
            metrics,
            max_active: limits.max_active,
            slowdown: limits.slowdown,
            announce: tokio::sync::RwLock::new(()),
        });
        runner::start(&shared).await?;
        Ok(Tasks { shared })
    }

    /// Stops starting tasks and asks running ones to stop (they end as `interrupted`).
    pub fn stop(&self) {
        self.shared.runner.stop();
    }

    fn push(&self, user_id: i64, msg: &ServerMsg) {
        self.shared
            .hub
            .publish(&Audience::user(Endpoint::Tasks, user_id), msg);
    }

    /// Queues a task for the caller; the runner starts it when a slot is free. A caller with
    /// `max_active_tasks_per_user` tasks queued or running is refused with `rate_limited`: the
    /// count and the insert are one write transaction, so concurrent starts cannot all pass.
    pub async fn start(&self, user: &User, req: StartTask) -> AppResult<Task> {
        let kind = kinds::find(&req.kind).ok_or_else(|| {
            AppError::field("kind", format!("unknown kind; one of: {}", kinds::names()))
        })?;
        let params = if req.params.is_null() {
            Value::Object(Default::default())
        } else if req.params.is_object() {
            req.params
        } else {
            return Err(AppError::field("params", "must be an object"));
        };
        let (params, total) = kind.validate(&params)?;
        let uid = user.id;
        let name = kind.name();
        let max = self.shared.max_active;
        // The scheduler cannot see the task before its owner has heard of it (see
        // `Shared::announce`).
        let gate = self.shared.announce.read().await;
        let task = self
            .shared
            .store
            .write(move |tx| {
                let active = tx.count_active_tasks(uid)?;
                if usize::try_from(active).unwrap_or(usize::MAX) >= max {
                    return Err(AppError::RateLimited {
                        message: format!(
                            "{active} tasks are queued or running (at most {max}); \
                         wait for one to end or cancel one"
                        ),
                        retry_after: ACTIVE_TASKS_RETRY_AFTER,
                    });
                }
                let task = tx.insert_task(uid, name, &params, total)?;
                Ok(task)
            })
            .await?;
        self.push(uid, &ServerMsg::TaskCreated { task: task.clone() });
        drop(gate);
        self.shared.runner.kick();
        Ok(task)
    }

    /// The caller's tasks, newest first.
    pub async fn list(&self, user: &User, req: GetTasks) -> AppResult<Vec<Task>> {
        let status: Option<TaskStatus> = match &req.status {
            Some(s) => Some(s.parse().map_err(|_| {
                AppError::field("status", format!("one of: {}", STATUSES.join(", ")))
            })?),
            None => None,
        };
        let limit = page_limit(req.limit)?;
        let uid = user.id;
        self.shared
            .store
            .read(move |c| c.tasks_of_user(uid, status, limit))
            .await
    }

    /// The caller's queued and running tasks (the snapshot sent on connect).
    pub async fn active(&self, user: &User) -> AppResult<Vec<Task>> {
        let uid = user.id;
        self.shared
            .store
            .read(move |c| c.active_tasks_of_user(uid))
            .await
    }

    /// One of the caller's tasks; another user's answers `not_found`.
    pub async fn get(&self, user: &User, task_id: i64) -> AppResult<Task> {
        let uid = user.id;
        self.shared
            .store
            .read(move |c| c.task_by_id(task_id))
            .await?
            .filter(|t| t.user_id == uid)
            .ok_or_else(|| AppError::not_found("task"))
    }

    /// Cancels one of the caller's tasks: a queued one at once, a running one within a second
    /// (keeping its partial result). A finished task answers `conflict`.
    pub async fn cancel(&self, user: &User, task_id: i64) -> AppResult<i64> {
        let task = self.get(user, task_id).await?;
        match task.status {
            TaskStatus::Queued => {
                let id = task.id;
                let cancelled = self
                    .shared
                    .store
                    .write(move |tx| {
                        if !tx.cancel_queued_task(id)? {
                            return Ok(None);
                        }
                        let t = tx.task_by_id(id)?;
                        let note = match &t {
                            Some(t) => crate::notifications::for_task(tx, t)?,
                            None => None,
                        };
                        Ok(t.map(|t| (t, note)))
                    })
                    .await?;
                match cancelled {
                    Some((t, note)) => {
                        self.push(t.user_id, &ServerMsg::TaskCancelled { task: t });
                        crate::notifications::publish(&*self.shared.hub, note.as_slice());
                    }
                    // It started meanwhile (here or on another node): stop it instead.
                    None => self.cancel_running(task.id).await?,
                }
                Ok(task.id)
            }
            TaskStatus::Running => {
                self.cancel_running(task.id).await?;
                Ok(task.id)
            }
            TaskStatus::Completed
            | TaskStatus::Failed
            | TaskStatus::Cancelled
            | TaskStatus::Interrupted => {
                Err(AppError::Conflict(format!("task already {}", task.status)))
            }
        }
    }

    /// Asks a running task to stop: at once if it runs on this node, and through its row for
    /// whichever node runs it (that node reads `cancel_requested` every
    /// [`runner::CANCEL_POLL`]). A task that has ended meanwhile is left as it ended.
    async fn cancel_running(&self, task_id: i64) -> AppResult<()> {
        self.shared.runner.cancel(task_id);
        self.shared
            .store
            .write(move |tx| tx.request_task_cancel(task_id))
            .await?;
        Ok(())
    }

    /// A task's full result: JSON, or CSV for tabular kinds; with `number_type`, only the rows of
    /// that type (`validate_numbers`). Queued and running tasks have none yet (`conflict`); a
    /// cancelled or interrupted one has its partial result.
    pub async fn result(
        &self,
        user: &User,
        task_id: i64,
        csv: bool,
        number_type: Option<&str>,
    ) -> AppResult<TaskResult> {
        let task = self.get(user, task_id).await?;
        if task.status.is_active() {
            return Err(AppError::Conflict("the task has not finished".into()));
        }
        let id = task.id;
        let value = self
            .shared
            .store
            .read(move |c| c.task_result(id))
            .await?
            .ok_or_else(|| AppError::not_found("result"))?;
        if !csv && number_type.is_none() {
            return Ok(TaskResult::Json(value));
        }
        let kind = kinds::find(&task.kind).ok_or_else(|| AppError::not_found("result"))?;
        kind.render(value, number_type, csv)
    }
}

#[cfg(test)]
mod tests;
