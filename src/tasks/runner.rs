//! The task runner: starts queued tasks in order while there are free slots (overall and per
//! user), runs each on a blocking thread, reports throttled progress, and records the end.
//!
//! # Several nodes over one database
//!
//! Every runner takes a random node id at start ([`Runner::node`]). The `tasks` table is the
//! only thing nodes share about tasks:
//!
//! - **Claiming.** A node starts a queued task with one conditional update (`status = 'queued'`
//!   → `running`, recording its node id and a lease until now + [`LEASE`]); of two nodes
//!   claiming one task, the second changes no row and moves on, so each task runs on exactly one
//!   node. The scheduler scans for queued tasks when kicked (a start or an end on this node) and
//!   every [`QUEUE_POLL`] while it has a free slot, so a task queued on any node (or on one that
//!   died or has no free slot) runs on whichever node has room, within about a second. A scan
//!   reads at most [`SCAN_LIMIT`] queued tasks, oldest first. The limits (`workers`, `per_user`)
//!   are this node's slots: a user may run `per_user` tasks on each node.
//! - **Leases.** While it has running tasks, a node extends all their leases every
//!   [`RENEW_EVERY`] with one update (`node = me AND status = 'running'`). Every node sweeps
//!   every [`SWEEP_EVERY`]: running tasks whose lease has ended belong to a node that is gone (or
//!   stalled for longer than the lease), and become `interrupted`; their owners get
//!   `task_cancelled` and their notification, as for a task interrupted by a shutdown. A dead
//!   node's tasks are so interrupted within [`LEASE`] + [`SWEEP_EVERY`] (40 s) of its last
//!   renewal. Leases are wall-clock milliseconds: nodes' clocks must agree to well within
//!   [`LEASE`] − [`RENEW_EVERY`] (25 s).
//! - **Start.** A starting node interrupts only running tasks whose lease has ended or that have
//!   none (left by a version without leases), never another live node's. After a crash, a single
//!   node's own tasks are interrupted at once at restart when their lease has ended, else by a
//!   sweep within [`LEASE`] + [`SWEEP_EVERY`]; a clean shutdown ends its tasks itself.
//! - **Cancel.** Cancelling a running task sets this node's cancel flag for it and
//!   `cancel_requested` in its row. A node with running tasks reads which of them have
//!   `cancel_requested` every [`CANCEL_POLL`] (one query) and sets their flags, so a cancel
//!   through any node stops the task within about half a second; it then ends as `cancelled`
//!   with its partial result, as a local cancel does.
//! - **Lost leases.** If a sweep interrupted a task this node still runs (it could not renew for
//!   longer than [`LEASE`]), the node stops the task and does not record or announce an end of
//!   its own: the task stays `interrupted`.

use super::job::{Job, Progress, ProgressState};
use super::kinds::{self, Finished};
use super::Shared;
use crate::db::tasks::{Task, TaskStatus};
use crate::db::users::User;
use crate::error::AppResult;
use crate::hub::{Audience, Endpoint};
use crate::metrics::Metrics;
use crate::protocol::ServerMsg;
use crate::time::Timestamp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a claim holds without renewal: another node interrupts a running task whose lease
/// has ended. Long against [`RENEW_EVERY`], so a few slow or failed renewals lose nothing.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a node with running tasks extends their leases.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often every node interrupts running tasks whose lease has ended.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// How often a node with running tasks reads which of them were cancelled (through any node).
pub const CANCEL_POLL: Duration = Duration::from_millis(500);
/// How often the scheduler looks for queued tasks without being kicked, while it has a free slot.
pub const QUEUE_POLL: Duration = Duration::from_secs(1);
/// Queued tasks read per scan (oldest first); more wait for the next scan.
pub const SCAN_LIMIT: i64 = 200;
/// Tasks one sweep interrupts at most; more wait for the next sweep.
const SWEEP_LIMIT: i64 = 500;
/// Sweeps at start, while each interrupts [`SWEEP_LIMIT`] tasks.
const START_SWEEPS: usize = 20;

#[derive(Default)]
struct Slots {
    total: usize,
    per_user: HashMap<i64, usize>,
    running: HashMap<i64, Arc<AtomicBool>>,
}

/// The runner's slots (in the tasks service).
pub struct Runner {
    node: i64,
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
            node: new_node_id(),
            max_total: max_total.max(1),
            max_per_user: max_per_user.max(1),
            slots: Mutex::new(Slots::default()),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
        }
    }

    /// This runner's node id: random per process start, positive; recorded in the rows of the
    /// tasks it runs.
    pub fn node(&self) -> i64 {
        self.node
    }

    fn has_free_slot(&self) -> bool {
        self.slots().total < self.max_total
    }

    fn has_running(&self) -> bool {
        !self.slots().running.is_empty()
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

/// A random node id, positive.
fn new_node_id() -> i64 {
    i64::try_from(rand::random::<u64>() >> 1)
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Recovers after a restart (running tasks without a live lease → interrupted) and starts the
/// scheduler and lease loops. The loops hold only a weak reference to the state, so they end
/// with the server.
pub(crate) async fn start(state: &Arc<Shared>) -> AppResult<()> {
    let mut interrupted = 0;
    for _ in 0..START_SWEEPS {
        let n = sweep(state).await?;
        interrupted += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < SWEEP_LIMIT {
            break;
        }
    }
    if interrupted > 0 {
        tracing::info!(
            count = interrupted,
            "tasks interrupted: left running by a node that is gone"
        );
    }
    let weak = Arc::downgrade(state);
    state.runner.kick();
    tokio::spawn(schedule(weak.clone()));
    tokio::spawn(keep_leases(weak));
    Ok(())
}

/// Interrupts running tasks whose lease has ended (or that have none), stops any of them still
/// running here, and tells their owners; how many.
async fn sweep(state: &Arc<Shared>) -> AppResult<usize> {
    let now = Timestamp::now().millis();
    // Read first: an idle sweep writes nothing (an empty commit would also count as a working
    // write for the health check).
    if !state.store.read(move |c| c.any_expired_tasks(now)).await? {
        return Ok(0);
    }
    let ended = state
        .store
        .write(move |tx| {
            let tasks = tx.interrupt_expired_tasks(now, SWEEP_LIMIT)?;
            let mut ended = Vec::with_capacity(tasks.len());
            for t in &tasks {
                if let Some(t) = tx.task_by_id(t.id)? {
                    let note = crate::notifications::for_task(tx, &t)?;
                    ended.push((t, note));
                }
            }
            Ok(ended)
        })
        .await?;
    for (task, note) in &ended {
        // Ours only if this node could not renew its lease in time: stop it (its end is not
        // recorded again, see `finish`).
        state.runner.cancel(task.id);
        state.hub.publish(
            &Audience::user(Endpoint::Tasks, task.user_id),
            &ServerMsg::TaskCancelled { task: task.clone() },
        );
        crate::notifications::publish(&*state.hub, note.as_slice());
    }
    Ok(ended.len())
}

/// Every [`CANCEL_POLL`]: with running tasks, stops those cancelled through any node, and every
/// [`RENEW_EVERY`] extends their leases; every [`SWEEP_EVERY`], sweeps (see [`sweep`]).
async fn keep_leases(weak: Weak<Shared>) {
    let mut tick = tokio::time::interval(CANCEL_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renewed = Instant::now();
    let mut swept = Instant::now();
    loop {
        tick.tick().await;
        let Some(state) = weak.upgrade() else { return };
        let node = state.runner.node;
        if state.runner.has_running() {
            let limit = i64::try_from(state.runner.max_total).unwrap_or(i64::MAX);
            match state
                .store
                .read(move |c| c.cancel_requested_tasks(node, limit))
                .await
            {
                Ok(ids) => {
                    for id in ids {
                        state.runner.cancel(id);
                    }
                }
                Err(e) => tracing::error!(error = %e, "reading cancelled tasks"),
            }
            if renewed.elapsed() >= RENEW_EVERY {
                renewed = Instant::now();
                let until = lease_until();
                if let Err(e) = state
                    .store
                    .write(move |c| c.renew_task_leases(node, until))
                    .await
                {
                    tracing::error!(error = %e, "renewing task leases");
                }
            }
        }
        if swept.elapsed() >= SWEEP_EVERY && !state.runner.stopping.load(Ordering::Relaxed) {
            swept = Instant::now();
            match sweep(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "tasks interrupted: their node is gone"),
                Err(e) => tracing::error!(error = %e, "sweeping expired task leases"),
            }
        }
    }
}

/// The end of a lease taken or renewed now (ms since the epoch).
fn lease_until() -> i64 {
    let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
    Timestamp::now().millis().saturating_add(lease)
}

async fn schedule(weak: Weak<Shared>) {
    loop {
        let Some(state) = weak.upgrade() else { return };
        if state.runner.stopping.load(Ordering::Relaxed) {
            return;
        }
        if state.runner.has_free_slot() {
            if let Err(e) = start_queued(&state).await {
                tracing::error!(error = %e, "task scheduler");
            }
        }
        // A kick while scanning left a permit, so the wait below returns at once. Without a
        // kick, scan again after QUEUE_POLL for tasks queued through other nodes.
        let runner = Arc::clone(&state.runner);
        drop(state);
        let _ = tokio::time::timeout(QUEUE_POLL, runner.wake.notified()).await;
    }
}

async fn start_queued(state: &Arc<Shared>) -> AppResult<()> {
    // Every task in this list has been announced (`task_created`) to its owner: starts hold the
    // gate for reading from their insert to their push.
    let queued = {
        let _gate = state.announce.write().await;
        state.store.read(|c| c.queued_tasks(SCAN_LIMIT)).await?
    };
    let node = state.runner.node;
    for task in queued {
        let Some(flag) = state.runner.try_reserve(&task) else {
            continue;
        };
        let id = task.id;
        let until = lease_until();
        let started = state
            .store
            .write(move |c| {
                if !c.mark_task_running(id, node, until)? {
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
            if current
                .as_ref()
                .is_some_and(|t| t.status != TaskStatus::Running)
            {
                // A sweep interrupted it (this node lost its lease) and told its owner.
                return Ok(None);
            }
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
            Ok(Some((task, note)))
        })
        .await;
    state.runner.release(task);
    match ended {
        Ok(None) => tracing::warn!(
            task = id,
            "a task ended after another node interrupted it (its lease had run out)"
        ),
        Ok(Some((task, note))) => {
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
