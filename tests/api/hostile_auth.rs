//! Hostile-review findings on accounts: racing the login throttle, and registrations per
//! address.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Status and `Retry-After` of a login.
async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Option<u64>) {
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (r.status().as_u16(), retry)
}

#[tokio::test]
async fn concurrent_guesses_cannot_race_the_login_throttle() {
    // A costly hash (64 MiB) keeps the first guesses busy while the others arrive.
    let app = spawn_app_with(|c| {
        c.argon2_memory_kib = 64 * 1024;
        c.login_max_failures = 5;
    })
    .await;
    app.register("victim").await;
    let a = &app;
    let wrong = |i: usize| async move { login(a, "victim", &format!("wrong-guess-{i}")).await };
    // Guesses 1–15 go first; guess 16 (the right password) and 17–100 follow at once.
    let first = futures_util::future::join_all((1..=15).map(wrong));
    let rest = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let right = login(a, "Victim", "password123");
        let others = futures_util::future::join_all((17..=100).map(wrong));
        tokio::join!(right, others)
    };
    let (first, (right, others)) = tokio::join!(first, rest);
    let all: Vec<_> = first.iter().chain(&others).chain([&right]).collect();
    let checked = all.iter().filter(|(s, _)| matches!(s, 200 | 401)).count();
    let refused = all.iter().filter(|(s, _)| *s == 429).count();
    assert!(
        checked <= 5,
        "{checked} guesses were checked ({refused} refused); the right one answered {right:?}"
    );
    assert_eq!(checked + refused, 100, "{all:?}");
    assert_eq!(right.0, 429, "the right password at position 16: {right:?}");
    assert!(right.1.is_some_and(|s| s >= 1), "Retry-After: {right:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_still_counts_and_success_clears() {
    let app = spawn_app_with(|c| c.login_max_failures = 2).await;
    app.register("erin").await;
    assert_eq!(login(&app, "erin", "wrong-password").await.0, 401);
    assert_eq!(login(&app, "erin", "password123").await.0, 200);
    // The success cleared the count: two more wrong guesses are checked, then refused.
    assert_eq!(login(&app, "erin", "wrong-password").await.0, 401);
    assert_eq!(login(&app, "ERIN", "wrong-password").await.0, 401);
    assert_eq!(login(&app, "erin", "password123").await.0, 429);
    app.stop().await;
}

async fn register(app: &TestApp, username: &str) -> reqwest::Response {
    app.post(
        "/api/auth/register",
        None,
        json!({"username": username, "password": "password123"}),
    )
    .await
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = spawn_app_with(|c| c.register_max_per_window = 3).await;
    // Refused input does not count.
    expect_error(register(&app, "x").await, 400, "validation_failed").await;
    // Ten at once from one address: exactly three accounts.
    let names: Vec<String> = (0..10).map(|i| format!("newcomer_{i}")).collect();
    let answers = futures_util::future::join_all(names.iter().map(|n| register(&app, n))).await;
    let mut created = Vec::new();
    for r in answers {
        match r.status().as_u16() {
            201 => {
                let v: Value = r.json().await.unwrap();
                created.push(v["user"]["username"].as_str().unwrap().to_string());
            }
            429 => {
                let retry: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(retry > 3000, "about an hour: {retry}");
                expect_error(r, 429, "rate_limited").await;
            }
            s => panic!("unexpected {s}: {:?}", r.text().await),
        }
    }
    assert_eq!(created.len(), 3, "{created:?}");
    // The accounts work, and logging in is not limited by registrations.
    assert_eq!(login(&app, &created[0], "password123").await.0, 200);
    app.stop().await;
}
