//! Anonymous support chat and the staff console.

use crate::helpers::*;
use serde_json::{json, Value};

async fn visitor(app: &TestApp) -> (WsClient, Value) {
    let mut ws = WsClient::connect(&app.ws_url("/ws/support/"), &[]).await;
    let hello = ws.next_json().await;
    assert_eq!(hello["type"], "connected", "{hello}");
    (ws, hello)
}

#[tokio::test]
async fn visitor_staff_visitor_round_trip_over_websockets() {
    let app = spawn_app().await;
    let staff = app.staff("sam").await;
    let mut console = app.ws_ready("/ws/admin/chat/", &staff.token).await;
    let (mut v, hello) = visitor(&app).await;
    assert!(hello["user"].is_null());
    assert!(hello["guest"]["id"].as_i64().is_some());
    assert!(hello["guest"]["name"]
        .as_str()
        .unwrap()
        .starts_with("Visitor "));
    let guest_token = hello["guest_token"].as_str().unwrap().to_string();
    assert!(guest_token.len() >= 43);

    let sent = v
        .request(json!({"type": "send_message", "content": "Where is my order?"}))
        .await;
    assert_eq!(sent["type"], "message_sent", "{sent}");
    let room_id = sent["message"]["room_id"].as_i64().unwrap();
    assert_eq!(
        sent["message"]["sender"]["display_name"],
        hello["guest"]["name"]
    );
    // Staff hear of the new conversation and the message, live.
    let announced = console.next_of("room_updated").await;
    assert_eq!(announced["room"]["id"], room_id);
    assert_eq!(announced["room"]["kind"], "support");
    let pushed = console.next_of("message").await;
    assert_eq!(pushed["message"], sent["message"]);
    let list = console.request(json!({"type": "get_room_list"})).await;
    assert_eq!(list["type"], "room_list");
    assert_eq!(list["rooms"][0]["id"], room_id);
    assert_eq!(list["rooms"][0]["unread_count"], 1);
    // The reply reaches the visitor.
    let reply = console
        .request(json!({"type": "send_message", "room_id": room_id, "content": "Shipped today!"}))
        .await;
    assert_eq!(reply["type"], "message_sent", "{reply}");
    let got = v.next_of("message").await;
    assert_eq!(got["message"]["content"], "Shipped today!");
    assert_eq!(got["message"]["sender"]["username"], "sam");
    // Staff read it: the unread count drops.
    let marked = console
        .request(json!({"type": "mark_read", "room_id": room_id}))
        .await;
    assert_eq!(marked["type"], "read_marked");
    assert_eq!(marked["unread_count"], 0);
    let history = console
        .request(json!({"type": "get_messages", "room_id": room_id}))
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 2);

    // Resuming with the guest token: same identity, same conversation.
    drop(v);
    let mut again = WsClient::connect(
        &app.ws_url(&format!("/ws/support/?guest={guest_token}")),
        &[],
    )
    .await;
    let hello2 = again.next_json().await;
    assert_eq!(hello2["guest"]["id"], hello["guest"]["id"]);
    assert!(hello2.get("guest_token").is_none());
    let page = again.request(json!({"type": "get_messages"})).await;
    assert_eq!(page["room_id"], room_id);
    let contents: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["Where is my order?", "Shipped today!"]);
}

#[tokio::test]
async fn round_trip_over_rest() {
    let app = spawn_app().await;
    let staff = app.staff("sue").await;
    let (_v, hello) = visitor(&app).await;
    let guest = hello["guest_token"].as_str().unwrap();
    let post = app
        .http
        .post(app.url("/api/support/messages"))
        .header("X-Guest-Token", guest)
        .json(&json!({"content": "hello, anyone?", "client_id": "g-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 201);
    let again = app
        .http
        .post(app.url("/api/support/messages"))
        .header("X-Guest-Token", guest)
        .json(&json!({"content": "hello, anyone?", "client_id": "g-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "deduplicated");
    let rooms: Value = app
        .get("/api/admin/support/rooms", Some(&staff.token))
        .await
        .json()
        .await
        .unwrap();
    let room = &rooms["rooms"][0];
    assert_eq!(room["unread_count"], 1);
    let id = room["id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/admin/support/rooms/{id}/messages"),
            Some(&staff.token),
            json!({"content": "yes, hi!"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let page: Value = app
        .http
        .get(app.url("/api/support/messages"))
        .header("X-Guest-Token", guest)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page["messages"][1]["content"], "yes, hi!");
    let staff_page: Value = app
        .get(
            &format!("/api/admin/support/rooms/{id}/messages?limit=1"),
            Some(&staff.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff_page["has_more"], true);
    let read: Value = app
        .post_empty(
            &format!("/api/admin/support/rooms/{id}/read"),
            Some(&staff.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["unread_count"], 0);
    // A signed-in user has their own support conversation, by bearer token.
    let user = app.register("ursula").await;
    let mine = app
        .post(
            "/api/support/messages",
            Some(&user.token),
            json!({"content": "me too"}),
        )
        .await;
    assert_eq!(mine.status(), 201);
    let rooms: Value = app
        .get("/api/admin/support/rooms", Some(&staff.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 2);
    // Support rooms stay out of the user's chat room list.
    let chat_rooms: Value = app
        .get("/api/rooms", Some(&user.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chat_rooms["rooms"], json!([]));
}

#[tokio::test]
async fn visitors_cannot_reach_each_other_and_credentials_are_checked() {
    let app = spawn_app().await;
    let (mut a, _) = visitor(&app).await;
    let (mut b, hello_b) = visitor(&app).await;
    let a_msg = a
        .request(json!({"type": "send_message", "content": "secret of A"}))
        .await;
    let a_room = a_msg["message"]["room_id"].as_i64().unwrap();
    // B naming A's room still writes only into B's own conversation.
    let b_msg = b
        .request(json!({"type": "send_message", "room_id": a_room, "content": "from B"}))
        .await;
    assert_ne!(b_msg["message"]["room_id"], a_room);
    let b_page = b
        .request(json!({"type": "get_messages", "room_id": a_room}))
        .await;
    let contents: Vec<&str> = b_page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["from B"]);
    // Staff-only frames are not available to visitors.
    let e = b.request(json!({"type": "get_room_list"})).await;
    assert_eq!(e["code"], "unknown_type");
    // A wrong guest token closes with 4401 and creates nothing.
    let mut bad = WsClient::connect(&app.ws_url("/ws/support/?guest=not-a-token"), &[]).await;
    assert_eq!(bad.expect_close(4401).await, "invalid token");
    let bad_rest = app
        .http
        .get(app.url("/api/support/messages"))
        .header("X-Guest-Token", "not-a-token")
        .send()
        .await
        .unwrap();
    expect_error(bad_rest, 401, "unauthenticated").await;
    expect_error(
        app.get("/api/support/messages", None).await,
        401,
        "unauthenticated",
    )
    .await;
    // Staff-only REST refuses users (403) and guests (401).
    let user = app.register("victor").await;
    expect_error(
        app.get("/api/admin/support/rooms", Some(&user.token)).await,
        403,
        "forbidden",
    )
    .await;
    let guest = hello_b["guest_token"].as_str().unwrap();
    expect_error(
        app.get("/api/admin/support/rooms", Some(guest)).await,
        401,
        "unauthenticated",
    )
    .await;
    let as_guest = app
        .http
        .get(app.url("/api/admin/support/rooms"))
        .header("X-Guest-Token", guest)
        .send()
        .await
        .unwrap();
    expect_error(as_guest, 401, "unauthenticated").await;
    let r = app
        .post(
            &format!("/api/admin/support/rooms/{a_room}/messages"),
            Some(&user.token),
            json!({"content": "x"}),
        )
        .await;
    expect_error(r, 403, "forbidden").await;
    // A guest token is not a bearer token for the chat consumer.
    let mut chat = WsClient::connect(&app.ws_url(&format!("/ws/chat/?token={guest}")), &[]).await;
    assert_eq!(chat.expect_close(4401).await, "invalid token");
    // Staff console operations touch support rooms only.
    let staff = app.staff("stan").await;
    let group: Value = app
        .post(
            "/api/rooms",
            Some(&staff.token),
            json!({"name": "staff room"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let gid = group["room"]["id"].as_i64().unwrap();
    expect_error(
        app.get(
            &format!("/api/admin/support/rooms/{gid}/messages"),
            Some(&staff.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn guest_creation_is_throttled_per_address() {
    let app = spawn_app_with(|c| c.guest_max_per_window = 2).await;
    let (_a, _) = visitor(&app).await;
    let (_b, _) = visitor(&app).await;
    let mut c = WsClient::connect(&app.ws_url("/ws/support/"), &[]).await;
    c.expect_close(4429).await;
}

/// Sends a visitor's message over REST with their guest token.
async fn guest_says(app: &TestApp, guest: &str, content: &str) {
    let r = app
        .http
        .post(app.url("/api/support/messages"))
        .header("X-Guest-Token", guest)
        .json(&json!({"content": content}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn a_visitor_who_signs_up_keeps_the_conversation() {
    let app = spawn_app().await;
    let staff = app.staff("sam_adopt").await;
    let mut console = app.ws_ready("/ws/admin/chat/", &staff.token).await;
    let (mut visitor_ws, hello) = visitor(&app).await;
    let guest = hello["guest_token"].as_str().unwrap().to_string();
    guest_says(&app, &guest, "question before signing up").await;
    console.next_of("room_updated").await;
    let reply = console.request(json!({"type": "get_room_list"})).await;
    let room_id = reply["rooms"][0]["id"].as_i64().unwrap();

    // Sign up with the guest token.
    let resp = app
        .http
        .post(app.url("/api/auth/register"))
        .header("X-Guest-Token", &guest)
        .json(&json!({"username": "newcomer", "password": "password123", "display_name": "New Comer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let grant: Value = resp.json().await.unwrap();
    let token = grant["token"].as_str().unwrap();
    let user_id = grant["user"]["id"].as_i64().unwrap();

    // The guest token stops working; its socket is closed with 4401.
    assert!(!visitor_ws.expect_close(4401).await.is_empty());
    let r = app
        .http
        .get(app.url("/api/support/messages"))
        .header("X-Guest-Token", &guest)
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthenticated").await;

    // The user's own support conversation is the visitor's, history kept, now theirs.
    let page: Value = app
        .get("/api/support/messages", Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["room_id"], room_id, "{page}");
    let m = &page["messages"][0];
    assert_eq!(m["content"], "question before signing up");
    assert_eq!(m["sender"]["id"], user_id);
    // Staff see one thread, named after the user.
    let pushed = console.next_of("room_updated").await;
    assert_eq!(pushed["room"]["id"], room_id);
    assert_eq!(pushed["room"]["name"], "Support: New Comer");
    let list = console.request(json!({"type": "get_room_list"})).await;
    assert_eq!(list["rooms"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn signing_in_merges_a_visit_into_an_existing_conversation_in_order() {
    let app = spawn_app().await;
    let staff = app.staff("sid_adopt").await;
    let member = app.register("regular").await;
    // The user's own conversation, and a later visit without signing in.
    let own = app
        .post(
            "/api/support/messages",
            Some(&member.token),
            json!({"content": "first, signed in"}),
        )
        .await;
    assert_eq!(own.status(), 201);
    let (_v, hello) = visitor(&app).await;
    let guest = hello["guest_token"].as_str().unwrap().to_string();
    guest_says(&app, &guest, "second, as a visitor").await;
    let staff_reply = app
        .get("/api/admin/support/rooms", Some(&staff.token))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(staff_reply["rooms"].as_array().unwrap().len(), 2);

    // Signing in with the guest token merges the visit.
    let resp = app
        .http
        .post(app.url("/api/auth/login"))
        .header("X-Guest-Token", &guest)
        .json(&json!({"username": "regular", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page: Value = app
        .get("/api/support/messages", Some(&member.token))
        .await
        .json()
        .await
        .unwrap();
    let contents: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["first, signed in", "second, as a visitor"]);
    assert!(page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["sender"]["id"] == member.id));
    let rooms = app
        .get("/api/admin/support/rooms", Some(&staff.token))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        rooms["rooms"].as_array().unwrap().len(),
        1,
        "one thread for staff"
    );

    // A bad guest token is ignored: the sign-in still succeeds.
    let resp = app
        .http
        .post(app.url("/api/auth/login"))
        .header("X-Guest-Token", "not-a-guest-token")
        .json(&json!({"username": "regular", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
