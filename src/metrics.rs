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
    /// Transactions the message writer committed (each holds one or more messages).
    pub message_batches: AtomicU64,
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
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rows: [(&str, &str, &str, u64); 10] = [
            (
                "hearth_uptime_seconds",
                "gauge",
                "Seconds since start.",
                uptime_s,
            ),
            (
                "hearth_ws_connections",
                "gauge",
                "Open WebSockets.",
                connections as u64,
            ),
            (
                "hearth_http_requests_total",
                "counter",
                "HTTP requests answered.",
                get(&self.http_requests),
            ),
            (
                "hearth_http_errors_total",
                "counter",
                "HTTP 5xx answers.",
                get(&self.http_errors),
            ),
            (
                "hearth_ws_accepted_total",
                "counter",
                "WebSockets accepted.",
                get(&self.ws_accepted),
            ),
            (
                "hearth_ws_frames_in_total",
                "counter",
                "WebSocket client frames handled.",
                get(&self.ws_frames_in),
            ),
            (
                "hearth_messages_stored_total",
                "counter",
                "Chat messages stored.",
                get(&self.messages_stored),
            ),
            (
                "hearth_message_batches_total",
                "counter",
                "Message write transactions (group commits).",
                get(&self.message_batches),
            ),
            (
                "hearth_tasks_finished_total",
                "counter",
                "Tasks that ended.",
                get(&self.tasks_finished),
            ),
            ("hearth_process_start_info", "gauge", "Always 1.", 1),
        ];
        let mut out = String::new();
        for (name, kind, help, v) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}
