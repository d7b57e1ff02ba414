//! Three nodes on one PostgreSQL and one NATS, as real processes on loopback, behaving as one
//! server: one order of messages, idempotent sends, every push on every node, revocation across
//! nodes, a bus outage and a node killed mid-load (issue 12, points 2–6 and 9).
//!
//! Built only with `--features pg-tests`: it starts a throwaway PostgreSQL
//! (`tests/common/pg.rs`) and `nats-server` (`tests/common/nats.rs`), and fails, saying what to
//! install, when either is missing.
#![cfg(feature = "pg-tests")]

mod common;
#[path = "common/nats.rs"]
mod nats;
#[path = "common/pg.rs"]
mod pg;

use common::Binary;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(20);

/// A node of the cluster on `db`, on the bus at `bus`, with the per-user rates out of the way
/// and at most `sockets` sockets per user.
fn node(db: &str, bus: &str, sockets: usize) -> Binary {
    Binary::start(
        db,
        &[
            ("HEARTH_BUS", bus),
            ("HEARTH_MESSAGES_PER_SECOND", "100000"),
            ("HEARTH_REST_WRITES_PER_SECOND", "100000"),
            ("HEARTH_REGISTER_MAX_PER_WINDOW", "100000"),
            ("HEARTH_MAX_CONNECTIONS_PER_USER", &sockets.to_string()),
            ("HEARTH_PRESENCE_GRACE_MS", "300"),
        ],
    )
}

struct Cluster {
    nats: nats::Nats,
    db: String,
    nodes: Vec<Binary>,
    http: reqwest::Client,
}

async fn cluster(n: usize) -> Cluster {
    cluster_with(n, 32).await
}

async fn cluster_with(n: usize, sockets: usize) -> Cluster {
    let db = pg::fresh_database_async().await;
    let nats = tokio::task::spawn_blocking(nats::Nats::start)
        .await
        .unwrap();
    let mut nodes = Vec::new();
    for _ in 0..n {
        let (db, bus) = (db.clone(), nats.url());
        nodes.push(
            tokio::task::spawn_blocking(move || node(&db, &bus, sockets))
                .await
                .unwrap(),
        );
    }
    Cluster {
        nats,
        db,
        nodes,
        http: reqwest::Client::new(),
    }
}

struct User {
    id: i64,
    token: String,
}

impl Cluster {
    fn base(&self, n: usize) -> &str {
        &self.nodes[n].base
    }

    async fn register(&self, n: usize, username: &str) -> User {
        let v: Value = self
            .http
            .post(format!("{}/api/auth/register", self.base(n)))
            .json(&json!({"username": username, "password": "password123"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        User {
            id: v["user"]["id"].as_i64().expect("registered"),
            token: v["token"].as_str().unwrap().to_string(),
        }
    }

    async fn post(&self, n: usize, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base(n)))
            .bearer_auth(token)
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap()
    }

    async fn send(&self, n: usize, token: &str, room: i64, content: &str, cid: &str) -> Value {
        let r = self
            .post(
                n,
                &format!("/api/rooms/{room}/messages"),
                token,
                json!({"content": content, "client_id": cid}),
            )
            .await;
        assert!(r.status().is_success(), "send on node {n}: {}", r.status());
        r.json::<Value>().await.unwrap()["message"].clone()
    }

    /// Sends `n` messages (`"{tag} {i}"`, client ids `"{tag}{i}"`) on node `node`; returns
    /// their ids.
    async fn send_many(
        &self,
        node: usize,
        token: &str,
        room: i64,
        tag: &str,
        n: usize,
    ) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let m = self
                .send(
                    node,
                    token,
                    room,
                    &format!("{tag} {i}"),
                    &format!("{tag}{i}"),
                )
                .await;
            ids.push(m["id"].as_i64().unwrap());
        }
        ids
    }

    /// `GET path` on node `n` with a bearer token, as JSON.
    async fn get(&self, n: usize, path: &str, token: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base(n)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn health(&self, n: usize) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/api/health", self.base(n)))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Waits until node `n`'s health says `bus` is `state`.
    async fn bus_becomes(&self, n: usize, state: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, body) = self.health(n).await;
            if body["bus"] == state {
                assert_eq!(status, 200, "a bus outage alone keeps 200: {body}");
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {n}: bus stayed {} (expected {state})",
                body["bus"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ws(&self, n: usize, token: &str) -> Ws {
        let (ws, hello) = self.ws_try(n, token).await;
        assert_eq!(hello["type"], "connected", "{hello}");
        ws
    }

    /// Opens a socket and returns it with its first frame (`connected`, or the refusal).
    async fn ws_try(&self, n: usize, token: &str) -> (Ws, Value) {
        let url = format!(
            "{}/ws/chat/?token={token}",
            self.base(n).replace("http://", "ws://")
        );
        let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut ws = Ws { stream };
        let first = ws.next().await;
        (ws, first)
    }
}

struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// The next JSON frame (waiting at most [`WAIT`]); `{"type": "closed", "code": N}` when the
    /// socket closes.
    async fn next(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame in time");
            match m {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(Message::Close(c))) => {
                    return json!({"type": "closed", "code": c.map(|c| u16::from(c.code))})
                }
                Some(Ok(_)) => continue,
                other => return json!({"type": "closed", "error": format!("{other:?}")}),
            }
        }
    }

    /// The next frame of type `ty`, skipping others.
    async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let f = self.next().await;
            if f["type"] == ty {
                return f;
            }
            assert_ne!(f["type"], "closed", "closed while waiting for {ty}: {f}");
        }
    }

    /// The next `presence` frame about `user`.
    async fn presence_of(&mut self, user: i64) -> Value {
        loop {
            let f = self.next_of("presence").await;
            if f["user_id"] == user {
                return f;
            }
        }
    }

    async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// Collects `message` pushes until every id in `want` arrived; checks that they arrive in
    /// strictly increasing id order and none twice. Returns the ids in arrival order.
    async fn messages_until(&mut self, want: &HashSet<i64>, who: &str) -> Vec<i64> {
        let mut got = Vec::new();
        let mut seen = HashSet::new();
        while !want.iter().all(|id| seen.contains(id)) {
            let f = self.next().await;
            assert_ne!(f["type"], "closed", "{who}: socket closed: {f}");
            if f["type"] != "message" {
                continue;
            }
            let id = f["message"]["id"].as_i64().unwrap();
            assert!(seen.insert(id), "{who}: message {id} delivered twice");
            if let Some(prev) = got.last() {
                assert!(id > *prev, "{who}: message {id} arrived after {prev}");
            }
            got.push(id);
        }
        got
    }
}

/// Room `name` made by `owner` on node `n` with the other users as members.
async fn room(c: &Cluster, n: usize, owner: &User, name: &str, members: &[&str]) -> i64 {
    let r = c
        .post(
            n,
            "/api/rooms",
            &owner.token,
            json!({"name": name, "is_public": false, "members": members}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["room"]["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behave_as_one_server() {
    let c = cluster(3).await;
    for n in 0..3 {
        c.bus_becomes(n, "ok").await;
    }
    let alice = c.register(0, "alice").await;
    let bob = c.register(1, "bob").await;
    let carol = c.register(2, "carol").await;
    let users = [&alice, &bob, &carol];
    let room = room(&c, 0, &alice, "everywhere", &["bob", "carol"]).await;

    // A socket of every member on every node.
    let mut sockets = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for n in 0..3 {
            sockets.push((format!("user {u} on node {n}"), c.ws(n, &user.token).await));
        }
    }

    // Point 2: concurrent senders on every node; every socket gets every message once, in id
    // order.
    let mut senders = Vec::new();
    for (n, user) in users.iter().enumerate() {
        let (http, base, token) = (c.http.clone(), c.base(n).to_string(), user.token.clone());
        senders.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..60 {
                let v: Value = http
                    .post(format!("{base}/api/rooms/{room}/messages"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"content": format!("n{n} m{i}"), "client_id": format!("n{n}m{i}")}),
                    )
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(v["message"]["id"].as_i64().expect("sent"));
            }
            ids
        }));
    }
    let mut acked = HashSet::new();
    for s in senders {
        acked.extend(s.await.unwrap());
    }
    assert_eq!(acked.len(), 180);
    for (who, ws) in &mut sockets {
        let got = ws.messages_until(&acked, who).await;
        assert_eq!(got.len(), 180, "{who}");
    }
    // And sync (a resume cursor) agrees with the pushes.
    let page = c.get(2, "/api/sync?after=0&limit=100", &alice.token).await;
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // Point 3: a retry on another node answers the original message.
    let first = c.send(0, &alice.token, room, "once", "retry-1").await;
    let again = c.send(1, &alice.token, room, "once", "retry-1").await;
    assert_eq!(first["id"], again["id"], "{first} {again}");
    let want: HashSet<i64> = [first["id"].as_i64().unwrap()].into();
    for (who, ws) in &mut sockets {
        ws.messages_until(&want, who).await;
    }

    // A long-poll on node 2 wakes when a message is stored on node 0.
    let (http, base, token) = (c.http.clone(), c.base(2).to_string(), carol.token.clone());
    let after = first["id"].as_i64().unwrap();
    let poll = tokio::spawn(async move {
        http.get(format!("{base}/api/sync?after={after}&wait=15"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    // Once the poll is waiting (its first read found nothing), a message on node 0.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let woke = c.send(0, &alice.token, room, "wake up", "wake-1").await;
    let page = poll.await.unwrap();
    assert_eq!(page["messages"][0]["id"], woke["id"], "{page}");
    let want: HashSet<i64> = [woke["id"].as_i64().unwrap()].into();
    for (who, ws) in &mut sockets {
        ws.messages_until(&want, who).await;
    }

    // Point 4: edits, typing and read receipts made on one node reach sockets on the others.
    let edited = c
        .http
        .patch(format!("{}/api/messages/{}", c.base(2), first["id"]))
        .bearer_auth(&alice.token)
        .json(&json!({"content": "edited on node 2"}))
        .send()
        .await
        .unwrap();
    assert!(edited.status().is_success());
    let (_, bob_on_0) = &mut sockets[3];
    let up = bob_on_0.next_of("message_updated").await;
    assert_eq!(up["message"]["content"], "edited on node 2");
    let (_, alice_on_1) = &mut sockets[1];
    alice_on_1
        .send(json!({"type": "typing", "room_id": room, "is_typing": true}))
        .await;
    let (_, carol_on_2) = &mut sockets[8];
    let typing = carol_on_2.next_of("typing").await;
    assert_eq!(typing["user"]["id"], alice.id);

    // Point 6: logging out on node 0 closes that token's sockets on every node within a second.
    let out = c
        .http
        .post(format!("{}/api/auth/logout", c.base(0)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    for n in 0..3 {
        let (who, ws) = &mut sockets[3 + n];
        let closed = tokio::time::timeout(Duration::from_secs(1), ws.next_of("closed"))
            .await
            .unwrap_or_else(|_| panic!("{who}: not closed within a second of the logout"));
        assert_eq!(closed["code"], 4401, "{who}: {closed}");
    }
    let _ = (&c.db, &c.nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_outage_and_a_killed_node_lose_and_duplicate_nothing() {
    let mut c = cluster(3).await;
    for n in 0..3 {
        c.bus_becomes(n, "ok").await;
    }
    let alice = c.register(0, "alice").await;
    let bob = c.register(1, "bob").await;
    let carol = c.register(2, "carol").await;
    let room = room(&c, 0, &alice, "outage", &["bob", "carol"]).await;
    let mut alice_ws = c.ws(0, &alice.token).await;

    // Point 5: the bus goes down while bob sends on node 1; node 0's socket still gets every
    // message (from the log), once, in order, without reconnecting; health says so, with 200.
    let mut acked = HashSet::new();
    acked.extend(c.send_many(1, &bob.token, room, "before", 20).await);
    c.nats.stop();
    c.bus_becomes(1, "down").await;
    acked.extend(c.send_many(1, &bob.token, room, "during", 40).await);
    // A moment's blocking on a test worker thread: the other one keeps the sockets read.
    c.nats.resume();
    acked.extend(c.send_many(1, &bob.token, room, "after", 20).await);
    c.bus_becomes(0, "ok").await;
    c.bus_becomes(1, "ok").await;
    let got = alice_ws.messages_until(&acked, "alice on node 0").await;
    assert_eq!(got.len(), 80);

    // Point 9: node 2 is killed while carol sends there; every acknowledged message is kept,
    // and carol, resuming on node 0 with sync, gets each message exactly once.
    let mut carol_ws = c.ws(2, &carol.token).await;
    let (http, base, token) = (c.http.clone(), c.base(2).to_string(), carol.token.clone());
    let load = tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0.. {
            let sent = http
                .post(format!("{base}/api/rooms/{room}/messages"))
                .bearer_auth(&token)
                .json(&json!({"content": format!("load {i}"), "client_id": format!("l{i}")}))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let Ok(r) = sent else { break };
            if r.status() != 201 {
                break;
            }
            let Ok(v) = r.json::<Value>().await else {
                break;
            };
            acked.push(v["message"]["id"].as_i64().unwrap());
        }
        acked
    });
    // Carol's own socket sees her messages arrive, then the node dies under her.
    // (Node 2's follower may still be publishing bob's earlier messages: count carol's own.)
    let mut last_seen = 0;
    let mut own = 0;
    while own < 30 {
        let f = carol_ws.next_of("message").await;
        last_seen = f["message"]["id"].as_i64().unwrap();
        if f["message"]["sender"]["id"] == carol.id {
            own += 1;
        }
    }
    c.nodes[2].kill();
    let load_acked = load.await.unwrap();
    assert!(load_acked.len() >= 30, "{}", load_acked.len());
    // Drain what the dead socket delivered before the kill.
    loop {
        let f = carol_ws.next().await;
        match f["type"].as_str() {
            Some("message") => last_seen = f["message"]["id"].as_i64().unwrap(),
            Some("closed") => break,
            _ => {}
        }
    }
    // Resume on node 0 with sync after the last message seen.
    let mut resumed: BTreeMap<i64, Value> = BTreeMap::new();
    let mut after = last_seen;
    loop {
        let page = c
            .get(
                0,
                &format!("/api/sync?after={after}&limit=100"),
                &carol.token,
            )
            .await;
        for m in page["messages"].as_array().unwrap() {
            let id = m["id"].as_i64().unwrap();
            assert!(resumed.insert(id, m.clone()).is_none(), "{id} twice");
            after = id;
        }
        if page["has_more"] == false {
            break;
        }
    }
    for id in &load_acked {
        assert!(
            *id <= last_seen || resumed.contains_key(id),
            "acknowledged message {id} lost"
        );
    }
    // Node 0 still serves everyone, and its health is fine.
    let (status, body) = c.health(0).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["db"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_cap_per_user_holds_across_nodes() {
    let c = cluster_with(3, 2).await;
    let alice = c.register(0, "alice").await;
    let first = c.ws(0, &alice.token).await;
    let _second = c.ws(1, &alice.token).await;
    // A third socket, on a third node, is one too many.
    let (mut third, hello) = c.ws_try(2, &alice.token).await;
    let closed = if hello["type"] == "error" {
        assert_eq!(hello["code"], "rate_limited", "{hello}");
        third.next().await
    } else {
        hello
    };
    assert_eq!(closed["type"], "closed", "{closed}");
    assert_eq!(closed["code"], 4429, "{closed}");
    // Once one closes, its place is free on any node.
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_ws, hello) = c.ws_try(2, &alice.token).await;
        if hello["type"] == "connected" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket's place was not given back: {hello}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `hearth ARGS...` with `stdin` as standard input; returns (success, stdout + stderr).
fn hearth(args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_works_against_postgresql() {
    let c = cluster(2).await;
    let db = c.db.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        hearth(
            &["user", "create", "boss", "--staff", "--db", &db],
            "password123\n",
        )
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    // The staff user made on the command line signs in on any node.
    let r = c
        .http
        .post(format!("{}/api/auth/login", c.base(1)))
        .json(&json!({"username": "boss", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["is_staff"], true, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    // `hearth user revoke` closes the user's sockets on every node.
    let mut on_0 = c.ws(0, &token).await;
    let mut on_1 = c.ws(1, &token).await;
    let db = c.db.clone();
    let (ok, out) =
        tokio::task::spawn_blocking(move || hearth(&["user", "revoke", "boss", "--db", &db], ""))
            .await
            .unwrap();
    assert!(ok, "{out}");
    for ws in [&mut on_0, &mut on_1] {
        let closed = ws.next_of("closed").await;
        assert_eq!(closed["code"], 4401, "{closed}");
    }
    // A backup of PostgreSQL is refused, saying what to use (and never showing a password).
    let (ok, out) = hearth(
        &[
            "backup",
            "/tmp/never.db",
            "--db",
            "postgres://u:sekrit@127.0.0.1:1/x",
        ],
        "",
    );
    assert!(
        !ok && out.contains("pg_dump") && !out.contains("sekrit"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_the_sockets_of_every_node() {
    let c = cluster(3).await;
    let alice = c.register(0, "alice").await;
    let bob = c.register(0, "bob").await;
    let room = room(&c, 0, &alice, "presence", &["bob"]).await;
    let mut bob_ws = c.ws(0, &bob.token).await;
    // Alice comes online on node 1: bob, on node 0, hears it.
    let alice_1 = c.ws(1, &alice.token).await;
    let p = bob_ws.presence_of(alice.id).await;
    assert_eq!(
        (p["user_id"].as_i64(), p["online"].as_bool()),
        (Some(alice.id), Some(true))
    );
    // A second socket on node 2, then the first closes: she is still online (on node 2), so
    // no one is told otherwise, and the member list on node 0 says online.
    let alice_2 = c.ws(2, &alice.token).await;
    drop(alice_1);
    // Past the 300 ms grace (an absence can only be awaited this way), then a message: it must
    // be the next thing bob hears of alice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.send(2, &alice.token, room, "still here", "p1").await;
    loop {
        let f = bob_ws.next().await;
        assert!(
            // (A second "online" is harmless: node 2 may look after node 1 forgot its socket.)
            !(f["type"] == "presence" && f["user_id"] == alice.id && f["online"] == false),
            "alice announced offline while online on node 2: {f}"
        );
        if f["type"] == "message" {
            break;
        }
    }
    let members = c
        .get(0, &format!("/api/rooms/{room}/members"), &bob.token)
        .await;
    let a = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == alice.id)
        .cloned()
        .unwrap();
    assert_eq!(a["online"], true, "{members}");
    // Her last socket closes: now she is offline, everywhere.
    drop(alice_2);
    let p = bob_ws.presence_of(alice.id).await;
    assert_eq!(
        (p["user_id"].as_i64(), p["online"].as_bool()),
        (Some(alice.id), Some(false))
    );
}
