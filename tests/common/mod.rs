//! The real `hearth` binary as a child process, for the tests that need a whole process (crash,
//! memory, start-up): started on a free port, its log drained, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `hearth serve`; killed (SIGKILL) when dropped.
pub struct Binary {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Binary {
    /// Starts `hearth serve` on `db` with extra environment variables and waits until it
    /// logs its port.
    pub fn start(db: &str, env: &[(&str, &str)]) -> Binary {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--db", db])
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("hearth starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        // Keeps draining the log: a busy server's access log would otherwise fill the pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let port = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("the server logs its port");
            if let Some(rest) = line.split("port=").nth(1) {
                break rest
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>();
            }
        };
        std::thread::spawn(move || while lines.recv().is_ok() {});
        Binary {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Registers `username` over REST and creates a private room for them; returns the token and
/// the room's id.
pub async fn user_with_room(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    room: &str,
) -> (String, i64) {
    let reg: serde_json::Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("register sent")
        .json()
        .await
        .expect("register answered JSON");
    let token = reg["token"].as_str().expect("registered").to_string();
    let made: serde_json::Value = http
        .post(format!("{base}/api/rooms"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": room, "is_public": false, "members": []}))
        .send()
        .await
        .expect("create room sent")
        .json()
        .await
        .expect("create room answered JSON");
    let id = made["room"]["id"].as_i64().expect("room created");
    (token, id)
}
