//! The real binary: `hearth user create` and `hearth serve` with a clean SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Kills a spawned server if the test fails before stopping it, so that no orphan keeps the
/// test's output pipes open.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
}

#[tokio::test]
async fn user_create_then_serve_then_sigterm() {
    let dir = std::env::temp_dir().join(format!("hearth-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("cli.db");
    let db = db.to_str().unwrap();

    // Create a staff user, password on standard input.
    let mut create = bin()
        .args(["user", "create", "root_admin", "--staff", "--db", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret-password\n")
        .unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("staff"));
    // A short password is refused with a non-zero exit.
    let mut bad = bin()
        .args(["user", "create", "other", "--db", db])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bad.stdin.take().unwrap().write_all(b"short\n").unwrap();
    assert!(!bad.wait_with_output().unwrap().status.success());

    // Serve on a free port (flags via the environment), find it in the log.
    let mut server = bin()
        .arg("serve")
        .env("HEARTH_BIND", "127.0.0.1:0")
        .env("HEARTH_DB", db)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _kill = KillOnDrop(server.id());
    let stderr = server.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Reads log lines until one satisfies `f`; returns everything read.
    let read_until = |f: &dyn Fn(&str) -> bool| -> String {
        let mut seen = String::new();
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("log line never came; saw:\n{seen}"));
            seen.push_str(&line);
            seen.push('\n');
            if f(&line) {
                return seen;
            }
        }
    };
    let first = read_until(&|l| l.contains("port="));
    let port: String = first
        .split("port=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let base = format!("http://127.0.0.1:{port}");
    // The start-up line says what to open and which database is in use.
    assert!(
        first.contains(&format!("url=http://127.0.0.1:{port}/")),
        "{first}"
    );
    assert!(first.contains(&format!("db={db}")), "{first}");
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{base}/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": "root_admin", "password": "s3cret-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["is_staff"], true);

    // Secrets in query strings never reach the access log.
    let token = login["token"].as_str().unwrap().to_string();
    let ticket: serde_json::Value = http
        .post(format!("{base}/api/auth/ws-ticket"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    let ws = format!("ws://127.0.0.1:{port}");
    let (mut a, _) = tokio_tungstenite::connect_async(format!("{ws}/ws/chat/?token={token}"))
        .await
        .unwrap();
    let (mut b, _) = tokio_tungstenite::connect_async(format!("{ws}/ws/chat/?ticket={ticket}"))
        .await
        .unwrap();
    let (mut c, _) = tokio_tungstenite::connect_async(format!("{ws}/ws/support/"))
        .await
        .unwrap();
    use futures_util::StreamExt;
    let mut guest = String::new();
    for s in [&mut a, &mut b, &mut c] {
        let hello = s.next().await.unwrap().unwrap().into_text().unwrap();
        let v: serde_json::Value = serde_json::from_str(&hello).unwrap();
        assert_eq!(v["type"], "connected");
        if let Some(g) = v["guest_token"].as_str() {
            guest = g.to_string();
        }
    }
    let (mut d, _) =
        tokio_tungstenite::connect_async(format!("{ws}/ws/support/?guest={guest}&access={token}"))
            .await
            .unwrap();
    let _ = d.next().await;
    // Names the server decodes (`%74oken` is `token`) are redacted too.
    for name in ["%74oken", "tok%65n", "%61ccess"] {
        let (mut e, _) = tokio_tungstenite::connect_async(format!("{ws}/ws/chat/?{name}={token}"))
            .await
            .unwrap();
        let hello = e.next().await.unwrap().unwrap().into_text().unwrap();
        assert!(
            hello.contains("\"connected\""),
            "{name} is accepted: {hello}"
        );
    }
    // A request logged after the sockets marks the point the log must have reached.
    http.get(format!("{base}/api/health?marker=done"))
        .send()
        .await
        .unwrap();
    let text = read_until(&|l| l.contains("marker=done"));
    for secret in [&token, &ticket, &guest] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the log:\n{text}"
        );
    }
    assert!(text.contains("token=REDACTED") && text.contains("ticket=REDACTED"));
    assert!(text.contains("guest=REDACTED"));

    // SIGTERM: exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(code.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `hearth serve` on `db`, which must fail at once; returns its standard error.
fn serve_fails(db: &str) -> String {
    let mut child = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--db", db])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("hearth serve --db {db} did not fail within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "serve on {db} started: {err}");
    err
}

#[test]
fn start_up_errors_name_the_path_and_the_reason() {
    let dir = std::env::temp_dir().join(format!("hearth-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();

    let missing = p("no-such-dir/hearth.db");
    let err = serve_fails(&missing);
    assert!(
        err.contains(&format!("cannot start: database {missing}"))
            && err.contains("does not exist"),
        "{err}"
    );

    let a_dir = p("");
    let err = serve_fails(a_dir.trim_end_matches('/'));
    assert!(err.contains("is a directory"), "{err}");

    let not_db = p("notes.txt");
    std::fs::write(&not_db, "these are notes, not a database\n".repeat(200)).unwrap();
    let err = serve_fails(&not_db);
    assert!(
        err.contains(&not_db) && err.contains("not a database"),
        "{err}"
    );

    let newer = p("newer.db");
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 999;")
        .unwrap();
    let err = serve_fails(&newer);
    assert!(
        err.contains(&newer) && err.contains("schema version 999 is newer"),
        "{err}"
    );

    let locked = p("locked.db");
    let holder = rusqlite::Connection::open(&locked).unwrap();
    holder
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);",
        )
        .unwrap();
    let err = serve_fails(&locked);
    assert!(err.contains(&locked) && err.contains("locked"), "{err}");
    drop(holder);

    assert!(!err.contains("internal error"), "{err}");

    // A PostgreSQL server that is not there: the address (without the password) and why.
    let err = serve_fails("postgres://hearth:sekrit@127.0.0.1:1/hearth");
    assert!(
        err.contains("postgres://hearth@127.0.0.1:1/hearth") && err.contains("refused"),
        "{err}"
    );
    assert!(
        !err.contains("sekrit"),
        "the password is never shown: {err}"
    );

    // What cannot run is refused before anything starts, saying why.
    let child = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--db", &p("bus.db")])
        .args(["--bus", "nats://127.0.0.1:4222"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--bus"), "{err}");
    assert!(
        !std::path::Path::new(&p("bus.db")).exists(),
        "nothing was created"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_trusted_proxy_is_refused_at_start() {
    let out = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--db", ":memory:"])
        .args(["--trusted-proxy", "10.0.0.0/8,10.0.0.0/33"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {err}");
    assert!(
        err.contains("--trusted-proxy") && err.contains("10.0.0.0/33") && err.contains("CIDR"),
        "{err}"
    );
}
