//! Chat load benchmark: the real server (release build, file database with WAL) driven over
//! real WebSockets. Reports send throughput, acknowledgement latency and fan-out.
//!
//! `cargo bench --bench chat_load` (defaults), or with arguments after `--`:
//! `cargo bench --bench chat_load -- --senders 50 --messages 200 --listeners 20`

use futures_util::{SinkExt, StreamExt};
use hearth::{Config, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

struct Args {
    senders: usize,
    messages: usize,
    listeners: usize,
}

fn args() -> Args {
    let mut a = Args {
        senders: 20,
        messages: 100,
        listeners: 10,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let v = argv.get(i + 1).and_then(|v| v.parse().ok());
        match (argv[i].as_str(), v) {
            ("--senders", Some(v)) => a.senders = v,
            ("--messages", Some(v)) => a.messages = v,
            ("--listeners", Some(v)) => a.listeners = v,
            _ => {}
        }
        i += 1;
    }
    a
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let dir = std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("bench.db");
    let mut config = Config::for_tests();
    config.db = db.to_str().unwrap().to_string();
    config.workers = 2;
    config.messages_per_second = 1_000_000;
    config.max_connections_per_user = 10_000;
    config.argon2_memory_kib = Config::default().argon2_memory_kib;
    let server = Server::start(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", server.port());
    let ws_base = format!("ws://127.0.0.1:{}", server.port());
    let http = reqwest::Client::new();
    let reg: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"username": "bench", "password": "benchmark-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reg["token"].as_str().unwrap().to_string();
    let room: Value = http
        .post(format!("{base}/api/rooms"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room_id = room["room"]["id"].as_i64().unwrap();
    let total = a.senders * a.messages;

    // Listeners count the pushes they receive.
    let mut listeners = Vec::new();
    for _ in 0..a.listeners {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{ws_base}/ws/chat/?token={token}"))
                .await
                .unwrap();
        let _ = ws.next().await; // connected
        listeners.push(tokio::spawn(async move {
            let mut got = 0;
            let mut last = Instant::now();
            while got < total {
                match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) if t.contains("\"type\":\"message\"") => {
                        got += 1;
                        last = Instant::now();
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            (got, last)
        }));
    }

    let metrics_before = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let started = Instant::now();
    let mut senders = Vec::new();
    for s in 0..a.senders {
        let url = format!("{ws_base}/ws/chat/?token={token}");
        let n = a.messages;
        senders.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let _ = ws.next().await;
            let mut lat = Vec::with_capacity(n);
            for i in 0..n {
                let rid = format!("{s}-{i}");
                let frame = json!({"type": "send_message", "room_id": room_id,
                    "content": format!("message {i} from sender {s}, about a hundred bytes of text to be realistic"),
                    "request_id": rid});
                let t0 = Instant::now();
                ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                loop {
                    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("socket closed") };
                    if t.contains("\"message_sent\"") && t.contains(&format!("\"request_id\":\"{rid}\"")) {
                        break;
                    }
                }
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for s in senders {
        latencies.extend(s.await.unwrap());
    }
    let send_time = started.elapsed();
    let mut delivered = 0;
    let mut fanout_done = started;
    for l in listeners {
        let (got, last) = l.await.unwrap();
        delivered += got;
        fanout_done = fanout_done.max(last);
    }
    let metrics_after = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batches = metric(&metrics_after, "hearth_message_batches_total")
        - metric(&metrics_before, "hearth_message_batches_total");
    latencies.sort_unstable();
    println!(
        "hearth chat_load: {} senders x {} messages, {} listeners (file DB, WAL, synchronous=FULL)",
        a.senders, a.messages, a.listeners
    );
    println!(
        "  sent and acknowledged: {total} in {:.2} s = {:.0} messages/s",
        send_time.as_secs_f64(),
        total as f64 / send_time.as_secs_f64()
    );
    println!(
        "  ack latency: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  write transactions: {batches} ({:.1} messages per commit)",
        total as f64 / batches.max(1) as f64
    );
    println!(
        "  fan-out: {delivered} of {} pushes delivered; last at {:.2} s",
        total * a.listeners,
        (fanout_done - started).as_secs_f64()
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
