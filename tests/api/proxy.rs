//! `--trusted-proxy`: behind a trusted proxy, per-address limits count the address it reports
//! in `X-Forwarded-For`; otherwise the header is ignored.

use crate::helpers::*;
use hearth::net::parse_trusted_proxy;
use serde_json::json;

/// Registers `username` claiming to come through a proxy for `forwarded_for`; the status.
async fn register_via(app: &TestApp, username: &str, forwarded_for: &str) -> u16 {
    app.http
        .post(app.url("/api/auth/register"))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"username": username, "password": "password123"}))
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

/// Opens a support socket as a new visitor coming through a proxy for `forwarded_for`.
async fn visitor_via(app: &TestApp, forwarded_for: &str) -> WsClient {
    WsClient::connect(
        &app.ws_url("/ws/support/"),
        &[("X-Forwarded-For", forwarded_for)],
    )
    .await
}

/// A new visitor through a proxy for `forwarded_for` is welcomed.
async fn visitor_welcomed(app: &TestApp, forwarded_for: &str) {
    let hello = visitor_via(app, forwarded_for).await.next_json().await;
    assert_eq!(hello["type"], "connected", "{forwarded_for}: {hello}");
}

/// A new visitor through a proxy for `forwarded_for` is refused as one too many.
async fn visitor_refused(app: &TestApp, forwarded_for: &str) {
    visitor_via(app, forwarded_for)
        .await
        .expect_close(4429)
        .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_registration_quota() {
    let app = spawn_app_with(|c| {
        c.register_max_per_window = 1;
        c.trusted_proxies = vec![parse_trusted_proxy("127.0.0.1/32").unwrap()];
    })
    .await;
    assert_eq!(register_via(&app, "alice_p", "203.0.113.1").await, 201);
    assert_eq!(register_via(&app, "alice_q", "203.0.113.1").await, 429);
    // Another client behind the same proxy.
    assert_eq!(register_via(&app, "bob_p", "203.0.113.2").await, 201);
    // What a client writes left of the address the proxy appended is not believed.
    assert_eq!(
        register_via(&app, "bob_q", "198.51.100.9, 203.0.113.2").await,
        429
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_trusted_proxy_the_header_is_ignored() {
    let app = spawn_app_with(|c| c.register_max_per_window = 1).await;
    assert_eq!(register_via(&app, "carol_p", "203.0.113.1").await, 201);
    assert_eq!(register_via(&app, "carol_q", "203.0.113.2").await, 429);
    app.stop().await;
    // A proxy is configured, but the peer (loopback) is not it.
    let app = spawn_app_with(|c| {
        c.register_max_per_window = 1;
        c.trusted_proxies = vec![parse_trusted_proxy("10.0.0.0/8").unwrap()];
    })
    .await;
    assert_eq!(register_via(&app, "dave_p", "203.0.113.1").await, 201);
    assert_eq!(register_via(&app, "dave_q", "203.0.113.2").await, 429);
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_visitor_has_its_own_guest_quota() {
    let app = spawn_app_with(|c| {
        c.guest_max_per_window = 1;
        c.trusted_proxies = vec![parse_trusted_proxy("127.0.0.1").unwrap()];
    })
    .await;
    visitor_welcomed(&app, "203.0.113.1").await;
    visitor_refused(&app, "203.0.113.1").await;
    visitor_welcomed(&app, "203.0.113.2").await;
    app.stop().await;

    let app = spawn_app_with(|c| c.guest_max_per_window = 1).await;
    visitor_welcomed(&app, "203.0.113.1").await;
    visitor_refused(&app, "203.0.113.2").await;
    app.stop().await;
}
