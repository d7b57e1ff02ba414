//! Hostile clients over raw TCP: oversized frame headers, fragmented messages over the limit,
//! clients that never read, and floods interleaved with accepted frames.

use crate::helpers::*;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// One frame as the server sent it.
#[derive(Debug)]
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame.
    fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// A WebSocket client written by hand on a raw TCP stream, so a test can send what no
/// well-behaved library would (lying length headers, endless fragments) and see exactly which
/// bytes come back.
struct RawWs {
    r: RawReader,
    wr: OwnedWriteHalf,
}

/// The reading side of a [`RawWs`].
struct RawReader {
    rd: OwnedReadHalf,
    /// Bytes read but not yet parsed (at most one server frame and a read's worth).
    buf: Vec<u8>,
}

/// Largest server frame a test accepts (the server's frames here are small JSON).
const MAX_SERVER_FRAME: usize = 1 << 20;

impl RawWs {
    /// Connects to `path_and_query` and completes the handshake (expects 101).
    async fn connect(port: u16, path_and_query: &str) -> RawWs {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        Self::handshake(tcp, port, path_and_query).await
    }

    /// The handshake on an already connected stream.
    async fn handshake(tcp: TcpStream, port: u16, path_and_query: &str) -> RawWs {
        let (rd, mut wr) = tcp.into_split();
        let req = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        wr.write_all(req.as_bytes()).await.expect("send handshake");
        let mut r = RawReader {
            rd,
            buf: Vec::new(),
        };
        let head = timeout(WAIT, async {
            loop {
                if let Some(end) = r.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head: Vec<u8> = r.buf.drain(..end + 4).collect();
                    return String::from_utf8_lossy(&head).to_string();
                }
                assert!(r.buf.len() < 16 * 1024, "response head too long");
                assert!(
                    r.fill().await.expect("read handshake") > 0,
                    "EOF in handshake"
                );
            }
        })
        .await
        .expect("handshake answered");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        RawWs { r, wr }
    }

    /// Sends one masked frame.
    async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.wr
            .write_all(&client_frame(fin, opcode, payload))
            .await
            .expect("send");
    }
}

impl RawReader {
    /// Reads more bytes into the buffer; `Ok(0)` at EOF.
    async fn fill(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.rd.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next server frame; `Ok(None)` at EOF.
    async fn read_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            if self.fill().await? == 0 {
                return Ok(None);
            }
        }
    }

    /// The next text frame as JSON (control frames skipped); panics on anything else.
    async fn next_json(&mut self) -> Value {
        let frame = timeout(WAIT, async {
            loop {
                let f = self.read_frame().await.expect("read").expect("not EOF");
                if f.opcode == 1 {
                    return f;
                }
                assert!(f.opcode >= 9, "unexpected frame {f:?}");
            }
        })
        .await
        .expect("a frame within the wait");
        serde_json::from_slice(&frame.payload).expect("JSON")
    }

    /// Reads until the close frame: the text frames before it and the close code.
    async fn until_close(&mut self, within: Duration) -> (Vec<Value>, u16) {
        timeout(within, async {
            let mut texts = Vec::new();
            loop {
                let f = self
                    .read_frame()
                    .await
                    .expect("read")
                    .expect("EOF before a close frame");
                if let Some(code) = f.close_code() {
                    return (texts, code);
                }
                if f.opcode == 1 {
                    texts.push(serde_json::from_slice(&f.payload).expect("JSON"));
                }
            }
        })
        .await
        .expect("a close frame within the wait")
    }

    /// Reads (and discards) until the server's side is gone: EOF or a reset. Returns how many
    /// bytes were read on the way.
    async fn until_gone(&mut self, within: Duration) -> usize {
        timeout(within, async {
            let mut chunk = [0u8; 64 * 1024];
            let mut total = 0;
            loop {
                match self.rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        })
        .await
        .expect("the server closed the TCP connection within the wait")
    }
}

/// Parses one unmasked server frame at the start of `buf`: the frame and the bytes it used.
fn parse_server_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let (len, mut at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (usize::try_from(u64::from_be_bytes(b)).ok()?, 10)
        }
        126 | 127 => return None,
        n => (usize::from(n), 2),
    };
    assert!(len <= MAX_SERVER_FRAME, "server frame of {len} bytes");
    assert_eq!(buf[1] & 0x80, 0, "server frames are not masked");
    if buf.len() < at + len {
        return None;
    }
    let payload = buf[at..at + len].to_vec();
    at += len;
    Some((
        Frame {
            opcode: buf[0] & 0x0F,
            payload,
        },
        at,
    ))
}

const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// A masked client frame header declaring `len` payload bytes.
fn client_header(fin: bool, opcode: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut h = vec![(if fin { 0x80 } else { 0 }) | opcode];
    if len < 126 {
        h.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        h.push(0x80 | 126);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(0x80 | 127);
        h.extend_from_slice(&len.to_be_bytes());
    }
    h.extend_from_slice(&mask);
    h
}

/// A whole masked client frame.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = client_header(fin, opcode, payload.len() as u64, MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

/// Declares a 2^40-byte text frame and streams payload (up to 64 MiB): the server must answer
/// 1009 long before that, and then end the TCP connection.
async fn huge_declared_frame_closes_with_1009(app: &TestApp, path_and_query: &str) {
    const STREAM_UP_TO: u64 = 64 << 20;
    let RawWs { mut r, mut wr } = RawWs::connect(app.port, path_and_query).await;
    assert_eq!(r.next_json().await["type"], "connected");
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let flood = tokio::spawn(async move {
        // Mask key 0: the payload goes out as is.
        wr.write_all(&client_header(true, 1, 1 << 40, [0; 4]))
            .await
            .expect("header sent");
        let chunk = vec![b'x'; 64 * 1024];
        while counter.load(Ordering::Relaxed) < STREAM_UP_TO {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        // Keep the connection open (a FIN would end the server's wait with an error).
        std::future::pending::<()>().await;
        drop(wr);
    });
    let (_, code) = r.until_close(WAIT).await;
    let at_close = sent.load(Ordering::Relaxed);
    assert_eq!(code, 1009, "close code");
    assert!(
        at_close < STREAM_UP_TO,
        "the close came only after all {at_close} bytes were sent"
    );
    r.until_gone(WAIT).await;
    flood.abort();
}

#[tokio::test]
async fn a_frame_header_over_the_limit_closes_with_1009_before_the_payload() {
    let app = spawn_app().await;
    let u = app.register("huge").await;
    huge_declared_frame_closes_with_1009(&app, &format!("/ws/chat/?token={}", u.token)).await;
    // The anonymous support endpoint is guarded the same way.
    huge_declared_frame_closes_with_1009(&app, "/ws/support/").await;
}

#[tokio::test]
async fn a_fragmented_message_over_the_limit_closes_with_1009() {
    let app = spawn_app_with(|c| c.max_message_bytes = 1024).await;
    let u = app.register("frag").await;
    for path in [
        format!("/ws/chat/?token={}", u.token),
        "/ws/support/".into(),
    ] {
        let mut ws = RawWs::connect(app.port, &path).await;
        assert_eq!(ws.r.next_json().await["type"], "connected");
        // Twenty fragments of 100 bytes: each small, 2000 in all. A ping between fragments.
        ws.send(false, 1, &[b' '; 100]).await;
        ws.send(true, 9, b"hi").await;
        for _ in 0..18 {
            ws.send(false, 0, &[b' '; 100]).await;
        }
        ws.send(true, 0, &[b' '; 100]).await;
        let (_, code) = ws.r.until_close(WAIT).await;
        assert_eq!(code, 1009, "{path}");
        ws.r.until_gone(WAIT).await;
    }
    // Fragments adding up to the limit are one ordinary message.
    let mut ws = RawWs::connect(app.port, &format!("/ws/chat/?token={}", u.token)).await;
    assert_eq!(ws.r.next_json().await["type"], "connected");
    let msg = br#"{"type":"ping","request_id":"f1"}"#;
    ws.send(false, 1, &msg[..10]).await;
    ws.send(true, 0, &msg[10..]).await;
    let pong = ws.r.next_json().await;
    assert_eq!(
        (pong["type"].as_str(), pong["request_id"].as_str()),
        (Some("pong"), Some("f1"))
    );
}

/// Opens a chat socket for `u` with a tiny receive buffer, reads its `connected` frame and then
/// nothing, and pushes it far more than every buffer on the way holds (16 MiB, one shared
/// frame): its queue overflows and it is closed as a slow consumer, a close it cannot take.
async fn overflow_a_client_that_never_reads(app: &TestApp, u: &TestUser) -> RawWs {
    let state = app.server.as_ref().expect("running").state();
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let tcp = sock
        .connect(([127, 0, 0, 1], app.port).into())
        .await
        .expect("connect");
    let path = format!("/ws/chat/?token={}", u.token);
    let mut ws = RawWs::handshake(tcp, app.port, &path).await;
    assert_eq!(ws.r.next_json().await["type"], "connected");
    assert_eq!(state.hub.connection_count(), 1);
    let frame = format!(r#"{{"type":"message","pad":"{}"}}"#, "x".repeat(16 * 1024));
    let frame = bytestring::ByteString::from(frame);
    let audience = hearth::hub::Audience::user(hearth::hub::Endpoint::Chat, u.id);
    for _ in 0..1000 {
        state.hub.publish_bytes(&audience, frame.clone());
    }
    ws
}

#[tokio::test]
async fn a_client_that_never_reads_has_its_connection_cut() {
    let grace = Duration::from_millis(300);
    let app = spawn_app_with(|c| {
        c.close_grace = grace;
        c.outbound_queue = 8;
    })
    .await;
    let u = app.register("sloth").await;
    let mut ws = overflow_a_client_that_never_reads(&app, &u).await;
    let overflowed = Instant::now();
    // The server gives up on it: it stops counting (polled: no event tells the test)...
    let hub = &app.server.as_ref().expect("running").state().hub;
    let deadline = overflowed + grace + Duration::from_secs(5);
    while hub.connection_count() > 0 {
        assert!(Instant::now() < deadline, "still registered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...and its TCP connection is reset without the client reading a byte (a server that only
    // dropped its session would hand over its queue and close once the client reads again, and
    // hold the connection for as long as it does not).
    let sock = socket2::SockRef::from(ws.r.rd.as_ref());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if !matches!(sock.take_error(), Ok(None)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not cut the connection of a client that does not read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ws.r.until_gone(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_closing_socket_counts_against_the_user_limit_until_its_connection_is_gone() {
    let grace = Duration::from_millis(1000);
    let app = spawn_app_with(|c| {
        c.close_grace = grace;
        c.outbound_queue = 8;
        c.max_connections_per_user = 1;
    })
    .await;
    let u = app.register("sloth").await;
    let mut ws = overflow_a_client_that_never_reads(&app, &u).await;
    let overflowed = Instant::now();
    // Within the grace the first socket still holds its TCP connection, so it still counts.
    let mut second = app.ws("/ws/chat/", &u.token).await;
    let first = second.next_json().await;
    assert_eq!(
        first["type"], "error",
        "a second socket was accepted while the first still holds its connection: {first}"
    );
    assert_eq!(second.until_close().await.1.code, 4429);
    assert!(overflowed.elapsed() < grace, "checked within the grace");
    // Once it is gone, the user may connect again.
    ws.r.until_gone(grace + Duration::from_secs(5)).await;
    let hub = &app.server.as_ref().expect("running").state().hub;
    let deadline = Instant::now() + Duration::from_secs(5);
    while hub.connection_count() > 0 {
        assert!(Instant::now() < deadline, "still registered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.ws_ready("/ws/chat/", &u.token).await;
}

/// Polls the hub until no socket is registered; panics after `within`.
async fn until_no_connection(app: &TestApp, within: Duration) {
    let hub = &app.server.as_ref().expect("running").state().hub;
    let deadline = Instant::now() + within;
    while hub.connection_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "still registered after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_well_behaved_client_is_not_held_for_the_grace() {
    use futures_util::StreamExt;
    let app = spawn_app_with(|c| c.close_grace = Duration::from_secs(30)).await;
    let u = app.register("polite").await;
    // The client closes, takes the server's answer and hangs up: the socket is gone at once.
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    ws.stream.close(None).await.expect("close sent");
    while timeout(WAIT, ws.stream.next())
        .await
        .expect("closing")
        .is_some()
    {}
    drop(ws);
    until_no_connection(&app, Duration::from_millis(500)).await;
    // The server closes (logout): the client takes the close and hangs up.
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    app.post_empty("/api/auth/logout", Some(&u.token)).await;
    ws.expect_close(4401).await;
    drop(ws);
    until_no_connection(&app, Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_flood_interleaved_with_accepted_frames_is_closed_with_4429() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let app = spawn_app_with(|c| c.messages_per_second = 10).await;
    let u = app.register("flood").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    // 50 frames a second (five times the rate) in bursts of five every 100 ms: the bucket
    // refills between bursts, so accepted pings keep coming between the refused ones.
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut sent, mut pongs, mut refused) = (0u32, 0u32, 0u32);
    let mut frames: Vec<Value> = Vec::new();
    let code = timeout(Duration::from_secs(7), async {
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    for _ in 0..5 {
                        sent += 1;
                        let frame = serde_json::json!({"type": "ping", "request_id": format!("p{sent}")});
                        if ws.stream.send(Message::Text(frame.to_string().into())).await.is_err() {
                            break;
                        }
                    }
                }
                msg = ws.stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        let v: Value = serde_json::from_str(&t).expect("JSON");
                        if v["type"] == "pong" {
                            pongs += 1;
                        } else if v["code"] == "rate_limited" && v.get("close_code").is_none() {
                            refused += 1;
                            assert!(v["request_id"].as_str().is_some_and(|r| r.starts_with('p')), "{v}");
                        }
                        frames.push(v);
                    }
                    Some(Ok(Message::Close(Some(c)))) => return u16::from(c.code),
                    Some(Ok(_)) => {}
                    other => panic!("ended without a close frame: {other:?}"),
                },
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("not closed within 7 s: {sent} sent, {pongs} pongs, {refused} refused"));
    assert_eq!(code, 4429);
    assert!(start.elapsed() < Duration::from_secs(7));
    assert!(
        pongs > 20 && refused > 0,
        "{pongs} pongs, {refused} refused"
    );
    let last = frames.last().expect("a final error frame");
    assert_eq!(
        (
            last["code"].as_str(),
            last["close_code"].as_u64(),
            last["retry"].as_str()
        ),
        (Some("rate_limited"), Some(4429), Some("backoff")),
        "{last}"
    );
    assert!(last["retry_after_ms"].is_u64(), "{last}");
}

#[tokio::test]
async fn a_client_just_under_the_rate_is_never_refused_nor_closed() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let app = spawn_app_with(|c| c.messages_per_second = 10).await;
    let u = app.register("steady").await;
    let mut ws = app.ws_ready("/ws/chat/", &u.token).await;
    // Nine frames a second for three seconds.
    let end = Instant::now() + Duration::from_secs(3);
    let mut tick = tokio::time::interval(Duration::from_millis(111));
    let (mut sent, mut pongs) = (0u32, 0u32);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {
                sent += 1;
                let frame = serde_json::json!({"type": "ping", "request_id": format!("s{sent}")});
                ws.stream.send(Message::Text(frame.to_string().into())).await.expect("send");
            }
            msg = ws.stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("JSON");
                    // Its own `presence` (it came online) may come in between.
                    if v["type"] == "presence" {
                        continue;
                    }
                    assert_eq!(v["type"], "pong", "{v}");
                    pongs += 1;
                }
                Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
                Some(Ok(_)) => {}
                other => panic!("ended: {other:?}"),
            },
        }
    }
    assert!(sent >= 25, "{sent}");
    while pongs < sent {
        assert_eq!(ws.next_json().await["type"], "pong");
        pongs += 1;
    }
    assert_eq!(
        ws.request(serde_json::json!({"type": "ping"})).await["type"],
        "pong"
    );
}
