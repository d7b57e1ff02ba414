//! Contract v1.1, section 8.1: `hearth user list|set-staff|passwd|delete|revoke` against a
//! database a running server uses; the server notices within a second.

mod common;

use common::Binary;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs `hearth user ARGS --db DB` with `stdin`; returns (success, stdout + stderr).
fn user(db: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("user")
        .args(args)
        .args(["--db", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hearth user runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("hearth user ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn register(http: &reqwest::Client, base: &str, name: &str) -> (i64, String) {
    let v: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"username": name, "password": "password123"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("JSON");
    (
        v["user"]["id"].as_i64().expect("id"),
        v["token"].as_str().expect("token").to_string(),
    )
}

async fn socket(base: &str, path: &str, token: &str) -> Ws {
    let url = format!("{}{path}?token={token}", base.replace("http", "ws"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let hello = next_text(&mut ws).await.expect("connected frame");
    assert_eq!(hello["type"], "connected", "{hello}");
    ws
}

async fn next_text(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Err(_) => return None,
            _ => continue,
        }
    }
}

/// Reads until the close; returns its code and how long it took.
async fn closed_with(ws: &mut Ws) -> (u16, Duration) {
    let start = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(c))))) => return (u16::from(c.code), start.elapsed()),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn user_commands_work_while_the_server_runs() {
    let dir = std::env::temp_dir().join(format!("hearth-cli-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db_path = dir.join("users.db");
    let _ = std::fs::remove_file(&db_path);
    let db = db_path.to_str().expect("utf-8 path");
    let server = Binary::start(db, &[]);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let (_alice_id, alice) = register(&http, &base, "alice_cli").await;
    let (_bob_id, bob) = register(&http, &base, "bob_cli").await;
    let (_carol_id, carol) = register(&http, &base, "carol_cli").await;

    // list
    let (ok, out) = user(db, &["list"], "");
    assert!(ok, "{out}");
    for name in ["alice_cli", "bob_cli", "carol_cli"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(out.contains("3 user(s)"), "{out}");

    // revoke: alice's socket closes with 4401 within about a second; her token is dead.
    let mut alice_ws = socket(&base, "/ws/chat/", &alice).await;
    let (ok, out) = user(db, &["revoke", "alice_cli"], "");
    assert!(ok && out.contains("revoked"), "{out}");
    let (code, took) = closed_with(&mut alice_ws).await;
    assert_eq!(code, 4401);
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    let me = http
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 401);

    // set-staff: bob may open the console; with --off his console socket closes with 4403.
    let (ok, out) = user(db, &["set-staff", "bob_cli"], "");
    assert!(ok, "{out}");
    let mut console = socket(&base, "/ws/admin/chat/", &bob).await;
    let (ok, out) = user(db, &["set-staff", "bob_cli", "--off"], "");
    assert!(ok && out.contains("no longer staff"), "{out}");
    assert_eq!(closed_with(&mut console).await.0, 4403);

    // passwd: bob's sessions end; the new password signs in.
    let mut bob_ws = socket(&base, "/ws/chat/", &bob).await;
    let (ok, out) = user(db, &["passwd", "bob_cli"], "a-new-password\n");
    assert!(ok, "{out}");
    assert_eq!(closed_with(&mut bob_ws).await.0, 4401);
    let login = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "bob_cli", "password": "a-new-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let bob = login.json::<Value>().await.expect("JSON")["token"]
        .as_str()
        .expect("token")
        .to_string();

    // delete: carol's message stays in bob's room without a sender; her socket closes.
    let room: Value = http
        .post(format!("{base}/api/rooms"))
        .bearer_auth(&bob)
        .json(&json!({"name": "cli room", "members": ["carol_cli"]}))
        .send()
        .await
        .expect("room")
        .json()
        .await
        .expect("JSON");
    let room_id = room["room"]["id"].as_i64().expect("room id");
    let sent = http
        .post(format!("{base}/api/rooms/{room_id}/messages"))
        .bearer_auth(&carol)
        .json(&json!({"content": "before I go"}))
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status(), 201);
    let mut carol_ws = socket(&base, "/ws/chat/", &carol).await;
    let (ok, out) = user(db, &["delete", "carol_cli"], "");
    assert!(ok && out.contains("deleted"), "{out}");
    assert_eq!(closed_with(&mut carol_ws).await.0, 4401);
    let page: Value = http
        .get(format!("{base}/api/rooms/{room_id}/messages"))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("messages")
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["messages"][0]["content"], "before I go");
    assert!(page["messages"][0]["sender"].is_null(), "{page}");

    // Unknown users are refused with a non-zero exit.
    let (ok, out) = user(db, &["revoke", "nobody_here"], "");
    assert!(!ok && out.contains("no user named nobody_here"), "{out}");
    let (ok, _) = user(db, &["list"], "");
    assert!(ok);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
