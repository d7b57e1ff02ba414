//! The tasks service and its runner on an in-memory store and an in-process hub (no HTTP
//! server).

use crate::db::tasks::Task;
use crate::db::tasks::{self as task_store, TaskStatus};
use crate::db::users;
use crate::db::users::User;
use crate::error::AppError;
use crate::hub::Endpoint;
use crate::protocol::tasks::{GetTasks, StartTask};
use crate::tasks::{TaskLimits, TaskResult, ACTIVE_TASKS_RETRY_AFTER};
use crate::testkit::{self, err, err_code, kit, kit_with, Kit, Options};
use crate::time::Timestamp;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn generate(area_code: &str, quantity: i64) -> StartTask {
    StartTask {
        kind: "generate_numbers".into(),
        params: json!({ "area_code": area_code, "quantity": quantity }),
    }
}

fn json_of(r: TaskResult) -> Value {
    match r {
        TaskResult::Json(v) => v,
        TaskResult::Csv(_) => panic!("asked for JSON, got CSV"),
    }
}

fn csv_of(r: TaskResult) -> String {
    match r {
        TaskResult::Csv(s) => s,
        TaskResult::Json(_) => panic!("asked for CSV, got JSON"),
    }
}

/// The node id of a node that is gone (runners take random ones).
const DEAD_NODE: i64 = 42;

/// A lease that ended a second ago (ms).
fn expired() -> i64 {
    Timestamp::now().millis() - 1000
}

fn limits(f: impl FnOnce(&mut TaskLimits)) -> Options {
    let mut o = Options::default();
    f(&mut o.tasks);
    o
}

#[tokio::test]
async fn generate_numbers_completes_and_its_result_is_json_and_csv() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let mut tasks_ws = kit.listen(Endpoint::Tasks, alice.id);
    let mut notes_ws = kit.listen(Endpoint::Notifications, alice.id);

    let task = kit.tasks.start(&alice, generate("415", 3)).await.unwrap();
    assert_eq!(task.kind, "generate_numbers");
    assert_eq!(task.status, TaskStatus::Queued);
    assert_eq!(task.total, 3);
    assert_eq!(task.params, json!({ "area_code": "415", "quantity": 3 }));

    // Everything up to the completion: task_created, progress (the last one at 100), then
    // task_completed.
    let mut frames = Vec::new();
    loop {
        let f = tasks_ws.next().await;
        let done = f["type"] == "task_completed";
        frames.push(f);
        if done {
            break;
        }
    }
    let completed = frames.pop().unwrap();
    assert_eq!(completed["task"]["id"], task.id);
    assert_eq!(completed["task"]["status"], "completed");
    assert_eq!(completed["task"]["progress"], 100);
    assert_eq!(completed["task"]["processed"], 3);
    assert_eq!(
        completed["task"]["result_summary"],
        json!({ "area_code": "415", "count": 3 })
    );
    let last = frames.last().expect("progress before completion");
    assert_eq!(last["type"], "task_progress");
    assert_eq!(
        (last["progress"].as_i64(), last["processed"].as_i64()),
        (Some(100), Some(3))
    );
    let created: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "task_created")
        .collect();
    assert_eq!(created.len(), 1, "{frames:?}");
    assert_eq!(created[0]["task"]["id"], task.id);
    assert_eq!(frames[0]["type"], "task_created", "{frames:?}");
    assert!(frames.iter().all(|f| f["type"] == "task_created"
        || (f["type"] == "task_progress" && f["task_id"] == task.id)));
    let note = notes_ws.next_of("notification").await;
    assert_eq!(note["notification"]["data"]["task_id"], task.id);
    assert_eq!(note["notification"]["data"]["status"], "completed");

    let stored = kit.tasks.get(&alice, task.id).await.unwrap();
    assert_eq!(stored.status, TaskStatus::Completed);
    assert!(stored.started_at.is_some() && stored.finished_at.is_some());

    let result = json_of(
        kit.tasks
            .result(&alice, task.id, false, None)
            .await
            .unwrap(),
    );
    assert_eq!(result["area_code"], "415");
    let numbers: Vec<&str> = result["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3);
    for n in &numbers {
        assert!(n.starts_with("+1415") && n.len() == 12, "{n}");
    }
    let mut distinct = numbers.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);

    let csv = csv_of(kit.tasks.result(&alice, task.id, true, None).await.unwrap());
    assert_eq!(csv, format!("number\n{}\n", numbers.join("\n")));
    // Filtering by number type is for validate_numbers only.
    let typed = err(kit
        .tasks
        .result(&alice, task.id, false, Some("mobile"))
        .await);
    assert!(typed.fields().unwrap().contains_key("type"));
    // A finished task cannot be cancelled.
    let e = err(kit.tasks.cancel(&alice, task.id).await);
    assert!(
        matches!(&e, AppError::Conflict(m) if m.contains("completed")),
        "{e:?}"
    );
}

#[tokio::test]
async fn start_validates_the_kind_and_its_params() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let cases = [
        (
            StartTask {
                kind: "mine_bitcoin".into(),
                params: Value::Null,
            },
            "kind",
        ),
        (
            StartTask {
                kind: "generate_numbers".into(),
                params: json!([1]),
            },
            "params",
        ),
        (generate("555", 3), "area_code"),
        (generate("415", 0), "quantity"),
        (generate("415", 100_001), "quantity"),
    ];
    for (req, field) in cases {
        let e = err(kit.tasks.start(&alice, req).await);
        assert_eq!(e.code(), "validation_failed", "{field}");
        assert!(e.fields().unwrap().contains_key(field), "{field}: {e:?}");
    }
    let listed = kit.tasks.list(&alice, GetTasks::default()).await.unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn max_active_tasks_per_user_answers_rate_limited() {
    let kit = kit_with(limits(|l| l.max_active = 2)).await;
    // With the runner stopped, started tasks stay queued (and count as active).
    kit.tasks.stop();
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let mut tasks_ws = kit.listen(Endpoint::Tasks, alice.id);

    let first = kit.tasks.start(&alice, generate("415", 3)).await.unwrap();
    kit.tasks.start(&alice, generate("415", 3)).await.unwrap();
    let e = err(kit.tasks.start(&alice, generate("415", 3)).await);
    assert_eq!(e.code(), "rate_limited");
    assert_eq!(e.retry_after(), Some(ACTIVE_TASKS_RETRY_AFTER));
    assert_eq!(kit.tasks.active(&alice).await.unwrap().len(), 2);
    // Per user.
    kit.tasks.start(&bob, generate("415", 3)).await.unwrap();

    // Cancelling a queued task ends it at once and frees its place.
    assert_eq!(tasks_ws.next().await["type"], "task_created");
    assert_eq!(tasks_ws.next().await["type"], "task_created");
    assert_eq!(kit.tasks.cancel(&alice, first.id).await.unwrap(), first.id);
    let cancelled = tasks_ws.next().await;
    assert_eq!(cancelled["type"], "task_cancelled");
    assert_eq!(cancelled["task"]["id"], first.id);
    assert_eq!(cancelled["task"]["status"], "cancelled");
    kit.tasks.start(&alice, generate("415", 3)).await.unwrap();
}

/// Waits for the first progress push of `task_id` (the task is then running).
async fn until_running(ws: &mut testkit::Listener, task_id: i64) {
    loop {
        let f = ws.next_of("task_progress").await;
        if f["task_id"] == task_id {
            return;
        }
    }
}

#[tokio::test]
async fn cancel_ends_a_queued_task_at_once_and_a_running_one_with_its_partial_result() {
    // One task at a time per user, each pausing after every progress report (every 1000
    // numbers), so the big one is still running when it is cancelled.
    let kit = kit_with(limits(|l| {
        l.per_user = 1;
        l.slowdown = Duration::from_millis(20);
    }))
    .await;
    let alice = kit.user("alice").await;
    let mut tasks_ws = kit.listen(Endpoint::Tasks, alice.id);
    let big = kit
        .tasks
        .start(&alice, generate("415", 100_000))
        .await
        .unwrap();
    let small = kit.tasks.start(&alice, generate("212", 5)).await.unwrap();
    until_running(&mut tasks_ws, big.id).await;
    assert_eq!(
        kit.tasks.get(&alice, big.id).await.unwrap().status,
        TaskStatus::Running
    );
    assert_eq!(
        kit.tasks.get(&alice, small.id).await.unwrap().status,
        TaskStatus::Queued
    );
    let early = err(kit.tasks.result(&alice, big.id, false, None).await);
    assert_eq!(early.code(), "conflict");

    assert_eq!(kit.tasks.cancel(&alice, small.id).await.unwrap(), small.id);
    let cancelled = tasks_ws.next_of("task_cancelled").await;
    assert_eq!(cancelled["task"]["id"], small.id);
    assert_eq!(cancelled["task"]["status"], "cancelled");

    assert_eq!(kit.tasks.cancel(&alice, big.id).await.unwrap(), big.id);
    let cancelled = tasks_ws.next_of("task_cancelled").await;
    assert_eq!(cancelled["task"]["id"], big.id);
    assert_eq!(cancelled["task"]["status"], "cancelled");
    let processed = cancelled["task"]["processed"].as_i64().unwrap();
    assert!(processed < 100_000, "stopped early: {processed}");
    assert!(cancelled["task"]["progress"].as_i64().unwrap() < 100);

    // The partial result is kept, and matches the count.
    let partial = json_of(kit.tasks.result(&alice, big.id, false, None).await.unwrap());
    assert_eq!(
        partial["numbers"].as_array().unwrap().len() as i64,
        processed
    );
    let csv = csv_of(kit.tasks.result(&alice, big.id, true, None).await.unwrap());
    assert_eq!(csv.lines().count() as i64, processed + 1);
    let again = err(kit.tasks.cancel(&alice, big.id).await);
    assert!(
        matches!(&again, AppError::Conflict(m) if m.contains("cancelled")),
        "{again:?}"
    );
    // The cancelled queued task never ran.
    let small = kit.tasks.get(&alice, small.id).await.unwrap();
    assert_eq!(
        (small.status.as_str(), small.started_at),
        ("cancelled", None)
    );
    // The owner cancelled both: no notification tells them what they did.
    let notes = kit.notifications.list(&alice, false, None).await.unwrap();
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn another_users_task_is_not_found() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let mut tasks_ws = kit.listen(Endpoint::Tasks, alice.id);
    let mut bob_ws = kit.listen(Endpoint::Tasks, bob.id);
    let task = kit.tasks.start(&alice, generate("415", 2)).await.unwrap();
    tasks_ws.next_of("task_completed").await;

    assert_eq!(err_code(kit.tasks.get(&bob, task.id).await), "not_found");
    assert_eq!(err_code(kit.tasks.cancel(&bob, task.id).await), "not_found");
    let result = kit.tasks.result(&bob, task.id, false, None).await;
    assert!(matches!(result, Err(AppError::NotFound(_))));
    assert!(kit
        .tasks
        .list(&bob, GetTasks::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        err_code(kit.tasks.get(&alice, task.id + 1000).await),
        "not_found"
    );
    // Bob heard nothing of it.
    bob_ws.assert_quiet();
}

#[tokio::test]
async fn a_task_left_running_is_interrupted_when_the_service_starts() {
    // The store as a stopped server left it: one task running, one completed.
    let db = testkit::store();
    let (user, running, completed) = db
        .call(|c| {
            let user = users::insert(c, "alice", "Alice", None, false, false)?;
            let params = json!({ "area_code": "415", "quantity": 10 });
            let running = task_store::insert(c, user.id, "generate_numbers", &params, 10)?;
            // Its node crashed: the lease ran out.
            assert!(task_store::mark_running(
                c,
                running.id,
                DEAD_NODE,
                expired()
            )?);
            task_store::set_progress(c, running.id, 40, 4, 10)?;
            let done = task_store::insert(c, user.id, "generate_numbers", &params, 10)?;
            assert!(task_store::mark_running(c, done.id, DEAD_NODE, expired())?);
            let summary = json!({ "area_code": "415", "count": 10 });
            task_store::finish(
                c,
                done.id,
                TaskStatus::Completed,
                100,
                10,
                None,
                Some(&summary),
                None,
            )?;
            Ok((user, running.id, done.id))
        })
        .await
        .unwrap();

    let kit = Kit::start(db, Options::default()).await;
    let t = kit.tasks.get(&user, running).await.unwrap();
    assert_eq!(t.status, TaskStatus::Interrupted);
    assert_eq!((t.progress, t.processed, t.total), (40, 4, 10));
    assert!(t.finished_at.is_some());
    assert_eq!(
        kit.tasks.get(&user, completed).await.unwrap().status,
        TaskStatus::Completed
    );
    // Not restarted.
    assert!(kit.tasks.active(&user).await.unwrap().is_empty());
    // The owner is told in their inbox.
    let notes = kit.notifications.list(&user, false, None).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].data,
        json!({ "task_id": running, "status": "interrupted", "kind": "generate_numbers" })
    );
}

/// `task_created` reaches the owner before anything the runner says of the task, however the
/// scheduler's scans fall (many starts at once, each finish kicking a scan). Before the
/// announce gate a scan that listed a task between its insert and its push sent
/// `task_progress` first; the window is narrow, so this is a stress check, and the first test
/// above checks the order of a single task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_created_comes_before_anything_else_about_a_task() {
    let kit = kit_with(limits(|l| {
        l.workers = 4;
        l.per_user = 4;
        l.max_active = 100;
    }))
    .await;
    let alice = kit.user("alice").await;
    let mut tasks_ws = kit.listen(Endpoint::Tasks, alice.id);
    const N: usize = 40;
    let starts = (0..N).map(|_| {
        let tasks = kit.tasks.clone();
        let alice = alice.clone();
        tokio::spawn(async move { tasks.start(&alice, generate("415", 1)).await })
    });
    for s in starts.collect::<Vec<_>>() {
        s.await.unwrap().unwrap();
    }
    let mut announced = std::collections::HashSet::new();
    let mut completed = 0;
    while completed < N {
        let f = tasks_ws.next().await;
        let id = match f["type"].as_str() {
            Some("task_created") => {
                announced.insert(f["task"]["id"].as_i64().unwrap());
                continue;
            }
            Some("task_progress") => f["task_id"].as_i64(),
            Some("task_completed") => {
                completed += 1;
                f["task"]["id"].as_i64()
            }
            other => panic!("unexpected {other:?}: {f}"),
        };
        assert!(
            announced.contains(&id.unwrap()),
            "a frame about task {id:?} before its task_created: {f}"
        );
    }
}

// Several nodes over one database: here, two kits (each its own runner, node id and hub) over
// one store.

/// Polls a task until it has status `want`; fails the test after `within`, naming the status it
/// had.
async fn await_status(kit: &Kit, user: &User, id: i64, want: TaskStatus, within: Duration) -> Task {
    let deadline = Instant::now() + within;
    loop {
        let t = kit.tasks.get(user, id).await.unwrap();
        if t.status == want {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "task {id} still {} after {within:?}, expected {want}",
            t.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The node recorded in a task's row.
async fn node_of(kit: &Kit, id: i64) -> Option<i64> {
    kit.db
        .call(move |c| Ok(c.query_row("SELECT node FROM tasks WHERE id = ?1", [id], |r| r.get(0))?))
        .await
        .unwrap()
}

/// Lets a kit's start-up scans for queued tasks (kicked at start) pass, so that a task queued
/// afterwards is found only by the periodic scan. Not a wait for the outcome under test: on a
/// slow machine the scans may still come later, which lets the test pass without polling, never
/// fail with it.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// One slow task at a time per node (a pause of 50 ms after every 1000 numbers: 100 000 take
/// over 5 s).
fn one_slow_worker() -> Options {
    limits(|l| {
        l.workers = 1;
        l.slowdown = Duration::from_millis(50);
    })
}

#[tokio::test]
async fn a_starting_node_interrupts_only_tasks_without_a_live_lease() {
    let db = testkit::store();
    let a = Kit::start(db.clone(), one_slow_worker()).await;
    let alice = a.user("alice").await;
    let mut ws = a.listen(Endpoint::Tasks, alice.id);
    let live = a
        .tasks
        .start(&alice, generate("415", 100_000))
        .await
        .unwrap();
    until_running(&mut ws, live.id).await;
    // Left running by a node that died (its lease ran out), and by a version without leases.
    let params = json!({ "area_code": "415", "quantity": 10 });
    let (dead, legacy) = db
        .call(move |c| {
            let dead = task_store::insert(c, alice.id, "generate_numbers", &params, 10)?;
            assert!(task_store::mark_running(c, dead.id, DEAD_NODE, expired())?);
            let legacy = task_store::insert(c, alice.id, "generate_numbers", &params, 10)?;
            c.execute(
                "UPDATE tasks SET status = 'running', started_at = 0 WHERE id = ?1",
                [legacy.id],
            )?;
            Ok((dead.id, legacy.id))
        })
        .await
        .unwrap();

    let b = Kit::start(db.clone(), Options::default()).await;
    assert_eq!(
        b.tasks.get(&alice, live.id).await.unwrap().status,
        TaskStatus::Running
    );
    assert_eq!(
        node_of(&b, live.id).await,
        Some(a.tasks.shared.runner.node())
    );
    for id in [dead, legacy] {
        let t = b.tasks.get(&alice, id).await.unwrap();
        assert_eq!(t.status, TaskStatus::Interrupted, "task {id}");
        assert!(t.finished_at.is_some());
    }
    // A's task is A's to end.
    a.tasks.cancel(&alice, live.id).await.unwrap();
    await_status(
        &a,
        &alice,
        live.id,
        TaskStatus::Cancelled,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn cancel_through_another_node_stops_the_task_within_a_second() {
    let db = testkit::store();
    let a = Kit::start(db.clone(), one_slow_worker()).await;
    let alice = a.user("alice").await;
    let mut ws = a.listen(Endpoint::Tasks, alice.id);
    let big = a
        .tasks
        .start(&alice, generate("415", 100_000))
        .await
        .unwrap();
    until_running(&mut ws, big.id).await;
    let b = Kit::start(db.clone(), Options::default()).await;

    let asked = Instant::now();
    assert_eq!(b.tasks.cancel(&alice, big.id).await.unwrap(), big.id);
    // A's runner notices and ends it as a local cancel does, pushing to A's sockets.
    let cancelled = ws.next_of("task_cancelled").await;
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(2), "stopped after {took:?}");
    assert_eq!(cancelled["task"]["id"], big.id);
    assert_eq!(cancelled["task"]["status"], "cancelled");
    let processed = cancelled["task"]["processed"].as_i64().unwrap();
    assert!(processed < 100_000, "stopped early: {processed}");
    let partial = json_of(b.tasks.result(&alice, big.id, false, None).await.unwrap());
    assert_eq!(
        partial["numbers"].as_array().unwrap().len() as i64,
        processed
    );
}

#[tokio::test]
async fn a_task_queued_on_a_full_node_runs_on_another() {
    let db = testkit::store();
    let a = Kit::start(db.clone(), one_slow_worker()).await;
    let alice = a.user("alice").await;
    let mut ws = a.listen(Endpoint::Tasks, alice.id);
    let big = a
        .tasks
        .start(&alice, generate("415", 100_000))
        .await
        .unwrap();
    until_running(&mut ws, big.id).await;
    // B is up before the task is queued, so nothing kicks its scheduler: it finds the task by
    // looking.
    let b = Kit::start(db.clone(), Options::default()).await;
    settle().await;
    let small = a.tasks.start(&alice, generate("212", 3)).await.unwrap();
    let done = await_status(
        &b,
        &alice,
        small.id,
        TaskStatus::Completed,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(done.processed, 3);
    assert_eq!(
        node_of(&b, small.id).await,
        Some(b.tasks.shared.runner.node())
    );
    assert_eq!(
        a.tasks.get(&alice, big.id).await.unwrap().status,
        TaskStatus::Running
    );
    a.tasks.cancel(&alice, big.id).await.unwrap();
    await_status(
        &a,
        &alice,
        big.id,
        TaskStatus::Cancelled,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn a_task_queued_on_a_stopped_node_runs_on_another() {
    let db = testkit::store();
    let a = Kit::start(db.clone(), Options::default()).await;
    let b = Kit::start(db.clone(), Options::default()).await;
    a.tasks.stop();
    settle().await;
    let alice = a.user("alice").await;
    let task = a.tasks.start(&alice, generate("415", 3)).await.unwrap();
    await_status(
        &b,
        &alice,
        task.id,
        TaskStatus::Completed,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        node_of(&b, task.id).await,
        Some(b.tasks.shared.runner.node())
    );
}

/// Waits up to `runner::SWEEP_EVERY` (10 s) for the sweep.
#[tokio::test]
async fn a_dead_nodes_task_is_interrupted_by_the_sweep_and_its_owner_told() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let mut tasks_ws = kit.listen(Endpoint::Tasks, alice.id);
    let mut notes_ws = kit.listen(Endpoint::Notifications, alice.id);
    // A node that died after this one started: its lease ran out.
    let params = json!({ "area_code": "415", "quantity": 10 });
    let id = kit
        .db
        .call(move |c| {
            let t = task_store::insert(c, alice.id, "generate_numbers", &params, 10)?;
            assert!(task_store::mark_running(c, t.id, DEAD_NODE, expired())?);
            task_store::set_progress(c, t.id, 40, 4, 10)?;
            Ok(t.id)
        })
        .await
        .unwrap();
    let ended = tasks_ws.next_of("task_cancelled").await;
    assert_eq!(ended["task"]["id"], id);
    assert_eq!(ended["task"]["status"], "interrupted");
    assert_eq!(ended["task"]["processed"], 4);
    let note = notes_ws.next_of("notification").await;
    assert_eq!(
        note["notification"]["data"],
        json!({ "task_id": id, "status": "interrupted", "kind": "generate_numbers" })
    );
    // Not restarted.
    assert!(kit.tasks.active(&alice).await.unwrap().is_empty());
}
