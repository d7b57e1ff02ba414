//! Crash durability against the real binary: concurrent senders, `SIGKILL` mid-load, restart on
//! the same file. Every message the server acknowledged (201) must be there afterwards, with
//! its content, and the database must pass an integrity check.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Senders at once.
const SENDERS: usize = 30;
/// Acknowledged messages to wait for before each kill.
const ACKS_BEFORE_KILL: usize = 1500;
/// Kill-and-restart rounds.
const ROUNDS: usize = 3;

mod common;

use common::Binary;

/// A node on `db` with flood and REST-write limits out of the way of the load.
fn start(db: &str) -> Binary {
    Binary::start(db, &[("HEARTH_MESSAGES_PER_SECOND", "100000")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill_under_load() {
    let dir = std::env::temp_dir().join(format!("hearth-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("durable.db").to_str().unwrap().to_string();
    let http = reqwest::Client::new();

    let mut node = start(&db);
    let (token, room) =
        common::user_with_room(&http, &node.base, "durable", "password123", "durable").await;

    // Every acknowledged message: id -> content.
    let acked: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    for round in 0..ROUNDS {
        let target = acked.lock().unwrap().len() + ACKS_BEFORE_KILL;
        let (reached_tx, mut reached) = tokio::sync::watch::channel(false);
        let reached_tx = Arc::new(reached_tx);
        let mut senders = Vec::new();
        for s in 0..SENDERS {
            let (http, base, token) = (http.clone(), node.base.clone(), token.clone());
            let (acked, reached_tx) = (acked.clone(), reached_tx.clone());
            senders.push(tokio::spawn(async move {
                for n in 0.. {
                    let content = format!("round {round} sender {s} message {n}");
                    let sent = http
                        .post(format!("{base}/api/rooms/{room}/messages"))
                        .bearer_auth(&token)
                        .json(
                            &json!({"content": content, "client_id": format!("r{round}s{s}n{n}")}),
                        )
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    let Ok(resp) = sent else { return };
                    if resp.status() != 201 {
                        return;
                    }
                    let Ok(v) = resp.json::<Value>().await else {
                        return;
                    };
                    let id = v["message"]["id"].as_i64().unwrap();
                    let mut map = acked.lock().unwrap();
                    map.insert(id, content);
                    if map.len() >= target {
                        reached_tx.send_replace(true);
                    }
                }
            }));
        }
        tokio::time::timeout(Duration::from_secs(120), reached.wait_for(|r| *r))
            .await
            .expect("the load reached its target")
            .unwrap();
        // SIGKILL while the senders are still sending.
        node.kill();
        for s in senders {
            let _ = s.await;
        }

        // The file as the crash left it: every acknowledged message is there.
        let stored: HashMap<i64, String> = {
            let c = rusqlite::Connection::open(&db).unwrap();
            let check: String = c
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok", "round {round}");
            let mut stmt = c
                .prepare("SELECT id, content FROM messages WHERE room_id = ?1")
                .unwrap();
            let rows = stmt
                .query_map([room], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            rows.map(Result::unwrap).collect()
        };
        let acked_now = acked.lock().unwrap().clone();
        let lost: Vec<_> = acked_now
            .iter()
            .filter(|(id, content)| stored.get(id) != Some(content))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} of {} acknowledged messages lost, e.g. {:?}",
            lost.len(),
            acked_now.len(),
            lost.first()
        );
        eprintln!(
            "round {round}: {} acknowledged, all {} stored after SIGKILL",
            acked_now.len(),
            acked_now.len()
        );

        // The server starts again on the crashed file and serves.
        node = start(&db);
        let health = http
            .get(format!("{}/api/health", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "round {round}");
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
