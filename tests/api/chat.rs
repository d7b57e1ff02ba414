//! The unified chat consumer and its REST mirror.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn create_room(
    app: &TestApp,
    owner: &TestUser,
    name: &str,
    public: bool,
    members: &[&str],
) -> i64 {
    app.create_room(owner, name, public, members).await["id"]
        .as_i64()
        .unwrap()
}

async fn rest_send(app: &TestApp, u: &TestUser, room: i64, content: &str) -> Value {
    app.say(u, room, content).await
}

#[tokio::test]
async fn rest_write_is_pushed_to_other_members_and_ws_write_to_all() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = create_room(&app, &alice, "general", false, &["bob"]).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;

    let sent = rest_send(&app, &alice, room, "hello over REST").await;
    assert_eq!(sent["content"], "hello over REST");
    assert_eq!(sent["sender"]["username"], "alice");
    assert!(sent["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(sent["edited_at"].is_null());
    assert_eq!(sent["deleted"], false);
    let pushed = bob_ws.next_of("message").await;
    assert_eq!(pushed["message"], sent);
    assert_eq!(alice_ws.next_of("message").await["message"], sent);

    let r = bob_ws
        .request(json!({"type": "send_message", "room_id": room, "content": "hi from ws"}))
        .await;
    assert_eq!(r["type"], "message_sent", "{r}");
    assert!(r["message"]["id"].as_i64().unwrap() > sent["id"].as_i64().unwrap());
    assert_eq!(alice_ws.next_of("message").await["message"], r["message"]);
}

#[tokio::test]
async fn same_client_id_over_ws_then_rest_gives_one_message() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = create_room(&app, &alice, "dedupe", false, &["bob"]).await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let first = ws
        .request(
            json!({"type": "send_message", "room_id": room, "content": "once", "client_id": "c-1"}),
        )
        .await;
    assert_eq!(first["type"], "message_sent");
    let r = app
        .post(
            &format!("/api/rooms/{room}/messages"),
            Some(&alice.token),
            json!({"content": "once", "client_id": "c-1"}),
        )
        .await;
    assert_eq!(r.status(), 200, "a repeat answers 200");
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["message"], first["message"]);
    let again_ws = ws
        .request(
            json!({"type": "send_message", "room_id": room, "content": "once", "client_id": "c-1"}),
        )
        .await;
    assert_eq!(again_ws["message"], first["message"]);
    // Another user's identical client_id is their own message.
    let other = app
        .post(
            &format!("/api/rooms/{room}/messages"),
            Some(&bob.token),
            json!({"content": "once", "client_id": "c-1"}),
        )
        .await;
    assert_eq!(other.status(), 201);
    let page: Value = app
        .get(&format!("/api/rooms/{room}/messages"), Some(&alice.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    // Bob's socket saw exactly one push of alice's message, then his own.
    let m1 = bob_ws.next_of("message").await;
    let m2 = bob_ws.next_of("message").await;
    assert_eq!(m1["message"]["id"], first["message"]["id"]);
    assert_eq!(m2["message"]["sender"]["username"], "bob");
}

#[tokio::test]
async fn room_list_is_ordered_by_activity_with_last_message_and_unread() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let r1 = create_room(&app, &alice, "one", false, &["bob"]).await;
    let r2 = create_room(&app, &alice, "two", false, &["bob"]).await;
    let r3 = create_room(&app, &alice, "three", false, &[]).await;
    // Newest creation first while there are no messages.
    let v: Value = app
        .get("/api/rooms", Some(&alice.token))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = v["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![r3, r2, r1]);
    // A message in room one moves it to the top.
    rest_send(&app, &bob, r1, "bump").await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let list = ws.request(json!({"type": "get_room_list"})).await;
    assert_eq!(list["type"], "room_list");
    let rooms = list["rooms"].as_array().unwrap();
    assert_eq!(rooms[0]["id"], r1);
    assert_eq!(rooms[0]["last_message"]["content"], "bump");
    assert_eq!(rooms[0]["last_message"]["sender"]["username"], "bob");
    assert_eq!(rooms[0]["unread_count"], 1);
    assert_eq!(rooms[0]["member_count"], 2);
    assert_eq!(rooms[0]["kind"], "group");
    assert!(rooms[1]["last_message"].is_null());
    // One's own messages are never unread.
    let bob_list: Value = app
        .get("/api/rooms", Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bob_list["rooms"][0]["unread_count"], 0);
    assert_eq!(bob_list["rooms"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pagination_edges() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let room = create_room(&app, &alice, "pages", false, &[]).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            rest_send(&app, &alice, room, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let get = |q: String| {
        let app = &app;
        let token = alice.token.clone();
        async move {
            let v: Value = app
                .get(&format!("/api/rooms/{room}/messages?{q}"), Some(&token))
                .await
                .json()
                .await
                .unwrap();
            let got: Vec<i64> = v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap())
                .collect();
            (got, v["has_more"].as_bool().unwrap())
        }
    };
    assert_eq!(get("limit=3".into()).await, (ids[4..7].to_vec(), true));
    assert_eq!(
        get(format!("before={}&limit=3", ids[4])).await,
        (ids[1..4].to_vec(), true)
    );
    assert_eq!(
        get(format!("before={}&limit=3", ids[1])).await,
        (ids[0..1].to_vec(), false)
    );
    assert_eq!(
        get(format!("after={}&limit=3", ids[0])).await,
        (ids[1..4].to_vec(), true)
    );
    assert_eq!(
        get(format!("after={}&limit=3", ids[3])).await,
        (ids[4..7].to_vec(), false)
    );
    assert_eq!(get(format!("after={}", ids[6])).await, (vec![], false));
    assert_eq!(get(String::new()).await, (ids.clone(), false));
    assert_eq!(get("limit=7".into()).await, (ids.clone(), false));
    // Same over the socket.
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let page = ws
        .request(json!({"type": "get_messages", "room_id": room, "before": ids[2], "limit": 5}))
        .await;
    assert_eq!(page["type"], "messages");
    assert_eq!(page["room_id"], room);
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], false);
    // Bad limits and cursors.
    for q in ["limit=0", "limit=101", "before=1&after=2", "limit=abc"] {
        let r = app
            .get(
                &format!("/api/rooms/{room}/messages?{q}"),
                Some(&alice.token),
            )
            .await;
        expect_error(r, 400, "validation_failed").await;
    }
    let e = ws
        .request(json!({"type": "get_messages", "room_id": room, "limit": 500}))
        .await;
    assert_eq!(e["code"], "validation_failed");
}

#[tokio::test]
async fn long_poll_returns_early_on_a_message_and_empty_at_timeout() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = create_room(&app, &alice, "poll", false, &["bob"]).await;
    let first = rest_send(&app, &alice, room, "before").await["id"]
        .as_i64()
        .unwrap();

    // Empty at the timeout (1 s).
    let started = std::time::Instant::now();
    let v: Value = app
        .get(&format!("/api/sync?after={first}&wait=1"), Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(v["messages"].as_array().unwrap().is_empty());
    assert_eq!(v["has_more"], false);
    assert!(started.elapsed() >= Duration::from_millis(950));

    // Returns as soon as a message arrives: start a 30 s poll, then send.
    let poll = {
        let http = app.http.clone();
        let url = app.url(&format!("/api/sync?after={first}&wait=30"));
        let token = bob.token.clone();
        tokio::spawn(async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // The poll is in flight once the server has a request for it; a message sent before the
    // poll's first query is returned at once too, so no ordering is needed.
    let sent = rest_send(&app, &alice, room, "wake up").await;
    let v = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("early return")
        .unwrap();
    assert_eq!(v["messages"][0]["id"], sent["id"]);

    // Messages in rooms one is not in never show up.
    let carol = app.register("carol").await;
    let v: Value = app
        .get("/api/sync?after=0", Some(&carol.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(v["messages"].as_array().unwrap().is_empty());
    expect_error(
        app.get("/api/sync?after=0&wait=31", Some(&bob.token)).await,
        400,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn sync_over_the_socket_pages_oldest_first() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let r1 = create_room(&app, &alice, "a", false, &[]).await;
    let r2 = create_room(&app, &alice, "b", false, &[]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let room = if i % 2 == 0 { r1 } else { r2 };
        ids.push(
            rest_send(&app, &alice, room, &format!("s{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let page = ws
        .request(json!({"type": "sync", "after": ids[0], "limit": 3}))
        .await;
    assert_eq!(page["type"], "sync");
    let got: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[1..4].to_vec());
    assert_eq!(page["has_more"], true);
}

#[tokio::test]
async fn slow_consumer_is_closed_with_4008_and_recovers_through_sync() {
    let app = spawn_app_with(|c| {
        c.outbound_queue = 8;
        c.messages_per_second = 100_000;
        // Bob reads his close only after the whole flood, which takes longer than the default
        // grace on a slower database; the connection must not be cut before.
        c.close_grace = Duration::from_secs(600);
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = create_room(&app, &alice, "firehose", false, &["bob"]).await;
    // Bob connects and then does not read.
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut last_seen = 0;
    // Alice floods the room over her socket, draining her own socket in the background.
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let content = "x".repeat(3900);
    let total = 3000;
    for i in 0..total {
        alice_ws
            .send_json(json!({"type": "send_message", "room_id": room, "content": content, "client_id": format!("f{i}")}))
            .await;
        if i % 3 == 2 {
            // Wait for the ack of the last one so the flood is paced by the server. Alice's
            // own socket gets two frames per send (the push and the ack); with at most three
            // sends in flight it stays under the queue of 8 however slowly its writer runs.
            loop {
                let f = alice_ws.next_json().await;
                if f["type"] == "message_sent" && f["message"]["client_id"] == format!("f{i}") {
                    break;
                }
            }
        }
    }
    // Bob's socket ends with the slow_consumer frame and 4008.
    let (frames, closed) = bob_ws.until_close().await;
    assert_eq!(closed.code, 4008, "after {} frames", frames.len());
    let last = frames.last().unwrap();
    assert_eq!(last["code"], "slow_consumer");
    assert_eq!(last["retry"], "backoff");
    for f in &frames {
        if f["type"] == "message" {
            last_seen = f["message"]["id"].as_i64().unwrap();
        }
    }
    // Reconnect and resume: everything after the last message seen arrives through sync.
    let mut ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut recovered = 0;
    let mut after = last_seen;
    loop {
        let page = ws
            .request(json!({"type": "sync", "after": after, "limit": 100}))
            .await;
        let msgs = page["messages"].as_array().unwrap();
        recovered += msgs.len();
        if let Some(m) = msgs.last() {
            after = m["id"].as_i64().unwrap();
        }
        if page["has_more"] == false {
            break;
        }
    }
    let seen_live = frames.iter().filter(|f| f["type"] == "message").count();
    assert_eq!(seen_live + recovered, total, "nothing lost");
}

#[tokio::test]
async fn strangers_and_non_members() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let eve = app.register("eve").await;
    let private = create_room(&app, &alice, "secret", false, &[]).await;
    let public = create_room(&app, &alice, "lobby", true, &[]).await;
    let msg = rest_send(&app, &alice, private, "psst").await["id"]
        .as_i64()
        .unwrap();
    let pub_msg = rest_send(&app, &alice, public, "hello all").await["id"]
        .as_i64()
        .unwrap();
    let t = Some(eve.token.as_str());
    // Reads: not_found for private, public (not a member) and unknown alike.
    for room in [private, public, 9999] {
        expect_error(
            app.get(&format!("/api/rooms/{room}"), t).await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            app.get(&format!("/api/rooms/{room}/messages"), t).await,
            404,
            "not_found",
        )
        .await;
    }
    // Writes: forbidden on a visible (public) room, not_found otherwise.
    for (room, status, code) in [
        (public, 403, "forbidden"),
        (private, 404, "not_found"),
        (9999, 404, "not_found"),
    ] {
        let path = format!("/api/rooms/{room}/messages");
        expect_error(
            app.post(&path, t, json!({"content": "hi"})).await,
            status,
            code,
        )
        .await;
    }
    expect_error(
        app.post(
            &format!("/api/rooms/{public}/typing"),
            t,
            json!({"is_typing": true}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.post_empty(&format!("/api/rooms/{private}/read"), t)
            .await,
        404,
        "not_found",
    )
    .await;
    // Joining: public yes, private no (no oracle).
    expect_error(
        app.post_empty(&format!("/api/rooms/{private}/join"), t)
            .await,
        404,
        "not_found",
    )
    .await;
    let j = app
        .post_empty(&format!("/api/rooms/{public}/join"), t)
        .await;
    assert_eq!(j.status(), 200);
    // Editing someone else's message: forbidden where visible, not_found where not.
    let patch = |id: i64| {
        app.http
            .patch(app.url(&format!("/api/messages/{id}")))
            .bearer_auth(&eve.token)
            .json(&json!({"content": "mine now"}))
            .send()
    };
    expect_error(patch(pub_msg).await.unwrap(), 403, "forbidden").await;
    expect_error(patch(msg).await.unwrap(), 404, "not_found").await;
    let del = app
        .http
        .delete(app.url(&format!("/api/messages/{msg}")))
        .bearer_auth(&eve.token)
        .send()
        .await
        .unwrap();
    expect_error(del, 404, "not_found").await;
    // Over the socket the same rules apply.
    let mut ws = app.ws_ready("/ws/chat/", &eve.token).await;
    let e = ws
        .request(json!({"type": "get_messages", "room_id": private}))
        .await;
    assert_eq!(e["code"], "not_found");
    let e = ws
        .request(json!({"type": "send_message", "room_id": private, "content": "x"}))
        .await;
    assert_eq!(e["code"], "not_found");
    // Unauthenticated REST.
    expect_error(app.get("/api/rooms", None).await, 401, "unauthenticated").await;
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} in {text}"))
}

#[tokio::test]
async fn concurrent_sends_are_committed_in_batches() {
    let app = spawn_app_with(|c| c.messages_per_second = 100_000).await;
    let alice = app.register("alice").await;
    let room = create_room(&app, &alice, "batch", false, &[]).await;
    let before = app.get("/metrics", None).await.text().await.unwrap();
    // Twenty sockets send at once (a socket handles its own requests in order, so batching
    // comes from concurrent senders); the writer commits what arrives together in one
    // transaction.
    let mut sockets = Vec::new();
    for _ in 0..20 {
        sockets.push(app.ws_ready("/ws/chat/", &alice.token).await);
    }
    let per = 15;
    let n = (sockets.len() * per) as u64;
    let mut senders = Vec::new();
    for (s, mut ws) in sockets.into_iter().enumerate() {
        senders.push(tokio::spawn(async move {
            for i in 0..per {
                let c = format!("s{s}-{i}");
                ws.send_json(
                    json!({"type": "send_message", "room_id": room, "content": c, "request_id": c}),
                )
                .await;
            }
            let mut acked = 0;
            while acked < per {
                if ws.next_json().await["type"] == "message_sent" {
                    acked += 1;
                }
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let after = app.get("/metrics", None).await.text().await.unwrap();
    let stored = metric(&after, "hearth_messages_stored_total")
        - metric(&before, "hearth_messages_stored_total");
    let batches = metric(&after, "hearth_message_batches_total")
        - metric(&before, "hearth_message_batches_total");
    assert_eq!(stored, n);
    assert!(batches < n, "{batches} transactions for {n} messages");
    // Ids grow with insertion order: the room's history is exactly the send order.
    let page: Value = app
        .get(
            &format!("/api/rooms/{room}/messages?limit=100"),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}
