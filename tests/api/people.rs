//! Contract v1.1, section 4.1: members, presence and finding people, over both transports.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn get_members_lists_members_by_display_name_with_online_and_read_markers() {
    let app = spawn_app().await;
    let zed = app.register("zed_people").await;
    let amy = app.register("amy_people").await;
    let out = app.register("out_people").await;
    let room = app.create_room(&zed, "crew", false, &["amy_people"]).await;
    let r = room["id"].as_i64().unwrap();
    let m = app.say(&amy, r, "hello").await;
    // amy reads up to her message; she has a chat socket open, zed has none.
    let mut amy_ws = app.ws_ready("/ws/chat/", &amy.token).await;
    let marked = amy_ws
        .request(json!({"type": "mark_read", "room_id": r}))
        .await;
    assert_eq!(marked["type"], "read_marked", "{marked}");

    // Over REST.
    let resp = app
        .get(&format!("/api/rooms/{r}/members"), Some(&zed.token))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["room_id"], r);
    assert!(body.get("type").is_none(), "{body}");
    let members = body["members"].as_array().unwrap();
    let names: Vec<&str> = members
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["amy_people", "zed_people"], "by display name");
    assert_eq!(members[0]["online"], true);
    assert_eq!(members[0]["last_read_message_id"], m["id"]);
    assert_eq!(members[1]["online"], false);

    // Over the socket: the same body, with `type: members`.
    let frame = amy_ws
        .request(json!({"type": "get_members", "room_id": r}))
        .await;
    assert_eq!(frame["type"], "members");
    assert_eq!(frame["room_id"], body["room_id"]);
    assert_eq!(frame["members"], body["members"]);

    // Only members may list them.
    expect_error(
        app.get(&format!("/api/rooms/{r}/members"), Some(&out.token))
            .await,
        404,
        "not_found",
    )
    .await;
    let mut out_ws = app.ws_ready("/ws/chat/", &out.token).await;
    let e = out_ws
        .request(json!({"type": "get_members", "room_id": r}))
        .await;
    assert_eq!(e["code"], "not_found", "{e}");
    let e = out_ws.request(json!({"type": "get_members"})).await;
    assert_eq!(e["code"], "validation_failed", "{e}");
}

#[tokio::test]
async fn search_users_finds_registered_people_best_match_first() {
    let app = spawn_app().await;
    let me = app.register("searcher").await;
    for name in ["bobby", "bob", "rebob", "alice"] {
        app.register(name).await;
    }
    let resp = app.get("/api/users?query=%20BOB%20", Some(&me.token)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let names: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "bobby", "rebob"], "exact, prefix, substring");
    let resp = app.get("/api/users?query=b&limit=1", Some(&me.token)).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    // LIKE wildcards are plain characters.
    let resp = app.get("/api/users?query=%25", Some(&me.token)).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["users"], json!([]));
    // Bad queries and limits.
    for q in [
        "",
        "query=",
        "query=%20%20",
        "query=a&limit=0",
        "query=a&limit=51",
    ] {
        expect_error(
            app.get(&format!("/api/users?{q}"), Some(&me.token)).await,
            400,
            "validation_failed",
        )
        .await;
    }
    expect_error(
        app.get("/api/users?query=bob", None).await,
        401,
        "unauthenticated",
    )
    .await;

    // Over the socket.
    let mut ws = app.ws_ready("/ws/chat/", &me.token).await;
    let frame = ws
        .request(json!({"type": "search_users", "query": "bob", "limit": 2}))
        .await;
    assert_eq!(frame["type"], "user_list");
    assert_eq!(frame["users"][0]["username"], "bob");
    assert_eq!(frame["users"].as_array().unwrap().len(), 2);

    // Guests are never found.
    let mut visitor = WsClient::connect(&app.ws_url("/ws/support/"), &[]).await;
    let hello = visitor.next_json().await;
    let guest_name = hello["guest"]["name"].as_str().unwrap().to_string();
    let frame = ws
        .request(json!({"type": "search_users", "query": "visitor"}))
        .await;
    assert_eq!(frame["users"], json!([]), "{guest_name} must not be found");
}

#[tokio::test]
async fn presence_is_pushed_to_people_who_share_a_room_and_offline_waits_for_the_grace() {
    let app = spawn_app_with(|c| c.presence_grace = Duration::from_millis(300)).await;
    let ann = app.register("ann_presence").await;
    let ben = app.register("ben_presence").await;
    let stranger = app.register("stranger_presence").await;
    app.create_room(&ann, "pair", false, &["ben_presence"])
        .await;

    let mut ann_ws = app.ws_ready("/ws/chat/", &ann.token).await;
    // Her own socket hears that she is online.
    let own = ann_ws.next_of("presence").await;
    assert_eq!(
        (own["user_id"].as_i64(), own["online"].as_bool()),
        (Some(ann.id), Some(true))
    );
    assert!(own["last_seen_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let mut stranger_ws = app.ws_ready("/ws/chat/", &stranger.token).await;

    // Ben comes online: Ann hears it.
    let ben_ws = app.ws_ready("/ws/chat/", &ben.token).await;
    let p = ann_ws.next_of("presence").await;
    assert_eq!(
        (p["user_id"].as_i64(), p["online"].as_bool()),
        (Some(ben.id), Some(true))
    );

    // Ben leaves: offline is announced after the grace, with when he was last seen.
    drop(ben_ws);
    let p = ann_ws.next_of("presence").await;
    assert_eq!(
        (p["user_id"].as_i64(), p["online"].as_bool()),
        (Some(ben.id), Some(false))
    );
    assert!(p["last_seen_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    // Someone who shares no room with them heard of nobody but themself.
    stranger_ws
        .send_json(json!({"type": "ping", "request_id": "last"}))
        .await;
    loop {
        let f = stranger_ws.next_json().await;
        if f["type"] == "pong" {
            break;
        }
        if f["type"] == "presence" {
            assert_eq!(f["user_id"].as_i64(), Some(stranger.id), "{f}");
        }
    }
}
