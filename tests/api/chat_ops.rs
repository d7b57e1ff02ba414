//! Every operation of the chat consumer (contract section 4) over both transports: the socket's
//! request/reply and the REST mirror, the reply's shape, the pushes to the other members, and
//! the contract errors for bad input.

use crate::helpers::*;
use serde_json::{json, Value};

// ---- helpers ----

/// A server whose flood control stays out of the way: these tests send many frames quickly,
/// and flood control is not what they test.
async fn app() -> TestApp {
    spawn_app_with(|c| c.messages_per_second = 10_000).await
}

/// Registers `username` with a display name of its own.
async fn register_as(app: &TestApp, username: &str, display_name: &str) -> TestUser {
    let v = json_of(
        app.post(
            "/api/auth/register",
            None,
            json!({"username": username, "password": "password123", "display_name": display_name}),
        )
        .await,
        201,
    )
    .await;
    TestUser {
        id: v["user"]["id"].as_i64().unwrap(),
        username: username.to_string(),
        token: v["token"].as_str().unwrap().to_string(),
    }
}

/// Checks the status and returns the JSON body.
async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "status (body: {body})");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON body: {body}"))
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.http
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Creates a room over REST; returns the room.
async fn room(
    app: &TestApp,
    owner: &TestUser,
    name: &str,
    public: bool,
    members: &[&str],
) -> Value {
    app.create_room(owner, name, public, members).await
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("an id in {v}"))
}

/// Sends a message over REST; returns it.
async fn say(app: &TestApp, u: &TestUser, room: i64, content: &str) -> Value {
    app.say(u, room, content).await
}

/// Sends a request with a fresh `request_id` and returns the first frame that answers a
/// request (pushes, whose `request_id` is null, are skipped). The answer must echo the id.
async fn call(ws: &mut WsClient, mut frame: Value) -> Value {
    let rid = format!("ops-{}", rand_id());
    frame["request_id"] = json!(rid);
    ws.send_json(frame).await;
    loop {
        let f = ws.next_json().await;
        if f["request_id"].is_null() && f["type"] != "error" {
            continue;
        }
        assert_eq!(f["request_id"], rid.as_str(), "request_id echoed: {f}");
        return f;
    }
}

/// A request that must answer a recoverable `error` with `code`, echoing the request_id and
/// leaving the socket open.
async fn ws_error(ws: &mut WsClient, frame: Value, code: &str) -> Value {
    let sent = frame.to_string();
    let e = call(ws, frame).await;
    assert_eq!(e["type"], "error", "{sent} -> {e}");
    assert_eq!(e["code"], code, "{sent} -> {e}");
    assert!(e["message"].is_string(), "{e}");
    assert!(e.get("close_code").is_none(), "recoverable: {e}");
    quiet(ws).await;
    e
}

/// Proves nothing is pending on the socket (and that it is open): a ping's pong must be the
/// very next frame. Every push caused by a completed request is queued before the pong.
async fn quiet(ws: &mut WsClient) {
    let rid = format!("quiet-{}", rand_id());
    ws.send_json(json!({"type": "ping", "request_id": rid}))
        .await;
    let f = ws.next_json().await;
    assert_eq!(f["type"], "pong", "expected nothing pending, got {f}");
    assert_eq!(f["request_id"], rid.as_str());
}

/// The keys of an object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn assert_keys(v: &Value, expected: &[&str]) {
    let mut e: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    e.sort();
    assert_eq!(keys(v), e, "{v}");
}

const FRAME: [&str; 3] = ["type", "request_id", "timestamp"];

/// A server frame's keys: the envelope plus `fields`.
fn assert_frame(v: &Value, ty: &str, fields: &[&str]) {
    assert_eq!(v["type"], ty, "{v}");
    let all: Vec<&str> = FRAME.iter().chain(fields.iter()).copied().collect();
    assert_keys(v, &all);
}

fn assert_push(v: &Value, ty: &str, fields: &[&str]) {
    assert_frame(v, ty, fields);
    assert!(v["request_id"].is_null(), "a push has no request_id: {v}");
}

fn assert_room_shape(r: &Value) {
    assert_keys(
        r,
        &[
            "id",
            "name",
            "kind",
            "is_public",
            "created_at",
            "updated_at",
            "member_count",
            "unread_count",
            "last_message",
        ],
    );
    for t in ["created_at", "updated_at"] {
        assert!(r[t].as_str().is_some_and(|s| s.ends_with('Z')), "{r}");
    }
    if !r["last_message"].is_null() {
        assert_keys(
            &r["last_message"],
            &["id", "content", "sender", "created_at"],
        );
        assert_keys(
            &r["last_message"]["sender"],
            &["id", "username", "display_name"],
        );
    }
}

fn assert_message_shape(m: &Value) {
    assert_keys(
        m,
        &[
            "id",
            "room_id",
            "sender",
            "content",
            "client_id",
            "created_at",
            "edited_at",
            "deleted",
        ],
    );
    assert_keys(&m["sender"], &["id", "username", "display_name"]);
}

fn assert_user(u: &Value, who: &TestUser) {
    assert_keys(
        u,
        &["id", "username", "display_name", "is_staff", "created_at"],
    );
    assert_eq!(u["id"], who.id);
    assert_eq!(u["username"], who.username.as_str());
}

fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(id)
        .collect()
}

async fn room_list_rest(app: &TestApp, u: &TestUser) -> Value {
    json_of(app.get("/api/rooms", Some(&u.token)).await, 200).await["rooms"].clone()
}

fn find(rooms: &Value, room_id: i64) -> Value {
    rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room_id)
        .cloned()
        .unwrap_or_else(|| panic!("room {room_id} in {rooms}"))
}

// ---- rooms ----

#[tokio::test]
async fn room_list_and_get_room_answer_the_same_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let general = id(&room(&app, &alice, "general", false, &["bob"]).await);
    let solo = id(&room(&app, &alice, "solo", false, &[]).await);
    say(&app, &bob, general, "hi").await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;

    let list = call(&mut ws, json!({"type": "get_room_list"})).await;
    assert_frame(&list, "room_list", &["rooms"]);
    let rest = json_of(app.get("/api/rooms", Some(&alice.token)).await, 200).await;
    assert_keys(&rest, &["rooms"]);
    assert_eq!(list["rooms"], rest["rooms"]);
    assert_eq!(ids_of(&list["rooms"]), vec![general, solo]);
    for r in list["rooms"].as_array().unwrap() {
        assert_room_shape(r);
    }
    // Only one's own rooms.
    assert_eq!(ids_of(&room_list_rest(&app, &bob).await), vec![general]);
    assert!(room_list_rest(&app, &carol)
        .await
        .as_array()
        .unwrap()
        .is_empty());

    let one = call(&mut ws, json!({"type": "get_room", "room_id": general})).await;
    assert_frame(&one, "room", &["room"]);
    assert_room_shape(&one["room"]);
    assert_eq!(one["room"], list["rooms"][0]);
    assert_eq!(one["room"]["name"], "general");
    assert_eq!(one["room"]["kind"], "group");
    assert_eq!(one["room"]["member_count"], 2);
    assert_eq!(one["room"]["unread_count"], 1);
    assert_eq!(one["room"]["last_message"]["content"], "hi");
    let rest = json_of(
        app.get(&format!("/api/rooms/{general}"), Some(&alice.token))
            .await,
        200,
    )
    .await;
    assert_keys(&rest, &["room"]);
    assert_eq!(rest["room"], one["room"]);

    ws_error(
        &mut ws,
        json!({"type": "get_room", "room_id": 999_999}),
        "not_found",
    )
    .await;
    expect_error(
        app.get("/api/rooms/999999", Some(&alice.token)).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn create_room_over_both_transports_pushes_room_updated_to_members() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut carol_ws = app.ws_ready("/ws/chat/", &carol.token).await;

    // Over the socket: public, with a member.
    let created = call(
        &mut alice_ws,
        json!({"type": "create_room", "name": "Design", "is_public": true, "members": ["bob"]}),
    )
    .await;
    assert_frame(&created, "room_created", &["room"]);
    let r = &created["room"];
    assert_room_shape(r);
    assert_eq!(r["name"], "Design");
    assert_eq!(r["kind"], "group");
    assert_eq!(r["is_public"], true);
    assert_eq!(r["member_count"], 2);
    assert_eq!(r["unread_count"], 0);
    assert!(r["last_message"].is_null());
    let pushed = bob_ws.next_json().await;
    assert_push(&pushed, "room_updated", &["room"]);
    assert_room_shape(&pushed["room"]);
    assert_eq!(pushed["room"]["id"], r["id"]);
    assert_eq!(pushed["room"]["name"], "Design");
    assert_eq!(pushed["room"]["is_public"], true);
    assert_eq!(pushed["room"]["member_count"], 2);
    quiet(&mut carol_ws).await;

    // Over REST: 201, private by default.
    let rest = json_of(
        app.post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "Ops", "members": ["carol"]}),
        )
        .await,
        201,
    )
    .await;
    assert_keys(&rest, &["room"]);
    assert_room_shape(&rest["room"]);
    assert_eq!(rest["room"]["name"], "Ops");
    assert_eq!(rest["room"]["is_public"], false);
    assert_eq!(rest["room"]["member_count"], 2);
    let pushed = carol_ws.next_json().await;
    assert_push(&pushed, "room_updated", &["room"]);
    assert_eq!(pushed["room"]["id"], rest["room"]["id"]);
    assert_eq!(pushed["room"]["is_public"], false);
    quiet(&mut bob_ws).await;

    // Without members, only the creator.
    let alone = call(
        &mut alice_ws,
        json!({"type": "create_room", "name": "Notes"}),
    )
    .await;
    assert_eq!(alone["room"]["member_count"], 1);
    assert_eq!(alone["room"]["is_public"], false);
    quiet(&mut bob_ws).await;
    quiet(&mut carol_ws).await;

    let mine = room_list_rest(&app, &alice).await;
    assert_eq!(mine.as_array().unwrap().len(), 3);
    assert_eq!(ids_of(&room_list_rest(&app, &bob).await), vec![id(r)]);
    assert_eq!(
        ids_of(&room_list_rest(&app, &carol).await),
        vec![id(&rest["room"])]
    );
}

#[tokio::test]
async fn open_direct_is_one_room_from_both_sides_and_both_transports() {
    let app = app().await;
    let alice = register_as(&app, "alice", "Alice Liddell").await;
    let bob = register_as(&app, "bob", "Bob Dylan").await;
    let carol = register_as(&app, "carol", "Carol King").await;
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // First use, over the socket: created, and bob hears of it with alice's name.
    let first = call(
        &mut alice_ws,
        json!({"type": "open_direct", "username": "bob"}),
    )
    .await;
    assert_frame(&first, "room", &["room"]);
    let r = &first["room"];
    assert_room_shape(r);
    assert_eq!(r["kind"], "direct");
    assert_eq!(r["is_public"], false);
    assert_eq!(r["member_count"], 2);
    assert_eq!(r["name"], "Bob Dylan");
    let room_id = id(r);
    let pushed = bob_ws.next_json().await;
    assert_push(&pushed, "room_updated", &["room"]);
    assert_eq!(pushed["room"]["id"], room_id);
    assert_eq!(pushed["room"]["name"], "Alice Liddell");
    assert_eq!(pushed["room"]["kind"], "direct");

    // The same room every time, from both sides, over both transports.
    let again = json_of(
        app.post(
            "/api/rooms/direct",
            Some(&alice.token),
            json!({"username": "bob"}),
        )
        .await,
        200,
    )
    .await;
    assert_keys(&again, &["room"]);
    assert_eq!(again["room"]["id"], room_id);
    assert_eq!(again["room"]["name"], "Bob Dylan");
    let from_bob = call(
        &mut bob_ws,
        json!({"type": "open_direct", "username": "alice"}),
    )
    .await;
    assert_eq!(from_bob["type"], "room");
    assert_eq!(from_bob["room"]["id"], room_id);
    assert_eq!(from_bob["room"]["name"], "Alice Liddell");
    let from_bob_rest = json_of(
        app.post(
            "/api/rooms/direct",
            Some(&bob.token),
            json!({"username": "alice"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(from_bob_rest["room"]["id"], room_id);
    assert_eq!(from_bob_rest["room"]["name"], "Alice Liddell");
    let by_case = call(
        &mut alice_ws,
        json!({"type": "open_direct", "username": "BOB"}),
    )
    .await;
    assert_eq!(by_case["room"]["id"], room_id);
    // No second room_updated: it was created once.
    quiet(&mut bob_ws).await;
    quiet(&mut alice_ws).await;
    // Each side's list names the room after the other person.
    assert_eq!(
        find(&room_list_rest(&app, &alice).await, room_id)["name"],
        "Bob Dylan"
    );
    assert_eq!(
        find(&room_list_rest(&app, &bob).await, room_id)["name"],
        "Alice Liddell"
    );

    // First use over REST pushes too.
    let cr = json_of(
        app.post(
            "/api/rooms/direct",
            Some(&carol.token),
            json!({"username": "alice"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cr["room"]["name"], "Alice Liddell");
    assert_ne!(cr["room"]["id"], room_id);
    let pushed = alice_ws.next_json().await;
    assert_push(&pushed, "room_updated", &["room"]);
    assert_eq!(pushed["room"]["id"], cr["room"]["id"]);
    assert_eq!(pushed["room"]["name"], "Carol King");
    quiet(&mut bob_ws).await;

    // Unknown users and oneself.
    for name in ["nobody", "alice"] {
        let e = ws_error(
            &mut alice_ws,
            json!({"type": "open_direct", "username": name}),
            "validation_failed",
        )
        .await;
        assert!(e["fields"]["username"].is_string(), "{e}");
        expect_error(
            app.post(
                "/api/rooms/direct",
                Some(&alice.token),
                json!({"username": name}),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn public_rooms_match_case_insensitively_most_active_first() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let north = room(&app, &alice, "Lobby North", true, &[]).await;
    let south = room(&app, &alice, "lobby south", true, &[]).await;
    let kitchen = room(&app, &alice, "Kitchen", true, &[]).await;
    let _secret = room(&app, &alice, "Lobby Secret", false, &["bob"]).await;
    let _direct = json_of(
        app.post(
            "/api/rooms/direct",
            Some(&alice.token),
            json!({"username": "bob"}),
        )
        .await,
        200,
    )
    .await;
    // North becomes the most active: a message later than Kitchen's creation (timestamps have
    // millisecond precision, so send until one is strictly later).
    loop {
        let m = say(&app, &alice, id(&north), "busy").await;
        if m["created_at"].as_str().unwrap() > kitchen["created_at"].as_str().unwrap() {
            break;
        }
    }
    let (n, s, k) = (id(&north), id(&south), id(&kitchen));

    let mut ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let all = call(&mut ws, json!({"type": "get_public_rooms"})).await;
    assert_frame(&all, "public_room_list", &["rooms"]);
    assert_eq!(
        ids_of(&all["rooms"]),
        vec![n, k, s],
        "private and direct rooms never listed"
    );
    for r in all["rooms"].as_array().unwrap() {
        assert_room_shape(r);
        assert_eq!(r["is_public"], true);
        assert_eq!(r["kind"], "group");
        // Nothing is unread for someone who is not a member (and joining marks history read).
        assert_eq!(r["unread_count"], 0, "{r}");
    }
    let rest = json_of(app.get("/api/rooms/public", Some(&bob.token)).await, 200).await;
    assert_keys(&rest, &["rooms"]);
    assert_eq!(rest["rooms"], all["rooms"]);

    let q = call(
        &mut ws,
        json!({"type": "get_public_rooms", "query": "LOBBY"}),
    )
    .await;
    assert_eq!(ids_of(&q["rooms"]), vec![n, s]);
    let q = call(
        &mut ws,
        json!({"type": "get_public_rooms", "query": "lobby", "limit": 1}),
    )
    .await;
    assert_eq!(ids_of(&q["rooms"]), vec![n]);
    for (query, expected) in [
        ("query=lObBy", vec![n, s]),
        ("query=SOUTH", vec![s]),
        ("query=secret", vec![]),
        ("query=%25", vec![]),
        ("limit=2", vec![n, k]),
        ("query=lobby&limit=1", vec![n]),
    ] {
        let v = json_of(
            app.get(&format!("/api/rooms/public?{query}"), Some(&bob.token))
                .await,
            200,
        )
        .await;
        assert_eq!(ids_of(&v["rooms"]), expected, "{query}");
    }
    // Even its members do not find a private room in the directory.
    let v = json_of(
        app.get("/api/rooms/public?query=secret", Some(&alice.token))
            .await,
        200,
    )
    .await;
    assert!(v["rooms"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn join_room_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let open = id(&room(&app, &alice, "Open", true, &[]).await);
    let closed = id(&room(&app, &alice, "Closed", false, &[]).await);
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // Over the socket.
    let joined = call(&mut bob_ws, json!({"type": "join_room", "room_id": open})).await;
    assert_frame(&joined, "room_joined", &["room"]);
    assert_room_shape(&joined["room"]);
    assert_eq!(joined["room"]["id"], open);
    assert_eq!(joined["room"]["member_count"], 2);
    let pushed = alice_ws.next_json().await;
    assert_push(&pushed, "member_joined", &["room_id", "user"]);
    assert_eq!(pushed["room_id"], open);
    assert_user(&pushed["user"], &bob);
    // Idempotent: the room again, no second push.
    let again = call(&mut bob_ws, json!({"type": "join_room", "room_id": open})).await;
    assert_eq!(again["type"], "room_joined");
    assert_eq!(again["room"]["member_count"], 2);
    quiet(&mut alice_ws).await;

    // Over REST.
    let path = format!("/api/rooms/{open}/join");
    let v = json_of(app.post_empty(&path, Some(&carol.token)).await, 200).await;
    assert_keys(&v, &["room"]);
    assert_eq!(v["room"]["id"], open);
    assert_eq!(v["room"]["member_count"], 3);
    for ws in [&mut alice_ws, &mut bob_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "member_joined", &["room_id", "user"]);
        assert_user(&pushed["user"], &carol);
    }
    let v = json_of(app.post_empty(&path, Some(&carol.token)).await, 200).await;
    assert_eq!(v["room"]["member_count"], 3);
    quiet(&mut alice_ws).await;
    quiet(&mut bob_ws).await;
    assert_eq!(ids_of(&room_list_rest(&app, &carol).await), vec![open]);

    // Private and unknown rooms: not_found, nothing pushed.
    for r in [closed, 999_999] {
        ws_error(
            &mut bob_ws,
            json!({"type": "join_room", "room_id": r}),
            "not_found",
        )
        .await;
        expect_error(
            app.post_empty(&format!("/api/rooms/{r}/join"), Some(&carol.token))
                .await,
            404,
            "not_found",
        )
        .await;
    }
    quiet(&mut alice_ws).await;
}

#[tokio::test]
async fn leave_room_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let team = id(&room(&app, &alice, "Team", false, &["bob", "carol"]).await);
    say(&app, &alice, team, "before").await;
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // Over the socket.
    let left = call(&mut bob_ws, json!({"type": "leave_room", "room_id": team})).await;
    assert_frame(&left, "room_left", &["room_id"]);
    assert_eq!(left["room_id"], team);
    let pushed = alice_ws.next_json().await;
    assert_push(&pushed, "member_left", &["room_id", "user"]);
    assert_eq!(pushed["room_id"], team);
    assert_user(&pushed["user"], &bob);
    // After leaving, reads answer not_found.
    ws_error(
        &mut bob_ws,
        json!({"type": "get_room", "room_id": team}),
        "not_found",
    )
    .await;
    ws_error(
        &mut bob_ws,
        json!({"type": "get_messages", "room_id": team}),
        "not_found",
    )
    .await;
    ws_error(
        &mut bob_ws,
        json!({"type": "leave_room", "room_id": team}),
        "not_found",
    )
    .await;
    assert!(room_list_rest(&app, &bob)
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // Over REST.
    let v = json_of(
        app.post_empty(&format!("/api/rooms/{team}/leave"), Some(&carol.token))
            .await,
        200,
    )
    .await;
    assert_eq!(v, json!({"room_id": team}));
    let pushed = alice_ws.next_json().await;
    assert_push(&pushed, "member_left", &["room_id", "user"]);
    assert_user(&pushed["user"], &carol);
    quiet(&mut bob_ws).await;
    for path in [
        format!("/api/rooms/{team}"),
        format!("/api/rooms/{team}/messages"),
    ] {
        expect_error(app.get(&path, Some(&carol.token)).await, 404, "not_found").await;
    }
    expect_error(
        app.post_empty(&format!("/api/rooms/{team}/leave"), Some(&carol.token))
            .await,
        404,
        "not_found",
    )
    .await;
    let r = call(&mut alice_ws, json!({"type": "get_room", "room_id": team})).await;
    assert_eq!(r["room"]["member_count"], 1);
}

#[tokio::test]
async fn add_member_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let crew = id(&room(&app, &alice, "Crew", false, &[]).await);
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut carol_ws = app.ws_ready("/ws/chat/", &carol.token).await;

    // Over the socket: the push to the existing member comes before the reply.
    alice_ws
        .send_json(
            json!({"type": "add_member", "room_id": crew, "username": "bob", "request_id": "add-1"}),
        )
        .await;
    let pushed = alice_ws.next_json().await;
    assert_push(&pushed, "member_joined", &["room_id", "user"]);
    assert_eq!(pushed["room_id"], crew);
    assert_user(&pushed["user"], &bob);
    let added = alice_ws.next_json().await;
    assert_frame(&added, "member_added", &["room_id", "user"]);
    assert_eq!(added["request_id"], "add-1");
    assert_eq!(added["room_id"], crew);
    assert_user(&added["user"], &bob);
    // The new member hears of the room.
    let joined = bob_ws.next_json().await;
    assert_push(&joined, "member_joined", &["room_id", "user"]);
    assert_user(&joined["user"], &bob);
    let updated = bob_ws.next_json().await;
    assert_push(&updated, "room_updated", &["room"]);
    assert_room_shape(&updated["room"]);
    assert_eq!(updated["room"]["id"], crew);
    assert_eq!(updated["room"]["member_count"], 2);
    quiet(&mut carol_ws).await;

    // Over REST, by the new member.
    let v = json_of(
        app.post(
            &format!("/api/rooms/{crew}/members"),
            Some(&bob.token),
            json!({"username": "carol"}),
        )
        .await,
        200,
    )
    .await;
    assert_keys(&v, &["room_id", "user"]);
    assert_eq!(v["room_id"], crew);
    assert_user(&v["user"], &carol);
    for ws in [&mut alice_ws, &mut bob_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "member_joined", &["room_id", "user"]);
        assert_user(&pushed["user"], &carol);
    }
    assert_eq!(carol_ws.next_json().await["type"], "member_joined");
    let updated = carol_ws.next_json().await;
    assert_push(&updated, "room_updated", &["room"]);
    assert_eq!(updated["room"]["member_count"], 3);

    // Adding a member again changes nothing and pushes nothing.
    let again = call(
        &mut alice_ws,
        json!({"type": "add_member", "room_id": crew, "username": "carol"}),
    )
    .await;
    assert_eq!(again["type"], "member_added");
    assert_user(&again["user"], &carol);
    quiet(&mut carol_ws).await;
    quiet(&mut bob_ws).await;

    // Unknown usernames.
    let e = ws_error(
        &mut alice_ws,
        json!({"type": "add_member", "room_id": crew, "username": "nobody"}),
        "validation_failed",
    )
    .await;
    assert!(e["fields"]["username"].is_string(), "{e}");
    expect_error(
        app.post(
            &format!("/api/rooms/{crew}/members"),
            Some(&alice.token),
            json!({"username": "nobody"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let r = call(&mut alice_ws, json!({"type": "get_room", "room_id": crew})).await;
    assert_eq!(r["room"]["member_count"], 3);
}

// ---- messages ----

#[tokio::test]
async fn send_and_get_messages_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let r = id(&room(&app, &alice, "talk", false, &["bob"]).await);
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // Over the socket: the sender's own socket sees the push, then the acknowledgement.
    alice_ws
        .send_json(json!({"type": "send_message", "room_id": r, "content": "hello", "client_id": "c-1", "request_id": "s-1"}))
        .await;
    let own_push = alice_ws.next_json().await;
    assert_push(&own_push, "message", &["message"]);
    let sent = alice_ws.next_json().await;
    assert_frame(&sent, "message_sent", &["message"]);
    assert_eq!(sent["request_id"], "s-1");
    let m = &sent["message"];
    assert_message_shape(m);
    assert_eq!(m["room_id"], r);
    assert_eq!(m["content"], "hello");
    assert_eq!(m["client_id"], "c-1");
    assert_eq!(m["sender"]["id"], alice.id);
    assert!(m["edited_at"].is_null());
    assert_eq!(m["deleted"], false);
    assert_eq!(own_push["message"], *m);
    let pushed = bob_ws.next_json().await;
    assert_push(&pushed, "message", &["message"]);
    assert_eq!(pushed["message"], *m);

    // Over REST.
    let v = json_of(
        app.post(
            &format!("/api/rooms/{r}/messages"),
            Some(&bob.token),
            json!({"content": "hi back"}),
        )
        .await,
        201,
    )
    .await;
    assert_keys(&v, &["message"]);
    assert_message_shape(&v["message"]);
    assert!(v["message"]["client_id"].is_null());
    assert!(id(&v["message"]) > id(m));
    for ws in [&mut alice_ws, &mut bob_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "message", &["message"]);
        assert_eq!(pushed["message"], v["message"]);
    }

    // History, both ways.
    let page = call(&mut bob_ws, json!({"type": "get_messages", "room_id": r})).await;
    assert_frame(&page, "messages", &["room_id", "messages", "has_more"]);
    assert_eq!(page["room_id"], r);
    assert_eq!(page["has_more"], false);
    assert_eq!(page["messages"], json!([m, v["message"]]));
    let rest = json_of(
        app.get(&format!("/api/rooms/{r}/messages"), Some(&bob.token))
            .await,
        200,
    )
    .await;
    assert_keys(&rest, &["room_id", "messages", "has_more"]);
    assert_eq!(rest["messages"], page["messages"]);
    assert_eq!(rest["room_id"], r);
    let one = call(
        &mut bob_ws,
        json!({"type": "get_messages", "room_id": r, "limit": 1}),
    )
    .await;
    assert_eq!(one["messages"], json!([v["message"]]));
    assert_eq!(one["has_more"], true);
}

#[tokio::test]
async fn edit_message_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let r = id(&room(&app, &alice, "edits", false, &["bob"]).await);
    let original = say(&app, &alice, r, "first draft").await;
    let mid = id(&original);
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // Over the socket: push to every member (the editor's socket too), then the reply.
    alice_ws
        .send_json(json!({"type": "edit_message", "message_id": mid, "content": "second draft", "request_id": "e-1"}))
        .await;
    let own_push = alice_ws.next_json().await;
    assert_push(&own_push, "message_updated", &["message"]);
    let reply = alice_ws.next_json().await;
    assert_frame(&reply, "message_updated", &["message"]);
    assert_eq!(reply["request_id"], "e-1");
    let m = &reply["message"];
    assert_message_shape(m);
    assert_eq!(m["id"], mid);
    assert_eq!(m["content"], "second draft");
    assert_eq!(m["created_at"], original["created_at"]);
    assert!(
        m["edited_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{m}"
    );
    assert_eq!(m["deleted"], false);
    assert_eq!(own_push["message"], *m);
    let pushed = bob_ws.next_json().await;
    assert_push(&pushed, "message_updated", &["message"]);
    assert_eq!(pushed["message"], *m);

    // Over REST.
    let v = json_of(
        patch(
            &app,
            &format!("/api/messages/{mid}"),
            &alice.token,
            json!({"content": "final"}),
        )
        .await,
        200,
    )
    .await;
    assert_keys(&v, &["message"]);
    assert_eq!(v["message"]["content"], "final");
    assert!(v["message"]["edited_at"].is_string());
    for ws in [&mut alice_ws, &mut bob_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "message_updated", &["message"]);
        assert_eq!(pushed["message"], v["message"]);
    }
    let page = call(&mut bob_ws, json!({"type": "get_messages", "room_id": r})).await;
    assert_eq!(page["messages"][0], v["message"]);

    // Only the sender: another member is forbidden, and nothing changes or is pushed.
    ws_error(
        &mut bob_ws,
        json!({"type": "edit_message", "message_id": mid, "content": "hijack"}),
        "forbidden",
    )
    .await;
    expect_error(
        patch(
            &app,
            &format!("/api/messages/{mid}"),
            &bob.token,
            json!({"content": "hijack"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    quiet(&mut alice_ws).await;
    let page = call(&mut bob_ws, json!({"type": "get_messages", "room_id": r})).await;
    assert_eq!(page["messages"][0]["content"], "final");
}

#[tokio::test]
async fn delete_message_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let r = id(&room(&app, &alice, "deletes", false, &["bob"]).await);
    let m1 = id(&say(&app, &alice, r, "one").await);
    let m2 = id(&say(&app, &alice, r, "two").await);
    let m3 = id(&say(&app, &alice, r, "three").await);
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // Over the socket.
    alice_ws
        .send_json(json!({"type": "delete_message", "message_id": m3, "request_id": "d-1"}))
        .await;
    let own_push = alice_ws.next_json().await;
    assert_push(&own_push, "message_deleted", &["room_id", "message_id"]);
    let reply = alice_ws.next_json().await;
    assert_frame(&reply, "message_deleted", &["room_id", "message_id"]);
    assert_eq!(reply["request_id"], "d-1");
    assert_eq!(reply["room_id"], r);
    assert_eq!(reply["message_id"], m3);
    let pushed = bob_ws.next_json().await;
    assert_push(&pushed, "message_deleted", &["room_id", "message_id"]);
    assert_eq!(pushed["room_id"], r);
    assert_eq!(pushed["message_id"], m3);

    // Over REST.
    let v = json_of(
        delete(&app, &format!("/api/messages/{m1}"), &alice.token).await,
        200,
    )
    .await;
    assert_eq!(v, json!({"room_id": r, "message_id": m1}));
    for ws in [&mut alice_ws, &mut bob_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "message_deleted", &["room_id", "message_id"]);
        assert_eq!(pushed["message_id"], m1);
    }

    // Only the sender.
    ws_error(
        &mut bob_ws,
        json!({"type": "delete_message", "message_id": m2}),
        "forbidden",
    )
    .await;
    expect_error(
        delete(&app, &format!("/api/messages/{m2}"), &bob.token).await,
        403,
        "forbidden",
    )
    .await;
    quiet(&mut alice_ws).await;

    // History keeps the ids, empty and deleted; the room's last message skips them.
    let page = json_of(
        app.get(&format!("/api/rooms/{r}/messages"), Some(&bob.token))
            .await,
        200,
    )
    .await;
    let msgs = page["messages"].as_array().unwrap();
    assert_eq!(ids_of(&page["messages"]), vec![m1, m2, m3]);
    for (m, deleted) in msgs.iter().zip([true, false, true]) {
        assert_message_shape(m);
        assert_eq!(m["deleted"], deleted, "{m}");
        assert_eq!(m["content"] == "", deleted, "{m}");
        assert_eq!(m["sender"]["id"], alice.id);
    }
    let room_now = call(&mut bob_ws, json!({"type": "get_room", "room_id": r})).await;
    assert_eq!(room_now["room"]["last_message"]["id"], m2);
}

#[tokio::test]
async fn mark_read_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let r = id(&room(&app, &alice, "reads", false, &["bob"]).await);
    let other = id(&room(&app, &alice, "elsewhere", false, &["bob"]).await);
    let m1 = id(&say(&app, &alice, r, "one").await);
    let m2 = id(&say(&app, &alice, r, "two").await);
    let m3 = id(&say(&app, &alice, r, "three").await);
    let foreign = id(&say(&app, &alice, other, "not here").await);
    assert_eq!(
        find(&room_list_rest(&app, &bob).await, r)["unread_count"],
        3
    );
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;

    // Over the socket, up to a given message.
    bob_ws
        .send_json(
            json!({"type": "mark_read", "room_id": r, "message_id": m2, "request_id": "mr-1"}),
        )
        .await;
    let own_push = bob_ws.next_json().await;
    assert_push(
        &own_push,
        "read_receipt",
        &["room_id", "user_id", "last_read_message_id"],
    );
    let reply = bob_ws.next_json().await;
    assert_frame(
        &reply,
        "read_marked",
        &["room_id", "last_read_message_id", "unread_count"],
    );
    assert_eq!(reply["request_id"], "mr-1");
    assert_eq!(reply["room_id"], r);
    assert_eq!(reply["last_read_message_id"], m2);
    assert_eq!(reply["unread_count"], 1);
    let receipt = alice_ws.next_json().await;
    assert_push(
        &receipt,
        "read_receipt",
        &["room_id", "user_id", "last_read_message_id"],
    );
    assert_eq!(receipt["room_id"], r);
    assert_eq!(receipt["user_id"], bob.id);
    assert_eq!(receipt["last_read_message_id"], m2);
    assert_eq!(
        find(&room_list_rest(&app, &bob).await, r)["unread_count"],
        1
    );

    // Over REST with an empty body: up to the newest.
    let v = json_of(
        app.post_empty(&format!("/api/rooms/{r}/read"), Some(&bob.token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        v,
        json!({"room_id": r, "last_read_message_id": m3, "unread_count": 0})
    );
    let receipt = alice_ws.next_json().await;
    assert_eq!(receipt["type"], "read_receipt");
    assert_eq!(receipt["last_read_message_id"], m3);
    assert_eq!(
        find(&room_list_rest(&app, &bob).await, r)["unread_count"],
        0
    );
    // With {"message_id": N}: the marker never moves back.
    let v = json_of(
        app.post(
            &format!("/api/rooms/{r}/read"),
            Some(&bob.token),
            json!({"message_id": m1}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["last_read_message_id"], m3);
    assert_eq!(alice_ws.next_json().await["type"], "read_receipt");
    // The other room is untouched.
    assert_eq!(
        find(&room_list_rest(&app, &bob).await, other)["unread_count"],
        1
    );

    // A message of another room, or none at all: validation_failed, nothing pushed.
    for mid in [foreign, 999_999] {
        let e = ws_error(
            &mut bob_ws,
            json!({"type": "mark_read", "room_id": r, "message_id": mid}),
            "validation_failed",
        )
        .await;
        assert!(e["fields"]["message_id"].is_string(), "{e}");
        expect_error(
            app.post(
                &format!("/api/rooms/{r}/read"),
                Some(&bob.token),
                json!({"message_id": mid}),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
    }
    quiet(&mut alice_ws).await;
    assert_eq!(
        find(&room_list_rest(&app, &bob).await, other)["unread_count"],
        1
    );
}

#[tokio::test]
async fn typing_reaches_other_members_but_never_the_typist() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let r = id(&room(&app, &alice, "typing", false, &["bob", "carol"]).await);
    let mut alice_ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut alice_tab = app.ws_ready("/ws/chat/", &alice.token).await;
    let mut bob_ws = app.ws_ready("/ws/chat/", &bob.token).await;
    let mut carol_ws = app.ws_ready("/ws/chat/", &carol.token).await;

    // Over the socket: no reply, and the typist's own socket hears nothing: the pong of a ping
    // sent right after is the next frame.
    alice_ws
        .send_json(json!({"type": "typing", "room_id": r, "is_typing": true, "request_id": "t-1"}))
        .await;
    alice_ws
        .send_json(json!({"type": "ping", "request_id": "t-2"}))
        .await;
    let next = alice_ws.next_json().await;
    assert_eq!(next["type"], "pong", "{next}");
    assert_eq!(next["request_id"], "t-2");
    for ws in [&mut bob_ws, &mut carol_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "typing", &["room_id", "user", "is_typing"]);
        assert_eq!(pushed["room_id"], r);
        assert_eq!(pushed["is_typing"], true);
        assert_keys(&pushed["user"], &["id", "username", "display_name"]);
        assert_eq!(pushed["user"]["id"], alice.id);
    }
    quiet(&mut alice_tab).await;

    // Over REST: 204 with no body.
    let resp = app
        .post(
            &format!("/api/rooms/{r}/typing"),
            Some(&bob.token),
            json!({"is_typing": false}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    for ws in [&mut alice_ws, &mut alice_tab, &mut carol_ws] {
        let pushed = ws.next_json().await;
        assert_push(&pushed, "typing", &["room_id", "user", "is_typing"]);
        assert_eq!(pushed["user"]["id"], bob.id);
        assert_eq!(pushed["is_typing"], false);
    }
    quiet(&mut bob_ws).await;

    // Bad input.
    ws_error(
        &mut alice_ws,
        json!({"type": "typing", "room_id": r}),
        "validation_failed",
    )
    .await;
    expect_error(
        app.post(
            &format!("/api/rooms/{r}/typing"),
            Some(&bob.token),
            json!({}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    ws_error(
        &mut alice_ws,
        json!({"type": "typing", "room_id": 999_999, "is_typing": true}),
        "not_found",
    )
    .await;
    quiet(&mut bob_ws).await;
}

#[tokio::test]
async fn sync_over_both_transports_and_ping() {
    let app = app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let r1 = id(&room(&app, &alice, "one", false, &["bob"]).await);
    let r2 = id(&room(&app, &alice, "two", false, &[]).await);
    let a = say(&app, &alice, r1, "a").await;
    let b = say(&app, &alice, r2, "b").await;
    let c = say(&app, &bob, r1, "c").await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;

    let all = call(&mut ws, json!({"type": "sync", "after": 0})).await;
    assert_frame(&all, "sync", &["messages", "has_more"]);
    assert_eq!(all["messages"], json!([a, b, c]));
    assert_eq!(all["has_more"], false);
    let rest = json_of(app.get("/api/sync?after=0", Some(&alice.token)).await, 200).await;
    assert_keys(&rest, &["messages", "has_more"]);
    assert_eq!(rest["messages"], all["messages"]);
    assert_eq!(rest["has_more"], false);

    let page = call(
        &mut ws,
        json!({"type": "sync", "after": id(&a), "limit": 1}),
    )
    .await;
    assert_eq!(page["messages"], json!([b]));
    assert_eq!(page["has_more"], true);
    let rest = json_of(
        app.get(
            &format!("/api/sync?after={}&limit=1", id(&a)),
            Some(&alice.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["messages"], page["messages"]);
    assert_eq!(rest["has_more"], true);
    // Only the caller's rooms.
    let bobs = json_of(app.get("/api/sync?after=0", Some(&bob.token)).await, 200).await;
    assert_eq!(bobs["messages"], json!([a, c]));

    // ping -> pong, echoing string and numeric request ids.
    let pong = call(&mut ws, json!({"type": "ping"})).await;
    assert_frame(&pong, "pong", &[]);
    ws.send_json(json!({"type": "ping", "request_id": 42}))
        .await;
    let pong = ws.next_json().await;
    assert_frame(&pong, "pong", &[]);
    assert_eq!(pong["request_id"], 42);
}

// ---- bad input ----

#[tokio::test]
async fn content_rules_for_send_and_edit_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let r = id(&room(&app, &alice, "content", false, &[]).await);
    let mid = id(&say(&app, &alice, r, "editable").await);
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let too_long = "a".repeat(4001);
    let too_long_wide = "é".repeat(4001);
    for bad in ["", "   \n\t ", too_long.as_str(), too_long_wide.as_str()] {
        let e = ws_error(
            &mut ws,
            json!({"type": "send_message", "room_id": r, "content": bad}),
            "validation_failed",
        )
        .await;
        assert!(e["fields"]["content"].is_string(), "{e}");
        let e = ws_error(
            &mut ws,
            json!({"type": "edit_message", "message_id": mid, "content": bad}),
            "validation_failed",
        )
        .await;
        assert!(e["fields"]["content"].is_string(), "{e}");
        let v = expect_error(
            app.post(
                &format!("/api/rooms/{r}/messages"),
                Some(&alice.token),
                json!({"content": bad}),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
        assert!(v["error"]["fields"]["content"].is_string(), "{v}");
        expect_error(
            patch(
                &app,
                &format!("/api/messages/{mid}"),
                &alice.token,
                json!({"content": bad}),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
    }
    // Nothing was stored by the refused sends.
    let page = call(&mut ws, json!({"type": "get_messages", "room_id": r})).await;
    assert_eq!(ids_of(&page["messages"]), vec![mid]);
    assert_eq!(page["messages"][0]["content"], "editable");

    // 4000 characters are accepted, counted as characters, not bytes (4000 'é' is 8000 bytes).
    let max = "a".repeat(4000);
    let max_wide = "é".repeat(4000);
    for ok in [max.as_str(), max_wide.as_str()] {
        let sent = call(
            &mut ws,
            json!({"type": "send_message", "room_id": r, "content": ok}),
        )
        .await;
        assert_eq!(sent["type"], "message_sent", "{}", sent["code"]);
        assert_eq!(sent["message"]["content"], ok);
        let v = json_of(
            app.post(
                &format!("/api/rooms/{r}/messages"),
                Some(&alice.token),
                json!({"content": ok}),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(
            v["message"]["content"].as_str().unwrap().chars().count(),
            4000
        );
        let edited = call(
            &mut ws,
            json!({"type": "edit_message", "message_id": mid, "content": ok}),
        )
        .await;
        assert_eq!(edited["type"], "message_updated", "{}", edited["code"]);
        let v = json_of(
            patch(
                &app,
                &format!("/api/messages/{mid}"),
                &alice.token,
                json!({"content": ok}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(v["message"]["content"], ok);
    }
}

#[tokio::test]
async fn client_id_and_room_name_limits_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let r = id(&room(&app, &alice, "limits", false, &[]).await);
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;

    let long_cid = "c".repeat(65);
    for bad in ["", long_cid.as_str()] {
        let e = ws_error(
            &mut ws,
            json!({"type": "send_message", "room_id": r, "content": "x", "client_id": bad}),
            "validation_failed",
        )
        .await;
        assert!(e["fields"]["client_id"].is_string(), "{e}");
        expect_error(
            app.post(
                &format!("/api/rooms/{r}/messages"),
                Some(&alice.token),
                json!({"content": "x", "client_id": bad}),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
    }
    let cid = "é".repeat(64);
    let sent = call(
        &mut ws,
        json!({"type": "send_message", "room_id": r, "content": "x", "client_id": cid}),
    )
    .await;
    assert_eq!(sent["type"], "message_sent", "{sent}");
    assert_eq!(sent["message"]["client_id"], cid.as_str());

    let long_name = "n".repeat(101);
    for bad in ["", "   ", long_name.as_str()] {
        let e = ws_error(
            &mut ws,
            json!({"type": "create_room", "name": bad}),
            "validation_failed",
        )
        .await;
        assert!(e["fields"]["name"].is_string(), "{e}");
        expect_error(
            app.post("/api/rooms", Some(&alice.token), json!({"name": bad}))
                .await,
            400,
            "validation_failed",
        )
        .await;
    }
    // Unknown members: nothing is created.
    let e = ws_error(
        &mut ws,
        json!({"type": "create_room", "name": "ghosts", "members": ["nobody"]}),
        "validation_failed",
    )
    .await;
    assert!(e["fields"]["members"].is_string(), "{e}");
    expect_error(
        app.post(
            "/api/rooms",
            Some(&alice.token),
            json!({"name": "ghosts", "members": ["nobody"]}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(ids_of(&room_list_rest(&app, &alice).await), vec![r]);
    // 100 characters are accepted.
    let name = "é".repeat(100);
    let created = call(&mut ws, json!({"type": "create_room", "name": name})).await;
    assert_eq!(created["type"], "room_created", "{created}");
    assert_eq!(created["room"]["name"], name.as_str());
    let v = json_of(
        app.post("/api/rooms", Some(&alice.token), json!({"name": name}))
            .await,
        201,
    )
    .await;
    assert_eq!(v["room"]["name"], name.as_str());
}

#[tokio::test]
async fn missing_fields_and_wrong_types_answer_validation_failed_over_the_socket() {
    let app = app().await;
    let alice = app.register("alice").await;
    let r = id(&room(&app, &alice, "shape", false, &[]).await);
    let mid = id(&say(&app, &alice, r, "m").await);
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let frames = [
        // Missing required fields.
        json!({"type": "get_room"}),
        json!({"type": "create_room"}),
        json!({"type": "open_direct"}),
        json!({"type": "join_room"}),
        json!({"type": "leave_room"}),
        json!({"type": "add_member", "room_id": r}),
        json!({"type": "add_member", "username": "alice"}),
        json!({"type": "get_messages"}),
        json!({"type": "send_message", "room_id": r}),
        json!({"type": "send_message", "content": "where?"}),
        json!({"type": "edit_message", "message_id": mid}),
        json!({"type": "edit_message", "content": "which?"}),
        json!({"type": "delete_message"}),
        json!({"type": "mark_read"}),
        json!({"type": "typing", "is_typing": true}),
        json!({"type": "typing", "room_id": r}),
        // Wrong types.
        json!({"type": "get_room", "room_id": r.to_string()}),
        json!({"type": "join_room", "room_id": r.to_string()}),
        json!({"type": "get_messages", "room_id": r.to_string()}),
        json!({"type": "send_message", "room_id": r.to_string(), "content": "x"}),
        json!({"type": "send_message", "room_id": r, "content": 5}),
        json!({"type": "send_message", "room_id": r, "content": "x", "client_id": 7}),
        json!({"type": "edit_message", "message_id": mid.to_string(), "content": "x"}),
        json!({"type": "delete_message", "message_id": [mid]}),
        json!({"type": "create_room", "name": 5}),
        json!({"type": "create_room", "name": "x", "is_public": "yes"}),
        json!({"type": "create_room", "name": "x", "members": "bob"}),
        json!({"type": "open_direct", "username": null}),
        json!({"type": "get_messages", "room_id": r, "limit": "10"}),
        json!({"type": "get_public_rooms", "limit": "5"}),
        json!({"type": "mark_read", "room_id": r, "message_id": "x"}),
        json!({"type": "typing", "room_id": r, "is_typing": "yes"}),
        json!({"type": "sync", "after": "0"}),
    ];
    for f in frames {
        ws_error(&mut ws, f, "validation_failed").await;
    }
    // Nothing was created or changed.
    assert_eq!(ids_of(&room_list_rest(&app, &alice).await), vec![r]);
    let page = call(&mut ws, json!({"type": "get_messages", "room_id": r})).await;
    assert_eq!(ids_of(&page["messages"]), vec![mid]);
    assert_eq!(page["messages"][0]["content"], "m");
}

#[tokio::test]
async fn missing_fields_and_wrong_types_answer_400_over_rest() {
    let app = app().await;
    let alice = app.register("alice").await;
    let r = id(&room(&app, &alice, "shape", false, &[]).await);
    let mid = id(&say(&app, &alice, r, "m").await);
    let t = Some(alice.token.as_str());
    let posts = [
        ("/api/rooms".to_string(), json!({})),
        ("/api/rooms".to_string(), json!({"name": 5})),
        (
            "/api/rooms".to_string(),
            json!({"name": "x", "members": "bob"}),
        ),
        ("/api/rooms/direct".to_string(), json!({})),
        (format!("/api/rooms/{r}/members"), json!({})),
        (format!("/api/rooms/{r}/messages"), json!({})),
        (format!("/api/rooms/{r}/messages"), json!({"content": 5})),
        (format!("/api/rooms/{r}/read"), json!({"message_id": "x"})),
        (
            format!("/api/rooms/{r}/typing"),
            json!({"is_typing": "yes"}),
        ),
    ];
    for (path, body) in posts {
        let v = expect_error(
            app.post(&path, t, body.clone()).await,
            400,
            "validation_failed",
        )
        .await;
        assert!(
            !v["error"]["message"].as_str().unwrap().is_empty(),
            "{path} {body}"
        );
    }
    for body in [json!({}), json!({"content": 5})] {
        expect_error(
            patch(&app, &format!("/api/messages/{mid}"), &alice.token, body).await,
            400,
            "validation_failed",
        )
        .await;
    }
    // A body that is not JSON at all.
    let resp = app
        .http
        .post(app.url(&format!("/api/rooms/{r}/messages")))
        .bearer_auth(&alice.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_json").await;
    // A required body that is missing.
    expect_error(
        app.post_empty(&format!("/api/rooms/{r}/messages"), t).await,
        400,
        "invalid_json",
    )
    .await;
    // Ids in paths that are not numbers: not_found (docs/decisions.md).
    expect_error(app.get("/api/rooms/abc", t).await, 404, "not_found").await;
    expect_error(
        app.post("/api/rooms/abc/messages", t, json!({"content": "x"}))
            .await,
        404,
        "not_found",
    )
    .await;
    let page = json_of(app.get(&format!("/api/rooms/{r}/messages"), t).await, 200).await;
    assert_eq!(ids_of(&page["messages"]), vec![mid]);
}

#[tokio::test]
async fn limits_out_of_range_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let r = id(&room(&app, &alice, "Limits", true, &[]).await);
    say(&app, &alice, r, "m").await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    for limit in [0, 101, -1] {
        for f in [
            json!({"type": "get_messages", "room_id": r, "limit": limit}),
            json!({"type": "get_public_rooms", "limit": limit}),
            json!({"type": "sync", "after": 0, "limit": limit}),
        ] {
            let e = ws_error(&mut ws, f, "validation_failed").await;
            assert!(e["fields"]["limit"].is_string(), "{e}");
        }
        for path in [
            format!("/api/rooms/{r}/messages?limit={limit}"),
            format!("/api/rooms/public?limit={limit}"),
            format!("/api/sync?after=0&limit={limit}"),
        ] {
            expect_error(
                app.get(&path, Some(&alice.token)).await,
                400,
                "validation_failed",
            )
            .await;
        }
    }
    for limit in [1, 100] {
        let page = call(
            &mut ws,
            json!({"type": "get_messages", "room_id": r, "limit": limit}),
        )
        .await;
        assert_eq!(page["type"], "messages", "{page}");
        let rooms = call(&mut ws, json!({"type": "get_public_rooms", "limit": limit})).await;
        assert_eq!(rooms["type"], "public_room_list", "{rooms}");
        let sync = call(&mut ws, json!({"type": "sync", "after": 0, "limit": limit})).await;
        assert_eq!(sync["type"], "sync", "{sync}");
        for path in [
            format!("/api/rooms/{r}/messages?limit={limit}"),
            format!("/api/rooms/public?limit={limit}"),
            format!("/api/sync?after=0&limit={limit}"),
        ] {
            json_of(app.get(&path, Some(&alice.token)).await, 200).await;
        }
    }
}

#[tokio::test]
async fn unknown_rooms_and_messages_answer_not_found_over_both_transports() {
    let app = app().await;
    let alice = app.register("alice").await;
    let _bob = app.register("bob").await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    let room = 999_999;
    for f in [
        json!({"type": "get_room", "room_id": room}),
        json!({"type": "join_room", "room_id": room}),
        json!({"type": "leave_room", "room_id": room}),
        json!({"type": "add_member", "room_id": room, "username": "bob"}),
        json!({"type": "get_messages", "room_id": room}),
        json!({"type": "send_message", "room_id": room, "content": "x"}),
        json!({"type": "mark_read", "room_id": room}),
        json!({"type": "typing", "room_id": room, "is_typing": true}),
        json!({"type": "edit_message", "message_id": room, "content": "x"}),
        json!({"type": "delete_message", "message_id": room}),
    ] {
        ws_error(&mut ws, f, "not_found").await;
    }
    let t = Some(alice.token.as_str());
    for resp in [
        app.get(&format!("/api/rooms/{room}"), t).await,
        app.post_empty(&format!("/api/rooms/{room}/join"), t).await,
        app.post_empty(&format!("/api/rooms/{room}/leave"), t).await,
        app.post(
            &format!("/api/rooms/{room}/members"),
            t,
            json!({"username": "bob"}),
        )
        .await,
        app.get(&format!("/api/rooms/{room}/messages"), t).await,
        app.post(
            &format!("/api/rooms/{room}/messages"),
            t,
            json!({"content": "x"}),
        )
        .await,
        app.post_empty(&format!("/api/rooms/{room}/read"), t).await,
        app.post(
            &format!("/api/rooms/{room}/typing"),
            t,
            json!({"is_typing": true}),
        )
        .await,
        patch(
            &app,
            &format!("/api/messages/{room}"),
            &alice.token,
            json!({"content": "x"}),
        )
        .await,
        delete(&app, &format!("/api/messages/{room}"), &alice.token).await,
    ] {
        expect_error(resp, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_request_refused_by_flood_control_is_answered_with_its_request_id() {
    let app = spawn_app_with(|c| c.messages_per_second = 1).await;
    let alice = app.register("alice").await;
    let mut ws = app.ws_ready("/ws/chat/", &alice.token).await;
    // A burst of two is allowed; the third frame, right behind them, is refused.
    for rid in ["f-1", "f-2", "f-3"] {
        ws.send_json(json!({"type": "get_room_list", "request_id": rid}))
            .await;
    }
    for rid in ["f-1", "f-2"] {
        let f = ws.next_json().await;
        assert_eq!(f["type"], "room_list", "{f}");
        assert_eq!(f["request_id"], rid);
    }
    let refused = ws.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(refused["request_id"], "f-3", "{refused}");
    assert!(refused.get("close_code").is_none(), "{refused}");
}
