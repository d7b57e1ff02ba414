//! Test harness: each test gets a fresh server on a random port with its own in-memory
//! database, a real HTTP client and real WebSocket clients.

use futures_util::{SinkExt, StreamExt};
use hearth::{Config, Server};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected frame before failing.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestApp {
    pub port: u16,
    pub base: String,
    pub http: reqwest::Client,
    pub server: Option<Server>,
}

/// A registered user with a token.
#[derive(Clone, Debug)]
#[allow(dead_code)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The database a test's server gets when it does not choose one: a fresh in-memory SQLite
/// database, or, built with `--features pg-tests`, a fresh database on the test PostgreSQL
/// server (`tests/common/pg.rs`), so the same suite runs on both backends.
pub async fn fresh_db() -> String {
    #[cfg(feature = "pg-tests")]
    {
        crate::pg::fresh_database_async().await
    }
    #[cfg(not(feature = "pg-tests"))]
    {
        ":memory:".to_string()
    }
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_tests();
    config.db = fresh_db().await;
    tweak(&mut config);
    let server = Server::start(config).await.expect("server starts");
    let port = server.port();
    TestApp {
        port,
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, path)
    }

    /// POST JSON, optionally with a bearer token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// Registers `username` with a fixed password.
    pub async fn register(&self, username: &str) -> TestUser {
        let resp = self
            .post(
                "/api/auth/register",
                None,
                json!({"username": username, "password": "password123"}),
            )
            .await;
        assert_eq!(resp.status(), 201, "register {username}");
        let v: Value = resp.json().await.unwrap();
        TestUser {
            id: v["user"]["id"].as_i64().unwrap(),
            username: username.to_string(),
            token: v["token"].as_str().unwrap().to_string(),
        }
    }

    /// Records schema version `v` in the server's database behind its back (as a newer
    /// binary would), on either backend.
    pub async fn set_schema_version(&self, v: i64) {
        let state = self.server.as_ref().unwrap().state();
        if let Some(db) = state.store.sqlite() {
            db.call(move |c| Ok(c.pragma_update(None, "user_version", v)?))
                .await
                .unwrap();
        } else {
            let url = state.config.db.clone();
            tokio::task::spawn_blocking(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                c.execute(
                    "UPDATE hearth_meta SET value = $1 WHERE key = 'schema_version'",
                    &[&v],
                )
                .unwrap();
            })
            .await
            .unwrap();
        }
    }

    /// Makes a staff user directly in the database (as `hearth user create --staff` does).
    pub async fn staff(&self, username: &str) -> TestUser {
        let u = self.register(username).await;
        let id = u.id;
        self.server
            .as_ref()
            .unwrap()
            .state()
            .store
            .write(move |tx| tx.set_staff(id, true))
            .await
            .unwrap();
        u
    }

    /// Creates a group room over REST (201) and returns the `room` object.
    pub async fn create_room(
        &self,
        owner: &TestUser,
        name: &str,
        public: bool,
        members: &[&str],
    ) -> Value {
        let r = self
            .post(
                "/api/rooms",
                Some(&owner.token),
                json!({"name": name, "is_public": public, "members": members}),
            )
            .await;
        assert_eq!(r.status(), 201, "create room {name}");
        r.json::<Value>().await.unwrap()["room"].clone()
    }

    /// Sends a message over REST (201) and returns it.
    pub async fn say(&self, u: &TestUser, room: i64, content: &str) -> Value {
        let r = self
            .post(
                &format!("/api/rooms/{room}/messages"),
                Some(&u.token),
                json!({"content": content}),
            )
            .await;
        assert_eq!(r.status(), 201, "send to room {room}");
        r.json::<Value>().await.unwrap()["message"].clone()
    }

    pub async fn ticket(&self, token: &str) -> String {
        let resp = self.post_empty("/api/auth/ws-ticket", Some(token)).await;
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.unwrap();
        v["ticket"].as_str().unwrap().to_string()
    }

    /// Opens a socket with `?token=`.
    pub async fn ws(&self, path: &str, token: &str) -> WsClient {
        let sep = if path.contains('?') { '&' } else { '?' };
        WsClient::connect(&self.ws_url(&format!("{path}{sep}token={token}")), &[]).await
    }

    /// Opens a socket with `?token=` and reads its `connected` frame.
    pub async fn ws_ready(&self, path: &str, token: &str) -> WsClient {
        let mut ws = self.ws(path, token).await;
        let hello = ws.next_json().await;
        assert_eq!(hello["type"], "connected", "{hello}");
        ws
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

/// Checks the contract's REST error body and returns it.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let v: Value = resp.json().await.expect("JSON error body");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    v
}

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `Sec-WebSocket-Protocol` the server answered with.
    pub protocol: Option<String>,
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl WsClient {
    /// Connects with extra headers; panics if the handshake is refused.
    pub async fn connect(url: &str, headers: &[(&str, &str)]) -> WsClient {
        Self::try_connect(url, headers)
            .await
            .unwrap_or_else(|e| panic!("handshake to {url} failed: {e}"))
    }

    pub async fn try_connect(
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let mut req = url.into_client_request()?;
        for (k, v) in headers {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let (stream, resp) = tokio_tungstenite::connect_async(req).await?;
        let protocol = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_string());
        Ok(WsClient { stream, protocol })
    }

    pub async fn send_json(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_text(&mut self, s: &str) {
        self.stream
            .send(Message::Text(s.to_string().into()))
            .await
            .expect("send");
    }

    /// The next text frame as JSON, pings and `presence` pushes skipped (they come whenever
    /// someone who shares a room connects, the caller included); panics on close or after
    /// [`WAIT`]. `next_of("presence")` reads presence pushes.
    pub async fn next_json(&mut self) -> Value {
        loop {
            let v = self.next_frame().await;
            if v["type"] != "presence" {
                return v;
            }
        }
    }

    /// The next text frame as JSON, whatever its type (pings are skipped).
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait")
                .expect("stream open")
                .expect("frame ok");
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("server frames are JSON");
                    assert!(v["type"].is_string(), "{v}");
                    assert!(
                        v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
                        "{v}"
                    );
                    return v;
                }
                Message::Close(c) => panic!("closed unexpectedly: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Skips frames until one of type `ty`.
    pub async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let v = self.next_frame().await;
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// Sends a request and returns the reply with the same request_id.
    pub async fn request(&mut self, mut v: Value) -> Value {
        let rid = format!("r{}", rand_id());
        v["request_id"] = Value::String(rid.clone());
        self.send_json(v).await;
        loop {
            let reply = self.next_json().await;
            if reply["request_id"] == rid.as_str() {
                return reply;
            }
        }
    }

    /// Reads until the close frame (collecting text frames but `presence` pushes) and returns
    /// them with the close.
    pub async fn until_close(&mut self) -> (Vec<Value>, Closed) {
        let mut frames = Vec::new();
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("close within the wait");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "presence" {
                        frames.push(v);
                    }
                }
                Some(Ok(Message::Close(Some(c)))) => {
                    return (
                        frames,
                        Closed {
                            code: u16::from(c.code),
                            reason: c.reason.to_string(),
                        },
                    )
                }
                Some(Ok(Message::Close(None))) => {
                    return (
                        frames,
                        Closed {
                            code: u16::from(CloseCode::Status),
                            reason: String::new(),
                        },
                    )
                }
                Some(Ok(_)) => continue,
                other => panic!("stream ended without a close frame: {other:?}"),
            }
        }
    }

    /// [`Self::expect_close`], which must happen within one second.
    pub async fn expect_close_within_1s(&mut self, code: u16) -> String {
        tokio::time::timeout(Duration::from_secs(1), self.expect_close(code))
            .await
            .expect("closed within one second")
    }

    /// Expects a close with `code`, preceded by the contract's final error frame when the code
    /// is one of 4008/4401/4403/4429. Returns the reason.
    pub async fn expect_close(&mut self, code: u16) -> String {
        let (frames, closed) = self.until_close().await;
        assert_eq!(closed.code, code, "close code (frames: {frames:?})");
        if [4008, 4401, 4403, 4429].contains(&code) {
            let last = frames.last().expect("a final error frame");
            assert_eq!(last["type"], "error", "{last}");
            assert_eq!(last["close_code"], code, "{last}");
            let (c, retry) = match code {
                4401 => ("unauthenticated", "reauthenticate"),
                4403 => ("forbidden", "never"),
                4429 => ("rate_limited", "backoff"),
                _ => ("slow_consumer", "backoff"),
            };
            assert_eq!(last["code"], c, "{last}");
            assert_eq!(last["retry"], retry, "{last}");
            assert!(last.get("retry_after_ms").is_some(), "{last}");
            if code == 4429 {
                assert!(last["retry_after_ms"].is_u64(), "{last}");
            }
        }
        closed.reason
    }
}

pub fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}
