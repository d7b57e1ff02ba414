//! The WebSocket front door: credentials, close codes, live credentials, heartbeat, limits.

use crate::helpers::*;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const PATHS: [&str; 4] = [
    "/ws/chat/",
    "/ws/tasks/",
    "/ws/notifications/",
    "/ws/admin/chat/",
];

#[tokio::test]
async fn every_credential_route_connects() {
    let app = spawn_app().await;
    let u = app.register("alice").await;
    // ?token= and ?access=
    for q in ["token", "access"] {
        let mut ws =
            WsClient::connect(&app.ws_url(&format!("/ws/chat/?{q}={}", u.token)), &[]).await;
        let hello = ws.next_json().await;
        assert_eq!(hello["type"], "connected");
        assert_eq!(hello["user"]["username"], "alice");
        assert!(hello["connection_id"].is_string());
        assert_eq!(hello["heartbeat_s"], 20);
        assert!(hello["limits"]["max_message_bytes"].is_u64());
        assert!(hello["limits"]["messages_per_second"].is_u64());
    }
    // ?ticket=
    let ticket = app.ticket(&u.token).await;
    let mut ws = WsClient::connect(&app.ws_url(&format!("/ws/chat?ticket={ticket}")), &[]).await;
    assert_eq!(ws.next_json().await["user"]["id"], u.id);
    // Sec-WebSocket-Protocol: bearer, <token> — and `bearer` is echoed.
    let proto = format!("bearer, {}", u.token);
    let mut ws = WsClient::connect(
        &app.ws_url("/ws/chat/"),
        &[("Sec-WebSocket-Protocol", &proto)],
    )
    .await;
    assert_eq!(ws.protocol.as_deref(), Some("bearer"));
    assert_eq!(ws.next_json().await["type"], "connected");
    // Authorization: Bearer
    let auth = format!("Bearer {}", u.token);
    let mut ws = WsClient::connect(&app.ws_url("/ws/tasks"), &[("Authorization", &auth)]).await;
    assert_eq!(ws.next_json().await["type"], "connected");
}

#[tokio::test]
async fn bad_credentials_close_with_4401_and_exact_reasons() {
    let app = spawn_app_with(|c| c.token_ttl = Duration::from_millis(1000)).await;
    let u = app.register("bob").await;
    // Expired while connected (first, while the short-lived token is still fresh), then
    // expired at the handshake.
    let mut ws = WsClient::connect(&app.ws_url(&format!("/ws/chat/?token={}", u.token)), &[]).await;
    ws.next_of("connected").await;
    assert_eq!(ws.expect_close(4401).await, "expired token");
    let mut ws = WsClient::connect(&app.ws_url(&format!("/ws/chat/?token={}", u.token)), &[]).await;
    assert_eq!(ws.expect_close(4401).await, "expired token");
    for path in PATHS {
        // Missing.
        let mut ws = WsClient::connect(&app.ws_url(path), &[]).await;
        assert_eq!(ws.expect_close(4401).await, "missing token", "{path}");
        // Unknown token.
        let mut ws = WsClient::connect(&app.ws_url(&format!("{path}?token=nope")), &[]).await;
        assert_eq!(ws.expect_close(4401).await, "invalid token", "{path}");
    }
    // Unknown ticket.
    let mut ws = WsClient::connect(&app.ws_url("/ws/chat/?ticket=nope"), &[]).await;
    assert_eq!(ws.expect_close(4401).await, "invalid token");
    // A bad token offered as a subprotocol still gets `bearer` echoed, then 4401.
    let mut ws = WsClient::connect(
        &app.ws_url("/ws/chat/"),
        &[("Sec-WebSocket-Protocol", "bearer, nope")],
    )
    .await;
    assert_eq!(ws.protocol.as_deref(), Some("bearer"));
    assert_eq!(ws.expect_close(4401).await, "invalid token");
}

#[tokio::test]
async fn revoked_token_and_used_ticket() {
    let app = spawn_app().await;
    let u = app.register("carol").await;
    let ticket = app.ticket(&u.token).await;
    let mut ws = WsClient::connect(&app.ws_url(&format!("/ws/chat/?ticket={ticket}")), &[]).await;
    ws.next_of("connected").await;
    // A ticket works once.
    let mut again =
        WsClient::connect(&app.ws_url(&format!("/ws/chat/?ticket={ticket}")), &[]).await;
    assert_eq!(again.expect_close(4401).await, "invalid token");
    // Logout revokes: the ticket-opened socket closes, and the token is "revoked" after.
    let unused = app.ticket(&u.token).await;
    assert_eq!(
        app.post_empty("/api/auth/logout", Some(&u.token))
            .await
            .status(),
        204
    );
    assert_eq!(ws.expect_close(4401).await, "revoked token");
    let mut ws = WsClient::connect(&app.ws_url(&format!("/ws/chat/?token={}", u.token)), &[]).await;
    assert_eq!(ws.expect_close(4401).await, "revoked token");
    // A ticket minted by the revoked token is dead too.
    let mut ws = WsClient::connect(&app.ws_url(&format!("/ws/chat/?ticket={unused}")), &[]).await;
    assert_eq!(ws.expect_close(4401).await, "revoked token");
}

#[tokio::test]
async fn logout_and_refresh_close_live_sockets_within_a_second() {
    let app = spawn_app().await;
    let u = app.register("dan").await;
    let other = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "dan", "password": "password123"}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut a = app.ws_ready("/ws/chat/", &u.token).await;
    let mut b = app.ws_ready("/ws/tasks/", &u.token).await;
    let mut keep = app.ws_ready("/ws/chat/", &other).await;
    app.post_empty("/api/auth/logout", Some(&u.token)).await;
    assert_eq!(a.expect_close_within_1s(4401).await, "revoked token");
    assert_eq!(b.expect_close_within_1s(4401).await, "revoked token");
    // The user's other token's socket lives on.
    let pong = keep.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
    // Refresh revokes the old token and closes its socket.
    let r = app.post_empty("/api/auth/refresh", Some(&other)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(keep.expect_close_within_1s(4401).await, "revoked token");
}

#[tokio::test]
async fn forbidden_endpoints_close_with_4403() {
    let app = spawn_app().await;
    let u = app.register("erin").await;
    let v = app.register("frank").await;
    let mut ws = app.ws("/ws/admin/chat/", &u.token).await;
    ws.expect_close(4403).await;
    let mut ws = app
        .ws(&format!("/ws/notifications/{}/", v.id), &u.token)
        .await;
    ws.expect_close(4403).await;
    let mut ws = app.ws("/ws/notifications/abc/", &u.token).await;
    ws.expect_close(4403).await;
    // One's own id is fine, and staff may open the console.
    let mut ws = app
        .ws_ready(&format!("/ws/notifications/{}", u.id), &u.token)
        .await;
    assert_eq!(ws.request(json!({"type": "ping"})).await["type"], "pong");
    let s = app.staff("grace").await;
    app.ws_ready("/ws/admin/chat/", &s.token).await;
}

#[tokio::test]
async fn reauthenticate_in_band() {
    let app = spawn_app().await;
    let u = app.register("heidi").await;
    let stranger = app.register("ivan").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    // A fresh token of the same user: accepted, and the socket survives the old token's logout.
    let fresh = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "heidi", "password": "password123"}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let fresh_token = fresh["token"].as_str().unwrap();
    let r = ws
        .request(json!({"type": "reauthenticate", "token": fresh_token}))
        .await;
    assert_eq!(r["type"], "reauthenticated", "{r}");
    assert_eq!(r["expires_at"], fresh["expires_at"]);
    app.post_empty("/api/auth/logout", Some(&u.token)).await;
    assert_eq!(ws.request(json!({"type": "ping"})).await["type"], "pong");
    // A ticket works too.
    let ticket = app.ticket(fresh_token).await;
    let r = ws
        .request(json!({"type": "reauthenticate", "ticket": ticket}))
        .await;
    assert_eq!(r["type"], "reauthenticated", "{r}");
    // Logging out the token the socket now lives under closes it.
    app.post_empty("/api/auth/logout", Some(fresh_token)).await;
    assert_eq!(ws.expect_close(4401).await, "revoked token");

    // Another user's token: error, then 4401.
    let v = app.register("judy").await;
    let mut ws = app.ws_ready("/ws/chat/", &v.token).await;
    ws.send_json(json!({"type": "reauthenticate", "token": stranger.token, "request_id": "x"}))
        .await;
    let (frames, closed) = ws.until_close().await;
    assert_eq!(closed.code, 4401);
    let last = frames.last().unwrap();
    assert_eq!(last["code"], "unauthenticated");
    assert_eq!(last["request_id"], "x");
    // A bad token: error, then 4401 "invalid token".
    let mut ws = app.ws_ready("/ws/chat/", &v.token).await;
    ws.send_json(json!({"type": "reauthenticate", "token": "bogus"}))
        .await;
    assert_eq!(ws.expect_close(4401).await, "invalid token");
}

#[tokio::test]
async fn origin_is_checked_before_the_upgrade() {
    let app = spawn_app_with(|c| c.allowed_origins = vec!["http://app.example".into()]).await;
    let u = app.register("kate").await;
    let url = app.ws_url(&format!("/ws/chat/?token={}", u.token));
    let err = WsClient::try_connect(&url, &[("Origin", "http://evil.example")])
        .await
        .err()
        .expect("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("expected an HTTP 403, got {other:?}"),
    }
    let same = format!("http://127.0.0.1:{}", app.port);
    let mut ws = WsClient::connect(&url, &[("Origin", &same)]).await;
    assert_eq!(ws.next_json().await["type"], "connected");
    let mut ws = WsClient::connect(&url, &[("Origin", "http://app.example")]).await;
    assert_eq!(ws.next_json().await["type"], "connected");
}

#[tokio::test]
async fn token_expiring_then_expiry_closes_the_socket() {
    let app = spawn_app_with(|c| {
        c.token_ttl = Duration::from_millis(1500);
        c.token_expiring_notice = Duration::from_millis(1000);
    })
    .await;
    let u = app.register("leo").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    let notice = ws.next_json().await;
    assert_eq!(notice["type"], "token_expiring", "{notice}");
    assert!(notice["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ws.expect_close(4401).await, "expired token");
}

#[tokio::test]
async fn a_short_lived_token_is_not_warned_before_half_its_lifetime() {
    // With the default 60 s notice, a 4 s token used to be warned the moment its socket opened
    // (and the page refreshed it at once). The warning now waits for half the lifetime.
    let app = spawn_app_with(|c| c.token_ttl = Duration::from_secs(4)).await;
    let issued = std::time::Instant::now();
    let u = app.register("nia").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    let notice = ws.next_json().await;
    assert_eq!(notice["type"], "token_expiring", "{notice}");
    let waited = issued.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "warned {waited:?} after the token was made"
    );
    assert_eq!(ws.expect_close(4401).await, "expired token");
}

#[tokio::test]
async fn reauthenticate_moves_the_expiry_to_the_new_token() {
    let app = spawn_app_with(|c| {
        c.token_ttl = Duration::from_millis(1500);
        c.token_expiring_notice = Duration::from_millis(1000);
    })
    .await;
    let u = app.register("mia").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    let first = ws.next_json().await;
    assert_eq!(first["type"], "token_expiring");
    let fresh: serde_json::Value = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "mia", "password": "password123"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["expires_at"], first["expires_at"]);
    let r = ws
        .request(json!({"type": "reauthenticate", "token": fresh["token"]}))
        .await;
    assert_eq!(r["type"], "reauthenticated");
    assert_eq!(r["expires_at"], fresh["expires_at"]);
    // The notice is re-armed for the new token, and the socket outlives the old expiry.
    let second = ws.next_json().await;
    assert_eq!(second["type"], "token_expiring");
    assert_eq!(second["expires_at"], fresh["expires_at"]);
    assert_eq!(ws.expect_close(4401).await, "expired token");
    let new_expiry: chrono::DateTime<chrono::Utc> =
        fresh["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(chrono::Utc::now() >= new_expiry);
}

#[tokio::test]
async fn heartbeat_timeout_closes_with_4408() {
    let app = spawn_app_with(|c| {
        c.heartbeat_interval = Duration::from_millis(100);
        c.heartbeat_timeout = Duration::from_millis(500);
    })
    .await;
    let u = app.register("olga").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    // Stay silent (not even reading, so no pong goes out) for longer than the timeout: the
    // timeout itself is what is under test, so this waits on the clock.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, closed) = ws.until_close().await;
    assert_eq!(closed.code, 4408);
    assert_eq!(closed.reason, "heartbeat timeout");
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let app = spawn_app_with(|c| {
        c.heartbeat_interval = Duration::from_millis(100);
        c.heartbeat_timeout = Duration::from_millis(1500);
    })
    .await;
    let u = app.register("pete").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    // Reading answers the server's pings (tungstenite pongs automatically); ten pings later the
    // socket is still open.
    let mut pings = 0;
    while pings < 10 {
        use futures_util::StreamExt;
        match tokio::time::timeout(WAIT, ws.stream.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
    assert_eq!(ws.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn malformed_frames_answer_errors_and_keep_the_socket() {
    let app = spawn_app().await;
    let u = app.register("quinn").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    ws.send_text("{not json").await;
    let e = ws.next_json().await;
    assert_eq!(e["code"], "invalid_json");
    assert!(e.get("request_id").is_some() && e["request_id"].is_null());
    ws.send_json(json!({"type": "frobnicate", "request_id": "q1"}))
        .await;
    let e = ws.next_json().await;
    assert_eq!(
        (e["code"].as_str(), e["request_id"].as_str()),
        (Some("unknown_type"), Some("q1"))
    );
    ws.send_json(json!({"request_id": "q2"})).await;
    let e = ws.next_json().await;
    assert_eq!(
        (e["code"].as_str(), e["request_id"].as_str()),
        (Some("validation_failed"), Some("q2"))
    );
    ws.send_json(json!({"type": "ping", "request_id": "x".repeat(65)}))
        .await;
    assert_eq!(ws.next_json().await["code"], "validation_failed");
    ws.stream
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(ws.next_json().await["code"], "unsupported_frame");
    let pong = ws.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
}

#[tokio::test]
async fn oversized_message_closes_with_1009() {
    let app = spawn_app_with(|c| c.max_message_bytes = 1024).await;
    let u = app.register("rita").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    ws.send_text(&format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(2000)
    ))
    .await;
    let (_, closed) = ws.until_close().await;
    assert_eq!(closed.code, 1009);
}

#[tokio::test]
async fn too_many_connections_close_with_4429() {
    let app = spawn_app_with(|c| c.max_connections_per_user = 2).await;
    let u = app.register("sam").await;
    let _a = app.ws_ready("/ws/chat/", &u.token).await;
    let _b = app.ws_ready("/ws/tasks/", &u.token).await;
    let mut c = app.ws("/ws/chat/", &u.token).await;
    c.expect_close(4429).await;
}

#[tokio::test]
async fn flooding_is_refused_then_closed_with_4429() {
    let app = spawn_app_with(|c| c.messages_per_second = 2).await;
    let u = app.register("tina").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    for _ in 0..40 {
        ws.send_json(json!({"type": "ping"})).await;
    }
    let (frames, closed) = ws.until_close().await;
    assert!(frames
        .iter()
        .any(|f| f["code"] == "rate_limited" && f.get("close_code").is_none()));
    assert_eq!(closed.code, 4429);
    assert!(frames.last().unwrap()["retry_after_ms"].is_u64());
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let u = app.register("uma").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    let stopping = tokio::spawn(app.stop());
    let (_, closed) = ws.until_close().await;
    assert_eq!(closed.code, 1001);
    stopping.await.unwrap();
}
