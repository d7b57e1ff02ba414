//! Hostile-review storms against the real binary (`hearth serve`, default Argon2 parameters, a
//! temporary database file, a random port): password hashing must keep the server's memory
//! bounded, and a login storm must not touch other traffic.
//!
//! The tests run one at a time (they share two cores and measure memory and latency).

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod common;

use common::Binary;

/// Peak resident memory allowed during a storm.
const PEAK_LIMIT_KB: u64 = 300 * 1024;
/// Resident memory allowed once a storm is over.
const SETTLED_LIMIT_KB: u64 = 150 * 1024;
/// How long the memory may take to settle.
const SETTLE_DEADLINE: Duration = Duration::from_secs(15);

/// One storm at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `hearth serve` child process on a fresh database file; killed when dropped.
struct Hearth {
    bin: Binary,
    dir: std::path::PathBuf,
}

impl Hearth {
    /// Starts the binary with extra environment variables and waits for its port.
    fn start(name: &str, env: &[(&str, &str)]) -> Hearth {
        let dir =
            std::env::temp_dir().join(format!("hearth-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("storm.db");
        Hearth {
            bin: Binary::start(db.to_str().unwrap(), env),
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        self.bin.url(path)
    }

    /// A field of `/proc/<pid>/status`, in kB.
    fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.bin.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }

    /// Asserts the peak (VmHWM), then waits (with a deadline) for VmRSS to settle.
    async fn assert_memory_bounded(&self, what: &str) {
        let peak = self.status_kb("VmHWM");
        eprintln!("{what}: peak VmHWM {} MB", peak / 1024);
        assert!(
            peak <= PEAK_LIMIT_KB,
            "{what}: peak RSS {} MB > {} MB",
            peak / 1024,
            PEAK_LIMIT_KB / 1024
        );
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            let rss = self.status_kb("VmRSS");
            if rss <= SETTLED_LIMIT_KB {
                eprintln!("{what}: settled VmRSS {} MB", rss / 1024);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: RSS still {} MB > {} MB after the storm",
                rss / 1024,
                SETTLED_LIMIT_KB / 1024
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Hearth {
    fn drop(&mut self) {
        self.bin.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A storm's answer: status and `Retry-After`.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> Answer {
    let r = http.post(url).json(&body).send().await.expect("answered");
    Answer {
        status: r.status().as_u16(),
        retry_after: r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// Checks that every answer is `ok` or a 429/503 with `Retry-After`; returns (ok, refused).
fn tally(what: &str, answers: &[Answer], ok: u16) -> (usize, usize) {
    let mut counts = std::collections::BTreeMap::<u16, usize>::new();
    for a in answers {
        *counts.entry(a.status).or_default() += 1;
    }
    eprintln!("{what}: {counts:?}");
    for a in answers {
        let refused = matches!(a.status, 429 | 503);
        assert!(
            a.status == ok || (refused && a.retry_after.is_some()),
            "{what}: unexpected answer {a:?} (all: {counts:?})"
        );
    }
    let n_ok = counts.get(&ok).copied().unwrap_or(0);
    (n_ok, answers.len() - n_ok)
}

/// 300 logins of unknown users, all at once.
async fn login_storm(app: &Hearth) -> Vec<Answer> {
    let http = reqwest::Client::new();
    futures_util::stream::iter(0..300)
        .map(|i| {
            post(
                &http,
                app.url("/api/auth/login"),
                json!({"username": format!("ghost_{i}"), "password": "wrong-password"}),
            )
        })
        .buffer_unordered(300)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_storm_keeps_memory_bounded() {
    let _one = SERIAL.lock().await;
    let app = Hearth::start("register", &[("HEARTH_REGISTER_MAX_PER_WINDOW", "100000")]);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let answers: Vec<Answer> = futures_util::stream::iter(0..300)
        .map(|i| {
            post(
                &http,
                app.url("/api/auth/register"),
                json!({"username": format!("storm_{i}"), "password": "storm-password"}),
            )
        })
        .buffer_unordered(50)
        .collect()
        .await;
    eprintln!("300 registrations in {:?}", started.elapsed());
    let (created, _) = tally("registrations", &answers, 201);
    assert!(created > 0, "no registration succeeded");
    app.assert_memory_bounded("registration storm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_storm_keeps_memory_bounded() {
    let _one = SERIAL.lock().await;
    let app = Hearth::start("login", &[]);
    let started = Instant::now();
    let answers = login_storm(&app).await;
    eprintln!("300 logins in {:?}", started.elapsed());
    app.assert_memory_bounded("login storm").await;
    let (checked, _) = tally("logins", &answers, 401);
    assert!(checked > 0, "no login was checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_storm_leaves_other_traffic_alone() {
    let _one = SERIAL.lock().await;
    let app = Hearth::start("bystander", &[]);
    let http = reqwest::Client::new();
    let (token, room) = common::user_with_room(
        &http,
        &app.bin.base,
        "bystander",
        "bystander-password",
        "quiet corner",
    )
    .await;
    let send_url = app.url(&format!("/api/rooms/{room}/messages"));
    let warm = http
        .post(&send_url)
        .bearer_auth(&token)
        .json(&json!({"content": "before"}))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 201);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bystander = {
        let (done, http, token) = (done.clone(), http.clone(), token.clone());
        let health_url = app.url("/api/health");
        tokio::spawn(async move {
            // (send latency, send status, health status) per round.
            let mut rounds = Vec::new();
            let mut i = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let t = Instant::now();
                let sent = http
                    .post(&send_url)
                    .bearer_auth(&token)
                    .json(&json!({"content": format!("still here {i}")}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                let took = t.elapsed();
                let health = http
                    .get(&health_url)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                rounds.push((took, sent, health));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            rounds
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answers = login_storm(&app).await;
    eprintln!("300 logins in {:?}", started.elapsed());
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = bystander.await.unwrap();
    let worst = rounds.iter().map(|r| r.0).max().unwrap_or_default();
    let failed = rounds.iter().filter(|r| r.1 != 201).count();
    let unhealthy = rounds.iter().filter(|r| r.2 != 200).count();
    eprintln!(
        "bystander: {} sends, slowest {worst:?}, {failed} not 201, {unhealthy} health not 200",
        rounds.len()
    );
    assert!(
        rounds.len() >= 3,
        "the storm ended before the bystander got going"
    );
    for (took, sent, health) in &rounds {
        assert_eq!(
            *sent, 201,
            "a bystander send failed during the storm: {rounds:?}"
        );
        assert_eq!(*health, 200, "health during the storm: {rounds:?}");
        assert!(
            *took <= Duration::from_millis(250),
            "a bystander send took {took:?}: {rounds:?}"
        );
    }
    tally("logins", &answers, 401);
}
