//! HTTP methods: `HEAD` wherever `GET` is served, 405 for a known path with another method,
//! 404 for unknown paths, always in the contract's error shape.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn head_is_served_wherever_get_is() {
    let app = spawn_app().await;
    let u = app.register("header").await;
    for (path, token) in [
        ("/api/health", None),
        ("/", None),
        ("/app.js", None),
        ("/api/rooms", Some(u.token.as_str())),
        ("/api/auth/me", Some(u.token.as_str())),
    ] {
        let get = app.get(path, token).await;
        assert_eq!(get.status(), 200, "GET {path}");
        let get_type = get.headers().get("content-type").cloned();
        let mut req = app.http.head(app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let head = req.send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(head.headers().get("content-type").cloned(), get_type);
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has a body"
        );
    }
    // HEAD keeps GET's authentication.
    let head = app.http.head(app.url("/api/rooms")).send().await.unwrap();
    assert_eq!(head.status(), 401);
}

#[tokio::test]
async fn other_methods_on_known_paths_answer_405() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::PUT, "/api/health"),
        (reqwest::Method::DELETE, "/api/rooms"),
        (reqwest::Method::PATCH, "/api/auth/login"),
        (reqwest::Method::POST, "/"),
        (reqwest::Method::GET, "/api/auth/logout"),
    ] {
        let r = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "method_not_allowed", "{method} {path}");
    }
    let r = app
        .http
        .request(reqwest::Method::PUT, app.url("/api/no-such-thing"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}
