//! Background tasks over both transports, and notifications.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

async fn start_rest(app: &TestApp, u: &TestUser, kind: &str, params: Value) -> Value {
    let r = app
        .post(
            "/api/tasks",
            Some(&u.token),
            json!({"kind": kind, "params": params}),
        )
        .await;
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["task"].clone()
}

/// Reads task events for `task_id` until it ends; returns (progress values, final event).
async fn follow(ws: &mut WsClient, task_id: i64) -> (Vec<Value>, Value) {
    let mut progress = Vec::new();
    loop {
        let f = ws.next_json().await;
        let id = f["task_id"].as_i64().or(f["task"]["id"].as_i64());
        if id != Some(task_id) {
            continue;
        }
        match f["type"].as_str().unwrap() {
            "task_progress" => progress.push(f),
            "task_completed" | "task_failed" | "task_cancelled" => return (progress, f),
            _ => {}
        }
    }
}

#[tokio::test]
async fn generate_numbers_runs_with_live_progress_and_a_result() {
    let app = spawn_app_with(|c| c.task_slowdown = Duration::from_millis(5)).await;
    let u = app.register("alice").await;
    let mut ws = app.ws_ready("/ws/tasks/", &u.token).await;
    let snapshot = ws.next_json().await;
    assert_eq!(snapshot["type"], "task_list");
    assert_eq!(snapshot["tasks"], json!([]));
    let task = start_rest(
        &app,
        &u,
        "generate_numbers",
        json!({"area_code": "415", "quantity": 5000}),
    )
    .await;
    assert_eq!(task["status"], "queued");
    assert_eq!(task["kind"], "generate_numbers");
    assert_eq!(task["params"]["quantity"], 5000);
    for k in [
        "id",
        "progress",
        "processed",
        "total",
        "result_summary",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ] {
        assert!(task.get(k).is_some(), "task has {k}");
    }
    let id = task["id"].as_i64().unwrap();
    let created = ws.next_of("task_created").await;
    assert_eq!(created["task"]["id"], id);
    let (progress, end) = follow(&mut ws, id).await;
    assert_eq!(end["type"], "task_completed", "{end}");
    let pct: Vec<i64> = progress
        .iter()
        .map(|p| p["progress"].as_i64().unwrap())
        .collect();
    assert!(pct.windows(2).all(|w| w[0] <= w[1]), "monotonic: {pct:?}");
    assert_eq!(*pct.last().unwrap(), 100);
    assert_eq!(progress.last().unwrap()["processed"], 5000);
    let done = &end["task"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["result_summary"]["count"], 5000);
    assert!(done["finished_at"].as_str().unwrap().ends_with('Z'));

    let result: Value = app
        .get(&format!("/api/tasks/{id}/result"), Some(&u.token))
        .await
        .json()
        .await
        .unwrap();
    let numbers = result["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 5000);
    let set: HashSet<&str> = numbers.iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(set.len(), 5000, "distinct");
    for n in &set {
        assert!(n.starts_with("+1415") && n.len() == 12, "{n}");
        // Valid by libphonenumber's data (which, unlike the old hand-written rules, has
        // N11 exchanges in use in 415), landline or mobile, never 555-01XX.
        let v = hearth::tasks::nanp::validate_number(n);
        assert!(v.valid, "{n}: {:?}", v.reason);
        assert!(v.number_type.is_some_and(|t| t.is_geographic()), "{n}");
        assert_eq!(v.region.as_deref(), Some("US"));
    }
    let csv = app
        .get(
            &format!("/api/tasks/{id}/result?format=csv"),
            Some(&u.token),
        )
        .await;
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 5001);
    assert_eq!(csv.lines().next(), Some("number"));
}

#[tokio::test]
async fn validate_numbers_over_the_socket_with_tricky_inputs() {
    let app = spawn_app().await;
    let u = app.register("bob").await;
    let mut ws = app.ws_ready("/ws/tasks/", &u.token).await;
    ws.next_of("task_list").await;
    let table: &[(&str, Option<&str>)] = &[
        ("(415) 555-2671", Some("+14155552671")),
        ("415.555.2671", Some("+14155552671")),
        ("415-555-2671", Some("+14155552671")),
        ("+1 415 555 2671", Some("+14155552671")),
        ("1-415-555-2671", Some("+14155552671")),
        ("14155552671", Some("+14155552671")),
        ("4155552671", Some("+14155552671")),
        ("  212 200 0000 ", Some("+12122000000")),
        ("911-555-2671", None),                 // N11 area code
        ("015-555-2671", None),                 // area code starts with 0
        ("115-555-2671", None),                 // area code starts with 1
        ("415-055-2671", None),                 // exchange starts with 0
        ("415-155-2671", None),                 // exchange starts with 1
        ("415-911-2671", Some("+14159112671")), // N11 exchange: in use in 415 by the library's data
        ("373-234-5678", None),                 // area code not in service
        ("212-555-0123", None),                 // fictional
        ("(800) 234-5678", Some("+18002345678")),
        ("876-210-1234", Some("+18762101234")),
        ("415-555-267", None), // 9 digits
        ("+44 20 7946 0958", None),
        ("2-415-555-2671", None), // 11 digits not starting with 1
        ("415-555-CALL", None),
        ("", None),
        ("   ", None),
        ("415-555-2671 x12", None),
        ("415+555-2671", None),
    ];
    let inputs: Vec<&str> = table.iter().map(|(i, _)| *i).collect();
    let r = ws
        .request(json!({"type": "start_task", "kind": "validate_numbers", "params": {"numbers": inputs}}))
        .await;
    assert_eq!(r["type"], "task_created", "{r}");
    let id = r["task"]["id"].as_i64().unwrap();
    let (_, end) = follow(&mut ws, id).await;
    assert_eq!(end["type"], "task_completed");
    let valid = table.iter().filter(|(_, e)| e.is_some()).count();
    assert_eq!(end["task"]["result_summary"]["valid"], valid);
    assert_eq!(
        end["task"]["result_summary"]["invalid"],
        table.len() - valid
    );
    let result: Value = app
        .get(&format!("/api/tasks/{id}/result"), Some(&u.token))
        .await
        .json()
        .await
        .unwrap();
    let rows = result["results"].as_array().unwrap();
    assert_eq!(rows.len(), table.len());
    for (row, (input, e164)) in rows.iter().zip(table) {
        assert_eq!(row["input"], *input);
        assert_eq!(row["valid"], e164.is_some(), "{row}");
        assert_eq!(row["e164"].as_str(), *e164, "{row}");
        assert_eq!(row["reason"].is_string(), e164.is_none(), "{row}");
        assert_eq!(row["type"].is_string(), e164.is_some(), "{row}");
        assert_eq!(row["region"].is_string(), e164.is_some(), "{row}");
    }
    let row = |input: &str| rows.iter().find(|r| r["input"] == input).unwrap().clone();
    assert_eq!(row("(800) 234-5678")["type"], "toll_free");
    assert_eq!(row("876-210-1234")["region"], "JM");
    assert_eq!(row("876-210-1234")["type"], "mobile");
    assert_eq!(row("415-555-2671")["type"], "fixed_line_or_mobile");
    assert_eq!(row("415-555-2671")["region"], "US");
    assert_eq!(
        row("373-234-5678")["reason"],
        "area code 373 is not in service"
    );
    assert_eq!(
        row("212-555-0123")["reason"],
        "555-01XX numbers are fictional"
    );
    assert_eq!(
        end["task"]["result_summary"]["by_type"],
        json!({"fixed_line_or_mobile": valid - 2, "toll_free": 1, "mobile": 1})
    );
    let csv = app
        .get(
            &format!("/api/tasks/{id}/result?format=csv"),
            Some(&u.token),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("input,valid,e164,reason,type,region\n"));
    assert!(csv.contains("(415) 555-2671,true,+14155552671,,fixed_line_or_mobile,US\n"));
    assert!(csv.contains("415-555-CALL,false,,contains letters,,\n"));
    // Only one type: JSON and CSV.
    let only: Value = app
        .get(
            &format!("/api/tasks/{id}/result?type=toll_free"),
            Some(&u.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only["results"].as_array().unwrap().len(), 1, "{only}");
    assert_eq!(only["results"][0]["e164"], "+18002345678");
    let csv = app
        .get(
            &format!("/api/tasks/{id}/result?format=csv&type=mobile"),
            Some(&u.token),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv,
        "input,valid,e164,reason,type,region\n876-210-1234,true,+18762101234,,mobile,JM\n"
    );
    expect_error(
        app.get(
            &format!("/api/tasks/{id}/result?type=landline"),
            Some(&u.token),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    // get_task and get_tasks over the socket.
    let t = ws.request(json!({"type": "get_task", "task_id": id})).await;
    assert_eq!(t["task"]["status"], "completed");
    let l = ws
        .request(json!({"type": "get_tasks", "status": "completed"}))
        .await;
    assert_eq!(l["tasks"][0]["id"], id);
    let l = ws
        .request(json!({"type": "get_tasks", "status": "queued"}))
        .await;
    assert_eq!(l["tasks"], json!([]));
}

#[tokio::test]
async fn bulk_message_posts_real_messages_and_lists_failures() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let room: Value = app
        .post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "team", "members": ["bob"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let room_id = room["room"]["id"].as_i64().unwrap();
    let foreign: Value = app
        .post("/api/rooms", Some(&carol.token), json!({"name": "carols"}))
        .await
        .json()
        .await
        .unwrap();
    let foreign_id = foreign["room"]["id"].as_i64().unwrap();
    let mut bob_chat = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut tasks_ws = app.ws_ready("/ws/tasks/", &alice.token).await;
    let task = start_rest(
        &app,
        &alice,
        "bulk_message",
        json!({"content": "standup in 5", "room_ids": [room_id, foreign_id], "usernames": ["bob", "nobody"]}),
    )
    .await;
    let (_, end) = follow(&mut tasks_ws, task["id"].as_i64().unwrap()).await;
    assert_eq!(end["type"], "task_completed", "{end}");
    assert_eq!(end["task"]["result_summary"]["sent"], 2);
    assert_eq!(end["task"]["result_summary"]["failed"], 2);
    // Bob sees both messages live: in the room and in a direct room.
    let m1 = bob_chat.next_of("message").await;
    let m2 = bob_chat.next_of("message").await;
    let rooms: HashSet<i64> = [&m1, &m2]
        .iter()
        .map(|m| m["message"]["room_id"].as_i64().unwrap())
        .collect();
    assert!(rooms.contains(&room_id));
    assert_eq!(rooms.len(), 2);
    assert_eq!(m1["message"]["content"], "standup in 5");
    let result: Value = app
        .get(
            &format!("/api/tasks/{}/result", task["id"]),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let failed = result["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .any(|f| f["target"] == format!("room {foreign_id}") && f["code"] == "not_found"));
    assert!(failed
        .iter()
        .any(|f| f["target"] == "user nobody" && f["code"] == "validation_failed"));
    expect_error(
        app.get(
            &format!("/api/tasks/{}/result?format=csv", task["id"]),
            Some(&alice.token),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn cancel_stops_within_a_second_and_keeps_the_partial_result() {
    let app = spawn_app_with(|c| c.task_slowdown = Duration::from_millis(50)).await;
    let u = app.register("dave").await;
    let mut ws = app.ws_ready("/ws/tasks/", &u.token).await;
    ws.next_of("task_list").await;
    let r = ws
        .request(json!({"type": "start_task", "kind": "generate_numbers", "params": {"area_code": 212, "quantity": 100000}}))
        .await;
    let id = r["task"]["id"].as_i64().unwrap();
    // Wait until it has made some progress.
    loop {
        let f = ws.next_of("task_progress").await;
        if f["task_id"] == id && f["processed"].as_i64().unwrap() >= 2000 {
            break;
        }
    }
    let asked = std::time::Instant::now();
    let c = ws
        .request(json!({"type": "cancel_task", "task_id": id}))
        .await;
    assert_eq!(c["type"], "task_cancelling");
    assert_eq!(c["task_id"], id);
    let (_, end) = follow(&mut ws, id).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "stopped in {:?}",
        asked.elapsed()
    );
    assert_eq!(end["type"], "task_cancelled");
    let t = &end["task"];
    assert_eq!(t["status"], "cancelled");
    let processed = t["processed"].as_i64().unwrap();
    assert!((2000..100000).contains(&processed), "{t}");
    assert!(t["progress"].as_i64().unwrap() < 100);
    let result: Value = app
        .get(&format!("/api/tasks/{id}/result"), Some(&u.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        result["numbers"].as_array().unwrap().len() as i64,
        processed
    );
    // A finished task cannot be cancelled again.
    expect_error(
        app.post_empty(&format!("/api/tasks/{id}/cancel"), Some(&u.token))
            .await,
        409,
        "conflict",
    )
    .await;
}

#[tokio::test]
async fn a_third_task_waits_for_the_per_user_limit() {
    let app = spawn_app_with(|c| {
        c.task_per_user = 2;
        c.task_workers = 4;
        c.task_slowdown = Duration::from_millis(100);
    })
    .await;
    let u = app.register("erin").await;
    let other = app.register("frank").await;
    let mut ws = app.ws_ready("/ws/tasks/", &u.token).await;
    ws.next_of("task_list").await;
    let params = json!({"area_code": "646", "quantity": 100000});
    let t1 = start_rest(&app, &u, "generate_numbers", params.clone()).await["id"]
        .as_i64()
        .unwrap();
    let t2 = start_rest(&app, &u, "generate_numbers", params.clone()).await["id"]
        .as_i64()
        .unwrap();
    // Both report progress: both are running.
    let mut running = HashSet::new();
    while running.len() < 2 {
        let f = ws.next_of("task_progress").await;
        running.insert(f["task_id"].as_i64().unwrap());
    }
    let t3 = start_rest(&app, &u, "generate_numbers", params.clone()).await["id"]
        .as_i64()
        .unwrap();
    // Another user is not held back by erin's limit.
    let f1 = start_rest(
        &app,
        &other,
        "generate_numbers",
        json!({"area_code": "646", "quantity": 10}),
    )
    .await;
    let mut fws = app.ws_ready("/ws/tasks/", &other.token).await;
    let snap = fws.next_json().await;
    assert_eq!(snap["type"], "task_list");
    if !snap["tasks"].as_array().unwrap().is_empty() {
        follow(&mut fws, f1["id"].as_i64().unwrap()).await;
    }
    let t: Value = app
        .get(&format!("/api/tasks/{t3}"), Some(&u.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["task"]["status"], "queued");
    // The snapshot on a new socket lists all three as active.
    let mut ws2 = app.ws_ready("/ws/tasks/", &u.token).await;
    let snap = ws2.next_json().await;
    let ids: Vec<i64> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![t1, t2, t3]);
    // Freeing a slot starts the third.
    let c = app
        .post_empty(&format!("/api/tasks/{t1}/cancel"), Some(&u.token))
        .await;
    assert_eq!(c.status(), 202);
    let mut saw_cancel = false;
    loop {
        let f = ws.next_json().await;
        if f["type"] == "task_cancelled" && f["task"]["id"] == t1 {
            saw_cancel = true;
        }
        if f["type"] == "task_progress" && f["task_id"] == t3 {
            assert!(saw_cancel, "t3 started only after t1 ended");
            break;
        }
    }
    for id in [t2, t3] {
        app.post_empty(&format!("/api/tasks/{id}/cancel"), Some(&u.token))
            .await;
    }
}

#[tokio::test]
async fn strangers_cannot_see_cancel_or_fetch_and_bad_params_are_refused() {
    let app = spawn_app().await;
    let u = app.register("gina").await;
    let stranger = app.register("hank").await;
    let t = start_rest(
        &app,
        &u,
        "generate_numbers",
        json!({"area_code": "303", "quantity": 3}),
    )
    .await;
    let id = t["id"].as_i64().unwrap();
    let s = Some(stranger.token.as_str());
    expect_error(
        app.get(&format!("/api/tasks/{id}"), s).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(&format!("/api/tasks/{id}/result"), s).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.post_empty(&format!("/api/tasks/{id}/cancel"), s).await,
        404,
        "not_found",
    )
    .await;
    let list: Value = app.get("/api/tasks", s).await.json().await.unwrap();
    assert_eq!(list["tasks"], json!([]));
    let mut ws = app.ws_ready("/ws/tasks/", &stranger.token).await;
    ws.next_of("task_list").await;
    assert_eq!(
        ws.request(json!({"type": "get_task", "task_id": id})).await["code"],
        "not_found"
    );
    assert_eq!(
        ws.request(json!({"type": "cancel_task", "task_id": id}))
            .await["code"],
        "not_found"
    );

    let bad: &[(&str, Value)] = &[
        ("nope", json!({})),
        (
            "generate_numbers",
            json!({"area_code": "911", "quantity": 5}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "123", "quantity": 5}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "41", "quantity": 5}),
        ),
        // Not in service, fictional, toll-free, premium rate, personal numbers.
        (
            "generate_numbers",
            json!({"area_code": "373", "quantity": 5}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "555", "quantity": 5}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "800", "quantity": 5}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "900", "quantity": 5}),
        ),
        ("generate_numbers", json!({"area_code": 500, "quantity": 5})),
        (
            "generate_numbers",
            json!({"area_code": "415", "quantity": 0}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "415", "quantity": 100001}),
        ),
        (
            "generate_numbers",
            json!({"area_code": "415", "quantity": "ten"}),
        ),
        ("generate_numbers", json!({"quantity": 5})),
        ("validate_numbers", json!({})),
        ("validate_numbers", json!({"numbers": []})),
        ("validate_numbers", json!({"numbers": [1, 2]})),
        ("validate_numbers", json!({"numbers": "4155552671"})),
        ("bulk_message", json!({"content": "hi"})),
        ("bulk_message", json!({"content": "   ", "room_ids": [1]})),
        ("bulk_message", json!({"content": "hi", "room_ids": ["x"]})),
        ("bulk_message", json!({"content": "hi", "usernames": [5]})),
        ("bulk_message", json!({"room_ids": [1]})),
    ];
    for (kind, params) in bad {
        let r = app
            .post(
                "/api/tasks",
                Some(&u.token),
                json!({"kind": kind, "params": params}),
            )
            .await;
        expect_error(r, 400, "validation_failed").await;
        let e = ws
            .request(json!({"type": "start_task", "kind": kind, "params": params}))
            .await;
        assert_eq!(e["code"], "validation_failed", "{kind} {params}");
    }
    // The refusal says why.
    for (code, why) in [
        ("373", "area code 373 is not in service"),
        (
            "900",
            "area code 900 is for premium rate numbers, not a geographic area code",
        ),
    ] {
        let r = app
            .post(
                "/api/tasks",
                Some(&u.token),
                json!({"kind": "generate_numbers", "params": {"area_code": code, "quantity": 5}}),
            )
            .await;
        let e = expect_error(r, 400, "validation_failed").await;
        assert_eq!(e["error"]["fields"]["area_code"], why, "{e}");
    }
    expect_error(
        app.post("/api/tasks", Some(&u.token), json!({"params": {}}))
            .await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/api/tasks?status=bogus", Some(&u.token)).await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/api/tasks?limit=0", Some(&u.token)).await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/api/tasks/abc", Some(&u.token)).await,
        404,
        "not_found",
    )
    .await;
    expect_error(app.get("/api/tasks", None).await, 401, "unauthenticated").await;
    // Task frames are not handled on the chat socket.
    let mut chat = app.ws_ready("/ws/chat/", &u.token).await;
    assert_eq!(
        chat.request(json!({"type": "get_tasks"})).await["code"],
        "unknown_type"
    );
}

#[tokio::test]
async fn restart_recovery_on_a_file_database() {
    let dir = std::env::temp_dir().join(format!(
        "hearth-restart-{}-{}",
        std::process::id(),
        rand_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tasks.db").to_str().unwrap().to_string();
    let p = path.clone();
    let app = spawn_app_with(move |c| c.db = p).await;
    let u = app.register("ivy").await;
    app.stop().await;
    // What a crashed process leaves behind: one task running at 40 %, one queued.
    {
        let db = hearth::db::Db::open(&path).unwrap();
        let c = db.conn().unwrap();
        c.execute(
            "INSERT INTO tasks (user_id, kind, params, status, progress, processed, total, created_at, started_at)
             VALUES (?1, 'generate_numbers', '{\"area_code\":\"415\",\"quantity\":3000}', 'running', 40, 1200, 3000, 0, 0)",
            [u.id],
        )
        .unwrap();
        c.execute(
            "INSERT INTO tasks (user_id, kind, params, status, total, created_at)
             VALUES (?1, 'generate_numbers', '{\"area_code\":\"415\",\"quantity\":3000}', 'queued', 3000, 0)",
            [u.id],
        )
        .unwrap();
    }
    let p = path.clone();
    let app = spawn_app_with(move |c| {
        c.db = p;
        c.task_slowdown = Duration::from_millis(500);
    })
    .await;
    let token: Value = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "ivy", "password": "password123"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let mut ws = app.ws_ready("/ws/tasks/", &token).await;
    let snap = ws.next_json().await;
    let active = snap["tasks"].as_array().unwrap();
    assert_eq!(active.len(), 1, "only the queued task is active: {snap}");
    let queued_id = active[0]["id"].as_i64().unwrap();
    let (_, end) = follow(&mut ws, queued_id).await;
    assert_eq!(end["type"], "task_completed");
    let list: Value = app
        .get("/api/tasks", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let interrupted = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == "interrupted")
        .expect("interrupted task");
    assert_eq!(interrupted["progress"], 40);
    assert_eq!(interrupted["processed"], 1200);
    assert!(interrupted["finished_at"].is_string());
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn notifications_for_direct_messages_mentions_and_task_ends() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut bob_notes = app
        .ws_ready(&format!("/ws/notifications/{}/", bob.id), &bob.token)
        .await;
    // A direct message from someone else.
    let dm: Value = app
        .post(
            "/api/rooms/direct",
            Some(&alice.token),
            json!({"username": "bob"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let dm_id = dm["room"]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/rooms/{dm_id}/messages"),
        Some(&alice.token),
        json!({"content": "psst bob"}),
    )
    .await;
    let n = bob_notes.next_of("notification").await;
    assert_eq!(n["notification"]["kind"], "direct_message");
    assert_eq!(n["notification"]["data"]["room_id"], dm_id);
    assert_eq!(n["notification"]["read"], false);
    assert!(n["notification"]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // One's own direct message notifies nobody else but the other side.
    app.post(
        &format!("/api/rooms/{dm_id}/messages"),
        Some(&bob.token),
        json!({"content": "hi"}),
    )
    .await;
    // A mention in a shared room (and none for a user outside it).
    let room: Value = app
        .post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "g", "members": ["bob"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let rid = room["room"]["id"].as_i64().unwrap();
    let carol = app.register("carol").await;
    app.post(
        &format!("/api/rooms/{rid}/messages"),
        Some(&alice.token),
        json!({"content": "@bob and @carol, look"}),
    )
    .await;
    let n = bob_notes.next_of("notification").await;
    assert_eq!(n["notification"]["kind"], "mention");
    let carol_list: Value = app
        .get("/api/notifications", Some(&carol.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(carol_list["notifications"], json!([]));
    // The end of one's own task.
    let t = start_rest(
        &app,
        &bob,
        "generate_numbers",
        json!({"area_code": "212", "quantity": 2}),
    )
    .await;
    let n = bob_notes.next_of("notification").await;
    assert_eq!(n["notification"]["kind"], "task");
    assert_eq!(n["notification"]["data"]["task_id"], t["id"]);
    // REST list, read, read-all.
    let list: Value = app
        .get("/api/notifications?unread=true", Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    let items = list["notifications"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    let first = items[0]["id"].as_i64().unwrap();
    let r: Value = app
        .post_empty(
            &format!("/api/notifications/{first}/read"),
            Some(&bob.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["notification"]["read"], true);
    expect_error(
        app.post_empty(
            &format!("/api/notifications/{first}/read"),
            Some(&alice.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let r: Value = app
        .post_empty("/api/notifications/read-all", Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["updated"], 2);
    let list: Value = app
        .get("/api/notifications?unread=true", Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["notifications"], json!([]));
    let all: Value = app
        .get("/api/notifications", Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["notifications"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn progress_is_pushed_at_most_ten_times_a_second() {
    // 40 progress reports 10 ms apart: without the throttle there would be ~40 pushes in
    // ~0.5 s, with it about 5.
    let app = spawn_app_with(|c| c.task_slowdown = Duration::from_millis(10)).await;
    let u = app.register("quinn").await;
    let mut ws = app.ws_ready("/ws/tasks/", &u.token).await;
    ws.next_of("task_list").await;
    let numbers: Vec<String> = (0..100_000)
        .map(|i| format!("415555{:04}", i % 10_000))
        .collect();
    let started = std::time::Instant::now();
    let t = start_rest(&app, &u, "validate_numbers", json!({"numbers": numbers})).await;
    let (progress, end) = follow(&mut ws, t["id"].as_i64().unwrap()).await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(end["type"], "task_completed");
    // At most one push per 100 ms, plus the first and the final 100.
    let allowed = (elapsed * 10.0).ceil() as usize + 2;
    assert!(
        progress.len() <= allowed,
        "{} pushes in {elapsed:.2} s",
        progress.len()
    );
    assert!(progress.len() >= 2);
    assert_eq!(progress.last().unwrap()["progress"], 100);
}

/// One database for two servers: a fresh PostgreSQL database with `--features pg-tests`, else a
/// SQLite file (`:memory:` is one database per server). The directory to remove, if any.
async fn shared_db() -> (String, Option<std::path::PathBuf>) {
    let db = fresh_db().await;
    if db.starts_with("postgres") {
        return (db, None);
    }
    let dir =
        std::env::temp_dir().join(format!("hearth-nodes-{}-{}", std::process::id(), rand_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tasks.db").to_str().unwrap().to_string();
    (path, Some(dir))
}

/// Runs `sql` (returning one BIGINT) on the database behind the servers' backs, on either
/// backend.
async fn sql_value(db: &str, sql: String) -> i64 {
    let db = db.to_string();
    tokio::task::spawn_blocking(move || {
        if db.starts_with("postgres") {
            let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
            c.query_one(&sql, &[]).unwrap().get(0)
        } else {
            let db = hearth::db::Db::open(&db).unwrap();
            let c = db.conn().unwrap();
            c.query_row(&sql, [], |r| r.get(0)).unwrap()
        }
    })
    .await
    .unwrap()
}

/// Polls `GET /api/tasks/{id}` on `app` until the task has `status`; fails after `within`.
async fn await_status(
    app: &TestApp,
    u: &TestUser,
    id: i64,
    status: &str,
    within: Duration,
) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let t: Value = app
            .get(&format!("/api/tasks/{id}"), Some(&u.token))
            .await
            .json()
            .await
            .unwrap();
        if t["task"]["status"] == status {
            return t["task"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task {id} not {status} after {within:?}: {t}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two nodes over one database: a starting node leaves the other's running task alone but
/// interrupts a dead node's; a task queued on a full node runs on the other; a cancel through
/// the other node stops a task within a second or so.
#[tokio::test]
async fn two_nodes_share_the_tasks_table() {
    let (db, dir) = shared_db().await;
    let d = db.clone();
    let a = spawn_app_with(move |c| {
        c.db = d;
        c.task_workers = 1;
        // 100 pauses (one per 1000 numbers) of 100 ms: the big task runs for over 10 s, long
        // enough to see its lease renewed.
        c.task_slowdown = Duration::from_millis(100);
    })
    .await;
    let u = a.register("nora").await;
    let big = start_rest(
        &a,
        &u,
        "generate_numbers",
        json!({"area_code": "415", "quantity": 100000}),
    )
    .await;
    let big = big["id"].as_i64().unwrap();
    await_status(&a, &u, big, "running", Duration::from_secs(5)).await;
    // A node that died a while ago left a task running; its lease has run out.
    let expired = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 1000;
    let dead = sql_value(
        &db,
        format!(
            "INSERT INTO tasks (user_id, kind, params, status, progress, processed, total,
                                created_at, started_at, node, lease_until)
             VALUES ({}, 'generate_numbers', '{{\"area_code\":\"415\",\"quantity\":10}}',
                     'running', 40, 4, 10, 0, 0, 42, {expired})
             RETURNING id",
            u.id
        ),
    )
    .await;

    let d = db.clone();
    let b = spawn_app_with(move |c| c.db = d).await;
    let t = await_status(&b, &u, dead, "interrupted", Duration::ZERO).await;
    assert_eq!(t["processed"], 4);
    await_status(&b, &u, big, "running", Duration::ZERO).await;

    // A has no free slot: B runs the next task.
    let small = start_rest(
        &a,
        &u,
        "generate_numbers",
        json!({"area_code": "212", "quantity": 3}),
    )
    .await;
    let small = small["id"].as_i64().unwrap();
    await_status(&a, &u, small, "completed", Duration::from_secs(5)).await;
    await_status(&a, &u, big, "running", Duration::ZERO).await;

    // A keeps renewing its lease while the task runs (every 5 s).
    let lease = format!("SELECT lease_until FROM tasks WHERE id = {big}");
    let first = sql_value(&db, lease.clone()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sql_value(&db, lease.clone()).await <= first {
        assert!(std::time::Instant::now() < deadline, "lease not renewed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Cancelled through B, stopped by A.
    let asked = std::time::Instant::now();
    let c = b
        .post_empty(&format!("/api/tasks/{big}/cancel"), Some(&u.token))
        .await;
    assert_eq!(c.status(), 202);
    let t = await_status(&a, &u, big, "cancelled", Duration::from_secs(3)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "stopped in {:?}",
        asked.elapsed()
    );
    assert!(t["processed"].as_i64().unwrap() < 100000, "{t}");
    a.stop().await;
    b.stop().await;
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}
