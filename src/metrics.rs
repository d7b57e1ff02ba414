//! Process counters, exposed as Prometheus text at `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters. Gauges (open connections) are read from the hub.
#[derive(Default)]
pub struct Metrics {
    /// HTTP requests answered.
    pub http_requests: AtomicU64,
    /// HTTP answers with a 5xx status.
    pub http_errors: AtomicU64,
    /// WebSockets accepted.
    pub ws_accepted: AtomicU64,
    /// WebSocket client frames handled.
    pub ws_frames_in: AtomicU64,
    /// Chat messages stored.
    pub messages_stored: AtomicU64,
    /// Tasks that ended (any status).
    pub tasks_finished: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, connections: usize, uptime_s: u64) -> String {
        let mut out = String::new();
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        line(
            "hearth_uptime_seconds",
            "gauge",
            "Seconds since start.",
            uptime_s,
        );
        line(
            "hearth_ws_connections",
            "gauge",
            "Open WebSockets.",
            connections as u64,
        );
        line(
            "hearth_http_requests_total",
            "counter",
            "HTTP requests answered.",
            get(&self.http_requests),
        );
        line(
            "hearth_http_errors_total",
            "counter",
            "HTTP 5xx answers.",
            get(&self.http_errors),
        );
        line(
            "hearth_ws_accepted_total",
            "counter",
            "WebSockets accepted.",
            get(&self.ws_accepted),
        );
        line(
            "hearth_ws_frames_in_total",
            "counter",
            "WebSocket client frames handled.",
            get(&self.ws_frames_in),
        );
        line(
            "hearth_messages_stored_total",
            "counter",
            "Chat messages stored.",
            get(&self.messages_stored),
        );
        out
    }
}
