use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn register_login_me_logout() {
    let app = spawn_app().await;
    let resp = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "Alice", "password": "password123", "display_name": " Alice A "}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 43);
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["user"]["username"], "Alice");
    assert_eq!(v["user"]["display_name"], "Alice A");
    assert_eq!(v["user"]["is_staff"], false);
    assert!(v["user"]["created_at"].as_str().unwrap().ends_with('Z'));

    // Case-insensitive uniqueness.
    let dup = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "alice", "password": "password123"}),
        )
        .await;
    expect_error(dup, 409, "conflict").await;

    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "ALICE", "password": "password123"}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let second: Value = login.json().await.unwrap();
    let token2 = second["token"].as_str().unwrap();
    assert_ne!(token2, token);

    let me: Value = app
        .get("/api/auth/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["id"], v["user"]["id"]);
    // "Token" scheme works too.
    let me2 = app
        .http
        .get(app.url("/api/auth/me"))
        .header("Authorization", format!("Token {token2}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me2.status(), 200);

    assert_eq!(
        app.post_empty("/api/auth/logout", Some(&token))
            .await
            .status(),
        204
    );
    expect_error(
        app.get("/api/auth/me", Some(&token)).await,
        401,
        "unauthenticated",
    )
    .await;
    // The other token stays valid.
    assert_eq!(app.get("/api/auth/me", Some(token2)).await.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    app.register("bob").await;
    let a = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "bob", "password": "wrongwrong"}),
        )
        .await;
    let b = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "nobody", "password": "wrongwrong"}),
        )
        .await;
    let a = expect_error(a, 401, "unauthenticated").await;
    let b = expect_error(b, 401, "unauthenticated").await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn failed_logins_are_throttled_per_username() {
    let app = spawn_app_with(|c| c.login_max_failures = 3).await;
    app.register("carol").await;
    app.register("dave").await;
    for _ in 0..3 {
        let r = app
            .post(
                "/api/auth/login",
                None,
                json!({"username": "carol", "password": "badbadbad"}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    // Even the right password is refused while throttled.
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "Carol", "password": "password123"}),
        )
        .await;
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    expect_error(r, 429, "rate_limited").await;
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Another username is unaffected.
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "dave", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn refresh_rotates_the_token() {
    let app = spawn_app().await;
    let u = app.register("erin").await;
    let r = app.post_empty("/api/auth/refresh", Some(&u.token)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let new = v["token"].as_str().unwrap();
    assert!(v["expires_at"].is_string());
    expect_error(
        app.get("/api/auth/me", Some(&u.token)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.get("/api/auth/me", Some(new)).await.status(), 200);
}

#[tokio::test]
async fn registration_can_be_closed() {
    let app = spawn_app_with(|c| c.registration_open = false).await;
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "frank", "password": "password123"}),
        )
        .await;
    expect_error(r, 403, "forbidden").await;
}

#[tokio::test]
async fn malformed_requests_get_contract_errors() {
    let app = spawn_app_with(|c| c.max_message_bytes = 4096).await;
    let send_raw = |body: &'static str, ct: &'static str| {
        app.http
            .post(app.url("/api/auth/register"))
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    expect_error(
        send_raw("{", "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        send_raw("", "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        send_raw(
            r#"{"username":"x1x","password":"password123"}"#,
            "text/plain",
        )
        .await
        .unwrap(),
        400,
        "invalid_json",
    )
    .await;
    let missing = expect_error(
        send_raw(r#"{"username":"abc"}"#, "application/json")
            .await
            .unwrap(),
        400,
        "validation_failed",
    )
    .await;
    assert!(missing["error"]["message"]
        .as_str()
        .unwrap()
        .contains("password"));
    expect_error(
        send_raw(
            r#"{"username":5,"password":"password123"}"#,
            "application/json",
        )
        .await
        .unwrap(),
        400,
        "validation_failed",
    )
    .await;
    let bad_name = expect_error(
        app.post(
            "/api/auth/register",
            None,
            json!({"username": "a b", "password": "password123"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert!(bad_name["error"]["fields"]["username"].is_string());
    expect_error(
        app.post(
            "/api/auth/register",
            None,
            json!({"username": "abc", "password": "short"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        app.post(
            "/api/auth/register",
            None,
            json!({"username": "abcd", "password": "x".repeat(5000)}),
        )
        .await,
        413,
        "payload_too_large",
    )
    .await;
    expect_error(
        app.post(
            "/api/auth/register",
            None,
            json!({"username": "abcd", "password": "password123", "display_name": "d".repeat(65)}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(app.get("/api/auth/me", None).await, 401, "unauthenticated").await;
    expect_error(
        app.get("/api/auth/me", Some("garbage")).await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(app.get("/api/nope", None).await, 404, "not_found").await;
}

#[tokio::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let v: Value = app.get("/api/health", None).await.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert!(v["version"].is_string());
    assert!(v["uptime_s"].is_u64());
    assert_eq!(v["connections"], 0);
    let m = app.get("/metrics", None).await.text().await.unwrap();
    assert!(m.contains("hearth_http_requests_total"));
    let page = app.get("/", None).await;
    assert_eq!(page.status(), 200);
    assert!(page
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn health_answers_503_when_the_database_is_unusable() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/health", None).await.status(), 200);
    // A database this binary cannot use (a schema from a newer version).
    app.set_schema_version(999).await;
    let r = app.get("/api/health", None).await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "unavailable");
}
