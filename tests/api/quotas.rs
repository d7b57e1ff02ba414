//! Per-user quotas (finding 8): active tasks, REST writes per second, rooms per hour. Each
//! answers `rate_limited`, with `Retry-After` over REST and `retry_after_ms` over the socket.

use crate::helpers::*;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;

/// A 429 `rate_limited` with a `Retry-After` of whole seconds; returns (seconds, body).
async fn expect_rate_limited(resp: reqwest::Response) -> (u64, Value) {
    let after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = expect_error(resp, 429, "rate_limited").await;
    let after = after.unwrap_or_else(|| panic!("a numeric Retry-After header: {body}"));
    assert!(after >= 1, "{after}");
    (after, body)
}

/// A socket `error` frame `rate_limited` with a `retry_after_ms`; returns the milliseconds.
fn socket_rate_limited(frame: &Value) -> u64 {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], "rate_limited", "{frame}");
    assert!(frame.get("close_code").is_none(), "recoverable: {frame}");
    frame["retry_after_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("retry_after_ms: {frame}"))
}

#[tokio::test]
async fn active_tasks_per_user_are_capped_even_when_started_at_once() {
    const MAX: usize = 3;
    let app = spawn_app_with(|c| {
        c.max_active_tasks_per_user = MAX;
        // 100 requests at once are over the REST write rate: lift it, to see this quota alone.
        c.rest_writes_per_second = 1000;
        c.task_per_user = 1;
        // Slow enough that no task ends during the test.
        c.task_slowdown = Duration::from_millis(200);
    })
    .await;
    let u = app.register("hoarder").await;
    let other = app.register("bystander").await;
    let body =
        json!({"kind": "generate_numbers", "params": {"area_code": "415", "quantity": 100000}});
    let answers =
        join_all((0..100).map(|_| app.post("/api/tasks", Some(&u.token), body.clone()))).await;
    let mut accepted = 0;
    for resp in answers {
        if resp.status() == 202 {
            accepted += 1;
            continue;
        }
        let (after, body) = expect_rate_limited(resp).await;
        assert!(after <= 10, "a few seconds: {after}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("at most {MAX}")), "{message}");
    }
    assert_eq!(
        accepted, MAX,
        "at most {MAX} of 100 concurrent starts are accepted"
    );
    let queued: Value = app
        .get("/api/tasks?status=queued", Some(&u.token))
        .await
        .json()
        .await
        .unwrap();
    let queued = queued["tasks"].as_array().cloned().unwrap_or_default();
    let listed: Value = app
        .get("/api/tasks", Some(&u.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["tasks"].as_array().map(Vec::len),
        Some(MAX),
        "{listed}"
    );

    // The socket's start_task is the same operation, with the same limit.
    let mut ws = app.ws_ready("/ws/tasks/", &u.token).await;
    ws.next_of("task_list").await;
    let start = json!({"type": "start_task", "kind": "generate_numbers", "params": {"area_code": "415", "quantity": 10}});
    let refused = ws.request(start.clone()).await;
    let ms = socket_rate_limited(&refused);
    assert!((1000..=10_000).contains(&ms), "{refused}");

    // It counts active tasks, not tasks ever started: cancelling one makes room for one.
    let queued_id = queued
        .first()
        .and_then(|t| t["id"].as_i64())
        .expect("with one running at a time, the others wait as queued");
    let r = app
        .post_empty(&format!("/api/tasks/{queued_id}/cancel"), Some(&u.token))
        .await;
    assert_eq!(r.status(), 202);
    let created = ws.request(start.clone()).await;
    assert_eq!(created["type"], "task_created", "{created}");
    let again = ws.request(start).await;
    socket_rate_limited(&again);

    // Another user is not held back.
    let r = app.post("/api/tasks", Some(&other.token), body).await;
    assert_eq!(r.status(), 202);
    app.stop().await;
}

#[tokio::test]
async fn rest_writes_are_limited_per_user_at_the_socket_rate() {
    const RATE: u32 = 5;
    let app = spawn_app_with(|c| c.rest_writes_per_second = RATE).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "busy", false, &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/rooms/{room}/messages");
    // Far more than the burst (two seconds' worth), all at once.
    let began = std::time::Instant::now();
    let answers = join_all((0..40).map(|i| {
        app.post(
            &path,
            Some(&alice.token),
            json!({"content": format!("m{i}")}),
        )
    }))
    .await;
    let took = began.elapsed().as_secs_f64();
    let mut sent = 0;
    let mut refused = Vec::new();
    for resp in answers {
        match resp.status().as_u16() {
            201 => sent += 1,
            _ => refused.push(expect_rate_limited(resp).await),
        }
    }
    assert!(!refused.is_empty(), "40 sends at once were all accepted");
    // The burst (2 × RATE, one taken by the room) plus what refilled meanwhile.
    let refilled = (took * f64::from(RATE)).ceil() as usize;
    assert!(
        sent < 2 * RATE as usize + refilled,
        "{sent} accepted in {took:.2} s"
    );
    let (after, body) = &refused[0];
    assert!(*after <= 2, "{after}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("5 a second"),
        "{body}"
    );
    // Reads are not writes.
    assert_eq!(
        app.get("/api/rooms", Some(&alice.token)).await.status(),
        200
    );
    // Another user's writes are unaffected, even to the same room.
    for i in 0..5 {
        app.say(&bob, room, &format!("b{i}")).await;
    }
    // Other write routes count too (here an edit, PATCH), and recover after Retry-After.
    let mine = app.say(&bob, room, "mine").await;
    let edit = |token: String| {
        let url = app.url(&format!("/api/messages/{}", mine["id"]));
        app.http
            .patch(url)
            .bearer_auth(token)
            .json(&json!({"content": "edited"}))
            .send()
    };
    let edited = join_all((0..3 * RATE).map(|_| edit(bob.token.clone()))).await;
    let edited: Vec<_> = edited.into_iter().map(|r| r.expect("sent")).collect();
    assert!(edited.iter().any(|r| r.status() == 429), "PATCH is counted");
    tokio::time::sleep(Duration::from_secs(*after)).await;
    app.say(&alice, room, "after the wait").await;
    // Logging out is never refused.
    for _ in 0..3 * RATE {
        let _ = app
            .post(&path, Some(&alice.token), json!({"content": "x"}))
            .await;
    }
    let r = app.post_empty("/api/auth/logout", Some(&alice.token)).await;
    assert_eq!(r.status(), 204);
    app.stop().await;
}

#[tokio::test]
async fn rooms_per_hour_are_limited_over_both_transports() {
    const PER_HOUR: u32 = 3;
    let app = spawn_app_with(|c| c.rooms_per_hour = PER_HOUR).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    // A refused creation does not count.
    let r = app
        .post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "x", "members": ["nobody-here"]}),
        )
        .await;
    expect_error(r, 400, "validation_failed").await;
    // Members given at creation are capped.
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let r = app
        .post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "x", "members": many}),
        )
        .await;
    let v = expect_error(r, 400, "validation_failed").await;
    assert!(v["error"]["fields"]["members"].is_string(), "{v}");
    for i in 0..PER_HOUR {
        app.create_room(&alice, &format!("room {i}"), false, &["bob"])
            .await;
    }
    let r = app
        .post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "one too many"}),
        )
        .await;
    let (after, body) = expect_rate_limited(r).await;
    assert!(
        (3000..=3600).contains(&after),
        "until the hour's window ends: {after}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("3 new rooms per hour"),
        "{body}"
    );
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let refused = ws
        .request(json!({"type": "create_room", "name": "over the socket"}))
        .await;
    let ms = socket_rate_limited(&refused);
    assert!((3_000_000..=3_600_000).contains(&ms), "{refused}");
    // Direct rooms are not group rooms: one per pair of users, not counted.
    let direct = ws
        .request(json!({"type": "open_direct", "username": "bob"}))
        .await;
    assert_eq!(direct["type"], "room", "{direct}");
    // Another user has their own allowance.
    app.create_room(&bob, "bob's", false, &[]).await;
    let rooms: Value = app
        .get("/api/rooms", Some(&alice.token))
        .await
        .json()
        .await
        .unwrap();
    let groups = rooms["rooms"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["kind"] == "group").count());
    assert_eq!(groups, Some(PER_HOUR as usize));
    app.stop().await;
}

async fn login(app: &TestApp, password: &str) -> reqwest::Response {
    app.post(
        "/api/auth/login",
        None,
        json!({"username": "ivy", "password": password}),
    )
    .await
}

/// Issue 12, point 7: the failed-login count is kept in the database, so a restart (or another
/// node on the same database) does not hand a password guesser a fresh allowance.
#[tokio::test]
async fn failed_login_limit_survives_a_restart_on_the_same_database() {
    const MAX: u32 = 3;
    // A database that outlives the server: a fresh PostgreSQL database with `pg-tests`, else a
    // SQLite file.
    let dir = std::env::temp_dir().join(format!(
        "hearth-quota-restart-{}-{}",
        std::process::id(),
        rand_id()
    ));
    let db = if cfg!(feature = "pg-tests") {
        fresh_db().await
    } else {
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("quotas.db").to_str().unwrap().to_string()
    };
    let d = db.clone();
    let app = spawn_app_with(move |c| {
        c.db = d;
        c.login_max_failures = MAX;
    })
    .await;
    app.register("ivy").await;
    for i in 0..MAX {
        let r = login(&app, &format!("wrong-{i}")).await;
        expect_error(r, 401, "unauthenticated").await;
    }
    app.stop().await;

    let d = db.clone();
    let app = spawn_app_with(move |c| {
        c.db = d;
        c.login_max_failures = MAX;
    })
    .await;
    // Even the right password is not checked: the window has not ended.
    let r = login(&app, "password123").await;
    let (after, body) = expect_rate_limited(r).await;
    assert!(after > 1, "most of the window is left: {after}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too many failed logins"),
        "{body}"
    );
    // Another username is not held back.
    app.register("jay").await;
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
