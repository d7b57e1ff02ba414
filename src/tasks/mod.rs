//! Background tasks: operations shared by `/ws/tasks/` and the REST mirror, the runner, and
//! the kinds (one file each under `kinds/`).

pub mod kinds;
pub mod nanp;
pub mod runner;

use crate::db::tasks::{self as store, Task};
use crate::db::users::User;
use crate::error::{page_limit, AppError, AppResult};
use crate::hub::{Audience, Endpoint};
use crate::protocol::ServerMsg;
use crate::state::AppState;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// The statuses a task can have.
pub const STATUSES: &[&str] = &[
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
];

/// `start_task {kind, params}`
#[derive(Debug, Clone, Deserialize)]
pub struct StartTask {
    /// Kind name.
    pub kind: String,
    /// Kind parameters.
    #[serde(default)]
    pub params: Value,
}

/// `get_tasks {status?, limit?}`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetTasks {
    /// Only this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Page size (default 50, at most 100).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `{task_id}`
#[derive(Debug, Clone, Deserialize)]
pub struct TaskRef {
    /// Task.
    pub task_id: i64,
}

fn push(state: &AppState, user_id: i64, msg: &ServerMsg) {
    state
        .hub
        .publish(&Audience::user(Endpoint::Tasks, user_id), msg);
}

/// How long a caller refused for having too many active tasks is told to wait: tasks end at
/// no predictable time, so this is a polling interval.
pub const ACTIVE_TASKS_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Queues a task for the caller; the runner starts it when a slot is free. A caller with
/// `max_active_tasks_per_user` tasks queued or running is refused with `rate_limited`: the
/// count and the insert are one write transaction, so concurrent starts cannot all pass.
pub async fn start(state: &AppState, user: &User, req: StartTask) -> AppResult<Task> {
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
    let max = state.config.max_active_tasks_per_user;
    let task = state
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            let active = store::count_active(&tx, uid)?;
            if usize::try_from(active).unwrap_or(usize::MAX) >= max {
                return Err(AppError::RateLimited {
                    message: format!(
                        "{active} tasks are queued or running (at most {max}); \
                         wait for one to end or cancel one"
                    ),
                    retry_after: ACTIVE_TASKS_RETRY_AFTER,
                });
            }
            let task = store::insert(&tx, uid, name, &params, total)?;
            tx.commit()?;
            Ok(task)
        })
        .await?;
    push(state, uid, &ServerMsg::TaskCreated { task: task.clone() });
    state.runner.kick();
    Ok(task)
}

/// The caller's tasks, newest first.
pub async fn list(state: &AppState, user: &User, req: GetTasks) -> AppResult<Vec<Task>> {
    if let Some(s) = &req.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(AppError::field(
                "status",
                format!("one of: {}", STATUSES.join(", ")),
            ));
        }
    }
    let limit = page_limit(req.limit)?;
    let uid = user.id;
    state
        .db
        .call(move |c| store::of_user(c, uid, req.status.as_deref(), limit))
        .await
}

/// The caller's queued and running tasks (the snapshot sent on connect).
pub async fn active(state: &AppState, user: &User) -> AppResult<Vec<Task>> {
    let uid = user.id;
    state.db.call(move |c| store::active_of_user(c, uid)).await
}

/// One of the caller's tasks; another user's answers `not_found`.
pub async fn get(state: &AppState, user: &User, req: TaskRef) -> AppResult<Task> {
    let uid = user.id;
    state
        .db
        .call(move |c| store::by_id(c, req.task_id))
        .await?
        .filter(|t| t.user_id == uid)
        .ok_or_else(|| AppError::not_found("task"))
}

/// Cancels one of the caller's tasks: a queued one at once, a running one within a second
/// (keeping its partial result). A finished task answers `conflict`.
pub async fn cancel(state: &AppState, user: &User, req: TaskRef) -> AppResult<i64> {
    let task = get(state, user, req).await?;
    match task.status.as_str() {
        "queued" => {
            let id = task.id;
            let cancelled = state
                .db
                .call(move |c| {
                    let tx = crate::db::write_tx(c)?;
                    if !store::cancel_queued(&tx, id)? {
                        return Ok(None);
                    }
                    let t = store::by_id(&tx, id)?;
                    let note = match &t {
                        Some(t) => Some(crate::notifications::for_task(&tx, t)?),
                        None => None,
                    };
                    tx.commit()?;
                    Ok(t.zip(note))
                })
                .await?;
            match cancelled {
                Some((t, note)) => {
                    push(state, t.user_id, &ServerMsg::TaskCancelled { task: t });
                    crate::notifications::publish(&*state.hub, &[note]);
                }
                // It started meanwhile: stop it instead.
                None => {
                    state.runner.cancel(task.id);
                }
            }
            Ok(task.id)
        }
        "running" => {
            state.runner.cancel(task.id);
            Ok(task.id)
        }
        _ => Err(AppError::Conflict(format!("task already {}", task.status))),
    }
}

/// A stored result in the requested format.
pub enum TaskResult {
    /// The JSON result.
    Json(Value),
    /// The CSV rendering.
    Csv(String),
}

/// A task's full result: JSON, or CSV for tabular kinds; with `number_type`, only the rows of
/// that type (`validate_numbers`). Queued and running tasks have none yet (`conflict`); a
/// cancelled or interrupted one has its partial result.
pub async fn result(
    state: &AppState,
    user: &User,
    req: TaskRef,
    csv: bool,
    number_type: Option<&str>,
) -> AppResult<TaskResult> {
    let task = get(state, user, req).await?;
    if matches!(task.status.as_str(), "queued" | "running") {
        return Err(AppError::Conflict("the task has not finished".into()));
    }
    let id = task.id;
    let value = state
        .db
        .call(move |c| store::result(c, id))
        .await?
        .ok_or_else(|| AppError::not_found("result"))?;
    if !csv && number_type.is_none() {
        return Ok(TaskResult::Json(value));
    }
    let kind = kinds::find(&task.kind).ok_or_else(|| AppError::not_found("result"))?;
    let value = match number_type {
        Some(t) => kind.select_type(&value, t)?,
        None => value,
    };
    if csv {
        let text = kind
            .csv(&value)
            .ok_or_else(|| AppError::field("format", "csv is not available for this kind"))?;
        return Ok(TaskResult::Csv(text));
    }
    Ok(TaskResult::Json(value))
}
